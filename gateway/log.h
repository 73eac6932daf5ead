/* Logging goes through libqb (qb_log): stderr in the foreground, syslog when
 * detached, and always into the blackbox flight recorder that is dumped on a
 * fatal signal. Use the LOG_* macros everywhere. */
#ifndef SANGW_LOG_H
#define SANGW_LOG_H

#include <qb/qblog.h>
#include <stdbool.h>

#define log_error(...) qb_log(LOG_ERR, __VA_ARGS__)
#define log_warn(...)  qb_log(LOG_WARNING, __VA_ARGS__)
#define log_info(...)  qb_log(LOG_INFO, __VA_ARGS__)
#define log_debug(...) qb_log(LOG_DEBUG, __VA_ARGS__)

/* level: "error", "warning", "info", "debug". Returns -1 on an unknown name. */
int log_level_from_name(const char *name);
void log_setup(const char *ident, int level, bool to_stderr, bool to_syslog);
void log_set_level(int level);
/* Write the blackbox to STATE_DIR/sangwd.blackbox (async-signal-tolerant). */
void log_dump_blackbox(void);
void log_set_blackbox_path(const char *path);
void log_teardown(void);

#endif
