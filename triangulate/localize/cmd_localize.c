/* triangulate localize: observations (a file, or the collector's database
 * over a window) + inventory in, ranked suspects out (table or JSON), by
 * faultmesh's inference or a baseline method. */
#include "cmd_localize.h"
#include "cmd.h"
#include "infer.h"
#include "inventory.h"
#include "inventory_source.h"
#include "method.h"
#include "model.h"
#include "observations.h"
#include "opts.h"
#include "output.h"
#include "window.h"
#include "clock.h"

#include <malloc.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define LOCALIZE_MMAP_MIN_BYTES (32 << 20)   /* glibc's largest mmap threshold */
#define LOCALIZE_TRIM_MIN_BYTES (1 << 30)    /* never give the heap back mid-run */
#define LOCALIZE_HEAP_STEP_BYTES (64 << 20)  /* grow the heap by this much at once */

struct localize_cfg {
	const char *observations; /* observations file (v1 or v2) */
	const char *db;           /* or the collector's database ... */
	long long window_ms;      /* ... over this window ending now */
	const char *inventory;    /* inventory v1 file (optional) */
	int json;                 /* JSON instead of the table */
	const char *method;       /* faultmesh, flock, 007 or fbtracert */
	double background_loss;   /* 0: learned; else healthy links lose at most this */
	double alpha;             /* 0: the default; family-wise false-alarm probability */
	int stats;                /* model and fit figures on stderr */
};

static const struct opt_spec localize_opts[] = {
	{ "observations", 0, OPT_STR, offsetof(struct localize_cfg, observations),
	  0, 0, NULL, "FILE", "observations file (schemas/observations.md)" },
	CMD_STORE_OPTS(struct localize_cfg, db,
		       "the collector's store instead of an observations file: PATH, sqlite:PATH or clickhouse://HOST:PORT/DB"),
	{ "window", 'w', OPT_MS, offsetof(struct localize_cfg, window_ms), 1000,
	  366.0 * 86400000, "30s", "DUR", "with --db: the flows of this window, ending now (the watch's)" },
	{ "inventory", 'i', OPT_STR, offsetof(struct localize_cfg, inventory), 0, 0,
	  NULL, "FILE", "inventory file (default with --db: the one loaded into it)" },
	{ "json", 'j', OPT_FLAG, offsetof(struct localize_cfg, json), 0, 0, NULL,
	  NULL, "print one JSON object instead of a table" },
	{ "method", 'm', OPT_STR, offsetof(struct localize_cfg, method), 0, 0,
	  "faultmesh", "NAME", "faultmesh, or a baseline: flock, 007, fbtracert" },
	{ "background-loss", 0, OPT_DOUBLE,
	  offsetof(struct localize_cfg, background_loss), 1e-9, 0.5, NULL, "RATE",
	  "override: every healthy link loses at most this (default: learned from the "
	  "window, per link class)" },
	{ "alpha", 0, OPT_DOUBLE, offsetof(struct localize_cfg, alpha), 1e-12, 0.5,
	  NULL, "P", "family-wise false-alarm probability over all links (default 0.01)" },
	{ "stats", 0, OPT_FLAG, offsetof(struct localize_cfg, stats), 0, 0, NULL,
	  NULL, "print model and timing figures to stderr" },
};

void localize_infer_cfg_set(struct infer_cfg *icfg, double background_loss, double alpha)
{
	infer_cfg_default(icfg);
	if (background_loss > 0)
		icfg->background_loss = background_loss;
	if (alpha > 0)
		icfg->alpha = alpha;
}

int localize_inputs_load(const char *obs_path, const char *inv_path,
			 struct obs_set **obs, struct inventory **inv,
			 char *err, size_t errlen)
{
	*obs = obs_set_new();
	*inv = inventory_new();
	if (!*obs || !*inv) {
		snprintf(err, errlen, "out of memory");
		goto err;
	}
	if (obs_set_file_read(*obs, obs_path, err, errlen) < 0)
		goto err;
	if (inv_path && inventory_file_read(*inv, inv_path, err, errlen) < 0)
		goto err;
	return 0;
err:
	obs_set_free(*obs);
	inventory_free(*inv);
	*obs = NULL;
	*inv = NULL;
	return -1;
}

static const struct opts_cmd localize_cmd =
	OPTS_CMD("triangulate localize",
		 "triangulate localize (--observations FILE | --db DB [--window DUR]) "
		 "[--inventory FILE] [--json]",
		 "Name the links, devices, hosts and partial blackholes that drop probes.",
		 localize_opts);

