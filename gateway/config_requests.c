/* Management requests that change the configuration
 * (docs/management-api.md). Each handler validates everything first; in
 * REQ_CHECK mode (origin, before submitting) it stops there, possibly
 * completing the request; in REQ_APPLY mode (every node, in delivery
 * order) it then edits the model. */
#include "config_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "log.h"
#include "scsi/sense.h"
#include "scsi/ua.h"
#include "util.h"

enum req_mode { REQ_CHECK, REQ_APPLY };

typedef int (*req_fn)(struct gateway *gw, json_object *req, enum req_mode mode,
		      char *err, size_t errlen);

static int req_string(json_object *req, const char *key, bool required, char *out, size_t size,
		      char *err, size_t errlen)
{
	json_object *v = cfg_member(req, key);

	if (!v) {
		out[0] = '\0';
		return required ? cfg_failf(-EINVAL, err, errlen, key, "missing") : 0;
	}
	return cfg_get_string(v, key, out, size, err, errlen);
}

static int req_target(struct gateway *gw, json_object *req, struct target **t, char *err, size_t errlen)
{
	char iqn[ISCSI_NAME_MAX];
	int r;

	if ((r = req_string(req, "target", true, iqn, sizeof(iqn), err, errlen)) < 0)
		return r;
	*t = gw_find_target(gw, iqn);
	if (!*t)
		return cfg_failf(-ENOENT, err, errlen, "target", "no target \"%s\"", iqn);
	return 0;
}

static int req_lun(json_object *req, bool required, bool *has, uint64_t *lun, char *err, size_t errlen)
{
	json_object *v = cfg_member(req, "lun");

	*has = v != NULL;
	if (!v)
		return required ? cfg_failf(-EINVAL, err, errlen, "lun", "missing") : 0;
	return cfg_get_uint(v, "lun", 0, MAX_LUNS_PER_TARGET - 1, lun, err, errlen);
}

static int req_existing_lu(struct gateway *gw, json_object *req, struct target **t, struct lu **lu,
			   char *err, size_t errlen)
{
	uint64_t lun;
	bool has;
	int r;

	if ((r = req_target(gw, req, t, err, errlen)) < 0 ||
	    (r = req_lun(req, true, &has, &lun, err, errlen)) < 0)
		return r;
	*lu = target_find_lu(*t, lun);
	if (!*lu)
		return cfg_failf(-ENOENT, err, errlen, "lun", "target %s has no LUN %llu", (*t)->iqn,
				 (unsigned long long)lun);
	return 0;
}

static int req_target_add(struct gateway *gw, json_object *req, enum req_mode mode,
			  char *err, size_t errlen)
{
	struct cfg_target ct;
	struct target *t;
	json_object *f;
	int r;

	memset(&ct, 0, sizeof(ct));
	if ((r = req_string(req, "target", true, ct.iqn, sizeof(ct.iqn), err, errlen)) < 0 ||
	    (r = cfg_check_name(ct.iqn, "target", err, errlen)) < 0)
		return r;
	if (gw_find_target(gw, ct.iqn))
		return cfg_failf(-EEXIST, err, errlen, "target", "target \"%s\" already exists", ct.iqn);
	if ((f = cfg_member(req, "demo_mode")) && (r = cfg_get_bool_ex(f, "demo_mode", true, &ct.demo_mode, err, errlen)) < 0)
		return r;
	if ((f = cfg_member(req, "chap")) && (r = cfg_parse_chap(f, "chap", &ct.chap, err, errlen)) < 0)
		return r;
	if ((f = cfg_member(req, "mutual_chap")) && (r = cfg_parse_chap(f, "mutual_chap", &ct.mutual_chap, err, errlen)) < 0)
		return r;
	if ((r = cfg_check_chap_pair(&ct.chap, &ct.mutual_chap, "mutual_chap", err, errlen)) < 0)
		return r;
	target_params_defaults(&ct.params);
	if ((f = cfg_member(req, "params")) && (r = cfg_parse_params(f, "params", &ct.params, err, errlen)) < 0)
		return r;
	if (mode == REQ_CHECK)
		return 0;
	t = target_create(gw, ct.iqn);
	if (!t)
		return cfg_failf(-ENOMEM, err, errlen, "target", "cannot create target %s", ct.iqn);
	t->demo_mode = ct.demo_mode;
	t->chap = ct.chap;
	t->mutual_chap = ct.mutual_chap;
	t->params = ct.params;
	log_info("config: added target %s", t->iqn);
	return 0;
}

