/* The shell's object tree, built from sangwd's answers:
 *
 *   /targets/IQN/luns/LUN          list: targets[].luns[]
 *   /targets/IQN/acls/INITIATOR    list: targets[].acls[]
 *   /targets/IQN/portals/ADDR:PORT every node's portals (a target is
 *                                  reachable through all of them)
 *   /nodes/NODE/portals/ADDR:PORT  status: nodes[].portals
 *   /nodes/NODE/sessions/ID        sessions (cluster: each session's node)
 *
 * A sangwd without the status request gives this node only: list's
 * node_id and portals and its own sessions. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "shell.h"

int64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The shell's allocations: running out of memory ends gwcli. */
static void out_of_memory(void)
{
	fprintf(stderr, "gwcli: out of memory\n");
	exit(EXIT_REFUSED);
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		out_of_memory();
	return p;
}

void *xrealloc(void *p, size_t size)
{
	if (!(p = realloc(p, size ? size : 1)))
		out_of_memory();
	return p;
}

char *xstrndup(const char *s, size_t n)
{
	char *d = strndup(s, n);

	if (!d)
		out_of_memory();
	return d;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

__attribute__((format(printf, 5, 6)))
static struct tnode *node_add(struct tnode *parent, enum tnode_kind kind, const char *name, json_object *json,
			      const char *fmt, ...)
{
	struct tnode *n = xcalloc(1, sizeof(*n));
	va_list ap;

	n->kind = kind;
	n->name = xstrdup(name);
	n->json = json;
	va_start(ap, fmt);
	if (vasprintf(&n->detail, fmt, ap) < 0)
		n->detail = xstrdup("");
	va_end(ap);
	if (parent) {
		if (parent->n_child == parent->cap_child) {
			parent->cap_child = parent->cap_child ? parent->cap_child * 2 : 8;
			parent->child = xrealloc(parent->child, parent->cap_child * sizeof(*parent->child));
		}
		parent->child[parent->n_child++] = n;
		n->parent = parent;
	}
	return n;
}

static void node_free(struct tnode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n_child; i++)
		node_free(n->child[i]);
	free(n->child);
	free(n->name);
	free(n->detail);
	free(n);
}

