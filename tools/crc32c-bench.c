/* crc32c-bench: throughput of the CRC32C implementations sangwd can use
 * for iSCSI digests (RFC 7143 11.1.4), side by side: our SSE4.2 loop, our
 * byte-wise table, ISA-L's crc32_iscsi (when built with libisal) and
 * crc32c() itself (what sangwd calls: it switches to ISA-L from
 * CRC32C_ISAL_MIN_LEN on). Prints a table of GB/s per buffer size, the
 * median of --reps timed rounds.
 *
 *   tools/crc32c-bench [--reps N] [--bytes TOTAL]
 */
#include "../fabric/iscsi/crc32c.c"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef uint32_t (*crc_fn)(uint32_t reg, const uint8_t *p, size_t len);

static uint32_t run_dispatch(uint32_t reg, const uint8_t *p, size_t len)
{
	return ~crc32c(~reg, p, len);
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* GB/s of fn over buffers of size len, TOTAL bytes per round; the median
 * round. The result goes to a volatile sink so the calls cannot be
 * optimised away. */
static double measure(crc_fn fn, const uint8_t *buf, size_t len, size_t total, int reps, volatile uint32_t *sink)
{
	double rates[64];
	size_t calls = total / len ? total / len : 1;

	if (reps > 64)
		reps = 64;
	for (int r = 0; r < reps; r++) {
		double start = now_seconds();
		uint32_t reg = 0xffffffffu;

		for (size_t i = 0; i < calls; i++)
			reg = fn(reg, buf, len);
		*sink ^= reg;
		rates[r] = (double)(calls * len) / (now_seconds() - start) / 1e9;
	}
	qsort(rates, (size_t)reps, sizeof(rates[0]), compare_doubles);
	return rates[reps / 2];
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 48, 128, 256, 512, 1024, 4096, 8192, 65536, 262144, 1048576 };
	int reps = 7;
	size_t total = 64u << 20;
	volatile uint32_t sink = 0;
	uint8_t *buf;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--bytes") && i + 1 < argc)
			total = strtoull(argv[++i], NULL, 0);
		else {
			fprintf(stderr, "usage: %s [--reps N] [--bytes TOTAL]\n"
				"  GB/s per buffer size of each CRC32C implementation (median of N rounds of TOTAL bytes)\n",
				argv[0]);
			return strcmp(argv[i], "--help") ? 2 : 0;
		}
	}
	if (reps < 1)
		reps = 1;
	buf = malloc(sizes[sizeof(sizes) / sizeof(sizes[0]) - 1]);
	if (!buf)
		return 1;
	for (size_t i = 0; i < sizes[sizeof(sizes) / sizeof(sizes[0]) - 1]; i++)
		buf[i] = (uint8_t)(i * 131 + 7);

	printf("crc32c-bench: median of %d rounds of %zu MiB, GB/s (sse4.2: %s, isa-l: %s, crc32c() uses isa-l from %d B)\n",
	       reps, total >> 20, cpu_has_sse42() ? "yes" : "no",
#ifdef HAVE_ISAL
	       "yes",
#else
	       "no",
#endif
	       CRC32C_ISAL_MIN_LEN);
	printf("| %8s | %8s | %8s | %8s | %8s | %10s |\n", "bytes", "table", "sse4.2", "isa-l", "crc32c()", "isa-l/sse");
	printf("|----------|----------|----------|----------|----------|------------|\n");
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t len = sizes[s];
		double table = measure(crc32c_sw, buf, len, total / 16, reps, &sink);
		double sse = cpu_has_sse42() ? measure(crc32c_sse42, buf, len, total, reps, &sink) : 0;
		double isal = 0;
		double dispatch = measure(run_dispatch, buf, len, total, reps, &sink);

#ifdef HAVE_ISAL
		isal = measure(crc32c_isal, buf, len, total, reps, &sink);
#endif
		printf("| %8zu | %8.2f | %8.2f | %8.2f | %8.2f | %10.2f |\n", len, table, sse, isal, dispatch,
		       sse > 0 && isal > 0 ? isal / sse : 0.0);
	}
	free(buf);
	return 0;
}
