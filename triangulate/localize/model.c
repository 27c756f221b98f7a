/* Builds the probe model from an observation set: name -> device mapping,
 * the directed link set, and per-flow path alternatives for partial paths. */
#include "model.h"
#include "inventory.h"
#include "observations.h"
#include "strtab.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEV_NONE MODEL_DEV_NONE

_Static_assert(MODEL_WALK_MAX == OBS_HOPS_MAX + 2, "a walk holds every hop");

/* Open-addressing map from a 64-bit key to a 32-bit value. */
struct u64map {
	uint64_t *keys;
	uint32_t *vals; /* value + 1, 0 = empty */
	size_t nslots, count;
};

static uint64_t u64_mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

static int u64map_init(struct u64map *m, size_t hint)
{
	m->nslots = 1024;
	while (m->nslots < hint * 2)
		m->nslots *= 2;
	m->count = 0;
	m->keys = malloc(m->nslots * sizeof(*m->keys));
	m->vals = calloc(m->nslots, sizeof(*m->vals));
	return m->keys && m->vals ? 0 : -1;
}

static void u64map_fini(struct u64map *m)
{
	free(m->keys);
	free(m->vals);
}

static uint32_t *u64map_slot(struct u64map *m, uint64_t key)
{
	size_t mask = m->nslots - 1, i = u64_mix(key) & mask;

	while (m->vals[i] && m->keys[i] != key)
		i = (i + 1) & mask;
	m->keys[i] = key;
	return &m->vals[i];
}

static int u64map_grow(struct u64map *m)
{
	struct u64map n = { 0 };

	n.nslots = m->nslots * 2;
	n.keys = malloc(n.nslots * sizeof(*n.keys));
	n.vals = calloc(n.nslots, sizeof(*n.vals));
	if (!n.keys || !n.vals) {
		u64map_fini(&n);
		return -1;
	}
	for (size_t i = 0; i < m->nslots; i++)
		if (m->vals[i])
			*u64map_slot(&n, m->keys[i]) = m->vals[i];
	n.count = m->count;
	u64map_fini(m);
	*m = n;
	return 0;
}

/* Value stored under key, or UINT32_MAX. */
static uint32_t u64map_get(const struct u64map *m, uint64_t key)
{
	size_t mask = m->nslots - 1, i = u64_mix(key) & mask;

	for (; m->vals[i]; i = (i + 1) & mask)
		if (m->keys[i] == key)
			return m->vals[i] - 1;
	return UINT32_MAX;
}

/* A silent flow's candidate links, for the choice of what killed it: each
 * link on its forward routes or on its replies' reverse routes, with the
 * share a of those routes that cross it. */
struct silent_cand {
	uint32_t link;
	float af, ar; /* share of its forward routes, of its reverse routes */
	uint64_t rev_key; /* which reverse routes cross it: a sum of their
			   * hashed indices, equal for links on the same ones */
};

struct silent_cands {
	struct silent_cand *v;
	size_t n, cap;
	uint32_t *first;   /* per silent flow (in order): its first entry */
	uint32_t *flow;    /* ... and the flow */
	int32_t *by;       /* ... the link chosen to explain it, -1 none (its
			    * forward routes), SILENT_LEFT_OUT */
	uint8_t *by_rev;   /* ... through its replies */
	size_t nflows, capflows;
};

/* A direct-mapped cache in front of the links' map: the model looks up a
 * link for every hop of every flow (millions of times) among a fabric's
 * few hundred or thousand links, and link ids never change once made. */
#define LINK_CACHE_SLOTS 4096
struct link_cache {
	uint64_t key[LINK_CACHE_SLOTS];
	uint32_t id[LINK_CACHE_SLOTS]; /* link id + 1, 0 empty */
};

struct builder {
	struct model *m;
	struct u64map links; /* (from << 32 | to) -> link id */
	struct link_cache *link_cache; /* in front of links */
	size_t cap_links, cap_alts, cap_alt_links;
	uint32_t *succ_first, *succ; /* CSR adjacency over links: link ids */
	uint32_t *link_flows, *link_silent; /* per link: known-path flows, silent */
	uint32_t nlinks_counted; /* links when those were counted */
	double *lived_rev; /* per link: flows that lived whose replies may cross it,
			    * each counted by the share of its reply routes that do */
	uint32_t ninv_links;  /* links [0, ninv_links) came from the inventory */
	uint8_t *inv_dev;     /* per device: an end of an inventory link */
	uint8_t *cut;         /* per flow: its trace stopped short of the target */
	uint32_t *dist, *queue; /* per device: BFS scratch */
	struct u64map dist_cache; /* (from << 32 | to) -> route length */
	struct u64map pair_map;  /* (prober << 32 | target) -> pair id */
	uint32_t *pair_first, *pair_flows; /* per pair: flows on one whole path */
	uint32_t *rroutes; /* REPLY_ROUTES_MAX reverse routes of one flow */
	uint32_t *pred_first, *pred, pred_nlinks; /* CSR by link end: from devices */
	uint32_t *togo, togo_goal, togo_nlinks;   /* builder_togo's last answer */
	struct silent_cands sc; /* the silent flows' candidate links */
};

static int64_t builder_dev(struct builder *b, const char *name)
{
	int64_t id = strtab_intern(b->m->devs, name, strlen(name));

	if (id >= 0 && (uint32_t)id >= b->m->ndevs) {
		uint32_t n = (uint32_t)id + 1;
		uint8_t *t = realloc(b->m->dev_transit, n);
		uint8_t *e;

		if (!t)
			return -1;
		b->m->dev_transit = t;
		e = realloc(b->m->dev_endpoint, n);
		if (!e)
			return -1;
		b->m->dev_endpoint = e;
		t[id] = 0;
		e[id] = 0;
		b->m->ndevs = n;
	}
	return id;
}

static inline size_t link_cache_slot(uint32_t from, uint32_t to)
{
	return ((from * 2654435761u) ^ to) % LINK_CACHE_SLOTS;
}

/* The id of link from -> to, or UINT32_MAX when there is none (yet). */
static inline uint32_t builder_link_find(const struct builder *b, uint32_t from, uint32_t to)
{
	uint64_t key = (uint64_t)from << 32 | to;
	size_t i = link_cache_slot(from, to);
	uint32_t l;

	if (b->link_cache->id[i] && b->link_cache->key[i] == key)
		return b->link_cache->id[i] - 1;
	l = u64map_get(&b->links, key);
	if (l != UINT32_MAX) {
		b->link_cache->key[i] = key;
		b->link_cache->id[i] = l + 1;
	}
	return l;
}

static int64_t builder_link(struct builder *b, uint32_t from, uint32_t to)
{
	struct model *m = b->m;
	uint32_t l = builder_link_find(b, from, to), *slot;

	if (l != UINT32_MAX)
		return l;
	slot = u64map_slot(&b->links, (uint64_t)from << 32 | to);
	if (*slot)
		return *slot - 1;
	if (m->nlinks == b->cap_links) {
		size_t cap = b->cap_links ? b->cap_links * 2 : 1024;
		uint32_t *f = realloc(m->link_from, cap * sizeof(*f)), *t;

		if (!f)
			return -1;
		m->link_from = f;
		t = realloc(m->link_to, cap * sizeof(*t));
		if (!t)
			return -1;
		m->link_to = t;
		b->cap_links = cap;
	}
	m->link_from[m->nlinks] = from;
	m->link_to[m->nlinks] = to;
	*slot = ++m->nlinks;
	b->links.count++;
	if (b->links.count * 2 > b->links.nslots && u64map_grow(&b->links) < 0)
		return -1;
	return m->nlinks - 1;
}

