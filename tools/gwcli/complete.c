/* The shell's relative commands and its tab completion.
 *
 * A relative command is a one-shot command with the parts of the path one
 * stands in filled in: in /targets/IQN/luns, "create SPEC" is
 * "lun create IQN SPEC". One table says which words mean what where, and
 * completion rewrites a relative command the same way, so it completes
 * the one-shot command's arguments from one table of argument kinds. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shell.h"

const char *const shell_words[] = { "cd", "ls", "pwd", "help", "exit", "quit", NULL };

static const struct relative_command relative_commands[] = {
	{ TN_TARGETS, "create", "target create", "IQN [--demo]", "add a target", false },
	{ TN_TARGETS, "delete", "target delete", "IQN", "remove a target and end its sessions", false },
	{ TN_TARGET, "param set", "param set $target", "KEY VALUE", "set a parameter of this target", false },
	{ TN_TARGET, "chap set", "chap set $target", "USER SECRET [--mutual USER SECRET]",
	  "CHAP for the whole target", false },
	{ TN_TARGET, "chap clear", "chap clear $target", "[--mutual-only]", "clear the target's CHAP", false },
	{ TN_LUNS, "create", "lun create $target", "SPEC [--lun N]", "add an LU (SPEC as for 'lun create')", false },
	{ TN_LUNS, "delete", "lun delete $target", "LUN", "remove an LU", false },
	{ TN_LUNS, "resize", "lun resize $target", "LUN SIZE [--shrink]", "change an LU's size", false },
	{ TN_LUNS, "alua set", "alua set $target", "LUN STATE [--tpg ID]", "set an LU's ALUA state", false },
	{ TN_LUN, "resize", "lun resize $target $lun", "SIZE [--shrink]", "change this LU's size", false },
	{ TN_LUN, "alua set", "alua set $target $lun", "STATE [--tpg ID]",
	  "set this LU's ALUA state (default: this node's group)", false },
	{ TN_ACLS, "create", "acl create $target", "INITIATOR [--map MAPPED:LUN]...", "allow an initiator", false },
	{ TN_ACLS, "delete", "acl delete $target", "INITIATOR", "remove an ACL and end its sessions", false },
	{ TN_ACLS, "chap set", "chap set $target", "INITIATOR USER SECRET [--mutual USER SECRET]",
	  "CHAP for one initiator", false },
	{ TN_ACLS, "chap clear", "chap clear $target", "INITIATOR [--mutual-only]", "clear an initiator's CHAP", false },
	{ TN_ACL, "chap set", "chap set $target $initiator", "USER SECRET [--mutual USER SECRET]",
	  "CHAP for this initiator", false },
	{ TN_ACL, "chap clear", "chap clear $target $initiator", "[--mutual-only]", "clear this initiator's CHAP",
	  false },
	{ TN_TARGET_PORTALS, "create", "portal create", "ADDR:PORT",
	  "listen on another portal (on the node gwcli talks to)", false },
	{ TN_TARGET_PORTALS, "delete", "portal delete", "ADDR:PORT",
	  "stop listening there (on the node gwcli talks to)", false },
	{ TN_NODE_PORTALS, "create", "portal create", "ADDR:PORT", "listen on another portal", true },
	{ TN_NODE_PORTALS, "delete", "portal delete", "ADDR:PORT", "stop listening there", true },
};

#define N_RELATIVE (sizeof(relative_commands) / sizeof(relative_commands[0]))

int relative_n_words(const struct relative_command *rc)
{
	return strchr(rc->words, ' ') ? 2 : 1;
}

/* Does word k (0 or 1) of rc's words equal w? */
static bool word_is(const struct relative_command *rc, int k, const char *w)
{
	const char *space = strchr(rc->words, ' ');

	if (k == 0)
		return space ? strlen(w) == (size_t)(space - rc->words) && strncmp(rc->words, w, strlen(w)) == 0
			     : strcmp(rc->words, w) == 0;
	return space && strcmp(space + 1, w) == 0;
}

