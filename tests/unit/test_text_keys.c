/* Text key=value lists: parsing (RFC 7143 6.1 syntax), lookup, adding and
 * formatting back. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../fabric/iscsi/text_keys.h"

/* sizeof(s) - 1 keeps the embedded NULs and drops the literal's own one. */
#define PARSE(l, s) text_kv_parse((l), (const uint8_t *)(s), (uint32_t)(sizeof(s) - 1))

static void test_parse_ok(void **state)
{
	struct text_kv_list l;

	(void)state;
	text_kv_init(&l);
	assert_int_equal(PARSE(&l, "InitiatorName=iqn.1994-05.com.redhat:abc\0"
				   "SessionType=Normal\0HeaderDigest=CRC32C,None\0"
				   "X-com.example.Key=a=b\0TargetAlias=\0X#NodeArchitecture=x\0"
				   "iSCSIProtocolLevel=1\0Key.with-all+the@chars_1=z\0"), 0);
	assert_int_equal(l.count, 8);
	assert_string_equal(text_kv_get(&l, "iSCSIProtocolLevel"), "1");
	assert_string_equal(text_kv_get(&l, "Key.with-all+the@chars_1"), "z");
	assert_string_equal(l.items[0].key, "InitiatorName");
	assert_string_equal(l.items[0].value, "iqn.1994-05.com.redhat:abc");
	assert_string_equal(text_kv_get(&l, "HeaderDigest"), "CRC32C,None");
	/* the first '=' splits key from value */
	assert_string_equal(text_kv_get(&l, "X-com.example.Key"), "a=b");
	assert_string_equal(text_kv_get(&l, "TargetAlias"), "");
	assert_string_equal(text_kv_get(&l, "X#NodeArchitecture"), "x");
	assert_null(text_kv_get(&l, "Missing"));
	/* keys are case-sensitive */
	assert_null(text_kv_get(&l, "sessiontype"));
	text_kv_free(&l);
	assert_int_equal(l.count, 0);
	assert_null(l.items);
}

static void test_parse_appends_and_counts(void **state)
{
	struct text_kv_list l;

	(void)state;
	text_kv_init(&l);
	assert_int_equal(PARSE(&l, "A=1\0B=2\0"), 0);
	assert_int_equal(PARSE(&l, "A=3\0"), 0);
	assert_int_equal(l.count, 3);
	assert_int_equal(text_kv_count_key(&l, "A"), 2);
	assert_int_equal(text_kv_count_key(&l, "B"), 1);
	assert_int_equal(text_kv_count_key(&l, "C"), 0);
	assert_string_equal(text_kv_get(&l, "A"), "1");   /* first wins */
	/* empty input, and stray NULs between pairs, are harmless */
	assert_int_equal(text_kv_parse(&l, NULL, 0), 0);
	assert_int_equal(PARSE(&l, "\0\0C=4\0\0"), 0);
	assert_int_equal(l.count, 4);
	text_kv_free(&l);
}

static void check_garbage(const uint8_t *data, uint32_t len)
{
	struct text_kv_list l;

	text_kv_init(&l);
	assert_int_equal(text_kv_add(&l, "Before", "1"), 0);
	assert_int_equal(text_kv_parse(&l, data, len), -1);
	/* all or nothing: earlier content survives, nothing half-parsed stays */
	assert_int_equal(l.count, 1);
	assert_string_equal(l.items[0].key, "Before");
	text_kv_free(&l);
}

#define GARBAGE(s) check_garbage((const uint8_t *)(s), (uint32_t)(sizeof(s) - 1))

