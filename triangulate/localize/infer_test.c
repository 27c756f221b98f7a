/* The tests: the fabric's background learned per window and link class,
 * then each link against its class's healthy rates, by conditional, relaxed and
 * profile likelihood-ratio statistics with a Bonferroni correction. */
#include "infer.h"
#include "infer_int.h"
#include "model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROFILE_SHARED_MIN 0.125 /* see fit_profile_lr */
#define FIT_X_MIN 1e-12           /* see fit_local_loglik */
#define LR_CI95 3.841458820694124 /* chi-square(1) 95% quantile */

struct u32vec {
	uint32_t *v;
	size_t n, cap;
};

static int u32vec_push(struct u32vec *v, uint32_t x)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 256;
		uint32_t *nv = realloc(v->v, cap * sizeof(*nv));

		if (!nv)
			return -1;
		v->v = nv;
		v->cap = cap;
	}
	v->v[v->n++] = x;
	return 0;
}

/* Neighbour n's rate as its class's healthy rates (struct bg_mix, the
 * prior) and its own flows (t, the rest of their paths as they stand) give
 * it: the posterior mean, at most the class's top. */
static double fit_healthy_posterior(const struct fit *f, uint32_t n, const struct terms *t)
{
	const struct bg_mix *mx = &f->bg_mix[f->bg_cls[n]];
	double h[INFER_MIX_BINS], h_max = -INFINITY, sw = 0, su = 0;

	for (int b = 0; b < mx->n; b++) {
		h[b] = terms_loglik(t, mx->u[b]);
		h_max = fmax(h_max, h[b]);
	}
	for (int b = 0; b < mx->n; b++) {
		double w = mx->mass[b] * exp(h[b] - h_max);

		sw += w;
		su += w * mx->u[b];
	}
	return sw > 0 ? fmin(f->u_bg[n], su / sw) : f->u_bg[n];
}

/* fmax(x, FIT_X_MIN) without the libm call (NaN gives FIT_X_MIN, as fmax) */
static double fit_x_floor(double x)
{
	return x > FIT_X_MIN ? x : FIT_X_MIN;
}

/* Penalized log-likelihood restricted to the given links and alternatives
 * (the only terms a local refit changes). x_fit: each alternative's lX at
 * the fitted state, or NULL when the state is the fitted one; a term whose
 * lX is that one's takes its value from f->ll_fit (computed once, then
 * shared by every profile that holds it: the same operations, so the same
 * bits), the rest are computed. */
static double fit_local_loglik(const struct fit *f, const struct infer_cfg *cfg,
			       const struct u32vec *links, const struct u32vec *alts,
			       const double *x_fit)
{
	double ll = 0;

	for (size_t i = 0; i < links->n; i++)
		ll -= (f->B[links->v[i]] + cfg->prior_probes) * f->u[links->v[i]];
	for (size_t i = 0; i < alts->n; i++) {
		uint32_t k = alts->v[i];
		double x = f->lX[k], c = f->lc[k], v;

		/* a path EM ruled out (weight 0) no longer counts; a lossy
		 * path whose links all sit at 0 (a weight of 1e-300 left by EM)
		 * is floored rather than -inf: -inf before and after a refit
		 * made the statistic NaN, read as 0, and strong faults that
		 * shared flows with such a path were never named */
		if (!(c > 0))
			continue;
		if (x_fit && x != x_fit[i]) {
			ll += c * log(-expm1(-fit_x_floor(x)));
			continue;
		}
		v = f->ll_fit[k];
		if (isnan(v))
			v = f->ll_fit[k] = c * log(-expm1(-fit_x_floor(x)));
		ll += v;
	}
	return ll;
}

/* Profile likelihood-ratio statistic of link l against u_null: l is held at
 * the null and every link sharing a lossy flow with it is refit, so loss the
 * fit had pinned on l may move to its neighbours instead (a test holding the
 * neighbours at their fitted values overstates the evidence). The null is
 * composite: neighbours that are themselves candidates move freely, the
 * others only up to their class's top, or with f->nbr_shrink to their
 * posterior mean under their class's healthy rates (fit_healthy_posterior;
 * each rising to the top at once took a 0.11% link's loss), or their fitted
 * value if higher; otherwise a group of links that always share flows (a
 * host's uplink and its switch's uplinks) could hide any fault in the
 * group. The model state
 * is restored afterwards. *before_l caches the fitted state's local
 * log-likelihood between nulls of l (NaN: not yet). Returns the statistic,
 * or -1 (ENOMEM). */
static double fit_profile_lr(struct fit *f, const struct infer_cfg *cfg, uint32_t l,
			     double u_null, double *before_l)
{
	struct u32vec links = { 0 }, alts = { 0 };
	double *saved_u = NULL, *saved_x = NULL, before, after, lr = -1;
	uint32_t st = ++f->stamp;

	f->link_stamp[l] = st;
	if (u32vec_push(&links, l) < 0)
		goto out;
	for (uint32_t k = f->inc_first[l]; k < f->inc_first[l + 1]; k++) {
		for (uint32_t j = f->lfirst[f->inc[k]]; j < f->lfirst[f->inc[k] + 1]; j++) {
			uint32_t n = f->llinks[j];

			if (f->link_stamp[n] != st) {
				f->link_stamp[n] = st;
				f->shared[n] = 0;
				if (u32vec_push(&links, n) < 0)
					goto out;
			}
			f->shared[n] += f->term_first[f->inc[k] + 1] - f->term_first[f->inc[k]];
		}
	}
	/* A neighbour whose lossy flows mostly avoid l is pinned by them and
	 * barely moves under the null: refitting it costs its whole flow list
	 * for nothing (a bound on work, not a decision threshold). Candidates
	 * always move. */
	for (size_t i = 1, keep = 1; i <= links.n; i++) {
		uint32_t n;

		if (i == links.n) {
			links.n = keep;
			break;
		}
		n = links.v[i];
		if (f->cand[n] ||
		    PROFILE_SHARED_MIN * f->inc_alts[n] <= f->shared[n])
			links.v[keep++] = n;
		else
			f->link_stamp[n] = 0;
	}
	for (size_t i = 0; i < links.n; i++) {
		uint32_t n = links.v[i];

		for (uint32_t k = f->inc_first[n]; k < f->inc_first[n + 1]; k++) {
			if (f->alt_stamp[f->inc[k]] != st) {
				f->alt_stamp[f->inc[k]] = st;
				if (u32vec_push(&alts, f->inc[k]) < 0)
					goto out;
			}
		}
	}
	saved_u = malloc(links.n * sizeof(*saved_u));
	saved_x = malloc((alts.n + 1) * sizeof(*saved_x));
	if (!saved_u || !saved_x)
		goto out;
	for (size_t i = 0; i < links.n; i++)
		saved_u[i] = f->u[links.v[i]];
	for (size_t i = 0; i < alts.n; i++)
		saved_x[i] = f->lX[alts.v[i]];
	/* the fitted state's, the same for every null of l (the state is
	 * restored bit for bit below): once per link */
	if (isnan(*before_l))
		*before_l = fit_local_loglik(f, cfg, &links, &alts, NULL);
	before = *before_l;
	for (uint32_t k = f->inc_first[l]; k < f->inc_first[l + 1]; k++)
		f->lX[f->inc[k]] += u_null - f->u[l];
	f->u[l] = u_null;
	for (int sweep = 0; sweep < 2; sweep++) {
		double gain_max = 0;

		for (size_t i = 1; i < links.n; i++) {
			uint32_t n = links.v[i];
			struct terms t;
			double nu, du, curv, cap;

			fit_link_terms(f, n, &t);
			nu = terms_solve(&t, cfg->prior_probes, f->u[n], &curv);
			/* the posterior only for a neighbour that would rise past
			 * its fitted rate: no cap binds below it (the sums cost a
			 * tenth of the inference) */
			cap = f->cand[n] || nu <= saved_u[i] ? INFINITY
			      : f->nbr_shrink ? fit_healthy_posterior(f, n, &t) : f->u_bg[n];
			/* h is concave: clipping is the constrained optimum */
			if (nu > fmax(cap, saved_u[i]))
				nu = fmax(cap, saved_u[i]);
			du = nu - f->u[n];
			if (du == 0)
				continue;
			for (uint32_t k = f->inc_first[n]; k < f->inc_first[n + 1]; k++)
				f->lX[f->inc[k]] += du;
			f->u[n] = nu;
			gain_max = fmax(gain_max, nu == 0 ? INFINITY : 0.5 * curv * du * du);
		}
		if (gain_max < FIT_GAIN_MIN)
			break;
	}
	after = fit_local_loglik(f, cfg, &links, &alts, saved_x);
	lr = fmax(0, 2 * (before - after));
	for (size_t i = 0; i < links.n; i++)
		f->u[links.v[i]] = saved_u[i];
	for (size_t i = 0; i < alts.n; i++)
		f->lX[alts.v[i]] = saved_x[i];
out:
	free(saved_u);
	free(saved_x);
	free(links.v);
	free(alts.v);
	return lr;
}

