/* The login phase (RFC 7143 6.3, 11.12, 11.13): a state machine fed one
 * Login Request at a time. It checks the request header, gathers text
 * continued over several requests (C bit), identifies the initiator and
 * target, runs security negotiation (AuthMethod, CHAP) and operational
 * negotiation (params.c), moves between stages with the T bit, splits long
 * answers over several responses (C bit), and asks the connection layer to
 * create the session when the initiator enters full feature phase. */
#include "login.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/log.h"
#include "../../gateway/util.h"
#include "chap.h"
#include "iscsi_proto.h"
#include "login_backoff.h"
#include "pdu.h"

#define LOGIN_MAX_REQUESTS    64       /* a login that takes longer is stuck */
#define LOGIN_MAX_TEXT        65536    /* key=value bytes gathered over C-bit requests;
					* 6.1 asks for at least 8192 */
#define LOGIN_RSP_SEGMENT_MAX 8192     /* 13.12: the default MaxRecvDataSegmentLength
					* applies while logging in */
#define ALIAS_MAX             256

enum auth_state {
	AUTH_UNDECIDED,     /* no AuthMethod agreed yet */
	AUTH_CHAP,          /* CHAP agreed, exchange under way (see chap.step) */
	AUTH_DONE,          /* None agreed, or the initiator passed CHAP */
};

struct login_state {
	struct login_callbacks cb;
	bool finished;                   /* the last response (success or failure) is out */
	unsigned requests;
	uint16_t refuse_status;          /* login_refuse(): answer the first request with it */
	const char *refuse_why;

	/* From the first request; later ones must agree (11.12). */
	bool have_first;
	uint8_t isid[6];
	uint16_t tsih;
	uint16_t cid;
	uint32_t cmdsn;
	uint8_t version_max, version_min;

	uint8_t stage;                   /* the CSG the next request must carry */
	bool identified;                 /* names read and target looked up */
	enum login_session_type type;
	char initiator_name[ISCSI_NAME_MAX];
	char initiator_alias[ALIAS_MAX];
	char target_name[ISCSI_NAME_MAX];
	struct login_target_info info;
	enum auth_state auth;
	struct chap_exchange chap;
	char why_buf[160];               /* a failure reason with numbers in it */
	struct iscsi_session_params params;
	bool declared;                   /* our MaxRecvDataSegmentLength went out */
	struct text_kv_list seen;        /* every key the initiator sent (6.3) */

	/* Request text continued with the C bit. */
	uint8_t *req_text;
	uint32_t req_len;

	/* Response text too long for one PDU, sent in pieces with the C bit;
	 * the T bit and NSG go with the last piece. */
	uint8_t *rsp_text;
	uint32_t rsp_len, rsp_sent;
	bool rsp_transit;
	uint8_t rsp_nsg;
};

struct login_state *login_state_create(const struct login_callbacks *cb)
{
	struct login_state *ls = calloc(1, sizeof(*ls));

	if (!ls)
		return NULL;
	ls->cb = *cb;
	ls->type = SESSION_NORMAL;
	ls->auth = AUTH_UNDECIDED;
	chap_exchange_init(&ls->chap);
	iscsi_params_defaults(&ls->params);
	text_kv_init(&ls->seen);
	return ls;
}

void login_state_destroy(struct login_state *ls)
{
	if (!ls)
		return;
	text_kv_free(&ls->seen);
	free(ls->req_text);
	free(ls->rsp_text);
	chap_exchange_clear(&ls->chap);
	explicit_bzero(&ls->info, sizeof(ls->info));   /* CHAP secrets */
	free(ls);
}

/* --- responses ---------------------------------------------------------- */

/* 11.13: the fields every Login Response carries. */
static void response_header(const uint8_t *req, uint32_t stat_sn, struct login_response *rsp)
{
	bhs_init(rsp->bhs, ISCSI_OP_LOGIN_RSP);
	rsp->bhs[2] = 0;                           /* Version-max */
	rsp->bhs[3] = 0;                           /* Version-active */
	memcpy(rsp->bhs + 8, req + 8, 6);          /* ISID */
	memcpy(rsp->bhs + 14, req + 14, 2);        /* TSIH as sent, until the final response */
	memcpy(rsp->bhs + 16, req + 16, 4);        /* Initiator Task Tag */
	put_be32(rsp->bhs + 24, stat_sn);
	rsp->data = NULL;
	rsp->data_len = 0;
}

