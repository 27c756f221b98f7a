/* ClickHouse backend of the store, over its HTTP interface (the connection in
 * store_ch.h). Schema and migrations from schemas/clickhouse.sql; a group of
 * batches is buffered as TSV and inserted at commit, which returns only once
 * the server confirmed every insert; resends are folded by FINAL reads. In a
 * sharded layout reads and writes go through the Distributed tables (the
 * "{name}" table names, store_ch.h); maintenance works on the server's own. */
#include "store.h"
#include "store_ch.h"
#include "clock.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


#define CH_DAY_MS 86400000LL

/* An interval gone dark, as SQLite's OBS_DARK_WHEN (store_sqlite.c): the
 * target up and half or more of its probes unanswered; a flow's dark
 * probes (store_obs_row.lost_dark) are its forward loss in such intervals. */
#define CH_DARK_WHEN "target_down = 0 AND received * 2 <= sent"

enum ch_table { CH_RESULTS, CH_HEALTH, CH_PATHS, CH_BATCHES, CH_TABLES };

static const char *const ch_insert_sql[CH_TABLES] = {
	[CH_RESULTS] = "INSERT INTO {results} (end_ms, start_ms, prober, seq, idx, src, "
		       "target, proto, sport, dport, dscp, sent, received, lost_fwd, "
		       "lost_rev, rtt_min_ns, rtt_p50_ns, rtt_p99_ns, rtt_max_ns, "
		       "target_down, stored_ms) FORMAT TabSeparated",
	[CH_HEALTH] = "INSERT INTO {health} (end_ms, start_ms, prober, seq, if_rx_errors, "
		      "if_tx_errors, if_rx_dropped, if_tx_dropped, links_down, "
		      "spool_dropped) FORMAT TabSeparated",
	[CH_PATHS] = "INSERT INTO {paths} (seen_ms, start_ms, prober, seq, idx, src, target, "
		     "proto, sport, dport, hops, hop_replies, hop_probes) FORMAT TabSeparated",
	/* last: a ledger row means its batch's rows are all in */
	[CH_BATCHES] = "INSERT INTO {batches} (end_ms, start_ms, prober, seq, stored_ms, "
		       "nflows, npaths) FORMAT TabSeparated",
};

struct store_ch {
	struct ch_conn *c;
	struct ch_buf rows[CH_TABLES];
	size_t mark[CH_TABLES]; /* lengths when the open batch began */
	int in_group, in_batch;
	/* the open batch */
	char prober[2 * 64 + 1]; /* TSV-escaped name */
	uint64_t seq;
	int64_t start_ms, end_ms, now_ms;
	uint32_t idx_flow, idx_path, nflows, npaths;
};

/* ---- open/close ---- */

static void ch_close(void *h)
{
	struct store_ch *ch = h;

	if (!ch)
		return;
	ch_conn_close(ch->c);
	for (int i = 0; i < CH_TABLES; i++)
		free(ch->rows[i].p);
	free(ch);
}

static void *ch_open(const char *url, char *err, size_t errlen)
{
	struct store_ch *ch = calloc(1, sizeof(*ch));

	if (!ch) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (!(ch->c = ch_conn_open(url, err, errlen)) ||
	    ch_schemas_apply(ch->c, err, errlen) < 0) {
		ch_close(ch);
		return NULL;
	}
	return ch;
}

/* ---- batches ---- */

static void ch_rows_clear(struct store_ch *ch)
{
	for (int i = 0; i < CH_TABLES; i++) {
		ch->rows[i].len = 0;
		ch->rows[i].oom = 0;
	}
	ch->in_batch = 0;
}

static int ch_group_begin(void *h, char *err, size_t errlen)
{
	struct store_ch *ch = h;

	if (ch->in_group) {
		snprintf(err, errlen, "group already open");
		return -1;
	}
	ch_rows_clear(ch);
	ch->in_group = 1;
	return 0;
}

/* Insert the group's rows, table by table (the ledger last); returns only
 * once the server answered 200 to each: the batches are then stored. A
 * failure leaves some tables written: the prober resends, and the copies
 * are folded by the ReplacingMergeTree keys. */
