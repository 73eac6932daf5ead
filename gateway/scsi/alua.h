/* Asymmetric logical unit access (SPC-4 5.16). Every cluster node is one
 * target port group of every LU (id = node id) holding one target port;
 * struct lu_alua (model.h) keeps the groups' states, identical on every
 * node. They start from the LU's policy (config "alua") and the cluster
 * membership, and change by implicit transitions (the admin's alua_set
 * request, membership and policy changes) and explicit ones (SET TARGET
 * PORT GROUPS). Requested changes travel as SOP_ALUA_SET operations
 * through the shared-state door and are applied by alua_apply() on every
 * node; membership and policy changes are themselves delivered in the
 * same order everywhere and applied directly. A departed member's group is
 * reported Unavailable until the node returns (see alua.c for why). */
#ifndef SANGW_ALUA_H
#define SANGW_ALUA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../cluster/cluster.h"
#include "../model.h"
#include "scsi_internal.h"

struct json_object;

/* REPORT TARGET PORT GROUPS and SET TARGET PORT GROUPS (SPC-4 6.36, 6.38). */
extern const struct scsi_opcode_table alua_opcode_table;

/* RTPG STATUS CODE values (SPC-4 6.36). */
#define ALUA_STATUS_NONE      0
#define ALUA_STATUS_EXPLICIT  1   /* altered by SET TARGET PORT GROUPS */
#define ALUA_STATUS_IMPLICIT  2   /* altered by implicit asymmetric access behaviour */

/* IMPLICIT TRANSITION TIME reported by RTPG's extended header: how long an
 * initiator should allow an implicit transition (a cluster failover). */
#define ALUA_IMPLICIT_TRANSITION_SECS 10

/* "active-optimized", "active-non-optimized", "standby", "unavailable",
 * "offline", "transitioning"; "unknown" for anything else. */
const char *alua_state_name(uint8_t state);
/* The reverse; returns 0, or -EINVAL for an unknown name. */
int alua_state_parse(const char *name, uint8_t *state);

/* Give a new LU its port groups: one per member of gw, states from the
 * LU's policy (lu->spec.alua). Called by lu_create(). */
void alua_lu_init(struct lu *lu);

/* The cluster membership changed (the membership callback; every node in
 * the same order): store it in gw and move every LU's groups through
 * alua_membership_transition() (this node's first membership: from the
 * policy alone). Groups whose state changed report STATUS CODE 2, and
 * every nexus of such an LU gets ASYMMETRIC ACCESS STATE CHANGED. */
void alua_set_members(struct gateway *gw, const uint32_t *members, size_t n);

/* The implicit transitions of a membership change from old to now (both
 * ascending) on one LU's groups a, deterministic (alua.c says the rules):
 * a departed member's group becomes Unavailable and stays listed; a member
 * that joins gets its policy state, and the preferred node's return puts
 * every member back to the policy (failback); if then no member's group
 * is Active/Optimized, the preferred node's (if present) or the lowest
 * member's becomes so. STATUS CODEs are left to the caller. */
void alua_membership_transition(const struct lu_alua_policy *policy, const uint32_t *old,
				unsigned n_old, const uint32_t *now, unsigned n_now,
				struct lu_alua *a);

/* A node id is this node's target port group and relative target port
 * identifier: it must be 1-65535. Returns 0, or -ERANGE with a message
 * for the operator; sangwd refuses to start with such an id. */
int alua_check_node_id(uint32_t node_id, char *err, size_t errlen);

/* State transfer to a joining node (the cluster snapshot, JSON). The
 * membership the groups were derived from, as key "alua_members" of obj,
 * and one LU's groups, as key "alua_groups" of that LU's object. Restore
 * the members before the LUs' groups; a missing key changes nothing;
 * malformed data returns -EINVAL and changes nothing. Restoring groups
 * that differ raises ASYMMETRIC ACCESS STATE CHANGED on this node's
 * nexuses of the LU. Snapshots return 0 or -ENOMEM. */
int alua_snapshot_members(const struct gateway *gw, struct json_object *obj);
int alua_restore_members(struct gateway *gw, const struct json_object *obj);
int alua_snapshot_lu(const struct lu *lu, struct json_object *lu_obj);
int alua_restore_lu(struct lu *lu, const struct json_object *lu_obj);

/* A new policy for an LU (configuration change, applied on every node):
 * stored in lu->spec.alua and established as an implicit transition. */
void alua_lu_set_policy(struct lu *lu, const struct lu_alua_policy *policy);
bool alua_policy_equal(const struct lu_alua_policy *a, const struct lu_alua_policy *b);

/* SPC-4 5.16.2.4: may a command (its CDB) run through a target port group
 * in this state? If not, *asc_ascq is the NOT READY additional sense code
 * the state requires. */
bool alua_command_allowed(uint8_t state, const uint8_t *cdb, uint16_t *asc_ascq);

/* Dispatcher check: completes cmd with CHECK CONDITION, NOT READY when the
 * state of the port group it arrived through (nexus->tpg_id) does not
 * allow it, and returns true. */
bool alua_check(struct scsi_cmd *cmd);

/* Apply a SOP_ALUA_SET payload on this node. Explicit changes return a
 * shared_result_scsi() code, implicit ones 0 or -errno. */
int alua_apply(struct gateway *gw, const void *payload, uint32_t len);

/* The management request {"request":"alua_set","target":IQN,"lun":N,
 * "state":NAME[,"tpg":ID]} (tpg defaults to this node's group): validate
 * it and submit an implicit transition; done(ctx, result) follows once it
 * is applied here (result 0 or -errno). Returns 0 when submitted, or
 * -errno with a message naming the offending member (nothing submitted). */
int alua_request_submit(struct gateway *gw, struct json_object *req, cluster_done_fn done,
			void *ctx, char *err, size_t errlen);

/* Runtime view for the "list" request: an array of the LU's port groups,
 * [{"id":1,"state":"standby","preferred":false,"status":"implicit",
 * "relative_target_ports":[1]}, ...]. */
struct json_object *alua_groups_json(const struct lu *lu);
/* The state of one group of the LU as RTPG reports it (the name, as
 * alua_state_name); NULL when the LU has no such group. */
const char *alua_group_state_name(const struct lu *lu, uint32_t group_id);

#endif
