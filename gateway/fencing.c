/* Fencing of nodes whose writes could still reach shared storage
 * (fencing.h says what and why; docs/cluster.md what an admin sees). */
#include "fencing.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "../cluster/cluster.h"
#include "backstore/backstore.h"
#include "event_loop.h"
#include "log.h"
#include "scsi/alua.h"
#include "shared_state.h"
#include "util.h"

#define FENCE_RETRY_MS 2000

struct fence_record {
	uint32_t node;
	uint8_t state;                          /* enum fence_state */
	char identity[FENCE_IDENTITY_MAX];      /* as it last published it */
	char fenced[FENCE_IDENTITY_MAX];        /* DONE: what the store refuses */
};

struct exclude_ctx {
	struct gateway *gw;
	uint32_t node;
	char identity[FENCE_IDENTITY_MAX];
};

struct fencing {
	bool enabled;
	/* Shared state: the same on every member (fencing.h). */
	struct fence_record nodes[FENCE_MAX_NODES];
	unsigned n_nodes;
	uint32_t present[FENCE_MAX_NODES];      /* the membership, ascending */
	unsigned n_present;
	bool have_present;
	bool any_pending;                       /* some node is FENCE_PENDING */

	/* This node's own work (control thread). */
	bool gate_closed;          /* our groups of shared LUs: Transitioning */
	bool publishing;           /* our SOP_FENCE_IDENTITY in flight */
	bool excluding;            /* fencer: a blocklist request in flight */
	struct exclude_ctx exclude;       /* ... its node and addresses */
	uint32_t done_sent;        /* fencer: SOP_FENCE_DONE submitted for it */
	unsigned sync_wanted;      /* SOP_FENCE_DONE of others applied */
	unsigned sync_asked;       /* sync_wanted when the sync in flight began */
	unsigned sync_done;
	bool syncing;
	bool renewing;             /* fenced: reconnecting with new clients */
	char renewed_for[FENCE_IDENTITY_MAX]; /* the fenced clients renew() replaced */
	char unblock[FENCE_IDENTITY_MAX]; /* our old clients, to admit again */
	bool unblocking;
	uint32_t silent[FENCE_MAX_NODES]; /* members the cluster says are silent */
	unsigned n_silent;
	struct ev_timer retry;
	bool retry_armed;
};

static const struct backstore_fencing_ops *store(void)
{
	return backstore_fencing();
}

/* ---- identities: space-separated client addresses ---- */

static bool identity_has(const char *identity, const char *addr, size_t len)
{
	for (const char *p = identity; *p;) {
		size_t n = strcspn(p, " ");

		if (n == len && memcmp(p, addr, len) == 0)
			return true;
		p += n;
		p += strspn(p, " ");
	}
	return false;
}

/* How many addresses of a appear in b (*total: how many a has). */
static unsigned identity_shared(const char *a, const char *b, unsigned *total)
{
	unsigned shared = 0;

	*total = 0;
	for (const char *p = a; *p;) {
		size_t n = strcspn(p, " ");

		if (n) {
			(*total)++;
			shared += identity_has(b, p, n);
		}
		p += n;
		p += strspn(p, " ");
	}
	return shared;
}

/* Does every address of a appear in b? */
static bool identity_within(const char *a, const char *b)
{
	unsigned total, shared = identity_shared(a, b, &total);

	return shared == total;
}

static bool identity_overlaps(const char *a, const char *b)
{
	unsigned total;

	return identity_shared(a, b, &total) > 0;
}

static void current_identity(char *buf, size_t len)
{
	buf[0] = '\0';
	if (store())
		store()->identity(buf, len);
}

/* ---- the shared table ---- */

static const struct fence_record *record_of(const struct fencing *f, uint32_t node)
{
	for (unsigned i = 0; i < f->n_nodes; i++)
		if (f->nodes[i].node == node)
			return &f->nodes[i];
	return NULL;
}

static struct fence_record *record_find(struct fencing *f, uint32_t node)
{
	return (struct fence_record *)record_of(f, node);
}

static struct fence_record *record_get(struct fencing *f, uint32_t node)
{
	struct fence_record *r = record_find(f, node);

