/* Asymmetric logical unit access (SPC-4 5.16): target port group states,
 * REPORT TARGET PORT GROUPS, SET TARGET PORT GROUPS, the admin's implicit
 * transitions and the per-command check by port group state. See alua.h
 * for the model: one port group per cluster node, one port per group. */
#include "alua.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../cluster_status.h"
#include "../fencing.h"
#include "../log.h"
#include "sense.h"
#include "target_ports.h"
#include "../shared_state.h"
#include "ua.h"
#include "../util.h"

/* SPC-4 Annex D: 04h/12h LOGICAL UNIT NOT READY, OFFLINE (not in sense.h). */

#define OP_MAINTENANCE_IN              0xa3
#define OP_MAINTENANCE_OUT             0xa4
#define SA_REPORT_TARGET_PORT_GROUPS   0x0a
#define SA_SET_TARGET_PORT_GROUPS      0x0a

/* RTPG supported-states byte (SPC-4 6.36): T_SUP, O_SUP, U_SUP, S_SUP,
 * AN_SUP, AO_SUP; LBD_SUP is not (no LBA dependent state). */
#define ALUA_SUPPORTED_STATES (0x80 | 0x40 | 0x08 | 0x04 | 0x02 | 0x01)

/* One entry of a SOP_ALUA_SET payload. */
struct alua_set_entry {
	uint16_t tpg_id;
	uint8_t state;
	uint8_t reserved;
};

/* SOP_ALUA_SET payload (fixed layout, shared_state.h rules). */
struct alua_set_payload {
	struct sop_lu_ref lu;
	uint64_t origin_nexus;        /* explicit: the STPG's nexus gets no UA */
	uint8_t implicit;             /* 1: admin request (STATUS CODE 2), 0: STPG (1) */
	uint8_t count;
	uint8_t reserved[6];
	struct alua_set_entry set[ALUA_MAX_GROUPS];
};

/* ---------------------------------------------------------------------
 * State names
 */

static const struct {
	uint8_t state;
	const char *name;
} state_names[] = {
	{ ALUA_ACTIVE_OPTIMIZED, "active-optimized" },
	{ ALUA_ACTIVE_NON_OPTIMIZED, "active-non-optimized" },
	{ ALUA_STANDBY, "standby" },
	{ ALUA_UNAVAILABLE, "unavailable" },
	{ ALUA_OFFLINE, "offline" },
	{ ALUA_TRANSITIONING, "transitioning" },
};

const char *alua_state_name(uint8_t state)
{
	for (size_t i = 0; i < ARRAY_SIZE(state_names); i++)
		if (state_names[i].state == state)
			return state_names[i].name;
	return "unknown";
}

int alua_state_parse(const char *name, uint8_t *state)
{
	for (size_t i = 0; i < ARRAY_SIZE(state_names); i++) {
		if (strcmp(state_names[i].name, name) == 0) {
			*state = state_names[i].state;
			return 0;
		}
	}
	return -EINVAL;
}

static const char *status_name(uint8_t status)
{
	switch (status) {
	case ALUA_STATUS_EXPLICIT: return "explicit";
	case ALUA_STATUS_IMPLICIT: return "implicit";
	default:                   return "none";
	}
}

/* ---------------------------------------------------------------------
 * Commands each state allows (SPC-4 5.16.2.4 and 5.16.2.5)
 */

#define IN_STANDBY        0x01
#define IN_UNAVAILABLE    0x02
#define IN_TRANSITIONING  0x04
#define IN_OFFLINE        0x08
#define IN_ALL            (IN_STANDBY | IN_UNAVAILABLE | IN_TRANSITIONING | IN_OFFLINE)

struct alua_allowed {
	uint8_t opcode;
	int8_t byte1;         /* -1: any; else CDB byte 1 bits 4-0 (service action or MODE) */
	uint8_t states;       /* IN_* */
};

/* Active/Optimized and Active/Non-optimized allow everything. Standby
 * allows the list of 5.16.2.4.4, Unavailable that of 5.16.2.4.5,
 * Transitioning that of 5.16.2.5. An offline target port (5.16.2.4.6)
 * cannot be reached at all; as commands do reach it here, it answers only
 * the few that tell an initiator what happened. */
static const struct alua_allowed allowed_commands[] = {
	{ 0x12, -1, IN_ALL },                                   /* INQUIRY */
	{ 0xa0, -1, IN_ALL },                                   /* REPORT LUNS */
	{ 0x03, -1, IN_ALL },                                   /* REQUEST SENSE */
	{ OP_MAINTENANCE_IN, SA_REPORT_TARGET_PORT_GROUPS, IN_ALL },
	{ OP_MAINTENANCE_OUT, SA_SET_TARGET_PORT_GROUPS, IN_STANDBY | IN_UNAVAILABLE },
	{ 0x3c, 0x0a, IN_STANDBY | IN_UNAVAILABLE | IN_TRANSITIONING }, /* READ BUFFER, echo buffer */
	{ 0x3c, 0x0b, IN_STANDBY | IN_UNAVAILABLE | IN_TRANSITIONING }, /* echo buffer descriptor */
	{ 0x3b, 0x0a, IN_STANDBY | IN_UNAVAILABLE | IN_TRANSITIONING }, /* WRITE BUFFER, echo buffer */
	{ 0x4c, -1, IN_STANDBY },                               /* LOG SELECT */
	{ 0x4d, -1, IN_STANDBY },                               /* LOG SENSE */
	{ 0x15, -1, IN_STANDBY },                               /* MODE SELECT(6) */
	{ 0x55, -1, IN_STANDBY },                               /* MODE SELECT(10) */
	{ 0x1a, -1, IN_STANDBY },                               /* MODE SENSE(6) */
	{ 0x5a, -1, IN_STANDBY },                               /* MODE SENSE(10) */
	{ 0x1c, -1, IN_STANDBY },                               /* RECEIVE DIAGNOSTIC RESULTS */
	{ 0x1d, -1, IN_STANDBY },                               /* SEND DIAGNOSTIC */
	{ 0x5e, -1, IN_STANDBY },                               /* PERSISTENT RESERVE IN */
	{ 0x5f, -1, IN_STANDBY },                               /* PERSISTENT RESERVE OUT */
	/* Beyond the list, as 5.16.2.4.4 permits: hosts size every path of
	 * a disk when they discover it, standby paths included. */
	{ 0x25, -1, IN_STANDBY },                               /* READ CAPACITY(10) */
	{ 0x9e, 0x10, IN_STANDBY },                             /* READ CAPACITY(16) */
};

