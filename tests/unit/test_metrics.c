/* Unit tests of the metrics page (gateway/metrics_text.c): commands run
 * through the SCSI core show up as counters, bytes and histogram samples;
 * counters of several thread slots are summed; histogram buckets are
 * cumulative with _count equal to the +Inf bucket and _sum in exact
 * decimal seconds; every sample follows its family's # TYPE line, each
 * family in one group; label values are escaped. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/metrics.h"
#include "../../gateway/model.h"
#include "../../gateway/util.h"
#include "../../gateway/workers.h"
#include "core_harness.h"

#define HL "target=\"iqn.2026-11.org.sangw:harness\",lun=\"0\""

static char *render(struct harness *h)
{
	struct metrics_buf b = { 0 };

	assert_int_equal(metrics_render(&h->gw, &b), 0);
	assert_non_null(b.data);
	assert_int_equal(strlen(b.data), b.len);
	return b.data;
}

/* The value of the sample whose name{labels} is series; fails if absent. */
static const char *sample(const char *page, const char *series)
{
	static char value[64];
	size_t len = strlen(series);

	for (const char *p = page; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, series, len) == 0 && p[len] == ' ') {
			size_t n = strcspn(p + len + 1, "\n");

			assert_true(n < sizeof(value));
			memcpy(value, p + len + 1, n);
			value[n] = '\0';
			return value;
		}
	}
	fail_msg("no sample %s", series);
	return NULL;
}

static void expect(const char *page, const char *series, const char *value)
{
	const char *v = sample(page, series);

	if (strcmp(v, value) != 0)
		fail_msg("%s is %s, expected %s", series, v, value);
}

static void run(struct harness *h, struct it_nexus *nx, uint8_t opcode, uint32_t lba, uint16_t blocks)
{
	uint8_t cdb[10] = { opcode };
	uint8_t data[4096] = { 0 };
	struct harness_result res;
	bool write = opcode == 0x2a;

	put_be32(cdb + 2, lba);
	put_be16(cdb + 7, blocks);
	harness_run(h, nx, 0, cdb, opcode == 0x00 ? 6 : 10, opcode == 0x00 ? SCSI_DIR_NONE :
		    write ? SCSI_DIR_OUT : SCSI_DIR_IN, write ? data : NULL, write ? blocks * 512u : 0,
		    0, &res);
	harness_result_free(&res);
}

static void test_commands_counted(void **state)
{
	struct harness h;
	struct it_nexus *nx;
	char *page;

	(void)state;
	harness_init(&h);
	assert_non_null(harness_add_lu(&h, 0, "null,size=1M"));
	nx = harness_nexus(&h, "iqn.2026-11.org.sangw:init1", 1);
	run(&h, nx, 0x00, 0, 0);        /* TEST UNIT READY: the power-on UA */
	run(&h, nx, 0x28, 0, 8);        /* READ(10), 4 KiB */
	run(&h, nx, 0x28, 8, 8);
	run(&h, nx, 0x2a, 16, 8);       /* WRITE(10), 4 KiB */
	harness_drain(&h);

	page = render(&h);
	expect(page, "sangw_lu_commands_total{" HL ",op=\"read\"}", "2");
	expect(page, "sangw_lu_commands_total{" HL ",op=\"write\"}", "1");
	expect(page, "sangw_lu_commands_total{" HL ",op=\"other\"}", "1");
	expect(page, "sangw_lu_bytes_total{" HL ",op=\"read\"}", "8192");
	expect(page, "sangw_lu_bytes_total{" HL ",op=\"write\"}", "4096");
	expect(page, "sangw_lu_errors_total{" HL "}", "1");
	expect(page, "sangw_lu_commands_in_flight{" HL "}", "0");
	expect(page, "sangw_lu_command_duration_seconds_count{" HL ",op=\"read\"}", "2");
	expect(page, "sangw_lu_command_duration_seconds_bucket{" HL ",op=\"read\",le=\"+Inf\"}", "2");
	expect(page, "sangw_lu_command_duration_seconds_count{" HL ",op=\"write\"}", "1");
	expect(page, "sangw_lu_size_bytes{" HL "}", "1048576");
	expect(page, "sangw_alua_port_group_state{" HL ",tpg=\"1\",state=\"active-optimized\"}", "1");
	expect(page, "sangw_alua_port_group_state{" HL ",tpg=\"1\",state=\"standby\"}", "0");
	expect(page, "sangw_target_sessions{target=\"iqn.2026-11.org.sangw:harness\"}", "1");
	expect(page, "sangw_cluster_node_id", "1");
	expect(page, "sangw_cluster_node_up{node=\"1\"}", "1");
	/* The harness nexus has no portal: no sample with an empty label. */
	assert_null(strstr(page, "sangw_portal_sessions{"));
	free(page);
	harness_nexus_free(&h, nx);
	harness_fini(&h);
}

