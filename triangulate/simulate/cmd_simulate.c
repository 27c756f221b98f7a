/* triangulate simulate: writes PREFIX.obs, PREFIX.inv and PREFIX.truth for a
 * simulated Clos fabric with injected faults (see sim.h). */
#include "cmd_localize.h"
#include "cmd.h"
#include "opts.h"
#include "sim.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

struct simulate_cfg {
	struct sim_cfg sim;
	const char *out; /* file prefix */
	int no_links;    /* leave link lines out of the inventory */
};

#define SIMF(f) offsetof(struct simulate_cfg, sim.f)

static const struct opt_spec simulate_opts[] = {
	{ "out", 'o', OPT_STR, offsetof(struct simulate_cfg, out), 0, 0, NULL,
	  "PREFIX", "write PREFIX.obs, PREFIX.inv, PREFIX.truth" },
	{ "tiers", 0, OPT_INT, SIMF(tiers), 2, 3, "3", "N",
	  "2: leaf-spine, 3: fat tree" },
	{ "radix", 0, OPT_INT, SIMF(k), 2, 128, "8", "K", "switch radix (even)" },
	{ "hosts-per-tor", 0, OPT_INT, SIMF(hosts_per_tor), 1, 64, "1", "N",
	  "probing hosts under each edge switch" },
	{ "flows", 0, OPT_INT, SIMF(flows), 0, 1e8, "10000", "N", "flows to probe" },
	{ "probes", 0, OPT_INT, SIMF(probes), 1, 1e9, "1000", "N",
	  "probes per flow in the window" },
	{ "faults", 0, OPT_INT, SIMF(faults), 0, 100000, "1", "N",
	  "concurrent faults" },
	{ "kinds", 0, OPT_STR, SIMF(kinds), 0, 0, "link", "LIST",
	  "fault kinds, comma-separated: link,device,blackhole,host" },
	{ "loss-min", 0, OPT_DOUBLE, SIMF(loss_min), 1e-9, 1, "0.0005", "RATE",
	  "smallest fault loss (log-uniform)" },
	{ "loss-max", 0, OPT_DOUBLE, SIMF(loss_max), 1e-9, 1, "1", "RATE",
	  "largest fault loss" },
	{ "bg-min", 0, OPT_DOUBLE, SIMF(bg_min), 0, 0.1, "1e-5", "RATE",
	  "smallest healthy-link loss (log-uniform: above 0)" },
	{ "bg-max", 0, OPT_DOUBLE, SIMF(bg_max), 1e-12, 0.1, "1e-4", "RATE",
	  "largest healthy-link loss" },
	{ "bg-uniform", 0, OPT_FLAG, SIMF(bg_uniform), 0, 0, NULL, NULL,
	  "healthy-link loss uniform in [bg-min, bg-max], not log-uniform" },
	{ "blackhole-share", 0, OPT_DOUBLE, SIMF(blackhole_share), 0, 1, "0", "R",
	  "share of its flows a blackhole kills (0: drawn from 10-70%)" },
	{ "reply-loss", 0, OPT_FLAG, SIMF(reply_loss), 0, 0, NULL, NULL,
	  "replies take the reverse path and can be lost there (lost_rev)" },
	{ "stale-ratio", 0, OPT_DOUBLE, SIMF(stale_ratio), 0, 1, "0", "R",
	  "share of flows whose path changed mid-window" },
	{ "star-ratio", 0, OPT_DOUBLE, SIMF(star_ratio), 0, 1, "0", "R",
	  "share of router hops that do not answer ('*')" },
	{ "unknown-ratio", 0, OPT_DOUBLE, SIMF(unknown_ratio), 0, 1, "0", "R",
	  "share of flows with an unknown path ('-')" },
	{ "seed", 0, OPT_INT, SIMF(seed), 0, 9e18, "1", "N", "random seed" },
	{ "plan", 0, OPT_STR, SIMF(plan), 0, 0, NULL, "FILE",
	  "probe the pairs and flow counts of a plan instead of --flows random pairs" },
	{ "no-inventory-links", 0, OPT_FLAG, offsetof(struct simulate_cfg, no_links),
	  0, 0, NULL, NULL, "omit link lines from the inventory" },
};

static FILE *simulate_open(const char *prefix, const char *ext, char *path,
			   size_t len)
{
	snprintf(path, len, "%s.%s", prefix, ext);
	return fopen(path, "w");
}

static const struct opts_cmd simulate_cmd =
	OPTS_CMD("triangulate simulate", "triangulate simulate --out PREFIX [options]",
		 "Simulate probing a Clos fabric with injected faults.", simulate_opts);

int cmd_simulate(int argc, char **argv)
{
	struct simulate_cfg cfg = { 0 };
	FILE *obs = NULL, *inv = NULL, *truth = NULL;
	char err[512], path[3][4096];
	long long placed = 0;
	int rc;

	if (opts_cmd_parse(&simulate_cmd, &cfg, argc, argv, &rc) < 0)
		return rc;
	if (!cfg.out)
		return opts_cmd_refuse(&simulate_cmd, "--out is required");
	if (cfg.sim.loss_min > cfg.sim.loss_max || cfg.sim.bg_min > cfg.sim.bg_max)
		return opts_cmd_refuse(&simulate_cmd, "a minimum exceeds its maximum");
	cfg.sim.inventory_links = !cfg.no_links;
	if (!(obs = simulate_open(cfg.out, "obs", path[0], sizeof(path[0]))) ||
	    !(inv = simulate_open(cfg.out, "inv", path[1], sizeof(path[1]))) ||
	    !(truth = simulate_open(cfg.out, "truth", path[2], sizeof(path[2])))) {
		snprintf(err, sizeof(err), "%s.*: %s", cfg.out, strerror(errno));
		goto fail;
	}
	if (sim_run(&cfg.sim, obs, inv, truth, &placed, err, sizeof(err)) < 0)
		goto fail;
	if (fclose(obs) | fclose(inv) | fclose(truth)) {
		obs = inv = truth = NULL;
		snprintf(err, sizeof(err), "%s.*: %s", cfg.out, strerror(errno));
		goto fail;
	}
	if (placed < cfg.sim.faults)
		fprintf(stderr, "triangulate simulate: placed %lld of %lld faults "
				"(no room without sharing a device)\n",
			placed, cfg.sim.faults);
	return 0;
fail:
	fprintf(stderr, "triangulate simulate: %s\n", err);
	if (obs)
		fclose(obs);
	if (inv)
		fclose(inv);
	if (truth)
		fclose(truth);
	return 1;
}
