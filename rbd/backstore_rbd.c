/* The Ceph RBD backstore: rbd:POOL/IMAGE[,conf=PATH][,id=CLIENT][,size=SIZE]
 * [,create=1][,timeout=SECONDS] (docs/rbd.md).
 *
 * Data path. submit() hands the request to librbd's asynchronous API
 * (readv/writev straight from the command's buffer, flush, discard,
 * write_zeroes, writesame, compare_and_write) and returns. librbd calls
 * back on one of its own threads; the callback touches nothing of the
 * gateway: it only appends the request to its submitting thread's queue
 * (a mutex shared with that thread alone) and raises the queue's eventfd
 * when the queue was empty. The thread's event loop then completes the
 * requests with io->done(), as backstore.h asks.
 *
 * Everything that blocks (connect, open, create, close, resize, the size
 * after a header change, GET LBA STATUS's object listing) runs on the
 * admin thread (rbd_cluster.h): open() returns BS_OPEN_PENDING and the LU
 * answers NOT READY until the image is open; a failed open is retried every
 * few seconds, so an LU comes up by itself once Ceph is reachable. resize()
 * returns BS_RESIZE_PENDING; a resize made elsewhere reaches us through
 * librbd's update watch. Results go back to the control thread
 * (workers_run_on_control) or to the submitting thread's queue.
 *
 * Several gateways write one image at once, so images with the
 * exclusive-lock feature are refused (the lock would move between gateways
 * on every write) and librbd's cache is off (rbd_cluster.c). */
#include "../gateway/backstore/backstore.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <rbd/librbd.h>

#include "../gateway/event_loop.h"
#include "../gateway/log.h"
#include "../gateway/model.h"
#include "../gateway/util.h"
#include "../gateway/workers.h"
#include "rbd_cluster.h"

#define RBD_TIMEOUT_DEFAULT_S  30
#define RBD_OPEN_RETRY_MS      5000
/* librbd 16.2 compares and writes atomically only inside one 512-byte
 * sector; larger COMPARE AND WRITEs take the core's range lock. */
#define RBD_CAW_SECTOR         512

TAILQ_HEAD(bs_io_list, bs_io);

/* One thread slot's requests (workers.h). */
struct rbd_queue {
	struct rbd_lu *rl;
	struct event_loop *loop;
	int efd;
	struct ev_source src;
	unsigned in_flight;              /* the slot's thread only */
	pthread_mutex_t lock;            /* finished: the slot's thread and librbd's */
	struct bs_io_list finished;
} __attribute__((aligned(64)));

struct rbd_lu {
	struct lu *lu;                   /* NULL once closed */
	char pool[128];
	char image_name[256];
	struct rbd_cluster_key key;
	bool create;
	uint64_t create_size;
	bool readonly;

	/* Set by the admin thread before it posts, read on the control thread. */
	struct rbd_cluster *cluster;
	rados_ioctx_t ioctx;
	rbd_image_t image;
	uint64_t size;
	uint64_t object_size;
	int open_result;
	char open_error[1024];

	/* One job each: a close may be queued while an open still is. */
	struct rbd_admin_job open_job, close_job, resize_job;
	struct ev_deferred opened_defer; /* admin thread -> control thread */
	struct ev_timer retry_timer;
	pthread_mutex_t lock;            /* closing, between control and admin */
	bool closing;
	/* The image's header changed (a resize made elsewhere): librbd's
	 * watch -> the admin thread reads the size -> the control thread. */
	uint64_t watch_handle;
	bool watching;                   /* admin thread */
	bool stat_queued;                /* under lock */
	struct rbd_admin_job stat_job;
	struct ev_deferred stat_defer;
	uint64_t watched_size;           /* under lock */
	/* resize: admin thread -> control thread */
	struct ev_deferred resized_defer;
	bool resizing;                   /* under lock */
	uint64_t resize_to;
	int resize_result;

	unsigned n_queues;
	struct rbd_queue *queues[WORKER_SLOTS];
};

static struct rbd_lu *rl_of(const struct lu *lu)
{
	return lu->bs_priv;
}

/* --- options ------------------------------------------------------------- */

/* "POOL/IMAGE" and "conf=...,id=...,create=1,timeout=N" into rl (or only
 * checked when rl is NULL). */
