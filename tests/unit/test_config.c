/* Unit tests for gateway/config*.c: loading builds the model, every kind of
 * invalid document is refused with an error naming the JSON path, the
 * file round-trips, management requests edit the model, a reload changes
 * only what differs and keeps unaffected sessions. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../cluster/cluster.h"
#include "../../gateway/backstore/backstore.h"
#include "../../gateway/config.h"
#include "../../gateway/event_loop.h"
#include "../../gateway/model.h"
#include "../../gateway/scsi/sense.h"
#include "../../gateway/shared_state.h"
#include "../../gateway/util.h"

#define IQN1 "iqn.2024-01.com.example:disk1"
#define IQN2 "iqn.2024-01.com.example:disk2"
#define INI1 "iqn.1994-05.com.redhat:client1"
#define INI2 "iqn.1994-05.com.redhat:client2"

struct fixture {
	struct gateway gw;
	char dir[128];
	char config[192];
	unsigned portal_notifications;
	int portal_result;          /* what portals_changed() answers */
};

static int fake_portals_changed(struct gateway *gw, char *err, size_t errlen)
{
	struct fixture *f = container_of(gw, struct fixture, gw);

	f->portal_notifications++;
	if (f->portal_result && err)
		snprintf(err, errlen, "Address already in use");
	return f->portal_result;
}

static int apply_cb(void *owner, uint32_t origin, uint16_t type, const void *payload, uint32_t len)
{
	(void)origin;
	assert_int_equal(type, SOP_CONFIG);
	return config_apply(owner, payload, len);
}

static const struct cluster_callbacks test_cluster_cb = { .apply = apply_cb };

static void gateway_init(struct fixture *f, struct gateway *gw)
{
	memset(gw, 0, sizeof(*gw));
	TAILQ_INIT(&gw->targets);
	TAILQ_INIT(&gw->portals);
	TAILQ_INIT(&gw->nexuses);
	gw->node_id = 1;
	gw->loop = event_loop_create();
	assert_non_null(gw->loop);
	str_copy(gw->state_dir, f->dir, sizeof(gw->state_dir));
	gw->portals_changed = fake_portals_changed;
}

static void gateway_fini(struct gateway *gw)
{
	config_model_clear(gw);
	if (gw->cluster)
		cluster_destroy(gw->cluster);
	event_loop_run_once(gw->loop, 0);
	event_loop_destroy(gw->loop);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_config.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->config, sizeof(f->config), "%s/sangw.json", f->dir);
	gateway_init(f, &f->gw);
	*state = f;
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	gateway_fini(&f->gw);
	assert_int_equal(nftw(f->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS), 0);
	free(f);
	return 0;
}

static int load(struct fixture *f, const char *json, char *err, size_t errlen)
{
	return config_load_text(&f->gw, json, strlen(json), err, errlen);
}

