/* The iSER datamover (RFC 7145 section 7; transport.h): every iSCSI
 * control-type PDU travels in a Send message behind the iSER header;
 * receive completions become conn_receive_pdu(); read data goes to the
 * initiator by RDMA WRITE, the SCSI Response's Send chained after it
 * (7.3.5); write data beyond the immediate data is fetched by RDMA READ
 * (7.3.6), never more outstanding than the initiator's responder
 * resources allow. Work requests queued during one batch of events are
 * posted as one chain; the completion channel is in the owning loop
 * (batch poll, re-arm, poll again).
 *
 * Two CQs: receives complete on one that is always armed (a new PDU
 * wakes the loop); the send queue's work requests complete on another
 * that is reaped whenever the loop is awake anyway (each wake-up, each
 * flush) and armed only while something waits for it: an RDMA READ (its
 * data), a PDU that closes the connection once sent, a full send queue,
 * a PDU waiting for a send buffer. A response's completion
 * then costs no wake-up of its own (design.md principle 2). */
#include "iser.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../gateway/log.h"
#include "../iscsi/task_cache.h"

#define CQ_BATCH        16
#define CQ_BUDGET       256     /* completions per wake-up before yielding */
#define TX_LOGIN        4       /* sends during login: one response at a time */
#define DRAIN_MS        2000    /* how long a close waits for flushed work */

static void cq_poll(struct iser_conn *ic);
static bool scq_reap(struct iser_conn *ic);
static void cq_on_event(struct event_loop *loop, uint32_t events, void *arg);

/* --- rings of registered message buffers ------------------------------------- */

static int ring_alloc(struct iser_conn *ic, struct iser_ring *r, unsigned count, uint32_t size,
		      enum iser_wr_kind kind)
{
	size_t bytes = (size_t)count * size;

	r->count = count;
	r->wrs = calloc(count, sizeof(*r->wrs));
	if (!r->wrs || posix_memalign((void **)&r->mem, 4096, bytes))
		return -1;
	r->mr = ibv_reg_mr(ic->dev->pd, r->mem, bytes, IBV_ACCESS_LOCAL_WRITE);
	if (!r->mr)
		return -1;
	for (unsigned i = 0; i < count; i++) {
		struct iser_wr *w = &r->wrs[i];
		w->kind = kind;
		w->buf = r->mem + (size_t)i * size;
		w->sge.addr = (uintptr_t)w->buf;
		w->sge.length = size;
		w->sge.lkey = r->mr->lkey;
		if (kind == ISER_WR_SEND)
			TAILQ_INSERT_TAIL(&ic->tx_free, w, link);
	}
	return 0;
}

static void ring_free(struct iser_ring *r)
{
	if (r->mr)
		ibv_dereg_mr(r->mr);
	free(r->mem);
	free(r->wrs);
	memset(r, 0, sizeof(*r));
}

static int post_recv(struct iser_conn *ic, struct iser_wr *w)
{
	struct ibv_recv_wr *bad;

	w->sge.length = ISER_RX_SIZE;
	memset(&w->wr.recv, 0, sizeof(w->wr.recv));
	w->wr.recv.wr_id = (uintptr_t)w;
	w->wr.recv.sg_list = &w->sge;
	w->wr.recv.num_sge = 1;
	if (ibv_post_recv(ic->qp, &w->wr.recv, &bad))
		return -1;
	w->posted = true;
	ic->rq_posted++;
	return 0;
}

static int post_ring(struct iser_conn *ic, struct iser_ring *r)
{
	for (unsigned i = 0; i < r->count; i++)
		if (post_recv(ic, &r->wrs[i]) < 0)
			return -1;
	return 0;
}

/* --- the send queue ------------------------------------------------------------ */

static void flush_deferred(void *arg);

static void schedule_flush(struct iser_conn *ic)
{
	if (!ic->flush_deferred.queued) {
		conn_get(&ic->conn);
		ev_defer(ic->conn.loop, &ic->flush_deferred, flush_deferred, ic);
	}
}

static void queue_wr(struct iser_conn *ic, struct iser_wr *w)
{
	TAILQ_INSERT_TAIL(&ic->pending, w, link);
	schedule_flush(ic);
}

/* Post what this batch queued, in order, as one chain: as many as the
 * send queue has room for, RDMA READs only up to the initiator's
 * responder resources (a READ waiting for that does not hold up the
 * Sends and WRITEs behind it: they do not depend on it). */
