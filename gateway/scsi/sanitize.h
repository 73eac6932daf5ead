/* SANITIZE (SBC-3 5.24, 4.11): OVERWRITE, BLOCK ERASE, CRYPTOGRAPHIC
 * ERASE and EXIT FAILURE MODE. Its opcode table (sanitize_opcode_table,
 * scsi_internal.h) holds the four service actions; its per-LU state (the
 * running operation, failure mode) is lu->sanitize, created by the first
 * SANITIZE and freed by sanitize_lu_cleanup(). The operation takes an
 * exclusive claim on the whole LU through sbc.c's LBA range locks. */
#ifndef SANGW_SANITIZE_H
#define SANGW_SANITIZE_H

#include <stdbool.h>
#include <stdint.h>

#include "../model.h"

/* SBC-3 4.11: while a sanitize operation runs on cmd->lu, every command
 * but INQUIRY, REPORT LUNS and REQUEST SENSE gets NOT READY, SANITIZE IN
 * PROGRESS; after a failed one, medium access commands get MEDIUM ERROR,
 * SANITIZE COMMAND FAILED. Completes cmd with that CHECK CONDITION and
 * returns true, or returns false to let it run. The dispatcher calls it
 * after LU resolution, the unit attention and ALUA checks, before
 * reservations. */
bool sanitize_check(struct scsi_cmd *cmd);

/* REQUEST SENSE during a sanitize: true and the progress indication
 * (SPC-4 4.5.2.4.4, 0-65535) when one runs on lu. */
bool sanitize_progress(const struct lu *lu, uint16_t *progress);

/* What a medium access to lu would get from its sanitize state (SBC-3
 * 4.11): SANITIZE IN PROGRESS or SANITIZE COMMAND FAILED, or 0. For a copy
 * (xcopy.c) that reads or writes an LU other than the one it was sent to. */
uint16_t sanitize_asc(const struct lu *lu);

/* REPORT SUPPORTED OPERATION CODES and the Block Device Characteristics
 * VPD page (WABEREQ): is this SANITIZE service action supported on lu?
 * BLOCK ERASE deallocates, so it needs a thin LU; the others always are. */
bool sanitize_lu_supports(const struct lu *lu, uint16_t service_action);

/* Free lu->sanitize (scsi_lu_cleanup(), once the LU's commands are gone,
 * after sbc_lu_cleanup() has emptied the LBA range lock queue, before the
 * backstore closes). A running operation is abandoned: its request still
 * at the backstore frees it on completion. */
void sanitize_lu_cleanup(struct lu *lu);

#endif
