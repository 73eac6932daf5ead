/* The gateway's object model: targets, their logical units and initiator
 * ACLs, CHAP credentials, portals. One struct gateway singleton owns it all.
 * Configuration (config*.c) builds it; the management API (mgmt.c) edits it
 * through the shared-state door; the SCSI core and fabrics read it. It is
 * changed only on the control thread with the world stopped; workers read
 * it between their batches (workers.h). */
#ifndef SANGW_MODEL_H
#define SANGW_MODEL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "backstore/backstore.h"
#include "scsi/scsi.h"

#define ISCSI_NAME_MAX   224   /* RFC 7143 section 4.2.7.1: 223 bytes + NUL */
#define CHAP_NAME_MAX    256
#define CHAP_SECRET_MAX  256
#define MAX_LUNS_PER_TARGET 256
#define LU_SERIAL_LEN    32

struct gateway;
struct target;
struct pr_state;
struct sbc_lu_state;
struct sanitize_lu_state;
struct xcopy_lu_state;
struct cluster_range_lock_lu;
struct mgmt_server;

/* CHAP algorithms (RFC 7143 12.1.3; the values of IANA's "iSCSI CHAP
 * algorithms" registry) as a set of bits: CHAP_ALG_BIT(5) is MD5. */
#define CHAP_ALG_MD5       5
#define CHAP_ALG_SHA1      6
#define CHAP_ALG_SHA256    7
#define CHAP_ALG_SHA3_256  8
#define CHAP_ALG_BIT(alg)  (1u << (alg))
#define CHAP_ALGS_ALL      (CHAP_ALG_BIT(CHAP_ALG_MD5) | CHAP_ALG_BIT(CHAP_ALG_SHA1) | \
			    CHAP_ALG_BIT(CHAP_ALG_SHA256) | CHAP_ALG_BIT(CHAP_ALG_SHA3_256))

struct chap_cred {
	bool set;
	char user[CHAP_NAME_MAX];
	char secret[CHAP_SECRET_MAX];
};

/* Asymmetric logical unit access (SPC-4 5.16, alua.c): each cluster node
 * is one target port group of every LU (id = node id) with one target port. */
#define ALUA_MAX_GROUPS  32   /* target port groups (cluster nodes) per LU */
#define TARGET_PORTS_EXTRA_MAX 7  /* target ports of a node besides its iSCSI one */

/* A node's target ports besides its iSCSI one (scsi/target_ports.h). */
struct node_target_ports {
	uint32_t node;
	unsigned n;
	uint16_t rel[TARGET_PORTS_EXTRA_MAX];   /* ascending */
};

/* The ASYMMETRIC ACCESS STATE values of REPORT TARGET PORT GROUPS (SPC-4 6.36). */
enum alua_state {
	ALUA_ACTIVE_OPTIMIZED = 0x0,
	ALUA_ACTIVE_NON_OPTIMIZED = 0x1,
	ALUA_STANDBY = 0x2,
	ALUA_UNAVAILABLE = 0x3,
	ALUA_OFFLINE = 0xe,
	ALUA_TRANSITIONING = 0xf,
};

enum alua_policy_kind {
	ALUA_POLICY_ALL_OPTIMIZED = 0,   /* every group Active/Optimized (active/active) */
	ALUA_POLICY_PREFERRED = 1,       /* one node Active/Optimized, the others `others` */
};

/* What the admin asks of an LU's port groups; all zero = all optimized. */
struct lu_alua_policy {
	uint8_t kind;                    /* enum alua_policy_kind */
	uint8_t others;                  /* PREFERRED: ALUA_ACTIVE_NON_OPTIMIZED or ALUA_STANDBY */
	uint32_t preferred_node;         /* PREFERRED: the Active/Optimized node (and PREF bit) */
};