static int parse_spec(const char *path, const char *options, struct rbd_lu *rl,
		      char *err, size_t errlen)
{
	char opts[512];
	const char *slash = strchr(path, '/');
	char *opt, *save = NULL;
	struct rbd_lu scratch;

	if (!rl)
		rl = &scratch;
	memset(rl, 0, sizeof(*rl));
	rl->key.timeout_s = RBD_TIMEOUT_DEFAULT_S;
	if (!slash || slash == path || !slash[1] || strchr(slash + 1, '/') ||
	    (size_t)(slash - path) >= sizeof(rl->pool) || strlen(slash + 1) >= sizeof(rl->image_name)) {
		snprintf(err, errlen, "\"%s\" is not POOL/IMAGE", path);
		return -EINVAL;
	}
	memcpy(rl->pool, path, (size_t)(slash - path));
	str_copy(rl->image_name, slash + 1, sizeof(rl->image_name));
	if (str_copy(opts, options, sizeof(opts)) >= sizeof(opts)) {
		snprintf(err, errlen, "options too long");
		return -EINVAL;
	}
	for (opt = strtok_r(opts, ",", &save); opt; opt = strtok_r(NULL, ",", &save)) {
		char *value = strchr(opt, '=');
		char *end;

		if (!value) {
			snprintf(err, errlen, "option '%s' needs a value", opt);
			return -EINVAL;
		}
		*value++ = '\0';
		if (!strcmp(opt, "conf")) {
			if (value[0] != '/' || str_copy(rl->key.conf, value, sizeof(rl->key.conf)) >=
						       sizeof(rl->key.conf)) {
				snprintf(err, errlen, "conf=%s is not an absolute path", value);
				return -EINVAL;
			}
		} else if (!strcmp(opt, "id")) {
			if (!value[0] || str_copy(rl->key.id, value, sizeof(rl->key.id)) >= sizeof(rl->key.id)) {
				snprintf(err, errlen, "id=%s: 1 to %zu characters", value, sizeof(rl->key.id) - 1);
				return -EINVAL;
			}
		} else if (!strcmp(opt, "create")) {
			if (!strcmp(value, "1") || !strcmp(value, "yes") || !strcmp(value, "true"))
				rl->create = true;
			else if (strcmp(value, "0") && strcmp(value, "no") && strcmp(value, "false")) {
				snprintf(err, errlen, "create=%s: expected 1 or 0", value);
				return -EINVAL;
			}
		} else if (!strcmp(opt, "timeout")) {
			unsigned long t = strtoul(value, &end, 10);

			if (*value < '0' || *value > '9' || *end || t < 1 || t > 3600) {
				snprintf(err, errlen, "timeout=%s: seconds from 1 to 3600", value);
				return -EINVAL;
			}
			rl->key.timeout_s = (unsigned)t;
		} else {
			snprintf(err, errlen, "unknown option '%s' (conf, id, create, timeout)", opt);
			return -EINVAL;
		}
	}
	return 0;
}

static int rbd_check_spec(const char *path, const char *options, char *err, size_t errlen)
{
	return parse_spec(path, options, NULL, err, errlen);
}

static int rbd_configure(const char *key, const char *value, char *err, size_t errlen)
{
	char *end;
	unsigned long n;

	if (strcmp(key, "handles") != 0) {
		snprintf(err, errlen, "unknown setting %s", key);
		return -EINVAL;
	}
	n = strtoul(value, &end, 10);
	if (*value < '0' || *value > '9' || *end || n > RBD_HANDLES_MAX ||
	    rbd_cluster_set_handles((unsigned)n) < 0) {
		snprintf(err, errlen, "%s: a number from 1 to %d", value, RBD_HANDLES_MAX);
		return -EINVAL;
	}
	return 0;
}

/* --- admin thread: open, close, resize ----------------------------------- */

static void release_image(struct rbd_lu *rl)
{
	if (rl->watching) {
		/* Waits for a watch callback still running. */
		rbd_update_unwatch(rl->image, rl->watch_handle);
		rl->watching = false;
	}
	if (rl->image) {
		int rc = rbd_close(rl->image);

		if (rc < 0)
			log_warn("rbd %s/%s: close: %s", rl->pool, rl->image_name, strerror(-rc));
		rl->image = NULL;
	}
	if (rl->ioctx) {
		rados_ioctx_destroy(rl->ioctx);
		rl->ioctx = NULL;
	}
	if (rl->cluster) {
		rbd_cluster_put(rl->cluster);
		rl->cluster = NULL;
	}
}

