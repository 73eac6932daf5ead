/* Asymmetric logical unit access (gateway/scsi/alua.c) through a gateway without
 * network (core_harness): REPORT TARGET PORT GROUPS in both formats, SET
 * TARGET PORT GROUPS to every state and back with its unit attentions,
 * malformed parameter lists, the commands each state allows with the
 * exact sense, the admin's implicit transition, membership changes under
 * a preferred-node policy, and the policy in the configuration. */
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

#include "../../gateway/scsi/alua.h"
#include "../../gateway/config.h"
#include "../../gateway/scsi/sense.h"
#include "../../gateway/scsi/target_ports.h"
#include "../../gateway/util.h"
#include "core_harness.h"

struct fixture {
	struct harness h;
	struct lu *lu;                  /* LUN 0, null backstore */
	struct it_nexus *a, *b;         /* two initiators through this node's port */
};

static uint8_t run(struct fixture *f, struct it_nexus *nx, const uint8_t *cdb, unsigned len,
		   struct harness_result *r)
{
	harness_result_free(r);
	return harness_run(&f->h, nx, 0, cdb, len, SCSI_DIR_IN, NULL, 0, 0, r);
}

static uint8_t run_out(struct fixture *f, struct it_nexus *nx, const uint8_t *cdb, unsigned len,
		       const void *data, uint32_t data_len, struct harness_result *r)
{
	harness_result_free(r);
	return harness_run(&f->h, nx, 0, cdb, len, SCSI_DIR_OUT, data, data_len, 0, r);
}

static uint8_t tur(struct fixture *f, struct it_nexus *nx, struct harness_result *r)
{
	uint8_t cdb[6] = { 0x00 };

	return run(f, nx, cdb, 6, r);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct harness_result r = { 0 };

	harness_init(&f->h);
	f->lu = harness_add_lu(&f->h, 0, "null,size=64M");
	assert_non_null(f->lu);
	f->a = harness_nexus(&f->h, "iqn.2026-01.test:a", 1);
	f->b = harness_nexus(&f->h, "iqn.2026-01.test:b", 2);
	/* Clear the power-on unit attentions, as initiators do at login. */
	tur(f, f->a, &r);
	tur(f, f->b, &r);
	harness_result_free(&r);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	harness_nexus_free(&f->h, f->a);
	harness_nexus_free(&f->h, f->b);
	harness_fini(&f->h);
	free(f);
	return 0;
}

static void expect_sense(const struct harness_result *r, uint8_t key, uint16_t asc)
{
	assert_int_equal(r->status, SAM_STAT_CHECK_CONDITION);
	assert_int_equal(r->sense_key, key);
	assert_int_equal(r->asc_ascq, asc);
}

/* INVALID FIELD IN PARAMETER LIST with the sense-key specific field
 * pointer (fixed format, SPC-4 4.5.2.4.2): C/D 0, byte, bit or -1. */
static void expect_param_field(const struct harness_result *r, uint16_t byte, int bit)
{
	expect_sense(r, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAMETER_LIST);
	assert_true(r->sense_len >= 18);
	assert_int_equal(r->sense[15] & 0x80, 0x80);            /* SKSV */
	assert_int_equal(r->sense[15] & 0x40, 0);               /* C/D: parameter list */
	if (bit >= 0) {
		assert_int_equal(r->sense[15] & 0x08, 0x08);    /* BPV */
		assert_int_equal(r->sense[15] & 0x07, bit);
	} else {
		assert_int_equal(r->sense[15] & 0x08, 0);
	}
	assert_int_equal(get_be16(r->sense + 16), byte);
}

static void rtpg_cdb(uint8_t *cdb, uint8_t format, uint32_t alloc)
{
	memset(cdb, 0, 12);
	cdb[0] = 0xa3;
	cdb[1] = (uint8_t)(format << 5 | 0x0a);
	put_be32(cdb + 6, alloc);
}

/* One STPG descriptor list: header plus (state, group) pairs. */
static uint8_t stpg(struct fixture *f, struct it_nexus *nx, const uint8_t *list, uint32_t len,
		    struct harness_result *r)
{
	uint8_t cdb[12] = { 0xa4, 0x0a };

	put_be32(cdb + 6, len);
	return run_out(f, nx, cdb, 12, list, len, r);
}

static uint8_t stpg_one(struct fixture *f, struct it_nexus *nx, uint8_t state, uint16_t which,
			struct harness_result *r)
{
	uint8_t list[8] = { 0 };

	list[4] = state;
	put_be16(list + 6, which);
	return stpg(f, nx, list, sizeof(list), r);
}

static const struct lu_alua_group *group(const struct lu *lu, uint16_t id)
{
	for (unsigned i = 0; i < lu->alua.n_groups; i++)
		if (lu->alua.groups[i].id == id)
			return &lu->alua.groups[i];
	return NULL;
}

/* ---------------------------------------------------------------------
 * REPORT TARGET PORT GROUPS and INQUIRY
 */

static void test_rtpg_length_only(void **state)
{
	struct fixture *f = *state;
	struct harness_result r = { 0 };
	uint8_t cdb[12];

	rtpg_cdb(cdb, 0, 256);
	assert_int_equal(run(f, f->a, cdb, 12, &r), SAM_STAT_GOOD);
	assert_int_equal(r.data_len, 16);
	assert_int_equal(get_be32(r.data), 12);                 /* RETURN DATA LENGTH */
	assert_int_equal(r.data[4] & 0x80, 0);                  /* PREF: active/active policy */
	assert_int_equal(r.data[4] & 0x0f, ALUA_ACTIVE_OPTIMIZED);
	assert_int_equal(r.data[5], 0xcf);                      /* T, O, U, S, AN, AO supported */
	assert_int_equal(get_be16(r.data + 6), f->a->tpg_id);
	assert_int_equal(r.data[9], ALUA_STATUS_NONE);
	assert_int_equal(r.data[11], 1);                        /* TARGET PORT COUNT */
	assert_int_equal(get_be16(r.data + 14), f->a->rel_tgt_port_id);
	harness_result_free(&r);
}

