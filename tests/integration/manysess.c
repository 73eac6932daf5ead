/* sangw-manysess: many iSCSI connections from one process, driven by one
 * epoll loop over raw TCP (the PDUs are built here from RFC 7143, as in
 * badpdu.c), for the load tests (tests/integration/29-*, 30-*).
 *
 * usage: sangw-manysess [options] sessions N  iscsi://HOST:PORT/TARGET/LUN
 *        sangw-manysess [options] stall KIND N iscsi://HOST:PORT/TARGET/LUN
 *
 * sessions N: N sessions with distinct initiator names and ISIDs log in
 *   (at most --parallel logins under way at once) and all stay logged in;
 *   then each does TEST UNIT READY (it takes the new nexus's unit
 *   attention), a WRITE of --blocks blocks at its own LBA with its own
 *   pattern and a READ that must return it; with every session done, the
 *   optional --peak-cmd runs (the test measures the target then), then
 *   every session logs out. Prints one line:
 *     sessions N logged-in A refused B io-ok C logged-out D login-s X io-s Y
 *   where refused counts Login Responses with status 0x0302 (Out of
 *   resources). Exit 0 when A+B = N and every logged-in session did its I/O
 *   and logged out cleanly, 1 otherwise.
 * stall KIND N: N connections that stop, KIND being
 *   connect   TCP connect, then nothing
 *   partial   half of a Login Request header, then nothing
 *   midlogin  a first Login Request (security stage, no transit) answered
 *             by the target, then nothing
 *   noread    a full login, then READs of --blocks blocks sent as fast as
 *             the socket takes them and no response ever read
 *   Prints "stalled N" on stdout once all are in place, then waits until
 *   the target has closed them all or --wait seconds passed, and prints
 *     closed K of N, first F s, last L s
 *   (times from "stalled"). noread connections are never read, so their
 *   closing is not watched: once no socket has taken a byte for a second
 *   (the target stopped reading) it prints "blocked N after T s, B bytes
 *   sent" and waits for SIGTERM.
 *
 * Options: --initiator-prefix IQN (default iqn.2026-11.org.sangw:many),
 *   --parallel P (logins under way at once, default 64), --blocks B
 *   (default 8, 512-byte blocks assumed), --timeout S (the whole run,
 *   default 120), --wait S (stall: default 60), --peak-cmd CMD (sessions:
 *   a shell command run at the peak; a failure fails the run). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client_util.h"

#define BHS_LEN 48
#define OP_NOP_OUT   0x00
#define OP_SCSI_CMD  0x01
#define OP_LOGIN_REQ 0x03
#define OP_DATA_OUT  0x05
#define OP_LOGOUT_REQ 0x06
#define OP_NOP_IN    0x20
#define OP_SCSI_RSP  0x21
#define OP_LOGIN_RSP 0x23
#define OP_DATA_IN   0x25
#define OP_LOGOUT_RSP 0x26
#define OP_R2T       0x31
#define OP_ASYNC     0x32
#define OP_REJECT    0x3f
#define FLAG_IMMEDIATE 0x40
#define FLAG_FINAL   0x80
#define RESERVED_TAG 0xffffffffu
#define STATUS_OUT_OF_RESOURCES 0x0302
#define MAX_RX_DATA 262144u   /* the MaxRecvDataSegmentLength we declare */

enum stall_kind { STALL_NONE, STALL_CONNECT, STALL_PARTIAL, STALL_MIDLOGIN, STALL_NOREAD };

enum state {
	S_IDLE,        /* not started */
	S_CONNECTING,
	S_LOGIN,       /* Login Request sent, waiting for the response */
	S_READY,       /* full feature phase, waiting for the I/O phase */
	S_TUR, S_WRITE, S_READ,
	S_IO_DONE,     /* waiting for the logout phase */
	S_LOGOUT,
	S_STALLED,     /* stall modes: holding */
	S_DONE,        /* closed as expected */
	S_FAILED,
	S_REFUSED,     /* login refused 0x0302 */
};

