/* The fit: penalized maximum likelihood by coordinate ascent in
 * u = -log(success); the log-likelihood is concave in u, so each 1-D update
 * (a monotone Newton solve) moves toward the global optimum. Links no lossy
 * flow crosses sit at u = 0 and never enter the loop; ambiguous paths are
 * weighted by EM. */
#include "infer.h"
#include "infer_int.h"
#include "model.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* eb[i] = expm1(r[i]) for the rests of path, r >= 0: below 2^-4 (every
 * healthy path and most others) the Taylor series to r^11, whose next term
 * is under 1e-21 of the sum, two at a time inline; libm's expm1 for the
 * rest. Lane or not, each value comes out of the same operations. */
#define TERMS_SERIES_MAX 0x1p-4
typedef double terms_v2 __attribute__((vector_size(2 * sizeof(double))));

#define TERMS_SERIES(T, r, out)                                                          \
	do {                                                                             \
		T s_ = (r) * (1.0 / 39916800) + 1.0 / 3628800; /* 1/11!, 1/10!, ... */ \
		s_ = (r) * s_ + 1.0 / 362880;                                             \
		s_ = (r) * s_ + 1.0 / 40320;                                              \
		s_ = (r) * s_ + 1.0 / 5040;                                               \
		s_ = (r) * s_ + 1.0 / 720;                                                \
		s_ = (r) * s_ + 1.0 / 120;                                                \
		s_ = (r) * s_ + 1.0 / 24;                                                 \
		s_ = (r) * s_ + 1.0 / 6;                                                  \
		s_ = (r) * s_ + 0.5;                                                      \
		(out) = (r) + (r) * ((r) * s_);                                           \
	} while (0)

/* The lanes' loops are built twice, for AVX2 and for the baseline, and the
 * CPU picks at load time (an ifunc): four doubles per instruction halve the
 * instructions of the solves, the inference's largest part. No FMA: each
 * lane rounds every operation as the scalar code does, so both builds give
 * the same bits. */
#define TERMS_LANES_CLONES __attribute__((target_clones("avx2", "default")))
typedef double terms_v4 __attribute__((vector_size(4 * sizeof(double))));

TERMS_LANES_CLONES
static void terms_expm1_all(const double *r, double *eb, size_t n)
{
	size_t i = 0;

	for (; i + 4 <= n; i += 4) {
		terms_v4 x, y;

		memcpy(&x, r + i, sizeof(x));
		TERMS_SERIES(terms_v4, x, y);
		memcpy(eb + i, &y, sizeof(y));
	}
	for (; i + 2 <= n; i += 2) {
		terms_v2 x, y;

		memcpy(&x, r + i, sizeof(x));
		TERMS_SERIES(terms_v2, x, y);
		memcpy(eb + i, &y, sizeof(y));
	}
	for (; i < n; i++)
		TERMS_SERIES(double, r[i], eb[i]);
	for (i = 0; i < n; i++)
		if (!(r[i] < TERMS_SERIES_MAX))
			eb[i] = expm1(r[i]);
}

/* phi(u) = -h'(u) and its derivative. expm1(u + r) = a + b + a b with
 * a = expm1(u) and b = expm1(r), all terms non-negative (u, r >= 0), so no
 * precision is lost; eb[] holds b per term (computed once per solve), which
 * leaves one expm1 per Newton step instead of one per term: the solves are
 * most of the inference's time. The terms go four at a time in independent
 * lanes (one division per term is the cost, and lanes let them overlap);
 * sums that are not finite (a term with u + r = 0) are done again term by
 * term, for the exact answer. eb NULL: expm1 per term. */
static double terms_phi_serial(const struct terms *t, const double *eb, double u,
			       double *dphi)
{
	double phi = t->B, d = 0, a = eb ? expm1(u) : 0;

	for (size_t i = 0; i < t->n; i++) {
		double e = eb ? a + eb[i] + a * eb[i] : expm1(u + t->r[i]), inv, ci;

		if (e <= 0) {
			*dphi = INFINITY;
			return -INFINITY;
		}
		inv = 1 / e; /* one division per term, not two */
		ci = t->c[i] * inv;
		phi -= ci;
		d += ci * (e + 1) * inv;
	}
	*dphi = d;
	return phi;
}

