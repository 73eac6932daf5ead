/* Fencing's shared table (gateway/fencing.c): a departed node that had
 * published Ceph clients is being fenced (its group Unavailable, not
 * taken over as a member), becomes fenced only by SOP_FENCE_DONE, and is
 * admitted again only when it publishes clients none of which was refused;
 * a silent member is fenced only through SOP_FENCE_BEGIN; nodes without
 * clients are never fenced; the table survives the state transfer and a
 * malformed one is refused without a change. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/fencing.h"
#include "../../gateway/scsi/alua.h"
#include "../../gateway/shared_state.h"
#include "../../gateway/util.h"
#include "core_harness.h"

struct fixture {
	struct harness h;
	struct lu *lu;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	harness_init(&f->h);
	f->h.gw.node_id = 1;
	f->lu = harness_add_lu(&f->h, 0, "null,size=16M");
	assert_non_null(f->lu);
	/* Off: the same shared table, and no request ever reaches Ceph. */
	assert_int_equal(fencing_init(&f->h.gw, false), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	fencing_free(&f->h.gw);
	harness_fini(&f->h);
	free(f);
	return 0;
}

static int apply(struct fixture *f, uint32_t origin, uint16_t type, uint32_t node,
		 const char *identity)
{
	struct sop_fence op;

	memset(&op, 0, sizeof(op));
	op.node = node;
	str_copy(op.identity, identity, sizeof(op.identity));
	return fencing_apply(&f->h.gw, origin, type, &op, sizeof(op));
}

static void members(struct fixture *f, const uint32_t *m, size_t n, const uint32_t *left,
		    size_t n_left)
{
	fencing_membership_changed(&f->h.gw, m, n, left, n_left);
}

static uint8_t group_state(const struct lu *lu, uint16_t id)
{
	for (unsigned i = 0; i < lu->alua.n_groups; i++)
		if (lu->alua.groups[i].id == id)
			return lu->alua.groups[i].state;
	return 0xff;
}

/* The state gwcli fencing shows for a node ("" when not listed). */
static const char *shown_state(struct fixture *f, uint32_t node)
{
	static char state[32];
	json_object *o = fencing_json(&f->h.gw), *nodes, *v;

	state[0] = '\0';
	assert_true(json_object_object_get_ex(o, "nodes", &nodes));
	for (size_t i = 0; i < json_object_array_length(nodes); i++) {
		json_object *n = json_object_array_get_idx(nodes, i);

		json_object_object_get_ex(n, "node", &v);
		if ((uint32_t)json_object_get_int64(v) != node)
			continue;
		json_object_object_get_ex(n, "state", &v);
		str_copy(state, json_object_get_string(v), sizeof(state));
	}
	json_object_put(o);
	return state;
}

static const uint32_t all3[] = { 1, 2, 3 };
static const uint32_t n13[] = { 1, 3 };
static const uint32_t two[] = { 2 };

static void test_departed_node_fenced_then_back(void **state)
{
	struct fixture *f = *state;

	members(f, all3, 3, NULL, 0);
	assert_int_equal(apply(f, 2, SOP_FENCE_IDENTITY, 0, "192.0.2.2:0/11 192.0.2.2:0/12"), 0);
	assert_string_equal(shown_state(f, 2), "none");
	assert_int_equal(group_state(f->lu, 2), ALUA_ACTIVE_OPTIMIZED);

	members(f, n13, 2, two, 1);
	assert_string_equal(shown_state(f, 2), "being-fenced");
	assert_int_equal(group_state(f->lu, 2), ALUA_UNAVAILABLE);
	/* Node 2 comes back before the blocklist is confirmed: still not
	 * served through (it may have writes queued). */
	members(f, all3, 3, NULL, 0);
	assert_int_equal(group_state(f->lu, 2), ALUA_UNAVAILABLE);

	assert_int_equal(apply(f, 1, SOP_FENCE_DONE, 2, "192.0.2.2:0/11 192.0.2.2:0/12"), 0);
	assert_string_equal(shown_state(f, 2), "fenced");
	/* A second DONE (another fencer) changes nothing. */
	assert_int_equal(apply(f, 3, SOP_FENCE_DONE, 2, "x"), 0);
	assert_string_equal(shown_state(f, 2), "fenced");

	/* Publishing a refused client again does not admit it... */
	assert_int_equal(apply(f, 2, SOP_FENCE_IDENTITY, 0, "192.0.2.2:0/99 192.0.2.2:0/12"), 0);
	assert_string_equal(shown_state(f, 2), "fenced");
	assert_int_equal(group_state(f->lu, 2), ALUA_UNAVAILABLE);
	/* ... new clients only do. */
	assert_int_equal(apply(f, 2, SOP_FENCE_IDENTITY, 0, "192.0.2.2:0/99"), 0);
	assert_string_equal(shown_state(f, 2), "none");
	assert_int_equal(group_state(f->lu, 2), ALUA_ACTIVE_OPTIMIZED);
}

