/* The input loading the localize-family commands share (their entry points
 * are in cmd.h). */
#ifndef FM_TRIANGULATE_CMD_LOCALIZE_H
#define FM_TRIANGULATE_CMD_LOCALIZE_H

#include <stddef.h>

struct obs_set;
struct inventory;

/* Read an observations file and (if inv_path) an inventory file. Returns 0,
 * or -1 with a reason naming the file (and line) in err. */
int localize_inputs_load(const char *obs_path, const char *inv_path,
			 struct obs_set **obs, struct inventory **inv,
			 char *err, size_t errlen);

#endif
