/* A node's role under pacemaker's promotable clone (tools/ocf/sangwd,
 * docs/pacemaker.md). One member at a time may be promoted; the promoted
 * node holds the preferred role of every LU whose ALUA policy is
 * "preferred" (its group Active/Optimized, the others the policy's
 * `others`), in place of the configured preferred_node. The role is shared
 * state: promote and demote travel as SOP_NODE_ROLE operations through the
 * shared-state door like any ALUA change, so every node moves the groups
 * in the same order and every nexus gets ASYMMETRIC ACCESS STATE CHANGED.
 * A promoted node that leaves the membership is promoted no more
 * (alua_set_members()). */
#ifndef SANGW_NODE_ROLE_H
#define SANGW_NODE_ROLE_H

#include <stdint.h>

#include "../cluster/cluster.h"
#include "model.h"

struct json_object;

/* Apply a SOP_NODE_ROLE payload on this node: 0, or -EINVAL for a
 * malformed payload. */
int node_role_apply(struct gateway *gw, const void *payload, uint32_t len);

/* The management request {"request":"node_role"[,"role":"promoted"|
 * "unpromoted"]}. Without "role" (or when this node already has the role
 * asked for), fills resp with this node's view and returns 1:
 * "node_id", "role", "promoted_node" (0: none), "ready" (quorate,
 * synchronised and caught up: serving I/O) and "members". With a role to
 * change, submits it, returns 0 and done(ctx, result) follows once it is
 * applied here. Returns -errno with a message for a bad request or when
 * nothing could be submitted. */
int node_role_request(struct gateway *gw, struct json_object *req, struct json_object *resp,
		      cluster_done_fn done, void *ctx, char *err, size_t errlen);

#endif