bool alua_command_allowed(uint8_t state, const uint8_t *cdb, uint16_t *asc_ascq)
{
	uint8_t in;

	switch (state) {
	case ALUA_ACTIVE_OPTIMIZED:
	case ALUA_ACTIVE_NON_OPTIMIZED:
		return true;
	case ALUA_STANDBY:
		in = IN_STANDBY;
		*asc_ascq = ASC_LU_NOT_ACCESSIBLE_STANDBY;
		break;
	case ALUA_TRANSITIONING:
		in = IN_TRANSITIONING;
		*asc_ascq = ASC_LU_NOT_ACCESSIBLE_TRANSITIONING;
		break;
	case ALUA_OFFLINE:
		in = IN_OFFLINE;
		*asc_ascq = ASC_LU_NOT_READY_OFFLINE;
		break;
	case ALUA_UNAVAILABLE:
	default:
		in = IN_UNAVAILABLE;
		*asc_ascq = ASC_LU_NOT_ACCESSIBLE_UNAVAILABLE;
		break;
	}
	for (size_t i = 0; i < ARRAY_SIZE(allowed_commands); i++) {
		const struct alua_allowed *a = &allowed_commands[i];

		if (a->opcode == cdb[0] && (a->byte1 < 0 || a->byte1 == (cdb[1] & 0x1f)))
			return (a->states & in) != 0;
	}
	return false;
}

/* ---------------------------------------------------------------------
 * Port groups
 */

static struct lu_alua_group *group_find(struct lu_alua *a, uint32_t id)
{
	for (unsigned i = 0; i < a->n_groups; i++)
		if (a->groups[i].id == id)
			return &a->groups[i];
	return NULL;
}

static struct lu_alua_group *group_find_port(struct lu_alua *a, uint16_t rel_port_id)
{
	for (unsigned i = 0; i < a->n_groups; i++)
		if (a->groups[i].rel_port_id == rel_port_id)
			return &a->groups[i];
	return NULL;
}

/* ---------------------------------------------------------------------
 * Groups from membership and policy
 *
 * Every node runs this code in the same delivery order with the same
 * inputs (the agreed membership, the replicated policy, the groups as the
 * previous step left them), so every node derives the same states.
 *
 * Departed members keep their group, reported Unavailable (SPC-4
 * 5.16.2.4.5: a port group that cannot access the LU, as a failed
 * controller's). The node's target port is still a port of the device the
 * initiator knows and has paths to (SPC-4 6.37 describes every port group
 * of the LU); reporting it Unavailable through a surviving path tells
 * scsi_dh_alua and other ALUA handlers not to use those paths, where an
 * omitted group would keep its last state (often Active/Optimized) in the
 * initiator's view. The group stays until its node returns or the LU's
 * policy changes (a policy change establishes the members' groups only).
 */

static bool is_member(const uint32_t *members, unsigned n, uint32_t id)
{
	for (unsigned i = 0; i < n; i++)
		if (members[i] == id)
			return true;
	return false;
}

/* The members as alua_set_members() last stored them, ascending; this
 * node alone before the cluster service has reported a membership. */
static unsigned current_members(const struct gateway *gw, uint32_t *out)
{
	if (gw->n_members == 0) {
		out[0] = gw->node_id;
		return 1;
	}
	memcpy(out, gw->members, gw->n_members * sizeof(*out));
	return gw->n_members;
}

/* The state a policy gives a member's group. */
static uint8_t policy_state(const struct lu_alua_policy *policy, uint32_t id)
{
	if (policy->kind != ALUA_POLICY_PREFERRED || id == policy->preferred_node)
		return ALUA_ACTIVE_OPTIMIZED;
	return policy->others;
}

/* The policy the groups follow: the configured one, except that while a
 * member is promoted (pacemaker's promotable clone, node_role.c) that node
 * holds the preferred role of every "preferred" LU. The same on every node:
 * gw->promoted_node changes only through SOP_NODE_ROLE and membership. */
static struct lu_alua_policy effective_policy(const struct gateway *gw,
					      const struct lu_alua_policy *policy)
{
	struct lu_alua_policy e = *policy;

	if (e.kind == ALUA_POLICY_PREFERRED && gw->promoted_node)
		e.preferred_node = gw->promoted_node;
	return e;
}

