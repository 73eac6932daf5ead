/* sangw-bench's raw engine: a small iSCSI initiator (RFC 7143) for the data
 * path, built to spend few system calls per I/O.
 *
 * - One recv per poll wake-up into a large buffer, and every whole PDU in
 *   it is handled; the rest of a large Data-In payload is received straight
 *   into the command's buffer instead of being copied.
 * - Everything produced in one poll round (commands, Data-Out, NOP-Out) is
 *   sent with one sendmsg whose iovecs point at the headers and at the
 *   commands' own buffers: write data is never copied.
 *
 * Login with one-way CHAP or no authentication (RFC 7143 6.3, 12.1.3, 13),
 * ErrorRecoveryLevel 0, no digests, one connection per session, CmdSN
 * window respected (4.2.2.1). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "bench_engine.h"
#include "../fabric/iscsi/chap.h"   /* the CHAP digest and binary values */

#define BHS_LEN 48
#define RX_BUFFER_SIZE (512u * 1024)
/* What we declare we can receive (12.12); a whole PDU fits the buffer. */
#define OUR_MAX_RECV_DSL (256u * 1024)
/* Data-In payloads this big may be received into the I/O buffer. */
#define DIRECT_RECV_MIN (16u * 1024)
#define OUR_FIRST_BURST (256u * 1024)
#define OUR_MAX_BURST (16u * 1024 * 1024 - 1024)
#define LOGIN_TEXT_MAX 8192
#define LOGIN_MAX_ROUNDS 16     /* requests per login before giving up */
#define ITT_INDEX_BITS 11
#define MAX_TASKS (1u << ITT_INDEX_BITS)  /* in flight or waiting for the window: > MAX_QD */
#define ITT_RESERVED 0xffffffffu
#define ITT_LOGOUT 0x80000000u  /* above every command's ITT */
#define TTT_NONE 0xffffffffu

/* Opcodes, RFC 7143 11.1.1. */
enum {
	OP_NOP_OUT = 0x00, OP_SCSI_COMMAND = 0x01, OP_LOGIN_REQUEST = 0x03,
	OP_DATA_OUT = 0x05, OP_LOGOUT_REQUEST = 0x06,
	OP_NOP_IN = 0x20, OP_SCSI_RESPONSE = 0x21, OP_LOGIN_RESPONSE = 0x23,
	OP_DATA_IN = 0x25, OP_LOGOUT_RESPONSE = 0x26, OP_R2T = 0x31,
	OP_ASYNC_MESSAGE = 0x32, OP_REJECT = 0x3f,
};
#define OP_IMMEDIATE 0x40
#define FLAG_FINAL 0x80
/* SCSI Command flags (11.3.1), Data-In and Response flags (11.7.1, 11.4.1). */
#define CMD_READ 0x40
#define CMD_WRITE 0x20
#define CMD_ATTR_SIMPLE 0x01
#define DATAIN_STATUS 0x01
#define RSP_OVERFLOW 0x04
#define RSP_UNDERFLOW 0x02
/* Login flags (11.12.1): Transit, Continue, CSG and NSG. */
#define LOGIN_TRANSIT 0x80
#define LOGIN_CONTINUE 0x40
enum { STAGE_SECURITY = 0, STAGE_OPERATIONAL = 1, STAGE_FULL_FEATURE = 3 };

struct raw_task {
	uint32_t itt;                   /* index | generation << ITT_INDEX_BITS */
	bool busy;
	enum bench_dir dir;
	uint8_t *buf;
	uint32_t len;
	uint8_t cdb[16];
	bench_done_fn *done;
	void *private_data;
	uint64_t start_ns;
	struct raw_task *next;          /* free list, or the queue for the window */
};

/* One PDU to send: its header here, its data (if any) elsewhere. */
struct tx_pdu {
	uint8_t bhs[BHS_LEN];
	const uint8_t *data;
	uint32_t len;
	void *owned;                    /* freed once sent (a NOP-Out's echo) */
};

struct bench_conn {
	int fd;
	bool dead;
	bool logged_out;
	unsigned io_timeout_s;
	char error[256];
	uint8_t lun[8];

	/* Negotiated (RFC 7143 13). */
	uint32_t max_send_dsl;          /* the target's MaxRecvDataSegmentLength */
	uint32_t first_burst, max_burst;
	bool initial_r2t, immediate_data;

	/* Sequence numbers (4.2.2). */
	uint32_t cmdsn, exp_cmdsn, max_cmdsn, exp_statsn;

	struct raw_task tasks[MAX_TASKS];
	struct raw_task *free_tasks;
	struct raw_task *window_head, *window_tail;  /* beyond MaxCmdSN */

	struct tx_pdu *tx;
	unsigned tx_count, tx_cap, tx_done;  /* tx_done PDUs fully sent */
	size_t tx_partial;              /* bytes of tx[tx_done] already sent */

	uint8_t *rx;
	size_t rx_len;
	/* A Data-In payload being received into its command's buffer. */
	uint8_t direct_bhs[BHS_LEN];
	uint8_t *direct_dst;
	size_t direct_left;
	/* After a payload received directly, read only the next header: in
	 * a stream of large Data-In PDUs, a big recv would copy most of the
	 * next payload through the receive buffer. */
	bool header_only;
};

static const uint8_t zero_pad[4];

/* --- small helpers ---------------------------------------------------------- */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t get24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put24(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 16);
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)v;
}

static uint32_t pad4(uint32_t n)
{
	return (n + 3) & ~3u;
}

/* Serial number arithmetic, RFC 1982 as RFC 7143 4.2.2.1 uses it. */
static bool sn_gt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}

