/* gwcli's interactive shell: libedit reads lines (history in
 * ~/.gwcli_history, TAB completion from complete.c), each line is a shell
 * word (cd, ls, pwd, help, exit), a command relative to where one stands
 * (complete.c's table) or any one-shot command, run from commands.c's
 * table as on the command line. A failing command prints its error and
 * the shell goes on. */
#include <errno.h>
#include <fcntl.h>
#include <histedit.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shell.h"

#define HISTORY_FILE    ".gwcli_history"
#define HISTORY_ENTRIES 500
/* Completion asks sangwd only when it has no tree yet, and then waits
 * this long at most: a TAB must not hang on a slow daemon. */
#define COMPLETION_TIMEOUT_S 2

struct shell {
	const struct cli *cli;
	struct tree tree;
	char *cwd;              /* where one stands: a canonical path */
	char *previous;         /* for "cd -" */
	char prompt[1200];
	EditLine *el;
	History *hist;
	char *history_path;     /* NULL: no home, no history file */
};

/* Set by SIGINT at the prompt: the line is dropped, the shell goes on. */
static volatile sig_atomic_t interrupted_at_prompt;

static void on_sigint(int signo)
{
	(void)signo;
	interrupted_at_prompt = 1;
}

static void set_cwd(struct shell *sh, const char *path)
{
	free(sh->previous);
	sh->previous = sh->cwd;
	sh->cwd = xstrdup(path);
}

static const struct tnode *here(const struct shell *sh)
{
	return tree_resolve(&sh->tree, NULL, sh->cwd);
}

/* After a refresh: if where one stands is gone (a target deleted), stand
 * in the nearest place that is still there. */
