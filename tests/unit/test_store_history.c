/* Tests of the suspect history: episodes open, stay open while seen, close
 * after K absent rounds, reopen; points by device; prober health from the
 * store's tables; coexistence with the store in one file. With
 * FM_TEST_STORE=clickhouse://HOST:PORT/ (test_clickhouse_store sets it) the
 * same tests run against a ClickHouse store, a database each. */
#include "store.h"
#include "store_history.h"
#include "unit_util.h"

#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char t_db[256];
static int t_ch; /* t_db is a ClickHouse store */

static void t_setup(void)
{
	const char *ch = getenv("FM_TEST_STORE");

	if (ch && *ch) {
		static unsigned n;

		t_ch = 1;
		snprintf(t_db, sizeof(t_db), "%shist_%d_%u", ch, (int)getpid(), n++);
		return;
	}
	unit_tmp_path(t_db, sizeof(t_db), "hist", ".db");
	unlink(t_db);
}

static void t_teardown(void)
{
	if (!t_ch)
		unit_db_remove(t_db);
}

static struct history *t_open(void)
{
	char err[256];
	struct history *h = history_open(t_db, err, sizeof(err));

	cr_assert_not_null(h, "%s", err);
	return h;
}

#define T_EPISODES_MAX 8
struct t_episodes {
	size_t n;
	struct {
		char kind[16], from[32], to[32];
		int64_t opened_ms, last_seen_ms, closed_ms;
		double loss_max;
		uint64_t rounds;
	} v[T_EPISODES_MAX];
};

static int t_episode_cb(const struct history_episode *e, void *arg)
{
	struct t_episodes *t = arg;

	cr_assert_lt(t->n, T_EPISODES_MAX);
	snprintf(t->v[t->n].kind, sizeof(t->v[0].kind), "%s", e->kind);
	snprintf(t->v[t->n].from, sizeof(t->v[0].from), "%s", e->from);
	snprintf(t->v[t->n].to, sizeof(t->v[0].to), "%s", e->to);
	t->v[t->n].opened_ms = e->opened_ms;
	t->v[t->n].last_seen_ms = e->last_seen_ms;
	t->v[t->n].closed_ms = e->closed_ms;
	t->v[t->n].loss_max = e->loss_ratio_max;
	t->v[t->n].rounds = e->rounds;
	t->n++;
	return 0;
}

static const struct history_suspect t_link = {
	.kind = "link", .from = "spine1", .to = "leaf2", .loss_ratio = 0.01,
	.loss_lo = 0.008, .loss_hi = 0.012, .confidence = 0.999, .flows = 40,
	.lossy_flows = 12, .probers = 3,
};

Test(store_history, episode_opens_stays_and_closes_after_k_absent_rounds,
     .init = t_setup, .fini = t_teardown)
{
	struct history *h = t_open();
	struct history_suspect louder = t_link;
	struct t_episodes t = { 0 };

	louder.loss_ratio = 0.05;
	cr_assert_eq(history_round_record(h, 1000, NULL, 0, 2), 0, "%s", history_error(h));
	cr_assert_eq(history_round_record(h, 2000, &t_link, 1, 2), 0, "%s", history_error(h));
	cr_assert_eq(history_round_record(h, 3000, &louder, 1, 2), 0);
	cr_assert_eq(history_round_record(h, 4000, NULL, 0, 2), 0); /* absent once */
	cr_assert_eq(history_episodes_query(h, 0, 10000, t_episode_cb, &t), 0);
	cr_assert_eq(t.n, 1);
	cr_assert_eq(t.v[0].closed_ms, 0, "one absent round of two keeps it open");
	cr_assert_eq(history_round_record(h, 5000, NULL, 0, 2), 0); /* absent twice */
	t.n = 0;
	cr_assert_eq(history_episodes_query(h, 0, 10000, t_episode_cb, &t), 0);
	cr_assert_eq(t.n, 1);
	cr_assert_str_eq(t.v[0].kind, "link");
	cr_assert_str_eq(t.v[0].from, "spine1");
	cr_assert_str_eq(t.v[0].to, "leaf2");
	cr_assert_eq(t.v[0].opened_ms, 2000);
	cr_assert_eq(t.v[0].last_seen_ms, 3000);
	cr_assert_eq(t.v[0].closed_ms, 5000);
	cr_assert_eq(t.v[0].rounds, 2);
	cr_assert_float_eq(t.v[0].loss_max, 0.05, 1e-12);

	/* seen again: a new episode, the old one stays closed */
	cr_assert_eq(history_round_record(h, 6000, &t_link, 1, 2), 0);
	t.n = 0;
	cr_assert_eq(history_episodes_query(h, 0, 10000, t_episode_cb, &t), 0);
	cr_assert_eq(t.n, 2);
	cr_assert_eq(t.v[1].opened_ms, 6000);
	cr_assert_eq(t.v[1].closed_ms, 0);
	history_close(h);
}

