/* libFuzzer target: what an initiator sends on a logged-in iSCSI session.
 * The harness logs in through the real transport (transport_tcp.c: the
 * PDU reader, Data-In and R2T, on one end of a socketpair that it adopts
 * as an accepted connection) with a valid Login Request, then sends the input as the byte
 * stream of the full feature phase: SCSI Commands with immediate and
 * unsolicited data, Data-Out, TMFs, Text (SendTargets), NOP-Out, Logout
 * and SNACK, in any order and with any sequence numbers, against a
 * demo-mode target with two null LUs. It answers nothing (responses are
 * read and dropped), so R2Ts and CmdSN windows get whatever the input
 * says next. Then it half-closes the socket: the daemon must close the
 * connection, end the session and free every task. Nothing may crash,
 * leak, hang or trip ASan/UBSan.
 *
 * Byte 0 chooses the login's offer: bit 0 header and data digests
 * (CRC32C; a wrong one is what the input usually carries), bit 1
 * ImmediateData=No, bit 2 InitialR2T=Yes, bit 3 MaxRecvDataSegmentLength
 * 512 (Data-In split in many PDUs), bit 4 FirstBurstLength 512. The rest
 * is the stream after the Login Request.
 *
 *   make -C BUILD fuzz-session
 *   BUILD/tests/fuzz/fuzz_session -max_total_time=60 tests/fuzz/corpus-session */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../fabric/iscsi/iscsi.h"
#include "../../fabric/iscsi/transport.h"
#include "../../gateway/event_loop.h"
#include "../../gateway/util.h"
#include "fuzz_gateway.h"

#define FUZZ_INITIATOR "iqn.2026-11.org.sangw:fuzz-initiator"

/* RFC 7143 11.12: a Login Request from the operational stage straight to
 * full feature phase (no security stage: the target asks no CHAP). */
static size_t login_request(uint8_t flags, uint8_t *buf, size_t cap)
{
	char text[1024];
	int n = snprintf(text, sizeof(text),
			 "InitiatorName=" FUZZ_INITIATOR "%cTargetName=" FUZZ_TARGET_IQN
			 "%cSessionType=Normal%cHeaderDigest=%s%cDataDigest=%s%c"
			 "ImmediateData=%s%cInitialR2T=%s%cMaxRecvDataSegmentLength=%s%c"
			 "FirstBurstLength=%s%cMaxBurstLength=262144%cMaxOutstandingR2T=1%c"
			 "ErrorRecoveryLevel=0%cMaxConnections=1%c",
			 0, 0, 0, flags & 1 ? "CRC32C" : "None", 0, flags & 1 ? "CRC32C" : "None", 0,
			 flags & 2 ? "No" : "Yes", 0, flags & 4 ? "Yes" : "No", 0,
			 flags & 8 ? "512" : "8192", 0, flags & 16 ? "512" : "65536", 0, 0, 0, 0, 0);
	size_t len = ISCSI_BHS_LEN + ISCSI_PAD((size_t)n);

	if (n < 0 || len > cap)
		abort();
	memset(buf, 0, len);
	buf[0] = ISCSI_OP_LOGIN_REQ | 0x40;      /* always immediate (11.12.1) */
	buf[1] = 0x80 | (1 << 2) | 3;            /* T, CSG operational, NSG full feature */
	bhs_set_data_len(buf, (uint32_t)n);
	buf[8] = 0x80;                           /* ISID: random qualifier type */
	buf[13] = 1;
	memcpy(buf + ISCSI_BHS_LEN, text, (size_t)n);
	return len;
}

/* The initiator's end of a socketpair whose other end the transport
 * adopts as an accepted connection (iscsi_tcp_adopt): the same reader,
 * writev and close path as over TCP, without the TCP stack and without
 * a listener, connect and accept per input. */
static int connect_client(struct event_loop *loop)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	if (!iscsi_tcp_adopt(loop, sv[1])) {
		fprintf(stderr, "fuzz_session: the transport refused the connection\n");
		abort();
	}
	return sv[0];
}

/* Read and drop what the target sent; false once it closed. */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_gw *g = fuzz_gw_get();
	struct event_loop *loop = g->loop;
	uint8_t login[ISCSI_BHS_LEN + 1024];
	size_t login_len, sent = 0, total;
	uint8_t *stream;
	bool open = true, shut = false;
	int fd, rounds;

	if (size < 1 || size > (1u << 20))
		return 0;
	login_len = login_request(data[0], login, sizeof(login));
	total = login_len + size - 1;
	stream = malloc(total);
	if (!stream)
		return 0;
	memcpy(stream, login, login_len);
	memcpy(stream + login_len, data + 1, size - 1);

	fuzz_gw_start(g, 2);
	fd = connect_client(loop);
	/* Feed the stream as the socket takes it; the target's answers are
	 * read so that it never stalls on a full socket. Then half-close:
	 * the target must close its side. Bounded: a session that never
	 * ends is a bug (timers run: a paced SANITIZE completes). */
	for (rounds = 0; open && rounds < 20000; rounds++) {
		if (sent < total) {
			ssize_t n = send(fd, stream + sent, total - sent, MSG_DONTWAIT | MSG_NOSIGNAL);

			if (n > 0)
				sent += (size_t)n;
			else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				sent = total;   /* the target closed: stop sending */
		} else if (!shut) {
			shutdown(fd, SHUT_WR);
			shut = true;
		}
		event_loop_run_once(loop, sent < total ? 0 : 10);
		open = drain_client(fd);
	}
	close(fd);
	/* The input is over when nothing of it is left to run: a closed
	 * connection is freed only once its last TMF has answered, and a
	 * TMF polls for its aborted tasks on a 1 ms timer (gateway/scsi/
	 * tmf.c). Left armed, that timer fired in a later input, which then
	 * freed this input's connection: inputs depended on each other and
	 * ended with more mallocs than frees, so libFuzzer's leak check ran
	 * twice and, after 1000 such inputs, switched itself off. */
	for (rounds = 0; rounds < 2000 && (!TAILQ_EMPTY(&iscsi_conns) || event_loop_has_timers(loop) ||
					    event_loop_has_deferred(loop)); rounds++)
		event_loop_run_once(loop, 10);
	if (open || !TAILQ_EMPTY(&iscsi_conns) || !TAILQ_EMPTY(&iscsi_sessions) ||
	    event_loop_has_timers(loop)) {
		fprintf(stderr, "fuzz_session: the session did not end after the initiator left\n");
		abort();
	}
	fuzz_gw_stop(g);
	free(stream);
	return 0;
}
