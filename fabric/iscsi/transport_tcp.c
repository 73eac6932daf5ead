/* iSCSI over TCP (RFC 7143), the transport of transport.h: listening
 * sockets, PDUs assembled from the byte stream (pdu.c) and handed whole to
 * the iSCSI layer, queued PDUs written with one writev per batch of
 * events, header and data digests, R2T for Get_Data and Data-In PDUs for
 * Put_Data. */
#include "iscsi.h"
#include "task_cache.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../gateway/log.h"
#include "crc32c.h"

#define LOGIN_MAX_DATA       8192    /* RFC 7143 13.12: login PDUs default */
#define TX_IOV_BATCH         64
/* Back-pressure: with this much queued for an initiator that does not
 * read, stop reading its requests (no new commands, so no new responses)
 * until the queue is down to TX_RESUME_BYTES. Bounds what one connection
 * holds beyond its CmdSN window's commands. */
#define TX_PAUSE_BYTES       (4u << 20)
#define TX_RESUME_BYTES      (1u << 20)
/* Likewise with this much READ data in flight (commands accepted whose
 * last Data-In is not sent): the CmdSN window alone would let one
 * connection hold queue_depth x 32 MiB. One command is always taken. */
#define READ_PAUSE_BYTES     (16u << 20)
#define READ_RESUME_BYTES    (8u << 20)
/* accept() out of file descriptors: wait this long before trying again
 * (the listener stays readable: retrying at once would spin). */
#define ACCEPT_RETRY_MS      200

struct tcp_listener {
	struct iscsi_listener l;
	struct ev_source src;
	struct ev_timer retry;       /* accept paused after EMFILE/ENFILE */
	int fd;
};

struct tcp_conn {
	struct iscsi_conn conn;
	int fd;
	struct ev_source src;
	struct pdu_reader rx;
	struct tx_pdu_list txq;
	bool want_write;                     /* EPOLLOUT armed */
	bool rx_paused;                      /* EPOLLIN off: too much queued to send */
	uint64_t tx_queued;                  /* bytes on txq not yet written */
	struct ev_deferred flush_deferred;   /* one writev per batch of events */
	struct ev_deferred read_deferred;    /* more PDUs after the read budget */
};

static inline struct tcp_conn *tcp_of(struct iscsi_conn *conn)
{
	return container_of(conn, struct tcp_conn, conn);
}

static void tcp_on_event(struct event_loop *loop, uint32_t events, void *arg);
static void tcp_flush(struct tcp_conn *tc);
static void tcp_read(struct tcp_conn *tc);
static void tcp_read_deferred(void *arg);

/* --- accepting ------------------------------------------------------------- */

static void peer_name(int fd, char *out, size_t len)
{
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	char host[64] = "?";
	uint16_t port = 0;

	if (getpeername(fd, (struct sockaddr *)&peer, &plen) != 0)
		return;
	if (peer.ss_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&peer;
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		port = ntohs(sin->sin_port);
	} else if (peer.ss_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&peer;
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		port = ntohs(sin6->sin6_port);
	}
	snprintf(out, len, "%s:%u", host, port);
}

static struct iscsi_conn *tcp_conn_create(struct event_loop *loop, int fd)
{
	struct tcp_conn *tc = calloc(1, sizeof(*tc));
	socklen_t llen = sizeof(tc->conn.local_addr);
	int one = 1;

	if (!tc)
		return NULL;
	tc->fd = fd;
	TAILQ_INIT(&tc->txq);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	getsockname(fd, (struct sockaddr *)&tc->conn.local_addr, &llen);
	peer_name(fd, tc->conn.peer, sizeof(tc->conn.peer));
	pdu_reader_init(&tc->rx, LOGIN_MAX_DATA);
	if (ev_add(loop, &tc->src, fd, EPOLLIN | EPOLLRDHUP, tcp_on_event, tc) < 0) {
		pdu_reader_free(&tc->rx);
		free(tc);
		return NULL;
	}
	if (conn_init(&tc->conn, &iscsi_tcp_transport, loop) < 0) {
		ev_remove(loop, &tc->src);
		pdu_reader_free(&tc->rx);
		free(tc);
		return NULL;
	}
	return &tc->conn;
}

