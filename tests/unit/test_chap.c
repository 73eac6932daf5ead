/* The CHAP digests (nettle) against published test vectors (RFC 1321 for
 * MD5, FIPS 180 for SHA-1 and SHA-256, FIPS 202 for SHA3-256), fed through
 * chap_response(); iSCSI binary values; the CHAP exchange (RFC 1994, RFC
 * 7143 12.1.3) with every algorithm: selection, one-way, mutual, wrong
 * answers, reflection, shared secrets, replays. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../fabric/iscsi/chap.h"

static void hex_of(const uint8_t *d, size_t len, char *out)
{
	for (size_t i = 0; i < len; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

/* chap_response() hashes Identifier || secret || Challenge (RFC 1994
 * 4.1): a published message split into those three parts must give the
 * published digest. */
static void expect_vector(unsigned alg, const char *msg, const char *want)
{
	size_t len = strlen(msg), half = len / 2 > 1 ? len / 2 : 1;
	uint8_t digest[CHAP_DIGEST_MAX];
	char secret[200], hex[2 * CHAP_DIGEST_MAX + 1];
	size_t n;

	assert_true(len >= 1 && len < sizeof(secret));
	memcpy(secret, msg + 1, half - 1);
	secret[half - 1] = '\0';
	n = chap_response(alg, (uint8_t)msg[0], secret, (const uint8_t *)msg + half, len - half,
			  digest);
	assert_int_equal(n, strlen(want) / 2);
	assert_int_equal(n, chap_digest_len(alg));
	hex_of(digest, n, hex);
	assert_string_equal(hex, want);
}

