/* CRC32C (Castagnoli), the iSCSI header and data digest (RFC 7143 11.1.4,
 * RFC 3385). Uses the SSE4.2 crc32 instruction when the CPU has it. */
#ifndef SANGW_CRC32C_H
#define SANGW_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC: start with crc = 0 for a fresh digest. The value
 * returned is the final (inverted) CRC, ready to chain or to store. */
uint32_t crc32c(uint32_t crc, const void *data, size_t len);

/* From this length on crc32c() uses ISA-L when built with it. */
#define CRC32C_ISAL_MIN_LEN 256

/* What computes the digests, for `sangwd --version`. */
const char *crc32c_implementation(void);

/* iSCSI puts the digest on the wire little-endian (the CRC register's
 * natural byte order, RFC 7143 11.1.4 / RFC 3385 Appendix). */
static inline void crc32c_put(uint8_t *p, uint32_t crc)
{
	p[0] = (uint8_t)crc; p[1] = (uint8_t)(crc >> 8); p[2] = (uint8_t)(crc >> 16); p[3] = (uint8_t)(crc >> 24);
}
static inline uint32_t crc32c_get(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#endif
