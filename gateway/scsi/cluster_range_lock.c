/* Cluster-wide LBA range locks for COMPARE AND WRITE: see
 * cluster_range_lock.h for the protocol and why it goes through the
 * shared-state door. */
#include "cluster_range_lock.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../cluster/cluster.h"
#include "../log.h"
#include "sbc.h"
#include "../shared_state.h"

/* One claim in the agreed queue, identical on every node. */
struct range_entry {
	uint32_t node;                /* the node that asked */
	uint64_t token;               /* unique per node and LU */
	uint64_t lba, count;
	bool granted;
	TAILQ_ENTRY(range_entry) link;
};

struct cluster_range_lock_lu {
	TAILQ_HEAD(, range_entry) queue;          /* agreed order */
	TAILQ_HEAD(, cluster_range_lock) mine;    /* this node's claims not yet released */
	uint32_t next_seq;
};

/* lu->range_locks, created by the first claim or queue entry (NULL when
 * create is false and there is none yet, or when it cannot be allocated). */
static struct cluster_range_lock_lu *lu_locks(struct lu *lu, bool create)
{
	if (!lu->range_locks && create) {
		lu->range_locks = calloc(1, sizeof(*lu->range_locks));
		if (!lu->range_locks)
			return NULL;
		TAILQ_INIT(&lu->range_locks->queue);
		TAILQ_INIT(&lu->range_locks->mine);
	}
	return lu->range_locks;
}

bool cluster_range_lock_needed(const struct gateway *gw)
{
	return gw->cluster && gw->cluster->ops != &cluster_single_ops;
}

static bool overlap(uint64_t a_lba, uint64_t a_count, uint64_t b_lba, uint64_t b_count)
{
	return a_count && b_count && a_lba < b_lba + b_count && b_lba < a_lba + a_count;
}

/* --- this node's claims ----------------------------------------------- */

static struct cluster_range_lock *mine_find(struct cluster_range_lock_lu *st, uint64_t token)
{
	struct cluster_range_lock *l;

	TAILQ_FOREACH(l, &st->mine, link)
		if (l->token == token)
			return l;
	return NULL;
}

static void send_unlock(struct lu *lu, uint64_t token)
{
	struct range_lock_payload p;
	int rc;

	memset(&p, 0, sizeof(p));
	sop_lu_ref_set(&p.lu, lu);
	p.token = token;
	rc = cluster_submit(lu->target->gw->cluster, SOP_RANGE_UNLOCK, &p, sizeof(p), NULL, NULL);
	/* Not sent (no quorum): this node resynchronises before it serves
	 * again, and then sweeps what it still finds of its own. */
	if (rc < 0)
		log_warn("%s LUN %llu: COMPARE AND WRITE range unlock not sent: %s",
			 lu->target->iqn, (unsigned long long)lu->lun, strerror(-rc));
}

static void resume_deferred(void *arg)
{
	struct cluster_range_lock *l = arg;

	l->resume(l->arg, l->result);
}

/* Resume the command when its claim is held (granted in the agreed queue
 * and completed by the cluster service), or has failed. */
static void maybe_resume(struct cluster_range_lock_lu *st, struct cluster_range_lock *l)
{
	if (!l->completed || (l->result == 0 && !l->granted))
		return;
	if (l->result < 0) {
		/* Not ours to hold: forget it here; if the LOCK did reach the
		 * others, the UNLOCK (or, from a minority, the survivors'
		 * membership cleanup) removes it there. */
		TAILQ_REMOVE(&st->mine, l, link);
		send_unlock(l->lu, l->token);
	}
	ev_defer(l->lu->target->gw->loop, &l->defer, resume_deferred, l);
}

static void lock_done(void *ctx, int result)
{
	struct cluster_range_lock *l = ctx;
	struct cluster_range_lock_lu *st = lu_locks(l->lu, false);

	l->completed = true;
	l->result = l->cancelled ? -ECANCELED : result < 0 ? result : 0;
	maybe_resume(st, l);
}

int cluster_range_lock(struct lu *lu, struct cluster_range_lock *l, uint64_t lba, uint64_t count,
		       void (*resume)(void *arg, int result), void *arg)
{
	struct cluster_range_lock_lu *st = lu_locks(lu, true);
	struct range_lock_payload p;
	int rc;

	if (!st)
		return -ENOMEM;
	memset(l, 0, sizeof(*l));
	l->lu = lu;
	l->token = (uint64_t)getpid() << 32 | ++st->next_seq;
	l->lba = lba;
	l->count = count;
	l->resume = resume;
	l->arg = arg;
	memset(&p, 0, sizeof(p));
	sop_lu_ref_set(&p.lu, lu);
	p.token = l->token;
	p.lba = lba;
	p.count = count;
	TAILQ_INSERT_TAIL(&st->mine, l, link);
	rc = cluster_submit(lu->target->gw->cluster, SOP_RANGE_LOCK, &p, sizeof(p), lock_done, l);
	if (rc < 0)
		TAILQ_REMOVE(&st->mine, l, link);
	return rc;
}

