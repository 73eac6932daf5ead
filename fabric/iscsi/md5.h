/* MD5 (RFC 1321), needed by CHAP with algorithm 5 (RFC 1994, RFC 7143
 * 12.1.3). Not for anything else: MD5 is broken as a general hash. */
#ifndef SANGW_MD5_H
#define SANGW_MD5_H

#include <stddef.h>
#include <stdint.h>

#define MD5_DIGEST_LEN 16

struct md5_ctx {
	uint32_t state[4];      /* A, B, C, D */
	uint64_t length;        /* bytes hashed so far */
	uint8_t block[64];      /* pending input, length % 64 bytes of it */
};

void md5_init(struct md5_ctx *ctx);
void md5_update(struct md5_ctx *ctx, const void *data, size_t len);
/* Write the digest and wipe the context. */
void md5_final(struct md5_ctx *ctx, uint8_t digest[MD5_DIGEST_LEN]);
/* One-shot digest of a buffer. */
void md5(const void *data, size_t len, uint8_t digest[MD5_DIGEST_LEN]);

#endif
