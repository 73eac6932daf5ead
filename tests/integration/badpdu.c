/* badpdu: feed an iSCSI target malformed and hostile input over raw TCP
 * and check it answers as RFC 7143 and SPC-4 say, while a separate healthy
 * session keeps working.
 *
 * usage: badpdu [--initiator IQN] [--chap-user U --chap-secret S]
 *               [--timeout MS] [--flood N] [--only PATTERN] [--list]
 *               [--immediate-flood N] [--flood-lun LUN]
 *               iscsi://HOST[:PORT]/TARGET-IQN/LUN
 *
 * The client is written from the RFC, not from the target's code: it logs
 * in by hand (without authentication, or with CHAP when given credentials:
 * then the login attacks run too), builds every PDU itself and computes its
 * own CRC32C digests and MD5 CHAP responses, so it checks the target rather
 * than sharing its bugs.
 * Each case prints "PASS name: what happened", "FAIL name: why" or
 * "SKIP name: why"; after every case the healthy session must still answer
 * a NOP-Out and read the same data as at the start. Exit status 0 when no
 * case failed, 1 otherwise, 2 on a usage error. */
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* --- protocol constants (RFC 7143 section 11) ------------------------------ */

#define BHS_LEN 48
#define DIGEST_LEN 4

#define OP_NOP_OUT    0x00
#define OP_SCSI_CMD   0x01
#define OP_LOGIN_REQ  0x03
#define OP_DATA_OUT   0x05
#define OP_NOP_IN     0x20
#define OP_SCSI_RSP   0x21
#define OP_LOGIN_RSP  0x23
#define OP_DATA_IN    0x25
#define OP_R2T        0x31
#define OP_ASYNC      0x32
#define OP_REJECT     0x3f

#define FLAG_IMMEDIATE 0x40
#define FLAG_FINAL     0x80
#define NO_TAG         0xffffffffu

#define REJECT_DATA_DIGEST   0x02
#define REJECT_PROTOCOL      0x04
#define REJECT_NOT_SUPPORTED 0x05
#define REJECT_INVALID_FIELD 0x09

/* Vendor-specific initiator opcode (11.1.1: 0x1c-0x1e): no target of ours
 * implements it. */
#define UNKNOWN_OPCODE 0x1d
/* SPC-4: operation codes C0h-FFh are vendor specific. */
#define UNKNOWN_CDB_OPCODE 0xf7

#define MAX_PDU_DATA (16u << 20)    /* larger segments are treated as garbage */
#define OUR_MAX_RECV 262144u        /* MaxRecvDataSegmentLength we declare */

/* --- small helpers --------------------------------------------------------- */

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put24(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 16); p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p + 2, (uint16_t)v); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)(v >> 32)); put32(p + 4, (uint32_t)v); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get24(const uint8_t *p) { return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2]; }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }

/* Serial number arithmetic, RFC 1982 (RFC 7143 4.2.2.1). */
static bool sn_gt(uint32_t a, uint32_t b) { return a != b && (int32_t)(a - b) > 0; }
static bool sn_le(uint32_t a, uint32_t b) { return a == b || (int32_t)(a - b) < 0; }

static uint32_t pad4(uint32_t n) { return (n + 3u) & ~3u; }

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* CRC32C (Castagnoli, reflected polynomial 0x82F63B78), RFC 7143 13.1 and
 * Appendix B.4; a bitwise table built once, speed does not matter here. */
static uint32_t crc32c(const void *buf, size_t len)
{
	static uint32_t table[256];
	static bool ready;
	const uint8_t *p = buf;
	uint32_t crc = 0xffffffffu;

	if (!ready) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;

			for (int k = 0; k < 8; k++)
				c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
			table[i] = c;
		}
		ready = true;
	}
	while (len--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc ^ 0xffffffffu;
}

/* The digest goes on the wire least significant byte first (B.4). */
static void put_digest(uint8_t *p, uint32_t crc)
{
	p[0] = (uint8_t)crc;
	p[1] = (uint8_t)(crc >> 8);
	p[2] = (uint8_t)(crc >> 16);
	p[3] = (uint8_t)(crc >> 24);
}

static uint32_t get_digest(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* --- configuration ----------------------------------------------------------- */

struct config {
	char host[256];
	char port[16];
	char target[256];
	unsigned lun;
	const char *initiator;
	const char *chap_user, *chap_secret;   /* the target requires CHAP */
	int timeout_ms;
	unsigned flood;
	const char *only;
	int nop_wait_ms;       /* > 0: the target pings quickly; run silent-initiator */
	int flood_lun;         /* immediate-flood's LU (-1: lun) */
	unsigned immediate_flood; /* immediate-flood's command count */
};

static struct config cfg = {
	.port = "3260",
	.initiator = "iqn.2026-11.org.sangw:badpdu",
	.timeout_ms = 5000,
	.flood = 10000,
	.flood_lun = -1,
	.immediate_flood = 300,
};

/* --- connections ------------------------------------------------------------- */

struct conn {
	int fd;
	bool header_digest, data_digest;  /* in force after login */
	uint32_t next_itt;
	uint32_t cmdsn, exp_statsn, max_cmdsn;
	uint32_t target_max_recv;         /* target's MaxRecvDataSegmentLength */
	bool immediate_data;
	uint32_t first_burst;
};

struct pdu {
	uint8_t bhs[BHS_LEN];
	uint8_t *data;
	uint32_t len;
};

enum recv_result { RECV_OK, RECV_CLOSED, RECV_TIMEOUT, RECV_GARBAGE };

static const char *recv_result_name(enum recv_result r)
{
	switch (r) {
	case RECV_OK: return "a PDU";
	case RECV_CLOSED: return "connection closed";
	case RECV_TIMEOUT: return "no answer (timeout)";
	default: return "malformed PDU from the target";
	}
}

static void pdu_free(struct pdu *p)
{
	free(p->data);
	p->data = NULL;
	p->len = 0;
}

static uint16_t isid_counter;

static int tcp_connect(void)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res, *ai;
	int fd = -1, one = 1;

	if (getaddrinfo(cfg.host, cfg.port, &hints, &res) != 0)
		return -1;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd >= 0) {
		/* A target that stops reading must fail a case, not hang it. */
		struct timeval tv = { .tv_sec = cfg.timeout_ms / 1000,
				      .tv_usec = (cfg.timeout_ms % 1000) * 1000 };

		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	return fd;
}

static void conn_init(struct conn *c)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->next_itt = 0x1000;
	c->cmdsn = 1;
	c->target_max_recv = 8192;   /* RFC 7143 13.12 default */
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* Send everything; false when the peer is gone. */
static bool send_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* Wait until fd is readable or deadline passes. */
static enum recv_result wait_readable(int fd, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int n;

		if (left < 0)
			left = 0;
		n = poll(&pfd, 1, (int)left);
		if (n > 0)
			return RECV_OK;
		if (n == 0)
			return RECV_TIMEOUT;
		if (errno != EINTR)
			return RECV_CLOSED;
	}
}

static enum recv_result recv_exact(int fd, void *buf, size_t len, int64_t deadline)
{
	uint8_t *p = buf;

