/* Operations on shared state (design.md, principle 1). Each type has a
 * payload format owned by the module named below and an apply function
 * that every node runs, in the cluster's delivery order, with the same
 * deterministic result. shared_state_apply() is the gateway's
 * cluster_callbacks.apply. Payloads are fixed-layout C structs with
 * NUL-padded names and no pointers: every node runs the same build. */
#ifndef SANGW_SHARED_STATE_H
#define SANGW_SHARED_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../cluster/cluster.h"
#include "model.h"

enum shared_op_type {
	SOP_UA_RAISE = 1,        /* ua.c: UA for every nexus of an LU but one */
	SOP_PR_OUT = 2,          /* pr.c: PERSISTENT RESERVE OUT, fully decoded */
	SOP_SPC2_RESERVE = 3,    /* pr.c: RESERVE(6/10) */
	SOP_SPC2_RELEASE = 4,    /* pr.c: RELEASE(6/10) */
	SOP_NEXUS_LOSS = 5,      /* pr.c: an I_T nexus is gone (SPC-2 release) */
	SOP_LU_RESET = 6,        /* pr.c/ua.c: LOGICAL UNIT RESET side effects */
	SOP_CONFIG = 7,          /* config.c: a management API change (JSON) */
	SOP_MODE_SELECT = 8,     /* spc.c: mode page change shared by all nodes */
	SOP_ALUA_SET = 9,        /* alua.c: target port group states of an LU */
	SOP_RANGE_LOCK = 16,     /* cluster_range_lock.c: COMPARE AND WRITE claims an LBA range */
	SOP_RANGE_UNLOCK = 17,   /* cluster_range_lock.c: ... and releases it */
	SOP_FENCE_IDENTITY = 18, /* fencing.c: the origin's clients of shared storage */
	SOP_FENCE_BEGIN = 19,    /* fencing.c: a silent member is being fenced */
	SOP_FENCE_DONE = 20,     /* fencing.c: its clients are blocklisted */
	SOP_NODE_ROLE = 21,      /* node_role.c: pacemaker promoted or demoted a node */
	SOP_TARGET_PORTS = 22,   /* target_ports.c: a node's target ports besides iSCSI */
};

/* Return codes of apply functions travel to the origin's done callback.
 * SCSI-level outcomes are encoded as shared_result_scsi(status, key, asc):
 * 0 = GOOD; negative = -errno for non-SCSI requests (config). */
static inline int shared_result_scsi(uint8_t status, uint8_t key, uint16_t asc_ascq)
{
	return (int)((uint32_t)status << 24 | (uint32_t)key << 16 | asc_ascq);
}
static inline uint8_t shared_result_status(int r) { return (uint8_t)((uint32_t)r >> 24); }
static inline uint8_t shared_result_key(int r) { return (uint8_t)((uint32_t)r >> 16); }
static inline uint16_t shared_result_asc(int r) { return (uint16_t)r; }

/* Identify an LU in a payload: target IQN + LUN (same on every node). */
struct sop_lu_ref {
	char target_iqn[ISCSI_NAME_MAX];
	uint64_t lun;
};
void sop_lu_ref_set(struct sop_lu_ref *ref, const struct lu *lu);
/* NULL when the LU does not exist (on this node). */
struct lu *sop_lu_ref_find(struct gateway *gw, const struct sop_lu_ref *ref);

int shared_state_apply(void *gw, uint32_t origin_node, uint16_t type,
		       const void *payload, uint32_t len);
/* cluster_callbacks.quorum: whether this node may serve I/O and change
 * shared state (quorate and synchronised); alua_check() enforces it. */
void shared_state_ready_changed(void *gw, bool ready);
/* cluster_callbacks.membership: the members now present (fencing, then
 * ALUA port groups follow: fencing_membership_changed) and the nodes that
 * left (their I_T nexuses are gone: pr_nodes_departed). Runs at the same
 * point of the delivery stream on every node. */
void shared_state_membership_changed(void *gw, const uint32_t *members, size_t n_members,
				     const uint32_t *left, size_t n_left);

/* The gateway's whole cluster_callbacks table: apply, state transfer
 * (state_snapshot.c), membership and readiness. Pass it to
 * cluster_create(). */
extern const struct cluster_callbacks shared_state_callbacks;

#endif
