/* Extended and basic link services between VN2VN peers (FC-LS-3):
 * FLOGI carried in FIP (FC-BB-6 7.8.7.5), PLOGI in both directions (the
 * port with the higher port name originates, FC-BB-6 7.8.7.5), PRLI with
 * the FCP service parameters of a target (FCP-4 6.3), RTV, ADISC, LOGO,
 * PRLO, ECHO, RRQ; LS_RJT for everything else; ABTS answered with BA_ACC
 * (FC-LS-3 5.3). */
#include "fcoe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/log.h"
#include "../../gateway/util.h"

#define FC_LOGIN_LEN   116    /* FC-LS-3 table 145: PLOGI/FLOGI payload */
#define FC_R_A_TOV_MS  10000  /* FC-FS-4 table 33 defaults */
#define FC_E_D_TOV_MS  2000

static const char *els_name(uint8_t op)
{
	switch (op) {
	case ELS_PLOGI: return "PLOGI";
	case ELS_FLOGI: return "FLOGI";
	case ELS_LOGO: return "LOGO";
	case ELS_PRLI: return "PRLI";
	case ELS_PRLO: return "PRLO";
	case ELS_ADISC: return "ADISC";
	case ELS_RTV: return "RTV";
	case ELS_ECHO: return "ECHO";
	case ELS_RRQ: return "RRQ";
	case ELS_REC: return "REC";
	case ELS_RLS: return "RLS";
	default: return "ELS";
	}
}

size_t fc_build_login(struct fcoe_port *port, uint8_t cmd, bool flogi, uint8_t *p)
{
	uint8_t *csp = p + 4, *c3 = p + 68;

	memset(p, 0, FC_LOGIN_LEN);
	p[0] = cmd;
	/* Common service parameters (FC-LS-3 6.6.2.2). */
	csp[0] = 0x20;                         /* FC-PH version 2.0 .. 2.0 */
	csp[1] = 0x20;
	put_be16(csp + 2, 10);                 /* buffer-to-buffer credit */
	put_be16(csp + 4, FC_SP_FT_CIRO);      /* an N_Port (not F_Port) */
	put_be16(csp + 6, (uint16_t)port->max_payload);
	if (flogi) {
		put_be32(csp + 8, FC_R_A_TOV_MS);
	} else {
		put_be16(csp + 8, 255);            /* total concurrent sequences */
		put_be16(csp + 10, 0x1f);          /* relative offset by category */
	}
	put_be32(csp + 12, FC_E_D_TOV_MS);
	put_be64(p + 20, port->wwpn);
	put_be64(p + 28, port->wwnn);
	/* Class 3 service parameters (FC-LS-3 6.6.2.5). */
	put_be16(c3, FC_CPC_VALID | FC_CPC_SEQ);
	put_be16(c3 + 6, (uint16_t)port->max_payload);
	put_be16(c3 + 8, 255);                 /* concurrent sequences */
	c3[13] = 1;                            /* open sequences per exchange */
	return FC_LOGIN_LEN;
}

/* FC-LS-3 6.6.2: the largest payload the peer receives. */
static uint32_t login_max_payload(const struct fcoe_port *port, const uint8_t *p)
{
	uint32_t mfs = port->max_payload, v;

	v = get_be16(p + 4 + 6) & 0x0fff;
	if (v >= FC_MIN_PAYLOAD && v < mfs)
		mfs = v;
	v = get_be16(p + 68 + 6);
	if (v >= FC_MIN_PAYLOAD && v < mfs)
		mfs = v;
	return mfs & ~3u;
}

/* Reply header for a request received in h (FC-FS-4 9.8: we are the
 * exchange responder; the reply is the last sequence). */