/* Make the image: layering only, no exclusive-lock (several writers). */
static int create_image(struct rbd_lu *rl)
{
	rbd_image_options_t opts;
	int rc;

	rbd_image_options_create(&opts);
	rbd_image_options_set_uint64(opts, RBD_IMAGE_OPTION_FEATURES, RBD_FEATURE_LAYERING);
	rc = rbd_create4(rl->ioctx, rl->image_name, rl->create_size, opts);
	rbd_image_options_destroy(opts);
	if (rc == 0)
		log_info("rbd %s/%s: created, %llu bytes", rl->pool, rl->image_name,
			 (unsigned long long)rl->create_size);
	return rc == -EEXIST ? 0 : rc;
}

static void image_updated(void *arg);

static int open_image(struct rbd_lu *rl, char *err, size_t errlen)
{
	const char *p = rl->pool, *i = rl->image_name;
	rbd_image_info_t info;
	uint64_t features = 0;
	int rc;

	rc = rbd_cluster_get(&rl->key, &rl->cluster, err, errlen);
	if (rc < 0)
		return rc;
	rc = rados_ioctx_create(rbd_cluster_rados(rl->cluster), p, &rl->ioctx);
	if (rc < 0) {
		rl->ioctx = NULL;
		snprintf(err, errlen, "pool %s: %s", p, rc == -ENOENT ? "no such pool" : strerror(-rc));
		return rc;
	}
	rc = rl->readonly ? rbd_open_read_only(rl->ioctx, i, &rl->image, NULL)
			  : rbd_open(rl->ioctx, i, &rl->image, NULL);
	if (rc == -ENOENT && rl->create) {
		if (!rl->create_size) {
			snprintf(err, errlen, "image %s/%s does not exist and create=1 needs size=SIZE", p, i);
			return rc;
		}
		rc = create_image(rl);
		if (rc < 0) {
			snprintf(err, errlen, "cannot create image %s/%s: %s", p, i, strerror(-rc));
			return rc;
		}
		rc = rl->readonly ? rbd_open_read_only(rl->ioctx, i, &rl->image, NULL)
				  : rbd_open(rl->ioctx, i, &rl->image, NULL);
	}
	if (rc < 0) {
		rl->image = NULL;
		if (rc == -ENOENT)
			snprintf(err, errlen, "image %s/%s does not exist (create it with rbd create "
				 "--image-shared, or add create=1,size=SIZE)", p, i);
		else
			snprintf(err, errlen, "cannot open image %s/%s: %s", p, i, strerror(-rc));
		return rc;
	}
	rbd_get_features(rl->image, &features);
	if (features & RBD_FEATURE_EXCLUSIVE_LOCK) {
		snprintf(err, errlen, "image %s/%s has the exclusive-lock feature, which gateways writing "
			 "it at once would pass back and forth: rbd feature disable %s/%s%s%s exclusive-lock",
			 p, i, p, i, features & RBD_FEATURE_FAST_DIFF ? " fast-diff" : "",
			 features & RBD_FEATURE_OBJECT_MAP ? " object-map" : "");
		return -EBUSY;
	}
	rc = rbd_stat(rl->image, &info, sizeof(info));
	if (rc < 0) {
		snprintf(err, errlen, "cannot stat image %s/%s: %s", p, i, strerror(-rc));
		return rc;
	}
	rl->size = info.size;
	rl->object_size = info.obj_size;
	/* Resizes made elsewhere (rbd resize, another gateway): every node
	 * reports the new capacity (SBC-3 4.6). */
	rc = rbd_update_watch(rl->image, &rl->watch_handle, image_updated, rl);
	if (rc == 0)
		rl->watching = true;
	else
		log_warn("rbd %s/%s: cannot watch the image for resizes: %s", p, i, strerror(-rc));
	if (rl->create_size && rl->create_size != info.size)
		log_info("rbd %s/%s: the image has %llu bytes; size=%llu only applies to creation", p, i,
			 (unsigned long long)info.size, (unsigned long long)rl->create_size);
	return 0;
}

static void opened_on_control(void *arg);

static void run_open(struct rbd_admin_job *job)
{
	struct rbd_lu *rl = container_of(job, struct rbd_lu, open_job);

	rl->open_error[0] = '\0';
	rl->open_result = open_image(rl, rl->open_error, sizeof(rl->open_error));
	if (rl->open_result < 0)
		release_image(rl);
	pthread_mutex_lock(&rl->lock);
	if (!rl->closing)
		workers_run_on_control(&rl->opened_defer, opened_on_control, rl);
	pthread_mutex_unlock(&rl->lock);
}

