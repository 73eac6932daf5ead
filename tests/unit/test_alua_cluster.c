/* ALUA across cluster membership changes (gateway/scsi/alua.c): tables of
 * join/leave sequences under each policy with the port group states and
 * unit attentions every node must derive, the same result on two nodes
 * that started alone, the node id range, RTPG out of quorum, and the
 * state transfer accessors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/node_role.h"
#include "../../gateway/scsi/alua.h"
#include "../../gateway/scsi/sense.h"
#include "../../gateway/util.h"
#include "core_harness.h"

#define AO ALUA_ACTIVE_OPTIMIZED
#define AN ALUA_ACTIVE_NON_OPTIMIZED
#define SB ALUA_STANDBY
#define UN ALUA_UNAVAILABLE
#define NONE 0xff                      /* the group is not listed */

struct fixture {
	struct harness h;
	struct lu *lu;
	struct it_nexus *nx;
};

static uint8_t tur(struct fixture *f, struct harness_result *r)
{
	uint8_t cdb[6] = { 0x00 };

	harness_result_free(r);
	return harness_run(&f->h, f->nx, 0, cdb, 6, SCSI_DIR_NONE, NULL, 0, 0, r);
}

/* Whether the nexus has ASYMMETRIC ACCESS STATE CHANGED pending; clears
 * every pending UA. (TEST UNIT READY itself may then be refused: the
 * nexus' port group may be Unavailable in the step.) */
static bool take_alua_ua(struct fixture *f)
{
	struct harness_result r = { 0 };
	bool seen = false;

	for (int i = 0; i < 8; i++) {
		if (tur(f, &r) != SAM_STAT_CHECK_CONDITION || r.sense_key != SK_UNIT_ATTENTION)
			break;
		seen |= r.asc_ascq == ASC_ASYMMETRIC_ACCESS_STATE_CHANGED;
	}
	assert_true(r.status == SAM_STAT_GOOD || r.sense_key == SK_NOT_READY);
	harness_result_free(&r);
	return seen;
}

static void fixture_init(struct fixture *f, uint32_t node_id)
{
	harness_init(&f->h);
	f->h.gw.node_id = node_id;
	f->lu = harness_add_lu(&f->h, 0, "null,size=16M");
	assert_non_null(f->lu);
	f->nx = harness_nexus(&f->h, "iqn.2026-11.test:alua-cluster", 1);
	take_alua_ua(f);        /* the power-on UA */
}

static void fixture_fini(struct fixture *f)
{
	harness_nexus_free(&f->h, f->nx);
	harness_fini(&f->h);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	fixture_init(f, 1);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	fixture_fini(f);
	free(f);
	return 0;
}

static const struct lu_alua_group *group(const struct lu *lu, uint16_t id)
{
	for (unsigned i = 0; i < lu->alua.n_groups; i++)
		if (lu->alua.groups[i].id == id)
			return &lu->alua.groups[i];
	return NULL;
}

static bool same_groups(const struct lu_alua *a, const struct lu_alua *b)
{
	if (a->n_groups != b->n_groups)
		return false;
	for (unsigned i = 0; i < a->n_groups; i++)
		if (a->groups[i].id != b->groups[i].id || a->groups[i].state != b->groups[i].state ||
		    a->groups[i].status != b->groups[i].status ||
		    a->groups[i].preferred != b->groups[i].preferred ||
		    a->groups[i].rel_port_id != b->groups[i].rel_port_id)
			return false;
	return true;
}

/* One step of a table: the members now, then the state of groups 1-4
 * (NONE: not listed) and whether the nexus gets the UA. */
struct step {
	uint32_t members[4];
	unsigned n;
	uint8_t state[4];
	bool ua;
};

static void run_steps(struct fixture *f, const struct lu_alua_policy *policy,
		      const struct step *steps, size_t n_steps)
{
	alua_lu_set_policy(f->lu, policy);
	take_alua_ua(f);
	for (size_t i = 0; i < n_steps; i++) {
		const struct step *s = &steps[i];
		unsigned listed = 0;

		alua_set_members(&f->h.gw, s->members, s->n);
		for (uint16_t id = 1; id <= 4; id++) {
			const struct lu_alua_group *g = group(f->lu, id);

			if (s->state[id - 1] == NONE) {
				if (g)
					fail_msg("step %zu: group %u listed", i, id);
				continue;
			}
			listed++;
			if (!g)
				fail_msg("step %zu: group %u missing", i, id);
			if (g->state != s->state[id - 1])
				fail_msg("step %zu: group %u is %s, expected %s", i, id,
					 alua_state_name(g->state), alua_state_name(s->state[id - 1]));
			assert_int_equal(g->rel_port_id, id);
			assert_int_equal(g->preferred, policy->kind == ALUA_POLICY_PREFERRED &&
							   policy->preferred_node == id);
		}
		assert_int_equal(f->lu->alua.n_groups, listed);
		/* Ascending by id, as RTPG lists them. */
		for (unsigned k = 1; k < f->lu->alua.n_groups; k++)
			assert_true(f->lu->alua.groups[k - 1].id < f->lu->alua.groups[k].id);
		if (take_alua_ua(f) != s->ua)
			fail_msg("step %zu: UA %s", i, s->ua ? "missing" : "not expected");
	}
}

