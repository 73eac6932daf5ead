/* Unit tests for CDB decoding (gateway/scsi/cdb.c) and, through the core
 * harness, the SBC-3 block commands (gateway/scsi/sbc.c) on real file LUs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/scsi/cdb.h"
#include "../../gateway/event_loop.h"
#include "../../gateway/scsi/sanitize.h"
#include "../../gateway/scsi/sbc.h"
#include "../../gateway/scsi/scsi.h"
#include "../../gateway/scsi/scsi_lu.h"
#include "../../gateway/scsi/sense.h"
#include "../../gateway/scsi/ua.h"
#include "../../gateway/util.h"
#include "../../gateway/scsi/xcopy.h"
#include "core_harness.h"

/* ======================================================================
 * Pure decoding
 * ====================================================================== */

static void test_opcode_lengths(void **state)
{
	(void)state;
	assert_int_equal(cdb_length_for_opcode(0x00), 6);    /* TEST UNIT READY */
	assert_int_equal(cdb_length_for_opcode(0x08), 6);
	assert_int_equal(cdb_length_for_opcode(0x28), 10);
	assert_int_equal(cdb_length_for_opcode(0x5e), 10);   /* group 2 */
	assert_int_equal(cdb_length_for_opcode(0x7f), 0);    /* variable length */
	assert_int_equal(cdb_length_for_opcode(0x88), 16);
	assert_int_equal(cdb_length_for_opcode(0xa8), 12);
	assert_int_equal(cdb_length_for_opcode(0xc0), 0);    /* vendor specific */
	assert_int_equal(cdb_length_for_opcode(0xff), 0);
}

static void test_decode_6_byte(void **state)
{
	uint8_t read6[6] = { 0x08, 0xff, 0x34, 0x56, 0x00, 0x00 };
	uint8_t write6[6] = { 0x0a, 0x01, 0x00, 0x02, 0x10, 0x00 };
	struct cdb_rw rw;

	(void)state;
	/* The top three bits of byte 1 are not LBA; TRANSFER LENGTH 0 = 256. */
	assert_true(cdb_decode_rw(read6, 6, &rw));
	assert_int_equal(rw.lba, 0x1f3456);
	assert_int_equal(rw.blocks, 256);
	assert_int_equal(rw.lba_byte, 1);
	assert_int_equal(rw.blocks_byte, 4);
	assert_false(rw.fua);

	assert_true(cdb_decode_rw(write6, 6, &rw));
	assert_int_equal(rw.lba, 0x010002);
	assert_int_equal(rw.blocks, 16);
	assert_int_equal(rw.protect, 0);
}

static void test_decode_10_byte(void **state)
{
	uint8_t read10[10] = { 0x28, 0xb8, 0x12, 0x34, 0x56, 0x78, 0x05, 0x01, 0x02, 0x00 };
	uint8_t write10[10] = { 0x2a, 0x08, 0, 0, 0, 9, 0, 0, 0, 0 };
	struct cdb_rw rw;

	(void)state;
	assert_true(cdb_decode_rw(read10, 10, &rw));
	assert_int_equal(rw.lba, 0x12345678);
	assert_int_equal(rw.blocks, 0x0102);      /* 0 is 0 in READ(10) */
	assert_int_equal(rw.protect, 5);
	assert_true(rw.dpo);
	assert_true(rw.fua);
	assert_int_equal(rw.group, 5);
	assert_int_equal(rw.lba_byte, 2);
	assert_int_equal(rw.blocks_byte, 7);

	assert_true(cdb_decode_rw(write10, 10, &rw));
	assert_int_equal(rw.lba, 9);
	assert_int_equal(rw.blocks, 0);
	assert_true(rw.fua);
	assert_false(rw.dpo);
}

static void test_decode_12_byte(void **state)
{
	uint8_t read12[12] = { 0xa8, 0x10, 0, 0, 1, 0, 0x00, 0x01, 0x00, 0x00, 0x1f, 0 };
	uint8_t write12[12] = { 0xaa, 0x20, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 0 };
	struct cdb_rw rw;

	(void)state;
	assert_true(cdb_decode_rw(read12, 12, &rw));
	assert_int_equal(rw.lba, 0x100);
	assert_int_equal(rw.blocks, 0x10000);
	assert_true(rw.dpo);
	assert_int_equal(rw.group, 0x1f);
	assert_int_equal(rw.blocks_byte, 6);

	assert_true(cdb_decode_rw(write12, 12, &rw));
	assert_int_equal(rw.lba, 0xffffffffu);
	assert_int_equal(rw.blocks, 1);
	assert_int_equal(rw.protect, 1);
}

static void test_decode_16_byte(void **state)
{
	uint8_t read16[16] = { 0x88, 0x08, 0x80, 0, 0, 0, 0, 0, 0, 0x01,
			       0xff, 0xff, 0xff, 0xff, 0x03, 0 };
	uint8_t orwrite[16] = { 0x8b, 0x40, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 2, 0, 0 };
	struct cdb_rw rw;

	(void)state;
	assert_true(cdb_decode_rw(read16, 16, &rw));
	assert_true(rw.lba == 0x8000000000000001ull);
	assert_int_equal(rw.blocks, 0xffffffffu);
	assert_true(rw.fua);
	assert_int_equal(rw.group, 3);
	assert_int_equal(rw.blocks_byte, 10);

	assert_true(cdb_decode_rw(orwrite, 16, &rw));
	assert_int_equal(rw.lba, 7);
	assert_int_equal(rw.blocks, 2);
	assert_int_equal(rw.protect, 2);          /* ORPROTECT */
}

static void test_decode_verify_forms(void **state)
{
	uint8_t verify10[10] = { 0x2f, 0x12, 0, 0, 0, 4, 0, 0, 8, 0 };
	uint8_t verify12[12] = { 0xaf, 0x06, 0, 0, 0, 4, 0, 0, 0, 8, 0, 0 };
	uint8_t verify16[16] = { 0x8f, 0xe0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 8, 0, 0 };
	uint8_t wv10[10] = { 0x2e, 0x02, 0, 0, 0, 1, 0, 0, 1, 0 };
	uint8_t wv12[12] = { 0xae, 0x00, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0 };
	uint8_t wv16[16] = { 0x8e, 0x18, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0 };
	struct cdb_rw rw;

	(void)state;
	assert_true(cdb_decode_rw(verify10, 10, &rw));
	assert_int_equal(rw.bytchk, 1);
	assert_true(rw.dpo);
	assert_int_equal(rw.lba, 4);
	assert_int_equal(rw.blocks, 8);
	assert_true(cdb_decode_rw(verify12, 12, &rw));
	assert_int_equal(rw.bytchk, 3);
	assert_int_equal(rw.blocks, 8);
	assert_true(cdb_decode_rw(verify16, 16, &rw));
	assert_int_equal(rw.protect, 7);          /* VRPROTECT */
	assert_int_equal(rw.bytchk, 0);

	assert_true(cdb_decode_rw(wv10, 10, &rw));
	assert_int_equal(rw.bytchk, 1);
	assert_true(cdb_decode_rw(wv12, 12, &rw));
	assert_int_equal(rw.bytchk, 0);
	assert_true(cdb_decode_rw(wv16, 16, &rw));
	assert_true(rw.dpo);
	assert_false(rw.fua);                     /* no FUA in WRITE AND VERIFY */
}

static void test_decode_write_same_prefetch_sync(void **state)
{
	uint8_t ws10[10] = { 0x41, 0x18, 0, 0, 0x10, 0, 0x02, 0x00, 0x00, 0 };
	uint8_t ws16[16] = { 0x93, 0x09, 0, 0, 0, 0, 0, 0, 0, 3, 0, 1, 0, 0, 0, 0 };
	uint8_t pf10[10] = { 0x34, 0x02, 0, 0, 0, 5, 0, 0, 6, 0 };
	uint8_t pf16[16] = { 0x90, 0x00, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 6, 0, 0 };
	uint8_t sc10[10] = { 0x35, 0x02, 0, 0, 0, 0, 0, 0, 0, 0 };
	uint8_t sc16[16] = { 0x91, 0x00, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0 };
	struct cdb_rw rw;

	(void)state;
	assert_true(cdb_decode_rw(ws10, 10, &rw));
	assert_true(rw.anchor);
	assert_true(rw.unmap);
	assert_false(rw.ndob);
	assert_int_equal(rw.lba, 0x1000);
	assert_int_equal(rw.blocks, 0);
	assert_int_equal(rw.group, 2);
	assert_true(cdb_decode_rw(ws16, 16, &rw));
	assert_false(rw.anchor);
	assert_true(rw.unmap);
	assert_true(rw.ndob);
	assert_int_equal(rw.lba, 3);
	assert_int_equal(rw.blocks, 0x10000);

	assert_true(cdb_decode_rw(pf10, 10, &rw));
	assert_true(rw.immed);
	assert_int_equal(rw.lba, 5);
	assert_int_equal(rw.blocks, 6);
	assert_true(cdb_decode_rw(pf16, 16, &rw));
	assert_false(rw.immed);
	assert_true(cdb_decode_rw(sc10, 10, &rw));
	assert_true(rw.immed);
	assert_int_equal(rw.blocks, 0);
	assert_true(cdb_decode_rw(sc16, 16, &rw));
	assert_int_equal(rw.lba, 9);
	assert_int_equal(rw.blocks, 1);
}

static void test_decode_caw_and_atomic(void **state)
{
	uint8_t caw[16] = { 0x89, 0x18, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 0, 0, 0, 0x05, 0x04, 0 };
	uint8_t atomic[16] = { 0x9c, 0x08, 0, 0, 0, 0, 0, 0, 0, 8, 0xff, 0xff, 0x01, 0x00, 0, 0 };
	struct cdb_rw rw;

	(void)state;
	assert_true(cdb_decode_rw(caw, 16, &rw));
	assert_int_equal(rw.lba, 0x100);
	assert_int_equal(rw.blocks, 5);
	assert_int_equal(rw.blocks_byte, 13);
	assert_int_equal(rw.group, 4);
	assert_true(rw.dpo);
	assert_true(rw.fua);

	/* Bytes 10-11 are reserved, not part of the transfer length. */
	assert_true(cdb_decode_rw(atomic, 16, &rw));
	assert_int_equal(rw.lba, 8);
	assert_int_equal(rw.blocks, 0x100);
	assert_int_equal(rw.blocks_byte, 12);
}

static void test_decode_rejects(void **state)
{
	uint8_t tur[6] = { 0x00 };
	uint8_t read10[10] = { 0x28 };
	uint8_t inquiry[6] = { 0x12 };
	uint8_t variable[32] = { 0x7f };
	struct cdb_rw rw;

	(void)state;
	assert_false(cdb_decode_rw(tur, 6, &rw));
	assert_false(cdb_decode_rw(inquiry, 6, &rw));
	assert_false(cdb_decode_rw(variable, 32, &rw));
	assert_false(cdb_decode_rw(read10, 9, &rw));   /* too short for its form */
	assert_false(cdb_decode_rw(read10, 0, &rw));
	assert_true(cdb_decode_rw(read10, 16, &rw));   /* longer buffers are fine */
}

static void test_lba_range(void **state)
{
	(void)state;
	assert_false(cdb_lba_out_of_range(0, 0, 100));
	assert_false(cdb_lba_out_of_range(0, 100, 100));
	assert_false(cdb_lba_out_of_range(99, 1, 100));
	assert_false(cdb_lba_out_of_range(100, 0, 100));   /* empty at the end */
	assert_true(cdb_lba_out_of_range(100, 1, 100));
	assert_true(cdb_lba_out_of_range(101, 0, 100));
	assert_true(cdb_lba_out_of_range(99, 2, 100));
	assert_true(cdb_lba_out_of_range(0, 101, 100));
	/* lba + count would wrap around 2^64: still out of range. */
	assert_true(cdb_lba_out_of_range(UINT64_MAX, 1, 100));
	assert_true(cdb_lba_out_of_range(UINT64_MAX, 0, 100));
	assert_true(cdb_lba_out_of_range(1, UINT64_MAX, UINT64_MAX));
	assert_true(cdb_lba_out_of_range(0x80000000, 256, 0x1000));
	assert_false(cdb_lba_out_of_range(UINT64_MAX - 1, 1, UINT64_MAX));
}

