/* The model as JSON: the configuration file (secrets included, written
 * back after every change) and the management API's "list" (runtime
 * details, secrets left out). */
#include "config_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scsi/alua.h"
#include "util.h"

static void size_text(uint64_t bytes, char *buf, size_t len)
{
	json_object *v = cfg_size_to_json(bytes);

	snprintf(buf, len, "%s", json_object_get_type(v) == json_type_string ?
		 json_object_get_string(v) : json_object_to_json_string(v));
	json_object_put(v);
}

void config_lu_spec_format(const struct lu_spec *spec, char *buf, size_t len)
{
	size_t used;
	char size[32];

	used = (size_t)snprintf(buf, len, "%s", spec->backstore);
	if (spec->path[0] && used < len)
		used += (size_t)snprintf(buf + used, len - used, ":%s", spec->path);
	if (spec->size && used < len) {
		size_text(spec->size, size, sizeof(size));
		used += (size_t)snprintf(buf + used, len - used, ",size=%s", size);
	}
	if (spec->thin && used < len)
		used += (size_t)snprintf(buf + used, len - used, ",thin=1");
	if (spec->removable && used < len)
		used += (size_t)snprintf(buf + used, len - used, ",removable=1");
	if (spec->readonly && used < len)
		used += (size_t)snprintf(buf + used, len - used, ",readonly=1");
	if (spec->wwn[0] && used < len)
		used += (size_t)snprintf(buf + used, len - used, ",wwn=%s", spec->wwn);
	if (spec->block_size && spec->block_size != DEFAULT_BLOCK && used < len)
		used += (size_t)snprintf(buf + used, len - used, ",blocksize=%u", spec->block_size);
	if (spec->phys_block_size && used < len)
		used += (size_t)snprintf(buf + used, len - used, ",physblock=%u", spec->phys_block_size);
	if (spec->options[0] && used < len)
		snprintf(buf + used, len - used, ",%s", spec->options);
}

static json_object *dump_alua_policy(const struct lu_alua_policy *policy)
{
	json_object *o = json_object_new_object();

	if (policy->kind != ALUA_POLICY_PREFERRED) {
		json_object_object_add(o, "policy", json_object_new_string("active-optimized"));
		return o;
	}
	json_object_object_add(o, "policy", json_object_new_string("preferred"));
	json_object_object_add(o, "preferred_node", json_object_new_int64(policy->preferred_node));
	json_object_object_add(o, "others", json_object_new_string(alua_state_name(policy->others)));
	return o;
}

static void dump_chap(json_object *obj, const char *key, const struct chap_cred *c, unsigned flags)
{
	json_object *o;

	if (flags & CONFIG_DUMP_SECRETS) {
		if (!c->set)
			return;
		o = json_object_new_object();
		json_object_object_add(o, "user", json_object_new_string(c->user));
		json_object_object_add(o, "secret", json_object_new_string(c->secret));
	} else {
		o = json_object_new_object();
		json_object_object_add(o, "set", json_object_new_boolean(c->set));
		if (c->set)
			json_object_object_add(o, "user", json_object_new_string(c->user));
	}
	json_object_object_add(obj, key, o);
}

static json_object *dump_lu(struct gateway *gw, const struct lu *lu, unsigned flags)
{
	const struct lu_spec *s = &lu->spec;
	bool runtime = flags & CONFIG_DUMP_RUNTIME;
	json_object *o = json_object_new_object();

	(void)gw;
	json_object_object_add(o, "lun", json_object_new_int64((int64_t)lu->lun));
	json_object_object_add(o, "backstore", json_object_new_string(s->backstore));
	if (s->path[0])
		json_object_object_add(o, "path", json_object_new_string(s->path));
	if (s->options[0])
		json_object_object_add(o, "options", json_object_new_string(s->options));
	if (s->size)
		json_object_object_add(o, "size", cfg_size_to_json(s->size));
	if (s->thin || runtime)
		json_object_object_add(o, "thin", json_object_new_boolean(s->thin));
	if (s->removable || runtime)
		json_object_object_add(o, "removable", json_object_new_boolean(s->removable));
	if (s->readonly || runtime)
		json_object_object_add(o, "readonly", json_object_new_boolean(s->readonly));
	if (s->wwn[0])
		json_object_object_add(o, "wwn", json_object_new_string(s->wwn));
	if ((s->block_size && s->block_size != DEFAULT_BLOCK) || runtime)
		json_object_object_add(o, "block_size",
				       json_object_new_int64(s->block_size ? s->block_size : DEFAULT_BLOCK));
	if (s->phys_block_size)
		json_object_object_add(o, "phys_block_size", json_object_new_int64(s->phys_block_size));
	if (s->alua.kind != ALUA_POLICY_ALL_OPTIMIZED || runtime)
		json_object_object_add(o, "alua", dump_alua_policy(&s->alua));
	if (runtime) {
		char spec[PATH_MAX + 768], naa[33];

		config_lu_spec_format(s, spec, sizeof(spec));
		for (unsigned i = 0; i < 16; i++)
			snprintf(naa + 2 * i, 3, "%02x", lu->naa[i]);
		json_object_object_add(o, "spec", json_object_new_string(spec));
		json_object_object_add(o, "size_bytes", json_object_new_uint64(lu->size_bytes));
		json_object_object_add(o, "num_blocks", json_object_new_uint64(lu->num_blocks));
		json_object_object_add(o, "naa", json_object_new_string(naa));
		json_object_object_add(o, "serial", json_object_new_string(lu->serial));
		if (lu->removing)
			json_object_object_add(o, "removing", json_object_new_boolean(true));
		json_object_object_add(o, "backing", json_object_new_string(
			lu->backing_state == LU_BACKING_READY ? "ready" :
			lu->backing_state == LU_BACKING_OPENING ? "opening" : "failed"));
		if (lu->backing_error[0])
			json_object_object_add(o, "backing_error", json_object_new_string(lu->backing_error));
		json_object_object_add(o, "port_groups", alua_groups_json(lu));
	}
	return o;
}

