/* CHAP for iSCSI login (RFC 1994, RFC 7143 12.1.3), target side. */
#include "chap.h"

#include <string.h>
#include <sys/random.h>

#include <nettle/md5.h>
#include <nettle/nettle-meta.h>
#include <nettle/sha1.h>
#include <nettle/sha2.h>
#include <nettle/sha3.h>

/* --- binary values (RFC 7143 6.1) ------------------------------------- */

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int hex_decode(const char *p, uint8_t *out, size_t max)
{
	size_t digits = strlen(p), n = 0;

	if (digits == 0 || (digits + 1) / 2 > max)
		return -1;
	/* An odd count means a leading zero nibble. */
	if (digits % 2) {
		int lo = hex_digit(*p++);
		if (lo < 0)
			return -1;
		out[n++] = (uint8_t)lo;
	}
	for (; *p; p += 2) {
		int hi = hex_digit(p[0]), lo = hex_digit(p[1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[n++] = (uint8_t)(hi << 4 | lo);
	}
	return (int)n;
}

static int base64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* RFC 4648 base64; the '=' padding may be present or left out. */
static int base64_decode(const char *p, uint8_t *out, size_t max)
{
	size_t len = strlen(p), n = 0;
	uint32_t acc = 0;
	unsigned bits = 0;

	for (int pad = 0; pad < 2 && len && p[len - 1] == '='; pad++)
		len--;
	if (len == 0 || len % 4 == 1)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int v = base64_value(p[i]);
		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == max)
				return -1;
			out[n++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	return (int)n;
}

int iscsi_binary_decode(const char *text, uint8_t *out, size_t max)
{
	if (text[0] != '0')
		return -1;
	if (text[1] == 'x' || text[1] == 'X')
		return hex_decode(text + 2, out, max);
	if (text[1] == 'b' || text[1] == 'B')
		return base64_decode(text + 2, out, max);
	return -1;
}

void iscsi_binary_encode_hex(const uint8_t *data, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	*out++ = '0';
	*out++ = 'x';
	for (size_t i = 0; i < len; i++) {
		*out++ = digits[data[i] >> 4];
		*out++ = digits[data[i] & 15];
	}
	*out = '\0';
}

/* --- CHAP ------------------------------------------------------------- */

/* CHAP_A values to nettle's hashes, strongest first: the order in which
 * chap_target_challenge() prefers them. */
static const struct {
	unsigned alg;
	const struct nettle_hash *hash;
	const char *name;
} chap_hashes[] = {
	{ CHAP_ALG_SHA3_256, &nettle_sha3_256, "SHA3-256" },   /* FIPS 202 */
	{ CHAP_ALG_SHA256, &nettle_sha256, "SHA-256" },        /* FIPS 180-4 */
	{ CHAP_ALG_SHA1, &nettle_sha1, "SHA-1" },
	{ CHAP_ALG_MD5, &nettle_md5, "MD5" },                  /* RFC 1321 */
};

const char *chap_algorithm_name(unsigned alg)
{
	for (size_t i = 0; i < sizeof(chap_hashes) / sizeof(chap_hashes[0]); i++)
		if (chap_hashes[i].alg == alg)
			return chap_hashes[i].name;
	return "unknown";
}

static const struct nettle_hash *hash_of(unsigned alg)
{
	for (size_t i = 0; i < sizeof(chap_hashes) / sizeof(chap_hashes[0]); i++)
		if (chap_hashes[i].alg == alg)
			return chap_hashes[i].hash;
	return NULL;
}

size_t chap_digest_len(unsigned alg)
{
	const struct nettle_hash *h = hash_of(alg);

	return h ? h->digest_size : 0;
}

size_t chap_response(unsigned alg, uint8_t id, const char *secret, const uint8_t *challenge,
		     size_t challenge_len, uint8_t out[CHAP_DIGEST_MAX])
{
	const struct nettle_hash *h = hash_of(alg);
	union {
		struct md5_ctx md5;
		struct sha1_ctx sha1;
		struct sha256_ctx sha256;
		struct sha3_256_ctx sha3_256;
	} ctx;

	if (!h || h->digest_size > CHAP_DIGEST_MAX || h->context_size > sizeof(ctx))
		return 0;
	h->init(&ctx);
	h->update(&ctx, 1, &id);
	h->update(&ctx, strlen(secret), (const uint8_t *)secret);
	h->update(&ctx, challenge_len, challenge);
	h->digest(&ctx, h->digest_size, out);
	explicit_bzero(&ctx, sizeof(ctx));     /* it has seen the secret */
	return h->digest_size;
}

bool chap_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
	volatile uint8_t diff = 0;

	for (size_t i = 0; i < len; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

void chap_exchange_init(struct chap_exchange *c)
{
	memset(c, 0, sizeof(*c));
	c->step = CHAP_WAIT_ALGORITHM;
}

void chap_exchange_clear(struct chap_exchange *c)
{
	explicit_bzero(c->challenge, sizeof(c->challenge));
}

static void fill_from_kernel(uint8_t *buf, unsigned len)
{
	while (len) {
		ssize_t n = getrandom(buf, len, 0);
		if (n > 0) {
			buf += n;
			len -= (unsigned)n;
		}
	}
}

/* CHAP_I and CHAP_A values: numerical, 0..255, decimal or 0x hex. */
static int parse_small_number(const char *text, size_t len, unsigned *out)
{
	unsigned long v = 0;
	const char *p = text, *end = text + len;
	unsigned base = 10;

	if (len > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	if (p == end)
		return -1;
	for (; p < end; p++) {
		int d = hex_digit(*p);
		if (d < 0 || (unsigned)d >= base)
			return -1;
		v = v * base + (unsigned)d;
		if (v > 255)
			return -1;
	}
	*out = (unsigned)v;
	return 0;
}

/* CHAP_A=<A1,A2,...> as a set of CHAP_ALG_BIT()s; values we do not know
 * (or cannot parse) are left out. */
static uint32_t offered_algorithms(const char *list)
{
	uint32_t set = 0;
	const char *p = list;

	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		unsigned alg;

		if (parse_small_number(p, len, &alg) == 0 && alg < 32 && chap_digest_len(alg))
			set |= CHAP_ALG_BIT(alg);
		if (!comma)
			return set;
		p = comma + 1;
	}
}

int chap_target_challenge(struct chap_exchange *c, const char *chap_a, uint32_t allowed,
			  chap_random_fn fill_random, void *random_arg,
			  struct text_kv_list *rsp, const char **why)
{
	char hex[2 * CHAP_CHALLENGE_MAX + 3];
	uint32_t common;

	if (c->step != CHAP_WAIT_ALGORITHM) {
		*why = "CHAP_A out of sequence";
		goto fail;
	}
	common = offered_algorithms(chap_a) & (allowed ? allowed : CHAP_ALGS_ALL);
	if (!common) {
		*why = "no CHAP algorithm offered that the target accepts (see chap_algorithms)";
		goto fail;
	}
	/* 12.1.3 lets the target answer with any one of the offered values;
	 * the strongest is taken so that an initiator listing MD5 first (or
	 * a man in the middle reordering the list) does not downgrade us. */
	for (size_t i = 0; i < sizeof(chap_hashes) / sizeof(chap_hashes[0]); i++) {
		if (common & CHAP_ALG_BIT(chap_hashes[i].alg)) {
			c->algorithm = chap_hashes[i].alg;
			break;
		}
	}
	/* As long as the digest: what LIO and the Linux initiator send. */
	c->challenge_len = chap_digest_len(c->algorithm);
	/* A fresh identifier and challenge for every login (RFC 1994 2.3). */
	if (fill_random) {
		fill_random(random_arg, &c->id, 1);
		fill_random(random_arg, c->challenge, (unsigned)c->challenge_len);
	} else {
		fill_from_kernel(&c->id, 1);
		fill_from_kernel(c->challenge, (unsigned)c->challenge_len);
	}
	iscsi_binary_encode_hex(c->challenge, c->challenge_len, hex);
	if (text_kv_addf(rsp, "CHAP_A", "%u", c->algorithm) < 0 ||
	    text_kv_addf(rsp, "CHAP_I", "%u", c->id) < 0 ||
	    text_kv_add(rsp, "CHAP_C", hex) < 0) {
		*why = "out of memory";
		goto fail;
	}
	c->step = CHAP_WAIT_RESPONSE;
	return 0;

fail:
	c->step = CHAP_FAILED;
	return -1;
}

/* CHAP_I: a numerical value 0..255, decimal or 0x hex. */
static int parse_identifier(const char *text, uint8_t *id)
{
	unsigned v;

	if (parse_small_number(text, strlen(text), &v) < 0)
		return -1;
	*id = (uint8_t)v;
	return 0;
}

/* Mutual CHAP: answer the initiator's challenge with the target's secret. */
static int answer_initiator_challenge(const struct chap_exchange *c, const char *id_text,
				      const char *challenge_text, const struct chap_cred *mutual,
				      struct text_kv_list *rsp, const char **why)
{
	uint8_t challenge[CHAP_BINARY_MAX], digest[CHAP_DIGEST_MAX];
	char hex[2 * CHAP_DIGEST_MAX + 3];
	size_t digest_len;
	uint8_t id;
	int len;

	if (!id_text || !challenge_text) {
		*why = "mutual CHAP needs both CHAP_I and CHAP_C";
		return -1;
	}
	if (!mutual->set) {
		*why = "initiator asked for mutual CHAP but the target has no mutual credentials";
		return -1;
	}
	if (parse_identifier(id_text, &id) < 0) {
		*why = "malformed CHAP_I";
		return -1;
	}
	len = iscsi_binary_decode(challenge_text, challenge, sizeof(challenge));
	if (len <= 0) {
		*why = "malformed CHAP_C";
		return -1;
	}
	/* 12.1.3: an originator must not reuse the responder's challenge; the
	 * responder checks and closes the connection (reflection attack). */
	if ((size_t)len == c->challenge_len && chap_equal(challenge, c->challenge, c->challenge_len)) {
		*why = "initiator reflected our own CHAP challenge";
		return -1;
	}
	/* The initiator's challenge is answered with the algorithm agreed
	 * through CHAP_A (12.1.3). */
	digest_len = chap_response(c->algorithm, id, mutual->secret, challenge, (size_t)len, digest);
	iscsi_binary_encode_hex(digest, digest_len, hex);
	explicit_bzero(digest, sizeof(digest));
	if (text_kv_add(rsp, "CHAP_N", mutual->user) < 0 || text_kv_add(rsp, "CHAP_R", hex) < 0) {
		*why = "out of memory";
		return -1;
	}
	return 0;
}

int chap_target_verify(struct chap_exchange *c, const struct text_kv_list *req,
		       const struct chap_cred *cred, const struct chap_cred *mutual,
		       struct text_kv_list *rsp, const char **why)
{
	const char *name = text_kv_get(req, "CHAP_N");
	const char *response = text_kv_get(req, "CHAP_R");
	const char *id_text = text_kv_get(req, "CHAP_I");
	const char *challenge_text = text_kv_get(req, "CHAP_C");
	uint8_t got[CHAP_BINARY_MAX], expected[CHAP_DIGEST_MAX], own[CHAP_DIGEST_MAX];
	bool name_ok, response_ok, same_secret;
	size_t digest_len = chap_digest_len(c->algorithm);
	int len;

	/* One response per challenge: a second try (or a replay) is refused. */
	if (c->step != CHAP_WAIT_RESPONSE) {
		*why = "CHAP response out of sequence";
		goto fail;
	}
	if (!name || !response) {
		*why = "CHAP_N and CHAP_R are required";
		goto fail;
	}
	if (!cred->set) {
		*why = "no CHAP credentials configured for this initiator";
		goto fail;
	}
	len = iscsi_binary_decode(response, got, sizeof(got));
	/* The digest length follows from CHAP_A (16, 20 or 32 bytes). */
	if (len <= 0 || (size_t)len != digest_len) {
		*why = "malformed CHAP_R (not as long as the agreed algorithm's digest)";
		goto fail;
	}
	chap_response(c->algorithm, c->id, cred->secret, c->challenge, c->challenge_len, expected);
	name_ok = strcmp(name, cred->user) == 0;
	response_ok = chap_equal(got, expected, digest_len);
	explicit_bzero(expected, sizeof(expected));
	if (!name_ok || !response_ok) {
		*why = name_ok ? "wrong CHAP response" : "unknown CHAP name";
		goto fail;
	}
	/* 12.1.3: a response equal to the one our own (target) secret gives
	 * means one secret serves both directions: an authentication failure. */
	if (mutual->set) {
		chap_response(c->algorithm, c->id, mutual->secret, c->challenge, c->challenge_len, own);
		same_secret = chap_equal(got, own, digest_len);
		explicit_bzero(own, sizeof(own));
		if (same_secret) {
			*why = "the same CHAP secret is used in both directions";
			goto fail;
		}
	}
	if ((id_text || challenge_text) &&
	    answer_initiator_challenge(c, id_text, challenge_text, mutual, rsp, why) < 0)
		goto fail;
	c->step = CHAP_DONE;
	chap_exchange_clear(c);
	return 0;

fail:
	c->step = CHAP_FAILED;
	chap_exchange_clear(c);
	return -1;
}
