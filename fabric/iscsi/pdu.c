/* PDU reception (RFC 7143 11.1): a resumable state machine that fills, in
 * order, the BHS, the AHS, the header digest, the data segment, its padding
 * and the data digest. The same machine serves a non-blocking socket
 * (pdu_reader_read) and a memory buffer (pdu_reader_feed). */
#include "pdu.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"

enum pdu_phase {
	PHASE_BHS = 0,
	PHASE_AHS,
	PHASE_HEADER_DIGEST,
	PHASE_DATA,
	PHASE_PAD,
	PHASE_DATA_DIGEST,
	/* A PDU was reported; it stays reported until pdu_reader_next(). */
	PHASE_DONE,
	PHASE_DONE_BAD_DATA_DIGEST,
	/* The stream cannot be resynchronised: the connection must go. */
	PHASE_BROKEN_HEADER_DIGEST,
	PHASE_BROKEN_TOO_LONG,
	PHASE_BROKEN_NO_MEMORY,
};

void pdu_reader_init(struct pdu_reader *r, uint32_t max_data_len)
{
	memset(r, 0, sizeof(*r));
	r->max_data_len = max_data_len;
	r->phase = PHASE_BHS;
}

void pdu_reader_free(struct pdu_reader *r)
{
	free(r->rx_buf);
	r->rx_buf = NULL;
	r->rx_pos = r->rx_len = 0;
	free(r->own_buf);
	r->own_buf = NULL;
	r->own_cap = 0;
	r->pdu.data = NULL;
}

void pdu_reader_next(struct pdu_reader *r)
{
	r->phase = PHASE_BHS;
	r->got = 0;
	r->pdu.ahs_len = 0;
	r->pdu.data = NULL;
	r->pdu.data_len = 0;
	r->data_is_own = false;
}

uint32_t pdu_header_digest(const uint8_t *bhs, const uint8_t *ahs, uint32_t ahs_len)
{
	return crc32c(crc32c(0, bhs, ISCSI_BHS_LEN), ahs, ahs_len);
}

uint32_t pdu_data_digest(const uint8_t *data, uint32_t len)
{
	static const uint8_t zeros[4];

	return crc32c(crc32c(0, data, len), zeros, ISCSI_PAD(len) - len);
}

void bhs_init(uint8_t *bhs, uint8_t opcode)
{
	/* opcode may carry ISCSI_FLAG_IMMEDIATE (requests); byte 0 holds both. */
	memset(bhs, 0, ISCSI_BHS_LEN);
	bhs[0] = opcode;
}

/* Where the bytes of the current phase go, and how many are still missing. */
static uint8_t *phase_span(struct pdu_reader *r, uint32_t *want)
{
	uint32_t pad = ISCSI_PAD(r->pdu.data_len) - r->pdu.data_len;

	switch (r->phase) {
	case PHASE_BHS:
		*want = ISCSI_BHS_LEN - r->got;
		return r->pdu.bhs + r->got;
	case PHASE_AHS:
		*want = r->pdu.ahs_len - r->got;
		return r->pdu.ahs + r->got;
	case PHASE_HEADER_DIGEST:
	case PHASE_DATA_DIGEST:
		*want = ISCSI_DIGEST_LEN - r->got;
		return r->digest + r->got;
	case PHASE_DATA:
		*want = r->pdu.data_len - r->got;
		return r->pdu.data + r->got;
	case PHASE_PAD:
		*want = pad - r->got;
		return r->pad + r->got;
	default:
		*want = 0;
		return NULL;
	}
}

static void enter(struct pdu_reader *r, enum pdu_phase phase)
{
	r->phase = phase;
	r->got = 0;
}

/* The data segment goes where the caller's hook says, else into our own
 * buffer, grown on demand (never beyond max_data_len, checked before). */
static bool place_data(struct pdu_reader *r)
{
	uint32_t len = r->pdu.data_len;
	uint8_t *dest = NULL;

	if (r->data_dest)
		dest = r->data_dest(r->data_dest_arg, r->pdu.bhs, len);
	if (dest) {
		r->pdu.data = dest;
		r->data_is_own = false;
		return true;
	}
	if (r->own_cap < len) {
		uint8_t *buf = realloc(r->own_buf, len);
		if (!buf)
			return false;
		r->own_buf = buf;
		r->own_cap = len;
	}
	r->pdu.data = r->own_buf;
	r->data_is_own = true;
	return true;
}

