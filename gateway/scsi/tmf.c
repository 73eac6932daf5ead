/* Task management functions (SAM-5 7, RFC 7143 11.5) and the events that
 * end tasks: I_T nexus creation and loss (SAM-5 6.3).
 *
 * Aborting a task: one still waiting in the task set is terminated at
 * once; one already running (at the backstore, or waiting for a
 * shared-state operation) is marked aborted and runs to its end, after
 * which its fabric releases it without a response (SAM-5 7.2). A TMF
 * responds only once every task it aborted is gone and the operations
 * it submitted through the shared-state door have been applied here. */
#include <stdlib.h>
#include <string.h>

#include "../event_loop.h"
#include "../workers.h"
#include "../log.h"
#include "pr.h"
#include "scsi_internal.h"
#include "scsi_lu.h"
#include "sense.h"
#include "spc.h"
#include "ua.h"
#include "../util.h"

/* How often a TMF checks whether the tasks it aborted have ended. */
#define TMF_POLL_MS 1

/* A TMF waiting for aborted tasks and applied operations. Its scope is
 * named (target IQN, LUN) rather than pointed at, since an LU may be
 * removed meanwhile. */
struct tmf_wait {
	struct ev_timer timer;
	struct gateway *gw;
	struct tmf_req *req;
	char target_iqn[ISCSI_NAME_MAX];
	bool whole_target;
	uint64_t lun;
	unsigned ops_pending;
	bool ops_failed;
	bool drop_sessions;       /* TARGET COLD RESET (RFC 7143 11.5.1) */
};

static const char *tmf_function_name(enum tmf_function f)
{
	static const char *const names[] = {
		[TMF_ABORT_TASK] = "ABORT TASK", [TMF_ABORT_TASK_SET] = "ABORT TASK SET",
		[TMF_CLEAR_ACA] = "CLEAR ACA", [TMF_CLEAR_TASK_SET] = "CLEAR TASK SET",
		[TMF_LOGICAL_UNIT_RESET] = "LOGICAL UNIT RESET", [TMF_TARGET_WARM_RESET] = "TARGET WARM RESET",
		[TMF_TARGET_COLD_RESET] = "TARGET COLD RESET", [TMF_TASK_REASSIGN] = "TASK REASSIGN",
	};

	return (unsigned)f < ARRAY_SIZE(names) && names[f] ? names[f] : "unknown function";
}

/* Task management is rare and tells an admin that an initiator gave up
 * on commands (timeouts, error handling): log each one with its answer. */
static void tmf_respond(struct tmf_req *req, uint8_t response)
{
	static const char *const answers[] = {
		[TMF_RSP_COMPLETE] = "function complete", [TMF_RSP_NO_TASK] = "task does not exist",
		[TMF_RSP_NO_LUN] = "LUN does not exist", [TMF_RSP_TASK_ALLEGIANT] = "task still allegiant",
		[TMF_RSP_NO_REASSIGN] = "reassignment not supported",
		[TMF_RSP_NOT_SUPPORTED] = "function not supported", [TMF_RSP_AUTH_FAILED] = "authorization failed",
	};

	log_info("%s from %s, LUN %llu (tag 0x%llx): %s", tmf_function_name(req->function),
		 req->nexus->initiator_port, (unsigned long long)req->lun, (unsigned long long)req->ref_tag,
		 response < ARRAY_SIZE(answers) && answers[response] ? answers[response] : "rejected");
	req->response = response;
	req->nexus->fabric->tmf_done(req);
}

/* Terminate the aborted tasks that are still waiting in the task set,
 * newest first so that none of them is started on the way. Completing
 * one may start or finish others: look again from the tail each time. */
static void finish_waiting_aborts(struct lu *lu)
{
	for (;;) {
		struct scsi_cmd *cmd, *victim = NULL;

		LU_FOREACH_TASK(cmd, lu, set)
			if (cmd->aborted && cmd->state == CMD_WAITING)
				victim = cmd;
		if (!victim)
			return;
		scsi_cmd_complete(victim);
	}
}

static bool lu_has_aborted_tasks(const struct lu *lu)
{
	const struct scsi_cmd *cmd;

	LU_FOREACH_TASK(cmd, lu, set)
		if (cmd->aborted)
			return true;
	return false;
}

/* Mark the tasks of one nexus (or of all when nexus is NULL) aborted.
 * With establish_ua, the other nexuses whose tasks were aborted get
 * COMMANDS CLEARED BY ANOTHER INITIATOR (SAM-5 7.4, CLEAR TASK SET). */
