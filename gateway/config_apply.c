/* Applying a whole document to the model: at startup it builds
 * everything; on a reload or config_replace it brings the model to the
 * document, touching only what differs (docs/configuration.md, "Reload:
 * what changes and what stays"). */
#include "config_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scsi/alua.h"
#include "log.h"
#include "scsi/sense.h"
#include "scsi/ua.h"
#include "util.h"

static bool spec_equal(const struct lu_spec *a, const struct lu_spec *b, bool ignore_size)
{
	uint32_t ba = a->block_size ? a->block_size : DEFAULT_BLOCK;
	uint32_t bb = b->block_size ? b->block_size : DEFAULT_BLOCK;

	return strcmp(a->backstore, b->backstore) == 0 && strcmp(a->path, b->path) == 0 &&
	       strcmp(a->options, b->options) == 0 &&
	       (ignore_size || a->size == b->size) && a->thin == b->thin &&
	       a->removable == b->removable && a->readonly == b->readonly && ba == bb &&
	       a->phys_block_size == b->phys_block_size &&
	       strcasecmp(a->wwn, b->wwn) == 0;
}

static bool acl_map_equal(const struct acl *a, const struct acl *b)
{
	if (a->map_count != b->map_count)
		return false;
	for (unsigned i = 0; i < a->map_count; i++)
		if (a->map[i].mapped_lun != b->map[i].mapped_lun ||
		    a->map[i].target_lun != b->map[i].target_lun)
			return false;
	return true;
}

/* Keep the first error's message; later ones are only logged. */
static void note_error(int *first, int r, char *err, size_t errlen, const char *msg)
{
	if (*first == 0) {
		*first = r;
		snprintf(err, errlen, "%s", msg);
	} else {
		log_error("config: %s", msg);
	}
}

static int build_target(struct gateway *gw, const struct cfg_target *ct, unsigned index,
			bool stop_on_error, char *err, size_t errlen)
{
	struct target *t = target_create(gw, ct->iqn);
	char path[JPATH_MAX], msg[768];
	int first = 0;

	cfg_path_index(path, "targets", index);
	if (!t)
		return cfg_failf(-ENOMEM, err, errlen, path, "cannot create target %s", ct->iqn);
	t->demo_mode = ct->demo_mode;
	t->chap = ct->chap;
	t->mutual_chap = ct->mutual_chap;
	t->params = ct->params;
	for (unsigned i = 0; i < ct->n_lus; i++) {
		char q[JPATH_MAX];

		snprintf(q, sizeof(q), "targets[%u].luns[%u]", index, i);
		if (!cfg_create_lu(t, ct->lus[i].lun, &ct->lus[i].spec, q, msg, sizeof(msg))) {
			note_error(&first, -EIO, err, errlen, msg);
			if (stop_on_error)
				return first;
		}
	}
	for (unsigned i = 0; i < ct->n_acls; i++)
		if (!cfg_acl_insert(t, &ct->acls[i]))
			return cfg_failf(-ENOMEM, err, errlen, path, "out of memory");
	return first;
}

/* Bring target t to what ct describes, touching only what differs. */
static int update_target(struct gateway *gw, struct target *t, const struct cfg_target *ct,
			 unsigned index, char *err, size_t errlen)
{
	struct lu *lu, *next_lu;
	struct acl *acl, *next_acl;
	bool luns_changed = false;
	char path[JPATH_MAX], msg[768];
	int first = 0;

	cfg_path_index(path, "targets", index);
	/* Parameters and CHAP only matter to logins still to come. */
	t->params = ct->params;
	t->chap = ct->chap;
	t->mutual_chap = ct->mutual_chap;
	cfg_set_demo_mode(gw, t, ct->demo_mode);

	for (acl = TAILQ_FIRST(&t->acls); acl; acl = next_acl) {
		next_acl = TAILQ_NEXT(acl, link);
		if (!cfg_find_acl(ct, acl->initiator))
			cfg_acl_remove(gw, t, acl);
	}

	for (lu = TAILQ_FIRST(&t->lus); lu; lu = next_lu) {
		const struct cfg_lu *cl = cfg_find_lu(ct, lu->lun);
		uint64_t lun = lu->lun;
		char q[JPATH_MAX];

		next_lu = TAILQ_NEXT(lu, link);
		if (!cl) {
			cfg_lu_remove(lu);
			luns_changed = true;
			continue;
		}
		/* A new ALUA policy applies in place: an implicit transition. */
		if (!alua_policy_equal(&lu->spec.alua, &cl->spec.alua))
			alua_lu_set_policy(lu, &cl->spec.alua);
		/* size 0 means "the backing's own size": not a change. */
		if (spec_equal(&lu->spec, &cl->spec, cl->spec.size == 0))
			continue;
		snprintf(q, sizeof(q), "targets[%u].luns", index);
		if (spec_equal(&lu->spec, &cl->spec, true)) {
			char why[256] = "";

			int rr = lu_resize(lu, cl->spec.size, why, sizeof(why));

			if (rr < 0) {
				snprintf(msg, sizeof(msg), "%s: cannot resize LUN %llu: %s", q,
					 (unsigned long long)lun, why);
				note_error(&first, -EIO, err, errlen, msg);
				continue;
			}
			lu->spec.size = cl->spec.size;
			/* A pending resize raises it when it ends. */
			if (rr == 0)
				ua_establish_lu(gw, lu, 0, ASC_CAPACITY_DATA_HAS_CHANGED);
			continue;
		}
		/* Any other change replaces the LU: a new identity or backing. */
		cfg_lu_remove(lu);
		luns_changed = true;
		if (!cfg_create_lu(t, lun, &cl->spec, q, msg, sizeof(msg)))
			note_error(&first, -EIO, err, errlen, msg);
	}
	for (unsigned i = 0; i < ct->n_lus; i++) {
		char q[JPATH_MAX];

		if (target_find_lu(t, ct->lus[i].lun))
			continue;
		snprintf(q, sizeof(q), "targets[%u].luns[%u]", index, i);
		luns_changed = true;
		if (!cfg_create_lu(t, ct->lus[i].lun, &ct->lus[i].spec, q, msg, sizeof(msg)))
			note_error(&first, -EIO, err, errlen, msg);
	}

	for (unsigned i = 0; i < ct->n_acls; i++) {
		const struct acl *want = &ct->acls[i];

		acl = target_find_acl(t, want->initiator);
		if (!acl) {
			if (!cfg_acl_insert(t, want))
				note_error(&first, -ENOMEM, err, errlen, "out of memory");
			continue;
		}
		acl->chap = want->chap;
		acl->mutual_chap = want->mutual_chap;
		if (!acl_map_equal(acl, want)) {
			acl->map_count = want->map_count;
			memcpy(acl->map, want->map, sizeof(acl->map));
			cfg_ua_acl_view_changed(gw, t, acl);
		}
	}
	if (luns_changed)
		cfg_ua_luns_changed(gw, t);
	return first;
}

