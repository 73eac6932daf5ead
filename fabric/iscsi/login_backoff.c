/* Failed-login back-off per (initiator, portal); see login_backoff.h. */
#include "login_backoff.h"

#include <string.h>
#include <strings.h>

#include "../../gateway/util.h"

static struct login_backoff the_table = { .lock = PTHREAD_MUTEX_INITIALIZER };

struct login_backoff *login_backoff_table(void)
{
	return &the_table;
}

void login_backoff_init(struct login_backoff *b)
{
	memset(b, 0, sizeof(*b));
	pthread_mutex_init(&b->lock, NULL);
}

/* Names are compared without regard to case (RFC 3722 folds case), so a
 * change of case does not buy a fresh count. */
static struct login_backoff_entry *find(struct login_backoff *b, const char *initiator,
					const char *portal)
{
	for (unsigned i = 0; i < LOGIN_BACKOFF_SLOTS; i++) {
		struct login_backoff_entry *e = &b->slots[i];

		if (e->used && strcasecmp(e->initiator, initiator) == 0 && strcmp(e->portal, portal) == 0)
			return e;
	}
	return NULL;
}

/* A free slot, or the one whose last failure is oldest. */
static struct login_backoff_entry *take_slot(struct login_backoff *b)
{
	struct login_backoff_entry *oldest = &b->slots[0];

	for (unsigned i = 0; i < LOGIN_BACKOFF_SLOTS; i++) {
		struct login_backoff_entry *e = &b->slots[i];

		if (!e->used)
			return e;
		if (e->last_ms < oldest->last_ms)
			oldest = e;
	}
	return oldest;
}

uint64_t login_backoff_remaining(struct login_backoff *b, const char *initiator,
				 const char *portal, uint64_t now_ms)
{
	struct login_backoff_entry *e;
	uint64_t left = 0;

	pthread_mutex_lock(&b->lock);
	e = find(b, initiator, portal);
	if (e && e->locked_until_ms > now_ms)
		left = e->locked_until_ms - now_ms;
	pthread_mutex_unlock(&b->lock);
	return left;
}

uint64_t login_backoff_failed(struct login_backoff *b, const char *initiator, const char *portal,
			      uint64_t now_ms)
{
	struct login_backoff_entry *e;
	uint64_t lock_ms = 0;

	pthread_mutex_lock(&b->lock);
	e = find(b, initiator, portal);
	if (e && now_ms - e->last_ms > LOGIN_BACKOFF_FORGET_MS)
		memset(e, 0, sizeof(*e));         /* long quiet: start over */
	if (!e || !e->used) {
		if (!e)
			e = take_slot(b);
		memset(e, 0, sizeof(*e));
		e->used = true;
		str_copy(e->initiator, initiator, sizeof(e->initiator));
		str_copy(e->portal, portal, sizeof(e->portal));
		e->window_start_ms = now_ms;
	}
	e->last_ms = now_ms;
	if (now_ms - e->window_start_ms > LOGIN_BACKOFF_WINDOW_MS) {
		e->window_start_ms = now_ms;
		e->failures = 0;
	}
	e->failures++;
	/* The threshold starts the first lockout; once locked out, every
	 * further failure locks again, twice as long. */
	if (e->lockouts || e->failures >= LOGIN_BACKOFF_THRESHOLD) {
		unsigned shift = e->lockouts < 16 ? e->lockouts : 16;

		lock_ms = (uint64_t)LOGIN_BACKOFF_FIRST_MS << shift;
		if (lock_ms > LOGIN_BACKOFF_MAX_MS)
			lock_ms = LOGIN_BACKOFF_MAX_MS;
		e->lockouts++;
		e->failures = 0;
		e->window_start_ms = now_ms;
		e->locked_until_ms = now_ms + lock_ms;
	}
	pthread_mutex_unlock(&b->lock);
	return lock_ms;
}

void login_backoff_succeeded(struct login_backoff *b, const char *initiator, const char *portal)
{
	struct login_backoff_entry *e;

	pthread_mutex_lock(&b->lock);
	e = find(b, initiator, portal);
	if (e)
		memset(e, 0, sizeof(*e));
	pthread_mutex_unlock(&b->lock);
}
