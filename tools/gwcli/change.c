/* The commands that change the configuration: each is one request, which
 * sangwd applies on every node of the cluster (docs/management-api.md). */
#include <stdio.h>
#include <string.h>

#include "gwcli.h"

static void print_lun_created(json_object *resp, void *arg)
{
	printf("LUN %lld created in %s\n", (long long)int_of(resp, "lun"), (const char *)arg);
}

int cmd_target(const struct cli *cli, int argc, char **argv)
{
	static const struct opt_spec opts[] = { { "demo", 0 }, { NULL, 0 } };
	struct parsed p;
	json_object *req;
	char msg[300];
	int r;

	if ((r = parse_args("target", argc, argv, opts, &p)))
		return r;
	if (p.n_pos != 2)
		return command_usage("target", p.n_pos ? "wrong number of arguments" : NULL);
	if (strcmp(p.pos[0], "create") == 0) {
		req = request_new("target_add");
		add_string(req, "target", p.pos[1]);
		if (find_opt(&p, "demo") >= 0)
			json_object_object_add(req, "demo_mode", json_object_new_boolean(true));
		snprintf(msg, sizeof(msg), "target %s created", p.pos[1]);
	} else if (strcmp(p.pos[0], "delete") == 0) {
		if (find_opt(&p, "demo") >= 0)
			return command_usage("target", "--demo is only for create");
		req = request_new("target_del");
		add_string(req, "target", p.pos[1]);
		snprintf(msg, sizeof(msg), "target %s deleted", p.pos[1]);
	} else {
		return command_usage("target", "unknown action '%s'", p.pos[0]);
	}
	return call_change(cli, req, msg);
}

int cmd_lun(const struct cli *cli, int argc, char **argv)
{
	static const struct opt_spec opts[] = { { "lun", 1 }, { "shrink", 0 }, { NULL, 0 } };
	struct parsed p;
	json_object *req;
	uint64_t lun;
	char msg[300];
	int r, i;

	if ((r = parse_args("lun", argc, argv, opts, &p)))
		return r;
	if (p.n_pos < 1)
		return command_usage("lun", NULL);
	if (strcmp(p.pos[0], "create") == 0) {
		if (p.n_pos != 3 || find_opt(&p, "shrink") >= 0)
			return command_usage("lun", "wrong number of arguments");
		req = request_new("lun_add");
		add_string(req, "target", p.pos[1]);
		add_string(req, "spec", p.pos[2]);
		if ((i = find_opt(&p, "lun")) >= 0) {
			if (!parse_number(p.opt_val[i][0], 255, &lun)) {
				json_object_put(req);
				return command_usage("lun", "--lun: '%s' is not a LUN (0 to 255)", p.opt_val[i][0]);
			}
			json_object_object_add(req, "lun", json_object_new_int64((int64_t)lun));
		}
		r = call(cli, req, print_lun_created, (void *)p.pos[1]);
		json_object_put(req);
		return r;
	}
	if (find_opt(&p, "lun") >= 0)
		return command_usage("lun", "--lun is only for create");
	if (p.n_pos < 3)
		return command_usage("lun", "missing arguments");
	if (!parse_number(p.pos[2], 255, &lun))
		return command_usage("lun", "'%s' is not a LUN (0 to 255)", p.pos[2]);
	if (strcmp(p.pos[0], "delete") == 0) {
		if (p.n_pos != 3 || find_opt(&p, "shrink") >= 0)
			return command_usage("lun", "wrong number of arguments");
		req = request_new("lun_del");
		snprintf(msg, sizeof(msg), "LUN %llu deleted from %s", (unsigned long long)lun, p.pos[1]);
	} else if (strcmp(p.pos[0], "resize") == 0) {
		if (p.n_pos != 4)
			return command_usage("lun", "wrong number of arguments");
		req = request_new("lun_resize");
		add_string(req, "size", p.pos[3]);
		if (find_opt(&p, "shrink") >= 0)
			json_object_object_add(req, "shrink", json_object_new_boolean(true));
		snprintf(msg, sizeof(msg), "LUN %llu of %s resized to %s", (unsigned long long)lun, p.pos[1], p.pos[3]);
	} else {
		return command_usage("lun", "unknown action '%s'", p.pos[0]);
	}
	add_string(req, "target", p.pos[1]);
	json_object_object_add(req, "lun", json_object_new_int64((int64_t)lun));
	return call_change(cli, req, msg);
}