static void load_ok(struct fixture *f, const char *json)
{
	char err[1024] = "";

	if (load(f, json, err, sizeof(err)) != 0)
		fail_msg("valid configuration refused: %s", err);
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

/* A complete configuration; %s is the temp folder (file LU path). */
static const char valid_template[] =
"{\n"
"  \"portals\": [\"127.0.0.1:3260\", \"[::1]:3261\"],\n"
"  \"discovery\": {\"auth\": true,\n"
"                \"chap\": {\"user\": \"disc\", \"secret\": \"discoverysecret1\"},\n"
"                \"mutual_chap\": {\"user\": \"gw\", \"secret\": \"discoverysecret2\"}},\n"
"  \"targets\": [\n"
"    {\"iqn\": \"" IQN1 "\",\n"
"     \"chap\": {\"user\": \"tuser\", \"secret\": \"targetsecret12\"},\n"
"     \"params\": {\"MaxBurstLength\": \"512K\", \"FirstBurstLength\": 65536,\n"
"                \"InitialR2T\": \"Yes\", \"HeaderDigest\": \"None\", \"queue_depth\": 64},\n"
"     \"luns\": [\n"
"       {\"lun\": 0, \"backstore\": \"null\", \"size\": \"1G\"},\n"
"       {\"lun\": 3, \"backstore\": \"file\", \"path\": \"%s/disk.img\", \"size\": \"16M\",\n"
"        \"thin\": true, \"block_size\": 4096,\n"
"        \"wwn\": \"6001405aabbccddeeff0011223344556\"}\n"
"     ],\n"
"     \"acls\": [\n"
"       {\"initiator\": \"" INI1 "\",\n"
"        \"chap\": {\"user\": \"client1\", \"secret\": \"client1secret!\"},\n"
"        \"mutual_chap\": {\"user\": \"target1\", \"secret\": \"target1secret!\"},\n"
"        \"lun_map\": [{\"mapped_lun\": 1, \"lun\": 3}, {\"mapped_lun\": 0, \"lun\": 0}]},\n"
"       {\"initiator\": \"" INI2 "\"}\n"
"     ]},\n"
"    {\"iqn\": \"" IQN2 "\", \"demo_mode\": true,\n"
"     \"luns\": [{\"lun\": 0, \"backstore\": \"null\", \"size\": 1048576, \"readonly\": true}]}\n"
"  ]\n"
"}\n";

static char *valid_config(struct fixture *f)
{
	char *text;

	assert_true(asprintf(&text, valid_template, f->dir) > 0);
	return text;
}

static void test_load_valid(void **state)
{
	struct fixture *f = *state;
	struct gateway *gw = &f->gw;
	char *text = valid_config(f);
	struct target *t;
	struct lu *lu;
	struct acl *acl;
	struct portal *p;

	load_ok(f, text);
	free(text);
	p = TAILQ_FIRST(&gw->portals);
	assert_non_null(p);
	assert_string_equal(p->addr, "127.0.0.1");
	assert_int_equal(p->port, 3260);
	p = TAILQ_NEXT(p, link);
	assert_non_null(p);
	assert_string_equal(p->addr, "::1");
	assert_int_equal(p->port, 3261);
	assert_null(TAILQ_NEXT(p, link));
	assert_true(gw->discovery_auth);
	assert_string_equal(gw->discovery_chap.user, "disc");
	assert_string_equal(gw->discovery_mutual_chap.secret, "discoverysecret2");

	t = gw_find_target(gw, IQN1);
	assert_non_null(t);
	assert_false(t->demo_mode);
	assert_true(t->chap.set);
	assert_false(t->mutual_chap.set);
	assert_int_equal(t->params.max_burst_length, 512 * 1024);
	assert_int_equal(t->params.first_burst_length, 65536);
	assert_true(t->params.initial_r2t);
	assert_false(t->params.header_digest);
	assert_int_equal(t->params.queue_depth, 64);

	lu = target_find_lu(t, 0);
	assert_non_null(lu);
	assert_string_equal(lu->spec.backstore, "null");
	assert_int_equal(lu->size_bytes, 1ULL << 30);
	lu = target_find_lu(t, 3);
	assert_non_null(lu);
	assert_string_equal(lu->spec.backstore, "file");
	assert_true(lu->spec.thin);
	assert_int_equal(lu->block_size, 4096);
	assert_int_equal(lu->size_bytes, 16ULL << 20);
	assert_string_equal(lu->spec.wwn, "6001405aabbccddeeff0011223344556");
	assert_null(target_find_lu(t, 1));

	acl = target_find_acl(t, INI1);
	assert_non_null(acl);
	assert_true(acl->chap.set);
	assert_string_equal(acl->mutual_chap.user, "target1");
	assert_int_equal(acl->map_count, 2);
	/* kept sorted by mapped LUN */
	assert_int_equal(acl->map[0].mapped_lun, 0);
	assert_int_equal(acl->map[0].target_lun, 0);
	assert_int_equal(acl->map[1].mapped_lun, 1);
	assert_int_equal(acl->map[1].target_lun, 3);
	acl = target_find_acl(t, INI2);
	assert_non_null(acl);
	assert_false(acl->chap.set);
	assert_int_equal(acl->map_count, 0);

	t = gw_find_target(gw, IQN2);
	assert_non_null(t);
	assert_true(t->demo_mode);
	assert_true(target_find_lu(t, 0)->spec.readonly);
	/* untouched params keep their defaults */
	{
		struct target_params d;

		target_params_defaults(&d);
		assert_memory_equal(&t->params, &d, sizeof(d));
	}
}

static void test_load_file_missing_is_empty(void **state)
{
	struct fixture *f = *state;
	char err[1024] = "";

	assert_int_equal(config_load(&f->gw, f->config, err, sizeof(err)), 0);
	assert_true(TAILQ_EMPTY(&f->gw.targets));
	assert_string_equal(f->gw.config_path, f->config);
}

struct bad_case {
	const char *json;
	const char *message;   /* must appear in the error */
};

#define T0 "{\"targets\": [{\"iqn\": \"" IQN1 "\", "
#define NULL_LU "{\"lun\": 0, \"backstore\": \"null\", \"size\": \"1G\"}"

static const struct bad_case bad_cases[] = {
	{ "{\"targets\": [", "JSON text ends too early" },
	{ "{\n\"targets\": [}\n", "JSON syntax error at line 2" },
	{ "[1, 2]", "must be a JSON object" },
	{ "{\"portal\": []}", "portal: unknown key" },
	{ "{\"portals\": \"0.0.0.0:3260\"}", "portals: must be an array" },
	{ "{\"portals\": [\"1.2.3.4:99999\"]}", "portals[0]: " },
	{ "{\"portals\": [\"localhost:3260\"]}", "portals[0]: " },
	{ "{\"portals\": [\"::1:3260\"]}", "portals[0]: write IPv6 portals as [ADDRESS]:PORT" },
	{ "{\"portals\": [\"127.0.0.1\", \"127.0.0.1:3260\"]}", "portals[1]: \"127.0.0.1:3260\" is listed twice" },
	{ "{\"portals\": [{\"portal\": \"eth1\", \"transport\": \"fcoe\", \"wwpn\": \"0x20zz\"}]}",
	  "portals[0].wwpn: \"0x20zz\" is not a world wide name" },
	{ "{\"portals\": [{\"portal\": \"eth1\", \"transport\": \"fcoe\", \"wwnn\": \"0x1000000000000000aa\"}]}",
	  "portals[0].wwnn: " },
	{ "{\"portals\": [{\"portal\": \"10.0.0.1:3260\", \"transport\": \"fcoe\"}]}",
	  "portals[0].portal: an FCoE portal names a network interface" },
	{ "{\"portals\": [{\"portal\": \"10.0.0.1:3260\", \"wwpn\": \"0x2000000000000001\"}]}",
	  "portals[0].wwpn: only an FCoE portal" },
	{ "{\"portals\": [{\"portal\": \"eth1\", \"transport\": \"fcoe\"}, {\"portal\": \"eth1\", \"transport\": \"fcoe\"}]}",
	  "portals[1]: fcoe portal \"eth1\" is listed twice" },
	{ "{\"discovery\": {\"auth\": true}}", "discovery.auth: requiring CHAP on discovery needs discovery.chap" },
	{ "{\"targets\": [{\"iqn\": \"iqn.2024-13.com.example:x\"}]}", "targets[0].iqn: \"iqn.2024-13.com.example:x\" is not a valid iSCSI name: month 13" },
	{ "{\"targets\": [{\"iqn\": \"target1\"}]}", "targets[0].iqn: \"target1\" is not a valid iSCSI name: must begin with" },
	{ "{\"targets\": [{\"iqn\": \"eui.0123\"}]}", "targets[0].iqn: \"eui.0123\" is not a valid iSCSI name: an eui. name" },
	{ "{\"targets\": [{\"iqn\": \"iqn.2024-01.com.example:a b\"}]}", "targets[0].iqn: " },
	{ "{\"targets\": [{\"demo_mode\": true}]}", "targets[0].iqn: missing" },
	{ "{\"targets\": [{\"iqn\": \"" IQN1 "\"}, {\"iqn\": \"" IQN1 "\"}]}", "targets[1].iqn: \"" IQN1 "\" is defined twice" },
	{ T0 "\"demo_mode\": \"yes\"}]}", "targets[0].demo_mode: \"yes\" is not a boolean" },
	{ T0 "\"luns\": [" NULL_LU ", {\"lun\": 1, \"backstore\": \"null\", \"size\": \"12Q\"}]}]}",
	  "targets[0].luns[1].size: \"12Q\" is not a size" },
	{ T0 "\"luns\": [{\"lun\": 0, \"backstore\": \"null\", \"sise\": \"1G\"}]}]}", "targets[0].luns[0].sise: unknown key" },
	{ T0 "\"luns\": [" NULL_LU ", " NULL_LU "]}]}", "targets[0].luns[1].lun: LUN 0 is defined twice" },
	{ T0 "\"luns\": [{\"lun\": -1, \"backstore\": \"null\"}]}]}", "targets[0].luns[0].lun: -1 must not be negative" },
	{ T0 "\"luns\": [{\"lun\": 256, \"backstore\": \"null\"}]}]}", "targets[0].luns[0].lun: 256 is out of range" },
	{ T0 "\"luns\": [{\"backstore\": \"null\"}]}]}", "targets[0].luns[0].lun: missing" },
	{ T0 "\"luns\": [{\"lun\": 0, \"backstore\": \"tape\"}]}]}", "targets[0].luns[0].backstore: unknown backstore \"tape\"" },
	{ T0 "\"luns\": [{\"lun\": 0, \"backstore\": \"file\"}]}]}", "targets[0].luns[0].path: missing" },
	{ T0 "\"luns\": [{\"lun\": 0, \"backstore\": \"file\", \"path\": \"disk.img\"}]}]}", "targets[0].luns[0].path: \"disk.img\" is not an absolute path" },
	{ T0 "\"luns\": [{\"lun\": 0, \"backstore\": \"null\", \"path\": \"/x\"}]}]}", "targets[0].luns[0].path: the null backstore takes no path" },
	{ T0 "\"luns\": [{\"lun\": 0, \"backstore\": \"null\", \"block_size\": 1024}]}]}", "targets[0].luns[0].block_size: 1024 is not 512 or 4096" },
	{ T0 "\"luns\": [{\"lun\": 0, \"backstore\": \"null\", \"size\": 1000}]}]}", "targets[0].luns[0].size: 1000 is not a multiple of the block size 512" },
	{ T0 "\"luns\": [{\"lun\": 0, \"backstore\": \"null\", \"wwn\": \"1234\"}]}]}", "targets[0].luns[0].wwn: \"1234\" is not 32 hex digits" },
	{ T0 "\"luns\": [{\"lun\": 0, \"backstore\": \"null\", \"thin\": 1}]}]}", "targets[0].luns[0].thin: 1 is not a boolean" },
	{ T0 "\"params\": {\"MaxBurst\": 1}}]}", "targets[0].params.MaxBurst: unknown parameter" },
	{ T0 "\"params\": {\"MaxBurstLength\": 100}}]}", "targets[0].params.MaxBurstLength: 100 is out of range (512 to 16777215)" },
	{ T0 "\"params\": {\"FirstBurstLength\": \"1M\", \"MaxBurstLength\": \"512K\"}}]}", "targets[0].params.FirstBurstLength: 1048576 exceeds MaxBurstLength 524288" },
	{ T0 "\"params\": {\"DataDigest\": \"MD5\"}}]}", "targets[0].params.DataDigest: \"MD5\" is not" },
	{ T0 "\"params\": {\"nop_interval\": 5, \"nop_timeout\": 0}}]}", "targets[0].params.nop_timeout: must be at least 1" },
	{ T0 "\"params\": {\"chap_algorithms\": [\"sha512\"]}}]}",
	  "targets[0].params.chap_algorithms: [\"sha512\"] is not a non-empty list of CHAP algorithms" },
	{ T0 "\"params\": {\"chap_algorithms\": []}}]}", "targets[0].params.chap_algorithms: [] is not a non-empty" },
	{ T0 "\"params\": {\"chap_algorithms\": 7}}]}", "targets[0].params.chap_algorithms: 7 is not a non-empty" },
	{ T0 "\"params\": {\"chap_algorithms\": \"md5,,sha1\"}}]}", "targets[0].params.chap_algorithms: " },
	{ "{\"discovery\": {\"chap_algorithms\": [\"md4\"]}}", "discovery.chap_algorithms: [\"md4\"] is not" },
	{ T0 "\"chap\": {\"user\": \"u\", \"secret\": \"short\"}}]}", "targets[0].chap.secret: must be 12 to 255 bytes" },
	{ T0 "\"chap\": {\"user\": \"u\"}}]}", "targets[0].chap.secret: missing" },
	{ T0 "\"acls\": [{\"initiator\": \"" INI1 "\", \"mutual_chap\": {\"user\": \"t\", \"secret\": \"0123456789ab\"}}]}]}",
	  "targets[0].acls[0].mutual_chap: mutual CHAP needs one-way CHAP" },
	{ T0 "\"acls\": [{\"initiator\": \"" INI1 "\", \"chap\": {\"user\": \"i\", \"secret\": \"0123456789ab\"}, "
	  "\"mutual_chap\": {\"user\": \"t\", \"secret\": \"0123456789ab\"}}]}]}",
	  "targets[0].acls[0].mutual_chap: the mutual secret must differ" },
	{ T0 "\"acls\": [{\"initiator\": \"" INI1 "\"}, {\"initiator\": \"" INI1 "\"}]}]}", "targets[0].acls[1].initiator: \"" INI1 "\" has two ACLs" },
	{ T0 "\"acls\": [{\"initiator\": \"bad name\"}]}]}", "targets[0].acls[0].initiator: \"bad name\" is not a valid iSCSI name" },
	{ T0 "\"luns\": [" NULL_LU "], \"acls\": [{\"initiator\": \"" INI1 "\", \"lun_map\": [{\"mapped_lun\": 0, \"lun\": 5}]}]}]}",
	  "targets[0].acls[0].lun_map: maps LUN 5, which the target does not have" },
	{ T0 "\"luns\": [" NULL_LU "], \"acls\": [{\"initiator\": \"" INI1 "\", \"lun_map\": []}]}]}",
	  "targets[0].acls[0].lun_map: is empty" },
	{ T0 "\"luns\": [" NULL_LU "], \"acls\": [{\"initiator\": \"" INI1 "\", \"lun_map\": "
	  "[{\"mapped_lun\": 0, \"lun\": 0}, {\"mapped_lun\": 0, \"lun\": 0}]}]}]}",
	  "targets[0].acls[0].lun_map[1].mapped_lun: 0 is mapped twice" },
	{ "{\"targets\": [{\"iqn\": \"" IQN1 "\", \"luns\": [{\"lun\": 0, \"backstore\": \"file\", \"path\": \"/tmp/x.img\", \"size\": \"1M\"}]},"
	  " {\"iqn\": \"" IQN2 "\", \"luns\": [{\"lun\": 0, \"backstore\": \"file\", \"path\": \"/tmp/x.img\", \"size\": \"1M\"}]}]}",
	  "targets[1].luns[0].path: \"/tmp/x.img\" is already used by targets[0].luns[0]" },
};

static void test_invalid_configs_refused(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < ARRAY_SIZE(bad_cases); i++) {
		char err[1024] = "";
		int r = load(f, bad_cases[i].json, err, sizeof(err));

		if (r == 0 || !strstr(err, bad_cases[i].message))
			fail_msg("case %zu: %s\n  expected error containing: %s\n  got (%d): %s", i,
				 bad_cases[i].json, bad_cases[i].message, r, err);
		/* Validation comes before any change to the model. */
		assert_true(TAILQ_EMPTY(&f->gw.targets));
		assert_true(TAILQ_EMPTY(&f->gw.portals));
	}
}

