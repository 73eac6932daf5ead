/* The iSCSI transport seam: one iSCSI layer over several transports.
 *
 * The iSCSI layer (conn.c: login glue, PDU dispatch, NOP, logout, Reject;
 * login.c, params.c: negotiation; session.c: sessions and CmdSN;
 * scsi_task.c: SCSI tasks, Data-Out bookkeeping, TMFs; discovery.c) is the
 * same for every transport. A transport moves whole PDUs and a task's data
 * and nothing else; it never parses iSCSI beyond framing. The split is the
 * datamover interface of RFC 5047 (DA), which is also how RFC 7145 (iSER)
 * is written:
 *
 *   RFC 5047 operation            here
 *   Send_Control                  send_pdu
 *   Control_Notify                conn_receive_pdu()      (transport -> iSCSI)
 *   Put_Data                      put_data                (Data-In)
 *   Get_Data                      get_data                (R2T)
 *   Data_Completion_Notify        task_data_out_placed()  (transport -> iSCSI)
 *   Allocate/Deallocate_Task_...  task_alloc / task_free
 *   Notice_Key_Values             login_key / login_declare
 *   Enable_Datamover              full_feature
 *   Connection_Terminate(_Notify) conn_close / conn_close()
 *
 * Receiving: TCP pulls bytes from a stream and assembles PDUs (pdu.c);
 * RDMA pushes whole PDUs on receive completions. Either way the transport
 * hands the iSCSI layer a complete PDU (BHS + AHS + data segment, digests
 * already checked) with conn_receive_pdu(), on the connection's loop. A
 * transport that can place a data segment itself asks conn_rx_data_dest()
 * first (TCP reads Data-Out payloads straight into the command's buffer).
 *
 * Sending: the iSCSI layer builds the BHS (and data pointer) of a struct
 * tx_pdu and queues it with conn_queue_pdu(), which calls send_pdu. A
 * transport sends what was queued during one batch of events together
 * (TCP: one writev, design.md principle 2; iSER: one chain of work
 * requests posted at once) and keeps the order of queueing: a PDU queued
 * after put_data leaves after that data (iSER: the SCSI Response's send is
 * chained after the RDMA WRITEs of its Data-In, RFC 7145 7.3.5).
 *
 * Data: a read's data goes out through put_data (TCP: Data-In PDUs, RFC
 * 7143 11.7; iSER: RDMA WRITE into the initiator's buffer, RFC 7145
 * 7.3.5). A write's data beyond immediate and unsolicited data is asked
 * for one burst at a time through get_data (TCP: an R2T, RFC 7143 11.8,
 * answered by Data-Out PDUs that come back through conn_receive_pdu();
 * iSER: RDMA READ of that burst, RFC 7145 7.3.6, then
 * task_data_out_placed()). The iSCSI layer keeps the sequence state (TTT,
 * R2TSN, offsets, DataSN) either way.
 *
 * Threads: a connection logs in on the control thread and is then moved
 * to its session's worker (conn_move); every op below runs on the thread
 * that holds the connection's loop (conn->loop). Listeners live on the
 * control thread.
 *
 * Portals name their transport (struct portal.transport, gateway/model.h);
 * iscsi_transport_get() finds its implementation. TCP (transport_tcp.c) is
 * the only one built today; fabric/iser/ will provide iser_transport. */
#ifndef SANGW_ISCSI_TRANSPORT_H
#define SANGW_ISCSI_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../gateway/model.h"
#include "params.h"
#include "text_keys.h"

struct event_loop;
struct iscsi_conn;
struct iscsi_listener;
struct iscsi_task;
struct tx_pdu;

struct iscsi_transport {
	const char *name;                 /* "tcp", "iser": logs and errors */
	enum portal_transport kind;

	/* --- portals (control thread) ----------------------------------- */
	/* Start accepting connections on addr:port. Accepted connections are
	 * set up with conn_init() on loop, which then drives their login.
	 * Returns the listener or NULL with err set. */
	struct iscsi_listener *(*listen)(struct event_loop *loop, const char *addr, uint16_t port,
					 char *err, size_t errlen);
	void (*unlisten)(struct event_loop *loop, struct iscsi_listener *l);

	/* --- connections -------------------------------------------------- */
	/* The connection now belongs to loop `to` (its session's worker):
	 * move the transport's event sources and deferred calls there (iSER:
	 * the CQ's completion channel). The control thread calls this with
	 * the world stopped; conn->loop is already `to`. */
	void (*conn_move)(struct iscsi_conn *conn, struct event_loop *from, struct event_loop *to);
	/* Enable_Datamover (RFC 5047; RFC 7145 section 5): the final Login
	 * Response has been queued with conn_queue_pdu() in login mode;
	 * every PDU after it uses what was negotiated (conn->sess->params:
	 * TCP turns on digests and the negotiated MaxRecvDataSegmentLength;
	 * iSER switches to its full-feature buffers). An iSER transport posts
	 * its full-feature receives before this returns, so they are in place
	 * before the Login Response can reach the initiator. */
	void (*full_feature)(struct iscsi_conn *conn);
	/* The connection is to be closed (posted to the control thread):
	 * deliver no more PDUs. */
	void (*quiesce)(struct iscsi_conn *conn);
	/* Close now: stop all I/O, drop unsent PDUs (release_tx_pdu()), give
	 * the connection's transport resources back. conn stays allocated
	 * until conn_free. */
	void (*conn_close)(struct iscsi_conn *conn);
	/* The last reference is gone: free what the transport allocated for
	 * the connection, conn included. */
	void (*conn_free)(struct iscsi_conn *conn);

