/* EXTENDED COPY (LID1) and RECEIVE COPY RESULTS (SPC-4 6.4, 6.18). See
 * xcopy.h.
 *
 * How an EXTENDED COPY is processed:
 *  1. the parameter list is decoded and checked (xcopy_parse_params);
 *     errors are ILLEGAL REQUEST (SPC-4 6.4.3.2);
 *  2. every segment is checked against the LUs its CSCDs name: the
 *     indexes, that the LUs exist on this gateway and the initiator may
 *     see them, their block sizes, LBA ranges and state. Those errors are
 *     COPY ABORTED (libiscsi's ExtendedCopy tests expect COPY ABORTED for
 *     an unreachable CSCD, an index past the CSCD list and a range past
 *     the end), except a write-protected destination, which is DATA
 *     PROTECT as for any write, and block sizes that do not fit, which are
 *     parameter errors. Nothing has been copied yet;
 *  3. the segments are copied in order, XCOPY_CHUNK_BYTES at a time: read
 *     from the source backstore into the operation's buffer, write to the
 *     destination backstore. The LUs are looked up again by designator
 *     for every chunk, so an LU deleted meanwhile aborts the copy instead
 *     of being touched after it is freed.
 *
 * The copy takes no LBA range locks (SPC-4 gives EXTENDED COPY no
 * atomicity against other commands); a sanitize that starts on one of
 * its LUs ends it at the next chunk.
 *
 * Held results (LIST ID USAGE 00b) are kept per LU, per I_T nexus and
 * list identifier; RECEIVE COPY RESULTS (COPY STATUS) reports them, and a
 * completed one is discarded once reported. */
#include "xcopy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cdb.h"
#include "../log.h"
#include "pr.h"
#include "sanitize.h"
#include "scsi_internal.h"
#include "sense.h"
#include "../util.h"

/* Additional sense codes of SPC-4 Annex D that only the copy manager uses. */
#define ASC_OPERATION_IN_PROGRESS            0x0016
#define ASC_UNREACHABLE_COPY_TARGET          0x0804
#define ASC_COPY_TARGET_DEVICE_NOT_REACHABLE 0x0d02
#define ASC_INSUFFICIENT_RESOURCES           0x5503

/* SPC-4 7.8.6.1 designator type NAA, association logical unit. */
#define DESIGNATOR_TYPE_NAA   0x3
#define ASSOCIATION_LU        0x0

/* COPY MANAGER STATUS (SPC-4 6.18.3) */
#define COPY_IN_PROGRESS      0x00
#define COPY_DONE_GOOD        0x01
#define COPY_DONE_ERRORS      0x02

#define PARAM_HEADER_LEN      16u
#define CSCD_LEN              32u
#define B2B_SEGMENT_LEN       28u

/* --- parameter list decoding ---------------------------------------------- */

static bool param_error(struct xcopy_error *err, uint16_t asc, bool field_valid, uint32_t byte,
			int bit)
{
	err->asc = asc;
	err->field_valid = field_valid;
	err->byte = (uint16_t)MIN(byte, 0xffffu);
	err->bit = bit;
	return false;
}

/* SPC-4 6.4.5.1: CSCD descriptors have a fixed length by type; the IPv6
 * and IP copy service ones are 64 bytes, all others 32. */
static uint32_t cscd_length(uint8_t type)
{
	return type == 0xea || type == 0xeb ? 64 : 32;
}

static bool parse_cscd(const uint8_t *p, uint32_t off, struct xcopy_cscd *c,
		       struct xcopy_error *err)
{
	const uint8_t *d = p + off;

	if (d[0] != XCOPY_CSCD_IDENTIFICATION)
		return param_error(err, ASC_UNSUPPORTED_TARGET_DESCRIPTOR_TYPE, true, off, -1);
	/* Byte 1: SPC-4 made the LU ID TYPE field (bits 7-6) and the NUL
	 * bit (bit 5) of SPC-3 obsolete, so they are ignored (we claim
	 * SPC-4 in INQUIRY; libiscsi checks exactly this). PERIPHERAL DEVICE
	 * TYPE: only direct access block devices. */
	if (d[1] & 0x1f)
		return param_error(err, ASC_INVALID_FIELD_IN_PARAMETER_LIST, true, off + 1, 4);
	memset(c, 0, sizeof(*c));
	c->offset = (uint16_t)off;
	/* Bytes 4-23: a designation descriptor (SPC-4 7.8.6.1). */
	c->association = (d[5] >> 4) & 0x03;
	c->designator_type = d[5] & 0x0f;
	c->designator_len = d[7];
	if (c->designator_len > sizeof(c->designator))
		return param_error(err, ASC_INVALID_FIELD_IN_PARAMETER_LIST, true, off + 7, -1);
	memcpy(c->designator, d + 8, c->designator_len);
	/* Bytes 28-31: block device parameters (SPC-4 6.4.5.4). */
	c->block_length = get_be24(d + 29);
	return true;
}

