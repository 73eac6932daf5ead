/* Unit tests of the state transfer between cluster nodes
 * (gateway/state_snapshot.c) and of the cleanup survivors apply when a node
 * leaves (shared_state_membership_changed -> pr_nodes_departed). Two
 * harness gateways stand for two nodes: state made through commands on
 * one is moved to the other by a snapshot, and read back through commands
 * there, as an initiator would see it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../gateway/scsi/pr.h"
#include "../../gateway/scsi/scsi_internal.h"
#include "../../gateway/scsi/sense.h"
#include "../../gateway/shared_state.h"
#include "../../gateway/state_snapshot.h"
#include "../../gateway/util.h"
#include "core_harness.h"

#define KEY_A 0xaaaa000000000001ULL
#define KEY_B 0xbbbb000000000002ULL
#define NAME_A "iqn.2026-01.org.sangw.test:a"
#define NAME_B "iqn.2026-01.org.sangw.test:b"
#define NAME_C "iqn.2026-01.org.sangw.test:c"

enum { REGISTER = 0, RESERVE = 1 };
enum { WRITE_EXCLUSIVE = 1 };
enum { READ_KEYS = 0, READ_RESERVATION = 1, READ_FULL_STATUS = 3 };
#define APTPL 0x01

/* One node: a harness gateway with LU 0 (for PR) and LU 1 (for SPC-2), and
 * three initiators. */
struct node {
	struct harness h;
	struct it_nexus *a, *b, *c;
};

struct ctx {
	struct node one, two;
};

static uint8_t run(struct node *n, struct it_nexus *nx, uint64_t lun, const uint8_t *cdb,
		   unsigned cdb_len, enum scsi_data_dir dir, const void *out, uint32_t out_len,
		   struct harness_result *res)
{
	return harness_run(&n->h, nx, lun, cdb, cdb_len, dir, out, out_len, 0, res);
}

static uint8_t prout(struct node *n, struct it_nexus *nx, uint8_t sa, uint8_t type, uint64_t key,
		     uint64_t sa_key, uint8_t flags)
{
	uint8_t cdb[10] = { 0x5f, sa, type };
	uint8_t data[24] = { 0 };
	struct harness_result res;
	uint8_t status;

	put_be32(cdb + 5, sizeof(data));
	put_be64(data, key);
	put_be64(data + 8, sa_key);
	data[20] = flags;
	status = run(n, nx, 0, cdb, sizeof(cdb), SCSI_DIR_OUT, data, sizeof(data), &res);
	if (status == SAM_STAT_CHECK_CONDITION)
		print_message("PR OUT 0x%x: sense %x/%04x\n", sa, res.sense_key, res.asc_ascq);
	harness_result_free(&res);
	return status;
}

/* PERSISTENT RESERVE IN through nx: the parameter data, malloc'd. */
static uint8_t *prin(struct node *n, struct it_nexus *nx, uint8_t sa, uint32_t *len)
{
	uint8_t cdb[10] = { 0x5e, sa };
	struct harness_result res;
	uint8_t *data;

	put_be16(cdb + 7, 4096);
	assert_int_equal(run(n, nx, 0, cdb, sizeof(cdb), SCSI_DIR_IN, NULL, 0, &res), SAM_STAT_GOOD);
	data = res.data;
	*len = res.data_len;
	res.data = NULL;
	harness_result_free(&res);
	return data;
}

static uint8_t reserve6(struct node *n, struct it_nexus *nx, uint64_t lun)
{
	static const uint8_t cdb[6] = { 0x16 };
	struct harness_result res;
	uint8_t status = run(n, nx, lun, cdb, sizeof(cdb), SCSI_DIR_NONE, NULL, 0, &res);

	if (status == SAM_STAT_CHECK_CONDITION)
		print_message("RESERVE(6): sense %x/%04x\n", res.sense_key, res.asc_ascq);
	harness_result_free(&res);
	return status;
}

static uint8_t write10(struct node *n, struct it_nexus *nx, uint64_t lun)
{
	static const uint8_t cdb[10] = { 0x2a, 0, 0, 0, 0, 1, 0, 0, 1, 0 };
	uint8_t block[512] = { 0 };
	struct harness_result res;
	uint8_t status = run(n, nx, lun, cdb, sizeof(cdb), SCSI_DIR_OUT, block, sizeof(block), &res);

	harness_result_free(&res);
	return status;
}

