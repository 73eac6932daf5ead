/* Internals shared by the SCSI core's files. Each command-set file (spc.c,
 * sbc.c, pr.c, alua.c, sanitize.c) exports an ops table of the commands it implements; the
 * dispatcher (scsi_dispatch.c) looks commands up there, applies the checks
 * every command goes through (LU present, unit attentions, reservations,
 * ALUA state, write protection, CDB length and reserved bits) and calls
 * the handler. REPORT SUPPORTED OPERATION CODES reads the same tables. */
#ifndef SANGW_SCSI_INTERNAL_H
#define SANGW_SCSI_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../model.h"
#include "scsi.h"

/* How a command is treated under reservations (SPC-4 5.13.1 table "SPC
 * commands that are allowed in the presence of various reservations", and
 * SBC-3 4.17 for block commands; SPC-2 5.5.1 for RESERVE/RELEASE). */
enum pr_access {
	PR_ACCESS_ALLOWED,        /* never conflicts (INQUIRY, REPORT LUNS, ...) */
	PR_ACCESS_READ,           /* conflicts under Exclusive Access types only */
	PR_ACCESS_WRITE,          /* conflicts under both WE and EA types */
	PR_ACCESS_PR_OUT,         /* PERSISTENT RESERVE OUT: its own rules */
	PR_ACCESS_SPC2,           /* RESERVE/RELEASE: conflict with a PR */
	PR_ACCESS_CONFLICT,       /* conflicts for any non-holder (e.g. MODE SELECT) */
};

#define OPF_NO_LU_NEEDED   0x0001  /* runs without an LU (INQUIRY, REPORT LUNS, REQUEST SENSE) */
#define OPF_NO_UA          0x0002  /* never reports a pending UA (SAM-5 5.14) */
#define OPF_WRITES_MEDIUM  0x0004  /* refused on read-only LUs (DATA PROTECT) */
#define OPF_DATA_OUT       0x0008  /* carries Data-Out */
#define OPF_DATA_IN        0x0010  /* returns Data-In */
#define OPF_NEEDS_MEDIUM   0x0020  /* NOT READY when stopped / no medium */
#define OPF_SA_IN_BYTE1    0x0040  /* service action in byte 1 (bits 4-0) */

struct scsi_opcode_desc {
	uint8_t opcode;
	uint16_t service_action;      /* valid when flags & OPF_SA_IN_BYTE1 */
	uint8_t cdb_len;
	/* CDB usage data (SPC-4 6.35.3): bits the device server looks at;
	 * byte 0 is the opcode. Also used to reject reserved bits set. */
	uint8_t cdb_usage[16];
	uint32_t flags;
	enum pr_access pr_access;
	uint32_t nominal_timeout_s;   /* RCTD command timeouts descriptor */
	uint32_t recommended_timeout_s;
	const char *name;
	void (*execute)(struct scsi_cmd *cmd);
};

struct scsi_opcode_table {
	const struct scsi_opcode_desc *ops;
	size_t count;
};

extern const struct scsi_opcode_table spc_opcode_table;
extern const struct scsi_opcode_table sbc_opcode_table;
extern const struct scsi_opcode_table pr_opcode_table;
extern const struct scsi_opcode_table sanitize_opcode_table;

/* The descriptor for cmd's opcode (and service action), NULL if unsupported. */
const struct scsi_opcode_desc *scsi_opcode_lookup(uint8_t opcode, uint16_t service_action);
const struct scsi_opcode_desc *scsi_cmd_desc(const struct scsi_cmd *cmd);
/* Iterate over every supported command (REPORT SUPPORTED OPERATION CODES). */
void scsi_opcode_foreach(void (*fn)(const struct scsi_opcode_desc *desc, void *arg), void *arg);

/* Task set (task_set.c, SAM-5 8.5-8.6): enter in arrival order; returns
 * true when cmd may run now, false when it must wait (it is started
 * through scsi_dispatch_start() once the blocking commands finish). */
bool task_set_enter(struct task_set *ts, struct scsi_cmd *cmd);
void task_set_leave(struct task_set *ts, struct scsi_cmd *cmd);
/* Take a command out of the task set without running it (abort of a
 * waiting command); true if it was waiting. */
bool task_set_detach(struct task_set *ts, struct scsi_cmd *cmd);
/* Start every waiting command that may now run. */
void task_set_start_ready(struct task_set *ts);
/* Execute a command that has passed the task set. */
void scsi_dispatch_start(struct scsi_cmd *cmd);

/* Backstore I/O on behalf of a command: fills cmd->io and submits;
 * done(cmd) runs from the loop. */
void scsi_cmd_io(struct scsi_cmd *cmd, enum bs_op op, uint64_t offset, uint64_t length,
		 void *buf, bool fua, void (*done)(struct scsi_cmd *cmd, int result));
/* The same in two steps, for ops with more fields (bs_io.cmp_buf,
 * pattern_len): prepare, fill them in, submit. */
struct bs_io *scsi_cmd_io_prepare(struct scsi_cmd *cmd, enum bs_op op, uint64_t offset,
				  uint64_t length, void *buf, bool fua,
				  void (*done)(struct scsi_cmd *cmd, int result));
void scsi_cmd_io_submit(struct scsi_cmd *cmd);

#endif
