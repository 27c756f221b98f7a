/* Penalized maximum likelihood by coordinate ascent in u = -log(success):
 * the log-likelihood is concave in u, so each 1-D update (a monotone Newton
 * solve) moves toward the global optimum. Links that no lossy flow crosses
 * sit at u = 0 and never enter the loop, which keeps a million flows fast.
 * Ambiguous paths are weighted by EM. Then likelihood-ratio tests against
 * the background rate with a Bonferroni correction decide the suspects. */
#include "infer.h"
#include "model.h"
#include "strtab.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A link update gaining less log-likelihood than this does not wake its
 * neighbours, and a sweep whose best update gains less ends the fit: the
 * decisions rest on likelihood-ratio statistics of order 10 and more. */
#define FIT_GAIN_MIN 0.1
#define FIT_WAKE_MIN 1.0
#define PROFILE_SHARED_MIN 0.125 /* see fit_profile_lr */
#define SUSPECT_DROPPED ((enum suspect_kind)-1) /* merged into its switch */
#define LR_CI95 3.841458820694124 /* chi-square(1) 95% quantile */
#define INFER_EFFECT_MIN 2.0 /* a suspect loses at least twice its null */

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

struct fit {
	const struct model *m;
	double *u;  /* per link: -log(success rate) */
	double *B;  /* per link: weighted delivered probes */
	double *w;  /* per alternative: P(flow took it), refit by EM */
	/* lossy alternatives in a compact numbering, for cache-friendly sweeps */
	uint32_t nlossy;
	uint32_t *lossy_alt;  /* compact id -> alternative */
	int32_t *alt_lossy;   /* alternative -> compact id, or -1 */
	double *lc;           /* per compact id: weight * lost probes */
	double *lX;           /* per compact id: sum of u over its links */
	uint32_t *inc_first, *inc; /* per link: compact ids through it */
	uint32_t *lfirst, *llinks; /* per compact id: its links, contiguous */
	double *cbuf, *rbuf;       /* scratch for one variable's terms */
	size_t scratch;
	uint32_t *active;
	size_t nactive;
	uint8_t *dirty; /* per link: to be solved again */
	uint32_t *link_stamp, *alt_stamp, stamp; /* set membership for profiles */
	uint8_t *cand; /* per link: passed the conditional test */
	double *u_bg;  /* per link: the null, the top of healthy loss in its class */
	uint32_t *shared; /* per link: lossy paths shared with a profiled link */
};

/* One variable's terms: maximize h(u) = -B u + sum c_i log(1 - e^-(u + r_i))
 * over u >= 0 (r_i: the rest of the path's u). */
struct terms {
	double B;
	const double *c, *r;
	size_t n;
};

static double terms_phi(const struct terms *t, double u, double *dphi)
{
	double phi = t->B, d = 0;

	for (size_t i = 0; i < t->n; i++) {
		double z = u + t->r[i], e = expm1(z);

		if (e <= 0) {
			*dphi = INFINITY;
			return -INFINITY;
		}
		phi -= t->c[i] / e;
		d += t->c[i] * (e + 1) / (e * e);
	}
	*dphi = d;
	return phi;
}

static double terms_loglik(const struct terms *t, double u)
{
	double h = -t->B * u;

	for (size_t i = 0; i < t->n; i++) {
		double z = u + t->r[i];

		if (z <= 0)
			return -INFINITY;
		h += t->c[i] * log(-expm1(-z));
	}
	return h;
}

/* The maximizer of h with B raised by prior: phi(u) = h'(u) is increasing and
 * concave in u, so Newton from a point left of the root never overshoots.
 * *curv gets -h'' at the answer (0 when the answer is u = 0). */
static double terms_solve(const struct terms *t, double prior, double u_start,
			  double *curv)
{
	struct terms tp = *t;
	double u, d = 0, phi, csum = 0;

	tp.B += prior;
	*curv = 0;
	if (tp.n == 0)
		return 0;
	phi = terms_phi(&tp, 0, &d);
	if (phi >= 0)
		return 0;
	for (size_t i = 0; i < tp.n; i++)
		csum += tp.c[i];
	/* warm start, else the root when every rest-of-path is clean (r = 0) */
	u = u_start > 0 ? u_start : fmin(csum / tp.B, 50);
	while ((phi = terms_phi(&tp, u, &d)) >= 0 && u > 1e-300)
		u *= 0.25;
	for (int it = 0; it < 200; it++) {
		double step;

		if (!isfinite(phi) || !isfinite(d)) {
			u *= 2;
			phi = terms_phi(&tp, u, &d);
			continue;
		}
		step = -phi / d;
		u += step;
		if (u > 700)
			return 700;
		phi = terms_phi(&tp, u, &d);
		if (step <= 1e-12 + 1e-9 * u)
			break;
	}
	*curv = d;
	return u;
}

/* u where the log-likelihood has dropped by drop below its value at u_hat,
 * on the left (dir < 0, floored at 0) or right side; by bisection. */
static double terms_bound(const struct terms *t, double u_hat, double drop, int dir)
{
	double h0 = terms_loglik(t, u_hat) - drop, lo, hi;

	if (dir < 0) {
		if (terms_loglik(t, 0) >= h0)
			return 0;
		lo = 0;
		hi = u_hat;
	} else {
		lo = u_hat;
		hi = u_hat > 0 ? u_hat * 2 : 1e-6;
		while (terms_loglik(t, hi) >= h0 && hi < 700)
			hi *= 2;
		if (hi >= 700)
			return 700;
	}
	for (int it = 0; it < 50; it++) {
		double mid = 0.5 * (lo + hi);
		int inside = terms_loglik(t, mid) >= h0;

		if ((dir < 0) == inside)
			hi = mid;
		else
			lo = mid;
	}
	return 0.5 * (lo + hi);
}

static double u_to_loss(double u)
{
	return -expm1(-u);
}

static void fit_free(struct fit *f)
{
	free(f->u);
	free(f->B);
	free(f->w);
	free(f->lossy_alt);
	free(f->alt_lossy);
	free(f->lc);
	free(f->lX);
	free(f->inc_first);
	free(f->inc);
	free(f->lfirst);
	free(f->llinks);
	free(f->cbuf);
	free(f->rbuf);
	free(f->active);
	free(f->dirty);
	free(f->link_stamp);
	free(f->cand);
	free(f->u_bg);
	free(f->shared);
	free(f->alt_stamp);
}