/* Preferred node 1, the others standby: failover to the lowest survivor,
 * departed groups Unavailable, failback when node 1 returns. */
static void test_preferred_standby_table(void **state)
{
	struct fixture *f = *state;
	const struct lu_alua_policy policy = {
		.kind = ALUA_POLICY_PREFERRED, .others = SB, .preferred_node = 1,
	};
	const struct step steps[] = {
		{ { 1, 2, 3 }, 3, { AO, SB, SB, NONE }, true },    /* all three up */
		{ { 1, 2, 3 }, 3, { AO, SB, SB, NONE }, false },   /* nothing changed */
		{ { 2, 3 }, 2, { UN, AO, SB, NONE }, true },       /* node 1 dies: node 2 takes over */
		{ { 3 }, 1, { UN, UN, AO, NONE }, true },          /* node 2 too: node 3 */
		{ { 2, 3 }, 2, { UN, SB, AO, NONE }, true },       /* node 2 back: standby, 3 keeps it */
		{ { 1, 2, 3 }, 3, { AO, SB, SB, NONE }, true },    /* node 1 back: failback */
		{ { 1, 3 }, 2, { AO, UN, SB, NONE }, true },       /* a standby node leaves */
		{ { 1, 3, 4 }, 3, { AO, UN, SB, SB }, true },      /* a new node joins */
		{ { 1, 2, 3, 4 }, 4, { AO, SB, SB, SB }, true },
	};

	run_steps(f, &policy, steps, ARRAY_SIZE(steps));
}

/* Preferred node 2, the others Active/Non-optimized; node 2 absent at
 * first: the lowest member holds the role until node 2 comes. */
static void test_preferred_non_optimized_table(void **state)
{
	struct fixture *f = *state;
	const struct lu_alua_policy policy = {
		.kind = ALUA_POLICY_PREFERRED, .others = AN, .preferred_node = 2,
	};
	const struct step steps[] = {
		{ { 1, 3 }, 2, { AO, NONE, AN, NONE }, true },
		{ { 1, 2, 3 }, 3, { AN, AO, AN, NONE }, true },    /* failback to node 2 */
		{ { 1, 2 }, 2, { AN, AO, UN, NONE }, true },
		{ { 1 }, 1, { AO, UN, UN, NONE }, true },
		{ { 1, 3 }, 2, { AO, UN, AN, NONE }, true },
	};

	run_steps(f, &policy, steps, ARRAY_SIZE(steps));
}

/* Active/active: every member Active/Optimized, a departed one
 * Unavailable until it returns. */
static void test_all_optimized_table(void **state)
{
	struct fixture *f = *state;
	const struct lu_alua_policy policy = { .kind = ALUA_POLICY_ALL_OPTIMIZED };
	const struct step steps[] = {
		{ { 1, 2, 3 }, 3, { AO, AO, AO, NONE }, true },
		{ { 1, 3 }, 2, { AO, UN, AO, NONE }, true },
		{ { 1, 3 }, 2, { AO, UN, AO, NONE }, false },
		{ { 1, 2, 3 }, 3, { AO, AO, AO, NONE }, true },
	};

	run_steps(f, &policy, steps, ARRAY_SIZE(steps));
}

/* States SET TARGET PORT GROUPS gave the groups survive a membership
 * change that does not concern them; when the Active/Optimized holder
 * leaves, a survivor takes over as always. */
