#include "event_loop.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define EV_BATCH 64

static __thread uint64_t loop_now_ns;   /* 0: this thread runs no loop */

uint64_t ev_now_ns(void)
{
	return loop_now_ns ? loop_now_ns : now_ns();
}

uint64_t ev_now_ms(void)
{
	return ev_now_ns() / 1000000ULL;
}

struct event_loop {
	int epfd;
	bool stop;
	/* The batch being dispatched: ev_remove() clears entries of a source
	 * removed mid-batch so the loop never calls into freed memory. */
	struct epoll_event *batch;
	int batch_len;
	TAILQ_HEAD(, ev_timer) timers;       /* sorted by deadline */
	TAILQ_HEAD(, ev_deferred) deferred;
};

struct event_loop *event_loop_create(void)
{
	struct event_loop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return NULL;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		free(loop);
		return NULL;
	}
	TAILQ_INIT(&loop->timers);
	TAILQ_INIT(&loop->deferred);
	return loop;
}

void event_loop_destroy(struct event_loop *loop)
{
	if (!loop)
		return;
	close(loop->epfd);
	free(loop);
}

int ev_add(struct event_loop *loop, struct ev_source *src, int fd, uint32_t events,
	   ev_fd_fn fn, void *arg)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };

	src->fd = fd;
	src->fn = fn;
	src->arg = arg;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	return 0;
}

int ev_modify(struct event_loop *loop, struct ev_source *src, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };

	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, src->fd, &ev) < 0)
		return -errno;
	return 0;
}

void ev_remove(struct event_loop *loop, struct ev_source *src)
{
	if (src->fd >= 0)
		epoll_ctl(loop->epfd, EPOLL_CTL_DEL, src->fd, NULL);
	src->fn = NULL;
	for (int i = 0; i < loop->batch_len; i++)
		if (loop->batch[i].data.ptr == src)
			loop->batch[i].data.ptr = NULL;
}

void ev_timer_init(struct ev_timer *t, ev_timer_fn fn, void *arg)
{
	t->fn = fn;
	t->arg = arg;
	t->armed = false;
}

void ev_timer_arm(struct event_loop *loop, struct ev_timer *t, uint64_t after_ms)
{
	struct ev_timer *pos;

	ev_timer_cancel(loop, t);
	t->deadline_ms = ev_now_ms() + after_ms;
	TAILQ_FOREACH(pos, &loop->timers, link)
		if (pos->deadline_ms > t->deadline_ms)
			break;
	if (pos)
		TAILQ_INSERT_BEFORE(pos, t, link);
	else
		TAILQ_INSERT_TAIL(&loop->timers, t, link);
	t->armed = true;
}

void ev_timer_cancel(struct event_loop *loop, struct ev_timer *t)
{
	if (t->armed) {
		TAILQ_REMOVE(&loop->timers, t, link);
		t->armed = false;
	}
}

void ev_defer(struct event_loop *loop, struct ev_deferred *d, ev_defer_fn fn, void *arg)
{
	if (d->queued)
		return;
	d->fn = fn;
	d->arg = arg;
	d->queued = true;
	TAILQ_INSERT_TAIL(&loop->deferred, d, link);
}

void ev_defer_cancel(struct event_loop *loop, struct ev_deferred *d)
{
	if (d->queued) {
		TAILQ_REMOVE(&loop->deferred, d, link);
		d->queued = false;
	}
}

static void run_deferred(struct event_loop *loop)
{
	struct ev_deferred *d;

	while ((d = TAILQ_FIRST(&loop->deferred))) {
		TAILQ_REMOVE(&loop->deferred, d, link);
		d->queued = false;
		d->fn(d->arg);
	}
}

static int next_timeout(struct event_loop *loop, int limit_ms)
{
	struct ev_timer *t = TAILQ_FIRST(&loop->timers);
	uint64_t now;
	int ms;

	if (!TAILQ_EMPTY(&loop->deferred))
		return 0;
	if (!t)
		return limit_ms;
	now = ev_now_ms();
	ms = t->deadline_ms <= now ? 0 : (int)MIN(t->deadline_ms - now, 60000);
	return limit_ms < 0 ? ms : MIN(ms, limit_ms);
}

static void run_timers(struct event_loop *loop)
{
	uint64_t now = ev_now_ms();
	struct ev_timer *t;

	while ((t = TAILQ_FIRST(&loop->timers)) && t->deadline_ms <= now) {
		TAILQ_REMOVE(&loop->timers, t, link);
		t->armed = false;
		t->fn(loop, t->arg);
	}
}

int event_loop_run_once(struct event_loop *loop, int timeout_ms)
{
	struct epoll_event events[EV_BATCH];
	int n = epoll_wait(loop->epfd, events, EV_BATCH, next_timeout(loop, timeout_ms));

	if (n < 0 && errno != EINTR)
		return -errno;
	loop_now_ns = now_ns();
	loop->batch = events;
	loop->batch_len = n;
	for (int i = 0; i < n; i++) {
		struct ev_source *src = events[i].data.ptr;
		if (src && src->fn)
			src->fn(loop, events[i].events, src->arg);
	}
	loop->batch_len = 0;
	loop->batch = NULL;
	/* Deferred work (batched backstore submission, completions) runs
	 * once per batch, so one io_submit can carry many connections' I/O. */
	run_timers(loop);
	run_deferred(loop);
	return 0;
}

int event_loop_run(struct event_loop *loop)
{
	while (!loop->stop) {
		int rc = event_loop_run_once(loop, -1);
		if (rc < 0) {
			log_error("event loop: epoll_wait failed: %d", rc);
			return rc;
		}
	}
	return 0;
}

void event_loop_stop(struct event_loop *loop)
{
	loop->stop = true;
}

bool event_loop_stopping(struct event_loop *loop)
{
	return loop->stop;
}
