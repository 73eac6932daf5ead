/* FCP (FCP-4) over a VN2VN port: FCP_CMND to struct scsi_cmd, FCP_XFER_RDY
 * and FCP_DATA for writes, FCP_DATA split to the peer's frame size for
 * reads, FCP_RSP with sense and residuals, task management flags and
 * ABTS; the I_T nexus of each PRLI image pair and the fabric_ops the core
 * calls. */
#include "fcoe.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/log.h"
#include "../../gateway/scsi/sense.h"
#include "../../gateway/util.h"

/* The largest FCP_DL we buffer for one command (as over iSCSI). */
#define FCP_MAX_COMMAND_BYTES (64u << 20)
/* FC-FS-4 E_D_TOV: the longest gap between two frames of a sequence. */
#define FCP_E_D_TOV_MS        2000
/* Buffers of writes sent FCP_XFER_RDY and not yet given all their data,
 * per remote port (as over iSCSI, fabric/iscsi/scsi_task.c): without a
 * bound an initiator could send 2,048 write commands of 64 MiB and hold
 * the data back. Beyond it a write waits, without FCP_XFER_RDY (FCP-4
 * 9.3 leaves its timing to the target), until earlier writes have their
 * data or end. */
#define FCP_WRITE_RECEIVE_BUDGET (32u << 20)

static void exch_free(struct fcoe_exch *ex);
static void start_waiting_writes(struct fcoe_rport *rp);

/* --- the I_T nexus of an image pair ------------------------------------------------ */

static struct target *port_target(struct fcoe_port *port)
{
	if (port->target_iqn[0])
		return gw_find_target(port->gw, port->target_iqn);
	return TAILQ_FIRST(&port->gw->targets);
}

int fcp_nexus_up(struct fcoe_rport *rp, char *why, size_t whylen)
{
	struct fcoe_port *port = rp->port;
	struct gateway *gw = port->gw;
	struct it_nexus *nx = &rp->nexus;
	struct target *t = port_target(port);
	char name[32];
	struct acl *acl;

	if (rp->nexus_registered)
		return 0;
	if (!t) {
		snprintf(why, whylen, "no target %s", port->target_iqn[0] ? port->target_iqn : "configured");
		return -1;
	}
	fc_wwn_name(rp->wwpn, name, sizeof(name));
	if (!target_allows(t, name, &acl)) {
		snprintf(why, whylen, "%s is not in the ACLs of %s", name, t->iqn);
		return -1;
	}
	memset(nx, 0, sizeof(*nx));
	nx->id = ((uint64_t)gw->node_id << 40) | ++gw->next_nexus_seq;
	str_copy(nx->initiator_name, name, sizeof(nx->initiator_name));
	/* SPC-4 7.6.4.2 / 7.5.4.2: FC ports are named by their WWPN. */
	str_copy(nx->initiator_port, name, sizeof(nx->initiator_port));
	snprintf(nx->target_port, sizeof(nx->target_port), "naa.%016llx", (unsigned long long)port->wwpn);
	nx->rel_tgt_port_id = port->rel_port_id;
	nx->tpg_id = (uint16_t)gw->node_id;
	snprintf(nx->portal, sizeof(nx->portal), "fcoe:%s", port->ifname);
	nx->target = t;
	nx->acl = acl;
	nx->fabric = &fcoe_fabric_ops;
	nx->fabric_priv = rp;
	TAILQ_INIT(&nx->uas);
	/* Like an iSCSI session, the nexus goes to the worker with the
	 * fewest sessions; the fanout program then sends its FCP frames
	 * there (fcoe.h). Once picked, a remote port keeps its worker. */
	if (!rp->slot_picked) {
		rp->slot = port->nslots > 1 ? workers_pick() : 0;
		rp->slot_picked = port->nslots > 1;
		if (rp->slot >= port->nslots) {
			workers_release(rp->slot);
			rp->slot = 0;
			rp->slot_picked = false;
		}
	}
	nx->slot = rp->slot;
	TAILQ_INSERT_TAIL(&gw->nexuses, nx, link);
	rp->nexus_registered = true;
	fcoe_rport_get(rp);   /* the nexus: aborted commands may finish later */
	scsi_nexus_register(nx);
	fcoe_port_steer(port);
	return 0;
}

