/* Parsing the configuration document (docs/configuration.md) into a
 * struct cfg_doc: every field is checked as it is read, and the document
 * as a whole (LUNs defined once, ACLs mapping existing LUNs, one LU per
 * backing file). Also the LU and ACL objects requests share with it. */
#include "config_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scsi/alua.h"
#include "util.h"

/* {"user": "...", "secret": "..."} */
int cfg_parse_chap(json_object *v, const char *path, struct chap_cred *cred,
		   char *err, size_t errlen)
{
	static const char *const keys[] = { "user", "secret", NULL };
	char user[CHAP_NAME_MAX + 1], secret[CHAP_SECRET_MAX + 1];
	char user_path[JPATH_MAX], secret_path[JPATH_MAX];
	json_object *u, *s;
	int r;

	if ((r = cfg_want_object(v, path, err, errlen)) ||
	    (r = cfg_check_keys(v, path, keys, NULL, err, errlen)))
		return r;
	cfg_path_key(user_path, path, "user");
	cfg_path_key(secret_path, path, "secret");
	if (!(u = cfg_member(v, "user")))
		return cfg_failf(-EINVAL, err, errlen, user_path, "missing");
	if (!(s = cfg_member(v, "secret")))
		return cfg_failf(-EINVAL, err, errlen, secret_path, "missing");
	if ((r = cfg_get_string(u, user_path, user, sizeof(user), err, errlen)) ||
	    (r = cfg_get_string(s, secret_path, secret, sizeof(secret), err, errlen)))
		return r;
	return cfg_chap_fill(cred, user, secret, user_path, secret_path, err, errlen);
}

const char *const cfg_lu_keys[] = {
	"lun", "backstore", "path", "size", "thin", "removable", "readonly", "wwn",
	"block_size", "phys_block_size", "alua", "options", NULL,
};

/* "alua": {"policy": "active-optimized"}, or {"policy": "preferred",
 * "preferred_node": N, "others": "active-non-optimized" | "standby"}: the
 * states of the LU's target port groups, one per node (SPC-4 5.16). */
int cfg_parse_alua_policy(json_object *v, const char *path, struct lu_alua_policy *policy,
			  char *err, size_t errlen)
{
	static const char *const keys[] = { "policy", "preferred_node", "others", NULL };
	char q[JPATH_MAX], text[32];
	json_object *f;
	uint64_t node;
	int r;

	if ((r = cfg_want_object(v, path, err, errlen)) < 0 ||
	    (r = cfg_check_keys(v, path, keys, NULL, err, errlen)) < 0)
		return r;
	memset(policy, 0, sizeof(*policy));
	cfg_path_key(q, path, "policy");
	if (!(f = cfg_member(v, "policy")))
		return cfg_failf(-EINVAL, err, errlen, q, "missing (\"active-optimized\" or \"preferred\")");
	if ((r = cfg_get_string(f, q, text, sizeof(text), err, errlen)) < 0)
		return r;
	if (strcmp(text, "active-optimized") == 0) {
		if (cfg_member(v, "preferred_node") || cfg_member(v, "others"))
			return cfg_failf(-EINVAL, err, errlen, path,
					 "preferred_node and others belong to the \"preferred\" policy");
		return 0;
	}
	if (strcmp(text, "preferred") != 0)
		return cfg_failf(-EINVAL, err, errlen, q, "\"%s\" is not \"active-optimized\" or \"preferred\"",
				 text);
	policy->kind = ALUA_POLICY_PREFERRED;
	policy->others = ALUA_ACTIVE_NON_OPTIMIZED;
	cfg_path_key(q, path, "preferred_node");
	if (!(f = cfg_member(v, "preferred_node")))
		return cfg_failf(-EINVAL, err, errlen, q, "missing (the node id whose port group is Active/Optimized)");
	if ((r = cfg_get_uint(f, q, 1, UINT16_MAX, &node, err, errlen)) < 0)
		return r;
	policy->preferred_node = (uint32_t)node;
	cfg_path_key(q, path, "others");
	if ((f = cfg_member(v, "others"))) {
		if ((r = cfg_get_string(f, q, text, sizeof(text), err, errlen)) < 0)
			return r;
		if (alua_state_parse(text, &policy->others) < 0 ||
		    (policy->others != ALUA_ACTIVE_NON_OPTIMIZED && policy->others != ALUA_STANDBY))
			return cfg_failf(-EINVAL, err, errlen, q,
					 "\"%s\" is not \"active-non-optimized\" or \"standby\"", text);
	}
	return 0;
}

