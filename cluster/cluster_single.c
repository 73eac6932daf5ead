/* The single-node shared-state service: a group of one. Operations are
 * queued and applied in submission order from the event loop (never inside
 * submit(), exactly as they would arrive from corosync), then the origin's
 * done callback runs. */
#include "cluster.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include "../gateway/event_loop.h"

struct pending_op {
	uint16_t type;
	uint32_t len;
	cluster_done_fn done;
	void *ctx;
	TAILQ_ENTRY(pending_op) link;
	uint8_t payload[];
};

struct single_state {
	TAILQ_HEAD(, pending_op) queue;
	struct ev_deferred deliver;
	bool started;
	bool version_known;   /* c->state_version taken from saved_state() */
};

static void single_deliver(void *arg)
{
	struct cluster *c = arg;
	struct single_state *s = c->priv;
	struct pending_op *op;

	if (!s->version_known) {
		/* Versions go on from what the gateway saved before a restart. */
		uint64_t saved = 0;

		if (c->cb->saved_state && c->cb->saved_state(c->owner, &saved))
			c->state_version = saved;
		s->version_known = true;
	}
	while ((op = TAILQ_FIRST(&s->queue))) {
		int result;

		TAILQ_REMOVE(&s->queue, op, link);
		c->state_version++;
		result = c->cb->apply(c->owner, c->node_id, op->type, op->payload, op->len);
		if (op->done)
			op->done(op->ctx, result);
		free(op);
	}
}

static int single_start(struct cluster *c)
{
	struct single_state *s = calloc(1, sizeof(*s));
	uint32_t self = c->node_id;

	if (!s)
		return -ENOMEM;
	TAILQ_INIT(&s->queue);
	s->started = true;
	c->priv = s;
	if (c->cb->membership)
		c->cb->membership(c->owner, &self, 1, NULL, 0);
	if (c->cb->quorum)
		c->cb->quorum(c->owner, true);
	return 0;
}

static void single_stop(struct cluster *c)
{
	struct single_state *s = c->priv;

	if (!s)
		return;
	/* Deliver what was accepted: its submitters are waiting for it. */
	ev_defer_cancel(c->loop, &s->deliver);
	single_deliver(c);
	free(s);
	c->priv = NULL;
}

static int single_submit(struct cluster *c, uint16_t type, const void *payload, uint32_t len,
			 cluster_done_fn done, void *ctx)
{
	struct single_state *s = c->priv;
	struct pending_op *op;

	if (!s)
		return -EAGAIN;
	op = malloc(sizeof(*op) + len);
	if (!op)
		return -ENOMEM;
	op->type = type;
	op->len = len;
	op->done = done;
	op->ctx = ctx;
	memcpy(op->payload, payload, len);
	TAILQ_INSERT_TAIL(&s->queue, op, link);
	ev_defer(c->loop, &s->deliver, single_deliver, c);
	return 0;
}

static bool single_ready(struct cluster *c)
{
	return c->priv != NULL;
}

/* A group of one: this node answers itself at once. */
static int single_ask(struct cluster *c, const void *question, uint32_t len, uint32_t timeout_ms,
		      cluster_answers_fn done, void *ctx)
{
	struct cluster_answer a = { .node = c->node_id };
	void *reply = NULL;
	size_t reply_len = 0;

	(void)timeout_ms;
	if (!c->cb->answer)
		return -ENOTSUP;
	if (c->cb->answer(c->owner, question, len, &reply, &reply_len) == 0) {
		a.data = reply;
		a.len = reply_len;
	}
	done(ctx, &a, a.data ? 1 : 0);
	free(reply);
	return 0;
}

static void single_view(struct cluster *c, struct cluster_view *v)
{
	memset(v, 0, sizeof(*v));
	v->quorate = v->ready = c->priv != NULL;
	v->n_nodes = 1;
	v->nodes[0].id = c->node_id;
	v->nodes[0].present = true;
	if (gethostname(v->nodes[0].name, sizeof(v->nodes[0].name) - 1) < 0)
		v->nodes[0].name[0] = '\0';
}

const struct cluster_service_ops cluster_single_ops = {
	.name = "none",
	.start = single_start,
	.stop = single_stop,
	.submit = single_submit,
	.ready = single_ready,
	.ask = single_ask,
	.view = single_view,
};
