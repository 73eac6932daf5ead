/* SCSI commands over iSCSI (RFC 7143 sections 10.2-10.8, 11.3-11.8):
 * command PDUs, immediate/unsolicited/solicited Data-Out (the bursts
 * fetched by the transport's get_data: R2T over TCP), read data through
 * the transport's put_data (Data-In over TCP), SCSI Response with
 * residuals and sense, and task management requests. */
#include "iscsi.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/log.h"
#include "../../gateway/scsi/sense.h"

/* The largest EDTL we buffer for one command. Larger requests are refused
 * with CHECK CONDITION instead of letting one initiator claim memory. */
#define MAX_COMMAND_BYTES (64u << 20)
/* Buffers of WRITEs still waiting for their Data-Out, per connection: an
 * initiator could send WRITE commands and hold back the data. Beyond this
 * a new WRITE gets a buffer for its unsolicited data only, and its R2Ts
 * wait until earlier WRITEs have their data (or are aborted). */
#define WRITE_RECEIVE_BUDGET (32u << 20)

static const uint8_t iscsi_to_sam_attr[] = {
	[ISCSI_ATTR_UNTAGGED] = TASK_SIMPLE,
	[ISCSI_ATTR_SIMPLE] = TASK_SIMPLE,
	[ISCSI_ATTR_ORDERED] = TASK_ORDERED,
	[ISCSI_ATTR_HEAD_OF_QUEUE] = TASK_HEAD_OF_QUEUE,
	[ISCSI_ATTR_ACA] = TASK_ACA,
};

static struct iscsi_task *find_task(struct iscsi_conn *conn, uint32_t itt)
{
	struct iscsi_task *task;

	TAILQ_FOREACH(task, &conn->tasks, link)
		if (task->itt == itt)
			return task;
	return NULL;
}

static struct iscsi_task *task_new(struct iscsi_conn *conn, const uint8_t *bhs)
{
	struct iscsi_task *task = conn->transport->task_alloc(conn);

	if (!task)
		return NULL;
	task->conn = conn;
	task->sess = conn->sess;
	task->itt = bhs_itt(bhs);
	task->cmd_sn = bhs_cmdsn(bhs);
	task->immediate = bhs_immediate(bhs);
	task->holds_slot = !task->immediate;
	task->tx_refs = 1;   /* the task's own reference */
	task->ttt = ISCSI_RESERVED_TAG;
	conn_get(conn);
	session_get(conn->sess);
	TAILQ_INSERT_TAIL(&conn->tasks, task, link);
	conn->task_count++;
	return task;
}

/* A non-immediate command took one slot of the CmdSN window; completing
 * it opens the slot again (MaxCmdSN advances). */
static void release_slot(struct iscsi_task *task)
{
	if (task->holds_slot) {
		task->holds_slot = false;
		session_window_release(task->sess);
	}
}

void task_put(struct iscsi_task *task)
{
	struct iscsi_conn *conn = task->conn;

	if (--task->tx_refs)
		return;
	TAILQ_REMOVE(&conn->tasks, task, link);
	conn->task_count--;
	conn->read_inflight -= task->read_bytes;
	conn->write_receiving -= task->write_held;
	if (task->awaiting_budget)
		conn->writes_awaiting--;
	release_slot(task);
	scsi_cmd_free_buf(&task->cmd);
	session_put(task->sess);
	conn->transport->task_free(task);
	conn_put(conn);
}

/* --- responses ---------------------------------------------------------------- */