static void test_allocation_length(void **state)
{
	uint8_t inquiry[6] = { 0x12, 0x01, 0x80, 0x01, 0x02, 0 };
	uint8_t request_sense[6] = { 0x03, 0, 0, 0, 0xfc, 0 };
	uint8_t mode_sense10[10] = { 0x5a, 0, 0x3f, 0, 0, 0, 0, 0x10, 0x00, 0 };
	uint8_t report_luns[12] = { 0xa0, 0, 0, 0, 0, 0, 0x00, 0x01, 0x00, 0x00, 0, 0 };
	uint8_t rc16[16] = { 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0 };
	uint8_t rdd12[12] = { 0xb7, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x00, 0, 0 };
	uint8_t read10[10] = { 0x28 };
	uint32_t len;

	(void)state;
	assert_true(cdb_allocation_length(inquiry, 6, &len));
	assert_int_equal(len, 0x0102);
	assert_true(cdb_allocation_length(request_sense, 6, &len));
	assert_int_equal(len, 0xfc);
	assert_true(cdb_allocation_length(mode_sense10, 10, &len));
	assert_int_equal(len, 0x1000);
	assert_true(cdb_allocation_length(report_luns, 12, &len));
	assert_int_equal(len, 0x10000);
	assert_true(cdb_allocation_length(rc16, 16, &len));
	assert_int_equal(len, 32);
	assert_true(cdb_allocation_length(rdd12, 12, &len));
	assert_int_equal(len, 0x200);
	assert_false(cdb_allocation_length(read10, 10, &len));
	assert_false(cdb_allocation_length(rc16, 12, &len));   /* field missing */
	assert_int_equal(cdb_service_action(rc16), 0x10);
}

/* ======================================================================
 * SBC commands through the core
 * ====================================================================== */

#define LUN_THIN  0
#define LUN_THICK 1
#define LUN_REMOVABLE 2
#define LU_BLOCKS 8192u      /* 4 MiB of 512-byte blocks */

struct fixture {
	struct harness h;
	struct it_nexus *nx;
	struct lu *thin, *thick, *removable;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	harness_init(&f->h);
	f->thin = harness_add_lu(&f->h, LUN_THIN, "file:thin.img,size=4M,thin=1");
	f->thick = harness_add_lu(&f->h, LUN_THICK, "file:thick.img,size=4M");
	f->removable = harness_add_lu(&f->h, LUN_REMOVABLE, "file:rm.img,size=4M,removable=1");
	assert_non_null(f->thin);
	assert_non_null(f->thick);
	assert_non_null(f->removable);
	f->nx = harness_nexus(&f->h, "iqn.2026-11.org.sangw:test", 1);
	ua_clear_nexus(f->nx);    /* the POWER ON unit attention is not ours */
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	harness_nexus_free(&f->h, f->nx);
	harness_fini(&f->h);
	free(f);
	return 0;
}

/* Run a command; returns the status and leaves the result in *res. */
static uint8_t run(struct fixture *f, uint64_t lun, const uint8_t *cdb, unsigned len,
		   enum scsi_data_dir dir, const void *out, uint32_t out_len, uint32_t edtl,
		   struct harness_result *res)
{
	return harness_run(&f->h, f->nx, lun, cdb, len, dir, out, out_len, edtl, res);
}

static void expect_sense(struct harness_result *res, uint8_t key, uint16_t asc)
{
	assert_int_equal(res->status, SAM_STAT_CHECK_CONDITION);
	assert_int_equal(res->sense_key, key);
	assert_int_equal(res->asc_ascq, asc);
}

/* Fixed-format sense: SKSV, C/D and the field pointer (SPC-4 4.5.2.4.2). */
static void expect_field_pointer(struct harness_result *res, bool in_cdb, uint16_t byte)
{
	assert_true(res->sense_len >= 18);
	assert_true(res->sense[15] & 0x80);
	assert_int_equal(!!(res->sense[15] & 0x40), in_cdb);
	assert_int_equal(get_be16(res->sense + 16), byte);
}

static void cdb_rw10(uint8_t *cdb, uint8_t opcode, uint32_t lba, uint16_t blocks)
{
	memset(cdb, 0, 10);
	cdb[0] = opcode;
	put_be32(cdb + 2, lba);
	put_be16(cdb + 7, blocks);
}

static void cdb_rw16(uint8_t *cdb, uint8_t opcode, uint64_t lba, uint32_t blocks)
{
	memset(cdb, 0, 16);
	cdb[0] = opcode;
	put_be64(cdb + 2, lba);
	put_be32(cdb + 10, blocks);
}

static void write_blocks(struct fixture *f, uint64_t lun, uint32_t lba, uint16_t blocks,
			 uint8_t fill)
{
	struct harness_result res;
	uint8_t cdb[10];
	uint8_t *data = malloc(blocks * 512u);

	memset(data, fill, blocks * 512u);
	cdb_rw10(cdb, 0x2a, lba, blocks);
	assert_int_equal(run(f, lun, cdb, 10, SCSI_DIR_OUT, data, blocks * 512u, 0, &res),
			 SAM_STAT_GOOD);
	harness_result_free(&res);
	free(data);
}

/* Read blocks and return a malloc'd copy. */
static uint8_t *read_blocks(struct fixture *f, uint64_t lun, uint32_t lba, uint16_t blocks)
{
	struct harness_result res;
	uint8_t cdb[10];
	uint8_t *data;

	cdb_rw10(cdb, 0x28, lba, blocks);
	assert_int_equal(run(f, lun, cdb, 10, SCSI_DIR_IN, NULL, 0, blocks * 512u, &res),
			 SAM_STAT_GOOD);
	assert_int_equal(res.data_len, blocks * 512u);
	data = res.data;
	res.data = NULL;
	return data;
}

static bool all_bytes(const uint8_t *p, size_t len, uint8_t v)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != v)
			return false;
	return true;
}

/* --- READ CAPACITY ------------------------------------------------------ */

