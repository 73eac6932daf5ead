/* Unit tests of the state store's pure logic (gateway/state_store.c): the
 * stored document (made from a gateway, parsed back, malformed ones
 * refused), which of the local and the stored state wins at start-up, and
 * the --state-store option (rbd/rados_state.c: rados:POOL,... and the
 * version text whose string order must be numeric order, because the OSD
 * compares it as a string). The writes against a real Ceph cluster are
 * tests/cluster/rados-state.sh's. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "../../gateway/state_store.h"
#include "../../gateway/util.h"
#ifdef HAVE_RBD
#include "../../rbd/rados_state.h"
#endif
#include "core_harness.h"

static void test_remote_wins(void **state)
{
	(void)state;
	/* A wiped state dir takes whatever is stored. */
	assert_true(state_store_remote_wins(false, 0, 0));
	assert_true(state_store_remote_wins(false, 0, 7));
	/* Saved state here: only a newer stored version replaces it. */
	assert_true(state_store_remote_wins(true, 6, 7));
	assert_false(state_store_remote_wins(true, 7, 7));
	assert_false(state_store_remote_wins(true, 8, 7));
	/* A config file with no version (0) is older than anything stored. */
	assert_true(state_store_remote_wins(true, 0, 1));
}

static void test_aptpl_names(void **state)
{
	(void)state;
	assert_true(stored_state_aptpl_name_ok("0123456789abcdef-0.json"));
	assert_true(stored_state_aptpl_name_ok("0123456789abcdef-255.json"));
	assert_false(stored_state_aptpl_name_ok("../pr.json"));
	assert_false(stored_state_aptpl_name_ok("a/b.json"));
	assert_false(stored_state_aptpl_name_ok(".json"));
	assert_false(stored_state_aptpl_name_ok(".hidden.json"));
	assert_false(stored_state_aptpl_name_ok("x.json.tmp"));
	assert_false(stored_state_aptpl_name_ok("x.txt"));
	assert_false(stored_state_aptpl_name_ok(""));
}

static int parse_text(const char *text)
{
	struct stored_state s;
	char err[256] = "";
	int r = stored_state_parse(text, strlen(text), &s, err, sizeof(err));

	if (r == 0)
		stored_state_free(&s);
	else
		assert_true(err[0] != '\0');    /* a refusal always says why */
	return r;
}

static void test_parse(void **state)
{
	struct stored_state s;
	const char *good = "{\"format\":\"sangw-stored-state\",\"version\":1,\"state_version\":12,"
			   "\"config\":{\"targets\":[]},\"aptpl\":{\"00aa-0.json\":{\"format\":\"sangw-pr\"}}}";
	char err[256];

	(void)state;
	assert_int_equal(stored_state_parse(good, strlen(good), &s, err, sizeof(err)), 0);
	assert_int_equal(s.state_version, 12);
	assert_non_null(s.config);
	assert_int_equal(json_object_object_length(s.aptpl), 1);
	stored_state_free(&s);

	/* No configuration stored (a gateway without --config). */
	assert_int_equal(parse_text("{\"format\":\"sangw-stored-state\",\"version\":1,"
				    "\"state_version\":3,\"aptpl\":{}}"), 0);

	assert_int_equal(parse_text(""), -EINVAL);
	assert_int_equal(parse_text("{\"format\":\"sangw-stored-state\""), -EINVAL);
	assert_int_equal(parse_text("[]"), -EINVAL);
	assert_int_equal(parse_text("{\"format\":\"sangw-state\",\"version\":1,\"state_version\":3,"
				    "\"aptpl\":{}}"), -EINVAL);
	assert_int_equal(parse_text("{\"format\":\"sangw-stored-state\",\"version\":2,"
				    "\"state_version\":3,\"aptpl\":{}}"), -EINVAL);
	assert_int_equal(parse_text("{\"format\":\"sangw-stored-state\",\"version\":1,"
				    "\"aptpl\":{}}"), -EINVAL);
	assert_int_equal(parse_text("{\"format\":\"sangw-stored-state\",\"version\":1,"
				    "\"state_version\":-1,\"aptpl\":{}}"), -EINVAL);
	assert_int_equal(parse_text("{\"format\":\"sangw-stored-state\",\"version\":1,"
				    "\"state_version\":\"3\",\"aptpl\":{}}"), -EINVAL);
	assert_int_equal(parse_text("{\"format\":\"sangw-stored-state\",\"version\":1,"
				    "\"state_version\":3,\"config\":[],\"aptpl\":{}}"), -EINVAL);
	assert_int_equal(parse_text("{\"format\":\"sangw-stored-state\",\"version\":1,"
				    "\"state_version\":3}"), -EINVAL);
	/* A file name that would leave STATE_DIR/pr. */
	assert_int_equal(parse_text("{\"format\":\"sangw-stored-state\",\"version\":1,"
				    "\"state_version\":3,\"aptpl\":{\"../../etc/x.json\":{}}}"), -EINVAL);
	assert_int_equal(parse_text("{\"format\":\"sangw-stored-state\",\"version\":1,"
				    "\"state_version\":3,\"aptpl\":{\"a-0.json\":1}}"), -EINVAL);
}