/* An FCoE port is a target port of its own: relative target port id
 * node + 256 * K (target_ports.h), announced through the shared state and
 * listed by RTPG in the node's group after its iSCSI port; removed and
 * added again it gets the lowest free id back. */
static void test_rtpg_lists_other_target_ports(void **state)
{
	struct fixture *f = *state;
	struct gateway *gw = &f->h.gw;
	struct harness_result r = { 0 };
	uint16_t rel1, rel2, again, list[TARGET_PORTS_EXTRA_MAX];
	char err[256];
	uint8_t cdb[12];

	assert_int_equal(target_port_add(gw, &rel1, err, sizeof(err)), 0);
	assert_int_equal(target_port_add(gw, &rel2, err, sizeof(err)), 0);
	harness_drain(&f->h);
	assert_int_equal(rel1, 1 + 256);
	assert_int_equal(rel2, 1 + 512);
	assert_int_equal(target_ports_node(gw, rel2), 1);
	assert_int_equal(target_ports_node(gw, 2 + 256), 0);
	rtpg_cdb(cdb, 0, 256);
	assert_int_equal(run(f, f->a, cdb, 12, &r), SAM_STAT_GOOD);
	assert_int_equal(get_be32(r.data), 8 + 3 * 4);             /* one group, three ports */
	assert_int_equal(r.data[11], 3);                        /* TARGET PORT COUNT */
	assert_int_equal(get_be16(r.data + 14), f->a->rel_tgt_port_id);
	assert_int_equal(get_be16(r.data + 18), rel1);
	assert_int_equal(get_be16(r.data + 22), rel2);
	harness_result_free(&r);

	target_port_remove(gw, rel1);
	harness_drain(&f->h);
	assert_int_equal(target_ports_extra(gw, 1, list, TARGET_PORTS_EXTRA_MAX), 1);
	assert_int_equal(list[0], rel2);
	assert_int_equal(target_port_add(gw, &again, err, sizeof(err)), 0);
	assert_int_equal(again, rel1);
	harness_drain(&f->h);
	assert_int_equal(target_ports_extra(gw, 1, list, TARGET_PORTS_EXTRA_MAX), 2);
}

/* Announcements name the origin's own ports only; the snapshot carries
 * the table to a joining node; a node id above 255 cannot have any. */
static void test_target_ports_apply_and_snapshot(void **state)
{
	struct fixture *f = *state;
	struct gateway *gw = &f->h.gw;
	struct { uint32_t node; uint16_t count; uint16_t rel[TARGET_PORTS_EXTRA_MAX]; } p;
	uint16_t list[TARGET_PORTS_EXTRA_MAX], rel;
	json_object *snap = json_object_new_object(), *bad;
	char err[256];

	memset(&p, 0, sizeof(p));
	p.node = 3;
	p.count = 2;
	p.rel[0] = 3 + 256;
	p.rel[1] = 3 + 768;
	assert_int_equal(target_ports_apply(gw, 3, &p, sizeof(p)), 0);
	assert_int_equal(target_ports_apply(gw, 2, &p, sizeof(p)), -EINVAL);   /* not its own */
	assert_int_equal(target_ports_apply(gw, 3, &p, sizeof(p) - 1), -EINVAL);
	p.rel[1] = 4 + 768;                                                    /* node 4's form */
	assert_int_equal(target_ports_apply(gw, 3, &p, sizeof(p)), -EINVAL);
	p.count = 8;
	assert_int_equal(target_ports_apply(gw, 3, &p, sizeof(p)), -EINVAL);
	assert_int_equal(target_ports_extra(gw, 3, list, TARGET_PORTS_EXTRA_MAX), 2);
	assert_int_equal(list[1], 3 + 768);

	assert_int_equal(target_ports_snapshot(gw, snap), 0);
	memset(gw->node_ports, 0, sizeof(gw->node_ports));
	gw->n_node_ports = 0;
	assert_int_equal(target_ports_restore(gw, snap), 0);
	assert_int_equal(target_ports_extra(gw, 3, list, TARGET_PORTS_EXTRA_MAX), 2);
	assert_int_equal(target_ports_node(gw, 3 + 256), 3);
	json_object_put(snap);
	bad = json_tokener_parse("{\"target_ports\":[{\"node\":3,\"ports\":[260]}]}");
	assert_int_equal(target_ports_restore(gw, bad), -EINVAL);
	assert_int_equal(target_ports_extra(gw, 3, list, TARGET_PORTS_EXTRA_MAX), 2);
	json_object_put(bad);

	gw->node_id = 300;
	assert_int_equal(target_port_add(gw, &rel, err, sizeof(err)), -ERANGE);
	assert_non_null(strstr(err, "node id 300"));
	gw->node_id = 1;
}

