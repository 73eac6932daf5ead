/* A small FCoE VN2VN initiator for tests/integration/31-fcoe-host.sh:
 * raw AF_PACKET on one interface (in a network namespace of the test),
 * FIP claim, FLOGI in FIP, PLOGI (sent or accepted, by port name), PRLI,
 * RTV/ADISC/ECHO/unknown ELS, FCP INQUIRY, TEST UNIT READY (unit
 * attention first), READ CAPACITY, WRITE and READ back, LUN RESET, ABTS,
 * lost write data, writes whose data is held back (the buffer budget),
 * and bad input (truncated frames, bad CRC, malformed FIP, short FCP_CMND)
 * that the target must drop while it keeps serving; finally LOGO, and an
 * FCP_CMND after it that must be answered by a LOGO from the target.
 *
 *   fcoe-initiator IFNAME WWPN EXPECTED_BLOCKS [--expect-denied]
 *   fcoe-initiator IFNAME WWPN EXPECTED_BLOCKS --bench SECONDS,BYTES
 *
 * FCOE_INITIATOR_PORT_ID in the environment sets our FC_ID (default
 * 0x00beef), for several initiators on one link.
 * With --expect-denied, the target must refuse the PRLI (the port is in
 * no ACL) and nothing else is tried. With --bench, after the login it
 * reads BYTES at a time (QD1, READ(10) from LBA 0) for SECONDS, checks
 * every status and prints "bench: N reads ... IOPS", then logs out
 * (tools/fcoe-bench, docs/fcoe.md). With --session (and an FC_ID of its
 * own, hex, when several initiators share the segment) it logs in to the
 * target ports it is told to and runs the SCSI commands read from stdin,
 * for tests/cluster/fcoe-cluster.sh (see "session mode" below).
 * Prints "ok: ..." per step and "FAIL: ..." on the first failure (exit 1).
 * It links the target's frame and FIP codecs (unit-tested on their own
 * against the standard CRC); the Linux initiator in the guest test is the
 * independent check of the wire format. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../fabric/fcoe/fcoe_frame.h"
#include "../../fabric/fcoe/fip.h"
#include "../../gateway/util.h"

static int fd;
static uint8_t my_mac[6], my_vn_mac[6];
static uint32_t my_id = 0x00beef;
static uint64_t my_wwpn;

/* A target port on the segment (several in the cluster test's session
 * mode); tgt is the one the next frames go to. */
struct peer {
	uint8_t enode[6], vn[6];
	uint32_t id;
	uint64_t wwpn;
	uint32_t max_payload;
};
#define MAX_PEERS 8
static struct peer peers[MAX_PEERS];
static unsigned n_peers;
static struct peer *tgt = &peers[0];
/* Session mode: frames from other targets are not errors. */
static bool many_targets;
static uint16_t next_ox = 0x100;
static uint8_t rxbuf[10000];

#define FAIL(...) do { printf("FAIL: "); printf(__VA_ARGS__); printf("\n"); exit(1); } while (0)
/* Progress notes; to stderr in session mode, whose stdout is the answers. */
static FILE *ok_out;
#define OK(...) do { fprintf(ok_out, "ok: "); fprintf(ok_out, __VA_ARGS__); fprintf(ok_out, "\n"); \
		     fflush(ok_out); } while (0)

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void send_raw(const uint8_t *buf, size_t len)
{
	if (send(fd, buf, len, 0) != (ssize_t)len)
		FAIL("send: %s", strerror(errno));
}

/* Receive one frame for us within ms; returns its length or 0. */
static size_t recv_frame(int ms)
{
	uint64_t end = ms_now() + (uint64_t)ms;

	for (;;) {
		int64_t left = (int64_t)(end - ms_now());
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return 0;
		n = recv(fd, rxbuf, sizeof(rxbuf), MSG_DONTWAIT);
		if (n < ETH_HDR_LEN)
			continue;
		if (!memcmp(rxbuf + 6, my_mac, 6) || !memcmp(rxbuf + 6, my_vn_mac, 6))
			continue;   /* our own */
		if (memcmp(rxbuf, my_mac, 6) && memcmp(rxbuf, my_vn_mac, 6) &&
		    memcmp(rxbuf, fip_all_vn2vn_macs, 6))
			continue;
		return (size_t)n;
	}
}

static struct fip_vn_self self_info(void)
{
	struct fip_vn_self s;

	memset(&s, 0, sizeof(s));
	memcpy(s.enode_mac, my_mac, 6);
	s.wwnn = my_wwpn - 1;
	s.wwpn = my_wwpn;
	s.port_id = my_id;
	s.fcoe_size = 2158;
	s.fcp_initiator = true;
	return s;
}

/* FIP: claim until the target answers with a Claim Response. */
static void claim(void)
{
	struct fip_vn_self s = self_info();
	uint8_t buf[2400];
	uint64_t end = ms_now() + 15000;

	while (ms_now() < end) {
		size_t n = fip_build_vn(buf, sizeof(buf), FIP_SC_VN_CLAIM_NOTIFY, fip_all_vn2vn_macs, &s, 0);
		uint64_t wait_end = ms_now() + 500;

		send_raw(buf, n);
		while (ms_now() < wait_end) {
			struct fip_msg m;
			struct fip_vn_info vn;

			n = recv_frame(100);
			if (!n || get_be16(rxbuf + 12) != ETH_P_FIP_FRAME)
				continue;
			if (fip_parse(rxbuf, n, &m) < 0 || m.op != FIP_OP_VN2VN)
				continue;
			if (m.subcode == FIP_SC_VN_CLAIM_REP && !memcmp(m.dst, my_mac, 6)) {
				if (fip_vn_parse(&m, &vn) < 0)
					FAIL("malformed claim response");
				memcpy(tgt->enode, vn.enode_mac, 6);
				memcpy(tgt->vn, vn.vn_mac, 6);
				tgt->id = vn.port_id;
				tgt->wwpn = vn.wwpn;
				tgt->max_payload = 256;
				n_peers = 1;
				if (!vn.fcp_target || vn.fcp_initiator)
					FAIL("claim response FC-4 features: target %d initiator %d",
					     vn.fcp_target, vn.fcp_initiator);
				if (n != 14 + MIN(2158u, vn.fcoe_size))
					FAIL("claim response of %zu bytes, not padded to %u + 14", n,
					     MIN(2158u, vn.fcoe_size));
				OK("claim response from %06x wwpn %016llx (%zu bytes)", tgt->id,
				   (unsigned long long)tgt->wwpn, n);
				return;
			}
			if (m.subcode == FIP_SC_VN_CLAIM_NOTIFY && fip_vn_parse(&m, &vn) == 0 &&
			    vn.port_id == my_id)
				FAIL("target claimed our address %06x", my_id);
		}
	}
	FAIL("no claim response in 15 s");
}

static void fc_req_hdr(struct fc_hdr *h, uint8_t r_ctl, uint8_t type, uint16_t ox_id)
{
	memset(h, 0, sizeof(*h));
	h->r_ctl = r_ctl;
	h->d_id = tgt->id;
	h->s_id = my_id;
	h->type = type;
	h->f_ctl = FC_FC_FIRST_SEQ | FC_FC_END_SEQ | FC_FC_SEQ_INIT;
	h->ox_id = ox_id;
	h->rx_id = FC_XID_UNKNOWN;
}

static void send_fc(const struct fc_hdr *h, const void *payload, size_t len, uint8_t sof, uint8_t eof)
{
	uint8_t buf[FCOE_MAX_FRAME];
	size_t n = fcoe_frame_build(buf, sizeof(buf), tgt->vn, my_vn_mac, sof, eof, h, payload, len);

	if (!n)
		FAIL("cannot build frame");
	send_raw(buf, n);
}

