/* The Prometheus endpoint: `sangwd --metrics ADDR:PORT` serves GET
 * /metrics in the text exposition format 0.0.4 (docs/metrics.md names and
 * explains every metric).
 *
 * The HTTP server (libmicrohttpd, metrics.c) runs inside the control
 * thread's event loop: its epoll fd is one of the loop's sources and its
 * timeout one of the loop's timers, so no thread of its own ever reads
 * gateway state. The page (metrics_text.c) is built from the model on the
 * control thread with the world running (workers_run_unstopped): a scrape
 * never takes a lock the data path takes; per-LU counters are read with
 * relaxed atomics (model.h lu_stat_read). */
#ifndef SANGW_METRICS_H
#define SANGW_METRICS_H

#include <stdbool.h>
#include <stddef.h>

struct gateway;

/* A growing text buffer; failed once an allocation failed. */
struct metrics_buf {
	char *data;
	size_t len, cap;
	bool failed;
};

/* Append the whole exposition of gw to buf (control thread). Returns 0,
 * or -ENOMEM (buf keeps what it had; free it with metrics_buf_free). */
int metrics_render(struct gateway *gw, struct metrics_buf *buf);
void metrics_buf_free(struct metrics_buf *buf);

/* Was sangwd built with libmicrohttpd (i.e. can --metrics work)? */
bool metrics_available(void);

/* Is addr_port something metrics_start() can listen on (and was sangwd
 * built with libmicrohttpd)? 0, or -1 with a message in err. */
int metrics_check_address(const char *addr_port, char *err, size_t errlen);

/* Listen on ADDR:PORT ([V6]:PORT for IPv6) and serve from gw's control
 * loop. Returns 0, or -1 with a message for the operator in err (bad
 * address, port in use, built without libmicrohttpd). */
int metrics_start(struct gateway *gw, const char *addr_port, char *err, size_t errlen);
/* Stop serving and close the socket (no-op when not started). */
void metrics_stop(void);

#endif