/* The loops are done with rl (close() drained and removed the queues);
 * only librbd's handle is left to let go. Jobs run in order, so any open
 * queued before has ended. */
/* The memory of rl and its queues (detached from their loops already). */
static void free_rl(struct rbd_lu *rl)
{
	for (unsigned s = 0; s < rl->n_queues; s++) {
		if (!rl->queues[s])
			continue;
		pthread_mutex_destroy(&rl->queues[s]->lock);
		free(rl->queues[s]);
	}
	pthread_mutex_destroy(&rl->lock);
	free(rl);
}

static void run_close(struct rbd_admin_job *job)
{
	struct rbd_lu *rl = container_of(job, struct rbd_lu, close_job);

	release_image(rl);
	free_rl(rl);
}

static void queue_job(struct rbd_lu *rl, struct rbd_admin_job *job, void (*run)(struct rbd_admin_job *))
{
	job->run = run;
	if (rbd_admin_queue(job) < 0)
		log_error("rbd %s/%s: cannot start the admin thread", rl->pool, rl->image_name);
}

static void retry_open(struct event_loop *loop, void *arg)
{
	struct rbd_lu *rl = arg;

	(void)loop;
	queue_job(rl, &rl->open_job, run_open);
}

/* Control thread, world stopped: the open ended. */
static void opened_on_control(void *arg)
{
	struct rbd_lu *rl = arg;

	if (!rl->lu)
		return;
	if (rl->open_result < 0) {
		lu_backing_opened(rl->lu, rl->open_result, 0, rl->open_error);
		ev_timer_arm(rl->lu->target->gw->loop, &rl->retry_timer, RBD_OPEN_RETRY_MS);
		return;
	}
	lu_backing_opened(rl->lu, 0, rl->size, NULL);
}

/* --- data path ----------------------------------------------------------- */

/* Any thread: hand io, finished with result, to its submitting thread's
 * queue (librbd's threads, the admin thread, and errors found before
 * librbd saw the request, which still complete later). */
static void finish_later(struct rbd_queue *q, struct bs_io *io, int result)
{
	bool was_empty;

	io->result = result;
	pthread_mutex_lock(&q->lock);
	was_empty = TAILQ_EMPTY(&q->finished);
	TAILQ_INSERT_TAIL(&q->finished, io, link);
	pthread_mutex_unlock(&q->lock);
	if (was_empty)
		eventfd_write(q->efd, 1);
}

/* librbd's thread: hand the request to its thread's queue. */
static void io_finished(rbd_completion_t c, void *arg)
{
	struct bs_io *io = arg;
	struct rbd_queue *q = io->bs_queue;
	ssize_t r = rbd_aio_get_return_value(c);

	rbd_aio_release(c);
	if (r == -EILSEQ && io->op == BS_OP_COMPARE_AND_WRITE) {
		/* librbd 16.2 reports the mismatch as the containing
		 * object's start plus the offset in the buffer. */
		uint64_t object_start = io->offset - io->offset % q->rl->object_size;

		io->miscompare_offset -= object_start;
	}
	finish_later(q, io, r < 0 ? (int)r : 0);
}

/* The queue's thread: complete what librbd finished. */
static void reap(struct rbd_queue *q)
{
	struct bs_io_list done;
	struct bs_io *io;
	eventfd_t count;

	eventfd_read(q->efd, &count);
	TAILQ_INIT(&done);
	pthread_mutex_lock(&q->lock);
	TAILQ_CONCAT(&done, &q->finished, link);
	pthread_mutex_unlock(&q->lock);
	while ((io = TAILQ_FIRST(&done))) {
		TAILQ_REMOVE(&done, io, link);
		q->in_flight--;
		io->done(io);
	}
}

static void queue_event(struct event_loop *loop, uint32_t events, void *arg)
{
	(void)loop;
	(void)events;
	reap(arg);
}

