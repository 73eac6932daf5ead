/* The SCSI target core's seam with the fabrics (SAM-5): I_T nexuses,
 * commands, task management. A fabric embeds struct scsi_cmd in its own
 * per-task structure, fills it, calls scsi_cmd_submit(), and is called back
 * through fabric_ops->cmd_done() when status (and any Data-In) is ready.
 * A nexus belongs to one worker thread (nexus->slot); its data-path
 * commands run there, everything else on the control thread with the
 * world stopped (workers.h, scsi_dispatch.c). */
#ifndef SANGW_SCSI_H
#define SANGW_SCSI_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "../backstore/backstore.h"
#include "../event_loop.h"

#define SCSI_MAX_CDB     32
#define SCSI_SENSE_MAX   252   /* SPC-4 4.5.1: sense data is at most 252 bytes */

/* SAM-5 5.3.1 status codes */
enum scsi_status {
	SAM_STAT_GOOD = 0x00,
	SAM_STAT_CHECK_CONDITION = 0x02,
	SAM_STAT_CONDITION_MET = 0x04,
	SAM_STAT_BUSY = 0x08,
	SAM_STAT_RESERVATION_CONFLICT = 0x18,
	SAM_STAT_TASK_SET_FULL = 0x28,
	SAM_STAT_ACA_ACTIVE = 0x30,
	SAM_STAT_TASK_ABORTED = 0x40,
};

/* SPC-4 4.5.6 sense keys */
enum scsi_sense_key {
	SK_NO_SENSE = 0x0, SK_RECOVERED_ERROR = 0x1, SK_NOT_READY = 0x2,
	SK_MEDIUM_ERROR = 0x3, SK_HARDWARE_ERROR = 0x4, SK_ILLEGAL_REQUEST = 0x5,
	SK_UNIT_ATTENTION = 0x6, SK_DATA_PROTECT = 0x7, SK_BLANK_CHECK = 0x8,
	SK_COPY_ABORTED = 0xa, SK_ABORTED_COMMAND = 0xb, SK_VOLUME_OVERFLOW = 0xd,
	SK_MISCOMPARE = 0xe,
};

/* SAM-5 8.6 task attributes */
enum scsi_task_attr {
	TASK_SIMPLE = 0,
	TASK_ORDERED = 1,
	TASK_HEAD_OF_QUEUE = 2,
	TASK_ACA = 3,
};

enum scsi_data_dir {
	SCSI_DIR_NONE = 0,
	SCSI_DIR_IN = 1,     /* Data-In: target to initiator (read) */
	SCSI_DIR_OUT = 2,    /* Data-Out: initiator to target (write) */
	SCSI_DIR_BIDI = 3,
};

struct scsi_cmd;
struct tmf_req;
struct target;
struct acl;
struct lu;
struct it_nexus;

/* Operations a fabric provides to the core. */
struct fabric_ops {
	const char *name;
	/* Status, sense and Data-In are ready. When cmd->aborted is set the
	 * fabric releases the task without a response (SAM-5 7.11). */
	void (*cmd_done)(struct scsi_cmd *cmd);
	void (*tmf_done)(struct tmf_req *req);
	/* Format a TransportID (SPC-4 7.6.4) for this nexus' initiator port;
	 * returns its length. */
	unsigned (*transport_id)(const struct it_nexus *nexus, uint8_t *buf, unsigned len);
	/* Close the session behind this nexus (ACL or target removed, TARGET
	 * COLD RESET). The fabric unregisters the nexus later, from its loop. */
	void (*drop)(struct it_nexus *nexus);
	/* Add fabric details (addresses, negotiated parameters, counters) to a
	 * json_object (passed as void * to keep json-c out of this header). */
	void (*describe)(const struct it_nexus *nexus, void *json_object);
};

/* A pending unit attention condition for one LU on one I_T nexus. */
struct ua_entry {
	uint64_t lu_key;          /* lu_key() of the LU */
	uint8_t asc, ascq;
	TAILQ_ENTRY(ua_entry) link;
};

