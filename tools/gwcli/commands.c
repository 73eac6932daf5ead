/* The one table of gwcli's commands: their words, usage and functions. The
 * one-shot command line and the interactive shell both run commands from
 * here. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "gwcli.h"

static int cmd_help(const struct cli *cli, int argc, char **argv);

const struct gwcli_command gwcli_commands[] = {
	{ "ls",       "ls                                     show portals, targets, LUNs and ACLs", cmd_ls },
	{ "target",   "target create IQN [--demo]             add a target (--demo: any initiator, no ACLs)\n"
		      "target delete IQN                      remove a target and end its sessions", cmd_target },
	{ "lun",      "lun create IQN SPEC [--lun N]          add an LU; SPEC is file:PATH[,size=SIZE][,thin=1]\n"
		      "                                       [,removable=1][,readonly=1][,wwn=HEX][,blocksize=512|4096]\n"
		      "                                       or null[,size=SIZE] or rbd:POOL/IMAGE[,conf=PATH][,id=CLIENT]\n"
		      "                                       [,size=SIZE][,create=1]; N defaults to the lowest free LUN\n"
		      "lun delete IQN LUN                     remove an LU\n"
		      "lun resize IQN LUN SIZE [--shrink]     change an LU's size (K/M/G/T suffixes)", cmd_lun },
	{ "alua",     "alua set IQN LUN STATE [--tpg ID]       set the ALUA state of a target port group of an LU\n"
		      "                                       (default: this node's group); STATE is active-optimized,\n"
		      "                                       active-non-optimized, standby, unavailable, offline or\n"
		      "                                       transitioning", cmd_alua },
	{ "acl",      "acl create IQN INITIATOR [--map MAPPED:LUN]...\n"
		      "                                       allow an initiator, optionally with its own LUN numbers\n"
		      "acl delete IQN INITIATOR               remove an ACL and end its sessions", cmd_acl },
	{ "chap",     "chap set (--discovery | IQN [INITIATOR]) USER SECRET [--mutual USER SECRET] [--optional]\n"
		      "                                       set CHAP (one-way, optionally mutual); --optional: do\n"
		      "                                       not require it on discovery sessions\n"
		      "chap clear (--discovery | IQN [INITIATOR]) [--mutual-only]", cmd_chap },
	{ "portal",   "portal create ADDR:PORT [--iser]       listen on another portal ([ADDR]:PORT for IPv6;\n"
		      "                                       --iser: iSCSI over RDMA, docs/iser.md)\n"
		      "portal create IFNAME --fcoe [--wwpn WWN] [--wwnn WWN] [--target IQN]\n"
		      "                                       an FCoE VN2VN port on an Ethernet interface\n"
		      "                                       (docs/fcoe.md)\n"
		      "portal delete ADDR:PORT [--iser]       stop listening there (IFNAME --fcoe: the FCoE port)", cmd_portal },
	{ "param",    "param set IQN KEY VALUE                set a target parameter (MaxBurstLength, ImmediateData,\n"
		      "                                       HeaderDigest, queue_depth, nop_interval, chap_algorithms,\n"
		      "                                       demo_mode, ...)\n"
		      "param set --discovery chap_algorithms ALGS  the CHAP algorithms discovery sessions accept", cmd_param },
	{ "status",   "status                                 the cluster at a glance: every node (up, quorate, ready,\n"
		      "                                       configuration version, sessions), the quorum, and per LU\n"
		      "                                       the ALUA state each node reports", cmd_status },
	{ "sessions", "sessions                               every node's I_T nexuses (iSCSI sessions), with a node column", cmd_sessions },
	{ "stats",    "stats                                  per-LU I/O statistics of this node", cmd_stats },
	{ "top",      "top [--interval SECONDS] [--count N]   live IOPS, MB/s and latency per node and per LU,\n"
		      "                                       refreshed in place (q quits)", cmd_top },
	{ "export",   "export [FILE]                          the cluster-wide configuration as a document (stdout, or\n"
		      "                                       FILE written mode 0600): CHAP secrets included, portals not", cmd_export },
	{ "import",   "import FILE [--dry-run]                make the cluster's configuration equal to an exported\n"
		      "                                       document (FILE '-': stdin) in one change, printing what was\n"
		      "                                       added (+), changed (~) and removed (-); --dry-run: only print it", cmd_import },
	{ "reload",   "reload                                 re-read the configuration file (as SIGHUP)", cmd_reload },
	{ "version",  "version                                daemon version and configuration version", cmd_version },
	{ "fencing",  "fencing                                each node's fencing state and Ceph clients (cluster)", cmd_fencing },
	{ "role",     "role                                   this node's role under pacemaker (promoted or unpromoted),\n"
		      "                                       the promoted node and whether this node serves\n"
		      "role promote|demote                    make this node the promoted one (its group takes the\n"
		      "                                       preferred role of \"preferred\" LUs), or not (tools/ocf/sangwd)", cmd_role },
	{ "help",     "help [COMMAND]                         this text, or one command's usage", cmd_help },
};

const size_t gwcli_n_commands = sizeof(gwcli_commands) / sizeof(gwcli_commands[0]);

const struct gwcli_command *gwcli_find_command(const char *name)
{
	if (strcmp(name, "list") == 0)      /* the request's name, kept as an alias */
		name = "ls";
	for (size_t i = 0; i < gwcli_n_commands; i++)
		if (strcmp(gwcli_commands[i].name, name) == 0)
			return &gwcli_commands[i];
	return NULL;
}

