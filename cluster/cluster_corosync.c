/* The corosync shared-state service (design.md, principle 1; issue 5).
 *
 * Every sangwd joins one CPG group named after the corosync cluster
 * (cmap totem.cluster_name, "sangw" when unset). Operations are multicast
 * with CPG_TYPE_AGREED, so every member delivers them in one total order and
 * applies them with the gateway's deterministic apply callback.
 *
 * Completion is linearizable across nodes: the origin runs the submitter's
 * done callback only once every synced member of the current configuration
 * has applied the operation. After each dispatch that applied something a
 * synced member multicasts an ACK carrying its state version (operations
 * applied; the same number at the same point of the stream on every synced
 * member); the origin notes the version its own apply reached and waits
 * until every other synced member has acknowledged at least that. Members
 * that leave are no longer waited for (checked at every configuration
 * change). A joiner is not waited for: it serves no I/O until its state
 * transfer and backlog replay have taken it past the operation, and once
 * synced it acknowledges afresh. If quorum (or the corosync connection) is
 * lost while an operation waits, whether the majority applied it cannot be
 * known here: done() gets -EAGAIN ("not done, retry"), and this node's state
 * is replaced by the majority's before it serves again.
 *
 * A silent member. A member whose sangwd is stopped or stuck while its
 * corosync stays in the membership acknowledges nothing; without a limit it
 * would hold every change of the cluster. So an operation waits at most
 * the ACK deadline (ACK_TIMEOUT_DEFAULT_MS, or the environment variable
 * SANGWD_CLUSTER_ACK_TIMEOUT_MS) after its local apply; then, provided the
 * nodes that did acknowledge it (this one included) are a majority of
 * corosync's nodelist -- so the change survives any partition that keeps
 * quorum -- it completes, and the members still silent are marked so, with
 * a warning naming them. While a member stays silent later operations wait
 * for it only SILENT_WAIT (the serving lease plus the totem token
 * timeout); its next ACK ends that. The silent node itself must not serve
 * with the state it had when it stopped: a node serves I/O only while it
 * holds a lease, i.e. its control thread dispatched everything corosync
 * had queued for it less than LEASE_MS ago (a timer refreshes it every
 * LEASE_REFRESH_MS; ops->ready checks it, on any thread). A node that
 * resumes after a stop longer than the lease therefore answers NOT READY
 * until it has applied the deliveries it missed, and the deadlines are
 * longer than the lease by more than a totem token timeout (the time by
 * which corosync can deliver an operation later on one node than on
 * another without a membership change).
 *
 * Heartbeat. A synced member sends an ACK at least every HEARTBEAT_MS,
 * so a member that corosync still lists but whose sangwd has sent nothing
 * for SILENT_WAIT is noticed without any operation waiting for it: the
 * gateway hears of it through cb->member_silent and may fence it (a node
 * frozen with writes queued to shared storage, gateway/fencing.c).
 *
 * State transfer. A member is "synced" when its state equals that of the
 * group at the current point of the delivery stream. A member that is not
 * synced (it just joined, or its partition lost quorum) multicasts a
 * REQUEST. At the delivery of that REQUEST the lowest synced member (node
 * id, then pid) takes a snapshot of its state -- exactly the state every
 * synced member has at that point of the stream -- and multicasts it in
 * fragments. The requester keeps every operation and membership change
 * delivered after its REQUEST in a backlog; when the snapshot has arrived
 * it restores it, replays the backlog on top, and only then is synced.
 * Each member keeps a table of the group with who is synced; the table is
 * changed only by events every member sees at the same point of the stream
 * (configuration changes, REQUEST and SNAPSHOT deliveries), so all members
 * agree on who must answer. Snapshots carry the sender's list of synced
 * members so a joiner learns it.
 *
 * Elections. When a quorate group has no synced member at all (it has just
 * formed -- a whole-cluster start or restart -- or every node lost quorum),
 * the members elect one: once every member has sent a REQUEST, while
 * quorate, after the last configuration change, the one with the highest
 * state version wins, ties to the lowest node id, and it sends its state to
 * the others. A node's first version is the one its gateway saved with its
 * persistent state before it stopped (cb->saved_state; 0 for none), so
 * after a whole-cluster restart the newest saved state wins (at equal
 * versions, saved state beats none: REQUEST flag SAVED). While saved
 * state is on offer the election also waits until every node of corosync's
 * nodelist has a member in the group (each REQUEST carries the nodelist
 * size), or until a member has waited ELECTION_GRACE_MS and sends a FORCE
 * request: a node that never comes back does not block the others, but a
 * node that starts late with newer state than the elected one loses it.
 * With no saved state anywhere (a fresh cluster) the election is at once.
 *
 * Quorum (libquorum): losing quorum makes every member of the partition
 * unsynced at once, so it stops serving I/O and refuses operations until it
 * is in a quorate partition again and has received a fresh snapshot. Only
 * quorate members answer requests, so a minority never hands out state.
 * The gateway hears about all of this through cb->quorum(owner, ready):
 * ready = quorate and synced, the only condition under which it may serve
 * I/O.
 *
 * Limits: one operation payload is at most CLUSTER_OP_MAX bytes; a snapshot
 * at most SNAPSHOT_MAX bytes, sent in SNAPSHOT_CHUNK fragments; at most
 * CPG_MEMBERS_MAX (128) sangwd processes in a group. An operation sent just
 * before a partition may be delivered on the origin (in corosync's
 * transitional configuration) but not on the other side; the origin then
 * waits for ACKs the other side never sends, until the configuration
 * change: in a minority it gets -EAGAIN, in the majority the others left
 * and are not waited for.
 *
 * Wire format (big-endian, every message):
 *   0 magic "SGWC"  4 version (1)  5 kind  6 flags
 *   8 origin node   12 origin pid  16 sequence (u64)
 *  24 op type (u16) 26 reserved    28 body length (u32)
 *  32 state version (u64)          40 body
 * OP: body = payload; sequence = per-process operation number.
 * ACK: no body; state version = the version the sender has applied (after
 *   each dispatch that applied something, and every HEARTBEAT_MS).
 * REQUEST: no body; sequence = request number; flags bit 0 = sender quorate,
 *   bit 1 = FORCE (elect now), bit 2 = SAVED (started from saved state);
 *   op type = nodes in the sender's nodelist.
 * SNAPSHOT: body = total length u32, offset u32, n_targets u16, n_synced u16,
 *   targets (node u32, pid u32, request u64) x n_targets,
 *   synced (node u32, pid u32) x n_synced, then the fragment bytes;
 *   sequence = snapshot number of the sender.
 * QUESTION: body = the question (cluster ops->ask); sequence = question
 *   number of the sender. Answered by every member, synced or not.
 * ANSWER: body = the answer; sequence = the question's number; state
 *   version = the asker's node << 32 | pid (everyone else ignores it). */
#include "cluster.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include <corosync/cmap.h>
#include <corosync/corotypes.h>
#include <corosync/cpg.h>
#include <corosync/quorum.h>

#include "../gateway/event_loop.h"
#include "../gateway/log.h"
#include "../gateway/util.h"

#define MSG_MAGIC 0x53475743u /* "SGWC" */
#define MSG_VERSION 1
#define MSG_HEADER_LEN 40

enum msg_kind {
	MSG_OP = 1,
	MSG_REQUEST = 2,
	MSG_SNAPSHOT = 3,
	MSG_ACK = 4,
	MSG_QUESTION = 5,
	MSG_ANSWER = 6,
};

#define REQUEST_FLAG_QUORATE 0x0001
#define REQUEST_FLAG_FORCE   0x0002   /* elect among those present now */
#define REQUEST_FLAG_SAVED   0x0004   /* the sender started from saved state */

#define SNAPSHOT_CHUNK (256u * 1024)
#define SNAPSHOT_MAX (64u * 1024 * 1024)
#define SNAPSHOT_BODY_FIXED 12
#define SNAPSHOT_TARGET_LEN 16
#define SNAPSHOT_SYNCED_LEN 8
#define RETRY_MS 10
/* The bounded wait for a silent member's acknowledgement (above). */
#define ACK_TIMEOUT_DEFAULT_MS 10000
#define ACK_TIMEOUT_ENV "SANGWD_CLUSTER_ACK_TIMEOUT_MS"
#define ACK_TIMEOUT_MAX_MS 3600000
/* The serving lease: a node serves I/O only within LEASE_MS of a complete
 * dispatch of its corosync queue, refreshed every LEASE_REFRESH_MS. */
#define LEASE_MS 2000
#define LEASE_REFRESH_MS 250
/* Every synced member says it is alive at least this often (an ACK), so
 * the others notice a member that is stopped while corosync still lists it
 * (cb->member_silent) within SILENT_WAIT even when no operation waits. */
#define HEARTBEAT_MS 500
/* corosync's default totem token timeout, when cmap does not say. */
#define TOKEN_DEFAULT_MS 3000
/* A group with no synchronised member waits this long for every node of
 * corosync's nodelist to bring its state to the election. */
#define ELECTION_GRACE_MS 10000

struct msg_header {
	uint8_t kind;
	uint16_t flags;
	uint32_t node;
	uint32_t pid;
	uint64_t seq;
	uint16_t type;
	uint32_t len;
	uint64_t version;
};

