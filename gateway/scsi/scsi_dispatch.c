/* The command path of the SCSI target core: every command a fabric submits
 * goes through scsi_cmd_submit(), which resolves the LU, finds the
 * command's descriptor in the command-set tables (spc.c, sbc.c, pr.c),
 * applies the checks every command is subject to, queues it in the LU's
 * task set and runs it. scsi_cmd_complete() is the single exit. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "alua.h"
#include "../log.h"
#include "pr.h"
#include "sanitize.h"
#include "sbc.h"
#include "scsi_internal.h"
#include "sense.h"
#include "../buffer_pool.h"
#include "../event_loop.h"
#include "ua.h"
#include "../util.h"
#include "../workers.h"

/* Block commands come first: they are the data path. SANITIZE is rare. */
static const struct scsi_opcode_table *const opcode_tables[] = {
	&sbc_opcode_table,
	&spc_opcode_table,
	&pr_opcode_table,
	&alua_opcode_table,
	&sanitize_opcode_table,
};

/* ---------------------------------------------------------------------
 * Buffers
 */

int scsi_cmd_ensure_buf(struct scsi_cmd *cmd, uint32_t len)
{
	size_t cap;
	uint8_t *buf;

	if (cmd->buf && cmd->buf_cap >= len)
		return 0;
	/* From the pool, not zeroed: every user fills what it sends. */
	buf = iobuf_get(len, &cap);
	if (!buf || cap > UINT32_MAX) {
		iobuf_put(buf, cap);
		return -ENOMEM;
	}
	if (cmd->buf) {
		memcpy(buf, cmd->buf, cmd->buf_cap);
		if (!cmd->buf_fabric)
			iobuf_put(cmd->buf, cmd->buf_cap);
	}
	cmd->buf = buf;
	cmd->buf_cap = (uint32_t)cap;
	cmd->buf_fabric = false;
	return 0;
}

void scsi_cmd_free_buf(struct scsi_cmd *cmd)
{
	if (!cmd->buf_fabric)
		iobuf_put(cmd->buf, cmd->buf_cap);
	cmd->buf = NULL;
	cmd->buf_cap = 0;
	cmd->buf_fabric = false;
}

/* ---------------------------------------------------------------------
 * Opcode tables
 */

/* Every descriptor grouped by opcode, each group in table order (the
 * order of the first match below): a lookup looks at the one to four
 * descriptors of its opcode instead of walking every table (that walk
 * was 4-5 % of fuzz_cdb's time). A singleton written once, on first
 * use from whichever thread, and only read after. */
#define MAX_OPCODE_DESCS 256
static struct {
	pthread_once_t once;
	const struct scsi_opcode_desc *descs[MAX_OPCODE_DESCS];
	uint16_t first[256];   /* where opcode's group starts in descs */
	uint8_t count[256];
} opcode_index = { .once = PTHREAD_ONCE_INIT };

static void opcode_index_build(void)
{
	size_t n = 0;

	for (unsigned op = 0; op < 256; op++) {
		opcode_index.first[op] = (uint16_t)n;
		for (size_t t = 0; t < ARRAY_SIZE(opcode_tables); t++) {
			for (size_t i = 0; i < opcode_tables[t]->count; i++) {
				if (opcode_tables[t]->ops[i].opcode != op)
					continue;
				if (n == MAX_OPCODE_DESCS)
					abort();   /* raise MAX_OPCODE_DESCS */
				opcode_index.descs[n++] = &opcode_tables[t]->ops[i];
			}
		}
		opcode_index.count[op] = (uint8_t)(n - opcode_index.first[op]);
	}
}

const struct scsi_opcode_desc *scsi_opcode_lookup(uint8_t opcode, uint16_t service_action)
{
	pthread_once(&opcode_index.once, opcode_index_build);
	for (unsigned i = 0; i < opcode_index.count[opcode]; i++) {
		const struct scsi_opcode_desc *d = opcode_index.descs[opcode_index.first[opcode] + i];

		if (!(d->flags & OPF_SA_IN_BYTE1) || d->service_action == service_action)
			return d;
	}
	return NULL;
}

