/* Export and import of the cluster-wide configuration
 * (docs/management-api.md, "export" and "import"). An export is the
 * document config_replace takes, without the portals, which belong to
 * each node. An import is checked as a whole here, on the node that
 * receives it, and its difference to the running configuration is the
 * list a reload would apply (config_diff.c); it is then applied as one
 * config_replace operation, so every node makes all of it or none. */
#include "config_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

json_object *config_export(struct gateway *gw)
{
	return config_dump(gw, CONFIG_DUMP_SECRETS | CONFIG_DUMP_CLUSTER);
}

/* The usual mistake with a file LU, caught where the admin gets the
 * message (as lun_add does): a path that is missing without a size to
 * create it, or that is neither a file nor a block device. */
static int check_new_backing(const struct cfg_change *c, char *err, size_t errlen)
{
	const struct lu_spec *spec = &c->cl->spec;
	char path[JPATH_MAX];
	struct stat st;

	if (strcmp(spec->backstore, "file") != 0)
		return 0;
	snprintf(path, sizeof(path), "targets[%u].luns[%u].path", c->ct_index, c->cl_index);
	if (stat(spec->path, &st) == 0) {
		if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
			return cfg_failf(-EINVAL, err, errlen, path,
					 "%s is not a regular file or block device", spec->path);
		return 0;
	}
	if (spec->size == 0)
		return cfg_failf(-ENOENT, err, errlen, path, "%s: %s (give a size to create it)",
				 spec->path, strerror(errno));
	return 0;
}

static json_object *summary_json(const struct cfg_diff *diff)
{
	json_object *o = json_object_new_object();
	unsigned n[3] = { 0 };

	for (size_t i = 0; i < diff->n; i++)
		n[diff->changes[i].action]++;
	json_object_object_add(o, "add", json_object_new_int64(n[CFG_ADD]));
	json_object_object_add(o, "change", json_object_new_int64(n[CFG_CHANGE]));
	json_object_object_add(o, "remove", json_object_new_int64(n[CFG_REMOVE]));
	return o;
}

int config_import_prepare(struct gateway *gw, json_object *req, json_object **answer,
			  json_object **submit, char *err, size_t errlen)
{
	static const char *const keys[] = { "config", "dry_run", NULL };
	static const char *const common[] = { "request", "id", NULL };
	json_object *config, *f, *list;
	struct cfg_doc doc;
	struct cfg_diff diff;
	bool dry_run = false;
	int r;

	*answer = NULL;
	*submit = NULL;
	if ((r = cfg_check_keys(req, "", keys, common, err, errlen)) < 0)
		return r;
	if ((f = cfg_member(req, "dry_run")) &&
	    (r = cfg_get_bool_ex(f, "dry_run", true, &dry_run, err, errlen)) < 0)
		return r;
	if (!(config = cfg_member(req, "config")))
		return cfg_failf(-EINVAL, err, errlen, "config", "missing (the document to import)");
	if (json_object_get_type(config) != json_type_object)
		return cfg_failf(-EINVAL, err, errlen, "config", "must be an object, not %s",
				 cfg_json_type_text(config));
	/* Applied on every node, a portal list would make them all listen on
	 * the same addresses. */
	if (cfg_member(config, "portals"))
		return cfg_failf(-EINVAL, err, errlen, "portals",
				 "portals belong to each node and are not imported: remove them "
				 "from the document (gwcli portal create on each node)");
	if ((r = cfg_parse_doc(config, &doc, err, errlen)) < 0)
		goto out_doc;
	if ((r = cfg_diff_compute(gw, &doc, &diff)) < 0) {
		cfg_failf(r, err, errlen, NULL, "out of memory");
		goto out_doc;
	}
	for (size_t i = 0; i < diff.n; i++) {
		const struct cfg_change *c = &diff.changes[i];

		if (c->object == CFG_LU &&
		    (c->action == CFG_ADD || (c->changed & CFG_CHG_REPLACE)) &&
		    (r = check_new_backing(c, err, errlen)) < 0)
			goto out_diff;
	}
	list = json_object_new_array_ext((int)diff.n);
	for (size_t i = 0; i < diff.n; i++)
		json_object_array_add(list, cfg_change_json(&diff.changes[i], gw, &doc));
	*answer = json_object_new_object();
	json_object_object_add(*answer, "dry_run", json_object_new_boolean(dry_run));
	json_object_object_add(*answer, "diff", list);
	json_object_object_add(*answer, "summary", summary_json(&diff));
	if (!dry_run && diff.n) {
		*submit = json_object_new_object();
		json_object_object_add(*submit, "request", json_object_new_string("config_replace"));
		json_object_object_add(*submit, "config", json_object_get(config));
	}
out_diff:
	cfg_diff_free(&diff);
out_doc:
	cfg_doc_free(&doc);
	return r;
}