/* ExpCmdSN and MaxCmdSN: login requests are immediate (11.12), so the
 * leading request's CmdSN is still the next one expected; the window is the
 * target's queue depth once the target is known. */
static void set_command_window(const struct login_state *ls, const uint8_t *req,
			       struct login_response *rsp)
{
	uint32_t exp = ls->have_first ? ls->cmdsn : bhs_cmdsn(req);
	uint32_t window = 1;

	if (ls->identified && ls->info.params.queue_depth > 1)
		window = ls->info.params.queue_depth;
	put_be32(rsp->bhs + 28, exp);
	put_be32(rsp->bhs + 32, exp + window - 1);
}

static void set_stages(struct login_response *rsp, bool transit, bool cont, uint8_t csg,
		       uint8_t nsg)
{
	rsp->bhs[1] = (uint8_t)((transit ? ISCSI_LOGIN_TRANSIT : 0) |
				(cont ? ISCSI_LOGIN_CONTINUE : 0) |
				(csg << 2) | (transit ? nsg : 0));
}

/* A Login Response with a non-zero status ends the login; the connection
 * is closed after it (11.13). */
static enum login_result fail(struct login_state *ls, struct login_response *rsp,
			      uint16_t status, const char *why)
{
	log_warn("iSCSI login from '%s' to '%s' failed (status 0x%04x): %s",
		 ls->initiator_name, ls->type == SESSION_DISCOVERY ? "(discovery)" : ls->target_name,
		 status, why);
	rsp->bhs[1] = 0;
	bhs_set_data_len(rsp->bhs, 0);
	rsp->bhs[36] = (uint8_t)(status >> 8);     /* Status-Class */
	rsp->bhs[37] = (uint8_t)status;            /* Status-Detail */
	rsp->data = NULL;
	rsp->data_len = 0;
	ls->finished = true;
	return LOGIN_RESULT_FAILED;
}

/* The initiator enters full feature phase: the connection layer creates
 * (or joins) the session and gives us its TSIH for the final response. */
static enum login_result complete(struct login_state *ls, struct login_response *rsp)
{
	uint16_t tsih = 0, status;

	status = ls->cb.complete ? ls->cb.complete(ls->cb.arg, ls, &tsih) : 0;
	if (status)
		return fail(ls, rsp, status, "session could not be created or joined");
	put_be16(rsp->bhs + 14, tsih);
	ls->finished = true;
	ls->stage = ISCSI_STAGE_FULL_FEATURE;
	/* The session layer logs the new session with its address. */
	return LOGIN_RESULT_COMPLETE;
}

/* Send the next piece of the response text: C=1 while more remains
 * (11.13), then the decided T bit and NSG with the last piece. */
static enum login_result send_text_piece(struct login_state *ls, struct login_response *rsp)
{
	uint32_t piece = MIN(ls->rsp_len - ls->rsp_sent, (uint32_t)LOGIN_RSP_SEGMENT_MAX);

	rsp->data = ls->rsp_text + ls->rsp_sent;
	rsp->data_len = piece;
	bhs_set_data_len(rsp->bhs, piece);
	ls->rsp_sent += piece;
	if (ls->rsp_sent < ls->rsp_len) {
		set_stages(rsp, false, true, ls->stage, 0);
		return LOGIN_RESULT_CONTINUE;
	}
	set_stages(rsp, ls->rsp_transit, false, ls->stage, ls->rsp_nsg);
	if (!ls->rsp_transit)
		return LOGIN_RESULT_CONTINUE;
	if (ls->rsp_nsg == ISCSI_STAGE_FULL_FEATURE)
		return complete(ls, rsp);
	ls->stage = ls->rsp_nsg;
	return LOGIN_RESULT_CONTINUE;
}

/* --- request header checks --------------------------------------------- */

