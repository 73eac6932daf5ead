/* Management API server: a unix socket speaking newline-delimited JSON
 * (docs/management-api.md). Each client is served in order: while a change
 * waits for the cluster service, the client's next lines stay unread. A
 * client that sends invalid JSON, an over-long line or never reads its
 * answers is disconnected; nobody else notices. */
#include "mgmt.h"

#include <errno.h>
#include <grp.h>
#include <json-c/json.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../cluster/cluster.h"
#include "scsi/alua.h"
#include "cluster_status.h"
#include "node_role.h"
#include "config.h"
#include "event_loop.h"
#include "fencing.h"
#include "log.h"
#include "shared_state.h"
#include "state_store.h"
#include "util.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

#define READ_CHUNK 65536

struct mgmt_pending;

struct mgmt_client {
	struct mgmt_server *srv;
	int fd;
	struct ev_source src;
	uint32_t events;                 /* registered with the loop */
	uid_t uid;                       /* the peer, from SO_PEERCRED at accept */
	pid_t pid;
	char user[64];                   /* uid's name, or the number */
	char *in;                        /* bytes received, not yet a whole line */
	size_t in_len, in_cap;
	char *out;                       /* responses not yet written */
	size_t out_len, out_cap;
	bool eof;                        /* the peer shut down its sending side */
	bool closing;                    /* answer no more; close once out is empty */
	bool broken;                     /* the socket failed: close now */
	struct mgmt_pending *pending;    /* a change waiting for the cluster */
	struct ev_deferred resume;       /* go on with buffered lines after it */
	TAILQ_ENTRY(mgmt_client) link;
};

/* Outlives its client when the client leaves before the answer. */
struct mgmt_pending {
	struct mgmt_client *client;      /* NULL once the client is gone */
	json_object *response;           /* {"ok":true, "id":..., ...} to send on success */
	char request[32];
};

struct mgmt_server {
	struct gateway *gw;
	int fd;
	struct ev_source src;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	bool group_set;                  /* --mgmt-group: its members may connect too */
	gid_t gid;
	TAILQ_HEAD(, mgmt_client) clients;
	unsigned n_clients;
};

/* The one server of this process (see mgmt_start); struct gateway has no
 * slot for it. */
static struct mgmt_server *running_server;

/* ------------------------------------------------------------------------
 * Client I/O.
 * ---------------------------------------------------------------------- */

static void client_update_events(struct mgmt_client *c)
{
	uint32_t want = 0;

	if (!c->eof && !c->closing && !c->pending)
		want |= EPOLLIN;
	if (c->out_len)
		want |= EPOLLOUT;
	if (want != c->events && ev_modify(c->srv->gw->loop, &c->src, want) == 0)
		c->events = want;
}

static void client_flush(struct mgmt_client *c)
{
	while (c->out_len && !c->broken) {
		ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			c->broken = true;
			break;
		}
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
	if (c->broken)
		c->out_len = 0;
}

