/* sangw-bench's libiscsi engine: libiscsi's asynchronous API behind the
 * engine seam (bench_engine.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#include "bench_engine.h"

struct bench_conn {
	struct iscsi_context *iscsi;
	int lun;
};

/* One command in flight: libiscsi keeps a pointer to the iovec. */
struct libiscsi_command {
	struct scsi_iovec iov;
	bench_done_fn *done;
	void *private_data;
};

static const char *libiscsi_unsupported(const struct bench_connect_params *p)
{
	(void)p;
	return NULL;
}

static struct bench_conn *libiscsi_connect(const struct bench_connect_params *p)
{
	struct bench_conn *c = calloc(1, sizeof(*c));
	struct iscsi_context *iscsi;
	struct iscsi_url *url;
	int fd;

	if (c == NULL || (iscsi = iscsi_create_context(p->initiator)) == NULL) {
		fprintf(stderr, "sangw-bench: cannot create an iSCSI context\n");
		free(c);
		return NULL;
	}
	c->iscsi = iscsi;
	url = iscsi_parse_full_url(iscsi, p->url);
	if (url == NULL) {
		fprintf(stderr, "sangw-bench: bad URL %s: %s\n", p->shown_url, iscsi_get_error(iscsi));
		goto fail;
	}
	/* RFC 7143 4.4.1: sessions of one initiator differ by their ISID; the
	 * same ISID would make the target reinstate (end) the other session. */
	iscsi_set_isid_random(iscsi, p->isid_random, p->index);
	iscsi_set_targetname(iscsi, url->target);
	iscsi_set_session_type(iscsi, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(iscsi, p->header_digest ? ISCSI_HEADER_DIGEST_CRC32C
						       : ISCSI_HEADER_DIGEST_NONE);
	iscsi_set_noautoreconnect(iscsi, 1);
	if (url->user[0] != '\0')
		iscsi_set_initiator_username_pwd(iscsi, url->user, url->passwd);
	if (url->target_user[0] != '\0')
		iscsi_set_target_username_pwd(iscsi, url->target_user, url->target_passwd);
	iscsi_set_timeout(iscsi, (int)p->io_timeout_s);
	/* libiscsi reports a refused connection as a failed reconnect; try
	 * the portal first to say plainly what is wrong. */
	if (p->probe_portal) {
		fd = bench_connect_portal(url->portal);
		if (fd < 0) {
			iscsi_destroy_url(url);
			goto fail;
		}
		close(fd);
	}
	if (iscsi_full_connect_sync(iscsi, url->portal, url->lun) != 0) {
		fprintf(stderr, "sangw-bench: cannot log in to %s (session %u): %s\n", p->shown_url,
			p->index, iscsi_get_error(iscsi));
		iscsi_destroy_url(url);
		goto fail;
	}
	c->lun = url->lun;
	iscsi_destroy_url(url);
	return c;
fail:
	iscsi_destroy_context(iscsi);
	free(c);
	return NULL;
}

static int status_of(int status)
{
	switch (status) {
	case SCSI_STATUS_CANCELLED: return BENCH_STATUS_CANCELLED;
	case SCSI_STATUS_ERROR: return BENCH_STATUS_TRANSPORT;
	case SCSI_STATUS_TIMEOUT: return BENCH_STATUS_TIMEOUT;
	default: return status;
	}
}

static void libiscsi_command_done(struct iscsi_context *iscsi, int status, void *command_data,
				  void *private_data)
{
	struct scsi_task *task = command_data;
	struct libiscsi_command *cmd = private_data;
	struct bench_result r = { .status = status_of(status) };

	(void)iscsi;
	if (task != NULL) {
		if (status == SCSI_STATUS_CHECK_CONDITION) {
			r.sense_key = (uint8_t)task->sense.key;
			r.asc = (uint8_t)(task->sense.ascq >> 8);
			r.ascq = (uint8_t)task->sense.ascq;
		}
		r.residual_underflow = task->residual_status == SCSI_RESIDUAL_UNDERFLOW;
		r.residual_overflow = task->residual_status == SCSI_RESIDUAL_OVERFLOW;
		r.residual = (uint32_t)task->residual;
		scsi_free_scsi_task(task);
	}
	cmd->done(cmd->private_data, &r);
	free(cmd);
}

static bool libiscsi_submit(struct bench_conn *c, const uint8_t *cdb, unsigned cdb_len,
			    enum bench_dir dir, void *buf, uint32_t len,
			    bench_done_fn *done, void *private_data)
{
	struct libiscsi_command *cmd = calloc(1, sizeof(*cmd));
	struct scsi_task *task = calloc(1, sizeof(*task));   /* scsi_free_scsi_task frees it */

	if (cmd == NULL || task == NULL || cdb_len > sizeof(task->cdb)) {
		free(cmd);
		free(task);
		return false;
	}
	cmd->done = done;
	cmd->private_data = private_data;
	cmd->iov.iov_base = buf;
	cmd->iov.iov_len = len;
	memcpy(task->cdb, cdb, cdb_len);
	task->cdb_size = (int)cdb_len;
	task->expxferlen = (int)len;
	task->xfer_dir = dir == BENCH_DIR_READ ? SCSI_XFER_READ
		       : dir == BENCH_DIR_WRITE ? SCSI_XFER_WRITE : SCSI_XFER_NONE;
	if (dir == BENCH_DIR_READ)
		scsi_task_set_iov_in(task, &cmd->iov, 1);
	else if (dir == BENCH_DIR_WRITE)
		scsi_task_set_iov_out(task, &cmd->iov, 1);
	if (iscsi_scsi_command_async(c->iscsi, c->lun, task, libiscsi_command_done, NULL, cmd) != 0) {
		scsi_free_scsi_task(task);
		free(cmd);
		return false;
	}
	return true;
}

static int libiscsi_flush(struct bench_conn *c)
{
	(void)c;        /* libiscsi writes from iscsi_service on POLLOUT */
	return 0;
}

static int libiscsi_fd(struct bench_conn *c)
{
	return iscsi_get_fd(c->iscsi);
}

static short libiscsi_events(struct bench_conn *c)
{
	return (short)iscsi_which_events(c->iscsi);
}

static int libiscsi_service(struct bench_conn *c, short revents)
{
	return iscsi_service(c->iscsi, revents);
}

/* libiscsi expires timed-out commands only from iscsi_service. */
static void libiscsi_tick(struct bench_conn *c)
{
	iscsi_service(c->iscsi, 0);
}

static const char *libiscsi_error(struct bench_conn *c)
{
	return iscsi_get_error(c->iscsi);
}

static void libiscsi_logout(struct bench_conn *c)
{
	iscsi_logout_sync(c->iscsi);
}

/* Destroying the context cancels what it still holds: the callbacks run
 * with SCSI_STATUS_CANCELLED and free their commands. */
static void libiscsi_destroy(struct bench_conn *c)
{
	iscsi_destroy_context(c->iscsi);
	free(c);
}

const struct bench_engine_ops bench_libiscsi_engine = {
	.name = "libiscsi",
	.unsupported = libiscsi_unsupported,
	.connect = libiscsi_connect,
	.submit = libiscsi_submit,
	.flush = libiscsi_flush,
	.fd = libiscsi_fd,
	.events = libiscsi_events,
	.service = libiscsi_service,
	.tick = libiscsi_tick,
	.error = libiscsi_error,
	.logout = libiscsi_logout,
	.destroy = libiscsi_destroy,
};
