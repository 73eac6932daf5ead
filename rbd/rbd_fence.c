/* Fencing on Ceph (backstore.h, struct backstore_fencing_ops; used by
 * gateway/fencing.c): a node's identity is the client address of each of
 * its RADOS handles; fencing it is `ceph osd blocklist add` of each, so the
 * OSDs refuse whatever it still sends; a node that learns it was fenced
 * retires its handles and connects anew. Every call is a job for the admin
 * thread (rbd_cluster.h), whose end is posted back to the control thread. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../gateway/backstore/backstore.h"
#include "../gateway/log.h"
#include "../gateway/util.h"
#include "../gateway/workers.h"
#include "rados_state.h"
#include "rbd_cluster.h"

struct fence_job {
	struct rbd_admin_job job;
	struct fence_job *next;        /* jobs not yet done (shutdown frees them) */
	struct ev_deferred defer;      /* admin thread -> control thread */
	bs_fence_done_fn done;
	void *ctx;
	bool add;
	unsigned expire_s;
	int result;
	char message[512];
	char identity[];               /* exclude: the addresses */
};

/* Jobs queued and not yet done on the control thread: sangwd may stop
 * with one in flight (rbd_fence_shutdown). */
static struct {
	pthread_mutex_t lock;
	struct fence_job *jobs;
} fence_jobs = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void forget(struct fence_job *fj)
{
	pthread_mutex_lock(&fence_jobs.lock);
	for (struct fence_job **pp = &fence_jobs.jobs; *pp; pp = &(*pp)->next) {
		if (*pp == fj) {
			*pp = fj->next;
			break;
		}
	}
	pthread_mutex_unlock(&fence_jobs.lock);
}

static void fence_job_done_on_control(void *arg)
{
	struct fence_job *fj = arg;

	forget(fj);
	fj->done(fj->ctx, fj->result, fj->message);
	free(fj);
}

void rbd_fence_shutdown(void)
{
	pthread_mutex_lock(&fence_jobs.lock);
	while (fence_jobs.jobs) {
		struct fence_job *fj = fence_jobs.jobs;

		fence_jobs.jobs = fj->next;
		workers_cancel_on_control(&fj->defer);
		free(fj);
	}
	pthread_mutex_unlock(&fence_jobs.lock);
}

static void post_back(struct fence_job *fj)
{
	workers_run_on_control(&fj->defer, fence_job_done_on_control, fj);
}

static struct fence_job *fence_job_new(const char *identity, bs_fence_done_fn done, void *ctx)
{
	size_t idlen = identity ? strlen(identity) + 1 : 1;
	struct fence_job *fj = calloc(1, sizeof(*fj) + idlen);

	if (!fj)
		return NULL;
	fj->done = done;
	fj->ctx = ctx;
	if (identity)
		memcpy(fj->identity, identity, idlen);
	return fj;
}

static int queue(struct fence_job *fj, void (*run)(struct rbd_admin_job *))
{
	int rc;

	fj->job.run = run;
	pthread_mutex_lock(&fence_jobs.lock);
	fj->next = fence_jobs.jobs;
	fence_jobs.jobs = fj;
	pthread_mutex_unlock(&fence_jobs.lock);
	rc = rbd_admin_queue(&fj->job);
	if (rc < 0) {
		forget(fj);
		free(fj);
	}
	return rc;
}

/* One `osd blocklist add|rm` through the monitors (blocking, bounded by
 * rados_mon_op_timeout). */
static int blocklist_one(rados_t r, const char *addr, bool add, unsigned expire_s,
			 char *msg, size_t msglen)
{
	char cmd[512];
	const char *cmds[1] = { cmd };
	char *out = NULL, *status = NULL;
	size_t out_len = 0, status_len = 0;
	int rc;
	char said[256] = "";

	if (add)
		snprintf(cmd, sizeof(cmd), "{\"prefix\":\"osd blocklist\",\"blocklistop\":\"add\","
			 "\"addr\":\"%s\",\"expire\":%u.0}", addr, expire_s);
	else
		snprintf(cmd, sizeof(cmd), "{\"prefix\":\"osd blocklist\",\"blocklistop\":\"rm\","
			 "\"addr\":\"%s\"}", addr);
	rc = rados_mon_command(r, cmds, 1, "", 0, &out, &out_len, &status, &status_len);
	/* The monitor's text is not NUL-terminated (and libqb's log ignores
	 * a precision): copy it. */
	if (status && status_len)
		snprintf(said, sizeof(said), "%.*s", (int)status_len, status);
	if (rc < 0)
		snprintf(msg, msglen, "osd blocklist %s %s: %s%s%s", add ? "add" : "rm", addr,
			 strerror(-rc), said[0] ? ": " : "", said);
	else
		log_info("rbd: %s", said);
	if (out)
		rados_buffer_free(out);
	if (status)
		rados_buffer_free(status);
	return rc;
}

static void run_exclude(struct rbd_admin_job *job)
{
	struct fence_job *fj = container_of(job, struct fence_job, job);
	rados_t r = rbd_cluster_any();
	char *save = NULL;

	if (!r) {
		fj->result = -ENOTCONN;
		snprintf(fj->message, sizeof(fj->message), "this node has no connection to Ceph "
			 "(no rbd LU open here) to send the blocklist through");
		post_back(fj);
		return;
	}
	for (char *addr = strtok_r(fj->identity, " ", &save); addr;
	     addr = strtok_r(NULL, " ", &save)) {
		int rc = blocklist_one(r, addr, fj->add, fj->expire_s, fj->message,
				       sizeof(fj->message));

		if (rc < 0 && fj->result == 0)
			fj->result = rc;
	}
	post_back(fj);
}

static int rbd_fence_exclude(const char *identity, bool add, unsigned expire_s,
			     bs_fence_done_fn done, void *ctx)
{
	struct fence_job *fj = fence_job_new(identity, done, ctx);

	if (!fj)
		return -ENOMEM;
	fj->add = add;
	fj->expire_s = expire_s;
	return queue(fj, run_exclude);
}

static int wait_for_map(rados_t r, void *arg)
{
	(void)arg;
	return rados_wait_for_latest_osdmap(r);
}

/* The OSDs order a client's operation after the map epoch it carries: once
 * our handles have the map with the blocklist, what we write is processed
 * only by OSDs that refuse the fenced client. */
static void run_sync(struct rbd_admin_job *job)
{
	struct fence_job *fj = container_of(job, struct fence_job, job);

	fj->result = rbd_cluster_each(wait_for_map, NULL);
	if (fj->result < 0)
		snprintf(fj->message, sizeof(fj->message), "cannot get the latest OSD map: %s",
			 strerror(-fj->result));
	post_back(fj);
}

static int rbd_fence_sync(bs_fence_done_fn done, void *ctx)
{
	struct fence_job *fj = fence_job_new(NULL, done, ctx);

	if (!fj)
		return -ENOMEM;
	return queue(fj, run_sync);
}

static void run_renew(struct rbd_admin_job *job)
{
	rbd_cluster_retire_all();
	rados_state_renew();
	free(job);
}

static void rbd_fence_renew(void)
{
	struct rbd_admin_job *job = calloc(1, sizeof(*job));

	if (!job)
		return;
	job->run = run_renew;
	if (rbd_admin_queue(job) < 0)
		free(job);
}

const struct backstore_fencing_ops rbd_fencing_ops = {
	.identity = rbd_cluster_identity,
	.exclude = rbd_fence_exclude,
	.sync = rbd_fence_sync,
	.renew = rbd_fence_renew,
};
