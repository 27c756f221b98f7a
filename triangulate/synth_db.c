/* Writes a synthetic 2-tier fabric's batches through the store, with paths
 * chosen by a per-flow hash and binomial loss on one faulty link, so query
 * and report code runs on a database like the collector's. */
#include "synth_db.h"

#include "inventory.h"
#include "report.h"
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void synth_db_cfg_default(struct synth_db_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->spines = 2;
	cfg->leaves = 3;
	cfg->hosts_per_leaf = 2;
	cfg->sports = 4;
	cfg->probes = 100;
	cfg->interval_ms = 60000;
	cfg->intervals = 10;
	cfg->seed = 1;
}

static uint64_t synth_rand(uint64_t *s)
{
	/* splitmix64: reproducible without libc state */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Addresses: host hN behind leaf g is 198.19.g.(2i-1); a leaf answers
 * traces from 198.18.1.g, a spine from 198.18.2.s. */
static void synth_host_addr(const struct synth_db_cfg *c, unsigned h, char *buf, size_t len)
{
	unsigned g = h / c->hosts_per_leaf + 1, i = h % c->hosts_per_leaf + 1;

	snprintf(buf, len, "198.19.%u.%u", g, 2 * i - 1);
}

static int synth_fault_on(const struct synth_db_cfg *c, const char *from,
			  const char *to, int64_t at_ms)
{
	if (!c->fault_from || at_ms < c->fault_start_ms || at_ms >= c->fault_end_ms)
		return 0;
	/* no fault_to: the device fault_from drops what enters it; "*": what
	 * enters or leaves it (a sick host) */
	if (!c->fault_to || !c->fault_to[0])
		return !strcmp(c->fault_from, to);
	if (!strcmp(c->fault_to, "*"))
		return !strcmp(c->fault_from, to) || !strcmp(c->fault_from, from);
	return !strcmp(c->fault_from, from) && !strcmp(c->fault_to, to);
}

static int synth_inventory_write(const char *path, const struct synth_db_cfg *c,
				 char *err, size_t errlen)
{
	FILE *f = fopen(path, "w");
	char a[64], n[32], m[32];
	unsigned nh = c->leaves * c->hosts_per_leaf;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	inventory_header_write(f);
	for (unsigned h = 0; h < nh; h++) {
		synth_host_addr(c, h, a, sizeof(a));
		snprintf(n, sizeof(n), "h%u", h + 1);
		inventory_addr_write(f, a, n);
		snprintf(m, sizeof(m), "leaf%u", h / c->hosts_per_leaf + 1);
		inventory_link_write(f, n, m);
	}
	for (unsigned g = 1; g <= c->leaves; g++) {
		snprintf(a, sizeof(a), "198.18.1.%u", g);
		snprintf(n, sizeof(n), "leaf%u", g);
		inventory_addr_write(f, a, n);
		for (unsigned s = 1; s <= c->spines; s++) {
			snprintf(m, sizeof(m), "spine%u", s);
			inventory_link_write(f, m, n);
		}
	}
	for (unsigned s = 1; s <= c->spines; s++) {
		snprintf(a, sizeof(a), "198.18.2.%u", s);
		snprintf(n, sizeof(n), "spine%u", s);
		inventory_addr_write(f, a, n);
	}
	if (fclose(f)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

long synth_db_write(const char *db_path, const char *inventory_path,
		    const struct synth_db_cfg *c, char *err, size_t errlen)
{
	unsigned nh = c->leaves * c->hosts_per_leaf;
	size_t nflows_max = (size_t)(nh - 1) * c->sports;
	struct report_flow *flows = calloc(nflows_max + 1, sizeof(*flows));
	struct report_path *paths = calloc(nflows_max + 1, sizeof(*paths));
	uint64_t rng = c->seed;
	struct store *s = NULL;
	long batches = 0;

	if (!flows || !paths) {
		snprintf(err, errlen, "out of memory");
		goto err;
	}
	if (inventory_path && synth_inventory_write(inventory_path, c, err, errlen) < 0)
		goto err;
	if (!(s = store_open(NULL, db_path, err, errlen)))
		goto err;
	for (unsigned t = 0; t < c->intervals; t++) {
		int64_t start_ms = c->start_ms + (int64_t)t * c->interval_ms;

		if (store_group_begin(s) < 0)
			goto store_err;
		for (unsigned p = 0; p < nh; p++) {
			struct report_batch b = { 0 };
			char pa[64], ta[64], pn[32];
			unsigned pg = p / c->hosts_per_leaf + 1;
			int dup = 0, reused = 0;

			snprintf(pn, sizeof(pn), "h%u", p + 1);
			if (c->down_prober && !strcmp(c->down_prober, pn) &&
			    start_ms >= c->down_start_ms && start_ms < c->down_end_ms)
				continue;
			snprintf(b.prober, sizeof(b.prober), "%s", pn);
			b.seq = t + 1;
			b.start_ms = start_ms;
			b.end_ms = start_ms + c->interval_ms;
			synth_host_addr(c, p, pa, sizeof(pa));
			for (unsigned q = 0; q < nh; q++) {
				unsigned tg = q / c->hosts_per_leaf + 1;

				if (q == p)
					continue;
				synth_host_addr(c, q, ta, sizeof(ta));
				for (unsigned k = 0; k < c->sports; k++) {
					struct report_flow *f = &flows[b.nflows];
					struct report_path *pp = &paths[b.npaths];
					uint16_t sport = (uint16_t)(33000 + k);
					unsigned spine = (p * 7 + q * 13 + k) % c->spines + 1;
					double keep = 1;
					char sn[32], lsrc[32], ldst[32], tn[32], a[32];

					memset(f, 0, sizeof(*f));
					memset(pp, 0, sizeof(*pp));
					report_addr_parse(pa, &f->src);
					report_addr_parse(ta, &f->dst);
					f->proto = REPORT_PROTO_UDP;
					f->sport = sport;
					f->dport = 31338;
					snprintf(lsrc, sizeof(lsrc), "leaf%u", pg);
					snprintf(ldst, sizeof(ldst), "leaf%u", tg);
					snprintf(sn, sizeof(sn), "spine%u", spine);
					pp->src = f->src;
					pp->dst = f->dst;
					pp->proto = f->proto;
					pp->sport = sport;
					pp->dport = 31338;
					snprintf(a, sizeof(a), "198.18.1.%u", pg);
					report_addr_parse(a, &pp->hops[pp->nhops++]);
					if (pg != tg) {
						snprintf(a, sizeof(a), "198.18.2.%u", spine);
						report_addr_parse(a, &pp->hops[pp->nhops++]);
						snprintf(a, sizeof(a), "198.18.1.%u", tg);
						report_addr_parse(a, &pp->hops[pp->nhops++]);
						if (synth_fault_on(c, lsrc, sn, start_ms))
							keep *= 1 - c->fault_loss_ratio;
						if (synth_fault_on(c, sn, ldst, start_ms))
							keep *= 1 - c->fault_loss_ratio;
					}
					snprintf(tn, sizeof(tn), "h%u", q + 1);
					if (synth_fault_on(c, pn, lsrc, start_ms))
						keep *= 1 - c->fault_loss_ratio;
					if (synth_fault_on(c, ldst, tn, start_ms))
						keep *= 1 - c->fault_loss_ratio;
					f->sent = c->probes;
					for (unsigned i = 0; i < c->probes; i++)
						if ((double)(synth_rand(&rng) >> 11) / 9007199254740992.0 >= keep)
							f->lost_fwd++;
					f->received = f->sent - f->lost_fwd;
					f->rtt_min_ns = f->rtt_p50_ns = 50000;
					f->rtt_p99_ns = f->rtt_max_ns = 90000;
					b.nflows++;
					/* a real prober traces now and then, not every interval */
					if (t % 5 == 0)
						b.npaths++;
				}
			}
			b.flows = flows;
			b.paths = paths;
			if (store_batch_add(s, &b, b.end_ms, &dup, &reused) < 0)
				goto store_err;
			batches++;
		}
		if (store_group_commit(s) < 0)
			goto store_err;
	}
	if (!c->no_rollup && store_rollup_run(s, NULL) < 0)
		goto store_err;
	store_close(s);
	free(flows);
	free(paths);
	return batches;
store_err:
	snprintf(err, errlen, "%s: %s", db_path, store_error(s));
err:
	store_close(s);
	free(flows);
	free(paths);
	return -1;
}
