/* iSCSI wire format (RFC 7143 section 11): opcodes, flags and accessors for
 * the 48-byte Basic Header Segment. Fields are read and written in place
 * with the big-endian helpers; no packed structs. */
#ifndef SANGW_ISCSI_PROTO_H
#define SANGW_ISCSI_PROTO_H

#include <stdint.h>

#include "../../gateway/util.h"

#define ISCSI_BHS_LEN 48
#define ISCSI_DIGEST_LEN 4
#define ISCSI_DEFAULT_PORT 3260
#define ISCSI_PAD(len) (((len) + 3u) & ~3u)

/* 11.1.1 initiator opcodes */
#define ISCSI_OP_NOP_OUT       0x00
#define ISCSI_OP_SCSI_CMD      0x01
#define ISCSI_OP_TMF_REQ       0x02
#define ISCSI_OP_LOGIN_REQ     0x03
#define ISCSI_OP_TEXT_REQ      0x04
#define ISCSI_OP_DATA_OUT      0x05
#define ISCSI_OP_LOGOUT_REQ    0x06
#define ISCSI_OP_SNACK         0x10
/* target opcodes */
#define ISCSI_OP_NOP_IN        0x20
#define ISCSI_OP_SCSI_RSP      0x21
#define ISCSI_OP_TMF_RSP       0x22
#define ISCSI_OP_LOGIN_RSP     0x23
#define ISCSI_OP_TEXT_RSP      0x24
#define ISCSI_OP_DATA_IN       0x25
#define ISCSI_OP_LOGOUT_RSP    0x26
#define ISCSI_OP_R2T           0x31
#define ISCSI_OP_ASYNC_MSG     0x32
#define ISCSI_OP_REJECT        0x3f

#define ISCSI_FLAG_IMMEDIATE   0x40   /* byte 0 */
#define ISCSI_FLAG_FINAL       0x80   /* byte 1 */

/* SCSI Command (11.3) byte 1 */
#define ISCSI_CMD_READ         0x40
#define ISCSI_CMD_WRITE        0x20
#define ISCSI_CMD_ATTR_MASK    0x07
#define ISCSI_ATTR_UNTAGGED    0
#define ISCSI_ATTR_SIMPLE      1
#define ISCSI_ATTR_ORDERED     2
#define ISCSI_ATTR_HEAD_OF_QUEUE 3
#define ISCSI_ATTR_ACA         4

/* SCSI Response (11.4) byte 1 flags */
#define ISCSI_RSP_BIDI_OVERFLOW  0x10
#define ISCSI_RSP_BIDI_UNDERFLOW 0x08
#define ISCSI_RSP_OVERFLOW       0x04
#define ISCSI_RSP_UNDERFLOW      0x02
/* byte 2: response */
#define ISCSI_RSP_COMPLETED      0x00
#define ISCSI_RSP_TARGET_FAILURE 0x01

/* Data-In (11.7) byte 1 flags */
#define ISCSI_DATA_ACK           0x40
#define ISCSI_DATA_OVERFLOW      0x04
#define ISCSI_DATA_UNDERFLOW     0x02
#define ISCSI_DATA_STATUS        0x01

/* Login (11.12) byte 1 */
#define ISCSI_LOGIN_TRANSIT      0x80
#define ISCSI_LOGIN_CONTINUE     0x40
#define ISCSI_LOGIN_CSG(b1)      (((b1) >> 2) & 3)
#define ISCSI_LOGIN_NSG(b1)      ((b1) & 3)
#define ISCSI_STAGE_SECURITY     0
#define ISCSI_STAGE_OPERATIONAL  1
#define ISCSI_STAGE_FULL_FEATURE 3

/* Login status class/detail (11.13.5) */
#define ISCSI_LOGIN_STATUS_SUCCESS            0x0000
#define ISCSI_LOGIN_STATUS_TARGET_MOVED_TEMP  0x0101
#define ISCSI_LOGIN_STATUS_INITIATOR_ERROR    0x0200
#define ISCSI_LOGIN_STATUS_AUTH_FAILED        0x0201
#define ISCSI_LOGIN_STATUS_FORBIDDEN          0x0202
#define ISCSI_LOGIN_STATUS_NOT_FOUND          0x0203
#define ISCSI_LOGIN_STATUS_TARGET_REMOVED     0x0204
#define ISCSI_LOGIN_STATUS_UNSUPPORTED_VERSION 0x0205
#define ISCSI_LOGIN_STATUS_TOO_MANY_CONNECTIONS 0x0206
#define ISCSI_LOGIN_STATUS_MISSING_PARAMETER  0x0207
#define ISCSI_LOGIN_STATUS_CANT_INCLUDE_IN_SESSION 0x0208
#define ISCSI_LOGIN_STATUS_SESSION_TYPE_UNSUPPORTED 0x0209
#define ISCSI_LOGIN_STATUS_SESSION_NOT_FOUND  0x020a
#define ISCSI_LOGIN_STATUS_INVALID_REQUEST    0x020b
#define ISCSI_LOGIN_STATUS_TARGET_ERROR       0x0300
#define ISCSI_LOGIN_STATUS_SERVICE_UNAVAILABLE 0x0301
#define ISCSI_LOGIN_STATUS_OUT_OF_RESOURCES   0x0302

