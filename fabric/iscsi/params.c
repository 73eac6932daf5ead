/* Operational text key negotiation (RFC 7143 6.2 and section 13). The
 * initiator proposes, we answer: list keys take the first value we support,
 * numerical keys the minimum or maximum of both sides, Boolean keys the AND
 * or OR; declarative keys are recorded. Values outside a key's range or
 * not of its syntax get "Reject" (6.2), keys we do not know "NotUnderstood"
 * (6.2), keys that do not apply to discovery sessions "Irrelevant" (6.2.2,
 * "Irrelevant when: SessionType=Discovery" in section 13).
 *
 * The login keys (InitiatorName, TargetName, SessionType, InitiatorAlias,
 * AuthMethod, CHAP_*) belong to login.c, which does not pass them here; if
 * they arrive here anyway (e.g. in a full-feature Text Request) they are
 * refused with "Reject". */
#include "params.h"

#include <stdio.h>
#include <string.h>

#include "iscsi_proto.h"

#define DSL_MIN 512u
#define DSL_MAX 16777215u      /* 2^24 - 1 (13.12-13.14) */
#define TIME2_MAX 3600u        /* 13.15, 13.16 */
#define OUR_ERROR_RECOVERY_LEVEL 0u
#define OUR_MAX_CONNECTIONS 1u
#define OUR_PROTOCOL_LEVEL 1u  /* RFC 7143 (13.24); no RFC 7144 features */

void iscsi_params_defaults(struct iscsi_session_params *p)
{
	/* the "Default is" of each key in section 13 */
	p->header_digest = false;
	p->data_digest = false;
	p->initiator_max_recv_dsl = 8192;
	p->target_max_recv_dsl = 8192;
	p->max_burst_length = 262144;
	p->first_burst_length = 65536;
	p->initial_r2t = true;
	p->immediate_data = true;
	p->max_outstanding_r2t = 1;
	p->data_pdu_in_order = true;
	p->data_sequence_in_order = true;
	p->default_time2wait = 2;
	p->default_time2retain = 20;
	p->error_recovery_level = 0;
	p->max_connections = 1;
}

struct negotiation {
	struct iscsi_session_params *params;
	const struct target_params *offer;
	struct text_kv_list *rsp;
	bool failed;                 /* out of memory */
};

static void answer(struct negotiation *n, const char *key, const char *value)
{
	if (text_kv_add(n->rsp, key, value) < 0)
		n->failed = true;
}

static void answer_number(struct negotiation *n, const char *key, uint32_t value)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%u", value);
	answer(n, key, buf);
}

/* 6.1 numerical-value: a decimal-constant or a hex-constant ("0x..."),
 * below 2^64. */
static int parse_number(const char *text, uint64_t *out)
{
	uint64_t v = 0;
	unsigned base = 10;
	const char *p = text;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	if (*p == '\0')
		return -1;
	for (; *p; p++) {
		unsigned digit;

		if (*p >= '0' && *p <= '9')
			digit = (unsigned)(*p - '0');
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			digit = (unsigned)(*p - 'a' + 10);
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			digit = (unsigned)(*p - 'A' + 10);
		else
			return -1;
		if (v > (UINT64_MAX - digit) / base)
			return -1;
		v = v * base + digit;
	}
	*out = v;
	return 0;
}

static int parse_bool(const char *text, bool *out)
{
	if (strcmp(text, "Yes") == 0)
		*out = true;
	else if (strcmp(text, "No") == 0)
		*out = false;
	else
		return -1;
	return 0;
}