/* The lanes of terms_phi: sums over terms i = 4j + lane, lane 0 to 3, of
 * c / e (P) and c (e + 1) / e^2 (D); returns the terms done (a multiple
 * of four). */
TERMS_LANES_CLONES
static size_t terms_phi_lanes(const double *eb, const double *c, size_t n, double a,
			      terms_v4 *P_out, terms_v4 *D_out)
{
	terms_v4 P = { 0, 0, 0, 0 }, D = P, a4 = { a, a, a, a };
	size_t i = 0;

	for (; i + 4 <= n; i += 4) {
		terms_v4 b, cc, e, inv, ci;

		memcpy(&b, eb + i, sizeof(b));
		memcpy(&cc, c + i, sizeof(cc));
		e = a4 + b + a4 * b;
		inv = 1 / e;
		ci = cc * inv;
		P += ci;
		D += ci * (e + 1) * inv;
	}
	*P_out = P;
	*D_out = D;
	return i;
}

static double terms_phi(const struct terms *t, const double *eb, double u, double *dphi)
{
	terms_v4 P, D;
	double a, phi, d;
	size_t i;

	if (!eb)
		return terms_phi_serial(t, eb, u, dphi);
	a = expm1(u);
	i = terms_phi_lanes(eb, t->c, t->n, a, &P, &D);
	/* the pairs of lanes summed as they always were */
	phi = (P[0] + P[2]) + (P[1] + P[3]);
	d = (D[0] + D[2]) + (D[1] + D[3]);
	for (; i < t->n; i++) {
		double e = a + eb[i] + a * eb[i], inv = 1 / e, ci = t->c[i] * inv;

		phi += ci;
		d += ci * (e + 1) * inv;
	}
	if (!isfinite(phi) || !isfinite(d))
		return terms_phi_serial(t, eb, u, dphi);
	*dphi = d;
	return t->B - phi;
}

double terms_loglik(const struct terms *t, double u)
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
double terms_solve(const struct terms *t, double prior, double u_start,
			  double *curv)
{
	struct terms tp = *t;
	double u, d = 0, phi, csum = 0, eb_stack[256], *eb = eb_stack, *eb_heap = NULL;

	tp.B += prior;
	*curv = 0;
	if (tp.n == 0)
		return 0;
	if (tp.n > sizeof(eb_stack) / sizeof(eb_stack[0]))
		eb = eb_heap = malloc(tp.n * sizeof(*eb)); /* NULL: expm1 per term */
	if (eb)
		terms_expm1_all(tp.r, eb, tp.n);
	/* phi is increasing: phi < 0 at a warm start puts the root right of
	 * it, and phi(0) need not be evaluated. A warm start right of the root
	 * takes one Newton step: phi is concave, so the tangent's root lies
	 * left of phi's, a start the monotone iteration below accepts (and
	 * much nearer than quartering u). */
	u = 0;
	if (u_start > 0 && (phi = terms_phi(&tp, eb, u_start, &d)) < 0) {
		u = u_start;
	} else if (u_start > 0 && isfinite(phi) && isfinite(d) && d > 0 &&
		   u_start - phi / d > 0) {
		u = u_start - phi / d;
		if ((phi = terms_phi(&tp, eb, u, &d)) >= 0)
			u = 0;
	}
	if (u == 0) {
		phi = terms_phi(&tp, eb, 0, &d);
		if (phi >= 0) {
			free(eb_heap);
			return 0;
		}
		for (size_t i = 0; i < tp.n; i++)
			csum += tp.c[i];
		/* warm start, else the root when every rest-of-path is clean (r = 0) */
		u = u_start > 0 ? u_start : fmin(csum / tp.B, 50);
		while ((phi = terms_phi(&tp, eb, u, &d)) >= 0 && u > 1e-300)
			u *= 0.25;
	}
	for (int it = 0; it < 200; it++) {
		double step;

		if (!isfinite(phi) || !isfinite(d)) {
			u *= 2;
			phi = terms_phi(&tp, eb, u, &d);
			continue;
		}
		step = -phi / d;
		u += step;
		if (u > 700) {
			free(eb_heap);
			return 700;
		}
		phi = terms_phi(&tp, eb, u, &d);
		if (step <= 1e-12 + 1e-9 * u)
			break;
	}
	free(eb_heap);
	*curv = d;
	return u;
}