	while (len > 0) {
		enum recv_result r = wait_readable(fd, deadline);
		ssize_t n;

		if (r != RECV_OK)
			return r;
		n = recv(fd, p, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return RECV_CLOSED;    /* EOF or reset */
		p += n;
		len -= (size_t)n;
	}
	return RECV_OK;
}

enum { CORRUPT_NONE = 0, CORRUPT_HEADER_DIGEST = 1, CORRUPT_DATA_DIGEST = 2 };

/* Send one PDU: BHS, header digest, data padded to 4 bytes, data digest
 * (RFC 7143 11.1). The data segment length is filled in from len unless
 * declared_len is non-zero (to lie about it). */
static bool pdu_send_ex(struct conn *c, uint8_t *bhs, const void *data, uint32_t len,
			int corrupt, uint32_t declared_len)
{
	size_t total = BHS_LEN + (c->header_digest ? DIGEST_LEN : 0) + pad4(len) +
		       (c->data_digest && len ? DIGEST_LEN : 0);
	uint8_t *buf = calloc(1, total);
	size_t off = BHS_LEN;
	bool ok;

	if (buf == NULL)
		return false;
	put24(bhs + 5, declared_len ? declared_len : len);
	memcpy(buf, bhs, BHS_LEN);
	if (c->header_digest) {
		uint32_t crc = crc32c(buf, BHS_LEN);

		put_digest(buf + off, corrupt & CORRUPT_HEADER_DIGEST ? crc ^ 0x5a5a5a5au : crc);
		off += DIGEST_LEN;
	}
	if (len) {
		memcpy(buf + off, data, len);
		off += pad4(len);
		if (c->data_digest) {
			uint32_t crc = crc32c(buf + off - pad4(len), pad4(len));

			put_digest(buf + off, corrupt & CORRUPT_DATA_DIGEST ? crc ^ 0xa5a5a5a5u : crc);
			off += DIGEST_LEN;
		}
	}
	ok = send_all(c->fd, buf, off);
	free(buf);
	return ok;
}

static bool pdu_send(struct conn *c, uint8_t *bhs, const void *data, uint32_t len)
{
	return pdu_send_ex(c, bhs, data, len, CORRUPT_NONE, 0);
}

/* Track the target's sequence numbers (RFC 7143 4.2.2). */
static void note_sequence_numbers(struct conn *c, const uint8_t *bhs)
{
	uint8_t op = bhs[0] & 0x3f;
	bool carries_statsn;
	uint32_t exp_cmdsn = get32(bhs + 28), max_cmdsn = get32(bhs + 32);

	switch (op) {
	case OP_NOP_IN:
		carries_statsn = get32(bhs + 16) != NO_TAG;   /* a reply, not a ping */
		break;
	case OP_DATA_IN:
		carries_statsn = (bhs[1] & 0x01) != 0;        /* S bit */
		break;
	case OP_R2T:
		carries_statsn = false;
		break;
	default:
		carries_statsn = true;
	}
	if (carries_statsn)
		c->exp_statsn = get32(bhs + 24) + 1;
	/* 4.2.2.1: ignore MaxCmdSN < ExpCmdSN - 1. */
	if (sn_le(exp_cmdsn - 1, max_cmdsn) && sn_gt(max_cmdsn, c->max_cmdsn))
		c->max_cmdsn = max_cmdsn;
}

static enum recv_result pdu_recv(struct conn *c, struct pdu *p, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	uint8_t digest[DIGEST_LEN], ahs[1024];
	uint32_t ahs_len, len;
	enum recv_result r;

	p->data = NULL;
	p->len = 0;
	r = recv_exact(c->fd, p->bhs, BHS_LEN, deadline);
	if (r != RECV_OK)
		return r;
	ahs_len = p->bhs[4] * 4u;
	len = get24(p->bhs + 5);
	if (ahs_len > sizeof(ahs) || len > MAX_PDU_DATA)
		return RECV_GARBAGE;
	if (ahs_len && (r = recv_exact(c->fd, ahs, ahs_len, deadline)) != RECV_OK)
		return r;
	if (c->header_digest) {
		uint8_t hdr[BHS_LEN + sizeof(ahs)];

		if ((r = recv_exact(c->fd, digest, DIGEST_LEN, deadline)) != RECV_OK)
			return r;
		memcpy(hdr, p->bhs, BHS_LEN);
		memcpy(hdr + BHS_LEN, ahs, ahs_len);
		if (get_digest(digest) != crc32c(hdr, BHS_LEN + ahs_len)) {
			printf("  note: target sent a PDU with a bad header digest\n");
			return RECV_GARBAGE;
		}
	}
	if (len) {
		p->data = malloc(pad4(len));
		if (p->data == NULL)
			return RECV_GARBAGE;
		if ((r = recv_exact(c->fd, p->data, pad4(len), deadline)) != RECV_OK) {
			pdu_free(p);
			return r;
		}
		if (c->data_digest) {
			if ((r = recv_exact(c->fd, digest, DIGEST_LEN, deadline)) != RECV_OK) {
				pdu_free(p);
				return r;
			}
			if (get_digest(digest) != crc32c(p->data, pad4(len))) {
				printf("  note: target sent a PDU with a bad data digest\n");
				pdu_free(p);
				return RECV_GARBAGE;
			}
		}
		p->len = len;
	}
	note_sequence_numbers(c, p->bhs);
	return RECV_OK;
}

/* Answer a target's NOP-In ping (11.19: TTT != 0xffffffff asks for a
 * NOP-Out echoing it, ITT 0xffffffff, immediate). */
static void answer_ping(struct conn *c, const struct pdu *p)
{
	uint8_t bhs[BHS_LEN] = { 0 };

	bhs[0] = OP_NOP_OUT | FLAG_IMMEDIATE;
	bhs[1] = FLAG_FINAL;
	memcpy(bhs + 8, p->bhs + 8, 8);
	put32(bhs + 16, NO_TAG);
	memcpy(bhs + 20, p->bhs + 20, 4);
	put32(bhs + 24, c->cmdsn);
	put32(bhs + 28, c->exp_statsn);
	pdu_send(c, bhs, NULL, 0);
}

/* Next PDU that is not a target ping or an async message. */
static enum recv_result pdu_recv_reply(struct conn *c, struct pdu *p, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;

	for (;;) {
		int64_t left = deadline - now_ms();
		enum recv_result r = pdu_recv(c, p, left > 0 ? (int)left : 0);
		uint8_t op = p->bhs[0] & 0x3f;

		if (r != RECV_OK)
			return r;
		if (op == OP_NOP_IN && get32(p->bhs + 16) == NO_TAG) {
			if (get32(p->bhs + 20) != NO_TAG)
				answer_ping(c, p);
			pdu_free(p);
			continue;
		}
		if (op == OP_ASYNC) {
			printf("  note: async message event %u\n", p->bhs[36]);
			pdu_free(p);
			continue;
		}
		return RECV_OK;
	}
}

/* Wait for the peer to close, ignoring whatever it sends before. */
static bool wait_closed(struct conn *c, int timeout_ms, int *reject_reason)
{
	int64_t deadline = now_ms() + timeout_ms;
	uint8_t buf[4096];

	*reject_reason = -1;
	for (;;) {
		ssize_t n;

		if (wait_readable(c->fd, deadline) == RECV_TIMEOUT)
			return false;
		n = recv(c->fd, buf, sizeof(buf), 0);
		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
			return true;
		if (n >= 3 && (buf[0] & 0x3f) == OP_REJECT && *reject_reason < 0)
			*reject_reason = buf[2];
	}
}

/* --- MD5 (RFC 1321), for CHAP ------------------------------------------------- */

struct md5 {
	uint32_t h[4];
	uint64_t bytes;
	uint8_t block[64];
};

static uint32_t rotl32(uint32_t x, unsigned n) { return x << n | x >> (32 - n); }

static void md5_compress(struct md5 *m, const uint8_t *p)
{
	/* Per-round shift amounts, and RFC 1321's table T[i] =
	 * floor(2^32 * |sin(i)|), i = 1..64. */
	static const uint8_t shift[4][4] = { { 7, 12, 17, 22 }, { 5, 9, 14, 20 },
					     { 4, 11, 16, 23 }, { 6, 10, 15, 21 } };
	static const uint32_t k[64] = {
		0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee,
		0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
		0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be,
		0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
		0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa,
		0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
		0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
		0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
		0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
		0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
		0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05,
		0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
		0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039,
		0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
		0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1,
		0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
	};
	uint32_t w[16], a = m->h[0], b = m->h[1], c = m->h[2], d = m->h[3];

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
		       (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
	for (int i = 0; i < 64; i++) {
		uint32_t f, t;
		int g, round = i / 16;

		if (round == 0) {
			f = (b & c) | (~b & d);
			g = i;
		} else if (round == 1) {
			f = (d & b) | (~d & c);
			g = (5 * i + 1) % 16;
		} else if (round == 2) {
			f = b ^ c ^ d;
			g = (3 * i + 5) % 16;
		} else {
			f = c ^ (b | ~d);
			g = (7 * i) % 16;
		}
		t = d;
		d = c;
		c = b;
		b = b + rotl32(a + f + k[i] + w[g], shift[round][i % 4]);
		a = t;
	}
	m->h[0] += a;
	m->h[1] += b;
	m->h[2] += c;
	m->h[3] += d;
}

static void md5_init(struct md5 *m)
{
	m->h[0] = 0x67452301;
	m->h[1] = 0xefcdab89;
	m->h[2] = 0x98badcfe;
	m->h[3] = 0x10325476;
	m->bytes = 0;
}

static void md5_update(struct md5 *m, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len--) {
		m->block[m->bytes++ % 64] = *p++;
		if (m->bytes % 64 == 0)
			md5_compress(m, m->block);
	}
}

static void md5_final(struct md5 *m, uint8_t out[16])
{
	uint64_t bits = m->bytes * 8;
	uint8_t pad = 0x80, zero = 0, len[8];

	md5_update(m, &pad, 1);
	while (m->bytes % 64 != 56)
		md5_update(m, &zero, 1);
	for (int i = 0; i < 8; i++)
		len[i] = (uint8_t)(bits >> (8 * i));
	md5_update(m, len, 8);
	for (int i = 0; i < 16; i++)
		out[i] = (uint8_t)(m->h[i / 4] >> (8 * (i % 4)));
}

/* --- login (RFC 7143 6, 11.12, 11.13) ----------------------------------------- */

/* How the CHAP exchange is (mis)played; CHAP_NONE logs in without it. */
enum chap_play {
	CHAP_NONE,
	CHAP_HONEST,          /* the right name and response */
	CHAP_WRONG_SECRET,    /* a response computed with another secret */
	CHAP_WRONG_NAME,      /* the right secret under another name */
	CHAP_NO_RESPONSE,     /* CHAP_N without CHAP_R */
	CHAP_GARBAGE,         /* CHAP_R that is not a hex number */
	CHAP_CAPTURE,         /* record the challenge and a valid answer, hang up */
	CHAP_REPLAY,          /* answer with the recorded response */
	CHAP_SKIP,            /* offer AuthMethod=None where CHAP is required */
	CHAP_SKIP_STAGE,      /* start in the operational stage, no security stage */
};

struct chap_capture {
	bool valid;
	bool challenge_repeated;   /* the replayed login saw the same challenge */
	char challenge[1100];
	char response[40];
};

struct login_params {
	const char *initiator;      /* NULL: leave InitiatorName out */
	const char *target;         /* NULL: leave TargetName out */
	bool digests;               /* offer CRC32C header and data digests */
	enum chap_play chap;
	struct chap_capture *capture;
};

/* Login result when a CHAP_CAPTURE login hung up on purpose. */
#define LOGIN_CAPTURED (-2)

/* Find "key=value" in a login/text data segment. */
static bool find_key(const struct pdu *p, const char *key, char *value, size_t len)
{
	size_t klen = strlen(key);
	uint32_t off = 0;

	while (off < p->len) {
		const char *kv = (const char *)p->data + off;
		size_t n = strnlen(kv, p->len - off);

		if (n > klen && strncmp(kv, key, klen) == 0 && kv[klen] == '=') {
			snprintf(value, len, "%.*s", (int)(n - klen - 1), kv + klen + 1);
			return true;
		}
		off += (uint32_t)n + 1;
	}
	return false;
}

static size_t add_key(char *buf, size_t off, size_t cap, const char *key, const char *value)
{
	int n = snprintf(buf + off, cap - off, "%s=%s", key, value);

	if (n < 0 || (size_t)n + 1 > cap - off)
		return off;
	return off + (size_t)n + 1;            /* keep the NUL separator */
}

/* ISID of type "random" (11.12.5), unique per connection of this run so
 * that our sessions never reinstate each other. */
static void make_isid(uint8_t *isid)
{
	isid[0] = 0x80;
	isid[1] = 0x5a;
	put16(isid + 2, (uint16_t)getpid());
	put16(isid + 4, ++isid_counter);
}

static void build_login(struct conn *c, uint8_t *bhs, const uint8_t *isid, bool transit,
			int csg, int nsg, uint32_t itt)
{
	memset(bhs, 0, BHS_LEN);
	bhs[0] = OP_LOGIN_REQ | FLAG_IMMEDIATE;
	bhs[1] = (uint8_t)((transit ? 0x80 : 0) | csg << 2 | (transit ? nsg : 0));
	bhs[2] = 0;          /* Version-max */
	bhs[3] = 0;          /* Version-min */
	memcpy(bhs + 8, isid, 6);
	put16(bhs + 14, 0);  /* TSIH 0: a new session */
	put32(bhs + 16, itt);
	put16(bhs + 20, 0);  /* CID */
	put32(bhs + 24, c->cmdsn);
	put32(bhs + 28, c->exp_statsn);
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* RFC 1994 4.1 / RFC 7143 12.1.3: CHAP_R = MD5(CHAP_I || secret || CHAP_C),
 * written as 0x + hex. The challenge arrives as 0x-hex (or 0b-base64, which
 * we do not speak: false). */
static bool chap_response(const char *id_text, const char *secret, const char *challenge,
			  char *out, size_t outlen)
{
	uint8_t id = (uint8_t)strtoul(id_text, NULL, 0), c[1024], digest[16];
	size_t clen = 0;
	const char *h = challenge;
	struct md5 m;

	if (strncmp(h, "0x", 2) != 0 && strncmp(h, "0X", 2) != 0)
		return false;
	h += 2;
	if (strlen(h) % 2 == 1) {                /* an odd count: leading nibble */
		if (hexval(*h) < 0)
			return false;
		c[clen++] = (uint8_t)hexval(*h++);
	}
	for (; h[0] && h[1] && clen < sizeof(c); h += 2) {
		if (hexval(h[0]) < 0 || hexval(h[1]) < 0)
			return false;
		c[clen++] = (uint8_t)(hexval(h[0]) << 4 | hexval(h[1]));
	}
	md5_init(&m);
	md5_update(&m, &id, 1);
	md5_update(&m, secret, strlen(secret));
	md5_update(&m, c, clen);
	md5_final(&m, digest);
	if (outlen < 35)
		return false;
	out[0] = '0';
	out[1] = 'x';
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 + 2 * i, 3, "%02x", digest[i]);
	return true;
}

/* Keys answering the target's CHAP challenge, played as lp->chap says.
 * Returns the new key length, or -1 to hang up (capture). */
static long chap_answer(const struct login_params *lp, const struct pdu *rsp, char *keys,
			size_t cap, char *why, size_t whylen)
{
	char id[16], challenge[1100], response[40];
	const char *user = cfg.chap_user, *secret = cfg.chap_secret;
	size_t n = 0;

	if (!find_key(rsp, "CHAP_I", id, sizeof(id)) ||
	    !find_key(rsp, "CHAP_C", challenge, sizeof(challenge))) {
		snprintf(why, whylen, "target sent no CHAP_I/CHAP_C");
		return -1;
	}
	if (lp->chap == CHAP_WRONG_SECRET)
		secret = "not-the-secret-at-all";
	if (lp->chap == CHAP_WRONG_NAME)
		user = "no-such-chap-user";
	if (!chap_response(id, secret, challenge, response, sizeof(response))) {
		snprintf(why, whylen, "cannot parse CHAP_C=%.64s", challenge);
		return -1;
	}
	if (lp->chap == CHAP_CAPTURE && lp->capture != NULL) {
		lp->capture->valid = true;
		snprintf(lp->capture->challenge, sizeof(lp->capture->challenge), "%s", challenge);
		snprintf(lp->capture->response, sizeof(lp->capture->response), "%s", response);
		return -1;
	}
	if (lp->chap == CHAP_REPLAY && lp->capture != NULL) {
		lp->capture->challenge_repeated = strcmp(challenge, lp->capture->challenge) == 0;
		snprintf(response, sizeof(response), "%s", lp->capture->response);
	}
	n = add_key(keys, n, cap, "CHAP_N", user);
	if (lp->chap == CHAP_GARBAGE)
		n = add_key(keys, n, cap, "CHAP_R", "0xZZnot-hex-at-all");
	else if (lp->chap != CHAP_NO_RESPONSE)
		n = add_key(keys, n, cap, "CHAP_R", response);
	return (long)n;
}

static size_t operational_keys(char *keys, size_t cap, bool digests)
{
	char num[16];
	size_t n = 0;

	n = add_key(keys, n, cap, "HeaderDigest", digests ? "CRC32C,None" : "None");
	n = add_key(keys, n, cap, "DataDigest", digests ? "CRC32C,None" : "None");
	snprintf(num, sizeof(num), "%u", OUR_MAX_RECV);
	n = add_key(keys, n, cap, "MaxRecvDataSegmentLength", num);
	n = add_key(keys, n, cap, "ErrorRecoveryLevel", "0");
	n = add_key(keys, n, cap, "InitialR2T", "Yes");
	n = add_key(keys, n, cap, "ImmediateData", "Yes");
	n = add_key(keys, n, cap, "MaxBurstLength", "262144");
	n = add_key(keys, n, cap, "FirstBurstLength", "65536");
	n = add_key(keys, n, cap, "MaxOutstandingR2T", "1");
	n = add_key(keys, n, cap, "MaxConnections", "1");
	n = add_key(keys, n, cap, "DataPDUInOrder", "Yes");
	n = add_key(keys, n, cap, "DataSequenceInOrder", "Yes");
	n = add_key(keys, n, cap, "DefaultTime2Wait", "2");
	n = add_key(keys, n, cap, "DefaultTime2Retain", "0");
	n = add_key(keys, n, cap, "IFMarker", "No");
	n = add_key(keys, n, cap, "OFMarker", "No");
	return n;
}

static void note_operational_results(struct conn *c, const struct pdu *rsp)
{
	char v[64];

	if (find_key(rsp, "MaxRecvDataSegmentLength", v, sizeof(v)))
		c->target_max_recv = (uint32_t)strtoul(v, NULL, 10);
	if (find_key(rsp, "HeaderDigest", v, sizeof(v)))
		c->header_digest = strcmp(v, "CRC32C") == 0;
	if (find_key(rsp, "DataDigest", v, sizeof(v)))
		c->data_digest = strcmp(v, "CRC32C") == 0;
	if (find_key(rsp, "ImmediateData", v, sizeof(v)))
		c->immediate_data = strcmp(v, "Yes") == 0;
	if (find_key(rsp, "FirstBurstLength", v, sizeof(v)))
		c->first_burst = (uint32_t)strtoul(v, NULL, 10);
}

/* Log in; returns the login status (class << 8 | detail), 0 on success,
 * -1 when the connection failed, LOGIN_CAPTURED for a CHAP capture. All
 * PDUs of one login carry the same ISID and ITT (11.12). Security stage:
 * AuthMethod, then for CHAP CHAP_A=5, then CHAP_N/CHAP_R (12.1.3); then
 * the operational stage with our keys (13). */
static int login(struct conn *c, const struct login_params *lp, char *why, size_t whylen)
{
	char keys[2048];
	size_t n = 0;
	uint8_t bhs[BHS_LEN], isid[6];
	int stage = 0, rounds;
	bool transit;
	uint32_t itt = c->next_itt++;

	c->fd = tcp_connect();
	if (c->fd < 0) {
		snprintf(why, whylen, "cannot connect to %.100s:%.15s", cfg.host, cfg.port);
		return -1;
	}
	make_isid(isid);
	if (lp->initiator)
		n = add_key(keys, n, sizeof(keys), "InitiatorName", lp->initiator);
	n = add_key(keys, n, sizeof(keys), "SessionType", "Normal");
	if (lp->target)
		n = add_key(keys, n, sizeof(keys), "TargetName", lp->target);
	if (lp->chap == CHAP_SKIP_STAGE) {
		/* Section 6: a login may start in the operational stage when
		 * no security negotiation is wanted; a target requiring CHAP
		 * must refuse it. */
		stage = 1;
		n += operational_keys(keys + n, sizeof(keys) - n, lp->digests);
		build_login(c, bhs, isid, true, 1, 3, itt);
	} else {
		n = add_key(keys, n, sizeof(keys), "AuthMethod",
			    lp->chap == CHAP_NONE || lp->chap == CHAP_SKIP ? "None" : "CHAP");
		/* With CHAP, stay in the security stage until the response is sent. */
		transit = lp->chap == CHAP_NONE || lp->chap == CHAP_SKIP;
		build_login(c, bhs, isid, transit, 0, 1, itt);
	}

	for (rounds = 0; rounds < 8; rounds++) {
		struct pdu rsp;
		enum recv_result r;
		char v[64];
		int status;

		if (!pdu_send(c, bhs, keys, (uint32_t)n)) {
			snprintf(why, whylen, "connection lost while sending a login PDU");
			return -1;
		}
		r = pdu_recv(c, &rsp, cfg.timeout_ms);
		if (r != RECV_OK) {
			snprintf(why, whylen, "login: %s", recv_result_name(r));
			return -1;
		}
		if ((rsp.bhs[0] & 0x3f) != OP_LOGIN_RSP) {
			snprintf(why, whylen, "login: got opcode 0x%02x instead of a login response",
				 rsp.bhs[0] & 0x3f);
			pdu_free(&rsp);
			return -1;
		}
		status = rsp.bhs[36] << 8 | rsp.bhs[37];
		if (status != 0) {
			snprintf(why, whylen, "login status 0x%04x", (unsigned)status);
			pdu_free(&rsp);
			return status;
		}
		c->exp_statsn = get32(rsp.bhs + 24) + 1;
		c->cmdsn = get32(rsp.bhs + 28);
		c->max_cmdsn = get32(rsp.bhs + 32);
		if (stage == 1)
			note_operational_results(c, &rsp);
		n = 0;
		if ((rsp.bhs[1] & 0x80) && (rsp.bhs[1] & 3) == 3) {
			pdu_free(&rsp);         /* full feature phase */
			return 0;
		}
		if ((rsp.bhs[1] & 0x80) && stage == 0) {
			stage = 1;
			n = operational_keys(keys, sizeof(keys), lp->digests);
			build_login(c, bhs, isid, true, 1, 3, itt);
		} else if (stage == 0 && find_key(&rsp, "CHAP_C", v, sizeof(v))) {
			long len = chap_answer(lp, &rsp, keys, sizeof(keys), why, whylen);

			if (len < 0) {
				pdu_free(&rsp);
				return lp->chap == CHAP_CAPTURE ? LOGIN_CAPTURED : -1;
			}
			n = (size_t)len;
			build_login(c, bhs, isid, true, 0, 1, itt);
		} else if (stage == 0 && find_key(&rsp, "AuthMethod", v, sizeof(v)) &&
			   strcmp(v, "CHAP") == 0) {
			n = add_key(keys, n, sizeof(keys), "CHAP_A", "5");    /* MD5 */
			build_login(c, bhs, isid, false, 0, 1, itt);
		} else {
			/* The target wants another round in the same stage. */
			build_login(c, bhs, isid, true, stage, stage == 0 ? 1 : 3, itt);
		}
		pdu_free(&rsp);
	}
	snprintf(why, whylen, "login did not finish after %d rounds", rounds);
	return -1;
}

static bool login_ok(struct conn *c, bool digests, char *why, size_t whylen)
{
	struct login_params lp = {
		.initiator = cfg.initiator,
		.target = cfg.target,
		.digests = digests,
		.chap = cfg.chap_user ? CHAP_HONEST : CHAP_NONE,
	};

	conn_init(c);
	return login(c, &lp, why, whylen) == 0;
}

/* --- requests ------------------------------------------------------------------ */

static void build_nop_out(struct conn *c, uint8_t *bhs, uint32_t itt, bool immediate)
{
	memset(bhs, 0, BHS_LEN);
	bhs[0] = OP_NOP_OUT | (immediate ? FLAG_IMMEDIATE : 0);
	bhs[1] = FLAG_FINAL;
	put32(bhs + 16, itt);
	put32(bhs + 20, NO_TAG);
	put32(bhs + 24, c->cmdsn);
	put32(bhs + 28, c->exp_statsn);
	if (!immediate)
		c->cmdsn++;     /* 4.2.2.1: non-immediate requests take a CmdSN */
}

/* NOP-Out ping with data; true when the matching NOP-In echoes it. */
static bool nop_ping(struct conn *c, uint32_t data_len, char *why, size_t whylen)
{
	uint8_t bhs[BHS_LEN], data[512];
	uint32_t itt = c->next_itt++;
	struct pdu rsp;
	enum recv_result r;

	if (data_len > sizeof(data))
		data_len = sizeof(data);
	for (uint32_t i = 0; i < data_len; i++)
		data[i] = (uint8_t)(i * 7 + itt);
	build_nop_out(c, bhs, itt, true);
	if (!pdu_send(c, bhs, data, data_len)) {
		snprintf(why, whylen, "connection lost sending a NOP-Out");
		return false;
	}
	for (;;) {
		r = pdu_recv_reply(c, &rsp, cfg.timeout_ms);
		if (r != RECV_OK) {
			snprintf(why, whylen, "NOP-Out ping: %s", recv_result_name(r));
			return false;
		}
		if ((rsp.bhs[0] & 0x3f) == OP_NOP_IN && get32(rsp.bhs + 16) == itt)
			break;
		pdu_free(&rsp);    /* a late answer to something earlier */
	}
	if (rsp.len != data_len || (data_len && memcmp(rsp.data, data, data_len) != 0)) {
		snprintf(why, whylen, "NOP-In did not echo the ping data (%u bytes back of %u)",
			 rsp.len, data_len);
		pdu_free(&rsp);
		return false;
	}
	pdu_free(&rsp);
	return true;
}

struct scsi_result {
	int status;                  /* SCSI status, -1 when none arrived */
	uint8_t sense_key, asc, ascq;
	uint32_t data_len;           /* Data-In bytes received */
	int reject_reason;           /* the target rejected the command PDU */
};

/* SPC-4 4.5: fixed (70h/71h) or descriptor (72h/73h) sense data. */
static void parse_sense(const uint8_t *s, uint32_t len, struct scsi_result *res)
{
	if (len >= 14 && ((s[0] & 0x7f) == 0x70 || (s[0] & 0x7f) == 0x71)) {
		res->sense_key = s[2] & 0x0f;
		res->asc = s[12];
		res->ascq = s[13];
	} else if (len >= 4 && ((s[0] & 0x7f) == 0x72 || (s[0] & 0x7f) == 0x73)) {
		res->sense_key = s[1] & 0x0f;
		res->asc = s[2];
		res->ascq = s[3];
	}
}

static uint64_t encode_lun(unsigned lun)
{
	/* SAM-5 4.7: peripheral addressing below 256, flat space above. */
	if (lun < 256)
		return (uint64_t)lun << 48;
	return (uint64_t)(0x4000u | (lun & 0x3fffu)) << 48;
}

/* Send a SCSI command that reads up to in_len bytes (no data out) and
 * collect its Data-In and status. */
static bool scsi_read_cmd(struct conn *c, unsigned lun, const uint8_t *cdb, size_t cdb_len,
			  uint8_t *in, uint32_t in_len, struct scsi_result *res,
			  char *why, size_t whylen)
{
	uint8_t bhs[BHS_LEN] = { 0 };
	uint32_t itt = c->next_itt++;

	memset(res, 0, sizeof(*res));
	res->status = -1;
	res->reject_reason = -1;
	bhs[0] = OP_SCSI_CMD;
	bhs[1] = (uint8_t)(FLAG_FINAL | (in_len ? 0x40 : 0) | 1);   /* R, SIMPLE */
	put64(bhs + 8, encode_lun(lun));
	put32(bhs + 16, itt);
	put32(bhs + 20, in_len);
	put32(bhs + 24, c->cmdsn++);
	put32(bhs + 28, c->exp_statsn);
	memcpy(bhs + 32, cdb, cdb_len < 16 ? cdb_len : 16);
	if (!pdu_send(c, bhs, NULL, 0)) {
		snprintf(why, whylen, "connection lost sending a SCSI command");
		return false;
	}
	for (;;) {
		struct pdu rsp;
		enum recv_result r = pdu_recv_reply(c, &rsp, cfg.timeout_ms);
		uint8_t op = rsp.bhs[0] & 0x3f;

		if (r != RECV_OK) {
			snprintf(why, whylen, "SCSI command 0x%02x: %s", cdb[0], recv_result_name(r));
			return false;
		}
		if (op == OP_REJECT) {
			res->reject_reason = rsp.bhs[2];
			pdu_free(&rsp);
			return true;
		}
		if (get32(rsp.bhs + 16) != itt) {
			pdu_free(&rsp);
			continue;
		}
		if (op == OP_DATA_IN) {
			uint32_t off = get32(rsp.bhs + 40);

			if (rsp.len && off <= in_len && rsp.len <= in_len - off) {
				memcpy(in + off, rsp.data, rsp.len);
				if (off + rsp.len > res->data_len)
					res->data_len = off + rsp.len;
			}
			if (rsp.bhs[1] & 0x01) {       /* S: status piggybacked */
				res->status = rsp.bhs[3];
				pdu_free(&rsp);
				return true;
			}
		} else if (op == OP_SCSI_RSP) {
			res->status = rsp.bhs[3];
			if (rsp.len >= 2) {
				uint32_t sense_len = get16(rsp.data);

				if (sense_len > rsp.len - 2)
					sense_len = rsp.len - 2;
				parse_sense(rsp.data + 2, sense_len, res);
			}
			pdu_free(&rsp);
			return true;
		}
		pdu_free(&rsp);
	}
}

/* --- the healthy session -------------------------------------------------------- */

struct healthy {
	struct conn c;
	uint32_t block_size;
	uint32_t blocks;             /* READ CAPACITY(10) last LBA + 1 */
	uint8_t baseline[4096];      /* LBA 0.. as read at the start */
};

static struct healthy healthy;

static bool healthy_read(uint8_t *out, char *why, size_t whylen)
{
	uint8_t cdb[10] = { 0x28 };  /* READ(10), SBC-3 5.11 */
	uint32_t blocks = sizeof(healthy.baseline) / healthy.block_size;
	struct scsi_result res;

	put16(cdb + 7, (uint16_t)blocks);
	if (!scsi_read_cmd(&healthy.c, cfg.lun, cdb, sizeof(cdb), out,
			   blocks * healthy.block_size, &res, why, whylen))
		return false;
	if (res.status != 0 || res.data_len != blocks * healthy.block_size) {
		snprintf(why, whylen, "READ(10) status %d sense %x/%02x/%02x, %u bytes",
			 res.status, res.sense_key, res.asc, res.ascq, res.data_len);
		return false;
	}
	return true;
}

static bool healthy_start(char *why, size_t whylen)
{
	uint8_t cdb[10] = { 0x25 };  /* READ CAPACITY(10), SBC-3 5.15 */
	uint8_t cap[8];
	struct scsi_result res;
	int tries;

	if (!login_ok(&healthy.c, false, why, whylen))
		return false;
	/* The first commands may meet the power-on unit attention. */
	for (tries = 0; tries < 4; tries++) {
		if (!scsi_read_cmd(&healthy.c, cfg.lun, cdb, sizeof(cdb), cap, sizeof(cap),
				   &res, why, whylen))
			return false;
		if (res.status == 0)
			break;
	}
	if (res.status != 0 || res.data_len < 8) {
		snprintf(why, whylen, "READ CAPACITY(10) on LUN %u failed: status %d sense %x/%02x/%02x",
			 cfg.lun, res.status, res.sense_key, res.asc, res.ascq);
		return false;
	}
	healthy.blocks = get32(cap) + 1;
	healthy.block_size = get32(cap + 4);
	if (healthy.block_size == 0 || healthy.block_size > sizeof(healthy.baseline)) {
		snprintf(why, whylen, "unexpected block size %u", healthy.block_size);
		return false;
	}
	return healthy_read(healthy.baseline, why, whylen);
}

/* The healthy session still answers and still reads the same data. */
static bool healthy_check(char *why, size_t whylen)
{
	uint8_t now[sizeof(healthy.baseline)];
	char inner[256];

	if (!nop_ping(&healthy.c, 64, inner, sizeof(inner))) {
		snprintf(why, whylen, "healthy session disturbed: %.200s", inner);
		return false;
	}
	if (!healthy_read(now, inner, sizeof(inner))) {
		snprintf(why, whylen, "healthy session disturbed: %.200s", inner);
		return false;
	}
	if (memcmp(now, healthy.baseline, sizeof(now)) != 0) {
		snprintf(why, whylen, "healthy session reads different data than at the start");
		return false;
	}
	return true;
}

/* --- the cases ----------------------------------------------------------------------- */

enum verdict { PASS, FAIL, SKIP };

struct case_result {
	enum verdict v;
	char msg[512];
};

static enum verdict verdict(struct case_result *cr, enum verdict v, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum verdict verdict(struct case_result *cr, enum verdict v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cr->msg, sizeof(cr->msg), fmt, ap);
	va_end(ap);
	cr->v = v;
	return v;
}

#define NEED_LOGIN(c, digests)                                                   \
	do {                                                                     \
		char why_[256];                                                  \
		if (!login_ok((c), (digests), why_, sizeof(why_)))               \
			return verdict(cr, FAIL, "cannot log in: %s", why_);     \
	} while (0)

/* 11.17.1: an opcode the target does not support is answered with Reject,
 * reason "Command not supported", and the connection goes on. */
static enum verdict case_unknown_opcode(struct case_result *cr)
{
	struct conn c;
	uint8_t bhs[BHS_LEN] = { 0 };
	struct pdu rsp;
	enum recv_result r;
	char why[256];
	enum verdict v;

