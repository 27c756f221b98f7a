/* The one-alert rule over a round's model and suspects: which suspects a
 * wider one explains, which wait for a possible device, and who sees each
 * (prober/target pairs). Paths come from the model (the one hop -> link walk,
 * model.c), never from a walk of its own. */
#include "alert_select.h"
#include "model.h"
#include "strtab.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void alert_select_cfg_default(struct alert_select_cfg *cfg)
{
	cfg->hold_p = 1e-3;
	cfg->hold_ratio = 3;
}

static int sel_is_link(const struct suspect *s)
{
	return s->kind == SUSPECT_LINK || s->kind == SUSPECT_BLACKHOLE;
}

static int64_t sel_dev(const struct model *m, const char *name)
{
	return strtab_find(m->devs, name, strlen(name));
}

/* Is there a link between devices a and b (either way) in the model? */
static int sel_adjacent(const struct model *m, const char *a, const char *b)
{
	int64_t x, y;

	if (!m || (x = sel_dev(m, a)) < 0 || (y = sel_dev(m, b)) < 0)
		return 0;
	for (uint32_t l = 0; l < m->nlinks; l++)
		if ((m->link_from[l] == x && m->link_to[l] == y) ||
		    (m->link_from[l] == y && m->link_to[l] == x))
			return 1;
	return 0;
}

/* The links of a link-class suspect: its own and, when ambiguous, its twin. */
static int sel_links(const struct suspect *s, const char *from[2], const char *to[2])
{
	from[0] = s->from;
	to[0] = s->to;
	if (!s->also_from[0])
		return 1;
	from[1] = s->also_from;
	to[1] = s->also_to;
	return 2;
}

/* Do two link-class suspects name a link in common? */
static int sel_links_share(const struct suspect *x, const struct suspect *y)
{
	const char *xf[2], *xt[2], *yf[2], *yt[2];
	int nx = sel_links(x, xf, xt), ny = sel_links(y, yf, yt);

	for (int i = 0; i < nx; i++)
		for (int j = 0; j < ny; j++)
			if (!strcmp(xf[i], yf[j]) && !strcmp(xt[i], yt[j]))
				return 1;
	return 0;
}

int alert_select_explains(const struct model *m, const struct suspect *wide,
			  const struct suspect *narrow)
{
	if (sel_is_link(wide) && sel_is_link(narrow))
		return !alert_suspect_same(wide, narrow) && sel_links_share(wide, narrow);
	if (sel_is_link(narrow) && (wide->kind == SUSPECT_DEVICE || wide->kind == SUSPECT_HOST)) {
		const char *f[2], *t[2];
		int n = sel_links(narrow, f, t);

		/* an ambiguous pair only when both its links are the device's */
		for (int i = 0; i < n; i++)
			if (strcmp(f[i], wide->from) && strcmp(t[i], wide->from))
				return 0;
		return 1;
	}
	if (narrow->kind == SUSPECT_HOST && wide->kind == SUSPECT_DEVICE)
		return sel_adjacent(m, narrow->from, wide->from);
	return 0;
}

/* Mark the links of s (a link, both of an ambiguous pair; or every link
 * with an end at a device or host) in mark[]. Returns how many were marked. */
static size_t sel_mark(const struct model *m, const struct suspect *s, uint8_t *mark)
{
	const char *f[2], *t[2];
	int n = sel_is_link(s) ? sel_links(s, f, t) : 0;
	int64_t a = sel_dev(m, s->from);
	size_t k = 0;

	memset(mark, 0, m->nlinks);
	if (sel_is_link(s)) {
		for (int i = 0; i < n; i++) {
			int64_t x = sel_dev(m, f[i]), y = sel_dev(m, t[i]);

			for (uint32_t l = 0; x >= 0 && y >= 0 && l < m->nlinks; l++)
				if (m->link_from[l] == x && m->link_to[l] == y && !mark[l]) {
					mark[l] = 1;
					k++;
				}
		}
		return k;
	}
	if (a < 0)
		return 0;
	for (uint32_t l = 0; l < m->nlinks; l++) {
		int on = m->link_from[l] == a || m->link_to[l] == a;

		mark[l] = (uint8_t)on;
		k += (size_t)on;
	}
	return k;
}

