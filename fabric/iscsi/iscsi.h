/* The iSCSI fabric's internal structures (RFC 7143): portals that accept
 * TCP connections, connections that carry PDUs, sessions (one I_T nexus
 * each) and tasks. One connection per session (MaxConnections=1) at
 * ErrorRecoveryLevel 0. A connection logs in on the control thread and is
 * then handed to a worker (workers.h), where its session, nexus and tasks
 * live; closing it, like everything that touches other sessions, runs on
 * the control thread with the world stopped. */
#ifndef SANGW_ISCSI_H
#define SANGW_ISCSI_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "../../gateway/event_loop.h"
#include "../../gateway/model.h"
#include "../../gateway/scsi/scsi.h"
#include "iscsi_proto.h"
#include "login.h"
#include "params.h"
#include "pdu.h"

struct iscsi_conn;
struct iscsi_session;
struct iscsi_task;

/* A listening socket for one configured portal. */
struct iscsi_listener {
	struct ev_source src;
	int fd;
	char addr[64];
	uint16_t port;
	TAILQ_ENTRY(iscsi_listener) link;
};

/* An outgoing PDU: header (+ digest) and an optional data segment that
 * points into a buffer owned by a task or by the PDU itself. */
struct tx_pdu {
	uint8_t hdr[ISCSI_BHS_LEN + ISCSI_DIGEST_LEN];
	const uint8_t *data;
	uint32_t data_len;
	uint8_t trailer[3 + ISCSI_DIGEST_LEN];   /* padding + data digest */
	uint8_t hdr_len;                       /* BHS (+ digest) as queued */
	uint8_t trailer_len;
	uint8_t *owned;                        /* freed with the PDU */
	struct iscsi_task *task;               /* reference released when sent */
	bool close_after;                      /* close the connection once sent */
	uint32_t sent;                         /* bytes already written */
	TAILQ_ENTRY(tx_pdu) link;
};

enum conn_state {
	CONN_LOGIN,
	CONN_FULL_FEATURE,
	CONN_LOGGED_OUT,      /* logout response queued: close when sent */
	CONN_CLOSED,
};

struct iscsi_conn {
	struct event_loop *loop;
	struct ev_source src;
	int fd;
	enum conn_state state;
	char peer[80];                 /* "addr:port" for logs */
	struct sockaddr_storage local_addr;
	struct pdu_reader rx;
	struct login_state *login;
	struct iscsi_session *sess;
	uint16_t cid;
	uint32_t stat_sn;              /* next StatSN to send */
	uint32_t exp_stat_sn;          /* last ExpStatSN from the initiator */
	TAILQ_HEAD(tx_pdu_list, tx_pdu) txq;
	bool want_write;               /* EPOLLOUT armed */
	uint32_t ttt_next;
	/* NOP-In ping (RFC 7143 11.19): detect dead initiators */
	struct ev_timer ping_timer;
	uint64_t last_rx_ms;
	uint32_t ping_ttt;             /* outstanding ping, 0 = none */
	uint64_t ping_sent_ms;
	struct ev_timer login_timer;
	/* tasks receiving Data-Out, by ITT */
	TAILQ_HEAD(, iscsi_task) tasks;
	unsigned task_count;
	uint64_t rx_pdus, tx_pdus, rx_bytes, tx_bytes;
	unsigned refs;                 /* tasks and PDUs that still point here */
	bool reject_logged;
	/* a Text response too long for one PDU (RFC 7143 11.11.1 C bit) */
	uint8_t *text_rsp;
	uint32_t text_rsp_len, text_rsp_sent, text_itt, text_ttt;
	struct ev_deferred free_deferred;
	struct ev_deferred drop_deferred;
	struct ev_deferred flush_deferred;   /* one writev per batch of events */
	struct ev_deferred read_deferred;    /* more PDUs after the read budget */
	/* Closing is control-thread work (sessions, nexus loss): a worker
	 * stops reading and posts it (conn.c). */
	struct ev_deferred close_deferred;
	bool close_posted;
	char close_why[96];
	TAILQ_ENTRY(iscsi_conn) link;
};

enum task_state {
	TASK_RECEIVING,     /* waiting for Data-Out */
	TASK_PENDING,       /* complete, waiting for CmdSN order (ORDERED) */
	TASK_IN_CORE,       /* submitted to the SCSI core */
	TASK_RESPONDING,    /* response PDUs queued */
};

struct iscsi_task {
	struct scsi_cmd cmd;
	struct iscsi_conn *conn;
	struct iscsi_session *sess;
	uint32_t itt;
	uint32_t cmd_sn;
	enum task_state state;
	bool immediate;
	bool holds_slot;               /* occupies a CmdSN window slot */
	/* Data-Out bookkeeping (RFC 7143 10.7-10.8) */
	uint32_t edtl;
	uint32_t received;             /* bytes of Data-Out received */
	uint32_t r2t_sn;
	uint32_t exp_data_sn;          /* in the current sequence */
	uint32_t next_offset;          /* offset the next Data-Out must carry */
	uint32_t seq_end;              /* end of the current Data-Out sequence */
	uint32_t ttt;                  /* of the outstanding R2T; reserved while unsolicited */
	uint32_t data_in_pdus;         /* DataSN count for ExpDataSN */
	unsigned tx_refs;              /* PDUs in the tx queue using cmd.buf */
	bool aborted_locally;
	TAILQ_ENTRY(iscsi_task) link;  /* in conn->tasks */
};

