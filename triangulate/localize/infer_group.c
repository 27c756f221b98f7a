/* The grouping: link evidence, partial blackholes and replies they ate,
 * ambiguous pairs, device and host suspects, and the ranked list. */
#include "infer.h"
#include "infer_int.h"
#include "model.h"
#include "strtab.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUSPECT_DROPPED ((enum suspect_kind)-1) /* merged into its switch */

/* Distinct probers per suspect: one bit per (suspect, prober device), in
 * place of sorting a pair per lossy flow. */
struct prober_sets {
	uint64_t *bits;
	size_t words; /* per suspect */
};

static int prober_sets_init(struct prober_sets *p, size_t nsets, uint32_t ndevs)
{
	p->words = (ndevs + 63) / 64;
	p->bits = calloc(nsets * p->words + 1, sizeof(*p->bits));
	return p->bits ? 0 : -1;
}

static void prober_sets_add(struct prober_sets *p, size_t set, uint32_t dev)
{
	p->bits[set * p->words + dev / 64] |= 1ull << (dev % 64);
}

/* Adds each set's count of probers to its suspect. */
static void prober_sets_count(const struct prober_sets *p, size_t nsets, struct suspect *v)
{
	for (size_t i = 0; i < nsets; i++)
		for (size_t w = 0; w < p->words; w++)
			v[i].probers += (uint32_t)__builtin_popcountll(p->bits[i * p->words + w]);
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
 * them) or NULL; the probers of lossy flows go to pp's group sets. */
static struct tally *groups_tally(const struct fit *f, const int32_t *group,
				  size_t ngroups, const int32_t *excl, struct prober_sets *pp)
{
	const struct model *m = f->m;
	struct tally *dt = calloc(ngroups + 1, sizeof(*dt));
	uint8_t *touches = malloc(m->nlinks + 1); /* per link: an end in a group */

	if (!dt || !touches)
		goto err;
	/* the few suspect groups touch few links: the rest are skipped below
	 * with one load instead of both ends' lookups */
	for (uint32_t l = 0; l < m->nlinks; l++)
		touches[l] = group[m->link_from[l]] >= 0 || group[m->link_to[l]] >= 0;
	for (size_t a = 0; ngroups && a < m->nalts; a++) {
		const struct model_alt *al = &m->alts[a];
		const struct model_flow *fl = &m->flows[al->flow];
		int32_t seen[4];
		double part[4];
		int ns = 0;

		if (f->w[a] <= 0)
			continue;
		for (uint32_t k = 0; k < al->nlinks; k++) {
			uint32_t l = m->alt_links[al->link_first + k], ends[2];

			if (!touches[l])
				continue;
			ends[0] = m->link_from[l];
			ends[1] = m->link_to[l];
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
					if (pp)
						prober_sets_add(pp, (size_t)seen[j], fl->prober_dev);
				}
			}
			if (fl->lost &&
			    tally_term(t, f->w[a] * (double)fl->lost,
				       fmax(0, f->lX[f->alt_lossy[a]] - part[j]), part[j]) < 0)
				goto err;
		}
	}
	free(touches);
	return dt;
err:
	free(touches);
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

static const double *sort_u; /* qsort has no context argument */

static int cand_cmp(const void *a, const void *b)
{
	double x = sort_u[*(const uint32_t *)a], y = sort_u[*(const uint32_t *)b];

	return x > y ? -1 : x < y;
}

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
	free(g->peer_floor);
	free(g->tier);
	free(g->set_hash);
	free(g->set_count);
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
	g->set_hash = calloc(m->nlinks + nd, sizeof(*g->set_hash));
	g->set_count = calloc(m->nlinks + nd, sizeof(*g->set_count));
	if (!g->link_sus || !g->dev_sus || !g->used || !g->nin || !g->nout ||
	    !g->fin || !g->fout || !g->sw_flagged || !g->dev_flows || !g->dev_flagged ||
	    !g->set_hash || !g->set_count)
		return -1;
	for (uint32_t l = 0; l < m->nlinks; l++)
		g->link_sus[l] = -1;
	for (uint32_t d = 0; d < m->ndevs; d++)
		g->dev_sus[d] = -1;
	return 0;
}

/* Evidence per faulty link (flows that most likely crossed it, lossy ones,
 * probers) and the partial-blackhole call: its flows are all-or-nothing. */
static int grouping_links_evidence(struct grouping *g)
{
	const struct model *m = g->m;
	struct tally *lt = calloc(g->links.n + 1, sizeof(*lt));
	struct prober_sets pp = { 0 };

	if (!lt || prober_sets_init(&pp, g->links.n, m->ndevs) < 0) {
		free(lt);
		return -1;
	}
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
				prober_sets_add(&pp, (size_t)si, fl->prober_dev);
			}
			if (fl->sent >= 5) {
				double q = (double)fl->lost / (double)fl->sent;

				t->n5++;
				/* a flow that went dark died, whatever its loss ratio
				 * (the fault began or ended inside the window) */
				if (q >= 0.9 || model_flow_silent(fl))
					t->all_lost++;
				else if (q <= 0.1 * g->links.v[si].loss_ratio)
					t->clean++;
			}
		}
	}
	prober_sets_count(&pp, g->links.n, g->links.v);
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
	free(lt);
	free(pp.bits);
	return 0;
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

