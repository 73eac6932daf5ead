/* SBC-3 block commands (sbc.c): the limits the handlers enforce, which the
 * Block Limits, Block Device Characteristics and Logical Block Provisioning
 * VPD pages (spc.c) must report, the hooks the dispatcher, REPORT
 * SUPPORTED OPERATION CODES and scsi_lu.c call, and the LBA range locks
 * SANITIZE (sanitize.c) takes. */
#ifndef SANGW_SBC_H
#define SANGW_SBC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "../model.h"

/* --- Block Limits VPD page 0xB0 (SBC-3 6.6.4) -------------------------- */

/* MAXIMUM TRANSFER LENGTH: READ, WRITE, VERIFY, WRITE AND VERIFY, ORWRITE
 * beyond this get INVALID FIELD IN CDB. In bytes; in blocks it is
 * sbc_max_transfer_blocks(lu). Bounds the per-command buffer, and stays
 * below the largest EDTL the iSCSI fabric buffers (64 MiB). 32 MiB is
 * 65536 blocks of 512 bytes: libiscsi's WriteSame16.Unmap writes that many
 * with one WRITE(16) when MAXIMUM WRITE SAME LENGTH allows them. */
#define SBC_MAX_TRANSFER_BYTES        (32u << 20)
/* OPTIMAL TRANSFER LENGTH (a hint), bytes. */
#define SBC_OPTIMAL_TRANSFER_BYTES    (1u << 20)
/* MAXIMUM COMPARE AND WRITE LENGTH, blocks (the CDB field is one byte). */
#define SBC_MAX_CAW_BLOCKS            255u
/* MAXIMUM UNMAP LBA COUNT (per UNMAP command) and MAXIMUM UNMAP BLOCK
 * DESCRIPTOR COUNT; both 0 in the page when the LU is not thin. */
#define SBC_MAX_UNMAP_LBA_COUNT       0x100000u
#define SBC_MAX_UNMAP_DESCRIPTORS     256u
/* OPTIMAL UNMAP GRANULARITY in bytes (hole punching works on 4 KiB pages);
 * in blocks: SBC_UNMAP_GRANULARITY_BYTES >> block_shift. Alignment 0. */
#define SBC_UNMAP_GRANULARITY_BYTES   4096u
/* MAXIMUM WRITE SAME LENGTH, blocks. WSNZ is 0: NUMBER OF LOGICAL BLOCKS 0
 * means "to the last LBA" and is accepted when that is within this limit. */
#define SBC_MAX_WRITE_SAME_BLOCKS     0x100000u
/* WRITE ATOMIC(16) (SBC-4 5.48): MAXIMUM ATOMIC TRANSFER LENGTH, ATOMIC
 * ALIGNMENT and ATOMIC TRANSFER LENGTH GRANULARITY, all in blocks.
 * MAXIMUM ATOMIC TRANSFER LENGTH WITH ATOMIC BOUNDARY and MAXIMUM ATOMIC
 * BOUNDARY SIZE are 0. */
#define SBC_MAX_ATOMIC_BLOCKS         256u
#define SBC_ATOMIC_ALIGNMENT_BLOCKS   8u
#define SBC_ATOMIC_GRANULARITY_BLOCKS 8u

static inline uint32_t sbc_max_transfer_blocks(const struct lu *lu)
{
	return SBC_MAX_TRANSFER_BYTES >> lu->block_shift;
}

/* --- what the other VPD pages, READ CAPACITY(16) and MODE SENSE say -----
 * Logical Block Provisioning page 0xB2 (SBC-3 6.6.6), when lu->spec.thin:
 *   LBPU = LBPWS = LBPWS10 = 1, LBPRZ = 1, ANC_SUP = 0, DP = 0,
 *   PROVISIONING TYPE = 2 (thin); all zero (type 0) otherwise.
 * READ CAPACITY(16): LBPME = LBPRZ = lu->spec.thin, exponent below.
 * Block Device Characteristics page 0xB1: MEDIUM ROTATION RATE 1
 *   (non-rotating), WACEREQ = 1 (reads succeed after a CRYPTO ERASE
 *   sanitize: the blocks read as zeros), WABEREQ = 1 when BLOCK ERASE is
 *   supported (thin LUs, sanitize_lu_supports()) and 0 otherwise (SBC-3 6.6.2;
 *   libiscsi's Sanitize.BlockErase fails a nonzero WABEREQ without it).
 * MODE SENSE device-specific parameter: DPOFUA = 1 (SBC-3 6.4.1). */

/* LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT (READ CAPACITY(16)). 0: one
 * logical block per physical block, see sbc.c for why. */
uint8_t sbc_lbppb_exponent(const struct lu *lu);

/* REPORT SUPPORTED OPERATION CODES: is this command (opcode, service
 * action) supported on this LU? UNMAP needs a thin LU; everything else in
 * sbc_opcode_table is. */
bool sbc_lu_supports(const struct lu *lu, uint8_t opcode, uint16_t service_action);

/* --- hooks for the dispatcher and scsi_lu.c ---------------------------- */

/* PREVENT ALLOW MEDIUM REMOVAL is kept per I_T nexus (lu->prevent_removal
 * is true while any nexus prevents); it ends for a nexus on its loss, and
 * for all on a logical unit reset or hard reset (SBC-3 5.13). Call
 * sbc_nexus_lost() for every LU of a lost nexus' target, sbc_lu_reset() on
 * LOGICAL UNIT RESET and, for every LU, on TARGET WARM/COLD RESET (both
 * through scsi_lu_nexus_lost() / scsi_lu_reset()). */
void sbc_nexus_lost(struct lu *lu, const struct it_nexus *nexus);
void sbc_lu_reset(struct lu *lu);

/* No exclusive LBA range claim is held or queued on lu: reads and writes
 * may run on their worker (scsi_dispatch.c). */
bool sbc_range_locks_idle(const struct lu *lu);

/* Release lu->sbc (LBA range locks, PREVENT ALLOW MEDIUM REMOVAL holders).
 * scsi_lu_cleanup() calls it once the LU's commands are gone. */
void sbc_lu_cleanup(struct lu *lu);

/* --- exclusive LBA range claims, for SANITIZE (sanitize.c) ----------------
 * SBC-3 5.2, SBC-4 4.29: an exclusive claim waits for the in-flight
 * commands that touch its range, and every later command touching the
 * range waits for it; claims are granted in arrival order. */

struct sbc_range_waiter {
	uint64_t lba;
	uint64_t count;
	bool exclusive;
	bool granted;
	struct scsi_cmd *cmd;             /* shared waiters: the command */
	void (*resume)(void *arg);        /* run once granted */
	void *arg;
	TAILQ_ENTRY(sbc_range_waiter) link;   /* in the LU's waiters (sbc.c) */
	TAILQ_ENTRY(sbc_range_waiter) ready;  /* granted, resume pending */
};

/* Queue an exclusive claim described by w (lba, count, resume, arg set;
 * owned by the caller until released). Returns 1 when granted at once, 0
 * when w->resume(w->arg) will run later, -ENOMEM. */
int sbc_range_lock_exclusive(struct lu *lu, struct sbc_range_waiter *w);
/* Release a granted exclusive claim; waiters it blocked may start. */
void sbc_range_unlock_exclusive(struct lu *lu, struct sbc_range_waiter *w);

#endif
