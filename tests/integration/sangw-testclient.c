/* sangw-testclient: a small libiscsi initiator for the integration tests.
 *
 * It does what libiscsi's own tools cannot: assert that a login fails,
 * check unit attentions, write a pattern and read it back, print the LU's
 * NAA designator. Each subcommand exits 0 when the target behaved as
 * expected and 1 otherwise (2 on a usage error), and says why on stderr.
 *
 * URL is iscsi://[user[%password]@]host[:port]/target-iqn/lun; PORTAL is
 * iscsi://host[:port] or host[:port]. Run without arguments for usage. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
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

#define DEFAULT_INITIATOR "iqn.2026-11.org.sangw:testclient"
#define DEFAULT_TIMEOUT_S 10

struct options {
	const char *initiator;
	const char *user, *password;               /* one-way CHAP */
	const char *target_user, *target_password; /* mutual CHAP */
	const char *expect;          /* discover: this target must be listed */
	const char *expect_absent;   /* discover: this target must not be */
	const char *exec;            /* capacity-changed: run after login */
	const char *expect_status;   /* login-fail: acceptable status codes */
	bool allow_disconnect;       /* read-loop: losing the target is fine */
	uint64_t expect_blocks;      /* capacity-changed: new block count */
	uint32_t seed;               /* write/verify: pattern seed */
	int timeout_s;
	bool header_digest;
	bool quiet;
	bool aptpl;
};

/* --- context and login ------------------------------------------------ */

static struct iscsi_context *new_context(const struct options *o)
{
	struct iscsi_context *iscsi = iscsi_create_context(o->initiator);

	if (iscsi == NULL) {
		say("cannot create an iSCSI context");
		return NULL;
	}
	/* A test must fail, not hang or silently reconnect. */
	iscsi_set_noautoreconnect(iscsi, 1);
	iscsi_set_timeout(iscsi, o->timeout_s);
	iscsi_set_header_digest(iscsi, o->header_digest ? ISCSI_HEADER_DIGEST_CRC32C
						       : ISCSI_HEADER_DIGEST_NONE);
	return iscsi;
}

/* Credentials from the options win over those in the URL. */
static int set_credentials(struct iscsi_context *iscsi, const struct options *o,
			   const struct iscsi_url *url)
{
	const char *user = o->user ? o->user : (url && url->user[0] ? url->user : NULL);
	const char *pass = o->password ? o->password : (url ? url->passwd : "");
	const char *tuser = o->target_user ? o->target_user
					   : (url && url->target_user[0] ? url->target_user : NULL);
	const char *tpass = o->target_password ? o->target_password
					       : (url ? url->target_passwd : "");

	if (user != NULL && iscsi_set_initiator_username_pwd(iscsi, user, pass) != 0) {
		say("cannot set CHAP credentials: %s", iscsi_get_error(iscsi));
		return -1;
	}
	if (tuser != NULL && iscsi_set_target_username_pwd(iscsi, tuser, tpass) != 0) {
		say("cannot set mutual CHAP credentials: %s", iscsi_get_error(iscsi));
		return -1;
	}
	return 0;
}

/* Parse URL; a URL without "/lun" means LUN 0. */
static struct iscsi_url *parse_url(struct iscsi_context *iscsi, const char *text)
{
	struct iscsi_url *url = iscsi_parse_full_url(iscsi, text);
	char buf[1024];

	if (url == NULL) {
		snprintf(buf, sizeof(buf), "%s/0", text);
		url = iscsi_parse_full_url(iscsi, buf);
	}
	if (url == NULL)
		say("bad URL %s: %s", text, iscsi_get_error(iscsi));
	return url;
}

/* How far a failed login got: a refused TCP connection must never pass
 * for a refused login. */
enum login_stage { STAGE_SETUP, STAGE_CONNECT, STAGE_LOGIN };

/* Log in to the target and LUN of the URL. With clear_ua, libiscsi's full
 * connect also sends TEST UNIT READY until the power-on UA is consumed;
 * without it, the first command the caller sends sees any pending UA. */
static struct iscsi_context *login_stage(const char *url_text, const struct options *o,
					 bool clear_ua, int *lun, char *why, size_t whylen,
					 enum login_stage *stage)
{
	struct iscsi_context *iscsi = new_context(o);
	struct iscsi_url *url;
	int rc;

	*stage = STAGE_SETUP;

	if (iscsi == NULL) {
		snprintf(why, whylen, "no context");
		return NULL;
	}
	url = parse_url(iscsi, url_text);
	if (url == NULL) {
		snprintf(why, whylen, "bad URL");
		iscsi_destroy_context(iscsi);
		return NULL;
	}
	*lun = url->lun;
	if (set_credentials(iscsi, o, url) != 0)
		goto fail;
	iscsi_set_targetname(iscsi, url->target);
	iscsi_set_session_type(iscsi, ISCSI_SESSION_NORMAL);
	*stage = STAGE_CONNECT;
	if (clear_ua) {
		rc = iscsi_full_connect_sync(iscsi, url->portal, url->lun);
	} else {
		rc = iscsi_connect_sync(iscsi, url->portal);
		if (rc == 0) {
			*stage = STAGE_LOGIN;
			rc = iscsi_login_sync(iscsi);
		}
	}
	if (rc != 0)
		goto fail;
	iscsi_destroy_url(url);
	return iscsi;
fail:
	snprintf(why, whylen, "%s", iscsi_get_error(iscsi));
	iscsi_destroy_url(url);
	iscsi_destroy_context(iscsi);
	return NULL;
}

static struct iscsi_context *login(const char *url_text, const struct options *o,
				   bool clear_ua, int *lun, char *why, size_t whylen)
{
	enum login_stage stage;

	return login_stage(url_text, o, clear_ua, lun, why, whylen, &stage);
}