/* Returns 0 or the status to fail with; *why names the problem. */
static uint16_t check_header(struct login_state *ls, const uint8_t *bhs, const char **why)
{
	bool transit = bhs[1] & ISCSI_LOGIN_TRANSIT, cont = bhs[1] & ISCSI_LOGIN_CONTINUE;
	uint8_t csg = ISCSI_LOGIN_CSG(bhs[1]), nsg = ISCSI_LOGIN_NSG(bhs[1]);

	if (!ls->have_first) {
		/* 11.12: we speak version 0 only; a Version-min above it fails. */
		if (bhs[3] > 0 || bhs[2] < bhs[3]) {
			*why = "unsupported iSCSI version";
			return ISCSI_LOGIN_STATUS_UNSUPPORTED_VERSION;
		}
		if (csg != ISCSI_STAGE_SECURITY && csg != ISCSI_STAGE_OPERATIONAL) {
			*why = "login must start in the security or operational stage";
			return ISCSI_LOGIN_STATUS_INVALID_REQUEST;
		}
		ls->have_first = true;
		memcpy(ls->isid, bhs + 8, 6);
		ls->tsih = get_be16(bhs + 14);
		ls->cid = get_be16(bhs + 20);
		ls->cmdsn = bhs_cmdsn(bhs);
		ls->version_max = bhs[2];
		ls->version_min = bhs[3];
		ls->stage = csg;
	} else if (memcmp(ls->isid, bhs + 8, 6) != 0 || ls->tsih != get_be16(bhs + 14) ||
		   ls->cid != get_be16(bhs + 20) || ls->version_max != bhs[2] ||
		   ls->version_min != bhs[3]) {
		/* 11.12: ISID, TSIH, CID and the versions stay the same
		 * throughout the login phase. */
		*why = "ISID, TSIH, CID or version changed during login";
		return ISCSI_LOGIN_STATUS_INVALID_REQUEST;
	}
	/* 11.12: a request with C=1 must have T=0. */
	if (transit && cont) {
		*why = "T and C bits both set";
		return ISCSI_LOGIN_STATUS_INVALID_REQUEST;
	}
	if (csg != ls->stage) {
		*why = "CSG does not match the current login stage";
		return ISCSI_LOGIN_STATUS_INVALID_REQUEST;
	}
	/* 6.3, 11.12: stages only move forward; 2 is reserved. */
	if (transit && (nsg == 2 || nsg <= csg)) {
		*why = "invalid NSG";
		return ISCSI_LOGIN_STATUS_INVALID_REQUEST;
	}
	return 0;
}

/* --- key handling ------------------------------------------------------- */

static bool is_security_key(const char *key)
{
	return strcmp(key, "AuthMethod") == 0 || strncmp(key, "CHAP_", 5) == 0;
}

/* Keys login.c consumes itself; everything else goes to params.c. */
static bool is_login_key(const char *key)
{
	return strcmp(key, "InitiatorName") == 0 || strcmp(key, "TargetName") == 0 ||
	       strcmp(key, "SessionType") == 0 || strcmp(key, "InitiatorAlias") == 0 ||
	       is_security_key(key);
}

/* 6.3: a key may not be declared or negotiated twice in a login. */
static int remember_keys(struct login_state *ls, const struct text_kv_list *req,
			 const char **dup)
{
	for (unsigned i = 0; i < req->count; i++) {
		if (text_kv_get(&ls->seen, req->items[i].key)) {
			*dup = req->items[i].key;
			return -1;
		}
		if (text_kv_add(&ls->seen, req->items[i].key, "") < 0) {
			*dup = NULL;
			return -1;
		}
	}
	return 0;
}

/* The first complete request names the initiator, the session type and
 * the target (13.4, 13.5, 13.21); the connection layer says whether the
 * target exists and this initiator may use it. */
static uint16_t identify(struct login_state *ls, const struct text_kv_list *req,
			 struct text_kv_list *out, const char **why)
{
	const char *initiator = text_kv_get(req, "InitiatorName");
	const char *type = text_kv_get(req, "SessionType");
	const char *target = text_kv_get(req, "TargetName");
	uint16_t status;