/* One sangwd process in the group, as this member sees it. */
struct member {
	uint32_t node;
	uint32_t pid;
	bool synced;
	bool requested;       /* a REQUEST delivered since the last confchg */
	bool request_quorate;
	uint64_t request;     /* number of its latest delivered REQUEST */
	uint64_t version;     /* state version it announced with it */
	uint16_t expected;    /* nodes in its corosync nodelist */
	bool saved;           /* it started from saved state */
	uint64_t acked;       /* state version it last acknowledged (MSG_ACK) */
	bool silent;          /* an operation completed without its ACK (ours) */
	uint64_t heard_ms;    /* when a message of it was last delivered here */
	bool unresponsive;    /* reported through cb->member_silent */
};

/* An operation submitted here, waiting for its own delivery, then (once
 * applied here) for every synced member to acknowledge it. */
struct pending_op {
	uint64_t seq;
	bool applied;
	int result;               /* of the local apply, once applied */
	uint64_t version;         /* state version right after that apply */
	uint64_t applied_ms;      /* when (monotonic), for the ACK deadline */
	cluster_done_fn done;
	void *ctx;
	TAILQ_ENTRY(pending_op) link;
};

/* A question this node asked (ops->ask), waiting for the members that
 * were present when it was asked. */
struct question {
	uint64_t seq;
	struct { uint32_t node, pid; bool answered; } from[CPG_MEMBERS_MAX];
	size_t n_from;
	struct cluster_answer answers[CPG_MEMBERS_MAX];
	size_t n_answers;
	cluster_answers_fn done;
	void *ctx;
	struct ev_timer timeout;
	struct corosync_state *s;
	TAILQ_ENTRY(question) link;
};

/* A message cpg_mcast_joined refused with CS_ERR_TRY_AGAIN. */
struct outgoing {
	bool is_op;
	uint64_t seq;
	size_t len;
	TAILQ_ENTRY(outgoing) link;
	uint8_t msg[];
};

/* What an unsynced member saw after its REQUEST, replayed after restore. */
struct backlog_entry {
	bool is_op;
	uint32_t node;
	uint32_t pid;
	uint64_t seq;
	uint16_t type;
	uint32_t len;             /* op payload bytes */
	uint32_t *members;        /* confchg: node ids present, then left ones */
	size_t n_members;
	size_t n_left;
	TAILQ_ENTRY(backlog_entry) link;
	uint8_t payload[];
};

struct reassembly {
	bool active;
	uint32_t node;
	uint32_t pid;
	uint64_t snap;
	uint32_t total;
	uint32_t received;
	uint8_t *buf;
};

struct corosync_state {
	struct cluster *c;
	cpg_handle_t cpg;
	quorum_handle_t quorum;
	bool cpg_open;
	bool quorum_open;
	bool joined;
	struct ev_source cpg_src;
	struct ev_source quorum_src;
	bool cpg_src_added;
	bool quorum_src_added;
	struct cpg_name group;
	uint32_t pid;

	bool quorate;
	bool synced;
	bool reported_ready;
	bool request_delivered;   /* my latest REQUEST has been delivered */
	uint64_t my_request;      /* its number */
	uint64_t next_op_seq;
	uint64_t next_request;
	uint64_t next_snapshot;
	uint64_t version;         /* operations applied to the local state */
	bool saved;               /* our gateway started from saved state */
	uint64_t ack_sent;        /* the version our latest MSG_ACK announced */
	bool ack_due;             /* send an ACK even if the version is unchanged */
	uint64_t ack_sent_ms;     /* when (monotonic), for the heartbeat */

	struct member members[CPG_MEMBERS_MAX];
	size_t n_members;
	bool seen_confchg;
	uint32_t configured_nodes; /* nodes in corosync's nodelist (cmap) */
	bool force_election;      /* a FORCE request was delivered in this configuration */
	struct ev_timer election_grace;

	TAILQ_HEAD(, pending_op) pending;
	TAILQ_HEAD(, outgoing) outgoing;
	TAILQ_HEAD(, backlog_entry) backlog;
	TAILQ_HEAD(, question) questions;
	uint64_t next_question;
	/* corosync's nodelist (cmap), read at start, for ops->view. */
	struct cluster_node nodelist[CLUSTER_NODES_MAX];
	size_t n_nodelist;
	struct ev_timer retry;
	struct reassembly snap;

	/* Bounded ACK wait and the serving lease (top of the file). */
	uint64_t ack_timeout_ms;
	uint64_t silent_wait_ms;
	uint32_t token_ms;        /* totem token timeout (cmap) */
	/* When the latest complete dispatch of the corosync queue started
	 * (monotonic ms). Written by the control thread with the workers
	 * paused; read by any thread through ops->ready. */
	uint64_t caught_up_ms;
	struct ev_timer tick;     /* lease refresh and ACK deadlines */
};

/* ---- wire helpers ---- */

static void put_header(uint8_t *p, const struct msg_header *h)
{
	put_be32(p, MSG_MAGIC);
	p[4] = MSG_VERSION;
	p[5] = h->kind;
	put_be16(p + 6, h->flags);
	put_be32(p + 8, h->node);
	put_be32(p + 12, h->pid);
	put_be64(p + 16, h->seq);
	put_be16(p + 24, h->type);
	put_be16(p + 26, 0);
	put_be32(p + 28, h->len);
	put_be64(p + 32, h->version);
}

static int get_header(const uint8_t *p, size_t len, struct msg_header *h)
{
	if (len < MSG_HEADER_LEN || get_be32(p) != MSG_MAGIC || p[4] != MSG_VERSION)
		return -1;
	h->kind = p[5];
	h->flags = get_be16(p + 6);
	h->node = get_be32(p + 8);
	h->pid = get_be32(p + 12);
	h->seq = get_be64(p + 16);
	h->type = get_be16(p + 24);
	h->len = get_be32(p + 28);
	h->version = get_be64(p + 32);
	if (h->len != len - MSG_HEADER_LEN)
		return -1;
	return 0;
}

/* ---- the member table ---- */

static struct member *member_find(struct corosync_state *s, uint32_t node, uint32_t pid)
{
	for (size_t i = 0; i < s->n_members; i++)
		if (s->members[i].node == node && s->members[i].pid == pid)
			return &s->members[i];
	return NULL;
}

static bool is_me(const struct corosync_state *s, uint32_t node, uint32_t pid)
{
	return node == s->c->node_id && pid == s->pid;
}

static bool member_before(const struct member *a, const struct member *b)
{
	return a->node < b->node || (a->node == b->node && a->pid < b->pid);
}

/* The member that answers requests: the lowest synced one. */
static struct member *lowest_synced(struct corosync_state *s)
{
	struct member *best = NULL;

	for (size_t i = 0; i < s->n_members; i++)
		if (s->members[i].synced && (!best || member_before(&s->members[i], best)))
			best = &s->members[i];
	return best;
}

/* A member that becomes synced must acknowledge afresh: what it
 * acknowledged before was about a state it no longer has. */
static void member_mark_synced(struct member *m)
{
	if (m->synced)
		return;
	m->synced = true;
	m->acked = 0;
	m->silent = false;
	m->heard_ms = now_ms();
}

static void set_self_synced(struct corosync_state *s, bool synced)
{
	struct member *me = member_find(s, s->c->node_id, s->pid);

	s->synced = synced;
	if (me)
		me->synced = synced;
}

static size_t present_nodes(struct corosync_state *s, uint32_t *nodes);

/* ---- readiness ---- */

/* In the group, quorate and synchronised: may change shared state. */
static bool member_ready(const struct corosync_state *s)
{
	return s->joined && s->quorate && s->synced;
}

/* Has this node applied everything corosync delivered to it more than
 * LEASE_MS ago? False after its threads were stopped or its control
 * thread was stuck for longer, until it has caught up. */
static bool lease_held(const struct corosync_state *s)
{
	uint64_t now = ev_now_ms();

	return now < s->caught_up_ms || now - s->caught_up_ms < LEASE_MS;
}

/* ops->ready: may this node serve I/O now? Called on any thread (workers
 * between their batches), it only reads. */
static bool corosync_ready(struct cluster *c)
{
	struct corosync_state *s = c->priv;

	return s && member_ready(s) && lease_held(s);
}

/* The gateway learns through cb->quorum whether it may serve I/O: that is
 * quorate AND synced, so a joiner only starts after its state transfer.
 * (The lease is not reported: it is checked through ops->ready.) */
static void report_ready(struct corosync_state *s)
{
	bool ready = member_ready(s);

	if (ready == s->reported_ready)
		return;
	s->reported_ready = ready;
	log_info("cluster: node %" PRIu32 " %s (quorate %s, synchronised %s)", s->c->node_id,
		 ready ? "ready: serving I/O and shared-state changes"
		       : "not ready: I/O and shared-state changes stop",
		 s->quorate ? "yes" : "no", s->synced ? "yes" : "no");
	if (s->c->cb->quorum)
		s->c->cb->quorum(s->c->owner, ready);
}

/* ---- sending ---- */

static void complete_pending(struct corosync_state *s, uint64_t seq, int result)
{
	struct pending_op *p;

	TAILQ_FOREACH(p, &s->pending, link) {
		if (p->seq != seq)
			continue;
		TAILQ_REMOVE(&s->pending, p, link);
		if (p->done)
			p->done(p->ctx, result);
		free(p);
		return;
	}
}

/* Our operation seq has been applied here with result: from now on it
 * waits for the other synced members' acknowledgements. */
static void pending_applied(struct corosync_state *s, uint64_t seq, int result)
{
	struct pending_op *p;

	TAILQ_FOREACH(p, &s->pending, link) {
		if (p->seq != seq)
			continue;
		p->applied = true;
		p->result = result;
		p->version = s->version;
		p->applied_ms = now_ms();
		return;
	}
}