static int group_cmp(const void *a, const void *b)
{
	const struct lu_alua_group *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* An implicit transition on failure (SPC-4 5.16.2.2): an LU must stay
 * reachable through an Active/Optimized group. When no member's group is,
 * the preferred node's group takes the role if it is a member, else the
 * lowest member's (members ascending): the same choice on every node. */
static void ensure_optimized(const struct lu_alua_policy *policy, const uint32_t *members,
			     unsigned n, struct lu_alua *a)
{
	struct lu_alua_group *g;
	uint32_t chosen;

	if (n == 0)
		return;
	for (unsigned i = 0; i < a->n_groups; i++)
		if (is_member(members, n, a->groups[i].id) &&
		    a->groups[i].state == ALUA_ACTIVE_OPTIMIZED)
			return;
	chosen = members[0];
	if (policy->kind == ALUA_POLICY_PREFERRED && is_member(members, n, policy->preferred_node))
		chosen = policy->preferred_node;
	g = group_find(a, chosen);
	if (g)
		g->state = ALUA_ACTIVE_OPTIMIZED;
}

/* The groups a policy alone gives the members (new LU, policy change, this
 * node's first membership): one per member, ascending, no departed ones. */
static void establish_from_policy(const struct lu_alua_policy *policy, const uint32_t *members,
				  unsigned n, struct lu_alua *a)
{
	memset(a, 0, sizeof(*a));
	for (unsigned i = 0; i < n && i < ALUA_MAX_GROUPS; i++) {
		struct lu_alua_group *g = &a->groups[a->n_groups++];

		g->id = (uint16_t)members[i];
		g->rel_port_id = (uint16_t)members[i];
		g->state = policy_state(policy, members[i]);
		g->preferred = policy->kind == ALUA_POLICY_PREFERRED && members[i] == policy->preferred_node;
	}
	ensure_optimized(policy, members, a->n_groups, a);
}

/* The groups after the membership went from `old` to `now` (both
 * ascending): the implicit transitions of a cluster failure or return.
 *  - a member that left: its group becomes Unavailable and stays listed;
 *  - a member that joined (new or returning): its group gets the state the
 *    policy gives it; when that is the preferred node, every member's group
 *    goes back to the policy's state (implicit failback: the role returns
 *    to the preferred node, the survivor that held it steps back);
 *  - after any change, ensure_optimized().
 * Groups of members that did not change keep their state (including what
 * SET TARGET PORT GROUPS gave them). Nothing joined or left: no change. */
void alua_membership_transition(const struct lu_alua_policy *policy, const uint32_t *old,
				unsigned n_old, const uint32_t *now, unsigned n_now,
				struct lu_alua *a)
{
	struct lu_alua next;
	bool changed = false, failback = false;

	memset(&next, 0, sizeof(next));
	/* The members first, so departed groups are what gives way when
	 * there are more groups than ALUA_MAX_GROUPS. */
	for (unsigned i = 0; i < n_now && next.n_groups < ALUA_MAX_GROUPS; i++) {
		const struct lu_alua_group *old_g = group_find(a, now[i]);
		struct lu_alua_group *g = &next.groups[next.n_groups++];

		if (old_g && is_member(old, n_old, now[i])) {
			*g = *old_g;
			continue;
		}
		/* Joined (new, or back after leaving). */
		changed = true;
		if (old_g)
			*g = *old_g;
		g->id = (uint16_t)now[i];
		g->rel_port_id = (uint16_t)now[i];
		g->state = policy_state(policy, now[i]);
		g->preferred = policy->kind == ALUA_POLICY_PREFERRED && now[i] == policy->preferred_node;
		failback |= g->preferred;
	}
	for (unsigned i = 0; i < a->n_groups && next.n_groups < ALUA_MAX_GROUPS; i++) {
		struct lu_alua_group g = a->groups[i];

		if (is_member(now, n_now, g.id))
			continue;
		if (is_member(old, n_old, g.id)) {
			g.state = ALUA_UNAVAILABLE;     /* left now */
			changed = true;
		}
		next.groups[next.n_groups++] = g;
	}
	qsort(next.groups, next.n_groups, sizeof(next.groups[0]), group_cmp);
	if (failback)
		for (unsigned i = 0; i < next.n_groups; i++)
			if (is_member(now, n_now, next.groups[i].id))
				next.groups[i].state = policy_state(policy, next.groups[i].id);
	if (changed)
		ensure_optimized(policy, now, n_now, &next);
	*a = next;
}

/* Every member's group to the state the policy gives it, departed groups
 * stay Unavailable, the PREF bit follows the (effective) preferred node:
 * as a failback (alua_membership_transition), for a change of the
 * promoted node. */
static void promoted_failback(const struct lu_alua_policy *policy, const uint32_t *members,
			      unsigned n, struct lu_alua *a)
{
	for (unsigned i = 0; i < a->n_groups; i++) {
		struct lu_alua_group *g = &a->groups[i];

		g->preferred = g->id == policy->preferred_node;
		if (is_member(members, n, g->id))
			g->state = policy_state(policy, g->id);
	}
	ensure_optimized(policy, members, n, a);
}

void alua_lu_init(struct lu *lu)
{
	uint32_t members[ALUA_MAX_GROUPS];
	unsigned n = current_members(lu->target->gw, members);
	struct lu_alua_policy policy = effective_policy(lu->target->gw, &lu->spec.alua);

	establish_from_policy(&policy, members, n, &lu->alua);
}

/* Make next the LU's groups. Groups whose state changed report STATUS
 * CODE 2 (implicit, SPC-4 6.37); when anything RTPG reports changed,
 * every nexus of the LU on this node gets ASYMMETRIC ACCESS STATE CHANGED
 * (SPC-4 5.16.2.2). Runs on every node in the same order, so each
 * establishes the UAs of its own nexuses. */
static void lu_commit(struct gateway *gw, struct lu *lu, struct lu_alua *next, bool fresh)
{
	bool changed = next->n_groups != lu->alua.n_groups;

	for (unsigned i = 0; i < next->n_groups; i++) {
		struct lu_alua_group *g = &next->groups[i];
		const struct lu_alua_group *old = group_find(&lu->alua, g->id);

		/* Fresh groups (this node's first membership) have no history
		 * the other nodes share: STATUS CODE 0 on every node alike. */
		if (fresh)
			g->status = ALUA_STATUS_NONE;
		if (!old) {
			g->status = ALUA_STATUS_NONE;   /* a new group: nothing altered it yet */
			changed = true;
			continue;
		}
		if (old->state != g->state) {
			if (!fresh)
				g->status = ALUA_STATUS_IMPLICIT;
			log_info("%s LUN %llu: target port group %u %s -> %s (implicit)",
				 lu->target->iqn, (unsigned long long)lu->lun, g->id,
				 alua_state_name(old->state), alua_state_name(g->state));
			changed = true;
		} else if (!fresh) {
			g->status = old->status;
		}
		changed |= old->preferred != g->preferred;
	}
	lu->alua = *next;
	if (changed)
		ua_establish_lu(gw, lu, 0, ASC_ASYMMETRIC_ACCESS_STATE_CHANGED);
}

static int member_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int alua_check_node_id(uint32_t node_id, char *err, size_t errlen)
{
	/* The node id is the TARGET PORT GROUP and the RELATIVE TARGET PORT
	 * IDENTIFIER (16-bit fields, SPC-4 7.8.6.7-8), and relative target
	 * port identifier 0 is reserved. Truncating would give two nodes the
	 * same port. */
	if (node_id == 0 || node_id > UINT16_MAX) {
		snprintf(err, errlen,
			 "node id %" PRIu32 " cannot be a target port group id (1-65535): "
			 "give this node a nodeid in that range in corosync.conf's nodelist",
			 node_id);
		return -ERANGE;
	}
	return 0;
}

void alua_set_members(struct gateway *gw, const uint32_t *members, size_t n)
{
	uint32_t sorted[ALUA_MAX_GROUPS], old[ALUA_MAX_GROUPS];
	unsigned count = 0, n_old;
	bool first = gw->n_members == 0, promoted_left = false;
	struct target *t;
	struct lu *lu;

	for (size_t i = 0; i < n; i++) {
		char err[160];

		if (alua_check_node_id(members[i], err, sizeof(err)) < 0) {
			log_error("alua: member without a port group: %s", err);
			continue;
		}
		if (count == ALUA_MAX_GROUPS) {
			log_error("alua: more than %d cluster members; only the lowest get port groups",
				  ALUA_MAX_GROUPS);
			break;
		}
		sorted[count++] = members[i];
	}
	qsort(sorted, count, sizeof(*sorted), member_cmp);
	n_old = current_members(gw, old);
	gw->n_members = 0;
	for (unsigned i = 0; i < count; i++)
		if (gw->n_members == 0 || sorted[i] != gw->members[gw->n_members - 1])
			gw->members[gw->n_members++] = sorted[i];
	/* A promoted node that left is promoted no more: when it returns,
	 * pacemaker decides again (node_role.h). */
	if (gw->promoted_node && !is_member(gw->members, gw->n_members, gw->promoted_node)) {
		log_info("alua: promoted node %u left; the preferred role follows the policy",
			 gw->promoted_node);
		gw->promoted_node = 0;
		promoted_left = true;
	}
	TAILQ_FOREACH(t, &gw->targets, link) {
		TAILQ_FOREACH(lu, &t->lus, link) {
			struct lu_alua next = lu->alua;
			struct lu_alua_policy policy = effective_policy(gw, &lu->spec.alua);

			/* Before its first membership a node's groups are its own
			 * guess (itself alone); start from the policy, as every
			 * other member did. */
			if (first)
				establish_from_policy(&policy, gw->members, gw->n_members, &next);
			else
				alua_membership_transition(&policy, old, n_old, gw->members,
							   gw->n_members, &next);
			/* The promoted node's role goes back to the policy. */
			if (promoted_left && policy.kind == ALUA_POLICY_PREFERRED)
				promoted_failback(&policy, gw->members, gw->n_members, &next);
			lu_commit(gw, lu, &next, first);
		}
	}
}

bool alua_policy_equal(const struct lu_alua_policy *a, const struct lu_alua_policy *b)
{
	if (a->kind != b->kind)
		return false;
	return a->kind != ALUA_POLICY_PREFERRED ||
	       (a->others == b->others && a->preferred_node == b->preferred_node);
}

void alua_lu_set_policy(struct lu *lu, const struct lu_alua_policy *policy)
{
	uint32_t members[ALUA_MAX_GROUPS];
	unsigned n = current_members(lu->target->gw, members);
	struct lu_alua next;
	struct lu_alua_policy effective;

	lu->spec.alua = *policy;
	effective = effective_policy(lu->target->gw, policy);
	establish_from_policy(&effective, members, n, &next);
	lu_commit(lu->target->gw, lu, &next, false);
}

void alua_promoted_changed(struct gateway *gw)
{
	uint32_t members[ALUA_MAX_GROUPS];
	unsigned n = current_members(gw, members);
	struct target *t;
	struct lu *lu;

	TAILQ_FOREACH(t, &gw->targets, link) {
		TAILQ_FOREACH(lu, &t->lus, link) {
			struct lu_alua_policy policy = effective_policy(gw, &lu->spec.alua);
			struct lu_alua next = lu->alua;

			if (policy.kind != ALUA_POLICY_PREFERRED)
				continue;
			promoted_failback(&policy, members, n, &next);
			lu_commit(gw, lu, &next, false);
		}
	}
}

/* ---------------------------------------------------------------------
 * The per-command check
 */

/* Quorate, synchronised and caught up with the cluster's deliveries (the
 * cluster service's lease, cluster/cluster_corosync.c: false after this
 * process was stopped or its control thread stuck, until it has applied
 * what it missed). */
static bool alua_node_serving(struct gateway *gw)
{
	return gw->cluster_ready && (!gw->cluster || cluster_ready(gw->cluster));
}

/* The state a group reports and enforces: its own, or Transitioning while
 * fencing holds shared storage (fencing.h). */
static uint8_t group_state(const struct lu *lu, const struct lu_alua_group *g)
{
	if (g->state != ALUA_UNAVAILABLE && g->state != ALUA_OFFLINE &&
	    fencing_group_transitioning(lu->target->gw, lu, g->id))
		return ALUA_TRANSITIONING;
	return g->state;
}

bool alua_check(struct scsi_cmd *cmd)
{
	const struct lu_alua_group *g;
	uint16_t asc_ascq;
	uint8_t state;

	if (!cmd->lu)
		return false;
	/* Not part of a quorate, synchronised cluster: this node's port
	 * group is in transition (SPC-4 5.16.2.6) until it is again. */
	if (!alua_node_serving(the_gateway)) {
		if (alua_command_allowed(ALUA_TRANSITIONING, cmd->cdb, &asc_ascq))
			return false;
		scsi_check_condition(cmd, SK_NOT_READY, asc_ascq);
		return true;
	}
	g = group_find(&cmd->lu->alua, cmd->nexus->tpg_id);
	state = g ? group_state(cmd->lu, g) : ALUA_UNAVAILABLE;
	if (state == ALUA_ACTIVE_OPTIMIZED)
		return false;
	/* A port outside every group of the LU has no access to it. */
	if (alua_command_allowed(state, cmd->cdb, &asc_ascq))
		return false;
	scsi_check_condition(cmd, SK_NOT_READY, asc_ascq);
	return true;
}

/* ---------------------------------------------------------------------
 * REPORT TARGET PORT GROUPS (SPC-4 6.36)
 */

static void alua_report_target_port_groups(struct scsi_cmd *cmd)
{
	uint8_t format = cmd->cdb[1] >> 5;
	uint32_t alloc = get_be32(cmd->cdb + 6);
	const struct lu_alua *a = &cmd->lu->alua;
	uint16_t extra[TARGET_PORTS_EXTRA_MAX];
	unsigned n_ports;
	/* Per group: the descriptor, its iSCSI port and the others. */
	uint8_t d[8 + ALUA_MAX_GROUPS * (8 + 4 * (1 + TARGET_PORTS_EXTRA_MAX))];
	unsigned len;

	/* PARAMETER DATA FORMAT: 000b length only, 001b extended header. */
	if (format > 0x01) {
		scsi_invalid_cdb_field(cmd, 1, 7);
		return;
	}
	memset(d, 0, sizeof(d));
	len = 4;
	if (format == 0x01) {
		d[4] = 0x10;                            /* FORMAT TYPE 001b */
		d[5] = ALUA_IMPLICIT_TRANSITION_SECS;
		len = 8;
	}
	for (unsigned i = 0; i < a->n_groups; i++) {
		const struct lu_alua_group *g = &a->groups[i];
		uint8_t *p = d + len;
		uint8_t state = group_state(cmd->lu, g);

		/* Out of a quorate, synchronised cluster this node's group is
		 * in transition (SPC-4 5.16.2.6), as alua_check() answers. */
		if (!alua_node_serving(cmd->lu->target->gw) && g->id == cmd->nexus->tpg_id)
			state = ALUA_TRANSITIONING;
		p[0] = (uint8_t)((g->preferred ? 0x80 : 0) | (state & 0x0f));
		p[1] = ALUA_SUPPORTED_STATES;
		put_be16(p + 2, g->id);
		p[5] = g->status;
		/* Target port descriptors: the node's iSCSI port, then its
		 * other ports (FCoE) as the cluster knows them. */
		n_ports = target_ports_extra(cmd->lu->target->gw, g->id, extra, TARGET_PORTS_EXTRA_MAX);
		p[7] = (uint8_t)(1 + n_ports);          /* TARGET PORT COUNT */
		put_be16(p + 8 + 2, g->rel_port_id);
		for (unsigned j = 0; j < n_ports; j++)
			put_be16(p + 12 + 4 * j + 2, extra[j]);
		len += 12 + 4 * n_ports;
	}
	/* RETURN DATA LENGTH: the bytes after the field, header included. */
	put_be32(d, len - 4);
	if (scsi_cmd_data_in(cmd, d, len, alloc) < 0) {
		scsi_check_condition(cmd, SK_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
		return;
	}
	scsi_cmd_good(cmd);
}

/* ---------------------------------------------------------------------
 * SET TARGET PORT GROUPS (SPC-4 6.38)
 */

static void stpg_done(void *ctx, int result)
{
	struct scsi_cmd *cmd = ctx;

	if (result == 0) {
		scsi_cmd_good(cmd);
	} else if (result == -EAGAIN || result == -ENOMEM) {
		/* Not applied (no quorum, no memory): BUSY asks for a retry. */
		cmd->status = SAM_STAT_BUSY;
		cmd->sense_len = 0;
		scsi_cmd_complete(cmd);
	} else if (result < 0) {
		scsi_check_condition(cmd, SK_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
	} else {
		scsi_check_condition(cmd, shared_result_key(result), shared_result_asc(result));
	}
}

/* The highest bit set in a nonzero byte: the field pointer's bit. */
static int top_bit(uint8_t v)
{
	return 31 - __builtin_clz(v);
}

static void alua_set_target_port_groups(struct scsi_cmd *cmd)
{
	uint32_t param_len = get_be32(cmd->cdb + 6);
	struct lu *lu = cmd->lu;
	const uint8_t *d = cmd->buf;
	struct alua_set_payload p;
	uint32_t len;
	int rc;

	/* A PARAMETER LIST LENGTH of zero transfers nothing and changes
	 * nothing; it is not an error. */
	if (param_len == 0) {
		scsi_cmd_good(cmd);
		return;
	}
	len = MIN(param_len, cmd->data_out_len);
	/* A four-byte header, then whole four-byte descriptors. */
	if (!d || len < 4 || (len - 4) % 4) {
		scsi_check_condition(cmd, SK_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERROR);
		return;
	}
	for (uint16_t i = 0; i < 4; i++) {
		if (d[i]) {
			scsi_invalid_param_field(cmd, i, top_bit(d[i]));
			return;
		}
	}
	memset(&p, 0, sizeof(p));
	for (uint32_t off = 4; off < len; off += 4) {
		const uint8_t *desc = d + off;
		uint8_t state = desc[0] & 0x0f;
		uint16_t which = get_be16(desc + 2);
		const struct lu_alua_group *g;

		if (desc[0] & 0xf0) {
			scsi_invalid_param_field(cmd, (uint16_t)off, top_bit(desc[0] & 0xf0));
			return;
		}
		if (desc[1]) {
			scsi_invalid_param_field(cmd, (uint16_t)(off + 1), top_bit(desc[1]));
			return;
		}
		switch (state) {
		case ALUA_ACTIVE_OPTIMIZED:
		case ALUA_ACTIVE_NON_OPTIMIZED:
		case ALUA_STANDBY:
		case ALUA_UNAVAILABLE:
			/* Primary states: the field names a target port group. */
			g = group_find(&lu->alua, which);
			break;
		case ALUA_OFFLINE:
			/* A secondary state: the field names a target port. */
			g = group_find_port(&lu->alua, which);
			if (!g)   /* another port (FCoE) of a node's group */
				g = group_find(&lu->alua, target_ports_node(lu->target->gw, which));
			break;
		default:
			/* Transitioning cannot be requested; LBA dependent and
			 * the reserved values are not supported. */
			scsi_invalid_param_field(cmd, (uint16_t)off, 3);
			return;
		}
		if (!g) {
			scsi_invalid_param_field(cmd, (uint16_t)(off + 2), -1);
			return;
		}
		/* One descriptor per group: a second one is contradictory. */
		for (unsigned i = 0; i < p.count; i++) {
			if (p.set[i].tpg_id == g->id) {
				scsi_invalid_param_field(cmd, (uint16_t)(off + 2), -1);
				return;
			}
		}
		p.set[p.count].tpg_id = g->id;
		p.set[p.count].state = state;
		p.count++;
	}
	if (p.count == 0) {
		scsi_cmd_good(cmd);
		return;
	}
	/* Port group states are shared by every node: through the door; the
	 * command completes once the change is applied here. */
	sop_lu_ref_set(&p.lu, lu);
	p.origin_nexus = cmd->nexus->id;
	rc = cluster_submit(lu->target->gw->cluster, SOP_ALUA_SET, &p, sizeof(p), stpg_done, cmd);
	if (rc < 0) {
		log_warn("SET TARGET PORT GROUPS not applied: %s", strerror(-rc));
		stpg_done(cmd, rc);
	}
}

/* ---------------------------------------------------------------------
 * SOP_ALUA_SET
 */

static bool state_settable(uint8_t state, bool implicit)
{
	switch (state) {
	case ALUA_ACTIVE_OPTIMIZED:
	case ALUA_ACTIVE_NON_OPTIMIZED:
	case ALUA_STANDBY:
	case ALUA_UNAVAILABLE:
	case ALUA_OFFLINE:
		return true;
	case ALUA_TRANSITIONING:
		return implicit;        /* SPC-4 6.38: never by SET TARGET PORT GROUPS */
	default:
		return false;
	}
}

int alua_apply(struct gateway *gw, const void *payload, uint32_t len)
{
	struct alua_set_payload p;
	bool changed = false;
	struct lu *lu;
	int invalid;

	if (len != sizeof(p)) {
		log_error("SOP_ALUA_SET: bad payload length %u", len);
		return -EINVAL;
	}
	memcpy(&p, payload, sizeof(p));
	invalid = p.implicit ? -EINVAL
			     : shared_result_scsi(SAM_STAT_CHECK_CONDITION, SK_ILLEGAL_REQUEST,
						  ASC_INVALID_FIELD_IN_PARAMETER_LIST);
	lu = sop_lu_ref_find(gw, &p.lu);
	if (!lu)
		return -ENOENT;         /* not exported by this node (or just removed) */
	/* The origin checked the request, but a membership change may have
	 * come first: check again, and change nothing unless all of it holds. */
	if (p.count > ALUA_MAX_GROUPS)
		return invalid;
	for (unsigned i = 0; i < p.count; i++) {
		/* A departed member's group stays Unavailable until it returns. */
		if (!group_find(&lu->alua, p.set[i].tpg_id) || !state_settable(p.set[i].state, p.implicit) ||
		    (gw->n_members && !is_member(gw->members, gw->n_members, p.set[i].tpg_id))) {
			log_warn("%s LUN %llu: port group %u cannot become %s; no change made",
				 lu->target->iqn, (unsigned long long)lu->lun, p.set[i].tpg_id,
				 alua_state_name(p.set[i].state));
			return invalid;
		}
	}
	for (unsigned i = 0; i < p.count; i++) {
		struct lu_alua_group *g = group_find(&lu->alua, p.set[i].tpg_id);

		if (g->state == p.set[i].state)
			continue;
		log_info("%s LUN %llu: target port group %u %s -> %s (%s)", lu->target->iqn,
			 (unsigned long long)lu->lun, g->id, alua_state_name(g->state),
			 alua_state_name(p.set[i].state), p.implicit ? "implicit" : "SET TARGET PORT GROUPS");
		g->state = p.set[i].state;
		g->status = p.implicit ? ALUA_STATUS_IMPLICIT : ALUA_STATUS_EXPLICIT;
		changed = true;
	}
	/* SPC-4 5.16.2.2/5.16.2.3: after an implicit transition every I_T
	 * nexus gets ASYMMETRIC ACCESS STATE CHANGED; after an explicit one
	 * every nexus but the one SET TARGET PORT GROUPS came through. Local
	 * establish: this function runs on every node. */
	if (changed)
		ua_establish_lu(gw, lu, p.implicit ? 0 : p.origin_nexus,
				ASC_ASYMMETRIC_ACCESS_STATE_CHANGED);
	return 0;
}

/* ---------------------------------------------------------------------
 * The alua_set management request
 */

__attribute__((format(printf, 4, 5)))
static int request_error(int code, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return code;
}

static int request_uint(json_object *req, const char *key, bool required, uint64_t max,
			uint64_t *out, bool *present, char *err, size_t errlen)
{
	json_object *v = NULL;
	int64_t value;

	*present = json_object_object_get_ex(req, key, &v) && v;
	if (!*present)
		return required ? request_error(-EINVAL, err, errlen, "%s: missing", key) : 0;
	if (json_object_get_type(v) != json_type_int)
		return request_error(-EINVAL, err, errlen, "%s: expected a number", key);
	value = json_object_get_int64(v);
	if (value < 0 || (uint64_t)value > max)
		return request_error(-EINVAL, err, errlen, "%s: %lld is out of range (0-%llu)", key,
				     (long long)value, (unsigned long long)max);
	*out = (uint64_t)value;
	return 0;
}

static int request_string(json_object *req, const char *key, const char **out, char *err,
			  size_t errlen)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(req, key, &v) || !v)
		return request_error(-EINVAL, err, errlen, "%s: missing", key);
	if (json_object_get_type(v) != json_type_string)
		return request_error(-EINVAL, err, errlen, "%s: expected a string", key);
	*out = json_object_get_string(v);
	return 0;
}

int alua_request_submit(struct gateway *gw, struct json_object *req, cluster_done_fn done,
			void *ctx, char *err, size_t errlen)
{
	static const char *const keys[] = { "request", "id", "target", "lun", "tpg", "state", NULL };
	const char *iqn, *state_text;
	struct alua_set_payload p;
	uint64_t lun, tpg = gw->node_id;
	bool present;
	struct target *t;
	struct lu *lu;
	uint8_t state;
	int r;

	json_object_object_foreach(req, key, val) {
		bool known = false;

		(void)val;
		for (const char *const *k = keys; *k && !known; k++)
			known = strcmp(*k, key) == 0;
		if (!known)
			return request_error(-EINVAL, err, errlen,
					     "%s: unknown key (alua_set takes target, lun, state, tpg)", key);
	}
	if ((r = request_string(req, "target", &iqn, err, errlen)) < 0 ||
	    (r = request_uint(req, "lun", true, MAX_LUNS_PER_TARGET - 1, &lun, &present, err, errlen)) < 0 ||
	    (r = request_string(req, "state", &state_text, err, errlen)) < 0 ||
	    (r = request_uint(req, "tpg", false, UINT16_MAX, &tpg, &present, err, errlen)) < 0)
		return r;
	if (alua_state_parse(state_text, &state) < 0)
		return request_error(-EINVAL, err, errlen,
				     "state: \"%s\" is not one of active-optimized, active-non-optimized, "
				     "standby, unavailable, offline, transitioning", state_text);
	if (!(t = gw_find_target(gw, iqn)))
		return request_error(-ENOENT, err, errlen, "target: no target \"%s\"", iqn);
	if (!(lu = target_find_lu(t, lun)) || lu->removing)
		return request_error(-ENOENT, err, errlen, "lun: target %s has no LUN %llu", t->iqn,
				     (unsigned long long)lun);
	if (!group_find(&lu->alua, (uint32_t)tpg))
		return request_error(-ENOENT, err, errlen,
				     "tpg: LUN %llu of %s has no target port group %llu",
				     (unsigned long long)lun, t->iqn, (unsigned long long)tpg);
	if (!gw->cluster)
		return request_error(-ENOTCONN, err, errlen, "no cluster service is running");
	memset(&p, 0, sizeof(p));
	sop_lu_ref_set(&p.lu, lu);
	p.implicit = 1;
	p.count = 1;
	p.set[0].tpg_id = (uint16_t)tpg;
	p.set[0].state = state;
	r = cluster_submit(gw->cluster, SOP_ALUA_SET, &p, sizeof(p), done, ctx);
	if (r == -EAGAIN) {
		char why[1024];

		cluster_status_unavailable(gw, why, sizeof(why));
		return request_error(r, err, errlen, "alua_set not submitted: %s", why);
	}
	if (r < 0)
		return request_error(r, err, errlen, "alua_set not submitted: %s", strerror(-r));
	return 0;
}

const char *alua_group_state_name(const struct lu *lu, uint32_t group_id)
{
	for (unsigned i = 0; i < lu->alua.n_groups; i++)
		if (lu->alua.groups[i].id == group_id)
			return alua_state_name(group_state(lu, &lu->alua.groups[i]));
	return NULL;
}

json_object *alua_groups_json(const struct lu *lu)
{
	json_object *arr = json_object_new_array();

	for (unsigned i = 0; i < lu->alua.n_groups; i++) {
		const struct lu_alua_group *g = &lu->alua.groups[i];
		json_object *o = json_object_new_object();
		json_object *ports = json_object_new_array();

		uint16_t extra[TARGET_PORTS_EXTRA_MAX];
		unsigned n_extra = target_ports_extra(lu->target->gw, g->id, extra, TARGET_PORTS_EXTRA_MAX);

		json_object_array_add(ports, json_object_new_int(g->rel_port_id));
		for (unsigned j = 0; j < n_extra; j++)
			json_object_array_add(ports, json_object_new_int(extra[j]));
		json_object_object_add(o, "id", json_object_new_int(g->id));
		json_object_object_add(o, "state",
				       json_object_new_string(alua_state_name(group_state(lu, g))));
		json_object_object_add(o, "preferred", json_object_new_boolean(g->preferred));
		json_object_object_add(o, "status", json_object_new_string(status_name(g->status)));
		json_object_object_add(o, "relative_target_ports", ports);
		json_object_array_add(arr, o);
	}
	return arr;
}

/* ---------------------------------------------------------------------
 * State transfer (the cluster snapshot)
 */

int alua_snapshot_members(const struct gateway *gw, struct json_object *obj)
{
	json_object *arr = json_object_new_array();

	if (!arr)
		return -ENOMEM;
	for (unsigned i = 0; i < gw->n_members; i++)
		json_object_array_add(arr, json_object_new_int64(gw->members[i]));
	json_object_object_add(obj, "alua_members", arr);
	json_object_object_add(obj, "alua_promoted_node", json_object_new_int64(gw->promoted_node));
	return 0;
}

int alua_restore_members(struct gateway *gw, const struct json_object *obj)
{
	uint32_t members[ALUA_MAX_GROUPS];
	json_object *arr;
	size_t n;

	if (!json_object_object_get_ex(obj, "alua_members", &arr))
		return 0;
	if (json_object_get_type(arr) != json_type_array ||
	    (n = json_object_array_length(arr)) > ALUA_MAX_GROUPS)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(arr, i);
		int64_t id = json_object_get_int64(v);

		/* Ascending, no duplicates, each a valid port group id. */
		if (json_object_get_type(v) != json_type_int || id < 1 || id > UINT16_MAX ||
		    (i && (uint32_t)id <= members[i - 1]))
			return -EINVAL;
		members[i] = (uint32_t)id;
	}
	memcpy(gw->members, members, n * sizeof(*members));
	gw->n_members = (unsigned)n;
	/* Older snapshots have no promoted node: none. */
	gw->promoted_node = 0;
	if (json_object_object_get_ex(obj, "alua_promoted_node", &arr)) {
		int64_t id = json_object_get_int64(arr);

		if (json_object_get_type(arr) != json_type_int || id < 0 || id > UINT16_MAX)
			return -EINVAL;
		gw->promoted_node = (uint32_t)id;
	}
	return 0;
}