static void send_scsi_response(struct iscsi_task *task)
{
	struct iscsi_conn *conn = task->conn;
	struct scsi_cmd *cmd = &task->cmd;
	struct tx_pdu *pdu = conn_new_pdu(conn);
	uint8_t flags = ISCSI_FLAG_FINAL;

	if (!pdu) {
		task_put(task);
		return;
	}
	bhs_init(pdu->hdr, ISCSI_OP_SCSI_RSP);
	pdu->hdr[2] = ISCSI_RSP_COMPLETED;
	pdu->hdr[3] = cmd->status;
	put_be32(pdu->hdr + 16, task->itt);
	/* ExpDataSN: Data-In PDUs (reads) or R2Ts (writes) sent (11.4.6). */
	put_be32(pdu->hdr + 36, cmd->dir == SCSI_DIR_OUT ? task->r2t_sn : task->data_in_pdus);
	if (cmd->dir != SCSI_DIR_NONE || cmd->expected_len)
		task_set_residual(pdu->hdr, &flags, cmd->transfer_len, cmd->expected_len,
				  ISCSI_RSP_OVERFLOW, ISCSI_RSP_UNDERFLOW);
	pdu->hdr[1] = flags;
	if (cmd->sense_len) {
		/* 11.4.7: SenseLength (2 bytes) then the sense data. */
		pdu->owned = malloc(2u + cmd->sense_len);
		if (pdu->owned) {
			put_be16(pdu->owned, cmd->sense_len);
			memcpy(pdu->owned + 2, cmd->sense, cmd->sense_len);
			pdu->data = pdu->owned;
			pdu->data_len = 2u + cmd->sense_len;
		}
	}
	task->state = TASK_RESPONDING;
	release_slot(task);   /* the response then reports the open slot */
	conn_fill_sn(conn, pdu->hdr, true);
	conn_queue_pdu(conn, pdu);
	task_put(task);
}

/* Read data through the transport (Data-In over TCP), then the SCSI
 * Response unless the status went with the data. */
static void send_data_in(struct iscsi_task *task)
{
	struct scsi_cmd *cmd = &task->cmd;
	uint32_t total = MIN(cmd->data_in_len, cmd->expected_len);
	/* Status rides on the final Data-In only without sense (11.7.4). */
	bool status_in_data = cmd->sense_len == 0 &&
		(cmd->status == SAM_STAT_GOOD || cmd->status == SAM_STAT_CONDITION_MET);

	release_slot(task);
	if (task->conn->transport->put_data(task, total, status_in_data)) {
		task->state = TASK_RESPONDING;
		task_put(task);
		return;
	}
	send_scsi_response(task);
}

void task_cmd_done(struct scsi_cmd *cmd)
{
	struct iscsi_task *task = container_of(cmd, struct iscsi_task, cmd);
	struct iscsi_conn *conn = task->conn;

	/* Aborted tasks get no response (SAM-5 7.2 at ERL 0); neither do
	 * tasks whose connection is gone. */
	if (cmd->aborted || conn->state == CONN_CLOSED || task->aborted_locally) {
		task_put(task);
		return;
	}
	if (cmd->dir == SCSI_DIR_IN && cmd->data_in_len && cmd->expected_len)
		send_data_in(task);
	else
		send_scsi_response(task);
}

/* Refuse a command before it reaches the core (e.g. too large). */
static void task_fail(struct iscsi_task *task, uint8_t key, uint16_t asc)
{
	struct scsi_cmd *cmd = &task->cmd;

	cmd->status = SAM_STAT_CHECK_CONDITION;
	cmd->sense_len = (uint8_t)sense_build(cmd->sense, false, key, asc, false, 0);
	cmd->transfer_len = 0;
	send_scsi_response(task);
}

/* SAM-5 5.3.1: TASK SET FULL carries no sense data; the initiator retries
 * once some of its commands completed. */
static void task_refuse_full(struct iscsi_task *task)
{
	struct scsi_cmd *cmd = &task->cmd;

	log_debug("%s: ITT 0x%x: immediate command beyond a full window: TASK SET FULL",
		  task->conn->peer, task->itt);
	cmd->status = SAM_STAT_TASK_SET_FULL;
	cmd->sense_len = 0;
	cmd->transfer_len = 0;
	send_scsi_response(task);
}

/* Non-immediate commands are bounded by the CmdSN window (queue_depth),
 * immediate ones are not (RFC 7143 3.2.2.1): when the backstore stalls an
 * initiator could queue them without end. The target must take at least
 * one immediate command beyond a full window (4.2.2.1); more than that, on
 * a connection whose window is full, gets TASK SET FULL. */