	if (r || f->n_nodes == FENCE_MAX_NODES)
		return r;
	r = &f->nodes[f->n_nodes++];
	memset(r, 0, sizeof(*r));
	r->node = node;
	return r;
}

static uint8_t state_of(const struct fencing *f, uint32_t node)
{
	const struct fence_record *r = record_of(f, node);

	return r ? r->state : FENCE_NONE;
}

static const char *state_name(uint8_t state)
{
	switch (state) {
	case FENCE_PENDING:
		return "being-fenced";
	case FENCE_DONE:
		return "fenced";
	default:
		return "none";
	}
}

/* The members that may serve (present and not fenced) go to ALUA; a node
 * being fenced or fenced keeps its group, Unavailable (alua.h). */
static void publish_members(struct gateway *gw)
{
	struct fencing *f = gw->fencing;
	uint32_t serving[FENCE_MAX_NODES];
	size_t n = 0;

	f->any_pending = false;
	for (unsigned i = 0; i < f->n_nodes; i++)
		f->any_pending |= f->nodes[i].state == FENCE_PENDING;
	if (!f->have_present)
		return;
	for (unsigned i = 0; i < f->n_present; i++)
		if (state_of(f, f->present[i]) == FENCE_NONE)
			serving[n++] = f->present[i];
	alua_set_members(gw, serving, n);
}

void fencing_membership_changed(struct gateway *gw, const uint32_t *members, size_t n_members,
				const uint32_t *left, size_t n_left)
{
	struct fencing *f = gw->fencing;

	if (!f) {
		alua_set_members(gw, members, n_members);
		return;
	}
	f->n_present = 0;
	for (size_t i = 0; i < n_members && f->n_present < FENCE_MAX_NODES; i++)
		f->present[f->n_present++] = members[i];
	f->have_present = true;
	for (size_t i = 0; i < n_left; i++) {
		struct fence_record *r = record_find(f, left[i]);

		if (r && r->state == FENCE_NONE && r->identity[0]) {
			r->state = FENCE_PENDING;
			log_warn("fencing: node %u left with clients of shared storage (%s): its LUs "
				 "stay Transitioning until they are blocklisted", r->node, r->identity);
		}
	}
	publish_members(gw);
	fencing_kick(gw);
}

/* ---- applying SOP_FENCE_* ---- */

int fencing_apply(struct gateway *gw, uint32_t origin_node, uint16_t type, const void *payload,
		  uint32_t len)
{
	struct fencing *f = gw->fencing;
	struct sop_fence op;
	struct fence_record *r;
	uint8_t before;

	if (len != sizeof(op))
		return -EINVAL;
	memcpy(&op, payload, sizeof(op));
	op.identity[sizeof(op.identity) - 1] = '\0';
	if (!f)
		return 0;      /* a node without fencing keeps no table */
	/* Only a node that published clients has a record to fence. */
	r = type == SOP_FENCE_IDENTITY ? record_get(f, origin_node) : record_find(f, op.node);
	if (!r)
		return type == SOP_FENCE_IDENTITY ? -ENOSPC : 0;
	before = r->state;
	switch (type) {
	case SOP_FENCE_IDENTITY:
		str_copy(r->identity, op.identity, sizeof(r->identity));
		if (r->state == FENCE_DONE && !identity_overlaps(r->identity, r->fenced)) {
			r->state = FENCE_NONE;
			log_info("fencing: node %u is back with new clients (%s)", r->node,
				 r->identity[0] ? r->identity : "none");
			if (r->node == gw->node_id && r->fenced[0]) {
				str_copy(f->unblock, r->fenced, sizeof(f->unblock));
				r->fenced[0] = '\0';
			}
		}
		break;
	case SOP_FENCE_BEGIN:
		if (r->state != FENCE_NONE || !r->identity[0])
			return 0;
		r->state = FENCE_PENDING;
		log_warn("fencing: node %u is silent: its LUs stay Transitioning until its clients "
			 "(%s) are blocklisted", r->node, r->identity);
		break;
	case SOP_FENCE_DONE:
		if (r->state != FENCE_PENDING)
			return 0;
		r->state = FENCE_DONE;
		str_copy(r->fenced, op.identity, sizeof(r->fenced));
		if (r->node == gw->node_id)
			log_error("fencing: this node was fenced (clients %s refused by the store): "
				  "serving nothing until it has reconnected", r->fenced);
		else {
			log_warn("fencing: node %u fenced (clients %s refused); the others take over",
				 r->node, r->fenced[0] ? r->fenced : "none");
			f->sync_wanted++;
		}
		break;
	default:
		return -EINVAL;
	}
	if (r->state != before)
		publish_members(gw);     /* ALUA follows who may serve */
	fencing_kick(gw);
	return 0;
}