static int builder_alt_add(struct builder *b, uint32_t flow, const uint32_t *links,
			   uint32_t n)
{
	struct model *m = b->m;
	struct model_alt *a;

	if (m->nalts == b->cap_alts) {
		size_t cap = b->cap_alts ? b->cap_alts + b->cap_alts / 2 : 4096;

		if (!(a = realloc(m->alts, cap * sizeof(*a))))
			return -1;
		m->alts = a;
		b->cap_alts = cap;
	}
	if (m->nalt_links + n > b->cap_alt_links) {
		size_t cap = b->cap_alt_links ? b->cap_alt_links + b->cap_alt_links / 2 : 16384;
		uint32_t *l;

		while (cap < m->nalt_links + n)
			cap *= 2;
		if (cap > UINT32_MAX || !(l = realloc(m->alt_links, cap * sizeof(*l))))
			return -1;
		m->alt_links = l;
		b->cap_alt_links = cap;
	}
	a = &m->alts[m->nalts++];
	a->link_first = (uint32_t)m->nalt_links;
	a->nlinks = n;
	a->flow = flow;
	a->weight = 1;
	memcpy(m->alt_links + m->nalt_links, links, n * sizeof(*links));
	m->nalt_links += n;
	return 0;
}

/* Room for one alternative per flow and its links (at most its hops and
 * one more): most flows have one, so the arrays grow rarely, and never
 * copy the bulk of them. */
static int builder_alts_reserve(struct builder *b, const struct obs_set *obs)
{
	struct model *m = b->m;
	size_t nlinks = 0;

	for (size_t i = 0; i < m->nflows; i++) {
		const struct obs_flow *f = obs_set_flow(obs, i);

		nlinks += f->nhops == OBS_PATH_UNKNOWN ? 0 : f->nhops + 1;
	}
	b->cap_alts = m->nflows + 1;
	b->cap_alt_links = nlinks + 1;
	m->alts = malloc(b->cap_alts * sizeof(*m->alts));
	m->alt_links = malloc(b->cap_alt_links * sizeof(*m->alt_links));
	return m->alts && m->alt_links ? 0 : -1;
}

uint32_t model_flow_walk(const struct obs_set *obs, const struct obs_flow *f,
			 const uint32_t *name_dev, uint32_t *seq)
{
	const uint32_t *hops = obs_set_flow_hops(obs, f);
	uint32_t n = 0;

	seq[n++] = name_dev[f->prober];
	for (uint32_t i = 0; hops && i < f->nhops; i++) {
		uint32_t d = hops[i] == OBS_HOP_STAR ? DEV_NONE : name_dev[hops[i]];

		if (d != DEV_NONE && d == seq[n - 1])
			continue;
		seq[n++] = d;
	}
	if (name_dev[f->target] != seq[n - 1])
		seq[n++] = name_dev[f->target];
	return n;
}

/* Adjacency lists (CSR by source device) over the links known so far. */
static int builder_adjacency(struct builder *b)
{
	struct model *m = b->m;

	b->succ_first = calloc(m->ndevs + 1, sizeof(*b->succ_first));
	b->succ = malloc((m->nlinks + 1) * sizeof(*b->succ));
	if (!b->succ_first || !b->succ)
		return -1;
	for (uint32_t l = 0; l < m->nlinks; l++)
		b->succ_first[m->link_from[l] + 1]++;
	for (uint32_t d = 0; d < m->ndevs; d++)
		b->succ_first[d + 1] += b->succ_first[d];
	for (uint32_t l = 0; l < m->nlinks; l++)
		b->succ[b->succ_first[m->link_from[l]]++] = l;
	for (uint32_t d = m->ndevs; d > 0; d--)
		b->succ_first[d] = b->succ_first[d - 1];
	b->succ_first[0] = 0;
	return 0;
}

/* Does the route so far (cur[0..level), from the device it left first,
 * dev when level is 0) already visit device y? */
static int route_visits(const struct model *m, const uint32_t *cur, uint32_t level,
			uint32_t dev, uint32_t y)
{
	if (y == (level ? m->link_from[cur[0]] : dev))
		return 1;
	for (uint32_t k = 0; k < level; k++)
		if (m->link_to[cur[k]] == y)
			return 1;
	return 0;
}

/* Enumerate routes of exactly `depth` links from dev to `goal` over known
 * links, appending each route's links to out (stride depth). A route visits
 * each device once: ECMP forwards over loop-free routes, and a "*" run
 * longer than the gap it spans (a trace whose late answers shifted its
 * TTLs) was filled with loops through a ToR. Stops counting past max. togo
 * (or NULL) bounds each device's links to goal from below: branches that
 * cannot reach goal in time are cut (the same routes, in the same order;
 * deep searches otherwise walk every dead end of the fabric). */
static void star_routes(const struct builder *b, const uint32_t *togo, uint32_t dev,
			uint32_t goal, uint32_t depth, uint32_t *cur, uint32_t level,
			uint32_t *out, uint32_t *nout, uint32_t max)
{
	const struct model *m = b->m;

	if (*nout > max)
		return;
	if (level == depth) {
		if (dev == goal) {
			if (*nout < max)
				memcpy(out + (size_t)*nout * depth, cur,
				       depth * sizeof(*cur));
			(*nout)++;
		}
		return;
	}
	if (level + 1 == depth) {
		/* the last link is looked up, not searched */
		uint32_t l = builder_link_find(b, dev, goal);

		if (l != UINT32_MAX && !route_visits(m, cur, level, dev, goal)) {
			cur[level] = l;
			star_routes(b, togo, goal, goal, depth, cur, depth, out, nout, max);
		}
		return;
	}
	for (uint32_t i = b->succ_first[dev]; i < b->succ_first[dev + 1]; i++) {
		uint32_t l = b->succ[i];

		if (m->dev_endpoint[m->link_to[l]] && !m->dev_transit[m->link_to[l]])
			continue; /* hosts do not forward */
		if (togo && togo[m->link_to[l]] > depth - level - 1)
			continue; /* no route of the links left reaches goal */
		if (route_visits(m, cur, level, dev, m->link_to[l]))
			continue;
		cur[level] = l;
		star_routes(b, togo, m->link_to[l], goal, depth, cur, level + 1, out,
			    nout, max);
	}
}

#define SEQ_MAX MODEL_WALK_MAX
#define REPLY_ROUTES_MAX 1024 /* a silent flow's reverse routes, listed */

/* A flow's routes: the product of each "*" gap's routes over known links,
 * as ncombo link lists in combos (lens[c] links each, the same for all). A
 * gap no loop-free route of its length spans takes the shortest routes
 * between its ends: its hops answered, but its count of silent hops is
 * wrong. Returns ncombo, 0 when unresolvable or over MODEL_ALTS_MAX, -1
 * out of memory. */
typedef uint32_t route_list[SEQ_MAX];

static uint32_t builder_distance(struct builder *b, uint32_t dev, uint32_t goal);

static int flow_star_routes(struct builder *b, const uint32_t *seq, uint32_t n,
			    route_list *combos, uint32_t *lens)
{
	uint32_t ncombo = 1;

	lens[0] = 0;
	for (uint32_t i = 0; i + 1 < n;) {
		uint32_t j = i + 1, routes[MODEL_ALTS_MAX * SEQ_MAX], cur[SEQ_MAX];
		uint32_t nr = 0, depth;

		while (seq[j] == DEV_NONE)
			j++;
		depth = j - i;
		if (depth == 1) {
			int64_t l = builder_link(b, seq[i], seq[j]);

			if (l < 0)
				return -1;
			routes[0] = (uint32_t)l;
			nr = 1;
		} else {
			uint32_t d;

			star_routes(b, NULL, seq[i], seq[j], depth, cur, 0, routes, &nr,
				    MODEL_ALTS_MAX);
			if (!nr && (d = builder_distance(b, seq[i], seq[j])) && d < depth) {
				depth = d;
				star_routes(b, NULL, seq[i], seq[j], depth, cur, 0, routes, &nr,
					    MODEL_ALTS_MAX);
			}
		}
		if (nr == 0 || nr > MODEL_ALTS_MAX || ncombo * nr > MODEL_ALTS_MAX)
			return 0;
		/* extend every partial combination by every route of this gap */
		for (uint32_t c = ncombo; c-- > 0;) {
			for (uint32_t r = nr; r-- > 0;) {
				uint32_t k = c * nr + r;

				if (k != c)
					memcpy(combos[k], combos[c], lens[c] * sizeof(uint32_t));
				memcpy(combos[k] + lens[c], routes + (size_t)r * depth,
				       depth * sizeof(uint32_t));
				lens[k] = lens[c] + depth;
			}
		}
		ncombo *= nr;
		i = j;
	}
	return (int)ncombo;
}