/* One target port group of an LU; identical on every node. */
struct lu_alua_group {
	uint16_t id;                     /* TARGET PORT GROUP: the node id */
	uint16_t rel_port_id;            /* its target port's relative target port identifier */
	uint8_t state;                   /* enum alua_state */
	uint8_t status;                  /* RTPG STATUS CODE: 0 none, 1 by STPG, 2 implicit */
	bool preferred;                  /* PREF bit */
};

struct lu_alua {
	unsigned n_groups;               /* groups[] ascending by id */
	struct lu_alua_group groups[ALUA_MAX_GROUPS];
};

/* What the admin asked for; kept verbatim so it can be written back out. */
struct lu_spec {
	char backstore[16];          /* "file", "null" or "rbd" */
	char path[PATH_MAX];         /* file: regular file or block device;
				      * rbd: POOL/IMAGE */
	char options[512];           /* backstore-specific KEY=VALUE,... (rbd:
				      * conf=, id=, create=, timeout=) */
	uint64_t size;               /* bytes; 0 = use the existing file's size */
	bool thin;                   /* file: sparse, UNMAP punches holes */
	bool removable;              /* RMB in INQUIRY; PREVENT ALLOW MEDIUM REMOVAL */
	bool readonly;               /* writes fail with DATA PROTECT */
	uint32_t block_size;         /* 512 (default) or 4096 */
	uint32_t phys_block_size;    /* reported physical block (READ CAPACITY 16
				      * exponent); 0 = the logical block size */
	char wwn[33];                /* hex NAA designator; empty = derived */
	struct lu_alua_policy alua;  /* port group states (config "alua") */
};

/* Whether the backing store is there (backstore.h: BS_OPEN_PENDING). */
enum lu_backing_state {
	LU_BACKING_READY = 0,
	LU_BACKING_OPENING,          /* NOT READY, becoming ready */
	LU_BACKING_FAILED,           /* NOT READY, manual intervention required;
				      * the backstore keeps trying */
};

/* Mode page state an initiator may change (SPC-4 7.5, SBC-3 6.4). */
struct lu_mode {
	bool wce;       /* caching page: write cache enable */
	bool rcd;       /* caching page: read cache disable */
	bool d_sense;   /* control page: descriptor format sense */
	bool swp;       /* control page: software write protect */
	uint8_t tst;    /* control page: task set type (0 = one per LU) */
	uint8_t qerr;
};

/* The operations a service-time histogram is kept for. */
enum lu_stat_op { LU_OP_READ = 0, LU_OP_WRITE, LU_OP_OTHER, LU_STAT_OPS };
/* Service-time histogram buckets: upper bounds in lu_latency_bounds_ns
 * (25 us .. 10 s), the last bucket takes everything slower. */
#define LU_LATENCY_BUCKETS 19
extern const uint64_t lu_latency_bounds_ns[LU_LATENCY_BUCKETS - 1];

/* One per thread slot (workers.h), each on its own cache lines: a worker
 * counts its own commands without sharing a line with another; the
 * management API sums them with the world stopped, the metrics endpoint
 * while the workers run (docs/metrics.md), so every counter is written
 * with lu_stat_add() and read with lu_stat_read(): one writer per slot,
 * relaxed atomics, no lock and no locked instruction. */
struct lu_stats {
	uint64_t read_cmds, write_cmds, other_cmds;
	uint64_t read_bytes, write_bytes;
	uint64_t errors;
	uint64_t read_ns, write_ns;  /* summed service time */
	uint64_t other_ns;
	uint64_t latency[LU_STAT_OPS][LU_LATENCY_BUCKETS];  /* commands per bucket */
} __attribute__((aligned(64)));

