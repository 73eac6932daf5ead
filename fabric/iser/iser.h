/* iSER (RFC 7145): iSCSI over RDMA, the second transport of
 * fabric/iscsi/transport.h. Files by concern:
 *   iser_proto.c  the iSER header, Hello/HelloReply, CM private data
 *   iser_cm.c     librdmacm: listeners, connect requests (PD, CQ, QP,
 *                 accept), disconnects; its event channel in the control
 *                 thread's loop
 *   iser_conn.c   the transport ops: receive completions become
 *                 conn_receive_pdu(), sends, RDMA WRITE for Data-In,
 *                 RDMA READ for Data-Out, the CQ in the owning loop
 *   iser_pool.c   registered memory: one protection domain per device,
 *                 data buffers registered once per (device, worker slot)
 *   iser_login.c  the RFC 7145 section 6 keys (login_key, login_declare)
 * docs/iser.md has the design. */
#ifndef SANGW_ISER_H
#define SANGW_ISER_H

#include <infiniband/verbs.h>
#include <pthread.h>
#include <rdma/rdma_cma.h>

#include "../../gateway/workers.h"
#include "../iscsi/iscsi.h"
#include "iser_proto.h"

/* What one receive buffer holds: iSER header, BHS, the largest AHS and
 * the largest data segment we declare (TargetRecvDataSegmentLength; the
 * login phase's 8192, RFC 7143 13.12, is the same size). */
#define ISER_RECV_DSL       8192u
#define ISER_RX_SIZE        (ISER_HDR_LEN + ISCSI_BHS_LEN + ISCSI_MAX_AHS_LEN + ISER_RECV_DSL)
/* What we send in one control-type PDU at most (InitiatorRecvDataSegmentLength
 * is answered no larger): login responses, Text, NOP-In echo, sense. */
#define ISER_SEND_DSL       8192u
#define ISER_TX_SIZE        (ISER_HDR_LEN + ISCSI_BHS_LEN + ISER_SEND_DSL)
/* Receives posted during login: the initiator has one Login Request
 * outstanding at a time (RFC 7143 6.1), plus a Hello. */
#define ISER_LOGIN_RX       4u
/* Receives beyond the CmdSN window: immediate PDUs (NOP-Out ping answers,
 * TMFs, Logout) that the window does not bound. */
#define ISER_UNSOLICITED_RX 16u
/* The deepest CmdSN window a connection gets receive buffers for. */
#define ISER_MAX_QUEUE      512u

/* --- iser_pool.c ---------------------------------------------------------- */

/* A registered data buffer (cmd.buf of an iSER task). */
struct iser_buf {
	struct iser_buf *next;
	uint8_t *addr;
	uint32_t cap;
	uint32_t lkey;
	uint8_t cls;
};

struct iser_pool;

/* One per RDMA device (ibv_context): its protection domain and the data
 * buffer pools of each worker slot. */
struct iser_dev {
	struct ibv_context *verbs;
	struct ibv_pd *pd;
	struct ibv_device_attr attr;
	struct iser_pool *pools[WORKER_SLOTS];
	unsigned refs;                 /* listeners' and connections' */
	struct iser_dev *next;
};

struct iser_dev *iser_dev_get(struct ibv_context *verbs, char *err, size_t errlen);
void iser_dev_put(struct iser_dev *dev);
/* The data pool of a worker slot (control thread, world stopped). */
struct iser_pool *iser_pool_for(struct iser_dev *dev, unsigned slot);
/* A registered buffer of at least len bytes, or NULL (larger than the
 * biggest class or the pool at its limit). Any thread. */
struct iser_buf *iser_buf_get(struct iser_pool *pool, uint32_t len);
void iser_buf_put(struct iser_pool *pool, struct iser_buf *buf);

/* --- connections ------------------------------------------------------------ */

enum iser_wr_kind {
	ISER_WR_RECV,
	ISER_WR_SEND,
	ISER_WR_RDMA_WRITE,
	ISER_WR_RDMA_READ,
};

