/* The storage seam: every backstore (file, null, rbd, ...) implements this
 * ops table. I/O is asynchronous: submit() queues the request and io->done()
 * is called later from the event loop of the thread that called submit()
 * (workers.h) — never from inside submit(), so callers need not guard
 * against re-entrancy. Offsets and lengths are bytes. close() runs on the
 * control thread with the world stopped and may complete any thread's
 * requests itself. */
#ifndef SANGW_BACKSTORE_H
#define SANGW_BACKSTORE_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/queue.h>
#include <sys/uio.h>

struct lu;

enum bs_op {
	BS_OP_READ,
	BS_OP_WRITE,
	BS_OP_FLUSH,        /* make everything written so far durable */
	BS_OP_UNMAP,        /* deallocate the range; reads return zeros after */
	BS_OP_WRITE_ZEROES, /* write zeros over the range (allocated or not) */
};

struct bs_io {
	enum bs_op op;
	uint64_t offset;
	uint64_t length;
	void *buf;          /* READ/WRITE data, length bytes */
	bool fua;           /* WRITE: durable before completion (SBC-3 FUA) */
	int result;         /* 0 or -errno, set before done() */
	void (*done)(struct bs_io *io);
	void *arg;          /* owner's context */
	/* private to the backstore */
	struct lu *lu;
	void *bs_queue;     /* the submitting thread's queue (backstore_file.c) */
	TAILQ_ENTRY(bs_io) link;
};

struct backstore_ops {
	const char *name;
	/* Open the backing for lu->spec; set lu->size_bytes. err gets a message
	 * for the admin on failure. */
	int (*open)(struct lu *lu, char *err, size_t errlen);
	/* Finish outstanding I/O (their done() still runs) and release. */
	void (*close)(struct lu *lu);
	void (*submit)(struct lu *lu, struct bs_io *io);
	/* Grow or shrink the backing to new_size bytes; updates lu->size_bytes. */
	int (*resize)(struct lu *lu, uint64_t new_size);
	/* Thin provisioning: is the block range starting at offset mapped?
	 * Sets *len to the length of the run with the same state. May be NULL. */
	int (*map_status)(struct lu *lu, uint64_t offset, bool *mapped, uint64_t *len);
};

extern const struct backstore_ops backstore_file_ops;
extern const struct backstore_ops backstore_null_ops;

/* Look up by name ("file", "null"); NULL when unknown. */
const struct backstore_ops *backstore_find(const char *name);

#endif