/* LU fields of object v into spec (and the LUN when present). check keys
 * only when v is an LU object of its own (requests check their keys). */
int cfg_parse_lu_fields(json_object *v, const char *path, bool check, struct lu_spec *spec,
			bool *has_lun, uint64_t *lun, char *err, size_t errlen)
{
	char q[JPATH_MAX];
	json_object *f;
	uint64_t value;
	int r;

	if ((r = cfg_want_object(v, path, err, errlen)) < 0)
		return r;
	if (check && (r = cfg_check_keys(v, path, cfg_lu_keys, NULL, err, errlen)) < 0)
		return r;
	memset(spec, 0, sizeof(*spec));
	*has_lun = false;
	if ((f = cfg_member(v, "lun"))) {
		cfg_path_key(q, path, "lun");
		if ((r = cfg_get_uint(f, q, 0, MAX_LUNS_PER_TARGET - 1, lun, err, errlen)) < 0)
			return r;
		*has_lun = true;
	}
	cfg_path_key(q, path, "backstore");
	if ((f = cfg_member(v, "backstore")) &&
	    (r = cfg_get_string(f, q, spec->backstore, sizeof(spec->backstore), err, errlen)) < 0)
		return r;
	cfg_path_key(q, path, "path");
	if ((f = cfg_member(v, "path")) &&
	    (r = cfg_get_string(f, q, spec->path, sizeof(spec->path), err, errlen)) < 0)
		return r;
	cfg_path_key(q, path, "options");
	if ((f = cfg_member(v, "options")) &&
	    (r = cfg_get_string(f, q, spec->options, sizeof(spec->options), err, errlen)) < 0)
		return r;
	cfg_path_key(q, path, "size");
	if ((f = cfg_member(v, "size")) && (r = cfg_get_size(f, q, &spec->size, err, errlen)) < 0)
		return r;
	cfg_path_key(q, path, "thin");
	if ((f = cfg_member(v, "thin")) && (r = cfg_get_bool(f, q, &spec->thin, err, errlen)) < 0)
		return r;
	cfg_path_key(q, path, "removable");
	if ((f = cfg_member(v, "removable")) && (r = cfg_get_bool(f, q, &spec->removable, err, errlen)) < 0)
		return r;
	cfg_path_key(q, path, "readonly");
	if ((f = cfg_member(v, "readonly")) && (r = cfg_get_bool(f, q, &spec->readonly, err, errlen)) < 0)
		return r;
	cfg_path_key(q, path, "wwn");
	if ((f = cfg_member(v, "wwn"))) {
		char wwn[64];

		if ((r = cfg_get_string(f, q, wwn, sizeof(wwn), err, errlen)) < 0)
			return r;
		if (str_copy(spec->wwn, wwn[0] == '0' && (wwn[1] == 'x' || wwn[1] == 'X') ? wwn + 2 : wwn,
			     sizeof(spec->wwn)) >= sizeof(spec->wwn))
			return cfg_failf(-EINVAL, err, errlen, q, "\"%s\" is not 32 hex digits", wwn);
	}
	cfg_path_key(q, path, "block_size");
	if ((f = cfg_member(v, "block_size"))) {
		if ((r = cfg_get_uint(f, q, 0, UINT32_MAX, &value, err, errlen)) < 0)
			return r;
		spec->block_size = (uint32_t)value;
	}
	cfg_path_key(q, path, "phys_block_size");
	if ((f = cfg_member(v, "phys_block_size"))) {
		if ((r = cfg_get_uint(f, q, 0, UINT32_MAX, &value, err, errlen)) < 0)
			return r;
		spec->phys_block_size = (uint32_t)value;
	}
	cfg_path_key(q, path, "alua");
	if ((f = cfg_member(v, "alua")) && (r = cfg_parse_alua_policy(f, q, &spec->alua, err, errlen)) < 0)
		return r;
	return cfg_validate_lu_spec(spec, path, err, errlen);
}

