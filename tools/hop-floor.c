/* hop-floor: what the hops a gateway adds cost on this machine, with no
 * storage and no SCSI at all (docs/performance.md, "RBD: the floor").
 *
 * A gateway between an initiator and librbd adds, per I/O and beyond
 * librbd's own work:
 *   - a network round trip: the command to the gateway, the response
 *     back (here: TCP over loopback between two processes, 48-byte
 *     command, 48-byte response + the read data);
 *   - a hand-off from librbd's completion thread to the thread that owns
 *     the connection and back to waiting (here: an eventfd ping-pong
 *     between two threads, one round trip = two hand-offs, so half of it
 *     is the cost of one).
 * librbd direct (fio --ioengine=rbd) pays neither. The medians printed
 * are therefore a floor under the latency any TCP gateway built on
 * librbd adds at queue depth 1 on this host, measured the same way the
 * benchmark's processes talk (blocking calls, the scheduler between).
 *
 *   hop-floor [--samples N] [--data BYTES]
 *
 * Prints one table; exits 1 only if a system call fails. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BHS_LEN 48

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "hop-floor: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void read_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			die("read");
		}
		p += n;
		len -= (size_t)n;
	}
}

static void write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			die("write");
		}
		p += n;
		len -= (size_t)n;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void print_row(const char *what, uint64_t *ns, unsigned n)
{
	qsort(ns, n, sizeof(*ns), cmp_u64);
	printf("| %-44s | %8.1f | %8.1f | %8.1f |\n", what,
	       ns[n / 2] / 1000.0, ns[n / 10] / 1000.0, ns[n * 99 / 100] / 1000.0);
}

/* TCP over loopback: the parent sends a 48-byte "command", the child
 * answers with 48 + data bytes, one at a time (queue depth 1). */
static void tcp_round_trips(unsigned samples, size_t data, uint64_t *ns)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(addr);
	int one = 1, lfd, fd;
	uint8_t cmd[BHS_LEN] = { 0 };
	uint8_t *rsp = calloc(1, BHS_LEN + data);
	pid_t child;

	if (!rsp)
		die("calloc");
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(lfd, 1) < 0 || getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0)
		die("listen on loopback");
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		int cfd = accept(lfd, NULL, NULL);

		if (cfd < 0)
			die("accept");
		setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		for (unsigned i = 0; i < samples + 100; i++) {
			read_all(cfd, cmd, sizeof(cmd));
			write_all(cfd, rsp, BHS_LEN + data);
		}
		_exit(0);
	}
	close(lfd);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		die("connect");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (unsigned i = 0; i < samples + 100; i++) {
		uint64_t t0 = now_ns();

		write_all(fd, cmd, sizeof(cmd));
		read_all(fd, rsp, BHS_LEN + data);
		if (i >= 100)        /* the first 100 warm up */
			ns[i - 100] = now_ns() - t0;
	}
	close(fd);
	waitpid(child, NULL, 0);
	free(rsp);
}

struct ping_pong {
	int to_peer, to_main;
	unsigned count;
};

static void *pong_thread(void *arg)
{
	struct ping_pong *pp = arg;
	eventfd_t v;

	for (unsigned i = 0; i < pp->count; i++) {
		if (eventfd_read(pp->to_peer, &v) < 0 || eventfd_write(pp->to_main, 1) < 0)
			die("eventfd");
	}
	return NULL;
}

/* eventfd between two threads of one process, each blocking in read():
 * one round trip is two hand-offs. */
static void eventfd_round_trips(unsigned samples, uint64_t *ns)
{
	struct ping_pong pp = { .count = samples + 100 };
	pthread_t t;
	eventfd_t v;

	pp.to_peer = eventfd(0, EFD_CLOEXEC);
	pp.to_main = eventfd(0, EFD_CLOEXEC);
	if (pp.to_peer < 0 || pp.to_main < 0)
		die("eventfd");
	if (pthread_create(&t, NULL, pong_thread, &pp))
		die("pthread_create");
	for (unsigned i = 0; i < pp.count; i++) {
		uint64_t t0 = now_ns();

		if (eventfd_write(pp.to_peer, 1) < 0 || eventfd_read(pp.to_main, &v) < 0)
			die("eventfd");
		if (i >= 100)
			ns[i - 100] = now_ns() - t0;
	}
	pthread_join(t, NULL);
	close(pp.to_peer);
	close(pp.to_main);
}

int main(int argc, char **argv)
{
	unsigned samples = 20000;
	size_t data = 4096;
	uint64_t *ns;
	char what[80];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--samples") && i + 1 < argc)
			samples = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--data") && i + 1 < argc)
			data = strtoul(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: hop-floor [--samples N] [--data BYTES]\n");
			return 2;
		}
	}
	if (samples < 100)
		samples = 100;
	ns = calloc(samples, sizeof(*ns));
	if (!ns)
		die("calloc");
	printf("| %-44s | %8s | %8s | %8s |\n", "hop (one round trip, queue depth 1)", "p50 us", "p10 us", "p99 us");
	printf("|----------------------------------------------|---------:|---------:|---------:|\n");
	snprintf(what, sizeof(what), "TCP loopback, 48 B out, %zu B back", BHS_LEN + data);
	tcp_round_trips(samples, data, ns);
	print_row(what, ns, samples);
	eventfd_round_trips(samples, ns);
	print_row("eventfd between two threads (two hand-offs)", ns, samples);
	free(ns);
	return 0;
}