/* Queue one response line and try to write it now. */
static void client_send(struct mgmt_client *c, json_object *resp)
{
	const char *text = json_object_to_json_string_ext(resp, JSON_C_TO_STRING_PLAIN |
							  JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t len = strlen(text);

	if (c->broken)
		return;
	if (c->out_len + len + 1 > MGMT_MAX_OUTPUT) {
		log_warn("mgmt: client does not read its answers; closing it");
		c->broken = true;
		return;
	}
	if (c->out_len + len + 1 > c->out_cap) {
		size_t cap = MAX(c->out_cap * 2, c->out_len + len + 1);
		char *out = realloc(c->out, cap);

		if (!out) {
			c->broken = true;
			return;
		}
		c->out = out;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, text, len);
	c->out[c->out_len + len] = '\n';
	c->out_len += len + 1;
	client_flush(c);
}

static json_object *response_new(bool ok, json_object *id)
{
	json_object *resp = json_object_new_object();

	json_object_object_add(resp, "ok", json_object_new_boolean(ok));
	if (id)
		json_object_object_add(resp, "id", json_object_get(id));
	return resp;
}

__attribute__((format(printf, 3, 4)))
static void send_error(struct mgmt_client *c, json_object *id, const char *fmt, ...)
{
	json_object *resp = response_new(false, id);
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_object_add(resp, "error", json_object_new_string(msg));
	client_send(c, resp);
	json_object_put(resp);
}

static void client_destroy(struct mgmt_client *c)
{
	struct mgmt_server *srv = c->srv;

	if (c->pending)
		c->pending->client = NULL;
	ev_defer_cancel(srv->gw->loop, &c->resume);
	ev_remove(srv->gw->loop, &c->src);
	close(c->fd);
	TAILQ_REMOVE(&srv->clients, c, link);
	srv->n_clients--;
	free(c->in);
	free(c->out);
	free(c);
}

/* Called at the end of every event for this client; true when it is gone. */
static bool client_maybe_close(struct mgmt_client *c)
{
	if (c->broken || ((c->closing || (c->eof && c->in_len == 0)) && !c->pending && !c->out_len)) {
		client_destroy(c);
		return true;
	}
	client_update_events(c);
	return false;
}

/* ------------------------------------------------------------------------
 * Read-only requests.
 * ---------------------------------------------------------------------- */

static json_object *sessions_json(struct gateway *gw)
{
	json_object *arr = json_object_new_array();
	struct it_nexus *nx;

	TAILQ_FOREACH(nx, &gw->nexuses, link) {
		json_object *o = json_object_new_object();
		char text[32];
		unsigned uas = 0;
		struct ua_entry *ua;

		snprintf(text, sizeof(text), "0x%016llx", (unsigned long long)nx->id);
		json_object_object_add(o, "id", json_object_new_string(text));
		json_object_object_add(o, "initiator", json_object_new_string(nx->initiator_name));
		json_object_object_add(o, "initiator_port", json_object_new_string(nx->initiator_port));
		json_object_object_add(o, "target", json_object_new_string(nx->target ? nx->target->iqn : ""));
		json_object_object_add(o, "target_port", json_object_new_string(nx->target_port));
		snprintf(text, sizeof(text), "%02x%02x%02x%02x%02x%02x", nx->isid[0], nx->isid[1],
			 nx->isid[2], nx->isid[3], nx->isid[4], nx->isid[5]);
		json_object_object_add(o, "isid", json_object_new_string(text));
		json_object_object_add(o, "acl", nx->acl ? json_object_new_string(nx->acl->initiator) : NULL);
		json_object_object_add(o, "relative_target_port", json_object_new_int(nx->rel_tgt_port_id));
		json_object_object_add(o, "target_port_group", json_object_new_int(nx->tpg_id));
		TAILQ_FOREACH(ua, &nx->uas, link)
			uas++;
		json_object_object_add(o, "pending_unit_attentions", json_object_new_int64(uas));
		if (nx->fabric) {
			json_object *details = json_object_new_object();

			json_object_object_add(o, "fabric", json_object_new_string(nx->fabric->name));
			if (nx->fabric->describe)
				nx->fabric->describe(nx, details);
			json_object_object_add(o, "details", details);
		}
		json_object_array_add(arr, o);
	}
	return arr;
}

static json_object *stats_json(struct gateway *gw)
{
	json_object *arr = json_object_new_array();
	struct target *t;
	struct lu *lu;

	TAILQ_FOREACH(t, &gw->targets, link) {
		TAILQ_FOREACH(lu, &t->lus, link) {
			struct lu_stats sum;
			const struct lu_stats *s = &sum;
			int64_t in_flight = 0;
			json_object *o = json_object_new_object();

			/* Each thread counts its own commands (workers.h); this
			 * runs with the world stopped, so the sum is exact. */
			memset(&sum, 0, sizeof(sum));
			for (unsigned i = 0; i < LU_TASK_SETS; i++) {
				const struct lu_stats *x = &lu->stats[i];

				sum.read_cmds += x->read_cmds;
				sum.write_cmds += x->write_cmds;
				sum.other_cmds += x->other_cmds;
				sum.read_bytes += x->read_bytes;
				sum.write_bytes += x->write_bytes;
				sum.errors += x->errors;
				sum.read_ns += x->read_ns;
				sum.write_ns += x->write_ns;
				in_flight += lu->tasks[i].running;
			}

			json_object_object_add(o, "target", json_object_new_string(t->iqn));
			json_object_object_add(o, "lun", json_object_new_int64((int64_t)lu->lun));
			json_object_object_add(o, "read_cmds", json_object_new_uint64(s->read_cmds));
			json_object_object_add(o, "write_cmds", json_object_new_uint64(s->write_cmds));
			json_object_object_add(o, "other_cmds", json_object_new_uint64(s->other_cmds));
			json_object_object_add(o, "read_bytes", json_object_new_uint64(s->read_bytes));
			json_object_object_add(o, "write_bytes", json_object_new_uint64(s->write_bytes));
			json_object_object_add(o, "errors", json_object_new_uint64(s->errors));
			json_object_object_add(o, "read_ns", json_object_new_uint64(s->read_ns));
			json_object_object_add(o, "write_ns", json_object_new_uint64(s->write_ns));
			json_object_object_add(o, "read_avg_us",
					       json_object_new_uint64(s->read_cmds ? s->read_ns / s->read_cmds / 1000 : 0));
			json_object_object_add(o, "write_avg_us",
					       json_object_new_uint64(s->write_cmds ? s->write_ns / s->write_cmds / 1000 : 0));
			json_object_object_add(o, "in_flight", json_object_new_int64(in_flight));
			json_object_array_add(arr, o);
		}
	}
	return arr;
}

json_object *mgmt_sessions_json(struct gateway *gw)
{
	return sessions_json(gw);
}

json_object *mgmt_stats_json(struct gateway *gw)
{
	return stats_json(gw);
}

/* ------------------------------------------------------------------------
 * Changes: through the cluster service, answered once applied here.
 * ---------------------------------------------------------------------- */

static void client_resume(void *arg);

static void change_done(void *ctx, int result)
{
	struct mgmt_pending *p = ctx;
	struct mgmt_client *c = p->client;

	if (c) {
		struct gateway *gw = c->srv->gw;

		c->pending = NULL;
		if (result == 0) {
			json_object_object_add(p->response, "config_version",
					       json_object_new_int64(gw->config_version));
			client_send(c, p->response);
		} else {
			json_object *id = NULL;

			json_object_object_get_ex(p->response, "id", &id);
			send_error(c, id, "%s failed while being applied: %s (details in the sangwd log)",
				   p->request, strerror(result < 0 ? -result : EIO));
		}
		/* Not from here: this may run inside the client's own event. */
		ev_defer(gw->loop, &c->resume, client_resume, c);
	}
	json_object_put(p->response);
	free(p);
}

static struct mgmt_pending *pending_new(struct mgmt_client *c, const char *request, json_object *id)
{
	struct mgmt_pending *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->client = c;
	p->response = response_new(true, id);
	str_copy(p->request, request, sizeof(p->request));
	return p;
}

/* Why a change was not submitted; -EAGAIN names the missing nodes. */
static const char *submit_error(struct gateway *gw, int r, char *buf, size_t len)
{
	if (r == -EMSGSIZE) {
		snprintf(buf, len, "the change is larger than one cluster operation may be (%u KiB); "
			 "make it in parts (e.g. import a document with some of the targets, then the rest)",
			 CLUSTER_OP_MAX / 1024);
		return buf;
	}
	if (r != -EAGAIN)
		return strerror(-r);
	cluster_status_unavailable(gw, buf, len);
	return buf;
}

static void handle_change(struct mgmt_client *c, const char *name, json_object *req, json_object *id)
{
	struct gateway *gw = c->srv->gw;
	struct mgmt_pending *p;
	json_object *v;
	const char *payload;
	char err[1024];
	int r;

	if ((r = config_prepare_request(gw, req, err, sizeof(err))) < 0) {
		send_error(c, id, "%s", err);
		return;
	}
	if (config_is_node_local_request(name)) {
		json_object *response;

		if (config_apply_local_request(gw, req, err, sizeof(err)) < 0) {
			send_error(c, id, "%s", err);
			return;
		}
		response = response_new(true, id);
		json_object_object_add(response, "config_version",
				       json_object_new_int64(gw->config_version));
		client_send(c, response);
		json_object_put(response);
		return;
	}
	if (!gw->cluster) {
		send_error(c, id, "no cluster service is running");
		return;
	}
	if (!(p = pending_new(c, name, id))) {
		send_error(c, id, "out of memory");
		return;
	}
	/* Echo what the request was completed with (lun_add: the LUN). */
	if (strcmp(name, "lun_add") == 0 && json_object_object_get_ex(req, "lun", &v))
		json_object_object_add(p->response, "lun", json_object_get(v));
	payload = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	c->pending = p;
	r = cluster_submit(gw->cluster, SOP_CONFIG, payload, (uint32_t)strlen(payload), change_done, p);
	if (r < 0) {
		c->pending = NULL;
		json_object_put(p->response);
		free(p);
		send_error(c, id, "%s not submitted: %s", name, submit_error(gw, r, err, sizeof(err)));
	}
	/* On success p belongs to change_done(), which may already have run. */
}

static void handle_reload(struct mgmt_client *c, json_object *id)
{
	struct gateway *gw = c->srv->gw;
	struct mgmt_pending *p = pending_new(c, "reload", id);
	char err[1024];

	if (!p) {
		send_error(c, id, "out of memory");
		return;
	}
	c->pending = p;
	if (config_reload_submit(gw, change_done, p, err, sizeof(err)) < 0) {
		c->pending = NULL;
		json_object_put(p->response);
		free(p);
		send_error(c, id, "%s", err);
	}
}

/* import: the diff against this node's configuration; unless it is a dry
 * run (or nothing differs), one config_replace operation that every node
 * applies, answered with the diff once applied here. */
static void handle_import(struct mgmt_client *c, json_object *req, json_object *id)
{
	struct gateway *gw = c->srv->gw;
	json_object *answer, *submit, *response;
	struct mgmt_pending *p;
	const char *payload;
	char err[1024];
	int r;

	if (config_import_prepare(gw, req, &answer, &submit, err, sizeof(err)) < 0) {
		send_error(c, id, "%s", err);
		return;
	}
	if (!submit) {
		response = response_new(true, id);
		json_object_object_foreach(answer, key, val)
			json_object_object_add(response, key, json_object_get(val));
		json_object_object_add(response, "config_version",
				       json_object_new_int64(gw->config_version));
		client_send(c, response);
		json_object_put(response);
		json_object_put(answer);
		return;
	}
	if (!gw->cluster || !(p = pending_new(c, "import", id))) {
		send_error(c, id, "%s", gw->cluster ? "out of memory" : "no cluster service is running");
		json_object_put(answer);
		json_object_put(submit);
		return;
	}
	json_object_object_foreach(answer, key, val)
		json_object_object_add(p->response, key, json_object_get(val));
	json_object_put(answer);
	payload = json_object_to_json_string_ext(submit, JSON_C_TO_STRING_PLAIN |
						 JSON_C_TO_STRING_NOSLASHESCAPE);
	c->pending = p;
	r = cluster_submit(gw->cluster, SOP_CONFIG, payload, (uint32_t)strlen(payload), change_done, p);
	if (r < 0) {
		c->pending = NULL;
		json_object_put(p->response);
		free(p);
		if (r == -EMSGSIZE)
			send_error(c, id, "import not submitted: the document (%zu bytes) is larger than "
				   "one cluster operation may be (%u KiB); nothing was changed. Import it in "
				   "parts (some targets, then the rest)", strlen(payload), CLUSTER_OP_MAX / 1024);
		else
			send_error(c, id, "import not submitted: %s", submit_error(gw, r, err, sizeof(err)));
	}
	json_object_put(submit);
	/* On success p belongs to change_done(), which may already have run. */
}

/* alua_set: an implicit ALUA transition (alua.c), through SOP_ALUA_SET
 * rather than SOP_CONFIG: port group states are runtime state, not
 * configuration. */
static void handle_alua_set(struct mgmt_client *c, json_object *req, json_object *id)
{
	struct mgmt_pending *p = pending_new(c, "alua_set", id);
	char err[1024];

	if (!p) {
		send_error(c, id, "out of memory");
		return;
	}
	c->pending = p;
	if (alua_request_submit(c->srv->gw, req, change_done, p, err, sizeof(err)) < 0) {
		c->pending = NULL;
		json_object_put(p->response);
		free(p);
		send_error(c, id, "%s", err);
	}
	/* On success p belongs to change_done(), which may already have run. */
}

/* status, and sessions / stats with "cluster": true: every node answers
 * (cluster_status.c); the response waits for them, or for the timeout
 * (then nodes that did not answer are shown as such). */
static void question_done(void *ctx, json_object *result, const char *error)
{
	struct mgmt_pending *p = ctx;
	struct mgmt_client *c = p->client;

	if (c) {
		c->pending = NULL;
		if (result) {
			json_object_object_foreach(result, key, val)
				json_object_object_add(p->response, key, json_object_get(val));
			client_send(c, p->response);
		} else {
			json_object *id = NULL;

			json_object_object_get_ex(p->response, "id", &id);
			send_error(c, id, "%s", error);
		}
		ev_defer(c->srv->gw->loop, &c->resume, client_resume, c);
	}
	json_object_put(result);
	json_object_put(p->response);
	free(p);
}

static void handle_cluster_question(struct mgmt_client *c, const char *name, json_object *req,
				    json_object *id)
{
	enum cluster_question q = strcmp(name, "status") == 0 ? CLUSTER_Q_STATUS
				  : strcmp(name, "sessions") == 0 ? CLUSTER_Q_SESSIONS : CLUSTER_Q_STATS;
	uint32_t timeout_ms = CLUSTER_STATUS_TIMEOUT_MS_DEFAULT;
	struct mgmt_pending *p;
	char err[256];

	json_object_object_foreach(req, key, val) {
		if (strcmp(key, "request") == 0 || strcmp(key, "id") == 0)
			continue;
		if (strcmp(key, "timeout_ms") == 0) {
			int64_t v = json_object_get_int64(val);

			if (!json_object_is_type(val, json_type_int) || v < 1 ||
			    v > CLUSTER_STATUS_TIMEOUT_MS_MAX) {
				send_error(c, id, "timeout_ms: expected milliseconds from 1 to %d",
					   CLUSTER_STATUS_TIMEOUT_MS_MAX);
				return;
			}
			timeout_ms = (uint32_t)v;
		} else if (strcmp(key, "cluster") == 0 && q != CLUSTER_Q_STATUS) {
			if (!json_object_is_type(val, json_type_boolean)) {
				send_error(c, id, "cluster: expected true or false");
				return;
			}
		} else {
			send_error(c, id, "%s: unknown key (\"%s\" takes %s)", key, name,
				   q == CLUSTER_Q_STATUS ? "only \"timeout_ms\"" : "\"cluster\" and \"timeout_ms\"");
			return;
		}
	}
	if (!(p = pending_new(c, name, id))) {
		send_error(c, id, "out of memory");
		return;
	}
	c->pending = p;
	if (cluster_status_ask(c->srv->gw, q, timeout_ms, question_done, p, err, sizeof(err)) < 0) {
		c->pending = NULL;
		json_object_put(p->response);
		free(p);
		send_error(c, id, "%s", err);
	}
	/* On success p belongs to question_done(), which may already have run. */
}

/* A sessions or stats request that asks for every node's. */
static bool wants_cluster(json_object *req)
{
	json_object *v;

	return json_object_object_get_ex(req, "cluster", &v) && json_object_get_boolean(v);
}

/* node_role: this node's role under pacemaker (node_role.c); a change
 * goes through SOP_NODE_ROLE, a query is answered at once. */
static void handle_node_role(struct mgmt_client *c, json_object *req, json_object *id)
{
	struct mgmt_pending *p = pending_new(c, "node_role", id);
	char err[1024];
	int r;

	if (!p) {
		send_error(c, id, "out of memory");
		return;
	}
	c->pending = p;
	r = node_role_request(c->srv->gw, req, p->response, change_done, p, err, sizeof(err));
	if (r != 0) {
		c->pending = NULL;
		if (r > 0)
			client_send(c, p->response);
		else
			send_error(c, id, "%s", err);
		json_object_put(p->response);
		free(p);
	}
	/* r == 0: p belongs to change_done(), which may already have run. */
}

/* ------------------------------------------------------------------------
 * Request lines.
 * ---------------------------------------------------------------------- */

static const char *const readonly_requests[] = { "list", "status", "sessions", "stats", "version",
						 "fencing", "export", "reload", NULL };

static json_object *parse_line(const char *line, size_t len, char *err, size_t errlen)
{
	struct json_tokener *tok;
	json_object *obj;
	size_t end;

	if (memchr(line, '\0', len)) {
		snprintf(err, errlen, "invalid JSON: the line contains a NUL byte");
		return NULL;
	}
	if (!(tok = json_tokener_new_ex(32))) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, line, (int)len);
	end = json_tokener_get_parse_end(tok);
	while (obj && end < len && (line[end] == ' ' || line[end] == '\t' || line[end] == '\r'))
		end++;
	if (!obj || end < len) {
		enum json_tokener_error e = json_tokener_get_error(tok);

		snprintf(err, errlen, "invalid JSON at byte %zu: %s", end + 1,
			 obj ? "text after the object" : e == json_tokener_continue ? "incomplete object"
										 : json_tokener_error_desc(e));
		json_object_put(obj);
		obj = NULL;
	} else if (json_object_get_type(obj) != json_type_object) {
		snprintf(err, errlen, "a request must be a JSON object");
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_free(tok);
	return obj;
}

/* Requests that change something, whatever the outcome. */
static bool is_change(const char *name)
{
	return config_is_change_request(name) || strcmp(name, "alua_set") == 0 ||
	       strcmp(name, "node_role") == 0 || strcmp(name, "import") == 0 ||
	       strcmp(name, "reload") == 0;
}

/* Every change is logged with who asked (the peer's uid, name and pid) and
 * what it names. Only the members listed here are logged: never secrets
 * (secret, mutual_secret) nor whole documents (config_replace, import). */
static void log_change(const struct mgmt_client *c, const char *name, json_object *req)
{
	static const char *const shown[] = { "target", "initiator", "lun", "spec", "backstore",
					     "path", "size", "key", "value", "portal", "discovery",
					     "mutual_only", "tpg", "state", "role", "dry_run", NULL };
	char what[512] = "";
	size_t used = 0;

	for (const char *const *k = shown; *k && used < sizeof(what); k++) {
		json_object *v;
		const char *text;

		if (!json_object_object_get_ex(req, *k, &v))
			continue;
		text = json_object_get_type(v) == json_type_string
			       ? json_object_get_string(v)
			       : json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
		used += (size_t)snprintf(what + used, sizeof(what) - used, " %s=%.160s", *k, text);
	}
	if (json_object_object_get_ex(req, "config", NULL))
		used += (size_t)snprintf(what + used, used < sizeof(what) ? sizeof(what) - used : 0,
					 " (a configuration document)");
	/* Logged before validation: no control character forges a line. */
	for (char *p = what; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	log_info("mgmt: change %s by uid %u (%s) pid %d:%s", name, (unsigned)c->uid, c->user,
		 (int)c->pid, what[0] ? what : " (no arguments)");
}

static void handle_line(struct mgmt_client *c, const char *line, size_t len)
{
	struct gateway *gw = c->srv->gw;
	json_object *req, *id = NULL, *name_obj, *resp;
	const char *name;
	char err[256];

	req = parse_line(line, len, err, sizeof(err));
	if (!req) {
		/* Garbage: answer once, then hang up on this client. */
		send_error(c, NULL, "%s", err);
		c->closing = true;
		return;
	}
	json_object_object_get_ex(req, "id", &id);
	if (!json_object_object_get_ex(req, "request", &name_obj) ||
	    json_object_get_type(name_obj) != json_type_string) {
		send_error(c, id, "request: missing (a string such as \"list\")");
		goto out;
	}
	name = json_object_get_string(name_obj);
	log_debug("mgmt: request %s (uid %u)", name, (unsigned)c->uid);
	if (is_change(name))
		log_change(c, name, req);

	if (config_is_change_request(name)) {
		handle_change(c, name, req, id);
		goto out;
	}
	if (strcmp(name, "alua_set") == 0) {
		handle_alua_set(c, req, id);
		goto out;
	}
	if (strcmp(name, "node_role") == 0) {
		handle_node_role(c, req, id);
		goto out;
	}
	if (strcmp(name, "import") == 0) {
		handle_import(c, req, id);
		goto out;
	}
	if (strcmp(name, "status") == 0 ||
	    ((strcmp(name, "sessions") == 0 || strcmp(name, "stats") == 0) &&
	     json_object_object_get_ex(req, "cluster", NULL))) {
		if (strcmp(name, "status") == 0 || wants_cluster(req) ||
		    !json_object_is_type(json_object_object_get(req, "cluster"), json_type_boolean)) {
			handle_cluster_question(c, name, req, id);
			goto out;
		}
		json_object_object_del(req, "cluster");   /* "cluster": false: this node's, as before */
	}
	if (strcmp(name, "reload") == 0 || strcmp(name, "list") == 0 || strcmp(name, "sessions") == 0 ||
	    strcmp(name, "stats") == 0 || strcmp(name, "version") == 0 || strcmp(name, "export") == 0) {
		json_object_object_foreach(req, key, val) {
			(void)val;
			if (strcmp(key, "request") && strcmp(key, "id")) {
				send_error(c, id, "%s: unknown key (\"%s\" takes no arguments)", key, name);
				goto out;
			}
		}
	}
	if (strcmp(name, "reload") == 0) {
		handle_reload(c, id);
		goto out;
	}
	resp = response_new(true, id);
	if (strcmp(name, "list") == 0) {
		json_object *tree = config_dump(gw, CONFIG_DUMP_RUNTIME);

		json_object_object_foreach(tree, key, val)
			json_object_object_add(resp, key, json_object_get(val));
		json_object_put(tree);
	} else if (strcmp(name, "export") == 0) {
		json_object_object_add(resp, "config", config_export(gw));
	} else if (strcmp(name, "sessions") == 0) {
		json_object_object_add(resp, "sessions", sessions_json(gw));
	} else if (strcmp(name, "fencing") == 0) {
		json_object_object_add(resp, "fencing", fencing_json(gw));
	} else if (strcmp(name, "stats") == 0) {
		json_object_object_add(resp, "luns", stats_json(gw));
	} else if (strcmp(name, "version") == 0) {
		json_object_object_add(resp, "version", json_object_new_string(PACKAGE_VERSION));
		json_object_object_add(resp, "api", json_object_new_int(MGMT_API_VERSION));
		json_object_object_add(resp, "node_id", json_object_new_int64(gw->node_id));
		json_object_object_add(resp, "config_version", json_object_new_int64(gw->config_version));
		json_object_object_add(resp, "cluster", json_object_new_string(
			gw->cluster && gw->cluster->ops ? gw->cluster->ops->name : "none"));
		if (gw->cluster)
			json_object_object_add(resp, "state_version",
					       json_object_new_int64((int64_t)gw->cluster->state_version));
		state_store_status_json(resp);   /* only with --state-store */
	} else {
		char known[512] = "";
		size_t used = 0;
		static const char *const changes[] = {
			"target_add", "target_del", "lun_add", "lun_del", "lun_resize", "acl_add",
			"acl_del", "chap_set", "chap_clear", "portal_add", "portal_del", "param_set",
			"config_replace", "import", "alua_set", "node_role", NULL,
		};

		for (const char *const *k = readonly_requests; *k; k++)
			used += (size_t)snprintf(known + used, sizeof(known) - used, "%s%s", used ? ", " : "", *k);
		for (const char *const *k = changes; *k && used < sizeof(known); k++)
			used += (size_t)snprintf(known + used, sizeof(known) - used, ", %s", *k);
		json_object_put(resp);
		send_error(c, id, "request: unknown request \"%s\" (known: %s)", name, known);
		goto out;
	}
	client_send(c, resp);
	json_object_put(resp);
out:
	json_object_put(req);
}

/* Handle every complete line while no change is pending. */
static void client_process(struct mgmt_client *c)
{
	while (!c->pending && !c->closing && !c->broken && c->in_len) {
		char *nl = memchr(c->in, '\n', c->in_len);
		size_t len, used;

		if (!nl) {
			if (c->in_len > MGMT_MAX_LINE) {
				send_error(c, NULL, "request line longer than %u bytes", MGMT_MAX_LINE);
				c->closing = true;
				c->in_len = 0;
				return;
			}
			if (!c->eof)
				return;
			len = c->in_len;     /* the last line may lack its newline */
			used = c->in_len;
		} else {
			len = (size_t)(nl - c->in);
			used = len + 1;
		}
		if (len > MGMT_MAX_LINE) {
			send_error(c, NULL, "request line longer than %u bytes", MGMT_MAX_LINE);
			c->closing = true;
			c->in_len = 0;
			return;
		}
		{
			char *line = c->in;
			bool blank = true;

			for (size_t i = 0; i < len && blank; i++)
				blank = line[i] == ' ' || line[i] == '\t' || line[i] == '\r';
			if (!blank)
				handle_line(c, line, len);
		}
		memmove(c->in, c->in + used, c->in_len - used);
		c->in_len -= used;
	}
}

static void client_read(struct mgmt_client *c)
{
	for (;;) {
		ssize_t n;

		if (c->in_cap - c->in_len < READ_CHUNK) {
			size_t cap = c->in_len + READ_CHUNK;
			char *in;

			if (cap > MGMT_MAX_LINE + 2 * READ_CHUNK)
				return;   /* client_process() refuses the long line */
			if (!(in = realloc(c->in, cap))) {
				c->broken = true;
				return;
			}
			c->in = in;
			c->in_cap = cap;
		}
		n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			c->broken = true;
			return;
		}
		if (n == 0) {
			c->eof = true;
			return;
		}
		c->in_len += (size_t)n;
		if (memchr(c->in + c->in_len - (size_t)n, '\n', (size_t)n))
			return;   /* a whole line: handle it before reading more */
	}
}

static void client_event(struct event_loop *loop, uint32_t events, void *arg)
{
	struct mgmt_client *c = arg;

	(void)loop;
	/* A peer that hung up while its change is pending cannot get the
	 * answer; level-triggered EPOLLHUP would otherwise repeat until then. */
	if ((events & EPOLLERR) || ((events & EPOLLHUP) && c->pending))
		c->broken = true;
	if ((events & (EPOLLIN | EPOLLHUP)) && !c->broken && !c->eof && !c->pending && !c->closing)
		client_read(c);
	if (events & EPOLLOUT)
		client_flush(c);
	client_process(c);
	client_maybe_close(c);
}

static void client_resume(void *arg)
{
	struct mgmt_client *c = arg;

	client_process(c);
	client_maybe_close(c);
}

/* ------------------------------------------------------------------------
 * Listening socket.
 * ---------------------------------------------------------------------- */

static void refuse(int fd, const char *msg)
{
	char line[256];
	int len = snprintf(line, sizeof(line), "{\"ok\":false,\"error\":\"%s\"}\n", msg);

	if (send(fd, line, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug("mgmt: could not tell a refused client why: %s", strerror(errno));
	close(fd);
}

/* With --mgmt-group, its members may connect: the peer's primary group
 * (SO_PEERCRED) or one of its supplementary groups (SO_PEERGROUPS). */
static bool peer_in_group(const struct mgmt_server *srv, int fd, const struct ucred *cred)
{
	gid_t small[64], *groups = small;
	socklen_t len = sizeof(small);
	bool found = false;

	if (!srv->group_set)
		return false;
	if (cred->gid == srv->gid)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0) {
		if (errno != ERANGE || !(groups = malloc(len)))
			return false;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
			len = 0;
	}
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		found |= groups[i] == srv->gid;
	if (groups != small)
		free(groups);
	return found;
}

static void user_name(uid_t uid, char *out, size_t len)
{
	struct passwd pw, *found = NULL;
	char buf[1024];

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &found) == 0 && found)
		str_copy(out, found->pw_name, len);
	else
		snprintf(out, len, "%u", (unsigned)uid);
}

