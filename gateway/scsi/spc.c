/* SPC-4 primary commands every logical unit supports. Parameter data is
 * built whole in a local buffer and handed to scsi_cmd_data_in(), which
 * truncates it to the CDB's allocation length (SPC-4 4.2.5.6). */
#include "spc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cdb.h"
#include "../log.h"
#include "sanitize.h"
#include "sbc.h"
#include "scsi_internal.h"
#include "scsi_lu.h"
#include "sense.h"
#include "../shared_state.h"
#include "ua.h"
#include "../util.h"

#define INQUIRY_VENDOR    "SANGW   "            /* 8 bytes, SPC-4 4.4.1 ASCII */
#define INQUIRY_PRODUCT   "SANGW DISK      "    /* 16 bytes */
#define INQUIRY_REVISION  "0100"                /* 4 bytes */
#define INQUIRY_STD_LEN   96

/* SPC-4 7.6.3 version descriptors (SPC-4 Table "Version descriptor values") */
#define VERSION_SAM5      0x00a0
#define VERSION_ISCSI     0x0960
#define VERSION_SPC4      0x0460
#define VERSION_SBC3      0x04c0

/* VPD page codes (SPC-4 7.8, SBC-3 6.6) */
#define VPD_SUPPORTED     0x00
#define VPD_SERIAL        0x80
#define VPD_DEVICE_ID     0x83
#define VPD_EXTENDED_INQ  0x86
#define VPD_BLOCK_LIMITS  0xb0
#define VPD_BDC           0xb1
#define VPD_LBP           0xb2

/* Mode pages (SPC-4 7.5, SBC-3 6.4) */
#define MP_RW_ERROR_RECOVERY  0x01
#define MP_CACHING            0x08
#define MP_CONTROL            0x0a
#define MP_INFO_EXCEPTIONS    0x1c
#define MP_ALL                0x3f

enum mode_pc { PC_CURRENT = 0, PC_CHANGEABLE = 1, PC_DEFAULT = 2, PC_SAVED = 3 };

/* SOP_MODE_SELECT payload (fixed layout, see shared_state.h). */
struct mode_select_payload {
	struct sop_lu_ref lu;
	uint64_t origin_nexus;    /* gets no MODE PARAMETERS CHANGED */
	uint8_t reset;            /* 1: LU reset, restore defaults, no UA */
	uint8_t wce, rcd, d_sense, swp;
	uint8_t reserved[3];
};

/* SAM-5 4.7.2 LUN encoding: peripheral device addressing for 0-255, flat
 * space addressing above. */
static void encode_lun(uint8_t *p, uint64_t lun)
{
	memset(p, 0, 8);
	if (lun < 256) {
		p[1] = (uint8_t)lun;
	} else {
		p[0] = 0x40 | (uint8_t)((lun >> 8) & 0x3f);
		p[1] = (uint8_t)lun;
	}
}

static bool opcode_supported(uint8_t opcode, uint16_t sa)
{
	return scsi_opcode_lookup(opcode, sa) != NULL;
}

/* SBC-3 4.7: thin LUs are the ones with logical block provisioning. */
static bool lu_thin(const struct lu *lu)
{
	return lu->spec.thin;
}

/* ---------------------------------------------------------------------
 * INQUIRY (SPC-4 6.6)
 */

static void pad_copy(uint8_t *dst, const char *src, size_t n)
{
	size_t len = strlen(src);

	memset(dst, ' ', n);
	memcpy(dst, src, len < n ? len : n);
}

static unsigned inquiry_standard(const struct scsi_cmd *cmd, uint8_t *d)
{
	const struct lu *lu = cmd->lu;

	memset(d, 0, INQUIRY_STD_LEN);
	/* SPC-4 6.6.2: qualifier 011b, type 1Fh for a LUN nothing is behind. */
	d[0] = lu ? 0x00 : 0x7f;
	if (lu && lu->spec.removable)
		d[1] = 0x80;                    /* RMB */
	d[2] = 0x06;                            /* VERSION: SPC-4 */
	d[3] = 0x10 | 0x02;                     /* HISUP, RESPONSE DATA FORMAT 2 */
	d[4] = INQUIRY_STD_LEN - 5;
	d[5] = 0x30;                            /* TPGS 11b: implicit and explicit ALUA (alua.c) */
	if (opcode_supported(0x83, 0))          /* EXTENDED COPY: 3PC */
		d[5] |= 0x08;
	d[7] = 0x02;                            /* CMDQUE */
	pad_copy(d + 8, INQUIRY_VENDOR, 8);
	pad_copy(d + 16, INQUIRY_PRODUCT, 16);
	pad_copy(d + 32, INQUIRY_REVISION, 4);
	put_be16(d + 58, VERSION_SAM5);
	put_be16(d + 60, VERSION_ISCSI);
	put_be16(d + 62, VERSION_SPC4);
	put_be16(d + 64, VERSION_SBC3);
	return INQUIRY_STD_LEN;
}

static const uint8_t supported_vpd_pages[] = {
	VPD_SUPPORTED, VPD_SERIAL, VPD_DEVICE_ID, VPD_EXTENDED_INQ,
	VPD_BLOCK_LIMITS, VPD_BDC, VPD_LBP,
};

static unsigned vpd_supported(uint8_t *d)
{
	put_be16(d + 2, sizeof(supported_vpd_pages));
	memcpy(d + 4, supported_vpd_pages, sizeof(supported_vpd_pages));
	return 4 + sizeof(supported_vpd_pages);
}

static unsigned vpd_serial(const struct lu *lu, uint8_t *d)
{
	size_t n = strlen(lu->serial);

	put_be16(d + 2, (uint16_t)n);
	memcpy(d + 4, lu->serial, n);
	return 4 + (unsigned)n;
}

