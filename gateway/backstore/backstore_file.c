/* The file backstore: a regular file or a block device, driven through
 * Linux native AIO (libaio) from the LU's event loop.
 *
 * Data path. submit() only queues the request and arms a deferred flush, so
 * every command that arrives in one loop iteration goes to the kernel in one
 * io_submit(). Completions raise an eventfd registered on the loop; the loop
 * reaps them with io_getevents() and calls io->done(). Each request in the
 * kernel holds one slot from a fixed pool (no allocation per command); when
 * the pool or the kernel queue is full, requests wait in the pending list and
 * are retried as earlier ones complete.
 *
 * O_DIRECT. The file is opened twice: with O_DIRECT (when the filesystem
 * allows it) and buffered. Requests whose buffer, offset and length are all
 * aligned to the direct-I/O granularity bypass the page cache; others use the
 * buffered descriptor. The kernel keeps the two coherent: direct writes
 * invalidate cached pages and direct reads write back dirty ones first.
 * Buffered AIO is carried out inside io_submit(), so an unaligned request
 * costs the loop a page-cache copy (and a disk read on a cache miss).
 *
 * Everything that has no asynchronous form (fdatasync, hole punching,
 * zeroing, and FUA writes that cannot go direct) runs on one helper thread
 * per LU, so the loop never waits for the disk; the helper reports back
 * through a second eventfd. A failed flush is remembered: see
 * flush_durable().
 *
 * Threads. Each thread slot (workers.h) has its own queue: AIO context,
 * eventfds, slots and pending lists, registered on that thread's loop.
 * submit() uses the calling thread's queue, so completions come back to
 * the thread that submitted and READ/WRITE take no lock. Only the helper
 * thread's request list (flush, unmap, zeroes) is shared, under its mutex. */
#include "backstore.h"

#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <stdatomic.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../event_loop.h"
#include "../log.h"
#include "../model.h"
#include "../util.h"
#include "../workers.h"

#define FILE_AIO_DEPTH      256        /* requests in the kernel per LU */
#define FILE_DIRECT_ALIGN   4096       /* O_DIRECT granularity for files */
#define FILE_ZERO_CHUNK     (1u << 20) /* fallback zeroing write size */
#define FILE_RETRY_MS       1          /* io_submit EAGAIN with nothing in flight */

TAILQ_HEAD(bs_io_list, bs_io);

/* One request in the kernel. A request that transfers less than asked (EOF,
 * MAX_RW_COUNT) keeps its slot and is resubmitted for the rest. */
struct aio_slot {
	struct iocb iocb;
	struct bs_io *io;
	uint64_t progress;       /* bytes already transferred */
	bool direct;             /* submitted on the O_DIRECT descriptor */
	TAILQ_ENTRY(aio_slot) link;
};

TAILQ_HEAD(aio_slot_list, aio_slot);

/* The helper thread's side: the requests it is given (each remembers its
 * queue in io->bs_queue) and, in each queue, the ones it has finished; all
 * under the mutex. */
struct sync_worker {
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
	struct bs_io_list queue;
	/* Owned by the helper thread alone. */
	bool no_punch_hole;
	bool no_zero_range;
	void *zeros;             /* FILE_ZERO_CHUNK zero bytes, made on first use */
	int flush_error;         /* a flush failed: every later one fails too */
};

struct file_backstore;

/* One thread slot's requests (see the top). */
struct file_queue {
	struct file_backstore *fb;
	struct event_loop *loop;
	io_context_t aio;
	int aio_efd;
	struct ev_source aio_src;
	struct aio_slot slots[FILE_AIO_DEPTH];
	struct aio_slot_list free_slots;
	struct aio_slot_list resubmit;   /* short transfers to continue */
	struct bs_io_list pending;       /* submitted, not yet given a slot */
	unsigned in_flight;              /* slots in the kernel */
	bool kernel_full;                /* io_submit said EAGAIN */
	struct ev_deferred flush_defer;
	struct ev_timer retry_timer;
	/* helper thread results for this queue */
	struct bs_io_list sync_finished; /* under sync.lock */
	int done_efd;                    /* raised for every finished request */
	struct ev_source done_src;
	unsigned sync_outstanding;       /* queued and not yet reaped */
};