	NEED_LOGIN(&c, false);
	bhs[0] = UNKNOWN_OPCODE | FLAG_IMMEDIATE;
	bhs[1] = FLAG_FINAL;
	put32(bhs + 16, c.next_itt++);
	put32(bhs + 24, c.cmdsn);
	put32(bhs + 28, c.exp_statsn);
	pdu_send(&c, bhs, NULL, 0);
	r = pdu_recv_reply(&c, &rsp, cfg.timeout_ms);
	if (r != RECV_OK) {
		v = verdict(cr, FAIL, "opcode 0x%02x: %s, expected Reject 0x05",
			    UNKNOWN_OPCODE, recv_result_name(r));
	} else if ((rsp.bhs[0] & 0x3f) != OP_REJECT) {
		v = verdict(cr, FAIL, "opcode 0x%02x answered with opcode 0x%02x, expected Reject",
			    UNKNOWN_OPCODE, rsp.bhs[0] & 0x3f);
	} else if (rsp.bhs[2] != REJECT_NOT_SUPPORTED) {
		v = verdict(cr, FAIL, "Reject reason 0x%02x, expected 0x05 (command not supported)",
			    rsp.bhs[2]);
	} else if (rsp.len < BHS_LEN || (rsp.data[0] & 0x3f) != UNKNOWN_OPCODE) {
		v = verdict(cr, FAIL, "Reject does not carry the rejected header (11.17: %u bytes)",
			    rsp.len);
	} else if (!nop_ping(&c, 16, why, sizeof(why))) {
		v = verdict(cr, FAIL, "Reject 0x05 but then the connection failed: %s", why);
	} else {
		v = verdict(cr, PASS, "Reject 0x05 carrying the header; connection still works");
	}
	if (r == RECV_OK)
		pdu_free(&rsp);
	conn_close(&c);
	return v;
}

/* 7.8 (digest errors): a header digest error leaves the PDU boundary
 * unknown; without sync and steering the target must drop the connection. */
static enum verdict case_bad_header_digest(struct case_result *cr)
{
	struct conn c;
	uint8_t bhs[BHS_LEN];
	char why[256];
	int reason;
	enum verdict v;

