/* The table of triangulate's subcommands; adding a command is one line here
 * and one cmd_<name>.c file. */
#include "cmd.h"
#include "cmd_localize.h"
#include "cmd_watch.h"

#include <stddef.h>

const struct cmd cmd_table[] = {
	{ "localize", cmd_localize, "name faulty links, devices, hosts from observations" },
	{ "simulate", cmd_simulate, "write observations, inventory, truth of a simulated fabric" },
	{ "score", cmd_score, "score localization methods against a simulator truth" },
	{ "watch", cmd_watch, "localize every interval and alert on persistent suspects" },
	{ NULL, NULL, NULL },
};
