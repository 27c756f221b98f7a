/* Greedy probe planner: rounds over the probers, each adding the sampled
 * target whose flows most likely cross links still short of distinct
 * probers. Crossing odds come from an even ECMP split over shortest paths,
 * with distances by BFS from each edge switch, computed once. */
#include "plan.h"
#include "inventory.h"
#include "strtab.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DIST_NONE 255

struct topo {
	struct strtab *devs;
	uint32_t n;
	uint32_t *adj_first, *adj;  /* CSR: neighbours */
	uint32_t *adj_link;         /* directed link id of each adjacency entry */
	uint32_t nlinks;            /* directed */
	const char **addr;          /* per device: an address, or NULL */
	uint32_t *hosts, nhosts;    /* devices with one neighbour */
	int32_t *edge_idx;          /* per device: index among edge switches */
	uint32_t nedges;
	uint8_t *dist;              /* nedges x n: hops to each edge switch */
};

static void topo_free(struct topo *t)
{
	strtab_free(t->devs);
	free(t->adj_first);
	free(t->adj);
	free(t->adj_link);
	free(t->addr);
	free(t->hosts);
	free(t->edge_idx);
	free(t->dist);
}

static int topo_build(struct topo *t, const struct inventory *inv)
{
	size_t nl = inventory_link_count(inv);
	uint32_t (*ends)[2] = malloc((nl + 1) * sizeof(*ends));

	memset(t, 0, sizeof(*t));
	if (!ends || !(t->devs = strtab_new()))
		goto err;
	for (size_t i = 0; i < nl; i++) {
		const char *a, *b;
		int64_t x, y;

		inventory_link_get(inv, i, &a, &b);
		x = strtab_intern(t->devs, a, strlen(a));
		y = strtab_intern(t->devs, b, strlen(b));
		if (x < 0 || y < 0)
			goto err;
		ends[i][0] = (uint32_t)x;
		ends[i][1] = (uint32_t)y;
	}
	t->n = strtab_count(t->devs);
	t->adj_first = calloc(t->n + 2, sizeof(*t->adj_first));
	t->adj = malloc((2 * nl + 1) * sizeof(*t->adj));
	t->adj_link = malloc((2 * nl + 1) * sizeof(*t->adj_link));
	t->addr = calloc(t->n + 1, sizeof(*t->addr));
	t->hosts = malloc((t->n + 1) * sizeof(*t->hosts));
	t->edge_idx = malloc((t->n + 1) * sizeof(*t->edge_idx));
	if (!t->adj_first || !t->adj || !t->adj_link || !t->addr || !t->hosts ||
	    !t->edge_idx)
		goto err;
	for (size_t i = 0; i < nl; i++) {
		t->adj_first[ends[i][0] + 1]++;
		t->adj_first[ends[i][1] + 1]++;
	}
	for (uint32_t d = 0; d < t->n; d++)
		t->adj_first[d + 1] += t->adj_first[d];
	for (size_t i = 0; i < nl; i++) {
		for (int e = 0; e < 2; e++) {
			uint32_t from = ends[i][e], pos = t->adj_first[from]++;

			t->adj[pos] = ends[i][1 - e];
			t->adj_link[pos] = (uint32_t)(2 * i + (size_t)e);
		}
	}
	for (uint32_t d = t->n; d > 0; d--)
		t->adj_first[d] = t->adj_first[d - 1];
	t->adj_first[0] = 0;
	t->nlinks = (uint32_t)(2 * nl);
	for (size_t i = inventory_addr_count(inv); i-- > 0;) {
		const char *a, *dev;
		int64_t d;

		inventory_addr_get(inv, i, &a, &dev);
		if ((d = strtab_find(t->devs, dev, strlen(dev))) >= 0)
			t->addr[d] = a;
	}
	for (uint32_t d = 0; d < t->n; d++)
		t->edge_idx[d] = -1;
	for (uint32_t d = 0; d < t->n; d++) {
		uint32_t sw;

		if (t->adj_first[d + 1] - t->adj_first[d] != 1)
			continue;
		t->hosts[t->nhosts++] = d;
		sw = t->adj[t->adj_first[d]];
		if (t->edge_idx[sw] < 0)
			t->edge_idx[sw] = (int32_t)t->nedges++;
	}
	free(ends);
	return 0;
err:
	free(ends);
	return -1;
}

