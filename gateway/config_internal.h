/* What the pieces of the configuration share (gateway/config_*.c); the
 * rest of sangwd uses config.h only. Every function that takes err and
 * errlen returns 0 or -errno with a message there naming the JSON path of
 * the offending field, as cfg_failf() writes it. */
#ifndef SANGW_CONFIG_INTERNAL_H
#define SANGW_CONFIG_INTERNAL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "model.h"

#define JPATH_MAX        256     /* "targets[3].acls[12].lun_map[4].lun" */
#define DEFAULT_BLOCK    512

/* --- config_json.c: JSON values and paths ------------------------------- */

/* "PATH: message" (or just the message without a path) into err; returns code. */
__attribute__((format(printf, 5, 6)))
int cfg_failf(int code, char *err, size_t errlen, const char *path, const char *fmt, ...);
/* out = parent.key / parent[index] (JPATH_MAX bytes). */
void cfg_path_key(char *out, const char *parent, const char *key);
void cfg_path_index(char *out, const char *parent, unsigned index);
/* A value as JSON text for messages, cut short when long. */
const char *cfg_json_brief(json_object *v, char *buf, size_t len);
/* "a boolean", "an object", ... for messages. */
const char *cfg_json_type_text(json_object *v);
/* The member key of obj; NULL when absent or JSON null. */
json_object *cfg_member(json_object *obj, const char *key);
/* Unknown keys are errors: a typo must not silently mean "default". */
int cfg_check_keys(json_object *obj, const char *path, const char *const *allowed,
		   const char *const *also_allowed, char *err, size_t errlen);
int cfg_want_object(json_object *v, const char *path, char *err, size_t errlen);
int cfg_want_array(json_object *v, const char *path, char *err, size_t errlen);
/* A string of 1..size-1 bytes without control characters. */
int cfg_get_string(json_object *v, const char *path, char *out, size_t size,
		   char *err, size_t errlen);
/* A JSON boolean; with lenient_strings also "yes"/"no"/"on"/"off"/"1"/"0". */
int cfg_get_bool_ex(json_object *v, const char *path, bool lenient_strings, bool *out,
		    char *err, size_t errlen);
int cfg_get_bool(json_object *v, const char *path, bool *out, char *err, size_t errlen);
/* A non-negative integer in [min, max]; decimal strings are accepted too. */
int cfg_get_uint(json_object *v, const char *path, uint64_t min, uint64_t max,
		 uint64_t *out, char *err, size_t errlen);
/* Bytes: a number, or a string with a binary K/M/G/T suffix ("10G"). */
int cfg_get_size(json_object *v, const char *path, uint64_t *out, char *err, size_t errlen);
/* "10G" when exact, else the plain number (as JSON). */
json_object *cfg_size_to_json(uint64_t bytes);
/* Strict JSON text into an object (config_json_parse()). */
json_object *cfg_parse_json_text(const char *text, size_t len, char *err, size_t errlen);
/* A regular file of at most CONFIG_MAX_FILE_SIZE into a malloc'd,
 * NUL-terminated buffer. Returns 0 or -errno. */
int cfg_read_text_file(const char *path, char **text, size_t *len);

/* --- config_validate.c: single values ------------------------------------ */

int cfg_check_name(const char *name, const char *path, char *err, size_t errlen);
/* One credential: CHAP_N (a name) and the shared secret. */
int cfg_chap_fill(struct chap_cred *cred, const char *user, const char *secret,
		  const char *user_path, const char *secret_path, char *err, size_t errlen);
/* Mutual CHAP needs one-way CHAP and a different secret. */
int cfg_check_chap_pair(const struct chap_cred *one_way, const struct chap_cred *mutual,
			const char *mutual_path, char *err, size_t errlen);
/* Semantic checks shared by the file, the requests and spec strings;
 * fills in defaults (block size) and normalizes (wwn). */
int cfg_validate_lu_spec(struct lu_spec *spec, const char *path, char *err, size_t errlen);

/* --- config_params.c: target parameters ---------------------------------- */

struct param_desc;
const struct param_desc *cfg_param_find(const char *key, bool ignore_case);
/* The value v of parameter d into *p. */
int cfg_param_value(const struct param_desc *d, json_object *v, const char *path,
		    struct target_params *p, char *err, size_t errlen);
/* Consistency between parameters (FirstBurstLength <= MaxBurstLength...). */
int cfg_params_check(const struct target_params *p, const char *path, char *err, size_t errlen);
/* Override the params in *p with the keys of object v. */
int cfg_parse_params(json_object *v, const char *path, struct target_params *p,
		     char *err, size_t errlen);
/* Every parameter, or only those that differ from the defaults. */
json_object *cfg_dump_params(const struct target_params *p, bool only_changed);
/* CHAP algorithm sets (CHAP_ALG_BIT()s) as the documents write them: an
 * array of names, or one string of names separated by commas. */
