/* State transfer between cluster nodes: the versioned snapshot of all
 * shared state (format in state_snapshot.h). */
#include "state_snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "scsi/alua.h"
#include "scsi/target_ports.h"
#include "scsi/cluster_range_lock.h"
#include "config.h"
#include "fencing.h"
#include "log.h"
#include "scsi/pr.h"
#include "state_store.h"
#include "util.h"

/* Upper bound of LUs in one snapshot: 256 LUNs per target (model.h) times
 * a generous number of targets; it only bounds the work a bad snapshot
 * can cause. */
#define SNAPSHOT_MAX_LUS 65536

/* --- taking ---------------------------------------------------------------- */

static struct json_object *mode_json(const struct lu_mode *m)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "wce", json_object_new_boolean(m->wce));
	json_object_object_add(o, "rcd", json_object_new_boolean(m->rcd));
	json_object_object_add(o, "d_sense", json_object_new_boolean(m->d_sense));
	json_object_object_add(o, "swp", json_object_new_boolean(m->swp));
	return o;
}

static struct json_object *lu_json(const struct lu *lu)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "target", json_object_new_string(lu->target->iqn));
	json_object_object_add(o, "lun", json_object_new_int64((int64_t)lu->lun));
	if (lu->pr)
		json_object_object_add(o, "pr", pr_state_to_json(lu));
	json_object_object_add(o, "mode", mode_json(&lu->mode));
	/* Port-group states and COMPARE AND WRITE claims: a joining node
	 * must grant the next claim exactly as every member does. */
	if (alua_snapshot_lu(lu, o) < 0 || cluster_range_lock_snapshot_lu(lu, o) < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

int state_snapshot_take(struct gateway *gw, char **text, size_t *len)
{
	struct json_object *root = json_object_new_object(), *config, *lus;
	struct target *t;
	struct lu *lu;
	const char *out;

	if (!root)
		return -ENOMEM;
	json_object_object_add(root, "format", json_object_new_string(STATE_SNAPSHOT_FORMAT));
	json_object_object_add(root, "version", json_object_new_int(STATE_SNAPSHOT_VERSION));
	json_object_object_add(root, "config_version", json_object_new_int64(gw->config_version));
	/* Portals are where this node listens: never another node's business. */
	config = config_dump(gw, CONFIG_DUMP_SECRETS);
	json_object_object_del(config, "portals");
	json_object_object_add(root, "config", config);
	lus = json_object_new_array();
	json_object_object_add(root, "lus", lus);
	TAILQ_FOREACH(t, &gw->targets, link) {
		TAILQ_FOREACH(lu, &t->lus, link) {
			struct json_object *o = lu_json(lu);

			if (!o) {
				json_object_put(root);
				return -ENOMEM;
			}
			json_object_array_add(lus, o);
		}
	}
	if (alua_snapshot_members(gw, root) < 0 || target_ports_snapshot(gw, root) < 0 ||
	    fencing_snapshot(gw, root) < 0) {
		json_object_put(root);
		return -ENOMEM;
	}

	out = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
					     JSON_C_TO_STRING_NOSLASHESCAPE);
	*text = out ? strdup(out) : NULL;
	*len = *text ? strlen(*text) : 0;
	json_object_put(root);
	return *text ? 0 : -ENOMEM;
}

/* --- loading --------------------------------------------------------------- */

/* One "lus" entry, checked and parsed before anything changes. */
struct lu_entry {
	char target[ISCSI_NAME_MAX];
	uint64_t lun;
	struct pr_state *pr;     /* NULL: the LU had no reservation state */
	struct lu_mode mode;
	struct json_object *json; /* the entry itself: ALUA groups, range locks */
};

static bool get_member(struct json_object *obj, const char *name, enum json_type type,
		       struct json_object **out)
{
	return json_object_object_get_ex(obj, name, out) && json_object_is_type(*out, type);
}