static int map_entry_cmp(const void *a, const void *b)
{
	const struct lun_map_entry *x = a, *y = b;

	return x->mapped_lun < y->mapped_lun ? -1 : x->mapped_lun > y->mapped_lun;
}

/* [{"mapped_lun": 0, "lun": 3}, ...], kept sorted by mapped_lun. */
static int parse_lun_map(json_object *v, const char *path, struct acl *acl, char *err, size_t errlen)
{
	static const char *const keys[] = { "mapped_lun", "lun", NULL };
	size_t n;
	int r;

	if ((r = cfg_want_array(v, path, err, errlen)) < 0)
		return r;
	n = json_object_array_length(v);
	if (n == 0)
		return cfg_failf(-EINVAL, err, errlen, path,
				 "is empty; leave lun_map out to give the initiator every LUN");
	if (n > MAX_LUNS_PER_TARGET)
		return cfg_failf(-EINVAL, err, errlen, path, "has more than %d entries", MAX_LUNS_PER_TARGET);
	acl->map_count = 0;
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(v, i), *f;
		struct lun_map_entry *m = &acl->map[i];
		char q[JPATH_MAX], k[JPATH_MAX];

		cfg_path_index(q, path, (unsigned)i);
		if ((r = cfg_want_object(e, q, err, errlen)) < 0 ||
		    (r = cfg_check_keys(e, q, keys, NULL, err, errlen)) < 0)
			return r;
		cfg_path_key(k, q, "mapped_lun");
		if (!(f = cfg_member(e, "mapped_lun")))
			return cfg_failf(-EINVAL, err, errlen, k, "missing");
		if ((r = cfg_get_uint(f, k, 0, MAX_LUNS_PER_TARGET - 1, &m->mapped_lun, err, errlen)) < 0)
			return r;
		cfg_path_key(k, q, "lun");
		if (!(f = cfg_member(e, "lun")))
			return cfg_failf(-EINVAL, err, errlen, k, "missing");
		if ((r = cfg_get_uint(f, k, 0, MAX_LUNS_PER_TARGET - 1, &m->target_lun, err, errlen)) < 0)
			return r;
		for (size_t j = 0; j < i; j++) {
			if (acl->map[j].mapped_lun == m->mapped_lun) {
				cfg_path_key(k, q, "mapped_lun");
				return cfg_failf(-EEXIST, err, errlen, k, "%llu is mapped twice",
						 (unsigned long long)m->mapped_lun);
			}
			/* One LU under two LUNs of one nexus would look like two
			 * disks to multipath software. */
			if (acl->map[j].target_lun == m->target_lun) {
				cfg_path_key(k, q, "lun");
				return cfg_failf(-EEXIST, err, errlen, k, "LUN %llu is mapped twice",
						 (unsigned long long)m->target_lun);
			}
		}
		acl->map_count++;
	}
	qsort(acl->map, acl->map_count, sizeof(acl->map[0]), map_entry_cmp);
	return 0;
}

/* An ACL object: initiator, chap, mutual_chap, lun_map. LUN references
 * are checked by the caller (against the document or the model). */
int cfg_parse_acl(json_object *v, const char *path, const char *const *also_allowed,
		  struct acl *acl, char *err, size_t errlen)
{
	static const char *const keys[] = { "initiator", "chap", "mutual_chap", "lun_map", NULL };
	char q[JPATH_MAX];
	json_object *f;
	int r;

	if ((r = cfg_want_object(v, path, err, errlen)) < 0 ||
	    (r = cfg_check_keys(v, path, keys, also_allowed, err, errlen)) < 0)
		return r;
	memset(acl, 0, sizeof(*acl));
	cfg_path_key(q, path, "initiator");
	if (!(f = cfg_member(v, "initiator")))
		return cfg_failf(-EINVAL, err, errlen, q, "missing");
	if ((r = cfg_get_string(f, q, acl->initiator, sizeof(acl->initiator), err, errlen)) < 0 ||
	    (r = cfg_check_name(acl->initiator, q, err, errlen)) < 0)
		return r;
	cfg_path_key(q, path, "chap");
	if ((f = cfg_member(v, "chap")) && (r = cfg_parse_chap(f, q, &acl->chap, err, errlen)) < 0)
		return r;
	cfg_path_key(q, path, "mutual_chap");
	if ((f = cfg_member(v, "mutual_chap")) && (r = cfg_parse_chap(f, q, &acl->mutual_chap, err, errlen)) < 0)
		return r;
	if ((r = cfg_check_chap_pair(&acl->chap, &acl->mutual_chap, q, err, errlen)) < 0)
		return r;
	cfg_path_key(q, path, "lun_map");
	if ((f = cfg_member(v, "lun_map")) && (r = parse_lun_map(f, q, acl, err, errlen)) < 0)
		return r;
	return 0;
}

