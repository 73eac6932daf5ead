/* sangwd: the gateway daemon. Parses the scripting interface, builds the
 * model from --config or the command line, starts the cluster service, the
 * iSCSI fabric and the management API, and runs the event loop until
 * SIGTERM. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../cluster/cluster.h"
#include "../fabric/iscsi/iscsi.h"
#include "../fabric/iscsi/crc32c.h"
#ifdef HAVE_FCOE
#include "../fabric/fcoe/fcoe_fabric.h"
#endif
#include "scsi/alua.h"
#include "scsi/target_ports.h"
#include "backstore/backstore.h"
#include "config.h"
#include "event_loop.h"
#include "fencing.h"
#include "log.h"
#include "metrics.h"
#include "mgmt.h"
#include "model.h"
#include "service_notify.h"
#include "shared_state.h"
#include "state_store.h"
#include "util.h"
#include "workers.h"
#include "buffer_pool.h"

#define DEFAULT_STATE_DIR   "/var/lib/sangw"
#define DEFAULT_MGMT_SOCKET "/run/sangw/sangwd.sock"
#define DEFAULT_TARGET_IQN  "iqn.2026-11.org.sangw:demo"
#define MAX_CLI_LUNS        MAX_LUNS_PER_TARGET
#define SHUTDOWN_LOGOUT_MS  3000
/* Open files kept for everything but iSCSI connections (backstore files,
 * libaio and eventfds, the management API, corosync, librados) when
 * --max-connections is derived from the open-file limit. */
#define FDS_RESERVED        256
#define MAX_CONNECTIONS_DEFAULT_CAP 16384

struct options {
	bool foreground;
	const char *config;
	const char *listen[16];          /* --listen (TCP) and --listen-iser */
	enum portal_transport listen_transport[16];
	unsigned n_listen;
	const char *listen_fcoe[16];     /* --listen-fcoe IFNAME[,wwpn=..,wwnn=..] */
	unsigned n_listen_fcoe;
	const char *target;
	const char *luns[MAX_CLI_LUNS];
	unsigned n_luns;
	const char *state_dir;
	const char *mgmt_socket;
	const char *mgmt_group;  /* --mgmt-group; NULL: root only */
	const char *pid_file;
	const char *cluster;
	unsigned workers;        /* 0: one per online CPU */
	bool fencing_off;        /* --fencing off */
	const char *metrics;     /* --metrics ADDR:PORT; NULL: no endpoint */
	unsigned login_timeout_s;   /* --login-timeout; 0: the default */
	unsigned max_connections;   /* --max-connections; 0: from the open-file limit */
	int log_level;
};

