/* SANITIZE (SBC-3 5.24, 4.11). See sanitize.h.
 *
 * The operation runs on its own (it is not a command): it survives an
 * abort of the SANITIZE command, task management and I_T nexus loss. It
 * holds an exclusive claim on the whole LU (sbc.c's LBA range locks) so
 * that no write admitted before it lands afterwards; sanitize_check()
 * turns new commands away until it ends. */
#include "sanitize.h"

#include <stdlib.h>
#include <string.h>

#include "cdb.h"
#include "../event_loop.h"
#include "../log.h"
#include "sbc.h"
#include "scsi_internal.h"
#include "sense.h"
#include "../util.h"

/* OVERWRITE writes its pattern this many bytes at a time. */
#define SANITIZE_CHUNK_BYTES (1u << 20)

/* A sanitize overwrite is a background operation that must not starve the
 * other LUs of the backing store: it writes at most this many bytes per
 * second. (It also keeps it observable: libiscsi's Sanitize.Reset expects
 * a sanitize of its LU to be still running after about five seconds.) */
#define SANITIZE_BYTES_PER_SEC (128ull << 20)

struct sanitize_op;

/* lu->sanitize: created by the first SANITIZE the LU receives. */
struct sanitize_lu_state {
	struct sanitize_op *op;           /* running sanitize, or NULL */
	bool failed;                      /* SBC-3 4.11.4 failure mode */
	bool failed_ause;                 /* the failed one allowed EXIT FAILURE MODE */
};

static struct sanitize_lu_state *sanitize_state(struct lu *lu)
{
	if (!lu->sanitize)
		lu->sanitize = calloc(1, sizeof(*lu->sanitize));
	return lu->sanitize;
}

