/* PDU reader: whole and split PDUs, AHS, padding, header and data digests
 * (good and bad), the length limit, the data placement hook, and reading
 * from a real non-blocking socket. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../fabric/iscsi/crc32c.h"
#include "../../fabric/iscsi/pdu.h"

/* Serialize a PDU the way a sender would: BHS, AHS, [digest], data, pad,
 * [digest]. Returns the length written into out. */
static size_t build_pdu(uint8_t *out, uint8_t opcode, const uint8_t *ahs, uint32_t ahs_len,
			const uint8_t *data, uint32_t data_len, bool hdig, bool ddig)
{
	size_t pos = 0;
	uint8_t *bhs = out;

	bhs_init(bhs, opcode);
	bhs[4] = (uint8_t)(ahs_len / 4);
	bhs_set_data_len(bhs, data_len);
	put_be32(bhs + 16, 0x1234);
	pos = ISCSI_BHS_LEN;
	if (ahs_len)
		memcpy(out + pos, ahs, ahs_len);
	pos += ahs_len;
	if (hdig) {
		crc32c_put(out + pos, pdu_header_digest(bhs, ahs, ahs_len));
		pos += 4;
	}
	if (data_len) {
		memcpy(out + pos, data, data_len);
		memset(out + pos + data_len, 0, ISCSI_PAD(data_len) - data_len);
		pos += ISCSI_PAD(data_len);
		if (ddig) {
			crc32c_put(out + pos, pdu_data_digest(data, data_len));
			pos += 4;
		}
	}
	return pos;
}

static void test_bhs_init_and_digest_helpers(void **state)
{
	uint8_t bhs[ISCSI_BHS_LEN];
	uint8_t data[5] = { 1, 2, 3, 4, 5 }, padded[8] = { 1, 2, 3, 4, 5, 0, 0, 0 };

	(void)state;
	memset(bhs, 0xee, sizeof(bhs));
	bhs_init(bhs, ISCSI_OP_NOP_IN);
	assert_int_equal(bhs[0], ISCSI_OP_NOP_IN);
	for (int i = 1; i < ISCSI_BHS_LEN; i++)
		assert_int_equal(bhs[i], 0);
	bhs_init(bhs, ISCSI_OP_LOGIN_REQ | ISCSI_FLAG_IMMEDIATE);
	assert_int_equal(bhs_opcode(bhs), ISCSI_OP_LOGIN_REQ);
	assert_true(bhs_immediate(bhs));
	/* the data digest includes the zero padding (11.1.4) */
	assert_int_equal(pdu_data_digest(data, 5), crc32c(0, padded, 8));
	assert_int_equal(pdu_header_digest(bhs, NULL, 0), crc32c(0, bhs, ISCSI_BHS_LEN));
}

static void test_no_data_whole(void **state)
{
	uint8_t buf[64];
	struct pdu_reader r;
	size_t used;

	(void)state;
	size_t len = build_pdu(buf, ISCSI_OP_NOP_OUT, NULL, 0, NULL, 0, false, false);
	pdu_reader_init(&r, 8192);
	assert_int_equal(pdu_reader_feed(&r, buf, len, &used), PDU_READ_READY);
	assert_int_equal(used, ISCSI_BHS_LEN);
	assert_int_equal(r.pdu.data_len, 0);
	assert_int_equal(r.pdu.ahs_len, 0);
	assert_int_equal(bhs_itt(r.pdu.bhs), 0x1234);
	/* a reported PDU stays reported until next() */
	assert_int_equal(pdu_reader_feed(&r, buf, len, &used), PDU_READ_READY);
	assert_int_equal(used, 0);
	pdu_reader_free(&r);
}

/* Fed one byte at a time, the PDU completes exactly at its last byte. */
static void check_byte_by_byte(bool hdig, bool ddig, uint32_t ahs_len, uint32_t data_len)
{
	uint8_t buf[2048], ahs[64], data[600];
	struct pdu_reader r;
	size_t used;

	for (uint32_t i = 0; i < sizeof(ahs); i++)
		ahs[i] = (uint8_t)(0xa0 + i);
	for (uint32_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 13);
	size_t len = build_pdu(buf, ISCSI_OP_SCSI_CMD, ahs, ahs_len, data, data_len, hdig, ddig);
	pdu_reader_init(&r, 8192);
	r.header_digest = hdig;
	r.data_digest = ddig;
	for (size_t i = 0; i < len; i++) {
		enum pdu_read_status st = pdu_reader_feed(&r, buf + i, 1, &used);
		assert_int_equal(used, 1);
		assert_int_equal(st, i + 1 == len ? PDU_READ_READY : PDU_READ_AGAIN);
	}
	assert_int_equal(r.pdu.ahs_len, ahs_len);
	assert_memory_equal(r.pdu.ahs, ahs, ahs_len);
	assert_int_equal(r.pdu.data_len, data_len);
	if (data_len)
		assert_memory_equal(r.pdu.data, data, data_len);
	pdu_reader_free(&r);
}

