/* The metrics page: Prometheus text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/). Every
 * family is written as one group (HELP, TYPE, then all its samples), as
 * the format requires; docs/metrics.md lists them.
 *
 * Runs on the control thread with the world running (metrics.h): what only
 * the control thread changes (targets, LUs, ALUA groups, reservations,
 * nexus list, membership, versions) is read plainly; what workers count
 * (lu_stats, the task sets' running counts) through relaxed atomics. So a
 * histogram's _count is the sum of its buckets as read, and may trail the
 * commands counter of the same scrape by the commands completed while
 * the page was being built. */
#include "metrics.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../cluster/cluster.h"
#include "backstore/backstore.h"
#include "fencing.h"
#include "model.h"
#include "scsi/alua.h"
#include "scsi/pr.h"
#include "scsi/scsi.h"
#include "util.h"
#include "workers.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

static const char *const op_names[LU_STAT_OPS] = { "read", "write", "other" };

/* The ASYMMETRIC ACCESS STATEs a port group can be in (SPC-4 6.36). */
static const uint8_t alua_states[] = {
	ALUA_ACTIVE_OPTIMIZED, ALUA_ACTIVE_NON_OPTIMIZED, ALUA_STANDBY,
	ALUA_UNAVAILABLE, ALUA_OFFLINE, ALUA_TRANSITIONING,
};

/* The fencing states as fencing_json() names them. */
static const char *const fence_states[] = { "none", "being-fenced", "fenced" };

/* --- the buffer ---------------------------------------------------------- */