static void usage(FILE *out)
{
	fprintf(out,
"Usage: sangwd [-f] [--config FILE] [--listen ADDR:PORT]... [--listen-iser ADDR:PORT]...\n"
"              [--listen-fcoe IFNAME[,wwpn=WWN][,wwnn=WWN]]... [--target IQN]\n"
"              [--lun SPEC]... [--state-dir DIR] [--mgmt-socket PATH] [--mgmt-group GROUP]\n"
"              [--log-level LEVEL] [--pid-file PATH] [--cluster none]\n"
"              [--workers N] [--rbd-handles N] [--fencing on|off]\n"
"              [--state-store rados:POOL[,...]] [--metrics ADDR:PORT]\n"
"              [--login-timeout SECONDS] [--max-connections N]\n"
"\n"
"sangw gateway daemon: exports logical units over iSCSI, iSER and FCoE.\n"
"\n"
"  -f, --foreground      stay in the foreground (default: detach, write a pid file)\n"
"  -c, --config FILE     declarative JSON configuration (docs/configuration.md);\n"
"                        without it the target accepts any initiator (demo mode)\n"
"  -l, --listen ADDR:PORT  iSCSI portal over TCP; repeatable (default 0.0.0.0:3260)\n"
"      --listen-iser ADDR:PORT  iSER portal (iSCSI over RDMA, docs/iser.md) on the\n"
"                        address of an RDMA device; repeatable. Discovery stays\n"
"                        on TCP: without --listen, 0.0.0.0:3260 is still served\n"
"      --listen-fcoe IFNAME[,wwpn=WWN][,wwnn=WWN]\n"
"                        FCoE VN2VN port (FC-BB-6, docs/fcoe.md) on an Ethernet\n"
"                        interface, exporting the LUs of --target as an FCP\n"
"                        target; WWNs default to 0x2000<MAC> (port) and\n"
"                        0x1000<MAC> (node); repeatable; needs CAP_NET_RAW\n"
"  -t, --target IQN      target for --lun (default " DEFAULT_TARGET_IQN ")\n"
"  -L, --lun SPEC        add an LU; numbered 0,1,... in order. SPEC is\n"
"                          file:PATH[,size=SIZE][,thin=1]   (created at SIZE if missing)\n"
"                          null[,size=SIZE]                 (reads zeros, drops writes)\n"
"                          rbd:POOL/IMAGE[,conf=PATH][,id=CLIENT][,size=SIZE][,create=1]\n"
"                                                           (Ceph RBD image, docs/rbd.md)\n"
"                        SIZE takes K/M/G/T suffixes. More options: removable=1,\n"
"                        readonly=1, wwn=NAA_HEX (32 hex digits), blocksize=512|4096,\n"
"                        physblock=SIZE (reported physical block)\n"
"  -s, --state-dir DIR   persistent state (default " DEFAULT_STATE_DIR ")\n"
"  -m, --mgmt-socket PATH  management API socket (default " DEFAULT_MGMT_SOCKET ")\n"
"      --mgmt-group GROUP  members of GROUP may use the management API too\n"
"                        (socket mode 0660 with that group; default root only, 0600)\n"
"  -v, --log-level LEVEL error, warning, info (default) or debug\n"
"  -p, --pid-file PATH   pid file when detached (default STATE_DIR/sangwd.pid)\n"
"      --cluster KIND    shared-state service: none (single node, default) or\n"
"                        corosync (a CPG group named after the corosync cluster)\n"
"  -w, --workers N       worker threads that carry the sessions' I/O, 1-64\n"
"                        (default: one per online CPU)\n"
"      --rbd-handles N   RADOS cluster handles per Ceph cluster and client id,\n"
"                        rbd LUs spread over them (1-32, default 2)\n"
"      --fencing on|off  with --cluster corosync: blocklist a departed or frozen\n"
"                        node's Ceph clients before the others take over\n"
"                        (default on; off only to show what it prevents)\n"
"      --state-store rados:POOL[,conf=PATH][,id=CLIENT][,object=NAME][,timeout=S]\n"
"                        also keep the configuration and APTPL reservations in\n"
"                        the RADOS object NAME (default sangw.state) of POOL;\n"
"                        the newest of it and STATE_DIR wins at start (docs/rbd.md)\n"
"      --metrics ADDR:PORT serve Prometheus metrics at http://ADDR:PORT/metrics\n"
"                        ([IPV6ADDR]:PORT for IPv6; default off; docs/metrics.md)\n"
"      --login-timeout SECONDS  close a connection whose login has not finished\n"
"                        within SECONDS (1-3600, default 15)\n"
"      --max-connections N  iSCSI connections served at once (1-1000000); more\n"
"                        logins are refused with status 0x0302 Out of resources.\n"
"                        Default: the open-file limit (raised to its hard limit\n"
"                        at start) less 256, at most 16384\n"
"  -h, --help            this help\n"
"  -V, --version         print the version, the backstores, transports and CRC32C code built in\n"
"\n"
"Signals: SIGHUP reloads --config, SIGTERM/SIGINT stop cleanly (exit 0).\n"
"See sangwd(8), gwcli(8) and docs/configuration.md.\n");
}

/* One worker per online CPU unless --workers says otherwise. */
static unsigned default_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > WORKERS_MAX ? WORKERS_MAX : (unsigned)n;
}