/* Wait for an FCoE frame of exchange ox_id (any when ox_id is 0xffff). */
static bool recv_fc(struct fcoe_rx *rx, uint16_t ox_id, int ms)
{
	uint64_t end = ms_now() + (uint64_t)ms;

	while (ms_now() < end) {
		size_t n = recv_frame((int)(end - ms_now()));

		if (!n || get_be16(rxbuf + 12) != ETH_P_FCOE_FRAME)
			continue;
		if (fcoe_frame_parse(rxbuf, n, rx) != FCOE_OK)
			FAIL("target sent a malformed FCoE frame");
		if (many_targets && rx->fh.s_id != tgt->id)
			continue;   /* another target's frame: not this exchange */
		if (memcmp(rx->dst, my_vn_mac, 6) || rx->fh.d_id != my_id || rx->fh.s_id != tgt->id)
			FAIL("frame addressed wrongly (d_id %06x s_id %06x)", rx->fh.d_id, rx->fh.s_id);
		if (ox_id == 0xffff || rx->fh.ox_id == ox_id)
			return true;
	}
	return false;
}

static const uint8_t *els(uint8_t op, const uint8_t *pl, size_t len, size_t *rlen)
{
	struct fc_hdr h;
	struct fcoe_rx rx;
	uint16_t ox = next_ox++;
	static uint8_t copy[2200];

	fc_req_hdr(&h, FC_RCTL_ELS_REQ, FC_TYPE_ELS, ox);
	send_fc(&h, pl, len, FC_SOF_I3, FC_EOF_T);
	(void)op;
	for (;;) {
		if (!recv_fc(&rx, ox, 3000))
			FAIL("no answer to ELS 0x%02x", op);
		if (rx.fh.r_ctl == FC_RCTL_ELS_REP && rx.fh.f_ctl & FC_FC_EX_CTX)
			break;
	}
	memcpy(copy, rx.payload, MIN(rx.payload_len, sizeof(copy)));
	*rlen = rx.payload_len;
	return copy;
}

static void build_login(uint8_t *p, uint8_t cmd)
{
	memset(p, 0, 116);
	p[0] = cmd;
	p[4] = p[5] = 0x20;
	put_be16(p + 4 + 6, 2048);
	put_be64(p + 20, my_wwpn);
	put_be64(p + 28, my_wwpn - 1);
	put_be16(p + 68, 0x8800);
	put_be16(p + 68 + 6, 2048);
}

static void flogi(void)
{
	uint8_t fc[24 + 116], buf[512];
	struct fc_hdr h;
	uint64_t end = ms_now() + 3000;

	fc_req_hdr(&h, FC_RCTL_ELS_REQ, FC_TYPE_ELS, next_ox++);
	fc_hdr_encode(fc, &h);
	build_login(fc + 24, ELS_FLOGI);
	send_raw(buf, fip_build_els(buf, sizeof(buf), tgt->enode, my_mac, FIP_SC_REQ, FIP_DT_FLOGI, fc,
				    sizeof(fc), my_vn_mac));
	while (ms_now() < end) {
		struct fip_msg m;
		struct fip_els e;
		size_t n = recv_frame(200);

		if (!n || get_be16(rxbuf + 12) != ETH_P_FIP_FRAME || fip_parse(rxbuf, n, &m) < 0 ||
		    m.op != FIP_OP_LS)
			continue;
		if (fip_els_parse(&m, &e) < 0)
			FAIL("malformed FIP ELS reply");
		if (e.dtype != FIP_DT_FLOGI || m.subcode != FIP_SC_REP || e.fc[24] != ELS_LS_ACC)
			FAIL("FLOGI not accepted (dtype %u op 0x%02x)", e.dtype, e.fc[24]);
		if (!e.has_mac || memcmp(e.mac, tgt->vn, 6))
			FAIL("FLOGI LS_ACC MAC descriptor is not the target's VN_Port MAC");
		if (get_be16(e.fc + 24 + 4 + 4) & 0x1000)
			FAIL("FLOGI LS_ACC claims to be an F_Port");
		tgt->max_payload = get_be16(e.fc + 24 + 68 + 6);
		OK("FLOGI accepted in FIP, target receives %u-byte payloads", tgt->max_payload);
		return;
	}
	FAIL("no FLOGI answer");
}

static void plogi(void)
{
	uint8_t pl[116];
	size_t rlen;
	const uint8_t *r;

	if (my_wwpn > tgt->wwpn) {
		build_login(pl, ELS_PLOGI);
		r = els(ELS_PLOGI, pl, sizeof(pl), &rlen);
		if (r[0] != ELS_LS_ACC || rlen < 116 || get_be64(r + 20) != tgt->wwpn)
			FAIL("PLOGI not accepted");
		OK("PLOGI (ours, higher port name) accepted");
		return;
	}
	/* The target has the higher name: it logs in to us. */
	for (;;) {
		struct fcoe_rx rx;
		struct fc_hdr h;

		if (!recv_fc(&rx, 0xffff, 5000))
			FAIL("target did not send PLOGI (its port name is higher)");
		if (rx.fh.r_ctl != FC_RCTL_ELS_REQ || rx.payload_len < 116 || rx.payload[0] != ELS_PLOGI)
			continue;
		memset(&h, 0, sizeof(h));
		h.r_ctl = FC_RCTL_ELS_REP;
		h.d_id = tgt->id;
		h.s_id = my_id;
		h.type = FC_TYPE_ELS;
		h.f_ctl = FC_FC_EX_CTX | FC_FC_LAST_SEQ | FC_FC_END_SEQ;
		h.ox_id = rx.fh.ox_id;
		h.rx_id = 0x4242;
		build_login(pl, ELS_LS_ACC);
		send_fc(&h, pl, sizeof(pl), FC_SOF_I3, FC_EOF_T);
		OK("PLOGI from the target (higher port name) accepted");
		return;
	}
}

static bool expect_denied;
static double bench_seconds;
static uint32_t bench_bytes;

static void prli(void)
{
	uint8_t pl[64];
	const uint8_t *r;
	size_t rlen;

	memset(pl, 0, 20);
	pl[0] = ELS_PRLI;
	pl[1] = 16;
	put_be16(pl + 2, 20);
	pl[4] = FC_TYPE_FCP;
	pl[6] = FC_SPP_EST_IMG_PAIR;
	put_be32(pl + 16, FCP_SPPF_INIT_FCN | FCP_SPPF_RD_XRDY_DIS);
	r = els(ELS_PRLI, pl, 20, &rlen);
	if (expect_denied) {
		if (r[0] != ELS_LS_RJT)
			FAIL("PRLI of a port in no ACL was accepted");
		OK("PRLI of a port in no ACL: LS_RJT (reason 0x%02x)", r[5]);
		printf("all passed\n");
		exit(0);
	}
	if (r[0] != ELS_LS_ACC || rlen < 20 || (r[6] & 0x0f) != FC_SPP_RESP_ACK || !(r[6] & FC_SPP_EST_IMG_PAIR))
		FAIL("PRLI not accepted (op 0x%02x flags 0x%02x)", r[0], r[6]);
	if (!(get_be32(r + 16) & FCP_SPPF_TARG_FCN) || get_be32(r + 16) & FCP_SPPF_INIT_FCN)
		FAIL("PRLI LS_ACC service parameters 0x%x: not a target", get_be32(r + 16));
	OK("PRLI: image pair, target function");
}