int cfg_parse_chap_algorithms(json_object *v, const char *path, uint32_t *set, char *err,
			      size_t errlen);
json_object *cfg_dump_chap_algorithms(uint32_t set);
void cfg_format_chap_algorithms(uint32_t set, char *buf, size_t len);
/* The table in order (NULL past its end), for walking every parameter. */
const struct param_desc *cfg_param_at(size_t i);
const char *cfg_param_key(const struct param_desc *d);
bool cfg_param_equal(const struct target_params *a, const struct target_params *b,
		     const struct param_desc *d);
/* Parameter d of from into to. */
void cfg_param_copy(struct target_params *to, const struct target_params *from,
		    const struct param_desc *d);
/* Its value as the document writes it: a number, or true/false. */
void cfg_param_format(const struct target_params *p, const struct param_desc *d, char *buf,
		      size_t len);

/* --- config_parse.c: the document ---------------------------------------- */

/* What the file (or a config_replace request) asks for. */
struct cfg_lu {
	uint64_t lun;
	struct lu_spec spec;
};

struct cfg_target {
	char iqn[ISCSI_NAME_MAX];
	bool demo_mode;
	struct chap_cred chap, mutual_chap;
	struct target_params params;
	struct cfg_lu *lus;
	unsigned n_lus;
	struct acl *acls;             /* only the data fields; link unused */
	unsigned n_acls;
};

struct cfg_portal {
	char addr[64];                /* FCoE: the interface */
	uint16_t port;
	enum portal_transport transport;
	uint64_t wwpn, wwnn;          /* FCoE: 0 = from the interface MAC */
	char target[ISCSI_NAME_MAX];  /* FCoE: the target it serves, "" = the first */
};

/* FCoE portal keys ("wwpn", "wwnn", "target") of obj into out (the
 * configuration file and portal_add); path prefixes error messages. */
int cfg_parse_fcoe_portal(json_object *obj, const char *path, const char *ifname,
			  struct cfg_portal *out, char *err, size_t errlen);
/* True when the model's portal p is what c describes. */
bool cfg_portal_same(const struct portal *p, const struct cfg_portal *c);

struct cfg_doc {
	bool has_portals;             /* absent: the portals stay as they are */
	struct cfg_portal *portals;
	unsigned n_portals;
	bool discovery_auth;
	struct chap_cred discovery_chap, discovery_mutual_chap;
	uint32_t discovery_chap_algorithms;   /* 0: all */
	struct cfg_target *targets;
	unsigned n_targets;
};

/* The keys of an LU object ("lun" first). */
extern const char *const cfg_lu_keys[];
/* {"user": "...", "secret": "..."} */
int cfg_parse_chap(json_object *v, const char *path, struct chap_cred *cred,
		   char *err, size_t errlen);
/* The "alua" object of an LU. */
int cfg_parse_alua_policy(json_object *v, const char *path, struct lu_alua_policy *policy,
			  char *err, size_t errlen);
/* LU fields of object v into spec (and the LUN when present); check: v
 * is an LU object of its own (requests check their keys themselves). */
int cfg_parse_lu_fields(json_object *v, const char *path, bool check, struct lu_spec *spec,
			bool *has_lun, uint64_t *lun, char *err, size_t errlen);
/* An ACL object; LUN references are checked by the caller. */
int cfg_parse_acl(json_object *v, const char *path, const char *const *also_allowed,
		  struct acl *acl, char *err, size_t errlen);
/* The whole document; on failure doc may hold part of it: cfg_doc_free(). */
int cfg_parse_doc(json_object *root, struct cfg_doc *doc, char *err, size_t errlen);
void cfg_doc_free(struct cfg_doc *doc);
const struct cfg_lu *cfg_find_lu(const struct cfg_target *ct, uint64_t lun);
const struct acl *cfg_find_acl(const struct cfg_target *ct, const char *initiator);
const struct cfg_target *cfg_find_target(const struct cfg_doc *doc, const char *iqn);

/* --- config_edit.c: editing the model ------------------------------------ */

/* Sessions of a target and/or of an ACL on this node. */
unsigned cfg_count_nexuses(struct gateway *gw, const struct target *t, const struct acl *acl);
/* Removing drops the object's own sessions; what a nexus still points
 * to is freed once unreferenced. */
void cfg_target_remove(struct gateway *gw, struct target *t);
void cfg_acl_remove(struct gateway *gw, struct target *t, struct acl *acl);
void cfg_lu_remove(struct lu *lu);
/* A copy of from at the end of t's ACLs; NULL when out of memory. */
struct acl *cfg_acl_insert(struct target *t, const struct acl *from);
/* lu_create() with its failure as a message naming path. */
struct lu *cfg_create_lu(struct target *t, uint64_t lun, const struct lu_spec *spec,
			 const char *path, char *err, size_t errlen);
/* SPC-4 7.6 / SAM-5 5.14: REPORTED LUNS DATA HAS CHANGED for the
 * target's nexuses on this node, or for one ACL's. */
