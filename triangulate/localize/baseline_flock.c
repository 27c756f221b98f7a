/* Flock-style baseline (Harsh et al., "Accurate Network Fault Localization
 * with Flock", CoNEXT 2023), written from the paper: a probabilistic model in
 * which each link is either good (drops p_good of packets) or failed (drops
 * its own p_bad), flows with several candidate paths weighted over them, a
 * prior against failures, and a greedy search over failure sets that adds the
 * link raising the posterior most until no link does. */
#include "method.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLOCK_LOG_PRIOR (-10.0) /* log odds of a link failing (the paper's prior) */
#define FLOCK_FAILS_MAX 100     /* failure sets grow no larger */
#define FLOCK_GOOD_QUANTILE 0.99 /* p_good from the flows below this quantile */
#define FLOCK_BAD_OVER_GOOD 10.0 /* a failed link drops at least 10x p_good */

/* The failed link's drop rate is chosen from this grid by likelihood: the
 * paper calibrates one p_bad offline; per link is the stronger baseline. */
static const double flock_bad_grid[] = { 5e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 0.6, 0.95 };
#define FLOCK_GRID_N (sizeof(flock_bad_grid) / sizeof(flock_bad_grid[0]))

struct flock {
	const struct model *m;
	double log_good;       /* log(1 - p_good) */
	double *s;             /* per alternative: sum of log(1 - p) over its links */
	double *ll;            /* per flow: log-likelihood under the current set */
	uint32_t *inc_first, *inc; /* per link: alternatives through it */
	double *bad;           /* per link: p_bad if failed, else 0 */
	double *lg;            /* per alternative: log of its weight */
};

static double flock_binom_ll(uint64_t sent, uint64_t lost, double s)
{
	double q = -expm1(s); /* drop probability of the path */

	if (q <= 0)
		return lost ? -1e300 : 0;
	if (q >= 1)
		return lost == sent ? 0 : -1e300;
	return (double)lost * log(q) + (double)(sent - lost) * s;
}

/* Flow i's log-likelihood with every alternative's s shifted by d where
 * through[k] says the alternative crosses the link being tried. */
static double flock_flow_ll(const struct flock *fk, size_t i, const uint8_t *through,
			    double d)
{
	const struct model *m = fk->m;
	const struct model_flow *fl = &m->flows[i];
	double top = -INFINITY, sum = 0, v[MODEL_ALTS_MAX];

	for (uint32_t k = 0; k < fl->nalt; k++) {
		uint32_t a = fl->alt_first + k;

		v[k] = fk->lg[a] + flock_binom_ll(fl->sent, fl->lost,
						  fk->s[a] + (through && through[k] ? d : 0));
		top = fmax(top, v[k]);
	}
	if (!isfinite(top))
		return top;
	for (uint32_t k = 0; k < fl->nalt; k++)
		sum += exp(v[k] - top);
	return top + log(sum);
}

/* Gain in log-likelihood from failing link l at rate p (0 if no flow). */
static double flock_gain(const struct flock *fk, uint32_t l, double p)
{
	const struct model *m = fk->m;
	double d = log1p(-p) - fk->log_good, gain = 0;
	uint32_t last = UINT32_MAX;

	for (uint32_t i = fk->inc_first[l]; i < fk->inc_first[l + 1]; i++) {
		const struct model_alt *al = &m->alts[fk->inc[i]];
		const struct model_flow *fl = &m->flows[al->flow];
		uint8_t through[MODEL_ALTS_MAX] = { 0 };

		if (al->flow == last)
			continue; /* a flow's alternatives are adjacent */
		last = al->flow;
		for (uint32_t k = 0; k < fl->nalt; k++) {
			const struct model_alt *o = &m->alts[fl->alt_first + k];

			for (uint32_t j = 0; j < o->nlinks; j++)
				if (m->alt_links[o->link_first + j] == l)
					through[k] = 1;
		}
		gain += flock_flow_ll(fk, al->flow, through, d) - fk->ll[al->flow];
	}
	return gain;
}