/* The header (BHS, AHS, header digest) is complete: check it and set up
 * the data phase. */
static enum pdu_read_status header_complete(struct pdu_reader *r)
{
	uint32_t len = bhs_data_len(r->pdu.bhs);

	/* RFC 7143 13.12: a PDU may not carry more data than we declared. */
	if (len > r->max_data_len) {
		r->phase = PHASE_BROKEN_TOO_LONG;
		return PDU_READ_TOO_LONG;
	}
	r->pdu.data_len = len;
	if (len == 0) {
		enter(r, PHASE_DONE);
		return PDU_READ_READY;
	}
	if (!place_data(r)) {
		r->phase = PHASE_BROKEN_NO_MEMORY;
		return PDU_READ_IO_ERROR;
	}
	enter(r, PHASE_DATA);
	return PDU_READ_AGAIN;
}

/* The current phase has all its bytes: move to the next one. Returns
 * PDU_READ_AGAIN to keep reading, or the outcome of the PDU. */
static enum pdu_read_status phase_complete(struct pdu_reader *r)
{
	switch (r->phase) {
	case PHASE_BHS:
		/* Refuse an oversize segment as soon as the BHS says so, not
		 * after waiting for an AHS that garbage may never complete. */
		if (bhs_data_len(r->pdu.bhs) > r->max_data_len) {
			r->phase = PHASE_BROKEN_TOO_LONG;
			return PDU_READ_TOO_LONG;
		}
		r->pdu.ahs_len = bhs_ahs_len(r->pdu.bhs) * 4u;
		if (r->pdu.ahs_len) {
			enter(r, PHASE_AHS);
			return PDU_READ_AGAIN;
		}
		__attribute__((fallthrough));   /* no AHS */
	case PHASE_AHS:
		if (r->header_digest) {
			enter(r, PHASE_HEADER_DIGEST);
			return PDU_READ_AGAIN;
		}
		return header_complete(r);
	case PHASE_HEADER_DIGEST:
		/* RFC 7143 7.8: a bad header digest leaves the PDU boundaries
		 * unknown; the connection must be dropped. */
		if (crc32c_get(r->digest) != pdu_header_digest(r->pdu.bhs, r->pdu.ahs, r->pdu.ahs_len)) {
			r->phase = PHASE_BROKEN_HEADER_DIGEST;
			return PDU_READ_HEADER_DIGEST;
		}
		return header_complete(r);
	case PHASE_DATA:
		if (ISCSI_PAD(r->pdu.data_len) != r->pdu.data_len) {
			enter(r, PHASE_PAD);
			return PDU_READ_AGAIN;
		}
		__attribute__((fallthrough));   /* no padding */
	case PHASE_PAD:
		if (r->data_digest) {
			enter(r, PHASE_DATA_DIGEST);
			return PDU_READ_AGAIN;
		}
		enter(r, PHASE_DONE);
		return PDU_READ_READY;
	case PHASE_DATA_DIGEST: {
		/* 11.1.4: the data digest covers the data and its padding. */
		uint32_t pad = ISCSI_PAD(r->pdu.data_len) - r->pdu.data_len;
		uint32_t crc = crc32c(crc32c(0, r->pdu.data, r->pdu.data_len), r->pad, pad);

		/* 7.8.2: the PDU is intact in length; the caller rejects it. */
		if (crc32c_get(r->digest) != crc) {
			enter(r, PHASE_DONE_BAD_DATA_DIGEST);
			return PDU_READ_DATA_DIGEST;
		}
		enter(r, PHASE_DONE);
		return PDU_READ_READY;
	}
	default:
		return PDU_READ_AGAIN;
	}
}

/* The status already reported for the PDU in hand, or PDU_READ_AGAIN when
 * the reader is in the middle of one. */
static enum pdu_read_status reported_status(const struct pdu_reader *r)
{
	switch (r->phase) {
	case PHASE_DONE: return PDU_READ_READY;
	case PHASE_DONE_BAD_DATA_DIGEST: return PDU_READ_DATA_DIGEST;
	case PHASE_BROKEN_HEADER_DIGEST: return PDU_READ_HEADER_DIGEST;
	case PHASE_BROKEN_TOO_LONG: return PDU_READ_TOO_LONG;
	case PHASE_BROKEN_NO_MEMORY: return PDU_READ_IO_ERROR;
	default: return PDU_READ_AGAIN;
	}
}