/* Print each line of a usage text, continuation lines as they are. */
static void print_usage_lines(FILE *out, const char *text, const char *first_prefix, const char *cont_prefix)
{
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);

		fprintf(out, "%s%.*s\n", *p == ' ' ? cont_prefix : first_prefix, len, p);
		p += len + (nl ? 1 : 0);
	}
}

void gwcli_usage(FILE *out)
{
	fprintf(out,
		"Usage: gwcli [--socket PATH] [--json] [--timeout SECONDS] [COMMAND [ARGS]]\n"
		"\n"
		"Administer sangwd through its management socket (default %s,\n"
		"or $SANGW_SOCKET). --json prints the daemon's JSON answer unchanged.\n"
		"--timeout: how long to wait for an answer (default %d s).\n"
		"Without a command on a terminal, gwcli opens an interactive shell: a tree of\n"
		"/targets and /nodes with cd, ls, pwd, help, every command below and shorter ones\n"
		"relative to where you stand, TAB completion, history in ~/.gwcli_history.\n"
		"\nCommands:\n", GWCLI_DEFAULT_SOCKET, GWCLI_DEFAULT_TIMEOUT);
	for (size_t i = 0; i < gwcli_n_commands; i++)
		print_usage_lines(out, gwcli_commands[i].usage, "  ", "  ");
	fprintf(out, "\nExit status: 0 done, 1 refused by sangwd or sangwd unreachable, 2 usage error.\n"
		"See gwcli(8) and docs/management-api.md.\n");
}

bool gwcli_command_usage(FILE *out, const char *name)
{
	const struct gwcli_command *c = gwcli_find_command(name);

	if (!c)
		return false;
	fprintf(out, "usage:\n");
	print_usage_lines(out, c->usage, "  gwcli ", "        ");
	return true;
}

int command_usage(const char *cmd, const char *fmt, ...)
{
	if (fmt) {
		va_list ap;

		fprintf(stderr, "gwcli: ");
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fprintf(stderr, "\n");
	}
	if (!gwcli_command_usage(stderr, cmd))
		fprintf(stderr, "Run 'gwcli help' for the list of commands.\n");
	return EXIT_USAGE;
}

static int cmd_help(const struct cli *cli, int argc, char **argv)
{
	(void)cli;
	if (argc == 0) {
		gwcli_usage(stdout);
		return 0;
	}
	return gwcli_command_usage(stdout, argv[0]) ? 0
		: command_usage(argv[0], "unknown command '%s'", argv[0]);
}

int gwcli_run(const struct cli *cli, int argc, char **argv)
{
	const struct gwcli_command *c;

	if (argc < 1) {
		gwcli_usage(stderr);
		return EXIT_USAGE;
	}
	if (!(c = gwcli_find_command(argv[0]))) {
		fprintf(stderr, "gwcli: unknown command '%s'\n", argv[0]);
		fprintf(stderr, "Run 'gwcli help' for the list of commands.\n");
		return EXIT_USAGE;
	}
	for (int k = 1; k < argc; k++)
		if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0) {
			gwcli_command_usage(stdout, c->name);
			return 0;
		}
	return c->run(cli, argc - 1, argv + 1);
}