static void prli_and_friends(void)
{
	uint8_t pl[64];
	const uint8_t *r;
	size_t rlen;

	prli();
	memset(pl, 0, 4);
	pl[0] = ELS_RTV;
	r = els(ELS_RTV, pl, 4, &rlen);
	if (r[0] != ELS_LS_ACC || rlen < 12 || !get_be32(r + 4))
		FAIL("RTV");
	memset(pl, 0, 28);
	pl[0] = ELS_ADISC;
	put_be64(pl + 8, my_wwpn);
	put_be24(pl + 25, my_id);
	r = els(ELS_ADISC, pl, 28, &rlen);
	if (r[0] != ELS_LS_ACC || rlen < 28 || get_be64(r + 8) != tgt->wwpn || get_be24(r + 25) != tgt->id)
		FAIL("ADISC");
	memset(pl, 0, 32);
	pl[0] = ELS_ECHO;
	memcpy(pl + 4, "sangw echo test data 0123456", 28);
	r = els(ELS_ECHO, pl, 32, &rlen);
	if (r[0] != ELS_LS_ACC || rlen != 32 || memcmp(r + 4, pl + 4, 28))
		FAIL("ECHO");
	memset(pl, 0, 8);
	pl[0] = 0x7d;    /* no such ELS */
	r = els(0x7d, pl, 8, &rlen);
	if (r[0] != ELS_LS_RJT || r[5] != ELS_RJT_UNSUP)
		FAIL("unknown ELS not rejected as unsupported");
	OK("RTV, ADISC, ECHO accepted; unknown ELS rejected");
}

/* --- FCP ----------------------------------------------------------------------- */

struct fcp_result {
	uint8_t status;
	uint8_t flags;
	uint32_t resid;
	uint8_t sense_key;
	uint32_t data_len;
	uint8_t rsp_code;
	uint8_t asc, ascq;
};

static void fcp_cmnd(const uint8_t *cdb, uint8_t tmf, bool rd, bool wr, uint32_t dl, uint16_t ox,
		     uint8_t *payload)
{
	struct fc_hdr h;

	memset(payload, 0, FCP_CMND_LEN);
	payload[1] = 0;    /* LUN 0 */
	payload[10] = tmf;
	payload[11] = (uint8_t)((rd ? FCP_CMND_RDDATA : 0) | (wr ? FCP_CMND_WRDATA : 0));
	if (cdb)
		memcpy(payload + 12, cdb, 16);
	put_be32(payload + 28, dl);
	fc_req_hdr(&h, FC_RCTL_DD_UNSOL_CMD, FC_TYPE_FCP, ox);
	send_fc(&h, payload, FCP_CMND_LEN, FC_SOF_I3, FC_EOF_T);
}

/* Loss simulation for writes: the data frame of this index is not sent
 * (-1: none); no data frame from this index on is sent (-1: all). */
static int skip_frame = -1, stop_frame = -1;

static struct fcp_result scsi(const uint8_t *cdb, uint8_t tmf, bool rd, bool wr, uint8_t *data, uint32_t dl)
{
	uint8_t cmnd[FCP_CMND_LEN];
	struct fcp_result res;
	uint16_t ox = next_ox++;
	struct fcoe_rx rx;
	uint16_t rx_id = 0;

	memset(&res, 0, sizeof(res));
	fcp_cmnd(cdb, tmf, rd, wr, dl, ox, cmnd);
	for (;;) {
		if (!recv_fc(&rx, ox, 5000))
			FAIL("no FCP answer (CDB 0x%02x)", cdb ? cdb[0] : 0);
		if (!(rx.fh.f_ctl & FC_FC_EX_CTX))
			FAIL("FCP frame without EX_CTX");
		if (rx_id && rx.fh.rx_id != rx_id)
			FAIL("RX_ID changed within the exchange");
		rx_id = rx.fh.rx_id;
		if (rx.fh.r_ctl == FC_RCTL_DD_DATA_DESC) {
			uint32_t off, burst, chunk = MIN(tgt->max_payload, 2048u) & ~3u, done = 0;
			uint16_t cnt = 0;

			if (!wr || rx.payload_len < 12)
				FAIL("unexpected FCP_XFER_RDY");
			off = get_be32(rx.payload);
			burst = get_be32(rx.payload + 4);
			if (off + burst > dl)
				FAIL("FCP_XFER_RDY beyond FCP_DL");
			while (done < burst) {
				struct fc_hdr h;
				uint32_t n = MIN(chunk, burst - done);
				bool last = done + n == burst;

				if ((int)cnt == stop_frame)
					break;
				if ((int)cnt == skip_frame) {
					cnt++;
					done += n;
					continue;
				}

				fc_req_hdr(&h, FC_RCTL_DD_SOL_DATA, FC_TYPE_FCP, ox);
				h.rx_id = rx_id;
				h.f_ctl = FC_FC_REL_OFF | (last ? FC_FC_END_SEQ | FC_FC_SEQ_INIT : 0);
				h.seq_id = 9;
				h.seq_cnt = cnt++;
				h.param = off + done;
				send_fc(&h, data + off + done, n, done ? FC_SOF_N3 : FC_SOF_I3,
					last ? FC_EOF_T : FC_EOF_N);
				done += n;
			}
			continue;
		}
		if (rx.fh.r_ctl == FC_RCTL_DD_SOL_DATA) {
			if (!rd || !(rx.fh.f_ctl & FC_FC_REL_OFF) || rx.fh.param + rx.payload_len > dl)
				FAIL("unexpected FCP_DATA (offset %u len %u)", rx.fh.param, rx.payload_len);
			if (rx.fh.param != res.data_len)
				FAIL("FCP_DATA out of order");
			if (rx.payload_len > tgt->max_payload && rx.payload_len > 2048)
				FAIL("FCP_DATA frame larger than our max payload");
			memcpy(data + rx.fh.param, rx.payload, rx.payload_len);
			res.data_len += rx.payload_len;
			continue;
		}
		if (rx.fh.r_ctl != FC_RCTL_DD_CMD_STATUS || rx.payload_len < 24)
			FAIL("unexpected FCP frame r_ctl 0x%02x", rx.fh.r_ctl);
		if (!(rx.fh.f_ctl & FC_FC_LAST_SEQ) || rx.eof != FC_EOF_T)
			FAIL("FCP_RSP does not end the exchange");
		res.flags = rx.payload[10];
		res.status = rx.payload[11];
		res.resid = get_be32(rx.payload + 12);
		if (res.flags & FCP_SNS_LEN_VAL && rx.payload_len >= 24 + 3) {
			const uint8_t *sense = rx.payload + 24 +
					       (res.flags & FCP_RSP_LEN_VAL ? get_be32(rx.payload + 20) : 0);

			res.sense_key = sense[2] & 0xf;
			/* Fixed format sense (SPC-4 4.5.3): ASC, ASCQ at 12, 13. */
			if (sense + 14 <= rx.payload + rx.payload_len) {
				res.asc = sense[12];
				res.ascq = sense[13];
			}
		}
		if (res.flags & FCP_RSP_LEN_VAL && rx.payload_len >= 32)
			res.rsp_code = rx.payload[24 + 3];
		return res;
	}
}

