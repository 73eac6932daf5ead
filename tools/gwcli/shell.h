/* gwcli's interactive shell (built with libedit): the object tree it walks
 * (tree.c), the commands that run relative to where one stands and tab
 * completion (complete.c), and the line editor around them (shell.c).
 *
 * The tree is built from sangwd's answers (list, status, sessions) and
 * cached: the shell refreshes it after every change and on cd/ls when it
 * is older than TREE_MAX_AGE_MS, so completion works from memory and never
 * waits on a slow daemon. */
#ifndef SANGW_GWCLI_SHELL_H
#define SANGW_GWCLI_SHELL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gwcli.h"

#define TREE_MAX_AGE_MS 2000

/* ---- tree.c: the object tree ---- */

/* Allocation that ends gwcli when memory runs out. */
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

enum tnode_kind {
	TN_ROOT,
	TN_TARGETS, TN_TARGET, TN_LUNS, TN_LUN, TN_ACLS, TN_ACL, TN_TARGET_PORTALS, TN_TARGET_PORTAL,
	TN_NODES, TN_NODE, TN_NODE_PORTALS, TN_NODE_PORTAL, TN_SESSIONS, TN_SESSION,
};

struct tnode {
	enum tnode_kind kind;
	char *name;             /* the path component */
	char *detail;           /* one line for ls ("" when nothing to say) */
	json_object *json;      /* what it was built from, for ls --json (owned by the tree) */
	struct tnode *parent;
	struct tnode **child;
	size_t n_child, cap_child;
};

struct tree {
	struct tnode *root;
	json_object *list;      /* sangwd's answers the tree was built from */
	json_object *status;    /* NULL: sangwd has no status request (this node only) */
	json_object *sessions;
	json_object *made;      /* JSON the tree made up itself (e.g. one node's sessions) */
	int64_t local_node;     /* the node gwcli talks to */
	int64_t fetched_ms;     /* CLOCK_MONOTONIC of the last refresh; 0: never */
};

/* Ask sangwd and rebuild the tree; on failure (reason printed) the old
 * tree stays. Returns 0 when refreshed. */
int tree_refresh(struct tree *t, const struct cli *cli);
/* Build the tree from sangwd's answers (list; status and sessions may be
 * NULL: this node only, no sessions); takes them over. */
void tree_build(struct tree *t, json_object *list, json_object *status, json_object *sessions);
/* Refresh when older than max_age_ms (or never loaded). */
int tree_refresh_if_older(struct tree *t, const struct cli *cli, int64_t max_age_ms);
void tree_free(struct tree *t);
int64_t monotonic_ms(void);

/* Resolve path (absolute, or relative to the node at cwd; ".", "..") to a
 * node; NULL when there is none. Names match exactly, else without regard
 * to case. */
struct tnode *tree_resolve(const struct tree *t, const char *cwd, const char *path);
/* The canonical path of a node (malloc'd). */
char *tnode_path(const struct tnode *n);
/* The name of the nearest node of that kind at or above n; NULL if none. */
const char *tnode_part(const struct tnode *n, enum tnode_kind kind);
/* Nodes one can stand in that hold others (cd into them, complete with "/"). */
bool tnode_is_container(const struct tnode *n);
/* ls: the node and everything under it, indented; --json: its JSON. */
void tnode_print(const struct tnode *n, bool json, FILE *out);
/* A child by name (exact, else case-insensitive); NULL if none. */
struct tnode *tnode_child(const struct tnode *n, const char *name);

/* ---- complete.c: relative commands and completion ---- */

/* A command typed relative to where one stands, rewritten into the
 * one-shot command with the path's parts filled in. */
struct relative_command {
	enum tnode_kind where;
	const char *words;      /* what one types: "create", "alua set" */
	const char *expands;    /* the one-shot command; $target, $lun, $initiator are the path's parts */
	const char *synopsis;   /* the arguments that follow, for help */
	const char *what;
	bool this_node_only;    /* under /nodes/N: only when N is the node gwcli talks to */
};

/* The relative command argv starts with at cwd; NULL when none. */
const struct relative_command *relative_find(enum tnode_kind where, int argc, char **argv);
int relative_n_words(const struct relative_command *rc);
/* Print the relative commands one may type at here (only_word: those
 * starting with it) and what they run (out NULL: print nothing); false
 * when there are none. */
bool relative_help(FILE *out, const struct tnode *here, const char *only_word);
/* Rewrite argv into a one-shot command (argv of out_argc strings, each
 * malloc'd; free with argv_free); on error prints why and returns -1. */
int relative_expand(const struct relative_command *rc, const struct tnode *here, int64_t local_node,
		    int argc, char **argv, int *out_argc, char ***out_argv);
void argv_free(int argc, char **argv);

/* Candidates for the word being typed at the end of line (the text before
 * the cursor), given where one stands. */
struct completion {
	char **word;            /* what replaces the typed word */
	char **shown;           /* what a list of choices shows */
	bool *no_space;         /* no space after it (a path that goes on, "file:") */
	size_t n, cap;
	size_t typed_len;       /* length of the word being replaced */
};

void complete_line(const struct tree *t, const char *cwd, const char *line, struct completion *c);
void completion_free(struct completion *c);
/* The longest prefix all candidates share (malloc'd). */
char *completion_common_prefix(const struct completion *c);

/* Shell words (cd, ls, pwd, help, exit, quit), listed for completion and help. */
extern const char *const shell_words[];

/* ---- shell.c ---- */
/* gwcli_shell (gwcli.h) */

#endif
