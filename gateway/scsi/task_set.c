/* Task sets (SAM-5 8.5-8.6). The control mode page says TST=001b: a task
 * set per I_T nexus. An LU keeps one set per worker thread,
 * lu->tasks[nexus->slot], shared by the nexuses of that worker: a nexus'
 * tasks are ordered as the attributes ask, and tasks of two nexuses on one
 * worker only more strictly than needed; no lock is shared between
 * workers. Commands sit in the set in arrival order, each WAITING or
 * RUNNING. The task attribute rules:
 *   SIMPLE        enabled once every older HEAD OF QUEUE and ORDERED task
 *                 has completed;
 *   ORDERED       enabled once every older task has completed, and blocks
 *                 newer SIMPLE and ORDERED tasks until it completes;
 *   HEAD OF QUEUE enabled at once; older tasks do not wait for it, newer
 *                 SIMPLE ones do (it is "older" to them).
 * ts->running counts enabled tasks and ts->ordered_running the enabled
 * ORDERED and HEAD OF QUEUE ones ("blockers"), so entering is O(1) and a
 * completion only walks the list when something can have become runnable:
 * a blocker finished, or the oldest task in the set is waiting. */
#include <stdbool.h>

#include "scsi_internal.h"

static bool is_blocker(const struct scsi_cmd *cmd)
{
	return cmd->task_attr == TASK_ORDERED || cmd->task_attr == TASK_HEAD_OF_QUEUE;
}

static void mark_running(struct task_set *ts, struct scsi_cmd *cmd)
{
	cmd->state = CMD_RUNNING;
	ts->running++;
	if (is_blocker(cmd))
		ts->ordered_running++;
}

/* A named twin of the anonymous list head in struct task_set, for
 * TAILQ_LAST/TAILQ_PREV (same layout, as sys/queue.h relies on). */
TAILQ_HEAD(task_list, scsi_cmd);

/* Waiting commands are a suffix of the set once HEAD OF QUEUE tasks (which
 * never wait) are skipped: a command that arrives while anything waits
 * waits too, and waiting ones start in arrival order. So the newest
 * non-HEAD OF QUEUE task tells whether anything waits. */
static bool any_waiting(struct task_set *ts)
{
	struct scsi_cmd *cmd;

	for (cmd = TAILQ_LAST(&ts->cmds, task_list); cmd;
	     cmd = TAILQ_PREV(cmd, task_list, task_link))
		if (cmd->task_attr != TASK_HEAD_OF_QUEUE)
			return cmd->state == CMD_WAITING;
	return false;
}

bool task_set_enter(struct task_set *ts, struct scsi_cmd *cmd)
{
	bool may_run;

	switch (cmd->task_attr) {
	case TASK_HEAD_OF_QUEUE:
		may_run = true;
		break;
	case TASK_ORDERED:
		may_run = TAILQ_EMPTY(&ts->cmds);
		break;
	default:
		/* Anything waiting waits behind an older blocker that also
		 * blocks this command. */
		may_run = ts->ordered_running == 0 && !any_waiting(ts);
		break;
	}
	TAILQ_INSERT_TAIL(&ts->cmds, cmd, task_link);
	if (may_run)
		mark_running(ts, cmd);
	else
		cmd->state = CMD_WAITING;
	return may_run;
}

/* The oldest waiting command that may run now, or NULL. Walks the set
 * in arrival order, remembering whether older tasks (and older blockers)
 * are still present. */
static struct scsi_cmd *first_runnable(struct task_set *ts)
{
	struct scsi_cmd *cmd;
	bool older_task = false, older_blocker = false;

	TAILQ_FOREACH(cmd, &ts->cmds, task_link) {
		if (cmd->state == CMD_WAITING) {
			if (cmd->task_attr == TASK_ORDERED)
				return older_task ? NULL : cmd;
			/* SIMPLE: every later waiting command is behind the
			 * same blocker, so the walk can stop here either way. */
			return older_blocker ? NULL : cmd;
		}
		older_task = true;
		if (is_blocker(cmd))
			older_blocker = true;
	}
	return NULL;
}

/* Take cmd out of the set; true when waiting commands may have become
 * runnable (a blocker finished, a waiting command left, or the oldest
 * remaining command waits). */
bool task_set_detach(struct task_set *ts, struct scsi_cmd *cmd)
{
	bool was_blocker = cmd->state == CMD_RUNNING && is_blocker(cmd);
	bool was_waiting = cmd->state == CMD_WAITING;

	if (cmd->state == CMD_RUNNING) {
		ts->running--;
		if (is_blocker(cmd))
			ts->ordered_running--;
	}
	TAILQ_REMOVE(&ts->cmds, cmd, task_link);
	cmd->state = CMD_DONE;
	if (TAILQ_EMPTY(&ts->cmds))
		return false;
	return was_blocker || was_waiting || TAILQ_FIRST(&ts->cmds)->state == CMD_WAITING;
}

/* Start every command that may run now, oldest first. Starting one may
 * complete it (and others) before scsi_dispatch_start() returns, changing
 * the set under us: look for the next one from the head each time. */
void task_set_start_ready(struct task_set *ts)
{
	struct scsi_cmd *next;

	while ((next = first_runnable(ts))) {
		mark_running(ts, next);
		scsi_dispatch_start(next);
	}
}

void task_set_leave(struct task_set *ts, struct scsi_cmd *cmd)
{
	if (task_set_detach(ts, cmd))
		task_set_start_ready(ts);
}