static void fcp_tests(uint64_t blocks, bool expect_ua)
{
	static uint8_t wbuf[256 * 1024], rbuf[256 * 1024];
	uint8_t cdb[16], inq[96];
	struct fcp_result r;

	memset(cdb, 0, 16);
	cdb[0] = 0x12;   /* INQUIRY */
	cdb[4] = 96;
	r = scsi(cdb, 0, true, false, inq, 96);
	if (r.status || (inq[0] & 0x1f) != 0 || r.data_len < 36)
		FAIL("INQUIRY status %u type %u len %u", r.status, inq[0] & 0x1f, r.data_len);
	if (r.data_len < 96 && !(r.flags & FCP_RESID_UNDER && r.resid == 96 - r.data_len))
		FAIL("INQUIRY residual %u flags 0x%x for %u bytes", r.resid, r.flags, r.data_len);
	OK("INQUIRY: '%.8s' '%.16s', %u bytes", inq + 8, inq + 16, r.data_len);

	memset(cdb, 0, 16);   /* TEST UNIT READY: the power-on unit attention */
	r = scsi(cdb, 0, false, false, NULL, 0);
	if (expect_ua && (r.status != 2 || r.sense_key != 6))
		FAIL("first TEST UNIT READY: status %u sense key %u, expected UNIT ATTENTION", r.status, r.sense_key);
	if (expect_ua)
		r = scsi(cdb, 0, false, false, NULL, 0);
	if (r.status)
		FAIL("second TEST UNIT READY: status %u", r.status);
	OK("TEST UNIT READY: %sGOOD", expect_ua ? "UNIT ATTENTION with sense, then " : "");

	memset(cdb, 0, 16);
	cdb[0] = 0x9e;   /* READ CAPACITY (16) */
	cdb[1] = 0x10;
	cdb[13] = 32;
	r = scsi(cdb, 0, true, false, inq, 32);
	if (r.status || get_be64(inq) + 1 != blocks || get_be32(inq + 8) != 512)
		FAIL("READ CAPACITY(16): status %u, %llu blocks of %u", r.status,
		     (unsigned long long)get_be64(inq) + 1, get_be32(inq + 8));
	OK("READ CAPACITY(16): %llu blocks of 512", (unsigned long long)blocks);

	for (unsigned i = 0; i < sizeof(wbuf); i++)
		wbuf[i] = (uint8_t)(i * 7 + i / 4096);
	memset(cdb, 0, 16);
	cdb[0] = 0x2a;   /* WRITE (10) 512 blocks at LBA 100 */
	put_be32(cdb + 2, 100);
	put_be16(cdb + 7, sizeof(wbuf) / 512);
	r = scsi(cdb, 0, false, true, wbuf, sizeof(wbuf));
	if (r.status)
		FAIL("WRITE(10): status %u sense key %u", r.status, r.sense_key);
	cdb[0] = 0x28;   /* READ (10) */
	memset(rbuf, 0, sizeof(rbuf));
	r = scsi(cdb, 0, true, false, rbuf, sizeof(rbuf));
	if (r.status || r.data_len != sizeof(rbuf) || memcmp(rbuf, wbuf, sizeof(rbuf)))
		FAIL("READ(10) back: status %u, %u bytes, data %s", r.status, r.data_len,
		     memcmp(rbuf, wbuf, sizeof(rbuf)) ? "differs" : "same");
	OK("WRITE(10) then READ(10) of 256 KiB: data read back equal");

	memset(cdb, 0, 16);
	cdb[0] = 0x28;   /* beyond the end: CHECK CONDITION, ILLEGAL REQUEST */
	put_be32(cdb + 2, (uint32_t)blocks);
	put_be16(cdb + 7, 1);
	r = scsi(cdb, 0, true, false, rbuf, 512);
	if (r.status != 2 || r.sense_key != 5)
		FAIL("READ beyond capacity: status %u key %u", r.status, r.sense_key);
	OK("READ beyond capacity: ILLEGAL REQUEST");
}

/* QD1 reads for bench_seconds: IOPS as one synchronous initiator sees it. */
static void bench(void)
{
	static uint8_t buf[8 << 20];
	uint8_t cdb[16] = { 0 };
	struct fcp_result r;
	uint64_t t0, end, n = 0;

	r = scsi(cdb, 0, false, false, NULL, 0);   /* the power-on unit attention */
	cdb[0] = 0x28;
	put_be16(cdb + 7, (uint16_t)(bench_bytes / 512));
	t0 = ms_now();
	end = t0 + (uint64_t)(bench_seconds * 1000);
	while (ms_now() < end) {
		r = scsi(cdb, 0, true, false, buf, bench_bytes);
		if (r.status || r.data_len != bench_bytes)
			FAIL("bench READ: status %u, %u bytes", r.status, r.data_len);
		n++;
	}
	{
		double s = (double)(ms_now() - t0) / 1000;

		printf("bench: %llu reads of %u bytes in %.2f s: %.0f IOPS, %.1f MiB/s\n",
		       (unsigned long long)n, bench_bytes, s, (double)n / s,
		       (double)n * bench_bytes / s / (1 << 20));
	}
}

static void tmf_and_abts(void)
{
	struct fcp_result r;
	uint8_t cdb[16] = { 0 };
	struct fc_hdr h;
	struct fcoe_rx rx;
	uint16_t ox = next_ox++;

	r = scsi(NULL, FCP_TMF_LUN_RESET, false, false, NULL, 0);
	if (!(r.flags & FCP_RSP_LEN_VAL) || r.rsp_code != FCP_TMF_CMPL)
		FAIL("LUN RESET: flags 0x%x response code %u", r.flags, r.rsp_code);
	for (int i = 0; i < 3; i++) {
		r = scsi(cdb, 0, false, false, NULL, 0);
		if (!r.status)
			break;
	}
	if (r.status)
		FAIL("TEST UNIT READY after LUN RESET: status %u", r.status);
	OK("LUN RESET: function complete");

	/* ABTS of an exchange the target does not have: BA_ACC. */
	fc_req_hdr(&h, FC_RCTL_BA_ABTS, FC_TYPE_BLS, ox);
	h.f_ctl = FC_FC_SEQ_INIT | FC_FC_END_SEQ;
	send_fc(&h, NULL, 0, FC_SOF_I3, FC_EOF_T);
	if (!recv_fc(&rx, ox, 3000) || rx.fh.r_ctl != FC_RCTL_BA_ACC || rx.payload_len < 12 ||
	    get_be16(rx.payload + 4) != ox)
		FAIL("ABTS not answered with BA_ACC");
	OK("ABTS answered with BA_ACC");
}

/* A lost write data frame (a gap) and write data that stops: the
 * target ends the command with ABORTED COMMAND at once, or after
 * E_D_TOV, instead of leaving it to the initiator's timeout. */
static void lost_write_data(void)
{
	static uint8_t wbuf[64 * 1024];
	uint8_t cdb[16] = { 0x2a };
	struct fcp_result r;
	uint64_t t0;

	put_be32(cdb + 2, 300);
	put_be16(cdb + 7, sizeof(wbuf) / 512);
	skip_frame = 5;
	t0 = ms_now();
	r = scsi(cdb, 0, false, true, wbuf, sizeof(wbuf));
	skip_frame = -1;
	if (r.status != 2 || r.sense_key != 0xb || ms_now() - t0 > 1500)
		FAIL("write with a lost frame: status %u key %u after %llu ms", r.status, r.sense_key,
		     (unsigned long long)(ms_now() - t0));
	stop_frame = 3;
	t0 = ms_now();
	r = scsi(cdb, 0, false, true, wbuf, sizeof(wbuf));
	stop_frame = -1;
	if (r.status != 2 || r.sense_key != 0xb || ms_now() - t0 < 1500)
		FAIL("write whose data stopped: status %u key %u after %llu ms", r.status, r.sense_key,
		     (unsigned long long)(ms_now() - t0));
	OK("lost write data: ABORTED COMMAND at once (gap) and after E_D_TOV (data stopped)");
}

/* Writes whose data is held back (issue 15): the target keeps buffers for
 * at most 32 MiB of writes still waiting for data per remote port
 * (FCP_WRITE_RECEIVE_BUDGET in fabric/fcoe/fcp.c); later writes get
 * their FCP_XFER_RDY only when earlier ones have their data. 40 writes
 * of 1 MiB, then a TEST UNIT READY: frames of one link keep their order,
 * so by its FCP_RSP the target has seen all 40 and must have sent
 * exactly 32 FCP_XFER_RDY. Then the data goes out one frame per ready
 * write in turn (each stays well inside E_D_TOV), and all 40 must end
 * GOOD, the last 8 after FCP_XFER_RDYs that came as others finished. */
