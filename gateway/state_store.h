/* The state store (issue 10, "State kept in RADOS"): the gateway's
 * persistent state is also kept outside the nodes, so a whole-cluster
 * restart, or a node rebuilt with an empty --state-dir, gets it back.
 *
 * What is stored is what every node keeps on disk and no more: the
 * configuration as the --config file holds it, without "portals" (where a
 * node listens is that node's business), the APTPL files under
 * STATE_DIR/pr (pr.c's "sangw-pr" documents, by file name), and the
 * cluster state version they correspond to (state_snapshot.h). One JSON
 * document:
 *   {"format":"sangw-stored-state","version":1,"state_version":N,
 *    "config":{...},                  absent when the node has no --config
 *    "aptpl":{"FILE.json":{...},...}}
 *
 * Writes. After every applied operation that changed the persistent state
 * (state_snapshot_save_version), every node queues the document at the
 * cluster's state version; the store writes it only if its version is
 * newer than the stored one (compare-and-set), so the stored version never
 * goes backwards and of nodes racing, the newest wins. Writing never blocks
 * the caller; queued documents coalesce (only the newest is written).
 *
 * Recovery. At start, before the configuration loads: the newest of the
 * local state (the version file, --config, the APTPL files) and the stored
 * one wins (state_store_remote_wins). When the stored one wins, it is
 * written over the local files (the configuration keeps the local file's
 * portals), and the node then starts from those files as from its own, so
 * it offers that version in the cluster's election. An unreadable or
 * malformed stored document is said in the log and the local state kept.
 *
 * The store is found by kind in one table (state_store.c); the core never
 * includes a store's own header. */
#ifndef SANGW_STATE_STORE_H
#define SANGW_STATE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

struct json_object;

#define STATE_STORE_FORMAT  "sangw-stored-state"
#define STATE_STORE_VERSION 1
/* Upper bound of a stored document (config file limit plus APTPL). */
#define STATE_STORE_MAX_BYTES (64u << 20)

/* A store's status, for the management API. */
struct state_store_status {
	char where[512];             /* e.g. "rados:rbd/sangw.state" */
	uint64_t version_queued;     /* newest version handed to the store */
	uint64_t version_written;    /* newest version this node wrote */
	uint64_t version_stored;     /* newest version seen in the store */
	uint64_t writes, refused;    /* written / refused as not newer */
	char last_error[256];        /* empty: the last write (or read) worked */
};

struct state_store_ops {
	const char *kind;            /* "rados": --state-store rados:... */
	/* The option's text after "KIND:"; checked and kept, no I/O. */
	int (*configure)(const char *spec, char *err, size_t errlen);
	/* Start-up only, before the event loop: the stored document
	 * (malloc'd), waiting at most the store's timeout. -ENOENT: nothing
	 * stored yet. */
	int (*read)(char **text, size_t *len, char *err, size_t errlen);
	/* Queue text (now the store's) for writing at version, if newer than
	 * what is stored. Never blocks. */
	void (*write)(char *text, size_t len, uint64_t version);
	void (*status)(struct state_store_status *st);
	/* sangwd's exit: finish the queued write, release the connection. */
	void (*shutdown)(void);
};

/* --state-store KIND:SPEC. Returns 0 or -errno with a message. */
int state_store_configure(const char *option, char *err, size_t errlen);
bool state_store_enabled(void);

/* --- pure logic (unit tested) ------------------------------------------- */

/* A stored document, checked. root holds the references. */
struct stored_state {
	struct json_object *root;
	uint64_t state_version;
	struct json_object *config;  /* NULL: none stored */
	struct json_object *aptpl;   /* object: file name -> sangw-pr document */
};

/* Parse and check text; 0, or -EINVAL with a message in err. Free with
 * stored_state_free(). */
int stored_state_parse(const char *text, size_t len, struct stored_state *out, char *err,
		       size_t errlen);
void stored_state_free(struct stored_state *s);
/* Is name a file name an APTPL file may have (no path, ends in .json)? */
bool stored_state_aptpl_name_ok(const char *name);
/* Does the stored state replace the local one? local_saved and
 * local_version as state_snapshot_saved_state() reports them. */
bool state_store_remote_wins(bool local_saved, uint64_t local_version, uint64_t remote_version);
/* The document for gw's persistent state at version (malloc'd text). */
char *state_store_document(struct gateway *gw, uint64_t version, size_t *len);

/* --- the daemon's use ------------------------------------------------------ */

/* Start-up, after the cluster service started and gw->config_path and
 * gw->state_dir are set, before the configuration loads (blocking, at
 * most the store's timeout). Never fails the start: problems are logged
 * and the local state kept. */
void state_store_recover(struct gateway *gw);
/* Start-up, once the model is built: if the local state was newer than
 * the stored one, store it. */
void state_store_started(struct gateway *gw);
/* The persistent state changed and now corresponds to version: queue it. */
void state_store_publish(struct gateway *gw, uint64_t version);
/* The management API's "version" answer: {"state_store":{...}}. */
void state_store_status_json(struct json_object *out);
void state_store_shutdown(void);

#endif