static int ch_group_commit(void *h, char *err, size_t errlen)
{
	struct store_ch *ch = h;
	int rc = 0;

	if (!ch->in_group) {
		snprintf(err, errlen, "no group open");
		return -1;
	}
	ch->in_group = 0;
	if (ch->in_batch) {
		for (int i = 0; i < CH_TABLES; i++)
			ch->rows[i].len = ch->mark[i];
		ch->in_batch = 0;
	}
	for (int i = 0; i < CH_TABLES && rc == 0; i++) {
		if (ch->rows[i].oom) {
			snprintf(err, errlen, "out of memory buffering rows");
			rc = -1;
		} else if (ch->rows[i].len) {
			rc = ch_insert(ch->c, ch_insert_sql[i], ch->rows[i].p,
				       ch->rows[i].len, err, errlen);
		}
	}
	ch_rows_clear(ch);
	return rc;
}

static void ch_group_abort(void *h)
{
	struct store_ch *ch = h;

	ch_rows_clear(ch);
	ch->in_group = 0;
}

static int ch_batch_begin(void *h, const struct wire_batch *b, int64_t now_ms,
			  int *duplicate, int *seq_reused, char *err,
			  size_t errlen)
{
	struct store_ch *ch = h;

	/* resends are stored again and folded at read time (FINAL): asking
	 * the server first would cost a round trip per batch */
	*duplicate = 0;
	*seq_reused = 0;
	if (!ch->in_group || ch->in_batch) {
		snprintf(err, errlen, "%s", !ch->in_group ? "no group open"
							   : "batch already open");
		return -1;
	}
	for (int i = 0; i < CH_TABLES; i++)
		ch->mark[i] = ch->rows[i].len;
	ch_tsv_escape(b->prober, ch->prober, sizeof(ch->prober));
	ch->seq = b->seq;
	ch->start_ms = b->start_ms;
	ch->end_ms = b->end_ms;
	ch->now_ms = now_ms;
	ch->idx_flow = ch->idx_path = 0;
	ch->nflows = b->nflows;
	ch->npaths = b->npaths;
	ch->in_batch = 1;
	return 0;
}

static int ch_batch_open_check(struct store_ch *ch, char *err, size_t errlen)
{
	if (!ch->in_batch) {
		snprintf(err, errlen, "no batch open");
		return -1;
	}
	return 0;
}

static int ch_flow_insert(void *h, const struct wire_flow *f, char *err,
			  size_t errlen)
{
	struct store_ch *ch = h;
	char src[64], dst[64];

	if (ch_batch_open_check(ch, err, errlen) < 0)
		return -1;
	if (!f->src.family || !f->dst.family) {
		snprintf(err, errlen, "flow %u->%u without an address", f->sport,
			 f->dport);
		return -1;
	}
	/* the columns of schemas/clickhouse.sql's results, in order */
	struct ch_buf *b = &ch->rows[CH_RESULTS];
	const uint64_t nums[] = { f->proto, f->sport, f->dport, f->dscp, f->sent, f->received,
				  f->lost_fwd, f->lost_rev, f->rtt_min_ns, f->rtt_p50_ns,
				  f->rtt_p99_ns, f->rtt_max_ns, f->target_down ? 1u : 0u };

	ch_buf_i64_add(b, ch->end_ms, '\t');
	ch_buf_i64_add(b, ch->start_ms, '\t');
	ch_buf_add(b, ch->prober, strlen(ch->prober));
	ch_buf_add(b, "\t", 1);
	ch_buf_u64_add(b, ch->seq, '\t');
	ch_buf_u64_add(b, ch->idx_flow++, '\t');
	wire_addr_str(&f->src, src, sizeof(src));
	wire_addr_str(&f->dst, dst, sizeof(dst));
	ch_buf_add(b, src, strlen(src));
	ch_buf_add(b, "\t", 1);
	ch_buf_add(b, dst, strlen(dst));
	ch_buf_add(b, "\t", 1);
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
		ch_buf_u64_add(b, nums[i], '\t');
	ch_buf_i64_add(b, ch->now_ms, '\n');
	return 0;
}