/* ---- this node's work: publish, fence others, sync, reconnect ---- */

static bool node_ready(const struct gateway *gw)
{
	return gw->cluster && gw->cluster_ready && cluster_ready(gw->cluster);
}

static void arm_retry(struct gateway *gw)
{
	struct fencing *f = gw->fencing;

	if (f->retry_armed)
		return;
	f->retry_armed = true;
	ev_timer_arm(gw->loop, &f->retry, FENCE_RETRY_MS);
}

static void retry_timer(struct event_loop *loop, void *arg)
{
	struct gateway *gw = arg;

	(void)loop;
	gw->fencing->retry_armed = false;
	fencing_kick(gw);
}

static int submit_fence(struct gateway *gw, uint16_t type, uint32_t node, const char *identity,
			cluster_done_fn done)
{
	struct sop_fence op;

	memset(&op, 0, sizeof(op));
	op.node = node;
	str_copy(op.identity, identity, sizeof(op.identity));
	return cluster_submit(gw->cluster, type, &op, sizeof(op), done, gw);
}

static void published(void *ctx, int result)
{
	struct gateway *gw = ctx;

	gw->fencing->publishing = false;
	if (result < 0)
		arm_retry(gw);
	fencing_kick(gw);
}

/* The lowest member with clients of its own that is not being fenced:
 * the same choice on every member. */
static bool i_am_fencer(const struct gateway *gw)
{
	const struct fencing *f = gw->fencing;

	for (unsigned i = 0; i < f->n_present; i++) {
		const struct fence_record *r = record_of(f, f->present[i]);

		if (r && r->state == FENCE_NONE && r->identity[0])
			return r->node == gw->node_id;
	}
	return false;
}


static void fence_done_applied(void *ctx, int result)
{
	struct gateway *gw = ctx;

	gw->fencing->done_sent = 0;   /* applied (or lost): look again */
	if (result < 0)
		arm_retry(gw);
	fencing_kick(gw);
}

static void excluded(void *arg, int result, const char *msg)
{
	struct exclude_ctx *x = arg;
	struct gateway *gw = x->gw;

	gw->fencing->excluding = false;
	if (result < 0) {
		log_error("fencing: CANNOT FENCE node %u: the store did not confirm the blocklist of "
			  "its clients (%s): %s. Its LUs stay Transitioning on every node; retrying "
			  "every %d s", x->node, x->identity, msg, FENCE_RETRY_MS / 1000);
		arm_retry(gw);
	} else {
		log_info("fencing: node %u's clients are blocklisted (%s)", x->node, x->identity);
		if (submit_fence(gw, SOP_FENCE_DONE, x->node, x->identity, fence_done_applied) < 0)
			arm_retry(gw);
		else
			gw->fencing->done_sent = x->node;
	}
	fencing_kick(gw);
}

static void fence_next(struct gateway *gw)
{
	struct fencing *f = gw->fencing;
	struct exclude_ctx *x;
	struct fence_record *r = NULL;

	for (unsigned i = 0; i < f->n_nodes && !r; i++)
		if (f->nodes[i].state == FENCE_PENDING && f->nodes[i].node != f->done_sent)
			r = &f->nodes[i];
	if (!r || f->excluding || !i_am_fencer(gw))
		return;
	if (!f->enabled || !store()) {
		log_warn("fencing is off (sangwd --fencing off): node %u's clients (%s) are NOT "
			 "blocklisted; writes it still has queued may land after the others' writes",
			 r->node, r->identity);
		if (submit_fence(gw, SOP_FENCE_DONE, r->node, r->identity, fence_done_applied) < 0)
			arm_retry(gw);
		else
			f->done_sent = r->node;
		return;
	}
	x = &f->exclude;
	x->gw = gw;
	x->node = r->node;
	str_copy(x->identity, r->identity, sizeof(x->identity));
	f->excluding = true;
	log_warn("fencing: blocklisting node %u's clients: %s", r->node, r->identity);
	if (store()->exclude(x->identity, true, FENCE_BLOCKLIST_EXPIRE_S, excluded, x) < 0) {
		f->excluding = false;
		arm_retry(gw);
	}
}

