/* SBC-3 block commands: READ/WRITE, VERIFY, WRITE AND VERIFY, WRITE SAME,
 * UNMAP, COMPARE AND WRITE, ORWRITE, WRITE ATOMIC, PRE-FETCH, SYNCHRONIZE
 * CACHE, READ CAPACITY, GET LBA STATUS, READ DEFECT DATA, START STOP UNIT
 * and PREVENT ALLOW MEDIUM REMOVAL. The opcode table also lists the copy
 * manager's commands (xcopy.c). SANITIZE is in sanitize.c; it takes its
 * exclusive claim on the whole LU from the LBA range locks here.
 *
 * The dispatcher has already resolved the LU, reported unit attentions,
 * checked reservations, write protection (OPF_WRITES_MEDIUM), the medium
 * (OPF_NEEDS_MEDIUM) and reserved CDB bits against cdb_usage; the handlers
 * check the rest in the order SBC-3 implies: protection fields (the LUs
 * have no protection information, so nonzero RDPROTECT/WRPROTECT/VRPROTECT/
 * ORPROTECT is INVALID FIELD IN CDB), the LBA range (LOGICAL BLOCK ADDRESS
 * OUT OF RANGE), then the Block Limits (INVALID FIELD IN CDB).
 *
 * Transfer lengths and iSCSI residuals. cmd->transfer_len is always what
 * the CDB asks to move; the fabric derives the residual from it and the
 * expected data transfer length (EDTL, RFC 7143 11.4.5). What the core
 * does when they differ (checked by libiscsi's iSCSIResiduals tests):
 *  - reads transfer whole blocks up to the EDTL; the fabric sends at most
 *    EDTL bytes and reports the rest as residual overflow;
 *  - writes (WRITE, WRITE AND VERIFY, ORWRITE) write only the whole blocks
 *    that arrived: EDTL > transfer length writes the CDB's blocks and
 *    ignores the surplus (underflow); EDTL < transfer length writes the
 *    blocks received and leaves the others untouched (overflow); both are
 *    GOOD, the residual tells the initiator what happened;
 *  - commands whose data-out is all-or-nothing fail instead: COMPARE AND
 *    WRITE (exactly 2 x NUMBER OF LOGICAL BLOCKS blocks), WRITE SAME
 *    (exactly one block) and WRITE ATOMIC (the whole transfer) get
 *    ILLEGAL REQUEST, INVALID FIELD IN CDB.
 *
 * Atomicity. COMPARE AND WRITE, ORWRITE, WRITE ATOMIC and WRITE AND VERIFY
 * take an exclusive lock on their LBA range: they wait for in-flight
 * commands that touch it and every later command touching it waits for
 * them (SBC-3 5.2, SBC-4 4.29). Ordinary reads and writes take no lock
 * object: they only look for an exclusive holder or waiter on their range
 * (usually none) and mark themselves in flight through cmd->core_step, so
 * the exclusive side finds them by walking lu->tasks. Waiters queue in
 * arrival order, so neither side starves. When other cluster nodes export
 * the LU too, COMPARE AND WRITE first claims its range cluster-wide
 * (cluster_range_lock.h), so two of them through different nodes exclude
 * each other as well. */
#include "sbc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cdb.h"
#include "cluster_range_lock.h"
#include "../event_loop.h"
#include "../log.h"
#include "scsi_internal.h"
#include "sense.h"
#include "../util.h"
#include "../workers.h"
#include "xcopy.h"

/* SBC-3 4.7.3.6: a thin LU that cannot allocate space. */

/* cmd->core_step value of an ordinary medium command whose I/O is in
 * flight, i.e. one that holds a shared claim on its LBA range. */
#define SBC_STEP_IN_FLIGHT 0x5bc10001u

/* Chunk size for WRITE SAME patterns. */
#define SBC_CHUNK_BYTES (1u << 20)

/* GET LBA STATUS: at most this many descriptors per answer. */
#define SBC_LBA_STATUS_MAX_DESCRIPTORS 64u

/* --- per-LU state: LBA range locks and PREVENT ALLOW MEDIUM REMOVAL ----- */

TAILQ_HEAD(sbc_range_waiter_list, sbc_range_waiter);

/* An I_T nexus with PREVENT ALLOW MEDIUM REMOVAL (PREVENT = 1) in force. */
struct prevent_holder {
	uint64_t nexus_id;
	TAILQ_ENTRY(prevent_holder) link;
};

struct sbc_lu_state {
	/* Exclusive holders and waiters and the shared commands waiting
	 * behind them, in arrival order. */
	struct sbc_range_waiter_list waiters;
	/* lu->prevent_removal is true while this is not empty. */
	TAILQ_HEAD(, prevent_holder) prevent_holders;
	/* A worker's read or write ended while claims wait (workers.h). */
	struct ev_deferred wake_on_control;
};

static struct sbc_lu_state *lu_state(struct lu *lu)
{
	if (!lu->sbc) {
		lu->sbc = calloc(1, sizeof(*lu->sbc));
		if (!lu->sbc)
			return NULL;
		TAILQ_INIT(&lu->sbc->waiters);
		TAILQ_INIT(&lu->sbc->prevent_holders);
	}
	return lu->sbc;
}

static bool ranges_overlap(uint64_t a_lba, uint64_t a_count, uint64_t b_lba, uint64_t b_count)
{
	return a_count && b_count && a_lba < b_lba + b_count && b_lba < a_lba + a_count;
}

/* The LBA range an ordinary medium command touches; false for commands
 * that do not take part in range locking. */
static bool cmd_lba_range(const struct scsi_cmd *cmd, const struct lu *lu, uint64_t *lba,
			  uint64_t *count)
{
	struct cdb_rw rw;

	if (cmd->cdb[0] == CDB_OP_UNMAP) {
		*lba = 0;                 /* descriptors anywhere: the whole LU */
		*count = lu->num_blocks;
		return true;
	}
	if (!cdb_decode_rw(cmd->cdb, cmd->cdb_len, &rw))
		return false;
	*lba = rw.lba;
	*count = rw.blocks;
	if ((cmd->cdb[0] == CDB_OP_WRITE_SAME_10 || cmd->cdb[0] == CDB_OP_WRITE_SAME_16) &&
	    rw.blocks == 0 && rw.lba < lu->num_blocks)
		*count = lu->num_blocks - rw.lba;
	return true;
}

/* Is an ordinary command with I/O in flight touching [lba, lba + count)? */
static bool in_flight_overlaps(struct lu *lu, uint64_t lba, uint64_t count)
{
	struct scsi_cmd *other;
	uint64_t o_lba, o_count;

	LU_FOREACH_TASK(other, lu, set) {
		if (other->core_step != SBC_STEP_IN_FLIGHT)
			continue;
		if (cmd_lba_range(other, lu, &o_lba, &o_count) &&
		    ranges_overlap(lba, count, o_lba, o_count))
			return true;
	}
	return false;
}

/* May waiter w be granted now? Earlier entries win: an exclusive one
 * blocks everything overlapping it, and an exclusive waiter also waits
 * for every overlapping entry ahead of it and for in-flight commands. */
static bool range_grantable(struct lu *lu, struct sbc_range_waiter *w)
{
	struct sbc_range_waiter *e;

	TAILQ_FOREACH(e, &lu->sbc->waiters, link) {
		if (e == w)
			break;
		if ((e->exclusive || w->exclusive) &&
		    ranges_overlap(e->lba, e->count, w->lba, w->count))
			return false;
	}
	return !w->exclusive || !in_flight_overlaps(lu, w->lba, w->count);
}

/* Grant what can be granted, then resume the new holders. Resumes run
 * after the walk: a resume may complete its command and come back here. */
static void range_wake(struct lu *lu)
{
	struct sbc_range_waiter_list ready = TAILQ_HEAD_INITIALIZER(ready);
	struct sbc_range_waiter *w, *next;

	if (!lu->sbc)
		return;
	for (w = TAILQ_FIRST(&lu->sbc->waiters); w; w = next) {
		next = TAILQ_NEXT(w, link);
		if (w->granted || !range_grantable(lu, w))
			continue;
		w->granted = true;
		if (!w->exclusive) {
			/* A shared waiter becomes an ordinary in-flight command. */
			TAILQ_REMOVE(&lu->sbc->waiters, w, link);
			w->cmd->core_step = SBC_STEP_IN_FLIGHT;
		}
		TAILQ_INSERT_TAIL(&ready, w, ready);
	}
	while ((w = TAILQ_FIRST(&ready))) {
		void (*resume)(void *) = w->resume;
		void *arg = w->arg;

		TAILQ_REMOVE(&ready, w, ready);
		if (!w->exclusive)
			free(w);
		resume(arg);
	}
}

/* Claim [lba, lba + count) for an ordinary command. Returns 1 when it may
 * start now, 0 when resume(cmd) will start it later, -ENOMEM. */
