/* Baselines from the literature, on the same model as faultmesh: 007's
 * 1/h voting with greedy explanation, and fbtracert's lossy-hop majority. */
#include "method.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VOTE_NOISE_MADS 6.0 /* stop when the top link is within 6 MADs of the median */

static int double_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}
#define HOP_LOSSY_RATIO 0.01 /* fbtracert: a hop losing over 1% is lossy */

struct link_sum {
	double votes;
	uint64_t flows, lossy, sent, lost;
};

static void baseline_link_fill(const struct model *m, uint32_t l,
			       const struct link_sum *ls, double score,
			       struct suspect *s)
{
	memset(s, 0, sizeof(*s));
	s->kind = SUSPECT_LINK;
	snprintf(s->from, sizeof(s->from), "%s", model_dev_name(m, m->link_from[l]));
	snprintf(s->to, sizeof(s->to), "%s", model_dev_name(m, m->link_to[l]));
	s->loss_ratio = ls->sent ? (double)ls->lost / (double)ls->sent : 0;
	s->loss_lo = s->loss_hi = s->loss_ratio;
	s->score = score;
	s->flows = ls->flows;
	s->lossy_flows = ls->lossy;
}

/* Both baselines count a flow as lossy past 1% loss, the operators' rule;
 * single background drops would otherwise make every flow vote. */
static int baseline_flow_lossy(const struct model_flow *fl)
{
	return fl->sent && (double)fl->lost > HOP_LOSSY_RATIO * (double)fl->sent;
}

static struct link_sum *baseline_sums(const struct model *m, const uint8_t *removed)
{
	struct link_sum *ls = calloc(m->nlinks + 1, sizeof(*ls));

	if (!ls)
		return NULL;
	for (size_t a = 0; a < m->nalts_flows; a++) {
		const struct model_alt *al = &m->alts[a];
		const struct model_flow *fl = &m->flows[al->flow];

		if (removed && removed[al->flow])
			continue;
		for (uint32_t k = 0; k < al->nlinks; k++) {
			struct link_sum *s = &ls[m->alt_links[al->link_first + k]];

			if (baseline_flow_lossy(fl))
				s->votes += al->weight / al->nlinks;
			if (al->weight >= 0.5) {
				s->flows++;
				s->lossy += fl->lost > 0;
				s->sent += fl->sent;
				s->lost += fl->lost;
			}
		}
	}
	return ls;
}

int baseline_vote_run(const struct model *m, const struct infer_cfg *cfg,
		      struct suspect_list *out, char *err, size_t errlen)
{
	uint8_t *removed = calloc(m->nflows + 1, 1);
	struct link_sum *first = baseline_sums(m, NULL);
	double *votes = calloc(m->nlinks + 1, sizeof(*votes));
	uint32_t *inc_first = calloc(m->nlinks + 2, sizeof(*inc_first)), *inc = NULL;
	double *sorted = malloc((m->nlinks + 1) * sizeof(*sorted));
	double median, mad, floor_votes;
	size_t voted = 0;
	int rc = -1;

