/* The failed-login back-off table (fabric/iscsi/login_backoff.c) with a
 * clock of our own: threshold, window, growing lockouts, reset on success,
 * pairs kept apart, bounded table. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "../../fabric/iscsi/login_backoff.h"

#define INI "iqn.2024-01.com.example:client1"
#define PORTAL "127.0.0.1:3260"

static int setup(void **state)
{
	struct login_backoff *b = malloc(sizeof(*b));

	if (!b)
		return -1;
	login_backoff_init(b);
	*state = b;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static void fail_times(struct login_backoff *b, const char *ini, const char *portal, unsigned n,
		       uint64_t now)
{
	for (unsigned i = 0; i < n; i++)
		login_backoff_failed(b, ini, portal, now);
}

static void test_threshold_and_growth(void **state)
{
	struct login_backoff *b = *state;
	uint64_t t = 1000000;

	fail_times(b, INI, PORTAL, LOGIN_BACKOFF_THRESHOLD - 1, t);
	assert_int_equal(login_backoff_remaining(b, INI, PORTAL, t), 0);
	/* the threshold-th failure locks for the first period */
	assert_int_equal(login_backoff_failed(b, INI, PORTAL, t), LOGIN_BACKOFF_FIRST_MS);
	assert_int_equal(login_backoff_remaining(b, INI, PORTAL, t), LOGIN_BACKOFF_FIRST_MS);
	assert_int_equal(login_backoff_remaining(b, INI, PORTAL, t + LOGIN_BACKOFF_FIRST_MS - 1), 1);
	assert_int_equal(login_backoff_remaining(b, INI, PORTAL, t + LOGIN_BACKOFF_FIRST_MS), 0);
	/* after a lockout, one more failure locks again, twice as long */
	t += LOGIN_BACKOFF_FIRST_MS;
	assert_int_equal(login_backoff_failed(b, INI, PORTAL, t), 2 * LOGIN_BACKOFF_FIRST_MS);
	t += 2 * LOGIN_BACKOFF_FIRST_MS;
	assert_int_equal(login_backoff_failed(b, INI, PORTAL, t), 4 * LOGIN_BACKOFF_FIRST_MS);
	/* ... up to the maximum */
	for (int i = 0; i < 20; i++)
		login_backoff_failed(b, INI, PORTAL, t);
	assert_int_equal(login_backoff_remaining(b, INI, PORTAL, t), LOGIN_BACKOFF_MAX_MS);
	/* a success forgets everything */
	login_backoff_succeeded(b, INI, PORTAL);
	assert_int_equal(login_backoff_remaining(b, INI, PORTAL, t), 0);
	fail_times(b, INI, PORTAL, LOGIN_BACKOFF_THRESHOLD - 1, t);
	assert_int_equal(login_backoff_remaining(b, INI, PORTAL, t), 0);
}

/* Failures spread wider than the window never lock. */
static void test_window(void **state)
{
	struct login_backoff *b = *state;
	uint64_t t = 5000;

	for (int i = 0; i < 20; i++) {
		assert_int_equal(login_backoff_failed(b, INI, PORTAL, t), 0);
		t += LOGIN_BACKOFF_WINDOW_MS / (LOGIN_BACKOFF_THRESHOLD - 1) + 1;
	}
	assert_int_equal(login_backoff_remaining(b, INI, PORTAL, t), 0);
}

/* Another portal or another initiator has its own count; the initiator
 * name is compared without regard to case (RFC 3722). */
static void test_pairs_apart(void **state)
{
	struct login_backoff *b = *state;
	uint64_t t = 7000;

	fail_times(b, INI, PORTAL, LOGIN_BACKOFF_THRESHOLD, t);
	assert_true(login_backoff_remaining(b, INI, PORTAL, t) > 0);
	assert_true(login_backoff_remaining(b, "IQN.2024-01.COM.EXAMPLE:CLIENT1", PORTAL, t) > 0);
	assert_int_equal(login_backoff_remaining(b, INI, "127.0.0.1:3261", t), 0);
	assert_int_equal(login_backoff_remaining(b, "iqn.2024-01.com.example:client2", PORTAL, t), 0);
}

/* More pairs than slots: the table stays the same size and forgets the
 * pair touched least recently; the newest lockouts survive. */
static void test_bounded(void **state)
{
	struct login_backoff *b = *state;
	char name[64];
	uint64_t t = 10000;

	fail_times(b, INI, PORTAL, LOGIN_BACKOFF_THRESHOLD, t);
	for (unsigned i = 0; i < 3 * LOGIN_BACKOFF_SLOTS; i++) {
		snprintf(name, sizeof(name), "iqn.2024-01.com.example:spray%u", i);
		login_backoff_failed(b, name, PORTAL, t + 1 + i);
	}
	assert_int_equal(login_backoff_remaining(b, INI, PORTAL, t + 1), 0);   /* evicted */
	fail_times(b, "iqn.2024-01.com.example:late", PORTAL, LOGIN_BACKOFF_THRESHOLD, t + 5000);
	assert_true(login_backoff_remaining(b, "iqn.2024-01.com.example:late", PORTAL, t + 5000) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_threshold_and_growth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pairs_apart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounded, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