static void test_rtpg_extended_and_truncated(void **state)
{
	struct fixture *f = *state;
	struct harness_result r = { 0 };
	uint8_t cdb[12];

	rtpg_cdb(cdb, 1, 256);
	assert_int_equal(run(f, f->a, cdb, 12, &r), SAM_STAT_GOOD);
	assert_int_equal(r.data_len, 20);
	assert_int_equal(get_be32(r.data), 16);
	assert_int_equal(r.data[4] & 0x70, 0x10);               /* FORMAT TYPE 001b */
	assert_int_equal(r.data[5], ALUA_IMPLICIT_TRANSITION_SECS);
	assert_int_equal(get_be16(r.data + 8 + 2), f->a->tpg_id);
	assert_int_equal(get_be16(r.data + 8 + 10), f->a->rel_tgt_port_id);

	/* SPC-4 4.2.5.6: truncated to the allocation length, which keeps
	 * reporting the whole length. */
	rtpg_cdb(cdb, 0, 6);
	assert_int_equal(run(f, f->a, cdb, 12, &r), SAM_STAT_GOOD);
	assert_int_equal(r.data_len, 6);
	assert_int_equal(r.transfer_len, 6);
	assert_int_equal(get_be32(r.data), 12);
	rtpg_cdb(cdb, 0, 0);
	assert_int_equal(run(f, f->a, cdb, 12, &r), SAM_STAT_GOOD);
	assert_int_equal(r.data_len, 0);

	/* PARAMETER DATA FORMAT 010b is reserved. */
	rtpg_cdb(cdb, 2, 256);
	run(f, f->a, cdb, 12, &r);
	expect_sense(&r, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	harness_result_free(&r);
}

static void test_inquiry_tpgs_and_designator(void **state)
{
	struct fixture *f = *state;
	struct harness_result r = { 0 };
	uint8_t cdb[6] = { 0x12, 0, 0, 0, 255, 0 };
	unsigned pos;
	bool found = false;

	assert_int_equal(run(f, f->a, cdb, 6, &r), SAM_STAT_GOOD);
	assert_int_equal(r.data[5] & 0x30, 0x30);               /* TPGS 11b */
	cdb[1] = 1;
	cdb[2] = 0x83;
	assert_int_equal(run(f, f->a, cdb, 6, &r), SAM_STAT_GOOD);
	for (pos = 4; pos + 4 <= r.data_len; pos += 4u + r.data[pos + 3]) {
		if ((r.data[pos + 1] & 0x3f) == 0x15) {        /* target port, port group */
			assert_int_equal(get_be16(r.data + pos + 6), f->a->tpg_id);
			found = true;
		}
	}
	assert_true(found);

	/* REPORT SUPPORTED OPERATION CODES knows SET TARGET PORT GROUPS. */
	{
		uint8_t rsoc[12] = { 0xa3, 0x0c, 0x02, 0xa4, 0x00, 0x0a };

		put_be32(rsoc + 6, 64);
		assert_int_equal(run(f, f->a, rsoc, 12, &r), SAM_STAT_GOOD);
		assert_int_equal(r.data[1] & 0x07, 0x03);       /* supported as the standard says */
		assert_int_equal(r.data[4], 0xa4);
	}
	harness_result_free(&r);
}

/* ---------------------------------------------------------------------
 * SET TARGET PORT GROUPS
 */

static void test_stpg_each_state_and_back(void **state)
{
	static const struct {
		uint8_t state;
		uint16_t tur_asc;       /* 0: TEST UNIT READY succeeds */
	} steps[] = {
		{ ALUA_ACTIVE_NON_OPTIMIZED, 0 },
		{ ALUA_STANDBY, ASC_LU_NOT_ACCESSIBLE_STANDBY },
		{ ALUA_UNAVAILABLE, ASC_LU_NOT_ACCESSIBLE_UNAVAILABLE },
		{ ALUA_ACTIVE_OPTIMIZED, 0 },
		{ ALUA_OFFLINE, 0x0412 },       /* LOGICAL UNIT NOT READY, OFFLINE */
	};
	struct fixture *f = *state;
	struct harness_result r = { 0 };
	uint8_t cdb[12];

	for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
		uint8_t s = steps[i].state;
		/* Offline is a target port state: the descriptor names the port. */
		uint16_t which = s == ALUA_OFFLINE ? f->a->rel_tgt_port_id : f->a->tpg_id;

		assert_int_equal(stpg_one(f, f->a, s, which, &r), SAM_STAT_GOOD);
		assert_int_equal(group(f->lu, f->a->tpg_id)->state, s);
		assert_int_equal(group(f->lu, f->a->tpg_id)->status, ALUA_STATUS_EXPLICIT);

		/* SPC-4 5.16.2.3: every other nexus gets ASYMMETRIC ACCESS
		 * STATE CHANGED, the issuer does not. */
		tur(f, f->b, &r);
		expect_sense(&r, SK_UNIT_ATTENTION, ASC_ASYMMETRIC_ACCESS_STATE_CHANGED);
		rtpg_cdb(cdb, 0, 256);
		assert_int_equal(run(f, f->a, cdb, 12, &r), SAM_STAT_GOOD);
		assert_int_equal(r.data[4] & 0x0f, s);
		assert_int_equal(r.data[9], ALUA_STATUS_EXPLICIT);

		/* Now the state itself answers. */
		tur(f, f->b, &r);
		if (steps[i].tur_asc)
			expect_sense(&r, SK_NOT_READY, steps[i].tur_asc);
		else
			assert_int_equal(r.status, SAM_STAT_GOOD);
	}
	/* An offline port takes no SET TARGET PORT GROUPS either: only another
	 * port (here: the admin) brings it back. */
	stpg_one(f, f->a, ALUA_ACTIVE_OPTIMIZED, f->a->tpg_id, &r);
	expect_sense(&r, SK_NOT_READY, 0x0412);
	{
		json_object *req = json_object_new_object();
		char err[256];

		json_object_object_add(req, "request", json_object_new_string("alua_set"));
		json_object_object_add(req, "target", json_object_new_string(f->h.target->iqn));
		json_object_object_add(req, "lun", json_object_new_int(0));
		json_object_object_add(req, "state", json_object_new_string("active-optimized"));
		assert_int_equal(alua_request_submit(&f->h.gw, req, NULL, NULL, err, sizeof(err)), 0);
		json_object_put(req);
		harness_drain(&f->h);
	}
	tur(f, f->a, &r);
	expect_sense(&r, SK_UNIT_ATTENTION, ASC_ASYMMETRIC_ACCESS_STATE_CHANGED);
	tur(f, f->b, &r);
	expect_sense(&r, SK_UNIT_ATTENTION, ASC_ASYMMETRIC_ACCESS_STATE_CHANGED);

	/* Setting the state a group already has changes nothing: no UA. */
	assert_int_equal(stpg_one(f, f->a, ALUA_ACTIVE_OPTIMIZED, f->a->tpg_id, &r), SAM_STAT_GOOD);
	assert_int_equal(tur(f, f->b, &r), SAM_STAT_GOOD);
	harness_result_free(&r);
}

