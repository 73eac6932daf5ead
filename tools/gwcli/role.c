/* gwcli role [promote|demote]: this node's role under pacemaker, the
 * node_role request (docs/management-api.md, docs/pacemaker.md). */
#include <stdio.h>
#include <string.h>

#include "gwcli.h"

static void print_role(json_object *resp, void *arg)
{
	(void)arg;
	printf("node %lld %s; promoted node: %lld (0: none); %s\n", (long long)int_of(resp, "node_id"),
	       str_of(resp, "role"), (long long)int_of(resp, "promoted_node"),
	       bool_of(resp, "ready") ? "serving" : "not serving (not quorate or not synchronised)");
}

int cmd_role(const struct cli *cli, int argc, char **argv)
{
	json_object *req;
	bool promote;
	int r;

	if (argc > 1 || (argc == 1 && strcmp(argv[0], "promote") && strcmp(argv[0], "demote")))
		return command_usage("role", "expected 'role', 'role promote' or 'role demote'");
	req = request_new("node_role");
	if (argc == 0) {
		r = call(cli, req, print_role, NULL);
		json_object_put(req);
		return r;
	}
	promote = strcmp(argv[0], "promote") == 0;
	add_string(req, "role", promote ? "promoted" : "unpromoted");
	return call_change(cli, req, promote ? "promoted" : "demoted");
}
