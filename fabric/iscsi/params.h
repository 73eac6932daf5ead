/* Operational text keys and their negotiation (RFC 7143 section 13 and
 * 6.2). The target's offer comes from struct target_params; the result is
 * struct iscsi_session_params, which the connection layer obeys. */
#ifndef SANGW_ISCSI_PARAMS_H
#define SANGW_ISCSI_PARAMS_H

#include <stdbool.h>
#include <stdint.h>

#include "../../gateway/model.h"
#include "text_keys.h"

struct iscsi_session_params {
	bool header_digest;                  /* CRC32C on headers */
	bool data_digest;                    /* CRC32C on data segments */
	/* MaxRecvDataSegmentLength is declarative per direction (13.12): */
	uint32_t initiator_max_recv_dsl;     /* we may send at most this per PDU */
	uint32_t target_max_recv_dsl;        /* we declared we accept this */
	uint32_t max_burst_length;
	uint32_t first_burst_length;
	bool initial_r2t;
	bool immediate_data;
	uint32_t max_outstanding_r2t;
	bool data_pdu_in_order;
	bool data_sequence_in_order;
	uint32_t default_time2wait;
	uint32_t default_time2retain;
	uint32_t error_recovery_level;
	uint32_t max_connections;
};

/* RFC 7143 defaults (before negotiation). */
void iscsi_params_defaults(struct iscsi_session_params *p);

/* Negotiate every operational key in req (the initiator's offers) against
 * the target's limits, update params, and append the target's answers to
 * rsp. Keys the target must declare itself (e.g. its
 * MaxRecvDataSegmentLength) are appended once per login by
 * iscsi_params_declare(). Unknown keys are answered NotUnderstood (6.2);
 * a key sent twice or with an invalid value is answered Reject or makes the
 * call fail: returns 0, or -1 with *status set to a login status
 * (ISCSI_LOGIN_STATUS_INITIATOR_ERROR...). discovery restricts the keys that
 * apply (13.x: only some keys are valid in discovery sessions). */
int iscsi_params_negotiate(struct iscsi_session_params *params,
			   const struct target_params *offer, bool discovery,
			   const struct text_kv_list *req, struct text_kv_list *rsp,
			   uint16_t *status);

void iscsi_params_declare(const struct iscsi_session_params *params,
			  const struct target_params *offer, struct text_kv_list *rsp);

#endif
