/* Unit attention conditions (SAM-5 5.14, SPC-4 4.5.3 / 5.14): a short queue
 * per I_T nexus, keyed by LU. Conditions other nexuses must see are raised
 * through the shared-state door (SOP_UA_RAISE) so that every node
 * establishes them on its own nexuses; ua_apply() runs on each node. */
#include "ua.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../cluster/cluster.h"
#include "../log.h"
#include "scsi_internal.h"
#include "sense.h"
#include "../shared_state.h"
#include "../util.h"

/* SAM-5 5.14: a logical unit may limit how many conditions it queues per
 * I_T_L nexus; beyond this only reset conditions are kept. */
#define UA_MAX_PER_LU 16

/* lun value in a payload meaning "every LU of the target". */
#define UA_WHOLE_TARGET UINT64_MAX

/* SOP_UA_RAISE payload (fixed layout, shared_state.h rules). */
struct ua_raise_payload {
	struct sop_lu_ref lu;
	uint64_t except_nexus;
	uint16_t asc_ascq;
	uint8_t reserved[6];
};

/* Reset-class conditions (29h: power on, reset, nexus loss) take
 * precedence over all others when reported (SAM-5 5.14). */
static int ua_precedence(uint16_t asc_ascq)
{
	return (asc_ascq >> 8) == 0x29 ? 1 : 0;
}

static unsigned ua_count_lu(const struct it_nexus *nexus, uint64_t key)
{
	const struct ua_entry *ua;
	unsigned n = 0;

	TAILQ_FOREACH(ua, &nexus->uas, link)
		if (ua->lu_key == key)
			n++;
	return n;
}

static void ua_remove(struct it_nexus *nexus, struct ua_entry *ua)
{
	TAILQ_REMOVE(&nexus->uas, ua, link);
	free(ua);
}

void ua_establish(struct it_nexus *nexus, uint64_t key, uint16_t asc_ascq)
{
	struct ua_entry *ua, *next;

	TAILQ_FOREACH(ua, &nexus->uas, link)
		if (ua->lu_key == key && (uint16_t)(ua->asc << 8 | ua->ascq) == asc_ascq)
			return;
	if (ua_count_lu(nexus, key) >= UA_MAX_PER_LU) {
		if (!ua_precedence(asc_ascq)) {
			log_debug("UA %04x for nexus %llx dropped: queue full", asc_ascq,
				  (unsigned long long)nexus->id);
			return;
		}
		/* A reset supersedes the lesser conditions of that LU. */
		for (ua = TAILQ_FIRST(&nexus->uas); ua; ua = next) {
			next = TAILQ_NEXT(ua, link);
			if (ua->lu_key == key && !ua_precedence((uint16_t)(ua->asc << 8 | ua->ascq)))
				ua_remove(nexus, ua);
		}
	}
	ua = calloc(1, sizeof(*ua));
	if (!ua) {
		log_error("out of memory establishing a unit attention");
		return;
	}
	ua->lu_key = key;
	ua->asc = (uint8_t)(asc_ascq >> 8);
	ua->ascq = (uint8_t)asc_ascq;
	TAILQ_INSERT_TAIL(&nexus->uas, ua, link);
}

void ua_establish_lu(struct gateway *gw, struct lu *lu, uint64_t except_nexus, uint16_t asc_ascq)
{
	uint64_t key = lu_key(lu);
	struct it_nexus *nexus;
	uint64_t mapped;

	TAILQ_FOREACH(nexus, &gw->nexuses, link) {
		if (nexus->target != lu->target || nexus->id == except_nexus)
			continue;
		if (!acl_maps_lu(nexus->acl, lu, &mapped))
			continue;
		ua_establish(nexus, key, asc_ascq);
	}
}