static void logout(struct iscsi_context *iscsi)
{
	if (iscsi_is_logged_in(iscsi))
		iscsi_logout_sync(iscsi);
	iscsi_disconnect(iscsi);
	iscsi_destroy_context(iscsi);
}

/* --- SCSI helpers ------------------------------------------------------- */

static void describe_task(const struct scsi_task *task, char *buf, size_t len)
{
	if (task == NULL)
		snprintf(buf, len, "no response (transport error)");
	else if (task->status == SCSI_STATUS_CHECK_CONDITION)
		snprintf(buf, len, "CHECK CONDITION key 0x%x asc/ascq 0x%04x",
			 (unsigned)task->sense.key, (unsigned)task->sense.ascq);
	else
		snprintf(buf, len, "status 0x%02x", (unsigned)task->status);
}

static bool task_good(struct scsi_task *task, const char *what, struct iscsi_context *iscsi)
{
	char buf[128];

	if (task != NULL && task->status == SCSI_STATUS_GOOD)
		return true;
	describe_task(task, buf, sizeof(buf));
	say("%s failed: %s%s%s", what, buf, task == NULL ? ": " : "",
	    task == NULL ? iscsi_get_error(iscsi) : "");
	return false;
}

static bool read_capacity(struct iscsi_context *iscsi, int lun, uint64_t *blocks,
			  uint32_t *block_size)
{
	struct scsi_task *task = iscsi_readcapacity16_sync(iscsi, lun);
	bool ok = task_good(task, "READ CAPACITY(16)", iscsi);

	/* SBC-3 READ CAPACITY (16) data: the last LBA, then the block length. */
	if (ok && task->datain.size >= 12) {
		const uint8_t *d = task->datain.data;
		uint64_t last = 0;

		for (int i = 0; i < 8; i++)
			last = (last << 8) | d[i];
		*blocks = last + 1;
		*block_size = (uint32_t)d[8] << 24 | (uint32_t)d[9] << 16 |
			      (uint32_t)d[10] << 8 | d[11];
	} else if (ok) {
		say("READ CAPACITY(16) returned %d bytes", task->datain.size);
		ok = false;
	}
	if (task)
		scsi_free_scsi_task(task);
	return ok;
}

/* A pattern that differs per block, per seed and per byte, so misplaced or
 * stale blocks are caught, not just missing data. */
static void fill_pattern(uint8_t *buf, uint64_t lba, uint32_t blocks, uint32_t bs, uint32_t seed)
{
	for (uint32_t b = 0; b < blocks; b++) {
		uint64_t x = (lba + b) * 0x9e3779b97f4a7c15ULL ^ ((uint64_t)seed << 17) ^ 0x5a5a;

		for (uint32_t i = 0; i < bs; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[(size_t)b * bs + i] = (uint8_t)x;
		}
	}
}

static bool write_blocks(struct iscsi_context *iscsi, int lun, uint64_t lba,
			 uint32_t count, uint32_t bs, uint8_t *data)
{
	struct scsi_task *task = iscsi_write16_sync(iscsi, lun, lba, data, count * bs,
						    (int)bs, 0, 0, 0, 0, 0);
	bool ok = task_good(task, "WRITE(16)", iscsi);

	if (task)
		scsi_free_scsi_task(task);
	return ok;
}

static bool read_blocks(struct iscsi_context *iscsi, int lun, uint64_t lba,
			uint32_t count, uint32_t bs, uint8_t *out)
{
	struct scsi_task *task = iscsi_read16_sync(iscsi, lun, lba, count * bs, (int)bs,
						   0, 0, 0, 0, 0);
	bool ok = task_good(task, "READ(16)", iscsi);

	if (ok && task->datain.size != (int)(count * bs)) {
		say("READ(16) returned %d bytes, expected %u", task->datain.size, count * bs);
		ok = false;
	}
	if (ok)
		memcpy(out, task->datain.data, (size_t)count * bs);
	if (task)
		scsi_free_scsi_task(task);
	return ok;
}

static bool compare_blocks(const uint8_t *got, const uint8_t *want, uint64_t lba,
			   uint32_t count, uint32_t bs)
{
	for (size_t i = 0; i < (size_t)count * bs; i++) {
		if (got[i] != want[i]) {
			say("data mismatch at LBA %" PRIu64 " byte %zu: got 0x%02x, expected 0x%02x",
			    lba + i / bs, i % bs, got[i], want[i]);
			return false;
		}
	}
	return true;
}

/* --- subcommands ------------------------------------------------------ */

/* libiscsi reports a refused login as "... Status: <text>(<decimal>)". */
static int login_status_of(const char *why)
{
	const char *p = strstr(why, "Status:");
	const char *open = p ? strrchr(p, '(') : NULL;

	return open ? atoi(open + 1) : -1;
}

/* expect_status: comma-separated login status codes (RFC 7143 11.13.5),
 * e.g. "0x0201" or "0x0202,0x0203"; NULL accepts any refusal. */
static bool status_expected(const char *expect_status, int status)
{
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", expect_status);
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (strtol(tok, NULL, 0) == status)
			return true;
	return false;
}

static int cmd_login(const char *url, const struct options *o, bool expect_success)
{
	char why[512];
	int lun, status;
	enum login_stage stage;
	struct iscsi_context *iscsi = login_stage(url, o, false, &lun, why, sizeof(why), &stage);

	if (iscsi != NULL) {
		logout(iscsi);
		if (expect_success) {
			if (!o->quiet)
				printf("login to %s succeeded\n", url);
			return 0;
		}
		say("login to %s succeeded but should have been refused", url);
		return 1;
	}
	if (expect_success) {
		say("login to %s failed: %s", url, why);
		return 1;
	}
	if (stage != STAGE_LOGIN) {
		say("could not even reach %s: %s", url, why);
		return 1;
	}
	status = login_status_of(why);
	if (o->expect_status != NULL && !status_expected(o->expect_status, status)) {
		say("login to %s refused with status 0x%04x (%s), expected %s",
		    url, status < 0 ? 0 : status, why, o->expect_status);
		return 1;
	}
	if (!o->quiet)
		printf("login to %s refused as expected: %s\n", url, why);
	return 0;
}