/* A lower bound of the profile statistic that needs no refit: under the null
 * each non-candidate neighbour may rise at most to its class's top (its
 * posterior mean is never above it) or its fitted rate, so each lossy
 * path's rest is at most the sum of those
 * caps; granting every path that maximum only helps the null. Returns -1
 * when a neighbour is itself a candidate (no cap: refit instead). t holds
 * l's terms and is used as scratch; h_hat is their log-likelihood at l's
 * fitted u. */
static double fit_relaxed_lr(const struct fit *f, uint32_t l, struct terms *t,
			     double u_null, double h_hat)
{
	const struct model *m = f->m;
	size_t n = 0;

	for (uint32_t i = f->inc_first[l]; i < f->inc_first[l + 1]; i++) {
		uint32_t k = f->inc[i];
		const struct model_alt *al = &m->alts[f->lossy_alt[k]];
		double rest = 0;

		if (f->lc[k] <= 0)
			continue;
		for (uint32_t j = 0; j < al->nlinks; j++) {
			uint32_t nb = m->alt_links[al->link_first + j];

			if (nb == l)
				continue;
			if (f->cand[nb])
				return -1;
			rest += fmax(f->u_bg[nb], f->u[nb]);
		}
		f->rbuf[n++] = rest;
	}
	t->r = f->rbuf;
	t->n = n;
	return fmax(0, 2 * (h_hat - terms_loglik(t, u_null)));
}

/* The fabric's own background, learned per window (see README "Null model").
 * Links fall into classes by the tiers of their ends (host 0, its switch 1,
 * ...): links of one class carry alike traffic and, when healthy, lose alike.
 * For each link, the loss its flows show beyond what the other links on them
 * explain (the fit's rate for links that stand out, their class's median
 * for the rest) estimates its own rate; per class, the median of those
 * estimates is the typical healthy rate, and their spread, less the spread
 * binomial noise alone gives, is the spread of healthy rates. The top of
 * a class's healthy rates is median + BG_TOP_SDS spreads, or, when noise
 * hides the spread, the BG_TOP_QUANTILE of the estimates; the null each link
 * is tested against is the class's rates deconvolved from the noise
 * (bg_mix_deconvolve). Classes with few links pool into one; a fabric of
 * fewer than BG_LEARN_MIN_LINKS links is too small to learn from (one sick
 * host crosses a third of them) and gets BG_PRIOR_LOSS. A suspect must lose
 * significantly more than the null (family-wise) and at least
 * INFER_EFFECT_MIN times the top. */
#define BG_CLASSES INFER_BG_CLASSES
#define BG_CLASS_MIN_LINKS 8
#define BG_TOP_SDS 3.0
#define BG_TOP_QUANTILE 0.95
#define BG_TOP_OVER_MEAN 3.0
#define BG_ROUNDS 3
#define BG_POOLED (BG_CLASSES - 1)
#define BG_LEARN_MIN_LINKS 32 /* fewer links: the null is BG_PRIOR_LOSS */
#define BG_PRIOR_LOSS 1e-4

/* Tier of each device: hops from the nearest host (0) over the links in
 * both directions; unreachable devices get 7. */
int model_tiers(const struct model *m, uint8_t *tier)
{
	int changed = 1;

	for (uint32_t d = 0; d < m->ndevs; d++)
		tier[d] = m->dev_endpoint[d] && !m->dev_transit[d] ? 0 : 7;
	/* Bellman-Ford style relaxation: a Clos fabric settles in a few rounds
	 * and it needs no adjacency lists */
	for (int round = 0; changed && round < 8; round++) {
		changed = 0;
		for (uint32_t l = 0; l < m->nlinks; l++) {
			uint32_t a = m->link_from[l], b = m->link_to[l];

			if (tier[a] + 1 < tier[b]) {
				tier[b] = (uint8_t)(tier[a] + 1);
				changed = 1;
			}
			if (tier[b] + 1 < tier[a]) {
				tier[a] = (uint8_t)(tier[b] + 1);
				changed = 1;
			}
		}
	}
	return 0;
}

struct bg_item {
	uint32_t cls;
	double v;
	uint32_t l; /* the link (estimates only) */
};

static int bg_item_cmp(const void *a, const void *b)
{
	const struct bg_item *x = a, *y = b;

	if (x->cls != y->cls)
		return x->cls < y->cls ? -1 : 1;
	return x->v < y->v ? -1 : x->v > y->v;
}

/* Median of v[0..n) (sorted). */
static double bg_median(const struct bg_item *v, size_t n)
{
	return n % 2 ? v[n / 2].v : 0.5 * (v[n / 2 - 1].v + v[n / 2].v);
}

/* The healthy rate per class, m: each link's flows lose p = L/S, and the
 * rest of their path, n_cc' links of each class c' on average, explains
 * sum n_cc' m_c' of it, so the median link of class c has m_c = med_c(p) -
 * sum_c' n_cc' m_c': a small linear system (I + N) m = med(p). Flows over
 * an excluded link (out[]) are left out. S and L are scratch per link; on
 * return they hold every kept flow's probes and losses per link, summed in
 * flow order, and *sums_all says whether no kept flow was left out of them
 * (a path longer than a walk is not). */