struct sess {
	unsigned idx;
	int fd;
	enum state state;
	uint8_t isid[6];
	uint32_t cmdsn, exp_statsn, itt;
	bool immediate_data;
	uint32_t max_recv;             /* the target's MaxRecvDataSegmentLength */
	uint32_t first_burst;
	/* receive: one PDU at a time */
	uint8_t rx_bhs[BHS_LEN];
	uint8_t *rx_data;
	uint32_t rx_have, rx_need_data;
	bool rx_in_data;
	/* transmit: a buffer of bytes to write */
	uint8_t *tx;
	size_t tx_len, tx_off, tx_cap;
	/* I/O */
	uint8_t *wbuf, *rbuf;
	uint32_t read_got;
	bool tur_retried;
	double closed_at;
	double last_progress;          /* noread: when a write last took bytes */
	uint64_t sent;                 /* noread: bytes the target took */
	bool watched;                  /* registered with epoll */
};

static struct {
	const char *host, *port, *target;
	unsigned lun;
	const char *prefix;
	unsigned parallel, blocks, timeout_s, wait_s;
	const char *peak_cmd;
	enum stall_kind stall;
	unsigned n;
} cfg = { .prefix = "iqn.2026-11.org.sangw:many", .parallel = 64, .blocks = 8,
	  .timeout_s = 120, .wait_s = 60 };

static int epfd;
static struct sess *sessions;
static volatile sig_atomic_t stop_requested;

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put24(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 16); p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p + 2, (uint16_t)v); }
static uint32_t get24(const uint8_t *p) { return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2]; }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static void on_term(int sig) { (void)sig; stop_requested = 1; }

static int parse_url(const char *url)
{
	static char buf[512];
	char *p, *slash, *colon;

	if (strncmp(url, "iscsi://", 8) != 0 || strlen(url) >= sizeof(buf))
		return -1;
	strcpy(buf, url + 8);
	slash = strchr(buf, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	cfg.target = slash + 1;
	p = strchr(slash + 1, '/');
	if (!p)
		return -1;
	*p = '\0';
	cfg.lun = (unsigned)strtoul(p + 1, NULL, 10);
	colon = strrchr(buf, ':');
	cfg.host = buf;
	cfg.port = "3260";
	if (colon) {
		*colon = '\0';
		cfg.port = colon + 1;
	}
	return 0;
}

/* --- transmit ------------------------------------------------------------- */

static void watch(struct sess *s, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = s };

	if (epoll_ctl(epfd, s->watched ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s->fd, &ev) == 0)
		s->watched = true;
}

static void tx_append(struct sess *s, const void *p, size_t len)
{
	if (s->tx_len + len > s->tx_cap) {
		size_t cap = (s->tx_len + len) * 2;
		uint8_t *b = realloc(s->tx, cap);
		if (!b) {
			say("out of memory");
			exit(2);
		}
		s->tx = b;
		s->tx_cap = cap;
	}
	memcpy(s->tx + s->tx_len, p, len);
	s->tx_len += len;
}

/* Queue one PDU: header, data padded to 4 (RFC 7143 11.2.3), no digests. */
static void send_pdu(struct sess *s, uint8_t *bhs, const void *data, uint32_t len)
{
	static const uint8_t zeros[4];

	put24(bhs + 5, len);
	tx_append(s, bhs, BHS_LEN);
	if (len) {
		tx_append(s, data, len);
		if (len % 4)
			tx_append(s, zeros, 4 - len % 4);
	}
}

/* Write what is queued; false when the connection failed. */
static bool flush(struct sess *s)
{
	while (s->tx_off < s->tx_len) {
		ssize_t w = write(s->fd, s->tx + s->tx_off, s->tx_len - s->tx_off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return false;
		}
		s->tx_off += (size_t)w;
		s->sent += (uint64_t)w;
		s->last_progress = now_s();
	}
	if (s->tx_off == s->tx_len)
		s->tx_off = s->tx_len = 0;
	return true;
}

static size_t add_key(char *buf, size_t off, size_t cap, const char *key, const char *value)
{
	int n = snprintf(buf + off, cap - off, "%s=%s", key, value);

	if (n < 0 || (size_t)n + 1 > cap - off)
		return off;
	return off + (size_t)n + 1;
}

/* The leading (and only) Login Request: operational stage straight away
 * (RFC 7143 6.3: allowed when no security negotiation is wanted), T=1 to
 * full feature phase; or, for midlogin, the security stage without T. */
