/* Fencing: no write of a node the cluster gave up on lands on shared
 * storage after the survivors moved on (docs/cluster.md "Fencing").
 *
 * Every node publishes the identity of its clients of the shared store
 * (RADOS client addresses, backstore.h struct backstore_fencing_ops)
 * through the shared-state door (SOP_FENCE_IDENTITY). When the membership
 * removes a node that has one (killed, partitioned), or a member is silent
 * past the serving lease plus a token while corosync still lists it
 * (frozen: SOP_FENCE_BEGIN), the node is "being fenced" on every member:
 * its port group is Unavailable and every other group of every LU on
 * shared storage reports Transitioning, so no survivor takes its role,
 * completes a PR change or acknowledges a write. The fencer (the lowest
 * member with an identity of its own) blocklists the node's clients; only
 * when the store confirmed does it submit SOP_FENCE_DONE; each survivor
 * then makes its own clients learn of the blocklist (the OSD map) and the
 * takeover happens. If the store cannot confirm, the fencer says so in the
 * log every few seconds and the LUs stay Transitioning.
 *
 * A fenced node that comes back (resumed, healed, restarted) serves
 * nothing through its port groups (Unavailable) until it has reconnected
 * with new clients and published them; its old clients are then admitted
 * again (the blocklist entries are removed; they expire after
 * FENCE_BLOCKLIST_EXPIRE_S anyway). The table of nodes is shared state:
 * the same on every member at the same point of the delivery stream, and
 * part of the state transfer. */
#ifndef SANGW_FENCING_H
#define SANGW_FENCING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

struct json_object;

#define FENCE_IDENTITY_MAX 1024
#define FENCE_MAX_NODES ALUA_MAX_GROUPS
/* How long a blocklist entry lasts if the fenced node never comes back to
 * remove it: a week. A node frozen longer than that would be admitted
 * again; docs/cluster.md says so. */
#define FENCE_BLOCKLIST_EXPIRE_S (7u * 24 * 3600)

enum fence_state {
	FENCE_NONE = 0,      /* serving normally (or never had clients) */
	FENCE_PENDING = 1,   /* gone, its clients not yet refused by the store */
	FENCE_DONE = 2,      /* its clients refused; waits for it to reconnect */
};

/* Payload of SOP_FENCE_IDENTITY (the origin's identity) and of
 * SOP_FENCE_BEGIN / SOP_FENCE_DONE (node; DONE: the identity refused). */
struct sop_fence {
	uint32_t node;
	char identity[FENCE_IDENTITY_MAX];
};

/* sangwd start-up: fencing on (the default) or off (sangwd --fencing off:
 * the state machine runs, but nothing is blocklisted: for tests that show
 * what fencing prevents, and stores that fence otherwise). */
int fencing_init(struct gateway *gw, bool enabled);
void fencing_free(struct gateway *gw);

/* The shared-state door: apply SOP_FENCE_* (every member, in order). */
int fencing_apply(struct gateway *gw, uint32_t origin_node, uint16_t type, const void *payload,
		  uint32_t len);
/* Membership changed (every member, in order): nodes that left with an
 * identity are being fenced; ALUA gets the members that may serve. */
void fencing_membership_changed(struct gateway *gw, const uint32_t *members, size_t n_members,
				const uint32_t *left, size_t n_left);
/* cluster_callbacks.member_silent (local, not in order). */
void fencing_member_silent(void *gw, uint32_t node, bool silent);
/* This node's readiness or a backing's open changed: publish a new
 * identity, resume the fencer's work (control thread). */
void fencing_kick(struct gateway *gw);

/* Control thread or workers: should this group of an LU report (and
 * behave as) Transitioning because of fencing? */
bool fencing_group_transitioning(const struct gateway *gw, const struct lu *lu, uint32_t group);

/* State transfer: key "fencing" of the snapshot object. Restore returns
 * -EINVAL on malformed data (nothing changed); a missing key is fine. */
int fencing_snapshot(const struct gateway *gw, struct json_object *obj);
int fencing_restore(struct gateway *gw, const struct json_object *obj);
/* The management view: {"enabled":..,"nodes":[{"node":N,"state":..,
 * "identity":..}], "blocked":..}. */
struct json_object *fencing_json(const struct gateway *gw);

#endif
