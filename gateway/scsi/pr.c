/* Reservations: SPC-4 persistent reservations (5.13, 6.15 PERSISTENT RESERVE
 * IN, 6.16 PERSISTENT RESERVE OUT) and SPC-2 RESERVE/RELEASE (SPC-2 5.5,
 * reservations).
 *
 * Design (design.md, principle 1): the command handlers only check the CDB
 * and the parameter list, then submit a self-contained operation to the
 * cluster service. pr_apply() runs that operation on every node, in the
 * same order, and decides from the shared state alone, so every gateway
 * reaches the same registrations, reservation and result. Side effects on
 * I_T nexuses (unit attentions, PREEMPT AND ABORT) are applied by each node
 * to the nexuses it has.
 *
 * Registrations are keyed by I_T nexus identity, not by local objects: the
 * initiator port name ("iqn...,i,0x<ISID>", RFC 7143 / SPC-4 7.6.4.6) and
 * the relative target port identifier. They survive the loss of the nexus
 * (SPC-4 5.13) and mean the same thing on every node. A registration made
 * with ALL_TG_PT covers the initiator port through every target port; one
 * made from a TransportID without an ISID (format 00b) covers every
 * initiator port of that iSCSI name. A Fibre Channel port (fabric/fcoe/)
 * is named "naa." and its N_Port_Name in 16 hex digits; its TransportID
 * is the FC one (SPC-4 7.6.4.2).
 *
 * Compatible reservation handling is off (CRH = 0, SPC-4 5.13.3): while any
 * registration exists, RESERVE and RELEASE conflict; while an SPC-2
 * reservation exists, every PERSISTENT RESERVE IN/OUT conflicts (SPC-2
 * 5.5). */
#include "pr.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../cluster/cluster.h"
#include "../log.h"
#include "scsi_internal.h"
#include "sense.h"
#include "../shared_state.h"
#include "ua.h"
#include "../util.h"

/* --- constants from SPC-4 ------------------------------------------------- */

/* SPC-4 6.15.1 PERSISTENT RESERVE IN service actions */
enum pr_in_sa {
	PRIN_READ_KEYS = 0x00,
	PRIN_READ_RESERVATION = 0x01,
	PRIN_REPORT_CAPABILITIES = 0x02,
	PRIN_READ_FULL_STATUS = 0x03,
};

/* SPC-4 6.16.2 PERSISTENT RESERVE OUT service actions */
enum pr_out_sa {
	PROUT_REGISTER = 0x00,
	PROUT_RESERVE = 0x01,
	PROUT_RELEASE = 0x02,
	PROUT_CLEAR = 0x03,
	PROUT_PREEMPT = 0x04,
	PROUT_PREEMPT_AND_ABORT = 0x05,
	PROUT_REGISTER_AND_IGNORE = 0x06,
	PROUT_REGISTER_AND_MOVE = 0x07,
};

/* SPC-4 6.16.3: persistent reservation types */
enum pr_type {
	PR_TYPE_WRITE_EXCLUSIVE = 0x1,
	PR_TYPE_EXCLUSIVE_ACCESS = 0x3,
	PR_TYPE_WRITE_EXCLUSIVE_RO = 0x5,   /* registrants only */
	PR_TYPE_EXCLUSIVE_ACCESS_RO = 0x6,
	PR_TYPE_WRITE_EXCLUSIVE_AR = 0x7,   /* all registrants */
	PR_TYPE_EXCLUSIVE_ACCESS_AR = 0x8,
};

#define PR_SCOPE_LU 0x0   /* SPC-4 6.16.3: the only scope left */

/* PERSISTENT RESERVE OUT parameter list (SPC-4 6.16.4) */
#define PROUT_BASIC_LEN        24
#define PROUT_FLAG_SPEC_I_PT   0x08   /* byte 20 */
#define PROUT_FLAG_ALL_TG_PT   0x04
#define PROUT_FLAG_APTPL       0x01
#define PROUT_MOVE_UNREG       0x02   /* byte 17 of REGISTER AND MOVE */
#define PROUT_MOVE_APTPL       0x01

/* SPC-4 7.6.4.6 iSCSI TransportID */
#define TPID_PROTO_ISCSI       0x5
#define TPID_FORMAT_NAME       0x0    /* iSCSI name: every port of the device */
#define TPID_FORMAT_PORT       0x1    /* name,i,0x<ISID>: one initiator port */
#define TPID_MIN_ADDL_LEN      20
#define ISCSI_PORT_SEPARATOR   ",i,0x"
/* SPC-4 7.6.4.2 Fibre Channel TransportID: protocol 0, 24 bytes, the
 * N_Port_Name at bytes 8-15. */
#define TPID_PROTO_FC          0x0
#define TPID_FC_LEN            24

/* Commands looked at by the SPC-2 conflict rules (SPC-2 5.5). */
#define OP_REQUEST_SENSE       0x03
#define OP_INQUIRY             0x12
#define OP_RESERVE6            0x16
#define OP_RELEASE6            0x17
#define OP_START_STOP_UNIT     0x1b
#define OP_PREVENT_ALLOW       0x1e
#define OP_RESERVE10           0x56
#define OP_RELEASE10           0x57
#define OP_PERSISTENT_RESERVE_IN  0x5e
#define OP_PERSISTENT_RESERVE_OUT 0x5f
#define OP_REPORT_LUNS         0xa0
#define OP_MAINTENANCE_IN      0xa3

#define PR_PORT_MAX            256    /* as struct it_nexus initiator_port */
/* Registrations per LU; beyond it INSUFFICIENT REGISTRATION RESOURCES
 * (SPC-4 5.13.7). Also bounds READ FULL STATUS and the payloads. */
#define PR_MAX_REGISTRATIONS   1024

/* --- state ---------------------------------------------------------------- */

struct pr_reg {
	uint64_t key;
	char initiator_port[PR_PORT_MAX];
	uint16_t rel_tgt_port_id;      /* ignored when all_tg_pt */
	bool all_tg_pt;
	TAILQ_ENTRY(pr_reg) link;
};

struct pr_state {
	struct lu *lu;
	uint32_t generation;           /* PRGENERATION, SPC-4 6.15.2 */
	TAILQ_HEAD(, pr_reg) regs;     /* in registration order */
	unsigned reg_count;
	/* The persistent reservation, if any. */
	bool reserved;
	uint8_t type, scope;
	struct pr_reg *holder;         /* NULL for all registrants types */
	bool aptpl;                    /* SPC-4 5.13.5: persist through power loss */
	/* SPC-2 RESERVE(6/10): held by one I_T nexus until released. */
	bool spc2_reserved;
	uint64_t spc2_nexus_id;
};

/* --- operation payloads (shared_state.h rules: fixed layout, no
 * pointers, NUL-padded names) ---------------------------------------------- */

/* The identity of the I_T nexus an operation came through. */
struct pr_nexus_ref {
	uint64_t nexus_id;
	char initiator_port[PR_PORT_MAX];
	uint16_t rel_tgt_port_id;
	uint8_t reserved[6];
};

/* SOP_PR_OUT: a decoded PERSISTENT RESERVE OUT. */
struct pr_out_payload {
	struct sop_lu_ref lu;
	struct pr_nexus_ref issuer;
	uint64_t key;                  /* RESERVATION KEY */
	uint64_t sa_key;               /* SERVICE ACTION RESERVATION KEY */
	uint8_t service_action;
	uint8_t scope;
	uint8_t type;
	uint8_t flags;                 /* PROUT_FLAG_* (APTPL, ALL_TG_PT, SPEC_I_PT) */
	uint8_t unreg;                 /* REGISTER AND MOVE: UNREG */
	uint8_t reserved;
	uint16_t move_rel_tgt_port_id; /* REGISTER AND MOVE destination port */
	uint32_t port_count;           /* initiator ports from the TransportIDs */
	char ports[][PR_PORT_MAX];
};

#define PR_OUT_PAYLOAD_SIZE(n) \
	((uint32_t)offsetof(struct pr_out_payload, ports) + (uint32_t)(n) * PR_PORT_MAX)

/* SOP_SPC2_RESERVE / SOP_SPC2_RELEASE */
struct pr_spc2_payload {
	struct sop_lu_ref lu;
	uint64_t nexus_id;
};

/* SOP_NEXUS_LOSS */
struct pr_nexus_loss_payload {
	uint64_t nexus_id;
};

/* SOP_LU_RESET */
struct pr_lu_reset_payload {
	struct sop_lu_ref lu;
};

/* Results of apply functions (shared_state.h encoding). */
#define PR_GOOD            0
#define PR_CONFLICT        shared_result_scsi(SAM_STAT_RESERVATION_CONFLICT, 0, 0)
#define PR_ILLEGAL(asc)    shared_result_scsi(SAM_STAT_CHECK_CONDITION, SK_ILLEGAL_REQUEST, (asc))

/* --- small helpers ------------------------------------------------------- */

static bool type_is_valid(uint8_t type)
{
	switch (type) {
	case PR_TYPE_WRITE_EXCLUSIVE:
	case PR_TYPE_EXCLUSIVE_ACCESS:
	case PR_TYPE_WRITE_EXCLUSIVE_RO:
	case PR_TYPE_EXCLUSIVE_ACCESS_RO:
	case PR_TYPE_WRITE_EXCLUSIVE_AR:
	case PR_TYPE_EXCLUSIVE_ACCESS_AR:
		return true;
	default:
		return false;
	}
}