void fcp_drop_local(struct fcoe_rport *rp, uint64_t lun, bool all_luns)
{
	/* Waiting writes first: the budget the receiving ones free then
	 * goes only to writes that stay. */
	for (int pass = 0; pass < 2; pass++) {
		enum exch_state state = pass ? EXCH_RECEIVING : EXCH_WAITING;

		for (unsigned i = 0; i < FCOE_EXCH_MAX; i++) {
			struct fcoe_exch *ex = rp->exch[i];

			if (ex && ex->state == state && (all_luns || ex->cmd.lun == lun))
				exch_free(ex);
		}
	}
}

void fcp_nexus_down(struct fcoe_rport *rp)
{
	fcp_nexus_down_then(rp, NULL, NULL);
}

void fcp_nexus_down_then(struct fcoe_rport *rp, scsi_nexus_released_fn released, void *ctx)
{
	if (!rp->nexus_registered) {
		if (released)
			released(ctx, 0);
		return;
	}
	rp->nexus_registered = false;
	fcp_drop_local(rp, 0, true);
	TAILQ_REMOVE(&rp->port->gw->nexuses, &rp->nexus, link);
	scsi_nexus_unregister_then(&rp->nexus, released, ctx);
	fcoe_port_steer(rp->port);
	fcoe_rport_put(rp);
}

/* --- exchanges ------------------------------------------------------------------- */

/* RX_IDs are per remote port (an exchange is named by both ports and
 * both IDs, FC-FS-4 9.8), so the port's thread alone hands them out. */
static struct fcoe_exch *exch_new(struct fcoe_rport *rp, uint16_t ox_id)
{
	struct fcoe_exch *ex;

	for (unsigned n = 0; n < FCOE_EXCH_MAX; n++) {
		uint16_t id = (uint16_t)((rp->next_rx_id + n) % FCOE_EXCH_MAX);

		if (rp->exch[id])
			continue;
		ex = calloc(1, sizeof(*ex));
		if (!ex)
			return NULL;
		ex->rp = rp;
		ex->ox_id = ox_id;
		ex->rx_id = id;
		rp->exch[id] = ex;
		rp->next_rx_id = (uint16_t)((id + 1) % FCOE_EXCH_MAX);
		fcoe_rport_get(rp);
		return ex;
	}
	return NULL;   /* every RX_ID in use */
}

static void exch_free(struct fcoe_exch *ex)
{
	struct fcoe_rport *rp = ex->rp;
	bool was_receiving = ex->state == EXCH_RECEIVING;

	if (was_receiving)
		rp->write_receiving -= ex->edtl;
	else if (ex->state == EXCH_WAITING)
		rp->writes_waiting--;
	if (ex->data_timer.armed)
		ev_timer_cancel(fcoe_rport_loop(rp), &ex->data_timer);
	if (rp->exch[ex->rx_id] == ex)
		rp->exch[ex->rx_id] = NULL;
	scsi_cmd_free_buf(&ex->cmd);
	free(ex);
	if (was_receiving)
		start_waiting_writes(rp);   /* the exchange's reference still holds rp */
	fcoe_rport_put(rp);
}

static struct fcoe_exch *exch_by_ox(struct fcoe_rport *rp, uint16_t ox_id)
{
	for (unsigned i = 0; i < FCOE_EXCH_MAX; i++) {
		struct fcoe_exch *ex = rp->exch[i];

		if (ex && ex->ox_id == ox_id && ex->state != EXCH_DONE)
			return ex;
	}
	return NULL;
}

static void exch_hdr(struct fcoe_exch *ex, uint8_t r_ctl, uint32_t f_ctl, struct fc_hdr *h)
{
	memset(h, 0, sizeof(*h));
	h->r_ctl = r_ctl;
	h->d_id = ex->rp->port_id;
	h->s_id = ex->rp->port->port_id;
	h->type = FC_TYPE_FCP;
	h->f_ctl = FC_FC_EX_CTX | f_ctl;
	h->ox_id = ex->ox_id;
	h->rx_id = ex->rx_id;
}

/* --- responses -------------------------------------------------------------------- */