static int req_target_del(struct gateway *gw, json_object *req, enum req_mode mode,
			  char *err, size_t errlen)
{
	struct target *t;
	int r;

	if ((r = req_target(gw, req, &t, err, errlen)) < 0 || mode == REQ_CHECK)
		return r;
	cfg_target_remove(gw, t);
	return 0;
}

static int req_lun_add(struct gateway *gw, json_object *req, enum req_mode mode,
		       char *err, size_t errlen)
{
	struct target *t;
	struct lu_spec spec;
	struct lu *user;
	json_object *spec_text = cfg_member(req, "spec"), *f;
	uint64_t lun = 0, ignored;
	bool has_lun, ignored_has;
	int r;

	if ((r = req_target(gw, req, &t, err, errlen)) < 0 ||
	    (r = req_lun(req, false, &has_lun, &lun, err, errlen)) < 0)
		return r;
	if (spec_text) {
		char text[PATH_MAX + 768], why[256] = "";

		for (const char *const *k = cfg_lu_keys + 1; *k; k++)
			if (strcmp(*k, "alua") != 0 && cfg_member(req, *k))
				return cfg_failf(-EINVAL, err, errlen, *k,
						 "give either \"spec\" or separate LU fields, not both");
		if ((r = cfg_get_string(spec_text, "spec", text, sizeof(text), err, errlen)) < 0)
			return r;
		memset(&spec, 0, sizeof(spec));
		if (lu_spec_parse(text, &spec, why, sizeof(why)) < 0)
			return cfg_failf(-EINVAL, err, errlen, "spec", "%s", why[0] ? why : "invalid LU spec");
		if ((r = cfg_validate_lu_spec(&spec, "spec", err, errlen)) < 0)
			return r;
		if ((f = cfg_member(req, "alua")) && (r = cfg_parse_alua_policy(f, "alua", &spec.alua, err, errlen)) < 0)
			return r;
	} else if ((r = cfg_parse_lu_fields(req, "", false, &spec, &ignored_has, &ignored, err, errlen)) < 0) {
		return r;
	}
	if (has_lun && target_find_lu(t, lun))
		return cfg_failf(-EEXIST, err, errlen, "lun", "target %s already has LUN %llu", t->iqn,
				 (unsigned long long)lun);
	if (!has_lun && cfg_lowest_free_lun(t, &lun) < 0)
		return cfg_failf(-ENOSPC, err, errlen, "lun", "target %s has no free LUN", t->iqn);
	if (spec.path[0] && (user = cfg_find_backing_user(gw, spec.backstore, spec.path)))
		return cfg_failf(-EEXIST, err, errlen, spec_text ? "spec" : "path",
				 "\"%s\" is already exported as LUN %llu of %s", spec.path,
				 (unsigned long long)user->lun, user->target->iqn);
	if (mode == REQ_CHECK) {
		struct stat st;

		/* Catch the usual mistakes here, where the admin gets the message. */
		if (strcmp(spec.backstore, "file") == 0) {
			if (stat(spec.path, &st) == 0) {
				if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
					return cfg_failf(-EINVAL, err, errlen, spec_text ? "spec" : "path",
							 "%s is not a regular file or block device", spec.path);
			} else if (spec.size == 0) {
				return cfg_failf(-ENOENT, err, errlen, spec_text ? "spec" : "path",
						 "%s: %s (give a size to create it)", spec.path, strerror(errno));
			}
		}
		if (!has_lun)
			json_object_object_add(req, "lun", json_object_new_int64((int64_t)lun));
		return 0;
	}
	if (!cfg_create_lu(t, lun, &spec, "", err, errlen))
		return -EIO;
	log_info("config: added LUN %llu to %s", (unsigned long long)lun, t->iqn);
	cfg_ua_luns_changed(gw, t);
	return 0;
}