	NEED_LOGIN(&c, true);
	if (!c.header_digest) {
		conn_close(&c);
		return verdict(cr, SKIP, "target did not accept HeaderDigest=CRC32C");
	}
	if (!nop_ping(&c, 16, why, sizeof(why))) {
		conn_close(&c);
		return verdict(cr, FAIL, "with digests on, a correct NOP-Out failed: %s", why);
	}
	build_nop_out(&c, bhs, c.next_itt++, true);
	pdu_send_ex(&c, bhs, NULL, 0, CORRUPT_HEADER_DIGEST, 0);
	if (wait_closed(&c, cfg.timeout_ms, &reason))
		v = verdict(cr, PASS, "connection dropped%s", reason >= 0 ? " after a Reject" : "");
	else
		v = verdict(cr, FAIL, "connection still open %d ms after a bad header digest",
			    cfg.timeout_ms);
	conn_close(&c);
	return v;
}

/* 7.8 (digest errors): a data digest error on a PDU other than Data-Out is
 * answered with Reject, reason Data-Digest-Error, and the PDU discarded;
 * the session lives on. */
static enum verdict case_bad_data_digest(struct case_result *cr)
{
	struct conn c;
	uint8_t bhs[BHS_LEN], data[64];
	struct pdu rsp;
	enum recv_result r;
	char why[256];
	enum verdict v;