static void iser_flush(struct iser_conn *ic)
{
	struct iscsi_conn *conn = &ic->conn;
	struct ibv_send_wr *first = NULL, **tail = &first, *bad;
	struct iser_wr *w, *next;

	if (conn->state == CONN_CLOSED || conn->close_posted || !ic->qp)
		return;
	if (!scq_reap(ic))   /* room in the send queue, send buffers back */
		return;
	for (w = TAILQ_FIRST(&ic->pending); w && ic->sq_posted < ic->sq_size; w = next) {
		next = TAILQ_NEXT(w, link);
		if (w->kind == ISER_WR_RDMA_READ) {
			if (ic->reads_posted >= ic->max_reads)
				continue;
			ic->reads_posted++;
		}
		TAILQ_REMOVE(&ic->pending, w, link);
		w->wr.send.next = NULL;
		*tail = &w->wr.send;
		tail = &w->wr.send.next;
		w->posted = true;
		ic->sq_posted++;
	}
	if (first && ibv_post_send(ic->qp, first, &bad)) {
		conn_close(conn, "cannot post RDMA work requests");
		return;
	}
	scq_reap(ic);   /* arms the send CQ if a READ or a closing PDU went out */
}

static void flush_deferred(void *arg)
{
	struct iser_conn *ic = arg;

	iser_flush(ic);
	conn_put(&ic->conn);
}

static void prep_send(struct iser_wr *w, uint32_t len)
{
	w->sge.length = len;
	memset(&w->wr.send, 0, sizeof(w->wr.send));
	w->wr.send.wr_id = (uintptr_t)w;
	w->wr.send.sg_list = &w->sge;
	w->wr.send.num_sge = 1;
	w->wr.send.opcode = IBV_WR_SEND;
	/* Every request is signalled: its completion releases what it
	 * holds (a PDU, a task reference). */
	w->wr.send.send_flags = IBV_SEND_SIGNALED;
}

/* Copy a PDU behind an iSER header into send buffer w and queue it. */
static void send_in(struct iser_conn *ic, struct iser_wr *w, struct tx_pdu *pdu)
{
	iser_hdr_put_control(w->buf);
	memcpy(w->buf + ISER_HDR_LEN, pdu->hdr, ISCSI_BHS_LEN);
	if (pdu->data_len)
		memcpy(w->buf + ISER_HDR_LEN + ISCSI_BHS_LEN, pdu->data, pdu->data_len);
	w->pdu = pdu;
	if (pdu->close_after)
		ic->close_wr_queued = true;
	prep_send(w, ISER_HDR_LEN + ISCSI_BHS_LEN + pdu->data_len);
	ic->conn.tx_bytes += w->sge.length;
	queue_wr(ic, w);
}

/* Send_Control (RFC 7145 7.3.1): the iSER header, the BHS and the data
 * segment, copied into a registered send buffer (control PDUs are small:
 * InitiatorRecvDataSegmentLength is answered at most ISER_SEND_DSL).
 * With every send buffer in use (responses whose completions are not
 * polled yet) the PDU waits, in order, for the next one to free. */
static void iser_send_pdu(struct iscsi_conn *conn, struct tx_pdu *pdu)
{
	struct iser_conn *ic = iser_of(conn);
	struct iser_wr *w = TAILQ_FIRST(&ic->tx_free);

	if (pdu->data_len > ISER_SEND_DSL) {
		release_tx_pdu(pdu);
		conn_close(conn, "PDU too long for iSER");
		return;
	}
	if (!w || !TAILQ_EMPTY(&ic->tx_wait)) {
		TAILQ_INSERT_TAIL(&ic->tx_wait, pdu, link);
		return;
	}
	TAILQ_REMOVE(&ic->tx_free, w, link);
	send_in(ic, w, pdu);
}

/* 9.4: answer an iWARP-style Hello (InfiniBand and RoCE initiators use
 * the CM private data instead and send none). */
static void send_hello_reply(struct iser_conn *ic, bool reject)
{
	struct iser_wr *w = TAILQ_FIRST(&ic->tx_free);

	if (!w)
		return;
	TAILQ_REMOVE(&ic->tx_free, w, link);
	iser_hello_reply_put(w->buf, reject, ISER_VERSION, ISER_VERSION, (uint16_t)ic->max_reads);
	w->pdu = NULL;
	prep_send(w, ISER_HELLO_LEN);
	queue_wr(ic, w);
}

/* --- a task's data ---------------------------------------------------------------- */

static inline struct iser_task *iser_task_of(struct iscsi_task *task)
{
	return container_of(task, struct iser_task, task);
}

