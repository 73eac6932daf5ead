/* The promoted/unpromoted role of a node (node_role.h): the SOP_NODE_ROLE
 * operation and the node_role management request. */
#include "node_role.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "scsi/alua.h"
#include "shared_state.h"

/* SOP_NODE_ROLE payload (fixed layout, shared_state.h rules). */
struct node_role_payload {
	uint32_t node;
	uint8_t promoted;      /* 1: promote node, 0: demote it */
	uint8_t reserved[3];
};

int node_role_apply(struct gateway *gw, const void *payload, uint32_t len)
{
	struct node_role_payload p;
	uint32_t before = gw->promoted_node;

	if (len != sizeof(p))
		return -EINVAL;
	memcpy(&p, payload, sizeof(p));
	if (p.node == 0 || p.node > UINT16_MAX || p.promoted > 1)
		return -EINVAL;
	if (p.promoted)
		gw->promoted_node = p.node;          /* one promoted node: the last one asked */
	else if (gw->promoted_node == p.node)
		gw->promoted_node = 0;               /* demoting another node changes nothing */
	if (gw->promoted_node == before)
		return 0;
	if (gw->promoted_node)
		log_info("node role: node %u promoted (before: %u, 0 = none)", gw->promoted_node, before);
	else
		log_info("node role: node %u demoted, no node promoted", before);
	alua_promoted_changed(gw);
	return 0;
}

static bool node_serving(struct gateway *gw)
{
	return gw->cluster_ready && (!gw->cluster || cluster_ready(gw->cluster));
}

static void status_json(struct gateway *gw, json_object *resp)
{
	json_object *members = json_object_new_array();

	json_object_object_add(resp, "node_id", json_object_new_int64(gw->node_id));
	json_object_object_add(resp, "role", json_object_new_string(
		gw->promoted_node == gw->node_id ? "promoted" : "unpromoted"));
	json_object_object_add(resp, "promoted_node", json_object_new_int64(gw->promoted_node));
	json_object_object_add(resp, "ready", json_object_new_boolean(node_serving(gw)));
	if (gw->n_members == 0)
		json_object_array_add(members, json_object_new_int64(gw->node_id));
	for (unsigned i = 0; i < gw->n_members; i++)
		json_object_array_add(members, json_object_new_int64(gw->members[i]));
	json_object_object_add(resp, "members", members);
}

int node_role_request(struct gateway *gw, json_object *req, json_object *resp,
		      cluster_done_fn done, void *ctx, char *err, size_t errlen)
{
	struct node_role_payload p;
	json_object *role = NULL;
	const char *name;
	int r;

	json_object_object_foreach(req, key, val) {
		(void)val;
		if (strcmp(key, "request") && strcmp(key, "id") && strcmp(key, "role")) {
			snprintf(err, errlen, "%s: unknown key (node_role takes \"role\")", key);
			return -EINVAL;
		}
	}
	if (!json_object_object_get_ex(req, "role", &role)) {
		status_json(gw, resp);
		return 1;
	}
	name = json_object_get_type(role) == json_type_string ? json_object_get_string(role) : "";
	memset(&p, 0, sizeof(p));
	p.node = gw->node_id;
	if (strcmp(name, "promoted") == 0)
		p.promoted = 1;
	else if (strcmp(name, "unpromoted") != 0) {
		snprintf(err, errlen, "role: must be \"promoted\" or \"unpromoted\"");
		return -EINVAL;
	}
	/* Idempotent, as pacemaker expects of promote and demote. */
	if ((gw->promoted_node == gw->node_id) == (p.promoted == 1)) {
		status_json(gw, resp);
		return 1;
	}
	if (!gw->cluster) {
		snprintf(err, errlen, "no cluster service is running");
		return -ENOTCONN;
	}
	r = cluster_submit(gw->cluster, SOP_NODE_ROLE, &p, sizeof(p), done, ctx);
	if (r < 0) {
		snprintf(err, errlen, "node_role not submitted: %s",
			 r == -EAGAIN ? "the cluster is not quorate" : strerror(-r));
		return r;
	}
	return 0;
}
