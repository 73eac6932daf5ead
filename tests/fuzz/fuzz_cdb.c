/* libFuzzer target: the SCSI core behind the fabric seam (scsi.h). An
 * input is a sequence of commands, TMFs and nexus losses from three I_T
 * nexuses (two ports of one initiator and another initiator, so that PR
 * and SPC-2 reservations see registrants and non-registrants) to two null
 * LUs of a demo-mode target, and an unmapped LUN. Commands may overlap:
 * up to FUZZ_MAX_INFLIGHT are outstanding, so task-set ordering, ABORT
 * TASK and LU RESET meet live commands. Every CDB, parameter list and
 * task attribute the bytes spell is decoded and dispatched (PR OUT, MODE
 * SELECT, UNMAP, XCOPY, WRITE SAME, SANITIZE, ...). Nothing may crash,
 * leak, hang (every command completes) or trip ASan/UBSan.
 *
 * Record (repeated until the input ends):
 *   byte 0  bits 0-1 nexus (mod 3), bit 2 LUN 1, bit 3 LUN 5 (unmapped),
 *           bits 4-5 direction (0 none, 1 in, 2 out), bits 6-7 task attribute
 *   byte 1  kind: high nibble 0xf = TMF, 0xe = nexus loss and a new login,
 *           else a command: bits 0-3 CDB length 6 + n (at most 16; 15: 32),
 *           bit 4 wait for every outstanding command first
 *   byte 2-3 command: transfer length (Data-Out bytes taken from the
 *           input, or the expected Data-In length);
 *           TMF: function (byte 2, 1..8) and the tag to abort (byte 3)
 *   then the CDB and the Data-Out bytes.
 *
 *   make -C BUILD fuzz-cdb
 *   BUILD/tests/fuzz/fuzz_cdb -max_total_time=60 tests/fuzz/corpus-cdb */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/event_loop.h"
#include "../../gateway/scsi/scsi.h"
#include "../../gateway/scsi/sense.h"
#include "../../gateway/util.h"
#include "fuzz_gateway.h"

#define FUZZ_NEXUSES      3
#define FUZZ_MAX_INFLIGHT 16

struct fuzz_nexus {
	struct it_nexus nx;
	bool dropped;
	bool live;
};

/* Everything of one input lives in this, on the stack. */
struct fuzz_run {
	struct fuzz_gw *g;
	struct fuzz_nexus nexus[FUZZ_NEXUSES];
	unsigned inflight;
	unsigned tmfs;
	uint64_t next_tag;
};

struct fuzz_task {
	struct scsi_cmd cmd;
	struct fuzz_run *run;
};

struct fuzz_tmf {
	struct tmf_req req;
	struct fuzz_run *run;
};

static void fuzz_cmd_done(struct scsi_cmd *cmd)
{
	struct fuzz_task *t = cmd->fabric_priv;

	if (t->run->g->verbose) {
		uint8_t key = 0;
		uint16_t asc = 0;

		if (cmd->sense_len)
			sense_decode(cmd->sense, cmd->sense_len, &key, &asc);
		fprintf(stderr, "fuzz_cdb: tag %llu op 0x%02x lun %llu: status 0x%02x%s sense %x/%04x\n",
			(unsigned long long)cmd->tag, cmd->cdb[0], (unsigned long long)cmd->lun,
			cmd->status, cmd->aborted ? " (aborted)" : "", key, asc);
	}
	t->run->inflight--;
	scsi_cmd_free_buf(cmd);
	free(t);
}

static void fuzz_tmf_done(struct tmf_req *req)
{
	struct fuzz_tmf *t = req->fabric_priv;

	t->run->tmfs--;
	free(t);
}

