/* Every triangulate subcommand: its entry point and the table in cmd.c that
 * dispatches to it (one row per command). A command gets argv with its own
 * name at argv[0] and returns the process exit code. Adding a command is one
 * prototype here, one row in cmd.c and one cmd_<name>.c in its subsystem. */
#ifndef FM_TRIANGULATE_CMD_H
#define FM_TRIANGULATE_CMD_H

#include "opts.h"

#include <stddef.h>

struct cmd {
	const char *name;
	int (*run)(int argc, char **argv);
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
