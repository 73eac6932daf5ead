/* The SCSI target core through a gateway without network (core_harness):
 * SPC-4 commands (spc.c), the dispatcher's checks (scsi_dispatch.c), unit
 * attentions (ua.c), task attributes (task_set.c) and task management
 * (tmf.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../gateway/event_loop.h"
#include "../../gateway/scsi/sbc.h"
#include "../../gateway/scsi/sense.h"
#include "../../gateway/util.h"
#include "core_harness.h"

struct fixture {
	struct harness h;
	struct lu *null_lu;             /* LUN 0 */
	struct lu *file_lu;             /* LUN 3, thin file */
	struct it_nexus *a, *b;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct harness_result r;
	uint8_t tur[6] = { 0 };

	harness_init(&f->h);
	f->null_lu = harness_add_lu(&f->h, 0, "null,size=64M");
	f->file_lu = harness_add_lu(&f->h, 3, "file:lu3.img,size=16M,thin=1");
	assert_non_null(f->null_lu);
	assert_non_null(f->file_lu);
	f->a = harness_nexus(&f->h, "iqn.2026-01.test:a", 1);
	f->b = harness_nexus(&f->h, "iqn.2026-01.test:b", 2);
	/* Clear the power-on unit attentions, as initiators do at login. */
	for (int lun = 0; lun <= 3; lun += 3) {
		harness_run(&f->h, f->a, lun, tur, 6, SCSI_DIR_NONE, NULL, 0, 0, &r);
		harness_run(&f->h, f->b, lun, tur, 6, SCSI_DIR_NONE, NULL, 0, 0, &r);
	}
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

static uint8_t run(struct fixture *f, struct it_nexus *nx, uint64_t lun, const uint8_t *cdb,
		   unsigned len, struct harness_result *r)
{
	return harness_run(&f->h, nx, lun, cdb, len, SCSI_DIR_IN, NULL, 0, 0, r);
}

static void inquiry_cdb(uint8_t *cdb, bool evpd, uint8_t page, uint16_t alloc)
{
	memset(cdb, 0, 6);
	cdb[0] = 0x12;
	cdb[1] = evpd ? 1 : 0;
	cdb[2] = page;
	put_be16(cdb + 3, alloc);
}

static void expect_sense(const struct harness_result *r, uint8_t key, uint16_t asc)
{
	assert_int_equal(r->status, SAM_STAT_CHECK_CONDITION);
	assert_int_equal(r->sense_key, key);
	assert_int_equal(r->asc_ascq, asc);
}

/* ---------------------------------------------------------------------
 * INQUIRY
 */

static void test_inquiry_standard(void **state)
{
	struct fixture *f = *state;
	struct harness_result r;
	uint8_t cdb[6];

	inquiry_cdb(cdb, false, 0, 255);
	assert_int_equal(run(f, f->a, 0, cdb, 6, &r), SAM_STAT_GOOD);
	assert_int_equal(r.data_len, 96);
	assert_int_equal(r.data[0], 0x00);              /* connected direct-access device */
	assert_int_equal(r.data[1], 0x00);              /* not removable */
	assert_int_equal(r.data[2], 0x06);              /* SPC-4 */
	assert_int_equal(r.data[3], 0x12);              /* HISUP, format 2 */
	assert_int_equal(r.data[4], 91);
	assert_int_equal(r.data[5] & 0x30, 0x30);       /* TPGS implicit and explicit */
	assert_int_equal(r.data[7] & 0x02, 0x02);       /* CMDQUE */
	assert_memory_equal(r.data + 8, "SANGW   ", 8);
	assert_int_equal(get_be16(r.data + 58), 0x00a0);
	assert_int_equal(get_be16(r.data + 60), 0x0960);
	assert_int_equal(get_be16(r.data + 62), 0x0460);
	assert_int_equal(get_be16(r.data + 64), 0x04c0);
	harness_result_free(&r);
}