static unsigned fuzz_transport_id(const struct it_nexus *nx, uint8_t *buf, unsigned len)
{
	/* SPC-4 7.6.4.6 iSCSI TransportID, format 01b: name,i,0x<isid> */
	unsigned n = (unsigned)strlen(nx->initiator_port) + 1;
	unsigned total = (4 + n + 3) & ~3u;

	if (len < total)
		return 0;
	memset(buf, 0, total);
	buf[0] = 0x40 | 0x05;
	put_be16(buf + 2, (uint16_t)(total - 4));
	memcpy(buf + 4, nx->initiator_port, n);
	return total;
}

static void fuzz_drop(struct it_nexus *nx)
{
	((struct fuzz_nexus *)nx)->dropped = true;   /* nx is the first member */
}

static const struct fabric_ops fuzz_fabric = {
	.name = "fuzz",
	.cmd_done = fuzz_cmd_done,
	.tmf_done = fuzz_tmf_done,
	.transport_id = fuzz_transport_id,
	.drop = fuzz_drop,
};

static void nexus_login(struct fuzz_run *run, unsigned i)
{
	static const char *const names[FUZZ_NEXUSES] = {
		"iqn.2026-11.org.sangw:fuzz-a", "iqn.2026-11.org.sangw:fuzz-a",
		"iqn.2026-11.org.sangw:fuzz-b",
	};
	struct gateway *gw = &run->g->gw;
	struct fuzz_nexus *fn = &run->nexus[i];
	struct it_nexus *nx = &fn->nx;

	memset(fn, 0, sizeof(*fn));
	nx->id = ((uint64_t)gw->node_id << 40) | ++gw->next_nexus_seq;
	str_copy(nx->initiator_name, names[i], sizeof(nx->initiator_name));
	nx->isid[0] = 0x80;
	nx->isid[5] = (uint8_t)(i + 1);
	snprintf(nx->initiator_port, sizeof(nx->initiator_port), "%s,i,0x80000000%04x", names[i],
		 i + 1);
	snprintf(nx->target_port, sizeof(nx->target_port), "%s,t,0x%04x", run->g->target->iqn,
		 run->g->target->tpgt);
	nx->rel_tgt_port_id = 1;
	nx->tpg_id = 1;
	nx->target = run->g->target;
	nx->fabric = &fuzz_fabric;
	TAILQ_INIT(&nx->uas);
	TAILQ_INSERT_TAIL(&gw->nexuses, nx, link);
	scsi_nexus_register(nx);
	fn->live = true;
}

static void nexus_logout(struct fuzz_run *run, unsigned i)
{
	struct fuzz_nexus *fn = &run->nexus[i];

	if (!fn->live)
		return;
	scsi_nexus_unregister(&fn->nx);
	TAILQ_REMOVE(&run->g->gw.nexuses, &fn->nx, link);
	fn->live = false;
}

/* Run the loop until no command or TMF is outstanding. */
static void wait_idle(struct fuzz_run *run)
{
	/* Completions come through deferred calls; with none queued, waits
	 * for the next timer (a paced SANITIZE). */
	for (int i = 0; i < 100000 && (run->inflight || run->tmfs); i++) {
		if (event_loop_has_deferred(run->g->gw.loop))
			fuzz_gw_poll(run->g);
		else
			event_loop_run_once(run->g->gw.loop, 100);
	}
	if (run->inflight || run->tmfs) {
		fprintf(stderr, "fuzz_cdb: %u commands and %u TMFs never completed\n", run->inflight,
			run->tmfs);
		abort();
	}
}

static uint64_t record_lun(uint8_t b)
{
	if (b & 8)
		return 5;
	return (b & 4) ? 1 : 0;
}

static void submit_tmf(struct fuzz_run *run, struct it_nexus *nx, const uint8_t *hdr)
{
	struct fuzz_tmf *t = calloc(1, sizeof(*t));

	if (!t)
		return;
	t->run = run;
	t->req.nexus = nx;
	t->req.function = (enum tmf_function)(hdr[2] % 8 + 1);
	t->req.lun = record_lun(hdr[0]);
	t->req.ref_tag = hdr[3];
	t->req.fabric_priv = t;
	run->tmfs++;
	scsi_tmf_submit(&t->req);
}

