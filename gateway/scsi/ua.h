/* Unit attention conditions (SAM-5 5.14, SPC-4 5.14 / 4.5.3). A UA is kept
 * per I_T nexus and LU; it is reported (and cleared) as CHECK CONDITION on
 * the next command through that nexus to that LU, except INQUIRY, REPORT
 * LUNS and REQUEST SENSE, which report none (SAM-5 5.14). UAs that other
 * nexuses must see travel through the shared-state door (SOP_UA_RAISE) so
 * that nexuses on other nodes get them too. */
#ifndef SANGW_UA_H
#define SANGW_UA_H

#include <stdbool.h>
#include <stdint.h>

#include "../model.h"

/* Establish asc_ascq for every I_T nexus (on every node) that sees lu,
 * except the nexus whose id is except_nexus (0: none). Goes through the
 * cluster service; effective once applied. */
void ua_raise(struct lu *lu, uint64_t except_nexus, uint16_t asc_ascq);
/* The same for every LU of a target (e.g. REPORTED LUNS DATA HAS CHANGED). */
void ua_raise_target(struct target *t, uint64_t except_nexus, uint16_t asc_ascq);
/* Apply a SOP_UA_RAISE payload on this node. */
int ua_apply(struct gateway *gw, const void *payload, uint32_t len);

/* Local: establish on one nexus (no duplicates of the same code). */
void ua_establish(struct it_nexus *nexus, uint64_t lu_key, uint16_t asc_ascq);
/* Local: establish on every local nexus that sees lu, except one. */
void ua_establish_lu(struct gateway *gw, struct lu *lu, uint64_t except_nexus,
		     uint16_t asc_ascq);
/* If a UA is pending for cmd's nexus and LU and cmd is not exempt, report
 * the oldest one as CHECK CONDITION, clear it, and return true. */
bool ua_check(struct scsi_cmd *cmd);
/* REQUEST SENSE reports (and clears) a pending UA as its sense data. */
bool ua_take(struct it_nexus *nexus, uint64_t lu_key, uint16_t *asc_ascq);
/* Drop every UA of a nexus (nexus loss) or of one LU on it. */
void ua_clear_nexus(struct it_nexus *nexus);
void ua_clear_lu(struct gateway *gw, uint64_t lu_key);

#endif