struct iscsi_conn *iscsi_tcp_adopt(struct event_loop *loop, int fd)
{
	if (event_loop_stopping(loop) || !conn_admissible())
		return NULL;
	return tcp_conn_create(loop, fd);
}

static void accept_retry(struct event_loop *loop, void *arg)
{
	struct tcp_listener *tl = arg;

	ev_modify(loop, &tl->src, EPOLLIN);
}

static void on_accept(struct event_loop *loop, uint32_t events, void *arg)
{
	struct tcp_listener *tl = arg;

	(void)events;
	for (int i = 0; i < 32; i++) {
		int fd = accept4(tl->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				/* The pending connection stays in the backlog;
				 * try again later instead of spinning on it. */
				log_warn("accept on %s:%u: %s (open-file limit; see --max-connections)",
					 tl->l.addr, tl->l.port, strerror(errno));
				ev_modify(loop, &tl->src, 0);
				ev_timer_arm(loop, &tl->retry, ACCEPT_RETRY_MS);
			} else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
				log_warn("accept on %s:%u: %s", tl->l.addr, tl->l.port, strerror(errno));
			}
			return;
		}
		/* Past --max-connections and the connections kept to refuse
		 * logins politely: close at once (conn.c). */
		if (event_loop_stopping(loop) || !conn_admissible() || !tcp_conn_create(loop, fd))
			close(fd);
	}
}

static struct iscsi_listener *tcp_listen(struct event_loop *loop, const char *addr, uint16_t port,
					 char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV,
				  .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai = NULL;
	struct tcp_listener *tl;
	char port_text[8];
	int fd = -1, one = 1, rc;

	snprintf(port_text, sizeof(port_text), "%u", port);
	rc = getaddrinfo(addr[0] ? addr : NULL, port_text, &hints, &ai);
	if (rc) {
		snprintf(err, errlen, "portal %s:%u: %s", addr, port, gai_strerror(rc));
		return NULL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	}
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
		snprintf(err, errlen, "cannot listen on %s:%u: %s", addr, port, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return NULL;
	}
	freeaddrinfo(ai);
	tl = calloc(1, sizeof(*tl));
	if (!tl || ev_add(loop, &tl->src, fd, EPOLLIN, on_accept, tl) < 0) {
		snprintf(err, errlen, "cannot register listener %s:%u", addr, port);
		close(fd);
		free(tl);
		return NULL;
	}
	tl->fd = fd;
	ev_timer_init(&tl->retry, accept_retry, tl);
	log_info("listening for iSCSI on %s:%u", addr, port);
	return &tl->l;
}

static void tcp_unlisten(struct event_loop *loop, struct iscsi_listener *l)
{
	struct tcp_listener *tl = container_of(l, struct tcp_listener, l);

	ev_remove(loop, &tl->src);
	ev_timer_cancel(loop, &tl->retry);
	close(tl->fd);
	free(tl);
}

/* --- connection lifecycle ----------------------------------------------------- */

/* What the connection waits for: requests unless paused, room to write
 * while output waits. EPOLLRDHUP only with EPOLLIN: level-triggered, it
 * would fire on and on while reading is paused (a closed peer shows as a
 * write error then). */
static uint32_t tcp_events(const struct tcp_conn *tc)
{
	return (tc->rx_paused ? 0 : EPOLLIN | EPOLLRDHUP) | (tc->want_write ? EPOLLOUT : 0);
}

static void tcp_conn_move(struct iscsi_conn *conn, struct event_loop *from, struct event_loop *to)
{
	struct tcp_conn *tc = tcp_of(conn);
	uint32_t events = tcp_events(tc);

	ev_remove(from, &tc->src);
	ev_defer_move(from, to, &tc->flush_deferred);
	ev_defer_move(from, to, &tc->read_deferred);
	if (ev_add(to, &tc->src, tc->fd, events, tcp_on_event, tc) < 0)
		conn_close(conn, "cannot hand the connection to its worker");
}

/* After the final Login Response: the negotiated digests and our declared
 * MaxRecvDataSegmentLength apply to what the initiator sends next. */