static void test_explicit_states_kept(void **state)
{
	struct fixture *f = *state;
	const struct lu_alua_policy policy = {
		.kind = ALUA_POLICY_PREFERRED, .others = SB, .preferred_node = 1,
	};
	uint32_t three[] = { 1, 2, 3 }, one_three[] = { 1, 3 }, three_only[] = { 3 };
	struct lu_alua *a = &f->lu->alua;

	alua_lu_set_policy(f->lu, &policy);
	alua_set_members(&f->h.gw, three, 3);
	/* As if STPG made node 3 the optimized one and node 1 standby. */
	a->groups[0].state = SB;
	a->groups[2].state = AO;
	alua_set_members(&f->h.gw, one_three, 2);
	assert_int_equal(group(f->lu, 1)->state, SB);
	assert_int_equal(group(f->lu, 2)->state, UN);
	assert_int_equal(group(f->lu, 3)->state, AO);
	/* Node 1 leaves (it held no optimized group): nothing to take over. */
	alua_set_members(&f->h.gw, three_only, 1);
	assert_int_equal(group(f->lu, 3)->state, AO);
	assert_int_equal(group(f->lu, 1)->state, UN);
}

/* Two nodes that started alone (each its own guess of the groups) derive
 * the same groups from their first common membership. */
static void test_same_result_on_every_node(void **state)
{
	const struct lu_alua_policy policy = {
		.kind = ALUA_POLICY_PREFERRED, .others = SB, .preferred_node = 1,
	};
	uint32_t members[] = { 3, 2 };
	struct lu_alua on_node2;
	struct fixture node;

	(void)state;
	fixture_init(&node, 2);
	alua_lu_set_policy(node.lu, &policy);
	assert_int_equal(group(node.lu, 2)->state, AO);    /* alone: its own guess */
	alua_set_members(&node.h.gw, members, 2);
	on_node2 = node.lu->alua;
	fixture_fini(&node);

	fixture_init(&node, 3);
	alua_lu_set_policy(node.lu, &policy);
	assert_int_equal(group(node.lu, 3)->state, AO);    /* alone: its own guess */
	alua_set_members(&node.h.gw, members, 2);
	assert_true(same_groups(&node.lu->alua, &on_node2));
	/* Preferred node 1 absent: the lowest member, 2, is optimized. */
	assert_int_equal(group(node.lu, 2)->state, AO);
	assert_int_equal(group(node.lu, 3)->state, SB);
	fixture_fini(&node);
}

static void test_node_id_range(void **state)
{
	char err[200];

	(void)state;
	assert_int_equal(alua_check_node_id(1, err, sizeof(err)), 0);
	assert_int_equal(alua_check_node_id(65535, err, sizeof(err)), 0);
	assert_int_equal(alua_check_node_id(0, err, sizeof(err)), -ERANGE);
	assert_int_equal(alua_check_node_id(65536, err, sizeof(err)), -ERANGE);
	assert_non_null(strstr(err, "65536"));
	assert_int_equal(alua_check_node_id(0x10002, err, sizeof(err)), -ERANGE);
}

/* A member whose id cannot be a port group gets none (never a truncated,
 * duplicate one). */
static void test_member_out_of_range_ignored(void **state)
{
	struct fixture *f = *state;
	uint32_t members[] = { 1, 0x10002, 2 };

	alua_set_members(&f->h.gw, members, 3);
	assert_int_equal(f->h.gw.n_members, 2);
	assert_int_equal(f->lu->alua.n_groups, 2);
	assert_non_null(group(f->lu, 1));
	assert_non_null(group(f->lu, 2));
}

/* Out of a quorate cluster, RTPG reports this node's group Transitioning
 * (SPC-4 5.16.2.6) and the others as they were. */
static void test_rtpg_not_ready(void **state)
{
	struct fixture *f = *state;
	struct harness_result r = { 0 };
	uint32_t members[] = { 1, 2 };
	uint8_t cdb[12] = { 0xa3, 0x0a };

	put_be32(cdb + 6, 256);
	alua_set_members(&f->h.gw, members, 2);
	take_alua_ua(f);
	f->h.gw.cluster_ready = false;
	assert_int_equal(harness_run(&f->h, f->nx, 0, cdb, 12, SCSI_DIR_IN, NULL, 0, 0, &r),
			 SAM_STAT_GOOD);
	assert_int_equal(get_be32(r.data), 2 * 12);
	assert_int_equal(r.data[4] & 0x0f, ALUA_TRANSITIONING);   /* group 1: this node */
	assert_int_equal(r.data[16] & 0x0f, AO);                  /* group 2 */
	f->h.gw.cluster_ready = true;
	harness_result_free(&r);
	assert_int_equal(harness_run(&f->h, f->nx, 0, cdb, 12, SCSI_DIR_IN, NULL, 0, 0, &r),
			 SAM_STAT_GOOD);
	assert_int_equal(r.data[4] & 0x0f, AO);
	harness_result_free(&r);
}

