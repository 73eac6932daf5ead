#include "buffer_pool.h"

#include <stdbool.h>
#include <stdlib.h>

#define IOBUF_MIN_SHIFT   12                 /* 4 KiB */
#define IOBUF_CLASSES     15                 /* up to 64 MiB */
/* Keep at most this many bytes cached per class and thread: enough for a
 * deep queue of 4K commands or a few large transfers, no more. */
#define IOBUF_CACHE_BYTES (8u << 20)
#define IOBUF_CACHE_MIN   8                  /* ...but at least this many buffers */

struct free_buf {
	struct free_buf *next;
};

struct buf_class {
	struct free_buf *head;
	unsigned count;
};

static __thread struct buf_class classes[IOBUF_CLASSES];

static int class_of(size_t cap)
{
	int c = 0;

	while (((size_t)1 << (c + IOBUF_MIN_SHIFT)) < cap)
		c++;
	return c;
}

static unsigned class_limit(int c)
{
	unsigned n = IOBUF_CACHE_BYTES >> (c + IOBUF_MIN_SHIFT);

	return n < IOBUF_CACHE_MIN ? IOBUF_CACHE_MIN : n;
}

void *iobuf_get(size_t len, size_t *cap)
{
	int c = class_of(len ? len : 1);
	void *buf = NULL;

	if (c >= IOBUF_CLASSES)
		return NULL;
	*cap = (size_t)1 << (c + IOBUF_MIN_SHIFT);
	if (classes[c].head) {
		struct free_buf *fb = classes[c].head;
		classes[c].head = fb->next;
		classes[c].count--;
		return fb;
	}
	if (posix_memalign(&buf, 4096, *cap))
		return NULL;
	return buf;
}

void iobuf_put(void *buf, size_t cap)
{
	int c;
	struct free_buf *fb = buf;

	if (!buf)
		return;
	c = class_of(cap);
	if (c >= IOBUF_CLASSES || classes[c].count >= class_limit(c)) {
		free(buf);
		return;
	}
	fb->next = classes[c].head;
	classes[c].head = fb;
	classes[c].count++;
}

void iobuf_trim(void)
{
	for (int c = 0; c < IOBUF_CLASSES; c++) {
		while (classes[c].head) {
			struct free_buf *fb = classes[c].head;
			classes[c].head = fb->next;
			free(fb);
		}
		classes[c].count = 0;
	}
}