	(void)cfg;
	if (!removed || !first || !votes || !inc_first || !sorted)
		goto out;
	/* lossy flows per link, to take a blamed link's flows out quickly */
	for (size_t a = 0; a < m->nalts_flows; a++) {
		const struct model_alt *al = &m->alts[a];

		if (!baseline_flow_lossy(&m->flows[al->flow]))
			continue;
		for (uint32_t k = 0; k < al->nlinks; k++)
			inc_first[m->alt_links[al->link_first + k] + 1]++;
	}
	for (uint32_t l = 0; l < m->nlinks; l++)
		inc_first[l + 1] += inc_first[l];
	if (!(inc = malloc((inc_first[m->nlinks] + 1) * sizeof(*inc))))
		goto out;
	for (size_t a = 0; a < m->nalts_flows; a++) {
		const struct model_alt *al = &m->alts[a];

		if (!baseline_flow_lossy(&m->flows[al->flow]))
			continue;
		for (uint32_t k = 0; k < al->nlinks; k++)
			inc[inc_first[m->alt_links[al->link_first + k]]++] = al->flow;
	}
	for (uint32_t l = m->nlinks; l > 0; l--)
		inc_first[l] = inc_first[l - 1];
	inc_first[0] = 0;
	for (uint32_t l = 0; l < m->nlinks; l++) {
		votes[l] = first[l].votes;
		if (votes[l] > 0)
			sorted[voted++] = votes[l];
	}
	/* background loss makes every link collect some votes (so a share-of-
	 * votes rule never fires at scale): a link must stand out of that noise
	 * by a robust z-score, median + 6 scaled median absolute deviations */
	qsort(sorted, voted, sizeof(*sorted), double_cmp);
	median = voted ? sorted[voted / 2] : 0;
	for (size_t i = 0; i < voted; i++)
		sorted[i] = fabs(sorted[i] - median);
	qsort(sorted, voted, sizeof(*sorted), double_cmp);
	mad = voted ? sorted[voted / 2] : 0;
	floor_votes = median + VOTE_NOISE_MADS * 1.4826 * mad;
	for (;;) {
		uint32_t best = UINT32_MAX;
		struct suspect s;

		for (uint32_t l = 0; l < m->nlinks; l++)
			if (best == UINT32_MAX || votes[l] > votes[best])
				best = l;
		if (best == UINT32_MAX || votes[best] <= 0 || votes[best] < floor_votes)
			break;
		baseline_link_fill(m, best, &first[best], votes[best], &s);
		if (suspect_list_add(out, &s) < 0)
			goto out;
		/* the blamed link explains its lossy flows: they vote no more */
		for (uint32_t i = inc_first[best]; i < inc_first[best + 1]; i++) {
			const struct model_flow *fl = &m->flows[inc[i]];

			if (removed[inc[i]])
				continue;
			removed[inc[i]] = 1;
			for (uint32_t k = 0; k < fl->nalt; k++) {
				const struct model_alt *al = &m->alts[fl->alt_first + k];

				for (uint32_t j = 0; j < al->nlinks; j++)
					votes[m->alt_links[al->link_first + j]] -=
						al->weight / al->nlinks;
			}
		}
		votes[best] = 0;
	}
	rc = 0;
out:
	if (rc < 0) {
		snprintf(err, errlen, "out of memory in the 007 baseline");
		errno = ENOMEM;
	}
	free(sorted);
	free(inc);
	free(inc_first);
	free(votes);
	free(first);
	free(removed);
	return rc;
}

int baseline_hop_run(const struct model *m, const struct infer_cfg *cfg,
		     struct suspect_list *out, char *err, size_t errlen)
{
	uint64_t *lossy = calloc(m->nlinks + 1, sizeof(*lossy));
	struct link_sum *ls = baseline_sums(m, NULL);
	int rc = -1;

	(void)cfg;
	if (!lossy || !ls)
		goto out;
	for (size_t a = 0; a < m->nalts_flows; a++) {
		const struct model_alt *al = &m->alts[a];
		const struct model_flow *fl = &m->flows[al->flow];

		if (al->weight < 0.5 || !baseline_flow_lossy(fl))
			continue;
		for (uint32_t k = 0; k < al->nlinks; k++)
			lossy[m->alt_links[al->link_first + k]]++;
	}
	for (uint32_t l = 0; l < m->nlinks; l++) {
		struct suspect s;

		if (ls[l].flows < 2 || 2 * lossy[l] <= ls[l].flows)
			continue;
		baseline_link_fill(m, l, &ls[l], (double)lossy[l] / ls[l].flows, &s);
		if (suspect_list_add(out, &s) < 0)
			goto out;
	}
	suspect_list_sort(out);
	rc = 0;
out:
	if (rc < 0) {
		snprintf(err, errlen, "out of memory in the fbtracert baseline");
		errno = ENOMEM;
	}
	free(lossy);
	free(ls);
	return rc;
}