/* SPC-4 5.13.10 (holder): in all registrants types every registrant holds it. */
static bool type_is_all_registrants(uint8_t type)
{
	return type == PR_TYPE_WRITE_EXCLUSIVE_AR || type == PR_TYPE_EXCLUSIVE_ACCESS_AR;
}

static bool type_is_registrants_only(uint8_t type)
{
	return type == PR_TYPE_WRITE_EXCLUSIVE_RO || type == PR_TYPE_EXCLUSIVE_ACCESS_RO;
}

/* Split an initiator port name "name,i,0x<ISID>" into the length of its
 * name part and its ISID; a bare iSCSI name has no ISID. */
static void port_split(const char *port, size_t *name_len, bool *has_isid, uint64_t *isid)
{
	const char *sep = strcasestr(port, ISCSI_PORT_SEPARATOR);

	*has_isid = false;
	*isid = 0;
	*name_len = strlen(port);
	if (!sep)
		return;
	*name_len = (size_t)(sep - port);
	*isid = strtoull(sep + strlen(ISCSI_PORT_SEPARATOR), NULL, 16);
	*has_isid = true;
}

/* Does a registration made for reg_port cover the initiator port `port`?
 * iSCSI names compare case-insensitively (RFC 7143 4.2.7.1), ISIDs as
 * numbers; a registration without ISID covers every port of that name. */
static bool port_matches(const char *reg_port, const char *port)
{
	size_t reg_len, len;
	bool reg_has_isid, has_isid;
	uint64_t reg_isid, isid;

	if (strcasecmp(reg_port, port) == 0)
		return true;
	port_split(reg_port, &reg_len, &reg_has_isid, &reg_isid);
	port_split(port, &len, &has_isid, &isid);
	if (reg_len != len || strncasecmp(reg_port, port, len) != 0)
		return false;
	if (!reg_has_isid)
		return true;
	return has_isid && reg_isid == isid;
}

static bool reg_matches(const struct pr_reg *reg, const char *port, uint16_t rel_tgt_port_id)
{
	if (!reg->all_tg_pt && reg->rel_tgt_port_id != rel_tgt_port_id)
		return false;
	return port_matches(reg->initiator_port, port);
}

/* The registration of the I_T nexus (port, rel_tgt_port_id), preferring
 * the most specific one when several cover it. */
static struct pr_reg *pr_find(struct pr_state *pr, const char *port, uint16_t rel_tgt_port_id)
{
	struct pr_reg *reg, *best = NULL;
	int best_score = -1;

	TAILQ_FOREACH(reg, &pr->regs, link) {
		int score;

		if (!reg_matches(reg, port, rel_tgt_port_id))
			continue;
		score = (reg->all_tg_pt ? 0 : 2) + (strcasecmp(reg->initiator_port, port) == 0 ? 1 : 0);
		if (score > best_score) {
			best = reg;
			best_score = score;
		}
	}
	return best;
}

static bool pr_is_holder(const struct pr_state *pr, const struct pr_reg *reg)
{
	if (!pr->reserved || !reg)
		return false;
	return type_is_all_registrants(pr->type) || pr->holder == reg;
}

static void pr_release(struct pr_state *pr)
{
	pr->reserved = false;
	pr->holder = NULL;
	pr->type = 0;
	pr->scope = 0;
}

static void pr_reserve(struct pr_state *pr, struct pr_reg *holder, uint8_t type, uint8_t scope)
{
	pr->reserved = true;
	pr->type = type;
	pr->scope = scope;
	pr->holder = type_is_all_registrants(type) ? NULL : holder;
}

static struct pr_reg *pr_add(struct pr_state *pr, uint64_t key, const char *port,
			     uint16_t rel_tgt_port_id, bool all_tg_pt)
{
	struct pr_reg *reg = calloc(1, sizeof(*reg));

	if (!reg)
		return NULL;
	reg->key = key;
	str_copy(reg->initiator_port, port, sizeof(reg->initiator_port));
	reg->rel_tgt_port_id = rel_tgt_port_id;
	reg->all_tg_pt = all_tg_pt;
	TAILQ_INSERT_TAIL(&pr->regs, reg, link);
	pr->reg_count++;
	return reg;
}

/* Remove a registration. A reservation goes with its holder's
 * registration; an all registrants one with its last registrant (SPC-4
 * 5.13.11). Unit attentions are the caller's business. */
static void pr_remove(struct pr_state *pr, struct pr_reg *reg)
{
	if (pr->holder == reg)
		pr_release(pr);
	TAILQ_REMOVE(&pr->regs, reg, link);
	pr->reg_count--;
	free(reg);
	if (pr->reserved && type_is_all_registrants(pr->type) && TAILQ_EMPTY(&pr->regs))
		pr_release(pr);
}

static void pr_remove_all(struct pr_state *pr)
{
	struct pr_reg *reg;

	pr_release(pr);
	while ((reg = TAILQ_FIRST(&pr->regs))) {
		TAILQ_REMOVE(&pr->regs, reg, link);
		free(reg);
	}
	pr->reg_count = 0;
}

/* --- local side effects of applied operations ------------------------- */

static bool nexus_sees_lu(const struct it_nexus *nexus, const struct lu *lu)
{
	uint64_t mapped;

	return nexus->target == lu->target && acl_maps_lu(nexus->acl, lu, &mapped);
}

static bool nexus_is_issuer(const struct it_nexus *nexus, const struct pr_nexus_ref *issuer)
{
	return issuer && nexus->rel_tgt_port_id == issuer->rel_tgt_port_id &&
	       strcasecmp(nexus->initiator_port, issuer->initiator_port) == 0;
}

/* Establish a unit attention on every local I_T nexus of lu that reg
 * registers, except the issuer's (SPC-4 5.13.11). Local only: apply runs
 * on every node and each one serves its own nexuses. */
static void pr_ua_for_reg(struct gateway *gw, struct lu *lu, const struct pr_reg *reg,
			  const struct pr_nexus_ref *issuer, uint16_t asc_ascq)
{
	struct it_nexus *nexus;

	TAILQ_FOREACH(nexus, &gw->nexuses, link) {
		if (!nexus_sees_lu(nexus, lu) || nexus_is_issuer(nexus, issuer))
			continue;
		if (reg_matches(reg, nexus->initiator_port, nexus->rel_tgt_port_id))
			ua_establish(nexus, lu_key(lu), asc_ascq);
	}
}

static void pr_ua_for_registrants(struct gateway *gw, struct lu *lu,
				  const struct pr_nexus_ref *issuer, uint16_t asc_ascq)
{
	struct pr_reg *reg;

	TAILQ_FOREACH(reg, &lu->pr->regs, link)
		pr_ua_for_reg(gw, lu, reg, issuer, asc_ascq);
}

/* PREEMPT AND ABORT (SPC-4 5.13.11): terminate the tasks of the preempted
 * I_T nexuses on this LU, as they would be without TAS (no status goes
 * back). Local tasks only: each node aborts its own. */
static void pr_abort_tasks_for_reg(struct lu *lu, const struct pr_reg *reg,
				   const struct pr_nexus_ref *issuer)
{
	struct scsi_cmd *cmd;

	LU_FOREACH_TASK(cmd, lu, set) {
		struct it_nexus *nexus = cmd->nexus;

		if (!nexus || nexus_is_issuer(nexus, issuer))
			continue;
		if (reg_matches(reg, nexus->initiator_port, nexus->rel_tgt_port_id))
			cmd->aborted = true;
	}
}

/* --- APTPL: persistence through power loss (SPC-4 5.13.5) ------------- */

static int pr_file_path(const struct lu *lu, char *path, size_t size, bool make_dir)
{
	const struct target *t = lu->target;
	char dir[PATH_MAX], iqn[ISCSI_NAME_MAX];
	uint64_t h;

	/* iSCSI names compare case-insensitively: so does the file name. */
	for (size_t i = 0; i < sizeof(iqn); i++) {
		iqn[i] = (char)tolower((unsigned char)t->iqn[i]);
		if (!iqn[i])
			break;
	}
	iqn[sizeof(iqn) - 1] = '\0';
	h = hash64(iqn, strlen(iqn), 0);

	if ((size_t)snprintf(dir, sizeof(dir), "%s/pr", t->gw->state_dir) >= sizeof(dir))
		return -ENAMETOOLONG;
	if (make_dir && mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	if ((size_t)snprintf(path, size, "%s/%016" PRIx64 "-%" PRIu64 ".json", dir, h, lu->lun) >= size)
		return -ENAMETOOLONG;
	return 0;
}

/* The PR state of lu as a JSON object: the APTPL file's format ("sangw-pr"
 * version 1). With transfer (state_snapshot.c) it also carries the APTPL
 * flag and the SPC-2 reservation, which a power loss would end but a node
 * joining the cluster must learn. */
static struct json_object *pr_json(const struct lu *lu, bool transfer)
{
	const struct pr_state *pr = lu->pr;
	struct json_object *root, *regs;
	const struct pr_reg *reg;
	char key[24];
	int holder_index = -1, i = 0;

	root = json_object_new_object();
	regs = json_object_new_array();
	json_object_object_add(root, "format", json_object_new_string("sangw-pr"));
	json_object_object_add(root, "version", json_object_new_int(1));
	json_object_object_add(root, "target", json_object_new_string(lu->target->iqn));
	json_object_object_add(root, "lun", json_object_new_int64((int64_t)lu->lun));
	json_object_object_add(root, "generation", json_object_new_int64(pr->generation));
	TAILQ_FOREACH(reg, &pr->regs, link) {
		struct json_object *r = json_object_new_object();

		if (reg == pr->holder)
			holder_index = i;
		snprintf(key, sizeof(key), "0x%016" PRIx64, reg->key);
		json_object_object_add(r, "key", json_object_new_string(key));
		json_object_object_add(r, "initiator_port", json_object_new_string(reg->initiator_port));
		json_object_object_add(r, "rel_tgt_port_id", json_object_new_int(reg->rel_tgt_port_id));
		json_object_object_add(r, "all_tg_pt", json_object_new_boolean(reg->all_tg_pt));
		json_object_array_add(regs, r);
		i++;
	}
	json_object_object_add(root, "registrations", regs);
	if (pr->reserved) {
		struct json_object *res = json_object_new_object();

		json_object_object_add(res, "type", json_object_new_int(pr->type));
		json_object_object_add(res, "scope", json_object_new_int(pr->scope));
		json_object_object_add(res, "holder", json_object_new_int(holder_index));
		json_object_object_add(root, "reservation", res);
	}
	if (transfer) {
		json_object_object_add(root, "aptpl", json_object_new_boolean(pr->aptpl));
		if (pr->spc2_reserved) {
			snprintf(key, sizeof(key), "0x%016" PRIx64, pr->spc2_nexus_id);
			json_object_object_add(root, "spc2_nexus_id", json_object_new_string(key));
		}
	}
	return root;
}

static void pr_save(struct lu *lu)
{
	struct json_object *root;
	char path[PATH_MAX];
	const char *text;
	int rc;

	if (!lu->target->gw->state_dir[0])
		return;
	rc = pr_file_path(lu, path, sizeof(path), true);
	if (rc < 0) {
		log_error("%s LUN %" PRIu64 ": cannot save persistent reservations: %s",
			  lu->target->iqn, lu->lun, strerror(-rc));
		return;
	}
	root = pr_json(lu, false);
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY);
	rc = write_file_atomic(path, text, strlen(text));
	if (rc < 0)
		log_error("%s: %s", path, strerror(-rc));
	else
		lu->target->gw->aptpl_file_changes++;
	json_object_put(root);
}

