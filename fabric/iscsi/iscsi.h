/* The iSCSI fabric's internal structures (RFC 7143): portals that accept
 * connections of a transport (transport.h: TCP today), connections that
 * carry PDUs, sessions (one I_T nexus each) and tasks. One connection per
 * session (MaxConnections=1) at ErrorRecoveryLevel 0. A connection logs in on the control thread and is
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
#include "transport.h"

struct iscsi_conn;
struct iscsi_session;
struct iscsi_task;

/* One configured portal's listener; the transport embeds it in its own
 * (TCP: the listening socket). */
struct iscsi_listener {
	const struct iscsi_transport *transport;
	char addr[64];
	uint16_t port;
	TAILQ_ENTRY(iscsi_listener) link;
};

/* An outgoing PDU: the BHS and an optional data segment that points into
 * a buffer owned by a task or by the PDU itself. The iSCSI layer fills
 * hdr's BHS, data, owned, task and close_after; the rest is the
 * transport's (TCP: header digest, padding and data digest, progress of a
 * partial write, its place in the send queue). */
struct tx_pdu {
	uint8_t hdr[ISCSI_BHS_LEN + ISCSI_DIGEST_LEN];
	const uint8_t *data;
	uint32_t data_len;
	uint8_t *owned;                        /* freed with the PDU */
	struct iscsi_task *task;               /* reference released when sent */
	bool close_after;                      /* close the connection once sent */
	/* transport */
	uint8_t trailer[3 + ISCSI_DIGEST_LEN];   /* padding + data digest */
	uint8_t hdr_len;                       /* BHS (+ digest) as queued */
	uint8_t trailer_len;
	uint32_t sent;                         /* bytes already written */
	TAILQ_ENTRY(tx_pdu) link;
};
TAILQ_HEAD(tx_pdu_list, tx_pdu);

enum conn_state {
	CONN_LOGIN,
	CONN_FULL_FEATURE,
	CONN_LOGGED_OUT,      /* logout response queued: close when sent */
	CONN_CLOSED,
};

/* A connection as the iSCSI layer sees it; the transport embeds it in its
 * own structure (TCP: socket, PDU reader, send queue). */
struct iscsi_conn {
	const struct iscsi_transport *transport;
	struct event_loop *loop;
	enum conn_state state;
	char peer[80];                 /* "addr:port" for logs */
	struct sockaddr_storage local_addr;   /* where the initiator reached us */
	struct login_state *login;
	struct iscsi_session *sess;
	uint16_t cid;
	uint32_t stat_sn;              /* next StatSN to send */
	uint32_t exp_stat_sn;          /* last ExpStatSN from the initiator */
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
	uint64_t read_inflight;        /* expected Data-In bytes of tasks not yet freed */
	uint64_t write_receiving;      /* buffer bytes of WRITEs still receiving Data-Out */
	unsigned writes_awaiting;      /* tasks with awaiting_budget set */
	uint64_t rx_pdus, tx_pdus, rx_bytes, tx_bytes;
	unsigned refs;                 /* tasks and PDUs that still point here */
	bool reject_logged;
	/* a Text response too long for one PDU (RFC 7143 11.11.1 C bit) */
	uint8_t *text_rsp;
	uint32_t text_rsp_len, text_rsp_sent, text_itt, text_ttt;
	struct ev_deferred free_deferred;
	struct ev_deferred drop_deferred;
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
	uint32_t read_bytes;           /* in conn->read_inflight */
	uint32_t write_held;           /* in conn->write_receiving */
	bool awaiting_budget;          /* R2T waits for conn->write_receiving to drop */
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
	struct tx_pdu *logout_rsp;     /* held until the nexus loss is in effect */
	TAILQ_ENTRY(iscsi_session) link;
};

/* --- portal.c ------------------------------------------------------------ */
int iscsi_fabric_start(struct gateway *gw, char *err, size_t errlen);
void iscsi_fabric_stop(struct gateway *gw);
/* Ask every initiator to log out (Async Message) and wait up to
 * timeout_ms for them; then close what is left. */
void iscsi_fabric_shutdown(struct gateway *gw, unsigned timeout_ms);
int iscsi_portals_changed(struct gateway *gw, char *err, size_t errlen);
/* Connections open now (every transport); control thread. */
unsigned iscsi_connection_count(void);
/* Whether a transport should take one more connection at all: false when
 * --max-connections and the few connections kept to refuse logins
 * politely are all in use (close the new one at once then). */
bool conn_admissible(void);
/* Free the calling thread's task and PDU caches (a worker thread ends). */
void iscsi_thread_trim(void);