static int ch_path_insert(void *h, const struct wire_path *p, char *err,
			  size_t errlen)
{
	char hops[WIRE_HOPS_MAX * 41 + 2], replies[WIRE_HOPS_MAX * 7],
		probes[WIRE_HOPS_MAX * 7], src[64], dst[64];
	struct store_ch *ch = h;
	struct ch_buf *b = &ch->rows[CH_PATHS];

	if (ch_batch_open_check(ch, err, errlen) < 0)
		return -1;
	store_path_text_build(p, hops, sizeof(hops), replies, probes,
			      sizeof(replies));
	ch_buf_printf(b, "%" PRId64 "\t%" PRId64 "\t%s\t%" PRIu64 "\t%u\t%s\t%s\t%u\t%u\t%u\t",
		      ch->end_ms, ch->start_ms, ch->prober, ch->seq, ch->idx_path++,
		      wire_addr_str(&p->src, src, sizeof(src)),
		      wire_addr_str(&p->dst, dst, sizeof(dst)), p->proto, p->sport,
		      p->dport);
	ch_buf_add(b, hops, strlen(hops));
	ch_buf_add(b, "\t", 1);
	ch_buf_add(b, replies, strlen(replies));
	ch_buf_add(b, "\t", 1);
	ch_buf_add(b, probes, strlen(probes));
	ch_buf_add(b, "\n", 1);
	return 0;
}

static int ch_health_insert(void *h, const struct wire_health *hl, char *err,
			    size_t errlen)
{
	struct store_ch *ch = h;

	if (ch_batch_open_check(ch, err, errlen) < 0)
		return -1;
	ch_buf_printf(&ch->rows[CH_HEALTH],
		      "%" PRId64 "\t%" PRId64 "\t%s\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
		      "\t%" PRIu64 "\t%" PRIu64 "\t%u\t%u\n",
		      ch->end_ms, ch->start_ms, ch->prober, ch->seq,
		      hl->if_rx_errors, hl->if_tx_errors, hl->if_rx_dropped,
		      hl->if_tx_dropped, hl->links_down, hl->spool_dropped);
	return 0;
}

static int ch_batch_end(void *h, char *err, size_t errlen)
{
	struct store_ch *ch = h;

	if (ch_batch_open_check(ch, err, errlen) < 0)
		return -1;
	ch_buf_printf(&ch->rows[CH_BATCHES],
		      "%" PRId64 "\t%" PRId64 "\t%s\t%" PRIu64 "\t%" PRId64 "\t%u\t%u\n",
		      ch->end_ms, ch->start_ms, ch->prober, ch->seq, ch->now_ms,
		      ch->nflows, ch->npaths);
	ch->in_batch = 0;
	return 0;
}

static void ch_batch_abort(void *h)
{
	struct store_ch *ch = h;

	if (!ch->in_batch)
		return;
	for (int i = 0; i < CH_TABLES; i++)
		ch->rows[i].len = ch->mark[i];
	ch->in_batch = 0;
}

/* ---- rollup and retention ---- */

/* Rollups are written by retention, from deduplicated raw results, right
 * before a day's raw partition is dropped; nothing to do between. */
static int ch_rollup_run(void *h, int64_t deadline_ms, uint64_t *batches_rolled,
			 int *more, char *err, size_t errlen)
{
	(void)h;
	(void)deadline_ms;
	(void)more;
	(void)err;
	(void)errlen;
	*batches_rolled = 0;
	return 0;
}

