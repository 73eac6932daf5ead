/* Cluster-wide COMPARE AND WRITE locks (gateway/scsi/cluster_range_lock.c)
 * through a gateway without network (core_harness) whose cluster service
 * is the single-node one under another name, so sbc.c takes the cluster
 * path; other nodes' operations are applied as the cluster would deliver
 * them. Checks the agreed queue (first come, first served), a COMPARE AND
 * WRITE waiting for another node's claim and resuming on its release or
 * on that node's departure, NOT READY without quorum, the sweep of
 * orphaned claims, and the state transfer accessors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "../../cluster/cluster.h"
#include "../../gateway/scsi/cluster_range_lock.h"
#include "../../gateway/event_loop.h"
#include "../../gateway/scsi/sense.h"
#include "../../gateway/shared_state.h"
#include "../../gateway/util.h"
#include "core_harness.h"

#define BS 512

/* The single-node service posing as a cluster; refuse_submit stands for a
 * node that lost quorum. */
static struct cluster_service_ops fake_cluster_ops;
static bool refuse_submit;

static int fake_submit(struct cluster *c, uint16_t type, const void *payload, uint32_t len,
		       cluster_done_fn done, void *ctx)
{
	if (refuse_submit)
		return -EAGAIN;
	return cluster_single_ops.submit(c, type, payload, len, done, ctx);
}

struct fixture {
	struct harness h;
	struct lu *lu;
	struct it_nexus *nx;
	struct ev_timer timer;
	bool timer_fired;
	unsigned seen_entries, seen_granted;     /* when the timer fired */
	void (*at_timer)(struct fixture *f);
};

static uint8_t tur(struct fixture *f, struct harness_result *r)
{
	uint8_t cdb[6] = { 0x00 };

	harness_result_free(r);
	return harness_run(&f->h, f->nx, 0, cdb, 6, SCSI_DIR_NONE, NULL, 0, 0, r);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct harness_result r = { 0 };

	harness_init(&f->h);
	fake_cluster_ops = cluster_single_ops;
	fake_cluster_ops.name = "fake-cluster";
	fake_cluster_ops.submit = fake_submit;
	f->h.gw.cluster->ops = &fake_cluster_ops;
	refuse_submit = false;
	f->lu = harness_add_lu(&f->h, 0, "file:lu.img,size=1M");
	assert_non_null(f->lu);
	f->nx = harness_nexus(&f->h, "iqn.2026-11.test:caw", 1);
	while (tur(f, &r) != SAM_STAT_GOOD)
		;
	harness_result_free(&r);
	assert_true(cluster_range_lock_needed(&f->h.gw));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	ev_timer_cancel(f->h.gw.loop, &f->timer);
	harness_nexus_free(&f->h, f->nx);
	harness_fini(&f->h);
	free(f);
	return 0;
}

/* What another node's operation does when the cluster delivers it here. */
static int remote(struct fixture *f, uint32_t node, uint16_t type, uint64_t token, uint64_t lba,
		  uint64_t count)
{
	struct range_lock_payload p;

	memset(&p, 0, sizeof(p));
	sop_lu_ref_set(&p.lu, f->lu);
	p.token = token;
	p.lba = lba;
	p.count = count;
	return shared_state_apply(&f->h.gw, node, type, &p, sizeof(p));
}

static unsigned entries(struct fixture *f, unsigned *granted)
{
	return cluster_range_lock_count(f->lu, granted);
}

/* COMPARE AND WRITE of one block at lba: expect `old` (a byte pattern),
 * write `new`. */
static uint8_t caw(struct fixture *f, uint64_t lba, uint8_t old, uint8_t new,
		   struct harness_result *r)
{
	uint8_t cdb[16] = { 0x89 };
	uint8_t data[2 * BS];

	put_be64(cdb + 2, lba);
	cdb[13] = 1;
	memset(data, old, BS);
	memset(data + BS, new, BS);
	harness_result_free(r);
	return harness_run(&f->h, f->nx, 0, cdb, 16, SCSI_DIR_OUT, data, sizeof(data), 0, r);
}

static uint8_t first_byte(struct fixture *f, uint64_t lba)
{
	uint8_t cdb[10] = { 0x28 };
	struct harness_result r = { 0 };
	uint8_t b;

	put_be32(cdb + 2, (uint32_t)lba);
	cdb[8] = 1;
	assert_int_equal(harness_run(&f->h, f->nx, 0, cdb, 10, SCSI_DIR_IN, NULL, 0, BS, &r),
			 SAM_STAT_GOOD);
	b = r.data[0];
	harness_result_free(&r);
	return b;
}

