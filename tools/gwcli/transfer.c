/* export and import: the cluster-wide configuration as a document, and a
 * document applied back as one change (docs/management-api.md, "export"
 * and "import"). An export holds CHAP secrets: files are written 0600. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gwcli.h"

#define MAX_DOCUMENT (16u << 20)   /* sangwd's own limit for a configuration file */

/* text to path atomically (a temporary file renamed over it), mode 0600. */
static int write_private_file(const char *path, const char *text)
{
	size_t len = strlen(text), done = 0;
	char tmp[4096];
	int fd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		done += (size_t)n;
	}
	if (fchmod(fd, 0600) < 0 || fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		int e = errno;

		unlink(tmp);
		errno = e;
		return -1;
	}
	return 0;
fail:
	{
		int e = errno;

		if (fd >= 0)
			close(fd);
		unlink(tmp);
		errno = e;
	}
	return -1;
}

static size_t count_in_targets(json_object *targets, const char *key)
{
	size_t n = 0;

	for (size_t i = 0; targets && i < json_object_array_length(targets); i++) {
		json_object *list = array_of(json_object_array_get_idx(targets, i), key);

		n += list ? json_object_array_length(list) : 0;
	}
	return n;
}

int cmd_export(const struct cli *cli, int argc, char **argv)
{
	struct parsed p;
	json_object *req, *resp, *config, *targets, *error;
	const char *file, *text;
	char *doc = NULL;
	int r;

	if ((r = parse_args("export", argc, argv, NULL, &p)))
		return r;
	if (p.n_pos > 1)
		return command_usage("export", "too many arguments");
	file = p.n_pos ? p.pos[0] : "-";
	req = request_new("export");
	if (cli->json) {
		if (strcmp(file, "-") != 0) {
			json_object_put(req);
			return command_usage("export", "--json prints sangwd's answer on stdout: leave out FILE");
		}
		r = call(cli, req, NULL, NULL);
		json_object_put(req);
		return r;
	}
	resp = request(cli, req);
	json_object_put(req);
	if (!resp)
		return EXIT_REFUSED;
	if (!bool_of(resp, "ok") || !json_object_object_get_ex(resp, "config", &config) ||
	    json_object_get_type(config) != json_type_object) {
		fprintf(stderr, "gwcli: %s\n", json_object_object_get_ex(resp, "error", &error) ?
			json_object_get_string(error) : "sangwd sent no configuration");
		json_object_put(resp);
		return EXIT_REFUSED;
	}
	/* The same text for the same configuration: sangwd's order, one layout. */
	text = json_object_to_json_string_ext(config, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text || asprintf(&doc, "%s\n", text) < 0) {
		fprintf(stderr, "gwcli: out of memory\n");
		json_object_put(resp);
		return EXIT_REFUSED;
	}
	r = 0;
	if (strcmp(file, "-") == 0) {
		if (fputs(doc, stdout) == EOF || fflush(stdout) == EOF) {
			fprintf(stderr, "gwcli: cannot write the configuration: %s\n", strerror(errno));
			r = EXIT_REFUSED;
		}
	} else if (write_private_file(file, doc) < 0) {
		fprintf(stderr, "gwcli: cannot write %s: %s\n", file, strerror(errno));
		r = EXIT_REFUSED;
	} else {
		targets = array_of(config, "targets");
		printf("configuration exported to %s: %zu target%s, %zu LU%s, %zu ACL%s "
		       "(CHAP secrets included: keep it private)\n", file,
		       targets ? json_object_array_length(targets) : 0,
		       targets && json_object_array_length(targets) == 1 ? "" : "s",
		       count_in_targets(targets, "luns"), count_in_targets(targets, "luns") == 1 ? "" : "s",
		       count_in_targets(targets, "acls"), count_in_targets(targets, "acls") == 1 ? "" : "s");
	}
	free(doc);
	json_object_put(resp);
	return r;
}

/* The whole of FILE ("-": stdin), at most MAX_DOCUMENT bytes; NULL with
 * the reason printed. */
