/* gwcli: the administrator's command line for sangwd. Every command is one
 * request over the management API (docs/management-api.md): a JSON object
 * on a line to the unix socket, one JSON object back. --json prints that
 * answer as it came, for scripts. Exit status: 0 done, 1 refused or no
 * daemon, 2 usage error. */
#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_SOCKET   "/run/sangw/sangwd.sock"
#define DEFAULT_TIMEOUT  120          /* seconds: creating a large LU takes a while */
#define MAX_RESPONSE     (64u << 20)

#define EXIT_REFUSED 1
#define EXIT_USAGE   2

struct cli {
	const char *socket_path;
	bool json;
	int timeout_s;
};

/* ------------------------------------------------------------------------
 * Usage.
 * ---------------------------------------------------------------------- */

struct command_help {
	const char *name;
	const char *usage;
};

static const struct command_help help_table[] = {
	{ "ls",       "ls                                     show portals, targets, LUNs and ACLs" },
	{ "target",   "target create IQN [--demo]             add a target (--demo: any initiator, no ACLs)\n"
		      "target delete IQN                      remove a target and end its sessions" },
	{ "lun",      "lun create IQN SPEC [--lun N]          add an LU; SPEC is file:PATH[,size=SIZE][,thin=1]\n"
		      "                                       [,removable=1][,readonly=1][,wwn=HEX][,blocksize=512|4096]\n"
		      "                                       or null[,size=SIZE] or rbd:POOL/IMAGE[,conf=PATH][,id=CLIENT]\n"
		      "                                       [,size=SIZE][,create=1]; N defaults to the lowest free LUN\n"
		      "lun delete IQN LUN                     remove an LU\n"
		      "lun resize IQN LUN SIZE [--shrink]     change an LU's size (K/M/G/T suffixes)" },
	{ "alua",     "alua set IQN LUN STATE [--tpg ID]       set the ALUA state of a target port group of an LU\n"
		      "                                       (default: this node's group); STATE is active-optimized,\n"
		      "                                       active-non-optimized, standby, unavailable, offline or\n"
		      "                                       transitioning" },
	{ "acl",      "acl create IQN INITIATOR [--map MAPPED:LUN]...\n"
		      "                                       allow an initiator, optionally with its own LUN numbers\n"
		      "acl delete IQN INITIATOR               remove an ACL and end its sessions" },
	{ "chap",     "chap set (--discovery | IQN [INITIATOR]) USER SECRET [--mutual USER SECRET] [--optional]\n"
		      "                                       set CHAP (one-way, optionally mutual); --optional: do\n"
		      "                                       not require it on discovery sessions\n"
		      "chap clear (--discovery | IQN [INITIATOR]) [--mutual-only]" },
	{ "portal",   "portal create ADDR:PORT                listen on another portal ([ADDR]:PORT for IPv6)\n"
		      "portal delete ADDR:PORT                stop listening there" },
	{ "param",    "param set IQN KEY VALUE                set a target parameter (MaxBurstLength, ImmediateData,\n"
		      "                                       HeaderDigest, queue_depth, nop_interval, demo_mode, ...)" },
	{ "sessions", "sessions                               list the I_T nexuses (iSCSI sessions)" },
	{ "stats",    "stats                                  per-LU I/O statistics" },
	{ "reload",   "reload                                 re-read the configuration file (as SIGHUP)" },
	{ "version",  "version                                daemon version and configuration version" },
	{ "fencing",  "fencing                                each node's fencing state and Ceph clients (cluster)" },
	{ "role",     "role                                   this node's role under pacemaker (promoted or unpromoted),\n"
		      "                                       the promoted node and whether this node serves\n"
		      "role promote|demote                    make this node the promoted one (its group takes the\n"
		      "                                       preferred role of \"preferred\" LUs), or not (tools/ocf/sangwd)" },
	{ "help",     "help [COMMAND]                         this text, or one command's usage" },
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: gwcli [--socket PATH] [--json] [--timeout SECONDS] COMMAND [ARGS]\n"
		"\n"
		"Administer sangwd through its management socket (default %s,\n"
		"or $SANGW_SOCKET). --json prints the daemon's JSON answer unchanged.\n"
		"\nCommands:\n", DEFAULT_SOCKET);
	for (size_t i = 0; i < sizeof(help_table) / sizeof(help_table[0]); i++) {
		const char *p = help_table[i].usage;

		while (*p) {
			const char *nl = strchr(p, '\n');
			int len = nl ? (int)(nl - p) : (int)strlen(p);

			fprintf(out, "  %.*s\n", len, p);
			p += len + (nl ? 1 : 0);
		}
	}
	fprintf(out, "\nExit status: 0 done, 1 refused by sangwd or sangwd unreachable, 2 usage error.\n"
		"See gwcli(8) and docs/management-api.md.\n");
}

