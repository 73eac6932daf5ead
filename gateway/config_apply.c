/* Applying a whole document to the model: the changes config_diff.c
 * lists, made in its order. At startup they build everything; on a
 * reload, config_replace or import they bring the model to the document,
 * touching only what differs (docs/configuration.md, "Reload: what
 * changes and what stays"). */
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

static int add_target(struct gateway *gw, const struct cfg_change *c, struct target **added,
		      char *err, size_t errlen)
{
	const struct cfg_target *ct = c->ct;
	struct target *t = target_create(gw, ct->iqn);
	char path[JPATH_MAX];

	cfg_path_index(path, "targets", c->ct_index);
	if (!t)
		return cfg_failf(-ENOMEM, err, errlen, path, "cannot create target %s", ct->iqn);
	t->demo_mode = ct->demo_mode;
	t->chap = ct->chap;
	t->mutual_chap = ct->mutual_chap;
	t->params = ct->params;
	*added = t;
	return 0;
}

/* Parameters and CHAP only matter to logins still to come. */
static void change_target(struct gateway *gw, const struct cfg_change *c)
{
	if (c->changed & CFG_CHG_CHAP)
		c->t->chap = c->ct->chap;
	if (c->changed & CFG_CHG_MUTUAL)
		c->t->mutual_chap = c->ct->mutual_chap;
	if (c->changed & CFG_CHG_DEMO)
		cfg_set_demo_mode(gw, c->t, c->ct->demo_mode);
}

/* An LU of an existing target in place (ALUA policy, size) or replaced. */
static int change_lu(struct gateway *gw, struct target *t, const struct cfg_change *c,
		     const char *path, char *err, size_t errlen)
{
	struct lu *lu = c->lu;
	const struct cfg_lu *cl = c->cl;

	if (c->changed & CFG_CHG_REPLACE) {
		/* Any change but size and ALUA policy: a new identity or backing. */
		cfg_lu_remove(lu);
		return cfg_create_lu(t, cl->lun, &cl->spec, path, err, errlen) ? 0 : -EIO;
	}
	/* A new ALUA policy applies in place: an implicit transition. */
	if (c->changed & CFG_CHG_ALUA)
		alua_lu_set_policy(lu, &cl->spec.alua);
	if (c->changed & CFG_CHG_RESIZE) {
		char why[256] = "";
		int r = lu_resize(lu, cl->spec.size, why, sizeof(why));

		if (r < 0)
			return cfg_failf(-EIO, err, errlen, path, "cannot resize LUN %llu: %s",
					 (unsigned long long)lu->lun, why);
		lu->spec.size = cl->spec.size;
		/* A pending resize raises it when it ends. */
		if (r == 0)
			ua_establish_lu(gw, lu, 0, ASC_CAPACITY_DATA_HAS_CHANGED);
	}
	return 0;
}

static void change_acl(struct gateway *gw, struct target *t, const struct cfg_change *c)
{
	struct acl *acl = c->acl;

	if (c->changed & CFG_CHG_CHAP)
		acl->chap = c->ca->chap;
	if (c->changed & CFG_CHG_MUTUAL)
		acl->mutual_chap = c->ca->mutual_chap;
	if (c->changed & CFG_CHG_MAP) {
		acl->map_count = c->ca->map_count;
		memcpy(acl->map, c->ca->map, sizeof(acl->map));
		cfg_ua_acl_view_changed(gw, t, acl);
	}
}

/* Make one change. *added is the target the last CFG_ADD created: the
 * LUs and ACLs that follow it in the list are its own. */
static int apply_change(struct gateway *gw, const struct cfg_doc *doc, const struct cfg_change *c,
			struct target **added, char *err, size_t errlen)
{
	struct target *t = c->t ? c->t : *added;
	char path[JPATH_MAX];

