/* The read-only commands of one node (ls, stats, version, fencing) and the
 * helpers that read sangwd's answers for humans. */
#include <stdio.h>
#include <string.h>

#include "gwcli.h"

const char *str_of(json_object *obj, const char *key)
{
	json_object *v;

	if (!obj || !json_object_object_get_ex(obj, key, &v) || !v)
		return "";
	return json_object_get_string(v);
}

const char *portal_label(json_object *portal, char *buf, size_t len)
{
	if (json_object_is_type(portal, json_type_object))
		snprintf(buf, len, "%s,%s", str_of(portal, "portal"), str_of(portal, "transport"));
	else
		snprintf(buf, len, "%s", json_object_get_string(portal));
	return buf;
}

int64_t int_of(json_object *obj, const char *key)
{
	json_object *v;

	if (!obj || !json_object_object_get_ex(obj, key, &v) || !v)
		return 0;
	return json_object_get_int64(v);
}

bool bool_of(json_object *obj, const char *key)
{
	json_object *v;

	return obj && json_object_object_get_ex(obj, key, &v) && v && json_object_get_boolean(v);
}

json_object *array_of(json_object *obj, const char *key)
{
	json_object *v;

	if (!obj || !json_object_object_get_ex(obj, key, &v) || json_object_get_type(v) != json_type_array)
		return NULL;
	return v;
}

void human_size(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double value = (double)bytes;
	unsigned u = 0;

	while (value >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		value /= 1024;
		u++;
	}
	if (u == 0 || value == (double)(uint64_t)value)
		snprintf(buf, len, "%.0f %s", value, units[u]);
	else
		snprintf(buf, len, "%.1f %s", value, units[u]);
}

/* "chap USER" / "mutual USER" parts of an ACL or target line. */
void describe_chap(json_object *obj, char *buf, size_t len)
{
	json_object *chap = NULL, *mutual = NULL;

	json_object_object_get_ex(obj, "chap", &chap);
	json_object_object_get_ex(obj, "mutual_chap", &mutual);
	if (!bool_of(chap, "set"))
		snprintf(buf, len, "no chap");
	else if (!bool_of(mutual, "set"))
		snprintf(buf, len, "chap %s", str_of(chap, "user"));
	else
		snprintf(buf, len, "chap %s, mutual %s", str_of(chap, "user"), str_of(mutual, "user"));
}

/* "port groups: 1 active-optimized (preferred), 2 standby" */
static void print_port_groups(json_object *lu)
{
	json_object *groups = array_of(lu, "port_groups");

	if (!groups || json_object_array_length(groups) == 0)
		return;
	printf("        port groups:");
	for (size_t i = 0; i < json_object_array_length(groups); i++) {
		json_object *g = json_object_array_get_idx(groups, i);

		printf("%s %lld %s%s", i ? "," : "", (long long)int_of(g, "id"), str_of(g, "state"),
		       bool_of(g, "preferred") ? " (preferred)" : "");
	}
	printf("\n");
}

static void print_tree(json_object *resp, void *arg)
{
	json_object *portals = array_of(resp, "portals"), *targets = array_of(resp, "targets");
	json_object *discovery = NULL;
	char chap[600];

	(void)arg;
	printf("sangwd node %lld, configuration version %lld%s%s\n", (long long)int_of(resp, "node_id"),
	       (long long)int_of(resp, "config_version"), str_of(resp, "config_file")[0] ? ", " : "",
	       str_of(resp, "config_file"));
	printf("portals:");
	for (size_t i = 0; portals && i < json_object_array_length(portals); i++) {
		char label[160];

		printf("%s %s", i ? "," : "", portal_label(json_object_array_get_idx(portals, i), label, sizeof(label)));
	}
	printf("%s\n", portals && json_object_array_length(portals) ? "" : " (none)");
	if (json_object_object_get_ex(resp, "discovery", &discovery)) {
		describe_chap(discovery, chap, sizeof(chap));
		printf("discovery: %s, %s\n", bool_of(discovery, "auth") ? "CHAP required" : "CHAP not required",
		       chap);
	}
	if (!targets || json_object_array_length(targets) == 0) {
		printf("no targets\n");
		return;
	}
	for (size_t i = 0; i < json_object_array_length(targets); i++) {
		json_object *t = json_object_array_get_idx(targets, i);
		json_object *luns = array_of(t, "luns"), *acls = array_of(t, "acls");
		int64_t sessions = int_of(t, "sessions");

		describe_chap(t, chap, sizeof(chap));
		printf("%s  [%s, %s, %lld session%s]\n", str_of(t, "iqn"),
		       bool_of(t, "demo_mode") ? "demo mode: any initiator" : "ACLs only", chap,
		       (long long)sessions, sessions == 1 ? "" : "s");
		printf("  luns:%s\n", luns && json_object_array_length(luns) ? "" : " (none)");
		for (size_t j = 0; luns && j < json_object_array_length(luns); j++) {
			json_object *lu = json_object_array_get_idx(luns, j);
			char size[32];

			human_size((uint64_t)int_of(lu, "size_bytes"), size, sizeof(size));
			printf("    %-3lld %s  %s  naa.%s%s%s%s%s\n", (long long)int_of(lu, "lun"),
			       str_of(lu, "spec"), size, str_of(lu, "naa"),
			       bool_of(lu, "thin") ? "  thin" : "", bool_of(lu, "readonly") ? "  read-only" : "",
			       bool_of(lu, "removable") ? "  removable" : "",
			       bool_of(lu, "removing") ? "  (being removed)" : "");
			/* A network backing opens in the background (NOT READY till then). */
			if (str_of(lu, "backing")[0] && strcmp(str_of(lu, "backing"), "ready") != 0)
				printf("        backing %s%s%s\n", str_of(lu, "backing"),
				       str_of(lu, "backing_error")[0] ? ": " : "", str_of(lu, "backing_error"));
			print_port_groups(lu);
		}
		printf("  acls:%s\n", acls && json_object_array_length(acls) ? "" : " (none)");
		for (size_t j = 0; acls && j < json_object_array_length(acls); j++) {
			json_object *acl = json_object_array_get_idx(acls, j);
			json_object *map = array_of(acl, "lun_map");
			int64_t n = int_of(acl, "sessions");

			describe_chap(acl, chap, sizeof(chap));
			printf("    %s  [%s, %lld session%s]\n", str_of(acl, "initiator"), chap, (long long)n,
			       n == 1 ? "" : "s");
			if (!map) {
				printf("      sees every LUN\n");
				continue;
			}
			printf("      sees");
			for (size_t k = 0; k < json_object_array_length(map); k++) {
				json_object *e = json_object_array_get_idx(map, k);

				printf("%s LUN %lld as %lld", k ? "," : "", (long long)int_of(e, "lun"),
				       (long long)int_of(e, "mapped_lun"));
			}
			printf("\n");
		}
	}
}