static char *read_document(const char *file, size_t *len)
{
	FILE *in = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
	size_t cap = 65536, used = 0;
	char *buf;

	if (!in) {
		fprintf(stderr, "gwcli: cannot read %s: %s\n", file, strerror(errno));
		return NULL;
	}
	if (!(buf = malloc(cap)))
		goto nomem;
	for (;;) {
		size_t n;

		if (used + 1 >= cap) {
			char *bigger;

			if (cap > MAX_DOCUMENT) {
				fprintf(stderr, "gwcli: %s is larger than %u bytes\n", file, MAX_DOCUMENT);
				goto fail;
			}
			if (!(bigger = realloc(buf, cap * 2)))
				goto nomem;
			buf = bigger;
			cap *= 2;
		}
		n = fread(buf + used, 1, cap - used - 1, in);
		used += n;
		if (n == 0) {
			if (ferror(in)) {
				fprintf(stderr, "gwcli: cannot read %s: %s\n", file, strerror(errno));
				goto fail;
			}
			break;
		}
	}
	buf[used] = '\0';
	if (in != stdin)
		fclose(in);
	*len = used;
	return buf;
nomem:
	fprintf(stderr, "gwcli: out of memory\n");
fail:
	free(buf);
	if (in != stdin)
		fclose(in);
	return NULL;
}

/* FILE's text as one JSON value; NULL with the place of the error printed. */
static json_object *parse_document(const char *file, const char *text, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	enum json_tokener_error e;
	json_object *doc;
	size_t end;

	if (!tok) {
		fprintf(stderr, "gwcli: out of memory\n");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	doc = json_tokener_parse_ex(tok, text, (int)len);
	e = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	while (doc && end < len && strchr(" \t\r\n", text[end]))
		end++;
	if (!doc || end < len || memchr(text, '\0', len)) {
		unsigned line = 1, column = 1;

		for (size_t i = 0; i < end && i < len; i++, column++)
			if (text[i] == '\n')
				line++, column = 0;
		fprintf(stderr, "gwcli: %s is not a JSON document: %s at line %u, column %u\n", file,
			doc ? "text after the document" : e == json_tokener_continue ? "it ends too early"
										   : json_tokener_error_desc(e),
			line, column);
		json_object_put(doc);
		doc = NULL;
	}
	json_tokener_free(tok);
	return doc;
}

static void print_diff(json_object *resp)
{
	static const struct { const char *action, *sign; } kinds[] = {
		{ "add", "+" }, { "change", "~" }, { "remove", "-" },
	};
	json_object *diff = array_of(resp, "diff"), *summary = NULL;
	long long add, change, remove;

	for (size_t i = 0; diff && i < json_object_array_length(diff); i++) {
		json_object *e = json_object_array_get_idx(diff, i);
		const char *sign = "?";

		for (size_t k = 0; k < 3; k++)
			if (strcmp(str_of(e, "action"), kinds[k].action) == 0)
				sign = kinds[k].sign;
		printf("%s %s  %s\n", sign, str_of(e, "path"), str_of(e, "what"));
	}
	json_object_object_get_ex(resp, "summary", &summary);
	add = (long long)int_of(summary, "add");
	change = (long long)int_of(summary, "change");
	remove = (long long)int_of(summary, "remove");
	if (bool_of(resp, "dry_run"))
		printf("would add %lld, change %lld, remove %lld\n", add, change, remove);
	else
		printf("added %lld, changed %lld, removed %lld (configuration version %lld)\n", add, change,
		       remove, (long long)int_of(resp, "config_version"));
}

int cmd_import(const struct cli *cli, int argc, char **argv)
{
	static const struct opt_spec opts[] = { { "dry-run", 0 }, { NULL, 0 } };
	json_object *doc, *req, *resp, *error;
	const char *file;
	struct parsed p;
	char *text;
	size_t len;
	int r;

	if ((r = parse_args("import", argc, argv, opts, &p)))
		return r;
	if (p.n_pos != 1)
		return command_usage("import", p.n_pos ? "too many arguments" : "which file? ('-': stdin)");
	file = p.pos[0];
	if (!(text = read_document(file, &len)))
		return EXIT_REFUSED;
	doc = parse_document(strcmp(file, "-") == 0 ? "stdin" : file, text, len);
	free(text);
	if (!doc)
		return EXIT_REFUSED;
	req = request_new("import");
	json_object_object_add(req, "config", doc);
	json_object_object_add(req, "dry_run", json_object_new_boolean(find_opt(&p, "dry-run") >= 0));
	if (cli->json) {
		r = call(cli, req, NULL, NULL);
		json_object_put(req);
		return r;
	}
	resp = request(cli, req);
	json_object_put(req);
	if (!resp)
		return EXIT_REFUSED;
	if (!bool_of(resp, "ok")) {
		/* sangwd names the JSON path inside the document */
		fprintf(stderr, "gwcli: %s: %s\n", strcmp(file, "-") == 0 ? "stdin" : file,
			json_object_object_get_ex(resp, "error", &error) ? json_object_get_string(error)
									: "refused (no reason given)");
		json_object_put(resp);
		return EXIT_REFUSED;
	}
	print_diff(resp);
	json_object_put(resp);
	return 0;
}