static void send_login(struct sess *s, bool security_only)
{
	char keys[1024], name[256];
	uint8_t bhs[BHS_LEN] = { 0 };
	size_t n = 0;

	snprintf(name, sizeof(name), "%s-%05u", cfg.prefix, s->idx);
	n = add_key(keys, n, sizeof(keys), "InitiatorName", name);
	n = add_key(keys, n, sizeof(keys), "SessionType", "Normal");
	n = add_key(keys, n, sizeof(keys), "TargetName", cfg.target);
	if (security_only) {
		n = add_key(keys, n, sizeof(keys), "AuthMethod", "None");
	} else {
		n = add_key(keys, n, sizeof(keys), "HeaderDigest", "None");
		n = add_key(keys, n, sizeof(keys), "DataDigest", "None");
		n = add_key(keys, n, sizeof(keys), "MaxRecvDataSegmentLength", "262144");
		n = add_key(keys, n, sizeof(keys), "ErrorRecoveryLevel", "0");
		n = add_key(keys, n, sizeof(keys), "InitialR2T", "Yes");
		n = add_key(keys, n, sizeof(keys), "ImmediateData", "Yes");
		n = add_key(keys, n, sizeof(keys), "MaxBurstLength", "262144");
		n = add_key(keys, n, sizeof(keys), "FirstBurstLength", "65536");
		n = add_key(keys, n, sizeof(keys), "MaxConnections", "1");
	}
	bhs[0] = OP_LOGIN_REQ | FLAG_IMMEDIATE;
	bhs[1] = security_only ? 0 : (uint8_t)(0x80 | 1 << 2 | 3);   /* T, CSG 1, NSG 3 */
	memcpy(bhs + 8, s->isid, 6);
	put32(bhs + 16, s->itt);
	put32(bhs + 24, s->cmdsn);
	put32(bhs + 28, s->exp_statsn);
	send_pdu(s, bhs, keys, (uint32_t)n);
}

static void scsi_cmd(struct sess *s, uint8_t op, uint32_t lba, uint32_t blocks, bool read,
		     bool write)
{
	uint8_t bhs[BHS_LEN] = { 0 };
	uint32_t len = blocks * 512, imm = 0;

	bhs[0] = OP_SCSI_CMD;
	bhs[1] = (uint8_t)(FLAG_FINAL | (read ? 0x40 : 0) | (write ? 0x20 : 0) | 1);  /* SIMPLE */
	bhs[9] = (uint8_t)cfg.lun;       /* flat LUN (SAM-5 4.7.3), below 256 */
	put32(bhs + 16, ++s->itt);
	put32(bhs + 20, len);
	put32(bhs + 24, s->cmdsn++);
	put32(bhs + 28, s->exp_statsn);
	bhs[32] = op;
	if (op != 0x00) {                 /* READ(10)/WRITE(10) */
		put32(bhs + 34, lba);
		put16(bhs + 39, (uint16_t)blocks);
	}
	if (write && s->immediate_data) {
		imm = len < s->first_burst ? len : s->first_burst;
		if (imm > s->max_recv)
			imm = s->max_recv;
	}
	send_pdu(s, bhs, s->wbuf, imm);
}

static void fill_pattern(struct sess *s)
{
	for (uint32_t i = 0; i < cfg.blocks * 512; i++)
		s->wbuf[i] = (uint8_t)(s->idx * 131 + i * 7 + (i >> 9));
}

/* --- the state machine ----------------------------------------------------- */

static unsigned count_in(enum state st)
{
	unsigned n = 0;

	for (unsigned i = 0; i < cfg.n; i++)
		n += sessions[i].state == st;
	return n;
}

static void sess_close(struct sess *s, enum state st)
{
	if (s->fd >= 0) {
		if (s->watched)
			epoll_ctl(epfd, EPOLL_CTL_DEL, s->fd, NULL);
		close(s->fd);
	}
	s->fd = -1;
	s->watched = false;
	s->state = st;
	s->closed_at = now_s();
}

static void sess_fail(struct sess *s, const char *why)
{
	say("session %u: %s", s->idx, why);
	sess_close(s, S_FAILED);
}