/* Report (and so clear) every pending unit attention of both LUs. */
static void clear_uas(struct node *n, struct it_nexus *nx)
{
	static const uint8_t tur[6] = { 0 };

	for (uint64_t lun = 0; lun < 2; lun++) {
		for (int i = 0; i < 32; i++) {
			struct harness_result res;
			uint8_t status = run(n, nx, lun, tur, sizeof(tur), SCSI_DIR_NONE, NULL, 0, &res);
			bool ua = status == SAM_STAT_CHECK_CONDITION &&
				  res.sense_key == SK_UNIT_ATTENTION;

			harness_result_free(&res);
			if (!ua)
				break;
		}
	}
}

static void node_init(struct node *n)
{
	harness_init(&n->h);
	assert_non_null(harness_add_lu(&n->h, 0, "null,size=1M"));
	assert_non_null(harness_add_lu(&n->h, 1, "null,size=1M"));
	n->a = harness_nexus(&n->h, NAME_A, 1);
	n->b = harness_nexus(&n->h, NAME_B, 1);
	n->c = harness_nexus(&n->h, NAME_C, 1);
	clear_uas(n, n->a);
	clear_uas(n, n->b);
	clear_uas(n, n->c);
}

static void node_fini(struct node *n)
{
	harness_nexus_free(&n->h, n->a);
	harness_nexus_free(&n->h, n->b);
	harness_nexus_free(&n->h, n->c);
	harness_fini(&n->h);
}

static int setup(void **state)
{
	struct ctx *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	node_init(&t->one);
	node_init(&t->two);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *t = *state;

	node_fini(&t->one);
	node_fini(&t->two);
	free(t);
	return 0;
}

/* Node one: A and B registered (A with APTPL), A holds Write Exclusive on
 * LU 0; C holds RESERVE(6) on LU 1; descriptor sense on LU 0. */
static void make_state(struct node *n)
{
	struct lu *lu0 = target_find_lu(n->h.target, 0);

	assert_int_equal(prout(n, n->a, REGISTER, 0, 0, KEY_A, APTPL), SAM_STAT_GOOD);
	/* SPC-4 5.13.5: the APTPL bit of the latest REGISTER decides. */
	assert_int_equal(prout(n, n->b, REGISTER, 0, 0, KEY_B, APTPL), SAM_STAT_GOOD);
	assert_int_equal(prout(n, n->a, RESERVE, WRITE_EXCLUSIVE, KEY_A, 0, 0), SAM_STAT_GOOD);
	assert_int_equal(reserve6(n, n->c, 1), SAM_STAT_GOOD);
	lu0->mode.d_sense = true;
}

static char *take(struct node *n, size_t *len)
{
	char *text = NULL;

	assert_int_equal(state_snapshot_take(&n->h.gw, &text, len), 0);
	assert_non_null(text);
	return text;
}

/* The same answer to a PR IN service action through both nodes. */
static void expect_same_prin(struct ctx *t, uint8_t sa)
{
	uint32_t len_one, len_two;
	uint8_t *one = prin(&t->one, t->one.b, sa, &len_one);
	uint8_t *two = prin(&t->two, t->two.b, sa, &len_two);

	assert_int_equal(len_one, len_two);
	assert_memory_equal(one, two, len_one);
	free(one);
	free(two);
}

static void test_round_trip(void **state)
{
	struct ctx *t = *state;
	char err[512] = "", *snap, *again;
	size_t len, len_again;
	uint32_t keys_len;
	uint8_t *keys;

	make_state(&t->one);
	snap = take(&t->one, &len);
	assert_int_equal(state_snapshot_load(&t->two.h.gw, snap, len, err, sizeof(err)), 0);

	/* What initiators see through node two is what node one reports. */
	expect_same_prin(t, READ_KEYS);
	expect_same_prin(t, READ_RESERVATION);
	expect_same_prin(t, READ_FULL_STATUS);
	keys = prin(&t->two, t->two.a, READ_KEYS, &keys_len);
	assert_int_equal(keys_len, 8 + 16);
	assert_int_equal(get_be64(keys + 8), KEY_A);
	assert_int_equal(get_be64(keys + 16), KEY_B);
	free(keys);
	/* Enforced there: C is not registered, so Write Exclusive stops it. */
	assert_int_equal(write10(&t->two, t->two.c, 0), SAM_STAT_RESERVATION_CONFLICT);
	assert_int_equal(write10(&t->two, t->two.a, 0), SAM_STAT_GOOD);
	/* The SPC-2 reservation of LU 1 is held by node one's nexus C id: every
	 * nexus of node two is another I_T nexus. */
	assert_int_equal(reserve6(&t->two, t->two.a, 1), SAM_STAT_RESERVATION_CONFLICT);
	assert_true(target_find_lu(t->two.h.target, 0)->mode.d_sense);

	/* Deterministic: the restored node's own snapshot is the same text. */
	again = take(&t->two, &len_again);
	assert_int_equal(len, len_again);
	assert_memory_equal(snap, again, len);
	free(again);
	free(snap);
}

