/* The triangulate subcommand table: one row per command, in cmd.c.
 * A command gets argv with its own name at argv[0] and returns an exit code. */
#ifndef FM_TRIANGULATE_CMD_H
#define FM_TRIANGULATE_CMD_H

struct cmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
};

extern const struct cmd cmd_table[]; /* ends with a row whose name is NULL */

#endif