static void on_timer(struct event_loop *loop, void *arg)
{
	struct fixture *f = arg;

	(void)loop;
	f->timer_fired = true;
	f->seen_entries = entries(f, &f->seen_granted);
	f->at_timer(f);
}

static void arm(struct fixture *f, void (*what)(struct fixture *f))
{
	f->at_timer = what;
	ev_timer_init(&f->timer, on_timer, f);
	ev_timer_arm(f->h.gw.loop, &f->timer, 30);
}

/* --------------------------------------------------------------------- */

static void test_queue_first_come_first_served(void **state)
{
	struct fixture *f = *state;
	unsigned granted;

	assert_int_equal(remote(f, 2, SOP_RANGE_LOCK, 21, 0, 8), 0);
	assert_int_equal(remote(f, 3, SOP_RANGE_LOCK, 31, 4, 8), 0);     /* overlaps 21 */
	assert_int_equal(remote(f, 2, SOP_RANGE_LOCK, 22, 100, 1), 0);   /* apart */
	assert_int_equal(remote(f, 2, SOP_RANGE_LOCK, 23, 11, 2), 0);    /* overlaps 31 only */
	assert_int_equal(entries(f, &granted), 4);
	assert_int_equal(granted, 2);                                    /* 21 and 22 */
	/* 21 goes: 31 is first in line for its range, 23 still waits for it. */
	assert_int_equal(remote(f, 2, SOP_RANGE_UNLOCK, 21, 0, 0), 0);
	assert_int_equal(entries(f, &granted), 3);
	assert_int_equal(granted, 2);
	assert_int_equal(remote(f, 3, SOP_RANGE_UNLOCK, 31, 0, 0), 0);
	assert_int_equal(entries(f, &granted), 2);
	assert_int_equal(granted, 2);
	/* An unlock by another node, or of an unknown token, changes nothing. */
	assert_int_equal(remote(f, 3, SOP_RANGE_UNLOCK, 22, 0, 0), 0);
	assert_int_equal(remote(f, 2, SOP_RANGE_UNLOCK, 99, 0, 0), 0);
	assert_int_equal(entries(f, &granted), 2);
}

static void test_bad_operations(void **state)
{
	struct fixture *f = *state;
	struct range_lock_payload p;
	unsigned granted;

	memset(&p, 0, sizeof(p));
	sop_lu_ref_set(&p.lu, f->lu);
	p.token = 1;
	p.count = 1;
	assert_int_equal(shared_state_apply(&f->h.gw, 2, SOP_RANGE_LOCK, &p, sizeof(p) - 1), -EINVAL);
	assert_int_equal(remote(f, 2, SOP_RANGE_LOCK, 1, 0, 0), -EINVAL);            /* no blocks */
	assert_int_equal(remote(f, 2, SOP_RANGE_LOCK, 1, 0, 256), -EINVAL);          /* > 255 */
	assert_int_equal(remote(f, 2, SOP_RANGE_LOCK, 1, f->lu->num_blocks, 1), -EINVAL);
	assert_int_equal(remote(f, 2, SOP_RANGE_LOCK, 1, f->lu->num_blocks - 1, 2), -EINVAL);
	assert_int_equal(remote(f, 2, SOP_RANGE_LOCK, 1, UINT64_MAX, 2), -EINVAL);
	assert_int_equal(remote(f, 2, SOP_RANGE_LOCK, 1, 0, 1), 0);
	assert_int_equal(remote(f, 2, SOP_RANGE_LOCK, 1, 5, 1), -EINVAL);            /* same token */
	p.lu.lun = 7;
	assert_int_equal(shared_state_apply(&f->h.gw, 2, SOP_RANGE_LOCK, &p, sizeof(p)), -ENOENT);
	assert_int_equal(entries(f, &granted), 1);
}

static void release_node2(struct fixture *f)
{
	assert_int_equal(remote(f, 2, SOP_RANGE_UNLOCK, 21, 0, 0), 0);
}

/* Node 2 holds block 0: a COMPARE AND WRITE through this node waits until
 * node 2 releases it, then compares and writes. */