static int bg_medians_solve(const struct fit *f, const uint8_t *cls, const uint8_t *out,
			    double *S, double *L, double *m_out, int *sums_all)
{
	const struct model *m = f->m;
	size_t nl = m->nlinks, n = 0, count[BG_CLASSES] = { 0 };
	double (*A)[BG_CLASSES + 1] = calloc(BG_CLASSES, sizeof(*A));
	double D[BG_CLASSES] = { 0 };
	struct bg_item *p = malloc((nl + 1) * sizeof(*p));
	int idx[BG_CLASSES], nc = 0, rc = -1;

	*sums_all = 1;
	if (!A || !p)
		goto out;
	memset(S, 0, nl * sizeof(*S));
	memset(L, 0, nl * sizeof(*L));
	for (size_t a = 0; a < m->nalts; a++) {
		const struct model_alt *al = &m->alts[a];
		const struct model_flow *fl = &m->flows[al->flow];
		const uint32_t *ls = m->alt_links + al->link_first;
		double ws = f->w[a] * (double)fl->sent;
		uint32_t k, j;
		uint8_t c[MODEL_WALK_MAX];

		if (f->w[a] <= 0)
			continue;
		for (k = 0; k < al->nlinks && !out[ls[k]]; k++)
			;
		if (k < al->nlinks)
			continue;
		if (al->nlinks >= MODEL_WALK_MAX) {
			*sums_all = 0;
			continue;
		}
		/* the classes in a local copy (a path has fewer links than a
		 * walk has devices): stores into A may alias cls, which the
		 * compiler then reads again for every pair */
		for (k = 0; k < al->nlinks; k++)
			c[k] = cls[ls[k]];
		for (k = 0; k < al->nlinks; k++) {
			S[ls[k]] += ws;
			L[ls[k]] += f->w[a] * (double)fl->lost;
			D[c[k]] += ws;
		}
		/* every ordered pair of the path's links, in the order the sums
		 * always took (the cells are A's alone: S and L are apart) */
		for (k = 0; k < al->nlinks; k++) {
			double *row = A[c[k]];

			for (j = 0; j < k; j++)
				row[c[j]] += ws;
			for (j = k + 1; j < al->nlinks; j++)
				row[c[j]] += ws;
		}
	}
	for (size_t l = 0; l < nl; l++)
		if (S[l] > 0)
			p[n++] = (struct bg_item){ cls[l], L[l] / S[l], (uint32_t)l };
	qsort(p, n, sizeof(*p), bg_item_cmp);
	for (size_t i = 0; i < n; i++)
		count[p[i].cls]++;
	/* the system over the classes present: row c is
	 * m_c + sum_c' (A[c][c'] / D[c]) m_c' = med_c(p) */
	for (int c = 0, c0 = 0; c < BG_CLASSES; c0 += (int)count[c], c++) {
		m_out[c] = 0;
		if (count[c] && D[c] > 0)
			idx[nc++] = c;
		if (count[c])
			A[c][BG_CLASSES] = bg_median(p + c0, count[c]);
	}
	{
		double M[BG_CLASSES][BG_CLASSES + 1], G[BG_CLASSES][BG_CLASSES + 1];
		double dmax = 0;

		for (int i = 0; i < nc; i++) {
			for (int j = 0; j < nc; j++)
				G[i][j] = A[idx[i]][idx[j]] / D[idx[i]] + (i == j);
			G[i][nc] = A[idx[i]][BG_CLASSES];
		}
		/* In a Clos fabric every path crosses each class alike, so the
		 * system is singular: only sums along paths are identified. The
		 * minimum-norm solution (ridge, tiny lambda) shares them evenly. */
		for (int i = 0; i < nc; i++) {
			for (int j = 0; j <= nc; j++) {
				M[i][j] = 0;
				for (int r = 0; r < nc; r++)
					M[i][j] += G[r][i] * G[r][j];
			}
			dmax = fmax(dmax, M[i][i]);
		}
		for (int i = 0; i < nc; i++)
			M[i][i] += 1e-9 * dmax;
		/* Gaussian elimination with partial pivoting */
		for (int i = 0; i < nc; i++) {
			int piv = i;

			for (int r = i + 1; r < nc; r++)
				if (fabs(M[r][i]) > fabs(M[piv][i]))
					piv = r;
			for (int j = 0; j <= nc; j++) {
				double t = M[i][j];

				M[i][j] = M[piv][j];
				M[piv][j] = t;
			}
			if (fabs(M[i][i]) < 1e-12)
				continue;
			for (int r = 0; r < nc; r++) {
				double k = M[r][i] / M[i][i];

				if (r == i || k == 0)
					continue;
				for (int j = i; j <= nc; j++)
					M[r][j] -= k * M[i][j];
			}
		}
		for (int i = 0; i < nc; i++)
			m_out[idx[i]] = fabs(M[i][i]) < 1e-12 ? 0 : fmax(0, M[i][nc] / M[i][i]);
	}
	rc = 0;
out:
	free(A);
	free(p);
	return rc;
}

/* The healthy rates' distribution without the binomial noise: links'
 * estimates (L - E) / S spread by noise as much as by their rates (a link of
 * 30,000 probes at 1e-4 loses 3 +- 1.7, so its estimate spreads by 6e-5), and
 * a null made of the raw estimates holds rates no healthy link has, hiding
 * weak faults behind noise. The nonparametric maximum-likelihood estimate
 * (Kiefer & Wolfowitz; EM over a grid of rates, Jiang & Zhang 2009) of the
 * mixing distribution g, where link i loses L_i ~ Poisson(E_i + S_i
 * lambda_i), lambda_i ~ g, is the distribution of the rates themselves. It
 * is fit on the links v[0..k) (a class's inliers; at most BG_NPMLE_LINKS
 * of them, evenly spaced, since the estimate needs no more). Fills mx
 * with g, its points merged into at most INFER_MIX_BINS and every merged
 * share moved up to a higher rate, never down (so the null's tail is never
 * thinner than g's). Returns 0, 1 when no link lost a probe (mx is left
 * alone), or -1 (ENOMEM). */
