/* One epoll loop per thread (the control thread and each worker, see
 * workers.h). A module that owns a file descriptor embeds a struct
 * ev_source and registers it; the loop calls back with the ready events.
 * Timers are coarse (millisecond) and kept in a sorted list: they serve
 * login timeouts and NOP-In pings, not the data path. Deferred calls run
 * after the current batch of events (used to complete commands outside the
 * caller's stack).
 *
 * Threads. A loop's state belongs to whoever holds the loop: its own thread
 * while it handles events (it holds loop->lock except inside epoll_wait),
 * or the control thread while it has stopped the world (workers.c takes
 * every worker loop's lock). A holder may call every function below on the
 * loop; when the holder is not the loop's own thread the loop is woken so
 * it sees new deferred calls and timers. A thread that does not hold the
 * loop may only ev_defer()/ev_defer_cancel() on it: such calls go through
 * the loop's inbox (a small mutex of that loop alone) and a wake-up. */
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
	bool in_inbox;     /* posted by a thread that did not hold the loop */
	uint64_t round;    /* the loop's pass of deferred calls it was queued in */
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

/* Run fn(arg) from the loop after the current event has been handled;
 * queued from a deferred call, after the loop has polled its sources once
 * more (without waiting). */
void ev_defer(struct event_loop *loop, struct ev_deferred *d, ev_defer_fn fn, void *arg);
void ev_defer_cancel(struct event_loop *loop, struct ev_deferred *d);
/* A queued deferred call now runs on loop `to` instead (nothing when it
 * is not queued). Only with both loops held (the control thread with the
 * world stopped, e.g. when a connection moves to its worker). */
void ev_defer_move(struct event_loop *from, struct event_loop *to, struct ev_deferred *d);

/* The time (CLOCK_MONOTONIC) when this thread's loop last woke up: one
 * clock read per batch of events instead of several per command. Falls
 * back to the clock on threads that run no loop. */
uint64_t ev_now_ns(void);
uint64_t ev_now_ms(void);

/* Threads (see the top). enter(arg) runs after epoll_wait returns and
 * before the loop touches its state; leave(arg) before it waits again. A
 * worker's hooks take and release its own lock; the control loop's stop
 * and restart the world. Without hooks (tests, one thread) nothing locks. */
void event_loop_set_hooks(struct event_loop *loop, void (*enter)(void *arg),
			  void (*leave)(void *arg), void *arg);
void event_loop_lock(struct event_loop *loop);
void event_loop_unlock(struct event_loop *loop);
/* Does the calling thread hold loop (its own thread in a batch, or the
 * thread that took its lock)? */
bool event_loop_held(struct event_loop *loop);
/* The loop the calling thread runs, NULL on other threads. */
struct event_loop *event_loop_current(void);
/* Make the loop return from epoll_wait (cheap when already woken). */
void event_loop_wake(struct event_loop *loop);
/* Deferred calls are pending (local or in the inbox). */
bool event_loop_has_deferred(struct event_loop *loop);
/* Timers are armed (the fuzz harnesses: an input is over only when
 * nothing of it is left to run, e.g. a TMF polling for its aborted tasks). */
bool event_loop_has_timers(struct event_loop *loop);

/* Run until event_loop_stop(); returns 0. */
int event_loop_run(struct event_loop *loop);
/* Run one iteration, waiting at most timeout_ms (-1 = until an event). */
int event_loop_run_once(struct event_loop *loop, int timeout_ms);
/* One iteration without polling the fds: the due timers and the deferred
 * calls. For a caller that knows no fd of the loop can be ready (the fuzz
 * harnesses of the SCSI core and of the shared state: no sockets, null
 * backstores complete through deferred calls), where the epoll_wait of
 * every iteration was a tenth of the time. */
int event_loop_run_ready(struct event_loop *loop);
void event_loop_stop(struct event_loop *loop);
bool event_loop_stopping(struct event_loop *loop);

#endif
