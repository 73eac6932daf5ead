/* What a document changes in the running model: one list of changes, in
 * the order they are made. A reload, config_replace and import apply the
 * list (config_apply.c); an import's dry run shows it (config_export.c).
 * Portals are not in it: they belong to each node (cfg_update_portals()). */
#include "config_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scsi/alua.h"
#include "util.h"

/* ------------------------------------------------------------------------
 * Comparing.
 * ---------------------------------------------------------------------- */

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

static bool chap_equal(const struct chap_cred *a, const struct chap_cred *b)
{
	if (a->set != b->set)
		return false;
	return !a->set || (strcmp(a->user, b->user) == 0 && strcmp(a->secret, b->secret) == 0);
}

/* What differs between an LU and the document's: CFG_CHG_* bits. */
static unsigned lu_changes(const struct lu *lu, const struct cfg_lu *cl)
{
	unsigned changed = 0;

	/* size 0 means "the backing's own size": not a change. */
	if (!spec_equal(&lu->spec, &cl->spec, cl->spec.size == 0))
		changed |= spec_equal(&lu->spec, &cl->spec, true) ? CFG_CHG_RESIZE : CFG_CHG_REPLACE;
	/* A new ALUA policy applies in place: an implicit transition. */
	if (!(changed & CFG_CHG_REPLACE) && !alua_policy_equal(&lu->spec.alua, &cl->spec.alua))
		changed |= CFG_CHG_ALUA;
	return changed;
}

static unsigned acl_changes(const struct acl *acl, const struct acl *ca)
{
	return (chap_equal(&acl->chap, &ca->chap) ? 0 : CFG_CHG_CHAP) |
	       (chap_equal(&acl->mutual_chap, &ca->mutual_chap) ? 0 : CFG_CHG_MUTUAL) |
	       (acl_map_equal(acl, ca) ? 0 : CFG_CHG_MAP);
}

/* ------------------------------------------------------------------------
 * Computing the list.
 * ---------------------------------------------------------------------- */

static struct cfg_change *push(struct cfg_diff *diff, enum cfg_action action,
			       enum cfg_object object)
{
	struct cfg_change *c;

	if (diff->n == diff->cap) {
		size_t cap = diff->cap ? diff->cap * 2 : 64;
		struct cfg_change *bigger = realloc(diff->changes, cap * sizeof(*bigger));

		if (!bigger)
			return NULL;
		diff->changes = bigger;
		diff->cap = cap;
	}
	c = &diff->changes[diff->n++];
	memset(c, 0, sizeof(*c));
	c->action = action;
	c->object = object;
	return c;
}

/* A target of the document that the model lacks: it, its LUs, its ACLs. */
static int diff_new_target(struct cfg_diff *diff, const struct cfg_target *ct, unsigned index)
{
	struct cfg_change *c = push(diff, CFG_ADD, CFG_TARGET);

	if (!c)
		return -ENOMEM;
	c->ct = ct;
	c->ct_index = index;
	for (unsigned i = 0; i < ct->n_lus; i++) {
		if (!(c = push(diff, CFG_ADD, CFG_LU)))
			return -ENOMEM;
		c->ct = ct;
		c->ct_index = index;
		c->cl = &ct->lus[i];
		c->cl_index = i;
	}
	for (unsigned i = 0; i < ct->n_acls; i++) {
		if (!(c = push(diff, CFG_ADD, CFG_ACL)))
			return -ENOMEM;
		c->ct = ct;
		c->ct_index = index;
		c->ca = &ct->acls[i];
	}
	return 0;
}

/* A target both have: its settings, parameters, ACLs that go, LUs, then
 * ACLs that come or change (an ACL goes before the LUs its map names). */
