/* The table of triangulate's subcommands; adding a command is one line here
 * and one cmd_<name>.c file. */
#include "cmd.h"

#include <stddef.h>

const struct cmd cmd_table[] = {
	{ NULL, NULL, NULL },
};