struct file_backstore {
	struct lu *lu;
	char path[PATH_MAX];
	bool is_blockdev;
	bool readonly;
	bool created;            /* open() made the file: remove it if open fails */
	int fd;                  /* buffered */
	int fd_direct;           /* O_DIRECT, or -1 */
	int fd_flush;            /* fdatasync only (flush_durable) */
	atomic_bool direct_refused; /* the device refused our alignment: buffered */
	uint32_t direct_align;

	struct sync_worker sync;
	unsigned n_queues;
	struct file_queue *queues[WORKER_SLOTS];
};

static struct file_backstore *fb_of(struct lu *lu)
{
	return lu->bs_priv;
}

/* --- helper thread: flush, unmap, write zeroes --------------------------- */

static int write_zeros(struct sync_worker *w, int fd, uint64_t offset, uint64_t length)
{
	if (!w->zeros) {
		w->zeros = calloc(1, FILE_ZERO_CHUNK);
		if (!w->zeros)
			return -ENOMEM;
	}
	while (length > 0) {
		size_t chunk = (size_t)MIN(length, (uint64_t)FILE_ZERO_CHUNK);
		ssize_t n = pwrite(fd, w->zeros, chunk, (off_t)offset);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		offset += (uint64_t)n;
		length -= (uint64_t)n;
	}
	return 0;
}

/* The filesystem or device has no such fallocate mode at all. (EINVAL only
 * says this one range does not suit it, e.g. unaligned on a block device.) */
static bool fallocate_unsupported(int err)
{
	return err == EOPNOTSUPP || err == ENOSYS;
}

/* Zeros over the range; the range stays allocated (SBC-3 WRITE SAME with
 * UNMAP=0). ZERO_RANGE converts extents instead of writing when it can. */
static int zero_range(struct file_backstore *fb, uint64_t offset, uint64_t length)
{
	struct sync_worker *w = &fb->sync;

	if (!w->no_zero_range) {
		if (fallocate(fb->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
			      (off_t)offset, (off_t)length) == 0)
			return 0;
		if (fallocate_unsupported(errno)) {
			log_info("%s: FALLOC_FL_ZERO_RANGE unsupported, writing zeros instead",
				 fb->path);
			w->no_zero_range = true;
		} else if (errno != EINVAL) {
			return -errno;
		}
	}
	return write_zeros(w, fb->fd, offset, length);
}

/* Deallocate the range; reads return zeros afterwards, as backstore.h
 * promises (so the core may report LBPRZ=1, SBC-3 READ CAPACITY (16)). On
 * a block device PUNCH_HOLE is a discard that guarantees zeros; a plain
 * BLKDISCARD does not, so where the device cannot punch we zero instead. */
static int punch_hole(struct file_backstore *fb, uint64_t offset, uint64_t length)
{
	struct sync_worker *w = &fb->sync;

	if (!w->no_punch_hole) {
		if (fallocate(fb->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      (off_t)offset, (off_t)length) == 0)
			return 0;
		if (fallocate_unsupported(errno)) {
			log_info("%s: FALLOC_FL_PUNCH_HOLE unsupported, UNMAP writes zeros instead",
				 fb->path);
			w->no_punch_hole = true;
		} else if (errno != EINVAL) {
			return -errno;
		}
	}
	if (fb->is_blockdev) {
		uint64_t range[2] = { offset, length };

		if (ioctl(fb->fd, BLKZEROOUT, range) == 0)
			return 0;
	}
	return zero_range(fb, offset, length);
}

/* An unaligned FUA write. Buffered AIO would run the write and the sync
 * inside io_submit() on the loop; here only the helper thread waits. */
static int write_durable(struct file_backstore *fb, struct bs_io *io)
{
	uint64_t done = 0;

	while (done < io->length) {
		struct iovec iov = { (char *)io->buf + done, (size_t)(io->length - done) };
		ssize_t n = pwritev2(fb->fd, &iov, 1, (off_t)(io->offset + done), RWF_DSYNC);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		done += (uint64_t)n;
	}
	return 0;
}

/* SBC-4 5.26: SYNCHRONIZE CACHE is GOOD only once what was written is on
 * the medium. fdatasync reports a failed writeback once per descriptor,
 * and the pages it failed to write are clean afterwards: asked again, it
 * succeeds although the data never got there (Linux errseq; PostgreSQL's
 * "fsyncgate"). So after one failure every later flush fails too, until
 * the LU is opened again. fd_flush serves flushes alone, so nothing else
 * (an O_DSYNC write on fd) takes the error report before a flush sees it.
 * fdatasync on any descriptor covers the whole inode, direct writes
 * included (they may leave metadata to commit). */