int cmd_localize(int argc, char **argv)
{
	struct localize_cfg cfg = { 0 };
	struct window_req req = { 0 };
	struct window_result res = { 0 };
	const struct output_ops *output;
	struct inventory *inv = NULL;
	struct infer_cfg icfg;
	char err[512];
	int rc;

	if (opts_cmd_parse(&localize_cmd, &cfg, argc, argv, &rc) < 0)
		return rc;
	/* A one-shot run that builds and drops arrays of tens of MB: the heap
	 * grows in large steps and keeps what is freed, so the model and the
	 * fit reuse the parse's memory instead of mapping fresh pages (each
	 * first touch a page fault: under a hypervisor those were a third of
	 * the model's CPU time and more of the parse's) */
	mallopt(M_MMAP_THRESHOLD, LOCALIZE_MMAP_MIN_BYTES);
	mallopt(M_TRIM_THRESHOLD, LOCALIZE_TRIM_MIN_BYTES);
	mallopt(M_TOP_PAD, LOCALIZE_HEAP_STEP_BYTES);
	if (!cfg.observations == !cfg.db)
		return opts_cmd_refuse(&localize_cmd, "give one of --observations and --db");
	if (!(req.method = method_find(cfg.method)))
		return opts_cmd_refuse(&localize_cmd, "unknown method '%s'", cfg.method);
	output = cfg.json ? &output_json_ops : &output_text_ops;
	localize_infer_cfg_set(&icfg, cfg.background_loss, cfg.alpha);
	if (cfg.db) {
		int none;

		/* the store's inventory by default; none at all: refuse, since
		 * links guessed from addresses land one hop off the fault */
		if (!(inv = inventory_source_open(cfg.inventory, cfg.db, &none, err,
						  sizeof(err)))) {
			fprintf(stderr, "triangulate localize: %s\n", err);
			return none ? 2 : 1;
		}
	} else if (!(inv = cfg.inventory ? inventory_file_open(cfg.inventory, err, sizeof(err))
					 : inventory_new())) {
		if (!cfg.inventory)
			snprintf(err, sizeof(err), "out of memory");
		goto fail;
	}
	req.inv = inv;
	req.cfg = &icfg;
	if (cfg.db) {
		int64_t now_ms = clock_real_ms();

		req.src = WINDOW_SRC_DB;
		req.path = cfg.db;
		req.since_ms = now_ms - cfg.window_ms;
		req.until_ms = now_ms;
	} else {
		req.src = WINDOW_SRC_FILE;
		req.path = cfg.observations;
	}
	if (window_localize_run(&req, &res, err, sizeof(err)) < 0)
		goto fail;
	if (cfg.db && res.nflows == 0) {
		char win[32];

		/* no data is no evidence either way: never "no suspects" alone */
		fprintf(stderr, "triangulate localize: no observations in the last %s of %s: "
			"nothing to localize (are the probers reporting?)\n",
			opts_duration_format(win, sizeof(win), cfg.window_ms), cfg.db);
	}
	if (cfg.stats)
		fprintf(stderr,
			"triangulate localize: %zu flows (%zu with '*' hops, %zu resolved; "
			"%zu unknown paths; %zu unplaced; %zu traces cut short; "
			"%zu silent, %zu of them put on their replies, %zu left out; "
			"reverse counts of %zu flows used, pairs left out: %zu uneven, "
			"%zu unroutable), "
			"%u devices, "
			"%u links; parse %.0f ms (cpu %.0f ms), model %.0f ms "
			"(cpu %.0f ms), inference %.0f ms (cpu %.0f ms), %zu suspects\n",
			res.m->nflows, res.m->flows_star, res.m->flows_star_resolved,
			res.m->flows_unknown, res.m->flows_unplaced, res.m->flows_cut,
			res.m->flows_silent, res.m->flows_silent_reverse,
			res.m->flows_silent_left_out, res.m->nreplies,
			res.m->pairs_reply_dispersed, res.m->pairs_reply_unplaced,
			res.m->ndevs,
			res.m->nlinks, res.load_ms, res.load_cpu_ms, res.model_ms,
			res.model_cpu_ms, res.infer_ms, res.infer_cpu_ms, res.sus.n);
	if (output->write(stdout, &res.sus) < 0 || fflush(stdout)) {
		snprintf(err, sizeof(err), "writing output failed");
		goto fail;
	}
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "triangulate localize: %s\n", err);
	rc = 1;
out:
	window_result_free(&res);
	inventory_free(inv);
	return rc;
}
