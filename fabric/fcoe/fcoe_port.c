/* FCoE VN2VN ports (FC-BB-6 7.8.7): an AF_PACKET socket on the
 * interface, the VN_Port address claim (probe, claim, beacons, conflict
 * resolution), the table of neighbouring VN_Ports and the dispatch of
 * received frames to FIP, ELS, BLS and FCP. One socket per thread in a
 * PACKET_FANOUT group steers each nexus' FCP frames to its worker
 * (fcoe.h, fcoe_port_steer()). Frames are received in batches
 * (recvmmsg) and sent in batches (sendmmsg, flushed once per event-loop
 * batch of the sending thread). */
#include "fcoe.h"
#include "fcoe_fabric.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../gateway/scsi/target_ports.h"
#include "../../gateway/log.h"
#include "../../gateway/util.h"

static TAILQ_HEAD(, fcoe_port) fcoe_ports = TAILQ_HEAD_INITIALIZER(fcoe_ports);

static void port_timer(struct event_loop *loop, void *arg);

unsigned fcoe_port_count(void)
{
	struct fcoe_port *port;
	unsigned n = 0;

	TAILQ_FOREACH(port, &fcoe_ports, link)
		n++;
	return n;
}

/* --- sending ------------------------------------------------------------------ */

struct fcoe_slot *fcoe_slot_here(struct fcoe_port *port)
{
	unsigned slot = worker_slot();

	/* A worker only runs the exchanges of its own slot's nexuses. */
	return slot < port->nslots ? port->slots[slot] : port->slots[0];
}

static void tx_flush(void *arg)
{
	struct fcoe_slot *sl = arg;
	struct mmsghdr msgs[FCOE_TX_BATCH];
	struct iovec iov[FCOE_TX_BATCH];
	unsigned done = 0, spins = 0;

	if (sl->tx_flush.queued)
		ev_defer_cancel(sl->loop, &sl->tx_flush);
	memset(msgs, 0, sizeof(msgs[0]) * sl->tx_count);
	for (unsigned i = 0; i < sl->tx_count; i++) {
		iov[i].iov_base = sl->tx_buf + (size_t)i * FCOE_TX_FRAME_CAP;
		iov[i].iov_len = sl->tx_len[i];
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	while (done < sl->tx_count) {
		int n = sendmmsg(sl->fd, msgs + done, sl->tx_count - done, 0);

		sl->tx_calls++;
		if (n > 0) {
			done += (unsigned)n;
			sl->tx_frames += (uint64_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == ENOBUFS) && spins++ < 1000) {
			/* The device queue is full: wait for room, briefly. */
			struct pollfd pfd = { .fd = sl->fd, .events = POLLOUT };
			poll(&pfd, 1, 1);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		sl->tx_errors += sl->tx_count - done;
		log_debug("fcoe %s: send: %s", sl->port->ifname, n < 0 ? strerror(errno) : "short");
		break;
	}
	sl->tx_count = 0;
}

uint8_t *fcoe_tx_buf(struct fcoe_port *port)
{
	struct fcoe_slot *sl = fcoe_slot_here(port);

	if (sl->tx_count == FCOE_TX_BATCH)
		tx_flush(sl);
	return sl->tx_buf + (size_t)sl->tx_count * FCOE_TX_FRAME_CAP;
}

void fcoe_tx_commit(struct fcoe_port *port, size_t len)
{
	struct fcoe_slot *sl = fcoe_slot_here(port);

	if (!len)
		return;
	sl->tx_len[sl->tx_count++] = (uint32_t)len;
	if (!sl->tx_flush.queued)
		ev_defer(sl->loop, &sl->tx_flush, tx_flush, sl);
}

int fcoe_send_fc(struct fcoe_rport *rp, uint8_t sof, uint8_t eof, const struct fc_hdr *h,
		 const void *payload, size_t len)
{
	struct fcoe_port *port = rp->port;
	uint8_t *buf = fcoe_tx_buf(port);
	size_t n = fcoe_frame_build(buf, FCOE_TX_FRAME_CAP, rp->vn_mac, port->vn_mac, sof, eof, h,
				    payload, len);

	if (!n)
		return -1;
	fcoe_tx_commit(port, n);
	rp->tx_frames++;
	return 0;
}

void fcoe_count_drop(struct fcoe_port *port)
{
	fcoe_slot_here(port)->rx_dropped++;
}

uint8_t fcoe_next_seq_id(struct fcoe_rport *rp)
{
	return rp->next_seq_id++;
}

uint16_t fcoe_next_xid(struct fcoe_rport *rp)
{
	if (rp->next_xid < 0x8000 || rp->next_xid >= 0xfffe)
		rp->next_xid = 0x8000;
	return rp->next_xid++;
}

struct event_loop *fcoe_rport_loop(const struct fcoe_rport *rp)
{
	return worker_loop(rp->slot);   /* slot 0: the control loop */
}

/* --- steering received frames to the workers ----------------------------------- */

/* Why a fanout program: the FCP frames of a nexus must reach the one
 * thread that owns its exchanges, and the control thread (which stops
 * the world for each of its batches) must stay out of the data path, so
 * it cannot receive them and hand them over. PACKET_FANOUT_HASH does not
 * help: the kernel's flow hash knows no FC addresses (its dissector only
 * steps over the FCoE header, and Ethernet addresses are not hashed), so
 * every FCoE frame of a link hashes alike. A classic BPF program run by the fanout group delivers
 * each frame to exactly one socket, and replacing it is atomic: the FCP
 * (TYPE 8) and BLS (TYPE 0, ABTS) frames whose S_ID has a nexus on a
 * worker go to that worker's socket (index = slot: sockets join in slot
 * order), all else to socket 0 (FIP, ELS, ports not logged in). Loads
 * are relative to the link-layer header (SKF_LL_OFF), wherever the
 * kernel's data pointer is when the program runs. */
#define STEER_ETH  (SKF_LL_OFF)
#define STEER_FC   (SKF_LL_OFF + ETH_HDR_LEN + FCOE_HDR_LEN)
#define STEER_MAX  1000   /* remote ports on workers (BPF_MAXINSNS 4096) */

void fcoe_port_steer(struct fcoe_port *port)
{
	struct sock_filter *prog;
	struct fcoe_rport *rp;
	struct sock_fprog fprog;
	unsigned n = 0, entries = 0;

	if (port->nslots < 2)
		return;
	prog = calloc(10 + 2 * STEER_MAX + 1, sizeof(*prog));
	if (!prog) {
		log_warn("fcoe %s: out of memory for the fanout program", port->ifname);
		return;
	}
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_H | BPF_ABS, STEER_ETH + 12);
	prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_FCOE_FRAME, 1, 0);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_B | BPF_ABS, STEER_FC + 8);   /* TYPE */
	prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, FC_TYPE_FCP, 2, 0);
	prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, FC_TYPE_BLS, 1, 0);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, STEER_FC + 4);   /* CS_CTL, S_ID */
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xffffff);
	TAILQ_FOREACH(rp, &port->rports, link) {
		if (!rp->nexus_registered || !rp->slot || rp->slot >= port->nslots)
			continue;
		if (entries == STEER_MAX)
			break;   /* the rest stays on the control thread: slower, still right */
		prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, rp->port_id, 0, 1);
		prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, rp->slot);
		entries++;
	}
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
	fprog.len = (unsigned short)n;
	fprog.filter = prog;
	if (setsockopt(port->fd, SOL_PACKET, PACKET_FANOUT_DATA, &fprog, sizeof(fprog)) < 0)
		log_warn("fcoe %s: fanout program: %s; FCP stays on the control thread", port->ifname,
			 strerror(errno));
	else
		port->steered = entries;
	free(prog);
}