static unsigned abort_lu_tasks(struct lu *lu, const struct it_nexus *nexus,
			       const struct it_nexus *requester, bool establish_ua)
{
	struct scsi_cmd *cmd;
	unsigned n = 0;

	LU_FOREACH_TASK(cmd, lu, set) {
		if (nexus && cmd->nexus != nexus)
			continue;
		if (!cmd->aborted)
			n++;
		cmd->aborted = true;
		if (establish_ua && cmd->nexus != requester)
			ua_establish(cmd->nexus, lu_key(lu), ASC_COMMANDS_CLEARED_BY_ANOTHER_INITIATOR);
	}
	finish_waiting_aborts(lu);
	return n;
}

/* ---------------------------------------------------------------------
 * Waiting for the end of aborted tasks
 */

static bool scope_busy(struct tmf_wait *w)
{
	struct target *t = gw_find_target(w->gw, w->target_iqn);
	struct lu *lu;

	if (!t)
		return false;
	if (!w->whole_target) {
		lu = target_find_lu(t, w->lun);
		return lu && lu_has_aborted_tasks(lu);
	}
	TAILQ_FOREACH(lu, &t->lus, link)
		if (lu_has_aborted_tasks(lu))
			return true;
	return false;
}

static void drop_target_sessions(struct gateway *gw, const char *iqn)
{
	struct it_nexus *nexus;

	/* The fabric unregisters each nexus later, from its loop, so the
	 * list does not change under us. */
	TAILQ_FOREACH(nexus, &gw->nexuses, link)
		if (strcasecmp(nexus->target->iqn, iqn) == 0)
			nexus->fabric->drop(nexus);
}

static void tmf_finish(struct tmf_wait *w)
{
	struct gateway *gw = w->gw;
	char iqn[ISCSI_NAME_MAX];
	bool drop = w->drop_sessions;

	ev_timer_cancel(gw->loop, &w->timer);
	str_copy(iqn, w->target_iqn, sizeof(iqn));
	tmf_respond(w->req, w->ops_failed ? TMF_RSP_REJECTED : TMF_RSP_COMPLETE);
	free(w);
	/* RFC 7143 11.5.1: after a TARGET COLD RESET the target closes every
	 * connection; the response goes out first. */
	if (drop)
		drop_target_sessions(gw, iqn);
}

static void tmf_check(struct tmf_wait *w)
{
	if (w->ops_pending == 0 && !scope_busy(w)) {
		tmf_finish(w);
		return;
	}
	if (!w->timer.armed)
		ev_timer_arm(w->gw->loop, &w->timer, TMF_POLL_MS);
}

static void tmf_timer_fired(struct event_loop *loop, void *arg)
{
	(void)loop;
	tmf_check(arg);
}

static void tmf_op_applied(void *ctx, int result)
{
	struct tmf_wait *w = ctx;

	w->ops_pending--;
	if (result != 0)
		w->ops_failed = true;
	tmf_check(w);
}

static struct tmf_wait *tmf_wait_new(struct tmf_req *req, bool whole_target, uint64_t lun)
{
	struct target *t = req->nexus->target;
	struct tmf_wait *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->gw = t->gw;
	w->req = req;
	str_copy(w->target_iqn, t->iqn, sizeof(w->target_iqn));
	w->whole_target = whole_target;
	w->lun = lun;
	ev_timer_init(&w->timer, tmf_timer_fired, w);
	return w;
}

/* ---------------------------------------------------------------------
 * Resets
 */

/* SAM-5 6.3.3 logical unit reset: abort every task, release the SPC-2
 * reservation, return mode parameters and medium removal to their
 * initial state, and establish a unit attention for every I_T nexus
 * (the requester's too: multipath initiators look for it on each path). */
static void lu_reset(struct tmf_wait *w, struct lu *lu, uint16_t ua_asc)
{
	abort_lu_tasks(lu, NULL, NULL, false);
	pr_lu_reset(lu);
	ua_raise(lu, 0, ua_asc);
	if (spc_lu_reset_submit(lu, tmf_op_applied, w) == 0)
		w->ops_pending++;
	else
		w->ops_failed = true;
}

static void target_reset(struct tmf_req *req, bool cold)
{
	struct target *t = req->nexus->target;
	struct tmf_wait *w = tmf_wait_new(req, true, 0);
	struct lu *lu;

	if (!w) {
		tmf_respond(req, TMF_RSP_REJECTED);
		return;
	}
	w->drop_sessions = cold;
	/* A target reset is a hard reset of each LU (SAM-5 6.3.2). Its unit
	 * attention uses the generic POWER ON, RESET, OR BUS DEVICE RESET
	 * OCCURRED, which SAM-5 allows for any reset: initiators (libiscsi's
	 * RESERVE/RELEASE helpers among them) retry on that code alone. */
	TAILQ_FOREACH(lu, &t->lus, link)
		lu_reset(w, lu, ASC_POWER_ON_RESET);
	tmf_check(w);
}

/* ---------------------------------------------------------------------
 * Entry point
 */

static void tmf_run(struct tmf_req *req);

