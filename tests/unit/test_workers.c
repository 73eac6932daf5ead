/* Unit tests of workers_run_unstopped (workers.h), what lets the metrics
 * endpoint build its page without holding up the data path: the control
 * thread, which holds every worker's lock around its own events (the world
 * stopped), lets go for the call, so a worker runs its own work meanwhile,
 * and holds the world again afterwards. Conditions are polled with a
 * deadline, never slept on. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>

#include "../../gateway/event_loop.h"
#include "../../gateway/util.h"
#include "../../gateway/workers.h"

#define DEADLINE_MS 5000

static atomic_int worker_calls;

static void on_worker(void *arg)
{
	(void)arg;
	atomic_fetch_add(&worker_calls, 1);
}

static bool worker_ran_within(int before, uint64_t ms)
{
	uint64_t deadline = now_ms() + ms;

	while (atomic_load(&worker_calls) == before && now_ms() < deadline)
		usleep(1000);
	return atomic_load(&worker_calls) != before;
}

struct probe {
	struct event_loop *worker;
	struct ev_deferred d;
	bool held_inside;
	bool worker_ran_inside;
};

/* Runs inside workers_run_unstopped: the worker must be free to run. */
static void reader(void *arg)
{
	struct probe *p = arg;
	int before = atomic_load(&worker_calls);

	p->held_inside = event_loop_held(p->worker);
	ev_defer(p->worker, &p->d, on_worker, NULL);
	p->worker_ran_inside = worker_ran_within(before, DEADLINE_MS);
}

static void test_world_runs_during_the_call(void **state)
{
	struct event_loop *control = event_loop_create();
	struct probe p = { 0 };
	struct ev_deferred held_back = { 0 };
	int before;

	(void)state;
	assert_non_null(control);
	assert_int_equal(workers_init(control, 1), 0);
	assert_int_equal(workers_start(NULL), 0);
	p.worker = worker_loop(1);

	/* Started: the control thread holds the world, as around its events;
	 * work posted to the worker waits. */
	assert_true(event_loop_held(p.worker));
	before = atomic_load(&worker_calls);
	ev_defer(p.worker, &held_back, on_worker, NULL);
	assert_false(worker_ran_within(before, 200));

	/* Let go: the held-back call and a new one run while we wait. */
	workers_run_unstopped(reader, &p);
	assert_false(p.held_inside);
	assert_true(p.worker_ran_inside);
	assert_int_equal(atomic_load(&worker_calls), before + 2);

	/* Held again afterwards. */
	assert_true(event_loop_held(p.worker));
	before = atomic_load(&worker_calls);
	ev_defer(p.worker, &held_back, on_worker, NULL);
	assert_false(worker_ran_within(before, 200));

	workers_stop();
	workers_destroy();
	event_loop_destroy(control);
}

static void count_call(void *arg)
{
	(*(int *)arg)++;
}

static void test_no_workers(void **state)
{
	struct event_loop *control = event_loop_create();
	int calls = 0;

	(void)state;
	assert_int_equal(workers_init(control, 0), 0);
	assert_int_equal(workers_start(NULL), 0);
	workers_run_unstopped(count_call, &calls);
	assert_int_equal(calls, 1);
	workers_stop();
	workers_destroy();
	event_loop_destroy(control);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_world_runs_during_the_call),
		cmocka_unit_test(test_no_workers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