/* The local key of the task's cmd.buf: the pool's, or (a buffer the
 * SCSI core allocated itself, e.g. larger than the biggest pool class)
 * one registered for this command alone. */
static int task_lkey(struct iser_conn *ic, struct iser_task *it, uint32_t *lkey)
{
	struct scsi_cmd *cmd = &it->task.cmd;

	if (it->buf && cmd->buf == it->buf->addr) {
		*lkey = it->buf->lkey;
		return 0;
	}
	if (!it->fallback_mr || it->fallback_mr->addr != cmd->buf) {
		if (it->fallback_mr)
			ibv_dereg_mr(it->fallback_mr);
		if (!ic->warned_fallback) {
			log_info("%s: iSER: a %u-byte command buffer registered for the command "
				 "alone (outside the pool)", ic->conn.peer, cmd->buf_cap);
			ic->warned_fallback = true;
		}
		ic->stats.fallback_regs++;
		it->fallback_mr = ibv_reg_mr(ic->dev->pd, cmd->buf, cmd->buf_cap, IBV_ACCESS_LOCAL_WRITE);
		if (!it->fallback_mr)
			return -1;
	}
	*lkey = it->fallback_mr->lkey;
	return 0;
}

static struct iser_wr *rdma_wr(struct iser_conn *ic, struct iser_task *it, enum iser_wr_kind kind,
			       uint32_t offset, uint32_t len)
{
	struct iser_wr *w = TAILQ_FIRST(&ic->rdma_free);
	uint32_t lkey;

	if (!w) {
		conn_close(&ic->conn, "too many RDMA operations outstanding");
		return NULL;
	}
	if (task_lkey(ic, it, &lkey) < 0) {
		conn_close(&ic->conn, "cannot register a command buffer");
		return NULL;
	}
	TAILQ_REMOVE(&ic->rdma_free, w, link);
	w->kind = kind;
	w->task = &it->task;
	w->len = len;
	task_get(&it->task);   /* cmd.buf is in use until the completion */
	w->sge.addr = (uintptr_t)(it->task.cmd.buf + offset);
	w->sge.length = len;
	w->sge.lkey = lkey;
	memset(&w->wr.send, 0, sizeof(w->wr.send));
	w->wr.send.wr_id = (uintptr_t)w;
	w->wr.send.sg_list = &w->sge;
	w->wr.send.num_sge = 1;
	w->wr.send.send_flags = IBV_SEND_SIGNALED;
	return w;
}

/* Put_Data (7.3.5): RDMA WRITE of the read data into the initiator's
 * buffer at its Read STag and VA (used as given: not assumed zero-based).
 * The status never rides on the data: the SCSI Response the iSCSI layer
 * queues next is posted after this WRITE in the same chain. */
static bool iser_put_data(struct iscsi_task *task, uint32_t len, bool with_status)
{
	struct iser_task *it = iser_task_of(task);
	struct iser_conn *ic = iser_of(task->conn);
	struct iser_wr *w;

	(void)with_status;
	if (!len)
		return false;
	if (!it->hdr.read_valid) {
		/* 9.2: a read command must advertise its buffer (RSV). */
		conn_close(task->conn, "read command without a Read STag");
		return false;
	}
	w = rdma_wr(ic, it, ISER_WR_RDMA_WRITE, 0, len);
	if (!w)
		return false;
	w->wr.send.opcode = IBV_WR_RDMA_WRITE;
	w->wr.send.wr.rdma.remote_addr = it->hdr.read_va;
	w->wr.send.wr.rdma.rkey = it->hdr.read_stag;
	ic->stats.rdma_writes++;
	task->conn->tx_bytes += len;
	queue_wr(ic, w);
	return false;
}

/* Get_Data (7.3.6): RDMA READ of the burst [offset, offset + len) from
 * the initiator's Write STag. The Write VA stands for the first byte
 * not sent as immediate or unsolicited data (the offset of the first
 * burst asked for); task_data_out_placed() runs on completion. */
static void iser_get_data(struct iscsi_task *task, uint32_t offset, uint32_t len)
{
	struct iser_task *it = iser_task_of(task);
	struct iser_conn *ic = iser_of(task->conn);
	struct iser_wr *w;

	if (!it->hdr.write_valid) {
		conn_close(task->conn, "write command without a Write STag");
		return;
	}
	if (!it->solicited_base_set) {
		it->solicited_base = offset;
		it->solicited_base_set = true;
	}
	w = rdma_wr(ic, it, ISER_WR_RDMA_READ, offset, len);
	if (!w)
		return;
	w->wr.send.opcode = IBV_WR_RDMA_READ;
	w->wr.send.wr.rdma.remote_addr = it->hdr.write_va + (offset - it->solicited_base);
	w->wr.send.wr.rdma.rkey = it->hdr.write_stag;
	ic->stats.rdma_reads++;
	queue_wr(ic, w);
}