/* h(u) and h'(u) in one pass: with q = 1 - e^-z, 1 / expm1(z) = (1 - q) / q. */
static double terms_loglik_d(const struct terms *t, double u, double *dh)
{
	double h = -t->B * u, d = -t->B;

	for (size_t i = 0; i < t->n; i++) {
		double z = u + t->r[i], q;

		if (z <= 0) {
			*dh = INFINITY;
			return -INFINITY;
		}
		q = -expm1(-z);
		h += t->c[i] * log(q);
		d += t->c[i] * (1 - q) / q;
	}
	*dh = d;
	return h;
}

/* terms_bounds: u where the log-likelihood has dropped by drop below its
 * value at u_hat, on the left (floored at 0) and right side. h - h0 is concave, so
 * Newton from a point outside the interval (below h0) stays outside and
 * closes in monotonically; a step that is not finite or leaves the bracket
 * bisects instead. A handful of steps replace fifty bisections (each a
 * pass over the terms). */
/* -h''(u): the curvature the interval's width follows. */
static double terms_curv(const struct terms *t, double u)
{
	double k = 0;

	for (size_t i = 0; i < t->n; i++) {
		double e = expm1(u + t->r[i]);

		k += t->c[i] * (e + 1) / (e * e);
	}
	return k;
}

/* One side of terms_bounds: h0 is the level, w the quadratic
 * approximation's start (INFINITY: none). The bracket's outer end is the
 * point last evaluated there, so the first Newton step reuses that
 * evaluation (h and h' come out of the same operations either way). */
static double terms_bound_side(const struct terms *t, double u_hat, double h0, double w, int dir)
{
	double lo, hi, x, h_last = 0, dh_last = 0;

	if (dir < 0) {
		lo = 0;
		hi = u_hat;
		while (u_hat - w > 0 && (h_last = terms_loglik_d(t, u_hat - w, &dh_last)) >= h0) {
			hi = u_hat - w;
			w *= 2;
		}
		if (u_hat - w > 0) {
			lo = u_hat - w;
		} else if ((h_last = terms_loglik_d(t, 0, &dh_last)) >= h0) {
			return 0;
		}
		x = lo;
	} else {
		lo = u_hat;
		hi = u_hat > 0 ? u_hat * 2 : 1e-6;
		if (isfinite(w)) {
			while (u_hat + w < 700 &&
			       (h_last = terms_loglik_d(t, u_hat + w, &dh_last)) >= h0) {
				lo = u_hat + w;
				w *= 2;
			}
			hi = u_hat + w;
		} else {
			while ((h_last = terms_loglik_d(t, hi, &dh_last)) >= h0 && hi < 700)
				hi *= 2;
		}
		if (hi >= 700)
			return 700;
		x = hi;
	}
	for (int it = 0; it < 200; it++) {
		double dh = dh_last, g = (it ? terms_loglik_d(t, x, &dh) : h_last) - h0, nx;

		/* g within the rounding of the sum: x is the root as far as
		 * h tells; steps beyond bisected the noise */
		if (fabs(g) <= 64 * DBL_EPSILON * fabs(h0))
			return x;

		if (g >= 0) { /* inside: x is the bracket's inner end */
			if (dir < 0)
				hi = x;
			else
				lo = x;
			nx = 0.5 * (lo + hi);
		} else {
			if (dir < 0)
				lo = x;
			else
				hi = x;
			nx = x - g / dh;
			if (!isfinite(nx) || nx <= lo || nx >= hi)
				nx = 0.5 * (lo + hi);
		}
		if (fabs(nx - x) <= 1e-13 * x || hi - lo <= 1e-15 * hi)
			return nx;
		x = nx;
	}
	return x;
}

void terms_bounds(const struct terms *t, double u_hat, double drop, double *lo, double *hi)
{
	double h0 = terms_loglik(t, u_hat) - drop, w = 0;

	/* Newton starts outside the interval, as near as the quadratic
	 * approximation puts it (twice its half-width, doubled while inside):
	 * started at 0 or 2 u_hat, it spent most of its steps halving the
	 * way to an interval a small fraction of u_hat wide. The level and
	 * the curvature serve both sides. */
	if (u_hat > 0)
		w = 2 * sqrt(2 * drop / terms_curv(t, u_hat));
	if (!isfinite(w) || w <= 0)
		w = INFINITY;
	*lo = terms_bound_side(t, u_hat, h0, w, -1);
	*hi = terms_bound_side(t, u_hat, h0, w, 1);
}