static bool member_acked(const struct corosync_state *s, const struct member *m,
			 uint64_t version)
{
	return !m->synced || is_me(s, m->node, m->pid) || m->acked >= version;
}

/* Has every synced member other than us acknowledged version? Members that
 * are not synced (joining, or resynchronising) serve no I/O until they have
 * applied everything up to a point after it, so they are not waited for;
 * members that left are no longer in the table. */
static bool all_synced_acked(struct corosync_state *s, uint64_t version)
{
	for (size_t i = 0; i < s->n_members; i++)
		if (!member_acked(s, &s->members[i], version))
			return false;
	return true;
}

/* Do the nodes that applied version (we, and the members that acknowledged
 * it) form a majority of corosync's nodelist (of the nodes present, without
 * a nodelist)? Then the change survives whichever partition keeps quorum. */
static bool majority_acked(struct corosync_state *s, uint64_t version)
{
	uint32_t acked[CPG_MEMBERS_MAX], present[CPG_MEMBERS_MAX];
	size_t n_acked = 0, total = s->configured_nodes;

	for (size_t i = 0; i < s->n_members; i++) {
		const struct member *m = &s->members[i];
		bool dup = false;

		if (!(m->synced && m->acked >= version) && !is_me(s, m->node, m->pid))
			continue;
		for (size_t j = 0; j < n_acked; j++)
			dup |= acked[j] == m->node;
		if (!dup)
			acked[n_acked++] = m->node;
	}
	if (total == 0)
		total = present_nodes(s, present);
	return n_acked * 2 > total;
}

/* The ACK deadline of p has passed for every member still silent about
 * it, and a majority has it: complete p without them (top of the file),
 * marking them silent. A member already silent is waited for only
 * silent_wait_ms. */
static bool ack_wait_over(struct corosync_state *s, const struct pending_op *p, uint64_t now)
{
	bool any = false;

	for (size_t i = 0; i < s->n_members; i++) {
		const struct member *m = &s->members[i];

		if (member_acked(s, m, p->version))
			continue;
		if (now < p->applied_ms + (m->silent ? s->silent_wait_ms : s->ack_timeout_ms))
			return false;
		any = true;
	}
	if (!any || !majority_acked(s, p->version))
		return false;
	for (size_t i = 0; i < s->n_members; i++) {
		struct member *m = &s->members[i];

		if (member_acked(s, m, p->version))
			continue;
		if (!m->silent)
			log_warn("cluster: node %" PRIu32 " (pid %" PRIu32 ") has not acknowledged "
				 "state version %" PRIu64 " within %" PRIu64 " ms: completing without "
				 "it; until it answers again, changes wait for it at most %" PRIu64
				 " ms (its sangwd serves nothing until it has caught up)",
				 m->node, m->pid, p->version, s->ack_timeout_ms, s->silent_wait_ms);
		else
			log_debug("cluster: state version %" PRIu64 " completes without silent node %"
				  PRIu32, p->version, m->node);
		m->silent = true;
	}
	return true;
}

/* Linearizability across nodes: the origin completes an operation only once
 * every current synced member has applied it, so a command that completes
 * on this node is visible (state and unit attentions) through every other
 * node before the initiator can send its next command anywhere. */
static void complete_acked(struct corosync_state *s)
{
	struct pending_op *p;

	/* Rescan after each done(): it may submit or complete others. */
	while (s->synced && s->quorate) {
		uint64_t now = now_ms();

		TAILQ_FOREACH(p, &s->pending, link)
			if (p->applied &&
			    (all_synced_acked(s, p->version) || ack_wait_over(s, p, now)))
				break;
		if (!p)
			return;
		TAILQ_REMOVE(&s->pending, p, link);
		if (p->done)
			p->done(p->ctx, p->result);
		free(p);
	}
}

/* Quorum or the corosync connection is gone while operations wait: whether
 * the majority applied them cannot be known here any more, and this node's
 * own state will be replaced by the majority's. Answer "not done, retry"
 * (-EAGAIN: BUSY for SCSI commands); a retry through a quorate node then
 * sees the state the majority really has. */
static void fail_all_pending(struct corosync_state *s)
{
	struct pending_op *p;

	while ((p = TAILQ_FIRST(&s->pending))) {
		TAILQ_REMOVE(&s->pending, p, link);
		if (p->done)
			p->done(p->ctx, -EAGAIN);
		free(p);
	}
}

static cs_error_t mcast(struct corosync_state *s, const void *msg, size_t len)
{
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };

	return cpg_mcast_joined(s->cpg, CPG_TYPE_AGREED, &iov, 1);
}

static void retry_sends(struct event_loop *loop, void *arg)
{
	struct corosync_state *s = arg;
	struct outgoing *o;

	(void)loop;
	while ((o = TAILQ_FIRST(&s->outgoing))) {
		cs_error_t err;

		/* An operation not sent yet may still be refused cleanly. */
		if (o->is_op && !member_ready(s)) {
			TAILQ_REMOVE(&s->outgoing, o, link);
			complete_pending(s, o->seq, -EAGAIN);
			free(o);
			continue;
		}
		err = mcast(s, o->msg, o->len);
		if (err == CS_ERR_TRY_AGAIN) {
			ev_timer_arm(s->c->loop, &s->retry, RETRY_MS);
			return;
		}
		TAILQ_REMOVE(&s->outgoing, o, link);
		if (err != CS_OK) {
			log_error("cluster: cpg_mcast_joined failed (error %d)", err);
			if (o->is_op)
				complete_pending(s, o->seq, -EIO);
		}
		free(o);
	}
}

/* Send now, or queue behind earlier messages to keep their order. The
 * message is copied when it has to wait. */
static int send_or_queue(struct corosync_state *s, const uint8_t *msg, size_t len, bool is_op,
			 uint64_t seq)
{
	struct outgoing *o;

	if (TAILQ_EMPTY(&s->outgoing)) {
		cs_error_t err = mcast(s, msg, len);

		if (err == CS_OK)
			return 0;
		if (err != CS_ERR_TRY_AGAIN) {
			log_error("cluster: cpg_mcast_joined failed (error %d)", err);
			return -EIO;
		}
	}
	o = malloc(sizeof(*o) + len);
	if (!o)
		return -ENOMEM;
	o->is_op = is_op;
	o->seq = seq;
	o->len = len;
	memcpy(o->msg, msg, len);
	if (TAILQ_EMPTY(&s->outgoing))
		log_debug("cluster: corosync is busy (CS_ERR_TRY_AGAIN): queueing sends");
	TAILQ_INSERT_TAIL(&s->outgoing, o, link);
	if (!s->retry.armed)
		ev_timer_arm(s->c->loop, &s->retry, RETRY_MS);
	return 0;
}

/* Tell the group which state version we have applied (after every
 * dispatch that applied something: one ACK covers the whole batch). */
static void send_ack_if_due(struct corosync_state *s)
{
	uint8_t msg[MSG_HEADER_LEN];

	if (!s->joined || !s->synced || (!s->ack_due && s->version == s->ack_sent))
		return;
	put_header(msg, &(struct msg_header){
		.kind = MSG_ACK,
		.node = s->c->node_id,
		.pid = s->pid,
		.version = s->version,
	});
	if (send_or_queue(s, msg, sizeof(msg), false, 0) < 0) {
		log_error("cluster: could not send an acknowledgement; retrying after the next delivery");
		return;
	}
	s->ack_sent = s->version;
	s->ack_due = false;
	s->ack_sent_ms = now_ms();
}

/* A REQUEST carries our state version and how many nodes corosync's
 * nodelist has (in the type field), for an election; force asks for an
 * election among the members present now. */
static void send_request_ex(struct corosync_state *s, bool force)
{
	uint8_t msg[MSG_HEADER_LEN];
	struct msg_header h = {
		.kind = MSG_REQUEST,
		.flags = (s->quorate ? REQUEST_FLAG_QUORATE : 0) | (force ? REQUEST_FLAG_FORCE : 0) |
			 (s->saved ? REQUEST_FLAG_SAVED : 0),
		.node = s->c->node_id,
		.pid = s->pid,
		.seq = ++s->next_request,
		.type = (uint16_t)MIN(s->configured_nodes, (uint32_t)UINT16_MAX),
		.version = s->version,
	};

	put_header(msg, &h);
	log_debug("cluster: requesting state (request %" PRIu64 ", version %" PRIu64 "%s)", h.seq,
		  h.version, force ? ", election now" : "");
	if (send_or_queue(s, msg, sizeof(msg), false, 0) < 0)
		log_error("cluster: could not send a state request");
}

static void send_request(struct corosync_state *s)
{
	send_request_ex(s, false);
}

/* Snapshot the local state now (this point of the delivery stream) and send
 * it to targets, in fragments. A NULL snapshot callback means empty state. */