	NEED_LOGIN(&c, true);
	if (!c.data_digest) {
		conn_close(&c);
		return verdict(cr, SKIP, "target did not accept DataDigest=CRC32C");
	}
	if (!nop_ping(&c, 48, why, sizeof(why))) {
		conn_close(&c);
		return verdict(cr, FAIL, "with digests on, a correct NOP-Out failed: %s", why);
	}
	memset(data, 0x3c, sizeof(data));
	build_nop_out(&c, bhs, c.next_itt++, true);
	pdu_send_ex(&c, bhs, data, sizeof(data), CORRUPT_DATA_DIGEST, 0);
	r = pdu_recv_reply(&c, &rsp, cfg.timeout_ms);
	if (r != RECV_OK) {
		v = verdict(cr, FAIL, "bad data digest on a NOP-Out: %s, expected Reject 0x02",
			    recv_result_name(r));
	} else if ((rsp.bhs[0] & 0x3f) == OP_NOP_IN) {
		v = verdict(cr, FAIL, "NOP-Out with a bad data digest was answered, not rejected");
	} else if ((rsp.bhs[0] & 0x3f) != OP_REJECT || rsp.bhs[2] != REJECT_DATA_DIGEST) {
		v = verdict(cr, FAIL, "got opcode 0x%02x reason 0x%02x, expected Reject 0x02",
			    rsp.bhs[0] & 0x3f, rsp.bhs[2]);
	} else if (!nop_ping(&c, 32, why, sizeof(why))) {
		v = verdict(cr, FAIL, "Reject 0x02 but the session did not survive: %s", why);
	} else {
		v = verdict(cr, PASS, "Reject 0x02; the session still answers");
	}
	if (r == RECV_OK)
		pdu_free(&rsp);
	conn_close(&c);
	return v;
}

/* 13.12: the initiator must not send more than the target's
 * MaxRecvDataSegmentLength; a target answers a protocol error (Reject) or
 * drops the connection, but never processes the PDU. */
static enum verdict case_oversize_segment(struct case_result *cr)
{
	struct conn c;
	uint8_t bhs[BHS_LEN];
	uint8_t *data;
	uint32_t len;
	struct pdu rsp;
	enum recv_result r;
	enum verdict v;

	NEED_LOGIN(&c, false);
	len = c.target_max_recv + 8192;
	data = calloc(1, len);
	if (data == NULL)
		return verdict(cr, SKIP, "out of memory");
	build_nop_out(&c, bhs, c.next_itt++, true);
	pdu_send(&c, bhs, data, len);      /* may fail half-way: the target hung up */
	free(data);
	r = pdu_recv_reply(&c, &rsp, cfg.timeout_ms);
	if (r == RECV_CLOSED) {
		v = verdict(cr, PASS, "%u-byte segment (limit %u): connection dropped",
			    len, c.target_max_recv);
	} else if (r != RECV_OK) {
		v = verdict(cr, FAIL, "%u-byte segment (limit %u): %s", len, c.target_max_recv,
			    recv_result_name(r));
	} else if ((rsp.bhs[0] & 0x3f) == OP_REJECT &&
		   (rsp.bhs[2] == REJECT_PROTOCOL || rsp.bhs[2] == REJECT_INVALID_FIELD)) {
		v = verdict(cr, PASS, "%u-byte segment (limit %u): Reject 0x%02x",
			    len, c.target_max_recv, rsp.bhs[2]);
	} else {
		v = verdict(cr, FAIL, "%u-byte segment (limit %u) answered with opcode 0x%02x "
			    "(reason 0x%02x), expected Reject or a dropped connection",
			    len, c.target_max_recv, rsp.bhs[0] & 0x3f, rsp.bhs[2]);
	}
	if (r == RECV_OK)
		pdu_free(&rsp);
	conn_close(&c);
	return v;
}

/* Data-Out for a task that does not exist, with a TTT the target never
 * gave: it must not be written anywhere. A Reject, silently discarding it
 * or dropping the connection are all acceptable; hanging is not. */
static enum verdict case_data_out_unknown_ttt(struct case_result *cr)
{
	struct conn c;
	uint8_t bhs[BHS_LEN] = { 0 }, data[512];
	struct pdu rsp;
	enum recv_result r;
	char why[256];
	int reject = -1;
	enum verdict v;

	why[0] = '\0';
	NEED_LOGIN(&c, false);
	memset(data, 0xee, sizeof(data));
	bhs[0] = OP_DATA_OUT;
	bhs[1] = FLAG_FINAL;
	put64(bhs + 8, encode_lun(cfg.lun));
	put32(bhs + 16, 0x7777aaaau);   /* no such task */
	put32(bhs + 20, 0x12345678u);   /* no such transfer */
	put32(bhs + 28, c.exp_statsn);
	put32(bhs + 36, 0);             /* DataSN */
	put32(bhs + 40, 0);             /* buffer offset */
	pdu_send(&c, bhs, data, sizeof(data));
	/* A Reject, if any, comes before the answer to the next ping. */
	r = pdu_recv_reply(&c, &rsp, 300);
	if (r == RECV_OK) {
		if ((rsp.bhs[0] & 0x3f) == OP_REJECT)
			reject = rsp.bhs[2];
		pdu_free(&rsp);
	}
	if (r == RECV_CLOSED)
		v = verdict(cr, PASS, "connection dropped");
	else if (nop_ping(&c, 16, why, sizeof(why)) && reject >= 0)
		v = verdict(cr, PASS, "Reject 0x%02x; connection still works", reject);
	else if (why[0] == '\0')
		v = verdict(cr, PASS, "discarded silently; connection still works");
	else if (strstr(why, "closed") != NULL)
		v = verdict(cr, PASS, "connection dropped");
	else
		v = verdict(cr, FAIL, "after the stray Data-Out: %s", why);
	conn_close(&c);
	return v;
}

/* SPC-4: an unsupported operation code gets CHECK CONDITION, ILLEGAL
 * REQUEST, INVALID COMMAND OPERATION CODE (20/00). */
static enum verdict case_unknown_cdb(struct case_result *cr)
{
	struct conn c;
	uint8_t cdb[16] = { UNKNOWN_CDB_OPCODE }, buf[512];
	struct scsi_result res;
	char why[256];
	enum verdict v;

	NEED_LOGIN(&c, false);
	/* A fresh nexus first reports its power-on unit attention. */
	for (int i = 0; i < 3; i++) {
		if (!scsi_read_cmd(&c, cfg.lun, cdb, sizeof(cdb), buf, sizeof(buf), &res,
				   why, sizeof(why))) {
			conn_close(&c);
			return verdict(cr, FAIL, "%s", why);
		}
		if (!(res.status == 2 && res.sense_key == 6))
			break;
	}
	if (res.status == 2 && res.sense_key == 5 && res.asc == 0x20 && res.ascq == 0)
		v = verdict(cr, PASS, "CHECK CONDITION 5/20/00");
	else
		v = verdict(cr, FAIL, "CDB opcode 0x%02x: status %d sense %x/%02x/%02x%s, "
			    "expected CHECK CONDITION 5/20/00", UNKNOWN_CDB_OPCODE, res.status,
			    res.sense_key, res.asc, res.ascq,
			    res.reject_reason >= 0 ? " (PDU rejected)" : "");
	conn_close(&c);
	return v;
}

/* SAM-5 "incorrect logical unit selection" / SPC-4: a command other than
 * INQUIRY or REPORT LUNS to a LUN that does not exist gets ILLEGAL
 * REQUEST, LOGICAL UNIT NOT SUPPORTED (25/00). */
static enum verdict case_bad_lun(struct case_result *cr)
{
	struct conn c;
	uint8_t cdb[6] = { 0x00 };   /* TEST UNIT READY */
	struct scsi_result res;
	char why[256];
	unsigned lun = cfg.lun + 200;
	enum verdict v;

	NEED_LOGIN(&c, false);
	if (!scsi_read_cmd(&c, lun, cdb, sizeof(cdb), NULL, 0, &res, why, sizeof(why))) {
		conn_close(&c);
		return verdict(cr, FAIL, "%s", why);
	}
	if (res.status == 2 && res.sense_key == 5 && res.asc == 0x25 && res.ascq == 0)
		v = verdict(cr, PASS, "LUN %u: CHECK CONDITION 5/25/00", lun);
	else
		v = verdict(cr, FAIL, "TEST UNIT READY to LUN %u: status %d sense %x/%02x/%02x, "
			    "expected CHECK CONDITION 5/25/00", lun, res.status,
			    res.sense_key, res.asc, res.ascq);
	conn_close(&c);
	return v;
}

/* SBC-3 READ(10): a read past the last LBA gets ILLEGAL REQUEST, LOGICAL
 * BLOCK ADDRESS OUT OF RANGE (21/00). */
static enum verdict case_lba_out_of_range(struct case_result *cr)
{
	struct conn c;
	uint8_t cdb[10] = { 0x28 }, buf[4096];
	struct scsi_result res;
	char why[256];
	enum verdict v;

	NEED_LOGIN(&c, false);
	put32(cdb + 2, healthy.blocks);        /* one past the last LBA */
	put16(cdb + 7, 1);
	for (int i = 0; i < 3; i++) {
		if (!scsi_read_cmd(&c, cfg.lun, cdb, sizeof(cdb), buf, healthy.block_size, &res,
				   why, sizeof(why))) {
			conn_close(&c);
			return verdict(cr, FAIL, "%s", why);
		}
		if (!(res.status == 2 && res.sense_key == 6))
			break;
	}
	if (res.status == 2 && res.sense_key == 5 && res.asc == 0x21 && res.ascq == 0)
		v = verdict(cr, PASS, "READ(10) at LBA %u: CHECK CONDITION 5/21/00", healthy.blocks);
	else
		v = verdict(cr, FAIL, "READ(10) at LBA %u: status %d sense %x/%02x/%02x, "
			    "expected 5/21/00", healthy.blocks, res.status, res.sense_key,
			    res.asc, res.ascq);
	conn_close(&c);
	return v;
}

/* Section 6: a connection starts with the login phase, so its first PDU
 * must be a Login Request; anything else (a port scanner, an HTTP client)
 * gets the connection closed. */
static enum verdict case_garbage_before_login(struct case_result *cr)
{
	struct conn c;
	char junk[BHS_LEN + 16];
	int reason;
	enum verdict v;

	conn_init(&c);
	c.fd = tcp_connect();
	if (c.fd < 0)
		return verdict(cr, FAIL, "cannot connect");
	memset(junk, 'X', sizeof(junk));
	memcpy(junk, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 35);
	send_all(c.fd, junk, sizeof(junk));
	if (wait_closed(&c, cfg.timeout_ms, &reason))
		v = verdict(cr, PASS, "connection closed");
	else
		v = verdict(cr, FAIL, "connection still open %d ms after garbage", cfg.timeout_ms);
	conn_close(&c);
	return v;
}

/* 11.13.5: missing mandatory keys -> status 0x0207 (missing parameter). */
static enum verdict case_login_missing_initiator(struct case_result *cr)
{
	struct conn c;
	struct login_params lp = {
		.initiator = NULL,
		.target = cfg.target,
		.chap = cfg.chap_user ? CHAP_HONEST : CHAP_NONE,
	};
	char why[256];
	int status;
	enum verdict v;

