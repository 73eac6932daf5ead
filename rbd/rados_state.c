/* The state store in RADOS (rados_state.h). */
#include "rados_state.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../gateway/log.h"
#include "../gateway/state_store.h"
#include "../gateway/util.h"

/* --- the option -------------------------------------------------------------- */

static bool object_name_ok(const char *s)
{
	/* RADOS takes almost anything; keep to names a shell and a log show
	 * as they are. */
	if (!s[0])
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      *s == '.' || *s == '-' || *s == '_' || *s == ':'))
			return false;
	return true;
}

int rados_state_spec_parse(const char *text, struct rados_state_spec *out, char *err,
			   size_t errlen)
{
	char buf[4608], *opt, *save = NULL;
	const char *comma = strchr(text, ',');
	size_t pool_len = comma ? (size_t)(comma - text) : strlen(text);

	memset(out, 0, sizeof(*out));
	out->key.timeout_s = RADOS_STATE_TIMEOUT_DEFAULT_S;
	str_copy(out->object, RADOS_STATE_OBJECT_DEFAULT, sizeof(out->object));
	if (!pool_len || pool_len >= sizeof(out->pool) || memchr(text, '/', pool_len)) {
		snprintf(err, errlen, "rados:%s: expected rados:POOL[,conf=PATH][,id=CLIENT]"
			 "[,object=NAME][,timeout=SECONDS]", text);
		return -EINVAL;
	}
	memcpy(out->pool, text, pool_len);
	if (!comma)
		return 0;
	if (str_copy(buf, comma + 1, sizeof(buf)) >= sizeof(buf)) {
		snprintf(err, errlen, "rados: options too long");
		return -EINVAL;
	}
	for (opt = strtok_r(buf, ",", &save); opt; opt = strtok_r(NULL, ",", &save)) {
		char *value = strchr(opt, '='), *end;

		if (!value) {
			snprintf(err, errlen, "rados: option '%s' needs a value", opt);
			return -EINVAL;
		}
		*value++ = '\0';
		if (!strcmp(opt, "conf")) {
			if (value[0] != '/' ||
			    str_copy(out->key.conf, value, sizeof(out->key.conf)) >= sizeof(out->key.conf)) {
				snprintf(err, errlen, "rados: conf=%s is not an absolute path", value);
				return -EINVAL;
			}
		} else if (!strcmp(opt, "id")) {
			if (!value[0] || str_copy(out->key.id, value, sizeof(out->key.id)) >= sizeof(out->key.id)) {
				snprintf(err, errlen, "rados: id=%s: 1 to %zu characters", value,
					 sizeof(out->key.id) - 1);
				return -EINVAL;
			}
		} else if (!strcmp(opt, "object")) {
			if (!object_name_ok(value) ||
			    str_copy(out->object, value, sizeof(out->object)) >= sizeof(out->object)) {
				snprintf(err, errlen, "rados: object=%s: 1 to %zu of A-Z a-z 0-9 . - _ :", value,
					 sizeof(out->object) - 1);
				return -EINVAL;
			}
		} else if (!strcmp(opt, "timeout")) {
			unsigned long t = strtoul(value, &end, 10);

			if (*value < '0' || *value > '9' || *end || t < 1 || t > 3600) {
				snprintf(err, errlen, "rados: timeout=%s: seconds from 1 to 3600", value);
				return -EINVAL;
			}
			out->key.timeout_s = (unsigned)t;
		} else {
			snprintf(err, errlen, "rados: unknown option '%s' (conf, id, object, timeout)", opt);
			return -EINVAL;
		}
	}
	return 0;
}

void rados_state_version_text(uint64_t version, char *buf, size_t len)
{
	snprintf(buf, len, "%0*" PRIu64, RADOS_STATE_VERSION_DIGITS, version);
}

/* --- the store ------------------------------------------------------------------ */

/* The process' RADOS state store: one singleton. The spec is set once at
 * start-up; the connection belongs to the admin thread; the rest is shared
 * between the control thread and the admin thread under lock. */