static void test_inquiry_alloc_length(void **state)
{
	struct fixture *f = *state;
	struct harness_result r;
	uint8_t cdb[6];

	inquiry_cdb(cdb, false, 0, 5);
	assert_int_equal(run(f, f->a, 0, cdb, 6, &r), SAM_STAT_GOOD);
	assert_int_equal(r.data_len, 5);
	assert_int_equal(r.transfer_len, 5);
	assert_int_equal(r.data[4], 91);                /* length of the whole data */
	harness_result_free(&r);

	inquiry_cdb(cdb, false, 0, 0);
	assert_int_equal(run(f, f->a, 0, cdb, 6, &r), SAM_STAT_GOOD);
	assert_int_equal(r.data_len, 0);
	assert_int_equal(r.transfer_len, 0);
	harness_result_free(&r);

	/* EVPD=0 with a page code is an error pointing at byte 2. */
	inquiry_cdb(cdb, false, 0x80, 255);
	run(f, f->a, 0, cdb, 6, &r);
	expect_sense(&r, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	assert_int_equal(r.sense[15], 0xc0);            /* SKSV, C/D */
	assert_int_equal(get_be16(r.sense + 16), 2);
}

static void test_inquiry_vpd_pages(void **state)
{
	struct fixture *f = *state;
	struct harness_result r;
	uint8_t cdb[6];
	unsigned pos;

	inquiry_cdb(cdb, true, 0x00, 255);
	assert_int_equal(run(f, f->a, 3, cdb, 6, &r), SAM_STAT_GOOD);
	assert_int_equal(r.data[1], 0x00);
	assert_int_equal(get_be16(r.data + 2), 7);
	assert_memory_equal(r.data + 4, ((uint8_t[]){ 0x00, 0x80, 0x83, 0x86, 0xb0, 0xb1, 0xb2 }), 7);
	harness_result_free(&r);

	inquiry_cdb(cdb, true, 0x80, 255);
	assert_int_equal(run(f, f->a, 3, cdb, 6, &r), SAM_STAT_GOOD);
	assert_int_equal(get_be16(r.data + 2), 32);
	assert_memory_equal(r.data + 4, f->file_lu->serial, 32);
	harness_result_free(&r);

	/* Device identification: NAA first, then relative port, port
	 * group and the two SCSI name strings. */
	inquiry_cdb(cdb, true, 0x83, 255);
	assert_int_equal(run(f, f->a, 3, cdb, 6, &r), SAM_STAT_GOOD);
	assert_int_equal(get_be16(r.data + 2) + 4, r.data_len);
	pos = 4;
	assert_int_equal(r.data[pos], 0x01);
	assert_int_equal(r.data[pos + 1], 0x03);
	assert_int_equal(r.data[pos + 3], 16);
	assert_memory_equal(r.data + pos + 4, f->file_lu->naa, 16);
	assert_int_equal(r.data[pos + 4] >> 4, 6);      /* NAA 6 */
	pos += 20;
	assert_int_equal(r.data[pos + 1], 0x14);        /* target port, relative port */
	assert_int_equal(get_be16(r.data + pos + 6), f->a->rel_tgt_port_id);
	pos += 8;
	assert_int_equal(r.data[pos + 1], 0x15);        /* target port, port group */
	assert_int_equal(get_be16(r.data + pos + 6), f->a->tpg_id);
	pos += 8;
	assert_int_equal(r.data[pos], 0x53);            /* iSCSI, UTF-8 */
	assert_int_equal(r.data[pos + 1], 0x98);        /* PIV, target port, name string */
	assert_int_equal(r.data[pos + 3] % 4, 0);
	assert_string_equal((const char *)r.data + pos + 4, f->a->target_port);
	pos += 4 + r.data[pos + 3];
	assert_int_equal(r.data[pos + 1], 0xa8);        /* PIV, target device, name string */
	assert_string_equal((const char *)r.data + pos + 4, f->h.target->iqn);
	pos += 4 + r.data[pos + 3];
	assert_int_equal(pos, r.data_len);
	harness_result_free(&r);

	inquiry_cdb(cdb, true, 0xb0, 255);
	assert_int_equal(run(f, f->a, 3, cdb, 6, &r), SAM_STAT_GOOD);
	assert_int_equal(r.data_len, 64);
	assert_int_equal(get_be16(r.data + 2), 0x3c);
	assert_int_equal(get_be32(r.data + 8), SBC_MAX_TRANSFER_BYTES / 512); /* MAXIMUM TRANSFER LENGTH */
	assert_true(get_be32(r.data + 20) > 0);                     /* thin: UNMAP limits */
	assert_true(get_be32(r.data + 24) > 0);
	harness_result_free(&r);

	inquiry_cdb(cdb, true, 0xb1, 255);
	assert_int_equal(run(f, f->a, 3, cdb, 6, &r), SAM_STAT_GOOD);
	assert_int_equal(get_be16(r.data + 4), 1);                  /* non-rotating */
	harness_result_free(&r);

	inquiry_cdb(cdb, true, 0xb2, 255);
	assert_int_equal(run(f, f->a, 3, cdb, 6, &r), SAM_STAT_GOOD);
	assert_int_equal(r.data[5] & 0xe0, 0xe0);                   /* LBPU, LBPWS, LBPWS10 */
	assert_int_equal(r.data[6] & 0x07, 0x02);                   /* thin */
	harness_result_free(&r);
	/* The null LU is fully provisioned. */
	assert_int_equal(run(f, f->a, 0, cdb, 6, &r), SAM_STAT_GOOD);
	assert_int_equal(r.data[5], 0);
	harness_result_free(&r);
	inquiry_cdb(cdb, true, 0xb0, 255);
	assert_int_equal(run(f, f->a, 0, cdb, 6, &r), SAM_STAT_GOOD);
	assert_int_equal(get_be32(r.data + 20), 0);
	harness_result_free(&r);

	inquiry_cdb(cdb, true, 0x99, 255);
	run(f, f->a, 3, cdb, 6, &r);
	expect_sense(&r, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
}

/* An FC nexus (fabric/fcoe/): its TransportID says protocol FC. */
static unsigned fc_transport_id(const struct it_nexus *nx, uint8_t *buf, unsigned len)
{
	(void)nx;
	if (len < 24)
		return 0;
	memset(buf, 0, 24);               /* SPC-4 7.6.4.2: protocol 0, FORMAT 00b */
	put_be64(buf + 8, 0x2fff000000000001ULL);
	return 24;
}

/* VPD page 0x83 through an FC target port names it by its N_Port_Name:
 * an NAA designator with PIV and protocol identifier FC (SPC-4 7.8.6.6),
 * not an iSCSI name string. */
static void test_vpd83_fc_port(void **state)
{
	struct fixture *f = *state;
	struct fabric_ops fc_ops = *f->a->fabric;
	struct harness_result r;
	uint8_t cdb[6];
	unsigned pos = 4 + 20 + 8 + 8;

	fc_ops.transport_id = fc_transport_id;
	f->a->fabric = &fc_ops;
	str_copy(f->a->target_port, "naa.2000005347570010", sizeof(f->a->target_port));
	inquiry_cdb(cdb, true, 0x83, 255);
	assert_int_equal(run(f, f->a, 3, cdb, 6, &r), SAM_STAT_GOOD);
	assert_int_equal(r.data[pos], 0x01);            /* FC, binary */
	assert_int_equal(r.data[pos + 1], 0x93);        /* PIV, target port, NAA */
	assert_int_equal(r.data[pos + 3], 8);
	assert_int_equal(get_be64(r.data + pos + 4), 0x2000005347570010ULL);
	pos += 12;
	assert_int_equal(r.data[pos + 1], 0xa8);        /* the target device's name string */
	pos += 4 + r.data[pos + 3];
	assert_int_equal(pos, r.data_len);
	harness_result_free(&r);
	f->a->fabric = f->b->fabric;
}

static void test_unsupported_lun(void **state)
{
	struct fixture *f = *state;
	struct harness_result r;
	uint8_t cdb[12] = { 0 };

	inquiry_cdb(cdb, false, 0, 255);
	assert_int_equal(run(f, f->a, 7, cdb, 6, &r), SAM_STAT_GOOD);
	assert_int_equal(r.data[0], 0x7f);              /* qualifier 011b, type 1Fh */
	harness_result_free(&r);

	memset(cdb, 0, sizeof(cdb));                    /* TEST UNIT READY */
	run(f, f->a, 7, cdb, 6, &r);
	expect_sense(&r, SK_ILLEGAL_REQUEST, ASC_LU_NOT_SUPPORTED);

	cdb[0] = 0x03;                                  /* REQUEST SENSE */
	cdb[4] = 252;
	assert_int_equal(run(f, f->a, 7, cdb, 6, &r), SAM_STAT_GOOD);
	assert_int_equal(r.data[0], 0x70);
	assert_int_equal(r.data[2], SK_ILLEGAL_REQUEST);
	assert_int_equal(r.data[12], 0x25);
	harness_result_free(&r);

	/* REPORT LUNS answers through any LUN. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0xa0;
	put_be32(cdb + 6, 4096);
	assert_int_equal(run(f, f->a, 7, cdb, 12, &r), SAM_STAT_GOOD);
	harness_result_free(&r);
}

static void test_report_luns(void **state)
{
	struct fixture *f = *state;
	struct harness_result r;
	uint8_t cdb[12] = { 0xa0 };

	put_be32(cdb + 6, 4096);
	assert_int_equal(run(f, f->a, 0, cdb, 12, &r), SAM_STAT_GOOD);
	assert_int_equal(r.data_len, 24);
	assert_int_equal(get_be32(r.data), 16);
	assert_memory_equal(r.data + 8, ((uint8_t[8]){ 0, 0 }), 8);
	assert_memory_equal(r.data + 16, ((uint8_t[8]){ 0, 3 }), 8);
	harness_result_free(&r);

	put_be32(cdb + 6, 15);
	run(f, f->a, 0, cdb, 12, &r);
	expect_sense(&r, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);

	put_be32(cdb + 6, 16);
	cdb[2] = 0x01;                                  /* well-known LUs only: none */
	assert_int_equal(run(f, f->a, 0, cdb, 12, &r), SAM_STAT_GOOD);
	assert_int_equal(get_be32(r.data), 0);
	harness_result_free(&r);
	cdb[2] = 0x07;
	run(f, f->a, 0, cdb, 12, &r);
	expect_sense(&r, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
}

/* ---------------------------------------------------------------------
 * Unit attentions
 */

static void test_ua_after_registration(void **state)
{
	struct fixture *f = *state;
	struct it_nexus *c = harness_nexus(&f->h, "iqn.2026-01.test:c", 3);
	struct harness_result r;
	uint8_t tur[6] = { 0 }, inq[6], rs[6] = { 0x03, 0, 0, 0, 252, 0 };

	/* INQUIRY neither reports nor clears it (SAM-5 5.14). */
	inquiry_cdb(inq, false, 0, 96);
	assert_int_equal(run(f, c, 0, inq, 6, &r), SAM_STAT_GOOD);
	harness_result_free(&r);
	run(f, c, 0, tur, 6, &r);
	expect_sense(&r, SK_UNIT_ATTENTION, ASC_POWER_ON_RESET);
	assert_int_equal(run(f, c, 0, tur, 6, &r), SAM_STAT_GOOD);

	/* LUN 3 still has its own; REQUEST SENSE returns and clears it,
	 * in descriptor format when DESC is set. */
	rs[1] = 0x01;
	assert_int_equal(run(f, c, 3, rs, 6, &r), SAM_STAT_GOOD);
	assert_int_equal(r.data[0], 0x72);
	assert_int_equal(r.data[1], SK_UNIT_ATTENTION);
	assert_int_equal(r.data[2], 0x29);
	harness_result_free(&r);
	rs[1] = 0;
	assert_int_equal(run(f, c, 3, rs, 6, &r), SAM_STAT_GOOD);
	assert_int_equal(r.data[2], SK_NO_SENSE);
	assert_int_equal(r.data[12], 0);
	harness_result_free(&r);
	assert_int_equal(run(f, c, 3, tur, 6, &r), SAM_STAT_GOOD);
	harness_nexus_free(&f->h, c);
}

/* ---------------------------------------------------------------------
 * MODE SENSE / MODE SELECT
 */

/* Find a page in MODE SENSE(6) data; NULL if absent. */
static const uint8_t *find_page(const struct harness_result *r, uint8_t code)
{
	unsigned pos = 4 + r->data[3];

	while (pos + 2 <= r->data_len) {
		if ((r->data[pos] & 0x3f) == code)
			return r->data + pos;
		pos += 2u + r->data[pos + 1];
	}
	return NULL;
}

static void mode_sense6(struct fixture *f, struct it_nexus *nx, uint64_t lun, uint8_t pc_page,
			bool dbd, struct harness_result *r)
{
	uint8_t cdb[6] = { 0x1a, dbd ? 0x08 : 0, pc_page, 0, 255, 0 };

	run(f, nx, lun, cdb, 6, r);
}

static void test_mode_sense(void **state)
{
	struct fixture *f = *state;
	struct harness_result r;
	const uint8_t *p;
	uint8_t cdb10[10] = { 0x5a, 0x10, 0x3f, 0, 0, 0, 0, 0x01, 0x00, 0 };

	mode_sense6(f, f->a, 3, 0x3f, false, &r);
	assert_int_equal(r.status, SAM_STAT_GOOD);
	assert_int_equal(r.data[0] + 1, r.data_len);
	assert_int_equal(r.data[2], 0x10);              /* DPOFUA, not write protected */
	assert_int_equal(r.data[3], 8);
	assert_int_equal(get_be32(r.data + 4), f->file_lu->num_blocks);
	assert_int_equal(get_be24(r.data + 9), 512);
	assert_non_null(find_page(&r, 0x01));
	assert_non_null((p = find_page(&r, 0x08)));
	assert_int_equal(p[1], 0x12);
	assert_int_equal(p[2] & 0x04, 0x04);            /* WCE */
	assert_non_null((p = find_page(&r, 0x0a)));
	assert_int_equal(p[2] & 0x04, 0);               /* D_SENSE off */
	assert_non_null(find_page(&r, 0x1c));
	harness_result_free(&r);

	/* Changeable values of the control page: D_SENSE and SWP. */
	mode_sense6(f, f->a, 3, 0x40 | 0x0a, true, &r);
	assert_int_equal(r.status, SAM_STAT_GOOD);
	assert_int_equal(r.data[3], 0);
	p = r.data + 4;
	assert_int_equal(p[0], 0x0a);
	assert_int_equal(p[2], 0x04);
	assert_int_equal(p[4], 0x08);
	harness_result_free(&r);

	/* MODE SENSE(10) with LLBAA: long block descriptor. */
	run(f, f->a, 3, cdb10, 10, &r);
	assert_int_equal(r.status, SAM_STAT_GOOD);
	assert_int_equal(get_be16(r.data) + 2, r.data_len);
	assert_int_equal(r.data[4] & 1, 1);
	assert_int_equal(get_be16(r.data + 6), 16);
	assert_int_equal(get_be64(r.data + 8), f->file_lu->num_blocks);
	harness_result_free(&r);

	mode_sense6(f, f->a, 3, 0xc0 | 0x0a, false, &r);   /* saved values */
	expect_sense(&r, SK_ILLEGAL_REQUEST, ASC_SAVING_PARAMETERS_NOT_SUPPORTED);
	mode_sense6(f, f->a, 3, 0x22, false, &r);
	expect_sense(&r, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
}

/* MODE SELECT(6) of one control page built from the current one. */
static uint8_t select_control(struct fixture *f, struct it_nexus *nx, uint64_t lun,
			      bool d_sense, bool swp, uint8_t qam, struct harness_result *r)
{
	uint8_t data[4 + 12], cdb[6] = { 0x15, 0x10, 0, 0, sizeof(data), 0 };
	struct harness_result cur;
	const uint8_t *p;

	mode_sense6(f, nx, lun, 0x0a, true, &cur);
	assert_int_equal(cur.status, SAM_STAT_GOOD);
	p = find_page(&cur, 0x0a);
	assert_non_null(p);
	memset(data, 0, 4);
	memcpy(data + 4, p, 12);
	harness_result_free(&cur);
	data[4 + 2] = (uint8_t)((data[4 + 2] & ~0x04) | (d_sense ? 0x04 : 0));
	data[4 + 4] = (uint8_t)((data[4 + 4] & ~0x08) | (swp ? 0x08 : 0));
	data[4 + 3] = (uint8_t)((data[4 + 3] & 0x0f) | qam << 4);
	return harness_run(&f->h, nx, lun, cdb, 6, SCSI_DIR_OUT, data, sizeof(data), 0, r);
}

static void test_mode_select_round_trip(void **state)
{
	struct fixture *f = *state;
	struct harness_result r;
	uint8_t tur[6] = { 0 }, bad_tur[6] = { 0, 0x01, 0, 0, 0, 0 };
	uint8_t write10[10] = { 0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0 }, block[512] = { 0 };
	uint8_t sp_cdb[6] = { 0x15, 0x11, 0, 0, 0, 0 };

	assert_int_equal(select_control(f, f->a, 3, true, false, 1, &r), SAM_STAT_GOOD);
	assert_true(f->file_lu->mode.d_sense);
	/* The other nexus learns of it once; the one that changed it not. */
	run(f, f->b, 3, tur, 6, &r);
	expect_sense(&r, SK_UNIT_ATTENTION, ASC_MODE_PARAMETERS_CHANGED);
	assert_int_equal(r.sense[0], 0x72);             /* now descriptor format */
	assert_int_equal(run(f, f->b, 3, tur, 6, &r), SAM_STAT_GOOD);
	assert_int_equal(run(f, f->a, 3, tur, 6, &r), SAM_STAT_GOOD);
	run(f, f->a, 3, bad_tur, 6, &r);
	expect_sense(&r, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	assert_int_equal(r.sense[0], 0x72);

	/* A bit that is not changeable (QAM) is refused, pointing at it. */
	select_control(f, f->a, 3, true, false, 0, &r);
	expect_sense(&r, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAMETER_LIST);
	/* SP=1: no saved pages. */
	run(f, f->a, 3, sp_cdb, 6, &r);
	expect_sense(&r, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);

	/* SWP: writes fail with DATA PROTECT, MODE SENSE shows WP. */
	assert_int_equal(select_control(f, f->a, 3, false, true, 1, &r), SAM_STAT_GOOD);
	harness_run(&f->h, f->a, 3, write10, 10, SCSI_DIR_OUT, block, sizeof(block), 0, &r);
	expect_sense(&r, SK_DATA_PROTECT, ASC_SOFTWARE_WRITE_PROTECTED);
	mode_sense6(f, f->a, 3, 0x3f, true, &r);
	assert_int_equal(r.data[2] & 0x80, 0x80);
	harness_result_free(&r);
	assert_int_equal(select_control(f, f->a, 3, false, false, 1, &r), SAM_STAT_GOOD);
	assert_int_equal(harness_run(&f->h, f->a, 3, write10, 10, SCSI_DIR_OUT, block,
				     sizeof(block), 0, &r), SAM_STAT_GOOD);
	/* b got two more MODE PARAMETERS CHANGED: reported once (deduplicated). */
	run(f, f->b, 3, tur, 6, &r);
	expect_sense(&r, SK_UNIT_ATTENTION, ASC_MODE_PARAMETERS_CHANGED);
	assert_int_equal(run(f, f->b, 3, tur, 6, &r), SAM_STAT_GOOD);
}

/* ---------------------------------------------------------------------
 * Opcodes, CDB checks, REPORT SUPPORTED OPERATION CODES
 */

static void test_opcode_checks(void **state)
{
	struct fixture *f = *state;
	struct harness_result r;
	uint8_t cdb[12] = { 0xc7 };

	run(f, f->a, 0, cdb, 6, &r);
	expect_sense(&r, SK_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);

	/* A supported opcode with an unsupported service action. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0xa3;
	cdb[1] = 0x1f;
	run(f, f->a, 0, cdb, 12, &r);
	expect_sense(&r, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);

	/* A reserved bit: TEST UNIT READY byte 4 bit 6. */
	memset(cdb, 0, sizeof(cdb));
	cdb[4] = 0x40;
	run(f, f->a, 0, cdb, 6, &r);
	expect_sense(&r, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	assert_int_equal(r.sense[15], 0xc0 | 0x08 | 6);
	assert_int_equal(get_be16(r.sense + 16), 4);
}

static void test_report_supported_opcodes(void **state)
{
	struct fixture *f = *state;
	struct harness_result r;
	uint8_t cdb[12] = { 0xa3, 0x0c, 0x00 };
	bool saw_inquiry = false, saw_rsoc = false;
	uint32_t n;

	put_be32(cdb + 6, 8192);
	assert_int_equal(run(f, f->a, 0, cdb, 12, &r), SAM_STAT_GOOD);
	n = get_be32(r.data);
	assert_int_equal(n + 4, r.data_len);
	for (uint32_t pos = 4; pos < 4 + n; pos += 8) {
		assert_int_equal(r.data[pos + 5] & 0x02, 0);    /* no CTDP without RCTD */
		if (r.data[pos] == 0x12)
			saw_inquiry = get_be16(r.data + pos + 6) == 6;
		if (r.data[pos] == 0xa3 && get_be16(r.data + pos + 2) == 0x0c)
			saw_rsoc = r.data[pos + 5] & 0x01;       /* SERVACTV */
		if (r.data[pos] == 0x42)
			fail_msg("UNMAP listed for a fully provisioned LU");
	}
	assert_true(saw_inquiry);
	assert_true(saw_rsoc);
	harness_result_free(&r);

	/* RCTD: every descriptor carries a timeouts descriptor. */
	cdb[2] = 0x80;
	assert_int_equal(run(f, f->a, 0, cdb, 12, &r), SAM_STAT_GOOD);
	n = get_be32(r.data);
	for (uint32_t pos = 4; pos < 4 + n; pos += 20) {
		assert_int_equal(r.data[pos + 5] & 0x02, 0x02);
		assert_int_equal(get_be16(r.data + pos + 8), 0x0a);
	}
	harness_result_free(&r);

	/* One command: INQUIRY, with its CDB usage data. */
	cdb[2] = 0x01;
	cdb[3] = 0x12;
	assert_int_equal(run(f, f->a, 0, cdb, 12, &r), SAM_STAT_GOOD);
	assert_int_equal(r.data[1] & 0x07, 0x03);
	assert_int_equal(get_be16(r.data + 2), 6);
	assert_int_equal(r.data[4], 0x12);
	assert_int_equal(r.data[5], 0x01);
	harness_result_free(&r);
	/* An unsupported opcode is reported as such. */
	cdb[3] = 0xc7;
	assert_int_equal(run(f, f->a, 0, cdb, 12, &r), SAM_STAT_GOOD);
	assert_int_equal(r.data[1] & 0x07, 0x01);
	harness_result_free(&r);
	/* Options 001b for an opcode with service actions is an error,
	 * 010b the way to ask. */
	cdb[3] = 0xa3;
	run(f, f->a, 0, cdb, 12, &r);
	expect_sense(&r, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	cdb[2] = 0x02;
	put_be16(cdb + 4, 0x0c);
	assert_int_equal(run(f, f->a, 0, cdb, 12, &r), SAM_STAT_GOOD);
	assert_int_equal(r.data[1] & 0x07, 0x03);
	assert_int_equal(r.data[4], 0xa3);
	harness_result_free(&r);
	cdb[3] = 0x12;
	run(f, f->a, 0, cdb, 12, &r);
	expect_sense(&r, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
}

static void test_report_target_port_groups(void **state)
{
	struct fixture *f = *state;
	struct harness_result r;
	uint8_t cdb[12] = { 0xa3, 0x0a };

	put_be32(cdb + 6, 256);
	assert_int_equal(run(f, f->a, 0, cdb, 12, &r), SAM_STAT_GOOD);
	assert_int_equal(get_be32(r.data), 12);
	assert_int_equal(r.data[4] & 0x0f, 0);          /* active/optimized */
	assert_int_equal(get_be16(r.data + 6), f->a->tpg_id);
	assert_int_equal(r.data[11], 1);
	assert_int_equal(get_be16(r.data + 14), f->a->rel_tgt_port_id);
	harness_result_free(&r);
}

/* ---------------------------------------------------------------------
 * Task attributes and task management, with a fabric of our own that
 * keeps several commands in flight.
 */

struct rec_task {
	struct scsi_cmd cmd;
	bool done;
	int order;
};

struct recorder {
	int next_order;
	unsigned tmf_done;
};

/* One recorder per process: the fabric callbacks have no context of
 * their own beyond the command. */
static struct recorder rec;

static void rec_cmd_done(struct scsi_cmd *cmd)
{
	struct rec_task *t = cmd->fabric_priv;

	t->done = true;
	t->order = ++rec.next_order;
}

static void rec_tmf_done(struct tmf_req *req)
{
	(void)req;
	rec.tmf_done++;
}

static void rec_drop(struct it_nexus *nx)
{
	(void)nx;
}

static const struct fabric_ops rec_fabric = {
	.name = "recorder", .cmd_done = rec_cmd_done, .tmf_done = rec_tmf_done, .drop = rec_drop,
};

static struct rec_task *submit(struct it_nexus *nx, uint64_t lun, const uint8_t *cdb,
			       uint8_t attr, uint64_t tag, uint32_t out_len)
{
	struct rec_task *t = calloc(1, sizeof(*t));

	t->cmd.nexus = nx;
	t->cmd.lun = lun;
	memcpy(t->cmd.cdb, cdb, 10);
	t->cmd.cdb_len = 16;
	t->cmd.task_attr = attr;
	t->cmd.tag = tag;
	t->cmd.fabric_priv = t;
	if (out_len) {
		t->cmd.dir = SCSI_DIR_OUT;
		assert_int_equal(scsi_cmd_ensure_buf(&t->cmd, out_len), 0);
		t->cmd.data_out_len = out_len;
		t->cmd.expected_len = out_len;
	}
	scsi_cmd_submit(&t->cmd);
	return t;
}

static void task_free(struct rec_task *t)
{
	scsi_cmd_free_buf(&t->cmd);
	free(t);
}

static struct it_nexus *rec_nexus(struct fixture *f, const char *name)
{
	struct it_nexus *nx = harness_nexus(&f->h, name, 9);
	struct harness_result r;
	uint8_t tur[6] = { 0 };

	harness_run(&f->h, nx, 3, tur, 6, SCSI_DIR_NONE, NULL, 0, 0, &r);
	nx->fabric = &rec_fabric;
	return nx;
}

static void drain_until(struct fixture *f, bool *flag)
{
	for (int i = 0; i < 100000 && !*flag; i++)
		event_loop_run_once(f->h.gw.loop, 10);
	assert_true(*flag);
}

static void test_ordered_task_blocks(void **state)
{
	struct fixture *f = *state;
	struct it_nexus *nx = rec_nexus(f, "iqn.2026-01.test:ordered");
	uint8_t write10[10] = { 0x2a, 0, 0, 0, 0, 0, 0, 0, 8, 0 }, tur[10] = { 0 };
	struct rec_task *w1, *w2, *ord, *s4, *hoq;

	memset(&rec, 0, sizeof(rec));
	w1 = submit(nx, 3, write10, TASK_SIMPLE, 1, 4096);
	w2 = submit(nx, 3, write10, TASK_SIMPLE, 2, 4096);
	ord = submit(nx, 3, tur, TASK_ORDERED, 3, 0);
	s4 = submit(nx, 3, tur, TASK_SIMPLE, 4, 0);
	/* The ORDERED one waits for both writes, the SIMPLE one behind it
	 * waits too; HEAD OF QUEUE runs at once. */
	assert_false(ord->done);
	assert_false(s4->done);
	assert_int_equal(ord->cmd.state, CMD_WAITING);
	assert_int_equal(s4->cmd.state, CMD_WAITING);
	hoq = submit(nx, 3, tur, TASK_HEAD_OF_QUEUE, 5, 0);
	assert_true(hoq->done);
	assert_int_equal(hoq->cmd.status, SAM_STAT_GOOD);

	drain_until(f, &s4->done);
	assert_true(w1->done && w2->done && ord->done);
	assert_true(ord->order > w1->order);
	assert_true(ord->order > w2->order);
	assert_true(s4->order > ord->order);
	assert_int_equal(ord->cmd.status, SAM_STAT_GOOD);
	assert_true(TAILQ_EMPTY(&f->file_lu->tasks[0].cmds));
	assert_int_equal(f->file_lu->tasks[0].running, 0);
	assert_int_equal(f->file_lu->tasks[0].ordered_running, 0);
	task_free(w1);
	task_free(w2);
	task_free(ord);
	task_free(s4);
	task_free(hoq);
	nx->fabric = f->a->fabric;
	harness_nexus_free(&f->h, nx);
}

static void test_abort_task(void **state)
{
	struct fixture *f = *state;
	struct it_nexus *nx = rec_nexus(f, "iqn.2026-01.test:abort");
	uint8_t write10[10] = { 0x2a, 0, 0, 0, 0, 0x10, 0, 0, 8, 0 }, tur[10] = { 0 };
	struct tmf_req req = { .nexus = nx, .function = TMF_ABORT_TASK, .lun = 3 };
	struct rec_task *w, *ord;

	memset(&rec, 0, sizeof(rec));
	w = submit(nx, 3, write10, TASK_SIMPLE, 0x10, 4096);
	ord = submit(nx, 3, tur, TASK_ORDERED, 0x11, 0);
	assert_int_equal(ord->cmd.state, CMD_WAITING);

	/* Aborting the waiting command ends it at once, without status. */
	req.ref_tag = 0x11;
	scsi_tmf_submit(&req);
	for (int i = 0; i < 100 && !rec.tmf_done; i++)
		event_loop_run_once(f->h.gw.loop, 1);
	assert_int_equal(rec.tmf_done, 1);
	assert_int_equal(req.response, TMF_RSP_COMPLETE);
	assert_true(ord->done);
	assert_true(ord->cmd.aborted);

	/* A tag that is not there. */
	req.ref_tag = 0x99;
	scsi_tmf_submit(&req);
	assert_int_equal(rec.tmf_done, 2);
	assert_int_equal(req.response, TMF_RSP_NO_TASK);

	/* The running write: the response waits for its I/O to end. */
	req.ref_tag = 0x10;
	scsi_tmf_submit(&req);
	if (!w->done)
		assert_int_equal(rec.tmf_done, 2);
	drain_until(f, &w->done);
	for (int i = 0; i < 1000 && rec.tmf_done < 3; i++)
		event_loop_run_once(f->h.gw.loop, 2);
	assert_int_equal(rec.tmf_done, 3);
	assert_int_equal(req.response, TMF_RSP_COMPLETE);
	assert_true(w->cmd.aborted);

	/* An LU that does not exist. */
	req.lun = 9;
	scsi_tmf_submit(&req);
	assert_int_equal(req.response, TMF_RSP_NO_LUN);
	task_free(w);
	task_free(ord);
	nx->fabric = f->a->fabric;
	harness_nexus_free(&f->h, nx);
}

static void test_lu_reset(void **state)
{
	struct fixture *f = *state;
	struct it_nexus *nx = rec_nexus(f, "iqn.2026-01.test:reset");
	uint8_t write10[10] = { 0x2a, 0, 0, 0, 0, 0x20, 0, 0, 8, 0 }, tur[10] = { 0 };
	struct tmf_req req = { .nexus = nx, .function = TMF_LOGICAL_UNIT_RESET, .lun = 3 };
	struct harness_result r;
	struct rec_task *w, *t;

	assert_int_equal(select_control(f, f->a, 3, true, false, 1, &r), SAM_STAT_GOOD);
	run(f, f->b, 3, (uint8_t[6]){ 0 }, 6, &r);     /* b's MODE PARAMETERS CHANGED */
	f->file_lu->prevent_removal = true;

	memset(&rec, 0, sizeof(rec));
	w = submit(nx, 3, write10, TASK_SIMPLE, 0x20, 4096);
	scsi_tmf_submit(&req);
	for (int i = 0; i < 100000 && !rec.tmf_done; i++)
		event_loop_run_once(f->h.gw.loop, 2);
	assert_int_equal(rec.tmf_done, 1);
	assert_int_equal(req.response, TMF_RSP_COMPLETE);
	assert_true(w->done);                           /* ended before the response */
	assert_false(f->file_lu->mode.d_sense);         /* defaults restored */
	assert_false(f->file_lu->prevent_removal);

	/* Every nexus, the requester's too, sees the reset; LUN 0 not. */
	run(f, f->a, 3, tur, 6, &r);
	expect_sense(&r, SK_UNIT_ATTENTION, ASC_BUS_DEVICE_RESET_FUNCTION_OCCURRED);
	run(f, f->b, 3, tur, 6, &r);
	expect_sense(&r, SK_UNIT_ATTENTION, ASC_BUS_DEVICE_RESET_FUNCTION_OCCURRED);
	assert_int_equal(run(f, f->a, 0, tur, 6, &r), SAM_STAT_GOOD);
	t = submit(nx, 3, tur, TASK_SIMPLE, 0x21, 0);
	assert_true(t->done);
	assert_int_equal(t->cmd.status, SAM_STAT_CHECK_CONDITION);
	task_free(t);

	/* TARGET WARM RESET: every LU, the generic reset code. */
	req.function = TMF_TARGET_WARM_RESET;
	scsi_tmf_submit(&req);
	for (int i = 0; i < 100000 && rec.tmf_done < 2; i++)
		event_loop_run_once(f->h.gw.loop, 2);
	assert_int_equal(req.response, TMF_RSP_COMPLETE);
	run(f, f->a, 0, tur, 6, &r);
	expect_sense(&r, SK_UNIT_ATTENTION, ASC_POWER_ON_RESET);
	run(f, f->a, 3, tur, 6, &r);
	expect_sense(&r, SK_UNIT_ATTENTION, ASC_POWER_ON_RESET);
	run(f, f->b, 0, tur, 6, &r);
	run(f, f->b, 3, tur, 6, &r);

	task_free(w);
	nx->fabric = f->a->fabric;
	harness_nexus_free(&f->h, nx);
}

static void test_nexus_loss_aborts_waiting(void **state)
{
	struct fixture *f = *state;
	struct it_nexus *nx = rec_nexus(f, "iqn.2026-01.test:loss");
	uint8_t write10[10] = { 0x2a, 0, 0, 0, 0, 0x30, 0, 0, 8, 0 }, tur[10] = { 0 };
	struct rec_task *w, *ord;

	memset(&rec, 0, sizeof(rec));
	w = submit(nx, 3, write10, TASK_SIMPLE, 0x30, 4096);
	ord = submit(nx, 3, tur, TASK_ORDERED, 0x31, 0);
	scsi_nexus_unregister(nx);
	assert_true(ord->done && ord->cmd.aborted);
	assert_true(w->cmd.aborted);
	drain_until(f, &w->done);
	assert_true(TAILQ_EMPTY(&f->file_lu->tasks[0].cmds));
	TAILQ_REMOVE(&f->h.gw.nexuses, nx, link);
	free(nx);
	task_free(w);
	task_free(ord);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_inquiry_standard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inquiry_alloc_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inquiry_vpd_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vpd83_fc_port, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsupported_lun, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_luns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ua_after_registration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mode_sense, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mode_select_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_opcode_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_supported_opcodes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_target_port_groups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ordered_task_blocks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort_task, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lu_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nexus_loss_aborts_waiting, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