static void fail_no_memory(struct scsi_cmd *cmd)
{
	scsi_check_condition(cmd, SK_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
}

/* --- the operation ----------------------------------------------------------- */

enum sanitize_phase {
	SANITIZE_WAITING,            /* for the exclusive claim */
	SANITIZE_OVERWRITING,        /* pattern chunks, paced */
	SANITIZE_ERASING,            /* one deallocate / zero request */
	SANITIZE_FLUSHING,
};

struct sanitize_op {
	struct lu *lu;
	struct scsi_cmd *cmd;        /* IMMED = 0: completed at the end */
	struct sbc_range_waiter lock;
	struct bs_io io;
	bool io_in_flight;
	struct ev_timer pace_timer;
	enum sanitize_phase phase;
	uint8_t service_action;
	bool ause;
	bool zero_pattern;
	bool abandoned;              /* the LU is being destroyed */
	uint8_t *chunk;              /* OVERWRITE: the pattern over a chunk */
	uint32_t chunk_bytes;        /* its size: the LU's, up to SANITIZE_CHUNK_BYTES */
	uint64_t next_offset;        /* bytes done, for progress */
	uint64_t end_offset;
	uint64_t start_ns;
};

static struct event_loop *lu_loop(const struct lu *lu)
{
	return lu->target->gw->loop;
}

static void sanitize_io_done(struct bs_io *io);

static void sanitize_free(struct sanitize_op *op)
{
	free(op->chunk);
	free(op);
}

static void sanitize_finish(struct sanitize_op *op, int result)
{
	struct lu *lu = op->lu;
	struct sanitize_lu_state *st = lu->sanitize;
	struct scsi_cmd *cmd = op->cmd;

	ev_timer_cancel(lu_loop(lu), &op->pace_timer);
	st->op = NULL;
	/* SBC-3 4.11.4: a failed sanitize leaves the LU in failure mode. */
	st->failed = result < 0;
	st->failed_ause = op->ause;
	if (result < 0)
		log_error("%s LUN %llu: SANITIZE failed: %s", lu->target->iqn,
			  (unsigned long long)lu->lun, strerror(-result));
	else
		log_info("%s LUN %llu: SANITIZE complete", lu->target->iqn,
			 (unsigned long long)lu->lun);
	sbc_range_unlock_exclusive(lu, &op->lock);
	sanitize_free(op);
	if (cmd) {
		if (result < 0)
			scsi_check_condition(cmd, SK_MEDIUM_ERROR, ASC_SANITIZE_COMMAND_FAILED);
		else
			scsi_cmd_good(cmd);
	}
}

static void sanitize_submit(struct sanitize_op *op, enum bs_op bs_op, uint64_t offset,
			    uint64_t length, void *buf)
{
	memset(&op->io, 0, sizeof(op->io));
	op->io.op = bs_op;
	op->io.offset = offset;
	op->io.length = length;
	op->io.buf = buf;
	op->io.done = sanitize_io_done;
	op->io.arg = op;
	op->io_in_flight = true;
	op->lu->bs_ops->submit(op->lu, &op->io);
}

static void sanitize_flush(struct sanitize_op *op)
{
	op->phase = SANITIZE_FLUSHING;
	op->next_offset = op->end_offset;
	sanitize_submit(op, BS_OP_FLUSH, 0, 0, NULL);
}

/* An aborted SANITIZE command ends; the operation goes on (SBC-3 4.11). */
static void sanitize_release_aborted_cmd(struct sanitize_op *op)
{
	struct scsi_cmd *cmd = op->cmd;

	if (cmd && cmd->aborted) {
		op->cmd = NULL;
		scsi_check_condition(cmd, SK_ABORTED_COMMAND, ASC_NO_ADDITIONAL_SENSE);
	}
}

/* OVERWRITE: the next chunk, no faster than SANITIZE_BYTES_PER_SEC. */
static void sanitize_overwrite_next(struct sanitize_op *op)
{
	uint64_t elapsed_us = (now_ns() - op->start_ns) / 1000;
	uint64_t allowed = elapsed_us * (SANITIZE_BYTES_PER_SEC / 1000) / 1000;
	uint64_t length;

	sanitize_release_aborted_cmd(op);
	if (op->next_offset >= op->end_offset) {
		sanitize_flush(op);
		return;
	}
	if (op->next_offset > allowed) {
		uint64_t wait_ms = (op->next_offset - allowed) * 1000 / SANITIZE_BYTES_PER_SEC;

		ev_timer_arm(lu_loop(op->lu), &op->pace_timer, MAX(wait_ms, (uint64_t)1));
		return;
	}
	length = MIN(op->end_offset - op->next_offset, (uint64_t)op->chunk_bytes);
	if (op->zero_pattern)
		sanitize_submit(op, BS_OP_WRITE_ZEROES, op->next_offset, length, NULL);
	else
		sanitize_submit(op, BS_OP_WRITE, op->next_offset, length, op->chunk);
}

static void sanitize_pace_timer(struct event_loop *loop, void *arg)
{
	(void)loop;
	sanitize_overwrite_next(arg);
}

static void sanitize_io_done(struct bs_io *io)
{
	struct sanitize_op *op = io->arg;

	op->io_in_flight = false;
	if (op->abandoned) {
		sanitize_free(op);
		return;
	}
	if (io->result < 0) {
		sanitize_finish(op, io->result);
		return;
	}
	switch (op->phase) {
	case SANITIZE_OVERWRITING:
		op->next_offset += io->length;
		sanitize_overwrite_next(op);
		break;
	case SANITIZE_ERASING:
		sanitize_release_aborted_cmd(op);
		sanitize_flush(op);
		break;
	default:
		sanitize_finish(op, 0);
		break;
	}
}

/* The exclusive claim on the whole LU is granted: begin. */
static void sanitize_begin(void *arg)
{
	struct sanitize_op *op = arg;
	struct lu *lu = op->lu;

	log_info("%s LUN %llu: SANITIZE service action 0x%02x started", lu->target->iqn,
		 (unsigned long long)lu->lun, op->service_action);
	op->start_ns = now_ns();
	op->end_offset = lu->num_blocks << lu->block_shift;
	switch (op->service_action) {
	case CDB_SA_SANITIZE_OVERWRITE:
		op->phase = SANITIZE_OVERWRITING;
		sanitize_overwrite_next(op);
		break;
	case CDB_SA_SANITIZE_BLOCK_ERASE:
		/* Every block deallocated; they read as zeros (WABEREQ 1). */
		op->phase = SANITIZE_ERASING;
		sanitize_submit(op, BS_OP_UNMAP, 0, op->end_offset, NULL);
		break;
	default:
		/* CRYPTO ERASE: there is no key to change; the data goes the
		 * way a block erase sends it (WACEREQ 1). */
		op->phase = SANITIZE_ERASING;
		sanitize_submit(op, lu->spec.thin ? BS_OP_UNMAP : BS_OP_WRITE_ZEROES, 0,
				op->end_offset, NULL);
		break;
	}
}

/* OVERWRITE parameter list (SBC-3 5.24.3): checks and the pattern chunk. */
static bool sanitize_overwrite_params(struct scsi_cmd *cmd, struct sanitize_op *op)
{
	struct lu *lu = cmd->lu;
	uint32_t param_len = get_be16(cmd->cdb + 7);
	const uint8_t *p = cmd->buf;
	uint32_t pattern_len, filled;

	/* More than the 4-byte header, at most one block of pattern. */
	if (param_len <= 4 || param_len > lu->block_size + 4) {
		scsi_invalid_cdb_field(cmd, 7, -1);
		return false;
	}
	if (cmd->data_out_len < param_len) {
		scsi_check_condition(cmd, SK_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERROR);
		return false;
	}
	if (p[0] & 0x60) {          /* TEST: vendor-specific, not supported */
		scsi_invalid_param_field(cmd, 0, 6);
		return false;
	}
	if ((p[0] & 0x1f) == 0) {   /* OVERWRITE COUNT 0 */
		scsi_invalid_param_field(cmd, 0, 4);
		return false;
	}
	pattern_len = get_be16(p + 2);
	if (pattern_len == 0 || pattern_len > lu->block_size || pattern_len != param_len - 4) {
		scsi_invalid_param_field(cmd, 2, -1);
		return false;
	}
	/* With INVERT, passes alternate between the inverted and the plain
	 * pattern so that the last pass is always the plain one; one pass
	 * of it leaves the medium in the same state. */
	op->zero_pattern = mem_all_zero(p + 4, pattern_len);
	if (!op->zero_pattern) {
		/* A small LU needs no 1 MiB chunk (one chunk covers it). */
		op->chunk_bytes = (uint32_t)MIN((uint64_t)SANITIZE_CHUNK_BYTES,
						MAX(lu->num_blocks << lu->block_shift,
						    (uint64_t)lu->block_size));
		op->chunk = alloc_io_buffer(op->chunk_bytes);
		if (!op->chunk) {
			fail_no_memory(cmd);
			return false;
		}
		/* The pattern starts again in every logical block, repeated
		 * to fill it (SBC-3 5.24.3); chunks start on a block. One
		 * block is filled byte by byte, then copied over the rest,
		 * doubling (a byte loop over 1 MiB was most of fuzz_cdb's
		 * SANITIZE time). */
		filled = MIN(op->chunk_bytes, lu->block_size);
		for (uint32_t i = 0; i < filled; i++)
			op->chunk[i] = p[4 + i % pattern_len];
		while (filled < op->chunk_bytes) {
			uint32_t n = MIN(filled, op->chunk_bytes - filled);

			memcpy(op->chunk + filled, op->chunk, n);
			filled += n;
		}
	}
	return true;
}

/* --- the command ------------------------------------------------------------- */

/* SANITIZE (SBC-3 5.24): check the CDB and parameters, then queue the
 * operation behind the commands already touching the LU. */
static void sanitize_command(struct scsi_cmd *cmd)
{
	struct lu *lu = cmd->lu;
	uint8_t sa = cdb_service_action(cmd->cdb);
	bool immed = cmd->cdb[1] & 0x80;
	uint32_t param_len = get_be16(cmd->cdb + 7);
	struct sanitize_lu_state *st = sanitize_state(lu);
	struct sanitize_op *op;
	int rc;

	if (!st) {
		fail_no_memory(cmd);
		return;
	}
	if (st->op) {
		scsi_check_condition(cmd, SK_NOT_READY, ASC_LU_NOT_READY_SANITIZE_IN_PROGRESS);
		return;
	}
	cmd->transfer_len = param_len;
	switch (sa) {
	case CDB_SA_SANITIZE_OVERWRITE:
		break;
	case CDB_SA_SANITIZE_BLOCK_ERASE:
		/* Block erase deallocates: only with logical block provisioning. */
		if (!lu->spec.thin) {
			scsi_invalid_cdb_field(cmd, 1, 4);
			return;
		}
		/* fall through */
	case CDB_SA_SANITIZE_CRYPTO_ERASE:
	case CDB_SA_SANITIZE_EXIT_FAILURE_MODE:
		if (param_len != 0) {
			scsi_invalid_cdb_field(cmd, 7, -1);
			return;
		}
		break;
	default:
		scsi_invalid_cdb_field(cmd, 1, 4);
		return;
	}
	if (sa == CDB_SA_SANITIZE_EXIT_FAILURE_MODE) {
		/* SBC-3 4.11.4: only a failure with AUSE set may be left this way. */
		if (st->failed && !st->failed_ause) {
			scsi_invalid_cdb_field(cmd, 1, 4);
			return;
		}
		st->failed = false;
		scsi_cmd_good(cmd);
		return;
	}
	/* A failure with AUSE = 0 is left only by a sanitize with AUSE = 0. */
	if (st->failed && !st->failed_ause && (cmd->cdb[1] & 0x20)) {
		scsi_invalid_cdb_field(cmd, 1, 5);
		return;
	}

	op = calloc(1, sizeof(*op));
	if (!op) {
		fail_no_memory(cmd);
		return;
	}
	op->lu = lu;
	op->service_action = sa;
	op->chunk_bytes = SANITIZE_CHUNK_BYTES;
	op->ause = cmd->cdb[1] & 0x20;
	ev_timer_init(&op->pace_timer, sanitize_pace_timer, op);
	if (sa == CDB_SA_SANITIZE_OVERWRITE && !sanitize_overwrite_params(cmd, op)) {
		sanitize_free(op);
		return;
	}
	st->op = op;
	op->lock.lba = 0;
	op->lock.count = lu->num_blocks;
	op->lock.resume = sanitize_begin;
	op->lock.arg = op;
	rc = sbc_range_lock_exclusive(lu, &op->lock);
	if (rc < 0) {
		st->op = NULL;
		sanitize_free(op);
		fail_no_memory(cmd);
		return;
	}
	/* IMMED: status once the CDB and parameters are validated. */
	if (immed)
		scsi_cmd_good(cmd);
	else
		op->cmd = cmd;
	if (rc == 1)
		sanitize_begin(op);
}

bool sanitize_progress(const struct lu *lu, uint16_t *progress)
{
	const struct sanitize_op *op = lu->sanitize ? lu->sanitize->op : NULL;

	if (!op)
		return false;
	*progress = op->end_offset ? (uint16_t)(op->next_offset * 65535 / op->end_offset) : 0;
	return true;
}

/* --- the opcode table -------------------------------------------------------- */

#define IO_TIMEOUTS   .nominal_timeout_s = 1, .recommended_timeout_s = 30
#define LONG_TIMEOUTS .nominal_timeout_s = 10, .recommended_timeout_s = 300

static const struct scsi_opcode_desc sanitize_ops[] = {
	{ .opcode = CDB_OP_SANITIZE, .service_action = CDB_SA_SANITIZE_OVERWRITE, .cdb_len = 10,
	  .name = "SANITIZE (OVERWRITE)",
	  .cdb_usage = { 0x48, 0xbf, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00 },
	  .flags = OPF_SA_IN_BYTE1 | OPF_DATA_OUT | OPF_NEEDS_MEDIUM | OPF_WRITES_MEDIUM,
	  .pr_access = PR_ACCESS_WRITE, .nominal_timeout_s = 60, .recommended_timeout_s = 86400,
	  .execute = sanitize_command },
	{ .opcode = CDB_OP_SANITIZE, .service_action = CDB_SA_SANITIZE_BLOCK_ERASE, .cdb_len = 10,
	  .name = "SANITIZE (BLOCK ERASE)",
	  .cdb_usage = { 0x48, 0xbf, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00 },
	  .flags = OPF_SA_IN_BYTE1 | OPF_NEEDS_MEDIUM | OPF_WRITES_MEDIUM,
	  .pr_access = PR_ACCESS_WRITE, LONG_TIMEOUTS, .execute = sanitize_command },
	{ .opcode = CDB_OP_SANITIZE, .service_action = CDB_SA_SANITIZE_CRYPTO_ERASE, .cdb_len = 10,
	  .name = "SANITIZE (CRYPTOGRAPHIC ERASE)",
	  .cdb_usage = { 0x48, 0xbf, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00 },
	  .flags = OPF_SA_IN_BYTE1 | OPF_NEEDS_MEDIUM | OPF_WRITES_MEDIUM,
	  .pr_access = PR_ACCESS_WRITE, LONG_TIMEOUTS, .execute = sanitize_command },
	{ .opcode = CDB_OP_SANITIZE, .service_action = CDB_SA_SANITIZE_EXIT_FAILURE_MODE,
	  .cdb_len = 10, .name = "SANITIZE (EXIT FAILURE MODE)",
	  .cdb_usage = { 0x48, 0xbf, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00 },
	  .flags = OPF_SA_IN_BYTE1 | OPF_NEEDS_MEDIUM | OPF_WRITES_MEDIUM,
	  .pr_access = PR_ACCESS_WRITE, IO_TIMEOUTS, .execute = sanitize_command },
};

const struct scsi_opcode_table sanitize_opcode_table = {
	.ops = sanitize_ops,
	.count = ARRAY_SIZE(sanitize_ops),
};

bool sanitize_lu_supports(const struct lu *lu, uint16_t service_action)
{
	for (size_t i = 0; i < ARRAY_SIZE(sanitize_ops); i++)
		if (sanitize_ops[i].service_action == service_action)
			return service_action == CDB_SA_SANITIZE_BLOCK_ERASE ? lu->spec.thin : true;
	return false;
}

/* --- dispatcher hooks -------------------------------------------------------- */

/* SBC-3 4.11.4: medium access commands refused in sanitize failure mode
 * are the block commands that need the medium (sbc_opcode_table). SANITIZE
 * itself is not among them: it is how the mode is left. */
static bool medium_access_command(const struct scsi_cmd *cmd)
{
	for (size_t i = 0; i < sbc_opcode_table.count; i++)
		if (sbc_opcode_table.ops[i].opcode == cmd->cdb[0])
			return sbc_opcode_table.ops[i].flags & OPF_NEEDS_MEDIUM;
	return false;
}

uint16_t sanitize_asc(const struct lu *lu)
{
	if (!lu->sanitize)
		return 0;
	if (lu->sanitize->op)
		return ASC_LU_NOT_READY_SANITIZE_IN_PROGRESS;
	if (lu->sanitize->failed)
		return ASC_SANITIZE_COMMAND_FAILED;
	return 0;
}

bool sanitize_check(struct scsi_cmd *cmd)
{
	struct lu *lu = cmd->lu;

	if (!lu || !lu->sanitize)
		return false;
	/* SBC-3 4.11.2: these are served during a sanitize. */
	if (cmd->cdb[0] == 0x12 /* INQUIRY */ || cmd->cdb[0] == 0xa0 /* REPORT LUNS */ ||
	    cmd->cdb[0] == 0x03 /* REQUEST SENSE */)
		return false;
	if (lu->sanitize->op) {
		scsi_check_condition(cmd, SK_NOT_READY, ASC_LU_NOT_READY_SANITIZE_IN_PROGRESS);
		return true;
	}
	if (lu->sanitize->failed && medium_access_command(cmd)) {
		scsi_check_condition(cmd, SK_MEDIUM_ERROR, ASC_SANITIZE_COMMAND_FAILED);
		return true;
	}
	return false;
}

void sanitize_lu_cleanup(struct lu *lu)
{
	struct sanitize_lu_state *st = lu->sanitize;

	if (!st)
		return;
	if (st->op) {
		struct sanitize_op *op = st->op;
		struct scsi_cmd *cmd = op->cmd;

		ev_timer_cancel(lu_loop(lu), &op->pace_timer);
		op->cmd = NULL;
		/* A request still out completes while the backstore closes;
		 * sanitize_io_done() frees the operation then. Its exclusive
		 * claim left with the LBA range lock queue (sbc_lu_cleanup()). */
		if (op->io_in_flight)
			op->abandoned = true;
		else
			sanitize_free(op);
		if (cmd)
			scsi_check_condition(cmd, SK_ABORTED_COMMAND, ASC_NO_ADDITIONAL_SENSE);
	}
	free(st);
	lu->sanitize = NULL;
}
