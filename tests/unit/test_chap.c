/* MD5 against the RFC 1321 test suite; iSCSI binary values; the CHAP
 * exchange (RFC 1994, RFC 7143 12.1.3): one-way, mutual, wrong answers,
 * reflection, shared secrets, replays. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../fabric/iscsi/chap.h"
#include "../../fabric/iscsi/md5.h"

static void hex_of(const uint8_t *d, size_t len, char *out)
{
	for (size_t i = 0; i < len; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

/* RFC 1321 appendix A.5 */
static void test_md5_rfc1321_suite(void **state)
{
	static const char *const cases[][2] = {
		{ "", "d41d8cd98f00b204e9800998ecf8427e" },
		{ "a", "0cc175b9c0f1b6a831c399e269772661" },
		{ "abc", "900150983cd24fb0d6963f7d28e17f72" },
		{ "message digest", "f96b697d7cb7938d525a2f31aaf161d0" },
		{ "abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b" },
		{ "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
		  "d174ab98d277d9f5a5611c2c9f419d9f" },
		{ "1234567890123456789012345678901234567890"
		  "1234567890123456789012345678901234567890",
		  "57edf4a22be3c955ac49da2e2107b67a" },
	};
	uint8_t digest[MD5_DIGEST_LEN];
	char hex[33];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		md5(cases[i][0], strlen(cases[i][0]), digest);
		hex_of(digest, MD5_DIGEST_LEN, hex);
		assert_string_equal(hex, cases[i][1]);
	}
}

/* Feeding in pieces gives the same digest; a million 'a's crosses many
 * blocks and the 56-byte padding boundary. */