static void pr_forget_saved(struct lu *lu)
{
	char path[PATH_MAX];

	if (!lu->target->gw->state_dir[0] || pr_file_path(lu, path, sizeof(path), false) < 0)
		return;
	if (unlink(path) == 0)
		lu->target->gw->aptpl_file_changes++;
	else if (errno != ENOENT)
		log_warn("%s: %s", path, strerror(errno));
}

/* After every applied change: keep the file in step with APTPL. */
static void pr_persist(struct lu *lu)
{
	if (lu->pr->aptpl)
		pr_save(lu);
	else
		pr_forget_saved(lu);
}

static bool json_get(struct json_object *obj, const char *name, enum json_type type,
		     struct json_object **out)
{
	return json_object_object_get_ex(obj, name, out) && json_object_is_type(*out, type);
}

static int pr_load_registrations(struct pr_state *pr, struct json_object *regs,
				 struct pr_reg ***by_index)
{
	size_t n = json_object_array_length(regs);

	if (n > PR_MAX_REGISTRATIONS)
		return -1;
	*by_index = calloc(n ? n : 1, sizeof(**by_index));
	if (!*by_index)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct json_object *r = json_object_array_get_idx(regs, i), *key, *port, *rel, *all;
		const char *key_text;
		char *end;
		uint64_t key_value;
		int64_t rel_value;

		if (!json_get(r, "key", json_type_string, &key) ||
		    !json_get(r, "initiator_port", json_type_string, &port) ||
		    !json_get(r, "rel_tgt_port_id", json_type_int, &rel) ||
		    !json_get(r, "all_tg_pt", json_type_boolean, &all))
			return -1;
		key_text = json_object_get_string(key);
		errno = 0;
		key_value = strtoull(key_text, &end, 16);
		rel_value = json_object_get_int64(rel);
		if (errno || *end || key_value == 0 || rel_value < 0 || rel_value > UINT16_MAX ||
		    json_object_get_string_len(port) == 0 ||
		    (size_t)json_object_get_string_len(port) >= PR_PORT_MAX)
			return -1;
		(*by_index)[i] = pr_add(pr, key_value, json_object_get_string(port),
					(uint16_t)rel_value, json_object_get_boolean(all));
		if (!(*by_index)[i])
			return -1;
	}
	return (int)n;
}

/* Fill an empty pr from a "sangw-pr" object (pr_json's format): the
 * registrations, the reservation and the generation. -1 when malformed
 * (pr then holds part of it: the caller clears it). */
static int pr_parse(struct pr_state *pr, struct json_object *root)
{
	struct json_object *field, *regs, *res;
	struct pr_reg **by_index = NULL;
	int n, rc = -1;

	if (!json_get(root, "format", json_type_string, &field) ||
	    strcmp(json_object_get_string(field), "sangw-pr") != 0 ||
	    !json_get(root, "registrations", json_type_array, &regs))
		return -1;
	n = pr_load_registrations(pr, regs, &by_index);
	if (n < 0)
		goto out;
	if (json_get(root, "generation", json_type_int, &field))
		pr->generation = (uint32_t)json_object_get_int64(field);
	if (json_get(root, "reservation", json_type_object, &res)) {
		struct json_object *type, *scope, *holder;
		int holder_index;

		if (!json_get(res, "type", json_type_int, &type) ||
		    !json_get(res, "scope", json_type_int, &scope) ||
		    !json_get(res, "holder", json_type_int, &holder) ||
		    !type_is_valid((uint8_t)json_object_get_int(type)) ||
		    json_object_get_int(scope) != PR_SCOPE_LU)
			goto out;
		holder_index = json_object_get_int(holder);
		if (type_is_all_registrants((uint8_t)json_object_get_int(type))) {
			if (n == 0)
				goto out;
			pr_reserve(pr, NULL, (uint8_t)json_object_get_int(type), PR_SCOPE_LU);
		} else {
			if (holder_index < 0 || holder_index >= n)
				goto out;
			pr_reserve(pr, by_index[holder_index], (uint8_t)json_object_get_int(type),
				   PR_SCOPE_LU);
		}
	}
	rc = 0;
out:
	free(by_index);
	return rc;
}

int pr_load(struct lu *lu)
{
	struct pr_state *pr = lu->pr;
	struct json_object *root, *field;
	char path[PATH_MAX];
	int rc = -1;

	if (!pr || !lu->target->gw->state_dir[0] || pr_file_path(lu, path, sizeof(path), false) < 0)
		return 0;
	if (access(path, F_OK) < 0)
		return 0;   /* nothing persisted */
	root = json_object_from_file(path);
	if (!root) {
		log_error("%s: not valid JSON", path);
		return -1;
	}
	if (!json_get(root, "target", json_type_string, &field) ||
	    strcasecmp(json_object_get_string(field), lu->target->iqn) != 0 ||
	    pr_parse(pr, root) < 0)
		goto out;
	pr->aptpl = true;
	rc = 0;
	log_info("%s LUN %" PRIu64 ": restored %u persistent reservation registration(s)%s",
		 lu->target->iqn, lu->lun, pr->reg_count, pr->reserved ? " and a reservation" : "");
out:
	if (rc < 0) {
		log_error("%s: malformed persistent reservation state, ignored", path);
		pr_remove_all(pr);
		pr->generation = 0;
	}
	json_object_put(root);
	return rc;
}

/* --- state transfer (state_snapshot.c) ---------------------------------- */

void pr_summarize(const struct lu *lu, struct pr_summary *out)
{
	const struct pr_state *pr = lu->pr;

	memset(out, 0, sizeof(*out));
	if (!pr)
		return;
	out->registrations = pr->reg_count;
	out->reserved = pr->reserved;
	out->type = pr->reserved ? pr->type : 0;
	out->spc2_reserved = pr->spc2_reserved;
}

struct json_object *pr_state_to_json(const struct lu *lu)
{
	return pr_json(lu, true);
}

struct pr_state *pr_state_from_json(struct json_object *obj, char *err, size_t errlen)
{
	struct pr_state *pr = pr_state_create(NULL);
	struct json_object *field;

	if (!pr) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (!json_object_is_type(obj, json_type_object) || pr_parse(pr, obj) < 0) {
		snprintf(err, errlen, "malformed persistent reservation state");
		goto fail;
	}
	if (json_get(obj, "aptpl", json_type_boolean, &field))
		pr->aptpl = json_object_get_boolean(field);
	if (json_object_object_get_ex(obj, "spc2_nexus_id", &field)) {
		const char *text = json_object_get_string(field);
		char *end;

		errno = 0;
		pr->spc2_nexus_id = strtoull(text ? text : "", &end, 16);
		if (!json_object_is_type(field, json_type_string) || errno || !text || !*text || *end) {
			snprintf(err, errlen, "malformed SPC-2 reservation holder");
			goto fail;
		}
		pr->spc2_reserved = true;
	}
	return pr;
fail:
	pr_state_destroy(pr);
	return NULL;
}

void pr_state_install(struct lu *lu, struct pr_state *pr)
{
	pr_state_destroy(lu->pr);
	pr->lu = lu;
	lu->pr = pr;
	pr_persist(lu);
}

/* --- lifecycle ------------------------------------------------------------ */

struct pr_state *pr_state_create(struct lu *lu)
{
	struct pr_state *pr = calloc(1, sizeof(*pr));

	if (!pr)
		return NULL;
	pr->lu = lu;
	TAILQ_INIT(&pr->regs);
	return pr;
}