static uint32_t clamp_u32(uint32_t v, uint32_t lo, uint32_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* 6.2.2 numerical negotiation: the answer is the minimum (or maximum) of
 * the offer and our own value, both within the key's range. */
static void negotiate_number(struct negotiation *n, const char *key, const char *value,
			     uint32_t lo, uint32_t hi, uint32_t ours, bool take_max,
			     uint32_t *result)
{
	uint64_t v;
	uint32_t r;

	if (parse_number(value, &v) < 0 || v < lo || v > hi) {
		answer(n, key, "Reject");
		return;
	}
	ours = clamp_u32(ours, lo, hi);
	r = take_max ? MAX((uint32_t)v, ours) : MIN((uint32_t)v, ours);
	*result = r;
	answer_number(n, key, r);
}

/* 6.2.2 Boolean negotiation: OR keys are Yes if either side says Yes, AND
 * keys only if both do. We always answer, which 6.2.2 allows. */
static void negotiate_bool(struct negotiation *n, const char *key, const char *value,
			   bool ours, bool is_or, bool *result)
{
	bool v;

	if (parse_bool(value, &v) < 0) {
		answer(n, key, "Reject");
		return;
	}
	*result = is_or ? (v || ours) : (v && ours);
	answer(n, key, *result ? "Yes" : "No");
}

/* 6.2.1 list negotiation: the first of the initiator's values that we
 * support wins; if none, "Reject". Items are compared whole. */
static bool list_pick(const char *list, const char *const *supported, unsigned nsupported,
		      const char **picked)
{
	const char *p = list;

	while (*p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		for (unsigned i = 0; i < nsupported; i++) {
			if (strlen(supported[i]) == len && strncmp(p, supported[i], len) == 0) {
				*picked = supported[i];
				return true;
			}
		}
		if (!comma)
			break;
		p = comma + 1;
	}
	return false;
}

/* 13.1 HeaderDigest / DataDigest: CRC32C when configured, None always. */
static void negotiate_digest(struct negotiation *n, const char *key, const char *value,
			     bool crc_allowed, bool *result)
{
	static const char *const with_crc[] = { "CRC32C", "None" };
	static const char *const without_crc[] = { "None" };
	const char *picked;

	if (!list_pick(value, crc_allowed ? with_crc : without_crc,
		       crc_allowed ? 2 : 1, &picked)) {
		answer(n, key, "Reject");
		return;
	}
	*result = strcmp(picked, "CRC32C") == 0;
	answer(n, key, picked);
}

/* --- one handler per key --------------------------------------------- */

static void key_header_digest(struct negotiation *n, const char *key, const char *value)
{
	negotiate_digest(n, key, value, n->offer->header_digest, &n->params->header_digest);
}

static void key_data_digest(struct negotiation *n, const char *key, const char *value)
{
	negotiate_digest(n, key, value, n->offer->data_digest, &n->params->data_digest);
}

/* 13.12: declarative; the initiator tells us how much it accepts per PDU.
 * No answer is due (our own value goes out via iscsi_params_declare()). */
static void key_max_recv_dsl(struct negotiation *n, const char *key, const char *value)
{
	uint64_t v;

	if (parse_number(value, &v) < 0 || v < DSL_MIN || v > DSL_MAX) {
		answer(n, key, "Reject");
		return;
	}
	n->params->initiator_max_recv_dsl = (uint32_t)v;
}

static void key_max_burst(struct negotiation *n, const char *key, const char *value)
{
	negotiate_number(n, key, value, DSL_MIN, DSL_MAX, n->offer->max_burst_length, false,
			 &n->params->max_burst_length);
}

/* 13.14: FirstBurstLength MUST NOT exceed MaxBurstLength; MaxBurstLength is
 * negotiated first (see iscsi_params_negotiate) so this can hold. */
static void key_first_burst(struct negotiation *n, const char *key, const char *value)
{
	uint32_t ours = MIN(n->offer->first_burst_length, n->params->max_burst_length);

	negotiate_number(n, key, value, DSL_MIN, DSL_MAX, ours, false,
			 &n->params->first_burst_length);
}

static void key_initial_r2t(struct negotiation *n, const char *key, const char *value)
{
	negotiate_bool(n, key, value, n->offer->initial_r2t, true, &n->params->initial_r2t);
}

static void key_immediate_data(struct negotiation *n, const char *key, const char *value)
{
	negotiate_bool(n, key, value, n->offer->immediate_data, false,
		       &n->params->immediate_data);
}

static void key_max_outstanding_r2t(struct negotiation *n, const char *key, const char *value)
{
	negotiate_number(n, key, value, 1, 65535, n->offer->max_outstanding_r2t, false,
			 &n->params->max_outstanding_r2t);
}

/* 13.18 / 13.19 (OR): we deliver and expect data in order, so Yes. */
static void key_data_pdu_in_order(struct negotiation *n, const char *key, const char *value)
{
	negotiate_bool(n, key, value, true, true, &n->params->data_pdu_in_order);
}

static void key_data_sequence_in_order(struct negotiation *n, const char *key, const char *value)
{
	negotiate_bool(n, key, value, true, true, &n->params->data_sequence_in_order);
}

/* 13.15: maximum of both sides. */
static void key_time2wait(struct negotiation *n, const char *key, const char *value)
{
	negotiate_number(n, key, value, 0, TIME2_MAX, n->offer->default_time2wait, true,
			 &n->params->default_time2wait);
}

/* 13.16: minimum of both sides. */
static void key_time2retain(struct negotiation *n, const char *key, const char *value)
{
	negotiate_number(n, key, value, 0, TIME2_MAX, n->offer->default_time2retain, false,
			 &n->params->default_time2retain);
}

/* 13.20: we implement error recovery level 0 only. */
static void key_error_recovery_level(struct negotiation *n, const char *key, const char *value)
{
	negotiate_number(n, key, value, 0, 2, OUR_ERROR_RECOVERY_LEVEL, false,
			 &n->params->error_recovery_level);
}

/* 13.2: one connection per session. */
static void key_max_connections(struct negotiation *n, const char *key, const char *value)
{
	negotiate_number(n, key, value, 1, 65535, OUR_MAX_CONNECTIONS, false,
			 &n->params->max_connections);
}

/* 13.23: only the RFC 3720 task reporting semantics. */
static void key_task_reporting(struct negotiation *n, const char *key, const char *value)
{
	static const char *const supported[] = { "RFC3720" };
	const char *picked;

	answer(n, key, list_pick(value, supported, 1, &picked) ? picked : "Reject");
}

/* 13.24: minimum of both sides; we are at level 1 (RFC 7143). */
static void key_protocol_level(struct negotiation *n, const char *key, const char *value)
{
	uint32_t level;

	negotiate_number(n, key, value, 0, 31, OUR_PROTOCOL_LEVEL, false, &level);
}

/* 13.25: the marker keys are obsolete; "Reject" is the answer RFC 7143
 * recommends for IFMarker/OFMarker and requires for the *MarkInt keys. */
static void key_reject(struct negotiation *n, const char *key, const char *value)
{
	(void)value;
	answer(n, key, "Reject");
}

struct key_handler {
	const char *name;
	void (*fn)(struct negotiation *n, const char *key, const char *value);
	bool irrelevant_in_discovery;   /* "Irrelevant when: SessionType=Discovery" */
};

static const struct key_handler key_handlers[] = {
	{ "HeaderDigest", key_header_digest, false },
	{ "DataDigest", key_data_digest, false },
	{ "MaxRecvDataSegmentLength", key_max_recv_dsl, false },
	{ "MaxBurstLength", key_max_burst, true },
	{ "FirstBurstLength", key_first_burst, true },
	{ "InitialR2T", key_initial_r2t, true },
	{ "ImmediateData", key_immediate_data, true },
	{ "MaxOutstandingR2T", key_max_outstanding_r2t, true },
	{ "DataPDUInOrder", key_data_pdu_in_order, true },
	{ "DataSequenceInOrder", key_data_sequence_in_order, true },
	{ "DefaultTime2Wait", key_time2wait, false },
	{ "DefaultTime2Retain", key_time2retain, false },
	{ "ErrorRecoveryLevel", key_error_recovery_level, false },
	{ "MaxConnections", key_max_connections, true },
	{ "TaskReporting", key_task_reporting, true },
	{ "iSCSIProtocolLevel", key_protocol_level, true },
	/* 13.25 obsolete keys */
	{ "IFMarker", key_reject, false },
	{ "OFMarker", key_reject, false },
	{ "IFMarkInt", key_reject, false },
	{ "OFMarkInt", key_reject, false },
	/* keys only the target sends (13.6, 13.8, 13.9) or only in full
	 * feature phase (13.3), and the login keys login.c consumes */
	{ "TargetAlias", key_reject, false },
	{ "TargetAddress", key_reject, false },
	{ "TargetPortalGroupTag", key_reject, false },
	{ "SendTargets", key_reject, false },
	{ "InitiatorName", key_reject, false },
	{ "InitiatorAlias", key_reject, false },
	{ "TargetName", key_reject, false },
	{ "SessionType", key_reject, false },
	{ "AuthMethod", key_reject, false },
	{ "CHAP_A", key_reject, false },
	{ "CHAP_I", key_reject, false },
	{ "CHAP_C", key_reject, false },
	{ "CHAP_N", key_reject, false },
	{ "CHAP_R", key_reject, false },
};

static const struct key_handler *find_handler(const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(key_handlers); i++)
		if (strcmp(key_handlers[i].name, key) == 0)
			return &key_handlers[i];
	return NULL;
}