void metrics_buf_free(struct metrics_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

static bool reserve(struct metrics_buf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *data;

	if (b->failed)
		return false;
	if (b->len + more < b->cap)
		return true;
	while (b->len + more >= cap)
		cap *= 2;
	data = realloc(b->data, cap);
	if (!data) {
		b->failed = true;
		return false;
	}
	b->data = data;
	b->cap = cap;
	return true;
}

static void __attribute__((format(printf, 2, 3))) put(struct metrics_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!reserve(b, 256))
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return;
	}
	if ((size_t)n >= b->cap - b->len) {
		if (!reserve(b, (size_t)n + 1))
			return;
		va_start(ap, fmt);
		vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

/* A label value: backslash, double quote and line feed are escaped. */
static void put_value(struct metrics_buf *b, const char *v)
{
	for (; *v; v++) {
		if (!reserve(b, 3))
			return;
		if (*v == '\\' || *v == '"') {
			b->data[b->len++] = '\\';
			b->data[b->len++] = *v;
		} else if (*v == '\n') {
			b->data[b->len++] = '\\';
			b->data[b->len++] = 'n';
		} else {
			b->data[b->len++] = *v;
		}
	}
	b->data[b->len] = '\0';
}

static void family(struct metrics_buf *b, const char *name, const char *type, const char *help)
{
	put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Nanoseconds as seconds in plain decimal, exact, no trailing zeros. */
static void put_seconds(struct metrics_buf *b, uint64_t ns)
{
	char frac[16];
	int end;

	snprintf(frac, sizeof(frac), "%09llu", (unsigned long long)(ns % 1000000000u));
	for (end = 9; end > 0 && frac[end - 1] == '0'; end--)
		;
	frac[end] = '\0';
	put(b, "%llu%s%s", (unsigned long long)(ns / 1000000000u), end ? "." : "", frac);
}

/* --- what is read of each LU --------------------------------------------- */

struct lu_view {
	const struct target *target;
	const struct lu *lu;
	struct lu_stats sum;             /* over every thread slot */
	uint64_t in_flight;
	struct pr_summary pr;
};

static void lu_view_fill(struct lu_view *v, const struct target *t, const struct lu *lu)
{
	memset(v, 0, sizeof(*v));
	v->target = t;
	v->lu = lu;
	for (unsigned slot = 0; slot < worker_slots() && slot < LU_TASK_SETS; slot++) {
		const struct lu_stats *s = &lu->stats[slot];

		v->sum.read_cmds += lu_stat_read(&s->read_cmds);
		v->sum.write_cmds += lu_stat_read(&s->write_cmds);
		v->sum.other_cmds += lu_stat_read(&s->other_cmds);
		v->sum.read_bytes += lu_stat_read(&s->read_bytes);
		v->sum.write_bytes += lu_stat_read(&s->write_bytes);
		v->sum.errors += lu_stat_read(&s->errors);
		v->sum.read_ns += lu_stat_read(&s->read_ns);
		v->sum.write_ns += lu_stat_read(&s->write_ns);
		v->sum.other_ns += lu_stat_read(&s->other_ns);
		for (unsigned op = 0; op < LU_STAT_OPS; op++)
			for (unsigned i = 0; i < LU_LATENCY_BUCKETS; i++)
				v->sum.latency[op][i] += lu_stat_read(&s->latency[op][i]);
		v->in_flight += __atomic_load_n(&lu->tasks[slot].running, __ATOMIC_RELAXED);
	}
	pr_summarize(lu, &v->pr);
}

static void put_lu_labels(struct metrics_buf *b, const struct lu_view *v)
{
	put(b, "{target=\"");
	put_value(b, v->target->iqn);
	put(b, "\",lun=\"%llu\"", (unsigned long long)v->lu->lun);
}

/* One gauge or counter with a value per LU. */
static void lu_family(struct metrics_buf *b, const struct lu_view *views, size_t n, const char *name,
		      const char *type, const char *help, uint64_t (*value)(const struct lu_view *v))
{
	family(b, name, type, help);
	for (size_t i = 0; i < n; i++) {
		put(b, "%s", name);
		put_lu_labels(b, &views[i]);
		put(b, "} %llu\n", (unsigned long long)value(&views[i]));
	}
}

static uint64_t v_errors(const struct lu_view *v) { return v->sum.errors; }
static uint64_t v_in_flight(const struct lu_view *v) { return v->in_flight; }
static uint64_t v_size(const struct lu_view *v) { return v->lu->size_bytes; }
static uint64_t v_ready(const struct lu_view *v) { return v->lu->backing_state == LU_BACKING_READY; }
static uint64_t v_pr_regs(const struct lu_view *v) { return v->pr.registrations; }
static uint64_t v_pr_held(const struct lu_view *v) { return v->pr.reserved; }
static uint64_t v_spc2_held(const struct lu_view *v) { return v->pr.spc2_reserved; }

static uint64_t op_cmds(const struct lu_stats *s, unsigned op)
{
	return op == LU_OP_READ ? s->read_cmds : op == LU_OP_WRITE ? s->write_cmds : s->other_cmds;
}

static uint64_t op_ns(const struct lu_stats *s, unsigned op)
{
	return op == LU_OP_READ ? s->read_ns : op == LU_OP_WRITE ? s->write_ns : s->other_ns;
}

static void render_lus(struct metrics_buf *b, const struct lu_view *views, size_t n)
{
	family(b, "sangw_lu_commands_total", "counter",
	       "SCSI commands completed by the logical unit on this node, by operation (read, write, other).");
	for (size_t i = 0; i < n; i++)
		for (unsigned op = 0; op < LU_STAT_OPS; op++) {
			put(b, "sangw_lu_commands_total");
			put_lu_labels(b, &views[i]);
			put(b, ",op=\"%s\"} %llu\n", op_names[op],
			    (unsigned long long)op_cmds(&views[i].sum, op));
		}
	family(b, "sangw_lu_bytes_total", "counter",
	       "Bytes read from (op=read) and written to (op=write) the logical unit by initiators through this node.");
	for (size_t i = 0; i < n; i++) {
		put(b, "sangw_lu_bytes_total");
		put_lu_labels(b, &views[i]);
		put(b, ",op=\"read\"} %llu\n", (unsigned long long)views[i].sum.read_bytes);
		put(b, "sangw_lu_bytes_total");
		put_lu_labels(b, &views[i]);
		put(b, ",op=\"write\"} %llu\n", (unsigned long long)views[i].sum.write_bytes);
	}
	lu_family(b, views, n, "sangw_lu_errors_total", "counter",
		  "Commands that completed with a status other than GOOD or CONDITION MET.", v_errors);
	lu_family(b, views, n, "sangw_lu_commands_in_flight", "gauge",
		  "Commands of the logical unit in its task sets on this node now.", v_in_flight);

	family(b, "sangw_lu_command_duration_seconds", "histogram",
	       "Service time of completed commands, from arrival at the SCSI core to completion, by operation.");
	for (size_t i = 0; i < n; i++) {
		for (unsigned op = 0; op < LU_STAT_OPS; op++) {
			const uint64_t *buckets = views[i].sum.latency[op];
			uint64_t cumulative = 0;

			for (unsigned k = 0; k < LU_LATENCY_BUCKETS; k++) {
				cumulative += buckets[k];
				put(b, "sangw_lu_command_duration_seconds_bucket");
				put_lu_labels(b, &views[i]);
				put(b, ",op=\"%s\",le=\"", op_names[op]);
				if (k < LU_LATENCY_BUCKETS - 1)
					put_seconds(b, lu_latency_bounds_ns[k]);
				else
					put(b, "+Inf");
				put(b, "\"} %llu\n", (unsigned long long)cumulative);
			}
			put(b, "sangw_lu_command_duration_seconds_sum");
			put_lu_labels(b, &views[i]);
			put(b, ",op=\"%s\"} ", op_names[op]);
			put_seconds(b, op_ns(&views[i].sum, op));
			put(b, "\nsangw_lu_command_duration_seconds_count");
			put_lu_labels(b, &views[i]);
			put(b, ",op=\"%s\"} %llu\n", op_names[op], (unsigned long long)cumulative);
		}
	}
	lu_family(b, views, n, "sangw_lu_size_bytes", "gauge", "Capacity of the logical unit.", v_size);
	lu_family(b, views, n, "sangw_lu_backing_ready", "gauge",
		  "1 when the backing store is open and serving, 0 while it opens or after it failed (NOT READY).",
		  v_ready);

	family(b, "sangw_alua_port_group_state", "gauge",
	       "ALUA asymmetric access state of each target port group (tpg = node id) of the logical unit: "
	       "1 for the state the group is in, 0 for the others.");
	for (size_t i = 0; i < n; i++) {
		const struct lu_alua *a = &views[i].lu->alua;

		for (unsigned g = 0; g < a->n_groups; g++)
			for (size_t s = 0; s < ARRAY_SIZE(alua_states); s++) {
				put(b, "sangw_alua_port_group_state");
				put_lu_labels(b, &views[i]);
				put(b, ",tpg=\"%u\",state=\"%s\"} %d\n", a->groups[g].id,
				    alua_state_name(alua_states[s]), a->groups[g].state == alua_states[s]);
			}
	}
	lu_family(b, views, n, "sangw_pr_registrations", "gauge",
		  "Persistent reservation registrations (registered I_T nexuses) of the logical unit.", v_pr_regs);
	lu_family(b, views, n, "sangw_pr_reservation_held", "gauge",
		  "1 while a persistent reservation is held on the logical unit.", v_pr_held);
	lu_family(b, views, n, "sangw_spc2_reservation_held", "gauge",
		  "1 while an SPC-2 RESERVE(6/10) reservation holds the logical unit.", v_spc2_held);
}

/* --- sessions ------------------------------------------------------------ */

static int render_sessions(struct metrics_buf *b, struct gateway *gw)
{
	const struct target *t;
	const struct it_nexus *nx;
	const char **portals = NULL;
	unsigned *counts = NULL;
	size_t n_portals = 0, n_nexuses = 0;

	family(b, "sangw_target_sessions", "gauge", "iSCSI normal sessions (I_T nexuses) to the target on this node.");
	TAILQ_FOREACH(t, &gw->targets, link) {
		unsigned count = 0;

		TAILQ_FOREACH(nx, &gw->nexuses, link)
			count += nx->target == t;
		put(b, "sangw_target_sessions{target=\"");
		put_value(b, t->iqn);
		put(b, "\"} %u\n", count);
	}

	/* Portals as sessions arrived on them (the local address, also for
	 * a wildcard listener): at most one per nexus. */
	TAILQ_FOREACH(nx, &gw->nexuses, link)
		n_nexuses++;
	if (n_nexuses) {
		portals = calloc(n_nexuses, sizeof(*portals));
		counts = calloc(n_nexuses, sizeof(*counts));
		if (!portals || !counts) {
			free(portals);
			free(counts);
			return -ENOMEM;
		}
	}
	TAILQ_FOREACH(nx, &gw->nexuses, link) {
		size_t i;

		if (!nx->portal[0])
			continue;              /* a fabric without portals */
		for (i = 0; i < n_portals && strcmp(portals[i], nx->portal) != 0; i++)
			;
		if (i == n_portals)
			portals[n_portals++] = nx->portal;
		counts[i]++;
	}
	family(b, "sangw_portal_sessions", "gauge",
	       "iSCSI normal sessions by the local address and port (portal) their connection was accepted on.");
	for (size_t i = 0; i < n_portals; i++) {
		put(b, "sangw_portal_sessions{portal=\"");
		put_value(b, portals[i]);
		put(b, "\"} %u\n", counts[i]);
	}
	free(portals);
	free(counts);
	return 0;
}

/* --- cluster ------------------------------------------------------------- */

#define KNOWN_NODES_MAX (CLUSTER_NODES_MAX + ALUA_MAX_GROUPS)

static void add_node(uint32_t *nodes, unsigned *n, uint32_t node)
{
	unsigned i = 0;

	while (i < *n && nodes[i] < node)
		i++;
	if ((i < *n && nodes[i] == node) || *n == KNOWN_NODES_MAX)
		return;
	memmove(nodes + i + 1, nodes + i, (*n - i) * sizeof(*nodes));
	nodes[i] = node;
	(*n)++;
}

static bool in_view(const struct cluster_view *v, uint32_t node)
{
	for (size_t i = 0; i < v->n_nodes; i++)
		if (v->nodes[i].id == node)
			return v->nodes[i].present;
	return false;
}

static void render_cluster(struct metrics_buf *b, struct gateway *gw)
{
	struct cluster_view view;          /* ~9 KiB, on the control thread's stack */
	uint32_t nodes[KNOWN_NODES_MAX];
	unsigned n_nodes = 0, present = 0;
	json_object *fencing = gw->fencing ? fencing_json(gw) : NULL;
	json_object *fnodes = NULL, *field;
	const struct target *t;
	const struct lu *lu;

	memset(&view, 0, sizeof(view));
	if (gw->cluster)
		cluster_view(gw->cluster, &view);
	if (fencing && !json_object_object_get_ex(fencing, "nodes", &fnodes))
		fnodes = NULL;
	/* Known nodes: the configured ones (corosync's nodelist) and those
	 * present, this one, every node that still has a port group on an
	 * LU (a departed member's stays, Unavailable), fencing's table. */
	add_node(nodes, &n_nodes, gw->node_id);
	for (size_t i = 0; i < view.n_nodes; i++) {
		add_node(nodes, &n_nodes, view.nodes[i].id);
		present += view.nodes[i].present;
	}
	TAILQ_FOREACH(t, &gw->targets, link)
		TAILQ_FOREACH(lu, &t->lus, link)
			for (unsigned g = 0; g < lu->alua.n_groups; g++)
				add_node(nodes, &n_nodes, lu->alua.groups[g].id);
	for (size_t i = 0; fnodes && i < json_object_array_length(fnodes); i++)
		if (json_object_object_get_ex(json_object_array_get_idx(fnodes, i), "node", &field))
			add_node(nodes, &n_nodes, (uint32_t)json_object_get_int64(field));

	family(b, "sangw_cluster_node_id", "gauge", "This node's cluster node id (1 in single-node mode).");
	put(b, "sangw_cluster_node_id %u\n", gw->node_id);
	family(b, "sangw_cluster_node_info", "gauge",
	       "Always 1 for each node the cluster configuration names (corosync's nodelist): its name and address.");
	for (size_t i = 0; i < view.n_nodes; i++) {
		put(b, "sangw_cluster_node_info{node=\"%u\",name=\"", view.nodes[i].id);
		put_value(b, view.nodes[i].name);
		put(b, "\",address=\"");
		put_value(b, view.nodes[i].address);
		put(b, "\"} 1\n");
	}
	family(b, "sangw_cluster_members", "gauge",
	       "Nodes whose sangwd is in this node's current group, this one included.");
	put(b, "sangw_cluster_members %u\n", present);
	family(b, "sangw_cluster_node_up", "gauge",
	       "1 when the node's sangwd is in this node's current group, 0 for a configured or known node that is not.");
	for (unsigned i = 0; i < n_nodes; i++)
		put(b, "sangw_cluster_node_up{node=\"%u\"} %d\n", nodes[i], in_view(&view, nodes[i]));
	family(b, "sangw_cluster_quorate", "gauge", "1 while the membership layer (corosync votequorum) grants this node's partition quorum.");
	put(b, "sangw_cluster_quorate %d\n", view.quorate);
	family(b, "sangw_cluster_ready", "gauge",
	       "1 while this node is quorate and synchronised and so serves I/O and accepts changes.");
	put(b, "sangw_cluster_ready %d\n", gw->cluster_ready);
	family(b, "sangw_config_version", "gauge", "Version of the configuration, bumped by every applied change.");
	put(b, "sangw_config_version %u\n", gw->config_version);
	family(b, "sangw_state_version", "gauge",
	       "Operations applied to the shared state (the same at the same point on every member).");
	put(b, "sangw_state_version %llu\n",
	    (unsigned long long)(gw->cluster ? gw->cluster->state_version : 0));

	if (fencing) {
		json_object *blocked = NULL;

		family(b, "sangw_fencing_node_state", "gauge",
		       "Fencing state of each node with published storage clients: 1 for its state, 0 for the others.");
		for (size_t i = 0; fnodes && i < json_object_array_length(fnodes); i++) {
			json_object *rec = json_object_array_get_idx(fnodes, i), *node, *state;

			if (!json_object_object_get_ex(rec, "node", &node) ||
			    !json_object_object_get_ex(rec, "state", &state))
				continue;
			for (size_t s = 0; s < ARRAY_SIZE(fence_states); s++)
				put(b, "sangw_fencing_node_state{node=\"%lld\",state=\"%s\"} %d\n",
				    (long long)json_object_get_int64(node), fence_states[s],
				    strcmp(json_object_get_string(state), fence_states[s]) == 0);
		}
		json_object_object_get_ex(fencing, "this_node_blocked", &blocked);
		family(b, "sangw_fencing_this_node_blocked", "gauge",
		       "1 while this node was fenced and serves nothing through its port groups.");
		put(b, "sangw_fencing_this_node_blocked %d\n", blocked && json_object_get_boolean(blocked));
		json_object_put(fencing);
	}
}

/* --- the page ------------------------------------------------------------ */

int metrics_render(struct gateway *gw, struct metrics_buf *b)
{
	struct lu_view *views = NULL;
	size_t n = 0, cap = 0;
	const struct target *t;
	const struct lu *lu;
	char backstores[128];
	int rc = 0;

	TAILQ_FOREACH(t, &gw->targets, link)
		TAILQ_FOREACH(lu, &t->lus, link)
			cap++;
	if (cap && !(views = calloc(cap, sizeof(*views))))
		return -ENOMEM;
	TAILQ_FOREACH(t, &gw->targets, link)
		TAILQ_FOREACH(lu, &t->lus, link)
			lu_view_fill(&views[n++], t, lu);

	backstore_names(backstores, sizeof(backstores));
	family(b, "sangw_build_info", "gauge", "Always 1; the labels say which sangwd this is.");
	put(b, "sangw_build_info{version=\"");
	put_value(b, PACKAGE_VERSION);
	put(b, "\",backstores=\"");
	put_value(b, backstores);
	put(b, "\"} 1\n");
	render_lus(b, views, n);
	free(views);
	if (render_sessions(b, gw) < 0)
		rc = -ENOMEM;
	render_cluster(b, gw);
	return b->failed ? -ENOMEM : rc;
}