#define BG_NPMLE_GRID 48
#define BG_NPMLE_LINKS 2048
#define BG_NPMLE_ROUNDS 300
__attribute__((target_clones("avx2", "default")))
static int bg_mix_deconvolve(struct bg_mix *mx, const struct bg_item *v, size_t k,
			     const double *S, const double *L, const double *E)
{
	size_t stride = k > BG_NPMLE_LINKS ? (k + BG_NPMLE_LINKS - 1) / BG_NPMLE_LINKS : 1;
	size_t n = (k + stride - 1) / stride, K = BG_NPMLE_GRID;
	double *lik = malloc(n * K * sizeof(*lik)), g[BG_NPMLE_GRID], lam[BG_NPMLE_GRID];
	double hi = 1e-9, acc[BG_NPMLE_GRID];

	if (!lik)
		return -1;
	for (size_t i = 0; i < k; i++) {
		uint32_t l = v[i].l;

		hi = fmax(hi, L[l] / S[l]);
	}
	if (hi <= 1e-9) {
		/* no link lost a probe: g is 0, which the data cannot tell
		 * from any rate below one probe per link; the caller's top
		 * stands */
		free(lik);
		return 1;
	}
	/* 0, then log-spaced over three decades below the highest raw rate */
	lam[0] = 0;
	for (size_t j = 1; j < K; j++)
		lam[j] = hi * pow(1e-3, (double)(K - 1 - j) / (double)(K - 2));
	for (size_t i = 0; i < n; i++) {
		uint32_t l = v[i * stride].l;
		double *row = lik + i * K, mx_ll = -INFINITY;

		for (size_t j = 0; j < K; j++) {
			double mu = E[l] + S[l] * lam[j];

			row[j] = mu > 0 ? L[l] * log(mu) - mu : (L[l] > 0 ? -INFINITY : 0);
			mx_ll = fmax(mx_ll, row[j]);
		}
		for (size_t j = 0; j < K; j++)
			row[j] = exp(row[j] - mx_ll);
	}
	for (size_t j = 0; j < K; j++)
		g[j] = 1.0 / (double)K;
	for (int round = 0; round < BG_NPMLE_ROUNDS; round++) {
		double change = 0;

		memset(acc, 0, sizeof(acc));
		for (size_t i = 0; i < n; i++) {
			const double *row = lik + i * K;
			double den = 0;

			for (size_t j = 0; j < K; j++)
				den += g[j] * row[j];
			if (den <= 0)
				continue;
			for (size_t j = 0; j < K; j++)
				acc[j] += g[j] * row[j] / den;
		}
		for (size_t j = 0; j < K; j++) {
			double ng = acc[j] / (double)n;

			change = fmax(change, fabs(ng - g[j]));
			g[j] = ng;
		}
		if (change < 1e-7)
			break;
	}
	free(lik);
	/* at most INFER_MIX_BINS points: shares too small to matter (below
	 * 1e-6 of the class) join the next point above; past the highest
	 * INFER_MIX_BINS - 1 points, the rest join the lowest of those (low
	 * rates decide no test of a link that stands out) */
	{
		size_t keep[BG_NPMLE_GRID], nk = 0;

		for (size_t j = 0; j < K; j++) {
			if (g[j] < 1e-6 && j + 1 < K) {
				g[j + 1] += g[j];
				continue;
			}
			keep[nk++] = j;
		}
		if (nk > INFER_MIX_BINS) {
			size_t drop = nk - INFER_MIX_BINS;

			for (size_t i = 0; i < drop; i++)
				g[keep[drop]] += g[keep[i]];
			memmove(keep, keep + drop, INFER_MIX_BINS * sizeof(*keep));
			nk = INFER_MIX_BINS;
		}
		mx->n = 0;
		for (size_t i = nk; i-- > 0;) {
			double q = fmin(fmax(lam[keep[i]], 1e-9), 0.5);

			mx->u[mx->n] = -log1p(-q);
			mx->mass[mx->n] = g[keep[i]];
			mx->n++;
		}
	}
	return 0;
}

/* expm1 remembered by its argument's bits (direct-mapped): the rest of a
 * path under the classes' medians depends on its classes alone, and a
 * fabric's paths cross few class sequences, so a few arguments recur over
 * every flow. A hit returns the value libm gave for the same bits. */
#define BG_MEMO_SLOTS 256
struct bg_expm1_memo {
	uint64_t key[BG_MEMO_SLOTS];
	double val[BG_MEMO_SLOTS];
	uint8_t used[BG_MEMO_SLOTS];
};

static double bg_expm1_memo(struct bg_expm1_memo *mo, double z)
{
	uint64_t b;
	size_t i;

	memcpy(&b, &z, sizeof(b));
	i = (size_t)((b * 0x9e3779b97f4a7c15ull) >> 56) % BG_MEMO_SLOTS;
	if (!mo->used[i] || mo->key[i] != b) {
		mo->used[i] = 1;
		mo->key[i] = b;
		mo->val[i] = expm1(z);
	}
	return mo->val[i];
}

/* What the rest of each link's clean flows explains, for the healthy rates'
 * deconvolution: E_mix[l] is the lower of E[l] (the rest at its classes'
 * medians) and the rest at its links' fitted rates. The medians alone are
 * the minimum-norm split of path sums that a Clos fabric does not identify
 * per class, and could explain more than the links lose: the deconvolved
 * rates then sat at 1e-6 where the fit, which the tests hold the rest at,
 * gave healthy links 1e-5 to 1e-4, and a link was tested against a null of
 * another scale. The fitted rates alone are circular where flows are few
 * (the fit gives a link's loss to it or to its path-mates) and made the
 * rates too low at 4 targets x 4 flows a host. The lower of the two keeps
 * each link's estimate the higher one: the null is thinner than neither.
 * Flows over an excluded link (out[]) are left out, as in E. */
static void bg_expected_fitted(const struct fit *f, const uint8_t *out, const double *E,
			       double *E_mix)
{
	const struct model *m = f->m;

	memset(E_mix, 0, m->nlinks * sizeof(*E_mix));
	for (size_t a = 0; a < m->nalts; a++) {
		const struct model_alt *al = &m->alts[a];
		const struct model_flow *fl = &m->flows[al->flow];
		const uint32_t *ls = m->alt_links + al->link_first;
		double x = 0, w = f->w[a];
		uint32_t k;

		if (w <= 0)
			continue;
		for (k = 0; k < al->nlinks && !out[ls[k]]; k++)
			x += f->u[ls[k]];
		if (k < al->nlinks)
			continue;
		for (k = 0; k < al->nlinks; k++) {
			double y = x - f->u[ls[k]];

			/* 1 - e^-y: healthy paths lose 1e-4, where three
			 * terms are within 5e-11 of it (relative) and expm1
			 * per link was a tenth of the inference */
			E_mix[ls[k]] += w * (double)fl->sent *
					(y < 1e-3 ? y * (1 - 0.5 * y * (1 - y / 3)) : -expm1(-y));
		}
	}
	for (size_t l = 0; l < m->nlinks; l++)
		E_mix[l] = fmin(E_mix[l], E[l]);
}

int fit_background_learn(struct fit *f, const struct infer_cfg *cfg,
				struct infer_stats *st)
{
	const struct model *m = f->m;
	size_t nl = m->nlinks;
	uint8_t *tier = malloc(m->ndevs + 1), *cls = malloc(nl + 1);
	double *S = calloc(nl + 1, sizeof(*S)), *L = calloc(nl + 1, sizeof(*L));
	double *E = calloc(nl + 1, sizeof(*E)), *r = calloc(nl + 1, sizeof(*r));
	double *E_mix = calloc(nl + 1, sizeof(*E_mix));
	struct bg_item *est = malloc((nl + 1) * sizeof(*est));
	struct bg_item *noise = malloc((nl + 1) * sizeof(*noise));
	struct bg_item *dev = malloc((nl + 1) * sizeof(*dev));
	double med[BG_CLASSES], top[BG_CLASSES], standout0, med_solved[BG_CLASSES];
	double med_u[BG_CLASSES];
	int tie_in, same, sums_all = 0;
	uint8_t *out_ = calloc(nl + 1, 1), *out_prev = calloc(nl + 1, 1);
	struct bg_expm1_memo *memo = calloc(1, sizeof(*memo));
	size_t count[BG_CLASSES] = { 0 };
	int rc = -1;