/* Logout (11.14) reason codes and (11.15) responses */
#define ISCSI_LOGOUT_CLOSE_SESSION     0
#define ISCSI_LOGOUT_CLOSE_CONNECTION  1
#define ISCSI_LOGOUT_REMOVE_FOR_RECOVERY 2
#define ISCSI_LOGOUT_RSP_OK            0
#define ISCSI_LOGOUT_RSP_CID_NOT_FOUND 1
#define ISCSI_LOGOUT_RSP_RECOVERY_UNSUPPORTED 2
#define ISCSI_LOGOUT_RSP_CLEANUP_FAILED 3

/* Reject reasons (11.17.1) */
#define ISCSI_REJECT_DATA_DIGEST       0x02
#define ISCSI_REJECT_SNACK             0x03
#define ISCSI_REJECT_PROTOCOL_ERROR    0x04
#define ISCSI_REJECT_CMD_NOT_SUPPORTED 0x05
#define ISCSI_REJECT_IMM_CMD_REJECT    0x06
#define ISCSI_REJECT_TASK_IN_PROGRESS  0x07
#define ISCSI_REJECT_INVALID_DATA_ACK  0x08
#define ISCSI_REJECT_INVALID_FIELD     0x09
#define ISCSI_REJECT_LONG_OP           0x0a
#define ISCSI_REJECT_NEGOTIATION_RESET 0x0b
#define ISCSI_REJECT_WAITING_LOGOUT    0x0c

/* Async message events (11.9.1) */
#define ISCSI_ASYNC_SCSI_EVENT         0
#define ISCSI_ASYNC_LOGOUT_REQUEST     1
#define ISCSI_ASYNC_DROP_CONNECTION    2
#define ISCSI_ASYNC_DROP_SESSION       3
#define ISCSI_ASYNC_RENEGOTIATE        4

#define ISCSI_RESERVED_TAG 0xffffffffu

/* --- BHS accessors; offsets from RFC 7143 section 11 ------------------- */
static inline uint8_t bhs_opcode(const uint8_t *b) { return b[0] & 0x3f; }
static inline int bhs_immediate(const uint8_t *b) { return (b[0] & ISCSI_FLAG_IMMEDIATE) != 0; }
static inline int bhs_final(const uint8_t *b) { return (b[1] & ISCSI_FLAG_FINAL) != 0; }
static inline uint8_t bhs_ahs_len(const uint8_t *b) { return b[4]; }          /* in 4-byte words */
static inline uint32_t bhs_data_len(const uint8_t *b) { return get_be24(b + 5); }
static inline void bhs_set_data_len(uint8_t *b, uint32_t len) { put_be24(b + 5, len); }
static inline uint64_t bhs_lun(const uint8_t *b) { return get_be64(b + 8); }
static inline uint32_t bhs_itt(const uint8_t *b) { return get_be32(b + 16); }
/* bytes 20..23: TTT (Data-Out, NOP, Text) or EDTL (SCSI Command) */
static inline uint32_t bhs_ttt(const uint8_t *b) { return get_be32(b + 20); }
static inline uint32_t bhs_edtl(const uint8_t *b) { return get_be32(b + 20); }
/* bytes 24..27: CmdSN in requests, StatSN in responses */
static inline uint32_t bhs_cmdsn(const uint8_t *b) { return get_be32(b + 24); }
static inline uint32_t bhs_expstatsn(const uint8_t *b) { return get_be32(b + 28); }
static inline uint32_t bhs_datasn(const uint8_t *b) { return get_be32(b + 36); }
static inline uint32_t bhs_buffer_offset(const uint8_t *b) { return get_be32(b + 40); }
static inline const uint8_t *bhs_cdb(const uint8_t *b) { return b + 32; }

/* Serial number arithmetic, RFC 1982 with SERIAL_BITS = 32 (RFC 7143 4.2.2.1) */
static inline int sn_lt(uint32_t a, uint32_t b) { return a != b && (int32_t)(a - b) < 0; }
static inline int sn_le(uint32_t a, uint32_t b) { return a == b || (int32_t)(a - b) < 0; }
static inline int sn_gt(uint32_t a, uint32_t b) { return a != b && (int32_t)(a - b) > 0; }

/* SAM-5 4.7 LUN field: decode peripheral (0x00) and flat (0x40) addressing
 * of the first level to a LUN number; other formats return UINT64_MAX. */
static inline uint64_t scsi_lun_decode(uint64_t field)
{
	uint8_t method = (uint8_t)(field >> 62);
	if ((field & 0x0000ffffffffffffULL) != 0)
		return UINT64_MAX;
	if (method == 0)                                /* peripheral, bus 0 only */
		return ((field >> 56) & 0x3f) ? UINT64_MAX : (field >> 48) & 0xff;
	if (method == 1)
		return (field >> 48) & 0x3fff;          /* flat space */
	return UINT64_MAX;
}

static inline uint64_t scsi_lun_encode(uint64_t lun)
{
	if (lun < 256)
		return lun << 48;
	return (0x4000ULL | (lun & 0x3fff)) << 48;
}

#endif
