/* iSCSI sessions (RFC 7143 section 4.3, 6.3.5): creation at the end of
 * login, reinstatement by ISID/TSIH, the CmdSN window that is the
 * session's queue-depth control, and the I_T nexus each normal session is
 * for the SCSI core. */
#include "iscsi.h"

#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/log.h"
#include "../../gateway/workers.h"

struct iscsi_session_list iscsi_sessions = TAILQ_HEAD_INITIALIZER(iscsi_sessions);

static uint16_t next_tsih = 1;

static bool tsih_in_use(uint16_t tsih)
{
	struct iscsi_session *s;

	TAILQ_FOREACH(s, &iscsi_sessions, link)
		if (s->tsih == tsih)
			return true;
	return false;
}

static uint16_t allocate_tsih(void)
{
	/* TSIH 0 is reserved for "new session" in login requests. */
	for (unsigned tries = 0; tries < 65536; tries++) {
		uint16_t tsih = next_tsih++;
		if (next_tsih == 0)
			next_tsih = 1;
		if (tsih && !tsih_in_use(tsih))
			return tsih;
	}
	return 0;
}

static struct iscsi_session *find_session_by_isid(const char *initiator, const uint8_t *isid,
						  const struct target *t)
{
	struct iscsi_session *s;

	TAILQ_FOREACH(s, &iscsi_sessions, link)
		if (s->target == t && memcmp(s->isid, isid, 6) == 0 &&
		    strcasecmp(s->initiator_name, initiator) == 0)
			return s;
	return NULL;
}

void session_get(struct iscsi_session *sess)
{
	sess->refs++;
}

void session_put(struct iscsi_session *sess)
{
	/* Tasks aborted at nexus loss may finish later (their I/O is still
	 * at the backstore); the nexus they point to must outlive them. */
	if (--sess->refs == 0)
		free(sess);
}

/* I_T nexus loss for the core (SAM-5 6.3.4); control thread. released
 * (may be NULL) runs once it is in effect cluster-wide, at once when the
 * nexus was already lost. */
static void session_nexus_loss(struct iscsi_session *sess, scsi_nexus_released_fn released,
			       void *ctx)
{
	if (!sess->nexus_registered) {
		if (released)
			released(ctx, 0);
		return;
	}
	sess->nexus_registered = false;
	TAILQ_REMOVE(&the_gateway->nexuses, &sess->nexus, link);
	scsi_nexus_unregister_then(&sess->nexus, released, ctx);
	workers_release(sess->nexus.slot);
}

/* The session is over. */
static void session_end(struct iscsi_session *sess)
{
	TAILQ_REMOVE(&iscsi_sessions, sess, link);
	log_info("session %s tsih %u to %s ended", sess->initiator_name, sess->tsih,
		 sess->target ? sess->target->iqn : "discovery");
	session_nexus_loss(sess, NULL, NULL);
	session_put(sess);
}

/* Control thread, world stopped: the nexus loss is in effect on every
 * node; the Logout Response may go (its connection closes after it). */
static void session_logout_released(void *ctx, int result)
{
	struct iscsi_session *sess = ctx;
	struct tx_pdu *rsp = sess->logout_rsp;

	if (result < 0)
		log_warn("session %s tsih %u: logout: reservation release not confirmed (%s); "
			 "answering the logout", sess->initiator_name, sess->tsih, strerror(-result));
	sess->logout_rsp = NULL;
	if (rsp) {
		if (sess->conn)
			conn_queue_pdu(sess->conn, rsp);
		else
			release_tx_pdu(rsp);
	}
	session_put(sess);
}

static void session_logout_deferred(void *arg)
{
	/* The nexus may be lost already (the connection closed meanwhile). */
	session_nexus_loss(arg, session_logout_released, arg);
}

