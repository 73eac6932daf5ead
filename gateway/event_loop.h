/* One epoll loop per worker thread. A module that owns a file descriptor
 * embeds a struct ev_source and registers it; the loop calls back with the
 * ready events. Timers are coarse (millisecond) and kept in a sorted list:
 * they serve login timeouts and NOP-In pings, not the data path. Deferred
 * calls run after the current batch of events (used to complete commands
 * outside the caller's stack). */
#ifndef SANGW_EVENT_LOOP_H
#define SANGW_EVENT_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/queue.h>

struct event_loop;

typedef void (*ev_fd_fn)(struct event_loop *loop, uint32_t events, void *arg);

struct ev_source {
	int fd;
	ev_fd_fn fn;
	void *arg;
};

typedef void (*ev_timer_fn)(struct event_loop *loop, void *arg);

struct ev_timer {
	uint64_t deadline_ms;
	ev_timer_fn fn;
	void *arg;
	bool armed;
	TAILQ_ENTRY(ev_timer) link;
};

typedef void (*ev_defer_fn)(void *arg);

struct ev_deferred {
	ev_defer_fn fn;
	void *arg;
	bool queued;
	TAILQ_ENTRY(ev_deferred) link;
};

struct event_loop *event_loop_create(void);
void event_loop_destroy(struct event_loop *loop);

/* Register fd with EPOLLIN/EPOLLOUT/... ; source must outlive registration. */
int ev_add(struct event_loop *loop, struct ev_source *src, int fd, uint32_t events,
	   ev_fd_fn fn, void *arg);
int ev_modify(struct event_loop *loop, struct ev_source *src, uint32_t events);
void ev_remove(struct event_loop *loop, struct ev_source *src);

void ev_timer_init(struct ev_timer *t, ev_timer_fn fn, void *arg);
void ev_timer_arm(struct event_loop *loop, struct ev_timer *t, uint64_t after_ms);
void ev_timer_cancel(struct event_loop *loop, struct ev_timer *t);

/* Run fn(arg) from the loop after the current event has been handled. */
void ev_defer(struct event_loop *loop, struct ev_deferred *d, ev_defer_fn fn, void *arg);
void ev_defer_cancel(struct event_loop *loop, struct ev_deferred *d);

/* The time (CLOCK_MONOTONIC) when this thread's loop last woke up: one
 * clock read per batch of events instead of several per command. Falls
 * back to the clock on threads that run no loop. */
uint64_t ev_now_ns(void);
uint64_t ev_now_ms(void);

/* Run until event_loop_stop(); returns 0. */
int event_loop_run(struct event_loop *loop);
/* Run one iteration, waiting at most timeout_ms (-1 = until an event). */
int event_loop_run_once(struct event_loop *loop, int timeout_ms);
void event_loop_stop(struct event_loop *loop);
bool event_loop_stopping(struct event_loop *loop);

#endif