static void test_byte_by_byte(void **state)
{
	(void)state;
	check_byte_by_byte(false, false, 0, 0);
	check_byte_by_byte(false, false, 0, 5);     /* 3 pad bytes */
	check_byte_by_byte(true, true, 0, 5);
	check_byte_by_byte(true, true, 0, 0);       /* no data digest without data */
	check_byte_by_byte(true, false, 8, 512);
	check_byte_by_byte(false, true, 20, 3);
	check_byte_by_byte(true, true, 60, 599);
}

/* Two PDUs in one buffer: the first stops at its end, the rest is left. */
static void test_back_to_back(void **state)
{
	uint8_t buf[512], d1[7] = "abcdefg", d2[4] = "wxyz";
	struct pdu_reader r;
	size_t used, len1, len2;

	(void)state;
	len1 = build_pdu(buf, ISCSI_OP_TEXT_REQ, NULL, 0, d1, 7, true, true);
	len2 = build_pdu(buf + len1, ISCSI_OP_DATA_OUT, NULL, 0, d2, 4, true, true);
	pdu_reader_init(&r, 8192);
	r.header_digest = r.data_digest = true;
	assert_int_equal(pdu_reader_feed(&r, buf, len1 + len2, &used), PDU_READ_READY);
	assert_int_equal(used, len1);
	assert_int_equal(bhs_opcode(r.pdu.bhs), ISCSI_OP_TEXT_REQ);
	assert_memory_equal(r.pdu.data, d1, 7);
	pdu_reader_next(&r);
	assert_int_equal(pdu_reader_feed(&r, buf + len1, len2, &used), PDU_READ_READY);
	assert_int_equal(used, len2);
	assert_int_equal(bhs_opcode(r.pdu.bhs), ISCSI_OP_DATA_OUT);
	assert_int_equal(r.pdu.data_len, 4);
	assert_memory_equal(r.pdu.data, d2, 4);
	pdu_reader_free(&r);
}

static void test_bad_header_digest(void **state)
{
	uint8_t buf[256], ahs[8] = { 0 }, data[4] = "data";
	struct pdu_reader r;
	size_t used, len;

	(void)state;
	/* a flipped BHS bit */
	len = build_pdu(buf, ISCSI_OP_SCSI_CMD, NULL, 0, data, 4, true, false);
	buf[20] ^= 1;
	pdu_reader_init(&r, 8192);
	r.header_digest = true;
	assert_int_equal(pdu_reader_feed(&r, buf, len, &used), PDU_READ_HEADER_DIGEST);
	assert_int_equal(used, ISCSI_BHS_LEN + 4);
	/* the stream is lost: the reader keeps saying so */
	assert_int_equal(pdu_reader_feed(&r, buf, len, &used), PDU_READ_HEADER_DIGEST);
	assert_int_equal(used, 0);
	pdu_reader_free(&r);

	/* the header digest covers the AHS too */
	len = build_pdu(buf, ISCSI_OP_SCSI_CMD, ahs, 8, data, 4, true, false);
	buf[ISCSI_BHS_LEN + 3] ^= 0x80;
	pdu_reader_init(&r, 8192);
	r.header_digest = true;
	assert_int_equal(pdu_reader_feed(&r, buf, len, &used), PDU_READ_HEADER_DIGEST);
	pdu_reader_free(&r);
}

static void test_bad_data_digest(void **state)
{
	uint8_t buf[256], data[6] = "abcdef";
	struct pdu_reader r;
	size_t used, len1, len2;

	(void)state;
	len1 = build_pdu(buf, ISCSI_OP_DATA_OUT, NULL, 0, data, 6, false, true);
	buf[ISCSI_BHS_LEN + 2] ^= 0x10;                 /* corrupt the data */
	len2 = build_pdu(buf + len1, ISCSI_OP_NOP_OUT, NULL, 0, NULL, 0, false, true);
	pdu_reader_init(&r, 8192);
	r.data_digest = true;
	assert_int_equal(pdu_reader_feed(&r, buf, len1 + len2, &used), PDU_READ_DATA_DIGEST);
	assert_int_equal(used, len1);
	/* the PDU is whole: header and data are there for the Reject */
	assert_int_equal(bhs_opcode(r.pdu.bhs), ISCSI_OP_DATA_OUT);
	assert_int_equal(r.pdu.data_len, 6);
	assert_int_equal(pdu_reader_feed(&r, buf + len1, len2, &used), PDU_READ_DATA_DIGEST);
	assert_int_equal(used, 0);
	/* and the stream goes on */
	pdu_reader_next(&r);
	assert_int_equal(pdu_reader_feed(&r, buf + len1, len2, &used), PDU_READ_READY);
	assert_int_equal(bhs_opcode(r.pdu.bhs), ISCSI_OP_NOP_OUT);
	pdu_reader_free(&r);

	/* corrupt padding is covered as well */
	len1 = build_pdu(buf, ISCSI_OP_DATA_OUT, NULL, 0, data, 6, false, true);
	buf[ISCSI_BHS_LEN + 7] = 0x55;
	pdu_reader_init(&r, 8192);
	r.data_digest = true;
	assert_int_equal(pdu_reader_feed(&r, buf, len1, &used), PDU_READ_DATA_DIGEST);
	pdu_reader_free(&r);
}