static void test_stpg_bad_parameter_lists(void **state)
{
	struct fixture *f = *state;
	struct harness_result r = { 0 };
	uint8_t list[16];

	/* A list that ends inside the header or a descriptor. */
	memset(list, 0, sizeof(list));
	stpg(f, f->a, list, 2, &r);
	expect_sense(&r, SK_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERROR);
	stpg(f, f->a, list, 6, &r);
	expect_sense(&r, SK_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERROR);

	/* Reserved header byte. */
	list[1] = 0x01;
	stpg(f, f->a, list, 8, &r);
	expect_param_field(&r, 1, 0);
	list[1] = 0;

	/* Unknown target port group: points at the field. */
	list[4] = ALUA_STANDBY;
	put_be16(list + 6, 7);
	stpg(f, f->a, list, 8, &r);
	expect_param_field(&r, 6, -1);

	/* Transitioning cannot be requested; LBA dependent (4) and reserved
	 * values are not supported. */
	put_be16(list + 6, f->a->tpg_id);
	list[4] = ALUA_TRANSITIONING;
	stpg(f, f->a, list, 8, &r);
	expect_param_field(&r, 4, 3);
	list[4] = 0x04;
	stpg(f, f->a, list, 8, &r);
	expect_param_field(&r, 4, 3);
	list[4] = 0x07;
	stpg(f, f->a, list, 8, &r);
	expect_param_field(&r, 4, 3);

	/* Reserved bits of a descriptor. */
	list[4] = 0x10 | ALUA_STANDBY;
	stpg(f, f->a, list, 8, &r);
	expect_param_field(&r, 4, 4);
	list[4] = ALUA_STANDBY;
	list[5] = 0x80;
	stpg(f, f->a, list, 8, &r);
	expect_param_field(&r, 5, 7);
	list[5] = 0;

	/* Offline names a relative target port, and there is no port 9. */
	list[4] = ALUA_OFFLINE;
	put_be16(list + 6, 9);
	stpg(f, f->a, list, 8, &r);
	expect_param_field(&r, 6, -1);

	/* Two descriptors for one group contradict each other. */
	list[4] = ALUA_STANDBY;
	put_be16(list + 6, f->a->tpg_id);
	list[8] = ALUA_ACTIVE_NON_OPTIMIZED;
	put_be16(list + 10, f->a->tpg_id);
	stpg(f, f->a, list, 12, &r);
	expect_param_field(&r, 10, -1);

	/* None of it changed anything or told anyone. */
	assert_int_equal(group(f->lu, f->a->tpg_id)->state, ALUA_ACTIVE_OPTIMIZED);
	assert_int_equal(group(f->lu, f->a->tpg_id)->status, ALUA_STATUS_NONE);
	assert_int_equal(tur(f, f->b, &r), SAM_STAT_GOOD);

	/* A zero PARAMETER LIST LENGTH is no error, and no change. */
	assert_int_equal(stpg(f, f->a, list, 0, &r), SAM_STAT_GOOD);
	/* A header alone neither. */
	assert_int_equal(stpg(f, f->a, list, 4, &r), SAM_STAT_GOOD);
	assert_int_equal(tur(f, f->b, &r), SAM_STAT_GOOD);
	harness_result_free(&r);
}

/* SPC-4 5.13.1: SET TARGET PORT GROUPS from a nexus that does not hold a
 * Write Exclusive reservation conflicts. */
static void test_stpg_reservation_conflict(void **state)
{
	struct fixture *f = *state;
	struct harness_result r = { 0 };
	uint8_t cdb[10] = { 0x5f, 0x00, 0x00, 0, 0, 0, 0, 0, 24, 0 };
	uint8_t param[24] = { 0 };

	put_be64(param + 8, 0xabc);                     /* REGISTER key 0xabc */
	assert_int_equal(run_out(f, f->a, cdb, 10, param, 24, &r), SAM_STAT_GOOD);
	memset(param, 0, sizeof(param));
	put_be64(param, 0xabc);
	cdb[1] = 0x01;                                  /* RESERVE */
	cdb[2] = 0x01;                                  /* Write Exclusive */
	assert_int_equal(run_out(f, f->a, cdb, 10, param, 24, &r), SAM_STAT_GOOD);

	assert_int_equal(stpg_one(f, f->b, ALUA_STANDBY, f->a->tpg_id, &r),
			 SAM_STAT_RESERVATION_CONFLICT);
	assert_int_equal(group(f->lu, f->a->tpg_id)->state, ALUA_ACTIVE_OPTIMIZED);
	/* The holder may. */
	assert_int_equal(stpg_one(f, f->a, ALUA_ACTIVE_NON_OPTIMIZED, f->a->tpg_id, &r),
			 SAM_STAT_GOOD);
	assert_int_equal(group(f->lu, f->a->tpg_id)->state, ALUA_ACTIVE_NON_OPTIMIZED);
	harness_result_free(&r);
}

/* ---------------------------------------------------------------------
 * What each state allows (SPC-4 5.16.2.4, 5.16.2.5)
 */