/* The shortest route length, in links, from dev to goal over known links
 * with no host in between (ECMP routes are shortest routes); 0 when none
 * is shorter than SEQ_MAX. Cached per pair. */
static uint32_t builder_distance(struct builder *b, uint32_t dev, uint32_t goal)
{
	const struct model *m = b->m;
	uint64_t key = (uint64_t)dev << 32 | goal;
	uint32_t got = u64map_get(&b->dist_cache, key), head = 0, tail = 0, d = 0;

	if (got != UINT32_MAX)
		return got;
	for (uint32_t i = 0; i < m->ndevs; i++)
		b->dist[i] = UINT32_MAX;
	b->dist[dev] = 0;
	b->queue[tail++] = dev;
	while (head < tail && !d) {
		uint32_t x = b->queue[head++];

		if (b->dist[x] + 1 >= SEQ_MAX)
			break;
		for (uint32_t i = b->succ_first[x]; i < b->succ_first[x + 1]; i++) {
			uint32_t y = m->link_to[b->succ[i]];

			if (b->dist[y] != UINT32_MAX)
				continue;
			b->dist[y] = b->dist[x] + 1;
			if (y == goal) {
				d = b->dist[y];
				break;
			}
			if (m->dev_endpoint[y] && !m->dev_transit[y])
				continue; /* hosts do not forward */
			b->queue[tail++] = y;
		}
	}
	*u64map_slot(&b->dist_cache, key) = d + 1;
	if (++b->dist_cache.count * 2 > b->dist_cache.nslots && u64map_grow(&b->dist_cache) < 0)
		return 0;
	return d;
}

/* A flow's forward routes (see flow_star_routes) and its whole path's
 * length in links. A trace that stopped short of the target (b->cut)
 * gives only the routes beyond its last answered hop: the flow's probes
 * crossed the links before it, so its loss lies beyond. */
static int flow_fwd_routes(struct builder *b, const uint32_t *seq, uint32_t n, int cut,
			   route_list *combos, uint32_t *lens, uint32_t *len)
{
	uint32_t d, gap[SEQ_MAX];

	*len = n - 1;
	if (!cut || !(d = builder_distance(b, seq[n - 2], seq[n - 1]))) {
		int got = flow_star_routes(b, seq, n, combos, lens);

		if (got > 0)
			*len = lens[0]; /* a gap may have taken shorter routes */
		return got;
	}
	gap[0] = seq[n - 2];
	for (uint32_t k = 1; k < d; k++)
		gap[k] = DEV_NONE;
	gap[d] = seq[n - 1];
	*len = n - 2 + d;
	return flow_star_routes(b, gap, d + 1, combos, lens);
}

/* The device a name stands for: the inventory's, else the name itself. */
static const char *model_name_dev(const struct inventory *inv, const char *name)
{
	const char *dev = inv ? inventory_device_find(inv, name) : NULL;

	return dev ? dev : name;
}

int model_name_devs(const struct obs_set *obs, const struct inventory *inv,
		    struct strtab *devs, uint32_t *name_dev)
{
	for (uint32_t i = 0; i < obs_set_name_count(obs); i++) {
		const char *dev = model_name_dev(inv, obs_set_name(obs, i));
		int64_t d = strtab_intern(devs, dev, strlen(dev));

		if (d < 0) {
			errno = ENOMEM;
			return -1;
		}
		name_dev[i] = (uint32_t)d;
	}
	return 0;
}

uint32_t model_flow_links(const struct obs_set *obs, const struct obs_flow *f,
			  const uint32_t *name_dev, uint32_t *from, uint32_t *to)
{
	uint32_t seq[MODEL_WALK_MAX], n, k = 0;

	if (f->nhops == OBS_PATH_UNKNOWN)
		return 0;
	n = model_flow_walk(obs, f, name_dev, seq);
	for (uint32_t i = 0; i + 1 < n; i++) {
		if (seq[i] == DEV_NONE || seq[i + 1] == DEV_NONE)
			continue;
		from[k] = seq[i];
		to[k++] = seq[i + 1];
	}
	return k;
}

/* Per link: flows over it (known paths) and the silent ones among them. */
static int builder_silent_count(struct builder *b, const struct obs_set *obs,
				const uint32_t *name_dev)
{
	const struct model *m = b->m;
	uint32_t seq[SEQ_MAX];

	b->link_flows = calloc(m->nlinks + 1, sizeof(*b->link_flows));
	b->link_silent = calloc(m->nlinks + 1, sizeof(*b->link_silent));
	if (!b->link_flows || !b->link_silent)
		return -1;
	b->nlinks_counted = m->nlinks;
	for (size_t i = 0; i < m->nflows; i++) {
		const struct obs_flow *of = obs_set_flow(obs, i);
		uint32_t n;
		int silent;

		if (of->nhops == OBS_PATH_UNKNOWN)
			continue;
		n = model_flow_walk(obs, of, name_dev, seq);
		silent = model_flow_silent(&m->flows[i]); /* once per flow, not per link */
		for (uint32_t k = 0; k + 1 < n; k++) {
			uint32_t l;

			if (seq[k] == DEV_NONE || seq[k + 1] == DEV_NONE ||
			    (l = builder_link_find(b, seq[k], seq[k + 1])) == UINT32_MAX)
				continue;
			b->link_flows[l]++;
			b->link_silent[l] += silent;
		}
	}
	return 0;
}

int model_flow_silent(const struct model_flow *f)
{
	/* Random loss thins a flow: below tens of percent an interval of
	 * ten probes half lost is rare, and half of a flow's loss in such
	 * intervals rarer still. A flow that went dark was killed (or lost
	 * its replies) from a moment on, and read by its loss ratio alone it
	 * would be charged to its forward path while the fault begins or
	 * ends inside the window. */
	if (f->lost_dark >= MODEL_SILENT_MIN_SENT && f->lost_dark * 2 >= f->lost)
		return 1;
	return f->sent >= MODEL_SILENT_MIN_SENT && f->lost * 10 >= f->sent * 9;
}

/* The chance that a flow dies with no blackhole on its routes (a host or
 * responder going away): what a blackhole's explanation is weighed against. */
#define SILENT_ALONE 1e-3

/* A silent flow no link explains apart from another that would put it
 * elsewhere (silent_choose): not fit at all. */
#define SILENT_LEFT_OUT (-2)

/* The key of reverse route (or reply sample) r of a flow, summed per link
 * into silent_cand.rev_key. */