void cluster_range_lock_lu_removed(struct lu *lu)
{
	struct cluster_range_lock_lu *st = lu_locks(lu, false);
	struct cluster_range_lock *l, *next;

	if (!st)
		return;
	for (l = TAILQ_FIRST(&st->mine); l; l = next) {
		next = TAILQ_NEXT(l, link);
		if (l->granted || l->cancelled)
			continue;
		l->cancelled = true;
		if (l->completed) {   /* done() ran: only the grant was missing */
			l->result = -ECANCELED;
			maybe_resume(st, l);
		}
	}
}

void cluster_range_unlock(struct cluster_range_lock *l)
{
	struct cluster_range_lock_lu *st = lu_locks(l->lu, false);

	if (st && mine_find(st, l->token) == l)
		TAILQ_REMOVE(&st->mine, l, link);
	send_unlock(l->lu, l->token);
}

/* --- the agreed queue ------------------------------------------------- */

/* Grant every entry that no earlier entry overlaps; resume this node's
 * commands whose entries were just granted. */
static void regrant(struct gateway *gw, struct cluster_range_lock_lu *st)
{
	struct range_entry *e, *before;

	TAILQ_FOREACH(e, &st->queue, link) {
		bool blocked = false;

		if (e->granted)
			continue;
		for (before = TAILQ_FIRST(&st->queue); before != e && !blocked;
		     before = TAILQ_NEXT(before, link))
			blocked = overlap(before->lba, before->count, e->lba, e->count);
		if (blocked)
			continue;
		e->granted = true;
		if (e->node == gw->node_id) {
			struct cluster_range_lock *l = mine_find(st, e->token);

			if (l) {
				l->granted = true;
				maybe_resume(st, l);
			}
		}
	}
}

static struct range_entry *entry_find(struct cluster_range_lock_lu *st, uint32_t node,
				      uint64_t token)
{
	struct range_entry *e;

	TAILQ_FOREACH(e, &st->queue, link)
		if (e->node == node && e->token == token)
			return e;
	return NULL;
}

int cluster_range_lock_apply(struct gateway *gw, uint32_t origin_node, uint16_t type,
			     const void *payload, uint32_t len)
{
	struct range_lock_payload p;
	struct cluster_range_lock_lu *st;
	struct range_entry *e;
	struct lu *lu;

	if (len != sizeof(p)) {
		log_error("range lock operation: bad payload length %u", len);
		return -EINVAL;
	}
	memcpy(&p, payload, sizeof(p));
	lu = sop_lu_ref_find(gw, &p.lu);
	if (!lu || lu->removing)
		return -ENOENT;
	st = lu_locks(lu, type == SOP_RANGE_LOCK);
	if (!st)
		return type == SOP_RANGE_LOCK ? -ENOMEM : 0;
	if (type == SOP_RANGE_UNLOCK) {
		e = entry_find(st, origin_node, p.token);
		if (e) {
			TAILQ_REMOVE(&st->queue, e, link);
			free(e);
			regrant(gw, st);
		}
		return 0;
	}
	/* SBC-3 5.2 allows at most 255 blocks; anything else is not ours. */
	if (p.count == 0 || p.count > SBC_MAX_CAW_BLOCKS || p.lba >= lu->num_blocks ||
	    p.count > lu->num_blocks - p.lba || entry_find(st, origin_node, p.token))
		return -EINVAL;
	/* The same on every node, even out of memory: a node that cannot keep
	 * the queue must not serve (it would grant what others refuse). */
	e = calloc(1, sizeof(*e));
	if (!e) {
		log_error("range lock: out of memory; this node's COMPARE AND WRITE state is lost");
		abort();
	}
	e->node = origin_node;
	e->token = p.token;
	e->lba = p.lba;
	e->count = p.count;
	TAILQ_INSERT_TAIL(&st->queue, e, link);
	regrant(gw, st);
	return 0;
}

static bool is_member(const uint32_t *members, size_t n, uint32_t node)
{
	for (size_t i = 0; i < n; i++)
		if (members[i] == node)
			return true;
	return false;
}