double u_to_loss(double u)
{
	return -expm1(-u);
}

void fit_free(struct fit *f)
{
	free(f->u);
	free(f->B);
	free(f->w);
	free(f->lossy_alt);
	free(f->alt_lossy);
	free(f->term_first);
	free(f->term_alts);
	free(f->term_lost);
	free(f->nbr_first);
	free(f->nbr);
	free(f->lc);
	free(f->lX);
	free(f->inc_first);
	free(f->inc);
	free(f->inc_alts);
	free(f->lfirst);
	free(f->llinks);
	free(f->cbuf);
	free(f->rbuf);
	free(f->active);
	free(f->dirty);
	free(f->u_moved);
	free(f->link_stamp);
	free(f->cand);
	free(f->u_bg);
	free(f->bg_cls);
	free(f->bg_mix);
	free(f->shared);
	free(f->u_fwd);
	free(f->amb);
	free(f->alt_stamp);
	free(f->lossy_moved);
}

/* The lossy terms: each lossy alternative joins the term of the first one
 * with the same links (a hash table of compact ids over the link lists),
 * else opens its own. Fills alt_lossy, lossy_alt (first alternative of
 * each term) and nlossy; merge 0 gives every alternative its own term. */
static int fit_terms_number(struct fit *f, const struct model *m, size_t nlossy_alts,
			    int merge)
{
	size_t nslots = 64;
	uint32_t *slot;
	uint64_t *slot_hash; /* the key's full hash: most other keys fail on it */

	while (nslots < 2 * nlossy_alts)
		nslots *= 2;
	slot = calloc(nslots, sizeof(*slot)); /* compact id + 1, 0 empty */
	slot_hash = malloc(nslots * sizeof(*slot_hash));
	if (!slot || !slot_hash) {
		free(slot);
		free(slot_hash);
		return -1;
	}
	for (size_t a = 0; a < m->nalts; a++) {
		const struct model_alt *al = &m->alts[a];
		const uint32_t *ls = m->alt_links + al->link_first;
		uint64_t h = al->nlinks;
		size_t i;

		f->alt_lossy[a] = -1;
		if (!m->flows[al->flow].lost)
			continue;
		for (uint32_t k = 0; k < al->nlinks; k++) {
			h = (h ^ ls[k]) * 0x9E3779B97F4A7C15ull;
			h ^= h >> 31;
		}
		for (i = h & (nslots - 1); merge && slot[i]; i = (i + 1) & (nslots - 1)) {
			const struct model_alt *o;

			if (slot_hash[i] != h)
				continue;
			o = &m->alts[f->lossy_alt[slot[i] - 1]];
			if (o->nlinks == al->nlinks &&
			    !memcmp(m->alt_links + o->link_first, ls, al->nlinks * sizeof(*ls)))
				break;
		}
		if (merge && slot[i]) {
			f->alt_lossy[a] = (int32_t)(slot[i] - 1);
			continue;
		}
		f->lossy_alt[f->nlossy] = (uint32_t)a;
		f->alt_lossy[a] = (int32_t)f->nlossy++;
		if (merge) {
			slot[i] = f->nlossy;
			slot_hash[i] = h;
		}
	}
	free(slot);
	free(slot_hash);
	return 0;
}

/* Term k's loss: its alternatives' weighted losses, summed in their order
 * (a term of one alternative has exactly that alternative's). */
static void fit_term_loss_sum(struct fit *f, uint32_t k)
{
	double c = 0;

	/* the losses from term_lost, in step with term_alts: reading them
	 * through alts[] and flows[] missed the cache twice per alternative */
	for (uint32_t i = f->term_first[k]; i < f->term_first[k + 1]; i++)
		c += f->w[f->term_alts[i]] * f->term_lost[i];
	f->lc[k] = c;
}

/* Each link's neighbours (the links of its terms, itself included), each
 * once: a link that moved wakes them through this list instead of through
 * every term's links, hundreds of times the same few links. */