static void send_snapshot(struct corosync_state *s, struct member *const *targets, size_t n_targets)
{
	void *state = NULL;
	size_t state_len = 0;
	size_t n_synced = 0, lists_len, offset = 0;
	uint64_t snap = ++s->next_snapshot;
	uint8_t *msg;

	if (s->c->cb->snapshot && s->c->cb->snapshot(s->c->owner, &state, &state_len) < 0) {
		log_error("cluster: the gateway could not snapshot its state; joiners wait");
		return;
	}
	if (state_len > SNAPSHOT_MAX) {
		log_error("cluster: state snapshot of %zu bytes exceeds the %u byte limit", state_len,
			  SNAPSHOT_MAX);
		free(state);
		return;
	}
	for (size_t i = 0; i < s->n_members; i++)
		n_synced += s->members[i].synced;
	lists_len = n_targets * SNAPSHOT_TARGET_LEN + n_synced * SNAPSHOT_SYNCED_LEN;
	msg = malloc(MSG_HEADER_LEN + SNAPSHOT_BODY_FIXED + lists_len + SNAPSHOT_CHUNK);
	if (!msg) {
		free(state);
		return;
	}
	log_info("cluster: sending state version %" PRIu64 " (%zu bytes) to %zu member(s)",
		 s->version, state_len, n_targets);
	do {
		size_t chunk = MIN(state_len - offset, (size_t)SNAPSHOT_CHUNK);
		size_t body = SNAPSHOT_BODY_FIXED + lists_len + chunk;
		uint8_t *p = msg + MSG_HEADER_LEN;
		struct msg_header h = {
			.kind = MSG_SNAPSHOT,
			.node = s->c->node_id,
			.pid = s->pid,
			.seq = snap,
			.len = (uint32_t)body,
			.version = s->version,
		};

		put_header(msg, &h);
		put_be32(p, (uint32_t)state_len);
		put_be32(p + 4, (uint32_t)offset);
		put_be16(p + 8, (uint16_t)n_targets);
		put_be16(p + 10, (uint16_t)n_synced);
		p += SNAPSHOT_BODY_FIXED;
		for (size_t i = 0; i < n_targets; i++, p += SNAPSHOT_TARGET_LEN) {
			put_be32(p, targets[i]->node);
			put_be32(p + 4, targets[i]->pid);
			put_be64(p + 8, targets[i]->request);
		}
		for (size_t i = 0; i < s->n_members; i++) {
			if (!s->members[i].synced)
				continue;
			put_be32(p, s->members[i].node);
			put_be32(p + 4, s->members[i].pid);
			p += SNAPSHOT_SYNCED_LEN;
		}
		if (chunk)
			memcpy(p, (const uint8_t *)state + offset, chunk);
		if (send_or_queue(s, msg, MSG_HEADER_LEN + body, false, 0) < 0) {
			log_error("cluster: could not send the state snapshot");
			break;
		}
		offset += chunk;
	} while (offset < state_len);
	free(msg);
	free(state);
}

/* ---- the backlog of an unsynced member ---- */

static void backlog_clear(struct corosync_state *s)
{
	struct backlog_entry *b;

	while ((b = TAILQ_FIRST(&s->backlog))) {
		TAILQ_REMOVE(&s->backlog, b, link);
		/* Our own operation was not applied here: refuse it. */
		if (b->is_op && is_me(s, b->node, b->pid))
			complete_pending(s, b->seq, -EAGAIN);
		free(b->members);
		free(b);
	}
}

static void backlog_add_op(struct corosync_state *s, const struct msg_header *h, uint32_t node,
			   uint32_t pid, const uint8_t *payload)
{
	struct backlog_entry *b = calloc(1, sizeof(*b) + h->len);

	if (!b) {
		log_error("cluster: out of memory queueing an operation during state transfer");
		return;
	}
	b->is_op = true;
	b->node = node;
	b->pid = pid;
	b->seq = h->seq;
	b->type = h->type;
	b->len = h->len;
	memcpy(b->payload, payload, h->len);
	TAILQ_INSERT_TAIL(&s->backlog, b, link);
}

static void backlog_add_confchg(struct corosync_state *s, const uint32_t *present, size_t n,
				const uint32_t *left, size_t n_left)
{
	struct backlog_entry *b = calloc(1, sizeof(*b));

	if (!b || !(b->members = calloc(n + n_left + 1, sizeof(uint32_t)))) {
		free(b);
		log_error("cluster: out of memory queueing a membership change");
		return;
	}
	memcpy(b->members, present, n * sizeof(uint32_t));
	memcpy(b->members + n, left, n_left * sizeof(uint32_t));
	b->n_members = n;
	b->n_left = n_left;
	TAILQ_INSERT_TAIL(&s->backlog, b, link);
}

static void apply_op(struct corosync_state *s, uint32_t node, uint32_t pid, uint64_t seq,
		     uint16_t type, const void *payload, uint32_t len)
{
	int result;

	s->c->state_version = s->version + 1;
	result = s->c->cb->apply(s->c->owner, node, type, payload, len);
	s->version++;
	if (is_me(s, node, pid)) {
		pending_applied(s, seq, result);
		complete_acked(s);   /* at once when we are alone */
	}
}

static void backlog_replay(struct corosync_state *s)
{
	struct backlog_entry *b;

	while ((b = TAILQ_FIRST(&s->backlog))) {
		TAILQ_REMOVE(&s->backlog, b, link);
		if (b->is_op)
			apply_op(s, b->node, b->pid, b->seq, b->type, b->payload, b->len);
		else if (s->c->cb->membership)
			s->c->cb->membership(s->c->owner, b->members, b->n_members,
					     b->members + b->n_members, b->n_left);
		free(b->members);
		free(b);
	}
}

/* ---- becoming synced ---- */

static size_t present_nodes(struct corosync_state *s, uint32_t *nodes)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n_members; i++) {
		bool dup = false;

		for (size_t j = 0; j < n; j++)
			dup |= nodes[j] == s->members[i].node;
		if (!dup)
			nodes[n++] = s->members[i].node;
	}
	return n;
}

/* Backlog replayed: tell the gateway who is here and start serving. */
static void become_synced(struct corosync_state *s)
{
	uint32_t nodes[CPG_MEMBERS_MAX];
	size_t n;

	backlog_replay(s);
	set_self_synced(s, true);
	s->ack_due = true;   /* others wait for our ACK from now on */
	s->request_delivered = false;
	complete_acked(s);
	n = present_nodes(s, nodes);
	if (s->c->cb->membership)
		s->c->cb->membership(s->c->owner, nodes, n, NULL, 0);
	log_info("cluster: state synchronised at version %" PRIu64, s->version);
	report_ready(s);
}

static void snapshot_discard(struct corosync_state *s)
{
	free(s->snap.buf);
	memset(&s->snap, 0, sizeof(s->snap));
}

/* ---- delivery ---- */

static void deliver_op(struct corosync_state *s, const struct msg_header *h, uint32_t node,
		       uint32_t pid, const uint8_t *payload)
{
	if (s->synced) {
		apply_op(s, node, pid, h->seq, h->type, payload, h->len);
		return;
	}
	/* Not synced: after our request, keep it to replay on top of the
	 * snapshot that answers it. Before it (our own operations sent
	 * before we lost quorum land here), it is not applied anywhere we
	 * will take state from: refuse it. */
	if (s->request_delivered) {
		backlog_add_op(s, h, node, pid, payload);
		return;
	}
	if (is_me(s, node, pid))
		complete_pending(s, h->seq, -EAGAIN);
}

/* No member is synced: once every member has asked while quorate, the one
 * with the newest state wins and hands it to the others. */
static void try_election(struct corosync_state *s)
{
	struct member *winner = NULL;
	struct member *targets[CPG_MEMBERS_MAX];
	uint32_t nodes[CPG_MEMBERS_MAX];
	size_t n_targets = 0;
	uint16_t expected = 0;
	bool saved = false;

	for (size_t i = 0; i < s->n_members; i++) {
		struct member *m = &s->members[i];

		if (!m->requested || !m->request_quorate)
			return;
		expected = MAX(expected, m->expected);
		saved |= m->saved || m->version > 0;
		/* Newest version first; at equal versions saved state beats
		 * none; then the lowest node id. */
		if (!winner || m->version > winner->version ||
		    (m->version == winner->version && m->saved && !winner->saved) ||
		    (m->version == winner->version && m->saved == winner->saved &&
		     member_before(m, winner)))
			winner = m;
	}
	if (!winner)
		return;
	/* Saved state on offer (a whole-cluster restart): the newest must
	 * win, so wait until every node of corosync's nodelist is here,
	 * or until a member gives up waiting (FORCE, after
	 * ELECTION_GRACE_MS). With no saved state anywhere here, start now. */
	if (saved && !s->force_election && present_nodes(s, nodes) < expected) {
		log_info("cluster: election waits for %zu more node(s) to bring their state",
			 expected - present_nodes(s, nodes));
		return;
	}
	log_info("cluster: no member had current state; node %" PRIu32 " (version %" PRIu64
		 ") provides it", winner->node, winner->version);
	member_mark_synced(winner);
	/* The election point is the same on every member: what was delivered
	 * before it was applied by nobody (nobody was synced), so everyone
	 * drops it, and the winner's snapshot, taken here, is what the
	 * others load; their backlogs restart here. */
	backlog_clear(s);
	if (!is_me(s, winner->node, winner->pid))
		return;
	become_synced(s);
	for (size_t i = 0; i < s->n_members; i++)
		if (!s->members[i].synced)
			targets[n_targets++] = &s->members[i];
	if (n_targets)
		send_snapshot(s, targets, n_targets);
}

