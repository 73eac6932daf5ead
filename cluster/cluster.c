/* Choosing the shared-state service implementation. */
#include "cluster.h"

#include <stdlib.h>
#include <string.h>

struct cluster *cluster_create(const char *kind, struct event_loop *loop,
			       const struct cluster_callbacks *cb, void *owner)
{
	const struct cluster_service_ops *ops = NULL;
	struct cluster *c;

	if (strcmp(kind, "none") == 0)
		ops = &cluster_single_ops;
#ifdef HAVE_COROSYNC
	else if (strcmp(kind, "corosync") == 0)
		ops = &cluster_corosync_ops;
#endif
	if (!ops)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->ops = ops;
	c->loop = loop;
	c->cb = cb;
	c->owner = owner;
	c->node_id = 1;
	return c;
}

void cluster_destroy(struct cluster *c)
{
	if (!c)
		return;
	c->ops->stop(c);
	free(c);
}
