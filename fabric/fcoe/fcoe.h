/* The FCoE fabric's internals: a VN2VN port (FC-BB-6 7.8.7) on one
 * Ethernet interface, the remote VN_Ports it knows (FIP neighbours, FC
 * logins, the I_T nexus of each PRLI image pair) and the FCP exchanges
 * (one SCSI command each).
 *
 * Threads (workers.h). A port has one AF_PACKET socket per slot, all in
 * one PACKET_FANOUT group whose classic BPF program picks the socket of
 * each received frame: the FCP and BLS frames of a remote port with an
 * I_T nexus go to the socket of the nexus' worker, everything else (FIP,
 * ELS, frames of ports not logged in) to the control thread's. So FIP,
 * logins and nexus set-up/teardown run on the control thread, and a
 * nexus' exchanges (FCP_CMND, FCP_DATA, FCP_RSP, ABTS) on its worker, as
 * an iSCSI connection's PDUs do. Each thread sends on its own slot's
 * socket. What a worker changes is its own: its slot (socket, batches,
 * counters) and its remote ports (exchange table, SEQ_ID/RX_ID counters);
 * the control thread changes the rest with the world stopped.
 *
 * Files: fcoe_frame.c (FCoE/FC frame codec), fip.c (FIP codec),
 * fcoe_port.c (socket, VN2VN address claiming, beacons, dispatch),
 * fc_els.c (FLOGI/PLOGI/PRLI/... and BLS), fcp.c (FCP and fabric_ops). */
#ifndef SANGW_FCOE_H
#define SANGW_FCOE_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "../../gateway/event_loop.h"
#include "../../gateway/model.h"
#include "../../gateway/scsi/scsi.h"
#include "../../gateway/workers.h"
#include "fc_proto.h"
#include "fcoe_frame.h"
#include "fip.h"

#define FCOE_EXCH_MAX   2048        /* FCP exchanges per port (RX_IDs 0..2047) */
#define FCOE_RX_BATCH   64
/* Frames sent with one sendmmsg: a 1 MiB READ at 2,048-byte payloads
 * (513 frames with its FCP_RSP) leaves in three calls. */
#define FCOE_TX_BATCH   256
#define FCOE_SOCKET_BUFFER (32 << 20)  /* SO_RCVBUF/SO_SNDBUF of a port */

enum vn_state {
	VN_START = 0,      /* waiting a random time before the first probe */
	VN_PROBE1,
	VN_PROBE2,
	VN_CLAIM,          /* claimed, waiting ANN_WAIT for objections */
	VN_UP,             /* beaconing */
};

struct fcoe_port;

/* A remote VN_Port: known from FIP (claims, beacons), then logged in. */
struct fcoe_rport {
	struct fcoe_port *port;
	uint32_t port_id;
	uint64_t wwpn, wwnn;
	uint8_t enode_mac[6];       /* its ENode: FIP goes there */
	uint8_t vn_mac[6];          /* its VN_Port: FCoE frames go there */
	/* The thread (slot) of its nexus and exchanges: picked at the first
	 * PRLI, kept for the port's life so that exchanges of an old login
	 * still in the core end on the same thread. */
	unsigned slot;
	bool slot_picked;
	uint16_t fcoe_size;         /* from its claim */
	uint64_t beacon_ms;         /* last beacon, 0 = none yet */
	bool flogi;                 /* FLOGI exchanged (in FIP) */
	bool plogi;                 /* N_Port login done */
	bool prli;                  /* FCP image pair established */
	bool logo_sent;             /* told it to log in again (unknown frame) */
	uint16_t plogi_ox_id;       /* our PLOGI in flight, FC_XID_UNKNOWN if none */
	unsigned plogi_tries;
	struct ev_timer plogi_timer;  /* PLOGI retry after LS_RJT busy or no answer */
	uint32_t max_payload;       /* largest FC payload it receives */
	bool nexus_registered;
	struct it_nexus nexus;
	unsigned refs;              /* the port's list + each exchange */
	bool removed;
	struct ev_deferred drop_defer;  /* fabric_ops.drop: log it out later */
	uint64_t rx_frames, tx_frames;
	/* Changed only by the thread of `slot` (or the control thread with
	 * the world stopped). */
	uint8_t next_seq_id;
	uint16_t next_xid;          /* RX_IDs of BLS/TMF, OX_IDs of our ELS */
	uint16_t next_rx_id;
	struct fcoe_exch *exch[FCOE_EXCH_MAX];   /* FCP exchanges by RX_ID */
	/* Buffers of writes sent FCP_XFER_RDY and still receiving data, and
	 * how many writes wait for room within the budget (fcp.c). */
	uint32_t write_receiving;
	unsigned writes_waiting;
	uint64_t write_arrivals;    /* order of the waiting writes */
	TAILQ_ENTRY(fcoe_rport) link;
};

