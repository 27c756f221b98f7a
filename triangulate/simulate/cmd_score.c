/* triangulate score: run localization methods on simulated observations and
 * print precision, recall, top-1 and inference time per method. */
#include "cmd_localize.h"
#include "cmd.h"
#include "inventory.h"
#include "method.h"
#include "observations.h"
#include "opts.h"
#include "score.h"
#include "window.h"
#include "clock.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct score_cfg {
	const char *truth;        /* truth file from triangulate simulate */
	const char *observations; /* observations file */
	const char *inventory;    /* inventory file */
	const char *method;       /* a method name, or "all" */
};

static const struct opt_spec score_opts[] = {
	{ "truth", 0, OPT_STR, offsetof(struct score_cfg, truth), 0, 0, NULL,
	  "FILE", "truth file (triangulate simulate)" },
	{ "observations", 0, OPT_STR, offsetof(struct score_cfg, observations), 0,
	  0, NULL, "FILE", "observations file" },
	{ "inventory", 'i', OPT_STR, offsetof(struct score_cfg, inventory), 0, 0,
	  NULL, "FILE", "inventory file" },
	{ "method", 'm', OPT_STR, offsetof(struct score_cfg, method), 0, 0, "all",
	  "NAME", "a method (faultmesh, flock, 007, fbtracert) or all" },
};

static const struct opts_cmd score_cmd =
	OPTS_CMD("triangulate score",
		 "triangulate score --truth FILE --observations FILE --inventory FILE [--method NAME]",
		 "Score localization methods against a simulator's truth.", score_opts);

int cmd_score(int argc, char **argv)
{
	struct score_cfg cfg = { 0 };
	struct obs_set *obs = NULL;
	struct inventory *inv = NULL;
	struct truth truth = { 0 };
	struct infer_cfg icfg;
	char err[512];
	int any = 0, rc;

	if (opts_cmd_parse(&score_cmd, &cfg, argc, argv, &rc) < 0)
		return rc;
	if (!cfg.truth || !cfg.observations)
		return opts_cmd_refuse(&score_cmd, "--truth and --observations are required");
	infer_cfg_default(&icfg);
	if (truth_file_read(&truth, cfg.truth, err, sizeof(err)) < 0 ||
	    localize_inputs_load(cfg.observations, cfg.inventory, &obs, &inv, err,
				 sizeof(err)) < 0)
		goto fail;
	for (const struct method_ops *mo = method_table; mo->name; mo++) {
		struct window_req req = { .src = WINDOW_SRC_SET, .obs = obs, .inv = inv,
					  .method = mo, .cfg = &icfg };
		struct window_result res;
		struct score sc;
		double t0;

		if (strcmp(cfg.method, "all") && strcmp(cfg.method, mo->name))
			continue;
		any = 1;
		t0 = clock_mono_ns() / 1e6;
		/* each method builds its own model: path weights are fit state */
		if (window_localize_run(&req, &res, err, sizeof(err)) < 0)
			goto fail;
		score_compute(&truth, &res.sus, &sc);
		printf("%-10s precision=%.3f recall=%.3f oracle_recall=%.3f top1=%d "
		       "suspects=%zu correct=%zu faults=%zu found=%zu shown=%zu "
		       "shown_found=%zu infer_ms=%.0f\n",
		       mo->name, sc.precision, sc.recall, sc.oracle_recall, sc.top1,
		       sc.suspects, sc.correct, sc.faults, sc.found, sc.oracle_faults,
		       sc.oracle_found, (clock_mono_ns() / 1e6) - t0);
		window_result_free(&res);
	}
	if (!any) {
		snprintf(err, sizeof(err), "unknown method '%s'", cfg.method);
		goto fail;
	}
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "triangulate score: %s\n", err);
	rc = 1;
out:
	truth_free(&truth);
	obs_set_free(obs);
	inventory_free(inv);
	return rc;
}