/* One command's usage lines; false when there is no such command. */
static bool print_command_usage(FILE *out, const char *name)
{
	for (size_t i = 0; i < sizeof(help_table) / sizeof(help_table[0]); i++) {
		if (strcmp(help_table[i].name, name) != 0)
			continue;
		fprintf(out, "usage:\n");
		for (const char *p = help_table[i].usage; *p;) {
			const char *nl = strchr(p, '\n');
			int len = nl ? (int)(nl - p) : (int)strlen(p);

			/* continuation lines start with blanks */
			fprintf(out, "  %s%.*s\n", *p == ' ' ? "      " : "gwcli ", len, p);
			p += len + (nl ? 1 : 0);
		}
		return true;
	}
	return false;
}

__attribute__((format(printf, 2, 3)))
static int command_usage(const char *name, const char *fmt, ...)
{
	if (fmt) {
		va_list ap;

		fprintf(stderr, "gwcli: ");
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fprintf(stderr, "\n");
	}
	if (!print_command_usage(stderr, name))
		fprintf(stderr, "Run 'gwcli help' for the list of commands.\n");
	return EXIT_USAGE;
}

/* ------------------------------------------------------------------------
 * Talking to sangwd.
 * ---------------------------------------------------------------------- */

static int connect_daemon(const struct cli *cli)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(cli->socket_path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "gwcli: cannot connect to sangwd at %s: path too long\n", cli->socket_path);
		return -1;
	}
	strcpy(addr.sun_path, cli->socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		fprintf(stderr, "gwcli: cannot connect to sangwd at %s: %s\n", cli->socket_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int send_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One line back, without its newline; NULL on error (message printed). */
static char *receive_line(const struct cli *cli, int fd)
{
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	time_t deadline = time(NULL) + cli->timeout_s;

	if (!buf) {
		fprintf(stderr, "gwcli: out of memory\n");
		return NULL;
	}
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int left = (int)(deadline - time(NULL));
		char *nl;
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, left * 1000) == 0) {
			fprintf(stderr, "gwcli: no answer from sangwd within %d s\n", cli->timeout_s);
			break;
		}
		if (len + 4096 > cap) {
			char *bigger;

			if (cap >= MAX_RESPONSE) {
				fprintf(stderr, "gwcli: the answer is too large\n");
				break;
			}
			if (!(bigger = realloc(buf, cap * 2)))
				break;
			buf = bigger;
			cap *= 2;
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "gwcli: sangwd closed the connection%s%s\n", n < 0 ? ": " : "",
				n < 0 ? strerror(errno) : "");
			break;
		}
		len += (size_t)n;
		buf[len] = '\0';
		if ((nl = memchr(buf, '\n', len))) {
			*nl = '\0';
			return buf;
		}
	}
	free(buf);
	return NULL;
}

/* Send req, print the answer the way the command wants; returns the exit
 * status. print may be NULL (a change: "done" is enough). */
typedef void (*print_fn)(json_object *resp, void *arg);

static int call(const struct cli *cli, json_object *req, print_fn print, void *arg)
{
	const char *text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN |
							  JSON_C_TO_STRING_NOSLASHESCAPE);
	json_object *resp, *ok, *error;
	char *line;
	int fd, status;

	fd = connect_daemon(cli);
	if (fd < 0)
		return EXIT_REFUSED;
	if (send_all(fd, text, strlen(text)) < 0 || send_all(fd, "\n", 1) < 0) {
		fprintf(stderr, "gwcli: cannot send to sangwd at %s: %s\n", cli->socket_path, strerror(errno));
		close(fd);
		return EXIT_REFUSED;
	}
	line = receive_line(cli, fd);
	close(fd);
	if (!line)
		return EXIT_REFUSED;
	resp = json_tokener_parse(line);
	if (!resp || !json_object_object_get_ex(resp, "ok", &ok)) {
		fprintf(stderr, "gwcli: sangwd sent an answer that is not understood: %.200s\n", line);
		json_object_put(resp);
		free(line);
		return EXIT_REFUSED;
	}
	status = json_object_get_boolean(ok) ? 0 : EXIT_REFUSED;
	if (cli->json) {
		printf("%s\n", line);
	} else if (status) {
		fprintf(stderr, "gwcli: %s\n", json_object_object_get_ex(resp, "error", &error) ?
			json_object_get_string(error) : "refused (no reason given)");
	} else if (print) {
		print(resp, arg);
	}
	json_object_put(resp);
	free(line);
	return status;
}