static void flock_free(struct flock *fk)
{
	free(fk->s);
	free(fk->ll);
	free(fk->inc_first);
	free(fk->inc);
	free(fk->bad);
	free(fk->lg);
}

struct flock_rate {
	double rate, lost, hops;
};

static int flock_rate_cmp(const void *a, const void *b)
{
	double x = ((const struct flock_rate *)a)->rate, y = ((const struct flock_rate *)b)->rate;

	return x < y ? -1 : x > y;
}

/* p_good: the per-link drop rate of the least lossy FLOCK_GOOD_QUANTILE of
 * the flows (the paper calibrates it on healthy data; here the bulk of the
 * window stands in for that). */
static double flock_good_estimate(const struct model *m)
{
	struct flock_rate *r = malloc((m->nflows + 1) * sizeof(*r));
	double lost = 0, hops = 0;
	size_t n = 0;

	if (!r)
		return -1;
	for (size_t i = 0; i < m->nflows; i++) {
		const struct model_flow *fl = &m->flows[i];

		if (fl->nalt && fl->sent)
			r[n++] = (struct flock_rate){ (double)fl->lost / (double)fl->sent,
						      (double)fl->lost,
						      (double)fl->sent *
							      m->alts[fl->alt_first].nlinks };
	}
	qsort(r, n, sizeof(*r), flock_rate_cmp);
	for (size_t i = 0; i < (size_t)(FLOCK_GOOD_QUANTILE * (double)n); i++) {
		lost += r[i].lost;
		hops += r[i].hops;
	}
	free(r);
	return fmax(hops > 0 ? lost / hops : 0, 1e-7);
}

int baseline_flock_run(const struct model *m, const struct infer_cfg *cfg,
		       struct suspect_list *out, char *err, size_t errlen)
{
	struct flock fk = { .m = m };
	size_t nl = m->nlinks, ninc = 0;
	double p_good = flock_good_estimate(m), *gain_of = NULL, *p_of = NULL;
	uint8_t *dirty = NULL;
	int rc = -1;