static const char *plural(int64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* JSON the tree made up: kept in t->made so it lives as long as the tree. */
static json_object *made(struct tree *t, json_object *obj)
{
	json_object_array_add(t->made, obj);
	return obj;
}

/* ---- /targets ---- */

static void add_lun(struct tnode *luns, json_object *lu)
{
	json_object *groups = array_of(lu, "port_groups");
	const char *backing = str_of(lu, "backing"), *error = str_of(lu, "backing_error");
	char size[32], alua[256] = "", name[24], opening[300] = "";
	size_t used = 0;

	/* A network backing opens in the background (NOT READY till then). */
	if (backing[0] && strcmp(backing, "ready") != 0)
		snprintf(opening, sizeof(opening), "  backing %s%s%s", backing, error[0] ? ": " : "", error);

	human_size((uint64_t)int_of(lu, "size_bytes"), size, sizeof(size));
	for (size_t i = 0; groups && i < json_object_array_length(groups) && used < sizeof(alua); i++) {
		json_object *g = json_object_array_get_idx(groups, i);

		used += (size_t)snprintf(alua + used, sizeof(alua) - used, "%s%lld %s", i ? ", " : "  [tpg ",
					 (long long)int_of(g, "id"), str_of(g, "state"));
	}
	if (used && used < sizeof(alua) - 1)
		strcat(alua, "]");
	snprintf(name, sizeof(name), "%lld", (long long)int_of(lu, "lun"));
	node_add(luns, TN_LUN, name, lu, "%s  %s  naa.%s%s%s%s%s", str_of(lu, "spec"), size, str_of(lu, "naa"),
		 bool_of(lu, "readonly") ? "  read-only" : "", bool_of(lu, "removing") ? "  (being removed)" : "",
		 opening, alua);
}

static void add_acl(struct tnode *acls, json_object *acl)
{
	json_object *map = array_of(acl, "lun_map");
	int64_t sessions = int_of(acl, "sessions");
	char chap[600], sees[512] = "sees every LUN";
	size_t used = 0;

	describe_chap(acl, chap, sizeof(chap));
	for (size_t k = 0; map && k < json_object_array_length(map) && used < sizeof(sees); k++) {
		json_object *e = json_object_array_get_idx(map, k);

		used += (size_t)snprintf(sees + used, sizeof(sees) - used, "%s LUN %lld as %lld", k ? "," : "sees",
					 (long long)int_of(e, "lun"), (long long)int_of(e, "mapped_lun"));
	}
	if (map && json_object_array_length(map) == 0)
		snprintf(sees, sizeof(sees), "sees no LUN");
	node_add(acls, TN_ACL, str_of(acl, "initiator"), acl, "[%s, %lld %s, %s]", chap, (long long)sessions,
		 plural(sessions, "session", "sessions"), sees);
}

/* Every portal any node listens on, with the nodes that do. */
static json_object *portals_by_address(struct tree *t, json_object *nodes)
{
	json_object *by_address = made(t, json_object_new_array());

	for (size_t i = 0; nodes && i < json_object_array_length(nodes); i++) {
		json_object *node = json_object_array_get_idx(nodes, i), *portals = array_of(node, "portals");

		for (size_t j = 0; portals && j < json_object_array_length(portals); j++) {
			char label[160];
			const char *p = portal_label(json_object_array_get_idx(portals, j), label, sizeof(label));
			json_object *entry = NULL;

			for (size_t k = 0; k < json_object_array_length(by_address) && !entry; k++)
				if (strcmp(str_of(json_object_array_get_idx(by_address, k), "portal"), p) == 0)
					entry = json_object_array_get_idx(by_address, k);
			if (!entry) {
				entry = json_object_new_object();
				json_object_object_add(entry, "portal", json_object_new_string(p));
				json_object_object_add(entry, "nodes", json_object_new_array());
				json_object_array_add(by_address, entry);
			}
			json_object_array_add(array_of(entry, "nodes"), json_object_new_int64(int_of(node, "id")));
		}
	}
	return by_address;
}

static void add_targets(struct tree *t, json_object *nodes)
{
	json_object *targets = array_of(t->list, "targets");
	json_object *portals = portals_by_address(t, nodes);
	size_t n_targets = targets ? json_object_array_length(targets) : 0;
	struct tnode *dir = node_add(t->root, TN_TARGETS, "targets", targets ? targets : made(t, json_object_new_array()),
				     "[%zu %s]", n_targets, plural((int64_t)n_targets, "target", "targets"));

	for (size_t i = 0; i < n_targets; i++) {
		json_object *tg = json_object_array_get_idx(targets, i);
		json_object *luns = array_of(tg, "luns"), *acls = array_of(tg, "acls");
		size_t n_luns = luns ? json_object_array_length(luns) : 0, n_acls = acls ? json_object_array_length(acls) : 0;
		int64_t sessions = int_of(tg, "sessions");
		struct tnode *target, *sub;
		char chap[600];

		describe_chap(tg, chap, sizeof(chap));
		target = node_add(dir, TN_TARGET, str_of(tg, "iqn"), tg, "[%s, %s, %lld %s]",
				  bool_of(tg, "demo_mode") ? "demo mode: any initiator" : "ACLs only", chap,
				  (long long)sessions, plural(sessions, "session", "sessions"));
		sub = node_add(target, TN_LUNS, "luns", luns ? luns : made(t, json_object_new_array()), "[%zu %s]",
			       n_luns, plural((int64_t)n_luns, "LUN", "LUNs"));
		for (size_t j = 0; j < n_luns; j++)
			add_lun(sub, json_object_array_get_idx(luns, j));
		sub = node_add(target, TN_ACLS, "acls", acls ? acls : made(t, json_object_new_array()), "[%zu %s]",
			       n_acls, plural((int64_t)n_acls, "ACL", "ACLs"));
		for (size_t j = 0; j < n_acls; j++)
			add_acl(sub, json_object_array_get_idx(acls, j));
		sub = node_add(target, TN_TARGET_PORTALS, "portals", portals, "[%zu %s, each node's own]",
			       json_object_array_length(portals),
			       plural((int64_t)json_object_array_length(portals), "portal", "portals"));
		for (size_t j = 0; j < json_object_array_length(portals); j++) {
			json_object *p = json_object_array_get_idx(portals, j), *on = array_of(p, "nodes");
			char where[256] = "";
			size_t used = 0;

			for (size_t k = 0; on && k < json_object_array_length(on) && used < sizeof(where); k++)
				used += (size_t)snprintf(where + used, sizeof(where) - used, "%s%lld", k ? ", " : "",
							 (long long)json_object_get_int64(json_object_array_get_idx(on, k)));
			node_add(sub, TN_TARGET_PORTAL, str_of(p, "portal"), p, "[node%s %s]",
				 on && json_object_array_length(on) > 1 ? "s" : "", where);
		}
	}
}

/* ---- /nodes ---- */

/* The sessions on one node: a session names its node (cluster-wide
 * sessions answer); without that member it is the local node's. */
static json_object *sessions_of(struct tree *t, int64_t node)
{
	json_object *all = array_of(t->sessions, "sessions"), *mine = made(t, json_object_new_array()), *v;

	for (size_t i = 0; all && i < json_object_array_length(all); i++) {
		json_object *s = json_object_array_get_idx(all, i);
		int64_t on = json_object_object_get_ex(s, "node", &v) ? json_object_get_int64(v) : t->local_node;

		if (on == node)
			json_object_array_add(mine, json_object_get(s));
	}
	return mine;
}

/* "gw1 203.0.113.1, up, quorate, ready, version 0.1.0, config version 12" */
static void describe_node(const struct tree *t, json_object *node, char *buf, size_t len)
{
	const char *state = str_of(node, "state");
	size_t used;

	if (!t->status) {
		snprintf(buf, len, "[this node; sangwd has no status request, so other nodes are not shown]");
		return;
	}
	used = (size_t)snprintf(buf, len, "[%s%s%s%s%s", str_of(node, "name"), str_of(node, "address")[0] ? " " : "",
				str_of(node, "address"), str_of(node, "name")[0] || str_of(node, "address")[0] ? ", " : "",
				state[0] ? state : bool_of(node, "up") ? "up" : "down");
	if (bool_of(node, "up") && used < len)
		used += (size_t)snprintf(buf + used, len - used, ", %s, %s, version %s, config version %lld",
					 bool_of(node, "quorate") ? "quorate" : "not quorate",
					 bool_of(node, "ready") ? "ready" : "not ready", str_of(node, "version"),
					 (long long)int_of(node, "config_version"));
	if (used < len)
		snprintf(buf + used, len - used, "]%s", int_of(node, "id") == t->local_node ? "  (this node)" : "");
}

static void add_node(struct tree *t, struct tnode *dir, json_object *node)
{
	int64_t id = int_of(node, "id");
	json_object *portals = array_of(node, "portals"), *sessions = sessions_of(t, id), *v;
	size_t n_portals = portals ? json_object_array_length(portals) : 0, n_sessions = json_object_array_length(sessions);
	struct tnode *n, *sub;
	char name[24], what[512];

	snprintf(name, sizeof(name), "%lld", (long long)id);
	describe_node(t, node, what, sizeof(what));
	n = node_add(dir, TN_NODE, name, node, "%s", what);
	sub = node_add(n, TN_NODE_PORTALS, "portals", portals ? portals : made(t, json_object_new_array()), "[%zu %s]",
		       n_portals, plural((int64_t)n_portals, "portal", "portals"));
	for (size_t i = 0; i < n_portals; i++) {
		json_object *p = json_object_array_get_idx(portals, i);
		char label[160];

		node_add(sub, TN_NODE_PORTAL, portal_label(p, label, sizeof(label)), p, "%s", "");
	}
	/* A node that did not answer has sessions nobody can count: say so rather than 0. */
	if (t->status && !bool_of(node, "up"))
		sub = node_add(n, TN_SESSIONS, "sessions", sessions, "[unknown: node %s]",
			       str_of(node, "state")[0] ? str_of(node, "state") : "down");
	else
		sub = node_add(n, TN_SESSIONS, "sessions", sessions, "[%zu %s]", n_sessions,
			       plural((int64_t)n_sessions, "session", "sessions"));
	for (size_t i = 0; i < n_sessions; i++) {
		json_object *s = json_object_array_get_idx(sessions, i);

		node_add(sub, TN_SESSION, str_of(s, "id"), s, "%s -> %s  [%s, %s]", str_of(s, "initiator_port"),
			 str_of(s, "target"), str_of(s, "fabric"),
			 json_object_object_get_ex(s, "acl", &v) && v ? "ACL" : "demo mode");
	}
}

/* "quorate: nodes 1, 2 present, 3 missing, 2 of 3 needed" */
static void describe_quorum(const struct tree *t, char *buf, size_t len)
{
	json_object *quorum = NULL, *present, *missing;
	size_t used;

	if (!t->status || !json_object_object_get_ex(t->status, "quorum", &quorum) || !quorum) {
		snprintf(buf, len, "%s", t->status ? "" : ", this one only");
		return;
	}
	present = array_of(quorum, "present");
	missing = array_of(quorum, "missing");
	used = (size_t)snprintf(buf, len, "; %s", bool_of(quorum, "quorate") ? "quorate" : "NOT QUORATE");
	for (size_t i = 0; present && i < json_object_array_length(present) && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%lld", i ? ", " : ": present ",
					 (long long)json_object_get_int64(json_object_array_get_idx(present, i)));
	for (size_t i = 0; missing && i < json_object_array_length(missing) && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%lld", i ? ", " : "; missing ",
					 (long long)json_object_get_int64(json_object_array_get_idx(missing, i)));
	if (used < len)
		snprintf(buf + used, len - used, "; %lld of %lld needed", (long long)int_of(quorum, "needed"),
			 (long long)int_of(quorum, "configured"));
}

static void build(struct tree *t)
{
	json_object *nodes = t->status ? array_of(t->status, "nodes") : NULL;
	struct tnode *dir;
	char quorum[512];

	if (!nodes) {
		/* This node only: list's node id and portals. */
		json_object *me = json_object_new_object(), *portals = array_of(t->list, "portals");

		json_object_object_add(me, "id", json_object_new_int64(t->local_node));
		json_object_object_add(me, "portals", portals ? json_object_get(portals) : json_object_new_array());
		nodes = made(t, json_object_new_array());
		json_object_array_add(nodes, me);
	}
	t->root = node_add(NULL, TN_ROOT, "", t->list, "%s", "");
	add_targets(t, nodes);
	describe_quorum(t, quorum, sizeof(quorum));
	dir = node_add(t->root, TN_NODES, "nodes", nodes, "[%zu %s%s]", json_object_array_length(nodes),
		       plural((int64_t)json_object_array_length(nodes), "node", "nodes"), quorum);
	for (size_t i = 0; i < json_object_array_length(nodes); i++)
		add_node(t, dir, json_object_array_get_idx(nodes, i));
}

/* An answer that is "ok"; NULL otherwise (put). */
static json_object *ok_or_null(json_object *resp)
{
	if (resp && !bool_of(resp, "ok")) {
		json_object_put(resp);
		return NULL;
	}
	return resp;
}

int tree_refresh(struct tree *t, const struct cli *cli)
{
	json_object *req = request_new("list"), *list, *status, *sessions;

	list = request(cli, req);
	json_object_put(req);
	if (!list)
		return -1;
	if (!bool_of(list, "ok")) {
		fprintf(stderr, "gwcli: %s\n", str_of(list, "error"));
		json_object_put(list);
		return -1;
	}
	/* status and cluster-wide sessions: a sangwd that refuses them
	 * (unknown request or key) is shown as this node alone. */
	req = cluster_request(cli, "status");
	status = ok_or_null(request(cli, req));
	json_object_put(req);
	req = cluster_request(cli, "sessions");
	sessions = ok_or_null(request(cli, req));
	json_object_put(req);
	if (!sessions) {
		req = request_new("sessions");
		sessions = ok_or_null(request(cli, req));
		json_object_put(req);
	}

	tree_build(t, list, status, sessions);
	return 0;
}

void tree_build(struct tree *t, json_object *list, json_object *status, json_object *sessions)
{
	tree_free(t);
	t->list = list;
	t->status = status;
	t->sessions = sessions;
	t->made = json_object_new_array();
	t->local_node = status ? int_of(status, "node_id") : int_of(list, "node_id");
	build(t);
	t->fetched_ms = monotonic_ms();
}

int tree_refresh_if_older(struct tree *t, const struct cli *cli, int64_t max_age_ms)
{
	if (t->root && monotonic_ms() - t->fetched_ms <= max_age_ms)
		return 0;
	return tree_refresh(t, cli);
}

void tree_free(struct tree *t)
{
	node_free(t->root);
	json_object_put(t->list);
	json_object_put(t->status);
	json_object_put(t->sessions);
	json_object_put(t->made);
	memset(t, 0, sizeof(*t));
}

/* ---- paths ---- */

struct tnode *tnode_child(const struct tnode *n, const char *name)
{
	struct tnode *nocase = NULL;

	for (size_t i = 0; i < n->n_child; i++) {
		if (strcmp(n->child[i]->name, name) == 0)
			return n->child[i];
		if (!nocase && strcasecmp(n->child[i]->name, name) == 0)
			nocase = n->child[i];
	}
	return nocase;
}

struct tnode *tree_resolve(const struct tree *t, const char *cwd, const char *path)
{
	struct tnode *n = t->root;
	char *copy, *part, *save = NULL;

	if (!n)
		return NULL;
	if (path[0] != '/' && cwd && !(n = tree_resolve(t, NULL, cwd)))
		return NULL;
	copy = xstrdup(path);
	for (part = strtok_r(copy, "/", &save); part && n; part = strtok_r(NULL, "/", &save)) {
		if (strcmp(part, ".") == 0)
			continue;
		if (strcmp(part, "..") == 0)
			n = n->parent ? n->parent : n;
		else
			n = tnode_child(n, part);
	}
	free(copy);
	return n;
}

char *tnode_path(const struct tnode *n)
{
	size_t len = 1;
	char *path;

	for (const struct tnode *p = n; p->parent; p = p->parent)
		len += strlen(p->name) + 1;
	path = xcalloc(len + 1, 1);
	path[0] = '/';
	path[len] = '\0';
	if (!n->parent)
		return path;
	len--;               /* no trailing slash */
	path[len] = '\0';
	for (const struct tnode *p = n; p->parent; p = p->parent) {
		size_t l = strlen(p->name);

		len -= l;
		memcpy(path + len, p->name, l);
		path[--len] = '/';
	}
	return path;
}

const char *tnode_part(const struct tnode *n, enum tnode_kind kind)
{
	for (; n; n = n->parent)
		if (n->kind == kind)
			return n->name;
	return NULL;
}

bool tnode_is_container(const struct tnode *n)
{
	switch (n->kind) {
	case TN_LUN:
	case TN_ACL:
	case TN_TARGET_PORTAL:
	case TN_NODE_PORTAL:
	case TN_SESSION:
		return false;
	default:
		return true;
	}
}

/* ---- ls ---- */

static void print_below(const struct tnode *n, int depth, FILE *out)
{
	for (size_t i = 0; i < n->n_child; i++) {
		const struct tnode *c = n->child[i];

		fprintf(out, "%*s%s%s%s%s\n", depth * 2, "", c->name, tnode_is_container(c) ? "/" : "",
			c->detail[0] ? "  " : "", c->detail);
		print_below(c, depth + 1, out);
	}
}

void tnode_print(const struct tnode *n, bool json, FILE *out)
{
	char *path;

	if (json) {
		fprintf(out, "%s\n", json_object_to_json_string_ext(n->json, JSON_C_TO_STRING_PLAIN |
									  JSON_C_TO_STRING_NOSLASHESCAPE));
		return;
	}
	path = tnode_path(n);
	fprintf(out, "%s%s%s\n", path, n->detail[0] ? "  " : "", n->detail);
	free(path);
	print_below(n, 1, out);
}