/* DataSegmentLength over the limit is reported as soon as the BHS is in:
 * before the AHS, the header digest or any data is read. */
static void test_too_long(void **state)
{
	uint8_t buf[2048], data[1024] = { 0 };
	struct pdu_reader r;
	size_t used, len;

	(void)state;
	len = build_pdu(buf, ISCSI_OP_DATA_OUT, NULL, 0, data, 1024, true, false);
	pdu_reader_init(&r, 1020);
	r.header_digest = true;
	assert_int_equal(pdu_reader_feed(&r, buf, len, &used), PDU_READ_TOO_LONG);
	assert_int_equal(used, ISCSI_BHS_LEN);
	assert_int_equal(pdu_reader_feed(&r, buf + used, len - used, &used), PDU_READ_TOO_LONG);
	assert_int_equal(used, 0);
	pdu_reader_free(&r);

	/* exactly at the limit is fine */
	pdu_reader_init(&r, 1024);
	r.header_digest = true;
	assert_int_equal(pdu_reader_feed(&r, buf, len, &used), PDU_READ_READY);
	assert_int_equal(used, len);
	pdu_reader_free(&r);

	/* the largest DataSegmentLength the field can hold */
	bhs_init(buf, ISCSI_OP_DATA_OUT);
	bhs_set_data_len(buf, 0xffffff);
	pdu_reader_init(&r, 262144);
	assert_int_equal(pdu_reader_feed(&r, buf, ISCSI_BHS_LEN, &used), PDU_READ_TOO_LONG);
	pdu_reader_free(&r);
}

struct dest_ctx {
	uint8_t buf[64];
	unsigned calls;
	uint32_t seen_len;
	uint8_t seen_opcode;
	bool decline;
};

static uint8_t *dest_hook(void *arg, const uint8_t *bhs, uint32_t len)
{
	struct dest_ctx *ctx = arg;

	ctx->calls++;
	ctx->seen_len = len;
	ctx->seen_opcode = bhs_opcode(bhs);
	return ctx->decline ? NULL : ctx->buf;
}

static void test_data_dest_hook(void **state)
{
	uint8_t buf[256], data[10] = "0123456789";
	struct pdu_reader r;
	struct dest_ctx ctx = { .calls = 0 };
	size_t used, len;

	(void)state;
	len = build_pdu(buf, ISCSI_OP_DATA_OUT, NULL, 0, data, 10, true, true);
	pdu_reader_init(&r, 8192);
	r.header_digest = r.data_digest = true;
	r.data_dest = dest_hook;
	r.data_dest_arg = &ctx;
	assert_int_equal(pdu_reader_feed(&r, buf, len, &used), PDU_READ_READY);
	assert_int_equal(ctx.calls, 1);
	assert_int_equal(ctx.seen_len, 10);
	assert_int_equal(ctx.seen_opcode, ISCSI_OP_DATA_OUT);
	assert_ptr_equal(r.pdu.data, ctx.buf);
	assert_memory_equal(ctx.buf, data, 10);

	/* declined: the reader's own buffer takes it */
	pdu_reader_next(&r);
	ctx.decline = true;
	memset(ctx.buf, 0, sizeof(ctx.buf));
	assert_int_equal(pdu_reader_feed(&r, buf, len, &used), PDU_READ_READY);
	assert_int_equal(ctx.calls, 2);
	assert_ptr_not_equal(r.pdu.data, ctx.buf);
	assert_memory_equal(r.pdu.data, data, 10);
	assert_int_equal(ctx.buf[0], 0);

	/* no data: the hook is not consulted */
	pdu_reader_next(&r);
	len = build_pdu(buf, ISCSI_OP_NOP_OUT, NULL, 0, NULL, 0, true, true);
	assert_int_equal(pdu_reader_feed(&r, buf, len, &used), PDU_READ_READY);
	assert_int_equal(ctx.calls, 2);
	pdu_reader_free(&r);
}

/* After a short read the reader reports AGAIN once (the socket was empty;
 * epoll, level-triggered, reports new data); a direct caller retries. */
static enum pdu_read_status read_retry(struct pdu_reader *r, int fd)
{
	enum pdu_read_status st = pdu_reader_read(r, fd);

