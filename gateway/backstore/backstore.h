/* The storage seam: every backstore (file, null, rbd, ...) implements this
 * ops table. I/O is asynchronous: submit() queues the request and io->done()
 * is called later from the event loop of the thread that called submit()
 * (workers.h) — never from inside submit(), so callers need not guard
 * against re-entrancy. Offsets and lengths are bytes. close() runs on the
 * control thread with the world stopped and may complete any thread's
 * requests itself.
 *
 * Backstores whose open can block (a network store) return BS_OPEN_PENDING
 * from open() and finish it off the loops; they report the outcome with
 * lu_backing_opened() (model.h) on the control thread. Until then the LU
 * exists but answers NOT READY (SPC-4 4.5.2: becoming ready). */
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
	/* Optional ops, used only where supports() says yes: */
	BS_OP_WRITE_SAME,   /* buf holds pattern_len bytes, repeated over the range */
	BS_OP_COMPARE_AND_WRITE, /* atomically: if the range equals cmp_buf, write
				  * buf; else -EILSEQ with miscompare_offset */
	BS_OP_MAP_STATUS,   /* thin provisioning, asynchronously: the run from
			     * offset (at most length bytes) that is all mapped
			     * or all deallocated: mapped and map_length */
};

#define BS_OPEN_PENDING 1
#define BS_RESIZE_PENDING 1

struct bs_io {
	enum bs_op op;
	uint64_t offset;
	uint64_t length;
	void *buf;          /* READ/WRITE data, length bytes */
	bool fua;           /* WRITE: durable before completion (SBC-3 FUA) */
	void *cmp_buf;      /* COMPARE_AND_WRITE: the verify data, length bytes */
	uint32_t pattern_len; /* WRITE_SAME: bytes in buf (one logical block) */
	uint64_t miscompare_offset; /* COMPARE_AND_WRITE -EILSEQ: first differing
				     * byte, counted from offset */
	bool mapped;        /* MAP_STATUS results */
	uint64_t map_length;
	int result;         /* 0 or -errno, set before done() */
	void (*done)(struct bs_io *io);
	void *arg;          /* owner's context */
	/* private to the backstore */
	struct lu *lu;
	void *bs_queue;     /* the submitting thread's queue (backstore_file.c) */
	TAILQ_ENTRY(bs_io) link;
};

/* Fencing (gateway/fencing.c, docs/cluster.md "Fencing"): a store that
 * several nodes write at once (rbd) can refuse a node's clients, so a node
 * that stopped or was cut off cannot land writes it still had queued once
 * the others moved on. Process-wide calls, made on the control thread;
 * results come back on the control thread through done(ctx, result, msg)
 * (msg says what went wrong, for the admin). */
typedef void (*bs_fence_done_fn)(void *ctx, int result, const char *msg);
struct backstore_fencing_ops {
	/* This process's live clients of the store, space separated (RADOS:
	 * each cluster handle's client address); "" when it has none. Any
	 * thread. */
	void (*identity)(char *buf, size_t len);
	/* Refuse (add) or admit again (!add) every client of identity, store
	 * wide, for expire_s seconds (add only). */
	int (*exclude)(const char *identity, bool add, unsigned expire_s, bs_fence_done_fn done,
		       void *ctx);
	/* This process's clients have learnt every exclusion made so far, so
	 * what they write from now on is ordered after any refused client's
	 * last write. */
	int (*sync)(bs_fence_done_fn done, void *ctx);
	/* Hand out no current client again: LUs opened from now on connect
	 * anew (a fenced node reconnecting with new clients). */
	void (*renew)(void);
};

struct backstore_ops {
	const char *name;
	/* Open the backing for lu->spec; set lu->size_bytes. err gets a message
	 * for the admin on failure. */
	int (*open)(struct lu *lu, char *err, size_t errlen);
	/* Finish outstanding I/O (their done() still runs) and release. */
	void (*close)(struct lu *lu);
	void (*submit)(struct lu *lu, struct bs_io *io);
	/* Grow or shrink the backing to new_size bytes; updates lu->size_bytes.
	 * May return BS_RESIZE_PENDING and report the end with
	 * lu_backing_resized() (model.h) on the control thread. */
	int (*resize)(struct lu *lu, uint64_t new_size);
	/* Thin provisioning: is the block range starting at offset mapped?
	 * Sets *len to the length of the run with the same state. May be NULL. */
	int (*map_status)(struct lu *lu, uint64_t offset, bool *mapped, uint64_t *len);
	/* Can submit() take op over this range? Only asked for the optional
	 * ops; NULL means none of them. */
	bool (*supports)(const struct lu *lu, enum bs_op op, uint64_t offset, uint64_t length);
	/* Process-wide settings (sangwd --rbd-handles); NULL: none. */
	int (*configure)(const char *key, const char *value, char *err, size_t errlen);
	/* The backing spec's backstore-specific part (lu_spec.path and
	 * lu_spec.options) is well formed; err says why not. NULL: anything. */
	int (*check_spec)(const char *path, const char *options, char *err, size_t errlen);
	/* The process ends and every LU is closed: finish background work
	 * (threads, connections) now. NULL: nothing to do. */
	void (*shutdown)(void);
	/* NULL for storage only this node writes (file, null). */
	const struct backstore_fencing_ops *fencing;
};

extern const struct backstore_ops backstore_file_ops;
extern const struct backstore_ops backstore_null_ops;
#ifdef HAVE_RBD
extern const struct backstore_ops backstore_rbd_ops;   /* rbd/backstore_rbd.c */
#endif

/* Look up by name ("file", "null", "rbd"); NULL when unknown. */
const struct backstore_ops *backstore_find(const char *name);
/* Pass a process-wide setting to a backstore; -ENOENT when it has none. */
int backstore_configure(const char *name, const char *key, const char *value,
			char *err, size_t errlen);
/* The built-in backstores' names, space separated (sangwd --version). */
void backstore_names(char *buf, size_t len);
/* Every backstore's shutdown(), once every LU is gone (sangwd's exit). */
void backstore_shutdown_all(void);
/* The fencing ops of the built-in backstore that has them (rbd), or NULL. */
const struct backstore_fencing_ops *backstore_fencing(void);

/* Does the backstore of an LU with these ops take the optional op over
 * this range? */
static inline bool backstore_ops_support(const struct backstore_ops *ops, const struct lu *lu,
					 enum bs_op op, uint64_t offset, uint64_t length)
{
	return ops->supports && ops->supports(lu, op, offset, length);
}

#endif
