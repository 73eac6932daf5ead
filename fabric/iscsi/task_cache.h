/* A per-thread cache of freed task structures, so that steady-state I/O
 * allocates nothing per command (design.md principle 2). Each transport
 * keeps one in a __thread variable for its own task structure (TCP: struct
 * iscsi_task; iSER: struct iser_task around it); a freed structure's first
 * bytes hold the link. Bounded: beyond TASK_CACHE_MAX the structure is
 * freed. */
#ifndef SANGW_ISCSI_TASK_CACHE_H
#define SANGW_ISCSI_TASK_CACHE_H

#include <stdlib.h>
#include <string.h>

#define TASK_CACHE_MAX 1024

struct task_cache {
	void *head;
	unsigned count;
};

/* A zeroed structure of size bytes: a cached one, or a new one (NULL when
 * out of memory). */
static inline void *task_cache_get(struct task_cache *c, size_t size)
{
	void *obj = c->head;

	if (!obj)
		return calloc(1, size);
	c->head = *(void **)obj;
	c->count--;
	memset(obj, 0, size);
	return obj;
}

static inline void task_cache_put(struct task_cache *c, void *obj)
{
	if (c->count >= TASK_CACHE_MAX) {
		free(obj);
		return;
	}
	*(void **)obj = c->head;
	c->head = obj;
	c->count++;
}

/* The thread ends: free what it cached. */
static inline void task_cache_trim(struct task_cache *c)
{
	void *obj;

	while ((obj = c->head)) {
		c->head = *(void **)obj;
		free(obj);
	}
	c->count = 0;
}

#endif
