/* The declarative configuration (docs/configuration.md): a JSON document
 * holding portals, discovery CHAP, targets with their parameters, LUs and
 * ACLs. gateway/config*.c validate it (every error names the JSON path of
 * the bad field), build the model from it at startup, write the model back
 * after every applied change, and turn a reload into the minimal set of
 * changes (config.c lists the pieces; config_internal.h is what they share).
 *
 * Every change after startup is a management request (JSON, see
 * docs/management-api.md) travelling as a SOP_CONFIG operation through the
 * cluster service: the origin validates it with config_prepare_request(),
 * submits it, and every node applies it with config_apply() in delivery
 * order. A reload is the request {"request":"config_replace","config":DOC}
 * carrying the file's content, so every node diffs the same document.
 *
 * Ownership: config_*.c allocate struct portal and struct acl with calloc();
 * targets and LUs come from model.c (target_create, lu_create). Everything
 * runs on the main event loop thread. */
#ifndef SANGW_CONFIG_H
#define SANGW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../cluster/cluster.h"
#include "model.h"

struct json_object;

#define CONFIG_DEFAULT_PORT    3260        /* iSCSI well-known port (RFC 7143 13.x/IANA) */
#define CONFIG_MAX_FILE_SIZE   (16u << 20)
#define CONFIG_CHAP_SECRET_MIN 12          /* RFC 7143 9.2.1: 96 bits without IPsec */

/* --- startup and shutdown --------------------------------------------- */

/* Read the configuration file at path and build the model in gw, whose
 * lists must be initialised (and hold no targets). Records path in
 * gw->config_path so that later changes are written back to it. A file
 * that does not exist yet is an empty configuration (it is created on the
 * first change). Returns 0, or -errno with a message in err (the file's
 * JSON path of the offending field, or the LU that could not be opened);
 * on failure gw may hold part of the configuration: config_model_clear(). */
int config_load(struct gateway *gw, const char *path, char *err, size_t errlen);
/* The same from JSON text, without touching gw->config_path. */
int config_load_text(struct gateway *gw, const char *text, size_t len, char *err, size_t errlen);
/* Destroy every target (with its LUs and ACLs) and portal of gw. */
void config_model_clear(struct gateway *gw);

/* --- persistence --------------------------------------------------------- */

enum config_dump_flags {
	CONFIG_DUMP_SECRETS = 1 << 0,  /* CHAP secrets (the file); else only "set" */
	CONFIG_DUMP_RUNTIME = 1 << 1,  /* effective values, LU identity, sizes, counts */
	CONFIG_DUMP_CLUSTER = 1 << 2,  /* the cluster-wide part: no portals (per node),
					* "discovery" always, targets and ACLs sorted by
					* name: equal configurations give equal text */
};
/* The model as a JSON object (caller puts it). With CONFIG_DUMP_SECRETS and
 * without CONFIG_DUMP_RUNTIME it is exactly the configuration file format. */
struct json_object *config_dump(struct gateway *gw, unsigned flags);
/* The configuration file text (pretty JSON, secrets included), malloc'd. */
char *config_serialize(struct gateway *gw);
/* Write the model to gw->config_path atomically, mode 0600 (CHAP secrets).
 * No-op (0) when no configuration file is in use. */
int config_save(struct gateway *gw, char *err, size_t errlen);

/* --- export and import (the "export" and "import" requests) ------------ */

/* The cluster-wide configuration: the document config_replace takes, CHAP
 * secrets included (a backup), portals left out (each node has its own),
 * in canonical order. The caller puts it. */
struct json_object *config_export(struct gateway *gw);
/* Origin side of {"request": "import", "config": DOC, "dry_run": BOOL}:
 * validate DOC as a whole and compute what it changes here. *answer gets
 * the response members ("dry_run", "diff": [{"action", "path", "what"}],
 * "summary": {"add", "change", "remove"}); *submit gets the
 * config_replace request that makes the change on every node, or NULL
 * (dry run, or nothing differs). Returns 0, or -errno with a message
 * naming the document's JSON path (nothing is changed). */
