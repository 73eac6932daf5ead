/* SPC-4 primary commands (spc.c): INQUIRY and its VPD pages, REPORT LUNS,
 * TEST UNIT READY, REQUEST SENSE, MODE SENSE/SELECT, REPORT SUPPORTED
 * OPERATION CODES / TASK MANAGEMENT FUNCTIONS, REPORT TARGET PORT GROUPS.
 * Exports spc_opcode_table (scsi_internal.h). The block limits the VPD
 * pages report are sbc.h's, which sbc.c enforces. */
#ifndef SANGW_SPC_H
#define SANGW_SPC_H

#include <stdbool.h>
#include <stdint.h>

#include "../../cluster/cluster.h"
#include "../model.h"

/* Apply a SOP_MODE_SELECT operation (called by shared_state.c on every
 * node): set the LU's current mode parameters and establish MODE
 * PARAMETERS CHANGED for the other I_T nexuses of the LU (SPC-4 7.5.1),
 * or, for a reset, restore the default values. */
int mode_select_apply(struct gateway *gw, const void *payload, uint32_t len);

/* LOGICAL UNIT RESET side effects on the device state (SAM-5 6.3.3): mode
 * parameters back to their defaults, PREVENT ALLOW MEDIUM REMOVAL ended
 * (sbc_lu_reset()). Submitted through the door; done(ctx, result) follows the
 * local apply. Returns 0 or -errno (the operation was not sent). */
int spc_lu_reset_submit(struct lu *lu, cluster_done_fn done, void *ctx);

#endif