static void test_standby_filtering(void **state)
{
	static const struct {
		uint8_t cdb[16];
		unsigned len;
		enum scsi_data_dir dir;
		bool allowed;
	} cmds[] = {
		{ { 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0 }, 10, SCSI_DIR_IN, false },        /* READ(10) */
		{ { 0x88, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0 }, 16, SCSI_DIR_IN, false }, /* READ(16) */
		{ { 0x00 }, 6, SCSI_DIR_NONE, false },                                 /* TEST UNIT READY */
		{ { 0x35 }, 10, SCSI_DIR_NONE, false },                                /* SYNCHRONIZE CACHE */
		{ { 0xa3, 0x0c, 0, 0, 0, 0, 0, 0, 0x10, 0 }, 12, SCSI_DIR_IN, false },  /* REPORT SUPPORTED OPCODES */
		{ { 0x12, 0, 0, 0, 96, 0 }, 6, SCSI_DIR_IN, true },                     /* INQUIRY */
		{ { 0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0 }, 12, SCSI_DIR_IN, true },   /* REPORT LUNS */
		{ { 0x1a, 0x08, 0x3f, 0, 255, 0 }, 6, SCSI_DIR_IN, true },              /* MODE SENSE(6) */
		{ { 0x5a, 0x08, 0x3f, 0, 0, 0, 0, 1, 0, 0 }, 10, SCSI_DIR_IN, true },   /* MODE SENSE(10) */
		{ { 0x03, 0, 0, 0, 18, 0 }, 6, SCSI_DIR_IN, true },                     /* REQUEST SENSE */
		{ { 0x5e, 0x00, 0, 0, 0, 0, 0, 1, 0, 0 }, 10, SCSI_DIR_IN, true },      /* PR IN READ KEYS */
		{ { 0xa3, 0x0a, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0 }, 12, SCSI_DIR_IN, true }, /* RTPG */
		{ { 0x25 }, 10, SCSI_DIR_IN, true },                                   /* READ CAPACITY(10) */
	};
	struct fixture *f = *state;
	struct harness_result r = { 0 };
	uint8_t write10[10] = { 0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
	uint8_t block[512] = { 0 };

	assert_int_equal(stpg_one(f, f->b, ALUA_STANDBY, f->a->tpg_id, &r), SAM_STAT_GOOD);
	tur(f, f->a, &r);
	expect_sense(&r, SK_UNIT_ATTENTION, ASC_ASYMMETRIC_ACCESS_STATE_CHANGED);
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++) {
		harness_result_free(&r);
		harness_run(&f->h, f->a, 0, cmds[i].cdb, cmds[i].len, cmds[i].dir, NULL, 0, 0, &r);
		if (cmds[i].allowed) {
			assert_int_equal(r.status, SAM_STAT_GOOD);
		} else {
			expect_sense(&r, SK_NOT_READY, ASC_LU_NOT_ACCESSIBLE_STANDBY);
		}
	}
	run_out(f, f->a, write10, 10, block, sizeof(block), &r);
	expect_sense(&r, SK_NOT_READY, ASC_LU_NOT_ACCESSIBLE_STANDBY);
	/* MODE SELECT is allowed too (a header with nothing to change). */
	{
		uint8_t ms[6] = { 0x15, 0x10, 0, 0, 4, 0 };
		uint8_t hdr[4] = { 0 };

		assert_int_equal(run_out(f, f->a, ms, 6, hdr, 4, &r), SAM_STAT_GOOD);
	}
	/* The same port brings itself back. */
	assert_int_equal(stpg_one(f, f->a, ALUA_ACTIVE_OPTIMIZED, f->a->tpg_id, &r), SAM_STAT_GOOD);
	run(f, f->a, cmds[0].cdb, 10, &r);
	assert_int_equal(r.status, SAM_STAT_GOOD);
	harness_result_free(&r);
}

static void test_state_table(void **state)
{
	static const uint8_t read10[10] = { 0x28 };
	static const uint8_t inquiry[6] = { 0x12 };
	static const uint8_t report_luns[12] = { 0xa0 };
	static const uint8_t request_sense[6] = { 0x03 };
	static const uint8_t rtpg[12] = { 0xa3, 0x0a };
	static const uint8_t stpg_cdb[12] = { 0xa4, 0x0a };
	static const uint8_t rsoc[12] = { 0xa3, 0x0c };
	static const uint8_t mode_sense[6] = { 0x1a };
	static const uint8_t pr_in[10] = { 0x5e };
	static const uint8_t echo_read[10] = { 0x3c, 0x0a };
	static const uint8_t data_read[10] = { 0x3c, 0x02 };
	uint16_t asc = 0;

	(void)state;
	/* The active states allow everything. */
	assert_true(alua_command_allowed(ALUA_ACTIVE_OPTIMIZED, read10, &asc));
	assert_true(alua_command_allowed(ALUA_ACTIVE_NON_OPTIMIZED, read10, &asc));
	assert_true(alua_command_allowed(ALUA_ACTIVE_NON_OPTIMIZED, rsoc, &asc));

	/* Unavailable: INQUIRY, REPORT LUNS, RTPG, STPG, REQUEST SENSE, echo buffer. */
	assert_false(alua_command_allowed(ALUA_UNAVAILABLE, read10, &asc));
	assert_int_equal(asc, ASC_LU_NOT_ACCESSIBLE_UNAVAILABLE);
	assert_false(alua_command_allowed(ALUA_UNAVAILABLE, mode_sense, &asc));
	assert_false(alua_command_allowed(ALUA_UNAVAILABLE, pr_in, &asc));
	assert_true(alua_command_allowed(ALUA_UNAVAILABLE, inquiry, &asc));
	assert_true(alua_command_allowed(ALUA_UNAVAILABLE, report_luns, &asc));
	assert_true(alua_command_allowed(ALUA_UNAVAILABLE, request_sense, &asc));
	assert_true(alua_command_allowed(ALUA_UNAVAILABLE, rtpg, &asc));
	assert_true(alua_command_allowed(ALUA_UNAVAILABLE, stpg_cdb, &asc));
	assert_true(alua_command_allowed(ALUA_UNAVAILABLE, echo_read, &asc));
	assert_false(alua_command_allowed(ALUA_UNAVAILABLE, data_read, &asc));
	assert_false(alua_command_allowed(ALUA_UNAVAILABLE, rsoc, &asc));

	/* Transitioning: the same but SET TARGET PORT GROUPS. */
	assert_false(alua_command_allowed(ALUA_TRANSITIONING, read10, &asc));
	assert_int_equal(asc, ASC_LU_NOT_ACCESSIBLE_TRANSITIONING);
	assert_false(alua_command_allowed(ALUA_TRANSITIONING, stpg_cdb, &asc));
	assert_int_equal(asc, ASC_LU_NOT_ACCESSIBLE_TRANSITIONING);
	assert_true(alua_command_allowed(ALUA_TRANSITIONING, rtpg, &asc));
	assert_true(alua_command_allowed(ALUA_TRANSITIONING, inquiry, &asc));

	/* Offline: only what tells the initiator what happened. */
	assert_false(alua_command_allowed(ALUA_OFFLINE, read10, &asc));
	assert_int_equal(asc, 0x0412);
	assert_false(alua_command_allowed(ALUA_OFFLINE, stpg_cdb, &asc));
	assert_true(alua_command_allowed(ALUA_OFFLINE, rtpg, &asc));
	assert_true(alua_command_allowed(ALUA_OFFLINE, inquiry, &asc));

	/* Standby: the longer list. */
	assert_true(alua_command_allowed(ALUA_STANDBY, mode_sense, &asc));
	assert_true(alua_command_allowed(ALUA_STANDBY, pr_in, &asc));
	assert_false(alua_command_allowed(ALUA_STANDBY, rsoc, &asc));
	assert_int_equal(asc, ASC_LU_NOT_ACCESSIBLE_STANDBY);

	/* An unknown state is treated as unavailable. */
	assert_false(alua_command_allowed(0x09, read10, &asc));
	assert_int_equal(asc, ASC_LU_NOT_ACCESSIBLE_UNAVAILABLE);

	assert_string_equal(alua_state_name(ALUA_ACTIVE_NON_OPTIMIZED), "active-non-optimized");
	assert_string_equal(alua_state_name(0x09), "unknown");
}