	conn_init(&c);
	status = login(&c, &lp, why, sizeof(why));
	if (status == 0x0207)
		v = verdict(cr, PASS, "status 0x0207");
	else if (status < 0)
		v = verdict(cr, FAIL, "no login status: %s", why);
	else
		v = verdict(cr, FAIL, "status 0x%04x, expected 0x0207 (missing parameter)", status);
	conn_close(&c);
	return v;
}

static enum verdict case_login_missing_target(struct case_result *cr)
{
	struct conn c;
	struct login_params lp = {
		.initiator = cfg.initiator,
		.target = NULL,
		.chap = cfg.chap_user ? CHAP_HONEST : CHAP_NONE,
	};
	char why[256];
	int status;
	enum verdict v;

	conn_init(&c);
	status = login(&c, &lp, why, sizeof(why));
	if (status == 0x0207)
		v = verdict(cr, PASS, "normal session without TargetName: status 0x0207");
	else if (status < 0)
		v = verdict(cr, FAIL, "no login status: %s", why);
	else
		v = verdict(cr, FAIL, "normal session without TargetName: status 0x%04x, "
			    "expected 0x0207", status);
	conn_close(&c);
	return v;
}

/* 11.13.5: status 0x0203, target not found. */
static enum verdict case_login_unknown_target(struct case_result *cr)
{
	struct conn c;
	struct login_params lp = {
		.initiator = cfg.initiator,
		.target = "iqn.2026-11.org.sangw:no-such-target",
		.chap = cfg.chap_user ? CHAP_HONEST : CHAP_NONE,
	};
	char why[256];
	int status;
	enum verdict v;

	conn_init(&c);
	status = login(&c, &lp, why, sizeof(why));
	if (status == 0x0203)
		v = verdict(cr, PASS, "status 0x0203");
	else if (status < 0)
		v = verdict(cr, FAIL, "no login status: %s", why);
	else
		v = verdict(cr, FAIL, "status 0x%04x, expected 0x0203 (not found)", status);
	conn_close(&c);
	return v;
}

/* Half a PDU and silence: the target must not block on this connection.
 * The healthy session is checked while the truncated PDU is pending. */
static enum verdict case_truncated_pdu(struct case_result *cr)
{
	struct conn c, pre;
	uint8_t bhs[BHS_LEN];
	char why[256];
	enum verdict v;

	NEED_LOGIN(&c, false);
	build_nop_out(&c, bhs, c.next_itt++, true);
	put24(bhs + 5, 1000);                 /* promises data it never sends */
	send_all(c.fd, bhs, 20);
	/* And one before login too. */
	conn_init(&pre);
	pre.fd = tcp_connect();
	{
		uint8_t isid[6];

		make_isid(isid);
		build_login(&pre, bhs, isid, true, 0, 1, 1);
	}
	if (pre.fd >= 0)
		send_all(pre.fd, bhs, 30);
	if (!healthy_check(why, sizeof(why)))
		v = verdict(cr, FAIL, "while a half PDU was pending: %s", why);
	else
		v = verdict(cr, PASS, "half PDUs pending (after and before login) block no one");
	conn_close(&c);
	conn_close(&pre);
	return v;
}

/* 4.2.2.1: a non-immediate command with a CmdSN outside ExpCmdSN..MaxCmdSN
 * must be silently ignored; the next in-window one is served. */
static enum verdict case_cmdsn_out_of_window(struct case_result *cr)
{
	struct conn c;
	uint8_t bhs[BHS_LEN];
	struct pdu rsp;
	uint32_t stray_itt, good_itt, saved;
	bool got_stray = false, got_good = false;
	int64_t deadline;
	enum verdict v;

	NEED_LOGIN(&c, false);
	saved = c.cmdsn;
	c.cmdsn = c.max_cmdsn + 1000;
	stray_itt = c.next_itt++;
	build_nop_out(&c, bhs, stray_itt, false);
	pdu_send(&c, bhs, NULL, 0);
	c.cmdsn = saved;
	good_itt = c.next_itt++;
	build_nop_out(&c, bhs, good_itt, false);
	pdu_send(&c, bhs, NULL, 0);
	/* Collect answers for a while: the stray must never be answered. */
	deadline = now_ms() + cfg.timeout_ms;
	while (!got_good && now_ms() < deadline) {
		enum recv_result r = pdu_recv_reply(&c, &rsp, (int)(deadline - now_ms()));

		if (r != RECV_OK)
			break;
		if ((rsp.bhs[0] & 0x3f) == OP_NOP_IN && get32(rsp.bhs + 16) == stray_itt)
			got_stray = true;
		if ((rsp.bhs[0] & 0x3f) == OP_NOP_IN && get32(rsp.bhs + 16) == good_itt)
			got_good = true;
		pdu_free(&rsp);
	}
	if (got_good && !got_stray) {
		/* Give a late answer to the stray a moment to show up. */
		if (pdu_recv_reply(&c, &rsp, 300) == RECV_OK) {
			if ((rsp.bhs[0] & 0x3f) == OP_NOP_IN && get32(rsp.bhs + 16) == stray_itt)
				got_stray = true;
			pdu_free(&rsp);
		}
	}
	if (got_stray)
		v = verdict(cr, FAIL, "a NOP-Out with CmdSN far beyond MaxCmdSN was answered");
	else if (!got_good)
		v = verdict(cr, FAIL, "the in-window NOP-Out after the stray one got no answer");
	else
		v = verdict(cr, PASS, "out-of-window command ignored, the next one served");
	conn_close(&c);
	return v;
}

/* A Login Request in full feature phase is a protocol error: Reject or a
 * dropped connection, never a second login. */
static enum verdict case_login_in_full_feature(struct case_result *cr)
{
	struct conn c;
	uint8_t bhs[BHS_LEN];
	struct pdu rsp;
	enum recv_result r;
	char keys[] = "InitiatorName=iqn.2026-11.org.sangw:badpdu";
	enum verdict v;

	NEED_LOGIN(&c, false);
	{
		uint8_t isid[6];

		make_isid(isid);
		build_login(&c, bhs, isid, true, 1, 3, c.next_itt++);
	}
	pdu_send(&c, bhs, keys, sizeof(keys));
	r = pdu_recv_reply(&c, &rsp, cfg.timeout_ms);
	if (r == RECV_CLOSED)
		v = verdict(cr, PASS, "connection dropped");
	else if (r != RECV_OK)
		v = verdict(cr, FAIL, "%s", recv_result_name(r));
	else if ((rsp.bhs[0] & 0x3f) == OP_REJECT)
		v = verdict(cr, PASS, "Reject 0x%02x", rsp.bhs[2]);
	else if ((rsp.bhs[0] & 0x3f) == OP_LOGIN_RSP && rsp.bhs[36] != 0)
		v = verdict(cr, PASS, "login response with status 0x%02x%02x",
			    rsp.bhs[36], rsp.bhs[37]);
	else
		v = verdict(cr, FAIL, "answered with opcode 0x%02x", rsp.bhs[0] & 0x3f);
	if (r == RECV_OK)
		pdu_free(&rsp);
	conn_close(&c);
	return v;
}

/* Many NOP-Outs pipelined within the CmdSN window: every one answered. */
static enum verdict case_nop_flood(struct case_result *cr)
{
	struct conn c;
	uint8_t bhs[BHS_LEN];
	uint32_t first_itt, sent = 0, answered = 0, outstanding_max = 256;
	uint8_t *seen;
	int64_t deadline;
	enum verdict v;

	NEED_LOGIN(&c, false);
	seen = calloc(cfg.flood ? cfg.flood : 1, 1);
	if (seen == NULL)
		return verdict(cr, SKIP, "out of memory");
	first_itt = c.next_itt;
	c.next_itt += cfg.flood;
	deadline = now_ms() + 60000;
	while (answered < cfg.flood && now_ms() < deadline) {
		struct pdu rsp;
		enum recv_result r;

		while (sent < cfg.flood && sent - answered < outstanding_max &&
		       sn_le(c.cmdsn, c.max_cmdsn)) {
			build_nop_out(&c, bhs, first_itt + sent, false);
			if (!pdu_send(&c, bhs, NULL, 0))
				break;
			sent++;
		}
		r = pdu_recv_reply(&c, &rsp, cfg.timeout_ms);
		if (r != RECV_OK) {
			free(seen);
			conn_close(&c);
			return verdict(cr, FAIL, "after %u of %u answers: %s", answered, cfg.flood,
				       recv_result_name(r));
		}
		if ((rsp.bhs[0] & 0x3f) == OP_NOP_IN) {
			uint32_t i = get32(rsp.bhs + 16) - first_itt;

			if (i < cfg.flood && !seen[i]) {
				seen[i] = 1;
				answered++;
			}
		} else {
			pdu_free(&rsp);
			free(seen);
			conn_close(&c);
			return verdict(cr, FAIL, "unexpected opcode 0x%02x during the flood",
				       rsp.bhs[0] & 0x3f);
		}
		pdu_free(&rsp);
	}
	if (answered == cfg.flood)
		v = verdict(cr, PASS, "%u NOP-Outs, %u NOP-Ins", cfg.flood, answered);
	else
		v = verdict(cr, FAIL, "%u of %u NOP-Outs answered within 60 s", answered, cfg.flood);
	free(seen);
	conn_close(&c);
	return v;
}

/* Immediate commands do not take a CmdSN slot (RFC 7143 3.2.2.1), so only
 * the target can bound them: a burst of immediate WRITE(10)s, all sent
 * before any answer is read, must each get GOOD or TASK SET FULL (SAM-5
 * 5.3.1), never be dropped or kill the connection. The writes carry the
 * healthy session's baseline block, so LBA 0 keeps its data. Against a
 * stalled LU (--flood-lun) the answers come once it resumes: give a long
 * --timeout. */
static enum verdict case_immediate_flood(struct case_result *cr)
{
	struct conn c;
	uint8_t bhs[BHS_LEN];
	uint32_t n = cfg.immediate_flood, first_itt, answered = 0, good = 0, full = 0, other = 0;
	unsigned lun = cfg.flood_lun >= 0 ? (unsigned)cfg.flood_lun : cfg.lun;
	uint32_t bs = healthy.block_size;
	uint8_t tur[6] = { 0 };
	struct scsi_result res;
	char why[256];
	int last_other = -1;
	enum verdict v;