int cmd_acl(const struct cli *cli, int argc, char **argv)
{
	static const struct opt_spec opts[] = { { "map", 1 }, { NULL, 0 } };
	struct parsed p;
	json_object *req, *map = NULL;
	char msg[600];
	int r;

	if ((r = parse_args("acl", argc, argv, opts, &p)))
		return r;
	if (p.n_pos != 3)
		return command_usage("acl", p.n_pos ? "wrong number of arguments" : NULL);
	if (strcmp(p.pos[0], "create") == 0) {
		req = request_new("acl_add");
		for (int i = 0; i < p.n_opt; i++) {
			char mapped_text[32];
			const char *colon = strchr(p.opt_val[i][0], ':');
			uint64_t mapped, lun;
			json_object *e;

			if (!colon || (size_t)(colon - p.opt_val[i][0]) >= sizeof(mapped_text)) {
				json_object_put(req);
				json_object_put(map);
				return command_usage("acl", "--map '%s': expected MAPPED:LUN, e.g. 0:3",
						     p.opt_val[i][0]);
			}
			memcpy(mapped_text, p.opt_val[i][0], (size_t)(colon - p.opt_val[i][0]));
			mapped_text[colon - p.opt_val[i][0]] = '\0';
			if (!parse_number(mapped_text, 255, &mapped) || !parse_number(colon + 1, 255, &lun)) {
				json_object_put(req);
				json_object_put(map);
				return command_usage("acl", "--map '%s': both numbers are LUNs (0 to 255)",
						     p.opt_val[i][0]);
			}
			if (!map)
				map = json_object_new_array();
			e = json_object_new_object();
			json_object_object_add(e, "mapped_lun", json_object_new_int64((int64_t)mapped));
			json_object_object_add(e, "lun", json_object_new_int64((int64_t)lun));
			json_object_array_add(map, e);
		}
		if (map)
			json_object_object_add(req, "lun_map", map);
		snprintf(msg, sizeof(msg), "ACL for %s created in %s", p.pos[2], p.pos[1]);
	} else if (strcmp(p.pos[0], "delete") == 0) {
		if (p.n_opt)
			return command_usage("acl", "--map is only for create");
		req = request_new("acl_del");
		snprintf(msg, sizeof(msg), "ACL for %s deleted from %s", p.pos[2], p.pos[1]);
	} else {
		return command_usage("acl", "unknown action '%s'", p.pos[0]);
	}
	add_string(req, "target", p.pos[1]);
	add_string(req, "initiator", p.pos[2]);
	return call_change(cli, req, msg);
}

int cmd_alua(const struct cli *cli, int argc, char **argv)
{
	static const struct opt_spec opts[] = { { "tpg", 1 }, { NULL, 0 } };
	struct parsed p;
	json_object *req;
	uint64_t lun, tpg = 0;
	char msg[600];
	int r, i;

	if ((r = parse_args("alua", argc, argv, opts, &p)))
		return r;
	if (p.n_pos != 4 || strcmp(p.pos[0], "set") != 0)
		return command_usage("alua", p.n_pos ? "wrong number of arguments" : NULL);
	if (!parse_number(p.pos[2], 255, &lun))
		return command_usage("alua", "'%s' is not a LUN (0 to 255)", p.pos[2]);
	if ((i = find_opt(&p, "tpg")) >= 0 && (!parse_number(p.opt_val[i][0], 65535, &tpg) || tpg == 0))
		return command_usage("alua", "--tpg: '%s' is not a target port group id (1 to 65535)",
				     p.opt_val[i][0]);
	req = request_new("alua_set");
	add_string(req, "target", p.pos[1]);
	json_object_object_add(req, "lun", json_object_new_int64((int64_t)lun));
	add_string(req, "state", p.pos[3]);
	if (i >= 0)
		json_object_object_add(req, "tpg", json_object_new_int64((int64_t)tpg));
	if (i >= 0)
		snprintf(msg, sizeof(msg), "target port group %llu of LUN %llu of %s is now %s",
			 (unsigned long long)tpg, (unsigned long long)lun, p.pos[1], p.pos[3]);
	else
		snprintf(msg, sizeof(msg), "this node's target port group of LUN %llu of %s is now %s",
			 (unsigned long long)lun, p.pos[1], p.pos[3]);
	return call_change(cli, req, msg);
}

