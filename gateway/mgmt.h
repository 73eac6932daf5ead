/* The management API (docs/management-api.md): newline-delimited JSON over
 * a unix stream socket, one request object per line, one response object
 * per line, in order. Only root (and the daemon's own user) may connect,
 * and the members of gw->mgmt_group when set (SO_PEERCRED, SO_PEERGROUPS);
 * every change request is logged with the peer's uid, name and pid. Read-only requests are answered at once; changes are
 * validated with config_prepare_request(), submitted as SOP_CONFIG
 * operations through the cluster service, and answered from the done
 * callback once applied on this node. Runs on gw->loop. */
#ifndef SANGW_MGMT_H
#define SANGW_MGMT_H

#include <stddef.h>
#include <sys/types.h>

#include "model.h"

#define MGMT_DEFAULT_SOCKET  "/run/sangw/sangwd.sock"
#define MGMT_API_VERSION     1
#define MGMT_MAX_LINE        (16u << 20)    /* a longer request line closes the client; as
					     * large as a configuration file (CONFIG_MAX_FILE_SIZE),
					     * so that any configuration can be imported */
#define MGMT_MAX_OUTPUT      (64u << 20)    /* a client that never reads is closed */
#define MGMT_MAX_CLIENTS     64

struct mgmt_server;

/* Listen on path (its directory is created, the socket is mode 0600, or
 * 0660 owned by gw->mgmt_group when set; a stale socket left by a dead
 * daemon is replaced, a live one is not). */
struct mgmt_server *mgmt_server_create(struct gateway *gw, const char *path,
				       char *err, size_t errlen);
/* Close every client (answers still pending are dropped) and remove the
 * socket file. */
void mgmt_server_destroy(struct mgmt_server *srv);

/* For main(): the process's management server on gw->mgmt_socket (set to
 * MGMT_DEFAULT_SOCKET when empty). Returns 0 or -errno with a message. */
int mgmt_start(struct gateway *gw, char *err, size_t errlen);
/* The group --mgmt-group names (a name or a number): 0 and *gid (gid may
 * be NULL: only check), or -ENOENT with a message. */
int mgmt_group_id(const char *name, gid_t *gid, char *err, size_t errlen);
void mgmt_stop(struct gateway *gw);

/* This node's I_T nexuses and per-LU statistics, as the sessions and
 * stats requests answer them (cluster_status.c asks them of every node). */
struct json_object;
struct json_object *mgmt_sessions_json(struct gateway *gw);
struct json_object *mgmt_stats_json(struct gateway *gw);

#endif
