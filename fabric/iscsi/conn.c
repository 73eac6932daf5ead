/* iSCSI connections, whatever their transport (transport.h): the login
 * phase around login.c, dispatch of the PDUs the transport receives, NOP,
 * logout, Reject, and the connection's lifecycle (RFC 7143 sections 6-7,
 * 11). */
#include "iscsi.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "../../gateway/log.h"
#include "../../gateway/workers.h"

#define LOGIN_TIMEOUT_MS     15000   /* default of sangwd --login-timeout */
/* Beyond --max-connections, this many more connections are accepted only
 * to answer their login with Out of resources; past that they are closed
 * at once, so open files stay bounded whatever initiators do. */
#define REFUSING_CONNS_MAX   64

struct iscsi_conn_list iscsi_conns = TAILQ_HEAD_INITIALIZER(iscsi_conns);
static unsigned iscsi_conns_open;   /* on iscsi_conns; control thread only */

static void tx_pdu_recycle(struct tx_pdu *pdu);

/* --- login callbacks ------------------------------------------------------- */

static const struct chap_cred *first_set(const struct chap_cred *a, const struct chap_cred *b)
{
	return a->set ? a : b;
}

static uint16_t login_lookup(void *arg, const char *target_name, const char *initiator_name,
			     struct login_target_info *info)
{
	struct iscsi_conn *conn = arg;
	struct gateway *gw = the_gateway;
	struct target *t;
	struct acl *acl;

	memset(info, 0, sizeof(*info));
	if (!target_name) {
		/* Discovery session (RFC 7143 4.3): CHAP only if configured. */
		info->auth_required = gw->discovery_auth && gw->discovery_chap.set;
		info->chap = gw->discovery_chap;
		info->mutual_chap = gw->discovery_mutual_chap;
		target_params_defaults(&info->params);
		if (gw->discovery_chap_algorithms)
			info->params.chap_algorithms = gw->discovery_chap_algorithms;
		return 0;
	}
	t = gw_find_target(gw, target_name);
	if (!t) {
		log_info("%s: login by %s to unknown target %s", conn->peer, initiator_name, target_name);
		return ISCSI_LOGIN_STATUS_NOT_FOUND;
	}
	if (!target_allows(t, initiator_name, &acl)) {
		log_info("%s: %s is not allowed to log in to %s", conn->peer, initiator_name, target_name);
		return ISCSI_LOGIN_STATUS_FORBIDDEN;
	}
	info->target = t;
	info->acl = acl;
	info->params = t->params;
	if (acl) {
		info->chap = *first_set(&acl->chap, &t->chap);
		info->mutual_chap = *first_set(&acl->mutual_chap, &t->mutual_chap);
	} else {
		info->chap = t->chap;
		info->mutual_chap = t->mutual_chap;
	}
	info->auth_required = info->chap.set;
	return 0;
}

static uint16_t login_complete_cb(void *arg, struct login_state *ls, uint16_t *tsih)
{
	return session_login_complete(arg, ls, tsih);
}

static void login_random(void *arg, uint8_t *buf, unsigned len)
{
	(void)arg;
	while (len) {
		ssize_t n = getrandom(buf, len, 0);
		if (n <= 0)
			continue;
		buf += n;
		len -= (unsigned)n;
	}
}