static struct {
	struct rados_state_spec spec;
	char where[512];

	/* admin thread only */
	struct rbd_cluster *cluster;
	rados_ioctx_t ioctx;
	struct rbd_admin_job read_job, write_job, close_job;

	pthread_mutex_t lock;
	pthread_cond_t read_done_cond;
	bool read_done;
	int read_result;
	char *read_text;
	size_t read_len;
	char read_error[256];
	char *pending;               /* the newest document not written yet */
	size_t pending_len;
	uint64_t pending_version;
	bool write_queued;
	uint64_t version_queued, version_written, version_stored, writes, refused;
	char last_error[256];
} rs = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.read_done_cond = PTHREAD_COND_INITIALIZER,
};

static int rs_configure(const char *text, char *err, size_t errlen)
{
	int r = rados_state_spec_parse(text, &rs.spec, err, errlen);

	if (r == 0)
		snprintf(rs.where, sizeof(rs.where), "rados:%s/%s", rs.spec.pool, rs.spec.object);
	return r;
}

/* Admin thread: the connection and the pool's I/O context, once. */
static int ensure_open(char *err, size_t errlen)
{
	int r;

	if (rs.ioctx)
		return 0;
	if (!rs.cluster && (r = rbd_cluster_get(&rs.spec.key, &rs.cluster, err, errlen)) < 0)
		return r;
	r = rados_ioctx_create(rbd_cluster_rados(rs.cluster), rs.spec.pool, &rs.ioctx);
	if (r < 0) {
		snprintf(err, errlen, "pool %s: %s", rs.spec.pool, strerror(-r));
		rs.ioctx = NULL;
		return r;
	}
	return 0;
}

/* Admin thread: the stored document (malloc'd) and its xattr version. */
static int read_object(char **text, size_t *len, uint64_t *version, char *err, size_t errlen)
{
	uint64_t size;
	time_t mtime;
	char vtext[32] = "";
	int r;

	if ((r = ensure_open(err, errlen)) < 0)
		return r;
	for (int attempt = 0; attempt < 3; attempt++) {
		size_t cap;
		char *buf;

		r = rados_stat(rs.ioctx, rs.spec.object, &size, &mtime);
		if (r == -ENOENT)
			return r;
		if (r < 0) {
			snprintf(err, errlen, "stat: %s", strerror(-r));
			return r;
		}
		if (size > STATE_STORE_MAX_BYTES) {
			snprintf(err, errlen, "%" PRIu64 " bytes, more than a stored state may have", size);
			return -EFBIG;
		}
		/* A write between stat and read may change the size: a full
		 * buffer means read again. */
		cap = (size_t)size + 65536;
		buf = malloc(cap + 1);
		if (!buf) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		r = rados_read(rs.ioctx, rs.spec.object, buf, cap, 0);
		if (r < 0) {
			free(buf);
			if (r == -ENOENT)
				return r;
			snprintf(err, errlen, "read: %s", strerror(-r));
			return r;
		}
		if ((size_t)r == cap) {
			free(buf);
			continue;
		}
		buf[r] = '\0';
		*text = buf;
		*len = (size_t)r;
		r = rados_getxattr(rs.ioctx, rs.spec.object, RADOS_STATE_VERSION_XATTR, vtext,
				   sizeof(vtext) - 1);
		*version = r > 0 ? strtoull(vtext, NULL, 10) : 0;
		return 0;
	}
	snprintf(err, errlen, "the object kept growing while being read");
	return -EAGAIN;
}

static void run_read(struct rbd_admin_job *job)
{
	char err[256] = "", *text = NULL;
	uint64_t version = 0;
	size_t len = 0;
	int r;

	(void)job;
	r = read_object(&text, &len, &version, err, sizeof(err));
	pthread_mutex_lock(&rs.lock);
	rs.read_result = r;
	rs.read_text = text;
	rs.read_len = len;
	str_copy(rs.read_error, err, sizeof(rs.read_error));
	if (r == 0 && version > rs.version_stored)
		rs.version_stored = version;
	if (r < 0 && r != -ENOENT)
		str_copy(rs.last_error, err, sizeof(rs.last_error));
	rs.read_done = true;
	pthread_cond_broadcast(&rs.read_done_cond);
	pthread_mutex_unlock(&rs.lock);
}