void cfg_doc_free(struct cfg_doc *doc)
{
	for (unsigned i = 0; i < doc->n_targets; i++) {
		free(doc->targets[i].lus);
		free(doc->targets[i].acls);
	}
	free(doc->targets);
	free(doc->portals);
	memset(doc, 0, sizeof(*doc));
}

const struct cfg_lu *cfg_find_lu(const struct cfg_target *ct, uint64_t lun)
{
	for (unsigned i = 0; i < ct->n_lus; i++)
		if (ct->lus[i].lun == lun)
			return &ct->lus[i];
	return NULL;
}

const struct acl *cfg_find_acl(const struct cfg_target *ct, const char *initiator)
{
	for (unsigned i = 0; i < ct->n_acls; i++)
		if (strcasecmp(ct->acls[i].initiator, initiator) == 0)
			return &ct->acls[i];
	return NULL;
}

const struct cfg_target *cfg_find_target(const struct cfg_doc *doc, const char *iqn)
{
	for (unsigned i = 0; i < doc->n_targets; i++)
		if (strcasecmp(doc->targets[i].iqn, iqn) == 0)
			return &doc->targets[i];
	return NULL;
}

int cfg_parse_portal(json_object *v, const char *path, struct cfg_portal *out, char *err,
		     size_t errlen)
{
	static const char *const keys[] = { "portal", "transport", "wwpn", "wwnn", "target", NULL };
	char q[JPATH_MAX], text[128], why[256];
	json_object *f;
	int r;

	memset(out, 0, sizeof(*out));
	out->transport = PORTAL_TCP;
	if (json_object_is_type(v, json_type_object)) {
		if ((r = cfg_check_keys(v, path, keys, NULL, err, errlen)) < 0)
			return r;
		cfg_path_key(q, path, "portal");
		if (!(f = cfg_member(v, "portal")))
			return cfg_failf(-EINVAL, err, errlen, q, "missing (\"ADDRESS:PORT\")");
		if ((r = cfg_get_string(f, q, text, sizeof(text), err, errlen)) < 0)
			return r;
		if ((f = cfg_member(v, "transport"))) {
			char name[16];

			cfg_path_key(q, path, "transport");
			if ((r = cfg_get_string(f, q, name, sizeof(name), err, errlen)) < 0)
				return r;
			if (!portal_transport_parse(name, &out->transport))
				return cfg_failf(-EINVAL, err, errlen, q,
						 "unknown transport \"%s\" (\"tcp\", \"iser\" or \"fcoe\")", name);
		}
		if (out->transport == PORTAL_FCOE)
			return cfg_parse_fcoe_portal(v, path, text, out, err, errlen);
		if (cfg_member(v, "wwpn") || cfg_member(v, "wwnn") || cfg_member(v, "target")) {
			cfg_path_key(q, path, cfg_member(v, "wwpn") ? "wwpn" : cfg_member(v, "wwnn") ? "wwnn" : "target");
			return cfg_failf(-EINVAL, err, errlen, q, "only an FCoE portal (\"transport\": \"fcoe\") takes this");
		}
		cfg_path_key(q, path, "portal");
	} else {
		snprintf(q, sizeof(q), "%s", path);
		if ((r = cfg_get_string(v, path, text, sizeof(text), err, errlen)) < 0)
			return r;
	}
	if (config_portal_parse(text, out->addr, sizeof(out->addr), &out->port, why, sizeof(why)) < 0)
		return cfg_failf(-EINVAL, err, errlen, q, "%s", why);
	return 0;
}

int cfg_parse_fcoe_portal(json_object *obj, const char *path, const char *ifname,
			  struct cfg_portal *out, char *err, size_t errlen)
{
	static const char *const names[] = { "wwpn", "wwnn" };
	char q[JPATH_MAX], text[64];
	json_object *f;
	int r;

