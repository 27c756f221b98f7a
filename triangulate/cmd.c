/* The table of triangulate's subcommands; adding a command is one line here
 * and one cmd_<name>.c file. */
#include "cmd.h"

#include <stddef.h>

const struct cmd cmd_table[] = {
	{ "localize", cmd_localize, "name faulty links, devices, hosts from observations" },
	{ "simulate", cmd_simulate, "write observations, inventory, truth of a simulated fabric" },
	{ "score", cmd_score, "score localization methods against a simulator truth" },
	{ "plan", cmd_plan, "pick probe targets so every link is seen by several probers" },
	{ "watch", cmd_watch, "localize every interval and alert on persistent suspects" },
	{ "device", cmd_device, "is this device dropping? loss now and over hours, links, pairs, verdict" },
	{ "link", cmd_link, "is this link dropping? loss now and over hours, evidence, verdict" },
	{ "suspects", cmd_suspects, "suspect history: opened, last seen, closed" },
	{ "report", cmd_report, "fabric health report: index.html and summary.json for a day" },
	{ "serve", cmd_serve, "the fabric page live over HTTP: heatmap, suspects, drill-downs, JSON API" },
	{ "inventory", cmd_inventory, "load the fabric inventory into the store (every command uses it)" },
	{ "export", cmd_export, "write a window of the collector's database as an observations file" },
	{ "import", cmd_import, "load an observations file into a store as one window" },
	{ NULL, NULL, NULL },
};