/* --- tasks ------------------------------------------------------------------------- */

static __thread struct task_cache iser_tasks;     /* task_cache.h */

/* Allocate_Task_Resources: the command's iSER header (its STags and
 * VAs) and a registered buffer from the worker's pool lent as cmd.buf,
 * sized by the EDTL, so the core reads and writes registered memory. */
static struct iscsi_task *iser_task_alloc(struct iscsi_conn *conn)
{
	struct iser_conn *ic = iser_of(conn);
	struct iser_task *it = task_cache_get(&iser_tasks, sizeof(*it));

	if (!it)
		return NULL;
	if (ic->rx_hdr)
		it->hdr = *ic->rx_hdr;
	it->pool = ic->pool;
	if (ic->rx_bhs && ic->pool && (it->hdr.read_valid || it->hdr.write_valid)) {
		uint32_t edtl = bhs_edtl(ic->rx_bhs);
		if (edtl) {
			it->buf = iser_buf_get(ic->pool, edtl);
			if (it->buf) {
				it->task.cmd.buf = it->buf->addr;
				it->task.cmd.buf_cap = it->buf->cap;
				it->task.cmd.buf_fabric = true;
			}
		}
	}
	return &it->task;
}

static void iser_task_free(struct iscsi_task *task)
{
	struct iser_task *it = iser_task_of(task);

	if (it->fallback_mr)
		ibv_dereg_mr(it->fallback_mr);
	iser_buf_put(it->pool, it->buf);
	task_cache_put(&iser_tasks, it);
}

static void iser_thread_trim(void)
{
	task_cache_trim(&iser_tasks);
}

/* --- completions ---------------------------------------------------------------------- */

/* A received message: the iSER header, then one whole iSCSI PDU
 * (iser_rx_decode: pure, tests/fuzz/fuzz_iser.c). */
static void handle_recv(struct iser_conn *ic, struct iser_wr *w, uint32_t len)
{
	struct iscsi_conn *conn = &ic->conn;
	struct iser_hdr h;
	struct pdu *pdu = &ic->rx_pdu;
	const char *why;
	uint32_t max_dsl = conn->state == CONN_LOGIN || !conn->sess ? ISER_RECV_DSL :
			   conn->sess->params.target_max_recv_dsl;

	conn->rx_bytes += len;
	switch (iser_rx_decode(w->buf, len, !ic->seen_login, max_dsl, &h, pdu, &why)) {
	case ISER_RX_HELLO:
		send_hello_reply(ic, false);
		if (post_recv(ic, w) < 0)
			conn_close(conn, "cannot post a receive");
		return;
	case ISER_RX_HELLO_REJECT:
		send_hello_reply(ic, true);
		conn_close(conn, why);
		return;
	case ISER_RX_BAD:
		conn_close(conn, why);
		return;
	case ISER_RX_TOO_LONG:
		if (conn->state == CONN_LOGIN)
			conn_close(conn, "login PDU longer than 8192 bytes of data");
		else
			conn_reject_and_close(conn, ISCSI_REJECT_PROTOCOL_ERROR, pdu->bhs, why);
		return;
	case ISER_RX_PDU:
		break;
	}
	ic->seen_login = true;
	ic->rx_hdr = &h;
	ic->rx_bhs = pdu->bhs;
	conn_receive_pdu(conn, pdu);
	ic->rx_hdr = NULL;
	ic->rx_bhs = NULL;
	if (conn->state == CONN_CLOSED || conn->close_posted)
		return;
	if (post_recv(ic, w) < 0)
		conn_close(conn, "cannot post a receive");
}

/* Release what a finished (or flushed) work request held. */
static void wr_release(struct iser_conn *ic, struct iser_wr *w)
{
	switch (w->kind) {
	case ISER_WR_RECV:
		break;
	case ISER_WR_SEND:
		if (w->pdu)
			release_tx_pdu(w->pdu);
		w->pdu = NULL;
		TAILQ_INSERT_TAIL(&ic->tx_free, w, link);
		break;
	case ISER_WR_RDMA_WRITE:
	case ISER_WR_RDMA_READ:
		task_put(w->task);
		w->task = NULL;
		TAILQ_INSERT_TAIL(&ic->rdma_free, w, link);
		break;
	}
}

