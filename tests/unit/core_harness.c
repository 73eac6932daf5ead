#include "core_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../cluster/cluster.h"
#include "../../gateway/event_loop.h"
#include "../../gateway/scsi/sense.h"
#include "../../gateway/shared_state.h"
#include "../../gateway/state_snapshot.h"
#include "../../gateway/util.h"

struct harness_task {
	struct scsi_cmd cmd;
	bool done;
};

static void harness_cmd_done(struct scsi_cmd *cmd)
{
	struct harness_task *task = cmd->fabric_priv;

	task->done = true;
}

static void harness_tmf_done(struct tmf_req *req)
{
	(void)req;
}

static unsigned harness_transport_id(const struct it_nexus *nx, uint8_t *buf, unsigned len)
{
	/* SPC-4 7.6.4.6 iSCSI TransportID, format 01b: name,i,0x<isid> */
	unsigned n = (unsigned)strlen(nx->initiator_port) + 1;
	unsigned total = (4 + n + 3) & ~3u;

	if (len < total)
		return 0;
	memset(buf, 0, total);
	buf[0] = 0x40 | 0x05;
	put_be16(buf + 2, (uint16_t)(total - 4));
	memcpy(buf + 4, nx->initiator_port, n);
	return total;
}

static void harness_drop(struct it_nexus *nx)
{
	(void)nx;
}

static const struct fabric_ops harness_fabric = {
	.name = "harness",
	.cmd_done = harness_cmd_done,
	.tmf_done = harness_tmf_done,
	.transport_id = harness_transport_id,
	.drop = harness_drop,
};

/* The gateway's callbacks without membership: tests announce members
 * themselves (alua_set_members()), as corosync's first configuration
 * change would, instead of the single-node service's "node 1 alone". */
static const struct cluster_callbacks harness_cluster_cb = {
	.apply = shared_state_apply,
	.snapshot = state_snapshot_cluster_take,
	.restore = state_snapshot_cluster_restore,
	.quorum = shared_state_ready_changed,
	.saved_state = state_snapshot_saved_state,
};

void harness_init(struct harness *h)
{
	memset(h, 0, sizeof(*h));
	TAILQ_INIT(&h->gw.targets);
	TAILQ_INIT(&h->gw.portals);
	TAILQ_INIT(&h->gw.nexuses);
	h->gw.node_id = 1;
	h->gw.loop = event_loop_create();
	snprintf(h->dir, sizeof(h->dir), "/tmp/sangw-harness-XXXXXX");
	if (!mkdtemp(h->dir))
		abort();
	str_copy(h->gw.state_dir, h->dir, sizeof(h->gw.state_dir));
	h->gw.cluster = cluster_create("none", h->gw.loop, &harness_cluster_cb, &h->gw);
	h->gw.cluster->ops->start(h->gw.cluster);
	the_gateway = &h->gw;
	h->target = target_create(&h->gw, "iqn.2026-11.org.sangw:harness");
	h->target->demo_mode = true;
}

void harness_drain(struct harness *h)
{
	for (int i = 0; i < 1000; i++)
		event_loop_run_once(h->gw.loop, 0);
}

void harness_fini(struct harness *h)
{
	struct target *t;
	char cmd[300];

	harness_drain(h);
	while ((t = TAILQ_FIRST(&h->gw.targets)))
		target_destroy(t);
	cluster_destroy(h->gw.cluster);
	event_loop_destroy(h->gw.loop);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", h->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", h->dir);
	the_gateway = NULL;
}

struct lu *harness_add_lu(struct harness *h, uint64_t lun, const char *spec_text)
{
	char text[1024], err[256];
	struct lu_spec spec;
	struct lu *lu;

	if (strncmp(spec_text, "file:", 5) == 0)
		snprintf(text, sizeof(text), "file:%s/%s", h->dir, spec_text + 5);
	else
		snprintf(text, sizeof(text), "%s", spec_text);
	if (lu_spec_parse(text, &spec, err, sizeof(err)) < 0) {
		fprintf(stderr, "harness: %s\n", err);
		return NULL;
	}
	lu = lu_create(h->target, lun, &spec, err, sizeof(err));
	if (!lu)
		fprintf(stderr, "harness: %s\n", err);
	return lu;
}