static bool parse_segment(const uint8_t *p, uint32_t off, uint32_t len, struct xcopy_segment *s,
			  struct xcopy_error *err)
{
	const uint8_t *d = p + off;

	if (d[0] != XCOPY_SEG_BLOCK_TO_BLOCK)
		return param_error(err, ASC_UNSUPPORTED_SEGMENT_DESCRIPTOR_TYPE, true, off, -1);
	if (len != B2B_SEGMENT_LEN)
		return param_error(err, ASC_INVALID_FIELD_IN_PARAMETER_LIST, true, off + 2, -1);
	memset(s, 0, sizeof(*s));
	s->offset = (uint16_t)off;
	s->dc = d[1] & 0x02;
	s->src_index = get_be16(d + 4);
	s->dst_index = get_be16(d + 6);
	s->blocks = get_be16(d + 10);
	s->src_lba = get_be64(d + 12);
	s->dst_lba = get_be64(d + 20);
	return true;
}

bool xcopy_parse_params(const uint8_t *p, uint32_t len, struct xcopy_params *out,
			struct xcopy_error *err)
{
	uint32_t cscd_len, seg_len, inline_len, off, end, dlen;

	memset(out, 0, sizeof(*out));
	/* SPC-4 6.4.3.2: a list that cuts a header or descriptor short is a
	 * PARAMETER LIST LENGTH ERROR. */
	if (len < PARAM_HEADER_LEN)
		return param_error(err, ASC_PARAMETER_LIST_LENGTH_ERROR, false, 0, -1);
	out->list_id = p[0];
	out->list_id_usage = (p[1] >> 3) & 0x03;
	if (out->list_id_usage == 0x1)          /* reserved */
		return param_error(err, ASC_INVALID_FIELD_IN_PARAMETER_LIST, true, 1, 4);
	if (out->list_id_usage == XCOPY_LIST_ID_NONE && out->list_id != 0)
		return param_error(err, ASC_INVALID_FIELD_IN_PARAMETER_LIST, true, 0, -1);
	cscd_len = get_be16(p + 2);
	seg_len = get_be32(p + 8);
	inline_len = get_be32(p + 12);
	if ((uint64_t)PARAM_HEADER_LEN + cscd_len + seg_len + inline_len > len)
		return param_error(err, ASC_PARAMETER_LIST_LENGTH_ERROR, false, 0, -1);
	/* MAXIMUM DESCRIPTOR LIST LENGTH (SPC-4 6.18.4): libiscsi expects a
	 * PARAMETER LIST LENGTH ERROR beyond it. */
	if ((uint64_t)cscd_len + seg_len > XCOPY_MAX_DESCRIPTOR_LIST_LEN)
		return param_error(err, ASC_PARAMETER_LIST_LENGTH_ERROR, false, 0, -1);
	/* MAXIMUM INLINE DATA LENGTH is 0: no segment type we implement
	 * uses inline data. */
	if (inline_len)
		return param_error(err, ASC_INVALID_FIELD_IN_PARAMETER_LIST, true, 12, -1);

	off = PARAM_HEADER_LEN;
	end = PARAM_HEADER_LEN + cscd_len;
	while (off < end) {
		if (out->cscd_count == XCOPY_MAX_CSCD_DESCRIPTORS)
			return param_error(err, ASC_TOO_MANY_TARGET_DESCRIPTORS, true, off, -1);
		dlen = cscd_length(p[off]);
		if (off + dlen > end)
			return param_error(err, ASC_PARAMETER_LIST_LENGTH_ERROR, false, 0, -1);
		if (!parse_cscd(p, off, &out->cscd[out->cscd_count], err))
			return false;
		out->cscd_count++;
		off += dlen;
	}