/* FCP-4 9.5: status, residuals, sense or response info. */
static void send_rsp(struct fcoe_exch *ex, uint32_t moved, int rsp_code)
{
	struct scsi_cmd *cmd = &ex->cmd;
	uint8_t rsp[FCP_RSP_LEN + 8 + SCSI_SENSE_MAX];
	size_t len = FCP_RSP_LEN;
	struct fc_hdr h;
	uint8_t flags = 0;

	memset(rsp, 0, sizeof(rsp));
	if (rsp_code >= 0) {
		/* Task management: FCP_RSP_INFO, 8 bytes (Linux takes 4 or 8). */
		flags |= FCP_RSP_LEN_VAL;
		put_be32(rsp + 20, 8);
		rsp[FCP_RSP_LEN + 3] = (uint8_t)rsp_code;
		len += 8;
	} else {
		rsp[11] = cmd->status;
		if (cmd->dir != SCSI_DIR_NONE || ex->edtl) {
			/* FCP-4 9.5.8: compared with FCP_DL. What was moved
			 * short of FCP_DL is under; what the command wanted
			 * beyond it, over. */
			if (cmd->transfer_len > ex->edtl) {
				flags |= FCP_RESID_OVER;
				put_be32(rsp + 12, cmd->transfer_len - ex->edtl);
			} else if (moved < ex->edtl) {
				flags |= FCP_RESID_UNDER;
				put_be32(rsp + 12, ex->edtl - moved);
			}
		}
		if (cmd->sense_len) {
			flags |= FCP_SNS_LEN_VAL;
			put_be32(rsp + 16, cmd->sense_len);
			memcpy(rsp + FCP_RSP_LEN, cmd->sense, cmd->sense_len);
			len += cmd->sense_len;
		}
	}
	rsp[10] = flags;
	exch_hdr(ex, FC_RCTL_DD_CMD_STATUS, FC_FC_LAST_SEQ | FC_FC_END_SEQ, &h);
	h.seq_id = fcoe_next_seq_id(ex->rp);
	fcoe_send_fc(ex->rp, FC_SOF_I3, FC_EOF_T, &h, rsp, len);
}

/* FCP-4 9.4: read data as one sequence of frames no larger than the
 * peer takes, relative offsets in the parameter field. */
static uint32_t send_data_in(struct fcoe_exch *ex)
{
	struct scsi_cmd *cmd = &ex->cmd;
	uint32_t total = MIN(cmd->data_in_len, ex->edtl), off = 0;
	uint32_t chunk = MIN(ex->rp->max_payload, ex->rp->port->max_payload) & ~3u;
	uint8_t seq_id = fcoe_next_seq_id(ex->rp);
	uint16_t cnt = 0;

	while (off < total) {
		uint32_t n = MIN(chunk, total - off);
		bool last = off + n == total;
		struct fc_hdr h;

		exch_hdr(ex, FC_RCTL_DD_SOL_DATA, FC_FC_REL_OFF | (last ? FC_FC_END_SEQ : 0), &h);
		h.seq_id = seq_id;
		h.seq_cnt = cnt++;
		h.param = off;
		if (fcoe_send_fc(ex->rp, off ? FC_SOF_N3 : FC_SOF_I3, last ? FC_EOF_T : FC_EOF_N, &h,
				 cmd->buf + off, n) < 0)
			break;
		off += n;
	}
	return off;
}

static void fcp_cmd_done(struct scsi_cmd *cmd)
{
	struct fcoe_exch *ex = container_of(cmd, struct fcoe_exch, cmd);
	uint32_t moved = 0;

	ex->state = EXCH_DONE;
	/* Aborted commands get no response (SAM-5 7.2); nor do those of a
	 * port that logged out. */
	if (cmd->aborted || ex->aborted_locally || !ex->rp->prli || ex->rp->removed) {
		exch_free(ex);
		return;
	}
	if (cmd->dir == SCSI_DIR_IN && cmd->data_in_len && ex->edtl)
		moved = send_data_in(ex);
	else if (cmd->dir == SCSI_DIR_OUT)
		moved = ex->received;
	send_rsp(ex, moved, -1);
	exch_free(ex);
}

/* Refuse a command before the core sees it. */
static void exch_fail(struct fcoe_exch *ex, uint8_t key, uint16_t asc)
{
	struct scsi_cmd *cmd = &ex->cmd;

	cmd->status = SAM_STAT_CHECK_CONDITION;
	cmd->sense_len = (uint8_t)sense_build(cmd->sense, false, key, asc, false, 0);
	cmd->transfer_len = 0;
	send_rsp(ex, 0, -1);
	exch_free(ex);
}

/* FCP-4 12.3 (no sequence-level recovery): a write whose data has a
 * gap or stopped ends at once with CHECK CONDITION, ABORTED COMMAND,
 * DATA PHASE ERROR, which initiators retry; the rest of its data is
 * dropped with the exchange. Waiting would cost the initiator's SCSI
 * timeout and an ABTS. */
