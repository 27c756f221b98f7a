/* Tests that triangulate reads the collector's database as it reads a file:
 * flows summed over the window, forward loss, paths split into hops. */
#include "clock.h"
#include "cmd.h"
#include "db_source.h"
#include "observations.h"
#include "wire.h"
#include "store.h"
#include "unit_util.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char t_db[64];

static void t_setup(void)
{
	unit_tmp_path(t_db, sizeof(t_db), "dbsrc", ".db");
	unlink(t_db);
}

static void t_teardown(void)
{
	unit_db_remove(t_db);
}

static void t_flow(struct wire_flow *f, const char *src, const char *dst,
		   unsigned sport, uint32_t sent, uint32_t lost)
{
	memset(f, 0, sizeof(*f));
	cr_assert_eq(wire_addr_parse(src, &f->src), 0);
	cr_assert_eq(wire_addr_parse(dst, &f->dst), 0);
	f->proto = WIRE_PROTO_UDP;
	f->sport = (uint16_t)sport;
	f->dport = 31338;
	f->sent = sent;
	f->lost_fwd = lost;
	f->received = sent - lost;
}

/* The second flow's traced path as the store writes it: its first router,
 * a silent hop ("*": the router did not answer), and its last router. */
#define T_PATH "198.19.1.0,*,198.18.0.3"
static const char *t_path = T_PATH;

/* Fill p's hops from a comma list; a "*" stays family 0 (no answer). */
static void t_path_hops_parse(const char *text, struct wire_path *p)
{
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", text);
	p->nhops = 0;
	for (char *h = strtok_r(buf, ",", &save); h; h = strtok_r(NULL, ",", &save)) {
		cr_assert_lt(p->nhops, WIRE_HOPS_MAX);
		if (strcmp(h, "*"))
			cr_assert_eq(wire_addr_parse(h, &p->hops[p->nhops]), 0, "%s", h);
		p->nhops++;
	}
}

static void t_batch_put(struct store *s, uint64_t seq, int64_t start_ms,
			uint32_t lost_on_second)
{
	struct wire_flow flows[2];
	struct wire_path path;
	struct wire_batch b;
	int dup = 0, reused = 0;

	memset(&b, 0, sizeof(b));
	snprintf(b.prober, sizeof(b.prober), "h1");
	b.seq = seq;
	b.start_ms = start_ms;
	b.end_ms = start_ms + 10000;
	t_flow(&flows[0], "198.19.1.1", "198.19.2.1", 40000, 100, 0);
	t_flow(&flows[1], "198.19.1.1", "198.19.2.1", 40001, 100, lost_on_second);
	memset(&path, 0, sizeof(path));
	path.src = flows[1].src;
	path.dst = flows[1].dst;
	path.proto = WIRE_PROTO_UDP;
	path.sport = 40001;
	path.dport = 31338;
	t_path_hops_parse(t_path, &path);
	b.flows = flows;
	b.nflows = 2;
	b.paths = &path;
	b.npaths = 1;
	cr_assert_eq(store_batch_put(s, &b, start_ms + 10000, &dup, &reused), 0,
		     "%s", store_error(s));
}

Test(db_source, window_sums_flows_and_keeps_paths, .init = t_setup, .fini = t_teardown)
{
	char err[256];
	struct store *s = store_open(NULL, t_db, err, sizeof(err));
	struct obs_set *obs = obs_set_new();
	const struct obs_flow *lossy = NULL;

	cr_assert_not_null(s, "%s", err);
	t_batch_put(s, 1, 1000000, 5);
	t_batch_put(s, 2, 1010000, 7);
	t_batch_put(s, 3, 5000000, 50); /* outside the window below */
	store_close(s);

	cr_assert_eq(db_source_load(t_db, 1000000, 1020000, obs, err, sizeof(err)), 2, "%s", err);
	cr_assert_eq(obs_set_flow_count(obs), 2);
	for (size_t i = 0; i < obs_set_flow_count(obs); i++)
		if (obs_set_flow(obs, i)->sport == 40001)
			lossy = obs_set_flow(obs, i);
	cr_assert_not_null(lossy);
	cr_assert_eq(lossy->sent, 200);
	cr_assert_eq(lossy->lost, 12);
	cr_assert_eq(lossy->nhops, 3);
	const uint32_t *hops = obs_set_flow_hops(obs, lossy);
	cr_assert_str_eq(obs_set_name(obs, hops[0]), "198.19.1.0");
	cr_assert_eq(hops[1], OBS_HOP_STAR);
	cr_assert_str_eq(obs_set_name(obs, hops[2]), "198.18.0.3");
	obs_set_free(obs);
}

/* Load the second flow of a window in which its traces were paths[0..n)
 * (one batch each); returns its hop count as read. */
static uint32_t t_path_after_traces(const char *const *paths, int n)
{
	char err[256];
	struct store *s = store_open(NULL, t_db, err, sizeof(err));
	struct obs_set *obs = obs_set_new();
	uint32_t got = 0;

	cr_assert_not_null(s, "%s", err);
	for (int i = 0; i < n; i++) {
		t_path = paths[i];
		t_batch_put(s, (uint64_t)i + 1, 1000000 + i * 10000, 5);
	}
	t_path = T_PATH;
	store_close(s);
	/* the window holds the last batch's end, where its trace was stored */
	cr_assert_eq(db_source_load(t_db, 1000000, 1000000 + (n + 1) * 10000, obs, err,
				    sizeof(err)), 2, "%s", err);
	for (size_t i = 0; i < obs_set_flow_count(obs); i++)
		if (obs_set_flow(obs, i)->sport == 40001)
			got = obs_set_flow(obs, i)->nhops;
	obs_set_free(obs);
	return got;
}