static void handle_wc(struct iser_conn *ic, const struct ibv_wc *wc, bool closing)
{
	struct iscsi_conn *conn = &ic->conn;
	struct iser_wr *w = (struct iser_wr *)(uintptr_t)wc->wr_id;
	bool ok = wc->status == IBV_WC_SUCCESS && !closing && conn->state != CONN_CLOSED &&
		  !conn->close_posted;

	w->posted = false;
	if (w->kind == ISER_WR_RECV) {
		ic->rq_posted--;
	} else {
		ic->sq_posted--;
		if (w->kind == ISER_WR_RDMA_READ)
			ic->reads_posted--;
		if (!TAILQ_EMPTY(&ic->pending) && !closing)
			schedule_flush(ic);
	}
	if (!ok) {
		wr_release(ic, w);
		if (wc->status != IBV_WC_SUCCESS && !closing) {
			if (wc->status != IBV_WC_WR_FLUSH_ERR)
				log_warn("%s: iSER work request failed: %s", conn->peer,
					 ibv_wc_status_str(wc->status));
			conn_close(conn, ibv_wc_status_str(wc->status));
		}
		return;
	}
	switch (w->kind) {
	case ISER_WR_RECV:
		handle_recv(ic, w, wc->byte_len);
		break;
	case ISER_WR_SEND: {
		bool close_after = w->pdu && w->pdu->close_after;
		struct tx_pdu *next;
		wr_release(ic, w);
		if (close_after) {
			conn_close(conn, NULL);
			break;
		}
		while ((next = TAILQ_FIRST(&ic->tx_wait)) && (w = TAILQ_FIRST(&ic->tx_free))) {
			TAILQ_REMOVE(&ic->tx_wait, next, link);
			TAILQ_REMOVE(&ic->tx_free, w, link);
			send_in(ic, w, next);
		}
		break;
	}
	case ISER_WR_RDMA_WRITE:
		wr_release(ic, w);
		break;
	case ISER_WR_RDMA_READ: {
		struct iscsi_task *task = w->task;
		/* Data_Completion_Notify, unless the task was aborted while
		 * its READ was out (it then only drops our reference). */
		if (task->state == TASK_RECEIVING && !task->aborted_locally) {
			conn->rx_bytes += w->len;
			task_data_out_placed(task, w->len);
		}
		wr_release(ic, w);
		break;
	}
	}
}

static void poll_deferred(void *arg)
{
	struct iser_conn *ic = arg;

	cq_poll(ic);
	conn_put(&ic->conn);
}

/* Poll in batches; when the CQ is empty, re-arm and poll once more (a
 * completion between the last poll and the arming raises no event). */
static void cq_poll(struct iser_conn *ic)
{
	struct iscsi_conn *conn = &ic->conn;
	struct ibv_wc wc[CQ_BATCH];
	bool armed = false;
	int budget = CQ_BUDGET;

	conn_get(conn);
	while (conn->state != CONN_CLOSED && !conn->close_posted && ic->cq) {
		int n;

		if (conn->loop != event_loop_current())
			break;   /* handed to a worker by the login just handled */
		if (budget <= 0) {
			if (!ic->poll_deferred.queued) {
				conn_get(conn);
				ev_defer(conn->loop, &ic->poll_deferred, poll_deferred, ic);
			}
			break;
		}
		if (!scq_reap(ic))
			break;
		n = ibv_poll_cq(ic->cq, CQ_BATCH, wc);
		if (n < 0) {
			conn_close(conn, "cannot poll the completion queue");
			break;
		}
		if (n == 0) {
			if (armed)
				break;
			ibv_req_notify_cq(ic->cq, 0);
			armed = true;
			continue;
		}
		armed = false;
		budget -= n;
		for (int i = 0; i < n; i++) {
			handle_wc(ic, &wc[i], false);
			/* Closed at once (control thread): the close released
			 * the rest of this batch with everything still posted. */
			if (conn->state == CONN_CLOSED)
				goto out;
		}
	}
out:
	conn_put(conn);
}

/* Does anything wait for a send-queue completion? Then the send CQ must
 * raise an event rather than wait for the next wake-up. */
static bool scq_needed(const struct iser_conn *ic)
{
	/* (work merely queued in this batch is posted by the flush that
	 * follows; only a full send queue makes it wait for completions) */
	return ic->reads_posted || ic->close_wr_queued || ic->sq_posted >= ic->sq_size ||
	       !TAILQ_EMPTY(&ic->tx_wait);
}