static void tcp_full_feature(struct iscsi_conn *conn)
{
	struct tcp_conn *tc = tcp_of(conn);

	tc->rx.header_digest = conn->sess->params.header_digest;
	tc->rx.data_digest = conn->sess->params.data_digest;
	tc->rx.max_data_len = conn->sess->params.target_max_recv_dsl;
}

static void tcp_quiesce(struct iscsi_conn *conn)
{
	ev_remove(conn->loop, &tcp_of(conn)->src);
}

static void tcp_conn_close(struct iscsi_conn *conn)
{
	struct tcp_conn *tc = tcp_of(conn);
	struct tx_pdu *pdu;

	if (tc->src.fn)
		ev_remove(conn->loop, &tc->src);
	shutdown(tc->fd, SHUT_RDWR);
	close(tc->fd);
	tc->fd = -1;
	/* Unsent PDUs are dropped; their tasks are released. */
	while ((pdu = TAILQ_FIRST(&tc->txq))) {
		TAILQ_REMOVE(&tc->txq, pdu, link);
		release_tx_pdu(pdu);
	}
}

static void tcp_conn_free(struct iscsi_conn *conn)
{
	struct tcp_conn *tc = tcp_of(conn);
	struct tx_pdu *pdu;

	while ((pdu = TAILQ_FIRST(&tc->txq))) {
		TAILQ_REMOVE(&tc->txq, pdu, link);
		conn_pdu_free(pdu);
	}
	pdu_reader_free(&tc->rx);
	free(tc);
}

/* --- transmit ---------------------------------------------------------------- */

static bool tcp_header_digest(const struct iscsi_conn *conn)
{
	return conn->state != CONN_LOGIN && conn->sess && conn->sess->params.header_digest;
}

static bool tcp_data_digest(const struct iscsi_conn *conn)
{
	return conn->state != CONN_LOGIN && conn->sess && conn->sess->params.data_digest;
}

static uint32_t pdu_wire_len(const struct tx_pdu *pdu)
{
	return pdu->hdr_len + pdu->data_len + pdu->trailer_len;
}

static void tcp_flush_deferred(void *arg)
{
	struct tcp_conn *tc = arg;

	tcp_flush(tc);
	conn_put(&tc->conn);
}

static void tcp_send_pdu(struct iscsi_conn *conn, struct tx_pdu *pdu)
{
	struct tcp_conn *tc = tcp_of(conn);

	/* Digests follow the connection's state when the PDU is queued: the
	 * final login response goes out without them even if the flush
	 * happens after full feature phase began. */
	pdu->hdr_len = ISCSI_BHS_LEN;
	pdu->trailer_len = 0;
	if (tcp_header_digest(conn)) {
		crc32c_put(pdu->hdr + ISCSI_BHS_LEN, pdu_header_digest(pdu->hdr, NULL, 0));
		pdu->hdr_len += ISCSI_DIGEST_LEN;
	}
	if (pdu->data_len) {
		uint32_t pad = ISCSI_PAD(pdu->data_len) - pdu->data_len;
		memset(pdu->trailer, 0, pad);
		pdu->trailer_len = (uint8_t)pad;
		if (tcp_data_digest(conn)) {
			uint32_t crc = crc32c(0, pdu->data, pdu->data_len);
			crc = crc32c(crc, pdu->trailer, pad);
			crc32c_put(pdu->trailer + pad, crc);
			pdu->trailer_len += ISCSI_DIGEST_LEN;
		}
	}
	pdu->sent = 0;
	TAILQ_INSERT_TAIL(&tc->txq, pdu, link);
	tc->tx_queued += pdu_wire_len(pdu);
	/* Flush once the current batch of events is handled: the responses
	 * of many commands leave in one writev (design.md principle 2). */
	if (!tc->flush_deferred.queued && !tc->want_write) {
		conn_get(conn);
		ev_defer(conn->loop, &tc->flush_deferred, tcp_flush_deferred, tc);
	}
}