	(void)cfg;
	if (p_good < 0)
		goto nomem;
	fk.log_good = log1p(-p_good);
	fk.s = malloc((m->nalts + 1) * sizeof(*fk.s));
	fk.lg = malloc((m->nalts + 1) * sizeof(*fk.lg));
	fk.ll = malloc((m->nflows + 1) * sizeof(*fk.ll));
	fk.inc_first = calloc(nl + 2, sizeof(*fk.inc_first));
	fk.bad = calloc(nl + 1, sizeof(*fk.bad));
	if (!fk.s || !fk.lg || !fk.ll || !fk.inc_first || !fk.bad)
		goto nomem;
	for (size_t a = 0; a < m->nalts_flows; a++) {
		const struct model_alt *al = &m->alts[a];

		fk.s[a] = al->nlinks * fk.log_good;
		fk.lg[a] = log(al->weight);
		for (uint32_t k = 0; k < al->nlinks; k++)
			fk.inc_first[m->alt_links[al->link_first + k] + 1]++;
		ninc += al->nlinks;
	}
	for (size_t l = 0; l < nl; l++)
		fk.inc_first[l + 1] += fk.inc_first[l];
	if (!(fk.inc = malloc((ninc + 1) * sizeof(*fk.inc))))
		goto nomem;
	for (size_t a = 0; a < m->nalts_flows; a++) {
		const struct model_alt *al = &m->alts[a];

		for (uint32_t k = 0; k < al->nlinks; k++)
			fk.inc[fk.inc_first[m->alt_links[al->link_first + k]]++] = (uint32_t)a;
	}
	for (size_t l = nl; l > 0; l--)
		fk.inc_first[l] = fk.inc_first[l - 1];
	fk.inc_first[0] = 0;
	for (size_t i = 0; i < m->nflows; i++)
		fk.ll[i] = m->flows[i].nalt ? flock_flow_ll(&fk, i, NULL, 0) : 0;
	if (!(gain_of = malloc((nl + 1) * sizeof(*gain_of))) ||
	    !(p_of = malloc((nl + 1) * sizeof(*p_of))) || !(dirty = malloc(nl + 1)))
		goto nomem;
	for (uint32_t l = 0; l < nl; l++) {
		int lossy = 0;

		for (uint32_t i = fk.inc_first[l]; i < fk.inc_first[l + 1] && !lossy; i++)
			lossy = m->flows[m->alts[fk.inc[i]].flow].lost > 0;
		dirty[l] = (uint8_t)lossy; /* failing a clean link only costs */
		gain_of[l] = -INFINITY;
	}
	/* greedy: add the link whose failure raises the posterior most; a
	 * link's gain changes only when a link sharing a flow with it is added */
	for (int step = 0; step < FLOCK_FAILS_MAX; step++) {
		double best = 0, best_p = 0;
		uint32_t best_l = UINT32_MAX;

		for (uint32_t l = 0; l < nl; l++) {
			if (fk.bad[l] > 0)
				continue;
			if (dirty[l]) {
				dirty[l] = 0;
				gain_of[l] = -INFINITY;
				for (size_t g = 0; g < FLOCK_GRID_N; g++) {
					double p = flock_bad_grid[g], gain;

					if (p < FLOCK_BAD_OVER_GOOD * p_good)
						continue;
					gain = flock_gain(&fk, l, p) + FLOCK_LOG_PRIOR;
					if (gain > gain_of[l]) {
						gain_of[l] = gain;
						p_of[l] = p;
					}
				}
			}
			if (gain_of[l] > best) {
				best = gain_of[l];
				best_p = p_of[l];
				best_l = l;
			}
		}
		if (best_l == UINT32_MAX)
			break;
		{
			struct suspect s = { .kind = SUSPECT_LINK };
			double d = log1p(-best_p) - fk.log_good;
			uint32_t last = UINT32_MAX;

			fk.bad[best_l] = best_p;
			for (uint32_t i = fk.inc_first[best_l]; i < fk.inc_first[best_l + 1]; i++) {
				const struct model_alt *al = &m->alts[fk.inc[i]];

				fk.s[fk.inc[i]] += d;
				s.flows++;
				s.lossy_flows += m->flows[al->flow].lost > 0;
			}
			for (uint32_t i = fk.inc_first[best_l]; i < fk.inc_first[best_l + 1]; i++) {
				uint32_t f = m->alts[fk.inc[i]].flow;

				if (f != last) {
					const struct model_flow *fl = &m->flows[f];

					fk.ll[f] = flock_flow_ll(&fk, f, NULL, 0);
					for (uint32_t k = 0; k < fl->nalt; k++) {
						const struct model_alt *o = &m->alts[fl->alt_first + k];

						for (uint32_t j = 0; j < o->nlinks; j++)
							dirty[m->alt_links[o->link_first + j]] = 1;
					}
				}
				last = f;
			}
			snprintf(s.from, sizeof(s.from), "%s", model_dev_name(m, m->link_from[best_l]));
			snprintf(s.to, sizeof(s.to), "%s", model_dev_name(m, m->link_to[best_l]));
			s.loss_ratio = s.loss_lo = s.loss_hi = best_p;
			s.score = best;
			s.confidence = 1 / (1 + exp(-best)); /* posterior odds of this step */
			if (suspect_list_add(out, &s) < 0)
				goto nomem;
		}
	}
	suspect_list_sort(out);
	rc = 0;
	goto out;
nomem:
	snprintf(err, errlen, "out of memory in the flock baseline");
	errno = ENOMEM;
out:
	flock_free(&fk);
	free(gain_of);
	free(p_of);
	free(dirty);
	return rc;
}