/* --- remote ports --------------------------------------------------------------- */

struct fcoe_rport *fcoe_rport_find(struct fcoe_port *port, uint32_t port_id)
{
	struct fcoe_rport *rp;

	TAILQ_FOREACH(rp, &port->rports, link)
		if (rp->port_id == port_id)
			return rp;
	return NULL;
}

void fcoe_rport_get(struct fcoe_rport *rp)
{
	rp->refs++;
}

void fcoe_rport_put(struct fcoe_rport *rp)
{
	if (--rp->refs == 0)
		free(rp);
}

void fcoe_rport_logout(struct fcoe_rport *rp, const char *why)
{
	fcoe_rport_logout_then(rp, why, NULL, NULL);
}

void fcoe_rport_logout_then(struct fcoe_rport *rp, const char *why,
			    scsi_nexus_released_fn released, void *ctx)
{
	if (rp->plogi || rp->prli || rp->flogi)
		log_info("fcoe %s: remote port %06x (wwpn %016llx) logged out: %s", rp->port->ifname,
			 rp->port_id, (unsigned long long)rp->wwpn, why);
	fcp_nexus_down_then(rp, released, ctx);
	rp->flogi = rp->plogi = rp->prli = false;
	rp->plogi_ox_id = FC_XID_UNKNOWN;
	rp->plogi_tries = 0;
	rp->logo_sent = false;
	ev_timer_cancel(rp->port->gw->loop, &rp->plogi_timer);
}

static void rport_remove(struct fcoe_rport *rp, const char *why)
{
	fcoe_rport_logout(rp, why);
	/* Exchanges still in the core keep rp (their references) and end
	 * without sending anything (rp->removed). */
	TAILQ_REMOVE(&rp->port->rports, rp, link);
	rp->removed = true;
	if (rp->slot_picked)
		workers_release(rp->slot);
	fcoe_rport_put(rp);
}

/* A neighbour from a claim (FC-BB-6 7.8.7.3): add it, or refresh it. */
static struct fcoe_rport *rport_add(struct fcoe_port *port, const struct fip_vn_info *vn)
{
	struct fcoe_rport *rp, *next;

