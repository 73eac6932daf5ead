/* Failed-login back-off: CHAP guessing is slowed per (initiator name,
 * portal). After LOGIN_BACKOFF_THRESHOLD failed CHAP responses within
 * LOGIN_BACKOFF_WINDOW_MS, logins of that initiator to that portal are
 * refused (status 0x0201, authentication failure) for LOGIN_BACKOFF_FIRST_MS;
 * each further failure after a lockout locks it again for twice as long, up
 * to LOGIN_BACKOFF_MAX_MS. A successful CHAP login resets the pair. The
 * table has a fixed number of slots; when it is full the pair touched least
 * recently is forgotten, so memory stays bounded whatever names initiators
 * send (RFC 7143 9.2.1 leaves the defence against guessing to the target). */
#ifndef SANGW_ISCSI_LOGIN_BACKOFF_H
#define SANGW_ISCSI_LOGIN_BACKOFF_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../gateway/model.h"

#define LOGIN_BACKOFF_SLOTS      256
#define LOGIN_BACKOFF_THRESHOLD  5          /* failures before the first lockout */
#define LOGIN_BACKOFF_WINDOW_MS  60000      /* ... counted within this window */
#define LOGIN_BACKOFF_FIRST_MS   5000       /* the first lockout; doubled each time */
#define LOGIN_BACKOFF_MAX_MS     300000
#define LOGIN_BACKOFF_FORGET_MS  900000     /* quiet this long: a fresh start */
#define LOGIN_BACKOFF_PORTAL_MAX 64

struct login_backoff_entry {
	bool used;
	char initiator[ISCSI_NAME_MAX];
	char portal[LOGIN_BACKOFF_PORTAL_MAX];
	unsigned failures;             /* within the current window */
	uint64_t window_start_ms;
	unsigned lockouts;             /* since the last success */
	uint64_t locked_until_ms;
	uint64_t last_ms;              /* last failure: eviction order */
};

struct login_backoff {
	pthread_mutex_t lock;          /* logins run on every worker thread */
	struct login_backoff_entry slots[LOGIN_BACKOFF_SLOTS];
};

/* The process's table (logins of every portal and worker share it). */
struct login_backoff *login_backoff_table(void);

void login_backoff_init(struct login_backoff *b);

/* Milliseconds the pair is still locked out at now_ms; 0: it may try. */
uint64_t login_backoff_remaining(struct login_backoff *b, const char *initiator,
				 const char *portal, uint64_t now_ms);
/* A CHAP response failed. Returns the lockout it started in ms (0: none
 * yet), for the log. */
uint64_t login_backoff_failed(struct login_backoff *b, const char *initiator, const char *portal,
			      uint64_t now_ms);
/* A CHAP response succeeded: forget the pair. */
void login_backoff_succeeded(struct login_backoff *b, const char *initiator, const char *portal);

#endif
