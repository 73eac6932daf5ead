#include "fuzz_gateway.h"

#include <ftw.h>
#include <qb/qblog.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../cluster/cluster.h"
#include "../../fabric/iscsi/iscsi.h"
#include "../../gateway/buffer_pool.h"
#include "../../gateway/config.h"
#include "../../gateway/event_loop.h"
#include "../../gateway/log.h"
#include "../../gateway/shared_state.h"
#include "../../gateway/state_snapshot.h"
#include "../../gateway/util.h"
#include "../../gateway/workers.h"

static struct fuzz_gw *singleton;

/* SANGW_FUZZ_CAPTURE=DIR: every operation an input applies is kept, and
 * at the end of the input written to DIR with the state snapshot, in
 * fuzz_state's formats: the seeds of corpus-state come from the other
 * targets' corpora this way (tools/fuzz-long --capture-state). */
static int capture_apply(void *owner, uint32_t origin, uint16_t type, const void *payload,
			 uint32_t len)
{
	struct fuzz_gw *g = singleton;
	uint8_t *ops;

	if (g->capture_dir && type <= 0xff && len <= 0xffff &&
	    (ops = realloc(g->capture_ops, g->capture_len + 4 + len))) {
		g->capture_ops = ops;
		ops += g->capture_len;
		ops[0] = (uint8_t)type;
		ops[1] = (uint8_t)origin;
		put_be16(ops + 2, (uint16_t)len);
		memcpy(ops + 4, payload, len);
		g->capture_len += 4 + len;
	}
	return shared_state_apply(owner, origin, type, payload, len);
}

static void capture_write(struct fuzz_gw *g)
{
	char path[512];
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	g->capture_seq++;
	if (g->capture_len) {
		snprintf(path, sizeof(path), "%s/ops-%d-%u", g->capture_dir, (int)getpid(),
			 g->capture_seq);
		if ((f = fopen(path, "wb"))) {
			fputc(0, f);   /* fuzz_state: operations */
			fwrite(g->capture_ops, 1, g->capture_len, f);
			fclose(f);
		}
	}
	free(g->capture_ops);
	g->capture_ops = NULL;
	g->capture_len = 0;
	if (g->gw.cluster && state_snapshot_take(&g->gw, &text, &len) == 0) {
		snprintf(path, sizeof(path), "%s/snapshot-%d-%u", g->capture_dir, (int)getpid(),
			 g->capture_seq);
		if ((f = fopen(path, "wb"))) {
			fputc(1, f);   /* fuzz_state: a snapshot */
			fwrite(text, 1, len, f);
			fclose(f);
		}
	}
	free(text);
}

/* No membership callback: a group of one that never changes (fencing and
 * the range locks then have nothing to do), as in tests/unit. */
static const struct cluster_callbacks fuzz_cluster_cb = {
	.apply = capture_apply,
	.snapshot = state_snapshot_cluster_take,
	.restore = state_snapshot_cluster_restore,
	.quorum = shared_state_ready_changed,
	.saved_state = state_snapshot_saved_state,
};

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	if (ftw->level > 0)
		remove(path);
	return 0;
}

static void empty_dir(const char *dir)
{
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void fuzz_gw_exit(void)
{
	iscsi_thread_trim();
	iobuf_trim();
	if (singleton && singleton->dir[0]) {
		empty_dir(singleton->dir);
		rmdir(singleton->dir);
	}
}

struct fuzz_gw *fuzz_gw_get(void)
{
	if (singleton)
		return singleton;
	singleton = calloc(1, sizeof(*singleton));
	if (!singleton)
		abort();
	/* Nothing per input on stderr: libFuzzer's output stays readable
	 * and fast. */
	singleton->verbose = getenv("SANGW_FUZZ_LOG") != NULL;
	if (singleton->verbose) {
		/* Reproducing one input: the daemon's log at debug level. */
		log_setup("sangw-fuzz", LOG_DEBUG, true, false);
	} else {
		qb_log_init("sangw-fuzz", LOG_DAEMON, LOG_EMERG);
		qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, QB_FALSE);
		qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ENABLED, QB_FALSE);
	}
	/* In memory when possible: APTPL files and the state version are
	 * written with fsync, which on a disk costs more than the input. */
	snprintf(singleton->dir, sizeof(singleton->dir), "/dev/shm/sangw-fuzz-XXXXXX");
	if (!mkdtemp(singleton->dir)) {
		snprintf(singleton->dir, sizeof(singleton->dir), "/tmp/sangw-fuzz-XXXXXX");
		if (!mkdtemp(singleton->dir))
			abort();
	}
	/* One loop for the process; each gateway leaves it empty. */
	singleton->loop = event_loop_create();
	if (!singleton->loop || workers_init(singleton->loop, 0) < 0)
		abort();
	singleton->capture_dir = getenv("SANGW_FUZZ_CAPTURE");
	atexit(fuzz_gw_exit);
	return singleton;
}