	/* The same port name under another address: it re-claimed. */
	for (rp = TAILQ_FIRST(&port->rports); rp; rp = next) {
		next = TAILQ_NEXT(rp, link);
		if (rp->wwpn == vn->wwpn && rp->port_id != vn->port_id)
			rport_remove(rp, "claimed a new address");
	}
	rp = fcoe_rport_find(port, vn->port_id);
	if (rp && (rp->wwpn != vn->wwpn || rp->wwnn != vn->wwnn)) {
		rport_remove(rp, "address taken by another port");
		rp = NULL;
	}
	if (!rp) {
		rp = calloc(1, sizeof(*rp));
		if (!rp)
			return NULL;
		rp->port = port;
		rp->port_id = vn->port_id;
		rp->refs = 1;
		rp->plogi_ox_id = FC_XID_UNKNOWN;
		rp->max_payload = FC_MIN_PAYLOAD;
		rp->next_xid = 0x8000;
		ev_timer_init(&rp->plogi_timer, fc_els_plogi_retry, rp);
		TAILQ_INSERT_TAIL(&port->rports, rp, link);
		log_info("fcoe %s: neighbour %06x wwpn %016llx wwnn %016llx mac %02x:%02x:%02x:%02x:%02x:%02x",
			 port->ifname, vn->port_id, (unsigned long long)vn->wwpn,
			 (unsigned long long)vn->wwnn, vn->enode_mac[0], vn->enode_mac[1],
			 vn->enode_mac[2], vn->enode_mac[3], vn->enode_mac[4], vn->enode_mac[5]);
	}
	rp->wwpn = vn->wwpn;
	rp->wwnn = vn->wwnn;
	memcpy(rp->enode_mac, vn->enode_mac, 6);
	/* FC-BB-6 7.8.7.1: VN_Port MAC = FC-MAP || FC_ID. */
	fcoe_vn_mac(rp->vn_mac, FCOE_VN2VN_FC_MAP, vn->port_id);
	if (vn->fcoe_size)
		rp->fcoe_size = vn->fcoe_size;
	return rp;
}

/* --- VN2VN address claiming (FC-BB-6 7.8.7.2) ------------------------------------ */

static uint32_t port_random(struct fcoe_port *port)
{
	/* xorshift32: spreads probe times and new addresses. */
	uint32_t x = port->rand_state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	port->rand_state = x ? x : 1;
	return port->rand_state;
}

static void fill_self(const struct fcoe_port *port, struct fip_vn_self *self)
{
	memcpy(self->enode_mac, port->enode_mac, 6);
	self->wwnn = port->wwnn;
	self->wwpn = port->wwpn;
	self->port_id = port->port_id;
	/* FC-BB-6 7.8.3 Max FCoE Size: the largest FCoE PDU we receive
	 * (FCoE header, FC frame and trailer). */
	self->fcoe_size = (uint16_t)(FCOE_HDR_LEN + FC_HDR_LEN + port->max_payload + FCOE_TRL_LEN);
	self->fcp_target = true;
	self->fcp_initiator = false;
}

static void send_vn(struct fcoe_port *port, uint8_t sub, const uint8_t dst[6], size_t min_len)
{
	struct fip_vn_self self;
	uint8_t *buf = fcoe_tx_buf(port);

	fill_self(port, &self);
	fcoe_tx_commit(port, fip_build_vn(buf, FCOE_TX_FRAME_CAP, sub, dst, &self, min_len));
}

static void send_claim(struct fcoe_port *port)
{
	send_vn(port, FIP_SC_VN_CLAIM_NOTIFY, fip_all_vn2vn_macs, 0);
	port->claim_ms = now_ms();
}

static void arm(struct fcoe_port *port, uint64_t ms)
{
	ev_timer_arm(port->gw->loop, &port->timer, ms);
}

/* Start (again) with a new proposed address. */
static void vn_restart(struct fcoe_port *port)
{
	uint32_t id = port->port_id;

	if (port->state == VN_UP || port->state == VN_CLAIM) {
		struct fcoe_rport *rp;

		log_warn("fcoe %s: address %06x lost, claiming another", port->ifname, port->port_id);
		TAILQ_FOREACH(rp, &port->rports, link)
			fcoe_rport_logout(rp, "local address changed");
	}
	/* Linux does the same: the low bits of the port name first, then
	 * random ones; never 0 or 0xffff. */
	if (port->probe_tries)
		id = port_random(port) & 0xffff;
	else if (!id)
		id = port->wwpn & 0xffff;
	if (!id || id == 0xffff)
		id = 1;
	port->port_id = id;
	fcoe_vn_mac(port->vn_mac, FCOE_VN2VN_FC_MAP, id);
	port->state = VN_START;
	if (port->probe_tries < FIP_VN_RLIM_COUNT) {
		port->probe_tries++;
		arm(port, port_random(port) % FIP_VN_PROBE_WAIT_MS);
	} else {
		arm(port, FIP_VN_RLIM_INT_MS);
	}
}

/* Drop neighbours whose beacons stopped (FC-BB-6 7.8.7.4: 2.5 periods). */
static void age_rports(struct fcoe_port *port)
{
	uint64_t now = now_ms();
	struct fcoe_rport *rp, *next;

	for (rp = TAILQ_FIRST(&port->rports); rp; rp = next) {
		next = TAILQ_NEXT(rp, link);
		if (rp->beacon_ms && now - rp->beacon_ms > FIP_VN_BEACON_INT_MS * 5 / 2)
			rport_remove(rp, "beacons stopped");
	}
}

/* FC-BB-6 7.4: frames follow the interface MTU; it may change under us
 * (checked once a second, with the beacon timer). */