static int diff_target(struct cfg_diff *diff, struct target *t, const struct cfg_target *ct,
		       unsigned index)
{
	struct cfg_change *c;
	struct lu *lu;
	struct acl *acl;
	unsigned changed;

#define NEW(action, object) \
	do { \
		if (!(c = push(diff, action, object))) \
			return -ENOMEM; \
		c->t = t; \
		c->ct = ct; \
		c->ct_index = index; \
	} while (0)

	changed = (t->demo_mode != ct->demo_mode ? CFG_CHG_DEMO : 0) |
		  (chap_equal(&t->chap, &ct->chap) ? 0 : CFG_CHG_CHAP) |
		  (chap_equal(&t->mutual_chap, &ct->mutual_chap) ? 0 : CFG_CHG_MUTUAL);
	if (changed) {
		NEW(CFG_CHANGE, CFG_TARGET);
		c->changed = changed;
	}
	for (size_t i = 0; cfg_param_at(i); i++) {
		if (cfg_param_equal(&t->params, &ct->params, cfg_param_at(i)))
			continue;
		NEW(CFG_CHANGE, CFG_PARAM);
		c->param = cfg_param_at(i);
	}
	TAILQ_FOREACH(acl, &t->acls, link) {
		if (cfg_find_acl(ct, acl->initiator))
			continue;
		NEW(CFG_REMOVE, CFG_ACL);
		c->acl = acl;
	}
	TAILQ_FOREACH(lu, &t->lus, link) {
		const struct cfg_lu *cl = cfg_find_lu(ct, lu->lun);

		if (!cl) {
			NEW(CFG_REMOVE, CFG_LU);
			c->lu = lu;
			continue;
		}
		if (!(changed = lu_changes(lu, cl)))
			continue;
		NEW(CFG_CHANGE, CFG_LU);
		c->lu = lu;
		c->cl = cl;
		c->cl_index = (unsigned)(cl - ct->lus);
		c->changed = changed;
	}
	for (unsigned i = 0; i < ct->n_lus; i++) {
		if (target_find_lu(t, ct->lus[i].lun))
			continue;
		NEW(CFG_ADD, CFG_LU);
		c->cl = &ct->lus[i];
		c->cl_index = i;
	}
	for (unsigned i = 0; i < ct->n_acls; i++) {
		const struct acl *ca = &ct->acls[i];

		acl = target_find_acl(t, ca->initiator);
		if (acl && !(changed = acl_changes(acl, ca)))
			continue;
		NEW(acl ? CFG_CHANGE : CFG_ADD, CFG_ACL);
		c->acl = acl;
		c->ca = ca;
		c->changed = acl ? changed : 0;
	}
#undef NEW
	return 0;
}

/* A CHAP algorithm set; 0 stands for all of them. */
static uint32_t algorithms_or_all(uint32_t set)
{
	return set ? set : CHAP_ALGS_ALL;
}

int cfg_diff_compute(struct gateway *gw, const struct cfg_doc *doc, struct cfg_diff *diff)
{
	struct cfg_change *c;
	struct target *t;
	unsigned changed;
	int r;

	memset(diff, 0, sizeof(*diff));
	changed = (algorithms_or_all(gw->discovery_chap_algorithms) !=
		   algorithms_or_all(doc->discovery_chap_algorithms) ? CFG_CHG_ALGS : 0) |
		  (gw->discovery_auth != doc->discovery_auth ? CFG_CHG_AUTH : 0) |
		  (chap_equal(&gw->discovery_chap, &doc->discovery_chap) ? 0 : CFG_CHG_CHAP) |
		  (chap_equal(&gw->discovery_mutual_chap, &doc->discovery_mutual_chap) ? 0
											 : CFG_CHG_MUTUAL);
	if (changed) {
		if (!(c = push(diff, CFG_CHANGE, CFG_DISCOVERY)))
			goto nomem;
		c->changed = changed;
	}
	TAILQ_FOREACH(t, &gw->targets, link) {
		if (cfg_find_target(doc, t->iqn))
			continue;
		if (!(c = push(diff, CFG_REMOVE, CFG_TARGET)))
			goto nomem;
		c->t = t;
	}
	for (unsigned i = 0; i < doc->n_targets; i++) {
		const struct cfg_target *ct = &doc->targets[i];

		t = gw_find_target(gw, ct->iqn);
		r = t ? diff_target(diff, t, ct, i) : diff_new_target(diff, ct, i);
		if (r < 0)
			goto nomem;
	}
	return 0;
nomem:
	cfg_diff_free(diff);
	return -ENOMEM;
}

void cfg_diff_free(struct cfg_diff *diff)
{
	free(diff->changes);
	memset(diff, 0, sizeof(*diff));
}

/* ------------------------------------------------------------------------
 * Describing a change: a path and a summary, never a secret.
 * ---------------------------------------------------------------------- */

/* A growing string; on allocation failure it keeps what it has. */
struct text {
	char *s;
	size_t len, cap;
};