int cmd_chap(const struct cli *cli, int argc, char **argv)
{
	static const struct opt_spec opts[] = {
		{ "discovery", 0 }, { "mutual", 2 }, { "optional", 0 }, { "mutual-only", 0 }, { NULL, 0 },
	};
	struct parsed p;
	json_object *req;
	bool discovery;
	int r, scope_args, mutual;

	if ((r = parse_args("chap", argc, argv, opts, &p)))
		return r;
	if (p.n_pos < 1)
		return command_usage("chap", NULL);
	discovery = find_opt(&p, "discovery") >= 0;
	if (strcmp(p.pos[0], "set") == 0) {
		/* set [IQN [INITIATOR]] USER SECRET */
		scope_args = p.n_pos - 1 - 2;
		if (find_opt(&p, "mutual-only") >= 0)
			return command_usage("chap", "--mutual-only is only for clear");
		if (discovery ? scope_args != 0 : (scope_args < 1 || scope_args > 2))
			return command_usage("chap", "wrong number of arguments");
		if (!discovery && find_opt(&p, "optional") >= 0)
			return command_usage("chap", "--optional is only for --discovery");
		req = request_new("chap_set");
		add_string(req, "user", p.pos[1 + scope_args]);
		add_string(req, "secret", p.pos[2 + scope_args]);
		if ((mutual = find_opt(&p, "mutual")) >= 0) {
			add_string(req, "mutual_user", p.opt_val[mutual][0]);
			add_string(req, "mutual_secret", p.opt_val[mutual][1]);
		}
		if (discovery && find_opt(&p, "optional") >= 0)
			json_object_object_add(req, "required", json_object_new_boolean(false));
	} else if (strcmp(p.pos[0], "clear") == 0) {
		scope_args = p.n_pos - 1;
		if (find_opt(&p, "mutual") >= 0 || find_opt(&p, "optional") >= 0)
			return command_usage("chap", "--mutual USER SECRET and --optional are only for set");
		if (discovery ? scope_args != 0 : (scope_args < 1 || scope_args > 2))
			return command_usage("chap", "wrong number of arguments");
		req = request_new("chap_clear");
		if (find_opt(&p, "mutual-only") >= 0)
			json_object_object_add(req, "mutual_only", json_object_new_boolean(true));
	} else {
		return command_usage("chap", "unknown action '%s'", p.pos[0]);
	}
	if (discovery) {
		json_object_object_add(req, "discovery", json_object_new_boolean(true));
	} else {
		add_string(req, "target", p.pos[1]);
		if (scope_args == 2)
			add_string(req, "initiator", p.pos[2]);
	}
	return call_change(cli, req, strcmp(p.pos[0], "set") == 0 ? "CHAP set" : "CHAP cleared");
}

/* portal create|delete ADDR:PORT [--iser]; "ADDR:PORT,iser" (how ls and
 * the shell name an iSER portal) says the same as --iser. An FCoE VN2VN
 * port: portal create IFNAME --fcoe [--wwpn WWN] [--wwnn WWN] [--target
 * IQN], or "IFNAME,fcoe" (docs/fcoe.md). */