static void deliver_request(struct corosync_state *s, const struct msg_header *h, uint32_t node,
			    uint32_t pid)
{
	struct member *m = member_find(s, node, pid);
	struct member *responder;

	if (!m)
		return;
	m->requested = true;
	m->request = h->seq;
	m->request_quorate = h->flags & REQUEST_FLAG_QUORATE;
	m->version = h->version;
	m->expected = h->type;
	m->saved = h->flags & REQUEST_FLAG_SAVED;
	if (h->flags & REQUEST_FLAG_FORCE)
		s->force_election = true;
	if (is_me(s, node, pid) && !s->synced) {
		/* From here on, everything delivered goes into the backlog. */
		backlog_clear(s);
		snapshot_discard(s);
		s->request_delivered = true;
		s->my_request = h->seq;
	}
	if (m->synced)
		return; /* stale: it was synced by an earlier answer */
	responder = lowest_synced(s);
	if (!responder) {
		try_election(s);
		return;
	}
	/* Only a quorate responder hands out state; a requester asks again
	 * when its partition becomes quorate. */
	if (is_me(s, responder->node, responder->pid) && s->quorate)
		send_snapshot(s, &m, 1);
}

/* Every member now counts us as synced and would wait for our ACKs, but
 * we cannot serve with a state we could not load: leave the group (they
 * stop waiting for us) and stay unready until restarted. */
static void leave_unready(struct corosync_state *s, const char *what, uint32_t from)
{
	log_error("cluster: %s from node %" PRIu32 "; this node leaves the group and stays "
		  "unready (restart it)", what, from);
	snapshot_discard(s);
	if (s->joined && cpg_leave(s->cpg, &s->group) == CS_OK)
		s->joined = false;
}

/* The last fragment of a snapshot: mark its targets and the sender's synced
 * members synced, on every member alike. */
static void snapshot_complete(struct corosync_state *s, const struct msg_header *h, uint32_t node,
			      uint32_t pid, const uint8_t *targets, size_t n_targets,
			      const uint8_t *synced, size_t n_synced)
{
	struct member *sender = member_find(s, node, pid);
	bool restore_me = false;

	if (sender)
		member_mark_synced(sender);
	for (size_t i = 0; i < n_synced; i++) {
		struct member *m = member_find(s, get_be32(synced + i * SNAPSHOT_SYNCED_LEN),
					       get_be32(synced + i * SNAPSHOT_SYNCED_LEN + 4));

		if (m && !is_me(s, m->node, m->pid))
			member_mark_synced(m);
	}
	for (size_t i = 0; i < n_targets; i++) {
		const uint8_t *t = targets + i * SNAPSHOT_TARGET_LEN;
		struct member *m = member_find(s, get_be32(t), get_be32(t + 4));

		if (!m || m->synced || !m->requested || m->request != get_be64(t + 8))
			continue;
		if (is_me(s, m->node, m->pid)) {
			restore_me = true;
			continue;
		}
		member_mark_synced(m);
	}
	if (!restore_me)
		return;
	if (!s->snap.active || s->snap.received != s->snap.total) {
		leave_unready(s, "incomplete state snapshot", node);
		return;
	}
	s->c->state_version = h->version;
	if (s->c->cb->restore &&
	    s->c->cb->restore(s->c->owner, s->snap.buf, s->snap.total) < 0) {
		s->c->state_version = s->version;
		leave_unready(s, "state snapshot that could not be restored", node);
		return;
	}
	log_info("cluster: restored state version %" PRIu64 " (%" PRIu32 " bytes) from node %" PRIu32,
		 h->version, s->snap.total, node);
	s->version = h->version;
	snapshot_discard(s);
	become_synced(s);
}

static void deliver_snapshot(struct corosync_state *s, const struct msg_header *h, uint32_t node,
			     uint32_t pid, const uint8_t *body)
{
	uint32_t total, offset, chunk;
	size_t n_targets, n_synced, lists_len;
	const uint8_t *targets, *synced, *data;
	bool for_me = false;

	if (h->len < SNAPSHOT_BODY_FIXED)
		goto malformed;
	total = get_be32(body);
	offset = get_be32(body + 4);
	n_targets = get_be16(body + 8);
	n_synced = get_be16(body + 10);
	lists_len = n_targets * SNAPSHOT_TARGET_LEN + n_synced * SNAPSHOT_SYNCED_LEN;
	if (h->len < SNAPSHOT_BODY_FIXED + lists_len || total > SNAPSHOT_MAX)
		goto malformed;
	chunk = (uint32_t)(h->len - SNAPSHOT_BODY_FIXED - lists_len);
	if (offset > total || chunk > total - offset)
		goto malformed;
	targets = body + SNAPSHOT_BODY_FIXED;
	synced = targets + n_targets * SNAPSHOT_TARGET_LEN;
	data = synced + n_synced * SNAPSHOT_SYNCED_LEN;

	for (size_t i = 0; i < n_targets; i++) {
		const uint8_t *t = targets + i * SNAPSHOT_TARGET_LEN;

		if (is_me(s, get_be32(t), get_be32(t + 4)) && s->request_delivered &&
		    get_be64(t + 8) == s->my_request)
			for_me = true;
	}
	if (for_me && !s->synced) {
		if (offset == 0) {
			snapshot_discard(s);
			s->snap.buf = malloc(total ? total : 1);
			if (!s->snap.buf) {
				log_error("cluster: no memory for a %" PRIu32 " byte snapshot", total);
				return;
			}
			s->snap.active = true;
			s->snap.node = node;
			s->snap.pid = pid;
			s->snap.snap = h->seq;
			s->snap.total = total;
		}
		if (s->snap.active && s->snap.node == node && s->snap.pid == pid &&
		    s->snap.snap == h->seq && s->snap.received == offset && s->snap.total == total) {
			memcpy(s->snap.buf + offset, data, chunk);
			s->snap.received += chunk;
		}
	}
	if (offset + chunk == total)
		snapshot_complete(s, h, node, pid, targets, n_targets, synced, n_synced);
	return;
malformed:
	log_warn("cluster: malformed state snapshot from node %" PRIu32 " ignored", node);
}

/* An ACK: the sender has applied every operation up to h->version. */
static void deliver_ack(struct corosync_state *s, const struct msg_header *h, uint32_t node,
			uint32_t pid)
{
	struct member *m = member_find(s, node, pid);

	if (!m || !m->synced)
		return;
	if (h->version > m->acked)
		m->acked = h->version;
	if (m->silent) {
		log_warn("cluster: node %" PRIu32 " (pid %" PRIu32 ") acknowledges again "
			 "(state version %" PRIu64 ")", node, pid, h->version);
		m->silent = false;
	}
	complete_acked(s);
}

/* Any message of m shows its sangwd runs (the heartbeat, top of file). */
static void member_heard(struct corosync_state *s, struct member *m)
{
	if (!m)
		return;
	m->heard_ms = now_ms();
	if (m->unresponsive) {
		m->unresponsive = false;
		log_warn("cluster: node %" PRIu32 " (pid %" PRIu32 ") is heard from again", m->node,
			 m->pid);
		if (s->c->cb->member_silent)
			s->c->cb->member_silent(s->c->owner, m->node, false);
	}
}

/* Synced members not heard from for SILENT_WAIT while corosync still
 * lists them: their sangwd is stopped or stuck. By then, had it been
 * running, it would have lost its lease (top of the file). */
static void check_unresponsive(struct corosync_state *s)
{
	uint64_t now = now_ms();
	size_t heard = 0;

	if (!member_ready(s))
		return;
	/* A node cut off from the others hears nobody until corosync notices
	 * the partition, and while corosync forms a new membership nobody
	 * hears anybody: accuse no one unless a majority of the group (this
	 * node included) was heard within the last few heartbeats. */
	for (size_t i = 0; i < s->n_members; i++)
		if (is_me(s, s->members[i].node, s->members[i].pid) ||
		    now < s->members[i].heard_ms + 3 * HEARTBEAT_MS)
			heard++;
	if (heard * 2 <= s->n_members)
		return;
	for (size_t i = 0; i < s->n_members; i++) {
		struct member *m = &s->members[i];

		if (is_me(s, m->node, m->pid) || !m->synced || m->unresponsive ||
		    now < m->heard_ms + s->silent_wait_ms)
			continue;
		m->unresponsive = true;
		log_warn("cluster: node %" PRIu32 " (pid %" PRIu32 ") has sent nothing for %" PRIu64
			 " ms although corosync lists it: stopped or stuck", m->node, m->pid,
			 now - m->heard_ms);
		if (s->c->cb->member_silent)
			s->c->cb->member_silent(s->c->owner, m->node, true);
	}
}

/* ---- questions (ops->ask): not in the state, answered by every member ---- */

#define ANSWER_MAX CLUSTER_ANSWER_MAX

static void question_finish(struct question *q)
{
	struct corosync_state *s = q->s;

	TAILQ_REMOVE(&s->questions, q, link);
	ev_timer_cancel(s->c->loop, &q->timeout);
	q->done(q->ctx, q->answers, q->n_answers);
	for (size_t i = 0; i < q->n_answers; i++)
		free((void *)q->answers[i].data);
	free(q);
}

static bool question_complete(const struct question *q)
{
	for (size_t i = 0; i < q->n_from; i++)
		if (!q->from[i].answered)
			return false;
	return true;
}

static void question_timed_out(struct event_loop *loop, void *arg)
{
	(void)loop;
	question_finish(arg);
}

