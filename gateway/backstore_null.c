/* The null backstore: writes are discarded and reads return zeros. It is the
 * reference for benchmarking the target itself, so its path is kept to a
 * memset and a list insertion. Completions still go through the event loop
 * (a deferred call), never from inside submit(), as backstore.h requires. */
#include "backstore.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event_loop.h"
#include "model.h"

#define NULL_DEFAULT_SIZE (1ull << 30)

struct null_backstore {
	struct event_loop *loop;
	struct ev_deferred complete_defer;
	TAILQ_HEAD(, bs_io) completed;
};

static void null_complete_all(void *arg)
{
	struct null_backstore *nb = arg;
	struct bs_io *io;

	/* done() may submit again; those land at the tail and run here too. */
	while ((io = TAILQ_FIRST(&nb->completed))) {
		TAILQ_REMOVE(&nb->completed, io, link);
		io->done(io);
	}
}

static int null_open(struct lu *lu, char *err, size_t errlen)
{
	struct null_backstore *nb = calloc(1, sizeof(*nb));

	if (!nb) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	nb->loop = lu->target->gw->loop;
	TAILQ_INIT(&nb->completed);
	lu->bs_priv = nb;
	lu->size_bytes = lu->spec.size ? lu->spec.size : NULL_DEFAULT_SIZE;
	return 0;
}

/* Requests still queued complete now: their owners are waiting for done(). */
static void null_close(struct lu *lu)
{
	struct null_backstore *nb = lu->bs_priv;

	if (!nb)
		return;
	ev_defer_cancel(nb->loop, &nb->complete_defer);
	null_complete_all(nb);
	lu->bs_priv = NULL;
	free(nb);
}

static void null_submit(struct lu *lu, struct bs_io *io)
{
	struct null_backstore *nb = lu->bs_priv;

	io->lu = lu;
	io->result = 0;
	if (io->op != BS_OP_FLUSH &&
	    (io->offset > lu->size_bytes || io->length > lu->size_bytes - io->offset))
		io->result = -EINVAL;
	else if (io->op == BS_OP_READ)
		memset(io->buf, 0, io->length);
	TAILQ_INSERT_TAIL(&nb->completed, io, link);
	ev_defer(nb->loop, &nb->complete_defer, null_complete_all, nb);
}

static int null_resize(struct lu *lu, uint64_t new_size)
{
	if (new_size == 0)
		return -EINVAL;
	lu->size_bytes = new_size;
	return 0;
}

const struct backstore_ops backstore_null_ops = {
	.name = "null",
	.open = null_open,
	.close = null_close,
	.submit = null_submit,
	.resize = null_resize,
	.map_status = NULL,
};