static bool immediate_over_limit(const struct iscsi_conn *conn, const struct iscsi_task *task)
{
	return task->immediate && conn->task_count > conn->sess->queue_depth + 1;
}

/* --- submission ------------------------------------------------------------------ */

static bool older_task_receiving(struct iscsi_conn *conn, const struct iscsi_task *task)
{
	struct iscsi_task *t;

	TAILQ_FOREACH(t, &conn->tasks, link) {
		if (t == task)
			return false;
		if (t->state == TASK_RECEIVING && sn_lt(t->cmd_sn, task->cmd_sn))
			return true;
	}
	return false;
}

static void task_submit(struct iscsi_task *task)
{
	/* SIMPLE tasks may run in any order (SAM-5 8.6.2); an ORDERED one
	 * must not overtake an older command still receiving its data. */
	if (task->cmd.task_attr == TASK_ORDERED && older_task_receiving(task->conn, task)) {
		task->state = TASK_PENDING;
		return;
	}
	task->state = TASK_IN_CORE;
	if (task->cmd.dir == SCSI_DIR_IN || task->cmd.dir == SCSI_DIR_BIDI) {
		/* Counted from here until the last Data-In is sent
		 * (transport_tcp.c stops reading requests past a bound), not
		 * from its arrival: an ORDERED READ waiting above for an older
		 * WRITE's Data-Out would otherwise stop the reading of that
		 * data, and neither would end (fuzz_session found it). */
		task->read_bytes = (uint32_t)task->cmd.expected_len;
		task->conn->read_inflight += task->read_bytes;
	}
	scsi_cmd_submit(&task->cmd);
}

static void submit_pending(struct iscsi_conn *conn)
{
	struct iscsi_task *task;

	/* A submission may complete at once and, through the task set, free
	 * other tasks: rescan from the head after each one. Only ORDERED
	 * tasks ever wait here, so the list walk stays short. */
again:
	TAILQ_FOREACH(task, &conn->tasks, link) {
		if (task->state == TASK_PENDING && !older_task_receiving(conn, task)) {
			task_submit(task);
			goto again;
		}
	}
}

/* --- R2T (11.8) -------------------------------------------------------------------- */

/* The first WRITE always gets its buffer, so the budget never stops a
 * connection; later ones while the total stays within the budget. */
static bool write_budget_allows(const struct iscsi_conn *conn, uint32_t more)
{
	return conn->write_receiving == 0 || conn->write_receiving + more <= WRITE_RECEIVE_BUDGET;
}

/* Grow a receiving task's buffer to len bytes (keeping its contents). */
static int task_hold_write_buffer(struct iscsi_task *task, uint32_t len)
{
	if (len <= task->write_held)
		return 0;
	if (scsi_cmd_ensure_buf(&task->cmd, len) < 0)
		return -1;
	task->conn->write_receiving += len - task->write_held;
	task->write_held = len;
	return 0;
}

static void task_release_write_buffer(struct iscsi_task *task)
{
	task->conn->write_receiving -= task->write_held;
	task->write_held = 0;
}

/* Ask the transport for the next burst of Data-Out: what one R2T asks
 * for (TCP sends that R2T, iSER reads the burst by RDMA READ). */
static void solicit_data(struct iscsi_task *task)
{
	struct iscsi_conn *conn = task->conn;
	const struct iscsi_session_params *p = &task->sess->params;
	uint32_t len = MIN(p->max_burst_length, task->edtl - task->next_offset);

	task->ttt = conn->ttt_next++;
	if (task->ttt == ISCSI_RESERVED_TAG)
		task->ttt = conn->ttt_next++;
	task->seq_end = task->next_offset + len;
	task->exp_data_sn = 0;
	conn->transport->get_data(task, task->next_offset, len);
	task->r2t_sn++;
}

static void resume_waiting_writes(struct iscsi_conn *conn);