/* APTPL state that arrives by transfer is persisted like any other. */
static void test_restored_aptpl_is_saved(void **state)
{
	struct ctx *t = *state;
	char err[512] = "", *snap, pr_dir[300];
	size_t len;

	make_state(&t->one);
	snap = take(&t->one, &len);
	assert_int_equal(state_snapshot_load(&t->two.h.gw, snap, len, err, sizeof(err)), 0);
	free(snap);
	snprintf(pr_dir, sizeof(pr_dir), "%s/pr", t->two.h.dir);
	assert_int_equal(access(pr_dir, F_OK), 0);
}

static void expect_refused(struct ctx *t, const char *text, size_t len, const char *why)
{
	char err[512] = "";
	uint32_t keys_len;
	uint8_t *keys;

	assert_int_equal(state_snapshot_load(&t->two.h.gw, text, len, err, sizeof(err)), -EINVAL);
	if (!strstr(err, why))
		fail_msg("error \"%s\" does not say \"%s\"", err, why);
	/* Nothing changed on node two: still no registration. */
	keys = prin(&t->two, t->two.a, READ_KEYS, &keys_len);
	assert_int_equal(keys_len, 8);
	free(keys);
}

/* Replace the first occurrence of from in text by to (same length). */
static char *patched(const char *text, size_t len, const char *from, const char *to)
{
	char *copy = malloc(len + 1);
	char *at;

	assert_non_null(copy);
	memcpy(copy, text, len);
	copy[len] = '\0';
	at = strstr(copy, from);
	assert_non_null(at);
	assert_int_equal(strlen(from), strlen(to));
	memcpy(at, to, strlen(to));
	return copy;
}

static void test_bad_snapshots_refused(void **state)
{
	struct ctx *t = *state;
	char err[512] = "", *snap, *bad;
	size_t len;

	make_state(&t->one);
	snap = take(&t->one, &len);

	expect_refused(t, snap, 0, "not a state snapshot");
	expect_refused(t, snap, len / 2, "ends too early");
	expect_refused(t, snap, len - 1, "ends too early");
	expect_refused(t, "[1,2,3]", 7, "not a state snapshot");

	bad = patched(snap, len, "\"sangw-state\"", "\"sangw-stat3\"");
	expect_refused(t, bad, len, "not a state snapshot");
	free(bad);
	bad = patched(snap, len, "\"version\":1", "\"version\":9");
	expect_refused(t, bad, len, "unsupported state snapshot version 9");
	free(bad);
	bad = patched(snap, len, "\"key\":\"0xaaaa", "\"key\":\"0xzzzz");
	expect_refused(t, bad, len, "lus[0].pr: malformed");
	free(bad);
	bad = patched(snap, len, "\"holder\":0", "\"holder\":7");
	expect_refused(t, bad, len, "lus[0].pr: malformed");
	free(bad);
	bad = patched(snap, len, "\"spc2_nexus_id\":\"0x", "\"spc2_nexus_id\":\"zz");
	expect_refused(t, bad, len, "lus[1].pr: malformed SPC-2");
	free(bad);
	bad = patched(snap, len, "\"lun\":1,", "\"lun\":x,");
	expect_refused(t, bad, len, "JSON syntax error");
	free(bad);
	bad = patched(snap, len, "\"wce\":", "\"wcx\":");
	expect_refused(t, bad, len, "bad \"mode\"");
	free(bad);

	/* After all that, the good one still loads. */
	assert_int_equal(state_snapshot_load(&t->two.h.gw, snap, len, err, sizeof(err)), 0);
	expect_same_prin(t, READ_KEYS);
	free(snap);
}

/* The snapshot carries no other node's listening addresses. */
static void test_no_portals(void **state)
{
	struct ctx *t = *state;
	char *snap;
	size_t len;

	snap = take(&t->one, &len);
	assert_null(memmem(snap, len, "\"portals\"", 9));
	free(snap);
}

/* A node leaves: the SPC-2 reservation held through it ends on the
 * survivors; persistent registrations and the reservation stay (SPC-4
 * 5.13.1: they survive the loss of the I_T nexus). */