/* Reap the send CQ; arm it (and look once more) when something waits
 * for it. Returns false when the connection is closing. */
static bool scq_reap(struct iser_conn *ic)
{
	struct iscsi_conn *conn = &ic->conn;
	struct ibv_wc wc[CQ_BATCH];

	while (ic->scq) {
		int n = ibv_poll_cq(ic->scq, CQ_BATCH, wc);

		if (n < 0) {
			conn_close(conn, "cannot poll the send completion queue");
			return false;
		}
		for (int i = 0; i < n; i++) {
			handle_wc(ic, &wc[i], false);
			if (conn->state == CONN_CLOSED)
				return false;   /* the close released the rest */
		}
		if (conn->close_posted)
			return false;
		if (n > 0)
			continue;
		if (ic->scq_armed || !scq_needed(ic))
			return true;
		ibv_req_notify_cq(ic->scq, 0);
		ic->scq_armed = true;   /* and poll once more */
	}
	return false;
}

static void cq_on_event(struct event_loop *loop, uint32_t events, void *arg)
{
	struct iser_conn *ic = arg;
	struct ibv_cq *cq;
	void *ctx;

	(void)loop;
	(void)events;
	if (ibv_get_cq_event(ic->chan, &cq, &ctx) == 0) {
		if (cq == ic->scq)
			ic->scq_armed = false;
		ibv_ack_cq_events(cq, 1);
	}
	cq_poll(ic);
}

/* --- connection lifecycle ----------------------------------------------------------- */

/* Free the verbs objects and message rings (control thread). Work
 * requests still posted when the QP is gone are released here. */
static void teardown(struct iser_conn *ic)
{
	struct iser_ring *rings[] = { &ic->rx_login, &ic->rx_full, &ic->tx_login, &ic->tx_full };
	struct iser_wr *w;
	struct tx_pdu *pdu;

	if (ic->qp) {
		rdma_destroy_qp(ic->cm_id);
		ic->qp = NULL;
	}
	for (size_t r = 0; r < ARRAY_SIZE(rings); r++)
		for (unsigned i = 0; i < rings[r]->count; i++)
			if (rings[r]->wrs[i].posted) {
				rings[r]->wrs[i].posted = false;
				if (rings[r]->wrs[i].kind == ISER_WR_SEND)
					wr_release(ic, &rings[r]->wrs[i]);
			}
	for (unsigned i = 0; i < ic->rdma_count; i++)
		if (ic->rdma[i].posted) {
			ic->rdma[i].posted = false;
			wr_release(ic, &ic->rdma[i]);
		}
	while ((w = TAILQ_FIRST(&ic->pending))) {
		TAILQ_REMOVE(&ic->pending, w, link);
		wr_release(ic, w);
	}
	while ((pdu = TAILQ_FIRST(&ic->tx_wait))) {
		TAILQ_REMOVE(&ic->tx_wait, pdu, link);
		release_tx_pdu(pdu);
	}
	ic->sq_posted = ic->rq_posted = ic->reads_posted = 0;
	if (ic->cq) {
		ibv_destroy_cq(ic->cq);
		ic->cq = NULL;
	}
	if (ic->scq) {
		ibv_destroy_cq(ic->scq);
		ic->scq = NULL;
	}
	if (ic->chan) {
		ibv_destroy_comp_channel(ic->chan);
		ic->chan = NULL;
	}
	for (size_t r = 0; r < ARRAY_SIZE(rings); r++)
		ring_free(rings[r]);
	TAILQ_INIT(&ic->tx_free);
}