	if (!tier || !cls || !S || !L || !E || !E_mix || !r || !est || !noise || !dev || !out_ ||
	    !out_prev || !memo)
		goto out;
	if (cfg->background_loss > 0 || nl < BG_LEARN_MIN_LINKS) {
		/* the override, or a fabric too small to learn from: with a few
		 * dozen links one sick host is on a third of them */
		double q = cfg->background_loss > 0 ? cfg->background_loss : BG_PRIOR_LOSS;

		for (size_t l = 0; l < nl; l++)
			f->u_bg[l] = -log1p(-q);
		for (int c = 0; c < BG_CLASSES; c++)
			f->bg_mix[c] = (struct bg_mix){ .n = 1, .u = { -log1p(-q) }, .mass = { 1 } };
		st->background_median = st->background_top = q;
		rc = 0;
		goto out;
	}
	if (model_tiers(m, tier) < 0)
		goto out;
	for (size_t l = 0; l < nl; l++) {
		cls[l] = (uint8_t)(tier[m->link_from[l]] * 8 + tier[m->link_to[l]]);
		if (cls[l] >= BG_POOLED)
			cls[l] = BG_POOLED - 1;
	}
	/* start: the top tenth of the fitted rates stand out */
	{
		size_t n = 0, k;

		for (size_t l = 0; l < nl; l++)
			if (f->u[l] > 0)
				est[n++] = (struct bg_item){ 0, f->u[l], (uint32_t)l };
		qsort(est, n, sizeof(*est), bg_item_cmp);
		standout0 = n ? est[(size_t)(0.9 * (double)(n - 1))].v : 0;
		/* the top tenth, ties at its edge included unless they are many
		 * (evenly spread loss is background, not a fault) */
		for (k = n; k > 0 && est[k - 1].v >= standout0; k--)
			;
		tie_in = 5 * (n - k) <= (n > 5 ? n : 5);
	}
	/* the top tenth is too few where faulty devices make a fifth to a half
	 * of a class lossy (each switch's loss lands on all its links): their
	 * flows then raise every class's median, the top with it, and no later
	 * round lets them out (a 2-tier fabric with three 0.2-0.5% switches
	 * named nothing). A link also stands out at the start when its rate is
	 * twice its class's median rate (the effect size), which holds while
	 * most of the class is healthy; where the median rate is 0 (thin
	 * evidence) that says nothing and the top tenth alone decides. */
	for (int c = 0; c < BG_CLASSES; c++) {
		size_t n = 0;

		for (size_t l = 0; l < nl; l++)
			if (cls[l] == c)
				est[n++] = (struct bg_item){ 0, f->u[l], (uint32_t)l };
		qsort(est, n, sizeof(*est), bg_item_cmp);
		med_u[c] = n ? bg_median(est, n) : 0;
	}
	for (int c = 0; c < BG_CLASSES; c++)
		med[c] = top[c] = 0;
	for (int round = 0; round < BG_ROUNDS; round++) {
		size_t n = 0;

		/* flows over a link that stands out from its class (the fit gives
		 * it at least INFER_EFFECT_MIN times the class's top) say nothing
		 * about healthy loss: a blackhole or a device would swamp them */
		for (size_t l = 0; l < nl; l++) {
			double q = round ? -log1p(-fmin(top[cls[l]], 0.5)) : 0;

			out_[l] = round ? f->u[l] > INFER_EFFECT_MIN * q
				  : f->u[l] > standout0 || (tie_in && f->u[l] > 0 &&
							    f->u[l] >= standout0) ||
					    (med_u[cls[l]] > 0 &&
					     f->u[l] > INFER_EFFECT_MIN * med_u[cls[l]]);
		}
		/* the same links out as last round (the usual last round): the
		 * medians and the sums over the flows below come out as they
		 * did, bit for bit, and are kept */
		same = round && !memcmp(out_, out_prev, nl);
		memcpy(out_prev, out_, nl);
		if (same)
			memcpy(med, med_solved, sizeof(med));
		else if (bg_medians_solve(f, cls, out_, S, L, med, &sums_all) < 0)
			goto out;
		memcpy(med_solved, med, sizeof(med));
		for (size_t l = 0; l < nl; l++)
			r[l] = -log1p(-fmin(med[cls[l]], 0.5));
		/* the medians' pass summed S and L over these flows already, in
		 * the same order and operations: only E is left */
		if (!same && !sums_all) {
			memset(S, 0, nl * sizeof(*S));
			memset(L, 0, nl * sizeof(*L));
		}
		if (!same)
			memset(E, 0, nl * sizeof(*E));
		for (size_t a = 0; a < m->nalts && !same; a++) {
			const struct model_alt *al = &m->alts[a];
			const struct model_flow *fl = &m->flows[al->flow];
			const uint32_t *ls = m->alt_links + al->link_first;
			double x = 0, w = f->w[a];
			uint32_t k;

			if (w <= 0)
				continue;
			for (k = 0; k < al->nlinks && !out_[ls[k]]; k++)
				x += r[ls[k]];
			if (k < al->nlinks)
				continue;
			for (k = 0; k < al->nlinks; k++) {
				if (!sums_all) {
					S[ls[k]] += w * (double)fl->sent;
					L[ls[k]] += w * (double)fl->lost;
				}
				E[ls[k]] += w * (double)fl->sent *
					    -bg_expm1_memo(memo, -(x - r[ls[k]]));
			}
		}
		for (size_t l = 0; l < nl; l++) {
			if (S[l] <= 0)
				continue;
			est[n].cls = noise[n].cls = cls[l];
			est[n].v = (L[l] - E[l]) / S[l];
			est[n].l = (uint32_t)l;
			noise[n].v = fmax(E[l] + med[cls[l]] * S[l], 1) / (S[l] * S[l]);
			n++;
		}
		if (round == BG_ROUNDS - 1)
			bg_expected_fitted(f, out_, E, E_mix);
		/* classes too small for a spread of their own join the pool */
		memset(count, 0, sizeof(count));
		for (size_t i = 0; i < n; i++)
			count[est[i].cls]++;
		for (size_t i = 0; i < n; i++)
			if (count[est[i].cls] < BG_CLASS_MIN_LINKS)
				est[i].cls = noise[i].cls = BG_POOLED;
		qsort(est, n, sizeof(*est), bg_item_cmp);
		qsort(noise, n, sizeof(*noise), bg_item_cmp);
		memset(count, 0, sizeof(count));
		for (size_t i = 0; i < n; i++)
			count[est[i].cls]++;
		for (size_t i = 0, c0 = 0; i < BG_CLASSES; c0 += count[i], i++) {
			struct bg_item *v = est + c0, *nv = noise + c0;
			size_t k = count[i];
			double md, mad, spread2, q_hi, cut, mean = 0;
			size_t kin, nmean = 0;

			if (!k)
				continue;
			md = bg_median(v, k);
			if (i == BG_POOLED)
				md = med[i] = bg_median(v, k); /* the pool's own */
			for (size_t j = 0; j < k; j++)
				dev[j].v = fabs(v[j].v - md), dev[j].cls = 0;
			qsort(dev, k, sizeof(*dev), bg_item_cmp);
			mad = 1.4826 * bg_median(dev, k);
			/* the quantile of the links that are not outliers: faulty
			 * devices can make far more than 5% of a class lossy */
			cut = md + BG_TOP_SDS * mad;
			for (kin = k; kin > 1 && v[kin - 1].v > cut; kin--)
				;
			q_hi = v[(size_t)(BG_TOP_QUANTILE * (double)(kin - 1))].v;
			spread2 = fmax(0, mad * mad - bg_median(nv, k));
			/* with thin evidence most links lose nothing, median or MAD
			 * is 0 and only the mean still sees the background: then the
			 * mean of the lower BG_TOP_QUANTILE of the links (faults
			 * left out) times BG_TOP_OVER_MEAN is a floor */
			for (size_t j = 0; j < (size_t)(BG_TOP_QUANTILE * (double)k); j++, nmean++)
				mean += v[j].v;
			mean = nmean ? fmax(0, mean / (double)nmean) : 0;
			top[i] = fmax(fmax(0, md) + BG_TOP_SDS * sqrt(spread2), q_hi);
			if (md <= 0 || mad <= 0) {
				/* nor can a rate below one probe in the median
				 * link's clean probes be told from 0: without this
				 * floor, where 95% of a class lost nothing (sparse
				 * probing) the top was 0, every link that lost a
				 * probe stood out, its flows left the estimate, and
				 * the null said that healthy links lose nothing */
				for (size_t j = 0; j < k; j++)
					dev[j].v = S[v[j].l], dev[j].cls = 0;
				qsort(dev, k, sizeof(*dev), bg_item_cmp);
				top[i] = fmax(top[i], BG_TOP_OVER_MEAN * mean);
				top[i] = fmax(top[i], 1 / bg_median(dev, k));
			}
			/* the tests use only the last round's distribution, fit on
			 * the links within BG_TOP_SDS of the median by the spread
			 * of rates and each link's own binomial noise: a cut by
			 * the MAD alone is 0 where most links lost no probe and
			 * kept out every link that lost one (the null then said
			 * healthy links lose nothing), and no cut kept a weak
			 * device's links in, the null then explaining them */
			if (round == BG_ROUNDS - 1) {
				size_t nin = 0;

				for (size_t j = 0; j < k; j++) {
					uint32_t l = v[j].l;
					double nz = fmax(E[l] + fmax(md, 0) * S[l], 1) / (S[l] * S[l]);

					if (v[j].v - md <= BG_TOP_SDS * sqrt(spread2 + nz))
						dev[nin++] = v[j];
				}
				int rc_mix = bg_mix_deconvolve(&f->bg_mix[i], nin ? dev : v,
							       nin ? nin : k, S, L, E_mix);

				if (rc_mix < 0)
					goto out;
				if (rc_mix > 0)
					f->bg_mix[i] = (struct bg_mix){
						.n = 1, .u = { -log1p(-fmin(top[i], 0.5)) }, .mass = { 1 }
					};
			}
		}
		/* links of small classes were estimated with the pool; a class
		 * with no clean flows this round keeps the last round's figures */
		for (size_t c = 0; c < BG_POOLED; c++)
			if (count[c] == 0 && count[BG_POOLED]) {
				med[c] = med[BG_POOLED];
				top[c] = top[BG_POOLED];
				f->bg_mix[c] = f->bg_mix[BG_POOLED];
			}
	}
	st->background_median = st->background_top = 0;
	for (size_t l = 0; l < nl; l++) {
		double q = fmin(fmax(top[cls[l]], 1e-9), 0.5);

		f->u_bg[l] = -log1p(-q);
		f->bg_cls[l] = cls[l];
		st->background_top = fmax(st->background_top, q);
		st->background_median = fmax(st->background_median, med[cls[l]]);
	}
	rc = 0;
out:
	free(tier);
	free(cls);
	free(S);
	free(L);
	free(E);
	free(E_mix);
	free(r);
	free(est);
	free(noise);
	free(dev);
	free(out_);
	free(out_prev);
	free(memo);
	return rc;
}

