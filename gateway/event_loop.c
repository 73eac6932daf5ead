#include "event_loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define EV_BATCH 64
/* Sources removed by another thread while the loop waited: their events
 * may already sit in the batch epoll_wait returns. */
#define EV_REMOVED_MAX 32

static __thread uint64_t loop_now_ns;   /* 0: this thread runs no loop */
static __thread struct event_loop *this_loop;
/* Its address identifies the calling thread as a loop's holder. */
static __thread char this_thread_token;

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
	uint64_t defer_round;                /* run_deferred() passes so far */

	/* --- threads (see event_loop.h) --- */
	bool threaded;                       /* hooks set: others may hold it */
	void (*enter)(void *arg);
	void (*leave)(void *arg);
	void *hook_arg;
	pthread_mutex_t lock;
	_Atomic(uintptr_t) holder;           /* token of the thread holding lock */
	pthread_mutex_t inbox_lock;          /* a leaf lock: nothing taken inside */
	TAILQ_HEAD(, ev_deferred) inbox;
	int wake_fd;
	atomic_bool woken;
	struct ev_source wake_src;
	void *removed[EV_REMOVED_MAX];
	unsigned n_removed;
	bool removed_overflow;
};

static void wake_event(struct event_loop *loop, uint32_t events, void *arg)
{
	eventfd_t count;

	(void)events;
	(void)arg;
	atomic_store(&loop->woken, false);
	eventfd_read(loop->wake_fd, &count);
	/* The inbox is emptied by run_deferred() after this batch. */
}

struct event_loop *event_loop_create(void)
{
	struct event_loop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return NULL;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	loop->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (loop->epfd < 0 || loop->wake_fd < 0) {
		if (loop->epfd >= 0)
			close(loop->epfd);
		if (loop->wake_fd >= 0)
			close(loop->wake_fd);
		free(loop);
		return NULL;
	}
	TAILQ_INIT(&loop->timers);
	TAILQ_INIT(&loop->deferred);
	TAILQ_INIT(&loop->inbox);
	pthread_mutex_init(&loop->lock, NULL);
	pthread_mutex_init(&loop->inbox_lock, NULL);
	atomic_init(&loop->holder, 0);
	atomic_init(&loop->woken, false);
	if (ev_add(loop, &loop->wake_src, loop->wake_fd, EPOLLIN, wake_event, NULL) < 0) {
		event_loop_destroy(loop);
		return NULL;
	}
	return loop;
}

void event_loop_destroy(struct event_loop *loop)
{
	if (!loop)
		return;
	if (this_loop == loop)
		this_loop = NULL;
	close(loop->wake_fd);
	close(loop->epfd);
	pthread_mutex_destroy(&loop->inbox_lock);
	pthread_mutex_destroy(&loop->lock);
	free(loop);
}

/* --- threads ----------------------------------------------------------- */

void event_loop_set_hooks(struct event_loop *loop, void (*enter)(void *arg),
			  void (*leave)(void *arg), void *arg)
{
	loop->enter = enter;
	loop->leave = leave;
	loop->hook_arg = arg;
	loop->threaded = enter || leave;
}

void event_loop_lock(struct event_loop *loop)
{
	pthread_mutex_lock(&loop->lock);
	atomic_store_explicit(&loop->holder, (uintptr_t)&this_thread_token, memory_order_relaxed);
}

void event_loop_unlock(struct event_loop *loop)
{
	atomic_store_explicit(&loop->holder, 0, memory_order_relaxed);
	pthread_mutex_unlock(&loop->lock);
}

bool event_loop_held(struct event_loop *loop)
{
	return !loop->threaded || loop == this_loop ||
	       atomic_load_explicit(&loop->holder, memory_order_relaxed) ==
		       (uintptr_t)&this_thread_token;
}

struct event_loop *event_loop_current(void)
{
	return this_loop;
}

void event_loop_wake(struct event_loop *loop)
{
	if (atomic_exchange(&loop->woken, true))
		return;
	eventfd_write(loop->wake_fd, 1);
}

/* A holder other than the loop's own thread changed what the loop waits
 * for: make it look again. */
static void wake_if_foreign(struct event_loop *loop)
{
	if (loop->threaded && loop != this_loop)
		event_loop_wake(loop);
}

/* --- sources ----------------------------------------------------------- */

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
	if (loop->threaded && loop != this_loop) {
		/* The owner may be between epoll_wait and its lock with an
		 * event for src in hand: it drops those (run_once). */
		if (loop->n_removed < EV_REMOVED_MAX)
			loop->removed[loop->n_removed++] = src;
		else
			loop->removed_overflow = true;
		return;
	}
	for (int i = 0; i < loop->batch_len; i++)
		if (loop->batch[i].data.ptr == src)
			loop->batch[i].data.ptr = NULL;
}

/* Drop the events of sources removed by another thread while we waited.
 * Sources are level-triggered: an event dropped by mistake comes back. */
static void drop_removed(struct event_loop *loop, struct epoll_event *events, int n)
{
	for (int i = 0; i < n; i++) {
		if (loop->removed_overflow && events[i].data.ptr != &loop->wake_src) {
			events[i].data.ptr = NULL;
			continue;
		}
		for (unsigned j = 0; j < loop->n_removed; j++)
			if (events[i].data.ptr == loop->removed[j])
				events[i].data.ptr = NULL;
	}
	loop->n_removed = 0;
	loop->removed_overflow = false;
}