	/* docs/fcoe.md: "portal" names the Ethernet interface (IFNAMSIZ). */
	cfg_path_key(q, path, "portal");
	if (!ifname[0] || strlen(ifname) >= 16 || strpbrk(ifname, ":/ \t"))
		return cfg_failf(-EINVAL, err, errlen, q, "an FCoE portal names a network interface, not \"%s\"",
				 ifname);
	str_copy(out->addr, ifname, sizeof(out->addr));
	out->port = 0;
	out->transport = PORTAL_FCOE;
	for (unsigned i = 0; i < 2; i++) {
		uint64_t *dst = i ? &out->wwnn : &out->wwpn;

		if (!(f = cfg_member(obj, names[i])))
			continue;
		cfg_path_key(q, path, names[i]);
		if ((r = cfg_get_string(f, q, text, sizeof(text), err, errlen)) < 0)
			return r;
		if (!parse_wwn(text, dst))
			return cfg_failf(-EINVAL, err, errlen, q,
					 "\"%s\" is not a world wide name (16 hex digits, e.g. 0x20000000c9123456)", text);
	}
	if ((f = cfg_member(obj, "target"))) {
		cfg_path_key(q, path, "target");
		if ((r = cfg_get_string(f, q, out->target, sizeof(out->target), err, errlen)) < 0)
			return r;
	}
	return 0;
}

bool cfg_portal_same(const struct portal *p, const struct cfg_portal *c)
{
	return p->transport == c->transport && p->port == c->port && !strcmp(p->addr, c->addr) &&
	       p->wwpn == c->wwpn && p->wwnn == c->wwnn && !strcmp(p->target, c->target);
}

static int parse_portals(json_object *v, const char *path, struct cfg_doc *doc,
			 char *err, size_t errlen)
{
	size_t n;
	int r;

	if ((r = cfg_want_array(v, path, err, errlen)) < 0)
		return r;
	n = json_object_array_length(v);
	doc->portals = calloc(n ? n : 1, sizeof(*doc->portals));
	if (!doc->portals)
		return cfg_failf(-ENOMEM, err, errlen, path, "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct cfg_portal *p = &doc->portals[i];
		char q[JPATH_MAX], text[128];

		cfg_path_index(q, path, (unsigned)i);
		if ((r = cfg_parse_portal(json_object_array_get_idx(v, i), q, p, err, errlen)) < 0)
			return r;
		for (size_t j = 0; j < i; j++)
			if (strcmp(doc->portals[j].addr, p->addr) == 0 && doc->portals[j].port == p->port &&
			    doc->portals[j].transport == p->transport) {
				if (p->transport == PORTAL_FCOE)
					snprintf(text, sizeof(text), "%s", p->addr);
				else
					config_portal_format(p->addr, p->port, text, sizeof(text));
				return cfg_failf(-EEXIST, err, errlen, q, "%s%s\"%s\" is listed twice",
						 p->transport == PORTAL_TCP ? "" : portal_transport_name(p->transport),
						 p->transport == PORTAL_TCP ? "" : " portal ", text);
			}
		doc->n_portals++;
	}
	return 0;
}

static int parse_discovery(json_object *v, const char *path, struct cfg_doc *doc,
			   char *err, size_t errlen)
{
	static const char *const keys[] = { "auth", "chap", "mutual_chap", "chap_algorithms", NULL };
	char q[JPATH_MAX];
	json_object *f;
	int r;

	if ((r = cfg_want_object(v, path, err, errlen)) < 0 ||
	    (r = cfg_check_keys(v, path, keys, NULL, err, errlen)) < 0)
		return r;
	cfg_path_key(q, path, "chap");
	if ((f = cfg_member(v, "chap")) && (r = cfg_parse_chap(f, q, &doc->discovery_chap, err, errlen)) < 0)
		return r;
	cfg_path_key(q, path, "mutual_chap");
	if ((f = cfg_member(v, "mutual_chap")) &&
	    (r = cfg_parse_chap(f, q, &doc->discovery_mutual_chap, err, errlen)) < 0)
		return r;
	if ((r = cfg_check_chap_pair(&doc->discovery_chap, &doc->discovery_mutual_chap, q, err, errlen)) < 0)
		return r;
	cfg_path_key(q, path, "auth");
	if ((f = cfg_member(v, "auth")) && (r = cfg_get_bool(f, q, &doc->discovery_auth, err, errlen)) < 0)
		return r;
	if (doc->discovery_auth && !doc->discovery_chap.set)
		return cfg_failf(-EINVAL, err, errlen, q, "requiring CHAP on discovery needs discovery.chap");
	cfg_path_key(q, path, "chap_algorithms");
	if ((f = cfg_member(v, "chap_algorithms")) &&
	    (r = cfg_parse_chap_algorithms(f, q, &doc->discovery_chap_algorithms, err, errlen)) < 0)
		return r;
	return 0;
}