static int flush_durable(struct file_backstore *fb)
{
	struct sync_worker *w = &fb->sync;

	if (w->flush_error == 0 && fdatasync(fb->fd_flush) < 0) {
		w->flush_error = -errno;
		log_error("%s: flush failed: %s; written data may be lost, every later flush "
			  "fails until the LU is opened again", fb->path, strerror(errno));
	}
	return w->flush_error;
}

static int run_sync_op(struct file_backstore *fb, struct bs_io *io)
{
	switch (io->op) {
	case BS_OP_WRITE:
		return write_durable(fb, io);
	case BS_OP_FLUSH:
		return flush_durable(fb);
	case BS_OP_UNMAP:
		return punch_hole(fb, io->offset, io->length);
	case BS_OP_WRITE_ZEROES:
		return zero_range(fb, io->offset, io->length);
	default:
		return -EINVAL;
	}
}

static void *sync_worker_main(void *arg)
{
	struct file_backstore *fb = arg;
	struct sync_worker *w = &fb->sync;
	struct bs_io_list batch;
	struct bs_io *io;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->stop && TAILQ_EMPTY(&w->queue))
			pthread_cond_wait(&w->wake, &w->lock);
		if (TAILQ_EMPTY(&w->queue))
			break;  /* stopping and nothing left */
		TAILQ_INIT(&batch);
		TAILQ_CONCAT(&batch, &w->queue, link);
		pthread_mutex_unlock(&w->lock);

		TAILQ_FOREACH(io, &batch, link)
			io->result = run_sync_op(fb, io);

		pthread_mutex_lock(&w->lock);
		while ((io = TAILQ_FIRST(&batch))) {
			struct file_queue *q = io->bs_queue;

			TAILQ_REMOVE(&batch, io, link);
			TAILQ_INSERT_TAIL(&q->sync_finished, io, link);
			eventfd_write(q->done_efd, 1);
		}
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static void sync_worker_queue(struct file_queue *q, struct bs_io *io)
{
	struct sync_worker *w = &q->fb->sync;

	q->sync_outstanding++;
	io->bs_queue = q;
	pthread_mutex_lock(&w->lock);
	TAILQ_INSERT_TAIL(&w->queue, io, link);
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
}

/* Loop side: hand the helper's finished requests to their owners. */
static void sync_worker_reap(struct file_queue *q)
{
	struct sync_worker *w = &q->fb->sync;
	struct bs_io_list done;
	struct bs_io *io;
	eventfd_t count;

	eventfd_read(q->done_efd, &count);
	TAILQ_INIT(&done);
	pthread_mutex_lock(&w->lock);
	TAILQ_CONCAT(&done, &q->sync_finished, link);
	pthread_mutex_unlock(&w->lock);
	while ((io = TAILQ_FIRST(&done))) {
		TAILQ_REMOVE(&done, io, link);
		q->sync_outstanding--;
		io->done(io);
	}
}

static void sync_worker_event(struct event_loop *loop, uint32_t events, void *arg)
{
	(void)loop;
	(void)events;
	sync_worker_reap(arg);
}

/* --- AIO data path ------------------------------------------------------ */

static bool direct_ok(const struct file_backstore *fb, const void *buf, uint64_t offset,
		      uint64_t length)
{
	uint64_t mask = fb->direct_align - 1;

	return fb->fd_direct >= 0 && !atomic_load_explicit(&fb->direct_refused, memory_order_relaxed) &&
	       (((uintptr_t)buf | offset | length) & mask) == 0;
}

static void prep_slot(struct file_queue *q, struct aio_slot *slot)
{
	struct file_backstore *fb = q->fb;
	struct bs_io *io = slot->io;
	char *buf = (char *)io->buf + slot->progress;
	uint64_t offset = io->offset + slot->progress;
	uint64_t length = io->length - slot->progress;
	int fd;

	slot->direct = direct_ok(fb, buf, offset, length);
	fd = slot->direct ? fb->fd_direct : fb->fd;
	if (io->op == BS_OP_READ) {
		io_prep_pread(&slot->iocb, fd, buf, (size_t)length, (long long)offset);
	} else {
		io_prep_pwrite(&slot->iocb, fd, buf, (size_t)length, (long long)offset);
		/* SBC-3 FUA bit of the WRITE commands: durable before
		 * GOOD status. RWF_DSYNC needs Linux 4.13. */
		if (io->fua)
			slot->iocb.aio_rw_flags = RWF_DSYNC;
	}
	io_set_eventfd(&slot->iocb, q->aio_efd);
	slot->iocb.data = slot;
}