Test(store_history, episodes_query_selects_by_overlap, .init = t_setup,
     .fini = t_teardown)
{
	struct history *h = t_open();
	struct t_episodes t = { 0 };

	cr_assert_eq(history_round_record(h, 1000, &t_link, 1, 1), 0);
	cr_assert_eq(history_round_record(h, 2000, NULL, 0, 1), 0); /* closed at 2000 */
	cr_assert_eq(history_episodes_query(h, 2500, 9000, t_episode_cb, &t), 0);
	cr_assert_eq(t.n, 0, "closed before the window");
	cr_assert_eq(history_episodes_query(h, 1500, 9000, t_episode_cb, &t), 0);
	cr_assert_eq(t.n, 1, "open during part of the window");
	t.n = 0;
	cr_assert_eq(history_episodes_query(h, 0, 1000, t_episode_cb, &t), 0);
	cr_assert_eq(t.n, 0, "opened at the window's end (exclusive)");
	history_close(h);
}

Test(store_history, older_round_is_refused, .init = t_setup, .fini = t_teardown)
{
	struct history *h = t_open();

	cr_assert_eq(history_round_record(h, 5000, &t_link, 1, 2), 0);
	cr_assert_eq(history_round_record(h, 4000, &t_link, 1, 2), -1);
	cr_assert(strstr(history_error(h), "older") != NULL, "%s", history_error(h));
	history_close(h);
}

struct t_points {
	size_t n;
	int64_t at[8];
	char kind[8][16];
};

static int t_point_cb(int64_t at_ms, const struct history_suspect *s, void *arg)
{
	struct t_points *t = arg;

	cr_assert_lt(t->n, 8);
	t->at[t->n] = at_ms;
	snprintf(t->kind[t->n], sizeof(t->kind[0]), "%s", s->kind);
	t->n++;
	return 0;
}

Test(store_history, points_of_a_device_cover_both_link_ends, .init = t_setup,
     .fini = t_teardown)
{
	struct history *h = t_open();
	struct history_suspect round2[2] = { t_link, t_link };
	struct t_points t = { 0 };

	round2[1].kind = "device";
	round2[1].from = "leaf2";
	round2[1].to = "";
	cr_assert_eq(history_round_record(h, 1000, &t_link, 1, 2), 0);
	cr_assert_eq(history_round_record(h, 2000, round2, 2, 2), 0);
	cr_assert_eq(history_points_query(h, "leaf2", 0, 5000, t_point_cb, &t), 0);
	cr_assert_eq(t.n, 3, "the link twice (as its to end) and the device once");
	cr_assert_eq(t.at[0], 1000);
	t.n = 0;
	cr_assert_eq(history_points_query(h, "spine1", 1500, 5000, t_point_cb, &t), 0);
	cr_assert_eq(t.n, 1);
	t.n = 0;
	cr_assert_eq(history_points_query(h, "leaf9", 0, 5000, t_point_cb, &t), 0);
	cr_assert_eq(t.n, 0);
	t.n = 0;
	cr_assert_eq(history_points_query(h, NULL, 0, 5000, t_point_cb, &t), 0);
	cr_assert_eq(t.n, 3);
	history_close(h);
}

static void t_batch_put(struct store *s, const char *prober, uint64_t seq,
			int64_t start_ms, uint32_t rx_errors)
{
	struct wire_flow f;
	struct wire_batch b;
	int dup = 0, reused = 0;

	memset(&b, 0, sizeof(b));
	snprintf(b.prober, sizeof(b.prober), "%s", prober);
	b.seq = seq;
	b.start_ms = start_ms;
	b.end_ms = start_ms + 10000;
	b.health.if_rx_errors = rx_errors;
	unit_udp_flow_fill(&f, "198.19.1.1", "198.19.2.1", 40000, 10, 0, 0);
	b.flows = &f;
	b.nflows = 1;
	cr_assert_eq(store_batch_put(s, &b, start_ms + 10000, &dup, &reused), 0,
		     "%s", store_error(s));
}

struct t_probers {
	size_t n;
	char name[4][16];
	uint64_t batches[4], errors[4];
	int64_t gap[4];
};

static int t_prober_cb(const struct history_prober_health *p, void *arg)
{
	struct t_probers *t = arg;

	cr_assert_lt(t->n, 4);
	snprintf(t->name[t->n], sizeof(t->name[0]), "%s", p->name);
	t->batches[t->n] = p->batches;
	t->errors[t->n] = p->if_errors;
	t->gap[t->n] = p->gap_max_ms;
	t->n++;
	return 0;
}

