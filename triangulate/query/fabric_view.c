/* Builds a fabric_view: fits the suspects with the inference, then charges
 * each link the loss the suspects leave unexplained on its flows, counts
 * distinct paths per prober/target pair and ranks tiers from the hosts up. */
#include "fabric_view.h"
#include "window.h"

#include "model.h"
#include "observations.h"
#include "store.h"
#include "strtab.h"

#include <ctype.h>
#include <errno.h>
#include <unistd.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double fabric_loss_upper(double lost, double sent)
{
	double p;

	if (sent <= 0)
		return 1;
	/* rule of three when nothing was lost; else the normal approximation */
	if (lost <= 0)
		return fmin(1, 3.0 / sent);
	p = lost / sent;
	return fmin(1, p + 1.96 * sqrt(p * (1 - p) / sent));
}

int64_t fabric_view_dev_find(const struct fabric_view *v, const char *name)
{
	return strtab_find(v->m->devs, name, strlen(name));
}

const char *fabric_view_dev_name(const struct fabric_view *v, uint32_t dev)
{
	return model_dev_name(v->m, dev);
}

int64_t fabric_view_link_find(const struct fabric_view *v, uint32_t from,
			      uint32_t to)
{
	for (uint32_t l = 0; l < v->m->nlinks; l++)
		if (v->m->link_from[l] == from && v->m->link_to[l] == to)
			return l;
	return -1;
}

const char *fabric_view_tier_label(const struct fabric_view *v, int tier,
				   char *buf, size_t len)
{
	char prefix[SUSPECT_NAME_MAX] = "";
	int have = 0;

	for (uint32_t d = 0; d < v->m->ndevs; d++) {
		const char *n = model_dev_name(v->m, d);
		size_t k = 0;

		if (v->devs[d].tier != tier)
			continue;
		while (n[k] && isalpha((unsigned char)n[k]) && k + 1 < sizeof(prefix))
			k++;
		if (!have) {
			memcpy(prefix, n, k);
			prefix[k] = '\0';
			have = 1;
		} else if (strlen(prefix) != k || strncmp(prefix, n, k)) {
			prefix[0] = '\0';
		}
	}
	if (tier == 0 && !prefix[0])
		snprintf(buf, len, "hosts");
	else if (prefix[0])
		snprintf(buf, len, "%s", prefix);
	else
		snprintf(buf, len, "tier %d", tier);
	return buf;
}

/* Device tiers: breadth-first from the hosts (endpoints that never forward)
 * over links in either direction, so any fabric shape gets its layers
 * without knowing its naming scheme. */
static int view_tiers_rank(struct fabric_view *v)
{
	const struct model *m = v->m;
	uint32_t *queue = malloc((m->ndevs + 1) * sizeof(*queue));
	size_t head = 0, tail = 0;

	if (!queue)
		return -1;
	for (uint32_t d = 0; d < m->ndevs; d++) {
		v->devs[d].tier = -1;
		if (m->dev_endpoint[d] && !m->dev_transit[d]) {
			v->devs[d].tier = 0;
			queue[tail++] = d;
		}
	}
	while (head < tail) {
		uint32_t d = queue[head++];

		for (uint32_t l = 0; l < m->nlinks; l++) {
			uint32_t o = model_link_peer(m, l, d);

			if (o == MODEL_DEV_NONE)
				continue;
			if (v->devs[o].tier < 0) {
				v->devs[o].tier = v->devs[d].tier + 1;
				queue[tail++] = o;
			}
		}
	}
	v->tiers = 0;
	for (uint32_t d = 0; d < m->ndevs; d++)
		if (v->devs[d].tier + 1 > v->tiers)
			v->tiers = v->devs[d].tier + 1;
	free(queue);
	return 0;
}

/* Tie each suspect to its link or device. */
static void view_suspects_index(struct fabric_view *v)
{
	for (uint32_t l = 0; l < v->m->nlinks; l++)
		v->links[l].suspect = -1;
	for (uint32_t d = 0; d < v->m->ndevs; d++)
		v->devs[d].suspect = -1;
	for (size_t i = 0; i < v->sus.n; i++) {
		const struct suspect *s = &v->sus.v[i];
		int64_t a = fabric_view_dev_find(v, s->from), b;

		if (a < 0)
			continue;
		if (s->kind == SUSPECT_LINK || s->kind == SUSPECT_BLACKHOLE) {
			b = fabric_view_dev_find(v, s->to);
			int64_t l = b < 0 ? -1 : fabric_view_link_find(v, (uint32_t)a, (uint32_t)b);

			if (l >= 0 && v->links[l].suspect < 0)
				v->links[l].suspect = (int32_t)i;
		} else if (v->devs[a].suspect < 0) {
			v->devs[a].suspect = (int32_t)i;
		}
	}
}