/* ---------------------------------------------------------------------
 * The admin's implicit transition (the alua_set request)
 */

struct done_record {
	bool called;
	int result;
};

static void record_done(void *ctx, int result)
{
	struct done_record *d = ctx;

	d->called = true;
	d->result = result;
}

static int admin_set(struct fixture *f, const char *json, struct done_record *done, char *err,
		     size_t errlen)
{
	json_object *req = json_tokener_parse(json);
	int r;

	assert_non_null(req);
	memset(done, 0, sizeof(*done));
	err[0] = '\0';
	r = alua_request_submit(&f->h.gw, req, record_done, done, err, errlen);
	json_object_put(req);
	harness_drain(&f->h);
	return r;
}

static void test_admin_transition(void **state)
{
	struct fixture *f = *state;
	struct harness_result r = { 0 };
	struct done_record done;
	uint8_t cdb[12], read10[10] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
	char err[512], json[512];

	snprintf(json, sizeof(json),
		 "{\"request\":\"alua_set\",\"target\":\"%s\",\"lun\":0,\"state\":\"transitioning\"}",
		 f->h.target->iqn);
	assert_int_equal(admin_set(f, json, &done, err, sizeof(err)), 0);
	assert_true(done.called);
	assert_int_equal(done.result, 0);
	assert_int_equal(group(f->lu, 1)->state, ALUA_TRANSITIONING);
	assert_int_equal(group(f->lu, 1)->status, ALUA_STATUS_IMPLICIT);

	/* SPC-4 5.16.2.2: every nexus gets the UA, then the state answers. */
	tur(f, f->a, &r);
	expect_sense(&r, SK_UNIT_ATTENTION, ASC_ASYMMETRIC_ACCESS_STATE_CHANGED);
	tur(f, f->b, &r);
	expect_sense(&r, SK_UNIT_ATTENTION, ASC_ASYMMETRIC_ACCESS_STATE_CHANGED);
	run(f, f->a, read10, 10, &r);
	expect_sense(&r, SK_NOT_READY, ASC_LU_NOT_ACCESSIBLE_TRANSITIONING);
	assert_int_equal(stpg_one(f, f->a, ALUA_ACTIVE_OPTIMIZED, 1, &r), SAM_STAT_CHECK_CONDITION);
	expect_sense(&r, SK_NOT_READY, ASC_LU_NOT_ACCESSIBLE_TRANSITIONING);
	rtpg_cdb(cdb, 0, 64);
	assert_int_equal(run(f, f->b, cdb, 12, &r), SAM_STAT_GOOD);
	assert_int_equal(r.data[4] & 0x0f, ALUA_TRANSITIONING);
	assert_int_equal(r.data[9], ALUA_STATUS_IMPLICIT);

	/* Through an explicit group id, back to active/optimized. */
	snprintf(json, sizeof(json),
		 "{\"request\":\"alua_set\",\"target\":\"%s\",\"lun\":0,\"tpg\":1,"
		 "\"state\":\"active-optimized\",\"id\":5}", f->h.target->iqn);
	assert_int_equal(admin_set(f, json, &done, err, sizeof(err)), 0);
	assert_true(done.called);
	assert_int_equal(group(f->lu, 1)->state, ALUA_ACTIVE_OPTIMIZED);
	tur(f, f->b, &r);
	expect_sense(&r, SK_UNIT_ATTENTION, ASC_ASYMMETRIC_ACCESS_STATE_CHANGED);
	assert_int_equal(run(f, f->b, read10, 10, &r), SAM_STAT_GOOD);

	/* Bad requests are refused before anything is submitted. */
	snprintf(json, sizeof(json), "{\"request\":\"alua_set\",\"target\":\"%s\",\"lun\":0,"
		 "\"state\":\"sleepy\"}", f->h.target->iqn);
	assert_int_equal(admin_set(f, json, &done, err, sizeof(err)), -EINVAL);
	assert_false(done.called);
	assert_non_null(strstr(err, "state:"));
	snprintf(json, sizeof(json), "{\"request\":\"alua_set\",\"target\":\"%s\",\"lun\":9,"
		 "\"state\":\"standby\"}", f->h.target->iqn);
	assert_int_equal(admin_set(f, json, &done, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "lun:"));
	snprintf(json, sizeof(json), "{\"request\":\"alua_set\",\"target\":\"%s\",\"lun\":0,"
		 "\"tpg\":7,\"state\":\"standby\"}", f->h.target->iqn);
	assert_int_equal(admin_set(f, json, &done, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "tpg:"));
	assert_int_equal(admin_set(f, "{\"request\":\"alua_set\",\"target\":\"iqn.2026-01.x:none\","
				   "\"lun\":0,\"state\":\"standby\"}", &done, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "target:"));
	assert_int_equal(admin_set(f, "{\"request\":\"alua_set\",\"lun\":0,\"state\":\"standby\"}",
				   &done, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "target: missing"));
	snprintf(json, sizeof(json), "{\"request\":\"alua_set\",\"target\":\"%s\",\"lun\":0,"
		 "\"state\":\"standby\",\"colour\":1}", f->h.target->iqn);
	assert_int_equal(admin_set(f, json, &done, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "colour:"));
	assert_false(done.called);
	assert_int_equal(group(f->lu, 1)->state, ALUA_ACTIVE_OPTIMIZED);
	tur(f, f->a, &r);                       /* the UA of the change back only */
	expect_sense(&r, SK_UNIT_ATTENTION, ASC_ASYMMETRIC_ACCESS_STATE_CHANGED);
	assert_int_equal(tur(f, f->a, &r), SAM_STAT_GOOD);
	harness_result_free(&r);
}