static void test_caw_waits_for_other_node(void **state)
{
	struct fixture *f = *state;
	struct harness_result r = { 0 };
	unsigned granted;

	assert_int_equal(remote(f, 2, SOP_RANGE_LOCK, 21, 0, 1), 0);
	arm(f, release_node2);
	assert_int_equal(caw(f, 0, 0x00, 0x11, &r), SAM_STAT_GOOD);
	assert_true(f->timer_fired);
	assert_int_equal(f->seen_entries, 2);       /* node 2's, then ours waiting */
	assert_int_equal(f->seen_granted, 1);
	harness_drain(&f->h);
	assert_int_equal(entries(f, &granted), 0);  /* ours released after the write */
	assert_int_equal(first_byte(f, 0), 0x11);
	/* A compare that fails writes nothing (and releases its claim). */
	assert_int_equal(caw(f, 0, 0x00, 0x22, &r), SAM_STAT_CHECK_CONDITION);
	assert_int_equal(r.sense_key, SK_MISCOMPARE);
	harness_drain(&f->h);
	assert_int_equal(entries(f, &granted), 0);
	assert_int_equal(first_byte(f, 0), 0x11);
	harness_result_free(&r);
}

static void remove_lu(struct fixture *f)
{
	lu_destroy(f->lu);
	f->lu = NULL;     /* freed by the last of its commands */
}

/* The LU is removed (a replicated configuration change) while a COMPARE
 * AND WRITE waits for node 2's claim: node 2's UNLOCK will never find the
 * LU again, so the command must end (LOGICAL UNIT NOT SUPPORTED) instead
 * of waiting forever and keeping the LU alive. */
static void test_caw_waiting_when_lu_removed(void **state)
{
	struct fixture *f = *state;
	struct harness_result r = { 0 };

	assert_int_equal(remote(f, 2, SOP_RANGE_LOCK, 21, 0, 1), 0);
	arm(f, remove_lu);
	assert_int_equal(caw(f, 0, 0x00, 0x11, &r), SAM_STAT_CHECK_CONDITION);
	assert_true(f->timer_fired);
	assert_int_equal(f->seen_granted, 1);       /* node 2's; ours was waiting */
	assert_int_equal(r.sense_key, SK_ILLEGAL_REQUEST);
	assert_int_equal(r.asc_ascq, ASC_LU_NOT_SUPPORTED);
	harness_drain(&f->h);
	harness_result_free(&r);
}

/* Another node's claim elsewhere on the LU does not delay it. */
static void test_caw_other_range_not_blocked(void **state)
{
	struct fixture *f = *state;
	struct harness_result r = { 0 };
	unsigned granted;

	assert_int_equal(remote(f, 2, SOP_RANGE_LOCK, 21, 1, 1), 0);
	assert_int_equal(caw(f, 0, 0x00, 0x33, &r), SAM_STAT_GOOD);
	harness_drain(&f->h);
	assert_int_equal(entries(f, &granted), 1);
	assert_int_equal(first_byte(f, 0), 0x33);
	harness_result_free(&r);
}

static void node2_departs(struct fixture *f)
{
	uint32_t members[] = { 1, 3 };

	cluster_range_lock_members_changed(&f->h.gw, members, 2);
}

/* Node 2 dies holding the claim: the membership change releases it. */
static void test_departed_node_claims_released(void **state)
{
	struct fixture *f = *state;
	struct harness_result r = { 0 };
	unsigned granted;

	assert_int_equal(remote(f, 2, SOP_RANGE_LOCK, 21, 0, 1), 0);
	assert_int_equal(remote(f, 3, SOP_RANGE_LOCK, 31, 5, 1), 0);
	arm(f, node2_departs);
	assert_int_equal(caw(f, 0, 0x00, 0x44, &r), SAM_STAT_GOOD);
	assert_true(f->timer_fired);
	assert_int_equal(f->seen_granted, 2);        /* node 2's and node 3's */
	harness_drain(&f->h);
	assert_int_equal(entries(f, &granted), 1);   /* node 3 keeps its own */
	assert_int_equal(first_byte(f, 0), 0x44);
	harness_result_free(&r);
}

/* Out of quorum the claim cannot be made: NOT READY, asymmetric access
 * state transition (SPC-4 5.16.2.6); nothing written. */