/* One I_T nexus (an iSCSI session). Identifiers follow SPC-4 / RFC 7143:
 * initiator port "<name>,i,0x<ISID>", target port "<name>,t,0x<TPGT>". */
struct it_nexus {
	uint64_t id;                     /* unique in the cluster: node << 40 | seq */
	char initiator_name[224];
	uint8_t isid[6];
	char initiator_port[256];
	char target_port[256];
	uint16_t rel_tgt_port_id;        /* SPC-4 relative target port identifier */
	uint16_t tpg_id;                 /* ALUA target port group */
	char portal[72];                 /* local ADDR:PORT ([V6]:PORT) it logged in
					  * through, "" if none (metrics.c) */
	struct target *target;
	struct acl *acl;                 /* NULL in demo mode */
	const struct fabric_ops *fabric;
	void *fabric_priv;
	TAILQ_HEAD(, ua_entry) uas;      /* oldest first */
	unsigned slot;                   /* thread that owns it (workers.h) */
	unsigned at_control;             /* commands handed to the control thread, not yet run */
	TAILQ_ENTRY(it_nexus) link;      /* in gateway->nexuses */
};

enum scsi_cmd_state {
	CMD_NEW = 0,
	CMD_WAITING,      /* blocked by task-set ordering */
	CMD_RUNNING,      /* being executed / at the backstore */
	CMD_DONE,
};

struct scsi_cmd {
	/* --- filled by the fabric before scsi_cmd_submit() --- */
	struct it_nexus *nexus;
	uint64_t lun;                    /* LUN as addressed (SAM-5 4.7 format decoded) */
	uint8_t cdb[SCSI_MAX_CDB];
	uint8_t cdb_len;
	uint8_t task_attr;               /* enum scsi_task_attr */
	uint64_t tag;                    /* initiator task tag */
	enum scsi_data_dir dir;          /* as the initiator declared it */
	uint32_t expected_len;           /* expected data transfer length (EDTL) */
	uint8_t *buf;                    /* data buffer, see scsi_cmd_ensure_buf() */
	uint32_t buf_cap;
	/* buf was lent by the fabric (iSER: registered memory): the core
	 * never frees it; growing it gets a buffer of the core's own. */
	bool buf_fabric;
	uint32_t data_out_len;           /* Data-Out bytes placed in buf by the fabric */
	void *fabric_priv;

	/* --- filled by the core --- */
	struct lu *lu;                   /* resolved from lun; NULL if none */
	uint8_t status;                  /* enum scsi_status */
	uint8_t sense[SCSI_SENSE_MAX];
	uint8_t sense_len;
	uint32_t data_in_len;            /* Data-In bytes ready in buf */
	/* Bytes the CDB asks to move in its data direction (transfer length or
	 * allocation length, after truncation to what the command produced):
	 * the fabric compares it with expected_len for residuals (RFC 7143
	 * 11.4.5). */
	uint32_t transfer_len;
	bool aborted;                    /* terminated by a TMF or nexus loss */
	enum scsi_cmd_state state;
	uint64_t start_ns;
	struct bs_io io;                 /* the core's backstore request */
	void *core_priv;                 /* multi-step commands (e.g. COMPARE AND WRITE) */
	uint32_t core_step;
	TAILQ_ENTRY(scsi_cmd) task_link; /* in lu->tasks[nexus->slot] */
	struct ev_deferred to_control;   /* run on the control thread (scsi_dispatch.c) */
};

/* Commands in flight on an LU, in arrival order (SAM-5 8.5 ordering). */
struct task_set {
	TAILQ_HEAD(, scsi_cmd) cmds;
	unsigned running;
	unsigned ordered_running;
} __attribute__((aligned(64)));   /* one per worker: no shared cache line */

