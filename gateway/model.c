/* Lookups and lifecycle of the object model (model.h). */
#include "model.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "fencing.h"
#include "scsi/scsi_lu.h"
#include "util.h"

struct gateway *the_gateway;

/* 1-2.5-5 steps from 25 us to 10 s: a null LU's commands land in the first
 * buckets, a stalled cluster change or backstore in the last ones. */
const uint64_t lu_latency_bounds_ns[LU_LATENCY_BUCKETS - 1] = {
	25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000, 25000000, 50000000,
	100000000, 250000000, 500000000,
	1000000000, 2500000000, 5000000000, 10000000000,
};

unsigned lu_latency_bucket(uint64_t ns)
{
	unsigned i = 0;

	/* Most commands are fast: the search is short where it matters. */
	while (i < LU_LATENCY_BUCKETS - 1 && ns > lu_latency_bounds_ns[i])
		i++;
	return i;
}

/* NAA 6 (IEEE Registered Extended, SPC-4 7.8.6.6.5) needs a company id.
 * sangw has none registered: this one spells "SGW" and is documented as
 * such; sites that need their own set wwn= per LU. */
#define SANGW_NAA_COMPANY_ID 0x534757u

static const char *const portal_transport_names[] = {
	[PORTAL_TCP] = "tcp",
	[PORTAL_ISER] = "iser",
	[PORTAL_FCOE] = "fcoe",
};

const char *portal_transport_name(enum portal_transport kind)
{
	return (unsigned)kind < ARRAY_SIZE(portal_transport_names) ? portal_transport_names[kind] : "?";
}

bool portal_transport_parse(const char *name, enum portal_transport *kind)
{
	for (unsigned i = 0; i < ARRAY_SIZE(portal_transport_names); i++)
		if (strcasecmp(name, portal_transport_names[i]) == 0) {
			*kind = (enum portal_transport)i;
			return true;
		}
	return false;
}

struct target *gw_find_target(struct gateway *gw, const char *iqn)
{
	struct target *t;

	/* RFC 7143 4.2.7.1: iSCSI names compare case-insensitively after
	 * stringprep, which lowercases; we store them as given. */
	TAILQ_FOREACH(t, &gw->targets, link)
		if (strcasecmp(t->iqn, iqn) == 0)
			return t;
	return NULL;
}

struct lu *target_find_lu(struct target *t, uint64_t lun)
{
	struct lu *lu;

	TAILQ_FOREACH(lu, &t->lus, link)
		if (lu->lun == lun)
			return lu;
	return NULL;
}

struct acl *target_find_acl(struct target *t, const char *initiator)
{
	struct acl *acl;

	TAILQ_FOREACH(acl, &t->acls, link)
		if (strcasecmp(acl->initiator, initiator) == 0)
			return acl;
	return NULL;
}

bool target_allows(struct target *t, const char *initiator, struct acl **acl)
{
	*acl = target_find_acl(t, initiator);
	return *acl != NULL || t->demo_mode;
}