static void test_caw_without_quorum(void **state)
{
	struct fixture *f = *state;
	struct harness_result r = { 0 };
	unsigned granted;

	refuse_submit = true;
	assert_int_equal(caw(f, 0, 0x00, 0x55, &r), SAM_STAT_CHECK_CONDITION);
	assert_int_equal(r.sense_key, SK_NOT_READY);
	assert_int_equal(r.asc_ascq, ASC_LU_NOT_ACCESSIBLE_TRANSITIONING);
	refuse_submit = false;
	assert_int_equal(entries(f, &granted), 0);
	assert_int_equal(first_byte(f, 0), 0x00);
	harness_result_free(&r);
}

/* A claim of this node that no command owns (an earlier process of the
 * same node id, an UNLOCK that could not be sent) is released at the next
 * membership change. */
static void test_orphaned_own_claim_swept(void **state)
{
	struct fixture *f = *state;
	uint32_t members[] = { 1, 2 };
	unsigned granted;

	assert_int_equal(remote(f, 1, SOP_RANGE_LOCK, 777, 0, 1), 0);
	assert_int_equal(remote(f, 2, SOP_RANGE_LOCK, 21, 9, 1), 0);
	cluster_range_lock_members_changed(&f->h.gw, members, 2);
	harness_drain(&f->h);
	assert_int_equal(entries(f, &granted), 1);
	assert_int_equal(granted, 1);
}

/* The queue travels to a joining node unchanged, grants included. */
static void test_snapshot_restore(void **state)
{
	struct fixture *f = *state;
	json_object *lu_obj = json_object_new_object();
	struct lu *other = harness_add_lu(&f->h, 1, "null,size=1M");
	const char *bad[] = {
		"{\"range_locks\":{}}",
		"{\"range_locks\":[{\"node\":2,\"token\":1,\"lba\":0}]}",
		"{\"range_locks\":[{\"node\":2,\"token\":1,\"lba\":0,\"count\":0}]}",
		"{\"range_locks\":[{\"node\":2,\"token\":1,\"lba\":99999999,\"count\":1}]}",
		"{\"range_locks\":[{\"node\":70000,\"token\":1,\"lba\":0,\"count\":1}]}",
		"{\"range_locks\":[{\"node\":2,\"token\":-1,\"lba\":0,\"count\":1}]}",
	};
	unsigned granted;

	assert_non_null(other);
	assert_int_equal(remote(f, 2, SOP_RANGE_LOCK, 21, 0, 4), 0);
	assert_int_equal(remote(f, 3, SOP_RANGE_LOCK, 31, 2, 4), 0);
	assert_int_equal(remote(f, 3, SOP_RANGE_LOCK, 32, 50, 1), 0);
	assert_int_equal(cluster_range_lock_snapshot_lu(f->lu, lu_obj), 0);
	assert_int_equal(cluster_range_lock_restore_lu(other, lu_obj), 0);
	assert_int_equal(cluster_range_lock_count(other, &granted), 3);
	assert_int_equal(granted, 2);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		json_object *o = json_tokener_parse(bad[i]);

		assert_non_null(o);
		assert_int_equal(cluster_range_lock_restore_lu(other, o), -EINVAL);
		assert_int_equal(cluster_range_lock_count(other, &granted), 3);
		json_object_put(o);
	}
	json_object_put(lu_obj);
}

/* The single-node service: no cluster claims, sbc.c's local locks only. */
static void test_single_node_takes_no_cluster_lock(void **state)
{
	struct fixture *f = *state;
	struct harness_result r = { 0 };
	unsigned granted;

	f->h.gw.cluster->ops = &cluster_single_ops;
	assert_false(cluster_range_lock_needed(&f->h.gw));
	assert_int_equal(caw(f, 3, 0x00, 0x66, &r), SAM_STAT_GOOD);
	assert_int_equal(entries(f, &granted), 0);
	assert_int_equal(first_byte(f, 3), 0x66);
	harness_result_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_queue_first_come_first_served, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_operations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_caw_waits_for_other_node, setup, teardown),
		cmocka_unit_test_setup_teardown(test_caw_other_range_not_blocked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_caw_waiting_when_lu_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_departed_node_claims_released, setup, teardown),
		cmocka_unit_test_setup_teardown(test_caw_without_quorum, setup, teardown),
		cmocka_unit_test_setup_teardown(test_orphaned_own_claim_swept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_restore, setup, teardown),
		cmocka_unit_test_setup_teardown(test_single_node_takes_no_cluster_lock, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
