/* Unit tests of the event loop's thread rules (event_loop.h), of its
 * passes of deferred calls (test_requeued_deferred_yields) and of
 * event_loop_has_timers (test_has_timers): a loop run by its own thread,
 * the way a worker runs it (its lock held except inside epoll_wait), and
 * another thread that posts work to it, holds it, arms timers on it and
 * removes its sources. Conditions are polled with a deadline, never
 * slept on. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../../gateway/event_loop.h"
#include "../../gateway/util.h"

#define DEADLINE_MS 5000

struct looper {
	struct event_loop *loop;
	pthread_t thread;
	atomic_bool ran_on_loop_thread;
	atomic_int calls;
	atomic_int timer_fires;
	atomic_int source_events;
	atomic_int stale_events;
	struct ev_deferred d;
	struct ev_timer timer;
	struct ev_source src;
	int efd;
};

static void enter(void *arg)
{
	event_loop_lock(arg);
}

static void leave(void *arg)
{
	event_loop_unlock(arg);
}

static void *loop_main(void *arg)
{
	struct looper *l = arg;

	event_loop_lock(l->loop);
	event_loop_run(l->loop);
	event_loop_unlock(l->loop);
	return NULL;
}

static struct looper *looper_start(void)
{
	struct looper *l = calloc(1, sizeof(*l));

	assert_non_null(l);
	l->loop = event_loop_create();
	assert_non_null(l->loop);
	l->efd = -1;
	event_loop_set_hooks(l->loop, enter, leave, l->loop);
	assert_int_equal(pthread_create(&l->thread, NULL, loop_main, l), 0);
	return l;
}

/* Stop and free the loop; returns how many deferred calls ran, and
 * stores the source events seen in *events when events is not NULL. */
static int looper_stop(struct looper *l, int *events)
{
	int calls;

	event_loop_lock(l->loop);
	if (l->src.fn)
		ev_remove(l->loop, &l->src);
	ev_timer_cancel(l->loop, &l->timer);
	event_loop_stop(l->loop);
	event_loop_unlock(l->loop);
	pthread_join(l->thread, NULL);
	if (l->efd >= 0)
		close(l->efd);
	event_loop_destroy(l->loop);
	calls = atomic_load(&l->calls);
	if (events)
		*events = atomic_load(&l->source_events);
	free(l);
	return calls;
}

static bool wait_for(atomic_int *counter, int value)
{
	uint64_t deadline = now_ms() + DEADLINE_MS;

	while (atomic_load(counter) < value)
		if (now_ms() > deadline)
			return false;
	return true;
}

static void deferred_call(void *arg)
{
	struct looper *l = arg;

	atomic_store(&l->ran_on_loop_thread, pthread_equal(pthread_self(), l->thread) &&
					     event_loop_current() == l->loop);
	atomic_fetch_add(&l->calls, 1);
}

static atomic_bool blocker_running, blocker_release;

/* Keeps the loop thread busy inside its batch until released. */
static void blocker(void *arg)
{
	uint64_t deadline = now_ms() + DEADLINE_MS;

	(void)arg;
	atomic_store(&blocker_running, true);
	while (!atomic_load(&blocker_release) && now_ms() < deadline)
		;
}

/* Start a blocker on l's loop and wait until it runs. */
static void block_loop(struct looper *l, struct ev_deferred *block)
{
	uint64_t deadline = now_ms() + DEADLINE_MS;

	atomic_store(&blocker_running, false);
	atomic_store(&blocker_release, false);
	ev_defer(l->loop, block, blocker, NULL);
	while (!atomic_load(&blocker_running) && now_ms() < deadline)
		;
	assert_true(atomic_load(&blocker_running));
}

/* A thread that does not hold the loop posts through the inbox; the call
 * runs on the loop's own thread, once even if posted twice before the
 * loop took it (the loop is kept busy meanwhile: otherwise it may take
 * the first post before the second, which then rightly runs again). */