/* Does any candidate path of flow f cross a marked link? */
static int sel_flow_crosses(const struct model *m, const struct model_flow *f,
			    const uint8_t *mark)
{
	for (uint32_t a = 0; a < f->nalt; a++) {
		const struct model_alt *alt = &m->alts[f->alt_first + a];

		for (uint32_t j = 0; j < alt->nlinks; j++)
			if (mark[m->alt_links[alt->link_first + j]])
				return 1;
	}
	return 0;
}

/* P(X >= k) for X ~ Poisson(mu). */
static double sel_poisson_sf(double k, double mu)
{
	double term, sum = 0;

	if (k <= 0)
		return 1;
	if (mu <= 0)
		return 0;
	if (k <= mu)
		return 1; /* at or below the mean: nothing stands out */
	term = exp(-mu + k * log(mu) - lgamma(k + 1));
	for (double i = k; i < k + 100000 && term > 1e-300; i++) {
		sum += term;
		term *= mu / (i + 1);
		if (term < sum * 1e-12)
			break;
	}
	return sum < 1 ? sum : 1;
}

/* Does k lost of n stand out from the background, k_bg of n_bg? Its rate
 * must be hold_ratio times the background's (one loss added, so a window
 * without background loss is no zero) and its losses unlikely (hold_p,
 * Poisson) under the rate both groups share (the null: one healthy rate). */
static int sel_stands_out(double k, double n, double k_bg, double n_bg,
			  const struct alert_select_cfg *cfg)
{
	double p_bg, p_all;

	if (n <= 0 || k < 3)
		return 0;
	p_bg = (k_bg + 1) / (n_bg + 1);
	p_all = (k + k_bg) / (n + n_bg);
	return k / n > cfg->hold_ratio * p_bg &&
	       sel_poisson_sf(k, n * p_all) < cfg->hold_p;
}

/* Split the flows with one known path by whether they cross a (marked in
 * amark) and b: the probes of a-not-b, the losses of both, and as the
 * background the probes of flows that cross no suspect at all (allmark: every
 * suspect of the round and every firing alert), so another fault's loss
 * never passes for background. */
struct sel_split {
	double n_a, k_a, n_none, k_none, k_both;
	double n_ab_none, k_ab_none; /* flows avoiding a and b, whatever else */
};

/* Below this many probes the flows crossing no suspect are too few to tell
 * the background; those avoiding the two in question stand in. */
#define SEL_BG_PROBES_MIN 1000.0

static void sel_split_count(const struct model *m, const uint8_t *amark,
			    const uint8_t *bmark, const uint8_t *allmark,
			    struct sel_split *sp)
{
	memset(sp, 0, sizeof(*sp));
	for (size_t i = 0; i < m->nflows; i++) {
		const struct model_flow *f = &m->flows[i];
		int a, b;

		/* a guessed path would smear one suspect's loss over the other */
		if (f->nalt != 1)
			continue;
		a = sel_flow_crosses(m, f, amark);
		b = sel_flow_crosses(m, f, bmark);
		if (a && b) {
			sp->k_both += (double)f->lost;
		} else if (a) {
			sp->n_a += (double)f->sent;
			sp->k_a += (double)f->lost;
		} else if (!b) {
			sp->n_ab_none += (double)f->sent;
			sp->k_ab_none += (double)f->lost;
			if (!sel_flow_crosses(m, f, allmark)) {
				sp->n_none += (double)f->sent;
				sp->k_none += (double)f->lost;
			}
		}
	}
	if (sp->n_none < SEL_BG_PROBES_MIN) {
		sp->n_none = sp->n_ab_none;
		sp->k_none = sp->k_ab_none;
	}
}

/* Does router dev's traffic that avoids the suspect (marked in smark) lose
 * beyond the flows that avoid both? */
