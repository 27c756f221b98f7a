/* The simulator: arithmetic Clos topology (ids, link ids and interface
 * addresses computed, not stored), faults drawn without shared devices, flows
 * routed by per-switch hashes, losses drawn from the binomial. */
#include "sim.h"
#include "inventory.h"
#include "observations.h"
#include "textio.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

enum sim_role { ROLE_HOST, ROLE_TOR, ROLE_AGG, ROLE_CORE };
enum sim_fault_kind { FK_LINK, FK_DEVICE, FK_BLACKHOLE, FK_HOST, FK_KINDS };

struct sim_fault {
	enum sim_fault_kind kind;
	uint32_t a, b;  /* devices (b only for links) */
	double loss;    /* loss ratio, or share of flows for blackholes */
	/* the oracle's sums over the probes that crossed it */
	double lost;      /* probes lost */
	double predicted; /* probes every other element's true loss would lose */
};

struct sim {
	const struct sim_cfg *cfg;
	uint32_t half;            /* k / 2 */
	uint32_t nhost, ntor, nagg, ncore;
	uint32_t ndev;
	uint64_t rng;
	double *dev_loss;         /* device faults, by device */
	double *host_loss;        /* host faults, by host */
	struct sim_fault **dev_fault; /* device and host faults, by device */
	struct sim_fault *faults;
	size_t nfaults;
	uint8_t *dev_used;        /* device already touched by a fault */
	/* directed fabric link faults in a small open table */
	uint64_t *lf_key;
	struct sim_fault **lf_val;
	size_t lf_slots;
};

static uint64_t sim_mix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