	if (c->object == CFG_LU)
		snprintf(path, sizeof(path), "targets[%u].luns[%u]", c->ct_index, c->cl_index);
	switch (c->object) {
	case CFG_DISCOVERY:
		gw->discovery_auth = doc->discovery_auth;
		gw->discovery_chap = doc->discovery_chap;
		gw->discovery_mutual_chap = doc->discovery_mutual_chap;
		gw->discovery_chap_algorithms = doc->discovery_chap_algorithms;
		return 0;
	case CFG_TARGET:
		if (c->action == CFG_ADD)
			return add_target(gw, c, added, err, errlen);
		if (c->action == CFG_REMOVE)
			cfg_target_remove(gw, c->t);
		else
			change_target(gw, c);
		return 0;
	case CFG_PARAM:
		cfg_param_copy(&t->params, &c->ct->params, c->param);
		return 0;
	case CFG_LU:
		if (!t)
			return 0;   /* its target could not be created */
		if (c->action == CFG_REMOVE) {
			cfg_lu_remove(c->lu);
			return 0;
		}
		if (c->action == CFG_ADD)
			return cfg_create_lu(t, c->cl->lun, &c->cl->spec, path, err, errlen) ? 0 : -EIO;
		return change_lu(gw, t, c, path, err, errlen);
	case CFG_ACL:
		if (!t)
			return 0;
		if (c->action == CFG_REMOVE) {
			cfg_acl_remove(gw, t, c->acl);
		} else if (c->action == CFG_ADD) {
			if (!cfg_acl_insert(t, c->ca))
				return cfg_failf(-ENOMEM, err, errlen, NULL, "out of memory");
		} else {
			change_acl(gw, t, c);
		}
		return 0;
	}
	return 0;
}

static bool portals_match(struct gateway *gw, const struct cfg_doc *doc)
{
	struct portal *p;
	unsigned n = 0;

	TAILQ_FOREACH(p, &gw->portals, link)
		n++;
	if (n != doc->n_portals)
		return false;
	for (unsigned i = 0; i < doc->n_portals; i++) {
		const struct portal *p = cfg_find_portal(gw, doc->portals[i].addr, doc->portals[i].port,
							 doc->portals[i].transport);
		if (!p || !cfg_portal_same(p, &doc->portals[i]))
			return false;
	}
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
		p->transport = doc->portals[i].transport;
		p->wwpn = doc->portals[i].wwpn;
		p->wwnn = doc->portals[i].wwnn;
		str_copy(p->target, doc->portals[i].target, sizeof(p->target));
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

/* Make the model match doc: the changes cfg_diff_compute() lists, in its
 * order. At startup (stop_on_error) the first failure ends it; a reload
 * carries on and reports the first failure. */
int cfg_apply_doc(struct gateway *gw, const struct cfg_doc *doc, bool stop_on_error,
		  char *err, size_t errlen)
{
	struct cfg_diff diff;
	struct target *added = NULL, *ua_target = NULL;
	char msg[768];
	int first = 0, r;

	if (cfg_diff_compute(gw, doc, &diff) < 0)
		return cfg_failf(-ENOMEM, err, errlen, NULL, "out of memory");
	for (size_t i = 0; i < diff.n; i++) {
		const struct cfg_change *c = &diff.changes[i];

		/* SPC-4 7.6: the sessions of a target whose LU inventory changed
		 * learn it once its changes (listed together) are made. */
		if (ua_target && c->t != ua_target) {
			cfg_ua_luns_changed(gw, ua_target);
			ua_target = NULL;
		}
		msg[0] = '\0';
		r = apply_change(gw, doc, c, &added, msg, sizeof(msg));
		if (c->t && c->object == CFG_LU &&
		    (c->action != CFG_CHANGE || (c->changed & CFG_CHG_REPLACE)))
			ua_target = c->t;
		if (r < 0) {
			note_error(&first, r, err, errlen, msg);
			if (stop_on_error)
				goto out;
		}
	}
	if (ua_target)
		cfg_ua_luns_changed(gw, ua_target);
	if ((r = cfg_update_portals(gw, doc, msg, sizeof(msg))) < 0)
		note_error(&first, r, err, errlen, msg);
out:
	cfg_diff_free(&diff);
	return first;
}