static void test_lu_open_failure_names_lu(void **state)
{
	struct fixture *f = *state;
	char json[512], err[1024] = "";

	snprintf(json, sizeof(json),
		 T0 "\"luns\": [{\"lun\": 7, \"backstore\": \"file\", \"path\": \"%s/missing.img\"}]}]}",
		 f->dir);
	assert_int_not_equal(load(f, json, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "targets[0].luns[0]: cannot create LUN 7"));
}

static void test_round_trip(void **state)
{
	struct fixture *f = *state;
	struct fixture other;
	char err[1024] = "", *text = valid_config(f), *first, *second;

	load_ok(f, text);
	free(text);
	first = config_serialize(&f->gw);
	assert_non_null(first);
	/* The file holds the secrets and no runtime state. */
	assert_non_null(strstr(first, "client1secret!"));
	assert_null(strstr(first, "size_bytes"));
	assert_null(strstr(first, "\"naa\""));

	/* Load it into a fresh gateway (the file LU exists now, same path). */
	memset(&other, 0, sizeof(other));
	strcpy(other.dir, f->dir);
	gateway_init(&other, &other.gw);
	config_model_clear(&f->gw);   /* release the backing file first */
	assert_int_equal(config_load_text(&other.gw, first, strlen(first), err, sizeof(err)), 0);
	second = config_serialize(&other.gw);
	assert_string_equal(first, second);
	{
		struct lu *lu = target_find_lu(gw_find_target(&other.gw, IQN1), 3);

		assert_int_equal(lu->block_size, 4096);
		assert_true(lu->spec.thin);
	}
	free(first);
	free(second);
	gateway_fini(&other.gw);
}

static void test_save_is_atomic_and_private(void **state)
{
	struct fixture *f = *state;
	char err[1024] = "", *text = valid_config(f);
	struct stat st;

	load_ok(f, text);
	free(text);
	str_copy(f->gw.config_path, f->config, sizeof(f->gw.config_path));
	assert_int_equal(config_save(&f->gw, err, sizeof(err)), 0);
	assert_int_equal(stat(f->config, &st), 0);
	/* CHAP secrets inside: owner only */
	assert_int_equal(st.st_mode & 0777, 0600);
}

/* Validate on the origin (as mgmt.c does), then apply as every node does. */
static int request(struct fixture *f, const char *json, char *err, size_t errlen)
{
	json_object *req = json_tokener_parse(json);
	const char *text;
	int r;

	assert_non_null(req);
	r = config_prepare_request(&f->gw, req, err, errlen);
	if (r == 0) {
		text = json_object_to_json_string(req);
		r = config_apply_request(&f->gw, text, strlen(text), err, errlen);
	}
	json_object_put(req);
	return r;
}

static void expect_ok(struct fixture *f, const char *json)
{
	char err[1024] = "";

	if (request(f, json, err, sizeof(err)) != 0)
		fail_msg("request %s failed: %s", json, err);
}

static void expect_error(struct fixture *f, const char *json, const char *message)
{
	char err[1024] = "";
	int r = request(f, json, err, sizeof(err));

	if (r == 0 || !strstr(err, message))
		fail_msg("request %s\n  expected error containing: %s\n  got (%d): %s", json, message, r, err);
}

/* chap_algorithms (a target parameter, and discovery's own): parsed from
 * an array or a comma-separated string, kept as a set, written back as an
 * array, changed by param_set; the default (all) is not written. */
static void test_chap_algorithms(void **state)
{
	struct fixture *f = *state;
	struct target *t;
	char *text;

	load_ok(f, "{\"discovery\": {\"chap_algorithms\": \"sha3-256, SHA256\"},"
		   " \"targets\": [{\"iqn\": \"" IQN1 "\", \"params\": {\"chap_algorithms\": [\"sha256\", \"md5\"]}},"
		   " {\"iqn\": \"" IQN2 "\"}]}");
	t = gw_find_target(&f->gw, IQN1);
	assert_non_null(t);
	assert_int_equal(t->params.chap_algorithms,
			 CHAP_ALG_BIT(CHAP_ALG_SHA256) | CHAP_ALG_BIT(CHAP_ALG_MD5));
	assert_int_equal(gw_find_target(&f->gw, IQN2)->params.chap_algorithms, CHAP_ALGS_ALL);
	assert_int_equal(f->gw.discovery_chap_algorithms,
			 CHAP_ALG_BIT(CHAP_ALG_SHA256) | CHAP_ALG_BIT(CHAP_ALG_SHA3_256));
	text = config_serialize(&f->gw);
	{
		json_object *doc = json_tokener_parse(text), *targets, *v;

		assert_non_null(doc);
		assert_true(json_object_object_get_ex(doc, "targets", &targets));
		v = json_object_object_get(json_object_object_get(json_object_array_get_idx(targets, 0),
								  "params"), "chap_algorithms");
		assert_string_equal(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN),
				    "[\"md5\",\"sha256\"]");
		v = json_object_object_get(json_object_object_get(doc, "discovery"), "chap_algorithms");
		assert_string_equal(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN),
				    "[\"sha256\",\"sha3-256\"]");
		json_object_put(doc);
	}
	free(text);

	expect_ok(f, "{\"request\": \"param_set\", \"target\": \"" IQN1 "\", \"key\": \"chap_algorithms\","
		     " \"value\": \"sha1,sha3-256\"}");
	assert_int_equal(t->params.chap_algorithms,
			 CHAP_ALG_BIT(CHAP_ALG_SHA1) | CHAP_ALG_BIT(CHAP_ALG_SHA3_256));
	expect_error(f, "{\"request\": \"param_set\", \"target\": \"" IQN1 "\", \"key\": \"chap_algorithms\","
			" \"value\": \"sha1,blake2\"}", "value: \"sha1,blake2\" is not a non-empty list");
	assert_int_equal(t->params.chap_algorithms,
			 CHAP_ALG_BIT(CHAP_ALG_SHA1) | CHAP_ALG_BIT(CHAP_ALG_SHA3_256));
	expect_ok(f, "{\"request\": \"param_set\", \"discovery\": true, \"key\": \"chap_algorithms\","
		     " \"value\": [\"md5\", \"sha1\", \"sha256\", \"sha3-256\"]}");
	assert_int_equal(f->gw.discovery_chap_algorithms, CHAP_ALGS_ALL);
	expect_error(f, "{\"request\": \"param_set\", \"discovery\": true, \"key\": \"queue_depth\","
			" \"value\": 4}", "discovery sessions have only \"chap_algorithms\"");
	expect_error(f, "{\"request\": \"param_set\", \"discovery\": true, \"target\": \"" IQN1 "\","
			" \"key\": \"chap_algorithms\", \"value\": \"md5\"}", "not used with \"discovery\": true");
	/* Back to all: nothing is written for either. */
	expect_ok(f, "{\"request\": \"param_set\", \"target\": \"" IQN1 "\", \"key\": \"CHAP_algorithms\","
		     " \"value\": \"md5,sha1,sha256,sha3-256\"}");
	text = config_serialize(&f->gw);
	assert_null(strstr(text, "chap_algorithms"));
	free(text);
}