/* The context of one work request (its wr_id). */
struct iser_wr {
	enum iser_wr_kind kind;
	bool posted;
	uint8_t *buf;                  /* RECV/SEND: the registered message buffer */
	struct tx_pdu *pdu;            /* SEND: the PDU it carries, or NULL (HelloReply) */
	struct iscsi_task *task;       /* RDMA: the task whose cmd.buf it moves */
	uint32_t len;
	struct ibv_sge sge;
	union {
		struct ibv_send_wr send;
		struct ibv_recv_wr recv;
	} wr;
	TAILQ_ENTRY(iser_wr) link;     /* free list or pending queue */
};
TAILQ_HEAD(iser_wr_list, iser_wr);

/* A set of registered message buffers with their contexts. */
struct iser_ring {
	uint8_t *mem;
	struct ibv_mr *mr;
	struct iser_wr *wrs;
	unsigned count;
};

struct iser_conn {
	struct iscsi_conn conn;
	struct rdma_cm_id *cm_id;
	struct iser_dev *dev;
	struct iser_pool *pool;        /* data buffers of the session's worker */
	struct ibv_comp_channel *chan;
	struct ibv_cq *cq;             /* receives: armed, wakes the loop */
	struct ibv_cq *scq;            /* sends, WRITEs, READs: reaped when awake */
	bool scq_armed;
	bool close_wr_queued;          /* a PDU that closes once sent is queued */
	struct ibv_qp *qp;
	struct ev_source cq_src;
	bool cq_src_added;
	struct iser_ring rx_login, rx_full, tx_login, tx_full;
	struct iser_wr *rdma;          /* RDMA READ/WRITE contexts */
	unsigned rdma_count;
	struct iser_wr_list tx_free, rdma_free;
	struct iser_wr_list pending;   /* built during a batch, posted at its end */
	struct tx_pdu_list tx_wait;    /* PDUs waiting for a send buffer, in order */
	unsigned sq_size, sq_posted;   /* send queue work requests outstanding */
	unsigned rq_posted;
	unsigned max_reads, reads_posted;   /* RDMA READs: the initiator's ORD */
	struct ev_deferred flush_deferred;
	struct ev_deferred poll_deferred;
	/* the iSER header of the PDU being delivered (task_alloc reads it) */
	const struct iser_hdr *rx_hdr;
	const uint8_t *rx_bhs;
	struct pdu rx_pdu;             /* scratch for conn_receive_pdu() */
	bool rdma_extensions;          /* RDMAExtensions=Yes negotiated */
	bool seen_login;               /* a Login Request arrived (Hello is too late) */
	bool warned_fallback;
	uint32_t max_unexpected;       /* the initiator's MaxOutstandingUnexpectedPDUs */
	struct iser_conn_stats {
		uint64_t rdma_reads, rdma_writes, fallback_regs;
	} stats;
};

static inline struct iser_conn *iser_of(struct iscsi_conn *conn)
{
	return container_of(conn, struct iser_conn, conn);
}

/* An iSCSI task with the initiator's buffers from its command's iSER
 * header and the registered buffer lent as its cmd.buf. */
struct iser_task {
	struct iscsi_task task;
	struct iser_hdr hdr;
	struct iser_pool *pool;
	struct iser_buf *buf;          /* lent as cmd.buf, or NULL */
	struct ibv_mr *fallback_mr;    /* cmd.buf not from the pool: registered here */
	uint32_t solicited_base;       /* buffer offset the Write VA stands for */
	bool solicited_base_set;
};

/* iser_cm.c */
struct iscsi_listener *iser_listen(struct event_loop *loop, const char *addr, uint16_t port,
				   char *err, size_t errlen);
void iser_unlisten(struct event_loop *loop, struct iscsi_listener *l);
/* A connection's id gets its events on the CM channel: hold it. */
void iser_cm_hold(void);
void iser_cm_release(void);
/* iser_conn.c: set up a connection for a connect request (control
 * thread): CQ, QP, login receives. Returns NULL with err set. */
struct iser_conn *iser_conn_create(struct event_loop *loop, struct rdma_cm_id *id,
				   struct iser_dev *dev, const char *peer, uint8_t ord,
				   char *err, size_t errlen);
/* iser_login.c */
int iser_login_key(struct iscsi_conn *conn, struct iscsi_session_params *params,
		   const char *key, const char *value, struct text_kv_list *rsp, uint16_t *status);
bool iser_login_declare(struct iscsi_conn *conn, const struct iscsi_session_params *params,
			const struct target_params *offer, struct text_kv_list *rsp,
			uint32_t *recv_dsl);

extern const struct iscsi_transport iser_transport;

#endif