static void reply_hdr(struct fcoe_rport *rp, const struct fc_hdr *req, uint8_t r_ctl, uint8_t type,
		      struct fc_hdr *h)
{
	memset(h, 0, sizeof(*h));
	h->r_ctl = r_ctl;
	h->d_id = req->s_id;
	h->s_id = rp->port->port_id;
	h->type = type;
	h->f_ctl = FC_FC_EX_CTX | FC_FC_LAST_SEQ | FC_FC_END_SEQ | FC_FC_SEQ_INIT;
	h->seq_id = fcoe_next_seq_id(rp);
	h->ox_id = req->ox_id;
	h->rx_id = req->rx_id == FC_XID_UNKNOWN ? fcoe_next_xid(rp) : req->rx_id;
}

void fc_send_reply(struct fcoe_rport *rp, const struct fc_hdr *req, uint8_t r_ctl, uint8_t type,
		   const void *payload, size_t len)
{
	struct fc_hdr h;

	reply_hdr(rp, req, r_ctl, type, &h);
	if (type == FC_TYPE_BLS)
		h.f_ctl &= ~(uint32_t)FC_FC_SEQ_INIT;
	fcoe_send_fc(rp, FC_SOF_I3, FC_EOF_T, &h, payload, len);
}

static void send_acc(struct fcoe_rport *rp, const struct fc_hdr *req, const void *payload, size_t len)
{
	uint8_t acc[4] = { ELS_LS_ACC, 0, 0, 0 };

	if (!payload) {
		payload = acc;
		len = sizeof(acc);
	}
	fc_send_reply(rp, req, FC_RCTL_ELS_REP, FC_TYPE_ELS, payload, len);
}

void fc_send_ls_rjt(struct fcoe_port *port, struct fcoe_rport *rp, const struct fc_hdr *req,
		    uint8_t reason, uint8_t explanation)
{
	uint8_t rjt[8] = { ELS_LS_RJT, 0, 0, 0, 0, reason, explanation, 0 };

	(void)port;
	fc_send_reply(rp, req, FC_RCTL_ELS_REP, FC_TYPE_ELS, rjt, sizeof(rjt));
}

/* --- FLOGI in FIP (FC-BB-6 7.8.7.5) ------------------------------------------ */

static void fip_els_reply(struct fcoe_port *port, struct fcoe_rport *rp, const struct fc_hdr *req,
			  uint8_t dtype, const uint8_t *payload, size_t len)
{
	uint8_t fc[FC_HDR_LEN + FC_LOGIN_LEN];
	struct fc_hdr h;
	uint8_t *buf;
	bool rjt = payload[0] == ELS_LS_RJT;

	reply_hdr(rp, req, FC_RCTL_ELS_REP, FC_TYPE_ELS, &h);
	fc_hdr_encode(fc, &h);
	memcpy(fc + FC_HDR_LEN, payload, len);
	buf = fcoe_tx_buf(port);
	/* The MAC descriptor names the VN_Port MAC we use (FC-BB-6
	 * 7.8.7.5); an LS_RJT carries none. */
	fcoe_tx_commit(port, fip_build_els(buf, FCOE_TX_FRAME_CAP, rp->enode_mac, port->enode_mac,
					   FIP_SC_REP, dtype, fc, FC_HDR_LEN + len,
					   rjt ? NULL : port->vn_mac));
}

/* --- LOGO: the answer waits for the nexus loss ---------------------------------- */

/* A LOGO ends the remote port's I_T nexus (FC-LS-3 4.2.12; SAM-5 6.3.4:
 * its tasks aborted, its SPC-2 reservations released). The LS_ACC tells
 * the initiator it is over, so it goes out only once the loss is in
 * effect on every node: a command the initiator sends next through
 * another target port, on any node, never meets the old reservation (the
 * iSCSI Logout Response waits the same way, fabric/iscsi/session.c). */
struct logout_reply {
	struct fcoe_rport *rp;     /* a reference of its own */
	struct fc_hdr req;
	uint8_t fip_dtype;         /* 0: an FCoE ELS frame; else the FIP descriptor */
};

static void send_logout_acc(struct fcoe_rport *rp, const struct fc_hdr *req, uint8_t fip_dtype)
{
	static const uint8_t acc[4] = { ELS_LS_ACC, 0, 0, 0 };

	if (fip_dtype)
		fip_els_reply(rp->port, rp, req, fip_dtype, acc, sizeof(acc));
	else
		send_acc(rp, req, NULL, 0);
}