static uint64_t silent_route_key(uint32_t r)
{
	uint64_t x = 0x9E3779B97F4A7C15ull * (r + 1);

	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

/* Add link l with its forward and reverse shares to the open flow's
 * candidates (the entries from first[nflows - 1] on); key: the reverse
 * route's silent_route_key, 0 for a forward route. */
static int silent_cand_add(struct silent_cands *sc, uint32_t l, double af, double ar,
			   uint64_t key)
{
	for (size_t e = sc->first[sc->nflows - 1]; e < sc->n; e++) {
		if (sc->v[e].link != l)
			continue;
		sc->v[e].af += (float)af;
		sc->v[e].ar += (float)ar;
		sc->v[e].rev_key += key;
		return 0;
	}
	if (sc->n == sc->cap) {
		size_t cap = sc->cap ? sc->cap * 2 : 1024;
		struct silent_cand *v = realloc(sc->v, cap * sizeof(*v));

		if (!v)
			return -1;
		sc->v = v;
		sc->cap = cap;
	}
	sc->v[sc->n++] = (struct silent_cand){ l, (float)af, (float)ar, key };
	return 0;
}

/* Open a silent flow's entry and add its forward routes' links and its
 * replies' routes' links, each with the share of its routes crossing it. */
static int silent_cands_flow(struct silent_cands *sc, uint32_t flow, const route_list *fwd,
			     const uint32_t *flens, uint32_t nf, const uint32_t *rev,
			     uint32_t nr, uint32_t rlen)
{
	if (sc->nflows == sc->capflows) {
		size_t cap = sc->capflows ? sc->capflows * 2 : 256;
		uint32_t *first = realloc(sc->first, cap * sizeof(*first)), *fl;
		int32_t *by;
		uint8_t *br;

		if (!first)
			return -1;
		sc->first = first;
		if (!(fl = realloc(sc->flow, cap * sizeof(*fl))))
			return -1;
		sc->flow = fl;
		if (!(by = realloc(sc->by, cap * sizeof(*by))))
			return -1;
		sc->by = by;
		if (!(br = realloc(sc->by_rev, cap)))
			return -1;
		sc->by_rev = br;
		sc->capflows = cap;
	}
	sc->first[sc->nflows] = (uint32_t)sc->n;
	sc->flow[sc->nflows] = flow;
	sc->by[sc->nflows] = -1;
	sc->by_rev[sc->nflows] = 0;
	sc->nflows++;
	for (uint32_t c = 0; c < nf; c++)
		for (uint32_t k = 0; k < flens[c]; k++)
			if (silent_cand_add(sc, fwd[c][k], 1.0 / nf, 0, 0) < 0)
				return -1;
	for (uint32_t r = 0; r < nr; r++)
		for (uint32_t k = 0; k < rlen; k++)
			if (silent_cand_add(sc, rev[(size_t)r * rlen + k], 0, 1.0 / nr,
					    silent_route_key(r)) < 0)
				return -1;
	return 0;
}

/* The replies of the flows that lived: per link, how many of them may have
 * crossed it, so a link on many replies' routes is not taken for a
 * blackhole for the few silent flows it could explain. The replies of the
 * flows from P to T take the routes from T to P, and the flows probed from
 * T to P sample those routes as ECMP spreads them: each lived P -> T flow
 * adds to a link the share of the T -> P flows' paths (fully known, not
 * silent) that cross it. A pair never probed the other way adds nothing
 * (enumerating every route of every pair costs seconds at scale). Only
 * when some flow is silent. */
static int builder_reply_exposure(struct builder *b, const struct obs_set *obs)
{
	const struct model *m = b->m;
	struct u64map pairs = { 0 };
	uint32_t *lived = NULL, *seen = NULL, *fpair = NULL, ng = 0;
	int rc = -1;

	if (!b->sc.nflows)
		return 0;
	b->lived_rev = calloc(m->nlinks + 1, sizeof(*b->lived_rev));
	lived = calloc(m->nflows + 1, sizeof(*lived)); /* per pair: P -> T flows that lived */
	seen = calloc(m->nflows + 1, sizeof(*seen));   /* ... known-path flows of the pair */
	fpair = malloc((m->nflows + 1) * sizeof(*fpair));
	if (!b->lived_rev || !lived || !seen || !fpair || u64map_init(&pairs, 1024) < 0)
		goto out;
	for (size_t i = 0; i < m->nflows; i++) {
		const struct model_flow *f = &m->flows[i];
		uint32_t *slot = u64map_slot(&pairs, (uint64_t)f->prober_dev << 32 | f->target_dev);

		if (!*slot) {
			*slot = ++ng;
			if (++pairs.count * 2 > pairs.nslots && u64map_grow(&pairs) < 0)
				goto out;
		}
		fpair[i] = *slot - 1;
		if (!f->nalt)
			continue; /* silent (waiting) or unplaced */
		lived[fpair[i]]++;
		seen[fpair[i]] += f->nalt == 1 && !b->cut[i] &&
				  obs_set_flow(obs, i)->nhops != OBS_PATH_UNKNOWN;
	}
	for (size_t i = 0; i < m->nflows; i++) {
		const struct model_flow *f = &m->flows[i];
		const struct model_alt *al;
		uint32_t rev;
		double share;

		if (f->nalt != 1 || b->cut[i] || obs_set_flow(obs, i)->nhops == OBS_PATH_UNKNOWN)
			continue;
		rev = u64map_get(&pairs, (uint64_t)f->target_dev << 32 | f->prober_dev);
		if (rev == UINT32_MAX || !lived[rev])
			continue;
		share = (double)lived[rev] / seen[fpair[i]];
		al = &m->alts[f->alt_first];
		for (uint32_t k = 0; k < al->nlinks; k++)
			b->lived_rev[m->alt_links[al->link_first + k]] += share;
	}
	rc = 0;
out:
	u64map_fini(&pairs);
	free(lived);
	free(seen);
	free(fpair);
	return rc;
}

/* Per (prober, target) pair, its flows placed on one whole path in pass 1:
 * samples of the routes ECMP gives the pair, and so of the routes the
 * replies of the opposite pair take. */
static int builder_pairs_index(struct builder *b)
{
	const struct model *m = b->m;
	uint32_t *pid = malloc((m->nflows + 1) * sizeof(*pid)), np = 0;
	int rc = -1;

	if (!pid || u64map_init(&b->pair_map, 1024) < 0)
		goto out;
	for (size_t i = 0; i < m->nflows; i++) {
		const struct model_flow *f = &m->flows[i];
		uint32_t *slot;

		pid[i] = UINT32_MAX;
		if (f->nalt != 1)
			continue;
		slot = u64map_slot(&b->pair_map, (uint64_t)f->prober_dev << 32 | f->target_dev);
		if (!*slot) {
			*slot = ++np;
			if (++b->pair_map.count * 2 > b->pair_map.nslots &&
			    u64map_grow(&b->pair_map) < 0)
				goto out;
		}
		pid[i] = *slot - 1;
	}
	b->pair_first = calloc(np + 2, sizeof(*b->pair_first));
	b->pair_flows = malloc((m->nflows + 1) * sizeof(*b->pair_flows));
	if (!b->pair_first || !b->pair_flows)
		goto out;
	for (size_t i = 0; i < m->nflows; i++)
		if (pid[i] != UINT32_MAX)
			b->pair_first[pid[i] + 2]++;
	for (uint32_t p = 0; p < np; p++)
		b->pair_first[p + 2] += b->pair_first[p + 1];
	for (size_t i = 0; i < m->nflows; i++)
		if (pid[i] != UINT32_MAX)
			b->pair_flows[b->pair_first[pid[i] + 1]++] = (uint32_t)i;
	rc = 0;
out:
	free(pid);
	return rc;
}

#define REPLY_SAMPLES_MAX 64

/* A silent flow whose reverse routes are too many to list: its reply
 * candidates are the paths of the flows probed the other way (up to
 * REPLY_SAMPLES_MAX), each link weighed by the share of them crossing it.
 * Adds to the flow opened last; none when the pair is not probed back. */
static int silent_reply_samples(struct builder *b, uint32_t prober, uint32_t target)
{
	const struct model *m = b->m;
	uint32_t p = u64map_get(&b->pair_map, (uint64_t)target << 32 | prober), n;

	if (!b->pair_first || p == UINT32_MAX)
		return 0;
	n = b->pair_first[p + 1] - b->pair_first[p];
	if (n > REPLY_SAMPLES_MAX)
		n = REPLY_SAMPLES_MAX;
	for (uint32_t k = 0; k < n; k++) {
		const struct model_flow *f = &m->flows[b->pair_flows[b->pair_first[p] + k]];
		const struct model_alt *al = &m->alts[f->alt_first];

		for (uint32_t j = 0; j < al->nlinks; j++)
			if (silent_cand_add(&b->sc, m->alt_links[al->link_first + j], 0, 1.0 / n,
					    silent_route_key(k)) < 0)
				return -1;
	}
	return 0;
}

/* The odds by which the link named for silent flows must explain them
 * better than any other link that would fit them elsewhere, as a log:
 * 19 to 1, the chosen fit 95% likely against that one. */
#define SILENT_MARGIN 2.9444389791664403

/* What a candidate link puts its flow on if chosen: 0 for the flow's
 * forward routes (the same whichever forward link is chosen), else the
 * reverse routes through it (its rev_key, made odd to differ from 0). */
static uint64_t silent_cand_fit(const struct silent_cand *c)
{
	return c->af > 0 ? 0 : c->rev_key | 1;
}

/* What killed the silent flows: a flow none of whose probes was answered
 * (or, the fault starting inside the window, none after its first few) died
 * on its forward route or its replies died on their reverse route, the
 * reverse 5-tuple's own ECMP path, which no trace shows: both are its
 * candidates. Each link is a hypothesis "a blackhole here kills a share q of
 * the flows crossing it", and the links are chosen greedily by likelihood
 * ratio against the flows dying alone (SILENT_ALONE): the silent flows it
 * explains, each weighted by the share of its routes that cross the link,
 * against the flows that cross it forward and lived. One blackhole that
 * explains both the flows it killed and those whose replies it ate beats
 * the forward links of the latter, whatever their own shares of silent
 * flows. A flow explained through its replies is fit on them
 * (model_build), its forward path is not charged.
 * A flow is put on its replies' routes through the chosen link only when
 * that link leads by SILENT_MARGIN every other link that would fit it
 * elsewhere (on other reverse routes, or forward): a few flows whose
 * replies died, the killed flows' paths unknown, fit every reverse route
 * alike, and the flows that lived decided between them by noise
 * (test_watch_faults named a blackhole on another spine as one ended).
 * Such a flow is left out, not fit: charged forward it would name its
 * forward links, and no one reverse route is known. Links that fit every
 * shared flow alike (two links of one route) are one choice, no rivals. A
 * flow the chosen link explains forward keeps its forward routes, where
 * its probes went, as before. */
static int silent_choose(struct builder *b)
{
	struct silent_cands *sc = &b->sc;
	const struct model *m = b->m;
	double *k = malloc((m->nlinks + 1) * sizeof(*k));
	double *suma = malloc((m->nlinks + 1) * sizeof(*suma));
	double *score = malloc((m->nlinks + 1) * sizeof(*score));
	uint8_t *rival = malloc(m->nlinks + 1);
	int rc = -1;

	if (!k || !suma || !score || !rival)
		goto out;
	for (size_t iter = 0; iter < sc->nflows; iter++) {
		double best_v = 0;
		int64_t best = -1;
		size_t nrival = 0, nleft = 0;

		memset(k, 0, m->nlinks * sizeof(*k));
		memset(suma, 0, m->nlinks * sizeof(*suma));
		for (size_t j = 0; j < sc->nflows; j++) {
			size_t end = j + 1 < sc->nflows ? sc->first[j + 1] : sc->n;

			if (sc->by[j] != -1)
				continue;
			for (size_t e = sc->first[j]; e < end; e++) {
				const struct silent_cand *c = &sc->v[e];
				double a = fmin(1, c->af + c->ar - c->af * c->ar);

				k[c->link]++;
				suma[c->link] += log(a / SILENT_ALONE);
			}
		}
		for (uint32_t l = 0; l < m->nlinks; l++) {
			double lived, q, v;

			score[l] = 0;
			if (k[l] < 2)
				continue;
			lived = l < b->nlinks_counted ? b->link_flows[l] - b->link_silent[l] : 0;
			/* a flow that lived with its reply crossing l w.p. phi adds
			 * about phi log(1 - q): exact at phi 0 and 1 */
			lived += b->lived_rev ? b->lived_rev[l] : 0;
			q = k[l] / (k[l] + lived);
			v = k[l] * log(q) + (lived > 0 ? lived * log1p(-q) : 0) + suma[l];
			score[l] = v;
			if (v > best_v) {
				best_v = v;
				best = l;
			}
		}
		if (best < 0)
			break;
		/* a link explaining the flows worse than dying alone is no rival */
		for (uint32_t l = 0; l < m->nlinks; l++) {
			rival[l] = l != (uint32_t)best && score[l] > 0 &&
				   best_v - score[l] < SILENT_MARGIN;
			nrival += rival[l];
		}
		for (size_t j = 0; nrival && j < sc->nflows; j++) {
			size_t end = j + 1 < sc->nflows ? sc->first[j + 1] : sc->n, e;
			uint64_t fit;

			if (sc->by[j] != -1)
				continue;
			for (e = sc->first[j]; e < end && sc->v[e].link != (uint32_t)best; e++)
				;
			if (e == end)
				continue;
			fit = silent_cand_fit(&sc->v[e]);
			if (!fit)
				continue; /* forward: where its probes went */
			for (e = sc->first[j]; e < end; e++)
				if (rival[sc->v[e].link] && silent_cand_fit(&sc->v[e]) != fit)
					break;
			if (e < end) {
				sc->by[j] = SILENT_LEFT_OUT;
				nleft++;
			}
		}
		if (nleft)
			continue; /* the rest chosen again without them */
		for (size_t j = 0; j < sc->nflows; j++) {
			size_t end = j + 1 < sc->nflows ? sc->first[j + 1] : sc->n;

			if (sc->by[j] != -1)
				continue;
			for (size_t e = sc->first[j]; e < end; e++) {
				if (sc->v[e].link != (uint32_t)best)
					continue;
				sc->by[j] = (int32_t)best;
				sc->by_rev[j] = sc->v[e].af == 0;
				break;
			}
		}
	}
	rc = 0;
out:
	free(k);
	free(suma);
	free(score);
	free(rival);
	return rc;
}

/* Links from each device to goal at the fewest, over every link known now
 * in either's direction of travel and through hosts too (a lower bound of
 * any route star_routes walks), by a breadth-first search back from goal;
 * kept for the next call with the same goal and links. NULL: no memory. */
static const uint32_t *builder_togo(struct builder *b, uint32_t goal)
{
	const struct model *m = b->m;
	uint32_t head = 0, tail = 0;

	if (b->togo && b->togo_goal == goal && b->togo_nlinks == m->nlinks)
		return b->togo;
	if (!b->pred_first || b->pred_nlinks != m->nlinks) {
		/* links added since: the predecessor lists again (CSR by to) */
		free(b->pred_first);
		free(b->pred);
		b->pred_first = calloc(m->ndevs + 2, sizeof(*b->pred_first));
		b->pred = malloc((m->nlinks + 1) * sizeof(*b->pred));
		if (!b->pred_first || !b->pred)
			return NULL;
		for (uint32_t l = 0; l < m->nlinks; l++)
			b->pred_first[m->link_to[l] + 2]++;
		for (uint32_t d = 0; d < m->ndevs; d++)
			b->pred_first[d + 2] += b->pred_first[d + 1];
		for (uint32_t l = 0; l < m->nlinks; l++)
			b->pred[b->pred_first[m->link_to[l] + 1]++] = m->link_from[l];
		b->pred_nlinks = m->nlinks;
	}
	if (!b->togo && !(b->togo = malloc((m->ndevs + 1) * sizeof(*b->togo))))
		return NULL;
	for (uint32_t d = 0; d < m->ndevs; d++)
		b->togo[d] = UINT32_MAX;
	b->togo[goal] = 0;
	b->queue[tail++] = goal;
	while (head < tail) {
		uint32_t y = b->queue[head++];

		for (uint32_t i = b->pred_first[y]; i < b->pred_first[y + 1]; i++) {
			uint32_t x = b->pred[i];

			if (b->togo[x] != UINT32_MAX)
				continue;
			b->togo[x] = b->togo[y] + 1;
			b->queue[tail++] = x;
		}
	}
	b->togo_goal = goal;
	b->togo_nlinks = m->nlinks;
	return b->togo;
}

/* The reverse routes of a flow whose whole path is len links long: every
 * route of that length from target to prober over known links, into the
 * builder's buffer b->rroutes (stride len). Returns their number (0 when
 * none or over REPLY_ROUTES_MAX, UINT32_MAX out of memory). Only silent flows list them, so a 48-ary
 * fabric's 576 routes per pair are affordable here. */
static uint32_t flow_reply_routes(struct builder *b, uint32_t prober, uint32_t target,
				  uint32_t len)
{
	uint32_t cur[SEQ_MAX], nr = 0;
	const uint32_t *togo = builder_togo(b, prober);

	if (!togo)
		return UINT32_MAX;
	star_routes(b, togo, target, prober, len, cur, 0, b->rroutes, &nr, REPLY_ROUTES_MAX);
	return nr > REPLY_ROUTES_MAX ? 0 : nr;
}

/* The one path a flow explained through its replies is fit on: the links
 * common to every reverse route through the link that explains it (what
 * the reply crossed for certain, given that link). */
static int flow_reply_alt_add(struct builder *b, uint32_t flow, uint32_t by, const uint32_t *routes,
			      uint32_t nr, uint32_t len)
{
	uint32_t common[SEQ_MAX], nc = 0;
	int first = 1;

	for (uint32_t r = 0; r < nr; r++) {
		const uint32_t *rt = routes + (size_t)r * len;
		uint32_t k, keep = 0;

		for (k = 0; k < len && rt[k] != by; k++)
			;
		if (k == len)
			continue;
		if (first) {
			memcpy(common, rt, len * sizeof(*rt));
			nc = len;
			first = 0;
			continue;
		}
		for (uint32_t i = 0; i < nc; i++) {
			for (k = 0; k < len && rt[k] != common[i]; k++)
				;
			if (k < len)
				common[keep++] = common[i];
		}
		nc = keep;
	}
	if (!nc) {
		common[0] = by;
		nc = 1;
	}
	return builder_alt_add(b, flow, common, nc);
}

void model_free(struct model *m)
{
	if (!m)
		return;
	strtab_free(m->devs);
	free(m->dev_transit);
	free(m->dev_endpoint);
	free(m->link_from);
	free(m->link_to);
	free(m->flows);
	free(m->alts);
	free(m->alt_links);
	free(m);
}

uint32_t model_link_peer(const struct model *m, uint32_t l, uint32_t d)
{
	if (m->link_from[l] == d)
		return m->link_to[l];
	if (m->link_to[l] == d)
		return m->link_from[l];
	return MODEL_DEV_NONE;
}

const char *model_dev_name(const struct model *m, uint32_t dev)
{
	return strtab_str(m->devs, dev);
}

static void builder_fini(struct builder *b)
{
	free(b->succ_first);
	free(b->succ);
	free(b->link_flows);
	free(b->link_silent);
	free(b->inv_dev);
	free(b->cut);
	free(b->dist);
	free(b->queue);
	free(b->sc.v);
	free(b->sc.first);
	free(b->sc.flow);
	free(b->sc.by);
	free(b->sc.by_rev);
	free(b->lived_rev);
	free(b->rroutes);
	free(b->pred_first);
	free(b->pred);
	free(b->togo);
	free(b->pair_first);
	free(b->pair_flows);
	u64map_fini(&b->pair_map);
	u64map_fini(&b->links);
	free(b->link_cache);
	u64map_fini(&b->dist_cache);
}

/* A trace that stopped short of its target: its last answered hop and the
 * target are both in the inventory's link graph but not linked there (the
 * tracer drops the silent hops after the last answer). Without inventory
 * links every path is taken as whole. */
static int builder_walk_cut(const struct builder *b, const uint32_t *seq, uint32_t n)
{
	uint32_t l;

	if (!b->ninv_links || n < 3 || seq[n - 2] == DEV_NONE || !b->inv_dev[seq[n - 2]] ||
	    !b->inv_dev[seq[n - 1]])
		return 0;
	l = builder_link_find(b, seq[n - 2], seq[n - 1]);
	return l == UINT32_MAX || l >= b->ninv_links;
}

/* Pass 3: the silent flows' paths, once silent_choose said what killed
 * each: its replies' routes through that link, else its forward routes. */
static int builder_silent_alts(struct builder *b, const struct obs_set *obs,
			       const uint32_t *name_dev)
{
	struct model *m = b->m;

	for (size_t j = 0; j < b->sc.nflows; j++) {
		uint32_t i = b->sc.flow[j], seq[SEQ_MAX], lens[MODEL_ALTS_MAX], len, n;
		route_list combos[MODEL_ALTS_MAX];
		struct model_flow *f = &m->flows[i];
		int got;

		m->flows_silent++;
		if (b->sc.by[j] == SILENT_LEFT_OUT) {
			m->flows_silent_left_out++; /* nalt 0: counted, not fit */
			continue;
		}
		n = model_flow_walk(obs, obs_set_flow(obs, i), name_dev, seq);
		got = flow_fwd_routes(b, seq, n, b->cut[i], combos, lens, &len);
		if (got < 0)
			return -1;
		f->alt_first = (uint32_t)m->nalts;
		if (b->sc.by_rev[j]) {
			uint32_t nr = flow_reply_routes(b, seq[0], seq[n - 1], len);

			if (nr == UINT32_MAX || flow_reply_alt_add(b, i, (uint32_t)b->sc.by[j], b->rroutes, nr, len) < 0)
				return -1;
			got = 1;
			m->flows_silent_reverse++;
		} else {
			for (int c = 0; c < got; c++)
				if (builder_alt_add(b, i, combos[c], lens[c]) < 0)
					return -1;
		}
		f->nalt = (uint32_t)got;
		for (int c = 0; c < got; c++)
			m->alts[f->alt_first + c].weight = 1.0 / got;
	}
	return 0;
}

/* A flow's whole path length in links (its replies' routes have the same),
 * 0 when not known: a "-" path, or a cut trace whose gap has no route. */
static uint32_t builder_flow_len(struct builder *b, const struct obs_set *obs,
				 const uint32_t *name_dev, size_t i)
{
	const struct obs_flow *of = obs_set_flow(obs, i);
	uint32_t seq[SEQ_MAX], n, d;

	if (of->nhops == OBS_PATH_UNKNOWN)
		return 0;
	n = model_flow_walk(obs, of, name_dev, seq);
	if (n < 2)
		return 0;
	if (!b->cut[i])
		return n - 1;
	d = builder_distance(b, seq[n - 2], seq[n - 1]);
	return d ? n - 2 + d : 0;
}

/* A pair's reply losses differ between its flows more than one shared
 * rate explains (Pearson's X^2 over its flows, Wilson-Hilferty normal
 * approximation, one-sided z above REPLY_DISPERSION_Z): the loss depends on
 * which reverse route a flow's replies take, so it lies on links only some
 * of those routes cross. Where the probes show none of those links lossy
 * (a link only replies cross, among ECMP siblings alike), nothing tells the
 * routes apart, and spread at equal shares the loss would land on the
 * links every route shares, a false suspect: such a pair's replies are
 * left out. */
#define REPLY_DISPERSION_Z 3.09 /* one-sided 1e-3 */

struct reply_pair {
	uint32_t prober, target, len, nflows;
	uint64_t sent, lost;
	double x2; /* sum over its flows of lost_i^2 / sent_i, for Pearson's X^2 */
	size_t route_first; /* its reverse routes in builder_reply_flows' list */
	uint32_t nroutes;   /* 0: its replies are left out */
	int even;           /* reply_pair_even */
};

static int reply_pair_dispersed(const struct reply_pair *rp)
{
	double p, x2, df = rp->nflows - 1, z;

	if (rp->nflows < 2 || !rp->lost || rp->lost >= rp->sent)
		return 0;
	p = (double)rp->lost / (double)rp->sent;
	/* sum (l_i - n_i p)^2 / (n_i p (1 - p)) = (sum l_i^2 / n_i - L p) / (p (1 - p)) */
	x2 = (rp->x2 - (double)rp->lost * p) / (p * (1 - p));
	if (x2 <= 0)
		return 0;
	z = (cbrt(x2 / df) - (1 - 2 / (9 * df))) / sqrt(2 / (9 * df));
	return z > REPLY_DISPERSION_Z;
}

/* A pair's reply losses are as even over its flows as one shared rate
 * says, against all of them on one of its nr routes (a share 1/nr of the
 * flows losing at nr times the rate, the rest nothing): the log-likelihood
 * ratio over its flows is at least REPLY_EVEN_LR. Only then may its lost
 * replies be spread at equal shares when no link of its routes stands out
 * from the probes' fit: the loss is on the links every route shares, or
 * everywhere alike. With fewer counts the two cannot be told apart, and
 * spread, the loss of one route would land on its siblings. fl/ln: the
 * pair's flows' replies sent and lost. */
#define REPLY_EVEN_LR 6.9 /* 1000 : 1 */

static int reply_pair_even(const uint64_t *fl, const uint64_t *ln, uint32_t n, uint32_t nr)
{
	uint64_t sent = 0, lost = 0;
	double p, q, lr = 0;

	for (uint32_t i = 0; i < n; i++)
		sent += fl[i], lost += ln[i];
	if (!lost || nr < 2)
		return 1;
	if (lost >= sent)
		return 0;
	p = (double)lost / (double)sent;
	q = fmin(p * nr, 1 - 1e-9);
	for (uint32_t i = 0; i < n; i++) {
		double ok = (double)(fl[i] - ln[i]), l = (double)ln[i];
		double even = l * log(p) + ok * log1p(-p), one;

		if (ln[i])
			one = log(1.0 / nr) + l * log(q) + ok * log1p(-q);
		else
			one = log(1.0 / nr * exp((double)fl[i] * log1p(-q)) + (1 - 1.0 / nr));
		lr += even - one;
	}
	return lr >= REPLY_EVEN_LR;
}

/* Pass 4: the reverse counts. A flow's replies take the reverse 5-tuple's
 * own route, which no trace shows, so its count of replies lost is
 * evidence on the target -> prober routes, one of them per flow. Each
 * flow gets a reply flow (sent = replies the responder sent, lost =
 * lost_rev) over every reverse route of its forward path's length, each at
 * an equal share (the prior: ECMP spreads reply 5-tuples evenly); the fit
 * weighs them once the probes have been fit (infer_fit.c,
 * fit_replies_place). Only where the counts are reliable: a placed flow
 * that is not silent (a silent flow's replies bring no count;
 * model_flow_silent), a pair whose reverse routes are all known and at
 * most MODEL_ALTS_MAX, and whose flows lost replies alike
 * (reply_pair_dispersed). A flow with no reply lost is kept too: its
 * delivered replies clear the links they may cross. Nothing is added when
 * no flow of the set has a reverse count (a v1 file). */
static int builder_reply_flows(struct builder *b, const struct obs_set *obs,
			       const uint32_t *name_dev)
{
	struct model *m = b->m;
	struct u64map pairs = { 0 };
	struct reply_pair *pv = NULL;
	uint32_t np = 0, *fpair = NULL, *routes = NULL;
	size_t nobs = m->nflows, any = 0, nroutes = 0, cap = 0, nrep = 0;
	int rc = -1;

	m->nalts_flows = m->nalts;
	for (size_t i = 0; i < nobs && !any; i++)
		any = obs_set_flow(obs, i)->lost_rev > 0;
	if (!any)
		return 0;
	pv = malloc((nobs + 1) * sizeof(*pv));
	fpair = malloc((nobs + 1) * sizeof(*fpair));
	if (!pv || !fpair || u64map_init(&pairs, 1024) < 0)
		goto out;
	for (size_t i = 0; i < nobs; i++) {
		const struct obs_flow *of = obs_set_flow(obs, i);
		const struct model_flow *f = &m->flows[i];
		uint64_t back = f->sent - f->lost, lost;
		struct reply_pair *rp;
		uint32_t *slot, len;

		fpair[i] = UINT32_MAX;
		if (!f->nalt || model_flow_silent(f) || !back)
			continue;
		if (!(len = builder_flow_len(b, obs, name_dev, i)))
			continue;
		slot = u64map_slot(&pairs, (uint64_t)f->prober_dev << 32 | f->target_dev);
		if (!*slot) {
			pv[np] = (struct reply_pair){ f->prober_dev, f->target_dev, len, 0, 0, 0, 0, 0,
						      0, 0 };
			*slot = ++np;
			if (++pairs.count * 2 > pairs.nslots && u64map_grow(&pairs) < 0)
				goto out;
		}
		rp = &pv[*slot - 1];
		if (rp->len != len)
			continue; /* a route of another length: not the pair's ECMP set */
		lost = of->lost_rev > back ? back : of->lost_rev;
		rp->sent += back;
		rp->lost += lost;
		rp->x2 += (double)lost * (double)lost / (double)back;
		rp->nflows++;
		fpair[i] = *slot - 1;
	}
	/* each pair's reverse routes, listed once */
	for (uint32_t p = 0; p < np; p++) {
		struct reply_pair *rp = &pv[p];
		uint32_t cur[SEQ_MAX], nr = 0;
		const uint32_t *togo;

		rp->nroutes = 0;
		if (reply_pair_dispersed(rp)) {
			m->pairs_reply_dispersed++;
			continue;
		}
		if (!(togo = builder_togo(b, rp->prober)))
			goto out;
		star_routes(b, togo, rp->target, rp->prober, rp->len, cur, 0, b->rroutes, &nr,
			    MODEL_ALTS_MAX);
		if (!nr || nr > MODEL_ALTS_MAX) {
			m->pairs_reply_unplaced++;
			continue;
		}
		if (nroutes + (size_t)nr * rp->len > cap) {
			size_t nc = cap ? cap * 2 : 4096;
			uint32_t *v;

			while (nc < nroutes + (size_t)nr * rp->len)
				nc *= 2;
			if (!(v = realloc(routes, nc * sizeof(*v))))
				goto out;
			routes = v;
			cap = nc;
		}
		memcpy(routes + nroutes, b->rroutes, (size_t)nr * rp->len * sizeof(*routes));
		rp->route_first = nroutes;
		rp->nroutes = nr;
		nroutes += (size_t)nr * rp->len;
		nrep += rp->nflows;
	}
	if (nrep) {
		struct model_flow *fl = realloc(m->flows, (nobs + nrep + 1) * sizeof(*fl));

		if (!fl)
			goto out;
		m->flows = fl;
	}
	/* each routed pair's flows' counts, for reply_pair_even */
	if (nrep) {
		uint64_t *fs = malloc((nobs + 1) * sizeof(*fs)), *fl = malloc((nobs + 1) * sizeof(*fl));
		uint32_t *first = calloc(np + 2, sizeof(*first)), *at;

		if (!fs || !fl || !first || !(at = malloc((np + 1) * sizeof(*at)))) {
			free(fs), free(fl), free(first);
			goto out;
		}
		for (size_t i = 0; i < nobs; i++)
			if (fpair[i] != UINT32_MAX)
				first[fpair[i] + 1]++;
		for (uint32_t p = 0; p < np; p++)
			at[p] = first[p + 1] += first[p];
		for (uint32_t p = 0; p < np; p++)
			at[p] = first[p];
		for (size_t i = 0; i < nobs; i++) {
			const struct model_flow *src = &m->flows[i];
			uint64_t back = src->sent - src->lost, lr;

			if (fpair[i] == UINT32_MAX)
				continue;
			lr = obs_set_flow(obs, i)->lost_rev;
			fs[at[fpair[i]]] = back;
			fl[at[fpair[i]]++] = lr > back ? back : lr;
		}
		for (uint32_t p = 0; p < np; p++)
			pv[p].even = pv[p].nroutes &&
				     reply_pair_even(fs + first[p], fl + first[p], first[p + 1] - first[p],
						     pv[p].nroutes);
		free(fs), free(fl), free(first), free(at);
	}
	for (size_t i = 0; i < nobs && nrep; i++) {
		const struct obs_flow *of = obs_set_flow(obs, i);
		const struct model_flow *src = &m->flows[i];
		const struct reply_pair *rp;
		uint32_t id = (uint32_t)(nobs + m->nreplies);
		uint64_t back = src->sent - src->lost;
		struct model_flow *f = &m->flows[id];

		if (fpair[i] == UINT32_MAX || !(rp = &pv[fpair[i]])->nroutes)
			continue;
		*f = (struct model_flow){ .sent = back,
					  .lost = of->lost_rev > back ? back : of->lost_rev,
					  .prober_dev = rp->target, .target_dev = rp->prober,
					  .alt_first = (uint32_t)m->nalts, .nalt = rp->nroutes,
					  .reply = (uint8_t)(rp->even ? MODEL_REPLY_EVEN : 1) };
		for (uint32_t r = 0; r < rp->nroutes; r++) {
			if (builder_alt_add(b, id, routes + rp->route_first + (size_t)r * rp->len,
					    rp->len) < 0)
				goto out;
			m->alts[m->nalts - 1].weight = 1.0 / rp->nroutes;
		}
		m->nreplies++;
	}
	rc = 0;
out:
	u64map_fini(&pairs);
	free(pv);
	free(fpair);
	free(routes);
	return rc;
}

struct model *model_build(const struct obs_set *obs, const struct inventory *inv,
			  char *err, size_t errlen)
{
	struct builder b = { 0 };
	struct model *m = calloc(1, sizeof(*m));
	size_t nflows = obs_set_flow_count(obs);
	uint32_t nnames = obs_set_name_count(obs), *name_dev = NULL;
	uint32_t seq[SEQ_MAX], links[SEQ_MAX];
	size_t nsilent = 0; /* silent flows: they may need reply samples */

	if (!m || !(m->devs = strtab_new()))
		goto nomem;
	b.m = m;
	name_dev = malloc((nnames + 1) * sizeof(*name_dev));
	m->flows = calloc(nflows + 1, sizeof(*m->flows));
	b.cut = calloc(nflows + 1, 1);
	b.link_cache = calloc(1, sizeof(*b.link_cache));
	if (!name_dev || !m->flows || !b.cut || !b.link_cache ||
	    u64map_init(&b.links, 4096) < 0 ||
	    u64map_init(&b.dist_cache, 64) < 0)
		goto nomem;
	m->nflows = nflows;
	if (builder_alts_reserve(&b, obs) < 0)
		goto nomem;
	for (uint32_t i = 0; i < nnames; i++) {
		int64_t d = builder_dev(&b, model_name_dev(inv, obs_set_name(obs, i)));

		if (d < 0)
			goto nomem;
		name_dev[i] = (uint32_t)d;
	}
	for (size_t i = 0; inv && i < inventory_link_count(inv); i++) {
		const char *x, *y;
		int64_t dx, dy;

		inventory_link_get(inv, i, &x, &y);
		dx = builder_dev(&b, x);
		dy = builder_dev(&b, y);
		if (dx < 0 || dy < 0 || builder_link(&b, (uint32_t)dx, (uint32_t)dy) < 0 ||
		    builder_link(&b, (uint32_t)dy, (uint32_t)dx) < 0)
			goto nomem;
	}
	b.ninv_links = m->nlinks;
	if (!(b.inv_dev = calloc(m->ndevs + 1, 1)))
		goto nomem;
	for (uint32_t l = 0; l < b.ninv_links; l++)
		b.inv_dev[m->link_from[l]] = b.inv_dev[m->link_to[l]] = 1;
	/* Pass 1: fully known paths give the links and the adjacency. */
	for (size_t i = 0; i < nflows; i++) {
		const struct obs_flow *of = obs_set_flow(obs, i);
		struct model_flow *f = &m->flows[i];
		uint32_t n = model_flow_walk(obs, of, name_dev, seq), star = 0;

		f->sent = of->sent;
		f->lost = of->lost;
		f->lost_dark = of->lost_dark;
		f->prober_dev = seq[0];
		f->target_dev = seq[n - 1];
		m->dev_endpoint[seq[0]] = 1;
		m->dev_endpoint[seq[n - 1]] = 1;
		nsilent += model_flow_silent(f);
		if (of->nhops == OBS_PATH_UNKNOWN)
			continue;
		for (uint32_t k = 1; k + 1 < n; k++) {
			if (seq[k] == DEV_NONE)
				star = 1;
			else
				m->dev_transit[seq[k]] = 1;
		}
		if (n < 2)
			continue; /* prober and target are one device: left unplaced */
		/* a cut trace's last answered hop is no neighbour of the target */
		b.cut[i] = (uint8_t)builder_walk_cut(&b, seq, n);
		if (star)
			continue;
		for (uint32_t k = 0; k + 1 + b.cut[i] < n; k++) {
			int64_t l = builder_link(&b, seq[k], seq[k + 1]);

			if (l < 0)
				goto nomem;
			links[k] = (uint32_t)l;
		}
		if (model_flow_silent(f) || b.cut[i])
			continue; /* its links are known; its paths come in pass 2 */
		f->alt_first = (uint32_t)m->nalts;
		f->nalt = 1;
		if (builder_alt_add(&b, (uint32_t)i, links, n - 1) < 0)
			goto nomem;
	}
	b.dist = malloc((m->ndevs + 1) * sizeof(*b.dist));
	b.rroutes = malloc((size_t)REPLY_ROUTES_MAX * SEQ_MAX * sizeof(*b.rroutes));
	b.queue = malloc((m->ndevs + 1) * sizeof(*b.queue));
	if (!b.dist || !b.queue || !b.rroutes || builder_adjacency(&b) < 0 ||
	    (nsilent && builder_pairs_index(&b) < 0) ||
	    builder_silent_count(&b, obs, name_dev) < 0)
		goto nomem;
	/* Pass 2: "*" gaps, cut traces and "-" paths become weighted
	 * alternatives; silent flows wait for silent_choose. */
	for (size_t i = 0; i < nflows; i++) {
		const struct obs_flow *of = obs_set_flow(obs, i);
		struct model_flow *f = &m->flows[i];
		int got;

		if (f->nalt)
			continue;
		f->alt_first = (uint32_t)m->nalts;
		if (of->nhops == OBS_PATH_UNKNOWN) {
			/* The only certain links, the prober's uplink and the target's
			 * downlink, bound nothing: with the rest of the path free, a
			 * lossy flow fits any edge loss below its own, and keeping just
			 * its clean siblings would bias those links clean. Such flows
			 * are counted, not fit; the collector's traces fill the paths. */
			m->flows_unknown++;
			got = 0;
		} else {
			uint32_t n = model_flow_walk(obs, of, name_dev, seq), len, nr = 0;
			uint32_t lens[MODEL_ALTS_MAX];
			route_list combos[MODEL_ALTS_MAX];
			int star = 0;

			if (n < 2) {
				m->flows_unplaced++;
				continue;
			}
			for (uint32_t k = 1; k + 1 < n; k++)
				star |= seq[k] == DEV_NONE;
			m->flows_star += star;
			m->flows_cut += b.cut[i];
			got = flow_fwd_routes(&b, seq, n, b.cut[i], combos, lens, &len);
			if (got < 0)
				goto nomem;
			if (got > 0 && star)
				m->flows_star_resolved++;
			if (got > 0 && model_flow_silent(f)) {
				nr = flow_reply_routes(&b, seq[0], seq[n - 1], len);
				if (nr == UINT32_MAX || silent_cands_flow(&b.sc, (uint32_t)i, combos, lens, (uint32_t)got,
						      b.rroutes, nr, len) < 0 ||
				    (!nr && silent_reply_samples(&b, seq[0], seq[n - 1]) < 0))
					goto nomem;
				continue;
			}
			for (int c = 0; c < got; c++)
				if (builder_alt_add(&b, (uint32_t)i, combos[c], lens[c]) < 0)
					goto nomem;
		}
		f->nalt = (uint32_t)got;
		if (!got)
			m->flows_unplaced++;
		for (int k = 0; k < got; k++)
			m->alts[f->alt_first + k].weight = 1.0 / got;
	}
	if (builder_reply_exposure(&b, obs) < 0 || silent_choose(&b) < 0 ||
	    builder_silent_alts(&b, obs, name_dev) < 0 ||
	    builder_reply_flows(&b, obs, name_dev) < 0)
		goto nomem;
	free(name_dev);
	builder_fini(&b);
	return m;
nomem:
	snprintf(err, errlen, "out of memory building the model");
	free(name_dev);
	builder_fini(&b);
	model_free(m);
	errno = ENOMEM;
	return NULL;
}