static void write_data_lost(struct fcoe_exch *ex, const char *why)
{
	log_info("fcoe %s: write OX_ID 0x%x from %06x: %s after %u of %u bytes; ABORTED COMMAND",
		 ex->rp->port->ifname, ex->ox_id, ex->rp->port_id, why, ex->received, ex->edtl);
	fcoe_count_drop(ex->rp->port);
	exch_fail(ex, SK_ABORTED_COMMAND, ASC_DATA_PHASE_ERROR);
}

static void data_timeout(struct event_loop *loop, void *arg)
{
	struct fcoe_exch *ex = arg;

	(void)loop;
	if (ex->state == EXCH_RECEIVING)
		write_data_lost(ex, "no data for E_D_TOV");
}

/* --- task management ------------------------------------------------------------------ */

static uint8_t tmf_rsp_code(uint8_t response)
{
	switch (response) {
	case TMF_RSP_COMPLETE:
	case TMF_RSP_NO_TASK:
		return FCP_TMF_CMPL;
	case TMF_RSP_NO_LUN:
		return FCP_TMF_INVALID_LUN;
	case TMF_RSP_NOT_SUPPORTED:
		return FCP_TMF_REJECTED;
	default:
		return FCP_TMF_FAILED;
	}
}

static void fcp_tmf_done(struct tmf_req *req)
{
	struct fcoe_tmf *tmf = container_of(req, struct fcoe_tmf, req);
	struct fcoe_rport *rp = tmf->rp;

	if (!rp->removed && rp->plogi) {
		if (tmf->abts) {
			uint8_t acc[12];
			struct fc_hdr abts;

			memset(&abts, 0, sizeof(abts));
			abts.s_id = rp->port_id;
			abts.ox_id = tmf->ox_id;
			abts.rx_id = tmf->rx_id;
			memset(acc, 0, sizeof(acc));
			put_be16(acc + 4, tmf->ox_id);
			put_be16(acc + 6, tmf->rx_id);
			put_be16(acc + 10, 0xffff);
			fc_send_reply(rp, &abts, FC_RCTL_BA_ACC, FC_TYPE_BLS, acc, sizeof(acc));
		} else {
			struct fcoe_exch ex;

			/* The TMF's own exchange ends with an FCP_RSP. */
			memset(&ex, 0, sizeof(ex));
			ex.rp = rp;
			ex.ox_id = tmf->ox_id;
			ex.rx_id = tmf->rx_id;
			send_rsp(&ex, 0, tmf_rsp_code(req->response));
		}
	}
	fcoe_rport_put(rp);
	free(tmf);
}

static void submit_tmf(struct fcoe_rport *rp, enum tmf_function fn, uint64_t lun, uint64_t ref_tag,
		       uint16_t ox_id, uint16_t rx_id, bool abts)
{
	struct fcoe_tmf *tmf = calloc(1, sizeof(*tmf));

	if (!tmf)
		return;   /* the initiator times out and escalates */
	tmf->rp = rp;
	tmf->ox_id = ox_id;
	tmf->rx_id = rx_id;
	tmf->abts = abts;
	tmf->req.nexus = &rp->nexus;
	tmf->req.function = fn;
	tmf->req.lun = lun;
	tmf->req.ref_tag = ref_tag;
	fcoe_rport_get(rp);
	scsi_tmf_submit(&tmf->req);
}

bool fcp_abort_exchange(struct fcoe_rport *rp, const struct fc_hdr *abts)
{
	struct fcoe_exch *ex = exch_by_ox(rp, abts->ox_id);

	if (!ex || !rp->nexus_registered)
		return false;
	if (ex->state == EXCH_RECEIVING || ex->state == EXCH_WAITING) {
		/* Not in the core yet: just forget it. */
		exch_free(ex);
		return false;
	}
	submit_tmf(rp, TMF_ABORT_TASK, ex->cmd.lun, ex->cmd.tag, abts->ox_id, abts->rx_id, true);
	return true;
}

/* --- received FCP information units ------------------------------------------------------- */

