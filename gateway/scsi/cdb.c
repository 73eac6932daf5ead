/* CDB decoding (SPC-4 4.2, SBC-3 5). See cdb.h. */
#include "cdb.h"

#include <string.h>

#include "../util.h"

unsigned cdb_length_for_opcode(uint8_t opcode)
{
	/* SPC-4 4.2.5.1 table 9: the group code is the top three bits. */
	switch (opcode >> 5) {
	case 0:
		return 6;
	case 1:
	case 2:
		return 10;
	case 4:
		return 16;
	case 5:
		return 12;
	default:
		return 0;   /* 3: variable length / reserved; 6, 7: vendor */
	}
}

/* Byte 1 flags shared by the read/write family (SBC-3 5.11 READ(10)). */
static void decode_protect_dpo_fua(const uint8_t *cdb, struct cdb_rw *rw, bool has_fua)
{
	rw->protect = cdb[1] >> 5;
	rw->dpo = cdb[1] & 0x10;
	if (has_fua)
		rw->fua = cdb[1] & 0x08;
}

static void decode_10(const uint8_t *cdb, struct cdb_rw *rw)
{
	rw->lba = get_be32(cdb + 2);
	rw->group = cdb[6] & 0x1f;
	rw->blocks = get_be16(cdb + 7);
	rw->lba_byte = 2;
	rw->blocks_byte = 7;
}

static void decode_12(const uint8_t *cdb, struct cdb_rw *rw)
{
	rw->lba = get_be32(cdb + 2);
	rw->blocks = get_be32(cdb + 6);
	rw->group = cdb[10] & 0x1f;
	rw->lba_byte = 2;
	rw->blocks_byte = 6;
}

static void decode_16(const uint8_t *cdb, struct cdb_rw *rw)
{
	rw->lba = get_be64(cdb + 2);
	rw->blocks = get_be32(cdb + 10);
	rw->group = cdb[14] & 0x1f;
	rw->lba_byte = 2;
	rw->blocks_byte = 10;
}

bool cdb_decode_rw(const uint8_t *cdb, unsigned cdb_len, struct cdb_rw *rw)
{
	uint8_t opcode;

	memset(rw, 0, sizeof(*rw));
	if (cdb_len < 1)
		return false;
	opcode = cdb[0];
	if (cdb_length_for_opcode(opcode) == 0 || cdb_len < cdb_length_for_opcode(opcode))
		return false;

	switch (opcode) {
	case CDB_OP_READ_6:
	case CDB_OP_WRITE_6:
		/* SBC-3 5.10 / 5.32: 21-bit LBA; TRANSFER LENGTH 0 = 256 blocks. */
		rw->lba = get_be24(cdb + 1) & 0x1fffff;
		rw->blocks = cdb[4] ? cdb[4] : 256;
		rw->lba_byte = 1;
		rw->blocks_byte = 4;
		return true;

	case CDB_OP_READ_10:
	case CDB_OP_WRITE_10:
		decode_10(cdb, rw);
		decode_protect_dpo_fua(cdb, rw, true);
		return true;
	case CDB_OP_READ_12:
	case CDB_OP_WRITE_12:
		decode_12(cdb, rw);
		decode_protect_dpo_fua(cdb, rw, true);
		return true;
	case CDB_OP_READ_16:
	case CDB_OP_WRITE_16:
	case CDB_OP_ORWRITE_16:
		decode_16(cdb, rw);
		decode_protect_dpo_fua(cdb, rw, true);
		return true;

	/* VERIFY and WRITE AND VERIFY: BYTCHK in byte 1 bits 2-1, no FUA
	 * (SBC-3 5.33, 5.41). */
	case CDB_OP_VERIFY_10:
	case CDB_OP_WRITE_VERIFY_10:
		decode_10(cdb, rw);
		decode_protect_dpo_fua(cdb, rw, false);
		rw->bytchk = (cdb[1] >> 1) & 0x03;
		return true;
	case CDB_OP_VERIFY_12:
	case CDB_OP_WRITE_VERIFY_12:
		decode_12(cdb, rw);
		decode_protect_dpo_fua(cdb, rw, false);
		rw->bytchk = (cdb[1] >> 1) & 0x03;
		return true;
	case CDB_OP_VERIFY_16:
	case CDB_OP_WRITE_VERIFY_16:
		decode_16(cdb, rw);
		decode_protect_dpo_fua(cdb, rw, false);
		rw->bytchk = (cdb[1] >> 1) & 0x03;
		return true;

	/* PRE-FETCH and SYNCHRONIZE CACHE: IMMED in byte 1 bit 1 (SBC-3 5.8,
	 * 5.9, 5.26, 5.27). */
	case CDB_OP_PRE_FETCH_10:
	case CDB_OP_SYNC_CACHE_10:
		decode_10(cdb, rw);
		rw->immed = cdb[1] & 0x02;
		return true;
	case CDB_OP_PRE_FETCH_16:
	case CDB_OP_SYNC_CACHE_16:
		decode_16(cdb, rw);
		rw->immed = cdb[1] & 0x02;
		return true;

	/* WRITE SAME: ANCHOR bit 4, UNMAP bit 3, NDOB bit 0 (16 only)
	 * (SBC-3 5.43, 5.44). */
	case CDB_OP_WRITE_SAME_10:
		decode_10(cdb, rw);
		rw->protect = cdb[1] >> 5;
		rw->anchor = cdb[1] & 0x10;
		rw->unmap = cdb[1] & 0x08;
		return true;
	case CDB_OP_WRITE_SAME_16:
		decode_16(cdb, rw);
		rw->protect = cdb[1] >> 5;
		rw->anchor = cdb[1] & 0x10;
		rw->unmap = cdb[1] & 0x08;
		rw->ndob = cdb[1] & 0x01;
		return true;

	case CDB_OP_COMPARE_AND_WRITE:
		/* SBC-3 5.2: NUMBER OF LOGICAL BLOCKS is byte 13. */
		rw->lba = get_be64(cdb + 2);
		rw->blocks = cdb[13];
		rw->group = cdb[14] & 0x1f;
		rw->lba_byte = 2;
		rw->blocks_byte = 13;
		decode_protect_dpo_fua(cdb, rw, true);
		return true;

	case CDB_OP_WRITE_ATOMIC_16:
		/* SBC-4 5.48: 16-bit TRANSFER LENGTH in bytes 12-13. */
		rw->lba = get_be64(cdb + 2);
		rw->blocks = get_be16(cdb + 12);
		rw->group = cdb[14] & 0x1f;
		rw->lba_byte = 2;
		rw->blocks_byte = 12;
		decode_protect_dpo_fua(cdb, rw, true);
		return true;

	default:
		return false;
	}
}

