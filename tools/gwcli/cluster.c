/* The commands that look at every node: status, sessions and top. sangwd
 * asks the other nodes itself (request "status", and "sessions"/"stats"
 * with "cluster": true) and answers within the time gwcli gives it, so a
 * node that is down or cut off shows up as such instead of a hang. */
#include <errno.h>
#include <signal.h>
#include <sys/select.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "gwcli.h"

/* How long sangwd waits for the other nodes: part of gwcli's own timeout,
 * so the answer (with the silent nodes marked) always comes in time. */
static int64_t gather_ms(const struct cli *cli)
{
	int64_t ms = (int64_t)cli->timeout_s * 500;

	return ms < 2000 ? ms : 2000;
}

json_object *cluster_request(const struct cli *cli, const char *name)
{
	json_object *req = request_new(name);

	if (strcmp(name, "status") != 0)
		json_object_object_add(req, "cluster", json_object_new_boolean(true));
	json_object_object_add(req, "timeout_ms", json_object_new_int64(gather_ms(cli)));
	return req;
}

static const char *yes_no(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !v)
		return "-";
	return json_object_get_boolean(v) ? "yes" : "no";
}

/* The node's number as text, "-" when it did not say. */
static void int_or_dash(json_object *o, const char *key, char *buf, size_t len)
{
	json_object *v;

	if (json_object_object_get_ex(o, key, &v) && v)
		snprintf(buf, len, "%lld", (long long)json_object_get_int64(v));
	else
		snprintf(buf, len, "-");
}

/* ------------------------------------------------------------------------
 * status
 * ---------------------------------------------------------------------- */

