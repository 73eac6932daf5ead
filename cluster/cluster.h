/* The shared-state service (design.md, principle 1). Every change to state
 * the nodes must agree on is an operation submitted here; the service
 * delivers it to every member in one total order and each member applies it
 * with the same deterministic code (the gateway's apply callback). The
 * originating node learns the result through the done callback, which runs
 * only after every synchronised member has applied the operation (so a
 * completed change is visible through every node). The single-node
 * service (cluster_single.c) is a group of one; the corosync one implements
 * the same ops table. The gateway never talks to corosync directly. */
#ifndef SANGW_CLUSTER_H
#define SANGW_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_loop;
struct cluster;

/* Called by the service on every member, in delivery order. Must be
 * deterministic: same state + same operation = same result everywhere.
 * The return value reaches the origin's done callback. */
typedef int (*cluster_apply_fn)(void *owner, uint32_t origin_node, uint16_t type,
				const void *payload, uint32_t len);
typedef void (*cluster_done_fn)(void *ctx, int result);

struct cluster_callbacks {
	cluster_apply_fn apply;
	/* State transfer for joining nodes (corosync): serialize into a
	 * malloc'd buffer (the service frees it) / load. May be NULL. */
	int (*snapshot)(void *owner, void **buf, size_t *len);
	int (*restore)(void *owner, const void *buf, size_t len);
	/* Membership changed: the nodes now present and the ones that left. */
	void (*membership)(void *owner, const uint32_t *members, size_t n_members,
			   const uint32_t *left, size_t n_left);
	/* Ready (quorate and synchronised) or not: I/O and shared-state
	 * changes stop while not. */
	void (*quorum)(void *owner, bool quorate);
	/* Did the gateway start from saved state (a configuration file, APTPL
	 * reservations)? If so, *version is the state version it was saved
	 * at (0: not recorded). A group that starts with no synchronised
	 * member elects the newest saved state on offer. May be NULL; asked
	 * once, from the event loop, before the first delivery. */
	bool (*saved_state)(void *owner, uint64_t *version);
	/* A member's sangwd has not been heard from for longer than the
	 * serving lease plus a totem token (silent = true), although corosync
	 * still lists it (stopped, frozen, or its control thread stuck), or
	 * is heard again (false). Local to this node and not in delivery
	 * order: the gateway acts on it only through an operation it submits
	 * (fencing.c). May be NULL. */
	void (*member_silent)(void *owner, uint32_t node, bool silent);
	/* A question another member (or this one) asked with ops->ask: fill
	 * *reply with a malloc'd answer (the service frees it). Not in
	 * delivery order and not only while ready: a node in a minority
	 * partition still answers its own side. Returns 0 or -errno (no
	 * answer is then sent). May be NULL. */
	int (*answer)(void *owner, const void *question, uint32_t len, void **reply, size_t *reply_len);
};

/* The largest operation payload ops->submit takes (-EMSGSIZE beyond):
 * a whole configuration of ~1,000 LUs and 1,000 ACLs fits. */
#define CLUSTER_OP_MAX (256u * 1024)

/* The largest answer a member sends to ops->ask (bigger ones are not sent:
 * the asker sees that member as not answering). */
#define CLUSTER_ANSWER_MAX (256u * 1024)

/* One member's answer to ops->ask. */
struct cluster_answer {
	uint32_t node;
	const void *data;
	size_t len;
};

/* Every answer that came (at most one per member), then the asker's
 * callback; the answers live until it returns. */
typedef void (*cluster_answers_fn)(void *ctx, const struct cluster_answer *answers, size_t n);

#define CLUSTER_NODES_MAX 64
#define CLUSTER_NODE_NAME_MAX 64

/* A node as the cluster's configuration names it (corosync's nodelist),
 * and whether its sangwd is in the group now. */
struct cluster_node {
	uint32_t id;
	char name[CLUSTER_NODE_NAME_MAX];
	char address[CLUSTER_NODE_NAME_MAX];
	bool present;
};

/* The cluster as this node sees it now, for administrators (status,
 * errors that name missing nodes). */
struct cluster_view {
	bool quorate;             /* the membership layer's quorum */
	bool ready;               /* quorate and synchronised: ops->ready */
	size_t n_nodes;           /* configured nodes, ascending by id, plus any present unlisted one */
	struct cluster_node nodes[CLUSTER_NODES_MAX];
};

struct cluster_service_ops {
	const char *name;
	int (*start)(struct cluster *c);
	void (*stop)(struct cluster *c);
	/* Queue an operation for total-order delivery. done(ctx, result) runs
	 * on this node once every synchronised member has applied it, with
	 * the local apply's result, or with -EAGAIN if quorum was lost before
	 * that (the outcome is then unknown here). Returns 0 or -errno (not
	 * quorate: -EAGAIN; the operation was not sent). */
	int (*submit)(struct cluster *c, uint16_t type, const void *payload, uint32_t len,
		      cluster_done_fn done, void *ctx);
	/* May this node serve I/O and change shared state now? */
	bool (*ready)(struct cluster *c);
	/* Ask every member present now (this one included) a question
	 * (cb->answer answers it on each); done(ctx, answers) runs once all
	 * have answered or members that left were given up on, or after
	 * timeout_ms with the answers that came. done may run before ask
	 * returns. Returns 0 or -errno (done will not run). */
	int (*ask)(struct cluster *c, const void *question, uint32_t len, uint32_t timeout_ms,
		   cluster_answers_fn done, void *ctx);
	/* The nodes and quorum as this node sees them now. */
	void (*view)(struct cluster *c, struct cluster_view *v);
};

struct cluster {
	const struct cluster_service_ops *ops;
	struct event_loop *loop;
	const struct cluster_callbacks *cb;
	void *owner;
	uint32_t node_id;
	/* The state version (operations applied to the shared state, the same
	 * number at the same point of the delivery stream on every member).
	 * Kept by the service: inside apply() it is the version the state has
	 * once that operation is applied; inside restore() the snapshot's.
	 * The gateway persists it with its state (saved_state). */
	uint64_t state_version;
	void *priv;
};

/* kind: "none" (single node) or "corosync". NULL on unknown kind. */
struct cluster *cluster_create(const char *kind, struct event_loop *loop,
			       const struct cluster_callbacks *cb, void *owner);
void cluster_destroy(struct cluster *c);

static inline int cluster_submit(struct cluster *c, uint16_t type, const void *payload,
				 uint32_t len, cluster_done_fn done, void *ctx)
{
	return c->ops->submit(c, type, payload, len, done, ctx);
}

static inline bool cluster_ready(struct cluster *c)
{
	return c->ops->ready(c);
}

static inline int cluster_ask(struct cluster *c, const void *question, uint32_t len,
			      uint32_t timeout_ms, cluster_answers_fn done, void *ctx)
{
	return c->ops->ask(c, question, len, timeout_ms, done, ctx);
}

static inline void cluster_view(struct cluster *c, struct cluster_view *v)
{
	c->ops->view(c, v);
}

extern const struct cluster_service_ops cluster_single_ops;
#ifdef HAVE_COROSYNC
extern const struct cluster_service_ops cluster_corosync_ops;
#endif

#endif