/* Answer a member's question on the group (the asker picks it out). */
static void deliver_question(struct corosync_state *s, const struct msg_header *h,
			     const uint8_t *body)
{
	void *reply = NULL;
	size_t reply_len = 0;
	uint8_t *msg;

	if (is_me(s, h->node, h->pid))
		return;   /* answered when asked (corosync_ask) */
	if (!s->c->cb->answer || s->c->cb->answer(s->c->owner, body, h->len, &reply, &reply_len) < 0)
		return;
	if (reply_len > ANSWER_MAX) {
		log_warn("cluster: answer of %zu bytes to node %" PRIu32 "'s question not sent (limit %u)",
			 reply_len, h->node, ANSWER_MAX);
		free(reply);
		return;
	}
	msg = malloc(MSG_HEADER_LEN + reply_len);
	if (msg) {
		put_header(msg, &(struct msg_header){
			.kind = MSG_ANSWER,
			.node = s->c->node_id,
			.pid = s->pid,
			.seq = h->seq,
			.len = (uint32_t)reply_len,
			.version = (uint64_t)h->node << 32 | h->pid,
		});
		memcpy(msg + MSG_HEADER_LEN, reply, reply_len);
		send_or_queue(s, msg, MSG_HEADER_LEN + reply_len, false, 0);
		free(msg);
	}
	free(reply);
}

static void deliver_answer(struct corosync_state *s, const struct msg_header *h, uint32_t node,
			   uint32_t pid, const uint8_t *body)
{
	struct question *q;

	if (h->version != ((uint64_t)s->c->node_id << 32 | s->pid))
		return;   /* someone else's */
	TAILQ_FOREACH(q, &s->questions, link)
		if (q->seq == h->seq)
			break;
	if (!q)
		return;   /* answered after its timeout */
	for (size_t i = 0; i < q->n_from; i++) {
		void *copy;

		if (q->from[i].node != node || q->from[i].pid != pid || q->from[i].answered)
			continue;
		if (!(copy = malloc(h->len ? h->len : 1)))
			return;
		memcpy(copy, body, h->len);
		q->from[i].answered = true;
		q->answers[q->n_answers++] = (struct cluster_answer){ .node = node, .data = copy,
								      .len = h->len };
		break;
	}
	if (question_complete(q))
		question_finish(q);
}

/* Members that left will not answer: stop waiting for them. */
static void questions_membership(struct corosync_state *s)
{
	struct question *q, *next;

	for (q = TAILQ_FIRST(&s->questions); q; q = next) {
		next = TAILQ_NEXT(q, link);
		for (size_t i = 0; i < q->n_from; i++)
			if (!member_find(s, q->from[i].node, q->from[i].pid))
				q->from[i].answered = true;
		if (question_complete(q))
			question_finish(q);
	}
}

static int corosync_ask(struct cluster *c, const void *question, uint32_t len, uint32_t timeout_ms,
			cluster_answers_fn done, void *ctx)
{
	struct corosync_state *s = c->priv;
	struct question *q;
	uint8_t *msg;
	int rc;

	if (!s || !s->joined)
		return -ENOTCONN;
	if (len > CLUSTER_OP_MAX)
		return -EMSGSIZE;
	q = calloc(1, sizeof(*q));
	msg = malloc(MSG_HEADER_LEN + len);
	if (!q || !msg) {
		free(q);
		free(msg);
		return -ENOMEM;
	}
	q->seq = ++s->next_question;
	q->s = s;
	q->done = done;
	q->ctx = ctx;
	for (size_t i = 0; i < s->n_members; i++) {
		if (is_me(s, s->members[i].node, s->members[i].pid))
			continue;
		q->from[q->n_from].node = s->members[i].node;
		q->from[q->n_from].pid = s->members[i].pid;
		q->n_from++;
	}
	/* This node answers itself at once: while corosync forms a new
	 * membership (a node just died) nothing is delivered, not even our
	 * own question, and the asker must still see itself. */
	if (c->cb->answer) {
		void *reply = NULL;
		size_t reply_len = 0;

		if (c->cb->answer(c->owner, question, len, &reply, &reply_len) == 0)
			q->answers[q->n_answers++] = (struct cluster_answer){ .node = c->node_id, .data = reply,
									      .len = reply_len };
	}
	put_header(msg, &(struct msg_header){
		.kind = MSG_QUESTION,
		.node = c->node_id,
		.pid = s->pid,
		.seq = q->seq,
		.len = len,
	});
	if (len)
		memcpy(msg + MSG_HEADER_LEN, question, len);
	rc = send_or_queue(s, msg, MSG_HEADER_LEN + len, false, 0);
	free(msg);
	if (rc < 0) {
		for (size_t i = 0; i < q->n_answers; i++)
			free((void *)q->answers[i].data);
		free(q);
		return rc;
	}
	ev_timer_init(&q->timeout, question_timed_out, q);
	ev_timer_arm(c->loop, &q->timeout, timeout_ms);
	TAILQ_INSERT_TAIL(&s->questions, q, link);
	if (question_complete(q))   /* alone in the group */
		question_finish(q);
	return 0;
}

static void corosync_view(struct cluster *c, struct cluster_view *v)
{
	struct corosync_state *s = c->priv;

	memset(v, 0, sizeof(*v));
	if (!s)
		return;
	v->quorate = s->quorate;
	v->ready = corosync_ready(c);
	for (size_t i = 0; i < s->n_nodelist && v->n_nodes < CLUSTER_NODES_MAX; i++)
		v->nodes[v->n_nodes++] = s->nodelist[i];
	for (size_t i = 0; i < s->n_members; i++) {
		size_t k;

		for (k = 0; k < v->n_nodes && v->nodes[k].id != s->members[i].node; k++)
			;
		if (k == v->n_nodes) {   /* present but not in the nodelist */
			if (v->n_nodes == CLUSTER_NODES_MAX)
				continue;
			v->nodes[v->n_nodes++] = (struct cluster_node){ .id = s->members[i].node };
		}
		v->nodes[k].present = true;
	}
	/* ascending by id, whatever order the nodelist had */
	for (size_t i = 1; i < v->n_nodes; i++)
		for (size_t k = i; k > 0 && v->nodes[k - 1].id > v->nodes[k].id; k--) {
			struct cluster_node t = v->nodes[k];

			v->nodes[k] = v->nodes[k - 1];
			v->nodes[k - 1] = t;
		}
}

static void cpg_deliver(cpg_handle_t handle, const struct cpg_name *group, uint32_t node,
			uint32_t pid, void *msg, size_t len)
{
	struct corosync_state *s = NULL;
	struct msg_header h;

	(void)group;
	if (cpg_context_get(handle, (void **)&s) != CS_OK || !s)
		return;
	if (get_header(msg, len, &h) < 0 || h.node != node || h.pid != pid) {
		log_warn("cluster: malformed message (%zu bytes) from node %" PRIu32 " ignored", len,
			 node);
		return;
	}
	member_heard(s, member_find(s, node, pid));
	switch (h.kind) {
	case MSG_OP:
		deliver_op(s, &h, node, pid, (const uint8_t *)msg + MSG_HEADER_LEN);
		break;
	case MSG_REQUEST:
		deliver_request(s, &h, node, pid);
		break;
	case MSG_SNAPSHOT:
		deliver_snapshot(s, &h, node, pid, (const uint8_t *)msg + MSG_HEADER_LEN);
		break;
	case MSG_ACK:
		deliver_ack(s, &h, node, pid);
		break;
	case MSG_QUESTION:
		deliver_question(s, &h, (const uint8_t *)msg + MSG_HEADER_LEN);
		break;
	case MSG_ANSWER:
		deliver_answer(s, &h, node, pid, (const uint8_t *)msg + MSG_HEADER_LEN);
		break;
	default:
		log_warn("cluster: unknown message kind %u from node %" PRIu32 " ignored", h.kind,
			 node);
	}
	report_ready(s);
}

/* ---- membership ---- */

static void election_grace_over(struct event_loop *loop, void *arg)
{
	struct corosync_state *s = arg;

	(void)loop;
	if (s->joined && s->quorate && !s->synced && !lowest_synced(s)) {
		log_warn("cluster: not every node brought its state within %d ms; electing among "
			 "those present", ELECTION_GRACE_MS);
		send_request_ex(s, true);
	}
}

/* No synced member in a quorate group: if the election keeps waiting for
 * absent nodes, give up on them after ELECTION_GRACE_MS. */
static void arm_election_grace(struct corosync_state *s)
{
	if (s->joined && s->quorate && !s->synced && !lowest_synced(s) && !s->election_grace.armed)
		ev_timer_arm(s->c->loop, &s->election_grace, ELECTION_GRACE_MS);
}

static void quorum_changed(struct corosync_state *s, bool quorate, const char *how);

static const char *leave_reason(uint32_t reason)
{
	switch (reason) {
	case CPG_REASON_LEAVE:
		return "left";
	case CPG_REASON_NODEDOWN:
		return "node down";
	case CPG_REASON_NODEUP:
		return "node up";
	case CPG_REASON_PROCDOWN:
		return "process down";
	default:
		return "gone";
	}
}