static void synced(void *arg, int result, const char *msg)
{
	struct gateway *gw = arg;
	struct fencing *f = gw->fencing;

	f->syncing = false;
	if (result < 0) {
		log_error("fencing: this node's clients cannot learn of the blocklist (%s): its "
			  "LUs on shared storage stay Transitioning; retrying", msg);
		arm_retry(gw);
	} else {
		f->sync_done = f->sync_asked;
	}
	fencing_kick(gw);
}

static void sync_if_needed(struct gateway *gw)
{
	struct fencing *f = gw->fencing;
	unsigned wanted = f->sync_wanted;

	if (f->syncing || f->sync_done == wanted)
		return;
	if (!f->enabled || !store()) {
		f->sync_done = wanted;
		return;
	}
	f->syncing = true;
	/* A DONE applied meanwhile asks for another sync. */
	f->sync_asked = wanted;
	if (store()->sync(synced, gw) < 0) {
		f->syncing = false;
		arm_retry(gw);
	}
}

static void unblocked(void *arg, int result, const char *msg)
{
	struct gateway *gw = arg;

	gw->fencing->unblocking = false;
	if (result < 0)
		log_warn("fencing: could not remove this node's old clients from the blocklist (%s); "
			 "they expire after %u s", msg, FENCE_BLOCKLIST_EXPIRE_S);
	else
		gw->fencing->unblock[0] = '\0';
}

/* Fenced: close every LU on shared storage and open it again with new
 * clients (backstore_fencing_ops.renew), then publish them. */
static void renew(struct gateway *gw, const char *me_fenced)
{
	struct fencing *f = gw->fencing;
	struct target *t;
	struct lu *lu;

	f->renewing = true;
	str_copy(f->renewed_for, me_fenced, sizeof(f->renewed_for));
	/* Sessions stay: our port groups are Unavailable until we are back,
	 * and a command that reaches us after that is a new one. */
	log_warn("fencing: reconnecting to shared storage with new clients");
	store()->renew();
	TAILQ_FOREACH(t, &gw->targets, link)
		TAILQ_FOREACH(lu, &t->lus, link)
			if (lu->bs_ops->fencing)
				lu_backing_reopen(lu);
}

static bool shared_lus_opening(const struct gateway *gw)
{
	const struct target *t;
	const struct lu *lu;

	TAILQ_FOREACH(t, &gw->targets, link)
		TAILQ_FOREACH(lu, &t->lus, link)
			if (lu->bs_ops->fencing && lu->backing_state == LU_BACKING_OPENING)
				return true;
	return false;
}

/* Our groups of shared LUs serve only once the cluster knows every client
 * we write through, we are not (being) fenced, and our clients know of
 * every blocklist applied so far. */
static bool gate_closed(const struct fencing *f, const struct fence_record *me, bool covered)
{
	return f->renewing || !covered || f->syncing || f->sync_done != f->sync_wanted ||
	       (me && me->state != FENCE_NONE);
}