static uint32_t mtu_payload(uint32_t mtu)
{
	if (mtu < FCOE_HDR_LEN + FC_HDR_LEN + FC_MIN_PAYLOAD + FCOE_TRL_LEN)
		return FC_MIN_PAYLOAD;
	return MIN((mtu - FCOE_HDR_LEN - FC_HDR_LEN - FCOE_TRL_LEN) & ~3u, (uint32_t)FC_MAX_PAYLOAD);
}

static void check_mtu(struct fcoe_port *port)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	str_copy(ifr.ifr_name, port->ifname, sizeof(ifr.ifr_name));
	if (ioctl(port->fd, SIOCGIFMTU, &ifr) < 0 || (uint32_t)ifr.ifr_mtu == port->mtu)
		return;
	log_info("fcoe %s: MTU %u -> %d: FC payload up to %u", port->ifname, port->mtu, ifr.ifr_mtu,
		 mtu_payload((uint32_t)ifr.ifr_mtu));
	port->mtu = (uint32_t)ifr.ifr_mtu;
	port->max_payload = mtu_payload(port->mtu);
}

static void port_timer(struct event_loop *loop, void *arg)
{
	struct fcoe_port *port = arg;
	uint64_t now = now_ms();

	(void)loop;
	check_mtu(port);
	switch (port->state) {
	case VN_START:
		port->state = VN_PROBE1;
		send_vn(port, FIP_SC_VN_PROBE_REQ, fip_all_vn2vn_macs, 0);
		arm(port, FIP_VN_PROBE_WAIT_MS);
		break;
	case VN_PROBE1:
		port->state = VN_PROBE2;
		send_vn(port, FIP_SC_VN_PROBE_REQ, fip_all_vn2vn_macs, 0);
		arm(port, FIP_VN_ANN_WAIT_MS);
		break;
	case VN_PROBE2:
		port->state = VN_CLAIM;
		send_claim(port);
		arm(port, FIP_VN_ANN_WAIT_MS);
		break;
	case VN_CLAIM:
		port->state = VN_UP;
		port->probe_tries = 0;
		log_info("fcoe %s: VN_Port %06x up (wwpn %016llx, mac %02x:%02x:%02x:%02x:%02x:%02x)",
			 port->ifname, port->port_id, (unsigned long long)port->wwpn, port->vn_mac[0],
			 port->vn_mac[1], port->vn_mac[2], port->vn_mac[3], port->vn_mac[4],
			 port->vn_mac[5]);
		port->next_beacon_ms = now;
		/* fall through */
	case VN_UP:
		age_rports(port);
		if (now >= port->next_beacon_ms) {
			send_vn(port, FIP_SC_VN_BEACON, fip_all_vn2vn_macs, 0);
			port->next_beacon_ms = now + FIP_VN_BEACON_INT_MS +
					       port_random(port) % FIP_VN_BEACON_FUZZ_MS;
		}
		arm(port, MIN(port->next_beacon_ms - now, 1000));
		break;
	}
}

/* FC-BB-6 7.8.7.2-4: what a VN2VN message from another ENode means here. */
static void vn_recv(struct fcoe_port *port, const struct fip_msg *m)
{
	struct fip_vn_info vn;
	struct fcoe_rport *rp;
	bool up = port->state == VN_UP || port->state == VN_CLAIM;

	if (fip_vn_parse(m, &vn) < 0) {
		fcoe_count_drop(port);
		log_debug("fcoe %s: malformed VN2VN message (subcode %u) dropped", port->ifname,
			  m->subcode);
		return;
	}
	if (!memcmp(vn.enode_mac, port->enode_mac, 6))
		return;   /* our own multicast */
	switch (m->subcode) {
	case FIP_SC_VN_PROBE_REQ:
		if (vn.port_id != port->port_id)
			break;
		if (up) {
			send_vn(port, FIP_SC_VN_PROBE_REP, vn.enode_mac, 0);
		} else if (port->wwpn > vn.wwpn && !(vn.flags & FIP_FL_REC_OR_P2P)) {
			/* Both probing the same address: the higher port
			 * name keeps it. */
			send_vn(port, FIP_SC_VN_PROBE_REP, vn.enode_mac, 0);
		} else {
			vn_restart(port);
		}
		break;
	case FIP_SC_VN_PROBE_REP:
		if (vn.port_id != port->port_id)
			break;
		if (port->state == VN_UP)
			send_claim(port);
		else
			vn_restart(port);
		break;
	case FIP_SC_VN_CLAIM_NOTIFY:
		if (vn.flags & FIP_FL_REC_OR_P2P) {
			send_vn(port, FIP_SC_VN_PROBE_REQ, fip_all_vn2vn_macs, 0);
			break;
		}
		if (vn.port_id == port->port_id) {
			if (!up || vn.wwpn > port->wwpn)
				vn_restart(port);
			else
				send_claim(port);    /* defend our address */
			break;
		}
		if (!up)
			break;
		/* FC-BB-6 7.8.7.3: answer with a Claim Response padded to
		 * the smaller Max FCoE Size, then beacon soon so it logs in
		 * now rather than at our next periodic beacon; not at once:
		 * Linux logs in to a port it has a beacon from while still
		 * in its own claim state (ANN_WAIT), where it drops its own
		 * PLOGI, and then waits 2 * R_A_TOV to try again. */
		{
			struct fip_vn_self self;

			fill_self(port, &self);
			send_vn(port, FIP_SC_VN_CLAIM_REP, vn.enode_mac,
				MIN(vn.fcoe_size ? vn.fcoe_size : 0, self.fcoe_size));
		}
		rp = rport_add(port, &vn);
		if (rp && port->state == VN_UP) {
			uint64_t soon = now_ms() + FIP_VN_ANN_WAIT_MS + 100;

			if (soon < port->next_beacon_ms) {
				port->next_beacon_ms = soon;
				arm(port, FIP_VN_ANN_WAIT_MS + 100);
			}
		}
		break;
	case FIP_SC_VN_CLAIM_REP:
		if (up && vn.port_id != port->port_id)
			rport_add(port, &vn);
		break;
	case FIP_SC_VN_BEACON:
		if (vn.flags & FIP_FL_REC_OR_P2P) {
			send_vn(port, FIP_SC_VN_PROBE_REQ, fip_all_vn2vn_macs, 0);
			break;
		}
		rp = fcoe_rport_find(port, vn.port_id);
		if (rp && rp->wwpn == vn.wwpn && rp->wwnn == vn.wwnn) {
			rp->beacon_ms = now_ms();
			break;
		}
		/* A neighbour we do not know: claim so it learns about us. */
		if (port->state == VN_UP && now_ms() - port->claim_ms > FIP_VN_ANN_WAIT_MS)
			send_claim(port);
		break;
	}
}