/* Short names keep the LU table narrow; the full ones are in --json. */
static const char *short_state(const char *state)
{
	static const struct { const char *full, *brief; } names[] = {
		{ "active-optimized", "A/O" }, { "active-non-optimized", "A/N" },
		{ "standby", "standby" }, { "unavailable", "unavail" }, { "offline", "offline" },
		{ "transitioning", "transit" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(state, names[i].full) == 0)
			return names[i].brief;
	return state;
}

static void print_status(json_object *resp, void *arg)
{
	json_object *quorum = NULL, *nodes = array_of(resp, "nodes"), *luns = array_of(resp, "luns");
	json_object *missing;
	size_t n_nodes = nodes ? json_object_array_length(nodes) : 0, up = 0;

	(void)arg;
	json_object_object_get_ex(resp, "quorum", &quorum);
	for (size_t i = 0; i < n_nodes; i++)
		up += bool_of(json_object_array_get_idx(nodes, i), "up");
	printf("cluster %s: %s, %zu of %lld configured node%s up (quorum needs %lld), asked through node %lld\n",
	       str_of(resp, "cluster"), bool_of(quorum, "quorate") ? "quorate" : "NOT QUORATE", up,
	       (long long)int_of(quorum, "configured"), int_of(quorum, "configured") == 1 ? "" : "s",
	       (long long)int_of(quorum, "needed"), (long long)int_of(resp, "node_id"));
	missing = array_of(quorum, "missing");
	if (missing && json_object_array_length(missing)) {
		printf("missing from the membership:");
		for (size_t i = 0; i < json_object_array_length(missing); i++)
			printf(" %lld", (long long)json_object_get_int64(json_object_array_get_idx(missing, i)));
		printf("\n");
	}
	printf("\n%-5s %-16s %-22s %-14s %-8s %-7s %-5s %-6s %s\n", "NODE", "NAME", "ADDRESS", "STATE",
	       "VERSION", "QUORATE", "READY", "CONFIG", "SESSIONS");
	for (size_t i = 0; i < n_nodes; i++) {
		json_object *n = json_object_array_get_idx(nodes, i);
		char config[24], sessions[24];

		int_or_dash(n, "config_version", config, sizeof(config));
		int_or_dash(n, "sessions", sessions, sizeof(sessions));
		printf("%-5lld %-16s %-22s %-14s %-8s %-7s %-5s %-6s %s\n", (long long)int_of(n, "id"),
		       str_of(n, "name")[0] ? str_of(n, "name") : "-",
		       str_of(n, "address")[0] ? str_of(n, "address") : "-", str_of(n, "state"),
		       str_of(n, "version")[0] ? str_of(n, "version") : "-", yes_no(n, "quorate"),
		       yes_no(n, "ready"), config, sessions);
	}
	if (!luns || json_object_array_length(luns) == 0) {
		printf("\nno LUs\n");
		return;
	}
	/* One column per node: the state of its own port group for the LU, as
	 * that node reports it (what RTPG through it shows for it). */
	printf("\n%-48s", "LU (ALUA state each node reports for its group)");
	for (size_t i = 0; i < n_nodes; i++)
		printf(" node %-4lld", (long long)int_of(json_object_array_get_idx(nodes, i), "id"));
	printf("\n");
	for (size_t k = 0; k < json_object_array_length(luns); k++) {
		json_object *lu = json_object_array_get_idx(luns, k), *alua = NULL;
		char name[600];

		json_object_object_get_ex(lu, "alua", &alua);
		snprintf(name, sizeof(name), "%s/%lld", str_of(lu, "target"), (long long)int_of(lu, "lun"));
		printf("%-48s", name);
		for (size_t i = 0; i < n_nodes; i++) {
			char id[24];
			const char *state;

			snprintf(id, sizeof(id), "%lld", (long long)int_of(json_object_array_get_idx(nodes, i), "id"));
			state = str_of(alua, id);
			printf(" %-9s", state[0] ? short_state(state) : "-");
		}
		printf("\n");
	}
	printf("(A/O active/optimized, A/N active/non-optimized, - no answer)\n");
}

int cmd_status(const struct cli *cli, int argc, char **argv)
{
	json_object *req;
	int r;

	(void)argv;
	if (argc)
		return command_usage("status", "'status' takes no arguments");
	req = cluster_request(cli, "status");
	r = call(cli, req, print_status, NULL);
	json_object_put(req);
	return r;
}

/* ------------------------------------------------------------------------
 * sessions
 * ---------------------------------------------------------------------- */

/* Nodes that could not say what they have: "node 3 down". */
static void print_silent_nodes(json_object *resp)
{
	json_object *nodes = array_of(resp, "nodes");

	for (size_t i = 0; nodes && i < json_object_array_length(nodes); i++) {
		json_object *n = json_object_array_get_idx(nodes, i);

		if (!bool_of(n, "up"))
			printf("node %lld%s%s%s: %s, its sessions are not known\n", (long long)int_of(n, "id"),
			       str_of(n, "name")[0] ? " (" : "", str_of(n, "name"), str_of(n, "name")[0] ? ")" : "",
			       str_of(n, "state"));
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
	if (!sessions || json_object_array_length(sessions) == 0)
		printf("no sessions\n");
	else
		printf("%-5s %s\n", "NODE", "SESSION");
	for (size_t i = 0; sessions && i < json_object_array_length(sessions); i++) {
		json_object *s = json_object_array_get_idx(sessions, i), *details;

		printf("%-5lld %s -> %s  [%s, id %s, %s]\n", (long long)int_of(s, "node"),
		       str_of(s, "initiator_port"), str_of(s, "target"), str_of(s, "fabric"), str_of(s, "id"),
		       str_of(s, "acl")[0] ? "ACL" : "demo mode");
		if (json_object_object_get_ex(s, "details", &details) &&
		    json_object_get_type(details) == json_type_object)
			print_details(details);
	}
	print_silent_nodes(resp);
}

int cmd_sessions(const struct cli *cli, int argc, char **argv)
{
	json_object *req;
	int r;

	(void)argv;
	if (argc)
		return command_usage("sessions", "'sessions' takes no arguments");
	req = cluster_request(cli, "sessions");
	r = call(cli, req, print_sessions, NULL);
	json_object_put(req);
	return r;
}

/* ------------------------------------------------------------------------
 * top: rates between two samples of every node's counters.
 * ---------------------------------------------------------------------- */

struct lu_sample {
	char key[320];            /* "NODE TARGET LUN" */
	uint64_t reads, writes, read_bytes, write_bytes, read_ns, write_ns;
};

struct sample {
	struct lu_sample *lus;
	size_t n;
	struct timespec at;
};

static void sample_free(struct sample *s)
{
	free(s->lus);
	s->lus = NULL;
	s->n = 0;
}

static int take_sample(const struct cli *cli, struct sample *s, json_object **resp_out)
{
	struct cli quiet = *cli;
	json_object *req = cluster_request(cli, "stats"), *resp, *nodes;
	size_t cap = 0;

	quiet.json = false;
	resp = request(&quiet, req);
	json_object_put(req);
	if (!resp)
		return EXIT_REFUSED;
	if (!bool_of(resp, "ok")) {
		fprintf(stderr, "gwcli: %s\n", str_of(resp, "error"));
		json_object_put(resp);
		return EXIT_REFUSED;
	}
	clock_gettime(CLOCK_MONOTONIC, &s->at);
	nodes = array_of(resp, "nodes");
	for (size_t i = 0; nodes && i < json_object_array_length(nodes); i++) {
		json_object *n = json_object_array_get_idx(nodes, i), *luns = array_of(n, "luns");

		for (size_t k = 0; luns && k < json_object_array_length(luns); k++) {
			json_object *l = json_object_array_get_idx(luns, k);
			struct lu_sample *x;

			if (s->n == cap) {
				struct lu_sample *bigger = realloc(s->lus, (cap = cap ? cap * 2 : 64) * sizeof(*bigger));

				if (!bigger)
					break;
				s->lus = bigger;
			}
			x = &s->lus[s->n++];
			snprintf(x->key, sizeof(x->key), "%lld %s %lld", (long long)int_of(n, "id"),
				 str_of(l, "target"), (long long)int_of(l, "lun"));
			x->reads = (uint64_t)int_of(l, "read_cmds");
			x->writes = (uint64_t)int_of(l, "write_cmds");
			x->read_bytes = (uint64_t)int_of(l, "read_bytes");
			x->write_bytes = (uint64_t)int_of(l, "write_bytes");
			x->read_ns = (uint64_t)int_of(l, "read_ns");
			x->write_ns = (uint64_t)int_of(l, "write_ns");
		}
	}
	*resp_out = resp;
	return 0;
}

static const struct lu_sample *find_sample(const struct sample *s, const char *key)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->lus[i].key, key) == 0)
			return &s->lus[i];
	return NULL;
}