	if (!initiator || !*initiator) {
		*why = "InitiatorName missing";
		return ISCSI_LOGIN_STATUS_MISSING_PARAMETER;
	}
	if (strlen(initiator) >= sizeof(ls->initiator_name)) {
		*why = "InitiatorName too long";
		return ISCSI_LOGIN_STATUS_INITIATOR_ERROR;
	}
	str_copy(ls->initiator_name, initiator, sizeof(ls->initiator_name));
	if (!type || strcmp(type, "Normal") == 0) {
		ls->type = SESSION_NORMAL;          /* 13.21: Normal is the default */
	} else if (strcmp(type, "Discovery") == 0) {
		ls->type = SESSION_DISCOVERY;
	} else {
		*why = "unknown SessionType";
		return ISCSI_LOGIN_STATUS_SESSION_TYPE_UNSUPPORTED;
	}
	if (ls->type == SESSION_NORMAL) {
		if (!target || !*target) {
			*why = "TargetName missing in a normal session";
			return ISCSI_LOGIN_STATUS_MISSING_PARAMETER;
		}
		if (strlen(target) >= sizeof(ls->target_name)) {
			*why = "TargetName too long";
			return ISCSI_LOGIN_STATUS_NOT_FOUND;
		}
		str_copy(ls->target_name, target, sizeof(ls->target_name));
	}
	if (!ls->cb.lookup) {
		*why = "no target lookup";
		return ISCSI_LOGIN_STATUS_TARGET_ERROR;
	}
	status = ls->cb.lookup(ls->cb.arg, ls->type == SESSION_NORMAL ? ls->target_name : NULL,
			       ls->initiator_name, &ls->info);
	if (status) {
		*why = "target lookup refused the login";
		return status;
	}
	ls->identified = true;
	/* 13.9: the target portal group tag goes back in the response to the
	 * first complete request that named a target. */
	if (ls->type == SESSION_NORMAL && ls->info.target &&
	    text_kv_addf(out, "TargetPortalGroupTag", "%u", ls->info.target->tpgt) < 0) {
		*why = "out of memory";
		return ISCSI_LOGIN_STATUS_OUT_OF_RESOURCES;
	}
	return 0;
}

/* 12.1 AuthMethod list negotiation: the first method of the initiator's
 * list that we accept. CHAP is accepted when required or configured, None
 * only when authentication is not required. */
static const char *pick_auth_method(const struct login_state *ls, const char *list)
{
	const char *p = list;
	bool chap_ok = ls->info.auth_required || ls->info.chap.set;
	bool none_ok = !ls->info.auth_required;

	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		if (chap_ok && len == 4 && strncmp(p, "CHAP", 4) == 0)
			return "CHAP";
		if (none_ok && len == 4 && strncmp(p, "None", 4) == 0)
			return "None";
		if (!comma)
			return NULL;
		p = comma + 1;
	}
}

/* The failed-login back-off (login_backoff.h) is kept per initiator and
 * the portal it reached; without a portal callback there is none. */
static bool backoff_portal(const struct login_state *ls, char *portal, size_t len)
{
	if (!ls->cb.portal)
		return false;
	ls->cb.portal(ls->cb.arg, portal, len);
	return true;
}

/* Refuse a CHAP exchange while the pair is locked out. */
static bool backoff_refuses(struct login_state *ls, const char **why)
{
	char portal[LOGIN_BACKOFF_PORTAL_MAX];
	uint64_t left;

	if (!backoff_portal(ls, portal, sizeof(portal)))
		return false;
	left = login_backoff_remaining(login_backoff_table(), ls->initiator_name, portal, now_ms());
	if (!left)
		return false;
	snprintf(ls->why_buf, sizeof(ls->why_buf),
		 "too many failed CHAP logins to portal %s: refused for %llu ms more", portal,
		 (unsigned long long)left);
	*why = ls->why_buf;
	return true;
}

static void backoff_result(struct login_state *ls, bool ok)
{
	char portal[LOGIN_BACKOFF_PORTAL_MAX];
	uint64_t lock_ms;

	if (!backoff_portal(ls, portal, sizeof(portal)))
		return;
	if (ok) {
		login_backoff_succeeded(login_backoff_table(), ls->initiator_name, portal);
		return;
	}
	lock_ms = login_backoff_failed(login_backoff_table(), ls->initiator_name, portal, now_ms());
	if (lock_ms)
		log_warn("iSCSI login: repeated CHAP failures from '%s' to portal %s: its logins there "
			 "are refused for %llu s", ls->initiator_name, portal,
			 (unsigned long long)(lock_ms + 999) / 1000);
}

/* Security stage keys (12.1, 12.1.3). Returns 0 or a status. */
static uint16_t security_keys(struct login_state *ls, const struct text_kv_list *req,
			      struct text_kv_list *out, const char **why)
{
	const char *method = text_kv_get(req, "AuthMethod");
	const char *chap_a = text_kv_get(req, "CHAP_A");
	bool chap_answer = text_kv_get(req, "CHAP_N") || text_kv_get(req, "CHAP_R") ||
			   text_kv_get(req, "CHAP_I") || text_kv_get(req, "CHAP_C");
	bool chose_chap_now = false;