/* Survival the suspects explain on one path: their links, and each suspect
 * device once. */
static double view_alt_explained(const struct fabric_view *v,
				 const struct model_alt *al)
{
	const struct model *m = v->m;
	double keep = 1;

	for (uint32_t k = 0; k < al->nlinks; k++) {
		uint32_t l = m->alt_links[al->link_first + k];
		int32_t s = v->links[l].suspect;
		int32_t ds = v->devs[m->link_to[l]].suspect;

		if (s >= 0)
			keep *= 1 - v->sus.v[s].loss_ratio;
		/* a device's loss counts at its ingress link */
		if (ds >= 0)
			keep *= 1 - v->sus.v[ds].loss_ratio;
	}
	return keep;
}

static uint64_t view_path_hash(const struct model *m, const struct model_alt *al)
{
	uint64_t h = 1469598103934665603ull;

	for (uint32_t k = 0; k < al->nlinks; k++) {
		h ^= m->alt_links[al->link_first + k] + 1;
		h *= 1099511628211ull;
	}
	return h;
}

struct view_flow_key {
	uint64_t pair; /* prober << 32 | target */
	uint64_t path; /* hash of the most likely path, 0 = unplaced */
	uint32_t flow;
};

static int view_flow_key_cmp(const void *a, const void *b)
{
	const struct view_flow_key *x = a, *y = b;

	if (x->pair != y->pair)
		return x->pair < y->pair ? -1 : 1;
	if (x->path != y->path)
		return x->path < y->path ? -1 : 1;
	return 0;
}

static int view_pair_cmp(const void *a, const void *b)
{
	const struct fabric_pair *x = a, *y = b;
	double lx = x->sent ? (double)x->lost / (double)x->sent : 0;
	double ly = y->sent ? (double)y->lost / (double)y->sent : 0;

	if (lx != ly)
		return lx > ly ? -1 : 1;
	if (x->lost != y->lost)
		return x->lost > y->lost ? -1 : 1;
	if (x->prober != y->prober)
		return x->prober < y->prober ? -1 : 1;
	return x->target < y->target ? -1 : x->target > y->target;
}

/* Pairs with their flow totals and distinct paths. */
static int view_pairs_count(struct fabric_view *v)
{
	const struct model *m = v->m;
	struct view_flow_key *k = malloc((m->nflows + 1) * sizeof(*k));
	size_t i;

	v->pairs = calloc(m->nflows + 1, sizeof(*v->pairs));
	if (!k || !v->pairs) {
		free(k);
		return -1;
	}
	for (i = 0; i < m->nflows; i++) {
		const struct model_flow *f = &m->flows[i];
		const struct model_alt *best = NULL;

		for (uint32_t a = 0; a < f->nalt; a++)
			if (!best || m->alts[f->alt_first + a].weight > best->weight)
				best = &m->alts[f->alt_first + a];
		k[i].pair = (uint64_t)f->prober_dev << 32 | f->target_dev;
		k[i].path = best ? view_path_hash(m, best) : 0;
		k[i].flow = (uint32_t)i;
	}
	qsort(k, m->nflows, sizeof(*k), view_flow_key_cmp);
	v->npairs = 0;
	for (i = 0; i < m->nflows; i++) {
		const struct model_flow *f = &m->flows[k[i].flow];
		struct fabric_pair *p = v->npairs ? &v->pairs[v->npairs - 1] : NULL;
		int new_pair = !p || p->prober != f->prober_dev || p->target != f->target_dev;

		/* a prober probing its own address crosses no link: no pair */
		if (f->prober_dev == f->target_dev)
			continue;
		if (new_pair) {
			p = &v->pairs[v->npairs++];
			p->prober = f->prober_dev;
			p->target = f->target_dev;
		}
		p->flows++;
		p->lossy_flows += f->lost > 0;
		p->sent += f->sent;
		p->lost += f->lost;
		if (k[i].path && (new_pair || k[i].path != k[i - 1].path))
			p->paths++;
	}
	free(k);
	qsort(v->pairs, v->npairs, sizeof(*v->pairs), view_pair_cmp);
	return 0;
}

/* The view of a window the pipeline localized (req): takes its model and
 * suspects; the observations stay the pipeline's (freed here). */