static void withheld_writes(void)
{
	enum { N = 40, ADMITTED = 32, BYTES = 1 << 20 };
	struct w { uint16_t rx_id; uint32_t sent; bool ready, done; uint8_t status; } w[N];
	static uint8_t data[BYTES];
	uint8_t cmnd[FCP_CMND_LEN], cdb[16];
	uint32_t chunk = MIN(tgt->max_payload, 2048u) & ~3u;
	uint16_t ox0 = next_ox, tur_ox = (uint16_t)(ox0 + N);
	unsigned ready = 0, done = 0;
	bool tur_done = false;
	struct fcoe_rx rx;
	uint64_t end;

	next_ox = (uint16_t)(next_ox + N + 1);
	memset(w, 0, sizeof(w));
	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 13 + i / 512);
	for (unsigned i = 0; i < N; i++) {
		memset(cdb, 0, 16);
		cdb[0] = 0x2a;   /* WRITE (10), 1 MiB, 16 places in the 32 MiB LU */
		put_be32(cdb + 2, (i % 16) * (BYTES / 512));
		put_be16(cdb + 7, BYTES / 512);
		fcp_cmnd(cdb, 0, false, true, BYTES, (uint16_t)(ox0 + i), cmnd);
	}
	memset(cdb, 0, 16);
	fcp_cmnd(cdb, 0, false, false, 0, tur_ox, cmnd);
	end = ms_now() + 60000;
	while (done < N) {
		bool to_send = false;

		if (ms_now() > end)
			FAIL("withheld writes: %u of %u ended, %u got FCP_XFER_RDY in 60 s", done, N, ready);
		for (unsigned i = 0; i < N; i++)
			to_send |= w[i].ready && w[i].sent < BYTES;
		/* Data to send: only look at what has come in already. */
		while (recv_fc(&rx, 0xffff, to_send && tur_done ? 1 : 200)) {
			unsigned i = (uint16_t)(rx.fh.ox_id - ox0);

			if (rx.fh.ox_id == tur_ox) {
				if (rx.fh.r_ctl != FC_RCTL_DD_CMD_STATUS || rx.payload_len < 24 || rx.payload[11])
					FAIL("withheld writes: TEST UNIT READY not GOOD");
				if (ready != ADMITTED)
					FAIL("withheld writes: %u of %u writes got FCP_XFER_RDY before their data "
					     "(expected %u: 32 MiB)", ready, N, ADMITTED);
				OK("withheld writes: %u of %u 1 MiB writes sent FCP_XFER_RDY, the rest wait",
				   ready, N);
				tur_done = true;
			} else if (i >= N) {
				FAIL("withheld writes: a frame of exchange 0x%x", rx.fh.ox_id);
			} else if (rx.fh.r_ctl == FC_RCTL_DD_DATA_DESC) {
				if (w[i].ready || rx.payload_len < 12 || get_be32(rx.payload) != 0 ||
				    get_be32(rx.payload + 4) != BYTES)
					FAIL("withheld writes: bad or repeated FCP_XFER_RDY for write %u", i);
				w[i].ready = true;
				w[i].rx_id = rx.fh.rx_id;
				ready++;
			} else if (rx.fh.r_ctl == FC_RCTL_DD_CMD_STATUS && rx.payload_len >= 24) {
				if (!tur_done || w[i].done || w[i].sent != BYTES)
					FAIL("withheld writes: FCP_RSP for write %u after %u bytes (status %u)", i,
					     w[i].sent, rx.payload[11]);
				w[i].done = true;
				w[i].status = rx.payload[11];
				done++;
			} else {
				FAIL("withheld writes: unexpected frame r_ctl 0x%02x", rx.fh.r_ctl);
			}
		}
		if (!tur_done)
			continue;
		for (unsigned i = 0; i < N; i++) {
			struct fc_hdr h;
			uint32_t n = MIN(chunk, BYTES - w[i].sent);
			bool last;

			if (!w[i].ready || w[i].sent == BYTES)
				continue;
			last = w[i].sent + n == BYTES;
			fc_req_hdr(&h, FC_RCTL_DD_SOL_DATA, FC_TYPE_FCP, (uint16_t)(ox0 + i));
			h.rx_id = w[i].rx_id;
			h.f_ctl = FC_FC_REL_OFF | (last ? FC_FC_END_SEQ | FC_FC_SEQ_INIT : 0);
			h.seq_id = 9;
			h.seq_cnt = (uint16_t)(w[i].sent / chunk);
			h.param = w[i].sent;
			send_fc(&h, data + w[i].sent, n, w[i].sent ? FC_SOF_N3 : FC_SOF_I3,
				last ? FC_EOF_T : FC_EOF_N);
			w[i].sent += n;
		}
	}
	for (unsigned i = 0; i < N; i++)
		if (w[i].status)
			FAIL("withheld writes: write %u ended with status %u", i, w[i].status);
	if (ready != N)
		FAIL("withheld writes: %u FCP_XFER_RDY for %u writes", ready, N);
	OK("withheld writes: all %u GOOD, the waiting ones as earlier writes got their data", N);
}

static void bad_input(void)
{
	uint8_t buf[FCOE_MAX_FRAME], cmnd[FCP_CMND_LEN], cdb[16] = { 0x12, 0, 0, 0, 36 };
	struct fc_hdr h;
	struct fcoe_rx rx;
	uint16_t ox = next_ox++;
	struct fip_vn_self s = self_info();
	size_t n;

	/* An INQUIRY with a bad CRC: dropped, no answer. */
	memset(cmnd, 0, sizeof(cmnd));
	cmnd[11] = FCP_CMND_RDDATA;
	memcpy(cmnd + 12, cdb, 16);
	put_be32(cmnd + 28, 36);
	fc_req_hdr(&h, FC_RCTL_DD_UNSOL_CMD, FC_TYPE_FCP, ox);
	n = fcoe_frame_build(buf, sizeof(buf), tgt->vn, my_vn_mac, FC_SOF_I3, FC_EOF_T, &h, cmnd, sizeof(cmnd));
	buf[n - 8] ^= 0xff;
	send_raw(buf, n);
	if (recv_fc(&rx, ox, 700))
		FAIL("a frame with a bad CRC was answered");
	/* The same command truncated at every length: dropped. */
	buf[n - 8] ^= 0xff;
	for (size_t len = ETH_HDR_LEN; len < n; len += 3)
		send_raw(buf, len < 60 ? 60 : len);
	if (recv_fc(&rx, ox, 700))
		FAIL("a truncated frame was answered");
	/* A short FCP_CMND (valid CRC): dropped. */
	n = fcoe_frame_build(buf, sizeof(buf), tgt->vn, my_vn_mac, FC_SOF_I3, FC_EOF_T, &h, cmnd, 16);
	send_raw(buf, n);
	if (recv_fc(&rx, ox, 700))
		FAIL("a short FCP_CMND was answered");
	/* Malformed FIP: zero-length descriptor, list past the end, bad
	 * version, a claim for the target's own address with a lower name. */
	n = fip_build_vn(buf, sizeof(buf), FIP_SC_VN_CLAIM_NOTIFY, fip_all_vn2vn_macs, &s, 0);
	buf[14 + 10 + 1] = 0;
	send_raw(buf, n);
	buf[14 + 10 + 1] = 2;
	put_be16(buf + 14 + 6, 0x7fff);
	send_raw(buf, n);
	buf[14] = 0x70;
	send_raw(buf, n);
	n = fip_build_vn(buf, sizeof(buf), FIP_SC_VN_BEACON, fip_all_vn2vn_macs, &s, 0);
	send_raw(buf, 30);   /* truncated beacon */
	/* Garbage of every ethertype we listen to. */
	memset(buf, 0xa5, 200);
	memcpy(buf, tgt->vn, 6);
	memcpy(buf + 6, my_vn_mac, 6);
	put_be16(buf + 12, ETH_P_FCOE_FRAME);
	send_raw(buf, 200);
	put_be16(buf + 12, ETH_P_FIP_FRAME);
	memcpy(buf, tgt->enode, 6);
	send_raw(buf, 200);
	OK("bad CRC, truncated frames, short FCP_CMND, malformed FIP: dropped");
}