	end += seg_len;
	while (off < end) {
		if (off + 4 > end)
			return param_error(err, ASC_PARAMETER_LIST_LENGTH_ERROR, false, 0, -1);
		if (out->segment_count == XCOPY_MAX_SEGMENT_DESCRIPTORS)
			return param_error(err, ASC_TOO_MANY_SEGMENT_DESCRIPTORS, true, off, -1);
		/* Segment descriptors carry their length after byte 3. */
		dlen = 4u + get_be16(p + off + 2);
		if (off + dlen > end)
			return param_error(err, ASC_PARAMETER_LIST_LENGTH_ERROR, false, 0, -1);
		if (!parse_segment(p, off, dlen, &out->segment[out->segment_count], err))
			return false;
		out->segment_count++;
		off += dlen;
	}
	return true;
}

/* --- per-LU state: copies running and results held ------------------------- */

/* One EXTENDED COPY known to the copy manager of an LU: running (cmd set)
 * or completed and held for RECEIVE COPY RESULTS. */
struct xcopy_job {
	uint64_t nexus_id;
	uint8_t list_id;
	uint8_t list_id_usage;
	bool running;
	uint8_t status;               /* COPY MANAGER STATUS */
	uint16_t segments_processed;
	uint64_t bytes_copied;
	TAILQ_ENTRY(xcopy_job) link;  /* oldest first */
};

struct xcopy_lu_state {
	TAILQ_HEAD(, xcopy_job) jobs;
	unsigned running;
	unsigned held;
};

/* lu->xcopy, created by the first EXTENDED COPY sent to the LU (NULL when
 * create is false and there is none yet, or when it cannot be allocated). */
static struct xcopy_lu_state *lu_xcopy(struct lu *lu, bool create)
{
	if (!lu->xcopy && create) {
		lu->xcopy = calloc(1, sizeof(*lu->xcopy));
		if (lu->xcopy)
			TAILQ_INIT(&lu->xcopy->jobs);
	}
	return lu->xcopy;
}

static struct xcopy_job *job_find(struct xcopy_lu_state *st, uint64_t nexus_id, uint8_t list_id)
{
	struct xcopy_job *job;

	TAILQ_FOREACH(job, &st->jobs, link)
		if (job->nexus_id == nexus_id && job->list_id == list_id)
			return job;
	return NULL;
}

static void job_free(struct xcopy_lu_state *st, struct xcopy_job *job)
{
	TAILQ_REMOVE(&st->jobs, job, link);
	if (job->running)
		st->running--;
	else
		st->held--;
	free(job);
}

/* A copy ended: keep its result when asked to (LIST ID USAGE 00b) and the
 * nexus still exists, within XCOPY_MAX_HELD_RESULTS (oldest go first). */
static void job_end(struct xcopy_lu_state *st, struct xcopy_job *job, uint8_t status, bool keep)
{
	struct xcopy_job *old, *next;

	job->running = false;
	job->status = status;
	st->running--;
	st->held++;
	if (!keep) {
		job_free(st, job);
		return;
	}
	for (old = TAILQ_FIRST(&st->jobs); old && st->held > XCOPY_MAX_HELD_RESULTS; old = next) {
		next = TAILQ_NEXT(old, link);
		if (!old->running)
			job_free(st, old);
	}
}

static void drop_held(struct lu *lu, const struct it_nexus *nexus)
{
	struct xcopy_lu_state *st = lu_xcopy(lu, false);
	struct xcopy_job *job, *next;

	if (!st)
		return;
	for (job = TAILQ_FIRST(&st->jobs); job; job = next) {
		next = TAILQ_NEXT(job, link);
		if (!job->running && (!nexus || job->nexus_id == nexus->id))
			job_free(st, job);
	}
}

void xcopy_nexus_lost(struct lu *lu, const struct it_nexus *nexus)
{
	drop_held(lu, nexus);
}

void xcopy_lu_reset(struct lu *lu)
{
	drop_held(lu, NULL);
}

void xcopy_lu_cleanup(struct lu *lu)
{
	struct xcopy_lu_state *st = lu->xcopy;
	struct xcopy_job *job;

	if (!st)
		return;
	/* The LU is released once its commands are gone: nothing runs. */
	while ((job = TAILQ_FIRST(&st->jobs))) {
		TAILQ_REMOVE(&st->jobs, job, link);
		free(job);
	}
	free(st);
	lu->xcopy = NULL;
}

/* --- finding the LUs the CSCDs name ----------------------------------------- */