/* The portal for the failed-login back-off: where the initiator reached us. */
static void login_portal(void *arg, char *buf, size_t len)
{
	const struct iscsi_conn *conn = arg;
	const struct sockaddr_storage *ss = &conn->local_addr;
	char addr[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
		port = ntohs(in->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof(addr));
		port = ntohs(in6->sin6_port);
	}
	snprintf(buf, len, ss->ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", addr, port);
}

/* Notice_Key_Values (transport.h): the transport's own login keys. */
static int login_transport_key(void *arg, struct iscsi_session_params *params, const char *key,
			       const char *value, struct text_kv_list *rsp, uint16_t *status)
{
	struct iscsi_conn *conn = arg;

	return conn->transport->login_key(conn, params, key, value, rsp, status);
}

static bool login_transport_declare(void *arg, const struct iscsi_session_params *params,
				    const struct target_params *offer, struct text_kv_list *rsp,
				    uint32_t *recv_dsl)
{
	struct iscsi_conn *conn = arg;

	return conn->transport->login_declare(conn, params, offer, rsp, recv_dsl);
}

static const struct login_callbacks conn_login_callbacks_template = {
	.lookup = login_lookup,
	.complete = login_complete_cb,
	.random = login_random,
	.portal = login_portal,
};

/* --- lifecycle ------------------------------------------------------------- */

static void login_timeout(struct event_loop *loop, void *arg)
{
	struct iscsi_conn *conn = arg;

	(void)loop;
	if (conn->state == CONN_LOGIN)
		conn_close(conn, "login timed out");
}

static void ping_tick(struct event_loop *loop, void *arg);

bool conn_admissible(void)
{
	unsigned max = the_gateway ? the_gateway->max_connections : 0;

	return !max || iscsi_conns_open < max + REFUSING_CONNS_MAX;
}

unsigned iscsi_connection_count(void)
{
	return iscsi_conns_open;
}

/* Over --max-connections: the login is answered 0x0302 Out of resources
 * (RFC 7143 11.13.5: a target error, the initiator may retry later). */
static void refuse_if_over_limit(struct iscsi_conn *conn)
{
	static uint64_t last_warned_ms;
	unsigned max = the_gateway ? the_gateway->max_connections : 0;

	if (!max || iscsi_conns_open <= max)
		return;
	login_refuse(conn->login, ISCSI_LOGIN_STATUS_OUT_OF_RESOURCES,
		     "the gateway serves its maximum of connections (--max-connections)");
	if (now_ms() - last_warned_ms >= 10000) {
		last_warned_ms = now_ms();
		log_warn("%s: %u connections open, more than --max-connections %u: refusing logins",
			 conn->peer, iscsi_conns_open, max);
	}
}

int conn_init(struct iscsi_conn *conn, const struct iscsi_transport *t, struct event_loop *loop)
{
	struct login_callbacks cb = conn_login_callbacks_template;

	conn->transport = t;
	conn->loop = loop;
	conn->state = CONN_LOGIN;
	conn->ttt_next = 1;
	TAILQ_INIT(&conn->tasks);
	cb.arg = conn;
	if (t->login_key)
		cb.negotiate_key = login_transport_key;
	if (t->login_declare)
		cb.declare = login_transport_declare;
	conn->login = login_state_create(&cb);
	if (!conn->login)
		return -1;
	ev_timer_init(&conn->login_timer, login_timeout, conn);
	ev_timer_arm(loop, &conn->login_timer,
		     the_gateway && the_gateway->login_timeout_ms ? the_gateway->login_timeout_ms
								   : LOGIN_TIMEOUT_MS);
	ev_timer_init(&conn->ping_timer, ping_tick, conn);
	conn->last_rx_ms = now_ms();
	conn->refs = 1;
	TAILQ_INSERT_TAIL(&iscsi_conns, conn, link);
	iscsi_conns_open++;
	refuse_if_over_limit(conn);
	log_debug("%s: connection accepted (%s)", conn->peer, t->name);
	return 0;
}

static void conn_free_now(void *arg)
{
	struct iscsi_conn *conn = arg;

	if (conn->login)
		login_state_destroy(conn->login);
	free(conn->text_rsp);
	conn->transport->conn_free(conn);
}

void conn_last_put(struct iscsi_conn *conn)
{
	/* Free from the loop: the caller may still be on our stack. */
	ev_defer(conn->loop, &conn->free_deferred, conn_free_now, conn);
}

void release_tx_pdu(struct tx_pdu *pdu)
{
	if (pdu->task)
		task_put(pdu->task);
	free(pdu->owned);
	tx_pdu_recycle(pdu);
}

static void conn_close_now(struct iscsi_conn *conn, const char *why);

static void conn_close_deferred(void *arg)
{
	struct iscsi_conn *conn = arg;

	conn_close_now(conn, conn->close_why[0] ? conn->close_why : NULL);
	conn_put(conn);
}

/* Closing ends the session (nexus loss, SPC-2 reservations, other
 * sessions' lists): control-thread work. On a worker the connection stops
 * reading now and the control thread closes it after this batch. */
void conn_close(struct iscsi_conn *conn, const char *why)
{
	if (conn->state == CONN_CLOSED)
		return;
	if (on_control_thread()) {
		conn_close_now(conn, why);
		return;
	}
	if (conn->close_posted)
		return;
	conn->close_posted = true;
	str_copy(conn->close_why, why ? why : "", sizeof(conn->close_why));
	conn->transport->quiesce(conn);
	conn_get(conn);
	workers_run_on_control(&conn->close_deferred, conn_close_deferred, conn);
}

static void conn_close_now(struct iscsi_conn *conn, const char *why)
{
	if (conn->state == CONN_CLOSED)
		return;
	log_info("%s: closing connection%s%s", conn->peer, why ? ": " : "", why ? why : "");
	conn->state = CONN_CLOSED;
	ev_timer_cancel(conn->loop, &conn->login_timer);
	ev_timer_cancel(conn->loop, &conn->ping_timer);
	conn->transport->conn_close(conn);
	task_abort_conn(conn);
	if (conn->sess)
		session_conn_closed(conn->sess, conn);
	TAILQ_REMOVE(&iscsi_conns, conn, link);
	iscsi_conns_open--;
	conn_put(conn);
}

/* --- transmit ---------------------------------------------------------------- */

/* Outgoing PDU descriptors are recycled per thread: no allocation per
 * response in steady state. */
#define TX_PDU_CACHE 4096
static __thread struct tx_pdu *tx_pdu_cache;
static __thread unsigned tx_pdu_cached;

struct tx_pdu *conn_new_pdu(struct iscsi_conn *conn)
{
	struct tx_pdu *pdu = tx_pdu_cache;

	(void)conn;
	if (pdu) {
		tx_pdu_cache = *(struct tx_pdu **)pdu;
		tx_pdu_cached--;
		memset(pdu, 0, sizeof(*pdu));
		return pdu;
	}
	pdu = calloc(1, sizeof(*pdu));
	if (!pdu)
		log_error("out of memory for a PDU");
	return pdu;
}

static void tx_pdu_recycle(struct tx_pdu *pdu)
{
	if (tx_pdu_cached >= TX_PDU_CACHE) {
		free(pdu);
		return;
	}
	*(struct tx_pdu **)pdu = tx_pdu_cache;
	tx_pdu_cache = pdu;
	tx_pdu_cached++;
}

void conn_pdu_free(struct tx_pdu *pdu)
{
	free(pdu->owned);
	tx_pdu_recycle(pdu);
}

void conn_pdu_cache_trim(void)
{
	struct tx_pdu *pdu;

	while ((pdu = tx_pdu_cache)) {
		tx_pdu_cache = *(struct tx_pdu **)pdu;
		free(pdu);
	}
	tx_pdu_cached = 0;
}

void conn_queue_pdu(struct iscsi_conn *conn, struct tx_pdu *pdu)
{
	if (conn->state == CONN_CLOSED) {
		release_tx_pdu(pdu);
		return;
	}
	bhs_set_data_len(pdu->hdr, pdu->data_len);
	conn->tx_pdus++;
	conn->transport->send_pdu(conn, pdu);
}

void conn_fill_sn(struct iscsi_conn *conn, uint8_t *bhs, bool advance_stat_sn)
{
	struct iscsi_session *sess = conn->sess;

	put_be32(bhs + 24, conn->stat_sn);
	if (advance_stat_sn)
		conn->stat_sn++;
	if (sess) {
		put_be32(bhs + 28, sess->exp_cmd_sn);
		put_be32(bhs + 32, sess->max_cmd_sn);
	}
}

static struct tx_pdu *reject_pdu(struct iscsi_conn *conn, uint8_t reason, const uint8_t *bad_bhs)
{
	struct tx_pdu *pdu = conn_new_pdu(conn);

	if (!conn->reject_logged) {
		log_warn("%s: rejecting PDU opcode 0x%02x (reason 0x%02x)", conn->peer,
			 bhs_opcode(bad_bhs), reason);
		conn->reject_logged = true;   /* logged once per connection */
	}
	if (!pdu)
		return NULL;
	/* RFC 7143 11.17: the rejected header travels as the data segment. */
	pdu->owned = malloc(ISCSI_BHS_LEN);
	if (!pdu->owned) {
		free(pdu);
		return NULL;
	}
	memcpy(pdu->owned, bad_bhs, ISCSI_BHS_LEN);
	pdu->data = pdu->owned;
	pdu->data_len = ISCSI_BHS_LEN;
	bhs_init(pdu->hdr, ISCSI_OP_REJECT);
	pdu->hdr[1] = ISCSI_FLAG_FINAL;
	pdu->hdr[2] = reason;
	put_be32(pdu->hdr + 16, ISCSI_RESERVED_TAG);
	conn_fill_sn(conn, pdu->hdr, true);
	return pdu;
}

void conn_send_reject(struct iscsi_conn *conn, uint8_t reason, const uint8_t *bad_bhs)
{
	struct tx_pdu *pdu = reject_pdu(conn, reason, bad_bhs);

	if (pdu)
		conn_queue_pdu(conn, pdu);
}

void conn_reject_and_close(struct iscsi_conn *conn, uint8_t reason, const uint8_t *bad_bhs,
			   const char *why)
{
	struct tx_pdu *pdu = reject_pdu(conn, reason, bad_bhs);

	if (!pdu) {
		conn_close(conn, why);
		return;
	}
	pdu->close_after = true;
	if (conn->state != CONN_CLOSED)
		conn->state = CONN_LOGGED_OUT;
	conn_queue_pdu(conn, pdu);
}

void conn_send_async_logout(struct iscsi_conn *conn)
{
	struct tx_pdu *pdu;

	if (conn->state != CONN_FULL_FEATURE || !conn->sess)
		return;
	pdu = conn_new_pdu(conn);
	if (!pdu)
		return;
	/* RFC 7143 11.9.1 AsyncEvent 1: target requests logout; Parameter3
	 * is the time (seconds) the initiator has to do it. */
	bhs_init(pdu->hdr, ISCSI_OP_ASYNC_MSG);
	pdu->hdr[1] = ISCSI_FLAG_FINAL;
	put_be32(pdu->hdr + 16, ISCSI_RESERVED_TAG);
	conn_fill_sn(conn, pdu->hdr, true);
	pdu->hdr[36] = ISCSI_ASYNC_LOGOUT_REQUEST;
	put_be16(pdu->hdr + 42, 2);
	conn_queue_pdu(conn, pdu);
}

/* --- NOP (RFC 7143 11.18-11.19) --------------------------------------------- */

static void handle_nop_out(struct iscsi_conn *conn, const struct pdu *req)
{
	uint32_t itt = bhs_itt(req->bhs), ttt = bhs_ttt(req->bhs);
	struct tx_pdu *pdu;

	if (itt == ISCSI_RESERVED_TAG) {
		/* Answer to our ping (TTT echoed) or an unsolicited keepalive. */
		if (ttt != ISCSI_RESERVED_TAG && ttt == conn->ping_ttt)
			conn->ping_ttt = 0;
		return;
	}
	pdu = conn_new_pdu(conn);
	if (!pdu)
		return;
	bhs_init(pdu->hdr, ISCSI_OP_NOP_IN);
	pdu->hdr[1] = ISCSI_FLAG_FINAL;
	memcpy(pdu->hdr + 8, req->bhs + 8, 8);          /* LUN echoed */
	put_be32(pdu->hdr + 16, itt);
	put_be32(pdu->hdr + 20, ISCSI_RESERVED_TAG);
	if (req->data_len) {
		/* Ping data is echoed (11.19.4). */
		pdu->owned = malloc(req->data_len);
		if (pdu->owned) {
			memcpy(pdu->owned, req->data, req->data_len);
			pdu->data = pdu->owned;
			pdu->data_len = req->data_len;
		}
	}
	if (!bhs_immediate(req->bhs))
		session_window_release(conn->sess);
	conn_fill_sn(conn, pdu->hdr, true);
	conn_queue_pdu(conn, pdu);
}

static void ping_tick(struct event_loop *loop, void *arg)
{
	struct iscsi_conn *conn = arg;
	const struct target_params *tp;
	uint64_t now = now_ms();
	struct tx_pdu *pdu;

	if (conn->state != CONN_FULL_FEATURE || !conn->sess)
		return;
	tp = conn->sess->target ? &conn->sess->target->params : NULL;
	if (!tp || tp->nop_interval == 0)
		return;
	if (conn->ping_ttt && now - conn->ping_sent_ms >= (uint64_t)tp->nop_timeout * 1000) {
		conn_close(conn, "initiator did not answer NOP-In ping");
		return;
	}
	if (!conn->ping_ttt && now - conn->last_rx_ms >= (uint64_t)tp->nop_interval * 1000) {
		pdu = conn_new_pdu(conn);
		if (pdu) {
			bhs_init(pdu->hdr, ISCSI_OP_NOP_IN);
			pdu->hdr[1] = ISCSI_FLAG_FINAL;
			put_be32(pdu->hdr + 16, ISCSI_RESERVED_TAG);
			conn->ping_ttt = conn->ttt_next++ | 0x80000000u;
			put_be32(pdu->hdr + 20, conn->ping_ttt);
			/* 11.19.1: a ping carries StatSN but does not advance it. */
			conn_fill_sn(conn, pdu->hdr, false);
			conn->ping_sent_ms = now;
			conn_queue_pdu(conn, pdu);
		}
	}
	ev_timer_arm(loop, &conn->ping_timer, 1000);
}

/* --- logout (RFC 7143 11.14-11.15) ------------------------------------------ */

static void handle_logout(struct iscsi_conn *conn, const struct pdu *req)
{
	uint8_t reason = req->bhs[1] & 0x7f;
	uint16_t cid = get_be16(req->bhs + 20);
	struct tx_pdu *pdu = conn_new_pdu(conn);

	if (!pdu) {
		conn_close(conn, "out of memory");
		return;
	}
	bhs_init(pdu->hdr, ISCSI_OP_LOGOUT_RSP);
	pdu->hdr[1] = ISCSI_FLAG_FINAL;
	put_be32(pdu->hdr + 16, bhs_itt(req->bhs));
	if (reason == ISCSI_LOGOUT_REMOVE_FOR_RECOVERY)
		pdu->hdr[2] = ISCSI_LOGOUT_RSP_RECOVERY_UNSUPPORTED;  /* ERL 0 */
	else if (reason == ISCSI_LOGOUT_CLOSE_CONNECTION && cid != conn->cid)
		pdu->hdr[2] = ISCSI_LOGOUT_RSP_CID_NOT_FOUND;
	else
		pdu->hdr[2] = ISCSI_LOGOUT_RSP_OK;
	if (!bhs_immediate(req->bhs))
		session_window_release(conn->sess);
	conn_fill_sn(conn, pdu->hdr, true);
	if (pdu->hdr[2] == ISCSI_LOGOUT_RSP_OK) {
		log_info("%s: logout (reason %u)", conn->peer, reason);
		conn->state = CONN_LOGGED_OUT;
		pdu->close_after = true;
	}
	if (conn->state == CONN_LOGGED_OUT)
		session_logged_out(conn->sess, conn, pdu);
	else
		conn_queue_pdu(conn, pdu);
}

/* --- handing a connection to its worker ----------------------------------- */

/* After login the connection belongs to its session's worker: from the
 * next batch on, its events and deferred calls run there. */
static void conn_move(struct iscsi_conn *conn, struct event_loop *to)
{
	struct event_loop *from = conn->loop;

	if (from == to)
		return;
	ev_timer_cancel(from, &conn->login_timer);
	ev_timer_cancel(from, &conn->ping_timer);
	conn->loop = to;
	ev_defer_move(from, to, &conn->drop_deferred);
	ev_defer_move(from, to, &conn->free_deferred);
	conn->transport->conn_move(conn, from, to);
}

/* --- login phase ------------------------------------------------------------ */

static void handle_login(struct iscsi_conn *conn, const struct pdu *req)
{
	struct login_response rsp;
	enum login_result res;
	struct tx_pdu *pdu;

	if (bhs_opcode(req->bhs) != ISCSI_OP_LOGIN_REQ) {
		/* RFC 7143 6.1: only Login Requests before full feature phase. */
		conn_close(conn, "non-login PDU during login");
		return;
	}
	res = login_process(conn->login, req->bhs, req->data, req->data_len, conn->stat_sn, &rsp);
	if (res == LOGIN_RESULT_DROP) {
		conn_close(conn, "login protocol error");
		return;
	}
	pdu = conn_new_pdu(conn);
	if (!pdu) {
		conn_close(conn, "out of memory");
		return;
	}
	memcpy(pdu->hdr, rsp.bhs, ISCSI_BHS_LEN);
	if (rsp.data_len) {
		pdu->owned = malloc(rsp.data_len);
		if (!pdu->owned) {
			free(pdu);
			conn_close(conn, "out of memory");
			return;
		}
		memcpy(pdu->owned, rsp.data, rsp.data_len);
		pdu->data = pdu->owned;
		pdu->data_len = rsp.data_len;
	}
	/* Every login response carries the next StatSN (RFC 7143 11.13.4). */
	conn->stat_sn = get_be32(pdu->hdr + 24) + 1;
	if (res == LOGIN_RESULT_FAILED) {
		pdu->close_after = true;
		conn->state = CONN_LOGGED_OUT;
		conn_queue_pdu(conn, pdu);
		return;
	}
	if (res == LOGIN_RESULT_CONTINUE) {
		conn_queue_pdu(conn, pdu);
		return;
	}
	/* Complete: the final response goes out without digests; everything
	 * after it uses what was negotiated. A reinstated connection joins
	 * its session's CmdSN window. */
	put_be32(pdu->hdr + 28, conn->sess->exp_cmd_sn);
	put_be32(pdu->hdr + 32, conn->sess->max_cmd_sn);
	conn_queue_pdu(conn, pdu);
	if (conn->state == CONN_CLOSED)
		return;
	ev_timer_cancel(conn->loop, &conn->login_timer);
	conn->state = CONN_FULL_FEATURE;
	conn->transport->full_feature(conn);
	if (conn->sess->type == SESSION_NORMAL)
		conn_move(conn, worker_loop(conn->sess->nexus.slot));
	ev_timer_arm(conn->loop, &conn->ping_timer, 1000);
}

/* --- full feature phase dispatch -------------------------------------------- */

void conn_receive_pdu(struct iscsi_conn *conn, const struct pdu *pdu)
{
	uint8_t op = bhs_opcode(pdu->bhs);

	conn->rx_pdus++;
	conn->last_rx_ms = ev_now_ms();
	if (conn->state == CONN_LOGIN) {
		handle_login(conn, pdu);
		return;
	}
	if (conn->state != CONN_FULL_FEATURE)
		return;
	/* Every request carries ExpStatSN: acknowledgement of our StatSN. */
	if (op != ISCSI_OP_DATA_OUT)
		conn->exp_stat_sn = bhs_expstatsn(pdu->bhs);
	switch (op) {
	case ISCSI_OP_DATA_OUT:
		task_handle_data_out(conn, pdu);
		return;
	case ISCSI_OP_SNACK:
		/* ERL 0: no SNACK support (RFC 7143 11.16). */
		conn_send_reject(conn, ISCSI_REJECT_SNACK, pdu->bhs);
		return;
	case ISCSI_OP_LOGIN_REQ:
		conn_send_reject(conn, ISCSI_REJECT_PROTOCOL_ERROR, pdu->bhs);
		return;
	case ISCSI_OP_NOP_OUT:
	case ISCSI_OP_SCSI_CMD:
	case ISCSI_OP_TMF_REQ:
	case ISCSI_OP_TEXT_REQ:
	case ISCSI_OP_LOGOUT_REQ:
		break;
	default:
		conn_send_reject(conn, ISCSI_REJECT_CMD_NOT_SUPPORTED, pdu->bhs);
		return;
	}
	if (op == ISCSI_OP_NOP_OUT && bhs_itt(pdu->bhs) == ISCSI_RESERVED_TAG) {
		/* A NOP-Out with the reserved ITT must be immediate and carries
		 * no CmdSN of its own (11.18.1). */
		handle_nop_out(conn, pdu);
		return;
	}
	if (!session_check_cmd_sn(conn->sess, pdu->bhs))
		return;   /* outside the window: silently ignored (4.2.2.1) */
	switch (op) {
	case ISCSI_OP_NOP_OUT:
		handle_nop_out(conn, pdu);
		break;
	case ISCSI_OP_SCSI_CMD:
		task_handle_scsi_cmd(conn, pdu);
		break;
	case ISCSI_OP_TMF_REQ:
		task_handle_tmf(conn, pdu);
		break;
	case ISCSI_OP_TEXT_REQ:
		discovery_handle_text(conn, pdu);
		break;
	case ISCSI_OP_LOGOUT_REQ:
		handle_logout(conn, pdu);
		break;
	}
}

uint8_t *conn_rx_data_dest(struct iscsi_conn *conn, const uint8_t *bhs, uint32_t len)
{
	if (conn->state == CONN_FULL_FEATURE && bhs_opcode(bhs) == ISCSI_OP_DATA_OUT)
		return task_data_out_dest(conn, bhs, len);
	return NULL;
}