static int parse_target(json_object *v, const char *path, struct cfg_target *ct,
			char *err, size_t errlen)
{
	static const char *const keys[] = {
		"iqn", "demo_mode", "chap", "mutual_chap", "params", "luns", "acls", NULL,
	};
	char q[JPATH_MAX];
	json_object *f;
	size_t n;
	int r;

	if ((r = cfg_want_object(v, path, err, errlen)) < 0 ||
	    (r = cfg_check_keys(v, path, keys, NULL, err, errlen)) < 0)
		return r;
	cfg_path_key(q, path, "iqn");
	if (!(f = cfg_member(v, "iqn")))
		return cfg_failf(-EINVAL, err, errlen, q, "missing");
	if ((r = cfg_get_string(f, q, ct->iqn, sizeof(ct->iqn), err, errlen)) < 0 ||
	    (r = cfg_check_name(ct->iqn, q, err, errlen)) < 0)
		return r;
	cfg_path_key(q, path, "demo_mode");
	if ((f = cfg_member(v, "demo_mode")) && (r = cfg_get_bool(f, q, &ct->demo_mode, err, errlen)) < 0)
		return r;
	cfg_path_key(q, path, "chap");
	if ((f = cfg_member(v, "chap")) && (r = cfg_parse_chap(f, q, &ct->chap, err, errlen)) < 0)
		return r;
	cfg_path_key(q, path, "mutual_chap");
	if ((f = cfg_member(v, "mutual_chap")) && (r = cfg_parse_chap(f, q, &ct->mutual_chap, err, errlen)) < 0)
		return r;
	if ((r = cfg_check_chap_pair(&ct->chap, &ct->mutual_chap, q, err, errlen)) < 0)
		return r;
	target_params_defaults(&ct->params);
	cfg_path_key(q, path, "params");
	if ((f = cfg_member(v, "params")) && (r = cfg_parse_params(f, q, &ct->params, err, errlen)) < 0)
		return r;

	cfg_path_key(q, path, "luns");
	if ((f = cfg_member(v, "luns"))) {
		if ((r = cfg_want_array(f, q, err, errlen)) < 0)
			return r;
		n = json_object_array_length(f);
		if (n > MAX_LUNS_PER_TARGET)
			return cfg_failf(-EINVAL, err, errlen, q, "has more than %d LUs", MAX_LUNS_PER_TARGET);
		ct->lus = calloc(n ? n : 1, sizeof(*ct->lus));
		if (!ct->lus)
			return cfg_failf(-ENOMEM, err, errlen, q, "out of memory");
		for (size_t i = 0; i < n; i++) {
			struct cfg_lu *cl = &ct->lus[i];
			char lq[JPATH_MAX], k[JPATH_MAX];
			bool has_lun;

			cfg_path_index(lq, q, (unsigned)i);
			if ((r = cfg_parse_lu_fields(json_object_array_get_idx(f, i), lq, true, &cl->spec,
						     &has_lun, &cl->lun, err, errlen)) < 0)
				return r;
			cfg_path_key(k, lq, "lun");
			if (!has_lun)
				return cfg_failf(-EINVAL, err, errlen, k, "missing");
			if (cfg_find_lu(ct, cl->lun))
				return cfg_failf(-EEXIST, err, errlen, k, "LUN %llu is defined twice",
						 (unsigned long long)cl->lun);
			ct->n_lus++;
		}
	}

	cfg_path_key(q, path, "acls");
	if ((f = cfg_member(v, "acls"))) {
		if ((r = cfg_want_array(f, q, err, errlen)) < 0)
			return r;
		n = json_object_array_length(f);
		ct->acls = calloc(n ? n : 1, sizeof(*ct->acls));
		if (!ct->acls)
			return cfg_failf(-ENOMEM, err, errlen, q, "out of memory");
		for (size_t i = 0; i < n; i++) {
			struct acl *a = &ct->acls[i];
			char aq[JPATH_MAX], k[JPATH_MAX];

			cfg_path_index(aq, q, (unsigned)i);
			if ((r = cfg_parse_acl(json_object_array_get_idx(f, i), aq, NULL, a, err, errlen)) < 0)
				return r;
			if (cfg_find_acl(ct, a->initiator)) {
				cfg_path_key(k, aq, "initiator");
				return cfg_failf(-EEXIST, err, errlen, k, "\"%s\" has two ACLs", a->initiator);
			}
			for (unsigned m = 0; m < a->map_count; m++) {
				if (cfg_find_lu(ct, a->map[m].target_lun))
					continue;
				cfg_path_key(k, aq, "lun_map");
				return cfg_failf(-ENOENT, err, errlen, k, "maps LUN %llu, which the target does not have",
						 (unsigned long long)a->map[m].target_lun);
			}
			ct->n_acls++;
		}
	}
	return 0;
}