static int rs_read(char **text, size_t *len, char *err, size_t errlen)
{
	struct timespec deadline;
	int r = 0;

	rs.read_job.run = run_read;
	if ((r = rbd_admin_queue(&rs.read_job)) < 0) {
		snprintf(err, errlen, "cannot start the rbd admin thread: %s", strerror(-r));
		return r;
	}
	/* Start-up only: bounded by the connection's own timeouts, and by
	 * ours in case Ceph's are not kept. */
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 3 * (time_t)rs.spec.key.timeout_s + 5;
	pthread_mutex_lock(&rs.lock);
	while (!rs.read_done && r == 0)
		r = pthread_cond_timedwait(&rs.read_done_cond, &rs.lock, &deadline);
	if (!rs.read_done) {
		snprintf(err, errlen, "no answer within %u s", 3 * rs.spec.key.timeout_s + 5);
		pthread_mutex_unlock(&rs.lock);
		return -ETIMEDOUT;
	}
	r = rs.read_result;
	*text = rs.read_text;
	*len = rs.read_len;
	rs.read_text = NULL;
	str_copy(err, rs.read_error, errlen);
	pthread_mutex_unlock(&rs.lock);
	return r;
}

/* Admin thread: write the whole object and its version in one atomic op,
 * guarded by "stored version older than ours" or, for a missing object,
 * by "nobody created it meanwhile". */
static int write_guarded(const char *text, size_t len, const char *vtext, bool create)
{
	rados_write_op_t op = rados_create_write_op();
	int r;

	if (!op)
		return -ENOMEM;
	if (create)
		rados_write_op_create(op, LIBRADOS_CREATE_EXCLUSIVE, NULL);
	else    /* the OSD checks ours > stored before it writes anything */
		rados_write_op_cmpxattr(op, RADOS_STATE_VERSION_XATTR, LIBRADOS_CMPXATTR_OP_GT,
					vtext, strlen(vtext));
	rados_write_op_write_full(op, text, len);
	rados_write_op_setxattr(op, RADOS_STATE_VERSION_XATTR, vtext, strlen(vtext));
	r = rados_write_op_operate(op, rs.ioctx, rs.spec.object, NULL, 0);
	rados_release_write_op(op);
	return r;
}

/* Admin thread: one compare-and-set write of text at version. */
static int write_object(const char *text, size_t len, uint64_t version, char *err, size_t errlen)
{
	char vtext[32];
	int r;

	if ((r = ensure_open(err, errlen)) < 0)
		return r;
	rados_state_version_text(version, vtext, sizeof(vtext));
	for (int attempt = 0; attempt < 3; attempt++) {
		r = write_guarded(text, len, vtext, false);
		if (r != -ENOENT)
			break;
		/* No object yet: create it, unless another node just did. */
		r = write_guarded(text, len, vtext, true);
		if (r != -EEXIST)
			break;
	}
	if (r < 0 && r != -ECANCELED)
		snprintf(err, errlen, "write of version %" PRIu64 ": %s", version, strerror(-r));
	return r;
}

