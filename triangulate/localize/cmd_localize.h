/* The input loading the localize-family commands share (their entry points
 * are in cmd.h). */
#ifndef FM_TRIANGULATE_CMD_LOCALIZE_H
#define FM_TRIANGULATE_CMD_LOCALIZE_H

#include <stddef.h>

struct obs_set;
struct inventory;
struct infer_cfg;

/* The inference settings a localizing command runs with: the defaults'
 * one home (infer_cfg_default), then its --background-loss and --alpha
 * where given (> 0). */
void localize_infer_cfg_set(struct infer_cfg *icfg, double background_loss, double alpha);

/* Read an observations file and (if inv_path) an inventory file. Returns 0,
 * or -1 with a reason naming the file (and line) in err. */
int localize_inputs_load(const char *obs_path, const char *inv_path,
			 struct obs_set **obs, struct inventory **inv,
			 char *err, size_t errlen);

#endif
