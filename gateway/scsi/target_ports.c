/* Relative target port identifiers of the cluster's target ports besides
 * the nodes' iSCSI ones (target_ports.h): allocation on this node, the
 * SOP_TARGET_PORTS announcement every node applies, and state transfer. */
#include "target_ports.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "../log.h"
#include "../shared_state.h"
#include "../util.h"

/* SOP_TARGET_PORTS payload (fixed layout, shared_state.h rules). */
struct target_ports_payload {
	uint32_t node;
	uint16_t count;
	uint16_t rel[TARGET_PORTS_EXTRA_MAX];
};

#define PORT_STEP 256u   /* rel = node + PORT_STEP * K */

static bool valid_rel(uint32_t node, uint16_t rel)
{
	return node >= 1 && node < PORT_STEP && rel > PORT_STEP && rel % PORT_STEP == node &&
	       rel / PORT_STEP <= TARGET_PORTS_EXTRA_MAX;
}

static bool list_equal(const struct node_target_ports *a, const struct node_target_ports *b)
{
	return a->n == b->n && !memcmp(a->rel, b->rel, a->n * sizeof(a->rel[0]));
}

static const struct node_target_ports *entry_of(const struct gateway *gw, uint32_t node)
{
	for (unsigned i = 0; i < gw->n_node_ports; i++)
		if (gw->node_ports[i].node == node)
			return &gw->node_ports[i];
	return NULL;
}

int target_port_add(struct gateway *gw, uint16_t *rel, char *err, size_t errlen)
{
	struct node_target_ports *own = &gw->own_ports;
	unsigned k, i;

	if (gw->node_id < 1 || gw->node_id >= PORT_STEP) {
		snprintf(err, errlen, "node id %u: a node with FCoE ports needs a node id of 1-%u "
			 "(its relative target port identifiers are the node id + %u * K)",
			 gw->node_id, PORT_STEP - 1, PORT_STEP);
		return -ERANGE;
	}
	/* The lowest free K keeps the ids short and ascending. */
	for (k = 1, i = 0; i < own->n && own->rel[i] == gw->node_id + PORT_STEP * k; i++)
		k++;
	if (own->n == TARGET_PORTS_EXTRA_MAX) {
		snprintf(err, errlen, "this node has %u target ports besides iSCSI already",
			 TARGET_PORTS_EXTRA_MAX);
		return -ENOSPC;
	}
	memmove(own->rel + i + 1, own->rel + i, (own->n - i) * sizeof(own->rel[0]));
	own->rel[i] = (uint16_t)(gw->node_id + PORT_STEP * k);
	own->n++;
	own->node = gw->node_id;
	*rel = own->rel[i];
	target_ports_kick(gw);
	return 0;
}

void target_port_remove(struct gateway *gw, uint16_t rel)
{
	struct node_target_ports *own = &gw->own_ports;

	for (unsigned i = 0; i < own->n; i++) {
		if (own->rel[i] != rel)
			continue;
		memmove(own->rel + i, own->rel + i + 1, (own->n - i - 1) * sizeof(own->rel[0]));
		own->n--;
		target_ports_kick(gw);
		return;
	}
}

static void announced(void *ctx, int result)
{
	struct gateway *gw = ctx;

	gw->ports_announcing = false;
	if (result < 0)
		log_warn("cluster: announcing this node's target ports failed: %s", strerror(-result));
	else
		target_ports_kick(gw);   /* they may have changed meanwhile */
}

void target_ports_freeze(struct gateway *gw)
{
	gw->ports_frozen = true;
}

void target_ports_kick(struct gateway *gw)
{
	static const struct node_target_ports none;
	const struct node_target_ports *seen;
	struct target_ports_payload p;

	if (!gw->cluster || !gw->cluster_ready || gw->ports_announcing || gw->ports_frozen)
		return;
	seen = entry_of(gw, gw->node_id);
	if (list_equal(&gw->own_ports, seen ? seen : &none))
		return;
	memset(&p, 0, sizeof(p));
	p.node = gw->node_id;
	p.count = (uint16_t)gw->own_ports.n;
	memcpy(p.rel, gw->own_ports.rel, gw->own_ports.n * sizeof(p.rel[0]));
	gw->ports_announcing = true;
	if (cluster_submit(gw->cluster, SOP_TARGET_PORTS, &p, sizeof(p), announced, gw) < 0)
		gw->ports_announcing = false;   /* again at the next ready change */
}

/* Replace node's entry (none when n is 0), keeping the table ascending. */
static int table_set(struct gateway *gw, const struct node_target_ports *e)
{
	unsigned i = 0;

	while (i < gw->n_node_ports && gw->node_ports[i].node < e->node)
		i++;
	if (i < gw->n_node_ports && gw->node_ports[i].node == e->node) {
		if (e->n) {
			gw->node_ports[i] = *e;
			return 0;
		}
		memmove(gw->node_ports + i, gw->node_ports + i + 1,
			(gw->n_node_ports - i - 1) * sizeof(gw->node_ports[0]));
		gw->n_node_ports--;
		return 0;
	}
	if (!e->n)
		return 0;
	if (gw->n_node_ports == ALUA_MAX_GROUPS)
		return -ENOSPC;
	memmove(gw->node_ports + i + 1, gw->node_ports + i,
		(gw->n_node_ports - i) * sizeof(gw->node_ports[0]));
	gw->node_ports[i] = *e;
	gw->n_node_ports++;
	return 0;
}