static json_object *dump_acl(struct gateway *gw, const struct acl *acl, unsigned flags)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "initiator", json_object_new_string(acl->initiator));
	dump_chap(o, "chap", &acl->chap, flags);
	dump_chap(o, "mutual_chap", &acl->mutual_chap, flags);
	if (acl->map_count) {
		json_object *map = json_object_new_array();

		for (unsigned i = 0; i < acl->map_count; i++) {
			json_object *e = json_object_new_object();

			json_object_object_add(e, "mapped_lun",
					       json_object_new_int64((int64_t)acl->map[i].mapped_lun));
			json_object_object_add(e, "lun", json_object_new_int64((int64_t)acl->map[i].target_lun));
			json_object_array_add(map, e);
		}
		json_object_object_add(o, "lun_map", map);
	}
	if (flags & CONFIG_DUMP_RUNTIME)
		json_object_object_add(o, "sessions", json_object_new_int64(cfg_count_nexuses(gw, NULL, acl)));
	return o;
}

/* Canonical order for CONFIG_DUMP_CLUSTER: names as they compare (without
 * regard to case), then byte by byte. LUs are kept sorted by LUN and LUN
 * maps by mapped LUN already. */
static int name_cmp(const char *a, const char *b)
{
	int r = strcasecmp(a, b);

	return r ? r : strcmp(a, b);
}

static int target_ptr_cmp(const void *a, const void *b)
{
	return name_cmp((*(struct target *const *)a)->iqn, (*(struct target *const *)b)->iqn);
}

static int acl_ptr_cmp(const void *a, const void *b)
{
	return name_cmp((*(struct acl *const *)a)->initiator, (*(struct acl *const *)b)->initiator);
}

/* The targets of gw sorted (malloc'd; *n = 0 and NULL when out of memory). */
static struct target **sorted_targets(struct gateway *gw, size_t *n)
{
	struct target *t, **v;
	size_t count = 0;

	TAILQ_FOREACH(t, &gw->targets, link)
		count++;
	*n = 0;
	if (!(v = calloc(count ? count : 1, sizeof(*v))))
		return NULL;
	TAILQ_FOREACH(t, &gw->targets, link)
		v[(*n)++] = t;
	qsort(v, *n, sizeof(*v), target_ptr_cmp);
	return v;
}

static struct acl **sorted_acls(struct target *t, size_t *n)
{
	struct acl *acl, **v;
	size_t count = 0;

	TAILQ_FOREACH(acl, &t->acls, link)
		count++;
	*n = 0;
	if (!(v = calloc(count ? count : 1, sizeof(*v))))
		return NULL;
	TAILQ_FOREACH(acl, &t->acls, link)
		v[(*n)++] = acl;
	qsort(v, *n, sizeof(*v), acl_ptr_cmp);
	return v;
}