struct iscsi_session {
	struct it_nexus nexus;         /* normal sessions: the I_T nexus */
	bool nexus_registered;
	enum login_session_type type;
	uint8_t isid[6];
	uint16_t tsih;
	char initiator_name[ISCSI_NAME_MAX];
	char initiator_alias[256];
	struct target *target;         /* NULL for discovery */
	struct acl *acl;
	struct iscsi_session_params params;
	uint32_t queue_depth;
	uint32_t exp_cmd_sn;
	uint32_t max_cmd_sn;
	struct iscsi_conn *conn;
	uint64_t created_ms;
	unsigned refs;                 /* the session itself + its tasks */
	struct ev_deferred logout_deferred;  /* nexus loss at logout (session.c) */
	TAILQ_ENTRY(iscsi_session) link;
};

/* --- portal.c ------------------------------------------------------------ */
int iscsi_fabric_start(struct gateway *gw, char *err, size_t errlen);
void iscsi_fabric_stop(struct gateway *gw);
/* Ask every initiator to log out (Async Message) and wait up to
 * timeout_ms for them; then close what is left. */
void iscsi_fabric_shutdown(struct gateway *gw, unsigned timeout_ms);
int iscsi_portals_changed(struct gateway *gw, char *err, size_t errlen);
unsigned iscsi_connection_count(void);
/* Free the calling thread's task and PDU caches (a worker thread ends). */
void iscsi_thread_trim(void);

/* --- conn.c --------------------------------------------------------------- */
struct iscsi_conn *conn_create(struct event_loop *loop, int fd);
void conn_close(struct iscsi_conn *conn, const char *why);
void conn_get(struct iscsi_conn *conn);
void conn_put(struct iscsi_conn *conn);
/* Queue a PDU. hdr must hold the BHS; the digest is added here. */
struct tx_pdu *conn_new_pdu(struct iscsi_conn *conn);
void conn_queue_pdu(struct iscsi_conn *conn, struct tx_pdu *pdu);
/* StatSN/ExpCmdSN/MaxCmdSN for a response PDU (RFC 7143 11.x byte 24..35). */
void conn_fill_sn(struct iscsi_conn *conn, uint8_t *bhs, bool advance_stat_sn);
void conn_send_reject(struct iscsi_conn *conn, uint8_t reason, const uint8_t *bad_bhs);
void conn_send_async_logout(struct iscsi_conn *conn);
void conn_pdu_cache_trim(void);
extern TAILQ_HEAD(iscsi_conn_list, iscsi_conn) iscsi_conns;

/* --- session.c -------------------------------------------------------------- */
uint16_t session_login_complete(struct iscsi_conn *conn, struct login_state *ls, uint16_t *tsih);
void session_conn_closed(struct iscsi_session *sess, struct iscsi_conn *conn);
void session_logged_out(struct iscsi_session *sess);
void session_get(struct iscsi_session *sess);
void session_put(struct iscsi_session *sess);
/* CmdSN rules (RFC 7143 4.2.2.1): accept or ignore a request's CmdSN.
 * Returns false if the PDU must be silently ignored. */
bool session_check_cmd_sn(struct iscsi_session *sess, const uint8_t *bhs);
/* A task that consumed window space is finished: open one slot. */
void session_window_release(struct iscsi_session *sess);
extern const struct fabric_ops iscsi_fabric_ops;
extern TAILQ_HEAD(iscsi_session_list, iscsi_session) iscsi_sessions;

/* --- scsi_task.c -------------------------------------------------------------- */
void task_handle_scsi_cmd(struct iscsi_conn *conn, const struct pdu *pdu);
void task_handle_data_out(struct iscsi_conn *conn, const struct pdu *pdu);
void task_handle_tmf(struct iscsi_conn *conn, const struct pdu *pdu);
/* Where the data segment of an incoming Data-Out should land (zero copy). */
uint8_t *task_data_out_dest(struct iscsi_conn *conn, const uint8_t *bhs, uint32_t len);
void task_put(struct iscsi_task *task);
/* Connection going away: terminate its tasks. */
void task_abort_conn(struct iscsi_conn *conn);
void task_cmd_done(struct scsi_cmd *cmd);
void task_tmf_done(struct tmf_req *req);
void task_cache_trim(void);

/* --- discovery.c --------------------------------------------------------------- */
void discovery_handle_text(struct iscsi_conn *conn, const struct pdu *pdu);

#endif
