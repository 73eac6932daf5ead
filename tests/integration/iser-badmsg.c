/* iser-badmsg ADDR PORT CASE: an RDMA CM initiator that connects to an
 * iSER portal and sends one bad message, then waits for the target to
 * drop the connection (RFC 7145: a malformed iSER message is a protocol
 * error of that connection). Exit 0 when the connection was dropped
 * within 15 s, 1 otherwise (or on a setup error), 2 on bad usage.
 * CASE:
 *   short      10 bytes: less than the iSER header
 *   opcode     an iSER header with opcode 4 (not defined), then a BHS
 *   reserved   a control-type header with reserved bits set
 *   truncated  a BHS announcing 4096 bytes of data in a 76-byte message
 *   notlogin   a well-formed SCSI Command PDU before any login
 * Used by tests/guest/iser-smoke-guest.sh (needs an RDMA device). */
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

static struct rdma_event_channel *ch;

static int wait_event(enum rdma_cm_event_type want, int timeout_ms)
{
	struct rdma_cm_event *ev;
	struct pollfd pfd = { .fd = ch->fd, .events = POLLIN };

	for (;;) {
		int type;
		if (poll(&pfd, 1, timeout_ms) <= 0)
			return -1;
		if (rdma_get_cm_event(ch, &ev))
			return -1;
		type = ev->event;
		rdma_ack_cm_event(ev);
		if (type == (int)want)
			return 0;
		if (type == RDMA_CM_EVENT_DISCONNECTED || type == RDMA_CM_EVENT_REJECTED ||
		    type == RDMA_CM_EVENT_CONNECT_ERROR || type == RDMA_CM_EVENT_UNREACHABLE ||
		    type == RDMA_CM_EVENT_ADDR_ERROR || type == RDMA_CM_EVENT_ROUTE_ERROR) {
			/* (ev is acknowledged, i.e. freed, by now) */
			fprintf(stderr, "iser-badmsg: %s\n", rdma_event_str((enum rdma_cm_event_type)type));
			return -2;
		}
	}
}

int main(int argc, char **argv)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	struct rdma_cm_id *id;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
	struct ibv_mr *mr;
	struct ibv_qp_init_attr qa;
	struct rdma_conn_param cp;
	struct ibv_sge sge;
	struct ibv_send_wr swr, *sbad;
	struct ibv_recv_wr rwr, *rbad;
	uint8_t priv[4] = { 0xc0, 0, 0, 0 };
	static uint8_t buf[16384];
	uint8_t *msg = buf;
	uint32_t len = 0;
	const char *c;
	int rc;

	if (argc != 4) {
		fprintf(stderr, "usage: iser-badmsg ADDR PORT short|opcode|reserved|truncated|notlogin\n");
		return 2;
	}
	c = argv[3];
	memset(msg, 0, 128);
	msg[0] = 0x10;                          /* control-type PDU, no STags */
	msg[28] = 0x01 | 0x40;                  /* SCSI Command, immediate */
	msg[28 + 1] = 0x80;                     /* F */
	msg[28 + 32] = 0x00;                    /* TEST UNIT READY */
	len = 28 + 48;
	if (!strcmp(c, "short"))
		len = 10;
	else if (!strcmp(c, "opcode"))
		msg[0] = 0x40;
	else if (!strcmp(c, "reserved"))
		msg[0] = 0x13;
	else if (!strcmp(c, "truncated"))
		msg[28 + 6] = 0x10;             /* DataSegmentLength 4096 */
	else if (strcmp(c, "notlogin") != 0) {
		fprintf(stderr, "iser-badmsg: unknown case %s\n", c);
		return 2;
	}

	if (getaddrinfo(argv[1], argv[2], &hints, &ai)) {
		fprintf(stderr, "iser-badmsg: bad address\n");
		return 2;
	}
	ch = rdma_create_event_channel();
	if (!ch || rdma_create_id(ch, &id, NULL, RDMA_PS_TCP) ||
	    rdma_resolve_addr(id, NULL, ai->ai_addr, 2000) ||
	    wait_event(RDMA_CM_EVENT_ADDR_RESOLVED, 5000) || rdma_resolve_route(id, 2000) ||
	    wait_event(RDMA_CM_EVENT_ROUTE_RESOLVED, 5000)) {
		fprintf(stderr, "iser-badmsg: cannot resolve %s\n", argv[1]);
		return 1;
	}
	pd = ibv_alloc_pd(id->verbs);
	cq = pd ? ibv_create_cq(id->verbs, 16, NULL, NULL, 0) : NULL;
	memset(&qa, 0, sizeof(qa));
	qa.send_cq = qa.recv_cq = cq;
	qa.qp_type = IBV_QPT_RC;
	qa.cap.max_send_wr = qa.cap.max_recv_wr = 4;
	qa.cap.max_send_sge = qa.cap.max_recv_sge = 1;
	mr = cq ? ibv_reg_mr(pd, buf, sizeof(buf), IBV_ACCESS_LOCAL_WRITE) : NULL;
	if (!mr || rdma_create_qp(id, pd, &qa)) {
		fprintf(stderr, "iser-badmsg: cannot set up the QP\n");
		return 1;
	}
	sge = (struct ibv_sge){ .addr = (uintptr_t)(buf + 8192), .length = 8192, .lkey = mr->lkey };
	rwr = (struct ibv_recv_wr){ .sg_list = &sge, .num_sge = 1 };
	if (ibv_post_recv(id->qp, &rwr, &rbad)) {
		fprintf(stderr, "iser-badmsg: cannot post a receive\n");
		return 1;
	}
	memset(&cp, 0, sizeof(cp));
	cp.private_data = priv;
	cp.private_data_len = sizeof(priv);
	cp.initiator_depth = cp.responder_resources = 1;
	cp.retry_count = 7;
	cp.rnr_retry_count = 7;
	if (rdma_connect(id, &cp) || wait_event(RDMA_CM_EVENT_ESTABLISHED, 10000)) {
		fprintf(stderr, "iser-badmsg: cannot connect\n");
		return 1;
	}
	struct ibv_sge ssge = { .addr = (uintptr_t)msg, .length = len, .lkey = mr->lkey };
	swr = (struct ibv_send_wr){ .sg_list = &ssge, .num_sge = 1, .opcode = IBV_WR_SEND,
				    .send_flags = IBV_SEND_SIGNALED };
	if (ibv_post_send(id->qp, &swr, &sbad)) {
		fprintf(stderr, "iser-badmsg: cannot send\n");
		return 1;
	}
	/* The target must drop the connection: DISCONNECTED. */
	rc = wait_event(RDMA_CM_EVENT_DISCONNECTED, 15000);
	if (rc == 0 || rc == -2)
		printf("iser-badmsg %s: dropped\n", c);
	else
		printf("iser-badmsg %s: still connected after 15 s\n", c);
	rdma_disconnect(id);
	rdma_destroy_qp(id);
	ibv_dereg_mr(mr);
	ibv_destroy_cq(cq);
	ibv_dealloc_pd(pd);
	rdma_destroy_id(id);
	rdma_destroy_event_channel(ch);
	freeaddrinfo(ai);
	return rc == 0 || rc == -2 ? 0 : 1;
}