void cfg_ua_luns_changed(struct gateway *gw, struct target *t);
void cfg_ua_acl_view_changed(struct gateway *gw, struct target *t, const struct acl *acl);
/* Leaving demo mode drops the sessions that logged in without an ACL. */
int cfg_set_demo_mode(struct gateway *gw, struct target *t, bool on);
/* Rebind the listeners to gw->portals (err may be NULL). */
int cfg_notify_portals(struct gateway *gw, char *err, size_t errlen);
/* The portal at addr:port of that transport (TCP and iSER may share an
 * address and port: RDMA CM has its own port space). */
struct portal *cfg_find_portal(struct gateway *gw, const char *addr, uint16_t port,
			       enum portal_transport transport);
/* A portal entry of the configuration file or a request: "ADDR:PORT" or
 * {"portal": "ADDR:PORT", "transport": "tcp"|"iser"}. */
int cfg_parse_portal(json_object *v, const char *path, struct cfg_portal *out, char *err,
		     size_t errlen);
/* The LU already backed by this file or image, if any. */
struct lu *cfg_find_backing_user(struct gateway *gw, const char *backstore, const char *path);
int cfg_lowest_free_lun(struct target *t, uint64_t *lun);

/* --- config_diff.c: what a document changes ------------------------------ */

enum cfg_action { CFG_ADD, CFG_CHANGE, CFG_REMOVE };
enum cfg_object { CFG_DISCOVERY, CFG_TARGET, CFG_PARAM, CFG_LU, CFG_ACL };

/* What a CFG_CHANGE touches. */
enum {
	CFG_CHG_AUTH    = 1 << 0,    /* discovery: CHAP required or not */
	CFG_CHG_DEMO    = 1 << 1,    /* target: demo mode */
	CFG_CHG_CHAP    = 1 << 2,    /* discovery, target, ACL: one-way CHAP */
	CFG_CHG_MUTUAL  = 1 << 3,    /* discovery, target, ACL: mutual CHAP */
	CFG_CHG_ALUA    = 1 << 4,    /* LU: its ALUA policy, applied in place */
	CFG_CHG_RESIZE  = 1 << 5,    /* LU: only its size, resized in place */
	CFG_CHG_REPLACE = 1 << 6,    /* LU: anything else: a new LU at that LUN */
	CFG_CHG_MAP     = 1 << 7,    /* ACL: its LUN map */
	CFG_CHG_ALGS    = 1 << 8,    /* discovery: the CHAP algorithms accepted */
};

/* One change. The entries of a target follow each other: its own entry
 * (CFG_ADD: the LUs and ACLs after it belong to it), its parameters, the
 * ACLs that go, its LUs, then the ACLs that come or change. */
struct cfg_change {
	enum cfg_action action;
	enum cfg_object object;
	unsigned changed;                 /* CFG_CHANGE: CFG_CHG_* bits */
	struct target *t;                 /* the model's; NULL while being added */
	const struct cfg_target *ct;      /* the document's; NULL when removed */
	unsigned ct_index;                /* targets[ct_index] of the document */
	struct lu *lu;                    /* CFG_LU: the model's (change, remove) */
	const struct cfg_lu *cl;          /* CFG_LU: the document's (add, change) */
	unsigned cl_index;                /* ...luns[cl_index] of the document */
	struct acl *acl;                  /* CFG_ACL: the model's (change, remove) */
	const struct acl *ca;             /* CFG_ACL: the document's (add, change) */
	const struct param_desc *param;   /* CFG_PARAM */
};

struct cfg_diff {
	struct cfg_change *changes;
	size_t n, cap;
};

/* Everything doc changes in the model but the portals, in the order
 * cfg_apply_doc() makes the changes. The entries point into gw and doc:
 * use them before either changes. Returns 0 or -ENOMEM (diff empty). */
int cfg_diff_compute(struct gateway *gw, const struct cfg_doc *doc, struct cfg_diff *diff);
void cfg_diff_free(struct cfg_diff *diff);
/* {"action": "add"|"change"|"remove", "path": "/targets/IQN/luns/1",
 * "what": "null,size=1G"}: a summary for people; never a secret. */
json_object *cfg_change_json(const struct cfg_change *c, const struct gateway *gw,
			     const struct cfg_doc *doc);

/* --- config_apply.c: a whole document ------------------------------------ */

/* Make the model match doc: the changes of cfg_diff_compute(), then the
 * portals. At startup (stop_on_error) the first failure ends it; a reload
 * carries on and reports the first failure. */
int cfg_apply_doc(struct gateway *gw, const struct cfg_doc *doc, bool stop_on_error,
		  char *err, size_t errlen);
/* Replace the portal list when doc has one; on a bind failure put the old
 * one back. */
int cfg_update_portals(struct gateway *gw, const struct cfg_doc *doc, char *err, size_t errlen);

#endif