static int fit_neighbours_list(struct fit *f)
{
	size_t nl = f->m->nlinks, n = 0, cap = nl + 1;
	uint32_t st;

	f->nbr_first = malloc((nl + 2) * sizeof(*f->nbr_first));
	f->nbr = malloc(cap * sizeof(*f->nbr));
	if (!f->nbr_first || !f->nbr)
		return -1;
	for (size_t l = 0; l < nl; l++) {
		f->nbr_first[l] = (uint32_t)n;
		st = ++f->stamp;
		for (uint32_t k = f->inc_first[l]; k < f->inc_first[l + 1]; k++) {
			for (uint32_t j = f->lfirst[f->inc[k]]; j < f->lfirst[f->inc[k] + 1]; j++) {
				uint32_t nb = f->llinks[j];

				if (f->link_stamp[nb] == st)
					continue;
				f->link_stamp[nb] = st;
				if (n == cap) {
					uint32_t *v = realloc(f->nbr, 2 * cap * sizeof(*v));

					if (!v)
						return -1;
					f->nbr = v;
					cap *= 2;
				}
				f->nbr[n++] = nb;
			}
		}
	}
	f->nbr_first[nl] = (uint32_t)n;
	return 0;
}

int fit_init(struct fit *f, const struct model *m)
{
	return fit_init_terms(f, m, 1);
}