const struct scsi_opcode_desc *scsi_cmd_desc(const struct scsi_cmd *cmd)
{
	return scsi_opcode_lookup(cmd->cdb[0], cmd->cdb[1] & 0x1f);
}

void scsi_opcode_foreach(void (*fn)(const struct scsi_opcode_desc *desc, void *arg), void *arg)
{
	for (size_t t = 0; t < ARRAY_SIZE(opcode_tables); t++)
		for (size_t i = 0; i < opcode_tables[t]->count; i++)
			fn(&opcode_tables[t]->ops[i], arg);
}

/* Does any table know this opcode with some other service action? */
static bool opcode_known(uint8_t opcode)
{
	pthread_once(&opcode_index.once, opcode_index_build);
	return opcode_index.count[opcode] > 0;
}

/* ---------------------------------------------------------------------
 * Checks every command goes through
 */

/* SPC-4 4.2.5.1 / 6.35.3: bits outside the CDB usage data are reserved
 * (or unsupported, like NACA in the CONTROL byte) and must be zero.
 * Reports the first offending byte and bit; returns true if it did. */
static bool cdb_reserved_bits_set(struct scsi_cmd *cmd, const struct scsi_opcode_desc *desc)
{
	unsigned len = MIN(desc->cdb_len, (unsigned)sizeof(desc->cdb_usage));

	for (unsigned i = 1; i < len; i++) {
		uint8_t bad = cmd->cdb[i] & (uint8_t)~desc->cdb_usage[i];

		if (bad) {
			scsi_invalid_cdb_field(cmd, (uint16_t)i, 31 - __builtin_clz(bad));
			return true;
		}
	}
	return false;
}

/* SBC-3 4.x / SPC-4: NOT READY when the medium is absent or the LU is
 * stopped. Returns true when it completed the command. */
static bool not_ready(struct scsi_cmd *cmd)
{
	struct lu *lu = cmd->lu;

	/* SPC-4 4.5.2 / table 30: a backing store still being opened is
	 * "becoming ready" (initiators retry); one that cannot be opened
	 * needs the admin. */
	if (lu->backing_state == LU_BACKING_OPENING) {
		scsi_check_condition(cmd, SK_NOT_READY, ASC_LU_NOT_READY_BECOMING_READY);
		return true;
	}
	if (lu->backing_state == LU_BACKING_FAILED) {
		scsi_check_condition(cmd, SK_NOT_READY, ASC_LU_NOT_READY_MANUAL_INTERVENTION);
		return true;
	}

	if (lu->spec.removable && !lu->medium_loaded) {
		scsi_check_condition(cmd, SK_NOT_READY, ASC_MEDIUM_NOT_PRESENT);
		return true;
	}
	if (lu->stopped) {
		scsi_check_condition(cmd, SK_NOT_READY, ASC_LU_NOT_READY_INIT_REQUIRED);
		return true;
	}
	return false;
}

/* SBC-3 4.11: writes to a read-only LU, or under the control mode page's
 * software write protect, fail with DATA PROTECT. */
static bool write_protected(struct scsi_cmd *cmd)
{
	struct lu *lu = cmd->lu;

	if (lu->spec.readonly) {
		scsi_check_condition(cmd, SK_DATA_PROTECT, ASC_WRITE_PROTECTED);
		return true;
	}
	if (lu->mode.swp) {
		scsi_check_condition(cmd, SK_DATA_PROTECT, ASC_SOFTWARE_WRITE_PROTECTED);
		return true;
	}
	return false;
}

static void submit_now(struct scsi_cmd *cmd);

static void submit_on_control(void *arg)
{
	struct scsi_cmd *cmd = arg;

	cmd->nexus->at_control--;
	submit_now(cmd);
}

static bool opcode_runs_on_worker(uint8_t opcode);