struct lu *target_resolve_lun(struct target *t, const struct acl *acl, uint64_t mapped_lun)
{
	if (!acl || acl->map_count == 0)
		return target_find_lu(t, mapped_lun);
	for (unsigned i = 0; i < acl->map_count; i++)
		if (acl->map[i].mapped_lun == mapped_lun)
			return target_find_lu(t, acl->map[i].target_lun);
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

unsigned target_visible_luns(struct target *t, const struct acl *acl, uint64_t *luns, unsigned max)
{
	unsigned n = 0;

	if (!acl || acl->map_count == 0) {
		struct lu *lu;
		TAILQ_FOREACH(lu, &t->lus, link)
			if (n < max && !lu->removing)
				luns[n++] = lu->lun;
	} else {
		for (unsigned i = 0; i < acl->map_count && n < max; i++) {
			struct lu *lu = target_find_lu(t, acl->map[i].target_lun);
			if (lu && !lu->removing)
				luns[n++] = acl->map[i].mapped_lun;
		}
	}
	qsort(luns, n, sizeof(*luns), cmp_u64);
	return n;
}

bool acl_maps_lu(const struct acl *acl, const struct lu *lu, uint64_t *mapped_lun)
{
	if (!acl || acl->map_count == 0) {
		*mapped_lun = lu->lun;
		return true;
	}
	for (unsigned i = 0; i < acl->map_count; i++)
		if (acl->map[i].target_lun == lu->lun) {
			*mapped_lun = acl->map[i].mapped_lun;
			return true;
		}
	return false;
}

void target_params_defaults(struct target_params *p)
{
	/* Generous but standard limits; RFC 7143 section 13 gives the ranges. */
	p->max_recv_data_segment_length = 262144;
	p->max_burst_length = 1048576;
	p->first_burst_length = 262144;
	p->initial_r2t = false;
	p->immediate_data = true;
	p->max_outstanding_r2t = 1;
	p->default_time2wait = 2;
	p->default_time2retain = 20;
	p->header_digest = true;
	p->data_digest = true;
	p->queue_depth = 128;
	p->nop_interval = 30;
	p->nop_timeout = 30;
	p->chap_algorithms = CHAP_ALGS_ALL;
}

struct target *target_create(struct gateway *gw, const char *iqn)
{
	struct target *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->gw = gw;
	str_copy(t->iqn, iqn, sizeof(t->iqn));
	/* Each node is one iSCSI target portal group, so one SCSI target port
	 * ("IQN,t,0xTPGT", RFC 7143 4.4.1 / SPC-4 7.6.4.6) distinct from every
	 * other node's, matching its relative target port identifier. */
	t->tpgt = gw->node_id ? (uint16_t)gw->node_id : 1;
	target_params_defaults(&t->params);
	TAILQ_INIT(&t->lus);
	TAILQ_INIT(&t->acls);
	TAILQ_INSERT_TAIL(&gw->targets, t, link);
	return t;
}

void target_destroy(struct target *t)
{
	struct lu *lu;
	struct acl *acl;

	while ((lu = TAILQ_FIRST(&t->lus)))
		lu_destroy(lu);
	while ((acl = TAILQ_FIRST(&t->acls))) {
		TAILQ_REMOVE(&t->acls, acl, link);
		free(acl);
	}
	TAILQ_REMOVE(&t->gw->targets, t, link);
	free(t);
}

uint64_t lu_key(const struct lu *lu)
{
	return hash64(&lu->lun, sizeof(lu->lun), hash64(lu->target->iqn, strlen(lu->target->iqn), 0));
}

static int parse_hex_bytes(const char *hex, uint8_t *out, size_t n)
{
	if (hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X'))
		hex += 2;
	if (strlen(hex) != n * 2)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (!isxdigit((unsigned char)hex[2 * i]) || !isxdigit((unsigned char)hex[2 * i + 1]) ||
		    sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

/* NAA 6: 4-bit NAA, 24-bit company id, 36-bit vendor specific id, 64-bit
 * vendor specific id extension. Derived from the target name and LUN so
 * every node and every restart reports the same designator. */
static void lu_derive_identity(struct lu *lu)
{
	uint64_t h1 = lu_key(lu);
	uint64_t h2 = hash64(lu->target->iqn, strlen(lu->target->iqn), h1);

	if (lu->spec.wwn[0] == '\0' || parse_hex_bytes(lu->spec.wwn, lu->naa, 16) < 0) {
		lu->naa[0] = 0x60 | (uint8_t)(SANGW_NAA_COMPANY_ID >> 20);
		lu->naa[1] = (uint8_t)(SANGW_NAA_COMPANY_ID >> 12);
		lu->naa[2] = (uint8_t)(SANGW_NAA_COMPANY_ID >> 4);
		lu->naa[3] = (uint8_t)((SANGW_NAA_COMPANY_ID & 0xf) << 4) | (uint8_t)(h1 >> 60);
		put_be32(lu->naa + 4, (uint32_t)(h1 >> 28));
		put_be64(lu->naa + 8, h2);
	}
	/* Unit serial number (VPD 0x80): the designator's 32 hex digits; the
	 * same on every node, as the designator is. */
	for (int i = 0; i < 16; i++)
		snprintf(lu->serial + 2 * i, 3, "%02x", lu->naa[i]);
	lu->serial[32] = '\0';
}

static void lu_set_geometry(struct lu *lu)
{
	lu->block_shift = (uint8_t)__builtin_ctz(lu->block_size);
	lu->num_blocks = lu->size_bytes >> lu->block_shift;
}

struct lu *lu_create(struct target *t, uint64_t lun, const struct lu_spec *spec,
		     char *err, size_t errlen)
{
	struct lu *lu, *pos;
	int rc;

	if (lun >= MAX_LUNS_PER_TARGET) {
		snprintf(err, errlen, "LUN %llu out of range (0-%d)", (unsigned long long)lun,
			 MAX_LUNS_PER_TARGET - 1);
		return NULL;
	}
	if (target_find_lu(t, lun)) {
		snprintf(err, errlen, "LUN %llu already exists in %s", (unsigned long long)lun, t->iqn);
		return NULL;
	}
	/* Its per-worker task sets and counters are cache-line aligned. */
	lu = aligned_alloc(_Alignof(struct lu), sizeof(*lu));
	if (lu)
		memset(lu, 0, sizeof(*lu));
	if (!lu) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	lu->target = t;
	lu->lun = lun;
	lu->spec = *spec;
	lu->block_size = spec->block_size ? spec->block_size : 512;
	if (lu->block_size != 512 && lu->block_size != 4096) {
		snprintf(err, errlen, "block size %u unsupported (512 or 4096)", lu->block_size);
		free(lu);
		return NULL;
	}
	lu->bs_ops = backstore_find(spec->backstore);
	if (!lu->bs_ops) {
		snprintf(err, errlen, "unknown backstore '%s'", spec->backstore);
		free(lu);
		return NULL;
	}
	rc = lu->bs_ops->open(lu, err, errlen);
	if (rc < 0) {
		free(lu);
		return NULL;
	}
	if (rc == BS_OPEN_PENDING) {
		/* Serves NOT READY until lu_backing_opened(); the size is
		 * what the admin asked for, if anything, until then. */
		lu->backing_state = LU_BACKING_OPENING;
		lu->size_bytes = spec->size;
	}
	lu_set_geometry(lu);
	if (lu->num_blocks == 0 && lu->backing_state == LU_BACKING_READY) {
		snprintf(err, errlen, "backing is smaller than one block");
		lu->bs_ops->close(lu);
		free(lu);
		return NULL;
	}
	lu_derive_identity(lu);
	/* Defaults: write cache on (we flush on SYNCHRONIZE CACHE and FUA),
	 * fixed-format sense (SPC-4 7.5.8 D_SENSE = 0). */
	lu->mode.wce = true;
	lu->mode.tst = 1;       /* SPC-4 7.5.8: per I_T nexus task sets (workers.h) */
	lu->mode_saved = lu->mode;
	lu->medium_loaded = true;
	for (unsigned i = 0; i < LU_TASK_SETS; i++)
		TAILQ_INIT(&lu->tasks[i].cmds);
	if (scsi_lu_init(lu, err, errlen) < 0) {
		lu->bs_ops->close(lu);
		free(lu);
		return NULL;
	}
	TAILQ_FOREACH(pos, &t->lus, link)
		if (pos->lun > lun)
			break;
	if (pos)
		TAILQ_INSERT_BEFORE(pos, lu, link);
	else
		TAILQ_INSERT_TAIL(&t->lus, lu, link);
	scsi_lu_linked(lu);
	if (lu->backing_state == LU_BACKING_OPENING)
		log_info("%s LUN %llu: %s %s opening", t->iqn, (unsigned long long)lun,
			 spec->backstore, spec->path);
	else
		log_info("%s LUN %llu: %s %s, %llu blocks of %u bytes", t->iqn, (unsigned long long)lun,
			 spec->backstore, spec->path, (unsigned long long)lu->num_blocks, lu->block_size);
	return lu;
}

static void lu_free(struct lu *lu)
{
	scsi_lu_cleanup(lu);
	lu->bs_ops->close(lu);
	free(lu);
}

void lu_destroy(struct lu *lu)
{
	/* Unlinked at once: new commands no longer find it. Commands still
	 * in its task set finish first; the last one frees it
	 * (lu_release_if_retired). */
	TAILQ_REMOVE(&lu->target->lus, lu, link);
	lu->removing = true;
	lu->retired = true;
	scsi_lu_removed(lu);
	if (lu_tasks_empty(lu))
		lu_free(lu);
}

void lu_release_if_retired(struct lu *lu)
{
	if (lu->retired && lu_tasks_empty(lu))
		lu_free(lu);
}

int lu_resize(struct lu *lu, uint64_t new_size, char *err, size_t errlen)
{
	int rc;

	if (new_size < lu->block_size) {
		snprintf(err, errlen, "size must be at least one block (%u bytes)", lu->block_size);
		return -EINVAL;
	}
	if (!lu->bs_ops->resize) {
		snprintf(err, errlen, "backstore %s cannot be resized", lu->bs_ops->name);
		return -EOPNOTSUPP;
	}
	rc = lu->bs_ops->resize(lu, new_size);
	if (rc < 0) {
		snprintf(err, errlen, "resize failed: %s", strerror(-rc));
		return rc;
	}
	lu->spec.size = new_size;
	if (rc == BS_RESIZE_PENDING)
		return 1;
	lu_set_geometry(lu);
	return 0;
}

void lu_backing_resized(struct lu *lu, int result, uint64_t size_bytes)
{
	if (result < 0) {
		log_error("%s LUN %llu: resize of %s to %llu bytes failed: %s", lu->target->iqn,
			  (unsigned long long)lu->lun, lu->spec.path, (unsigned long long)lu->spec.size,
			  strerror(-result));
		return;
	}
	lu->size_bytes = size_bytes;
	lu_set_geometry(lu);
	log_info("%s LUN %llu: resized to %llu blocks", lu->target->iqn, (unsigned long long)lu->lun,
		 (unsigned long long)lu->num_blocks);
	scsi_lu_capacity_changed(lu);
}

void lu_backing_reopen(struct lu *lu)
{
	char err[512];
	int rc;

	lu->bs_ops->close(lu);
	lu->backing_state = LU_BACKING_OPENING;
	rc = lu->bs_ops->open(lu, err, sizeof(err));
	if (rc != BS_OPEN_PENDING)
		lu_backing_opened(lu, rc, lu->size_bytes, err);
}

void lu_backing_opened(struct lu *lu, int result, uint64_t size_bytes, const char *why)
{
	const char *iqn = lu->target->iqn;
	unsigned long long lun = (unsigned long long)lu->lun;

	if (result < 0) {
		if (lu->backing_state != LU_BACKING_FAILED || strcmp(lu->backing_error, why) != 0)
			log_error("%s LUN %llu: %s (NOT READY until it can be opened)", iqn, lun, why);
		str_copy(lu->backing_error, why, sizeof(lu->backing_error));
		lu->backing_state = LU_BACKING_FAILED;
		fencing_kick(lu->target->gw);
		return;
	}
	if (size_bytes < lu->block_size) {
		str_copy(lu->backing_error, "the backing is smaller than one block",
			 sizeof(lu->backing_error));
		log_error("%s LUN %llu: %s", iqn, lun, lu->backing_error);
		lu->backing_state = LU_BACKING_FAILED;
		fencing_kick(lu->target->gw);
		return;
	}
	lu->size_bytes = size_bytes;
	lu_set_geometry(lu);
	lu->backing_error[0] = '\0';
	lu->backing_state = LU_BACKING_READY;
	log_info("%s LUN %llu: %s %s ready, %llu blocks of %u bytes", iqn, lun, lu->spec.backstore,
		 lu->spec.path, (unsigned long long)lu->num_blocks, lu->block_size);
	/* New clients of shared storage are published before they serve. */
	fencing_kick(lu->target->gw);
}

static int parse_bool_option(const char *value, bool *out)
{
	if (!strcmp(value, "1") || !strcmp(value, "yes") || !strcmp(value, "true"))
		*out = true;
	else if (!strcmp(value, "0") || !strcmp(value, "no") || !strcmp(value, "false"))
		*out = false;
	else
		return -1;
	return 0;
}

/* Backstores with options of their own (rbd: conf=, id=, ...) check them
 * themselves (backstore_ops.check_spec); the model keeps them as text. */
static bool backstore_has_options(const char *name)
{
	const struct backstore_ops *ops = backstore_find(name);

	return ops && ops->check_spec;
}

int lu_spec_parse(const char *text, struct lu_spec *spec, char *err, size_t errlen)
{
	char buf[PATH_MAX + 768];
	char *opts, *opt, *save = NULL;

	memset(spec, 0, sizeof(*spec));
	if (str_copy(buf, text, sizeof(buf)) >= sizeof(buf)) {
		snprintf(err, errlen, "LU spec too long");
		return -1;
	}
	opts = strchr(buf, ',');
	if (opts)
		*opts++ = '\0';
	if (strncmp(buf, "file:", 5) == 0) {
		str_copy(spec->backstore, "file", sizeof(spec->backstore));
		if (buf[5] == '\0') {
			snprintf(err, errlen, "'%s': file backstore needs a path (file:PATH)", text);
			return -1;
		}
		str_copy(spec->path, buf + 5, sizeof(spec->path));
	} else if (strcmp(buf, "null") == 0) {
		str_copy(spec->backstore, "null", sizeof(spec->backstore));
	} else if (strncmp(buf, "rbd:", 4) == 0) {
		str_copy(spec->backstore, "rbd", sizeof(spec->backstore));
		str_copy(spec->path, buf + 4, sizeof(spec->path));
		/* Network stores are thin by nature: UNMAP frees objects. */
		spec->thin = true;
	} else {
		snprintf(err, errlen, "'%s': expected file:PATH[,size=SIZE][,thin=1], null[,size=SIZE] "
			 "or rbd:POOL/IMAGE[,conf=PATH][,id=CLIENT][,size=SIZE][,create=1]", text);
		return -1;
	}
	for (opt = opts ? strtok_r(opts, ",", &save) : NULL; opt; opt = strtok_r(NULL, ",", &save)) {
		char *value = strchr(opt, '=');
		bool ok = true;

		if (!value) {
			snprintf(err, errlen, "'%s': option '%s' needs a value (KEY=VALUE)", text, opt);
			return -1;
		}
		*value++ = '\0';
		if (!strcmp(opt, "size"))
			ok = parse_size(value, &spec->size) == 0;
		else if (!strcmp(opt, "thin"))
			ok = parse_bool_option(value, &spec->thin) == 0;
		else if (!strcmp(opt, "removable"))
			ok = parse_bool_option(value, &spec->removable) == 0;
		else if (!strcmp(opt, "readonly"))
			ok = parse_bool_option(value, &spec->readonly) == 0;
		else if (!strcmp(opt, "blocksize")) {
			uint64_t bs;
			ok = parse_size(value, &bs) == 0 && (bs == 512 || bs == 4096);
			spec->block_size = (uint32_t)bs;
		} else if (!strcmp(opt, "physblock")) {
			uint64_t pb;
			ok = parse_size(value, &pb) == 0 && pb >= 512 && pb <= 65536 && !(pb & (pb - 1));
			spec->phys_block_size = (uint32_t)pb;
		} else if (!strcmp(opt, "wwn")) {
			uint8_t naa[16];
			ok = parse_hex_bytes(value, naa, 16) == 0 && (naa[0] >> 4) == 6;
			if (ok)
				str_copy(spec->wwn, value[0] == '0' && (value[1] | 0x20) == 'x' ? value + 2 : value,
					 sizeof(spec->wwn));
		} else if (backstore_has_options(spec->backstore)) {
			/* Kept as text; the backstore checks them. */
			size_t used = strlen(spec->options);

			if (used + strlen(opt) + strlen(value) + 3 > sizeof(spec->options)) {
				snprintf(err, errlen, "'%s': options too long", text);
				return -1;
			}
			snprintf(spec->options + used, sizeof(spec->options) - used, "%s%s=%s",
				 used ? "," : "", opt, value);
		} else {
			snprintf(err, errlen, "'%s': unknown option '%s'", text, opt);
			return -1;
		}
		if (!ok) {
			snprintf(err, errlen, "'%s': invalid value '%s' for %s", text, value, opt);
			return -1;
		}
	}
	if (!strcmp(spec->backstore, "null") && spec->size == 0)
		spec->size = 1ULL << 30;
	if (spec->block_size == 0)
		spec->block_size = 512;
	if (spec->phys_block_size && spec->phys_block_size < spec->block_size) {
		snprintf(err, errlen, "'%s': physblock must be at least the block size", text);
		return -1;
	}
	return 0;
}
