/* Small helpers shared by every module: big-endian field access (SCSI and
 * iSCSI are big-endian on the wire), size parsing, bounded string copy. */
#ifndef SANGW_UTIL_H
#define SANGW_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

static inline uint16_t get_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t get_be24(const uint8_t *p) { return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2]; }
static inline uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t get_be64(const uint8_t *p) { return (uint64_t)get_be32(p) << 32 | get_be32(p + 4); }
static inline void put_be16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = (uint8_t)v; }
static inline void put_be24(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 16); p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)v; }
static inline void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline void put_be64(uint8_t *p, uint64_t v) { put_be32(p, (uint32_t)(v >> 32)); put_be32(p + 4, (uint32_t)v); }

/* Parse "123", "4K", "1G", "2T" (binary multiples) into bytes.
 * Returns 0 on success, -1 on a malformed or overflowing value. */
int parse_size(const char *text, uint64_t *bytes);

/* Copy at most size-1 bytes and always NUL-terminate; returns strlen(src). */
size_t str_copy(char *dst, const char *src, size_t size);

/* Monotonic clock in milliseconds / nanoseconds. */
uint64_t now_ms(void);
uint64_t now_ns(void);

/* True when all len bytes of buf are zero. */
bool mem_all_zero(const void *buf, size_t len);

/* Aligned zeroed allocation (4096) usable for O_DIRECT; free with free(). */
void *alloc_io_buffer(size_t len);

/* Write a whole file atomically: write to PATH.tmp, fsync, rename. */
int write_file_atomic(const char *path, const void *data, size_t len);

/* A Fibre Channel world wide name: "0x2000525400123456",
 * "20:00:52:54:00:12:34:56" or "naa.2000525400123456" (16 hex digits,
 * not zero). Returns false when text is none of these. */
bool parse_wwn(const char *text, uint64_t *wwn);

/* 64-bit FNV-1a hash, used to derive stable identifiers from names. */
uint64_t hash64(const void *data, size_t len, uint64_t seed);

#endif