static void test_parse_garbage(void **state)
{
	(void)state;
	GARBAGE("NoEquals\0");
	GARBAGE("A=1\0NoEquals\0");
	GARBAGE("=value\0");                 /* empty key */
	GARBAGE("A=1\0B=2");                 /* last pair not NUL-terminated */
	GARBAGE("A=1");
	GARBAGE("1Key=1\0");                 /* must start with a letter */
	GARBAGE(".Key=1\0");
	GARBAGE("-Key=1\0");
	GARBAGE("Bad Key=1\0");              /* space */
	GARBAGE("Bad/Key=1\0");
	GARBAGE("Bad#Key=1\0");              /* '#' only in the X# prefix */
	GARBAGE("Key\xc3\xa9=1\0");           /* non-ASCII key */
}

static void test_limits(void **state)
{
	struct text_kv_list l;
	size_t big = 64 + 8192 + 16;
	uint8_t *buf = malloc(big);
	uint32_t len;

	(void)state;
	assert_non_null(buf);
	text_kv_init(&l);

	/* key: 63 characters fine, 64 too long */
	memset(buf, 'K', 63);
	memcpy(buf + 63, "=v", 3);
	assert_int_equal(text_kv_parse(&l, buf, 66), 0);
	memset(buf, 'K', 64);
	memcpy(buf + 64, "=v", 3);
	assert_int_equal(text_kv_parse(&l, buf, 67), -1);

	/* value: 8191 bytes + NUL fine, 8192 + NUL too long */
	memcpy(buf, "V=", 2);
	memset(buf + 2, 'x', 8191);
	buf[2 + 8191] = '\0';
	assert_int_equal(text_kv_parse(&l, buf, 2 + 8191 + 1), 0);
	assert_int_equal(strlen(text_kv_get(&l, "V")), 8191);
	memset(buf + 2, 'x', 8192);
	buf[2 + 8192] = '\0';
	assert_int_equal(text_kv_parse(&l, buf, 2 + 8192 + 1), -1);
	assert_int_equal(l.count, 2);
	text_kv_free(&l);

	/* formatting a list with the long value round-trips */
	text_kv_init(&l);
	memset(buf, 'y', 8191);
	buf[8191] = '\0';
	assert_int_equal(text_kv_add(&l, "Long", (char *)buf), 0);
	uint8_t *out = text_kv_format(&l, &len);
	assert_non_null(out);
	assert_int_equal(len, 4 + 1 + 8191 + 1);
	text_kv_free(&l);
	text_kv_init(&l);
	assert_int_equal(text_kv_parse(&l, out, len), 0);
	assert_int_equal(strlen(text_kv_get(&l, "Long")), 8191);
	free(out);
	text_kv_free(&l);
	free(buf);
}

static void test_add_format_roundtrip(void **state)
{
	struct text_kv_list l, back;
	uint32_t len;
	uint8_t *out;

	(void)state;
	text_kv_init(&l);
	assert_int_equal(text_kv_add(&l, "HeaderDigest", "None"), 0);
	assert_int_equal(text_kv_addf(&l, "MaxRecvDataSegmentLength", "%u", 262144u), 0);
	assert_int_equal(text_kv_addf(&l, "TargetPortalGroupTag", "%d", 1), 0);
	out = text_kv_format(&l, &len);
	assert_non_null(out);
	static const char want[] = "HeaderDigest=None\0MaxRecvDataSegmentLength=262144\0"
				   "TargetPortalGroupTag=1\0";
	assert_int_equal(len, sizeof(want) - 1);
	assert_memory_equal(out, want, len);

	text_kv_init(&back);
	assert_int_equal(text_kv_parse(&back, out, len), 0);
	assert_int_equal(back.count, 3);
	assert_string_equal(text_kv_get(&back, "MaxRecvDataSegmentLength"), "262144");
	free(out);
	text_kv_free(&back);
	text_kv_free(&l);

	/* an empty list formats to an empty (but valid) buffer */
	text_kv_init(&l);
	out = text_kv_format(&l, &len);
	assert_non_null(out);
	assert_int_equal(len, 0);
	free(out);
	text_kv_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_appends_and_counts),
		cmocka_unit_test(test_parse_garbage),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_add_format_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
