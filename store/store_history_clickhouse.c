/* Suspect history in the ClickHouse store's database (store_history.h): the
 * same rounds, episodes and points as the SQLite history, schema from
 * schemas/clickhouse_history.sql; an episode's change is a new row version. */
#include "store_history_impl.h"
#include "store_ch.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define HCH_EPISODE_COLS                                                      \
	"id, rev, kind, from_dev, to_dev, opened_ms, last_seen_ms, closed_ms, " \
	"loss_ratio_max, loss_ratio_last, confidence_last, rounds, absent_rounds"
#define HCH_POINT_COLS                                                        \
	"at_ms, kind, from_dev, to_dev, loss_ratio, loss_lo, loss_hi, "        \
	"confidence, flows, lossy_flows, probers"

/* An episode as stored (strings owned). */
struct hch_episode {
	int64_t id;
	uint64_t rev;
	char kind[16], from[256], to[256];
	int64_t opened_ms, last_seen_ms, closed_ms;
	double loss_ratio_max, loss_ratio_last, confidence_last;
	uint64_t rounds, absent_rounds;
	int changed; /* to be written as a new version */
};

struct hch_episodes {
	struct hch_episode *v;
	size_t n, cap;
};

static void *hch_open(const char *url, char *err, size_t errlen)
{
	struct ch_conn *c = ch_conn_open(url, err, errlen);

	if (c && ch_schemas_apply(c, err, errlen) < 0) {
		ch_conn_close(c);
		return NULL;
	}
	return c;
}

static void hch_close(void *h)
{
	ch_conn_close(h);
}

static void hch_episode_parse(char **f, struct hch_episode *e)
{
	memset(e, 0, sizeof(*e));
	e->id = strtoll(f[0], NULL, 10);
	e->rev = strtoull(f[1], NULL, 10);
	snprintf(e->kind, sizeof(e->kind), "%s", f[2]);
	snprintf(e->from, sizeof(e->from), "%s", f[3]);
	snprintf(e->to, sizeof(e->to), "%s", f[4]);
	e->opened_ms = strtoll(f[5], NULL, 10);
	e->last_seen_ms = strtoll(f[6], NULL, 10);
	e->closed_ms = strtoll(f[7], NULL, 10);
	e->loss_ratio_max = strtod(f[8], NULL);
	e->loss_ratio_last = strtod(f[9], NULL);
	e->confidence_last = strtod(f[10], NULL);
	e->rounds = strtoull(f[11], NULL, 10);
	e->absent_rounds = strtoull(f[12], NULL, 10);
}