/* The document of a gateway: its configuration without portals, its APTPL
 * files by name, the version given; and it parses back. */
static void test_document_round_trip(void **state)
{
	struct harness h;
	struct stored_state s;
	struct json_object *targets, *v;
	char path[512], err[256], *text;
	size_t len;
	struct portal *p;
	FILE *f;

	(void)state;
	harness_init(&h);
	assert_non_null(harness_add_lu(&h, 0, "null,size=16M"));
	snprintf(h.gw.config_path, sizeof(h.gw.config_path), "%s/sangwd.json", h.dir);
	p = calloc(1, sizeof(*p));
	str_copy(p->addr, "203.0.113.7", sizeof(p->addr));
	p->port = 3260;
	TAILQ_INSERT_TAIL(&h.gw.portals, p, link);
	snprintf(path, sizeof(path), "%s/pr", h.dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/pr/00000000000000aa-0.json", h.dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"format\":\"sangw-pr\",\"version\":1,\"generation\":4}", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/pr/junk.json.tmp", h.dir);   /* not an APTPL file */
	f = fopen(path, "w");
	fputs("{}", f);
	fclose(f);

	text = state_store_document(&h.gw, 42, &len);
	assert_non_null(text);
	assert_int_equal(stored_state_parse(text, len, &s, err, sizeof(err)), 0);
	assert_int_equal(s.state_version, 42);
	assert_non_null(s.config);
	assert_false(json_object_object_get_ex(s.config, "portals", NULL));
	assert_true(json_object_object_get_ex(s.config, "targets", &targets));
	assert_int_equal(json_object_array_length(targets), 1);
	assert_true(json_object_object_get_ex(json_object_array_get_idx(targets, 0), "iqn", &v));
	assert_string_equal(json_object_get_string(v), "iqn.2026-11.org.sangw:harness");
	assert_int_equal(json_object_object_length(s.aptpl), 1);
	assert_true(json_object_object_get_ex(s.aptpl, "00000000000000aa-0.json", &v));
	assert_true(json_object_object_get_ex(v, "generation", &v));
	assert_int_equal(json_object_get_int(v), 4);
	stored_state_free(&s);
	free(text);

	/* Without --config only the APTPL state is stored. */
	h.gw.config_path[0] = '\0';
	text = state_store_document(&h.gw, 43, &len);
	assert_int_equal(stored_state_parse(text, len, &s, err, sizeof(err)), 0);
	assert_null(s.config);
	stored_state_free(&s);
	free(text);
	TAILQ_REMOVE(&h.gw.portals, p, link);
	free(p);
	harness_fini(&h);
}

static void test_option_refusals(void **state)
{
	char err[512];

	(void)state;
	assert_int_equal(state_store_configure("nosuch:x", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown state store"));
#ifdef HAVE_RBD
	assert_int_equal(state_store_configure("rados", err, sizeof(err)), -EINVAL);
	assert_int_equal(state_store_configure("rados:", err, sizeof(err)), -EINVAL);
	assert_int_equal(state_store_configure("rados:rbd,bogus=1", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "bogus"));
#endif
	/* Nothing refused is in use afterwards. */
	assert_false(state_store_enabled());
}

#ifdef HAVE_RBD
static void test_rados_spec(void **state)
{
	struct rados_state_spec spec;
	char err[512];

	(void)state;
	assert_int_equal(rados_state_spec_parse("rbd", &spec, err, sizeof(err)), 0);
	assert_string_equal(spec.pool, "rbd");
	assert_string_equal(spec.object, RADOS_STATE_OBJECT_DEFAULT);
	assert_string_equal(spec.key.conf, "");
	assert_string_equal(spec.key.id, "");
	assert_int_equal(spec.key.timeout_s, RADOS_STATE_TIMEOUT_DEFAULT_S);

	assert_int_equal(rados_state_spec_parse("gw-state,conf=/etc/ceph/x.conf,id=sangw,"
						"object=site-a.state,timeout=5", &spec, err,
						sizeof(err)), 0);
	assert_string_equal(spec.pool, "gw-state");
	assert_string_equal(spec.key.conf, "/etc/ceph/x.conf");
	assert_string_equal(spec.key.id, "sangw");
	assert_string_equal(spec.object, "site-a.state");
	assert_int_equal(spec.key.timeout_s, 5);

	assert_int_equal(rados_state_spec_parse("", &spec, err, sizeof(err)), -EINVAL);
	assert_int_equal(rados_state_spec_parse(",conf=/x", &spec, err, sizeof(err)), -EINVAL);
	assert_int_equal(rados_state_spec_parse("rbd/img", &spec, err, sizeof(err)), -EINVAL);
	assert_int_equal(rados_state_spec_parse("rbd,conf=rel/x.conf", &spec, err, sizeof(err)), -EINVAL);
	assert_int_equal(rados_state_spec_parse("rbd,id=", &spec, err, sizeof(err)), -EINVAL);
	assert_int_equal(rados_state_spec_parse("rbd,object=a/b", &spec, err, sizeof(err)), -EINVAL);
	assert_int_equal(rados_state_spec_parse("rbd,object=", &spec, err, sizeof(err)), -EINVAL);
	assert_int_equal(rados_state_spec_parse("rbd,timeout=0", &spec, err, sizeof(err)), -EINVAL);
	assert_int_equal(rados_state_spec_parse("rbd,timeout=x", &spec, err, sizeof(err)), -EINVAL);
	assert_int_equal(rados_state_spec_parse("rbd,timeout", &spec, err, sizeof(err)), -EINVAL);
	assert_int_equal(rados_state_spec_parse("rbd,size=1", &spec, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "size"));
}

/* The OSD compares the "version" xattr as a string (librados' C
 * cmpxattr): string order must be numeric order. */
static void test_version_text_order(void **state)
{
	static const uint64_t v[] = { 0, 1, 9, 10, 99, 100, 4294967296ULL, UINT64_MAX };
	char a[32], b[32];

	(void)state;
	for (size_t i = 0; i + 1 < sizeof(v) / sizeof(v[0]); i++) {
		rados_state_version_text(v[i], a, sizeof(a));
		rados_state_version_text(v[i + 1], b, sizeof(b));
		assert_int_equal(strlen(a), RADOS_STATE_VERSION_DIGITS);
		assert_int_equal(strlen(b), RADOS_STATE_VERSION_DIGITS);
		assert_true(strcmp(a, b) < 0);
	}
	rados_state_version_text(12, a, sizeof(a));
	assert_string_equal(a, "00000000000000000012");
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_remote_wins),
		cmocka_unit_test(test_aptpl_names),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_document_round_trip),
		cmocka_unit_test(test_option_refusals),
#ifdef HAVE_RBD
		cmocka_unit_test(test_rados_spec),
		cmocka_unit_test(test_version_text_order),
#endif
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
