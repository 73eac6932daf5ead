/* The RADOS side of the rbd backstore: a small pool of cluster handles per
 * process and the one thread that makes librados/librbd's blocking calls
 * (connect, open, close, create, resize), so no event loop ever waits for
 * Ceph (design.md principle 2).
 *
 * Handles. One handle for every LU caps IOPS (its messenger threads are
 * shared by all), one per LU does not scale; LUs are spread round-robin
 * over up to `handles` connected handles per (ceph.conf, client id). */
#ifndef SANGW_RBD_CLUSTER_H
#define SANGW_RBD_CLUSTER_H

#include <stddef.h>
#include <stdint.h>
#include <rados/librados.h>

#define RBD_HANDLES_DEFAULT 2
#define RBD_HANDLES_MAX     32

struct rbd_cluster;

/* What makes two LUs able to share a handle. */
struct rbd_cluster_key {
	char conf[4096];          /* ceph.conf path; empty: Ceph's default search */
	char id[64];              /* client id without "client."; empty: admin */
	unsigned timeout_s;       /* OSD/monitor operation timeout */
};

/* sangwd --rbd-handles N (before any LU opens). */
int rbd_cluster_set_handles(unsigned n);

/* Admin thread only (blocking): a connected handle for key, with a
 * reference taken; err says why not. */
int rbd_cluster_get(const struct rbd_cluster_key *key, struct rbd_cluster **out,
		    char *err, size_t errlen);
rados_t rbd_cluster_rados(struct rbd_cluster *c);
/* Admin thread only: drop the reference; the last one shuts the handle down. */
void rbd_cluster_put(struct rbd_cluster *c);

/* Fencing (rbd_fence.c). Any thread: the client address of every live
 * handle, space separated ("" for none), as `ceph osd blocklist` takes
 * them. */
void rbd_cluster_identity(char *buf, size_t len);
/* Admin thread: a live handle to send monitor commands through (NULL
 * when this process has none). */
rados_t rbd_cluster_any(void);
/* Admin thread: call fn for every live handle not yet retired. */
int rbd_cluster_each(int (*fn)(rados_t r, void *arg), void *arg);
/* Admin thread: retire every current handle; rbd_cluster_get() connects
 * new ones (new client addresses) and the old go with their last user. */
void rbd_cluster_retire_all(void);

/* The rbd backstore's fencing ops (rbd_fence.c, backstore.h). */
struct backstore_fencing_ops;
extern const struct backstore_fencing_ops rbd_fencing_ops;
/* sangwd's exit, after rbd_admin_stop(): free fencing requests whose
 * answer the stopped control loop will never take. */
void rbd_fence_shutdown(void);

/* A blocking call to run on the admin thread. run() executes there; the
 * owner learns of the end its own way (rbd posts to the control loop). */
struct rbd_admin_job {
	void (*run)(struct rbd_admin_job *job);
	struct rbd_admin_job *next;
};

/* Queue job for the admin thread, started on first use (after sangwd
 * detached: fork keeps no thread). Returns -errno if the thread cannot
 * start. Jobs run one at a time, in the order queued. */
int rbd_admin_queue(struct rbd_admin_job *job);
/* Run every job queued so far, then end the thread and close the handles
 * left (sangwd's exit, after every LU closed). */
void rbd_admin_stop(void);

#endif