static void start_connect(struct sess *s)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai;
	int one = 1;

	if (getaddrinfo(cfg.host, cfg.port, &hints, &ai) != 0) {
		sess_fail(s, "cannot resolve the portal");
		return;
	}
	s->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		freeaddrinfo(ai);
		sess_fail(s, strerror(errno));
		return;
	}
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (cfg.stall == STALL_NOREAD) {
		/* A small receive window: the target's output stops early. */
		int small = 4096;
		setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	}
	if (connect(s->fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
		freeaddrinfo(ai);
		sess_fail(s, strerror(errno));
		return;
	}
	freeaddrinfo(ai);
	s->state = S_CONNECTING;
	watch(s, EPOLLOUT);
}

/* The socket connected. */
static void connected(struct sess *s)
{
	int err = 0;
	socklen_t len = sizeof(err);

	getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err) {
		sess_fail(s, strerror(err));
		return;
	}
	switch (cfg.stall) {
	case STALL_CONNECT:
		s->state = S_STALLED;
		watch(s, EPOLLIN);
		return;
	case STALL_PARTIAL: {
		uint8_t bhs[BHS_LEN] = { OP_LOGIN_REQ | FLAG_IMMEDIATE, 0x87 };
		tx_append(s, bhs, BHS_LEN / 2);
		if (!flush(s))
			sess_fail(s, "send failed");
		s->state = S_STALLED;
		watch(s, EPOLLIN);
		return;
	}
	case STALL_MIDLOGIN:
		send_login(s, true);
		break;
	default:
		send_login(s, false);
		break;
	}
	s->state = S_LOGIN;
	if (!flush(s)) {
		sess_fail(s, "send failed");
		return;
	}
	watch(s, EPOLLIN | (s->tx_len ? EPOLLOUT : 0));
}

static const char *find_key(const uint8_t *data, uint32_t len, const char *key)
{
	size_t klen = strlen(key);

	for (uint32_t off = 0; off < len;) {
		const char *kv = (const char *)data + off;
		size_t l = strnlen(kv, len - off);
		if (l > klen && !strncmp(kv, key, klen) && kv[klen] == '=')
			return kv + klen + 1;
		off += (uint32_t)l + 1;
	}
	return NULL;
}

static void noread_flood(struct sess *s);

static void got_login_rsp(struct sess *s)
{
	const uint8_t *b = s->rx_bhs;
	uint16_t status = (uint16_t)(b[36] << 8 | b[37]);
	const char *v;

	if (status == STATUS_OUT_OF_RESOURCES) {
		sess_close(s, S_REFUSED);
		return;
	}
	if (status) {
		char why[64];
		snprintf(why, sizeof(why), "login status 0x%04x", status);
		sess_fail(s, why);
		return;
	}
	s->exp_statsn = get32(b + 24) + 1;
	s->cmdsn = get32(b + 28);
	if (cfg.stall == STALL_MIDLOGIN) {
		s->state = S_STALLED;    /* answered: now say nothing more */
		return;
	}
	if ((v = find_key(s->rx_data, s->rx_need_data, "ImmediateData")))
		s->immediate_data = !strcmp(v, "Yes");
	if ((v = find_key(s->rx_data, s->rx_need_data, "MaxRecvDataSegmentLength")))
		s->max_recv = (uint32_t)strtoul(v, NULL, 10);
	if ((v = find_key(s->rx_data, s->rx_need_data, "FirstBurstLength")))
		s->first_burst = (uint32_t)strtoul(v, NULL, 10);
	if (!(b[1] & 0x80) || (b[1] & 3) != 3) {
		/* The target wants another round: an empty request. */
		uint8_t bhs[BHS_LEN] = { 0 };
		bhs[0] = OP_LOGIN_REQ | FLAG_IMMEDIATE;
		bhs[1] = (uint8_t)(0x80 | 1 << 2 | 3);
		memcpy(bhs + 8, s->isid, 6);
		put32(bhs + 16, s->itt);
		put32(bhs + 24, s->cmdsn);
		put32(bhs + 28, s->exp_statsn);
		send_pdu(s, bhs, NULL, 0);
		return;
	}
	if (cfg.stall == STALL_NOREAD) {
		s->state = S_STALLED;
		noread_flood(s);
		return;
	}
	s->state = S_READY;
}

static void start_io(struct sess *s)
{
	s->state = S_TUR;
	scsi_cmd(s, 0x00, 0, 0, false, false);
}