	if (method) {
		const char *picked = pick_auth_method(ls, method);

		if (!picked) {
			*why = ls->info.auth_required ? "CHAP required but not offered"
						      : "no acceptable AuthMethod offered";
			return ISCSI_LOGIN_STATUS_AUTH_FAILED;
		}
		if (text_kv_add(out, "AuthMethod", picked) < 0) {
			*why = "out of memory";
			return ISCSI_LOGIN_STATUS_OUT_OF_RESOURCES;
		}
		if (strcmp(picked, "CHAP") == 0) {
			ls->auth = AUTH_CHAP;
			chose_chap_now = true;
		} else {
			ls->auth = AUTH_DONE;
		}
	}
	if ((chap_a || chap_answer) && ls->auth != AUTH_CHAP) {
		*why = "CHAP keys without AuthMethod=CHAP";
		return ISCSI_LOGIN_STATUS_INITIATOR_ERROR;
	}
	if (chap_a && chap_answer) {
		*why = "CHAP_A and the CHAP response in one request";
		return ISCSI_LOGIN_STATUS_AUTH_FAILED;
	}
	if (chap_a) {
		if (backoff_refuses(ls, why))
			return ISCSI_LOGIN_STATUS_AUTH_FAILED;
		if (chap_target_challenge(&ls->chap, chap_a, ls->info.params.chap_algorithms,
					  ls->cb.random, ls->cb.arg, out, why) < 0)
			return ISCSI_LOGIN_STATUS_AUTH_FAILED;
	} else if (chap_answer) {
		if (chap_target_verify(&ls->chap, req, &ls->info.chap, &ls->info.mutual_chap, out,
				       why) < 0) {
			backoff_result(ls, false);
			return ISCSI_LOGIN_STATUS_AUTH_FAILED;
		}
		backoff_result(ls, true);
		log_info("iSCSI login: '%s' passed %sCHAP with %s (CHAP_A=%u)", ls->initiator_name,
			 text_kv_get(req, "CHAP_C") ? "mutual " : "",
			 chap_algorithm_name(ls->chap.algorithm), ls->chap.algorithm);
		ls->auth = AUTH_DONE;
	} else if (ls->auth == AUTH_CHAP && !chose_chap_now) {
		/* CHAP is under way and the request does not carry its next step */
		*why = "CHAP exchange abandoned";
		return ISCSI_LOGIN_STATUS_AUTH_FAILED;
	}
	return 0;
}

/* Every key of one complete request. Sets *transit when we agree to move
 * to the initiator's NSG. Returns 0 or a status. */