static void test_node_without_clients_not_fenced(void **state)
{
	struct fixture *f = *state;

	members(f, all3, 3, NULL, 0);
	members(f, n13, 2, two, 1);
	assert_string_equal(shown_state(f, 2), "");
	assert_int_equal(group_state(f->lu, 2), ALUA_UNAVAILABLE);   /* plain departure */
	members(f, all3, 3, NULL, 0);
	assert_int_equal(group_state(f->lu, 2), ALUA_ACTIVE_OPTIMIZED);
	/* A silent member without clients: BEGIN changes nothing. */
	assert_int_equal(apply(f, 1, SOP_FENCE_BEGIN, 2, ""), 0);
	assert_string_equal(shown_state(f, 2), "");
}

static void test_silent_member(void **state)
{
	struct fixture *f = *state;

	members(f, all3, 3, NULL, 0);
	assert_int_equal(apply(f, 3, SOP_FENCE_IDENTITY, 0, "192.0.2.3:0/7"), 0);
	/* DONE before BEGIN (not being fenced): ignored. */
	assert_int_equal(apply(f, 1, SOP_FENCE_DONE, 3, "192.0.2.3:0/7"), 0);
	assert_string_equal(shown_state(f, 3), "none");
	assert_int_equal(apply(f, 1, SOP_FENCE_BEGIN, 3, ""), 0);
	assert_string_equal(shown_state(f, 3), "being-fenced");
	assert_int_equal(group_state(f->lu, 3), ALUA_UNAVAILABLE);
	assert_int_equal(apply(f, 1, SOP_FENCE_DONE, 3, "192.0.2.3:0/7"), 0);
	assert_string_equal(shown_state(f, 3), "fenced");
}

static void test_snapshot_roundtrip_and_malformed(void **state)
{
	struct fixture *f = *state;
	json_object *snap = json_object_new_object(), *bad, *o, *nodes;

	members(f, all3, 3, NULL, 0);
	assert_int_equal(apply(f, 2, SOP_FENCE_IDENTITY, 0, "192.0.2.2:0/5"), 0);
	members(f, n13, 2, two, 1);
	assert_int_equal(fencing_snapshot(&f->h.gw, snap), 0);

	/* A malformed table (a state out of range) is refused, nothing changes. */
	bad = json_tokener_parse(json_object_to_json_string(snap));
	assert_true(json_object_object_get_ex(bad, "fencing", &o));
	assert_true(json_object_object_get_ex(o, "nodes", &nodes));
	json_object_object_add(json_object_array_get_idx(nodes, 0), "state", json_object_new_int(7));
	assert_int_equal(fencing_restore(&f->h.gw, bad), -EINVAL);
	assert_string_equal(shown_state(f, 2), "being-fenced");
	json_object_put(bad);

	/* The table moves on; restoring the snapshot brings the old one back. */
	assert_int_equal(apply(f, 1, SOP_FENCE_DONE, 2, "192.0.2.2:0/5"), 0);
	assert_string_equal(shown_state(f, 2), "fenced");
	assert_int_equal(fencing_restore(&f->h.gw, snap), 0);
	assert_string_equal(shown_state(f, 2), "being-fenced");
	json_object_put(snap);
}

static void test_bad_payload(void **state)
{
	struct fixture *f = *state;
	char small[8] = { 0 };

	assert_int_equal(fencing_apply(&f->h.gw, 1, SOP_FENCE_DONE, small, sizeof(small)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_departed_node_fenced_then_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_without_clients_not_fenced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_silent_member, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_roundtrip_and_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_payload, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
