/* Reaching an iSCSI portal over TCP, for both sangw-bench engines. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_engine.h"

bool bench_split_portal(const char *portal, char *host, size_t host_size,
			char *port, size_t port_size)
{
	const char *colon;
	size_t host_len;

	if (portal[0] == '[') {
		const char *close = strchr(portal, ']');

		if (close == NULL)
			return false;
		host_len = (size_t)(close - portal - 1);
		portal++;
		colon = close[1] == ':' ? close + 1 : NULL;
		if (close[1] != '\0' && colon == NULL)
			return false;
	} else {
		colon = strrchr(portal, ':');
		host_len = colon != NULL ? (size_t)(colon - portal) : strlen(portal);
	}
	if (host_len == 0 || host_len >= host_size)
		return false;
	snprintf(host, host_size, "%.*s", (int)host_len, portal);
	snprintf(port, port_size, "%s", colon != NULL ? colon + 1 : "3260");
	return port[0] != '\0';
}

int bench_connect_portal(const char *portal)
{
	char host[256], port[16];
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res, *ai;
	int err, fd, saved = 0, one = 1;

	if (!bench_split_portal(portal, host, sizeof(host), port, sizeof(port))) {
		fprintf(stderr, "sangw-bench: bad portal '%s'\n", portal);
		return -1;
	}
	err = getaddrinfo(host, port, &hints, &res);
	if (err != 0) {
		fprintf(stderr, "sangw-bench: cannot resolve portal %s: %s\n", portal, gai_strerror(err));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			freeaddrinfo(res);
			/* Small PDUs (a READ's command) must leave at once. */
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			return fd;
		}
		saved = errno;
		close(fd);
	}
	freeaddrinfo(res);
	fprintf(stderr, "sangw-bench: cannot connect to portal %s: %s\n", portal, strerror(saved));
	return -1;
}
