/* libFuzzer target: the iSER wire formats (fabric/iser/iser_proto.c,
 * RFC 7145 section 9) and the receive path's decoding of a Send message
 * into the PDU that iser_conn.c hands the iSCSI layer (iser_rx_decode:
 * iSER header, Hello, one whole control-type PDU with its AHS and data
 * segment, TargetRecvDataSegmentLength). What follows in iser_conn.c
 * (posting receives, RDMA READ/WRITE of the STags, the connection) needs
 * verbs and an RDMA device and is not fuzzed here; the iSCSI layer the
 * PDU then goes to is fuzz_session's.
 *
 * Byte 0: bit 0 set, a Hello is still allowed (no Login Request seen);
 * bits 1-2 the receive limit (8192, 512, 262144, 2^24-1). The rest is
 * the message, in a buffer of exactly its size: everything decoded is
 * read back, so ASan sees any pointer or length past the message.
 *
 *   make -C BUILD fuzz-iser
 *   BUILD/tests/fuzz/fuzz_iser -max_total_time=60 tests/fuzz/corpus-iser */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fabric/iser/iser_proto.h"

static const uint32_t limits[4] = { 8192, 512, 262144, 16777215 };

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_iser: %s\n", what);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iser_hdr h;
	struct iser_hello hello;
	struct pdu pdu;
	const char *why;
	uint8_t *msg, out[ISER_HDR_LEN];
	uint32_t max_dsl;
	volatile uint32_t sink = 0;
	size_t len, need;

	if (size < 1 || size > (1u << 20))
		return 0;
	len = size - 1;
	msg = malloc(len ? len : 1);
	if (!msg)
		return 0;
	memcpy(msg, data + 1, len);
	max_dsl = limits[(data[0] >> 1) & 3];

	/* The parsers on their own. */
	(void)iser_hdr_parse(msg, len, &h);
	if (iser_hello_parse(msg, len, &hello))
		check(len >= ISER_HELLO_LEN && hello.max_ver <= 15 && hello.min_ver <= 15,
		      "a Hello accepted from a short message");
	need = iser_msg_needs(msg, len);
	check(need == 0 || need >= ISER_HDR_LEN + ISCSI_BHS_LEN, "a PDU needs less than its BHS");
	sink += iser_cm_req_flags(len ? msg : NULL, len);

	/* The receive path. */
	memset(&pdu, 0, sizeof(pdu));
	switch (iser_rx_decode(msg, len, data[0] & 1, max_dsl, &h, &pdu, &why)) {
	case ISER_RX_PDU:
		check(why == NULL && h.opcode == ISER_OP_CONTROL, "a PDU without a control header");
		check(pdu.ahs_len <= ISCSI_MAX_AHS_LEN && pdu.data_len <= max_dsl,
		      "a PDU over the limits");
		check(pdu.data >= msg && pdu.data + pdu.data_len <= msg + len,
		      "a data segment outside the message");
		for (uint32_t i = 0; i < pdu.ahs_len; i++)
			sink += pdu.ahs[i];
		for (uint32_t i = 0; i < pdu.data_len; i++)
			sink += pdu.data[i];
		break;
	case ISER_RX_HELLO:
		check(data[0] & 1, "a Hello taken after the login");
		/* The answer a target sends (9.4). */
		iser_hello_reply_put(out, false, ISER_VERSION, ISER_VERSION, 16);
		break;
	case ISER_RX_HELLO_REJECT:
	case ISER_RX_BAD:
	case ISER_RX_TOO_LONG:
		check(why != NULL && strlen(why) > 0, "a refused message without a reason");
		break;
	}
	iser_hdr_put_control(out);
	iser_cm_rep_put(out);
	sink += out[0];
	(void)sink;
	free(msg);
	return 0;
}