void fuzz_gw_start(struct fuzz_gw *g, int n_lus)
{
	struct gateway *gw = &g->gw;

	memset(gw, 0, sizeof(*gw));
	TAILQ_INIT(&gw->targets);
	TAILQ_INIT(&gw->portals);
	TAILQ_INIT(&gw->nexuses);
	gw->node_id = 1;
	gw->loop = g->loop;
	str_copy(gw->state_dir, g->dir, sizeof(gw->state_dir));
	gw->cluster = cluster_create("none", gw->loop, &fuzz_cluster_cb, gw);
	if (!gw->cluster || gw->cluster->ops->start(gw->cluster) < 0)
		abort();
	the_gateway = gw;
	g->target = NULL;
	g->started = true;
	if (n_lus >= 0) {
		g->target = target_create(gw, FUZZ_TARGET_IQN);
		if (!g->target)
			abort();
		g->target->demo_mode = true;
	}
	for (int i = 0; i < n_lus; i++) {
		/* Thin (UNMAP, WRITE SAME with UNMAP, GET LBA STATUS) and thick
		 * with 4096-byte blocks, removable (PREVENT ALLOW MEDIUM REMOVAL);
		 * fixed NAA designators, which XCOPY seeds name. */
		static const char *const specs[] = {
			"null,size=1M,thin=1,wwn=60014050000000000000000000f00000",
			"null,size=1M,blocksize=4096,removable=1,wwn=60014050000000000000000000f00001",
		};
		char err[256];
		struct lu_spec spec;

		if (lu_spec_parse(specs[i % 2], &spec, err, sizeof(err)) < 0 ||
		    !lu_create(g->target, (uint64_t)i, &spec, err, sizeof(err))) {
			fprintf(stderr, "fuzz: %s\n", err);
			abort();
		}
	}
	fuzz_gw_drain(g);
}

void fuzz_gw_poll(struct fuzz_gw *g)
{
	if (g->no_fds)
		event_loop_run_ready(g->gw.loop);
	else
		event_loop_run_once(g->gw.loop, 0);
}

void fuzz_gw_drain(struct fuzz_gw *g)
{
	/* The single-node service applies from deferred calls, which may
	 * queue more; without fds, quiet is when none is left. */
	if (g->no_fds) {
		for (int i = 0; i < 256; i++) {
			event_loop_run_ready(g->gw.loop);
			if (!event_loop_has_deferred(g->gw.loop))
				break;
		}
		return;
	}
	/* Completions may come through eventfds: quiet means two rounds in
	 * a row that left nothing deferred. */
	for (int i = 0, quiet = 0; i < 256 && quiet < 2; i++) {
		event_loop_run_once(g->gw.loop, 0);
		quiet = event_loop_has_deferred(g->gw.loop) ? 0 : quiet + 1;
	}
}

void fuzz_gw_stop(struct fuzz_gw *g)
{
	struct gateway *gw = &g->gw;

	if (!g->started)
		return;
	fuzz_gw_drain(g);
	if (g->capture_dir)
		capture_write(g);
	config_model_clear(gw);
	fuzz_gw_drain(g);
	cluster_destroy(gw->cluster);
	/* The loop outlives the gateway: a timer still armed now would run
	 * in a later input, against that input's gateway, and free this
	 * one's objects there (a TMF's poll did, in fuzz_session): inputs
	 * would depend on each other and end with more mallocs than frees,
	 * which makes libFuzzer give up its leak check. */
	if (event_loop_has_timers(g->loop)) {
		fprintf(stderr, "fuzz: a timer is still armed after the gateway was torn down\n");
		abort();
	}
	/* The per-thread caches (data buffers, PDUs) stay warm for the next
	 * input, as they do from one command to the next in sangwd: freeing
	 * them here made every input map, fault in and unmap its large data
	 * buffers again under ASan (a quarter of fuzz_session's time). An
	 * input that grows a cache allocates more than it frees, and
	 * libFuzzer runs it once more to look for a leak (it stops looking
	 * after 1000 inputs that still do on the second run: the rerun
	 * finds the cache warm, so they do not); the caches are bounded
	 * (buffer_pool.c), so that happens a few times per process. Their
	 * buffers are not zeroed, in sangwd neither. fuzz_gw_exit frees them. */
	the_gateway = NULL;
	g->started = false;
	empty_dir(g->dir);
}

bool fuzz_input_unsafe(const uint8_t *data, size_t size)
{
	for (size_t i = 0; i < size; i++) {
		if (data[i] == '/')
			return true;
		if (data[i] == '\\' && i + 1 < size && data[i + 1] == 'u')
			return true;
		if (i + 4 <= size && strncasecmp((const char *)data + i, "file", 4) == 0)
			return true;
	}
	return false;
}