static int view_build(struct fabric_view *v, const struct window_req *req,
		      char *err, size_t errlen)
{
	struct window_result res;
	const struct model *m;
	double *unexp = NULL;

	memset(v, 0, sizeof(*v));
	if (window_localize_run(req, &res, err, errlen) < 0)
		return -1;
	v->m = res.m;
	v->sus = res.sus;
	res.m = NULL;
	res.sus = (struct suspect_list){ 0 };
	window_result_free(&res);
	m = v->m;
	v->links = calloc(m->nlinks + 1, sizeof(*v->links));
	v->devs = calloc(m->ndevs + 1, sizeof(*v->devs));
	unexp = calloc(m->nlinks + 1, sizeof(*unexp));
	if (!v->links || !v->devs || !unexp) {
		snprintf(err, errlen, "out of memory");
		goto err;
	}
	for (uint32_t l = 0; l < m->nlinks; l++) {
		v->links[l].from = m->link_from[l];
		v->links[l].to = m->link_to[l];
	}
	view_suspects_index(v);
	if (view_tiers_rank(v) < 0 || view_pairs_count(v) < 0) {
		snprintf(err, errlen, "out of memory");
		goto err;
	}
	for (size_t i = 0; i < m->nflows; i++) {
		const struct model_flow *f = &m->flows[i];

		v->flows++;
		v->flows_unplaced += f->nalt == 0;
		v->lossy_flows += f->lost > 0;
		v->sent += f->sent;
		v->lost += f->lost;
		for (uint32_t a = 0; a < f->nalt; a++) {
			const struct model_alt *al = &m->alts[f->alt_first + a];
			double w = al->weight, keep = view_alt_explained(v, al);
			double seen = f->sent ? 1 - (double)f->lost / (double)f->sent : 1;
			/* what this flow lost beyond what the suspects explain;
			 * signed, so binomial noise cancels over a link's flows
			 * instead of piling up as false loss */
			double left = keep > 0 ? 1 - seen / keep : 0;

			for (uint32_t k = 0; k < al->nlinks; k++) {
				uint32_t l = m->alt_links[al->link_first + k];
				struct fabric_link *fl = &v->links[l];

				fl->sent += w * (double)f->sent;
				fl->lost += w * (double)f->lost;
				unexp[l] += w * (double)f->sent * left;
				if (w >= 0.5) {
					fl->flows++;
					fl->lossy_flows += f->lost > 0;
				}
				/* a device's traffic is what enters it */
				struct fabric_dev *d = &v->devs[m->link_to[l]];

				d->sent += w * (double)f->sent;
				d->lost += w * (double)f->lost;
				if (w >= 0.5) {
					d->flows++;
					d->lossy_flows += f->lost > 0;
				}
			}
			if (al->nlinks) {
				struct fabric_dev *d = &v->devs[m->link_from[m->alt_links[al->link_first]]];

				d->sent += w * (double)f->sent;
				d->lost += w * (double)f->lost;
				if (w >= 0.5) {
					d->flows++;
					d->lossy_flows += f->lost > 0;
				}
			}
		}
	}
	for (uint32_t l = 0; l < m->nlinks; l++) {
		struct fabric_link *fl = &v->links[l];

		if (fl->suspect >= 0) {
			fl->loss_ratio = v->sus.v[fl->suspect].loss_ratio;
			fl->loss_lo = v->sus.v[fl->suspect].loss_lo;
		} else {
			fl->loss_ratio = fl->sent > 0 ? fmax(0, unexp[l] / fl->sent) : 0;
			fl->loss_lo = fl->sent > 0
					      ? fmax(0, fl->loss_ratio -
							1.96 * sqrt(fl->loss_ratio *
								    (1 - fl->loss_ratio) / fl->sent))
					      : 0;
		}
	}
	free(unexp);
	return 0;
err:
	free(unexp);
	fabric_view_free(v);
	return -1;
}

void fabric_view_free(struct fabric_view *v)
{
	model_free(v->m);
	suspect_list_free(&v->sus);
	free(v->links);
	free(v->devs);
	free(v->pairs);
	memset(v, 0, sizeof(*v));
}

int fabric_view_build(struct fabric_view *v, const struct obs_set *obs,
		      const struct inventory *inv, const struct infer_cfg *cfg,
		      char *err, size_t errlen)
{
	struct window_req req = { .src = WINDOW_SRC_SET, .obs = obs, .inv = inv, .cfg = cfg };

	return view_build(v, &req, err, errlen);
}

int fabric_view_db_build(struct fabric_view *v, const char *db,
			 enum fabric_view_source src, int64_t since_ms,
			 int64_t until_ms, const struct inventory *inv,
			 const struct infer_cfg *cfg, char *err, size_t errlen)
{
	struct window_req req = {
		.src = src == FABRIC_VIEW_HOURLY ? WINDOW_SRC_DB_HOURLY : WINDOW_SRC_DB,
		.path = db, .since_ms = since_ms, .until_ms = until_ms,
		.inv = inv, .cfg = cfg,
	};

	return view_build(v, &req, err, errlen);
}