/* Test one variable against the background: fills loss, interval, score and
 * confidence; returns 1 when it is faulty at the corrected level. */
int terms_test(const struct terms *t, double u_hat, double u_null,
		      double ntests, double alpha, struct suspect *s)
{
	double lr, pv;

	if (u_hat <= u_null)
		return 0;
	lr = 2 * (terms_loglik(t, u_hat) - terms_loglik(t, u_null));
	if (!(lr > 0))
		return 0;
	/* one-sided test on the boundary: half a chi-square(1) tail */
	pv = 0.5 * erfc(sqrt(lr / 2));
	pv *= ntests;
	if (pv > alpha)
		return 0;
	s->score = lr;
	s->confidence = pv < 1 ? 1 - pv : 0;
	s->loss_ratio = u_to_loss(u_hat);
	return 1;
}

/* The 95% profile-likelihood interval of a suspect's loss (the costly part
 * of a test, so only for suspects that are kept). */
void terms_interval(const struct terms *t, double u_hat, struct suspect *s)
{
	double lo, hi;

	terms_bounds(t, u_hat, LR_CI95 / 2, &lo, &hi);
	s->loss_lo = u_to_loss(lo);
	s->loss_hi = u_to_loss(hi);
}

/* The p-value of link l against its class's healthy rates: each point of
 * the distribution (struct bg_mix) is a simple null, tested by the
 * statistic lr(u) (one-sided: half a chi-square(1) tail), and the p-values
 * are averaged with the points' shares. Under a healthy link whose rate is
 * drawn from its class's distribution this is a valid p-value, so the
 * Bonferroni correction over all links keeps the family-wise error: a link
 * need only be unlikely for the class as a whole, not for its single
 * highest rate. Stops early once the p-value exceeds stop (the
 * corrected level). kind: 0 conditional, 1 relaxed-or-profile; each
 * statistic is divided by the link's dispersion phi. Returns
 * the p-value and the statistic against the class's top in *lr_top, or -1
 * (ENOMEM). */
