/* RADOS cluster handles and the admin thread (rbd_cluster.h). */
#include "rbd_cluster.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../gateway/log.h"
#include "../gateway/util.h"

struct rbd_cluster {
	struct rbd_cluster_key key;
	rados_t rados;
	unsigned users;              /* LUs holding it */
	bool retired;                /* handed out no more (fencing) */
	char addr[128];              /* client address (rados_getaddrs) */
	struct rbd_cluster *next;
};

/* The process' handles and admin thread: one singleton, touched by the
 * admin thread (handles) and by whoever queues a job (queue, under lock). */
static struct {
	unsigned handles_per_key;
	/* Changed by the admin thread under identity_lock; read there
	 * without it, elsewhere only through rbd_cluster_identity(). */
	struct rbd_cluster *clusters;
	pthread_mutex_t identity_lock;
	unsigned next_pick;               /* admin thread only: round robin */

	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool started;
	bool stop;                        /* end once the queue is empty */
	pthread_t thread;
	struct rbd_admin_job *head, *tail;
} rbd_admin = {
	.handles_per_key = RBD_HANDLES_DEFAULT,
	.identity_lock = PTHREAD_MUTEX_INITIALIZER,
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.wake = PTHREAD_COND_INITIALIZER,
};

int rbd_cluster_set_handles(unsigned n)
{
	if (n < 1 || n > RBD_HANDLES_MAX)
		return -EINVAL;
	rbd_admin.handles_per_key = n;
	return 0;
}

static bool same_key(const struct rbd_cluster_key *a, const struct rbd_cluster_key *b)
{
	return strcmp(a->conf, b->conf) == 0 && strcmp(a->id, b->id) == 0 &&
	       a->timeout_s == b->timeout_s;
}

/* Settings every handle gets, whatever ceph.conf says (docs/rbd.md):
 * - rbd_cache off: with librbd 16.2's cache a handle acknowledges writes
 *   before any OSD has them once it has seen a flush, and several
 *   gateways write one image; an acknowledged write must be on the OSDs.
 * - partial discards zero their range, so UNMAP and WRITE SAME (UNMAP)
 *   read back as zeros (LBPRZ, SBC-3 4.7.3.5).
 * - every operation ends within the timeout, so a command never waits
 *   forever on a dead OSD or monitor. */
static int apply_settings(rados_t r, const struct rbd_cluster_key *key, char *err, size_t errlen)
{
	char timeout[16];
	const char *settings[][2] = {
		{ "rbd_cache", "false" },
		{ "rbd_skip_partial_discard", "false" },
		{ "rbd_discard_granularity_bytes", "4096" },
		{ "rados_osd_op_timeout", timeout },
		{ "rados_mon_op_timeout", timeout },
		{ "client_mount_timeout", timeout },
	};

	snprintf(timeout, sizeof(timeout), "%u", key->timeout_s);
	for (size_t i = 0; i < ARRAY_SIZE(settings); i++) {
		int rc = rados_conf_set(r, settings[i][0], settings[i][1]);

		if (rc < 0) {
			snprintf(err, errlen, "cannot set %s=%s: %s", settings[i][0], settings[i][1],
				 strerror(-rc));
			return rc;
		}
	}
	return 0;
}

static int cluster_connect(struct rbd_cluster *c, char *err, size_t errlen)
{
	char name[96];
	int rc;

	snprintf(name, sizeof(name), "client.%s", c->key.id[0] ? c->key.id : "admin");
	rc = rados_create2(&c->rados, "ceph", name, 0);
	if (rc < 0) {
		snprintf(err, errlen, "cannot create a RADOS handle for %s: %s", name, strerror(-rc));
		return rc;
	}
	rc = rados_conf_read_file(c->rados, c->key.conf[0] ? c->key.conf : NULL);
	if (rc < 0) {
		snprintf(err, errlen, "cannot read %s: %s", c->key.conf[0] ? c->key.conf : "ceph.conf",
			 strerror(-rc));
		goto fail;
	}
	/* CEPH_ARGS (e.g. "-m ADDR") overrides the file, as for Ceph's tools. */
	rc = rados_conf_parse_env(c->rados, NULL);
	if (rc < 0) {
		snprintf(err, errlen, "cannot parse CEPH_ARGS: %s", strerror(-rc));
		goto fail;
	}
	if ((rc = apply_settings(c->rados, &c->key, err, errlen)) < 0)
		goto fail;
	rc = rados_connect(c->rados);
	if (rc < 0) {
		snprintf(err, errlen, "cannot connect to the Ceph cluster as %s: %s", name, strerror(-rc));
		goto fail;
	}
	{
		char *addrs = NULL;

		/* The identity a survivor blocklists if this node is fenced. */
		if (rados_getaddrs(c->rados, &addrs) == 0 && addrs) {
			str_copy(c->addr, addrs, sizeof(c->addr));
			rados_buffer_free(addrs);
		}
	}
	log_info("rbd: connected to Ceph as %s (%s), client address %s", name,
		 c->key.conf[0] ? c->key.conf : "default ceph.conf", c->addr[0] ? c->addr : "unknown");
	return 0;
fail:
	rados_shutdown(c->rados);
	c->rados = NULL;
	return rc;
}