static uint32_t min32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* Mark the connection unusable; returns -1 for the callers' convenience. */
static int conn_fail(struct bench_conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int conn_fail(struct bench_conn *c, const char *fmt, ...)
{
	va_list ap;

	if (c->dead)
		return -1;
	c->dead = true;
	va_start(ap, fmt);
	vsnprintf(c->error, sizeof(c->error), fmt, ap);
	va_end(ap);
	return -1;
}

/* --- the URL ---------------------------------------------------------------- */

struct raw_url {
	char user[256], secret[256];    /* CHAP, empty without */
	char portal[300];
	char target[256];
	unsigned lun;
};

/* iscsi://[user%secret@]host[:port]/target-iqn/lun; false with why in err. */
static bool parse_url(const char *url, struct raw_url *u, const char **err)
{
	const char *p = url + strlen("iscsi://");
	const char *slash = strchr(p, '/'), *slash2, *at = strchr(p, '@');
	char *end;
	unsigned long lun;

	if (strncmp(url, "iscsi://", 8) != 0 || slash == NULL) {
		*err = "expected iscsi://[user%secret@]host[:port]/target-iqn/lun";
		return false;
	}
	if (strchr(url, '?') != NULL) {
		*err = "URL arguments (?..., e.g. mutual CHAP) need --engine libiscsi";
		return false;
	}
	u->user[0] = u->secret[0] = '\0';
	if (at != NULL && at < slash) {
		const char *pct = memchr(p, '%', (size_t)(at - p));

		if (pct == NULL || pct == p || (size_t)(pct - p) >= sizeof(u->user) ||
		    (size_t)(at - pct - 1) >= sizeof(u->secret)) {
			*err = "CHAP credentials in the URL are user%secret@";
			return false;
		}
		snprintf(u->user, sizeof(u->user), "%.*s", (int)(pct - p), p);
		snprintf(u->secret, sizeof(u->secret), "%.*s", (int)(at - pct - 1), pct + 1);
		p = at + 1;
	}
	slash2 = strchr(slash + 1, '/');
	if ((size_t)(slash - p) >= sizeof(u->portal) || slash == p || slash2 == NULL ||
	    slash2 == slash + 1 || (size_t)(slash2 - slash - 1) >= sizeof(u->target)) {
		*err = "expected iscsi://host[:port]/target-iqn/lun";
		return false;
	}
	errno = 0;
	lun = strtoul(slash2 + 1, &end, 10);
	if (slash2[1] < '0' || slash2[1] > '9' || *end != '\0' || errno != 0 || lun > 16383) {
		*err = "the LUN must be a number from 0 to 16383";
		return false;
	}
	snprintf(u->portal, sizeof(u->portal), "%.*s", (int)(slash - p), p);
	snprintf(u->target, sizeof(u->target), "%.*s", (int)(slash2 - slash - 1), slash + 1);
	u->lun = (unsigned)lun;
	return true;
}

static const char *raw_unsupported(const struct bench_connect_params *p)
{
	struct raw_url u;
	const char *err = NULL;

	if (p->header_digest)
		return "--header-digest needs --engine libiscsi";
	if (!parse_url(p->url, &u, &err))
		return err;
	return NULL;
}

/* SAM-5 4.7.7: peripheral device addressing below 256, flat space above. */
static void encode_lun(uint8_t out[8], unsigned lun)
{
	memset(out, 0, 8);
	if (lun < 256) {
		out[1] = (uint8_t)lun;
	} else {
		out[0] = (uint8_t)(0x40 | (lun >> 8));
		out[1] = (uint8_t)lun;
	}
}

/* --- sending ------------------------------------------------------------------ */

/* A zeroed header to fill, queued with data (not copied) behind it. */
static uint8_t *tx_add(struct bench_conn *c, const void *data, uint32_t len)
{
	struct tx_pdu *pdu;

	if (c->tx_count == c->tx_cap) {
		unsigned cap = c->tx_cap != 0 ? c->tx_cap * 2 : 256;
		struct tx_pdu *grown = realloc(c->tx, cap * sizeof(*grown));

		if (grown == NULL)
			return NULL;
		c->tx = grown;
		c->tx_cap = cap;
	}
	pdu = &c->tx[c->tx_count++];
	memset(pdu, 0, sizeof(*pdu));
	pdu->data = data;
	pdu->len = len;
	put24(pdu->bhs + 5, len);
	return pdu->bhs;
}

static void fill_sequence(struct bench_conn *c, uint8_t *bhs, uint32_t itt)
{
	memcpy(bhs + 8, c->lun, 8);
	put32(bhs + 16, itt);
	put32(bhs + 28, c->exp_statsn);
}

/* Queue Data-Out PDUs for [offset, offset + len) of a write, each within
 * the target's MaxRecvDataSegmentLength (11.7). */
static int queue_data_out(struct bench_conn *c, struct raw_task *t, uint32_t ttt,
			  uint32_t offset, uint32_t len)
{
	uint32_t datasn = 0;

	while (len > 0) {
		uint32_t n = min32(len, c->max_send_dsl);
		uint8_t *bhs = tx_add(c, t->buf + offset, n);

		if (bhs == NULL)
			return conn_fail(c, "out of memory");
		bhs[0] = OP_DATA_OUT;
		bhs[1] = n == len ? FLAG_FINAL : 0;
		fill_sequence(c, bhs, t->itt);
		put32(bhs + 20, ttt);
		put32(bhs + 36, datasn++);
		put32(bhs + 40, offset);
		offset += n;
		len -= n;
	}
	return 0;
}

/* Queue the SCSI Command PDU (11.3) with its immediate data and the
 * unsolicited Data-Out the negotiation allows (4.2.5.2, 13.13-13.14). */
static int send_command(struct bench_conn *c, struct raw_task *t)
{
	uint32_t immediate = 0, unsolicited = 0;
	uint8_t *bhs;

	if (t->dir == BENCH_DIR_WRITE) {
		uint32_t first = min32(t->len, c->first_burst);

		if (c->immediate_data)
			immediate = min32(first, c->max_send_dsl);
		unsolicited = c->initial_r2t ? immediate : first;
	}
	bhs = tx_add(c, t->buf, immediate);
	if (bhs == NULL)
		return conn_fail(c, "out of memory");
	bhs[0] = OP_SCSI_COMMAND;
	bhs[1] = CMD_ATTR_SIMPLE | (unsolicited == immediate ? FLAG_FINAL : 0) |
		 (t->dir == BENCH_DIR_READ ? CMD_READ : 0) | (t->dir == BENCH_DIR_WRITE ? CMD_WRITE : 0);
	fill_sequence(c, bhs, t->itt);
	put32(bhs + 20, t->len);
	put32(bhs + 24, c->cmdsn++);
	memcpy(bhs + 32, t->cdb, 16);
	if (unsolicited > immediate)
		return queue_data_out(c, t, TTT_NONE, immediate, unsolicited - immediate);
	return 0;
}

static bool window_open(const struct bench_conn *c)
{
	return !sn_gt(c->cmdsn, c->max_cmdsn);
}

/* Send the commands that waited for MaxCmdSN to grow, in order. */
static int send_waiting(struct bench_conn *c)
{
	while (c->window_head != NULL && window_open(c)) {
		struct raw_task *t = c->window_head;

		c->window_head = t->next;
		if (c->window_head == NULL)
			c->window_tail = NULL;
		t->next = NULL;
		if (send_command(c, t) < 0)
			return -1;
	}
	return 0;
}

/* Send what is queued, as far as the socket takes it: one sendmsg for up
 * to IOV_MAX iovecs. */
static int raw_flush(struct bench_conn *c)
{
	struct iovec iov[IOV_MAX];

	while (!c->dead && c->tx_done < c->tx_count) {
		struct msghdr msg = { .msg_iov = iov };
		size_t skip = c->tx_partial, total = 0;
		unsigned i, n = 0;
		ssize_t sent;

		for (i = c->tx_done; i < c->tx_count && n + 3 <= IOV_MAX; i++) {
			struct tx_pdu *pdu = &c->tx[i];
			struct iovec parts[3] = {
				{ pdu->bhs, BHS_LEN },
				{ (void *)pdu->data, pdu->len },
				{ (void *)zero_pad, pad4(pdu->len) - pdu->len },
			};
			unsigned k;

			for (k = 0; k < 3; k++) {
				if (skip >= parts[k].iov_len) {
					skip -= parts[k].iov_len;
					continue;
				}
				iov[n].iov_base = (uint8_t *)parts[k].iov_base + skip;
				iov[n].iov_len = parts[k].iov_len - skip;
				total += iov[n].iov_len;
				skip = 0;
				n++;
			}
		}
		msg.msg_iovlen = n;
		sent = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (sent < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return conn_fail(c, "send: %s", strerror(errno));
		}
		/* Step over what went out. */
		for (size_t left = (size_t)sent + c->tx_partial; c->tx_done < c->tx_count;) {
			struct tx_pdu *pdu = &c->tx[c->tx_done];
			size_t size = BHS_LEN + pad4(pdu->len);

			if (left < size) {
				c->tx_partial = left;
				break;
			}
			left -= size;
			free(pdu->owned);
			pdu->owned = NULL;
			c->tx_done++;
			c->tx_partial = 0;
		}
		if ((size_t)sent < total)
			return 0;       /* the socket is full: wait for POLLOUT */
	}
	if (c->tx_done == c->tx_count)
		c->tx_done = c->tx_count = 0;
	return c->dead ? -1 : 0;
}

/* --- commands ------------------------------------------------------------------ */

static struct raw_task *task_of(struct bench_conn *c, uint32_t itt)
{
	struct raw_task *t;

	if (itt == ITT_RESERVED || (itt & ITT_LOGOUT))
		return NULL;
	t = &c->tasks[itt & (MAX_TASKS - 1)];
	return t->busy && t->itt == itt ? t : NULL;
}

static void complete(struct bench_conn *c, struct raw_task *t, const struct bench_result *r)
{
	bench_done_fn *done = t->done;
	void *private_data = t->private_data;

	t->busy = false;
	t->next = c->free_tasks;
	c->free_tasks = t;
	done(private_data, r);
}

static bool raw_submit(struct bench_conn *c, const uint8_t *cdb, unsigned cdb_len,
		       enum bench_dir dir, void *buf, uint32_t len,
		       bench_done_fn *done, void *private_data)
{
	struct raw_task *t = c->free_tasks;
	uint32_t generation;

	if (c->dead || t == NULL || cdb_len > sizeof(t->cdb)) {
		if (!c->dead && t == NULL)
			snprintf(c->error, sizeof(c->error), "more than %u commands outstanding",
				 MAX_TASKS);
		return false;
	}
	c->free_tasks = t->next;
	/* A new ITT for every use of the slot: a late PDU of the last
	 * command cannot be taken for this one. */
	generation = ((t->itt >> ITT_INDEX_BITS) + 1) & 0x7ffff;
	t->itt = (uint32_t)(t - c->tasks) | generation << ITT_INDEX_BITS;
	t->busy = true;
	t->dir = dir;
	t->buf = buf;
	t->len = len;
	memset(t->cdb, 0, sizeof(t->cdb));
	memcpy(t->cdb, cdb, cdb_len);
	t->done = done;
	t->private_data = private_data;
	t->start_ns = mono_ns();
	t->next = NULL;
	if (c->window_head != NULL || !window_open(c)) {
		if (c->window_tail != NULL)
			c->window_tail->next = t;
		else
			c->window_head = t;
		c->window_tail = t;
		return true;
	}
	return send_command(c, t) == 0;
}

/* --- receiving ------------------------------------------------------------------ */

/* ExpCmdSN and MaxCmdSN of a target PDU (4.2.2.1): MaxCmdSN only grows,
 * and a MaxCmdSN below ExpCmdSN - 1 is ignored. */
static int update_window(struct bench_conn *c, const uint8_t *bhs)
{
	uint32_t exp = get32(bhs + 28), max = get32(bhs + 32);

	if (sn_gt(exp - 1, max))
		return 0;
	if (sn_gt(exp, c->exp_cmdsn))
		c->exp_cmdsn = exp;
	if (sn_gt(max, c->max_cmdsn))
		c->max_cmdsn = max;
	return send_waiting(c);
}

/* A PDU that carries status advances StatSN (4.2.2.2). */
static void update_statsn(struct bench_conn *c, const uint8_t *bhs)
{
	uint32_t next = get32(bhs + 24) + 1;

	if (sn_gt(next, c->exp_statsn))
		c->exp_statsn = next;
}

/* Fixed (0x70/0x71) or descriptor (0x72/0x73) format sense, SPC-4 4.5. */
static void parse_sense(const uint8_t *sense, uint32_t len, struct bench_result *r)
{
	uint8_t code = len > 0 ? sense[0] & 0x7f : 0;

	if ((code == 0x70 || code == 0x71) && len >= 14) {
		r->sense_key = sense[2] & 0x0f;
		r->asc = sense[12];
		r->ascq = sense[13];
	} else if ((code == 0x72 || code == 0x73) && len >= 4) {
		r->sense_key = sense[1] & 0x0f;
		r->asc = sense[2];
		r->ascq = sense[3];
	}
}

static void residual_of(const uint8_t *bhs, struct bench_result *r)
{
	r->residual_overflow = (bhs[1] & RSP_OVERFLOW) != 0;
	r->residual_underflow = (bhs[1] & RSP_UNDERFLOW) != 0;
	if (r->residual_overflow || r->residual_underflow)
		r->residual = get32(bhs + 44);
}

/* Data-In (11.7): data at its buffer offset; data NULL when it was
 * received there directly. With the S bit it also carries the status. */
static int handle_data_in(struct bench_conn *c, const uint8_t *bhs, const uint8_t *data,
			  uint32_t dsl)
{
	struct raw_task *t = task_of(c, get32(bhs + 16));
	uint32_t offset = get32(bhs + 40);

	if (t == NULL || t->dir != BENCH_DIR_READ || offset > t->len || dsl > t->len - offset)
		return conn_fail(c, "Data-In for ITT 0x%08x at offset %u (%u bytes) matches no "
				 "read in flight", get32(bhs + 16), offset, dsl);
	if (data != NULL)
		memcpy(t->buf + offset, data, dsl);
	if (bhs[1] & DATAIN_STATUS) {
		struct bench_result r = { .status = bhs[3] };

		update_statsn(c, bhs);
		residual_of(bhs, &r);
		complete(c, t, &r);
	}
	return 0;
}

/* SCSI Response (11.4): status, sense data, residuals. */
static int handle_response(struct bench_conn *c, const uint8_t *bhs, const uint8_t *data,
			   uint32_t dsl)
{
	struct raw_task *t = task_of(c, get32(bhs + 16));
	struct bench_result r = { .status = bhs[3] };

	update_statsn(c, bhs);
	if (t == NULL)
		return conn_fail(c, "SCSI Response for unknown ITT 0x%08x", get32(bhs + 16));
	if (bhs[2] != 0) {
		/* 11.4.3: the target could not run the command at all. */
		snprintf(c->error, sizeof(c->error), "SCSI Response: target failure (response 0x%02x)",
			 bhs[2]);
		r.status = BENCH_STATUS_TRANSPORT;
	}
	if (dsl >= 2) {
		uint32_t sense_len = (uint32_t)data[0] << 8 | data[1];

		parse_sense(data + 2, min32(sense_len, dsl - 2), &r);
	}
	residual_of(bhs, &r);
	complete(c, t, &r);
	return 0;
}

/* R2T (11.8): send the data asked for. */
static int handle_r2t(struct bench_conn *c, const uint8_t *bhs)
{
	struct raw_task *t = task_of(c, get32(bhs + 16));
	uint32_t offset = get32(bhs + 40), len = get32(bhs + 44);

	if (t == NULL || t->dir != BENCH_DIR_WRITE || offset > t->len || len > t->len - offset ||
	    len == 0)
		return conn_fail(c, "R2T for ITT 0x%08x (offset %u, %u bytes) matches no write in "
				 "flight", get32(bhs + 16), offset, len);
	return queue_data_out(c, t, get32(bhs + 20), offset, len);
}

/* NOP-In (11.19): a ping from the target (TTT set) wants a NOP-Out back
 * with the same TTT and data (11.18). */
static int handle_nop_in(struct bench_conn *c, const uint8_t *bhs, const uint8_t *data,
			 uint32_t dsl)
{
	uint32_t ttt = get32(bhs + 20);
	void *echo = NULL;
	uint8_t *out;

	if (get32(bhs + 16) != ITT_RESERVED)
		update_statsn(c, bhs);  /* an answer to a ping of ours (we send none) */
	if (ttt == TTT_NONE)
		return 0;
	if (dsl > 0 && (echo = malloc(dsl)) == NULL)
		return conn_fail(c, "out of memory");
	if (dsl > 0)
		memcpy(echo, data, dsl);
	out = tx_add(c, echo, dsl);
	if (out == NULL) {
		free(echo);
		return conn_fail(c, "out of memory");
	}
	c->tx[c->tx_count - 1].owned = echo;
	out[0] = OP_NOP_OUT | OP_IMMEDIATE;
	out[1] = FLAG_FINAL;
	memcpy(out + 8, bhs + 8, 8);
	put32(out + 16, ITT_RESERVED);
	put32(out + 20, ttt);
	put32(out + 24, c->cmdsn);      /* immediate: CmdSN does not advance */
	put32(out + 28, c->exp_statsn);
	return 0;
}

/* Asynchronous Message (11.9): SCSI events are informational; a target
 * that asks for a logout or announces a drop ends this benchmark session. */
static int handle_async(struct bench_conn *c, const uint8_t *bhs)
{
	uint8_t event = bhs[36];

	update_statsn(c, bhs);
	switch (event) {
	case 0:         /* SCSI asynchronous event: the next command sees a UA */
	case 255:       /* vendor specific */
		return 0;
	case 1:
		return conn_fail(c, "the target requested a logout (Async Message event 1)");
	case 2:
	case 3:
		return conn_fail(c, "the target is dropping the connection (Async Message event %u)",
				 event);
	default:
		return conn_fail(c, "unsupported Async Message event %u", event);
	}
}

/* Reject (11.17): the data segment holds the rejected PDU's header. */
static int handle_reject(struct bench_conn *c, const uint8_t *bhs, const uint8_t *data,
			 uint32_t dsl)
{
	uint8_t reason = bhs[2];
	struct raw_task *t = dsl >= BHS_LEN ? task_of(c, get32(data + 16)) : NULL;

	update_statsn(c, bhs);
	if (t != NULL && (data[0] & 0x3f) == OP_SCSI_COMMAND) {
		struct bench_result r = { .status = BENCH_STATUS_TRANSPORT };

		snprintf(c->error, sizeof(c->error), "the target rejected a SCSI command (reason "
			 "0x%02x)", reason);
		complete(c, t, &r);
		return 0;
	}
	return conn_fail(c, "the target rejected a PDU (reason 0x%02x, opcode 0x%02x)", reason,
			 dsl >= 1 ? data[0] & 0x3f : 0);
}

static int handle_pdu(struct bench_conn *c, const uint8_t *bhs, const uint8_t *data, uint32_t dsl)
{
	uint8_t op = bhs[0] & 0x3f;

	switch (op) {
	case OP_DATA_IN:
	case OP_SCSI_RESPONSE:
	case OP_R2T:
	case OP_NOP_IN:
	case OP_ASYNC_MESSAGE:
	case OP_REJECT:
	case OP_LOGOUT_RESPONSE:
		if (update_window(c, bhs) < 0)
			return -1;
		break;
	default:
		return conn_fail(c, "unexpected PDU, opcode 0x%02x", op);
	}
	switch (op) {
	case OP_DATA_IN:
		return handle_data_in(c, bhs, data, dsl);
	case OP_SCSI_RESPONSE:
		return handle_response(c, bhs, data, dsl);
	case OP_R2T:
		return handle_r2t(c, bhs);
	case OP_NOP_IN:
		return handle_nop_in(c, bhs, data, dsl);
	case OP_ASYNC_MESSAGE:
		return handle_async(c, bhs);
	case OP_REJECT:
		return handle_reject(c, bhs, data, dsl);
	default:        /* OP_LOGOUT_RESPONSE, 11.15 */
		update_statsn(c, bhs);
		c->logged_out = true;
		if (bhs[2] != 0)
			return conn_fail(c, "logout failed (response %u)", bhs[2]);
		return 0;
	}
}

/* Begin receiving the rest of a large Data-In payload into its read's
 * buffer; `have` bytes of it are already in the receive buffer. */
static int start_direct(struct bench_conn *c, const uint8_t *bhs, size_t have)
{
	struct raw_task *t = task_of(c, get32(bhs + 16));
	uint32_t offset = get32(bhs + 40), dsl = get24(bhs + 5);

	if (t == NULL || t->dir != BENCH_DIR_READ || offset > t->len || dsl > t->len - offset)
		return handle_data_in(c, bhs, NULL, dsl);       /* reports it */
	memcpy(c->direct_bhs, bhs, BHS_LEN);
	memcpy(t->buf + offset, bhs + BHS_LEN, have);
	c->direct_dst = t->buf + offset + have;
	c->direct_left = dsl - have;
	return 0;
}

/* Handle every whole PDU in the receive buffer; keep a partial one. */
static int parse_rx(struct bench_conn *c)
{
	size_t pos = 0;

	while (!c->dead && c->rx_len - pos >= BHS_LEN) {
		const uint8_t *bhs = c->rx + pos;
		uint32_t ahs = (uint32_t)bhs[4] * 4, dsl = get24(bhs + 5);
		size_t total = BHS_LEN + ahs + pad4(dsl);

		if (dsl > OUR_MAX_RECV_DSL)
			return conn_fail(c, "a PDU with %u bytes of data, more than the %u we declared",
					 dsl, OUR_MAX_RECV_DSL);
		if (c->rx_len - pos < total) {
			if ((bhs[0] & 0x3f) == OP_DATA_IN && ahs == 0 && dsl >= DIRECT_RECV_MIN &&
			    dsl % 4 == 0) {
				if (start_direct(c, bhs, c->rx_len - pos - BHS_LEN) < 0)
					return -1;
				pos = c->rx_len;
			}
			break;
		}
		if (handle_pdu(c, bhs, bhs + BHS_LEN + ahs, dsl) < 0)
			return -1;
		pos += total;
	}
	if (pos > 0) {
		memmove(c->rx, c->rx + pos, c->rx_len - pos);
		c->rx_len -= pos;
	}
	return c->dead ? -1 : 0;
}

/* One recv per wake-up; again only while a recv filled all it was offered
 * (more is probably waiting). */
static int receive(struct bench_conn *c)
{
	for (;;) {
		bool direct = c->direct_left != 0;
		uint8_t *dst = direct ? c->direct_dst : c->rx + c->rx_len;
		size_t want = direct ? c->direct_left
			    : c->header_only && c->rx_len < BHS_LEN ? BHS_LEN - c->rx_len
			    : RX_BUFFER_SIZE - c->rx_len;
		ssize_t n = recv(c->fd, dst, want, MSG_DONTWAIT);

		if (n == 0)
			return conn_fail(c, "the target closed the connection");
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return conn_fail(c, "recv: %s", strerror(errno));
		}
		if (direct) {
			c->direct_dst += n;
			c->direct_left -= (size_t)n;
			c->header_only = c->direct_left == 0;
			if (c->direct_left == 0 &&
			    handle_pdu(c, c->direct_bhs, NULL, get24(c->direct_bhs + 5)) < 0)
				return -1;
		} else {
			c->header_only = false;
			c->rx_len += (size_t)n;
			if (parse_rx(c) < 0)
				return -1;
		}
		if ((size_t)n < want)
			return 0;
	}
}

