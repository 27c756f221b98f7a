/* collector: entry point; parses flags from the option table and wires the parts.
 * The work itself lives in the other files of this folder. */
#include "log.h"
#include "opts.h"

#include <stddef.h>

struct collector_cfg {
	int verbose; /* log debug messages */
};

static const struct opt_spec collector_opts[] = {
	{ "verbose", 'v', OPT_FLAG, offsetof(struct collector_cfg, verbose), 0, 0, NULL, NULL, "log debug messages" },
};

int main(int argc, char **argv)
{
	struct collector_cfg cfg = { 0 };
	char err[256];
	int rc = opts_parse(collector_opts, OPTS_LEN(collector_opts), &cfg, argc, argv, err, sizeof(err));
	int code = opts_main_result(rc, "collector", "collector [options]", NULL, collector_opts,
				    OPTS_LEN(collector_opts), err);

	if (code >= 0)
		return code;
	log_init("collector", cfg.verbose ? LOG_DEBUG : LOG_INFO);
	return 0;
}