/* A departed member's group cannot be changed by SET TARGET PORT GROUPS. */
static void test_stpg_departed_group_refused(void **state)
{
	struct fixture *f = *state;
	struct harness_result r = { 0 };
	uint32_t three[] = { 1, 2, 3 }, two[] = { 1, 3 };
	uint8_t cdb[12] = { 0xa4, 0x0a };
	uint8_t list[8] = { 0, 0, 0, 0, AO, 0, 0, 2 };

	alua_set_members(&f->h.gw, three, 3);
	alua_set_members(&f->h.gw, two, 2);
	take_alua_ua(f);
	put_be32(cdb + 6, sizeof(list));
	harness_run(&f->h, f->nx, 0, cdb, 12, SCSI_DIR_OUT, list, sizeof(list), 0, &r);
	assert_int_equal(r.status, SAM_STAT_CHECK_CONDITION);
	assert_int_equal(r.sense_key, SK_ILLEGAL_REQUEST);
	assert_int_equal(r.asc_ascq, ASC_INVALID_FIELD_IN_PARAMETER_LIST);
	assert_int_equal(group(f->lu, 2)->state, UN);
	harness_result_free(&r);
}

/* Snapshot on one node, restore on another: same members and groups;
 * malformed snapshots change nothing. */
static void test_snapshot_restore(void **state)
{
	struct fixture *f = *state;
	const struct lu_alua_policy policy = {
		.kind = ALUA_POLICY_PREFERRED, .others = SB, .preferred_node = 1,
	};
	uint32_t three[] = { 1, 2, 3 }, two[] = { 2, 3 };
	json_object *top = json_object_new_object(), *lu_obj = json_object_new_object();
	struct lu_alua before;
	const char *bad[] = {
		"{\"alua_groups\":[{\"id\":0,\"state\":0,\"status\":0,\"preferred\":false}]}",
		"{\"alua_groups\":[{\"id\":1,\"state\":9,\"status\":0,\"preferred\":false}]}",
		"{\"alua_groups\":[{\"id\":2,\"state\":0,\"status\":0,\"preferred\":false},"
		"{\"id\":1,\"state\":0,\"status\":0,\"preferred\":false}]}",
		"{\"alua_groups\":[{\"id\":1,\"state\":0,\"status\":3,\"preferred\":false}]}",
		"{\"alua_groups\":[{\"id\":1,\"state\":0,\"status\":0}]}",
		"{\"alua_groups\":{}}",
	};
	struct fixture g;
	unsigned members_before;

	alua_lu_set_policy(f->lu, &policy);
	alua_set_members(&f->h.gw, three, 3);
	alua_set_members(&f->h.gw, two, 2);       /* 1 Unavailable, 2 A/O */
	assert_int_equal(alua_snapshot_members(&f->h.gw, top), 0);
	assert_int_equal(alua_snapshot_lu(f->lu, lu_obj), 0);
	before = f->lu->alua;

	fixture_init(&g, 3);
	alua_lu_set_policy(g.lu, &policy);
	assert_int_equal(alua_restore_members(&g.h.gw, top), 0);
	assert_int_equal(g.h.gw.n_members, 2);
	assert_int_equal(g.h.gw.members[0], 2);
	assert_int_equal(alua_restore_lu(g.lu, lu_obj), 0);
	assert_true(same_groups(&g.lu->alua, &before));
	/* The restored node continues exactly as the others: node 1 returns. */
	alua_set_members(&g.h.gw, three, 3);
	assert_int_equal(group(g.lu, 1)->state, AO);
	assert_int_equal(group(g.lu, 2)->state, SB);

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		json_object *o = json_tokener_parse(bad[i]);
		struct lu_alua was = g.lu->alua;

		assert_non_null(o);
		assert_int_equal(alua_restore_lu(g.lu, o), -EINVAL);
		assert_true(same_groups(&was, &g.lu->alua));
		json_object_put(o);
	}
	members_before = g.h.gw.n_members;
	{
		json_object *o = json_tokener_parse("{\"alua_members\":[3,2]}");

		assert_int_equal(alua_restore_members(&g.h.gw, o), -EINVAL);
		assert_int_equal(g.h.gw.n_members, members_before);
		json_object_put(o);
	}
	fixture_fini(&g);
	/* the_gateway belonged to g; the fixture's own teardown needs it back. */
	the_gateway = &f->h.gw;
	json_object_put(top);
	json_object_put(lu_obj);
}

