/* Every triangulate subcommand: its entry point and the table in cmd.c that
 * dispatches to it (one row per command). A command gets argv with its own
 * name at argv[0] and returns the process exit code. Adding a command is one
 * prototype here, one row in cmd.c and one cmd_<name>.c in its subsystem. */
#ifndef FM_TRIANGULATE_CMD_H
#define FM_TRIANGULATE_CMD_H

struct cmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
};

extern const struct cmd cmd_table[]; /* ends with a row whose name is NULL */

/* localize/ */
int cmd_localize(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);
/* simulate/ */
int cmd_simulate(int argc, char **argv);
int cmd_score(int argc, char **argv);
/* plan/ */
int cmd_plan(int argc, char **argv);
/* watch/ */
int cmd_watch(int argc, char **argv);
/* query/ */
int cmd_device(int argc, char **argv);
int cmd_link(int argc, char **argv);
int cmd_suspects(int argc, char **argv);
int cmd_inventory(int argc, char **argv);
/* report/ */
int cmd_report(int argc, char **argv);
/* serve/ */
int cmd_serve(int argc, char **argv);

#endif