	NEED_LOGIN(&c, false);
	if (!c.immediate_data || bs > c.first_burst || bs > c.target_max_recv) {
		conn_close(&c);
		return verdict(cr, SKIP, "needs ImmediateData and a block within FirstBurstLength");
	}
	/* The new nexus' power-on unit attention first. */
	for (int i = 0; i < 3; i++) {
		if (!scsi_read_cmd(&c, lun, tur, sizeof(tur), NULL, 0, &res, why, sizeof(why))) {
			conn_close(&c);
			return verdict(cr, FAIL, "%s", why);
		}
		if (res.status == 0)
			break;
	}
	first_itt = c.next_itt;
	c.next_itt += n;
	for (uint32_t i = 0; i < n; i++) {
		memset(bhs, 0, sizeof(bhs));
		bhs[0] = OP_SCSI_CMD | FLAG_IMMEDIATE;
		bhs[1] = FLAG_FINAL | 0x20 | 1;        /* W, SIMPLE */
		put64(bhs + 8, encode_lun(lun));
		put32(bhs + 16, first_itt + i);
		put32(bhs + 20, bs);
		put32(bhs + 24, c.cmdsn);              /* immediate: CmdSN not advanced */
		put32(bhs + 28, c.exp_statsn);
		bhs[32] = 0x2a;                        /* WRITE(10), SBC-3 5.32: LBA 0 */
		put16(bhs + 32 + 7, 1);
		if (!pdu_send(&c, bhs, healthy.baseline, bs)) {
			conn_close(&c);
			return verdict(cr, FAIL, "connection lost after %u immediate commands", i);
		}
	}
	while (answered < n) {
		struct pdu rsp;
		enum recv_result r = pdu_recv_reply(&c, &rsp, cfg.timeout_ms);

		if (r != RECV_OK) {
			conn_close(&c);
			return verdict(cr, FAIL, "after %u of %u answers (%u GOOD, %u TASK SET FULL): %s",
				       answered, n, good, full, recv_result_name(r));
		}
		if ((rsp.bhs[0] & 0x3f) == OP_SCSI_RSP && get32(rsp.bhs + 16) - first_itt < n) {
			answered++;
			if (rsp.bhs[3] == 0x00)
				good++;
			else if (rsp.bhs[3] == 0x28)
				full++;
			else
				other++, last_other = rsp.bhs[3];
		}
		pdu_free(&rsp);
	}
	if (other == 0)
		v = verdict(cr, PASS, "%u immediate WRITEs: %u GOOD, %u TASK SET FULL", n, good, full);
	else
		v = verdict(cr, FAIL, "%u immediate WRITEs: %u GOOD, %u TASK SET FULL, %u other "
			    "(status 0x%02x)", n, good, full, other, last_other);
	conn_close(&c);
	return v;
}

/* WRITEs whose data the initiator holds back: sangwd bounds, per
 * connection, the buffers of WRITEs waiting for Data-Out (32 MiB, RFC 7143
 * leaves R2T timing to the target, 11.8), so it solicits only some of them
 * until earlier ones have their data. Once the data flows, every WRITE is
 * solicited in turn and completes GOOD. 56 WRITEs of 1 MiB (no unsolicited
 * data: F set, not immediate) must get R2Ts for at most 40 MiB. */
#define WITHHELD_WRITES 56u
#define WITHHELD_BYTES (1u << 20)
#define WITHHELD_LIMIT (40u << 20)

struct r2t_req {
	uint32_t itt, ttt, offset, len;
};

static bool send_solicited(struct conn *c, unsigned lun, const struct r2t_req *r, const uint8_t *data)
{
	uint32_t seg = c->target_max_recv ? c->target_max_recv : 8192, sent = 0, datasn = 0;
	uint8_t bhs[BHS_LEN];

	while (sent < r->len) {
		uint32_t len = r->len - sent < seg ? r->len - sent : seg;

		memset(bhs, 0, sizeof(bhs));
		bhs[0] = OP_DATA_OUT;
		bhs[1] = sent + len == r->len ? FLAG_FINAL : 0;
		put64(bhs + 8, encode_lun(lun));
		put32(bhs + 16, r->itt);
		put32(bhs + 20, r->ttt);
		put32(bhs + 28, c->exp_statsn);
		put32(bhs + 36, datasn++);
		put32(bhs + 40, r->offset + sent);
		if (!pdu_send(c, bhs, data + r->offset + sent, len))
			return false;
		sent += len;
	}
	return true;
}

static enum verdict case_withheld_write_data(struct case_result *cr)
{
	struct conn c;
	uint8_t bhs[BHS_LEN], tur[6] = { 0 };
	uint32_t bs = healthy.block_size, first_itt, n = WITHHELD_WRITES;
	uint32_t solicited_tasks = 0, first_solicited, good = 0, answered = 0;
	uint64_t start_lba = WITHHELD_BYTES / bs;
	bool solicited[WITHHELD_WRITES] = { false };
	struct r2t_req queue[WITHHELD_WRITES];
	unsigned queued = 0, lun = cfg.lun;
	struct scsi_result res;
	uint8_t *data;
	char why[256];
	enum verdict v = PASS;

	if ((uint64_t)healthy.blocks * bs < (uint64_t)(n + 1) * WITHHELD_BYTES)
		return verdict(cr, SKIP, "needs an LU of %u MiB", n + 1);
	NEED_LOGIN(&c, false);
	for (int i = 0; i < 3; i++) {   /* the new nexus' unit attention first */
		if (!scsi_read_cmd(&c, lun, tur, sizeof(tur), NULL, 0, &res, why, sizeof(why))) {
			conn_close(&c);
			return verdict(cr, FAIL, "%s", why);
		}
		if (res.status == 0)
			break;
	}
	if (c.max_cmdsn - c.cmdsn + 1 < n) {
		conn_close(&c);
		return verdict(cr, SKIP, "CmdSN window below %u", n);
	}
	data = malloc(WITHHELD_BYTES);
	if (!data) {
		conn_close(&c);
		return verdict(cr, FAIL, "out of memory");
	}
	memset(data, 0x5c, WITHHELD_BYTES);
	first_itt = c.next_itt;
	c.next_itt += n;
	for (uint32_t i = 0; i < n; i++) {
		memset(bhs, 0, sizeof(bhs));
		bhs[0] = OP_SCSI_CMD;
		bhs[1] = FLAG_FINAL | 0x20 | 1;        /* W, SIMPLE; no unsolicited data */
		put64(bhs + 8, encode_lun(lun));
		put32(bhs + 16, first_itt + i);
		put32(bhs + 20, WITHHELD_BYTES);
		put32(bhs + 24, c.cmdsn++);
		put32(bhs + 28, c.exp_statsn);
		bhs[32] = 0x2a;                        /* WRITE(10), SBC-3 5.32 */
		put32(bhs + 32 + 2, (uint32_t)(start_lba + (uint64_t)i * (WITHHELD_BYTES / bs)));
		put16(bhs + 32 + 7, (uint16_t)(WITHHELD_BYTES / bs));
		if (!pdu_send(&c, bhs, NULL, 0)) {
			v = verdict(cr, FAIL, "connection lost after %u WRITEs", i);
			goto out;
		}
	}
	/* Withhold the data: take what the target solicits until it is quiet
	 * for a second (more R2Ts later would only make the check pass). */
	for (;;) {
		struct pdu p;
		enum recv_result r = pdu_recv_reply(&c, &p, 1000);
		uint32_t idx;

		if (r == RECV_TIMEOUT)
			break;
		if (r != RECV_OK) {
			v = verdict(cr, FAIL, "while withholding data: %s", recv_result_name(r));
			goto out;
		}
		idx = get32(p.bhs + 16) - first_itt;
		if ((p.bhs[0] & 0x3f) != OP_R2T || idx >= n || queued >= n) {
			v = verdict(cr, FAIL, "while withholding data: opcode 0x%02x for ITT 0x%x",
				    p.bhs[0] & 0x3f, get32(p.bhs + 16));
			pdu_free(&p);
			goto out;
		}
		if (!solicited[idx]) {
			solicited[idx] = true;
			solicited_tasks++;
		}
		queue[queued++] = (struct r2t_req){ get32(p.bhs + 16), get32(p.bhs + 20),
						    get32(p.bhs + 40), get32(p.bhs + 44) };
		pdu_free(&p);
	}
	if (solicited_tasks == 0 || (uint64_t)solicited_tasks * WITHHELD_BYTES > WITHHELD_LIMIT) {
		v = verdict(cr, FAIL, "%u WRITEs of %u KiB without their data: R2Ts for %u of them (%u MiB, limit %u MiB)",
			    n, WITHHELD_BYTES >> 10, solicited_tasks, solicited_tasks * (WITHHELD_BYTES >> 20),
			    WITHHELD_LIMIT >> 20);
		goto out;
	}
	first_solicited = solicited_tasks;
	/* Now send what was asked for, and answer every further R2T. */
	for (unsigned i = 0; i < queued; i++)
		if (!send_solicited(&c, lun, &queue[i], data)) {
			v = verdict(cr, FAIL, "connection lost sending Data-Out");
			goto out;
		}
	while (answered < n) {
		struct pdu p;
		enum recv_result r = pdu_recv_reply(&c, &p, cfg.timeout_ms);
		uint8_t op = p.bhs[0] & 0x3f;

		if (r != RECV_OK) {
			v = verdict(cr, FAIL, "after %u of %u responses: %s", answered, n, recv_result_name(r));
			goto out;
		}
		if (op == OP_R2T) {
			struct r2t_req req = { get32(p.bhs + 16), get32(p.bhs + 20), get32(p.bhs + 40),
					       get32(p.bhs + 44) };
			uint32_t idx = req.itt - first_itt;

			if (idx < n && !solicited[idx]) {
				solicited[idx] = true;
				solicited_tasks++;
			}
			if (idx >= n || req.offset + req.len > WITHHELD_BYTES ||
			    !send_solicited(&c, lun, &req, data)) {
				v = verdict(cr, FAIL, "bad R2T for ITT 0x%x (offset %u, length %u) or connection lost",
					    req.itt, req.offset, req.len);
				pdu_free(&p);
				goto out;
			}
		} else if (op == OP_SCSI_RSP && get32(p.bhs + 16) - first_itt < n) {
			answered++;
			if (p.bhs[3] == 0x00)
				good++;
		}
		pdu_free(&p);
	}
	if (good != n || solicited_tasks != n)
		v = verdict(cr, FAIL, "%u of %u WRITEs GOOD, %u solicited", good, n, solicited_tasks);
	else
		v = verdict(cr, PASS, "%u WRITEs of %u KiB without their data: R2Ts for %u (%u MiB) at first; "
			    "with the data sent, all %u solicited and GOOD", n, WITHHELD_BYTES >> 10,
			    first_solicited, first_solicited * (WITHHELD_BYTES >> 20), n);
out:
	free(data);
	conn_close(&c);
	return v;
}

/* --- login attacks on a target that requires CHAP (RFC 7143 12.1.3) --- */

static int chap_login(enum chap_play play, struct chap_capture *capture, char *why, size_t len)
{
	struct conn c;
	struct login_params lp = {
		.initiator = cfg.initiator,
		.target = cfg.target,
		.chap = play,
		.capture = capture,
	};
	int status;

	conn_init(&c);
	status = login(&c, &lp, why, len);
	conn_close(&c);
	return status;
}

/* The login must end with a login response of class 2 (initiator error),
 * 0x0201 authentication failure unless other statuses are acceptable. */
static enum verdict expect_refused(struct case_result *cr, enum chap_play play,
				   const char *what, bool any_initiator_error)
{
	char why[256];
	int status;

	if (cfg.chap_user == NULL)
		return verdict(cr, SKIP, "no --chap-user/--chap-secret: the target needs no CHAP");
	status = chap_login(play, NULL, why, sizeof(why));
	if (status == 0)
		return verdict(cr, FAIL, "%s: logged in", what);
	if (status < 0)
		return verdict(cr, FAIL, "%s: no login status (%s)", what, why);
	if (status == 0x0201 || (any_initiator_error && (status >> 8) == 2))
		return verdict(cr, PASS, "%s: status 0x%04x", what, status);
	return verdict(cr, FAIL, "%s: status 0x%04x, expected 0x0201", what, status);
}

static enum verdict case_chap_wrong_secret(struct case_result *cr)
{
	return expect_refused(cr, CHAP_WRONG_SECRET, "response from a wrong secret", false);
}

static enum verdict case_chap_wrong_name(struct case_result *cr)
{
	return expect_refused(cr, CHAP_WRONG_NAME, "right secret, unknown CHAP_N", false);
}

static enum verdict case_chap_no_response(struct case_result *cr)
{
	return expect_refused(cr, CHAP_NO_RESPONSE, "CHAP_N without CHAP_R", true);
}

static enum verdict case_chap_garbage(struct case_result *cr)
{
	return expect_refused(cr, CHAP_GARBAGE, "CHAP_R not a number", true);
}

static enum verdict case_chap_skipped(struct case_result *cr)
{
	return expect_refused(cr, CHAP_SKIP, "AuthMethod=None", true);
}

static enum verdict case_chap_skip_stage(struct case_result *cr)
{
	return expect_refused(cr, CHAP_SKIP_STAGE, "no security stage", true);
}

/* A response captured from one login must not open another: the target
 * must pick a fresh challenge every time (RFC 1994 2.3; RFC 7143 9.2.1). */
static enum verdict case_chap_replay(struct case_result *cr)
{
	struct chap_capture capture = { 0 };
	char why[256];
	int status;