static uint16_t handle_keys(struct login_state *ls, const struct text_kv_list *req,
			    bool want_transit, uint8_t nsg, struct text_kv_list *out,
			    bool *transit, const char **why)
{
	struct text_kv_list ops;
	const char *dup = NULL, *alias;
	uint16_t status = 0;
	bool security_stage = ls->stage == ISCSI_STAGE_SECURITY;

	*transit = false;
	if (remember_keys(ls, req, &dup) < 0) {
		*why = dup ? "a key was sent twice" : "out of memory";
		if (dup)
			log_debug("iSCSI login: key '%s' sent twice", dup);
		return dup ? ISCSI_LOGIN_STATUS_INITIATOR_ERROR : ISCSI_LOGIN_STATUS_OUT_OF_RESOURCES;
	}
	if (!ls->identified) {
		status = identify(ls, req, out, why);
		if (status)
			return status;
	} else if (text_kv_get(req, "InitiatorName") || text_kv_get(req, "TargetName") ||
		   text_kv_get(req, "SessionType")) {
		/* 13.4, 13.5, 13.21: these come with the first request only */
		*why = "InitiatorName, TargetName or SessionType after the first request";
		return ISCSI_LOGIN_STATUS_INITIATOR_ERROR;
	}
	alias = text_kv_get(req, "InitiatorAlias");      /* 13.7, declarative */
	if (alias)
		str_copy(ls->initiator_alias, alias, sizeof(ls->initiator_alias));

	if (security_stage) {
		status = security_keys(ls, req, out, why);
		if (status)
			return status;
	} else {
		for (unsigned i = 0; i < req->count; i++) {
			if (is_security_key(req->items[i].key)) {
				*why = "security keys in the operational stage";
				return ISCSI_LOGIN_STATUS_INITIATOR_ERROR;
			}
		}
		/* 6.3: skipping the security stage is only for targets that
		 * need no authentication. */
		if (ls->auth != AUTH_DONE) {
			if (ls->info.auth_required) {
				*why = "authentication required but the security stage was skipped";
				return ISCSI_LOGIN_STATUS_AUTH_FAILED;
			}
			ls->auth = AUTH_DONE;
		}
	}

	/* Operational keys, in either stage (some initiators, libiscsi among
	 * them, send digests with their first security-stage request). */
	text_kv_init(&ops);
	for (unsigned i = 0; i < req->count; i++) {
		const struct text_kv *kv = &req->items[i];

		if (is_login_key(kv->key))
			continue;
		if (ls->cb.negotiate_key) {
			/* the transport's own keys first (RFC 7145 section 6) */
			int r = ls->cb.negotiate_key(ls->cb.arg, &ls->params, kv->key, kv->value,
						     out, &status);
			if (r < 0) {
				text_kv_free(&ops);
				*why = "the transport refused a key";
				return status;
			}
			if (r > 0)
				continue;
		}
		if (text_kv_add(&ops, kv->key, kv->value) < 0) {
			text_kv_free(&ops);
			*why = "out of memory";
			return ISCSI_LOGIN_STATUS_OUT_OF_RESOURCES;
		}
	}
	if (iscsi_params_negotiate(&ls->params, &ls->info.params,
				   ls->type == SESSION_DISCOVERY, &ops, out, &status) < 0) {
		*why = "operational negotiation failed";
		text_kv_free(&ops);
		return status;
	}

	if (want_transit && security_stage && ls->auth == AUTH_UNDECIDED) {
		/* 12.1: AuthMethod defaults to None, which only open targets accept */
		if (ls->info.auth_required) {
			*why = "authentication required but no AuthMethod offered";
			text_kv_free(&ops);
			return ISCSI_LOGIN_STATUS_AUTH_FAILED;
		}
		ls->auth = AUTH_DONE;
	}
	/* The security stage ends only once the initiator is authenticated;
	 * until then we answer T=0 and the initiator stays (6.3). */
	*transit = want_transit && ls->auth == AUTH_DONE;

	/* 13.12: declare our MaxRecvDataSegmentLength once, with the first
	 * operational answers, in the operational stage, or at the latest in
	 * the response that enters full feature phase. */
	if (!ls->declared && (!security_stage || ops.count > 0 ||
			      (*transit && nsg == ISCSI_STAGE_FULL_FEATURE))) {
		const char *declared;
		uint32_t recv_dsl;

		if (ls->cb.declare &&
		    ls->cb.declare(ls->cb.arg, &ls->params, &ls->info.params, out, &recv_dsl)) {
			ls->params.target_max_recv_dsl = recv_dsl;
			ls->declared = true;
			text_kv_free(&ops);
			return 0;
		}
		iscsi_params_declare(&ls->params, &ls->info.params, out);
		declared = text_kv_get(out, "MaxRecvDataSegmentLength");
		if (!declared) {
			*why = "out of memory";
			text_kv_free(&ops);
			return ISCSI_LOGIN_STATUS_OUT_OF_RESOURCES;
		}
		ls->params.target_max_recv_dsl = (uint32_t)strtoul(declared, NULL, 10);
		ls->declared = true;
	}
	text_kv_free(&ops);
	return 0;
}

/* --- the entry point ---------------------------------------------------- */

static int append_request_text(struct login_state *ls, const uint8_t *data, uint32_t len)
{
	uint8_t *buf;

	if (len == 0)
		return 0;
	if (len > LOGIN_MAX_TEXT - ls->req_len)
		return -1;
	buf = realloc(ls->req_text, ls->req_len + len);
	if (!buf)
		return -1;
	memcpy(buf + ls->req_len, data, len);
	ls->req_text = buf;
	ls->req_len += len;
	return 0;
}

static enum login_result process_request(struct login_state *ls, const uint8_t *bhs,
					 const uint8_t *data, uint32_t data_len,
					 struct login_response *rsp)
{
	struct text_kv_list req, out;
	bool want_transit, transit;
	uint8_t nsg;
	uint16_t status;
	const char *why = "";