/* A worker thread ends: give back its per-thread caches. */
static void worker_thread_exit(void)
{
	iscsi_thread_trim();
	iobuf_trim();
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option long_opts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "listen-iser", required_argument, NULL, 'I' },
		{ "listen-fcoe", required_argument, NULL, 'E' },
		{ "target", required_argument, NULL, 't' },
		{ "lun", required_argument, NULL, 'L' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "mgmt-socket", required_argument, NULL, 'm' },
		{ "mgmt-group", required_argument, NULL, 'g' },
		{ "log-level", required_argument, NULL, 'v' },
		{ "pid-file", required_argument, NULL, 'p' },
		{ "cluster", required_argument, NULL, 'C' },
		{ "workers", required_argument, NULL, 'w' },
		{ "rbd-handles", required_argument, NULL, 'R' },
		{ "fencing", required_argument, NULL, 'F' },
		{ "state-store", required_argument, NULL, 'S' },
		{ "metrics", required_argument, NULL, 'M' },
		{ "login-timeout", required_argument, NULL, 'T' },
		{ "max-connections", required_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->state_dir = DEFAULT_STATE_DIR;
	o->mgmt_socket = DEFAULT_MGMT_SOCKET;
	o->cluster = "none";
	o->log_level = LOG_INFO;
	while ((c = getopt_long(argc, argv, "fc:l:t:L:s:m:v:p:w:hV", long_opts, NULL)) != -1) {
		switch (c) {
		case 'f': o->foreground = true; break;
		case 'c': o->config = optarg; break;
		case 'l':
		case 'I':
			if (o->n_listen == ARRAY_SIZE(o->listen)) {
				fprintf(stderr, "sangwd: too many --listen/--listen-iser options\n");
				return -1;
			}
			o->listen_transport[o->n_listen] = c == 'I' ? PORTAL_ISER : PORTAL_TCP;
			o->listen[o->n_listen++] = optarg;
			break;
		case 'E':
			if (o->n_listen_fcoe == ARRAY_SIZE(o->listen_fcoe)) {
				fprintf(stderr, "sangwd: too many --listen-fcoe options\n");
				return -1;
			}
#ifndef HAVE_FCOE
			fprintf(stderr, "sangwd: --listen-fcoe: this sangwd was built without FCoE\n");
			return -1;
#endif
			o->listen_fcoe[o->n_listen_fcoe++] = optarg;
			break;
		case 't': o->target = optarg; break;
		case 'L':
			if (o->n_luns == MAX_CLI_LUNS) {
				fprintf(stderr, "sangwd: too many --lun options\n");
				return -1;
			}
			o->luns[o->n_luns++] = optarg;
			break;
		case 's': o->state_dir = optarg; break;
		case 'm': o->mgmt_socket = optarg; break;
		case 'g': o->mgmt_group = optarg; break;
		case 'v':
			o->log_level = log_level_from_name(optarg);
			if (o->log_level < 0) {
				fprintf(stderr, "sangwd: unknown log level '%s' (error, warning, info, debug)\n", optarg);
				return -1;
			}
			break;
		case 'p': o->pid_file = optarg; break;
		case 'C': o->cluster = optarg; break;
		case 'F':
			if (strcmp(optarg, "on") && strcmp(optarg, "off")) {
				fprintf(stderr, "sangwd: --fencing takes on or off, not '%s'\n", optarg);
				return -1;
			}
			o->fencing_off = strcmp(optarg, "off") == 0;
			break;
		case 'T':
		case 'N': {
			const char *name = c == 'T' ? "--login-timeout" : "--max-connections";
			unsigned long max = c == 'T' ? 3600 : 1000000, n;
			char *end;

			errno = 0;
			n = strtoul(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end || errno || n < 1 || n > max) {
				fprintf(stderr, "sangwd: %s takes a number from 1 to %lu\n", name, max);
				return -1;
			}
			if (c == 'T')
				o->login_timeout_s = (unsigned)n;
			else
				o->max_connections = (unsigned)n;
			break;
		}
		case 'w': {
			char *end;
			unsigned long n = strtoul(optarg, &end, 10);

			if (*optarg < '0' || *optarg > '9' || *end || n < 1 || n > WORKERS_MAX) {
				fprintf(stderr, "sangwd: --workers takes a number from 1 to %d\n", WORKERS_MAX);
				return -1;
			}
			o->workers = (unsigned)n;
			break;
		}
		case 'R': {
			char why[256];

			if (backstore_configure("rbd", "handles", optarg, why, sizeof(why)) < 0) {
				fprintf(stderr, "sangwd: --rbd-handles: %s\n", why);
				return -1;
			}
			break;
		}
		case 'S': {
			char why[512];

			if (state_store_configure(optarg, why, sizeof(why)) < 0) {
				fprintf(stderr, "sangwd: --state-store %s\n", why);
				return -1;
			}
			break;
		}
		case 'M': {
			char why[256];

			if (metrics_check_address(optarg, why, sizeof(why)) < 0) {
				fprintf(stderr, "sangwd: %s\n", why);
				return -1;
			}
			o->metrics = optarg;
			break;
		}
		case 'h': usage(stdout); exit(0);
		case 'V': {
			char names[128];

			backstore_names(names, sizeof(names));
			printf("sangwd %s\nbackstores: %s\nmetrics: %s\n", PACKAGE_VERSION, names,
			       metrics_available() ? "yes" : "no (built without libmicrohttpd)");
			/* iSCSI transports built in (iSER needs librdmacm) */
			printf("transports: tcp%s%s\n", iscsi_transport_get(PORTAL_ISER) ? " iser" : "",
#ifdef HAVE_FCOE
			       " fcoe"
#else
			       ""
#endif
			       );
			printf("crc32c: %s\n", crc32c_implementation());
			exit(0);
		}
		default: usage(stderr); return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sangwd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return -1;
	}
	return 0;
}

/* "ADDR:PORT", "[V6]:PORT", ":PORT" or "ADDR" (port 3260). */
static int parse_portal(const char *text, struct portal *p)
{
	const char *colon;
	char *end;
	unsigned long port = ISCSI_DEFAULT_PORT;

	memset(p, 0, sizeof(*p));
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close || (size_t)(close - text - 1) >= sizeof(p->addr))
			return -1;
		memcpy(p->addr, text + 1, (size_t)(close - text - 1));
		colon = close[1] == ':' ? close + 1 : NULL;
		if (close[1] && !colon)
			return -1;
	} else {
		colon = strrchr(text, ':');
		size_t len = colon ? (size_t)(colon - text) : strlen(text);
		if (len >= sizeof(p->addr))
			return -1;
		memcpy(p->addr, text, len);
	}
	if (!p->addr[0])
		str_copy(p->addr, "0.0.0.0", sizeof(p->addr));
	if (colon) {
		errno = 0;
		port = strtoul(colon + 1, &end, 10);
		if (errno || *end || end == colon + 1 || port == 0 || port > 65535)
			return -1;
	}
	p->port = (uint16_t)port;
	return 0;
}

