/* LBA range locks shared by every cluster node, for COMPARE AND WRITE
 * (SBC-3 5.2: the compare and the write are one atomic operation with
 * respect to other commands). sbc.c's own range locks order the commands
 * of one node; when the same LU is exported by several nodes, two
 * COMPARE AND WRITEs through two nodes must also exclude each other, so
 * the claim travels through the shared-state door (design.md, principle 1):
 *
 *   SOP_RANGE_LOCK   {LU, token, lba, count}  appended to the LU's queue
 *   SOP_RANGE_UNLOCK {LU, token}              removed from it
 *
 * Every node applies them in the same agreed order to the same per-LU
 * queue; an entry is granted when no earlier entry overlaps it (first come,
 * first served, so nobody starves), the same decision on every node. The
 * node that asked resumes its command once its entry is granted and the
 * cluster service has completed the LOCK (every member applied it). The
 * membership callback drops the entries of departed nodes; a node drops
 * entries of its own that no command owns any more (left by a failed
 * UNLOCK or an earlier process with the same node id) by sending UNLOCKs.
 *
 * Chosen over byte-range locks on the backing file (OFD locks): those hold
 * only for a file backstore on a file system that shares them between
 * hosts, and the null and future RBD backstores have no equivalent. The
 * price is two ordered multicasts per COMPARE AND WRITE in cluster mode;
 * the single-node service keeps only sbc.c's local locks.
 *
 * Only COMPARE AND WRITE takes these locks: ordinary writes through
 * another node are not ordered against it (as with several controllers of
 * a disk array, an initiator that wants atomic updates uses COMPARE AND
 * WRITE everywhere, as VMware's ATS does). */
#ifndef SANGW_CLUSTER_RANGE_LOCK_H
#define SANGW_CLUSTER_RANGE_LOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "../event_loop.h"
#include "../model.h"
#include "../shared_state.h"

struct json_object;
struct cluster_range_lock_lu;

/* SOP_RANGE_LOCK / SOP_RANGE_UNLOCK payload (shared_state.h rules); the
 * node is the operation's origin. */
struct range_lock_payload {
	struct sop_lu_ref lu;
	uint64_t token;
	uint64_t lba;                 /* LOCK only */
	uint64_t count;               /* LOCK only */
};

/* One command's claim, owned by the caller (embedded in its context) from
 * cluster_range_lock() until resume(arg, result < 0) or
 * cluster_range_unlock(). */
struct cluster_range_lock {
	struct lu *lu;
	uint64_t token;               /* (pid << 32) | per-LU sequence */
	uint64_t lba, count;
	bool granted;                 /* the agreed queue granted it */
	bool completed;               /* the LOCK operation's done() ran */
	bool cancelled;               /* its LU was removed while it waited */
	int result;                   /* its result */
	void (*resume)(void *arg, int result);
	void *arg;
	struct ev_deferred defer;
	TAILQ_ENTRY(cluster_range_lock) link;   /* the LU's waiting claims */
};

/* Whether COMPARE AND WRITE must take cluster locks: a cluster service
 * other than the single-node one runs. */
bool cluster_range_lock_needed(const struct gateway *gw);

/* Claim [lba, lba + count) of lu cluster-wide. Returns 0: resume(arg, 0)
 * runs from the event loop once the claim is held (release it with
 * cluster_range_unlock), or resume(arg, -errno) once it cannot be
 * (-EAGAIN: this node left the quorate cluster; nothing to release).
 * Returns -errno when nothing was submitted (resume will not run). */
int cluster_range_lock(struct lu *lu, struct cluster_range_lock *l, uint64_t lba, uint64_t count,
		       void (*resume)(void *arg, int result), void *arg);
/* Release a held claim (the UNLOCK is sent; it completes on its own). */
void cluster_range_unlock(struct cluster_range_lock *l);

/* Apply SOP_RANGE_LOCK / SOP_RANGE_UNLOCK on this node. */
int cluster_range_lock_apply(struct gateway *gw, uint32_t origin_node, uint16_t type,
			     const void *payload, uint32_t len);

/* The membership callback (every node, same order): members present now. */
void cluster_range_lock_members_changed(struct gateway *gw, const uint32_t *members, size_t n);

/* State transfer: the LU's queue as key "range_locks" of its snapshot
 * object, and back (a missing key leaves the queue as it is; malformed
 * data returns -EINVAL and changes nothing). */
int cluster_range_lock_snapshot_lu(const struct lu *lu, struct json_object *lu_obj);
int cluster_range_lock_restore_lu(struct lu *lu, const struct json_object *lu_obj);

/* The LU is being removed (a configuration change every node applies at
 * the same point of the delivery order): no claim on it will be released
 * through the door any more (UNLOCKs no longer find the LU), so this
 * node's commands still waiting for a grant end with -ECANCELED, at once
 * or when their LOCK operation completes. Claims already granted finish
 * as usual. */
void cluster_range_lock_lu_removed(struct lu *lu);

/* Free lu->range_locks, the LU's queue (scsi_lu_cleanup(), when no command
 * is left). */
void cluster_range_lock_lu_cleanup(struct lu *lu);

/* For tests and the management view: entries in the LU's queue, and how
 * many of them are granted. */
unsigned cluster_range_lock_count(const struct lu *lu, unsigned *granted);

#endif