static void got_scsi_rsp(struct sess *s, const uint8_t *b)
{
	uint8_t status = b[3];

	s->exp_statsn = get32(b + 24) + 1;
	if (b[2] != 0) {
		sess_fail(s, "SCSI response: target failure");
		return;
	}
	switch (s->state) {
	case S_TUR:
		/* The first command of a new nexus may get the power-on unit
		 * attention (SAM-5 5.14); one more TUR then. */
		if (status && !s->tur_retried) {
			s->tur_retried = true;
			scsi_cmd(s, 0x00, 0, 0, false, false);
			return;
		}
		if (status) {
			sess_fail(s, "TEST UNIT READY failed twice");
			return;
		}
		s->state = S_WRITE;
		fill_pattern(s);
		scsi_cmd(s, 0x2a, s->idx * cfg.blocks, cfg.blocks, false, true);
		return;
	case S_WRITE:
		if (status) {
			sess_fail(s, "WRITE failed");
			return;
		}
		s->state = S_READ;
		s->read_got = 0;
		memset(s->rbuf, 0, cfg.blocks * 512);
		scsi_cmd(s, 0x28, s->idx * cfg.blocks, cfg.blocks, true, false);
		return;
	case S_READ:
		if (status || s->read_got != cfg.blocks * 512 || memcmp(s->rbuf, s->wbuf, s->read_got)) {
			sess_fail(s, status ? "READ failed" : "data read back differs from what was written");
			return;
		}
		s->state = S_IO_DONE;
		return;
	default:
		sess_fail(s, "unexpected SCSI response");
	}
}

static void got_data_in(struct sess *s, const uint8_t *b)
{
	uint32_t off = get32(b + 40), len = s->rx_need_data;

	if (s->state != S_READ || off + len > cfg.blocks * 512) {
		sess_fail(s, "unexpected Data-In");
		return;
	}
	memcpy(s->rbuf + off, s->rx_data, len);
	s->read_got += len;
	if (b[1] & 0x01) {    /* S bit: status in the last Data-In (11.7.3) */
		uint8_t rsp[BHS_LEN] = { 0 };
		memcpy(rsp, b, BHS_LEN);
		rsp[2] = 0;
		got_scsi_rsp(s, rsp);
	}
}

static void got_r2t(struct sess *s, const uint8_t *b)
{
	uint32_t off = get32(b + 40), len = get32(b + 44), sn = 0;

	if (s->state != S_WRITE || off + len > cfg.blocks * 512) {
		sess_fail(s, "unexpected R2T");
		return;
	}
	while (len) {
		uint8_t bhs[BHS_LEN] = { 0 };
		uint32_t seg = len < s->max_recv ? len : s->max_recv;

		bhs[0] = OP_DATA_OUT;
		bhs[1] = seg == len ? FLAG_FINAL : 0;
		memcpy(bhs + 16, b + 16, 8);       /* ITT, TTT */
		put32(bhs + 28, s->exp_statsn);
		put32(bhs + 36, sn++);
		put32(bhs + 40, off);
		send_pdu(s, bhs, s->wbuf + off, seg);
		off += seg;
		len -= seg;
	}
}

static void got_pdu(struct sess *s)
{
	const uint8_t *b = s->rx_bhs;

	switch (b[0] & 0x3f) {
	case OP_LOGIN_RSP:
		if (s->state == S_LOGIN)
			got_login_rsp(s);
		else
			sess_fail(s, "unexpected Login Response");
		return;
	case OP_SCSI_RSP:
		got_scsi_rsp(s, b);
		return;
	case OP_DATA_IN:
		got_data_in(s, b);
		return;
	case OP_R2T:
		got_r2t(s, b);
		return;
	case OP_NOP_IN:
		if (get32(b + 20) != RESERVED_TAG) {
			/* A ping (11.19): answer it, immediate, same TTT. */
			uint8_t bhs[BHS_LEN] = { 0 };
			bhs[0] = OP_NOP_OUT | FLAG_IMMEDIATE;
			bhs[1] = FLAG_FINAL;
			put32(bhs + 16, RESERVED_TAG);
			memcpy(bhs + 20, b + 20, 4);
			put32(bhs + 24, s->cmdsn);
			put32(bhs + 28, s->exp_statsn);
			send_pdu(s, bhs, NULL, 0);
		}
		return;
	case OP_ASYNC:
		return;   /* e.g. a logout request at shutdown: the test ends anyway */
	case OP_LOGOUT_RSP:
		if (s->state == S_LOGOUT && b[2] == 0) {
			sess_close(s, S_DONE);
			return;
		}
		sess_fail(s, "logout refused");
		return;
	case OP_REJECT:
		sess_fail(s, "Reject PDU");
		return;
	default: {
		char why[48];
		snprintf(why, sizeof(why), "unexpected opcode 0x%02x", b[0] & 0x3f);
		sess_fail(s, why);
	}
	}
}