static void tmf_run_deferred(void *arg)
{
	tmf_run(arg);
}

/* TMFs reach across nexuses and workers (LOGICAL UNIT RESET, TARGET
 * RESET, PR and UA side effects): they run on the control thread with the
 * world stopped (workers.h). */
void scsi_tmf_submit(struct tmf_req *req)
{
	if (on_control_thread())
		tmf_run(req);
	else
		workers_run_on_control(&req->to_control, tmf_run_deferred, req);
}

static void tmf_run(struct tmf_req *req)
{
	struct it_nexus *nexus = req->nexus;
	struct tmf_wait *w;
	struct scsi_cmd *cmd;
	struct lu *lu = NULL;

	req->waiting = 0;
	switch (req->function) {
	case TMF_TARGET_WARM_RESET:
		target_reset(req, false);
		return;
	case TMF_TARGET_COLD_RESET:
		target_reset(req, true);
		return;
	case TMF_CLEAR_ACA:
		/* NACA is never accepted, so there is no ACA to clear. */
		tmf_respond(req, TMF_RSP_NOT_SUPPORTED);
		return;
	case TMF_TASK_REASSIGN:
		/* RFC 7143 11.5.1: reassignment needs ErrorRecoveryLevel 2. */
		tmf_respond(req, TMF_RSP_NO_REASSIGN);
		return;
	case TMF_ABORT_TASK:
	case TMF_ABORT_TASK_SET:
	case TMF_CLEAR_TASK_SET:
	case TMF_LOGICAL_UNIT_RESET:
		lu = target_resolve_lun(nexus->target, nexus->acl, req->lun);
		if (!lu || lu->removing) {
			tmf_respond(req, TMF_RSP_NO_LUN);
			return;
		}
		break;
	default:
		tmf_respond(req, TMF_RSP_NOT_SUPPORTED);
		return;
	}

	w = tmf_wait_new(req, false, lu->lun);
	if (!w) {
		tmf_respond(req, TMF_RSP_REJECTED);
		return;
	}
	switch (req->function) {
	case TMF_ABORT_TASK:
		/* A nexus' tasks are all in its thread's task set. */
		TAILQ_FOREACH(cmd, &lu->tasks[nexus->slot].cmds, task_link)
			if (cmd->nexus == nexus && cmd->tag == req->ref_tag)
				break;
		if (!cmd) {
			/* RFC 7143 11.6.1: already completed (or never seen). */
			free(w);
			tmf_respond(req, TMF_RSP_NO_TASK);
			return;
		}
		cmd->aborted = true;
		req->waiting = 1;
		finish_waiting_aborts(lu);
		break;
	case TMF_ABORT_TASK_SET:
		req->waiting = abort_lu_tasks(lu, nexus, nexus, false);
		break;
	case TMF_CLEAR_TASK_SET:
		/* SAM-5 7.4 with TST=001b (a task set per I_T nexus, as the
		 * control mode page reports): the requester's tasks only. */
		req->waiting = abort_lu_tasks(lu, nexus, nexus, false);
		break;
	default:        /* TMF_LOGICAL_UNIT_RESET */
		lu_reset(w, lu, ASC_BUS_DEVICE_RESET_FUNCTION_OCCURRED);
		break;
	}
	tmf_check(w);
}

/* ---------------------------------------------------------------------
 * I_T nexus events (SAM-5 6.3)
 */

void scsi_nexus_register(struct it_nexus *nexus)
{
	struct lu *lu;
	uint64_t mapped;

	/* SAM-5 6.3.1: a new I_T nexus starts with POWER ON, RESET, OR BUS
	 * DEVICE RESET OCCURRED on every LU it reaches. */
	TAILQ_FOREACH(lu, &nexus->target->lus, link)
		if (!lu->removing && acl_maps_lu(nexus->acl, lu, &mapped))
			ua_establish(nexus, lu_key(lu), ASC_POWER_ON_RESET);
}

void scsi_nexus_unregister(struct it_nexus *nexus)
{
	scsi_nexus_unregister_then(nexus, NULL, NULL);
}

void scsi_nexus_unregister_then(struct it_nexus *nexus, scsi_nexus_released_fn released,
				void *ctx)
{
	struct lu *lu;

	/* SAM-5 6.3.4 I_T nexus loss: its tasks are aborted. Those at the
	 * backstore end later with cmd_done(aborted); the fabric keeps the
	 * nexus alive until then. */
	TAILQ_FOREACH(lu, &nexus->target->lus, link) {
		abort_lu_tasks(lu, nexus, nexus, false);
		/* SBC-3 5.13, SPC-4 6.18.1: nexus loss ends its medium
		 * removal prevention and drops its held copy results. */
		scsi_lu_nexus_lost(lu, nexus);
	}
	ua_clear_nexus(nexus);
	pr_nexus_lost(nexus, released, ctx);
}