struct iser_conn *iser_conn_create(struct event_loop *loop, struct rdma_cm_id *id,
				   struct iser_dev *dev, const char *peer, uint8_t ord,
				   char *err, size_t errlen)
{
	struct iser_conn *ic = calloc(1, sizeof(*ic));
	const struct ibv_device_attr *a = &dev->attr;
	struct ibv_qp_init_attr qa;
	unsigned rq, sq, cqe;
	struct sockaddr *local;

	if (!ic) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ic->cm_id = id;
	ic->dev = dev;
	TAILQ_INIT(&ic->tx_free);
	TAILQ_INIT(&ic->rdma_free);
	TAILQ_INIT(&ic->pending);
	TAILQ_INIT(&ic->tx_wait);
	str_copy(ic->conn.peer, peer, sizeof(ic->conn.peer));
	local = rdma_get_local_addr(id);
	if (local)
		memcpy(&ic->conn.local_addr, local, local->sa_family == AF_INET6 ?
		       sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
	/* We read Data-Out with RDMA READ: as many outstanding as the
	 * initiator has responder resources and our device allows. */
	ic->max_reads = MIN((unsigned)ord, (unsigned)a->max_qp_init_rd_atom);
	if (ic->max_reads == 0)
		ic->max_reads = 1;
	/* Receive queue: the login receives, then (full_feature) the CmdSN
	 * window and the unsolicited PDUs. Send queue: a response and an
	 * RDMA operation per command, plus control PDUs. */
	rq = MIN(ISER_LOGIN_RX + ISER_MAX_QUEUE + ISER_UNSOLICITED_RX, (unsigned)a->max_qp_wr);
	sq = MIN(2 * (ISER_MAX_QUEUE + ISER_UNSOLICITED_RX) + 16, (unsigned)a->max_qp_wr);
	cqe = MIN(MAX(rq, sq), (unsigned)a->max_cqe);
	ic->chan = ibv_create_comp_channel(id->verbs);
	if (!ic->chan)
		goto fail;
	fcntl(ic->chan->fd, F_SETFL, fcntl(ic->chan->fd, F_GETFL) | O_NONBLOCK);
	ic->cq = ibv_create_cq(id->verbs, (int)cqe, ic, ic->chan, 0);
	ic->scq = ibv_create_cq(id->verbs, (int)cqe, ic, ic->chan, 0);
	if (!ic->cq || !ic->scq || ibv_req_notify_cq(ic->cq, 0))
		goto fail;
	memset(&qa, 0, sizeof(qa));
	qa.send_cq = ic->scq;
	qa.recv_cq = ic->cq;
	qa.qp_type = IBV_QPT_RC;
	qa.cap.max_send_wr = sq;
	qa.cap.max_recv_wr = rq;
	qa.cap.max_send_sge = 1;
	qa.cap.max_recv_sge = 1;
	if (rdma_create_qp(id, dev->pd, &qa))
		goto fail;
	ic->qp = id->qp;
	ic->sq_size = MIN(sq, qa.cap.max_send_wr);
	ic->rdma_count = ic->sq_size;
	ic->rdma = calloc(ic->rdma_count, sizeof(*ic->rdma));
	if (!ic->rdma)
		goto fail;
	for (unsigned i = 0; i < ic->rdma_count; i++)
		TAILQ_INSERT_TAIL(&ic->rdma_free, &ic->rdma[i], link);
	if (ring_alloc(ic, &ic->rx_login, ISER_LOGIN_RX, ISER_RX_SIZE, ISER_WR_RECV) < 0 ||
	    ring_alloc(ic, &ic->tx_login, TX_LOGIN, ISER_TX_SIZE, ISER_WR_SEND) < 0 ||
	    post_ring(ic, &ic->rx_login) < 0)
		goto fail;
	if (ev_add(loop, &ic->cq_src, ic->chan->fd, EPOLLIN, cq_on_event, ic) < 0)
		goto fail;
	ic->cq_src_added = true;
	id->context = ic;
	if (conn_init(&ic->conn, &iser_transport, loop) < 0) {
		ev_remove(loop, &ic->cq_src);
		id->context = NULL;
		goto fail;
	}
	return ic;
fail:
	snprintf(err, errlen, "cannot set up the queue pair (%s)", strerror(errno));
	teardown(ic);
	free(ic->rdma);
	free(ic);
	return NULL;
}

/* The CQ's completion channel follows the connection to its worker; a
 * poll there picks up what arrived while it moved. */
static void iser_conn_move(struct iscsi_conn *conn, struct event_loop *from, struct event_loop *to)
{
	struct iser_conn *ic = iser_of(conn);

	ev_defer_move(from, to, &ic->flush_deferred);
	ev_defer_move(from, to, &ic->poll_deferred);
	if (ic->cq_src_added) {
		ev_remove(from, &ic->cq_src);
		if (ev_add(to, &ic->cq_src, ic->chan->fd, EPOLLIN, cq_on_event, ic) < 0) {
			ic->cq_src_added = false;
			conn_close(conn, "cannot hand the connection to its worker");
			return;
		}
	}
	if (!ic->poll_deferred.queued) {
		conn_get(conn);
		ev_defer(to, &ic->poll_deferred, poll_deferred, ic);
	}
}

/* Enable_Datamover (RFC 7145 5.1, 7.1): before the final Login Response
 * can reach the initiator (it is still queued), post the receives of the
 * full feature phase: the CmdSN window plus the unsolicited PDUs; and
 * take data buffers from the session's worker pool. */
static void iser_full_feature(struct iscsi_conn *conn)
{
	struct iser_conn *ic = iser_of(conn);
	struct iscsi_session *sess = conn->sess;
	unsigned qd = MIN(sess->queue_depth, ISER_MAX_QUEUE);

	if (!ic->rdma_extensions && sess->type == SESSION_NORMAL)
		log_warn("%s: iSER login without RDMAExtensions=Yes (RFC 7145 6.3)", conn->peer);
	if (sess->type == SESSION_NORMAL)
		ic->pool = iser_pool_for(ic->dev, sess->nexus.slot);
	if (ring_alloc(ic, &ic->rx_full, qd + ISER_UNSOLICITED_RX, ISER_RX_SIZE, ISER_WR_RECV) < 0 ||
	    ring_alloc(ic, &ic->tx_full, qd + ISER_UNSOLICITED_RX + TX_LOGIN, ISER_TX_SIZE,
		       ISER_WR_SEND) < 0 ||
	    post_ring(ic, &ic->rx_full) < 0)
		conn_close(conn, "cannot set up the full feature phase receives");
}

static void iser_quiesce(struct iscsi_conn *conn)
{
	struct iser_conn *ic = iser_of(conn);

	if (ic->cq_src_added) {
		ev_remove(conn->loop, &ic->cq_src);
		ic->cq_src_added = false;
	}
}

/* Connection_Terminate: disconnect, move the QP to the error state, let
 * its work requests flush (each releases what it held), then free the
 * verbs objects, the id and our hold on the CM channel. Control thread,
 * world stopped. */
static void iser_conn_close(struct iscsi_conn *conn)
{
	struct iser_conn *ic = iser_of(conn);
	struct ibv_qp_attr attr = { .qp_state = IBV_QPS_ERR };
	uint64_t deadline = now_ms() + DRAIN_MS;

	iser_quiesce(conn);
	if (!ic->cm_id)
		return;
	rdma_disconnect(ic->cm_id);
	if (ic->qp) {
		ibv_modify_qp(ic->qp, &attr, IBV_QP_STATE);
		while ((ic->sq_posted || ic->rq_posted) && now_ms() < deadline) {
			struct ibv_wc wc[CQ_BATCH];
			int n = ibv_poll_cq(ic->cq, CQ_BATCH, wc);
			if (n < 0)
				break;
			if (n == 0)
				n = ibv_poll_cq(ic->scq, CQ_BATCH, wc);
			if (n < 0)
				break;
			if (n == 0) {
				struct timespec ts = { 0, 1000000 };
				nanosleep(&ts, NULL);   /* the provider flushes asynchronously */
			}
			for (int i = 0; i < n; i++)
				handle_wc(ic, &wc[i], true);
		}
	}
	teardown(ic);
	ic->cm_id->context = NULL;
	rdma_destroy_id(ic->cm_id);
	ic->cm_id = NULL;
	iser_cm_release();
	log_debug("%s: iSER: %llu RDMA READs, %llu RDMA WRITEs, %llu buffers registered per "
		  "command", conn->peer, (unsigned long long)ic->stats.rdma_reads,
		  (unsigned long long)ic->stats.rdma_writes,
		  (unsigned long long)ic->stats.fallback_regs);
}

static void iser_conn_free(struct iscsi_conn *conn)
{
	struct iser_conn *ic = iser_of(conn);

	if (ic->cm_id) {
		/* never closed (cannot happen: conn_close precedes the last put) */
		teardown(ic);
		ic->cm_id->context = NULL;
		rdma_destroy_id(ic->cm_id);
		iser_cm_release();
	}
	free(ic->rdma);
	iser_dev_put(ic->dev);
	free(ic);
}

const struct iscsi_transport iser_transport = {
	.name = "iser",
	.kind = PORTAL_ISER,
	.listen = iser_listen,
	.unlisten = iser_unlisten,
	.conn_move = iser_conn_move,
	.full_feature = iser_full_feature,
	.quiesce = iser_quiesce,
	.conn_close = iser_conn_close,
	.conn_free = iser_conn_free,
	.send_pdu = iser_send_pdu,
	.put_data = iser_put_data,
	.get_data = iser_get_data,
	.task_alloc = iser_task_alloc,
	.task_free = iser_task_free,
	.thread_trim = iser_thread_trim,
	.login_key = iser_login_key,
	.login_declare = iser_login_declare,
};
