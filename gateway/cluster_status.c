/* gwcli status / sessions / stats across the cluster (cluster_status.h).
 * Questions and answers are JSON text: {"q":"status"} and the node's
 * report. docs/management-api.md documents the merged answers. */
#include "cluster_status.h"

#include <errno.h>
#include <stdint.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../cluster/cluster.h"
#include "config.h"
#include "log.h"
#include "mgmt.h"
#include "scsi/alua.h"
#include "util.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

static const char *const question_names[] = {
	[CLUSTER_Q_STATUS] = "status",
	[CLUSTER_Q_SESSIONS] = "sessions",
	[CLUSTER_Q_STATS] = "stats",
};

/* ------------------------------------------------------------------------
 * This node's answers.
 * ---------------------------------------------------------------------- */

/* A JSON text of known length (not NUL-terminated); NULL if it is not. */
static json_object *parse_json(const void *data, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	json_object *obj;

	if (!tok || len > INT32_MAX) {
		json_tokener_free(tok);
		return NULL;
	}
	obj = json_tokener_parse_ex(tok, data, (int)len);
	if (obj && json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_free(tok);
	return obj;
}

static void add_int(json_object *o, const char *key, int64_t v)
{
	json_object_object_add(o, key, json_object_new_int64(v));
}

/* The node's own report: who it is, what it thinks of the cluster, its
 * configuration version, portals, sessions and, per LU, the state of its
 * own port group (what an initiator's RTPG through it shows for it). */
static json_object *status_report(struct gateway *gw)
{
	json_object *o = json_object_new_object(), *portals = json_object_new_array();
	json_object *alua = json_object_new_object();
	struct cluster_view view;
	struct it_nexus *nx;
	struct portal *p;
	struct target *t;
	int64_t sessions = 0;

	cluster_view(gw->cluster, &view);
	add_int(o, "id", gw->node_id);
	json_object_object_add(o, "version", json_object_new_string(PACKAGE_VERSION));
	json_object_object_add(o, "quorate", json_object_new_boolean(view.quorate));
	json_object_object_add(o, "ready", json_object_new_boolean(gw->cluster_ready));
	add_int(o, "config_version", gw->config_version);
	add_int(o, "state_version", (int64_t)gw->cluster->state_version);
	TAILQ_FOREACH(p, &gw->portals, link)
		json_object_array_add(portals, config_portal_json(p));
	json_object_object_add(o, "portals", portals);
	TAILQ_FOREACH(nx, &gw->nexuses, link)
		sessions++;
	add_int(o, "sessions", sessions);
	TAILQ_FOREACH(t, &gw->targets, link) {
		json_object *luns = json_object_new_object();
		struct lu *lu;

		TAILQ_FOREACH(lu, &t->lus, link) {
			const char *state = alua_group_state_name(lu, gw->node_id);
			char key[24];

			snprintf(key, sizeof(key), "%llu", (unsigned long long)lu->lun);
			json_object_object_add(luns, key, state ? json_object_new_string(state) : NULL);
		}
		json_object_object_add(alua, t->iqn, luns);
	}
	json_object_object_add(o, "alua", alua);
	return o;
}

/* Many sessions: their fabric details (connections, parameters, counters)
 * would not fit in one answer; the node's own "sessions" request has them. */
static void drop_session_details(json_object *answer)
{
	json_object *list;

	if (!json_object_object_get_ex(answer, "sessions", &list))
		return;
	for (size_t i = 0; i < json_object_array_length(list); i++)
		json_object_object_del(json_object_array_get_idx(list, i), "details");
	json_object_object_add(answer, "details_omitted", json_object_new_boolean(true));
}

int cluster_status_answer(void *owner, const void *question, uint32_t len, void **reply,
			  size_t *reply_len)
{
	struct gateway *gw = owner;
	json_object *q = parse_json(question, len), *answer = NULL, *v;
	const char *text;

	if (!q || !json_object_object_get_ex(q, "q", &v) || !json_object_is_type(v, json_type_string)) {
		log_warn("cluster: a member asked a question this node does not understand");
		json_object_put(q);
		return -EINVAL;
	}
	if (strcmp(json_object_get_string(v), "status") == 0) {
		answer = status_report(gw);
	} else if (strcmp(json_object_get_string(v), "sessions") == 0) {
		answer = json_object_new_object();
		json_object_object_add(answer, "sessions", mgmt_sessions_json(gw));
		text = json_object_to_json_string_ext(answer, JSON_C_TO_STRING_PLAIN);
		if (strlen(text) > CLUSTER_ANSWER_MAX)
			drop_session_details(answer);
	} else if (strcmp(json_object_get_string(v), "stats") == 0) {
		answer = json_object_new_object();
		json_object_object_add(answer, "luns", mgmt_stats_json(gw));
	}
	json_object_put(q);
	if (!answer)
		return -EINVAL;   /* a newer node's question: it shows us as not answering */
	text = json_object_to_json_string_ext(answer, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	*reply_len = strlen(text);
	*reply = strdup(text);
	json_object_put(answer);
	return *reply ? 0 : -ENOMEM;
}

/* ------------------------------------------------------------------------
 * Asking, and merging the answers.
 * ---------------------------------------------------------------------- */

struct asking {
	struct gateway *gw;
	enum cluster_question q;
	cluster_status_done_fn done;
	void *ctx;
};

/* A node of the view with what it answered (NULL: nothing). */
static json_object *node_entry(const struct cluster_node *n, json_object *answer)
{
	json_object *o = json_object_new_object();

	add_int(o, "id", n->id);
	json_object_object_add(o, "name", json_object_new_string(n->name));
	json_object_object_add(o, "address", json_object_new_string(n->address));
	/* up: its sangwd answered. "not answering": corosync still lists it
	 * (stopped, frozen, overloaded, or cut off a moment ago). */
	json_object_object_add(o, "up", json_object_new_boolean(answer != NULL));
	json_object_object_add(o, "state", json_object_new_string(
		answer ? "up" : n->present ? "not answering" : "down"));
	return o;
}

/* "status": nodes with their reports, the quorum, and per LU the state each
 * node reports for its own port group. */
static void merge_status(struct gateway *gw, const struct cluster_view *view, json_object **answers,
			 json_object *result)
{
	json_object *nodes = json_object_new_array(), *quorum = json_object_new_object();
	json_object *present = json_object_new_array(), *missing = json_object_new_array();
	json_object *luns = json_object_new_array();
	size_t configured = 0;
	struct target *t;

	for (size_t i = 0; i < view->n_nodes; i++) {
		json_object *o = node_entry(&view->nodes[i], answers[i]);

		if (answers[i]) {
			static const char *const keys[] = { "version", "quorate", "ready", "config_version",
							    "state_version", "portals", "sessions", NULL };

			for (const char *const *k = keys; *k; k++) {
				json_object *v;

				if (json_object_object_get_ex(answers[i], *k, &v))
					json_object_object_add(o, *k, json_object_get(v));
			}
		}
		json_object_array_add(nodes, o);
		json_object_array_add(view->nodes[i].present ? present : missing,
				      json_object_new_int64(view->nodes[i].id));
		configured++;
	}
	json_object_object_add(quorum, "quorate", json_object_new_boolean(view->quorate));
	json_object_object_add(quorum, "ready", json_object_new_boolean(view->ready));
	add_int(quorum, "configured", (int64_t)configured);
	add_int(quorum, "needed", (int64_t)(configured / 2 + 1));
	json_object_object_add(quorum, "present", present);
	json_object_object_add(quorum, "missing", missing);

	/* The LUs as this node knows them, each node's view of its own group. */
	TAILQ_FOREACH(t, &gw->targets, link) {
		struct lu *lu;

		TAILQ_FOREACH(lu, &t->lus, link) {
			json_object *o = json_object_new_object(), *alua = json_object_new_object();
			char lun[24];

			snprintf(lun, sizeof(lun), "%llu", (unsigned long long)lu->lun);
			for (size_t i = 0; i < view->n_nodes; i++) {
				json_object *by_target, *by_lun = NULL, *state = NULL;
				char id[16];

				if (answers[i] && json_object_object_get_ex(answers[i], "alua", &by_target) &&
				    json_object_object_get_ex(by_target, t->iqn, &by_lun))
					json_object_object_get_ex(by_lun, lun, &state);
				snprintf(id, sizeof(id), "%u", view->nodes[i].id);
				json_object_object_add(alua, id, state ? json_object_get(state) : NULL);
			}
			json_object_object_add(o, "target", json_object_new_string(t->iqn));
			add_int(o, "lun", (int64_t)lu->lun);
			json_object_object_add(o, "alua", alua);
			json_object_array_add(luns, o);
		}
	}
	add_int(result, "node_id", gw->node_id);
	json_object_object_add(result, "cluster", json_object_new_string(gw->cluster->ops->name));
	json_object_object_add(result, "quorum", quorum);
	json_object_object_add(result, "nodes", nodes);
	json_object_object_add(result, "luns", luns);
}

/* "sessions": every node's sessions with a "node" member; "stats": the
 * nodes each with its "luns". Both list the nodes and their state. */
static void merge_per_node(const struct cluster_view *view, enum cluster_question q,
			   json_object **answers, json_object *result)
{
	json_object *nodes = json_object_new_array(), *sessions = json_object_new_array();

	for (size_t i = 0; i < view->n_nodes; i++) {
		json_object *o = node_entry(&view->nodes[i], answers[i]), *list;

		if (q == CLUSTER_Q_SESSIONS && answers[i] &&
		    json_object_object_get_ex(answers[i], "sessions", &list) &&
		    json_object_is_type(list, json_type_array)) {
			add_int(o, "sessions", (int64_t)json_object_array_length(list));
			if (json_object_object_get_ex(answers[i], "details_omitted", NULL))
				json_object_object_add(o, "details_omitted", json_object_new_boolean(true));
			for (size_t k = 0; k < json_object_array_length(list); k++) {
				json_object *s = json_object_array_get_idx(list, k);

				add_int(s, "node", view->nodes[i].id);
				json_object_array_add(sessions, json_object_get(s));
			}
		}
		if (q == CLUSTER_Q_STATS && answers[i] && json_object_object_get_ex(answers[i], "luns", &list))
			json_object_object_add(o, "luns", json_object_get(list));
		json_object_array_add(nodes, o);
	}
	json_object_object_add(result, "nodes", nodes);
	if (q == CLUSTER_Q_SESSIONS)
		json_object_object_add(result, "sessions", sessions);
	else
		json_object_put(sessions);
}

static void answers_in(void *ctx, const struct cluster_answer *answers, size_t n)
{
	struct asking *a = ctx;
	struct gateway *gw = a->gw;
	struct cluster_view view;
	json_object *by_node[CLUSTER_NODES_MAX] = { NULL };
	json_object *result = json_object_new_object();

	cluster_view(gw->cluster, &view);
	for (size_t k = 0; k < n; k++) {
		size_t i;

		for (i = 0; i < view.n_nodes && view.nodes[i].id != answers[k].node; i++)
			;
		if (i == view.n_nodes) {   /* answered, then left the view: show it anyway */
			if (view.n_nodes == CLUSTER_NODES_MAX)
				continue;
			view.nodes[view.n_nodes++] = (struct cluster_node){ .id = answers[k].node };
		}
		if (!by_node[i])
			by_node[i] = parse_json(answers[k].data, answers[k].len);
	}
	if (a->q == CLUSTER_Q_STATUS)
		merge_status(gw, &view, by_node, result);
	else
		merge_per_node(&view, a->q, by_node, result);
	for (size_t i = 0; i < view.n_nodes; i++)
		json_object_put(by_node[i]);
	a->done(a->ctx, result, NULL);
	free(a);
}

int cluster_status_ask(struct gateway *gw, enum cluster_question q, uint32_t timeout_ms,
		       cluster_status_done_fn done, void *ctx, char *err, size_t errlen)
{
	struct asking *a;
	char question[64];
	int r;

	if (!gw->cluster) {
		snprintf(err, errlen, "no cluster service is running");
		return -ENOTCONN;
	}
	if (!(a = calloc(1, sizeof(*a)))) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	*a = (struct asking){ .gw = gw, .q = q, .done = done, .ctx = ctx };
	snprintf(question, sizeof(question), "{\"q\":\"%s\"}", question_names[q]);
	r = cluster_ask(gw->cluster, question, (uint32_t)strlen(question), timeout_ms, answers_in, a);
	if (r < 0) {
		free(a);
		snprintf(err, errlen, "cannot ask the cluster's nodes: %s", strerror(-r));
	}
	return r;
}

/* ------------------------------------------------------------------------
 * Errors that name what is missing.
 * ---------------------------------------------------------------------- */

static void describe_node(const struct cluster_node *n, char *buf, size_t len)
{
	if (n->name[0] && n->address[0] && strcmp(n->name, n->address) != 0)
		snprintf(buf, len, "node %u (%s, %s)", n->id, n->name, n->address);
	else if (n->name[0] || n->address[0])
		snprintf(buf, len, "node %u (%s)", n->id, n->name[0] ? n->name : n->address);
	else
		snprintf(buf, len, "node %u", n->id);
}

void cluster_status_unavailable(struct gateway *gw, char *buf, size_t len)
{
	struct cluster_view view;
	size_t used, n_missing = 0, configured;

	if (!gw->cluster) {
		snprintf(buf, len, "no cluster service is running");
		return;
	}
	cluster_view(gw->cluster, &view);
	configured = view.n_nodes;
	if (view.quorate) {
		snprintf(buf, len, "this node has not synchronised with the cluster yet; try again in a "
			 "few seconds ('gwcli status' shows each node)");
		return;
	}
	used = (size_t)snprintf(buf, len, "the cluster has no quorum: ");
	for (size_t i = 0; i < view.n_nodes && used < len; i++) {
		char who[2 * CLUSTER_NODE_NAME_MAX + 32];

		if (view.nodes[i].present)
			continue;
		describe_node(&view.nodes[i], who, sizeof(who));
		used += (size_t)snprintf(buf + used, len - used, "%s%s", n_missing ? ", " : "", who);
		n_missing++;
	}
	if (used < len)
		snprintf(buf + used, len - used,
			 "%s; changes need %zu of the %zu configured nodes. Start the missing "
			 "nodes or mend the network; read-only commands still work",
			 n_missing == 0 ? "no node is missing but corosync reports no quorum"
			 : n_missing == 1 ? " is missing" : " are missing",
			 configured / 2 + 1, configured);
}