static double fit_mix_pvalue(struct fit *f, const struct infer_cfg *cfg, uint32_t l,
			     int kind, double phi, double stop, double *lr_top)
{
	const struct bg_mix *mx = &f->bg_mix[f->bg_cls[l]];
	struct bg_mix one = { .n = 1, .u = { f->u_bg[l] }, .mass = { 1 } };
	double p = 0, pb, done = 0, h_hat = 0, before = NAN;
	struct terms t;
	int gathered = 0;

	if (mx->n == 0)
		mx = &one;
	*lr_top = 0;
	for (int b = 0; b < mx->n && p <= stop; b++) {
		double u0 = mx->u[b], lr;

		if (f->u[l] <= u0) {
			p += mx->mass[b];
			done += mx->mass[b];
			continue;
		}
		/* l's terms and its fitted log-likelihood once: nothing below
		 * changes them (the relaxed and profile statistics reuse the
		 * scratch, so kind 1 gathers the terms again every time) */
		if (!gathered || kind != 0)
			fit_link_terms(f, l, &t);
		if (!gathered)
			h_hat = terms_loglik(&t, f->u[l]);
		gathered = 1;
		if (kind == 0) {
			lr = fmax(0, 2 * (h_hat - terms_loglik(&t, u0)));
		} else {
			lr = fit_relaxed_lr(f, l, &t, u0, h_hat);
			if (lr < 0 || 0.5 * erfc(sqrt(lr / 2)) > stop)
				lr = fit_profile_lr(f, cfg, l, u0, &before);
			if (lr < 0)
				return -1;
		}
		lr /= phi;
		if (b == 0)
			*lr_top = lr;
		pb = 0.5 * erfc(sqrt(lr / 2));
		p += mx->mass[b] * pb;
		done += mx->mass[b];
		/* the points below hold lower rates, so their statistics are
		 * larger and their p-values below pb: once that bound settles
		 * the verdict, the rest need no refit */
		if (p + (1 - done) * pb <= stop) {
			p += fmax(0, 1 - done) * pb;
			break;
		}
	}
	return fmin(p, 1);
}

/* Quasi-likelihood dispersion of each candidate link's flows under the
 * fit: Pearson's statistic over the flows through it, per degree of
 * freedom, at least 1. A real fault drops alike on every flow it carries
 * (binomial, phi near 1); loss the model misplaces onto a link (a flow
 * whose path changed, a hop recorded wrongly) comes in a few flows that
 * each lose far more than the link's rate, and phi grows with it. The
 * confirming statistics are divided by phi (McCullagh & Nelder's
 * quasi-likelihood), so misplaced loss no longer reads as evidence. */
static int fit_dispersion(const struct fit *f, double *phi)
{
	const struct model *m = f->m;
	size_t nl = m->nlinks;
	double *n = calloc(nl + 1, sizeof(*n));

	if (!n)
		return -1;
	memset(phi, 0, nl * sizeof(*phi));
	for (size_t a = 0; a < m->nalts; a++) {
		const struct model_alt *al = &m->alts[a];
		const struct model_flow *fl = &m->flows[al->flow];
		const uint32_t *ls = m->alt_links + al->link_first;
		double w = f->w[a], x = 0, q, mu, v, r2;
		uint32_t k;

		if (w <= 0 || fl->sent == 0)
			continue;
		for (k = 0; k < al->nlinks && !f->cand[ls[k]]; k++)
			;
		if (k == al->nlinks)
			continue;
		for (k = 0; k < al->nlinks; k++)
			x += f->u[ls[k]];
		q = -expm1(-x);
		mu = (double)fl->sent * q;
		v = fmax(mu * (1 - q), 1e-12);
		r2 = ((double)fl->lost - mu) * ((double)fl->lost - mu) / v;
		for (k = 0; k < al->nlinks; k++) {
			if (!f->cand[ls[k]])
				continue;
			phi[ls[k]] += w * r2;
			n[ls[k]] += w;
		}
	}
	for (size_t l = 0; l < nl; l++)
		phi[l] = n[l] > 2 ? fmax(1, phi[l] / (n[l] - 1)) : 1;
	free(n);
	return 0;
}

/* The family the link tests are corrected for: the links that carried
 * probes. A link no probe crossed can never be named (Tarone's point: a
 * hypothesis that cannot reach the level costs the others nothing), and
 * devices and hosts are no tests against the null of their own: they are
 * named only as groups of named links (infer_group.c), so a false one
 * needs a false link first. Depends on where probes went, not on what
 * they lost. */
static double fit_link_family_count(const struct fit *f)
{
	double n = 0;

	for (uint32_t l = 0; l < f->m->nlinks; l++)
		n += f->B[l] > 0 || f->inc_first[l + 1] > f->inc_first[l];
	return fmax(n, 1);
}

/* Delivered replies per link (the reply flows' alternatives at their
 * placed weights; model.h, nreplies) on a host's links (a link to or from
 * a prober or a target: every reply to or from the host crosses it), 0 on
 * the rest, for fit_side_stands_out. Returns 0 or -1 (ENOMEM). */
static int fit_reply_successes_sum(const struct fit *f, double *b_rep)
{
	const struct model *m = f->m;
	uint8_t *host = calloc(m->ndevs + 1, 1);

	if (!host)
		return -1;
	for (size_t i = 0; i < m->nflows; i++)
		host[m->flows[i].prober_dev] = host[m->flows[i].target_dev] = 1;
	memset(b_rep, 0, m->nlinks * sizeof(*b_rep));
	for (size_t a = m->nalts_flows; a < m->nalts; a++) {
		const struct model_alt *al = &m->alts[a];
		const struct model_flow *fl = &m->flows[al->flow];
		double ok = f->w[a] * (double)(fl->sent - fl->lost);

		for (uint32_t k = 0; k < al->nlinks && ok > 0; k++)
			b_rep[m->alt_links[al->link_first + k]] += ok;
	}
	for (uint32_t l = 0; l < m->nlinks; l++)
		if (!host[m->link_from[l]] && !host[m->link_to[l]])
			b_rep[l] = 0;
	free(host);
	return 0;
}

/* Link l's evidence from one side alone, the probes (rep 0) or the
 * replies (rep 1), tested as a link is: its own rate over
 * INFER_EFFECT_MIN times its class's top, over that top beyond what the
 * family's links show once, and against its class's healthy rates
 * family-wise, by the relaxed statistic (fit_relaxed_lr: under the null
 * each neighbour may rise to its class's top) over phi. The probes' side
 * is read at the probes' own fit (u_fwd): the replies make the links
 * beside a host look cleaner and would leave the probes' background loss
 * on the host's link. A term may hold probe and reply alternatives of the
 * same links, so its loss is split by its alternatives' side. c, r, r0:
 * scratch of f->scratch entries. */