static void test_node_departure(void **state)
{
	struct ctx *t = *state;
	struct node *n = &t->one;
	const uint32_t members[] = { 1, 2 }, gone[] = { 3 }, other[] = { 4 };
	uint32_t keys_len;
	uint8_t *keys;

	assert_int_equal(prout(n, n->a, REGISTER, 0, 0, KEY_A, 0), SAM_STAT_GOOD);
	assert_int_equal(prout(n, n->a, RESERVE, WRITE_EXCLUSIVE, KEY_A, 0, 0), SAM_STAT_GOOD);
	/* C logged in through node 3 (nexus id: node << 40 | seq). */
	n->c->id = (3ULL << 40) | 7;
	assert_int_equal(reserve6(n, n->c, 1), SAM_STAT_GOOD);
	assert_int_equal(reserve6(n, n->b, 1), SAM_STAT_RESERVATION_CONFLICT);

	/* Another node leaving changes nothing. */
	shared_state_membership_changed(&n->h.gw, members, 2, other, 1);
	clear_uas(n, n->b);   /* ALUA: the port groups changed */
	assert_int_equal(reserve6(n, n->b, 1), SAM_STAT_RESERVATION_CONFLICT);

	shared_state_membership_changed(&n->h.gw, members, 2, gone, 1);
	clear_uas(n, n->b);
	assert_int_equal(reserve6(n, n->b, 1), SAM_STAT_GOOD);
	keys = prin(n, n->b, READ_KEYS, &keys_len);
	assert_int_equal(keys_len, 16);
	assert_int_equal(get_be64(keys + 8), KEY_A);
	free(keys);
	assert_int_equal(write10(n, n->b, 0), SAM_STAT_RESERVATION_CONFLICT);
}

/* The state version is recorded with the persistent state, and only when
 * that changes (an APTPL file written or removed; there is no --config
 * here): a PR OUT that persists nothing writes no file. The next start
 * reads it back (the newest-wins election after a whole-cluster restart).
 * A malformed file still counts as saved state, of unknown (oldest)
 * version. */
static void test_saved_version(void **state)
{
	struct ctx *t = *state;
	struct node *n = &t->one;
	struct gateway *gw = &n->h.gw;
	uint64_t version = 99, aptpl_version;
	char path[400];
	FILE *f;

	assert_false(state_snapshot_saved_state(gw, &version));
	assert_int_equal(version, 0);

	/* Without APTPL nothing is persistent: no version file either. */
	assert_int_equal(prout(n, n->a, REGISTER, 0, 0, KEY_A, 0), SAM_STAT_GOOD);
	assert_true(gw->cluster->state_version > 0);
	assert_false(state_snapshot_aptpl_saved(gw));
	assert_false(state_snapshot_saved_state(gw, &version));

	/* APTPL: the APTPL file and the version it corresponds to. */
	assert_int_equal(prout(n, n->b, REGISTER, 0, 0, KEY_B, APTPL), SAM_STAT_GOOD);
	assert_true(state_snapshot_aptpl_saved(gw));
	assert_true(state_snapshot_saved_state(gw, &version));
	assert_int_equal(version, gw->cluster->state_version);
	aptpl_version = version;

	/* A refused PR OUT changes nothing persistent: no new version. */
	assert_int_equal(prout(n, n->c, RESERVE, WRITE_EXCLUSIVE, KEY_A, 0, 0),
			 SAM_STAT_RESERVATION_CONFLICT);
	assert_true(state_snapshot_saved_state(gw, &version));
	assert_int_equal(version, aptpl_version);
	assert_true(version < gw->cluster->state_version);

	/* APTPL cleared (SPC-4 5.13.5: a REGISTER with APTPL 0): the file goes,
	 * and that change is recorded too, so this node's "nothing saved"
	 * outranks an older APTPL state elsewhere. After that, changes that
	 * persist nothing leave the version file alone. */
	assert_int_equal(prout(n, n->a, REGISTER, 0, KEY_A, KEY_A, 0), SAM_STAT_GOOD);
	assert_false(state_snapshot_aptpl_saved(gw));
	assert_true(state_snapshot_saved_state(gw, &version));
	assert_int_equal(version, gw->cluster->state_version);
	aptpl_version = version;
	assert_int_equal(prout(n, n->a, RESERVE, WRITE_EXCLUSIVE, KEY_A, 0, 0), SAM_STAT_GOOD);
	assert_true(state_snapshot_saved_state(gw, &version));
	assert_int_equal(version, aptpl_version);
	assert_true(version < gw->cluster->state_version);

	snprintf(path, sizeof(path), "%s/state-version.json", n->h.dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"format\":\"sangw-state-version\",\"state_version\":\"x\"}", f);
	fclose(f);
	assert_true(state_snapshot_saved_state(gw, &version));
	assert_int_equal(version, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restored_aptpl_is_saved, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_snapshots_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_portals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_departure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_saved_version, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