static int fit_init(struct fit *f, const struct model *m)
{
	size_t nl = m->nlinks, ninc = 0;

	memset(f, 0, sizeof(*f));
	f->m = m;
	f->u = calloc(nl + 1, sizeof(*f->u));
	f->B = calloc(nl + 1, sizeof(*f->B));
	f->w = malloc((m->nalts + 1) * sizeof(*f->w));
	f->alt_lossy = malloc((m->nalts + 1) * sizeof(*f->alt_lossy));
	f->inc_first = calloc(nl + 2, sizeof(*f->inc_first));
	f->dirty = calloc(nl + 1, 1);
	f->link_stamp = calloc(nl + 1, sizeof(*f->link_stamp));
	f->cand = calloc(nl + 1, 1);
	f->u_bg = calloc(nl + 1, sizeof(*f->u_bg));
	f->shared = calloc(nl + 1, sizeof(*f->shared));
	if (!f->shared || !f->u_bg || !f->u || !f->B || !f->w || !f->alt_lossy || !f->inc_first ||
	    !f->dirty || !f->link_stamp || !f->cand)
		return -1;
	for (size_t a = 0; a < m->nalts; a++) {
		const struct model_alt *al = &m->alts[a];

		f->w[a] = al->weight;
		f->alt_lossy[a] = -1;
		if (!m->flows[al->flow].lost)
			continue;
		f->alt_lossy[a] = (int32_t)f->nlossy++;
		for (uint32_t k = 0; k < al->nlinks; k++)
			f->inc_first[m->alt_links[al->link_first + k] + 1]++;
	}
	f->lossy_alt = malloc((f->nlossy + 1) * sizeof(*f->lossy_alt));
	f->lc = malloc((f->nlossy + 1) * sizeof(*f->lc));
	f->lX = calloc(f->nlossy + 1, sizeof(*f->lX));
	f->alt_stamp = calloc(f->nlossy + 1, sizeof(*f->alt_stamp));
	if (!f->lossy_alt || !f->lc || !f->lX || !f->alt_stamp)
		return -1;
	for (size_t l = 0; l < nl; l++) {
		if (f->inc_first[l + 1] > f->scratch)
			f->scratch = f->inc_first[l + 1];
		f->inc_first[l + 1] += f->inc_first[l];
	}
	ninc = f->inc_first[nl];
	f->inc = malloc((ninc + 1) * sizeof(*f->inc));
	f->lfirst = malloc((f->nlossy + 2) * sizeof(*f->lfirst));
	f->llinks = malloc((ninc + 1) * sizeof(*f->llinks));
	f->active = malloc((nl + 1) * sizeof(*f->active));
	f->cbuf = malloc((f->scratch + 1) * sizeof(*f->cbuf));
	f->rbuf = malloc((f->scratch + 1) * sizeof(*f->rbuf));
	if (!f->inc || !f->active || !f->cbuf || !f->rbuf || !f->lfirst || !f->llinks)
		return -1;
	f->lfirst[0] = 0;
	for (size_t a = 0; a < m->nalts; a++) {
		const struct model_alt *al = &m->alts[a];
		int32_t k = f->alt_lossy[a];

		if (k < 0)
			continue;
		f->lossy_alt[k] = (uint32_t)a;
		f->lc[k] = f->w[a] * (double)m->flows[al->flow].lost;
		f->lfirst[k + 1] = f->lfirst[k] + al->nlinks;
		for (uint32_t j = 0; j < al->nlinks; j++) {
			f->inc[f->inc_first[m->alt_links[al->link_first + j]]++] =
				(uint32_t)k;
			f->llinks[f->lfirst[k] + j] = m->alt_links[al->link_first + j];
		}
	}
	for (size_t l = nl; l > 0; l--)
		f->inc_first[l] = f->inc_first[l - 1];
	f->inc_first[0] = 0;
	for (size_t l = 0; l < nl; l++)
		if (f->inc_first[l + 1] > f->inc_first[l])
			f->active[f->nactive++] = (uint32_t)l;
	return 0;
}

/* Delivered probes per link under the current path weights. */
static void fit_successes_sum(struct fit *f)
{
	const struct model *m = f->m;

	memset(f->B, 0, m->nlinks * sizeof(*f->B));
	for (size_t a = 0; a < m->nalts; a++) {
		const struct model_alt *al = &m->alts[a];
		const struct model_flow *fl = &m->flows[al->flow];
		double ok = f->w[a] * (double)(fl->sent - fl->lost);

		for (uint32_t k = 0; k < al->nlinks; k++)
			f->B[m->alt_links[al->link_first + k]] += ok;
	}
}

/* Gather link l's terms given every other link's current u. */
static void fit_link_terms(struct fit *f, uint32_t l, struct terms *t)
{
	size_t n = 0;

	for (uint32_t i = f->inc_first[l]; i < f->inc_first[l + 1]; i++) {
		uint32_t k = f->inc[i];

		if (f->lc[k] <= 0)
			continue;
		f->cbuf[n] = f->lc[k];
		f->rbuf[n] = fmax(0, f->lX[k] - f->u[l]);
		n++;
	}
	t->B = f->B[l];
	t->c = f->cbuf;
	t->r = f->rbuf;
	t->n = n;
}

static void fit_alt_links_dirty(struct fit *f, uint32_t alt)
{
	const struct model *m = f->m;
	const struct model_alt *al = &m->alts[alt];

	for (uint32_t j = 0; j < al->nlinks; j++)
		f->dirty[m->alt_links[al->link_first + j]] = 1;
}

/* Sweeps over dirty links until the best update of a sweep gains under
 * FIT_GAIN_MIN: along non-identifiable ridges (a device's in- versus out-
 * links) u keeps drifting without changing the fit, so parameter change is
 * no stop rule. Only links whose neighbourhood moved are solved again: most
 * links settle in a sweep or two and stay settled. */
static int fit_sweeps(struct fit *f, const struct infer_cfg *cfg)
{
	int s;

	for (s = 0; s < cfg->max_sweeps; s++) {
		double gain_max = 0;
		size_t solved = 0;

		for (size_t i = 0; i < f->nactive; i++) {
			uint32_t l = f->active[i];
			struct terms t;
			double nu, du, curv, gain;

			if (!f->dirty[l])
				continue;
			f->dirty[l] = 0;
			solved++;
			fit_link_terms(f, l, &t);
			nu = terms_solve(&t, cfg->prior_probes, f->u[l], &curv);
			du = nu - f->u[l];
			if (du == 0)
				continue;
			for (uint32_t k = f->inc_first[l]; k < f->inc_first[l + 1]; k++)
				f->lX[f->inc[k]] += du;
			f->u[l] = nu;
			/* second-order estimate of the log-likelihood gained; exact
			 * when the link fell to the u = 0 boundary */
			gain = 0.5 * curv * du * du;
			if (nu == 0 || !isfinite(gain)) {
				t.B += cfg->prior_probes;
				gain = terms_loglik(&t, nu) - terms_loglik(&t, nu - du);
			}
			if (gain > gain_max)
				gain_max = gain;
			if (gain < FIT_WAKE_MIN)
				continue;
			/* the links sharing a lossy flow with l see a new rest-of-path */
			for (uint32_t k = f->inc_first[l]; k < f->inc_first[l + 1]; k++)
				for (uint32_t j = f->lfirst[f->inc[k]]; j < f->lfirst[f->inc[k] + 1]; j++)
					f->dirty[f->llinks[j]] = 1;
		}
		if (!solved || gain_max < FIT_GAIN_MIN)
			return s + 1;
	}
	return s;
}

/* E-step: each ambiguous flow's paths weighted by how well they explain it.
 * Updates the delivered counts and lossy weights in place and marks the
 * links of paths whose weight moved. Returns the largest weight change. */
static double fit_paths_reweight(struct fit *f)
{
	const struct model *m = f->m;
	double change = 0;

	for (size_t i = 0; i < m->nflows; i++) {
		const struct model_flow *fl = &m->flows[i];
		double lw[MODEL_ALTS_MAX], top = -INFINITY, sum = 0;

		if (fl->nalt < 2)
			continue;
		for (uint32_t k = 0; k < fl->nalt; k++) {
			const struct model_alt *al = &m->alts[fl->alt_first + k];
			double x = 0;

			for (uint32_t j = 0; j < al->nlinks; j++)
				x += f->u[m->alt_links[al->link_first + j]];
			lw[k] = -(double)(fl->sent - fl->lost) * x;
			if (fl->lost)
				lw[k] += x > 0 ? (double)fl->lost * log(-expm1(-x)) : -INFINITY;
			if (lw[k] > top)
				top = lw[k];
		}
		if (!isfinite(top))
			continue;
		for (uint32_t k = 0; k < fl->nalt; k++)
			sum += lw[k] = exp(lw[k] - top);
		for (uint32_t k = 0; k < fl->nalt; k++) {
			uint32_t a = fl->alt_first + k;
			const struct model_alt *al = &m->alts[a];
			double nw = lw[k] / sum, dw = nw - f->w[a];

			if (fabs(dw) < 1e-6)
				continue;
			change = fmax(change, fabs(dw));
			f->w[a] = nw;
			for (uint32_t j = 0; j < al->nlinks; j++)
				f->B[m->alt_links[al->link_first + j]] +=
					dw * (double)(fl->sent - fl->lost);
			if (f->alt_lossy[a] >= 0)
				f->lc[f->alt_lossy[a]] = nw * (double)fl->lost;
			if (fabs(dw) > 1e-3)
				fit_alt_links_dirty(f, a);
		}
	}
	return change;
}

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

