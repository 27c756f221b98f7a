/* triangulate inventory load|show: put the fabric inventory into the store,
 * where every command finds it, and show which one is there. */
#include "query.h"
#include "cmd.h"

#include "inventory.h"
#include "inventory_source.h"
#include "opts.h"
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct inventory_cfg {
	const char *db; /* the collector's database */
};

static const struct opt_spec inventory_opts[] = {
	CMD_STORE_OPTS(struct inventory_cfg, db, CMD_STORE_HELP),
};

static int inventory_show(const char *db)
{
	struct store_inventory si;
	struct store *s;
	char err[512], t[32];
	const char *file;
	time_t sec;
	int rc;

	if (store_url_is_file(db, &file) && access(file, R_OK) < 0) {
		fprintf(stderr, "triangulate inventory: %s: %s\n", file, strerror(errno));
		return 1;
	}
	if (!(s = store_open(NULL, db, err, sizeof(err)))) {
		fprintf(stderr, "triangulate inventory: %s\n", err);
		return 1;
	}
	rc = store_inventory_get(s, &si);
	if (rc < 0)
		fprintf(stderr, "triangulate inventory: %s: %s\n", db, store_error(s));
	store_close(s);
	if (rc < 0)
		return 1;
	if (rc == 0) {
		fprintf(stderr, "triangulate inventory: no inventory in %s; load one with "
			"'triangulate inventory load FILE --db %s'\n", db, db);
		return 1;
	}
	sec = (time_t)(si.loaded_ms / 1000);
	strftime(t, sizeof(t), "%Y-%m-%d %H:%M:%SZ", gmtime(&sec));
	printf("# loaded from %s at %s\n", si.source, t);
	fwrite(si.text, 1, si.len, stdout);
	free(si.text);
	return fflush(stdout) ? 1 : 0;
}

static const struct opts_cmd inventory_cmd =
	OPTS_CMD("triangulate inventory",
		 "triangulate inventory load FILE --db DB | inventory show --db DB",
		 "Load the fabric inventory (schemas/inventory.md) into the store, "
		 "where device, link, localize, watch and report find it; show "
		 "the one stored. Load again after a change.",
		 inventory_opts);

int cmd_inventory(int argc, char **argv)
{
	struct inventory_cfg cfg = { 0 };
	char err[512];
	int changed = 0;
	int rc, idx = opts_cmd_parse(&inventory_cmd, &cfg, argc, argv, &rc);

	if (idx < 0)
		return rc;
	if (!cfg.db || idx >= argc)
		return opts_cmd_usage_fail(&inventory_cmd);
	if (!strcmp(argv[idx], "show") && idx + 1 == argc)
		return inventory_show(cfg.db);
	if (strcmp(argv[idx], "load") || idx + 2 != argc)
		return opts_cmd_usage_fail(&inventory_cmd);
	if (inventory_source_load(argv[idx + 1], cfg.db, &changed, err, sizeof(err)) < 0) {
		fprintf(stderr, "triangulate inventory: %s\n", err);
		return 1;
	}
	printf("inventory %s %s %s\n", argv[idx + 1], changed ? "loaded into" : "unchanged in",
	       cfg.db);
	return 0;
}
