/* Subcommand entry points of triangulate, for the table in cmd.c, and the
 * input loading the commands share. */
#ifndef FM_TRIANGULATE_CMD_LOCALIZE_H
#define FM_TRIANGULATE_CMD_LOCALIZE_H

#include <stddef.h>

struct obs_set;
struct inventory;

int cmd_localize(int argc, char **argv);
int cmd_simulate(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_plan(int argc, char **argv);

/* Read an observations file and (if inv_path) an inventory file. Returns 0,
 * or -1 with a reason naming the file (and line) in err. */
int localize_inputs_load(const char *obs_path, const char *inv_path,
			 struct obs_set **obs, struct inventory **inv,
			 char *err, size_t errlen);

#endif