/* --- conn.c: the iSCSI side of a connection --------------------------------- */
/* A transport accepted a connection (conn embedded in its own structure,
 * conn->peer and conn->local_addr filled): set up the login on loop.
 * Returns 0, or -1 when out of memory (the transport frees its part). */
int conn_init(struct iscsi_conn *conn, const struct iscsi_transport *t, struct event_loop *loop);
/* Control_Notify: the transport received one whole PDU (digests checked). */
void conn_receive_pdu(struct iscsi_conn *conn, const struct pdu *pdu);
/* Where the data segment of an incoming PDU whose BHS is given should
 * land (Data-Out: the command's buffer, no copy), or NULL. */
uint8_t *conn_rx_data_dest(struct iscsi_conn *conn, const uint8_t *bhs, uint32_t len);
void conn_close(struct iscsi_conn *conn, const char *why);
/* References (tasks, queued PDUs, deferred calls): inline, as the
 * transport takes and drops them per PDU. */
void conn_last_put(struct iscsi_conn *conn);
static inline void conn_get(struct iscsi_conn *conn)
{
	conn->refs++;
}
static inline void conn_put(struct iscsi_conn *conn)
{
	if (--conn->refs == 0)
		conn_last_put(conn);
}
/* Queue a PDU (hdr holds the BHS) through the transport's send_pdu. */
struct tx_pdu *conn_new_pdu(struct iscsi_conn *conn);
void conn_queue_pdu(struct iscsi_conn *conn, struct tx_pdu *pdu);
/* A PDU the transport has sent (or drops at close): its task reference
 * and owned data go. */
void release_tx_pdu(struct tx_pdu *pdu);
/* Free a PDU without touching its task (a connection being freed). */
void conn_pdu_free(struct tx_pdu *pdu);
/* StatSN/ExpCmdSN/MaxCmdSN for a response PDU (RFC 7143 11.x byte 24..35). */
void conn_fill_sn(struct iscsi_conn *conn, uint8_t *bhs, bool advance_stat_sn);
void conn_send_reject(struct iscsi_conn *conn, uint8_t reason, const uint8_t *bad_bhs);
/* A PDU the connection cannot get past (its boundaries are lost): Reject
 * it, then close once the Reject is out (or at once, with why). */
void conn_reject_and_close(struct iscsi_conn *conn, uint8_t reason, const uint8_t *bad_bhs,
			   const char *why);
void conn_send_async_logout(struct iscsi_conn *conn);
void conn_pdu_cache_trim(void);
extern TAILQ_HEAD(iscsi_conn_list, iscsi_conn) iscsi_conns;

/* --- session.c -------------------------------------------------------------- */
uint16_t session_login_complete(struct iscsi_conn *conn, struct login_state *ls, uint16_t *tsih);
void session_conn_closed(struct iscsi_session *sess, struct iscsi_conn *conn);
/* A successful logout: rsp (its Logout Response) is queued on conn once
 * the session's nexus loss is in effect (at once when it has no nexus). */
void session_logged_out(struct iscsi_session *sess, struct iscsi_conn *conn, struct tx_pdu *rsp);
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
/* Data_Completion_Notify: len more bytes of the task's Data-Out are in
 * cmd.buf at task->next_offset (TCP: a Data-Out PDU, checked by
 * task_handle_data_out; iSER: the RDMA READ of a whole get_data burst).
 * Once the burst is complete the command runs or the next one is asked
 * for. */
void task_data_out_placed(struct iscsi_task *task, uint32_t len);
static inline void task_get(struct iscsi_task *task)
{
	task->tx_refs++;
}
void task_put(struct iscsi_task *task);
/* Connection going away: terminate its tasks. */
void task_abort_conn(struct iscsi_conn *conn);
void task_cmd_done(struct scsi_cmd *cmd);
void task_tmf_done(struct tmf_req *req);
/* RFC 7143 11.4.5: residuals compare what the command wanted to move
 * with the expected data transfer length (SCSI Response; Data-In with S). */
static inline void task_set_residual(uint8_t *bhs, uint8_t *flags, uint32_t wanted,
				     uint32_t edtl, uint8_t overflow_flag, uint8_t underflow_flag)
{
	if (wanted > edtl) {
		*flags |= overflow_flag;
		put_be32(bhs + 44, wanted - edtl);
	} else if (wanted < edtl) {
		*flags |= underflow_flag;
		put_be32(bhs + 44, edtl - wanted);
	}
}

/* --- discovery.c --------------------------------------------------------------- */
void discovery_handle_text(struct iscsi_conn *conn, const struct pdu *pdu);

#endif