const struct relative_command *relative_find(enum tnode_kind where, int argc, char **argv)
{
	for (size_t i = 0; i < N_RELATIVE; i++) {
		const struct relative_command *rc = &relative_commands[i];
		int n = relative_n_words(rc);

		if (rc->where == where && argc >= n && word_is(rc, 0, argv[0]) && (n == 1 || word_is(rc, 1, argv[1])))
			return rc;
	}
	return NULL;
}

static bool relative_first_word(enum tnode_kind where, const char *w)
{
	for (size_t i = 0; i < N_RELATIVE; i++)
		if (relative_commands[i].where == where && word_is(&relative_commands[i], 0, w))
			return true;
	return false;
}

bool relative_help(FILE *out, const struct tnode *here, const char *only_word)
{
	bool any = false;

	for (size_t i = 0; here && i < N_RELATIVE; i++) {
		const struct relative_command *rc = &relative_commands[i];
		char left[128], full[1024] = "", *tokens, *tok, *save = NULL;
		size_t used = 0;

		if (rc->where != here->kind || (only_word && !word_is(rc, 0, only_word)))
			continue;
		any = true;
		if (!out)
			continue;
		/* What it runs, with this place's names filled in. */
		tokens = xstrdup(rc->expands);
		for (tok = strtok_r(tokens, " ", &save); tok && used < sizeof(full);
		     tok = strtok_r(NULL, " ", &save)) {
			const char *value = strcmp(tok, "$target") == 0 ? tnode_part(here, TN_TARGET)
				: strcmp(tok, "$lun") == 0 ? tnode_part(here, TN_LUN)
				: strcmp(tok, "$initiator") == 0 ? tnode_part(here, TN_ACL) : tok;

			used += (size_t)snprintf(full + used, sizeof(full) - used, "%s ", value ? value : tok);
		}
		free(tokens);
		snprintf(left, sizeof(left), "%s %s", rc->words, rc->synopsis);
		fprintf(out, "  %-44s %s\n  %-44s   (gwcli %s%s)\n", left, rc->what, "", full, rc->synopsis);
	}
	return any;
}

void argv_free(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	free(argv);
}