/* Hop counts from every edge switch to every device (BFS, capped at 254). */
static int topo_distances(struct topo *t)
{
	uint32_t *queue = malloc((t->n + 1) * sizeof(*queue));

	t->dist = malloc((size_t)t->nedges * t->n + 1);
	if (!queue || !t->dist) {
		free(queue);
		return -1;
	}
	memset(t->dist, DIST_NONE, (size_t)t->nedges * t->n);
	for (uint32_t src = 0; src < t->n; src++) {
		uint8_t *dist;
		uint32_t head = 0, tail = 0;

		if (t->edge_idx[src] < 0)
			continue;
		dist = t->dist + (size_t)t->edge_idx[src] * t->n;
		dist[src] = 0;
		queue[tail++] = src;
		while (head < tail) {
			uint32_t x = queue[head++];

			for (uint32_t i = t->adj_first[x]; i < t->adj_first[x + 1]; i++) {
				uint32_t y = t->adj[i];

				if (dist[y] != DIST_NONE || dist[x] >= DIST_NONE - 1)
					continue;
				dist[y] = (uint8_t)(dist[x] + 1);
				queue[tail++] = y;
			}
		}
	}
	free(queue);
	return 0;
}

/* Scratch for one pair's crossing odds. */
struct spread {
	double *mass;      /* per device */
	uint32_t *front, *next;
	uint32_t *link;    /* crossed directed links ... */
	double *p;         /* ... and the odds one flow crosses each */
	size_t n;
};

/* Odds that one flow s -> t crosses each directed link, with ECMP splitting
 * evenly over next hops that bring it closer to t. */
static void spread_pair(const struct topo *t, struct spread *sp, uint32_t s,
			uint32_t dst)
{
	uint32_t et = t->adj[t->adj_first[dst]];
	const uint8_t *dist = t->dist + (size_t)t->edge_idx[et] * t->n;
	uint32_t nf = 0, nn;

	sp->n = 0;
	if (dist[s] == DIST_NONE)
		return;
	sp->front[nf++] = s;
	sp->mass[s] = 1;
	while (nf) {
		nn = 0;
		for (uint32_t i = 0; i < nf; i++) {
			uint32_t x = sp->front[i], nhops = 0;
			double m = sp->mass[x];

			sp->mass[x] = 0;
			if (x == dst)
				continue;
			/* next hops: closer to the target's switch, or the target */
			for (uint32_t j = t->adj_first[x]; j < t->adj_first[x + 1]; j++) {
				uint32_t y = t->adj[j];

				nhops += y == dst || (x != et && dist[y] + 1 == dist[x]);
			}
			for (uint32_t j = t->adj_first[x]; j < t->adj_first[x + 1]; j++) {
				uint32_t y = t->adj[j];

				if (!(y == dst || (x != et && dist[y] + 1 == dist[x])))
					continue;
				if (sp->mass[y] == 0 && y != dst)
					sp->next[nn++] = y;
				sp->mass[y] += m / nhops;
				sp->link[sp->n] = t->adj_link[j];
				sp->p[sp->n++] = m / nhops;
			}
		}
		memcpy(sp->front, sp->next, nn * sizeof(*sp->front));
		nf = nn;
	}
	sp->mass[dst] = 0;
}

/* Odds that at least one of a pair's flows crosses a link one flow crosses
 * with odds p: the expected share of a distinct prober it adds there. */
static double pair_hit(double p, double flows)
{
	return -expm1(flows * log1p(-fmin(p, 1 - 1e-12)));
}

static uint64_t plan_mix(uint64_t x)
{
	x ^= x >> 31;
	x *= 0x7fb5d329728ea185ull;
	return x ^ (x >> 27);
}

static uint64_t plan_rng(uint64_t *s)
{
	*s += 0x9E3779B97F4A7C15ull;
	return plan_mix(*s ^ (*s >> 29));
}

static int plan_chosen(const uint32_t *v, uint32_t n, uint32_t d)
{
	for (uint32_t i = 0; i < n; i++)
		if (v[i] == d)
			return 1;
	return 0;
}