/* The state machine over a memory buffer. With borrow, a data segment
 * that has no caller-chosen destination and lies whole in buf is not
 * copied: pdu.data points into buf (the socket reader's own buffer, which
 * stays untouched until the PDU has been consumed). */
static enum pdu_read_status feed(struct pdu_reader *r, const uint8_t *buf, size_t len,
				 size_t *used, bool borrow)
{
	size_t pos = 0;

	*used = 0;
	if (reported_status(r) != PDU_READ_AGAIN)
		return reported_status(r);
	for (;;) {
		uint32_t want;
		uint8_t *dst = phase_span(r, &want);
		/* Borrow only when the padding and data digest are in buf too:
		 * a later read refills the buffer the data would point into. */
		size_t tail = ISCSI_PAD(r->pdu.data_len) - r->pdu.data_len +
			      (r->data_digest ? ISCSI_DIGEST_LEN : 0);

		if (want && borrow && r->phase == PHASE_DATA && r->data_is_own && r->got == 0 &&
		    len - pos >= want + tail) {
			r->pdu.data = (uint8_t *)buf + pos;
			pos += want;
			r->got = want;
		} else if (want) {
			size_t n = MIN((size_t)want, len - pos);

			if (n == 0)
				break;
			memcpy(dst, buf + pos, n);
			pos += n;
			r->got += (uint32_t)n;
			if (n < want)
				break;
		}
		enum pdu_read_status st = phase_complete(r);
		if (st != PDU_READ_AGAIN) {
			*used = pos;
			return st;
		}
	}
	*used = pos;
	return PDU_READ_AGAIN;
}

enum pdu_read_status pdu_reader_feed(struct pdu_reader *r, const uint8_t *buf, size_t len,
				     size_t *used)
{
	return feed(r, buf, len, used, false);
}

/* Read in large chunks: one read() usually brings many small PDUs (a
 * queue's worth of commands), which are then parsed from memory. Only a
 * large data segment is read straight into its destination, saving the
 * copy. After a short read the socket is drained: the caller returns to
 * epoll (level-triggered) instead of paying for a read() that says EAGAIN. */
#define PDU_RX_BUF_LEN    65536
#define PDU_DIRECT_MIN    16384

enum pdu_read_status pdu_reader_read(struct pdu_reader *r, int fd)
{
	if (reported_status(r) != PDU_READ_AGAIN)
		return reported_status(r);
	for (;;) {
		uint32_t want;
		uint8_t *dst;
		ssize_t n;

		if (r->rx_pos < r->rx_len) {
			size_t used;
			enum pdu_read_status st = feed(r, r->rx_buf + r->rx_pos,
						       r->rx_len - r->rx_pos, &used, true);
			r->rx_pos += (uint32_t)used;
			if (st != PDU_READ_AGAIN)
				return st;
		}
		r->rx_pos = r->rx_len = 0;
		if (r->rx_drained) {
			r->rx_drained = false;
			return PDU_READ_AGAIN;
		}
		dst = phase_span(r, &want);
		if (r->phase == PHASE_DATA && want >= PDU_DIRECT_MIN) {
			n = read(fd, dst, want);
		} else {
			if (!r->rx_buf && !(r->rx_buf = malloc(PDU_RX_BUF_LEN)))
				return PDU_READ_IO_ERROR;
			n = read(fd, r->rx_buf, PDU_RX_BUF_LEN);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return PDU_READ_AGAIN;
			return PDU_READ_IO_ERROR;
		}
		if (n == 0)
			return PDU_READ_CLOSED;
		if (r->phase == PHASE_DATA && want >= PDU_DIRECT_MIN) {
			r->got += (uint32_t)n;
			r->rx_drained = (uint32_t)n < want;
			if ((uint32_t)n == want) {
				enum pdu_read_status st = phase_complete(r);
				if (st != PDU_READ_AGAIN)
					return st;
			}
			continue;
		}
		r->rx_len = (uint32_t)n;
		r->rx_drained = n < PDU_RX_BUF_LEN;
	}
}
