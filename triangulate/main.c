/* triangulate: entry point; dispatches subcommands from one table, in the
 * style of iproute2's ip.c. Each subcommand lives in its own cmd_*.c file. */
#include "cmd.h"
#include "version.h"

#include <stdio.h>
#include <string.h>

static void triangulate_usage(FILE *out)
{
	fprintf(out, "usage: triangulate COMMAND [options]\n\ncommands:\n");
	for (const struct cmd *c = cmd_table; c->name; c++)
		fprintf(out, "  %-12s %s\n", c->name, c->help);
	fprintf(out, "\n'triangulate COMMAND --help' shows a command's options.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		triangulate_usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		triangulate_usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("triangulate (faultmesh) %s\n", FM_VERSION);
		return 0;
	}
	for (const struct cmd *c = cmd_table; c->name; c++)
		if (!strcmp(argv[1], c->name))
			return c->run(argc - 1, argv + 1);
	fprintf(stderr, "triangulate: unknown command '%s'\n", argv[1]);
	triangulate_usage(stderr);
	return 2;
}