static void keep_cwd_valid(struct shell *sh)
{
	char *path;

	if (!sh->tree.root || here(sh))
		return;
	path = xstrdup(sh->cwd);
	while (strcmp(path, "/") != 0 && !tree_resolve(&sh->tree, NULL, path)) {
		char *slash = strrchr(path, '/');

		if (slash == path)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	printf("(%s is gone; now in %s)\n", sh->cwd, path);
	free(sh->cwd);
	sh->cwd = path;
}

static void refresh(struct shell *sh, int64_t max_age_ms)
{
	tree_refresh_if_older(&sh->tree, sh->cli, max_age_ms);
	keep_cwd_valid(sh);
}

/* ---- the shell's own words ---- */

static void shell_help(const struct shell *sh, const char *word)
{
	const struct tnode *n = here(sh);

	if (word) {
		if (n && relative_help(stdout, n, word))
			return;
		if (gwcli_command_usage(stdout, word))
			return;
		for (const char *const *w = shell_words; *w; w++)
			if (strcmp(*w, word) == 0)
				word = NULL;
		if (word) {
			fprintf(stderr, "gwcli: help: no command '%s' here\n", word);
			return;
		}
	}
	printf("Shell commands:\n"
	       "  cd [PATH]                           go to PATH: absolute, relative, '..', '-' (where you\n"
	       "                                      were before); no PATH: /\n"
	       "  ls [PATH]                           what is under PATH (default: here); at / as 'gwcli ls'\n"
	       "  pwd                                 where you are\n"
	       "  help [COMMAND]                      this text, or what COMMAND takes\n"
	       "  exit, quit, Ctrl-D                  leave the shell\n"
	       "The tree: /targets/IQN/{luns,acls,portals}, /nodes/NODE/{portals,sessions}.\n");
	if (n && relative_help(NULL, n, NULL)) {
		printf("Here (%s):\n", sh->cwd);
		relative_help(stdout, n, NULL);
	}
	printf("Every gwcli command works as on the command line, without 'gwcli' (where a word\n"
	       "above has a meaning here, that meaning wins):\n ");
	for (size_t i = 0; i < gwcli_n_commands; i++)
		printf(" %s", gwcli_commands[i].name);
	printf("\n'help COMMAND' shows its usage. TAB completes commands, paths, names and options.\n");
}

static void shell_cd(struct shell *sh, int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/";
	const struct tnode *n;
	char *canonical;

	if (argc > 2) {
		fprintf(stderr, "gwcli: cd takes one path\n");
		return;
	}
	if (strcmp(path, "-") == 0) {
		if (!sh->previous) {
			fprintf(stderr, "gwcli: cd -: no previous place\n");
			return;
		}
		path = sh->previous;
	}
	refresh(sh, TREE_MAX_AGE_MS);
	if (!sh->tree.root)
		return;         /* the reason was printed */
	if (!(n = tree_resolve(&sh->tree, sh->cwd, path))) {
		fprintf(stderr, "gwcli: cd: no such place: %s\n", path);
		return;
	}
	canonical = tnode_path(n);
	set_cwd(sh, canonical);
	free(canonical);
}

static void shell_ls(struct shell *sh, int argc, char **argv)
{
	const struct tnode *n;

	if (argc > 2) {
		fprintf(stderr, "gwcli: ls takes one path\n");
		return;
	}
	refresh(sh, TREE_MAX_AGE_MS);
	if (!sh->tree.root)
		return;
	if (!(n = tree_resolve(&sh->tree, sh->cwd, argc > 1 ? argv[1] : "."))) {
		fprintf(stderr, "gwcli: ls: no such place: %s\n", argv[1]);
		return;
	}
	if (!n->parent)
		cmd_ls(sh->cli, 0, NULL);       /* at /: 'gwcli ls' itself */
	else
		tnode_print(n, sh->cli->json, stdout);
}

/* Commands that change nothing: no refresh after them. */
static bool read_only(const char *word)
{
	static const char *const words[] = {
		"ls", "list", "sessions", "stats", "version", "fencing", "status", "help", "export", "top", NULL,
	};

	for (const char *const *w = words; *w; w++)
		if (strcmp(*w, word) == 0)
			return true;
	return false;
}

/* One line, split into words; false when the shell should end. */
static bool run_line(struct shell *sh, int argc, char **argv)
{
	const struct tnode *n = here(sh);
	const struct relative_command *rc;

	if (argc == 0)
		return true;
	if (strcmp(argv[0], "exit") == 0 || strcmp(argv[0], "quit") == 0)
		return false;
	if (strcmp(argv[0], "pwd") == 0) {
		printf("%s\n", sh->cwd);
	} else if (strcmp(argv[0], "cd") == 0) {
		shell_cd(sh, argc, argv);
	} else if (strcmp(argv[0], "ls") == 0) {
		shell_ls(sh, argc, argv);
	} else if (strcmp(argv[0], "help") == 0) {
		shell_help(sh, argc > 1 ? argv[1] : NULL);
	} else if (n && (rc = relative_find(n->kind, argc, argv))) {
		int x_argc;
		char **x_argv;

		if (relative_expand(rc, n, sh->tree.local_node, argc, argv, &x_argc, &x_argv) == 0) {
			int status = gwcli_run(sh->cli, x_argc, x_argv);

			if (status == EXIT_USAGE) {
				fprintf(stderr, "here (%s):\n", sh->cwd);
				relative_help(stderr, n, argv[0]);
			}
			argv_free(x_argc, x_argv);
			fflush(stdout);
			if (status != EXIT_USAGE)       /* a usage error never reached sangwd */
				refresh(sh, 0);
		}
	} else if (gwcli_find_command(argv[0])) {
		int status = gwcli_run(sh->cli, argc, argv);

		fflush(stdout);
		if (!read_only(argv[0]) && status != EXIT_USAGE)
			refresh(sh, 0);
	} else {
		fprintf(stderr, "gwcli: unknown command '%s' (help: what you can type here)\n", argv[0]);
	}
	fflush(stdout);
	return true;
}

/* ---- libedit ---- */

static struct shell *shell_of(EditLine *el)
{
	void *data = NULL;

	el_get(el, EL_CLIENTDATA, &data);
	return data;
}

static char *prompt(EditLine *el)
{
	struct shell *sh = shell_of(el);

	snprintf(sh->prompt, sizeof(sh->prompt), "gwcli %s> ", sh->cwd);
	return sh->prompt;
}

/* The candidates in columns under the line, as shells list them. */
static void list_candidates(const struct completion *c)
{
	size_t width = 0, columns, rows;

	for (size_t i = 0; i < c->n; i++)
		if (strlen(c->shown[i]) > width)
			width = strlen(c->shown[i]);
	width += 2;
	columns = width < 80 ? 80 / width : 1;
	rows = (c->n + columns - 1) / columns;
	printf("\n");
	for (size_t r = 0; r < rows; r++) {
		for (size_t col = 0; col < columns && col * rows + r < c->n; col++)
			printf("%-*s", (int)width, c->shown[col * rows + r]);
		printf("\n");
	}
	fflush(stdout);
}

/* TAB: one candidate is put in; several put in what they share, or are
 * listed when they share no more than what is typed. */
static unsigned char complete_key(EditLine *el, int ch)
{
	struct shell *sh = shell_of(el);
	const LineInfo *li = el_line(el);
	struct completion c;
	unsigned char result = CC_REFRESH;
	char *line, *common;

	(void)ch;
	if (!sh->tree.root) {
		struct cli quick = *sh->cli;

		if (quick.timeout_s > COMPLETION_TIMEOUT_S)
			quick.timeout_s = COMPLETION_TIMEOUT_S;
		printf("\n");
		fflush(stdout);
		tree_refresh(&sh->tree, &quick);
		result = CC_REDISPLAY;
	}
	line = xstrndup(li->buffer, (size_t)(li->cursor - li->buffer));
	complete_line(&sh->tree, sh->cwd, line, &c);
	free(line);
	if (c.n == 0) {
		completion_free(&c);
		return result == CC_REDISPLAY ? CC_REDISPLAY : CC_REFRESH_BEEP;
	}
	common = completion_common_prefix(&c);
	if (c.n == 1 || strlen(common) > c.typed_len) {
		el_deletestr(el, (int)c.typed_len);
		el_insertstr(el, c.n == 1 ? c.word[0] : common);
		if (c.n == 1 && !c.no_space[0])
			el_insertstr(el, " ");
	} else {
		list_candidates(&c);
		result = CC_REDISPLAY;
	}
	free(common);
	completion_free(&c);
	return result;
}

static char *history_file(void)
{
	const char *home = getenv("HOME");
	struct passwd *pw;
	char *path;

	if ((!home || !*home) && (pw = getpwuid(getuid())))
		home = pw->pw_dir;
	if (!home || !*home || asprintf(&path, "%s/%s", home, HISTORY_FILE) < 0)
		return NULL;
	return path;
}

/* The history may hold CHAP secrets: the file is the user's alone. */
static void save_history(struct shell *sh)
{
	HistEvent ev;
	int fd;

	if (!sh->history_path)
		return;
	fd = open(sh->history_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	if (fd < 0 || history(sh->hist, &ev, H_SAVE, sh->history_path) < 0) {
		fprintf(stderr, "gwcli: cannot write the history file %s: %s\n", sh->history_path,
			strerror(errno));
		free(sh->history_path);         /* say it once */
		sh->history_path = NULL;
	}
}

static void shell_init(struct shell *sh, const struct cli *cli)
{
	HistEvent ev;

	memset(sh, 0, sizeof(*sh));
	sh->cli = cli;
	sh->cwd = xstrdup("/");
	sh->hist = history_init();
	history(sh->hist, &ev, H_SETSIZE, HISTORY_ENTRIES);
	history(sh->hist, &ev, H_SETUNIQUE, 1);
	sh->history_path = history_file();
	if (sh->history_path)
		history(sh->hist, &ev, H_LOAD, sh->history_path);      /* none yet is fine */
	sh->el = el_init("gwcli", stdin, stdout, stderr);
	el_set(sh->el, EL_CLIENTDATA, sh);
	el_set(sh->el, EL_PROMPT, prompt);
	el_set(sh->el, EL_EDITOR, "emacs");
	el_set(sh->el, EL_SIGNAL, 1);
	el_set(sh->el, EL_HIST, history, sh->hist);
	/* el_wset: the narrow EL_ADDFN copies both strings and never frees them. */
	el_wset(sh->el, EL_ADDFN, L"gwcli-complete", L"complete a command, path, name or option", complete_key);
	el_set(sh->el, EL_BIND, "^I", "gwcli-complete", NULL);
	el_source(sh->el, NULL);        /* the user's ~/.editrc, if any */
}

static void shell_end(struct shell *sh)
{
	el_end(sh->el);
	history_end(sh->hist);
	tree_free(&sh->tree);
	free(sh->cwd);
	free(sh->previous);
	free(sh->history_path);
}

int gwcli_shell(const struct cli *cli)
{
	struct sigaction interrupt = { .sa_handler = on_sigint }, dflt = { .sa_handler = SIG_DFL };
	struct shell sh;
	Tokenizer *tok = tok_init(NULL);
	bool go_on = true;

	shell_init(&sh, cli);
	printf("gwcli shell: 'help' lists what you can type, TAB completes, Ctrl-D leaves.\n");
	fflush(stdout);
	tree_refresh(&sh.tree, cli);    /* on failure the reason is printed; commands still run */
	while (go_on) {
		const char *line;
		int count, argc, status;
		const char **argv;
		char *entry;
		HistEvent ev;

		/* No SA_RESTART: Ctrl-C ends the read, and drops the line. */
		interrupted_at_prompt = 0;
		sigaction(SIGINT, &interrupt, NULL);
		line = el_gets(sh.el, &count);
		sigaction(SIGINT, &dflt, NULL);
		if (!line && interrupted_at_prompt) {
			printf("\n");
			continue;
		}
		if (!line || count <= 0) {      /* Ctrl-D */
			printf("\n");
			break;
		}
		tok_reset(tok);
		status = tok_str(tok, line, &argc, &argv);
		if (status != 0) {
			fprintf(stderr, "gwcli: %s\n", status > 0 ? "unmatched quote" : "cannot split the line");
			continue;
		}
		if (argc == 0)
			continue;
		/* kept without its newline and trailing blanks */
		entry = xstrdup(line);
		for (size_t len = strlen(entry); len && strchr(" \t\r\n", entry[len - 1]); len--)
			entry[len - 1] = '\0';
		history(sh.hist, &ev, H_ENTER, entry);
		free(entry);
		save_history(&sh);
		go_on = run_line(&sh, argc, (char **)argv);
	}
	tok_end(tok);
	shell_end(&sh);
	return 0;
}