static void server_accept(struct event_loop *loop, uint32_t events, void *arg)
{
	struct mgmt_server *srv = arg;

	(void)events;
	for (;;) {
		struct ucred cred;
		socklen_t credlen = sizeof(cred);
		struct mgmt_client *c;
		int fd = accept4(srv->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("mgmt: accept: %s", strerror(errno));
			return;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &credlen) < 0) {
			refuse(fd, "cannot identify the client");
			continue;
		}
		if (cred.uid != 0 && cred.uid != geteuid() && !peer_in_group(srv, fd, &cred)) {
			log_warn("mgmt: refused a client of uid %u (pid %d): %s", (unsigned)cred.uid,
				 (int)cred.pid, srv->group_set ? "neither root nor in --mgmt-group" : "root only");
			refuse(fd, srv->group_set ? "permission denied: the management API is for root and "
						    "the --mgmt-group group only"
						  : "permission denied: the management API is for root only");
			continue;
		}
		if (srv->n_clients >= MGMT_MAX_CLIENTS) {
			refuse(fd, "too many management clients");
			continue;
		}
		if (!(c = calloc(1, sizeof(*c)))) {
			refuse(fd, "out of memory");
			continue;
		}
		c->srv = srv;
		c->fd = fd;
		c->uid = cred.uid;
		c->pid = cred.pid;
		user_name(cred.uid, c->user, sizeof(c->user));
		c->events = EPOLLIN;
		if (ev_add(loop, &c->src, fd, EPOLLIN, client_event, c) < 0) {
			free(c);
			refuse(fd, "internal error");
			continue;
		}
		TAILQ_INSERT_TAIL(&srv->clients, c, link);
		srv->n_clients++;
	}
}