int alua_snapshot_lu(const struct lu *lu, struct json_object *lu_obj)
{
	json_object *arr = json_object_new_array();

	if (!arr)
		return -ENOMEM;
	for (unsigned i = 0; i < lu->alua.n_groups; i++) {
		const struct lu_alua_group *g = &lu->alua.groups[i];
		json_object *o = json_object_new_object();

		if (!o)
			return -ENOMEM;
		json_object_object_add(o, "id", json_object_new_int(g->id));
		json_object_object_add(o, "state", json_object_new_int(g->state));
		json_object_object_add(o, "status", json_object_new_int(g->status));
		json_object_object_add(o, "preferred", json_object_new_boolean(g->preferred));
		json_object_array_add(arr, o);
	}
	json_object_object_add(lu_obj, "alua_groups", arr);
	return 0;
}

static bool groups_equal(const struct lu_alua *a, const struct lu_alua *b)
{
	if (a->n_groups != b->n_groups)
		return false;
	for (unsigned i = 0; i < a->n_groups; i++) {
		const struct lu_alua_group *x = &a->groups[i], *y = &b->groups[i];

		if (x->id != y->id || x->state != y->state || x->status != y->status ||
		    x->preferred != y->preferred)
			return false;
	}
	return true;
}

static bool json_int_in(json_object *o, const char *key, int64_t lo, int64_t hi, int64_t *out)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || json_object_get_type(v) != json_type_int)
		return false;
	*out = json_object_get_int64(v);
	return *out >= lo && *out <= hi;
}