static json_object *request_new(const char *name)
{
	json_object *req = json_object_new_object();

	json_object_object_add(req, "request", json_object_new_string(name));
	return req;
}

static void add_string(json_object *req, const char *key, const char *value)
{
	json_object_object_add(req, key, json_object_new_string(value));
}

/* A change: send, say what was done. */
static int call_change(const struct cli *cli, json_object *req, const char *done_message)
{
	int status = call(cli, req, NULL, NULL);

	if (status == 0 && !cli->json && done_message)
		printf("%s\n", done_message);
	json_object_put(req);
	return status;
}

/* ------------------------------------------------------------------------
 * Output for humans.
 * ---------------------------------------------------------------------- */

static const char *str_of(json_object *obj, const char *key)
{
	json_object *v;

	if (!obj || !json_object_object_get_ex(obj, key, &v) || !v)
		return "";
	return json_object_get_string(v);
}

static int64_t int_of(json_object *obj, const char *key)
{
	json_object *v;

	if (!obj || !json_object_object_get_ex(obj, key, &v) || !v)
		return 0;
	return json_object_get_int64(v);
}

static bool bool_of(json_object *obj, const char *key)
{
	json_object *v;

	return obj && json_object_object_get_ex(obj, key, &v) && v && json_object_get_boolean(v);
}

static json_object *array_of(json_object *obj, const char *key)
{
	json_object *v;

	if (!obj || !json_object_object_get_ex(obj, key, &v) || json_object_get_type(v) != json_type_array)
		return NULL;
	return v;
}

static void human_size(uint64_t bytes, char *buf, size_t len)
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
static void describe_chap(json_object *obj, char *buf, size_t len)
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
	for (size_t i = 0; portals && i < json_object_array_length(portals); i++)
		printf("%s %s", i ? "," : "", json_object_get_string(json_object_array_get_idx(portals, i)));
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

static void print_details(json_object *details)
{
	json_object_object_foreach(details, key, val) {
		if (json_object_get_type(val) == json_type_object || json_object_get_type(val) == json_type_array)
			printf("    %s: %s\n", key, json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN));
		else
			printf("    %s: %s\n", key, json_object_get_string(val));
	}
}

