/* Store (SQLite backend): migrations, idempotent batches, retention with
 * rollups, path history, and the observations query triangulate reads. */
#include "wire.h"
#include "store.h"
#include "unit_util.h"

#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern const char store_schema_sql[];

#define HOUR_MS 3600000LL
#define DAY_MS (24 * HOUR_MS)

static char dir[64], db_path[128];

static void tmpdb_setup(void)
{
	strcpy(dir, "/tmp/fm-test-store-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(db_path, sizeof(db_path), "%s/fm.db", dir);
}

static void tmpdb_teardown(void)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

static struct store *store_must_open(void)
{
	char err[512];
	struct store *s = store_open("sqlite", db_path, err, sizeof(err));

	cr_assert_not_null(s, "open: %s", err);
	return s;
}

/* Count with plain SQL through a second connection, as an outside reader. */
static long long sql_count(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	long long n = -1;

	cr_assert_eq(sqlite3_open(db_path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
		     sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static void sql_exec(const char *sql)
{
	sqlite3 *db;

	cr_assert_eq(sqlite3_open(db_path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
	sqlite3_close(db);
}

/* A batch of nflows UDP flows from 198.18.1.2 to 198.18.2.2, sport 40000+i,
 * each sent 100 with i lost forward; owns its arrays (free with
 * wire_batch_free). */
static void batch_make(struct wire_batch *b, const char *prober, uint64_t seq, int64_t start_ms,
		       uint32_t nflows)
{
	uint32_t i;

	memset(b, 0, sizeof(*b));
	snprintf(b->prober, sizeof(b->prober), "%s", prober);
	b->seq = seq;
	b->start_ms = start_ms;
	b->end_ms = start_ms + 10000;
	b->health.if_rx_errors = 4;
	b->nflows = nflows;
	b->flows = calloc(nflows, sizeof(*b->flows));
	for (i = 0; i < nflows; i++) {
		struct wire_flow *f = &b->flows[i];

		unit_udp_flow_fill(f, "198.18.1.2", "198.18.2.2", (uint16_t)(40000 + i), 100, i, 0);
		f->rtt_min_ns = 1000 + i;
		f->rtt_p50_ns = 2000;
		f->rtt_max_ns = 5000;
	}
}

static void batch_put_ok(struct store *s, const struct wire_batch *b, int want_dup)
{
	int dup = -1, reused = -1;

	cr_assert_eq(store_batch_put(s, b, b->end_ms + 5, &dup, &reused), 0, "put: %s", store_error(s));
	cr_assert_eq(dup, want_dup, "seq %llu duplicate %d", (unsigned long long)b->seq, dup);
}

TestSuite(store, .init = tmpdb_setup, .fini = tmpdb_teardown);

Test(store, migrates_empty_db_to_latest)
{
	struct store *s = store_must_open();

	store_close(s);
	cr_assert_eq(sql_count("SELECT version FROM schema_version"), 4);
	cr_assert_eq(sql_count("SELECT count(*) FROM sqlite_master WHERE name IN "
			       "('probers','targets','flows','batches','results','health','paths',"
			       "'path_changes','rollup_hourly')"),
		     9);
	cr_assert_eq(sql_count("SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'"), 1);
	/* reopening an up-to-date database changes nothing */
	s = store_must_open();
	store_close(s);
	cr_assert_eq(sql_count("SELECT count(*) FROM schema_version"), 1);
}

/* The binary carries schemas/store.sql; a stale build would migrate to an old
 * schema, so the embedded copy must equal the file. */
Test(store, embedded_schema_matches_file)
{
	FILE *f = fopen("schemas/store.sql", "r");
	static char file_text[1 << 16];
	size_t n;

	if (!f)
		f = fopen("../../schemas/store.sql", "r");
	cr_assert_not_null(f, "run from the source tree");
	n = fread(file_text, 1, sizeof(file_text) - 1, f);
	fclose(f);
	file_text[n] = '\0';
	cr_assert_str_eq(store_schema_sql, file_text, "rebuild: embedded schema differs from schemas/store.sql");
}

Test(store, newer_schema_version_refused)
{
	struct store *s = store_must_open();
	char err[512];

	store_close(s);
	sql_exec("UPDATE schema_version SET version = 99");
	cr_assert_null(store_open("sqlite", db_path, err, sizeof(err)));
	cr_assert(strstr(err, "schema version 99 is newer"), "%s", err);
	cr_assert(strstr(err, db_path), "%s", err);
	/* and nothing was touched */
	cr_assert_eq(sql_count("SELECT version FROM schema_version"), 99);
}

Test(store, unknown_backend_refused)
{
	char err[256];

	cr_assert_null(store_open("mysql", db_path, err, sizeof(err)));
	cr_assert(strstr(err, "mysql"));
}

Test(store, batch_sent_twice_stored_once)
{
	struct store *s = store_must_open();
	struct wire_batch b;

	batch_make(&b, "host1", 1, 1700000000000, 16);
	batch_put_ok(s, &b, 0);
	batch_put_ok(s, &b, 1);
	store_close(s);
	/* and again after a restart, as after kill -9 of the collector */
	s = store_must_open();
	batch_put_ok(s, &b, 1);
	store_close(s);
	cr_assert_eq(sql_count("SELECT count(*) FROM batches"), 1);
	cr_assert_eq(sql_count("SELECT count(*) FROM results"), 16);
	cr_assert_eq(sql_count("SELECT count(*) FROM health"), 1);
	cr_assert_eq(sql_count("SELECT count(*) FROM flows"), 16);
	cr_assert_eq(sql_count("SELECT sum(lost_fwd) FROM results"), 120);
	wire_batch_free(&b);
}

Test(store, seq_reused_after_prober_restart_is_stored)
{
	struct store *s = store_must_open();
	struct wire_batch a, b;
	int dup, reused;

	batch_make(&a, "host1", 1, 1700000000000, 2);
	batch_make(&b, "host1", 1, 1700000600000, 2);
	batch_put_ok(s, &a, 0);
	cr_assert_eq(store_batch_put(s, &b, 0, &dup, &reused), 0);
	cr_assert_eq(dup, 0);
	cr_assert_eq(reused, 1);
	store_close(s);
	cr_assert_eq(sql_count("SELECT count(*) FROM batches"), 2);
	cr_assert_eq(sql_count("SELECT count(*) FROM results"), 4);
	wire_batch_free(&a);
	wire_batch_free(&b);
}

/* A failed batch leaves nothing, its group's other batches commit, and flow
 * ids cached during it are not reused afterwards (they were rolled back). */
Test(store, failed_batch_in_group_leaves_only_itself_out)
{
	struct store *s = store_must_open();
	struct wire_batch a, b, c;
	int dup, reused;

	batch_make(&a, "host1", 1, 1700000000000, 4);
	batch_make(&b, "host2", 1, 1700000000000, 4);
	batch_make(&c, "host3", 1, 1700000000000, 4);
	/* a flow with an address of no family fails inside the store */
	c.flows[3].dst.family = 0;
	cr_assert_eq(store_group_begin(s), 0);
	cr_assert_eq(store_batch_add(s, &a, 0, &dup, &reused), 0);
	cr_assert_eq(store_batch_add(s, &c, 0, &dup, &reused), -1, "bad batch accepted");
	cr_assert_eq(store_batch_add(s, &b, 0, &dup, &reused), 0, "%s", store_error(s));
	cr_assert_eq(store_group_commit(s), 0, "%s", store_error(s));
	/* the failed one, fixed and sent again, goes in with valid flow ids */
	c.flows[3].dst = c.flows[2].dst;
	batch_put_ok(s, &c, 0);
	store_close(s);
	cr_assert_eq(sql_count("SELECT count(*) FROM batches"), 3);
	cr_assert_eq(sql_count("SELECT count(*) FROM results r JOIN flows f ON f.id = r.flow_id"), 12);
	cr_assert_eq(sql_count("SELECT count(*) FROM flows"), 12);
	wire_batch_free(&a);
	wire_batch_free(&b);
	wire_batch_free(&c);
}

Test(store, aborted_group_leaves_nothing)
{
	struct store *s = store_must_open();
	struct wire_batch a;
	int dup, reused;

	batch_make(&a, "host1", 1, 1700000000000, 4);
	cr_assert_eq(store_group_begin(s), 0);
	cr_assert_eq(store_batch_add(s, &a, 0, &dup, &reused), 0);
	store_group_abort(s);
	cr_assert_eq(store_batch_add(s, &a, 0, &dup, &reused), -1, "add outside a group accepted");
	batch_put_ok(s, &a, 0);
	store_close(s);
	cr_assert_eq(sql_count("SELECT count(*) FROM batches"), 1);
	cr_assert_eq(sql_count("SELECT count(*) FROM results r JOIN flows f ON f.id = r.flow_id"), 4);
	wire_batch_free(&a);
}

struct obs_collect {
	int n;
	char lines[16][256];
};

static int obs_collect_cb(const struct store_obs_row *r, void *arg)
{
	struct obs_collect *c = arg;

	if (c->n < 16)
		snprintf(c->lines[c->n], sizeof(c->lines[0]), "%s %s %s %s %u %u %llu %llu %llu %s",
			 r->prober_name, r->prober, r->target, r->proto, r->sport, r->dport,
			 (unsigned long long)r->sent, (unsigned long long)r->lost,
			 (unsigned long long)r->down_intervals, r->path);
	c->n++;
	return 0;
}

static void path_set(struct wire_path *p, const struct wire_flow *f, const char *const *hops, int n)
{
	int i;

	memset(p, 0, sizeof(*p));
	p->src = f->src;
	p->dst = f->dst;
	p->proto = f->proto;
	p->sport = f->sport;
	p->dport = f->dport;
	p->nhops = (uint8_t)n;
	for (i = 0; i < n; i++) {
		if (strcmp(hops[i], "*") != 0)
			cr_assert_eq(wire_addr_parse(hops[i], &p->hops[i]), 0);
		p->hop_probes[i] = 3;
		p->hop_replies[i] = hops[i][0] == '*' ? 0 : 3;
	}
}

Test(store, observations_sum_window_with_latest_path)
{
	static const char *const path1[] = { "198.18.1.1", "198.18.0.5", "198.18.2.1" };
	static const char *const path2[] = { "198.18.1.1", "*", "198.18.2.1" };
	struct store *s = store_must_open();
	struct wire_batch b[3];
	struct obs_collect c = { 0 };
	int64_t t0 = 1700000000000;
	int i;

	for (i = 0; i < 3; i++)
		batch_make(&b[i], "host1", (uint64_t)i + 1, t0 + i * 10000, 2);
	b[0].npaths = 1;
	b[0].paths = calloc(1, sizeof(struct wire_path));
	path_set(&b[0].paths[0], &b[0].flows[1], path1, 3);
	b[2].npaths = 1;
	b[2].paths = calloc(1, sizeof(struct wire_path));
	path_set(&b[2].paths[0], &b[2].flows[1], path2, 3);
	b[1].flows[0].target_down = 1; /* not fabric loss: kept out of the sums */
	for (i = 0; i < 3; i++)
		batch_put_ok(s, &b[i], 0);

	/* all three intervals */
	cr_assert_eq(store_observations_query(s, t0, t0 + 30000, obs_collect_cb, &c), 0, "%s", store_error(s));
	cr_assert_eq(c.n, 2);
	cr_assert_str_eq(c.lines[0], "host1 198.18.1.2 198.18.2.2 udp 40000 31338 200 0 1 -");
	cr_assert_str_eq(c.lines[1],
			 "host1 198.18.1.2 198.18.2.2 udp 40001 31338 300 3 0 198.18.1.1,*,198.18.2.1");
	/* only the first interval: the path then was path1 */
	memset(&c, 0, sizeof(c));
	cr_assert_eq(store_observations_query(s, t0, t0 + 10000, obs_collect_cb, &c), 0);
	cr_assert_eq(c.n, 2);
	cr_assert_str_eq(c.lines[1],
			 "host1 198.18.1.2 198.18.2.2 udp 40001 31338 100 1 0 198.18.1.1,198.18.0.5,198.18.2.1");
	/* an empty window */
	memset(&c, 0, sizeof(c));
	cr_assert_eq(store_observations_query(s, t0 + 40000, t0 + 50000, obs_collect_cb, &c), 0);
	cr_assert_eq(c.n, 0);
	store_close(s);
	cr_assert_eq(sql_count("SELECT count(*) FROM path_changes WHERE old_hops = "
			       "'198.18.1.1,198.18.0.5,198.18.2.1' AND new_hops = '198.18.1.1,*,198.18.2.1'"),
		     1);
	for (i = 0; i < 3; i++)
		wire_batch_free(&b[i]);
}

static int obs_dark_cb(const struct store_obs_row *r, void *arg)
{
	uint64_t *v = arg;

	v[0] += r->lost;
	v[1] += r->lost_dark;
	return 0;
}

/* A flow's dark probes are the forward loss of its intervals half or more
 * unanswered (a blackhole killed it, or ate its replies, then or from then
 * on), never the loss that thinned an interval that mostly answered; both
 * queries count them from raw results, and the hourly one from rollups
 * once raw results are gone. */
Test(store, observations_count_the_lost_probes_of_intervals_gone_dark)
{
	static const uint32_t lost_rev[][2] = { { 100, 0 }, { 50, 0 }, { 3, 0 }, { 0, 90 } };
	struct store *s = store_must_open();
	struct wire_batch b[4];
	uint64_t raw[2] = { 0 }, hourly[2] = { 0 };
	int64_t t0 = 1700000000000;
	int i;

	for (i = 0; i < 4; i++) {
		batch_make(&b[i], "host1", (uint64_t)i + 1, t0 + i * 10000, 1);
		unit_udp_flow_fill(&b[i].flows[0], "198.18.1.2", "198.18.2.2", 40000, 100,
				   lost_rev[i][0], lost_rev[i][1]);
		batch_put_ok(s, &b[i], 0);
	}
	cr_assert_eq(store_observations_query(s, t0, t0 + 40000, obs_dark_cb, raw), 0, "%s",
		     store_error(s));
	cr_assert_eq(store_observations_hourly_query(s, t0, t0 + 40000, obs_dark_cb, hourly), 0,
		     "%s", store_error(s));
	/* dark: all lost, and half lost; not the 3 thinned; the replies lost
	 * in the last interval are no forward loss at all */
	cr_assert_eq(raw[0], 153);
	cr_assert_eq(raw[1], 150, "dark %llu", (unsigned long long)raw[1]);
	cr_assert_eq(hourly[0], 153);
	cr_assert_eq(hourly[1], 150, "dark %llu", (unsigned long long)hourly[1]);
	/* rolled up, then the raw results expired: the same from the rollup */
	{
		struct store_retention_stats st;
		int64_t h0 = t0 / HOUR_MS * HOUR_MS;
		uint64_t n, rolled[2] = { 0 };

		cr_assert_eq(store_rollup_run(s, &n), 0, "%s", store_error(s));
		cr_assert_eq(store_retention_run(s, t0 + 30 * DAY_MS, 7 * DAY_MS, 90 * DAY_MS, &st),
			     0, "%s", store_error(s));
		cr_assert_eq(st.batches_expired, 4);
		cr_assert_eq(store_observations_hourly_query(s, h0, h0 + 2 * HOUR_MS, obs_dark_cb,
							     rolled), 0, "%s", store_error(s));
		cr_assert_eq(rolled[0], 153);
		cr_assert_eq(rolled[1], 150, "dark %llu from the rollup",
			     (unsigned long long)rolled[1]);
	}
	store_close(s);
	for (i = 0; i < 4; i++)
		wire_batch_free(&b[i]);
}

static int obs_stop_cb(const struct store_obs_row *r, void *arg)
{
	(void)r;
	(*(int *)arg)++;
	return 7;
}

Test(store, observations_callback_stops_query)
{
	struct store *s = store_must_open();
	struct wire_batch b;
	int calls = 0;

	batch_make(&b, "host1", 1, 1000, 5);
	batch_put_ok(s, &b, 0);
	cr_assert_eq(store_observations_query(s, 0, 100000, obs_stop_cb, &calls), 7);
	cr_assert_eq(calls, 1);
	store_close(s);
	wire_batch_free(&b);
}

/* Raw results go after raw_keep, hourly rollups stay (with the same sums)
 * until rollup_keep; a resend of an expired-raw batch is still a duplicate. */
Test(store, retention_deletes_raw_keeps_rollups)
{
	struct store *s = store_must_open();
	struct store_retention_stats st;
	struct wire_batch old1, old2, fresh;
	int64_t now = 1700000000000 / HOUR_MS * HOUR_MS + 30 * DAY_MS;
	int64_t old_hour = now - 10 * DAY_MS;

	batch_make(&old1, "host1", 1, old_hour + 60000, 4);
	batch_make(&old2, "host1", 2, old_hour + 120000, 4);
	batch_make(&fresh, "host1", 3, now - 60000, 4);
	batch_put_ok(s, &old1, 0);
	batch_put_ok(s, &old2, 0);
	batch_put_ok(s, &fresh, 0);

	cr_assert_eq(store_retention_run(s, now, 7 * DAY_MS, 90 * DAY_MS, &st), 0, "%s", store_error(s));
	cr_assert_eq(st.batches_rolled, 3);
	cr_assert_eq(st.batches_expired, 2);
	cr_assert_eq(sql_count("SELECT count(*) FROM results"), 4, "only the fresh batch's raw rows stay");
	cr_assert_eq(sql_count("SELECT count(*) FROM health"), 1);
	cr_assert_eq(sql_count("SELECT count(*) FROM rollup_hourly"), 8);
	char q[256];
	snprintf(q, sizeof(q),
		 "SELECT sum(sent) * 1000000 + sum(lost_fwd) * 1000 + sum(intervals) FROM rollup_hourly "
		 "WHERE hour_ms = %lld",
		 (long long)old_hour);
	/* 2 batches x 4 flows: sent 800, lost 2 x (0+1+2+3) = 12, 8 intervals */
	cr_assert_eq(sql_count(q), 800LL * 1000000 + 12 * 1000 + 8);
	cr_assert_eq(sql_count("SELECT min(rtt_min_ns) FROM rollup_hourly"), 1000);

	/* a second run does nothing more */
	cr_assert_eq(store_retention_run(s, now, 7 * DAY_MS, 90 * DAY_MS, &st), 0);
	cr_assert_eq(st.batches_rolled + st.batches_expired + st.rollups_deleted, 0);
	/* a late resend of an expired batch is still recognised */
	batch_put_ok(s, &old1, 1);

	/* 100 days later the rollups go too */
	cr_assert_eq(store_retention_run(s, now + 100 * DAY_MS, 7 * DAY_MS, 90 * DAY_MS, &st), 0);
	cr_assert_eq(st.batches_expired, 1);
	cr_assert_eq(st.rollups_deleted, 8);
	store_close(s);
	cr_assert_eq(sql_count("SELECT count(*) FROM rollup_hourly"), 0);
	cr_assert_eq(sql_count("SELECT count(*) FROM results"), 0);
	cr_assert_eq(sql_count("SELECT count(*) FROM batches"), 0);
	wire_batch_free(&old1);
	wire_batch_free(&old2);
	wire_batch_free(&fresh);
}

/* A batch that arrives after its hour was rolled up is merged, not lost and
 * not double counted. */
Test(store, late_batch_merges_into_rolled_hour)
{
	struct store *s = store_must_open();
	struct wire_batch a, late;
	uint64_t n;

	batch_make(&a, "host1", 1, 1700000000000, 3);
	batch_make(&late, "host1", 2, 1700000020000, 3);
	batch_put_ok(s, &a, 0);
	cr_assert_eq(store_rollup_run(s, &n), 0);
	cr_assert_eq(n, 1);
	batch_put_ok(s, &late, 0);
	cr_assert_eq(store_rollup_run(s, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(store_rollup_run(s, &n), 0);
	cr_assert_eq(n, 0);
	store_close(s);
	cr_assert_eq(sql_count("SELECT sum(sent) FROM rollup_hourly"), 600);
	cr_assert_eq(sql_count("SELECT sum(intervals) FROM rollup_hourly"), 6);
	wire_batch_free(&a);
	wire_batch_free(&late);
}

/* A backlog is worked off in budgeted turns (st.more) that end in the same
 * state as one unbounded run: everything rolled up before anything expires. */
Test(store, maintenance_budget_splits_backlog)
{
	struct store *s = store_must_open();
	struct store_retention_stats st;
	int64_t t0 = 1700000000000, now = t0 + 30 * DAY_MS;
	int dup, reused, turns = 0, more_seen = 0;
	uint64_t rolled = 0, expired = 0;
	uint64_t i;

	cr_assert_eq(store_group_begin(s), 0);
	for (i = 1; i <= 2000; i++) {
		struct wire_batch b;

		batch_make(&b, "host1", i, t0 + (int64_t)i * 10000, 2);
		cr_assert_eq(store_batch_add(s, &b, 0, &dup, &reused), 0, "%s", store_error(s));
		wire_batch_free(&b);
	}
	cr_assert_eq(store_group_commit(s), 0);
	do {
		cr_assert_eq(store_maintenance_run(s, now, 7 * DAY_MS, 90 * DAY_MS, 1, &st), 0, "%s",
			     store_error(s));
		rolled += st.batches_rolled;
		expired += st.batches_expired;
		more_seen |= st.more;
		turns++;
	} while (st.more && turns < 1000);
	cr_assert_eq(st.more, 0);
	cr_assert(more_seen && turns > 1, "a 1 ms budget never split the work (%d turns)", turns);
	cr_assert_eq(rolled, 2000);
	cr_assert_eq(expired, 2000);
	store_close(s);
	cr_assert_eq(sql_count("SELECT count(*) FROM results"), 0);
	cr_assert_eq(sql_count("SELECT sum(sent) FROM rollup_hourly"), 2000 * 2 * 100);
}

/* Lines of a query, and its sent and lost totals. */
struct obs_sums {
	struct obs_collect c;
	unsigned long long sent, lost, down;
};

static int obs_sums_cb(const struct store_obs_row *r, void *arg)
{
	struct obs_sums *o = arg;

	o->sent += r->sent;
	o->lost += r->lost;
	o->down += r->down_intervals;
	return obs_collect_cb(r, &o->c);
}

static void obs_sums_assert_eq(const struct obs_sums *a, const struct obs_sums *b)
{
	cr_assert_eq(a->c.n, b->c.n);
	for (int i = 0; i < a->c.n && i < 16; i++)
		cr_assert_str_eq(a->c.lines[i], b->c.lines[i]);
	cr_assert_eq(a->sent, b->sent);
	cr_assert_eq(a->lost, b->lost);
	cr_assert_eq(a->down, b->down);
}

/* Three hours of 10 s batches, 20 minutes apart, 3 flows each, one with its
 * target down and one with a path; the first six batches rolled up. */
static void hours_put(struct store *s, int64_t h0)
{
	static const char *const path[] = { "198.18.1.1", "198.18.0.5", "198.18.2.1" };
	uint64_t n;

	for (int k = 0; k < 9; k++) {
		struct wire_batch b;

		batch_make(&b, "host1", (uint64_t)k + 1, h0 + k * 1200000LL + 1000, 3);
		b.flows[2].lost_fwd = (uint64_t)k; /* loss varies by the hour */
		if (k == 4)
			b.flows[0].target_down = 1;
		if (k == 0) {
			b.npaths = 1;
			b.paths = calloc(1, sizeof(struct wire_path));
			path_set(&b.paths[0], &b.flows[1], path, 3);
		}
		batch_put_ok(s, &b, 0);
		wire_batch_free(&b);
		if (k == 5)
			cr_assert_eq(store_rollup_run(s, &n), 0, "%s", store_error(s));
	}
}

/* Over whole hours (and a window starting mid-hour) the hourly query gives
 * the raw query's rows, sums, down intervals and paths, whether a batch was
 * rolled up or not. */
Test(store, hourly_query_sums_equal_raw_sums_for_the_same_hours)
{
	static const int64_t win[][2] = { { 0, 3 * HOUR_MS },
					   { 30 * 60000, 3 * HOUR_MS },
					   { HOUR_MS, 2 * HOUR_MS },
					   { 0, 150 * 60000 } };
	struct store *s = store_must_open();
	int64_t h0 = 1700000000000 / HOUR_MS * HOUR_MS;

	hours_put(s, h0);
	cr_assert_eq(sql_count("SELECT count(*) FROM batches WHERE rolled_up = 0"), 3);
	for (size_t i = 0; i < sizeof(win) / sizeof(win[0]); i++) {
		struct obs_sums raw = { 0 }, hourly = { 0 };

		cr_assert_eq(store_observations_query(s, h0 + win[i][0], h0 + win[i][1],
						      obs_sums_cb, &raw), 0, "%s", store_error(s));
		cr_assert_eq(store_observations_hourly_query(s, h0 + win[i][0], h0 + win[i][1],
							     obs_sums_cb, &hourly), 0, "%s",
			     store_error(s));
		cr_assert_gt(raw.sent, 0);
		obs_sums_assert_eq(&hourly, &raw);
	}
	/* the whole three hours: 9 batches x 3 flows x 100, one flow-interval
	 * down, lost 9 x (0+1) + (0+..+8) */
	struct obs_sums all = { 0 };

	cr_assert_eq(store_observations_hourly_query(s, h0, h0 + 3 * HOUR_MS, obs_sums_cb, &all), 0);
	cr_assert_eq(all.sent, 9 * 3 * 100 - 100);
	cr_assert_eq(all.lost, 9 + 36);
	cr_assert_eq(all.down, 1);
	cr_assert_str_eq(all.c.lines[1],
			 "host1 198.18.1.2 198.18.2.2 udp 40001 31338 900 9 0 "
			 "198.18.1.1,198.18.0.5,198.18.2.1");
	store_close(s);
}

/* Once retention deleted the raw results the raw query finds nothing, the
 * hourly query the same rows it found before. */
Test(store, hourly_query_reads_rollups_after_retention)
{
	struct store *s = store_must_open();
	struct store_retention_stats st;
	struct obs_sums before = { 0 }, after = { 0 }, raw = { 0 };
	int64_t h0 = 1700000000000 / HOUR_MS * HOUR_MS, now = h0 + 30 * DAY_MS;

	hours_put(s, h0);
	cr_assert_eq(store_observations_hourly_query(s, h0, h0 + 3 * HOUR_MS, obs_sums_cb, &before), 0);
	cr_assert_eq(store_retention_run(s, now, 7 * DAY_MS, 90 * DAY_MS, &st), 0, "%s", store_error(s));
	cr_assert_eq(st.batches_expired, 9);
	cr_assert_eq(store_observations_query(s, h0, h0 + 3 * HOUR_MS, obs_sums_cb, &raw), 0);
	cr_assert_eq(raw.c.n, 0);
	cr_assert_eq(store_observations_hourly_query(s, h0, h0 + 3 * HOUR_MS, obs_sums_cb, &after), 0);
	cr_assert_gt(before.sent, 0);
	obs_sums_assert_eq(&after, &before);
	/* a partial hour has only raw results to read: gone too */
	memset(&after, 0, sizeof(after));
	cr_assert_eq(store_observations_hourly_query(s, h0 + 30 * 60000, h0 + HOUR_MS,
						     obs_sums_cb, &after), 0);
	cr_assert_eq(after.c.n, 0);
	store_close(s);
}

/* A database rolled up by schema version 1 gets the target-up sums: copied
 * where no interval was down, recounted from raw results where one was, 0
 * where those raw results are gone. */
Test(store, migration_2_fills_up_sums_of_older_rollups)
{
	struct store *s = store_must_open();
	struct store_retention_stats st;
	struct wire_batch b;
	int64_t now = 1700000000000 / HOUR_MS * HOUR_MS + 30 * DAY_MS;
	int64_t old_hour = now - 10 * DAY_MS, new_hour = now - HOUR_MS;
	char q[256];

	for (int k = 0; k < 4; k++) {
		batch_make(&b, "host1", (uint64_t)k + 1, (k < 2 ? old_hour : new_hour) + k * 60000, 2);
		b.flows[0].target_down = k % 2 == 0;
		batch_put_ok(s, &b, 0);
		wire_batch_free(&b);
	}
	cr_assert_eq(store_retention_run(s, now, 7 * DAY_MS, 90 * DAY_MS, &st), 0, "%s", store_error(s));
	cr_assert_eq(st.batches_expired, 2);
	store_close(s);
	/* back to version 1 */
	sql_exec("ALTER TABLE rollup_hourly DROP COLUMN up_sent;"
		 "ALTER TABLE rollup_hourly DROP COLUMN up_received;"
		 "ALTER TABLE rollup_hourly DROP COLUMN up_lost_fwd;"
		 "ALTER TABLE rollup_hourly DROP COLUMN up_lost_rev;"
		 "ALTER TABLE rollup_hourly DROP COLUMN up_lost_dark;"
		 "DROP TABLE inventory;"
		 "UPDATE schema_version SET version = 1");
	s = store_must_open();
	store_close(s);
	cr_assert_eq(sql_count("SELECT version FROM schema_version"), 4);
	/* flow 0 (sport 40000) was down in one of its two intervals each hour */
	snprintf(q, sizeof(q),
		 "SELECT sum(up_sent * 1000 + sent) FROM rollup_hourly r JOIN flows f ON f.id = r.flow_id "
		 "WHERE f.sport = %d AND hour_ms = %lld", 40000, (long long)(new_hour / HOUR_MS * HOUR_MS));
	cr_assert_eq(sql_count(q), 100 * 1000 + 200, "recounted from raw");
	snprintf(q, sizeof(q),
		 "SELECT sum(up_sent * 1000 + sent) FROM rollup_hourly r JOIN flows f ON f.id = r.flow_id "
		 "WHERE f.sport = %d AND hour_ms = %lld", 40000, (long long)(old_hour / HOUR_MS * HOUR_MS));
	cr_assert_eq(sql_count(q), 0 * 1000 + 200, "raw gone: no evidence");
	snprintf(q, sizeof(q),
		 "SELECT sum(up_sent * 1000 + up_lost_fwd) FROM rollup_hourly r JOIN flows f ON f.id = r.flow_id "
		 "WHERE f.sport = %d", 40001);
	cr_assert_eq(sql_count(q), 400 * 1000 + 4, "never down: the totals");
}

/* A database rolled up by schema version 3 gets the rollups' dark probes:
 * recounted from the raw results still kept, 0 where those are gone (read
 * by loss ratio alone, as before). */
Test(store, migration_4_counts_dark_probes_of_older_rollups)
{
	struct store *s = store_must_open();
	struct store_retention_stats st;
	struct wire_batch b;
	int64_t now = 1700000000000 / HOUR_MS * HOUR_MS + 30 * DAY_MS;
	int64_t old_hour = now - 10 * DAY_MS, new_hour = now - HOUR_MS;
	uint64_t n;

	/* two intervals an hour: one dark (60 of 100 lost), one thinned (3) */
	for (int k = 0; k < 4; k++) {
		batch_make(&b, "host1", (uint64_t)k + 1, (k < 2 ? old_hour : new_hour) + k * 60000, 1);
		unit_udp_flow_fill(&b.flows[0], "198.18.1.2", "198.18.2.2", 40000, 100,
				   k % 2 ? 3 : 60, 0);
		batch_put_ok(s, &b, 0);
		wire_batch_free(&b);
	}
	cr_assert_eq(store_rollup_run(s, &n), 0, "%s", store_error(s));
	cr_assert_eq(store_retention_run(s, now, 7 * DAY_MS, 90 * DAY_MS, &st), 0, "%s", store_error(s));
	cr_assert_eq(st.batches_expired, 2);
	cr_assert_eq(sql_count("SELECT sum(up_lost_dark) FROM rollup_hourly"), 120,
		     "counted at rollup");
	store_close(s);
	/* back to version 3 */
	sql_exec("ALTER TABLE rollup_hourly DROP COLUMN up_lost_dark;"
		 "UPDATE schema_version SET version = 3");
	s = store_must_open();
	store_close(s);
	cr_assert_eq(sql_count("SELECT version FROM schema_version"), 4);
	cr_assert_eq(sql_count("SELECT up_lost_fwd * 1000 + up_lost_dark FROM rollup_hourly "
			       "WHERE hour_ms = (SELECT max(hour_ms) FROM rollup_hourly)"),
		     63 * 1000 + 60, "recounted from raw");
	cr_assert_eq(sql_count("SELECT up_lost_fwd * 1000 + up_lost_dark FROM rollup_hourly "
			       "WHERE hour_ms = (SELECT min(hour_ms) FROM rollup_hourly)"),
		     63 * 1000 + 0, "raw gone: no evidence");
}

Test(store, inventory_is_kept_replaced_and_read_back)
{
	static const char a[] = "# faultmesh inventory v1\n198.18.0.1\th1\n";
	static const char b[] = "# faultmesh inventory v1\n198.18.0.1\th1\n198.18.0.2\th2\n";
	struct store_inventory si;
	struct store *s = store_must_open();
	int changed = -1;

	cr_assert_eq(store_inventory_get(s, &si), 0, "none before a load");
	cr_assert_eq(store_inventory_put(s, a, strlen(a), "inv.txt", 1000, &changed), 0,
		     "%s", store_error(s));
	cr_assert_eq(changed, 1);
	cr_assert_eq(store_inventory_put(s, a, strlen(a), "inv.txt", 2000, &changed), 0);
	cr_assert_eq(changed, 0, "the same text again is no change");
	cr_assert_eq(store_inventory_put(s, b, strlen(b), "inv.txt", 3000, &changed), 0);
	cr_assert_eq(changed, 1);
	store_close(s);
	s = store_must_open();
	cr_assert_eq(store_inventory_get(s, &si), 1, "%s", store_error(s));
	cr_assert_str_eq(si.text, b);
	cr_assert_eq(si.len, strlen(b));
	cr_assert_str_eq(si.source, "inv.txt");
	cr_assert_eq(si.loaded_ms, 3000);
	free(si.text);
	store_close(s);
}
