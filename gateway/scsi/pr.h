/* Reservations: SPC-4 persistent reservations (5.13, 6.15-6.16) and SPC-2
 * RESERVE/RELEASE. All state changes go through the shared-state door
 * (SOP_PR_OUT, SOP_SPC2_*, SOP_NEXUS_LOSS, SOP_LU_RESET) and are applied
 * by pr_apply() on every node in the same order, so every gateway reports
 * and enforces the same reservations. */
#ifndef SANGW_PR_H
#define SANGW_PR_H

#include <stdbool.h>
#include <stdint.h>

#include "../model.h"

struct pr_state *pr_state_create(struct lu *lu);
void pr_state_destroy(struct pr_state *pr);

/* SPC-4 5.13.1 Table (and SPC-2 5.5.1): true when cmd, arriving through
 * its nexus, must be answered with RESERVATION CONFLICT. */
bool pr_conflict(struct scsi_cmd *cmd);

/* Command handlers: each completes cmd (possibly later, once the
 * operation is applied). */
void pr_in(struct scsi_cmd *cmd);             /* PERSISTENT RESERVE IN (0x5e) */
void pr_out(struct scsi_cmd *cmd);            /* PERSISTENT RESERVE OUT (0x5f) */
void spc2_reserve(struct scsi_cmd *cmd);      /* RESERVE(6) 0x16, RESERVE(10) 0x56 */
void spc2_release(struct scsi_cmd *cmd);      /* RELEASE(6) 0x17, RELEASE(10) 0x57 */

/* Side effects of events, submitted through the door: */
/* SPC-2 reservation released; released(ctx, result) (may be NULL) once
 * applied on every node (scsi_nexus_unregister_then). */
void pr_nexus_lost(struct it_nexus *nexus, scsi_nexus_released_fn released, void *ctx);
void pr_lu_reset(struct lu *lu);              /* SPC-2 reservation released */

/* Cluster nodes left (the membership callback, at the same point of the
 * delivery stream on every node): every I_T nexus through them is gone, so
 * the SPC-2 reservations held through them are released (SPC-2 5.5.1, as
 * for any lost nexus). Persistent reservations and registrations stay:
 * SPC-4 5.13.1, they survive the loss of the I_T nexus. */
void pr_nodes_departed(struct gateway *gw, const uint32_t *nodes, size_t n);

/* Apply SOP_PR_OUT / SOP_SPC2_* / SOP_NEXUS_LOSS / SOP_LU_RESET. */
int pr_apply(struct gateway *gw, uint16_t type, const void *payload, uint32_t len);

/* APTPL (SPC-4 5.13.5): load the persisted state of lu from
 * gw->state_dir at LU creation; it is saved on every change while APTPL. */
int pr_load(struct lu *lu);

/* What the metrics endpoint shows of lu's reservations (control thread). */
struct pr_summary {
	unsigned registrations;        /* registered I_T nexuses (keys) */
	bool reserved;                 /* a persistent reservation is held */
	uint8_t type;                  /* its TYPE (SPC-4 6.16.3) when reserved */
	bool spc2_reserved;            /* RESERVE(6/10) holds the LU */
};
void pr_summarize(const struct lu *lu, struct pr_summary *out);

/* State transfer to a joining cluster node (state_snapshot.c). */
struct json_object;
/* lu's registrations, reservation, generation (the APTPL file's "sangw-pr"
 * format) plus "aptpl" and, while RESERVE(6/10) holds the LU,
 * "spc2_nexus_id". The caller puts the object. */
struct json_object *pr_state_to_json(const struct lu *lu);
/* Parse such an object into a new state not attached to any LU; NULL with
 * a message in err when it is malformed. */
struct pr_state *pr_state_from_json(struct json_object *obj, char *err, size_t errlen);
/* Make pr lu's state (the old one is freed) and keep the APTPL file in
 * step with it. */
void pr_state_install(struct lu *lu, struct pr_state *pr);

#endif