struct it_nexus *harness_nexus(struct harness *h, const char *initiator, uint8_t isid)
{
	struct it_nexus *nx = calloc(1, sizeof(*nx));

	nx->id = ((uint64_t)h->gw.node_id << 40) | ++h->gw.next_nexus_seq;
	str_copy(nx->initiator_name, initiator, sizeof(nx->initiator_name));
	nx->isid[0] = 0x80;
	nx->isid[5] = isid;
	snprintf(nx->initiator_port, sizeof(nx->initiator_port), "%s,i,0x80000000%04x", initiator, isid);
	snprintf(nx->target_port, sizeof(nx->target_port), "%s,t,0x%04x", h->target->iqn,
		 h->target->tpgt);
	nx->rel_tgt_port_id = 1;
	nx->tpg_id = 1;
	nx->target = h->target;
	nx->acl = target_find_acl(h->target, initiator);
	nx->fabric = &harness_fabric;
	TAILQ_INIT(&nx->uas);
	TAILQ_INSERT_TAIL(&h->gw.nexuses, nx, link);
	scsi_nexus_register(nx);
	harness_drain(h);
	return nx;
}

void harness_nexus_free(struct harness *h, struct it_nexus *nx)
{
	scsi_nexus_unregister(nx);
	TAILQ_REMOVE(&h->gw.nexuses, nx, link);
	harness_drain(h);
	free(nx);
}

uint8_t harness_run(struct harness *h, struct it_nexus *nx, uint64_t lun, const uint8_t *cdb,
		    unsigned cdb_len, enum scsi_data_dir dir, const void *data_out,
		    uint32_t out_len, uint32_t edtl, struct harness_result *res)
{
	struct harness_task *task = calloc(1, sizeof(*task));
	struct scsi_cmd *cmd = &task->cmd;

	memset(res, 0, sizeof(*res));
	cmd->nexus = nx;
	cmd->lun = lun;
	memcpy(cmd->cdb, cdb, cdb_len);
	cmd->cdb_len = (uint8_t)cdb_len;
	cmd->task_attr = TASK_SIMPLE;
	cmd->tag = 0x1000;
	cmd->dir = dir;
	cmd->expected_len = edtl ? edtl : (dir == SCSI_DIR_OUT ? out_len : dir == SCSI_DIR_IN ? 65536 : 0);
	cmd->fabric_priv = task;
	if (dir == SCSI_DIR_OUT && out_len) {
		if (scsi_cmd_ensure_buf(cmd, out_len) < 0)
			abort();
		memcpy(cmd->buf, data_out, out_len);
		cmd->data_out_len = out_len;
	}
	scsi_cmd_submit(cmd);
	for (int i = 0; i < 100000 && !task->done; i++)
		event_loop_run_once(h->gw.loop, 10);
	if (!task->done) {
		fprintf(stderr, "harness: command 0x%02x never completed\n", cdb[0]);
		abort();
	}
	res->status = cmd->status;
	res->aborted = cmd->aborted;
	res->sense_len = cmd->sense_len;
	memcpy(res->sense, cmd->sense, cmd->sense_len);
	if (cmd->sense_len)
		sense_decode(cmd->sense, cmd->sense_len, &res->sense_key, &res->asc_ascq);
	res->transfer_len = cmd->transfer_len;
	if (cmd->data_in_len) {
		uint32_t n = MIN(cmd->data_in_len, cmd->expected_len);
		res->data = malloc(n ? n : 1);
		memcpy(res->data, cmd->buf, n);
		res->data_len = n;
	}
	scsi_cmd_free_buf(cmd);
	free(task);
	return res->status;
}

void harness_result_free(struct harness_result *res)
{
	free(res->data);
	res->data = NULL;
}
