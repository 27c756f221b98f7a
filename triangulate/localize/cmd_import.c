/* triangulate import: an observations file (v1 or v2) loaded into a store (SQLite or
 * ClickHouse) as one window of flows, one batch per prober address, for
 * replays, tests and benchmarks. Importing the same file with the same --end
 * again stores each batch once (same prober, seq and start). */
#include "clock.h"
#include "cmd.h"
#include "observations.h"
#include "opts.h"
#include "store.h"
#include "wire.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define IMPORT_GROUP_BATCHES 256 /* batches per store transaction */

struct import_cfg {
	const char *observations; /* the file to load */
	const char *store;        /* store URL */
	long long end_ms;         /* window end, Unix ms (0: now) */
	long long window_ms;      /* window length: each batch's interval */
};

static const struct opt_spec import_opts[] = {
	{ "observations", 0, OPT_STR, offsetof(struct import_cfg, observations), 0, 0, NULL,
	  "FILE", "observations file (v1 or v2) to load (required)" },
	CMD_STORE_OPTS(struct import_cfg, store, CMD_STORE_HELP),
	{ "end", 0, OPT_INT, offsetof(struct import_cfg, end_ms), 0, 9e15, "0", "UNIX_MS",
	  "end of the window the flows are stored in (0: now)" },
	{ "window", 'w', OPT_MS, offsetof(struct import_cfg, window_ms), 1000, 86400000, "1m",
	  "DURATION", "length of that window" },
};

struct import_ctx {
	const struct obs_set *obs;
	size_t *order; /* flow indexes sorted by prober */
};

static const struct obs_set *import_sort_obs;

static int import_flow_cmp(const void *a, const void *b)
{
	const struct obs_flow *fa = obs_set_flow(import_sort_obs, *(const size_t *)a);
	const struct obs_flow *fb = obs_set_flow(import_sort_obs, *(const size_t *)b);

	if (fa->prober != fb->prober)
		return fa->prober < fb->prober ? -1 : 1;
	return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

/* One flow of the set as a wire flow and, when its path is known, a path. */
static int import_flow_fill(const struct obs_set *obs, const struct obs_flow *f,
			    struct wire_flow *wf, struct wire_path *wp,
			    int *has_path, char *err, size_t errlen)
{
	const char *src = obs_set_name(obs, f->prober);
	const char *dst = obs_set_name(obs, f->target);
	const uint32_t *hops = obs_set_flow_hops(obs, f);

	memset(wf, 0, sizeof(*wf));
	if (wire_addr_parse(src, &wf->src) < 0 || wire_addr_parse(dst, &wf->dst) < 0) {
		snprintf(err, errlen, "flow %s -> %s: the store keeps addresses, not names",
			 src, dst);
		return -1;
	}
	if (f->sent > UINT32_MAX) {
		snprintf(err, errlen, "flow %s -> %s port %u: %llu probes, more than a batch holds",
			 src, dst, f->sport, (unsigned long long)f->sent);
		return -1;
	}
	wf->proto = f->proto;
	wf->sport = f->sport;
	wf->dport = f->dport;
	wf->sent = (uint32_t)f->sent;
	wf->lost_fwd = (uint32_t)f->lost;
	wf->lost_rev = (uint32_t)f->lost_rev; /* 0 from a v1 file */
	wf->received = (uint32_t)(f->sent - f->lost - f->lost_rev);
	*has_path = hops != NULL;
	if (!hops)
		return 0;
	if (f->nhops > WIRE_HOPS_MAX) {
		snprintf(err, errlen, "flow %s -> %s: %u hops, the store keeps at most %d",
			 src, dst, f->nhops, WIRE_HOPS_MAX);
		return -1;
	}
	memset(wp, 0, sizeof(*wp));
	wp->src = wf->src;
	wp->dst = wf->dst;
	wp->proto = wf->proto;
	wp->sport = wf->sport;
	wp->dport = wf->dport;
	wp->nhops = (uint8_t)f->nhops;
	for (uint32_t i = 0; i < f->nhops; i++) {
		const char *h;

		if (hops[i] == OBS_HOP_STAR)
			continue; /* family 0: no answer */
		h = obs_set_name(obs, hops[i]);
		if (wire_addr_parse(h, &wp->hops[i]) < 0) {
			snprintf(err, errlen, "flow %s -> %s: hop '%s' is not an address",
				 src, dst, h);
			return -1;
		}
		wp->hop_replies[i] = wp->hop_probes[i] = 1;
	}
	return 0;
}

static int import_run(struct store *s, const struct obs_set *obs, int64_t end_ms,
		      int64_t window_ms, uint64_t *batches, char *err, size_t errlen)
{
	size_t n = obs_set_flow_count(obs), i = 0, in_group = 0;
	size_t *order = malloc((n ? n : 1) * sizeof(*order));
	struct wire_flow *flows = malloc((n ? n : 1) * sizeof(*flows));
	struct wire_path *paths = malloc((n ? n : 1) * sizeof(*paths));
	int rc = -1, open = 0;

	if (!order || !flows || !paths) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++)
		order[i] = i;
	import_sort_obs = obs;
	qsort(order, n, sizeof(*order), import_flow_cmp);
	for (i = 0; i < n;) {
		const struct obs_flow *f0 = obs_set_flow(obs, order[i]);
		struct wire_batch b = { .seq = 1, .start_ms = end_ms - window_ms,
					.end_ms = end_ms, .flows = flows, .paths = paths };
		int dup, reused;

		snprintf(b.prober, sizeof(b.prober), "%s", obs_set_name(obs, f0->prober));
		for (; i < n && obs_set_flow(obs, order[i])->prober == f0->prober; i++) {
			int has_path;

			if (import_flow_fill(obs, obs_set_flow(obs, order[i]),
					     &flows[b.nflows], &paths[b.npaths],
					     &has_path, err, errlen) < 0)
				goto out;
			b.nflows++;
			b.npaths += has_path;
		}
		if (!open) {
			if (store_group_begin(s) < 0)
				goto store_err;
			open = 1;
		}
		if (store_batch_add(s, &b, end_ms, &dup, &reused) < 0)
			goto store_err;
		*batches += 1;
		if (++in_group == IMPORT_GROUP_BATCHES) {
			open = 0;
			in_group = 0;
			if (store_group_commit(s) < 0)
				goto store_err;
		}
	}
	if (open) {
		open = 0;
		if (store_group_commit(s) < 0)
			goto store_err;
	}
	rc = 0;
	goto out;
store_err:
	snprintf(err, errlen, "%s", store_error(s));
out:
	if (open)
		store_group_abort(s);
	free(order);
	free(flows);
	free(paths);
	return rc;
}

