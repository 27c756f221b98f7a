/* prober: entry point; parses flags from the option table and wires the parts.
 * The work itself lives in the other files of this folder. */
#include "log.h"
#include "opts.h"

#include <stddef.h>

struct prober_cfg {
	int verbose; /* log debug messages */
};

static const struct opt_spec prober_opts[] = {
	{ "verbose", 'v', OPT_FLAG, offsetof(struct prober_cfg, verbose), 0, 0, NULL, NULL, "log debug messages" },
};

int main(int argc, char **argv)
{
	struct prober_cfg cfg = { 0 };
	char err[256];
	int rc = opts_parse(prober_opts, OPTS_LEN(prober_opts), &cfg, argc, argv, err, sizeof(err));
	int code = opts_main_result(rc, "prober", "prober [options]", NULL, prober_opts,
				    OPTS_LEN(prober_opts), err);

	if (code >= 0)
		return code;
	log_init("prober", cfg.verbose ? LOG_DEBUG : LOG_INFO);
	return 0;
}