/* "YYYY-MM-DD" or "YYYYMM" partition id to the UTC ms of its start and end. */
static int ch_partition_span(const char *id, int64_t *start_ms, int64_t *end_ms)
{
	struct tm tm = { 0 };
	int y, m, d = 1, n = (int)strlen(id);

	if (n == 10 && sscanf(id, "%4d-%2d-%2d", &y, &m, &d) == 3) {
		tm.tm_year = y - 1900;
		tm.tm_mon = m - 1;
		tm.tm_mday = d;
		*start_ms = (int64_t)timegm(&tm) * 1000;
		*end_ms = *start_ms + CH_DAY_MS;
		return 0;
	}
	if (n == 6 && sscanf(id, "%4d%2d", &y, &m) == 2) {
		tm.tm_year = y - 1900;
		tm.tm_mon = m - 1;
		tm.tm_mday = 1;
		*start_ms = (int64_t)timegm(&tm) * 1000;
		tm.tm_mon++;
		*end_ms = (int64_t)timegm(&tm) * 1000;
		return 0;
	}
	return -1;
}

/* The partitions of table holding data, oldest first, as a malloc'd
 * newline-separated list. */
static char *ch_partitions(struct store_ch *ch, const char *table, char *err,
			   size_t errlen)
{
	char sql[256];
	const char *r;
	char *out;

	snprintf(sql, sizeof(sql),
		 "SELECT DISTINCT partition FROM system.parts WHERE active AND "
		 "database = currentDatabase() AND table = '%s' ORDER BY partition",
		 table);
	if (ch_query(ch->c, sql, &r, err, errlen) < 0)
		return NULL;
	out = strdup(r);
	if (!out)
		snprintf(err, errlen, "out of memory");
	return out;
}

static int ch_day_expire(struct store_ch *ch, const char *day, int64_t end_ms,
			 int roll, struct store_retention_stats *st, char *err,
			 size_t errlen)
{
	char sql[2048];
	int64_t n = 0;

	if (roll) {
		snprintf(sql, sizeof(sql),
			 "INSERT INTO rollup_hourly (hour_ms, prober, src, target, proto, "
			 "sport, dport, intervals, sent, received, lost_fwd, lost_rev, "
			 "down_intervals, rtt_min_ns, rtt_p50_weighted_ns, rtt_p99_max_ns, "
			 "rtt_max_ns, up_sent, up_received, up_lost_fwd, up_lost_rev, "
			 "up_lost_dark) "
			 "SELECT intDiv(end_ms, 3600000) * 3600000 AS h, prober, src, "
			 "target, proto, sport, dport, count(), sum(sent), sum(received), "
			 "sum(lost_fwd), sum(lost_rev), sum(target_down), "
			 "minIf(rtt_min_ns, rtt_min_ns > 0), sum(rtt_p50_ns * received), "
			 "max(rtt_p99_ns), max(rtt_max_ns), sumIf(sent, target_down = 0), "
			 "sumIf(received, target_down = 0), sumIf(lost_fwd, target_down = 0), "
			 "sumIf(lost_rev, target_down = 0), sumIf(lost_fwd, " CH_DARK_WHEN ") "
			 "FROM results FINAL "
			 "WHERE day = '%s' GROUP BY h, prober, src, target, proto, sport, dport",
			 day);
		if (ch_query(ch->c, sql, NULL, err, errlen) < 0)
			return -1;
		snprintf(sql, sizeof(sql),
			 "SELECT count() FROM batches FINAL WHERE day = '%s'", day);
		if (ch_query_i64(ch->c, sql, &n, err, errlen) < 0)
			return -1;
		snprintf(sql, sizeof(sql),
			 "INSERT INTO raw_expired VALUES (%" PRId64 ", toInt64(now()) * 1000)",
			 end_ms);
		if (ch_query(ch->c, sql, NULL, err, errlen) < 0)
			return -1;
		st->batches_rolled += (uint64_t)n;
		st->batches_expired += (uint64_t)n;
	}
	snprintf(sql, sizeof(sql), "ALTER TABLE results DROP PARTITION '%s'", day);
	if (ch_query(ch->c, sql, NULL, err, errlen) < 0)
		return -1;
	snprintf(sql, sizeof(sql), "ALTER TABLE health DROP PARTITION '%s'", day);
	return ch_query(ch->c, sql, NULL, err, errlen);
}

