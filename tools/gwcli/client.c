/* Talking to sangwd: one connection per request, a JSON line each way,
 * never waiting longer than the --timeout (docs/management-api.md). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "gwcli.h"

#define MAX_RESPONSE (64u << 20)

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
		int e = errno;

		fprintf(stderr, "gwcli: cannot connect to sangwd at %s: %s\n", cli->socket_path, strerror(e));
		/* What to do about it. */
		if (e == ENOENT || e == ECONNREFUSED)
			fprintf(stderr, "  Is sangwd running? Start it (systemctl start sangwd, or sangwd -f), or name "
				"its socket with --socket PATH or $SANGW_SOCKET.\n");
		else if (e == EACCES || e == EPERM)
			fprintf(stderr, "  The management socket is for root only: run gwcli as root.\n");
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
		int left = (int)(deadline - time(NULL)), ready;
		char *nl;
		ssize_t n;

		ready = left > 0 ? poll(&pfd, 1, left * 1000) : 0;
		if (ready < 0 && errno == EINTR)
			continue;       /* a signal (the shell's Ctrl-C): wait on, never past the deadline */
		if (ready <= 0) {
			fprintf(stderr, "gwcli: no answer from sangwd within %d s (a change may still be applied:\n"
				"  check with 'gwcli ls'; '--timeout SECONDS' waits longer)\n", cli->timeout_s);
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

/* One request, one answer line (without its newline); NULL with the reason
 * printed. */
static char *exchange(const struct cli *cli, json_object *req)
{
	const char *text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN |
							  JSON_C_TO_STRING_NOSLASHESCAPE);
	char *line;
	int fd;

	fd = connect_daemon(cli);
	if (fd < 0)
		return NULL;
	if (send_all(fd, text, strlen(text)) < 0 || send_all(fd, "\n", 1) < 0) {
		int e = errno;
		char early[512], *nl;
		ssize_t n;

		/* sangwd may have answered and hung up before reading (a refused
		 * client): show its answer rather than the broken pipe. */
		n = recv(fd, early, sizeof(early) - 1, MSG_DONTWAIT);
		if (n > 0) {
			early[n] = '\0';
			if ((nl = strchr(early, '\n')))
				*nl = '\0';
			close(fd);
			return strdup(early);
		}
		fprintf(stderr, "gwcli: cannot send to sangwd at %s: %s\n", cli->socket_path, strerror(e));
		close(fd);
		return NULL;
	}
	line = receive_line(cli, fd);
	close(fd);
	return line;
}

/* The answer as an object; NULL (reason printed) when it is not one. */
static json_object *parse_answer(const char *line)
{
	json_object *resp = json_tokener_parse(line), *ok;

	if (!resp || !json_object_object_get_ex(resp, "ok", &ok)) {
		fprintf(stderr, "gwcli: sangwd sent an answer that is not understood: %.200s\n", line);
		json_object_put(resp);
		return NULL;
	}
	return resp;
}

json_object *request(const struct cli *cli, json_object *req)
{
	char *line = exchange(cli, req);
	json_object *resp = line ? parse_answer(line) : NULL;

	free(line);
	return resp;
}

int call(const struct cli *cli, json_object *req, print_fn print, void *arg)
{
	char *line = exchange(cli, req);
	json_object *resp = line ? parse_answer(line) : NULL, *error;
	int status;

	if (!resp) {
		free(line);
		return EXIT_REFUSED;
	}
	status = bool_of(resp, "ok") ? 0 : EXIT_REFUSED;
	if (cli->json) {
		printf("%s\n", line);        /* as it came: the contract for scripts */
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

json_object *request_new(const char *name)
{
	json_object *req = json_object_new_object();

	json_object_object_add(req, "request", json_object_new_string(name));
	return req;
}

void add_string(json_object *req, const char *key, const char *value)
{
	json_object_object_add(req, key, json_object_new_string(value));
}

/* A change: send, say what was done. */
int call_change(const struct cli *cli, json_object *req, const char *done_message)
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