static int sel_router_lossy(const struct model *m, uint32_t dev, const uint8_t *smark,
			    uint8_t *dmark, const uint8_t *allmark,
			    const struct alert_select_cfg *cfg)
{
	struct sel_split sp;

	for (uint32_t l = 0; l < m->nlinks; l++)
		dmark[l] = m->link_from[l] == dev || m->link_to[l] == dev;
	sel_split_count(m, dmark, smark, allmark, &sp);
	return sel_stands_out(sp.k_a, sp.n_a, sp.k_none, sp.n_none, cfg);
}

/* Does w (marked in wmark) account for all of s's evidence: s's flows share
 * losses with w, and those that avoid w lose no more than background? Then
 * s is w's loss seen through shared flows (e.g. the fabric switches above a
 * lossy ToR), not a fault of its own. Returns 0 (no), 1 (yes: s has clean
 * flows of its own besides), 2 (yes: every flow of s crosses w). */
static int sel_evidence_explained(const struct model *m, const uint8_t *smark,
				  const uint8_t *wmark, const uint8_t *allmark,
				  const struct alert_select_cfg *cfg)
{
	struct sel_split sp;

	sel_split_count(m, smark, wmark, allmark, &sp);
	if (sp.k_both <= 0 || sel_stands_out(sp.k_a, sp.n_a, sp.k_none, sp.n_none, cfg))
		return 0;
	return sp.n_a > 0 ? 1 : 2;
}

/* A link or host suspect waits while a router at its end (a link's ends, a
 * host's neighbours) loses on its other flows too: early in a device fault
 * the inference may name one of its links or hosts before the device. */
static int sel_held(const struct model *m, const struct suspect *s,
		    const struct alert_select_cfg *cfg, uint8_t *smark, uint8_t *dmark,
		    const uint8_t *allmark)
{
	int64_t ends[2] = { sel_dev(m, s->from), sel_is_link(s) ? sel_dev(m, s->to) : -1 };

	if (s->kind != SUSPECT_LINK && s->kind != SUSPECT_HOST)
		return 0;
	if (!sel_mark(m, s, smark))
		return 0;
	if (s->kind == SUSPECT_LINK) {
		for (int e = 0; e < 2; e++)
			if (ends[e] >= 0 && m->dev_transit[ends[e]] &&
			    sel_router_lossy(m, (uint32_t)ends[e], smark, dmark, allmark, cfg))
				return 1;
		return 0;
	}
	/* a host: each router it has a link with */
	for (uint32_t l = 0; l < m->nlinks; l++) {
		uint32_t other;

		if (m->link_from[l] == (uint32_t)ends[0])
			other = m->link_to[l];
		else
			continue;
		if (m->dev_transit[other] &&
		    sel_router_lossy(m, other, smark, dmark, allmark, cfg))
			return 1;
	}
	return 0;
}

/* Up to ALERT_PAIRS_MAX distinct prober/target pairs whose lossy flows cross
 * the suspect (marked): who sees the problem. */
static void sel_pairs_find(const struct model *m, const uint8_t *smark,
			   struct alert_input *in)
{
	in->npairs = 0;
	for (size_t i = 0; i < m->nflows && in->npairs < ALERT_PAIRS_MAX; i++) {
		const struct model_flow *f = &m->flows[i];
		const char *p, *t;
		size_t j;

		if (!f->lost || !sel_flow_crosses(m, f, smark))
			continue;
		p = model_dev_name(m, f->prober_dev);
		t = model_dev_name(m, f->target_dev);
		for (j = 0; j < in->npairs; j++)
			if (!strcmp(in->pairs[j].prober, p) && !strcmp(in->pairs[j].target, t))
				break;
		if (j < in->npairs)
			continue;
		strncpy(in->pairs[j].prober, p, sizeof(in->pairs[j].prober) - 1);
		strncpy(in->pairs[j].target, t, sizeof(in->pairs[j].target) - 1);
		in->npairs++;
	}
}