static const struct opts_cmd import_cmd =
	OPTS_CMD("triangulate import",
		 "triangulate import --observations FILE --store URL [--end UNIX_MS] [--window 1m]",
		 "Load an observations file into a store as one window of flows "
		 "(one batch per prober), for replays, tests and benchmarks.",
		 import_opts);

int cmd_import(int argc, char **argv)
{
	struct import_cfg cfg = { 0 };
	struct obs_set *obs = NULL;
	struct store *s = NULL;
	uint64_t batches = 0;
	char err[1024], ierr[768];
	int rc, idx = opts_cmd_parse(&import_cmd, &cfg, argc, argv, &rc);

	if (idx < 0)
		return rc;
	if (!cfg.observations || !cfg.store || idx != argc)
		return opts_cmd_usage_fail(&import_cmd);
	if (!cfg.end_ms)
		cfg.end_ms = clock_real_ms();
	if (!(obs = obs_set_new())) {
		snprintf(err, sizeof(err), "out of memory");
		goto fail;
	}
	if (obs_set_file_read(obs, cfg.observations, err, sizeof(err)) < 0)
		goto fail;
	if (!(s = store_open(NULL, cfg.store, err, sizeof(err))))
		goto fail;
	if (import_run(s, obs, cfg.end_ms, cfg.window_ms, &batches, ierr,
		       sizeof(ierr)) < 0) {
		snprintf(err, sizeof(err), "%.200s: %s", cfg.observations, ierr);
		goto fail;
	}
	fprintf(stderr, "triangulate import: %zu flows in %llu batches into %s\n",
		obs_set_flow_count(obs), (unsigned long long)batches, cfg.store);
	store_close(s);
	obs_set_free(obs);
	return 0;
fail:
	fprintf(stderr, "triangulate import: %s\n", err);
	store_close(s);
	obs_set_free(obs);
	return 1;
}