static int parse_mode(struct json_object *o, struct lu_mode *mode)
{
	static const char *const names[] = { "wce", "rcd", "d_sense", "swp" };
	bool *fields[] = { &mode->wce, &mode->rcd, &mode->d_sense, &mode->swp };
	struct json_object *v;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!get_member(o, names[i], json_type_boolean, &v))
			return -1;
		*fields[i] = json_object_get_boolean(v);
	}
	return 0;
}

static int parse_lu_entry(struct json_object *o, unsigned index, struct lu_entry *e, char *err,
			  size_t errlen)
{
	struct json_object *v;
	char why[256];
	int64_t lun;

	if (!json_object_is_type(o, json_type_object) ||
	    !get_member(o, "target", json_type_string, &v) ||
	    (size_t)json_object_get_string_len(v) >= sizeof(e->target)) {
		snprintf(err, errlen, "lus[%u]: missing or bad \"target\"", index);
		return -EINVAL;
	}
	memcpy(e->target, json_object_get_string(v), (size_t)json_object_get_string_len(v) + 1);
	if (!get_member(o, "lun", json_type_int, &v) || (lun = json_object_get_int64(v)) < 0 ||
	    lun > 255) {
		snprintf(err, errlen, "lus[%u]: missing or bad \"lun\"", index);
		return -EINVAL;
	}
	e->lun = (uint64_t)lun;
	e->json = o;
	if (!get_member(o, "mode", json_type_object, &v) || parse_mode(v, &e->mode) < 0) {
		snprintf(err, errlen, "lus[%u]: missing or bad \"mode\"", index);
		return -EINVAL;
	}
	if (json_object_object_get_ex(o, "pr", &v)) {
		e->pr = pr_state_from_json(v, why, sizeof(why));
		if (!e->pr) {
			snprintf(err, errlen, "lus[%u].pr: %s", index, why);
			return -EINVAL;
		}
	}
	return 0;
}

static void free_entries(struct lu_entry *entries, size_t n)
{
	for (size_t i = 0; i < n; i++)
		pr_state_destroy(entries[i].pr);
	free(entries);
}

static const struct lu_entry *find_entry(const struct lu_entry *entries, size_t n,
					 const struct lu *lu)
{
	for (size_t i = 0; i < n; i++)
		if (entries[i].lun == lu->lun && strcasecmp(entries[i].target, lu->target->iqn) == 0)
			return &entries[i];
	return NULL;
}

/* Every LU takes the snapshot's reservations and mode pages; one the
 * snapshot does not describe starts with none. */
static void install_lu_state(struct gateway *gw, struct lu_entry *entries, size_t n)
{
	struct target *t;
	struct lu *lu;

	TAILQ_FOREACH(t, &gw->targets, link) {
		TAILQ_FOREACH(lu, &t->lus, link) {
			struct lu_entry *e = (struct lu_entry *)find_entry(entries, n, lu);
			struct pr_state *pr;

			if (!lu->pr)
				continue;
			if (e) {
				lu->mode.wce = e->mode.wce;
				lu->mode.rcd = e->mode.rcd;
				lu->mode.d_sense = e->mode.d_sense;
				lu->mode.swp = e->mode.swp;
			}
			pr = e && e->pr ? e->pr : pr_state_create(lu);
			if (!pr) {
				log_error("state transfer: out of memory for %s LUN %" PRIu64, t->iqn,
					  lu->lun);
				continue;
			}
			if (e)
				e->pr = NULL;   /* now the LU's */
			pr_state_install(lu, pr);
			/* Validated shapes only reach here; a refusal keeps the
			 * states derived from policy and membership. */
			if (e && alua_restore_lu(lu, e->json) < 0)
				log_warn("state transfer: ALUA states of %s LUN %" PRIu64
					 " not loaded; derived from policy", t->iqn, lu->lun);
			if (e && cluster_range_lock_restore_lu(lu, e->json) < 0)
				log_error("state transfer: COMPARE AND WRITE claims of %s LUN %"
					  PRIu64 " not loaded", t->iqn, lu->lun);
		}
	}
}