int fit_init_terms(struct fit *f, const struct model *m, int merge)
{
	size_t nl = m->nlinks, ninc = 0, nlossy_alts = 0;

	memset(f, 0, sizeof(*f));
	f->m = m;
	f->u = calloc(nl + 1, sizeof(*f->u));
	f->B = calloc(nl + 1, sizeof(*f->B));
	f->w = malloc((m->nalts + 1) * sizeof(*f->w));
	f->alt_lossy = malloc((m->nalts + 1) * sizeof(*f->alt_lossy));
	f->inc_first = calloc(nl + 2, sizeof(*f->inc_first));
	f->inc_alts = calloc(nl + 1, sizeof(*f->inc_alts));
	f->dirty = calloc(nl + 1, 1);
	f->u_moved = calloc(nl + 1, 1);
	f->link_stamp = calloc(nl + 1, sizeof(*f->link_stamp));
	f->cand = calloc(nl + 1, 1);
	f->u_bg = calloc(nl + 1, sizeof(*f->u_bg));
	f->bg_cls = calloc(nl + 1, 1);
	f->bg_mix = calloc(INFER_BG_CLASSES, sizeof(*f->bg_mix));
	f->shared = calloc(nl + 1, sizeof(*f->shared));
	if (!f->shared || !f->u_bg || !f->bg_cls || !f->bg_mix || !f->u || !f->B || !f->w ||
	    !f->alt_lossy || !f->inc_first || !f->inc_alts || !f->dirty || !f->u_moved ||
	    !f->link_stamp || !f->cand)
		return -1;
	for (size_t a = 0; a < m->nalts; a++) {
		/* replies wait for fit_replies_place */
		f->w[a] = m->flows[m->alts[a].flow].reply ? 0 : m->alts[a].weight;
		nlossy_alts += m->flows[m->alts[a].flow].lost > 0;
	}
	f->lossy_alt = malloc((nlossy_alts + 1) * sizeof(*f->lossy_alt));
	f->term_alts = malloc((nlossy_alts + 1) * sizeof(*f->term_alts));
	f->term_lost = malloc((nlossy_alts + 1) * sizeof(*f->term_lost));
	if (!f->lossy_alt || !f->term_alts || !f->term_lost ||
	    fit_terms_number(f, m, nlossy_alts, merge) < 0)
		return -1;
	f->term_first = calloc(f->nlossy + 2, sizeof(*f->term_first));
	f->lc = malloc((f->nlossy + 1) * sizeof(*f->lc));
	f->lX = calloc(f->nlossy + 1, sizeof(*f->lX));
	f->alt_stamp = calloc(f->nlossy + 1, sizeof(*f->alt_stamp));
	f->lossy_moved = malloc((f->nlossy + 1) * sizeof(*f->lossy_moved));
	f->lfirst = malloc((f->nlossy + 2) * sizeof(*f->lfirst));
	if (!f->term_first || !f->lc || !f->lX || !f->alt_stamp || !f->lossy_moved ||
	    !f->lfirst)
		return -1;
	/* each term's alternatives, in their order */
	for (size_t a = 0; a < m->nalts; a++)
		if (f->alt_lossy[a] >= 0)
			f->term_first[f->alt_lossy[a] + 2]++;
	for (uint32_t k = 0; k < f->nlossy; k++)
		f->term_first[k + 2] += f->term_first[k + 1];
	memset(f->lc, 0, f->nlossy * sizeof(*f->lc));
	for (size_t a = 0; a < m->nalts; a++) {
		int32_t k = f->alt_lossy[a];

		if (k < 0)
			continue;
		f->term_lost[f->term_first[k + 1]] = (double)m->flows[m->alts[a].flow].lost;
		f->term_alts[f->term_first[k + 1]++] = (uint32_t)a;
		/* fit_term_loss_sum's sum, in the same order */
		f->lc[k] += f->w[a] * (double)m->flows[m->alts[a].flow].lost;
	}
	f->lfirst[0] = 0;
	for (uint32_t k = 0; k < f->nlossy; k++) {
		const struct model_alt *al = &m->alts[f->lossy_alt[k]];

		f->lfirst[k + 1] = f->lfirst[k] + al->nlinks;
		for (uint32_t j = 0; j < al->nlinks; j++) {
			f->inc_first[m->alt_links[al->link_first + j] + 1]++;
			f->inc_alts[m->alt_links[al->link_first + j]] +=
				f->term_first[k + 1] - f->term_first[k];
		}
	}
	for (size_t l = 0; l < nl; l++) {
		if (f->inc_first[l + 1] > f->scratch)
			f->scratch = f->inc_first[l + 1];
		f->inc_first[l + 1] += f->inc_first[l];
	}
	ninc = f->inc_first[nl];
	f->inc = malloc((ninc + 1) * sizeof(*f->inc));
	f->llinks = malloc((ninc + 1) * sizeof(*f->llinks));
	f->active = malloc((nl + 1) * sizeof(*f->active));
	f->cbuf = malloc((f->scratch + 1) * sizeof(*f->cbuf));
	f->rbuf = malloc((f->scratch + 1) * sizeof(*f->rbuf));
	if (!f->inc || !f->active || !f->cbuf || !f->rbuf || !f->llinks)
		return -1;
	for (uint32_t k = 0; k < f->nlossy; k++) {
		const struct model_alt *al = &m->alts[f->lossy_alt[k]];

		for (uint32_t j = 0; j < al->nlinks; j++) {
			f->inc[f->inc_first[m->alt_links[al->link_first + j]]++] = k;
			f->llinks[f->lfirst[k] + j] = m->alt_links[al->link_first + j];
		}
	}
	for (size_t l = nl; l > 0; l--)
		f->inc_first[l] = f->inc_first[l - 1];
	f->inc_first[0] = 0;
	for (size_t l = 0; l < nl; l++)
		if (f->inc_first[l + 1] > f->inc_first[l])
			f->active[f->nactive++] = (uint32_t)l;
	/* the E-step's flows, listed once: it runs every EM round, and a pass
	 * over all flows read ten times as many for nothing */
	for (size_t i = 0; i < m->nflows; i++)
		f->namb += m->flows[i].nalt > 1;
	f->amb = malloc((f->namb + 1) * sizeof(*f->amb));
	if (!f->amb)
		return -1;
	f->namb = 0;
	for (size_t i = 0; i < m->nflows; i++)
		if (m->flows[i].nalt > 1)
			f->amb[f->namb++] = (uint32_t)i;
	return fit_neighbours_list(f);
}

/* Delivered probes per link under the current path weights. */
void fit_successes_sum(struct fit *f)
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
void fit_link_terms(struct fit *f, uint32_t l, struct terms *t)
{
	/* the arrays and u[l] in locals: through f, every store to the
	 * scratch could have changed them for the compiler, which then read
	 * them again per term */
	const uint32_t *inc = f->inc;
	const double *lc = f->lc, *lX = f->lX;
	double *cbuf = f->cbuf, *rbuf = f->rbuf, ul = f->u[l];
	size_t n = 0;

	for (uint32_t i = f->inc_first[l], end = f->inc_first[l + 1]; i < end; i++) {
		uint32_t k = inc[i];
		double c = lc[k], r;

		if (c <= 0)
			continue;
		r = lX[k] - ul;
		cbuf[n] = c;
		/* fmax(0, r) exactly (glibc's: r when r >= 0, -0 included; 0
		 * for NaN) without a library call per term */
		rbuf[n] = r >= 0 ? r : 0;
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
int fit_sweeps(struct fit *f, const struct infer_cfg *cfg)
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
			f->u_moved[l] = 1;
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
			for (uint32_t j = f->nbr_first[l]; j < f->nbr_first[l + 1]; j++)
				f->dirty[f->nbr[j]] = 1;
		}
		if (!solved || gain_max < FIT_GAIN_MIN)
			return s + 1;
	}
	return s;
}