void pr_state_destroy(struct pr_state *pr)
{
	if (!pr)
		return;
	pr_remove_all(pr);
	free(pr);
}

/* --- conflict checks (on the data path: read-only, local) --------------- */

/* SPC-2 5.5: what another I_T nexus may still do while an LU is
 * reserved with RESERVE(6/10). MAINTENANCE IN carries only reports
 * (REPORT TARGET PORT GROUPS, REPORT SUPPORTED OPERATION CODES, ...). */
static bool spc2_allowed_for_others(const struct scsi_cmd *cmd)
{
	switch (cmd->cdb[0]) {
	case OP_INQUIRY:
	case OP_REPORT_LUNS:
	case OP_REQUEST_SENSE:
	case OP_RELEASE6:      /* completes with GOOD and no effect */
	case OP_RELEASE10:
	case OP_MAINTENANCE_IN:
		return true;
	case OP_PREVENT_ALLOW:
		return (cmd->cdb[4] & 0x03) == 0;   /* PREVENT = 0 */
	default:
		return false;
	}
}

/* SBC-3 4.17: two commands whose class depends on the CDB. */
static enum pr_access pr_access_of(const struct scsi_cmd *cmd, enum pr_access access)
{
	if (cmd->cdb[0] == OP_PREVENT_ALLOW && (cmd->cdb[4] & 0x03) == 0)
		return PR_ACCESS_ALLOWED;
	if (cmd->cdb[0] == OP_START_STOP_UNIT && (cmd->cdb[4] & 0x01) && (cmd->cdb[4] & 0xf0) == 0)
		return PR_ACCESS_ALLOWED;   /* START = 1, POWER CONDITION = 0 */
	return access;
}

bool pr_conflict(struct scsi_cmd *cmd)
{
	const struct scsi_opcode_desc *desc;
	struct pr_state *pr;
	struct pr_reg *reg;
	enum pr_access access;
	bool registered;

	if (!cmd->lu || !cmd->lu->pr || !cmd->nexus)
		return false;
	pr = cmd->lu->pr;
	if (!pr->reserved && !pr->spc2_reserved && TAILQ_EMPTY(&pr->regs))
		return false;
	desc = scsi_cmd_desc(cmd);
	if (!desc)
		return false;   /* answered as an unsupported command */
	access = pr_access_of(cmd, desc->pr_access);

	if (pr->spc2_reserved) {
		/* SPC-2 5.5: PERSISTENT RESERVE IN/OUT conflict for everyone,
		 * the RESERVE holder included. */
		if (cmd->cdb[0] == OP_PERSISTENT_RESERVE_IN || cmd->cdb[0] == OP_PERSISTENT_RESERVE_OUT)
			return true;
		if (pr->spc2_nexus_id == cmd->nexus->id)
			return false;
		return !spc2_allowed_for_others(cmd);
	}
	/* SPC-2 5.5 (CRH = 0): RESERVE and RELEASE conflict while any
	 * persistent reservation registration exists. */
	if (access == PR_ACCESS_SPC2)
		return !TAILQ_EMPTY(&pr->regs);
	if (!pr->reserved || access == PR_ACCESS_ALLOWED || access == PR_ACCESS_PR_OUT)
		return false;

	reg = pr_find(pr, cmd->nexus->initiator_port, cmd->nexus->rel_tgt_port_id);
	if (pr_is_holder(pr, reg))
		return false;
	registered = reg != NULL;
	/* SPC-4 5.13.1 and SBC-3 4.17 (commands allowed in the presence of
	 * reservations), by type, for an I_T nexus that is not the holder. */
	switch (pr->type) {
	case PR_TYPE_WRITE_EXCLUSIVE:
		return access != PR_ACCESS_READ;
	case PR_TYPE_EXCLUSIVE_ACCESS:
		return true;
	case PR_TYPE_WRITE_EXCLUSIVE_RO:
	case PR_TYPE_WRITE_EXCLUSIVE_AR:
		return access != PR_ACCESS_READ && !registered;
	case PR_TYPE_EXCLUSIVE_ACCESS_RO:
	case PR_TYPE_EXCLUSIVE_ACCESS_AR:
		return !registered;
	default:
		return true;
	}
}

/* --- completing commands from operation results ------------------------ */