	if (cfg.chap_user == NULL)
		return verdict(cr, SKIP, "no --chap-user/--chap-secret: the target needs no CHAP");
	status = chap_login(CHAP_CAPTURE, &capture, why, sizeof(why));
	if (status != LOGIN_CAPTURED || !capture.valid)
		return verdict(cr, FAIL, "could not capture a challenge: %s", why);
	status = chap_login(CHAP_REPLAY, &capture, why, sizeof(why));
	if (capture.challenge_repeated)
		return verdict(cr, FAIL, "the target sent the same challenge twice");
	if (status == 0)
		return verdict(cr, FAIL, "a replayed CHAP response logged in");
	if (status != 0x0201)
		return verdict(cr, FAIL, "replayed response: %s, expected status 0x0201", why);
	return verdict(cr, PASS, "fresh challenge; replayed response refused with 0x0201");
}

struct test_case {
	const char *name;
	enum verdict (*run)(struct case_result *cr);
};

/* RFC 7143 11.19: the target's NOP-In pings detect a dead initiator. With
 * a target configured for short ping timers (--nop-wait says how long the
 * drop may take), a session that answers the pings stays up and one that
 * stays silent is dropped. */
static enum verdict case_silent_initiator(struct case_result *cr)
{
	struct conn live, silent;
	struct pdu p;
	enum recv_result r = RECV_TIMEOUT;
	unsigned pings = 0;
	int64_t deadline;
	char why[256];
	enum verdict v;

	if (cfg.nop_wait_ms <= 0)
		return verdict(cr, SKIP, "needs --nop-wait MS and a target with short NOP-In timers");
	NEED_LOGIN(&live, false);
	if (!login_ok(&silent, false, why, sizeof(why))) {
		conn_close(&live);
		return verdict(cr, FAIL, "cannot log in: %s", why);
	}
	deadline = now_ms() + cfg.nop_wait_ms;
	while (now_ms() < deadline) {
		/* The silent one reads whatever comes and never answers. */
		r = pdu_recv(&silent, &p, 100);
		if (r == RECV_OK) {
			if ((p.bhs[0] & 0x3f) == OP_NOP_IN && get32(p.bhs + 20) != NO_TAG)
				pings++;
			pdu_free(&p);
		} else if (r != RECV_TIMEOUT) {
			break;
		}
		/* The live one, and the run's healthy session, answer their
		 * pings (pdu_recv_reply does). */
		if (pdu_recv_reply(&live, &p, 1) == RECV_OK)
			pdu_free(&p);
		if (pdu_recv_reply(&healthy.c, &p, 1) == RECV_OK)
			pdu_free(&p);
	}
	if (r != RECV_CLOSED)
		v = verdict(cr, FAIL, "a silent initiator was not dropped within %d ms (%u pings seen)",
			    cfg.nop_wait_ms, pings);
	else if (pings == 0)
		v = verdict(cr, FAIL, "dropped without a NOP-In ping first");
	else if (!nop_ping(&live, 16, why, sizeof(why)))
		v = verdict(cr, FAIL, "the silent one was dropped, but so was the one answering: %s", why);
	else
		v = verdict(cr, PASS, "silent initiator dropped after %u ping(s); the answering one stays", pings);
	conn_close(&silent);
	conn_close(&live);
	return v;
}

static const struct test_case cases[] = {
	{ "garbage-before-login", case_garbage_before_login },
	{ "login-missing-initiator-name", case_login_missing_initiator },
	{ "login-missing-target-name", case_login_missing_target },
	{ "login-unknown-target", case_login_unknown_target },
	{ "unknown-opcode", case_unknown_opcode },
	{ "bad-header-digest", case_bad_header_digest },
	{ "bad-data-digest", case_bad_data_digest },
	{ "oversize-data-segment", case_oversize_segment },
	{ "data-out-unknown-ttt", case_data_out_unknown_ttt },
	{ "unknown-cdb-opcode", case_unknown_cdb },
	{ "lun-not-supported", case_bad_lun },
	{ "lba-out-of-range", case_lba_out_of_range },
	{ "cmdsn-out-of-window", case_cmdsn_out_of_window },
	{ "login-in-full-feature-phase", case_login_in_full_feature },
	{ "truncated-pdu", case_truncated_pdu },
	{ "nop-flood", case_nop_flood },
	{ "immediate-flood", case_immediate_flood },
	{ "withheld-write-data", case_withheld_write_data },
	{ "silent-initiator", case_silent_initiator },
	{ "chap-wrong-secret", case_chap_wrong_secret },
	{ "chap-wrong-name", case_chap_wrong_name },
	{ "chap-no-response", case_chap_no_response },
	{ "chap-garbage-response", case_chap_garbage },
	{ "chap-replayed-response", case_chap_replay },
	{ "chap-auth-method-none", case_chap_skipped },
	{ "chap-no-security-stage", case_chap_skip_stage },
};

/* --- main ---------------------------------------------------------------------------- */

/* iscsi://HOST[:PORT]/TARGET/LUN; [v6]:port accepted. */
static bool parse_url(const char *url)
{
	const char *p, *slash, *colon, *lun_text;

	if (strncmp(url, "iscsi://", 8) != 0)
		return false;
	p = url + 8;
	slash = strchr(p, '/');
	if (slash == NULL)
		return false;
	if (*p == '[') {
		const char *close = strchr(p, ']');

		if (close == NULL || close > slash)
			return false;
		snprintf(cfg.host, sizeof(cfg.host), "%.*s", (int)(close - p - 1), p + 1);
		colon = close[1] == ':' ? close + 1 : NULL;
	} else {
		colon = memchr(p, ':', (size_t)(slash - p));
		snprintf(cfg.host, sizeof(cfg.host), "%.*s",
			 (int)((colon ? colon : slash) - p), p);
	}
	if (colon)
		snprintf(cfg.port, sizeof(cfg.port), "%.*s", (int)(slash - colon - 1), colon + 1);
	lun_text = strrchr(slash + 1, '/');
	if (lun_text == NULL || lun_text == slash + 1)
		return false;
	snprintf(cfg.target, sizeof(cfg.target), "%.*s", (int)(lun_text - slash - 1), slash + 1);
	cfg.lun = (unsigned)strtoul(lun_text + 1, NULL, 10);
	return cfg.host[0] && cfg.target[0];
}

static void usage(FILE *f)
{
	fprintf(f, "usage: badpdu [--initiator IQN] [--chap-user U --chap-secret S] [--timeout MS]\n"
		   "              [--flood N] [--nop-wait MS] [--only PATTERN] [--list]\n"
		   "              [--immediate-flood N] [--flood-lun LUN]\n"
		   "              iscsi://HOST[:PORT]/TARGET-IQN/LUN\n"
		   "--nop-wait MS runs silent-initiator (the target must ping within MS).\n"
		   "--immediate-flood N [300] immediate WRITEs in immediate-flood, sent to\n"
		   "--flood-lun LUN (default: the URL's; LBA 0 gets the URL LU's block 0).\n"
		   "--only runs the cases whose names match PATTERN (shell wildcards).\n"
		   "With CHAP credentials every login uses CHAP and the chap-* cases run.\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "initiator", required_argument, NULL, 'i' },
		{ "chap-user", required_argument, NULL, 'u' },
		{ "chap-secret", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "flood", required_argument, NULL, 'n' },
		{ "nop-wait", required_argument, NULL, 'w' },
		{ "only", required_argument, NULL, 'o' },
		{ "immediate-flood", required_argument, NULL, 'I' },
		{ "flood-lun", required_argument, NULL, 'L' },
		{ "list", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned passed = 0, failed = 0, skipped = 0;
	char why[256];
	int c;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'i': cfg.initiator = optarg; break;
		case 'u': cfg.chap_user = optarg; break;
		case 's': cfg.chap_secret = optarg; break;
		case 't': cfg.timeout_ms = atoi(optarg); break;
		case 'n': cfg.flood = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'w': cfg.nop_wait_ms = atoi(optarg); break;
		case 'o': cfg.only = optarg; break;
		case 'I': cfg.immediate_flood = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'L': cfg.flood_lun = atoi(optarg); break;
		case 'l':
			for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
				printf("%s\n", cases[i].name);
			return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1 || !parse_url(argv[optind]) ||
	    (cfg.chap_user == NULL) != (cfg.chap_secret == NULL)) {
		usage(stderr);
		return 2;
	}
	if (cfg.timeout_ms <= 0)
		cfg.timeout_ms = 5000;

	if (!healthy_start(why, sizeof(why))) {
		printf("FAIL healthy-session: %s\n", why);
		return 1;
	}
	printf("healthy session: LUN %u, %u blocks of %u bytes; target MaxRecvDataSegmentLength %u\n",
	       cfg.lun, healthy.blocks, healthy.block_size, healthy.c.target_max_recv);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct case_result cr = { .v = FAIL };

		if (cfg.only && fnmatch(cfg.only, cases[i].name, 0) != 0)
			continue;
		cases[i].run(&cr);
		if (cr.v != SKIP && !healthy_check(why, sizeof(why))) {
			cr.v = FAIL;
			snprintf(cr.msg + strlen(cr.msg), sizeof(cr.msg) - strlen(cr.msg),
				 "; then %s", why);
		}
		printf("%s %s: %s\n", cr.v == PASS ? "PASS" : cr.v == SKIP ? "SKIP" : "FAIL",
		       cases[i].name, cr.msg);
		if (cr.v == PASS)
			passed++;
		else if (cr.v == SKIP)
			skipped++;
		else
			failed++;
		/* A dead healthy session makes every later verdict meaningless. */
		if (cr.v == FAIL && strstr(cr.msg, "healthy session") != NULL) {
			conn_close(&healthy.c);
			if (!healthy_start(why, sizeof(why))) {
				printf("FAIL healthy-session: cannot log in again: %s\n", why);
				failed++;
				break;
			}
		}
	}
	if (!healthy_check(why, sizeof(why))) {
		printf("FAIL healthy-session-at-end: %s\n", why);
		failed++;
	}
	conn_close(&healthy.c);
	printf("badpdu: %u passed, %u failed, %u skipped\n", passed, failed, skipped);
	return failed ? 1 : 0;
}