static double sim_uniform(struct sim *s)
{
	s->rng = sim_mix(s->rng);
	return ((s->rng >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static double sim_log_uniform(struct sim *s, double lo, double hi)
{
	return lo * exp(log(hi / lo) * sim_uniform(s));
}

static double sim_normal(struct sim *s)
{
	double u = sim_uniform(s), v = sim_uniform(s);

	return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* Binomial(n, p): geometric gaps when n p is small, normal otherwise. */
static uint64_t sim_binomial(struct sim *s, uint64_t n, double p)
{
	uint64_t x = 0;
	double lq;

	if (p <= 0 || n == 0)
		return 0;
	if (p >= 1)
		return n;
	if (p > 0.5)
		return n - sim_binomial(s, n, 1 - p);
	if ((double)n * p > 30) {
		double v = (double)n * p + sqrt((double)n * p * (1 - p)) * sim_normal(s);

		v = floor(v + 0.5);
		return v < 0 ? 0 : v > (double)n ? n : (uint64_t)v;
	}
	lq = log1p(-p);
	for (double pos = 0;;) {
		pos += floor(log(sim_uniform(s)) / lq) + 1;
		if (pos > (double)n)
			return x;
		x++;
	}
}

/* Device ids: hosts, then edge (ToR/leaf), then aggregation, then core/spine.
 * 2 tiers: k leaves with k/2 uplinks each to k/2 spines.
 * 3 tiers: k pods of k/2 ToRs and k/2 aggs; agg a of every pod links to
 * cores a*k/2 .. a*k/2 + k/2 - 1. */
static enum sim_role sim_role(const struct sim *s, uint32_t d)
{
	if (d < s->nhost)
		return ROLE_HOST;
	if (d < s->nhost + s->ntor)
		return ROLE_TOR;
	if (d < s->nhost + s->ntor + s->nagg)
		return ROLE_AGG;
	return ROLE_CORE;
}

static void sim_dev_name(const struct sim *s, uint32_t d, char *buf, size_t len)
{
	uint32_t h = s->half, hp = (uint32_t)s->cfg->hosts_per_tor;

	switch (sim_role(s, d)) {
	case ROLE_HOST:
		snprintf(buf, len, "host-%u-%u", d / hp, d % hp);
		break;
	case ROLE_TOR:
		d -= s->nhost;
		if (s->cfg->tiers == 2)
			snprintf(buf, len, "leaf-%u", d);
		else
			snprintf(buf, len, "tor-%u-%u", d / h, d % h);
		break;
	case ROLE_AGG:
		d -= s->nhost + s->ntor;
		snprintf(buf, len, "agg-%u-%u", d / h, d % h);
		break;
	case ROLE_CORE:
		d -= s->nhost + s->ntor + s->nagg;
		if (s->cfg->tiers == 2)
			snprintf(buf, len, "spine-%u", d);
		else
			snprintf(buf, len, "core-%u-%u", d / h, d % h);
		break;
	}
}

/* Undirected link id between lower-tier device lo and upper-tier device up. */
static uint64_t sim_link_id(const struct sim *s, uint32_t lo, uint32_t up)
{
	uint32_t h = s->half;
	uint64_t base1 = s->nhost, base2 = base1 + (uint64_t)s->ntor * h;

	if (sim_role(s, lo) == ROLE_HOST)
		return lo;
	if (s->cfg->tiers == 2) /* leaf - spine */
		return base1 + (uint64_t)(lo - s->nhost) * h +
		       (up - s->nhost - s->ntor);
	if (sim_role(s, lo) == ROLE_TOR)
		return base1 + (uint64_t)(lo - s->nhost) * h +
		       (up - s->nhost - s->ntor) % h;
	return base2 + (uint64_t)(lo - s->nhost - s->ntor) * h +
	       (up - s->nhost - s->ntor - s->nagg) % h;
}

/* Interface address of device d on the link to neighbour n. Hosts answer
 * with their own address. */
static void sim_iface_addr(const struct sim *s, uint32_t d, uint32_t n, char *buf,
			   size_t len)
{
	uint64_t idx;

	if (sim_role(s, d) == ROLE_HOST) {
		uint32_t a = d + 1;

		snprintf(buf, len, "172.%u.%u.%u", 16 + (a >> 16), (a >> 8) & 255, a & 255);
		return;
	}
	idx = 2 * sim_link_id(s, d < n ? d : n, d < n ? n : d) + (d > n) + 1;
	snprintf(buf, len, "10.%u.%u.%u", (unsigned)(idx >> 16) & 255,
		 (unsigned)(idx >> 8) & 255, (unsigned)idx & 255);
}

/* Upper neighbours of a non-core device (the ECMP choices going up). */
static uint32_t sim_up(const struct sim *s, uint32_t d, uint32_t i)
{
	uint32_t h = s->half;

	switch (sim_role(s, d)) {
	case ROLE_HOST:
		return s->nhost + d / (uint32_t)s->cfg->hosts_per_tor;
	case ROLE_TOR:
		if (s->cfg->tiers == 2)
			return s->nhost + s->ntor + i;
		return s->nhost + s->ntor + ((d - s->nhost) / h) * h + i;
	default: /* agg */
		return s->nhost + s->ntor + s->nagg + ((d - s->nhost - s->ntor) % h) * h + i;
	}
}

static uint32_t sim_up_count(const struct sim *s, uint32_t d)
{
	return sim_role(s, d) == ROLE_HOST ? 1 : s->half;
}

/* Route src -> dst hashing the flow at each switch; returns device count. */
static uint32_t sim_route(const struct sim *s, uint32_t src, uint32_t dst,
			  uint64_t fh, uint32_t *path)
{
	uint32_t hp = (uint32_t)s->cfg->hosts_per_tor, h = s->half;
	uint32_t ts = s->nhost + src / hp, td = s->nhost + dst / hp, n = 0;

	path[n++] = src;
	path[n++] = ts;
	if (ts != td) {
		uint32_t up = sim_up(s, ts, (uint32_t)(sim_mix(fh ^ ts) % h));

		path[n++] = up;
		if (s->cfg->tiers == 3) {
			uint32_t pod_s = (ts - s->nhost) / h, pod_d = (td - s->nhost) / h;

			if (pod_s != pod_d) {
				uint32_t core = sim_up(s, up, (uint32_t)(sim_mix(fh ^ up) % h));
				uint32_t a = (up - s->nhost - s->ntor) % h;

				path[n++] = core;
				path[n++] = s->nhost + s->ntor + pod_d * h + a;
			}
		}
		path[n++] = td;
	}
	path[n++] = dst;
	return n;
}

static struct sim_fault *sim_link_fault(const struct sim *s, uint32_t a, uint32_t b)
{
	uint64_t key = (uint64_t)a << 32 | b;
	size_t mask = s->lf_slots - 1, i = sim_mix(key) & mask;

	for (; s->lf_val[i]; i = (i + 1) & mask)
		if (s->lf_key[i] == key)
			return s->lf_val[i];
	return NULL;
}

static void sim_link_fault_put(struct sim *s, uint32_t a, uint32_t b,
			       struct sim_fault *f)
{
	uint64_t key = (uint64_t)a << 32 | b;
	size_t mask = s->lf_slots - 1, i = sim_mix(key) & mask;

	while (s->lf_val[i])
		i = (i + 1) & mask;
	s->lf_key[i] = key;
	s->lf_val[i] = f;
}

/* Healthy loss of directed link a->b: drawn from the seed, not stored. */
static double sim_background(const struct sim *s, uint32_t a, uint32_t b)
{
	uint64_t r = sim_mix((uint64_t)a << 32 ^ b ^ sim_mix((uint64_t)s->cfg->seed));
	double u = ((r >> 11) + 0.5) * (1.0 / 9007199254740992.0);

	if (s->cfg->bg_uniform)
		return s->cfg->bg_min + (s->cfg->bg_max - s->cfg->bg_min) * u;
	return s->cfg->bg_min * exp(log(s->cfg->bg_max / s->cfg->bg_min) * u);
}

/* A random fabric link (switch to switch), as lower and upper device. */
static void sim_fabric_link_pick(struct sim *s, uint32_t *lo, uint32_t *up)
{
	uint32_t nlower = s->ntor + (s->cfg->tiers == 3 ? s->nagg : 0);

	*lo = s->nhost + (uint32_t)(sim_uniform(s) * nlower);
	*up = sim_up(s, *lo, (uint32_t)(sim_uniform(s) * s->half));
}

/* Neighbours of a switch, to keep concurrent faults apart. */
static void sim_dev_mark(struct sim *s, uint32_t d)
{
	s->dev_used[d] = 1;
}

#define SIM_KINDS_MAX 64

/* The kinds list, in order (a kind listed twice is drawn twice as often). */
static int sim_kinds_parse(const char *kinds, int *order, int *norder, char *err,
			   size_t errlen)
{
	static const char *const names[FK_KINDS] = { "link", "device", "blackhole", "host" };
	const char *p = kinds;
	int any = 0;

	*norder = 0;
	while (*p) {
		size_t n = strcspn(p, ",");
		int k;

		for (k = 0; k < FK_KINDS; k++)
			if (strlen(names[k]) == n && !strncmp(p, names[k], n))
				break;
		if (k == FK_KINDS) {
			snprintf(err, errlen, "unknown fault kind '%.*s' (link, device, blackhole, host)",
				 (int)n, p);
			return -1;
		}
		if (*norder == SIM_KINDS_MAX) {
			snprintf(err, errlen, "more than %d fault kinds listed", SIM_KINDS_MAX);
			return -1;
		}
		order[(*norder)++] = k;
		any = 1;
		p += n + (p[n] == ',');
	}
	if (!any) {
		snprintf(err, errlen, "no fault kinds given");
		return -1;
	}
	return 0;
}

/* Draw the faults: kinds in turn from the list, no two touching the
 * same device, so each truth item is a separate thing to find. */
static int sim_faults_place(struct sim *s, const int *order, int nk)
{
	const struct sim_cfg *c = s->cfg;

	for (long long i = 0; i < c->faults; i++) {
		struct sim_fault f = { .kind = (enum sim_fault_kind)order[i % nk] };
		int tries;

		for (tries = 0; tries < 1000; tries++) {
			uint32_t lo, up;

			if (f.kind == FK_LINK || f.kind == FK_BLACKHOLE) {
				sim_fabric_link_pick(s, &lo, &up);
				if (s->dev_used[lo] || s->dev_used[up])
					continue;
				if (sim_uniform(s) < 0.5) {
					f.a = lo;
					f.b = up;
				} else {
					f.a = up;
					f.b = lo;
				}
				sim_dev_mark(s, lo);
				sim_dev_mark(s, up);
			} else if (f.kind == FK_DEVICE) {
				f.a = s->nhost + (uint32_t)(sim_uniform(s) * (s->ndev - s->nhost));
				if (s->dev_used[f.a])
					continue;
				sim_dev_mark(s, f.a);
			} else {
				f.a = (uint32_t)(sim_uniform(s) * s->nhost);
				lo = sim_up(s, f.a, 0);
				if (s->dev_used[f.a] || s->dev_used[lo])
					continue;
				sim_dev_mark(s, f.a);
				sim_dev_mark(s, lo);
			}
			break;
		}
		if (tries == 1000)
			continue;
		/* a blackhole's "loss" is the share of flows it swallows */
		if (f.kind != FK_BLACKHOLE)
			f.loss = sim_log_uniform(s, c->loss_min, c->loss_max);
		else if (c->blackhole_share > 0)
			f.loss = c->blackhole_share;
		else
			f.loss = 0.1 + 0.6 * sim_uniform(s);
		s->faults[s->nfaults++] = f;
	}
	for (size_t i = 0; i < s->nfaults; i++) {
		struct sim_fault *f = &s->faults[i];

		if (f->kind == FK_LINK || f->kind == FK_BLACKHOLE)
			sim_link_fault_put(s, f->a, f->b, f);
		else if (f->kind == FK_DEVICE)
			s->dev_loss[f->a] = f->loss;
		else
			s->host_loss[f->a] = f->loss;
		if (f->kind == FK_DEVICE || f->kind == FK_HOST)
			s->dev_fault[f->a] = f;
	}
	return 0;
}

/* P(X >= k) for X ~ Poisson(lam): the regularized lower incomplete gamma
 * P(k, lam) by its series (only needed when k > lam, where it converges
 * fast). */
static double sim_poisson_tail(double k, double lam)
{
	double term, sum;

	if (k <= 0)
		return 1;
	if (lam <= 0)
		return 0;
	if (lam >= k)
		return 1; /* at or below the mean: never significant */
	term = sum = 1 / k;
	for (int n = 1; n < 100000 && term > sum * 1e-16; n++) {
		term *= lam / (k + n);
		sum += term;
	}
	return fmin(1, exp(k * log(lam) - lam - lgamma(k)) * sum);
}

/* The oracle: can the data show this fault at all? Its flows' lost probes
 * against what every other element's true loss predicts for them, one-sided,
 * Bonferroni over every directed link of the fabric. */
static int sim_oracle_shown(const struct sim *s, const struct sim_fault *f)
{
	uint64_t nlinks = 2 * ((uint64_t)s->nhost + (uint64_t)s->ntor * s->half +
			       (s->cfg->tiers == 3 ? (uint64_t)s->nagg * s->half : 0));

	return sim_poisson_tail(floor(f->lost + 0.5), f->predicted) * (double)nlinks <=
	       SIM_ORACLE_ALPHA;
}

static int sim_truth_write(const struct sim *s, FILE *out)
{
	static const char *const names[FK_KINDS] = { "link", "device", "blackhole", "host" };

	fprintf(out, "%s\n", SIM_TRUTH_HEADER);
	for (size_t i = 0; i < s->nfaults; i++) {
		const struct sim_fault *f = &s->faults[i];
		char a[64], b[64];

		sim_dev_name(s, f->a, a, sizeof(a));
		if (f->kind == FK_LINK || f->kind == FK_BLACKHOLE) {
			sim_dev_name(s, f->b, b, sizeof(b));
			fprintf(out, "%s\t%s\t%s\t%.6g\t%d\n", names[f->kind], a, b, f->loss,
				sim_oracle_shown(s, f));
		} else {
			fprintf(out, "%s\t%s\t%.6g\t%d\n", names[f->kind], a, f->loss,
				sim_oracle_shown(s, f));
		}
	}
	return ferror(out) ? -1 : 0;
}

static int sim_inventory_write(const struct sim *s, FILE *out)
{
	char name[64], up_name[64], addr[48];

	inventory_header_write(out);
	for (uint32_t d = 0; d < s->ndev; d++) {
		uint32_t nup = sim_role(s, d) == ROLE_CORE ? 0 : sim_up_count(s, d);

		sim_dev_name(s, d, name, sizeof(name));
		if (sim_role(s, d) == ROLE_HOST) {
			sim_iface_addr(s, d, d, addr, sizeof(addr));
			inventory_addr_write(out, addr, name);
		}
		for (uint32_t i = 0; i < nup; i++) {
			uint32_t up = sim_up(s, d, i);

			sim_dev_name(s, up, up_name, sizeof(up_name));
			if (sim_role(s, d) != ROLE_HOST) {
				sim_iface_addr(s, d, up, addr, sizeof(addr));
				inventory_addr_write(out, addr, name);
			}
			sim_iface_addr(s, up, d, addr, sizeof(addr));
			inventory_addr_write(out, addr, up_name);
			if (s->cfg->inventory_links)
				inventory_link_write(out, name, up_name);
		}
	}
	return ferror(out) ? -1 : 0;
}

/* Delivery probability of one flow along path (devices), as if fault skip
 * (may be NULL) were healthy. */
static double sim_flow_delivery(const struct sim *s, const uint32_t *path,
				uint32_t n, uint64_t fh, const struct sim_fault *skip)
{
	double ok = 1;

	if (s->dev_fault[path[0]] != skip)
		ok *= 1 - s->host_loss[path[0]];
	if (s->dev_fault[path[n - 1]] != skip)
		ok *= 1 - s->host_loss[path[n - 1]];
	for (uint32_t i = 0; i + 1 < n; i++) {
		const struct sim_fault *f = sim_link_fault(s, path[i], path[i + 1]);

		ok *= 1 - sim_background(s, path[i], path[i + 1]);
		if (f == skip)
			f = NULL;
		if (f && f->kind == FK_LINK)
			ok *= 1 - f->loss;
		/* hash-dependent: the same flows always die on this link */
		if (f && f->kind == FK_BLACKHOLE &&
		    (sim_mix(fh ^ 0x5bd1e995u ^ ((uint64_t)path[i] << 32 | path[i + 1])) >> 11) *
				    (1.0 / 9007199254740992.0) < f->loss)
			return 0;
		if (i > 0 && s->dev_fault[path[i]] != skip)
			ok *= 1 - s->dev_loss[path[i]];
	}
	return ok;
}

#define SIM_PATH_FAULTS 16

/* The distinct faults on a path (hosts, devices, links), appended to v. */
static void sim_path_faults(const struct sim *s, const uint32_t *path, uint32_t n,
			    struct sim_fault **v, uint32_t *nv)
{
	for (uint32_t i = 0; i < n; i++) {
		struct sim_fault *c[2] = { s->dev_fault[path[i]],
						 i + 1 < n ? sim_link_fault(s, path[i], path[i + 1]) : NULL };

		for (int j = 0; j < 2; j++) {
			uint32_t k;

			if (!c[j] || *nv == SIM_PATH_FAULTS)
				continue;
			for (k = 0; k < *nv && v[k] != c[j]; k++)
				;
			if (k == *nv)
				v[(*nv)++] = c[j];
		}
	}
}

/* Probes of one flow over one route (and, with reply loss, the reverse
 * route of its replies): draws the lost count and feeds the oracle, which
 * judges a fault by every probe it cost, either way. *rev_share: the share
 * of a lost probe that the responder got and whose reply was lost. */
static uint64_t sim_probes_send(struct sim *s, uint64_t sent, const uint32_t *fwd,
				uint32_t nf, uint64_t fh, const uint32_t *rev, uint32_t nr,
				uint64_t rh, double *rev_share)
{
	struct sim_fault *fs[SIM_PATH_FAULTS];
	uint32_t nfs = 0;
	double ok_fwd = sim_flow_delivery(s, fwd, nf, fh, NULL), ok = ok_fwd;
	uint64_t lost;

	if (nr)
		ok *= sim_flow_delivery(s, rev, nr, rh, NULL);
	*rev_share = ok < 1 ? (ok_fwd - ok) / (1 - ok) : 0;
	lost = sim_binomial(s, sent, 1 - ok);
	sim_path_faults(s, fwd, nf, fs, &nfs);
	if (nr)
		sim_path_faults(s, rev, nr, fs, &nfs);
	for (uint32_t i = 0; i < nfs; i++) {
		struct sim_fault *f = fs[i];
		double wo = sim_flow_delivery(s, fwd, nf, fh, f);

		if (nr)
			wo *= sim_flow_delivery(s, rev, nr, rh, f);
		f->lost += (double)lost;
		f->predicted += (double)sent * (1 - wo);
	}
	return lost;
}

/* A run of one flow's probes sent one way: its probes, those lost either
 * way, and the share of those whose reply was lost (sim_probes_send). */
struct sim_run {
	uint64_t sent, lost;
	double rev_share;
};

/* Of a flow's lost probes (runs in sending order), those the prober books
 * as replies lost (prober/flow.c): a reply carries the responder's count,
 * which splits the probes unanswered since the last answer into lost on the
 * way out and replies lost; those after the last answer are written off
 * forward, and a flow with no answer at all is forward loss throughout. The
 * lost probes sit at random places among the flow's probes. Drawn from a
 * stream of the flow's own, so the main stream, and with it every other
 * count of the file, is what it is without the split. */
static uint64_t sim_lost_rev_draw(struct sim *s, const struct sim_run *run, int nrun)
{
	uint64_t keep = s->rng, sent = 0, lost = 0, rev = 0, trail[2] = { 0, 0 };

	for (int i = 0; i < nrun; i++)
		sent += run[i].sent, lost += run[i].lost;
	if (!lost || lost == sent)
		return 0;
	s->rng = sim_mix(keep ^ 0x6c6f73745f726576ull);
	/* the lost probes after the last answer: from the last probe back,
	 * each lost with the odds of the lost among the probes left */
	for (int i = nrun - 1; i >= 0; i--) {
		uint64_t n = run[i].sent, l = run[i].lost;

		while (n && l && sim_uniform(s) * (double)n < (double)l)
			n--, l--, trail[i]++;
		if (n)
			break; /* the probe before is answered */
	}
	for (int i = 0; i < nrun; i++)
		rev += sim_binomial(s, run[i].lost - trail[i], run[i].rev_share);
	s->rng = keep;
	return rev;
}

/* One flow src -> dst: route it, draw its losses, write its line. */
static int sim_flow_write(struct sim *s, FILE *out, uint32_t src, uint32_t dst)
{
	const struct sim_cfg *c = s->cfg;
	char names[8][48], sa[48], da[48];
	const char *hops[8];
	uint32_t path[8], n, rev[8], nrev = 0;
	struct obs_row row = { 0 };
	struct sim_run run[2] = { { 0 } };
	int nrun = 1;
	uint64_t fh, rh = 0;

	row.proto = OBS_PROTO_UDP;
	row.sport = 32768 + (unsigned)(sim_uniform(s) * 28000);
	row.dport = 31338;
	fh = sim_mix((uint64_t)src << 40 ^ (uint64_t)dst << 16 ^ row.sport);
	n = sim_route(s, src, dst, fh, path);
	row.sent = (uint64_t)c->probes;
	if (c->reply_loss) {
		/* the reply's 5-tuple is the probe's reversed: its own hash */
		rh = sim_mix((uint64_t)dst << 40 ^ (uint64_t)src << 16 ^
			     (uint64_t)row.dport << 20 ^ row.sport ^ 0x7265706c79ull << 32);
		nrev = sim_route(s, dst, src, rh, rev);
	}
	if (c->stale_ratio > 0 && sim_uniform(s) < c->stale_ratio) {
		/* the path moved mid-window: the first half of the probes
		 * went another way (a rehash) and only the new path is traced */
		uint64_t oh = sim_mix(fh ^ 0x57a1e9a7ull), half = row.sent / 2;
		uint32_t old[8], nold = sim_route(s, src, dst, oh, old);

		run[0].sent = half;
		run[0].lost = sim_probes_send(s, half, old, nold, oh, rev, nrev, rh,
					      &run[0].rev_share);
		run[1].sent = row.sent - half;
		run[1].lost = sim_probes_send(s, row.sent - half, path, n, fh, rev, nrev, rh,
					      &run[1].rev_share);
		nrun = 2;
	} else {
		run[0].sent = row.sent;
		run[0].lost = sim_probes_send(s, row.sent, path, n, fh, rev, nrev, rh,
					      &run[0].rev_share);
	}
	/* the file holds the counts the prober books, forward and reverse */
	row.lost_rev = nrev ? sim_lost_rev_draw(s, run, nrun) : 0;
	row.lost = run[0].lost + (nrun > 1 ? run[1].lost : 0) - row.lost_rev;
	sim_iface_addr(s, src, src, sa, sizeof(sa));
	sim_iface_addr(s, dst, dst, da, sizeof(da));
	row.prober = sa;
	row.target = da;
	row.nhops = (int)n - 2;
	for (uint32_t k = 1; k + 1 < n; k++) {
		/* a router answers with the interface the probe came in on */
		sim_iface_addr(s, path[k], path[k - 1], names[k], sizeof(names[k]));
		hops[k - 1] = sim_uniform(s) < c->star_ratio ? NULL : names[k];
	}
	row.hops = hops;
	if (sim_uniform(s) < c->unknown_ratio)
		row.nhops = -1;
	return obs_row_write(out, &row);
}

/* A host id from its simulator name host-EDGE-I, or -1. */
static int64_t sim_host_parse(const struct sim *s, const char *name, size_t len)
{
	char buf[64];
	unsigned edge, i;
	char extra;

	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, name, len);
	buf[len] = '\0';
	if (sscanf(buf, "host-%u-%u%c", &edge, &i, &extra) != 2 ||
	    i >= (unsigned)s->cfg->hosts_per_tor || edge >= s->ntor)
		return -1;
	return (int64_t)edge * s->cfg->hosts_per_tor + i;
}

/* Flows from a plan (plan.h): each line's flow count between its hosts. */
static int sim_plan_flows_write(struct sim *s, FILE *out, char *err, size_t errlen)
{
	const char *path = s->cfg->plan;
	size_t len, pos = 0, ll, lineno = 0;
	const char *line;
	char *buf;
	int rc = -1;

	if (textio_file_read(path, &buf, &len) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (textio_line_next(buf, len, &pos, &line, &ll)) {
		const char *f[5];
		size_t fl[5];
		int64_t src, dst;
		long flows;

		lineno++;
		if (!ll || line[0] == '#')
			continue;
		if (textio_fields_split(line, ll, f, fl, 4) != 4 ||
		    (src = sim_host_parse(s, f[0], fl[0])) < 0 ||
		    (dst = sim_host_parse(s, f[1], fl[1])) < 0 ||
		    (flows = strtol(f[3], NULL, 10)) < 1 || flows > 1000000) {
			snprintf(err, errlen, "%s:%zu: expected HOST<TAB>HOST<TAB>ADDR<TAB>FLOWS "
					      "naming hosts of this fabric", path, lineno);
			goto out;
		}
		for (long k = 0; k < flows; k++)
			if (sim_flow_write(s, out, (uint32_t)src, (uint32_t)dst) < 0)
				goto io;
	}
	rc = 0;
	goto out;
io:
	snprintf(err, errlen, "write failed: %s", strerror(errno));
out:
	free(buf);
	return rc;
}

static int sim_flows_write(struct sim *s, FILE *out)
{
	const struct sim_cfg *c = s->cfg;
	uint32_t hp = (uint32_t)c->hosts_per_tor;

	for (long long i = 0; i < c->flows; i++) {
		uint32_t src = (uint32_t)(sim_uniform(s) * s->nhost), dst;

		/* targets under another edge switch, so flows cross the fabric */
		do
			dst = (uint32_t)(sim_uniform(s) * s->nhost);
		while (dst / hp == src / hp && s->ntor > 1);
		if (sim_flow_write(s, out, src, dst) < 0)
			return -1;
	}
	return ferror(out) ? -1 : 0;
}

int sim_run(const struct sim_cfg *cfg, FILE *obs, FILE *inv, FILE *truth,
	    long long *placed, char *err, size_t errlen)
{
	int order[SIM_KINDS_MAX], norder = 0;
	struct sim s = { .cfg = cfg };
	int rc = -1;

	if (cfg->k < 2 || cfg->k % 2 || (cfg->tiers != 2 && cfg->tiers != 3)) {
		snprintf(err, errlen, "need an even radix >= 2 and 2 or 3 tiers");
		return -1;
	}
	if (cfg->faults && sim_kinds_parse(cfg->kinds, order, &norder, err, errlen) < 0)
		return -1;
	if (!cfg->bg_uniform && cfg->bg_min <= 0) {
		snprintf(err, errlen, "a log-uniform background needs a smallest loss above 0");
		return -1;
	}
	s.half = (uint32_t)cfg->k / 2;
	if (cfg->tiers == 2) {
		s.ntor = (uint32_t)cfg->k;
		s.nagg = 0;
		s.ncore = s.half;
	} else {
		s.ntor = (uint32_t)(cfg->k * s.half);
		s.nagg = s.ntor;
		s.ncore = s.half * s.half;
	}
	s.nhost = s.ntor * (uint32_t)cfg->hosts_per_tor;
	s.ndev = s.nhost + s.ntor + s.nagg + s.ncore;
	s.rng = sim_mix((uint64_t)cfg->seed * 0x2545F4914F6CDD1Dull + 1);
	s.lf_slots = 64;
	while (s.lf_slots < 4 * (size_t)cfg->faults)
		s.lf_slots *= 2;
	s.dev_loss = calloc(s.ndev, sizeof(*s.dev_loss));
	s.host_loss = calloc(s.ndev, sizeof(*s.host_loss));
	s.dev_fault = calloc(s.ndev, sizeof(*s.dev_fault));
	s.dev_used = calloc(s.ndev, 1);
	s.faults = calloc((size_t)cfg->faults + 1, sizeof(*s.faults));
	s.lf_key = calloc(s.lf_slots, sizeof(*s.lf_key));
	s.lf_val = calloc(s.lf_slots, sizeof(*s.lf_val));
	if (!s.dev_loss || !s.host_loss || !s.dev_fault || !s.dev_used || !s.faults || !s.lf_key ||
	    !s.lf_val) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (cfg->faults)
		sim_faults_place(&s, order, norder);
	*placed = (long long)s.nfaults;
	if (sim_inventory_write(&s, inv) < 0 || obs_header_write(obs) < 0 ||
	    (!cfg->plan && sim_flows_write(&s, obs) < 0)) {
		snprintf(err, errlen, "write failed: %s", strerror(errno));
		goto out;
	}
	if (cfg->plan && sim_plan_flows_write(&s, obs, err, errlen) < 0)
		goto out;
	/* last: the oracle's verdicts need every flow's probes */
	if (sim_truth_write(&s, truth) < 0) {
		snprintf(err, errlen, "write failed: %s", strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(s.dev_loss);
	free(s.host_loss);
	free(s.dev_fault);
	free(s.dev_used);
	free(s.faults);
	free(s.lf_key);
	free(s.lf_val);
	return rc;
}