static void test_slots_summed_and_histogram_shape(void **state)
{
	struct harness h;
	struct lu *lu;
	char *page;
	const char *p;
	uint64_t last = 0;
	unsigned buckets = 0;

	(void)state;
	harness_init(&h);
	/* Three worker slots (loops only, no threads): slots 0-3 are read. */
	assert_int_equal(workers_init(h.gw.loop, 3), 0);
	lu = harness_add_lu(&h, 0, "null,size=1M");
	assert_non_null(lu);
	lu->stats[0].other_cmds = 1;
	lu->stats[0].other_ns = 500000000;                 /* 0.5 s */
	lu->stats[0].latency[LU_OP_OTHER][lu_latency_bucket(500000000)] = 1;
	lu->stats[2].other_cmds = 2;
	lu->stats[2].other_ns = 1000000000 + 25000;        /* 1.000025 s */
	lu->stats[2].latency[LU_OP_OTHER][lu_latency_bucket(20000)] = 1;
	lu->stats[2].latency[LU_OP_OTHER][lu_latency_bucket(20000000000)] = 1;   /* > 10 s */
	lu->stats[3].errors = 4;

	page = render(&h);
	expect(page, "sangw_lu_commands_total{" HL ",op=\"other\"}", "3");
	expect(page, "sangw_lu_errors_total{" HL "}", "4");
	expect(page, "sangw_lu_command_duration_seconds_sum{" HL ",op=\"other\"}", "1.500025");
	expect(page, "sangw_lu_command_duration_seconds_count{" HL ",op=\"other\"}", "3");
	expect(page, "sangw_lu_command_duration_seconds_bucket{" HL ",op=\"other\",le=\"0.000025\"}", "1");
	expect(page, "sangw_lu_command_duration_seconds_bucket{" HL ",op=\"other\",le=\"0.25\"}", "1");
	expect(page, "sangw_lu_command_duration_seconds_bucket{" HL ",op=\"other\",le=\"0.5\"}", "2");
	expect(page, "sangw_lu_command_duration_seconds_bucket{" HL ",op=\"other\",le=\"10\"}", "2");
	expect(page, "sangw_lu_command_duration_seconds_bucket{" HL ",op=\"other\",le=\"+Inf\"}", "3");
	expect(page, "sangw_lu_command_duration_seconds_sum{" HL ",op=\"read\"}", "0");
	/* Cumulative: never decreasing, 19 buckets. */
	for (p = strstr(page, "sangw_lu_command_duration_seconds_bucket{" HL ",op=\"other\""); p;
	     p = strstr(p + 1, "sangw_lu_command_duration_seconds_bucket{" HL ",op=\"other\"")) {
		uint64_t v = strtoull(strchr(p, ' ') + 1, NULL, 10);

		assert_true(v >= last);
		last = v;
		buckets++;
	}
	assert_int_equal(buckets, LU_LATENCY_BUCKETS);
	free(page);
	harness_fini(&h);       /* the LUs leave the worker loops first */
	workers_destroy();
}

/* Every sample belongs to the family of the last # TYPE line, and no
 * family is declared twice (the text format's grouping rule). */
static void test_families_grouped(void **state)
{
	struct harness h;
	char *page, *line, *save = NULL;
	char family[128] = "", type[16] = "";
	char seen[8192] = " ";

	(void)state;
	harness_init(&h);
	assert_non_null(harness_add_lu(&h, 0, "null,size=1M"));
	assert_non_null(harness_add_lu(&h, 3, "null,size=2M"));
	page = render(&h);
	for (line = strtok_r(page, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[128], key[132];
		size_t n;

		if (strncmp(line, "# HELP ", 7) == 0)
			continue;
		if (sscanf(line, "# TYPE %127s %15s", family, type) == 2) {
			snprintf(key, sizeof(key), " %s ", family);
			assert_null(strstr(seen, key));
			assert_true(strlen(seen) + strlen(key) < sizeof(seen));
			strcat(seen, key + 1);
			continue;
		}
		n = strcspn(line, "{ ");
		assert_true(n < sizeof(name));
		memcpy(name, line, n);
		name[n] = '\0';
		if (strcmp(type, "histogram") == 0) {
			size_t fl = strlen(family);

			assert_int_equal(strncmp(name, family, fl), 0);
			assert_true(strcmp(name + fl, "_bucket") == 0 || strcmp(name + fl, "_sum") == 0 ||
				    strcmp(name + fl, "_count") == 0);
		} else {
			assert_string_equal(name, family);
		}
	}
	free(page);
	harness_fini(&h);
}

static void test_label_values_escaped(void **state)
{
	struct harness h;
	struct target *t;
	char *page;

	(void)state;
	harness_init(&h);
	t = target_create(&h.gw, "iqn.2026-11.org.sangw:a\"b\\c");
	assert_non_null(t);
	page = render(&h);
	expect(page, "sangw_target_sessions{target=\"iqn.2026-11.org.sangw:a\\\"b\\\\c\"}", "0");
	free(page);
	harness_fini(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commands_counted),
		cmocka_unit_test(test_slots_summed_and_histogram_shape),
		cmocka_unit_test(test_families_grouped),
		cmocka_unit_test(test_label_values_escaped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