/* ---------------------------------------------------------------------
 * Policy and membership (the cluster's implicit transitions)
 */

static void test_preferred_policy_and_failover(void **state)
{
	struct fixture *f = *state;
	struct harness_result r = { 0 };
	struct lu_alua_policy policy = {
		.kind = ALUA_POLICY_PREFERRED, .others = ALUA_STANDBY, .preferred_node = 2,
	};
	uint32_t three[] = { 3, 1, 2 }, two[] = { 1, 3 };
	uint8_t cdb[12], read10[10] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0 };

	/* Three nodes, node 2 preferred: node 1's group is standby. */
	alua_lu_set_policy(f->lu, &policy);
	alua_set_members(&f->h.gw, three, 3);
	assert_int_equal(f->h.gw.n_members, 3);
	rtpg_cdb(cdb, 0, 256);
	tur(f, f->a, &r);
	expect_sense(&r, SK_UNIT_ATTENTION, ASC_ASYMMETRIC_ACCESS_STATE_CHANGED);
	assert_int_equal(run(f, f->a, cdb, 12, &r), SAM_STAT_GOOD);
	assert_int_equal(get_be32(r.data), 3 * 12);
	assert_int_equal(get_be16(r.data + 4 + 2), 1);          /* ascending by id */
	assert_int_equal(r.data[4], ALUA_STANDBY);
	assert_int_equal(get_be16(r.data + 16 + 2), 2);
	assert_int_equal(r.data[16], 0x80 | ALUA_ACTIVE_OPTIMIZED);   /* PREF */
	assert_int_equal(get_be16(r.data + 28 + 2), 3);
	assert_int_equal(r.data[28], ALUA_STANDBY);
	assert_int_equal(get_be16(r.data + 28 + 10), 3);        /* its port */
	run(f, f->a, read10, 10, &r);
	expect_sense(&r, SK_NOT_READY, ASC_LU_NOT_ACCESSIBLE_STANDBY);

	/* Node 2 leaves: the lowest member (this node) takes over; the
	 * departed group stays listed, Unavailable. */
	alua_set_members(&f->h.gw, two, 2);
	assert_int_equal(f->lu->alua.n_groups, 3);
	assert_int_equal(group(f->lu, 2)->state, ALUA_UNAVAILABLE);
	assert_int_equal(group(f->lu, 1)->state, ALUA_ACTIVE_OPTIMIZED);
	assert_int_equal(group(f->lu, 1)->status, ALUA_STATUS_IMPLICIT);
	assert_false(group(f->lu, 1)->preferred);
	assert_int_equal(group(f->lu, 3)->state, ALUA_STANDBY);
	run(f, f->a, read10, 10, &r);
	expect_sense(&r, SK_UNIT_ATTENTION, ASC_ASYMMETRIC_ACCESS_STATE_CHANGED);
	assert_int_equal(run(f, f->a, read10, 10, &r), SAM_STAT_GOOD);

	/* It comes back: the role returns to the preferred node. */
	alua_set_members(&f->h.gw, three, 3);
	assert_int_equal(group(f->lu, 2)->state, ALUA_ACTIVE_OPTIMIZED);
	assert_true(group(f->lu, 2)->preferred);
	assert_int_equal(group(f->lu, 1)->state, ALUA_STANDBY);

	/* A membership that changes nothing for the LU raises no UA. */
	tur(f, f->b, &r);
	expect_sense(&r, SK_UNIT_ATTENTION, ASC_ASYMMETRIC_ACCESS_STATE_CHANGED);
	alua_set_members(&f->h.gw, three, 3);
	run(f, f->b, cdb, 12, &r);
	assert_int_equal(r.status, SAM_STAT_GOOD);

	/* Active/active: every group optimized, none preferred. */
	policy.kind = ALUA_POLICY_ALL_OPTIMIZED;
	alua_lu_set_policy(f->lu, &policy);
	for (unsigned i = 0; i < f->lu->alua.n_groups; i++) {
		assert_int_equal(f->lu->alua.groups[i].state, ALUA_ACTIVE_OPTIMIZED);
		assert_false(f->lu->alua.groups[i].preferred);
	}
	tur(f, f->a, &r);
	expect_sense(&r, SK_UNIT_ATTENTION, ASC_ASYMMETRIC_ACCESS_STATE_CHANGED);
	assert_int_equal(run(f, f->a, read10, 10, &r), SAM_STAT_GOOD);
	harness_result_free(&r);
}

