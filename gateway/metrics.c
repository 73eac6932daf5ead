/* The metrics endpoint's HTTP side (metrics.h): libmicrohttpd without a
 * thread of its own. MHD runs in its epoll mode; its epoll fd is a source
 * of the control loop and MHD_get_timeout() a timer of it, and MHD_run()
 * is called from there, so requests are parsed, and the page is built, on
 * the control thread, with the world running (workers_run_unstopped).
 * GET and HEAD of /metrics answer the page; any other path is 404, any
 * other method on /metrics 405; malformed requests are MHD's to refuse. */
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef HAVE_MICROHTTPD
#include <microhttpd.h>
#endif

#include "event_loop.h"
#include "log.h"
#include "model.h"
#include "util.h"
#include "workers.h"

/* Prometheus text exposition format 0.0.4. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define METRICS_PATH "/metrics"
/* Scrapers are few; a connection idle this long is closed. */
#define METRICS_MAX_CONNECTIONS 32
#define METRICS_IDLE_TIMEOUT_S 10

bool metrics_available(void)
{
#ifdef HAVE_MICROHTTPD
	return true;
#else
	return false;
#endif
}

/* "ADDR:PORT" or "[V6ADDR]:PORT", numeric, port 1-65535. */
static int parse_listen(const char *text, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *start = text;
	size_t host_len;
	char *end;
	unsigned long port;

	memset(ss, 0, sizeof(*ss));
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (!close || close[1] != ':')
			return -1;
		start = text + 1;
		host_len = (size_t)(close - start);
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon)
			return -1;
		host_len = (size_t)(colon - text);
	}
	if (host_len == 0 || host_len >= sizeof(host))
		return -1;
	memcpy(host, start, host_len);
	host[host_len] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || colon[1] < '0' || colon[1] > '9' || port == 0 || port > 65535)
		return -1;
	if (text[0] != '[') {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return -1;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return -1;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*sin6);
	}
	return 0;
}

int metrics_check_address(const char *addr_port, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (!metrics_available()) {
		snprintf(err, errlen, "--metrics: this sangwd was built without libmicrohttpd "
			 "(apt-get install libmicrohttpd-dev, then configure and build again)");
		return -1;
	}
	if (parse_listen(addr_port, &ss, &len) < 0) {
		snprintf(err, errlen, "--metrics '%s': expected ADDR:PORT or [IPV6ADDR]:PORT "
			 "(numeric address, port 1-65535)", addr_port);
		return -1;
	}
	return 0;
}

#ifdef HAVE_MICROHTTPD

struct metrics_server {
	struct gateway *gw;
	struct MHD_Daemon *mhd;
	struct ev_source src;            /* MHD's epoll fd */
	struct ev_timer timer;           /* MHD's next timeout */
	char where[80];                  /* ADDR:PORT as given, for the log */
};

/* The one endpoint of this process (see metrics_start). */
static struct metrics_server *running_server;

/* Bound here rather than by MHD, so a port in use is reported as such. */
static int open_listener(const char *text, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	if (metrics_check_address(text, err, errlen) < 0 || parse_listen(text, &ss, &len) < 0)
		return -1;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 16) < 0) {
		snprintf(err, errlen, "--metrics: cannot listen on %s: %s", text, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
								 MHD_RESPMEM_PERSISTENT);
	enum MHD_Result rc;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_ctx)
{
	struct metrics_server *m = cls;
	struct metrics_buf page = { 0 };
	struct MHD_Response *r;
	enum MHD_Result rc;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)req_ctx;
	/* Answered at the first call, with the headers: no request here has
	 * a body worth reading (MHD discards one and closes). */
	if (strcmp(url, METRICS_PATH) != 0)
		return respond(conn, MHD_HTTP_NOT_FOUND, "not found: the metrics are at " METRICS_PATH "\n");
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return respond(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: use GET\n");
	if (metrics_render(m->gw, &page) < 0) {
		metrics_buf_free(&page);
		return respond(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	}
	r = MHD_create_response_from_buffer(page.len, page.data ? page.data : (char *)"",
					    page.data ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!r) {
		metrics_buf_free(&page);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, METRICS_CONTENT_TYPE);
	rc = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return rc;
}

static void mhd_log(void *arg, const char *fmt, va_list ap)
{
	char text[256];

	(void)arg;
	vsnprintf(text, sizeof(text), fmt, ap);
	text[strcspn(text, "\n")] = '\0';
	log_warn("metrics: %s", text);
}

static void mhd_run(void *arg)
{
	struct metrics_server *m = arg;

	MHD_run(m->mhd);
}

/* Let MHD do what is ready, then wake again when it next needs to. */
static void metrics_poll(struct metrics_server *m)
{
	MHD_UNSIGNED_LONG_LONG timeout_ms;

	workers_run_unstopped(mhd_run, m);
	if (MHD_get_timeout(m->mhd, &timeout_ms) == MHD_YES)
		ev_timer_arm(m->gw->loop, &m->timer, timeout_ms);
	else
		ev_timer_cancel(m->gw->loop, &m->timer);
}

static void on_mhd_ready(struct event_loop *loop, uint32_t events, void *arg)
{
	(void)loop;
	(void)events;
	metrics_poll(arg);
}

static void on_mhd_timeout(struct event_loop *loop, void *arg)
{
	(void)loop;
	metrics_poll(arg);
}

int metrics_start(struct gateway *gw, const char *addr_port, char *err, size_t errlen)
{
	struct metrics_server *m;
	const union MHD_DaemonInfo *info;
	int fd;

	if (running_server) {
		snprintf(err, errlen, "the metrics endpoint is already running");
		return -1;
	}
	fd = open_listener(addr_port, err, errlen);
	if (fd < 0)
		return -1;
	m = calloc(1, sizeof(*m));
	if (!m) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	m->gw = gw;
	str_copy(m->where, addr_port, sizeof(m->where));
	ev_timer_init(&m->timer, on_mhd_timeout, m);
	/* No MHD_USE_INTERNAL_POLLING_THREAD: MHD runs when we call it. */
	m->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, m,
				  MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,   /* first: MHD asks */
				  MHD_OPTION_LISTEN_SOCKET, fd,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_MAX_CONNECTIONS,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_IDLE_TIMEOUT_S,
				  MHD_OPTION_END);
	info = m->mhd ? MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
	if (!info || ev_add(gw->loop, &m->src, info->epoll_fd, EPOLLIN, on_mhd_ready, m) < 0) {
		snprintf(err, errlen, "--metrics: cannot start the HTTP server on %s", addr_port);
		if (m->mhd)
			MHD_stop_daemon(m->mhd);   /* closes fd */
		else
			close(fd);
		free(m);
		return -1;
	}
	running_server = m;
	log_info("metrics: Prometheus endpoint on http://%s%s", addr_port, METRICS_PATH);
	return 0;
}

void metrics_stop(void)
{
	struct metrics_server *m = running_server;

	if (!m)
		return;
	ev_timer_cancel(m->gw->loop, &m->timer);
	ev_remove(m->gw->loop, &m->src);
	MHD_stop_daemon(m->mhd);   /* closes the connections and the listener */
	log_info("metrics: stopped serving on %s", m->where);
	free(m);
	running_server = NULL;
}

#else /* !HAVE_MICROHTTPD */

int metrics_start(struct gateway *gw, const char *addr_port, char *err, size_t errlen)
{
	(void)gw;
	/* Refuses with "built without libmicrohttpd" in this build. */
	metrics_check_address(addr_port, err, errlen);
	return -1;
}

void metrics_stop(void)
{
}

#endif