/* Read what arrived; whole PDUs go to got_pdu(). */
static void readable(struct sess *s)
{
	for (int budget = 16; budget > 0 && s->fd >= 0; budget--) {
		ssize_t r;

		if (cfg.stall == STALL_NOREAD && s->state == S_STALLED)
			return;   /* flooding: not a byte is read any more */

		if (!s->rx_in_data) {
			r = read(s->fd, s->rx_bhs + s->rx_have, BHS_LEN - s->rx_have);
		} else {
			uint32_t padded = (s->rx_need_data + 3) & ~3u;
			r = read(s->fd, s->rx_data + s->rx_have, padded - s->rx_have);
		}
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
			/* Closed by the target: what the stall modes wait for. */
			if (s->state == S_STALLED || s->state == S_LOGIN) {
				sess_close(s, S_DONE);
				return;
			}
			sess_fail(s, r == 0 ? "connection closed by the target" : strerror(errno));
			return;
		}
		if (r < 0)
			return;
		if (s->state == S_STALLED && cfg.stall != STALL_MIDLOGIN) {
			s->rx_have = 0;   /* connect/partial: nothing is expected */
			continue;
		}
		s->rx_have += (uint32_t)r;
		if (!s->rx_in_data) {
			if (s->rx_have < BHS_LEN)
				continue;
			s->rx_need_data = get24(s->rx_bhs + 5);
			if (s->rx_bhs[4] || s->rx_need_data > MAX_RX_DATA) {
				sess_fail(s, "AHS or oversized data segment");
				return;
			}
			s->rx_have = 0;
			if (s->rx_need_data) {
				s->rx_in_data = true;
				continue;
			}
		} else if (s->rx_have < ((s->rx_need_data + 3) & ~3u)) {
			continue;
		}
		s->rx_in_data = false;
		s->rx_have = 0;
		got_pdu(s);
		s->rx_need_data = 0;
	}
}

/* noread: READs of cfg.blocks as long as the socket takes them, CmdSN
 * ever increasing whatever MaxCmdSN says (the target must ignore what is
 * beyond its window); never read a byte. */
static void noread_flood(struct sess *s)
{
	for (int i = 0; i < 256 && s->tx_len < 1u << 20; i++)
		scsi_cmd(s, 0x28, 0, cfg.blocks, true, false);
}

static void writable(struct sess *s)
{
	if (s->state == S_CONNECTING) {
		connected(s);
		return;
	}
	if (!flush(s))
		sess_fail(s, "send failed");
}

static void update_events(struct sess *s)
{
	uint32_t ev;

	if (s->fd < 0)
		return;
	if (s->state == S_CONNECTING)
		return;
	if (cfg.stall == STALL_NOREAD && s->state == S_STALLED) {
		if (s->tx_len == 0)
			noread_flood(s);
		flush(s);
		ev = EPOLLOUT;      /* never EPOLLIN */
	} else {
		ev = EPOLLIN | (s->tx_len ? EPOLLOUT : 0);
	}
	watch(s, ev);
}

/* --- phases ------------------------------------------------------------------ */

static int run_loop_until(bool (*done)(void), double deadline)
{
	struct epoll_event evs[256];

	while (!done() && !stop_requested) {
		int n = epoll_wait(epfd, evs, 256, 100);

		if (now_s() > deadline)
			return -1;
		for (int i = 0; i < n; i++) {
			struct sess *s = evs[i].data.ptr;

			if (s->fd < 0)
				continue;
			if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
				writable(s);
				if (s->fd < 0)
					continue;
			}
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				readable(s);
			if (s->fd >= 0) {
				flush(s);
				update_events(s);
			}
		}
	}
	return 0;
}