/* Build the iovecs of one PDU, skipping what was already sent. */
static int pdu_iov(const struct tx_pdu *pdu, struct iovec *iov)
{
	struct { const uint8_t *p; uint32_t len; } parts[3] = {
		{ pdu->hdr, pdu->hdr_len }, { pdu->data, pdu->data_len },
		{ pdu->trailer, pdu->trailer_len },
	};
	uint32_t skip = pdu->sent;
	int n = 0;

	for (int i = 0; i < 3; i++) {
		if (skip >= parts[i].len) {
			skip -= parts[i].len;
			continue;
		}
		iov[n].iov_base = (void *)(parts[i].p + skip);
		iov[n].iov_len = parts[i].len - skip;
		skip = 0;
		n++;
	}
	return n;
}

static void tcp_flush(struct tcp_conn *tc)
{
	struct iscsi_conn *conn = &tc->conn;

	while (!TAILQ_EMPTY(&tc->txq) && conn->state != CONN_CLOSED) {
		struct iovec iov[TX_IOV_BATCH * 3];
		struct tx_pdu *pdu;
		int n = 0, count = 0;
		ssize_t w;

		TAILQ_FOREACH(pdu, &tc->txq, link) {
			if (count++ == TX_IOV_BATCH)
				break;
			n += pdu_iov(pdu, iov + n);
		}
		w = writev(tc->fd, iov, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				if (!tc->want_write) {
					tc->want_write = true;
					ev_modify(conn->loop, &tc->src, tcp_events(tc));
				}
				return;
			}
			conn_close(conn, strerror(errno));
			return;
		}
		conn->tx_bytes += (uint64_t)w;
		tc->tx_queued -= (uint64_t)w;
		while (w > 0 && (pdu = TAILQ_FIRST(&tc->txq))) {
			uint32_t left = pdu_wire_len(pdu) - pdu->sent;
			if ((uint64_t)w < left) {
				pdu->sent += (uint32_t)w;
				break;
			}
			w -= left;
			TAILQ_REMOVE(&tc->txq, pdu, link);
			if (pdu->close_after) {
				release_tx_pdu(pdu);
				conn_close(conn, "logged out");
				return;
			}
			release_tx_pdu(pdu);
		}
	}
	if (conn->state == CONN_CLOSED)
		return;
	if (tc->rx_paused && tc->tx_queued <= TX_RESUME_BYTES &&
	    conn->read_inflight <= READ_RESUME_BYTES) {
		tc->rx_paused = false;
		log_debug("%s: initiator reads again, reading its requests again", conn->peer);
		/* Requests may wait in the reader's buffer, which epoll does
		 * not report. */
		if (!tc->read_deferred.queued) {
			conn_get(conn);
			ev_defer(conn->loop, &tc->read_deferred, tcp_read_deferred, tc);
		}
		ev_modify(conn->loop, &tc->src, tcp_events(tc));
	}
	if (tc->want_write && TAILQ_EMPTY(&tc->txq)) {
		tc->want_write = false;
		ev_modify(conn->loop, &tc->src, tcp_events(tc));
	}
}

/* --- a task's data ----------------------------------------------------------------- */

/* Put_Data over TCP: Data-In PDUs (11.7) of at most the initiator's
 * MaxRecvDataSegmentLength, F at the end of each MaxBurstLength sequence
 * (13.14), the last one carrying the status when allowed (11.7.4). */