/* RFC 7143 11.14: a successful logout ends the session (one connection,
 * ERL 0), and the Logout Response tells the initiator it has ended. So
 * the nexus is lost first and rsp goes out only once that is in effect
 * cluster-wide (SAM-5 6.3.4: its SPC-2 reservations released): a command
 * the initiator sends next through another session, on any node, never
 * meets the old nexus' reservation (libiscsi's Sanitize.Reset did, when
 * the response went first). The connection closes once rsp is out. */
void session_logged_out(struct iscsi_session *sess, struct iscsi_conn *conn, struct tx_pdu *rsp)
{
	if (!sess || !sess->nexus_registered || sess->logout_rsp) {
		conn_queue_pdu(conn, rsp);
		return;
	}
	session_get(sess);
	sess->logout_rsp = rsp;
	if (on_control_thread())
		session_logout_deferred(sess);
	else
		workers_run_on_control(&sess->logout_deferred, session_logout_deferred, sess);
}

/* "ADDR:PORT" or "[V6]:PORT" of a socket address. */
static void portal_text(const struct sockaddr_storage *ss, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(out, len, "%s:%u", host, ntohs(sin->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(out, len, "[%s]:%u", host, ntohs(sin6->sin6_port));
	} else {
		out[0] = '\0';
	}
}

static void session_setup_nexus(struct iscsi_session *sess)
{
	struct it_nexus *nx = &sess->nexus;
	struct gateway *gw = the_gateway;

	nx->id = ((uint64_t)gw->node_id << 40) | ++gw->next_nexus_seq;
	str_copy(nx->initiator_name, sess->initiator_name, sizeof(nx->initiator_name));
	memcpy(nx->isid, sess->isid, 6);
	/* SPC-4 7.6.4.6 / RFC 7143 4.2.7: "<name>,i,0x<ISID in hex>" */
	snprintf(nx->initiator_port, sizeof(nx->initiator_port), "%s,i,0x%02x%02x%02x%02x%02x%02x",
		 sess->initiator_name, sess->isid[0], sess->isid[1], sess->isid[2], sess->isid[3],
		 sess->isid[4], sess->isid[5]);
	snprintf(nx->target_port, sizeof(nx->target_port), "%s,t,0x%04x", sess->target->iqn,
		 sess->target->tpgt);
	nx->rel_tgt_port_id = (uint16_t)gw->node_id;
	nx->tpg_id = (uint16_t)gw->node_id;
	portal_text(&sess->conn->local_addr, nx->portal, sizeof(nx->portal));
	nx->target = sess->target;
	nx->acl = sess->acl;
	nx->fabric = &iscsi_fabric_ops;
	nx->fabric_priv = sess;
	TAILQ_INIT(&nx->uas);
	/* The worker that will carry the session once login completes. */
	nx->slot = workers_pick();
	TAILQ_INSERT_TAIL(&gw->nexuses, nx, link);
	sess->nexus_registered = true;
	scsi_nexus_register(nx);
}

uint16_t session_login_complete(struct iscsi_conn *conn, struct login_state *ls, uint16_t *tsih)
{
	const struct login_target_info *info = login_target(ls);
	const char *initiator = login_initiator_name(ls);
	const uint8_t *isid = login_isid(ls);
	uint16_t req_tsih = login_tsih(ls);
	struct iscsi_session *old, *sess;

	if (req_tsih != 0) {
		/* Adding or reinstating a connection of an existing session. */
		TAILQ_FOREACH(old, &iscsi_sessions, link)
			if (old->tsih == req_tsih && memcmp(old->isid, isid, 6) == 0 &&
			    strcasecmp(old->initiator_name, initiator) == 0)
				break;
		if (!old)
			return ISCSI_LOGIN_STATUS_SESSION_NOT_FOUND;
		if (old->conn && old->conn->cid != login_cid(ls))
			return ISCSI_LOGIN_STATUS_TOO_MANY_CONNECTIONS;  /* MaxConnections=1 */
		/* Connection reinstatement (6.3.4): at ERL 0 the old
		 * connection's tasks are terminated; the session lives on. */
		if (old->conn)
			conn_close(old->conn, "connection reinstated");
		old->conn = conn;
		conn->sess = old;
		conn->cid = login_cid(ls);
		*tsih = old->tsih;
		return 0;
	}
	if (login_session_type(ls) == SESSION_NORMAL &&
	    (old = find_session_by_isid(initiator, isid, info->target))) {
		/* Session reinstatement (6.3.5): the old session is closed
		 * and its tasks terminated before the new one starts. */
		log_info("%s: reinstating session of %s (old tsih %u)", conn->peer, initiator, old->tsih);
		if (old->conn)
			conn_close(old->conn, "session reinstated");  /* ends old */
		else
			session_end(old);
	}
	sess = calloc(1, sizeof(*sess));
	if (!sess)
		return ISCSI_LOGIN_STATUS_OUT_OF_RESOURCES;
	sess->tsih = allocate_tsih();
	if (!sess->tsih) {
		free(sess);
		return ISCSI_LOGIN_STATUS_OUT_OF_RESOURCES;
	}
	sess->type = login_session_type(ls);
	memcpy(sess->isid, isid, 6);
	str_copy(sess->initiator_name, initiator, sizeof(sess->initiator_name));
	if (login_initiator_alias(ls))
		str_copy(sess->initiator_alias, login_initiator_alias(ls), sizeof(sess->initiator_alias));
	sess->target = info->target;
	sess->acl = info->acl;
	sess->params = *login_params(ls);
	sess->queue_depth = info->params.queue_depth ? info->params.queue_depth : 128;
	/* The first command of the session carries the leading login's
	 * CmdSN (RFC 7143 11.12.7); the window is the queue depth. */
	sess->exp_cmd_sn = login_initial_cmdsn(ls);
	sess->max_cmd_sn = sess->exp_cmd_sn + sess->queue_depth - 1;
	sess->created_ms = now_ms();
	sess->refs = 1;
	sess->conn = conn;
	conn->sess = sess;
	conn->cid = login_cid(ls);
	TAILQ_INSERT_TAIL(&iscsi_sessions, sess, link);
	if (sess->type == SESSION_NORMAL)
		session_setup_nexus(sess);
	log_info("%s: %s session of %s%s%s tsih %u%s%s, worker %u", conn->peer,
		 sess->type == SESSION_NORMAL ? "normal" : "discovery", initiator,
		 sess->target ? " to " : "", sess->target ? sess->target->iqn : "", sess->tsih,
		 sess->params.header_digest ? " HeaderDigest" : "",
		 sess->params.data_digest ? " DataDigest" : "", sess->nexus.slot);
	*tsih = sess->tsih;
	return 0;
}

void session_conn_closed(struct iscsi_session *sess, struct iscsi_conn *conn)
{
	if (sess->conn != conn)
		return;
	sess->conn = NULL;
	conn->sess = NULL;
	if (sess->logout_rsp) {                /* its Logout Response never goes */
		release_tx_pdu(sess->logout_rsp);
		sess->logout_rsp = NULL;
	}
	/* ERL 0, one connection: losing it ends the session (6.1.4). */
	session_end(sess);
}

bool session_check_cmd_sn(struct iscsi_session *sess, const uint8_t *bhs)
{
	uint32_t cmd_sn = bhs_cmdsn(bhs);

	if (bhs_immediate(bhs))
		return true;   /* immediate: does not advance CmdSN (3.2.2.1) */
	if (cmd_sn != sess->exp_cmd_sn) {
		/* One connection, delivered in order by TCP: anything but the
		 * expected CmdSN is outside the window or a duplicate, and is
		 * silently ignored (4.2.2.1). */
		log_debug("session tsih %u: CmdSN %u ignored (expected %u, max %u)", sess->tsih,
			  cmd_sn, sess->exp_cmd_sn, sess->max_cmd_sn);
		return false;
	}
	if (sn_gt(cmd_sn, sess->max_cmd_sn)) {
		log_debug("session tsih %u: CmdSN %u beyond MaxCmdSN %u ignored", sess->tsih, cmd_sn,
			  sess->max_cmd_sn);
		return false;
	}
	sess->exp_cmd_sn++;
	return true;
}

void session_window_release(struct iscsi_session *sess)
{
	if (sess)
		sess->max_cmd_sn++;
}

/* --- fabric_ops for the SCSI core -------------------------------------------- */

static unsigned iscsi_transport_id(const struct it_nexus *nx, uint8_t *buf, unsigned len)
{
	/* SPC-4 7.6.4.6: iSCSI TransportID, FORMAT CODE 01b, the initiator
	 * port name "name,i,0xISID", NUL-terminated and padded to 4. */
	unsigned n = (unsigned)strlen(nx->initiator_port) + 1;
	unsigned total = (4 + n + 3) & ~3u;

	if (len < total)
		return 0;
	memset(buf, 0, total);
	buf[0] = 0x40 | 0x05;
	put_be16(buf + 2, (uint16_t)(total - 4));
	memcpy(buf + 4, nx->initiator_port, n);
	return total;
}

static void drop_deferred(void *arg)
{
	struct iscsi_conn *conn = arg;

	conn_close(conn, "dropped by the gateway");
	conn_put(conn);
}

/* The core may be walking its nexus list: close from the loop, later
 * (the fabric_ops.drop contract). */
static void iscsi_drop(struct it_nexus *nx)
{
	struct iscsi_session *sess = nx->fabric_priv;
	struct iscsi_conn *conn = sess->conn;

	if (!conn || conn->drop_deferred.queued)
		return;
	conn_send_async_logout(conn);
	conn_get(conn);
	ev_defer(conn->loop, &conn->drop_deferred, drop_deferred, conn);
}

static void iscsi_describe(const struct it_nexus *nx, void *json)
{
	const struct iscsi_session *sess = nx->fabric_priv;
	struct json_object *o = json;
	const struct iscsi_conn *conn = sess->conn;

	json_object_object_add(o, "fabric", json_object_new_string("iscsi"));
	json_object_object_add(o, "tsih", json_object_new_int(sess->tsih));
	json_object_object_add(o, "worker", json_object_new_int((int)nx->slot));
	json_object_object_add(o, "initiator_alias", json_object_new_string(sess->initiator_alias));
	json_object_object_add(o, "header_digest", json_object_new_boolean(sess->params.header_digest));
	json_object_object_add(o, "data_digest", json_object_new_boolean(sess->params.data_digest));
	json_object_object_add(o, "max_recv_data_segment_length",
			       json_object_new_int64(sess->params.initiator_max_recv_dsl));
	json_object_object_add(o, "max_burst_length", json_object_new_int64(sess->params.max_burst_length));
	json_object_object_add(o, "immediate_data", json_object_new_boolean(sess->params.immediate_data));
	json_object_object_add(o, "initial_r2t", json_object_new_boolean(sess->params.initial_r2t));
	json_object_object_add(o, "exp_cmd_sn", json_object_new_int64(sess->exp_cmd_sn));
	json_object_object_add(o, "max_cmd_sn", json_object_new_int64(sess->max_cmd_sn));
	if (conn) {
		json_object_object_add(o, "transport", json_object_new_string(conn->transport->name));
		json_object_object_add(o, "peer", json_object_new_string(conn->peer));
		json_object_object_add(o, "cid", json_object_new_int(conn->cid));
		json_object_object_add(o, "rx_pdus", json_object_new_int64((int64_t)conn->rx_pdus));
		json_object_object_add(o, "tx_pdus", json_object_new_int64((int64_t)conn->tx_pdus));
		json_object_object_add(o, "tx_bytes", json_object_new_int64((int64_t)conn->tx_bytes));
		json_object_object_add(o, "tasks", json_object_new_int((int)conn->task_count));
	}
}

const struct fabric_ops iscsi_fabric_ops = {
	.name = "iscsi",
	.cmd_done = task_cmd_done,
	.tmf_done = task_tmf_done,
	.transport_id = iscsi_transport_id,
	.drop = iscsi_drop,
	.describe = iscsi_describe,
};
