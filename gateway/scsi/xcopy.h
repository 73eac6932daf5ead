/* The copy manager: EXTENDED COPY (LID1) and RECEIVE COPY RESULTS (SPC-4
 * 6.4, 6.18; the LID1 forms are SPC-3's EXTENDED COPY and RECEIVE COPY
 * RESULTS). It copies between logical units of this gateway, named in the
 * parameter list by identification descriptor CSCDs (type E4h) carrying
 * the LU's NAA designator, with block device to block device segment
 * descriptors (type 02h). The copy runs asynchronously through the
 * backstores, in chunks; the EXTENDED COPY command completes when it ends.
 *
 * The opcode table entries live in sbc.c (sbc_opcode_table) and point at
 * the two handlers below. The per-LU state (running copies, held results)
 * is lu->xcopy, kept here; scsi_lu.c calls the hooks on nexus loss, LU
 * reset and LU release. */
#ifndef SANGW_XCOPY_H
#define SANGW_XCOPY_H

#include <stdbool.h>
#include <stdint.h>

#include "../model.h"

/* --- the limits RECEIVE COPY RESULTS (OPERATING PARAMETERS) reports ----- */

/* MAXIMUM CSCD DESCRIPTOR COUNT and MAXIMUM SEGMENT DESCRIPTOR COUNT. */
#define XCOPY_MAX_CSCD_DESCRIPTORS     8u
#define XCOPY_MAX_SEGMENT_DESCRIPTORS  64u
/* MAXIMUM DESCRIPTOR LIST LENGTH: the CSCD and segment descriptor lists
 * together, in bytes; room for the maximum counts of the descriptors we
 * implement (8 x 32 + 64 x 28 = 2048). */
#define XCOPY_MAX_DESCRIPTOR_LIST_LEN  2048u
/* MAXIMUM SEGMENT LENGTH in bytes: a block to block segment moves at most
 * 65535 blocks, so of 4096-byte blocks 65535 x 4096 bytes. */
#define XCOPY_MAX_SEGMENT_BYTES        (65535u * 4096u)
/* TOTAL CONCURRENT COPIES and MAXIMUM CONCURRENT COPIES, per LU. */
#define XCOPY_MAX_CONCURRENT_COPIES    16u
/* Completed copy results held for RECEIVE COPY RESULTS, per LU. */
#define XCOPY_MAX_HELD_RESULTS         32u
/* The copy moves data through a buffer of this size. */
#define XCOPY_CHUNK_BYTES              (1u << 20)

/* Descriptor type codes (SPC-4 table "EXTENDED COPY descriptor type codes") */
#define XCOPY_SEG_BLOCK_TO_BLOCK       0x02
#define XCOPY_CSCD_IDENTIFICATION      0xe4

/* LIST ID USAGE (SPC-4 6.4.2, LID1 parameter list header) */
#define XCOPY_LIST_ID_HOLD             0x0   /* hold results for RECEIVE COPY RESULTS */
#define XCOPY_LIST_ID_NO_HOLD          0x2   /* list id checked, nothing held */
#define XCOPY_LIST_ID_NONE             0x3   /* LIST IDENTIFIER must be zero */

/* RECEIVE COPY RESULTS service actions (SPC-4 6.18) */
#define XCOPY_SA_COPY_STATUS           0x00
#define XCOPY_SA_OPERATING_PARAMETERS  0x03

/* --- the parameter list, decoded ------------------------------------------ */

/* An identification descriptor CSCD (SPC-4 6.4.5.2, 6.4.5.3). */
struct xcopy_cscd {
	uint16_t offset;             /* of the descriptor in the parameter list */
	uint8_t association;         /* of the designation descriptor */
	uint8_t designator_type;
	uint8_t designator_len;
	uint8_t designator[16];      /* the 20-byte field holds at most 16 */
	uint32_t block_length;       /* DISK BLOCK LENGTH (device type 0) */
};

/* A block device to block device segment descriptor (SPC-4 6.4.6.5). */
struct xcopy_segment {
	uint16_t offset;             /* of the descriptor in the parameter list */
	uint16_t src_index, dst_index;
	bool dc;                     /* blocks counted in destination blocks */
	uint16_t blocks;             /* BLOCK DEVICE NUMBER OF BLOCKS */
	uint64_t src_lba, dst_lba;
};

struct xcopy_params {
	uint8_t list_id;
	uint8_t list_id_usage;
	unsigned cscd_count;
	struct xcopy_cscd cscd[XCOPY_MAX_CSCD_DESCRIPTORS];
	unsigned segment_count;
	struct xcopy_segment segment[XCOPY_MAX_SEGMENT_DESCRIPTORS];
};

/* Why a parameter list was refused: ILLEGAL REQUEST with this additional
 * sense code, and the byte (and bit, or -1) of the parameter list it
 * points at when field_valid. */
struct xcopy_error {
	uint16_t asc;
	bool field_valid;
	uint16_t byte;
	int bit;
};

/* Check and decode a LID1 parameter list of len bytes (SPC-4 6.4.3:
 * errors found before any segment is processed are ILLEGAL REQUEST).
 * Returns true, or false with *err filled. len is at least 1. */
bool xcopy_parse_params(const uint8_t *p, uint32_t len, struct xcopy_params *out,
			struct xcopy_error *err);

/* --- command handlers (entries of sbc_opcode_table) ---------------------- */

void xcopy_extended_copy(struct scsi_cmd *cmd);         /* 83h, LID1 */
void xcopy_receive_copy_results(struct scsi_cmd *cmd);  /* 84h */

/* --- hooks, called from scsi_lu.c ----------------------------------------- */

/* SPC-4 6.18.1: held results end with the I_T nexus and on a logical unit
 * reset; xcopy_lu_cleanup() frees what is left when the LU goes. */
void xcopy_nexus_lost(struct lu *lu, const struct it_nexus *nexus);
void xcopy_lu_reset(struct lu *lu);
void xcopy_lu_cleanup(struct lu *lu);

#endif
