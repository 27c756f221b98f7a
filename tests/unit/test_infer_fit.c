/* Unit tests of the fit's internals: lossy flows of one route merged into
 * one likelihood term give the fit one term per route would not. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "infer.h"
#include "infer_int.h"
#include "inventory.h"
#include "model.h"
#include "observations.h"
#include "sim.h"
#include "unit_util.h"

/* Fit m (sweeps and EM, as infer_run does) with the lossy terms merged or
 * not; returns the fit, the caller frees it. */
static void fit_run(struct fit *f, const struct model *m, int merge)
{
	struct infer_cfg cfg;
	int ambiguous = 0;

	infer_cfg_default(&cfg);
	cr_assert_eq(fit_init_terms(f, m, merge), 0);
	for (size_t i = 0; i < m->nflows; i++)
		ambiguous |= m->flows[i].nalt > 1;
	fit_successes_sum(f);
	for (size_t i = 0; i < f->nactive; i++)
		f->dirty[f->active[i]] = 1;
	for (int round = 0; round < cfg.max_em_rounds; round++) {
		fit_sweeps(f, &cfg);
		if (!ambiguous || fit_paths_reweight(f) < 1e-3)
			break;
	}
}

/* ECMP puts many flows of a host pair on one route: the merged fit has
 * fewer terms than lossy alternatives, and the same loss on every link
 * ("*" hops give EM ambiguous paths to reweight through merged terms). */
Test(infer_fit, merged_route_terms_fit_as_one_term_per_flow)
{
	struct sim_cfg cfg = {
		.tiers = 3, .k = 4, .hosts_per_tor = 2, .flows = 4000, .probes = 200,
		.faults = 3, .kinds = "link,device,blackhole", .loss_min = 0.005,
		.loss_max = 0.03, .bg_min = 1e-5, .bg_max = 1e-4, .star_ratio = 0.05,
		.inventory_links = 1, .seed = 5,
	};
	struct obs_set *obs = obs_set_new();
	struct inventory *inv = inventory_new();
	struct fit merged, single;
	struct model *m;
	char err[256], *text;
	size_t lossy_alts = 0, moved = 0;

	cr_assert_eq(unit_sim_read(&cfg, obs, inv, &text), cfg.faults);
	free(text);
	m = model_build(obs, inv, err, sizeof(err));
	cr_assert(m, "%s", err);
	fit_run(&merged, m, 1);
	fit_run(&single, m, 0);
	for (size_t a = 0; a < m->nalts; a++)
		lossy_alts += m->flows[m->alts[a].flow].lost > 0;
	cr_assert_eq(single.nlossy, lossy_alts);
	cr_assert_lt(merged.nlossy, lossy_alts / 2, "%u merged terms of %zu", merged.nlossy,
		     lossy_alts);
	for (uint32_t l = 0; l < m->nlinks; l++) {
		double a = u_to_loss(merged.u[l]), b = u_to_loss(single.u[l]);

		moved += a > 1e-6;
		cr_expect_leq(fabs(a - b), 1e-9 + 1e-6 * b, "link %u: %g merged, %g single", l, a, b);
	}
	cr_assert_gt(moved, 3, "the fit found loss on %zu links", moved);
	for (size_t a = 0; a < m->nalts; a++)
		cr_expect_leq(fabs(merged.w[a] - single.w[a]), 1e-6, "alternative %zu", a);
	fit_free(&merged);
	fit_free(&single);
	model_free(m);
	obs_set_free(obs);
	inventory_free(inv);
}
