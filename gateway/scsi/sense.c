/* Sense data (SPC-4 4.5): building fixed and descriptor format, completing
 * commands with CHECK CONDITION, and decoding for logs and tests. */
#include "sense.h"

#include <errno.h>
#include <string.h>

#include "../model.h"
#include "../util.h"

#define FIXED_SENSE_LEN        18  /* SPC-4 4.5.3: ADDITIONAL SENSE LENGTH 10 */
#define DESC_SENSE_HEADER_LEN  8   /* SPC-4 4.5.2.1 */
#define INFO_DESC_LEN          12  /* SPC-4 4.5.2.2: type 00h, length 0Ah */
#define SKS_DESC_LEN           8   /* SPC-4 4.5.2.4: type 02h, length 06h */

/* The three sense-key specific bytes of a field pointer (SPC-4 4.5.2.4.2):
 * SKSV, C/D, BPV, BIT POINTER, then the 16-bit FIELD POINTER. */
static void put_field_pointer(uint8_t *p, const struct sense_field_ptr *field)
{
	p[0] = 0x80;
	if (field->in_cdb)
		p[0] |= 0x40;
	if (field->bit_valid)
		p[0] |= 0x08 | (field->bit & 0x07);
	put_be16(p + 1, field->byte);
}

static unsigned build_fixed(uint8_t *buf, uint8_t key, uint16_t asc_ascq, bool info_valid,
			    uint64_t information, const struct sense_field_ptr *field)
{
	memset(buf, 0, FIXED_SENSE_LEN);
	buf[0] = 0x70;                               /* current error, fixed format */
	/* SPC-4 4.5.3: VALID only when the value fits the 4-byte field. */
	if (info_valid && information <= UINT32_MAX) {
		buf[0] |= 0x80;
		put_be32(buf + 3, (uint32_t)information);
	}
	buf[2] = key & 0x0f;
	buf[7] = FIXED_SENSE_LEN - 8;
	buf[12] = (uint8_t)(asc_ascq >> 8);
	buf[13] = (uint8_t)asc_ascq;
	if (field && field->valid)
		put_field_pointer(buf + 15, field);
	return FIXED_SENSE_LEN;
}

static unsigned build_descriptor(uint8_t *buf, uint8_t key, uint16_t asc_ascq, bool info_valid,
				 uint64_t information, const struct sense_field_ptr *field)
{
	unsigned len = DESC_SENSE_HEADER_LEN;

	memset(buf, 0, DESC_SENSE_HEADER_LEN + INFO_DESC_LEN + SKS_DESC_LEN);
	buf[0] = 0x72;                               /* current error, descriptor format */
	buf[1] = key & 0x0f;
	buf[2] = (uint8_t)(asc_ascq >> 8);
	buf[3] = (uint8_t)asc_ascq;
	if (info_valid) {
		/* SPC-4 4.5.2.2 information descriptor: VALID must be one. */
		buf[len] = 0x00;
		buf[len + 1] = INFO_DESC_LEN - 2;
		buf[len + 2] = 0x80;
		put_be64(buf + len + 4, information);
		len += INFO_DESC_LEN;
	}
	if (field && field->valid) {
		/* SPC-4 4.5.2.4 sense key specific descriptor. */
		buf[len] = 0x02;
		buf[len + 1] = SKS_DESC_LEN - 2;
		put_field_pointer(buf + len + 4, field);
		len += SKS_DESC_LEN;
	}
	buf[7] = (uint8_t)(len - DESC_SENSE_HEADER_LEN);
	return len;
}

unsigned sense_build_full(uint8_t *buf, bool descriptor, uint8_t key, uint16_t asc_ascq,
			  bool info_valid, uint64_t information,
			  const struct sense_field_ptr *field)
{
	if (descriptor)
		return build_descriptor(buf, key, asc_ascq, info_valid, information, field);
	return build_fixed(buf, key, asc_ascq, info_valid, information, field);
}

unsigned sense_build(uint8_t *buf, bool descriptor, uint8_t key, uint16_t asc_ascq,
		     bool info_valid, uint64_t information)
{
	return sense_build_full(buf, descriptor, key, asc_ascq, info_valid, information, NULL);
}

/* SPC-4 7.5.8: the control mode page's D_SENSE bit picks the format. */
static bool cmd_wants_descriptor(const struct scsi_cmd *cmd)
{
	return cmd->lu && cmd->lu->mode.d_sense;
}