void fencing_kick(struct gateway *gw)
{
	struct fencing *f = gw->fencing;
	struct fence_record *me;
	char current[FENCE_IDENTITY_MAX];
	bool covered, fenced_clients_live;

	if (!f || !gw->cluster)
		return;
	current_identity(current, sizeof(current));
	me = record_find(f, gw->node_id);
	if (f->renewing && !shared_lus_opening(gw))
		f->renewing = false;
	fenced_clients_live = me && me->state == FENCE_DONE && identity_overlaps(current, me->fenced);
	if (fenced_clients_live && !f->renewing) {
		if (strcmp(f->renewed_for, me->fenced) != 0)
			renew(gw, me->fenced);
		else
			log_error("fencing: this node still holds refused clients after reconnecting "
				  "(%s); restart sangwd", current);
	}
	covered = me ? identity_within(current, me->identity) : !current[0];
	f->gate_closed = gate_closed(f, me, covered);
	if (!node_ready(gw))
		return;
	/* Publish new clients; a fenced node publishes its new ones to come
	 * back (the apply admits it once none of them was refused). */
	if (!f->publishing && !f->renewing &&
	    (!covered || (me && me->state == FENCE_DONE && !fenced_clients_live))) {
		f->publishing = true;
		if (submit_fence(gw, SOP_FENCE_IDENTITY, gw->node_id, current, published) < 0) {
			f->publishing = false;
			arm_retry(gw);
		}
	}
	for (unsigned i = 0; i < f->n_silent; i++) {
		struct fence_record *r = record_find(f, f->silent[i]);

		if (r && r->state == FENCE_NONE && r->identity[0] &&
		    submit_fence(gw, SOP_FENCE_BEGIN, r->node, "", NULL) < 0)
			arm_retry(gw);
	}
	fence_next(gw);
	sync_if_needed(gw);
	f->gate_closed = gate_closed(f, me, covered);
	if (f->unblock[0] && !f->unblocking && me && me->state == FENCE_NONE && !f->renewing &&
	    store() && f->enabled) {
		f->unblocking = true;
		if (store()->exclude(f->unblock, false, 0, unblocked, gw) < 0)
			f->unblocking = false;
	}
	if (f->any_pending)
		arm_retry(gw);    /* the fencer may be gone: look again */
}

void fencing_member_silent(void *owner, uint32_t node, bool silent)
{
	struct gateway *gw = owner;
	struct fencing *f = gw->fencing;
	unsigned i;

	if (!f)
		return;
	for (i = 0; i < f->n_silent && f->silent[i] != node; i++)
		;
	if (silent && i == f->n_silent && f->n_silent < FENCE_MAX_NODES)
		f->silent[f->n_silent++] = node;
	else if (!silent && i < f->n_silent)
		f->silent[i] = f->silent[--f->n_silent];
	fencing_kick(gw);
}

bool fencing_group_transitioning(const struct gateway *gw, const struct lu *lu, uint32_t group)
{
	const struct fencing *f = gw->fencing;

	if (!f || !lu->bs_ops || !lu->bs_ops->fencing)
		return false;
	if (group == gw->node_id && f->gate_closed)
		return true;
	/* A node being fenced: every other group waits for the blocklist; its
	 * own is Unavailable already. */
	return f->any_pending && state_of(f, group) == FENCE_NONE;
}

/* ---- set-up, state transfer, management view ---- */

int fencing_init(struct gateway *gw, bool enabled)
{
	struct fencing *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	f->enabled = enabled;
	ev_timer_init(&f->retry, retry_timer, gw);
	gw->fencing = f;
	if (!enabled)
		log_warn("fencing is off: a node the cluster gives up on is not blocklisted");
	return 0;
}

void fencing_free(struct gateway *gw)
{
	if (!gw->fencing)
		return;
	if (gw->fencing->retry_armed)
		ev_timer_cancel(gw->loop, &gw->fencing->retry);
	free(gw->fencing);
	gw->fencing = NULL;
}

int fencing_snapshot(const struct gateway *gw, struct json_object *obj)
{
	const struct fencing *f = gw->fencing;
	json_object *o, *nodes, *present;

	if (!f)
		return 0;
	o = json_object_new_object();
	nodes = json_object_new_array();
	present = json_object_new_array();
	if (!o || !nodes || !present) {
		json_object_put(o);
		json_object_put(nodes);
		json_object_put(present);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < f->n_nodes; i++) {
		const struct fence_record *r = &f->nodes[i];
		json_object *n = json_object_new_object();

		json_object_object_add(n, "node", json_object_new_int64(r->node));
		json_object_object_add(n, "state", json_object_new_int(r->state));
		json_object_object_add(n, "identity", json_object_new_string(r->identity));
		json_object_object_add(n, "fenced", json_object_new_string(r->fenced));
		json_object_array_add(nodes, n);
	}
	for (unsigned i = 0; i < f->n_present; i++)
		json_object_array_add(present, json_object_new_int64(f->present[i]));
	json_object_object_add(o, "nodes", nodes);
	json_object_object_add(o, "present", present);
	json_object_object_add(o, "have_present", json_object_new_boolean(f->have_present));
	json_object_object_add(obj, "fencing", o);
	return 0;
}

