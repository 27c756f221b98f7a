/* Every triangulate subcommand: its entry point and the table in cmd.c that
 * dispatches to it (one row per command). A command gets argv with its own
 * name at argv[0] and returns the process exit code. Adding a command is one
 * name on its subsystem's line here, one row in cmd.c and one cmd_<name>.c
 * in its subsystem. */
#ifndef FM_TRIANGULATE_CMD_H
#define FM_TRIANGULATE_CMD_H

#include "opts.h"

#include <stddef.h>

/* A command's entry point. */
typedef int cmd_fn(int argc, char **argv);

struct cmd {
	const char *name;
	cmd_fn *run;
	const char *help;
};

extern const struct cmd cmd_table[]; /* ends with a row whose name is NULL */

/* --store's help where the store is all a command reads. */
#define CMD_STORE_HELP "the store: PATH, sqlite:PATH or clickhouse://HOST:PORT/DB (required)"

/* The store option's two spellings, --store URL and -d/--db URL, both
 * writing the const char * field of struct type; help is --store's. */
#define CMD_STORE_OPTS(type, field, help)                                   \
	{ "store", 0, OPT_STR, offsetof(type, field), 0, 0, NULL, "URL", help }, \
	{ "db", 'd', OPT_STR, offsetof(type, field), 0, 0, NULL, "URL",         \
	  "the same as --store" }

/* The commands, by subsystem folder. */
cmd_fn cmd_localize, cmd_export, cmd_import; /* localize/ */
cmd_fn cmd_simulate, cmd_score;               /* simulate/ */
cmd_fn cmd_plan;                              /* plan/ */
cmd_fn cmd_watch;                             /* watch/ */
cmd_fn cmd_device, cmd_link, cmd_suspects, cmd_inventory; /* query/ */
cmd_fn cmd_report;                            /* report/ */
cmd_fn cmd_serve;                             /* serve/ */

#endif