int state_snapshot_load(struct gateway *gw, const char *text, size_t len, char *err,
			size_t errlen)
{
	struct json_object *root, *v, *config, *lus, *req = NULL;
	struct lu_entry *entries = NULL;
	size_t n = 0;
	int64_t config_version = 0;
	const char *req_text;
	char why[512];
	int r = -EINVAL;

	root = config_json_parse(text, len, why, sizeof(why));
	if (!root) {
		snprintf(err, errlen, "not a state snapshot: %s", why);
		return -EINVAL;
	}
	if (!get_member(root, "format", json_type_string, &v) ||
	    strcmp(json_object_get_string(v), STATE_SNAPSHOT_FORMAT) != 0) {
		snprintf(err, errlen, "not a state snapshot (no \"format\":\"%s\")",
			 STATE_SNAPSHOT_FORMAT);
		goto out;
	}
	if (!get_member(root, "version", json_type_int, &v) ||
	    json_object_get_int64(v) != STATE_SNAPSHOT_VERSION) {
		snprintf(err, errlen, "unsupported state snapshot version %s (this build reads %d)",
			 v ? json_object_get_string(v) : "(none)", STATE_SNAPSHOT_VERSION);
		goto out;
	}
	if (get_member(root, "config_version", json_type_int, &v))
		config_version = json_object_get_int64(v);
	if (config_version < 0 || config_version > UINT32_MAX ||
	    !get_member(root, "config", json_type_object, &config) ||
	    !get_member(root, "lus", json_type_array, &lus) ||
	    json_object_array_length(lus) > SNAPSHOT_MAX_LUS) {
		snprintf(err, errlen, "state snapshot lacks \"config\", \"lus\" or a valid "
			 "\"config_version\"");
		goto out;
	}

	/* Check everything first: a bad snapshot changes nothing. */
	req = json_object_new_object();
	json_object_object_add(req, "request", json_object_new_string("config_replace"));
	json_object_object_add(req, "config", json_object_get(config));
	if ((r = config_prepare_request(gw, req, why, sizeof(why))) < 0) {
		snprintf(err, errlen, "state snapshot configuration refused: %s", why);
		goto out;
	}
	n = json_object_array_length(lus);
	entries = calloc(n ? n : 1, sizeof(*entries));
	if (!entries) {
		snprintf(err, errlen, "out of memory");
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		r = parse_lu_entry(json_object_array_get_idx(lus, i), (unsigned)i, &entries[i], err,
				   errlen);
		if (r < 0)
			goto out;
	}

	/* Replace: the membership ALUA states were derived from, then the
	 * configuration (it decides which LUs exist), then each LU's state. */
	if (fencing_restore(gw, root) < 0) {
		snprintf(err, errlen, "state snapshot has a malformed \"fencing\"");
		r = -EINVAL;
		goto out;
	}
	if (alua_restore_members(gw, root) < 0) {
		snprintf(err, errlen, "state snapshot has a malformed \"alua_members\"");
		r = -EINVAL;
		goto out;
	}
	if (target_ports_restore(gw, root) < 0) {
		snprintf(err, errlen, "state snapshot has a malformed \"target_ports\"");
		r = -EINVAL;
		goto out;
	}
	req_text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	r = config_apply_request(gw, req_text, strlen(req_text), why, sizeof(why));
	if (r < 0) {
		/* Validated above, so only a local resource failure (an LU file
		 * that cannot be opened here) gets this far. */
		snprintf(err, errlen, "state snapshot configuration not applied: %s", why);
		goto out;
	}
	gw->config_version = (uint32_t)config_version;
	install_lu_state(gw, entries, n);
	log_info("state transfer: loaded configuration version %" PRId64 " and the state of %zu LU(s)",
		 config_version, n);
	r = 0;
out:
	if (entries)
		free_entries(entries, n);
	json_object_put(req);
	json_object_put(root);
	return r;
}

