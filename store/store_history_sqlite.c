/* Suspect history in the collector's SQLite file (store/store_history.h):
 * rounds, episodes and points, schema and migrations from schemas/history.sql
 * embedded at build time; WAL and a busy timeout so it shares the file. */
#include "store_history_impl.h"
#include "store_migrate.h"

#include <inttypes.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__asm__(".section .rodata\n"
	".global history_schema_sql\n"
	".type history_schema_sql, @object\n"
	"history_schema_sql:\n"
	".incbin \"schemas/history.sql\"\n"
	".byte 0\n"
	".previous\n");
extern const char history_schema_sql[];

/* The collector may hold the write lock for a group commit; wait it out. */
#define HISTORY_BUSY_TIMEOUT_MS 10000

enum history_stmt {
	HS_ROUND_LAST,
	HS_ROUND_INSERT,
	HS_EPISODE_FIND,
	HS_EPISODE_UPDATE,
	HS_EPISODE_INSERT,
	HS_POINT_INSERT,
	HS_EPISODES_AGE,
	HS_EPISODES_CLOSE,
	HS_EPISODES_QUERY,
	HS_POINTS_ALL,
	HS_POINTS_DEVICE,
	HS_ROUNDS_COUNT,
	HS_EXPIRE_POINTS,
	HS_EXPIRE_ROUNDS,
	HS_EXPIRE_EPISODES,
	HS_COUNT
};

static const char *const history_stmt_sql[HS_COUNT] = {
	[HS_ROUND_LAST] = "SELECT max(at_ms) FROM history_rounds",
	[HS_ROUND_INSERT] =
		"INSERT INTO history_rounds (at_ms, nsuspects) VALUES (?1, ?2)",
	[HS_EPISODE_FIND] =
		"SELECT id, last_seen_ms FROM history_episodes WHERE kind = ?1 "
		"AND from_dev = ?2 AND to_dev = ?3 AND closed_ms = 0",
	[HS_EPISODE_UPDATE] =
		"UPDATE history_episodes SET last_seen_ms = ?2, "
		"loss_ratio_max = max(loss_ratio_max, ?3), loss_ratio_last = ?3, "
		"confidence_last = ?4, rounds = rounds + ?5, absent_rounds = 0 "
		"WHERE id = ?1",
	[HS_EPISODE_INSERT] =
		"INSERT INTO history_episodes (kind, from_dev, to_dev, opened_ms, "
		"last_seen_ms, loss_ratio_max, loss_ratio_last, confidence_last, "
		"rounds) VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?5, ?6, 1)",
	[HS_POINT_INSERT] =
		"INSERT INTO history_points (round_id, episode_id, at_ms, kind, "
		"from_dev, to_dev, loss_ratio, loss_lo, loss_hi, confidence, flows, "
		"lossy_flows, probers) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
		"?10, ?11, ?12, ?13)",
	[HS_EPISODES_AGE] =
		"UPDATE history_episodes SET absent_rounds = absent_rounds + 1 "
		"WHERE closed_ms = 0 AND last_seen_ms < ?1",
	[HS_EPISODES_CLOSE] =
		"UPDATE history_episodes SET closed_ms = ?1 "
		"WHERE closed_ms = 0 AND absent_rounds >= ?2",
	[HS_EPISODES_QUERY] =
		"SELECT id, kind, from_dev, to_dev, opened_ms, last_seen_ms, "
		"closed_ms, loss_ratio_max, loss_ratio_last, confidence_last, rounds "
		"FROM history_episodes WHERE opened_ms < ?2 "
		"AND (closed_ms = 0 OR closed_ms >= ?1) ORDER BY opened_ms, id",
	[HS_POINTS_ALL] =
		"SELECT at_ms, kind, from_dev, to_dev, loss_ratio, loss_lo, loss_hi, "
		"confidence, flows, lossy_flows, probers FROM history_points "
		"WHERE at_ms >= ?1 AND at_ms < ?2 ORDER BY at_ms, rowid",
	[HS_POINTS_DEVICE] =
		"SELECT at_ms, kind, from_dev, to_dev, loss_ratio, loss_lo, loss_hi, "
		"confidence, flows, lossy_flows, probers FROM history_points "
		"WHERE from_dev = ?3 AND at_ms >= ?1 AND at_ms < ?2 "
		"UNION ALL "
		"SELECT at_ms, kind, from_dev, to_dev, loss_ratio, loss_lo, loss_hi, "
		"confidence, flows, lossy_flows, probers FROM history_points "
		"WHERE to_dev = ?3 AND from_dev <> ?3 AND at_ms >= ?1 AND at_ms < ?2 "
		"ORDER BY 1",
	[HS_ROUNDS_COUNT] = "SELECT count(*) FROM history_rounds "
			    "WHERE at_ms >= ?1 AND at_ms < ?2",
	[HS_EXPIRE_POINTS] = "DELETE FROM history_points WHERE at_ms < ?1",
	[HS_EXPIRE_ROUNDS] = "DELETE FROM history_rounds WHERE at_ms < ?1",
	/* an old episode keeps its points' episode ids valid: points go first */
	[HS_EXPIRE_EPISODES] = "DELETE FROM history_episodes WHERE closed_ms <> 0 "
			       "AND closed_ms < ?1 AND id NOT IN "
			       "(SELECT episode_id FROM history_points)",
};

