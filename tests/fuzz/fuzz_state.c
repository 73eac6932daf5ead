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

static void gateway_up(struct fuzz_gw *g)
{
	fuzz_gw_start(g, 2);
	/* The fencing table (shared state) exists, blocklisting off: a
	 * fuzzer must not ask a store to fence anything. */
	if (fencing_init(&g->gw, false) < 0)
		abort();
}

static void gateway_down(struct fuzz_gw *g)
{
	fuzz_gw_drain(g);
	fencing_free(&g->gw);
	fuzz_gw_stop(g);
}

/* The next record: false at the end of the input. */
static bool next_op(const uint8_t **data, size_t *size, uint16_t *type, uint32_t *origin,
		    const uint8_t **payload, size_t *len)
{
	while (*size >= 4) {
		const uint8_t *d = *data;

		*type = d[0];
		*origin = d[1] % 4;   /* this node is 1; 0 is no node */
		*len = MIN((size_t)get_be16(d + 2), *size - 4);
		*payload = d + 4;
		*data += 4 + *len;
		*size -= 4 + *len;
		if (!(*type == SOP_CONFIG && fuzz_input_unsafe(*payload, *len)))
			return true;
	}
	return false;
}

static int apply_one(struct fuzz_gw *g, uint16_t type, uint32_t origin, const uint8_t *payload,
		     size_t len)
{
	int r = shared_state_apply(&g->gw, origin, type, payload, (uint32_t)len);

	fuzz_gw_drain(g);
	return r;
}

/* The first operation that pass 1 saw refused and that, refused again,
 * changed the state: a snapshot before and after each refused operation
 * of a fresh gateway (one per refused operation plus one after each run
 * of accepted ones). Aborts when it finds one. */
static void name_the_op(struct fuzz_gw *g, const uint8_t *data, size_t size,
			const bool *was_refused)
{
	const uint8_t *payload;
	size_t len, snap_len = 0;
	uint16_t type;
	uint32_t origin;
	const char *snap = fresh_state(g, &snap_len);
	char *own = NULL;
	bool clean = true;   /* snap is the state now */

	for (size_t i = 0; next_op(&data, &size, &type, &origin, &payload, &len); i++) {
		size_t after_len;
		char *after;
		int r;

		if (was_refused[i] && !clean) {
			free(own);
			snap = own = take(g, &snap_len);
			clean = true;
		}
		r = apply_one(g, type, origin, payload, len);
		if (!was_refused[i] || r >= 0) {
			clean = false;
			continue;
		}
		after = take(g, &after_len);
		expect_unchanged(snap, snap_len, after, after_len, "operation", r);
		free(after);   /* equal to snap: the state is still snap */
	}
	free(own);
}

/* Operations. Pass 1 applies them all and notes which were refused; when
 * none was, that is all. Else pass 2 applies only the accepted ones to a
 * fresh gateway (the same state: fuzz_gw_start builds the same one, see
 * fresh_state): each must be accepted again and the end state must be
 * pass 1's, which it is when the refused ones changed nothing. That is
 * two snapshots per input, where one before and after every refused
 * operation cost several (a snapshot costs more than everything else
 * here). Only when the end states differ does name_the_op look for the
 * operation. The one thing this misses that a snapshot around every
 * refused operation saw: a change that a later accepted operation
 * undoes or overwrites in both passes alike (docs/reliability.md). */
static void apply_ops(struct fuzz_gw *g, const uint8_t *data, size_t size)
{
	const uint8_t *d = data, *payload;
	size_t n = 0, refused = 0, z = size, len, end1_len, end2_len;
	uint16_t type;
	uint32_t origin;
	bool *was_refused, again = true;
	char *end1, *end2;

	while (next_op(&d, &z, &type, &origin, &payload, &len))
		n++;
	was_refused = calloc(n ? n : 1, sizeof(*was_refused));
	if (!was_refused)
		return;
	d = data;
	z = size;
	for (size_t i = 0; next_op(&d, &z, &type, &origin, &payload, &len); i++) {
		was_refused[i] = apply_one(g, type, origin, payload, len) < 0;
		refused += was_refused[i];
	}
	if (!refused) {
		free(was_refused);
		return;
	}
	end1 = take(g, &end1_len);
	gateway_down(g);
	gateway_up(g);
	d = data;
	z = size;
	for (size_t i = 0; next_op(&d, &z, &type, &origin, &payload, &len); i++) {
		if (!was_refused[i] && apply_one(g, type, origin, payload, len) < 0)
			again = false;
	}
	end2 = take(g, &end2_len);
	if (!again || end1_len != end2_len || memcmp(end1, end2, end1_len) != 0) {
		gateway_down(g);
		gateway_up(g);
		name_the_op(g, data, size, was_refused);
		/* No refused operation changed the state around it, yet the
		 * ones accepted after them saw a different one. */
		fprintf(stderr, "fuzz_state: refused operations changed what the accepted ones did%s:\n"
			"%.*s\n--- without the refused ones:\n%.*s\n",
			again ? "" : " (one of them was refused without them)", (int)end1_len, end1,
			(int)end2_len, end2);
		abort();
	}
	free(end1);
	free(end2);
	free(was_refused);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_gw *g = fuzz_gw_get();

	g->no_fds = true;   /* no fabric, null LUs, no file backstore (fuzz_input_unsafe) */
	if (size < 1 || size > (1u << 20))
		return 0;
	gateway_up(g);
	if (data[0] & 1)
		restore(g, data + 1, size - 1);
	else
		apply_ops(g, data + 1, size - 1);
	gateway_down(g);
	return 0;
}
