/* iSER header, Hello/HelloReply and CM private data (RFC 7145 section 9). */
#include "iser_proto.h"

#include <string.h>

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

enum iser_parse iser_hdr_parse(const uint8_t *buf, size_t len, struct iser_hdr *h)
{
	memset(h, 0, sizeof(*h));
	if (len < ISER_HDR_LEN)
		return ISER_PARSE_SHORT;
	h->opcode = buf[0] >> 4;
	if (h->opcode != ISER_OP_CONTROL)
		return ISER_PARSE_UNKNOWN_OP;
	/* 9.2: the two low bits of byte 0 and bytes 1-3 are reserved. */
	if ((buf[0] & 0x03) || buf[1] || buf[2] || buf[3])
		return ISER_PARSE_RESERVED;
	h->write_valid = buf[0] & ISER_WSV;
	h->read_valid = buf[0] & ISER_RSV;
	h->write_stag = be32(buf + 4);
	h->write_va = be64(buf + 8);
	h->read_stag = be32(buf + 16);
	h->read_va = be64(buf + 20);
	return ISER_PARSE_OK;
}

void iser_hdr_put_control(uint8_t *buf)
{
	memset(buf, 0, ISER_HDR_LEN);
	buf[0] = ISER_OP_CONTROL << 4;
}

size_t iser_msg_needs(const uint8_t *buf, size_t len)
{
	const uint8_t *bhs = buf + ISER_HDR_LEN;
	size_t ahs, data;

	if (len < ISER_HDR_LEN + 48)
		return 0;
	/* RFC 7143 11.2.1: TotalAHSLength in words, DataSegmentLength in
	 * bytes; iSER carries no padding and no digests (RFC 7145 7.2). */
	ahs = (size_t)bhs[4] * 4;
	data = (size_t)bhs[5] << 16 | (size_t)bhs[6] << 8 | bhs[7];
	return ISER_HDR_LEN + 48 + ahs + data;
}

bool iser_hello_parse(const uint8_t *buf, size_t len, struct iser_hello *h)
{
	if (len < ISER_HELLO_LEN || buf[0] >> 4 != ISER_OP_HELLO)
		return false;
	h->max_ver = buf[1] >> 4;
	h->min_ver = buf[1] & 0x0f;
	h->ird = (uint16_t)(buf[2] << 8 | buf[3]);
	return true;
}

void iser_hello_reply_put(uint8_t *buf, bool reject, uint8_t max_ver, uint8_t cur_ver,
			  uint16_t ord)
{
	buf[0] = (uint8_t)(ISER_OP_HELLO_REPLY << 4 | (reject ? ISER_HELLO_REJECT : 0));
	buf[1] = (uint8_t)((max_ver & 0x0f) << 4 | (cur_ver & 0x0f));
	buf[2] = (uint8_t)(ord >> 8);
	buf[3] = (uint8_t)ord;
}

enum iser_rx iser_rx_decode(uint8_t *buf, size_t len, bool hello_ok, uint32_t max_dsl,
			    struct iser_hdr *h, struct pdu *pdu, const char **why)
{
	enum iser_parse res = iser_hdr_parse(buf, len, h);
	size_t need;

	*why = NULL;
	if (res == ISER_PARSE_UNKNOWN_OP && h->opcode == ISER_OP_HELLO && hello_ok) {
		struct iser_hello hello;

		if (iser_hello_parse(buf, len, &hello) && hello.min_ver <= ISER_VERSION)
			return ISER_RX_HELLO;
		*why = "iSER Hello with no version we support";
		return ISER_RX_HELLO_REJECT;
	}
	if (res != ISER_PARSE_OK) {
		*why = res == ISER_PARSE_SHORT ? "short iSER message" :
		       res == ISER_PARSE_UNKNOWN_OP ? "unknown iSER opcode" :
		       "reserved bits set in the iSER header";
		return ISER_RX_BAD;
	}
	need = iser_msg_needs(buf, len);
	if (!need || need > len) {
		*why = "iSER message shorter than its PDU";
		return ISER_RX_BAD;
	}
	memcpy(pdu->bhs, buf + ISER_HDR_LEN, ISCSI_BHS_LEN);
	if (bhs_data_len(pdu->bhs) > max_dsl) {
		/* Longer than we declared (RFC 7145 6.5 TargetRecvDataSegmentLength). */
		*why = "data segment longer than TargetRecvDataSegmentLength";
		return ISER_RX_TOO_LONG;
	}
	pdu->ahs_len = (uint32_t)pdu->bhs[4] * 4;
	memcpy(pdu->ahs, buf + ISER_HDR_LEN + ISCSI_BHS_LEN, pdu->ahs_len);
	pdu->data = buf + ISER_HDR_LEN + ISCSI_BHS_LEN + pdu->ahs_len;
	pdu->data_len = bhs_data_len(pdu->bhs);
	return ISER_RX_PDU;
}

uint8_t iser_cm_req_flags(const void *priv, size_t len)
{
	return priv && len >= 1 ? *(const uint8_t *)priv : 0;
}

void iser_cm_rep_put(uint8_t *buf)
{
	/* We use the initiator's virtual addresses as given (no zero-based
	 * offsets) and never Send with Invalidate. */
	memset(buf, 0, ISER_CM_PRIV_LEN);
	buf[0] = ISER_CM_ZBVA_NOT_SUPPORTED | ISER_CM_SEND_W_INV_NOT_SUPPORTED;
}