static int req_lun_del(struct gateway *gw, json_object *req, enum req_mode mode,
		       char *err, size_t errlen)
{
	struct target *t;
	struct lu *lu;
	struct acl *acl;
	int r;

	if ((r = req_existing_lu(gw, req, &t, &lu, err, errlen)) < 0)
		return r;
	/* An ACL whose map loses its last entry would see every LU (an empty
	 * map means "all"), so mapped LUs cannot go first. */
	TAILQ_FOREACH(acl, &t->acls, link)
		for (unsigned i = 0; i < acl->map_count; i++)
			if (acl->map[i].target_lun == lu->lun)
				return cfg_failf(-EBUSY, err, errlen, "lun",
						 "LUN %llu is mapped for %s; delete that ACL first",
						 (unsigned long long)lu->lun, acl->initiator);
	if (mode == REQ_CHECK)
		return 0;
	cfg_lu_remove(lu);
	cfg_ua_luns_changed(gw, t);
	return 0;
}

static int req_lun_resize(struct gateway *gw, json_object *req, enum req_mode mode,
			  char *err, size_t errlen)
{
	struct target *t;
	struct lu *lu;
	json_object *f;
	uint64_t size;
	bool shrink = false;
	char why[256] = "";
	int r;

	if ((r = req_existing_lu(gw, req, &t, &lu, err, errlen)) < 0)
		return r;
	if (!(f = cfg_member(req, "size")))
		return cfg_failf(-EINVAL, err, errlen, "size", "missing");
	if ((r = cfg_get_size(f, "size", &size, err, errlen)) < 0)
		return r;
	if ((f = cfg_member(req, "shrink")) && (r = cfg_get_bool_ex(f, "shrink", true, &shrink, err, errlen)) < 0)
		return r;
	if (size == 0 || size % lu->block_size)
		return cfg_failf(-EINVAL, err, errlen, "size", "%llu is not a positive multiple of the block size %u",
				 (unsigned long long)size, lu->block_size);
	if (size < lu->size_bytes && !shrink)
		return cfg_failf(-EINVAL, err, errlen, "size",
				 "%llu is smaller than the current %llu bytes; shrinking loses data, "
				 "ask for it explicitly (\"shrink\": true, gwcli --shrink)",
				 (unsigned long long)size, (unsigned long long)lu->size_bytes);
	if (mode == REQ_CHECK)
		return 0;
	if ((r = lu_resize(lu, size, why, sizeof(why))) < 0)
		return cfg_failf(-EIO, err, errlen, "size", "cannot resize: %s", why);
	lu->spec.size = size;
	if (r == 1) {
		/* The backstore resizes off-loop and raises the UA itself. */
		log_info("config: resizing LUN %llu of %s to %llu bytes", (unsigned long long)lu->lun,
			 t->iqn, (unsigned long long)size);
		return 0;
	}
	log_info("config: resized LUN %llu of %s to %llu bytes", (unsigned long long)lu->lun, t->iqn,
		 (unsigned long long)size);
	/* SBC-3 4.6: a changed capacity is reported as a unit attention. */
	ua_establish_lu(gw, lu, 0, ASC_CAPACITY_DATA_HAS_CHANGED);
	return 0;
}

static int req_acl_add(struct gateway *gw, json_object *req, enum req_mode mode,
		       char *err, size_t errlen)
{
	static const char *const extra[] = { "request", "id", "target", NULL };
	struct target *t;
	struct acl acl;
	int r;

	if ((r = req_target(gw, req, &t, err, errlen)) < 0 ||
	    (r = cfg_parse_acl(req, "", extra, &acl, err, errlen)) < 0)
		return r;
	if (target_find_acl(t, acl.initiator))
		return cfg_failf(-EEXIST, err, errlen, "initiator", "%s already has an ACL for %s", t->iqn,
				 acl.initiator);
	for (unsigned i = 0; i < acl.map_count; i++)
		if (!target_find_lu(t, acl.map[i].target_lun))
			return cfg_failf(-ENOENT, err, errlen, "lun_map", "target %s has no LUN %llu", t->iqn,
					 (unsigned long long)acl.map[i].target_lun);
	if (mode == REQ_CHECK)
		return 0;
	if (!cfg_acl_insert(t, &acl))
		return cfg_failf(-ENOMEM, err, errlen, NULL, "out of memory");
	log_info("config: added ACL %s to %s", acl.initiator, t->iqn);
	return 0;
}