int cmd_portal(const struct cli *cli, int argc, char **argv)
{
	static const struct opt_spec opts[] = {
		{ "iser", 0 }, { "fcoe", 0 }, { "wwpn", 1 }, { "wwnn", 1 }, { "target", 1 }, { NULL, 0 },
	};
	static const char *const fc_keys[] = { "wwpn", "wwnn", "target" };
	struct parsed p;
	json_object *req;
	char msg[300], addr[160];
	const char *transport = "tcp", *comma, *kind;
	int r;

	if ((r = parse_args("portal", argc, argv, opts, &p)))
		return r;
	if (p.n_pos != 2)
		return command_usage("portal", p.n_pos ? "wrong number of arguments" : NULL);
	snprintf(addr, sizeof(addr), "%s", p.pos[1]);
	if ((comma = strrchr(p.pos[1], ',')) &&
	    (!strcmp(comma + 1, "iser") || !strcmp(comma + 1, "tcp") || !strcmp(comma + 1, "fcoe"))) {
		transport = comma + 1;
		addr[comma - p.pos[1]] = '\0';
	}
	if (find_opt(&p, "iser") >= 0)
		transport = "iser";
	if (find_opt(&p, "fcoe") >= 0)
		transport = "fcoe";
	for (unsigned i = 0; i < 3; i++)
		if (find_opt(&p, fc_keys[i]) >= 0 && strcmp(transport, "fcoe"))
			return command_usage("portal", "--%s is for FCoE portals (--fcoe)", fc_keys[i]);
	kind = !strcmp(transport, "iser") ? " (iSER)" : !strcmp(transport, "fcoe") ? " (FCoE VN2VN)" : "";
	if (strcmp(p.pos[0], "create") == 0) {
		req = request_new("portal_add");
		snprintf(msg, sizeof(msg), "listening on %s%s", addr, kind);
	} else if (strcmp(p.pos[0], "delete") == 0) {
		req = request_new("portal_del");
		snprintf(msg, sizeof(msg), "no longer listening on %s%s", addr, kind);
	} else {
		return command_usage("portal", "unknown action '%s'", p.pos[0]);
	}
	add_string(req, "portal", addr);
	if (strcmp(transport, "tcp") != 0)
		add_string(req, "transport", transport);
	for (unsigned i = 0; i < 3; i++) {
		int k = find_opt(&p, fc_keys[i]);

		if (k >= 0)
			add_string(req, fc_keys[i], p.opt_val[k][0]);
	}
	return call_change(cli, req, msg);
}

int cmd_param(const struct cli *cli, int argc, char **argv)
{
	static const struct opt_spec opts[] = { { "discovery", 0 }, { NULL, 0 } };
	struct parsed p;
	json_object *req;
	char msg[600];
	int r;

	if ((r = parse_args("param", argc, argv, opts, &p)))
		return r;
	if (find_opt(&p, "discovery") >= 0) {
		/* param set --discovery KEY VALUE: discovery sessions' own */
		if (p.n_pos != 3 || strcmp(p.pos[0], "set") != 0)
			return command_usage("param", p.n_pos ? "wrong number of arguments" : NULL);
		req = request_new("param_set");
		json_object_object_add(req, "discovery", json_object_new_boolean(true));
		add_string(req, "key", p.pos[1]);
		add_string(req, "value", p.pos[2]);
		snprintf(msg, sizeof(msg), "%s of discovery sessions set to %s (used by new sessions)",
			 p.pos[1], p.pos[2]);
		return call_change(cli, req, msg);
	}
	if (p.n_pos != 4 || strcmp(p.pos[0], "set") != 0)
		return command_usage("param", p.n_pos ? "wrong number of arguments" : NULL);
	req = request_new("param_set");
	add_string(req, "target", p.pos[1]);
	add_string(req, "key", p.pos[2]);
	add_string(req, "value", p.pos[3]);   /* the daemon parses it by key */
	snprintf(msg, sizeof(msg), "%s of %s set to %s (used by new sessions)", p.pos[2], p.pos[1], p.pos[3]);
	return call_change(cli, req, msg);
}

