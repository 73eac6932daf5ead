/* The login keys of iSER (RFC 7145 section 6), negotiated before
 * params.c sees the rest (transport.h login_key / login_declare):
 *   RDMAExtensions=Yes            6.3: required on an iSER portal
 *   TargetRecvDataSegmentLength   6.5: what we receive per control PDU
 *                                 (Minimum with ISER_RECV_DSL, our
 *                                 receive buffers)
 *   InitiatorRecvDataSegmentLength 6.4: what we may send per control
 *                                 PDU (Minimum with ISER_SEND_DSL)
 *   MaxOutstandingUnexpectedPDUs  6.6: declarative; noted
 *   HeaderDigest, DataDigest      None: RDMA has its own integrity
 *                                 (7.2: no digests in iSER-assisted mode)
 *   MaxRecvDataSegmentLength      irrelevant in iSER-assisted mode (6.5):
 *                                 taken without an answer, not declared
 *   InitialR2T                    answered Yes (OR: the result is Yes):
 *                                 no unsolicited Data-Out PDUs, so the
 *                                 receive queue is the CmdSN window plus
 *                                 the unexpected PDUs, and write data
 *                                 beyond the immediate data is read by
 *                                 RDMA READ */
#include "iser.h"

#include <stdio.h>
#include <string.h>

#define DSL_MIN 512u
#define DSL_MAX 16777215u   /* 6.4, 6.5: 512 to 2^24-1 */

/* RFC 7143 6.1 numerical value: decimal or 0x-hex. */
static bool parse_u32(const char *s, uint32_t *out)
{
	uint64_t v = 0;
	int base = 10;

	if (!s || !*s)
		return false;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		if (!*s)
			return false;
	}
	for (; *s; s++) {
		int d;
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			return false;
		v = v * (uint64_t)base + (uint64_t)d;
		if (v > UINT32_MAX)
			return false;
	}
	*out = (uint32_t)v;
	return true;
}

static bool list_has(const char *list, const char *item)
{
	size_t n = strlen(item);

	for (const char *p = list; p && *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (len == n && !strncmp(p, item, n))
			return true;
		p = comma ? comma + 1 : NULL;
	}
	return false;
}

static int answer_dsl(struct text_kv_list *rsp, const char *key, const char *value, uint32_t ours,
		      uint32_t *result)
{
	uint32_t v;

	if (!parse_u32(value, &v) || v < DSL_MIN || v > DSL_MAX)
		return text_kv_add(rsp, key, "Reject") < 0 ? -1 : 1;
	*result = MIN(v, ours);
	return text_kv_addf(rsp, key, "%u", *result) < 0 ? -1 : 1;
}

int iser_login_key(struct iscsi_conn *conn, struct iscsi_session_params *params,
		   const char *key, const char *value, struct text_kv_list *rsp, uint16_t *status)
{
	struct iser_conn *ic = iser_of(conn);
	int r = 0;

	*status = ISCSI_LOGIN_STATUS_OUT_OF_RESOURCES;
	if (!strcmp(key, "RDMAExtensions")) {
		if (strcmp(value, "Yes") != 0) {
			/* 6.3: an iSER portal serves iSER-assisted connections only. */
			*status = ISCSI_LOGIN_STATUS_INITIATOR_ERROR;
			return -1;
		}
		ic->rdma_extensions = true;
		r = text_kv_add(rsp, key, "Yes") < 0 ? -1 : 1;
	} else if (!strcmp(key, "TargetRecvDataSegmentLength")) {
		r = answer_dsl(rsp, key, value, ISER_RECV_DSL, &params->target_max_recv_dsl);
	} else if (!strcmp(key, "InitiatorRecvDataSegmentLength")) {
		r = answer_dsl(rsp, key, value, ISER_SEND_DSL, &params->initiator_max_recv_dsl);
	} else if (!strcmp(key, "MaxOutstandingUnexpectedPDUs")) {
		uint32_t v;
		if (!parse_u32(value, &v) || v == 1)   /* 6.6: 0 or 2..2^32-1 */
			r = text_kv_add(rsp, key, "Reject") < 0 ? -1 : 1;
		else {
			ic->max_unexpected = v;
			r = 1;
		}
	} else if (!strcmp(key, "HeaderDigest") || !strcmp(key, "DataDigest")) {
		r = text_kv_add(rsp, key, list_has(value, "None") ? "None" : "Reject") < 0 ? -1 : 1;
		if (!strcmp(key, "HeaderDigest"))
			params->header_digest = false;
		else
			params->data_digest = false;
	} else if (!strcmp(key, "MaxRecvDataSegmentLength")) {
		r = 1;
	} else if (!strcmp(key, "InitialR2T")) {
		params->initial_r2t = true;
		r = text_kv_add(rsp, key, "Yes") < 0 ? -1 : 1;
	}
	return r;
}

/* Our receive limit is TargetRecvDataSegmentLength (6.5): negotiated if
 * the initiator offered it, else its default 8192, which is also
 * ISER_RECV_DSL. No MaxRecvDataSegmentLength goes out. */
bool iser_login_declare(struct iscsi_conn *conn, const struct iscsi_session_params *params,
			const struct target_params *offer, struct text_kv_list *rsp,
			uint32_t *recv_dsl)
{
	(void)conn;
	(void)offer;
	(void)rsp;
	*recv_dsl = MIN(params->target_max_recv_dsl, ISER_RECV_DSL);
	return true;
}