static int req_acl_del(struct gateway *gw, json_object *req, enum req_mode mode,
		       char *err, size_t errlen)
{
	char initiator[ISCSI_NAME_MAX];
	struct target *t;
	struct acl *acl;
	int r;

	if ((r = req_target(gw, req, &t, err, errlen)) < 0 ||
	    (r = req_string(req, "initiator", true, initiator, sizeof(initiator), err, errlen)) < 0)
		return r;
	acl = target_find_acl(t, initiator);
	if (!acl)
		return cfg_failf(-ENOENT, err, errlen, "initiator", "%s has no ACL for %s", t->iqn, initiator);
	if (mode == REQ_CHECK)
		return 0;
	cfg_acl_remove(gw, t, acl);
	return 0;
}

/* Where a CHAP request points: discovery, a target, or one of its ACLs. */
static int req_chap_scope(struct gateway *gw, json_object *req, struct chap_cred **one_way,
			  struct chap_cred **mutual, bool *discovery, char *err, size_t errlen)
{
	char initiator[ISCSI_NAME_MAX];
	struct target *t;
	struct acl *acl;
	json_object *f;
	int r;

	*discovery = false;
	if ((f = cfg_member(req, "discovery")) && (r = cfg_get_bool_ex(f, "discovery", true, discovery, err, errlen)) < 0)
		return r;
	if (*discovery) {
		if (cfg_member(req, "target") || cfg_member(req, "initiator"))
			return cfg_failf(-EINVAL, err, errlen, cfg_member(req, "target") ? "target" : "initiator",
					 "not used with \"discovery\": true");
		*one_way = &gw->discovery_chap;
		*mutual = &gw->discovery_mutual_chap;
		return 0;
	}
	if ((r = req_target(gw, req, &t, err, errlen)) < 0 ||
	    (r = req_string(req, "initiator", false, initiator, sizeof(initiator), err, errlen)) < 0)
		return r;
	if (!initiator[0]) {
		*one_way = &t->chap;
		*mutual = &t->mutual_chap;
		return 0;
	}
	acl = target_find_acl(t, initiator);
	if (!acl)
		return cfg_failf(-ENOENT, err, errlen, "initiator", "%s has no ACL for %s", t->iqn, initiator);
	*one_way = &acl->chap;
	*mutual = &acl->mutual_chap;
	return 0;
}

static int req_chap_set(struct gateway *gw, json_object *req, enum req_mode mode,
			char *err, size_t errlen)
{
	struct chap_cred *one_way, *mutual, new_one, new_mutual;
	char user[CHAP_NAME_MAX + 1], secret[CHAP_SECRET_MAX + 1];
	bool discovery, required = true;
	json_object *f;
	int r;

	memset(&new_mutual, 0, sizeof(new_mutual));
	if ((r = req_chap_scope(gw, req, &one_way, &mutual, &discovery, err, errlen)) < 0)
		return r;
	if ((r = req_string(req, "user", true, user, sizeof(user), err, errlen)) < 0 ||
	    (r = req_string(req, "secret", true, secret, sizeof(secret), err, errlen)) < 0 ||
	    (r = cfg_chap_fill(&new_one, user, secret, "user", "secret", err, errlen)) < 0)
		return r;
	if (cfg_member(req, "mutual_user") || cfg_member(req, "mutual_secret")) {
		if ((r = req_string(req, "mutual_user", true, user, sizeof(user), err, errlen)) < 0 ||
		    (r = req_string(req, "mutual_secret", true, secret, sizeof(secret), err, errlen)) < 0 ||
		    (r = cfg_chap_fill(&new_mutual, user, secret, "mutual_user", "mutual_secret", err, errlen)) < 0 ||
		    (r = cfg_check_chap_pair(&new_one, &new_mutual, "mutual_secret", err, errlen)) < 0)
			return r;
	}
	if ((f = cfg_member(req, "required"))) {
		if (!discovery)
			return cfg_failf(-EINVAL, err, errlen, "required", "only used with \"discovery\": true");
		if ((r = cfg_get_bool_ex(f, "required", true, &required, err, errlen)) < 0)
			return r;
	}
	if (mode == REQ_CHECK)
		return 0;
	*one_way = new_one;
	*mutual = new_mutual;
	if (discovery)
		gw->discovery_auth = required;
	return 0;
}