static unsigned next_to_start;

static bool logins_done(void)
{
	unsigned busy = count_in(S_CONNECTING) + count_in(S_LOGIN);

	while (busy < cfg.parallel && next_to_start < cfg.n) {
		start_connect(&sessions[next_to_start++]);
		busy++;
	}
	return next_to_start == cfg.n && busy == 0;
}

static bool io_done(void)
{
	return count_in(S_TUR) + count_in(S_WRITE) + count_in(S_READ) == 0;
}

static bool logouts_done(void)
{
	return count_in(S_LOGOUT) == 0;
}

static bool stalls_ready(void)
{
	logins_done();
	return next_to_start == cfg.n && count_in(S_CONNECTING) == 0 &&
	       count_in(S_LOGIN) == 0;
}

static bool stalls_closed(void)
{
	return count_in(S_STALLED) == 0;
}

static int run_sessions(void)
{
	double t0 = now_s(), deadline = t0 + cfg.timeout_s, t_login, t_io;
	unsigned in, refused, io_ok, out;
	int rc = 0;

	run_loop_until(logins_done, deadline);
	t_login = now_s() - t0;
	in = count_in(S_READY);
	refused = count_in(S_REFUSED);
	say("%u sessions logged in at once, %u refused (0x0302), %.2f s", in, refused, t_login);
	t0 = now_s();
	for (unsigned i = 0; i < cfg.n; i++)
		if (sessions[i].state == S_READY) {
			start_io(&sessions[i]);
			flush(&sessions[i]);
			update_events(&sessions[i]);
		}
	run_loop_until(io_done, deadline);
	t_io = now_s() - t0;
	io_ok = count_in(S_IO_DONE);
	if (cfg.peak_cmd) {
		fflush(stdout);
		if (system(cfg.peak_cmd) != 0) {
			say("--peak-cmd failed");
			rc = 1;
		}
	}
	for (unsigned i = 0; i < cfg.n; i++) {
		struct sess *s = &sessions[i];
		if (s->state == S_IO_DONE) {
			/* 11.14: close the session. */
			uint8_t bhs[BHS_LEN] = { 0 };
			bhs[0] = OP_LOGOUT_REQ | FLAG_IMMEDIATE;
			bhs[1] = FLAG_FINAL;
			put32(bhs + 16, ++s->itt);
			put32(bhs + 24, s->cmdsn);
			put32(bhs + 28, s->exp_statsn);
			send_pdu(s, bhs, NULL, 0);
			s->state = S_LOGOUT;
			flush(s);
			update_events(s);
		}
	}
	run_loop_until(logouts_done, deadline);
	out = count_in(S_DONE);
	printf("sessions %u logged-in %u refused %u io-ok %u logged-out %u login-s %.2f io-s %.2f\n",
	       cfg.n, in, refused, io_ok, out, t_login, t_io);
	if (in + refused != cfg.n || io_ok != in || out != in)
		rc = 1;
	return rc;
}

static bool noread_blocked(void)
{
	double now = now_s();

	for (unsigned i = 0; i < cfg.n; i++) {
		const struct sess *s = &sessions[i];
		/* Not writable for a second (EPOLLOUT is on all along). */
		if (s->state == S_STALLED && now - s->last_progress < 1.0)
			return false;
	}
	return true;
}