void cluster_range_lock_members_changed(struct gateway *gw, const uint32_t *members, size_t n)
{
	struct target *t;
	struct lu *lu;

	TAILQ_FOREACH(t, &gw->targets, link) {
		TAILQ_FOREACH(lu, &t->lus, link) {
			struct cluster_range_lock_lu *st = lu_locks(lu, false);
			struct range_entry *e, *next;

			if (!st)
				continue;
			for (e = TAILQ_FIRST(&st->queue); e; e = next) {
				next = TAILQ_NEXT(e, link);
				/* A departed node's claims die with its nexuses. */
				if (!is_member(members, n, e->node)) {
					TAILQ_REMOVE(&st->queue, e, link);
					free(e);
					continue;
				}
				/* Ours but no command owns it: release it. */
				if (e->node == gw->node_id && !mine_find(st, e->token))
					send_unlock(lu, e->token);
			}
			regrant(gw, st);
		}
	}
}

unsigned cluster_range_lock_count(const struct lu *lu, unsigned *granted)
{
	const struct cluster_range_lock_lu *st = lu->range_locks;
	struct range_entry *e;
	unsigned n = 0;

	*granted = 0;
	if (!st)
		return 0;
	TAILQ_FOREACH(e, &st->queue, link) {
		n++;
		*granted += e->granted;
	}
	return n;
}

void cluster_range_lock_lu_cleanup(struct lu *lu)
{
	struct cluster_range_lock_lu *st = lu->range_locks;
	struct range_entry *e;

	if (!st)
		return;
	while ((e = TAILQ_FIRST(&st->queue))) {
		TAILQ_REMOVE(&st->queue, e, link);
		free(e);
	}
	free(st);
	lu->range_locks = NULL;
}

/* --- state transfer --------------------------------------------------- */

int cluster_range_lock_snapshot_lu(const struct lu *lu, struct json_object *lu_obj)
{
	const struct cluster_range_lock_lu *st = lu->range_locks;
	json_object *arr = json_object_new_array();
	struct range_entry *e;

	if (!arr)
		return -ENOMEM;
	if (st) {
		TAILQ_FOREACH(e, &st->queue, link) {
			json_object *o = json_object_new_object();

			if (!o) {
				json_object_put(arr);
				return -ENOMEM;
			}
			json_object_object_add(o, "node", json_object_new_int64(e->node));
			json_object_object_add(o, "token", json_object_new_int64((int64_t)e->token));
			json_object_object_add(o, "lba", json_object_new_int64((int64_t)e->lba));
			json_object_object_add(o, "count", json_object_new_int64((int64_t)e->count));
			json_object_array_add(arr, o);
		}
	}
	json_object_object_add(lu_obj, "range_locks", arr);
	return 0;
}

static bool get_u64(json_object *o, const char *key, uint64_t max, uint64_t *out)
{
	json_object *v;
	int64_t x;

	if (!json_object_object_get_ex(o, key, &v) || json_object_get_type(v) != json_type_int)
		return false;
	x = json_object_get_int64(v);
	if (x < 0 || (uint64_t)x > max)
		return false;
	*out = (uint64_t)x;
	return true;
}

int cluster_range_lock_restore_lu(struct lu *lu, const struct json_object *lu_obj)
{
	TAILQ_HEAD(, range_entry) loaded = TAILQ_HEAD_INITIALIZER(loaded);
	struct cluster_range_lock_lu *st;
	struct range_entry *e;
	json_object *arr;
	size_t n;

	if (!json_object_object_get_ex(lu_obj, "range_locks", &arr))
		return 0;
	if (json_object_get_type(arr) != json_type_array)
		return -EINVAL;
	n = json_object_array_length(arr);
	st = lu_locks(lu, n > 0);
	if (!st)
		return n > 0 ? -ENOMEM : 0;
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(arr, i);
		uint64_t node;

		e = calloc(1, sizeof(*e));
		if (!e || json_object_get_type(o) != json_type_object ||
		    !get_u64(o, "node", UINT16_MAX, &node) || !get_u64(o, "token", INT64_MAX, &e->token) ||
		    !get_u64(o, "lba", lu->num_blocks - 1, &e->lba) ||
		    !get_u64(o, "count", SBC_MAX_CAW_BLOCKS, &e->count) || e->count == 0) {
			free(e);
			while ((e = TAILQ_FIRST(&loaded))) {
				TAILQ_REMOVE(&loaded, e, link);
				free(e);
			}
			return -EINVAL;
		}
		e->node = (uint32_t)node;
		TAILQ_INSERT_TAIL(&loaded, e, link);
	}
	while ((e = TAILQ_FIRST(&st->queue))) {
		TAILQ_REMOVE(&st->queue, e, link);
		free(e);
	}
	while ((e = TAILQ_FIRST(&loaded))) {
		TAILQ_REMOVE(&loaded, e, link);
		TAILQ_INSERT_TAIL(&st->queue, e, link);
	}
	/* Grants follow from the order alone: recompute them. */
	regrant(lu->target->gw, st);
	return 0;
}
