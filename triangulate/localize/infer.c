/* faultmesh's localization, in three steps: fit (infer_fit.c), test against
 * the learned background (infer_test.c), group into suspects
 * (infer_group.c). This file holds the defaults and runs the steps. */
#include "infer.h"
#include "infer_int.h"
#include "model.h"
#include "clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void infer_cfg_default(struct infer_cfg *cfg)
{
	cfg->background_loss = 0; /* learned from each window */
	cfg->alpha = 0.01;
	cfg->prior_probes = 1;
	cfg->device_share = 0.5;
	cfg->blackhole_share = 0.8;
	cfg->max_sweeps = 300;
	cfg->max_em_rounds = 20;
}

int infer_run(const struct model *m, const struct infer_cfg *cfg,
	      struct suspect_list *out, struct infer_stats *st, char *err,
	      size_t errlen)
{
	struct infer_stats local = { 0 };
	double t0 = clock_mono_ns() / 1e6, t1;
	int ambiguous = 0;
	struct fit f;

	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	if (fit_init(&f, m) < 0)
		goto nomem;
	for (size_t i = 0; i < m->nflows; i++) {
		ambiguous |= m->flows[i].nalt > 1;
		st->flows_lossy += m->flows[i].lost > 0;
		st->flows_unplaced += m->flows[i].nalt == 0;
	}
	st->flows = m->nflows;
	st->links = m->nlinks;
	st->links_active = f.nactive;
	fit_successes_sum(&f);
	for (size_t i = 0; i < f.nactive; i++)
		f.dirty[f.active[i]] = 1;
	/* the probes first; then the replies, placed by that fit, and the
	 * probes again with them (fit_replies_place) */
	for (int pass = 0; pass < 1 + !!m->nreplies; pass++) {
		if (pass && (!(f.u_fwd = malloc((m->nlinks + 1) * sizeof(*f.u_fwd))) ||
			     fit_replies_place(&f, cfg) < 0))
			goto nomem;
		if (pass) /* the probes' own fit, for the links' tests */
			memcpy(f.u_fwd, f.u, m->nlinks * sizeof(*f.u));
		for (int round = 0; round < cfg->max_em_rounds; round++) {
			st->sweeps += fit_sweeps(&f, cfg);
			st->em_rounds++;
			/* the E-step marks the links whose paths changed weight */
			if (!ambiguous || fit_paths_reweight(&f) < 1e-3)
				break;
		}
	}
	t1 = clock_mono_ns() / 1e6;
	if (fit_background_learn(&f, cfg, st) < 0 || infer_suspects(&f, cfg, out) < 0)
		goto nomem;
	fit_free(&f);
	st->fit_ms = (clock_mono_ns() / 1e6) - t0;
	st->test_ms = (clock_mono_ns() / 1e6) - t1;
	return 0;
nomem:
	fit_free(&f);
	snprintf(err, errlen, "out of memory fitting %zu flows", m->nflows);
	errno = ENOMEM;
	return -1;
}

int infer_localize(const struct obs_set *obs, const struct inventory *inv,
		   const struct infer_cfg *cfg, struct suspect_list *out,
		   struct infer_stats *st, char *err, size_t errlen)
{
	struct model *m = model_build(obs, inv, err, errlen);
	int rc;

	if (!m)
		return -1;
	rc = infer_run(m, cfg, out, st, err, errlen);
	model_free(m);
	return rc;
}
