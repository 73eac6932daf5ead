/* sangw-cluster-client: the libiscsi initiator of the cluster scenarios
 * (tests/cluster/) and of tools/cluster-bench.
 *
 * sangw-testclient logs in and out for every subcommand; a cluster scenario
 * needs more: an I_T nexus that lives across steps (a registration belongs
 * to one nexus, a unit attention arrives on one), a read loop that measures
 * how long I/O stops while a node dies and reconnects through another
 * portal as a multipath initiator would, and PR latency figures.
 *
 *   session                    read commands on stdin, one line each, over
 *                              named sessions; answer one line each
 *   read-loop URL[,URL...]     read until SIGTERM/SIGINT (or --seconds);
 *                              report I/O gaps, failovers and UAs
 *   pr-latency URL N           time N rounds of PR operations
 *   write-log URL BLOCKS       write generation-stamped blocks until the
 *                              target is lost; log every acknowledged one
 *   check-log URL LOG          every block the log says was acknowledged
 *                              holds that generation or a newer one
 *
 * Run with --help for the details. Exit status: 0 done, 1 failed, 2 usage. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#include "client_util.h"

#define DEFAULT_INITIATOR "iqn.2026-11.org.sangw:cluster-client"
#define MAX_SESSIONS 16
#define MAX_PORTALS 8
#define LINE_MAX_LEN 1024
#define PR_IN_ALLOC 8192
#define RTPG_ALLOC 1024
#define READ_BLOCKS 8
#define CLEAR_UA_TRIES 20

static int timeout_s = 10;

/* --- login ----------------------------------------------------------- */

/* Log in to URL's target without sending any command, so that the first
 * command the caller sends sees whatever unit attention is pending. */
static struct iscsi_context *open_session(const char *url_text, const char *initiator,
					  int *lun, char *why, size_t whylen)
{
	struct iscsi_context *iscsi = iscsi_create_context(initiator);
	struct iscsi_url *url;

	if (iscsi == NULL) {
		snprintf(why, whylen, "cannot create an iSCSI context");
		return NULL;
	}
	/* Reconnecting is the caller's decision (read-loop picks a portal). */
	iscsi_set_noautoreconnect(iscsi, 1);
	iscsi_set_timeout(iscsi, timeout_s);
	url = iscsi_parse_full_url(iscsi, url_text);
	if (url == NULL) {
		snprintf(why, whylen, "bad URL %s: %s", url_text, iscsi_get_error(iscsi));
		iscsi_destroy_context(iscsi);
		return NULL;
	}
	*lun = url->lun;
	iscsi_set_targetname(iscsi, url->target);
	iscsi_set_session_type(iscsi, ISCSI_SESSION_NORMAL);
	if (iscsi_connect_sync(iscsi, url->portal) != 0 || iscsi_login_sync(iscsi) != 0) {
		snprintf(why, whylen, "login to %s failed: %s", url_text, iscsi_get_error(iscsi));
		iscsi_destroy_url(url);
		iscsi_destroy_context(iscsi);
		return NULL;
	}
	iscsi_destroy_url(url);
	return iscsi;
}

static void close_session(struct iscsi_context *iscsi)
{
	if (iscsi == NULL)
		return;
	if (iscsi_is_logged_in(iscsi))
		iscsi_logout_sync(iscsi);
	iscsi_disconnect(iscsi);
	iscsi_destroy_context(iscsi);
}

/* --- outcome of one command ---------------------------------------------- */

/* "ok", "check K/AS/AQ" (sense key, ASC, ASCQ in hex), "status 0xNN",
 * "timeout" (no answer within --timeout) or "error TEXT" (the transport
 * failed). */
static void outcome(const struct scsi_task *task, struct iscsi_context *iscsi,
		    char *buf, size_t len)
{
	if (task == NULL)
		snprintf(buf, len, "error %s", iscsi_get_error(iscsi));
	else if (task->status == SCSI_STATUS_TIMEOUT)
		snprintf(buf, len, "timeout after %d s", timeout_s);
	else if (task->status == SCSI_STATUS_ERROR || task->status == SCSI_STATUS_CANCELLED)
		snprintf(buf, len, "error %s", iscsi_get_error(iscsi));
	else if (task->status == SCSI_STATUS_GOOD)
		snprintf(buf, len, "ok");
	else if (task->status == SCSI_STATUS_CHECK_CONDITION)
		snprintf(buf, len, "check %x/%02x/%02x", (unsigned)task->sense.key,
			 (unsigned)(task->sense.ascq >> 8) & 0xff, (unsigned)task->sense.ascq & 0xff);
	else
		snprintf(buf, len, "status 0x%02x", (unsigned)task->status);
}

static bool is_unit_attention(const struct scsi_task *task)
{
	return task != NULL && task->status == SCSI_STATUS_CHECK_CONDITION &&
	       task->sense.key == SCSI_SENSE_UNIT_ATTENTION;
}