/* --- timers ------------------------------------------------------------ */

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
	wake_if_foreign(loop);
}

void ev_timer_cancel(struct event_loop *loop, struct ev_timer *t)
{
	if (t->armed) {
		TAILQ_REMOVE(&loop->timers, t, link);
		t->armed = false;
	}
}

/* --- deferred calls ---------------------------------------------------- */

void ev_defer(struct event_loop *loop, struct ev_deferred *d, ev_defer_fn fn, void *arg)
{
	if (event_loop_held(loop)) {
		if (d->queued)
			return;
		d->fn = fn;
		d->arg = arg;
		d->queued = true;
		d->round = loop->defer_round;
		TAILQ_INSERT_TAIL(&loop->deferred, d, link);
		wake_if_foreign(loop);
		return;
	}
	pthread_mutex_lock(&loop->inbox_lock);
	if (!d->queued) {
		d->fn = fn;
		d->arg = arg;
		d->queued = true;
		d->in_inbox = true;
		TAILQ_INSERT_TAIL(&loop->inbox, d, link);
	}
	pthread_mutex_unlock(&loop->inbox_lock);
	event_loop_wake(loop);
}

void ev_defer_move(struct event_loop *from, struct event_loop *to, struct ev_deferred *d)
{
	ev_defer_fn fn = d->fn;
	void *arg = d->arg;

	if (!d->queued)
		return;
	ev_defer_cancel(from, d);
	ev_defer(to, d, fn, arg);
}

void ev_defer_cancel(struct event_loop *loop, struct ev_deferred *d)
{
	bool done = false;

	pthread_mutex_lock(&loop->inbox_lock);
	if (d->in_inbox) {
		TAILQ_REMOVE(&loop->inbox, d, link);
		d->in_inbox = false;
		d->queued = false;
		done = true;
	}
	pthread_mutex_unlock(&loop->inbox_lock);
	if (done || !event_loop_held(loop))
		return;
	if (d->queued) {
		TAILQ_REMOVE(&loop->deferred, d, link);
		d->queued = false;
	}
}

/* The oldest call another thread posted, taken out of the inbox. */
static struct ev_deferred *inbox_pop(struct event_loop *loop, ev_defer_fn *fn, void **arg)
{
	struct ev_deferred *d;

	pthread_mutex_lock(&loop->inbox_lock);
	d = TAILQ_FIRST(&loop->inbox);
	if (d) {
		TAILQ_REMOVE(&loop->inbox, d, link);
		d->in_inbox = false;
		d->queued = false;
		*fn = d->fn;
		*arg = d->arg;
	}
	pthread_mutex_unlock(&loop->inbox_lock);
	return d;
}

static void run_deferred(struct event_loop *loop)
{
	struct ev_deferred *d;
	ev_defer_fn fn;
	void *arg;

	/* Calls queued while these run wait for the next pass, after a
	 * zero-timeout epoll_wait (next_timeout()): a connection that keeps
	 * re-queueing its reading (transport_tcp.c's read budget) cannot
	 * hold the loop from its other sources and timers, nor from the
	 * control thread, which takes a worker's loop only while it waits. */
	uint64_t round = ++loop->defer_round;

	for (;;) {
		while ((d = TAILQ_FIRST(&loop->deferred)) && d->round < round) {
			TAILQ_REMOVE(&loop->deferred, d, link);
			d->queued = false;
			d->fn(d->arg);
		}
		if (!inbox_pop(loop, &fn, &arg))
			break;
		fn(arg);
	}
}

bool event_loop_has_deferred(struct event_loop *loop)
{
	bool any = !TAILQ_EMPTY(&loop->deferred);

	if (!any) {
		pthread_mutex_lock(&loop->inbox_lock);
		any = !TAILQ_EMPTY(&loop->inbox);
		pthread_mutex_unlock(&loop->inbox_lock);
	}
	return any;
}

bool event_loop_has_timers(struct event_loop *loop)
{
	return !TAILQ_EMPTY(&loop->timers);
}

/* --- running ----------------------------------------------------------- */

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
	int timeout, n;

	/* Called holding the loop (entered): let go only while waiting. */
	this_loop = loop;
	timeout = next_timeout(loop, timeout_ms);
	if (loop->leave)
		loop->leave(loop->hook_arg);
	n = epoll_wait(loop->epfd, events, EV_BATCH, timeout);
	if (n < 0 && errno != EINTR) {
		int err = -errno;

		if (loop->enter)
			loop->enter(loop->hook_arg);
		return err;
	}
	if (loop->enter)
		loop->enter(loop->hook_arg);
	loop_now_ns = now_ns();
	if (n > 0 && (loop->n_removed || loop->removed_overflow))
		drop_removed(loop, events, n);
	loop->n_removed = 0;
	loop->removed_overflow = false;
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

int event_loop_run_ready(struct event_loop *loop)
{
	this_loop = loop;
	loop_now_ns = now_ns();
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
	wake_if_foreign(loop);
}

bool event_loop_stopping(struct event_loop *loop)
{
	return loop->stop;
}