/* Accept "iscsi://host:port", "iscsi://host:port/" and "host:port". */
static void portal_of(const char *text, char *out, size_t len)
{
	const char *p = strncmp(text, "iscsi://", 8) == 0 ? text + 8 : text;
	const char *at = strchr(p, '@');

	if (at != NULL)
		p = at + 1;
	snprintf(out, len, "%s", p);
	out[strcspn(out, "/")] = '\0';
}

static int cmd_discover(const char *portal_text, const struct options *o)
{
	struct iscsi_context *iscsi = new_context(o);
	struct iscsi_discovery_address *list, *a;
	struct iscsi_url *url = NULL;
	char portal[512];
	bool seen_expected = false, seen_absent = false;

	if (iscsi == NULL)
		return 1;
	if (strncmp(portal_text, "iscsi://", 8) == 0)
		url = iscsi_parse_portal_url(iscsi, portal_text);
	portal_of(portal_text, portal, sizeof(portal));
	if (set_credentials(iscsi, o, url) != 0)
		goto fail;
	iscsi_set_session_type(iscsi, ISCSI_SESSION_DISCOVERY);
	if (iscsi_connect_sync(iscsi, portal) != 0 || iscsi_login_sync(iscsi) != 0) {
		say("discovery login to %s failed: %s", portal, iscsi_get_error(iscsi));
		goto fail;
	}
	list = iscsi_discovery_sync(iscsi);
	if (list == NULL && iscsi_get_error(iscsi)[0] != '\0' &&
	    !iscsi_is_logged_in(iscsi)) {
		say("SendTargets failed: %s", iscsi_get_error(iscsi));
		goto fail;
	}
	for (a = list; a != NULL; a = a->next) {
		for (struct iscsi_target_portal *p = a->portals; p != NULL; p = p->next)
			printf("%s %s\n", a->target_name, p->portal);
		if (a->portals == NULL)
			printf("%s\n", a->target_name);
		if (o->expect && strcmp(a->target_name, o->expect) == 0)
			seen_expected = true;
		if (o->expect_absent && strcmp(a->target_name, o->expect_absent) == 0)
			seen_absent = true;
	}
	if (list)
		iscsi_free_discovery_data(iscsi, list);
	if (url)
		iscsi_destroy_url(url);
	logout(iscsi);
	if (o->expect && !seen_expected) {
		say("discovery did not list %s", o->expect);
		return 1;
	}
	if (o->expect_absent && seen_absent) {
		say("discovery listed %s, which this initiator may not access", o->expect_absent);
		return 1;
	}
	return 0;
fail:
	if (url)
		iscsi_destroy_url(url);
	iscsi_destroy_context(iscsi);
	return 1;
}

enum io_mode { IO_WRITE_READ, IO_WRITE, IO_VERIFY, IO_ZEROS };

static int cmd_io(const char *url, const char *lba_text, const char *count_text,
		  const struct options *o, enum io_mode mode)
{
	char why[512];
	int lun, rc = 1;
	uint64_t blocks, lba = strtoull(lba_text, NULL, 0);
	uint32_t bs, count = (uint32_t)strtoul(count_text, NULL, 0);
	uint8_t *want = NULL, *got = NULL;
	struct iscsi_context *iscsi = login(url, o, true, &lun, why, sizeof(why));

	if (iscsi == NULL) {
		say("login to %s failed: %s", url, why);
		return 1;
	}
	if (!read_capacity(iscsi, lun, &blocks, &bs))
		goto out;
	if (count == 0 || lba + count > blocks) {
		say("LBA %" PRIu64 " + %u blocks is outside the LU (%" PRIu64 " blocks)",
		    lba, count, blocks);
		goto out;
	}
	want = malloc((size_t)count * bs);
	got = malloc((size_t)count * bs);
	if (want == NULL || got == NULL) {
		say("out of memory");
		goto out;
	}
	if (mode == IO_ZEROS)
		memset(want, 0, (size_t)count * bs);
	else
		fill_pattern(want, lba, count, bs, o->seed);
	if ((mode == IO_WRITE_READ || mode == IO_WRITE) &&
	    !write_blocks(iscsi, lun, lba, count, bs, want))
		goto out;
	if (mode != IO_WRITE) {
		if (!read_blocks(iscsi, lun, lba, count, bs, got))
			goto out;
		if (!compare_blocks(got, want, lba, count, bs))
			goto out;
	}
	if (!o->quiet)
		printf("%s: %u blocks of %u bytes at LBA %" PRIu64 " ok\n",
		       mode == IO_WRITE ? "write" : mode == IO_VERIFY ? "verify"
		       : mode == IO_ZEROS ? "read-zeros" : "write-read", count, bs, lba);
	rc = 0;
out:
	free(want);
	free(got);
	logout(iscsi);
	return rc;
}

/* SAM-5 unit attention conditions: the first command on a new I_T nexus gets
 * UNIT ATTENTION, POWER ON, RESET, OR BUS DEVICE RESET OCCURRED (29/xx). */