static void ua_submit(struct target *t, uint64_t lun, uint64_t except_nexus, uint16_t asc_ascq)
{
	struct ua_raise_payload p;
	int rc;

	memset(&p, 0, sizeof(p));
	str_copy(p.lu.target_iqn, t->iqn, sizeof(p.lu.target_iqn));
	p.lu.lun = lun;
	p.except_nexus = except_nexus;
	p.asc_ascq = asc_ascq;
	rc = cluster_submit(t->gw->cluster, SOP_UA_RAISE, &p, sizeof(p), NULL, NULL);
	if (rc < 0)
		log_warn("%s: unit attention %04x not raised: %s", t->iqn, asc_ascq, strerror(-rc));
}

void ua_raise(struct lu *lu, uint64_t except_nexus, uint16_t asc_ascq)
{
	ua_submit(lu->target, lu->lun, except_nexus, asc_ascq);
}

void ua_raise_target(struct target *t, uint64_t except_nexus, uint16_t asc_ascq)
{
	ua_submit(t, UA_WHOLE_TARGET, except_nexus, asc_ascq);
}

int ua_apply(struct gateway *gw, const void *payload, uint32_t len)
{
	struct ua_raise_payload p;
	struct target *t;
	struct lu *lu;

	if (len != sizeof(p)) {
		log_error("SOP_UA_RAISE: bad payload length %u", len);
		return -EINVAL;
	}
	memcpy(&p, payload, sizeof(p));
	p.lu.target_iqn[sizeof(p.lu.target_iqn) - 1] = '\0';
	t = gw_find_target(gw, p.lu.target_iqn);
	if (!t)
		return 0;   /* not exported by this node */
	if (p.lu.lun == UA_WHOLE_TARGET) {
		TAILQ_FOREACH(lu, &t->lus, link)
			ua_establish_lu(gw, lu, p.except_nexus, p.asc_ascq);
		return 0;
	}
	lu = target_find_lu(t, p.lu.lun);
	if (lu)
		ua_establish_lu(gw, lu, p.except_nexus, p.asc_ascq);
	return 0;
}

/* The condition to report next for this LU: reset-class first, then the
 * oldest. */
static struct ua_entry *ua_pick(struct it_nexus *nexus, uint64_t key)
{
	struct ua_entry *ua, *best = NULL;

	TAILQ_FOREACH(ua, &nexus->uas, link) {
		if (ua->lu_key != key)
			continue;
		if (!best || ua_precedence((uint16_t)(ua->asc << 8 | ua->ascq)) >
			     ua_precedence((uint16_t)(best->asc << 8 | best->ascq)))
			best = ua;
	}
	return best;
}

bool ua_take(struct it_nexus *nexus, uint64_t key, uint16_t *asc_ascq)
{
	struct ua_entry *ua = ua_pick(nexus, key);

	if (!ua)
		return false;
	*asc_ascq = (uint16_t)(ua->asc << 8 | ua->ascq);
	ua_remove(nexus, ua);
	return true;
}

bool ua_check(struct scsi_cmd *cmd)
{
	const struct scsi_opcode_desc *desc;
	uint16_t asc_ascq;

	if (!cmd->lu || TAILQ_EMPTY(&cmd->nexus->uas))
		return false;
	/* SAM-5 5.14: INQUIRY, REPORT LUNS and REQUEST SENSE never report one. */
	desc = scsi_cmd_desc(cmd);
	if (desc && (desc->flags & OPF_NO_UA))
		return false;
	if (!ua_take(cmd->nexus, lu_key(cmd->lu), &asc_ascq))
		return false;
	scsi_check_condition(cmd, SK_UNIT_ATTENTION, asc_ascq);
	return true;
}

void ua_clear_nexus(struct it_nexus *nexus)
{
	struct ua_entry *ua;

	while ((ua = TAILQ_FIRST(&nexus->uas)))
		ua_remove(nexus, ua);
}

void ua_clear_lu(struct gateway *gw, uint64_t key)
{
	struct it_nexus *nexus;
	struct ua_entry *ua, *next;

	TAILQ_FOREACH(nexus, &gw->nexuses, link) {
		for (ua = TAILQ_FIRST(&nexus->uas); ua; ua = next) {
			next = TAILQ_NEXT(ua, link);
			if (ua->lu_key == key)
				ua_remove(nexus, ua);
		}
	}
}