/* --- receiving --------------------------------------------------------------- */

static void fip_recv(struct fcoe_port *port, const uint8_t *frame, size_t len)
{
	struct fip_msg m;
	struct fip_els e;

	if (fip_parse(frame, len, &m) < 0) {
		fcoe_count_drop(port);
		return;
	}
	/* Addressed to us or to the VN2VN groups only. */
	if (memcmp(m.dst, port->enode_mac, 6) && memcmp(m.dst, fip_all_vn2vn_macs, 6) &&
	    memcmp(m.dst, fip_all_p2p_macs, 6))
		return;
	if (m.op == FIP_OP_VN2VN) {
		vn_recv(port, &m);
	} else if (m.op == FIP_OP_LS) {
		if (port->state != VN_UP && port->state != VN_CLAIM)
			return;
		if (fip_els_parse(&m, &e) < 0) {
			fcoe_count_drop(port);
			log_debug("fcoe %s: malformed FIP ELS dropped", port->ifname);
			return;
		}
		fc_els_recv_fip(port, &m, &e);
	}
	/* FCF discovery, keep-alives, VLAN discovery: not VN2VN's. */
}

static void fcoe_recv(struct fcoe_slot *sl, const uint8_t *frame, size_t len)
{
	struct fcoe_port *port = sl->port;
	struct fcoe_rx rx;
	struct fcoe_rport *rp;
	int rc = fcoe_frame_parse(frame, len, &rx);

	if (rc != FCOE_OK) {
		if (rc == FCOE_ERR_CRC)
			sl->rx_bad_crc++;
		sl->rx_dropped++;
		log_debug("fcoe %s: frame dropped (%s)", port->ifname,
			  rc == FCOE_ERR_CRC ? "bad CRC" : "malformed");
		return;
	}
	if (port->state != VN_UP && port->state != VN_CLAIM)
		return;
	/* FC-BB-6 7.6: to our VN_Port MAC, D_ID ours, from a known VN_Port. */
	if (memcmp(rx.dst, port->vn_mac, 6) || rx.fh.d_id != port->port_id) {
		sl->rx_dropped++;
		return;
	}
	rp = fcoe_rport_find(port, rx.fh.s_id);
	if (!rp) {
		/* Not a neighbour (no claim seen): nothing to answer with. */
		sl->rx_dropped++;
		log_debug("fcoe %s: frame from unknown port %06x dropped", port->ifname, rx.fh.s_id);
		return;
	}
	if (sl->slot && (rp->slot != sl->slot || rx.fh.type == FC_TYPE_ELS)) {
		/* Steered here before its nexus ended or moved (the program
		 * changes with the world stopped; frames already queued on
		 * this socket stay): this thread does not own it. */
		sl->rx_dropped++;
		return;
	}
	rp->rx_frames++;
	switch (rx.fh.type) {
	case FC_TYPE_ELS:
		fc_els_recv(port, rp, &rx);
		break;
	case FC_TYPE_BLS:
		fc_bls_recv(port, rp, &rx);
		break;
	case FC_TYPE_FCP:
		fcp_recv(port, rp, &rx);
		break;
	default:
		sl->rx_dropped++;
		break;
	}
}