static int cmd_ua_check(const char *url, const struct options *o)
{
	char why[512], buf[128];
	int lun, rc = 1;
	struct iscsi_context *iscsi = login(url, o, false, &lun, why, sizeof(why));
	struct scsi_task *task;

	if (iscsi == NULL) {
		say("login to %s failed: %s", url, why);
		return 1;
	}
	task = iscsi_testunitready_sync(iscsi, lun);
	describe_task(task, buf, sizeof(buf));
	if (task != NULL && task->status == SCSI_STATUS_CHECK_CONDITION &&
	    task->sense.key == SCSI_SENSE_UNIT_ATTENTION && (task->sense.ascq >> 8) == 0x29) {
		if (!o->quiet)
			printf("first command after login: %s (as expected)\n", buf);
		rc = 0;
	} else {
		say("first command after login: %s; expected UNIT ATTENTION 29/xx", buf);
	}
	if (task)
		scsi_free_scsi_task(task);
	if (rc == 0) {
		/* A unit attention is reported once; the next TUR is GOOD. */
		task = iscsi_testunitready_sync(iscsi, lun);
		if (!task_good(task, "TEST UNIT READY after the unit attention", iscsi))
			rc = 1;
		if (task)
			scsi_free_scsi_task(task);
	}
	logout(iscsi);
	return rc;
}

/* Poll TEST UNIT READY until UNIT ATTENTION, CAPACITY DATA HAS CHANGED
 * (SBC-3; 2A/09) arrives, then check READ CAPACITY shows the change. */
static int cmd_capacity_changed(const char *url, const struct options *o)
{
	char why[512], buf[128];
	int lun, rc = 1;
	uint64_t blocks_before, blocks_after;
	uint32_t bs;
	double deadline;
	struct iscsi_context *iscsi = login(url, o, true, &lun, why, sizeof(why));

	if (iscsi == NULL) {
		say("login to %s failed: %s", url, why);
		return 1;
	}
	if (!read_capacity(iscsi, lun, &blocks_before, &bs))
		goto out;
	if (o->exec != NULL) {
		int st = system(o->exec);

		if (st != 0) {
			say("command \"%s\" failed (status %d)", o->exec, st);
			goto out;
		}
	} else {
		printf("READY %" PRIu64 "\n", blocks_before);
		fflush(stdout);
	}
	deadline = now_s() + o->timeout_s;
	for (;;) {
		struct scsi_task *task = iscsi_testunitready_sync(iscsi, lun);

		describe_task(task, buf, sizeof(buf));
		if (task == NULL) {
			say("TEST UNIT READY: %s: %s", buf, iscsi_get_error(iscsi));
			goto out;
		}
		if (task->status == SCSI_STATUS_CHECK_CONDITION &&
		    task->sense.key == SCSI_SENSE_UNIT_ATTENTION &&
		    task->sense.ascq == SCSI_SENSE_ASCQ_CAPACITY_DATA_HAS_CHANGED) {
			scsi_free_scsi_task(task);
			break;
		}
		scsi_free_scsi_task(task);
		if (strncmp(buf, "status 0x00", 11) != 0) {
			say("TEST UNIT READY: %s while waiting for 2A/09", buf);
			goto out;
		}
		if (now_s() > deadline) {
			say("no CAPACITY DATA HAS CHANGED unit attention within %d s", o->timeout_s);
			goto out;
		}
		sleep_ms(100);
	}
	if (!read_capacity(iscsi, lun, &blocks_after, &bs))
		goto out;
	if (o->expect_blocks != 0 && blocks_after != o->expect_blocks) {
		say("capacity is %" PRIu64 " blocks after the change, expected %" PRIu64,
		    blocks_after, o->expect_blocks);
		goto out;
	}
	if (blocks_after == blocks_before) {
		say("capacity data changed UA but READ CAPACITY still shows %" PRIu64 " blocks",
		    blocks_after);
		goto out;
	}
	if (!o->quiet)
		printf("CAPACITY DATA HAS CHANGED seen; %" PRIu64 " -> %" PRIu64 " blocks\n",
		       blocks_before, blocks_after);
	rc = 0;
out:
	logout(iscsi);
	return rc;
}

static int cmd_tur(const char *url, const struct options *o)
{
	char why[512];
	int lun, rc;
	struct iscsi_context *iscsi = login(url, o, true, &lun, why, sizeof(why));
	struct scsi_task *task;

	if (iscsi == NULL) {
		say("login to %s failed: %s", url, why);
		return 1;
	}
	task = iscsi_testunitready_sync(iscsi, lun);
	rc = task_good(task, "TEST UNIT READY", iscsi) ? 0 : 1;
	if (task)
		scsi_free_scsi_task(task);
	logout(iscsi);
	return rc;
}

static int cmd_read_capacity(const char *url, const struct options *o)
{
	char why[512];
	int lun, rc = 1;
	uint64_t blocks;
	uint32_t bs;
	struct iscsi_context *iscsi = login(url, o, true, &lun, why, sizeof(why));

	if (iscsi == NULL) {
		say("login to %s failed: %s", url, why);
		return 1;
	}
	if (read_capacity(iscsi, lun, &blocks, &bs)) {
		printf("%" PRIu64 " %u\n", blocks, bs);
		rc = 0;
	}
	logout(iscsi);
	return rc;
}

static int cmd_report_luns(const char *url, const struct options *o)
{
	char why[512];
	int lun, rc = 1;
	struct iscsi_context *iscsi = login(url, o, true, &lun, why, sizeof(why));
	struct scsi_task *task;

	if (iscsi == NULL) {
		say("login to %s failed: %s", url, why);
		return 1;
	}
	task = iscsi_reportluns_sync(iscsi, 0, 16384);
	if (task_good(task, "REPORT LUNS", iscsi)) {
		/* SPC-4 REPORT LUNS data: list length, 4 reserved bytes, 8 per LUN. */
		const uint8_t *d = task->datain.data;
		uint32_t len = task->datain.size >= 4 ?
			(uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3] : 0;

		for (uint32_t off = 8; off + 8 <= 8 + len && off + 8 <= (uint32_t)task->datain.size;
		     off += 8) {
			unsigned method = d[off] >> 6;
			unsigned n = method == 1 ? ((d[off] & 0x3fu) << 8 | d[off + 1]) : d[off + 1];

			printf("%u\n", n);
		}
		rc = 0;
	}
	if (task)
		scsi_free_scsi_task(task);
	logout(iscsi);
	return rc;
}