static void negotiate_one(struct negotiation *n, bool discovery, const struct text_kv *kv)
{
	const struct key_handler *h = find_handler(kv->key);

	/* 6.2: unknown keys, and the X- / X# extension keys (13.22) we do not
	 * implement, are answered NotUnderstood. */
	if (!h)
		answer(n, kv->key, "NotUnderstood");
	else if (discovery && h->irrelevant_in_discovery)
		answer(n, kv->key, "Irrelevant");
	else
		h->fn(n, kv->key, kv->value);
}

int iscsi_params_negotiate(struct iscsi_session_params *params,
			   const struct target_params *offer, bool discovery,
			   const struct text_kv_list *req, struct text_kv_list *rsp,
			   uint16_t *status)
{
	struct negotiation n = { .params = params, .offer = offer, .rsp = rsp };

	/* 6.3: a key may be offered once per negotiation; a repeat is an
	 * initiator error. */
	for (unsigned i = 0; i < req->count; i++) {
		if (text_kv_count_key(req, req->items[i].key) > 1) {
			*status = ISCSI_LOGIN_STATUS_INITIATOR_ERROR;
			return -1;
		}
	}
	/* MaxBurstLength before FirstBurstLength, whatever their order (13.14) */
	for (unsigned i = 0; i < req->count; i++)
		if (strcmp(req->items[i].key, "MaxBurstLength") == 0)
			negotiate_one(&n, discovery, &req->items[i]);
	for (unsigned i = 0; i < req->count; i++)
		if (strcmp(req->items[i].key, "MaxBurstLength") != 0)
			negotiate_one(&n, discovery, &req->items[i]);
	/* A MaxBurstLength lowered in a later exchange still bounds 13.14. */
	if (params->first_burst_length > params->max_burst_length)
		params->first_burst_length = params->max_burst_length;
	if (n.failed) {
		*status = ISCSI_LOGIN_STATUS_OUT_OF_RESOURCES;
		return -1;
	}
	return 0;
}

void iscsi_params_declare(const struct iscsi_session_params *params,
			  const struct target_params *offer, struct text_kv_list *rsp)
{
	/* 13.12: our MaxRecvDataSegmentLength, declared once per connection.
	 * The target has no alias in the model, so no TargetAlias (13.6). */
	(void)params;
	text_kv_addf(rsp, "MaxRecvDataSegmentLength", "%u",
		     clamp_u32(offer->max_recv_data_segment_length, DSL_MIN, DSL_MAX));
}