static void release_slot(struct file_queue *q, struct aio_slot *slot)
{
	slot->io = NULL;
	TAILQ_INSERT_HEAD(&q->free_slots, slot, link);
}

static void complete_io(struct bs_io *io, int result)
{
	io->result = result;
	io->done(io);
}

/* A slot came back from the kernel (or was refused by io_submit) with res:
 * bytes transferred or -errno. Either finish its request or continue it. */
static void slot_finished(struct file_queue *q, struct aio_slot *slot, long res)
{
	struct file_backstore *fb = q->fb;
	struct bs_io *io = slot->io;

	if (res == -EINVAL && slot->direct) {
		/* The device wants a coarser alignment than we assumed. The
		 * descriptor stays open until close: other threads use it. */
		if (!atomic_exchange(&fb->direct_refused, true))
			log_warn("%s: O_DIRECT refused a request, using buffered I/O from now on",
				 fb->path);
		TAILQ_INSERT_TAIL(&q->resubmit, slot, link);
		return;
	}
	if (res < 0) {
		release_slot(q, slot);
		complete_io(io, (int)res);
		return;
	}
	if (res == 0 && io->op == BS_OP_READ) {
		/* End of file: the backing shrank under the LU. What lies past
		 * it reads as zeros, like an unwritten block. */
		memset((char *)io->buf + slot->progress, 0, io->length - slot->progress);
		slot->progress = io->length;
	} else if (res == 0) {
		release_slot(q, slot);
		complete_io(io, -EIO);
		return;
	}
	slot->progress += (uint64_t)res;
	if (slot->progress < io->length) {
		TAILQ_INSERT_TAIL(&q->resubmit, slot, link);
		return;
	}
	release_slot(q, slot);
	complete_io(io, 0);
}

/* Checks the core should already have made; a bad request never reaches
 * the kernel. Returns 0 or -errno. */
static int check_io(const struct file_backstore *fb, const struct bs_io *io)
{
	if (io->op == BS_OP_FLUSH)
		return 0;
	if (io->op != BS_OP_READ && io->op != BS_OP_WRITE && io->op != BS_OP_UNMAP &&
	    io->op != BS_OP_WRITE_ZEROES)
		return -EINVAL;
	if (io->offset > fb->lu->size_bytes || io->length > fb->lu->size_bytes - io->offset)
		return -EINVAL;
	if (io->op != BS_OP_READ && fb->readonly)
		return -EROFS;
	if ((io->op == BS_OP_READ || io->op == BS_OP_WRITE) && io->length > 0 && !io->buf)
		return -EFAULT;
	return 0;
}

static bool unaligned_fua(const struct file_backstore *fb, const struct bs_io *io)
{
	return io->op == BS_OP_WRITE && io->fua && !direct_ok(fb, io->buf, io->offset, io->length);
}

/* Move pending requests into slots and the batch array, oldest first.
 * Requests that need no AIO go to the helper thread or complete here. */
static int fill_batch(struct file_queue *q, struct iocb **batch)
{
	struct file_backstore *fb = q->fb;
	struct aio_slot *slot;
	struct bs_io *io;
	int n = 0;

	while ((slot = TAILQ_FIRST(&q->resubmit))) {
		TAILQ_REMOVE(&q->resubmit, slot, link);
		prep_slot(q, slot);
		batch[n++] = &slot->iocb;
	}
	while ((io = TAILQ_FIRST(&q->pending))) {
		int rc = check_io(fb, io);
		bool needs_aio = rc == 0 && (io->op == BS_OP_READ || io->op == BS_OP_WRITE) &&
				 io->length > 0 && !unaligned_fua(fb, io);

		if (needs_aio && TAILQ_EMPTY(&q->free_slots))
			break;  /* wait for a completion to free a slot */
		TAILQ_REMOVE(&q->pending, io, link);
		if (rc < 0) {
			complete_io(io, rc);
		} else if (needs_aio) {
			slot = TAILQ_FIRST(&q->free_slots);
			TAILQ_REMOVE(&q->free_slots, slot, link);
			slot->io = io;
			slot->progress = 0;
			prep_slot(q, slot);
			batch[n++] = &slot->iocb;
		} else if (io->length == 0 && io->op != BS_OP_FLUSH) {
			complete_io(io, 0);
		} else {
			sync_worker_queue(q, io);
		}
	}
	return n;
}