static int ch_months_expire(struct store_ch *ch, const char *table,
			    int64_t before_ms, uint64_t *rows, char *err,
			    size_t errlen)
{
	char *parts = ch_partitions(ch, table, err, errlen), *save = NULL, *id;
	int rc = 0;

	if (!parts)
		return -1;
	for (id = strtok_r(parts, "\n", &save); id && rc == 0;
	     id = strtok_r(NULL, "\n", &save)) {
		int64_t s, e, n = 0;
		char sql[256];

		if (ch_partition_span(id, &s, &e) < 0 || e > before_ms)
			continue;
		if (rows) {
			snprintf(sql, sizeof(sql),
				 "SELECT sum(rows) FROM system.parts WHERE active AND "
				 "database = currentDatabase() AND table = '%s' AND "
				 "partition = '%s'", table, id);
			rc = ch_query_i64(ch->c, sql, &n, err, errlen);
			*rows += (uint64_t)n;
		}
		snprintf(sql, sizeof(sql), "ALTER TABLE %s DROP PARTITION %s", table,
			 id);
		if (rc == 0)
			rc = ch_query(ch->c, sql, NULL, err, errlen);
	}
	free(parts);
	return rc;
}

/* Whole days only: a day's raw results go once the whole day ended before
 * raw_before_ms (a day later than SQLite's per-batch rule at most). */
static int ch_retention_run(void *h, int64_t raw_before_ms,
			    int64_t rollup_before_ms, int64_t deadline_ms,
			    struct store_retention_stats *st, char *err,
			    size_t errlen)
{
	struct store_ch *ch = h;
	char *parts, *save = NULL, *id;
	int64_t boundary;
	int rc = 0;

	if (ch->in_group) {
		snprintf(err, errlen, "retention inside an open group");
		return -1;
	}
	if (ch_query_i64(ch->c, "SELECT max(before_ms) FROM raw_expired", &boundary,
			 err, errlen) < 0 ||
	    !(parts = ch_partitions(ch, "results", err, errlen)))
		return -1;
	for (id = strtok_r(parts, "\n", &save); id && rc == 0;
	     id = strtok_r(NULL, "\n", &save)) {
		int64_t s, e;

		if (ch_partition_span(id, &s, &e) < 0 || e > raw_before_ms)
			continue;
		if (deadline_ms && clock_mono_ms() >= deadline_ms) {
			st->more = 1;
			break;
		}
		/* a day below the boundary is a late resend into a day already
		 * rolled up: dropped without touching its rollup */
		rc = ch_day_expire(ch, id, e, s >= boundary, st, err, errlen);
	}
	free(parts);
	if (rc < 0)
		return -1;
	if (ch_months_expire(ch, "rollup_hourly", rollup_before_ms,
			     &st->rollups_deleted, err, errlen) < 0 ||
	    ch_months_expire(ch, "batches", rollup_before_ms, NULL, err, errlen) < 0 ||
	    ch_months_expire(ch, "paths", rollup_before_ms, NULL, err, errlen) < 0)
		return -1;
	return 0;
}

/* ---- queries ---- */

#define CH_FLOW_COLS "prober, src, target, proto, sport, dport"

struct ch_obs_ctx {
	store_obs_cb cb;
	void *arg;
};

/* The latest path of each flow among those first seen by until_ms, as
 * SQLite's paths table answers it (last seen, then first seen, latest). */
#define CH_PATHS_SQL                                                          \
	"SELECT " CH_FLOW_COLS ", argMax(hops, (ls, fs)) AS hops FROM ("      \
	"SELECT " CH_FLOW_COLS ", hops, min(seen_ms) AS fs, max(seen_ms) AS ls " \
	"FROM {paths} FINAL GROUP BY " CH_FLOW_COLS ", hops "                   \
	"HAVING fs <= %" PRId64 ") GROUP BY " CH_FLOW_COLS

static int ch_obs_row_cb(char **f, void *arg)
{
	struct ch_obs_ctx *x = arg;
	struct store_obs_row row;
	uint64_t n[8];

	for (int i = 0; i < 8; i++)
		n[i] = strtoull(f[3 + i], NULL, 10);
	store_obs_row_fill(&row, f[0], f[1], f[2], n, f[12][0] ? f[12] : NULL);
	row.lost_dark = strtoull(f[11], NULL, 10);
	return x->cb(&row, x->arg);
}

