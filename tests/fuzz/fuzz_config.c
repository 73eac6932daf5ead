/* libFuzzer target: the configuration file (gateway/config_json.c,
 * config_parse.c, config_validate.c, config_params.c, then config_apply.c
 * building the model and config_dump.c writing it back). The input is a
 * configuration file's text. When it loads, the file sangwd would write
 * back (config_serialize) must load again into a fresh gateway and
 * serialize to the same text: what sangwd saves after a change is what it
 * reads at the next start. Nothing may crash, leak or trip ASan/UBSan.
 *
 * Inputs that could touch the file system (file backstores and paths,
 * see fuzz_input_unsafe) are skipped: the fuzzer must not write the disk.
 *
 *   make -C BUILD fuzz-config
 *   BUILD/tests/fuzz/fuzz_config -max_total_time=60 tests/fuzz/corpus-config */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "../../gateway/config.h"
#include "fuzz_gateway.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_gw *g = fuzz_gw_get();
	char err[1024], *first, *second;
	json_object *dump;
	int r;

	if (size > (1u << 20) || fuzz_input_unsafe(data, size))
		return -1;   /* not added to the corpus */
	fuzz_gw_start(g, -1);
	r = config_load_text(&g->gw, (const char *)data, size, err, sizeof(err));
	fuzz_gw_drain(g);
	if (r < 0) {
		fuzz_gw_stop(g);
		return 0;
	}
	/* What list and the metrics read. */
	dump = config_dump(&g->gw, CONFIG_DUMP_RUNTIME);
	json_object_put(dump);
	dump = config_export(&g->gw);
	json_object_put(dump);
	first = config_serialize(&g->gw);
	fuzz_gw_stop(g);
	if (!first)
		return 0;

	fuzz_gw_start(g, -1);
	r = config_load_text(&g->gw, first, strlen(first), err, sizeof(err));
	fuzz_gw_drain(g);
	if (r < 0) {
		fprintf(stderr, "fuzz_config: the written-back file does not load: %s\n%s\n", err, first);
		abort();
	}
	second = config_serialize(&g->gw);
	fuzz_gw_stop(g);
	if (!second || strcmp(first, second) != 0) {
		fprintf(stderr, "fuzz_config: written back twice, the file differs:\n%s\n---\n%s\n", first,
			second ? second : "(none)");
		abort();
	}
	free(first);
	free(second);
	return 0;
}