static int start_io(struct rbd_lu *rl, struct bs_io *io, rbd_completion_t c)
{
	struct iovec iov = { .iov_base = io->buf, .iov_len = io->length };
	rbd_image_t img = rl->image;

	switch (io->op) {
	case BS_OP_READ:
		return rbd_aio_readv(img, &iov, 1, io->offset, c);
	case BS_OP_WRITE:
		/* No flush for FUA: with the cache off a write completes
		 * only once the OSDs have it (rbd_cluster.c). */
		return rbd_aio_writev(img, &iov, 1, io->offset, c);
	case BS_OP_FLUSH:
		return rbd_aio_flush(img, c);
	case BS_OP_UNMAP:
		return rbd_aio_discard(img, io->offset, io->length, c);
	case BS_OP_WRITE_ZEROES:
		return rbd_aio_write_zeroes(img, io->offset, io->length, c, 0, 0);
	case BS_OP_WRITE_SAME:
		return rbd_aio_writesame(img, io->offset, io->length, io->buf, io->pattern_len, c, 0);
	case BS_OP_MAP_STATUS:
		break;          /* rbd_submit() hands it to the admin thread */
	case BS_OP_COMPARE_AND_WRITE: {
		ssize_t rc = rbd_aio_compare_and_write(img, io->offset, io->length, io->cmp_buf,
						       io->buf, c, &io->miscompare_offset, 0);
		return rc < 0 ? (int)rc : 0;
	}
	}
	return -EINVAL;
}

static int start_map_status(struct rbd_queue *q, struct bs_io *io);

static void rbd_submit(struct lu *lu, struct bs_io *io)
{
	struct rbd_lu *rl = rl_of(lu);
	struct rbd_queue *q = rl->queues[worker_slot()];
	rbd_completion_t c;
	int rc;

	io->lu = lu;
	io->bs_queue = q;
	q->in_flight++;
	if (!rl->image) {
		finish_later(q, io, -ENXIO);
		return;
	}
	if (io->op != BS_OP_FLUSH &&
	    (io->offset > lu->size_bytes || io->length > lu->size_bytes - io->offset)) {
		finish_later(q, io, -EINVAL);
		return;
	}
	if (io->op == BS_OP_MAP_STATUS) {
		rc = start_map_status(q, io);
		if (rc < 0)
			finish_later(q, io, rc);
		return;
	}
	rc = rbd_aio_create_completion(io, io_finished, &c);
	if (rc < 0) {
		finish_later(q, io, rc);
		return;
	}
	rc = start_io(rl, io, c);
	if (rc < 0) {
		rbd_aio_release(c);
		finish_later(q, io, rc);
	}
}

static bool rbd_supports(const struct lu *lu, enum bs_op op, uint64_t offset, uint64_t length)
{
	(void)lu;
	switch (op) {
	case BS_OP_WRITE_SAME:
	case BS_OP_MAP_STATUS:
		return true;
	case BS_OP_COMPARE_AND_WRITE:
		return length > 0 && offset / RBD_CAW_SECTOR == (offset + length - 1) / RBD_CAW_SECTOR;
	default:
		return false;
	}
}

/* --- open, close, resize ------------------------------------------------- */

/* Off their loops: no completion reaches them any more. */
static void detach_queues(struct rbd_lu *rl)
{
	for (unsigned s = 0; s < rl->n_queues; s++) {
		struct rbd_queue *q = rl->queues[s];

		if (!q)
			continue;
		if (q->src.fd >= 0 && q->loop)
			ev_remove(q->loop, &q->src);
		if (q->efd >= 0)
			close(q->efd);
		q->efd = -1;
	}
}

static int rbd_open_lu(struct lu *lu, char *err, size_t errlen)
{
	struct rbd_lu *rl = calloc(1, sizeof(*rl));
	int rc;

	if (!rl) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = parse_spec(lu->spec.path, lu->spec.options, rl, err, errlen);
	if (rc < 0) {
		free(rl);
		return rc;
	}
	rl->lu = lu;
	rl->create_size = lu->spec.size;
	rl->readonly = lu->spec.readonly;
	pthread_mutex_init(&rl->lock, NULL);
	ev_timer_init(&rl->retry_timer, retry_open, rl);
	rl->n_queues = worker_slots();
	for (unsigned s = 0; s < rl->n_queues; s++) {
		struct rbd_queue *q = aligned_alloc(64, sizeof(*q));

		if (!q) {
			snprintf(err, errlen, "out of memory");
			rc = -ENOMEM;
			goto fail;
		}
		memset(q, 0, sizeof(*q));
		rl->queues[s] = q;
		q->rl = rl;
		q->src.fd = -1;
		q->loop = s == 0 ? lu->target->gw->loop : worker_loop(s);
		pthread_mutex_init(&q->lock, NULL);
		TAILQ_INIT(&q->finished);
		q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (q->efd < 0) {
			rc = -errno;
			snprintf(err, errlen, "eventfd: %s", strerror(-rc));
			goto fail;
		}
		rc = ev_add(q->loop, &q->src, q->efd, EPOLLIN, queue_event, q);
		if (rc < 0) {
			snprintf(err, errlen, "cannot watch the completion eventfd: %s", strerror(-rc));
			goto fail;
		}
	}
	lu->bs_priv = rl;
	queue_job(rl, &rl->open_job, run_open);
	return BS_OPEN_PENDING;

fail:
	detach_queues(rl);
	free_rl(rl);
	return rc;
}