/* May the initiator of this nexus reach lu? The copy manager acts for the
 * initiator: it must not open LUs its ACLs hide. */
static bool initiator_sees(const struct it_nexus *nexus, struct lu *lu)
{
	struct acl *acl;
	uint64_t mapped;

	if (!target_allows(lu->target, nexus->initiator_name, &acl))
		return false;
	return acl_maps_lu(acl, lu, &mapped);
}

/* SPC-4 6.4.5.3: the LU whose designator the identification CSCD carries;
 * NULL when none of this gateway's LUs (visible to the initiator) has it. */
static struct lu *cscd_lu(struct gateway *gw, const struct it_nexus *nexus,
			  const struct xcopy_cscd *c)
{
	struct target *t;
	struct lu *lu;

	if (c->designator_type != DESIGNATOR_TYPE_NAA ||
	    c->association != ASSOCIATION_LU || c->designator_len != sizeof(lu->naa))
		return NULL;
	TAILQ_FOREACH(t, &gw->targets, link) {
		TAILQ_FOREACH(lu, &t->lus, link) {
			if (!lu->removing && memcmp(lu->naa, c->designator, sizeof(lu->naa)) == 0 &&
			    initiator_sees(nexus, lu))
				return lu;
		}
	}
	return NULL;
}

/* --- the copy operation -------------------------------------------------------- */

struct xcopy_op {
	struct scsi_cmd *cmd;
	struct gateway *gw;
	struct xcopy_lu_state *st;       /* of cmd->lu */
	struct xcopy_job *job;
	struct xcopy_params params;
	/* the segment being copied, in bytes */
	unsigned seg;
	bool seg_started;
	uint64_t src_offset, dst_offset;
	uint64_t seg_bytes, seg_done;
	bool backward;                   /* overlapping ranges of one LU */
	/* the chunk in flight */
	uint64_t chunk_src, chunk_dst, chunk_len;
	uint8_t *buf;
	uint64_t buf_len;                /* the largest chunk: up to XCOPY_CHUNK_BYTES */
	struct bs_io io;
};

static void fail_sense(struct scsi_cmd *cmd, uint8_t key, uint16_t asc)
{
	scsi_check_condition(cmd, key, asc);
}

/* A decoding error, with its field pointer into the parameter list. */
static void fail_param(struct scsi_cmd *cmd, const struct xcopy_error *err)
{
	struct sense_field_ptr field = {
		.valid = err->field_valid,
		.in_cdb = false,
		.bit_valid = err->bit >= 0,
		.bit = err->bit >= 0 ? (uint8_t)err->bit : 0,
		.byte = err->byte,
	};

	cmd->sense_len = (uint8_t)sense_build_full(cmd->sense, cmd->lu->mode.d_sense,
						   SK_ILLEGAL_REQUEST, err->asc, false, 0, &field);
	cmd->status = SAM_STAT_CHECK_CONDITION;
	cmd->data_in_len = 0;
	scsi_cmd_complete(cmd);
}

static void op_finish(struct xcopy_op *op, uint8_t key, uint16_t asc)
{
	struct scsi_cmd *cmd = op->cmd;

	if (op->job)
		job_end(op->st, op->job, key == SK_NO_SENSE ? COPY_DONE_GOOD : COPY_DONE_ERRORS,
			op->params.list_id_usage == XCOPY_LIST_ID_HOLD && !cmd->aborted);
	free(op->buf);
	free(op);
	if (key == SK_NO_SENSE)
		scsi_cmd_good(cmd);
	else
		fail_sense(cmd, key, asc);
}

static struct lu *segment_src(const struct xcopy_op *op, const struct xcopy_segment *s)
{
	return cscd_lu(op->gw, op->cmd->nexus, &op->params.cscd[s->src_index]);
}

static struct lu *segment_dst(const struct xcopy_op *op, const struct xcopy_segment *s)
{
	return cscd_lu(op->gw, op->cmd->nexus, &op->params.cscd[s->dst_index]);
}

/* Would a command of this kind (READ(16) or WRITE(16)) from the initiator
 * conflict with a reservation on lu? (SPC-4 5.13.1: the copy manager
 * honours the reservations of the LUs it reads and writes.) */