/* Did a link of the flow's paths move since the last E-step? If not, the
 * E-step would weigh its paths as it did then, and change nothing. */
static int fit_flow_moved(const struct fit *f, const struct model_flow *fl)
{
	const struct model *m = f->m;

	for (uint32_t k = 0; k < fl->nalt; k++) {
		const struct model_alt *al = &m->alts[fl->alt_first + k];

		for (uint32_t j = 0; j < al->nlinks; j++)
			if (f->u_moved[m->alt_links[al->link_first + j]])
				return 1;
	}
	return 0;
}

/* E-step: each ambiguous flow's paths weighted by how well they explain it.
 * Updates the delivered counts and lossy weights in place and marks the
 * links of paths whose weight moved. Returns the largest weight change. */
double fit_paths_reweight(struct fit *f)
{
	const struct model *m = f->m;
	double change = 0;
	uint32_t st = ++f->stamp, nmoved = 0;

	for (size_t i = 0; i < f->namb; i++) {
		const struct model_flow *fl = &m->flows[f->amb[i]];
		double lw[MODEL_ALTS_MAX], top = -INFINITY, sum = 0;

		if (f->reweighted && !fit_flow_moved(f, fl))
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
			/* the term's loss is summed again once, below */
			if (f->alt_lossy[a] >= 0 && f->alt_stamp[f->alt_lossy[a]] != st) {
				f->alt_stamp[f->alt_lossy[a]] = st;
				f->lossy_moved[nmoved++] = (uint32_t)f->alt_lossy[a];
			}
			if (fabs(dw) > 1e-3)
				fit_alt_links_dirty(f, a);
		}
	}
	for (uint32_t i = 0; i < nmoved; i++)
		fit_term_loss_sum(f, f->lossy_moved[i]);
	memset(f->u_moved, 0, m->nlinks);
	f->reweighted = 1;
	return change;
}

static int fit_u_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The loss the reply flows are placed by: per link, its fitted u if it
 * stands out from the probes' fit, else the common healthy value (the
 * median over active links). A link stands out when its u is over twice
 * the top of the bulk (the 90th percentile) and its terms reject that top
 * at the corrected level (terms_test). Where no link of a pair's routes
 * stands out, the routes are alike and its replies stay at their prior
 * shares: background noise in the fit must not steer them, or the few
 * replies each flow loses pile onto whichever link leads (test
 * test_localize_background). *top: the bulk's top. Returns 0 or -1
 * (ENOMEM). */
static int fit_reply_u(struct fit *f, const struct infer_cfg *cfg, double *ur, double *top)
{
	const struct model *m = f->m;
	double *v = malloc((f->nactive + 1) * sizeof(*v)), u_med, u_top;

	if (!v)
		return -1;
	for (size_t i = 0; i < f->nactive; i++)
		v[i] = f->u[f->active[i]];
	qsort(v, f->nactive, sizeof(*v), fit_u_cmp);
	u_med = f->nactive ? v[f->nactive / 2] : 0;
	u_top = f->nactive ? v[f->nactive * 9 / 10] : 0;
	*top = u_top;
	free(v);
	for (uint32_t l = 0; l < m->nlinks; l++)
		ur[l] = u_med;
	for (size_t i = 0; i < f->nactive; i++) {
		uint32_t l = f->active[i];
		struct suspect s = { 0 };
		struct terms t;

		if (!(f->u[l] > INFER_EFFECT_MIN * u_top))
			continue;
		fit_link_terms(f, l, &t);
		t.B += cfg->prior_probes;
		if (terms_test(&t, f->u[l], u_top, (double)f->nactive, cfg->alpha, &s))
			ur[l] = f->u[l];
	}
	return 0;
}

/* A reply flow lost more than a route of nlinks links at u_top each
 * explains: Poisson upper tail under REPLY_TOP_TAIL. */
#define REPLY_TOP_TAIL 1e-3

