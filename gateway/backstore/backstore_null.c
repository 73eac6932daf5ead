/* The null backstore: writes are discarded and reads return zeros. It is the
 * reference for benchmarking the target itself, so its path is kept to a
 * memset and a list insertion. Completions still go through the event loop
 * (a deferred call), never from inside submit(), as backstore.h requires:
 * the loop of the thread that submitted (one queue per thread slot,
 * workers.h). */
#include "backstore.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../event_loop.h"
#include "../model.h"
#include "../workers.h"

#define NULL_DEFAULT_SIZE (1ull << 30)

struct null_queue {
	struct event_loop *loop;
	struct ev_deferred complete_defer;
	TAILQ_HEAD(, bs_io) completed;
} __attribute__((aligned(64)));

struct null_backstore {
	unsigned n_queues;
	struct null_queue queues[];
};

static void null_complete_all(void *arg)
{
	struct null_queue *q = arg;
	struct bs_io *io;

	/* done() may submit again; those land at the tail and run here too. */
	while ((io = TAILQ_FIRST(&q->completed))) {
		TAILQ_REMOVE(&q->completed, io, link);
		io->done(io);
	}
}

static int null_open(struct lu *lu, char *err, size_t errlen)
{
	unsigned n = worker_slots();
	struct null_backstore *nb = aligned_alloc(64, sizeof(*nb) + n * sizeof(nb->queues[0]));

	if (!nb) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memset(nb, 0, sizeof(*nb) + n * sizeof(nb->queues[0]));
	nb->n_queues = n;
	for (unsigned i = 0; i < n; i++) {
		nb->queues[i].loop = i == 0 ? lu->target->gw->loop : worker_loop(i);
		TAILQ_INIT(&nb->queues[i].completed);
	}
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
	/* Control thread, workers stopped or held: every queue is ours. */
	for (unsigned i = 0; i < nb->n_queues; i++) {
		ev_defer_cancel(nb->queues[i].loop, &nb->queues[i].complete_defer);
		null_complete_all(&nb->queues[i]);
	}
	lu->bs_priv = NULL;
	free(nb);
}

static void null_submit(struct lu *lu, struct bs_io *io)
{
	struct null_backstore *nb = lu->bs_priv;
	struct null_queue *q = &nb->queues[worker_slot()];

	io->lu = lu;
	io->result = 0;
	if (io->op != BS_OP_FLUSH &&
	    (io->offset > lu->size_bytes || io->length > lu->size_bytes - io->offset))
		io->result = -EINVAL;
	else if (io->op == BS_OP_READ)
		memset(io->buf, 0, io->length);
	TAILQ_INSERT_TAIL(&q->completed, io, link);
	ev_defer(q->loop, &q->complete_defer, null_complete_all, q);
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