static int req_chap_clear(struct gateway *gw, json_object *req, enum req_mode mode,
			  char *err, size_t errlen)
{
	struct chap_cred *one_way, *mutual;
	bool discovery, mutual_only = false;
	json_object *f;
	int r;

	if ((r = req_chap_scope(gw, req, &one_way, &mutual, &discovery, err, errlen)) < 0)
		return r;
	if ((f = cfg_member(req, "mutual_only")) &&
	    (r = cfg_get_bool_ex(f, "mutual_only", true, &mutual_only, err, errlen)) < 0)
		return r;
	if (mode == REQ_CHECK)
		return 0;
	memset(mutual, 0, sizeof(*mutual));
	if (!mutual_only) {
		memset(one_way, 0, sizeof(*one_way));
		if (discovery)
			gw->discovery_auth = false;
	}
	return 0;
}

/* A portal_add/portal_del request: {"portal": "ADDR:PORT", "transport":
 * "tcp"|"iser"} or {"portal": "IFNAME", "transport": "fcoe", "wwpn",
 * "wwnn", "target"} (docs/fcoe.md). */
static int req_portal(json_object *req, struct cfg_portal *out, char *err, size_t errlen)
{
	char text[128], why[256], name[16];
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = req_string(req, "portal", true, text, sizeof(text), err, errlen)) < 0)
		return r;
	if ((r = req_string(req, "transport", false, name, sizeof(name), err, errlen)) < 0)
		return r;
	out->transport = PORTAL_TCP;
	if (name[0] && !portal_transport_parse(name, &out->transport))
		return cfg_failf(-EINVAL, err, errlen, "transport",
				 "unknown transport \"%s\" (\"tcp\", \"iser\" or \"fcoe\")", name);
	if (out->transport == PORTAL_FCOE)
		return cfg_parse_fcoe_portal(req, "", text, out, err, errlen);
	if (json_object_object_get_ex(req, "wwpn", NULL) || json_object_object_get_ex(req, "wwnn", NULL) ||
	    json_object_object_get_ex(req, "target", NULL))
		return cfg_failf(-EINVAL, err, errlen, "transport",
				 "wwpn, wwnn and target are for FCoE portals (\"transport\": \"fcoe\")");
	if (config_portal_parse(text, out->addr, sizeof(out->addr), &out->port, why, sizeof(why)) < 0)
		return cfg_failf(-EINVAL, err, errlen, "portal", "%s", why);
	return 0;
}

static int req_portal_add(struct gateway *gw, json_object *req, enum req_mode mode,
			  char *err, size_t errlen)
{
	char why[256] = "";
	struct cfg_portal c;
	struct portal *p;
	int r;

	if ((r = req_portal(req, &c, err, errlen)) < 0)
		return r;
	if (cfg_find_portal(gw, c.addr, c.port, c.transport))
		return cfg_failf(-EEXIST, err, errlen, "portal", "already listening there (%s)",
				 portal_transport_name(c.transport));
	if (mode == REQ_CHECK)
		return 0;
	if (!(p = calloc(1, sizeof(*p))))
		return cfg_failf(-ENOMEM, err, errlen, NULL, "out of memory");
	str_copy(p->addr, c.addr, sizeof(p->addr));
	p->port = c.port;
	p->transport = c.transport;
	p->wwpn = c.wwpn;
	p->wwnn = c.wwnn;
	str_copy(p->target, c.target, sizeof(p->target));
	TAILQ_INSERT_TAIL(&gw->portals, p, link);
	if ((r = cfg_notify_portals(gw, why, sizeof(why))) != 0) {
		TAILQ_REMOVE(&gw->portals, p, link);
		free(p);
		cfg_notify_portals(gw, NULL, 0);
		return cfg_failf(r, err, errlen, "portal", "cannot listen: %s", why);
	}
	return 0;
}

static int req_portal_del(struct gateway *gw, json_object *req, enum req_mode mode,
			  char *err, size_t errlen)
{
	char why[256] = "";
	struct cfg_portal c;
	struct portal *p;
	int r;

	if ((r = req_portal(req, &c, err, errlen)) < 0)
		return r;
	if (!(p = cfg_find_portal(gw, c.addr, c.port, c.transport)))
		return cfg_failf(-ENOENT, err, errlen, "portal", "no such %s%sportal",
				 c.transport == PORTAL_TCP ? "" : portal_transport_name(c.transport),
				 c.transport == PORTAL_TCP ? "" : " ");
	if (mode == REQ_CHECK)
		return 0;
	TAILQ_REMOVE(&gw->portals, p, link);
	if ((r = cfg_notify_portals(gw, why, sizeof(why))) != 0) {
		TAILQ_INSERT_TAIL(&gw->portals, p, link);
		cfg_notify_portals(gw, NULL, 0);
		return cfg_failf(r, err, errlen, "portal", "cannot stop listening: %s", why);
	}
	free(p);
	return 0;
}