static bool tcp_put_data(struct iscsi_task *task, uint32_t total, bool with_status)
{
	struct iscsi_conn *conn = task->conn;
	struct scsi_cmd *cmd = &task->cmd;
	const struct iscsi_session_params *p = &task->sess->params;
	uint32_t seg_max = p->initiator_max_recv_dsl ? p->initiator_max_recv_dsl : 8192;
	uint32_t burst = p->max_burst_length ? p->max_burst_length : total;
	uint32_t offset = 0, in_burst = 0;

	while (offset < total) {
		struct tx_pdu *pdu = conn_new_pdu(conn);
		uint32_t len = MIN(seg_max, total - offset);
		bool last;
		uint8_t flags = 0;

		if (!pdu)
			break;
		len = MIN(len, burst - in_burst);
		last = offset + len == total;
		in_burst += len;
		bhs_init(pdu->hdr, ISCSI_OP_DATA_IN);
		put_be32(pdu->hdr + 16, task->itt);
		put_be32(pdu->hdr + 20, ISCSI_RESERVED_TAG);
		put_be32(pdu->hdr + 36, task->data_in_pdus++);
		put_be32(pdu->hdr + 40, offset);
		if (last || in_burst == burst) {
			flags |= ISCSI_FLAG_FINAL;   /* end of a sequence (13.14) */
			in_burst = 0;
		}
		if (last && with_status) {
			flags |= ISCSI_DATA_STATUS;
			pdu->hdr[3] = cmd->status;
			task_set_residual(pdu->hdr, &flags, cmd->transfer_len, cmd->expected_len,
					  ISCSI_DATA_OVERFLOW, ISCSI_DATA_UNDERFLOW);
			conn_fill_sn(conn, pdu->hdr, true);
		} else {
			conn_fill_sn(conn, pdu->hdr, false);
			put_be32(pdu->hdr + 24, 0);   /* StatSN reserved without S */
		}
		pdu->hdr[1] = flags;
		pdu->data = cmd->buf + offset;
		pdu->data_len = len;
		pdu->task = task;
		task_get(task);
		offset += len;
		conn_queue_pdu(conn, pdu);
		if (conn->state == CONN_CLOSED)
			break;
	}
	return with_status && offset == total && total > 0;
}

/* Get_Data over TCP: one R2T (11.8) for the burst; the Data-Out PDUs
 * that answer it arrive through conn_receive_pdu(). */
static void tcp_get_data(struct iscsi_task *task, uint32_t offset, uint32_t len)
{
	struct iscsi_conn *conn = task->conn;
	struct tx_pdu *pdu = conn_new_pdu(conn);

	if (!pdu)
		return;
	bhs_init(pdu->hdr, ISCSI_OP_R2T);
	pdu->hdr[1] = ISCSI_FLAG_FINAL;
	put_be32(pdu->hdr + 16, task->itt);
	put_be32(pdu->hdr + 20, task->ttt);
	conn_fill_sn(conn, pdu->hdr, false);
	put_be32(pdu->hdr + 36, task->r2t_sn);
	put_be32(pdu->hdr + 40, offset);
	put_be32(pdu->hdr + 44, len);
	conn_queue_pdu(conn, pdu);
}

/* --- tasks ---------------------------------------------------------------------------- */

/* Task structures are recycled per thread (task_cache.h). */
static __thread struct task_cache tcp_tasks;

static struct iscsi_task *tcp_task_alloc(struct iscsi_conn *conn)
{
	(void)conn;
	return task_cache_get(&tcp_tasks, sizeof(struct iscsi_task));
}

static void tcp_task_free(struct iscsi_task *task)
{
	task_cache_put(&tcp_tasks, task);
}

static void tcp_thread_trim(void)
{
	task_cache_trim(&tcp_tasks);
}

/* --- receive ------------------------------------------------------------------------------ */

static uint8_t *tcp_data_dest(void *arg, const uint8_t *bhs, uint32_t len)
{
	return conn_rx_data_dest(arg, bhs, len);
}

static void tcp_read_deferred(void *arg)
{
	struct tcp_conn *tc = arg;
	struct iscsi_conn *conn = &tc->conn;

	if (conn->state != CONN_CLOSED && conn->state != CONN_LOGGED_OUT && !conn->close_posted)
		tcp_read(tc);
	conn_put(conn);
}

