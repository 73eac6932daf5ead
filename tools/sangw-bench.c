/* sangw-bench: an iSCSI load generator.
 *
 *   sangw-bench [options] iscsi://[user[%password]@]host[:port]/target-iqn/lun
 *
 * Two initiators carry its commands (bench_engine.h): --engine libiscsi
 * (the default: libiscsi's asynchronous API, CHAP, mutual CHAP and header
 * digests) and --engine raw (tools/bench_raw_iscsi.c: our own small
 * initiator that batches its system calls, so the client takes less CPU
 * from the target it measures; one-way CHAP, no digests).
 *
 * N sessions (each its own TCP connection) keep Q commands
 * outstanding each: READ(16)/WRITE(16), random or sequential, for a time or
 * an I/O count. All sessions run from one thread with poll(), or spread over
 * --threads M threads. It reports IOPS, MiB/s (2^20 bytes, as iscsi-perf
 * does) and latency percentiles from a log-linear histogram, as text or as
 * one JSON object (--json).
 *
 * --verify stamps every written logical block with a magic, its LBA, this
 * run's id, a generation number and a checksum, and checks what reads return
 * against the last write of that block seen by this run; blocks written by
 * the run are read back once more at the end. No two commands of a run ever
 * touch the same blocks at once, so the expected generation is always known:
 * each session owns a slice of the range and never picks a chunk (one I/O's
 * worth of blocks) that one of its own commands still has in flight.
 *
 * Exit status: 0 success; 1 an I/O error, a data mismatch, or a target that
 * cannot be reached or logged in to; 2 a usage error. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>  /* only the names of sense keys and ASC/ASCQ */

#include "bench_engine.h"

#define DEFAULT_INITIATOR "iqn.2026-11.org.sangw:bench"
#define DEFAULT_TIME_S 10
#define DEFAULT_IO_TIMEOUT_S 30
#define MAX_SESSIONS 256
#define MAX_QD 1024
#define MAX_BS (32u * 1024 * 1024)
#define MAX_VERIFY_CHUNKS (1u << 26)   /* 256 MiB of per-chunk state */
#define MAX_ERROR_MESSAGES 10
#define POLL_INTERVAL_MS 100

#define EXIT_FAILED 1
#define EXIT_USAGE 2

enum rw_mode { RW_READ, RW_WRITE, RW_MIX };
enum pattern { PATTERN_RANDOM, PATTERN_SEQ };

struct options {
	const struct bench_engine_ops *engine;
	const char *url;
	const char *initiator;
	unsigned sessions;
	unsigned threads;
	unsigned qd;
	enum rw_mode rw;
	unsigned mix_read_pct;
	enum pattern pattern;
	uint32_t bs;
	double time_s;          /* 0: no time limit */
	uint64_t ios;           /* 0: no I/O count limit */
	uint64_t size;          /* 0: the whole LU */
	uint64_t seed;
	unsigned io_timeout_s;
	bool verify;
	bool json;
	bool quiet;
	bool header_digest;
};

/* --- latency histogram ------------------------------------------------
 * Log-linear: values below 2^SUB_BITS ns have a bucket each; above, every
 * power of two is cut into 2^SUB_BITS equal buckets, so a bucket is at most
 * 1/64 (1.6 %) of its value wide. Fixed size, no allocation per I/O. */
#define SUB_BITS 6
#define SUB_COUNT (1u << SUB_BITS)
#define MAX_VALUE_BITS 40       /* 2^40 ns: 18 minutes */
#define HIST_BUCKETS ((MAX_VALUE_BITS - SUB_BITS + 1) * SUB_COUNT)

struct histogram {
	uint64_t count[HIST_BUCKETS];
	uint64_t total;
	uint64_t sum_ns;
	uint64_t min_ns, max_ns;
};

static unsigned bucket_of(uint64_t ns)
{
	unsigned msb, shift;

	if (ns >= (1ull << MAX_VALUE_BITS))
		ns = (1ull << MAX_VALUE_BITS) - 1;
	if (ns < SUB_COUNT)
		return (unsigned)ns;
	msb = 63 - (unsigned)__builtin_clzll(ns);
	shift = msb - SUB_BITS;
	return shift * SUB_COUNT + (unsigned)(ns >> shift);
}

/* The middle of a bucket's range, in ns. */
static double bucket_value(unsigned index)
{
	unsigned shift;
	uint64_t low;

	if (index < 2 * SUB_COUNT)
		return index;
	shift = index / SUB_COUNT - 1;
	low = (uint64_t)(index - shift * SUB_COUNT) << shift;
	return (double)low + (double)((1ull << shift) - 1) / 2.0;
}

static void histogram_add(struct histogram *h, uint64_t ns)
{
	h->count[bucket_of(ns)]++;
	if (h->total == 0 || ns < h->min_ns)
		h->min_ns = ns;
	if (ns > h->max_ns)
		h->max_ns = ns;
	h->total++;
	h->sum_ns += ns;
}

static void histogram_merge(struct histogram *into, const struct histogram *from)
{
	unsigned i;

	if (from->total == 0)
		return;
	for (i = 0; i < HIST_BUCKETS; i++)
		into->count[i] += from->count[i];
	if (into->total == 0 || from->min_ns < into->min_ns)
		into->min_ns = from->min_ns;
	if (from->max_ns > into->max_ns)
		into->max_ns = from->max_ns;
	into->total += from->total;
	into->sum_ns += from->sum_ns;
}

/* The value below which a fraction p of the samples lie, in µs. */
static double histogram_percentile_us(const struct histogram *h, double p)
{
	uint64_t rank, seen = 0;
	unsigned i;
	double v;

	if (h->total == 0)
		return 0;
	rank = (uint64_t)(p * (double)h->total + 0.999999);
	if (rank < 1)
		rank = 1;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->count[i];
		if (seen >= rank)
			break;
	}
	v = bucket_value(i);
	/* The bucket's middle may lie outside what was really seen. */
	if (v < (double)h->min_ns)
		v = (double)h->min_ns;
	if (v > (double)h->max_ns)
		v = (double)h->max_ns;
	return v / 1000.0;
}

/* --- small helpers ---------------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: fast, good enough to spread I/Os and fill payloads. */
static uint64_t rng_next(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1Dull;
}

/* Uniform in [0, n) without a division (multiply-high). */
static uint64_t rng_below(uint64_t *state, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)rng_next(state) * n) >> 64);
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

/* Atomics for counters that one worker writes and the progress line reads:
 * a relaxed load and store, no locked instruction on the fast path. */
static void counter_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

