/* The gateway side of the shared-state door: route each delivered
 * operation to the module that owns its type. */
#include "shared_state.h"

#include <errno.h>
#include <string.h>

#include "scsi/alua.h"
#include "scsi/cluster_range_lock.h"
#include "cluster_status.h"
#include "config.h"
#include "fencing.h"
#include "log.h"
#include "node_role.h"
#include "scsi/pr.h"
#include "scsi/spc.h"
#include "scsi/target_ports.h"
#include "state_snapshot.h"
#include "scsi/ua.h"
#include "util.h"

void sop_lu_ref_set(struct sop_lu_ref *ref, const struct lu *lu)
{
	memset(ref, 0, sizeof(*ref));
	str_copy(ref->target_iqn, lu->target->iqn, sizeof(ref->target_iqn));
	ref->lun = lu->lun;
}

struct lu *sop_lu_ref_find(struct gateway *gw, const struct sop_lu_ref *ref)
{
	char iqn[ISCSI_NAME_MAX];
	struct target *t;

	/* The payload came off the wire: never trust its NUL termination. */
	memcpy(iqn, ref->target_iqn, sizeof(iqn));
	iqn[sizeof(iqn) - 1] = '\0';
	t = gw_find_target(gw, iqn);
	return t ? target_find_lu(t, ref->lun) : NULL;
}

void shared_state_ready_changed(void *owner, bool ready)
{
	struct gateway *gw = owner;

	if (gw->cluster_ready != ready)
		log_warn("cluster: this node %s", ready ? "is ready: serving I/O" :
			 "is not quorate or not synchronised: I/O and shared-state changes stop");
	gw->cluster_ready = ready;
	fencing_kick(gw);
	target_ports_kick(gw);
}

void shared_state_membership_changed(void *owner, const uint32_t *members, size_t n_members,
				     const uint32_t *left, size_t n_left)
{
	struct gateway *gw = owner;

	fencing_membership_changed(gw, members, n_members, left, n_left);
	cluster_range_lock_members_changed(gw, members, n_members);
	if (n_left)
		pr_nodes_departed(gw, left, n_left);
}

const struct cluster_callbacks shared_state_callbacks = {
	.apply = shared_state_apply,
	.snapshot = state_snapshot_cluster_take,
	.restore = state_snapshot_cluster_restore,
	.membership = shared_state_membership_changed,
	.quorum = shared_state_ready_changed,
	.saved_state = state_snapshot_saved_state,
	.member_silent = fencing_member_silent,
	.answer = cluster_status_answer,
};

static int route_operation(struct gateway *gw, uint32_t origin_node, uint16_t type,
			   const void *payload, uint32_t len);

/* Did this applied operation change what this node keeps on disk (its
 * --config file, the APTPL files under STATE_DIR/pr)? Only then must the
 * version file follow: the nodes' saved versions then still order their
 * saved states (state_snapshot.h), and an operation that persists nothing
 * costs no file write and no fsync. */
static bool persistent_state_changed(const struct gateway *gw, uint16_t type,
				     uint64_t aptpl_changes_before)
{
	switch (type) {
	case SOP_CONFIG:
		return gw->config_path[0] != '\0';
	case SOP_PR_OUT:
		/* An APTPL file written, or removed when APTPL was cleared. */
		return gw->aptpl_file_changes != aptpl_changes_before;
	default:
		return false;   /* nothing else is persisted */
	}
}

int shared_state_apply(void *owner, uint32_t origin_node, uint16_t type,
		       const void *payload, uint32_t len)
{
	struct gateway *gw = owner;
	uint64_t aptpl_changes_before = gw->aptpl_file_changes;
	int result = route_operation(gw, origin_node, type, payload, len);

	/* Record the version the persistent state now corresponds to, for the
	 * newest-wins election after a whole-cluster restart; before this
	 * node acknowledges the operation (the ACK follows the apply). */
	if (result == 0 && persistent_state_changed(gw, type, aptpl_changes_before))
		state_snapshot_save_version(gw);
	return result;
}

static int route_operation(struct gateway *gw, uint32_t origin_node, uint16_t type,
			   const void *payload, uint32_t len)
{
	switch (type) {
	case SOP_UA_RAISE:
		return ua_apply(gw, payload, len);
	case SOP_PR_OUT:
	case SOP_SPC2_RESERVE:
	case SOP_SPC2_RELEASE:
	case SOP_NEXUS_LOSS:
	case SOP_LU_RESET:
		return pr_apply(gw, type, payload, len);
	case SOP_CONFIG:
		return config_apply(gw, payload, len);
	case SOP_MODE_SELECT:
		return mode_select_apply(gw, payload, len);
	case SOP_ALUA_SET:
		return alua_apply(gw, payload, len);
	case SOP_RANGE_LOCK:
	case SOP_RANGE_UNLOCK:
		return cluster_range_lock_apply(gw, origin_node, type, payload, len);
	case SOP_FENCE_IDENTITY:
	case SOP_FENCE_BEGIN:
	case SOP_FENCE_DONE:
		return fencing_apply(gw, origin_node, type, payload, len);
	case SOP_NODE_ROLE:
		return node_role_apply(gw, payload, len);
	case SOP_TARGET_PORTS:
		return target_ports_apply(gw, origin_node, payload, len);
	default:
		log_error("shared state: unknown operation type %u (%u bytes) ignored", type, len);
		return -EINVAL;
	}
}