static int config_request(struct fixture *f, const char *json, char *err, size_t errlen)
{
	json_object *req = json_tokener_parse(json);
	int r;

	assert_non_null(req);
	r = config_prepare_request(&f->h.gw, req, err, errlen);
	if (r == 0) {
		const char *text = json_object_to_json_string(req);

		r = config_apply_request(&f->h.gw, text, strlen(text), err, errlen);
	}
	json_object_put(req);
	return r;
}

static void test_policy_in_configuration(void **state)
{
	struct fixture *f = *state;
	struct lu *lu;
	json_object *dump, *targets, *luns, *alua, *groups, *v;
	char err[512], json[1024];

	/* lun_add with a policy: node 5 is not a member, so this node (the
	 * lowest) is Active/Optimized, without the PREF bit. */
	snprintf(json, sizeof(json),
		 "{\"request\":\"lun_add\",\"target\":\"%s\",\"lun\":1,\"spec\":\"null,size=1M\","
		 "\"alua\":{\"policy\":\"preferred\",\"preferred_node\":5,\"others\":\"standby\"}}",
		 f->h.target->iqn);
	assert_int_equal(config_request(f, json, err, sizeof(err)), 0);
	lu = target_find_lu(f->h.target, 1);
	assert_non_null(lu);
	assert_int_equal(lu->spec.alua.kind, ALUA_POLICY_PREFERRED);
	assert_int_equal(lu->spec.alua.preferred_node, 5);
	assert_int_equal(lu->alua.n_groups, 1);
	assert_int_equal(lu->alua.groups[0].state, ALUA_ACTIVE_OPTIMIZED);
	assert_false(lu->alua.groups[0].preferred);

	/* The policy is written back; "list" adds the port groups. */
	dump = config_dump(&f->h.gw, CONFIG_DUMP_RUNTIME);
	assert_true(json_object_object_get_ex(dump, "targets", &targets));
	assert_true(json_object_object_get_ex(json_object_array_get_idx(targets, 0), "luns", &luns));
	assert_true(json_object_object_get_ex(json_object_array_get_idx(luns, 1), "alua", &alua));
	assert_true(json_object_object_get_ex(alua, "others", &v));
	assert_string_equal(json_object_get_string(v), "standby");
	assert_true(json_object_object_get_ex(json_object_array_get_idx(luns, 1), "port_groups", &groups));
	assert_true(json_object_object_get_ex(json_object_array_get_idx(groups, 0), "state", &v));
	assert_string_equal(json_object_get_string(v), "active-optimized");
	json_object_put(dump);
	dump = config_dump(&f->h.gw, 0);
	assert_true(json_object_object_get_ex(dump, "targets", &targets));
	assert_true(json_object_object_get_ex(json_object_array_get_idx(targets, 0), "luns", &luns));
	assert_false(json_object_object_get_ex(json_object_array_get_idx(luns, 0), "alua", &alua));
	assert_true(json_object_object_get_ex(json_object_array_get_idx(luns, 1), "alua", &alua));
	assert_false(json_object_object_get_ex(json_object_array_get_idx(luns, 1), "port_groups", &groups));
	json_object_put(dump);

	/* Mistakes name the field. */
	snprintf(json, sizeof(json),
		 "{\"request\":\"lun_add\",\"target\":\"%s\",\"spec\":\"null,size=1M\","
		 "\"alua\":{\"policy\":\"preferred\",\"preferred_node\":2,\"others\":\"unavailable\"}}",
		 f->h.target->iqn);
	assert_int_equal(config_request(f, json, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "alua.others"));
	snprintf(json, sizeof(json),
		 "{\"request\":\"lun_add\",\"target\":\"%s\",\"backstore\":\"null\",\"size\":\"1M\","
		 "\"alua\":{\"policy\":\"preferred\"}}", f->h.target->iqn);
	assert_int_equal(config_request(f, json, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "alua.preferred_node"));
	snprintf(json, sizeof(json),
		 "{\"request\":\"lun_add\",\"target\":\"%s\",\"spec\":\"null,size=1M\","
		 "\"alua\":{\"policy\":\"sometimes\"}}", f->h.target->iqn);
	assert_int_equal(config_request(f, json, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "alua.policy"));

	/* A reload that changes only the policy keeps the LU and applies the
	 * new states in place, telling the sessions. */
	snprintf(json, sizeof(json),
		 "{\"request\":\"config_replace\",\"config\":{\"targets\":[{\"iqn\":\"%s\","
		 "\"demo_mode\":true,\"luns\":["
		 "{\"lun\":0,\"backstore\":\"null\",\"size\":\"64M\",\"alua\":{\"policy\":\"preferred\","
		 "\"preferred_node\":2,\"others\":\"active-non-optimized\"}},"
		 "{\"lun\":1,\"backstore\":\"null\",\"size\":\"1M\"}]}]}}", f->h.target->iqn);
	assert_int_equal(config_request(f, json, err, sizeof(err)), 0);
	assert_ptr_equal(target_find_lu(f->h.target, 0), f->lu);
	assert_int_equal(f->lu->spec.alua.kind, ALUA_POLICY_PREFERRED);
	assert_int_equal(group(f->lu, 1)->state, ALUA_ACTIVE_OPTIMIZED);   /* node 2 is absent */
	assert_ptr_equal(target_find_lu(f->h.target, 1), lu);
	assert_int_equal(lu->spec.alua.kind, ALUA_POLICY_ALL_OPTIMIZED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rtpg_length_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rtpg_lists_other_target_ports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_target_ports_apply_and_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rtpg_extended_and_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inquiry_tpgs_and_designator, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stpg_each_state_and_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stpg_bad_parameter_lists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stpg_reservation_conflict, setup, teardown),
		cmocka_unit_test_setup_teardown(test_standby_filtering, setup, teardown),
		cmocka_unit_test(test_state_table),
		cmocka_unit_test_setup_teardown(test_admin_transition, setup, teardown),
		cmocka_unit_test_setup_teardown(test_preferred_policy_and_failover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_in_configuration, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