/* Identifiability, one rule for links, devices and hosts: two elements
 * whose flow sets (the paths that most likely cross a link, or touch a
 * device or host) are equal lose the same probes on the same flows, so no
 * count splits them; trace evidence that does split them (a trace cut short
 * puts its flow beyond its last answered hop) is already in the paths. A
 * suspect with such a twin is one ambiguous suspect naming both, never one
 * of them with confidence. Sets are compared by a sum of per-flow hashes
 * and their size, collected once per element: links 0 .. nlinks - 1, then
 * device d at nlinks + d. */
static void grouping_sets_collect(struct grouping *g)
{
	const struct model *m = g->m;

	for (size_t a = 0; a < m->nalts; a++) {
		const struct model_alt *al = &m->alts[a];
		const uint32_t *ls = m->alt_links + al->link_first;
		uint64_t h = 0x9E3779B97F4A7C15ull * (al->flow + 1);

		if (g->f->w[a] < 0.5 || !al->nlinks)
			continue;
		h ^= h >> 29;
		h *= 0xBF58476D1CE4E5B9ull;
		h ^= h >> 32;
		/* a path's devices: its first link's start, then each link's end */
		g->set_hash[m->nlinks + m->link_from[ls[0]]] += h;
		g->set_count[m->nlinks + m->link_from[ls[0]]]++;
		for (uint32_t k = 0; k < al->nlinks; k++) {
			g->set_hash[ls[k]] += h;
			g->set_count[ls[k]]++;
			g->set_hash[m->nlinks + m->link_to[ls[k]]] += h;
			g->set_count[m->nlinks + m->link_to[ls[k]]]++;
		}
	}
}

static int dev_is_host(const struct model *m, uint32_t d)
{
	return m->dev_endpoint[d] && !m->dev_transit[d];
}

static int grouping_sets_equal(const struct grouping *g, uint32_t x, uint32_t y)
{
	return g->set_count[x] && g->set_count[x] == g->set_count[y] &&
	       g->set_hash[x] == g->set_hash[y];
}

/* Are x and y a host and one of its own links? Those are one thing to
 * end-to-end probes, and a host suspect already is its links
 * (grouping_hosts_test), so they are not twins. */
static int grouping_host_own_link(const struct grouping *g, uint32_t x, uint32_t y)
{
	const struct model *m = g->m;
	uint32_t l = x < y ? x : y, d = (x < y ? y : x) - m->nlinks;

	if ((x < m->nlinks) == (y < m->nlinks))
		return 0;
	return dev_is_host(m, d) && model_link_peer(m, l, d) != MODEL_DEV_NONE;
}

/* The twin of element x: another element with x's flow set, one of x's own
 * class first (a link for a link, a device or host for a device or host),
 * the lowest index first; GROUP_NO_TWIN when x is identified alone. */
#define GROUP_NO_TWIN UINT32_MAX
static uint32_t grouping_twin(const struct grouping *g, uint32_t x)
{
	const struct model *m = g->m;
	uint32_t n = m->nlinks + m->ndevs, first = x < m->nlinks ? 0 : m->nlinks;

	for (uint32_t i = 0; i < n; i++) {
		uint32_t y = (first + i) % n;

		if (y != x && grouping_sets_equal(g, x, y) && !grouping_host_own_link(g, x, y))
			return y;
	}
	return GROUP_NO_TWIN;
}

/* Name element y as the other half of suspect s. A device or host has no
 * "to": its "also_to" stays empty. */
static void grouping_twin_name(const struct grouping *g, struct suspect *s, uint32_t y)
{
	const struct model *m = g->m;

	if (y < m->nlinks) {
		snprintf(s->also_from, sizeof(s->also_from), "%s", model_dev_name(m, m->link_from[y]));
		snprintf(s->also_to, sizeof(s->also_to), "%s", model_dev_name(m, m->link_to[y]));
	} else {
		snprintf(s->also_from, sizeof(s->also_from), "%s", model_dev_name(m, y - m->nlinks));
		s->also_to[0] = 0;
	}
}

/* Each suspect not yet named ambiguous gets its twin (grouping_twin). Two
 * suspects with one flow set are one suspect: of two links the stronger
 * stays, naming the other; of two devices or hosts likewise (once their
 * scores exist: run after the links, before the devices are tested, so a
 * twin pair is not two faulty links of one switch, and again when the
 * groups are scored); a device or host takes in a link suspect on its
 * flows (its one rate was tested on the same flows). */