static int ch_obs_rows_run(struct store_ch *ch, const char *sql,
			   store_obs_cb cb, void *arg, char *err, size_t errlen)
{
	struct ch_obs_ctx x = { cb, arg };

	return ch_rows_each(ch->c, sql, 13, ch_obs_row_cb, &x, err, errlen);
}

static int ch_observations_query(void *h, int64_t since_ms, int64_t until_ms,
				 store_obs_cb cb, void *arg, char *err,
				 size_t errlen)
{
	struct store_ch *ch = h;
	char sql[2048];

	if (ch->in_group) {
		snprintf(err, errlen, "query inside an open group");
		return -1;
	}
	/* target-down intervals are not fabric loss: kept out of the sums */
	snprintf(sql, sizeof(sql),
		 "SELECT " CH_FLOW_COLS ", s, l, r, lr, d, k, hops FROM ("
		 "SELECT " CH_FLOW_COLS ", sumIf(sent, target_down = 0) AS s, "
		 "sumIf(lost_fwd, target_down = 0) AS l, "
		 "sumIf(received, target_down = 0) AS r, "
		 "sumIf(lost_rev, target_down = 0) AS lr, sum(target_down) AS d, "
		 "sumIf(lost_fwd, " CH_DARK_WHEN ") AS k "
		 "FROM {results} FINAL WHERE end_ms > %" PRId64 " AND start_ms < %" PRId64
		 " GROUP BY " CH_FLOW_COLS ") ANY LEFT JOIN (" CH_PATHS_SQL ") "
		 "USING (" CH_FLOW_COLS ") ORDER BY " CH_FLOW_COLS
		 " FORMAT TabSeparated",
		 since_ms, until_ms, until_ms);
	return ch_obs_rows_run(ch, sql, cb, arg, err, errlen);
}

/* Raw results where kept (at or after the raw_expired boundary), hourly
 * rollups for the whole hours below it: each batch once, in the window its
 * end falls in. In a sharded layout each shard has its own boundary (its
 * maintenance rolls up and drops its own days), and per shard rollups and
 * raw rows cover disjoint times: both are read over the whole window. */
static int ch_observations_hourly_query(void *h, int64_t since_ms,
					int64_t until_ms, store_obs_cb cb,
					void *arg, char *err, size_t errlen)
{
	struct store_ch *ch = h;
	int64_t first_hour, end_hour, boundary = INT64_MIN;
	char sql[3072];

	if (ch->in_group) {
		snprintf(err, errlen, "query inside an open group");
		return -1;
	}
	if (!ch_conn_sharded(ch->c) &&
	    ch_query_i64(ch->c, "SELECT max(before_ms) FROM raw_expired", &boundary,
			 err, errlen) < 0)
		return -1;
	store_hour_span(since_ms, until_ms, &first_hour, &end_hour);
	if (!ch_conn_sharded(ch->c) && end_hour > boundary)
		end_hour = boundary;
	snprintf(sql, sizeof(sql),
		 "SELECT " CH_FLOW_COLS ", s, l, r, lr, d, k, hops FROM ("
		 "SELECT " CH_FLOW_COLS ", sum(s1) AS s, sum(l1) AS l, sum(r1) AS r, "
		 "sum(lr1) AS lr, sum(d1) AS d, sum(k1) AS k FROM ("
		 "SELECT " CH_FLOW_COLS ", if(target_down = 0, sent, 0) AS s1, "
		 "if(target_down = 0, lost_fwd, 0) AS l1, "
		 "if(target_down = 0, received, 0) AS r1, "
		 "if(target_down = 0, lost_rev, 0) AS lr1, toUInt64(target_down) AS d1, "
		 "if(" CH_DARK_WHEN ", lost_fwd, 0) AS k1 "
		 "FROM {results} FINAL WHERE end_ms >= %" PRId64 " AND end_ms < %" PRId64
		 " UNION ALL "
		 "SELECT " CH_FLOW_COLS ", up_sent AS s1, up_lost_fwd AS l1, "
		 "up_received AS r1, up_lost_rev AS lr1, down_intervals AS d1, "
		 "up_lost_dark AS k1 "
		 "FROM {rollup_hourly} FINAL WHERE hour_ms >= %" PRId64
		 " AND hour_ms < %" PRId64 ") GROUP BY " CH_FLOW_COLS ") "
		 "ANY LEFT JOIN (" CH_PATHS_SQL ") USING (" CH_FLOW_COLS ") "
		 "ORDER BY " CH_FLOW_COLS " FORMAT TabSeparated",
		 since_ms > boundary ? since_ms : boundary, until_ms, first_hour,
		 end_hour, until_ms);
	return ch_obs_rows_run(ch, sql, cb, arg, err, errlen);
}

