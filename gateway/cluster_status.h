/* The cluster as administrators see it (gwcli status, sessions and stats
 * of every node): this node asks every member present (cluster ops->ask,
 * not through the shared state, so a node in a minority partition still
 * shows its side) and merges the answers with corosync's nodelist, so a
 * node that is down or not answering is shown as such instead of being
 * an error or a hang. Runs on the control thread. */
#ifndef SANGW_CLUSTER_STATUS_H
#define SANGW_CLUSTER_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

struct json_object;

/* What is asked of every node. */
enum cluster_question {
	CLUSTER_Q_STATUS,    /* the node's own report (version, quorum, config, ALUA) */
	CLUSTER_Q_SESSIONS,  /* its I_T nexuses */
	CLUSTER_Q_STATS,     /* its per-LU I/O statistics */
};

#define CLUSTER_STATUS_TIMEOUT_MS_DEFAULT 2000
#define CLUSTER_STATUS_TIMEOUT_MS_MAX     60000

/* result: members for the response (the caller adds them and puts it), or
 * NULL with error set. */
typedef void (*cluster_status_done_fn)(void *ctx, struct json_object *result, const char *error);

/* Ask; done(ctx, ...) runs once every member answered or after
 * timeout_ms, possibly before this returns. Returns 0, or -errno with err
 * (done will not run). */
int cluster_status_ask(struct gateway *gw, enum cluster_question q, uint32_t timeout_ms,
		       cluster_status_done_fn done, void *ctx, char *err, size_t errlen);

/* cluster_callbacks.answer: this node's answer to a member's question. */
int cluster_status_answer(void *gw, const void *question, uint32_t len, void **reply,
			  size_t *reply_len);

/* Why a change cannot be made now, for the operator: "the cluster has no
 * quorum: node 2 (gw2, 203.0.113.2) and node 3 (gw3) are missing; ..." or
 * "this node has not synchronised with the cluster yet; ...". */
void cluster_status_unavailable(struct gateway *gw, char *buf, size_t len);

#endif