int cfg_parse_doc(json_object *root, struct cfg_doc *doc, char *err, size_t errlen)
{
	static const char *const keys[] = { "portals", "discovery", "targets", NULL };
	json_object *f;
	int r;

	memset(doc, 0, sizeof(*doc));
	if ((r = cfg_want_object(root, "", err, errlen)) < 0)
		return cfg_failf(r, err, errlen, NULL, "the configuration must be a JSON object, not %s",
				 cfg_json_type_text(root));
	if ((r = cfg_check_keys(root, "", keys, NULL, err, errlen)) < 0)
		return r;
	doc->has_portals = cfg_member(root, "portals") != NULL;
	if ((f = cfg_member(root, "portals")) && (r = parse_portals(f, "portals", doc, err, errlen)) < 0)
		return r;
	if ((f = cfg_member(root, "discovery")) && (r = parse_discovery(f, "discovery", doc, err, errlen)) < 0)
		return r;
	if ((f = cfg_member(root, "targets"))) {
		size_t n;

		if ((r = cfg_want_array(f, "targets", err, errlen)) < 0)
			return r;
		n = json_object_array_length(f);
		doc->targets = calloc(n ? n : 1, sizeof(*doc->targets));
		if (!doc->targets)
			return cfg_failf(-ENOMEM, err, errlen, "targets", "out of memory");
		for (size_t i = 0; i < n; i++) {
			struct cfg_target *ct = &doc->targets[i];
			char q[JPATH_MAX], k[JPATH_MAX];

			cfg_path_index(q, "targets", (unsigned)i);
			doc->n_targets++;   /* counted first so cfg_doc_free() frees its arrays */
			if ((r = parse_target(json_object_array_get_idx(f, i), q, ct, err, errlen)) < 0)
				return r;
			for (unsigned j = 0; j < i; j++) {
				if (strcasecmp(doc->targets[j].iqn, ct->iqn) == 0) {
					cfg_path_key(k, q, "iqn");
					return cfg_failf(-EEXIST, err, errlen, k, "\"%s\" is defined twice", ct->iqn);
				}
			}
		}
	}
	/* Two LUs on one backing file would be two disks sharing blocks. */
	for (unsigned i = 0; i < doc->n_targets; i++) {
		for (unsigned j = 0; j < doc->targets[i].n_lus; j++) {
			const struct lu_spec *s = &doc->targets[i].lus[j].spec;

			if (strcmp(s->backstore, "file") != 0)
				continue;
			for (unsigned a = 0; a <= i; a++) {
				unsigned end = a == i ? j : doc->targets[a].n_lus;

				for (unsigned b = 0; b < end; b++) {
					const struct lu_spec *o = &doc->targets[a].lus[b].spec;
					char q[JPATH_MAX];

					if (strcmp(o->backstore, "file") || strcmp(o->path, s->path))
						continue;
					snprintf(q, sizeof(q), "targets[%u].luns[%u].path", i, j);
					return cfg_failf(-EEXIST, err, errlen, q,
							 "\"%s\" is already used by targets[%u].luns[%u]",
							 s->path, a, b);
				}
			}
		}
	}
	return 0;
}