/* Print the LU's first NAA designator of VPD page 0x83 (SPC-4 Device
 * Identification) as "naa.<hex>" so scripts can compare it across restarts. */
static int cmd_inquiry_vpd83(const char *url, const struct options *o)
{
	char why[512];
	int lun, rc = 1;
	struct iscsi_context *iscsi = login(url, o, true, &lun, why, sizeof(why));
	struct scsi_task *task;

	if (iscsi == NULL) {
		say("login to %s failed: %s", url, why);
		return 1;
	}
	task = iscsi_inquiry_sync(iscsi, lun, 1, 0x83, 4096);
	if (task_good(task, "INQUIRY VPD 0x83", iscsi)) {
		const uint8_t *d = task->datain.data;
		int size = task->datain.size;
		int end = size >= 4 ? 4 + (d[2] << 8 | d[3]) : 0;

		if (end > size)
			end = size;
		if (size < 4 || d[1] != 0x83) {
			say("INQUIRY returned no VPD page 0x83");
			end = 0;
		}
		for (int off = 4; off + 4 <= end; off += 4 + d[off + 3]) {
			int len = d[off + 3];

			if ((d[off + 1] & 0x0f) != 3 || off + 4 + len > end)
				continue;       /* not an NAA designator */
			/* Only the LU's own designator (association 0). */
			if (((d[off + 1] >> 4) & 3) != 0)
				continue;
			printf("naa.");
			for (int i = 0; i < len; i++)
				printf("%02x", d[off + 4 + i]);
			printf("\n");
			rc = 0;
			break;
		}
		if (rc != 0 && end != 0)
			say("VPD page 0x83 has no NAA designator for the LU");
	}
	if (task)
		scsi_free_scsi_task(task);
	logout(iscsi);
	return rc;
}

/* Read in a loop for SECONDS. Prints READY after the first good read, and
 * the number of reads done at the end. Every read must succeed, unless --allow-disconnect says
 * the caller is stopping the target: then one good read is enough. */
static int cmd_read_loop(const char *url, const char *seconds_text, const struct options *o)
{
	char why[512], buf[128];
	int lun, rc = 0;
	uint64_t blocks, done = 0;
	uint32_t bs;
	double end = now_s() + strtod(seconds_text, NULL);
	struct iscsi_context *iscsi = login(url, o, true, &lun, why, sizeof(why));

	if (iscsi == NULL) {
		say("login to %s failed: %s", url, why);
		return 1;
	}
	if (!read_capacity(iscsi, lun, &blocks, &bs)) {
		logout(iscsi);
		return 1;
	}
	while (now_s() < end) {
		uint64_t lba = (done * 8) % (blocks > 8 ? blocks - 8 : 1);
		struct scsi_task *task = iscsi_read16_sync(iscsi, lun, lba, 8 * bs, (int)bs,
							   0, 0, 0, 0, 0);

		if (task == NULL || task->status != SCSI_STATUS_GOOD) {
			describe_task(task, buf, sizeof(buf));
			if (!o->allow_disconnect) {
				say("read %" PRIu64 " failed: %s%s%s", done + 1, buf,
				    task == NULL ? ": " : "", task == NULL ? iscsi_get_error(iscsi) : "");
				rc = 1;
			}
			if (task)
				scsi_free_scsi_task(task);
			break;
		}
		scsi_free_scsi_task(task);
		if (done++ == 0) {
			printf("READY\n");     /* logged in and reading */
			fflush(stdout);
		}
	}
	printf("reads %" PRIu64 "\n", done);
	logout(iscsi);
	return rc == 0 && done > 0 ? 0 : 1;
}

/* --- main ------------------------------------------------------------- */

static void short_usage(void)
{
	fprintf(stderr, "usage: sangw-testclient COMMAND ARGS [OPTIONS]; --help lists them\n");
}

/* PERSISTENT RESERVE OUT REGISTER then RESERVE (SPC-4 6.16), optionally
 * with APTPL so the state must survive a restart of the target. */
static int cmd_pr_register_reserve(const char *url, const char *key_text, const char *type_text,
				   const struct options *o)
{
	struct scsi_persistent_reserve_out_basic params;
	struct scsi_task *task;
	char why[512];
	int lun, rc = 1;
	uint64_t key = strtoull(key_text, NULL, 0);
	int type = atoi(type_text);
	struct iscsi_context *iscsi = login(url, o, true, &lun, why, sizeof(why));

	if (iscsi == NULL) {
		say("login to %s failed: %s", url, why);
		return 1;
	}
	memset(&params, 0, sizeof(params));
	params.service_action_reservation_key = key;
	params.aptpl = o->aptpl ? 1 : 0;
	task = iscsi_persistent_reserve_out_sync(iscsi, lun, SCSI_PERSISTENT_RESERVE_REGISTER_AND_IGNORE_EXISTING_KEY,
						 SCSI_PERSISTENT_RESERVE_SCOPE_LU, 0, &params);
	if (task_good(task, "PERSISTENT RESERVE OUT REGISTER", iscsi)) {
		scsi_free_scsi_task(task);
		memset(&params, 0, sizeof(params));
		params.reservation_key = key;
		params.aptpl = o->aptpl ? 1 : 0;
		task = iscsi_persistent_reserve_out_sync(iscsi, lun, SCSI_PERSISTENT_RESERVE_RESERVE,
							 SCSI_PERSISTENT_RESERVE_SCOPE_LU, type, &params);
		if (task_good(task, "PERSISTENT RESERVE OUT RESERVE", iscsi))
			rc = 0;
	}
	if (task)
		scsi_free_scsi_task(task);
	logout(iscsi);
	return rc;
}