static void pr_complete(struct scsi_cmd *cmd, int result)
{
	uint8_t status;

	if (result < 0) {
		/* The operation did not run, or quorum was lost before every
		 * node had applied it (-EAGAIN), or no memory. BUSY asks the
		 * initiator to retry (SAM-5 5.3.1), through a quorate node. */
		if (result == -EAGAIN || result == -ENOMEM) {
			cmd->status = SAM_STAT_BUSY;
			cmd->sense_len = 0;
			scsi_cmd_complete(cmd);
		} else {
			scsi_check_condition(cmd, SK_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
		}
		return;
	}
	status = shared_result_status(result);
	switch (status) {
	case SAM_STAT_GOOD:
		scsi_cmd_good(cmd);
		break;
	case SAM_STAT_CHECK_CONDITION:
		scsi_check_condition(cmd, shared_result_key(result), shared_result_asc(result));
		break;
	default:
		cmd->status = status;
		cmd->sense_len = 0;
		scsi_cmd_complete(cmd);
		break;
	}
}

/* The origin's done callback: the command completes only now, after its
 * operation has been applied here and on every other synchronised node
 * (design.md, principle 1), so the next command through any node sees it. */
static void pr_cmd_done(void *ctx, int result)
{
	pr_complete(ctx, result);
}

static void pr_submit(struct scsi_cmd *cmd, uint16_t type, const void *payload, uint32_t len)
{
	int rc = cluster_submit(cmd->lu->target->gw->cluster, type, payload, len, pr_cmd_done, cmd);

	if (rc < 0) {
		log_warn("%s LUN %" PRIu64 ": reservation operation not submitted: %s",
			 cmd->lu->target->iqn, cmd->lu->lun, strerror(-rc));
		pr_complete(cmd, rc);
	}
}

static void pr_nexus_ref_set(struct pr_nexus_ref *ref, const struct it_nexus *nexus)
{
	memset(ref, 0, sizeof(*ref));
	ref->nexus_id = nexus->id;
	str_copy(ref->initiator_port, nexus->initiator_port, sizeof(ref->initiator_port));
	ref->rel_tgt_port_id = nexus->rel_tgt_port_id;
}

/* --- PERSISTENT RESERVE IN (SPC-4 6.15) --------------------------------- */

/* An FC initiator port: "naa." and exactly 16 hex digits, no ISID. */
static bool fc_port_name(const char *port, uint64_t *wwpn)
{
	if (strncmp(port, "naa.", 4) || strlen(port) != 20 || strspn(port + 4, "0123456789abcdef") != 16)
		return false;
	*wwpn = strtoull(port + 4, NULL, 16);
	return true;
}

/* SPC-4 7.6.4.6: the iSCSI TransportID of a registered port, or 7.6.4.2
 * the FC one; returns its length (a multiple of four, at least 24). */
static unsigned pr_format_transport_id(const char *port, uint8_t *buf)
{
	size_t name_len;
	bool has_isid;
	uint64_t isid, wwpn;
	unsigned len = (unsigned)strlen(port) + 1, addl;

	if (fc_port_name(port, &wwpn)) {
		memset(buf, 0, TPID_FC_LEN);
		buf[0] = TPID_PROTO_FC;
		put_be64(buf + 8, wwpn);
		return TPID_FC_LEN;
	}
	port_split(port, &name_len, &has_isid, &isid);
	addl = MAX((len + 3) & ~3u, TPID_MIN_ADDL_LEN);
	memset(buf, 0, 4 + addl);
	buf[0] = (uint8_t)((has_isid ? TPID_FORMAT_PORT : TPID_FORMAT_NAME) << 6 | TPID_PROTO_ISCSI);
	put_be16(buf + 2, (uint16_t)addl);
	memcpy(buf + 4, port, len);
	return 4 + addl;
}

static uint32_t pr_in_read_keys(const struct pr_state *pr, uint8_t *buf)
{
	const struct pr_reg *reg;
	uint32_t len = 8;

	put_be32(buf, pr->generation);
	TAILQ_FOREACH(reg, &pr->regs, link) {
		put_be64(buf + len, reg->key);
		len += 8;
	}
	put_be32(buf + 4, len - 8);
	return len;
}

static uint32_t pr_in_read_reservation(const struct pr_state *pr, uint8_t *buf)
{
	put_be32(buf, pr->generation);
	if (!pr->reserved) {
		put_be32(buf + 4, 0);
		return 8;
	}
	put_be32(buf + 4, 16);
	memset(buf + 8, 0, 16);
	/* SPC-4 6.15.3: all registrants types report key zero. */
	put_be64(buf + 8, pr->holder ? pr->holder->key : 0);
	buf[21] = (uint8_t)(pr->scope << 4 | pr->type);
	return 24;
}

static uint32_t pr_in_report_capabilities(const struct pr_state *pr, uint8_t *buf)
{
	memset(buf, 0, 8);
	put_be16(buf, 8);
	/* SPC-4 6.15.4: CRH 0, SIP_C, ATP_C, PTPL_C */
	buf[2] = 0x08 | 0x04 | 0x01;
	/* TMV with ALLOW COMMANDS 001b: TEST UNIT READY is allowed through
	 * Write Exclusive and Exclusive Access reservations; PTPL_A. */
	buf[3] = 0x80 | 0x01 << 4 | (pr->aptpl ? 0x01 : 0x00);
	/* Every type: WR_EX_AR, EX_AC_RO, WR_EX_RO, EX_AC, WR_EX; EX_AC_AR. */
	buf[4] = 0x80 | 0x40 | 0x20 | 0x08 | 0x02;
	buf[5] = 0x01;
	return 8;
}

static uint32_t pr_in_read_full_status(const struct pr_state *pr, uint8_t *buf)
{
	const struct pr_reg *reg;
	uint32_t len = 8;

	put_be32(buf, pr->generation);
	TAILQ_FOREACH(reg, &pr->regs, link) {
		uint8_t *d = buf + len;
		unsigned tid_len;

		memset(d, 0, 24);
		put_be64(d, reg->key);
		if (reg->all_tg_pt)
			d[12] |= 0x02;
		if (pr_is_holder(pr, reg)) {
			d[12] |= 0x01;
			d[13] = (uint8_t)(pr->scope << 4 | pr->type);
		}
		/* The port field is not used with ALL_TG_PT (SPC-4 6.15.5). */
		put_be16(d + 18, reg->all_tg_pt ? 0 : reg->rel_tgt_port_id);
		tid_len = pr_format_transport_id(reg->initiator_port, d + 24);
		put_be32(d + 20, tid_len);
		len += 24 + tid_len;
	}
	put_be32(buf + 4, len - 8);
	return len;
}

void pr_in(struct scsi_cmd *cmd)
{
	struct pr_state *pr = cmd->lu->pr;
	uint8_t sa = cmd->cdb[1] & 0x1f;
	uint16_t alloc_len = get_be16(cmd->cdb + 7);
	/* Largest answer: READ FULL STATUS with every registration. */
	size_t cap = 8 + (size_t)pr->reg_count * (24 + 4 + PR_PORT_MAX);
	uint8_t *buf;
	uint32_t len;

	if (sa > PRIN_READ_FULL_STATUS) {
		scsi_invalid_cdb_field(cmd, 1, 4);
		return;
	}
	buf = malloc(MAX(cap, 32));
	if (!buf) {
		cmd->status = SAM_STAT_BUSY;
		scsi_cmd_complete(cmd);
		return;
	}
	switch (sa) {
	case PRIN_READ_KEYS:
		len = pr_in_read_keys(pr, buf);
		break;
	case PRIN_READ_RESERVATION:
		len = pr_in_read_reservation(pr, buf);
		break;
	case PRIN_REPORT_CAPABILITIES:
		len = pr_in_report_capabilities(pr, buf);
		break;
	default:
		len = pr_in_read_full_status(pr, buf);
		break;
	}
	/* SPC-4 4.2.5.6: truncated to the allocation length; the length
	 * fields keep describing the whole list. */
	if (scsi_cmd_data_in(cmd, buf, len, alloc_len) < 0) {
		free(buf);
		cmd->status = SAM_STAT_BUSY;
		scsi_cmd_complete(cmd);
		return;
	}
	free(buf);
	scsi_cmd_good(cmd);
}

/* --- PERSISTENT RESERVE OUT: local validation (SPC-4 6.16) -------------- */

/* Decode one iSCSI (SPC-4 7.6.4.6) or FC (7.6.4.2) TransportID into an
 * initiator port name.
 * Returns its length, 0 when it runs past avail (truncated), -1 when it is
 * invalid or not one sangw can register. */
static int pr_parse_transport_id(const uint8_t *buf, uint32_t avail, char *port, bool need_isid)
{
	unsigned format, addl;
	const uint8_t *name, *nul;
	const char *sep;
	size_t len;

	if (avail < 4)
		return 0;
	format = buf[0] >> 6;
	if ((buf[0] & 0x0f) == TPID_PROTO_FC && format == 0) {
		/* SPC-4 7.6.4.2: one FC port, by its N_Port_Name. */
		if (avail < TPID_FC_LEN)
			return 0;
		if (!get_be64(buf + 8))
			return -1;
		snprintf(port, PR_PORT_MAX, "naa.%016" PRIx64, get_be64(buf + 8));
		return TPID_FC_LEN;
	}
	if ((buf[0] & 0x0f) != TPID_PROTO_ISCSI || format > TPID_FORMAT_PORT)
		return -1;
	if (need_isid && format != TPID_FORMAT_PORT)
		return -1;
	addl = get_be16(buf + 2);
	if (4 + addl > avail)
		return 0;
	if (addl % 4 != 0 || addl < 4)
		return -1;
	name = buf + 4;
	nul = memchr(name, 0, addl);
	if (!nul || nul == name)
		return -1;
	len = (size_t)(nul - name);
	if (len >= PR_PORT_MAX)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (name[i] <= ' ' || name[i] >= 0x7f)
			return -1;
	memcpy(port, name, len);
	port[len] = '\0';
	sep = strcasestr(port, ISCSI_PORT_SEPARATOR);
	if (format == TPID_FORMAT_NAME)
		return strchr(port, ',') ? -1 : (int)(4 + addl);
	/* name,i,0x<ISID>: a name and 1-12 hex digits (RFC 7143 10.12.5). */
	if (!sep || sep == port)
		return -1;
	sep += strlen(ISCSI_PORT_SEPARATOR);
	len = strlen(sep);
	if (len == 0 || len > 12 || strspn(sep, "0123456789abcdefABCDEF") != len)
		return -1;
	return (int)(4 + addl);
}

/* Decode the TransportIDs of SPEC_I_PT (SPC-4 6.16.4) into payload->ports.
 * Returns 0, or the sense code to answer with. */
static int pr_parse_spec_i_pt(const uint8_t *list, uint32_t list_len, struct pr_out_payload **p,
			      uint32_t *payload_len, uint16_t *bad_byte)
{
	uint32_t tids_len, off = 28;

	if (list_len < 28)
		return ASC_PARAMETER_LIST_LENGTH_ERROR;
	tids_len = get_be32(list + 24);
	if (tids_len > list_len - 28)
		return ASC_PARAMETER_LIST_LENGTH_ERROR;
	while (off < 28 + tids_len) {
		struct pr_out_payload *bigger;
		char port[PR_PORT_MAX];
		int n = pr_parse_transport_id(list + off, 28 + tids_len - off, port, false);

		if (n == 0)
			return ASC_PARAMETER_LIST_LENGTH_ERROR;
		if (n < 0) {
			*bad_byte = (uint16_t)MIN(off, UINT16_MAX);
			return ASC_INVALID_FIELD_IN_PARAMETER_LIST;
		}
		if ((*p)->port_count >= PR_MAX_REGISTRATIONS)
			return ASC_INSUFFICIENT_REGISTRATION_RESOURCES;
		*payload_len = PR_OUT_PAYLOAD_SIZE((*p)->port_count + 1);
		bigger = realloc(*p, MAX(*payload_len, sizeof(**p)));
		if (!bigger)
			return -ENOMEM;
		*p = bigger;
		memset((*p)->ports[(*p)->port_count], 0, PR_PORT_MAX);
		str_copy((*p)->ports[(*p)->port_count], port, PR_PORT_MAX);
		(*p)->port_count++;
		off += (uint32_t)n;
	}
	return 0;
}

static void pr_out_fail(struct scsi_cmd *cmd, int asc, uint16_t bad_byte)
{
	if (asc == -ENOMEM) {
		cmd->status = SAM_STAT_BUSY;
		scsi_cmd_complete(cmd);
	} else if (asc == ASC_INVALID_FIELD_IN_PARAMETER_LIST) {
		scsi_invalid_param_field(cmd, bad_byte, -1);
	} else {
		scsi_check_condition(cmd, SK_ILLEGAL_REQUEST, (uint16_t)asc);
	}
}

void pr_out(struct scsi_cmd *cmd)
{
	uint8_t sa = cmd->cdb[1] & 0x1f;
	uint8_t scope = cmd->cdb[2] >> 4, type = cmd->cdb[2] & 0x0f;
	uint32_t list_len = get_be32(cmd->cdb + 5);
	const uint8_t *list = cmd->buf;
	uint32_t payload_len = PR_OUT_PAYLOAD_SIZE(0);
	struct pr_out_payload *p, *bigger;
	uint16_t bad_byte = 0;
	int rc = 0;

	cmd->transfer_len = list_len;
	if (sa > PROUT_REGISTER_AND_MOVE) {
		scsi_invalid_cdb_field(cmd, 1, 4);
		return;
	}
	/* SPC-4 6.16.3: SCOPE and TYPE matter to these service actions. */
	if (sa == PROUT_RESERVE || sa == PROUT_RELEASE || sa == PROUT_PREEMPT ||
	    sa == PROUT_PREEMPT_AND_ABORT || sa == PROUT_REGISTER_AND_MOVE) {
		if (scope != PR_SCOPE_LU) {
			scsi_invalid_cdb_field(cmd, 2, 7);
			return;
		}
		if (!type_is_valid(type)) {
			scsi_invalid_cdb_field(cmd, 2, 3);
			return;
		}
	}
	/* The parameter list must be all there (SPC-4 6.16.4). */
	if (list_len < PROUT_BASIC_LEN || cmd->data_out_len < list_len || !list) {
		scsi_check_condition(cmd, SK_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERROR);
		return;
	}

	p = calloc(1, MAX(payload_len, sizeof(*p)));
	if (!p) {
		pr_out_fail(cmd, -ENOMEM, 0);
		return;
	}
	sop_lu_ref_set(&p->lu, cmd->lu);
	pr_nexus_ref_set(&p->issuer, cmd->nexus);
	p->service_action = sa;
	p->scope = scope;
	p->type = type;
	p->key = get_be64(list);
	p->sa_key = get_be64(list + 8);

	if (sa == PROUT_REGISTER_AND_MOVE) {
		/* SPC-4 6.16.5: REGISTER AND MOVE parameter list. */
		uint32_t tid_len = get_be32(list + 20);
		int n;

		p->unreg = (list[17] & PROUT_MOVE_UNREG) ? 1 : 0;
		p->flags = (list[17] & PROUT_MOVE_APTPL) ? PROUT_FLAG_APTPL : 0;
		p->move_rel_tgt_port_id = get_be16(list + 18);
		if (tid_len > list_len - PROUT_BASIC_LEN) {
			rc = ASC_PARAMETER_LIST_LENGTH_ERROR;
			goto fail;
		}
		if (p->sa_key == 0) {
			rc = ASC_INVALID_FIELD_IN_PARAMETER_LIST;
			bad_byte = 8;
			goto fail;
		}
		if (p->move_rel_tgt_port_id == 0) {
			rc = ASC_INVALID_FIELD_IN_PARAMETER_LIST;
			bad_byte = 18;
			goto fail;
		}
		payload_len = PR_OUT_PAYLOAD_SIZE(1);
		bigger = realloc(p, MAX(payload_len, sizeof(*p)));
		if (!bigger) {
			rc = -ENOMEM;
			goto fail;
		}
		p = bigger;
		memset(p->ports[0], 0, PR_PORT_MAX);
		/* An iSCSI destination must name one initiator port (ISID). */
		n = pr_parse_transport_id(list + PROUT_BASIC_LEN, tid_len, p->ports[0], true);
		if (n == 0) {
			rc = ASC_PARAMETER_LIST_LENGTH_ERROR;
			goto fail;
		}
		if (n < 0) {
			rc = ASC_INVALID_FIELD_IN_PARAMETER_LIST;
			bad_byte = PROUT_BASIC_LEN;
			goto fail;
		}
		p->port_count = 1;
	} else {
		p->flags = list[20] & (PROUT_FLAG_SPEC_I_PT | PROUT_FLAG_ALL_TG_PT | PROUT_FLAG_APTPL);
		if (p->flags & PROUT_FLAG_SPEC_I_PT) {
			/* SPC-4 6.16.4: only REGISTER may specify initiator ports. */
			if (sa != PROUT_REGISTER) {
				rc = ASC_INVALID_FIELD_IN_PARAMETER_LIST;
				bad_byte = 20;
				goto fail;
			}
			rc = pr_parse_spec_i_pt(list, list_len, &p, &payload_len, &bad_byte);
			if (rc)
				goto fail;
		} else if (list_len != PROUT_BASIC_LEN) {
			rc = ASC_PARAMETER_LIST_LENGTH_ERROR;
			goto fail;
		}
		/* ALL_TG_PT and APTPL are only for the registering actions. */
		if (sa != PROUT_REGISTER && sa != PROUT_REGISTER_AND_IGNORE)
			p->flags &= (uint8_t)~(PROUT_FLAG_ALL_TG_PT | PROUT_FLAG_APTPL);
	}
	pr_submit(cmd, SOP_PR_OUT, p, payload_len);
	free(p);
	return;
fail:
	free(p);
	pr_out_fail(cmd, rc, bad_byte);
}

/* --- PERSISTENT RESERVE OUT: apply (every node, same order) ------------- */

/* REGISTER with SPEC_I_PT (SPC-4 5.13.7): the issuer and every initiator
 * port named, all or none. */
static int pr_register_spec_i_pt(struct pr_state *pr, const struct pr_out_payload *p,
				 bool all_tg_pt)
{
	uint32_t fresh = 1;

	for (uint32_t i = 0; i < p->port_count; i++) {
		if (pr_find(pr, p->ports[i], p->issuer.rel_tgt_port_id))
			return PR_ILLEGAL(ASC_INVALID_FIELD_IN_PARAMETER_LIST);
		fresh++;
	}
	if (pr->reg_count + fresh > PR_MAX_REGISTRATIONS)
		return PR_ILLEGAL(ASC_INSUFFICIENT_REGISTRATION_RESOURCES);
	if (!pr_add(pr, p->sa_key, p->issuer.initiator_port, p->issuer.rel_tgt_port_id, all_tg_pt))
		return PR_ILLEGAL(ASC_INSUFFICIENT_REGISTRATION_RESOURCES);
	for (uint32_t i = 0; i < p->port_count; i++) {
		/* The issuer listing itself, or a port twice: registered once. */
		if (pr_find(pr, p->ports[i], p->issuer.rel_tgt_port_id))
			continue;
		if (!pr_add(pr, p->sa_key, p->ports[i], p->issuer.rel_tgt_port_id, all_tg_pt))
			return PR_ILLEGAL(ASC_INSUFFICIENT_REGISTRATION_RESOURCES);
	}
	return PR_GOOD;
}

/* Unregister (SPC-4 5.13.11): a holder's reservation goes with it; when
 * a registrants only one goes, the other registrants are told. */
static void pr_unregister(struct gateway *gw, struct lu *lu, struct pr_reg *reg,
			  const struct pr_nexus_ref *issuer)
{
	struct pr_state *pr = lu->pr;
	bool ro_released = pr->reserved && pr->holder == reg && type_is_registrants_only(pr->type);

	pr_remove(pr, reg);
	if (ro_released)
		pr_ua_for_registrants(gw, lu, issuer, ASC_RESERVATIONS_RELEASED);
}

/* REGISTER and REGISTER AND IGNORE EXISTING KEY (SPC-4 5.13.7). */
static int pr_apply_register(struct gateway *gw, struct lu *lu, const struct pr_out_payload *p,
			     struct pr_reg *reg)
{
	struct pr_state *pr = lu->pr;
	bool ignore_key = p->service_action == PROUT_REGISTER_AND_IGNORE;
	bool all_tg_pt = p->flags & PROUT_FLAG_ALL_TG_PT;
	int rc;

	if (!reg) {
		if (!ignore_key && p->key != 0)
			return PR_CONFLICT;
		if (p->sa_key == 0)
			return PR_GOOD;   /* nothing to do */
		if (p->flags & PROUT_FLAG_SPEC_I_PT) {
			rc = pr_register_spec_i_pt(pr, p, all_tg_pt);
			if (rc != PR_GOOD)
				return rc;
		} else {
			if (pr->reg_count >= PR_MAX_REGISTRATIONS ||
			    !pr_add(pr, p->sa_key, p->issuer.initiator_port, p->issuer.rel_tgt_port_id,
				    all_tg_pt))
				return PR_ILLEGAL(ASC_INSUFFICIENT_REGISTRATION_RESOURCES);
		}
	} else {
		if (!ignore_key && p->key != reg->key)
			return PR_CONFLICT;
		/* SPC-4 6.16.4: SPEC_I_PT only from an unregistered I_T nexus. */
		if (p->flags & PROUT_FLAG_SPEC_I_PT)
			return PR_ILLEGAL(ASC_INVALID_FIELD_IN_PARAMETER_LIST);
		if (p->sa_key == 0)
			pr_unregister(gw, lu, reg, &p->issuer);
		else
			reg->key = p->sa_key;
	}
	/* SPC-4 5.13.5: the last successful registering action sets APTPL. */
	pr->aptpl = p->flags & PROUT_FLAG_APTPL;
	return PR_GOOD;
}

/* SPC-4 5.13.9: RESERVE. */
static int pr_apply_reserve(struct pr_state *pr, const struct pr_out_payload *p, struct pr_reg *reg)
{
	if (pr->reserved) {
		/* The holder may repeat it; nobody may change it this way. */
		if (pr_is_holder(pr, reg) && pr->type == p->type && pr->scope == p->scope)
			return PR_GOOD;
		return PR_CONFLICT;
	}
	pr_reserve(pr, reg, p->type, p->scope);
	return PR_GOOD;
}

/* SPC-4 5.13.11: RELEASE. */
static int pr_apply_release(struct gateway *gw, struct lu *lu, const struct pr_out_payload *p,
			    struct pr_reg *reg)
{
	struct pr_state *pr = lu->pr;
	bool tell_others;

	if (!pr->reserved || !pr_is_holder(pr, reg))
		return PR_GOOD;   /* nothing of ours to release */
	if (pr->type != p->type || pr->scope != p->scope)
		return PR_ILLEGAL(ASC_INVALID_RELEASE_OF_PR);
	tell_others = type_is_registrants_only(pr->type) || type_is_all_registrants(pr->type);
	pr_release(pr);
	if (tell_others)
		pr_ua_for_registrants(gw, lu, &p->issuer, ASC_RESERVATIONS_RELEASED);
	return PR_GOOD;
}

/* SPC-4 5.13.11: CLEAR: every registration and the reservation go; the
 * other registrants learn it as RESERVATIONS PREEMPTED. */
static int pr_apply_clear(struct gateway *gw, struct lu *lu, const struct pr_out_payload *p)
{
	pr_ua_for_registrants(gw, lu, &p->issuer, ASC_RESERVATIONS_PREEMPTED);
	pr_remove_all(lu->pr);
	return PR_GOOD;
}

/* Remove every registration holding key but the issuer's (SPC-4
 * 5.13.11), telling each I_T nexus it preempted; abort their tasks
 * for PREEMPT AND ABORT. Returns how many went. */
static unsigned pr_preempt_key(struct gateway *gw, struct lu *lu, const struct pr_out_payload *p,
			       struct pr_reg *issuer_reg, bool every_key, bool abort_tasks)
{
	struct pr_state *pr = lu->pr;
	struct pr_reg *reg, *next;
	unsigned removed = 0;

	for (reg = TAILQ_FIRST(&pr->regs); reg; reg = next) {
		next = TAILQ_NEXT(reg, link);
		if (reg == issuer_reg || (!every_key && reg->key != p->sa_key))
			continue;
		pr_ua_for_reg(gw, lu, reg, &p->issuer, ASC_REGISTRATIONS_PREEMPTED);
		if (abort_tasks)
			pr_abort_tasks_for_reg(lu, reg, &p->issuer);
		pr_remove(pr, reg);
		removed++;
	}
	return removed;
}

static bool pr_key_registered(const struct pr_state *pr, uint64_t key)
{
	const struct pr_reg *reg;

	TAILQ_FOREACH(reg, &pr->regs, link)
		if (reg->key == key)
			return true;
	return false;
}

/* SPC-4 5.13.11: PREEMPT and PREEMPT AND ABORT. */
static int pr_apply_preempt(struct gateway *gw, struct lu *lu, const struct pr_out_payload *p,
			    struct pr_reg *reg)
{
	struct pr_state *pr = lu->pr;
	bool abort_tasks = p->service_action == PROUT_PREEMPT_AND_ABORT;
	uint8_t old_type = pr->type, old_scope = pr->scope;

	if (!pr->reserved || (type_is_all_registrants(pr->type) ? p->sa_key != 0
							         : p->sa_key != pr->holder->key)) {
		/* Preempting registrations only; the reservation,
		 * if any, stays as it is. */
		if (p->sa_key == 0)
			return PR_ILLEGAL(ASC_INVALID_FIELD_IN_PARAMETER_LIST);
		if (!pr_key_registered(pr, p->sa_key))
			return PR_CONFLICT;
		pr_preempt_key(gw, lu, p, reg, false, abort_tasks);
		return PR_GOOD;
	}
	/* Preempting the reservation. With an all registrants
	 * reservation and key zero, every other registration goes. */
	pr_preempt_key(gw, lu, p, reg, type_is_all_registrants(pr->type), abort_tasks);
	pr_reserve(pr, reg, p->type, p->scope);
	if (old_type != p->type || old_scope != p->scope)
		pr_ua_for_registrants(gw, lu, &p->issuer, ASC_RESERVATIONS_RELEASED);
	return PR_GOOD;
}

/* SPC-4 5.13.8: REGISTER AND MOVE hands the reservation to another I_T
 * nexus, registering it with the service action key. */
static int pr_apply_register_and_move(struct lu *lu, const struct pr_out_payload *p,
				      struct pr_reg *reg)
{
	struct pr_state *pr = lu->pr;
	const char *dest_port = p->ports[0];
	uint16_t dest_rel = p->move_rel_tgt_port_id;
	struct pr_reg *dest;

	if (!pr->reserved || type_is_all_registrants(pr->type) || pr->holder != reg)
		return PR_CONFLICT;
	if (dest_rel == p->issuer.rel_tgt_port_id && port_matches(dest_port, p->issuer.initiator_port))
		return PR_ILLEGAL(ASC_INVALID_FIELD_IN_PARAMETER_LIST);
	dest = pr_find(pr, dest_port, dest_rel);
	if (dest == reg)
		return PR_ILLEGAL(ASC_INVALID_FIELD_IN_PARAMETER_LIST);
	if (!dest) {
		if (pr->reg_count >= PR_MAX_REGISTRATIONS)
			return PR_ILLEGAL(ASC_INSUFFICIENT_REGISTRATION_RESOURCES);
		dest = pr_add(pr, p->sa_key, dest_port, dest_rel, false);
		if (!dest)
			return PR_ILLEGAL(ASC_INSUFFICIENT_REGISTRATION_RESOURCES);
	} else {
		dest->key = p->sa_key;
	}
	pr_reserve(pr, dest, p->type, p->scope);
	if (p->unreg)
		pr_remove(pr, reg);
	pr->aptpl = p->flags & PROUT_FLAG_APTPL;
	return PR_GOOD;
}

static int pr_apply_out(struct gateway *gw, const void *payload, uint32_t len)
{
	struct pr_out_payload *p;
	struct lu *lu;
	struct pr_state *pr;
	struct pr_reg *reg;
	uint32_t port_count;
	int rc;

	if (len < PR_OUT_PAYLOAD_SIZE(0))
		return -EINVAL;
	memcpy(&port_count, (const uint8_t *)payload + offsetof(struct pr_out_payload, port_count),
	       sizeof(port_count));
	if (port_count > PR_MAX_REGISTRATIONS || len != PR_OUT_PAYLOAD_SIZE(port_count))
		return -EINVAL;
	/* Copy it to aligned memory and terminate every name: payloads come
	 * off the wire. */
	p = malloc(MAX(len, sizeof(*p)));
	if (!p)
		return -ENOMEM;
	memcpy(p, payload, len);
	p->issuer.initiator_port[PR_PORT_MAX - 1] = '\0';
	for (uint32_t i = 0; i < p->port_count; i++)
		p->ports[i][PR_PORT_MAX - 1] = '\0';

	lu = sop_lu_ref_find(gw, &p->lu);
	if (!lu || !lu->pr) {
		free(p);
		return PR_ILLEGAL(ASC_LU_NOT_SUPPORTED);
	}
	pr = lu->pr;
	/* SPC-2 5.5: every PR OUT conflicts while RESERVE holds the LU. */
	if (pr->spc2_reserved) {
		free(p);
		return PR_CONFLICT;
	}
	reg = pr_find(pr, p->issuer.initiator_port, p->issuer.rel_tgt_port_id);
	/* SPC-4 5.13.1: except for registering, only a registered I_T nexus
	 * giving its own key may act. */
	if (p->service_action != PROUT_REGISTER && p->service_action != PROUT_REGISTER_AND_IGNORE &&
	    (!reg || reg->key != p->key)) {
		free(p);
		return PR_CONFLICT;
	}
	switch (p->service_action) {
	case PROUT_REGISTER:
	case PROUT_REGISTER_AND_IGNORE:
		rc = pr_apply_register(gw, lu, p, reg);
		break;
	case PROUT_RESERVE:
		rc = pr_apply_reserve(pr, p, reg);
		break;
	case PROUT_RELEASE:
		rc = pr_apply_release(gw, lu, p, reg);
		break;
	case PROUT_CLEAR:
		rc = pr_apply_clear(gw, lu, p);
		break;
	case PROUT_PREEMPT:
	case PROUT_PREEMPT_AND_ABORT:
		rc = pr_apply_preempt(gw, lu, p, reg);
		break;
	case PROUT_REGISTER_AND_MOVE:
		rc = pr_apply_register_and_move(lu, p, reg);
		break;
	default:
		rc = PR_ILLEGAL(ASC_INVALID_FIELD_IN_CDB);
		break;
	}
	if (rc == PR_GOOD) {
		/* SPC-4 6.15.2: every successful PR OUT but RESERVE and RELEASE
		 * bumps the generation. */
		if (p->service_action != PROUT_RESERVE && p->service_action != PROUT_RELEASE)
			pr->generation++;
		pr_persist(lu);
		log_debug("%s LUN %" PRIu64 ": PR OUT 0x%x from %s: %u registrations, %s type %u",
			  lu->target->iqn, lu->lun, p->service_action, p->issuer.initiator_port,
			  pr->reg_count, pr->reserved ? "reserved" : "not reserved", pr->type);
	}
	free(p);
	return rc;
}

/* --- SPC-2 RESERVE / RELEASE ------------------------------------------ */

static void spc2_submit(struct scsi_cmd *cmd, uint16_t type)
{
	struct pr_spc2_payload p;

	memset(&p, 0, sizeof(p));
	sop_lu_ref_set(&p.lu, cmd->lu);
	p.nexus_id = cmd->nexus->id;
	pr_submit(cmd, type, &p, sizeof(p));
}

/* RESERVE(10)/RELEASE(10) byte 1: 3RDPTY (bit 4) and LONGID (bit 1);
 * RESERVE(6)/RELEASE(6) byte 1: the obsolete extent and third-party bits.
 * sangw reserves for the issuing I_T nexus only: no third party. */
static bool spc2_cdb_ok(struct scsi_cmd *cmd)
{
	if (cmd->cdb[1] & 0x1f) {
		scsi_invalid_cdb_field(cmd, 1, (cmd->cdb[1] & 0x10) ? 4 : -1);
		return false;
	}
	return true;
}

void spc2_reserve(struct scsi_cmd *cmd)
{
	if (spc2_cdb_ok(cmd))
		spc2_submit(cmd, SOP_SPC2_RESERVE);
}

void spc2_release(struct scsi_cmd *cmd)
{
	if (spc2_cdb_ok(cmd))
		spc2_submit(cmd, SOP_SPC2_RELEASE);
}

static int spc2_apply(struct gateway *gw, uint16_t type, const void *payload, uint32_t len)
{
	struct pr_spc2_payload p;
	struct lu *lu;
	struct pr_state *pr;

	if (len != sizeof(p))
		return -EINVAL;
	memcpy(&p, payload, sizeof(p));
	lu = sop_lu_ref_find(gw, &p.lu);
	if (!lu || !lu->pr)
		return PR_ILLEGAL(ASC_LU_NOT_SUPPORTED);
	pr = lu->pr;
	/* SPC-2 5.5 (CRH = 0): conflict while registrations exist. */
	if (!TAILQ_EMPTY(&pr->regs))
		return PR_CONFLICT;
	if (type == SOP_SPC2_RESERVE) {
		if (pr->spc2_reserved && pr->spc2_nexus_id != p.nexus_id)
			return PR_CONFLICT;
		pr->spc2_reserved = true;
		pr->spc2_nexus_id = p.nexus_id;
		return PR_GOOD;
	}
	/* SPC-2 RELEASE: by another I_T nexus it is GOOD and changes nothing. */
	if (pr->spc2_reserved && pr->spc2_nexus_id == p.nexus_id)
		pr->spc2_reserved = false;
	return PR_GOOD;
}

/* SPC-2 5.5 / SAM-5: the reservations of a lost I_T nexus end. */
static int spc2_apply_nexus_loss(struct gateway *gw, const void *payload, uint32_t len)
{
	struct pr_nexus_loss_payload p;
	struct target *t;
	struct lu *lu;

	if (len != sizeof(p))
		return -EINVAL;
	memcpy(&p, payload, sizeof(p));
	TAILQ_FOREACH(t, &gw->targets, link)
		TAILQ_FOREACH(lu, &t->lus, link)
			if (lu->pr && lu->pr->spc2_reserved && lu->pr->spc2_nexus_id == p.nexus_id)
				lu->pr->spc2_reserved = false;
	return PR_GOOD;
}

/* The nexus id names the node it goes through (scsi.h: node << 40 | seq). */
static uint32_t nexus_node(uint64_t nexus_id)
{
	return (uint32_t)(nexus_id >> 40);
}

void pr_nodes_departed(struct gateway *gw, const uint32_t *nodes, size_t n)
{
	struct target *t;
	struct lu *lu;

	TAILQ_FOREACH(t, &gw->targets, link) {
		TAILQ_FOREACH(lu, &t->lus, link) {
			if (!lu->pr || !lu->pr->spc2_reserved)
				continue;
			for (size_t i = 0; i < n; i++) {
				if (nexus_node(lu->pr->spc2_nexus_id) != nodes[i])
					continue;
				log_info("%s LUN %" PRIu64 ": node %" PRIu32 " left the cluster: "
					 "the SPC-2 reservation held through it is released",
					 t->iqn, lu->lun, nodes[i]);
				lu->pr->spc2_reserved = false;
				break;
			}
		}
	}
}

/* SAM-5: a logical unit reset ends its SPC-2 reservation; persistent
 * reservations are not affected (SPC-4 5.13). */
static int spc2_apply_lu_reset(struct gateway *gw, const void *payload, uint32_t len)
{
	struct pr_lu_reset_payload p;
	struct lu *lu;

	if (len != sizeof(p))
		return -EINVAL;
	memcpy(&p, payload, sizeof(p));
	lu = sop_lu_ref_find(gw, &p.lu);
	if (lu && lu->pr)
		lu->pr->spc2_reserved = false;
	return PR_GOOD;
}

void pr_nexus_lost(struct it_nexus *nexus, scsi_nexus_released_fn released, void *ctx)
{
	struct gateway *gw = nexus->target ? nexus->target->gw : the_gateway;
	struct pr_nexus_loss_payload p = { .nexus_id = nexus->id };
	int rc;

	if (!gw || !gw->cluster) {
		if (released)
			released(ctx, 0);
		return;
	}
	/* Always through the door: a RESERVE from this nexus may still be on
	 * its way, and must be undone after it. */
	rc = cluster_submit(gw->cluster, SOP_NEXUS_LOSS, &p, sizeof(p), released, ctx);
	if (rc < 0) {
		log_warn("nexus %" PRIx64 ": reservation release not submitted: %s", nexus->id,
			 strerror(-rc));
		if (released)
			released(ctx, rc);
	}
}

void pr_lu_reset(struct lu *lu)
{
	struct pr_lu_reset_payload p;
	int rc;

	memset(&p, 0, sizeof(p));
	sop_lu_ref_set(&p.lu, lu);
	rc = cluster_submit(lu->target->gw->cluster, SOP_LU_RESET, &p, sizeof(p), NULL, NULL);
	if (rc < 0)
		log_warn("%s LUN %" PRIu64 ": reservation release not submitted: %s", lu->target->iqn,
			 lu->lun, strerror(-rc));
}

int pr_apply(struct gateway *gw, uint16_t type, const void *payload, uint32_t len)
{
	switch (type) {
	case SOP_PR_OUT:
		return pr_apply_out(gw, payload, len);
	case SOP_SPC2_RESERVE:
	case SOP_SPC2_RELEASE:
		return spc2_apply(gw, type, payload, len);
	case SOP_NEXUS_LOSS:
		return spc2_apply_nexus_loss(gw, payload, len);
	case SOP_LU_RESET:
		return spc2_apply_lu_reset(gw, payload, len);
	default:
		return -EINVAL;
	}
}

/* --- the commands this file implements ---------------------------------- */

/* CONTROL byte: NACA unsupported and LINK obsolete, so no bit is used (the
 * dispatcher rejects them as it does for every other command). */
#define CONTROL_BYTE 0x00

#define PRIN_DESC(sa_, name_) \
	{ .opcode = OP_PERSISTENT_RESERVE_IN, .service_action = (sa_), .cdb_len = 10, \
	  .cdb_usage = { OP_PERSISTENT_RESERVE_IN, 0x1f, 0, 0, 0, 0, 0, 0xff, 0xff, CONTROL_BYTE }, \
	  .flags = OPF_SA_IN_BYTE1 | OPF_DATA_IN, .pr_access = PR_ACCESS_ALLOWED, \
	  .nominal_timeout_s = 1, .recommended_timeout_s = 30, .name = (name_), .execute = pr_in }

#define PROUT_DESC(sa_, name_) \
	{ .opcode = OP_PERSISTENT_RESERVE_OUT, .service_action = (sa_), .cdb_len = 10, \
	  .cdb_usage = { OP_PERSISTENT_RESERVE_OUT, 0x1f, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, CONTROL_BYTE }, \
	  .flags = OPF_SA_IN_BYTE1 | OPF_DATA_OUT, .pr_access = PR_ACCESS_PR_OUT, \
	  .nominal_timeout_s = 1, .recommended_timeout_s = 30, .name = (name_), .execute = pr_out }

static const struct scsi_opcode_desc pr_ops[] = {
	PRIN_DESC(PRIN_READ_KEYS, "PERSISTENT RESERVE IN / READ KEYS"),
	PRIN_DESC(PRIN_READ_RESERVATION, "PERSISTENT RESERVE IN / READ RESERVATION"),
	PRIN_DESC(PRIN_REPORT_CAPABILITIES, "PERSISTENT RESERVE IN / REPORT CAPABILITIES"),
	PRIN_DESC(PRIN_READ_FULL_STATUS, "PERSISTENT RESERVE IN / READ FULL STATUS"),
	PROUT_DESC(PROUT_REGISTER, "PERSISTENT RESERVE OUT / REGISTER"),
	PROUT_DESC(PROUT_RESERVE, "PERSISTENT RESERVE OUT / RESERVE"),
	PROUT_DESC(PROUT_RELEASE, "PERSISTENT RESERVE OUT / RELEASE"),
	PROUT_DESC(PROUT_CLEAR, "PERSISTENT RESERVE OUT / CLEAR"),
	PROUT_DESC(PROUT_PREEMPT, "PERSISTENT RESERVE OUT / PREEMPT"),
	PROUT_DESC(PROUT_PREEMPT_AND_ABORT, "PERSISTENT RESERVE OUT / PREEMPT AND ABORT"),
	PROUT_DESC(PROUT_REGISTER_AND_IGNORE, "PERSISTENT RESERVE OUT / REGISTER AND IGNORE EXISTING KEY"),
	PROUT_DESC(PROUT_REGISTER_AND_MOVE, "PERSISTENT RESERVE OUT / REGISTER AND MOVE"),
	{ .opcode = OP_RESERVE6, .cdb_len = 6, .cdb_usage = { OP_RESERVE6, 0, 0, 0, 0, CONTROL_BYTE },
	  .pr_access = PR_ACCESS_SPC2, .nominal_timeout_s = 1, .recommended_timeout_s = 30,
	  .name = "RESERVE(6)", .execute = spc2_reserve },
	{ .opcode = OP_RELEASE6, .cdb_len = 6, .cdb_usage = { OP_RELEASE6, 0, 0, 0, 0, CONTROL_BYTE },
	  .pr_access = PR_ACCESS_SPC2, .nominal_timeout_s = 1, .recommended_timeout_s = 30,
	  .name = "RELEASE(6)", .execute = spc2_release },
	{ .opcode = OP_RESERVE10, .cdb_len = 10,
	  .cdb_usage = { OP_RESERVE10, 0, 0, 0, 0, 0, 0, 0, 0, CONTROL_BYTE },
	  .pr_access = PR_ACCESS_SPC2, .nominal_timeout_s = 1, .recommended_timeout_s = 30,
	  .name = "RESERVE(10)", .execute = spc2_reserve },
	{ .opcode = OP_RELEASE10, .cdb_len = 10,
	  .cdb_usage = { OP_RELEASE10, 0, 0, 0, 0, 0, 0, 0, 0, CONTROL_BYTE },
	  .pr_access = PR_ACCESS_SPC2, .nominal_timeout_s = 1, .recommended_timeout_s = 30,
	  .name = "RELEASE(10)", .execute = spc2_release },
};

const struct scsi_opcode_table pr_opcode_table = {
	.ops = pr_ops,
	.count = ARRAY_SIZE(pr_ops),
};