/* Control thread: the nexus loss is in effect cluster-wide (result < 0:
 * not confirmed, e.g. quorum lost; the logout is answered anyway, as the
 * local port has forgotten the login). */
static void logout_released(void *ctx, int result)
{
	struct logout_reply *r = ctx;

	if (result < 0)
		log_warn("fcoe %s: LOGO from %06x: reservation release not confirmed (%s); "
			 "accepting the logout", r->rp->port->ifname, r->rp->port_id, strerror(-result));
	if (!r->rp->removed)
		send_logout_acc(r->rp, &r->req, r->fip_dtype);
	fcoe_rport_put(r->rp);
	free(r);
}

static void logout_then_accept(struct fcoe_rport *rp, const struct fc_hdr *req, uint8_t fip_dtype,
			       const char *why)
{
	struct logout_reply *r = malloc(sizeof(*r));

	if (!r) {   /* no memory to wait with: the old order, accept first */
		send_logout_acc(rp, req, fip_dtype);
		fcoe_rport_logout(rp, why);
		return;
	}
	r->rp = rp;
	r->req = *req;
	r->fip_dtype = fip_dtype;
	fcoe_rport_get(rp);
	fcoe_rport_logout_then(rp, why, logout_released, r);
}

void fc_els_recv_fip(struct fcoe_port *port, const struct fip_msg *m, const struct fip_els *e)
{
	struct fc_hdr h;
	struct fcoe_rport *rp;
	const uint8_t *pl;
	size_t plen;

	if (e->fc_len < FC_HDR_LEN + 4)
		return;
	fc_hdr_decode(e->fc, &h);
	pl = e->fc + FC_HDR_LEN;
	plen = e->fc_len - FC_HDR_LEN;
	if (h.d_id != port->port_id || m->subcode != FIP_SC_REQ)
		return;   /* not for us, or a reply we did not ask for (we send no FLOGI) */
	rp = fcoe_rport_find(port, h.s_id);
	if (!rp || memcmp(m->src, rp->enode_mac, 6)) {
		/* FC-BB-6 7.8.7.5: only a neighbour that claimed may log in;
		 * without one there is no MAC to answer to but the source. */
		log_debug("fcoe %s: FIP %s from non-neighbour %06x dropped", port->ifname,
			  els_name(pl[0]), h.s_id);
		return;
	}
	if (e->dtype == FIP_DT_FLOGI && pl[0] == ELS_FLOGI) {
		uint8_t acc[FC_LOGIN_LEN];

		if (plen < FC_LOGIN_LEN) {
			uint8_t rjt[8] = { ELS_LS_RJT, 0, 0, 0, 0, ELS_RJT_PROT, ELS_EXPL_INV_LEN, 0 };
			fip_els_reply(port, rp, &h, e->dtype, rjt, sizeof(rjt));
			return;
		}
		if (get_be16(pl + 4 + 4) & FC_SP_FT_FPORT) {
			/* An F_Port has no business in VN2VN. */
			uint8_t rjt[8] = { ELS_LS_RJT, 0, 0, 0, 0, ELS_RJT_LOGIC, ELS_EXPL_NONE, 0 };
			fip_els_reply(port, rp, &h, e->dtype, rjt, sizeof(rjt));
			return;
		}
		if (rp->plogi || rp->prli)
			fcoe_rport_logout(rp, "new FLOGI");
		rp->max_payload = login_max_payload(port, pl);
		fc_build_login(port, ELS_LS_ACC, true, acc);
		fip_els_reply(port, rp, &h, e->dtype, acc, sizeof(acc));
		rp->flogi = true;
		log_info("fcoe %s: FLOGI from %06x (wwpn %016llx) accepted, max payload %u", port->ifname,
			 rp->port_id, (unsigned long long)get_be64(pl + 20), rp->max_payload);
		/* The higher port name sends PLOGI (FC-BB-6 7.8.7.5); Linux
		 * waits in PLOGI_WAIT when that is us. */
		if (port->wwpn > rp->wwpn)
			fc_els_send_plogi(rp);
		return;
	}
	if (e->dtype == FIP_DT_LOGO && pl[0] == ELS_LOGO) {
		logout_then_accept(rp, &h, e->dtype, "FIP LOGO");
		return;
	}
	{
		uint8_t rjt[8] = { ELS_LS_RJT, 0, 0, 0, 0, ELS_RJT_UNSUP, ELS_EXPL_NONE, 0 };
		fip_els_reply(port, rp, &h, e->dtype, rjt, sizeof(rjt));
	}
}