static void test_post_from_other_thread(void **state)
{
	struct looper *l = looper_start();
	struct ev_deferred block = { 0 };

	(void)state;
	assert_false(event_loop_held(l->loop));
	block_loop(l, &block);
	ev_defer(l->loop, &l->d, deferred_call, l);
	ev_defer(l->loop, &l->d, deferred_call, l);   /* still queued: no second call */
	atomic_store(&blocker_release, true);
	assert_true(wait_for(&l->calls, 1));
	assert_true(atomic_load(&l->ran_on_loop_thread));
	/* Posted again after it ran: runs again. */
	ev_defer(l->loop, &l->d, deferred_call, l);
	assert_true(wait_for(&l->calls, 2));
	assert_int_equal(looper_stop(l, NULL), 2);
}

/* A call posted through the inbox and cancelled before the loop took it
 * never runs; one posted after it does. */
static void test_cancel_posted(void **state)
{
	struct looper *l = looper_start();
	struct ev_deferred block = { 0 }, other = { 0 };

	(void)state;
	block_loop(l, &block);
	ev_defer(l->loop, &l->d, deferred_call, l);
	ev_defer_cancel(l->loop, &l->d);
	ev_defer(l->loop, &other, deferred_call, l);
	atomic_store(&blocker_release, true);
	assert_true(wait_for(&l->calls, 1));
	assert_int_equal(looper_stop(l, NULL), 1);
}

static void timer_fired(struct event_loop *loop, void *arg)
{
	struct looper *l = arg;

	(void)loop;
	atomic_fetch_add(&l->timer_fires, 1);
}

/* A holder that is not the loop's thread (the control thread with the
 * world stopped) arms a timer and defers a call: the loop, asleep in
 * epoll_wait with no deadline, is woken and runs both. */
static void test_holder_wakes_loop(void **state)
{
	struct looper *l = looper_start();

	(void)state;
	ev_timer_init(&l->timer, timer_fired, l);
	event_loop_lock(l->loop);
	assert_true(event_loop_held(l->loop));
	ev_timer_arm(l->loop, &l->timer, 1);
	ev_defer(l->loop, &l->d, deferred_call, l);
	event_loop_unlock(l->loop);
	assert_true(wait_for(&l->calls, 1));
	assert_true(wait_for(&l->timer_fires, 1));
	assert_true(atomic_load(&l->ran_on_loop_thread));
	looper_stop(l, NULL);
}

static void source_event(struct event_loop *loop, uint32_t events, void *arg)
{
	struct looper *l = arg;
	eventfd_t v;

	(void)loop;
	(void)events;
	eventfd_read(l->efd, &v);
	atomic_fetch_add(&l->source_events, 1);
}

static void stale_event(struct event_loop *loop, uint32_t events, void *arg)
{
	struct looper *l = arg;

	(void)loop;
	(void)events;
	atomic_fetch_add(&l->stale_events, 1);
}

/* A source removed by a holder on another thread gets no event after the
 * removal, even one that became ready while the loop waited: here its
 * memory is at once reused for a new registration (as a freed connection's
 * would be), which must not see the old source's event. */
static void test_remove_from_other_thread(void **state)
{
	struct looper *l = looper_start();
	int events, stale, quiet;

	(void)state;
	l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(l->efd >= 0);
	event_loop_lock(l->loop);
	assert_int_equal(ev_add(l->loop, &l->src, l->efd, EPOLLIN, source_event, l), 0);
	event_loop_unlock(l->loop);
	eventfd_write(l->efd, 1);
	assert_true(wait_for(&l->source_events, 1));

	event_loop_lock(l->loop);
	/* Ready while we hold the loop: the loop may already have the event
	 * from epoll_wait and be waiting for our lock. */
	eventfd_write(l->efd, 1);
	for (uint64_t until = now_ms() + 2; now_ms() < until;)
		;   /* give the loop time to return from epoll_wait with it */
	ev_remove(l->loop, &l->src);
	quiet = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(quiet >= 0);
	assert_int_equal(ev_add(l->loop, &l->src, quiet, EPOLLIN, stale_event, l), 0);
	ev_defer(l->loop, &l->d, deferred_call, l);
	event_loop_unlock(l->loop);
	assert_true(wait_for(&l->calls, 1));   /* a batch has run since */
	event_loop_lock(l->loop);
	ev_remove(l->loop, &l->src);
	event_loop_unlock(l->loop);
	stale = atomic_load(&l->stale_events);
	looper_stop(l, &events);
	close(quiet);
	assert_int_equal(events, 1);
	assert_int_equal(stale, 0);
}