/* Control thread, world stopped: wait for every request in flight (their
 * done() runs here), then let the admin thread close the image. */
static void rbd_close_lu(struct lu *lu)
{
	struct rbd_lu *rl = rl_of(lu);
	bool again = true;

	if (!rl)
		return;
	pthread_mutex_lock(&rl->lock);
	rl->closing = true;
	pthread_mutex_unlock(&rl->lock);
	rl->lu = NULL;
	workers_cancel_on_control(&rl->opened_defer);
	workers_cancel_on_control(&rl->resized_defer);
	workers_cancel_on_control(&rl->stat_defer);
	ev_timer_cancel(lu->target->gw->loop, &rl->retry_timer);
	/* A completion may submit again, on this thread's queue. */
	while (again) {
		again = false;
		for (unsigned s = 0; s < rl->n_queues; s++) {
			struct rbd_queue *q = rl->queues[s];

			while (q->in_flight > 0) {
				struct pollfd pfd = { .fd = q->efd, .events = POLLIN };

				again = true;
				if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
					break;
				reap(q);
			}
		}
	}
	detach_queues(rl);
	lu->bs_priv = NULL;
	queue_job(rl, &rl->close_job, run_close);
}

/* Control thread: the size librbd now reports differs from the LU's and
 * no resize of ours is under way: the capacity changed under us. */
static void stat_on_control(void *arg)
{
	struct rbd_lu *rl = arg;
	uint64_t size;
	bool resizing;

	if (!rl->lu || rl->lu->backing_state != LU_BACKING_READY)
		return;
	pthread_mutex_lock(&rl->lock);
	size = rl->watched_size;
	resizing = rl->resizing;
	pthread_mutex_unlock(&rl->lock);
	if (resizing || size == rl->lu->size_bytes)
		return;
	log_info("rbd %s/%s: resized outside this gateway, %llu -> %llu bytes", rl->pool,
		 rl->image_name, (unsigned long long)rl->lu->size_bytes, (unsigned long long)size);
	rl->size = size;
	lu_backing_resized(rl->lu, 0, size);
}

static void run_stat(struct rbd_admin_job *job)
{
	struct rbd_lu *rl = container_of(job, struct rbd_lu, stat_job);
	uint64_t size = 0;
	int rc = rl->image ? rbd_get_size(rl->image, &size) : -ENXIO;

	pthread_mutex_lock(&rl->lock);
	rl->stat_queued = false;
	if (rc == 0) {
		rl->watched_size = size;
		if (!rl->closing)
			workers_run_on_control(&rl->stat_defer, stat_on_control, rl);
	}
	pthread_mutex_unlock(&rl->lock);
}

/* librbd's thread: the image's header changed. Reading the size may block
 * (a header refresh), so the admin thread does it. */
static void image_updated(void *arg)
{
	struct rbd_lu *rl = arg;

	pthread_mutex_lock(&rl->lock);
	if (!rl->closing && !rl->stat_queued) {
		rl->stat_queued = true;
		queue_job(rl, &rl->stat_job, run_stat);
	}
	pthread_mutex_unlock(&rl->lock);
}

/* The admin thread resizes and posts the end to the control thread; the
 * LU keeps its size until then (lu_backing_resized). */
static void resized_on_control(void *arg)
{
	struct rbd_lu *rl = arg;

	if (!rl->lu)
		return;
	if (rl->resize_result == 0)
		rl->size = rl->resize_to;
	lu_backing_resized(rl->lu, rl->resize_result, rl->resize_to);
}