	/* --- PDUs ----------------------------------------------------------- */
	/* Send_Control: queue pdu (BHS in pdu->hdr, data segment
	 * pdu->data/data_len, DataSegmentLength already set) behind what is
	 * queued; it leaves with the rest of this batch of events. When sent,
	 * release_tx_pdu() it; if pdu->close_after, then conn_close(). Never
	 * called once the connection is closed. */
	void (*send_pdu)(struct iscsi_conn *conn, struct tx_pdu *pdu);

	/* --- a task's data --------------------------------------------------- */
	/* Put_Data: send the first len bytes of task->cmd.buf to the initiator
	 * as the command's read data. with_status: the command ends GOOD
	 * without sense, so its status may go with the data (RFC 7143 11.7.4
	 * phase collapse). Count the Data-In PDUs in task->data_in_pdus (the
	 * SCSI Response's ExpDataSN, 11.4.6). Hold a task reference (task_get)
	 * for as long as the buffer is in use. Returns true when the status
	 * went with the data (no SCSI Response follows: the task is done),
	 * false when the iSCSI layer must send one. iSER never collapses
	 * (RFC 7145 7.3.5): it returns false and the Response is chained
	 * after its RDMA WRITEs. */
	bool (*put_data)(struct iscsi_task *task, uint32_t len, bool with_status);
	/* Get_Data: fetch the next burst of a write's Data-Out, the bytes
	 * [offset, offset + len) of task->cmd.buf, as one R2T would (RFC 7143
	 * 11.8: Target Transfer Tag task->ttt, R2TSN task->r2t_sn).
	 * TCP sends that R2T; the Data-Out PDUs come back through
	 * conn_receive_pdu(). iSER posts RDMA READs from the initiator's
	 * buffer (never more outstanding than negotiated) and calls
	 * task_data_out_placed(task, len) when they complete. */
	void (*get_data)(struct iscsi_task *task, uint32_t offset, uint32_t len);

	/* --- tasks ------------------------------------------------------------ */
	/* Allocate_Task_Resources: a zeroed struct iscsi_task, possibly
	 * embedded in the transport's own (iSER: the initiator's STags from
	 * the iSER header, work request contexts), from a per-thread pool.
	 * task_free may run on another thread than task_alloc did. */
	struct iscsi_task *(*task_alloc)(struct iscsi_conn *conn);
	void (*task_free)(struct iscsi_task *task);
	/* The calling thread ends: free its pools. */
	void (*thread_trim)(void);

	/* --- login: Notice_Key_Values (both optional; TCP sets neither) --------- */
	/* Negotiate an operational key the transport owns before params.c
	 * sees it (RFC 7145 section 6: RDMAExtensions,
	 * InitiatorRecvDataSegmentLength, TargetRecvDataSegmentLength,
	 * MaxOutstandingUnexpectedPDUs; and HeaderDigest/DataDigest, which
	 * iSER answers None). Append the answer to rsp and update params.
	 * Returns 0 when the key is not the transport's (params.c negotiates
	 * it), 1 when it was handled, or -1 with *status set to fail the
	 * login. */
	int (*login_key)(struct iscsi_conn *conn, struct iscsi_session_params *params,
			 const char *key, const char *value, struct text_kv_list *rsp,
			 uint16_t *status);
	/* Declare the transport's own receive limit in place of
	 * MaxRecvDataSegmentLength (iSER: TargetRecvDataSegmentLength, RFC
	 * 7145 section 6): append it to rsp, set *recv_dsl and return true; false
	 * leaves the RFC 7143 declaration (13.12). Called once per login. */
	bool (*login_declare)(struct iscsi_conn *conn, const struct iscsi_session_params *params,
			      const struct target_params *offer, struct text_kv_list *rsp,
			      uint32_t *recv_dsl);
};

/* The implementation for a portal's transport, or NULL when this build
 * has none (e.g. iSER without librdmacm). */
const struct iscsi_transport *iscsi_transport_get(enum portal_transport kind);

extern const struct iscsi_transport iscsi_tcp_transport;
/* A connection on a stream socket that is already connected, set up as
 * an accepted one (its login starts). tests/fuzz/fuzz_session.c hands it
 * one end of a socketpair: the whole transport without the TCP stack.
 * NULL (fd left open) when out of memory or past --max-connections. */
struct iscsi_conn *iscsi_tcp_adopt(struct event_loop *loop, int fd);

#endif