static void append(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;

	if (used >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

static void append_hex(char *buf, size_t len, const struct scsi_task *task)
{
	append(buf, len, " raw=");
	for (int i = 0; i < task->datain.size; i++)
		append(buf, len, "%02x", task->datain.data[i]);
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const unsigned char *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* --- session mode ------------------------------------------------------ */

struct session {
	char name[32];
	struct iscsi_context *iscsi;
	int lun;
	uint32_t block_size;
};

static struct session sessions[MAX_SESSIONS];

static struct session *session_find(const char *name)
{
	for (int i = 0; i < MAX_SESSIONS; i++)
		if (sessions[i].iscsi != NULL && strcmp(sessions[i].name, name) == 0)
			return &sessions[i];
	return NULL;
}

static struct scsi_task *pr_out(struct session *s, int sa, int type, uint64_t key, uint64_t sa_key)
{
	struct scsi_persistent_reserve_out_basic params;

	memset(&params, 0, sizeof(params));
	params.reservation_key = key;
	params.service_action_reservation_key = sa_key;
	return iscsi_persistent_reserve_out_sync(s->iscsi, s->lun, sa,
						 SCSI_PERSISTENT_RESERVE_SCOPE_LU, type, &params);
}

/* SPC-4 6.15.2 READ KEYS data: generation, list length, keys. */
static void describe_read_keys(const struct scsi_task *task, char *buf, size_t len)
{
	const unsigned char *d = task->datain.data;
	uint32_t list;

	if (task->datain.size < 8) {
		snprintf(buf, len, "error READ KEYS returned %d bytes", task->datain.size);
		return;
	}
	list = be32(d + 4);
	append(buf, len, " gen=0x%x keys=", be32(d));
	for (uint32_t off = 8; off + 8 <= 8 + list && off + 8 <= (uint32_t)task->datain.size; off += 8)
		append(buf, len, "%s0x%" PRIx64, off == 8 ? "" : ",", be64(d + off));
	if (list == 0)
		append(buf, len, "none");
	append_hex(buf, len, task);
}

/* SPC-4 6.15.3 READ RESERVATION data: generation, length, key, scope/type. */
static void describe_read_reservation(const struct scsi_task *task, char *buf, size_t len)
{
	const unsigned char *d = task->datain.data;

	if (task->datain.size < 8) {
		snprintf(buf, len, "error READ RESERVATION returned %d bytes", task->datain.size);
		return;
	}
	append(buf, len, " gen=0x%x", be32(d));
	if (be32(d + 4) >= 16 && task->datain.size >= 24)
		append(buf, len, " reservation=0x%" PRIx64 " type=%u", be64(d + 8), d[21] & 0x0f);
	else
		append(buf, len, " reservation=none");
	append_hex(buf, len, task);
}

/* SPC-4 6.36 REPORT TARGET PORT GROUPS: "groups=ID:STATE,..." with the
 * asymmetric access state as a short name. */
static void describe_rtpg(const struct scsi_task *task, char *buf, size_t len)
{
	static const char *const names[16] = {
		[0x0] = "ao", [0x1] = "an", [0x2] = "sb", [0x3] = "un",
		[0xe] = "of", [0xf] = "tr",
	};
	const unsigned char *d = task->datain.data;
	int size = task->datain.size, end;

	if (size < 4) {
		snprintf(buf, len, "error RTPG returned %d bytes", size);
		return;
	}
	end = 4 + (int)be32(d);
	if (end > size)
		end = size;
	append(buf, len, " groups=");
	for (int off = 4, first = 1; off + 8 <= end; first = 0) {
		const char *name = names[d[off] & 0x0f];

		append(buf, len, "%s%u:%s", first ? "" : ",", (unsigned)(d[off + 2] << 8 | d[off + 3]),
		       name ? name : "??");
		off += 8 + 4 * d[off + 7];
	}
}

/* The pattern a write leaves, so a read elsewhere can tell it apart. */
static void fill_pattern(unsigned char *buf, uint64_t lba, uint32_t blocks, uint32_t bs, uint32_t seed)
{
	for (uint32_t b = 0; b < blocks; b++)
		for (uint32_t i = 0; i < bs; i++)
			buf[(size_t)b * bs + i] = (unsigned char)((lba + b) * 31 + i * 7 + seed);
}

static bool block_size_of(struct session *s, char *buf, size_t len)
{
	struct scsi_task *task;

	if (s->block_size != 0)
		return true;
	task = iscsi_readcapacity16_sync(s->iscsi, s->lun);
	outcome(task, s->iscsi, buf, len);
	if (task != NULL && task->status == SCSI_STATUS_GOOD && task->datain.size >= 12)
		s->block_size = be32(task->datain.data + 8);
	if (task)
		scsi_free_scsi_task(task);
	return s->block_size != 0;
}

static void session_io(struct session *s, bool write, uint64_t lba, uint32_t count,
		       uint32_t seed, char *buf, size_t len)
{
	struct scsi_task *task;
	unsigned char *data;
	size_t bytes;

	if (!block_size_of(s, buf, len))
		return;
	bytes = (size_t)count * s->block_size;
	data = malloc(bytes);
	if (data == NULL) {
		snprintf(buf, len, "error out of memory");
		return;
	}
	fill_pattern(data, lba, count, s->block_size, seed);
	if (write)
		task = iscsi_write16_sync(s->iscsi, s->lun, lba, data, (uint32_t)bytes,
					  (int)s->block_size, 0, 0, 0, 0, 0);
	else
		task = iscsi_read16_sync(s->iscsi, s->lun, lba, (uint32_t)bytes,
					 (int)s->block_size, 0, 0, 0, 0, 0);
	outcome(task, s->iscsi, buf, len);
	if (!write && task != NULL && task->status == SCSI_STATUS_GOOD)
		append(buf, len, " %s", task->datain.size == (int)bytes &&
		       memcmp(task->datain.data, data, bytes) == 0 ? "pattern" : "other-data");
	if (task)
		scsi_free_scsi_task(task);
	free(data);
}

static void session_command(int argc, char **argv, char *buf, size_t len)
{
	const char *cmd = argv[0];
	struct session *s;
	struct scsi_task *task = NULL;

	buf[0] = '\0';
	if (strcmp(cmd, "open") == 0 && (argc == 3 || argc == 4)) {
		struct session *slot = NULL;
		char why[512];

		if (session_find(argv[1]) != NULL) {
			snprintf(buf, len, "error session %s is open", argv[1]);
			return;
		}
		for (int i = 0; i < MAX_SESSIONS && slot == NULL; i++)
			if (sessions[i].iscsi == NULL)
				slot = &sessions[i];
		if (slot == NULL) {
			snprintf(buf, len, "error too many sessions");
			return;
		}
		memset(slot, 0, sizeof(*slot));
		snprintf(slot->name, sizeof(slot->name), "%s", argv[1]);
		slot->iscsi = open_session(argv[2], argc == 4 ? argv[3] : DEFAULT_INITIATOR,
					   &slot->lun, why, sizeof(why));
		if (slot->iscsi == NULL)
			snprintf(buf, len, "error %s", why);
		else
			snprintf(buf, len, "ok");
		return;
	}
	if (argc < 2 || (s = session_find(argv[1])) == NULL) {
		snprintf(buf, len, "error usage or no such session: %s", cmd);
		return;
	}
	if (strcmp(cmd, "close") == 0 && argc == 2) {
		close_session(s->iscsi);
		s->iscsi = NULL;
		snprintf(buf, len, "ok");
		return;
	}
	if (strcmp(cmd, "tur") == 0 && argc == 2) {
		task = iscsi_testunitready_sync(s->iscsi, s->lun);
	} else if (strcmp(cmd, "clear-ua") == 0 && argc == 2) {
		/* TEST UNIT READY until GOOD; name the UAs it consumed. */
		char seen[256] = "";

		for (int i = 0; i < CLEAR_UA_TRIES; i++) {
			task = iscsi_testunitready_sync(s->iscsi, s->lun);
			if (!is_unit_attention(task))
				break;
			outcome(task, s->iscsi, buf, len);
			append(seen, sizeof(seen), " %s", buf + strlen("check "));
			scsi_free_scsi_task(task);
			task = NULL;
		}
		outcome(task, s->iscsi, buf, len);
		append(buf, len, " consumed=%s", seen[0] ? seen + 1 : "none");
		if (task)
			scsi_free_scsi_task(task);
		return;
	} else if (strcmp(cmd, "register") == 0 && argc == 3) {
		task = pr_out(s, SCSI_PERSISTENT_RESERVE_REGISTER_AND_IGNORE_EXISTING_KEY, 0, 0,
			      strtoull(argv[2], NULL, 0));
	} else if (strcmp(cmd, "unregister") == 0 && argc == 3) {
		task = pr_out(s, SCSI_PERSISTENT_RESERVE_REGISTER, 0, strtoull(argv[2], NULL, 0), 0);
	} else if (strcmp(cmd, "reserve") == 0 && argc == 4) {
		task = pr_out(s, SCSI_PERSISTENT_RESERVE_RESERVE, atoi(argv[3]),
			      strtoull(argv[2], NULL, 0), 0);
	} else if (strcmp(cmd, "release") == 0 && argc == 4) {
		task = pr_out(s, SCSI_PERSISTENT_RESERVE_RELEASE, atoi(argv[3]),
			      strtoull(argv[2], NULL, 0), 0);
	} else if (strcmp(cmd, "preempt") == 0 && argc == 5) {
		task = pr_out(s, SCSI_PERSISTENT_RESERVE_PREEMPT, atoi(argv[4]),
			      strtoull(argv[2], NULL, 0), strtoull(argv[3], NULL, 0));
	} else if (strcmp(cmd, "clear") == 0 && argc == 3) {
		task = pr_out(s, SCSI_PERSISTENT_RESERVE_CLEAR, 0, strtoull(argv[2], NULL, 0), 0);
	} else if ((strcmp(cmd, "read-keys") == 0 || strcmp(cmd, "read-reservation") == 0 ||
		    strcmp(cmd, "read-full-status") == 0) && argc == 2) {
		int sa = cmd[5] == 'k' ? SCSI_PERSISTENT_RESERVE_READ_KEYS
			 : cmd[5] == 'r' ? SCSI_PERSISTENT_RESERVE_READ_RESERVATION
			 : SCSI_PERSISTENT_RESERVE_READ_FULL_STATUS;

		task = iscsi_persistent_reserve_in_sync(s->iscsi, s->lun, sa, PR_IN_ALLOC);
		outcome(task, s->iscsi, buf, len);
		if (task != NULL && task->status == SCSI_STATUS_GOOD) {
			if (sa == SCSI_PERSISTENT_RESERVE_READ_KEYS)
				describe_read_keys(task, buf, len);
			else if (sa == SCSI_PERSISTENT_RESERVE_READ_RESERVATION)
				describe_read_reservation(task, buf, len);
			else
				append_hex(buf, len, task);
		}
		if (task)
			scsi_free_scsi_task(task);
		return;
	} else if (strcmp(cmd, "rtpg") == 0 && argc == 2) {
		/* MAINTENANCE IN / REPORT TARGET PORT GROUPS (SPC-4 6.36). */
		unsigned char cdb[12] = { 0xa3, 0x0a };

		cdb[6] = (RTPG_ALLOC >> 24) & 0xff;
		cdb[7] = (RTPG_ALLOC >> 16) & 0xff;
		cdb[8] = (RTPG_ALLOC >> 8) & 0xff;
		cdb[9] = RTPG_ALLOC & 0xff;
		task = scsi_create_task(sizeof(cdb), cdb, SCSI_XFER_READ, RTPG_ALLOC);
		if (task == NULL) {
			snprintf(buf, len, "error out of memory");
			return;
		}
		if (iscsi_scsi_command_sync(s->iscsi, s->lun, task, NULL) == NULL) {
			scsi_free_scsi_task(task);
			task = NULL;
		}
		outcome(task, s->iscsi, buf, len);
		if (task != NULL && task->status == SCSI_STATUS_GOOD)
			describe_rtpg(task, buf, len);
		if (task)
			scsi_free_scsi_task(task);
		return;
	} else if (strcmp(cmd, "sync") == 0 && argc == 2) {
		/* SYNCHRONIZE CACHE (10) of the whole LU (SBC-4 5.26). */
		task = iscsi_synchronizecache10_sync(s->iscsi, s->lun, 0, 0, 0, 0);
	} else if ((strcmp(cmd, "write") == 0 || strcmp(cmd, "read") == 0) && (argc == 4 || argc == 5)) {
		session_io(s, cmd[0] == 'w', strtoull(argv[2], NULL, 0),
			   (uint32_t)strtoul(argv[3], NULL, 0),
			   argc == 5 ? (uint32_t)strtoul(argv[4], NULL, 0) : 1, buf, len);
		return;
	} else {
		snprintf(buf, len, "error unknown command or wrong arguments: %s", cmd);
		return;
	}
	outcome(task, s->iscsi, buf, len);
	if (task)
		scsi_free_scsi_task(task);
}

static int cmd_session(void)
{
	char line[LINE_MAX_LEN], reply[8192];

	while (fgets(line, sizeof(line), stdin) != NULL) {
		char *argv[8], *save = NULL;
		int argc = 0;

		for (char *tok = strtok_r(line, " \t\r\n", &save); tok != NULL && argc < 8;
		     tok = strtok_r(NULL, " \t\r\n", &save))
			argv[argc++] = tok;
		if (argc == 0)
			continue;
		if (strcmp(argv[0], "quit") == 0)
			break;
		session_command(argc, argv, reply, sizeof(reply));
		printf("%s\n", reply);
		fflush(stdout);
	}
	for (int i = 0; i < MAX_SESSIONS; i++)
		if (sessions[i].iscsi != NULL)
			close_session(sessions[i].iscsi);
	return 0;
}

/* --- read-loop ---------------------------------------------------------- */

static bool stop_requested;
static bool mark_requested;
static sigset_t loop_signals;

/* SIGTERM, SIGINT and SIGUSR1 stay blocked and are collected between two
 * commands: a handler would interrupt libiscsi's poll() in the middle of
 * a command, which it reports as a failed connection. */
static void block_loop_signals(void)
{
	sigemptyset(&loop_signals);
	sigaddset(&loop_signals, SIGTERM);
	sigaddset(&loop_signals, SIGINT);
	sigaddset(&loop_signals, SIGUSR1);
	sigprocmask(SIG_BLOCK, &loop_signals, NULL);
}

static void collect_loop_signals(void)
{
	const struct timespec zero = { 0, 0 };
	int sig;

	while ((sig = sigtimedwait(&loop_signals, NULL, &zero)) > 0) {
		if (sig == SIGUSR1)
			mark_requested = true;
		else
			stop_requested = true;
	}
}

struct read_loop {
	const char *urls[MAX_PORTALS];
	int n_urls;
	int current;
	struct iscsi_context *iscsi;
	int lun;
	uint64_t blocks;
	uint32_t block_size;
	double start, last_good, max_gap, total_max_gap;
	uint64_t reads, reconnects, errors;
	char last_check[512];
};

static double since(const struct read_loop *r, double t)
{
	return t - r->start;
}

/* Log in through the current portal, or the next ones in turn, until one
 * answers READ CAPACITY or a stop is requested. */
static bool read_loop_connect(struct read_loop *r)
{
	char why[512], buf[128];

	while (collect_loop_signals(), !stop_requested) {
		const char *url = r->urls[r->current];

		r->iscsi = open_session(url, DEFAULT_INITIATOR, &r->lun, why, sizeof(why));
		if (r->iscsi != NULL) {
			/* READ CAPACITY may first meet the unit attentions of a
			 * new nexus: retry those. */
			for (int i = 0; i < CLEAR_UA_TRIES; i++) {
				struct scsi_task *task = iscsi_readcapacity16_sync(r->iscsi, r->lun);
				bool ua = is_unit_attention(task);

				if (task != NULL && task->status == SCSI_STATUS_GOOD && task->datain.size >= 12) {
					r->blocks = be64(task->datain.data) + 1;
					r->block_size = be32(task->datain.data + 8);
					scsi_free_scsi_task(task);
					printf("connected t=%.3f url=%s\n", since(r, now_s()), url);
					fflush(stdout);
					return true;
				}
				outcome(task, r->iscsi, buf, sizeof(buf));
				if (task)
					scsi_free_scsi_task(task);
				if (!ua) {
					snprintf(why, sizeof(why), "READ CAPACITY: %s", buf);
					break;
				}
			}
			close_session(r->iscsi);
			r->iscsi = NULL;
		}
		printf("connect-failed t=%.3f url=%s %s\n", since(r, now_s()), url, why);
		fflush(stdout);
		r->current = (r->current + 1) % r->n_urls;
		r->reconnects++;
		sleep_ms(200);      /* a multipath initiator's path retry interval */
	}
	return false;
}

static void read_loop_progress(struct read_loop *r, double t)
{
	printf("progress t=%.3f reads=%" PRIu64 " max_gap_ms=%.0f url=%s\n", since(r, t), r->reads,
	       r->max_gap * 1000, r->urls[r->current]);
	fflush(stdout);
}

/* Read READ_BLOCKS blocks at a time, walking the LU, until stopped. A UNIT
 * ATTENTION is reported and the read retried; NOT READY is retried after a
 * short pause (the port group is in transition); a lost connection makes
 * it log in through the next portal. Every gap between two good reads
 * counts, retries and reconnections included. */
static int cmd_read_loop(const char *url_list, double seconds)
{
	struct read_loop r;
	char list[LINE_MAX_LEN], *save = NULL, buf[512];
	double end, next_progress;
	uint64_t lba = 0;

	memset(&r, 0, sizeof(r));
	snprintf(list, sizeof(list), "%s", url_list);
	for (char *tok = strtok_r(list, ",", &save); tok != NULL && r.n_urls < MAX_PORTALS;
	     tok = strtok_r(NULL, ",", &save))
		r.urls[r.n_urls++] = tok;
	if (r.n_urls == 0)
		return 2;
	block_loop_signals();
	r.start = now_s();
	end = seconds > 0 ? r.start + seconds : 0;
	if (!read_loop_connect(&r))
		return 1;
	r.last_good = now_s();
	next_progress = r.last_good + 0.5;
	printf("READY\n");
	fflush(stdout);
	while (collect_loop_signals(), !stop_requested && (end == 0 || now_s() < end)) {
		struct scsi_task *task;
		double t;

		if (lba + READ_BLOCKS > r.blocks)
			lba = 0;
		task = iscsi_read16_sync(r.iscsi, r.lun, lba, READ_BLOCKS * r.block_size,
					 (int)r.block_size, 0, 0, 0, 0, 0);
		t = now_s();
		if (task != NULL && task->status == SCSI_STATUS_GOOD) {
			double gap = t - r.last_good;

			if (gap > r.max_gap)
				r.max_gap = gap;
			if (gap > 0.5) {
				printf("gap t=%.3f ms=%.0f url=%s\n", since(&r, t), gap * 1000,
				       r.urls[r.current]);
			}
			r.last_good = t;
			r.reads++;
			r.last_check[0] = '\0';
			lba += READ_BLOCKS;
		} else if (task != NULL && task->status == SCSI_STATUS_CHECK_CONDITION) {
			outcome(task, r.iscsi, buf, sizeof(buf));
			/* Say each distinct condition once per run of them. */
			if (strcmp(buf, r.last_check) != 0) {
				printf("%s t=%.3f %s url=%s\n",
				       task->sense.key == SCSI_SENSE_UNIT_ATTENTION ? "ua" : "sense",
				       since(&r, t), buf + strlen("check "), r.urls[r.current]);
				snprintf(r.last_check, sizeof(r.last_check), "%s", buf);
			}
			if (task->sense.key == SCSI_SENSE_NOT_READY)
				sleep_ms(20);
			else if (task->sense.key != SCSI_SENSE_UNIT_ATTENTION) {
				r.errors++;
				sleep_ms(100);
			}
		} else {
			outcome(task, r.iscsi, buf, sizeof(buf));
			printf("lost t=%.3f url=%s %s\n", since(&r, t), r.urls[r.current], buf);
			fflush(stdout);
			if (task)
				scsi_free_scsi_task(task);
			task = NULL;
			close_session(r.iscsi);
			r.iscsi = NULL;
			r.current = (r.current + 1) % r.n_urls;
			r.reconnects++;
			if (!read_loop_connect(&r))
				break;
		}
		if (task)
			scsi_free_scsi_task(task);
		collect_loop_signals();
		if (mark_requested) {
			/* A phase ends: report its longest gap and start afresh. */
			mark_requested = false;
			printf("mark t=%.3f reads=%" PRIu64 " max_gap_ms=%.0f\n", since(&r, t), r.reads,
			       r.max_gap * 1000);
			if (r.max_gap > r.total_max_gap)
				r.total_max_gap = r.max_gap;
			r.max_gap = 0;
			fflush(stdout);
		}
		if (t >= next_progress) {
			read_loop_progress(&r, t);
			next_progress = t + 0.5;
		}
	}
	if (r.max_gap > r.total_max_gap)
		r.total_max_gap = r.max_gap;
	printf("summary reads=%" PRIu64 " max_gap_ms=%.0f phase_max_gap_ms=%.0f reconnects=%" PRIu64
	       " errors=%" PRIu64 "\n", r.reads, r.total_max_gap * 1000, r.max_gap * 1000,
	       r.reconnects, r.errors);
	fflush(stdout);
	close_session(r.iscsi);
	return r.reads > 0 && r.errors == 0 ? 0 : 1;
}

/* --- pr-latency ------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void report_latency(const char *name, double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	printf("%s n=%d median_ms=%.3f p99_ms=%.3f max_ms=%.3f\n", name, n, v[n / 2] * 1000,
	       v[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] * 1000, v[n - 1] * 1000);
}

/* N rounds of REGISTER, RESERVE (Write Exclusive), READ KEYS, each timed
 * from submission to status; RELEASE and unregister (untimed) between
 * rounds so each round starts from the same state. */
static int cmd_pr_latency(const char *url, int n)
{
	struct session s;
	char why[512], buf[256];
	double *lat[3];
	int rc = 1;
	const uint64_t key = 0xbe11c4;

	memset(&s, 0, sizeof(s));
	for (int i = 0; i < 3; i++)
		lat[i] = calloc((size_t)n, sizeof(double));
	if (!lat[0] || !lat[1] || !lat[2]) {
		say("out of memory");
		goto out;
	}
	s.iscsi = open_session(url, DEFAULT_INITIATOR, &s.lun, why, sizeof(why));
	if (s.iscsi == NULL) {
		say("%s", why);
		goto out;
	}
	for (int i = 0; i < CLEAR_UA_TRIES; i++) {
		struct scsi_task *task = iscsi_testunitready_sync(s.iscsi, s.lun);
		bool ua = is_unit_attention(task);

		if (task)
			scsi_free_scsi_task(task);
		if (!ua)
			break;
	}
	for (int i = 0; i < n; i++) {
		struct scsi_task *task;
		double t0;

		for (int op = 0; op < 5; op++) {
			t0 = now_s();
			switch (op) {
			case 0: task = pr_out(&s, SCSI_PERSISTENT_RESERVE_REGISTER_AND_IGNORE_EXISTING_KEY, 0, 0, key); break;
			case 1: task = pr_out(&s, SCSI_PERSISTENT_RESERVE_RESERVE, 1, key, 0); break;
			case 2: task = iscsi_persistent_reserve_in_sync(s.iscsi, s.lun,
									   SCSI_PERSISTENT_RESERVE_READ_KEYS, PR_IN_ALLOC); break;
			case 3: task = pr_out(&s, SCSI_PERSISTENT_RESERVE_RELEASE, 1, key, 0); break;
			default: task = pr_out(&s, SCSI_PERSISTENT_RESERVE_REGISTER, 0, key, 0); break;
			}
			if (op < 3)
				lat[op][i] = now_s() - t0;
			outcome(task, s.iscsi, buf, sizeof(buf));
			if (task)
				scsi_free_scsi_task(task);
			if (strcmp(buf, "ok") != 0) {
				say("round %d, operation %d: %s", i, op, buf);
				goto out;
			}
		}
	}
	report_latency("register", lat[0], n);
	report_latency("reserve", lat[1], n);
	report_latency("read-keys", lat[2], n);
	rc = 0;
out:
	close_session(s.iscsi);
	for (int i = 0; i < 3; i++)
		free(lat[i]);
	return rc;
}

/* --- main ------------------------------------------------------------- */


/* --- write-log / check-log: no acknowledged write is lost ----------------- */

/* A stamped block: the LBA, the generation, then bytes derived from both,
 * so a torn or stale block is told apart from the one acknowledged. */
static void stamp_block(unsigned char *b, uint32_t bs, uint64_t lba, uint64_t gen)
{
	for (int i = 0; i < 8; i++) {
		b[i] = (unsigned char)(lba >> (56 - 8 * i));
		b[8 + i] = (unsigned char)(gen >> (56 - 8 * i));
	}
	for (uint32_t i = 16; i < bs; i++)
		b[i] = (unsigned char)(lba * 131 + gen * 29 + i);
}

/* The generation a block holds, or 0 when it is not a whole stamped block
 * of this LBA (never written: zeros). */
static uint64_t stamp_of(const unsigned char *b, uint32_t bs, uint64_t lba)
{
	unsigned char want[4096];
	uint64_t gen = be64(b + 8);

	if (be64(b) != lba || gen == 0 || bs > sizeof(want))
		return 0;
	stamp_block(want, bs, lba, gen);
	return memcmp(want, b, bs) == 0 ? gen : 0;
}

/* Log in and learn the block size, past the unit attentions a new nexus
 * gets (power on, and whatever the cluster raised). */
static bool open_for_io(struct session *s, const char *url, char *why, size_t len)
{
	s->iscsi = open_session(url, DEFAULT_INITIATOR, &s->lun, why, len);
	if (s->iscsi == NULL)
		return false;
	for (int i = 0; i < CLEAR_UA_TRIES; i++) {
		struct scsi_task *task = iscsi_testunitready_sync(s->iscsi, s->lun);
		bool ua = is_unit_attention(task);

		if (task)
			scsi_free_scsi_task(task);
		if (!ua)
			break;
	}
	return block_size_of(s, why, len);
}

/* How write-log makes its writes durable before it calls them acked. */
struct durability {
	bool fua;              /* FUA bit on every write (SBC-4 5.41) */
	uint64_t sync_every;   /* SYNCHRONIZE CACHE after this many writes */
};

/* SYNCHRONIZE CACHE after the writes of generations [from, to): GOOD makes
 * them acked (SBC-4 4.15: written data in the volatile cache is made
 * durable). Returns false, with why, when it did not complete GOOD. */
static bool sync_written(struct session *s, uint64_t blocks, uint64_t from, uint64_t to,
			 char *why, size_t len)
{
	struct scsi_task *task = iscsi_synchronizecache10_sync(s->iscsi, s->lun, 0, 0, 0, 0);
	bool good = task != NULL && task->status == SCSI_STATUS_GOOD;

	outcome(task, s->iscsi, why, len);
	if (task)
		scsi_free_scsi_task(task);
	if (!good)
		return false;
	for (uint64_t g = from; g < to; g++)
		printf("acked %" PRIu64 " %" PRIu64 "\n", (g * 7919) % blocks, g);
	fflush(stdout);
	return true;
}

/* Write one block at a time, scattered over BLOCKS blocks, each with the
 * next generation from first_gen; print "sent LBA GEN" before and "acked
 * LBA GEN" once the write is durable: at GOOD status (plain or FUA
 * writes), or with --sync-every once a later SYNCHRONIZE CACHE completed
 * ("written LBA GEN" at GOOD before that). Ends (status 0) when the target
 * is lost or answers anything but GOOD ("stopped at generation G: why"),
 * after --seconds or after max_writes writes. */
static int cmd_write_log(const char *url, uint64_t blocks, double seconds, uint64_t first_gen,
			 uint64_t max_writes, const struct durability *dur)
{
	struct session s = { 0 };
	unsigned char data[4096];
	char why[256];
	double start = now_s();
	uint64_t gen, unsynced_from = first_gen;

	if (!open_for_io(&s, url, why, sizeof(why)) || s.block_size > sizeof(data)) {
		fprintf(stderr, "%s: %s\n", url, why);
		close_session(s.iscsi);
		return 1;
	}
	printf("READY\n");
	fflush(stdout);
	for (gen = first_gen; (seconds <= 0 || now_s() - start < seconds) &&
			      (max_writes == 0 || gen - first_gen < max_writes); gen++) {
		/* 7919 is prime: consecutive generations land far apart (and
		 * any BLOCKS consecutive ones cover every block if BLOCKS is
		 * not a multiple of 7919). */
		uint64_t lba = (gen * 7919) % blocks;
		struct scsi_task *task;

		stamp_block(data, s.block_size, lba, gen);
		printf("sent %" PRIu64 " %" PRIu64 "\n", lba, gen);
		fflush(stdout);
		task = iscsi_write16_sync(s.iscsi, s.lun, lba, data, s.block_size,
					  (int)s.block_size, 0, 0, dur->fua, 0, 0);
		outcome(task, s.iscsi, why, sizeof(why));
		if (task == NULL || task->status != SCSI_STATUS_GOOD) {
			printf("stopped at generation %" PRIu64 ": %s\n", gen, why);
			if (task)
				scsi_free_scsi_task(task);
			break;
		}
		scsi_free_scsi_task(task);
		if (dur->sync_every == 0) {
			printf("acked %" PRIu64 " %" PRIu64 "\n", lba, gen);
			unsynced_from = gen + 1;
		} else {
			printf("written %" PRIu64 " %" PRIu64 "\n", lba, gen);
		}
		fflush(stdout);
		if (dur->sync_every && gen + 1 - unsynced_from >= dur->sync_every) {
			if (!sync_written(&s, blocks, unsynced_from, gen + 1, why, sizeof(why))) {
				printf("stopped at SYNCHRONIZE CACHE after generation %" PRIu64 ": %s\n",
				       gen, why);
				unsynced_from = gen + 1;
				break;
			}
			unsynced_from = gen + 1;
		}
	}
	/* The writes since the last SYNCHRONIZE CACHE: one more, if the
	 * target still answers. */
	if (dur->sync_every && unsynced_from < gen &&
	    !sync_written(&s, blocks, unsynced_from, gen, why, sizeof(why)))
		printf("final SYNCHRONIZE CACHE: %s\n", why);
	fflush(stdout);
	close_session(s.iscsi);
	return 0;
}

struct acked { uint64_t lba, gen; };

static int cmp_acked(const void *a, const void *b)
{
	const struct acked *x = a, *y = b;

	if (x->lba != y->lba)
		return x->lba < y->lba ? -1 : 1;
	return x->gen < y->gen ? -1 : x->gen > y->gen;
}

/* Read back every block the log acknowledged: it must hold its last
 * acknowledged generation or a newer one (a write in flight when the
 * node died may have landed). Prints "checked N lost M". */
static int cmd_check_log(const char *url, const char *log_path)
{
	struct session s = { 0 };
	struct acked *acked = NULL;
	size_t n = 0, cap = 0, checked = 0, lost = 0;
	char line[256], why[256];
	FILE *f = fopen(log_path, "r");

	if (f == NULL) {
		fprintf(stderr, "%s: %s\n", log_path, strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof(line), f)) {
		struct acked a;

		if (sscanf(line, "acked %" SCNu64 " %" SCNu64, &a.lba, &a.gen) != 2)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 1024;
			acked = realloc(acked, cap * sizeof(*acked));
			if (acked == NULL) {
				fclose(f);
				return 1;
			}
		}
		acked[n++] = a;
	}
	fclose(f);
	qsort(acked, n, sizeof(*acked), cmp_acked);
	if (!open_for_io(&s, url, why, sizeof(why))) {
		fprintf(stderr, "%s: %s\n", url, why);
		close_session(s.iscsi);
		free(acked);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		struct scsi_task *task;
		uint64_t got;

		if (i + 1 < n && acked[i + 1].lba == acked[i].lba)
			continue;       /* only the last acknowledged generation */
		/* A unit attention or NOT READY while the group settles after a
		 * node's death is retried, as an initiator would (10 s). */
		for (int tries = 0;; tries++) {
			task = iscsi_read16_sync(s.iscsi, s.lun, acked[i].lba, s.block_size,
						 (int)s.block_size, 0, 0, 0, 0, 0);
			if (tries >= 50 || task == NULL || task->status != SCSI_STATUS_CHECK_CONDITION ||
			    (task->sense.key != SCSI_SENSE_UNIT_ATTENTION &&
			     task->sense.key != SCSI_SENSE_NOT_READY))
				break;
			scsi_free_scsi_task(task);
			sleep_ms(200);
		}
		outcome(task, s.iscsi, why, sizeof(why));
		if (task == NULL || task->status != SCSI_STATUS_GOOD ||
		    task->datain.size != (int)s.block_size) {
			fprintf(stderr, "read of LBA %" PRIu64 ": %s\n", acked[i].lba, why);
			if (task)
				scsi_free_scsi_task(task);
			close_session(s.iscsi);
			free(acked);
			return 1;
		}
		got = stamp_of(task->datain.data, s.block_size, acked[i].lba);
		checked++;
		if (got < acked[i].gen && ++lost <= 10) {
			fprintf(stderr, "LBA %" PRIu64 ": acknowledged generation %" PRIu64
				", found %" PRIu64 "\n", acked[i].lba, acked[i].gen, got);
		}
		scsi_free_scsi_task(task);
	}
	close_session(s.iscsi);
	free(acked);
	printf("checked %zu lost %zu\n", checked, lost);
	return lost == 0 && checked > 0 ? 0 : 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sangw-cluster-client [--timeout S] [--seconds S] COMMAND ARGS\n"
		"  session                 commands on stdin, one answer line each:\n"
		"                          'ok ...', 'check KEY/ASC/ASCQ', 'status 0xNN', 'timeout ...',\n"
		"                          'error ...'\n"
		"      open NAME URL [INITIATOR]   log in; pending UAs stay pending\n"
		"      close NAME | tur NAME | clear-ua NAME (TUR until GOOD)\n"
		"      register NAME KEY | unregister NAME KEY | clear NAME KEY\n"
		"      reserve NAME KEY TYPE | release NAME KEY TYPE\n"
		"      preempt NAME KEY VICTIM_KEY TYPE\n"
		"      read-keys NAME | read-reservation NAME | read-full-status NAME\n"
		"                          (ok gen=... keys=... raw=HEX of the parameter data)\n"
		"      write NAME LBA COUNT [SEED] | read NAME LBA COUNT [SEED] | sync NAME\n"
		"      rtpg NAME           (ok groups=ID:STATE,... ao an sb un of tr)\n"
		"      quit\n"
		"  read-loop URL[,URL...]  read until SIGTERM (or --seconds); on a lost\n"
		"                          connection log in through the next URL; SIGUSR1\n"
		"                          prints 'mark ... max_gap_ms' and starts a new phase\n"
		"  pr-latency URL N        N rounds of REGISTER, RESERVE, READ KEYS:\n"
		"                          median and p99 of each\n"
		"  write-log URL BLOCKS    write generation-stamped blocks over BLOCKS blocks\n"
		"                          until the target is lost (or --seconds); print\n"
		"                          'acked LBA GEN' for each acknowledged write ('sent\n"
		"                          LBA GEN' before it); --first-gen G [1], --writes N\n"
		"                          (stop after N writes); --fua: FUA on each write;\n"
		"                          --sync-every N: SYNCHRONIZE CACHE after every N\n"
		"                          writes, 'acked' only once it completed ('written'\n"
		"                          at GOOD before)\n"
		"  check-log URL LOG       read back every block LOG acknowledged: each must\n"
		"                          hold that generation or newer ('checked N lost M')\n"
		"  --timeout S             per-command timeout [10]\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "seconds", required_argument, NULL, 's' },
		{ "first-gen", required_argument, NULL, 'g' },
		{ "writes", required_argument, NULL, 'n' },
		{ "fua", no_argument, NULL, 'F' },
		{ "sync-every", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	double seconds = 0;
	uint64_t first_gen = 1, max_writes = 0;
	struct durability dur = { false, 0 };
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 't': timeout_s = atoi(optarg); break;
		case 's': seconds = strtod(optarg, NULL); break;
		case 'g': first_gen = strtoull(optarg, NULL, 10); break;
		case 'n': max_writes = strtoull(optarg, NULL, 10); break;
		case 'F': dur.fua = true; break;
		case 'S': dur.sync_every = strtoull(optarg, NULL, 10); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (timeout_s <= 0)
		timeout_s = 10;
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	/* A lost connection must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(argv[optind], "session") == 0 && argc - optind == 1)
		return cmd_session();
	if (strcmp(argv[optind], "read-loop") == 0 && argc - optind == 2)
		return cmd_read_loop(argv[optind + 1], seconds);
	if (strcmp(argv[optind], "write-log") == 0 && argc - optind == 3 && atoll(argv[optind + 2]) > 0)
		return cmd_write_log(argv[optind + 1], (uint64_t)atoll(argv[optind + 2]), seconds,
				     first_gen ? first_gen : 1, max_writes, &dur);
	if (strcmp(argv[optind], "check-log") == 0 && argc - optind == 3)
		return cmd_check_log(argv[optind + 1], argv[optind + 2]);
	if (strcmp(argv[optind], "pr-latency") == 0 && argc - optind == 3 && atoi(argv[optind + 2]) > 0)
		return cmd_pr_latency(argv[optind + 1], atoi(argv[optind + 2]));
	usage(stderr);
	return 2;
}