/* SPC-2 RESERVE(6) through one session, a TEST UNIT READY through a
 * second (another initiator, logged in all along) that must meet
 * RESERVATION CONFLICT, the holder's logout, and at once the same TEST
 * UNIT READY again, which must be GOOD: once the Logout Response is in,
 * the holder's I_T nexus is gone and its reservation with it (SAM-5
 * 6.3.4, SPC-2 5.5.1). ROUNDS times, since it is a race when the target
 * answers the logout before the release is in effect. */
static int cmd_reserve_logout(const char *url, const char *rounds_text, const struct options *o)
{
	struct options holder_opts = *o;
	char holder_name[300], why[512];
	int lun, rounds = atoi(rounds_text), rc = 1;
	struct iscsi_context *other, *holder;
	struct scsi_task *task;

	snprintf(holder_name, sizeof(holder_name), "%s-holder", o->initiator);
	holder_opts.initiator = holder_name;
	other = login(url, o, true, &lun, why, sizeof(why));
	if (other == NULL) {
		say("login to %s failed: %s", url, why);
		return 1;
	}
	for (int i = 0; i < rounds; i++) {
		holder = login(url, &holder_opts, true, &lun, why, sizeof(why));
		if (holder == NULL) {
			say("round %d: login of %s failed: %s", i, holder_name, why);
			goto out;
		}
		task = iscsi_reserve6_sync(holder, lun);
		if (!task_good(task, "RESERVE(6)", holder)) {
			if (task)
				scsi_free_scsi_task(task);
			logout(holder);
			goto out;
		}
		scsi_free_scsi_task(task);
		task = iscsi_testunitready_sync(other, lun);
		if (task == NULL || task->status != SCSI_STATUS_RESERVATION_CONFLICT) {
			describe_task(task, why, sizeof(why));
			say("round %d: TEST UNIT READY while another nexus holds the reservation: %s "
			    "(expected RESERVATION CONFLICT)", i, why);
			if (task)
				scsi_free_scsi_task(task);
			logout(holder);
			goto out;
		}
		scsi_free_scsi_task(task);
		if (iscsi_logout_sync(holder) != 0) {
			say("round %d: logout of the holder failed: %s", i, iscsi_get_error(holder));
			iscsi_destroy_context(holder);
			goto out;
		}
		task = iscsi_testunitready_sync(other, lun);
		iscsi_disconnect(holder);
		iscsi_destroy_context(holder);
		if (!task_good(task, "TEST UNIT READY right after the holder's Logout Response", other)) {
			say("round %d of %d: the logged-out nexus' reservation was still in effect", i,
			    rounds);
			if (task)
				scsi_free_scsi_task(task);
			goto out;
		}
		scsi_free_scsi_task(task);
	}
	if (!o->quiet)
		printf("%d rounds: the reservation ended with the holder's logout every time\n", rounds);
	rc = 0;
out:
	logout(other);
	return rc;
}

/* Print the registered keys and the reservation as one line each, for
 * scripts to compare: "keys 0x1 0x2" and "reservation 0x1 type 1" or
 * "reservation none". */
static int cmd_pr_show(const char *url, const struct options *o)
{
	struct scsi_task *task;
	char why[512];
	int lun, rc = 1;
	struct iscsi_context *iscsi = login(url, o, true, &lun, why, sizeof(why));

	if (iscsi == NULL) {
		say("login to %s failed: %s", url, why);
		return 1;
	}
	task = iscsi_persistent_reserve_in_sync(iscsi, lun, SCSI_PERSISTENT_RESERVE_READ_KEYS, 8192);
	if (task_good(task, "PERSISTENT RESERVE IN READ KEYS", iscsi)) {
		struct scsi_persistent_reserve_in_read_keys *rk = scsi_datain_unmarshall(task);
		if (rk) {
			printf("keys");
			for (int i = 0; i < rk->num_keys; i++)
				printf(" 0x%" PRIx64, rk->keys[i]);
			printf("\n");
			rc = 0;
		}
	}
	if (task)
		scsi_free_scsi_task(task);
	task = rc ? NULL : iscsi_persistent_reserve_in_sync(iscsi, lun, SCSI_PERSISTENT_RESERVE_READ_RESERVATION, 8192);
	if (task && task_good(task, "PERSISTENT RESERVE IN READ RESERVATION", iscsi)) {
		struct scsi_persistent_reserve_in_read_reservation *rr = scsi_datain_unmarshall(task);
		if (rr && rr->reserved)
			printf("reservation 0x%" PRIx64 " type %u\n", rr->reservation_key, rr->pr_type);
		else if (rr)
			printf("reservation none\n");
		else
			rc = 1;
	} else {
		rc = 1;
	}
	if (task)
		scsi_free_scsi_task(task);
	logout(iscsi);
	return rc;
}

/* --- caw-increment: a counter kept with COMPARE AND WRITE -------------
 * The counter is the first 8 bytes (big-endian) of block LBA; the rest of
 * the block is zero. Each increment reads the block and sends COMPARE AND
 * WRITE (SBC-3 5.2) with what it read as the verify data and the counter +
 * 1 as the write data; MISCOMPARE means another client got there first:
 * read again and retry. With clients on several nodes at once, the final
 * value equals the sum of their successful COMPARE AND WRITEs only if no
 * two of them ever compared against the same value, i.e. if COMPARE AND
 * WRITE is atomic across the nodes. COUNT 0 only prints the counter. */