static void check_condition_full(struct scsi_cmd *cmd, uint8_t key, uint16_t asc_ascq,
				 bool info_valid, uint64_t information,
				 const struct sense_field_ptr *field)
{
	cmd->status = SAM_STAT_CHECK_CONDITION;
	cmd->sense_len = (uint8_t)sense_build_full(cmd->sense, cmd_wants_descriptor(cmd), key,
						   asc_ascq, info_valid, information, field);
	/* A failed command returns no parameter data. */
	cmd->data_in_len = 0;
	scsi_cmd_complete(cmd);
}

void scsi_check_condition(struct scsi_cmd *cmd, uint8_t key, uint16_t asc_ascq)
{
	check_condition_full(cmd, key, asc_ascq, false, 0, NULL);
}

void scsi_check_condition_info(struct scsi_cmd *cmd, uint8_t key, uint16_t asc_ascq,
			       uint64_t information)
{
	check_condition_full(cmd, key, asc_ascq, true, information, NULL);
}

void scsi_invalid_cdb_field(struct scsi_cmd *cmd, uint16_t byte, int bit)
{
	struct sense_field_ptr field = {
		.valid = true, .in_cdb = true,
		.bit_valid = bit >= 0, .bit = (uint8_t)(bit >= 0 ? bit : 0), .byte = byte,
	};

	check_condition_full(cmd, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB, false, 0, &field);
}

void scsi_invalid_param_field(struct scsi_cmd *cmd, uint16_t byte, int bit)
{
	struct sense_field_ptr field = {
		.valid = true, .in_cdb = false,
		.bit_valid = bit >= 0, .bit = (uint8_t)(bit >= 0 ? bit : 0), .byte = byte,
	};

	check_condition_full(cmd, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAMETER_LIST, false, 0,
			     &field);
}

bool sense_decode(const uint8_t *buf, unsigned len, uint8_t *key, uint16_t *asc_ascq)
{
	uint8_t code;

	if (len < 4)
		return false;
	code = buf[0] & 0x7f;
	if (code == 0x70 || code == 0x71) {
		if (len < 14)
			return false;
		*key = buf[2] & 0x0f;
		*asc_ascq = (uint16_t)(buf[12] << 8 | buf[13]);
		return true;
	}
	if (code == 0x72 || code == 0x73) {
		*key = buf[1] & 0x0f;
		*asc_ascq = (uint16_t)(buf[2] << 8 | buf[3]);
		return true;
	}
	return false;
}

void sense_for_backstore_error(int result, bool reading, uint8_t *key, uint16_t *asc_ascq)
{
	switch (result) {
	case -ENOSPC:
	case -EDQUOT:           /* a pool quota: out of space for this LU */
		*key = SK_DATA_PROTECT;
		*asc_ascq = ASC_SPACE_ALLOCATION_FAILED_WRITE_PROTECT;
		break;
	case -EROFS:
		*key = SK_DATA_PROTECT;
		*asc_ascq = ASC_WRITE_PROTECTED;
		break;
	case -ETIMEDOUT:
		/* The store did not answer in time (an OSD down): nothing
		 * was lost, the command may be retried (SPC-4 4.5.6). */
		*key = SK_ABORTED_COMMAND;
		*asc_ascq = ASC_LU_COMMUNICATION_TIMEOUT;
		break;
	case -ECONNREFUSED:
	case -ENOTCONN:
		*key = SK_ABORTED_COMMAND;
		*asc_ascq = ASC_LU_COMMUNICATION_FAILURE;
		break;
	case -ESHUTDOWN:
		/* This gateway's store handle was fenced (Ceph blocklist):
		 * another path serves the LU; this one is in transition. */
		*key = SK_NOT_READY;
		*asc_ascq = ASC_LU_NOT_ACCESSIBLE_TRANSITIONING;
		break;
	case -ENOENT:
	case -ENXIO:
		/* The backing is gone (image or pool removed). */
		*key = SK_NOT_READY;
		*asc_ascq = ASC_LU_NOT_READY_MANUAL_INTERVENTION;
		break;
	default:
		*key = SK_MEDIUM_ERROR;
		*asc_ascq = reading ? ASC_UNRECOVERED_READ_ERROR : ASC_WRITE_ERROR;
		break;
	}
}