/* The expansion; err NULL: silent (completion). */
static int expand(const struct relative_command *rc, const struct tnode *here, int64_t local_node, int argc,
		  char **argv, int *out_argc, char ***out_argv, FILE *err)
{
	int n_words = relative_n_words(rc), n = 0;
	char *tokens = xstrdup(rc->expands), *tok, *save = NULL;
	char **out = xcalloc((size_t)argc + 8, sizeof(*out));

	if (rc->this_node_only) {
		const char *node = tnode_part(here, TN_NODE);

		if (node && strtoll(node, NULL, 10) != local_node) {
			if (err)
				fprintf(err, "gwcli: portals belong to each node and this gwcli talks to node %lld;\n"
					"  run it on node %s (or with that node's --socket) to change node %s's portals\n",
					(long long)local_node, node, node);
			free(tokens);
			free(out);
			return -1;
		}
	}
	for (tok = strtok_r(tokens, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		const char *value = tok;

		if (strcmp(tok, "$target") == 0)
			value = tnode_part(here, TN_TARGET);
		else if (strcmp(tok, "$lun") == 0)
			value = tnode_part(here, TN_LUN);
		else if (strcmp(tok, "$initiator") == 0)
			value = tnode_part(here, TN_ACL);
		if (!value) {           /* the table names a part its place lacks: a bug here */
			if (err)
				fprintf(err, "gwcli: '%s' has no %s here\n", rc->words, tok + 1);
			argv_free(n, out);
			free(tokens);
			return -1;
		}
		out[n++] = xstrdup(value);
	}
	free(tokens);
	for (int i = n_words; i < argc; i++)
		out[n++] = xstrdup(argv[i]);
	*out_argc = n;
	*out_argv = out;
	return 0;
}

int relative_expand(const struct relative_command *rc, const struct tnode *here, int64_t local_node, int argc,
		    char **argv, int *out_argc, char ***out_argv)
{
	return expand(rc, here, local_node, argc, argv, out_argc, out_argv, stderr);
}

/* ------------------------------------------------------------------------
 * Completion of one-shot commands: what each argument position holds.
 * ---------------------------------------------------------------------- */

enum arg_kind { ARG_NONE, ARG_IQN, ARG_LUN, ARG_INITIATOR, ARG_PORTAL, ARG_NODE, ARG_ALUA_STATE, ARG_PARAM, ARG_SPEC };

struct action_args {
	const char *command, *action;
	enum arg_kind arg[3];           /* positionals after the action */
	const char *options;            /* space separated */
};

static const struct action_args action_args[] = {
	{ "target", "create", { ARG_NONE }, "--demo" },
	{ "target", "delete", { ARG_IQN }, "" },
	{ "lun", "create", { ARG_IQN, ARG_SPEC }, "--lun" },
	{ "lun", "delete", { ARG_IQN, ARG_LUN }, "" },
	{ "lun", "resize", { ARG_IQN, ARG_LUN }, "--shrink" },
	{ "alua", "set", { ARG_IQN, ARG_LUN, ARG_ALUA_STATE }, "--tpg" },
	{ "acl", "create", { ARG_IQN }, "--map" },
	{ "acl", "delete", { ARG_IQN, ARG_INITIATOR }, "" },
	{ "chap", "set", { ARG_IQN, ARG_INITIATOR }, "--discovery --mutual --optional" },
	{ "chap", "clear", { ARG_IQN, ARG_INITIATOR }, "--discovery --mutual-only" },
	{ "portal", "create", { ARG_NONE }, "" },
	{ "portal", "delete", { ARG_PORTAL }, "" },
	{ "param", "set", { ARG_IQN, ARG_PARAM }, "--discovery" },
};

/* Options and what their values are (the values they take, as args.c's
 * opt_spec tables of change.c say). */
static const struct {
	const char *name;
	int values;
	enum arg_kind value;
} option_values[] = {
	{ "--demo", 0, ARG_NONE }, { "--lun", 1, ARG_NONE }, { "--shrink", 0, ARG_NONE },
	{ "--tpg", 1, ARG_NODE }, { "--map", 1, ARG_NONE }, { "--discovery", 0, ARG_NONE },
	{ "--mutual", 2, ARG_NONE }, { "--optional", 0, ARG_NONE }, { "--mutual-only", 0, ARG_NONE },
};

static const char *const alua_states[] = {
	"active-optimized", "active-non-optimized", "standby", "unavailable", "offline", "transitioning", NULL,
};

static void add(struct completion *c, const char *word, const char *shown, bool no_space)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->word[i], word) == 0)
			return;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->word = xrealloc(c->word, c->cap * sizeof(*c->word));
		c->shown = xrealloc(c->shown, c->cap * sizeof(*c->shown));
		c->no_space = xrealloc(c->no_space, c->cap * sizeof(*c->no_space));
	}
	c->word[c->n] = xstrdup(word);
	c->shown[c->n] = xstrdup(shown);
	c->no_space[c->n] = no_space;
	c->n++;
}