static void cpg_confchg(cpg_handle_t handle, const struct cpg_name *group,
			const struct cpg_address *member_list, size_t n_member,
			const struct cpg_address *left_list, size_t n_left_entries,
			const struct cpg_address *joined_list, size_t n_joined)
{
	struct corosync_state *s = NULL;
	struct member next[CPG_MEMBERS_MAX];
	uint32_t nodes[CPG_MEMBERS_MAX], left[CPG_MEMBERS_MAX];
	size_t n_next = 0, n_nodes, n_left = 0;
	bool fresh_group;

	(void)group;
	if (cpg_context_get(handle, (void **)&s) != CS_OK || !s)
		return;
	/* A group with no member before this change: nobody is synced yet, the
	 * members elect the newest saved state (try_election). */
	fresh_group = !s->seen_confchg && n_member == n_joined;
	if (!s->seen_confchg && s->c->cb->saved_state) {
		s->saved = s->c->cb->saved_state(s->c->owner, &s->version);
		s->c->state_version = s->version;
		if (s->saved)
			log_info("cluster: this node started from saved state (version %" PRIu64 ")",
				 s->version);
	}
	s->seen_confchg = true;
	s->force_election = false;

	for (size_t i = 0; i < n_member && n_next < CPG_MEMBERS_MAX; i++) {
		struct member *old = member_find(s, member_list[i].nodeid, member_list[i].pid);
		struct member *m = &next[n_next++];

		if (old)
			*m = *old;
		else
			*m = (struct member){ .node = member_list[i].nodeid, .pid = member_list[i].pid,
					      .heard_ms = now_ms() };
		m->synced = old ? old->synced : false;
		/* An election counts only requests made in this configuration. */
		m->requested = false;
	}
	memcpy(s->members, next, n_next * sizeof(next[0]));
	s->n_members = n_next;
	/* Nothing was delivered while corosync formed this configuration:
	 * every member gets a whole SILENT_WAIT from now to be heard. */
	for (size_t i = 0; i < s->n_members; i++)
		s->members[i].heard_ms = now_ms();
	/* corosync decides quorum before it delivers this change, but its
	 * notification comes on another connection, possibly after messages
	 * delivered in the new configuration: ask now, so that our own
	 * operations delivered in a minority are refused, not applied. */
	if (n_left_entries && s->quorate && s->quorum_open) {
		uint64_t asked = now_ms();
		int quorate = 1;

		if (quorum_getquorate(s->quorum, &quorate) == CS_OK && !quorate)
			quorum_changed(s, false, "members left");
		/* A synchronous call with every worker paused (docs/cluster.md,
		 * Open: survivors' writes stalled up to 2 s in a slow corosync
		 * service sync): say when it is the culprit. */
		if (now_ms() - asked > 100)
			log_warn("cluster: corosync took %" PRIu64 " ms to say whether it is quorate "
				 "(I/O on this node waited)", now_ms() - asked);
	}

	n_nodes = present_nodes(s, nodes);
	for (size_t i = 0; i < n_left_entries; i++) {
		bool still_here = false;

		log_info("cluster: node %" PRIu32 " pid %" PRIu32 " %s", left_list[i].nodeid,
			 left_list[i].pid, leave_reason(left_list[i].reason));
		for (size_t j = 0; j < n_nodes; j++)
			still_here |= nodes[j] == left_list[i].nodeid;
		for (size_t j = 0; j < n_left; j++)
			still_here |= left[j] == left_list[i].nodeid;
		if (!still_here && n_left < CPG_MEMBERS_MAX)
			left[n_left++] = left_list[i].nodeid;
	}
	for (size_t i = 0; i < n_joined; i++)
		log_info("cluster: node %" PRIu32 " pid %" PRIu32 " joined", joined_list[i].nodeid,
			 joined_list[i].pid);
	log_info("cluster: %zu member(s) in group %.*s%s", n_member, (int)s->group.length,
		 s->group.value, fresh_group ? " (new group)" : "");

	if (s->synced) {
		if (s->c->cb->membership)
			s->c->cb->membership(s->c->owner, nodes, n_nodes, left, n_left);
	} else {
		if (s->request_delivered)
			backlog_add_confchg(s, nodes, n_nodes, left, n_left);
		/* Our responder may be gone, or an election restarts: ask again. */
		if (member_find(s, s->c->node_id, s->pid))
			send_request(s);
	}
	/* Members that left are no longer waited for. */
	complete_acked(s);
	questions_membership(s);
	arm_election_grace(s);
	report_ready(s);
}

/* ---- quorum ---- */

/* Quorum gained or lost, learnt from libquorum's notification or asked for
 * at a configuration change. */
static void quorum_changed(struct corosync_state *s, bool quorate, const char *how)
{
	if (quorate == s->quorate)
		return;
	s->quorate = quorate;
	log_info("cluster: quorum %s (%s)", quorate ? "gained" : "lost", how);
	if (!quorate) {
		/* The whole partition stops at once and must resynchronise from a
		 * quorate partition: its state may be stale by then. */
		for (size_t i = 0; i < s->n_members; i++) {
			s->members[i].synced = false;
			s->members[i].acked = 0;
			s->members[i].silent = false;
			s->members[i].unresponsive = false;
		}
		set_self_synced(s, false);
		fail_all_pending(s);
		s->request_delivered = false;
		backlog_clear(s);
		snapshot_discard(s);
	} else if (!s->synced && s->joined) {
		send_request(s);
		arm_election_grace(s);
	}
	report_ready(s);
}

static void quorum_notify(quorum_handle_t handle, uint32_t quorate, uint64_t ring_seq,
			  uint32_t n_view, uint32_t *view)
{
	struct corosync_state *s = NULL;
	char how[64];

	(void)view;
	if (quorum_context_get(handle, (const void **)&s) != CS_OK || !s)
		return;
	snprintf(how, sizeof(how), "ring %" PRIu64 ", %" PRIu32 " node(s) in view", ring_seq, n_view);
	quorum_changed(s, quorate, how);
}

/* ---- the event loop side ---- */

static void connection_lost(struct corosync_state *s, const char *what, cs_error_t err)
{
	log_error("cluster: lost the connection to corosync (%s: error %d); node stops", what, err);
	if (s->cpg_src_added) {
		ev_remove(s->c->loop, &s->cpg_src);
		s->cpg_src_added = false;
	}
	if (s->quorum_src_added) {
		ev_remove(s->c->loop, &s->quorum_src);
		s->quorum_src_added = false;
	}
	s->quorate = false;
	set_self_synced(s, false);
	fail_all_pending(s);
	report_ready(s);
}

static void quorum_readable(struct event_loop *loop, uint32_t events, void *arg);

/* Apply everything corosync has queued for us, then acknowledge. The
 * lease counts from before the dispatch: what was queued then is applied.
 * Quorum notifications first: corosync sends them before the
 * configuration change they belong to, but on another connection, so a
 * late one (say, the loss of quorum of a partition already healed) would
 * otherwise be taken after the deliveries of a later configuration. */
static void dispatch_all(struct corosync_state *s)
{
	uint64_t started = now_ms();
	cs_error_t err;

	if (s->quorum_src_added)
		quorum_readable(s->c->loop, EPOLLIN, s);
	if (!s->cpg_src_added)
		return;
	err = cpg_dispatch(s->cpg, CS_DISPATCH_ALL);
	if (err != CS_OK && err != CS_ERR_TRY_AGAIN) {
		connection_lost(s, "cpg", err);
		return;
	}
	s->caught_up_ms = started;
	send_ack_if_due(s);
}

static void cpg_readable(struct event_loop *loop, uint32_t events, void *arg)
{
	(void)loop;
	(void)events;
	dispatch_all(arg);
}

/* Every LEASE_REFRESH_MS: keep the lease while nothing arrives (and take
 * whatever the event loop has not reported yet), and complete operations
 * whose ACK deadline has passed. */
static void tick(struct event_loop *loop, void *arg)
{
	struct corosync_state *s = arg;

	dispatch_all(s);
	if (s->synced && now_ms() >= s->ack_sent_ms + HEARTBEAT_MS) {
		s->ack_due = true;
		send_ack_if_due(s);
	}
	check_unresponsive(s);
	complete_acked(s);
	ev_timer_arm(loop, &s->tick, LEASE_REFRESH_MS);
}

static void quorum_readable(struct event_loop *loop, uint32_t events, void *arg)
{
	struct corosync_state *s = arg;
	cs_error_t err;

	(void)loop;
	(void)events;
	err = quorum_dispatch(s->quorum, CS_DISPATCH_ALL);
	if (err != CS_OK && err != CS_ERR_TRY_AGAIN)
		connection_lost(s, "quorum", err);
}

/* ---- start / stop ---- */

/* corosync.conf's nodelist: ids, names and first ring addresses (for
 * ops->view); returns how many nodes it names (0 without a nodelist). */
static uint32_t read_nodelist(struct corosync_state *s, cmap_handle_t cmap)
{
	uint32_t n = 0, id;
	char key[64];

	while (n < CPG_MEMBERS_MAX) {
		char *text = NULL;

		snprintf(key, sizeof(key), "nodelist.node.%" PRIu32 ".nodeid", n);
		if (cmap_get_uint32(cmap, key, &id) != CS_OK)
			break;
		if (s->n_nodelist < CLUSTER_NODES_MAX) {
			struct cluster_node *node = &s->nodelist[s->n_nodelist++];

			memset(node, 0, sizeof(*node));
			node->id = id;
			snprintf(key, sizeof(key), "nodelist.node.%" PRIu32 ".name", n);
			if (cmap_get_string(cmap, key, &text) == CS_OK && text)
				str_copy(node->name, text, sizeof(node->name));
			free(text);
			text = NULL;
			snprintf(key, sizeof(key), "nodelist.node.%" PRIu32 ".ring0_addr", n);
			if (cmap_get_string(cmap, key, &text) == CS_OK && text)
				str_copy(node->address, text, sizeof(node->address));
			free(text);
		}
		n++;
	}
	return n;
}