static bool portals_match(struct gateway *gw, const struct cfg_doc *doc)
{
	struct portal *p;
	unsigned n = 0;

	TAILQ_FOREACH(p, &gw->portals, link)
		n++;
	if (n != doc->n_portals)
		return false;
	for (unsigned i = 0; i < doc->n_portals; i++)
		if (!cfg_find_portal(gw, doc->portals[i].addr, doc->portals[i].port))
			return false;
	return true;
}

/* Replace the portal list; on a bind failure put the old one back. */
int cfg_update_portals(struct gateway *gw, const struct cfg_doc *doc, char *err, size_t errlen)
{
	TAILQ_HEAD(, portal) old = TAILQ_HEAD_INITIALIZER(old);
	struct portal *p;
	char why[256] = "";
	int r;

	if (!doc->has_portals || portals_match(gw, doc))
		return 0;
	while ((p = TAILQ_FIRST(&gw->portals))) {
		TAILQ_REMOVE(&gw->portals, p, link);
		TAILQ_INSERT_TAIL(&old, p, link);
	}
	for (unsigned i = 0; i < doc->n_portals; i++) {
		if (!(p = calloc(1, sizeof(*p)))) {
			r = -ENOMEM;
			snprintf(why, sizeof(why), "out of memory");
			goto restore;
		}
		str_copy(p->addr, doc->portals[i].addr, sizeof(p->addr));
		p->port = doc->portals[i].port;
		TAILQ_INSERT_TAIL(&gw->portals, p, link);
	}
	r = cfg_notify_portals(gw, why, sizeof(why));
	if (r == 0) {
		while ((p = TAILQ_FIRST(&old))) {
			TAILQ_REMOVE(&old, p, link);
			free(p);
		}
		return 0;
	}
restore:
	while ((p = TAILQ_FIRST(&gw->portals))) {
		TAILQ_REMOVE(&gw->portals, p, link);
		free(p);
	}
	while ((p = TAILQ_FIRST(&old))) {
		TAILQ_REMOVE(&old, p, link);
		TAILQ_INSERT_TAIL(&gw->portals, p, link);
	}
	cfg_notify_portals(gw, NULL, 0);
	return cfg_failf(r, err, errlen, "portals", "cannot listen on the new portals: %s", why);
}

/* Make the model match doc. At startup (stop_on_error) the first failure
 * ends it; a reload carries on and reports the first failure. */
int cfg_apply_doc(struct gateway *gw, const struct cfg_doc *doc, bool stop_on_error,
		  char *err, size_t errlen)
{
	struct target *t, *next;
	char msg[768];
	int first = 0, r;

	gw->discovery_auth = doc->discovery_auth;
	gw->discovery_chap = doc->discovery_chap;
	gw->discovery_mutual_chap = doc->discovery_mutual_chap;

	for (t = TAILQ_FIRST(&gw->targets); t; t = next) {
		next = TAILQ_NEXT(t, link);
		if (!cfg_find_target(doc, t->iqn))
			cfg_target_remove(gw, t);
	}
	for (unsigned i = 0; i < doc->n_targets; i++) {
		const struct cfg_target *ct = &doc->targets[i];

		t = gw_find_target(gw, ct->iqn);
		if (t)
			r = update_target(gw, t, ct, i, msg, sizeof(msg));
		else
			r = build_target(gw, ct, i, stop_on_error, msg, sizeof(msg));
		if (r < 0) {
			note_error(&first, r, err, errlen, msg);
			if (stop_on_error)
				return first;
		}
	}
	if ((r = cfg_update_portals(gw, doc, msg, sizeof(msg))) < 0)
		note_error(&first, r, err, errlen, msg);
	return first;
}
