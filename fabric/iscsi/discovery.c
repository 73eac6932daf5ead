/* Text requests (RFC 7143 11.10-11.11) and SendTargets discovery
 * (Appendix C): list the targets this initiator may access, with every
 * portal address, and nothing else. */
#include "iscsi.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/log.h"
#include "text_keys.h"

static void format_address(const struct iscsi_conn *conn, const struct portal *portal,
			   uint16_t tpgt, char *out, size_t len)
{
	char host[64];
	bool wildcard = !strcmp(portal->addr, "0.0.0.0") || !strcmp(portal->addr, "::") ||
			portal->addr[0] == '\0';

	str_copy(host, portal->addr, sizeof(host));
	if (wildcard) {
		/* A wildcard portal is reached at the address this
		 * connection came in on. */
		const struct sockaddr_storage *ss = &conn->local_addr;
		if (ss->ss_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, host, sizeof(host));
		else
			inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, host, sizeof(host));
	}
	if (strchr(host, ':'))
		snprintf(out, len, "[%s]:%u,%u", host, portal->port, tpgt);
	else
		snprintf(out, len, "%s:%u,%u", host, portal->port, tpgt);
}

/* Every portal's address once: a TCP and an iSER portal on the same
 * address and port are one TargetAddress (the initiator picks the
 * transport: RFC 7145 5.1, open-iscsi's "-I iser"). */
static void add_target(struct iscsi_conn *conn, struct text_kv_list *rsp, struct target *t)
{
	struct portal *portal, *before;
	char addr[128], other[128];

	text_kv_add(rsp, "TargetName", t->iqn);
	TAILQ_FOREACH(portal, &the_gateway->portals, link) {
		bool listed = false;

		if (portal->transport == PORTAL_FCOE)
			continue;   /* an Ethernet interface, not an iSCSI address */
		format_address(conn, portal, t->tpgt, addr, sizeof(addr));
		for (before = TAILQ_FIRST(&the_gateway->portals); before != portal && !listed;
		     before = TAILQ_NEXT(before, link)) {
			format_address(conn, before, t->tpgt, other, sizeof(other));
			listed = !strcmp(addr, other);
		}
		if (!listed)
			text_kv_add(rsp, "TargetAddress", addr);
	}
}

static void send_targets(struct iscsi_conn *conn, const char *which, struct text_kv_list *rsp)
{
	struct iscsi_session *sess = conn->sess;
	struct target *t;
	struct acl *acl;

	if (sess->type == SESSION_NORMAL) {
		/* Appendix C: in a normal session, only the session's target
		 * ("" or its own name or All). */
		if (!*which || !strcmp(which, "All") || !strcasecmp(which, sess->target->iqn))
			add_target(conn, rsp, sess->target);
		return;
	}
	TAILQ_FOREACH(t, &the_gateway->targets, link) {
		if (strcmp(which, "All") != 0 && strcasecmp(which, t->iqn) != 0)
			continue;
		/* Hide targets this initiator may not log in to. */
		if (!target_allows(t, sess->initiator_name, &acl))
			continue;
		add_target(conn, rsp, t);
	}
}

static void send_text_chunk(struct iscsi_conn *conn, uint32_t itt, bool immediate)
{
	uint32_t max = conn->sess->params.initiator_max_recv_dsl;
	uint32_t left = conn->text_rsp_len - conn->text_rsp_sent;
	uint32_t len = MIN(left, max ? max : 8192);
	struct tx_pdu *pdu = conn_new_pdu(conn);
	bool last = len == left;

	if (!immediate)
		session_window_release(conn->sess);
	if (!pdu)
		return;
	bhs_init(pdu->hdr, ISCSI_OP_TEXT_RSP);
	put_be32(pdu->hdr + 16, itt);
	if (last) {
		pdu->hdr[1] = ISCSI_FLAG_FINAL;
		put_be32(pdu->hdr + 20, ISCSI_RESERVED_TAG);
	} else {
		pdu->hdr[1] = 0x40;   /* C: more follows (11.11.1) */
		conn->text_ttt = conn->ttt_next++ | 0x40000000u;
		put_be32(pdu->hdr + 20, conn->text_ttt);
	}
	if (len) {
		pdu->owned = malloc(len);
		if (!pdu->owned) {
			free(pdu);
			return;
		}
		memcpy(pdu->owned, conn->text_rsp + conn->text_rsp_sent, len);
		pdu->data = pdu->owned;
		pdu->data_len = len;
	}
	conn->text_rsp_sent += len;
	conn->text_itt = itt;
	if (last) {
		free(conn->text_rsp);
		conn->text_rsp = NULL;
		conn->text_rsp_len = conn->text_rsp_sent = 0;
	}
	conn_fill_sn(conn, pdu->hdr, true);
	conn_queue_pdu(conn, pdu);
}

void discovery_handle_text(struct iscsi_conn *conn, const struct pdu *pdu)
{
	const uint8_t *bhs = pdu->bhs;
	uint32_t itt = bhs_itt(bhs), ttt = bhs_ttt(bhs);
	bool immediate = bhs_immediate(bhs);
	struct text_kv_list req, rsp;

	if (conn->text_rsp && ttt == conn->text_ttt && itt == conn->text_itt) {
		send_text_chunk(conn, itt, immediate);   /* continue a long answer */
		return;
	}
	free(conn->text_rsp);   /* a new request abandons an old answer */
	conn->text_rsp = NULL;
	conn->text_rsp_len = conn->text_rsp_sent = 0;
	if (bhs[1] & 0x40) {
		/* Requests split over several PDUs are not needed by any
		 * key we support. */
		conn_send_reject(conn, ISCSI_REJECT_CMD_NOT_SUPPORTED, bhs);
		return;
	}
	text_kv_init(&req);
	text_kv_init(&rsp);
	if (text_kv_parse(&req, pdu->data, pdu->data_len) < 0) {
		conn_send_reject(conn, ISCSI_REJECT_PROTOCOL_ERROR, bhs);
		goto out;
	}
	for (unsigned i = 0; i < req.count; i++) {
		const char *key = req.items[i].key;
		if (!strcmp(key, "SendTargets"))
			send_targets(conn, req.items[i].value, &rsp);
		else
			text_kv_add(&rsp, key, "NotUnderstood");   /* 6.2 */
	}
	conn->text_rsp = text_kv_format(&rsp, &conn->text_rsp_len);
	conn->text_rsp_sent = 0;
	if (!conn->text_rsp && rsp.count) {
		conn_close(conn, "out of memory");
		goto out;
	}
	send_text_chunk(conn, itt, immediate);
out:
	text_kv_free(&req);
	text_kv_free(&rsp);
}