static void logout(void)
{
	uint8_t pl[16], cmnd[FCP_CMND_LEN], cdb[16] = { 0 };
	const uint8_t *r;
	size_t rlen;
	struct fcoe_rx rx;
	uint64_t end;

	memset(pl, 0, sizeof(pl));
	pl[0] = ELS_LOGO;
	put_be24(pl + 5, my_id);
	put_be64(pl + 8, my_wwpn);
	r = els(ELS_LOGO, pl, sizeof(pl), &rlen);
	if (r[0] != ELS_LS_ACC)
		FAIL("LOGO not accepted");
	/* FC-LS-3: a command from a port that is not logged in gets LOGO. */
	fcp_cmnd(cdb, 0, false, false, 0, next_ox++, cmnd);
	end = ms_now() + 3000;
	while (ms_now() < end) {
		if (!recv_fc(&rx, 0xffff, 3000))
			break;
		if (rx.fh.r_ctl == FC_RCTL_DD_CMD_STATUS)
			FAIL("a command after LOGO was executed");
		if (rx.fh.r_ctl == FC_RCTL_ELS_REQ && rx.payload_len >= 4 && rx.payload[0] == ELS_LOGO) {
			OK("LOGO accepted; a command after it answered with LOGO");
			return;
		}
	}
	FAIL("no LOGO from the target for a command after logout");
}

/* --- session mode (tests/cluster/fcoe-cluster.sh) ------------------------------
 *
 * One initiator port, logins to several target ports on the segment, and
 * commands read from stdin, one line each, answered with one line on
 * stdout (the shape of sangw-cluster-client's session mode):
 *   login NAME TARGET_WWPN     claim (again), FLOGI, PLOGI, PRLI: "ok fcid=X"
 *   tur NAME | clear-ua NAME   "ok" / "check K/AS/AQ" / "status 0xNN";
 *                              clear-ua: TEST UNIT READY until no UNIT
 *                              ATTENTION, "... consumed=K/AS/AQ,..."
 *   register NAME KEY | reserve NAME KEY TYPE | release NAME KEY TYPE |
 *   preempt NAME KEY VICTIM TYPE | clear NAME KEY     PERSISTENT RESERVE OUT
 *   read-keys NAME | read-reservation NAME | read-full-status NAME
 *   rtpg NAME                  "ok groups=ID:STATE@REL+REL,..."
 *   vpd83 NAME                 "ok lu=naa.X rtp=N tpg=N port=fc:naa.Y" (in
 *                              the page's order; "iscsi:NAME" for a name string)
 *   write NAME LBA BLOCKS SEED | read NAME LBA BLOCKS SEED  (read: "ok pattern"
 *                              when the blocks hold what write SEED left)
 *   reserve6 NAME | release6 NAME   SPC-2 RESERVE(6) / RELEASE(6)
 *   logo NAME [tur OTHER]      LOGO to NAME's target port, "ok" once its LS_ACC
 *                              is in (NAME is closed; log in again with login);
 *                              with tur, a TEST UNIT READY through session
 *                              OTHER the moment the LS_ACC arrives:
 *                              "ok tur=ok" / "ok tur=status 0x18" ...
 * Everything goes to LUN 0. A lost target ends the program with "FAIL: ...".
 * It beacons every 8 s once logged in, as a VN_Port must. */

struct fc_session {
	char name[32];
	struct peer *peer;
};
#define MAX_FC_SESSIONS 8
static struct fc_session fc_sessions[MAX_FC_SESSIONS];

