/* Small helpers shared by the test clients (sangw-testclient,
 * sangw-cluster-client). */
#ifndef SANGW_CLIENT_UTIL_H
#define SANGW_CLIENT_UTIL_H

/* One line on stderr. */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* CLOCK_MONOTONIC in seconds. */
double now_s(void);
void sleep_ms(unsigned ms);

#endif
