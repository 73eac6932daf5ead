/* CDB decoding helpers (SPC-4 4.2, SBC-3 5): operation codes, the LBA and
 * transfer length of every block-access command form, the flags they carry,
 * overflow-safe range checks and allocation lengths. Pure functions: no
 * state, no I/O, so every form is unit-tested in tests/unit/test_cdb.c. */
#ifndef SANGW_CDB_H
#define SANGW_CDB_H

#include <stdbool.h>
#include <stdint.h>

/* Operation codes of the block commands decoded here (SBC-3 table 14),
 * and of the copy manager's commands (SPC-4 6.4, 6.18). */
enum cdb_opcode {
	CDB_OP_READ_6 = 0x08,
	CDB_OP_WRITE_6 = 0x0a,
	CDB_OP_START_STOP_UNIT = 0x1b,
	CDB_OP_PREVENT_ALLOW = 0x1e,
	CDB_OP_READ_CAPACITY_10 = 0x25,
	CDB_OP_READ_10 = 0x28,
	CDB_OP_WRITE_10 = 0x2a,
	CDB_OP_WRITE_VERIFY_10 = 0x2e,
	CDB_OP_VERIFY_10 = 0x2f,
	CDB_OP_PRE_FETCH_10 = 0x34,
	CDB_OP_SYNC_CACHE_10 = 0x35,
	CDB_OP_READ_DEFECT_DATA_10 = 0x37,
	CDB_OP_WRITE_SAME_10 = 0x41,
	CDB_OP_UNMAP = 0x42,
	CDB_OP_SANITIZE = 0x48,
	CDB_OP_EXTENDED_COPY = 0x83,
	CDB_OP_RECEIVE_COPY_RESULTS = 0x84,
	CDB_OP_READ_16 = 0x88,
	CDB_OP_COMPARE_AND_WRITE = 0x89,
	CDB_OP_WRITE_16 = 0x8a,
	CDB_OP_ORWRITE_16 = 0x8b,
	CDB_OP_WRITE_VERIFY_16 = 0x8e,
	CDB_OP_VERIFY_16 = 0x8f,
	CDB_OP_PRE_FETCH_16 = 0x90,
	CDB_OP_SYNC_CACHE_16 = 0x91,
	CDB_OP_WRITE_SAME_16 = 0x93,
	CDB_OP_WRITE_ATOMIC_16 = 0x9c,
	CDB_OP_SERVICE_ACTION_IN_16 = 0x9e,
	CDB_OP_READ_12 = 0xa8,
	CDB_OP_WRITE_12 = 0xaa,
	CDB_OP_WRITE_VERIFY_12 = 0xae,
	CDB_OP_VERIFY_12 = 0xaf,
	CDB_OP_READ_DEFECT_DATA_12 = 0xb7,
};

/* SERVICE ACTION IN(16) service actions (SBC-3 5.16, 5.5) */
#define CDB_SA_READ_CAPACITY_16  0x10
#define CDB_SA_GET_LBA_STATUS    0x12

/* SANITIZE service actions (SBC-3 5.24) */
#define CDB_SA_SANITIZE_OVERWRITE         0x01
#define CDB_SA_SANITIZE_BLOCK_ERASE       0x02
#define CDB_SA_SANITIZE_CRYPTO_ERASE      0x03
#define CDB_SA_SANITIZE_EXIT_FAILURE_MODE 0x1f

/* What a block-access CDB asks for. Fields a form does not have are 0. */
struct cdb_rw {
	uint64_t lba;
	uint32_t blocks;        /* transfer / verification / number of blocks */
	uint8_t protect;        /* RDPROTECT, WRPROTECT, VRPROTECT or ORPROTECT */
	uint8_t bytchk;         /* VERIFY, WRITE AND VERIFY: 0-3 */
	uint8_t group;          /* GROUP NUMBER */
	bool dpo;
	bool fua;
	bool immed;             /* PRE-FETCH, SYNCHRONIZE CACHE */
	bool anchor;            /* WRITE SAME */
	bool unmap;             /* WRITE SAME */
	bool ndob;              /* WRITE SAME(16): no Data-Out buffer */
	/* Where the fields sit, for sense-key specific field pointers. */
	uint8_t lba_byte;
	uint8_t blocks_byte;
};

/* CDB length implied by the group code of opcode (SPC-4 4.2.5.1): 6, 10,
 * 12 or 16; 0 for the variable-length and vendor-specific groups. */
unsigned cdb_length_for_opcode(uint8_t opcode);

/* Decode a READ/WRITE(6/10/12/16), VERIFY(10/12/16), WRITE AND
 * VERIFY(10/12/16), WRITE SAME(10/16), PRE-FETCH(10/16), SYNCHRONIZE
 * CACHE(10/16), COMPARE AND WRITE, ORWRITE(16) or WRITE ATOMIC(16) CDB.
 * READ(6)/WRITE(6) with TRANSFER LENGTH 0 mean 256 blocks (SBC-3 5.10,
 * 5.32). Returns false for any other opcode or a CDB shorter than its form. */
bool cdb_decode_rw(const uint8_t *cdb, unsigned cdb_len, struct cdb_rw *rw);

/* True when [lba, lba + count) does not fit in num_blocks logical blocks;
 * never overflows (SBC-3 4.5: LOGICAL BLOCK ADDRESS OUT OF RANGE). A count
 * of 0 at lba == num_blocks fits. */
bool cdb_lba_out_of_range(uint64_t lba, uint64_t count, uint64_t num_blocks);

/* The ALLOCATION LENGTH of a CDB that has one (SPC-4 4.2.5.6): INQUIRY,
 * REQUEST SENSE, MODE SENSE(6/10), LOG SENSE, RECEIVE DIAGNOSTIC RESULTS,
 * REPORT LUNS, PERSISTENT RESERVE IN, MAINTENANCE IN, RECEIVE COPY RESULTS,
 * SERVICE ACTION IN(16), READ DEFECT DATA(10/12). False for other opcodes
 * or a CDB too short for the field. */
bool cdb_allocation_length(const uint8_t *cdb, unsigned cdb_len, uint32_t *alloc_len);

/* Service action in byte 1, bits 4-0 (SPC-4 4.2.5.2). */
static inline uint8_t cdb_service_action(const uint8_t *cdb)
{
	return cdb[1] & 0x1f;
}

#endif