static bool get_string(json_object *o, const char *key, char *out, size_t size)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || json_object_get_type(v) != json_type_string ||
	    (size_t)json_object_get_string_len(v) >= size)
		return false;
	memcpy(out, json_object_get_string(v), (size_t)json_object_get_string_len(v) + 1);
	return true;
}

int fencing_restore(struct gateway *gw, const struct json_object *obj)
{
	struct fencing *f = gw->fencing;
	struct fence_record nodes[FENCE_MAX_NODES];
	uint32_t present[FENCE_MAX_NODES];
	json_object *o, *arr, *v;
	size_t n_nodes, n_present;

	if (!f || !json_object_object_get_ex(obj, "fencing", &o))
		return 0;
	if (!json_object_object_get_ex(o, "nodes", &arr) ||
	    json_object_get_type(arr) != json_type_array ||
	    (n_nodes = json_object_array_length(arr)) > FENCE_MAX_NODES)
		return -EINVAL;
	memset(nodes, 0, sizeof(nodes));
	for (size_t i = 0; i < n_nodes; i++) {
		json_object *n = json_object_array_get_idx(arr, i), *id, *st;

		if (!json_object_object_get_ex(n, "node", &id) ||
		    json_object_get_type(id) != json_type_int ||
		    !json_object_object_get_ex(n, "state", &st) ||
		    json_object_get_type(st) != json_type_int ||
		    json_object_get_int64(id) < 1 || json_object_get_int64(id) > UINT16_MAX ||
		    json_object_get_int(st) < FENCE_NONE || json_object_get_int(st) > FENCE_DONE ||
		    !get_string(n, "identity", nodes[i].identity, sizeof(nodes[i].identity)) ||
		    !get_string(n, "fenced", nodes[i].fenced, sizeof(nodes[i].fenced)))
			return -EINVAL;
		nodes[i].node = (uint32_t)json_object_get_int64(id);
		nodes[i].state = (uint8_t)json_object_get_int(st);
	}
	if (!json_object_object_get_ex(o, "present", &arr) ||
	    json_object_get_type(arr) != json_type_array ||
	    (n_present = json_object_array_length(arr)) > FENCE_MAX_NODES)
		return -EINVAL;
	for (size_t i = 0; i < n_present; i++) {
		v = json_object_array_get_idx(arr, i);
		if (json_object_get_type(v) != json_type_int || json_object_get_int64(v) < 1 ||
		    json_object_get_int64(v) > UINT16_MAX)
			return -EINVAL;
		present[i] = (uint32_t)json_object_get_int64(v);
	}
	if (!json_object_object_get_ex(o, "have_present", &v) ||
	    json_object_get_type(v) != json_type_boolean)
		return -EINVAL;
	memcpy(f->nodes, nodes, sizeof(nodes));
	f->n_nodes = (unsigned)n_nodes;
	memcpy(f->present, present, n_present * sizeof(*present));
	f->n_present = (unsigned)n_present;
	f->have_present = json_object_get_boolean(v);
	f->any_pending = false;
	for (unsigned i = 0; i < f->n_nodes; i++)
		f->any_pending |= f->nodes[i].state == FENCE_PENDING;
	fencing_kick(gw);
	return 0;
}

json_object *fencing_json(const struct gateway *gw)
{
	const struct fencing *f = gw->fencing;
	json_object *o = json_object_new_object(), *nodes = json_object_new_array();

	json_object_object_add(o, "enabled", json_object_new_boolean(f && f->enabled));
	json_object_object_add(o, "this_node_blocked",
			       json_object_new_boolean(f && f->gate_closed));
	for (unsigned i = 0; f && i < f->n_nodes; i++) {
		const struct fence_record *r = &f->nodes[i];
		json_object *n = json_object_new_object();

		json_object_object_add(n, "node", json_object_new_int64(r->node));
		json_object_object_add(n, "state", json_object_new_string(state_name(r->state)));
		json_object_object_add(n, "identity", json_object_new_string(r->identity));
		if (r->fenced[0])
			json_object_object_add(n, "fenced_clients", json_object_new_string(r->fenced));
		json_object_array_add(nodes, n);
	}
	json_object_object_add(o, "nodes", nodes);
	return o;
}
