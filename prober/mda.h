/* Multipath coverage arithmetic (MDA, Augustin et al. / Veitch et al.): how
 * many flows rule out one more equal-cost path, how many flows see all n
 * paths, and an estimate of the path count from what k flows saw. */
#ifndef FM_MDA_H
#define FM_MDA_H

/* The MDA stopping rule n_k: the fewest flows, spread uniformly at random
 * over k+1 equal-cost paths, for which the chance that they all landed on
 * only k of them is <= alpha. Having seen k paths on n_k flows, the
 * hypothesis "there is a (k+1)th path" is rejected. alpha 0.05 gives
 * n_1..n_4 = 6, 11, 16, 21 (scamper's 95% table). Returns -1 with errno
 * EINVAL for k < 1, k > MDA_PATHS_MAX or alpha outside (0, 1). */
#define MDA_PATHS_MAX 256
int mda_stop_flows(int k, double alpha);

/* The fewest uniformly spread flows that cover all n equal-cost paths with
 * probability >= 1 - alpha (coupon collector). n = 1 gives 1. Returns -1
 * with errno EINVAL for n < 1, n > MDA_PATHS_MAX or alpha outside (0, 1). */
int mda_cover_flows(int n, double alpha);

/* Probability that m uniform flows over n paths see all n of them. */
double mda_cover_prob(int n, int m);

/* Coverage of one prober/target pair. */
struct mda_coverage {
	int flows;           /* distinct flows traced */
	int paths_seen;      /* distinct hop lists among them */
	int complete;        /* flows >= mda_stop_flows(paths_seen): no more paths
				* expected at 1 - alpha */
	int flows_needed;    /* total flows to reach `complete` if no new path
				* turns up (>= flows) */
	int paths_estimate;  /* maximum-likelihood path count given the above */
};

/* Assess coverage for flows traced, paths_seen distinct paths among them
 * (1 <= paths_seen <= flows). Returns 0, or -1 with errno EINVAL. */
int mda_coverage_assess(int flows, int paths_seen, double alpha,
			struct mda_coverage *out);

/* Maximum-likelihood number of equally likely paths given that `flows`
 * uniform flows hit `seen` distinct ones (bounded by MDA_PATHS_MAX; when
 * every flow hit a new path the likelihood has no finite maximum and
 * MDA_PATHS_MAX is returned). Returns -1 with errno EINVAL on bad input. */
int mda_paths_estimate(int flows, int seen);

/* How many flows a target should have, from its traced flows' coverage:
 * `traced` flows of its `flows_now` reached the destination and showed
 * `paths_seen` distinct hop lists. An explicit count (the operator's) is
 * kept; otherwise, while coverage is not complete at 1 - alpha, flows are
 * added up to what the MDA stopping rule still needs, at most flows_max.
 * Never returns fewer than flows_now; with traced or paths_seen < 1 (nothing
 * known yet) returns flows_now. */
int mda_flows_next(int traced, int paths_seen, int flows_explicit, int flows_now,
		   int flows_max, double alpha);

#endif
