/* The SCSI core's per-LU state: one place that creates and frees it, so
 * the model calls four hooks instead of each command set by name. See
 * scsi_lu.h. */
#include "scsi_lu.h"

#include <stdio.h>

#include "alua.h"
#include "cluster_range_lock.h"
#include "../log.h"
#include "pr.h"
#include "sanitize.h"
#include "sbc.h"
#include "sense.h"
#include "ua.h"
#include "xcopy.h"

int scsi_lu_init(struct lu *lu, char *err, size_t errlen)
{
	/* Port group states derive from the policy and the current members. */
	alua_lu_init(lu);
	/* Every LU has reservation state; the rest is created on first use. */
	lu->pr = pr_state_create(lu);
	if (!lu->pr) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

void scsi_lu_linked(struct lu *lu)
{
	if (pr_load(lu) < 0)
		log_warn("%s LUN %llu: could not restore persistent reservations",
			 lu->target->iqn, (unsigned long long)lu->lun);
}

void scsi_lu_removed(struct lu *lu)
{
	cluster_range_lock_lu_removed(lu);
}

void scsi_lu_cleanup(struct lu *lu)
{
	xcopy_lu_cleanup(lu);
	cluster_range_lock_lu_cleanup(lu);
	sbc_lu_cleanup(lu);
	/* After sbc.c's: a running sanitize's exclusive claim stays linked in
	 * sbc.c's LBA range lock queue until that queue is emptied. */
	sanitize_lu_cleanup(lu);
	pr_state_destroy(lu->pr);
	lu->pr = NULL;
}

void scsi_lu_nexus_lost(struct lu *lu, const struct it_nexus *nexus)
{
	sbc_nexus_lost(lu, nexus);
	xcopy_nexus_lost(lu, nexus);
}

void scsi_lu_reset(struct lu *lu)
{
	sbc_lu_reset(lu);
	xcopy_lu_reset(lu);
}

void scsi_lu_capacity_changed(struct lu *lu)
{
	ua_establish_lu(lu->target->gw, lu, 0, ASC_CAPACITY_DATA_HAS_CHANGED);
}
