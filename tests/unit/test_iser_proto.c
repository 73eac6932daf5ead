/* The iSER wire formats (RFC 7145 section 9): header parse and
 * validation (short, unknown opcode, reserved bits, the STags and VAs in
 * network order), the message length a BHS implies, Hello/HelloReply and
 * the CM private data. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../fabric/iser/iser_proto.h"

static void build_hdr(uint8_t *b, uint8_t byte0)
{
	static const uint8_t rest[27] = {
		0, 0, 0,
		0x11, 0x22, 0x33, 0x44,                              /* Write STag */
		0x00, 0x00, 0x7f, 0x12, 0x34, 0x56, 0x78, 0x9a,      /* Write VA */
		0xaa, 0xbb, 0xcc, 0xdd,                              /* Read STag */
		0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88,      /* Read VA */
	};
	b[0] = byte0;
	memcpy(b + 1, rest, sizeof(rest));
}

static void test_parse_control(void **state)
{
	uint8_t b[ISER_HDR_LEN];
	struct iser_hdr h;

	(void)state;
	build_hdr(b, 0x10 | ISER_WSV | ISER_RSV);
	assert_int_equal(iser_hdr_parse(b, sizeof(b), &h), ISER_PARSE_OK);
	assert_int_equal(h.opcode, ISER_OP_CONTROL);
	assert_true(h.write_valid);
	assert_true(h.read_valid);
	assert_int_equal(h.write_stag, 0x11223344u);
	assert_true(h.write_va == 0x00007f123456789aull);
	assert_int_equal(h.read_stag, 0xaabbccddu);
	/* not zero-based, the top bit set: taken as is */
	assert_true(h.read_va == 0xffeeddccbbaa9988ull);

	build_hdr(b, 0x10 | ISER_WSV);
	assert_int_equal(iser_hdr_parse(b, sizeof(b), &h), ISER_PARSE_OK);
	assert_true(h.write_valid);
	assert_false(h.read_valid);
}

static void test_parse_bad(void **state)
{
	uint8_t b[ISER_HDR_LEN + 4];
	struct iser_hdr h;

	(void)state;
	build_hdr(b, 0x10);
	for (size_t len = 0; len < ISER_HDR_LEN; len++)
		assert_int_equal(iser_hdr_parse(b, len, &h), ISER_PARSE_SHORT);
	build_hdr(b, 0x40);   /* opcode 4: not defined */
	assert_int_equal(iser_hdr_parse(b, sizeof(b), &h), ISER_PARSE_UNKNOWN_OP);
	build_hdr(b, 0x00);
	assert_int_equal(iser_hdr_parse(b, sizeof(b), &h), ISER_PARSE_UNKNOWN_OP);
	build_hdr(b, 0x20);   /* Hello is not a control-type PDU */
	assert_int_equal(iser_hdr_parse(b, sizeof(b), &h), ISER_PARSE_UNKNOWN_OP);
	assert_int_equal(h.opcode, ISER_OP_HELLO);
	build_hdr(b, 0x11);   /* reserved low bits */
	assert_int_equal(iser_hdr_parse(b, sizeof(b), &h), ISER_PARSE_RESERVED);
	build_hdr(b, 0x10);
	b[2] = 1;             /* reserved bytes */
	assert_int_equal(iser_hdr_parse(b, sizeof(b), &h), ISER_PARSE_RESERVED);
}

static void test_put_control(void **state)
{
	uint8_t b[ISER_HDR_LEN];
	struct iser_hdr h;

	(void)state;
	memset(b, 0xff, sizeof(b));
	iser_hdr_put_control(b);
	assert_int_equal(b[0], 0x10);
	assert_int_equal(iser_hdr_parse(b, sizeof(b), &h), ISER_PARSE_OK);
	assert_false(h.write_valid);
	assert_false(h.read_valid);
	assert_int_equal(h.write_stag, 0);
	assert_true(h.read_va == 0);
}

static void test_msg_needs(void **state)
{
	uint8_t b[ISER_HDR_LEN + 48] = { 0 };

	(void)state;
	assert_int_equal(iser_msg_needs(b, ISER_HDR_LEN + 47), 0);
	assert_int_equal(iser_msg_needs(b, sizeof(b)), ISER_HDR_LEN + 48);
	b[ISER_HDR_LEN + 4] = 2;                      /* TotalAHSLength: 8 bytes */
	b[ISER_HDR_LEN + 5] = 0x01;                   /* DataSegmentLength 0x010203 */
	b[ISER_HDR_LEN + 6] = 0x02;
	b[ISER_HDR_LEN + 7] = 0x03;
	assert_int_equal(iser_msg_needs(b, sizeof(b)), ISER_HDR_LEN + 48 + 8 + 0x010203);
}

static void test_hello(void **state)
{
	uint8_t b[ISER_HELLO_LEN] = { 0x20, 0x11, 0x00, 0x10 };
	struct iser_hello h;

	(void)state;
	assert_true(iser_hello_parse(b, sizeof(b), &h));
	assert_int_equal(h.max_ver, 1);
	assert_int_equal(h.min_ver, 1);
	assert_int_equal(h.ird, 16);
	assert_false(iser_hello_parse(b, 3, &h));
	b[0] = 0x10;
	assert_false(iser_hello_parse(b, sizeof(b), &h));

	iser_hello_reply_put(b, false, 1, 1, 0x0102);
	assert_int_equal(b[0], 0x30);
	assert_int_equal(b[1], 0x11);
	assert_int_equal(b[2], 0x01);
	assert_int_equal(b[3], 0x02);
	iser_hello_reply_put(b, true, 1, 1, 4);
	assert_int_equal(b[0], 0x31);
}

static void test_cm_private_data(void **state)
{
	uint8_t req[4] = { ISER_CM_ZBVA_NOT_SUPPORTED, 0, 0, 0 };
	uint8_t rep[ISER_CM_PRIV_LEN];

	(void)state;
	assert_int_equal(iser_cm_req_flags(req, sizeof(req)), ISER_CM_ZBVA_NOT_SUPPORTED);
	assert_int_equal(iser_cm_req_flags(NULL, 0), 0);
	assert_int_equal(iser_cm_req_flags(req, 0), 0);
	iser_cm_rep_put(rep);
	assert_int_equal(rep[0], ISER_CM_ZBVA_NOT_SUPPORTED | ISER_CM_SEND_W_INV_NOT_SUPPORTED);
	assert_int_equal(rep[1] | rep[2] | rep[3], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_control),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_put_control),
		cmocka_unit_test(test_msg_needs),
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_cm_private_data),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