/* One designation descriptor (SPC-4 7.8.6.1). */
static unsigned put_designator(uint8_t *p, uint8_t proto_codeset, uint8_t piv_assoc_type,
			       const void *id, unsigned len)
{
	p[0] = proto_codeset;
	p[1] = piv_assoc_type;
	p[2] = 0;
	p[3] = (uint8_t)len;
	memcpy(p + 4, id, len);
	return 4 + len;
}

/* SCSI name string designator (SPC-4 7.8.6.11): UTF-8, NUL terminated,
 * padded with NULs to a multiple of four bytes. */
static unsigned put_name_designator(uint8_t *p, uint8_t assoc, const char *name)
{
	uint8_t buf[256];
	size_t n = strnlen(name, sizeof(buf) - 4) + 1;
	size_t padded = (n + 3) & ~(size_t)3;

	memset(buf, 0, sizeof(buf));
	memcpy(buf, name, n - 1);
	/* protocol iSCSI (5), code set UTF-8 (3); PIV, association, type 8 */
	return put_designator(p, 0x53, (uint8_t)(0x80 | assoc << 4 | 0x08), buf, (unsigned)padded);
}

/* An FC nexus (its TransportID's protocol identifier is FC, SPC-4
 * 7.6.4.2) whose target port is "naa." and 16 hex digits: the N_Port_Name
 * in wwpn[8]. */
static bool nexus_is_fc(const struct it_nexus *nx, uint8_t wwpn[8])
{
	uint8_t tid[24];
	const char *hex = nx->target_port + 4;

	if (!nx->fabric || !nx->fabric->transport_id ||
	    nx->fabric->transport_id(nx, tid, sizeof(tid)) != sizeof(tid) || (tid[0] & 0x0f) != 0)
		return false;
	if (strncmp(nx->target_port, "naa.", 4) || strlen(hex) != 16 ||
	    strspn(hex, "0123456789abcdef") != 16)
		return false;
	put_be64(wwpn, strtoull(hex, NULL, 16));
	return true;
}

static unsigned vpd_device_id(const struct scsi_cmd *cmd, uint8_t *d)
{
	const struct lu *lu = cmd->lu;
	const struct it_nexus *nx = cmd->nexus;
	unsigned len = 4;
	uint8_t id[4] = { 0 }, id64[8];

	/* NAA designator, association logical unit, binary (SPC-4 7.8.6.6):
	 * first, as multipath initiators pick the first LU designator. */
	len += put_designator(d + len, 0x01, 0x03, lu->naa, sizeof(lu->naa));
	/* Relative target port (7.8.6.7), association target port. */
	put_be16(id + 2, nx->rel_tgt_port_id);
	len += put_designator(d + len, 0x01, 0x14, id, 4);
	/* Target port group (7.8.6.8), association target port. */
	put_be16(id + 2, nx->tpg_id);
	len += put_designator(d + len, 0x01, 0x15, id, 4);
	/* The target port's name: an FC port's N_Port_Name as an NAA
	 * designator with protocol identifier FC (SPC-4 7.8.6.6, PIV set:
	 * the protocol of the nexus, as its TransportID tells), otherwise
	 * the iSCSI SCSI name string; then the target device's name. */
	if (nexus_is_fc(nx, id64)) {
		len += put_designator(d + len, 0x01, 0x93, id64, sizeof(id64));
	} else {
		len += put_name_designator(d + len, 0x1, nx->target_port);
	}
	len += put_name_designator(d + len, 0x2, lu->target->iqn);
	put_be16(d + 2, (uint16_t)(len - 4));
	return len;
}

static unsigned vpd_extended_inquiry(uint8_t *d)
{
	memset(d + 4, 0, 0x3c);
	put_be16(d + 2, 0x3c);
	d[5] = 0x07;            /* HEADSUP, ORDSUP, SIMPSUP: all task attributes */
	d[6] = 0x01;            /* V_SUP: volatile write cache (SYNCHRONIZE CACHE) */
	d[7] = 0x01;            /* LUICLR: UAs are cleared per logical unit */
	return 4 + 0x3c;
}

/* SBC-3 6.6.4 (and SBC-4 for the atomic fields): the limits sbc.c
 * enforces. Features the command tables lack report zero. */
static unsigned vpd_block_limits(const struct lu *lu, uint8_t *d)
{
	uint32_t max_transfer = sbc_max_transfer_blocks(lu);

	memset(d + 4, 0, 0x3c);
	put_be16(d + 2, 0x3c);
	d[4] = 0;                               /* WSNZ = 0: zero blocks means "to the end" */
	if (opcode_supported(0x89, 0))          /* COMPARE AND WRITE */
		d[5] = SBC_MAX_CAW_BLOCKS;
	put_be16(d + 6, (uint16_t)(lu->block_size < 4096 ? 4096 >> lu->block_shift : 1));
	put_be32(d + 8, max_transfer);
	put_be32(d + 12, SBC_OPTIMAL_TRANSFER_BYTES >> lu->block_shift);
	put_be32(d + 16, max_transfer);         /* MAXIMUM PREFETCH LENGTH */
	if (lu_thin(lu) && sbc_lu_supports(lu, 0x42, 0)) {
		put_be32(d + 20, SBC_MAX_UNMAP_LBA_COUNT);
		put_be32(d + 24, SBC_MAX_UNMAP_DESCRIPTORS);
		put_be32(d + 28, MAX(SBC_UNMAP_GRANULARITY_BYTES >> lu->block_shift, 1u));
	}
	if (opcode_supported(0x93, 0) || opcode_supported(0x41, 0))    /* WRITE SAME */
		put_be64(d + 36, SBC_MAX_WRITE_SAME_BLOCKS);
	if (opcode_supported(0x9c, 0)) {        /* WRITE ATOMIC(16) */
		put_be32(d + 44, MIN(SBC_MAX_ATOMIC_BLOCKS, max_transfer));
		put_be32(d + 48, SBC_ATOMIC_ALIGNMENT_BLOCKS);
		put_be32(d + 52, SBC_ATOMIC_GRANULARITY_BLOCKS);
	}
	return 4 + 0x3c;
}

