/* Backend-neutral store front: picks the backend by name, keeps the last
 * error text, and stores a whole batch as one transaction. */
#include "store.h"
#include "clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct store {
	const struct store_ops *ops;
	void *h;
	char err[512];
};

static const struct store_ops *const store_backends[] = {
	&store_sqlite_ops,
	&store_clickhouse_ops,
};

void store_url_split(const char *url, const char **backend,
		     const char **location)
{
	if (!strncmp(url, "clickhouse://", 13)) {
		*backend = "clickhouse";
		*location = url;
	} else if (!strncmp(url, "sqlite:", 7)) {
		*backend = "sqlite";
		*location = url + 7;
	} else {
		*backend = "sqlite";
		*location = url;
	}
}

int store_url_is_file(const char *url, const char **path)
{
	const char *backend;

	store_url_split(url, &backend, path);
	return !strcmp(backend, "sqlite");
}

struct store *store_open(const char *backend, const char *path, char *err,
			 size_t errlen)
{
	const struct store_ops *ops = NULL;
	struct store *s;
	size_t i;

	if (!path) {
		snprintf(err, errlen, "no store given");
		errno = EINVAL;
		return NULL;
	}
	if (!backend)
		store_url_split(path, &backend, &path);
	for (i = 0; i < sizeof(store_backends) / sizeof(store_backends[0]); i++)
		if (strcmp(store_backends[i]->name, backend) == 0)
			ops = store_backends[i];
	if (!ops) {
		snprintf(err, errlen, "unknown store backend '%s'", backend);
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->ops = ops;
	s->h = ops->open(path, err, errlen);
	if (!s->h) {
		free(s);
		return NULL;
	}
	return s;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	s->ops->close(s->h);
	free(s);
}

const char *store_error(const struct store *s)
{
	return s->err;
}

int store_group_begin(struct store *s)
{
	return s->ops->group_begin(s->h, s->err, sizeof(s->err));
}

int store_group_commit(struct store *s)
{
	return s->ops->group_commit(s->h, s->err, sizeof(s->err));
}

void store_group_abort(struct store *s)
{
	s->ops->group_abort(s->h);
}

int store_batch_add(struct store *s, const struct wire_batch *b,
		    int64_t now_ms, int *duplicate, int *seq_reused)
{
	const struct store_ops *o = s->ops;
	char *err = s->err;
	size_t el = sizeof(s->err);
	uint32_t i;

	*duplicate = 0;
	*seq_reused = 0;
	if (o->batch_begin(s->h, b, now_ms, duplicate, seq_reused, err, el) < 0)
		return -1;
	if (*duplicate)
		return 0;
	if (o->health_insert(s->h, &b->health, err, el) < 0)
		goto err;
	for (i = 0; i < b->nflows; i++)
		if (o->flow_insert(s->h, &b->flows[i], err, el) < 0)
			goto err;
	for (i = 0; i < b->npaths; i++)
		if (o->path_insert(s->h, &b->paths[i], err, el) < 0)
			goto err;
	if (o->batch_end(s->h, err, el) < 0)
		goto err;
	return 0;
err:
	o->batch_abort(s->h);
	return -1;
}

int store_batch_put(struct store *s, const struct wire_batch *b,
		    int64_t now_ms, int *duplicate, int *seq_reused)
{
	if (store_group_begin(s) < 0)
		return -1;
	if (store_batch_add(s, b, now_ms, duplicate, seq_reused) < 0) {
		store_group_abort(s);
		return -1;
	}
	return store_group_commit(s); /* rolls back itself on failure */
}

int store_rollup_run(struct store *s, uint64_t *batches_rolled)
{
	uint64_t n = 0;
	int more = 0;
	int rc = s->ops->rollup_run(s->h, 0, &n, &more, s->err, sizeof(s->err));

	if (batches_rolled)
		*batches_rolled = n;
	return rc;
}

int store_maintenance_run(struct store *s, int64_t now_ms, int64_t raw_keep_ms,
			  int64_t rollup_keep_ms, int64_t budget_ms,
			  struct store_retention_stats *st)
{
	struct store_retention_stats local;
	int64_t deadline = 0;

	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	if (budget_ms > 0)
		deadline = clock_mono_ms() + budget_ms;
	if (s->ops->rollup_run(s->h, deadline, &st->batches_rolled, &st->more,
			       s->err, sizeof(s->err)) < 0)
		return -1;
	if (st->more)
		return 0; /* deletion waits until everything is rolled up */
	return s->ops->retention_run(s->h, now_ms - raw_keep_ms,
				     now_ms - rollup_keep_ms, deadline, st,
				     s->err, sizeof(s->err));
}

int store_retention_run(struct store *s, int64_t now_ms, int64_t raw_keep_ms,
			int64_t rollup_keep_ms,
			struct store_retention_stats *st)
{
	return store_maintenance_run(s, now_ms, raw_keep_ms, rollup_keep_ms, 0,
				     st);
}

int store_observations_query(struct store *s, int64_t since_ms,
			     int64_t until_ms, store_obs_cb cb, void *arg)
{
	return s->ops->observations_query(s->h, since_ms, until_ms, cb, arg,
					  s->err, sizeof(s->err));
}

int store_observations_hourly_query(struct store *s, int64_t since_ms,
				    int64_t until_ms, store_obs_cb cb,
				    void *arg)
{
	return s->ops->observations_hourly_query(s->h, since_ms, until_ms, cb,
						 arg, s->err, sizeof(s->err));
}

void store_path_text_build(const struct wire_path *p, char *hops,
			   size_t hops_len, char *replies, char *probes,
			   size_t counts_len)
{
	size_t hl = 0, rl = 0, pl = 0;
	unsigned i;

	if (p->nhops == 0) {
		snprintf(hops, hops_len, "-");
		replies[0] = probes[0] = '\0';
		return;
	}
	hops[0] = replies[0] = probes[0] = '\0';
	for (i = 0; i < p->nhops && i < WIRE_HOPS_MAX; i++) {
		char a[64];

		hl += (size_t)snprintf(hops + hl, hops_len - hl, "%s%s",
				       i ? "," : "",
				       wire_addr_str(&p->hops[i], a, sizeof(a)));
		rl += (size_t)snprintf(replies + rl, counts_len - rl, "%s%u",
				       i ? "," : "", p->hop_replies[i]);
		pl += (size_t)snprintf(probes + pl, counts_len - pl, "%s%u",
				       i ? "," : "", p->hop_probes[i]);
	}
}

/* The next hop of a comma list at *p: its text and length; advances *p past
 * it. Returns 0 at the end of the list. */
static int store_path_hop_next(const char **p, const char **hop, size_t *len)
{
	const char *c;

	if (!*p)
		return 0;
	c = strchr(*p, ',');
	*hop = *p;
	*len = c ? (size_t)(c - *p) : strlen(*p);
	*p = c ? c + 1 : NULL;
	return 1;
}

int store_path_hops_moved(const char *a, const char *b)
{
	const char *ha, *hb;
	size_t la, lb;

	if (!a || !b || !*a || !*b || !strcmp(a, "-") || !strcmp(b, "-"))
		return 0; /* a trace that found no hops says nothing */
	/* up to the shorter list: a trace cut short is a prefix of its route */
	while (store_path_hop_next(&a, &ha, &la) && store_path_hop_next(&b, &hb, &lb)) {
		/* a "*" hides its hop: any router may have sat there */
		if ((la == 1 && *ha == '*') || (lb == 1 && *hb == '*'))
			continue;
		if (la != lb || memcmp(ha, hb, la))
			return 1;
	}
	return 0;
}

void store_obs_row_fill(struct store_obs_row *row, const char *prober_name,
			const char *src, const char *target, const uint64_t *n,
			const char *path)
{
	*row = (struct store_obs_row){
		.prober_name = prober_name,
		.prober = src,
		.target = target,
		.proto = n[0] == WIRE_PROTO_TCP ? "tcp" : "udp",
		.sport = (unsigned)n[1],
		.dport = (unsigned)n[2],
		.sent = n[3],
		.lost = n[4],
		.received = n[5],
		.lost_rev = n[6],
		.down_intervals = n[7],
		.path = path ? path : "-",
	};
}

/* Floor to the UTC hour, for negative times too. */
static int64_t store_hour_floor_ms(int64_t t)
{
	int64_t h = t / 3600000 * 3600000;

	return h > t ? h - 3600000 : h;
}

void store_hour_span(int64_t since_ms, int64_t until_ms, int64_t *first_hour_ms,
		     int64_t *end_hour_ms)
{
	int64_t first = store_hour_floor_ms(since_ms), end;

	if (first < since_ms)
		first += 3600000;
	end = store_hour_floor_ms(until_ms);
	if (end < first)
		end = first; /* no whole hour inside: all raw */
	*first_hour_ms = first;
	*end_hour_ms = end;
}

int store_inventory_put(struct store *s, const char *text, size_t len,
			const char *source, int64_t now_ms, int *changed)
{
	if (!s->ops->inventory_put) {
		snprintf(s->err, sizeof(s->err), "the %s store keeps no inventory", s->ops->name);
		return -1;
	}
	return s->ops->inventory_put(s->h, text, len, source, now_ms, changed,
				     s->err, sizeof(s->err));
}

int store_inventory_get(struct store *s, struct store_inventory *out)
{
	if (!s->ops->inventory_get)
		return 0; /* a backend without one: none stored */
	return s->ops->inventory_get(s->h, out, s->err, sizeof(s->err));
}