static void run_resize(struct rbd_admin_job *job)
{
	struct rbd_lu *rl = container_of(job, struct rbd_lu, resize_job);
	int rc = rbd_resize(rl->image, rl->resize_to);

	if (rc < 0)
		log_error("rbd %s/%s: resize to %llu bytes failed: %s", rl->pool, rl->image_name,
			  (unsigned long long)rl->resize_to, strerror(-rc));
	pthread_mutex_lock(&rl->lock);
	rl->resize_result = rc;
	rl->resizing = false;
	if (!rl->closing)
		workers_run_on_control(&rl->resized_defer, resized_on_control, rl);
	pthread_mutex_unlock(&rl->lock);
}

static int rbd_resize_lu(struct lu *lu, uint64_t new_size)
{
	struct rbd_lu *rl = rl_of(lu);
	bool busy;

	if (!rl->image)
		return -ENXIO;
	if (rl->readonly)
		return -EROFS;
	pthread_mutex_lock(&rl->lock);
	busy = rl->resizing;
	if (!busy) {
		rl->resizing = true;
		rl->resize_to = new_size;
	}
	pthread_mutex_unlock(&rl->lock);
	if (busy)
		return -EBUSY;
	queue_job(rl, &rl->resize_job, run_resize);
	return BS_RESIZE_PENDING;
}

/* GET LBA STATUS (SBC-3 5.16): allocated objects are mapped. Listing them
 * (rbd_diff_iterate2) blocks, so it runs on the admin thread and the
 * answer comes back through the submitting thread's queue. An image
 * without the object map is listed object by object: look ahead only a
 * bounded span. */
#define RBD_MAP_LOOKAHEAD (256ull << 20)

struct map_walk {
	uint64_t offset;          /* where the caller asked */
	bool found;               /* the first extent reaching past offset */
	uint64_t start, end;
	bool exists;
};

static int first_extent(uint64_t off, size_t len, int exists, void *arg)
{
	struct map_walk *w = arg;

	if (off + len <= w->offset)
		return 0;
	w->found = true;
	w->start = off;
	w->end = off + len;
	w->exists = exists != 0;
	return -ECANCELED;        /* stop: only the first one matters */
}

static int map_run(struct rbd_lu *rl, uint64_t offset, uint64_t length, bool *mapped, uint64_t *len)
{
	struct map_walk w = { .offset = offset };
	uint64_t end = offset + MIN(length, RBD_MAP_LOOKAHEAD);
	int rc;

	rc = rbd_diff_iterate2(rl->image, NULL, offset, end - offset, 1, 1, first_extent, &w);
	if (rc < 0 && rc != -ECANCELED)
		return rc;
	if (!w.found || w.start >= end) {          /* nothing allocated ahead */
		*mapped = false;
		*len = end - offset;
	} else if (w.start > offset) {             /* a hole, then data */
		*mapped = false;
		*len = w.start - offset;
	} else {
		*mapped = w.exists;
		*len = MIN(w.end, end) - offset;
	}
	return 0;
}

struct map_job {
	struct rbd_admin_job job;
	struct rbd_queue *q;
	struct bs_io *io;
};

static void run_map_status(struct rbd_admin_job *job)
{
	struct map_job *mj = container_of(job, struct map_job, job);
	struct rbd_queue *q = mj->q;
	struct bs_io *io = mj->io;
	int rc;

	free(mj);
	rc = map_run(q->rl, io->offset, io->length, &io->mapped, &io->map_length);
	finish_later(q, io, rc);
}

static int start_map_status(struct rbd_queue *q, struct bs_io *io)
{
	struct map_job *mj = calloc(1, sizeof(*mj));

	if (!mj)
		return -ENOMEM;
	mj->q = q;
	mj->io = io;
	mj->job.run = run_map_status;
	if (rbd_admin_queue(&mj->job) < 0) {
		free(mj);
		return -EAGAIN;
	}
	return 0;
}

/* sangwd's exit: the admin thread's last jobs, then what they left. */
static void rbd_shutdown(void)
{
	rbd_admin_stop();
	rbd_fence_shutdown();
}

const struct backstore_ops backstore_rbd_ops = {
	.name = "rbd",
	.open = rbd_open_lu,
	.close = rbd_close_lu,
	.submit = rbd_submit,
	.resize = rbd_resize_lu,
	.map_status = NULL,             /* BS_OP_MAP_STATUS instead */
	.supports = rbd_supports,
	.configure = rbd_configure,
	.check_spec = rbd_check_spec,
	.shutdown = rbd_shutdown,
	.fencing = &rbd_fencing_ops,
};