static void group_name_from_cmap(struct corosync_state *s, struct cpg_name *group)
{
	cmap_handle_t cmap;
	char *name = NULL;
	const char *use = "sangw";

	if (cmap_initialize(&cmap) == CS_OK) {
		s->configured_nodes = read_nodelist(s, cmap);
		if (cmap_get_uint32(cmap, "runtime.config.totem.token", &s->token_ms) != CS_OK &&
		    cmap_get_uint32(cmap, "totem.token", &s->token_ms) != CS_OK)
			s->token_ms = 0;
		if (cmap_get_string(cmap, "totem.cluster_name", &name) == CS_OK && name && *name)
			use = name;
		group->length = (uint32_t)str_copy(group->value, use, sizeof(group->value));
		if (group->length >= sizeof(group->value))
			group->length = sizeof(group->value) - 1;
		free(name);
		cmap_finalize(cmap);
		return;
	}
	group->length = (uint32_t)str_copy(group->value, use, sizeof(group->value));
}

/* The ACK deadlines (top of the file). A silent member is waited for the
 * lease plus a token timeout: by then, had it been running, it would have
 * applied the operation or lost its lease. The deadline is never shorter. */
static void set_ack_timeouts(struct corosync_state *s)
{
	const char *env = getenv(ACK_TIMEOUT_ENV);
	uint64_t token = s->token_ms ? s->token_ms : TOKEN_DEFAULT_MS;

	s->silent_wait_ms = LEASE_MS + token;
	s->ack_timeout_ms = ACK_TIMEOUT_DEFAULT_MS;
	if (env && *env) {
		char *end;
		unsigned long long v;

		errno = 0;
		v = strtoull(env, &end, 10);
		if (errno || *end || v > ACK_TIMEOUT_MAX_MS)
			log_warn("cluster: %s=%s is not a number of milliseconds up to %d; using %" PRIu64,
				 ACK_TIMEOUT_ENV, env, ACK_TIMEOUT_MAX_MS, s->ack_timeout_ms);
		else
			s->ack_timeout_ms = v;
	}
	if (s->ack_timeout_ms < s->silent_wait_ms) {
		log_warn("cluster: acknowledgement deadline raised from %" PRIu64 " to %" PRIu64
			 " ms (serving lease %d ms + totem token %" PRIu64 " ms)", s->ack_timeout_ms,
			 s->silent_wait_ms, LEASE_MS, token);
		s->ack_timeout_ms = s->silent_wait_ms;
	}
}

static void corosync_stop(struct cluster *c);

static int corosync_start(struct cluster *c)
{
	static cpg_model_v1_data_t cpg_model = {
		.model = CPG_MODEL_V1,
		.cpg_deliver_fn = cpg_deliver,
		.cpg_confchg_fn = cpg_confchg,
	};
	static quorum_callbacks_t quorum_cbs = { .quorum_notify_fn = quorum_notify };
	struct corosync_state *s = calloc(1, sizeof(*s));
	unsigned int local_node;
	uint32_t quorum_type;
	int fd, quorate = 0;
	cs_error_t err;

	if (!s)
		return -ENOMEM;
	s->c = c;
	s->pid = (uint32_t)getpid();
	TAILQ_INIT(&s->pending);
	TAILQ_INIT(&s->outgoing);
	TAILQ_INIT(&s->backlog);
	TAILQ_INIT(&s->questions);
	ev_timer_init(&s->retry, retry_sends, s);
	ev_timer_init(&s->election_grace, election_grace_over, s);
	ev_timer_init(&s->tick, tick, s);
	c->priv = s;
	group_name_from_cmap(s, &s->group);
	set_ack_timeouts(s);

	err = cpg_model_initialize(&s->cpg, CPG_MODEL_V1, (cpg_model_data_t *)&cpg_model, s);
	if (err != CS_OK) {
		log_error("cluster: cannot connect to corosync CPG (error %d): is corosync running?", err);
		goto fail;
	}
	s->cpg_open = true;
	if ((err = cpg_local_get(s->cpg, &local_node)) != CS_OK ||
	    (err = cpg_fd_get(s->cpg, &fd)) != CS_OK) {
		log_error("cluster: corosync CPG setup failed (error %d)", err);
		goto fail;
	}
	c->node_id = local_node;
	if (ev_add(c->loop, &s->cpg_src, fd, EPOLLIN, cpg_readable, s) < 0)
		goto fail;
	s->cpg_src_added = true;

	err = quorum_model_initialize(&s->quorum, QUORUM_MODEL_V0, (quorum_model_data_t *)&(quorum_model_v0_data_t){
					      .model = QUORUM_MODEL_V0,
					      .quorum_notify_fn = quorum_cbs.quorum_notify_fn },
				      &quorum_type, s);
	if (err != CS_OK) {
		log_error("cluster: cannot connect to corosync quorum (error %d)", err);
		goto fail;
	}
	s->quorum_open = true;
	if ((err = quorum_getquorate(s->quorum, &quorate)) != CS_OK ||
	    (err = quorum_fd_get(s->quorum, &fd)) != CS_OK ||
	    (err = quorum_trackstart(s->quorum, CS_TRACK_CHANGES)) != CS_OK) {
		log_error("cluster: corosync quorum setup failed (error %d)", err);
		goto fail;
	}
	s->quorate = quorate;
	if (ev_add(c->loop, &s->quorum_src, fd, EPOLLIN, quorum_readable, s) < 0)
		goto fail;
	s->quorum_src_added = true;

	err = cpg_join(s->cpg, &s->group);
	if (err != CS_OK) {
		log_error("cluster: cannot join CPG group %s (error %d)", s->group.value, err);
		goto fail;
	}
	s->joined = true;
	s->caught_up_ms = now_ms();
	ev_timer_arm(c->loop, &s->tick, LEASE_REFRESH_MS);
	log_info("cluster: node %" PRIu32 " joined CPG group %s (%s quorum provider, %squorate)",
		 c->node_id, s->group.value, quorum_type == QUORUM_SET ? "with a" : "without",
		 quorate ? "" : "not ");
	log_info("cluster: acknowledgement deadline %" PRIu64 " ms (%" PRIu64 " ms for a silent "
		 "member), serving lease %d ms", s->ack_timeout_ms, s->silent_wait_ms, LEASE_MS);
	return 0;
fail:
	corosync_stop(c);
	return -EIO;
}

static void corosync_stop(struct cluster *c)
{
	struct corosync_state *s = c->priv;
	struct pending_op *p;
	struct outgoing *o;

	if (!s)
		return;
	if (s->cpg_src_added)
		ev_remove(c->loop, &s->cpg_src);
	if (s->quorum_src_added)
		ev_remove(c->loop, &s->quorum_src);
	ev_timer_cancel(c->loop, &s->retry);
	ev_timer_cancel(c->loop, &s->election_grace);
	ev_timer_cancel(c->loop, &s->tick);
	if (s->joined)
		cpg_leave(s->cpg, &s->group);
	if (s->cpg_open)
		cpg_finalize(s->cpg);
	if (s->quorum_open) {
		quorum_trackstop(s->quorum);
		quorum_finalize(s->quorum);
	}
	while ((o = TAILQ_FIRST(&s->outgoing))) {
		TAILQ_REMOVE(&s->outgoing, o, link);
		free(o);
	}
	/* Replayable entries would need a state we are leaving: drop them. */
	while (!TAILQ_EMPTY(&s->backlog)) {
		struct backlog_entry *b = TAILQ_FIRST(&s->backlog);

		TAILQ_REMOVE(&s->backlog, b, link);
		free(b->members);
		free(b);
	}
	snapshot_discard(s);
	/* Questions end with the answers they have (their askers wait). */
	while (!TAILQ_EMPTY(&s->questions))
		question_finish(TAILQ_FIRST(&s->questions));
	c->priv = NULL;
	while ((p = TAILQ_FIRST(&s->pending))) {
		TAILQ_REMOVE(&s->pending, p, link);
		if (p->done)
			p->done(p->ctx, -ESHUTDOWN);
		free(p);
	}
	free(s);
}

static int corosync_submit(struct cluster *c, uint16_t type, const void *payload, uint32_t len,
			   cluster_done_fn done, void *ctx)
{
	struct corosync_state *s = c->priv;
	struct pending_op *p;
	uint8_t *msg;
	int rc;

	/* The lease is not needed here: the operation takes its place in the
	 * delivery order after whatever this node has not applied yet. */
	if (!member_ready(s))
		return -EAGAIN;
	if (len > CLUSTER_OP_MAX)
		return -EMSGSIZE;
	p = calloc(1, sizeof(*p));
	msg = malloc(MSG_HEADER_LEN + len);
	if (!p || !msg) {
		free(p);
		free(msg);
		return -ENOMEM;
	}
	p->seq = ++s->next_op_seq;
	p->done = done;
	p->ctx = ctx;
	put_header(msg, &(struct msg_header){
		.kind = MSG_OP,
		.node = c->node_id,
		.pid = s->pid,
		.seq = p->seq,
		.type = type,
		.len = len,
		.version = s->version,
	});
	if (len)
		memcpy(msg + MSG_HEADER_LEN, payload, len);
	TAILQ_INSERT_TAIL(&s->pending, p, link);
	rc = send_or_queue(s, msg, MSG_HEADER_LEN + len, true, p->seq);
	free(msg);
	if (rc < 0) {
		TAILQ_REMOVE(&s->pending, p, link);
		free(p);
	}
	return rc;
}

const struct cluster_service_ops cluster_corosync_ops = {
	.name = "corosync",
	.start = corosync_start,
	.stop = corosync_stop,
	.submit = corosync_submit,
	.ready = corosync_ready,
	.ask = corosync_ask,
	.view = corosync_view,
};