Test(store_history, prober_health_finds_gaps_and_errors_beside_the_store,
     .init = t_setup, .fini = t_teardown)
{
	char err[256];
	struct store *s = store_open(NULL, t_db, err, sizeof(err));
	struct history *h;
	struct t_probers t = { 0 };

	cr_assert_not_null(s, "%s", err);
	h = t_open(); /* while the store holds the file open */
	for (int i = 0; i < 6; i++)
		t_batch_put(s, "h1", (uint64_t)i + 1, 1000000 + i * 10000, 0);
	/* h2 reports twice, misses 3 intervals, then reports with errors */
	t_batch_put(s, "h2", 1, 1000000, 0);
	t_batch_put(s, "h2", 2, 1010000, 0);
	t_batch_put(s, "h2", 3, 1050000, 7);
	cr_assert_eq(history_round_record(h, 1060000, &t_link, 1, 2), 0,
		     "%s", history_error(h));
	store_close(s);
	cr_assert_eq(history_prober_health_query(h, 1000000, 1060000, t_prober_cb, &t),
		     0, "%s", history_error(h));
	cr_assert_eq(t.n, 2);
	cr_assert_str_eq(t.name[0], "h1");
	cr_assert_eq(t.batches[0], 6);
	cr_assert_eq(t.gap[0], 0);
	cr_assert_str_eq(t.name[1], "h2");
	cr_assert_eq(t.batches[1], 3);
	cr_assert_eq(t.gap[1], 30000);
	cr_assert_eq(t.errors[1], 7);
	history_close(h);

	/* the store opens the file again, history tables and all */
	s = store_open(NULL, t_db, err, sizeof(err));
	cr_assert_not_null(s, "%s", err);
	store_close(s);
}

Test(store_history, newer_history_schema_is_refused, .init = t_setup,
     .fini = t_teardown)
{
	char err[256];
	struct history *h;
	sqlite3 *db;

	if (t_ch)
		cr_skip_test("a SQLite file's schema");
	h = t_open();
	history_close(h);
	cr_assert_eq(sqlite3_open(t_db, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, "UPDATE history_schema_version SET version = 999",
				  NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	cr_assert_null(history_open(t_db, err, sizeof(err)));
	cr_assert(strstr(err, "newer") != NULL, "%s", err);
}

/* ClickHouse deletes by mutation, in the background, table by table: wait
 * (10 s at most) until one round, one episode and one point are left. */
static void t_expired_wait(struct history *h)
{
	for (int i = 0; t_ch && i < 200; i++) {
		struct t_episodes t = { 0 };
		struct t_points p = { 0 };
		uint64_t n = 0;

		cr_assert_eq(history_rounds_count(h, 0, INT64_MAX, &n), 0);
		cr_assert_eq(history_episodes_query(h, 0, INT64_MAX, t_episode_cb, &t), 0);
		cr_assert_eq(history_points_query(h, NULL, 0, INT64_MAX, t_point_cb, &p), 0);
		if (n == 1 && t.n == 1 && p.n == 1)
			return;
		usleep(50000);
	}
}

Test(store_history, expire_drops_old_rounds_and_closed_episodes_keeps_open_ones,
     .init = t_setup, .fini = t_teardown)
{
	struct history *h = t_open();
	struct history_suspect dev = t_link;
	struct t_episodes t = { 0 };
	struct t_points p = { 0 };
	uint64_t n = 0, deleted = 0;

	dev.kind = "device";
	dev.from = "leaf3";
	dev.to = "";
	cr_assert_eq(history_round_record(h, 1000, &t_link, 1, 1), 0);
	cr_assert_eq(history_round_record(h, 2000, &dev, 1, 1), 0); /* link closed */
	cr_assert_eq(history_round_record(h, 3000, &dev, 1, 1), 0); /* device open */
	cr_assert_eq(history_expire(h, 2500, &deleted), 0, "%s", history_error(h));
	cr_assert_eq(deleted, 5, "2 points, 2 rounds, the closed link episode");
	t_expired_wait(h);
	cr_assert_eq(history_rounds_count(h, 0, 10000, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(history_episodes_query(h, 0, 10000, t_episode_cb, &t), 0);
	cr_assert_eq(t.n, 1);
	cr_assert_str_eq(t.v[0].kind, "device");
	cr_assert_eq(t.v[0].opened_ms, 2000, "the open episode outlives its old points");
	cr_assert_eq(history_points_query(h, NULL, 0, 10000, t_point_cb, &p), 0);
	cr_assert_eq(p.n, 1);
	/* the episode goes on normally after its first points were expired */
	cr_assert_eq(history_round_record(h, 4000, NULL, 0, 1), 0);
	t.n = 0;
	cr_assert_eq(history_episodes_query(h, 0, 10000, t_episode_cb, &t), 0);
	cr_assert_eq(t.v[0].closed_ms, 4000);
	history_close(h);
}