/* SAM-5 4.7 LUN: peripheral (bus 0) and flat addressing of one level. */
static uint64_t fcp_lun_decode(const uint8_t *p)
{
	uint64_t field = get_be64(p);
	uint8_t method = (uint8_t)(field >> 62);

	if (field & 0x0000ffffffffffffULL)
		return UINT64_MAX;
	if (method == 0)
		return (field >> 56) & 0x3f ? UINT64_MAX : (field >> 48) & 0xff;
	if (method == 1)
		return (field >> 48) & 0x3fff;
	return UINT64_MAX;
}

static const uint8_t fcp_to_sam_attr[8] = {
	[FCP_PTA_SIMPLE] = TASK_SIMPLE,
	[FCP_PTA_HEADQ] = TASK_HEAD_OF_QUEUE,
	[FCP_PTA_ORDERED] = TASK_ORDERED,
	[FCP_PTA_ACA] = TASK_ACA,
};

static void send_xfer_rdy(struct fcoe_exch *ex)
{
	uint8_t xr[FCP_XFER_RDY_LEN];
	struct fc_hdr h;

	/* FCP-4 9.3: the whole FCP_DL in one burst; the sequence initiative
	 * goes to the initiator for the data. */
	memset(xr, 0, sizeof(xr));
	put_be32(xr, 0);
	put_be32(xr + 4, ex->edtl);
	exch_hdr(ex, FC_RCTL_DD_DATA_DESC, FC_FC_END_SEQ | FC_FC_SEQ_INIT, &h);
	h.seq_id = fcoe_next_seq_id(ex->rp);
	fcoe_send_fc(ex->rp, FC_SOF_I3, FC_EOF_T, &h, xr, sizeof(xr));
}

/* The first write always gets its buffer; later ones while the total
 * stays within the budget. */
static bool write_budget_allows(const struct fcoe_rport *rp, uint32_t more)
{
	return rp->write_receiving == 0 || rp->write_receiving + more <= FCP_WRITE_RECEIVE_BUDGET;
}