/* --- ELS requests we originate --------------------------------------------------- */

static void send_request(struct fcoe_rport *rp, uint16_t ox_id, const void *payload, size_t len)
{
	struct fc_hdr h;

	memset(&h, 0, sizeof(h));
	h.r_ctl = FC_RCTL_ELS_REQ;
	h.d_id = rp->port_id;
	h.s_id = rp->port->port_id;
	h.type = FC_TYPE_ELS;
	h.f_ctl = FC_FC_FIRST_SEQ | FC_FC_END_SEQ | FC_FC_SEQ_INIT;
	h.seq_id = fcoe_next_seq_id(rp);
	h.ox_id = ox_id;
	h.rx_id = FC_XID_UNKNOWN;
	fcoe_send_fc(rp, FC_SOF_I3, FC_EOF_T, &h, payload, len);
}

void fc_els_send_plogi(struct fcoe_rport *rp)
{
	uint8_t pl[FC_LOGIN_LEN];

	fc_build_login(rp->port, ELS_PLOGI, false, pl);
	rp->plogi_ox_id = fcoe_next_xid(rp);
	send_request(rp, rp->plogi_ox_id, pl, sizeof(pl));
	/* No answer within 2 * R_A_TOV / 10 (the peer may still be busy
	 * with the FLOGI): try again, a few times. */
	ev_timer_arm(rp->port->gw->loop, &rp->plogi_timer, 1000);
}

void fc_els_plogi_retry(struct event_loop *loop, void *arg)
{
	struct fcoe_rport *rp = arg;

	(void)loop;
	if (rp->plogi || !rp->flogi || rp->plogi_tries >= 5)
		return;
	rp->plogi_tries++;
	fc_els_send_plogi(rp);
}

void fc_els_send_logo(struct fcoe_rport *rp)
{
	uint8_t pl[16];

	/* FC-LS-3 4.2.11: our N_Port_ID and port name. */
	memset(pl, 0, sizeof(pl));
	pl[0] = ELS_LOGO;
	put_be24(pl + 5, rp->port->port_id);
	put_be64(pl + 8, rp->port->wwpn);
	send_request(rp, fcoe_next_xid(rp), pl, sizeof(pl));
}

/* A reply to one of our requests. */
static void els_reply(struct fcoe_port *port, struct fcoe_rport *rp, const struct fcoe_rx *rx)
{
	const uint8_t *pl = rx->payload;

	if (rx->payload_len < 4)
		return;
	if (rx->fh.ox_id == rp->plogi_ox_id && rp->plogi_ox_id != FC_XID_UNKNOWN) {
		rp->plogi_ox_id = FC_XID_UNKNOWN;
		ev_timer_cancel(port->gw->loop, &rp->plogi_timer);
		if (pl[0] == ELS_LS_ACC && rx->payload_len >= FC_LOGIN_LEN) {
			rp->plogi = true;
			rp->plogi_tries = 0;
			rp->max_payload = login_max_payload(port, pl);
			log_info("fcoe %s: PLOGI to %06x accepted, max payload %u", port->ifname,
				 rp->port_id, rp->max_payload);
		} else {
			log_info("fcoe %s: PLOGI to %06x rejected (reason %02x explanation %02x)%s",
				 port->ifname, rp->port_id, rx->payload_len >= 8 ? pl[5] : 0,
				 rx->payload_len >= 8 ? pl[6] : 0, rp->plogi_tries < 5 ? ", retrying" : "");
			/* Busy: it has not seen our FLOGI answer yet. */
			ev_timer_arm(port->gw->loop, &rp->plogi_timer, 200);
		}
	}
	/* LOGO replies need nothing. */
}

