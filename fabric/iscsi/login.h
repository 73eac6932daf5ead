/* Login phase (RFC 7143 sections 6 and 11.12-11.13): a pure state machine,
 * no sockets. The connection code feeds it each Login Request (BHS + data
 * segment) and sends back the Login Response it builds. Security
 * negotiation (CHAP, RFC 1994 / RFC 7143 12.1.3) and operational
 * negotiation (section 13) happen here; the outcome is the negotiated
 * session parameters. */
#ifndef SANGW_ISCSI_LOGIN_H
#define SANGW_ISCSI_LOGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../gateway/model.h"
#include "params.h"

enum login_session_type { SESSION_NORMAL, SESSION_DISCOVERY };

/* What the connection layer tells the state machine about a target the
 * initiator named (TargetName key) or about discovery sessions. */
struct login_target_info {
	struct target *target;           /* NULL for discovery */
	struct acl *acl;                 /* NULL in demo mode */
	bool auth_required;              /* CHAP must be negotiated */
	struct chap_cred chap;           /* expected initiator credentials */
	struct chap_cred mutual_chap;    /* target's own, if mutual CHAP */
	struct target_params params;     /* offered limits */
};

struct login_state;

struct login_callbacks {
	/* Resolve TargetName for InitiatorName. Returns 0 and fills info, or
	 * the login status to fail with (ISCSI_LOGIN_STATUS_NOT_FOUND,
	 * _FORBIDDEN, _TARGET_REMOVED). For discovery target_name is NULL. */
	uint16_t (*lookup)(void *arg, const char *target_name, const char *initiator_name,
			   struct login_target_info *info);
	/* The login is about to complete (the response that moves to full
	 * feature phase is being built). The connection layer creates or
	 * reinstates the session by the ISID/TSIH rules (RFC 7143 6.3.5) and
	 * returns 0 with *tsih set, or a login status to fail with. */
	uint16_t (*complete)(void *arg, struct login_state *ls, uint16_t *tsih);
	/* Fill len random bytes (CHAP challenges and identifiers). */
	void (*random)(void *arg, uint8_t *buf, unsigned len);
	/* Write the portal the initiator reached ("addr:port"): failed CHAP
	 * logins are counted per initiator and portal (login_backoff.h).
	 * NULL: no back-off. */
	void (*portal)(void *arg, char *buf, size_t len);
	/* Optional, for transports with keys of their own (iSER, RFC 7145
	 * section 6; fabric/iscsi/transport.h login_key and login_declare):
	 * negotiate_key sees every operational key before params.c and
	 * returns 0 (not the transport's), 1 (answered in rsp) or -1 with
	 * *status (fail the login); declare makes the target's receive-limit
	 * declaration instead of MaxRecvDataSegmentLength (13.12) when it
	 * returns true, setting *recv_dsl. NULL: RFC 7143 alone. */
	int (*negotiate_key)(void *arg, struct iscsi_session_params *params, const char *key,
			     const char *value, struct text_kv_list *rsp, uint16_t *status);
	bool (*declare)(void *arg, const struct iscsi_session_params *params,
			const struct target_params *offer, struct text_kv_list *rsp,
			uint32_t *recv_dsl);
	void *arg;
};

enum login_result {
	LOGIN_RESULT_CONTINUE,   /* send the response, expect another request */
	LOGIN_RESULT_COMPLETE,   /* send the response, enter full feature phase */
	LOGIN_RESULT_FAILED,     /* send the response (status != 0), close */
	LOGIN_RESULT_DROP,       /* protocol violation: close without a response */
};

/* The response the state machine built. data points into the state's own
 * buffer and stays valid until the next login_process() call. */
struct login_response {
	uint8_t bhs[48];
	const uint8_t *data;
	uint32_t data_len;
};

struct login_state;

struct login_state *login_state_create(const struct login_callbacks *cb);
void login_state_destroy(struct login_state *ls);

/* Answer the first Login Request with this failure status (e.g. 0x0302
 * Out of resources when the gateway serves its maximum of connections);
 * why must be a string that outlives the login (a literal). */
void login_refuse(struct login_state *ls, uint16_t status, const char *why);

/* Process one Login Request. stat_sn is the StatSN to put in the response
 * (the connection's); ExpCmdSN/MaxCmdSN come from the login's CmdSN and the
 * target's queue depth. Sets up the response
 * and returns what to do next. Handles request continuation (C bit) and
 * response continuation for long text. */
enum login_result login_process(struct login_state *ls, const uint8_t *bhs,
				const uint8_t *data, uint32_t data_len,
				uint32_t stat_sn, struct login_response *rsp);

/* After LOGIN_RESULT_COMPLETE (or at any point, for logging): */
enum login_session_type login_session_type(const struct login_state *ls);
const char *login_initiator_name(const struct login_state *ls);
const char *login_initiator_alias(const struct login_state *ls);
const struct login_target_info *login_target(const struct login_state *ls);
const struct iscsi_session_params *login_params(const struct login_state *ls);
/* ISID (6 bytes), TSIH and CID from the leading request. */
const uint8_t *login_isid(const struct login_state *ls);
uint16_t login_tsih(const struct login_state *ls);
uint16_t login_cid(const struct login_state *ls);
uint32_t login_initial_cmdsn(const struct login_state *ls);

#endif