static void test_requests_edit_model(void **state)
{
	struct fixture *f = *state;
	struct gateway *gw = &f->gw;
	char err[1024] = "", json[512];
	struct target *t;
	struct acl *acl;
	uint32_t version;

	assert_int_equal(config_load(gw, f->config, err, sizeof(err)), 0);
	version = gw->config_version;

	expect_ok(f, "{\"request\": \"target_add\", \"target\": \"" IQN1 "\", \"params\": {\"queue_depth\": 32}}");
	t = gw_find_target(gw, IQN1);
	assert_non_null(t);
	assert_int_equal(t->params.queue_depth, 32);
	assert_int_equal(gw->config_version, version + 1);

	/* No "lun": the lowest free one. */
	expect_ok(f, "{\"request\": \"lun_add\", \"target\": \"" IQN1 "\", \"spec\": \"null,size=1G\"}");
	expect_ok(f, "{\"request\": \"lun_add\", \"target\": \"" IQN1 "\", \"lun\": 2, \"backstore\": \"null\", \"size\": \"2G\"}");
	expect_ok(f, "{\"request\": \"lun_add\", \"target\": \"" IQN1 "\", \"backstore\": \"null\", \"size\": \"1M\"}");
	assert_non_null(target_find_lu(t, 0));
	assert_non_null(target_find_lu(t, 1));
	assert_int_equal(target_find_lu(t, 2)->size_bytes, 2ULL << 30);
	snprintf(json, sizeof(json), "{\"request\": \"lun_add\", \"target\": \"" IQN1 "\", \"lun\": 5, "
		 "\"spec\": \"file:%s/lu5.img,size=8M,thin=1\"}", f->dir);
	expect_ok(f, json);
	assert_true(target_find_lu(t, 5)->spec.thin);

	expect_ok(f, "{\"request\": \"lun_resize\", \"target\": \"" IQN1 "\", \"lun\": 2, \"size\": \"3G\"}");
	assert_int_equal(target_find_lu(t, 2)->size_bytes, 3ULL << 30);
	expect_error(f, "{\"request\": \"lun_resize\", \"target\": \"" IQN1 "\", \"lun\": 2, \"size\": \"1G\"}",
		     "size: 1073741824 is smaller than the current");
	expect_ok(f, "{\"request\": \"lun_resize\", \"target\": \"" IQN1 "\", \"lun\": 2, \"size\": \"1G\", \"shrink\": true}");

	expect_ok(f, "{\"request\": \"acl_add\", \"target\": \"" IQN1 "\", \"initiator\": \"" INI1 "\", "
		  "\"lun_map\": [{\"mapped_lun\": 0, \"lun\": 2}]}");
	acl = target_find_acl(t, INI1);
	assert_non_null(acl);
	assert_int_equal(acl->map_count, 1);
	assert_int_equal(acl->map[0].target_lun, 2);

	expect_ok(f, "{\"request\": \"chap_set\", \"target\": \"" IQN1 "\", \"initiator\": \"" INI1 "\", "
		  "\"user\": \"client1\", \"secret\": \"client1secret!\", "
		  "\"mutual_user\": \"tgt\", \"mutual_secret\": \"targetsecret!!\"}");
	assert_true(acl->chap.set);
	assert_true(acl->mutual_chap.set);
	expect_ok(f, "{\"request\": \"chap_clear\", \"target\": \"" IQN1 "\", \"initiator\": \"" INI1 "\", \"mutual_only\": true}");
	assert_true(acl->chap.set);
	assert_false(acl->mutual_chap.set);
	expect_ok(f, "{\"request\": \"chap_set\", \"discovery\": true, \"user\": \"disc\", \"secret\": \"discoverysecret\"}");
	assert_true(gw->discovery_auth);
	assert_true(gw->discovery_chap.set);
	expect_ok(f, "{\"request\": \"chap_clear\", \"discovery\": true}");
	assert_false(gw->discovery_auth);
	assert_false(gw->discovery_chap.set);

	expect_ok(f, "{\"request\": \"param_set\", \"target\": \"" IQN1 "\", \"key\": \"maxburstlength\", \"value\": \"2M\"}");
	assert_int_equal(t->params.max_burst_length, 2u << 20);
	expect_ok(f, "{\"request\": \"param_set\", \"target\": \"" IQN1 "\", \"key\": \"DataDigest\", \"value\": \"None\"}");
	assert_false(t->params.data_digest);
	expect_ok(f, "{\"request\": \"param_set\", \"target\": \"" IQN1 "\", \"key\": \"demo_mode\", \"value\": \"yes\"}");
	assert_true(t->demo_mode);
	expect_error(f, "{\"request\": \"param_set\", \"target\": \"" IQN1 "\", \"key\": \"FirstBurstLength\", \"value\": \"4M\"}",
		     "FirstBurstLength: 4194304 exceeds MaxBurstLength");

	f->portal_notifications = 0;
	expect_ok(f, "{\"request\": \"portal_add\", \"portal\": \"127.0.0.1:3270\"}");
	assert_int_equal(f->portal_notifications, 1);
	assert_int_equal(TAILQ_FIRST(&gw->portals)->port, 3270);
	expect_error(f, "{\"request\": \"portal_add\", \"portal\": \"127.0.0.1:3270\"}", "portal: already listening there");
	f->portal_result = -EADDRINUSE;
	expect_error(f, "{\"request\": \"portal_add\", \"portal\": \"127.0.0.1:3271\"}", "portal: cannot listen: Address already in use");
	f->portal_result = 0;
	assert_null(TAILQ_NEXT(TAILQ_FIRST(&gw->portals), link));   /* rolled back */

	/* An FCoE VN2VN port (docs/fcoe.md): an interface and its names. */
	expect_ok(f, "{\"request\": \"portal_add\", \"portal\": \"eth7\", \"transport\": \"fcoe\","
		     " \"wwpn\": \"20:00:00:53:47:57:00:01\", \"wwnn\": \"naa.1000005347570001\", \"target\": \"" IQN1 "\"}");
	{
		struct portal *fp = TAILQ_NEXT(TAILQ_FIRST(&gw->portals), link);

		assert_non_null(fp);
		assert_int_equal(fp->transport, PORTAL_FCOE);
		assert_string_equal(fp->addr, "eth7");
		assert_true(fp->wwpn == 0x2000005347570001ull);
		assert_true(fp->wwnn == 0x1000005347570001ull);
		assert_string_equal(fp->target, IQN1);
	}
	expect_error(f, "{\"request\": \"portal_add\", \"portal\": \"eth7\", \"transport\": \"fcoe\"}",
		     "portal: already listening there (fcoe)");
	expect_error(f, "{\"request\": \"portal_add\", \"portal\": \"eth8\", \"transport\": \"fcoe\", \"wwpn\": \"0\"}",
		     "wwpn: \"0\" is not a world wide name");
	expect_error(f, "{\"request\": \"portal_add\", \"portal\": \"127.0.0.1:3272\", \"wwpn\": \"0x2000000000000001\"}",
		     "wwpn, wwnn and target are for FCoE portals");

	/* Every applied change was written to the file. */
	{
		char *saved = NULL;
		size_t len = 0;
		FILE *fp = fopen(f->config, "r");

		assert_non_null(fp);
		assert_true(getdelim(&saved, &len, '\0', fp) > 0);
		fclose(fp);
		assert_non_null(strstr(saved, "\"MaxBurstLength\": 2097152"));
		assert_non_null(strstr(saved, "127.0.0.1:3270"));
		assert_non_null(strstr(saved, "\"wwpn\": \"0x2000005347570001\""));
		assert_non_null(strstr(saved, "\"transport\": \"fcoe\""));
		assert_non_null(strstr(saved, "lu5.img"));
		assert_non_null(strstr(saved, "\"mapped_lun\": 0"));
		assert_non_null(strstr(saved, "client1secret!"));
		free(saved);
	}

	expect_error(f, "{\"request\": \"lun_del\", \"target\": \"" IQN1 "\", \"lun\": 2}",
		     "lun: LUN 2 is mapped for " INI1 "; delete that ACL first");
	expect_ok(f, "{\"request\": \"acl_del\", \"target\": \"" IQN1 "\", \"initiator\": \"" INI1 "\"}");
	assert_null(target_find_acl(t, INI1));
	expect_ok(f, "{\"request\": \"lun_del\", \"target\": \"" IQN1 "\", \"lun\": 2}");
	assert_null(target_find_lu(t, 2));
	expect_ok(f, "{\"request\": \"portal_del\", \"portal\": \"127.0.0.1:3270\"}");
	expect_error(f, "{\"request\": \"portal_del\", \"portal\": \"eth9\", \"transport\": \"fcoe\"}",
		     "no such fcoe portal");
	expect_ok(f, "{\"request\": \"portal_del\", \"portal\": \"eth7\", \"transport\": \"fcoe\"}");
	assert_true(TAILQ_EMPTY(&gw->portals));
	expect_ok(f, "{\"request\": \"target_del\", \"target\": \"" IQN1 "\"}");
	assert_null(gw_find_target(gw, IQN1));
}