/* Penalized log-likelihood restricted to the given links and alternatives
 * (the only terms a local refit changes). */
static double fit_local_loglik(const struct fit *f, const struct infer_cfg *cfg,
			       const struct u32vec *links, const struct u32vec *alts)
{
	double ll = 0;

	for (size_t i = 0; i < links->n; i++)
		ll -= (f->B[links->v[i]] + cfg->prior_probes) * f->u[links->v[i]];
	for (size_t i = 0; i < alts->n; i++) {
		double x = f->lX[alts->v[i]], c = f->lc[alts->v[i]];

		/* a path EM ruled out (weight 0) no longer counts */
		if (c > 0)
			ll += x > 0 ? c * log(-expm1(-x)) : -INFINITY;
	}
	return ll;
}

/* Profile likelihood-ratio statistic of link l against u_null: l is held at
 * the null and every link sharing a lossy flow with it is refit, so loss the
 * fit had pinned on l may move to its neighbours instead (a test holding the
 * neighbours at their fitted values overstates the evidence). The null is
 * composite: neighbours that are themselves candidates move freely, the
 * others only up to the background rate (or their fitted value if higher);
 * otherwise a group of links that always share flows (a host's uplink and
 * its switch's uplinks) could hide any fault in the group. The model state
 * is restored afterwards. Returns the statistic, or -1 (ENOMEM). */
static double fit_profile_lr(struct fit *f, const struct infer_cfg *cfg, uint32_t l)
{
	double u_null = f->u_bg[l];
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
			f->shared[n]++;
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
		    PROFILE_SHARED_MIN * (f->inc_first[n + 1] - f->inc_first[n]) <= f->shared[n])
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
	before = fit_local_loglik(f, cfg, &links, &alts);
	for (uint32_t k = f->inc_first[l]; k < f->inc_first[l + 1]; k++)
		f->lX[f->inc[k]] += u_null - f->u[l];
	f->u[l] = u_null;
	for (int sweep = 0; sweep < 2; sweep++) {
		double gain_max = 0;

		for (size_t i = 1; i < links.n; i++) {
			uint32_t n = links.v[i];
			struct terms t;
			double nu, du, curv;

			fit_link_terms(f, n, &t);
			nu = terms_solve(&t, cfg->prior_probes, f->u[n], &curv);
			/* h is concave: clipping is the constrained optimum */
			if (!f->cand[n] && nu > fmax(f->u_bg[n], saved_u[i]))
				nu = fmax(f->u_bg[n], saved_u[i]);
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
	after = fit_local_loglik(f, cfg, &links, &alts);
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
 * each non-candidate neighbour may rise at most to the background rate (or
 * its fitted rate), so each lossy path's rest is at most the sum of those
 * caps; granting every path that maximum only helps the null. Returns -1
 * when a neighbour is itself a candidate (no cap: refit instead). t holds
 * l's terms and is used as scratch. */
static double fit_relaxed_lr(const struct fit *f, uint32_t l, struct terms *t)
{
	const struct model *m = f->m;
	double h_hat = terms_loglik(t, f->u[l]);
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
	return fmax(0, 2 * (h_hat - terms_loglik(t, f->u_bg[l])));
}

/* The fabric's own background, learned per window (see README "Null model").
 * Links fall into classes by the tiers of their ends (host 0, its switch 1,
 * ...): links of one class carry alike traffic and, when healthy, lose alike.
 * For each link, the loss its flows show beyond what the other links on them
 * explain (the fit's rate for links that stand out, their class's median
 * for the rest) estimates its own rate; per class, the median of those
 * estimates is the typical healthy rate, and their spread, less the spread
 * binomial noise alone gives, is the spread of healthy rates. The null of a
 * link is the top of its class's healthy rates: median + BG_TOP_SDS spreads,
 * or, when noise hides the spread, the BG_TOP_QUANTILE of the estimates.
 * Classes with few links pool into one; a fabric of fewer than
 * BG_LEARN_MIN_LINKS links is too small to learn from (one sick host crosses
 * a third of them) and gets BG_PRIOR_LOSS. A suspect must lose significantly
 * more than that (family-wise) and at least INFER_EFFECT_MIN times it. */
#define BG_CLASSES 64
#define BG_CLASS_MIN_LINKS 8
#define BG_TOP_SDS 3.0
#define BG_TOP_QUANTILE 0.95
#define BG_ROUNDS 3
#define BG_POOLED (BG_CLASSES - 1)
#define BG_LEARN_MIN_LINKS 64 /* fewer links: the null is BG_PRIOR_LOSS */
#define BG_PRIOR_LOSS 1e-4

/* Tier of each device: hops from the nearest host (0) over the links in
 * both directions; unreachable devices get 7. */
static int model_tiers(const struct model *m, uint8_t *tier)
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
 * an excluded link (out[]) are left out. S and L are scratch per link. */
static int bg_medians_solve(const struct fit *f, const uint8_t *cls, const uint8_t *out,
			    double *S, double *L, double *m_out)
{
	const struct model *m = f->m;
	size_t nl = m->nlinks, n = 0, count[BG_CLASSES] = { 0 };
	double (*A)[BG_CLASSES + 1] = calloc(BG_CLASSES, sizeof(*A));
	double D[BG_CLASSES] = { 0 };
	struct bg_item *p = malloc((nl + 1) * sizeof(*p));
	int idx[BG_CLASSES], nc = 0, rc = -1;

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

		if (f->w[a] <= 0)
			continue;
		for (k = 0; k < al->nlinks && !out[ls[k]]; k++)
			;
		if (k < al->nlinks)
			continue;
		for (k = 0; k < al->nlinks; k++) {
			S[ls[k]] += ws;
			L[ls[k]] += f->w[a] * (double)fl->lost;
			D[cls[ls[k]]] += ws;
			for (j = 0; j < al->nlinks; j++)
				if (j != k)
					A[cls[ls[k]]][cls[ls[j]]] += ws;
		}
	}
	for (size_t l = 0; l < nl; l++)
		if (S[l] > 0)
			p[n++] = (struct bg_item){ cls[l], L[l] / S[l] };
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

static int fit_background_learn(struct fit *f, const struct infer_cfg *cfg,
				struct infer_stats *st)
{
	const struct model *m = f->m;
	size_t nl = m->nlinks;
	uint8_t *tier = malloc(m->ndevs + 1), *cls = malloc(nl + 1);
	double *S = calloc(nl + 1, sizeof(*S)), *L = calloc(nl + 1, sizeof(*L));
	double *E = calloc(nl + 1, sizeof(*E)), *r = calloc(nl + 1, sizeof(*r));
	struct bg_item *est = malloc((nl + 1) * sizeof(*est));
	struct bg_item *noise = malloc((nl + 1) * sizeof(*noise));
	struct bg_item *dev = malloc((nl + 1) * sizeof(*dev));
	double med[BG_CLASSES], top[BG_CLASSES], standout0;
	int tie_in;
	uint8_t *out_ = calloc(nl + 1, 1);
	size_t count[BG_CLASSES] = { 0 };
	int rc = -1;

	if (!tier || !cls || !S || !L || !E || !r || !est || !noise || !dev || !out_)
		goto out;
	if (cfg->background_loss > 0 || nl < BG_LEARN_MIN_LINKS) {
		/* the override, or a fabric too small to learn from: with a few
		 * dozen links one sick host is on a third of them */
		double q = cfg->background_loss > 0 ? cfg->background_loss : BG_PRIOR_LOSS;

		for (size_t l = 0; l < nl; l++)
			f->u_bg[l] = -log1p(-q);
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
				est[n++] = (struct bg_item){ 0, f->u[l] };
		qsort(est, n, sizeof(*est), bg_item_cmp);
		standout0 = n ? est[(size_t)(0.9 * (double)(n - 1))].v : 0;
		/* the top tenth, ties at its edge included unless they are many
		 * (evenly spread loss is background, not a fault) */
		for (k = n; k > 0 && est[k - 1].v >= standout0; k--)
			;
		tie_in = 5 * (n - k) <= (n > 5 ? n : 5);
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
							    f->u[l] >= standout0);
		}
		if (bg_medians_solve(f, cls, out_, S, L, med) < 0)
			goto out;
		for (size_t l = 0; l < nl; l++)
			r[l] = -log1p(-fmin(med[cls[l]], 0.5));
		memset(S, 0, nl * sizeof(*S));
		memset(L, 0, nl * sizeof(*L));
		memset(E, 0, nl * sizeof(*E));
		for (size_t a = 0; a < m->nalts; a++) {
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
				S[ls[k]] += w * (double)fl->sent;
				L[ls[k]] += w * (double)fl->lost;
				E[ls[k]] += w * (double)fl->sent * -expm1(-(x - r[ls[k]]));
			}
		}
		for (size_t l = 0; l < nl; l++) {
			if (S[l] <= 0)
				continue;
			est[n].cls = noise[n].cls = cls[l];
			est[n].v = (L[l] - E[l]) / S[l];
			noise[n].v = fmax(E[l] + med[cls[l]] * S[l], 1) / (S[l] * S[l]);
			n++;
		}
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
			double md, mad, spread2, q_hi, cut;
			size_t kin;

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
			top[i] = fmax(fmax(0, md) + BG_TOP_SDS * sqrt(spread2), q_hi);
		}
		/* links of small classes were estimated with the pool; a class
		 * with no clean flows this round keeps the last round's figures */
		for (size_t c = 0; c < BG_POOLED; c++)
			if (count[c] == 0 && count[BG_POOLED]) {
				med[c] = med[BG_POOLED];
				top[c] = top[BG_POOLED];
			}
	}
	st->background_median = st->background_top = 0;
	for (size_t l = 0; l < nl; l++) {
		double q = fmin(fmax(top[cls[l]], 1e-9), 0.5);

		f->u_bg[l] = -log1p(-q);
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
	free(r);
	free(est);
	free(noise);
	free(dev);
	free(out_);
	return rc;
}

