/* The seam between sangw-bench and the iSCSI initiator that carries its
 * commands. Two engines: "libiscsi" (libiscsi's asynchronous API) and "raw"
 * (tools/bench_raw_iscsi.c, a small initiator of our own that batches its
 * system calls). One connection is used by one thread only. */
#ifndef SANGW_BENCH_ENGINE_H
#define SANGW_BENCH_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A command's outcome: a SAM-5 status byte (5.3), or one of these. */
enum {
	BENCH_STATUS_GOOD = 0x00,
	BENCH_STATUS_CHECK_CONDITION = 0x02,
	BENCH_STATUS_CANCELLED = 0x1000,    /* never answered: the session ended */
	BENCH_STATUS_TRANSPORT = 0x1001,    /* connection lost, reject, protocol error */
	BENCH_STATUS_TIMEOUT = 0x1002,      /* no answer within --io-timeout */
};

struct bench_result {
	int status;
	uint8_t sense_key, asc, ascq;   /* with CHECK CONDITION and sense data */
	bool residual_underflow, residual_overflow;
	uint32_t residual;              /* bytes, with one of the flags above */
};

typedef void bench_done_fn(void *private_data, const struct bench_result *result);

enum bench_dir { BENCH_DIR_NONE, BENCH_DIR_READ, BENCH_DIR_WRITE };

struct bench_connect_params {
	const char *url;                /* iscsi://[user[%password]@]host[:port]/iqn/lun */
	const char *shown_url;          /* the URL without its password, for messages */
	const char *initiator;
	unsigned index;                 /* the session's number: the ISID qualifier */
	uint32_t isid_random;           /* the same for every session of a run */
	bool header_digest;
	unsigned io_timeout_s;
	bool probe_portal;              /* say plainly when the portal cannot be reached */
};

struct bench_conn;

struct bench_engine_ops {
	const char *name;
	/* NULL when the engine can serve these options, else why not (a
	 * usage error). */
	const char *(*unsupported)(const struct bench_connect_params *p);
	/* Connect and log in; NULL after printing why not. */
	struct bench_conn *(*connect)(const struct bench_connect_params *p);
	/* Queue one command; buf holds len bytes to read into or write from
	 * and must stay valid until done runs (from service or tick, never
	 * from submit). False when it cannot even be queued. */
	bool (*submit)(struct bench_conn *c, const uint8_t *cdb, unsigned cdb_len,
		       enum bench_dir dir, void *buf, uint32_t len,
		       bench_done_fn *done, void *private_data);
	/* Send what submit queued; before every poll. < 0: connection lost. */
	int (*flush)(struct bench_conn *c);
	int (*fd)(struct bench_conn *c);
	short (*events)(struct bench_conn *c);
	/* Handle poll's revents; < 0: the connection is lost. */
	int (*service)(struct bench_conn *c, short revents);
	/* About once a second: fail commands older than the I/O timeout. */
	void (*tick)(struct bench_conn *c);
	/* The last error, for messages. */
	const char *(*error)(struct bench_conn *c);
	/* A clean logout (blocking, bounded by the I/O timeout). */
	void (*logout)(struct bench_conn *c);
	/* Close and free; outstanding commands complete with
	 * BENCH_STATUS_CANCELLED. */
	void (*destroy)(struct bench_conn *c);
};

extern const struct bench_engine_ops bench_libiscsi_engine;
extern const struct bench_engine_ops bench_raw_engine;

/* --- shared by both engines (tools/bench_portal.c) --- */

/* Split "host[:port]" or "[v6addr][:port]"; port defaults to 3260. */
bool bench_split_portal(const char *portal, char *host, size_t host_size,
			char *port, size_t port_size);
/* A connected TCP socket to the portal, or -1 after printing why not. */
int bench_connect_portal(const char *portal);

#endif