static int req_param_set(struct gateway *gw, json_object *req, enum req_mode mode,
			 char *err, size_t errlen)
{
	const struct param_desc *d;
	struct target_params params;
	struct target *t;
	char key[64];
	json_object *value, *f;
	bool discovery = false;
	int r;

	if ((f = cfg_member(req, "discovery")) &&
	    (r = cfg_get_bool_ex(f, "discovery", true, &discovery, err, errlen)) < 0)
		return r;
	if (discovery) {
		uint32_t set;

		/* Discovery sessions have one parameter of their own. */
		if (cfg_member(req, "target"))
			return cfg_failf(-EINVAL, err, errlen, "target", "not used with \"discovery\": true");
		if ((r = req_string(req, "key", true, key, sizeof(key), err, errlen)) < 0)
			return r;
		if (strcasecmp(key, "chap_algorithms") != 0)
			return cfg_failf(-EINVAL, err, errlen, "key",
					 "discovery sessions have only \"chap_algorithms\", not \"%s\"", key);
		if (!(value = cfg_member(req, "value")))
			return cfg_failf(-EINVAL, err, errlen, "value", "missing");
		if ((r = cfg_parse_chap_algorithms(value, "value", &set, err, errlen)) < 0 || mode == REQ_CHECK)
			return r;
		gw->discovery_chap_algorithms = set;   /* used by the next discovery logins */
		return 0;
	}
	if ((r = req_target(gw, req, &t, err, errlen)) < 0 ||
	    (r = req_string(req, "key", true, key, sizeof(key), err, errlen)) < 0)
		return r;
	if (!(value = cfg_member(req, "value")))
		return cfg_failf(-EINVAL, err, errlen, "value", "missing");
	if (strcasecmp(key, "demo_mode") == 0) {
		bool on;

		if ((r = cfg_get_bool_ex(value, "value", true, &on, err, errlen)) < 0 || mode == REQ_CHECK)
			return r;
		return cfg_set_demo_mode(gw, t, on);
	}
	if (!(d = cfg_param_find(key, true)))
		return cfg_failf(-EINVAL, err, errlen, "key", "unknown parameter \"%s\"", key);
	params = t->params;
	if ((r = cfg_param_value(d, value, "value", &params, err, errlen)) < 0 ||
	    (r = cfg_params_check(&params, "", err, errlen)) < 0)
		return r;
	if (mode == REQ_CHECK)
		return 0;
	t->params = params;   /* used by the next logins */
	return 0;
}

static int req_config_replace(struct gateway *gw, json_object *req, enum req_mode mode,
			      char *err, size_t errlen)
{
	struct cfg_doc doc;
	json_object *config = cfg_member(req, "config");
	int r;

	if (!config)
		return cfg_failf(-EINVAL, err, errlen, "config", "missing");
	r = cfg_parse_doc(config, &doc, err, errlen);
	if (r == 0 && mode == REQ_APPLY)
		r = cfg_apply_doc(gw, &doc, false, err, errlen);
	cfg_doc_free(&doc);
	return r;
}

struct req_handler {
	const char *name;
	req_fn fn;
	const char *const *keys;
};

static const char *const keys_target_add[] = { "target", "demo_mode", "chap", "mutual_chap", "params", NULL };
static const char *const keys_target[] = { "target", NULL };
static const char *const keys_lun_add[] = {
	"target", "lun", "spec", "backstore", "path", "size", "thin", "removable", "readonly",
	"wwn", "block_size", "alua", "options", NULL,
};

static const char *const keys_lun[] = { "target", "lun", NULL };
static const char *const keys_lun_resize[] = { "target", "lun", "size", "shrink", NULL };
static const char *const keys_acl_add[] = { "target", "initiator", "chap", "mutual_chap", "lun_map", NULL };
static const char *const keys_acl[] = { "target", "initiator", NULL };
static const char *const keys_chap_set[] = {
	"discovery", "target", "initiator", "user", "secret", "mutual_user", "mutual_secret",
	"required", NULL,
};