static void test_request_errors(void **state)
{
	struct fixture *f = *state;

	expect_ok(f, "{\"request\": \"target_add\", \"target\": \"" IQN1 "\"}");
	expect_error(f, "{\"request\": \"frobnicate\"}", "request: \"frobnicate\" is not a configuration request");
	expect_error(f, "{\"target\": \"" IQN1 "\"}", "request: missing");
	expect_error(f, "{\"request\": \"target_add\", \"target\": \"" IQN1 "\"}", "target: target \"" IQN1 "\" already exists");
	expect_error(f, "{\"request\": \"target_add\", \"target\": \"iqn.bad\"}", "target: \"iqn.bad\" is not a valid iSCSI name");
	expect_error(f, "{\"request\": \"target_add\", \"target\": \"" IQN2 "\", \"colour\": \"red\"}", "colour: unknown key");
	expect_error(f, "{\"request\": \"target_del\", \"target\": \"" IQN2 "\"}", "target: no target \"" IQN2 "\"");
	expect_error(f, "{\"request\": \"lun_add\", \"target\": \"" IQN1 "\"}", "backstore: missing");
	expect_error(f, "{\"request\": \"lun_add\", \"target\": \"" IQN1 "\", \"spec\": \"tape:/x\"}", "spec: ");
	expect_error(f, "{\"request\": \"lun_add\", \"target\": \"" IQN1 "\", \"spec\": \"null\", \"size\": \"1G\"}",
		     "size: give either \"spec\" or separate LU fields");
	expect_error(f, "{\"request\": \"lun_add\", \"target\": \"" IQN1 "\", \"backstore\": \"null\", \"size\": \"12Q\"}",
		     "size: \"12Q\" is not a size");
	expect_error(f, "{\"request\": \"lun_add\", \"target\": \"" IQN1 "\", \"backstore\": \"file\", \"path\": \"/nonexistent/dir/x.img\"}",
		     "path: /nonexistent/dir/x.img: No such file or directory (give a size to create it)");
	expect_ok(f, "{\"request\": \"lun_add\", \"target\": \"" IQN1 "\", \"lun\": 0, \"spec\": \"null\"}");
	expect_error(f, "{\"request\": \"lun_add\", \"target\": \"" IQN1 "\", \"lun\": 0, \"spec\": \"null\"}",
		     "lun: target " IQN1 " already has LUN 0");
	expect_error(f, "{\"request\": \"lun_del\", \"target\": \"" IQN1 "\", \"lun\": 9}", "lun: target " IQN1 " has no LUN 9");
	expect_error(f, "{\"request\": \"lun_resize\", \"target\": \"" IQN1 "\", \"lun\": 0}", "size: missing");
	expect_error(f, "{\"request\": \"acl_add\", \"target\": \"" IQN1 "\", \"initiator\": \"" INI1 "\", "
		     "\"lun_map\": [{\"mapped_lun\": 0, \"lun\": 4}]}", "lun_map: target " IQN1 " has no LUN 4");
	expect_error(f, "{\"request\": \"acl_del\", \"target\": \"" IQN1 "\", \"initiator\": \"" INI1 "\"}",
		     "initiator: " IQN1 " has no ACL for " INI1);
	expect_error(f, "{\"request\": \"chap_set\", \"target\": \"" IQN1 "\", \"user\": \"u\", \"secret\": \"short\"}",
		     "secret: must be 12 to 255 bytes");
	expect_error(f, "{\"request\": \"chap_set\", \"discovery\": true, \"target\": \"" IQN1 "\", \"user\": \"u\", \"secret\": \"0123456789ab\"}",
		     "target: not used with \"discovery\": true");
	expect_error(f, "{\"request\": \"chap_set\", \"target\": \"" IQN1 "\", \"user\": \"u\", \"secret\": \"0123456789ab\", "
		     "\"mutual_user\": \"t\"}", "mutual_secret: missing");
	expect_error(f, "{\"request\": \"portal_del\", \"portal\": \"10.0.0.1:3260\"}", "portal: no such portal");
	expect_error(f, "{\"request\": \"portal_add\", \"portal\": \"10.0.0.1:0\"}", "portal: ");
	expect_error(f, "{\"request\": \"param_set\", \"target\": \"" IQN1 "\", \"key\": \"Colour\", \"value\": 1}",
		     "key: unknown parameter \"Colour\"");
	expect_error(f, "{\"request\": \"param_set\", \"target\": \"" IQN1 "\", \"key\": \"queue_depth\", \"value\": 0}",
		     "value: 0 is out of range");
	/* Nothing of the refused requests reached the model. */
	assert_null(gw_find_target(&f->gw, IQN2));
	assert_null(target_find_lu(gw_find_target(&f->gw, IQN1), 1));
}

/* ---- reload: a fake fabric records which sessions were dropped ---- */

struct fake_session {
	struct it_nexus nexus;
	bool dropped;
};

static void fake_drop(struct it_nexus *nexus)
{
	container_of(nexus, struct fake_session, nexus)->dropped = true;
}

static const struct fabric_ops fake_fabric = { .name = "fake", .drop = fake_drop };

static void session_init(struct fake_session *s, struct gateway *gw, struct target *t,
			 const char *initiator, uint64_t id)
{
	memset(s, 0, sizeof(*s));
	s->nexus.id = id;
	str_copy(s->nexus.initiator_name, initiator, sizeof(s->nexus.initiator_name));
	s->nexus.target = t;
	s->nexus.acl = target_find_acl(t, initiator);
	s->nexus.fabric = &fake_fabric;
	TAILQ_INIT(&s->nexus.uas);
	TAILQ_INSERT_TAIL(&gw->nexuses, &s->nexus, link);
}

static void session_fini(struct fake_session *s, struct gateway *gw)
{
	struct ua_entry *ua;

	while ((ua = TAILQ_FIRST(&s->nexus.uas))) {
		TAILQ_REMOVE(&s->nexus.uas, ua, link);
		free(ua);
	}
	TAILQ_REMOVE(&gw->nexuses, &s->nexus, link);
}

static bool has_ua(struct fake_session *s, uint16_t asc_ascq)
{
	struct ua_entry *ua;

	TAILQ_FOREACH(ua, &s->nexus.uas, link)
		if ((uint16_t)(ua->asc << 8 | ua->ascq) == asc_ascq)
			return true;
	return false;
}

