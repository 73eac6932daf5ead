/* The state store: the document, the newest-wins decision at start-up and
 * the one table of store kinds (state_store.h). */
#include "state_store.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "config.h"
#include "log.h"
#include "state_snapshot.h"
#include "util.h"

#ifdef HAVE_RBD
extern const struct state_store_ops rados_state_ops;   /* rbd/rados_state.c */
#endif

static const struct state_store_ops *const store_kinds[] = {
#ifdef HAVE_RBD
	&rados_state_ops,
#endif
	NULL,
};

/* The process' store: chosen once by --state-store, then read-only; the
 * store keeps its own state behind its ops. */
static struct {
	const struct state_store_ops *ops;
	bool publish_local;          /* recover: local newer than stored */
	uint64_t local_version;
} state_store;

int state_store_configure(const char *option, char *err, size_t errlen)
{
	const char *colon = strchr(option, ':');
	size_t kind_len = colon ? (size_t)(colon - option) : strlen(option);

	for (size_t i = 0; store_kinds[i]; i++) {
		if (strlen(store_kinds[i]->kind) != kind_len ||
		    strncmp(store_kinds[i]->kind, option, kind_len) != 0)
			continue;
		if (!colon) {
			snprintf(err, errlen, "%s: expected %s:SPEC", option, store_kinds[i]->kind);
			return -EINVAL;
		}
		if (store_kinds[i]->configure(colon + 1, err, errlen) < 0)
			return -EINVAL;
		state_store.ops = store_kinds[i];
		return 0;
	}
	snprintf(err, errlen, "%.*s: unknown state store (this build has: %s)", (int)kind_len, option,
		 store_kinds[0] ? store_kinds[0]->kind : "none");
	return -EINVAL;
}

bool state_store_enabled(void)
{
	return state_store.ops != NULL;
}

/* --- the document ------------------------------------------------------------ */

bool stored_state_aptpl_name_ok(const char *name)
{
	size_t n = strlen(name);

	/* pr.c names them HASH-LUN.json; anything else could leave STATE_DIR/pr. */
	if (n < 6 || n > 64 || name[0] == '.' || strcmp(name + n - 5, ".json") != 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'z') ||
		      (name[i] >= 'A' && name[i] <= 'Z') || name[i] == '-' || name[i] == '_' ||
		      name[i] == '.'))
			return false;
	return true;
}

bool state_store_remote_wins(bool local_saved, uint64_t local_version, uint64_t remote_version)
{
	/* Nothing kept here (a wiped or new state dir): anything stored is
	 * more than that. Otherwise only a newer version replaces ours; at
	 * equal versions the states are equal (state_snapshot.h). */
	return !local_saved || remote_version > local_version;
}

void stored_state_free(struct stored_state *s)
{
	json_object_put(s->root);
	memset(s, 0, sizeof(*s));
}

int stored_state_parse(const char *text, size_t len, struct stored_state *out, char *err,
		       size_t errlen)
{
	struct json_object *root, *v;
	char why[512];

	memset(out, 0, sizeof(*out));
	root = config_json_parse(text, len, why, sizeof(why));
	if (!root) {
		snprintf(err, errlen, "not JSON: %s", why);
		return -EINVAL;
	}
	if (!json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "format", &v) || !json_object_is_type(v, json_type_string) ||
	    strcmp(json_object_get_string(v), STATE_STORE_FORMAT) != 0) {
		snprintf(err, errlen, "not a stored state (no \"format\":\"%s\")", STATE_STORE_FORMAT);
		goto bad;
	}
	if (!json_object_object_get_ex(root, "version", &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) != STATE_STORE_VERSION) {
		snprintf(err, errlen, "unsupported stored state version (this build reads %d)",
			 STATE_STORE_VERSION);
		goto bad;
	}
	if (!json_object_object_get_ex(root, "state_version", &v) ||
	    !json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0) {
		snprintf(err, errlen, "missing or bad \"state_version\"");
		goto bad;
	}
	out->state_version = (uint64_t)json_object_get_int64(v);
	if (json_object_object_get_ex(root, "config", &v)) {
		if (!json_object_is_type(v, json_type_object)) {
			snprintf(err, errlen, "\"config\" is not an object");
			goto bad;
		}
		out->config = v;
	}
	if (!json_object_object_get_ex(root, "aptpl", &v) || !json_object_is_type(v, json_type_object)) {
		snprintf(err, errlen, "missing or bad \"aptpl\"");
		goto bad;
	}
	out->aptpl = v;
	json_object_object_foreach(v, name, doc) {
		if (!stored_state_aptpl_name_ok(name) || !json_object_is_type(doc, json_type_object)) {
			snprintf(err, errlen, "aptpl: bad entry \"%.64s\"", name);
			goto bad;
		}
	}
	out->root = root;
	return 0;
