/* The SCSI core's per-LU state (scsi_lu.c): reservations (pr.c), target
 * port groups (alua.c), block command state (sbc.c), SANITIZE
 * (sanitize.c), the copy manager (xcopy.c) and the cluster-wide COMPARE
 * AND WRITE queue (cluster_range_lock.c). The model (model.c) creates and
 * frees an LU and calls these hooks at the points named; it knows nothing
 * else of that state. The last two hooks are for the core itself. */
#ifndef SANGW_SCSI_LU_H
#define SANGW_SCSI_LU_H

#include <stddef.h>

#include "../model.h"

/* lu_create(), before the LU is linked into its target: the state every
 * LU has from the start. Returns 0, or -1 with a message in err and
 * nothing left to free. */
int scsi_lu_init(struct lu *lu, char *err, size_t errlen);

/* lu_create(), once the LU is linked into its target: restore the
 * persistent reservations saved with APTPL (SPC-4 5.13.5). */
void scsi_lu_linked(struct lu *lu);

/* lu_destroy(), once the LU is unlinked and marked removing: cluster
 * claims still waiting for a grant are cancelled. */
void scsi_lu_removed(struct lu *lu);

/* lu_free(), once the LU's last command has ended and before its backstore
 * closes: free everything the hooks and the command sets created. */
void scsi_lu_cleanup(struct lu *lu);

/* lu_backing_resized(): the LU's capacity changed after the command that
 * asked for it completed (a backstore that resizes off-loop): every nexus
 * gets CAPACITY DATA HAS CHANGED (SBC-3 4.6). */
void scsi_lu_capacity_changed(struct lu *lu);

/* The core, on I_T nexus loss (tmf.c), for every LU of the nexus' target:
 * PREVENT ALLOW MEDIUM REMOVAL ends for it (SBC-3 5.13) and the copy
 * results held for it are dropped (SPC-4 6.18.1). */
void scsi_lu_nexus_lost(struct lu *lu, const struct it_nexus *nexus);

/* The core, on a logical unit reset (spc.c, SOP_MODE_SELECT reset): the
 * same for every I_T nexus. */
void scsi_lu_reset(struct lu *lu);

#endif