/* Average latency in µs, with a decimal when small (a null LU's
 * sub-microsecond service times should not read as 0). */
static const char *latency(uint64_t ns, uint64_t n, char *buf, size_t len)
{
	double us = n ? (double)ns / 1e3 / (double)n : 0.0;

	snprintf(buf, len, us < 10 ? "%.1fus" : "%.0fus", us);
	return buf;
}

static volatile sig_atomic_t top_stop;

static void top_signal(int sig)
{
	(void)sig;
	top_stop = 1;
}

/* One screen: per node totals, then per LU (node, target, LUN) rates. */
static void print_top(const struct sample *prev, const struct sample *cur, json_object *resp, bool tty,
		      unsigned iteration)
{
	double secs = (double)(cur->at.tv_sec - prev->at.tv_sec) + (cur->at.tv_nsec - prev->at.tv_nsec) / 1e9;
	json_object *nodes = array_of(resp, "nodes");
	time_t now = time(NULL);
	char when[32];

	if (secs <= 0)
		secs = 1;
	strftime(when, sizeof(when), "%H:%M:%S", localtime(&now));
	if (tty)
		printf("\033[H\033[2J");   /* home and clear: refresh in place */
	else if (iteration > 1)
		printf("\n");
	printf("gwcli top - %s, every %.1f s (q or Ctrl-C quits)\n\n", when, secs);
	printf("%-5s %-14s %10s %10s %10s %10s %9s %9s\n", "NODE", "STATE", "READ/s", "WRITE/s", "RD MB/s",
	       "WR MB/s", "RD LAT", "WR LAT");
	for (size_t i = 0; nodes && i < json_object_array_length(nodes); i++) {
		json_object *n = json_object_array_get_idx(nodes, i);
		uint64_t dr = 0, dw = 0, drb = 0, dwb = 0, drn = 0, dwn = 0;
		char prefix[32];
		size_t plen = (size_t)snprintf(prefix, sizeof(prefix), "%lld ", (long long)int_of(n, "id"));

		for (size_t k = 0; k < cur->n; k++) {
			const struct lu_sample *c = &cur->lus[k], *p;

			if (strncmp(c->key, prefix, plen) != 0 || !(p = find_sample(prev, c->key)))
				continue;
			dr += c->reads - p->reads;
			dw += c->writes - p->writes;
			drb += c->read_bytes - p->read_bytes;
			dwb += c->write_bytes - p->write_bytes;
			drn += c->read_ns - p->read_ns;
			dwn += c->write_ns - p->write_ns;
		}
		char rl[32], wl[32];

		printf("%-5lld %-14s %10.0f %10.0f %10.1f %10.1f %9s %9s\n", (long long)int_of(n, "id"),
		       str_of(n, "state"), dr / secs, dw / secs, drb / secs / 1e6, dwb / secs / 1e6,
		       latency(drn, dr, rl, sizeof(rl)), latency(dwn, dw, wl, sizeof(wl)));
	}
	printf("\n%-5s %-44s %4s %9s %9s %9s %9s %9s %9s\n", "NODE", "TARGET", "LUN", "READ/s", "WRITE/s",
	       "RD MB/s", "WR MB/s", "RD LAT", "WR LAT");
	for (size_t k = 0; k < cur->n; k++) {
		const struct lu_sample *c = &cur->lus[k], *p = find_sample(prev, c->key);
		char node[16], target[300], rl[32], wl[32];
		long long lun;
		uint64_t dr, dw;

		if (!p || sscanf(c->key, "%15s %299s %lld", node, target, &lun) != 3)
			continue;
		dr = c->reads - p->reads;
		dw = c->writes - p->writes;
		printf("%-5s %-44s %4lld %9.0f %9.0f %9.1f %9.1f %9s %9s\n", node, target, lun, dr / secs,
		       dw / secs, (c->read_bytes - p->read_bytes) / secs / 1e6,
		       (c->write_bytes - p->write_bytes) / secs / 1e6,
		       latency(c->read_ns - p->read_ns, dr, rl, sizeof(rl)),
		       latency(c->write_ns - p->write_ns, dw, wl, sizeof(wl)));
	}
	fflush(stdout);
}