bad:
	json_object_put(root);
	memset(out, 0, sizeof(*out));
	return -EINVAL;
}

/* Every APTPL file under STATE_DIR/pr, by name. */
static struct json_object *aptpl_files_json(const struct gateway *gw)
{
	struct json_object *files = json_object_new_object();
	char dir[PATH_MAX], path[PATH_MAX + 300];
	struct dirent *e;
	DIR *d;

	if (!gw->state_dir[0] ||
	    (size_t)snprintf(dir, sizeof(dir), "%s/pr", gw->state_dir) >= sizeof(dir) ||
	    !(d = opendir(dir)))
		return files;
	while ((e = readdir(d))) {
		struct json_object *doc;

		if (!stored_state_aptpl_name_ok(e->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		doc = json_object_from_file(path);
		if (doc && json_object_is_type(doc, json_type_object))
			json_object_object_add(files, e->d_name, doc);
		else {
			log_error("state store: %s is not a JSON object; not stored", path);
			json_object_put(doc);
		}
	}
	closedir(d);
	return files;
}

char *state_store_document(struct gateway *gw, uint64_t version, size_t *len)
{
	struct json_object *root = json_object_new_object();
	const char *text;
	char *copy;

	json_object_object_add(root, "format", json_object_new_string(STATE_STORE_FORMAT));
	json_object_object_add(root, "version", json_object_new_int(STATE_STORE_VERSION));
	json_object_object_add(root, "state_version", json_object_new_int64((int64_t)version));
	if (gw->config_path[0]) {
		struct json_object *config = config_dump(gw, CONFIG_DUMP_SECRETS);

		json_object_object_del(config, "portals");
		json_object_object_add(root, "config", config);
	}
	json_object_object_add(root, "aptpl", aptpl_files_json(gw));
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	copy = text ? strdup(text) : NULL;
	*len = copy ? strlen(copy) : 0;
	json_object_put(root);
	return copy;
}

/* --- start-up ------------------------------------------------------------------ */

/* The stored configuration with this node's own portals (from its file,
 * if it has one) written to gw->config_path. */
static int restore_config(struct gateway *gw, struct json_object *config)
{
	struct json_object *doc = json_object_new_object(), *local, *portals;
	const char *text;
	char *file = NULL;
	int r;

	local = access(gw->config_path, F_OK) == 0 ? json_object_from_file(gw->config_path) : NULL;
	if (local && json_object_object_get_ex(local, "portals", &portals))
		json_object_object_add(doc, "portals", json_object_get(portals));
	json_object_object_foreach(config, key, val)
		if (strcmp(key, "portals") != 0)
			json_object_object_add(doc, key, json_object_get(val));
	text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	r = text && asprintf(&file, "%s\n", text) >= 0 ? 0 : -ENOMEM;
	if (r == 0)
		r = write_file_atomic(gw->config_path, file, strlen(file));
	if (r < 0)
		log_error("state store: cannot write %s: %s", gw->config_path, strerror(-r));
	free(file);
	json_object_put(local);
	json_object_put(doc);
	return r;
}

/* STATE_DIR/pr holds exactly the stored APTPL files afterwards. */
static int restore_aptpl(struct gateway *gw, struct json_object *aptpl)
{
	char dir[PATH_MAX], path[PATH_MAX + 300];
	struct dirent *e;
	DIR *d;
	int r = 0;

	if ((size_t)snprintf(dir, sizeof(dir), "%s/pr", gw->state_dir) >= sizeof(dir))
		return -ENAMETOOLONG;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		log_error("state store: cannot create %s: %s", dir, strerror(errno));
		return -errno;
	}
	if ((d = opendir(dir))) {
		while ((e = readdir(d))) {
			if (!stored_state_aptpl_name_ok(e->d_name) ||
			    json_object_object_get_ex(aptpl, e->d_name, NULL))
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			if (unlink(path) < 0)
				log_warn("state store: cannot remove %s: %s", path, strerror(errno));
		}
		closedir(d);
	}
	json_object_object_foreach(aptpl, name, doc) {
		const char *text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY);
		int w;

		snprintf(path, sizeof(path), "%s/%s", dir, name);
		w = write_file_atomic(path, text, strlen(text));
		if (w < 0) {
			log_error("state store: cannot write %s: %s", path, strerror(-w));
			r = w;
		}
	}
	return r;
}