static bool reservation_conflict(const struct scsi_cmd *cmd, struct lu *lu, bool write)
{
	struct scsi_cmd probe;

	if (lu == cmd->lu && write)
		return false;         /* the dispatcher checked EXTENDED COPY itself */
	memset(&probe, 0, sizeof(probe));
	probe.nexus = cmd->nexus;
	probe.lu = lu;
	probe.cdb[0] = write ? 0x8a : 0x88;
	probe.cdb_len = 16;
	return pr_conflict(&probe);
}

/* Does [lba, lba + bytes) reach past the end of lu? */
static bool beyond_end(uint64_t lba, uint64_t bytes, const struct lu *lu)
{
	return cdb_lba_out_of_range(lba, bytes >> lu->block_shift, lu->num_blocks);
}

/* The state of an LU the copy reads or writes: 0 when usable, else the
 * additional sense code that makes the copy abort (SBC-3 4.11, SPC-4). */
static uint16_t lu_unusable(const struct lu *lu)
{
	uint16_t asc = sanitize_asc(lu);

	if (asc)
		return asc;
	if (lu->spec.removable && !lu->medium_loaded)
		return ASC_MEDIUM_NOT_PRESENT;
	if (lu->stopped)
		return ASC_LU_NOT_READY_INIT_REQUIRED;
	return 0;
}

/* Step 2 (see the top): check every segment against its LUs before
 * copying anything. Completes cmd and returns false on an error. */
static bool check_segments(struct xcopy_op *op)
{
	struct scsi_cmd *cmd = op->cmd;
	const char *iqn = cmd->lu->target->iqn;

	for (unsigned i = 0; i < op->params.segment_count; i++) {
		const struct xcopy_segment *s = &op->params.segment[i];
		struct lu *src, *dst;
		uint64_t bytes;
		uint16_t asc;

		/* An index past the CSCD list names no copy target. */
		if (s->src_index >= op->params.cscd_count || s->dst_index >= op->params.cscd_count) {
			log_info("%s: EXTENDED COPY segment %u: CSCD index out of range", iqn, i);
			fail_sense(cmd, SK_COPY_ABORTED, ASC_UNREACHABLE_COPY_TARGET);
			return false;
		}
		src = segment_src(op, s);
		dst = segment_dst(op, s);
		if (!src || !dst) {
			log_info("%s: EXTENDED COPY segment %u: %s CSCD names no LU of this gateway",
				 iqn, i, src ? "destination" : "source");
			fail_sense(cmd, SK_COPY_ABORTED, ASC_COPY_TARGET_DEVICE_NOT_REACHABLE);
			return false;
		}
		/* DISK BLOCK LENGTH must be the LU's (0: not given). */
		if ((op->params.cscd[s->src_index].block_length &&
		     op->params.cscd[s->src_index].block_length != src->block_size) ||
		    (op->params.cscd[s->dst_index].block_length &&
		     op->params.cscd[s->dst_index].block_length != dst->block_size)) {
			const struct xcopy_cscd *c =
				op->params.cscd[s->src_index].block_length != src->block_size ?
				&op->params.cscd[s->src_index] : &op->params.cscd[s->dst_index];
			struct xcopy_error err = { ASC_INVALID_FIELD_IN_PARAMETER_LIST, true,
						   (uint16_t)(c->offset + 29), -1 };

			fail_param(cmd, &err);
			return false;
		}
		/* SPC-4 6.4.6.5: DC selects whose blocks are counted; the
		 * bytes must make whole blocks on both sides. */
		bytes = (uint64_t)s->blocks * (s->dc ? dst->block_size : src->block_size);
		if (bytes % src->block_size || bytes % dst->block_size ||
		    bytes > XCOPY_MAX_SEGMENT_BYTES) {
			struct xcopy_error err = { ASC_INVALID_FIELD_IN_PARAMETER_LIST, true,
						   (uint16_t)(s->offset + 10), -1 };

			fail_param(cmd, &err);
			return false;
		}
		/* A short copy needs no 1 MiB buffer. */
		op->buf_len = MAX(op->buf_len, MIN(bytes, (uint64_t)XCOPY_CHUNK_BYTES));
		if (beyond_end(s->src_lba, bytes, src) ||
		    beyond_end(s->dst_lba, bytes, dst)) {
			log_info("%s: EXTENDED COPY segment %u: LBA range beyond the %s LU", iqn, i,
				 beyond_end(s->src_lba, bytes, src) ?
				 "source" : "destination");
			fail_sense(cmd, SK_COPY_ABORTED, ASC_NO_ADDITIONAL_SENSE);
			return false;
		}
		/* Writes to a write-protected LU fail as any write does. */
		if (dst->spec.readonly || dst->mode.swp) {
			fail_sense(cmd, SK_DATA_PROTECT, dst->spec.readonly ?
				   ASC_WRITE_PROTECTED : ASC_SOFTWARE_WRITE_PROTECTED);
			return false;
		}
		if (reservation_conflict(cmd, src, false) || reservation_conflict(cmd, dst, true)) {
			log_info("%s: EXTENDED COPY segment %u: reservation conflict on a copy target",
				 iqn, i);
			fail_sense(cmd, SK_COPY_ABORTED, ASC_COPY_TARGET_DEVICE_NOT_REACHABLE);
			return false;
		}
		asc = lu_unusable(src);
		if (!asc)
			asc = lu_unusable(dst);
		if (asc) {
			fail_sense(cmd, SK_COPY_ABORTED, asc);
			return false;
		}
	}
	return true;
}