static void print_stats(json_object *resp, void *arg)
{
	json_object *luns = array_of(resp, "luns");

	(void)arg;
	if (!luns || json_object_array_length(luns) == 0) {
		printf("no LUs\n");
		return;
	}
	printf("%-40s %4s %12s %12s %10s %10s %8s %8s %7s\n", "TARGET", "LUN", "READS", "WRITES",
	       "READ", "WRITTEN", "RD_US", "WR_US", "ERRORS");
	for (size_t i = 0; i < json_object_array_length(luns); i++) {
		json_object *s = json_object_array_get_idx(luns, i);
		char rd[32], wr[32];

		human_size((uint64_t)int_of(s, "read_bytes"), rd, sizeof(rd));
		human_size((uint64_t)int_of(s, "write_bytes"), wr, sizeof(wr));
		printf("%-40s %4lld %12lld %12lld %10s %10s %8lld %8lld %7lld\n", str_of(s, "target"),
		       (long long)int_of(s, "lun"), (long long)int_of(s, "read_cmds"),
		       (long long)int_of(s, "write_cmds"), rd, wr, (long long)int_of(s, "read_avg_us"),
		       (long long)int_of(s, "write_avg_us"), (long long)int_of(s, "errors"));
	}
}

static void print_version(json_object *resp, void *arg)
{
	json_object *store;

	(void)arg;
	printf("sangwd %s (management API %lld), node %lld, cluster %s, configuration version %lld\n",
	       str_of(resp, "version"), (long long)int_of(resp, "api"), (long long)int_of(resp, "node_id"),
	       str_of(resp, "cluster"), (long long)int_of(resp, "config_version"));
	if (json_object_object_get_ex(resp, "state_store", &store)) {
		const char *error = str_of(store, "last_error");

		printf("state store %s: version %lld written by this node, %lld stored, %lld queued%s%s\n",
		       str_of(store, "where"), (long long)int_of(store, "version_written"),
		       (long long)int_of(store, "version_stored"),
		       (long long)int_of(store, "version_queued"), error && *error ? "; last error: " : "",
		       error && *error ? error : "");
	}
}

static void print_fencing(json_object *resp, void *arg)
{
	json_object *f = NULL, *nodes;

	(void)arg;
	json_object_object_get_ex(resp, "fencing", &f);
	nodes = f ? array_of(f, "nodes") : NULL;
	printf("fencing %s%s\n", f && bool_of(f, "enabled") ? "on" : "off",
	       f && bool_of(f, "this_node_blocked") ? "; this node's shared LUs are held (Transitioning)" : "");
	printf("%-6s %-13s %s\n", "NODE", "STATE", "CLIENTS");
	for (size_t i = 0; nodes && i < json_object_array_length(nodes); i++) {
		json_object *n = json_object_array_get_idx(nodes, i);
		const char *fenced = str_of(n, "fenced_clients");

		printf("%-6lld %-13s %s%s%s\n", (long long)int_of(n, "node"), str_of(n, "state"),
		       str_of(n, "identity"), fenced[0] ? "  refused: " : "", fenced);
	}
}

/* ls, sessions, stats, version, fencing, reload: no arguments. */
static int call_simple(const struct cli *cli, const char *cmd, const char *request_name, print_fn print,
		       int argc)
{
	json_object *req;
	int r;

	if (argc)
		return command_usage(cmd, "'%s' takes no arguments", cmd);
	req = request_new(request_name);
	r = call(cli, req, print, NULL);
	json_object_put(req);
	return r;
}

int cmd_ls(const struct cli *cli, int argc, char **argv)
{
	(void)argv;
	return call_simple(cli, "ls", "list", print_tree, argc);
}

int cmd_stats(const struct cli *cli, int argc, char **argv)
{
	(void)argv;
	return call_simple(cli, "stats", "stats", print_stats, argc);
}

int cmd_version(const struct cli *cli, int argc, char **argv)
{
	(void)argv;
	return call_simple(cli, "version", "version", print_version, argc);
}

int cmd_fencing(const struct cli *cli, int argc, char **argv)
{
	(void)argv;
	return call_simple(cli, "fencing", "fencing", print_fencing, argc);
}

static void print_reloaded(json_object *resp, void *arg)
{
	(void)resp;
	(void)arg;
	printf("configuration reloaded\n");
}

int cmd_reload(const struct cli *cli, int argc, char **argv)
{
	(void)argv;
	return call_simple(cli, "reload", "reload", print_reloaded, argc);
}