int plan_write(const struct inventory *inv, const struct plan_cfg *cfg, FILE *out,
	       struct plan_stats *st, char *err, size_t errlen)
{
	struct topo t;
	struct spread sp = { 0 };
	double *cov = NULL, flows = (double)cfg->flows_per_pair;
	uint32_t *ntargets = NULL, *chosen = NULL;
	uint64_t rng = (uint64_t)cfg->seed * 0x2545F4914F6CDD1Dull + 7;
	int rc = -1, added;

	memset(st, 0, sizeof(*st));
	if (topo_build(&t, inv) < 0) {
		snprintf(err, errlen, "out of memory reading the topology");
		goto out;
	}
	if (t.nhosts < 2) {
		snprintf(err, errlen, "the inventory's link lines show fewer than two hosts "
				      "(devices with a single link)");
		goto out;
	}
	if (topo_distances(&t) < 0)
		goto nomem;
	sp.mass = calloc(t.n + 1, sizeof(*sp.mass));
	sp.front = malloc((t.n + 1) * sizeof(*sp.front));
	sp.next = malloc((t.n + 1) * sizeof(*sp.next));
	sp.link = malloc((t.nlinks + 1) * sizeof(*sp.link));
	sp.p = malloc((t.nlinks + 1) * sizeof(*sp.p));
	cov = calloc(t.nlinks + 1, sizeof(*cov));
	ntargets = calloc(t.nhosts + 1, sizeof(*ntargets));
	/* each prober's targets so far: a pair is planned once (a repeat would
	 * only reuse the same flows, adding no coverage the model counted) */
	chosen = malloc(((size_t)t.nhosts * (size_t)cfg->max_targets + 1) * sizeof(*chosen));
	if (!sp.mass || !sp.front || !sp.next || !sp.link || !sp.p || !cov || !ntargets ||
	    !chosen)
		goto nomem;
	fprintf(out, "%s\n", PLAN_HEADER);
	/* rounds: each prober adds at most one target per round, so coverage
	 * spreads over probers instead of piling on the first ones */
	do {
		added = 0;
		for (uint32_t h = 0; h < t.nhosts; h++) {
			uint32_t s = t.hosts[h], best = UINT32_MAX;
			double best_gain = 0;

			if (ntargets[h] >= (uint64_t)cfg->max_targets)
				continue;
			for (long long c = 0; c < cfg->candidates; c++) {
				uint32_t d = t.hosts[plan_rng(&rng) % t.nhosts];
				double gain = 0;

				if (d == s || t.adj[t.adj_first[d]] == t.adj[t.adj_first[s]] ||
				    plan_chosen(chosen + (size_t)h * (size_t)cfg->max_targets,
						ntargets[h], d))
					continue;
				spread_pair(&t, &sp, s, d);
				for (size_t i = 0; i < sp.n; i++) {
					double want = cfg->probers_per_link - cov[sp.link[i]];

					if (want > 0)
						gain += fmin(want, pair_hit(sp.p[i], flows));
				}
				if (gain > best_gain) {
					best_gain = gain;
					best = d;
				}
			}
			/* nothing left to gain that this prober can reach */
			if (best == UINT32_MAX || best_gain < 1e-3)
				continue;
			spread_pair(&t, &sp, s, best);
			for (size_t i = 0; i < sp.n; i++)
				cov[sp.link[i]] += pair_hit(sp.p[i], flows);
			fprintf(out, "%s\t%s\t%s\t%lld\n", strtab_str(t.devs, s),
				strtab_str(t.devs, best),
				t.addr[best] ? t.addr[best] : strtab_str(t.devs, best),
				cfg->flows_per_pair);
			chosen[(size_t)h * (size_t)cfg->max_targets + ntargets[h]] = best;
			ntargets[h]++;
			st->pairs++;
			added = 1;
		}
	} while (added);
	st->hosts = t.nhosts;
	st->links = t.nlinks;
	st->flows = st->pairs * (size_t)cfg->flows_per_pair;
	for (uint32_t l = 0; l < t.nlinks; l++)
		st->links_short += cov[l] < cfg->probers_per_link - 0.5;
	rc = ferror(out) ? -1 : 0;
	if (rc < 0)
		snprintf(err, errlen, "write failed: %s", strerror(errno));
	goto out;
nomem:
	snprintf(err, errlen, "out of memory planning");
out:
	topo_free(&t);
	free(sp.mass);
	free(sp.front);
	free(sp.next);
	free(sp.link);
	free(sp.p);
	free(cov);
	free(ntargets);
	free(chosen);
	return rc;
}