static unsigned vpd_block_device_characteristics(const struct lu *lu, uint8_t *d)
{
	memset(d + 4, 0, 0x3c);
	put_be16(d + 2, 0x3c);
	put_be16(d + 4, 0x0001);                /* MEDIUM ROTATION RATE: non-rotating */
	/* WABEREQ = 01b (SBC-3 6.6.2): reads after a block erase succeed (the
	 * blocks read as zeros) -- only where BLOCK ERASE exists at all (thin
	 * LUs), else 00b. WACEREQ = 01b likewise for crypto erase. */
	d[7] = (uint8_t)((sanitize_lu_supports(lu, CDB_SA_SANITIZE_BLOCK_ERASE) ? 0x40 : 0x00) |
			 0x10);
	return 4 + 0x3c;
}

static unsigned vpd_logical_block_provisioning(const struct lu *lu, uint8_t *d)
{
	memset(d + 4, 0, 4);
	put_be16(d + 2, 4);
	if (lu_thin(lu)) {
		/* LBPU, LBPWS, LBPWS10; LBPRZ: unmapped blocks read as zeros */
		d[5] = 0x80 | 0x40 | 0x20 | 0x04;
		d[6] = 0x02;                    /* PROVISIONING TYPE: thin */
	}
	return 8;
}