/* ---- inventory ---- */

static int ch_inventory_row_cb(char **f, void *arg)
{
	struct store_inventory *out = arg;

	out->loaded_ms = strtoll(f[0], NULL, 10);
	snprintf(out->source, sizeof(out->source), "%s", f[1]);
	out->len = strlen(f[2]);
	out->text = strdup(f[2]);
	return out->text ? 1 : 2;
}

static int ch_inventory_get(void *h, struct store_inventory *out, char *err,
			    size_t errlen)
{
	struct store_ch *ch = h;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = ch_rows_each(ch->c, "SELECT loaded_ms, source, text FROM {inventory} "
				 "ORDER BY loaded_ms DESC LIMIT 1 FORMAT TabSeparated",
			  3, ch_inventory_row_cb, out, err, errlen);
	if (rc == 2) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return rc;
}

static int ch_inventory_put(void *h, const char *text, size_t len,
			    const char *source, int64_t now_ms, int *changed,
			    char *err, size_t errlen)
{
	static const char head[] =
		"INSERT INTO {inventory} (loaded_ms, source, text) FORMAT TabSeparated";
	struct store_ch *ch = h;
	struct store_inventory cur;
	struct ch_buf b = { 0 };
	char *t;
	int rc;

	*changed = 0;
	if (ch->in_group) {
		snprintf(err, errlen, "inventory load inside an open group");
		return -1;
	}
	rc = ch_inventory_get(ch, &cur, err, errlen);
	if (rc < 0)
		return -1;
	if (rc == 1) {
		int same = cur.len == len && !memcmp(cur.text, text, len) &&
			   !strcmp(cur.source, source);

		free(cur.text);
		if (same)
			return 0;
	}
	if (!(t = strndup(text, len))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ch_buf_printf(&b, "%" PRId64 "\t", now_ms);
	ch_buf_tsv_add(&b, source);
	ch_buf_add(&b, "\t", 1);
	ch_buf_tsv_add(&b, t);
	ch_buf_add(&b, "\n", 1);
	free(t);
	rc = b.oom ? -1 : ch_insert(ch->c, head, b.p, b.len, err, errlen);
	if (b.oom)
		snprintf(err, errlen, "out of memory");
	free(b.p);
	if (rc < 0)
		return -1;
	*changed = 1;
	return 0;
}

const struct store_ops store_clickhouse_ops = {
	.name = "clickhouse",
	.open = ch_open,
	.close = ch_close,
	.group_begin = ch_group_begin,
	.group_commit = ch_group_commit,
	.group_abort = ch_group_abort,
	.batch_begin = ch_batch_begin,
	.flow_insert = ch_flow_insert,
	.path_insert = ch_path_insert,
	.health_insert = ch_health_insert,
	.batch_end = ch_batch_end,
	.batch_abort = ch_batch_abort,
	.rollup_run = ch_rollup_run,
	.retention_run = ch_retention_run,
	.observations_query = ch_observations_query,
	.observations_hourly_query = ch_observations_hourly_query,
	.inventory_put = ch_inventory_put,
	.inventory_get = ch_inventory_get,
};