/* --- the cluster service's callbacks --------------------------------------- */

int state_snapshot_cluster_take(void *owner, void **buf, size_t *len)
{
	char *text = NULL;
	int r = state_snapshot_take(owner, &text, len);

	if (r < 0) {
		log_error("state transfer: cannot take a snapshot: %s", strerror(-r));
		return r;
	}
	*buf = text;
	return 0;
}

int state_snapshot_cluster_restore(void *owner, const void *buf, size_t len)
{
	struct gateway *gw = owner;
	bool aptpl_saved_before = state_snapshot_aptpl_saved(gw);
	char err[1024];
	int r = state_snapshot_load(gw, buf, len, err, sizeof(err));

	if (r < 0) {
		log_error("state transfer: snapshot refused, local state unchanged: %s", err);
		return r;
	}
	/* The configuration file and the APTPL files were rewritten (or the
	 * latter removed): record the version they now correspond to. */
	if (gw->config_path[0] || aptpl_saved_before || state_snapshot_aptpl_saved(gw))
		state_snapshot_save_version(gw);
	return 0;
}

/* --- the saved state version ------------------------------------------------ */

#define VERSION_FILE_FORMAT "sangw-state-version"

static int version_file_path(const struct gateway *gw, char *path, size_t size)
{
	if (!gw->state_dir[0])
		return -ENOENT;
	if ((size_t)snprintf(path, size, "%s/state-version.json", gw->state_dir) >= size)
		return -ENAMETOOLONG;
	return 0;
}

int state_snapshot_write_version(const struct gateway *gw, uint64_t version)
{
	char path[PATH_MAX], text[128];
	int r;

	if (version_file_path(gw, path, sizeof(path)) < 0)
		return -ENOENT;
	snprintf(text, sizeof(text), "{\"format\":\"%s\",\"state_version\":%" PRIu64 "}\n",
		 VERSION_FILE_FORMAT, version);
	r = write_file_atomic(path, text, strlen(text));
	if (r < 0)
		log_error("%s: %s", path, strerror(-r));
	return r;
}

void state_snapshot_save_version(struct gateway *gw)
{
	if (!gw->cluster)
		return;
	state_snapshot_write_version(gw, gw->cluster->state_version);
	/* The same state, kept outside the node too (state_store.h). */
	state_store_publish(gw, gw->cluster->state_version);
}

bool state_snapshot_aptpl_saved(const struct gateway *gw)
{
	char dir[PATH_MAX];
	struct dirent *e;
	bool found = false;
	DIR *d;

	if (!gw->state_dir[0] ||
	    (size_t)snprintf(dir, sizeof(dir), "%s/pr", gw->state_dir) >= sizeof(dir) ||
	    !(d = opendir(dir)))
		return false;
	while (!found && (e = readdir(d)))
		found = strlen(e->d_name) > 5 && strcmp(e->d_name + strlen(e->d_name) - 5, ".json") == 0;
	closedir(d);
	return found;
}

bool state_snapshot_saved_state(void *owner, uint64_t *version)
{
	struct gateway *gw = owner;
	struct json_object *root, *v;
	char path[PATH_MAX];
	bool saved = (gw->config_path[0] && access(gw->config_path, F_OK) == 0) ||
		     state_snapshot_aptpl_saved(gw);

	*version = 0;
	if (version_file_path(gw, path, sizeof(path)) < 0 || access(path, F_OK) < 0)
		return saved;
	root = json_object_from_file(path);
	if (root && get_member(root, "format", json_type_string, &v) &&
	    strcmp(json_object_get_string(v), VERSION_FILE_FORMAT) == 0 &&
	    get_member(root, "state_version", json_type_int, &v) && json_object_get_int64(v) >= 0)
		*version = (uint64_t)json_object_get_int64(v);
	else
		log_error("%s: malformed, ignored (this node's saved state counts as the oldest)", path);
	json_object_put(root);
	return true;
}
