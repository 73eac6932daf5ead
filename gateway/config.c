/* The configuration's life cycle: loading the file at startup, clearing
 * the model at exit, and reloading (SIGHUP, the "reload" request) as a
 * config_replace operation through the cluster service. config.h explains
 * the flow; the pieces are config_json.c (JSON and paths), config_validate.c
 * (single values), config_params.c (target parameters), config_parse.c (the
 * document), config_edit.c (model edits), config_diff.c (what a document
 * changes), config_apply.c (making those changes), config_dump.c (the
 * model as JSON), config_requests.c (the management requests) and
 * config_export.c (export and import). */
#include "config_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster_status.h"
#include "log.h"
#include "shared_state.h"
#include "util.h"

int config_load_text(struct gateway *gw, const char *text, size_t len, char *err, size_t errlen)
{
	struct cfg_doc doc;
	json_object *root = cfg_parse_json_text(text, len, err, errlen);
	int r;

	if (!root)
		return -EINVAL;
	r = cfg_parse_doc(root, &doc, err, errlen);
	json_object_put(root);
	if (r == 0 && !TAILQ_EMPTY(&gw->targets))
		r = cfg_failf(-EBUSY, err, errlen, NULL, "the gateway already has targets");
	if (r == 0)
		r = cfg_apply_doc(gw, &doc, true, err, errlen);
	cfg_doc_free(&doc);
	return r;
}

int config_load(struct gateway *gw, const char *path, char *err, size_t errlen)
{
	char abs[PATH_MAX], msg[1024], *text = NULL;
	size_t len = 0;
	int r;

	if (path[0] != '/') {
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd)) ||
		    (size_t)snprintf(abs, sizeof(abs), "%s/%s", cwd, path) >= sizeof(abs))
			return cfg_failf(-ENAMETOOLONG, err, errlen, NULL, "%s: path too long", path);
	} else if (str_copy(abs, path, sizeof(abs)) >= sizeof(abs)) {
		return cfg_failf(-ENAMETOOLONG, err, errlen, NULL, "%s: path too long", path);
	}
	r = cfg_read_text_file(abs, &text, &len);
	if (r == -ENOENT) {
		log_warn("config: %s does not exist yet; starting empty, it is written on the first change",
			 abs);
		text = strdup("{}");
		len = 2;
		if (!text)
			return -ENOMEM;
	} else if (r < 0) {
		return cfg_failf(r, err, errlen, NULL, "cannot read %s: %s", abs, strerror(-r));
	}
	r = config_load_text(gw, text, len, msg, sizeof(msg));
	free(text);
	if (r < 0)
		return cfg_failf(r, err, errlen, NULL, "%s: %s", abs, msg);
	str_copy(gw->config_path, abs, sizeof(gw->config_path));
	log_info("config: loaded %s", abs);
	return 0;
}

void config_model_clear(struct gateway *gw)
{
	struct target *t;
	struct portal *p;

	while ((t = TAILQ_FIRST(&gw->targets)))
		target_destroy(t);
	while ((p = TAILQ_FIRST(&gw->portals))) {
		TAILQ_REMOVE(&gw->portals, p, link);
		free(p);
	}
}

int config_reload_submit(struct gateway *gw, cluster_done_fn done, void *ctx,
			 char *err, size_t errlen)
{
	struct cfg_doc doc;
	json_object *root, *req;
	const char *payload;
	char msg[1024], *text = NULL;
	size_t len = 0;
	int r;

	if (!gw->config_path[0])
		return cfg_failf(-ENOENT, err, errlen, NULL,
				 "no configuration file in use (sangwd was started without --config)");
	/* Unlike at startup, a missing file is an error: it would remove everything. */
	if ((r = cfg_read_text_file(gw->config_path, &text, &len)) < 0)
		return cfg_failf(r, err, errlen, NULL, "cannot read %s: %s", gw->config_path, strerror(-r));
	root = cfg_parse_json_text(text, len, msg, sizeof(msg));
	free(text);
	if (!root)
		return cfg_failf(-EINVAL, err, errlen, NULL, "%s: %s", gw->config_path, msg);
	r = cfg_parse_doc(root, &doc, msg, sizeof(msg));
	if (r < 0) {
		cfg_doc_free(&doc);
		json_object_put(root);
		return cfg_failf(r, err, errlen, NULL, "%s: %s", gw->config_path, msg);
	}
	if (!gw->cluster) {
		cfg_doc_free(&doc);
		json_object_put(root);
		return cfg_failf(-ENOTCONN, err, errlen, NULL, "no cluster service");
	}
	/* Portals are where this node listens: the file's portals apply here
	 * at once; the rest goes to every node (which keep their own). */
	r = cfg_update_portals(gw, &doc, msg, sizeof(msg));
	cfg_doc_free(&doc);
	if (r < 0) {
		json_object_put(root);
		return cfg_failf(r, err, errlen, NULL, "%s: %s", gw->config_path, msg);
	}
	json_object_object_del(root, "portals");
	req = json_object_new_object();
	json_object_object_add(req, "request", json_object_new_string("config_replace"));
	json_object_object_add(req, "config", root);
	payload = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	r = cluster_submit(gw->cluster, SOP_CONFIG, payload, (uint32_t)strlen(payload), done, ctx);
	json_object_put(req);
	if (r == -EAGAIN) {
		char why[1024];

		cluster_status_unavailable(gw, why, sizeof(why));
		return cfg_failf(r, err, errlen, NULL, "cannot submit the reload: %s", why);
	}
	if (r < 0)
		return cfg_failf(r, err, errlen, NULL, "cannot submit the reload: %s", strerror(-r));
	return 0;
}

static void reload_done(void *ctx, int result)
{
	struct gateway *gw = ctx;

	if (result == 0)
		log_info("config: reloaded %s (configuration version %u)", gw->config_path,
			 gw->config_version);
	else
		log_error("config: reload of %s failed: %s", gw->config_path, strerror(-result));
}

int config_reload(struct gateway *gw, char *err, size_t errlen)
{
	return config_reload_submit(gw, reload_done, gw, err, errlen);
}