void state_store_recover(struct gateway *gw)
{
	struct state_store_status st;
	struct stored_state s;
	uint64_t local_version = 0;
	bool local_saved;
	char err[512], *text = NULL;
	size_t len = 0;
	int r;

	if (!state_store.ops)
		return;
	state_store.ops->status(&st);
	local_saved = state_snapshot_saved_state(gw, &local_version);
	r = state_store.ops->read(&text, &len, err, sizeof(err));
	if (r == -ENOENT) {
		log_info("state store %s: nothing stored yet", st.where);
		state_store.publish_local = local_saved;
		state_store.local_version = local_version;
		return;
	}
	if (r < 0) {
		log_error("state store %s: cannot read the stored state, starting from the local "
			  "state: %s", st.where, err);
		return;
	}
	r = stored_state_parse(text, len, &s, err, sizeof(err));
	free(text);
	if (r < 0) {
		log_error("state store %s: the stored state is malformed, starting from the local "
			  "state: %s", st.where, err);
		return;
	}
	if (!state_store_remote_wins(local_saved, local_version, s.state_version)) {
		log_info("state store %s: stored version %" PRIu64 ", local version %" PRIu64
			 ": keeping the local state", st.where, s.state_version, local_version);
		if (local_version > s.state_version) {
			state_store.publish_local = true;
			state_store.local_version = local_version;
		}
		stored_state_free(&s);
		return;
	}
	/* The stored state wins: it becomes this node's saved state. */
	if (s.config && gw->config_path[0])
		restore_config(gw, s.config);
	else if (s.config)
		log_warn("state store %s: a configuration is stored but sangwd has no --config to "
			 "write it to; only the APTPL state is restored", st.where);
	restore_aptpl(gw, s.aptpl);
	state_snapshot_write_version(gw, s.state_version);
	log_info("state store %s: restored state version %" PRIu64 " (%s, %d APTPL file(s)); the "
		 "local state was %s%" PRIu64, st.where, s.state_version,
		 s.config ? "configuration" : "no configuration", json_object_object_length(s.aptpl),
		 local_saved ? "version " : "empty, version ", local_version);
	stored_state_free(&s);
}

void state_store_started(struct gateway *gw)
{
	if (state_store.ops && state_store.publish_local && state_store.local_version > 0)
		state_store_publish(gw, state_store.local_version);
	state_store.publish_local = false;
}

void state_store_publish(struct gateway *gw, uint64_t version)
{
	size_t len;
	char *text;

	if (!state_store.ops)
		return;
	text = state_store_document(gw, version, &len);
	if (!text) {
		log_error("state store: out of memory for the document of version %" PRIu64, version);
		return;
	}
	state_store.ops->write(text, len, version);
}

void state_store_status_json(struct json_object *out)
{
	struct state_store_status st;
	struct json_object *o;

	if (!state_store.ops)
		return;
	state_store.ops->status(&st);
	o = json_object_new_object();
	json_object_object_add(o, "where", json_object_new_string(st.where));
	json_object_object_add(o, "version_queued", json_object_new_int64((int64_t)st.version_queued));
	json_object_object_add(o, "version_written", json_object_new_int64((int64_t)st.version_written));
	json_object_object_add(o, "version_stored", json_object_new_int64((int64_t)st.version_stored));
	json_object_object_add(o, "writes", json_object_new_int64((int64_t)st.writes));
	json_object_object_add(o, "refused", json_object_new_int64((int64_t)st.refused));
	json_object_object_add(o, "last_error", json_object_new_string(st.last_error));
	json_object_object_add(out, "state_store", o);
}

void state_store_shutdown(void)
{
	if (state_store.ops)
		state_store.ops->shutdown();
}