/* Test one variable against the background: fills loss, interval, score and
 * confidence; returns 1 when it is faulty at the corrected level. */
static int terms_test(const struct terms *t, double u_hat, double u_null,
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
static void terms_interval(const struct terms *t, double u_hat, struct suspect *s)
{
	s->loss_lo = u_to_loss(terms_bound(t, u_hat, LR_CI95 / 2, -1));
	s->loss_hi = u_to_loss(terms_bound(t, u_hat, LR_CI95 / 2, 1));
}

struct pairs {
	uint64_t *v;
	size_t n, cap;
};

static int pairs_add(struct pairs *p, uint64_t x)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 1024;
		uint64_t *v = realloc(p->v, cap * sizeof(*v));

		if (!v)
			return -1;
		p->v = v;
		p->cap = cap;
	}
	p->v[p->n++] = x;
	return 0;
}

struct tally {
	uint64_t flows, lossy, n5, all_lost, clean;
	double B;     /* delivered probes through the group */
	double Bpart; /* the same, times the group's links' u on each path */
	double *c, *r, *p; /* lossy terms: weight, rest of path, group part */
	size_t n, cap;
};

static int tally_term(struct tally *t, double c, double r, double p)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		double *nc = realloc(t->c, cap * sizeof(*nc)), *nr, *np;

		if (!nc)
			return -1;
		t->c = nc;
		nr = realloc(t->r, cap * sizeof(*nr));
		if (!nr)
			return -1;
		t->r = nr;
		np = realloc(t->p, cap * sizeof(*np));
		if (!np)
			return -1;
		t->p = np;
		t->cap = cap;
	}
	t->c[t->n] = c;
	t->r[t->n] = r;
	t->p[t->n] = p;
	t->n++;
	return 0;
}

static void tallies_free(struct tally *t, size_t n)
{
	for (size_t i = 0; t && i < n; i++) {
		free(t[i].c);
		free(t[i].r);
		free(t[i].p);
	}
	free(t);
}

/* Per group of devices (group[d] >= 0): each path through it gives its
 * delivered probes and, if lossy, a term whose rest-of-path excludes the
 * group's own links, so one variable can stand in for them; links to a
 * device with excl[] >= 0 stay out of it. Returns the tallies (ngroups of
 * them) or NULL; (group << 32 | prober) pairs of lossy flows go to pp. */
static struct tally *groups_tally(const struct fit *f, const int32_t *group,
				  size_t ngroups, const int32_t *excl, struct pairs *pp)
{
	const struct model *m = f->m;
	struct tally *dt = calloc(ngroups + 1, sizeof(*dt));

	if (!dt)
		return NULL;
	for (size_t a = 0; ngroups && a < m->nalts; a++) {
		const struct model_alt *al = &m->alts[a];
		const struct model_flow *fl = &m->flows[al->flow];
		int32_t seen[4];
		double part[4];
		int ns = 0;

		if (f->w[a] <= 0)
			continue;
		for (uint32_t k = 0; k < al->nlinks; k++) {
			uint32_t l = m->alt_links[al->link_first + k];
			uint32_t ends[2] = { m->link_from[l], m->link_to[l] };

			for (int e = 0; e < 2; e++) {
				int32_t g = group[ends[e]], j;

				/* a link to an excluded device keeps its own rate */
				if (g < 0 || (excl && excl[ends[1 - e]] >= 0))
					continue;
				for (j = 0; j < ns && seen[j] != g; j++)
					;
				if (j == ns) {
					if (ns == 4)
						continue;
					seen[ns] = g;
					part[ns++] = 0;
				}
				part[j] += f->u[l];
			}
		}
		for (int j = 0; j < ns; j++) {
			struct tally *t = &dt[seen[j]];
			double ok = f->w[a] * (double)(fl->sent - fl->lost);

			t->B += ok;
			t->Bpart += ok * part[j];
			if (f->w[a] >= 0.5) {
				t->flows++;
				if (fl->lost) {
					t->lossy++;
					if (pp && pairs_add(pp, (uint64_t)seen[j] << 32 |
								    fl->prober_dev) < 0)
						goto err;
				}
			}
			if (fl->lost &&
			    tally_term(t, f->w[a] * (double)fl->lost,
				       fmax(0, f->lX[f->alt_lossy[a]] - part[j]), part[j]) < 0)
				goto err;
		}
	}
	return dt;
err:
	tallies_free(dt, ngroups);
	return NULL;
}

/* Upper tail of chi-square(df) at x (Wilson-Hilferty; ample for a test). */
static double chi2_tail(double x, double df)
{
	double k = 2.0 / (9.0 * df), z;

	if (x <= 0)
		return 1;
	z = (cbrt(x / df) - (1 - k)) / sqrt(k);
	return 0.5 * erfc(z / sqrt(2.0));
}