/* SAM-5 7.1 task management functions; values are iSCSI's (RFC 7143 11.5.1). */
enum tmf_function {
	TMF_ABORT_TASK = 1,
	TMF_ABORT_TASK_SET = 2,
	TMF_CLEAR_ACA = 3,
	TMF_CLEAR_TASK_SET = 4,
	TMF_LOGICAL_UNIT_RESET = 5,
	TMF_TARGET_WARM_RESET = 6,
	TMF_TARGET_COLD_RESET = 7,
	TMF_TASK_REASSIGN = 8,
};

/* TMF responses; values are iSCSI's (RFC 7143 11.6.1). */
enum tmf_response {
	TMF_RSP_COMPLETE = 0,
	TMF_RSP_NO_TASK = 1,
	TMF_RSP_NO_LUN = 2,
	TMF_RSP_TASK_ALLEGIANT = 3,
	TMF_RSP_NO_REASSIGN = 4,
	TMF_RSP_NOT_SUPPORTED = 5,
	TMF_RSP_AUTH_FAILED = 6,
	TMF_RSP_REJECTED = 255,
};

struct tmf_req {
	struct it_nexus *nexus;
	enum tmf_function function;
	uint64_t lun;
	uint64_t ref_tag;                /* ABORT TASK: tag of the task to abort */
	uint8_t response;                /* enum tmf_response, set by the core */
	void *fabric_priv;
	/* core private: commands still being terminated */
	unsigned waiting;
	struct ev_deferred to_control;   /* TMFs run on the control thread */
};

/* --- core entry points for fabrics (scsi_dispatch.c, tmf.c, ua.c) ------- */

/* Make buf hold at least len bytes (4096-aligned, contents preserved).
 * Returns 0 or -ENOMEM. */
int scsi_cmd_ensure_buf(struct scsi_cmd *cmd, uint32_t len);
/* Release the buffer; the fabric calls this when it frees the task. */
void scsi_cmd_free_buf(struct scsi_cmd *cmd);

/* Execute a command. fabric->cmd_done() follows, possibly before this
 * returns (for commands answered without I/O). */
void scsi_cmd_submit(struct scsi_cmd *cmd);

/* Run a task management function; fabric->tmf_done() follows, after every
 * affected command has been terminated. */
void scsi_tmf_submit(struct tmf_req *req);

/* A new I_T nexus: gets POWER ON, RESET OR BUS DEVICE RESET OCCURRED on
 * every LU it sees (SAM-5 6.3). */
void scsi_nexus_register(struct it_nexus *nexus);
/* I_T nexus loss (SAM-5 6.3.4): abort its commands (cmd_done with
 * aborted set), release SPC-2 reservations it holds, drop its UAs. */
void scsi_nexus_unregister(struct it_nexus *nexus);
/* The same, and released(ctx, result) runs on the control thread once the
 * release of its SPC-2 reservations is in effect on every node (result <
 * 0: not known, e.g. quorum lost). A fabric that acknowledges the end of
 * a nexus (an iSCSI Logout Response) waits for it, so the initiator's next
 * command through another nexus never meets the old reservation. */
typedef void (*scsi_nexus_released_fn)(void *ctx, int result);
void scsi_nexus_unregister_then(struct it_nexus *nexus, scsi_nexus_released_fn released,
				void *ctx);

/* A stable 64-bit key for an LU: same on every node (hash of target IQN
 * and LUN), used in shared-state operations and UA entries. */
uint64_t lu_key(const struct lu *lu);

/* --- core internals shared by the core's files (spc, sbc, pr, ua, ...) -- */

/* Finish a command: leave the task set, update statistics, let waiting
 * commands run, and hand it back to the fabric. Status/sense/data are set. */
void scsi_cmd_complete(struct scsi_cmd *cmd);
/* Complete with GOOD status. */
void scsi_cmd_good(struct scsi_cmd *cmd);
/* Copy len bytes of parameter data for Data-In, truncated to the CDB's
 * allocation length alloc_len (SPC-4 4.2.5.6), and set data_in_len and
 * transfer_len. Returns 0 or -ENOMEM. */
int scsi_cmd_data_in(struct scsi_cmd *cmd, const void *data, uint32_t len, uint32_t alloc_len);

#endif