/* --- ELS requests received ------------------------------------------------------- */

static void recv_plogi(struct fcoe_port *port, struct fcoe_rport *rp, const struct fcoe_rx *rx)
{
	uint8_t acc[FC_LOGIN_LEN];
	uint64_t wwpn;

	if (rx->payload_len < FC_LOGIN_LEN) {
		fc_send_ls_rjt(port, rp, &rx->fh, ELS_RJT_PROT, ELS_EXPL_INV_LEN);
		return;
	}
	wwpn = get_be64(rx->payload + 20);
	if (wwpn != rp->wwpn) {
		/* FC-BB-6 7.8.7.5: the name it claimed with. */
		fc_send_ls_rjt(port, rp, &rx->fh, ELS_RJT_LOGIC, ELS_EXPL_NONE);
		return;
	}
	if (rp->plogi_ox_id != FC_XID_UNKNOWN && wwpn < port->wwpn) {
		/* Crossed PLOGIs: ours wins (FC-LS-3 4.2.2). */
		fc_send_ls_rjt(port, rp, &rx->fh, ELS_RJT_INPROG, ELS_EXPL_NONE);
		return;
	}
	if (rp->prli)
		fcoe_rport_logout(rp, "new PLOGI");   /* implicit logout (FC-LS-3 4.2.2) */
	rp->flogi = true;
	rp->plogi = true;
	rp->plogi_ox_id = FC_XID_UNKNOWN;
	ev_timer_cancel(port->gw->loop, &rp->plogi_timer);
	rp->wwnn = get_be64(rx->payload + 28);
	rp->max_payload = login_max_payload(port, rx->payload);
	fc_build_login(port, ELS_LS_ACC, false, acc);
	send_acc(rp, &rx->fh, acc, sizeof(acc));
	log_info("fcoe %s: PLOGI from %06x (wwpn %016llx) accepted, max payload %u", port->ifname,
		 rp->port_id, (unsigned long long)rp->wwpn, rp->max_payload);
}

/* FCP-4 6.3: PRLI for FC-4 type FCP; we are a target function only. */
static void recv_prli(struct fcoe_port *port, struct fcoe_rport *rp, const struct fcoe_rx *rx)
{
	const uint8_t *pl = rx->payload;
	uint8_t acc[20];
	uint32_t plen, fcp;
	char why[256];
	uint8_t resp;

	if (rx->payload_len < 20) {
		fc_send_ls_rjt(port, rp, &rx->fh, ELS_RJT_PROT, ELS_EXPL_INV_LEN);
		return;
	}
	plen = get_be16(pl + 2);
	if (pl[1] != 16 || plen < 20 || plen % 16 != 4 || plen > rx->payload_len) {
		fc_send_ls_rjt(port, rp, &rx->fh, ELS_RJT_PROT, ELS_EXPL_INV_LEN);
		return;
	}
	/* The first page only: FCP is the only FC-4 we speak. */
	fcp = get_be32(pl + 4 + 12);
	memset(acc, 0, sizeof(acc));
	acc[0] = ELS_LS_ACC;
	acc[1] = 16;
	put_be16(acc + 2, 20);
	acc[4] = pl[4];                   /* TYPE */
	acc[5] = pl[5];
	if (pl[4] != FC_TYPE_FCP) {
		resp = FC_SPP_RESP_INVL;
	} else if (!(fcp & FCP_SPPF_INIT_FCN)) {
		resp = FC_SPP_RESP_CONF;  /* two targets have nothing to say */
	} else if (!(pl[6] & FC_SPP_EST_IMG_PAIR)) {
		resp = FC_SPP_RESP_ACK;
	} else if (fcp_nexus_up(rp, why, sizeof(why)) < 0) {
		log_warn("fcoe %s: PRLI from %06x (wwpn %016llx) refused: %s", port->ifname, rp->port_id,
			 (unsigned long long)rp->wwpn, why);
		fc_send_ls_rjt(port, rp, &rx->fh, ELS_RJT_UNAB, ELS_EXPL_NONE);
		return;
	} else {
		resp = FC_SPP_RESP_ACK;
		acc[6] = FC_SPP_EST_IMG_PAIR;
		rp->prli = true;
	}
	acc[6] |= resp;
	/* FCP-4 table 7 as LIO's tcm_fc answers: target function, read
	 * FCP_XFER_RDY disabled; no retry, no confirmed completion, no
	 * first burst (writes always wait for FCP_XFER_RDY). */
	if (resp == FC_SPP_RESP_ACK)
		put_be32(acc + 4 + 12, FCP_SPPF_TARG_FCN | FCP_SPPF_RD_XRDY_DIS);
	send_acc(rp, &rx->fh, acc, sizeof(acc));
	if (rp->prli)
		log_info("fcoe %s: PRLI from %06x (wwpn %016llx): FCP image pair established, "
			 "worker %u", port->ifname, rp->port_id, (unsigned long long)rp->wwpn, rp->slot);
}