static void spc_inquiry(struct scsi_cmd *cmd)
{
	/* Large enough for the device identification page with two SCSI
	 * name strings of maximum length (2 x 260 bytes) and the rest. */
	uint8_t d[1024];
	bool evpd = cmd->cdb[1] & 0x01;
	uint8_t page = cmd->cdb[2];
	uint16_t alloc = get_be16(cmd->cdb + 3);
	unsigned len;

	if (!evpd) {
		/* SPC-4 6.6.1: PAGE CODE must be zero without EVPD. */
		if (page != 0) {
			scsi_invalid_cdb_field(cmd, 2, -1);
			return;
		}
		len = inquiry_standard(cmd, d);
	} else {
		if (!cmd->lu) {
			scsi_check_condition(cmd, SK_ILLEGAL_REQUEST, ASC_LU_NOT_SUPPORTED);
			return;
		}
		memset(d, 0, 4);
		d[0] = 0x00;                    /* qualifier 0, direct access block device */
		d[1] = page;
		switch (page) {
		case VPD_SUPPORTED:    len = vpd_supported(d); break;
		case VPD_SERIAL:       len = vpd_serial(cmd->lu, d); break;
		case VPD_DEVICE_ID:    len = vpd_device_id(cmd, d); break;
		case VPD_EXTENDED_INQ: len = vpd_extended_inquiry(d); break;
		case VPD_BLOCK_LIMITS: len = vpd_block_limits(cmd->lu, d); break;
		case VPD_BDC:          len = vpd_block_device_characteristics(cmd->lu, d); break;
		case VPD_LBP:          len = vpd_logical_block_provisioning(cmd->lu, d); break;
		default:
			scsi_invalid_cdb_field(cmd, 2, -1);
			return;
		}
	}
	if (scsi_cmd_data_in(cmd, d, len, alloc) < 0) {
		scsi_check_condition(cmd, SK_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
		return;
	}
	scsi_cmd_good(cmd);
}

/* ---------------------------------------------------------------------
 * REPORT LUNS (SPC-4 6.33)
 */

/* SPC-4 6.33: REPORT LUNS clears REPORTED LUNS DATA HAS CHANGED for the
 * I_T nexus on every LU. */
static void clear_luns_changed_ua(struct it_nexus *nexus)
{
	struct ua_entry *ua, *next;

	for (ua = TAILQ_FIRST(&nexus->uas); ua; ua = next) {
		next = TAILQ_NEXT(ua, link);
		if ((ua->asc << 8 | ua->ascq) == ASC_REPORTED_LUNS_DATA_HAS_CHANGED) {
			TAILQ_REMOVE(&nexus->uas, ua, link);
			free(ua);
		}
	}
}

static void spc_report_luns(struct scsi_cmd *cmd)
{
	uint64_t luns[MAX_LUNS_PER_TARGET];
	uint8_t d[8 + 8 * MAX_LUNS_PER_TARGET];
	uint8_t select = cmd->cdb[2];
	uint32_t alloc = get_be32(cmd->cdb + 6);
	unsigned n = 0;

	/* SPC-4 6.33: an allocation length below 16 is an error. */
	if (alloc < 16) {
		scsi_invalid_cdb_field(cmd, 6, -1);
		return;
	}
	switch (select) {
	case 0x00:      /* logical units with their addresses */
	case 0x02:      /* every logical unit (no well-known LUs here) */
		n = target_visible_luns(cmd->nexus->target, cmd->nexus->acl, luns,
					MAX_LUNS_PER_TARGET);
		break;
	case 0x01:      /* well-known logical units only: none */
		break;
	default:
		scsi_invalid_cdb_field(cmd, 2, -1);
		return;
	}
	memset(d, 0, 8);
	put_be32(d, n * 8);
	for (unsigned i = 0; i < n; i++)
		encode_lun(d + 8 + 8 * i, luns[i]);
	clear_luns_changed_ua(cmd->nexus);
	if (scsi_cmd_data_in(cmd, d, 8 + 8 * n, alloc) < 0) {
		scsi_check_condition(cmd, SK_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
		return;
	}
	scsi_cmd_good(cmd);
}

/* ---------------------------------------------------------------------
 * TEST UNIT READY (SPC-4 6.37) and REQUEST SENSE (SPC-4 6.39)
 */

static void spc_test_unit_ready(struct scsi_cmd *cmd)
{
	/* NOT READY conditions were checked by the dispatcher. */
	scsi_cmd_good(cmd);
}

static void spc_request_sense(struct scsi_cmd *cmd)
{
	bool desc = cmd->cdb[1] & 0x01;
	uint8_t alloc = cmd->cdb[4];
	uint8_t d[SCSI_SENSE_MAX];
	struct sense_field_ptr sks = { .valid = false };
	uint16_t asc_ascq, progress;
	uint8_t key = SK_NO_SENSE;
	unsigned len;

	asc_ascq = ASC_NO_ADDITIONAL_SENSE;
	if (!cmd->lu) {
		/* SPC-4 6.39: GOOD status with LOGICAL UNIT NOT SUPPORTED sense. */
		key = SK_ILLEGAL_REQUEST;
		asc_ascq = ASC_LU_NOT_SUPPORTED;
	} else if (ua_take(cmd->nexus, lu_key(cmd->lu), &asc_ascq)) {
		key = SK_UNIT_ATTENTION;
	} else if (sanitize_progress(cmd->lu, &progress)) {
		/* SPC-4 4.5.2.4.4 progress indication: SKSV, then 16 bits,
		 * the same layout as a field pointer with C/D and BPV zero. */
		key = SK_NOT_READY;
		asc_ascq = ASC_LU_NOT_READY_SANITIZE_IN_PROGRESS;
		sks.valid = true;
		sks.byte = progress;
	} else if (cmd->lu->spec.removable && !cmd->lu->medium_loaded) {
		key = SK_NOT_READY;
		asc_ascq = ASC_MEDIUM_NOT_PRESENT;
	} else if (cmd->lu->stopped) {
		key = SK_NOT_READY;
		asc_ascq = ASC_LU_NOT_READY_INIT_REQUIRED;
	} else if (cmd->lu->backing_state != LU_BACKING_READY) {
		key = SK_NOT_READY;
		asc_ascq = cmd->lu->backing_state == LU_BACKING_OPENING ?
			   ASC_LU_NOT_READY_BECOMING_READY : ASC_LU_NOT_READY_MANUAL_INTERVENTION;
	}
	/* The DESC bit, not D_SENSE, picks the format here. */
	len = sense_build_full(d, desc, key, asc_ascq, false, 0, &sks);
	if (scsi_cmd_data_in(cmd, d, len, alloc) < 0) {
		scsi_check_condition(cmd, SK_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
		return;
	}
	scsi_cmd_good(cmd);
}

/* ---------------------------------------------------------------------
 * Mode pages (SPC-4 7.5, SBC-3 6.4)
 */

struct mode_page_def {
	uint8_t code;
	uint8_t len;            /* PAGE LENGTH: bytes after byte 1 */
};

static const struct mode_page_def mode_pages[] = {
	{ MP_RW_ERROR_RECOVERY, 0x0a },
	{ MP_CACHING, 0x12 },
	{ MP_CONTROL, 0x0a },
	{ MP_INFO_EXCEPTIONS, 0x0a },
};

static const struct mode_page_def *mode_page_find(uint8_t code)
{
	for (size_t i = 0; i < ARRAY_SIZE(mode_pages); i++)
		if (mode_pages[i].code == code)
			return &mode_pages[i];
	return NULL;
}

/* Build one page for a page control value; returns its length. */
static unsigned mode_page_build(const struct lu *lu, const struct mode_page_def *def,
				enum mode_pc pc, uint8_t *p)
{
	const struct lu_mode *m = pc == PC_DEFAULT ? &lu->mode_saved : &lu->mode;
	bool changeable = pc == PC_CHANGEABLE;

	memset(p, 0, 2u + def->len);
	p[0] = def->code;
	p[1] = def->len;
	switch (def->code) {
	case MP_RW_ERROR_RECOVERY:
		/* Nothing to tune: the backstore does its own recovery. */
		break;
	case MP_CACHING:
		if (changeable)
			p[2] = 0x04 | 0x01;                     /* WCE, RCD */
		else
			p[2] = (uint8_t)((m->wce ? 0x04 : 0) | (m->rcd ? 0x01 : 0));
		break;
	case MP_CONTROL:
		if (changeable) {
			p[2] = 0x04;                            /* D_SENSE */
			p[4] = 0x08;                            /* SWP */
		} else {
			/* TST 001b (a task set per I_T nexus), QERR 00b */
			p[2] = (uint8_t)(m->tst << 5 | (m->d_sense ? 0x04 : 0));
			p[3] = 0x10 | (uint8_t)((m->qerr & 3) << 1);  /* QAM 1: unrestricted reordering */
			p[4] = m->swp ? 0x08 : 0;
			put_be16(p + 8, 0xffff);                /* BUSY TIMEOUT PERIOD: unlimited */
		}
		break;
	case MP_INFO_EXCEPTIONS:
		if (!changeable)
			p[2] = 0x08;                            /* DEXCPT: none reported */
		break;
	}
	return 2u + def->len;
}

static bool lu_write_protected(const struct lu *lu)
{
	return lu->spec.readonly || lu->mode.swp;
}

static void spc_mode_sense(struct scsi_cmd *cmd)
{
	bool ten = cmd->cdb[0] == 0x5a;
	bool dbd = cmd->cdb[1] & 0x08;
	bool llbaa = ten && (cmd->cdb[1] & 0x10);
	enum mode_pc pc = cmd->cdb[2] >> 6;
	uint8_t page = cmd->cdb[2] & 0x3f;
	uint8_t subpage = cmd->cdb[3];
	uint32_t alloc = ten ? get_be16(cmd->cdb + 7) : cmd->cdb[4];
	const struct lu *lu = cmd->lu;
	unsigned hdr = ten ? 8 : 4, bd_len = 0, len;
	uint8_t d[512];

	if (pc == PC_SAVED) {
		/* SPC-4 6.11: saved values are not implemented. */
		scsi_check_condition(cmd, SK_ILLEGAL_REQUEST, ASC_SAVING_PARAMETERS_NOT_SUPPORTED);
		return;
	}
	/* No subpages: 00h selects the page, FFh "all subpages" of it. */
	if (subpage != 0x00 && subpage != 0xff) {
		scsi_invalid_cdb_field(cmd, 3, -1);
		return;
	}
	if (page != MP_ALL && !mode_page_find(page)) {
		scsi_invalid_cdb_field(cmd, 2, 5);
		return;
	}
	memset(d, 0, hdr);
	len = hdr;
	if (!dbd) {
		/* SBC-3 6.4.2 block descriptor: short, or long when LLBAA. */
		if (llbaa) {
			memset(d + len, 0, 16);
			put_be64(d + len, lu->num_blocks);
			put_be32(d + len + 12, lu->block_size);
			bd_len = 16;
		} else {
			memset(d + len, 0, 8);
			put_be32(d + len, lu->num_blocks > UINT32_MAX ? UINT32_MAX
							      : (uint32_t)lu->num_blocks);
			put_be24(d + len + 5, lu->block_size);
			bd_len = 8;
		}
		len += bd_len;
	}
	for (size_t i = 0; i < ARRAY_SIZE(mode_pages); i++)
		if (page == MP_ALL || mode_pages[i].code == page)
			len += mode_page_build(lu, &mode_pages[i], pc, d + len);

	/* SBC-3 6.4.1 device-specific parameter: WP, DPOFUA. */
	if (ten) {
		put_be16(d, (uint16_t)(len - 2));
		d[3] = (uint8_t)((lu_write_protected(lu) ? 0x80 : 0) | 0x10);
		d[4] = llbaa && bd_len ? 0x01 : 0;              /* LONGLBA */
		put_be16(d + 6, (uint16_t)bd_len);
	} else {
		d[0] = (uint8_t)(len - 1);
		d[2] = (uint8_t)((lu_write_protected(lu) ? 0x80 : 0) | 0x10);
		d[3] = (uint8_t)bd_len;
	}
	if (scsi_cmd_data_in(cmd, d, len, alloc) < 0) {
		scsi_check_condition(cmd, SK_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
		return;
	}
	scsi_cmd_good(cmd);
}

static void mode_select_done(void *ctx, int result)
{
	struct scsi_cmd *cmd = ctx;

	if (result == 0)
		scsi_cmd_good(cmd);
	else if (result < 0)
		scsi_check_condition(cmd, SK_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
	else
		scsi_check_condition(cmd, shared_result_key(result), shared_result_asc(result));
}

/* PARAMETER LIST LENGTH ERROR (SPC-4 6.9/6.10): a page or descriptor runs
 * past the end of the list. */
static void param_list_length_error(struct scsi_cmd *cmd)
{
	scsi_check_condition(cmd, SK_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERROR);
}

/* MODE SELECT(6/10) (SPC-4 6.9, 6.10). Only the bits MODE SENSE reports
 * as changeable may differ from the current values; everything else in
 * the list must match, byte for byte. */
static void spc_mode_select(struct scsi_cmd *cmd)
{
	bool ten = cmd->cdb[0] == 0x55;
	bool pf = cmd->cdb[1] & 0x10;
	bool sp = cmd->cdb[1] & 0x01;
	uint32_t param_len = ten ? get_be16(cmd->cdb + 7) : cmd->cdb[4];
	unsigned hdr = ten ? 8 : 4;
	struct lu *lu = cmd->lu;
	struct lu_mode mode = lu->mode;
	const uint8_t *d = cmd->buf;
	uint32_t len, pos, bd_len;
	struct mode_select_payload p;
	int rc;

	if (sp) {
		/* SPC-4 6.9: saved pages are not implemented. */
		scsi_invalid_cdb_field(cmd, 1, 0);
		return;
	}
	if (param_len == 0) {
		scsi_cmd_good(cmd);
		return;
	}
	len = MIN(param_len, cmd->data_out_len);
	if (!d || len < hdr) {
		param_list_length_error(cmd);
		return;
	}
	bd_len = ten ? get_be16(d + 6) : d[3];
	if (hdr + bd_len > len) {
		param_list_length_error(cmd);
		return;
	}
	if (bd_len) {
		/* The block size cannot be changed; the descriptor must
		 * describe this LU (number of blocks zero or unchanged). */
		bool longlba = ten && (d[4] & 0x01);
		const uint8_t *bd = d + hdr;
		uint64_t blocks;
		uint32_t block_len;

		if (bd_len != (longlba ? 16u : 8u)) {
			scsi_invalid_param_field(cmd, ten ? 6 : 3, -1);
			return;
		}
		blocks = longlba ? get_be64(bd) : get_be32(bd);
		block_len = longlba ? get_be32(bd + 12) : get_be24(bd + 5);
		if (block_len != lu->block_size) {
			scsi_invalid_param_field(cmd, (uint16_t)(hdr + (longlba ? 12 : 5)), -1);
			return;
		}
		if (blocks != 0 && blocks != lu->num_blocks &&
		    !(!longlba && blocks == UINT32_MAX && lu->num_blocks > UINT32_MAX)) {
			scsi_invalid_param_field(cmd, (uint16_t)hdr, -1);
			return;
		}
	}
	pos = hdr + bd_len;
	if (pos < len && !pf) {
		/* PF=0: vendor-specific page format, which sangw has none of. */
		scsi_invalid_cdb_field(cmd, 1, 4);
		return;
	}
	while (pos < len) {
		const struct mode_page_def *def;
		uint8_t cur[64], mask[64];
		uint32_t page_len;

		if (pos + 2 > len) {
			param_list_length_error(cmd);
			return;
		}
		def = mode_page_find(d[pos] & 0x3f);
		if (!def || (d[pos] & 0x40)) {          /* unknown page or a subpage */
			scsi_invalid_param_field(cmd, (uint16_t)pos, -1);
			return;
		}
		page_len = 2u + d[pos + 1];
		if (d[pos + 1] != def->len) {
			scsi_invalid_param_field(cmd, (uint16_t)(pos + 1), -1);
			return;
		}
		if (pos + page_len > len) {
			param_list_length_error(cmd);
			return;
		}
		mode_page_build(lu, def, PC_CURRENT, cur);
		mode_page_build(lu, def, PC_CHANGEABLE, mask);
		/* Byte 0 bit 7 (PS) is reserved in MODE SELECT; ignore it. */
		for (uint32_t i = 2; i < page_len; i++) {
			uint8_t bad = (uint8_t)((d[pos + i] ^ cur[i]) & ~mask[i]);

			if (bad) {
				scsi_invalid_param_field(cmd, (uint16_t)(pos + i),
							 31 - __builtin_clz(bad));
				return;
			}
		}
		if (def->code == MP_CACHING) {
			mode.wce = d[pos + 2] & 0x04;
			mode.rcd = d[pos + 2] & 0x01;
		} else if (def->code == MP_CONTROL) {
			mode.d_sense = d[pos + 2] & 0x04;
			mode.swp = d[pos + 4] & 0x08;
		}
		pos += page_len;
	}
	if (mode.wce == lu->mode.wce && mode.rcd == lu->mode.rcd &&
	    mode.d_sense == lu->mode.d_sense && mode.swp == lu->mode.swp) {
		scsi_cmd_good(cmd);
		return;
	}
	/* Mode pages are shared by every I_T nexus (and node): through the
	 * door; the command completes once the change is applied here. */
	memset(&p, 0, sizeof(p));
	sop_lu_ref_set(&p.lu, lu);
	p.origin_nexus = cmd->nexus->id;
	p.wce = mode.wce;
	p.rcd = mode.rcd;
	p.d_sense = mode.d_sense;
	p.swp = mode.swp;
	rc = cluster_submit(lu->target->gw->cluster, SOP_MODE_SELECT, &p, sizeof(p),
			    mode_select_done, cmd);
	if (rc < 0) {
		log_warn("MODE SELECT not applied: %s", strerror(-rc));
		scsi_check_condition(cmd, SK_NOT_READY, ASC_LU_NOT_READY_CAUSE_NOT_REPORTABLE);
	}
}

int mode_select_apply(struct gateway *gw, const void *payload, uint32_t len)
{
	struct mode_select_payload p;
	struct lu *lu;

	if (len != sizeof(p)) {
		log_error("SOP_MODE_SELECT: bad payload length %u", len);
		return -EINVAL;
	}
	memcpy(&p, payload, sizeof(p));
	lu = sop_lu_ref_find(gw, &p.lu);
	if (!lu)
		return 0;       /* not exported by this node */
	if (p.reset) {
		lu->mode = lu->mode_saved;
		scsi_lu_reset(lu);
		return 0;
	}
	lu->mode.wce = p.wce;
	lu->mode.rcd = p.rcd;
	lu->mode.d_sense = p.d_sense;
	lu->mode.swp = p.swp;
	/* SPC-4 7.5.1: the other I_T nexuses learn of the change. Local
	 * establish: this function already runs on every node. */
	ua_establish_lu(gw, lu, p.origin_nexus, ASC_MODE_PARAMETERS_CHANGED);
	return 0;
}

int spc_lu_reset_submit(struct lu *lu, cluster_done_fn done, void *ctx)
{
	struct mode_select_payload p;

	memset(&p, 0, sizeof(p));
	sop_lu_ref_set(&p.lu, lu);
	p.reset = 1;
	return cluster_submit(lu->target->gw->cluster, SOP_MODE_SELECT, &p, sizeof(p), done, ctx);
}

/* ---------------------------------------------------------------------
 * MAINTENANCE IN service actions (SPC-4 6.35, 6.37; REPORT TARGET PORT
 * GROUPS is in alua.c)
 */

#define MI_REPORT_SUPPORTED_OPCODES    0x0c
#define MI_REPORT_SUPPORTED_TMFS       0x0d

/* Every opcode that has service actions has its service action in byte 1. */
static bool opcode_has_service_actions(uint8_t opcode)
{
	const struct scsi_opcode_desc *d = scsi_opcode_lookup(opcode, 0);

	if (d)
		return d->flags & OPF_SA_IN_BYTE1;
	for (uint16_t sa = 1; sa < 32; sa++)
		if (scsi_opcode_lookup(opcode, sa))
			return true;
	return false;
}

/* A command the tables list may still be unavailable on this LU (UNMAP,
 * SANITIZE BLOCK ERASE on a fully provisioned one): sbc.c and sanitize.c
 * decide for their own commands. */
static bool desc_supported_on(const struct lu *lu, const struct scsi_opcode_desc *desc)
{
	const struct scsi_opcode_desc *sbc = sbc_opcode_table.ops;
	const struct scsi_opcode_desc *sanitize = sanitize_opcode_table.ops;

	if (!desc)
		return false;
	if (lu && desc >= sbc && desc < sbc + sbc_opcode_table.count)
		return sbc_lu_supports(lu, desc->opcode,
				       desc->flags & OPF_SA_IN_BYTE1 ? desc->service_action : 0);
	if (lu && desc >= sanitize && desc < sanitize + sanitize_opcode_table.count)
		return sanitize_lu_supports(lu, desc->service_action);
	return true;
}

struct rsoc_all {
	const struct lu *lu;
	uint8_t *d;
	unsigned len, cap;
	bool rctd;
};

/* SPC-4 6.35.3 command timeouts descriptor. */
static unsigned put_timeouts(uint8_t *p, const struct scsi_opcode_desc *desc)
{
	memset(p, 0, 12);
	put_be16(p, 0x0a);
	put_be32(p + 4, desc->nominal_timeout_s);
	put_be32(p + 8, desc->recommended_timeout_s);
	return 12;
}

static void rsoc_add(const struct scsi_opcode_desc *desc, void *arg)
{
	struct rsoc_all *all = arg;
	uint8_t *p;

	if (all->len + 20 > all->cap || !desc_supported_on(all->lu, desc))
		return;
	p = all->d + all->len;
	memset(p, 0, 8);
	p[0] = desc->opcode;
	if (desc->flags & OPF_SA_IN_BYTE1) {
		put_be16(p + 2, desc->service_action);
		p[5] |= 0x01;                           /* SERVACTV */
	}
	put_be16(p + 6, desc->cdb_len);
	all->len += 8;
	if (all->rctd) {
		p[5] |= 0x02;                           /* CTDP */
		all->len += put_timeouts(p + 8, desc);
	}
}

static void rsoc_one(struct scsi_cmd *cmd, const struct scsi_opcode_desc *desc, bool rctd,
		     uint8_t *d, unsigned *len)
{
	memset(d, 0, 4);
	if (!desc_supported_on(cmd->lu, desc)) {
		d[1] = 0x01;                            /* SUPPORT: not supported */
		*len = 4;
		return;
	}
	d[1] = 0x03;                                    /* SUPPORT: as the standard says */
	put_be16(d + 2, desc->cdb_len);
	memcpy(d + 4, desc->cdb_usage, MIN(desc->cdb_len, sizeof(desc->cdb_usage)));
	d[4] = desc->opcode;
	*len = 4u + desc->cdb_len;
	if (rctd) {
		d[1] |= 0x80;                           /* CTDP */
		*len += put_timeouts(d + *len, desc);
	}
}

static void spc_report_supported_opcodes(struct scsi_cmd *cmd)
{
	bool rctd = cmd->cdb[2] & 0x80;
	uint8_t options = cmd->cdb[2] & 0x07;
	uint8_t opcode = cmd->cdb[3];
	uint16_t sa = get_be16(cmd->cdb + 4);
	uint32_t alloc = get_be32(cmd->cdb + 6);
	uint8_t one[64];
	unsigned len;
	int rc;

	switch (options) {
	case 0x0: {
		struct rsoc_all all = { .lu = cmd->lu, .rctd = rctd, .cap = 8192, .len = 4 };

		all.d = calloc(1, all.cap);
		if (!all.d) {
			scsi_check_condition(cmd, SK_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
			return;
		}
		scsi_opcode_foreach(rsoc_add, &all);
		put_be32(all.d, all.len - 4);
		rc = scsi_cmd_data_in(cmd, all.d, all.len, alloc);
		free(all.d);
		if (rc < 0) {
			scsi_check_condition(cmd, SK_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
			return;
		}
		scsi_cmd_good(cmd);
		return;
	}
	case 0x1:       /* by opcode; an error for opcodes with service actions */
		if (opcode_has_service_actions(opcode)) {
			scsi_invalid_cdb_field(cmd, 2, 2);
			return;
		}
		rsoc_one(cmd, scsi_opcode_lookup(opcode, 0), rctd, one, &len);
		break;
	case 0x2:       /* by opcode and service action */
		if (!opcode_has_service_actions(opcode)) {
			scsi_invalid_cdb_field(cmd, 2, 2);
			return;
		}
		rsoc_one(cmd, sa < 32 ? scsi_opcode_lookup(opcode, sa) : NULL, rctd, one, &len);
		break;
	case 0x3:       /* SPC-4 r37: either, as the opcode has service actions or not */
		if (opcode_has_service_actions(opcode))
			rsoc_one(cmd, sa < 32 ? scsi_opcode_lookup(opcode, sa) : NULL, rctd, one,
				 &len);
		else
			rsoc_one(cmd, scsi_opcode_lookup(opcode, 0), rctd, one, &len);
		break;
	default:
		scsi_invalid_cdb_field(cmd, 2, 2);
		return;
	}
	if (scsi_cmd_data_in(cmd, one, len, alloc) < 0) {
		scsi_check_condition(cmd, SK_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
		return;
	}
	scsi_cmd_good(cmd);
}

static void spc_report_supported_tmfs(struct scsi_cmd *cmd)
{
	bool repd = cmd->cdb[2] & 0x80;
	uint32_t alloc = get_be32(cmd->cdb + 6);
	uint8_t d[16];
	unsigned len = repd ? 16 : 4;

	/* SPC-4 6.37: the allocation length must be at least four. */
	if (alloc < 4) {
		scsi_invalid_cdb_field(cmd, 6, -1);
		return;
	}
	memset(d, 0, sizeof(d));
	/* ATS, ATSS, CTSS, LURS, TRS: what scsi_tmf_submit() implements */
	d[0] = 0x80 | 0x40 | 0x10 | 0x08 | 0x02;
	if (repd)
		d[3] = 0x0c;            /* ADDITIONAL DATA LENGTH; timeouts not reported */
	if (scsi_cmd_data_in(cmd, d, len, alloc) < 0) {
		scsi_check_condition(cmd, SK_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
		return;
	}
	scsi_cmd_good(cmd);
}

/* ---------------------------------------------------------------------
 * The SPC command table
 */

#define T_NOMINAL 1
#define T_RECOMMENDED 10

static const struct scsi_opcode_desc spc_ops[] = {
	{ .opcode = 0x00, .cdb_len = 6, .name = "TEST UNIT READY",
	  .cdb_usage = { 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 },
	  .flags = OPF_NEEDS_MEDIUM, .pr_access = PR_ACCESS_ALLOWED,
	  .nominal_timeout_s = T_NOMINAL, .recommended_timeout_s = T_RECOMMENDED,
	  .execute = spc_test_unit_ready },
	{ .opcode = 0x03, .cdb_len = 6, .name = "REQUEST SENSE",
	  .cdb_usage = { 0x03, 0x01, 0x00, 0x00, 0xff, 0x00 },
	  .flags = OPF_NO_LU_NEEDED | OPF_NO_UA | OPF_DATA_IN, .pr_access = PR_ACCESS_ALLOWED,
	  .nominal_timeout_s = T_NOMINAL, .recommended_timeout_s = T_RECOMMENDED,
	  .execute = spc_request_sense },
	{ .opcode = 0x12, .cdb_len = 6, .name = "INQUIRY",
	  .cdb_usage = { 0x12, 0x01, 0xff, 0xff, 0xff, 0x00 },
	  .flags = OPF_NO_LU_NEEDED | OPF_NO_UA | OPF_DATA_IN, .pr_access = PR_ACCESS_ALLOWED,
	  .nominal_timeout_s = T_NOMINAL, .recommended_timeout_s = T_RECOMMENDED,
	  .execute = spc_inquiry },
	{ .opcode = 0x15, .cdb_len = 6, .name = "MODE SELECT(6)",
	  .cdb_usage = { 0x15, 0x11, 0x00, 0x00, 0xff, 0x00 },
	  .flags = OPF_DATA_OUT, .pr_access = PR_ACCESS_CONFLICT,
	  .nominal_timeout_s = T_NOMINAL, .recommended_timeout_s = T_RECOMMENDED,
	  .execute = spc_mode_select },
	{ .opcode = 0x1a, .cdb_len = 6, .name = "MODE SENSE(6)",
	  .cdb_usage = { 0x1a, 0x08, 0xff, 0xff, 0xff, 0x00 },
	  .flags = OPF_DATA_IN, .pr_access = PR_ACCESS_READ,
	  .nominal_timeout_s = T_NOMINAL, .recommended_timeout_s = T_RECOMMENDED,
	  .execute = spc_mode_sense },
	{ .opcode = 0x55, .cdb_len = 10, .name = "MODE SELECT(10)",
	  .cdb_usage = { 0x55, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00 },
	  .flags = OPF_DATA_OUT, .pr_access = PR_ACCESS_CONFLICT,
	  .nominal_timeout_s = T_NOMINAL, .recommended_timeout_s = T_RECOMMENDED,
	  .execute = spc_mode_select },
	{ .opcode = 0x5a, .cdb_len = 10, .name = "MODE SENSE(10)",
	  .cdb_usage = { 0x5a, 0x18, 0xff, 0xff, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00 },
	  .flags = OPF_DATA_IN, .pr_access = PR_ACCESS_READ,
	  .nominal_timeout_s = T_NOMINAL, .recommended_timeout_s = T_RECOMMENDED,
	  .execute = spc_mode_sense },
	{ .opcode = 0xa0, .cdb_len = 12, .name = "REPORT LUNS",
	  .cdb_usage = { 0xa0, 0x00, 0xff, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00 },
	  .flags = OPF_NO_LU_NEEDED | OPF_NO_UA | OPF_DATA_IN, .pr_access = PR_ACCESS_ALLOWED,
	  .nominal_timeout_s = T_NOMINAL, .recommended_timeout_s = T_RECOMMENDED,
	  .execute = spc_report_luns },
	{ .opcode = 0xa3, .service_action = MI_REPORT_SUPPORTED_OPCODES, .cdb_len = 12,
	  .name = "REPORT SUPPORTED OPERATION CODES",
	  .cdb_usage = { 0xa3, 0x1f, 0x87, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00 },
	  .flags = OPF_SA_IN_BYTE1 | OPF_DATA_IN, .pr_access = PR_ACCESS_ALLOWED,
	  .nominal_timeout_s = T_NOMINAL, .recommended_timeout_s = T_RECOMMENDED,
	  .execute = spc_report_supported_opcodes },
	{ .opcode = 0xa3, .service_action = MI_REPORT_SUPPORTED_TMFS, .cdb_len = 12,
	  .name = "REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS",
	  .cdb_usage = { 0xa3, 0x1f, 0x80, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00 },
	  .flags = OPF_SA_IN_BYTE1 | OPF_DATA_IN, .pr_access = PR_ACCESS_ALLOWED,
	  .nominal_timeout_s = T_NOMINAL, .recommended_timeout_s = T_RECOMMENDED,
	  .execute = spc_report_supported_tmfs },
};

const struct scsi_opcode_table spc_opcode_table = {
	.ops = spc_ops,
	.count = ARRAY_SIZE(spc_ops),
};
