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

struct builder {
	struct model *m;
	struct u64map links; /* (from << 32 | to) -> link id */
	size_t cap_links, cap_alts, cap_alt_links;
	uint32_t *succ_first, *succ; /* CSR adjacency over links: link ids */
	uint32_t *link_flows, *link_silent; /* per link: known-path flows, silent */
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

static int64_t builder_link(struct builder *b, uint32_t from, uint32_t to)
{
	struct model *m = b->m;
	uint32_t *slot = u64map_slot(&b->links, (uint64_t)from << 32 | to);

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
		size_t cap = b->cap_alts ? b->cap_alts * 2 : 4096;

		if (!(a = realloc(m->alts, cap * sizeof(*a))))
			return -1;
		m->alts = a;
		b->cap_alts = cap;
	}
	if (m->nalt_links + n > b->cap_alt_links) {
		size_t cap = b->cap_alt_links ? b->cap_alt_links * 2 : 16384;
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

/* Enumerate routes of exactly `depth` links from dev to `goal` over known
 * links, appending each route's links to out (stride depth). Stops counting
 * past max. */
static void star_routes(const struct builder *b, uint32_t dev, uint32_t goal,
			uint32_t depth, uint32_t *cur, uint32_t level,
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
		uint32_t l = u64map_get(&b->links, (uint64_t)dev << 32 | goal);

		if (l != UINT32_MAX) {
			cur[level] = l;
			star_routes(b, goal, goal, depth, cur, depth, out, nout, max);
		}
		return;
	}
	for (uint32_t i = b->succ_first[dev]; i < b->succ_first[dev + 1]; i++) {
		uint32_t l = b->succ[i];

		if (m->dev_endpoint[m->link_to[l]] && !m->dev_transit[m->link_to[l]])
			continue; /* hosts do not forward */
		cur[level] = l;
		star_routes(b, m->link_to[l], goal, depth, cur, level + 1, out,
			    nout, max);
	}
}

#define SEQ_MAX MODEL_WALK_MAX

/* Alternatives of a path with "*" gaps: the product of each gap's routes.
 * Returns the number added (0 when unresolvable or over MODEL_ALTS_MAX). */
static int flow_star_alts(struct builder *b, uint32_t flow, const uint32_t *seq,
			  uint32_t n)
{
	uint32_t combos[MODEL_ALTS_MAX][SEQ_MAX];
	uint32_t lens[MODEL_ALTS_MAX];
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
			star_routes(b, seq[i], seq[j], depth, cur, 0, routes, &nr,
				    MODEL_ALTS_MAX);
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
	for (uint32_t c = 0; c < ncombo; c++)
		if (builder_alt_add(b, flow, combos[c], lens[c]) < 0)
			return -1;
	return (int)ncombo;
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
	for (size_t i = 0; i < m->nflows; i++) {
		const struct obs_flow *of = obs_set_flow(obs, i);
		uint32_t n;

		if (of->nhops == OBS_PATH_UNKNOWN)
			continue;
		n = model_flow_walk(obs, of, name_dev, seq);
		for (uint32_t k = 0; k + 1 < n; k++) {
			uint32_t l;

			if (seq[k] == DEV_NONE || seq[k + 1] == DEV_NONE ||
			    (l = u64map_get(&b->links, (uint64_t)seq[k] << 32 | seq[k + 1])) ==
				    UINT32_MAX)
				continue;
			b->link_flows[l]++;
			b->link_silent[l] += model_flow_silent(&m->flows[i]);
		}
	}
	return 0;
}

/* How all-or-nothing a link is: the share of its known-path flows that
 * are silent (0 below two silent flows). */
static double builder_silent_share(const struct builder *b, uint32_t l)
{
	return b->link_silent[l] >= 2 ? (double)b->link_silent[l] / (double)b->link_flows[l] : 0;
}

/* The highest silent share on the known links of a walk. */
static double builder_silent_forward(const struct builder *b, const uint32_t *seq, uint32_t n)
{
	double top = 0;

	for (uint32_t k = 0; k + 1 < n; k++) {
		uint32_t l;

		if (seq[k] == DEV_NONE || seq[k + 1] == DEV_NONE ||
		    (l = u64map_get(&b->links, (uint64_t)seq[k] << 32 | seq[k + 1])) == UINT32_MAX)
			continue;
		top = fmax(top, builder_silent_share(b, l));
	}
	return top;
}

/* The reverse routes of a flow whose every probe went unanswered: its
 * replies took the reverse 5-tuple's own ECMP path, which no trace shows,
 * so every route of the forward path's length from target to prober (over
 * links seen elsewhere or in the inventory) is a candidate beside the
 * forward path; EM weighs them. They are added only when some reverse
 * route holds a link more all-or-nothing for its own flows than any link of
 * the forward path (a blackhole there ate the replies); otherwise the
 * forward path explains the flow. Appended after the flow's nfwd forward
 * alternatives; none when they would pass MODEL_ALTS_MAX (the flow then
 * stands on its forward path alone). Returns the number added, or -1. */
static int flow_reply_alts(struct builder *b, uint32_t flow, const uint32_t *seq,
			   uint32_t n, uint32_t nfwd)
{
	uint32_t routes[MODEL_ALTS_MAX * SEQ_MAX], cur[SEQ_MAX], nr = 0, depth = n - 1;
	double fwd = builder_silent_forward(b, seq, n), rev = 0;

	star_routes(b, seq[n - 1], seq[0], depth, cur, 0, routes, &nr, MODEL_ALTS_MAX);
	if (!nr || nr + nfwd > MODEL_ALTS_MAX)
		return 0;
	for (size_t k = 0; k < (size_t)nr * depth; k++)
		rev = fmax(rev, builder_silent_share(b, routes[k]));
	if (rev <= fwd)
		return 0;
	for (uint32_t r = 0; r < nr; r++)
		if (builder_alt_add(b, flow, routes + (size_t)r * depth, depth) < 0)
			return -1;
	return (int)nr;
}

int model_flow_silent(const struct model_flow *f)
{
	return f->sent >= MODEL_SILENT_MIN_SENT && f->lost == f->sent;
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

const char *model_dev_name(const struct model *m, uint32_t dev)
{
	return strtab_str(m->devs, dev);
}

struct model *model_build(const struct obs_set *obs, const struct inventory *inv,
			  char *err, size_t errlen)
{
	struct builder b = { 0 };
	struct model *m = calloc(1, sizeof(*m));
	size_t nflows = obs_set_flow_count(obs);
	uint32_t nnames = obs_set_name_count(obs), *name_dev = NULL;
	uint32_t seq[SEQ_MAX], links[SEQ_MAX];

	if (!m || !(m->devs = strtab_new()))
		goto nomem;
	b.m = m;
	name_dev = malloc((nnames + 1) * sizeof(*name_dev));
	m->flows = calloc(nflows + 1, sizeof(*m->flows));
	if (!name_dev || !m->flows || u64map_init(&b.links, 4096) < 0)
		goto nomem;
	m->nflows = nflows;
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
	/* Pass 1: fully known paths give the links and the adjacency. */
	for (size_t i = 0; i < nflows; i++) {
		const struct obs_flow *of = obs_set_flow(obs, i);
		struct model_flow *f = &m->flows[i];
		uint32_t n = model_flow_walk(obs, of, name_dev, seq), star = 0;

		f->sent = of->sent;
		f->lost = of->lost;
		f->prober_dev = seq[0];
		f->target_dev = seq[n - 1];
		m->dev_endpoint[seq[0]] = 1;
		m->dev_endpoint[seq[n - 1]] = 1;
		if (of->nhops == OBS_PATH_UNKNOWN)
			continue;
		for (uint32_t k = 1; k + 1 < n; k++) {
			if (seq[k] == DEV_NONE)
				star = 1;
			else
				m->dev_transit[seq[k]] = 1;
		}
		if (star)
			continue;
		if (n < 2)
			continue; /* prober and target are one device: left unplaced */
		for (uint32_t k = 0; k + 1 < n; k++) {
			int64_t l = builder_link(&b, seq[k], seq[k + 1]);

			if (l < 0)
				goto nomem;
			links[k] = (uint32_t)l;
		}
		if (model_flow_silent(f))
			continue; /* its links are known; its paths come in pass 2 */
		f->alt_first = (uint32_t)m->nalts;
		f->nalt = 1;
		if (builder_alt_add(&b, (uint32_t)i, links, n - 1) < 0)
			goto nomem;
	}
	if (builder_adjacency(&b) < 0 || builder_silent_count(&b, obs, name_dev) < 0)
		goto nomem;
	/* Pass 2: "*" gaps and "-" paths become weighted alternatives. */
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
			uint32_t n = model_flow_walk(obs, of, name_dev, seq);

			int star = 0;

			if (n < 2) {
				m->flows_unplaced++;
				continue;
			}
			for (uint32_t k = 1; k + 1 < n; k++)
				star |= seq[k] == DEV_NONE;
			m->flows_star += star;
			got = flow_star_alts(&b, (uint32_t)i, seq, n);
			if (got > 0 && star)
				m->flows_star_resolved++;
			if (got > 0 && model_flow_silent(f)) {
				int rev = flow_reply_alts(&b, (uint32_t)i, seq, n, (uint32_t)got);

				if (rev < 0)
					goto nomem;
				m->flows_silent++;
				m->flows_silent_reverse += rev > 0;
				got += rev;
			}
		}
		if (got < 0)
			goto nomem;
		f->nalt = (uint32_t)got;
		if (!got)
			m->flows_unplaced++;
		for (int k = 0; k < got; k++)
			m->alts[f->alt_first + k].weight = 1.0 / got;
	}
	free(name_dev);
	free(b.succ_first);
	free(b.succ);
	free(b.link_flows);
	free(b.link_silent);
	u64map_fini(&b.links);
	return m;
nomem:
	snprintf(err, errlen, "out of memory building the model");
	free(name_dev);
	free(b.succ_first);
	free(b.succ);
	free(b.link_flows);
	free(b.link_silent);
	u64map_fini(&b.links);
	model_free(m);
	errno = ENOMEM;
	return NULL;
}