static int add_portal(struct gateway *gw, const char *text, enum portal_transport transport)
{
	struct portal *p = calloc(1, sizeof(*p)), *q;

	if (!p || parse_portal(text, p) < 0) {
		fprintf(stderr, "sangwd: invalid portal '%s' (expected ADDR:PORT)\n", text);
		free(p);
		return -1;
	}
	p->transport = transport;
	TAILQ_FOREACH(q, &gw->portals, link)
		if (q->port == p->port && q->transport == p->transport && !strcmp(q->addr, p->addr)) {
			fprintf(stderr, "sangwd: %s portal '%s' given twice\n",
				portal_transport_name(transport), text);
			free(p);
			return -1;
		}
	TAILQ_INSERT_TAIL(&gw->portals, p, link);
	return 0;
}

#ifdef HAVE_FCOE
/* --listen-fcoe IFNAME[,wwpn=..][,wwnn=..]: a VN2VN port serving iqn. */
static int add_fcoe_portal(struct gateway *gw, const char *text, const char *iqn)
{
	struct portal *p = calloc(1, sizeof(*p)), *q;
	char err[512];

	if (!p) {
		fprintf(stderr, "sangwd: out of memory\n");
		return -1;
	}
	if (fcoe_parse_listen(text, p->addr, sizeof(p->addr), &p->wwpn, &p->wwnn, err, sizeof(err)) < 0) {
		fprintf(stderr, "sangwd: %s\n", err);
		free(p);
		return -1;
	}
	p->transport = PORTAL_FCOE;
	str_copy(p->target, iqn, sizeof(p->target));
	TAILQ_FOREACH(q, &gw->portals, link)
		if (q->transport == PORTAL_FCOE && !strcmp(q->addr, p->addr)) {
			fprintf(stderr, "sangwd: fcoe portal '%s' given twice\n", p->addr);
			free(p);
			return -1;
		}
	TAILQ_INSERT_TAIL(&gw->portals, p, link);
	return 0;
}
#endif