static void on_readable(struct event_loop *loop, uint32_t events, void *arg)
{
	struct fcoe_slot *sl = arg;
	struct fcoe_port *port = sl->port;
	struct mmsghdr msgs[FCOE_RX_BATCH];
	struct iovec iov[FCOE_RX_BATCH];
	struct sockaddr_ll from[FCOE_RX_BATCH];

	(void)loop;
	(void)events;
	for (int round = 0; round < 8; round++) {
		int n;

		memset(msgs, 0, sizeof(msgs));
		for (unsigned i = 0; i < FCOE_RX_BATCH; i++) {
			iov[i].iov_base = sl->rx_buf + (size_t)i * port->rx_frame_cap;
			iov[i].iov_len = port->rx_frame_cap;
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_name = &from[i];
			msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
		}
		n = recvmmsg(sl->fd, msgs, FCOE_RX_BATCH, MSG_DONTWAIT, NULL);
		sl->rx_calls++;
		if (n <= 0)
			return;
		for (int i = 0; i < n; i++) {
			const uint8_t *frame = iov[i].iov_base;
			size_t len = msgs[i].msg_len;

			if (from[i].sll_pkttype == PACKET_OUTGOING)
				continue;
			if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC || len < ETH_HDR_LEN) {
				sl->rx_dropped++;
				continue;
			}
			sl->rx_frames++;
			if (get_be16(frame + 12) == ETH_P_FIP_FRAME && !sl->slot) {
				sl->rx_fip++;
				fip_recv(port, frame, len);
			} else if (get_be16(frame + 12) == ETH_P_FCOE_FRAME) {
				fcoe_recv(sl, frame, len);
			}
		}
		if (n < FCOE_RX_BATCH)
			return;
	}
}

/* --- opening and closing ----------------------------------------------------------- */

static int add_membership(int fd, int ifindex, unsigned short type, const uint8_t *mac)
{
	struct packet_mreq mr;

	memset(&mr, 0, sizeof(mr));
	mr.mr_ifindex = ifindex;
	mr.mr_type = type;
	if (mac) {
		mr.mr_alen = 6;
		memcpy(mr.mr_address, mac, 6);
	}
	return setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr));
}

/* Default names from the interface MAC, as Linux's fcoe does (NAA 1 for
 * the node, NAA 2 with port 0 for the port, FC-FS-4 18.2). */
static uint64_t wwn_from_mac(const uint8_t mac[6], unsigned naa)
{
	uint64_t m = 0;

	for (int i = 0; i < 6; i++)
		m = m << 8 | mac[i];
	return (uint64_t)naa << 60 | m;
}

/* One slot's socket: bound to the interface, large buffers (a write's
 * FCP_DATA arrives as one burst of up to FCP_DL: we ask for all of it in
 * one FCP_XFER_RDY, so room for a few MiB of frames, or the kernel drops
 * them and the initiator times out), batch buffers, on the slot's loop. */
static struct fcoe_slot *slot_open(struct fcoe_port *port, unsigned slot, char *err, size_t errlen)
{
	struct fcoe_slot *sl = calloc(1, sizeof(*sl));
	struct sockaddr_ll sll;
	int one = 1, size = FCOE_SOCKET_BUFFER;