static void tcp_read(struct tcp_conn *tc)
{
	struct iscsi_conn *conn = &tc->conn;

	/* Bound the work per wakeup so one busy connection cannot starve
	 * others; what is left (possibly already buffered, which epoll would
	 * not report) is picked up again right after this batch. */
	for (int budget = 64; conn->state != CONN_CLOSED && !conn->close_posted; budget--) {
		/* Handed to a worker by the login just handled: it reads on. */
		if (budget == 0 || conn->loop != event_loop_current()) {
			if (!tc->read_deferred.queued) {
				conn_get(conn);
				ev_defer(conn->loop, &tc->read_deferred, tcp_read_deferred, tc);
			}
			return;
		}
		enum pdu_read_status st;

		if ((tc->tx_queued > TX_PAUSE_BYTES || conn->read_inflight > READ_PAUSE_BYTES) &&
		    !tc->rx_paused) {
			/* The initiator does not read what we send: no new
			 * requests until it does (tcp_flush resumes). */
			tc->rx_paused = true;
			log_debug("%s: %llu bytes wait to be sent, %llu bytes of reads in flight: "
				  "not reading requests", conn->peer, (unsigned long long)tc->tx_queued,
				  (unsigned long long)conn->read_inflight);
			ev_modify(conn->loop, &tc->src, tcp_events(tc));
		}
		if (tc->rx_paused)
			return;
		tc->rx.data_dest = tcp_data_dest;
		tc->rx.data_dest_arg = conn;
		st = pdu_reader_read(&tc->rx, tc->fd);
		switch (st) {
		case PDU_READ_AGAIN:
			return;
		case PDU_READ_READY:
			conn_receive_pdu(conn, &tc->rx.pdu);
			pdu_reader_next(&tc->rx);
			break;
		case PDU_READ_DATA_DIGEST:
			/* 7.8.2: reject, the session continues (ERL 0 for
			 * commands: the initiator retries or times out). */
			conn_send_reject(conn, ISCSI_REJECT_DATA_DIGEST, tc->rx.pdu.bhs);
			pdu_reader_next(&tc->rx);
			break;
		case PDU_READ_HEADER_DIGEST:
			conn_close(conn, "header digest error");
			return;
		case PDU_READ_TOO_LONG:
			if (conn->state == CONN_LOGIN) {
				/* Not an iSCSI login (RFC 7143 6.1: the first
				 * PDU is a Login Request of at most 8192 bytes
				 * of data): nothing to answer, close. */
				conn_close(conn, "not a valid login PDU");
				return;
			}
			/* The stream cannot be resynchronised: reject, then close
			 * once the Reject is out (RFC 7143 7.x protocol error). */
			conn_reject_and_close(conn, ISCSI_REJECT_PROTOCOL_ERROR, tc->rx.pdu.bhs,
					      "data segment longer than MaxRecvDataSegmentLength");
			return;
		case PDU_READ_CLOSED:
			conn_close(conn, conn->state == CONN_LOGGED_OUT ? NULL : "closed by initiator");
			return;
		case PDU_READ_IO_ERROR:
			conn_close(conn, strerror(errno));
			return;
		}
	}
}

static void tcp_on_event(struct event_loop *loop, uint32_t events, void *arg)
{
	struct tcp_conn *tc = arg;
	struct iscsi_conn *conn = &tc->conn;

	(void)loop;
	conn_get(conn);
	if (events & EPOLLOUT)
		tcp_flush(tc);
	if ((events & (EPOLLHUP | EPOLLERR)) && tc->rx_paused && conn->state != CONN_CLOSED) {
		/* Not reading, so no end of stream to see: the error is it. */
		conn_close(conn, "connection lost while its output waited");
		conn_put(conn);
		return;
	}
	if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && conn->state == CONN_LOGGED_OUT) {
		/* Nothing more is accepted after logout: discard until closed. */
		char scratch[4096];
		ssize_t n = read(tc->fd, scratch, sizeof(scratch));
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			conn_close(conn, NULL);
	} else if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && conn->state != CONN_CLOSED) {
		tcp_read(tc);
	}
	conn_put(conn);
}

const struct iscsi_transport iscsi_tcp_transport = {
	.name = "tcp",
	.kind = PORTAL_TCP,
	.listen = tcp_listen,
	.unlisten = tcp_unlisten,
	.conn_move = tcp_conn_move,
	.full_feature = tcp_full_feature,
	.quiesce = tcp_quiesce,
	.conn_close = tcp_conn_close,
	.conn_free = tcp_conn_free,
	.send_pdu = tcp_send_pdu,
	.put_data = tcp_put_data,
	.get_data = tcp_get_data,
	.task_alloc = tcp_task_alloc,
	.task_free = tcp_task_free,
	.thread_trim = tcp_thread_trim,
	/* RFC 7143 login needs no transport keys: login_key, login_declare unset */
};
