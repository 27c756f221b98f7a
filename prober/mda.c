/* MDA coverage arithmetic: the occupancy distribution of m uniform flows over
 * n paths, computed by a forward recurrence (stable where inclusion-exclusion
 * cancels catastrophically for large n). */
#include "mda.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#define MDA_FLOWS_LIMIT 100000 /* bounds every loop; far above any real need */

static int bad_input(void)
{
	errno = EINVAL;
	return -1;
}

/* p[j] = chance that the flows so far have seen exactly j of the n paths;
 * one more flow moves j -> j+1 with chance (n-j)/n. */
static void occupancy_step(double *p, int n)
{
	for (int j = n; j >= 1; j--)
		p[j] = p[j] * ((double)j / n) + p[j - 1] * ((double)(n - j + 1) / n);
	p[0] = 0;
}

double mda_cover_prob(int n, int m)
{
	double p[MDA_PATHS_MAX + 2] = { 0 };

	if (n < 1 || n > MDA_PATHS_MAX || m < 0)
		return 0;
	p[0] = 1;
	for (int i = 0; i < m && i < MDA_FLOWS_LIMIT; i++)
		occupancy_step(p, n);
	return p[n];
}

int mda_cover_flows(int n, double alpha)
{
	double p[MDA_PATHS_MAX + 2] = { 0 };

	if (n < 1 || n > MDA_PATHS_MAX || !(alpha > 0 && alpha < 1))
		return bad_input();
	p[0] = 1;
	for (int m = 1; m <= MDA_FLOWS_LIMIT; m++) {
		occupancy_step(p, n);
		if (p[n] >= 1 - alpha)
			return m;
	}
	errno = ERANGE;
	return -1;
}

int mda_stop_flows(int k, double alpha)
{
	/* Seeing only k of k+1 paths is the complement of covering all k+1. */
	if (k < 1 || k > MDA_PATHS_MAX - 1)
		return bad_input();
	return mda_cover_flows(k + 1, alpha);
}

int mda_paths_estimate(int flows, int seen)
{
	double best_ll = -INFINITY;
	int best = seen;

	if (seen < 1 || flows < seen || seen > MDA_PATHS_MAX)
		return bad_input();
	if (flows >= 2 && seen == flows)
		return MDA_PATHS_MAX;
	/* log of n!/(n-seen)! / n^flows, the n-dependent part of the chance of
	 * seeing exactly `seen` paths; ties keep the smallest n. */
	for (int n = seen; n <= MDA_PATHS_MAX; n++) {
		double ll = -(double)flows * log(n);

		for (int i = 0; i < seen; i++)
			ll += log((double)(n - i));
		if (ll > best_ll + 1e-12) {
			best_ll = ll;
			best = n;
		}
	}
	return best;
}

int mda_coverage_assess(int flows, int paths_seen, double alpha,
			struct mda_coverage *out)
{
	int need;

	if (!out || paths_seen < 1 || flows < paths_seen ||
	    paths_seen >= MDA_PATHS_MAX || !(alpha > 0 && alpha < 1))
		return bad_input();
	need = mda_stop_flows(paths_seen, alpha);
	if (need < 0)
		return -1;
	out->flows = flows;
	out->paths_seen = paths_seen;
	out->complete = flows >= need;
	out->flows_needed = need > flows ? need : flows;
	out->paths_estimate = mda_paths_estimate(flows, paths_seen);
	return 0;
}

int mda_flows_next(int traced, int paths_seen, int flows_explicit, int flows_now,
		   int flows_max, double alpha)
{
	struct mda_coverage c;
	int want;

	if (flows_explicit || traced < 1 || paths_seen < 1 || flows_now >= flows_max)
		return flows_now;
	if (paths_seen > traced)
		paths_seen = traced;
	/* so many paths that the rule has no bound: take all we may */
	if (mda_coverage_assess(traced, paths_seen, alpha, &c) < 0)
		return flows_max;
	if (c.complete)
		return flows_now;
	/* flows that never reached the destination tell nothing: the ones
	 * still needed come on top of all the target has */
	want = flows_now + (c.flows_needed - traced);
	return want < flows_max ? want : flows_max;
}