/* Give the batch to the kernel, one io_submit() for all of it when it fits.
 * io_submit() may take only part of the array (it returns how many); it
 * fails as a whole only for the first iocb, which we then finish with the
 * error before going on with the rest. */
static void submit_batch(struct file_queue *q, struct iocb **batch, int n)
{
	int i = 0;

	while (i < n) {
		int rc = io_submit(q->aio, n - i, batch + i);

		if (rc > 0) {
			q->in_flight += (unsigned)rc;
			i += rc;
			continue;
		}
		if (rc == 0 || rc == -EAGAIN || rc == -EINTR) {
			/* Kernel queue full: keep the rest, in order, until a
			 * completion (or, with nothing in flight, a timer). */
			for (int j = n - 1; j >= i; j--) {
				struct aio_slot *slot = batch[j]->data;
				TAILQ_INSERT_HEAD(&q->resubmit, slot, link);
			}
			q->kernel_full = true;
			if (q->in_flight == 0)
				ev_timer_arm(q->loop, &q->retry_timer, FILE_RETRY_MS);
			return;
		}
		slot_finished(q, batch[i]->data, rc);
		i++;
	}
}

static void flush_pending(struct file_queue *q)
{
	struct iocb *batch[FILE_AIO_DEPTH];
	int n;

	/* A refused iocb may come back for a retry, and done() callbacks may
	 * queue new requests: go on until nothing more can be submitted. */
	while (!q->kernel_full && (n = fill_batch(q, batch)) > 0)
		submit_batch(q, batch, n);
}

static void flush_deferred(void *arg)
{
	flush_pending(arg);
}

static void retry_timer_fired(struct event_loop *loop, void *arg)
{
	struct file_queue *q = arg;

	(void)loop;
	q->kernel_full = false;
	flush_pending(q);
}

static void schedule_flush(struct file_queue *q)
{
	ev_defer(q->loop, &q->flush_defer, flush_deferred, q);
}

/* Reap every completion the kernel has; returns how many. */
static unsigned reap_completions(struct file_queue *q)
{
	struct io_event events[64];
	struct timespec no_wait = { 0, 0 };
	unsigned total = 0;
	int n;

	do {
		n = io_getevents(q->aio, 0, (long)ARRAY_SIZE(events), events, &no_wait);
		if (n < 0) {
			/* EINTR: the eventfd fires again for what is left. */
			if (n != -EINTR)
				log_error("%s: io_getevents failed: %s", q->fb->path, strerror(-n));
			break;
		}
		for (int i = 0; i < n; i++) {
			struct aio_slot *slot = events[i].obj->data;

			q->in_flight--;
			slot_finished(q, slot, (long)events[i].res);
		}
		total += (unsigned)n;
	} while (n == (int)ARRAY_SIZE(events));
	return total;
}

static void aio_event(struct event_loop *loop, uint32_t events, void *arg)
{
	struct file_queue *q = arg;
	eventfd_t count;

	(void)loop;
	(void)events;
	eventfd_read(q->aio_efd, &count);
	if (reap_completions(q) > 0)
		q->kernel_full = false;
	if (!TAILQ_EMPTY(&q->pending) || !TAILQ_EMPTY(&q->resubmit))
		schedule_flush(q);
}

static void file_submit(struct lu *lu, struct bs_io *io)
{
	struct file_queue *q = fb_of(lu)->queues[worker_slot()];

	io->lu = lu;
	io->result = 0;
	TAILQ_INSERT_TAIL(&q->pending, io, link);
	schedule_flush(q);
}

/* --- open / close ------------------------------------------------------- */

static void queue_release(struct file_queue *q)
{
	if (q->done_src.fn)
		ev_remove(q->loop, &q->done_src);
	if (q->aio_src.fn)
		ev_remove(q->loop, &q->aio_src);
	ev_defer_cancel(q->loop, &q->flush_defer);
	ev_timer_cancel(q->loop, &q->retry_timer);
	if (q->aio)
		io_destroy(q->aio);
	if (q->done_efd >= 0)
		close(q->done_efd);
	if (q->aio_efd >= 0)
		close(q->aio_efd);
	free(q);
}