int rbd_cluster_get(const struct rbd_cluster_key *key, struct rbd_cluster **out,
		    char *err, size_t errlen)
{
	struct rbd_cluster *c, *least = NULL;
	unsigned count = 0;
	int rc;

	for (c = rbd_admin.clusters; c; c = c->next) {
		if (c->retired || !same_key(&c->key, key))
			continue;
		count++;
		if (!least || c->users < least->users)
			least = c;
	}
	/* A new handle until the pool is full, then the least used one. */
	if (least && (count >= rbd_admin.handles_per_key || least->users == 0)) {
		least->users++;
		*out = least;
		return 0;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->key = *key;
	rc = cluster_connect(c, err, errlen);
	if (rc < 0) {
		free(c);
		return rc;
	}
	c->users = 1;
	pthread_mutex_lock(&rbd_admin.identity_lock);
	c->next = rbd_admin.clusters;
	rbd_admin.clusters = c;
	pthread_mutex_unlock(&rbd_admin.identity_lock);
	*out = c;
	return 0;
}

rados_t rbd_cluster_rados(struct rbd_cluster *c)
{
	return c->rados;
}

void rbd_cluster_put(struct rbd_cluster *c)
{
	struct rbd_cluster **pp;

	if (--c->users > 0)
		return;
	/* Out of the identity only once shut down: until then it may send. */
	rados_shutdown(c->rados);
	pthread_mutex_lock(&rbd_admin.identity_lock);
	for (pp = &rbd_admin.clusters; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	pthread_mutex_unlock(&rbd_admin.identity_lock);
	free(c);
}

void rbd_cluster_identity(char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	pthread_mutex_lock(&rbd_admin.identity_lock);
	for (struct rbd_cluster *c = rbd_admin.clusters; c && used < len; c = c->next)
		if (c->addr[0])
			used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? " " : "", c->addr);
	pthread_mutex_unlock(&rbd_admin.identity_lock);
}

rados_t rbd_cluster_any(void)
{
	for (struct rbd_cluster *c = rbd_admin.clusters; c; c = c->next)
		if (!c->retired)
			return c->rados;
	return rbd_admin.clusters ? rbd_admin.clusters->rados : NULL;
}

int rbd_cluster_each(int (*fn)(rados_t r, void *arg), void *arg)
{
	int first_error = 0;

	for (struct rbd_cluster *c = rbd_admin.clusters; c; c = c->next) {
		int rc;

		if (c->retired)
			continue;
		rc = fn(c->rados, arg);
		if (rc < 0 && first_error == 0)
			first_error = rc;
	}
	return first_error;
}

void rbd_cluster_retire_all(void)
{
	for (struct rbd_cluster *c = rbd_admin.clusters; c; c = c->next)
		c->retired = true;
}

/* --- the admin thread ----------------------------------------------------- */

static void *admin_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&rbd_admin.lock);
	for (;;) {
		struct rbd_admin_job *job;

		while (!rbd_admin.head && !rbd_admin.stop)
			pthread_cond_wait(&rbd_admin.wake, &rbd_admin.lock);
		if (!rbd_admin.head)
			break;
		job = rbd_admin.head;
		rbd_admin.head = job->next;
		if (!rbd_admin.head)
			rbd_admin.tail = NULL;
		pthread_mutex_unlock(&rbd_admin.lock);
		job->run(job);      /* may free job */
		pthread_mutex_lock(&rbd_admin.lock);
	}
	pthread_mutex_unlock(&rbd_admin.lock);
	return NULL;
}

int rbd_admin_queue(struct rbd_admin_job *job)
{
	int rc = 0;

	job->next = NULL;
	pthread_mutex_lock(&rbd_admin.lock);
	if (!rbd_admin.started) {
		rc = -pthread_create(&rbd_admin.thread, NULL, admin_main, NULL);
		if (rc == 0) {
			rbd_admin.started = true;
			pthread_setname_np(rbd_admin.thread, "sangw-rbd");
		}
	}
	if (rc == 0) {
		if (rbd_admin.tail)
			rbd_admin.tail->next = job;
		else
			rbd_admin.head = job;
		rbd_admin.tail = job;
		pthread_cond_signal(&rbd_admin.wake);
	}
	pthread_mutex_unlock(&rbd_admin.lock);
	return rc;
}

void rbd_admin_stop(void)
{
	pthread_mutex_lock(&rbd_admin.lock);
	if (!rbd_admin.started) {
		pthread_mutex_unlock(&rbd_admin.lock);
		return;
	}
	rbd_admin.stop = true;
	pthread_cond_signal(&rbd_admin.wake);
	pthread_mutex_unlock(&rbd_admin.lock);
	pthread_join(rbd_admin.thread, NULL);
	rbd_admin.started = false;
	rbd_admin.stop = false;
	/* Only an LU that never closed would leave one; shut them anyway. */
	while (rbd_admin.clusters) {
		struct rbd_cluster *c = rbd_admin.clusters;

		rados_shutdown(c->rados);
		pthread_mutex_lock(&rbd_admin.identity_lock);
		rbd_admin.clusters = c->next;
		pthread_mutex_unlock(&rbd_admin.identity_lock);
		free(c);
	}
}
