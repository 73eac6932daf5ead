/* Data buffer pool: the data path must not allocate per command in steady
 * state (design.md principle 2). Buffers come in power-of-two size classes
 * from 4 KiB up, 4096-aligned for O_DIRECT, and are kept on per-thread free
 * lists (each worker thread recycles its own, so no lock is taken). Buffers
 * are NOT zeroed: callers fill them. */
#ifndef SANGW_BUFFER_POOL_H
#define SANGW_BUFFER_POOL_H

#include <stddef.h>
#include <stdint.h>

/* A buffer of at least len bytes; *cap gets its real size (keep it for
 * iobuf_put). NULL when out of memory. */
void *iobuf_get(size_t len, size_t *cap);
/* Give a buffer back (cap as returned by iobuf_get). */
void iobuf_put(void *buf, size_t cap);
/* Free this thread's cached buffers (thread exit, tests). */
void iobuf_trim(void);

#endif
