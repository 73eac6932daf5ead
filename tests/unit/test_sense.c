/* Sense data building (gateway/scsi/sense.c): exact bytes of fixed (SPC-4
 * 4.5.3) and descriptor (SPC-4 4.5.2) format, field pointers, decoding,
 * and CHECK CONDITION completion in the LU's format. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../gateway/model.h"
#include "../../gateway/scsi/sense.h"

static void test_fixed_basic(void **state)
{
	static const uint8_t want[18] = {
		0x70, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00,
		0x00, 0x00, 0x24, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	uint8_t buf[SCSI_SENSE_MAX];

	(void)state;
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(sense_build(buf, false, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB,
				     false, 0), 18);
	assert_memory_equal(buf, want, sizeof(want));
}

static void test_fixed_information(void **state)
{
	uint8_t buf[SCSI_SENSE_MAX];

	(void)state;
	assert_int_equal(sense_build(buf, false, SK_MISCOMPARE, ASC_MISCOMPARE_DURING_VERIFY,
				     true, 0x01020304), 18);
	assert_int_equal(buf[0], 0xf0);                 /* VALID | 70h */
	assert_int_equal(buf[2], 0x0e);
	assert_int_equal(buf[3], 0x01);
	assert_int_equal(buf[4], 0x02);
	assert_int_equal(buf[5], 0x03);
	assert_int_equal(buf[6], 0x04);
	assert_int_equal(buf[12], 0x1d);
	assert_int_equal(buf[13], 0x00);

	/* A value wider than the 4-byte field: VALID stays clear. */
	sense_build(buf, false, SK_MISCOMPARE, ASC_MISCOMPARE_DURING_VERIFY, true,
		    0x100000000ull);
	assert_int_equal(buf[0], 0x70);
	assert_int_equal(buf[3] | buf[4] | buf[5] | buf[6], 0);
}

static void test_fixed_field_pointer(void **state)
{
	struct sense_field_ptr field = {
		.valid = true, .in_cdb = true, .bit_valid = true, .bit = 4, .byte = 0x0102,
	};
	uint8_t buf[SCSI_SENSE_MAX];

	(void)state;
	assert_int_equal(sense_build_full(buf, false, SK_ILLEGAL_REQUEST,
					  ASC_INVALID_FIELD_IN_CDB, false, 0, &field), 18);
	/* SKSV | C/D | BPV | bit 4 */
	assert_int_equal(buf[15], 0x80 | 0x40 | 0x08 | 0x04);
	assert_int_equal(buf[16], 0x01);
	assert_int_equal(buf[17], 0x02);

	field.in_cdb = false;
	field.bit_valid = false;
	sense_build_full(buf, false, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAMETER_LIST,
			 false, 0, &field);
	assert_int_equal(buf[15], 0x80);
	assert_int_equal(buf[12], 0x26);
}

static void test_descriptor_basic(void **state)
{
	static const uint8_t want[8] = { 0x72, 0x06, 0x29, 0x00, 0x00, 0x00, 0x00, 0x00 };
	uint8_t buf[SCSI_SENSE_MAX];

	(void)state;
	assert_int_equal(sense_build(buf, true, SK_UNIT_ATTENTION, ASC_POWER_ON_RESET, false, 0), 8);
	assert_memory_equal(buf, want, sizeof(want));
}

static void test_descriptor_information_and_field(void **state)
{
	static const uint8_t want[28] = {
		0x72, 0x05, 0x24, 0x00, 0x00, 0x00, 0x00, 0x14,
		/* information descriptor */
		0x00, 0x0a, 0x80, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
		/* sense key specific descriptor: SKSV | C/D, byte 2 */
		0x02, 0x06, 0x00, 0x00, 0xc0, 0x00, 0x02, 0x00,
	};
	struct sense_field_ptr field = { .valid = true, .in_cdb = true, .byte = 2 };
	uint8_t buf[SCSI_SENSE_MAX];

	(void)state;
	assert_int_equal(sense_build_full(buf, true, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB,
					  true, 0x1122334455667788ull, &field), 28);
	assert_memory_equal(buf, want, sizeof(want));

	/* Information alone: 8 + 12 bytes. */
	assert_int_equal(sense_build(buf, true, SK_MISCOMPARE, ASC_MISCOMPARE_DURING_VERIFY,
				     true, 7), 20);
	assert_int_equal(buf[7], 12);
	assert_int_equal(buf[19], 7);
}