static const char *const keys_chap_clear[] = { "discovery", "target", "initiator", "mutual_only", NULL };
static const char *const keys_portal[] = { "portal", "transport", "wwpn", "wwnn", "target", NULL };
static const char *const keys_param_set[] = { "target", "discovery", "key", "value", NULL };
static const char *const keys_config_replace[] = { "config", NULL };

static const struct req_handler handlers[] = {
	{ "target_add", req_target_add, keys_target_add },
	{ "target_del", req_target_del, keys_target },
	{ "lun_add", req_lun_add, keys_lun_add },
	{ "lun_del", req_lun_del, keys_lun },
	{ "lun_resize", req_lun_resize, keys_lun_resize },
	{ "acl_add", req_acl_add, keys_acl_add },
	{ "acl_del", req_acl_del, keys_acl },
	{ "chap_set", req_chap_set, keys_chap_set },
	{ "chap_clear", req_chap_clear, keys_chap_clear },
	{ "portal_add", req_portal_add, keys_portal },
	{ "portal_del", req_portal_del, keys_portal },
	{ "param_set", req_param_set, keys_param_set },
	{ "config_replace", req_config_replace, keys_config_replace },
};

static const struct req_handler *find_handler(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(handlers); i++)
		if (strcmp(handlers[i].name, name) == 0)
			return &handlers[i];
	return NULL;
}

bool config_is_change_request(const char *name)
{
	return find_handler(name) != NULL;
}

static int run_request(struct gateway *gw, json_object *req, enum req_mode mode,
		       const struct req_handler **which, char *err, size_t errlen)
{
	static const char *const common[] = { "request", "id", NULL };
	const struct req_handler *h;
	char name[64];
	int r;

	*which = NULL;
	if (json_object_get_type(req) != json_type_object)
		return cfg_failf(-EINVAL, err, errlen, NULL, "a request must be a JSON object");
	if ((r = req_string(req, "request", true, name, sizeof(name), err, errlen)) < 0)
		return r;
	if (!(h = find_handler(name)))
		return cfg_failf(-EINVAL, err, errlen, "request", "\"%s\" is not a configuration request", name);
	*which = h;
	if ((r = cfg_check_keys(req, "", h->keys, common, err, errlen)) < 0)
		return r;
	return h->fn(gw, req, mode, err, errlen);
}

int config_prepare_request(struct gateway *gw, json_object *req, char *err, size_t errlen)
{
	const struct req_handler *h;

	return run_request(gw, req, REQ_CHECK, &h, err, errlen);
}

int config_apply_request(struct gateway *gw, const char *text, size_t len, char *err, size_t errlen)
{
	const struct req_handler *h;
	json_object *req = cfg_parse_json_text(text, len, err, errlen);
	char why[512];
	int r;

	if (!req)
		return -EINVAL;
	r = run_request(gw, req, REQ_APPLY, &h, err, errlen);
	json_object_put(req);
	if (r < 0)
		return r;
	gw->config_version++;
	log_info("config: applied %s (configuration version %u)", h->name, gw->config_version);
	if (config_save(gw, why, sizeof(why)) < 0)
		log_error("config: %s", why);   /* the running model stays changed */
	return 0;
}

bool config_is_node_local_request(const char *name)
{
	return strcmp(name, "portal_add") == 0 || strcmp(name, "portal_del") == 0;
}

int config_apply_local_request(struct gateway *gw, struct json_object *req, char *err,
			       size_t errlen)
{
	const struct req_handler *h;
	char why[512];
	int r = run_request(gw, req, REQ_APPLY, &h, err, errlen);

	if (r < 0)
		return r;
	if (!config_is_node_local_request(h->name))
		return cfg_failf(-EINVAL, err, errlen, "request", "\"%s\" is not a node-local request",
				 h->name);
	/* Not a replicated change: gw->config_version (the same on every
	 * node) stays as it is; the file keeps this node's portals. */
	log_info("config: applied %s on this node only", h->name);
	if (config_save(gw, why, sizeof(why)) < 0)
		log_error("config: %s", why);
	return 0;
}

int config_apply(struct gateway *gw, const void *payload, uint32_t len)
{
	char err[1024];
	int r = config_apply_request(gw, payload, len, err, sizeof(err));

	if (r < 0)
		log_warn("config: change refused: %s", err);
	return r;
}