/* A write's buffer, its FCP_XFER_RDY and the E_D_TOV timer for its data. */
static void start_receiving(struct fcoe_exch *ex)
{
	if (scsi_cmd_ensure_buf(&ex->cmd, ex->edtl) < 0) {
		ex->state = EXCH_DONE;
		exch_fail(ex, SK_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
		return;
	}
	ex->state = EXCH_RECEIVING;
	ex->rp->write_receiving += ex->edtl;
	send_xfer_rdy(ex);
	ev_timer_arm(fcoe_rport_loop(ex->rp), &ex->data_timer, FCP_E_D_TOV_MS);
}

static void recv_cmnd(struct fcoe_port *port, struct fcoe_rport *rp, const struct fcoe_rx *rx)
{
	const uint8_t *p = rx->payload;
	uint32_t add_cdb, need, edtl;
	struct fcoe_exch *ex;
	struct scsi_cmd *cmd;
	uint8_t tmf, dirs;
	uint64_t lun;

	if (rx->payload_len < FCP_CMND_LEN) {
		fcoe_count_drop(port);
		return;
	}
	add_cdb = (uint32_t)(p[11] >> 2) * 4;
	need = FCP_CMND_LEN + add_cdb;
	if (rx->payload_len < need) {
		fcoe_count_drop(port);
		return;
	}
	if (exch_by_ox(rp, rx->fh.ox_id)) {
		/* FC-FS-4: an OX_ID in use; the initiator is confused. */
		fcoe_count_drop(port);
		return;
	}
	lun = fcp_lun_decode(p);
	tmf = p[10];
	dirs = p[11] & 3;
	edtl = get_be32(p + 12 + 16 + add_cdb);
	if (tmf) {
		enum tmf_function fn;
		uint16_t rx_id = fcoe_next_xid(rp);

		/* FCP-4 9.2.2.5: one task management flag at a time. */
		switch (tmf) {
		case FCP_TMF_ABT_TASK_SET: fn = TMF_ABORT_TASK_SET; break;
		case FCP_TMF_CLR_TASK_SET: fn = TMF_CLEAR_TASK_SET; break;
		case FCP_TMF_LUN_RESET: fn = TMF_LOGICAL_UNIT_RESET; break;
		case FCP_TMF_TGT_RESET: fn = TMF_TARGET_WARM_RESET; break;
		case FCP_TMF_CLR_ACA: fn = TMF_CLEAR_ACA; break;
		default: {
			struct fcoe_exch tmp;

			memset(&tmp, 0, sizeof(tmp));
			tmp.rp = rp;
			tmp.ox_id = rx->fh.ox_id;
			tmp.rx_id = rx_id;
			send_rsp(&tmp, 0, FCP_CMND_FIELDS_INVALID);
			return;
		}
		}
		/* Writes still receiving data never reached the core: the
		 * TMF ends them here (SAM-5 7.4, 7.6). */
		if (fn != TMF_CLEAR_ACA)
			fcp_drop_local(rp, lun, fn == TMF_TARGET_WARM_RESET);
		submit_tmf(rp, fn, lun, 0, rx->fh.ox_id, rx_id, false);
		return;
	}
	ex = exch_new(rp, rx->fh.ox_id);
	if (!ex) {
		fcoe_count_drop(port);   /* out of exchanges: the initiator retries */
		return;
	}
	cmd = &ex->cmd;
	cmd->nexus = &rp->nexus;
	cmd->lun = lun;
	memcpy(cmd->cdb, p + 12, 16);
	cmd->cdb_len = 16;
	if (add_cdb) {
		uint32_t ext = MIN(add_cdb, (uint32_t)SCSI_MAX_CDB - 16);

		memcpy(cmd->cdb + 16, p + 28, ext);
		cmd->cdb_len = (uint8_t)(16 + ext);
	}
	cmd->task_attr = fcp_to_sam_attr[p[9] & FCP_PTA_MASK];
	cmd->tag = rx->fh.ox_id;
	cmd->expected_len = edtl;
	cmd->dir = dirs == 3 ? SCSI_DIR_BIDI : dirs == FCP_CMND_WRDATA ? SCSI_DIR_OUT :
		   dirs == FCP_CMND_RDDATA ? SCSI_DIR_IN : SCSI_DIR_NONE;
	cmd->fabric_priv = ex;
	ex->edtl = dirs ? edtl : 0;
	if (cmd->dir == SCSI_DIR_BIDI || edtl > FCP_MAX_COMMAND_BYTES) {
		exch_fail(ex, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	if (cmd->dir != SCSI_DIR_OUT || edtl == 0) {
		ex->state = EXCH_IN_CORE;
		scsi_cmd_submit(cmd);
		return;
	}
	ev_timer_init(&ex->data_timer, data_timeout, ex);
	if (rp->writes_waiting == 0 && write_budget_allows(rp, edtl)) {
		start_receiving(ex);
		return;
	}
	ex->state = EXCH_WAITING;
	ex->arrival = ++rp->write_arrivals;
	rp->writes_waiting++;
	log_debug("fcoe %s: write OX_ID 0x%x from %06x (%u bytes) waits: %u bytes of writes receiving",
		  port->ifname, ex->ox_id, rp->port_id, edtl, rp->write_receiving);
}

/* The oldest waiting writes get their buffers and FCP_XFER_RDY, as far
 * as the budget goes. */
static void start_waiting_writes(struct fcoe_rport *rp)
{
	while (rp->writes_waiting) {
		struct fcoe_exch *next = NULL;

		for (unsigned i = 0; i < FCOE_EXCH_MAX; i++) {
			struct fcoe_exch *ex = rp->exch[i];

			if (ex && ex->state == EXCH_WAITING && (!next || ex->arrival < next->arrival))
				next = ex;
		}
		if (!next || !write_budget_allows(rp, next->edtl))
			return;
		rp->writes_waiting--;
		start_receiving(next);
	}
}

static void recv_data(struct fcoe_port *port, struct fcoe_rport *rp, const struct fcoe_rx *rx)
{
	struct fcoe_exch *ex = rx->fh.rx_id < FCOE_EXCH_MAX ? rp->exch[rx->fh.rx_id] : NULL;
	uint32_t off = rx->fh.param;

	if (!ex || ex->ox_id != rx->fh.ox_id || ex->state != EXCH_RECEIVING) {
		fcoe_count_drop(port);   /* aborted or unknown exchange */
		return;
	}
	/* FCP-4 9.4: in order, inside the burst we asked for. On one link
	 * frames do not overtake each other: a gap is a lost frame. */
	if (!(rx->fh.f_ctl & FC_FC_REL_OFF) || rx->payload_len > ex->edtl - MIN(off, ex->edtl)) {
		write_data_lost(ex, "FCP_DATA outside the burst");
		return;
	}
	if (off != ex->received) {
		write_data_lost(ex, off > ex->received ? "a gap in FCP_DATA" : "FCP_DATA repeated");
		return;
	}
	memcpy(ex->cmd.buf + off, rx->payload, rx->payload_len);
	ex->received += rx->payload_len;
	ev_timer_arm(fcoe_rport_loop(rp), &ex->data_timer, FCP_E_D_TOV_MS);
	if (ex->received == ex->edtl) {
		ev_timer_cancel(fcoe_rport_loop(rp), &ex->data_timer);
		ex->cmd.data_out_len = ex->edtl;
		ex->state = EXCH_IN_CORE;
		rp->write_receiving -= ex->edtl;
		start_waiting_writes(rp);
		scsi_cmd_submit(&ex->cmd);
	}
}

void fcp_recv(struct fcoe_port *port, struct fcoe_rport *rp, const struct fcoe_rx *rx)
{
	if (!rp->prli || !rp->nexus_registered) {
		/* FC-LS-3 4.2.11: a frame from a port not logged in is
		 * discarded and answered with LOGO, once, so the initiator
		 * logs in again (e.g. after sangwd restarted). */
		fcoe_count_drop(port);
		if (!rp->logo_sent) {
			rp->logo_sent = true;
			fc_els_send_logo(rp);
		}
		return;
	}
	if (rx->fh.f_ctl & FC_FC_EX_CTX) {
		fcoe_count_drop(port);   /* we originate no FCP exchange */
		return;
	}
	switch (rx->fh.r_ctl) {
	case FC_RCTL_DD_UNSOL_CMD:
		recv_cmnd(port, rp, rx);
		break;
	case FC_RCTL_DD_SOL_DATA:
		recv_data(port, rp, rx);
		break;
	default:
		fcoe_count_drop(port);
		break;
	}
}

/* --- fabric_ops ------------------------------------------------------------------------- */

static unsigned fcoe_transport_id(const struct it_nexus *nx, uint8_t *buf, unsigned len)
{
	const struct fcoe_rport *rp = nx->fabric_priv;

	/* SPC-4 7.6.4.2: FC TransportID, protocol identifier 0, format 00b,
	 * the N_Port_Name at bytes 8-15; 24 bytes. */
	if (len < 24)
		return 0;
	memset(buf, 0, 24);
	put_be64(buf + 8, rp->wwpn);
	return 24;
}

static void drop_deferred(void *arg)
{
	struct fcoe_rport *rp = arg;

	if (!rp->removed && rp->plogi) {
		fc_els_send_logo(rp);
		fcoe_rport_logout(rp, "dropped by the gateway");
	}
	fcoe_rport_put(rp);
}

/* The core may be walking its nexus list: log the port out later. */
static void fcoe_drop(struct it_nexus *nx)
{
	struct fcoe_rport *rp = nx->fabric_priv;

	if (rp->drop_defer.queued)
		return;
	fcoe_rport_get(rp);
	ev_defer(rp->port->gw->loop, &rp->drop_defer, drop_deferred, rp);
}

static void fcoe_describe(const struct it_nexus *nx, void *json)
{
	const struct fcoe_rport *rp = nx->fabric_priv;
	struct json_object *o = json;
	char wwpn[24], wwnn[24];

	snprintf(wwpn, sizeof(wwpn), "0x%016llx", (unsigned long long)rp->wwpn);
	snprintf(wwnn, sizeof(wwnn), "0x%016llx", (unsigned long long)rp->wwnn);
	json_object_object_add(o, "fabric", json_object_new_string("fcoe"));
	json_object_object_add(o, "interface", json_object_new_string(rp->port->ifname));
	json_object_object_add(o, "initiator_wwpn", json_object_new_string(wwpn));
	json_object_object_add(o, "initiator_wwnn", json_object_new_string(wwnn));
	json_object_object_add(o, "port_id", json_object_new_int((int)rp->port_id));
	json_object_object_add(o, "max_frame_payload", json_object_new_int((int)rp->max_payload));
	json_object_object_add(o, "rx_frames", json_object_new_int64((int64_t)rp->rx_frames));
	json_object_object_add(o, "tx_frames", json_object_new_int64((int64_t)rp->tx_frames));
	json_object_object_add(o, "worker", json_object_new_int((int)nx->slot));
}

const struct fabric_ops fcoe_fabric_ops = {
	.name = "fcoe",
	.cmd_done = fcp_cmd_done,
	.tmf_done = fcp_tmf_done,
	.transport_id = fcoe_transport_id,
	.drop = fcoe_drop,
	.describe = fcoe_describe,
};
