/* libFuzzer target: the shared state a peer node sends. Either a state
 * snapshot (state_snapshot.c: what a synchronised member hands a joining
 * node) or a sequence of operations as the cluster service delivers them
 * (shared_state.c routing to ua.c, pr.c, config_requests.c, spc.c MODE
 * SELECT, alua.c, cluster_range_lock.c, fencing.c with blocklisting off,
 * node_role.c), against a gateway with two null LUs. A snapshot that is refused, or an
 * operation refused with -errno, must leave the shared state exactly as
 * it was (compared through state_snapshot_take). Nothing may crash, leak
 * or trip ASan/UBSan.
 *
 * Byte 0: bit 0 set, the rest is a snapshot; else records
 *   byte 0 type, byte 1 origin node, bytes 2-3 payload length, payload.
 * Snapshots and SOP_CONFIG payloads that could touch the file system
 * (fuzz_input_unsafe) are skipped: the fuzzer must not write the disk.
 *
 * Seeds: SANGW_FUZZ_CAPTURE=DIR while the other targets run their
 * corpora writes both kinds (fuzz_gateway.c); seeds-state.py writes the
 * operations no single-node run submits (range locks, fencing).
 *
 *   make -C BUILD fuzz-state
 *   BUILD/tests/fuzz/fuzz_state -max_total_time=60 tests/fuzz/corpus-state */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/fencing.h"
#include "../../gateway/shared_state.h"
#include "../../gateway/state_snapshot.h"
#include "../../gateway/util.h"
#include "fuzz_gateway.h"

static char *take(struct fuzz_gw *g, size_t *len)
{
	char *text = NULL;

	if (state_snapshot_take(&g->gw, &text, len) < 0) {
		fprintf(stderr, "fuzz_state: cannot take a snapshot\n");
		abort();
	}
	return text;
}

/* A refused snapshot or operation left the state as it was. */
static void expect_unchanged(const char *before, size_t before_len, const char *after,
			     size_t len, const char *what, int r)
{
	if (len != before_len || memcmp(before, after, len) != 0) {
		fprintf(stderr, "fuzz_state: %s refused (%d) but the state changed:\n%.*s\n---\n%.*s\n",
			what, r, (int)before_len, before, (int)len, after);
		abort();
	}
}

/* The state of a fresh gateway: the same for every input of the
 * process (fuzz_gw_start builds the same one), so it is taken once and,
 * to be sure of that, compared with a fresh one on the first inputs. */
static const char *fresh_state(struct fuzz_gw *g, size_t *len)
{
	static char *text;
	static size_t text_len;
	static unsigned checked;

	if (!text) {
		text = take(g, &text_len);
	} else if (checked < 8) {
		size_t now_len;
		char *now = take(g, &now_len);

		checked++;
		expect_unchanged(text, text_len, now, now_len, "nothing (a fresh gateway)", 0);
		free(now);
	}
	*len = text_len;
	return text;
}

static void restore(struct fuzz_gw *g, const uint8_t *data, size_t size)
{
	size_t before_len, len;
	const char *before;
	char *after;
	int r;

	if (fuzz_input_unsafe(data, size))
		return;
	before = fresh_state(g, &before_len);
	r = state_snapshot_cluster_restore(&g->gw, data, size);
	fuzz_gw_drain(g);
	if (r < 0) {
		after = take(g, &len);
		expect_unchanged(before, before_len, after, len, "snapshot", r);
		free(after);
	}
}

/* One snapshot per operation, not two: the state after an operation is
 * the state before the next, so a refused operation is compared with
 * the snapshot its predecessor left (the same check). The last
 * operation's snapshot is needed only when it was refused. */
static void apply_ops(struct fuzz_gw *g, const uint8_t *data, size_t size)
{
	size_t before_len;
	char *before = NULL;   /* NULL: the fresh gateway's (fresh_state) */

	while (size >= 4) {
		uint16_t type = data[0];
		uint32_t origin = data[1] % 4;   /* this node is 1; 0 is no node */
		size_t len = MIN((size_t)get_be16(data + 2), size - 4);
		const uint8_t *payload = data + 4;
		const char *prev;
		size_t prev_len, after_len;
		char *after;
		int r;

		data += 4 + len;
		size -= 4 + len;
		if (type == SOP_CONFIG && fuzz_input_unsafe(payload, len))
			continue;
		prev = before ? before : fresh_state(g, &prev_len);
		if (before)
			prev_len = before_len;
		r = shared_state_apply(&g->gw, origin, type, payload, (uint32_t)len);
		fuzz_gw_drain(g);
		if (r >= 0 && size < 4)
			break;   /* the last one, accepted: nothing to compare */
		after = take(g, &after_len);
		if (r < 0)
			expect_unchanged(prev, prev_len, after, after_len, "operation", r);
		free(before);
		before = after;
		before_len = after_len;
	}
	free(before);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_gw *g = fuzz_gw_get();

	if (size < 1 || size > (1u << 20))
		return 0;
	fuzz_gw_start(g, 2);
	/* The fencing table (shared state) exists, blocklisting off: a
	 * fuzzer must not ask a store to fence anything. */
	if (fencing_init(&g->gw, false) < 0)
		abort();
	if (data[0] & 1)
		restore(g, data + 1, size - 1);
	else
		apply_ops(g, data + 1, size - 1);
	fuzz_gw_drain(g);
	fencing_free(&g->gw);
	fuzz_gw_stop(g);
	return 0;
}