static void reload_done(void *ctx, int result)
{
	int *out = ctx;

	*out = result;
}

static void run_until(struct gateway *gw, const int *result)
{
	for (int i = 0; i < 100 && *result == 1; i++)
		event_loop_run_once(gw->loop, 10);
	assert_int_not_equal(*result, 1);
}

static const char reload_before[] =
"{\"portals\": [\"127.0.0.1:3260\"],\n"
" \"targets\": [\n"
"  {\"iqn\": \"" IQN1 "\", \"luns\": [{\"lun\": 0, \"backstore\": \"null\", \"size\": \"1G\"},\n"
"                                  {\"lun\": 1, \"backstore\": \"null\", \"size\": \"1G\"}],\n"
"   \"acls\": [{\"initiator\": \"" INI1 "\"}, {\"initiator\": \"" INI2 "\"}]},\n"
"  {\"iqn\": \"" IQN2 "\", \"luns\": [{\"lun\": 0, \"backstore\": \"null\", \"size\": \"1G\"}],\n"
"   \"acls\": [{\"initiator\": \"" INI1 "\"}]},\n"
"  {\"iqn\": \"iqn.2024-01.com.example:old\", \"demo_mode\": true}\n"
" ]}\n";

/* IQN1: ACL INI2 removed, LUN 0 grows, LUN 1 becomes read-only (replaced),
 * INI1's CHAP changes; IQN2 untouched; "old" removed; "new" added. */
static const char reload_after[] =
"{\"portals\": [\"127.0.0.1:3260\"],\n"
" \"targets\": [\n"
"  {\"iqn\": \"" IQN1 "\", \"luns\": [{\"lun\": 0, \"backstore\": \"null\", \"size\": \"2G\"},\n"
"                                  {\"lun\": 1, \"backstore\": \"null\", \"size\": \"1G\", \"readonly\": true}],\n"
"   \"acls\": [{\"initiator\": \"" INI1 "\", \"chap\": {\"user\": \"c1\", \"secret\": \"client1secret!\"}}]},\n"
"  {\"iqn\": \"" IQN2 "\", \"luns\": [{\"lun\": 0, \"backstore\": \"null\", \"size\": \"1G\"}],\n"
"   \"acls\": [{\"initiator\": \"" INI1 "\"}]},\n"
"  {\"iqn\": \"iqn.2024-01.com.example:new\", \"luns\": [{\"lun\": 0, \"backstore\": \"null\"}]}\n"
" ]}\n";

static void test_reload_applies_differences(void **state)
{
	struct fixture *f = *state;
	struct gateway *gw = &f->gw;
	struct fake_session s_ini1, s_ini2, s_other;
	struct target *t1, *t2;
	struct lu *lu0, *lu1, *t2lu;
	struct acl *acl1;
	char err[1024] = "";
	int result = 1;

	write_file(f->config, reload_before);
	assert_int_equal(config_load(gw, f->config, err, sizeof(err)), 0);
	gw->cluster = cluster_create("none", gw->loop, &test_cluster_cb, gw);
	assert_non_null(gw->cluster);
	assert_int_equal(gw->cluster->ops->start(gw->cluster), 0);

	t1 = gw_find_target(gw, IQN1);
	t2 = gw_find_target(gw, IQN2);
	lu0 = target_find_lu(t1, 0);
	lu1 = target_find_lu(t1, 1);
	t2lu = target_find_lu(t2, 0);
	acl1 = target_find_acl(t1, INI1);
	session_init(&s_ini1, gw, t1, INI1, 1);
	session_init(&s_ini2, gw, t1, INI2, 2);
	session_init(&s_other, gw, t2, INI1, 3);

	write_file(f->config, reload_after);
	f->portal_notifications = 0;
	assert_int_equal(config_reload_submit(gw, reload_done, &result, err, sizeof(err)), 0);
	run_until(gw, &result);
	assert_int_equal(result, 0);

	/* Only the removed ACL's session was dropped. */
	assert_false(s_ini1.dropped);
	assert_true(s_ini2.dropped);
	assert_false(s_other.dropped);
	assert_null(target_find_acl(t1, INI2));
	/* Same objects where nothing structural changed. */
	assert_ptr_equal(gw_find_target(gw, IQN1), t1);
	assert_ptr_equal(target_find_acl(t1, INI1), acl1);
	assert_true(acl1->chap.set);
	assert_ptr_equal(target_find_lu(t1, 0), lu0);       /* resized in place */
	assert_int_equal(lu0->size_bytes, 2ULL << 30);
	assert_ptr_not_equal(target_find_lu(t1, 1), NULL);
	assert_true(target_find_lu(t1, 1)->spec.readonly);  /* replaced */
	(void)lu1;
	assert_ptr_equal(target_find_lu(t2, 0), t2lu);
	assert_null(gw_find_target(gw, "iqn.2024-01.com.example:old"));
	assert_non_null(gw_find_target(gw, "iqn.2024-01.com.example:new"));
	assert_int_equal(f->portal_notifications, 0);       /* portals unchanged */

	/* Unit attentions for the sessions that see the changes. */
	assert_true(has_ua(&s_ini1, ASC_CAPACITY_DATA_HAS_CHANGED));
	assert_true(has_ua(&s_ini1, ASC_REPORTED_LUNS_DATA_HAS_CHANGED));
	assert_false(has_ua(&s_other, ASC_CAPACITY_DATA_HAS_CHANGED));
	assert_false(has_ua(&s_other, ASC_REPORTED_LUNS_DATA_HAS_CHANGED));

	/* The dropped session still points at its ACL until the fabric lets
	 * go; the ACL is freed after that (ASan checks). */
	session_fini(&s_ini2, gw);
	for (int i = 0; i < 30; i++)
		event_loop_run_once(gw->loop, 10);

	/* A broken file is refused as a whole: nothing changes. */
	write_file(f->config, "{\"targets\": [{\"iqn\": \"" IQN1 "\", \"luns\": [{\"lun\": 0}]}]}");
	assert_int_not_equal(config_reload_submit(gw, reload_done, &result, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "targets[0].luns[0].backstore: missing"));
	assert_non_null(gw_find_target(gw, IQN2));
	/* A missing file is an error at reload (it would remove everything). */
	unlink(f->config);
	assert_int_not_equal(config_reload_submit(gw, reload_done, &result, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "No such file"));

	session_fini(&s_ini1, gw);
	session_fini(&s_other, gw);
}

static void test_reload_removing_target_with_sessions(void **state)
{
	struct fixture *f = *state;
	struct gateway *gw = &f->gw;
	struct fake_session s;
	char err[1024] = "";

	assert_int_equal(load(f, reload_before, err, sizeof(err)), 0);
	session_init(&s, gw, gw_find_target(gw, IQN2), INI1, 7);
	expect_ok(f, "{\"request\": \"target_del\", \"target\": \"" IQN2 "\"}");
	assert_true(s.dropped);
	assert_null(gw_find_target(gw, IQN2));
	/* May be added again at once, while the old one waits for its session. */
	expect_ok(f, "{\"request\": \"target_add\", \"target\": \"" IQN2 "\"}");
	session_fini(&s, gw);
	for (int i = 0; i < 30; i++)
		event_loop_run_once(gw->loop, 10);
	assert_non_null(gw_find_target(gw, IQN2));
}

static void test_portals_absent_are_kept_on_reload(void **state)
{
	struct fixture *f = *state;
	struct gateway *gw = &f->gw;
	struct portal *p = calloc(1, sizeof(*p));
	char err[1024] = "";

	/* e.g. from --listen */
	strcpy(p->addr, "0.0.0.0");
	p->port = 3260;
	TAILQ_INSERT_TAIL(&gw->portals, p, link);
	expect_ok(f, "{\"request\": \"config_replace\", \"config\": {\"targets\": []}}");
	assert_ptr_equal(TAILQ_FIRST(&gw->portals), p);
	expect_ok(f, "{\"request\": \"config_replace\", \"config\": {\"portals\": [\"127.0.0.1:3300\"]}}");
	assert_int_equal(TAILQ_FIRST(&gw->portals)->port, 3300);
	assert_int_equal(f->portal_notifications, 1);
	(void)err;
}