	/* 6.3: only Login Requests until the login phase is over. */
	if (bhs_opcode(bhs) != ISCSI_OP_LOGIN_REQ)
		return fail(ls, rsp, ISCSI_LOGIN_STATUS_INVALID_REQUEST, "not a Login Request");
	if (ls->refuse_status)
		return fail(ls, rsp, ls->refuse_status, ls->refuse_why);
	if (++ls->requests > LOGIN_MAX_REQUESTS)
		return fail(ls, rsp, ISCSI_LOGIN_STATUS_INITIATOR_ERROR, "too many login requests");
	status = check_header(ls, bhs, &why);
	if (status)
		return fail(ls, rsp, status, why);
	want_transit = bhs[1] & ISCSI_LOGIN_TRANSIT;
	nsg = ISCSI_LOGIN_NSG(bhs[1]);

	/* 11.13: while our answer is continued, the initiator sends empty
	 * requests to fetch the rest. */
	if (ls->rsp_sent < ls->rsp_len) {
		if (data_len || (bhs[1] & ISCSI_LOGIN_CONTINUE))
			return fail(ls, rsp, ISCSI_LOGIN_STATUS_INVALID_REQUEST,
				    "text sent while a response was being continued");
		return send_text_piece(ls, rsp);
	}

	/* 11.12: text continued with C=1 is gathered, and each piece gets an
	 * empty response, until the request that completes it. */
	if (append_request_text(ls, data, data_len) < 0)
		return fail(ls, rsp, ISCSI_LOGIN_STATUS_OUT_OF_RESOURCES, "login text too long");
	if (bhs[1] & ISCSI_LOGIN_CONTINUE) {
		set_stages(rsp, false, false, ls->stage, 0);
		return LOGIN_RESULT_CONTINUE;
	}

	text_kv_init(&req);
	if (text_kv_parse(&req, ls->req_text, ls->req_len) < 0) {
		text_kv_free(&req);
		return fail(ls, rsp, ISCSI_LOGIN_STATUS_INITIATOR_ERROR, "malformed key=value text");
	}
	free(ls->req_text);
	ls->req_text = NULL;
	ls->req_len = 0;

	text_kv_init(&out);
	status = handle_keys(ls, &req, want_transit, nsg, &out, &transit, &why);
	text_kv_free(&req);
	if (status) {
		text_kv_free(&out);
		return fail(ls, rsp, status, why);
	}
	ls->rsp_text = text_kv_format(&out, &ls->rsp_len);
	text_kv_free(&out);
	if (!ls->rsp_text)
		return fail(ls, rsp, ISCSI_LOGIN_STATUS_OUT_OF_RESOURCES, "out of memory");
	ls->rsp_sent = 0;
	ls->rsp_transit = transit;
	ls->rsp_nsg = nsg;
	return send_text_piece(ls, rsp);
}

void login_refuse(struct login_state *ls, uint16_t status, const char *why)
{
	ls->refuse_status = status;
	ls->refuse_why = why;
}

enum login_result login_process(struct login_state *ls, const uint8_t *bhs,
				const uint8_t *data, uint32_t data_len,
				uint32_t stat_sn, struct login_response *rsp)
{
	enum login_result result;

	response_header(bhs, stat_sn, rsp);
	if (ls->finished)
		return LOGIN_RESULT_DROP;
	/* The previous response's text has been sent by now. */
	if (ls->rsp_text && ls->rsp_sent == ls->rsp_len) {
		free(ls->rsp_text);
		ls->rsp_text = NULL;
		ls->rsp_len = ls->rsp_sent = 0;
	}
	result = process_request(ls, bhs, data, data_len, rsp);
	set_command_window(ls, bhs, rsp);
	return result;
}

/* --- accessors ---------------------------------------------------------- */

enum login_session_type login_session_type(const struct login_state *ls)
{
	return ls->type;
}

const char *login_initiator_name(const struct login_state *ls)
{
	return ls->initiator_name;
}

const char *login_initiator_alias(const struct login_state *ls)
{
	return ls->initiator_alias;
}

const struct login_target_info *login_target(const struct login_state *ls)
{
	return &ls->info;
}

const struct iscsi_session_params *login_params(const struct login_state *ls)
{
	return &ls->params;
}

const uint8_t *login_isid(const struct login_state *ls)
{
	return ls->isid;
}

uint16_t login_tsih(const struct login_state *ls)
{
	return ls->tsih;
}

uint16_t login_cid(const struct login_state *ls)
{
	return ls->cid;
}

uint32_t login_initial_cmdsn(const struct login_state *ls)
{
	return ls->cmdsn;
}