static void file_release(struct file_backstore *fb)
{
	struct sync_worker *w = &fb->sync;

	if (w->started) {
		pthread_mutex_lock(&w->lock);
		w->stop = true;
		pthread_cond_signal(&w->wake);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->thread, NULL);
	}
	for (unsigned i = 0; i < fb->n_queues; i++)
		if (fb->queues[i])
			queue_release(fb->queues[i]);
	if (fb->fd_direct >= 0)
		close(fb->fd_direct);
	if (fb->fd_flush >= 0)
		close(fb->fd_flush);
	if (fb->fd >= 0)
		close(fb->fd);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	free(w->zeros);
	free(fb);
}

/* Allocate [from, to) of a thick file; where the filesystem cannot
 * (e.g. some FUSE or network filesystems), fall back to a sparse size. */
static int allocate_range(struct file_backstore *fb, uint64_t from, uint64_t to)
{
	if (fallocate(fb->fd, 0, (off_t)from, (off_t)(to - from)) == 0)
		return 0;
	if (!fallocate_unsupported(errno))
		return -errno;
	log_info("%s: fallocate unsupported, the file is sparse", fb->path);
	return ftruncate(fb->fd, (off_t)to) < 0 ? -errno : 0;
}

static int set_file_size(struct file_backstore *fb, uint64_t old_size, uint64_t new_size,
			 bool thin)
{
	if (new_size > old_size && !thin)
		return allocate_range(fb, old_size, new_size);
	return ftruncate(fb->fd, (off_t)new_size) < 0 ? -errno : 0;
}

/* Open the backing (creating or growing a file as the spec asks) and find
 * its size and direct-I/O alignment. */
static int open_backing(struct file_backstore *fb, const struct lu_spec *spec,
			uint64_t *size, char *err, size_t errlen)
{
	int flags = (fb->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	struct stat st;
	int rc;

	if (stat(fb->path, &st) < 0) {
		if (errno != ENOENT) {
			rc = -errno;
			snprintf(err, errlen, "cannot open %s: %s", fb->path, strerror(-rc));
			return rc;
		}
		if (spec->size == 0) {
			snprintf(err, errlen, "%s does not exist and no size was given", fb->path);
			return -ENOENT;
		}
		if (fb->readonly) {
			snprintf(err, errlen, "%s does not exist (read-only LU)", fb->path);
			return -ENOENT;
		}
		fb->fd = open(fb->path, flags | O_CREAT | O_EXCL, 0600);
		if (fb->fd < 0 || fstat(fb->fd, &st) < 0) {
			rc = -errno;
			snprintf(err, errlen, "cannot create %s: %s", fb->path, strerror(-rc));
			return rc;
		}
		fb->created = true;
	} else if (S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "cannot open %s: Is a directory", fb->path);
		return -EISDIR;
	} else if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		snprintf(err, errlen, "%s is neither a regular file nor a block device", fb->path);
		return -EINVAL;
	} else {
		fb->fd = open(fb->path, flags);
		if (fb->fd < 0 || fstat(fb->fd, &st) < 0) {
			rc = -errno;
			snprintf(err, errlen, "cannot open %s: %s", fb->path, strerror(-rc));
			return rc;
		}
	}

	fb->is_blockdev = S_ISBLK(st.st_mode);
	if (fb->is_blockdev) {
		int lbs = 0;

		if (ioctl(fb->fd, BLKGETSIZE64, size) < 0) {
			rc = -errno;
			snprintf(err, errlen, "cannot get the size of %s: %s", fb->path,
				 strerror(-rc));
			return rc;
		}
		if (spec->size > *size) {
			snprintf(err, errlen, "%s holds %llu bytes, less than the %llu asked",
				 fb->path, (unsigned long long)*size,
				 (unsigned long long)spec->size);
			return -ENOSPC;
		}
		fb->direct_align = FILE_DIRECT_ALIGN;
		if (ioctl(fb->fd, BLKSSZGET, &lbs) == 0 && lbs > 0)
			fb->direct_align = (uint32_t)lbs;
	} else {
		uint64_t old_size = fb->created ? 0 : (uint64_t)st.st_size;

		*size = old_size;
		if (spec->size > old_size) {
			if (fb->readonly) {
				snprintf(err, errlen, "%s is smaller than %llu bytes (read-only LU)",
					 fb->path, (unsigned long long)spec->size);
				return -ENOSPC;
			}
			rc = set_file_size(fb, old_size, spec->size, spec->thin);
			if (rc < 0) {
				snprintf(err, errlen, "cannot size %s to %llu bytes: %s", fb->path,
					 (unsigned long long)spec->size, strerror(-rc));
				return rc;
			}
			*size = spec->size;
		}
		if (*size == 0) {
			snprintf(err, errlen, "%s is empty and no size was given", fb->path);
			return -EINVAL;
		}
		fb->direct_align = FILE_DIRECT_ALIGN;
	}

	fb->fd_flush = open(fb->path, flags);
	if (fb->fd_flush < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot open %s: %s", fb->path, strerror(-rc));
		return rc;
	}
	fb->fd_direct = open(fb->path, flags | O_DIRECT);
	if (fb->fd_direct < 0)
		log_info("%s: O_DIRECT unavailable (%s), all I/O is buffered", fb->path,
			 strerror(errno));
	return 0;
}

