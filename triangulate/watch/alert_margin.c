/* Single-link likelihood-ratio statistics per directed link over a round's
 * flows, and the margin of a suspect link over its rivals (the other links on
 * its lossy flows). Links are interned as "from\x1fto" strings. */
#include "alert_margin.h"
#include "inventory.h"
#include "observations.h"
#include "strtab.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct alert_margin_index {
	struct strtab *links;    /* "from\x1fto" -> link id */
	uint64_t *sent, *lost;   /* per link: probes on flows crossing it */
	size_t nlinks_cap;
	uint32_t *flow_links;    /* each flow's link ids, flow after flow */
	size_t nflow_links, flow_links_cap;
	size_t *flow_first;      /* per flow: index into flow_links; n+1 entries */
	uint64_t *flow_lost;     /* per flow: lost probes */
	size_t nflows;
};

static const char *alert_margin_dev(const struct obs_set *obs,
				    const struct inventory *inv, uint32_t id)
{
	const char *name = obs_set_name(obs, id);
	const char *dev = inv ? inventory_device_find(inv, name) : NULL;

	return dev ? dev : name;
}

static int64_t alert_margin_link_id(struct strtab *t, const char *from,
				    const char *to, int add)
{
	char key[2 * 256 + 2];
	int n = snprintf(key, sizeof(key), "%s\x1f%s", from, to);

	if (n < 0 || (size_t)n >= sizeof(key))
		return -1;
	return add ? strtab_intern(t, key, (size_t)n) : strtab_find(t, key, (size_t)n);
}

static int alert_margin_link_add(struct alert_margin_index *ix, const char *from,
				 const char *to, const struct obs_flow *f)
{
	int64_t id = alert_margin_link_id(ix->links, from, to, 1);

	if (id < 0)
		return -1;
	if ((size_t)id >= ix->nlinks_cap) {
		size_t cap = ix->nlinks_cap ? 2 * ix->nlinks_cap : 64;
		uint64_t *s = realloc(ix->sent, cap * sizeof(*s)), *l;

		if (!s)
			return -1;
		ix->sent = s;
		if (!(l = realloc(ix->lost, cap * sizeof(*l))))
			return -1;
		ix->lost = l;
		memset(ix->sent + ix->nlinks_cap, 0, (cap - ix->nlinks_cap) * sizeof(*s));
		memset(ix->lost + ix->nlinks_cap, 0, (cap - ix->nlinks_cap) * sizeof(*l));
		ix->nlinks_cap = cap;
	}
	ix->sent[id] += f->sent;
	ix->lost[id] += f->lost;
	if (ix->nflow_links == ix->flow_links_cap) {
		size_t cap = ix->flow_links_cap ? 2 * ix->flow_links_cap : 256;
		uint32_t *v = realloc(ix->flow_links, cap * sizeof(*v));

		if (!v)
			return -1;
		ix->flow_links = v;
		ix->flow_links_cap = cap;
	}
	ix->flow_links[ix->nflow_links++] = (uint32_t)id;
	return 0;
}

struct alert_margin_index *alert_margin_index_build(const struct obs_set *obs,
						    const struct inventory *inv)
{
	struct alert_margin_index *ix = calloc(1, sizeof(*ix));
	size_t n = obs_set_flow_count(obs);

	if (!ix || !(ix->links = strtab_new()) ||
	    !(ix->flow_first = calloc(n + 1, sizeof(*ix->flow_first))) ||
	    !(ix->flow_lost = calloc(n ? n : 1, sizeof(*ix->flow_lost))))
		goto err;
	ix->nflows = n;
	for (size_t i = 0; i < n; i++) {
		const struct obs_flow *f = obs_set_flow(obs, i);
		const uint32_t *hops = obs_set_flow_hops(obs, f);
		uint32_t nh = f->nhops == OBS_PATH_UNKNOWN ? 0 : f->nhops;
		char prev[256];

		ix->flow_first[i] = ix->nflow_links;
		ix->flow_lost[i] = f->lost;
		/* unknown paths place no link: they could be anywhere */
		if (f->nhops == OBS_PATH_UNKNOWN || !hops)
			continue;
		snprintf(prev, sizeof(prev), "%s", alert_margin_dev(obs, inv, f->prober));
		for (uint32_t h = 0; h <= nh; h++) {
			const char *cur;

			if (h < nh && hops[h] == OBS_HOP_STAR) {
				prev[0] = 0; /* a silent hop hides the links on each side */
				continue;
			}
			cur = h < nh ? alert_margin_dev(obs, inv, hops[h])
				     : alert_margin_dev(obs, inv, f->target);
			if (prev[0] && strcmp(prev, cur) &&
			    alert_margin_link_add(ix, prev, cur, f) < 0)
				goto err;
			snprintf(prev, sizeof(prev), "%s", cur);
		}
	}
	ix->flow_first[n] = ix->nflow_links;
	return ix;
err:
	alert_margin_index_free(ix);
	errno = ENOMEM;
	return NULL;
}

void alert_margin_index_free(struct alert_margin_index *ix)
{
	if (!ix)
		return;
	strtab_free(ix->links);
	free(ix->sent);
	free(ix->lost);
	free(ix->flow_links);
	free(ix->flow_first);
	free(ix->flow_lost);
	free(ix);
}

/* 2 (log L(p) - log L(bg)) for k of n lost, p = k/n; 0 when p <= bg. */
static double alert_margin_lr(uint64_t n, uint64_t k, double bg)
{
	double p, lr;

	if (!n || !k)
		return 0;
	p = (double)k / (double)n;
	if (p <= bg)
		return 0;
	lr = (double)k * log(p / bg);
	if (k < n)
		lr += (double)(n - k) * log((1 - p) / (1 - bg));
	return 2 * lr;
}

int alert_margin_link(const struct alert_margin_index *ix, const char *from,
		      const char *to, double background_loss,
		      struct alert_margin *out)
{
	int64_t sid = alert_margin_link_id(ix->links, from, to, 0);
	uint32_t nl = strtab_count(ix->links);
	uint8_t *rival;

	memset(out, 0, sizeof(*out));
	if (sid < 0)
		return -1;
	out->lr = alert_margin_lr(ix->sent[sid], ix->lost[sid], background_loss);
	if (!(rival = calloc(nl ? nl : 1, 1)))
		return -1;
	/* rivals: the other links on flows that lost probes on this link */
	for (size_t i = 0; i < ix->nflows; i++) {
		size_t a = ix->flow_first[i], b = ix->flow_first[i + 1], j;

		if (!ix->flow_lost[i])
			continue;
		for (j = a; j < b && ix->flow_links[j] != (uint32_t)sid; j++)
			;
		if (j == b)
			continue;
		for (j = a; j < b; j++)
			rival[ix->flow_links[j]] = 1;
	}
	rival[sid] = 0;
	for (uint32_t l = 0; l < nl; l++) {
		double lr;
		const char *key, *sep;

		if (!rival[l])
			continue;
		lr = alert_margin_lr(ix->sent[l], ix->lost[l], background_loss);
		if (lr <= out->rival_lr)
			continue;
		out->rival_lr = lr;
		key = strtab_str(ix->links, l);
		sep = strchr(key, '\x1f');
		snprintf(out->rival_from, sizeof(out->rival_from), "%.*s",
			 (int)(sep - key), key);
		snprintf(out->rival_to, sizeof(out->rival_to), "%s", sep + 1);
	}
	free(rival);
	return 0;
}