static void test_md5_incremental(void **state)
{
	struct md5_ctx ctx;
	uint8_t digest[MD5_DIGEST_LEN], whole[MD5_DIGEST_LEN], buf[200];
	char hex[33];

	(void)state;
	for (int i = 0; i < 200; i++)
		buf[i] = (uint8_t)(i * 31);
	for (size_t len = 0; len <= 200; len++) {
		md5(buf, len, whole);
		for (size_t split = 0; split <= len; split += 7) {
			md5_init(&ctx);
			md5_update(&ctx, buf, split);
			md5_update(&ctx, buf + split, len - split);
			md5_final(&ctx, digest);
			assert_memory_equal(digest, whole, MD5_DIGEST_LEN);
		}
	}
	char *a = malloc(1000000);
	assert_non_null(a);
	memset(a, 'a', 1000000);
	md5_init(&ctx);
	for (int i = 0; i < 1000000; i += 1000)
		md5_update(&ctx, a + i, 1000);
	md5_final(&ctx, digest);
	hex_of(digest, MD5_DIGEST_LEN, hex);
	assert_string_equal(hex, "7707d6ae4e027c70eea2a935c2296f21");
	free(a);
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
	uint8_t challenge[16], digest[MD5_DIGEST_LEN];
	char hex[33];

	(void)state;
	for (int i = 0; i < 16; i++)
		challenge[i] = (uint8_t)i;
	chap_md5_response(0x2a, "secretsecret", challenge, 16, digest);
	hex_of(digest, MD5_DIGEST_LEN, hex);
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

/* Run the challenge step; returns our identifier and challenge as the
 * initiator would decode them from the response keys. */
static void challenge(struct chap_exchange *c, const char *chap_a, uint8_t *id,
		      uint8_t ch[CHAP_CHALLENGE_LEN])
{
	struct text_kv_list rsp;
	uint8_t seed = 0x40;
	const char *why = NULL;

	text_kv_init(&rsp);
	chap_exchange_init(c);
	assert_int_equal(chap_target_challenge(c, chap_a, counter_random, &seed, &rsp, &why), 0);
	assert_string_equal(text_kv_get(&rsp, "CHAP_A"), "5");
	*id = (uint8_t)atoi(text_kv_get(&rsp, "CHAP_I"));
	assert_int_equal(iscsi_binary_decode(text_kv_get(&rsp, "CHAP_C"), ch, CHAP_CHALLENGE_LEN),
			 CHAP_CHALLENGE_LEN);
	assert_int_equal(*id, 0x40);
	assert_int_equal(ch[0], 0x41);
	text_kv_free(&rsp);
}

/* What a correct initiator answers: CHAP_N and CHAP_R as hex. */
static void add_response(struct text_kv_list *req, const char *name, const char *secret,
			 uint8_t id, const uint8_t *ch, size_t ch_len)
{
	uint8_t digest[MD5_DIGEST_LEN];
	char hex[2 * MD5_DIGEST_LEN + 3];

	chap_md5_response(id, secret, ch, ch_len, digest);
	iscsi_binary_encode_hex(digest, MD5_DIGEST_LEN, hex);
	text_kv_add(req, "CHAP_N", name);
	text_kv_add(req, "CHAP_R", hex);
}

static void test_algorithm_selection(void **state)
{
	struct chap_exchange c;
	struct text_kv_list rsp;
	const char *why = NULL;
	uint8_t id, ch[CHAP_CHALLENGE_LEN];

	(void)state;
	challenge(&c, "5", &id, ch);
	challenge(&c, "7,6,5", &id, ch);
	challenge(&c, "0x5", &id, ch);

	text_kv_init(&rsp);
	chap_exchange_init(&c);
	assert_int_equal(chap_target_challenge(&c, "7,6", NULL, NULL, &rsp, &why), -1);
	assert_non_null(why);
	assert_int_equal(rsp.count, 0);
	assert_int_equal(c.step, CHAP_FAILED);
	chap_exchange_init(&c);
	assert_int_equal(chap_target_challenge(&c, "55,", NULL, NULL, &rsp, &why), -1);
	chap_exchange_init(&c);
	assert_int_equal(chap_target_challenge(&c, "", NULL, NULL, &rsp, &why), -1);

	/* the kernel's random bytes when no callback is given: two challenges differ */
	struct chap_exchange c1, c2;
	chap_exchange_init(&c1);
	chap_exchange_init(&c2);
	assert_int_equal(chap_target_challenge(&c1, "5", NULL, NULL, &rsp, &why), 0);
	assert_int_equal(chap_target_challenge(&c2, "5", NULL, NULL, &rsp, &why), 0);
	assert_memory_not_equal(c1.challenge, c2.challenge, CHAP_CHALLENGE_LEN);
	/* a second CHAP_A in the same exchange is out of sequence */
	assert_int_equal(chap_target_challenge(&c1, "5", NULL, NULL, &rsp, &why), -1);
	text_kv_free(&rsp);
}

static void test_one_way_success(void **state)
{
	struct chap_cred ini = cred("alice", "alicesecret1"), none = { .set = false };
	struct chap_exchange c;
	struct text_kv_list req, rsp;
	const char *why = NULL;
	uint8_t id, ch[CHAP_CHALLENGE_LEN];

	(void)state;
	challenge(&c, "5", &id, ch);
	text_kv_init(&req);
	text_kv_init(&rsp);
	add_response(&req, "alice", "alicesecret1", id, ch, CHAP_CHALLENGE_LEN);
	assert_int_equal(chap_target_verify(&c, &req, &ini, &none, &rsp, &why), 0);
	assert_int_equal(c.step, CHAP_DONE);
	assert_int_equal(rsp.count, 0);    /* nothing to say back one-way */
	/* the same response again is a replay: refused */
	assert_int_equal(chap_target_verify(&c, &req, &ini, &none, &rsp, &why), -1);
	text_kv_free(&req);
	text_kv_free(&rsp);
}

/* The response may come base64-encoded (6.1). */
static void test_base64_response(void **state)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	struct chap_cred ini = cred("alice", "alicesecret1"), none = { .set = false };
	struct chap_exchange c;
	struct text_kv_list req, rsp;
	const char *why = NULL;
	uint8_t id, ch[CHAP_CHALLENGE_LEN], d[MD5_DIGEST_LEN + 2] = { 0 };
	char text[40] = "0b";
	size_t pos = 2;

	(void)state;
	challenge(&c, "5", &id, ch);
	chap_md5_response(id, "alicesecret1", ch, CHAP_CHALLENGE_LEN, d);
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

static void expect_failure(const char *name, const char *secret, bool corrupt,
			   const char *response_override)
{
	struct chap_cred ini = cred("alice", "alicesecret1"), none = { .set = false };
	struct chap_exchange c;
	struct text_kv_list req, rsp;
	const char *why = NULL;
	uint8_t id, ch[CHAP_CHALLENGE_LEN];

	challenge(&c, "5", &id, ch);
	if (corrupt)
		ch[3] ^= 1;
	text_kv_init(&req);
	text_kv_init(&rsp);
	if (response_override) {
		text_kv_add(&req, "CHAP_N", name);
		text_kv_add(&req, "CHAP_R", response_override);
	} else {
		add_response(&req, name, secret, id, ch, CHAP_CHALLENGE_LEN);
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
	expect_failure("alice", "wrongsecret1", false, NULL);
	expect_failure("bob", "alicesecret1", false, NULL);          /* right secret, wrong name */
	expect_failure("alice", "alicesecret1", true, NULL);         /* answered another challenge */
	expect_failure("alice", NULL, false, "0x00112233");          /* not 16 bytes */
	expect_failure("alice", NULL, false, "banana");
	expect_failure("alice", NULL, false, "0x");
}

static void test_missing_keys_and_order(void **state)
{
	struct chap_cred ini = cred("alice", "alicesecret1"), none = { .set = false };
	struct chap_exchange c;
	struct text_kv_list req, rsp;
	const char *why = NULL;
	uint8_t id, ch[CHAP_CHALLENGE_LEN];

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
	add_response(&req, "", "", id, ch, CHAP_CHALLENGE_LEN);
	assert_int_equal(chap_target_verify(&c, &req, &none, &none, &rsp, &why), -1);
	text_kv_free(&req);
	text_kv_free(&rsp);
}

static void test_mutual(void **state)
{
	struct chap_cred ini = cred("alice", "alicesecret1"), tgt = cred("target1", "targetsecret");
	struct chap_exchange c;
	struct text_kv_list req, rsp;
	const char *why = NULL;
	uint8_t id, ch[CHAP_CHALLENGE_LEN], ich[20], got[MD5_DIGEST_LEN], want[MD5_DIGEST_LEN];
	char ich_hex[2 * 20 + 3];

	(void)state;
	challenge(&c, "5", &id, ch);
	for (int i = 0; i < 20; i++)
		ich[i] = (uint8_t)(0xc0 + i);
	iscsi_binary_encode_hex(ich, 20, ich_hex);
	text_kv_init(&req);
	text_kv_init(&rsp);
	add_response(&req, "alice", "alicesecret1", id, ch, CHAP_CHALLENGE_LEN);
	text_kv_add(&req, "CHAP_I", "77");
	text_kv_add(&req, "CHAP_C", ich_hex);
	assert_int_equal(chap_target_verify(&c, &req, &ini, &tgt, &rsp, &why), 0);
	assert_string_equal(text_kv_get(&rsp, "CHAP_N"), "target1");
	assert_int_equal(iscsi_binary_decode(text_kv_get(&rsp, "CHAP_R"), got, sizeof(got)),
			 MD5_DIGEST_LEN);
	chap_md5_response(77, "targetsecret", ich, 20, want);
	assert_memory_equal(got, want, MD5_DIGEST_LEN);
	text_kv_free(&req);
	text_kv_free(&rsp);
}

static void mutual_failure(const char *chap_i, bool reflect, bool with_c, bool target_cred,
			   const char *secret_both)
{
	struct chap_cred ini = cred("alice", secret_both ? secret_both : "alicesecret1");
	struct chap_cred tgt = cred("target1", secret_both ? secret_both : "targetsecret");
	struct chap_exchange c;
	struct text_kv_list req, rsp;
	const char *why = NULL;
	uint8_t id, ch[CHAP_CHALLENGE_LEN], other[CHAP_CHALLENGE_LEN];
	char hex[2 * CHAP_CHALLENGE_LEN + 3];

	if (!target_cred)
		tgt.set = false;
	challenge(&c, "5", &id, ch);
	for (int i = 0; i < CHAP_CHALLENGE_LEN; i++)
		other[i] = (uint8_t)(0x99 ^ i);
	iscsi_binary_encode_hex(reflect ? ch : other, CHAP_CHALLENGE_LEN, hex);
	text_kv_init(&req);
	text_kv_init(&rsp);
	add_response(&req, "alice", ini.secret, id, ch, CHAP_CHALLENGE_LEN);
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
	mutual_failure("1", true, true, true, NULL);        /* reflection of our challenge */
	mutual_failure("1", false, true, false, NULL);      /* no mutual secret configured */
	mutual_failure("1", false, false, true, NULL);      /* CHAP_I without CHAP_C */
	mutual_failure(NULL, false, true, true, NULL);      /* CHAP_C without CHAP_I */
	mutual_failure("256", false, true, true, NULL);     /* identifier out of range */
	mutual_failure("x", false, true, true, NULL);
	/* one secret for both directions (12.1.3): refused even one-way */
	mutual_failure(NULL, false, false, true, "samesecret12");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_md5_rfc1321_suite),
		cmocka_unit_test(test_md5_incremental),
		cmocka_unit_test(test_binary_values),
		cmocka_unit_test(test_md5_response_known_answer),
		cmocka_unit_test(test_chap_equal),
		cmocka_unit_test(test_algorithm_selection),
		cmocka_unit_test(test_one_way_success),
		cmocka_unit_test(test_base64_response),
		cmocka_unit_test(test_one_way_failures),
		cmocka_unit_test(test_missing_keys_and_order),
		cmocka_unit_test(test_mutual),
		cmocka_unit_test(test_mutual_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