static void grouping_ambiguous(struct grouping *g)
{
	const struct model *m = g->m;

	for (uint32_t l = 0; l < m->nlinks; l++) {
		struct suspect *s;
		uint32_t t;

		if (g->link_sus[l] < 0)
			continue;
		s = &g->links.v[g->link_sus[l]];
		if (s->also_from[0] || (t = grouping_twin(g, l)) == GROUP_NO_TWIN)
			continue;
		grouping_twin_name(g, s, t);
		if (t < m->nlinks && g->link_sus[t] >= 0) {
			/* keep the stronger of the two as the one suspect */
			struct suspect *o = &g->links.v[g->link_sus[t]];

			if (o->score > s->score) {
				grouping_twin_name(g, o, l);
				g->link_sus[l] = -1;
			} else {
				g->link_sus[t] = -1;
			}
		}
	}
	for (uint32_t d = 0; d < m->ndevs; d++) {
		uint32_t x = m->nlinks + d, t;
		struct suspect *s;

		if (g->dev_sus[d] < 0)
			continue;
		s = &g->groups.v[g->dev_sus[d]];
		if (s->kind == SUSPECT_DROPPED)
			continue;
		for (uint32_t l = 0; l < m->nlinks; l++)
			if (g->link_sus[l] >= 0 && grouping_sets_equal(g, x, l))
				g->link_sus[l] = -1;
		if (s->also_from[0] || (t = grouping_twin(g, x)) == GROUP_NO_TWIN)
			continue;
		grouping_twin_name(g, s, t);
		if (t >= m->nlinks && g->dev_sus[t - m->nlinks] >= 0) {
			struct suspect *o = &g->groups.v[g->dev_sus[t - m->nlinks]];

			if (o->kind == SUSPECT_DROPPED)
				continue;
			if (o->score > s->score) {
				grouping_twin_name(g, o, x);
				s->kind = SUSPECT_DROPPED;
				g->dev_sus[d] = -1;
			} else {
				o->kind = SUSPECT_DROPPED;
				g->dev_sus[t - m->nlinks] = -1;
			}
		}
	}
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

/* The peers' floor under switch d's null, into *floor: the least rate (one
 * variable for a switch's two links on each path, as the device tests fit
 * it) of the other switches of its tier. How the background splits between
 * host and fabric links is barely pinned down where few flows stay under
 * one ToR (in the lab's 6-leaf fabric 1 in 11: the split's error is 11
 * times the noise of the class medians), so a fabric class's top can come
 * out at a tenth of its links' real rates, and then every healthy spine
 * passed the device test at 0.06%, its links' own background. Its peers
 * share that error: a switch must lose twice what the least lossy other
 * one of its tier does. Faulty switches lift only their own rates, so the
 * floor holds while one switch of the tier is healthy; a tier of one has
 * no floor. A floor only raises the null, so the callers ask for it only
 * once a switch passes against its links' tops, and a tier's floors are
 * filled the first time (one pass over the paths). */
static int grouping_peer_floor(struct grouping *g, uint32_t d, double *floor)
{
	const struct model *m = g->m;
	int32_t *group = NULL;
	uint32_t *list = NULL, n = 0;
	struct tally *t = NULL;
	double lo = INFINITY, lo2 = INFINITY;
	int32_t at = -1;
	int k, rc = -1;

	if (!g->tier) {
		g->tier = malloc(m->ndevs + 1);
		g->peer_floor = calloc(m->ndevs + 1, sizeof(*g->peer_floor));
		if (!g->tier || !g->peer_floor || model_tiers(m, g->tier) < 0)
			return -1;
	}
	k = g->tier[d] & 7;
	if (g->tier_done[k]) {
		*floor = g->peer_floor[d];
		return 0;
	}
	group = malloc((m->ndevs + 1) * sizeof(*group));
	list = malloc((m->ndevs + 1) * sizeof(*list));
	if (!group || !list)
		goto out;
	for (uint32_t e = 0; e < m->ndevs; e++) {
		group[e] = -1;
		if (m->dev_transit[e] && g->tier[e] == k && g->dev_flows[e]) {
			group[e] = (int32_t)n;
			list[n++] = e;
		}
	}
	/* a path crosses at most two switches of one tier, within the
	 * tally's four groups a path */
	if (n >= 2) {
		if (!(t = groups_tally(g->f, group, n, NULL, NULL)))
			goto out;
		for (uint32_t i = 0; i < n; i++) {
			struct terms tt = { t[i].B, t[i].c, t[i].r, t[i].n };
			double curv, u = terms_solve(&tt, g->cfg->prior_probes, 0, &curv);

			if (u < lo) {
				lo2 = lo;
				lo = u;
				at = (int32_t)i;
			} else if (u < lo2) {
				lo2 = u;
			}
		}
		for (uint32_t i = 0; i < n; i++)
			g->peer_floor[list[i]] = (int32_t)i == at ? lo2 : lo;
	}
	g->tier_done[k] = 1;
	*floor = g->peer_floor[d];
	rc = 0;
out:
	tallies_free(t, n);
	free(group);
	free(list);
	return rc;
}

/* Device rate u on the flows of t beats its null u_null (the tops of its
 * links in and out): significant at the family's level and at least
 * INFER_EFFECT_MIN times the null, like every suspect. */
static int device_stands_out(const struct grouping *g, const struct tally *t, double u,
			     double u_null)
{
	struct terms tt = { t->B, t->c, t->r, t->n };
	struct suspect scratch;

	return u >= INFER_EFFECT_MIN * u_null &&
	       terms_test(&tt, u, u_null, g->ntests, g->cfg->alpha, &scratch);
}

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
		double u = cand_u[i], rates = 0, curv, top_in = 0, top_out = 0;
		int near = 0, fits, stands;

		for (uint32_t l = 0; l < m->nlinks; l++) {
			uint32_t a = m->link_from[l], b = m->link_to[l];

			if (a != d && b != d)
				continue;
			if (b == d)
				top_in = fmax(top_in, f->u_bg[l]);
			else
				top_out = fmax(top_out, f->u_bg[l]);
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
		/* the device must stand out as a link must: its faulty links can
		 * be its stronger neighbours' (a leaf under two lossy spines has
		 * half its flows on their links), and then a device rate fits
		 * its flows well while being only the background (a 2-tier
		 * fabric with three faulty switches named every other leaf at
		 * 0.03-0.3% once the background was learned right) */
		stands = device_stands_out(g, t, u, top_in + top_out);
		if (stands) {
			double floor;

			if (grouping_peer_floor(g, d, &floor) < 0) {
				tallies_free(own, 1);
				goto out;
			}
			if (floor > top_in + top_out)
				stands = device_stands_out(g, t, u, floor);
		}
		fits = stands && device_model_fits(t, u, rates - 1, g->cfg->alpha / g->ntests);
		tallies_free(own, 1);
		if (!stands)
			continue;
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

/* Upper tail P(X >= k) of a Poisson(mean) count. */
static double poisson_tail(double k, double mean)
{
	double sum = 0, lm = log(mean);

	if (k <= mean || mean <= 0)
		return k <= 0 || mean > 0 ? 1 : 0;
	/* the terms fall from k on (k > mean): sum until negligible */
	for (double i = ceil(k); i < k + 10000; i++) {
		double t = exp(-mean + i * lm - lgamma(i + 1));

		sum += t;
		if (t < sum * 1e-12)
			break;
	}
	return fmin(1, sum);
}

/* The pooled device test (README "How localize decides"). The fit may
 * spread a device's loss over many of its links, each then too weakly
 * evidenced to pass its own test (in the lab a 5% spine came out as one
 * of its links at 3%), so the device is also tested whole: every path
 * through it gets one variable in place of the device's two links on it
 * (the rest of the path at its fitted rates, other suspects included).
 * The null puts the device's links at their class's top; the device must
 * beat that top family-wise and by the links' effect size, and must
 * explain its flows no worse than its own faulty links plus the best one
 * more link do, by BIC (the links model pays log n per rate beyond the
 * device's one; a single link fault's clean neighbours make the device
 * fit far worse). Statistics are divided by the
 * device model's dispersion, as the links' are, and corrected over all
 * links and devices (ntests), wider than the switches tested: the pooled
 * tests spend at most the devices' share of alpha beside the links'. */
#define POOL_NO_LINK UINT32_MAX
#define POOL_X_MIN 1e-12 /* a path of rate 0 that lost: floored, not -inf */
#define POOL_ROUNDS 3    /* coordinate-ascent rounds of the links model */

struct pool_rec {
	double ok, lost; /* weighted delivered and lost probes of the path */
	double w, sent;  /* the path's weight, its flow's probes */
	double r;        /* u of the rest of the path, at the fit's rates */
	uint32_t lk[2];  /* the device's links on it (local index), or POOL_NO_LINK */
};

/* Log-likelihood over the records of one device with the device part of
 * record i at part[i] (or at u when part is NULL). */
static double pool_loglik(const struct pool_rec *rec, size_t n, const double *part, double u)
{
	double ll = 0;

	for (size_t i = 0; i < n; i++) {
		double p = part ? part[i] : u;

		ll -= rec[i].ok * p;
		if (rec[i].lost > 0)
			ll += rec[i].lost * log(-expm1(-fmax(rec[i].r + p, POOL_X_MIN)));
	}
	return ll;
}

/* One-sided p-value of a likelihood-ratio statistic, Bonferroni over n. */
static double pool_pvalue(double lr, double n)
{
	return lr > 0 ? 0.5 * erfc(sqrt(lr / 2)) * n : n;
}

/* Link j's terms over its records, the other link on each at val[]
 * (c and r: scratch of the records' count). */
static void pool_link_terms(const struct pool_rec *rec, const uint32_t *inc_first,
			    const uint32_t *inc, uint32_t j, const double *val, double *c,
			    double *r, struct terms *t)
{
	*t = (struct terms){ 0, c, r, 0 };
	for (uint32_t k = inc_first[j]; k < inc_first[j + 1]; k++) {
		const struct pool_rec *x = &rec[inc[k]];
		uint32_t o = x->lk[0] == j ? x->lk[1] : x->lk[0];

		t->B += x->ok;
		if (x->lost > 0) {
			c[t->n] = x->lost;
			r[t->n++] = x->r + (o == POOL_NO_LINK ? 0 : val[o]);
		}
	}
}

/* Log-likelihood of terms at u, a path of rate 0 that lost floored. */
static double pool_terms_loglik(const struct terms *t, double u)
{
	double ll = -t->B * u;

	for (size_t i = 0; i < t->n; i++)
		ll += t->c[i] * log(-expm1(-fmax(u + t->r[i], POOL_X_MIN)));
	return ll;
}

/* The links model: the device's links at their class's top (or their
 * fitted rate, if lower) but for the free ones (free_[j]), each at its
 * own rate, fit by coordinate ascent into val[]. */
static void pool_links_fit(const struct grouping *g, const struct pool_rec *rec,
			   const uint32_t *inc_first, const uint32_t *inc, size_t nlk,
			   const uint8_t *free_, double *val, double *c, double *r)
{
	for (int round = 0; round < POOL_ROUNDS; round++)
		for (uint32_t j = 0; j < nlk; j++) {
			struct terms t;
			double curv;

			if (!free_[j])
				continue;
			pool_link_terms(rec, inc_first, inc, j, val, c, r, &t);
			val[j] = terms_solve(&t, g->cfg->prior_probes, val[j], &curv);
		}
}

/* Test one candidate device d on its records (their links renumbered in
 * place; local: -1 per link, scratch). Returns 1 to name it, 0 not, -1
 * (ENOMEM). */
static int pool_device_test(struct grouping *g, uint32_t d, struct pool_rec *rec,
			    size_t n, int32_t *local)
{
	const struct model *m = g->m;
	const struct fit *f = g->f;
	uint32_t *links = NULL, *inc_first = NULL, *inc = NULL;
	double *val = NULL, *cap = NULL, *c = NULL, *r = NULL, *part = NULL;
	uint8_t *free_ = NULL;
	double top_in = 0, top_out = 0, u0, u, curv, phi = 0, wsum = 0, ll_dev, lr, best = 0;
	size_t nlk = 0, nc = 0, nfree = 0;
	int32_t extra = -1;
	int rc = -1;

	links = malloc((2 * n + 1) * sizeof(*links));
	c = malloc((n + 1) * sizeof(*c));
	r = malloc((n + 1) * sizeof(*r));
	part = malloc((n + 1) * sizeof(*part));
	if (!links || !c || !r || !part)
		goto out;
	/* the device's links in a local numbering (local[] is -1 outside); a
	 * link to a device named since the records were collected is now
	 * that one's, in the rest of the path */
	for (size_t i = 0; i < n; i++)
		for (int e = 0; e < 2; e++) {
			uint32_t l = rec[i].lk[e];

			if (l == POOL_NO_LINK)
				continue;
			if (g->dev_sus[m->link_from[l] == d ? m->link_to[l] : m->link_from[l]] >= 0) {
				rec[i].r += f->u[l];
				rec[i].lk[e] = POOL_NO_LINK;
				continue;
			}
			if (local[l] < 0) {
				local[l] = (int32_t)nlk;
				links[nlk++] = l;
			}
			rec[i].lk[e] = (uint32_t)local[l];
		}
	for (size_t j = 0; j < nlk; j++)
		local[links[j]] = -1;
	if (!nlk) { /* every link of it leads to a device suspect */
		rc = 0;
		goto out;
	}
	val = malloc((nlk + 1) * sizeof(*val));
	cap = malloc((nlk + 1) * sizeof(*cap));
	free_ = calloc(nlk + 1, 1);
	inc_first = calloc(nlk + 2, sizeof(*inc_first));
	inc = malloc((2 * n + 1) * sizeof(*inc));
	if (!val || !cap || !free_ || !inc_first || !inc)
		goto out;
	for (size_t j = 0; j < nlk; j++) {
		uint32_t l = links[j];

		cap[j] = fmin(f->u[l], f->u_bg[l]);
		if (m->link_to[l] == d)
			top_in = fmax(top_in, f->u_bg[l]);
		else
			top_out = fmax(top_out, f->u_bg[l]);
		free_[j] = g->link_sus[l] >= 0;
	}
	/* the null: a healthy device's two links on a path, each at its top,
	 * and no less than its least lossy peer (grouping_peer_floor) */
	u0 = top_in + top_out;
	for (size_t i = 0; i < n; i++)
		if (rec[i].lost > 0) {
			c[nc] = rec[i].lost;
			r[nc++] = rec[i].r;
		}
	{
		struct terms t = { 0, c, r, nc };

		for (size_t i = 0; i < n; i++)
			t.B += rec[i].ok;
		u = terms_solve(&t, g->cfg->prior_probes, 0, &curv);
	}
	if (u <= u0 || u_to_loss(u) < INFER_EFFECT_MIN * u_to_loss(u0)) {
		rc = 0;
		goto out;
	}
	{
		double floor;

		if (grouping_peer_floor(g, d, &floor) < 0)
			goto out;
		u0 = fmax(u0, floor);
	}
	if (u <= u0 || u_to_loss(u) < INFER_EFFECT_MIN * u_to_loss(u0)) {
		rc = 0;
		goto out;
	}
	/* dispersion of the device model: Pearson's statistic per degree of
	 * freedom, at least 1 (misplaced loss comes in a few heavy flows) */
	for (size_t i = 0; i < n; i++) {
		double q = -expm1(-(rec[i].r + u)), mu = rec[i].sent * q;
		double v = fmax(mu * (1 - q), 1e-12), e = rec[i].lost / fmax(rec[i].w, 1e-300) - mu;

		phi += rec[i].w * e * e / v;
		wsum += rec[i].w;
	}
	phi = wsum > 2 ? fmax(1, phi / (wsum - 1)) : 1;
	ll_dev = pool_loglik(rec, n, NULL, u);
	lr = 2 * (ll_dev - pool_loglik(rec, n, NULL, u0)) / phi;
	if (pool_pvalue(lr, g->ntests) > g->cfg->alpha) {
		rc = 0;
		goto out;
	}
	/* the links model: the device's faulty links free, then the one more
	 * link that gains most, then all of them refit together */
	for (size_t i = 0; i < n; i++)
		for (int e = 0; e < 2; e++)
			if (rec[i].lk[e] != POOL_NO_LINK)
				inc_first[rec[i].lk[e] + 1]++;
	for (size_t j = 0; j < nlk; j++)
		inc_first[j + 1] += inc_first[j];
	{
		uint32_t *fill = calloc(nlk + 1, sizeof(*fill));

		if (!fill)
			goto out;
		for (uint32_t i = 0; i < n; i++)
			for (int e = 0; e < 2; e++) {
				uint32_t j = rec[i].lk[e];

				if (j != POOL_NO_LINK)
					inc[inc_first[j] + fill[j]++] = i;
			}
		free(fill);
	}
	memcpy(val, cap, nlk * sizeof(*val));
	pool_links_fit(g, rec, inc_first, inc, nlk, free_, val, c, r);
	for (uint32_t j = 0; j < nlk; j++) {
		struct terms t;
		double gain;

		if (free_[j])
			continue;
		pool_link_terms(rec, inc_first, inc, j, val, c, r, &t);
		gain = pool_terms_loglik(&t, terms_solve(&t, g->cfg->prior_probes, val[j], &curv)) -
		       pool_terms_loglik(&t, val[j]);
		if (gain > best) {
			best = gain;
			extra = (int32_t)j;
		}
	}
	if (extra >= 0) {
		free_[extra] = 1;
		pool_links_fit(g, rec, inc_first, inc, nlk, free_, val, c, r);
	}
	for (size_t i = 0; i < n; i++) {
		part[i] = 0;
		for (int e = 0; e < 2; e++)
			if (rec[i].lk[e] != POOL_NO_LINK)
				part[i] += val[rec[i].lk[e]];
	}
	/* the links model's extra parameters are paid for (BIC: log n each,
	 * n the device's paths): with two hosts a leaf its faulty host links
	 * plus one more are four rates that can follow any loss of the leaf,
	 * so unpenalized they always fit at least as well as its one rate,
	 * and a 0.34% leaf came out as a host and a host link */
	for (size_t j = 0; j < nlk; j++)
		nfree += free_[j];
	lr = 2 * (ll_dev - pool_loglik(rec, n, part, 0)) / phi;
	rc = lr + ((double)nfree - 1) * log((double)n) >= 0;
out:
	free(links);
	free(inc_first);
	free(inc);
	free(val);
	free(cap);
	free(free_);
	free(c);
	free(r);
	free(part);
	return rc;
}

/* Has switch d a host of the same flow set (grouping_twin's rule)? */
static int grouping_host_twin(const struct grouping *g, uint32_t d)
{
	const struct model *m = g->m;

	for (uint32_t h = 0; h < m->ndevs; h++)
		if (h != d && dev_is_host(m, h) &&
		    grouping_sets_equal(g, m->nlinks + d, m->nlinks + h))
			return 1;
	return 0;
}

/* Pooled device test over every switch not yet a suspect: a cheap screen
 * picks the candidates, whose paths are then collected and tested
 * (pool_device_test). The screen: its flows lose more than its faulty links
 * at their fitted rates and the rest at their tops predict (a Poisson tail
 * at the corrected level), since the device must beat those links anyway;
 * the ends of a faulty link are not candidates for its loss alone. A link
 * to a device suspect stays that suspect's, in the rest of the path. */
static int grouping_devices_pooled(struct grouping *g)
{
	const struct model *m = g->m;
	const struct fit *f = g->f;
	size_t nd = m->ndevs + 1;
	double *lost = calloc(nd, sizeof(*lost)), *mean = calloc(nd, sizeof(*mean));
	double *excess = calloc(nd, sizeof(*excess)), *top = calloc(2 * nd, sizeof(*top));
	double *probes = calloc(nd, sizeof(*probes)), *q_top = calloc(nd, sizeof(*q_top));
	uint32_t *order = NULL;
	uint8_t *cand = calloc(nd, 1);
	size_t *first = calloc(nd + 1, sizeof(*first)), *fill = NULL;
	int32_t *local = malloc((m->nlinks + 1) * sizeof(*local));
	struct pool_rec *rec = NULL;
	uint32_t ncand = 0;
	int rc = -1;

	if (!lost || !mean || !excess || !top || !probes || !q_top || !cand || !first ||
	    !local)
		goto out;
	for (uint32_t l = 0; l < m->nlinks; l++) {
		local[l] = -1;
		if (!g->used[l])
			continue;
		top[2 * m->link_to[l]] = fmax(top[2 * m->link_to[l]], f->u_bg[l]);
		top[2 * m->link_from[l] + 1] = fmax(top[2 * m->link_from[l] + 1], f->u_bg[l]);
	}
	/* once per device, not per flow through it */
	for (size_t d = 0; d < nd; d++)
		q_top[d] = u_to_loss(top[2 * d] + top[2 * d + 1]);
	/* pass 0 screens, pass 1 counts the candidates' records, pass 2 fills */
	for (int pass = 0; pass < 3; pass++) {
		for (size_t a = 0; a < m->nalts; a++) {
			const struct model_alt *al = &m->alts[a];
			const struct model_flow *fl = &m->flows[al->flow];
			const uint32_t *ls = m->alt_links + al->link_first;
			double w = f->w[a], x = 0;
			int x_done = 0;
			uint32_t i;

			/* after the screen, a path through no candidate is skipped
			 * on its links alone, before its flow is read */
			for (i = 1; pass > 0 && i < al->nlinks && !cand[m->link_from[ls[i]]]; i++)
				;
			if (pass > 0 && i >= al->nlinks)
				continue;
			if (w <= 0 || fl->sent == 0)
				continue;
			/* device d sits between link i - 1 and link i */
			for (uint32_t i = 1; i < al->nlinks; i++) {
				uint32_t d = m->link_from[ls[i]], lk[2] = { ls[i - 1], ls[i] };
				double p = 0, p0 = 0, q_rest, q_sum;

				if (!m->dev_transit[d] || g->dev_sus[d] >= 0 ||
				    (pass > 0 && !cand[d]))
					continue;
				if (pass == 1) {
					first[d + 1]++;
					continue;
				}
				/* the path's sum only for paths through a device in
				 * the running: most paths avoid every candidate */
				for (uint32_t k = 0; !x_done && k < al->nlinks; k++)
					x += f->u[ls[k]];
				x_done = 1;
				for (int e = 0; e < 2; e++) {
					uint32_t other = e ? m->link_to[lk[e]] : m->link_from[lk[e]];
					double u = f->u[lk[e]], ub = f->u_bg[lk[e]];

					if (g->dev_sus[other] >= 0) {
						lk[e] = POOL_NO_LINK;
						continue;
					}
					p += u;
					/* fmin without the libm call: neither is NaN */
					p0 += g->link_sus[lk[e]] >= 0 ? u : (ub < u ? ub : u);
				}
				if (pass == 0) {
					lost[d] += w * (double)fl->lost;
					probes[d] += w * (double)fl->sent;
					mean[d] += w * (double)fl->sent * -expm1(-(x - p + p0));
					/* what the rest of the path leaves the device, less
					 * its top on these probes (the effect size), on
					 * flows weighed down where the rest loses far more
					 * than that top (a blackhole's flows, all or nothing,
					 * would swamp it with their noise) */
					q_rest = -expm1(-(x - p));
					/* fmax without the libm call (NaN gives 1e-300, as fmax) */
					q_sum = q_rest + q_top[d];
					excess[d] += w * ((double)fl->lost -
							  (double)fl->sent * (q_rest + q_top[d])) *
						     q_top[d] / (q_sum > 1e-300 ? q_sum : 1e-300);
				} else {
					struct pool_rec *y = &rec[first[d] + fill[d]++];

					*y = (struct pool_rec){ .ok = w * (double)(fl->sent - fl->lost),
								.lost = w * (double)fl->lost,
								.w = w, .sent = (double)fl->sent,
								.r = fmax(0, x - p),
								.lk = { lk[0], lk[1] } };
				}
			}
		}
		if (pass == 0) {
			order = malloc((m->ndevs + 1) * sizeof(*order));
			if (!order)
				goto out;
			for (uint32_t d = 0; d < m->ndevs; d++) {
				cand[d] = mean[d] > 0 && lost[d] > mean[d] && excess[d] > 0 &&
					  poisson_tail(lost[d], mean[d]) <= g->cfg->alpha;
				/* strongest first, by the excess rate */
				excess[d] /= fmax(probes[d], 1);
				if (cand[d])
					order[ncand++] = d;
			}
			if (!ncand)
				break;
			sort_u = excess;
			qsort(order, ncand, sizeof(*order), cand_cmp);
		} else if (pass == 1) {
			for (size_t d = 0; d < nd; d++)
				first[d + 1] += first[d];
			rec = malloc((first[nd] + 1) * sizeof(*rec));
			fill = calloc(nd, sizeof(*fill));
			if (!rec || !fill)
				goto out;
		}
	}
	/* strongest first: a link between two faulty switches carries the
	 * stronger one's loss, and once that one is named its links leave the
	 * weaker one's test */
	for (uint32_t i = 0; i < ncand; i++) {
		uint32_t d = order[i];
		int named;

		/* a switch whose flows are one host's (one host per ToR) is
		 * that host's evidence: the host test names the two as one
		 * ambiguous suspect (grouping_ambiguous) */
		if (first[d + 1] == first[d] || grouping_host_twin(g, d))
			continue;
		named = pool_device_test(g, d, rec + first[d], first[d + 1] - first[d], local);
		if (named < 0 || (named && grouping_add(g, SUSPECT_DEVICE, d) < 0))
			goto out;
	}
	rc = 0;
out:
	free(lost);
	free(mean);
	free(excess);
	free(top);
	free(probes);
	free(q_top);
	free(order);
	free(cand);
	free(first);
	free(fill);
	free(local);
	free(rec);
	return rc;
}

/* Does the stronger device suspect w (group index) explain group n's loss?
 * n is held back when it neighbours w and its flows that avoid w lose no
 * more than the background predicts (not significantly at the corrected
 * level, or by less than INFER_EFFECT_MIN times it): the fit may leave
 * some of a device's loss on the switches next to it (the ToRs under a
 * lossy aggregation switch), which then pass the device test on flows
 * they share with it. */
static int group_explained_by(const struct grouping *g, uint32_t n_dev, uint32_t w_dev)
{
	const struct model *m = g->m;
	const struct fit *f = g->f;
	double lost = 0, mean = 0;
	int adjacent = 0;

	for (uint32_t l = 0; l < m->nlinks && !adjacent; l++)
		adjacent = (m->link_from[l] == n_dev && m->link_to[l] == w_dev) ||
			   (m->link_from[l] == w_dev && m->link_to[l] == n_dev);
	if (!adjacent)
		return 0;
	for (size_t a = 0; a < m->nalts; a++) {
		const struct model_alt *al = &m->alts[a];
		const struct model_flow *fl = &m->flows[al->flow];
		const uint32_t *ls = m->alt_links + al->link_first;
		int on_n = 0, on_w = 0;
		double bg = 0;

		if (f->w[a] < 0.5)
			continue;
		for (uint32_t k = 0; k < al->nlinks; k++) {
			uint32_t x = m->link_from[ls[k]], y = m->link_to[ls[k]];

			on_n |= x == n_dev || y == n_dev;
			on_w |= x == w_dev || y == w_dev;
			bg += f->u_bg[ls[k]];
		}
		if (!on_n || on_w)
			continue;
		lost += (double)fl->lost;
		mean += (double)fl->sent * -expm1(-bg);
	}
	return lost < INFER_EFFECT_MIN * mean ||
	       poisson_tail(lost, mean) >= g->cfg->alpha / g->ntests;
}

/* Hold back the device and host suspects a stronger neighbouring device
 * explains (see group_explained_by), strongest first, so a held-back one
 * explains nothing. u: each group's fitted loss. */
static void grouping_groups_explained(struct grouping *g, const double *u)
{
	const struct model *m = g->m;
	size_t n = g->groups.n;

	for (size_t i = 0; i < n; i++) {
		struct suspect *s = &g->groups.v[i];
		int64_t d = strtab_find(m->devs, s->from, strlen(s->from));

		if (s->kind == SUSPECT_DROPPED || d < 0)
			continue;
		for (size_t j = 0; j < n; j++) {
			const struct suspect *w = &g->groups.v[j];
			int64_t wd = strtab_find(m->devs, w->from, strlen(w->from));

			if (j == i || w->kind != SUSPECT_DEVICE || wd < 0 ||
			    u[j] < u[i] || (u[j] == u[i] && j > i) ||
			    !group_explained_by(g, (uint32_t)d, (uint32_t)wd))
				continue;
			s->kind = SUSPECT_DROPPED;
			g->dev_sus[d] = -1;
			break;
		}
	}
}

/* Each group's own loss (one variable in place of its links on each path)
 * and evidence; then the ranked list: groups (less those a stronger
 * neighbour explains), and the links no group took. */
static int grouping_finish(struct grouping *g, struct suspect_list *out)
{
	const struct model *m = g->m;
	struct prober_sets dp = { 0 };
	struct tally *dt = NULL;
	double *gu = malloc((g->groups.n + 1) * sizeof(*gu));
	int rc = -1;

	if (!gu || prober_sets_init(&dp, g->groups.n, m->ndevs) < 0 ||
	    !(dt = groups_tally(g->f, g->dev_sus, g->groups.n, NULL, &dp)))
		goto out;
	prober_sets_count(&dp, g->groups.n, g->groups.v);
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
		gu[i] = s->kind == SUSPECT_DROPPED ? -1 : u;
	}
	grouping_ambiguous(g);
	grouping_groups_explained(g, gu);
	for (size_t i = 0; i < g->groups.n; i++)
		if (g->groups.v[i].kind != SUSPECT_DROPPED &&
		    suspect_list_add(out, &g->groups.v[i]) < 0)
			goto out;
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
	free(gu);
	free(dp.bits);
	return rc;
}

/* Link suspects, then blackhole calls, device and host grouping. */
int infer_suspects(struct fit *f, const struct infer_cfg *cfg,
			  struct suspect_list *out)
{
	struct grouping g;
	int rc = -1;

	if (grouping_init(&g, f, cfg) < 0 || grouping_links_test(&g) < 0 ||
	    grouping_links_evidence(&g) < 0 ||
	    grouping_links_reverse_explained(&g) < 0)
		goto out;
	grouping_sets_collect(&g);
	grouping_ambiguous(&g);
	grouping_devices_count(&g);
	if (grouping_devices_test(&g) < 0 || grouping_devices_pooled(&g) < 0 ||
	    grouping_hosts_test(&g) < 0 ||
	    grouping_finish(&g, out) < 0)
		goto out;
	rc = 0;
out:
	grouping_free(&g);
	return rc;
}