static uint64_t counter_of(const uint8_t *block)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | block[i];
	return v;
}

static void counter_set(uint8_t *block, uint32_t bs, uint64_t v)
{
	memset(block, 0, bs);
	for (int i = 7; i >= 0; i--, v >>= 8)
		block[i] = (uint8_t)v;
}

static bool is_unit_attention(const struct scsi_task *task)
{
	return task && task->status == SCSI_STATUS_CHECK_CONDITION &&
	       task->sense.key == SCSI_SENSE_UNIT_ATTENTION;
}

/* READ(16) of one block, retried after unit attentions as an initiator
 * does (another node leaving or returning raises 2A/06). */
static bool caw_read_block(struct iscsi_context *iscsi, int lun, uint64_t lba, uint32_t bs,
			   uint8_t *out)
{
	for (int tries = 0; tries < 10; tries++) {
		struct scsi_task *task = iscsi_read16_sync(iscsi, lun, lba, bs, (int)bs, 0, 0, 0, 0, 0);
		bool ua = is_unit_attention(task);
		bool ok = !ua && task_good(task, "READ(16)", iscsi) && task->datain.size == (int)bs;

		if (ok)
			memcpy(out, task->datain.data, bs);
		if (task)
			scsi_free_scsi_task(task);
		if (!ua)
			return ok;
	}
	say("READ(16): unit attentions without end");
	return false;
}

static int cmd_caw_increment(const char *url, const char *lba_text, const char *count_text,
			     const struct options *o)
{
	uint64_t lba = strtoull(lba_text, NULL, 0), blocks, done = 0, miscompares = 0;
	unsigned long count = strtoul(count_text, NULL, 0);
	uint8_t *pair = NULL;
	uint32_t bs = 0;
	char why[256];
	int lun, rc = 1;
	struct iscsi_context *iscsi = login(url, o, true, &lun, why, sizeof(why));

	if (!iscsi) {
		say("login to %s failed: %s", url, why);
		return 1;
	}
	if (!read_capacity(iscsi, lun, &blocks, &bs) || lba >= blocks)
		goto out;
	pair = malloc(2 * (size_t)bs);
	if (!pair)
		goto out;
	while (done < count) {
		struct scsi_task *task;

		if (!caw_read_block(iscsi, lun, lba, bs, pair))
			goto out;
		counter_set(pair + bs, bs, counter_of(pair) + 1);
		task = iscsi_compareandwrite_sync(iscsi, lun, lba, pair, 2 * bs, (int)bs,
						  0, 0, 0, 0, 0);
		if (task && task->status == SCSI_STATUS_CHECK_CONDITION &&
		    task->sense.key == SCSI_SENSE_MISCOMPARE) {
			miscompares++;
		} else if (is_unit_attention(task)) {
			/* Not executed (SAM-5 5.14): read again and retry. */
		} else if (!task_good(task, "COMPARE AND WRITE", iscsi)) {
			if (task)
				scsi_free_scsi_task(task);
			goto out;
		} else {
			done++;
		}
		if (task)
			scsi_free_scsi_task(task);
	}
	if (!caw_read_block(iscsi, lun, lba, bs, pair))
		goto out;
	printf("caws %" PRIu64 " miscompares %" PRIu64 " counter %" PRIu64 "\n", done, miscompares,
	       counter_of(pair));
	rc = 0;
out:
	free(pair);
	logout(iscsi);
	return rc;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sangw-testclient COMMAND ARGS [OPTIONS]\n"
		"commands (exit 0 when the target behaved as expected):\n"
		"  login URL                 log in (and out); expect success\n"
		"  login-fail URL            expect the login to be refused\n"
		"                            [--expect-status 0x0201[,0x0202...]]\n"
		"  discover PORTAL           SendTargets; print 'IQN ADDR:PORT,TPGT' lines\n"
		"                            [--expect IQN] [--expect-absent IQN]\n"
		"  write-read URL LBA COUNT  write a pattern, read it back, compare\n"
		"  write URL LBA COUNT       write the pattern of --seed\n"
		"  verify URL LBA COUNT      read back and compare with the pattern of --seed\n"
		"  read-zeros URL LBA COUNT  expect COUNT blocks of zeros\n"
		"  ua-check URL              first command after login gets UNIT ATTENTION 29/xx\n"
		"  capacity-changed URL      expect UNIT ATTENTION 2A/09 after --exec CMD runs\n"
		"                            (without --exec: print READY and wait for it)\n"
		"                            [--expect-blocks N]\n"
		"  tur URL                   TEST UNIT READY is GOOD\n"
		"  read-capacity URL         print 'BLOCKS BLOCK_SIZE'\n"
		"  report-luns URL           print the LUNs, one a line\n"
		"  inquiry-vpd83 URL         print the LU's NAA designator\n"
		"  pr-register-reserve URL KEY TYPE [--aptpl]\n"
		"                            register KEY and reserve with TYPE (1 WE, 3 EA, ...)\n"
		"  reserve-logout URL ROUNDS RESERVE(6) by INITIATOR-holder, its logout, then\n"
		"                            TEST UNIT READY by INITIATOR at once: GOOD each round\n"
		"  pr-show URL               print registered keys and the reservation\n"
		"  caw-increment URL LBA COUNT\n"
		"                            add 1 to the counter in block LBA COUNT times with\n"
		"                            COMPARE AND WRITE (retrying on MISCOMPARE); print\n"
		"                            'caws N miscompares M counter V'\n"
		"  read-loop URL SECONDS     read for SECONDS; every read must succeed\n"
		"                            [--allow-disconnect: the target may go away]\n"
		"options:\n"
		"  --initiator IQN           initiator name [" DEFAULT_INITIATOR "]\n"
		"  --user U --password P     CHAP (also from URL user%%password@)\n"
		"  --target-user U --target-password P   mutual CHAP\n"
		"  --header-digest           negotiate HeaderDigest=CRC32C\n"
		"  --seed N                  pattern seed for write/verify [1]\n"
		"  --timeout S               per-command and wait timeout [%d]\n"
		"  --quiet                   print only what scripts parse\n",
		DEFAULT_TIMEOUT_S);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "initiator", required_argument, NULL, 'i' },
		{ "user", required_argument, NULL, 'u' },
		{ "password", required_argument, NULL, 'p' },
		{ "target-user", required_argument, NULL, 'U' },
		{ "target-password", required_argument, NULL, 'P' },
		{ "expect", required_argument, NULL, 'e' },
		{ "expect-absent", required_argument, NULL, 'a' },
		{ "exec", required_argument, NULL, 'x' },
		{ "expect-status", required_argument, NULL, 'S' },
		{ "allow-disconnect", no_argument, NULL, 'D' },
		{ "expect-blocks", required_argument, NULL, 'b' },
		{ "seed", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "header-digest", no_argument, NULL, 'H' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "aptpl", no_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct options o = {
		.initiator = DEFAULT_INITIATOR,
		.seed = 1,
		.timeout_s = DEFAULT_TIMEOUT_S,
	};
	const char *cmd;
	char **args;
	int nargs, c;
	bool seed_set = false;

	/* GNU getopt permutes: options may come before or after the command. */
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'i': o.initiator = optarg; break;
		case 'u': o.user = optarg; break;
		case 'p': o.password = optarg; break;
		case 'U': o.target_user = optarg; break;
		case 'P': o.target_password = optarg; break;
		case 'e': o.expect = optarg; break;
		case 'a': o.expect_absent = optarg; break;
		case 'x': o.exec = optarg; break;
		case 'S': o.expect_status = optarg; break;
		case 'D': o.allow_disconnect = true; break;
		case 'b': o.expect_blocks = strtoull(optarg, NULL, 0); break;
		case 's': o.seed = (uint32_t)strtoul(optarg, NULL, 0); seed_set = true; break;
		case 't': o.timeout_s = atoi(optarg); break;
		case 'H': o.header_digest = true; break;
		case 'q': o.quiet = true; break;
		case 'A': o.aptpl = true; break;
		case 'h': usage(stdout); return 0;
		default: short_usage(); return 2;
		}
	}
	if (optind >= argc) {
		short_usage();
		return 2;
	}
	if (o.user != NULL && o.password == NULL)
		o.password = "";
	if (o.target_user != NULL && o.target_password == NULL)
		o.target_password = "";
	if (o.timeout_s <= 0)
		o.timeout_s = DEFAULT_TIMEOUT_S;
	cmd = argv[optind];
	args = argv + optind + 1;
	nargs = argc - optind - 1;