static int range_lock_shared(struct scsi_cmd *cmd, uint64_t lba, uint64_t count,
			     void (*resume)(void *arg))
{
	struct sbc_lu_state *st = cmd->lu->sbc;
	struct sbc_range_waiter *e, *w;
	bool blocked = false;

	if (st) {
		TAILQ_FOREACH(e, &st->waiters, link) {
			if (e->exclusive && ranges_overlap(e->lba, e->count, lba, count)) {
				blocked = true;
				break;
			}
		}
	}
	if (!blocked) {
		cmd->core_step = SBC_STEP_IN_FLIGHT;
		return 1;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->lba = lba;
	w->count = count;
	w->cmd = cmd;
	w->resume = resume;
	w->arg = cmd;
	TAILQ_INSERT_TAIL(&st->waiters, w, link);
	return 0;
}

static void range_wake_on_control(void *arg)
{
	range_wake(arg);
}

static void range_unlock_shared(struct scsi_cmd *cmd)
{
	cmd->core_step = 0;
	if (cmd->lu->sbc && !TAILQ_EMPTY(&cmd->lu->sbc->waiters)) {
		/* The waiters list is changed only with the world stopped. */
		if (on_control_thread())
			range_wake(cmd->lu);
		else
			workers_run_on_control(&cmd->lu->sbc->wake_on_control,
					       range_wake_on_control, cmd->lu);
	}
}

bool sbc_range_locks_idle(const struct lu *lu)
{
	return !lu->sbc || TAILQ_EMPTY(&lu->sbc->waiters);
}

/* Queue an exclusive claim described by w (lba, count, resume, arg set).
 * Returns 1 when granted at once, 0 when w->resume will run later,
 * -ENOMEM. */
int sbc_range_lock_exclusive(struct lu *lu, struct sbc_range_waiter *w)
{
	struct sbc_lu_state *st = lu_state(lu);

	if (!st)
		return -ENOMEM;
	w->exclusive = true;
	w->granted = false;
	TAILQ_INSERT_TAIL(&st->waiters, w, link);
	if (range_grantable(lu, w)) {
		w->granted = true;
		return 1;
	}
	return 0;
}

void sbc_range_unlock_exclusive(struct lu *lu, struct sbc_range_waiter *w)
{
	TAILQ_REMOVE(&lu->sbc->waiters, w, link);
	w->granted = false;
	range_wake(lu);
}

/* --- small helpers ------------------------------------------------------ */

static uint64_t blocks_to_bytes(const struct lu *lu, uint64_t blocks)
{
	return blocks << lu->block_shift;
}

static void fail_no_memory(struct scsi_cmd *cmd)
{
	scsi_check_condition(cmd, SK_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
}

/* An optional backstore op (backstore.h) this LU's store takes here. */
static bool backstore_supports(const struct lu *lu, enum bs_op op, uint64_t offset, uint64_t length)
{
	return backstore_ops_support(lu->bs_ops, lu, op, offset, length);
}

static void fail_lba_out_of_range(struct scsi_cmd *cmd)
{
	scsi_check_condition(cmd, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
}

/* Map a backstore error to sense data (SBC-3 4.18, 4.7.3.6). */
static void fail_io(struct scsi_cmd *cmd, int result, bool reading)
{
	log_warn("%s LUN %llu: %s at opcode 0x%02x failed: %s", cmd->lu->target->iqn,
		 (unsigned long long)cmd->lu->lun, reading ? "read" : "write", cmd->cdb[0],
		 strerror(-result));
	if (result == -ENOMEM) {
		fail_no_memory(cmd);
	} else {
		uint8_t key;
		uint16_t asc_ascq;

		sense_for_backstore_error(result, reading, &key, &asc_ascq);
		scsi_check_condition(cmd, key, asc_ascq);
	}
}

/* MISCOMPARE with the offset of the first differing byte in INFORMATION
 * (SBC-3 5.2, 5.33). */
static bool first_difference(const uint8_t *a, const uint8_t *b, uint64_t len, uint64_t *offset)
{
	if (len == 0 || memcmp(a, b, len) == 0)
		return false;
	for (uint64_t i = 0; i < len; i++) {
		if (a[i] != b[i]) {
			*offset = i;
			return true;
		}
	}
	return false;
}

static void fail_miscompare(struct scsi_cmd *cmd, uint64_t offset)
{
	scsi_check_condition_info(cmd, SK_MISCOMPARE, ASC_MISCOMPARE_DURING_VERIFY, offset);
}

/* A write must be durable before status when the initiator asks (FUA) or
 * when the write cache is disabled (SBC-3 6.4.5 WCE = 0). */
static bool write_through(const struct lu *lu, bool fua)
{
	return fua || !lu->mode.wce;
}

static void decode(const struct scsi_cmd *cmd, struct cdb_rw *rw)
{
	/* The opcode table routes only decodable CDBs here. */
	if (!cdb_decode_rw(cmd->cdb, cmd->cdb_len, rw))
		memset(rw, 0, sizeof(*rw));
}

/* Checks shared by the data-transferring commands: protection field,
 * LBA range, MAXIMUM TRANSFER LENGTH. Completes cmd on failure. */
static bool check_transfer(struct scsi_cmd *cmd, const struct cdb_rw *rw)
{
	if (rw->protect) {
		scsi_invalid_cdb_field(cmd, 1, 7);
		return false;
	}
	if (cdb_lba_out_of_range(rw->lba, rw->blocks, cmd->lu->num_blocks)) {
		fail_lba_out_of_range(cmd);
		return false;
	}
	if (rw->blocks > sbc_max_transfer_blocks(cmd->lu)) {
		scsi_invalid_cdb_field(cmd, rw->blocks_byte, -1);
		return false;
	}
	return true;
}

/* Whole blocks of Data-Out that arrived, at most the CDB's count. */
static uint64_t data_out_blocks(const struct scsi_cmd *cmd, uint64_t cdb_blocks)
{
	return MIN(cdb_blocks, (uint64_t)(cmd->data_out_len >> cmd->lu->block_shift));
}

/* Per-command context of the multi-step commands, in cmd->core_priv. */
struct sbc_ctx {
	struct cdb_rw rw;
	struct sbc_range_waiter lock;     /* exclusive claim, when taken */
	bool locked;
	struct cluster_range_lock cluster_lock;  /* COMPARE AND WRITE in a cluster */
	bool cluster_locked;
	uint8_t *scratch;             /* read-back, pattern or result buffer */
	uint64_t blocks;              /* blocks the operation covers */
	enum bs_op op;                /* WRITE SAME: how to fill */
	uint64_t next_lba;            /* chunked operations */
	uint64_t end_lba;
	uint32_t chunk_blocks;
	bool fua;
	bool flush_after;
	unsigned next_desc;           /* UNMAP */
	unsigned desc_count;
};

static struct sbc_ctx *ctx_new(struct scsi_cmd *cmd)
{
	struct sbc_ctx *ctx = calloc(1, sizeof(*ctx));

	if (ctx) {
		decode(cmd, &ctx->rw);
		cmd->core_priv = ctx;
	}
	return ctx;
}

static struct sbc_ctx *ctx_of(struct scsi_cmd *cmd)
{
	return cmd->core_priv;
}

/* Release the context and any range claim; call before completing cmd. */
static void ctx_end(struct scsi_cmd *cmd)
{
	struct sbc_ctx *ctx = ctx_of(cmd);

	if (!ctx) {
		if (cmd->core_step == SBC_STEP_IN_FLIGHT)
			range_unlock_shared(cmd);
		return;
	}
	cmd->core_priv = NULL;
	if (ctx->locked)
		sbc_range_unlock_exclusive(cmd->lu, &ctx->lock);
	if (ctx->cluster_locked)
		cluster_range_unlock(&ctx->cluster_lock);
	if (cmd->core_step == SBC_STEP_IN_FLIGHT)
		range_unlock_shared(cmd);
	free(ctx->scratch);
	free(ctx);
}

static void ctx_good(struct scsi_cmd *cmd)
{
	ctx_end(cmd);
	scsi_cmd_good(cmd);
}

static void ctx_fail_io(struct scsi_cmd *cmd, int result, bool reading)
{
	ctx_end(cmd);
	fail_io(cmd, result, reading);
}

static void ctx_fail_no_memory(struct scsi_cmd *cmd)
{
	ctx_end(cmd);
	fail_no_memory(cmd);
}

/* A long command noticed it was aborted (SAM-5 7.11): stop early. */
static void ctx_aborted(struct scsi_cmd *cmd)
{
	ctx_end(cmd);
	scsi_check_condition(cmd, SK_ABORTED_COMMAND, ASC_NO_ADDITIONAL_SENSE);
}

/* Take the exclusive claim of a multi-step command; start(cmd) runs now or
 * once granted. */
static void lock_exclusive_then(struct scsi_cmd *cmd, uint64_t lba, uint64_t count,
				void (*start)(void *arg))
{
	struct sbc_ctx *ctx = ctx_of(cmd);
	int rc;

	ctx->lock.lba = lba;
	ctx->lock.count = count;
	ctx->lock.resume = start;
	ctx->lock.arg = cmd;
	rc = sbc_range_lock_exclusive(cmd->lu, &ctx->lock);
	if (rc < 0) {
		ctx_fail_no_memory(cmd);
		return;
	}
	ctx->locked = true;
	if (rc == 1)
		start(cmd);
}

/* The same with a shared claim (commands with a context). */
static void lock_shared_then(struct scsi_cmd *cmd, uint64_t lba, uint64_t count,
			     void (*start)(void *arg))
{
	int rc = range_lock_shared(cmd, lba, count, start);

	if (rc < 0)
		ctx_fail_no_memory(cmd);
	else if (rc == 1)
		start(cmd);
}

/* --- READ(6/10/12/16) (SBC-3 5.10-5.13) --------------------------------- */

static void read_done(struct scsi_cmd *cmd, int result)
{
	range_unlock_shared(cmd);
	if (result < 0) {
		fail_io(cmd, result, true);
		return;
	}
	cmd->data_in_len = (uint32_t)cmd->io.length;
	scsi_cmd_good(cmd);
}

/* Holding the shared claim: read what the fabric can deliver (EDTL). */
static void read_start(void *arg)
{
	struct scsi_cmd *cmd = arg;
	struct lu *lu = cmd->lu;
	uint64_t deliverable = ((uint64_t)cmd->expected_len + lu->block_size - 1) >> lu->block_shift;
	struct cdb_rw rw;
	uint64_t blocks, bytes;

	decode(cmd, &rw);
	blocks = MIN((uint64_t)rw.blocks, deliverable);
	if (blocks == 0 || cmd->aborted) {
		range_unlock_shared(cmd);
		scsi_cmd_good(cmd);
		return;
	}
	bytes = blocks_to_bytes(lu, blocks);
	if (scsi_cmd_ensure_buf(cmd, (uint32_t)bytes) < 0) {
		range_unlock_shared(cmd);
		fail_no_memory(cmd);
		return;
	}
	scsi_cmd_io(cmd, BS_OP_READ, blocks_to_bytes(lu, rw.lba), bytes, cmd->buf, false, read_done);
}

static void sbc_read(struct scsi_cmd *cmd)
{
	struct cdb_rw rw;
	int rc;

	cmd->core_step = 0;
	decode(cmd, &rw);
	if (!check_transfer(cmd, &rw))
		return;
	/* DPO and FUA need nothing on reads: FUA asks for the medium's data,
	 * and the backstore never serves stale data (SBC-3 5.11). */
	cmd->transfer_len = (uint32_t)blocks_to_bytes(cmd->lu, rw.blocks);
	if (rw.blocks == 0) {
		scsi_cmd_good(cmd);   /* SBC-3 5.11: not an error, nothing moves */
		return;
	}
	rc = range_lock_shared(cmd, rw.lba, rw.blocks, read_start);
	if (rc < 0)
		fail_no_memory(cmd);
	else if (rc == 1)
		read_start(cmd);
}

/* --- WRITE(6/10/12/16) (SBC-3 5.32-5.35) -------------------------------- */

static void write_done(struct scsi_cmd *cmd, int result)
{
	range_unlock_shared(cmd);
	if (result < 0) {
		fail_io(cmd, result, false);
		return;
	}
	scsi_cmd_good(cmd);
}

static void write_start(void *arg)
{
	struct scsi_cmd *cmd = arg;
	struct lu *lu = cmd->lu;
	struct cdb_rw rw;
	uint64_t blocks;

	decode(cmd, &rw);
	blocks = data_out_blocks(cmd, rw.blocks);
	if (blocks == 0 || cmd->aborted) {
		range_unlock_shared(cmd);
		scsi_cmd_good(cmd);
		return;
	}
	scsi_cmd_io(cmd, BS_OP_WRITE, blocks_to_bytes(lu, rw.lba), blocks_to_bytes(lu, blocks),
		    cmd->buf, write_through(lu, rw.fua), write_done);
}

static void sbc_write(struct scsi_cmd *cmd)
{
	struct cdb_rw rw;
	uint64_t blocks;
	int rc;

	cmd->core_step = 0;
	decode(cmd, &rw);
	if (!check_transfer(cmd, &rw))
		return;
	cmd->transfer_len = (uint32_t)blocks_to_bytes(cmd->lu, rw.blocks);
	/* Only the whole blocks that arrived are written (see the top). */
	blocks = data_out_blocks(cmd, rw.blocks);
	if (blocks == 0) {
		scsi_cmd_good(cmd);
		return;
	}
	rc = range_lock_shared(cmd, rw.lba, blocks, write_start);
	if (rc < 0)
		fail_no_memory(cmd);
	else if (rc == 1)
		write_start(cmd);
}

/* Once the range lock is held: read the addressed blocks into a scratch
 * buffer, then done() compares or merges (VERIFY, ORWRITE, COMPARE AND
 * WRITE). */
static void read_locked_range(struct scsi_cmd *cmd, void (*done)(struct scsi_cmd *cmd, int result))
{
	struct sbc_ctx *ctx = ctx_of(cmd);
	uint64_t bytes = blocks_to_bytes(cmd->lu, ctx->blocks);

	if (cmd->aborted) {
		ctx_aborted(cmd);
		return;
	}
	ctx->scratch = alloc_io_buffer(bytes);
	if (!ctx->scratch) {
		ctx_fail_no_memory(cmd);
		return;
	}
	scsi_cmd_io(cmd, BS_OP_READ, blocks_to_bytes(cmd->lu, ctx->rw.lba), bytes, ctx->scratch,
		    false, done);
}

/* --- VERIFY(10/12/16) (SBC-3 5.33-5.35) --------------------------------- */

static void verify_read_done(struct scsi_cmd *cmd, int result)
{
	struct sbc_ctx *ctx = ctx_of(cmd);
	uint32_t bs = cmd->lu->block_size;
	uint64_t offset;

	if (result < 0) {
		ctx_fail_io(cmd, result, true);
		return;
	}
	if (ctx->rw.bytchk == 1) {
		/* Compare with the Data-Out blocks that arrived. */
		uint64_t len = blocks_to_bytes(cmd->lu, data_out_blocks(cmd, ctx->blocks));

		if (first_difference(cmd->buf, ctx->scratch, len, &offset)) {
			ctx_end(cmd);
			fail_miscompare(cmd, offset);
			return;
		}
	} else if (ctx->rw.bytchk == 3 && cmd->data_out_len >= bs) {
		/* BYTCHK 11b: one block of Data-Out against every block. */
		for (uint64_t i = 0; i < ctx->blocks; i++) {
			if (first_difference(cmd->buf, ctx->scratch + i * bs, bs, &offset)) {
				ctx_end(cmd);
				fail_miscompare(cmd, offset);
				return;
			}
		}
	}
	ctx_good(cmd);
}

static void verify_start(void *arg)
{
	read_locked_range(arg, verify_read_done);
}

static void sbc_verify(struct scsi_cmd *cmd)
{
	struct sbc_ctx *ctx;
	struct cdb_rw rw;

	cmd->core_step = 0;
	decode(cmd, &rw);
	if (rw.protect) {
		scsi_invalid_cdb_field(cmd, 1, 7);
		return;
	}
	if (rw.bytchk == 2) {   /* SBC-3 table 60: 10b is reserved */
		scsi_invalid_cdb_field(cmd, 1, 2);
		return;
	}
	if (!check_transfer(cmd, &rw))
		return;
	if (rw.bytchk == 1)
		cmd->transfer_len = (uint32_t)blocks_to_bytes(cmd->lu, rw.blocks);
	else if (rw.bytchk == 3)
		cmd->transfer_len = cmd->lu->block_size;
	else
		cmd->transfer_len = 0;
	if (rw.blocks == 0) {
		scsi_cmd_good(cmd);
		return;
	}
	ctx = ctx_new(cmd);
	if (!ctx) {
		fail_no_memory(cmd);
		return;
	}
	/* BYTCHK 0 still reads the blocks: the medium must be readable. */
	ctx->blocks = rw.blocks;
	lock_shared_then(cmd, rw.lba, rw.blocks, verify_start);
}

/* Set-up shared by the read-modify-write commands (WRITE AND VERIFY,
 * ORWRITE): the Data-Out blocks that arrived, a context, then start() once
 * the exclusive range lock is held. */
static void start_exclusive(struct scsi_cmd *cmd, const struct cdb_rw *rw, void (*start)(void *))
{
	struct sbc_ctx *ctx;
	uint64_t blocks;

	cmd->transfer_len = (uint32_t)blocks_to_bytes(cmd->lu, rw->blocks);
	blocks = data_out_blocks(cmd, rw->blocks);
	if (blocks == 0) {
		scsi_cmd_good(cmd);
		return;
	}
	ctx = ctx_new(cmd);
	if (!ctx) {
		fail_no_memory(cmd);
		return;
	}
	ctx->blocks = blocks;
	lock_exclusive_then(cmd, rw->lba, blocks, start);
}

/* The final write of a read-modify-write command (ORWRITE, COMPARE AND
 * WRITE) completed. */
static void rmw_write_done(struct scsi_cmd *cmd, int result)
{
	if (result < 0) {
		ctx_fail_io(cmd, result, false);
		return;
	}
	ctx_good(cmd);
}

/* --- WRITE AND VERIFY(10/12/16) (SBC-3 5.41-5.43) ------------------------
 * Write durably, read back, compare (BYTCHK 1) or only check the read
 * (BYTCHK 0). Exclusive: a concurrent write would fake a miscompare. */

static void write_verify_read_done(struct scsi_cmd *cmd, int result)
{
	struct sbc_ctx *ctx = ctx_of(cmd);
	uint64_t offset;

	if (result < 0) {
		ctx_fail_io(cmd, result, true);
		return;
	}
	if (ctx->rw.bytchk == 1 &&
	    first_difference(cmd->buf, ctx->scratch, blocks_to_bytes(cmd->lu, ctx->blocks),
			     &offset)) {
		ctx_end(cmd);
		fail_miscompare(cmd, offset);
		return;
	}
	ctx_good(cmd);
}

static void write_verify_write_done(struct scsi_cmd *cmd, int result)
{
	struct sbc_ctx *ctx = ctx_of(cmd);
	uint64_t bytes = blocks_to_bytes(cmd->lu, ctx->blocks);

	if (result < 0) {
		ctx_fail_io(cmd, result, false);
		return;
	}
	ctx->scratch = alloc_io_buffer(bytes);
	if (!ctx->scratch) {
		ctx_fail_no_memory(cmd);
		return;
	}
	scsi_cmd_io(cmd, BS_OP_READ, blocks_to_bytes(cmd->lu, ctx->rw.lba), bytes, ctx->scratch,
		    false, write_verify_read_done);
}

static void write_verify_start(void *arg)
{
	struct scsi_cmd *cmd = arg;
	struct sbc_ctx *ctx = ctx_of(cmd);

	if (cmd->aborted) {
		ctx_aborted(cmd);
		return;
	}
	scsi_cmd_io(cmd, BS_OP_WRITE, blocks_to_bytes(cmd->lu, ctx->rw.lba),
		    blocks_to_bytes(cmd->lu, ctx->blocks), cmd->buf, true, write_verify_write_done);
}

static void sbc_write_verify(struct scsi_cmd *cmd)
{
	struct cdb_rw rw;

	cmd->core_step = 0;
	decode(cmd, &rw);
	if (rw.protect) {
		scsi_invalid_cdb_field(cmd, 1, 7);
		return;
	}
	if (rw.bytchk > 1) {    /* SBC-3 5.41: 10b and 11b are reserved */
		scsi_invalid_cdb_field(cmd, 1, 2);
		return;
	}
	if (!check_transfer(cmd, &rw))
		return;
	start_exclusive(cmd, &rw, write_verify_start);
}

/* --- ORWRITE(16) (SBC-3 5.7): read, OR the Data-Out in, write back ------ */

static void orwrite_read_done(struct scsi_cmd *cmd, int result)
{
	struct sbc_ctx *ctx = ctx_of(cmd);
	uint64_t bytes = blocks_to_bytes(cmd->lu, ctx->blocks);

	if (result < 0) {
		ctx_fail_io(cmd, result, true);
		return;
	}
	for (uint64_t i = 0; i < bytes; i++)
		ctx->scratch[i] |= cmd->buf[i];
	scsi_cmd_io(cmd, BS_OP_WRITE, blocks_to_bytes(cmd->lu, ctx->rw.lba), bytes, ctx->scratch,
		    write_through(cmd->lu, ctx->rw.fua), rmw_write_done);
}

static void orwrite_start(void *arg)
{
	read_locked_range(arg, orwrite_read_done);
}

static void sbc_orwrite(struct scsi_cmd *cmd)
{
	struct cdb_rw rw;

	cmd->core_step = 0;
	decode(cmd, &rw);
	if (!check_transfer(cmd, &rw))
		return;
	start_exclusive(cmd, &rw, orwrite_start);
}

/* --- COMPARE AND WRITE (SBC-3 5.2) -------------------------------------- */

static void caw_read_done(struct scsi_cmd *cmd, int result)
{
	struct sbc_ctx *ctx = ctx_of(cmd);
	uint64_t bytes = blocks_to_bytes(cmd->lu, ctx->blocks);
	uint64_t offset;

	if (result < 0) {
		ctx_fail_io(cmd, result, true);
		return;
	}
	/* The first half of the Data-Out is the verify data; a mismatch
	 * leaves the medium untouched. */
	if (first_difference(cmd->buf, ctx->scratch, bytes, &offset)) {
		ctx_end(cmd);
		fail_miscompare(cmd, offset);
		return;
	}
	scsi_cmd_io(cmd, BS_OP_WRITE, blocks_to_bytes(cmd->lu, ctx->rw.lba), bytes,
		    cmd->buf + bytes, write_through(cmd->lu, ctx->rw.fua), rmw_write_done);
}

static void caw_start(void *arg)
{
	read_locked_range(arg, caw_read_done);
}

static void caw_in_store_done(struct scsi_cmd *cmd, int result)
{
	if (result == -EILSEQ) {
		ctx_end(cmd);
		fail_miscompare(cmd, cmd->io.miscompare_offset);
		return;
	}
	rmw_write_done(cmd, result);
}

/* The store compares and writes in one operation, atomic with respect to
 * every gateway's commands on the image (SBC-3 5.2), so no range lock is
 * taken here or across the cluster. */
static void caw_in_store(struct scsi_cmd *cmd)
{
	struct sbc_ctx *ctx = ctx_of(cmd);
	uint64_t bytes = blocks_to_bytes(cmd->lu, ctx->blocks);
	struct bs_io *io;

	io = scsi_cmd_io_prepare(cmd, BS_OP_COMPARE_AND_WRITE, blocks_to_bytes(cmd->lu, ctx->rw.lba),
				 bytes, cmd->buf + bytes, write_through(cmd->lu, ctx->rw.fua),
				 caw_in_store_done);
	io->cmp_buf = cmd->buf;
	scsi_cmd_io_submit(cmd);
}

/* The cluster-wide claim could not be taken. */
static void caw_fail_cluster_lock(struct scsi_cmd *cmd, int result)
{
	ctx_end(cmd);
	if (result == -EAGAIN) {
		/* This node left the quorate cluster: its port group is in
		 * transition (SPC-4 5.16.2.6), as alua_check() answers. */
		scsi_check_condition(cmd, SK_NOT_READY, ASC_LU_NOT_ACCESSIBLE_TRANSITIONING);
	} else if (result == -ECANCELED) {
		/* The LU was removed while the claim waited (SPC-4 4.5.2:
		 * the logical unit is no longer there). */
		scsi_check_condition(cmd, SK_ILLEGAL_REQUEST, ASC_LU_NOT_SUPPORTED);
	} else if (result == -ENOMEM) {
		cmd->status = SAM_STAT_BUSY;
		cmd->sense_len = 0;
		scsi_cmd_complete(cmd);
	} else {
		scsi_check_condition(cmd, SK_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
	}
}

/* Holding the cluster-wide claim: now this node's own exclusive claim. */
static void caw_cluster_locked(void *arg, int result)
{
	struct scsi_cmd *cmd = arg;
	struct sbc_ctx *ctx = ctx_of(cmd);

	if (result < 0) {
		caw_fail_cluster_lock(cmd, result);
		return;
	}
	ctx->cluster_locked = true;
	lock_exclusive_then(cmd, ctx->rw.lba, ctx->blocks, caw_start);
}

static void sbc_compare_and_write(struct scsi_cmd *cmd)
{
	struct sbc_ctx *ctx;
	struct cdb_rw rw;

	cmd->core_step = 0;
	decode(cmd, &rw);
	if (rw.protect) {
		scsi_invalid_cdb_field(cmd, 1, 7);
		return;
	}
	if (cdb_lba_out_of_range(rw.lba, rw.blocks, cmd->lu->num_blocks)) {
		fail_lba_out_of_range(cmd);
		return;
	}
	if (rw.blocks > SBC_MAX_CAW_BLOCKS) {
		scsi_invalid_cdb_field(cmd, 13, -1);
		return;
	}
	cmd->transfer_len = (uint32_t)blocks_to_bytes(cmd->lu, 2ull * rw.blocks);
	/* Verify data and write data, one block each per LBA: anything else
	 * cannot be split correctly. This comes first: Data-Out with NUMBER
	 * OF LOGICAL BLOCKS 0 is what an initiator sends when it meant 256
	 * blocks (the field is one byte), above MAXIMUM COMPARE AND WRITE
	 * LENGTH, and must not pass as a successful no-op. */
	if (cmd->data_out_len != cmd->transfer_len) {
		scsi_invalid_cdb_field(cmd, 13, -1);
		return;
	}
	if (rw.blocks == 0) {   /* SBC-3 5.2: not an error, nothing happens */
		scsi_cmd_good(cmd);
		return;
	}
	ctx = ctx_new(cmd);
	if (!ctx) {
		fail_no_memory(cmd);
		return;
	}
	ctx->blocks = rw.blocks;
	if (backstore_supports(cmd->lu, BS_OP_COMPARE_AND_WRITE, blocks_to_bytes(cmd->lu, rw.lba),
			       blocks_to_bytes(cmd->lu, rw.blocks))) {
		caw_in_store(cmd);
		return;
	}
	/* Several nodes export the LU: the claim is first taken cluster-wide
	 * (cluster_range_lock.h), then on this node. Always in that order, so
	 * no COMPARE AND WRITE holds one while waiting for the other's holder. */
	if (cluster_range_lock_needed(cmd->lu->target->gw)) {
		int rc = cluster_range_lock(cmd->lu, &ctx->cluster_lock, rw.lba, rw.blocks,
					    caw_cluster_locked, cmd);

		if (rc < 0)
			caw_fail_cluster_lock(cmd, rc);
		return;
	}
	lock_exclusive_then(cmd, rw.lba, rw.blocks, caw_start);
}

/* --- WRITE ATOMIC(16) (SBC-4 5.48) ---------------------------------------
 * All or nothing with respect to other commands (the exclusive claim);
 * the backing store gives no power-loss atomicity beyond its own. */

static void atomic_write_done(struct scsi_cmd *cmd, int result)
{
	if (result < 0) {
		ctx_fail_io(cmd, result, false);
		return;
	}
	ctx_good(cmd);
}

static void atomic_start(void *arg)
{
	struct scsi_cmd *cmd = arg;
	struct sbc_ctx *ctx = ctx_of(cmd);

	if (cmd->aborted) {
		ctx_aborted(cmd);
		return;
	}
	scsi_cmd_io(cmd, BS_OP_WRITE, blocks_to_bytes(cmd->lu, ctx->rw.lba),
		    blocks_to_bytes(cmd->lu, ctx->blocks), cmd->buf,
		    write_through(cmd->lu, ctx->rw.fua), atomic_write_done);
}

static void sbc_write_atomic(struct scsi_cmd *cmd)
{
	struct sbc_ctx *ctx;
	struct cdb_rw rw;

	cmd->core_step = 0;
	decode(cmd, &rw);
	if (rw.protect) {
		scsi_invalid_cdb_field(cmd, 1, 7);
		return;
	}
	if (cdb_lba_out_of_range(rw.lba, rw.blocks, cmd->lu->num_blocks)) {
		fail_lba_out_of_range(cmd);
		return;
	}
	cmd->transfer_len = (uint32_t)blocks_to_bytes(cmd->lu, rw.blocks);
	if (rw.blocks == 0) {
		scsi_cmd_good(cmd);
		return;
	}
	/* SBC-4 5.48: beyond the atomic limits is INVALID FIELD IN CDB. */
	if (rw.blocks > SBC_MAX_ATOMIC_BLOCKS || rw.blocks % SBC_ATOMIC_GRANULARITY_BLOCKS) {
		scsi_invalid_cdb_field(cmd, 12, -1);
		return;
	}
	if (rw.lba % SBC_ATOMIC_ALIGNMENT_BLOCKS) {
		scsi_invalid_cdb_field(cmd, 2, -1);
		return;
	}
	if (cmd->data_out_len < cmd->transfer_len) {   /* cannot write half */
		scsi_invalid_cdb_field(cmd, 12, -1);
		return;
	}
	ctx = ctx_new(cmd);
	if (!ctx) {
		fail_no_memory(cmd);
		return;
	}
	ctx->blocks = rw.blocks;
	lock_exclusive_then(cmd, rw.lba, rw.blocks, atomic_start);
}

/* --- WRITE SAME(10/16) (SBC-3 5.43, 5.44) -------------------------------- */

static void chunks_next(struct scsi_cmd *cmd);

static void chunks_done(struct scsi_cmd *cmd, int result)
{
	if (result < 0) {
		ctx_fail_io(cmd, result, false);
		return;
	}
	chunks_next(cmd);
}

/* Fill [next_lba, end_lba) chunk by chunk with ctx->op, then flush if the
 * write cache is off (UNMAP and WRITE ZEROES carry no FUA). */
static void chunks_next(struct scsi_cmd *cmd)
{
	struct sbc_ctx *ctx = ctx_of(cmd);
	struct lu *lu = cmd->lu;
	uint64_t blocks;

	if (cmd->aborted) {
		ctx_aborted(cmd);
		return;
	}
	if (ctx->next_lba < ctx->end_lba) {
		blocks = MIN(ctx->end_lba - ctx->next_lba, (uint64_t)ctx->chunk_blocks);
		struct bs_io *io;

		io = scsi_cmd_io_prepare(cmd, ctx->op, blocks_to_bytes(lu, ctx->next_lba),
					 blocks_to_bytes(lu, blocks),
					 ctx->op == BS_OP_WRITE ? ctx->scratch :
					 ctx->op == BS_OP_WRITE_SAME ? cmd->buf : NULL,
					 ctx->fua, chunks_done);
		if (ctx->op == BS_OP_WRITE_SAME)
			io->pattern_len = lu->block_size;
		ctx->next_lba += blocks;
		scsi_cmd_io_submit(cmd);
		return;
	}
	if (ctx->flush_after) {
		ctx->flush_after = false;
		scsi_cmd_io(cmd, BS_OP_FLUSH, 0, 0, NULL, false, chunks_done);
		return;
	}
	ctx_good(cmd);
}

static void write_same_start(void *arg)
{
	chunks_next(arg);
}

static void sbc_write_same(struct scsi_cmd *cmd)
{
	struct lu *lu = cmd->lu;
	struct sbc_ctx *ctx;
	struct cdb_rw rw;
	uint64_t blocks, chunk_bytes;
	bool zeros;

	cmd->core_step = 0;
	decode(cmd, &rw);
	if (rw.protect) {
		scsi_invalid_cdb_field(cmd, 1, 7);
		return;
	}
	/* SBC-3 5.44: ANCHOR needs ANC_SUP, which we do not claim. */
	if (rw.anchor) {
		scsi_invalid_cdb_field(cmd, 1, 4);
		return;
	}
	/* UNMAP needs LBPWS/LBPWS10, which only thin LUs claim. */
	if (rw.unmap && !lu->spec.thin) {
		scsi_invalid_cdb_field(cmd, 1, 3);
		return;
	}
	blocks = rw.blocks;
	if (blocks == 0) {
		/* WSNZ = 0: zero blocks means through the last LBA. */
		if (rw.lba >= lu->num_blocks) {
			fail_lba_out_of_range(cmd);
			return;
		}
		blocks = lu->num_blocks - rw.lba;
	}
	if (cdb_lba_out_of_range(rw.lba, blocks, lu->num_blocks)) {
		fail_lba_out_of_range(cmd);
		return;
	}
	if (blocks > SBC_MAX_WRITE_SAME_BLOCKS) {
		scsi_invalid_cdb_field(cmd, rw.blocks_byte, -1);
		return;
	}
	/* The Data-Out is exactly one block, or nothing with NDOB. */
	cmd->transfer_len = rw.ndob ? 0 : lu->block_size;
	if (!rw.ndob && cmd->data_out_len != lu->block_size) {
		scsi_invalid_cdb_field(cmd, rw.blocks_byte, -1);
		return;
	}
	ctx = ctx_new(cmd);
	if (!ctx) {
		fail_no_memory(cmd);
		return;
	}
	zeros = rw.ndob || mem_all_zero(cmd->buf, lu->block_size);
	ctx->next_lba = rw.lba;
	ctx->end_lba = rw.lba + blocks;
	ctx->chunk_blocks = SBC_CHUNK_BYTES >> lu->block_shift;
	if (rw.unmap) {
		/* SBC-3 5.44 (ANCHOR 0, UNMAP 1): a thin LU deallocates every
		 * LBA, whatever the Data-Out holds; they then read as zeros
		 * (LBPRZ 1). Unaligned ends of the range get zeros. */
		ctx->op = BS_OP_UNMAP;
		ctx->chunk_blocks = UINT32_MAX;
		ctx->flush_after = !lu->mode.wce;
	} else if (zeros) {
		ctx->op = BS_OP_WRITE_ZEROES;
		ctx->chunk_blocks = UINT32_MAX;
		ctx->flush_after = !lu->mode.wce;
	} else if (backstore_supports(lu, BS_OP_WRITE_SAME, blocks_to_bytes(lu, rw.lba),
				      blocks_to_bytes(lu, blocks))) {
		/* The store repeats the block itself (rbd: writesame). */
		ctx->op = BS_OP_WRITE_SAME;
		ctx->fua = write_through(lu, false);
		ctx->chunk_blocks = UINT32_MAX;
	} else {
		ctx->op = BS_OP_WRITE;
		ctx->fua = write_through(lu, false);
		chunk_bytes = blocks_to_bytes(lu, MIN(blocks, (uint64_t)ctx->chunk_blocks));
		ctx->scratch = alloc_io_buffer(chunk_bytes);
		if (!ctx->scratch) {
			ctx_fail_no_memory(cmd);
			return;
		}
		for (uint64_t off = 0; off < chunk_bytes; off += lu->block_size)
			memcpy(ctx->scratch + off, cmd->buf, lu->block_size);
	}
	lock_shared_then(cmd, rw.lba, blocks, write_same_start);
}

/* --- UNMAP (SBC-3 5.28) --------------------------------------------------- */

static const uint8_t *unmap_descriptor(const struct scsi_cmd *cmd, unsigned i)
{
	return cmd->buf + 8 + 16 * i;
}

static void unmap_next(struct scsi_cmd *cmd);

static void unmap_done(struct scsi_cmd *cmd, int result)
{
	if (result < 0) {
		ctx_fail_io(cmd, result, false);
		return;
	}
	unmap_next(cmd);
}

static void unmap_next(struct scsi_cmd *cmd)
{
	struct sbc_ctx *ctx = ctx_of(cmd);
	struct lu *lu = cmd->lu;

	if (cmd->aborted) {
		ctx_aborted(cmd);
		return;
	}
	while (ctx->next_desc < ctx->desc_count) {
		const uint8_t *d = unmap_descriptor(cmd, ctx->next_desc++);
		uint64_t lba = get_be64(d);
		uint32_t count = get_be32(d + 8);

		if (count == 0)
			continue;
		scsi_cmd_io(cmd, BS_OP_UNMAP, blocks_to_bytes(lu, lba), blocks_to_bytes(lu, count),
			    NULL, false, unmap_done);
		return;
	}
	if (ctx->flush_after) {
		ctx->flush_after = false;
		scsi_cmd_io(cmd, BS_OP_FLUSH, 0, 0, NULL, false, unmap_done);
		return;
	}
	ctx_good(cmd);
}

static void unmap_start(void *arg)
{
	unmap_next(arg);
}

static void sbc_unmap(struct scsi_cmd *cmd)
{
	struct lu *lu = cmd->lu;
	uint32_t param_len = get_be16(cmd->cdb + 7);
	uint32_t avail, desc_len;
	uint64_t total = 0, first = UINT64_MAX, end = 0;
	struct sbc_ctx *ctx;
	unsigned count;

	cmd->core_step = 0;
	/* SBC-3 5.28: UNMAP exists only with LBPU, which only thin LUs have. */
	if (!lu->spec.thin) {
		scsi_check_condition(cmd, SK_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
		return;
	}
	if (cmd->cdb[1] & 0x01) {   /* ANCHOR without ANC_SUP */
		scsi_invalid_cdb_field(cmd, 1, 0);
		return;
	}
	cmd->transfer_len = param_len;
	if (param_len == 0) {       /* no parameter data: nothing to do */
		scsi_cmd_good(cmd);
		return;
	}
	avail = MIN(param_len, cmd->data_out_len);
	if (avail < 8) {
		scsi_check_condition(cmd, SK_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERROR);
		return;
	}
	/* A partial last descriptor is ignored (SBC-3 5.28.2). */
	desc_len = MIN((uint32_t)get_be16(cmd->buf + 2), avail - 8);
	count = desc_len / 16;
	if (count > SBC_MAX_UNMAP_DESCRIPTORS) {
		scsi_invalid_param_field(cmd, 2, -1);
		return;
	}
	/* Check every descriptor before deallocating anything. */
	for (unsigned i = 0; i < count; i++) {
		const uint8_t *d = unmap_descriptor(cmd, i);
		uint64_t lba = get_be64(d);
		uint32_t n = get_be32(d + 8);

		if (cdb_lba_out_of_range(lba, n, lu->num_blocks)) {
			fail_lba_out_of_range(cmd);
			return;
		}
		total += n;
		if (n) {
			first = MIN(first, lba);
			end = MAX(end, lba + n);
		}
	}
	if (total > SBC_MAX_UNMAP_LBA_COUNT) {
		scsi_invalid_param_field(cmd, 8 + 8, -1);
		return;
	}
	if (total == 0) {
		scsi_cmd_good(cmd);
		return;
	}
	ctx = ctx_new(cmd);
	if (!ctx) {
		fail_no_memory(cmd);
		return;
	}
	ctx->desc_count = count;
	ctx->flush_after = !lu->mode.wce;
	lock_shared_then(cmd, first, end - first, unmap_start);
}

/* --- PRE-FETCH(10/16) (SBC-3 5.8, 5.9) -------------------------------------
 * The backing store's own cache does the prefetching we could: there is
 * no cache of ours to load, so the answer is GOOD (not CONDITION MET). */

static void sbc_pre_fetch(struct scsi_cmd *cmd)
{
	struct cdb_rw rw;

	decode(cmd, &rw);
	if (cdb_lba_out_of_range(rw.lba, rw.blocks, cmd->lu->num_blocks)) {
		fail_lba_out_of_range(cmd);
		return;
	}
	scsi_cmd_good(cmd);
}

/* --- SYNCHRONIZE CACHE(10/16) (SBC-3 5.26, 5.27) -------------------------- */

/* IMMED = 1: status now, the flush continues on its own request. */
struct background_flush {
	struct bs_io io;
	struct lu *lu;
};

static void background_flush_done(struct bs_io *io)
{
	struct background_flush *bf = io->arg;

	if (io->result < 0)
		log_warn("%s LUN %llu: SYNCHRONIZE CACHE (IMMED) failed: %s",
			 bf->lu->target->iqn, (unsigned long long)bf->lu->lun,
			 strerror(-io->result));
	free(bf);
}

static void sync_cache_done(struct scsi_cmd *cmd, int result)
{
	if (result < 0) {
		fail_io(cmd, result, false);
		return;
	}
	scsi_cmd_good(cmd);
}

static void sbc_sync_cache(struct scsi_cmd *cmd)
{
	struct lu *lu = cmd->lu;
	struct background_flush *bf;
	struct cdb_rw rw;

	decode(cmd, &rw);
	/* NUMBER OF LOGICAL BLOCKS 0 means through the last LBA. */
	if (cdb_lba_out_of_range(rw.lba, rw.blocks, lu->num_blocks)) {
		fail_lba_out_of_range(cmd);
		return;
	}
	/* The whole backing is flushed: the range only narrows what must be. */
	if (rw.immed) {
		bf = calloc(1, sizeof(*bf));
		if (bf) {
			bf->lu = lu;
			bf->io.op = BS_OP_FLUSH;
			bf->io.done = background_flush_done;
			bf->io.arg = bf;
			lu->bs_ops->submit(lu, &bf->io);
			scsi_cmd_good(cmd);
			return;
		}
		/* No memory for the background request: flush synchronously. */
	}
	scsi_cmd_io(cmd, BS_OP_FLUSH, 0, 0, NULL, false, sync_cache_done);
}

/* --- READ CAPACITY(10/16) (SBC-3 5.15, 5.16) ------------------------------- */

uint8_t sbc_lbppb_exponent(const struct lu *lu)
{
	/* One logical block per physical block; hole punching handles
	 * 512-byte granularity correctly (partial pages are zeroed). The
	 * backing's 4 KiB pages would justify 3 for 512-byte LUs, but no
	 * value above 0 passes libiscsi 1.19's GetLBAStatus.UnmapSingle: its
	 * second loop asks for the status at LBA i + 1 and wants the first
	 * descriptor to start at i + LBPPB, while SBC-3 5.5 (SBC-4 5.6.2.3)
	 * makes the first descriptor start at the STARTING LOGICAL BLOCK
	 * ADDRESS. So the default is 0; physblock= in the LU spec reports
	 * a larger physical block for initiators that align to it. */
	uint8_t exp = 0;

	while (lu->spec.phys_block_size > (lu->block_size << exp) && exp < 15)
		exp++;
	return exp;
}

static void data_in_or_fail(struct scsi_cmd *cmd, const void *data, uint32_t len,
			    uint32_t alloc_len)
{
	if (scsi_cmd_data_in(cmd, data, len, alloc_len) < 0) {
		fail_no_memory(cmd);
		return;
	}
	scsi_cmd_good(cmd);
}

static void sbc_read_capacity_10(struct scsi_cmd *cmd)
{
	struct lu *lu = cmd->lu;
	uint8_t data[8];
	uint64_t last = lu->num_blocks - 1;

	/* SBC-3 5.15: with PMI = 0 the LBA field must be zero. */
	if (!(cmd->cdb[8] & 0x01) && get_be32(cmd->cdb + 2)) {
		scsi_invalid_cdb_field(cmd, 2, -1);
		return;
	}
	/* Too big for 32 bits: FFFFFFFFh sends the initiator to (16). */
	put_be32(data, last > 0xfffffffeull ? 0xffffffffu : (uint32_t)last);
	put_be32(data + 4, lu->block_size);
	data_in_or_fail(cmd, data, sizeof(data), sizeof(data));
}

static void sbc_read_capacity_16(struct scsi_cmd *cmd)
{
	struct lu *lu = cmd->lu;
	uint8_t data[32];

	if (!(cmd->cdb[14] & 0x01) && get_be64(cmd->cdb + 2)) {
		scsi_invalid_cdb_field(cmd, 2, -1);
		return;
	}
	memset(data, 0, sizeof(data));
	put_be64(data, lu->num_blocks - 1);
	put_be32(data + 8, lu->block_size);
	/* byte 12: P_TYPE, PROT_EN = 0 (no protection information) */
	data[13] = sbc_lbppb_exponent(lu) & 0x0f;
	/* byte 14: LBPME, LBPRZ (SBC-3 5.16.2); LOWEST ALIGNED LBA = 0 */
	if (lu->spec.thin)
		data[14] = 0x80 | 0x40;
	data_in_or_fail(cmd, data, sizeof(data), get_be32(cmd->cdb + 10));
}

/* --- GET LBA STATUS (SBC-3 5.5) ---------------------------------------------- */

enum { LBA_MAPPED = 0, LBA_DEALLOCATED = 1 };

/* One run of blocks from lba: mapped or not for run_bytes (from the
 * backstore), or everything mapped to the end when the backstore cannot
 * tell (known false). Appended to the descriptors in data (n of them),
 * merged with the previous one when the state is the same (a partly
 * mapped block split a run). Returns the blocks it covered. */
static uint64_t lba_status_add(const struct lu *lu, uint8_t *data, unsigned *n, uint64_t lba,
			       bool known, bool mapped, uint64_t run_bytes)
{
	uint64_t run_blocks = lu->num_blocks - lba;
	uint8_t status = LBA_MAPPED;
	uint8_t *d = data + 8 + 16 * *n;

	if (known) {
		/* A block partly mapped counts as mapped. */
		if (mapped)
			run_blocks = (run_bytes + lu->block_size - 1) >> lu->block_shift;
		else
			run_blocks = run_bytes >> lu->block_shift;
		if (run_blocks == 0) {
			mapped = true;
			run_blocks = 1;
		}
		run_blocks = MIN(run_blocks, lu->num_blocks - lba);
		status = mapped ? LBA_MAPPED : LBA_DEALLOCATED;
	}
	run_blocks = MIN(run_blocks, (uint64_t)UINT32_MAX);
	if (*n > 0 && (data[8 + 16 * (*n - 1) + 12] & 0x0f) == status &&
	    (uint64_t)get_be32(data + 8 + 16 * (*n - 1) + 8) + run_blocks <= UINT32_MAX) {
		uint8_t *prev = data + 8 + 16 * (*n - 1);

		put_be32(prev + 8, get_be32(prev + 8) + (uint32_t)run_blocks);
	} else {
		put_be64(d, lba);
		put_be32(d + 8, (uint32_t)run_blocks);
		d[12] = status;
		(*n)++;
	}
	return run_blocks;
}

#define LBA_STATUS_DATA_MAX (8 + 16 * SBC_LBA_STATUS_MAX_DESCRIPTORS)

/* Asking the backstore run by run (a network store answers off-loop):
 * ctx->scratch holds the parameter data, next_lba the next LBA to ask
 * about, next_desc the descriptors so far, desc_count the most wanted,
 * chunk_blocks the allocation length. */
static void lba_status_next(struct scsi_cmd *cmd);

static void lba_status_run_done(struct scsi_cmd *cmd, int result)
{
	struct sbc_ctx *ctx = ctx_of(cmd);

	if (result < 0) {
		ctx_fail_io(cmd, result, true);
		return;
	}
	ctx->next_lba += lba_status_add(cmd->lu, ctx->scratch, &ctx->next_desc, ctx->next_lba, true,
					cmd->io.mapped, cmd->io.map_length);
	lba_status_next(cmd);
}

static void lba_status_next(struct scsi_cmd *cmd)
{
	struct sbc_ctx *ctx = ctx_of(cmd);
	struct lu *lu = cmd->lu;
	uint8_t data[LBA_STATUS_DATA_MAX];
	unsigned n = ctx->next_desc;

	if (cmd->aborted) {
		ctx_aborted(cmd);
		return;
	}
	if (n < ctx->desc_count && ctx->next_lba < lu->num_blocks) {
		scsi_cmd_io(cmd, BS_OP_MAP_STATUS, blocks_to_bytes(lu, ctx->next_lba),
			    blocks_to_bytes(lu, lu->num_blocks - ctx->next_lba), NULL, false,
			    lba_status_run_done);
		return;
	}
	memcpy(data, ctx->scratch, sizeof(data));
	ctx_end(cmd);
	put_be32(data, 4 + 16 * n);    /* PARAMETER DATA LENGTH */
	data_in_or_fail(cmd, data, 8 + 16 * n, get_be32(cmd->cdb + 10));
}

static void sbc_get_lba_status(struct scsi_cmd *cmd)
{
	struct lu *lu = cmd->lu;
	uint64_t lba = get_be64(cmd->cdb + 2);
	uint32_t alloc_len = get_be32(cmd->cdb + 10);
	uint8_t data[LBA_STATUS_DATA_MAX];
	unsigned max_desc, n = 0;

	if (lba >= lu->num_blocks) {
		fail_lba_out_of_range(cmd);
		return;
	}
	/* As many descriptors as the allocation length holds, at least one
	 * (SPC-4 4.2.5.6 truncates the rest). */
	max_desc = alloc_len > 8 ? (alloc_len - 8) / 16 : 0;
	max_desc = MAX(1u, MIN(max_desc, SBC_LBA_STATUS_MAX_DESCRIPTORS));
	memset(data, 0, sizeof(data));

	if (lu->spec.thin && backstore_supports(lu, BS_OP_MAP_STATUS, 0, 0)) {
		struct sbc_ctx *ctx = ctx_new(cmd);

		if (ctx)
			ctx->scratch = calloc(1, LBA_STATUS_DATA_MAX);
		if (!ctx || !ctx->scratch) {
			if (ctx)
				ctx_end(cmd);
			fail_no_memory(cmd);
			return;
		}
		ctx->next_lba = lba;
		ctx->desc_count = max_desc;
		lba_status_next(cmd);
		return;
	}
	while (n < max_desc && lba < lu->num_blocks) {
		bool mapped = true, known;
		uint64_t run_bytes = 0;

		known = lu->spec.thin && lu->bs_ops->map_status &&
			lu->bs_ops->map_status(lu, blocks_to_bytes(lu, lba), &mapped, &run_bytes) == 0;
		lba += lba_status_add(lu, data, &n, lba, known, mapped, run_bytes);
	}
	put_be32(data, 4 + 16 * n);    /* PARAMETER DATA LENGTH */
	data_in_or_fail(cmd, data, 8 + 16 * n, alloc_len);
}

/* --- READ DEFECT DATA(10/12) (SBC-3 5.18, 5.19): empty lists ------------- */

static void sbc_read_defect_data_10(struct scsi_cmd *cmd)
{
	uint8_t data[4] = { 0 };

	/* PLISTV, GLISTV and the format as requested: both lists are valid
	 * and empty. */
	data[1] = cmd->cdb[2] & 0x1f;
	data_in_or_fail(cmd, data, sizeof(data), get_be16(cmd->cdb + 7));
}

static void sbc_read_defect_data_12(struct scsi_cmd *cmd)
{
	uint8_t data[8] = { 0 };

	data[1] = cmd->cdb[1] & 0x1f;
	data_in_or_fail(cmd, data, sizeof(data), get_be32(cmd->cdb + 6));
}

/* --- START STOP UNIT (SBC-3 5.25), PREVENT ALLOW MEDIUM REMOVAL (5.13) ---- */

static void start_stop_apply(struct scsi_cmd *cmd)
{
	bool loej = cmd->cdb[4] & 0x02;
	bool start = cmd->cdb[4] & 0x01;

	if (loej)
		cmd->lu->medium_loaded = start;
	scsi_cmd_good(cmd);
}

static void start_stop_flushed(struct scsi_cmd *cmd, int result)
{
	if (result < 0) {
		fail_io(cmd, result, false);
		return;
	}
	start_stop_apply(cmd);
}

static void sbc_start_stop_unit(struct scsi_cmd *cmd)
{
	struct lu *lu = cmd->lu;
	uint8_t power_condition = cmd->cdb[4] >> 4;
	bool no_flush = cmd->cdb[4] & 0x04;
	bool loej = cmd->cdb[4] & 0x02;
	bool start = cmd->cdb[4] & 0x01;

	/* A power condition other than START_VALID makes the device server
	 * ignore START and LOEJ; we have no power states to enter. */
	if (power_condition != 0) {
		scsi_cmd_good(cmd);
		return;
	}
	if (loej) {
		if (!lu->spec.removable) {
			scsi_invalid_cdb_field(cmd, 4, 1);
			return;
		}
		/* Loading and ejecting are both prevented (SBC-3 5.25). */
		if (lu->prevent_removal) {
			scsi_check_condition(cmd, SK_ILLEGAL_REQUEST, ASC_MEDIUM_REMOVAL_PREVENTED);
			return;
		}
	}
	/* Stopping writes the cache to the medium first unless NO_FLUSH.
	 * The LU itself stays ready: a virtual disk spins up at once, and
	 * initiators expect TEST UNIT READY to succeed after a plain STOP. */
	if (!start && !no_flush && lu->medium_loaded) {
		scsi_cmd_io(cmd, BS_OP_FLUSH, 0, 0, NULL, false, start_stop_flushed);
		return;
	}
	start_stop_apply(cmd);
}

/* SBC-3 5.13: removal stays prevented until every I_T nexus that asked
 * for it allows it again, is lost, or a reset ends it. */
static void prevent_holder_remove(struct lu *lu, uint64_t nexus_id)
{
	struct prevent_holder *h;

	if (!lu->sbc)
		return;
	TAILQ_FOREACH(h, &lu->sbc->prevent_holders, link) {
		if (h->nexus_id == nexus_id) {
			TAILQ_REMOVE(&lu->sbc->prevent_holders, h, link);
			free(h);
			break;
		}
	}
	lu->prevent_removal = !TAILQ_EMPTY(&lu->sbc->prevent_holders);
}

static void sbc_prevent_allow(struct scsi_cmd *cmd)
{
	struct lu *lu = cmd->lu;
	uint8_t prevent = cmd->cdb[4] & 0x03;
	struct sbc_lu_state *st;
	struct prevent_holder *h;

	if (prevent > 1) {          /* 10b and 11b are obsolete in SBC-3 */
		scsi_invalid_cdb_field(cmd, 4, 1);
		return;
	}
	if (prevent && !lu->spec.removable) {
		scsi_invalid_cdb_field(cmd, 4, 0);
		return;
	}
	if (!prevent) {
		prevent_holder_remove(lu, cmd->nexus->id);
		scsi_cmd_good(cmd);
		return;
	}
	st = lu_state(lu);
	if (!st) {
		fail_no_memory(cmd);
		return;
	}
	TAILQ_FOREACH(h, &st->prevent_holders, link)
		if (h->nexus_id == cmd->nexus->id)
			break;
	if (!h) {
		h = calloc(1, sizeof(*h));
		if (!h) {
			fail_no_memory(cmd);
			return;
		}
		h->nexus_id = cmd->nexus->id;
		TAILQ_INSERT_TAIL(&st->prevent_holders, h, link);
	}
	lu->prevent_removal = true;
	scsi_cmd_good(cmd);
}

void sbc_nexus_lost(struct lu *lu, const struct it_nexus *nexus)
{
	prevent_holder_remove(lu, nexus->id);
}

static void prevent_holders_clear(struct lu *lu)
{
	struct prevent_holder *h;

	while (lu->sbc && (h = TAILQ_FIRST(&lu->sbc->prevent_holders))) {
		TAILQ_REMOVE(&lu->sbc->prevent_holders, h, link);
		free(h);
	}
	lu->prevent_removal = false;
}

void sbc_lu_reset(struct lu *lu)
{
	prevent_holders_clear(lu);
}

/* --- the opcode table -------------------------------------------------------- */

#define IO_TIMEOUTS   .nominal_timeout_s = 1, .recommended_timeout_s = 30
#define LONG_TIMEOUTS .nominal_timeout_s = 10, .recommended_timeout_s = 300

static const struct scsi_opcode_desc sbc_ops[] = {
	{ .opcode = CDB_OP_READ_6, .cdb_len = 6, .name = "READ(6)",
	  .cdb_usage = { 0x08, 0x1f, 0xff, 0xff, 0xff, 0x00 },
	  .flags = OPF_DATA_IN | OPF_NEEDS_MEDIUM, .pr_access = PR_ACCESS_READ,
	  IO_TIMEOUTS, .execute = sbc_read },
	{ .opcode = CDB_OP_WRITE_6, .cdb_len = 6, .name = "WRITE(6)",
	  .cdb_usage = { 0x0a, 0x1f, 0xff, 0xff, 0xff, 0x00 },
	  .flags = OPF_DATA_OUT | OPF_NEEDS_MEDIUM | OPF_WRITES_MEDIUM,
	  .pr_access = PR_ACCESS_WRITE, IO_TIMEOUTS, .execute = sbc_write },
	{ .opcode = CDB_OP_START_STOP_UNIT, .cdb_len = 6, .name = "START STOP UNIT",
	  .cdb_usage = { 0x1b, 0x01, 0x00, 0x0f, 0xf7, 0x00 },
	  .flags = 0, .pr_access = PR_ACCESS_WRITE, IO_TIMEOUTS, .execute = sbc_start_stop_unit },
	{ .opcode = CDB_OP_PREVENT_ALLOW, .cdb_len = 6, .name = "PREVENT ALLOW MEDIUM REMOVAL",
	  .cdb_usage = { 0x1e, 0x00, 0x00, 0x00, 0x03, 0x00 },
	  .flags = 0, .pr_access = PR_ACCESS_ALLOWED, IO_TIMEOUTS, .execute = sbc_prevent_allow },
	{ .opcode = CDB_OP_READ_CAPACITY_10, .cdb_len = 10, .name = "READ CAPACITY(10)",
	  .cdb_usage = { 0x25, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x01, 0x00 },
	  .flags = OPF_DATA_IN | OPF_NEEDS_MEDIUM, .pr_access = PR_ACCESS_ALLOWED,
	  IO_TIMEOUTS, .execute = sbc_read_capacity_10 },
	{ .opcode = CDB_OP_READ_10, .cdb_len = 10, .name = "READ(10)",
	  .cdb_usage = { 0x28, 0xfa, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, 0x00 },
	  .flags = OPF_DATA_IN | OPF_NEEDS_MEDIUM, .pr_access = PR_ACCESS_READ,
	  IO_TIMEOUTS, .execute = sbc_read },
	{ .opcode = CDB_OP_WRITE_10, .cdb_len = 10, .name = "WRITE(10)",
	  .cdb_usage = { 0x2a, 0xfa, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, 0x00 },
	  .flags = OPF_DATA_OUT | OPF_NEEDS_MEDIUM | OPF_WRITES_MEDIUM,
	  .pr_access = PR_ACCESS_WRITE, IO_TIMEOUTS, .execute = sbc_write },
	{ .opcode = CDB_OP_WRITE_VERIFY_10, .cdb_len = 10, .name = "WRITE AND VERIFY(10)",
	  .cdb_usage = { 0x2e, 0xf6, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, 0x00 },
	  .flags = OPF_DATA_OUT | OPF_NEEDS_MEDIUM | OPF_WRITES_MEDIUM,
	  .pr_access = PR_ACCESS_WRITE, IO_TIMEOUTS, .execute = sbc_write_verify },
	{ .opcode = CDB_OP_VERIFY_10, .cdb_len = 10, .name = "VERIFY(10)",
	  .cdb_usage = { 0x2f, 0xf6, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, 0x00 },
	  .flags = OPF_DATA_OUT | OPF_NEEDS_MEDIUM, .pr_access = PR_ACCESS_READ,
	  IO_TIMEOUTS, .execute = sbc_verify },
	{ .opcode = CDB_OP_PRE_FETCH_10, .cdb_len = 10, .name = "PRE-FETCH(10)",
	  .cdb_usage = { 0x34, 0x02, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, 0x00 },
	  .flags = OPF_NEEDS_MEDIUM, .pr_access = PR_ACCESS_READ, IO_TIMEOUTS,
	  .execute = sbc_pre_fetch },
	{ .opcode = CDB_OP_SYNC_CACHE_10, .cdb_len = 10, .name = "SYNCHRONIZE CACHE(10)",
	  .cdb_usage = { 0x35, 0x06, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, 0x00 },
	  .flags = OPF_NEEDS_MEDIUM, .pr_access = PR_ACCESS_WRITE, LONG_TIMEOUTS,
	  .execute = sbc_sync_cache },
	{ .opcode = CDB_OP_READ_DEFECT_DATA_10, .cdb_len = 10, .name = "READ DEFECT DATA(10)",
	  .cdb_usage = { 0x37, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00 },
	  .flags = OPF_DATA_IN | OPF_NEEDS_MEDIUM, .pr_access = PR_ACCESS_READ,
	  IO_TIMEOUTS, .execute = sbc_read_defect_data_10 },
	{ .opcode = CDB_OP_WRITE_SAME_10, .cdb_len = 10, .name = "WRITE SAME(10)",
	  .cdb_usage = { 0x41, 0xf8, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, 0x00 },
	  .flags = OPF_DATA_OUT | OPF_NEEDS_MEDIUM | OPF_WRITES_MEDIUM,
	  .pr_access = PR_ACCESS_WRITE, LONG_TIMEOUTS, .execute = sbc_write_same },
	{ .opcode = CDB_OP_UNMAP, .cdb_len = 10, .name = "UNMAP",
	  .cdb_usage = { 0x42, 0x01, 0x00, 0x00, 0x00, 0x00, 0x1f, 0xff, 0xff, 0x00 },
	  .flags = OPF_DATA_OUT | OPF_NEEDS_MEDIUM | OPF_WRITES_MEDIUM,
	  .pr_access = PR_ACCESS_WRITE, LONG_TIMEOUTS, .execute = sbc_unmap },
	/* The copy manager (xcopy.c): EXTENDED COPY (LID1) and the two
	 * RECEIVE COPY RESULTS service actions it implements. */
	{ .opcode = CDB_OP_EXTENDED_COPY, .service_action = 0x00, .cdb_len = 16,
	  .name = "EXTENDED COPY(LID1)",
	  .cdb_usage = { 0x83, 0x1f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
			 0xff, 0xff, 0xff, 0xff, 0x00, 0x00 },
	  .flags = OPF_SA_IN_BYTE1 | OPF_DATA_OUT | OPF_NEEDS_MEDIUM,
	  .pr_access = PR_ACCESS_WRITE, LONG_TIMEOUTS, .execute = xcopy_extended_copy },
	{ .opcode = CDB_OP_RECEIVE_COPY_RESULTS, .service_action = XCOPY_SA_COPY_STATUS,
	  .cdb_len = 16, .name = "RECEIVE COPY RESULTS (COPY STATUS)",
	  .cdb_usage = { 0x84, 0x1f, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
			 0xff, 0xff, 0xff, 0xff, 0x00, 0x00 },
	  .flags = OPF_SA_IN_BYTE1 | OPF_DATA_IN, .pr_access = PR_ACCESS_READ,
	  IO_TIMEOUTS, .execute = xcopy_receive_copy_results },
	{ .opcode = CDB_OP_RECEIVE_COPY_RESULTS, .service_action = XCOPY_SA_OPERATING_PARAMETERS,
	  .cdb_len = 16, .name = "RECEIVE COPY RESULTS (OPERATING PARAMETERS)",
	  .cdb_usage = { 0x84, 0x1f, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
			 0xff, 0xff, 0xff, 0xff, 0x00, 0x00 },
	  .flags = OPF_SA_IN_BYTE1 | OPF_DATA_IN, .pr_access = PR_ACCESS_READ,
	  IO_TIMEOUTS, .execute = xcopy_receive_copy_results },
	{ .opcode = CDB_OP_READ_16, .cdb_len = 16, .name = "READ(16)",
	  .cdb_usage = { 0x88, 0xfa, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			 0xff, 0xff, 0xff, 0xff, 0x1f, 0x00 },
	  .flags = OPF_DATA_IN | OPF_NEEDS_MEDIUM, .pr_access = PR_ACCESS_READ,
	  IO_TIMEOUTS, .execute = sbc_read },
	{ .opcode = CDB_OP_COMPARE_AND_WRITE, .cdb_len = 16, .name = "COMPARE AND WRITE",
	  .cdb_usage = { 0x89, 0xfa, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			 0x00, 0x00, 0x00, 0xff, 0x1f, 0x00 },
	  .flags = OPF_DATA_OUT | OPF_NEEDS_MEDIUM | OPF_WRITES_MEDIUM,
	  .pr_access = PR_ACCESS_WRITE, IO_TIMEOUTS, .execute = sbc_compare_and_write },
	{ .opcode = CDB_OP_WRITE_16, .cdb_len = 16, .name = "WRITE(16)",
	  .cdb_usage = { 0x8a, 0xfa, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			 0xff, 0xff, 0xff, 0xff, 0x1f, 0x00 },
	  .flags = OPF_DATA_OUT | OPF_NEEDS_MEDIUM | OPF_WRITES_MEDIUM,
	  .pr_access = PR_ACCESS_WRITE, IO_TIMEOUTS, .execute = sbc_write },
	{ .opcode = CDB_OP_ORWRITE_16, .cdb_len = 16, .name = "ORWRITE(16)",
	  .cdb_usage = { 0x8b, 0xfa, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			 0xff, 0xff, 0xff, 0xff, 0x1f, 0x00 },
	  .flags = OPF_DATA_OUT | OPF_NEEDS_MEDIUM | OPF_WRITES_MEDIUM,
	  .pr_access = PR_ACCESS_WRITE, IO_TIMEOUTS, .execute = sbc_orwrite },
	{ .opcode = CDB_OP_WRITE_VERIFY_16, .cdb_len = 16, .name = "WRITE AND VERIFY(16)",
	  .cdb_usage = { 0x8e, 0xf6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			 0xff, 0xff, 0xff, 0xff, 0x1f, 0x00 },
	  .flags = OPF_DATA_OUT | OPF_NEEDS_MEDIUM | OPF_WRITES_MEDIUM,
	  .pr_access = PR_ACCESS_WRITE, IO_TIMEOUTS, .execute = sbc_write_verify },
	{ .opcode = CDB_OP_VERIFY_16, .cdb_len = 16, .name = "VERIFY(16)",
	  .cdb_usage = { 0x8f, 0xf6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			 0xff, 0xff, 0xff, 0xff, 0x1f, 0x00 },
	  .flags = OPF_DATA_OUT | OPF_NEEDS_MEDIUM, .pr_access = PR_ACCESS_READ,
	  IO_TIMEOUTS, .execute = sbc_verify },
	{ .opcode = CDB_OP_PRE_FETCH_16, .cdb_len = 16, .name = "PRE-FETCH(16)",
	  .cdb_usage = { 0x90, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			 0xff, 0xff, 0xff, 0xff, 0x1f, 0x00 },
	  .flags = OPF_NEEDS_MEDIUM, .pr_access = PR_ACCESS_READ, IO_TIMEOUTS,
	  .execute = sbc_pre_fetch },
	{ .opcode = CDB_OP_SYNC_CACHE_16, .cdb_len = 16, .name = "SYNCHRONIZE CACHE(16)",
	  .cdb_usage = { 0x91, 0x06, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			 0xff, 0xff, 0xff, 0xff, 0x1f, 0x00 },
	  .flags = OPF_NEEDS_MEDIUM, .pr_access = PR_ACCESS_WRITE, LONG_TIMEOUTS,
	  .execute = sbc_sync_cache },
	{ .opcode = CDB_OP_WRITE_SAME_16, .cdb_len = 16, .name = "WRITE SAME(16)",
	  .cdb_usage = { 0x93, 0xf9, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			 0xff, 0xff, 0xff, 0xff, 0x1f, 0x00 },
	  .flags = OPF_DATA_OUT | OPF_NEEDS_MEDIUM | OPF_WRITES_MEDIUM,
	  .pr_access = PR_ACCESS_WRITE, LONG_TIMEOUTS, .execute = sbc_write_same },
	{ .opcode = CDB_OP_WRITE_ATOMIC_16, .cdb_len = 16, .name = "WRITE ATOMIC(16)",
	  .cdb_usage = { 0x9c, 0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			 0x00, 0x00, 0xff, 0xff, 0x1f, 0x00 },
	  .flags = OPF_DATA_OUT | OPF_NEEDS_MEDIUM | OPF_WRITES_MEDIUM,
	  .pr_access = PR_ACCESS_WRITE, IO_TIMEOUTS, .execute = sbc_write_atomic },
	{ .opcode = CDB_OP_SERVICE_ACTION_IN_16, .service_action = CDB_SA_READ_CAPACITY_16,
	  .cdb_len = 16, .name = "READ CAPACITY(16)",
	  .cdb_usage = { 0x9e, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			 0xff, 0xff, 0xff, 0xff, 0x01, 0x00 },
	  .flags = OPF_SA_IN_BYTE1 | OPF_DATA_IN | OPF_NEEDS_MEDIUM,
	  .pr_access = PR_ACCESS_ALLOWED, IO_TIMEOUTS, .execute = sbc_read_capacity_16 },
	{ .opcode = CDB_OP_SERVICE_ACTION_IN_16, .service_action = CDB_SA_GET_LBA_STATUS,
	  .cdb_len = 16, .name = "GET LBA STATUS",
	  .cdb_usage = { 0x9e, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			 0xff, 0xff, 0xff, 0xff, 0x00, 0x00 },
	  .flags = OPF_SA_IN_BYTE1 | OPF_DATA_IN | OPF_NEEDS_MEDIUM,
	  .pr_access = PR_ACCESS_READ, IO_TIMEOUTS, .execute = sbc_get_lba_status },
	{ .opcode = CDB_OP_READ_12, .cdb_len = 12, .name = "READ(12)",
	  .cdb_usage = { 0xa8, 0xfa, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x00 },
	  .flags = OPF_DATA_IN | OPF_NEEDS_MEDIUM, .pr_access = PR_ACCESS_READ,
	  IO_TIMEOUTS, .execute = sbc_read },
	{ .opcode = CDB_OP_WRITE_12, .cdb_len = 12, .name = "WRITE(12)",
	  .cdb_usage = { 0xaa, 0xfa, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x00 },
	  .flags = OPF_DATA_OUT | OPF_NEEDS_MEDIUM | OPF_WRITES_MEDIUM,
	  .pr_access = PR_ACCESS_WRITE, IO_TIMEOUTS, .execute = sbc_write },
	{ .opcode = CDB_OP_WRITE_VERIFY_12, .cdb_len = 12, .name = "WRITE AND VERIFY(12)",
	  .cdb_usage = { 0xae, 0xf6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x00 },
	  .flags = OPF_DATA_OUT | OPF_NEEDS_MEDIUM | OPF_WRITES_MEDIUM,
	  .pr_access = PR_ACCESS_WRITE, IO_TIMEOUTS, .execute = sbc_write_verify },
	{ .opcode = CDB_OP_VERIFY_12, .cdb_len = 12, .name = "VERIFY(12)",
	  .cdb_usage = { 0xaf, 0xf6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x00 },
	  .flags = OPF_DATA_OUT | OPF_NEEDS_MEDIUM, .pr_access = PR_ACCESS_READ,
	  IO_TIMEOUTS, .execute = sbc_verify },
	{ .opcode = CDB_OP_READ_DEFECT_DATA_12, .cdb_len = 12, .name = "READ DEFECT DATA(12)",
	  .cdb_usage = { 0xb7, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00 },
	  .flags = OPF_DATA_IN | OPF_NEEDS_MEDIUM, .pr_access = PR_ACCESS_READ,
	  IO_TIMEOUTS, .execute = sbc_read_defect_data_12 },
};

const struct scsi_opcode_table sbc_opcode_table = {
	.ops = sbc_ops,
	.count = ARRAY_SIZE(sbc_ops),
};

bool sbc_lu_supports(const struct lu *lu, uint8_t opcode, uint16_t service_action)
{
	bool known = false;

	for (size_t i = 0; i < ARRAY_SIZE(sbc_ops); i++) {
		if (sbc_ops[i].opcode == opcode &&
		    (!(sbc_ops[i].flags & OPF_SA_IN_BYTE1) ||
		     sbc_ops[i].service_action == service_action))
			known = true;
	}
	if (!known)
		return false;
	if (opcode == CDB_OP_UNMAP)
		return lu->spec.thin;
	return true;
}

/* --- per-LU state ------------------------------------------------------------ */

void sbc_lu_cleanup(struct lu *lu)
{
	struct sbc_lu_state *st = lu->sbc;
	struct sbc_range_waiter *w;

	if (!st)
		return;
	workers_cancel_on_control(&st->wake_on_control);
	/* Commands are gone by now; free what waited on their behalf. The
	 * exclusive entries live in their owners (contexts, the sanitize). */
	while ((w = TAILQ_FIRST(&st->waiters))) {
		TAILQ_REMOVE(&st->waiters, w, link);
		if (!w->exclusive)
			free(w);
	}
	prevent_holders_clear(lu);
	free(st);
	lu->sbc = NULL;
}
