#include "workers.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct worker {
	unsigned slot;
	struct event_loop *loop;
	pthread_t thread;
	bool started;
	unsigned sessions;      /* control thread only */
};

/* The one set of workers of this process (a named singleton). */
static struct {
	struct event_loop *control;
	unsigned count;
	struct worker workers[WORKERS_MAX];
	unsigned stopped_depth;   /* control thread only: world stopped */
	void (*thread_exit)(void);
} pool;

static __thread unsigned this_slot;

unsigned workers_count(void)
{
	return pool.count;
}

unsigned worker_slot(void)
{
	return this_slot;
}

unsigned worker_slots(void)
{
	return pool.count + 1;
}

bool on_control_thread(void)
{
	return this_slot == 0;
}

struct event_loop *worker_loop(unsigned slot)
{
	if (slot == 0 || slot > pool.count)
		return pool.control;
	return pool.workers[slot - 1].loop;
}

int workers_init(struct event_loop *control, unsigned n)
{
	if (n > WORKERS_MAX)
		return -EINVAL;
	pool.control = control;
	for (unsigned i = 0; i < n; i++) {
		struct worker *w = &pool.workers[i];

		w->slot = i + 1;
		w->loop = event_loop_create();
		if (!w->loop) {
			pool.count = i;
			workers_destroy();
			return -ENOMEM;
		}
	}
	pool.count = n;
	return 0;
}

/* --- stopping the world ------------------------------------------------ */

/* Control loop hooks. Every worker lock, always in slot order; a worker
 * holds at most its own, so the control thread can always get them all. */
static void stop_world(void *arg)
{
	(void)arg;
	if (pool.stopped_depth++ > 0)
		return;
	for (unsigned i = 0; i < pool.count; i++)
		if (pool.workers[i].started)
			event_loop_lock(pool.workers[i].loop);
}

static void resume_world(void *arg)
{
	(void)arg;
	if (pool.stopped_depth == 0 || --pool.stopped_depth > 0)
		return;
	for (unsigned i = pool.count; i-- > 0;)
		if (pool.workers[i].started)
			event_loop_unlock(pool.workers[i].loop);
}

void workers_run_unstopped(void (*fn)(void *arg), void *arg)
{
	/* Only the outermost stop can be lifted: a nested one belongs to a
	 * caller that relies on it. */
	bool release = pool.stopped_depth == 1;

	if (release)
		resume_world(NULL);
	fn(arg);
	if (release)
		stop_world(NULL);
}

/* Worker loop hooks: its own lock only. */
static void worker_enter(void *arg)
{
	event_loop_lock(arg);
}

static void worker_leave(void *arg)
{
	event_loop_unlock(arg);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	this_slot = w->slot;
	event_loop_lock(w->loop);
	event_loop_run(w->loop);
	/* Frees and completions already queued here still run. */
	while (event_loop_has_deferred(w->loop))
		event_loop_run_once(w->loop, 0);
	if (pool.thread_exit)
		pool.thread_exit();
	event_loop_unlock(w->loop);
	return NULL;
}

int workers_start(void (*thread_exit)(void))
{
	pool.thread_exit = thread_exit;
	if (pool.count == 0)
		return 0;
	for (unsigned i = 0; i < pool.count; i++)
		event_loop_set_hooks(pool.workers[i].loop, worker_enter, worker_leave,
				     pool.workers[i].loop);
	for (unsigned i = 0; i < pool.count; i++) {
		struct worker *w = &pool.workers[i];
		int rc = pthread_create(&w->thread, NULL, worker_main, w);

		if (rc != 0) {
			log_error("cannot start worker %u: %s", w->slot, strerror(rc));
			workers_stop();
			return -rc;
		}
		w->started = true;
	}
	/* From here on the control thread holds the world except while its
	 * loop waits (event_loop_run_once calls resume_world first). */
	event_loop_set_hooks(pool.control, stop_world, resume_world, NULL);
	stop_world(NULL);
	log_info("%u worker threads started", pool.count);
	return 0;
}

void workers_stop(void)
{
	for (unsigned i = 0; i < pool.count; i++) {
		struct worker *w = &pool.workers[i];

		if (!w->started)
			continue;
		/* Held by us when the world is stopped; the stop flag is
		 * set under the worker's lock either way. */
		if (pool.stopped_depth == 0)
			event_loop_lock(w->loop);
		event_loop_stop(w->loop);
		event_loop_unlock(w->loop);
	}
	pool.stopped_depth = 0;
	for (unsigned i = 0; i < pool.count; i++) {
		struct worker *w = &pool.workers[i];

		if (w->started)
			pthread_join(w->thread, NULL);
		w->started = false;
		event_loop_set_hooks(w->loop, NULL, NULL, NULL);
	}
	if (pool.control)
		event_loop_set_hooks(pool.control, NULL, NULL, NULL);
}

void workers_destroy(void)
{
	for (unsigned i = 0; i < pool.count; i++) {
		event_loop_destroy(pool.workers[i].loop);
		pool.workers[i].loop = NULL;
	}
	pool.count = 0;
}

/* --- placement --------------------------------------------------------- */

unsigned workers_pick(void)
{
	unsigned best = 0;

	if (pool.count == 0)
		return 0;
	for (unsigned i = 1; i < pool.count; i++)
		if (pool.workers[i].sessions < pool.workers[best].sessions)
			best = i;
	pool.workers[best].sessions++;
	return best + 1;
}

void workers_release(unsigned slot)
{
	if (slot >= 1 && slot <= pool.count && pool.workers[slot - 1].sessions > 0)
		pool.workers[slot - 1].sessions--;
}

/* --- work for the control thread --------------------------------------- */

void workers_run_on_control(struct ev_deferred *d, ev_defer_fn fn, void *arg)
{
	ev_defer(pool.control, d, fn, arg);
}

void workers_cancel_on_control(struct ev_deferred *d)
{
	if (pool.control)
		ev_defer_cancel(pool.control, d);
}