	if (!sl) {
		snprintf(err, errlen, "fcoe %s: out of memory", port->ifname);
		return NULL;
	}
	sl->port = port;
	sl->slot = slot;
	sl->loop = slot ? worker_loop(slot) : port->gw->loop;
	/* Protocol 0 until bound: no frames of other interfaces queue up.
	 * Both ethertypes on one socket: ETH_P_ALL, filtered when received. */
	sl->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (sl->fd < 0) {
		snprintf(err, errlen, "fcoe %s: AF_PACKET socket: %s (needs CAP_NET_RAW)",
			 port->ifname, strerror(errno));
		free(sl);
		return NULL;
	}
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = port->ifindex;
	if (bind(sl->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		snprintf(err, errlen, "fcoe %s: bind: %s", port->ifname, strerror(errno));
		goto fail;
	}
	setsockopt(sl->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	if (setsockopt(sl->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(sl->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (setsockopt(sl->fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(sl->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	sl->rx_buf = malloc((size_t)FCOE_RX_BATCH * port->rx_frame_cap);
	sl->tx_buf = malloc((size_t)FCOE_TX_BATCH * FCOE_TX_FRAME_CAP);
	if (!sl->rx_buf || !sl->tx_buf) {
		snprintf(err, errlen, "fcoe %s: out of memory", port->ifname);
		goto fail;
	}
	if (ev_add(sl->loop, &sl->src, sl->fd, EPOLLIN, on_readable, sl) < 0) {
		snprintf(err, errlen, "fcoe %s: epoll: %s", port->ifname, strerror(errno));
		goto fail;
	}
	sl->added = true;
	return sl;
fail:
	close(sl->fd);
	free(sl->rx_buf);
	free(sl->tx_buf);
	free(sl);
	return NULL;
}

/* Control thread, world stopped (or no workers running yet). */
static void slot_close(struct fcoe_slot *sl, struct fcoe_port *sum)
{
	if (sl->tx_count)
		tx_flush(sl);
	ev_defer_cancel(sl->loop, &sl->tx_flush);
	if (sl->added)
		ev_remove(sl->loop, &sl->src);
	close(sl->fd);
	free(sl->rx_buf);
	free(sl->tx_buf);
	log_debug("fcoe %s: slot %u: %llu frames in %llu recvmmsg, %llu out in %llu sendmmsg, "
		  "%llu dropped (%llu bad CRC), %llu FIP, %llu send errors", sum->ifname, sl->slot,
		  (unsigned long long)sl->rx_frames, (unsigned long long)sl->rx_calls,
		  (unsigned long long)sl->tx_frames, (unsigned long long)sl->tx_calls,
		  (unsigned long long)sl->rx_dropped, (unsigned long long)sl->rx_bad_crc,
		  (unsigned long long)sl->rx_fip, (unsigned long long)sl->tx_errors);
	free(sl);
}

/* The workers' sockets join slot 0's in one PACKET_FANOUT group of type
 * CBPF (fcoe_port_steer() above). Without it (an old kernel, a failure)
 * everything stays on the control thread, as without workers. */
static void open_worker_slots(struct fcoe_port *port)
{
	unsigned want = worker_slots();
	int arg = (PACKET_FANOUT_CBPF | PACKET_FANOUT_FLAG_UNIQUEID) << 16, id;
	socklen_t len = sizeof(id);
	char err[256];

	port->nslots = 1;
	if (want < 2)
		return;
	if (setsockopt(port->fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg)) < 0 ||
	    getsockopt(port->fd, SOL_PACKET, PACKET_FANOUT, &id, &len) < 0) {
		log_warn("fcoe %s: PACKET_FANOUT: %s; FCoE I/O stays on the control thread",
			 port->ifname, strerror(errno));
		return;
	}
	arg = (id & 0xffff) | PACKET_FANOUT_CBPF << 16;
	for (unsigned s = 1; s < want; s++) {
		struct fcoe_slot *sl = slot_open(port, s, err, sizeof(err));

		if (sl && setsockopt(sl->fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg)) < 0) {
			snprintf(err, sizeof(err), "fcoe %s: PACKET_FANOUT join: %s", port->ifname,
				 strerror(errno));
			slot_close(sl, port);
			sl = NULL;
		}
		if (!sl) {
			log_warn("%s; FCoE I/O stays on the control thread", err);
			while (port->nslots > 1)
				slot_close(port->slots[--port->nslots], port);
			return;
		}
		port->slots[port->nslots++] = sl;
	}
}

static struct fcoe_port *port_open(struct gateway *gw, const struct portal *p, char *err,
				   size_t errlen)
{
	struct fcoe_port *port = calloc(1, sizeof(*port));
	struct ifreq ifr;
	int fd;

	if (!port) {
		snprintf(err, errlen, "fcoe %s: out of memory", p->addr);
		return NULL;
	}
	port->gw = gw;
	port->fd = -1;
	TAILQ_INIT(&port->rports);
	if (str_copy(port->ifname, p->addr, sizeof(port->ifname)) >= sizeof(port->ifname)) {
		snprintf(err, errlen, "fcoe: interface name '%s' too long", p->addr);
		goto fail;
	}
	str_copy(port->target_iqn, p->target, sizeof(port->target_iqn));
	port->ifindex = (int)if_nametoindex(port->ifname);
	if (!port->ifindex) {
		snprintf(err, errlen, "fcoe: no interface '%s'", port->ifname);
		goto fail;
	}
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "fcoe %s: AF_PACKET socket: %s (needs CAP_NET_RAW)",
			 port->ifname, strerror(errno));
		goto fail;
	}
	memset(&ifr, 0, sizeof(ifr));
	str_copy(ifr.ifr_name, port->ifname, sizeof(ifr.ifr_name));
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0 || ifr.ifr_hwaddr.sa_family != 1 /* ARPHRD_ETHER */) {
		snprintf(err, errlen, "fcoe %s: not an Ethernet interface", port->ifname);
		close(fd);
		goto fail;
	}
	memcpy(port->enode_mac, ifr.ifr_hwaddr.sa_data, 6);
	if (ioctl(fd, SIOCGIFMTU, &ifr) < 0) {
		snprintf(err, errlen, "fcoe %s: MTU: %s", port->ifname, strerror(errno));
		close(fd);
		goto fail;
	}
	close(fd);
	port->mtu = (uint32_t)ifr.ifr_mtu;
	/* FC-BB-6 7.4: the FC frame has to fit the Ethernet payload. */
	if (port->mtu < FCOE_HDR_LEN + FC_HDR_LEN + FC_MIN_PAYLOAD + FCOE_TRL_LEN) {
		snprintf(err, errlen, "fcoe %s: MTU %u too small for FCoE", port->ifname, port->mtu);
		goto fail;
	}
	port->max_payload = mtu_payload(port->mtu);
	port->rx_frame_cap = MAX(port->mtu, (uint32_t)FCOE_MAX_FRAME) + 64;
	port->slots[0] = slot_open(port, 0, err, errlen);
	if (!port->slots[0])
		goto fail;
	port->nslots = 1;
	port->fd = port->slots[0]->fd;
	/* Receive the VN2VN groups; VN_Port MACs are added as unicast
	 * addresses when the NIC filters, else the port goes promiscuous. */
	if (add_membership(port->fd, port->ifindex, PACKET_MR_MULTICAST, fip_all_vn2vn_macs) < 0 ||
	    add_membership(port->fd, port->ifindex, PACKET_MR_MULTICAST, fip_all_p2p_macs) < 0 ||
	    add_membership(port->fd, port->ifindex, PACKET_MR_PROMISC, NULL) < 0) {
		snprintf(err, errlen, "fcoe %s: multicast membership: %s", port->ifname, strerror(errno));
		goto fail;
	}
	open_worker_slots(port);
	port->wwpn = p->wwpn ? p->wwpn : wwn_from_mac(port->enode_mac, 2);
	port->wwnn = p->wwnn ? p->wwnn : wwn_from_mac(port->enode_mac, 1);
	/* An FC port is a target port of its own (SPC-4 4.6.5). */
	if (target_port_add(gw, &port->rel_port_id, err, errlen) < 0)
		goto fail;
	port->rand_state = (uint32_t)(port->wwpn ^ (port->wwpn >> 32) ^ now_ns()) | 1;
	ev_timer_init(&port->timer, port_timer, port);
	vn_restart(port);
	log_info("fcoe %s: VN2VN port wwpn %016llx wwnn %016llx, MTU %u (FC payload up to %u), "
		 "probing %06x; FCP on %s", port->ifname, (unsigned long long)port->wwpn,
		 (unsigned long long)port->wwnn, port->mtu, port->max_payload, port->port_id,
		 port->nslots > 1 ? "the workers" : "the control thread");
	return port;
fail:
	if (port->rel_port_id)
		target_port_remove(gw, port->rel_port_id);
	while (port->nslots > 0)
		slot_close(port->slots[--port->nslots], port);
	free(port);
	return NULL;
}

static void port_close(struct fcoe_port *port, bool logo)
{
	struct fcoe_rport *rp;

	TAILQ_REMOVE(&fcoe_ports, port, link);
	log_info("fcoe %s: port %06x closed", port->ifname, port->port_id);
	while ((rp = TAILQ_FIRST(&port->rports))) {
		if (logo && rp->plogi)
			fc_els_send_logo(rp);
		rport_remove(rp, "port closed");
	}
	ev_timer_cancel(port->gw->loop, &port->timer);
	while (port->nslots > 0)
		slot_close(port->slots[--port->nslots], port);
	target_port_remove(port->gw, port->rel_port_id);
	free(port);
}

static bool port_is(const struct fcoe_port *port, const struct portal *p)
{
	return p->transport == PORTAL_FCOE && !strcmp(port->ifname, p->addr);
}

int fcoe_portals_changed(struct gateway *gw, char *err, size_t errlen)
{
	struct fcoe_port *port, *next;
	struct portal *p;

	for (port = TAILQ_FIRST(&fcoe_ports); port; port = next) {
		bool keep = false;

		next = TAILQ_NEXT(port, link);
		TAILQ_FOREACH(p, &gw->portals, link)
			if (port_is(port, p))
				keep = true;
		if (!keep)
			port_close(port, true);
	}
	TAILQ_FOREACH(p, &gw->portals, link) {
		bool have = false;

		if (p->transport != PORTAL_FCOE)
			continue;
		TAILQ_FOREACH(port, &fcoe_ports, link)
			if (port_is(port, p))
				have = true;
		if (!have) {
			port = port_open(gw, p, err, errlen);
			if (!port)
				return -1;
			TAILQ_INSERT_TAIL(&fcoe_ports, port, link);
		}
	}
	return 0;
}

void fcoe_fabric_shutdown(struct gateway *gw)
{
	struct fcoe_port *port;

	(void)gw;
	while ((port = TAILQ_FIRST(&fcoe_ports)))
		port_close(port, true);
}

/* --- names ----------------------------------------------------------------------- */

void fc_wwn_name(uint64_t wwn, char *out, size_t len)
{
	snprintf(out, len, "naa.%016llx", (unsigned long long)wwn);
}

int fcoe_parse_listen(const char *text, char *ifname, size_t ifname_len, uint64_t *wwpn,
		      uint64_t *wwnn, char *err, size_t errlen)
{
	char buf[512], *save = NULL, *tok;

	*wwpn = *wwnn = 0;
	if (str_copy(buf, text, sizeof(buf)) >= sizeof(buf)) {
		snprintf(err, errlen, "--listen-fcoe argument too long");
		return -1;
	}
	tok = strtok_r(buf, ",", &save);
	if (!tok || !*tok || strlen(tok) >= ifname_len || strlen(tok) >= IF_NAMESIZE) {
		snprintf(err, errlen, "--listen-fcoe: expected IFNAME[,wwpn=WWN][,wwnn=WWN]");
		return -1;
	}
	str_copy(ifname, tok, ifname_len);
	while ((tok = strtok_r(NULL, ",", &save))) {
		uint64_t *dst = !strncmp(tok, "wwpn=", 5) ? wwpn : !strncmp(tok, "wwnn=", 5) ? wwnn : NULL;

		if (!dst || !parse_wwn(tok + 5, dst)) {
			snprintf(err, errlen, "--listen-fcoe %s: '%s' is not wwpn=WWN or wwnn=WWN "
				 "(16 hex digits, e.g. 0x20000000c9123456)", text, tok);
			return -1;
		}
	}
	return 0;
}