/* SOP_NODE_ROLE's payload, as node_role.c lays it out. */
static int role(struct fixture *f, uint32_t node, bool promoted)
{
	struct { uint32_t node; uint8_t promoted; uint8_t reserved[3]; } p = { node, promoted, { 0 } };

	return node_role_apply(&f->h.gw, &p, sizeof(p));
}

static void expect_groups(struct fixture *f, const uint8_t want[3], uint16_t pref, bool ua)
{
	for (uint16_t id = 1; id <= 3; id++) {
		const struct lu_alua_group *g = group(f->lu, id);

		assert_non_null(g);
		if (g->state != want[id - 1])
			fail_msg("group %u is %s, expected %s", id, alua_state_name(g->state),
				 alua_state_name(want[id - 1]));
		assert_int_equal(g->preferred, id == pref);
	}
	if (take_alua_ua(f) != ua)
		fail_msg("UA %s", ua ? "missing" : "not expected");
}

/* Pacemaker's promoted node (node_role.c) holds the preferred role of a
 * "preferred" LU; a demote gives it back to preferred_node; a promoted
 * node that leaves is promoted no more, also when it returns; the role
 * survives a state transfer. */
static void test_promoted_node(void **state)
{
	struct fixture *f = *state;
	const struct lu_alua_policy policy = {
		.kind = ALUA_POLICY_PREFERRED, .others = SB, .preferred_node = 1,
	};
	uint32_t three[] = { 1, 2, 3 }, two[] = { 1, 2 };
	json_object *top = json_object_new_object();
	struct fixture g;

	alua_lu_set_policy(f->lu, &policy);
	alua_set_members(&f->h.gw, three, 3);
	take_alua_ua(f);
	expect_groups(f, (const uint8_t[]){ AO, SB, SB }, 1, false);
	assert_int_equal(role(f, 3, true), 0);
	assert_int_equal(f->h.gw.promoted_node, 3);
	expect_groups(f, (const uint8_t[]){ SB, SB, AO }, 3, true);
	assert_int_equal(role(f, 3, true), 0);                 /* again: nothing */
	assert_int_equal(role(f, 2, false), 0);                /* not promoted: nothing */
	expect_groups(f, (const uint8_t[]){ SB, SB, AO }, 3, false);
	assert_int_equal(role(f, 2, true), 0);                 /* promoting 2 demotes 3 */
	expect_groups(f, (const uint8_t[]){ SB, AO, SB }, 2, true);
	assert_int_equal(role(f, 2, false), 0);                /* demote: preferred_node again */
	assert_int_equal(f->h.gw.promoted_node, 0);
	expect_groups(f, (const uint8_t[]){ AO, SB, SB }, 1, true);

	assert_int_equal(role(f, 3, true), 0);
	take_alua_ua(f);
	alua_set_members(&f->h.gw, two, 2);                    /* promoted node 3 leaves */
	assert_int_equal(f->h.gw.promoted_node, 0);
	expect_groups(f, (const uint8_t[]){ AO, SB, UN }, 1, true);
	alua_set_members(&f->h.gw, three, 3);                  /* and returns unpromoted */
	expect_groups(f, (const uint8_t[]){ AO, SB, SB }, 1, true);

	/* Malformed payloads change nothing. */
	{
		uint8_t shorter[4] = { 2, 0, 0, 0 };
		struct { uint32_t node; uint8_t promoted; uint8_t reserved[3]; } bad = { 0, 1, { 0 } };

		assert_int_equal(node_role_apply(&f->h.gw, shorter, sizeof(shorter)), -EINVAL);
		assert_int_equal(node_role_apply(&f->h.gw, &bad, sizeof(bad)), -EINVAL);
		assert_int_equal(f->h.gw.promoted_node, 0);
	}

	/* State transfer: a joining node learns who is promoted. */
	assert_int_equal(role(f, 2, true), 0);
	assert_int_equal(alua_snapshot_members(&f->h.gw, top), 0);
	fixture_init(&g, 3);
	assert_int_equal(alua_restore_members(&g.h.gw, top), 0);
	assert_int_equal(g.h.gw.promoted_node, 2);
	fixture_fini(&g);
	the_gateway = &f->h.gw;
	json_object_put(top);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_preferred_standby_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_preferred_non_optimized_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_optimized_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_explicit_states_kept, setup, teardown),
		cmocka_unit_test(test_same_result_on_every_node),
		cmocka_unit_test(test_node_id_range),
		cmocka_unit_test_setup_teardown(test_member_out_of_range_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rtpg_not_ready, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stpg_departed_group_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_restore, setup, teardown),
		cmocka_unit_test_setup_teardown(test_promoted_node, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