static void test_decode(void **state)
{
	uint8_t buf[SCSI_SENSE_MAX];
	uint16_t asc = 0;
	uint8_t key = 0;
	unsigned len;

	(void)state;
	len = sense_build(buf, false, SK_DATA_PROTECT, ASC_WRITE_PROTECTED, false, 0);
	assert_true(sense_decode(buf, len, &key, &asc));
	assert_int_equal(key, SK_DATA_PROTECT);
	assert_int_equal(asc, ASC_WRITE_PROTECTED);

	len = sense_build(buf, true, SK_NOT_READY, ASC_MEDIUM_NOT_PRESENT, false, 0);
	assert_true(sense_decode(buf, len, &key, &asc));
	assert_int_equal(key, SK_NOT_READY);
	assert_int_equal(asc, ASC_MEDIUM_NOT_PRESENT);

	/* Too short, or not sense data at all. */
	assert_false(sense_decode(buf, 3, &key, &asc));
	buf[0] = 0x70;
	assert_false(sense_decode(buf, 10, &key, &asc));
	buf[0] = 0x12;
	assert_false(sense_decode(buf, 18, &key, &asc));
}

/* --- CHECK CONDITION completion, without a gateway ------------------- */

static unsigned done_calls;

static void count_done(struct scsi_cmd *cmd)
{
	(void)cmd;
	done_calls++;
}

static const struct fabric_ops counting_fabric = { .name = "test", .cmd_done = count_done };

static void test_check_condition_formats(void **state)
{
	struct it_nexus nexus = { .fabric = &counting_fabric };
	struct scsi_cmd cmd;
	struct lu lu;

	(void)state;
	memset(&cmd, 0, sizeof(cmd));
	memset(&lu, 0, sizeof(lu));
	cmd.nexus = &nexus;
	cmd.data_in_len = 100;

	/* No LU: fixed format, field pointer to byte 1 bit 3. */
	done_calls = 0;
	scsi_invalid_cdb_field(&cmd, 1, 3);
	assert_int_equal(done_calls, 1);
	assert_int_equal(cmd.status, SAM_STAT_CHECK_CONDITION);
	assert_int_equal(cmd.data_in_len, 0);
	assert_int_equal(cmd.sense_len, 18);
	assert_int_equal(cmd.sense[0], 0x70);
	assert_int_equal(cmd.sense[15], 0xc0 | 0x08 | 3);
	assert_int_equal(cmd.sense[17], 1);

	/* D_SENSE set on the LU: descriptor format. */
	lu.mode.d_sense = true;
	cmd.lu = &lu;
	scsi_check_condition_info(&cmd, SK_MEDIUM_ERROR, ASC_UNRECOVERED_READ_ERROR, 42);
	assert_int_equal(done_calls, 2);
	assert_int_equal(cmd.sense[0], 0x72);
	assert_int_equal(cmd.sense[1], SK_MEDIUM_ERROR);
	assert_int_equal(cmd.sense[2], 0x11);
	assert_int_equal(cmd.sense_len, 20);
	assert_int_equal(cmd.sense[19], 42);

	scsi_invalid_param_field(&cmd, 9, -1);
	assert_int_equal(cmd.sense[2], 0x26);
	assert_int_equal(cmd.sense_len, 16);
	assert_int_equal(cmd.sense[8], 0x02);
	assert_int_equal(cmd.sense[12], 0x80);          /* SKSV, parameter list, no BPV */
	assert_int_equal(cmd.sense[14], 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed_basic),
		cmocka_unit_test(test_fixed_information),
		cmocka_unit_test(test_fixed_field_pointer),
		cmocka_unit_test(test_descriptor_basic),
		cmocka_unit_test(test_descriptor_information_and_field),
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_check_condition_formats),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