static int run_stall(void)
{
	double deadline = now_s() + cfg.timeout_s, t0, first = 0, last = 0;
	unsigned closed = 0;

	cfg.parallel = cfg.n;
	if (run_loop_until(stalls_ready, deadline) < 0) {
		say("not all %u connections got in place", cfg.n);
		return 1;
	}
	t0 = now_s();
	printf("stalled %u (%u already closed)\n", count_in(S_STALLED), count_in(S_DONE));
	fflush(stdout);
	if (cfg.stall == STALL_NOREAD) {
		/* The target must stop taking our requests: report once no
		 * session's socket has taken a byte for a second. */
		run_loop_until(noread_blocked, t0 + cfg.wait_s);
		if (noread_blocked()) {
			uint64_t sent = 0;
			for (unsigned i = 0; i < cfg.n; i++)
				sent += sessions[i].sent;
			printf("blocked %u after %.2f s, %llu bytes sent\n", count_in(S_STALLED),
			       now_s() - t0, (unsigned long long)sent);
		} else {
			printf("not blocked after %u s: the target keeps reading\n", cfg.wait_s);
		}
		fflush(stdout);
		while (!stop_requested)
			run_loop_until(stalls_closed, now_s() + 3600);
		return 0;
	}
	run_loop_until(stalls_closed, t0 + cfg.wait_s);
	for (unsigned i = 0; i < cfg.n; i++) {
		struct sess *s = &sessions[i];
		if (s->state != S_DONE)
			continue;
		double t = s->closed_at - t0;
		if (t < 0)
			t = 0;
		if (!closed || t < first)
			first = t;
		if (t > last)
			last = t;
		closed++;
	}
	printf("closed %u of %u, first %.2f s, last %.2f s\n", closed, cfg.n, first, last);
	return closed == cfg.n ? 0 : 1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "initiator-prefix", required_argument, NULL, 'i' },
		{ "parallel", required_argument, NULL, 'p' },
		{ "blocks", required_argument, NULL, 'b' },
		{ "timeout", required_argument, NULL, 't' },
		{ "wait", required_argument, NULL, 'w' },
		{ "peak-cmd", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	const char *url;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'i': cfg.prefix = optarg; break;
		case 'p': cfg.parallel = (unsigned)atoi(optarg); break;
		case 'b': cfg.blocks = (unsigned)atoi(optarg); break;
		case 't': cfg.timeout_s = (unsigned)atoi(optarg); break;
		case 'w': cfg.wait_s = (unsigned)atoi(optarg); break;
		case 'k': cfg.peak_cmd = optarg; break;
		default: return 2;
		}
	}
	if (argc - optind == 3 && !strcmp(argv[optind], "sessions")) {
		cfg.n = (unsigned)atoi(argv[optind + 1]);
		url = argv[optind + 2];
	} else if (argc - optind == 4 && !strcmp(argv[optind], "stall")) {
		const char *k = argv[optind + 1];
		cfg.stall = !strcmp(k, "connect") ? STALL_CONNECT : !strcmp(k, "partial") ? STALL_PARTIAL
			  : !strcmp(k, "midlogin") ? STALL_MIDLOGIN : !strcmp(k, "noread") ? STALL_NOREAD
			  : STALL_NONE;
		if (cfg.stall == STALL_NONE) {
			say("unknown stall kind '%s'", k);
			return 2;
		}
		cfg.n = (unsigned)atoi(argv[optind + 2]);
		url = argv[optind + 3];
	} else {
		say("usage: sangw-manysess [options] sessions N URL | stall KIND N URL");
		return 2;
	}
	if (!cfg.n || !cfg.parallel || !cfg.blocks || cfg.blocks > 65535 || parse_url(url) < 0) {
		say("bad arguments");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	sessions = calloc(cfg.n, sizeof(*sessions));
	if (epfd < 0 || !sessions)
		return 2;
	for (unsigned i = 0; i < cfg.n; i++) {
		struct sess *s = &sessions[i];
		s->idx = i;
		s->fd = -1;
		s->itt = 1;
		s->max_recv = 8192;
		s->first_burst = 65536;
		/* ISID type "random" (RFC 7143 11.12.5), distinct per session. */
		s->isid[0] = 0x80;
		s->isid[1] = 0x4d;
		put16(s->isid + 2, (uint16_t)getpid());
		put16(s->isid + 4, (uint16_t)i);
		s->rx_data = malloc(MAX_RX_DATA + 4);
		s->wbuf = malloc(cfg.blocks * 512);
		s->rbuf = malloc(cfg.blocks * 512);
		if (!s->rx_data || !s->wbuf || !s->rbuf)
			return 2;
		memset(s->wbuf, 0, cfg.blocks * 512);
	}
	c = cfg.stall ? run_stall() : run_sessions();
	for (unsigned i = 0; i < cfg.n; i++) {
		if (sessions[i].fd >= 0)
			close(sessions[i].fd);
		free(sessions[i].rx_data);
		free(sessions[i].wbuf);
		free(sessions[i].rbuf);
		free(sessions[i].tx);
	}
	free(sessions);
	close(epfd);
	return c;
}
