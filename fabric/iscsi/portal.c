/* Network portals: listening sockets for the configured addresses, the
 * accept path, and orderly shutdown of every connection. */
#include "iscsi.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../gateway/log.h"

static TAILQ_HEAD(, iscsi_listener) listeners = TAILQ_HEAD_INITIALIZER(listeners);

static void on_accept(struct event_loop *loop, uint32_t events, void *arg)
{
	struct iscsi_listener *l = arg;

	(void)events;
	for (int i = 0; i < 32; i++) {
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("accept on %s:%u: %s", l->addr, l->port, strerror(errno));
			return;
		}
		if (event_loop_stopping(loop) || !conn_create(loop, fd))
			close(fd);
	}
}

static struct iscsi_listener *listen_on(struct event_loop *loop, const char *addr, uint16_t port,
					char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV,
				  .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai = NULL;
	struct iscsi_listener *l;
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
	l = calloc(1, sizeof(*l));
	if (!l || ev_add(loop, &l->src, fd, EPOLLIN, on_accept, l) < 0) {
		snprintf(err, errlen, "cannot register listener %s:%u", addr, port);
		close(fd);
		free(l);
		return NULL;
	}
	l->fd = fd;
	str_copy(l->addr, addr, sizeof(l->addr));
	l->port = port;
	TAILQ_INSERT_TAIL(&listeners, l, link);
	log_info("listening for iSCSI on %s:%u", addr, port);
	return l;
}

static void listener_close(struct event_loop *loop, struct iscsi_listener *l)
{
	ev_remove(loop, &l->src);
	close(l->fd);
	TAILQ_REMOVE(&listeners, l, link);
	log_info("stopped listening on %s:%u", l->addr, l->port);
	free(l);
}

int iscsi_portals_changed(struct gateway *gw, char *err, size_t errlen)
{
	struct iscsi_listener *l, *next;
	struct portal *p;

	/* Close listeners no longer configured, open new ones; existing
	 * connections are not touched. */
	for (l = TAILQ_FIRST(&listeners); l; l = next) {
		bool keep = false;
		next = TAILQ_NEXT(l, link);
		TAILQ_FOREACH(p, &gw->portals, link)
			if (p->port == l->port && !strcmp(p->addr, l->addr))
				keep = true;
		if (!keep)
			listener_close(gw->loop, l);
	}
	TAILQ_FOREACH(p, &gw->portals, link) {
		bool have = false;
		TAILQ_FOREACH(l, &listeners, link)
			if (p->port == l->port && !strcmp(p->addr, l->addr))
				have = true;
		if (!have && !listen_on(gw->loop, p->addr, p->port, err, errlen))
			return -1;
	}
	return 0;
}

int iscsi_fabric_start(struct gateway *gw, char *err, size_t errlen)
{
	return iscsi_portals_changed(gw, err, errlen);
}

void iscsi_fabric_stop(struct gateway *gw)
{
	struct iscsi_listener *l;

	while ((l = TAILQ_FIRST(&listeners)))
		listener_close(gw->loop, l);
}

unsigned iscsi_connection_count(void)
{
	struct iscsi_conn *c;
	unsigned n = 0;

	TAILQ_FOREACH(c, &iscsi_conns, link)
		n++;
	return n;
}

void iscsi_thread_trim(void)
{
	task_cache_trim();
	conn_pdu_cache_trim();
}

void iscsi_fabric_shutdown(struct gateway *gw, unsigned timeout_ms)
{
	uint64_t deadline = now_ms() + timeout_ms;
	struct iscsi_conn *c;

	iscsi_fabric_stop(gw);
	/* RFC 7143 11.9.1: ask initiators to log out, let them finish. */
	TAILQ_FOREACH(c, &iscsi_conns, link)
		conn_send_async_logout(c);
	while (!TAILQ_EMPTY(&iscsi_conns) && now_ms() < deadline)
		event_loop_run_once(gw->loop, 50);
	while ((c = TAILQ_FIRST(&iscsi_conns)))
		conn_close(c, "gateway shutting down");
	/* Let aborted commands and frees finish. */
	for (int i = 0; i < 100; i++)
		event_loop_run_once(gw->loop, 10);
}