static uint64_t counter_get(_Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* --- block stamps (--verify) -------------------------------------------
 * Every logical block written with --verify starts with this stamp; the
 * rest of the block is a pseudo-random payload seeded from the stamp. The
 * checksum covers the stamp's fields and the whole payload, so a torn or
 * shifted block, a block from another run, another LBA or an older
 * generation, and zeros all fail the check. Host byte order: the same
 * program on the same machine writes and reads. */
#define STAMP_MAGIC 0x4e45424e5747414eull  /* "NAGWNBEN" */

struct block_stamp {
	uint64_t magic;
	uint64_t lba;
	uint64_t run_id;
	uint32_t generation;
	uint32_t session;
	uint64_t checksum;
};

static uint64_t stamp_checksum(const struct block_stamp *st, const unsigned char *block,
			       uint32_t block_size)
{
	uint64_t h = mix64(st->magic ^ mix64(st->lba ^ mix64(st->run_id ^
			  mix64(((uint64_t)st->generation << 32) | st->session))));
	const unsigned char *p = block + sizeof(*st);
	const unsigned char *end = block + block_size;
	uint64_t w;

	for (; p + 8 <= end; p += 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0x100000001b3ull;
		h ^= h >> 29;
	}
	return h;
}

static void stamp_block(unsigned char *block, uint32_t block_size, uint64_t lba,
			uint64_t run_id, uint32_t generation, uint32_t session)
{
	struct block_stamp st = {
		.magic = STAMP_MAGIC, .lba = lba, .run_id = run_id,
		.generation = generation, .session = session,
	};
	uint64_t seed = mix64(lba ^ run_id ^ ((uint64_t)generation << 40)) | 1;
	unsigned char *p;
	uint64_t w;

	for (p = block + sizeof(st); p + 8 <= block + block_size; p += 8) {
		w = rng_next(&seed);
		memcpy(p, &w, 8);
	}
	st.checksum = stamp_checksum(&st, block, block_size);
	memcpy(block, &st, sizeof(st));
}

/* --- the run's state ---------------------------------------------------- */

struct session;

/* One outstanding command at a time: its buffer, and what it does now. */
struct slot {
	struct session *session;
	unsigned index;
	unsigned char *buf;
	bool busy;
	bool is_write;
	bool counted;           /* part of the measured phase (not the read-back) */
	uint64_t chunk;         /* absolute chunk number: LBA / blocks per chunk */
	uint32_t generation;    /* written, or expected on a read (0: unknown) */
	uint64_t start_ns;
};

enum phase { PHASE_MEASURE, PHASE_DRAIN, PHASE_READBACK, PHASE_DONE };

/* Per-chunk state with --verify: the last generation written by this run
 * (0 none, GEN_UNKNOWN after a failed write) and a flag while in flight. */
#define GEN_IN_FLIGHT 0x80000000u
#define GEN_UNKNOWN 0x7fffffffu
#define GEN_MASK 0x7fffffffu

struct bench;

struct session {
	struct bench *bench;
	unsigned index;
	struct bench_conn *conn;
	struct slot *slots;
	unsigned busy_slots;
	enum phase phase;
	bool failed;            /* the connection is gone */

	uint64_t first_chunk, chunks;   /* this session's slice of the range */
	uint64_t seq_cursor;            /* next chunk, relative to first_chunk */
	uint64_t readback_cursor;
	uint32_t *chunk_state;          /* --verify: chunks entries */
	uint64_t rng;
	uint64_t ios_left;              /* with --ios: commands still to issue */
	uint64_t end_ns;                /* when its measured phase drained */

	struct histogram hist;
	uint64_t reads, writes, bytes;
	uint64_t unit_attentions;
	uint64_t verified_blocks, unverified_reads, mismatches;
	uint64_t readback_chunks;

	/* Read by the progress line in the main thread. */
	_Atomic uint64_t progress_ios, progress_bytes, progress_errors;
};

struct bench {
	struct options opt;
	uint32_t block_size;
	uint64_t lu_blocks;
	uint32_t chunk_blocks;          /* logical blocks per I/O */
	uint64_t range_chunks;
	uint64_t run_id;
	uint64_t start_ns, deadline_ns; /* deadline 0: none */
	_Atomic bool stop;
	_Atomic unsigned workers_done;
	_Atomic unsigned error_messages; /* how many were printed, all threads */
	struct session *sessions;
};

struct worker {
	struct bench *bench;
	pthread_t thread;
	unsigned index;
	struct session **sessions;
	unsigned nsessions;
};

/* Errors go to stderr, at most MAX_ERROR_MESSAGES per run. */
static void report_error(struct bench *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void report_error(struct bench *b, const char *fmt, ...)
{
	unsigned n = atomic_fetch_add(&b->error_messages, 1);
	va_list ap;

	if (n > MAX_ERROR_MESSAGES)
		return;
	if (n == MAX_ERROR_MESSAGES) {
		fprintf(stderr, "sangw-bench: more errors; not showing them\n");
		return;
	}
	va_start(ap, fmt);
	fputs("sangw-bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* --- issuing commands --------------------------------------------------- */

static void command_done(void *private_data, const struct bench_result *r);

static uint64_t lba_of_chunk(const struct bench *b, uint64_t chunk)
{
	return chunk * b->chunk_blocks;
}

/* Pick the next chunk (relative to the session's slice) for the measured
 * phase. With --verify, skip chunks one of our commands has in flight: at
 * most qd - 1 others are, and the slice holds at least qd chunks. */
static uint64_t pick_chunk(struct session *s)
{
	const struct bench *b = s->bench;
	uint64_t rel;
	uint64_t tries;

	if (b->opt.pattern == PATTERN_SEQ) {
		rel = s->seq_cursor;
	} else {
		rel = rng_below(&s->rng, s->chunks);
	}
	if (s->chunk_state != NULL) {
		for (tries = 0; tries < s->chunks; tries++) {
			if (!(s->chunk_state[rel] & GEN_IN_FLIGHT))
				break;
			rel = rel + 1 == s->chunks ? 0 : rel + 1;
		}
	}
	if (b->opt.pattern == PATTERN_SEQ)
		s->seq_cursor = rel + 1 == s->chunks ? 0 : rel + 1;
	return rel;
}

static bool choose_write(struct session *s)
{
	switch (s->bench->opt.rw) {
	case RW_READ:
		return false;
	case RW_WRITE:
		return true;
	case RW_MIX:
		break;
	}
	return rng_below(&s->rng, 100) >= s->bench->opt.mix_read_pct;
}

/* Send the slot's command as set up in slot->chunk/is_write/generation. */
static bool submit(struct slot *slot)
{
	struct session *s = slot->session;
	struct bench *b = s->bench;
	uint64_t lba = lba_of_chunk(b, slot->chunk);
	uint32_t len = b->opt.bs;
	uint8_t cdb[16] = { slot->is_write ? 0x8a : 0x88 };   /* WRITE(16), READ(16): SBC-3 5.29, 5.13 */
	uint32_t i;

	if (slot->is_write && b->opt.verify) {
		for (i = 0; i < b->chunk_blocks; i++)
			stamp_block(slot->buf + (size_t)i * b->block_size, b->block_size,
				    lba + i, b->run_id, slot->generation, s->index);
	}
	for (i = 0; i < 8; i++)
		cdb[2 + i] = (uint8_t)(lba >> (56 - 8 * i));
	for (i = 0; i < 4; i++)
		cdb[10 + i] = (uint8_t)(b->chunk_blocks >> (24 - 8 * i));
	slot->busy = true;
	s->busy_slots++;
	slot->start_ns = now_ns();
	if (!b->opt.engine->submit(s->conn, cdb, sizeof(cdb),
				   slot->is_write ? BENCH_DIR_WRITE : BENCH_DIR_READ, slot->buf, len,
				   command_done, slot)) {
		slot->busy = false;
		s->busy_slots--;
		report_error(b, "session %u: cannot queue %s at LBA %" PRIu64 ": %s", s->index,
			     slot->is_write ? "WRITE(16)" : "READ(16)", lba,
			     b->opt.engine->error(s->conn));
		s->failed = true;
		return false;
	}
	return true;
}

/* Start the next measured command on a free slot. */
static bool start_measured(struct slot *slot)
{
	struct session *s = slot->session;
	uint64_t rel = pick_chunk(s);

	slot->chunk = s->first_chunk + rel;
	slot->is_write = choose_write(s);
	slot->counted = true;
	slot->generation = 0;
	if (s->chunk_state != NULL) {
		uint32_t gen = s->chunk_state[rel] & GEN_MASK;

		if (slot->is_write) {
			/* A chunk whose last write failed restarts at 1: any
			 * later successful write makes it known again. */
			gen = (gen == GEN_UNKNOWN || gen + 1 >= GEN_UNKNOWN) ? 1 : gen + 1;
			slot->generation = gen;
		} else {
			slot->generation = gen;
		}
		s->chunk_state[rel] |= GEN_IN_FLIGHT;
	}
	if (s->ios_left != UINT64_MAX)
		s->ios_left--;
	return submit(slot);
}

/* Read back the next chunk this run wrote; false when there is none left. */
static bool start_readback(struct slot *slot)
{
	struct session *s = slot->session;
	uint32_t gen;

	while (s->readback_cursor < s->chunks) {
		uint64_t rel = s->readback_cursor++;

		gen = s->chunk_state[rel] & GEN_MASK;
		if (gen == 0 || gen == GEN_UNKNOWN)
			continue;
		slot->chunk = s->first_chunk + rel;
		slot->is_write = false;
		slot->counted = false;
		slot->generation = gen;
		s->chunk_state[rel] |= GEN_IN_FLIGHT;
		s->readback_chunks++;
		return submit(slot);
	}
	return false;
}

/* Check every block of a read chunk against the stamp of its last write. */
static void verify_read(struct slot *slot)
{
	struct session *s = slot->session;
	struct bench *b = s->bench;
	uint64_t lba0 = lba_of_chunk(b, slot->chunk);
	struct block_stamp st;
	uint32_t i;

	if (slot->generation == 0 || slot->generation == GEN_UNKNOWN) {
		s->unverified_reads++;
		return;
	}
	for (i = 0; i < b->chunk_blocks; i++) {
		const unsigned char *block = slot->buf + (size_t)i * b->block_size;
		uint64_t lba = lba0 + i;
		bool sum_ok;

		memcpy(&st, block, sizeof(st));
		sum_ok = st.magic == STAMP_MAGIC &&
			 st.checksum == stamp_checksum(&st, block, b->block_size);
		if (sum_ok && st.lba == lba && st.run_id == b->run_id &&
		    st.generation == slot->generation) {
			s->verified_blocks++;
			continue;
		}
		s->mismatches++;
		counter_add(&s->progress_errors, 1);
		if (st.magic != STAMP_MAGIC)
			report_error(b, "MISMATCH at LBA %" PRIu64 ": expected generation %u of this run, "
				     "found no stamp (first bytes %02x %02x %02x %02x)", lba,
				     slot->generation, block[0], block[1], block[2], block[3]);
		else
			report_error(b, "MISMATCH at LBA %" PRIu64 ": expected generation %u of run %016"
				     PRIx64 ", found LBA %" PRIu64 " generation %u of run %016" PRIx64
				     " (session %u), checksum %s", lba, slot->generation, b->run_id,
				     st.lba, st.generation, st.run_id, st.session, sum_ok ? "ok" : "BAD");
	}
}

static const char *status_name(int status)
{
	switch (status) {
	case BENCH_STATUS_CHECK_CONDITION: return "CHECK CONDITION";
	case 0x08: return "BUSY";
	case 0x18: return "RESERVATION CONFLICT";
	case 0x28: return "TASK SET FULL";
	case 0x40: return "TASK ABORTED";
	case BENCH_STATUS_CANCELLED: return "cancelled";
	case BENCH_STATUS_TRANSPORT: return "transport error";
	case BENCH_STATUS_TIMEOUT: return "timed out";
	default: return "unexpected status";
	}
}

/* "CHECK CONDITION, ILLEGAL_REQUEST, ASC/ASCQ 2400 (...)", "BUSY (0x8)",
 * "transport error (0x1001): why": a failed command's outcome for messages. */
static void describe_failure(char *out, size_t size, const struct bench_result *r,
			     const struct bench_engine_ops *e, struct bench_conn *c)
{
	unsigned ascq = (unsigned)r->asc << 8 | r->ascq;

	if (r->status == BENCH_STATUS_CHECK_CONDITION)
		snprintf(out, size, "CHECK CONDITION, %s, ASC/ASCQ %04x (%s)",
			 scsi_sense_key_str(r->sense_key), ascq, scsi_sense_ascq_str((int)ascq));
	else
		snprintf(out, size, "%s (0x%x)%s%s", status_name(r->status), (unsigned)r->status,
			 r->status >= BENCH_STATUS_CANCELLED ? ": " : "",
			 r->status >= BENCH_STATUS_CANCELLED ? e->error(c) : "");
}

/* What to do with a slot that just became free. */
static void next_command(struct slot *slot)
{
	struct session *s = slot->session;
	struct bench *b = s->bench;

	if (s->failed)
		return;
	if (s->phase == PHASE_MEASURE) {
		if (s->ios_left == 0 || atomic_load_explicit(&b->stop, memory_order_relaxed) ||
		    (b->deadline_ns != 0 && now_ns() >= b->deadline_ns))
			s->phase = PHASE_DRAIN;
		else {
			start_measured(slot);
			return;
		}
	}
	if (s->phase == PHASE_READBACK && !atomic_load_explicit(&b->stop, memory_order_relaxed))
		start_readback(slot);
}

/* Without auto-reconnect, a transport error or timeout ends the session. */
static void session_lost(struct session *s)
{
	if (s->failed)
		return;
	s->failed = true;
	report_error(s->bench, "session %u: connection lost: %s", s->index,
		     s->bench->opt.engine->error(s->conn));
}

static void command_done(void *private_data, const struct bench_result *r)
{
	int status = r->status;
	struct slot *slot = private_data;
	struct session *s = slot->session;
	struct bench *b = s->bench;
	uint64_t rel = slot->chunk - s->first_chunk;
	uint64_t lba = lba_of_chunk(b, slot->chunk);
	bool ok = status == BENCH_STATUS_GOOD;
	uint64_t end = now_ns();

	/* A session given up on (lost connection, commands that never
	 * completed) is already counted; the engine cancels what it still
	 * holds when the connection is destroyed. */
	if (s->phase == PHASE_DONE || !slot->busy)
		return;
	slot->busy = false;
	s->busy_slots--;

	/* SAM-5 5.14: a unit attention (power on, reset, capacity change...)
	 * fails one command, which an initiator simply retries. */
	if (status == BENCH_STATUS_CHECK_CONDITION && r->sense_key == SCSI_SENSE_UNIT_ATTENTION &&
	    !s->failed) {
		s->unit_attentions++;
		if (submit(slot))
			return;
		if (s->chunk_state != NULL)
			s->chunk_state[rel] &= ~GEN_IN_FLIGHT;
		counter_add(&s->progress_errors, 1);
		return;
	}
	if (ok && !slot->is_write && (r->residual_underflow || r->residual_overflow) &&
	    r->residual != 0) {
		report_error(b, "session %u: READ(16) at LBA %" PRIu64 " returned a residual of %"
			     PRIu32 " bytes", s->index, lba, r->residual);
		ok = false;
	}
	if (status == BENCH_STATUS_CANCELLED)
		session_lost(s);
	else if (!ok && status != BENCH_STATUS_GOOD) {
		char why[256];

		describe_failure(why, sizeof(why), r, b->opt.engine, s->conn);
		report_error(b, "session %u: %s at LBA %" PRIu64 " failed: %s", s->index,
			     slot->is_write ? "WRITE(16)" : "READ(16)", lba, why);
	}

	if (s->chunk_state != NULL) {
		uint32_t gen = s->chunk_state[rel] & GEN_MASK;

		if (slot->is_write)
			gen = ok ? slot->generation : GEN_UNKNOWN;
		s->chunk_state[rel] = gen;
	}
	if (ok && !slot->is_write && b->opt.verify)
		verify_read(slot);

	if (!ok) {
		counter_add(&s->progress_errors, 1);
	} else if (slot->counted) {
		histogram_add(&s->hist, end - slot->start_ns);
		if (slot->is_write)
			s->writes++;
		else
			s->reads++;
		s->bytes += b->opt.bs;
		counter_add(&s->progress_ios, 1);
		counter_add(&s->progress_bytes, b->opt.bs);
	}
	if (status == BENCH_STATUS_TRANSPORT || status == BENCH_STATUS_TIMEOUT)
		session_lost(s);
	next_command(slot);
}

/* --- the event loop of one worker ------------------------------------------ */

static uint64_t session_errors(struct session *s)
{
	return counter_get(&s->progress_errors);
}

/* Move a session along its phases once its slots are idle. */
static void advance_phase(struct session *s)
{
	struct bench *b = s->bench;
	unsigned i;

	if (s->failed) {
		/* Nothing more will complete on a lost connection: what is
		 * still outstanding counts as failed. */
		if (s->busy_slots != 0) {
			counter_add(&s->progress_errors, s->busy_slots);
			s->busy_slots = 0;
		}
		if (s->phase < PHASE_READBACK)
			s->end_ns = now_ns();
		s->phase = PHASE_DONE;
		return;
	}
	if (s->phase == PHASE_MEASURE &&
	    (atomic_load_explicit(&b->stop, memory_order_relaxed) ||
	     (b->deadline_ns != 0 && now_ns() >= b->deadline_ns)))
		s->phase = PHASE_DRAIN;
	if (s->busy_slots != 0)
		return;
	if (s->phase == PHASE_MEASURE && s->ios_left == 0)
		s->phase = PHASE_DRAIN;
	if (s->phase == PHASE_DRAIN) {
		s->end_ns = now_ns();
		if (b->opt.verify && !atomic_load_explicit(&b->stop, memory_order_relaxed)) {
			s->phase = PHASE_READBACK;
			for (i = 0; i < b->opt.qd && !s->failed; i++)
				if (!start_readback(&s->slots[i]))
					break;
			if (s->busy_slots != 0)
				return;
		}
		s->phase = PHASE_DONE;
	} else if (s->phase == PHASE_READBACK) {
		s->phase = PHASE_DONE;
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct bench *b = w->bench;
	struct pollfd *pfds = calloc(w->nsessions, sizeof(*pfds));
	uint64_t last_timeout_scan = now_ns(), drain_limit_ns = 0;
	unsigned i, q, active;

	if (pfds == NULL) {
		fprintf(stderr, "sangw-bench: out of memory\n");
		atomic_store(&b->stop, true);
		for (i = 0; i < w->nsessions; i++)
			w->sessions[i]->failed = true;
		atomic_fetch_add(&b->workers_done, 1);
		return NULL;
	}
	for (i = 0; i < w->nsessions; i++) {
		struct session *s = w->sessions[i];

		for (q = 0; q < b->opt.qd && s->ios_left != 0 && !s->failed; q++)
			start_measured(&s->slots[q]);
	}
	for (;;) {
		uint64_t t;

		active = 0;
		for (i = 0; i < w->nsessions; i++) {
			struct session *s = w->sessions[i];

			advance_phase(s);
			pfds[i].fd = -1;
			pfds[i].events = 0;
			pfds[i].revents = 0;
			if (s->phase == PHASE_DONE)
				continue;
			/* Everything this round produced leaves in one go. */
			if (b->opt.engine->flush(s->conn) < 0) {
				session_lost(s);
				advance_phase(s);
				continue;
			}
			active++;
			pfds[i].fd = b->opt.engine->fd(s->conn);
			pfds[i].events = b->opt.engine->events(s->conn);
		}
		if (active == 0)
			break;
		if (poll(pfds, w->nsessions, POLL_INTERVAL_MS) < 0 && errno != EINTR) {
			perror("sangw-bench: poll");
			break;
		}
		for (i = 0; i < w->nsessions; i++) {
			struct session *s = w->sessions[i];

			if (pfds[i].fd < 0 || pfds[i].revents == 0)
				continue;
			if (b->opt.engine->service(s->conn, pfds[i].revents) < 0)
				session_lost(s);
		}
		t = now_ns();
		if (t - last_timeout_scan >= 1000000000ull) {
			last_timeout_scan = t;
			for (i = 0; i < w->nsessions; i++)
				if (pfds[i].fd >= 0 && !w->sessions[i]->failed)
					b->opt.engine->tick(w->sessions[i]->conn);
		}
		/* A target that stops answering must not hang the run forever. */
		if (drain_limit_ns == 0 && (atomic_load(&b->stop) ||
					    (b->deadline_ns != 0 && t >= b->deadline_ns)))
			drain_limit_ns = t + (uint64_t)(b->opt.io_timeout_s + 5) * 1000000000ull;
		if (drain_limit_ns != 0 && t >= drain_limit_ns) {
			for (i = 0; i < w->nsessions; i++) {
				struct session *s = w->sessions[i];

				if (s->phase == PHASE_DONE || s->busy_slots == 0)
					continue;
				report_error(b, "session %u: %u commands did not complete; giving up",
					     s->index, s->busy_slots);
				counter_add(&s->progress_errors, s->busy_slots);
				s->failed = true;
				if (s->end_ns == 0)
					s->end_ns = t;
				s->phase = PHASE_DONE;
			}
		}
	}
	free(pfds);
	atomic_fetch_add(&b->workers_done, 1);
	return NULL;
}

/* --- options ---------------------------------------------------------------- */

static void usage(FILE *to)
{
	fprintf(to,
"Usage: sangw-bench [options] iscsi://[user[%%password]@]host[:port]/target-iqn/lun\n"
"\n"
"An iSCSI load generator: sessions x queue depth of READ(16)/WRITE(16).\n"
"\n"
"  -s, --sessions N      sessions (connections) to open (default 1)\n"
"  -T, --threads M       threads to spread the sessions over (default 1)\n"
"  -q, --qd Q            commands outstanding per session (default 32)\n"
"  -w, --rw MODE         read, write or mix (default read)\n"
"  -M, --mix-read PCT    share of reads with --rw mix, in %% (default 70)\n"
"  -p, --pattern P       random or seq (default random)\n"
"  -b, --bs SIZE         bytes per command, K/M suffixes (default 4k)\n"
"  -t, --time SECONDS    run this long (default %d unless --ios is given)\n"
"  -n, --ios COUNT       stop after COUNT commands in all\n"
"  -S, --size SIZE       use the first SIZE bytes of the LU (default: all)\n"
"  -V, --verify          stamp written blocks, check every read of them, and\n"
"                        read back all written blocks at the end\n"
"  -j, --json            print one JSON object on stdout\n"
"  -Q, --quiet           no progress line on stderr\n"
"  -i, --initiator IQN   initiator name (default %s)\n"
"  -D, --header-digest   require CRC32C header digests (default: none)\n"
"      --io-timeout SEC  fail a command after SEC seconds (default %d)\n"
"      --seed N          seed of the random choices (default: time based)\n"
"      --engine E        the initiator: libiscsi (default; mutual CHAP, header\n"
"                        digests) or raw (our own, cheaper per I/O: one-way\n"
"                        CHAP, no digests, no URL arguments)\n"
"  -h, --help            this help\n"
"\n"
"Exit status: 0 success, 1 I/O errors, data mismatches or no target, 2 usage.\n",
		DEFAULT_TIME_S, DEFAULT_INITIATOR, DEFAULT_IO_TIMEOUT_S);
}

/* "4096", "4k", "4K", "4KiB", "1G": bytes. */
static bool parse_size(const char *text, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (text[0] < '0' || text[0] > '9')
		return false;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno != 0)
		return false;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default: break;
	}
	if (shift != 0 && (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0))
		end += strlen(end);
	if (*end != '\0' || (shift != 0 && v > (UINT64_MAX >> shift)))
		return false;
	*out = (uint64_t)v << shift;
	return true;
}

static bool parse_uint(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (text[0] < '0' || text[0] > '9')
		return false;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static int bad_option(const char *name, const char *value, const char *expected)
{
	fprintf(stderr, "sangw-bench: bad %s '%s': expected %s\n", name, value, expected);
	fprintf(stderr, "Try 'sangw-bench --help'.\n");
	return EXIT_USAGE;
}

enum { OPT_IO_TIMEOUT = 256, OPT_SEED, OPT_ENGINE };

/* Returns -1 to go on, or an exit status. */
static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "sessions", required_argument, NULL, 's' },
		{ "threads", required_argument, NULL, 'T' },
		{ "qd", required_argument, NULL, 'q' },
		{ "rw", required_argument, NULL, 'w' },
		{ "mix-read", required_argument, NULL, 'M' },
		{ "pattern", required_argument, NULL, 'p' },
		{ "bs", required_argument, NULL, 'b' },
		{ "time", required_argument, NULL, 't' },
		{ "ios", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 'S' },
		{ "verify", no_argument, NULL, 'V' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'Q' },
		{ "initiator", required_argument, NULL, 'i' },
		{ "header-digest", no_argument, NULL, 'D' },
		{ "io-timeout", required_argument, NULL, OPT_IO_TIMEOUT },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "engine", required_argument, NULL, OPT_ENGINE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool time_given = false;
	uint64_t v;
	char *end;
	int c;

	*o = (struct options){
		.engine = &bench_libiscsi_engine,
		.initiator = DEFAULT_INITIATOR, .sessions = 1, .threads = 1, .qd = 32,
		.rw = RW_READ, .mix_read_pct = 70, .pattern = PATTERN_RANDOM, .bs = 4096,
		.io_timeout_s = DEFAULT_IO_TIMEOUT_S,
		.seed = now_ns() ^ ((uint64_t)getpid() << 32),
	};
	while ((c = getopt_long(argc, argv, "s:T:q:w:M:p:b:t:n:S:VjQi:Dh", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (!parse_uint(optarg, 1, MAX_SESSIONS, &v))
				return bad_option("--sessions", optarg, "1 to 256");
			o->sessions = (unsigned)v;
			break;
		case 'T':
			if (!parse_uint(optarg, 1, MAX_SESSIONS, &v))
				return bad_option("--threads", optarg, "1 to 256");
			o->threads = (unsigned)v;
			break;
		case 'q':
			if (!parse_uint(optarg, 1, MAX_QD, &v))
				return bad_option("--qd", optarg, "1 to 1024");
			o->qd = (unsigned)v;
			break;
		case 'w':
			if (strcmp(optarg, "read") == 0)
				o->rw = RW_READ;
			else if (strcmp(optarg, "write") == 0)
				o->rw = RW_WRITE;
			else if (strcmp(optarg, "mix") == 0)
				o->rw = RW_MIX;
			else
				return bad_option("--rw", optarg, "read, write or mix");
			break;
		case 'M':
			if (!parse_uint(optarg, 0, 100, &v))
				return bad_option("--mix-read", optarg, "a percentage, 0 to 100");
			o->mix_read_pct = (unsigned)v;
			break;
		case 'p':
			if (strcmp(optarg, "random") == 0 || strcmp(optarg, "rand") == 0)
				o->pattern = PATTERN_RANDOM;
			else if (strcmp(optarg, "seq") == 0 || strcmp(optarg, "sequential") == 0)
				o->pattern = PATTERN_SEQ;
			else
				return bad_option("--pattern", optarg, "random or seq");
			break;
		case 'b':
			if (!parse_size(optarg, &v) || v < 512 || v > MAX_BS || v % 512 != 0)
				return bad_option("--bs", optarg, "a multiple of 512 from 512 to 32M");
			o->bs = (uint32_t)v;
			break;
		case 't':
			errno = 0;
			o->time_s = strtod(optarg, &end);
			if (errno != 0 || end == optarg || *end != '\0' || !(o->time_s > 0) ||
			    o->time_s > 86400 * 365)
				return bad_option("--time", optarg, "a positive number of seconds");
			time_given = true;
			break;
		case 'n':
			if (!parse_uint(optarg, 1, UINT64_MAX - 1, &v))
				return bad_option("--ios", optarg, "a positive count");
			o->ios = v;
			break;
		case 'S':
			if (!parse_size(optarg, &v) || v == 0)
				return bad_option("--size", optarg, "a size such as 1G");
			o->size = v;
			break;
		case 'V':
			o->verify = true;
			break;
		case 'j':
			o->json = true;
			break;
		case 'Q':
			o->quiet = true;
			break;
		case 'i':
			o->initiator = optarg;
			break;
		case 'D':
			o->header_digest = true;
			break;
		case OPT_IO_TIMEOUT:
			if (!parse_uint(optarg, 1, 3600, &v))
				return bad_option("--io-timeout", optarg, "1 to 3600 seconds");
			o->io_timeout_s = (unsigned)v;
			break;
		case OPT_SEED:
			if (!parse_uint(optarg, 0, UINT64_MAX, &v))
				return bad_option("--seed", optarg, "a number");
			o->seed = v;
			break;
		case OPT_ENGINE:
			if (strcmp(optarg, "libiscsi") == 0)
				o->engine = &bench_libiscsi_engine;
			else if (strcmp(optarg, "raw") == 0)
				o->engine = &bench_raw_engine;
			else
				return bad_option("--engine", optarg, "libiscsi or raw");
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "Try 'sangw-bench --help'.\n");
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "sangw-bench: %s\n", optind >= argc ? "give the LU's iSCSI URL"
			: "give one URL only");
		usage(stderr);
		return EXIT_USAGE;
	}
	o->url = argv[optind];
	if (strncmp(o->url, "iscsi://", 8) != 0) {
		fprintf(stderr, "sangw-bench: '%s' is not an iscsi:// URL\n", o->url);
		return EXIT_USAGE;
	}
	{
		struct bench_connect_params params = {
			.url = o->url, .header_digest = o->header_digest,
		};
		const char *why = o->engine->unsupported(&params);

		if (why != NULL) {
			fprintf(stderr, "sangw-bench: --engine %s: %s\n", o->engine->name, why);
			return EXIT_USAGE;
		}
	}
	if (o->threads > o->sessions) {
		fprintf(stderr, "sangw-bench: --threads %u is more than --sessions %u\n",
			o->threads, o->sessions);
		return EXIT_USAGE;
	}
	if (o->verify && o->rw == RW_READ) {
		fprintf(stderr, "sangw-bench: --verify checks what this run wrote: "
			"use --rw write or --rw mix\n");
		return EXIT_USAGE;
	}
	if (o->verify && o->rw == RW_MIX && o->mix_read_pct == 100) {
		fprintf(stderr, "sangw-bench: --verify with --mix-read 100 writes nothing to check\n");
		return EXIT_USAGE;
	}
	if (!time_given && o->ios == 0)
		o->time_s = DEFAULT_TIME_S;
	return -1;
}

/* --- connecting --------------------------------------------------------- */

/* The URL without a CHAP password, for messages and the JSON output. */
static void redact_url(const char *url, char *out, size_t size)
{
	const char *at = strchr(url + 8, '@');
	const char *pct = strchr(url + 8, '%');
	const char *slash = strchr(url + 8, '/');

	if (at != NULL && pct != NULL && pct < at && (slash == NULL || at < slash))
		snprintf(out, size, "%.*s%%***%s", (int)(pct - url), url, at);
	else
		snprintf(out, size, "%s", url);
}

/* Run one command to completion on a connection nothing else uses yet. */
struct sync_command {
	bool done;
	struct bench_result result;
};

static void sync_command_done(void *private_data, const struct bench_result *r)
{
	struct sync_command *sc = private_data;

	sc->result = *r;
	sc->done = true;
}

static bool run_sync(const struct bench_engine_ops *e, struct bench_conn *c, const uint8_t *cdb,
		     unsigned cdb_len, void *buf, uint32_t len, struct bench_result *r)
{
	struct sync_command sc = { .done = false };

	if (!e->submit(c, cdb, cdb_len, len != 0 ? BENCH_DIR_READ : BENCH_DIR_NONE, buf, len,
		       sync_command_done, &sc))
		return false;
	while (!sc.done) {
		struct pollfd pfd = { .fd = e->fd(c) };

		if (e->flush(c) < 0)
			return false;
		pfd.events = e->events(c);
		if (poll(&pfd, 1, POLL_INTERVAL_MS) < 0 && errno != EINTR)
			return false;
		if (e->service(c, pfd.revents) < 0)
			return false;
		e->tick(c);
	}
	*r = sc.result;
	return true;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A new I_T nexus starts with a unit attention (SAM-5 5.14: power on,
 * reset); TEST UNIT READY takes it, as libiscsi's login does, so the
 * measured commands do not count it. */
static bool clear_unit_attentions(const struct bench_engine_ops *e, struct bench_conn *c,
				  const char *shown_url)
{
	uint8_t cdb[6] = { 0x00 };      /* TEST UNIT READY, SPC-4 6.47 */
	struct bench_result r = { .status = BENCH_STATUS_CHECK_CONDITION };
	unsigned tries;

	for (tries = 0; tries < 10; tries++) {
		if (!run_sync(e, c, cdb, sizeof(cdb), NULL, 0, &r)) {
			fprintf(stderr, "sangw-bench: TEST UNIT READY on %s failed: %s\n", shown_url,
				e->error(c));
			return false;
		}
		if (r.status != BENCH_STATUS_CHECK_CONDITION ||
		    r.sense_key != SCSI_SENSE_UNIT_ATTENTION)
			break;
	}
	return true;
}

/* READ CAPACITY(16), SBC-3 5.16: the LU's block size and block count. */
static bool read_capacity(struct bench *b, struct bench_conn *c, const char *shown_url)
{
	const struct bench_engine_ops *e = b->opt.engine;
	uint8_t cdb[16] = { 0x9e, 0x10 };       /* SERVICE ACTION IN(16), READ CAPACITY(16) */
	uint8_t data[32] = { 0 };
	struct bench_result r;
	uint64_t last_lba = 0;
	uint32_t block_length;
	unsigned i;

	cdb[13] = sizeof(data);
	if (!run_sync(e, c, cdb, sizeof(cdb), data, sizeof(data), &r)) {
		fprintf(stderr, "sangw-bench: READ CAPACITY(16) on %s failed: %s\n", shown_url,
			e->error(c));
		return false;
	}
	if (r.status != BENCH_STATUS_GOOD) {
		char why[256];

		describe_failure(why, sizeof(why), &r, e, c);
		fprintf(stderr, "sangw-bench: READ CAPACITY(16) on %s failed: %s\n", shown_url, why);
		return false;
	}
	for (i = 0; i < 8; i++)
		last_lba = last_lba << 8 | data[i];
	block_length = get_be32(data + 8);
	if (block_length < 512 || block_length > 65536 || (block_length & (block_length - 1)) != 0) {
		fprintf(stderr, "sangw-bench: %s answered READ CAPACITY(16) with an unusable "
			"block length\n", shown_url);
		return false;
	}
	b->block_size = block_length;
	b->lu_blocks = last_lba + 1;
	return true;
}

/* Split the range into chunks and the chunks into one slice per session. */
static bool plan_ranges(struct bench *b)
{
	const struct options *o = &b->opt;
	uint64_t range_blocks = b->lu_blocks, per;
	unsigned i;

	if (o->bs % b->block_size != 0) {
		fprintf(stderr, "sangw-bench: --bs %u is not a multiple of the LU's %u-byte blocks\n",
			o->bs, b->block_size);
		return false;
	}
	if (o->size != 0) {
		if (o->size % b->block_size != 0 || o->size / b->block_size > b->lu_blocks) {
			fprintf(stderr, "sangw-bench: --size %" PRIu64 " is not a whole number of "
				"blocks within the LU (%" PRIu64 " bytes)\n", o->size,
				b->lu_blocks * b->block_size);
			return false;
		}
		range_blocks = o->size / b->block_size;
	}
	b->chunk_blocks = o->bs / b->block_size;
	b->range_chunks = range_blocks / b->chunk_blocks;
	per = b->range_chunks / o->sessions;
	if (per < o->qd || per == 0) {
		fprintf(stderr, "sangw-bench: the range holds %" PRIu64 " I/Os of %u bytes: too few "
			"for %u sessions x QD %u\n", b->range_chunks, o->bs, o->sessions, o->qd);
		return false;
	}
	if (o->verify && b->range_chunks > MAX_VERIFY_CHUNKS) {
		fprintf(stderr, "sangw-bench: --verify keeps state per I/O-sized chunk; %" PRIu64
			" chunks are too many: limit the range with --size\n", b->range_chunks);
		return false;
	}
	for (i = 0; i < o->sessions; i++) {
		struct session *s = &b->sessions[i];

		s->first_chunk = per * i;
		s->chunks = per;
		if (o->verify) {
			s->chunk_state = calloc(per, sizeof(*s->chunk_state));
			if (s->chunk_state == NULL) {
				fprintf(stderr, "sangw-bench: out of memory\n");
				return false;
			}
		}
	}
	return true;
}

static bool setup_slots(struct bench *b, struct session *s)
{
	unsigned q;
	uint64_t seed = mix64(b->opt.seed ^ 0x5a5a) | 1;

	s->slots = calloc(b->opt.qd, sizeof(*s->slots));
	if (s->slots == NULL)
		return false;
	for (q = 0; q < b->opt.qd; q++) {
		struct slot *slot = &s->slots[q];
		uint32_t off;

		slot->session = s;
		slot->index = q;
		if (posix_memalign((void **)&slot->buf, 4096, b->opt.bs) != 0) {
			slot->buf = NULL;
			return false;
		}
		/* Non-zero data for writes without --verify (some targets
		 * treat zeros specially). */
		for (off = 0; off + 8 <= b->opt.bs; off += 8) {
			uint64_t w = rng_next(&seed);

			memcpy(slot->buf + off, &w, 8);
		}
	}
	return true;
}

/* --- output ----------------------------------------------------------------- */

struct totals {
	struct histogram hist;
	uint64_t ios, reads, writes, bytes, errors, unit_attentions;
	uint64_t verified_blocks, unverified_reads, mismatches, readback_chunks;
	double elapsed_s;
};

static void json_string(FILE *f, const char *text)
{
	const unsigned char *p;

	fputc('"', f);
	for (p = (const unsigned char *)text; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static const char *rw_name(enum rw_mode rw)
{
	return rw == RW_READ ? "read" : rw == RW_WRITE ? "write" : "mix";
}

static void print_json(const struct bench *b, const struct totals *t, const char *shown_url,
		       bool ok)
{
	const struct options *o = &b->opt;
	double iops = t->elapsed_s > 0 ? (double)t->ios / t->elapsed_s : 0;
	double mibps = t->elapsed_s > 0 ? (double)t->bytes / t->elapsed_s / 1048576.0 : 0;
	double mean_us = t->hist.total ? (double)t->hist.sum_ns / (double)t->hist.total / 1000.0 : 0;

	printf("{\"tool\": \"sangw-bench\", \"config\": {\"url\": ");
	json_string(stdout, shown_url);
	printf(", \"initiator\": ");
	json_string(stdout, o->initiator);
	printf(", \"engine\": \"%s\"", o->engine->name);
	printf(", \"sessions\": %u, \"threads\": %u, \"qd\": %u, \"rw\": \"%s\", "
	       "\"mix_read_pct\": %u, \"pattern\": \"%s\", \"bs\": %u, \"time_s\": %.3f, "
	       "\"ios_limit\": %" PRIu64 ", \"verify\": %s, \"header_digest\": %s, "
	       "\"block_size\": %u, \"range_bytes\": %" PRIu64 ", \"seed\": %" PRIu64 "}, ",
	       o->sessions, o->threads, o->qd, rw_name(o->rw),
	       o->rw == RW_MIX ? o->mix_read_pct : o->rw == RW_READ ? 100 : 0,
	       o->pattern == PATTERN_SEQ ? "seq" : "random", o->bs, o->time_s, o->ios,
	       o->verify ? "true" : "false", o->header_digest ? "true" : "false", b->block_size,
	       b->range_chunks * o->bs, o->seed);
	printf("\"elapsed_s\": %.6f, \"ios\": %" PRIu64 ", \"reads\": %" PRIu64 ", \"writes\": %"
	       PRIu64 ", \"bytes\": %" PRIu64 ", \"iops\": %.1f, \"mib_per_s\": %.2f, ",
	       t->elapsed_s, t->ios, t->reads, t->writes, t->bytes, iops, mibps);
	printf("\"latency_us\": {\"min\": %.1f, \"mean\": %.1f, \"p50\": %.1f, \"p99\": %.1f, "
	       "\"p99_9\": %.1f, \"max\": %.1f}, ",
	       (double)t->hist.min_ns / 1000.0, mean_us, histogram_percentile_us(&t->hist, 0.50),
	       histogram_percentile_us(&t->hist, 0.99), histogram_percentile_us(&t->hist, 0.999),
	       (double)t->hist.max_ns / 1000.0);
	printf("\"errors\": %" PRIu64 ", \"unit_attentions\": %" PRIu64 ", ", t->errors,
	       t->unit_attentions);
	if (o->verify)
		printf("\"verify\": {\"verified_blocks\": %" PRIu64 ", \"unverified_reads\": %" PRIu64
		       ", \"readback_chunks\": %" PRIu64 ", \"mismatches\": %" PRIu64 "}, ",
		       t->verified_blocks, t->unverified_reads, t->readback_chunks, t->mismatches);
	else
		printf("\"verify\": null, ");
	printf("\"ok\": %s}\n", ok ? "true" : "false");
}

static void print_text(const struct bench *b, const struct totals *t, const char *shown_url)
{
	const struct options *o = &b->opt;
	double iops = t->elapsed_s > 0 ? (double)t->ios / t->elapsed_s : 0;
	double mibps = t->elapsed_s > 0 ? (double)t->bytes / t->elapsed_s / 1048576.0 : 0;
	char mix[32] = "";

	if (o->rw == RW_MIX)
		snprintf(mix, sizeof(mix), " %u/%u", o->mix_read_pct, 100 - o->mix_read_pct);
	printf("sangw-bench %s\n", shown_url);
	printf("  %s%s %s, %u-byte I/Os, %u session%s x QD %u, %u thread%s, range %" PRIu64
	       " MiB, %u-byte blocks\n", rw_name(o->rw), mix,
	       o->pattern == PATTERN_SEQ ? "sequential" : "random", o->bs, o->sessions,
	       o->sessions == 1 ? "" : "s", o->qd, o->threads, o->threads == 1 ? "" : "s",
	       b->range_chunks * o->bs >> 20, b->block_size);
	printf("  %.2f s: %" PRIu64 " I/Os (%" PRIu64 " reads, %" PRIu64 " writes), %" PRIu64
	       " errors\n", t->elapsed_s, t->ios, t->reads, t->writes, t->errors);
	printf("  IOPS %.0f   MiB/s %.1f\n", iops, mibps);
	printf("  latency us: min %.1f  p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  mean %.1f\n",
	       (double)t->hist.min_ns / 1000.0, histogram_percentile_us(&t->hist, 0.50),
	       histogram_percentile_us(&t->hist, 0.99), histogram_percentile_us(&t->hist, 0.999),
	       (double)t->hist.max_ns / 1000.0,
	       t->hist.total ? (double)t->hist.sum_ns / (double)t->hist.total / 1000.0 : 0);
	if (t->unit_attentions != 0)
		printf("  unit attentions retried: %" PRIu64 "\n", t->unit_attentions);
	if (o->verify)
		printf("  verify: %" PRIu64 " blocks checked, %" PRIu64 " mismatches (%" PRIu64
		       " chunks read back, %" PRIu64 " reads of never-written chunks)\n",
		       t->verified_blocks, t->mismatches, t->readback_chunks, t->unverified_reads);
}

static void print_progress(struct bench *b, uint64_t *last_ios, uint64_t *last_bytes,
			   uint64_t *last_ns)
{
	uint64_t ios = 0, bytes = 0, errors = 0, t = now_ns();
	double dt = (double)(t - *last_ns) / 1e9;
	unsigned i;

	for (i = 0; i < b->opt.sessions; i++) {
		ios += counter_get(&b->sessions[i].progress_ios);
		bytes += counter_get(&b->sessions[i].progress_bytes);
		errors += counter_get(&b->sessions[i].progress_errors);
	}
	if (dt <= 0)
		return;
	fprintf(stderr, "\r%6.0fs %9.0f IOPS %9.1f MiB/s  total %" PRIu64 " I/Os, %" PRIu64
		" errors   ", (double)(t - b->start_ns) / 1e9, (double)(ios - *last_ios) / dt,
		(double)(bytes - *last_bytes) / dt / 1048576.0, ios, errors);
	*last_ios = ios;
	*last_bytes = bytes;
	*last_ns = t;
}

/* --- main --------------------------------------------------------------- */

/* Run the workers; the main thread shows progress and turns SIGINT/SIGTERM
 * (blocked in every thread, read from a signalfd) into a clean stop. */
static bool run_workers(struct bench *b)
{
	const struct options *o = &b->opt;
	struct worker *workers = calloc(o->threads, sizeof(*workers));
	struct session **order = calloc(o->sessions, sizeof(*order));
	bool progress = !o->quiet && isatty(STDERR_FILENO);
	uint64_t last_ios = 0, last_bytes = 0, last_ns, next_progress;
	unsigned i, started = 0, n = 0;
	sigset_t sigs;
	int sfd;

	if (workers == NULL || order == NULL) {
		free(workers);
		free(order);
		fprintf(stderr, "sangw-bench: out of memory\n");
		return false;
	}
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);

	/* Session i runs on thread i % M. */
	for (i = 0; i < o->threads; i++) {
		unsigned j;

		workers[i].bench = b;
		workers[i].index = i;
		workers[i].sessions = order + n;
		for (j = i; j < o->sessions; j += o->threads)
			order[n++] = &b->sessions[j];
		workers[i].nsessions = (unsigned)(order + n - workers[i].sessions);
	}
	b->start_ns = now_ns();
	b->deadline_ns = o->time_s > 0 ? b->start_ns + (uint64_t)(o->time_s * 1e9) : 0;
	last_ns = b->start_ns;
	next_progress = b->start_ns + 1000000000ull;
	for (i = 0; i < o->threads; i++) {
		if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) {
			fprintf(stderr, "sangw-bench: cannot start a thread\n");
			atomic_store(&b->stop, true);
			break;
		}
		started++;
	}
	if (started < o->threads)
		atomic_fetch_add(&b->workers_done, o->threads - started);
	while (atomic_load(&b->workers_done) < o->threads) {
		struct pollfd pfd = { .fd = sfd, .events = POLLIN };
		struct signalfd_siginfo si;

		if (poll(&pfd, sfd >= 0 ? 1 : 0, POLL_INTERVAL_MS) > 0 &&
		    read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			if (atomic_load(&b->stop)) {
				fprintf(stderr, "\nsangw-bench: interrupted twice, exiting\n");
				_exit(EXIT_FAILED);
			}
			fprintf(stderr, "%ssangw-bench: stopping (signal %u)\n", progress ? "\n" : "",
				si.ssi_signo);
			atomic_store(&b->stop, true);
		}
		if (progress && now_ns() >= next_progress) {
			print_progress(b, &last_ios, &last_bytes, &last_ns);
			next_progress += 1000000000ull;
		}
	}
	for (i = 0; i < started; i++)
		pthread_join(workers[i].thread, NULL);
	if (progress && last_ios != 0)
		fputc('\n', stderr);
	if (sfd >= 0)
		close(sfd);
	free(workers);
	free(order);
	return true;
}

static void free_sessions(struct bench *b)
{
	unsigned i, q;

	for (i = 0; i < b->opt.sessions; i++) {
		struct session *s = &b->sessions[i];

		if (s->conn != NULL) {
			if (!s->failed)
				b->opt.engine->logout(s->conn);
			b->opt.engine->destroy(s->conn);
		}
		if (s->slots != NULL)
			for (q = 0; q < b->opt.qd; q++)
				free(s->slots[q].buf);
		free(s->slots);
		free(s->chunk_state);
	}
	free(b->sessions);
}

int main(int argc, char **argv)
{
	struct bench *b = calloc(1, sizeof(*b));
	struct totals *t = calloc(1, sizeof(*t));
	char shown_url[1024];
	uint64_t isid_random, end_ns = 0;
	bool ok = false;
	unsigned i;
	int rc;

	if (b == NULL || t == NULL) {
		fprintf(stderr, "sangw-bench: out of memory\n");
		return EXIT_FAILED;
	}
	rc = parse_options(argc, argv, &b->opt);
	if (rc >= 0) {
		free(b);
		free(t);
		return rc;
	}
	signal(SIGPIPE, SIG_IGN);
	redact_url(b->opt.url, shown_url, sizeof(shown_url));
	b->run_id = mix64(b->opt.seed ^ now_ns());
	isid_random = mix64(b->run_id ^ (uint64_t)getpid());
	b->sessions = calloc(b->opt.sessions, sizeof(*b->sessions));
	if (b->sessions == NULL) {
		fprintf(stderr, "sangw-bench: out of memory\n");
		return EXIT_FAILED;
	}
	rc = EXIT_FAILED;
	for (i = 0; i < b->opt.sessions; i++) {
		struct session *s = &b->sessions[i];

		s->bench = b;
		s->index = i;
		s->rng = mix64(b->opt.seed + i * 0x9e3779b97f4a7c15ull) | 1;
		s->ios_left = UINT64_MAX;
		if (b->opt.ios != 0)
			s->ios_left = b->opt.ios / b->opt.sessions + (i < b->opt.ios % b->opt.sessions);
		s->conn = b->opt.engine->connect(&(struct bench_connect_params){
			.url = b->opt.url, .shown_url = shown_url, .initiator = b->opt.initiator,
			.index = i, .isid_random = (uint32_t)isid_random,
			.header_digest = b->opt.header_digest, .io_timeout_s = b->opt.io_timeout_s,
			.probe_portal = i == 0,
		});
		if (s->conn == NULL || !clear_unit_attentions(b->opt.engine, s->conn, shown_url))
			goto out;
		if (!setup_slots(b, s)) {
			fprintf(stderr, "sangw-bench: out of memory\n");
			goto out;
		}
	}
	if (!read_capacity(b, b->sessions[0].conn, shown_url) ||
	    !plan_ranges(b) || !run_workers(b))
		goto out;

	for (i = 0; i < b->opt.sessions; i++) {
		struct session *s = &b->sessions[i];

		histogram_merge(&t->hist, &s->hist);
		t->reads += s->reads;
		t->writes += s->writes;
		t->bytes += s->bytes;
		t->errors += session_errors(s) - s->mismatches;
		t->unit_attentions += s->unit_attentions;
		t->verified_blocks += s->verified_blocks;
		t->unverified_reads += s->unverified_reads;
		t->mismatches += s->mismatches;
		t->readback_chunks += s->readback_chunks;
		if (s->end_ns > end_ns)
			end_ns = s->end_ns;
		if (s->failed && t->errors == 0)
			t->errors = 1;  /* a lost connection is an error even if no command saw it */
	}
	t->ios = t->reads + t->writes;
	t->elapsed_s = end_ns > b->start_ns ? (double)(end_ns - b->start_ns) / 1e9 : 0;
	ok = t->errors == 0 && t->mismatches == 0;
	if (b->opt.json)
		print_json(b, t, shown_url, ok);
	else
		print_text(b, t, shown_url);
	if (t->mismatches != 0)
		fprintf(stderr, "sangw-bench: VERIFY FAILED: %" PRIu64 " blocks did not hold what "
			"was written\n", t->mismatches);
	if (t->errors != 0)
		fprintf(stderr, "sangw-bench: %" PRIu64 " I/O errors\n", t->errors);
	rc = ok ? 0 : EXIT_FAILED;
out:
	fflush(stdout);
	free_sessions(b);
	free(b);
	free(t);
	return rc;
}
