/* PDU reception (RFC 7143 section 11.1): a non-blocking reader that
 * assembles BHS, AHS, header digest, data segment (with padding) and data
 * digest from a socket, checking digests and limits. The data segment can
 * land directly in a buffer chosen by the caller (e.g. the command's data
 * buffer for Data-Out) to avoid a copy. */
#ifndef SANGW_ISCSI_PDU_H
#define SANGW_ISCSI_PDU_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "iscsi_proto.h"

#define ISCSI_MAX_AHS_LEN (255 * 4)

enum pdu_read_status {
	PDU_READ_AGAIN = 0,        /* need more bytes (EAGAIN) */
	PDU_READ_READY,            /* a whole PDU is in reader->pdu */
	PDU_READ_CLOSED,           /* peer closed the connection */
	PDU_READ_IO_ERROR,         /* read() failed */
	PDU_READ_HEADER_DIGEST,    /* header digest mismatch: drop the connection (7.8) */
	PDU_READ_DATA_DIGEST,      /* data digest mismatch: PDU is whole but must be
				    * rejected / recovered (RFC 7143 7.8.2) */
	PDU_READ_TOO_LONG,         /* DataSegmentLength over the negotiated limit */
};

struct pdu {
	uint8_t bhs[ISCSI_BHS_LEN];
	uint8_t ahs[ISCSI_MAX_AHS_LEN];
	uint32_t ahs_len;          /* bytes */
	uint8_t *data;             /* data segment, data_len bytes (no padding) */
	uint32_t data_len;
};

/* Choose where the data segment of the PDU whose BHS is given goes: return
 * a buffer of at least len bytes, or NULL to use the reader's own buffer. */
typedef uint8_t *(*pdu_data_dest_fn)(void *arg, const uint8_t *bhs, uint32_t len);

struct pdu_reader {
	struct pdu pdu;
	bool header_digest;        /* expect CRC32C after the header */
	bool data_digest;          /* expect CRC32C after the data */
	uint32_t max_data_len;     /* our MaxRecvDataSegmentLength (or login limit) */
	pdu_data_dest_fn data_dest;
	void *data_dest_arg;
	/* private */
	int phase;
	uint32_t got;              /* bytes received in the current phase */
	uint8_t digest[4];
	uint8_t pad[4];
	uint8_t *own_buf;
	uint32_t own_cap;
	bool data_is_own;
	/* bytes read from the socket ahead of the state machine */
	uint8_t *rx_buf;
	uint32_t rx_pos, rx_len;
	bool rx_drained;       /* the last read() was short: socket empty */
};

void pdu_reader_init(struct pdu_reader *r, uint32_t max_data_len);
void pdu_reader_free(struct pdu_reader *r);
/* Read from fd until a PDU is complete or the socket would block. After
 * PDU_READ_READY (or _DATA_DIGEST) the caller consumes r->pdu and calls
 * pdu_reader_next() before reading again. */
enum pdu_read_status pdu_reader_read(struct pdu_reader *r, int fd);
void pdu_reader_next(struct pdu_reader *r);

/* Same assembly from a memory buffer (for tests and fuzzing): consumes up to
 * len bytes, sets *used. */
enum pdu_read_status pdu_reader_feed(struct pdu_reader *r, const uint8_t *buf, size_t len,
				     size_t *used);

/* Header digest over BHS + AHS (11.1.4). */
uint32_t pdu_header_digest(const uint8_t *bhs, const uint8_t *ahs, uint32_t ahs_len);
/* Data digest over the data segment and its padding (11.1.4). */
uint32_t pdu_data_digest(const uint8_t *data, uint32_t len);

/* Zero a BHS and set opcode (with the immediate bit for requests). */
void bhs_init(uint8_t *bhs, uint8_t opcode);

#endif