/* The queue of one thread slot, registered on that thread's loop. */
static int queue_open(struct file_backstore *fb, struct event_loop *loop, struct file_queue **out,
		      char *err, size_t errlen)
{
	struct file_queue *q = calloc(1, sizeof(*q));
	int rc;

	*out = q;
	if (!q) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	q->fb = fb;
	q->loop = loop;
	q->aio_efd = q->done_efd = -1;
	TAILQ_INIT(&q->free_slots);
	TAILQ_INIT(&q->resubmit);
	TAILQ_INIT(&q->pending);
	TAILQ_INIT(&q->sync_finished);
	for (int i = FILE_AIO_DEPTH - 1; i >= 0; i--)
		TAILQ_INSERT_HEAD(&q->free_slots, &q->slots[i], link);
	ev_timer_init(&q->retry_timer, retry_timer_fired, q);
	rc = io_setup(FILE_AIO_DEPTH, &q->aio);
	if (rc < 0) {
		q->aio = NULL;
		snprintf(err, errlen, "io_setup failed: %s (see /proc/sys/fs/aio-max-nr)",
			 strerror(-rc));
		return rc;
	}
	q->aio_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	q->done_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->aio_efd < 0 || q->done_efd < 0) {
		rc = -errno;
		snprintf(err, errlen, "eventfd failed: %s", strerror(-rc));
		return rc;
	}
	rc = ev_add(loop, &q->aio_src, q->aio_efd, EPOLLIN, aio_event, q);
	if (rc == 0)
		rc = ev_add(loop, &q->done_src, q->done_efd, EPOLLIN, sync_worker_event, q);
	if (rc < 0) {
		snprintf(err, errlen, "cannot watch eventfd: %s", strerror(-rc));
		return rc;
	}
	return 0;
}

static int file_open(struct lu *lu, char *err, size_t errlen)
{
	struct file_backstore *fb = calloc(1, sizeof(*fb));
	struct sync_worker *w;
	uint64_t size = 0;
	int rc;

	if (!fb) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	w = &fb->sync;
	fb->lu = lu;
	fb->fd = fb->fd_direct = fb->fd_flush = -1;
	atomic_init(&fb->direct_refused, false);
	fb->readonly = lu->spec.readonly;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	TAILQ_INIT(&w->queue);

	if (lu->spec.path[0] == '\0') {
		snprintf(err, errlen, "the file backstore needs a path");
		rc = -EINVAL;
		goto fail;
	}
	str_copy(fb->path, lu->spec.path, sizeof(fb->path));
	rc = open_backing(fb, &lu->spec, &size, err, errlen);
	if (rc < 0)
		goto fail;

	fb->n_queues = worker_slots();
	for (unsigned i = 0; i < fb->n_queues; i++) {
		struct event_loop *loop = i == 0 ? lu->target->gw->loop : worker_loop(i);

		rc = queue_open(fb, loop, &fb->queues[i], err, errlen);
		if (rc < 0)
			goto fail;
	}
	rc = -pthread_create(&w->thread, NULL, sync_worker_main, fb);
	if (rc < 0) {
		snprintf(err, errlen, "cannot start the sync thread: %s", strerror(-rc));
		goto fail;
	}
	w->started = true;

	lu->bs_priv = fb;
	lu->size_bytes = size;
	log_debug("%s: opened %s, %llu bytes, direct I/O %s (align %u), %u queues", fb->path,
		  fb->is_blockdev ? "block device" : "file", (unsigned long long)size,
		  fb->fd_direct >= 0 ? "on" : "off", fb->direct_align, fb->n_queues);
	return 0;

fail:
	if (fb->created)
		unlink(fb->path);
	file_release(fb);
	return rc;
}

/* Finish everything outstanding in q: the loop cannot run for us while
 * close() holds it, so wait on both eventfds here. Completions may submit
 * new requests (done() callbacks do); those are drained too. */