/* Whether a flow's route moved inside the window, from its traces there: a
 * moved route's latest hops are wrong for the probes before the move, so its
 * path is read as unknown ("-"); any other keeps its latest hops. */
Test(db_source, path_moved_only_where_two_answers_differ, .init = t_setup, .fini = t_teardown)
{
	static const struct {
		const char *why, *paths[3];
		uint32_t nhops; /* as read; OBS_PATH_UNKNOWN: moved */
	} cases[] = {
		{ "another router answered at TTL 3",
		  { T_PATH, "198.19.1.0,*,198.18.0.9" }, OBS_PATH_UNKNOWN },
		/* its probes died after the first router: where it stopped is evidence */
		{ "a trace cut short is the same route", { T_PATH, "198.19.1.0" }, 1 },
		/* switches rate-limit ICMP: a "*" fits any router at its TTL */
		{ "a router that answered before is silent now",
		  { "198.19.1.0,198.18.0.5,198.18.0.3", T_PATH }, 3 },
		{ "a silent router answers now",
		  { T_PATH, "198.19.1.0,198.18.0.5,198.18.0.3" }, 3 },
		{ "silent between two different answers is still a move",
		  { "198.19.1.0,198.18.0.5,198.18.0.3", T_PATH, "198.19.1.0,198.18.0.7,198.18.0.3" },
		  OBS_PATH_UNKNOWN },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n = cases[i].paths[2] ? 3 : 2;
		uint32_t got;

		t_teardown();
		t_setup();
		got = t_path_after_traces(cases[i].paths, n);
		cr_expect_eq(got, cases[i].nhops, "%s: read %u hops", cases[i].why, got);
	}
}

Test(db_source, missing_database_is_an_error_naming_it, .init = t_setup, .fini = t_teardown)
{
	char err[256];
	struct obs_set *obs = obs_set_new();

	cr_assert_eq(db_source_load(t_db, 0, 1, obs, err, sizeof(err)), -1);
	cr_assert(strstr(err, t_db) != NULL, "err: %s", err);
	cr_assert_eq(access(t_db, F_OK), -1, "a query must not create the database");
	obs_set_free(obs);
}

Test(db_source, path_text_splits_into_hops)
{
	char p1[] = "a,*,b";
	char p2[] = "-";
	char p3[] = "a,b,c";
	const char *hops[4];

	cr_assert_eq(db_source_path_split(p1, hops, 4), 3);
	cr_assert_str_eq(hops[1], "*");
	cr_assert_eq(db_source_path_split(p2, hops, 4), -1);
	cr_assert_eq(db_source_path_split(p3, hops, 2), -2);
}

Test(db_source, export_writes_a_file_the_parser_reads_back, .init = t_setup, .fini = t_teardown)
{
	char err[256], out[96];
	struct store *s = store_open(NULL, t_db, err, sizeof(err));
	struct obs_set *obs = obs_set_new();
	int64_t now_ms;
	size_t lossy = 0;

	cr_assert_not_null(s, "%s", err);
	now_ms = clock_real_ms() / 1000 * 1000 - 60000;
	t_batch_put(s, 1, now_ms, 9);
	store_close(s);
	snprintf(out, sizeof(out), "%s.obs", t_db);
	char *argv[] = { "export", "--db", t_db, "--since", "10m", "--observations", out, NULL };
	cr_assert_eq(cmd_export(7, argv), 0);
	cr_assert_eq(obs_set_file_read(obs, out, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(obs_set_flow_count(obs), 2);
	for (size_t i = 0; i < obs_set_flow_count(obs); i++) {
		const struct obs_flow *f = obs_set_flow(obs, i);

		if (f->lost) {
			lossy++;
			cr_assert_eq(f->lost, 9);
			cr_assert_eq(f->nhops, 3);
		} else {
			cr_assert_eq(f->nhops, OBS_PATH_UNKNOWN, "an untraced flow's path is '-'");
		}
	}
	cr_assert_eq(lossy, 1);
	unlink(out);
	obs_set_free(obs);
}

Test(db_source, hourly_read_matches_raw_read_after_rollup, .init = t_setup, .fini = t_teardown)
{
	const int64_t hour_ms = 3600000, base_ms = 1000 * hour_ms;
	char err[256];
	struct store *s = store_open(NULL, t_db, err, sizeof(err));
	struct obs_set *raw = obs_set_new(), *hourly = obs_set_new();
	uint64_t raw_lost = 0, hourly_lost = 0;
	uint64_t rolled = 0;

	cr_assert_not_null(s, "%s", err);
	t_batch_put(s, 1, base_ms + 60000, 5);
	t_batch_put(s, 2, base_ms + 120000, 7);
	cr_assert_eq(store_rollup_run(s, &rolled), 0, "%s", store_error(s));
	cr_assert_eq(rolled, 2, "both batches are in the hourly rollup");
	store_close(s);
	cr_assert_eq(db_source_load(t_db, base_ms, base_ms + hour_ms, raw, err, sizeof(err)), 2, "%s", err);
	cr_assert_eq(db_source_hourly_load(t_db, base_ms, base_ms + hour_ms, hourly, err, sizeof(err)), 2, "%s", err);
	for (size_t i = 0; i < obs_set_flow_count(raw); i++)
		raw_lost += obs_set_flow(raw, i)->lost;
	for (size_t i = 0; i < obs_set_flow_count(hourly); i++)
		hourly_lost += obs_set_flow(hourly, i)->lost;
	cr_assert_eq(raw_lost, 12);
	cr_assert_eq(hourly_lost, raw_lost);
	obs_set_free(raw);
	obs_set_free(hourly);
}