static bool starts(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static void add_matching(struct completion *c, const char *typed, const char *word, bool no_space)
{
	if (starts(word, typed))
		add(c, word, word, no_space);
}

/* The names under a node ("/targets", "/targets/IQN/luns"). */
static void add_children(struct completion *c, const struct tree *t, const char *path, const char *typed)
{
	const struct tnode *n = tree_resolve(t, NULL, path);

	for (size_t i = 0; n && i < n->n_child; i++)
		add_matching(c, typed, n->child[i]->name, false);
}

static void complete_path(struct completion *c, const struct tree *t, const char *cwd, const char *typed)
{
	const char *slash = strrchr(typed, '/');
	const struct tnode *dir;
	char *dir_part;

	if (!slash) {
		dir_part = xstrdup("");
		dir = tree_resolve(t, NULL, cwd);
	} else {
		dir_part = xstrndup(typed, (size_t)(slash - typed) + 1);
		dir = tree_resolve(t, cwd, dir_part);
	}
	for (size_t i = 0; dir && i < dir->n_child; i++) {
		const struct tnode *n = dir->child[i];
		bool container = tnode_is_container(n);
		char *word;

		if (!starts(n->name, slash ? slash + 1 : typed))
			continue;
		word = xcalloc(strlen(dir_part) + strlen(n->name) + 2, 1);
		sprintf(word, "%s%s%s", dir_part, n->name, container ? "/" : "");
		add(c, word, word + strlen(dir_part), container);
		free(word);
	}
	free(dir_part);
}

static void complete_kind(struct completion *c, const struct tree *t, enum arg_kind kind, const char *iqn,
			  const char *typed)
{
	char path[1024];
	const struct tnode *target;
	json_object *params;

	switch (kind) {
	case ARG_IQN:
		add_children(c, t, "/targets", typed);
		break;
	case ARG_LUN:
	case ARG_INITIATOR:
		if (!iqn || !(target = tree_resolve(t, "/targets", iqn)) || target->kind != TN_TARGET)
			break;
		snprintf(path, sizeof(path), "/targets/%s/%s", target->name, kind == ARG_LUN ? "luns" : "acls");
		add_children(c, t, path, typed);
		break;
	case ARG_PORTAL:
		snprintf(path, sizeof(path), "/nodes/%lld/portals", (long long)t->local_node);
		add_children(c, t, path, typed);
		break;
	case ARG_NODE:
		add_children(c, t, "/nodes", typed);
		break;
	case ARG_ALUA_STATE:
		for (const char *const *s = alua_states; *s; s++)
			add_matching(c, typed, *s, false);
		break;
	case ARG_PARAM:
		if (!iqn || !(target = tree_resolve(t, "/targets", iqn)) || target->kind != TN_TARGET)
			break;
		if (json_object_object_get_ex(target->json, "params", &params) &&
		    json_object_get_type(params) == json_type_object) {
			json_object_object_foreach(params, key, val) {
				(void)val;
				add_matching(c, typed, key, false);
			}
		}
		add_matching(c, typed, "demo_mode", false);
		break;
	case ARG_SPEC:
		if (starts("file:", typed))
			add(c, "file:", "file:PATH[,size=SIZE][,thin=1]...", true);
		if (starts("null", typed))
			add(c, "null", "null[,size=SIZE]", true);
		if (starts("rbd:", typed))
			add(c, "rbd:", "rbd:POOL/IMAGE[,size=SIZE][,create=1]...", true);
		break;
	case ARG_NONE:
		break;
	}
}

/* argv[0] a one-shot command word, argv[index] the word being typed. */
static void complete_oneshot(struct completion *c, const struct tree *t, int argc, char **argv, int index)
{
	const struct action_args *aa = NULL;
	const char *typed = argv[index];
	const char *positional[8];
	int n_pos = 0;

	(void)argc;
	if (index == 1) {
		for (size_t i = 0; i < sizeof(action_args) / sizeof(action_args[0]); i++)
			if (strcmp(action_args[i].command, argv[0]) == 0)
				add_matching(c, typed, action_args[i].action, false);
		return;
	}
	for (size_t i = 0; i < sizeof(action_args) / sizeof(action_args[0]) && !aa; i++)
		if (strcmp(action_args[i].command, argv[0]) == 0 && strcmp(action_args[i].action, argv[1]) == 0)
			aa = &action_args[i];
	if (!aa)
		return;
	/* Which positional is being typed, or which option's value. */
	for (int i = 2; i < index; i++) {
		size_t k;

		if (strncmp(argv[i], "--", 2) != 0) {
			if (n_pos < 8)
				positional[n_pos++] = argv[i];
			continue;
		}
		for (k = 0; k < sizeof(option_values) / sizeof(option_values[0]); k++)
			if (strcmp(option_values[k].name, argv[i]) == 0)
				break;
		if (k == sizeof(option_values) / sizeof(option_values[0]))
			continue;
		if (i + option_values[k].values >= index) {     /* typing this option's value */
			complete_kind(c, t, option_values[k].value, NULL, typed);
			return;
		}
		i += option_values[k].values;
	}
	if (typed[0] == '-') {
		char *options = xstrdup(aa->options), *save = NULL;

		for (char *o = strtok_r(options, " ", &save); o; o = strtok_r(NULL, " ", &save))
			add_matching(c, typed, o, false);
		free(options);
		return;
	}
	if (n_pos < 3)
		complete_kind(c, t, aa->arg[n_pos], n_pos ? positional[0] : NULL, typed);
}

/* The first word: the shell's words, the one-shot commands, and what one
 * may type relative to here. */
static void complete_first(struct completion *c, const struct tnode *here, const char *typed)
{
	for (const char *const *w = shell_words; *w; w++)
		add_matching(c, typed, *w, false);
	for (size_t i = 0; i < gwcli_n_commands; i++)
		add_matching(c, typed, gwcli_commands[i].name, false);
	for (size_t i = 0; here && i < N_RELATIVE; i++) {
		char first[32];

		if (relative_commands[i].where != here->kind)
			continue;
		snprintf(first, sizeof(first), "%.*s", (int)strcspn(relative_commands[i].words, " "),
			 relative_commands[i].words);
		add_matching(c, typed, first, false);
	}
}

#define MAX_WORDS 64

void complete_line(const struct tree *t, const char *cwd, const char *line, struct completion *c)
{
	char *copy = xstrdup(line), *argv[MAX_WORDS + 1], *save = NULL, *w;
	const struct tnode *here = tree_resolve(t, NULL, cwd);
	const struct relative_command *rc;
	int argc = 0, index;

	memset(c, 0, sizeof(*c));
	for (w = strtok_r(copy, " \t", &save); w && argc < MAX_WORDS; w = strtok_r(NULL, " \t", &save))
		argv[argc++] = w;
	/* After a blank the word being typed is a new, empty one. */
	if (argc == 0 || strchr(" \t", line[strlen(line) - 1])) {
		if (argc == MAX_WORDS)
			goto out;
		argv[argc++] = "";
	}
	index = argc - 1;
	c->typed_len = strlen(argv[index]);

	if (index == 0) {
		complete_first(c, here, argv[0]);
	} else if (strcmp(argv[0], "cd") == 0 || strcmp(argv[0], "ls") == 0) {
		if (index == 1)
			complete_path(c, t, cwd, argv[1]);
	} else if (strcmp(argv[0], "help") == 0) {
		if (index == 1)
			complete_first(c, here, argv[1]);
	} else if (here && relative_first_word(here->kind, argv[0])) {
		if (index == 1 && !relative_find(here->kind, 1, argv)) {
			/* the second word of "alua set", "chap clear" */
			for (size_t i = 0; i < N_RELATIVE; i++) {
				const struct relative_command *r = &relative_commands[i];

				if (r->where == here->kind && relative_n_words(r) == 2 && word_is(r, 0, argv[0]))
					add_matching(c, argv[1], strchr(r->words, ' ') + 1, false);
			}
		} else if ((rc = relative_find(here->kind, argc, argv)) && index >= relative_n_words(rc)) {
			int x_argc;
			char **x_argv;

			if (expand(rc, here, t->local_node, argc, argv, &x_argc, &x_argv, NULL) == 0) {
				complete_oneshot(c, t, x_argc, x_argv, x_argc - 1);
				argv_free(x_argc, x_argv);
			}
		}
	} else if (gwcli_find_command(argv[0])) {
		complete_oneshot(c, t, argc, argv, index);
	}
out:
	free(copy);
}

void completion_free(struct completion *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->word[i]);
		free(c->shown[i]);
	}
	free(c->word);
	free(c->shown);
	free(c->no_space);
	memset(c, 0, sizeof(*c));
}

char *completion_common_prefix(const struct completion *c)
{
	size_t len;

	if (c->n == 0)
		return xstrdup("");
	len = strlen(c->word[0]);
	for (size_t i = 1; i < c->n; i++) {
		size_t k = 0;

		while (k < len && c->word[i][k] == c->word[0][k])
			k++;
		len = k;
	}
	return xstrndup(c->word[0], len);
}