static void recv_prlo(struct fcoe_port *port, struct fcoe_rport *rp, const struct fcoe_rx *rx)
{
	uint8_t acc[20];

	if (rx->payload_len < 20) {
		fc_send_ls_rjt(port, rp, &rx->fh, ELS_RJT_PROT, ELS_EXPL_INV_LEN);
		return;
	}
	memset(acc, 0, sizeof(acc));
	acc[0] = ELS_LS_ACC;
	acc[1] = 16;
	put_be16(acc + 2, 20);
	acc[4] = rx->payload[4];
	acc[6] = FC_SPP_RESP_ACK;
	send_acc(rp, &rx->fh, acc, sizeof(acc));
	if (rp->prli) {
		fcp_nexus_down(rp);
		rp->prli = false;
	}
}

static void recv_adisc(struct fcoe_port *port, struct fcoe_rport *rp, const struct fcoe_rx *rx)
{
	uint8_t acc[28];

	if (rx->payload_len < 28) {
		fc_send_ls_rjt(port, rp, &rx->fh, ELS_RJT_PROT, ELS_EXPL_INV_LEN);
		return;
	}
	/* FC-LS-3 4.2.3: our hard address (none), names and N_Port_ID. */
	memset(acc, 0, sizeof(acc));
	acc[0] = ELS_LS_ACC;
	put_be64(acc + 8, port->wwpn);
	put_be64(acc + 16, port->wwnn);
	put_be24(acc + 25, port->port_id);
	send_acc(rp, &rx->fh, acc, sizeof(acc));
}

static void recv_rtv(struct fcoe_rport *rp, const struct fcoe_rx *rx)
{
	uint8_t acc[12];

	/* FC-LS-3 4.2.34: R_A_TOV and E_D_TOV in ms (qualifier 0). */
	memset(acc, 0, sizeof(acc));
	acc[0] = ELS_LS_ACC;
	put_be32(acc + 4, FC_R_A_TOV_MS);
	put_be32(acc + 8, FC_E_D_TOV_MS);
	send_acc(rp, &rx->fh, acc, sizeof(acc));
}

static void recv_echo(struct fcoe_rport *rp, const struct fcoe_rx *rx)
{
	uint8_t acc[FC_MAX_PAYLOAD];
	size_t len = MIN((size_t)rx->payload_len, sizeof(acc));

	/* FC-LS-3 4.2.7: the payload comes back as it was. */
	memcpy(acc, rx->payload, len);
	acc[0] = ELS_LS_ACC;
	acc[1] = acc[2] = acc[3] = 0;
	send_acc(rp, &rx->fh, acc, len & ~(size_t)3);
}

