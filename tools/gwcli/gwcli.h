/* gwcli: the administrator's command line for sangwd. Every command is one
 * or a few requests over the management API (docs/management-api.md): a
 * JSON object on a line to the unix socket, one JSON object back. --json
 * prints that answer as it came, for scripts. Exit status: 0 done, 1
 * refused or no daemon, 2 usage error.
 *
 * Layout: main.c (global options, one-shot or shell), commands.c (the one
 * table of commands and their usage), client.c (talking to sangwd),
 * args.c (argument parsing), show.c (read-only commands of one node),
 * cluster.c (status, sessions, top: every node), change.c (commands that
 * change the configuration), transfer.c (export, import); with libedit
 * the interactive shell: shell.c, tree.c, complete.c (shell.h). */
#ifndef SANGW_GWCLI_H
#define SANGW_GWCLI_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define GWCLI_DEFAULT_SOCKET  "/run/sangw/sangwd.sock"
#define GWCLI_DEFAULT_TIMEOUT 10      /* seconds; --timeout changes it */

#define EXIT_REFUSED 1
#define EXIT_USAGE   2

struct cli {
	const char *socket_path;
	bool json;
	int timeout_s;
	bool timeout_given;     /* --timeout on the command line */
};

/* ---- commands.c: the command table ---- */

/* One command word (its actions are arguments: "lun create ..."). run gets
 * the arguments after the command word. */
struct gwcli_command {
	const char *name;
	const char *usage;      /* lines "name ARGS   what it does"; continuation lines start with blanks */
	int (*run)(const struct cli *cli, int argc, char **argv);
};

extern const struct gwcli_command gwcli_commands[];
extern const size_t gwcli_n_commands;

const struct gwcli_command *gwcli_find_command(const char *name);
/* Run "COMMAND ARGS..." (argv[0] is the command word); the exit status. */
int gwcli_run(const struct cli *cli, int argc, char **argv);
void gwcli_usage(FILE *out);
/* One command's usage lines; false when there is no such command. */
bool gwcli_command_usage(FILE *out, const char *name);
/* A usage error of cmd: "gwcli: MESSAGE" (when fmt is not NULL) and the
 * command's usage on stderr; returns EXIT_USAGE. */
__attribute__((format(printf, 2, 3)))
int command_usage(const char *cmd, const char *fmt, ...);

/* ---- client.c: talking to sangwd ---- */

/* Print the answer for a human; arg is the command's. */
typedef void (*print_fn)(json_object *resp, void *arg);

/* Send req, wait for the answer (cli->timeout_s at most); NULL with the
 * reason printed to stderr when there is none. The caller puts the
 * answer. */
json_object *request(const struct cli *cli, json_object *req);
/* Send req, print the answer the way the command wants (--json: as it
 * came; an error: its message on stderr); returns the exit status. print
 * may be NULL (a change: "done" is enough). */
int call(const struct cli *cli, json_object *req, print_fn print, void *arg);
/* A change: call, then say what was done; puts req. */
int call_change(const struct cli *cli, json_object *req, const char *done_message);
json_object *request_new(const char *name);
void add_string(json_object *req, const char *key, const char *value);

/* ---- args.c: arguments ---- */

struct opt_spec {
	const char *name;       /* without the leading "--" */
	int values;
};

struct parsed {
	const char *pos[8];
	int n_pos;
	const char *opt_name[32];
	const char *opt_val[32][2];
	int n_opt;
};

/* Split args into positionals and known options; unknown options are a
 * usage error (returned as EXIT_USAGE, 0 when fine). */
int parse_args(const char *cmd, int argc, char **argv, const struct opt_spec *specs, struct parsed *out);
/* Index of the last occurrence of option name, -1 if absent. */
int find_opt(const struct parsed *p, const char *name);
bool parse_number(const char *text, uint64_t max, uint64_t *out);

/* ---- show.c: reading the answers ---- */

const char *str_of(json_object *obj, const char *key);
int64_t int_of(json_object *obj, const char *key);
bool bool_of(json_object *obj, const char *key);
json_object *array_of(json_object *obj, const char *key);
void human_size(uint64_t bytes, char *buf, size_t len);
/* A portal of an answer ("ADDR:PORT" for TCP, {"portal", "transport"}
 * otherwise) as one word: "ADDR:PORT" or "ADDR:PORT,iser" (what `portal
 * delete` takes back). */
const char *portal_label(json_object *portal, char *buf, size_t len);
/* "no chap", "chap USER" or "chap USER, mutual USER" of a target or ACL. */
void describe_chap(json_object *obj, char *buf, size_t len);

/* The command implementations, one function per command word. */
int cmd_ls(const struct cli *cli, int argc, char **argv);
int cmd_stats(const struct cli *cli, int argc, char **argv);
int cmd_version(const struct cli *cli, int argc, char **argv);
int cmd_fencing(const struct cli *cli, int argc, char **argv);
int cmd_reload(const struct cli *cli, int argc, char **argv);
int cmd_target(const struct cli *cli, int argc, char **argv);
int cmd_lun(const struct cli *cli, int argc, char **argv);
int cmd_acl(const struct cli *cli, int argc, char **argv);
int cmd_alua(const struct cli *cli, int argc, char **argv);
int cmd_chap(const struct cli *cli, int argc, char **argv);
int cmd_portal(const struct cli *cli, int argc, char **argv);
int cmd_param(const struct cli *cli, int argc, char **argv);
/* transfer.c: the cluster-wide configuration as a document */
int cmd_export(const struct cli *cli, int argc, char **argv);
int cmd_import(const struct cli *cli, int argc, char **argv);
/* role.c: the node's role under pacemaker */
int cmd_role(const struct cli *cli, int argc, char **argv);
/* cluster.c: every node's view */
/* Request name ("status", "sessions", "stats") of every node, with the
 * time sangwd may wait for the others (part of --timeout). */
json_object *cluster_request(const struct cli *cli, const char *name);
int cmd_status(const struct cli *cli, int argc, char **argv);
int cmd_sessions(const struct cli *cli, int argc, char **argv);
int cmd_top(const struct cli *cli, int argc, char **argv);

/* ---- shell.c: the interactive shell (built with libedit) ---- */

/* Read commands from the terminal until exit; the exit status. */
int gwcli_shell(const struct cli *cli);

#endif