static void copy_next(struct xcopy_op *op);

static void submit(struct xcopy_op *op, struct lu *lu, enum bs_op bs_op, uint64_t offset,
		   bool fua, void (*done)(struct bs_io *io))
{
	memset(&op->io, 0, sizeof(op->io));
	op->io.op = bs_op;
	op->io.offset = offset;
	op->io.length = op->chunk_len;
	op->io.buf = op->buf;
	op->io.fua = fua;
	op->io.done = done;
	op->io.arg = op;
	lu->bs_ops->submit(lu, &op->io);
}

/* A backstore error as COPY ABORTED (SPC-4 6.4.3.3) with the cause. */
static void fail_io(struct xcopy_op *op, int result, bool reading)
{
	log_warn("%s: EXTENDED COPY: %s failed: %s", op->cmd->lu->target->iqn,
		 reading ? "read" : "write", strerror(-result));
	if (result == -ENOSPC)
		op_finish(op, SK_DATA_PROTECT, ASC_SPACE_ALLOCATION_FAILED_WRITE_PROTECT);
	else
		op_finish(op, SK_COPY_ABORTED, reading ? ASC_UNRECOVERED_READ_ERROR : ASC_WRITE_ERROR);
}

static void write_done(struct bs_io *io)
{
	struct xcopy_op *op = io->arg;

	if (io->result < 0) {
		fail_io(op, io->result, false);
		return;
	}
	op->seg_done += op->chunk_len;
	if (op->job)
		op->job->bytes_copied += op->chunk_len;
	copy_next(op);
}

static void read_done(struct bs_io *io)
{
	struct xcopy_op *op = io->arg;
	struct lu *dst;

	if (io->result < 0) {
		fail_io(op, io->result, true);
		return;
	}
	dst = segment_dst(op, &op->params.segment[op->seg]);
	if (!dst) {
		op_finish(op, SK_COPY_ABORTED, ASC_COPY_TARGET_DEVICE_NOT_REACHABLE);
		return;
	}
	/* Durable before status when the destination's write cache is off
	 * (SBC-3 6.4.5 WCE), as for a WRITE. */
	submit(op, dst, BS_OP_WRITE, op->chunk_dst, !dst->mode.wce, write_done);
}

/* Set up segment op->seg; false when one of its LUs has gone. */
static bool segment_begin(struct xcopy_op *op)
{
	const struct xcopy_segment *s = &op->params.segment[op->seg];
	struct lu *src = segment_src(op, s);
	struct lu *dst = segment_dst(op, s);

	if (!src || !dst)
		return false;
	op->seg_bytes = (uint64_t)s->blocks * (s->dc ? dst->block_size : src->block_size);
	op->seg_done = 0;
	op->src_offset = s->src_lba << src->block_shift;
	op->dst_offset = s->dst_lba << dst->block_shift;
	/* Copy from the end when the destination overlaps the source's
	 * tail, so that no byte is overwritten before it is read. */
	op->backward = src == dst && op->dst_offset > op->src_offset &&
		       op->dst_offset < op->src_offset + op->seg_bytes;
	op->seg_started = true;
	return true;
}