static void test_names_and_portals(void **state)
{
	static const char *const good[] = {
		"iqn.2024-01.com.example:disk1", "iqn.1994-05.com.redhat:a1b2c3",
		"iqn.2001-04.com.example", "iqn.2001-04.com.Example:Storage.Disk1",
		"eui.02004567A425678D", "naa.52004567BA64678D",
		"naa.62004567BA64678D830A1E2F3B4C5D6E",
	};
	static const char *const bad[] = {
		"", "iqn.", "iqn.2024-1.com.example", "iqn.2024-00.com.example", "iqn.2024-01.",
		"iqn.2024-01.:x", "iqn.2024-01.com.example:a_b", "eui.02004567A425678", "eui.0200456ZA425678D",
		"naa.1234", "IQN.2024-01.com.example", "target",
	};
	char why[256], addr[64], name[300];
	uint16_t port;
	void *unused = *state;

	(void)unused;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		if (!config_iscsi_name_valid(good[i], why, sizeof(why)))
			fail_msg("%s refused: %s", good[i], why);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (config_iscsi_name_valid(bad[i], why, sizeof(why)))
			fail_msg("%s accepted", bad[i]);
	memset(name, 'a', sizeof(name));
	memcpy(name, "iqn.2024-01.com.example:", 24);
	name[224] = '\0';   /* 224 bytes: one too many (RFC 7143 4.2.7.1) */
	assert_false(config_iscsi_name_valid(name, why, sizeof(why)));
	name[223] = '\0';
	assert_true(config_iscsi_name_valid(name, why, sizeof(why)));

	assert_int_equal(config_portal_parse("10.1.2.3", addr, sizeof(addr), &port, why, sizeof(why)), 0);
	assert_string_equal(addr, "10.1.2.3");
	assert_int_equal(port, 3260);
	assert_int_equal(config_portal_parse("[::]:860", addr, sizeof(addr), &port, why, sizeof(why)), 0);
	assert_string_equal(addr, "::");
	assert_int_equal(port, 860);
	assert_int_equal(config_portal_parse("[fe80::0001]", addr, sizeof(addr), &port, why, sizeof(why)), 0);
	assert_string_equal(addr, "fe80::1");
	assert_int_not_equal(config_portal_parse("[::1:3260", addr, sizeof(addr), &port, why, sizeof(why)), 0);
	assert_int_not_equal(config_portal_parse("1.2.3.4:", addr, sizeof(addr), &port, why, sizeof(why)), 0);
	assert_int_not_equal(config_portal_parse("1.2.3.4:65536", addr, sizeof(addr), &port, why, sizeof(why)), 0);
	assert_int_not_equal(config_portal_parse("1.2.3:80", addr, sizeof(addr), &port, why, sizeof(why)), 0);
	config_portal_format("::1", 3260, name, sizeof(name));
	assert_string_equal(name, "[::1]:3260");
}

static void test_list_dump_hides_secrets(void **state)
{
	struct fixture *f = *state;
	char *text = valid_config(f);
	json_object *tree, *targets, *t0, *acls, *chap, *v;
	const char *s;

	load_ok(f, text);
	free(text);
	tree = config_dump(&f->gw, CONFIG_DUMP_RUNTIME);
	s = json_object_to_json_string(tree);
	assert_null(strstr(s, "client1secret!"));
	assert_null(strstr(s, "targetsecret12"));
	assert_null(strstr(s, "discoverysecret1"));
	assert_true(json_object_object_get_ex(tree, "targets", &targets));
	t0 = json_object_array_get_idx(targets, 0);
	assert_true(json_object_object_get_ex(t0, "acls", &acls));
	assert_true(json_object_object_get_ex(json_object_array_get_idx(acls, 0), "chap", &chap));
	assert_true(json_object_object_get_ex(chap, "set", &v));
	assert_true(json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(json_object_array_get_idx(acls, 1), "chap", &chap));
	assert_true(json_object_object_get_ex(chap, "set", &v));
	assert_false(json_object_get_boolean(v));
	/* effective parameters and LU identity are shown */
	assert_true(json_object_object_get_ex(t0, "params", &v));
	assert_true(json_object_object_get_ex(v, "nop_interval", &v));
	assert_non_null(strstr(s, "\"naa\""));
	assert_non_null(strstr(s, "\"spec\""));
	json_object_put(tree);
}

/* rbd specs: the backstore's own options are kept as text, checked by
 * the backstore, and written back out unchanged; bad ones are refused
 * with the reason (no Ceph cluster is needed for any of this). */
static void test_rbd_spec(void **state)
{
	struct lu_spec spec;
	char err[256], text[PATH_MAX + 768];

	(void)state;
	if (!backstore_find("rbd"))
		skip();         /* built without librbd (tests/run refuses that) */
	assert_int_equal(lu_spec_parse("rbd:rbd/disk1,size=1G,create=1,conf=/etc/ceph/c.conf,id=gw",
				       &spec, err, sizeof(err)), 0);
	assert_string_equal(spec.backstore, "rbd");
	assert_string_equal(spec.path, "rbd/disk1");
	assert_string_equal(spec.options, "create=1,conf=/etc/ceph/c.conf,id=gw");
	assert_int_equal(spec.size, 1ull << 30);
	assert_true(spec.thin);
	config_lu_spec_format(&spec, text, sizeof(text));
	assert_string_equal(text, "rbd:rbd/disk1,size=1G,thin=1,create=1,conf=/etc/ceph/c.conf,id=gw");

	/* What the backstore refuses, it says why. */
	assert_int_equal(lu_spec_parse("rbd:rbd/disk1,bogus=1", &spec, err, sizeof(err)), 0);
	assert_non_null(backstore_find("rbd"));
	assert_true(backstore_find("rbd")->check_spec(spec.path, spec.options, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "bogus"));
	assert_true(backstore_find("rbd")->check_spec("disk1", "", err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "POOL/IMAGE"));
	assert_true(backstore_find("rbd")->check_spec("rbd/a/b", "", err, sizeof(err)) < 0);
	assert_true(backstore_find("rbd")->check_spec("rbd/a", "timeout=0", err, sizeof(err)) < 0);
	assert_true(backstore_find("rbd")->check_spec("rbd/a", "conf=relative.conf", err, sizeof(err)) < 0);
	assert_int_equal(backstore_find("rbd")->check_spec("rbd/a", "timeout=5,id=x", err, sizeof(err)), 0);
	/* Other backstores take no such options. */
	assert_int_equal(lu_spec_parse("file:/tmp/x.img,conf=/a", &spec, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "conf"));
	assert_int_equal(backstore_configure("rbd", "handles", "0", err, sizeof(err)), -EINVAL);
	assert_int_equal(backstore_configure("rbd", "handles", "4", err, sizeof(err)), 0);
}

/* import: the reload's diff as a list (what, where, never a secret), a dry
 * run that changes nothing, one config_replace that brings the model to
 * the document, and an export of the result equal to the document. */
static void import_prepare(struct fixture *f, const char *doc, bool dry_run, json_object **answer,
			   json_object **submit)
{
	char text[8192], err[1024] = "";
	json_object *req;

	snprintf(text, sizeof(text), "{\"request\": \"import\", \"dry_run\": %s, \"config\": %s}",
		 dry_run ? "true" : "false", doc);
	req = json_tokener_parse(text);
	assert_non_null(req);
	if (config_import_prepare(&f->gw, req, answer, submit, err, sizeof(err)) != 0)
		fail_msg("import refused: %s", err);
	json_object_put(req);
}

static void expect_import_error(struct fixture *f, const char *doc, const char *message)
{
	char text[8192], err[1024] = "";
	json_object *req, *answer = NULL, *submit = NULL;

	snprintf(text, sizeof(text), "{\"request\": \"import\", \"config\": %s}", doc);
	req = json_tokener_parse(text);
	assert_non_null(req);
	if (config_import_prepare(&f->gw, req, &answer, &submit, err, sizeof(err)) == 0 ||
	    !strstr(err, message))
		fail_msg("import %s\n  expected error containing: %s\n  got: %s", doc, message, err);
	assert_null(answer);
	assert_null(submit);
	json_object_put(req);
}

/* The diff as "ACTION PATH | WHAT" lines. */
static void diff_text(json_object *answer, char *out, size_t len)
{
	json_object *diff = json_object_object_get(answer, "diff");
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < json_object_array_length(diff); i++) {
		json_object *e = json_object_array_get_idx(diff, i);

		used += (size_t)snprintf(out + used, len - used, "%s %s | %s\n",
					 json_object_get_string(json_object_object_get(e, "action")),
					 json_object_get_string(json_object_object_get(e, "path")),
					 json_object_get_string(json_object_object_get(e, "what")));
	}
}