static void run_write(struct rbd_admin_job *job)
{
	char err[256] = "", *text;
	uint64_t version;
	size_t len;
	int r;

	(void)job;
	pthread_mutex_lock(&rs.lock);
	text = rs.pending;
	len = rs.pending_len;
	version = rs.pending_version;
	rs.pending = NULL;
	rs.write_queued = false;
	pthread_mutex_unlock(&rs.lock);
	if (!text)
		return;
	r = write_object(text, len, version, err, sizeof(err));
	pthread_mutex_lock(&rs.lock);
	if (r == 0) {
		rs.writes++;
		rs.version_written = version;
		rs.last_error[0] = '\0';
	} else if (r == -ECANCELED) {
		rs.refused++;         /* this version or a newer one is there */
		rs.last_error[0] = '\0';
	} else {
		str_copy(rs.last_error, err, sizeof(rs.last_error));
	}
	if (r == 0 || r == -ECANCELED) {
		if (version > rs.version_stored)
			rs.version_stored = version;
		free(text);
	} else if (!rs.pending) {
		/* Kept for the next write or the exit, unless superseded. */
		rs.pending = text;
		rs.pending_len = len;
		rs.pending_version = version;
	} else {
		free(text);
	}
	pthread_mutex_unlock(&rs.lock);
	if (r < 0 && r != -ECANCELED)
		log_error("state store %s: %s (kept locally; tried again at the next change)", rs.where,
			  err);
	else
		log_debug("state store %s: version %" PRIu64 " %s", rs.where, version,
			  r == 0 ? "written" : "not written: the store has it or a newer one");
}

/* Queue the write job unless it is queued already (under lock). */
static void queue_write_locked(void)
{
	int r;

	if (rs.write_queued || !rs.pending)
		return;
	rs.write_job.run = run_write;
	r = rbd_admin_queue(&rs.write_job);
	if (r == 0)
		rs.write_queued = true;
	else
		str_copy(rs.last_error, "cannot start the rbd admin thread", sizeof(rs.last_error));
}

static void rs_write(char *text, size_t len, uint64_t version)
{
	pthread_mutex_lock(&rs.lock);
	if (rs.pending && rs.pending_version > version) {
		free(text);      /* a newer one is queued: it says more */
	} else {
		free(rs.pending);
		rs.pending = text;
		rs.pending_len = len;
		rs.pending_version = version;
		if (version > rs.version_queued)
			rs.version_queued = version;
	}
	queue_write_locked();
	pthread_mutex_unlock(&rs.lock);
}

static void rs_status(struct state_store_status *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&rs.lock);
	str_copy(st->where, rs.where, sizeof(st->where));
	st->version_queued = rs.version_queued;
	st->version_written = rs.version_written;
	st->version_stored = rs.version_stored;
	st->writes = rs.writes;
	st->refused = rs.refused;
	str_copy(st->last_error, rs.last_error, sizeof(st->last_error));
	pthread_mutex_unlock(&rs.lock);
}

/* Admin thread: this node was fenced; its handle is refused. The next
 * write connects anew (rbd_fence.c, after rbd_cluster_retire_all()). */
void rados_state_renew(void)
{
	if (rs.ioctx)
		rados_ioctx_destroy(rs.ioctx);
	rs.ioctx = NULL;
	if (rs.cluster)
		rbd_cluster_put(rs.cluster);
	rs.cluster = NULL;
}

static void run_close(struct rbd_admin_job *job)
{
	(void)job;
	if (rs.ioctx)
		rados_ioctx_destroy(rs.ioctx);
	rs.ioctx = NULL;
	if (rs.cluster)
		rbd_cluster_put(rs.cluster);
	rs.cluster = NULL;
	pthread_mutex_lock(&rs.lock);
	free(rs.pending);
	rs.pending = NULL;
	free(rs.read_text);
	rs.read_text = NULL;
	pthread_mutex_unlock(&rs.lock);
}

static void rs_shutdown(void)
{
	/* The admin thread runs its queue in order before it ends
	 * (rbd_admin_stop): a last try of a failed write, then the close. */
	pthread_mutex_lock(&rs.lock);
	queue_write_locked();
	pthread_mutex_unlock(&rs.lock);
	rs.close_job.run = run_close;
	if (rbd_admin_queue(&rs.close_job) < 0)
		log_error("state store %s: cannot close (no admin thread)", rs.where);
}

const struct state_store_ops rados_state_ops = {
	.kind = "rados",
	.configure = rs_configure,
	.read = rs_read,
	.write = rs_write,
	.status = rs_status,
	.shutdown = rs_shutdown,
};