__attribute__((format(printf, 2, 3)))
static void text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (t->len + (size_t)n + 1 > t->cap) {
		size_t cap = (t->len + (size_t)n + 1) * 2;
		char *bigger = realloc(t->s, cap);

		if (!bigger)
			return;
		t->s = bigger;
		t->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

/* Parts of a summary are separated by ", ". */
__attribute__((format(printf, 2, 3)))
static void text_part(struct text *t, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	text_add(t, "%s%s", t->len ? ", " : "", buf);
}

static void describe_cred(struct text *t, const char *name, const struct chap_cred *c)
{
	if (c->set)
		text_part(t, "%s user %s", name, c->user);
}

/* How a credential changes; the secrets themselves stay out. */
static void describe_cred_change(struct text *t, const char *name, const struct chap_cred *from,
				 const struct chap_cred *to)
{
	if (!from->set)
		text_part(t, "%s user %s added", name, to->user);
	else if (!to->set)
		text_part(t, "%s user %s removed", name, from->user);
	else if (strcmp(from->user, to->user) != 0)
		text_part(t, "%s user %s -> %s%s", name, from->user, to->user,
			  strcmp(from->secret, to->secret) ? " (new secret)" : "");
	else
		text_part(t, "%s secret of user %s changed", name, to->user);
}

static void describe_alua(struct text *t, const struct lu_alua_policy *p)
{
	if (p->kind == ALUA_POLICY_PREFERRED)
		text_add(t, "preferred node %u, others %s", p->preferred_node,
			 alua_state_name(p->others));
	else
		text_add(t, "active-optimized");
}

static void describe_spec(struct text *t, const struct lu_spec *spec)
{
	char buf[PATH_MAX + 768];

	config_lu_spec_format(spec, buf, sizeof(buf));
	text_add(t, "%s", buf);
	if (spec->alua.kind != ALUA_POLICY_ALL_OPTIMIZED) {
		text_add(t, ", alua ");
		describe_alua(t, &spec->alua);
	}
}

static void describe_map(struct text *t, const struct acl *acl)
{
	if (!acl->map_count) {
		text_add(t, "every LUN");
		return;
	}
	text_add(t, "lun_map ");
	for (unsigned i = 0; i < acl->map_count; i++)
		text_add(t, "%s%llu:%llu", i ? "," : "", (unsigned long long)acl->map[i].mapped_lun,
			 (unsigned long long)acl->map[i].target_lun);
}

static void describe_acl(struct text *t, const struct acl *acl)
{
	if (!acl->chap.set)
		text_part(t, "no chap");
	describe_cred(t, "chap", &acl->chap);
	describe_cred(t, "mutual chap", &acl->mutual_chap);
	text_add(t, ", ");
	describe_map(t, acl);
}

static void describe_new_target(struct text *t, const struct cfg_target *ct)
{
	struct target_params defaults;
	bool any = false;

	text_part(t, "demo mode %s", ct->demo_mode ? "on" : "off");
	describe_cred(t, "chap", &ct->chap);
	describe_cred(t, "mutual chap", &ct->mutual_chap);
	target_params_defaults(&defaults);
	for (size_t i = 0; cfg_param_at(i); i++) {
		const struct param_desc *d = cfg_param_at(i);
		char value[32];

		if (cfg_param_equal(&defaults, &ct->params, d))
			continue;
		cfg_param_format(&ct->params, d, value, sizeof(value));
		text_add(t, "%s%s=%s", any ? " " : ", params ", cfg_param_key(d), value);
		any = true;
	}
}

static unsigned count_lus(const struct target *t)
{
	const struct lu *lu;
	unsigned n = 0;

	TAILQ_FOREACH(lu, &t->lus, link)
		n++;
	return n;
}

static unsigned count_acls(const struct target *t)
{
	const struct acl *acl;
	unsigned n = 0;

	TAILQ_FOREACH(acl, &t->acls, link)
		n++;
	return n;
}

static void describe(struct text *path, struct text *what, const struct cfg_change *c,
		     const struct gateway *gw, const struct cfg_doc *doc)
{
	const char *iqn = c->t ? c->t->iqn : c->ct ? c->ct->iqn : "";
	const struct acl *acl = c->acl ? c->acl : c->ca;
	char a[32], b[32];

	if (c->object == CFG_DISCOVERY) {
		text_add(path, "/discovery");
		if (c->changed & CFG_CHG_AUTH)
			text_part(what, "CHAP %s -> %s", gw->discovery_auth ? "required" : "not required",
				  doc->discovery_auth ? "required" : "not required");
		if (c->changed & CFG_CHG_CHAP)
			describe_cred_change(what, "chap", &gw->discovery_chap, &doc->discovery_chap);
		if (c->changed & CFG_CHG_MUTUAL)
			describe_cred_change(what, "mutual chap", &gw->discovery_mutual_chap,
					     &doc->discovery_mutual_chap);
		if (c->changed & CFG_CHG_ALGS) {
			char from[64], to[64];

			cfg_format_chap_algorithms(algorithms_or_all(gw->discovery_chap_algorithms),
						   from, sizeof(from));
			cfg_format_chap_algorithms(algorithms_or_all(doc->discovery_chap_algorithms),
						   to, sizeof(to));
			text_part(what, "chap_algorithms %s -> %s", from, to);
		}
		return;
	}
	text_add(path, "/targets/%s", iqn);
	switch (c->object) {
	case CFG_TARGET:
		if (c->action == CFG_ADD) {
			describe_new_target(what, c->ct);
		} else if (c->action == CFG_REMOVE) {
			unsigned lus = count_lus(c->t), acls = count_acls(c->t);

			text_part(what, "with %u LU%s and %u ACL%s", lus, lus == 1 ? "" : "s", acls,
				  acls == 1 ? "" : "s");
		} else {
			if (c->changed & CFG_CHG_DEMO)
				text_part(what, "demo mode %s -> %s", c->t->demo_mode ? "on" : "off",
					  c->ct->demo_mode ? "on" : "off");
			if (c->changed & CFG_CHG_CHAP)
				describe_cred_change(what, "chap", &c->t->chap, &c->ct->chap);
			if (c->changed & CFG_CHG_MUTUAL)
				describe_cred_change(what, "mutual chap", &c->t->mutual_chap,
						     &c->ct->mutual_chap);
		}
		break;
	case CFG_PARAM:
		text_add(path, "/params/%s", cfg_param_key(c->param));
		cfg_param_format(&c->t->params, c->param, a, sizeof(a));
		cfg_param_format(&c->ct->params, c->param, b, sizeof(b));
		text_add(what, "%s -> %s", a, b);
		break;
	case CFG_LU:
		text_add(path, "/luns/%llu",
			 (unsigned long long)(c->lu ? c->lu->lun : c->cl->lun));
		if (c->action != CFG_CHANGE) {
			describe_spec(what, c->lu ? &c->lu->spec : &c->cl->spec);
			break;
		}
		if (c->changed & CFG_CHG_REPLACE) {
			describe_spec(what, &c->lu->spec);
			text_add(what, " -> ");
			describe_spec(what, &c->cl->spec);
			text_add(what, " (replaced: initiators see a new disk)");
		}
		if (c->changed & CFG_CHG_RESIZE) {
			json_object *from = cfg_size_to_json(c->lu->spec.size ? c->lu->spec.size
									 : c->lu->size_bytes);
			json_object *to = cfg_size_to_json(c->cl->spec.size);

			text_part(what, "size %s -> %s", json_object_get_string(from),
				  json_object_get_string(to));
			json_object_put(from);
			json_object_put(to);
		}
		if (c->changed & CFG_CHG_ALUA) {
			text_part(what, "alua ");
			describe_alua(what, &c->lu->spec.alua);
			text_add(what, " -> ");
			describe_alua(what, &c->cl->spec.alua);
		}
		break;
	case CFG_ACL:
		text_add(path, "/acls/%s", acl->initiator);
		if (c->action != CFG_CHANGE) {
			describe_acl(what, acl);
			break;
		}
		if (c->changed & CFG_CHG_CHAP)
			describe_cred_change(what, "chap", &c->acl->chap, &c->ca->chap);
		if (c->changed & CFG_CHG_MUTUAL)
			describe_cred_change(what, "mutual chap", &c->acl->mutual_chap,
					     &c->ca->mutual_chap);
		if (c->changed & CFG_CHG_MAP) {
			text_add(what, "%s", what->len ? ", " : "");
			describe_map(what, c->acl);
			text_add(what, " -> ");
			describe_map(what, c->ca);
		}
		break;
	default:
		break;
	}
}

json_object *cfg_change_json(const struct cfg_change *c, const struct gateway *gw,
			     const struct cfg_doc *doc)
{
	static const char *const actions[] = { [CFG_ADD] = "add", [CFG_CHANGE] = "change",
					       [CFG_REMOVE] = "remove" };
	struct text path = { 0 }, what = { 0 };
	json_object *o = json_object_new_object();

	describe(&path, &what, c, gw, doc);
	json_object_object_add(o, "action", json_object_new_string(actions[c->action]));
	json_object_object_add(o, "path", json_object_new_string(path.s ? path.s : ""));
	json_object_object_add(o, "what", json_object_new_string(what.s ? what.s : ""));
	free(path.s);
	free(what.s);
	return o;
}