	return st == PDU_READ_AGAIN ? pdu_reader_read(r, fd) : st;
}

static void test_socket_read(void **state)
{
	uint8_t buf[512], data[100];
	struct pdu_reader r;
	int sv[2];
	size_t len;

	(void)state;
	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i;
	len = build_pdu(buf, ISCSI_OP_SCSI_CMD, NULL, 0, data, 100, true, true);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	pdu_reader_init(&r, 8192);
	r.header_digest = r.data_digest = true;

	assert_int_equal(pdu_reader_read(&r, sv[0]), PDU_READ_AGAIN);
	assert_int_equal(write(sv[1], buf, 30), 30);          /* part of the BHS */
	assert_int_equal(pdu_reader_read(&r, sv[0]), PDU_READ_AGAIN);
	assert_int_equal(write(sv[1], buf + 30, 60), 60);     /* into the data */
	assert_int_equal(pdu_reader_read(&r, sv[0]), PDU_READ_AGAIN);
	assert_int_equal(write(sv[1], buf + 90, len - 90), (ssize_t)(len - 90));
	assert_int_equal(read_retry(&r, sv[0]), PDU_READ_READY);
	assert_memory_equal(r.pdu.data, data, 100);
	pdu_reader_next(&r);

	/* three PDUs in one write come out of (at most) one read, in order */
	{
		uint8_t three[3 * 512];
		size_t one = len;
		memcpy(three, buf, one);
		memcpy(three + one, buf, one);
		memcpy(three + 2 * one, buf, one);
		assert_int_equal(write(sv[1], three, 3 * one), (ssize_t)(3 * one));
		for (int i = 0; i < 3; i++) {
			assert_int_equal(read_retry(&r, sv[0]), PDU_READ_READY);
			assert_memory_equal(r.pdu.data, data, 100);
			pdu_reader_next(&r);
		}
		assert_int_equal(pdu_reader_read(&r, sv[0]), PDU_READ_AGAIN);
	}

	/* peer closes mid-PDU: the short read drains the socket and returns
	 * to the caller (epoll reports the close next), then the close */
	assert_int_equal(write(sv[1], buf, 10), 10);
	close(sv[1]);
	assert_int_equal(pdu_reader_read(&r, sv[0]), PDU_READ_AGAIN);
	assert_int_equal(pdu_reader_read(&r, sv[0]), PDU_READ_CLOSED);
	close(sv[0]);
	pdu_reader_free(&r);

	/* a closed descriptor is an I/O error */
	pdu_reader_init(&r, 8192);
	assert_int_equal(pdu_reader_read(&r, -1), PDU_READ_IO_ERROR);
	pdu_reader_free(&r);
}

/* A data segment whose padding or data digest arrives in a later read
 * must survive that read: the reader may not leave the data borrowed from
 * a receive buffer it is about to refill (a login request sent as header,
 * text and padding in three TCP segments lost its first key this way). */
static void test_socket_read_split_tail(void **state)
{
	uint8_t buf[512], data[113];
	struct pdu_reader r;
	int sv[2];
	size_t len;

	(void)state;
	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i + 1);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	for (int digest = 0; digest < 2; digest++) {
		pdu_reader_init(&r, 8192);
		r.data_digest = digest;
		len = build_pdu(buf, ISCSI_OP_LOGIN_REQ, NULL, 0, data, sizeof(data), false, digest);
		assert_int_equal(write(sv[1], buf, ISCSI_BHS_LEN), ISCSI_BHS_LEN);
		assert_int_equal(pdu_reader_read(&r, sv[0]), PDU_READ_AGAIN);
		assert_int_equal(write(sv[1], buf + ISCSI_BHS_LEN, sizeof(data)), (ssize_t)sizeof(data));
		assert_int_equal(pdu_reader_read(&r, sv[0]), PDU_READ_AGAIN);
		assert_int_equal(write(sv[1], buf + ISCSI_BHS_LEN + sizeof(data),
				       len - ISCSI_BHS_LEN - sizeof(data)),
				 (ssize_t)(len - ISCSI_BHS_LEN - sizeof(data)));
		assert_int_equal(read_retry(&r, sv[0]), PDU_READ_READY);
		assert_memory_equal(r.pdu.data, data, sizeof(data));
		pdu_reader_free(&r);
	}
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bhs_init_and_digest_helpers),
		cmocka_unit_test(test_no_data_whole),
		cmocka_unit_test(test_byte_by_byte),
		cmocka_unit_test(test_back_to_back),
		cmocka_unit_test(test_bad_header_digest),
		cmocka_unit_test(test_bad_data_digest),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_data_dest_hook),
		cmocka_unit_test(test_socket_read),
		cmocka_unit_test(test_socket_read_split_tail),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
