/* CRC32C: the RFC 3720 Appendix B.4 / RFC 7143 test vectors, on both the
 * SSE4.2 path and the table fallback, plus chaining and agreement of the
 * two paths on odd lengths and alignments. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

/* The implementations are file-local; include the source to test each one
 * (the archive's crc32c.o is then not pulled in). */
#include "../../fabric/iscsi/crc32c.c"

typedef uint32_t (*crc_impl)(uint32_t reg, const uint8_t *p, size_t len);

static uint32_t run(crc_impl impl, const uint8_t *p, size_t len)
{
	return ~impl(~0u, p, len);
}

struct vector {
	const char *name;
	uint8_t data[48];
	size_t len;
	uint32_t crc;
};

static void fill_vectors(struct vector *v)
{
	/* RFC 3720 B.4: 32 bytes of zeros, of ones, incrementing, decrementing */
	v[0] = (struct vector){ .name = "zeros", .len = 32, .crc = 0x8a9136aa };
	v[1] = (struct vector){ .name = "ones", .len = 32, .crc = 0x62a8ab43 };
	memset(v[1].data, 0xff, 32);
	v[2] = (struct vector){ .name = "incrementing", .len = 32, .crc = 0x46dd794e };
	v[3] = (struct vector){ .name = "decrementing", .len = 32, .crc = 0x113fdb5c };
	for (int i = 0; i < 32; i++) {
		v[2].data[i] = (uint8_t)i;
		v[3].data[i] = (uint8_t)(31 - i);
	}
	/* RFC 3720 B.4: an iSCSI SCSI Read (10) command PDU */
	static const uint8_t read_pdu[48] = {
		0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
		0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18,
		0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	v[4] = (struct vector){ .name = "read pdu", .len = 48, .crc = 0xd9963a56 };
	memcpy(v[4].data, read_pdu, 48);
	/* the customary check value */
	v[5] = (struct vector){ .name = "123456789", .len = 9, .crc = 0xe3069283 };
	memcpy(v[5].data, "123456789", 9);
}

#define NVECTORS 6

static void check_vectors(crc_impl impl)
{
	struct vector v[NVECTORS];

	fill_vectors(v);
	for (int i = 0; i < NVECTORS; i++) {
		uint32_t got = run(impl, v[i].data, v[i].len);
		if (got != v[i].crc)
			print_error("%s: got 0x%08x want 0x%08x\n", v[i].name, got, v[i].crc);
		assert_int_equal(got, v[i].crc);
	}
}

static void test_vectors_software(void **state)
{
	(void)state;
	check_vectors(crc32c_sw);
}

static void test_vectors_sse42(void **state)
{
	(void)state;
	if (!cpu_has_sse42())
		skip();
	check_vectors(crc32c_sse42);
}

static void test_public_function(void **state)
{
	struct vector v[NVECTORS];

	(void)state;
	fill_vectors(v);
	for (int i = 0; i < NVECTORS; i++)
		assert_int_equal(crc32c(0, v[i].data, v[i].len), v[i].crc);
	assert_int_equal(crc32c(0, "", 0), 0);
	assert_int_equal(crc32c(0x12345678, "", 0), 0x12345678);
}

/* The wire order is little-endian: the zeros vector goes out aa 36 91 8a. */
static void test_wire_order(void **state)
{
	uint8_t zeros[32] = { 0 }, wire[4];

	(void)state;
	crc32c_put(wire, crc32c(0, zeros, sizeof(zeros)));
	assert_int_equal(wire[0], 0xaa);
	assert_int_equal(wire[1], 0x36);
	assert_int_equal(wire[2], 0x91);
	assert_int_equal(wire[3], 0x8a);
	assert_int_equal(crc32c_get(wire), 0x8a9136aa);
}

/* crc32c(crc32c(0, a), b) == crc32c(0, a || b) for every split point. */
static void test_chaining(void **state)
{
	uint8_t buf[300];

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	uint32_t whole = crc32c(0, buf, sizeof(buf));
	for (size_t split = 0; split <= sizeof(buf); split++)
		assert_int_equal(crc32c(crc32c(0, buf, split), buf + split, sizeof(buf) - split), whole);
}

/* Both paths agree for every length 0..600 at every alignment 0..7. */
static void test_paths_agree(void **state)
{
	uint8_t *buf = malloc(700);

	(void)state;
	assert_non_null(buf);
	srand(42);
	for (int i = 0; i < 700; i++)
		buf[i] = (uint8_t)rand();
	if (!cpu_has_sse42()) {
		free(buf);
		skip();
	}
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len <= 600; len++)
			assert_int_equal(run(crc32c_sw, buf + off, len), run(crc32c_sse42, buf + off, len));
	free(buf);
}

/* ISA-L (when built with it) agrees with our loop for every length up to
 * 5000 at every alignment, and with the standard vectors; crc32c() picks
 * it from CRC32C_ISAL_MIN_LEN on, so chaining across the switch-over
 * length must also hold. */
static void test_isal_agrees(void **state)
{
#ifdef HAVE_ISAL
	uint8_t *buf = malloc(5100);

	(void)state;
	assert_non_null(buf);
	check_vectors(crc32c_isal);
	srand(7);
	for (int i = 0; i < 5100; i++)
		buf[i] = (uint8_t)rand();
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len <= 5000; len += (len < 700 ? 1 : 61))
			assert_int_equal(run(crc32c_sw, buf + off, len), run(crc32c_isal, buf + off, len));
	for (size_t split = CRC32C_ISAL_MIN_LEN - 3; split <= CRC32C_ISAL_MIN_LEN + 3; split++)
		assert_int_equal(crc32c(crc32c(0, buf, split), buf + split, 4000 - split), crc32c(0, buf, 4000));
	free(buf);
#else
	(void)state;
	skip();
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors_software),
		cmocka_unit_test(test_vectors_sse42),
		cmocka_unit_test(test_public_function),
		cmocka_unit_test(test_wire_order),
		cmocka_unit_test(test_chaining),
		cmocka_unit_test(test_paths_agree),
		cmocka_unit_test(test_isal_agrees),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