/* Copy the next chunk, move to the next segment, or finish. */
static void copy_next(struct xcopy_op *op)
{
	struct lu *src, *dst;
	uint64_t pos;
	uint16_t asc;

	if (op->cmd->aborted) {
		op_finish(op, SK_ABORTED_COMMAND, ASC_NO_ADDITIONAL_SENSE);
		return;
	}
	for (;;) {
		if (op->seg >= op->params.segment_count) {
			op_finish(op, SK_NO_SENSE, ASC_NO_ADDITIONAL_SENSE);
			return;
		}
		if (!op->seg_started && !segment_begin(op)) {
			op_finish(op, SK_COPY_ABORTED, ASC_COPY_TARGET_DEVICE_NOT_REACHABLE);
			return;
		}
		if (op->seg_done < op->seg_bytes)
			break;
		/* A zero-block segment moves nothing and is not an error. */
		if (op->job)
			op->job->segments_processed++;
		op->seg++;
		op->seg_started = false;
	}
	src = segment_src(op, &op->params.segment[op->seg]);
	dst = segment_dst(op, &op->params.segment[op->seg]);
	if (!src || !dst) {
		op_finish(op, SK_COPY_ABORTED, ASC_COPY_TARGET_DEVICE_NOT_REACHABLE);
		return;
	}
	/* A sanitize started on either LU meanwhile ends the copy. */
	asc = sanitize_asc(src);
	if (!asc)
		asc = sanitize_asc(dst);
	if (asc) {
		op_finish(op, SK_COPY_ABORTED, asc);
		return;
	}
	op->chunk_len = MIN(op->seg_bytes - op->seg_done, op->buf_len);
	pos = op->backward ? op->seg_bytes - op->seg_done - op->chunk_len : op->seg_done;
	op->chunk_src = op->src_offset + pos;
	op->chunk_dst = op->dst_offset + pos;
	submit(op, src, BS_OP_READ, op->chunk_src, false, read_done);
}

/* --- EXTENDED COPY (LID1) (SPC-4 6.4) ---------------------------------------- */