struct history_sqlite {
	sqlite3 *db;
	sqlite3_stmt *st[HS_COUNT];
	char *err; /* the caller's, for the call under way */
	size_t errlen;
};

static int history_fail(struct history_sqlite *h, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Record the reason (with SQLite's message) in the caller's err; -1. */
static int history_fail(struct history_sqlite *h, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(h->err, h->errlen, "%s: %s", what, sqlite3_errmsg(h->db));
	return -1;
}

static void hsq_close(void *arg);

static void *hsq_open(const char *path, char *err, size_t errlen)
{
	struct history_sqlite *h = calloc(1, sizeof(*h));

	if (!h) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* NORMAL sync: a lost last round is redone by the next one */
	if (store_sqlite_file_open(path, HISTORY_BUSY_TIMEOUT_MS, "NORMAL",
				   history_schema_sql, "history_schema_version",
				   "history", history_stmt_sql, h->st, HS_COUNT,
				   &h->db, err, errlen) < 0)
		goto err;
	return h;
err:
	hsq_close(h);
	return NULL;
}

static void hsq_close(void *arg)
{
	struct history_sqlite *h = arg;

	if (!h)
		return;
	for (int i = 0; i < HS_COUNT; i++)
		sqlite3_finalize(h->st[i]);
	sqlite3_close(h->db);
	free(h);
}

/* Reset and clear a statement for its next use. */
static sqlite3_stmt *history_stmt(struct history_sqlite *h, enum history_stmt i)
{
	sqlite3_reset(h->st[i]);
	sqlite3_clear_bindings(h->st[i]);
	return h->st[i];
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	sqlite3_bind_text(st, i, s ? s : "", -1, SQLITE_STATIC);
}

/* Run a statement that returns no rows. */
static int history_exec_step(struct history_sqlite *h, sqlite3_stmt *st,
			     const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return history_fail(h, "%s", what);
	return 0;
}

/* The open episode of s (inserting one if none), its id in *id. */
static int history_episode_touch(struct history_sqlite *h, int64_t at_ms,
				 const struct history_suspect *s, int64_t *id)
{
	sqlite3_stmt *st = history_stmt(h, HS_EPISODE_FIND);
	int rc;

	bind_text(st, 1, s->kind);
	bind_text(st, 2, s->from);
	bind_text(st, 3, s->to);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		int64_t last_ms = sqlite3_column_int64(st, 1);

		*id = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		st = history_stmt(h, HS_EPISODE_UPDATE);
		sqlite3_bind_int64(st, 1, *id);
		sqlite3_bind_int64(st, 2, at_ms);
		sqlite3_bind_double(st, 3, s->loss_ratio);
		sqlite3_bind_double(st, 4, s->confidence);
		/* the same suspect twice in one round counts one round */
		sqlite3_bind_int(st, 5, last_ms < at_ms ? 1 : 0);
		return history_exec_step(h, st, "updating episode");
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return history_fail(h, "finding episode");
	st = history_stmt(h, HS_EPISODE_INSERT);
	bind_text(st, 1, s->kind);
	bind_text(st, 2, s->from);
	bind_text(st, 3, s->to);
	sqlite3_bind_int64(st, 4, at_ms);
	sqlite3_bind_double(st, 5, s->loss_ratio);
	sqlite3_bind_double(st, 6, s->confidence);
	if (history_exec_step(h, st, "opening episode") < 0)
		return -1;
	*id = sqlite3_last_insert_rowid(h->db);
	return 0;
}

static int history_point_insert(struct history_sqlite *h, int64_t round_id,
				int64_t episode_id, int64_t at_ms,
				const struct history_suspect *s)
{
	sqlite3_stmt *st = history_stmt(h, HS_POINT_INSERT);

	sqlite3_bind_int64(st, 1, round_id);
	sqlite3_bind_int64(st, 2, episode_id);
	sqlite3_bind_int64(st, 3, at_ms);
	bind_text(st, 4, s->kind);
	bind_text(st, 5, s->from);
	bind_text(st, 6, s->to);
	sqlite3_bind_double(st, 7, s->loss_ratio);
	sqlite3_bind_double(st, 8, s->loss_lo);
	sqlite3_bind_double(st, 9, s->loss_hi);
	sqlite3_bind_double(st, 10, s->confidence);
	sqlite3_bind_int64(st, 11, (sqlite3_int64)s->flows);
	sqlite3_bind_int64(st, 12, (sqlite3_int64)s->lossy_flows);
	sqlite3_bind_int64(st, 13, s->probers);
	return history_exec_step(h, st, "inserting point");
}

static int hsq_round_record(void *arg, int64_t at_ms,
			    const struct history_suspect *v, size_t n,
			    unsigned close_after_rounds, char *err, size_t errlen)
{
	struct history_sqlite *h = arg;

	h->err = err;
	h->errlen = errlen;
	sqlite3_stmt *st;
	int64_t round_id, last_ms = INT64_MIN;
	int rc;

	if (sqlite3_exec(h->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return history_fail(h, "beginning round");
	st = history_stmt(h, HS_ROUND_LAST);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		last_ms = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW) {
		history_fail(h, "reading last round");
		goto err;
	}
	/* Episodes are aged by round order: an older round (a clock stepped
	 * back) would close or reopen them wrongly. */
	if (at_ms < last_ms) {
		snprintf(h->err, h->errlen,
			 "round at %" PRId64 " ms is older than the last recorded "
			 "round at %" PRId64 " ms",
			 at_ms, last_ms);
		goto err;
	}
	st = history_stmt(h, HS_ROUND_INSERT);
	sqlite3_bind_int64(st, 1, at_ms);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)n);
	if (history_exec_step(h, st, "inserting round") < 0)
		goto err;
	round_id = sqlite3_last_insert_rowid(h->db);
	for (size_t i = 0; i < n; i++) {
		int64_t episode_id = 0;

		if (history_episode_touch(h, at_ms, &v[i], &episode_id) < 0 ||
		    history_point_insert(h, round_id, episode_id, at_ms, &v[i]) < 0)
			goto err;
	}
	st = history_stmt(h, HS_EPISODES_AGE);
	sqlite3_bind_int64(st, 1, at_ms);
	if (history_exec_step(h, st, "aging episodes") < 0)
		goto err;
	st = history_stmt(h, HS_EPISODES_CLOSE);
	sqlite3_bind_int64(st, 1, at_ms);
	sqlite3_bind_int64(st, 2, close_after_rounds ? close_after_rounds : 1);
	if (history_exec_step(h, st, "closing episodes") < 0)
		goto err;
	if (sqlite3_exec(h->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		history_fail(h, "committing round");
		goto err;
	}
	return 0;
err:
	if (!sqlite3_get_autocommit(h->db))
		sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? (const char *)t : "";
}

/* Step st (bound), calling row for each row until it returns non-zero;
 * reset after. Returns 0, row's value, or -1 naming what failed. */
static int hsq_rows_run(struct history_sqlite *h, sqlite3_stmt *st,
			int (*row)(sqlite3_stmt *st, void *arg), void *arg,
			const char *what)
{
	int rc, r = 0;

	while (!r && (rc = sqlite3_step(st)) == SQLITE_ROW)
		r = row(st, arg);
	if (!r && rc != SQLITE_DONE)
		r = history_fail(h, "%s", what);
	sqlite3_reset(st);
	return r;
}

/* hsq_rows_run over st with the window [since_ms, until_ms) bound as ?1, ?2
 * (reasons into the caller's err). */
static int hsq_window_run(struct history_sqlite *h, sqlite3_stmt *st,
			  int64_t since_ms, int64_t until_ms,
			  int (*row)(sqlite3_stmt *st, void *arg), void *arg,
			  const char *what, char *err, size_t errlen)
{
	h->err = err;
	h->errlen = errlen;
	sqlite3_bind_int64(st, 1, since_ms);
	sqlite3_bind_int64(st, 2, until_ms);
	return hsq_rows_run(h, st, row, arg, what);
}

struct hsq_episode_ctx {
	history_episode_cb cb;
	void *arg;
};

static int hsq_episode_row(sqlite3_stmt *st, void *arg)
{
	struct hsq_episode_ctx *x = arg;
	struct history_episode e = {
		.id = sqlite3_column_int64(st, 0),
		.kind = col_text(st, 1),
		.from = col_text(st, 2),
		.to = col_text(st, 3),
		.opened_ms = sqlite3_column_int64(st, 4),
		.last_seen_ms = sqlite3_column_int64(st, 5),
		.closed_ms = sqlite3_column_int64(st, 6),
		.loss_ratio_max = sqlite3_column_double(st, 7),
		.loss_ratio_last = sqlite3_column_double(st, 8),
		.confidence_last = sqlite3_column_double(st, 9),
		.rounds = (uint64_t)sqlite3_column_int64(st, 10),
	};

	return x->cb(&e, x->arg);
}

static int hsq_episodes_query(void *hv, int64_t since_ms, int64_t until_ms,
			      history_episode_cb cb, void *arg, char *err,
			      size_t errlen)
{
	struct history_sqlite *h = hv;
	sqlite3_stmt *st = history_stmt(h, HS_EPISODES_QUERY);
	struct hsq_episode_ctx x = { cb, arg };

	return hsq_window_run(h, st, since_ms, until_ms, hsq_episode_row, &x,
			      "querying episodes", err, errlen);
}

struct hsq_point_ctx {
	history_point_cb cb;
	void *arg;
};

static int hsq_point_row(sqlite3_stmt *st, void *arg)
{
	struct hsq_point_ctx *x = arg;
	struct history_suspect s = {
		.kind = col_text(st, 1),
		.from = col_text(st, 2),
		.to = col_text(st, 3),
		.loss_ratio = sqlite3_column_double(st, 4),
		.loss_lo = sqlite3_column_double(st, 5),
		.loss_hi = sqlite3_column_double(st, 6),
		.confidence = sqlite3_column_double(st, 7),
		.flows = (uint64_t)sqlite3_column_int64(st, 8),
		.lossy_flows = (uint64_t)sqlite3_column_int64(st, 9),
		.probers = (uint32_t)sqlite3_column_int64(st, 10),
	};

	return x->cb(sqlite3_column_int64(st, 0), &s, x->arg);
}

static int hsq_points_query(void *hv, const char *device, int64_t since_ms,
			    int64_t until_ms, history_point_cb cb, void *arg,
			    char *err, size_t errlen)
{
	struct history_sqlite *h = hv;
	sqlite3_stmt *st = history_stmt(h, device ? HS_POINTS_DEVICE : HS_POINTS_ALL);
	struct hsq_point_ctx x = { cb, arg };

	if (device)
		bind_text(st, 3, device);
	return hsq_window_run(h, st, since_ms, until_ms, hsq_point_row, &x,
			      "querying points", err, errlen);
}

static int hsq_expire(void *arg, int64_t before_ms, uint64_t *deleted,
		      char *err, size_t errlen)
{
	static const enum history_stmt order[] = { HS_EXPIRE_POINTS, HS_EXPIRE_ROUNDS,
						   HS_EXPIRE_EPISODES };
	struct history_sqlite *h = arg;
	uint64_t n = 0;

	h->err = err;
	h->errlen = errlen;
	if (sqlite3_exec(h->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return history_fail(h, "beginning expiry");
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		sqlite3_stmt *st = history_stmt(h, order[i]);

		sqlite3_bind_int64(st, 1, before_ms);
		if (history_exec_step(h, st, "expiring history") < 0)
			goto err;
		n += (uint64_t)sqlite3_changes(h->db);
	}
	if (sqlite3_exec(h->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		history_fail(h, "committing expiry");
		goto err;
	}
	if (deleted)
		*deleted = n;
	return 0;
err:
	if (!sqlite3_get_autocommit(h->db))
		sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

static int hsq_rounds_count(void *arg, int64_t since_ms, int64_t until_ms,
			    uint64_t *n, char *err, size_t errlen)
{
	struct history_sqlite *h = arg;
	sqlite3_stmt *st = history_stmt(h, HS_ROUNDS_COUNT);
	int rc;

	h->err = err;
	h->errlen = errlen;

	sqlite3_bind_int64(st, 1, since_ms);
	sqlite3_bind_int64(st, 2, until_ms);
	rc = sqlite3_step(st);
	*n = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return history_fail(h, "counting rounds");
	return 0;
}

static int hsq_prober_row(sqlite3_stmt *st, void *arg)
{
	return history_prober_walk_row(
		arg, col_text(st, 0), sqlite3_column_int64(st, 7),
		sqlite3_column_type(st, 1) != SQLITE_NULL,
		sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2),
		(uint64_t)sqlite3_column_int64(st, 3),
		(uint64_t)sqlite3_column_int64(st, 4),
		(uint64_t)sqlite3_column_int64(st, 5),
		(uint32_t)sqlite3_column_int64(st, 6));
}

static int hsq_prober_health_query(void *hv, int64_t since_ms,
				   int64_t until_ms, history_prober_cb cb,
				   void *arg, char *err, size_t errlen)
{
	/* Left join: a prober with no batch in the window is the one that was
	 * down all along, and must still be listed. Prepared per call, since
	 * the store's tables may be absent in a history-only file. */
	static const char sql[] =
		"SELECT p.name, b.start_ms, b.end_ms, "
		"coalesce(hl.if_rx_errors + hl.if_tx_errors, 0), "
		"coalesce(hl.if_rx_dropped + hl.if_tx_dropped, 0), "
		"coalesce(hl.spool_dropped, 0), coalesce(hl.links_down, 0), p.first_seen_ms "
		"FROM probers p LEFT JOIN batches b ON b.prober_id = p.id "
		"AND b.end_ms > ?1 AND b.start_ms < ?2 "
		"LEFT JOIN health hl ON hl.batch_id = b.id "
		"WHERE p.last_seen_ms >= ?3 ORDER BY p.name, b.start_ms";
	struct history_sqlite *h = hv;
	struct history_prober_walk w;
	sqlite3_stmt *st;
	int r;

	h->err = err;
	h->errlen = errlen;
	if (sqlite3_prepare_v2(h->db, sql, -1, &st, NULL) != SQLITE_OK)
		return history_fail(h, "querying prober health (is this a collector database?)");
	sqlite3_bind_int64(st, 1, since_ms);
	sqlite3_bind_int64(st, 2, until_ms);
	sqlite3_bind_int64(st, 3, since_ms - HISTORY_PROBER_RECENT_MS);
	history_prober_walk_init(&w, since_ms, until_ms, cb, arg);
	r = hsq_rows_run(h, st, hsq_prober_row, &w, "querying prober health");
	if (!r)
		r = history_prober_walk_end(&w);
	sqlite3_finalize(st);
	return r;
}

const struct history_ops history_sqlite_ops = {
	.open = hsq_open,
	.close = hsq_close,
	.round_record = hsq_round_record,
	.episodes_query = hsq_episodes_query,
	.points_query = hsq_points_query,
	.prober_health_query = hsq_prober_health_query,
	.expire = hsq_expire,
	.rounds_count = hsq_rounds_count,
};