#define NEED(n) do { if (nargs != (n)) { short_usage(); return 2; } } while (0)
	if (strcmp(cmd, "login") == 0) { NEED(1); return cmd_login(args[0], &o, true); }
	if (strcmp(cmd, "login-fail") == 0) { NEED(1); return cmd_login(args[0], &o, false); }
	if (strcmp(cmd, "discover") == 0) { NEED(1); return cmd_discover(args[0], &o); }
	if (strcmp(cmd, "write-read") == 0) {
		NEED(3);
		if (!seed_set)
			o.seed = (uint32_t)time(NULL) ^ (uint32_t)getpid();
		return cmd_io(args[0], args[1], args[2], &o, IO_WRITE_READ);
	}
	if (strcmp(cmd, "write") == 0) { NEED(3); return cmd_io(args[0], args[1], args[2], &o, IO_WRITE); }
	if (strcmp(cmd, "verify") == 0) { NEED(3); return cmd_io(args[0], args[1], args[2], &o, IO_VERIFY); }
	if (strcmp(cmd, "read-zeros") == 0) { NEED(3); return cmd_io(args[0], args[1], args[2], &o, IO_ZEROS); }
	if (strcmp(cmd, "ua-check") == 0) { NEED(1); return cmd_ua_check(args[0], &o); }
	if (strcmp(cmd, "capacity-changed") == 0) { NEED(1); return cmd_capacity_changed(args[0], &o); }
	if (strcmp(cmd, "tur") == 0) { NEED(1); return cmd_tur(args[0], &o); }
	if (strcmp(cmd, "read-capacity") == 0) { NEED(1); return cmd_read_capacity(args[0], &o); }
	if (strcmp(cmd, "report-luns") == 0) { NEED(1); return cmd_report_luns(args[0], &o); }
	if (strcmp(cmd, "inquiry-vpd83") == 0) { NEED(1); return cmd_inquiry_vpd83(args[0], &o); }
	if (strcmp(cmd, "read-loop") == 0) { NEED(2); return cmd_read_loop(args[0], args[1], &o); }
	if (strcmp(cmd, "pr-register-reserve") == 0) { NEED(3); return cmd_pr_register_reserve(args[0], args[1], args[2], &o); }
	if (strcmp(cmd, "reserve-logout") == 0) { NEED(2); return cmd_reserve_logout(args[0], args[1], &o); }
	if (strcmp(cmd, "pr-show") == 0) { NEED(1); return cmd_pr_show(args[0], &o); }
	if (strcmp(cmd, "caw-increment") == 0) { NEED(3); return cmd_caw_increment(args[0], args[1], args[2], &o); }
#undef NEED
	fprintf(stderr, "unknown command %s\n", cmd);
	short_usage();
	return 2;
}