/* mkdir -p for the socket's directory; new folders are 0755. */
static int make_parent_dirs(const char *path, char *err, size_t errlen)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];

	str_copy(dir, path, sizeof(dir));
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
			return -errno;
		}
		*p = '/';
	}
	return 0;
}

/* A socket file left behind: replace it if nobody answers on it. */
static int clear_stale_socket(const struct sockaddr_un *addr, char *err, size_t errlen)
{
	struct stat st;
	int fd, r;

	if (lstat(addr->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket", addr->sun_path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, (const struct sockaddr *)addr, sizeof(*addr));
	close(fd);
	if (r == 0) {
		snprintf(err, errlen, "another sangwd is already listening on %s", addr->sun_path);
		return -EADDRINUSE;
	}
	if (unlink(addr->sun_path) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove the stale socket %s: %s", addr->sun_path, strerror(errno));
		return -errno;
	}
	return 0;
}

int mgmt_group_id(const char *name, gid_t *gid, char *err, size_t errlen)
{
	struct group gr, *found = NULL;
	char buf[4096], *end;
	unsigned long n;

	err[0] = '\0';
	if (getgrnam_r(name, &gr, buf, sizeof(buf), &found) == 0 && found) {
		if (gid)
			*gid = found->gr_gid;
		return 0;
	}
	n = strtoul(name, &end, 10);
	if (name[0] >= '0' && name[0] <= '9' && !*end && n < (gid_t)-1) {
		if (gid)
			*gid = (gid_t)n;
		return 0;
	}
	snprintf(err, errlen, "management group \"%s\" does not exist", name);
	return -ENOENT;
}

struct mgmt_server *mgmt_server_create(struct gateway *gw, const char *path,
				       char *err, size_t errlen)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct mgmt_server *srv;
	bool group_set = gw->mgmt_group[0] != '\0';
	gid_t gid = 0;
	int r;

	if (group_set && mgmt_group_id(gw->mgmt_group, &gid, err, errlen) < 0)
		return NULL;

	if (!path[0] || str_copy(addr.sun_path, path, sizeof(addr.sun_path)) >= sizeof(addr.sun_path)) {
		snprintf(err, errlen, "management socket path \"%s\" is empty or longer than %zu bytes",
			 path, sizeof(addr.sun_path) - 1);
		return NULL;
	}
	if (make_parent_dirs(path, err, errlen) < 0)
		return NULL;
	if (clear_stale_socket(&addr, err, errlen) < 0) {
		if (!err[0])
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (!(srv = calloc(1, sizeof(*srv)))) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	srv->gw = gw;
	srv->group_set = group_set;
	srv->gid = gid;
	TAILQ_INIT(&srv->clients);
	str_copy(srv->path, path, sizeof(srv->path));
	srv->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (srv->fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		free(srv);
		return NULL;
	}
	if (bind(srv->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		snprintf(err, errlen, "cannot bind %s: %s", path, strerror(errno));
		goto fail;
	}
	/* Root (and the group) only: the mode keeps others out, SO_PEERCRED
	 * double-checks. */
	if ((group_set && chown(path, (uid_t)-1, gid) < 0) || chmod(path, group_set ? 0660 : 0600) < 0 ||
	    listen(srv->fd, 16) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
		unlink(path);
		goto fail;
	}
	if ((r = ev_add(gw->loop, &srv->src, srv->fd, EPOLLIN, server_accept, srv)) < 0) {
		snprintf(err, errlen, "cannot watch %s: %s", path, strerror(-r));
		unlink(path);
		goto fail;
	}
	if (group_set)
		log_info("mgmt: listening on %s (root and group %s)", path, gw->mgmt_group);
	else
		log_info("mgmt: listening on %s (root only)", path);
	return srv;
fail:
	close(srv->fd);
	free(srv);
	return NULL;
}

void mgmt_server_destroy(struct mgmt_server *srv)
{
	struct mgmt_client *c;

	if (!srv)
		return;
	while ((c = TAILQ_FIRST(&srv->clients)))
		client_destroy(c);
	ev_remove(srv->gw->loop, &srv->src);
	close(srv->fd);
	unlink(srv->path);
	free(srv);
}

int mgmt_start(struct gateway *gw, char *err, size_t errlen)
{
	if (running_server) {
		snprintf(err, errlen, "the management API is already running");
		return -EALREADY;
	}
	if (!gw->mgmt_socket[0])
		str_copy(gw->mgmt_socket, MGMT_DEFAULT_SOCKET, sizeof(gw->mgmt_socket));
	err[0] = '\0';
	running_server = mgmt_server_create(gw, gw->mgmt_socket, err, errlen);
	return running_server ? 0 : -EIO;
}

void mgmt_stop(struct gateway *gw)
{
	(void)gw;
	mgmt_server_destroy(running_server);
	running_server = NULL;
}