static int fit_side_stands_out(const struct fit *f, const struct infer_cfg *cfg, uint32_t l,
			       int rep, const double *b_rep, double phi, double nfam, double *c,
			       double *r, double *r0)
{
	const struct model *m = f->m;
	const double *u_at = !rep && f->u_fwd ? f->u_fwd : f->u;
	const struct bg_mix *mx = &f->bg_mix[f->bg_cls[l]];
	struct bg_mix one = { .n = 1, .u = { f->u_bg[l] }, .mass = { 1 } };
	struct suspect s = { 0 };
	struct terms t = { .c = c, .r = r }, t0;
	double u, curv, p = 0, ll;

	for (uint32_t i = f->inc_first[l]; i < f->inc_first[l + 1]; i++) {
		uint32_t k = f->inc[i];
		double cs = 0, rr = 0, rn = 0;

		for (uint32_t j = f->term_first[k]; j < f->term_first[k + 1]; j++) {
			uint32_t a = f->term_alts[j];
			const struct model_flow *fl = &m->flows[m->alts[a].flow];

			if (!!fl->reply == rep)
				cs += f->w[a] * (double)fl->lost;
		}
		if (cs <= 0)
			continue;
		for (uint32_t j = f->lfirst[k]; j < f->lfirst[k + 1]; j++) {
			uint32_t nb = f->llinks[j];

			if (nb == l)
				continue;
			rr += u_at[nb];
			rn += fmax(f->u_bg[nb], u_at[nb]);
		}
		c[t.n] = cs;
		r0[t.n] = rn;
		r[t.n++] = rr;
	}
	t.B = rep ? b_rep[l] : fmax(0, f->B[l] - b_rep[l]);
	t0 = t;
	t0.r = r0;
	u = terms_solve(&t, cfg->prior_probes, u_at[l], &curv);
	if (!(u_to_loss(u) >= INFER_EFFECT_MIN * u_to_loss(f->u_bg[l])) ||
	    !terms_test(&t, u, f->u_bg[l], nfam, 1.0, &s))
		return 0;
	if (mx->n == 0)
		mx = &one;
	ll = terms_loglik(&t, u);
	for (int b = 0; b < mx->n; b++) {
		double lr = u > mx->u[b] ? fmax(0, 2 * (ll - terms_loglik(&t0, mx->u[b]))) / phi : 0;

		p += mx->mass[b] * (lr > 0 ? 0.5 * erfc(sqrt(lr / 2)) : 1);
	}
	return fmin(p, 1) * nfam <= cfg->alpha;
}

/* Faulty links: conditional tests (neighbours at their fitted rates) pick
 * candidates cheaply; the relaxed bound or the profile statistic confirms
 * them. Bonferroni over the links that carried probes. */
int grouping_links_test(struct grouping *g)
{
	struct fit *f = g->f;
	const struct model *m = g->m;
	const struct infer_cfg *cfg = g->cfg;
	double *phi = NULL, nfam = fit_link_family_count(f), *b_rep = NULL, *sc = NULL, *sr = NULL,
	       *sr0 = NULL;

	phi = malloc((m->nlinks + 1) * sizeof(*phi));
	f->ll_fit = malloc((f->nlossy + 1) * sizeof(*f->ll_fit));
	if (!phi || !f->ll_fit)
		goto nomem;
	for (uint32_t k = 0; k < f->nlossy; k++)
		f->ll_fit[k] = NAN;
	if (m->nreplies) {
		b_rep = malloc((m->nlinks + 1) * sizeof(*b_rep));
		sc = malloc((f->scratch + 1) * sizeof(*sc));
		sr = malloc((f->scratch + 1) * sizeof(*sr));
		sr0 = malloc((f->scratch + 1) * sizeof(*sr0));
		if (!b_rep || !sc || !sr || !sr0 || fit_reply_successes_sum(f, b_rep) < 0)
			goto nomem;
	}
	/* the screening divides by the dispersion too: loss a faulty
	 * neighbour's flows leave over (a blackhole kills whole flows, not a
	 * rate) lands on the links beside it, and screened in as candidates
	 * those move freely in each other's profile tests and hide the
	 * real fault; here phi is over every flow of each link screened.
	 * A link's phi sums its own flows alone, the same whichever other
	 * links are counted, so only the links whose rate passes the effect
	 * size (the only ones screened) are: most flows cross none of them */
	for (size_t i = 0; i < f->nactive; i++) {
		uint32_t l = f->active[i];

		f->cand[l] = u_to_loss(f->u[l]) >= INFER_EFFECT_MIN * u_to_loss(f->u_bg[l]);
	}
	if (fit_dispersion(f, phi) < 0)
		goto nomem;
	for (size_t i = 0; i < f->nactive; i++) {
		uint32_t l = f->active[i];
		double lr_top;

		f->cand[l] = f->cand[l] &&
			     fit_mix_pvalue(f, cfg, l, 0, phi[l], cfg->alpha / nfam, &lr_top) * nfam <=
				     cfg->alpha;
	}
	if (fit_dispersion(f, phi) < 0)
		goto nomem;
	for (size_t i = 0; i < f->nactive; i++) {
		uint32_t l = f->active[i];
		struct suspect s = { .kind = SUSPECT_LINK };
		struct terms t;
		double lr, pv;

		if (!f->cand[l])
			continue;
		fit_link_terms(f, l, &t);
		/* the distribution test may name a link that its class's top
		 * alone would not; it must still be more than the family's
		 * links at that top are expected to show once (Bonferroni
		 * p-value at most 1): at 48-ary scale a link that moved flows
		 * had piled loss on passed the distribution test alone */
		if (!terms_test(&t, f->u[l], f->u_bg[l], nfam, 1.0, &s))
			continue;
		/* the profile test's healthy neighbours rise at most to their
		 * posterior means under their classes' rates (at most the top)
		 * where l's flows are binomial as the deconvolution assumed:
		 * loss the model misplaces (flows that moved) comes
		 * overdispersed, and there they keep the top, noise and all
		 * (stale-paths 3-tier seed 7: the host downlink below a 4.2%
		 * link, dispersion 3.0, was named) */
		f->nbr_shrink = phi[l] <= 1;
		pv = fit_mix_pvalue(f, cfg, l, 1, phi[l], cfg->alpha / nfam, &lr);
		f->nbr_shrink = 0;
		if (pv < 0)
			goto nomem;
		pv *= nfam;
		if (pv > cfg->alpha)
			continue;
		/* a host's link the replies cross is named on one side's
		 * evidence standing out alone, the probes' or the replies':
		 * both within the background, summed, crossed the line on a
		 * clean fabric. Only a host's links: a fabric link is one of
		 * several routes of a reply, and there the rule missed weak
		 * faults the probes alone name (4 over 10 seeds of 10-faults-50p with
		 * reply loss) */
		if (b_rep && b_rep[l] > 0 &&
		    !fit_side_stands_out(f, cfg, l, 0, b_rep, phi[l], nfam, sc, sr, sr0) &&
		    !fit_side_stands_out(f, cfg, l, 1, b_rep, phi[l], nfam, sc, sr, sr0))
			continue;
		s.score = lr;
		s.confidence = pv < 1 ? 1 - pv : 0;
		fit_link_terms(f, l, &t); /* the relaxed bound used t as scratch */
		terms_interval(&t, f->u[l], &s);
		snprintf(s.from, sizeof(s.from), "%s", model_dev_name(m, m->link_from[l]));
		snprintf(s.to, sizeof(s.to), "%s", model_dev_name(m, m->link_to[l]));
		g->link_sus[l] = (int32_t)g->links.n;
		if (suspect_list_add(&g->links, &s) < 0)
			goto nomem;
	}
	free(phi);
	free(b_rep);
	free(sc);
	free(sr);
	free(sr0);
	free(f->ll_fit);
	f->ll_fit = NULL;
	return 0;
nomem:
	free(f->ll_fit);
	f->ll_fit = NULL;
	free(phi);
	free(b_rep);
	free(sc);
	free(sr);
	free(sr0);
	return -1;
}