/* Ascending ids of this node's form; false otherwise. */
static bool valid_entry(const struct node_target_ports *e)
{
	if (e->n > TARGET_PORTS_EXTRA_MAX)
		return false;
	for (unsigned i = 0; i < e->n; i++)
		if (!valid_rel(e->node, e->rel[i]) || (i && e->rel[i] <= e->rel[i - 1]))
			return false;
	return true;
}

int target_ports_apply(struct gateway *gw, uint32_t origin_node, const void *payload, uint32_t len)
{
	struct target_ports_payload p;
	struct node_target_ports e;

	if (len != sizeof(p)) {
		log_error("SOP_TARGET_PORTS: bad payload length %u", len);
		return -EINVAL;
	}
	memcpy(&p, payload, sizeof(p));
	memset(&e, 0, sizeof(e));
	e.node = p.node;
	e.n = p.count;
	if (e.n <= TARGET_PORTS_EXTRA_MAX)
		memcpy(e.rel, p.rel, e.n * sizeof(e.rel[0]));
	/* A node announces its own ports only. */
	if (p.node != origin_node || !valid_entry(&e)) {
		log_error("SOP_TARGET_PORTS from node %u: malformed (node %u, %u ports)", origin_node,
			  p.node, p.count);
		return -EINVAL;
	}
	log_info("cluster: node %u has %u target port(s) besides iSCSI%s", e.node, e.n,
		 e.n ? " (relative target port identifiers below)" : "");
	for (unsigned i = 0; i < e.n; i++)
		log_info("cluster: node %u: relative target port %u", e.node, e.rel[i]);
	return table_set(gw, &e);
}

unsigned target_ports_extra(const struct gateway *gw, uint32_t node, uint16_t *rel, unsigned max)
{
	const struct node_target_ports *e = entry_of(gw, node);
	unsigned n = e ? MIN(e->n, max) : 0;

	if (n)
		memcpy(rel, e->rel, n * sizeof(rel[0]));
	return n;
}

uint32_t target_ports_node(const struct gateway *gw, uint16_t rel)
{
	const struct node_target_ports *e = entry_of(gw, rel % PORT_STEP);

	for (unsigned i = 0; e && i < e->n; i++)
		if (e->rel[i] == rel)
			return e->node;
	return 0;
}

int target_ports_snapshot(const struct gateway *gw, struct json_object *obj)
{
	json_object *arr = json_object_new_array();

	if (!arr)
		return -ENOMEM;
	for (unsigned i = 0; i < gw->n_node_ports; i++) {
		const struct node_target_ports *e = &gw->node_ports[i];
		json_object *o = json_object_new_object(), *ports = json_object_new_array();

		if (!o || !ports) {
			json_object_put(o);
			json_object_put(ports);
			json_object_put(arr);
			return -ENOMEM;
		}
		for (unsigned j = 0; j < e->n; j++)
			json_object_array_add(ports, json_object_new_int(e->rel[j]));
		json_object_object_add(o, "node", json_object_new_int64(e->node));
		json_object_object_add(o, "ports", ports);
		json_object_array_add(arr, o);
	}
	json_object_object_add(obj, "target_ports", arr);
	return 0;
}

int target_ports_restore(struct gateway *gw, const struct json_object *obj)
{
	struct node_target_ports table[ALUA_MAX_GROUPS];
	json_object *arr;
	size_t n;

	memset(table, 0, sizeof(table));
	if (!json_object_object_get_ex(obj, "target_ports", &arr)) {
		n = 0;
	} else {
		if (json_object_get_type(arr) != json_type_array ||
		    (n = json_object_array_length(arr)) > ALUA_MAX_GROUPS)
			return -EINVAL;
		for (size_t i = 0; i < n; i++) {
			json_object *o = json_object_array_get_idx(arr, i), *node, *ports;
			struct node_target_ports *e = &table[i];
			size_t np;

			if (json_object_get_type(o) != json_type_object ||
			    !json_object_object_get_ex(o, "node", &node) ||
			    !json_object_object_get_ex(o, "ports", &ports) ||
			    json_object_get_type(node) != json_type_int ||
			    json_object_get_type(ports) != json_type_array ||
			    (np = json_object_array_length(ports)) < 1 || np > TARGET_PORTS_EXTRA_MAX)
				return -EINVAL;
			e->node = (uint32_t)json_object_get_int64(node);
			if (json_object_get_int64(node) < 1 || json_object_get_int64(node) >= PORT_STEP ||
			    (i && e->node <= table[i - 1].node))
				return -EINVAL;
			for (size_t j = 0; j < np; j++) {
				json_object *v = json_object_array_get_idx(ports, j);
				int64_t rel = json_object_get_int64(v);

				if (json_object_get_type(v) != json_type_int || rel < 1 || rel > UINT16_MAX)
					return -EINVAL;
				e->rel[e->n++] = (uint16_t)rel;
			}
			if (!valid_entry(e))
				return -EINVAL;
		}
	}
	memcpy(gw->node_ports, table, sizeof(table));
	gw->n_node_ports = (unsigned)n;
	return 0;
}