int alua_restore_lu(struct lu *lu, const struct json_object *lu_obj)
{
	struct lu_alua next;
	json_object *arr;
	size_t n;

	if (!json_object_object_get_ex(lu_obj, "alua_groups", &arr))
		return 0;
	if (json_object_get_type(arr) != json_type_array ||
	    (n = json_object_array_length(arr)) > ALUA_MAX_GROUPS)
		return -EINVAL;
	memset(&next, 0, sizeof(next));
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(arr, i), *pref;
		struct lu_alua_group *g = &next.groups[i];
		int64_t id, state, status;
		uint8_t st;

		if (json_object_get_type(o) != json_type_object ||
		    !json_int_in(o, "id", 1, UINT16_MAX, &id) ||
		    !json_int_in(o, "state", 0, 0x0f, &state) ||
		    !json_int_in(o, "status", ALUA_STATUS_NONE, ALUA_STATUS_IMPLICIT, &status) ||
		    !json_object_object_get_ex(o, "preferred", &pref) ||
		    json_object_get_type(pref) != json_type_boolean ||
		    alua_state_parse(alua_state_name((uint8_t)state), &st) < 0 ||
		    (i && (uint16_t)id <= next.groups[i - 1].id))
			return -EINVAL;
		g->id = (uint16_t)id;
		g->rel_port_id = (uint16_t)id;
		g->state = (uint8_t)state;
		g->status = (uint8_t)status;
		g->preferred = json_object_get_boolean(pref);
		next.n_groups++;
	}
	/* This node's own nexuses learn of the change like any other. */
	if (!groups_equal(&next, &lu->alua)) {
		lu->alua = next;
		ua_establish_lu(lu->target->gw, lu, 0, ASC_ASYMMETRIC_ACCESS_STATE_CHANGED);
	}
	return 0;
}

