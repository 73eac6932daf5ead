/* RDMA connection management for iSER (RFC 7145 section 5.1): listeners
 * on one librdmacm event channel whose fd is in the control thread's
 * loop. A connect request gets its connection (iser_conn.c: CQ, QP and
 * the receives of the login phase) and is accepted with the iSER CM
 * private data; a disconnect closes the connection. */
#include "iser.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/log.h"

struct iser_listener {
	struct iscsi_listener l;
	struct rdma_cm_id *id;
};

/* The CM event channel: a singleton of the control thread, there while
 * a listener or a connection may still get events. */
static struct {
	struct rdma_event_channel *ch;
	struct ev_source src;
	struct event_loop *loop;
	unsigned users;                /* listeners and connections */
} cm;

static void cm_on_event(struct event_loop *loop, uint32_t events, void *arg);

static int cm_channel_get(struct event_loop *loop, char *err, size_t errlen)
{
	if (cm.ch) {
		cm.users++;
		return 0;
	}
	cm.ch = rdma_create_event_channel();
	if (!cm.ch) {
		snprintf(err, errlen, "no RDMA connection manager (%s): an RDMA device and "
			 "the rdma_ucm module are needed", strerror(errno));
		return -1;
	}
	fcntl(cm.ch->fd, F_SETFL, fcntl(cm.ch->fd, F_GETFL) | O_NONBLOCK);
	if (ev_add(loop, &cm.src, cm.ch->fd, EPOLLIN, cm_on_event, NULL) < 0) {
		snprintf(err, errlen, "cannot watch the RDMA CM channel");
		rdma_destroy_event_channel(cm.ch);
		cm.ch = NULL;
		return -1;
	}
	cm.loop = loop;
	cm.users = 1;
	return 0;
}

/* The channel goes with the last listener or connection (their ids get
 * their events on it). */
static void cm_channel_put(void)
{
	if (--cm.users)
		return;
	ev_remove(cm.loop, &cm.src);
	rdma_destroy_event_channel(cm.ch);
	cm.ch = NULL;
}

void iser_cm_hold(void)
{
	cm.users++;
}

void iser_cm_release(void)
{
	cm_channel_put();
}

/* --- connection events ---------------------------------------------------- */

static void addr_name(const struct sockaddr *sa, char *out, size_t len)
{
	char host[64] = "?";
	uint16_t port = 0;

	if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		port = ntohs(sin->sin_port);
	} else if (sa && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		port = ntohs(sin6->sin6_port);
	}
	snprintf(out, len, "%s:%u", host, port);
}

static void on_connect_request(struct rdma_cm_id *id, const struct rdma_conn_param *req)
{
	struct rdma_conn_param rep;
	uint8_t priv[ISER_CM_PRIV_LEN];
	struct iser_dev *dev;
	struct iser_conn *ic;
	char err[160];
	char peer[80];

	addr_name(rdma_get_peer_addr(id), peer, sizeof(peer));
	/* Past --max-connections and the connections kept to refuse logins
	 * (conn.c): rejected before any RDMA resources are set up. */
	if (event_loop_stopping(cm.loop) || !conn_admissible()) {
		rdma_reject(id, NULL, 0);
		rdma_destroy_id(id);
		return;
	}
	iser_cm_hold();   /* the new id gets its events on our channel */
	dev = iser_dev_get(id->verbs, err, sizeof(err));
	if (!dev) {
		log_warn("%s: iSER connect refused: %s", peer, err);
		rdma_reject(id, NULL, 0);
		rdma_destroy_id(id);
		iser_cm_release();
		return;
	}
	/* We issue RDMA READs (Data-Out) up to what the initiator can answer
	 * (its responder resources) and answer its READs, if any (RFC 7145
	 * 5.1: the iSER-ORD/IRD of the connection). */
	ic = iser_conn_create(cm.loop, id, dev, peer, req->responder_resources, err, sizeof(err));
	if (!ic) {
		log_warn("%s: iSER connect refused: %s (flags 0x%02x)", peer, err,
			 iser_cm_req_flags(req->private_data, req->private_data_len));
		rdma_reject(id, NULL, 0);
		rdma_destroy_id(id);
		iser_dev_put(dev);
		iser_cm_release();
		return;
	}
	iser_cm_rep_put(priv);
	memset(&rep, 0, sizeof(rep));
	rep.private_data = priv;
	rep.private_data_len = sizeof(priv);
	rep.initiator_depth = (uint8_t)ic->max_reads;
	rep.responder_resources = MIN(req->initiator_depth, (uint8_t)dev->attr.max_qp_rd_atom);
	rep.rnr_retry_count = 7;       /* receives are reposted as PDUs are handled */
	if (rdma_accept(id, &rep)) {
		log_warn("%s: iSER accept failed: %s", peer, strerror(errno));
		conn_close(&ic->conn, "RDMA accept failed");   /* frees id, dev, channel hold */
		return;
	}
	log_debug("%s: iSER connection accepted (ORD %u)", peer, ic->max_reads);
}