enum exch_state {
	EXCH_WAITING = 1,           /* a write waiting for buffer budget: no FCP_XFER_RDY yet */
	EXCH_RECEIVING,             /* FCP_XFER_RDY sent, FCP_DATA arriving */
	EXCH_IN_CORE,
	EXCH_DONE,
};

/* One FCP exchange we are the responder of (FCP-4 4.3). */
struct fcoe_exch {
	struct scsi_cmd cmd;
	struct fcoe_rport *rp;
	uint16_t ox_id, rx_id;
	enum exch_state state;
	uint32_t received;          /* write data placed */
	uint32_t edtl;              /* FCP_DL */
	uint64_t arrival;           /* EXCH_WAITING: first come, first served */
	bool aborted_locally;       /* ABTS before the core had it */
	/* Write data stopped (a lost last frame, a lost FCP_XFER_RDY): the
	 * command fails after E_D_TOV instead of waiting for the initiator's
	 * SCSI timeout. */
	struct ev_timer data_timer;
};

struct fcoe_tmf {
	struct tmf_req req;
	struct fcoe_rport *rp;
	uint16_t ox_id;             /* FCP_CMND exchange, or ABTS' */
	uint16_t rx_id;
	bool abts;                  /* answered with BA_ACC instead of FCP_RSP */
};

/* One thread's socket of a port: slot 0 the control thread's (FIP, ELS,
 * everything not steered elsewhere), 1.. the workers'. */
struct fcoe_slot {
	struct fcoe_port *port;
	unsigned slot;
	struct event_loop *loop;
	int fd;
	struct ev_source src;
	bool added;
	/* receive batch */
	uint8_t *rx_buf;            /* FCOE_RX_BATCH frames of port->rx_frame_cap bytes */
	/* send batch: frames queued, sent with one sendmmsg per batch */
	uint8_t *tx_buf;            /* FCOE_TX_BATCH frames of FCOE_TX_FRAME_CAP */
	uint32_t tx_len[FCOE_TX_BATCH];
	unsigned tx_count;
	struct ev_deferred tx_flush;
	/* counters (logs; summed when the port closes) */
	uint64_t rx_frames, rx_dropped, rx_bad_crc, rx_fip, tx_frames, tx_errors;
	uint64_t rx_calls, tx_calls;
};

struct fcoe_port {
	struct gateway *gw;
	char ifname[IF_NAMESIZE];
	char target_iqn[ISCSI_NAME_MAX];  /* "" = the first target */
	int ifindex;
	int fd;                     /* slots[0]'s socket */
	struct fcoe_slot *slots[WORKER_SLOTS];
	unsigned nslots;            /* 1 when the workers' sockets could not be set up */
	uint8_t enode_mac[6];
	uint8_t vn_mac[6];
	uint64_t wwpn, wwnn;
	uint16_t rel_port_id;       /* relative target port identifier (target_ports.h) */
	uint32_t port_id;
	uint32_t mtu;
	uint32_t max_payload;       /* largest FC payload we receive */
	enum vn_state state;
	unsigned probe_tries;
	uint64_t claim_ms;          /* last claim notification sent */
	uint64_t next_beacon_ms;
	uint32_t rand_state;
	struct ev_timer timer;
	TAILQ_HEAD(, fcoe_rport) rports;
	uint32_t rx_frame_cap;
	unsigned steered;           /* remote ports the fanout program sends to workers */
	TAILQ_ENTRY(fcoe_port) link;
};

#define FCOE_TX_FRAME_CAP (FCOE_MAX_FRAME + 64)

/* --- fcoe_port.c ------------------------------------------------------------ */
/* The calling thread's slot of port (slot 0 on the control thread). */
struct fcoe_slot *fcoe_slot_here(struct fcoe_port *port);
/* A buffer for one outgoing frame of at most FCOE_TX_FRAME_CAP bytes, on
 * the calling thread's socket; fcoe_tx_commit() queues it. */