static int raw_service(struct bench_conn *c, short revents)
{
	if (c->dead)
		return -1;
	if ((revents & POLLIN) && receive(c) < 0)
		return -1;
	if ((revents & (POLLERR | POLLHUP | POLLNVAL)) && !(revents & POLLIN))
		return conn_fail(c, "the connection was closed");
	if ((revents & POLLOUT) && raw_flush(c) < 0)
		return -1;
	return 0;
}

static int raw_fd(struct bench_conn *c)
{
	return c->fd;
}

static short raw_events(struct bench_conn *c)
{
	return (short)(POLLIN | (c->tx_done < c->tx_count ? POLLOUT : 0));
}

/* ErrorRecoveryLevel 0 cannot take a command back: a timeout fails it and
 * ends the connection. */
static void raw_tick(struct bench_conn *c)
{
	uint64_t limit = (uint64_t)c->io_timeout_s * 1000000000ull, now = mono_ns();
	unsigned i;

	for (i = 0; i < MAX_TASKS; i++) {
		struct raw_task *t = &c->tasks[i];
		struct bench_result r = { .status = BENCH_STATUS_TIMEOUT };

		if (!t->busy || now - t->start_ns < limit)
			continue;
		conn_fail(c, "a command got no answer in %u s", c->io_timeout_s);
		c->window_head = c->window_tail = NULL;  /* nothing more is sent */
		complete(c, t, &r);
	}
}