static int reply_loss_over_top(const struct model_flow *fl, uint32_t nlinks, double u_top)
{
	double lam = (double)fl->sent * -expm1(-(double)nlinks * u_top), lt, below = 0;

	if (!fl->lost)
		return 0;
	if (lam <= 0)
		return 1;
	/* P(X >= lost) = 1 - sum_{i < lost} e^-lam lam^i / i! */
	lt = -lam;
	for (uint64_t i = 0; i < fl->lost; i++) {
		below += exp(lt);
		lt += log(lam) - log((double)(i + 1));
	}
	return 1 - below < REPLY_TOP_TAIL;
}

/* The replies (model.h, nreplies), once the probes are fit: each flow's
 * replies took one reverse route, which no trace shows. Its weight is the
 * posterior of the route given the flow's reply counts and the links' loss
 * as the probes fit it, from the equal-share prior:
 * a flow that lost replies leans to a route through a link the probes show
 * lossy, a clean one away from it, and where nothing tells the routes apart
 * the replies stay spread. Placed once, from the probes' fit, not
 * re-weighted by its own result: re-weighting replies by a fit they feed
 * lets background reply loss pile up on whatever link leads. Sets the
 * weights, the delivered counts and lossy terms, and marks the links
 * touched. The links' loss is read through fit_reply_u. Returns the reply
 * flows placed, or -1 (ENOMEM). */
int fit_replies_place(struct fit *f, const struct infer_cfg *cfg)
{
	const struct model *m = f->m;
	double *ur = malloc((m->nlinks + 1) * sizeof(*ur)), u_top;
	int placed = 0;

	if (!ur || fit_reply_u(f, cfg, ur, &u_top) < 0) {
		free(ur);
		return -1;
	}
	for (size_t i = m->nflows; i < m->nflows + m->nreplies; i++) {
		const struct model_flow *fl = &m->flows[i];
		double lw[MODEL_ALTS_MAX], top = -INFINITY, sum = 0;
		double ok = (double)(fl->sent - fl->lost);

		double xmin = INFINITY, xmax = 0;

		if (!fl->nalt || fl->nalt > MODEL_ALTS_MAX)
			continue;
		for (uint32_t k = 0; k < fl->nalt; k++) {
			const struct model_alt *al = &m->alts[fl->alt_first + k];
			double x = 0;

			for (uint32_t j = 0; j < al->nlinks; j++)
				x += ur[m->alt_links[al->link_first + j]];
			xmin = fmin(xmin, x);
			xmax = fmax(xmax, x);
			lw[k] = log(al->weight) - ok * x;
			if (fl->lost)
				lw[k] += x > 0 ? (double)fl->lost * log(-expm1(-x)) : -INFINITY;
			if (lw[k] > top)
				top = lw[k];
		}
		/* no route stands out: spread at the prior if its pair lost
		 * replies evenly (reply_pair_even), or if this flow lost no
		 * more than every route at the bulk's top explains; else left
		 * to the probes. Leaving out the flows whose loss could not be
		 * told even (too few counts) but keeping those that lost
		 * nothing had kept a share of a pair's exposure with all of
		 * its loss: the host links every reply to or from a host
		 * crosses came out at twice the background's top */
		if (xmax - xmin <= 1e-12 * xmax && fl->reply != MODEL_REPLY_EVEN &&
		    reply_loss_over_top(fl, m->alts[fl->alt_first].nlinks, u_top))
			continue;
		for (uint32_t k = 0; k < fl->nalt; k++)
			sum += lw[k] = isfinite(top) ? exp(lw[k] - top)
						     : m->alts[fl->alt_first + k].weight;
		for (uint32_t k = 0; k < fl->nalt; k++) {
			uint32_t a = fl->alt_first + k;
			const struct model_alt *al = &m->alts[a];
			double nw = lw[k] / sum;

			f->w[a] = nw;
			for (uint32_t j = 0; j < al->nlinks; j++)
				f->B[m->alt_links[al->link_first + j]] += nw * ok;
			/* the term may hold other flows' alternatives of this route */
			if (f->alt_lossy[a] >= 0)
				fit_term_loss_sum(f, (uint32_t)f->alt_lossy[a]);
			fit_alt_links_dirty(f, a);
		}
		placed++;
	}
	free(ur);
	return placed;
}