void xcopy_extended_copy(struct scsi_cmd *cmd)
{
	uint32_t param_len = get_be32(cmd->cdb + 10);
	struct xcopy_lu_state *st;
	struct xcopy_error err;
	struct xcopy_job *job;
	struct xcopy_op *op;

	cmd->transfer_len = param_len;
	/* SPC-4 6.4.1: a PARAMETER LIST LENGTH of zero is not an error. */
	if (param_len == 0) {
		scsi_cmd_good(cmd);
		return;
	}
	op = calloc(1, sizeof(*op));
	if (!op) {
		fail_sense(cmd, SK_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
		return;
	}
	op->cmd = cmd;
	op->gw = cmd->lu->target->gw;
	if (!xcopy_parse_params(cmd->buf, MIN(param_len, cmd->data_out_len), &op->params, &err)) {
		free(op);
		fail_param(cmd, &err);
		return;
	}
	st = lu_xcopy(cmd->lu, true);
	if (!st) {
		free(op);
		fail_sense(cmd, SK_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
		return;
	}
	op->st = st;
	/* SPC-4 6.4.2: a list identifier still in use on this I_T nexus. */
	if (op->params.list_id_usage != XCOPY_LIST_ID_NONE) {
		job = job_find(st, cmd->nexus->id, op->params.list_id);
		if (job && job->running) {
			free(op);
			fail_sense(cmd, SK_ILLEGAL_REQUEST, ASC_OPERATION_IN_PROGRESS);
			return;
		}
		if (job)
			job_free(st, job);   /* a new copy replaces the held result */
	}
	if (st->running >= XCOPY_MAX_CONCURRENT_COPIES) {
		free(op);
		fail_sense(cmd, SK_ILLEGAL_REQUEST, ASC_INSUFFICIENT_RESOURCES);
		return;
	}
	if (!check_segments(op)) {
		free(op);
		return;
	}
	op->buf_len = MAX(op->buf_len, (uint64_t)4096);
	op->buf = alloc_io_buffer(op->buf_len);
	job = calloc(1, sizeof(*job));
	if (!op->buf || !job) {
		free(job);
		free(op->buf);
		free(op);
		fail_sense(cmd, SK_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
		return;
	}
	job->nexus_id = cmd->nexus->id;
	job->list_id = op->params.list_id;
	job->list_id_usage = op->params.list_id_usage;
	job->running = true;
	job->status = COPY_IN_PROGRESS;
	TAILQ_INSERT_TAIL(&st->jobs, job, link);
	st->running++;
	op->job = job;
	copy_next(op);
}

/* --- RECEIVE COPY RESULTS (SPC-4 6.18) ------------------------------------- */

/* COPY STATUS (SPC-4 6.18.3): the held result of (nexus, list id). */
static void copy_status(struct scsi_cmd *cmd, uint32_t alloc_len)
{
	struct xcopy_lu_state *st = lu_xcopy(cmd->lu, false);
	struct xcopy_job *job = st ? job_find(st, cmd->nexus->id, cmd->cdb[2]) : NULL;
	uint8_t d[12];
	uint64_t count;
	uint8_t units = 0;

	if (!job || job->list_id_usage != XCOPY_LIST_ID_HOLD) {
		scsi_invalid_cdb_field(cmd, 2, -1);   /* no such copy */
		return;
	}
	memset(d, 0, sizeof(d));
	put_be32(d, sizeof(d) - 4);                  /* AVAILABLE DATA */
	d[4] = job->status;                          /* HDD 0 */
	put_be16(d + 5, job->segments_processed);
	/* TRANSFER COUNT UNITS: 00h bytes, 01h kibibytes, 02h mebibytes ... */
	for (count = job->bytes_copied; count > UINT32_MAX; count >>= 10)
		units++;
	d[7] = units;
	put_be32(d + 8, (uint32_t)count);
	/* A completed copy's status is reported once. */
	if (!job->running)
		job_free(st, job);
	if (scsi_cmd_data_in(cmd, d, sizeof(d), alloc_len) < 0) {
		fail_sense(cmd, SK_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
		return;
	}
	scsi_cmd_good(cmd);
}

/* OPERATING PARAMETERS (SPC-4 6.18.5): the limits xcopy_parse_params()
 * and xcopy_extended_copy() enforce. */
static void operating_parameters(struct scsi_cmd *cmd, uint32_t alloc_len)
{
	static const uint8_t implemented[] = { XCOPY_SEG_BLOCK_TO_BLOCK, XCOPY_CSCD_IDENTIFICATION };
	uint8_t d[44 + sizeof(implemented)];

	memset(d, 0, sizeof(d));
	put_be32(d, sizeof(d) - 4);                  /* AVAILABLE DATA */
	d[4] = 0x01;                                 /* SNLID: LIST ID USAGE 11b */
	put_be16(d + 8, XCOPY_MAX_CSCD_DESCRIPTORS);
	put_be16(d + 10, XCOPY_MAX_SEGMENT_DESCRIPTORS);
	put_be32(d + 12, XCOPY_MAX_DESCRIPTOR_LIST_LEN);
	put_be32(d + 16, XCOPY_MAX_SEGMENT_BYTES);
	put_be32(d + 20, 0);                         /* MAXIMUM INLINE DATA LENGTH */
	put_be32(d + 24, 0);                         /* HELD DATA LIMIT */
	put_be32(d + 28, 0);                         /* MAXIMUM STREAM DEVICE TRANSFER SIZE */
	put_be16(d + 34, XCOPY_MAX_CONCURRENT_COPIES);   /* TOTAL CONCURRENT COPIES */
	d[36] = XCOPY_MAX_CONCURRENT_COPIES;         /* MAXIMUM CONCURRENT COPIES */
	d[37] = cmd->lu->block_shift;                /* DATA SEGMENT GRANULARITY (log2) */
	d[38] = 0;                                   /* INLINE DATA GRANULARITY */
	d[39] = 0;                                   /* HELD DATA GRANULARITY */
	d[43] = sizeof(implemented);                 /* IMPLEMENTED DESCRIPTOR LIST LENGTH */
	memcpy(d + 44, implemented, sizeof(implemented));
	if (scsi_cmd_data_in(cmd, d, sizeof(d), alloc_len) < 0) {
		fail_sense(cmd, SK_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
		return;
	}
	scsi_cmd_good(cmd);
}

void xcopy_receive_copy_results(struct scsi_cmd *cmd)
{
	uint32_t alloc_len = get_be32(cmd->cdb + 10);

	switch (cdb_service_action(cmd->cdb)) {
	case XCOPY_SA_COPY_STATUS:
		copy_status(cmd, alloc_len);
		break;
	case XCOPY_SA_OPERATING_PARAMETERS:
		operating_parameters(cmd, alloc_len);
		break;
	default:
		/* The opcode table routes only the two above here. */
		scsi_invalid_cdb_field(cmd, 1, 4);
		break;
	}
}