/* Is suspect i of the round explained by another named or firing suspect?
 * Structurally (a device's links, a host's links, one link as two kinds) or
 * by evidence (see sel_evidence_explained). When each accounts for the
 * other's evidence, the one whose flows all cross the other (a host's one
 * lossy uplink, not the host with its clean inbound flows) stands; with the
 * same flows (an ambiguous pair), the better-ranked one. */
static int sel_explained(const struct model *m, const struct suspect_list *sus,
			 size_t i, const struct suspect *firing, size_t nfiring,
			 const struct alert_select_cfg *cfg, uint8_t *smark,
			 uint8_t *wmark, const uint8_t *allmark)
{
	const struct suspect *s = &sus->v[i];
	int marked = m && sel_mark(m, s, smark);

	for (size_t j = 0; j < sus->n; j++) {
		const struct suspect *w = &sus->v[j];
		int w_marked, w_by_s, s_by_w;

		if (j == i)
			continue;
		/* one link named twice (two kinds, or alone and in a pair): one
		 * alert, the better-ranked suspect's */
		if (sel_is_link(s) && sel_is_link(w)) {
			if (alert_select_explains(m, w, s) && j < i)
				return 1;
			if (alert_select_explains(m, w, s))
				continue;
		}
		w_marked = marked && sel_mark(m, w, wmark);
		/* w's own evidence is all s's: w cannot speak for s (a host
		 * named for its one lossy uplink does not hide the uplink) */
		w_by_s = w_marked ? sel_evidence_explained(m, wmark, smark, allmark, cfg) : 0;
		if (alert_select_explains(m, w, s) && !w_by_s)
			return 1;
		s_by_w = w_marked ? sel_evidence_explained(m, smark, wmark, allmark, cfg) : 0;
		if (!s_by_w)
			continue;
		if (w_by_s && s_by_w != w_by_s) {
			if (s_by_w == 1)
				return 1;
			continue; /* s is the narrower one: it stands */
		}
		if (w_by_s && j > i)
			continue; /* the same evidence: i ranks first and stands */
		return 1;
	}
	for (size_t j = 0; j < nfiring; j++) {
		if (alert_suspect_same(&firing[j], s))
			continue; /* its own alert: it keeps it up to date */
		if (alert_select_explains(m, &firing[j], s))
			return 1;
		if (marked && sel_mark(m, &firing[j], wmark) &&
		    sel_evidence_explained(m, smark, wmark, allmark, cfg))
			return 1;
	}
	return 0;
}

int alert_select_round(const struct model *m, const struct suspect_list *sus,
		       const struct suspect *firing, size_t nfiring,
		       const struct alert_select_cfg *cfg,
		       struct alert_input **out)
{
	struct alert_input *in = calloc(sus->n ? sus->n : 1, sizeof(*in));
	uint8_t *smark = NULL, *dmark = NULL, *allmark = NULL;

	*out = NULL;
	if (!in)
		goto nomem;
	if (m && (!(smark = malloc(m->nlinks + 1)) || !(dmark = malloc(m->nlinks + 1)) ||
		  !(allmark = calloc(m->nlinks + 1, 1))))
		goto nomem;
	for (size_t i = 0; m && i < sus->n + nfiring; i++) {
		sel_mark(m, i < sus->n ? &sus->v[i] : &firing[i - sus->n], smark);
		for (uint32_t l = 0; l < m->nlinks; l++)
			allmark[l] |= smark[l];
	}
	for (size_t i = 0; i < sus->n; i++) {
		const struct suspect *s = &sus->v[i];

		in[i].s = *s;
		in[i].explained = sel_explained(m, sus, i, firing, nfiring, cfg,
						smark, dmark, allmark);
		if (!m)
			continue;
		if (!in[i].explained)
			in[i].held = sel_held(m, s, cfg, smark, dmark, allmark);
		if (sel_mark(m, s, smark))
			sel_pairs_find(m, smark, &in[i]);
	}
	free(smark);
	free(dmark);
	free(allmark);
	*out = in;
	return 0;
nomem:
	free(in);
	free(smark);
	free(dmark);
	free(allmark);
	errno = ENOMEM;
	return -1;
}
