/* iSER wire formats (RFC 7145 section 9): the iSER header that precedes
 * every iSCSI control-type PDU in a Send message, the Hello and
 * HelloReply messages, and the private data of the RDMA CM connect
 * request and accept as the Linux initiator and target exchange them.
 * Pure functions over byte buffers: no verbs here (tests/unit/
 * test_iser_proto.c, tests/fuzz/fuzz_iser.c). */
#ifndef SANGW_ISER_PROTO_H
#define SANGW_ISER_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../iscsi/pdu.h"

#define ISER_HDR_LEN       28     /* 9.2: flags, Write STag/VA, Read STag/VA */
#define ISER_HELLO_LEN     4      /* 9.3, 9.4 */
#define ISER_CM_PRIV_LEN   4      /* Linux iser_cm_hdr: flags + 3 reserved */

/* 9.2: the opcode is the high nibble of byte 0. */
#define ISER_OP_CONTROL    0x1    /* iSCSI control-type PDU follows */
#define ISER_OP_HELLO      0x2
#define ISER_OP_HELLO_REPLY 0x3
/* 9.2: byte 0 low nibble: Write STag valid, Read STag valid */
#define ISER_WSV           0x08
#define ISER_RSV           0x04
/* 9.4: HelloReply reject bit */
#define ISER_HELLO_REJECT  0x01
#define ISER_VERSION       1      /* 9.3: the iSER version of RFC 7145 */

/* CM private data flags (as Linux's iser_cm_hdr): the initiator does
 * not support zero-based virtual addresses / Send with Invalidate; the
 * target answers that it does not use them. */
#define ISER_CM_ZBVA_NOT_SUPPORTED   0x80
#define ISER_CM_SEND_W_INV_NOT_SUPPORTED 0x40

struct iser_hdr {
	uint8_t opcode;            /* ISER_OP_* */
	bool write_valid;          /* WSV: write_stag/write_va describe the
				    * initiator's buffer for Data-Out (we RDMA READ) */
	bool read_valid;           /* RSV: read_stag/read_va: Data-In (we RDMA WRITE) */
	uint32_t write_stag;
	uint64_t write_va;
	uint32_t read_stag;
	uint64_t read_va;
};

enum iser_parse {
	ISER_PARSE_OK = 0,
	ISER_PARSE_SHORT,          /* fewer bytes than the header needs */
	ISER_PARSE_UNKNOWN_OP,     /* an opcode this version does not define */
	ISER_PARSE_RESERVED,       /* reserved bits set where 9.2 forbids */
};

/* Parse the 28-byte header at the start of a received message of len
 * bytes. Never reads past len. */
enum iser_parse iser_hdr_parse(const uint8_t *buf, size_t len, struct iser_hdr *h);
/* Write the header of an outgoing control-type PDU (a target sets no
 * STags: 9.2 "the target MUST set WSV and RSV to zero"). */
void iser_hdr_put_control(uint8_t *buf);
/* What an iSCSI control-type message must hold: the iSER header, the
 * 48-byte BHS, its AHS and data segment. Returns the bytes the message
 * needs, given its BHS (at buf + ISER_HDR_LEN), or 0 when the message
 * is too short to hold a BHS. */
size_t iser_msg_needs(const uint8_t *buf, size_t len);

/* 9.3 Hello: MaxVer, MinVer, iSER-IRD. Returns false if len is short or
 * the opcode is not Hello. */
struct iser_hello {
	uint8_t max_ver, min_ver;
	uint16_t ird;
};
bool iser_hello_parse(const uint8_t *buf, size_t len, struct iser_hello *h);
/* 9.4 HelloReply: reject, MaxVer, CurVer, iSER-ORD. */
void iser_hello_reply_put(uint8_t *buf, bool reject, uint8_t max_ver, uint8_t cur_ver,
			  uint16_t ord);

/* What a received Send message turns out to be (iser_rx_decode). */
enum iser_rx {
	ISER_RX_PDU,               /* an iSCSI PDU: pdu filled, data points into buf */
	ISER_RX_HELLO,             /* a Hello with a version we support: HelloReply */
	ISER_RX_HELLO_REJECT,      /* a Hello with none: HelloReply with reject, close */
	ISER_RX_BAD,               /* not a message we take: close (*why says why) */
	ISER_RX_TOO_LONG,          /* a PDU whose data segment is over max_dsl (pdu->bhs
				    * is filled for the Reject) */
};

/* The receive path's decoding of one Send message of len bytes (RFC
 * 7145 9.2, 9.3): the iSER header (into *h), then either a Hello (taken
 * only while hello_ok: before the Login Request) or one whole iSCSI
 * control-type PDU of at most max_dsl bytes of data, copied into pdu
 * (BHS, AHS) with pdu->data pointing into buf. Never reads past len. */
enum iser_rx iser_rx_decode(uint8_t *buf, size_t len, bool hello_ok, uint32_t max_dsl,
			    struct iser_hdr *h, struct pdu *pdu, const char **why);

/* CM private data: the flags of a connect request (0 when absent or
 * short) and the target's accept answer. */
uint8_t iser_cm_req_flags(const void *priv, size_t len);
void iser_cm_rep_put(uint8_t *buf);

#endif