/* All Data-Out of the current sequence arrived: ask for more or run. The
 * first R2T of a WRITE whose buffer did not fit the budget waits. */
static void data_sequence_done(struct iscsi_task *task)
{
	struct iscsi_conn *conn = task->conn;

	if (task->received >= task->edtl) {
		task->ttt = ISCSI_RESERVED_TAG;
		task_release_write_buffer(task);   /* it counts as executing now */
		task_submit(task);   /* may complete and free task at once */
		submit_pending(conn);
		resume_waiting_writes(conn);
		return;
	}
	if (task->write_held < task->edtl) {
		if (!write_budget_allows(conn, task->edtl - task->write_held)) {
			task->awaiting_budget = true;
			conn->writes_awaiting++;
			return;
		}
		if (task_hold_write_buffer(task, task->edtl) < 0) {
			task_fail(task, SK_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
			return;
		}
	}
	solicit_data(task);
}

/* Budget came free: WRITEs waiting for it get their R2Ts, oldest first. */
static void resume_waiting_writes(struct iscsi_conn *conn)
{
	struct iscsi_task *task;

	/* Called for every WRITE that has its data: nothing to walk for
	 * unless some WRITE waits. */
	if (!conn->writes_awaiting || conn->state != CONN_FULL_FEATURE)
		return;
again:
	TAILQ_FOREACH(task, &conn->tasks, link) {
		if (!task->awaiting_budget)
			continue;
		if (!write_budget_allows(conn, task->edtl - task->write_held))
			return;
		task->awaiting_budget = false;
		conn->writes_awaiting--;
		data_sequence_done(task);   /* may fail and free the task */
		goto again;
	}
}

/* --- SCSI Command (11.3) ------------------------------------------------------------ */

void task_handle_scsi_cmd(struct iscsi_conn *conn, const struct pdu *pdu)
{
	const uint8_t *bhs = pdu->bhs;
	struct iscsi_session *sess = conn->sess;
	const struct iscsi_session_params *p = &sess->params;
	bool is_read = bhs[1] & ISCSI_CMD_READ, is_write = bhs[1] & ISCSI_CMD_WRITE;
	uint32_t edtl = bhs_edtl(bhs), unsolicited;
	struct iscsi_task *task;
	struct scsi_cmd *cmd;
	uint8_t attr = bhs[1] & ISCSI_CMD_ATTR_MASK;

	if (sess->type != SESSION_NORMAL) {
		/* 4.3: a discovery session carries Text, NOP and Logout only. */
		conn_send_reject(conn, ISCSI_REJECT_PROTOCOL_ERROR, bhs);
		return;
	}
	if (find_task(conn, bhs_itt(bhs)) || bhs_itt(bhs) == ISCSI_RESERVED_TAG) {
		conn_send_reject(conn, ISCSI_REJECT_TASK_IN_PROGRESS, bhs);
		return;
	}
	if (pdu->data_len && (!is_write || !p->immediate_data || pdu->data_len > edtl ||
			      pdu->data_len > p->first_burst_length)) {
		/* Immediate data only for writes, when negotiated, within
		 * FirstBurstLength and EDTL (10.7.4 / 13.15). */
		conn_send_reject(conn, ISCSI_REJECT_PROTOCOL_ERROR, bhs);
		return;
	}
	task = task_new(conn, bhs);
	if (!task) {
		conn_close(conn, "out of memory");
		return;
	}
	cmd = &task->cmd;
	cmd->nexus = &sess->nexus;
	cmd->lun = scsi_lun_decode(bhs_lun(bhs));
	memcpy(cmd->cdb, bhs_cdb(bhs), 16);
	cmd->cdb_len = 16;
	if (pdu->ahs_len >= 4 && pdu->ahs[2] == 1) {
		/* Extended CDB AHS (11.2.2.3): CDB bytes 16 and up. */
		uint32_t ext = MIN((uint32_t)get_be16(pdu->ahs) - 1, (uint32_t)SCSI_MAX_CDB - 16);
		memcpy(cmd->cdb + 16, pdu->ahs + 4, MIN(ext, pdu->ahs_len - 4));
		cmd->cdb_len = (uint8_t)(16 + ext);
	}
	cmd->task_attr = attr < ARRAY_SIZE(iscsi_to_sam_attr) ? iscsi_to_sam_attr[attr] : TASK_SIMPLE;
	cmd->tag = task->itt;
	cmd->expected_len = edtl;
	cmd->dir = is_read && is_write ? SCSI_DIR_BIDI : is_write ? SCSI_DIR_OUT :
		   is_read ? SCSI_DIR_IN : SCSI_DIR_NONE;
	cmd->fabric_priv = task;
	task->edtl = is_write ? edtl : 0;

	if (cmd->dir == SCSI_DIR_BIDI) {
		/* No bidirectional commands are supported (SPC-4 has none we
		 * implement): refuse without soliciting data. */
		task_fail(task, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	if (edtl > MAX_COMMAND_BYTES) {
		task_fail(task, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	if (immediate_over_limit(conn, task)) {
		task_refuse_full(task);
		return;
	}
	if (!is_write || edtl == 0) {
		task_submit(task);
		return;
	}
	/* The whole buffer if the budget allows, else room for the
	 * unsolicited data only (immediate data and unsolicited Data-Out,
	 * up to FirstBurstLength, 13.15): the rest waits for budget. */
	unsolicited = !bhs_final(bhs) && !p->initial_r2t ? MIN(p->first_burst_length, edtl) : pdu->data_len;
	if (task_hold_write_buffer(task, write_budget_allows(conn, edtl) ? edtl : unsolicited) < 0) {
		task_fail(task, SK_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
		return;
	}
	if (pdu->data_len && pdu->data != cmd->buf)
		memcpy(cmd->buf, pdu->data, pdu->data_len);
	task->received = pdu->data_len;
	cmd->data_out_len = edtl;
	task->next_offset = pdu->data_len;
	task->state = TASK_RECEIVING;
	/* Unsolicited Data-Out follows unless F is set or InitialR2T=Yes:
	 * up to FirstBurstLength in all, immediate data included (13.15). */
	if (!bhs_final(bhs) && !p->initial_r2t) {
		task->seq_end = MIN(p->first_burst_length, edtl);
		task->ttt = ISCSI_RESERVED_TAG;
		task->exp_data_sn = 0;
		if (task->next_offset < task->seq_end)
			return;
	}
	data_sequence_done(task);
}

/* --- Data-Out (11.7) ----------------------------------------------------------------- */

/* Validate a Data-Out header against the task's expectations (DataPDUInOrder
 * and DataSequenceInOrder are Yes: offsets must follow each other). */
static struct iscsi_task *data_out_task(struct iscsi_conn *conn, const uint8_t *bhs, uint32_t len,
					const char **why)
{
	struct iscsi_task *task = find_task(conn, bhs_itt(bhs));
	uint32_t offset = bhs_buffer_offset(bhs);

	*why = NULL;
	if (!task || task->state != TASK_RECEIVING)
		return NULL;
	if (bhs_ttt(bhs) != task->ttt)
		*why = "Target Transfer Tag does not match";
	else if (offset != task->next_offset)
		*why = "BufferOffset out of order";
	else if (len > task->seq_end - task->next_offset)
		*why = "more data than requested";
	return task;
}

uint8_t *task_data_out_dest(struct iscsi_conn *conn, const uint8_t *bhs, uint32_t len)
{
	const char *why;
	struct iscsi_task *task = data_out_task(conn, bhs, len, &why);

	if (!task || why)
		return NULL;
	return task->cmd.buf + task->next_offset;
}

void task_handle_data_out(struct iscsi_conn *conn, const struct pdu *pdu)
{
	const uint8_t *bhs = pdu->bhs;
	const char *why;
	struct iscsi_task *task = data_out_task(conn, bhs, pdu->data_len, &why);

	if (!task) {
		/* Data for a task that was aborted or already refused is
		 * dropped; data for a tag never seen is an error (11.17). */
		if (bhs_ttt(bhs) != ISCSI_RESERVED_TAG && !find_task(conn, bhs_itt(bhs)))
			conn_send_reject(conn, ISCSI_REJECT_INVALID_FIELD, bhs);
		return;
	}
	if (why) {
		log_warn("%s: Data-Out for ITT 0x%x rejected: %s", conn->peer, task->itt, why);
		conn_send_reject(conn, ISCSI_REJECT_PROTOCOL_ERROR, bhs);
		return;
	}
	if (bhs_datasn(bhs) != task->exp_data_sn) {
		/* 10.7.3 at ERL 0: a DataSN gap is a protocol error. */
		log_warn("%s: Data-Out for ITT 0x%x: DataSN %u, expected %u", conn->peer, task->itt,
			 bhs_datasn(bhs), task->exp_data_sn);
		conn_send_reject(conn, ISCSI_REJECT_PROTOCOL_ERROR, bhs);
		return;
	}
	if (pdu->data_len && pdu->data != task->cmd.buf + task->next_offset)
		memcpy(task->cmd.buf + task->next_offset, pdu->data, pdu->data_len);
	task->exp_data_sn++;
	if (bhs_final(bhs) && task->next_offset + pdu->data_len != task->seq_end) {
		/* F before the sequence is complete: the initiator sent less
		 * than it was asked for. */
		task->next_offset += pdu->data_len;
		task->received += pdu->data_len;
		conn_send_reject(conn, ISCSI_REJECT_PROTOCOL_ERROR, bhs);
		return;
	}
	task_data_out_placed(task, pdu->data_len);
}

void task_data_out_placed(struct iscsi_task *task, uint32_t len)
{
	task->next_offset += len;
	task->received += len;
	if (task->next_offset == task->seq_end)
		data_sequence_done(task);
}

/* --- connection loss ------------------------------------------------------------------- */

void task_abort_conn(struct iscsi_conn *conn)
{
	struct iscsi_task *task, *next;

	/* Tasks the core has are terminated by the nexus loss that follows
	 * (scsi_nexus_unregister); the others are ours to drop. */
	for (task = TAILQ_FIRST(&conn->tasks); task; task = next) {
		next = TAILQ_NEXT(task, link);
		if (task->state == TASK_RECEIVING || task->state == TASK_PENDING) {
			task->state = TASK_RESPONDING;
			task_put(task);
		}
	}
}

/* --- Task management (11.5-11.6) -------------------------------------------------------- */

struct iscsi_tmf {
	struct tmf_req req;
	struct iscsi_conn *conn;
	struct iscsi_session *sess;
	uint32_t itt;
	bool immediate;
};

static void send_tmf_response(struct iscsi_conn *conn, struct iscsi_session *sess, uint32_t itt,
			      bool immediate, uint8_t response, bool close_after)
{
	struct tx_pdu *pdu;

	if (!immediate)
		session_window_release(sess);
	if (conn->state != CONN_FULL_FEATURE)
		return;
	pdu = conn_new_pdu(conn);
	if (!pdu)
		return;
	bhs_init(pdu->hdr, ISCSI_OP_TMF_RSP);
	pdu->hdr[1] = ISCSI_FLAG_FINAL;
	pdu->hdr[2] = response;
	put_be32(pdu->hdr + 16, itt);
	conn_fill_sn(conn, pdu->hdr, true);
	if (close_after) {
		/* TARGET COLD RESET: respond, then close (RFC 7143 11.5.1). */
		pdu->close_after = true;
		conn->state = CONN_LOGGED_OUT;
	}
	conn_queue_pdu(conn, pdu);
}

void task_tmf_done(struct tmf_req *req)
{
	struct iscsi_tmf *tmf = container_of(req, struct iscsi_tmf, req);

	send_tmf_response(tmf->conn, tmf->sess, tmf->itt, tmf->immediate, req->response,
			  req->function == TMF_TARGET_COLD_RESET);
	session_put(tmf->sess);
	conn_put(tmf->conn);
	free(tmf);
}

/* Drop tasks that never reached the core and match the TMF's scope. */
static unsigned abort_local_tasks(struct iscsi_conn *conn, uint64_t lun, bool all_luns)
{
	struct iscsi_task *task, *next;
	unsigned n = 0;

	for (task = TAILQ_FIRST(&conn->tasks); task; task = next) {
		next = TAILQ_NEXT(task, link);
		if ((task->state == TASK_RECEIVING || task->state == TASK_PENDING) &&
		    (all_luns || task->cmd.lun == lun)) {
			task->state = TASK_RESPONDING;
			task->aborted_locally = true;
			task_put(task);
			n++;
		}
	}
	resume_waiting_writes(conn);   /* budget the aborted WRITEs held */
	return n;
}

void task_handle_tmf(struct iscsi_conn *conn, const struct pdu *pdu)
{
	const uint8_t *bhs = pdu->bhs;
	struct iscsi_session *sess = conn->sess;
	uint8_t function = bhs[1] & 0x7f;
	uint32_t ref_itt = get_be32(bhs + 20);
	uint32_t ref_cmd_sn = get_be32(bhs + 32);
	uint64_t lun = scsi_lun_decode(bhs_lun(bhs));
	bool immediate = bhs_immediate(bhs);
	struct iscsi_tmf *tmf;

	if (sess->type != SESSION_NORMAL) {
		conn_send_reject(conn, ISCSI_REJECT_PROTOCOL_ERROR, bhs);
		return;
	}
	switch (function) {
	case TMF_ABORT_TASK: {
		struct iscsi_task *task = find_task(conn, ref_itt);
		if (!task || task->state == TASK_RESPONDING) {
			/* 11.5.1 b/c: a task never received but inside the
			 * window counts as received and aborted; otherwise
			 * it does not exist. */
			bool in_window = !sn_lt(ref_cmd_sn, sess->exp_cmd_sn) &&
					 sn_le(ref_cmd_sn, sess->max_cmd_sn);
			send_tmf_response(conn, sess, bhs_itt(bhs), immediate,
					  !task && in_window ? TMF_RSP_COMPLETE : TMF_RSP_NO_TASK, false);
			return;
		}
		if (task->state != TASK_IN_CORE) {
			task->state = TASK_RESPONDING;
			task->aborted_locally = true;
			task_put(task);
			send_tmf_response(conn, sess, bhs_itt(bhs), immediate, TMF_RSP_COMPLETE, false);
			return;
		}
		lun = task->cmd.lun;
		break;
	}
	case TMF_ABORT_TASK_SET:
	case TMF_CLEAR_TASK_SET:
	case TMF_LOGICAL_UNIT_RESET:
		abort_local_tasks(conn, lun, false);
		break;
	case TMF_TARGET_WARM_RESET:
	case TMF_TARGET_COLD_RESET:
		abort_local_tasks(conn, 0, true);
		break;
	case TMF_TASK_REASSIGN:
		/* 11.5.1: at ErrorRecoveryLevel 0 allegiance cannot move. */
		send_tmf_response(conn, sess, bhs_itt(bhs), immediate, TMF_RSP_NO_REASSIGN, false);
		return;
	default:
		send_tmf_response(conn, sess, bhs_itt(bhs), immediate, TMF_RSP_NOT_SUPPORTED, false);
		return;
	}
	tmf = calloc(1, sizeof(*tmf));
	if (!tmf) {
		send_tmf_response(conn, sess, bhs_itt(bhs), immediate, TMF_RSP_REJECTED, false);
		return;
	}
	tmf->conn = conn;
	tmf->sess = sess;
	tmf->itt = bhs_itt(bhs);
	tmf->immediate = immediate;
	tmf->req.nexus = &sess->nexus;
	tmf->req.function = function;
	tmf->req.lun = lun;
	tmf->req.ref_tag = ref_itt;
	conn_get(conn);
	session_get(sess);
	scsi_tmf_submit(&tmf->req);
}
