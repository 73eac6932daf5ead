/* Asymmetric logical unit access (SPC-4 5.16): target port group states,
 * REPORT TARGET PORT GROUPS, SET TARGET PORT GROUPS, the admin's implicit
 * transitions and the per-command check by port group state. See alua.h
 * for the model: one port group per cluster node, one port per group. */
#include "alua.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sense.h"
#include "shared_state.h"
#include "ua.h"
#include "util.h"

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

/* One group per member, ascending; this node alone before the cluster
 * service has reported a membership. The group's one target port has the
 * relative target port identifier the fabric gives its nexuses (the node
 * id, unique in the cluster). */
static void groups_from_members(const struct gateway *gw, struct lu_alua *a)
{
	memset(a, 0, sizeof(*a));
	if (gw->n_members == 0) {
		a->groups[0].id = (uint16_t)gw->node_id;
		a->groups[0].rel_port_id = (uint16_t)gw->node_id;
		a->n_groups = 1;
		return;
	}
	for (unsigned i = 0; i < gw->n_members && i < ALUA_MAX_GROUPS; i++) {
		a->groups[i].id = (uint16_t)gw->members[i];
		a->groups[i].rel_port_id = (uint16_t)gw->members[i];
		a->n_groups++;
	}
}

/* The states a policy gives the groups of a. PREFERRED: the preferred
 * node's group is Active/Optimized; while that node is not a member, the
 * lowest member takes over (an implicit transition on failure), and gives
 * the role back when the preferred node returns. */
static void policy_establish(const struct lu_alua_policy *policy, struct lu_alua *a)
{
	const struct lu_alua_group *active = NULL;

	if (policy->kind == ALUA_POLICY_PREFERRED && a->n_groups) {
		active = group_find(a, policy->preferred_node);
		if (!active)
			active = &a->groups[0];
	}
	for (unsigned i = 0; i < a->n_groups; i++) {
		struct lu_alua_group *g = &a->groups[i];

		if (policy->kind != ALUA_POLICY_PREFERRED) {
			g->state = ALUA_ACTIVE_OPTIMIZED;
			g->preferred = false;
			continue;
		}
		g->state = g == active ? ALUA_ACTIVE_OPTIMIZED : policy->others;
		g->preferred = g->id == policy->preferred_node;
	}
}

void alua_lu_init(struct lu *lu)
{
	groups_from_members(lu->target->gw, &lu->alua);
	policy_establish(&lu->spec.alua, &lu->alua);
}

/* Re-derive lu's groups from membership and policy: an implicit
 * transition (SPC-4 5.16.2.2). Every nexus of the LU gets ASYMMETRIC
 * ACCESS STATE CHANGED when anything RTPG reports changed. Runs on every
 * node in the same order, so it establishes UAs locally. */
static void lu_reestablish(struct gateway *gw, struct lu *lu)
{
	struct lu_alua next;
	bool changed = false;

	groups_from_members(gw, &next);
	policy_establish(&lu->spec.alua, &next);
	for (unsigned i = 0; i < next.n_groups; i++) {
		struct lu_alua_group *g = &next.groups[i];
		const struct lu_alua_group *old = group_find(&lu->alua, g->id);

		if (!old) {
			changed = true;         /* a new group: nothing altered it yet */
			continue;
		}
		if (old->state != g->state) {
			g->status = ALUA_STATUS_IMPLICIT;
			changed = true;
		} else {
			g->status = old->status;
		}
		changed |= old->preferred != g->preferred;
	}
	changed |= next.n_groups != lu->alua.n_groups;
	lu->alua = next;
	if (changed)
		ua_establish_lu(gw, lu, 0, ASC_ASYMMETRIC_ACCESS_STATE_CHANGED);
}

static int member_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

void alua_set_members(struct gateway *gw, const uint32_t *members, size_t n)
{
	uint32_t sorted[ALUA_MAX_GROUPS];
	unsigned count = 0;
	struct target *t;
	struct lu *lu;

	if (n > ALUA_MAX_GROUPS) {
		log_error("alua: %zu cluster members, only the lowest %d get port groups", n,
			  ALUA_MAX_GROUPS);
	}
	memcpy(sorted, members, MIN(n, (size_t)ALUA_MAX_GROUPS) * sizeof(*members));
	qsort(sorted, MIN(n, (size_t)ALUA_MAX_GROUPS), sizeof(*sorted), member_cmp);
	for (size_t i = 0; i < MIN(n, (size_t)ALUA_MAX_GROUPS); i++)
		if (count == 0 || sorted[i] != gw->members[count - 1])
			gw->members[count++] = sorted[i];
	gw->n_members = count;
	TAILQ_FOREACH(t, &gw->targets, link)
		TAILQ_FOREACH(lu, &t->lus, link)
			lu_reestablish(gw, lu);
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
	lu->spec.alua = *policy;
	lu_reestablish(lu->target->gw, lu);
}

/* ---------------------------------------------------------------------
 * The per-command check
 */

bool alua_check(struct scsi_cmd *cmd)
{
	const struct lu_alua_group *g;
	uint16_t asc_ascq;

	if (!cmd->lu)
		return false;
	/* Not part of a quorate, synchronised cluster: this node's port
	 * group is in transition (SPC-4 5.16.2.6) until it is again. */
	if (!the_gateway->cluster_ready) {
		if (alua_command_allowed(ALUA_TRANSITIONING, cmd->cdb, &asc_ascq))
			return false;
		scsi_check_condition(cmd, SK_NOT_READY, asc_ascq);
		return true;
	}
	g = group_find(&cmd->lu->alua, cmd->nexus->tpg_id);
	if (g && g->state == ALUA_ACTIVE_OPTIMIZED)
		return false;
	/* A port outside every group of the LU has no access to it. */
	if (alua_command_allowed(g ? g->state : ALUA_UNAVAILABLE, cmd->cdb, &asc_ascq))
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
	uint8_t d[8 + ALUA_MAX_GROUPS * 12];
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

		p[0] = (uint8_t)((g->preferred ? 0x80 : 0) | (g->state & 0x0f));
		p[1] = ALUA_SUPPORTED_STATES;
		put_be16(p + 2, g->id);
		p[5] = g->status;
		p[7] = 1;                               /* TARGET PORT COUNT */
		put_be16(p + 8 + 2, g->rel_port_id);    /* target port descriptor */
		len += 12;
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
		if (!group_find(&lu->alua, p.set[i].tpg_id) || !state_settable(p.set[i].state, p.implicit)) {
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
	if (r < 0)
		return request_error(r, err, errlen, "alua_set not submitted: %s",
				     r == -EAGAIN ? "the cluster is not quorate" : strerror(-r));
	return 0;
}

json_object *alua_groups_json(const struct lu *lu)
{
	json_object *arr = json_object_new_array();

	for (unsigned i = 0; i < lu->alua.n_groups; i++) {
		const struct lu_alua_group *g = &lu->alua.groups[i];
		json_object *o = json_object_new_object();
		json_object *ports = json_object_new_array();

		json_object_array_add(ports, json_object_new_int(g->rel_port_id));
		json_object_object_add(o, "id", json_object_new_int(g->id));
		json_object_object_add(o, "state", json_object_new_string(alua_state_name(g->state)));
		json_object_object_add(o, "preferred", json_object_new_boolean(g->preferred));
		json_object_object_add(o, "status", json_object_new_string(status_name(g->status)));
		json_object_object_add(o, "relative_target_ports", ports);
		json_object_array_add(arr, o);
	}
	return arr;
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