static void test_import_diff(void **state)
{
	struct fixture *f = *state;
	json_object *answer, *submit, *exported;
	char text[8192], expected[4096], err[1024] = "", *before;
	const char *payload;

	load_ok(f, "{\"portals\": [\"127.0.0.1:3260\"],"
		   " \"targets\": [{\"iqn\": \"" IQN1 "\","
		   "   \"luns\": [{\"lun\": 0, \"backstore\": \"null\", \"size\": \"1G\"},"
		   "             {\"lun\": 1, \"backstore\": \"null\", \"size\": \"1G\"},"
		   "             {\"lun\": 2, \"backstore\": \"null\", \"size\": \"1G\"}],"
		   "   \"acls\": [{\"initiator\": \"" INI1 "\", \"chap\": {\"user\": \"u1\", \"secret\": \"old-secret-1234\"},"
		   "             \"lun_map\": [{\"mapped_lun\": 0, \"lun\": 0}]},"
		   "             {\"initiator\": \"" INI2 "\"}]},"
		   "  {\"iqn\": \"" IQN2 "\"}]}");

	/* Its own export changes nothing, and is not submitted. */
	exported = config_export(&f->gw);
	assert_null(json_object_object_get(exported, "portals"));
	before = strdup(json_object_to_json_string(exported));
	import_prepare(f, before, false, &answer, &submit);
	assert_null(submit);
	assert_int_equal(json_object_array_length(json_object_object_get(answer, "diff")), 0);
	json_object_put(answer);
	json_object_put(exported);

	/* Every kind of change, in the order they are made. */
	snprintf(text, sizeof(text),
		 "{\"discovery\": {\"auth\": true, \"chap\": {\"user\": \"d\", \"secret\": \"discovery-secret\"}},"
		 " \"targets\": [{\"iqn\": \"" IQN1 "\", \"params\": {\"MaxBurstLength\": 524288},"
		 "   \"luns\": [{\"lun\": 0, \"backstore\": \"null\", \"size\": \"2G\"},"
		 "             {\"lun\": 1, \"backstore\": \"null\", \"size\": \"1G\", \"readonly\": true},"
		 "             {\"lun\": 3, \"backstore\": \"null\", \"size\": \"1G\","
		 "              \"alua\": {\"policy\": \"preferred\", \"preferred_node\": 1}}],"
		 "   \"acls\": [{\"initiator\": \"" INI1 "\", \"chap\": {\"user\": \"u1\", \"secret\": \"new-secret-1234\"},"
		 "             \"lun_map\": [{\"mapped_lun\": 0, \"lun\": 0}, {\"mapped_lun\": 1, \"lun\": 3}]}]},"
		 "  {\"iqn\": \"iqn.2024-01.com.example:disk3\", \"demo_mode\": true}]}");
	import_prepare(f, text, true, &answer, &submit);
	assert_null(submit);       /* a dry run */
	diff_text(answer, expected, sizeof(expected));
	assert_string_equal(expected,
		"change /discovery | CHAP not required -> required, chap user d added\n"
		"remove /targets/" IQN2 " | with 0 LUs and 0 ACLs\n"
		"change /targets/" IQN1 "/params/MaxBurstLength | 1048576 -> 524288\n"
		"remove /targets/" IQN1 "/acls/" INI2 " | no chap, every LUN\n"
		"change /targets/" IQN1 "/luns/0 | size 1G -> 2G\n"
		"change /targets/" IQN1 "/luns/1 | null,size=1G -> null,size=1G,readonly=1 (replaced: initiators see a new disk)\n"
		"remove /targets/" IQN1 "/luns/2 | null,size=1G\n"
		"add /targets/" IQN1 "/luns/3 | null,size=1G, alua preferred node 1, others active-non-optimized\n"
		"change /targets/" IQN1 "/acls/" INI1 " | chap secret of user u1 changed, lun_map 0:0 -> lun_map 0:0,1:3\n"
		"add /targets/iqn.2024-01.com.example:disk3 | demo mode on\n");
	assert_null(strstr(json_object_to_json_string(answer), "secret-1234"));
	assert_int_equal(json_object_get_int(json_object_object_get(json_object_object_get(answer, "summary"), "change")), 5);
	json_object_put(answer);
	/* The dry run changed nothing. */
	exported = config_export(&f->gw);
	assert_string_equal(json_object_to_json_string(exported), before);
	json_object_put(exported);

	/* Applied: one config_replace; the model then exports as the document. */
	import_prepare(f, text, false, &answer, &submit);
	assert_non_null(submit);
	assert_string_equal(json_object_get_string(json_object_object_get(submit, "request")), "config_replace");
	payload = json_object_to_json_string(submit);
	if (config_apply_request(&f->gw, payload, strlen(payload), err, sizeof(err)) != 0)
		fail_msg("config_replace failed: %s", err);
	assert_int_equal(f->gw.config_version, 1);
	assert_non_null(gw_find_target(&f->gw, "iqn.2024-01.com.example:disk3"));
	assert_null(gw_find_target(&f->gw, IQN2));
	assert_int_equal(target_find_lu(gw_find_target(&f->gw, IQN1), 0)->spec.size, 2ull << 30);
	assert_false(TAILQ_EMPTY(&f->gw.portals));   /* an import leaves portals alone */
	json_object_put(answer);
	json_object_put(submit);
	import_prepare(f, text, false, &answer, &submit);
	assert_null(submit);
	json_object_put(answer);
	free(before);

	/* Refused as a whole, naming the place; nothing changed. */
	expect_import_error(f, "{\"portals\": [], \"targets\": []}", "portals: portals belong to each node");
	expect_import_error(f, "{\"targets\": [{\"iqn\": \"iqn.2024-13.com.example:x\"}]}", "targets[0].iqn");
	expect_import_error(f, "{\"targets\": [{\"iqn\": \"" IQN1 "\", \"acls\": [{\"initiator\": \"" INI1 "\","
			       " \"lun_map\": [{\"mapped_lun\": 0, \"lun\": 7}]}]}]}",
			    "targets[0].acls[0].lun_map: maps LUN 7");
	expect_import_error(f, "[]", "config: must be an object");
	expect_import_error(f, "{\"targets\": [{\"iqn\": \"" IQN1 "\", \"luns\": [{\"lun\": 0, \"backstore\": \"file\","
			       " \"path\": \"/nonexistent/x.img\"}]}]}",
			    "targets[0].luns[0].path: /nonexistent/x.img");
	assert_int_equal(f->gw.config_version, 1);
}

/* export: canonical order whatever the creation order. */
static void test_export_canonical(void **state)
{
	struct fixture *f = *state;
	json_object *a, *b;
	struct gateway other;

	load_ok(f, "{\"targets\": [{\"iqn\": \"" IQN2 "\", \"acls\": [{\"initiator\": \"" INI2 "\"},"
		   " {\"initiator\": \"" INI1 "\"}]}, {\"iqn\": \"" IQN1 "\"}]}");
	gateway_init(f, &other);
	assert_int_equal(config_load_text(&other, "{\"targets\": [{\"iqn\": \"" IQN1 "\"}, {\"iqn\": \"" IQN2 "\","
					  " \"acls\": [{\"initiator\": \"" INI1 "\"}, {\"initiator\": \"" INI2 "\"}]}]}",
					  strlen("{\"targets\": [{\"iqn\": \"" IQN1 "\"}, {\"iqn\": \"" IQN2 "\","
						 " \"acls\": [{\"initiator\": \"" INI1 "\"}, {\"initiator\": \"" INI2 "\"}]}]}"),
					  NULL, 0), 0);
	a = config_export(&f->gw);
	b = config_export(&other);
	assert_string_equal(json_object_to_json_string(a), json_object_to_json_string(b));
	assert_string_equal(json_object_get_string(json_object_object_get(
		json_object_array_get_idx(json_object_object_get(a, "targets"), 0), "iqn")), IQN1);
	json_object_put(a);
	json_object_put(b);
	gateway_fini(&other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_load_valid, setup, teardown),
		cmocka_unit_test(test_rbd_spec),
		cmocka_unit_test_setup_teardown(test_load_file_missing_is_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_configs_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lu_open_failure_names_lu, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chap_algorithms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_save_is_atomic_and_private, setup, teardown),
		cmocka_unit_test_setup_teardown(test_requests_edit_model, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_applies_differences, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_removing_target_with_sessions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_portals_absent_are_kept_on_reload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_names_and_portals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_dump_hides_secrets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_diff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_export_canonical, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