/* Wait up to ms; true when the user typed q (terminal in raw mode). */
static bool wait_or_quit(int ms, bool tty)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (!top_stop) {
		struct timespec now;
		long left;
		fd_set fds;
		struct timeval tv;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left = (until.tv_sec - now.tv_sec) * 1000L + (until.tv_nsec - now.tv_nsec) / 1000000L;
		if (left <= 0)
			return false;
		if (!tty) {
			usleep((useconds_t)(left > 200 ? 200 : left) * 1000);
			continue;
		}
		FD_ZERO(&fds);
		FD_SET(STDIN_FILENO, &fds);
		tv.tv_sec = left / 1000;
		tv.tv_usec = (left % 1000) * 1000;
		if (select(STDIN_FILENO + 1, &fds, NULL, NULL, &tv) > 0) {
			char ch;

			if (read(STDIN_FILENO, &ch, 1) == 1 && (ch == 'q' || ch == 'Q'))
				return true;
		}
	}
	return true;
}

int cmd_top(const struct cli *cli, int argc, char **argv)
{
	static const struct opt_spec opts[] = { { "interval", 1 }, { "count", 1 }, { NULL, 0 } };
	struct sample prev = { 0 }, cur = { 0 };
	uint64_t interval_ms = 2000, count = 0;
	struct termios saved, raw;
	bool tty = isatty(STDOUT_FILENO) && isatty(STDIN_FILENO), raw_set = false;
	struct sigaction sa = { .sa_handler = top_signal };
	json_object *resp = NULL;
	struct parsed p;
	int r, i;

	if ((r = parse_args("top", argc, argv, opts, &p)))
		return r;
	if (p.n_pos)
		return command_usage("top", "'top' takes only options");
	if ((i = find_opt(&p, "interval")) >= 0) {
		double secs;
		char *end;

		errno = 0;
		secs = strtod(p.opt_val[i][0], &end);
		if (errno || *end || secs < 0.2 || secs > 3600)
			return command_usage("top", "--interval: seconds from 0.2 to 3600");
		interval_ms = (uint64_t)(secs * 1000);
	}
	if ((i = find_opt(&p, "count")) >= 0 && (!parse_number(p.opt_val[i][0], 1000000, &count) || !count))
		return command_usage("top", "--count: a number of screens (1 or more)");
	if (cli->json)
		return command_usage("top", "'top' is for people; for scripts use 'gwcli --json stats' or "
				     "the metrics endpoint");
	if ((r = take_sample(cli, &prev, &resp)))
		return r;
	json_object_put(resp);
	top_stop = 0;           /* the shell may run top again after a Ctrl-C */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (tty && tcgetattr(STDIN_FILENO, &saved) == 0) {
		raw = saved;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		raw_set = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
	}
	for (unsigned n = 1; !top_stop; n++) {
		if (wait_or_quit((int)interval_ms, raw_set))
			break;
		if ((r = take_sample(cli, &cur, &resp)))
			break;
		print_top(&prev, &cur, resp, tty, n);
		json_object_put(resp);
		sample_free(&prev);
		prev = cur;
		cur = (struct sample){ 0 };
		if (count && n >= count)
			break;
	}
	if (raw_set)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	sample_free(&prev);
	sample_free(&cur);
	return r;
}
