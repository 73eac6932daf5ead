/* Arguments of one command: positionals and the options it knows. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gwcli.h"

int parse_args(const char *cmd, int argc, char **argv, const struct opt_spec *specs,
		      struct parsed *out)
{
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < argc; i++) {
		const struct opt_spec *s = NULL;

		if (strncmp(argv[i], "--", 2) != 0 || strcmp(argv[i], "--") == 0) {
			if (strcmp(argv[i], "--") == 0) {
				for (i++; i < argc; i++) {
					if (out->n_pos == 8)
						return command_usage(cmd, "too many arguments");
					out->pos[out->n_pos++] = argv[i];
				}
				break;
			}
			if (out->n_pos == 8)
				return command_usage(cmd, "too many arguments");
			out->pos[out->n_pos++] = argv[i];
			continue;
		}
		for (const struct opt_spec *p = specs; p && p->name; p++)
			if (strcmp(argv[i] + 2, p->name) == 0)
				s = p;
		if (!s)
			return command_usage(cmd, "unknown option %s", argv[i]);
		if (i + s->values >= argc)
			return command_usage(cmd, "%s needs %d value%s", argv[i], s->values, s->values > 1 ? "s" : "");
		if (out->n_opt == 32)
			return command_usage(cmd, "too many options");
		out->opt_name[out->n_opt] = s->name;
		for (int v = 0; v < s->values; v++)
			out->opt_val[out->n_opt][v] = argv[++i];
		out->n_opt++;
	}
	return 0;
}

int find_opt(const struct parsed *p, const char *name)
{
	int found = -1;

	for (int i = 0; i < p->n_opt; i++)
		if (strcmp(p->opt_name[i], name) == 0)
			found = i;
	return found;
}

bool parse_number(const char *text, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!*text || *text == '-' || *text == '+')
		return false;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}