bool cdb_lba_out_of_range(uint64_t lba, uint64_t count, uint64_t num_blocks)
{
	return lba > num_blocks || count > num_blocks - lba;
}

bool cdb_allocation_length(const uint8_t *cdb, unsigned cdb_len, uint32_t *alloc_len)
{
	unsigned offset, width;

	if (cdb_len < 1)
		return false;
	switch (cdb[0]) {
	case 0x03:  /* REQUEST SENSE (SPC-4 6.29) */
	case 0x1a:  /* MODE SENSE(6) (SPC-4 6.11) */
		offset = 4, width = 1;
		break;
	case 0x12:  /* INQUIRY (SPC-4 6.4) */
	case 0x1c:  /* RECEIVE DIAGNOSTIC RESULTS (SPC-4 6.28) */
		offset = 3, width = 2;
		break;
	case 0x4d:  /* LOG SENSE (SPC-4 6.6) */
	case 0x5a:  /* MODE SENSE(10) (SPC-4 6.12) */
	case 0x5e:  /* PERSISTENT RESERVE IN (SPC-4 6.13) */
	case CDB_OP_READ_DEFECT_DATA_10:  /* SBC-3 5.18 */
		offset = 7, width = 2;
		break;
	case 0xa0:  /* REPORT LUNS (SPC-4 6.33) */
	case 0xa3:  /* MAINTENANCE IN: REPORT TARGET PORT GROUPS, ... */
	case CDB_OP_READ_DEFECT_DATA_12:  /* SBC-3 5.19 */
		offset = 6, width = 4;
		break;
	case 0x84:  /* RECEIVE COPY RESULTS (SPC-4 6.27) */
	case CDB_OP_SERVICE_ACTION_IN_16:  /* READ CAPACITY(16), GET LBA STATUS */
		offset = 10, width = 4;
		break;
	default:
		return false;
	}
	if (cdb_len < offset + width)
		return false;
	if (width == 1)
		*alloc_len = cdb[offset];
	else if (width == 2)
		*alloc_len = get_be16(cdb + offset);
	else
		*alloc_len = get_be32(cdb + offset);
	return true;
}