int config_import_prepare(struct gateway *gw, struct json_object *req,
			  struct json_object **answer, struct json_object **submit,
			  char *err, size_t errlen);

/* --- reload (SIGHUP and the "reload" request) -------------------------- */

/* Read gw->config_path, validate it, and submit it as a config_replace
 * operation; done(ctx, result) follows once it has been applied here.
 * Returns 0 when submitted, or -errno with a message (nothing submitted:
 * no config file, unreadable or invalid file, cluster not ready). */
int config_reload_submit(struct gateway *gw, cluster_done_fn done, void *ctx,
			 char *err, size_t errlen);
/* SIGHUP (from the loop, not the signal handler): config_reload_submit()
 * whose outcome is logged when applied. Returns 0 when submitted, or
 * -errno with a message (the running configuration is kept). */
int config_reload(struct gateway *gw, char *err, size_t errlen);

/* --- changes: SOP_CONFIG ------------------------------------------------- */

/* Is name a request that changes the configuration (goes through
 * SOP_CONFIG)? "list", "sessions", "stats", "version", "reload" are not. */
bool config_is_change_request(const char *name);
/* Origin side, before cluster_submit(): validate a change request against
 * the current model and complete it in place (e.g. lun_add without "lun"
 * gets the lowest free LUN) so that every node applies the same thing.
 * Returns 0 or -errno with a message naming the field. */
int config_prepare_request(struct gateway *gw, struct json_object *req, char *err, size_t errlen);
/* Apply a change request (JSON text, not necessarily NUL-terminated) on
 * this node: validate again, edit the model, raise unit attentions for
 * local nexuses, bump gw->config_version and save the file. */
int config_apply_request(struct gateway *gw, const char *text, size_t len, char *err, size_t errlen);
/* Portals are per node (each node listens on its own addresses), so
 * portal_add / portal_del never go through SOP_CONFIG: mgmt.c applies them
 * with config_apply_local_request(), which saves the file but leaves
 * gw->config_version (the replicated version) alone. A reload applies the
 * file's portals locally and replicates the rest. */
bool config_is_node_local_request(const char *name);
int config_apply_local_request(struct gateway *gw, struct json_object *req, char *err,
			       size_t errlen);
/* shared_state.c calls this for SOP_CONFIG: config_apply_request() with
 * the message logged. Returns 0 or -errno. */
int config_apply(struct gateway *gw, const void *payload, uint32_t len);

/* --- validation helpers (also used by mgmt.c) ------------------------- */

/* Strict JSON text (not necessarily NUL-terminated) into an object; NULL
 * with a message in err (the offset of the error) when it is not exactly
 * one JSON value. Used by state_snapshot.c as well. */
struct json_object *config_json_parse(const char *text, size_t len, char *err, size_t errlen);

/* RFC 7143 4.2.7: "iqn.yyyy-mm.reversed.domain[:anything]", "eui." + 16
 * hex digits, "naa." + 16 or 32 hex digits; at most 223 bytes. */
bool config_iscsi_name_valid(const char *name, char *why, size_t whylen);
/* "ADDR[:PORT]" or "[IPV6][:PORT]" into a normalized address and port. */
int config_portal_parse(const char *text, char *addr, size_t addrlen, uint16_t *port,
			char *why, size_t whylen);
/* "ADDR:PORT", with brackets for IPv6. */
void config_portal_format(const char *addr, uint16_t port, char *buf, size_t len);
/* A portal as the configuration file, the management API and status
 * show it: "ADDR:PORT" for TCP (the form every earlier version wrote),
 * {"portal": "ADDR:PORT", "transport": "iser"} for another transport. */
struct json_object *config_portal_json(const struct portal *p);
/* The --lun SPEC form of a spec: "file:/x.img,size=10G,thin=1". */
void config_lu_spec_format(const struct lu_spec *spec, char *buf, size_t len);

#endif