void scsi_cmd_submit(struct scsi_cmd *cmd)
{
	/* Off the data path, a command is checked (unit attentions,
	 * reservations) and run on the control thread, in the order of what
	 * reached it from the other workers (e.g. a nexus loss that releases
	 * a reservation). And a nexus' commands take effect in the order they
	 * arrive: while an earlier one waits for the control thread, later
	 * ones follow it there (workers.h). */
	if (!on_control_thread() && (cmd->nexus->at_control || !opcode_runs_on_worker(cmd->cdb[0]))) {
		cmd->nexus->at_control++;
		workers_run_on_control(&cmd->to_control, submit_on_control, cmd);
		return;
	}
	submit_now(cmd);
}

static void submit_now(struct scsi_cmd *cmd)
{
	struct it_nexus *nexus = cmd->nexus;
	const struct scsi_opcode_desc *desc;
	struct lu *lu;

	cmd->status = SAM_STAT_GOOD;
	cmd->sense_len = 0;
	cmd->data_in_len = 0;
	cmd->transfer_len = 0;
	cmd->aborted = false;
	cmd->state = CMD_NEW;
	cmd->start_ns = ev_now_ns();
	cmd->core_priv = NULL;
	cmd->core_step = 0;

	lu = target_resolve_lun(nexus->target, nexus->acl, cmd->lun);
	if (lu && lu->removing)
		lu = NULL;
	cmd->lu = lu;
	desc = scsi_cmd_desc(cmd);

	/* SAM-5 5.8.4 / SPC-4 6.6.2: without an LU only INQUIRY, REPORT LUNS
	 * and REQUEST SENSE get an answer of their own. */
	if (!lu && !(desc && (desc->flags & OPF_NO_LU_NEEDED))) {
		scsi_check_condition(cmd, SK_ILLEGAL_REQUEST, ASC_LU_NOT_SUPPORTED);
		return;
	}
	if (!desc) {
		/* SPC-4 4.5.4: an unsupported service action of a supported
		 * opcode is an invalid field, not an invalid opcode. */
		if (opcode_known(cmd->cdb[0]))
			scsi_invalid_cdb_field(cmd, 1, 4);
		else
			scsi_check_condition(cmd, SK_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
		return;
	}
	if (cmd->cdb_len && cmd->cdb_len < desc->cdb_len) {
		scsi_invalid_cdb_field(cmd, 0, -1);
		return;
	}
	if (cdb_reserved_bits_set(cmd, desc))
		return;
	/* SAM-5 8.6.5: ACA is not supported (NACA is rejected above), so no
	 * ACA condition can exist for an ACA task to run in. */
	if (cmd->task_attr == TASK_ACA) {
		scsi_check_condition(cmd, SK_ILLEGAL_REQUEST, ASC_INVALID_MESSAGE_ERROR);
		return;
	}
	if (!lu) {
		scsi_dispatch_start(cmd);
		return;
	}
	if (ua_check(cmd))
		return;
	/* SPC-4 5.16.2.4: the state of the port group the command came
	 * through decides whether it may run at all. */
	if (alua_check(cmd))
		return;
	/* SBC-3 4.11: a sanitize in progress (or failed) answers first. */
	if (sanitize_check(cmd))
		return;
	/* SPC-4 5.13.1: RESERVATION CONFLICT status carries no sense data. */
	if (pr_conflict(cmd)) {
		cmd->status = SAM_STAT_RESERVATION_CONFLICT;
		scsi_cmd_complete(cmd);
		return;
	}
	if ((desc->flags & OPF_NEEDS_MEDIUM) && not_ready(cmd))
		return;
	if ((desc->flags & OPF_WRITES_MEDIUM) && write_protected(cmd))
		return;
	/* Data direction mismatches are not errors here: libiscsi's
	 * iSCSIResiduals tests expect GOOD with residuals (RFC 7143 11.4.5.1)
	 * and the fabric moves only what both sides agree on. */
	if (!task_set_enter(&lu->tasks[nexus->slot], cmd))
		return;         /* started by task_set_leave() when unblocked */
	scsi_dispatch_start(cmd);
}

/* The data path: commands a worker runs itself. They read shared LU state
 * (reservations, ALUA, mode pages), which changes only while the world is
 * stopped, and write only their own nexus' task set, their thread's
 * statistics and backstore queue. Everything else (PR, MODE SELECT, TMF
 * side effects, COMPARE AND WRITE and the other range-locked commands,
 * XCOPY, SANITIZE, ...) runs on the control thread (workers.h). */
static bool opcode_runs_on_worker(uint8_t opcode)
{
	switch (opcode) {
	case 0x08: case 0x28: case 0xa8: case 0x88:     /* READ 6/10/12/16 */
	case 0x0a: case 0x2a: case 0xaa: case 0x8a:     /* WRITE 6/10/12/16 */
	case 0x35: case 0x91:                           /* SYNCHRONIZE CACHE 10/16 */
	case 0x00:                                      /* TEST UNIT READY */
		return true;
	default:
		return false;
	}
}

static bool runs_on_worker(const struct scsi_cmd *cmd)
{
	/* With an exclusive range claim queued (SBC-3 5.2 atomicity), a
	 * read or write may have to wait in that queue: control thread. */
	return cmd->lu && opcode_runs_on_worker(cmd->cdb[0]) && sbc_range_locks_idle(cmd->lu);
}

static void execute(struct scsi_cmd *cmd)
{
	const struct scsi_opcode_desc *desc;

	/* Aborted while it waited: terminate without running it. */
	if (cmd->aborted) {
		scsi_cmd_complete(cmd);
		return;
	}
	desc = scsi_cmd_desc(cmd);
	if (!desc || !desc->execute) {
		scsi_check_condition(cmd, SK_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
		return;
	}
	desc->execute(cmd);
}

static void execute_on_control(void *arg)
{
	struct scsi_cmd *cmd = arg;

	cmd->nexus->at_control--;
	execute(cmd);
}

void scsi_dispatch_start(struct scsi_cmd *cmd)
{
	if (!on_control_thread() && !cmd->aborted &&
	    (cmd->nexus->at_control || !runs_on_worker(cmd))) {
		/* The command stays in its nexus' task set and RUNNING; the
		 * control thread runs it with the world stopped and its
		 * completion reaches the fabric the same way. */
		cmd->nexus->at_control++;
		workers_run_on_control(&cmd->to_control, execute_on_control, cmd);
		return;
	}
	execute(cmd);
}

/* ---------------------------------------------------------------------
 * Completion
 */

static bool opcode_is_read(uint8_t opcode)
{
	return opcode == 0x08 || opcode == 0x28 || opcode == 0xa8 || opcode == 0x88;
}

static bool opcode_is_write(uint8_t opcode)
{
	switch (opcode) {
	case 0x0a: case 0x2a: case 0xaa: case 0x8a:     /* WRITE 6/10/12/16 */
	case 0x2e: case 0xae: case 0x8e:                /* WRITE AND VERIFY */
	case 0x89: case 0x8b: case 0x9c:                /* CAW, ORWRITE, WRITE ATOMIC */
		return true;
	default:
		return false;
	}
}

/* Counted by the thread that owns the slot (or the control thread with
 * the world stopped); read by mgmt and metrics (model.h lu_stat_add). */
static void update_stats(struct lu *lu, const struct scsi_cmd *cmd)
{
	struct lu_stats *s = &lu->stats[cmd->nexus->slot];
	uint64_t now = ev_now_ns();
	/* Start and end may be stamped by two threads' loop clocks. */
	uint64_t ns = now > cmd->start_ns ? now - cmd->start_ns : 0;
	enum lu_stat_op op;

	if (cmd->status != SAM_STAT_GOOD && cmd->status != SAM_STAT_CONDITION_MET)
		lu_stat_add(&s->errors, 1);
	if (opcode_is_read(cmd->cdb[0])) {
		op = LU_OP_READ;
		lu_stat_add(&s->read_cmds, 1);
		lu_stat_add(&s->read_bytes, cmd->data_in_len);
		lu_stat_add(&s->read_ns, ns);
	} else if (opcode_is_write(cmd->cdb[0])) {
		op = LU_OP_WRITE;
		lu_stat_add(&s->write_cmds, 1);
		lu_stat_add(&s->write_bytes, cmd->status == SAM_STAT_GOOD ? cmd->transfer_len : 0);
		lu_stat_add(&s->write_ns, ns);
	} else {
		op = LU_OP_OTHER;
		lu_stat_add(&s->other_cmds, 1);
		lu_stat_add(&s->other_ns, ns);
	}
	lu_stat_add(&s->latency[op][lu_latency_bucket(ns)], 1);
}

static void release_check_on_control(void *arg)
{
	lu_release_if_retired(arg);
}

/* A retired LU is freed by the control thread once no task is left. */
static void release_if_retired(struct lu *lu)
{
	if (!on_control_thread()) {
		workers_run_on_control(&lu->release_check, release_check_on_control, lu);
		return;
	}
	/* A worker's check may be pending: the LU may be freed here. */
	workers_cancel_on_control(&lu->release_check);
	lu_release_if_retired(lu);
}

void scsi_cmd_complete(struct scsi_cmd *cmd)
{
	struct lu *lu = cmd->lu;
	struct task_set *ts = lu ? &lu->tasks[cmd->nexus->slot] : NULL;
	bool start_others = false;

	if (lu) {
		if (!cmd->aborted)
			update_stats(lu, cmd);
		if (cmd->state == CMD_RUNNING || cmd->state == CMD_WAITING)
			start_others = task_set_detach(ts, cmd);
	}
	cmd->state = CMD_DONE;
	/* Hand this command back before starting the ones it blocked, so
	 * that responses leave in task order; the fabric may free cmd. */
	cmd->nexus->fabric->cmd_done(cmd);
	if (start_others)
		task_set_start_ready(ts);
	if (lu && lu->retired)
		release_if_retired(lu);
}

void scsi_cmd_good(struct scsi_cmd *cmd)
{
	cmd->status = SAM_STAT_GOOD;
	scsi_cmd_complete(cmd);
}

int scsi_cmd_data_in(struct scsi_cmd *cmd, const void *data, uint32_t len, uint32_t alloc_len)
{
	uint32_t n = MIN(len, alloc_len);

	if (n && scsi_cmd_ensure_buf(cmd, n) < 0)
		return -ENOMEM;
	if (n)
		memcpy(cmd->buf, data, n);
	cmd->data_in_len = n;
	cmd->transfer_len = n;
	return 0;
}

/* ---------------------------------------------------------------------
 * Backstore I/O
 */

typedef void (*scsi_io_done_fn)(struct scsi_cmd *cmd, int result);

/* The request is embedded in the command, so the command is found from
 * it; io->arg carries the caller's continuation. The result is the
 * backstore's own: a multi-step command checks cmd->aborted between steps
 * and completes early (its fabric sends no response for it), and a
 * long-running one (SANITIZE) detaches from the task that way while its
 * operation goes on (SBC-3 4.11). */
static void scsi_io_done(struct bs_io *io)
{
	struct scsi_cmd *cmd = container_of(io, struct scsi_cmd, io);
	scsi_io_done_fn done = (scsi_io_done_fn)io->arg;

	done(cmd, io->result);
}

struct bs_io *scsi_cmd_io_prepare(struct scsi_cmd *cmd, enum bs_op op, uint64_t offset,
				  uint64_t length, void *buf, bool fua,
				  void (*done)(struct scsi_cmd *cmd, int result))
{
	struct bs_io *io = &cmd->io;

	memset(io, 0, sizeof(*io));
	io->op = op;
	io->offset = offset;
	io->length = length;
	io->buf = buf;
	io->fua = fua;
	io->done = scsi_io_done;
	io->arg = (void *)done;
	return io;
}

void scsi_cmd_io_submit(struct scsi_cmd *cmd)
{
	cmd->lu->bs_ops->submit(cmd->lu, &cmd->io);
}

void scsi_cmd_io(struct scsi_cmd *cmd, enum bs_op op, uint64_t offset, uint64_t length,
		 void *buf, bool fua, void (*done)(struct scsi_cmd *cmd, int result))
{
	scsi_cmd_io_prepare(cmd, op, offset, length, buf, fua, done);
	scsi_cmd_io_submit(cmd);
}
