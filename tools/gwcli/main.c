/* gwcli's entry: global options, then one command (gwcli_run) or, without
 * one on a terminal, the interactive shell (gwcli_shell). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gwcli.h"

int main(int argc, char **argv)
{
	struct cli cli = { .socket_path = getenv("SANGW_SOCKET"), .timeout_s = GWCLI_DEFAULT_TIMEOUT };
	int i;

	if (!cli.socket_path || !*cli.socket_path)
		cli.socket_path = GWCLI_DEFAULT_SOCKET;
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--socket") == 0 || strcmp(argv[i], "-s") == 0) {
			if (++i >= argc) {
				fprintf(stderr, "gwcli: --socket needs a path\n");
				return EXIT_USAGE;
			}
			cli.socket_path = argv[i];
		} else if (strncmp(argv[i], "--socket=", 9) == 0) {
			cli.socket_path = argv[i] + 9;
		} else if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-j") == 0) {
			cli.json = true;
		} else if (strcmp(argv[i], "--timeout") == 0 || strncmp(argv[i], "--timeout=", 10) == 0) {
			const char *value = argv[i][9] == '=' ? argv[i] + 10 : (i + 1 < argc ? argv[++i] : "");
			uint64_t seconds;

			if (!parse_number(value, 86400, &seconds) || seconds == 0) {
				fprintf(stderr, "gwcli: --timeout needs a number of seconds (1 to 86400)\n");
				return EXIT_USAGE;
			}
			cli.timeout_s = (int)seconds;
			cli.timeout_given = true;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			gwcli_usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "gwcli: unknown option %s\n", argv[i]);
			gwcli_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		/* No command: the shell on a terminal; a script gets usage and 2. */
#ifdef GWCLI_SHELL
		if (isatty(STDIN_FILENO))
			return gwcli_shell(&cli);
#else
		if (isatty(STDIN_FILENO))
			fprintf(stderr, "gwcli: built without libedit: no interactive shell\n");
#endif
		gwcli_usage(stderr);
		return EXIT_USAGE;
	}
	return gwcli_run(&cli, argc - i, argv + i);
}