static void append(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void append(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;

	if (used >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

static void outcome(const struct fcp_result *r, char *buf, size_t len)
{
	if (r->status == 0)
		snprintf(buf, len, "ok");
	else if (r->status == 2)
		snprintf(buf, len, "check %x/%02x/%02x", r->sense_key, r->asc, r->ascq);
	else
		snprintf(buf, len, "status 0x%02x", r->status);
}

static struct peer *peer_note(const struct fip_vn_info *vn)
{
	struct peer *p = NULL;

	for (unsigned i = 0; i < n_peers && !p; i++)
		if (peers[i].wwpn == vn->wwpn)
			p = &peers[i];
	if (!p) {
		if (n_peers == MAX_PEERS)
			return NULL;
		p = &peers[n_peers++];
		p->max_payload = 256;
	}
	memcpy(p->enode, vn->enode_mac, 6);
	memcpy(p->vn, vn->vn_mac, 6);
	p->id = vn->port_id;
	p->wwpn = vn->wwpn;
	return p;
}

/* Claim (FC-BB-6 7.8.7.3) until the target port named wwpn answers with a
 * Claim Response; a known neighbour takes a repeated claim as a refresh. */
static struct peer *claim_peer(uint64_t wwpn)
{
	struct fip_vn_self s = self_info();
	uint8_t buf[2400];

	for (int tries = 0; tries < 10; tries++) {
		size_t n = fip_build_vn(buf, sizeof(buf), FIP_SC_VN_CLAIM_NOTIFY, fip_all_vn2vn_macs, &s, 0);
		uint64_t wait_end = ms_now() + 1000;

		send_raw(buf, n);
		while (ms_now() < wait_end) {
			struct fip_msg m;
			struct fip_vn_info vn;
			struct peer *p;

			n = recv_frame(100);
			if (!n || get_be16(rxbuf + 12) != ETH_P_FIP_FRAME)
				continue;
			if (fip_parse(rxbuf, n, &m) < 0 || m.op != FIP_OP_VN2VN ||
			    m.subcode != FIP_SC_VN_CLAIM_REP || memcmp(m.dst, my_mac, 6) ||
			    fip_vn_parse(&m, &vn) < 0 || !vn.fcp_target)
				continue;
			if (vn.port_id == my_id)
				FAIL("target %016llx claimed our address", (unsigned long long)vn.wwpn);
			p = peer_note(&vn);
			if (p && p->wwpn == wwpn)
				return p;
		}
	}
	return NULL;
}

static struct fc_session *fc_session_find(const char *name)
{
	for (unsigned i = 0; i < MAX_FC_SESSIONS; i++)
		if (fc_sessions[i].peer && !strcmp(fc_sessions[i].name, name))
			return &fc_sessions[i];
	return NULL;
}

static struct fcp_result pr_out(uint8_t sa, uint8_t type, uint64_t key, uint64_t sa_key)
{
	uint8_t cdb[16] = { 0x5f }, pl[24];

	memset(pl, 0, sizeof(pl));
	cdb[1] = sa;
	cdb[2] = type;               /* SCOPE 0h: LU_SCOPE */
	put_be32(cdb + 5, sizeof(pl));
	put_be64(pl, key);
	put_be64(pl + 8, sa_key);
	return scsi(cdb, 0, false, true, pl, sizeof(pl));
}

static void pattern(uint8_t *buf, uint64_t lba, uint32_t blocks, uint32_t seed)
{
	for (uint32_t b = 0; b < blocks; b++)
		for (uint32_t i = 0; i < 512; i++)
			buf[(size_t)b * 512 + i] = (uint8_t)((lba + b) * 31 + i * 7 + seed);
}

/* SPC-4 6.15.5 READ FULL STATUS: ";"-separated KEY/REL/TRANSPORTID[/holder:TYPE],
 * the TransportID as "fc:naa.WWPN" (7.6.4.2) or "iscsi:NAME" (7.6.4.6). */
static void describe_full_status(const uint8_t *d, uint32_t n, char *buf, size_t len)
{
	uint32_t end = MIN(n, 8 + get_be32(d + 4));

	append(buf, len, " gen=0x%x regs=", get_be32(d));
	for (uint32_t off = 8, first = 1; off + 24 <= end; first = 0) {
		const uint8_t *e = d + off, *tid = e + 24;
		uint32_t tid_len = get_be32(e + 20);

		append(buf, len, "%s0x%llx/%u/", first ? "" : ";", (unsigned long long)get_be64(e),
		       get_be16(e + 18));
		if (off + 24 + tid_len > end)
			break;
		if ((tid[0] & 0x0f) == 0 && tid_len >= 24)
			append(buf, len, "fc:naa.%016llx", (unsigned long long)get_be64(tid + 8));
		else if ((tid[0] & 0x0f) == 5 && tid_len > 4)
			append(buf, len, "iscsi:%.*s", (int)strnlen((const char *)tid + 4, tid_len - 4),
			       (const char *)tid + 4);
		else
			append(buf, len, "proto%u", tid[0] & 0x0f);
		if (e[12] & 0x01)
			append(buf, len, "/holder:%u", e[13] & 0x0f);
		off += 24 + tid_len;
	}
	if (end <= 8)
		append(buf, len, "none");
}

/* SPC-4 6.36: "groups=ID:STATE@REL+REL,..." */
static void describe_rtpg(const uint8_t *d, uint32_t n, char *buf, size_t len)
{
	static const char *const names[16] = {
		[0x0] = "ao", [0x1] = "an", [0x2] = "sb", [0x3] = "un", [0xe] = "of", [0xf] = "tr",
	};
	uint32_t end = MIN(n, 4 + get_be32(d));

	append(buf, len, " groups=");
	for (uint32_t off = 4, first = 1; off + 8 <= end; first = 0) {
		const char *name = names[d[off] & 0x0f];

		append(buf, len, "%s%u:%s@", first ? "" : ",", get_be16(d + off + 2), name ? name : "??");
		for (unsigned p = 0; p < d[off + 7] && off + 12 + 4 * p <= end; p++)
			append(buf, len, "%s%u", p ? "+" : "", get_be16(d + off + 8 + 4 * p + 2));
		off += 8 + 4 * d[off + 7];
	}
}

/* SPC-4 7.8.6 Device Identification: the LU's and the target port's NAA
 * names, the relative target port (type 4h) and target port group (5h). */
static void describe_vpd83(const uint8_t *d, uint32_t n, char *buf, size_t len)
{
	uint32_t end = MIN(n, 4u + get_be16(d + 2));

	for (uint32_t off = 4; off + 4 <= end; off += 4 + d[off + 3]) {
		const uint8_t *id = d + off + 4;
		uint8_t type = d[off + 1] & 0x0f, assoc = (d[off + 1] >> 4) & 3, idlen = d[off + 3];

		if (off + 4 + idlen > end)
			break;
		if (type == 3 && assoc == 0) {
			append(buf, len, " lu=naa.");
			for (unsigned i = 0; i < idlen; i++)
				append(buf, len, "%02x", id[i]);
		} else if (type == 3 && assoc == 1 && idlen == 8) {
			/* The target port's name: "fc:" when PIV and protocol FC (0). */
			append(buf, len, " port=%snaa.%016llx",
			       d[off + 1] & 0x80 && !(d[off] >> 4) ? "fc:" : "",
			       (unsigned long long)get_be64(id));
		} else if (type == 8 && assoc == 1) {
			append(buf, len, " port=%s%.*s", d[off + 1] & 0x80 && d[off] >> 4 == 5 ? "iscsi:" : "",
			       (int)strnlen((const char *)id, idlen), (const char *)id);
		} else if (type == 4 && idlen >= 4) {
			append(buf, len, " rtp=%u", get_be16(id + 2));
		} else if (type == 5 && idlen >= 4) {
			append(buf, len, " tpg=%u", get_be16(id + 2));
		}
	}
}

static void session_command(int argc, char **argv, char *buf, size_t len)
{
	static uint8_t data[256 * 512], want[256 * 512];
	struct fc_session *s;
	struct fcp_result r;
	uint8_t cdb[16];

	buf[0] = '\0';
	memset(cdb, 0, sizeof(cdb));
	if (!strcmp(argv[0], "login") && argc == 3) {
		struct fc_session *slot = NULL;
		struct peer *p;

		for (unsigned i = 0; i < MAX_FC_SESSIONS && !slot; i++)
			if (!fc_sessions[i].peer)
				slot = &fc_sessions[i];
		if (fc_session_find(argv[1]) || !slot) {
			snprintf(buf, len, "error session %s is open, or too many", argv[1]);
			return;
		}
		p = claim_peer(strtoull(argv[2], NULL, 0));
		if (!p) {
			snprintf(buf, len, "error no claim response from %s", argv[2]);
			return;
		}
		tgt = p;
		flogi();
		plogi();
		prli();
		snprintf(slot->name, sizeof(slot->name), "%s", argv[1]);
		slot->peer = p;
		snprintf(buf, len, "ok fcid=%06x", p->id);
		return;
	}
	if (argc < 2 || !(s = fc_session_find(argv[1]))) {
		snprintf(buf, len, "error usage or no such session: %s", argv[0]);
		return;
	}
	tgt = s->peer;
	if (!strcmp(argv[0], "tur") && argc == 2) {
		r = scsi(cdb, 0, false, false, NULL, 0);
		outcome(&r, buf, len);
	} else if ((!strcmp(argv[0], "reserve6") || !strcmp(argv[0], "release6")) && argc == 2) {
		cdb[0] = argv[0][2] == 's' ? 0x16 : 0x17;
		r = scsi(cdb, 0, false, false, NULL, 0);
		outcome(&r, buf, len);
	} else if (!strcmp(argv[0], "logo") && (argc == 2 || (argc == 4 && !strcmp(argv[2], "tur")))) {
		struct fc_session *other = argc == 4 ? fc_session_find(argv[3]) : NULL;
		uint8_t pl[16];
		const uint8_t *acc;
		size_t rlen;

		if (argc == 4 && (!other || other == s)) {
			snprintf(buf, len, "error no such other session: %s", argv[3]);
			return;
		}
		memset(pl, 0, sizeof(pl));
		pl[0] = ELS_LOGO;
		put_be24(pl + 5, my_id);
		put_be64(pl + 8, my_wwpn);
		acc = els(ELS_LOGO, pl, sizeof(pl), &rlen);
		if (acc[0] != ELS_LS_ACC) {
			snprintf(buf, len, "error LOGO answered 0x%02x", acc[0]);
			return;
		}
		s->peer = NULL;
		snprintf(buf, len, "ok");
		if (other) {
			/* No pause: the LS_ACC says the nexus is gone everywhere. */
			tgt = other->peer;
			r = scsi(cdb, 0, false, false, NULL, 0);
			append(buf, len, " tur=");
			outcome(&r, buf + strlen(buf), len - strlen(buf));
		}
	} else if (!strcmp(argv[0], "clear-ua") && argc == 2) {
		char seen[256] = "";

		for (int i = 0; i < 20; i++) {
			r = scsi(cdb, 0, false, false, NULL, 0);
			if (r.status != 2 || r.sense_key != 6)
				break;
			append(seen, sizeof(seen), "%s%x/%02x/%02x", seen[0] ? "," : "", r.sense_key,
			       r.asc, r.ascq);
		}
		outcome(&r, buf, len);
		append(buf, len, " consumed=%s", seen[0] ? seen : "none");
	} else if (!strcmp(argv[0], "register") && argc == 3) {
		/* REGISTER AND IGNORE EXISTING KEY */
		r = pr_out(0x06, 0, 0, strtoull(argv[2], NULL, 0));
		outcome(&r, buf, len);
	} else if ((!strcmp(argv[0], "reserve") || !strcmp(argv[0], "release")) && argc == 4) {
		r = pr_out(argv[0][2] == 's' ? 0x01 : 0x02, (uint8_t)atoi(argv[3]),
			   strtoull(argv[2], NULL, 0), 0);
		outcome(&r, buf, len);
	} else if (!strcmp(argv[0], "preempt") && argc == 5) {
		r = pr_out(0x04, (uint8_t)atoi(argv[4]), strtoull(argv[2], NULL, 0),
			   strtoull(argv[3], NULL, 0));
		outcome(&r, buf, len);
	} else if (!strcmp(argv[0], "clear") && argc == 3) {
		r = pr_out(0x03, 0, strtoull(argv[2], NULL, 0), 0);
		outcome(&r, buf, len);
	} else if ((!strcmp(argv[0], "read-keys") || !strcmp(argv[0], "read-reservation") ||
		    !strcmp(argv[0], "read-full-status")) && argc == 2) {
		uint8_t sa = argv[0][5] == 'k' ? 0 : argv[0][5] == 'r' ? 1 : 3;

		cdb[0] = 0x5e;
		cdb[1] = sa;
		put_be16(cdb + 7, 4096);
		memset(data, 0, 4096);
		r = scsi(cdb, 0, true, false, data, 4096);
		outcome(&r, buf, len);
		if (r.status || r.data_len < 8)
			return;
		if (sa == 0) {
			append(buf, len, " gen=0x%x keys=", get_be32(data));
			for (uint32_t off = 8; off + 8 <= MIN(r.data_len, 8 + get_be32(data + 4)); off += 8)
				append(buf, len, "%s0x%llx", off == 8 ? "" : ",",
				       (unsigned long long)get_be64(data + off));
			if (!get_be32(data + 4))
				append(buf, len, "none");
		} else if (sa == 1) {
			append(buf, len, " gen=0x%x", get_be32(data));
			if (get_be32(data + 4) >= 16 && r.data_len >= 24)
				append(buf, len, " reservation=0x%llx type=%u",
				       (unsigned long long)get_be64(data + 8), data[21] & 0x0f);
			else
				append(buf, len, " reservation=none");
		} else {
			describe_full_status(data, r.data_len, buf, len);
		}
	} else if (!strcmp(argv[0], "rtpg") && argc == 2) {
		cdb[0] = 0xa3;   /* MAINTENANCE IN / REPORT TARGET PORT GROUPS */
		cdb[1] = 0x0a;
		put_be32(cdb + 6, 1024);
		r = scsi(cdb, 0, true, false, data, 1024);
		outcome(&r, buf, len);
		if (!r.status && r.data_len >= 4)
			describe_rtpg(data, r.data_len, buf, len);
	} else if (!strcmp(argv[0], "vpd83") && argc == 2) {
		cdb[0] = 0x12;   /* INQUIRY, EVPD, page 83h */
		cdb[1] = 0x01;
		cdb[2] = 0x83;
		put_be16(cdb + 3, 1024);
		r = scsi(cdb, 0, true, false, data, 1024);
		outcome(&r, buf, len);
		if (!r.status && r.data_len >= 4)
			describe_vpd83(data, r.data_len, buf, len);
	} else if ((!strcmp(argv[0], "write") || !strcmp(argv[0], "read")) && argc == 5) {
		uint64_t lba = strtoull(argv[2], NULL, 0);
		uint32_t blocks = (uint32_t)strtoul(argv[3], NULL, 0);
		bool wr = argv[0][0] == 'w';

		if (!blocks || blocks > 256) {
			snprintf(buf, len, "error 1-256 blocks");
			return;
		}
		pattern(want, lba, blocks, (uint32_t)strtoul(argv[4], NULL, 0));
		cdb[0] = wr ? 0x8a : 0x88;   /* WRITE (16) / READ (16) */
		put_be64(cdb + 2, lba);
		put_be32(cdb + 10, blocks);
		memset(data, 0, blocks * 512);
		r = scsi(cdb, 0, !wr, wr, wr ? want : data, blocks * 512);
		outcome(&r, buf, len);
		if (!wr && !r.status)
			append(buf, len, " %s", r.data_len == blocks * 512 && !memcmp(data, want, blocks * 512)
						? "pattern" : "other-data");
	} else {
		snprintf(buf, len, "error usage: %s", argv[0]);
	}
}

/* FC-BB-6 7.8.7.4: a VN_Port beacons every 8 s; a target drops a
 * neighbour whose beacons stop. From the first login on, also while idle. */
static uint64_t last_beacon_ms;

static void beacon_if_due(void)
{
	struct fip_vn_self s = self_info();
	uint8_t buf[2400];

	if (!n_peers || ms_now() - last_beacon_ms < FIP_VN_BEACON_INT_MS)
		return;
	send_raw(buf, fip_build_vn(buf, sizeof(buf), FIP_SC_VN_BEACON, fip_all_vn2vn_macs, &s, 0));
	last_beacon_ms = ms_now();
}

static int session_main(void)
{
	char line[1024], answer[4096];

	many_targets = true;
	for (;;) {
		struct pollfd pfd = { .fd = 0, .events = POLLIN };
		char *argv[8], *save = NULL;
		int argc = 0;

		/* One command at a time (the shell waits for each answer), so
		 * stdin's buffer holds no second line while we poll. */
		beacon_if_due();
		if (poll(&pfd, 1, 1000) == 0)
			continue;
		if (!fgets(line, sizeof(line), stdin))
			break;

		for (char *t = strtok_r(line, " \t\r\n", &save); t && argc < 8;
		     t = strtok_r(NULL, " \t\r\n", &save))
			argv[argc++] = t;
		if (!argc)
			continue;
		beacon_if_due();
		session_command(argc, argv, answer, sizeof(answer));
		printf("%s\n", answer);
		fflush(stdout);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_ll sll;
	struct packet_mreq mr;
	struct ifreq ifr;
	int ifindex;

	bool session = false;

	ok_out = stdout;
	if (argc == 5 && !strcmp(argv[4], "--expect-denied")) {
		expect_denied = true;
		argc--;
	}
	if (argc == 6 && !strcmp(argv[4], "--bench")) {
		if (sscanf(argv[5], "%lf,%u", &bench_seconds, &bench_bytes) != 2 || bench_seconds <= 0 ||
		    !bench_bytes || bench_bytes % 512 || bench_bytes > (8u << 20))
			FAIL("--bench SECONDS,BYTES (BYTES a multiple of 512, at most 8 MiB)");
		argc -= 2;
	}
	if ((argc == 4 || argc == 5) && !strcmp(argv[3], "--session")) {
		session = true;
		ok_out = stderr;
		if (argc == 5)
			my_id = (uint32_t)strtoul(argv[4], NULL, 16) & 0xffffff;
		argc = 4;
	}
	if (argc != 4 || !(ifindex = (int)if_nametoindex(argv[1])) || !my_id) {
		fprintf(stderr, "usage: fcoe-initiator IFNAME WWPN EXPECTED_BLOCKS "
			"[--expect-denied | --bench SECONDS,BYTES]\n"
			"       fcoe-initiator IFNAME WWPN --session [FC_ID]   (commands on stdin)\n");
		return 2;
	}
	my_wwpn = strtoull(argv[2], NULL, 0);
	/* Several initiators on one link need addresses of their own. */
	if (getenv("FCOE_INITIATOR_PORT_ID"))
		my_id = (uint32_t)strtoul(getenv("FCOE_INITIATOR_PORT_ID"), NULL, 0) & 0xffffff;
	fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	if (fd < 0)
		FAIL("socket: %s", strerror(errno));
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", argv[1]);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		FAIL("SIOCGIFHWADDR: %s", strerror(errno));
	memcpy(my_mac, ifr.ifr_hwaddr.sa_data, 6);
	fcoe_vn_mac(my_vn_mac, FCOE_VN2VN_FC_MAP, my_id);
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = ifindex;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		FAIL("bind: %s", strerror(errno));
	{
		int size = 16 << 20;

		setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	}
	memset(&mr, 0, sizeof(mr));
	mr.mr_ifindex = ifindex;
	mr.mr_type = PACKET_MR_PROMISC;
	setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr));

	if (session)
		return session_main();
	claim();
	if (tgt->id == my_id)
		FAIL("target took our address");
	flogi();
	plogi();
	prli_and_friends();
	if (bench_bytes) {
		bench();
		logout();
		return 0;
	}
	fcp_tests(strtoull(argv[3], NULL, 0), true);
	tmf_and_abts();
	lost_write_data();
	withheld_writes();
	bad_input();
	fcp_tests(strtoull(argv[3], NULL, 0), false);   /* still serving */
	logout();
	printf("all passed\n");
	return 0;
}
