/* libFuzzer target: the management API (gateway/mgmt.c, the request
 * handlers of config_requests.c, config_edit/diff/apply/export, alua,
 * node_role, cluster_status). The input is what a client writes on the
 * unix socket, normally one JSON request line, against a gateway built
 * from FUZZ_MGMT_BASE (two targets, null LUs, ACLs with CHAP and a LUN
 * map). Changes travel as SOP_CONFIG operations through the single-node
 * service and are applied, as in sangwd. The harness reads every answer
 * and waits until the server hangs up after the client's end of input.
 * Nothing may crash, leak, hang or trip ASan/UBSan.
 *
 * Inputs that could touch the file system (file backstores and paths,
 * see fuzz_input_unsafe) are skipped: the fuzzer must not write the disk.
 *
 *   make -C BUILD fuzz-mgmt
 *   BUILD/tests/fuzz/fuzz_mgmt -max_total_time=60 tests/fuzz/corpus-mgmt */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../gateway/config.h"
#include "../../gateway/config_internal.h"
#include "../../gateway/event_loop.h"
#include "../../gateway/mgmt.h"
#include "fuzz_gateway.h"

#define FUZZ_MGMT_BASE                                                                        \
	"{\"targets\": ["                                                                     \
	"{\"iqn\": \"" FUZZ_TARGET_IQN "\", \"demo_mode\": false,"                            \
	" \"chap\": {\"user\": \"fuzz-target\", \"secret\": \"t4rget-s3cret!\"},"             \
	" \"luns\": [{\"lun\": 0, \"backstore\": \"null\", \"size\": \"1M\"},"                \
	"  {\"lun\": 1, \"backstore\": \"null\", \"size\": \"1M\", \"readonly\": true}],"     \
	" \"acls\": [{\"initiator\": \"iqn.2026-11.org.sangw:fuzz-a\","                       \
	"  \"chap\": {\"user\": \"a\", \"secret\": \"a-1nitiator-s3cret\"}},"                 \
	"  {\"initiator\": \"iqn.2026-11.org.sangw:fuzz-b\","                                 \
	"   \"lun_map\": [{\"mapped_lun\": 0, \"lun\": 1}]}]},"                                \
	"{\"iqn\": \"iqn.2026-11.org.sangw:other\", \"demo_mode\": true,"                     \
	" \"luns\": [{\"lun\": 3, \"backstore\": \"null\", \"size\": \"64K\","                \
	"  \"alua\": {\"policy\": \"preferred\", \"preferred_node\": 1}}]}]}"

static int connect_client(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		abort();
	return fd;
}

/* Read and drop the answers; false once the server hung up. */
static bool drain_client(int fd)
{
	char scratch[65536];

	for (;;) {
		ssize_t n = recv(fd, scratch, sizeof(scratch), MSG_DONTWAIT);

		if (n > 0)
			continue;
		if (n == 0)
			return false;
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
	}
}

/* FUZZ_MGMT_BASE parsed and validated once per process; each input
 * applies it to a fresh gateway (cfg_apply_doc does not change it), as
 * config_load_text would after parsing the same text again. */
static const struct cfg_doc *base_doc(void)
{
	static struct cfg_doc doc;
	static bool parsed;
	char err[1024];
	json_object *root;

	if (parsed)
		return &doc;
	root = cfg_parse_json_text(FUZZ_MGMT_BASE, strlen(FUZZ_MGMT_BASE), err, sizeof(err));
	if (!root || cfg_parse_doc(root, &doc, err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz_mgmt: base configuration: %s\n", err);
		abort();
	}
	json_object_put(root);
	parsed = true;
	return &doc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_gw *g = fuzz_gw_get();
	struct mgmt_server *srv;
	char path[128], err[1024];
	size_t sent = 0;
	bool open = true, shut = false;
	int fd, rounds;

	if (size > (1u << 20) || fuzz_input_unsafe(data, size))
		return -1;   /* not added to the corpus */
	fuzz_gw_start(g, -1);
	if (cfg_apply_doc(&g->gw, base_doc(), true, err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz_mgmt: base configuration: %s\n", err);
		abort();
	}
	fuzz_gw_drain(g);
	snprintf(path, sizeof(path), "%s/mgmt.sock", g->dir);
	srv = mgmt_server_create(&g->gw, path, err, sizeof(err));
	if (!srv) {
		fprintf(stderr, "fuzz_mgmt: %s\n", err);
		abort();
	}
	g->gw.mgmt = srv;
	fd = connect_client(path);
	for (rounds = 0; open && rounds < 20000; rounds++) {
		if (sent < size) {
			ssize_t n = send(fd, data + sent, size - sent, MSG_DONTWAIT | MSG_NOSIGNAL);

			if (n > 0)
				sent += (size_t)n;
			else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				sent = size;
		} else if (!shut) {
			shutdown(fd, SHUT_WR);
			shut = true;
		}
		event_loop_run_once(g->loop, sent < size ? 0 : 10);
		open = drain_client(fd);
	}
	close(fd);
	if (open) {
		fprintf(stderr, "fuzz_mgmt: the server never hung up after the end of the input\n");
		abort();
	}
	fuzz_gw_drain(g);
	mgmt_server_destroy(srv);
	g->gw.mgmt = NULL;
	fuzz_gw_stop(g);
	return 0;
}