/* ---------------------------------------------------------------------
 * The command table
 */

static const struct scsi_opcode_desc alua_ops[] = {
	{ .opcode = OP_MAINTENANCE_IN, .service_action = SA_REPORT_TARGET_PORT_GROUPS, .cdb_len = 12,
	  .name = "REPORT TARGET PORT GROUPS",
	  .cdb_usage = { 0xa3, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00 },
	  .flags = OPF_SA_IN_BYTE1 | OPF_DATA_IN, .pr_access = PR_ACCESS_ALLOWED,
	  .nominal_timeout_s = 1, .recommended_timeout_s = 10,
	  .execute = alua_report_target_port_groups },
	/* SPC-4 5.13.1: SET TARGET PORT GROUPS conflicts with a reservation
	 * held by another I_T nexus, except for registrants under the
	 * registrants-only and all-registrants types. */
	{ .opcode = OP_MAINTENANCE_OUT, .service_action = SA_SET_TARGET_PORT_GROUPS, .cdb_len = 12,
	  .name = "SET TARGET PORT GROUPS",
	  .cdb_usage = { 0xa4, 0x1f, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00 },
	  .flags = OPF_SA_IN_BYTE1 | OPF_DATA_OUT, .pr_access = PR_ACCESS_CONFLICT,
	  .nominal_timeout_s = 1, .recommended_timeout_s = 10,
	  .execute = alua_set_target_port_groups },
};

const struct scsi_opcode_table alua_opcode_table = {
	.ops = alua_ops,
	.count = ARRAY_SIZE(alua_ops),
};