static bool has_tcp_portal(struct gateway *gw)
{
	struct portal *p;

	TAILQ_FOREACH(p, &gw->portals, link)
		if (p->transport == PORTAL_TCP)
			return true;
	return false;
}

static int build_cli_model(struct gateway *gw, const struct options *o)
{
	const char *iqn = o->target ? o->target : DEFAULT_TARGET_IQN;
	struct target *t;
	char err[512];

	for (unsigned i = 0; i < o->n_listen; i++)
		if (add_portal(gw, o->listen[i], o->listen_transport[i]) < 0)
			return -1;
#ifdef HAVE_FCOE
	/* With --config and no --target/--lun, an FCoE port serves the
	 * configuration's first target (""), else the command line's. */
	for (unsigned i = 0; i < o->n_listen_fcoe; i++)
		if (add_fcoe_portal(gw, o->listen_fcoe[i],
				    !o->n_luns && !o->target && o->config ? "" : iqn) < 0)
			return -1;
#endif
	/* Initiators discover over TCP, also the iSER portals (RFC 7145 5.1). */
	if (!has_tcp_portal(gw) && add_portal(gw, "0.0.0.0:3260", PORTAL_TCP) < 0)
		return -1;
	if (!o->n_luns && !o->target && o->config)
		return 0;
	t = gw_find_target(gw, iqn);
	if (!t) {
		t = target_create(gw, iqn);
		if (!t)
			return -1;
		/* A target from the command line has no ACLs: demo mode. */
		t->demo_mode = true;
		log_info("target %s (demo mode: any initiator may log in)", iqn);
	}
	for (unsigned i = 0; i < o->n_luns; i++) {
		struct lu_spec spec;
		uint64_t lun = 0;

		if (lu_spec_parse(o->luns[i], &spec, err, sizeof(err)) < 0) {
			fprintf(stderr, "sangwd: --lun %s\n", err);
			return -1;
		}
		while (target_find_lu(t, lun))
			lun++;
		if (!lu_create(t, lun, &spec, err, sizeof(err))) {
			fprintf(stderr, "sangwd: --lun %s: %s\n", o->luns[i], err);
			return -1;
		}
	}
	return 0;
}

/* Every iSCSI connection is an open file: take the hard limit as our soft
 * one (a daemon serving many initiators; systemd's LimitNOFILE sets the
 * hard limit), and serve no more connections than the files we have, so
 * that an initiator beyond it gets a login refusal rather than a target
 * out of descriptors. */
static unsigned setup_open_files(unsigned wanted)
{
	struct rlimit rl;
	unsigned long usable;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return wanted ? wanted : 1024 - FDS_RESERVED;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t was = rl.rlim_cur;

		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			rl.rlim_cur = was;
	}
	usable = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 2000000 ? 2000000
		 : (unsigned long)rl.rlim_cur;
	usable = usable > 2 * FDS_RESERVED ? usable - FDS_RESERVED : usable / 2;
	if (!wanted)
		return usable < MAX_CONNECTIONS_DEFAULT_CAP ? (unsigned)usable : MAX_CONNECTIONS_DEFAULT_CAP;
	if (wanted > usable) {
		log_warn("--max-connections %u is more than the open-file limit allows (%llu files): "
			 "serving at most %lu (raise LimitNOFILE / ulimit -n)", wanted,
			 (unsigned long long)rl.rlim_cur, usable);
		return (unsigned)usable;
	}
	return wanted;
}

/* gw->portals changed (management API, SIGHUP): every fabric rebinds. */
static int portals_changed(struct gateway *gw, char *err, size_t errlen)
{
	if (iscsi_portals_changed(gw, err, errlen) < 0)
		return -1;
#ifdef HAVE_FCOE
	if (fcoe_portals_changed(gw, err, errlen) < 0)
		return -1;
#endif
	return 0;
}