static size_t submit_cmd(struct fuzz_run *run, struct it_nexus *nx, const uint8_t *hdr,
			 const uint8_t *rest, size_t size)
{
	unsigned cdb_len = (hdr[1] & 15u) == 15 ? 32 : MIN(6u + (hdr[1] & 15u), 16u);
	uint32_t len = get_be16(hdr + 2);
	enum scsi_data_dir dir = (enum scsi_data_dir)((hdr[0] >> 4) & 3);
	struct fuzz_task *t;
	struct scsi_cmd *cmd;
	size_t used;

	if (size < cdb_len)
		return size;
	if (dir > SCSI_DIR_OUT)
		dir = SCSI_DIR_NONE;
	if (dir == SCSI_DIR_OUT)
		len = (uint32_t)MIN((size_t)len, size - cdb_len);
	used = cdb_len + (dir == SCSI_DIR_OUT ? len : 0);
	if (hdr[1] & 0x10 || run->inflight >= FUZZ_MAX_INFLIGHT)
		wait_idle(run);
	t = calloc(1, sizeof(*t));
	if (!t)
		return used;
	t->run = run;
	cmd = &t->cmd;
	cmd->nexus = nx;
	cmd->lun = record_lun(hdr[0]);
	memcpy(cmd->cdb, rest, cdb_len);
	cmd->cdb_len = (uint8_t)cdb_len;
	cmd->task_attr = hdr[0] >> 6;
	cmd->tag = run->next_tag++ & 0xff;   /* small tags: ABORT TASK finds them */
	cmd->dir = dir;
	cmd->expected_len = dir == SCSI_DIR_NONE ? 0 : len;
	cmd->fabric_priv = t;
	if (dir == SCSI_DIR_OUT && len) {
		if (scsi_cmd_ensure_buf(cmd, len) < 0) {
			free(t);
			return used;
		}
		memcpy(cmd->buf, rest + cdb_len, len);
		cmd->data_out_len = len;
	}
	run->inflight++;
	scsi_cmd_submit(cmd);
	return used;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_run run = { .g = fuzz_gw_get() };

	run.g->no_fds = true;   /* the fabric is this file, the LUs null */
	fuzz_gw_start(run.g, 2);
	for (unsigned i = 0; i < FUZZ_NEXUSES; i++)
		nexus_login(&run, i);
	fuzz_gw_drain(run.g);
	while (size >= 4) {
		const uint8_t *hdr = data;
		unsigned which = hdr[0] & 3;
		struct fuzz_nexus *fn;
		size_t used = 4;

		if (which >= FUZZ_NEXUSES)
			which = 0;
		fn = &run.nexus[which];
		if ((hdr[1] & 0xf0) == 0xf0) {
			submit_tmf(&run, &fn->nx, hdr);
		} else if ((hdr[1] & 0xf0) == 0xe0) {
			/* The fabric frees a nexus after its aborted commands. */
			nexus_logout(&run, which);
			wait_idle(&run);
			nexus_login(&run, which);
		} else {
			used += submit_cmd(&run, &fn->nx, hdr, data + 4, size - 4);
		}
		data += used;
		size -= used;
		/* A TARGET COLD RESET or a removed ACL drops sessions; the
		 * fabric logs them out from its loop, then they log in again. */
		fuzz_gw_poll(run.g);
		for (unsigned i = 0; i < FUZZ_NEXUSES; i++) {
			if (run.nexus[i].dropped) {
				nexus_logout(&run, i);
				wait_idle(&run);
				nexus_login(&run, i);
			}
		}
	}
	wait_idle(&run);
	for (unsigned i = 0; i < FUZZ_NEXUSES; i++)
		nexus_logout(&run, i);
	fuzz_gw_drain(run.g);
	fuzz_gw_stop(run.g);
	return 0;
}