static void queue_drain(struct file_queue *q)
{
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = q->aio_efd, .events = POLLIN },
			{ .fd = q->done_efd, .events = POLLIN },
		};
		bool kernel_was_full;

		ev_defer_cancel(q->loop, &q->flush_defer);
		ev_timer_cancel(q->loop, &q->retry_timer);
		flush_pending(q);
		if (q->in_flight == 0 && TAILQ_EMPTY(&q->pending) &&
		    TAILQ_EMPTY(&q->resubmit) && q->sync_outstanding == 0)
			break;
		/* Nothing in the kernel but it refused more: retry shortly. */
		kernel_was_full = q->kernel_full && q->in_flight == 0;
		if (poll(pfd, 2, kernel_was_full ? FILE_RETRY_MS : -1) < 0 && errno != EINTR) {
			log_error("%s: poll failed while closing: %s", q->fb->path, strerror(errno));
			break;
		}
		if (kernel_was_full)
			q->kernel_full = false;
		if (pfd[0].revents & POLLIN) {
			eventfd_t count;

			eventfd_read(q->aio_efd, &count);
			if (reap_completions(q) > 0)
				q->kernel_full = false;
		}
		if (pfd[1].revents & POLLIN)
			sync_worker_reap(q);
	}
}

/* Runs on the control thread with the world stopped (or no workers), so
 * every queue is ours to drain. */
static void file_close(struct lu *lu)
{
	struct file_backstore *fb = fb_of(lu);
	bool again = true;

	if (!fb)
		return;
	/* A completion on one queue may submit on another (the thread
	 * running here): drain until all are idle together. */
	while (again) {
		again = false;
		for (unsigned i = 0; i < fb->n_queues; i++) {
			struct file_queue *q = fb->queues[i];

			if (q->in_flight || !TAILQ_EMPTY(&q->pending) || !TAILQ_EMPTY(&q->resubmit) ||
			    q->sync_outstanding) {
				queue_drain(q);
				again = true;
			}
		}
	}
	lu->bs_priv = NULL;
	file_release(fb);
}

/* --- resize and provisioning status -------------------------------------- */

static int file_resize(struct lu *lu, uint64_t new_size)
{
	struct file_backstore *fb = fb_of(lu);
	int rc;

	if (fb->is_blockdev)
		return -EOPNOTSUPP;
	if (fb->readonly)
		return -EROFS;
	if (new_size == 0)
		return -EINVAL;
	/* Runs on the loop: an admin operation, rare, and ftruncate/fallocate
	 * of a file are metadata updates. */
	rc = set_file_size(fb, lu->size_bytes, new_size, lu->spec.thin);
	if (rc < 0) {
		log_error("%s: resize to %llu bytes failed: %s", fb->path,
			  (unsigned long long)new_size, strerror(-rc));
		return rc;
	}
	lu->size_bytes = new_size;
	return 0;
}

/* SBC-3 GET LBA STATUS: a thin file's holes are deallocated ranges.
 * Thick files and block devices report everything mapped (ext4 shows
 * preallocated but unwritten extents as holes, which is not what an
 * initiator means by "deallocated"). */
static int file_map_status(struct lu *lu, uint64_t offset, bool *mapped, uint64_t *len)
{
	struct file_backstore *fb = fb_of(lu);
	uint64_t size = lu->size_bytes;
	off_t data, hole;

	if (offset >= size)
		return -EINVAL;
	*mapped = true;
	*len = size - offset;
	if (fb->is_blockdev || !lu->spec.thin)
		return 0;

	data = lseek(fb->fd, (off_t)offset, SEEK_DATA);
	if (data < 0) {
		if (errno == ENXIO) {           /* only a hole up to EOF */
			*mapped = false;
			return 0;
		}
		return errno == EINVAL ? 0 : -errno;  /* no SEEK_DATA: all mapped */
	}
	if ((uint64_t)data > offset) {
		*mapped = false;
		*len = MIN((uint64_t)data, size) - offset;
		return 0;
	}
	hole = lseek(fb->fd, (off_t)offset, SEEK_HOLE);
	if (hole < 0)
		return -errno;
	*len = MIN((uint64_t)hole, size) - offset;
	return 0;
}

const struct backstore_ops backstore_file_ops = {
	.name = "file",
	.open = file_open,
	.close = file_close,
	.submit = file_submit,
	.resize = file_resize,
	.map_status = file_map_status,
};