static const char *raw_error(struct bench_conn *c)
{
	return c->error[0] != '\0' ? c->error : "no error";
}

/* --- login (RFC 7143 6.3, 11.12, 11.13, 13) ------------------------------------ */

/* Blocking send or receive of exactly len bytes (login only); false on a
 * closed connection, an error or the socket's timeout. */
static bool transfer_all(int fd, void *buf, size_t len, bool sending)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = sending ? send(fd, p, len, MSG_NOSIGNAL) : recv(fd, p, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

enum chap_progress { CHAP_NOT_STARTED, CHAP_ALGORITHM_SENT, CHAP_ANSWERED };

struct login_state {
	uint8_t isid[6];
	uint16_t tsih;
	int stage;                      /* the current stage (CSG) */
	char auth_method[64];           /* what the target chose */
	/* One-way CHAP (12.1.3): the target's CHAP_A, CHAP_I and CHAP_C. */
	enum chap_progress chap;
	unsigned chap_algorithm;
	unsigned chap_id;
	int challenge_len;              /* < 0: none yet, or malformed */
	uint8_t challenge[CHAP_BINARY_MAX];
};

/* A numerical key's value, or false when it is not a number. */
static bool key_number(const char *value, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(value, &end, 0);
	if (errno != 0 || end == value || *end != '\0' || v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* Apply the target's keys: its declarations and its answers to ours
 * (13.2: Boolean results with OR for InitialR2T, AND for ImmediateData,
 * numerical results the minimum). */
static bool apply_keys(struct bench_conn *c, struct login_state *ls, char *text, uint32_t len)
{
	char *p = text, *end = text + len;
	uint32_t v;

	while (p < end) {
		char *nul = memchr(p, '\0', (size_t)(end - p));
		char *eq;

		if (nul == NULL)
			nul = end;      /* a last key without its NUL: tolerate it */
		*nul = '\0';
		eq = strchr(p, '=');
		if (eq != NULL) {
			const char *key = p, *value = eq + 1;

			*eq = '\0';
			if (strcmp(key, "AuthMethod") == 0) {
				snprintf(ls->auth_method, sizeof(ls->auth_method), "%s", value);
			} else if (strcmp(key, "CHAP_A") == 0 && key_number(value, &v)) {
				ls->chap_algorithm = v;
			} else if (strcmp(key, "CHAP_I") == 0 && key_number(value, &v) && v <= 255) {
				ls->chap_id = v;
			} else if (strcmp(key, "CHAP_C") == 0) {
				ls->challenge_len = iscsi_binary_decode(value, ls->challenge,
									sizeof(ls->challenge));
			} else if ((strcmp(key, "HeaderDigest") == 0 || strcmp(key, "DataDigest") == 0) &&
				   strcmp(value, "None") != 0) {
				conn_fail(c, "the target wants %s=%s; the raw engine does no digests", key,
					  value);
				return false;
			} else if (strcmp(key, "ErrorRecoveryLevel") == 0 && strcmp(value, "0") != 0) {
				conn_fail(c, "the target answered ErrorRecoveryLevel=%s, not 0", value);
				return false;
			} else if (strcmp(key, "MaxRecvDataSegmentLength") == 0) {
				if (!key_number(value, &v) || v < 512 || v > 16777215) {
					conn_fail(c, "bad MaxRecvDataSegmentLength=%s", value);
					return false;
				}
				c->max_send_dsl = v;
			} else if (strcmp(key, "InitialR2T") == 0) {
				c->initial_r2t = strcmp(value, "No") != 0;
			} else if (strcmp(key, "ImmediateData") == 0) {
				c->immediate_data = strcmp(value, "Yes") == 0;
			} else if (strcmp(key, "FirstBurstLength") == 0 && key_number(value, &v) && v >= 512) {
				c->first_burst = min32(v, OUR_FIRST_BURST);
			} else if (strcmp(key, "MaxBurstLength") == 0 && key_number(value, &v) && v >= 512) {
				c->max_burst = min32(v, OUR_MAX_BURST);
			}
		}
		p = nul + 1;
	}
	return true;
}

/* Append "key=value\0" to a login text. */
static void add_key(char *text, uint32_t *len, const char *key, const char *value)
{
	int n = snprintf(text + *len, LOGIN_TEXT_MAX - *len, "%s=%s", key, value);

	if (n > 0 && (uint32_t)n + 1 < LOGIN_TEXT_MAX - *len)
		*len += (uint32_t)n + 1;
}

static bool send_login(struct bench_conn *c, struct login_state *ls, int next_stage,
		       const char *text, uint32_t len)
{
	uint8_t pdu[BHS_LEN + LOGIN_TEXT_MAX] = { 0 };
	uint8_t *bhs = pdu;

	bhs[0] = OP_LOGIN_REQUEST | OP_IMMEDIATE;
	bhs[1] = (uint8_t)(ls->stage << 2);
	if (next_stage >= 0)
		bhs[1] |= (uint8_t)(LOGIN_TRANSIT | next_stage);
	put24(bhs + 5, len);
	memcpy(bhs + 8, ls->isid, 6);
	bhs[14] = (uint8_t)(ls->tsih >> 8);
	bhs[15] = (uint8_t)ls->tsih;
	put32(bhs + 16, 0);             /* ITT of the login */
	put32(bhs + 24, c->cmdsn);
	put32(bhs + 28, c->exp_statsn);
	memcpy(pdu + BHS_LEN, text, len);      /* padded with the zeros after it */
	if (!transfer_all(c->fd, pdu, BHS_LEN + pad4(len), true)) {
		conn_fail(c, "login: send: %s", strerror(errno));
		return false;
	}
	return true;
}

/* The security stage goes on (the target did not transit): what to send
 * next, in text/len and *next (the stage to ask for, -1 none yet). */
static bool security_step(struct bench_conn *c, struct login_state *ls, const struct raw_url *u,
			  char *text, uint32_t *len, int *next)
{
	uint8_t digest[CHAP_DIGEST_MAX];
	char hex[2 * CHAP_DIGEST_MAX + 3];
	size_t n;

	if (ls->auth_method[0] == '\0' || strcmp(ls->auth_method, "None") == 0) {
		*next = STAGE_OPERATIONAL;      /* nothing to prove */
		return true;
	}
	if (strcmp(ls->auth_method, "CHAP") != 0 || u->user[0] == '\0') {
		conn_fail(c, "login: the target wants AuthMethod=%s%s", ls->auth_method,
			  u->user[0] == '\0' ? "; put CHAP credentials in the URL (user%secret@)" : "");
		return false;
	}
	switch (ls->chap) {
	case CHAP_NOT_STARTED:
		add_key(text, len, "CHAP_A", "5");      /* MD5, RFC 1994: every target has it */
		ls->chap = CHAP_ALGORITHM_SENT;
		return true;
	case CHAP_ALGORITHM_SENT:
		if (ls->challenge_len <= 0) {
			conn_fail(c, "login: the target sent no usable CHAP_C");
			return false;
		}
		n = chap_response(ls->chap_algorithm, (uint8_t)ls->chap_id, u->secret, ls->challenge,
				  (size_t)ls->challenge_len, digest);
		if (n == 0) {
			conn_fail(c, "login: the target chose CHAP_A=%u, which we did not offer",
				  ls->chap_algorithm);
			return false;
		}
		iscsi_binary_encode_hex(digest, n, hex);
		add_key(text, len, "CHAP_N", u->user);
		add_key(text, len, "CHAP_R", hex);
		ls->chap = CHAP_ANSWERED;
		*next = STAGE_OPERATIONAL;
		return true;
	case CHAP_ANSWERED:
		break;
	}
	conn_fail(c, "login: the target did not end the security stage after our CHAP_R");
	return false;
}

static const char *login_status_text(uint8_t class, uint8_t detail)
{
	if (class == 2 && detail == 1)
		return "authentication failed (check the CHAP user and secret in the URL)";
	if (class == 2 && detail == 2)
		return "authorization failure: this initiator may not use the target";
	if (class == 2 && detail == 3)
		return "target not found";
	if (class == 2 && detail == 7)
		return "missing parameter";
	if (class == 3)
		return "target error";
	return "login refused";
}

static bool login(struct bench_conn *c, const struct bench_connect_params *p,
		  const struct raw_url *u)
{
	struct login_state ls = { .stage = STAGE_SECURITY, .challenge_len = -1 };
	char text[LOGIN_TEXT_MAX], answer[LOGIN_TEXT_MAX], number[16];
	uint32_t len = 0;
	/* With CHAP to offer, the target decides whether to ask for it. */
	int next = u->user[0] != '\0' ? -1 : STAGE_OPERATIONAL;
	unsigned round;

	/* 10.12.5: a random ISID (type 10b); the session index as qualifier. */
	ls.isid[0] = 0x80;
	ls.isid[1] = (uint8_t)(p->isid_random >> 16);
	ls.isid[2] = (uint8_t)(p->isid_random >> 8);
	ls.isid[3] = (uint8_t)p->isid_random;
	ls.isid[4] = (uint8_t)(p->index >> 8);
	ls.isid[5] = (uint8_t)p->index;
	c->cmdsn = 1;
	add_key(text, &len, "InitiatorName", p->initiator);
	add_key(text, &len, "SessionType", "Normal");
	add_key(text, &len, "TargetName", u->target);
	add_key(text, &len, "AuthMethod", u->user[0] != '\0' ? "CHAP,None" : "None");
	for (round = 0;; round++) {
		uint8_t rsp[BHS_LEN];
		uint32_t dsl;

		if (round == LOGIN_MAX_ROUNDS) {
			conn_fail(c, "login: no full feature phase after %u requests", round);
			return false;
		}
		if (!send_login(c, &ls, next, text, len))
			return false;
		if (!transfer_all(c->fd, rsp, BHS_LEN, false)) {
			conn_fail(c, "login: the target closed the connection or did not answer");
			return false;
		}
		dsl = get24(rsp + 5);
		if ((rsp[0] & 0x3f) != OP_LOGIN_RESPONSE || rsp[4] != 0 || dsl >= LOGIN_TEXT_MAX) {
			conn_fail(c, "login: unexpected answer (opcode 0x%02x, %u bytes)", rsp[0] & 0x3f,
				  dsl);
			return false;
		}
		if (!transfer_all(c->fd, answer, pad4(dsl), false)) {
			conn_fail(c, "login: the connection broke");
			return false;
		}
		if (rsp[36] != 0) {
			conn_fail(c, "login: %s (status class %u detail %u)",
				  login_status_text(rsp[36], rsp[37]), rsp[36], rsp[37]);
			return false;
		}
		ls.tsih = (uint16_t)(rsp[14] << 8 | rsp[15]);
		c->exp_statsn = get32(rsp + 24) + 1;   /* 11.13.4: StatSN starts here */
		c->exp_cmdsn = get32(rsp + 28);
		c->max_cmdsn = get32(rsp + 32);
		if (!apply_keys(c, &ls, answer, dsl))
			return false;
		len = 0;
		if (rsp[1] & LOGIN_CONTINUE)
			continue;       /* 11.13.2: more text follows: ask for it */
		if (ls.stage == STAGE_SECURITY && !(rsp[1] & LOGIN_TRANSIT)) {
			if (!security_step(c, &ls, u, text, &len, &next))
				return false;
			continue;
		}
		if (!(rsp[1] & LOGIN_TRANSIT))
			continue;       /* the target stays in this stage: go on */
		ls.stage = rsp[1] & 0x03;
		if (ls.stage == STAGE_FULL_FEATURE)
			return true;
		if (ls.stage != STAGE_OPERATIONAL) {
			conn_fail(c, "login: the target moved to stage %d", ls.stage);
			return false;
		}
		next = STAGE_FULL_FEATURE;
		add_key(text, &len, "HeaderDigest", "None");
		add_key(text, &len, "DataDigest", "None");
		snprintf(number, sizeof(number), "%u", OUR_MAX_RECV_DSL);
		add_key(text, &len, "MaxRecvDataSegmentLength", number);
		add_key(text, &len, "InitialR2T", "No");
		add_key(text, &len, "ImmediateData", "Yes");
		snprintf(number, sizeof(number), "%u", OUR_FIRST_BURST);
		add_key(text, &len, "FirstBurstLength", number);
		snprintf(number, sizeof(number), "%u", OUR_MAX_BURST);
		add_key(text, &len, "MaxBurstLength", number);
		add_key(text, &len, "MaxOutstandingR2T", "1");
		add_key(text, &len, "MaxConnections", "1");
		add_key(text, &len, "ErrorRecoveryLevel", "0");
		add_key(text, &len, "DataPDUInOrder", "Yes");
		add_key(text, &len, "DataSequenceInOrder", "Yes");
		add_key(text, &len, "DefaultTime2Wait", "0");
		add_key(text, &len, "DefaultTime2Retain", "0");
	}
}

static struct bench_conn *raw_connect(const struct bench_connect_params *p)
{
	struct bench_conn *c = calloc(1, sizeof(*c));
	struct timeval tv = { .tv_sec = (time_t)p->io_timeout_s };
	struct raw_url u;
	const char *err = NULL;
	unsigned i;

	if (c == NULL || (c->rx = malloc(RX_BUFFER_SIZE)) == NULL) {
		fprintf(stderr, "sangw-bench: out of memory\n");
		free(c);
		return NULL;
	}
	if (!parse_url(p->url, &u, &err)) {
		fprintf(stderr, "sangw-bench: bad URL %s: %s\n", p->shown_url, err);
		goto fail;
	}
	c->fd = bench_connect_portal(u.portal);
	if (c->fd < 0)
		goto fail;
	c->io_timeout_s = p->io_timeout_s;
	encode_lun(c->lun, u.lun);
	/* Before negotiation: the defaults of 13.12-13.15. */
	c->max_send_dsl = 8192;
	c->first_burst = 65536;
	c->max_burst = 262144;
	c->initial_r2t = true;
	c->immediate_data = true;
	for (i = MAX_TASKS; i-- > 0;) {
		c->tasks[i].itt = i;
		c->tasks[i].next = c->free_tasks;
		c->free_tasks = &c->tasks[i];
	}
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (!login(c, p, &u)) {
		fprintf(stderr, "sangw-bench: cannot log in to %s (session %u): %s\n", p->shown_url,
			p->index, c->error);
		close(c->fd);
		goto fail;
	}
	/* 13.14: FirstBurstLength must not exceed MaxBurstLength. */
	c->first_burst = min32(c->first_burst, c->max_burst);
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
	return c;
fail:
	free(c->rx);
	free(c);
	return NULL;
}

/* Logout (11.14) with reason "close the session", waiting for the answer
 * at most the I/O timeout. */
static void raw_logout(struct bench_conn *c)
{
	uint64_t deadline = mono_ns() + (uint64_t)c->io_timeout_s * 1000000000ull;
	uint8_t *bhs;

	if (c->dead || (bhs = tx_add(c, NULL, 0)) == NULL)
		return;
	bhs[0] = OP_LOGOUT_REQUEST | OP_IMMEDIATE;
	bhs[1] = FLAG_FINAL;
	put32(bhs + 16, ITT_LOGOUT);
	put32(bhs + 24, c->cmdsn);
	put32(bhs + 28, c->exp_statsn);
	while (!c->logged_out && !c->dead) {
		struct pollfd pfd = { .fd = c->fd };
		uint64_t now = mono_ns();

		if (raw_flush(c) < 0 || now >= deadline)
			break;
		pfd.events = raw_events(c);
		if (poll(&pfd, 1, (int)((deadline - now) / 1000000 + 1)) > 0)
			raw_service(c, pfd.revents);
	}
}

static void raw_destroy(struct bench_conn *c)
{
	unsigned i;

	c->dead = true;
	for (i = 0; i < MAX_TASKS; i++) {
		struct bench_result r = { .status = BENCH_STATUS_CANCELLED };

		if (c->tasks[i].busy)
			complete(c, &c->tasks[i], &r);
	}
	for (i = c->tx_done; i < c->tx_count; i++)
		free(c->tx[i].owned);
	close(c->fd);
	free(c->tx);
	free(c->rx);
	free(c);
}

const struct bench_engine_ops bench_raw_engine = {
	.name = "raw",
	.unsupported = raw_unsupported,
	.connect = raw_connect,
	.submit = raw_submit,
	.flush = raw_flush,
	.fd = raw_fd,
	.events = raw_events,
	.service = raw_service,
	.tick = raw_tick,
	.error = raw_error,
	.logout = raw_logout,
	.destroy = raw_destroy,
};
