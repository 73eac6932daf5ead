/* CHAP (RFC 1994) as iSCSI uses it (RFC 7143 12.1.3), target side: we
 * challenge the initiator (CHAP_A, CHAP_I, CHAP_C), check its CHAP_N and
 * CHAP_R, and, for mutual CHAP, answer the initiator's own CHAP_I/CHAP_C
 * with our CHAP_N/CHAP_R. The digests come from nettle: MD5 (CHAP_A=5,
 * RFC 1994), SHA-1 (6), SHA-256 (7) and SHA3-256 (8), the values of IANA's
 * "iSCSI CHAP algorithms" registry that RFC 7143 12.1.3 points to. */
#ifndef SANGW_CHAP_H
#define SANGW_CHAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../gateway/model.h"
#include "text_keys.h"

#define CHAP_DIGEST_MAX    32      /* SHA-256, SHA3-256 */
#define CHAP_CHALLENGE_MAX CHAP_DIGEST_MAX
#define CHAP_BINARY_MAX    1024    /* 12.1.3: longest CHAP_C / CHAP_R accepted */

/* RFC 7143 6.1 binary-value: "0x"/"0X" + hex digits or "0b"/"0B" + base64.
 * Decodes into out; returns the length, or -1 when malformed, empty or
 * longer than max. */
int iscsi_binary_decode(const char *text, uint8_t *out, size_t max);
/* Encode as "0x" + lowercase hex; out must hold 2 * len + 3 bytes. */
void iscsi_binary_encode_hex(const uint8_t *data, size_t len, char *out);

/* The digest length CHAP_A value alg implies for CHAP_R (and for the
 * challenges we send): 16, 20 or 32 bytes; 0 when we do not support alg. */
size_t chap_digest_len(unsigned alg);
/* "MD5", "SHA-1", "SHA-256", "SHA3-256", or "unknown": for the log. */
const char *chap_algorithm_name(unsigned alg);
/* RFC 1994 4.1 with the hash alg names:
 * Response = H(Identifier || secret || Challenge). Returns the digest
 * length written to out, or 0 when alg is not supported. */
size_t chap_response(unsigned alg, uint8_t id, const char *secret, const uint8_t *challenge,
		     size_t challenge_len, uint8_t out[CHAP_DIGEST_MAX]);
/* Equality in time independent of the contents. */
bool chap_equal(const uint8_t *a, const uint8_t *b, size_t len);

/* Fill len random bytes; NULL means getrandom(2). */
typedef void (*chap_random_fn)(void *arg, uint8_t *buf, unsigned len);

enum chap_step {
	CHAP_WAIT_ALGORITHM,   /* AuthMethod=CHAP agreed; CHAP_A is next */
	CHAP_WAIT_RESPONSE,    /* challenge sent; CHAP_N + CHAP_R are next */
	CHAP_DONE,             /* the initiator proved itself */
	CHAP_FAILED,
};

/* One CHAP exchange, for one login. Each challenge is used once. */
struct chap_exchange {
	enum chap_step step;
	unsigned algorithm;                      /* the CHAP_A value agreed */
	size_t challenge_len;                    /* the digest length of it */
	uint8_t id;                              /* our CHAP_I */
	uint8_t challenge[CHAP_CHALLENGE_MAX];   /* our CHAP_C */
};

void chap_exchange_init(struct chap_exchange *c);
/* Wipe the challenge (call when the login ends). */
void chap_exchange_clear(struct chap_exchange *c);

/* First step: chap_a is the initiator's CHAP_A list and allowed the
 * algorithms the target accepts (CHAP_ALG_BIT() of each; 0 means all).
 * Picks the strongest algorithm both sides accept (SHA3-256 > SHA-256 >
 * SHA-1 > MD5), draws a fresh identifier and a challenge as long as its
 * digest, and appends CHAP_A, CHAP_I and CHAP_C to rsp. Returns 0, or -1
 * when no algorithm is common or the step is out of order (*why says
 * which, for the log). */
int chap_target_challenge(struct chap_exchange *c, const char *chap_a, uint32_t allowed,
			  chap_random_fn fill_random, void *random_arg,
			  struct text_kv_list *rsp, const char **why);

/* Second step: req holds the initiator's CHAP_N and CHAP_R and, for
 * mutual CHAP, its CHAP_I and CHAP_C. Checks the response against cred
 * (the initiator's name and secret); for mutual CHAP appends our CHAP_N and
 * CHAP_R computed with mutual (the target's name and secret). Returns 0
 * when the initiator is authenticated, -1 otherwise (*why says why).
 * Refuses, per 12.1.3: a challenge equal to ours (reflection), a response
 * equal to the one our own secret would give (the same secret used in both
 * directions), and any second attempt. */
int chap_target_verify(struct chap_exchange *c, const struct text_kv_list *req,
		       const struct chap_cred *cred, const struct chap_cred *mutual,
		       struct text_kv_list *rsp, const char **why);

#endif