/* Does one loss rate for the whole device explain its flows as well as the
 * separate rates the fit gave its links? Nested models: the device, the
 * simpler explanation, stands unless the link model is better at the same
 * corrected level links are tested at (chi-square, one degree per extra
 * link rate). */
static int device_model_fits(const struct tally *t, double u_dev, double df,
			     double alpha)
{
	struct terms dev = { t->B, t->c, t->r, t->n };
	double ll_links = -t->Bpart, ll_dev = terms_loglik(&dev, u_dev);

	for (size_t i = 0; i < t->n; i++) {
		double z = t->r[i] + t->p[i];

		ll_links += z > 0 ? t->c[i] * log(-expm1(-z)) : -INFINITY;
	}
	return chi2_tail(2 * (ll_links - ll_dev), df < 1 ? 1 : df) >= alpha;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Distinct probers per suspect index, from (index << 32 | prober) pairs. */
static void probers_count(uint64_t *pairs, size_t n, struct suspect *v)
{
	if (!n)
		return;
	qsort(pairs, n, sizeof(*pairs), u64_cmp);
	for (size_t i = 0; i < n; i++)
		if (i == 0 || pairs[i] != pairs[i - 1])
			v[pairs[i] >> 32].probers++;
}

static const double *sort_u; /* qsort has no context argument */

static int cand_cmp(const void *a, const void *b)
{
	double x = sort_u[*(const uint32_t *)a], y = sort_u[*(const uint32_t *)b];

	return x > y ? -1 : x < y;
}

/* State shared by the steps that turn a fit into suspects. */
struct grouping {
	struct fit *f;
	const struct model *m;
	const struct infer_cfg *cfg;
	double u_null;              /* the background rate as u */
	double ntests;              /* links and devices: the correction's family */
	struct suspect_list links;  /* faulty links, by link_sus index */
	struct suspect_list groups; /* devices and hosts, by dev_sus index */
	int32_t *link_sus;          /* per link: index in links, or -1 */
	int32_t *dev_sus;           /* per device: index in groups, or -1 */
	uint32_t *used;             /* per link: flows that most likely crossed it */
	uint32_t *nin, *nout;       /* per device: links in use into / out of it */
	uint32_t *fin, *fout;       /* ... of which faulty */
	uint8_t *sw_flagged;        /* per device: a faulty switch-to-switch link */
	uint64_t *dev_flows;        /* per device: flows crossing it */
	uint64_t *dev_flagged;      /* ... through one of its faulty links */
};

static void grouping_free(struct grouping *g)
{
	suspect_list_free(&g->links);
	suspect_list_free(&g->groups);
	free(g->link_sus);
	free(g->dev_sus);
	free(g->used);
	free(g->nin);
	free(g->nout);
	free(g->fin);
	free(g->fout);
	free(g->sw_flagged);
	free(g->dev_flows);
	free(g->dev_flagged);
}

static int grouping_init(struct grouping *g, struct fit *f, const struct infer_cfg *cfg)
{
	const struct model *m = f->m;
	size_t nd = m->ndevs + 1;

	memset(g, 0, sizeof(*g));
	g->f = f;
	g->m = m;
	g->cfg = cfg;
	g->u_null = 0;
	for (uint32_t l = 0; l < m->nlinks; l++)
		g->u_null = fmax(g->u_null, f->u_bg[l]);
	g->ntests = (double)m->nlinks + m->ndevs;
	g->link_sus = malloc((m->nlinks + 1) * sizeof(*g->link_sus));
	g->dev_sus = malloc(nd * sizeof(*g->dev_sus));
	g->used = calloc(m->nlinks + 1, sizeof(*g->used));
	g->nin = calloc(nd, sizeof(*g->nin));
	g->nout = calloc(nd, sizeof(*g->nout));
	g->fin = calloc(nd, sizeof(*g->fin));
	g->fout = calloc(nd, sizeof(*g->fout));
	g->sw_flagged = calloc(nd, 1);
	g->dev_flows = calloc(nd, sizeof(*g->dev_flows));
	g->dev_flagged = calloc(nd, sizeof(*g->dev_flagged));
	if (!g->link_sus || !g->dev_sus || !g->used || !g->nin || !g->nout ||
	    !g->fin || !g->fout || !g->sw_flagged || !g->dev_flows || !g->dev_flagged)
		return -1;
	for (uint32_t l = 0; l < m->nlinks; l++)
		g->link_sus[l] = -1;
	for (uint32_t d = 0; d < m->ndevs; d++)
		g->dev_sus[d] = -1;
	return 0;
}

/* Faulty links: conditional tests (neighbours at their fitted rates) pick
 * candidates cheaply; the relaxed bound or the profile statistic confirms
 * them. */
static int grouping_links_test(struct grouping *g)
{
	struct fit *f = g->f;
	const struct model *m = g->m;
	const struct infer_cfg *cfg = g->cfg;

	for (size_t i = 0; i < f->nactive; i++) {
		uint32_t l = f->active[i];
		struct suspect s;
		struct terms t;

		fit_link_terms(f, l, &t);
		f->cand[l] = (uint8_t)terms_test(&t, f->u[l], f->u_bg[l], g->ntests,
						 cfg->alpha, &s) &&
			     u_to_loss(f->u[l]) >= INFER_EFFECT_MIN * u_to_loss(f->u_bg[l]);
	}
	for (size_t i = 0; i < f->nactive; i++) {
		uint32_t l = f->active[i];
		struct suspect s = { .kind = SUSPECT_LINK };
		struct terms t;
		double lr, pv;

		if (!f->cand[l])
			continue;
		fit_link_terms(f, l, &t);
		terms_test(&t, f->u[l], f->u_bg[l], g->ntests, 1.0, &s);
		lr = fit_relaxed_lr(f, l, &t);
		if (lr < 0 || 0.5 * erfc(sqrt(lr / 2)) * g->ntests > cfg->alpha)
			lr = fit_profile_lr(f, cfg, l);
		if (lr < 0)
			return -1;
		pv = 0.5 * erfc(sqrt(lr / 2)) * g->ntests;
		if (pv > cfg->alpha)
			continue;
		s.score = lr;
		s.confidence = pv < 1 ? 1 - pv : 0;
		fit_link_terms(f, l, &t); /* the relaxed bound used t as scratch */
		terms_interval(&t, f->u[l], &s);
		snprintf(s.from, sizeof(s.from), "%s", model_dev_name(m, m->link_from[l]));
		snprintf(s.to, sizeof(s.to), "%s", model_dev_name(m, m->link_to[l]));
		g->link_sus[l] = (int32_t)g->links.n;
		if (suspect_list_add(&g->links, &s) < 0)
			return -1;
	}
	return 0;
}

/* Evidence per faulty link (flows that most likely crossed it, lossy ones,
 * probers) and the partial-blackhole call: its flows are all-or-nothing. */
static int grouping_links_evidence(struct grouping *g)
{
	const struct model *m = g->m;
	struct tally *lt = calloc(g->links.n + 1, sizeof(*lt));
	struct pairs pp = { 0 };
	int rc = -1;

	if (!lt)
		return -1;
	for (size_t a = 0; a < m->nalts; a++) {
		const struct model_alt *al = &m->alts[a];
		const struct model_flow *fl = &m->flows[al->flow];

		if (g->f->w[a] < 0.5)
			continue;
		for (uint32_t k = 0; k < al->nlinks; k++) {
			uint32_t l = m->alt_links[al->link_first + k];
			int32_t si = g->link_sus[l];
			struct tally *t;

			g->used[l]++;
			if (si < 0)
				continue;
			t = &lt[si];
			t->flows++;
			if (fl->lost) {
				t->lossy++;
				if (pairs_add(&pp, (uint64_t)si << 32 | fl->prober_dev) < 0)
					goto out;
			}
			if (fl->sent >= 5) {
				double q = (double)fl->lost / (double)fl->sent;

				t->n5++;
				if (q >= 0.9)
					t->all_lost++;
				else if (q <= 0.1 * g->links.v[si].loss_ratio)
					t->clean++;
			}
		}
	}
	probers_count(pp.v, pp.n, g->links.v);
	for (size_t i = 0; i < g->links.n; i++) {
		struct suspect *s = &g->links.v[i];
		const struct tally *t = &lt[i];

		s->flows = t->flows;
		s->lossy_flows = t->lossy;
		/* all-or-nothing per flow: hashed flows die, the rest are clean */
		if (t->all_lost >= 2 && t->clean >= 2 && s->loss_ratio < 0.95 &&
		    (double)(t->all_lost + t->clean) >=
			    g->cfg->blackhole_share * (double)t->n5)
			s->kind = SUSPECT_BLACKHOLE;
	}
	rc = 0;
out:
	free(lt);
	free(pp.v);
	return rc;
}

/* A flow none of whose probes was answered says "forward or reverse": the
 * responder's count rides in the replies, and none came back. Replies to a
 * prober all enter its first-hop router, over one of that router's in-links,
 * so a blackhole on such an in-link kills some of the prober's flows whatever
 * their forward path, and their forward links look like blackholes too. A
 * blackhole suspect whose dead flows are all silent and all start at a router
 * that another blackhole suspect leads into is explained by that one eating
 * the replies, and is not reported on its own. The explaining blackhole must
 * stand on dead flows it does not explain this way, so two links can not
 * explain away each other. Without the responder's count the two readings
 * can not be told apart; the one fault that explains every flow wins. */
static int grouping_links_reverse_explained(struct grouping *g)
{
	const struct model *m = g->m;
	size_t n = g->links.n;
	uint32_t *sus_link = calloc(n + 1, sizeof(*sus_link));
	uint32_t *dead = calloc(n + 1, sizeof(*dead));
	uint32_t *dead_rev = calloc(n + 1, sizeof(*dead_rev));
	uint8_t *into = calloc(m->ndevs + 1, 1); /* routers a blackhole enters */
	uint8_t *into_indep = calloc(m->ndevs + 1, 1);
	uint8_t *explained = calloc(n + 1, 1);
	int rc = -1;

	if (!sus_link || !dead || !dead_rev || !into || !into_indep || !explained)
		goto out;
	for (uint32_t l = 0; l < m->nlinks; l++)
		if (g->link_sus[l] >= 0) {
			sus_link[g->link_sus[l]] = l;
			if (g->links.v[g->link_sus[l]].kind == SUSPECT_BLACKHOLE)
				into[m->link_to[l]] = 1;
		}
	/* pass 0 against every blackhole, pass 1 against the independent ones */
	for (int pass = 0; pass < 2; pass++) {
		const uint8_t *by = pass ? into_indep : into;

		memset(dead, 0, (n + 1) * sizeof(*dead));
		memset(dead_rev, 0, (n + 1) * sizeof(*dead_rev));
		for (size_t a = 0; a < m->nalts; a++) {
			const struct model_alt *al = &m->alts[a];
			const struct model_flow *fl = &m->flows[al->flow];
			int silent;

			if (g->f->w[a] < 0.5 || !al->nlinks || fl->sent < 5 ||
			    (double)fl->lost < 0.9 * (double)fl->sent)
				continue;
			/* no forward path enters its own first router from a
			 * switch, so the explaining link is never counted here */
			silent = fl->lost == fl->sent &&
				 by[m->link_to[m->alt_links[al->link_first]]];
			for (uint32_t k = 0; k < al->nlinks; k++) {
				int32_t si = g->link_sus[m->alt_links[al->link_first + k]];

				if (si < 0)
					continue;
				dead[si]++;
				dead_rev[si] += silent;
			}
		}
		for (size_t i = 0; i < n; i++) {
			int ok = g->links.v[i].kind == SUSPECT_BLACKHOLE && dead[i] &&
				 dead_rev[i] == dead[i];

			if (pass == 0) {
				explained[i] = (uint8_t)ok;
				if (!ok && g->links.v[i].kind == SUSPECT_BLACKHOLE)
					into_indep[m->link_to[sus_link[i]]] = 1;
			} else if (ok && explained[i]) {
				g->link_sus[sus_link[i]] = -1;
			}
		}
	}
	rc = 0;
out:
	free(sus_link);
	free(dead);
	free(dead_rev);
	free(into);
	free(into_indep);
	free(explained);
	return rc;
}

/* Identifiability: two links crossed by exactly the same flows (most likely
 * paths) can not be told apart by any count, so a suspect link with such a
 * twin is reported as one ambiguous suspect naming both, never one of them
 * with confidence. Flow sets are compared by a sum of per-flow hashes and
 * their size. When the twin is itself a suspect, the two merge. */
static int grouping_links_ambiguous(struct grouping *g)
{
	const struct model *m = g->m;
	uint64_t *hash = calloc(m->nlinks + 1, sizeof(*hash));
	uint32_t *count = calloc(m->nlinks + 1, sizeof(*count));
	int rc = -1;

	if (!hash || !count)
		goto out;
	for (size_t a = 0; a < m->nalts; a++) {
		const struct model_alt *al = &m->alts[a];
		uint64_t h = 0x9E3779B97F4A7C15ull * (al->flow + 1);

		if (g->f->w[a] < 0.5)
			continue;
		h ^= h >> 29;
		h *= 0xBF58476D1CE4E5B9ull;
		h ^= h >> 32;
		for (uint32_t k = 0; k < al->nlinks; k++) {
			hash[m->alt_links[al->link_first + k]] += h;
			count[m->alt_links[al->link_first + k]]++;
		}
	}
	for (uint32_t l = 0; l < m->nlinks; l++) {
		struct suspect *s;

		if (g->link_sus[l] < 0 || !count[l])
			continue;
		s = &g->links.v[g->link_sus[l]];
		if (s->also_from[0])
			continue;
		for (uint32_t t = 0; t < m->nlinks; t++) {
			if (t == l || hash[t] != hash[l] || count[t] != count[l])
				continue;
			snprintf(s->also_from, sizeof(s->also_from), "%s",
				 model_dev_name(m, m->link_from[t]));
			snprintf(s->also_to, sizeof(s->also_to), "%s",
				 model_dev_name(m, m->link_to[t]));
			if (g->link_sus[t] >= 0) {
				/* keep the stronger of the two as the one suspect */
				struct suspect *o = &g->links.v[g->link_sus[t]];

				if (o->score > s->score) {
					snprintf(o->also_from, sizeof(o->also_from), "%s",
						 model_dev_name(m, m->link_from[l]));
					snprintf(o->also_to, sizeof(o->also_to), "%s",
						 model_dev_name(m, m->link_to[l]));
					g->link_sus[l] = -1;
				} else {
					g->link_sus[t] = -1;
				}
			}
			break;
		}
	}
	rc = 0;
out:
	free(hash);
	free(count);
	return rc;
}

/* Per device: links in use, faulty links, and the flows crossing it against
 * those crossing one of its faulty links. The fit may pin a device's loss on
 * any subset of its links that every flow through it uses (its in-links, or
 * its edge-facing links), so a device is judged by the share of its flows,
 * not of its links. */
static void grouping_devices_count(struct grouping *g)
{
	const struct model *m = g->m;

	for (uint32_t l = 0; l < m->nlinks; l++) {
		uint32_t a = m->link_from[l], b = m->link_to[l];

		if (!g->used[l])
			continue;
		g->nout[a]++;
		g->nin[b]++;
		if (g->link_sus[l] < 0)
			continue;
		g->fout[a]++;
		g->fin[b]++;
		/* host-facing links alone point at the host, not the switch */
		if (m->dev_transit[a] && m->dev_transit[b])
			g->sw_flagged[a] = g->sw_flagged[b] = 1;
	}
	for (size_t a = 0; a < m->nalts; a++) {
		const struct model_alt *al = &m->alts[a];
		const uint32_t *ls = m->alt_links + al->link_first;

		if (g->f->w[a] < 0.5)
			continue;
		/* device i sits between link i - 1 and link i */
		for (uint32_t i = 1; i < al->nlinks; i++) {
			uint32_t d = m->link_from[ls[i]];

			g->dev_flows[d]++;
			g->dev_flagged[d] += g->link_sus[ls[i - 1]] >= 0 ||
					     g->link_sus[ls[i]] >= 0;
		}
	}
}

/* Per candidate device (cand[d] >= 0, rate u[cand[d]]): the share of the
 * probes through it whose path carries at least DEVICE_PATH_SHARE of the
 * device's rate on the device's own two links. The fit may split a device's
 * loss between its in- and out-links any way it likes, but a path crosses
 * one of each, so the sum is what the data pins down. */
#define DEVICE_PATH_SHARE (1.0 / 3)
static int devices_coverage(const struct grouping *g, const int32_t *cand, const double *u,
			    size_t ncand, double *cover)
{
	const struct model *m = g->m;
	double *total = calloc(ncand + 1, sizeof(*total));

	if (!total)
		return -1;
	memset(cover, 0, ncand * sizeof(*cover));
	for (size_t a = 0; a < m->nalts; a++) {
		const struct model_alt *al = &m->alts[a];
		const uint32_t *ls = m->alt_links + al->link_first;
		double sent = (double)m->flows[al->flow].sent;

		if (g->f->w[a] < 0.5)
			continue;
		for (uint32_t i = 1; i < al->nlinks; i++) {
			int32_t c = cand[m->link_from[ls[i]]];

			if (c < 0)
				continue;
			total[c] += sent;
			if (g->f->u[ls[i - 1]] + g->f->u[ls[i]] >= DEVICE_PATH_SHARE * u[c])
				cover[c] += sent;
		}
	}
	for (size_t c = 0; c < ncand; c++)
		cover[c] = total[c] > 0 ? cover[c] / total[c] : 0;
	free(total);
	return 0;
}

static int grouping_add(struct grouping *g, enum suspect_kind kind, uint32_t d)
{
	struct suspect s = { .kind = kind };

	snprintf(s.from, sizeof(s.from), "%s", model_dev_name(g->m, d));
	g->dev_sus[d] = (int32_t)g->groups.n;
	return suspect_list_add(&g->groups, &s);
}

/* Which switches have two or more faulty links, one of them to another
 * switch, and flows: those marked (map[d] >= 0). For them, dev_flagged
 * also counts the flows through a link of theirs that did not pass its own
 * test but whose fitted rate is at least a third of their faulty links'
 * mean: with little evidence per link, only some of a faulty device's links
 * pass alone (a 0.05% spine: 8 of 32), while the fit still gives the rest
 * their share. Two faulty links on an otherwise clean switch leave the rest
 * near zero, so they stay two links. map and list are scratch of ndevs + 1;
 * map is left marking those switches. */
static int devices_weak_links_count(struct grouping *g, int32_t *map, uint32_t *list)
{
	const struct model *m = g->m;
	const struct fit *f = g->f;
	double *ref = NULL;
	uint32_t n = 0;

	for (uint32_t d = 0; d < m->ndevs; d++) {
		map[d] = -1;
		if (m->dev_transit[d] && g->fin[d] + g->fout[d] >= 2 && g->sw_flagged[d] &&
		    g->dev_flows[d]) {
			map[d] = (int32_t)n;
			list[n++] = d;
		}
	}
	if (!n)
		return 0;
	ref = calloc(n, sizeof(*ref));
	if (!ref)
		return -1;
	for (uint32_t l = 0; l < m->nlinks; l++) {
		if (g->link_sus[l] < 0)
			continue;
		if (map[m->link_from[l]] >= 0)
			ref[map[m->link_from[l]]] += f->u[l];
		if (map[m->link_to[l]] >= 0)
			ref[map[m->link_to[l]]] += f->u[l];
	}
	for (uint32_t i = 0; i < n; i++)
		ref[i] /= g->fin[list[i]] + g->fout[list[i]];
	for (size_t a = 0; a < m->nalts; a++) {
		const struct model_alt *al = &m->alts[a];
		const uint32_t *ls = m->alt_links + al->link_first;

		if (f->w[a] < 0.5)
			continue;
		for (uint32_t i = 1; i < al->nlinks; i++) {
			uint32_t d = m->link_from[ls[i]];
			int32_t c = map[d];

			/* a flow already counted crossed a faulty link */
			if (c < 0 || g->link_sus[ls[i - 1]] >= 0 || g->link_sus[ls[i]] >= 0)
				continue;
			if (fmax(f->u[ls[i - 1]], f->u[ls[i]]) >= ref[c] / 3)
				g->dev_flagged[d]++;
		}
	}
	free(ref);
	return 0;
}

/* Devices: a switch with two or more faulty links, one of them to another
 * switch, whose flows mostly cross those links, and whose flows one
 * device-wide loss rate explains: as well as the
 * links' own rates do, or, where evidence is so ample that the links' small
 * differences (their own background) are significant, on nearly every path
 * through it (DEVICE_COVERAGE of its probes). */
#define DEVICE_COVERAGE 0.9
static int grouping_devices_test(struct grouping *g)
{
	const struct model *m = g->m;
	struct fit *f = g->f;
	int32_t *cand_dev = malloc((m->ndevs + 1) * sizeof(*cand_dev));
	int32_t *one_map = malloc((m->ndevs + 1) * sizeof(*one_map));
	uint32_t *cand_list = malloc((m->ndevs + 1) * sizeof(*cand_list));
	uint32_t *order = NULL, ncand = 0;
	struct tally *ct = NULL;
	double *cand_u = NULL, *cover = NULL;
	int rc = -1, have_cover = 0;

	if (!cand_dev || !one_map || !cand_list)
		goto out;
	if (devices_weak_links_count(g, one_map, cand_list) < 0)
		goto out;
	for (uint32_t d = 0; d < m->ndevs; d++) {
		int share = one_map[d] >= 0 && g->dev_flagged[d] >= g->cfg->device_share * g->dev_flows[d];

		cand_dev[d] = one_map[d] = -1;
		if (share) {
			cand_dev[d] = (int32_t)ncand;
			cand_list[ncand++] = d;
		}
	}
	if (!ncand) {
		rc = 0;
		goto out;
	}
	cand_u = malloc(ncand * sizeof(*cand_u));
	cover = malloc(ncand * sizeof(*cover));
	order = malloc(ncand * sizeof(*order));
	if (!cand_u || !cover || !order || !(ct = groups_tally(f, cand_dev, ncand, NULL, NULL)))
		goto out;
	for (uint32_t i = 0; i < ncand; i++) {
		struct terms t = { ct[i].B, ct[i].c, ct[i].r, ct[i].n };
		double curv;

		cand_u[i] = terms_solve(&t, g->cfg->prior_probes, 0, &curv);
		order[i] = i;
	}
	/* Strongest first: a link between two faulty devices carries the
	 * stronger one's loss, so a weaker neighbour is tested with that link
	 * left at its own rate (the stronger device's loss) */
	sort_u = cand_u;
	qsort(order, ncand, sizeof(*order), cand_cmp);
	for (uint32_t oi = 0; oi < ncand; oi++) {
		uint32_t i = order[oi], d = cand_list[i];
		struct tally *t = &ct[i], *own = NULL;
		double u = cand_u[i], rates = 0, curv;
		int near = 0, fits;

		for (uint32_t l = 0; l < m->nlinks; l++) {
			uint32_t a = m->link_from[l], b = m->link_to[l];

			if (a != d && b != d)
				continue;
			if (g->dev_sus[a == d ? b : a] >= 0)
				near = 1;
			else if (f->u[l] > 0)
				rates++;
		}
		if (near) {
			struct terms tt;

			one_map[d] = 0;
			own = groups_tally(f, one_map, 1, g->dev_sus, NULL);
			one_map[d] = -1;
			if (!own)
				goto out;
			tt = (struct terms){ own->B, own->c, own->r, own->n };
			t = own;
			u = terms_solve(&tt, g->cfg->prior_probes, 0, &curv);
		}
		fits = device_model_fits(t, u, rates - 1, g->cfg->alpha / g->ntests);
		tallies_free(own, 1);
		if (!fits && !have_cover) { /* one pass for all candidates, when needed */
			if (devices_coverage(g, cand_dev, cand_u, ncand, cover) < 0)
				goto out;
			have_cover = 1;
		}
		if (!fits)
			fits = cover[i] >= DEVICE_COVERAGE;
		if (fits && grouping_add(g, SUSPECT_DEVICE, d) < 0)
			goto out;
	}
	rc = 0;
out:
	tallies_free(ct, ncand);
	free(cand_dev);
	free(one_map);
	free(cand_list);
	free(cand_u);
	free(cover);
	free(order);
	return rc;
}

/* Hosts: every link it has evidence on is faulty (a host's uplink and the
 * host itself are one thing to end-to-end probes), unless a faulty switch
 * next to it explains those links. Then a switch whose every host (two or
 * more) looks sick is the fault: the hosts' links carry all its traffic,
 * so sparsity put the loss there. */
static int grouping_hosts_test(struct grouping *g)
{
	const struct model *m = g->m;
	uint32_t *fin = g->fin, *fout = g->fout;

	for (uint32_t l = 0; l < m->nlinks; l++) {
		if (g->dev_sus[m->link_from[l]] >= 0)
			fin[m->link_to[l]] = 0;
		if (g->dev_sus[m->link_to[l]] >= 0)
			fout[m->link_from[l]] = 0;
	}
	for (uint32_t d = 0; d < m->ndevs; d++) {
		if (!m->dev_endpoint[d] || m->dev_transit[d] || !(fin[d] + fout[d]) ||
		    fin[d] + fout[d] < g->nin[d] + g->nout[d])
			continue;
		if (grouping_add(g, SUSPECT_HOST, d) < 0)
			return -1;
	}
	/* reuse fin/fout: hosts behind each switch, and how many are suspects */
	memset(fin, 0, m->ndevs * sizeof(*fin));
	memset(fout, 0, m->ndevs * sizeof(*fout));
	for (uint32_t l = 0; l < m->nlinks; l++) {
		uint32_t h = m->link_from[l], d = m->link_to[l];

		if (!g->used[l] || !m->dev_endpoint[h] || m->dev_transit[h] ||
		    !m->dev_transit[d])
			continue;
		fin[d]++;
		fout[d] += g->dev_sus[h] >= 0;
	}
	for (uint32_t d = 0; d < m->ndevs; d++) {
		if (g->dev_sus[d] >= 0 || fin[d] < 2 || fout[d] < fin[d])
			continue;
		if (grouping_add(g, SUSPECT_DEVICE, d) < 0)
			return -1;
		for (uint32_t l = 0; l < m->nlinks; l++) {
			uint32_t h = m->link_from[l];

			if (m->link_to[l] != d || g->dev_sus[h] < 0 ||
			    !m->dev_endpoint[h] || m->dev_transit[h])
				continue;
			g->groups.v[g->dev_sus[h]].kind = SUSPECT_DROPPED;
			g->dev_sus[h] = -1;
		}
	}
	return 0;
}

/* Each group's own loss (one variable in place of its links on each path)
 * and evidence; then the ranked list: groups, and the links no group took. */
static int grouping_finish(struct grouping *g, struct suspect_list *out)
{
	const struct model *m = g->m;
	struct pairs dp = { 0 };
	struct tally *dt = groups_tally(g->f, g->dev_sus, g->groups.n, NULL, &dp);
	int rc = -1;

	if (!dt)
		goto out;
	probers_count(dp.v, dp.n, g->groups.v);
	for (size_t i = 0; i < g->groups.n; i++) {
		struct suspect *s = &g->groups.v[i];
		struct terms t = { dt[i].B, dt[i].c, dt[i].r, dt[i].n };
		double curv, u = terms_solve(&t, g->cfg->prior_probes, 0, &curv);

		s->flows = dt[i].flows;
		s->lossy_flows = dt[i].lossy;
		/* grouped links were each significant, so the group is reported
		 * even if its pooled test is weaker; the score still ranks it */
		if (!terms_test(&t, u, g->u_null, g->ntests, 1.0, s))
			s->loss_ratio = u_to_loss(u);
		terms_interval(&t, u, s);
		if (s->kind != SUSPECT_DROPPED && suspect_list_add(out, s) < 0)
			goto out;
	}
	for (uint32_t l = 0; l < m->nlinks; l++) {
		if (g->link_sus[l] < 0 || g->dev_sus[m->link_from[l]] >= 0 ||
		    g->dev_sus[m->link_to[l]] >= 0)
			continue;
		if (suspect_list_add(out, &g->links.v[g->link_sus[l]]) < 0)
			goto out;
	}
	suspect_list_sort(out);
	rc = 0;
out:
	tallies_free(dt, g->groups.n);
	free(dp.v);
	return rc;
}

/* Link suspects, then blackhole calls, device and host grouping. */
static int infer_suspects(struct fit *f, const struct infer_cfg *cfg,
			  struct suspect_list *out)
{
	struct grouping g;
	int rc = -1;

	if (grouping_init(&g, f, cfg) < 0 || grouping_links_test(&g) < 0 ||
	    grouping_links_evidence(&g) < 0 ||
	    grouping_links_reverse_explained(&g) < 0 || grouping_links_ambiguous(&g) < 0)
		goto out;
	grouping_devices_count(&g);
	if (grouping_devices_test(&g) < 0 || grouping_hosts_test(&g) < 0 ||
	    grouping_finish(&g, out) < 0)
		goto out;
	rc = 0;
out:
	grouping_free(&g);
	return rc;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int infer_run(const struct model *m, const struct infer_cfg *cfg,
	      struct suspect_list *out, struct infer_stats *st, char *err,
	      size_t errlen)
{
	struct infer_stats local = { 0 };
	double t0 = now_ms(), t1;
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
	for (int round = 0; round < cfg->max_em_rounds; round++) {
		st->sweeps += fit_sweeps(&f, cfg);
		st->em_rounds++;
		/* the E-step marks the links whose paths changed weight */
		if (!ambiguous || fit_paths_reweight(&f) < 1e-3)
			break;
	}
	t1 = now_ms();
	if (fit_background_learn(&f, cfg, st) < 0 || infer_suspects(&f, cfg, out) < 0)
		goto nomem;
	fit_free(&f);
	st->fit_ms = now_ms() - t0;
	st->test_ms = now_ms() - t1;
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
