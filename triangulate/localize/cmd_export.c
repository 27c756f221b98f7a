/* triangulate export: the collector's database over a window out as an
 * observations v2 file (flow results joined with their latest paths). */
#include "db_source.h"
#include "cmd.h"
#include "observations.h"
#include "opts.h"
#include "outfile.h"
#include "clock.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct export_cfg {
	const char *db;           /* the collector's SQLite database */
	long long since_ms;       /* window start, this long before now */
	long long until_ms;       /* window end, this long before now */
	const char *observations; /* output file; "-" is stdout */
};

static const struct opt_spec export_opts[] = {
	CMD_STORE_OPTS(struct export_cfg, db, CMD_STORE_HELP),
	{ "since", 's', OPT_MS, offsetof(struct export_cfg, since_ms), 0,
	  366.0 * 86400000, "10m", "DUR", "window start, this long ago" },
	{ "until", 'u', OPT_MS, offsetof(struct export_cfg, until_ms), 0,
	  366.0 * 86400000, "0s", "DUR", "window end, this long ago" },
	{ "observations", 0, OPT_STR, offsetof(struct export_cfg, observations),
	  0, 0, "-", "FILE", "where to write the observations file" },
};

/* Write every flow of the set (arg) as an observations line. */
static int export_obs_write(FILE *out, void *arg, char *err, size_t errlen)
{
	const struct obs_set *obs = arg;
	const char *hops[OBS_HOPS_MAX];

	(void)err, (void)errlen; /* a failed write: errno says why */

	if (obs_header_write(out) < 0)
		return -1;
	for (size_t i = 0; i < obs_set_flow_count(obs); i++) {
		const struct obs_flow *f = obs_set_flow(obs, i);
		const uint32_t *ids = obs_set_flow_hops(obs, f);
		struct obs_row row = {
			.prober = obs_set_name(obs, f->prober),
			.target = obs_set_name(obs, f->target),
			.proto = f->proto,
			.sport = f->sport,
			.dport = f->dport,
			.sent = f->sent,
			.lost = f->lost,
			.lost_rev = f->lost_rev,
			.nhops = ids ? (int)f->nhops : -1,
			.hops = hops,
		};

		for (int h = 0; ids && h < row.nhops; h++)
			hops[h] = ids[h] == OBS_HOP_STAR ? "*" : obs_set_name(obs, ids[h]);
		if (obs_row_write(out, &row) < 0)
			return -1;
	}
	return 0;
}

static const struct opts_cmd export_cmd =
	OPTS_CMD("triangulate export",
		 "triangulate export --db DB [--since 10m] [--until 0s] [--observations FILE]",
		 "Write the flows of a time window from the collector's database "
		 "as an observations v2 file (schemas/observations.md).",
		 export_opts);

int cmd_export(int argc, char **argv)
{
	struct export_cfg cfg = { 0 };
	struct obs_set *obs = NULL;
	char err[4608];
	int64_t now_ms;
	int rc;

	if (opts_cmd_parse(&export_cmd, &cfg, argc, argv, &rc) < 0)
		return rc;
	if (!cfg.db)
		return opts_cmd_refuse(&export_cmd, "--db is required");
	if (cfg.until_ms > cfg.since_ms)
		return opts_cmd_refuse(&export_cmd, "--until must be more recent than --since");
	now_ms = clock_real_ms();
	if (!(obs = obs_set_new())) {
		snprintf(err, sizeof(err), "out of memory");
	} else if (db_source_load(cfg.db, now_ms - cfg.since_ms, now_ms - cfg.until_ms, obs, err,
				  sizeof(err)) >= 0 &&
		   outfile_write(cfg.observations, 0, export_obs_write, obs, err, sizeof(err)) == 0) {
		fprintf(stderr, "triangulate export: %zu flows written to %s\n",
			obs_set_flow_count(obs),
			strcmp(cfg.observations, "-") ? cfg.observations : "stdout");
		obs_set_free(obs);
		return 0;
	}
	obs_set_free(obs);
	return opts_cmd_fail(&export_cmd, err);
}
