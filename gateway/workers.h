/* Worker threads (design.md principle 2). The control thread runs the
 * gateway's main loop (gw->loop): signals, the management API, the
 * cluster service, listening sockets, logins and everything that changes
 * state shared by several sessions. Each worker runs its own loop and owns
 * the connections handed to it after login, with their sessions, I_T
 * nexuses and commands; the backstores keep one queue per thread so
 * completions come back to the thread that submitted.
 *
 * Locking. A worker holds its loop's lock while it handles events and
 * drops it only inside epoll_wait. The control thread handles each of its
 * own events with the world stopped: it takes every worker's lock, in slot
 * order, and keeps them until it waits again. So control-path code (cluster
 * apply/done callbacks, PR, ALUA, configuration, TMFs, logins, nexus loss)
 * may touch any worker's objects, and a worker sees shared state change
 * only between its own batches. Workers never take another loop's lock:
 * they post work for the control thread through its inbox (a leaf mutex)
 * and never wait for it, so no cycle can form.
 *
 * Slots: 0 is the control thread (and every thread when no worker was
 * started, e.g. unit tests), 1..workers_count() the workers. Per-thread
 * data (LU statistics, backstore queues) is indexed by slot. */
#ifndef SANGW_WORKERS_H
#define SANGW_WORKERS_H

#include <stdbool.h>

#include "event_loop.h"

#define WORKERS_MAX 64
/* Slots: the control thread plus at most WORKERS_MAX workers. */
#define WORKER_SLOTS (WORKERS_MAX + 1)

/* Create n worker loops (threads start later, so backstores opened while
 * the configuration loads can register on them). n = 0: no workers, the
 * control thread does everything. */
int workers_init(struct event_loop *control, unsigned n);
/* Start the threads; the control loop starts stopping the world around
 * its events. thread_exit runs on each worker before it ends (per-thread
 * caches). */
int workers_start(void (*thread_exit)(void));
/* Stop and join the threads (control thread, with the world stopped, i.e.
 * from main after its loop returned). The worker loops stay until
 * workers_destroy(), so sources can still be removed from them. */
void workers_stop(void);
void workers_destroy(void);

/* Number of worker threads (0: none). */
unsigned workers_count(void);
/* The calling thread's slot (0 on the control thread). */
unsigned worker_slot(void);
/* Slots in use: workers_count() + 1. */
unsigned worker_slots(void);
/* The loop of a slot (0: the control loop). */
struct event_loop *worker_loop(unsigned slot);
bool on_control_thread(void);

/* The worker a new session goes to: the one with the fewest sessions. */
unsigned workers_pick(void);
void workers_release(unsigned slot);

/* Run fn(arg) now, on the control thread, with the world running: the
 * workers' locks are let go around it (when held) and taken back after.
 * For readers that must never hold up the data path (the metrics
 * endpoint): fn may read what only the control thread changes (the
 * model, the shared state) and per-slot counters through atomics, and
 * must not change anything or touch a worker's objects. */
void workers_run_unstopped(void (*fn)(void *arg), void *arg);

/* Run fn(arg) on the control thread with the world stopped, after the
 * current batch (directly deferred when already on it). d must stay valid
 * until it ran or was cancelled with workers_cancel_on_control(). */
void workers_run_on_control(struct ev_deferred *d, ev_defer_fn fn, void *arg);
void workers_cancel_on_control(struct ev_deferred *d);

#endif