void fc_els_recv(struct fcoe_port *port, struct fcoe_rport *rp, const struct fcoe_rx *rx)
{
	uint8_t op;

	if (rx->fh.r_ctl == FC_RCTL_ELS_REP && rx->fh.f_ctl & FC_FC_EX_CTX) {
		els_reply(port, rp, rx);
		return;
	}
	if (rx->fh.r_ctl != FC_RCTL_ELS_REQ || rx->fh.f_ctl & FC_FC_EX_CTX)
		return;
	if (rx->payload_len < 4) {
		fc_send_ls_rjt(port, rp, &rx->fh, ELS_RJT_PROT, ELS_EXPL_INV_LEN);
		return;
	}
	op = rx->payload[0];
	log_debug("fcoe %s: %s from %06x", port->ifname, els_name(op), rp->port_id);
	switch (op) {
	case ELS_PLOGI:
		recv_plogi(port, rp, rx);
		return;
	case ELS_LOGO:
		logout_then_accept(rp, &rx->fh, 0, "LOGO");
		return;
	case ELS_FLOGI:
		/* FC-BB-6 7.8.7.5: VN2VN FLOGI goes in FIP. */
		fc_send_ls_rjt(port, rp, &rx->fh, ELS_RJT_UNSUP, ELS_EXPL_NONE);
		return;
	case ELS_ECHO:
	case ELS_PRLI:
	case ELS_PRLO:
	case ELS_ADISC:
	case ELS_RTV:
	case ELS_RRQ:
	case ELS_REC:
	case ELS_RLS:
		break;
	default:
		fc_send_ls_rjt(port, rp, &rx->fh, ELS_RJT_UNSUP, ELS_EXPL_NONE);
		return;
	}
	if (!rp->plogi) {
		/* FC-LS-3 4.2.1: these need a login first. */
		fc_send_ls_rjt(port, rp, &rx->fh, ELS_RJT_UNAB, ELS_EXPL_PLOGI_REQD);
		return;
	}
	switch (op) {
	case ELS_ECHO: recv_echo(rp, rx); break;
	case ELS_PRLI: recv_prli(port, rp, rx); break;
	case ELS_PRLO: recv_prlo(port, rp, rx); break;
	case ELS_ADISC: recv_adisc(port, rp, rx); break;
	case ELS_RTV: recv_rtv(rp, rx); break;
	case ELS_RRQ:
		/* FC-LS-3 4.2.26: the exchange's resources are free already. */
		if (rx->payload_len < 12)
			fc_send_ls_rjt(port, rp, &rx->fh, ELS_RJT_PROT, ELS_EXPL_INV_LEN);
		else
			send_acc(rp, &rx->fh, NULL, 0);
		break;
	default:
		fc_send_ls_rjt(port, rp, &rx->fh, ELS_RJT_UNSUP, ELS_EXPL_NONE);
		break;
	}
}

/* --- basic link services (FC-LS-3 5) ----------------------------------------------- */

void fc_bls_recv(struct fcoe_port *port, struct fcoe_rport *rp, const struct fcoe_rx *rx)
{
	uint8_t acc[12];

	if (rx->fh.r_ctl != FC_RCTL_BA_ABTS) {
		if (rx->fh.r_ctl == FC_RCTL_BA_ACC || rx->fh.r_ctl == FC_RCTL_BA_RJT)
			return;   /* we send no ABTS */
		fcoe_count_drop(port);
		return;
	}
	if (!rp->plogi) {
		fcoe_count_drop(port);
		return;
	}
	/* The exchange's command is aborted through the core; BA_ACC then
	 * follows from its TMF completion. */
	if (fcp_abort_exchange(rp, &rx->fh))
		return;
	/* FC-LS-3 5.3.2: unknown (most likely finished) exchange: accept,
	 * no sequence to report. */
	memset(acc, 0, sizeof(acc));
	put_be16(acc + 4, rx->fh.ox_id);
	put_be16(acc + 6, rx->fh.rx_id);
	put_be16(acc + 10, 0xffff);
	fc_send_reply(rp, &rx->fh, FC_RCTL_BA_ACC, FC_TYPE_BLS, acc, sizeof(acc));
}
