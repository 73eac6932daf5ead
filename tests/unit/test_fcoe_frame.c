/* FCoE frame codec (fabric/fcoe/fcoe_frame.c): the FC CRC against known
 * values, a build/parse round trip with fill bytes, and every way a
 * received frame can be wrong (short, bad version, delimiters, CRC). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../fabric/fcoe/fcoe_frame.h"

static const uint8_t dst[6] = { 0x0e, 0xfd, 0x00, 0x00, 0x12, 0x34 };
static const uint8_t src[6] = { 0x0e, 0xfd, 0x00, 0x00, 0x56, 0x78 };

static void test_crc(void **state)
{
	(void)state;
	/* The IEEE 802.3 check value (FC-FS-4 5.4 uses the same CRC). */
	assert_int_equal(fc_crc32("123456789", 9), 0xcbf43926);
	assert_int_equal(fc_crc32("", 0), 0);
	/* Every length and alignment against the bitwise definition. */
	{
		static uint8_t buf[300];

		for (unsigned i = 0; i < sizeof(buf); i++)
			buf[i] = (uint8_t)(i * 31 + 7);
		for (unsigned off = 0; off < 8; off++)
			for (unsigned len = 0; len + off <= sizeof(buf); len += 13) {
				uint32_t c = 0xffffffffu;

				for (unsigned i = 0; i < len; i++) {
					c ^= buf[off + i];
					for (int k = 0; k < 8; k++)
						c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
				}
				assert_int_equal(fc_crc32(buf + off, len), ~c);
			}
	}
}

static struct fc_hdr hdr(void)
{
	struct fc_hdr h;

	memset(&h, 0, sizeof(h));
	h.r_ctl = FC_RCTL_DD_SOL_DATA;
	h.d_id = 0x001234;
	h.s_id = 0x005678;
	h.type = FC_TYPE_FCP;
	h.f_ctl = FC_FC_EX_CTX | FC_FC_END_SEQ | FC_FC_REL_OFF;
	h.seq_id = 7;
	h.seq_cnt = 3;
	h.ox_id = 0x1111;
	h.rx_id = 0x0022;
	h.param = 4096;
	return h;
}

static void test_round_trip(void **state)
{
	uint8_t buf[FCOE_MAX_FRAME], payload[37];
	struct fc_hdr h = hdr();
	struct fcoe_rx rx;
	size_t n;

	(void)state;
	for (unsigned i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)i;
	n = fcoe_frame_build(buf, sizeof(buf), dst, src, FC_SOF_I3, FC_EOF_T, &h, payload, sizeof(payload));
	/* 14 + 14 + 24 + 37 + 3 fill + 8 */
	assert_int_equal(n, 100);
	assert_int_equal(fcoe_frame_parse(buf, n, &rx), FCOE_OK);
	assert_memory_equal(rx.dst, dst, 6);
	assert_memory_equal(rx.src, src, 6);
	assert_int_equal(rx.sof, FC_SOF_I3);
	assert_int_equal(rx.eof, FC_EOF_T);
	assert_int_equal(rx.fh.d_id, 0x001234);
	assert_int_equal(rx.fh.s_id, 0x005678);
	assert_int_equal(rx.fh.ox_id, 0x1111);
	assert_int_equal(rx.fh.rx_id, 0x0022);
	assert_int_equal(rx.fh.param, 4096);
	assert_int_equal(rx.fh.f_ctl & FC_FC_FILL_MASK, 3);
	assert_int_equal(rx.payload_len, sizeof(payload));   /* fill removed */
	assert_memory_equal(rx.payload, payload, sizeof(payload));
}

static void test_fill_only_at_end_of_sequence(void **state)
{
	uint8_t buf[FCOE_MAX_FRAME], payload[6] = { 0 };
	struct fc_hdr h = hdr();

	(void)state;
	h.f_ctl &= ~(uint32_t)FC_FC_END_SEQ;
	assert_int_equal(fcoe_frame_build(buf, sizeof(buf), dst, src, FC_SOF_N3, FC_EOF_N, &h,
					  payload, sizeof(payload)), 0);
	assert_int_equal(fcoe_frame_build(buf, sizeof(buf), dst, src, FC_SOF_N3, FC_EOF_N, &h,
					  payload, 4), 60 + 4);
}

static void test_minimum_frame(void **state)
{
	uint8_t buf[FCOE_MAX_FRAME];
	struct fc_hdr h = hdr();
	struct fcoe_rx rx;
	size_t n;

	(void)state;
	n = fcoe_frame_build(buf, sizeof(buf), dst, src, FC_SOF_I3, FC_EOF_T, &h, NULL, 0);
	assert_int_equal(n, 60);
	assert_int_equal(fcoe_frame_parse(buf, n, &rx), FCOE_OK);
	assert_int_equal(rx.payload_len, 0);
}

static void test_malformed(void **state)
{
	uint8_t buf[FCOE_MAX_FRAME], payload[64] = { 1, 2, 3 };
	struct fc_hdr h = hdr();
	struct fcoe_rx rx;
	size_t n = fcoe_frame_build(buf, sizeof(buf), dst, src, FC_SOF_I3, FC_EOF_T, &h, payload,
				    sizeof(payload));

	(void)state;
	/* Truncated at every length short of the whole frame. */
	for (size_t len = 0; len < n; len++)
		assert_int_not_equal(fcoe_frame_parse(buf, len, &rx), FCOE_OK);
	/* A flipped payload bit: CRC. */
	buf[ETH_HDR_LEN + FCOE_HDR_LEN + FC_HDR_LEN + 5] ^= 0x10;
	assert_int_equal(fcoe_frame_parse(buf, n, &rx), FCOE_ERR_CRC);
	buf[ETH_HDR_LEN + FCOE_HDR_LEN + FC_HDR_LEN + 5] ^= 0x10;
	assert_int_equal(fcoe_frame_parse(buf, n, &rx), FCOE_OK);
	/* Version 1. */
	buf[ETH_HDR_LEN] = 0x10;
	assert_int_equal(fcoe_frame_parse(buf, n, &rx), FCOE_ERR_VERSION);
	buf[ETH_HDR_LEN] = 0;
	/* Unknown SOF, unknown EOF. */
	buf[ETH_HDR_LEN + FCOE_HDR_LEN - 1] = 0x99;
	assert_int_equal(fcoe_frame_parse(buf, n, &rx), FCOE_ERR_DELIM);
	buf[ETH_HDR_LEN + FCOE_HDR_LEN - 1] = FC_SOF_I3;
	buf[n - 4] = 0x77;
	assert_int_equal(fcoe_frame_parse(buf, n, &rx), FCOE_ERR_DELIM);
	buf[n - 4] = FC_EOF_T;
	/* Wrong ethertype. */
	buf[12] = 0x08;
	buf[13] = 0x00;
	assert_int_equal(fcoe_frame_parse(buf, n, &rx), FCOE_ERR_ETHERTYPE);
}

static void test_vn_mac(void **state)
{
	uint8_t mac[6];
	static const uint8_t want[6] = { 0x0e, 0xfd, 0x00, 0x01, 0x02, 0x03 };

	(void)state;
	fcoe_vn_mac(mac, FCOE_VN2VN_FC_MAP, 0x010203);
	assert_memory_equal(mac, want, 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_fill_only_at_end_of_sequence),
		cmocka_unit_test(test_minimum_frame),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_vn_mac),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
