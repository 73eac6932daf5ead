/* Logging goes through libqb (qb_log): stderr in the foreground, syslog when
 * detached, and always into the blackbox flight recorder that is dumped on a
 * fatal signal. Use the LOG_* macros everywhere. */
#ifndef SANGW_LOG_H
#define SANGW_LOG_H

#include <qb/qblog.h>
#include <stdbool.h>

#include <pthread.h>

/* libqb 2.x drops a message outright when another thread is inside its
 * logger at that moment (a compare-and-swap guard, not a lock), and the
 * control thread, the workers and the file backstore's helpers all log:
 * our messages are serialised here so none is lost. Never logged from a
 * signal handler (fatal_signal only dumps the blackbox). */
extern pthread_mutex_t log_serial;

#define sangw_log(level, ...)                      \
	do {                                       \
		pthread_mutex_lock(&log_serial);   \
		qb_log(level, __VA_ARGS__);        \
		pthread_mutex_unlock(&log_serial); \
	} while (0)

#define log_error(...) sangw_log(LOG_ERR, __VA_ARGS__)
#define log_warn(...)  sangw_log(LOG_WARNING, __VA_ARGS__)
#define log_info(...)  sangw_log(LOG_INFO, __VA_ARGS__)
#define log_debug(...) sangw_log(LOG_DEBUG, __VA_ARGS__)

/* level: "error", "warning", "info", "debug". Returns -1 on an unknown name. */
int log_level_from_name(const char *name);
void log_setup(const char *ident, int level, bool to_stderr, bool to_syslog);
void log_set_level(int level);
/* Write the blackbox to STATE_DIR/sangwd.blackbox (async-signal-tolerant). */
void log_dump_blackbox(void);
void log_set_blackbox_path(const char *path);
void log_teardown(void);

#endif
