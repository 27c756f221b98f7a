/* triangulate plan: pick each prober's targets and flow counts from the
 * inventory's topology (see plan.h) and print the plan. */
#include "cmd_localize.h"
#include "cmd.h"
#include "inventory.h"
#include "opts.h"
#include "outfile.h"
#include "plan.h"

#include <stddef.h>
#include <stdio.h>

struct plan_cmd_cfg {
	struct plan_cfg plan;
	const char *inventory; /* inventory with link lines */
	const char *out;       /* plan file, "-" for stdout */
};

#define PLANF(f) offsetof(struct plan_cmd_cfg, plan.f)

static const struct opt_spec plan_opts[] = {
	{ "inventory", 'i', OPT_STR, offsetof(struct plan_cmd_cfg, inventory), 0, 0,
	  NULL, "FILE", "inventory with link lines (the topology)" },
	{ "out", 'o', OPT_STR, offsetof(struct plan_cmd_cfg, out), 0, 0, "-", "FILE",
	  "plan file" },
	{ "probers-per-link", 0, OPT_INT, PLANF(probers_per_link), 1, 1000, "3", "N",
	  "distinct probers wanted across every directed link" },
	{ "flows-per-pair", 0, OPT_INT, PLANF(flows_per_pair), 1, 4096, "8", "N",
	  "flows (source ports) per prober-target pair" },
	{ "candidates", 0, OPT_INT, PLANF(candidates), 1, 1000, "8", "N",
	  "targets sampled per prober and round" },
	{ "max-targets", 0, OPT_INT, PLANF(max_targets), 1, 100000, "64", "N",
	  "most targets one prober gets" },
	{ "seed", 0, OPT_INT, PLANF(seed), 0, 9e18, "1", "N", "sampling seed" },
};

static const struct opts_cmd plan_cmd =
	OPTS_CMD("triangulate plan", "triangulate plan --inventory FILE [--out FILE]",
		 "Choose probe targets so every link is seen by several probers.", plan_opts);

/* What plan_write needs, handed through outfile_write. */
struct plan_cmd_write {
	const struct inventory *inv;
	const struct plan_cfg *plan;
	struct plan_stats *st;
};

static int plan_cmd_write_cb(FILE *f, void *arg, char *err, size_t errlen)
{
	const struct plan_cmd_write *pw = arg;

	return plan_write(pw->inv, pw->plan, f, pw->st, err, errlen);
}

int cmd_plan(int argc, char **argv)
{
	struct plan_cmd_cfg cfg = { 0 };
	struct inventory *inv;
	struct plan_stats st;
	struct plan_cmd_write pw;
	char err[4608];
	int rc;

	if (opts_cmd_parse(&plan_cmd, &cfg, argc, argv, &rc) < 0)
		return rc;
	if (!cfg.inventory)
		return opts_cmd_refuse(&plan_cmd, "--inventory is required");
	if (!(inv = inventory_file_open(cfg.inventory, err, sizeof(err))))
		return opts_cmd_fail(&plan_cmd, err);
	pw = (struct plan_cmd_write){ inv, &cfg.plan, &st };
	rc = outfile_write(cfg.out, 0, plan_cmd_write_cb, &pw, err, sizeof(err));
	inventory_free(inv);
	if (rc < 0)
		return opts_cmd_fail(&plan_cmd, err);
	fprintf(stderr,
		"triangulate plan: %zu hosts, %zu directed links; %zu pairs, %zu flows "
		"(a full mesh has %zu pairs); %zu links under %lld probers\n",
		st.hosts, st.links, st.pairs, st.flows, st.hosts * (st.hosts - 1),
		st.links_short, cfg.plan.probers_per_link);
	return 0;
}