static int make_dir(const char *path)
{
	char tmp[PATH_MAX];

	if (str_copy(tmp, path, sizeof(tmp)) >= sizeof(tmp))
		return -1;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

static void fatal_signal(int sig)
{
	/* Keep the flight recorder for the post-mortem, then die as asked. */
	log_dump_blackbox();
	signal(sig, SIG_DFL);
	raise(sig);
}

struct signal_state {
	struct ev_source src;
	int fd;
	struct gateway *gw;
};

static void on_signal(struct event_loop *loop, uint32_t events, void *arg)
{
	struct signal_state *ss = arg;
	struct signalfd_siginfo si;
	char err[512];

	(void)events;
	while (read(ss->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGHUP:
			if (!ss->gw->config_path[0]) {
				log_info("SIGHUP: no --config file to reload");
				break;
			}
			log_info("SIGHUP: reloading %s", ss->gw->config_path);
			service_notify_reloading();
			if (config_reload(ss->gw, err, sizeof(err)) < 0)
				log_error("reload failed, running configuration kept: %s", err);
			service_notify_reloaded();
			break;
		case SIGTERM:
		case SIGINT:
			log_info("%s: shutting down", si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
			event_loop_stop(loop);
			break;
		case SIGUSR1:
			log_dump_blackbox();
			break;
		}
	}
}

/* Detaching happens in two steps so that nothing is lost to fork(): the
 * process forks before it creates any thread (file backstore helpers,
 * workers), and the parent stays in the foreground until the daemon has
 * built its model and bound its sockets, so start-up errors still reach
 * the caller's terminal and exit status. */
static int daemon_ready_fd = -1;

static int daemonize_begin(void)
{
	int ready[2];
	pid_t pid;

	if (pipe2(ready, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		char status = 1;

		/* The daemon writes one byte once it serves; EOF without it
		 * means it failed and has said why on stderr. */
		close(ready[1]);
		while (read(ready[0], &status, 1) < 0 && errno == EINTR)
			;
		_exit(status == 0 ? 0 : 1);
	}
	close(ready[0]);
	setsid();
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	daemon_ready_fd = ready[1];
	return 0;
}

static int daemonize_finish(const char *pid_file)
{
	char text[32], ok = 0;
	int fd;

	snprintf(text, sizeof(text), "%d\n", (int)getpid());
	if (write_file_atomic(pid_file, text, strlen(text)) < 0)
		return -1;
	if (chdir("/") < 0)
		return -1;
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	if (write(daemon_ready_fd, &ok, 1) != 1)
		return -1;
	close(daemon_ready_fd);
	daemon_ready_fd = -1;
	return 0;
}

struct flush_req {
	struct bs_io io;
	unsigned *pending;
};

static void flush_done(struct bs_io *io)
{
	struct flush_req *f = container_of(io, struct flush_req, io);

	if (io->result < 0)
		log_error("flush at shutdown failed: %s", strerror(-io->result));
	(*f->pending)--;
	free(f);
}

/* Make everything acknowledged durable before exit (SIGTERM contract). */
static void flush_all_lus(struct gateway *gw)
{
	unsigned pending = 0;
	struct target *t;
	struct lu *lu;

	TAILQ_FOREACH(t, &gw->targets, link) {
		TAILQ_FOREACH(lu, &t->lus, link) {
			struct flush_req *f = calloc(1, sizeof(*f));
			if (!f)
				continue;
			f->io.op = BS_OP_FLUSH;
			f->io.done = flush_done;
			f->pending = &pending;
			pending++;
			lu->bs_ops->submit(lu, &f->io);
		}
	}
	while (pending)
		event_loop_run_once(gw->loop, 100);
}

/* Orderly stop, and the undoing of a start that failed half-way (with
 * whatever was built by then): no new logins, ask initiators to log out
 * (for up to logout_ms), abort what is left, flush the backstores,
 * release everything. */
static void gateway_teardown(struct gateway *gw, unsigned logout_ms)
{
	metrics_stop();
	mgmt_stop(gw);
	if (gw->loop)
		iscsi_fabric_shutdown(gw, logout_ms);
#ifdef HAVE_FCOE
	target_ports_freeze(gw);     /* they stay listed while we are away */
	fcoe_fabric_shutdown(gw);    /* LOGO to every logged-in initiator */
#endif
	/* Every connection is gone: what is left runs on this thread. */
	workers_stop();
	flush_all_lus(gw);
	fencing_free(gw);
	cluster_destroy(gw->cluster);
	gw->cluster = NULL;
	while (!TAILQ_EMPTY(&gw->targets))
		target_destroy(TAILQ_FIRST(&gw->targets));
	state_store_shutdown();    /* queued before the rbd admin thread ends */
	backstore_shutdown_all();
	while (!TAILQ_EMPTY(&gw->portals)) {
		struct portal *p = TAILQ_FIRST(&gw->portals);
		TAILQ_REMOVE(&gw->portals, p, link);
		free(p);
	}
	workers_destroy();
	iscsi_thread_trim();
	event_loop_destroy(gw->loop);
	gw->loop = NULL;
}


int main(int argc, char **argv)
{
	struct gateway gw;
	struct options o;
	struct signal_state ss;
	sigset_t mask;
	char err[512], path[PATH_MAX];
	int rc = 1;

	if (parse_options(argc, argv, &o) < 0)
		return 2;
	log_setup("sangwd", o.log_level, true, !o.foreground);
	if (!o.foreground && daemonize_begin() < 0) {
		fprintf(stderr, "sangwd: cannot detach: %s\n", strerror(errno));
		return 1;
	}

	memset(&gw, 0, sizeof(gw));
	TAILQ_INIT(&gw.targets);
	TAILQ_INIT(&gw.portals);
	TAILQ_INIT(&gw.nexuses);
	the_gateway = &gw;
	str_copy(gw.state_dir, o.state_dir, sizeof(gw.state_dir));
	str_copy(gw.mgmt_socket, o.mgmt_socket, sizeof(gw.mgmt_socket));
	gw.login_timeout_ms = (o.login_timeout_s ? o.login_timeout_s : 15) * 1000u;
	gw.max_connections = setup_open_files(o.max_connections);
	log_info("serving up to %u iSCSI connections; logins time out after %u s", gw.max_connections,
		 gw.login_timeout_ms / 1000);
	if (o.mgmt_group) {
		/* Checked before anything is built: a typo ends the start cleanly. */
		if (str_copy(gw.mgmt_group, o.mgmt_group, sizeof(gw.mgmt_group)) >= sizeof(gw.mgmt_group) ||
		    mgmt_group_id(gw.mgmt_group, NULL, err, sizeof(err)) < 0) {
			fprintf(stderr, "sangwd: %s\n", err[0] ? err : "--mgmt-group: name too long");
			return 1;
		}
	}
	if (make_dir(gw.state_dir) < 0) {
		fprintf(stderr, "sangwd: cannot create state dir %s: %s\n", gw.state_dir, strerror(errno));
		return 1;
	}
	if (snprintf(path, sizeof(path), "%s/sangwd.blackbox", gw.state_dir) < (int)sizeof(path))
		log_set_blackbox_path(path);
	signal(SIGSEGV, fatal_signal);
	signal(SIGBUS, fatal_signal);
	signal(SIGFPE, fatal_signal);
	signal(SIGILL, fatal_signal);
	signal(SIGABRT, fatal_signal);
	signal(SIGPIPE, SIG_IGN);

	/* Block the signals we take through signalfd before any thread is
	 * created (the file backstore's helpers inherit the mask). */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	ss.fd = -1;
	gw.loop = event_loop_create();
	/* Worker loops exist before the configuration loads: backstores
	 * register a completion queue on each. Threads start after detach. */
	if (gw.loop && workers_init(gw.loop, o.workers ? o.workers : default_workers()) < 0) {
		fprintf(stderr, "sangwd: cannot create the worker loops\n");
		goto failed;
	}
	gw.cluster = gw.loop ? cluster_create(o.cluster, gw.loop, &shared_state_callbacks, &gw) : NULL;
	if (!gw.cluster) {
		fprintf(stderr, "sangwd: unknown --cluster '%s' (this build supports: none%s)\n", o.cluster,
#ifdef HAVE_COROSYNC
			", corosync"
#else
			""
#endif
			);
		rc = 2;
		goto failed;
	}
	gw.node_id = gw.cluster->node_id;
	/* Fencing protects shared storage from nodes a cluster gave up on. */
	if (strcmp(o.cluster, "none") != 0 && fencing_init(&gw, !o.fencing_off) < 0) {
		fprintf(stderr, "sangwd: out of memory\n");
		goto failed;
	}
	if (gw.cluster->ops->start(gw.cluster) < 0) {
		fprintf(stderr, "sangwd: cannot start the %s cluster service\n", o.cluster);
		goto failed;
	}
	gw.node_id = gw.cluster->node_id;   /* corosync knows it only now */
	if (alua_check_node_id(gw.node_id, err, sizeof(err)) < 0) {
		fprintf(stderr, "sangwd: %s\n", err);
		goto failed;
	}
	gw.portals_changed = portals_changed;

	if (o.config)
		str_copy(gw.config_path, o.config, sizeof(gw.config_path));
	/* A newer stored state replaces the local files before they load. */
	state_store_recover(&gw);
	if (o.config) {
		if (config_load(&gw, o.config, err, sizeof(err)) < 0) {
			fprintf(stderr, "sangwd: %s\n", err);
			goto failed;
		}
	}
	if (build_cli_model(&gw, &o) < 0)
		goto failed;
	state_store_started(&gw);

	ss.gw = &gw;
	ss.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (ss.fd < 0 || ev_add(gw.loop, &ss.src, ss.fd, EPOLLIN, on_signal, &ss) < 0) {
		fprintf(stderr, "sangwd: signalfd: %s\n", strerror(errno));
		goto failed;
	}
	if (iscsi_fabric_start(&gw, err, sizeof(err)) < 0) {
		fprintf(stderr, "sangwd: %s\n", err);
		goto failed;
	}
#ifdef HAVE_FCOE
	if (fcoe_portals_changed(&gw, err, sizeof(err)) < 0) {
		fprintf(stderr, "sangwd: %s\n", err);
		goto failed;
	}
#endif
	if (mgmt_start(&gw, err, sizeof(err)) < 0) {
		fprintf(stderr, "sangwd: %s\n", err);
		goto failed;
	}
	if (o.metrics && metrics_start(&gw, o.metrics, err, sizeof(err)) < 0) {
		fprintf(stderr, "sangwd: %s\n", err);
		goto failed;
	}
	if (!o.foreground) {
		if (!o.pid_file && snprintf(path, sizeof(path), "%s/sangwd.pid", gw.state_dir) >= (int)sizeof(path)) {
			fprintf(stderr, "sangwd: state dir path too long\n");
			goto failed;
		}
		if (daemonize_finish(o.pid_file ? o.pid_file : path) < 0) {
			log_error("cannot detach: %s", strerror(errno));
			goto failed;
		}
	}
	if (workers_start(worker_thread_exit) < 0)
		goto failed;
	log_info("sangwd %s ready (node %u, management socket %s, %u workers)", PACKAGE_VERSION,
		 gw.node_id, gw.mgmt_socket, workers_count());
	service_notify_start(&gw);

	event_loop_run(gw.loop);
	service_notify_stopping();

	ev_remove(gw.loop, &ss.src);
	close(ss.fd);
	gateway_teardown(&gw, SHUTDOWN_LOGOUT_MS);
	if (!o.foreground)
		unlink(o.pid_file ? o.pid_file : path);
	log_info("sangwd stopped");
	log_teardown();
	return 0;

failed:
	/* A start that failed half-way releases what it built, so nothing
	 * is left behind (LeakSanitizer checks that in the tests). */
	if (ss.fd >= 0) {
		ev_remove(gw.loop, &ss.src);
		close(ss.fd);
	}
	gateway_teardown(&gw, 0);
	log_teardown();
	return rc;
}