uint8_t *fcoe_tx_buf(struct fcoe_port *port);
void fcoe_tx_commit(struct fcoe_port *port, size_t len);
/* Send an FC frame to rp's VN_Port as FCoE. */
int fcoe_send_fc(struct fcoe_rport *rp, uint8_t sof, uint8_t eof, const struct fc_hdr *h,
		 const void *payload, size_t len);
/* A received frame dropped (counted on the calling thread's slot). */
void fcoe_count_drop(struct fcoe_port *port);
uint8_t fcoe_next_seq_id(struct fcoe_rport *rp);
/* OX_IDs of our ELS requests, RX_IDs of BLS and TMF exchanges: above the
 * FCP exchange table, never 0xffff. */
uint16_t fcoe_next_xid(struct fcoe_rport *rp);
/* The loop that runs rp's exchanges (timers). */
struct event_loop *fcoe_rport_loop(const struct fcoe_rport *rp);
/* Rebuild the fanout program after a nexus came or went (control thread). */
void fcoe_port_steer(struct fcoe_port *port);
struct fcoe_rport *fcoe_rport_find(struct fcoe_port *port, uint32_t port_id);
void fcoe_rport_get(struct fcoe_rport *rp);
void fcoe_rport_put(struct fcoe_rport *rp);
/* Forget a remote port's logins (LOGO, beacon loss): nexus loss. */
void fcoe_rport_logout(struct fcoe_rport *rp, const char *why);
/* The same, and released(ctx, result) runs on the control thread once the
 * nexus loss is in effect on every node (scsi_nexus_unregister_then; at
 * once when no nexus was up): the LS_ACC to a LOGO waits for it. */
void fcoe_rport_logout_then(struct fcoe_rport *rp, const char *why,
			    scsi_nexus_released_fn released, void *ctx);

/* --- fc_els.c --------------------------------------------------------------- */
/* An ELS carried in FIP (FLOGI/LOGO between VN2VN peers). */
void fc_els_recv_fip(struct fcoe_port *port, const struct fip_msg *m, const struct fip_els *e);
/* An ELS or BLS frame received as FCoE. */
void fc_els_recv(struct fcoe_port *port, struct fcoe_rport *rp, const struct fcoe_rx *rx);
void fc_bls_recv(struct fcoe_port *port, struct fcoe_rport *rp, const struct fcoe_rx *rx);
/* Send an ELS request (we originate: PLOGI, LOGO). */
void fc_els_send_plogi(struct fcoe_rport *rp);
void fc_els_send_logo(struct fcoe_rport *rp);
void fc_els_plogi_retry(struct event_loop *loop, void *arg);
/* Answer a request frame with payload (ELS or BLS reply). */
void fc_send_reply(struct fcoe_rport *rp, const struct fc_hdr *req, uint8_t r_ctl, uint8_t type,
		   const void *payload, size_t len);
void fc_send_ls_rjt(struct fcoe_port *port, struct fcoe_rport *rp, const struct fc_hdr *req,
		    uint8_t reason, uint8_t explanation);
/* FC-LS-3 6.6.2 PLOGI/FLOGI payload with our service parameters. */
size_t fc_build_login(struct fcoe_port *port, uint8_t cmd, bool flogi, uint8_t *p);

/* --- fcp.c ------------------------------------------------------------------ */
void fcp_recv(struct fcoe_port *port, struct fcoe_rport *rp, const struct fcoe_rx *rx);
/* ABTS (FC-LS-3 5.3.2) of one of our FCP exchanges; returns false when
 * the exchange is unknown (answered with BA_ACC by the caller). */
bool fcp_abort_exchange(struct fcoe_rport *rp, const struct fc_hdr *abts);
/* The PRLI image pair is established / ends (FCP-4 6.3). */
int fcp_nexus_up(struct fcoe_rport *rp, char *why, size_t whylen);
void fcp_nexus_down(struct fcoe_rport *rp);
void fcp_nexus_down_then(struct fcoe_rport *rp, scsi_nexus_released_fn released, void *ctx);
/* Drop exchanges of rp that never reached the core (nexus loss, TMFs):
 * those of lun, or of every LUN. */
void fcp_drop_local(struct fcoe_rport *rp, uint64_t lun, bool all_luns);
extern const struct fabric_ops fcoe_fabric_ops;

/* "naa.XXXXXXXXXXXXXXXX": the name of an FC initiator port in ACLs. */
void fc_wwn_name(uint64_t wwn, char *out, size_t len);

#endif
