/* Registered memory for iSER (RFC 7145 7.3: the target moves data with
 * RDMA READ/WRITE from and to its own registered buffers). Nothing is
 * registered on the I/O path: each RDMA device gets one protection
 * domain, and each (device, worker slot) a pool of data buffers in
 * power-of-two classes from 4 KiB to 512 KiB, carved from chunks that are
 * registered once and kept until the device goes. A class that runs dry
 * registers one more chunk (a deeper queue than seen so far; bounded by
 * POOL_MAX_BYTES); a command larger than the biggest class, or one
 * whose buffer the SCSI core replaced, is registered for that command
 * alone (iser_conn.c, logged once per connection).
 *
 * The pool lends a buffer as the task's cmd.buf when the command arrives
 * (task_alloc, which knows the EDTL from the iSER-delivered BHS), so the
 * core reads into and writes from registered memory: no copy. */
#include "iser.h"

#include <stdlib.h>
#include <string.h>

#include "../../gateway/log.h"

#define POOL_MIN_SHIFT   12                     /* 4 KiB */
#define POOL_CLASSES     8                      /* ... 512 KiB */
#define POOL_CHUNK       (2u << 20)             /* registered at a time */
#define POOL_MAX_BYTES   (256u << 20)           /* per (device, slot) */

struct pool_chunk {
	uint8_t *mem;
	struct ibv_mr *mr;
	struct iser_buf *bufs;
	struct pool_chunk *next;
};

struct iser_pool {
	pthread_mutex_t lock;          /* task_free may run on the control thread */
	struct ibv_pd *pd;
	struct iser_buf *free[POOL_CLASSES];
	struct pool_chunk *chunks;
	size_t registered;
};

/* The device list: a singleton of the control thread (connect requests)
 * whose entries are released from any thread (the last connection's
 * free): hence the lock. */
static pthread_mutex_t devs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct iser_dev *devs;

static int class_of(uint32_t len)
{
	int c = 0;

	while (((uint32_t)1 << (c + POOL_MIN_SHIFT)) < len)
		c++;
	return c;
}

/* Register one more chunk for class c (lock held). */
static int pool_grow(struct iser_pool *pool, int c)
{
	uint32_t size = 1u << (c + POOL_MIN_SHIFT);
	unsigned n = POOL_CHUNK / size;
	struct pool_chunk *ch;

	if (pool->registered + POOL_CHUNK > POOL_MAX_BYTES)
		return -1;
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return -1;
	ch->bufs = calloc(n, sizeof(*ch->bufs));
	if (!ch->bufs || posix_memalign((void **)&ch->mem, 4096, POOL_CHUNK))
		goto fail;
	ch->mr = ibv_reg_mr(pool->pd, ch->mem, POOL_CHUNK, IBV_ACCESS_LOCAL_WRITE);
	if (!ch->mr) {
		log_warn("iSER: cannot register %u bytes of data buffers", POOL_CHUNK);
		goto fail;
	}
	for (unsigned i = 0; i < n; i++) {
		struct iser_buf *b = &ch->bufs[i];
		b->addr = ch->mem + (size_t)i * size;
		b->cap = size;
		b->lkey = ch->mr->lkey;
		b->cls = (uint8_t)c;
		b->next = pool->free[c];
		pool->free[c] = b;
	}
	ch->next = pool->chunks;
	pool->chunks = ch;
	pool->registered += POOL_CHUNK;
	return 0;
fail:
	free(ch->mem);
	free(ch->bufs);
	free(ch);
	return -1;
}

static struct iser_pool *pool_create(struct ibv_pd *pd)
{
	struct iser_pool *pool = calloc(1, sizeof(*pool));

	if (!pool)
		return NULL;
	pthread_mutex_init(&pool->lock, NULL);
	pool->pd = pd;
	/* One chunk per class up front: the first commands find buffers. */
	for (int c = 0; c < POOL_CLASSES; c++)
		pool_grow(pool, c);
	return pool;
}

static void pool_destroy(struct iser_pool *pool)
{
	struct pool_chunk *ch;

	if (!pool)
		return;
	while ((ch = pool->chunks)) {
		pool->chunks = ch->next;
		ibv_dereg_mr(ch->mr);
		free(ch->mem);
		free(ch->bufs);
		free(ch);
	}
	pthread_mutex_destroy(&pool->lock);
	free(pool);
}

struct iser_buf *iser_buf_get(struct iser_pool *pool, uint32_t len)
{
	int c = class_of(len ? len : 1);
	struct iser_buf *b = NULL;

	if (!pool || c >= POOL_CLASSES)
		return NULL;
	pthread_mutex_lock(&pool->lock);
	if (!pool->free[c])
		pool_grow(pool, c);
	b = pool->free[c];
	if (b)
		pool->free[c] = b->next;
	pthread_mutex_unlock(&pool->lock);
	return b;
}

void iser_buf_put(struct iser_pool *pool, struct iser_buf *b)
{
	if (!b)
		return;
	pthread_mutex_lock(&pool->lock);
	b->next = pool->free[b->cls];
	pool->free[b->cls] = b;
	pthread_mutex_unlock(&pool->lock);
}

struct iser_pool *iser_pool_for(struct iser_dev *dev, unsigned slot)
{
	struct iser_pool *pool;

	if (slot >= WORKER_SLOTS)
		return NULL;
	pthread_mutex_lock(&devs_lock);
	if (!dev->pools[slot])
		dev->pools[slot] = pool_create(dev->pd);
	pool = dev->pools[slot];
	pthread_mutex_unlock(&devs_lock);
	return pool;
}

struct iser_dev *iser_dev_get(struct ibv_context *verbs, char *err, size_t errlen)
{
	struct iser_dev *dev;

	pthread_mutex_lock(&devs_lock);
	for (dev = devs; dev; dev = dev->next)
		if (dev->verbs == verbs)
			break;
	if (!dev) {
		dev = calloc(1, sizeof(*dev));
		if (!dev || ibv_query_device(verbs, &dev->attr) ||
		    !(dev->pd = ibv_alloc_pd(verbs))) {
			snprintf(err, errlen, "cannot set up RDMA device %s",
				 ibv_get_device_name(verbs->device));
			free(dev);
			pthread_mutex_unlock(&devs_lock);
			return NULL;
		}
		dev->verbs = verbs;
		dev->next = devs;
		devs = dev;
		log_info("iSER: using RDMA device %s", ibv_get_device_name(verbs->device));
	}
	dev->refs++;
	pthread_mutex_unlock(&devs_lock);
	return dev;
}

void iser_dev_put(struct iser_dev *dev)
{
	struct iser_dev **pp;

	pthread_mutex_lock(&devs_lock);
	if (--dev->refs) {
		pthread_mutex_unlock(&devs_lock);
		return;
	}
	for (pp = &devs; *pp; pp = &(*pp)->next)
		if (*pp == dev) {
			*pp = dev->next;
			break;
		}
	pthread_mutex_unlock(&devs_lock);
	for (unsigned s = 0; s < WORKER_SLOTS; s++)
		pool_destroy(dev->pools[s]);
	ibv_dealloc_pd(dev->pd);
	free(dev);
}