static void test_published_vectors(void **state)
{
	static const char m448[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

	(void)state;
	/* RFC 1321 appendix A.5 (every case with at least one byte) */
	expect_vector(CHAP_ALG_MD5, "a", "0cc175b9c0f1b6a831c399e269772661");
	expect_vector(CHAP_ALG_MD5, "abc", "900150983cd24fb0d6963f7d28e17f72");
	expect_vector(CHAP_ALG_MD5, "message digest", "f96b697d7cb7938d525a2f31aaf161d0");
	expect_vector(CHAP_ALG_MD5, "abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b");
	expect_vector(CHAP_ALG_MD5, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
		      "d174ab98d277d9f5a5611c2c9f419d9f");
	expect_vector(CHAP_ALG_MD5, "1234567890123456789012345678901234567890"
				    "1234567890123456789012345678901234567890",
		      "57edf4a22be3c955ac49da2e2107b67a");
	/* FIPS 180-2 appendices A.1, A.2 (SHA-1) and B.1, B.2 (SHA-256) */
	expect_vector(CHAP_ALG_SHA1, "abc", "a9993e364706816aba3e25717850c26c9cd0d89d");
	expect_vector(CHAP_ALG_SHA1, m448, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
	expect_vector(CHAP_ALG_SHA256, "abc",
		      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	expect_vector(CHAP_ALG_SHA256, m448,
		      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	/* FIPS 202 (NIST's SHA3-256 examples: "abc" and the 448-bit message) */
	expect_vector(CHAP_ALG_SHA3_256, "abc",
		      "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532");
	expect_vector(CHAP_ALG_SHA3_256, m448,
		      "41c0dba2a9d6240849100376a8235e2c82e1b9998a999e21db32dd97496d3376");

	/* Unknown algorithms have no digest. */
	uint8_t digest[CHAP_DIGEST_MAX];
	assert_int_equal(chap_digest_len(0), 0);
	assert_int_equal(chap_digest_len(4), 0);
	assert_int_equal(chap_digest_len(9), 0);
	assert_int_equal(chap_response(9, 1, "secret", (const uint8_t *)"x", 1, digest), 0);
}

static void test_binary_values(void **state)
{
	uint8_t out[32];
	char text[80];
	static const uint8_t seq[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };

	(void)state;
	assert_int_equal(iscsi_binary_decode("0x000102030405060708090a0b0c0d0e0f", out, 32), 16);
	assert_memory_equal(out, seq, 16);
	assert_int_equal(iscsi_binary_decode("0X0A0b", out, 32), 2);
	assert_int_equal(out[0], 0x0a);
	assert_int_equal(out[1], 0x0b);
	/* odd digit count: a leading zero nibble */
	assert_int_equal(iscsi_binary_decode("0xabc", out, 32), 2);
	assert_int_equal(out[0], 0x0a);
	assert_int_equal(out[1], 0xbc);
	/* base64 with and without padding */
	assert_int_equal(iscsi_binary_decode("0bAAECAwQFBgcICQoLDA0ODw==", out, 32), 16);
	assert_memory_equal(out, seq, 16);
	assert_int_equal(iscsi_binary_decode("0BAAECAwQFBgcICQoLDA0ODw", out, 32), 16);
	assert_memory_equal(out, seq, 16);
	assert_int_equal(iscsi_binary_decode("0bAQIDBAU=", out, 32), 5);
	assert_int_equal(out[4], 5);
	/* garbage */
	assert_int_equal(iscsi_binary_decode("", out, 32), -1);
	assert_int_equal(iscsi_binary_decode("0x", out, 32), -1);
	assert_int_equal(iscsi_binary_decode("0b", out, 32), -1);
	assert_int_equal(iscsi_binary_decode("1234", out, 32), -1);
	assert_int_equal(iscsi_binary_decode("0xzz", out, 32), -1);
	assert_int_equal(iscsi_binary_decode("0x12 34", out, 32), -1);
	assert_int_equal(iscsi_binary_decode("0b!!!!", out, 32), -1);
	assert_int_equal(iscsi_binary_decode("0bA", out, 32), -1);
	assert_int_equal(iscsi_binary_decode("0bAQ=x", out, 32), -1);
	/* longer than the caller's buffer */
	assert_int_equal(iscsi_binary_decode("0x0102", out, 1), -1);
	assert_int_equal(iscsi_binary_decode("0bAQID", out, 2), -1);
	/* encoding */
	iscsi_binary_encode_hex(seq, 4, text);
	assert_string_equal(text, "0x00010203");
	iscsi_binary_encode_hex(seq, 0, text);
	assert_string_equal(text, "0x");
}

/* RFC 1994 4.1 with a value computed independently (Python hashlib). */
static void test_md5_response_known_answer(void **state)
{
	uint8_t challenge[16], digest[CHAP_DIGEST_MAX];
	char hex[33];

	(void)state;
	for (int i = 0; i < 16; i++)
		challenge[i] = (uint8_t)i;
	assert_int_equal(chap_response(CHAP_ALG_MD5, 0x2a, "secretsecret", challenge, 16, digest), 16);
	hex_of(digest, 16, hex);
	assert_string_equal(hex, "54d49338a27b0c1dd5e935c21ab005a3");
}

static void test_chap_equal(void **state)
{
	uint8_t a[16] = { 1, 2, 3 }, b[16] = { 1, 2, 3 };

	(void)state;
	assert_true(chap_equal(a, b, 16));
	b[15] = 1;
	assert_false(chap_equal(a, b, 16));
	b[15] = 0;
	b[0] = 0;
	assert_false(chap_equal(a, b, 16));
	assert_true(chap_equal(a, b, 0));
}

/* --- the exchange ------------------------------------------------------ */

static void counter_random(void *arg, uint8_t *buf, unsigned len)
{
	uint8_t *next = arg;

	for (unsigned i = 0; i < len; i++)
		buf[i] = (*next)++;
}

static struct chap_cred cred(const char *user, const char *secret)
{
	struct chap_cred c = { .set = true };

	snprintf(c.user, sizeof(c.user), "%s", user);
	snprintf(c.secret, sizeof(c.secret), "%s", secret);
	return c;
}

static const unsigned every_alg[] = { CHAP_ALG_MD5, CHAP_ALG_SHA1, CHAP_ALG_SHA256, CHAP_ALG_SHA3_256 };
#define EVERY_ALG ARRAY_LEN(every_alg)
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Run the challenge step with the target accepting `allowed` (0: all),
 * expecting algorithm `want`; returns our identifier and challenge as the
 * initiator would decode them from the response keys. */
static void challenge_allowed(struct chap_exchange *c, const char *chap_a, uint32_t allowed,
			      unsigned want, uint8_t *id, uint8_t ch[CHAP_CHALLENGE_MAX])
{
	struct text_kv_list rsp;
	uint8_t seed = 0x40;
	const char *why = NULL;
	char want_text[8];

	text_kv_init(&rsp);
	chap_exchange_init(c);
	assert_int_equal(chap_target_challenge(c, chap_a, allowed, counter_random, &seed, &rsp, &why), 0);
	snprintf(want_text, sizeof(want_text), "%u", want);
	assert_string_equal(text_kv_get(&rsp, "CHAP_A"), want_text);
	assert_int_equal(c->algorithm, want);
	*id = (uint8_t)atoi(text_kv_get(&rsp, "CHAP_I"));
	/* the challenge is as long as the digest the algorithm makes */
	assert_int_equal(iscsi_binary_decode(text_kv_get(&rsp, "CHAP_C"), ch, CHAP_CHALLENGE_MAX),
			 (int)chap_digest_len(want));
	assert_int_equal(c->challenge_len, chap_digest_len(want));
	assert_int_equal(*id, 0x40);
	assert_int_equal(ch[0], 0x41);
	text_kv_free(&rsp);
}

/* The initiator offers only alg. */
static void challenge_alg(struct chap_exchange *c, unsigned alg, uint8_t *id,
			  uint8_t ch[CHAP_CHALLENGE_MAX])
{
	char list[8];

	snprintf(list, sizeof(list), "%u", alg);
	challenge_allowed(c, list, 0, alg, id, ch);
}

static void challenge(struct chap_exchange *c, const char *chap_a, uint8_t *id,
		      uint8_t ch[CHAP_CHALLENGE_MAX])
{
	challenge_allowed(c, chap_a, 0, CHAP_ALG_MD5, id, ch);
}

/* What a correct initiator answers: CHAP_N and CHAP_R as hex. */
static void add_response_alg(struct text_kv_list *req, unsigned alg, const char *name,
			     const char *secret, uint8_t id, const uint8_t *ch, size_t ch_len)
{
	uint8_t digest[CHAP_DIGEST_MAX];
	char hex[2 * CHAP_DIGEST_MAX + 3];
	size_t n;

	n = chap_response(alg, id, secret, ch, ch_len, digest);
	assert_int_not_equal(n, 0);
	iscsi_binary_encode_hex(digest, n, hex);
	text_kv_add(req, "CHAP_N", name);
	text_kv_add(req, "CHAP_R", hex);
}

static void add_response(struct text_kv_list *req, const char *name, const char *secret,
			 uint8_t id, const uint8_t *ch, size_t ch_len)
{
	add_response_alg(req, CHAP_ALG_MD5, name, secret, id, ch, ch_len);
}

static void test_algorithm_selection(void **state)
{
	struct chap_exchange c;
	struct text_kv_list rsp;
	const char *why = NULL;
	uint8_t id, ch[CHAP_CHALLENGE_MAX];
	const uint32_t md5 = CHAP_ALG_BIT(CHAP_ALG_MD5), sha1 = CHAP_ALG_BIT(CHAP_ALG_SHA1);
	const uint32_t sha256 = CHAP_ALG_BIT(CHAP_ALG_SHA256), sha3 = CHAP_ALG_BIT(CHAP_ALG_SHA3_256);

	(void)state;
	challenge(&c, "5", &id, ch);
	challenge(&c, "0x5", &id, ch);
	challenge(&c, "1,2,3,5,99,banana", &id, ch);     /* unknown values are skipped */
	/* the strongest common one, whatever the initiator's order */
	challenge_allowed(&c, "5,6,7,8", 0, CHAP_ALG_SHA3_256, &id, ch);
	challenge_allowed(&c, "5,7,6", 0, CHAP_ALG_SHA256, &id, ch);
	challenge_allowed(&c, "5,6", 0, CHAP_ALG_SHA1, &id, ch);
	challenge_allowed(&c, "0x7,0x5", 0, CHAP_ALG_SHA256, &id, ch);
	/* what the target accepts narrows it */
	challenge_allowed(&c, "5,6,7,8", md5 | sha256, CHAP_ALG_SHA256, &id, ch);
	challenge_allowed(&c, "8,7,6,5", md5, CHAP_ALG_MD5, &id, ch);
	challenge_allowed(&c, "5,6", sha1 | sha3, CHAP_ALG_SHA1, &id, ch);
	challenge_allowed(&c, "5,6,7,8", CHAP_ALGS_ALL, CHAP_ALG_SHA3_256, &id, ch);
	for (size_t i = 0; i < EVERY_ALG; i++)
		challenge_alg(&c, every_alg[i], &id, ch);

	text_kv_init(&rsp);
	chap_exchange_init(&c);
	assert_int_equal(chap_target_challenge(&c, "5,6", sha256 | sha3, NULL, NULL, &rsp, &why), -1);
	assert_non_null(why);
	assert_int_equal(rsp.count, 0);
	assert_int_equal(c.step, CHAP_FAILED);
	chap_exchange_init(&c);
	assert_int_equal(chap_target_challenge(&c, "4,9", 0, NULL, NULL, &rsp, &why), -1);
	chap_exchange_init(&c);
	assert_int_equal(chap_target_challenge(&c, "55,", 0, NULL, NULL, &rsp, &why), -1);
	chap_exchange_init(&c);
	assert_int_equal(chap_target_challenge(&c, "", 0, NULL, NULL, &rsp, &why), -1);
	chap_exchange_init(&c);
	assert_int_equal(chap_target_challenge(&c, "0x", 0, NULL, NULL, &rsp, &why), -1);

	/* the kernel's random bytes when no callback is given: two challenges differ */
	struct chap_exchange c1, c2;
	chap_exchange_init(&c1);
	chap_exchange_init(&c2);
	assert_int_equal(chap_target_challenge(&c1, "7", 0, NULL, NULL, &rsp, &why), 0);
	assert_int_equal(chap_target_challenge(&c2, "7", 0, NULL, NULL, &rsp, &why), 0);
	assert_memory_not_equal(c1.challenge, c2.challenge, 32);
	/* a second CHAP_A in the same exchange is out of sequence */
	assert_int_equal(chap_target_challenge(&c1, "5", 0, NULL, NULL, &rsp, &why), -1);
	text_kv_free(&rsp);
}

static void test_one_way_success(void **state)
{
	struct chap_cred ini = cred("alice", "alicesecret1"), none = { .set = false };
	struct chap_exchange c;
	struct text_kv_list req, rsp;
	const char *why = NULL;
	uint8_t id, ch[CHAP_CHALLENGE_MAX];

	(void)state;
	for (size_t i = 0; i < EVERY_ALG; i++) {
		challenge_alg(&c, every_alg[i], &id, ch);
		text_kv_init(&req);
		text_kv_init(&rsp);
		add_response_alg(&req, every_alg[i], "alice", "alicesecret1", id, ch, c.challenge_len);
		assert_int_equal(chap_target_verify(&c, &req, &ini, &none, &rsp, &why), 0);
		assert_int_equal(c.step, CHAP_DONE);
		assert_int_equal(rsp.count, 0);    /* nothing to say back one-way */
		/* the same response again is a replay: refused */
		assert_int_equal(chap_target_verify(&c, &req, &ini, &none, &rsp, &why), -1);
		text_kv_free(&req);
		text_kv_free(&rsp);
	}
}

/* A digest of another algorithm (another length, or MD5's length when
 * SHA-256 was agreed) is refused. */
static void test_wrong_algorithm_response(void **state)
{
	struct chap_cred ini = cred("alice", "alicesecret1"), none = { .set = false };
	struct chap_exchange c;
	struct text_kv_list req, rsp;
	const char *why = NULL;
	uint8_t id, ch[CHAP_CHALLENGE_MAX];

	(void)state;
	for (size_t i = 0; i < EVERY_ALG; i++) {
		for (size_t j = 0; j < EVERY_ALG; j++) {
			if (i == j)
				continue;
			challenge_alg(&c, every_alg[i], &id, ch);
			text_kv_init(&req);
			text_kv_init(&rsp);
			add_response_alg(&req, every_alg[j], "alice", "alicesecret1", id, ch,
					 c.challenge_len);
			assert_int_equal(chap_target_verify(&c, &req, &ini, &none, &rsp, &why), -1);
			assert_int_equal(c.step, CHAP_FAILED);
			text_kv_free(&req);
			text_kv_free(&rsp);
		}
	}
}

/* The response may come base64-encoded (6.1). */
static void test_base64_response(void **state)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	struct chap_cred ini = cred("alice", "alicesecret1"), none = { .set = false };
	struct chap_exchange c;
	struct text_kv_list req, rsp;
	const char *why = NULL;
	uint8_t id, ch[CHAP_CHALLENGE_MAX], d[CHAP_DIGEST_MAX + 2] = { 0 };
	char text[40] = "0b";
	size_t pos = 2;

	(void)state;
	challenge(&c, "5", &id, ch);
	chap_response(CHAP_ALG_MD5, id, "alicesecret1", ch, c.challenge_len, d);
	d[16] = d[17] = 0;
	for (int i = 0; i < 18; i += 3) {        /* 16 bytes -> 22 chars + "==" */
		uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | d[i + 2];
		for (int k = 3; k >= 0; k--)
			text[pos++] = b64[(v >> (6 * k)) & 63];
	}
	text[pos - 2] = '=';
	text[pos - 1] = '=';
	text[pos] = '\0';
	text_kv_init(&req);
	text_kv_init(&rsp);
	text_kv_add(&req, "CHAP_N", "alice");
	text_kv_add(&req, "CHAP_R", text);
	assert_int_equal(chap_target_verify(&c, &req, &ini, &none, &rsp, &why), 0);
	text_kv_free(&req);
	text_kv_free(&rsp);
}

static void expect_failure(unsigned alg, const char *name, const char *secret, bool corrupt,
			   const char *response_override)
{
	struct chap_cred ini = cred("alice", "alicesecret1"), none = { .set = false };
	struct chap_exchange c;
	struct text_kv_list req, rsp;
	const char *why = NULL;
	uint8_t id, ch[CHAP_CHALLENGE_MAX];

	challenge_alg(&c, alg, &id, ch);
	if (corrupt)
		ch[3] ^= 1;
	text_kv_init(&req);
	text_kv_init(&rsp);
	if (response_override) {
		text_kv_add(&req, "CHAP_N", name);
		text_kv_add(&req, "CHAP_R", response_override);
	} else {
		add_response_alg(&req, alg, name, secret, id, ch, c.challenge_len);
	}
	assert_int_equal(chap_target_verify(&c, &req, &ini, &none, &rsp, &why), -1);
	assert_non_null(why);
	assert_int_equal(c.step, CHAP_FAILED);
	assert_int_equal(rsp.count, 0);
	text_kv_free(&req);
	text_kv_free(&rsp);
}

static void test_one_way_failures(void **state)
{
	(void)state;
	for (size_t i = 0; i < EVERY_ALG; i++) {
		unsigned alg = every_alg[i];

		expect_failure(alg, "alice", "wrongsecret1", false, NULL);
		expect_failure(alg, "bob", "alicesecret1", false, NULL);  /* right secret, wrong name */
		expect_failure(alg, "alice", "alicesecret1", true, NULL); /* answered another challenge */
		expect_failure(alg, "alice", NULL, false, "0x00112233");  /* too short */
		expect_failure(alg, "alice", NULL, false, "banana");
		expect_failure(alg, "alice", NULL, false, "0x");
	}
}

static void test_missing_keys_and_order(void **state)
{
	struct chap_cred ini = cred("alice", "alicesecret1"), none = { .set = false };
	struct chap_exchange c;
	struct text_kv_list req, rsp;
	const char *why = NULL;
	uint8_t id, ch[CHAP_CHALLENGE_MAX] = { 0 };

	(void)state;
	text_kv_init(&req);
	text_kv_init(&rsp);
	/* a response before any challenge */
	chap_exchange_init(&c);
	add_response(&req, "alice", "alicesecret1", 0, ch, 0);
	assert_int_equal(chap_target_verify(&c, &req, &ini, &none, &rsp, &why), -1);
	text_kv_free(&req);

	/* CHAP_N without CHAP_R */
	text_kv_init(&req);
	challenge(&c, "5", &id, ch);
	text_kv_add(&req, "CHAP_N", "alice");
	assert_int_equal(chap_target_verify(&c, &req, &ini, &none, &rsp, &why), -1);
	text_kv_free(&req);

	/* credentials not configured at all */
	text_kv_init(&req);
	challenge(&c, "5", &id, ch);
	add_response(&req, "", "", id, ch, c.challenge_len);
	assert_int_equal(chap_target_verify(&c, &req, &none, &none, &rsp, &why), -1);
	text_kv_free(&req);
	text_kv_free(&rsp);
}

/* Mutual CHAP: the target answers the initiator's challenge with the
 * algorithm agreed through CHAP_A. */
static void test_mutual(void **state)
{
	struct chap_cred ini = cred("alice", "alicesecret1"), tgt = cred("target1", "targetsecret");
	struct chap_exchange c;
	struct text_kv_list req, rsp;
	const char *why = NULL;
	uint8_t id, ch[CHAP_CHALLENGE_MAX], ich[20], got[CHAP_DIGEST_MAX], want[CHAP_DIGEST_MAX];
	char ich_hex[2 * 20 + 3];

	(void)state;
	for (size_t i = 0; i < EVERY_ALG; i++) {
		unsigned alg = every_alg[i];
		size_t n = chap_digest_len(alg);

		challenge_alg(&c, alg, &id, ch);
		for (int k = 0; k < 20; k++)
			ich[k] = (uint8_t)(0xc0 + k);
		iscsi_binary_encode_hex(ich, 20, ich_hex);
		text_kv_init(&req);
		text_kv_init(&rsp);
		add_response_alg(&req, alg, "alice", "alicesecret1", id, ch, c.challenge_len);
		text_kv_add(&req, "CHAP_I", "77");
		text_kv_add(&req, "CHAP_C", ich_hex);
		assert_int_equal(chap_target_verify(&c, &req, &ini, &tgt, &rsp, &why), 0);
		assert_string_equal(text_kv_get(&rsp, "CHAP_N"), "target1");
		assert_int_equal(iscsi_binary_decode(text_kv_get(&rsp, "CHAP_R"), got, sizeof(got)), (int)n);
		assert_int_equal(chap_response(alg, 77, "targetsecret", ich, 20, want), n);
		assert_memory_equal(got, want, n);
		text_kv_free(&req);
		text_kv_free(&rsp);
	}
}

static void mutual_failure(unsigned alg, const char *chap_i, bool reflect, bool with_c,
			   bool target_cred, const char *secret_both)
{
	struct chap_cred ini = cred("alice", secret_both ? secret_both : "alicesecret1");
	struct chap_cred tgt = cred("target1", secret_both ? secret_both : "targetsecret");
	struct chap_exchange c;
	struct text_kv_list req, rsp;
	const char *why = NULL;
	uint8_t id, ch[CHAP_CHALLENGE_MAX], other[CHAP_CHALLENGE_MAX];
	char hex[2 * CHAP_CHALLENGE_MAX + 3];

	if (!target_cred)
		tgt.set = false;
	challenge_alg(&c, alg, &id, ch);
	for (int i = 0; i < CHAP_CHALLENGE_MAX; i++)
		other[i] = (uint8_t)(0x99 ^ i);
	iscsi_binary_encode_hex(reflect ? ch : other, c.challenge_len, hex);
	text_kv_init(&req);
	text_kv_init(&rsp);
	add_response_alg(&req, alg, "alice", ini.secret, id, ch, c.challenge_len);
	if (chap_i)
		text_kv_add(&req, "CHAP_I", chap_i);
	if (with_c)
		text_kv_add(&req, "CHAP_C", hex);
	assert_int_equal(chap_target_verify(&c, &req, &ini, &tgt, &rsp, &why), -1);
	assert_non_null(why);
	assert_null(text_kv_get(&rsp, "CHAP_R"));   /* we never answer a failed initiator */
	text_kv_free(&req);
	text_kv_free(&rsp);
}

static void test_mutual_failures(void **state)
{
	(void)state;
	for (size_t i = 0; i < EVERY_ALG; i++) {
		unsigned alg = every_alg[i];

		mutual_failure(alg, "1", true, true, true, NULL);    /* reflection of our challenge */
		mutual_failure(alg, "1", false, true, false, NULL);  /* no mutual secret configured */
		mutual_failure(alg, "1", false, false, true, NULL);  /* CHAP_I without CHAP_C */
		mutual_failure(alg, NULL, false, true, true, NULL);  /* CHAP_C without CHAP_I */
		mutual_failure(alg, "256", false, true, true, NULL); /* identifier out of range */
		mutual_failure(alg, "x", false, true, true, NULL);
		/* one secret for both directions (12.1.3): refused even one-way */
		mutual_failure(alg, NULL, false, false, true, "samesecret12");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_published_vectors),
		cmocka_unit_test(test_binary_values),
		cmocka_unit_test(test_md5_response_known_answer),
		cmocka_unit_test(test_chap_equal),
		cmocka_unit_test(test_algorithm_selection),
		cmocka_unit_test(test_one_way_success),
		cmocka_unit_test(test_wrong_algorithm_response),
		cmocka_unit_test(test_base64_response),
		cmocka_unit_test(test_one_way_failures),
		cmocka_unit_test(test_missing_keys_and_order),
		cmocka_unit_test(test_mutual),
		cmocka_unit_test(test_mutual_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