static inline void lu_stat_add(uint64_t *counter, uint64_t n)
{
	__atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

static inline uint64_t lu_stat_read(const uint64_t *counter)
{
	return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

/* The histogram bucket of a service time (index into lu_stats.latency[op]). */
unsigned lu_latency_bucket(uint64_t ns);

/* = WORKER_SLOTS (workers.h): the control thread and up to 64 workers. */
#define LU_TASK_SETS 65

struct lu {
	struct target *target;
	uint64_t lun;                    /* LUN within its target (0-255) */
	struct lu_spec spec;
	uint64_t size_bytes;             /* set by the backstore's open/resize */
	uint32_t block_size;
	uint8_t block_shift;
	uint64_t num_blocks;             /* size_bytes >> block_shift */
	uint8_t naa[16];                 /* NAA 6 (IEEE registered extended) */
	char serial[LU_SERIAL_LEN + 1];
	struct lu_mode mode;             /* current values */
	struct lu_mode mode_saved;       /* defaults, restored on LU reset? no: power-on */
	bool prevent_removal;            /* PREVENT ALLOW MEDIUM REMOVAL in force */
	bool medium_loaded;              /* removable LUs: START STOP UNIT LOEJ */
	bool stopped;                    /* START STOP UNIT START=0 */

	const struct backstore_ops *bs_ops;
	void *bs_priv;
	uint8_t backing_state;           /* enum lu_backing_state */
	char backing_error[320];         /* why the last open failed */

	/* Commands in flight, SAM-5 ordering: one task set per thread slot
	 * of the nexuses (workers.h; TST=001b, task_set.c), so a worker
	 * orders its own sessions' commands without a shared lock. */
	struct task_set tasks[LU_TASK_SETS];
	/* The SCSI core's state of the LU: scsi/scsi_lu.c creates and frees
	 * it through the hooks lu_create() and lu_destroy() call. */
	struct pr_state *pr;             /* persistent + SPC-2 reservations (pr.c) */
	struct sbc_lu_state *sbc;        /* block command state (sbc.c) */
	struct sanitize_lu_state *sanitize;  /* SANITIZE state (sanitize.c) */
	struct xcopy_lu_state *xcopy;    /* the copy manager's (xcopy.c) */
	struct cluster_range_lock_lu *range_locks;  /* COMPARE AND WRITE across
					  * nodes (cluster_range_lock.c) */
	struct lu_alua alua;             /* target port group states (alua.c) */
	struct lu_stats stats[LU_TASK_SETS];   /* per thread slot, summed when read */
	bool removing;                   /* being deleted: refuse new commands */
	bool retired;                    /* unlinked; freed when its tasks end */
	struct ev_deferred release_check; /* a worker's last task ended (scsi_dispatch.c) */
	TAILQ_ENTRY(lu) link;            /* in target->lus, sorted by lun */
};

/* Every command in flight on lu, whichever thread's task set holds it
 * (control thread with the world stopped). */
#define LU_FOREACH_TASK(cmd, lu, set) \
	for (unsigned set = 0; set < LU_TASK_SETS; set++) \
		TAILQ_FOREACH(cmd, &(lu)->tasks[set].cmds, task_link)

static inline bool lu_tasks_empty(const struct lu *lu)
{
	for (unsigned i = 0; i < LU_TASK_SETS; i++)
		if (!TAILQ_EMPTY(&lu->tasks[i].cmds))
			return false;
	return true;
}

struct lun_map_entry {
	uint64_t mapped_lun;             /* what the initiator sees */
	uint64_t target_lun;             /* the LU in the target */
};

struct acl {
	char initiator[ISCSI_NAME_MAX];  /* initiator IQN/EUI */
	struct chap_cred chap;           /* initiator authenticates itself */
	struct chap_cred mutual_chap;    /* target authenticates to initiator */
	unsigned map_count;              /* 0 = every LU, identity mapping */
	struct lun_map_entry map[MAX_LUNS_PER_TARGET];
	TAILQ_ENTRY(acl) link;
};

/* Session parameters a target offers (RFC 7143 section 13); the defaults
 * come from iscsi_params_defaults() and config may override them. */
struct target_params {
	uint32_t max_recv_data_segment_length;
	uint32_t max_burst_length;
	uint32_t first_burst_length;
	bool initial_r2t;
	bool immediate_data;
	uint32_t max_outstanding_r2t;
	uint32_t default_time2wait;
	uint32_t default_time2retain;
	bool header_digest;      /* offer/accept CRC32C */
	bool data_digest;
	uint32_t queue_depth;    /* CmdSN window: MaxCmdSN - ExpCmdSN + 1 */
	uint32_t nop_interval;   /* seconds between target NOP-In pings, 0 = off */
	uint32_t nop_timeout;    /* seconds without an answer before dropping */
	uint32_t chap_algorithms; /* CHAP_ALG_BIT()s accepted in CHAP_A */
};

struct target {
	struct gateway *gw;
	char iqn[ISCSI_NAME_MAX];
	uint16_t tpgt;                   /* target portal group tag, 1 */
	bool demo_mode;                  /* no ACL needed: any initiator, all LUs */
	struct chap_cred chap;           /* used when the ACL has none (demo) */
	struct chap_cred mutual_chap;
	struct target_params params;
	TAILQ_HEAD(, lu) lus;
	TAILQ_HEAD(, acl) acls;
	TAILQ_ENTRY(target) link;
};

/* How a portal's connections carry iSCSI: TCP (RFC 7143) or iSER (RFC
 * 7145). The fabric finds the implementation (fabric/iscsi/transport.h);
 * a zeroed portal is TCP. An FCoE portal is no iSCSI portal: it names an
 * Ethernet interface that fabric/fcoe/ runs a VN2VN port on (docs/fcoe.md). */
enum portal_transport {
	PORTAL_TCP = 0,
	PORTAL_ISER,
	PORTAL_FCOE,
};

struct portal {
	char addr[64];                   /* "0.0.0.0", "127.0.0.1", "::";
					  * FCoE: the interface name */
	uint16_t port;                   /* FCoE: 0 */
	enum portal_transport transport;
	/* FCoE only: port and node names, 0 = derived from the interface
	 * MAC; the target it serves, "" = the first one. */
	uint64_t wwpn, wwnn;
	char target[ISCSI_NAME_MAX];
	TAILQ_ENTRY(portal) link;
};

/* "tcp", "iser", "fcoe" (configuration, management API, logs). */
const char *portal_transport_name(enum portal_transport kind);
/* The transport called name; false when there is none by that name. */
bool portal_transport_parse(const char *name, enum portal_transport *kind);

struct cluster;
struct event_loop;

struct gateway {
	struct event_loop *loop;
	struct cluster *cluster;
	uint32_t node_id;                /* cluster node id; 1 in single-node mode */
	/* Cluster members, ascending, as alua_set_members() last applied
	 * them; none yet means this node alone. One port group each. */
	uint32_t members[ALUA_MAX_GROUPS];
	unsigned n_members;
	/* The member pacemaker promoted (node_role.c), 0: none. It holds the
	 * preferred role of every "preferred" LU (alua.c); shared state. */
	uint32_t promoted_node;
	/* Target ports besides the iSCSI one (FCoE ports), target_ports.c:
	 * this node's own, and every node's as the cluster applied them. */
	struct node_target_ports own_ports;
	struct node_target_ports node_ports[ALUA_MAX_GROUPS];   /* ascending by node */
	unsigned n_node_ports;
	bool ports_announcing;           /* our SOP_TARGET_PORTS in flight */
	bool ports_frozen;               /* stopping: announce nothing more */
	char state_dir[PATH_MAX];
	char config_path[PATH_MAX];      /* empty: no config file (demo mode) */
	char mgmt_socket[PATH_MAX];
	char mgmt_group[64];             /* --mgmt-group: may use the socket too; "": root only */
	struct chap_cred discovery_chap; /* CHAP asked of SendTargets sessions */
	struct chap_cred discovery_mutual_chap;
	bool discovery_auth;             /* require CHAP on discovery sessions */
	uint32_t discovery_chap_algorithms; /* CHAP_ALG_BIT()s; 0: all of them */
	TAILQ_HEAD(, target) targets;
	TAILQ_HEAD(, portal) portals;
	TAILQ_HEAD(, it_nexus) nexuses;  /* every I_T nexus on this node */
	uint64_t next_nexus_seq;
	uint32_t config_version;         /* bumped by every applied config change */
	uint64_t aptpl_file_changes;     /* APTPL files written or removed (pr.c) */
	struct mgmt_server *mgmt;        /* the management API (mgmt.c) */
	bool cluster_ready;              /* quorate and synchronised: serve I/O */
	/* Node-local limits (sangwd --login-timeout, --max-connections). */
	unsigned login_timeout_ms;       /* a login must finish within this; 0: 15 s */
	unsigned max_connections;        /* iSCSI connections served at once; 0: no bound */
	struct fencing *fencing;         /* fencing.c; NULL: no fencing (unit tests) */
	/* Set by main(): rebind the fabric listeners after gw->portals changed. */
	int (*portals_changed)(struct gateway *gw, char *err, size_t errlen);
};

/* The process-wide gateway; set once by main(). */
extern struct gateway *the_gateway;

/* --- model.c: lookups and lifecycle ------------------------------------ */
struct target *gw_find_target(struct gateway *gw, const char *iqn);
struct lu *target_find_lu(struct target *t, uint64_t lun);
struct acl *target_find_acl(struct target *t, const char *initiator);
/* The ACL an initiator logs in under: its own, or NULL in demo mode.
 * Returns false when the initiator may not access the target at all. */
bool target_allows(struct target *t, const char *initiator, struct acl **acl);
/* Translate the LUN an initiator addressed into the LU it means; NULL if
 * not mapped for this initiator. */
struct lu *target_resolve_lun(struct target *t, const struct acl *acl, uint64_t mapped_lun);
/* Every LUN the initiator sees, ascending: fills luns[] and returns the count. */
unsigned target_visible_luns(struct target *t, const struct acl *acl, uint64_t *luns, unsigned max);
/* Mapped LUN under which this ACL sees lu; false if it does not. */
bool acl_maps_lu(const struct acl *acl, const struct lu *lu, uint64_t *mapped_lun);

struct target *target_create(struct gateway *gw, const char *iqn);
void target_destroy(struct target *t);
/* Open the backstore and fill identity (NAA, serial) and geometry. */
struct lu *lu_create(struct target *t, uint64_t lun, const struct lu_spec *spec,
		     char *err, size_t errlen);
/* Remove the LU; it is freed once the commands in its task set end. */
void lu_destroy(struct lu *lu);
/* Called by the core after a command of lu completed. */
void lu_release_if_retired(struct lu *lu);
/* 0 when done, 1 (BS_RESIZE_PENDING) when the backstore finishes it later
 * (the LU keeps its old size until then; lu_backing_resized() raises the
 * CAPACITY DATA HAS CHANGED unit attention), -errno with err on failure. */
int lu_resize(struct lu *lu, uint64_t new_size, char *err, size_t errlen);
/* A pending resize ended (control thread, world stopped). */
void lu_backing_resized(struct lu *lu, int result, uint64_t size_bytes);
/* A backstore's pending open ended (control thread, world stopped):
 * result 0 with the backing's size in bytes, or -errno and why. */
void lu_backing_opened(struct lu *lu, int result, uint64_t size_bytes, const char *why);
/* Close the backing and open it again (control thread, world stopped):
 * a fenced node reconnecting to shared storage (fencing.c). The LU answers
 * NOT READY until the open ends. */
void lu_backing_reopen(struct lu *lu);
void target_params_defaults(struct target_params *p);
/* Parse a --lun SPEC ("file:PATH[,size=SIZE][,thin=1]", "null[,size=SIZE]" or
 * "rbd:POOL/IMAGE[,conf=PATH][,id=CLIENT][,size=SIZE][,create=1]"). */
int lu_spec_parse(const char *text, struct lu_spec *spec, char *err, size_t errlen);

#endif
