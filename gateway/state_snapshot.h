/* State transfer between cluster nodes (design.md, principle 1; issue 5):
 * a node that joins the group, or resynchronises after losing quorum,
 * replaces its shared state with a snapshot taken by a synchronised member
 * at one point of the delivery stream, then applies the operations that
 * followed it.
 *
 * The snapshot is one JSON document, versioned:
 *   {"format":"sangw-state","version":1,
 *    "config_version":N,
 *    "config":{...},          the running configuration (config_dump, file
 *                             format, without "portals": listening
 *                             addresses belong to each node)
 *    "lus":[{"target":IQN,"lun":N,
 *            "pr":{...},      pr_state_to_json(): registrations, reservation,
 *                             generation, APTPL flag, SPC-2 reservation
 *            "mode":{"wce":B,"rcd":B,"d_sense":B,"swp":B},
 *            "alua":[...]}]}  alua_groups_json(), informative only (below)
 *
 * Restore checks the whole document before it changes anything; a
 * malformed, truncated or foreign snapshot is refused with a message and
 * the local state is left as it was. A valid one replaces the local state
 * deterministically: the configuration (config_replace), then every LU's
 * reservations and mode pages; LUs the snapshot does not mention get empty
 * reservations.
 *
 * ALUA port-group states are not restored: they are re-derived from each
 * LU's policy and the membership, which the cluster service reports right
 * after the restore. Explicit SET TARGET PORT GROUPS states would need an
 * accessor in alua.c to load them. */
#ifndef SANGW_STATE_SNAPSHOT_H
#define SANGW_STATE_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

#define STATE_SNAPSHOT_FORMAT  "sangw-state"
#define STATE_SNAPSHOT_VERSION 1

/* The snapshot as malloc'd JSON text (not NUL-terminated in *len). Returns
 * 0 or -errno. */
int state_snapshot_take(struct gateway *gw, char **text, size_t *len);

/* Check text and, when it is a valid snapshot, replace gw's shared state
 * with it. Returns 0, or -errno (-EINVAL: malformed) with a message in err;
 * nothing is changed on error. */
int state_snapshot_load(struct gateway *gw, const char *text, size_t len, char *err,
			size_t errlen);

/* cluster_callbacks.snapshot / .restore (owner is the gateway). A
 * restored state's version (gw->cluster->state_version) is saved when
 * this node keeps persistent state (below). */
int state_snapshot_cluster_take(void *gw, void **buf, size_t *len);
int state_snapshot_cluster_restore(void *gw, const void *buf, size_t len);

/* Persistence across a whole-cluster restart. The persistent state (the
 * configuration file and the APTPL files under STATE_DIR/pr) is written on
 * every node as operations are applied; STATE_DIR/state-version.json
 * records the cluster's state version it corresponds to, so that at the
 * next start the nodes elect the newest (cluster_callbacks.saved_state).
 * It is written only when the persistent state changed (an applied
 * configuration change with --config, a PR OUT that wrote or removed an
 * APTPL file, a restored snapshot while either exists): every node applies
 * the same operations, so a node whose last such change is newer has seen
 * more of the stream, and equal versions mean equal persistent state.
 * state_snapshot_save_version() writes gw->cluster->state_version there,
 * atomically (fsync); errors are logged. With a state store
 * (--state-store) the persistent state is also queued for it at that
 * version (state_store.h). */
void state_snapshot_save_version(struct gateway *gw);
/* Write version to STATE_DIR/state-version.json (no store); 0 or -errno. */
int state_snapshot_write_version(const struct gateway *gw, uint64_t version);
/* Is there an APTPL state file under STATE_DIR/pr? (One directory scan.) */
bool state_snapshot_aptpl_saved(const struct gateway *gw);
/* cluster_callbacks.saved_state: true when this node started from saved
 * state (a version file, a configuration file, APTPL files), with the
 * version recorded (0 when none, or unreadable: said in the log). */
bool state_snapshot_saved_state(void *gw, uint64_t *version);

#endif