static struct hch_episode *hch_episode_new(struct hch_episodes *es)
{
	if (es->n == es->cap) {
		size_t cap = es->cap ? 2 * es->cap : 16;
		struct hch_episode *v = realloc(es->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		es->v = v;
		es->cap = cap;
	}
	return &es->v[es->n++];
}

static int hch_open_episode_cb(char **f, void *arg)
{
	struct hch_episode *e = hch_episode_new(arg);

	if (!e)
		return 2;
	hch_episode_parse(f, e);
	return 0;
}

static void hch_episode_row(struct ch_buf *b, const struct hch_episode *e)
{
	ch_buf_printf(b, "%" PRId64 "\t%" PRIu64 "\t", e->id, e->rev);
	ch_buf_tsv_add(b, e->kind);
	ch_buf_add(b, "\t", 1);
	ch_buf_tsv_add(b, e->from);
	ch_buf_add(b, "\t", 1);
	ch_buf_tsv_add(b, e->to);
	ch_buf_printf(b, "\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\t%.17g\t%.17g\t%.17g"
		      "\t%" PRIu64 "\t%" PRIu64 "\n",
		      e->opened_ms, e->last_seen_ms, e->closed_ms, e->loss_ratio_max,
		      e->loss_ratio_last, e->confidence_last, e->rounds,
		      e->absent_rounds);
}

static void hch_point_row(struct ch_buf *b, int64_t at_ms, size_t idx,
			  int64_t episode_id, const struct history_suspect *s)
{
	ch_buf_printf(b, "%" PRId64 "\t%zu\t%" PRId64 "\t", at_ms, idx, episode_id);
	ch_buf_tsv_add(b, s->kind);
	ch_buf_add(b, "\t", 1);
	ch_buf_tsv_add(b, s->from);
	ch_buf_add(b, "\t", 1);
	ch_buf_tsv_add(b, s->to ? s->to : "");
	ch_buf_printf(b, "\t%.17g\t%.17g\t%.17g\t%.17g\t%" PRIu64 "\t%" PRIu64 "\t%u\n",
		      s->loss_ratio, s->loss_lo, s->loss_hi, s->confidence,
		      s->flows, s->lossy_flows, s->probers);
}

/* The SQLite history's rules (store_history_sqlite.c), on the open episodes
 * read into es: touch or open each suspect's episode, then age and close the
 * ones absent this round. Points go into pts. */
static int hch_round_apply(struct hch_episodes *es, int64_t *next_id,
			   int64_t at_ms, const struct history_suspect *v,
			   size_t n, unsigned close_after, struct ch_buf *pts)
{
	for (size_t i = 0; i < n; i++) {
		const char *to = v[i].to ? v[i].to : "";
		struct hch_episode *e = NULL;

		for (size_t k = 0; k < es->n && !e; k++)
			if (!es->v[k].closed_ms && !strcmp(es->v[k].kind, v[i].kind) &&
			    !strcmp(es->v[k].from, v[i].from) && !strcmp(es->v[k].to, to))
				e = &es->v[k];
		if (e) {
			/* the same suspect twice in one round counts one round */
			e->rounds += e->last_seen_ms < at_ms ? 1 : 0;
			e->last_seen_ms = at_ms;
			if (v[i].loss_ratio > e->loss_ratio_max)
				e->loss_ratio_max = v[i].loss_ratio;
			e->loss_ratio_last = v[i].loss_ratio;
			e->confidence_last = v[i].confidence;
			e->absent_rounds = 0;
		} else {
			if (!(e = hch_episode_new(es)))
				return -1;
			*e = (struct hch_episode){
				.id = ++*next_id, .opened_ms = at_ms,
				.last_seen_ms = at_ms, .loss_ratio_max = v[i].loss_ratio,
				.loss_ratio_last = v[i].loss_ratio,
				.confidence_last = v[i].confidence, .rounds = 1,
			};
			snprintf(e->kind, sizeof(e->kind), "%s", v[i].kind);
			snprintf(e->from, sizeof(e->from), "%s", v[i].from);
			snprintf(e->to, sizeof(e->to), "%s", to);
		}
		e->changed = 1;
		hch_point_row(pts, at_ms, i, e->id, &v[i]);
	}
	for (size_t k = 0; k < es->n; k++) {
		struct hch_episode *e = &es->v[k];

		if (e->closed_ms)
			continue;
		if (e->last_seen_ms < at_ms) {
			e->absent_rounds++;
			e->changed = 1;
		}
		if (e->absent_rounds >= close_after) {
			e->closed_ms = at_ms;
			e->changed = 1;
		}
	}
	return 0;
}

/* Points first, then episodes, the round last: a round row means its
 * suspects are recorded (ClickHouse has no transaction to group them). */
static int hch_round_record(void *h, int64_t at_ms,
			    const struct history_suspect *v, size_t n,
			    unsigned close_after, char *err, size_t errlen)
{
	struct ch_conn *c = h;
	struct hch_episodes es = { 0 };
	struct ch_buf pts = { 0 }, eps = { 0 };
	const char *r;
	int64_t nrounds = 0, last_ms = 0, next_id = 0;
	int rc = -1;

	if (ch_query(c, "SELECT count(), max(at_ms) FROM {history_rounds} "
			"FORMAT TabSeparated", &r, err, errlen) < 0)
		return -1;
	if (sscanf(r, "%" SCNd64 "\t%" SCNd64, &nrounds, &last_ms) != 2) {
		snprintf(err, errlen, "clickhouse %s: reading last round: '%.40s'",
			 ch_conn_label(c), r);
		return -1;
	}
	/* Episodes are aged by round order: an older round (a clock stepped
	 * back) would close or reopen them wrongly. */
	if (nrounds && at_ms < last_ms) {
		snprintf(err, errlen,
			 "round at %" PRId64 " ms is older than the last recorded "
			 "round at %" PRId64 " ms", at_ms, last_ms);
		return -1;
	}
	if (ch_query_i64(c, "SELECT max(id) FROM {history_episodes}", &next_id,
			 err, errlen) < 0)
		return -1;
	rc = ch_rows_each(c, "SELECT " HCH_EPISODE_COLS " FROM {history_episodes} "
			     "FINAL WHERE closed_ms = 0 ORDER BY id FORMAT TabSeparated",
			  13, hch_open_episode_cb, &es, err, errlen);
	if (rc == 0 && hch_round_apply(&es, &next_id, at_ms, v, n, close_after,
				       &pts) < 0)
		rc = 2;
	for (size_t k = 0; rc == 0 && k < es.n; k++)
		if (es.v[k].changed) {
			es.v[k].rev++;
			hch_episode_row(&eps, &es.v[k]);
		}
	if (rc == 2 || pts.oom || eps.oom) {
		snprintf(err, errlen, "out of memory");
		rc = -1;
	}
	if (rc == 0 && pts.len)
		rc = ch_insert(c, "INSERT INTO {history_points} (at_ms, idx, "
				  "episode_id, kind, from_dev, to_dev, loss_ratio, "
				  "loss_lo, loss_hi, confidence, flows, lossy_flows, "
				  "probers) FORMAT TabSeparated",
			       pts.p, pts.len, err, errlen);
	if (rc == 0 && eps.len)
		rc = ch_insert(c, "INSERT INTO {history_episodes} (" HCH_EPISODE_COLS
				  ") FORMAT TabSeparated",
			       eps.p, eps.len, err, errlen);
	if (rc == 0) {
		char row[64];

		snprintf(row, sizeof(row), "%" PRId64 "\t%zu\n", at_ms, n);
		rc = ch_insert(c, "INSERT INTO {history_rounds} (at_ms, nsuspects) "
				  "FORMAT TabSeparated",
			       row, strlen(row), err, errlen);
	}
	free(es.v);
	free(pts.p);
	free(eps.p);
	return rc < 0 ? -1 : 0;
}

struct hch_episode_ctx {
	history_episode_cb cb;
	void *arg;
};

static int hch_episode_cb(char **f, void *arg)
{
	struct hch_episode_ctx *x = arg;
	struct hch_episode s;

	hch_episode_parse(f, &s);
	struct history_episode e = {
		.id = s.id, .kind = s.kind, .from = s.from, .to = s.to,
		.opened_ms = s.opened_ms, .last_seen_ms = s.last_seen_ms,
		.closed_ms = s.closed_ms, .loss_ratio_max = s.loss_ratio_max,
		.loss_ratio_last = s.loss_ratio_last,
		.confidence_last = s.confidence_last, .rounds = s.rounds,
	};
	return x->cb(&e, x->arg);
}

static int hch_episodes_query(void *h, int64_t since_ms, int64_t until_ms,
			      history_episode_cb cb, void *arg, char *err,
			      size_t errlen)
{
	struct hch_episode_ctx x = { cb, arg };
	char sql[512];

	snprintf(sql, sizeof(sql),
		 "SELECT " HCH_EPISODE_COLS " FROM {history_episodes} FINAL "
		 "WHERE opened_ms < %" PRId64 " AND (closed_ms = 0 OR closed_ms >= %"
		 PRId64 ") ORDER BY opened_ms, id FORMAT TabSeparated",
		 until_ms, since_ms);
	return ch_rows_each(h, sql, 13, hch_episode_cb, &x, err, errlen);
}

struct hch_point_ctx {
	history_point_cb cb;
	void *arg;
};

static int hch_point_cb(char **f, void *arg)
{
	struct hch_point_ctx *x = arg;
	struct history_suspect s = {
		.kind = f[1], .from = f[2], .to = f[3],
		.loss_ratio = strtod(f[4], NULL), .loss_lo = strtod(f[5], NULL),
		.loss_hi = strtod(f[6], NULL), .confidence = strtod(f[7], NULL),
		.flows = strtoull(f[8], NULL, 10),
		.lossy_flows = strtoull(f[9], NULL, 10),
		.probers = (uint32_t)strtoul(f[10], NULL, 10),
	};

	return x->cb(strtoll(f[0], NULL, 10), &s, x->arg);
}

static int hch_points_query(void *h, const char *device, int64_t since_ms,
			    int64_t until_ms, history_point_cb cb, void *arg,
			    char *err, size_t errlen)
{
	struct hch_point_ctx x = { cb, arg };
	struct ch_buf q = { 0 };
	int rc;

	ch_buf_printf(&q, "SELECT " HCH_POINT_COLS " FROM {history_points} "
			  "WHERE at_ms >= %" PRId64 " AND at_ms < %" PRId64,
		      since_ms, until_ms);
	if (device) {
		ch_buf_printf(&q, " AND (from_dev = ");
		ch_buf_sql_quote(&q, device);
		ch_buf_printf(&q, " OR to_dev = ");
		ch_buf_sql_quote(&q, device);
		ch_buf_printf(&q, ")");
	}
	ch_buf_printf(&q, " ORDER BY at_ms, idx FORMAT TabSeparated");
	if (q.oom) {
		free(q.p);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = ch_rows_each(h, q.p, 11, hch_point_cb, &x, err, errlen);
	free(q.p);
	return rc;
}

/* The probers seen recently, as the prober-health walk lists them. */
struct hch_prober {
	char *name;
	int64_t first_seen_ms;
};

struct hch_probers {
	struct hch_prober *v;
	size_t n, cap, next; /* next: the first not yet started in the walk */
	struct history_prober_walk w;
};

static int hch_prober_cb(char **f, void *arg)
{
	struct hch_probers *p = arg;

	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 64;
		struct hch_prober *v = realloc(p->v, cap * sizeof(*v));

		if (!v)
			return 2;
		p->v = v;
		p->cap = cap;
	}
	if (!(p->v[p->n].name = strdup(f[0])))
		return 2;
	p->v[p->n++].first_seen_ms = strtoll(f[1], NULL, 10);
	return 0;
}

/* Start every listed prober up to name (sorted alike); 1 when name is one
 * of them (its batch rows follow), 0 when it is not listed. */
static int hch_probers_reach(struct hch_probers *p, const char *name, int *rc)
{
	while (p->next < p->n) {
		struct hch_prober *q = &p->v[p->next];
		int cmp = name ? strcmp(q->name, name) : -1;

		if (cmp > 0)
			return 0;
		if (cmp == 0 && p->w.cur.name && !strcmp(p->w.cur.name, name))
			return 1; /* already started */
		if ((*rc = history_prober_walk_row(&p->w, q->name, q->first_seen_ms,
						   0, 0, 0, 0, 0, 0, 0)))
			return 0;
		if (cmp == 0)
			return 1;
		p->next++;
	}
	return 0;
}

static int hch_batch_cb(char **f, void *arg)
{
	struct hch_probers *p = arg;
	int rc = 0;

	if (!hch_probers_reach(p, f[0], &rc))
		return rc;
	return history_prober_walk_row(&p->w, f[0], p->v[p->next].first_seen_ms, 1,
				       strtoll(f[1], NULL, 10),
				       strtoll(f[2], NULL, 10),
				       strtoull(f[3], NULL, 10),
				       strtoull(f[4], NULL, 10),
				       strtoull(f[5], NULL, 10),
				       (uint32_t)strtoul(f[6], NULL, 10));
}

/* A time for a day bound: Date and DateTime are unsigned (18.16 wraps a
 * date below 1970 to the far future), so before 1970 is 1970. */
static int64_t hch_day_ms(int64_t t)
{
	return t > 0 ? t : 0;
}

static int hch_prober_health_query(void *h, int64_t since_ms, int64_t until_ms,
				   history_prober_cb cb, void *arg, char *err,
				   size_t errlen)
{
	struct ch_conn *c = h;
	struct hch_probers p = { 0 };
	int64_t recent_ms = since_ms - HISTORY_PROBER_RECENT_MS;
	char sql[1536];
	int rc;

	/* the store's batch ledger names every prober (SQLite's probers table:
	 * first and last seen on the collector's clock). min and max need no
	 * FINAL, and the day bound keeps a round from reading the whole
	 * ledger: first seen is within the look-back (a prober back after
	 * longer silence counts as new) */
	snprintf(sql, sizeof(sql),
		 "SELECT prober, min(stored_ms) FROM {batches} WHERE day >= "
		 "toDate(toDateTime(intDiv(%" PRId64 ", 1000))) GROUP BY prober "
		 "HAVING max(stored_ms) >= %" PRId64 " ORDER BY prober FORMAT TabSeparated",
		 hch_day_ms(recent_ms - 86400000), recent_ms);
	rc = ch_rows_each(c, sql, 2, hch_prober_cb, &p, err, errlen);
	history_prober_walk_init(&p.w, since_ms, until_ms, cb, arg);
	if (rc == 0) {
		/* left join: a batch without its health row sums zeros */
		snprintf(sql, sizeof(sql),
			 "SELECT prober, start_ms, end_ms, e, d, sd, ld FROM ("
			 "SELECT prober, seq, start_ms, end_ms FROM {batches} FINAL "
			 "WHERE day >= toDate(toDateTime(intDiv(%" PRId64 ", 1000))) "
			 "AND end_ms > %" PRId64 " AND start_ms < %" PRId64 ") "
			 "ANY LEFT JOIN (SELECT prober, seq, start_ms, "
			 "if_rx_errors + if_tx_errors AS e, if_rx_dropped + if_tx_dropped AS d, "
			 "spool_dropped AS sd, links_down AS ld FROM {health} FINAL "
			 "WHERE end_ms > %" PRId64 " AND start_ms < %" PRId64 ") "
			 "USING (prober, seq, start_ms) ORDER BY prober, start_ms "
			 "FORMAT TabSeparated",
			 hch_day_ms(since_ms), since_ms, until_ms, since_ms, until_ms);
		rc = ch_rows_each(c, sql, 7, hch_batch_cb, &p, err, errlen);
	}
	if (rc == 0)
		hch_probers_reach(&p, NULL, &rc);
	if (rc == 0)
		rc = history_prober_walk_end(&p.w);
	if (rc == 2) {
		snprintf(err, errlen, "out of memory");
		rc = -1;
	}
	for (size_t i = 0; i < p.n; i++)
		free(p.v[i].name);
	free(p.v);
	return rc;
}

/* ClickHouse deletes by mutation (ALTER ... DELETE, applied in the
 * background): the rows go soon after, not at once. On this server's tables
 * only: each shard of a sharded layout expires its own. */
static int hch_expire(void *h, int64_t before_ms, uint64_t *deleted, char *err,
		      size_t errlen)
{
	struct ch_conn *c = h;
	struct ch_buf ids = { 0 }, q = { 0 };
	const char *r;
	int64_t npoints = 0, nrounds = 0, neps = 0;
	char sql[512];
	int rc;

	snprintf(sql, sizeof(sql),
		 "SELECT id FROM history_episodes FINAL WHERE closed_ms <> 0 AND "
		 "closed_ms < %" PRId64 " AND id NOT IN (SELECT episode_id FROM "
		 "history_points WHERE at_ms >= %" PRId64 ") FORMAT TabSeparated",
		 before_ms, before_ms);
	if (ch_query(c, sql, &r, err, errlen) < 0)
		return -1;
	for (const char *p = r; *p; p += strcspn(p, "\n") + (p[strcspn(p, "\n")] != 0)) {
		ch_buf_printf(&ids, "%s%.*s", neps ? "," : "", (int)strcspn(p, "\n"), p);
		neps++;
	}
	snprintf(sql, sizeof(sql),
		 "SELECT count() FROM history_points WHERE at_ms < %" PRId64, before_ms);
	rc = ch_query_i64(c, sql, &npoints, err, errlen);
	snprintf(sql, sizeof(sql),
		 "SELECT count() FROM history_rounds WHERE at_ms < %" PRId64, before_ms);
	if (rc == 0)
		rc = ch_query_i64(c, sql, &nrounds, err, errlen);
	snprintf(sql, sizeof(sql),
		 "ALTER TABLE history_points DELETE WHERE at_ms < %" PRId64, before_ms);
	if (rc == 0 && npoints)
		rc = ch_query(c, sql, NULL, err, errlen);
	snprintf(sql, sizeof(sql),
		 "ALTER TABLE history_rounds DELETE WHERE at_ms < %" PRId64, before_ms);
	if (rc == 0 && nrounds)
		rc = ch_query(c, sql, NULL, err, errlen);
	if (rc == 0 && neps) {
		ch_buf_printf(&q, "ALTER TABLE history_episodes DELETE WHERE id IN (");
		ch_buf_add(&q, ids.p, ids.len);
		ch_buf_add(&q, ")", 1);
		rc = q.oom || ids.oom ? -1 : ch_query(c, q.p, NULL, err, errlen);
		if (q.oom || ids.oom)
			snprintf(err, errlen, "out of memory");
	}
	free(ids.p);
	free(q.p);
	*deleted = (uint64_t)(npoints + nrounds + neps);
	return rc;
}

static int hch_rounds_count(void *h, int64_t since_ms, int64_t until_ms,
			    uint64_t *n, char *err, size_t errlen)
{
	char sql[256];
	int64_t v = 0;

	snprintf(sql, sizeof(sql),
		 "SELECT count() FROM {history_rounds} WHERE at_ms >= %" PRId64
		 " AND at_ms < %" PRId64, since_ms, until_ms);
	if (ch_query_i64(h, sql, &v, err, errlen) < 0)
		return -1;
	*n = (uint64_t)v;
	return 0;
}

const struct history_ops history_clickhouse_ops = {
	.open = hch_open,
	.close = hch_close,
	.round_record = hch_round_record,
	.episodes_query = hch_episodes_query,
	.points_query = hch_points_query,
	.prober_health_query = hch_prober_health_query,
	.expire = hch_expire,
	.rounds_count = hch_rounds_count,
};