static void print_sessions(json_object *resp, void *arg)
{
	json_object *sessions = array_of(resp, "sessions");

	(void)arg;
	if (!sessions || json_object_array_length(sessions) == 0) {
		printf("no sessions\n");
		return;
	}
	for (size_t i = 0; i < json_object_array_length(sessions); i++) {
		json_object *s = json_object_array_get_idx(sessions, i), *details;

		printf("%s -> %s  [%s, id %s, %s]\n", str_of(s, "initiator_port"), str_of(s, "target"),
		       str_of(s, "fabric"), str_of(s, "id"), str_of(s, "acl")[0] ? "ACL" : "demo mode");
		if (json_object_object_get_ex(s, "details", &details) &&
		    json_object_get_type(details) == json_type_object)
			print_details(details);
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

static void print_role(json_object *resp, void *arg)
{
	(void)arg;
	printf("node %lld %s; promoted node: %lld (0: none); %s\n", (long long)int_of(resp, "node_id"),
	       str_of(resp, "role"), (long long)int_of(resp, "promoted_node"),
	       bool_of(resp, "ready") ? "serving" : "not serving (not quorate or not synchronised)");
}

static void print_lun_created(json_object *resp, void *arg)
{
	printf("LUN %lld created in %s\n", (long long)int_of(resp, "lun"), (const char *)arg);
}

/* ------------------------------------------------------------------------
 * Commands.
 * ---------------------------------------------------------------------- */

/* Split args into positionals and known options; unknown options are a
 * usage error. Options may take a fixed number of values. */
struct opt_spec {
	const char *name;
	int values;
};

struct parsed {
	const char *pos[8];
	int n_pos;
	const char *opt_name[32];
	const char *opt_val[32][2];
	int n_opt;
};

static int parse_args(const char *cmd, int argc, char **argv, const struct opt_spec *specs,
		      struct parsed *out)
{
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < argc; i++) {
		const struct opt_spec *s = NULL;

		if (strncmp(argv[i], "--", 2) != 0 || strcmp(argv[i], "--") == 0) {
			if (strcmp(argv[i], "--") == 0) {
				for (i++; i < argc; i++) {
					if (out->n_pos == 8)
						return command_usage(cmd, "too many arguments");
					out->pos[out->n_pos++] = argv[i];
				}
				break;
			}
			if (out->n_pos == 8)
				return command_usage(cmd, "too many arguments");
			out->pos[out->n_pos++] = argv[i];
			continue;
		}
		for (const struct opt_spec *p = specs; p && p->name; p++)
			if (strcmp(argv[i] + 2, p->name) == 0)
				s = p;
		if (!s)
			return command_usage(cmd, "unknown option %s", argv[i]);
		if (i + s->values >= argc)
			return command_usage(cmd, "%s needs %d value%s", argv[i], s->values, s->values > 1 ? "s" : "");
		if (out->n_opt == 32)
			return command_usage(cmd, "too many options");
		out->opt_name[out->n_opt] = s->name;
		for (int v = 0; v < s->values; v++)
			out->opt_val[out->n_opt][v] = argv[++i];
		out->n_opt++;
	}
	return 0;
}

static int find_opt(const struct parsed *p, const char *name)
{
	int found = -1;

	for (int i = 0; i < p->n_opt; i++)
		if (strcmp(p->opt_name[i], name) == 0)
			found = i;
	return found;
}

static bool parse_number(const char *text, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!*text || *text == '-' || *text == '+')
		return false;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

static int cmd_target(const struct cli *cli, int argc, char **argv)
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

static int cmd_lun(const struct cli *cli, int argc, char **argv)
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

static int cmd_acl(const struct cli *cli, int argc, char **argv)
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

static int cmd_alua(const struct cli *cli, int argc, char **argv)
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

static int cmd_chap(const struct cli *cli, int argc, char **argv)
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

static int cmd_portal(const struct cli *cli, int argc, char **argv)
{
	struct parsed p;
	json_object *req;
	char msg[300];
	int r;

	if ((r = parse_args("portal", argc, argv, NULL, &p)))
		return r;
	if (p.n_pos != 2)
		return command_usage("portal", p.n_pos ? "wrong number of arguments" : NULL);
	if (strcmp(p.pos[0], "create") == 0) {
		req = request_new("portal_add");
		snprintf(msg, sizeof(msg), "listening on %s", p.pos[1]);
	} else if (strcmp(p.pos[0], "delete") == 0) {
		req = request_new("portal_del");
		snprintf(msg, sizeof(msg), "no longer listening on %s", p.pos[1]);
	} else {
		return command_usage("portal", "unknown action '%s'", p.pos[0]);
	}
	add_string(req, "portal", p.pos[1]);
	return call_change(cli, req, msg);
}

static int cmd_param(const struct cli *cli, int argc, char **argv)
{
	struct parsed p;
	json_object *req;
	char msg[600];
	int r;

	if ((r = parse_args("param", argc, argv, NULL, &p)))
		return r;
	if (p.n_pos != 4 || strcmp(p.pos[0], "set") != 0)
		return command_usage("param", p.n_pos ? "wrong number of arguments" : NULL);
	req = request_new("param_set");
	add_string(req, "target", p.pos[1]);
	add_string(req, "key", p.pos[2]);
	add_string(req, "value", p.pos[3]);   /* the daemon parses it by key */
	snprintf(msg, sizeof(msg), "%s of %s set to %s (used by new sessions)", p.pos[2], p.pos[1], p.pos[3]);
	return call_change(cli, req, msg);
}

/* role [promote|demote]: the node_role request (node_role.h). */
static int cmd_role(const struct cli *cli, int argc, char **argv)
{
	json_object *req;
	int r;

	if (argc > 1 || (argc == 1 && strcmp(argv[0], "promote") && strcmp(argv[0], "demote")))
		return command_usage("role", "expected 'role', 'role promote' or 'role demote'");
	req = request_new("node_role");
	if (argc == 1)
		add_string(req, "role", strcmp(argv[0], "promote") == 0 ? "promoted" : "unpromoted");
	r = call(cli, req, argc ? NULL : print_role, NULL);
	if (r == 0 && argc && !cli->json)
		printf("%s\n", strcmp(argv[0], "promote") == 0 ? "promoted" : "demoted");
	json_object_put(req);
	return r;
}

/* ls, sessions, stats, version, reload: no arguments. */
static int cmd_simple(const struct cli *cli, const char *cmd, const char *request, print_fn print,
		      int argc, char **argv)
{
	json_object *req;
	int r;

	(void)argv;
	if (argc)
		return command_usage(cmd, "'%s' takes no arguments", cmd);
	req = request_new(request);
	r = call(cli, req, print, NULL);
	if (r == 0 && !cli->json && !print)
		printf("configuration reloaded\n");
	json_object_put(req);
	return r;
}

int main(int argc, char **argv)
{
	struct cli cli = { .socket_path = getenv("SANGW_SOCKET"), .timeout_s = DEFAULT_TIMEOUT };
	const char *cmd;
	int i;

	if (!cli.socket_path || !*cli.socket_path)
		cli.socket_path = DEFAULT_SOCKET;
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--socket") == 0 || strcmp(argv[i], "-s") == 0) {
			if (++i >= argc) {
				fprintf(stderr, "gwcli: --socket needs a path\n");
				return EXIT_USAGE;
			}
			cli.socket_path = argv[i];
		} else if (strncmp(argv[i], "--socket=", 9) == 0) {
			cli.socket_path = argv[i] + 9;
		} else if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-j") == 0) {
			cli.json = true;
		} else if (strcmp(argv[i], "--timeout") == 0 || strncmp(argv[i], "--timeout=", 10) == 0) {
			const char *value = argv[i][9] == '=' ? argv[i] + 10 : (i + 1 < argc ? argv[++i] : "");
			uint64_t seconds;

			if (!parse_number(value, 86400, &seconds) || seconds == 0) {
				fprintf(stderr, "gwcli: --timeout needs a number of seconds (1 to 86400)\n");
				return EXIT_USAGE;
			}
			cli.timeout_s = (int)seconds;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "gwcli: unknown option %s\n", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[i++];
	argc -= i;
	argv += i;
	for (int k = 0; k < argc; k++)
		if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0)
			return print_command_usage(stdout, cmd) ? 0 : command_usage(cmd, "unknown command '%s'", cmd);

	if (strcmp(cmd, "help") == 0) {
		if (argc == 0) {
			usage(stdout);
			return 0;
		}
		return print_command_usage(stdout, argv[0]) ? 0
			: command_usage(argv[0], "unknown command '%s'", argv[0]);
	}
	if (strcmp(cmd, "ls") == 0 || strcmp(cmd, "list") == 0)
		return cmd_simple(&cli, "ls", "list", print_tree, argc, argv);
	if (strcmp(cmd, "sessions") == 0)
		return cmd_simple(&cli, cmd, "sessions", print_sessions, argc, argv);
	if (strcmp(cmd, "stats") == 0)
		return cmd_simple(&cli, cmd, "stats", print_stats, argc, argv);
	if (strcmp(cmd, "version") == 0)
		return cmd_simple(&cli, cmd, "version", print_version, argc, argv);
	if (strcmp(cmd, "reload") == 0)
		return cmd_simple(&cli, cmd, "reload", NULL, argc, argv);
	if (strcmp(cmd, "fencing") == 0)
		return cmd_simple(&cli, cmd, "fencing", print_fencing, argc, argv);
	if (strcmp(cmd, "role") == 0)
		return cmd_role(&cli, argc, argv);
	if (strcmp(cmd, "target") == 0)
		return cmd_target(&cli, argc, argv);
	if (strcmp(cmd, "lun") == 0)
		return cmd_lun(&cli, argc, argv);
	if (strcmp(cmd, "acl") == 0)
		return cmd_acl(&cli, argc, argv);
	if (strcmp(cmd, "alua") == 0)
		return cmd_alua(&cli, argc, argv);
	if (strcmp(cmd, "chap") == 0)
		return cmd_chap(&cli, argc, argv);
	if (strcmp(cmd, "portal") == 0)
		return cmd_portal(&cli, argc, argv);
	if (strcmp(cmd, "param") == 0)
		return cmd_param(&cli, argc, argv);
	fprintf(stderr, "gwcli: unknown command '%s'\n", cmd);
	fprintf(stderr, "Run 'gwcli help' for the list of commands.\n");
	return EXIT_USAGE;
}
