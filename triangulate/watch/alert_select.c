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

int alert_select_explains(const struct model *m, const struct suspect *wide,
			  const struct suspect *narrow)
{
	if (sel_is_link(wide) && sel_is_link(narrow))
		return wide->kind != narrow->kind && !strcmp(wide->from, narrow->from) &&
		       !strcmp(wide->to, narrow->to);
	if (sel_is_link(narrow) && (wide->kind == SUSPECT_DEVICE || wide->kind == SUSPECT_HOST))
		return !strcmp(narrow->from, wide->from) || !strcmp(narrow->to, wide->from);
	if (narrow->kind == SUSPECT_HOST && wide->kind == SUSPECT_DEVICE)
		return sel_adjacent(m, narrow->from, wide->from);
	return 0;
}

/* Mark the links of s (a link; or every link with an end at a device or
 * host) in mark[]. Returns how many were marked. */
static size_t sel_mark(const struct model *m, const struct suspect *s, uint8_t *mark)
{
	int64_t a = sel_dev(m, s->from), b = sel_is_link(s) ? sel_dev(m, s->to) : -1;
	size_t k = 0;

	memset(mark, 0, m->nlinks);
	if (a < 0 || (sel_is_link(s) && b < 0))
		return 0;
	for (uint32_t l = 0; l < m->nlinks; l++) {
		int on = sel_is_link(s) ? m->link_from[l] == a && m->link_to[l] == b
					: m->link_from[l] == a || m->link_to[l] == a;

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

/* Does router dev's traffic that avoids the suspect (marked in smark) lose
 * beyond the background of the flows that avoid both? Only flows with one
 * known path count: a guessed path would smear the suspect's own loss. */
static int sel_router_lossy(const struct model *m, uint32_t dev, const uint8_t *smark,
			    uint8_t *dmark, const struct alert_select_cfg *cfg)
{
	double n_dev = 0, k_dev = 0, n_bg = 0, k_bg = 0, p_bg, p_all;

	for (uint32_t l = 0; l < m->nlinks; l++)
		dmark[l] = m->link_from[l] == dev || m->link_to[l] == dev;
	for (size_t i = 0; i < m->nflows; i++) {
		const struct model_flow *f = &m->flows[i];

		if (f->nalt != 1 || sel_flow_crosses(m, f, smark))
			continue;
		if (sel_flow_crosses(m, f, dmark)) {
			n_dev += (double)f->sent;
			k_dev += (double)f->lost;
		} else {
			n_bg += (double)f->sent;
			k_bg += (double)f->lost;
		}
	}
	if (n_dev <= 0 || k_dev < 3)
		return 0;
	/* the router stands out when its rate is hold_ratio times the others'
	 * (one loss added, so a window without background loss is no zero) and
	 * its losses are unlikely under the rate all flows avoiding the suspect
	 * share (the null: the router is as healthy as the rest) */
	p_bg = (k_bg + 1) / (n_bg + 1);
	p_all = (k_dev + k_bg) / (n_dev + n_bg);
	return k_dev / n_dev > cfg->hold_ratio * p_bg &&
	       sel_poisson_sf(k_dev, n_dev * p_all) < cfg->hold_p;
}

/* A link or host suspect waits while a router at its end (a link's ends, a
 * host's neighbours) loses on its other flows too: early in a device fault
 * the inference may name one of its links or hosts before the device. */
static int sel_held(const struct model *m, const struct suspect *s,
		    const struct alert_select_cfg *cfg, uint8_t *smark, uint8_t *dmark)
{
	int64_t ends[2] = { sel_dev(m, s->from), sel_is_link(s) ? sel_dev(m, s->to) : -1 };

	if (s->kind != SUSPECT_LINK && s->kind != SUSPECT_HOST)
		return 0;
	if (!sel_mark(m, s, smark))
		return 0;
	if (s->kind == SUSPECT_LINK) {
		for (int e = 0; e < 2; e++)
			if (ends[e] >= 0 && m->dev_transit[ends[e]] &&
			    sel_router_lossy(m, (uint32_t)ends[e], smark, dmark, cfg))
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
		if (m->dev_transit[other] && sel_router_lossy(m, other, smark, dmark, cfg))
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

int alert_select_round(const struct model *m, const struct suspect_list *sus,
		       const struct suspect *firing, size_t nfiring,
		       const struct alert_select_cfg *cfg,
		       struct alert_input **out)
{
	struct alert_input *in = calloc(sus->n ? sus->n : 1, sizeof(*in));
	uint8_t *smark = NULL, *dmark = NULL;

	*out = NULL;
	if (!in)
		goto nomem;
	if (m && (!(smark = malloc(m->nlinks + 1)) || !(dmark = malloc(m->nlinks + 1))))
		goto nomem;
	for (size_t i = 0; i < sus->n; i++) {
		const struct suspect *s = &sus->v[i];

		in[i].s = *s;
		for (size_t j = 0; j < sus->n && !in[i].explained; j++) {
			/* the same link named twice: the better-ranked kind stands */
			if (j == i || (sel_is_link(s) && sel_is_link(&sus->v[j]) && j > i))
				continue;
			in[i].explained = alert_select_explains(m, &sus->v[j], s);
		}
		for (size_t j = 0; j < nfiring && !in[i].explained; j++)
			in[i].explained = alert_select_explains(m, &firing[j], s);
		if (!m)
			continue;
		if (!in[i].explained)
			in[i].held = sel_held(m, s, cfg, smark, dmark);
		if (sel_mark(m, s, smark))
			sel_pairs_find(m, smark, &in[i]);
	}
	free(smark);
	free(dmark);
	*out = in;
	return 0;
nomem:
	free(in);
	free(smark);
	free(dmark);
	errno = ENOMEM;
	return -1;
}