static json_object *dump_target(struct gateway *gw, struct target *t, unsigned flags)
{
	bool runtime = flags & CONFIG_DUMP_RUNTIME;
	json_object *o = json_object_new_object(), *params, *arr;
	struct lu *lu;
	struct acl *acl;

	json_object_object_add(o, "iqn", json_object_new_string(t->iqn));
	json_object_object_add(o, "demo_mode", json_object_new_boolean(t->demo_mode));
	dump_chap(o, "chap", &t->chap, flags);
	dump_chap(o, "mutual_chap", &t->mutual_chap, flags);
	params = cfg_dump_params(&t->params, !runtime);
	if (runtime || json_object_object_length(params))
		json_object_object_add(o, "params", params);
	else
		json_object_put(params);
	/* The file leaves out empty lists; the API always has them. */
	if (runtime || !TAILQ_EMPTY(&t->lus)) {
		arr = json_object_new_array();
		TAILQ_FOREACH(lu, &t->lus, link)
			json_object_array_add(arr, dump_lu(gw, lu, flags));
		json_object_object_add(o, "luns", arr);
	}
	if (runtime || !TAILQ_EMPTY(&t->acls)) {
		arr = json_object_new_array();
		if (flags & CONFIG_DUMP_CLUSTER) {
			size_t n = 0;
			struct acl **sorted = sorted_acls(t, &n);

			for (size_t i = 0; i < n; i++)
				json_object_array_add(arr, dump_acl(gw, sorted[i], flags));
			free(sorted);
		} else {
			TAILQ_FOREACH(acl, &t->acls, link)
				json_object_array_add(arr, dump_acl(gw, acl, flags));
		}
		json_object_object_add(o, "acls", arr);
	}
	if (runtime) {
		json_object_object_add(o, "tpgt", json_object_new_int(t->tpgt));
		json_object_object_add(o, "sessions", json_object_new_int64(cfg_count_nexuses(gw, t, NULL)));
	}
	return o;
}

json_object *config_dump(struct gateway *gw, unsigned flags)
{
	json_object *root = json_object_new_object(), *arr;
	struct portal *p;
	struct target *t;
	uint32_t algorithms;

	if (flags & CONFIG_DUMP_RUNTIME) {
		json_object_object_add(root, "node_id", json_object_new_int64(gw->node_id));
		json_object_object_add(root, "config_version", json_object_new_int64(gw->config_version));
		json_object_object_add(root, "config_file", json_object_new_string(gw->config_path));
	}
	/* Portals are where this node listens: not the cluster's. */
	if (!(flags & CONFIG_DUMP_CLUSTER)) {
		arr = json_object_new_array();
		TAILQ_FOREACH(p, &gw->portals, link)
			json_object_array_add(arr, config_portal_json(p));
		json_object_object_add(root, "portals", arr);
	}
	algorithms = gw->discovery_chap_algorithms ? gw->discovery_chap_algorithms : CHAP_ALGS_ALL;
	if ((flags & (CONFIG_DUMP_RUNTIME | CONFIG_DUMP_CLUSTER)) || gw->discovery_auth ||
	    gw->discovery_chap.set || gw->discovery_mutual_chap.set || algorithms != CHAP_ALGS_ALL) {
		json_object *d = json_object_new_object();

		json_object_object_add(d, "auth", json_object_new_boolean(gw->discovery_auth));
		dump_chap(d, "chap", &gw->discovery_chap, flags);
		dump_chap(d, "mutual_chap", &gw->discovery_mutual_chap, flags);
		/* The default (all) only where every value is shown. */
		if ((flags & CONFIG_DUMP_RUNTIME) || algorithms != CHAP_ALGS_ALL)
			json_object_object_add(d, "chap_algorithms", cfg_dump_chap_algorithms(algorithms));
		json_object_object_add(root, "discovery", d);
	}
	arr = json_object_new_array();
	if (flags & CONFIG_DUMP_CLUSTER) {
		size_t n = 0;
		struct target **sorted = sorted_targets(gw, &n);

		for (size_t i = 0; i < n; i++)
			json_object_array_add(arr, dump_target(gw, sorted[i], flags));
		free(sorted);
	} else {
		TAILQ_FOREACH(t, &gw->targets, link)
			json_object_array_add(arr, dump_target(gw, t, flags));
	}
	json_object_object_add(root, "targets", arr);
	return root;
}

char *config_serialize(struct gateway *gw)
{
	json_object *root = config_dump(gw, CONFIG_DUMP_SECRETS);
	const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
							  JSON_C_TO_STRING_SPACED |
							  JSON_C_TO_STRING_NOSLASHESCAPE);
	char *copy = NULL;

	if (text && asprintf(&copy, "%s\n", text) < 0)
		copy = NULL;
	json_object_put(root);
	return copy;
}

int config_save(struct gateway *gw, char *err, size_t errlen)
{
	char *text;
	int r;

	if (!gw->config_path[0])
		return 0;
	text = config_serialize(gw);
	if (!text)
		return cfg_failf(-ENOMEM, err, errlen, NULL, "cannot serialize the configuration");
	r = write_file_atomic(gw->config_path, text, strlen(text));
	free(text);
	if (r < 0)
		return cfg_failf(r, err, errlen, NULL, "cannot write %s: %s", gw->config_path, strerror(-r));
	return 0;
}