static void test_read_capacity(void **state)
{
	struct fixture *f = *state;
	uint8_t rc10[10] = { 0x25 };
	uint8_t rc16[16] = { 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0 };
	struct harness_result res;

	assert_int_equal(run(f, LUN_THIN, rc10, 10, SCSI_DIR_IN, NULL, 0, 8, &res), SAM_STAT_GOOD);
	assert_int_equal(res.data_len, 8);
	assert_int_equal(get_be32(res.data), LU_BLOCKS - 1);
	assert_int_equal(get_be32(res.data + 4), 512);
	harness_result_free(&res);

	/* PMI = 0 with a nonzero LBA is an invalid field (SBC-3 5.15). */
	rc10[5] = 1;
	run(f, LUN_THIN, rc10, 10, SCSI_DIR_IN, NULL, 0, 8, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	expect_field_pointer(&res, true, 2);
	rc10[8] = 1;   /* PMI */
	assert_int_equal(run(f, LUN_THIN, rc10, 10, SCSI_DIR_IN, NULL, 0, 8, &res), SAM_STAT_GOOD);
	harness_result_free(&res);

	assert_int_equal(run(f, LUN_THIN, rc16, 16, SCSI_DIR_IN, NULL, 0, 32, &res), SAM_STAT_GOOD);
	assert_int_equal(res.data_len, 32);
	assert_true(get_be64(res.data) == LU_BLOCKS - 1);
	assert_int_equal(get_be32(res.data + 8), 512);
	assert_int_equal(res.data[12], 0);                 /* no protection */
	assert_int_equal(res.data[13], sbc_lbppb_exponent(f->thin));
	assert_int_equal(res.data[14] & 0xc0, 0xc0);       /* LBPME, LBPRZ */
	harness_result_free(&res);

	assert_int_equal(run(f, LUN_THICK, rc16, 16, SCSI_DIR_IN, NULL, 0, 32, &res), SAM_STAT_GOOD);
	assert_int_equal(res.data[14] & 0xc0, 0);
	harness_result_free(&res);

	/* Allocation lengths 0-15 truncate, not an error. */
	for (uint8_t alloc = 0; alloc < 16; alloc++) {
		rc16[13] = alloc;
		assert_int_equal(run(f, LUN_THIN, rc16, 16, SCSI_DIR_IN, NULL, 0, 32, &res),
				 SAM_STAT_GOOD);
		assert_int_equal(res.transfer_len, alloc);
		harness_result_free(&res);
	}
}

static void test_read_capacity_huge(void **state)
{
	struct fixture *f = *state;
	uint8_t rc10[10] = { 0x25 };
	uint8_t rc16[16] = { 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0 };
	struct harness_result res;
	struct lu *big = harness_add_lu(&f->h, 7, "file:big.img,size=3T,thin=1");

	assert_non_null(big);
	/* More than 2^32 blocks: READ CAPACITY(10) says FFFFFFFFh. */
	assert_int_equal(run(f, 7, rc10, 10, SCSI_DIR_IN, NULL, 0, 8, &res), SAM_STAT_GOOD);
	assert_int_equal(get_be32(res.data), 0xffffffffu);
	harness_result_free(&res);
	assert_int_equal(run(f, 7, rc16, 16, SCSI_DIR_IN, NULL, 0, 32, &res), SAM_STAT_GOOD);
	assert_true(get_be64(res.data) == (3ull << 40) / 512 - 1);
	harness_result_free(&res);
}

/* --- READ / WRITE --------------------------------------------------------- */

static void test_write_read_roundtrip(void **state)
{
	struct fixture *f = *state;
	uint8_t read6[6] = { 0x08, 0, 0, 0, 0, 0 };
	uint8_t cdb[16];
	struct harness_result res;
	uint8_t *data;

	write_blocks(f, LUN_THICK, 0, 256, 0x5a);
	write_blocks(f, LUN_THICK, LU_BLOCKS - 1, 1, 0xa5);

	/* READ(6) with TRANSFER LENGTH 0 moves 256 blocks. */
	assert_int_equal(run(f, LUN_THICK, read6, 6, SCSI_DIR_IN, NULL, 0, 256 * 512, &res),
			 SAM_STAT_GOOD);
	assert_int_equal(res.transfer_len, 256 * 512);
	assert_int_equal(res.data_len, 256 * 512);
	assert_true(all_bytes(res.data, 256 * 512, 0x5a));
	harness_result_free(&res);

	/* READ(16) and WRITE(12) at the last block. */
	cdb_rw16(cdb, 0x88, LU_BLOCKS - 1, 1);
	cdb[1] = 0x18;                       /* DPO, FUA */
	assert_int_equal(run(f, LUN_THICK, cdb, 16, SCSI_DIR_IN, NULL, 0, 512, &res),
			 SAM_STAT_GOOD);
	assert_true(all_bytes(res.data, 512, 0xa5));
	harness_result_free(&res);

	memset(cdb, 0, 12);
	cdb[0] = 0xaa;
	cdb[1] = 0x08;                       /* FUA */
	put_be32(cdb + 2, 10);
	put_be32(cdb + 6, 2);
	data = calloc(1, 1024);
	memset(data, 0x11, 1024);
	assert_int_equal(run(f, LUN_THICK, cdb, 12, SCSI_DIR_OUT, data, 1024, 0, &res),
			 SAM_STAT_GOOD);
	free(data);
	data = read_blocks(f, LUN_THICK, 10, 2);
	assert_true(all_bytes(data, 1024, 0x11));
	free(data);
}

static void test_read_write_errors(void **state)
{
	struct fixture *f = *state;
	uint8_t cdb[16];
	uint8_t block[512] = { 0 };
	struct harness_result res;

	/* Beyond the end, with every form of the LBA check. */
	cdb_rw10(cdb, 0x28, LU_BLOCKS, 1);
	run(f, LUN_THIN, cdb, 10, SCSI_DIR_IN, NULL, 0, 512, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	cdb_rw10(cdb, 0x28, LU_BLOCKS - 1, 2);
	run(f, LUN_THIN, cdb, 10, SCSI_DIR_IN, NULL, 0, 1024, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	cdb_rw10(cdb, 0x28, 0xffffffffu, 1);
	run(f, LUN_THIN, cdb, 10, SCSI_DIR_IN, NULL, 0, 512, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	cdb_rw16(cdb, 0x8a, UINT64_MAX, 1);
	run(f, LUN_THIN, cdb, 16, SCSI_DIR_OUT, block, 512, 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	/* Zero blocks one past the end is still out of range; at 0 it is GOOD. */
	cdb_rw10(cdb, 0x28, LU_BLOCKS + 1, 0);
	run(f, LUN_THIN, cdb, 10, SCSI_DIR_IN, NULL, 0, 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	cdb_rw10(cdb, 0x2a, 0, 0);
	assert_int_equal(run(f, LUN_THIN, cdb, 10, SCSI_DIR_NONE, NULL, 0, 0, &res), SAM_STAT_GOOD);
	assert_int_equal(res.transfer_len, 0);

	/* RDPROTECT / WRPROTECT without protection information. */
	cdb_rw10(cdb, 0x28, 0, 1);
	cdb[1] = 0x20;
	run(f, LUN_THIN, cdb, 10, SCSI_DIR_IN, NULL, 0, 512, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	expect_field_pointer(&res, true, 1);
	assert_int_equal(res.sense[15] & 0x0f, 0x08 | 7);   /* BPV, bit 7 */
	cdb_rw16(cdb, 0x8a, 0, 1);
	cdb[1] = 0xe0;
	run(f, LUN_THIN, cdb, 16, SCSI_DIR_OUT, block, 512, 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);

	/* Longer than MAXIMUM TRANSFER LENGTH (on an LU big enough for the
	 * range to be valid: the range is checked first). */
	assert_non_null(harness_add_lu(&f->h, 10, "file:big.img,size=64M,thin=1"));
	cdb_rw16(cdb, 0x88, 0, sbc_max_transfer_blocks(f->thin) + 1);
	run(f, 10, cdb, 16, SCSI_DIR_IN, NULL, 0, 512, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	expect_field_pointer(&res, true, 10);
}

/* libiscsi iSCSIResiduals: what arrives is what is written. */
static void test_residuals(void **state)
{
	struct fixture *f = *state;
	uint8_t cdb[10];
	uint8_t data[2048];
	struct harness_result res;
	uint8_t *back;

	write_blocks(f, LUN_THICK, 0, 2, 'a');

	/* WRITE(10) of 1 block with EDTL 2 blocks: one block written. */
	memset(data, 'b', sizeof(data));
	cdb_rw10(cdb, 0x2a, 0, 1);
	assert_int_equal(run(f, LUN_THICK, cdb, 10, SCSI_DIR_OUT, data, 1024, 1024, &res),
			 SAM_STAT_GOOD);
	assert_int_equal(res.transfer_len, 512);
	back = read_blocks(f, LUN_THICK, 0, 2);
	assert_true(all_bytes(back, 512, 'b'));
	assert_true(all_bytes(back + 512, 512, 'a'));
	free(back);

	/* WRITE(10) of 2 blocks with EDTL 1 block: only the first changes. */
	write_blocks(f, LUN_THICK, 0, 2, 'a');
	cdb_rw10(cdb, 0x2a, 0, 2);
	assert_int_equal(run(f, LUN_THICK, cdb, 10, SCSI_DIR_OUT, data, 512, 512, &res),
			 SAM_STAT_GOOD);
	assert_int_equal(res.transfer_len, 1024);
	back = read_blocks(f, LUN_THICK, 0, 2);
	assert_true(all_bytes(back, 512, 'b'));
	assert_true(all_bytes(back + 512, 512, 'a'));
	free(back);

	/* Less than a block arrived: nothing written, still GOOD. */
	cdb_rw10(cdb, 0x2a, 1, 1);
	assert_int_equal(run(f, LUN_THICK, cdb, 10, SCSI_DIR_OUT, data, 200, 200, &res),
			 SAM_STAT_GOOD);
	back = read_blocks(f, LUN_THICK, 1, 1);
	assert_true(all_bytes(back, 512, 'a'));
	free(back);

	/* READ(10) of 2 blocks with EDTL 200: transfer length still 2 blocks. */
	cdb_rw10(cdb, 0x28, 0, 2);
	assert_int_equal(run(f, LUN_THICK, cdb, 10, SCSI_DIR_IN, NULL, 0, 200, &res),
			 SAM_STAT_GOOD);
	assert_int_equal(res.transfer_len, 1024);
	assert_int_equal(res.data_len, 200);
	assert_true(all_bytes(res.data, 200, 'b'));
	harness_result_free(&res);
}

/* --- VERIFY / WRITE AND VERIFY --------------------------------------------- */

static void test_verify(void **state)
{
	struct fixture *f = *state;
	uint8_t cdb[16];
	uint8_t data[4 * 512];
	struct harness_result res;

	write_blocks(f, LUN_THICK, 100, 4, 0x33);
	memset(data, 0x33, sizeof(data));

	cdb_rw10(cdb, 0x2f, 100, 4);
	cdb[1] = 0x02;                        /* BYTCHK 01b */
	assert_int_equal(run(f, LUN_THICK, cdb, 10, SCSI_DIR_OUT, data, sizeof(data), 0, &res),
			 SAM_STAT_GOOD);
	assert_int_equal(res.transfer_len, sizeof(data));

	/* One byte differs: MISCOMPARE with its offset in INFORMATION. */
	data[1234] ^= 0x58;
	run(f, LUN_THICK, cdb, 10, SCSI_DIR_OUT, data, sizeof(data), 0, &res);
	expect_sense(&res, SK_MISCOMPARE, ASC_MISCOMPARE_DURING_VERIFY);
	assert_true(res.sense[0] & 0x80);    /* VALID */
	assert_int_equal(get_be32(res.sense + 3), 1234);

	/* BYTCHK 0 only reads: the differing data is not looked at. */
	cdb_rw16(cdb, 0x8f, 100, 4);
	assert_int_equal(run(f, LUN_THICK, cdb, 16, SCSI_DIR_NONE, NULL, 0, 0, &res),
			 SAM_STAT_GOOD);
	assert_int_equal(res.transfer_len, 0);

	/* BYTCHK 11b: one block compared with every block. */
	memset(data, 0x33, 512);
	memset(cdb, 0, 12);
	cdb[0] = 0xaf;
	cdb[1] = 0x06;
	put_be32(cdb + 2, 100);
	put_be32(cdb + 6, 4);
	assert_int_equal(run(f, LUN_THICK, cdb, 12, SCSI_DIR_OUT, data, 512, 0, &res),
			 SAM_STAT_GOOD);
	assert_int_equal(res.transfer_len, 512);

	/* BYTCHK 10b is reserved; VRPROTECT needs protection information. */
	cdb[1] = 0x04;
	run(f, LUN_THICK, cdb, 12, SCSI_DIR_OUT, data, 512, 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	cdb[1] = 0x22;
	run(f, LUN_THICK, cdb, 12, SCSI_DIR_OUT, data, 512, 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);

	cdb_rw10(cdb, 0x2f, LU_BLOCKS - 1, 2);
	run(f, LUN_THICK, cdb, 10, SCSI_DIR_NONE, NULL, 0, 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	cdb_rw10(cdb, 0x2f, 0, 0);
	assert_int_equal(run(f, LUN_THICK, cdb, 10, SCSI_DIR_NONE, NULL, 0, 0, &res),
			 SAM_STAT_GOOD);
}

static void test_write_and_verify(void **state)
{
	struct fixture *f = *state;
	uint8_t cdb[16];
	uint8_t data[3 * 512];
	struct harness_result res;
	uint8_t *back;

	memset(data, 0x77, sizeof(data));
	cdb_rw16(cdb, 0x8e, 200, 3);
	cdb[1] = 0x12;                        /* DPO, BYTCHK 1 */
	assert_int_equal(run(f, LUN_THIN, cdb, 16, SCSI_DIR_OUT, data, sizeof(data), 0, &res),
			 SAM_STAT_GOOD);
	back = read_blocks(f, LUN_THIN, 200, 3);
	assert_true(all_bytes(back, sizeof(data), 0x77));
	free(back);

	cdb_rw10(cdb, 0x2e, 300, 1);
	cdb[1] = 0x06;                        /* BYTCHK 11b: reserved here */
	run(f, LUN_THIN, cdb, 10, SCSI_DIR_OUT, data, 512, 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	cdb_rw10(cdb, 0x2e, LU_BLOCKS, 1);
	run(f, LUN_THIN, cdb, 10, SCSI_DIR_OUT, data, 512, 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
}

/* --- COMPARE AND WRITE, ORWRITE, WRITE ATOMIC ------------------------------- */

static void cdb_caw(uint8_t *cdb, uint64_t lba, uint8_t blocks)
{
	memset(cdb, 0, 16);
	cdb[0] = 0x89;
	put_be64(cdb + 2, lba);
	cdb[13] = blocks;
}

static void test_compare_and_write(void **state)
{
	struct fixture *f = *state;
	uint8_t cdb[16];
	uint8_t data[2 * 2 * 512];
	struct harness_result res;
	unsigned too_many = SBC_MAX_CAW_BLOCKS + 1;
	uint8_t *back;

	write_blocks(f, LUN_THIN, 40, 2, 'A');
	memset(data, 'A', 1024);
	memset(data + 1024, 'B', 1024);
	cdb_caw(cdb, 40, 2);
	assert_int_equal(run(f, LUN_THIN, cdb, 16, SCSI_DIR_OUT, data, sizeof(data), 0, &res),
			 SAM_STAT_GOOD);
	assert_int_equal(res.transfer_len, sizeof(data));
	back = read_blocks(f, LUN_THIN, 40, 2);
	assert_true(all_bytes(back, 1024, 'B'));
	free(back);

	/* Now the medium holds 'B': comparing with 'A' miscompares at 0 and
	 * changes nothing; a difference late in the last block is found. */
	run(f, LUN_THIN, cdb, 16, SCSI_DIR_OUT, data, sizeof(data), 0, &res);
	expect_sense(&res, SK_MISCOMPARE, ASC_MISCOMPARE_DURING_VERIFY);
	assert_int_equal(get_be32(res.sense + 3), 0);
	memset(data, 'B', 1024);
	data[1024 - 27] = 'C';
	memset(data + 1024, 'D', 1024);
	run(f, LUN_THIN, cdb, 16, SCSI_DIR_OUT, data, sizeof(data), 0, &res);
	expect_sense(&res, SK_MISCOMPARE, ASC_MISCOMPARE_DURING_VERIFY);
	assert_int_equal(get_be32(res.sense + 3), 1024 - 27);
	back = read_blocks(f, LUN_THIN, 40, 2);
	assert_true(all_bytes(back, 1024, 'B'));
	free(back);

	/* Data-Out must be exactly 2 x NUMBER OF LOGICAL BLOCKS blocks. */
	cdb_caw(cdb, 40, 1);
	run(f, LUN_THIN, cdb, 16, SCSI_DIR_OUT, data, sizeof(data), 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	cdb_caw(cdb, 40, 3);
	run(f, LUN_THIN, cdb, 16, SCSI_DIR_OUT, data, sizeof(data), 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	/* Limits, range, zero blocks, WRPROTECT. */
	cdb_caw(cdb, LU_BLOCKS - 1, 2);
	run(f, LUN_THIN, cdb, 16, SCSI_DIR_OUT, data, sizeof(data), 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	cdb_caw(cdb, 0, 0);
	assert_int_equal(run(f, LUN_THIN, cdb, 16, SCSI_DIR_NONE, NULL, 0, 0, &res), SAM_STAT_GOOD);
	cdb_caw(cdb, 40, 2);
	cdb[1] = 0x20;
	run(f, LUN_THIN, cdb, 16, SCSI_DIR_OUT, data, sizeof(data), 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	if (too_many <= 255) {     /* the field is one byte */
		cdb_caw(cdb, 0, (uint8_t)too_many);
		run(f, LUN_THIN, cdb, 16, SCSI_DIR_OUT, data, sizeof(data), 0, &res);
		expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	}
}

static void test_orwrite(void **state)
{
	struct fixture *f = *state;
	uint8_t cdb[16];
	uint8_t data[4 * 512];
	struct harness_result res;
	uint8_t *back;

	write_blocks(f, LUN_THIN, 60, 4, 0x00);
	cdb_rw16(cdb, 0x8b, 60, 4);
	memset(data, 0xa5, sizeof(data));
	assert_int_equal(run(f, LUN_THIN, cdb, 16, SCSI_DIR_OUT, data, sizeof(data), 0, &res),
			 SAM_STAT_GOOD);
	memset(data, 0x5a, sizeof(data));
	assert_int_equal(run(f, LUN_THIN, cdb, 16, SCSI_DIR_OUT, data, sizeof(data), 0, &res),
			 SAM_STAT_GOOD);
	back = read_blocks(f, LUN_THIN, 60, 4);
	assert_true(all_bytes(back, sizeof(data), 0xff));
	free(back);

	cdb[1] = 0x40;                        /* ORPROTECT */
	run(f, LUN_THIN, cdb, 16, SCSI_DIR_OUT, data, sizeof(data), 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	cdb_rw16(cdb, 0x8b, LU_BLOCKS - 3, 4);
	run(f, LUN_THIN, cdb, 16, SCSI_DIR_OUT, data, sizeof(data), 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
}

static void test_write_atomic(void **state)
{
	struct fixture *f = *state;
	uint8_t cdb[16];
	uint8_t *data = calloc(1, 2 * SBC_MAX_ATOMIC_BLOCKS * 512);
	struct harness_result res;
	const uint32_t gran = SBC_ATOMIC_GRANULARITY_BLOCKS;

#define CDB_ATOMIC(lba, blocks)                   \
	do {                                          \
		memset(cdb, 0, 16);                       \
		cdb[0] = 0x9c;                            \
		put_be64(cdb + 2, (lba));                 \
		put_be16(cdb + 12, (uint16_t)(blocks));   \
	} while (0)

	memset(data, 0x42, 2 * SBC_MAX_ATOMIC_BLOCKS * 512);
	CDB_ATOMIC(0, gran);
	assert_int_equal(run(f, LUN_THIN, cdb, 16, SCSI_DIR_OUT, data, gran * 512, 0, &res),
			 SAM_STAT_GOOD);
	CDB_ATOMIC(LU_BLOCKS - SBC_MAX_ATOMIC_BLOCKS, SBC_MAX_ATOMIC_BLOCKS);
	assert_int_equal(run(f, LUN_THIN, cdb, 16, SCSI_DIR_OUT, data,
			     SBC_MAX_ATOMIC_BLOCKS * 512, 0, &res), SAM_STAT_GOOD);
	/* Range before limits: twice the maximum across the end is OOB. */
	CDB_ATOMIC(LU_BLOCKS - SBC_MAX_ATOMIC_BLOCKS, 2 * SBC_MAX_ATOMIC_BLOCKS);
	run(f, LUN_THIN, cdb, 16, SCSI_DIR_OUT, data, 2 * SBC_MAX_ATOMIC_BLOCKS * 512, 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	CDB_ATOMIC(0, 2 * SBC_MAX_ATOMIC_BLOCKS);
	run(f, LUN_THIN, cdb, 16, SCSI_DIR_OUT, data, 2 * SBC_MAX_ATOMIC_BLOCKS * 512, 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	if (SBC_ATOMIC_ALIGNMENT_BLOCKS > 1) {
		CDB_ATOMIC(1, gran);
		run(f, LUN_THIN, cdb, 16, SCSI_DIR_OUT, data, gran * 512, 0, &res);
		expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		expect_field_pointer(&res, true, 2);
	}
	if (gran > 1) {
		CDB_ATOMIC(0, 1);
		run(f, LUN_THIN, cdb, 16, SCSI_DIR_OUT, data, 512, 0, &res);
		expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	}
	/* All or nothing: a short Data-Out is refused. */
	CDB_ATOMIC(0, gran);
	run(f, LUN_THIN, cdb, 16, SCSI_DIR_OUT, data, 512, 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	CDB_ATOMIC(0, 0);
	assert_int_equal(run(f, LUN_THIN, cdb, 16, SCSI_DIR_NONE, NULL, 0, 0, &res), SAM_STAT_GOOD);
	CDB_ATOMIC(0x8000000000000000ull, 0);
	run(f, LUN_THIN, cdb, 16, SCSI_DIR_NONE, NULL, 0, 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
#undef CDB_ATOMIC
	free(data);
}

/* --- range locks: COMPARE AND WRITE against concurrent writes ------------- */

struct async_cmd {
	struct scsi_cmd cmd;
	bool done;
	unsigned order;
};

static unsigned completion_counter;

static void async_cmd_done(struct scsi_cmd *cmd)
{
	struct async_cmd *a = container_of(cmd, struct async_cmd, cmd);

	a->done = true;
	a->order = ++completion_counter;
}

static const struct fabric_ops async_fabric = {
	.name = "async-test",
	.cmd_done = async_cmd_done,
};

static void async_submit(struct it_nexus *nx, struct async_cmd *a, uint64_t lun,
			 const uint8_t *cdb, unsigned len, const void *out, uint32_t out_len)
{
	memset(a, 0, sizeof(*a));
	a->cmd.nexus = nx;
	a->cmd.lun = lun;
	memcpy(a->cmd.cdb, cdb, len);
	a->cmd.cdb_len = (uint8_t)len;
	a->cmd.dir = out_len ? SCSI_DIR_OUT : SCSI_DIR_NONE;
	a->cmd.expected_len = out_len;
	if (out_len) {
		assert_int_equal(scsi_cmd_ensure_buf(&a->cmd, out_len), 0);
		memcpy(a->cmd.buf, out, out_len);
		a->cmd.data_out_len = out_len;
	}
	scsi_cmd_submit(&a->cmd);
}

static void async_wait(struct fixture *f, struct async_cmd **cmds, unsigned n)
{
	for (int i = 0; i < 100000; i++) {
		unsigned done = 0;

		for (unsigned j = 0; j < n; j++)
			done += cmds[j]->done;
		if (done == n)
			return;
		event_loop_run_once(f->h.gw.loop, 10);
	}
	fail_msg("commands never completed");
}

static struct it_nexus *async_nexus(struct fixture *f)
{
	struct it_nexus *nx = calloc(1, sizeof(*nx));

	nx->id = 0x77;
	snprintf(nx->initiator_name, sizeof(nx->initiator_name), "iqn.2026-11.org.sangw:async");
	snprintf(nx->initiator_port, sizeof(nx->initiator_port), "%s,i,0x1", nx->initiator_name);
	nx->target = f->h.target;
	/* The target port and its ALUA group, as harness_nexus() sets them. */
	nx->rel_tgt_port_id = 1;
	nx->tpg_id = 1;
	nx->fabric = &async_fabric;
	TAILQ_INIT(&nx->uas);
	TAILQ_INSERT_TAIL(&f->h.gw.nexuses, nx, link);
	scsi_nexus_register(nx);
	harness_drain(&f->h);
	ua_clear_nexus(nx);
	return nx;
}

static void async_nexus_free(struct fixture *f, struct it_nexus *nx)
{
	scsi_nexus_unregister(nx);
	TAILQ_REMOVE(&f->h.gw.nexuses, nx, link);
	free(nx);
}

static void test_caw_is_atomic_against_writes(void **state)
{
	struct fixture *f = *state;
	struct it_nexus *nx = async_nexus(f);
	struct async_cmd caw, write1, write2, read1;
	struct async_cmd *all[] = { &write1, &caw, &write2, &read1 };
	uint8_t caw_cdb[16], w_cdb[10], r_cdb[10];
	uint8_t caw_data[2 * 8 * 512], w_data[8 * 512];
	uint8_t *back;

	write_blocks(f, LUN_THIN, 400, 8, 'O');

	/* A write of 'N' arrives first, then a CAW expecting 'N' (it must
	 * wait for the write to land, else it would miscompare), then a
	 * write of 'L' (it must wait for the CAW, else the CAW would
	 * overwrite it) and a read (it must see one whole state). */
	memset(w_data, 'N', sizeof(w_data));
	cdb_rw10(w_cdb, 0x2a, 400, 8);
	async_submit(nx, &write1, LUN_THIN, w_cdb, 10, w_data, sizeof(w_data));
	memset(caw_data, 'N', 8 * 512);
	memset(caw_data + 8 * 512, 'C', 8 * 512);
	cdb_caw(caw_cdb, 400, 8);
	async_submit(nx, &caw, LUN_THIN, caw_cdb, 16, caw_data, sizeof(caw_data));
	memset(w_data, 'L', sizeof(w_data));
	async_submit(nx, &write2, LUN_THIN, w_cdb, 10, w_data, sizeof(w_data));
	cdb_rw10(r_cdb, 0x28, 400, 8);
	memset(&read1, 0, sizeof(read1));
	read1.cmd.nexus = nx;
	read1.cmd.lun = LUN_THIN;
	memcpy(read1.cmd.cdb, r_cdb, 10);
	read1.cmd.cdb_len = 10;
	read1.cmd.dir = SCSI_DIR_IN;
	read1.cmd.expected_len = 8 * 512;
	scsi_cmd_submit(&read1.cmd);

	async_wait(f, all, 4);
	assert_int_equal(write1.cmd.status, SAM_STAT_GOOD);
	assert_int_equal(caw.cmd.status, SAM_STAT_GOOD);
	assert_int_equal(write2.cmd.status, SAM_STAT_GOOD);
	assert_int_equal(read1.cmd.status, SAM_STAT_GOOD);
	assert_true(write1.order < caw.order);
	assert_true(caw.order < write2.order);
	assert_true(caw.order < read1.order);
	/* The read ran after the CAW, concurrently with the second write:
	 * it sees the CAW's data or the write's, block by block. */
	for (unsigned i = 0; i < 8 * 512; i++)
		assert_true(read1.cmd.buf[i] == 'C' || read1.cmd.buf[i] == 'L');
	back = read_blocks(f, LUN_THIN, 400, 8);
	assert_true(all_bytes(back, 8 * 512, 'L'));
	free(back);
	for (unsigned i = 0; i < 4; i++)
		scsi_cmd_free_buf(&all[i]->cmd);
	async_nexus_free(f, nx);
}

/* --- WRITE SAME, UNMAP, GET LBA STATUS ------------------------------------- */

static void cdb_ws16(uint8_t *cdb, uint8_t flags, uint64_t lba, uint32_t blocks)
{
	cdb_rw16(cdb, 0x93, lba, blocks);
	cdb[1] = flags;
}

/* GET LBA STATUS: the provisioning status of the first descriptor. */
static uint8_t lba_status(struct fixture *f, uint64_t lun, uint64_t lba, uint64_t *desc_lba,
			  uint32_t *desc_blocks)
{
	uint8_t cdb[16] = { 0x9e, 0x12 };
	struct harness_result res;
	uint8_t status;

	put_be64(cdb + 2, lba);
	put_be32(cdb + 10, 24);
	assert_int_equal(run(f, lun, cdb, 16, SCSI_DIR_IN, NULL, 0, 24, &res), SAM_STAT_GOOD);
	assert_int_equal(res.data_len, 24);
	assert_true(get_be32(res.data) >= 20);
	*desc_lba = get_be64(res.data + 8);
	*desc_blocks = get_be32(res.data + 16);
	status = res.data[20] & 0x0f;
	harness_result_free(&res);
	return status;
}

static void test_write_same(void **state)
{
	struct fixture *f = *state;
	uint8_t cdb[16];
	uint8_t block[1024];
	struct harness_result res;
	uint8_t *back;
	uint64_t d_lba;
	uint32_t d_blocks;

	/* A pattern over more than one internal chunk (2048 blocks). */
	for (unsigned i = 0; i < 512; i++)
		block[i] = (uint8_t)i;
	cdb_ws16(cdb, 0, 1000, 3000);
	assert_int_equal(run(f, LUN_THICK, cdb, 16, SCSI_DIR_OUT, block, 512, 0, &res),
			 SAM_STAT_GOOD);
	assert_int_equal(res.transfer_len, 512);
	back = read_blocks(f, LUN_THICK, 3999, 2);
	assert_memory_equal(back, block, 512);
	assert_int_equal(back[512 + 7], 0);     /* 4000 was not written */
	free(back);

	/* Zero blocks = through the last LBA (WSNZ 0). */
	memset(block, 0x6b, 512);
	cdb_rw10(cdb, 0x41, LU_BLOCKS - 5, 0);
	assert_int_equal(run(f, LUN_THICK, cdb, 10, SCSI_DIR_OUT, block, 512, 0, &res),
			 SAM_STAT_GOOD);
	back = read_blocks(f, LUN_THICK, LU_BLOCKS - 6, 6);
	assert_false(all_bytes(back, 512, 0x6b));
	assert_true(all_bytes(back + 512, 5 * 512, 0x6b));
	free(back);
	cdb_rw10(cdb, 0x41, LU_BLOCKS + 1, 0);
	run(f, LUN_THICK, cdb, 10, SCSI_DIR_OUT, block, 512, 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);

	/* Data-Out must be exactly one block. */
	cdb_ws16(cdb, 0x08, 0, 1);
	run(f, LUN_THIN, cdb, 16, SCSI_DIR_OUT, block, 256, 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	run(f, LUN_THIN, cdb, 16, SCSI_DIR_OUT, block, 1024, 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	/* ANCHOR (no ANC_SUP), UNMAP on a fully provisioned LU, WRPROTECT. */
	cdb_ws16(cdb, 0x18, 0, 1);
	run(f, LUN_THIN, cdb, 16, SCSI_DIR_OUT, block, 512, 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	cdb_ws16(cdb, 0x10, 0, 1);
	run(f, LUN_THIN, cdb, 16, SCSI_DIR_OUT, block, 512, 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	cdb_ws16(cdb, 0x08, 0, 1);
	run(f, LUN_THICK, cdb, 16, SCSI_DIR_OUT, block, 512, 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	cdb_ws16(cdb, 0x20, 0, 1);
	run(f, LUN_THIN, cdb, 16, SCSI_DIR_OUT, block, 512, 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	cdb_ws16(cdb, 0, LU_BLOCKS - 1, 2);
	run(f, LUN_THIN, cdb, 16, SCSI_DIR_OUT, block, 512, 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);

	/* UNMAP with zeros on a thin LU deallocates (4 KiB aligned here so
	 * the file shows a hole); the blocks read back as zeros. */
	write_blocks(f, LUN_THIN, 2048, 64, 0xee);
	assert_int_equal(lba_status(f, LUN_THIN, 2048, &d_lba, &d_blocks), 0);
	memset(block, 0, 512);
	cdb_ws16(cdb, 0x08, 2048, 64);
	assert_int_equal(run(f, LUN_THIN, cdb, 16, SCSI_DIR_OUT, block, 512, 0, &res),
			 SAM_STAT_GOOD);
	back = read_blocks(f, LUN_THIN, 2048, 64);
	assert_true(all_bytes(back, 64 * 512, 0));
	free(back);
	assert_int_equal(lba_status(f, LUN_THIN, 2048, &d_lba, &d_blocks), 1);
	assert_int_equal(d_lba, 2048);
	assert_true(d_blocks >= 64);

	/* NDOB: zeros without a Data-Out buffer. */
	write_blocks(f, LUN_THIN, 3000, 2, 0x12);
	cdb_ws16(cdb, 0x01, 3000, 2);
	assert_int_equal(run(f, LUN_THIN, cdb, 16, SCSI_DIR_NONE, NULL, 0, 0, &res), SAM_STAT_GOOD);
	assert_int_equal(res.transfer_len, 0);
	back = read_blocks(f, LUN_THIN, 3000, 2);
	assert_true(all_bytes(back, 1024, 0));
	free(back);
}

/* A 4096-byte-block LU: every byte count scales with the block size. */
static void test_4k_blocks(void **state)
{
	struct fixture *f = *state;
	uint8_t rc16[16] = { 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0 };
	uint8_t cdb[16];
	uint8_t *data = malloc(3 * 4096);
	struct harness_result res;
	struct lu *lu = harness_add_lu(&f->h, 11, "file:4k.img,size=4M,blocksize=4096");

	assert_non_null(lu);
	assert_int_equal(sbc_max_transfer_blocks(lu), SBC_MAX_TRANSFER_BYTES / 4096);
	assert_int_equal(run(f, 11, rc16, 16, SCSI_DIR_IN, NULL, 0, 32, &res), SAM_STAT_GOOD);
	assert_int_equal(get_be64(res.data), 1023);
	assert_int_equal(get_be32(res.data + 8), 4096);
	harness_result_free(&res);

	memset(data, 0x3c, 3 * 4096);
	cdb_rw16(cdb, 0x8a, 1021, 3);
	assert_int_equal(run(f, 11, cdb, 16, SCSI_DIR_OUT, data, 3 * 4096, 0, &res), SAM_STAT_GOOD);
	assert_int_equal(res.transfer_len, 3 * 4096);
	cdb_rw16(cdb, 0x88, 1021, 3);
	assert_int_equal(run(f, 11, cdb, 16, SCSI_DIR_IN, NULL, 0, 3 * 4096, &res), SAM_STAT_GOOD);
	assert_int_equal(res.data_len, 3 * 4096);
	assert_true(all_bytes(res.data, 3 * 4096, 0x3c));
	harness_result_free(&res);
	cdb_rw16(cdb, 0x88, 1022, 3);
	run(f, 11, cdb, 16, SCSI_DIR_IN, NULL, 0, 3 * 4096, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);

	/* WRITE SAME over 600 blocks (more than one 1 MiB chunk). */
	for (unsigned i = 0; i < 4096; i++)
		data[i] = (uint8_t)(i * 7);
	cdb_ws16(cdb, 0, 100, 600);
	assert_int_equal(run(f, 11, cdb, 16, SCSI_DIR_OUT, data, 4096, 0, &res), SAM_STAT_GOOD);
	cdb_rw16(cdb, 0x88, 699, 1);
	assert_int_equal(run(f, 11, cdb, 16, SCSI_DIR_IN, NULL, 0, 4096, &res), SAM_STAT_GOOD);
	assert_memory_equal(res.data, data, 4096);
	harness_result_free(&res);
	free(data);
}

static void test_write_same_limit(void **state)
{
	struct fixture *f = *state;
	uint8_t cdb[16];
	uint8_t block[512] = { 0 };
	struct harness_result res;
	char spec[64];

	/* An LU bigger than MAXIMUM WRITE SAME LENGTH. */
	snprintf(spec, sizeof(spec), "file:ws.img,size=%u,thin=1", (SBC_MAX_WRITE_SAME_BLOCKS + 16) * 512);
	assert_non_null(harness_add_lu(&f->h, 8, spec));
	cdb_ws16(cdb, 0, 0, 0);   /* to the end: more than the limit */
	run(f, 8, cdb, 16, SCSI_DIR_OUT, block, 512, 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	cdb_ws16(cdb, 0, 16, 0);  /* exactly the limit */
	assert_int_equal(run(f, 8, cdb, 16, SCSI_DIR_OUT, block, 512, 0, &res), SAM_STAT_GOOD);
	cdb_ws16(cdb, 0, 0, SBC_MAX_WRITE_SAME_BLOCKS + 1);
	run(f, 8, cdb, 16, SCSI_DIR_OUT, block, 512, 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	expect_field_pointer(&res, true, 10);
}

static uint32_t unmap_params(uint8_t *buf, const uint64_t *lbas, const uint32_t *counts,
			     unsigned n)
{
	uint32_t len = 8 + 16 * n;

	memset(buf, 0, len);
	put_be16(buf, (uint16_t)(len - 2));
	put_be16(buf + 2, (uint16_t)(16 * n));
	for (unsigned i = 0; i < n; i++) {
		put_be64(buf + 8 + 16 * i, lbas[i]);
		put_be32(buf + 16 + 16 * i, counts[i]);
	}
	return len;
}

static void test_unmap(void **state)
{
	struct fixture *f = *state;
	uint8_t cdb[10] = { 0x42 };
	uint8_t params[8 + 16 * (SBC_MAX_UNMAP_DESCRIPTORS + 1)];
	uint64_t lbas[SBC_MAX_UNMAP_DESCRIPTORS + 1];
	uint32_t counts[SBC_MAX_UNMAP_DESCRIPTORS + 1];
	struct harness_result res;
	uint32_t len;
	uint8_t *back;
	uint64_t d_lba;
	uint32_t d_blocks;

	write_blocks(f, LUN_THIN, 1024, 32, 0x99);
	lbas[0] = 1024;
	counts[0] = 16;
	lbas[1] = 1040;
	counts[1] = 0;                        /* zero blocks: not an error */
	lbas[2] = 1048;
	counts[2] = 8;
	len = unmap_params(params, lbas, counts, 3);
	put_be16(cdb + 7, (uint16_t)len);
	assert_int_equal(run(f, LUN_THIN, cdb, 10, SCSI_DIR_OUT, params, len, 0, &res),
			 SAM_STAT_GOOD);
	back = read_blocks(f, LUN_THIN, 1024, 32);
	assert_true(all_bytes(back, 16 * 512, 0));
	assert_true(all_bytes(back + 16 * 512, 8 * 512, 0x99));
	assert_true(all_bytes(back + 24 * 512, 8 * 512, 0));
	free(back);
	assert_int_equal(lba_status(f, LUN_THIN, 1024, &d_lba, &d_blocks), 1);
	assert_int_equal(d_blocks, 16);
	assert_int_equal(lba_status(f, LUN_THIN, 1041, &d_lba, &d_blocks), 0);
	assert_int_equal(d_lba, 1041);       /* starts where asked */
	assert_int_equal(d_blocks, 7);

	/* No parameter data, no descriptors, zero-length descriptor at the end. */
	put_be16(cdb + 7, 0);
	assert_int_equal(run(f, LUN_THIN, cdb, 10, SCSI_DIR_NONE, NULL, 0, 0, &res), SAM_STAT_GOOD);
	len = unmap_params(params, lbas, counts, 0);
	put_be16(cdb + 7, (uint16_t)len);
	assert_int_equal(run(f, LUN_THIN, cdb, 10, SCSI_DIR_OUT, params, len, 0, &res),
			 SAM_STAT_GOOD);
	lbas[0] = LU_BLOCKS;
	counts[0] = 0;
	len = unmap_params(params, lbas, counts, 1);
	assert_int_equal(run(f, LUN_THIN, cdb, 10, SCSI_DIR_OUT, params, len, 0, &res),
			 SAM_STAT_GOOD);

	/* Errors: short list, range, too many descriptors, ANCHOR, thick LU. */
	put_be16(cdb + 7, 4);
	run(f, LUN_THIN, cdb, 10, SCSI_DIR_OUT, params, 4, 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERROR);
	lbas[0] = LU_BLOCKS - 1;
	counts[0] = 2;
	len = unmap_params(params, lbas, counts, 1);
	put_be16(cdb + 7, (uint16_t)len);
	run(f, LUN_THIN, cdb, 10, SCSI_DIR_OUT, params, len, 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	for (unsigned i = 0; i <= SBC_MAX_UNMAP_DESCRIPTORS; i++) {
		lbas[i] = i;
		counts[i] = 1;
	}
	len = unmap_params(params, lbas, counts, SBC_MAX_UNMAP_DESCRIPTORS + 1);
	put_be16(cdb + 7, (uint16_t)len);
	run(f, LUN_THIN, cdb, 10, SCSI_DIR_OUT, params, len, 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAMETER_LIST);
	expect_field_pointer(&res, false, 2);
	len = unmap_params(params, lbas, counts, SBC_MAX_UNMAP_DESCRIPTORS);
	put_be16(cdb + 7, (uint16_t)len);
	assert_int_equal(run(f, LUN_THIN, cdb, 10, SCSI_DIR_OUT, params, len, 0, &res),
			 SAM_STAT_GOOD);
	cdb[1] = 0x01;
	run(f, LUN_THIN, cdb, 10, SCSI_DIR_OUT, params, len, 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	cdb[1] = 0;
	run(f, LUN_THICK, cdb, 10, SCSI_DIR_OUT, params, len, 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
	assert_false(sbc_lu_supports(f->thick, 0x42, 0));
	assert_true(sbc_lu_supports(f->thin, 0x42, 0));
	assert_true(sbc_lu_supports(f->thick, 0x9e, 0x10));
	assert_false(sbc_lu_supports(f->thick, 0x9e, 0x11));
}

static void test_get_lba_status(void **state)
{
	struct fixture *f = *state;
	uint8_t cdb[16] = { 0x9e, 0x12 };
	struct harness_result res;
	uint64_t d_lba;
	uint32_t d_blocks;

	/* A fully provisioned LU: one mapped run to the end. */
	assert_int_equal(lba_status(f, LUN_THICK, 5, &d_lba, &d_blocks), 0);
	assert_int_equal(d_lba, 5);
	assert_int_equal(d_blocks, LU_BLOCKS - 5);

	put_be64(cdb + 2, LU_BLOCKS);
	put_be32(cdb + 10, 24);
	run(f, LUN_THIN, cdb, 16, SCSI_DIR_IN, NULL, 0, 24, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	put_be64(cdb + 2, UINT64_MAX);
	run(f, LUN_THIN, cdb, 16, SCSI_DIR_IN, NULL, 0, 24, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);

	/* A large allocation length returns consecutive runs covering the
	 * rest of the LU, alternating in state. */
	write_blocks(f, LUN_THIN, 7000, 8, 1);
	put_be64(cdb + 2, 6000);
	put_be32(cdb + 10, 8 + 16 * 64);
	assert_int_equal(run(f, LUN_THIN, cdb, 16, SCSI_DIR_IN, NULL, 0, 8 + 16 * 64, &res),
			 SAM_STAT_GOOD);
	{
		uint32_t n = (get_be32(res.data) - 4) / 16;
		uint64_t next = 6000;

		assert_true(n >= 2);
		for (uint32_t i = 0; i < n; i++) {
			const uint8_t *d = res.data + 8 + 16 * i;

			assert_true(get_be64(d) == next);
			if (i > 0)
				assert_int_not_equal(d[12], (d - 16)[12]);
			next += get_be32(d + 8);
		}
		assert_true(next == LU_BLOCKS);
	}
	harness_result_free(&res);
}

/* --- SYNCHRONIZE CACHE, PRE-FETCH, READ DEFECT DATA ------------------------ */

static void test_sync_cache_prefetch_defects(void **state)
{
	struct fixture *f = *state;
	uint8_t cdb[16];
	uint8_t rdd10[10] = { 0x37, 0, 0x1d, 0, 0, 0, 0, 0, 0x20, 0 };
	uint8_t rdd12[12] = { 0xb7, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0 };
	struct harness_result res;

	cdb_rw10(cdb, 0x35, 0, 0);
	assert_int_equal(run(f, LUN_THIN, cdb, 10, SCSI_DIR_NONE, NULL, 0, 0, &res), SAM_STAT_GOOD);
	cdb[1] = 0x02;                        /* IMMED */
	assert_int_equal(run(f, LUN_THIN, cdb, 10, SCSI_DIR_NONE, NULL, 0, 0, &res), SAM_STAT_GOOD);
	cdb_rw16(cdb, 0x91, LU_BLOCKS - 1, 2);
	run(f, LUN_THIN, cdb, 16, SCSI_DIR_NONE, NULL, 0, 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);

	/* PRE-FETCH: GOOD (we have no cache to load), range checked. */
	cdb_rw10(cdb, 0x34, 0, 256);
	cdb[1] = 0x02;
	cdb[6] = 3;                           /* GROUP NUMBER */
	assert_int_equal(run(f, LUN_THIN, cdb, 10, SCSI_DIR_NONE, NULL, 0, 0, &res), SAM_STAT_GOOD);
	cdb_rw16(cdb, 0x90, LU_BLOCKS + 1, 0);
	run(f, LUN_THIN, cdb, 16, SCSI_DIR_NONE, NULL, 0, 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);

	/* READ DEFECT DATA: empty lists in the requested format. */
	assert_int_equal(run(f, LUN_THIN, rdd10, 10, SCSI_DIR_IN, NULL, 0, 32, &res), SAM_STAT_GOOD);
	assert_int_equal(res.data_len, 4);
	assert_int_equal(res.data[1], 0x1d);
	assert_int_equal(get_be16(res.data + 2), 0);
	harness_result_free(&res);
	assert_int_equal(run(f, LUN_THIN, rdd12, 12, SCSI_DIR_IN, NULL, 0, 32, &res), SAM_STAT_GOOD);
	assert_int_equal(res.data_len, 8);
	assert_int_equal(res.data[1], 0x0c);
	assert_int_equal(get_be32(res.data + 4), 0);
	harness_result_free(&res);
}

/* --- START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL -------------------------- */

static void test_start_stop_prevent(void **state)
{
	struct fixture *f = *state;
	uint8_t ssu[6] = { 0x1b, 0, 0, 0, 0, 0 };
	uint8_t pa[6] = { 0x1e, 0, 0, 0, 0, 0 };
	uint8_t rd[10];
	struct harness_result res;
	struct it_nexus *other = harness_nexus(&f->h, "iqn.2026-11.org.sangw:other", 2);

	ua_clear_nexus(other);
	cdb_rw10(rd, 0x28, 0, 1);
	/* Eject, then medium access is NOT READY; load again. */
	ssu[4] = 0x02;                        /* LOEJ, START 0 */
	assert_int_equal(run(f, LUN_REMOVABLE, ssu, 6, SCSI_DIR_NONE, NULL, 0, 0, &res),
			 SAM_STAT_GOOD);
	assert_false(f->removable->medium_loaded);
	run(f, LUN_REMOVABLE, rd, 10, SCSI_DIR_IN, NULL, 0, 512, &res);
	expect_sense(&res, SK_NOT_READY, ASC_MEDIUM_NOT_PRESENT);
	/* PREVENT works without a medium and blocks loading too. */
	pa[4] = 1;
	assert_int_equal(run(f, LUN_REMOVABLE, pa, 6, SCSI_DIR_NONE, NULL, 0, 0, &res),
			 SAM_STAT_GOOD);
	ssu[4] = 0x03;
	run(f, LUN_REMOVABLE, ssu, 6, SCSI_DIR_NONE, NULL, 0, 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_MEDIUM_REMOVAL_PREVENTED);
	pa[4] = 0;
	assert_int_equal(run(f, LUN_REMOVABLE, pa, 6, SCSI_DIR_NONE, NULL, 0, 0, &res),
			 SAM_STAT_GOOD);
	assert_int_equal(run(f, LUN_REMOVABLE, ssu, 6, SCSI_DIR_NONE, NULL, 0, 0, &res),
			 SAM_STAT_GOOD);
	assert_true(f->removable->medium_loaded);

	/* PREVENT, eject refused, on every nexus. ALLOW from, or the loss
	 * of, another nexus changes nothing; the loss of the one that
	 * prevented ends it. */
	pa[4] = 1;
	assert_int_equal(run(f, LUN_REMOVABLE, pa, 6, SCSI_DIR_NONE, NULL, 0, 0, &res),
			 SAM_STAT_GOOD);
	ssu[4] = 0x02;
	run(f, LUN_REMOVABLE, ssu, 6, SCSI_DIR_NONE, NULL, 0, 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_MEDIUM_REMOVAL_PREVENTED);
	assert_true(f->removable->medium_loaded);
	pa[4] = 0;
	harness_run(&f->h, other, LUN_REMOVABLE, pa, 6, SCSI_DIR_NONE, NULL, 0, 0, &res);
	assert_int_equal(res.status, SAM_STAT_GOOD);
	harness_run(&f->h, other, LUN_REMOVABLE, ssu, 6, SCSI_DIR_NONE, NULL, 0, 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_MEDIUM_REMOVAL_PREVENTED);
	sbc_nexus_lost(f->removable, other);
	assert_true(f->removable->prevent_removal);
	sbc_nexus_lost(f->removable, f->nx);
	assert_false(f->removable->prevent_removal);
	/* A logical unit reset ends every nexus' prevention. */
	pa[4] = 1;
	assert_int_equal(run(f, LUN_REMOVABLE, pa, 6, SCSI_DIR_NONE, NULL, 0, 0, &res),
			 SAM_STAT_GOOD);
	harness_run(&f->h, other, LUN_REMOVABLE, pa, 6, SCSI_DIR_NONE, NULL, 0, 0, &res);
	assert_int_equal(res.status, SAM_STAT_GOOD);
	sbc_lu_reset(f->removable);
	assert_false(f->removable->prevent_removal);
	harness_nexus_free(&f->h, other);

	/* A power condition makes START and LOEJ ignored. */
	ssu[4] = 0x32;                        /* STANDBY, LOEJ */
	assert_int_equal(run(f, LUN_REMOVABLE, ssu, 6, SCSI_DIR_NONE, NULL, 0, 0, &res),
			 SAM_STAT_GOOD);
	assert_true(f->removable->medium_loaded);
	/* A plain STOP (no LOEJ) keeps the LU ready. */
	ssu[4] = 0x00;
	assert_int_equal(run(f, LUN_REMOVABLE, ssu, 6, SCSI_DIR_NONE, NULL, 0, 0, &res),
			 SAM_STAT_GOOD);
	assert_int_equal(run(f, LUN_REMOVABLE, rd, 10, SCSI_DIR_IN, NULL, 0, 512, &res),
			 SAM_STAT_GOOD);
	harness_result_free(&res);

	/* Not removable: LOEJ and PREVENT are invalid fields; ALLOW is fine. */
	ssu[4] = 0x02;
	run(f, LUN_THICK, ssu, 6, SCSI_DIR_NONE, NULL, 0, 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	pa[4] = 1;
	run(f, LUN_THICK, pa, 6, SCSI_DIR_NONE, NULL, 0, 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	pa[4] = 0;
	assert_int_equal(run(f, LUN_THICK, pa, 6, SCSI_DIR_NONE, NULL, 0, 0, &res), SAM_STAT_GOOD);
	pa[4] = 2;
	run(f, LUN_REMOVABLE, pa, 6, SCSI_DIR_NONE, NULL, 0, 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
}

/* --- SANITIZE ------------------------------------------------------------------ */

static uint8_t sanitize(struct fixture *f, uint64_t lun, uint8_t byte1, const uint8_t *params,
			uint16_t param_len, struct harness_result *res)
{
	uint8_t cdb[10] = { 0x48, byte1 };

	put_be16(cdb + 7, param_len);
	return run(f, lun, cdb, 10, param_len ? SCSI_DIR_OUT : SCSI_DIR_NONE, params, param_len,
		   0, res);
}

static void wait_sanitize_done(struct fixture *f, struct lu *lu)
{
	uint16_t progress;

	for (int i = 0; i < 10000 && sanitize_progress(lu, &progress); i++)
		event_loop_run_once(f->h.gw.loop, 10);
	assert_false(sanitize_progress(lu, &progress));
}

static void test_sanitize_overwrite(void **state)
{
	struct fixture *f = *state;
	uint8_t params[4 + 512 + 8];
	uint8_t rd[10];
	struct harness_result res;
	uint16_t progress;
	uint8_t *back;

	write_blocks(f, LUN_THICK, 0, 8, 'a');
	params[0] = 0x01;                     /* OVERWRITE COUNT 1 */
	params[1] = 0;
	put_be16(params + 2, 4);
	memcpy(params + 4, "\x01\x02\x03\x04", 4);
	/* Synchronous: the data is there when status arrives. */
	assert_int_equal(sanitize(f, LUN_THICK, 0x01, params, 8, &res), SAM_STAT_GOOD);
	back = read_blocks(f, LUN_THICK, LU_BLOCKS - 1, 1);
	for (unsigned i = 0; i < 512; i++)
		assert_int_equal(back[i], i % 4 + 1);
	free(back);

	/* A pattern that does not divide the block starts again in each
	 * block (SBC-3 5.24.3), not where the previous block left it. */
	put_be16(params + 2, 3);
	memcpy(params + 4, "\x07\x08\x09", 3);
	assert_int_equal(sanitize(f, LUN_THICK, 0x01, params, 7, &res), SAM_STAT_GOOD);
	back = read_blocks(f, LUN_THICK, 0, 3);
	for (unsigned i = 0; i < 3 * 512; i++)
		assert_int_equal(back[i], (i % 512) % 3 + 7);
	free(back);

	/* IMMED: status at once; everything but INQUIRY, REPORT LUNS and
	 * REQUEST SENSE is NOT READY, SANITIZE IN PROGRESS meanwhile. */
	put_be16(params + 2, 512);
	memset(params + 4, 0xaa, 512);
	assert_int_equal(sanitize(f, LUN_THICK, 0x81, params, 4 + 512, &res), SAM_STAT_GOOD);
	assert_true(sanitize_progress(f->thick, &progress));
	cdb_rw10(rd, 0x28, 0, 1);
	run(f, LUN_THICK, rd, 10, SCSI_DIR_IN, NULL, 0, 512, &res);
	expect_sense(&res, SK_NOT_READY, ASC_LU_NOT_READY_SANITIZE_IN_PROGRESS);
	sanitize(f, LUN_THICK, 0x01, params, 4 + 512, &res);
	expect_sense(&res, SK_NOT_READY, ASC_LU_NOT_READY_SANITIZE_IN_PROGRESS);
	wait_sanitize_done(f, f->thick);
	back = read_blocks(f, LUN_THICK, 0, 8);
	assert_true(all_bytes(back, 8 * 512, 0xaa));
	free(back);

	/* Parameter list checks (SBC-3 5.24.3). */
	for (uint16_t len = 0; len <= 4; len++) {
		sanitize(f, LUN_THICK, 0x01, params, len, &res);
		expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	}
	sanitize(f, LUN_THICK, 0x01, params, 512 + 5, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	params[0] = 0;                        /* OVERWRITE COUNT 0 */
	sanitize(f, LUN_THICK, 0x01, params, 4 + 512, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAMETER_LIST);
	params[0] = 1;
	put_be16(params + 2, 0);              /* no pattern */
	sanitize(f, LUN_THICK, 0x01, params, 4 + 512, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAMETER_LIST);
	put_be16(params + 2, 512 + 4);        /* longer than a block */
	sanitize(f, LUN_THICK, 0x01, params, 4 + 512, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAMETER_LIST);
}

static void test_sanitize_erase(void **state)
{
	struct fixture *f = *state;
	uint8_t params[8] = { 0 };
	struct harness_result res;
	uint8_t *back;
	uint64_t d_lba;
	uint32_t d_blocks;

	write_blocks(f, LUN_THIN, 0, 16, 'a');
	write_blocks(f, LUN_THIN, LU_BLOCKS - 16, 16, 'a');
	assert_int_equal(sanitize(f, LUN_THIN, 0x02, NULL, 0, &res), SAM_STAT_GOOD);
	back = read_blocks(f, LUN_THIN, LU_BLOCKS - 16, 16);
	assert_true(all_bytes(back, 16 * 512, 0));
	free(back);
	/* Every block deallocated, in one run. */
	assert_int_equal(lba_status(f, LUN_THIN, 0, &d_lba, &d_blocks), 1);
	assert_int_equal(d_blocks, LU_BLOCKS);

	/* CRYPTO ERASE on a fully provisioned LU writes zeros. */
	write_blocks(f, LUN_THICK, 0, 16, 'a');
	assert_int_equal(sanitize(f, LUN_THICK, 0x03, NULL, 0, &res), SAM_STAT_GOOD);
	back = read_blocks(f, LUN_THICK, 0, 16);
	assert_true(all_bytes(back, 16 * 512, 0));
	free(back);

	/* BLOCK ERASE needs provisioning; erase and exit take no parameters;
	 * unknown service actions are invalid; EXIT FAILURE MODE is GOOD. */
	sanitize(f, LUN_THICK, 0x02, NULL, 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	assert_false(sanitize_lu_supports(f->thick, 0x02));
	assert_true(sanitize_lu_supports(f->thin, 0x02));
	sanitize(f, LUN_THIN, 0x02, params, 8, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	sanitize(f, LUN_THIN, 0x1f, params, 8, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	assert_int_equal(sanitize(f, LUN_THIN, 0x1f, NULL, 0, &res), SAM_STAT_GOOD);
	/* A reserved bit in byte 1, an unknown service action. */
	sanitize(f, LUN_THIN, 0x43, NULL, 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	assert_int_equal(sanitize(f, LUN_THIN, 0x05, NULL, 0, &res), SAM_STAT_CHECK_CONDITION);
	assert_int_equal(res.sense_key, SK_ILLEGAL_REQUEST);
}

/* A sanitize outlives its command: abort it, destroy the LU under it. */
static void test_sanitize_survives_abort(void **state)
{
	struct fixture *f = *state;
	struct it_nexus *nx = async_nexus(f);
	struct async_cmd san;
	struct async_cmd *all[] = { &san };
	uint8_t cdb[10] = { 0x48, 0x01, 0, 0, 0, 0, 0, 0, 8, 0 };
	uint8_t params[8] = { 0x01, 0, 0, 4, 0x5e, 0x5e, 0x5e, 0x5e };
	struct lu *big = harness_add_lu(&f->h, 9, "file:san.img,size=64M,thin=1");
	uint16_t progress;

	assert_non_null(big);
	async_submit(nx, &san, 9, cdb, 10, params, sizeof(params));
	for (int i = 0; i < 20; i++)
		event_loop_run_once(f->h.gw.loop, 5);
	assert_false(san.done);
	san.cmd.aborted = true;   /* what ABORT TASK does */
	async_wait(f, all, 1);
	assert_true(sanitize_progress(big, &progress));
	scsi_cmd_free_buf(&san.cmd);
	lu_destroy(big);          /* with the sanitize still running */
	async_nexus_free(f, nx);
}


/* --- EXTENDED COPY and RECEIVE COPY RESULTS (xcopy.c) ------------------------ */

/* An identification descriptor CSCD naming lu by its NAA designator
 * (SPC-4 6.4.5.3), as libiscsi builds it. */
static void put_cscd(uint8_t *d, const struct lu *lu)
{
	memset(d, 0, 32);
	d[0] = 0xe4;
	d[4] = 0x01;              /* code set binary */
	d[5] = 0x03;              /* association LU, designator type NAA */
	d[7] = 16;
	memcpy(d + 8, lu->naa, 16);
	put_be24(d + 29, lu->block_size);
}

/* A block device to block device segment descriptor (SPC-4 6.4.6.5). */
static void put_b2b(uint8_t *d, uint16_t src, uint16_t dst, uint16_t blocks, uint64_t src_lba,
		    uint64_t dst_lba, bool dc)
{
	memset(d, 0, 28);
	d[0] = 0x02;
	d[1] = dc ? 0x02 : 0;
	put_be16(d + 2, 24);
	put_be16(d + 4, src);
	put_be16(d + 6, dst);
	put_be16(d + 10, blocks);
	put_be64(d + 12, src_lba);
	put_be64(d + 20, dst_lba);
}

/* The parameter list header (LID1); returns the list length. */
static uint32_t put_xcopy_header(uint8_t *p, uint8_t list_id, uint8_t usage, unsigned ncscd,
				 unsigned nseg)
{
	memset(p, 0, 16);
	p[0] = list_id;
	p[1] = (uint8_t)(usage << 3);
	put_be16(p + 2, (uint16_t)(32 * ncscd));
	put_be32(p + 8, 28 * nseg);
	return 16 + 32 * ncscd + 28 * nseg;
}

static uint8_t xcopy(struct fixture *f, uint64_t lun, const uint8_t *params, uint32_t len,
		     struct harness_result *res)
{
	uint8_t cdb[16] = { 0x83 };

	put_be32(cdb + 10, len);
	return run(f, lun, cdb, 16, len ? SCSI_DIR_OUT : SCSI_DIR_NONE, params, len, 0, res);
}

static uint8_t copy_results(struct fixture *f, uint8_t sa, uint8_t list_id,
			    struct harness_result *res)
{
	uint8_t cdb[16] = { 0x84, sa, list_id };

	put_be32(cdb + 10, 1024);
	return run(f, LUN_THIN, cdb, 16, SCSI_DIR_IN, NULL, 0, 1024, res);
}

static void expect_param_error(const uint8_t *p, uint32_t len, uint16_t asc, int byte)
{
	struct xcopy_params params;
	struct xcopy_error err;

	assert_false(xcopy_parse_params(p, len, &params, &err));
	assert_int_equal(err.asc, asc);
	if (byte >= 0) {
		assert_true(err.field_valid);
		assert_int_equal(err.byte, byte);
	}
}

/* Decoding and the ILLEGAL REQUEST checks of SPC-4 6.4.3.2. */
static void test_xcopy_parse(void **state)
{
	struct fixture *f = *state;
	uint8_t p[16 + 32 * 10 + 28 * 70];
	struct xcopy_params params;
	struct xcopy_error err;
	uint32_t len;

	len = put_xcopy_header(p, 7, 0, 2, 2);
	put_cscd(p + 16, f->thin);
	put_cscd(p + 48, f->thick);
	put_b2b(p + 80, 0, 1, 100, 5, 6, false);
	put_b2b(p + 108, 1, 0, 0xffff, 1ull << 40, 9, true);
	assert_true(xcopy_parse_params(p, len, &params, &err));
	assert_int_equal(params.list_id, 7);
	assert_int_equal(params.list_id_usage, 0);
	assert_int_equal(params.cscd_count, 2);
	assert_int_equal(params.cscd[1].offset, 48);
	assert_int_equal(params.cscd[1].designator_type, 3);
	assert_int_equal(params.cscd[1].designator_len, 16);
	assert_memory_equal(params.cscd[1].designator, f->thick->naa, 16);
	assert_int_equal(params.cscd[0].block_length, 512);
	assert_int_equal(params.segment_count, 2);
	assert_int_equal(params.segment[0].blocks, 100);
	assert_true(params.segment[0].src_lba == 5 && params.segment[0].dst_lba == 6);
	assert_false(params.segment[0].dc);
	assert_int_equal(params.segment[1].src_index, 1);
	assert_int_equal(params.segment[1].blocks, 0xffff);
	assert_true(params.segment[1].src_lba == 1ull << 40);
	assert_true(params.segment[1].dc);
	assert_int_equal(params.segment[1].offset, 108);

	/* Cut short anywhere: PARAMETER LIST LENGTH ERROR. */
	expect_param_error(p, 15, ASC_PARAMETER_LIST_LENGTH_ERROR, -1);
	expect_param_error(p, 16 + 31, ASC_PARAMETER_LIST_LENGTH_ERROR, -1);
	expect_param_error(p, len - 1, ASC_PARAMETER_LIST_LENGTH_ERROR, -1);
	/* CSCD list length not a whole descriptor. */
	put_be16(p + 2, 63);
	expect_param_error(p, len, ASC_PARAMETER_LIST_LENGTH_ERROR, -1);
	put_be16(p + 2, 64);
	/* LIST ID USAGE 01b is reserved; 11b needs LIST IDENTIFIER 0. */
	p[1] = 0x08;
	expect_param_error(p, len, ASC_INVALID_FIELD_IN_PARAMETER_LIST, 1);
	p[1] = 0x18;
	expect_param_error(p, len, ASC_INVALID_FIELD_IN_PARAMETER_LIST, 0);
	p[0] = 0;
	assert_true(xcopy_parse_params(p, len, &params, &err));
	assert_int_equal(params.list_id_usage, 3);
	p[1] = 0;
	/* Inline data: MAXIMUM INLINE DATA LENGTH is 0. */
	put_be32(p + 12, 4);
	expect_param_error(p, len + 4, ASC_INVALID_FIELD_IN_PARAMETER_LIST, 12);
	put_be32(p + 12, 0);
	/* Unsupported descriptor types, pointing at the descriptor. */
	p[48] = 0xe0;
	expect_param_error(p, len, ASC_UNSUPPORTED_TARGET_DESCRIPTOR_TYPE, 48);
	p[48] = 0x02;             /* a segment type in the CSCD list */
	expect_param_error(p, len, ASC_UNSUPPORTED_TARGET_DESCRIPTOR_TYPE, 48);
	p[48] = 0xe4;
	p[49] = 0x01;             /* peripheral device type 1 (tape) */
	expect_param_error(p, len, ASC_INVALID_FIELD_IN_PARAMETER_LIST, 49);
	p[49] = 0xe0;             /* obsolete LU ID TYPE and NUL: ignored */
	assert_true(xcopy_parse_params(p, len, &params, &err));
	p[49] = 0;
	p[55] = 17;               /* designator longer than the field */
	expect_param_error(p, len, ASC_INVALID_FIELD_IN_PARAMETER_LIST, 55);
	p[55] = 16;
	p[108] = 0x03;            /* stream to stream */
	expect_param_error(p, len, ASC_UNSUPPORTED_SEGMENT_DESCRIPTOR_TYPE, 108);
	p[108] = 0x02;
	put_be16(p + 82, 20);     /* a block to block segment of the wrong length */
	put_be32(p + 8, 52);
	expect_param_error(p, 16 + 64 + 52, ASC_INVALID_FIELD_IN_PARAMETER_LIST, 82);

	/* One more CSCD or segment descriptor than allowed. */
	len = put_xcopy_header(p, 1, 0, XCOPY_MAX_CSCD_DESCRIPTORS + 1, 1);
	for (unsigned i = 0; i <= XCOPY_MAX_CSCD_DESCRIPTORS; i++)
		put_cscd(p + 16 + 32 * i, f->thin);
	put_b2b(p + 16 + 32 * (XCOPY_MAX_CSCD_DESCRIPTORS + 1), 0, 0, 1, 0, 1, false);
	expect_param_error(p, len, ASC_TOO_MANY_TARGET_DESCRIPTORS,
			   16 + 32 * XCOPY_MAX_CSCD_DESCRIPTORS);
	len = put_xcopy_header(p, 1, 0, 1, XCOPY_MAX_SEGMENT_DESCRIPTORS + 1);
	put_cscd(p + 16, f->thin);
	for (unsigned i = 0; i <= XCOPY_MAX_SEGMENT_DESCRIPTORS; i++)
		put_b2b(p + 48 + 28 * i, 0, 0, 1, 0, 1, false);
	expect_param_error(p, len, ASC_TOO_MANY_SEGMENT_DESCRIPTORS,
			   48 + 28 * XCOPY_MAX_SEGMENT_DESCRIPTORS);
	len = put_xcopy_header(p, 1, 0, 1, XCOPY_MAX_SEGMENT_DESCRIPTORS);
	assert_true(xcopy_parse_params(p, len, &params, &err));
	assert_int_equal(params.segment_count, XCOPY_MAX_SEGMENT_DESCRIPTORS);
	/* Both lists beyond MAXIMUM DESCRIPTOR LIST LENGTH. */
	len = put_xcopy_header(p, 1, 0, XCOPY_MAX_CSCD_DESCRIPTORS + 1,
			       XCOPY_MAX_SEGMENT_DESCRIPTORS + 1);
	assert_true(len - 16 > XCOPY_MAX_DESCRIPTOR_LIST_LEN);
	expect_param_error(p, len, ASC_PARAMETER_LIST_LENGTH_ERROR, -1);
	assert_true(32 * XCOPY_MAX_CSCD_DESCRIPTORS + 28 * XCOPY_MAX_SEGMENT_DESCRIPTORS <=
		    XCOPY_MAX_DESCRIPTOR_LIST_LEN);
}

static void fill_pattern(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)((i / 512) * 31 + i * 7 + seed);
}

/* Copies between LUs and within one, over several chunks. */
static void test_xcopy_copies(void **state)
{
	struct fixture *f = *state;
	struct lu *k4 = harness_add_lu(&f->h, 12, "file:x4k.img,size=4M,blocksize=4096");
	uint32_t big = 3000;      /* 1.5 MiB: more than one chunk */
	uint8_t *pattern = malloc(big * 512);
	uint8_t p[16 + 32 * 3 + 28 * 4];
	struct harness_result res;
	uint8_t cdb[16];
	uint8_t *back;
	uint32_t len;

	assert_non_null(k4);
	fill_pattern(pattern, big * 512, 3);
	cdb_rw16(cdb, 0x8a, 100, big);
	assert_int_equal(run(f, LUN_THIN, cdb, 16, SCSI_DIR_OUT, pattern, big * 512, 0, &res),
			 SAM_STAT_GOOD);

	/* Thin LBA 100.. to thick LBA 4000.., a zero-block segment, and
	 * 8 blocks of 512 to one 4096-byte block (DC: destination blocks). */
	len = put_xcopy_header(p, 1, XCOPY_LIST_ID_NO_HOLD, 3, 3);
	put_cscd(p + 16, f->thin);
	put_cscd(p + 48, f->thick);
	put_cscd(p + 80, k4);
	put_b2b(p + 112, 0, 1, (uint16_t)big, 100, 4000, false);
	put_b2b(p + 140, 1, 0, 0, 0, 0, false);
	put_b2b(p + 168, 0, 2, 1, 108, 7, true);
	assert_int_equal(xcopy(f, LUN_THICK, p, len, &res), SAM_STAT_GOOD);
	assert_int_equal(res.transfer_len, len);
	back = read_blocks(f, LUN_THICK, 4000, (uint16_t)big);
	assert_memory_equal(back, pattern, big * 512);
	free(back);
	cdb_rw16(cdb, 0x88, 7, 1);
	assert_int_equal(run(f, 12, cdb, 16, SCSI_DIR_IN, NULL, 0, 4096, &res), SAM_STAT_GOOD);
	assert_memory_equal(res.data, pattern + 8 * 512, 4096);
	harness_result_free(&res);

	/* Within one LU, destination overlapping the source's tail: the
	 * result is the source as it was (copied from the end). */
	len = put_xcopy_header(p, 2, XCOPY_LIST_ID_NONE, 1, 1);
	p[0] = 0;
	put_cscd(p + 16, f->thin);
	put_b2b(p + 48, 0, 0, (uint16_t)big, 100, 600, false);
	assert_int_equal(xcopy(f, LUN_THIN, p, len, &res), SAM_STAT_GOOD);
	back = read_blocks(f, LUN_THIN, 600, (uint16_t)big);
	assert_memory_equal(back, pattern, big * 512);
	free(back);
	/* ... and overlapping the head: copied forward. */
	put_b2b(p + 48, 0, 0, (uint16_t)big, 600, 200, false);
	assert_int_equal(xcopy(f, LUN_THIN, p, len, &res), SAM_STAT_GOOD);
	back = read_blocks(f, LUN_THIN, 200, (uint16_t)big);
	assert_memory_equal(back, pattern, big * 512);
	free(back);

	/* PARAMETER LIST LENGTH 0: nothing to do. */
	assert_int_equal(xcopy(f, LUN_THIN, NULL, 0, &res), SAM_STAT_GOOD);
	free(pattern);
}

/* The checks made against the LUs before anything is copied. */
static void test_xcopy_errors(void **state)
{
	struct fixture *f = *state;
	uint8_t p[16 + 32 * 2 + 28];
	struct harness_result res;
	struct target *other;
	struct lu_spec spec;
	struct lu *hidden;
	char text[300], err[128];
	uint8_t *back;
	uint32_t len;
	struct lu *ro;
	FILE *file;

	/* A read-only LU needs its file: 4 MiB of 0x33. */
	snprintf(text, sizeof(text), "%s/ro.img", f->h.dir);
	file = fopen(text, "w");
	assert_non_null(file);
	for (unsigned i = 0; i < 4u << 20; i++)
		fputc(0x33, file);
	fclose(file);
	ro = harness_add_lu(&f->h, 13, "file:ro.img,readonly=1");
	assert_non_null(ro);
	write_blocks(f, LUN_THICK, 50, 4, 0x5a);
	len = put_xcopy_header(p, 1, 0, 2, 1);
	put_cscd(p + 16, f->thick);
	put_cscd(p + 48, f->thin);

	/* A CSCD index past the list: UNREACHABLE COPY TARGET. */
	put_b2b(p + 80, 0, 2, 4, 50, 50, false);
	xcopy(f, LUN_THIN, p, len, &res);
	expect_sense(&res, SK_COPY_ABORTED, 0x0804);
	/* Past the end of the destination. */
	put_b2b(p + 80, 0, 1, 4, 50, LU_BLOCKS - 3, false);
	xcopy(f, LUN_THIN, p, len, &res);
	expect_sense(&res, SK_COPY_ABORTED, ASC_NO_ADDITIONAL_SENSE);
	/* A designator no LU has: COPY TARGET DEVICE NOT REACHABLE. */
	put_b2b(p + 80, 0, 1, 4, 50, 50, false);
	p[48 + 20] ^= 0xff;
	xcopy(f, LUN_THIN, p, len, &res);
	expect_sense(&res, SK_COPY_ABORTED, 0x0d02);
	p[48 + 20] ^= 0xff;
	/* DISK BLOCK LENGTH not the LU's. */
	put_be24(p + 48 + 29, 4096);
	xcopy(f, LUN_THIN, p, len, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAMETER_LIST);
	expect_field_pointer(&res, false, 48 + 29);
	put_be24(p + 48 + 29, 512);
	/* A read-only destination: DATA PROTECT, as for a write. */
	put_cscd(p + 48, ro);
	xcopy(f, LUN_THIN, p, len, &res);
	expect_sense(&res, SK_DATA_PROTECT, ASC_WRITE_PROTECTED);
	/* ... but it may be the source. */
	put_b2b(p + 80, 1, 0, 4, 0, 60, false);
	assert_int_equal(xcopy(f, LUN_THIN, p, len, &res), SAM_STAT_GOOD);
	back = read_blocks(f, LUN_THICK, 60, 4);
	assert_true(all_bytes(back, 4 * 512, 0x33));
	free(back);

	/* An LU of a target the initiator may not log in to is not there. */
	other = target_create(&f->h.gw, "iqn.2026-11.org.sangw:other");
	assert_non_null(other);
	snprintf(text, sizeof(text), "file:%s/other.img,size=4M", f->h.dir);
	assert_int_equal(lu_spec_parse(text, &spec, err, sizeof(err)), 0);
	hidden = lu_create(other, 0, &spec, err, sizeof(err));
	assert_non_null(hidden);
	put_cscd(p + 48, hidden);
	put_b2b(p + 80, 0, 1, 4, 50, 50, false);
	xcopy(f, LUN_THIN, p, len, &res);
	expect_sense(&res, SK_COPY_ABORTED, 0x0d02);
	other->demo_mode = true;
	assert_int_equal(xcopy(f, LUN_THIN, p, len, &res), SAM_STAT_GOOD);
	/* ... and back from it, to another place, to see what it holds. */
	put_b2b(p + 80, 1, 0, 4, 50, 70, false);
	assert_int_equal(xcopy(f, LUN_THIN, p, len, &res), SAM_STAT_GOOD);
	back = read_blocks(f, LUN_THICK, 70, 4);
	assert_true(all_bytes(back, 4 * 512, 0x5a));
	free(back);
}

/* RECEIVE COPY RESULTS: the limits, and held copy status. */
static void test_receive_copy_results(void **state)
{
	struct fixture *f = *state;
	uint8_t p[16 + 32 + 28 * 2];
	struct harness_result res;
	uint32_t len;

	assert_int_equal(copy_results(f, XCOPY_SA_OPERATING_PARAMETERS, 0, &res), SAM_STAT_GOOD);
	assert_int_equal(res.data_len, 46);
	assert_int_equal(get_be32(res.data), 42);
	assert_int_equal(res.data[4] & 1, 1);                    /* SNLID */
	assert_int_equal(get_be16(res.data + 8), XCOPY_MAX_CSCD_DESCRIPTORS);
	assert_int_equal(get_be16(res.data + 10), XCOPY_MAX_SEGMENT_DESCRIPTORS);
	assert_int_equal(get_be32(res.data + 12), XCOPY_MAX_DESCRIPTOR_LIST_LEN);
	assert_int_equal(get_be32(res.data + 16), XCOPY_MAX_SEGMENT_BYTES);
	assert_int_equal(get_be32(res.data + 20), 0);             /* no inline data */
	assert_int_equal(res.data[36], XCOPY_MAX_CONCURRENT_COPIES);
	assert_int_equal(res.data[37], 9);                        /* 512-byte blocks */
	assert_int_equal(res.data[43], 2);
	assert_int_equal(res.data[44], 0x02);
	assert_int_equal(res.data[45], 0xe4);
	harness_result_free(&res);

	/* No such copy. */
	copy_results(f, XCOPY_SA_COPY_STATUS, 5, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	expect_field_pointer(&res, true, 2);
	/* An unimplemented service action (RECEIVE DATA). */
	copy_results(f, 0x01, 5, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);

	/* A held copy of two segments (3 + 5 blocks). */
	len = put_xcopy_header(p, 5, XCOPY_LIST_ID_HOLD, 1, 2);
	put_cscd(p + 16, f->thin);
	put_b2b(p + 48, 0, 0, 3, 0, 10, false);
	put_b2b(p + 76, 0, 0, 5, 0, 20, false);
	assert_int_equal(xcopy(f, LUN_THIN, p, len, &res), SAM_STAT_GOOD);
	assert_int_equal(copy_results(f, XCOPY_SA_COPY_STATUS, 5, &res), SAM_STAT_GOOD);
	assert_int_equal(res.data_len, 12);
	assert_int_equal(get_be32(res.data), 8);
	assert_int_equal(res.data[4], 0x01);                      /* completed, no errors */
	assert_int_equal(get_be16(res.data + 5), 2);
	assert_int_equal(res.data[7], 0);                         /* bytes */
	assert_int_equal(get_be32(res.data + 8), 8 * 512);
	harness_result_free(&res);
	/* Reported once. */
	copy_results(f, XCOPY_SA_COPY_STATUS, 5, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);

	/* Not held without LIST ID USAGE 00b, nor after the nexus is lost,
	 * nor after a logical unit reset. */
	p[1] = XCOPY_LIST_ID_NO_HOLD << 3;
	assert_int_equal(xcopy(f, LUN_THIN, p, len, &res), SAM_STAT_GOOD);
	copy_results(f, XCOPY_SA_COPY_STATUS, 5, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	p[1] = 0;
	assert_int_equal(xcopy(f, LUN_THIN, p, len, &res), SAM_STAT_GOOD);
	scsi_lu_nexus_lost(f->thin, f->nx);
	copy_results(f, XCOPY_SA_COPY_STATUS, 5, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	assert_int_equal(xcopy(f, LUN_THIN, p, len, &res), SAM_STAT_GOOD);
	scsi_lu_reset(f->thin);
	copy_results(f, XCOPY_SA_COPY_STATUS, 5, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	/* A failed copy (past the end) holds nothing either. */
	put_b2b(p + 76, 0, 0, 5, 0, LU_BLOCKS - 1, false);
	xcopy(f, LUN_THIN, p, len, &res);
	expect_sense(&res, SK_COPY_ABORTED, ASC_NO_ADDITIONAL_SENSE);
	copy_results(f, XCOPY_SA_COPY_STATUS, 5, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	/* Both commands are reported by REPORT SUPPORTED OPERATION CODES'
	 * source, the opcode table. */
	assert_true(sbc_lu_supports(f->thin, 0x83, 0x00));
	assert_true(sbc_lu_supports(f->thin, 0x84, 0x03));
	assert_false(sbc_lu_supports(f->thin, 0x84, 0x01));
}

/* An aborted copy stops between chunks; its LU may go meanwhile. */
static void test_xcopy_abort(void **state)
{
	struct fixture *f = *state;
	struct it_nexus *nx = async_nexus(f);
	struct lu *src = harness_add_lu(&f->h, 14, "file:xa.img,size=64M,thin=1");
	uint8_t p[16 + 32 + 28];
	uint8_t cdb[16] = { 0x83 };
	struct async_cmd copy;
	struct async_cmd *all[] = { &copy };
	uint32_t len;

	assert_non_null(src);
	len = put_xcopy_header(p, 0, XCOPY_LIST_ID_NONE, 1, 1);
	put_cscd(p + 16, src);
	put_b2b(p + 48, 0, 0, 0xffff, 0, 65536, false);
	put_be32(cdb + 10, len);
	async_submit(nx, &copy, 14, cdb, 16, p, len);
	assert_false(copy.done);
	copy.cmd.aborted = true;   /* what ABORT TASK does */
	async_wait(f, all, 1);
	assert_int_equal(copy.cmd.status, SAM_STAT_CHECK_CONDITION);
	scsi_cmd_free_buf(&copy.cmd);
	async_nexus_free(f, nx);
}

/* COMPARE AND WRITE with NUMBER OF LOGICAL BLOCKS 0 but Data-Out (what an
 * initiator sends for 256 blocks), and WRITE SAME with UNMAP and a
 * non-zero pattern on a thin LU (deallocated: reads zeros). */
static void test_caw_zero_and_ws_unmap_pattern(void **state)
{
	struct fixture *f = *state;
	uint8_t cdb[16];
	uint8_t block[512];
	uint8_t *data = calloc(2 * 256, 512);
	struct harness_result res;
	uint8_t *back;

	memset(cdb, 0, 16);
	cdb[0] = 0x89;
	run(f, LUN_THIN, cdb, 16, SCSI_DIR_OUT, data, 2 * 256 * 512, 0, &res);
	expect_sense(&res, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	expect_field_pointer(&res, true, 13);
	free(data);

	write_blocks(f, LUN_THIN, LU_BLOCKS - 3, 3, 0xff);
	memset(block, 0xff, sizeof(block));
	cdb_rw10(cdb, 0x41, LU_BLOCKS - 3, 0);
	cdb[1] = 0x08;            /* UNMAP */
	assert_int_equal(run(f, LUN_THIN, cdb, 10, SCSI_DIR_OUT, block, 512, 0, &res),
			 SAM_STAT_GOOD);
	back = read_blocks(f, LUN_THIN, LU_BLOCKS - 3, 3);
	assert_true(all_bytes(back, 3 * 512, 0));
	free(back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_opcode_lengths),
		cmocka_unit_test(test_decode_6_byte),
		cmocka_unit_test(test_decode_10_byte),
		cmocka_unit_test(test_decode_12_byte),
		cmocka_unit_test(test_decode_16_byte),
		cmocka_unit_test(test_decode_verify_forms),
		cmocka_unit_test(test_decode_write_same_prefetch_sync),
		cmocka_unit_test(test_decode_caw_and_atomic),
		cmocka_unit_test(test_decode_rejects),
		cmocka_unit_test(test_lba_range),
		cmocka_unit_test(test_allocation_length),
		cmocka_unit_test_setup_teardown(test_read_capacity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_capacity_huge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_read_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_write_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_residuals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_and_verify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compare_and_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_orwrite, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_atomic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_caw_is_atomic_against_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_same, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_same_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_4k_blocks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_lba_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_cache_prefetch_defects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_stop_prevent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sanitize_overwrite, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sanitize_erase, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sanitize_survives_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_xcopy_parse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_xcopy_copies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_xcopy_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_receive_copy_results, setup, teardown),
		cmocka_unit_test_setup_teardown(test_xcopy_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_caw_zero_and_ws_unmap_pattern, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