static void cm_on_event(struct event_loop *loop, uint32_t events, void *arg)
{
	(void)loop;
	(void)events;
	(void)arg;
	for (int i = 0; i < 32; i++) {
		struct rdma_cm_event *ev;
		struct rdma_conn_param param;
		uint8_t priv[64];
		enum rdma_cm_event_type type;
		struct rdma_cm_id *id;
		int status;

		/* The last connection's close (an event below) may have taken
		 * the channel with it once no listener is left. */
		if (!cm.ch || rdma_get_cm_event(cm.ch, &ev))
			return;    /* EAGAIN: nothing more */
		/* Copy what we need and acknowledge at once: destroying an id
		 * waits for its events to be acknowledged. */
		type = ev->event;
		id = ev->id;
		status = ev->status;
		param = ev->param.conn;
		if (param.private_data_len > sizeof(priv))
			param.private_data_len = sizeof(priv);
		if (param.private_data)
			memcpy(priv, param.private_data, param.private_data_len);
		param.private_data = priv;
		rdma_ack_cm_event(ev);

		switch (type) {
		case RDMA_CM_EVENT_CONNECT_REQUEST:
			on_connect_request(id, &param);
			break;
		case RDMA_CM_EVENT_ESTABLISHED:
			if (id->context)
				log_debug("%s: iSER connection established",
					  ((struct iser_conn *)id->context)->conn.peer);
			break;
		case RDMA_CM_EVENT_DISCONNECTED:
		case RDMA_CM_EVENT_CONNECT_ERROR:
		case RDMA_CM_EVENT_UNREACHABLE:
		case RDMA_CM_EVENT_REJECTED:
		case RDMA_CM_EVENT_DEVICE_REMOVAL:
			if (id->context) {
				struct iser_conn *ic = id->context;
				conn_close(&ic->conn, ic->conn.state == CONN_LOGGED_OUT ? NULL :
					   type == RDMA_CM_EVENT_DISCONNECTED ? "disconnected by initiator" :
					   rdma_event_str(type));
			} else if (type == RDMA_CM_EVENT_DEVICE_REMOVAL) {
				log_warn("iSER: RDMA device removed under a listener (status %d)", status);
			}
			break;
		default:
			/* TIMEWAIT_EXIT, ADDR_CHANGE: nothing to do */
			break;
		}
	}
}

/* --- listeners --------------------------------------------------------------- */

struct iscsi_listener *iser_listen(struct event_loop *loop, const char *addr, uint16_t port,
				   char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV,
				  .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai = NULL;
	struct iser_listener *il;
	char port_text[8], why[160];
	int rc;

	snprintf(port_text, sizeof(port_text), "%u", port);
	rc = getaddrinfo(addr[0] ? addr : NULL, port_text, &hints, &ai);
	if (rc) {
		snprintf(err, errlen, "iser portal %s:%u: %s", addr, port, gai_strerror(rc));
		return NULL;
	}
	il = calloc(1, sizeof(*il));
	if (!il || cm_channel_get(loop, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "iser portal %s:%u: %s", addr, port, il ? why : "out of memory");
		free(il);
		freeaddrinfo(ai);
		return NULL;
	}
	if (rdma_create_id(cm.ch, &il->id, NULL, RDMA_PS_TCP) ||
	    rdma_bind_addr(il->id, ai->ai_addr) || rdma_listen(il->id, 128)) {
		snprintf(err, errlen, "iser portal %s:%u: cannot listen: %s (is there an RDMA "
			 "device on that address?)", addr, port, strerror(errno));
		if (il->id)
			rdma_destroy_id(il->id);
		cm_channel_put();
		free(il);
		freeaddrinfo(ai);
		return NULL;
	}
	freeaddrinfo(ai);
	log_info("listening for iSER on %s:%u", addr, port);
	return &il->l;
}

void iser_unlisten(struct event_loop *loop, struct iscsi_listener *l)
{
	struct iser_listener *il = container_of(l, struct iser_listener, l);

	(void)loop;
	rdma_destroy_id(il->id);
	cm_channel_put();
	free(il);
}
