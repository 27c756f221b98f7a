/* SQL for the collector's metrics: per-prober batches, spool drops and probe
 * counts over a recent window, read on a read-only SQLite connection (WAL
 * lets it read while ingest writes) or on its own ClickHouse connection. */
#include "store_metrics.h"
#include "store.h"
#include "store_ch.h"

#include <inttypes.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#define STORE_METRICS_BUSY_MS 2000

struct store_metrics {
	sqlite3 *db;
	sqlite3_stmt *probers;
	struct ch_conn *ch; /* a ClickHouse store instead */
};

/* The same figures from ClickHouse: each table summed per prober over the
 * window, joined on the prober (one JOIN per SELECT in 18.16); resends
 * counted once (FINAL, or distinct batches). The prober list reads the
 * ledger's last STORE_METRICS_CH_DAYS days only, not its whole history as
 * SQLite's probers table does: a scrape must not read months of ledger. */
#define STORE_METRICS_CH_DAYS "8"
static const char store_metrics_ch_sql[] =
	"SELECT prober, last_seen, nb, sd, ld, s, lf, lr FROM ("
	"SELECT prober, last_seen, nb, sd, ld FROM ("
	"SELECT prober, max(stored_ms) AS last_seen, "
	"uniqExactIf(seq, start_ms, end_ms >= %" PRId64 ") AS nb FROM {batches} "
	"WHERE day >= today() - " STORE_METRICS_CH_DAYS " GROUP BY prober) ANY LEFT JOIN ("
	"SELECT prober, sum(spool_dropped) AS sd, sum(links_down) AS ld "
	"FROM {health} FINAL WHERE end_ms >= %" PRId64 " GROUP BY prober) USING (prober)) "
	"ANY LEFT JOIN ("
	"SELECT prober, sum(sent) AS s, sum(lost_fwd) AS lf, sum(lost_rev) AS lr "
	"FROM {results} FINAL WHERE end_ms >= %" PRId64 " AND target_down = 0 "
	"GROUP BY prober) USING (prober) ORDER BY prober FORMAT TabSeparated";

/* Correlated subqueries walk batches_by_end for the window only, so a scrape
 * costs the window's rows, not the whole history. */
static const char store_metrics_probers_sql[] =
	"SELECT p.name, p.last_seen_ms,"
	" (SELECT COUNT(*) FROM batches b WHERE b.prober_id = p.id AND b.end_ms >= ?1),"
	" (SELECT COALESCE(SUM(h.spool_dropped), 0) FROM batches b JOIN health h"
	"   ON h.batch_id = b.id WHERE b.prober_id = p.id AND b.end_ms >= ?1),"
	" (SELECT COALESCE(SUM(h.links_down), 0) FROM batches b JOIN health h"
	"   ON h.batch_id = b.id WHERE b.prober_id = p.id AND b.end_ms >= ?1),"
	" (SELECT COALESCE(SUM(r.sent), 0) FROM batches b JOIN results r"
	"   ON r.batch_id = b.id WHERE b.prober_id = p.id AND b.end_ms >= ?1"
	"   AND r.target_down = 0),"
	" (SELECT COALESCE(SUM(r.lost_fwd), 0) FROM batches b JOIN results r"
	"   ON r.batch_id = b.id WHERE b.prober_id = p.id AND b.end_ms >= ?1"
	"   AND r.target_down = 0),"
	" (SELECT COALESCE(SUM(r.lost_rev), 0) FROM batches b JOIN results r"
	"   ON r.batch_id = b.id WHERE b.prober_id = p.id AND b.end_ms >= ?1"
	"   AND r.target_down = 0)"
	" FROM probers p ORDER BY p.name";

struct store_metrics *store_metrics_open(const char *path, char *err,
					 size_t errlen)
{
	struct store_metrics *m;
	int file = store_url_is_file(path, &path);

	if (!(m = calloc(1, sizeof(*m)))) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (!file) {
		if ((m->ch = ch_conn_open(path, err, errlen)))
			return m;
		free(m);
		return NULL;
	}
	if (sqlite3_open_v2(path, &m->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
			 m->db ? sqlite3_errmsg(m->db) : "out of memory");
		goto err;
	}
	sqlite3_busy_timeout(m->db, STORE_METRICS_BUSY_MS);
	if (sqlite3_prepare_v2(m->db, store_metrics_probers_sql, -1, &m->probers,
			       NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(m->db));
		goto err;
	}
	return m;
err:
	sqlite3_close(m->db);
	free(m);
	return NULL;
}

void store_metrics_close(struct store_metrics *m)
{
	if (!m)
		return;
	sqlite3_finalize(m->probers);
	sqlite3_close(m->db);
	ch_conn_close(m->ch);
	free(m);
}

struct store_metrics_ch_ctx {
	store_prober_figures_cb cb;
	void *arg;
};

static int store_metrics_ch_row(char **f, void *arg)
{
	struct store_metrics_ch_ctx *x = arg;
	struct store_prober_figures fig = {
		.prober = f[0],
		.last_seen_ms = strtoll(f[1], NULL, 10),
		.batches = strtoull(f[2], NULL, 10),
		.spool_dropped = strtoull(f[3], NULL, 10),
		.links_down = strtoull(f[4], NULL, 10),
		.probes_sent = strtoull(f[5], NULL, 10),
		.probes_lost_fwd = strtoull(f[6], NULL, 10),
		.probes_lost_rev = strtoull(f[7], NULL, 10),
	};

	return x->cb(&fig, x->arg);
}

static int store_metrics_ch_query(struct store_metrics *m, int64_t since_ms,
				  store_prober_figures_cb cb, void *arg,
				  char *err, size_t errlen)
{
	struct store_metrics_ch_ctx x = { cb, arg };
	char sql[sizeof(store_metrics_ch_sql) + 64];

	snprintf(sql, sizeof(sql), store_metrics_ch_sql, since_ms, since_ms,
		 since_ms);
	return ch_rows_each(m->ch, sql, 8, store_metrics_ch_row, &x, err, errlen);
}

int store_metrics_probers_query(struct store_metrics *m, int64_t since_ms,
				store_prober_figures_cb cb, void *arg,
				char *err, size_t errlen)
{
	sqlite3_stmt *st = m->probers;
	int rc, cbrc = 0;

	if (m->ch)
		return store_metrics_ch_query(m, since_ms, cb, arg, err, errlen);
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, since_ms);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_prober_figures f = {
			.prober = (const char *)sqlite3_column_text(st, 0),
			.last_seen_ms = sqlite3_column_int64(st, 1),
			.batches = (uint64_t)sqlite3_column_int64(st, 2),
			.spool_dropped = (uint64_t)sqlite3_column_int64(st, 3),
			.links_down = (uint64_t)sqlite3_column_int64(st, 4),
			.probes_sent = (uint64_t)sqlite3_column_int64(st, 5),
			.probes_lost_fwd = (uint64_t)sqlite3_column_int64(st, 6),
			.probes_lost_rev = (uint64_t)sqlite3_column_int64(st, 7),
		};

		if (!f.prober)
			continue;
		if ((cbrc = cb(&f, arg)))
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		snprintf(err, errlen, "probers query: %s", sqlite3_errmsg(m->db));
		sqlite3_reset(st);
		return -1;
	}
	sqlite3_reset(st);
	return cbrc;
}