/* A deferred call that queues itself again (a connection whose read
 * budget ran out while its initiator keeps sending) runs once per pass:
 * the pass returns, and the loop's sources are polled in between. Before,
 * the pass ran it until it stopped re-queueing (here 1000 times). */
struct requeuer {
	struct event_loop *loop;
	struct ev_deferred d;
	int calls;
};

static void requeue_call(void *arg)
{
	struct requeuer *r = arg;

	if (++r->calls < 1000)
		ev_defer(r->loop, &r->d, requeue_call, r);
}

static void count_event(struct event_loop *loop, uint32_t events, void *arg)
{
	uint64_t v;

	(void)loop;
	(void)events;
	if (read(((struct looper *)arg)->efd, &v, sizeof(v)) == sizeof(v))
		atomic_fetch_add(&((struct looper *)arg)->source_events, 1);
}

static void test_requeued_deferred_yields(void **state)
{
	struct requeuer r = { 0 };
	struct looper src = { 0 };
	uint64_t one = 1;

	(void)state;
	r.loop = event_loop_create();
	assert_non_null(r.loop);
	src.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_int_equal(ev_add(r.loop, &src.src, src.efd, EPOLLIN, count_event, &src), 0);
	ev_defer(r.loop, &r.d, requeue_call, &r);
	assert_int_equal(event_loop_run_once(r.loop, 0), 0);
	assert_int_equal(r.calls, 1);
	/* The source that became ready meanwhile is served on the next pass. */
	assert_int_equal(write(src.efd, &one, sizeof(one)), (int)sizeof(one));
	assert_int_equal(event_loop_run_once(r.loop, 1000), 0);
	assert_int_equal(r.calls, 2);
	assert_int_equal(atomic_load(&src.source_events), 1);
	ev_defer_cancel(r.loop, &r.d);
	ev_remove(r.loop, &src.src);
	close(src.efd);
	event_loop_destroy(r.loop);
}

static void count_fire(struct event_loop *loop, void *arg)
{
	(void)loop;
	atomic_fetch_add(&((struct looper *)arg)->timer_fires, 1);
}

/* event_loop_has_timers: armed until fired or cancelled (the fuzz
 * harnesses end an input only when none is left). */
static void test_has_timers(void **state)
{
	struct looper l = { 0 };

	(void)state;
	l.loop = event_loop_create();
	assert_non_null(l.loop);
	assert_false(event_loop_has_timers(l.loop));
	ev_timer_init(&l.timer, count_fire, &l);
	ev_timer_arm(l.loop, &l.timer, 1);
	assert_true(event_loop_has_timers(l.loop));
	for (uint64_t end = now_ms() + DEADLINE_MS; !atomic_load(&l.timer_fires) && now_ms() < end;)
		event_loop_run_once(l.loop, 10);
	assert_int_equal(atomic_load(&l.timer_fires), 1);
	assert_false(event_loop_has_timers(l.loop));
	ev_timer_arm(l.loop, &l.timer, 60000);
	assert_true(event_loop_has_timers(l.loop));
	ev_timer_cancel(l.loop, &l.timer);
	assert_false(event_loop_has_timers(l.loop));
	event_loop_destroy(l.loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_post_from_other_thread),
		cmocka_unit_test(test_cancel_posted),
		cmocka_unit_test(test_holder_wakes_loop),
		cmocka_unit_test(test_remove_from_other_thread),
		cmocka_unit_test(test_requeued_deferred_yields),
		cmocka_unit_test(test_has_timers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
