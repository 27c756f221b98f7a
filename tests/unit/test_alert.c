/* Tests of the alert state machine: fire after K consecutive rounds, resolve
 * after K clean rounds, no alerts and no flapping from an on/off suspect,
 * refreshes while firing, independent keys; held rounds hold; an explained
 * suspect never alerts but keeps a related firing alert alive. */
#include "alert.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

struct t_log {
	char ev[64];  /* one letter per event: F fire, R refresh, X resolve, . round */
	int64_t ends_ms, starts_ms;
	double loss_max;
};

static void t_cb(enum alert_event ev, const struct alert *a, void *arg)
{
	struct t_log *l = arg;
	size_t n = strlen(l->ev);

	cr_assert_lt(n + 1, sizeof(l->ev));
	l->ev[n] = ev == ALERT_FIRE ? 'F' : ev == ALERT_REFRESH ? 'R' : 'X';
	l->ends_ms = a->ends_ms;
	l->starts_ms = a->starts_ms;
	l->loss_max = a->loss_ratio_max;
}

static struct alert_input t_link(const char *from, const char *to, double loss)
{
	struct alert_input in;

	memset(&in, 0, sizeof(in));
	in.s.kind = SUSPECT_LINK;
	snprintf(in.s.from, sizeof(in.s.from), "%s", from);
	snprintf(in.s.to, sizeof(in.s.to), "%s", to);
	in.s.loss_ratio = loss;
	in.s.confidence = 0.999;
	return in;
}

/* Feed a pattern of rounds 10 s apart: '1' the suspect is present, 'h'
 * present but held, 'e' present but explained, '0' a clean round; the log gets a '.' after each
 * round's events. */
static void t_run(struct alert_book *b, const char *pattern, struct t_log *l)
{
	struct alert_input in = t_link("spine1", "leaf2", 0.01);

	for (size_t i = 0; pattern[i]; i++) {
		int64_t at_ms = 1000000 + 10000 * (int64_t)i;

		in.held = pattern[i] == 'h';
		in.explained = pattern[i] == 'e';
		cr_assert_geq(alert_book_round(b, at_ms, 30000, &in,
					       pattern[i] != '0', t_cb, l), 0);
		strcat(l->ev, ".");
	}
}

struct t_case {
	unsigned raise, clear;
	const char *rounds, *events;
};

/* A book with the default rules; resend_ms 0 keeps the default period. */
static struct alert_book *t_book(int64_t resend_ms)
{
	struct alert_cfg cfg;
	struct alert_book *b;

	alert_cfg_default(&cfg);
	if (resend_ms)
		cfg.resend_ms = resend_ms;
	b = alert_book_new(&cfg);
	cr_assert_not_null(b);
	return b;
}

Test(alert, pattern_table_fires_resolves_without_flapping)
{
	static const struct t_case cases[] = {
		/* one round is noise, two consecutive rounds fire */
		{ 2, 2, "1000", "...." },
		{ 2, 2, "11", ".F." },
		/* a flapping suspect (on/off every round) never fires */
		{ 2, 2, "1010101010", ".........." },
		/* once firing, one clean round does not resolve; two do */
		{ 2, 2, "1101", ".F..." },
		{ 2, 2, "11001", ".F..X.." },
		/* flapping while firing keeps one alert: no resolve, no refire */
		{ 2, 2, "1101010101", ".F........." },
		/* after a resolve, the suspect must persist again to refire */
		{ 2, 2, "110010110", ".F..X....F.." },
		{ 3, 1, "11011100", ".....F.X.." },
		{ 1, 3, "1000", "F...X." },
		/* held rounds hold a pending suspect: no fire, no reset */
		{ 2, 2, "hhhh", "...." },
		{ 2, 2, "1h1", "..F." },
		{ 2, 2, "1h0h1", "....." },
		/* and keep a firing one alive */
		{ 2, 2, "11hh0h0", ".F......" },
		/* an explained suspect never alerts, however long it lasts */
		{ 1, 1, "eeee", "...." },
		{ 2, 2, "1e1e", "...." },
		/* one already firing is kept alive by its explained self */
		{ 2, 2, "11ee00", ".F....X." },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct alert_cfg cfg;
		struct alert_book *b;
		struct t_log l = { 0 };

		alert_cfg_default(&cfg);
		cfg.raise_rounds = cases[i].raise;
		cfg.clear_rounds = cases[i].clear;
		cfg.resend_ms = 1000000; /* no refreshes in these cases */
		b = alert_book_new(&cfg);
		cr_assert_not_null(b);
		t_run(b, cases[i].rounds, &l);
		cr_expect_str_eq(l.ev, cases[i].events, "case %zu (%s): got %s",
				 i, cases[i].rounds, l.ev);
		alert_book_free(b);
	}
}

Test(alert, resolve_carries_start_and_end_times)
{
	struct alert_book *b = t_book(0);
	struct t_log l = { 0 };

	t_run(b, "0111100", &l);
	cr_assert_str_eq(l.ev, "..F....X.");
	/* the streak began in round 1; round 6 is the second clean one */
	cr_expect_eq(l.starts_ms, 1010000);
	cr_expect_eq(l.ends_ms, 1060000);
	cr_expect_eq(alert_book_firing(b), 0);
	alert_book_free(b);
}

Test(alert, firing_alert_is_refreshed_every_resend_period)
{
	struct alert_book *b = t_book(25000); /* rounds are 10 s apart: every third round */
	struct t_log l = { 0 };

	t_run(b, "11111111", &l);
	cr_expect_str_eq(l.ev, ".F...R...R.");
	cr_expect_eq(alert_book_firing(b), 1);
	alert_book_free(b);
}

Test(alert, suspects_are_independent_and_keep_their_highest_loss)
{
	struct alert_book *b = t_book(0);
	struct t_log l = { 0 };
	struct alert_input two[2] = { t_link("spine1", "leaf2", 0.02),
				      t_link("spine2", "leaf1", 0.05) };
	struct alert_input dev = t_link("leaf3", "", 0.03);

	dev.s.kind = SUSPECT_DEVICE;
	cr_assert_eq(alert_book_round(b, 0, 30000, two, 2, t_cb, &l), 0);
	two[0].s.loss_ratio = 0.01;
	cr_assert_eq(alert_book_round(b, 10000, 30000, two, 1, t_cb, &l), 1);
	cr_expect_float_eq(l.loss_max, 0.02, 1e-12);
	cr_expect_eq(alert_book_firing(b), 1);
	/* same names, other kind: its own key */
	cr_assert_eq(alert_book_round(b, 20000, 30000, &dev, 1, t_cb, &l), 0);
	cr_assert_eq(alert_book_round(b, 30000, 30000, &dev, 1, t_cb, &l), 2);
	cr_expect_str_eq(l.ev, "FXF");
	alert_book_free(b);
}

Test(alert, duplicate_suspect_in_one_round_counts_once)
{
	struct alert_book *b = t_book(0);
	struct t_log l = { 0 };
	struct alert_input twice[2] = { t_link("a", "b", 0.1),
					t_link("a", "b", 0.1) };

	cr_expect_eq(alert_book_round(b, 0, 1000, twice, 2, t_cb, &l), 0);
	cr_expect_eq(alert_book_firing(b), 0);
	alert_book_free(b);
}

Test(alert, query_command_names_the_suspect)
{
	struct alert a;
	char q[256];

	memset(&a, 0, sizeof(a));
	a.s = t_link("spine1", "leaf2", 0.01).s;
	alert_query_format(q, sizeof(q), &a, "/var/lib/fm.db");
	cr_expect_str_eq(q, "triangulate link spine1 leaf2 --db /var/lib/fm.db");
	a.s.kind = SUSPECT_DEVICE;
	a.s.to[0] = 0;
	alert_query_format(q, sizeof(q), &a, "x.db");
	cr_expect_str_eq(q, "triangulate device spine1 --db x.db");
}

Test(alert, related_suspect_keeps_a_firing_alert_from_resolving)
{
	struct alert_book *b = t_book(0);
	struct t_log l = { 0 };
	struct alert_input link = t_link("spine2", "leaf2", 0.02);
	struct alert_input dev = t_link("leaf2", "", 0.02);
	struct alert_input other = t_link("spine1", "leaf3", 0.02);

	dev.s.kind = SUSPECT_DEVICE;
	alert_book_round(b, 0, 1000, &link, 1, t_cb, &l);
	alert_book_round(b, 1000, 1000, &link, 1, t_cb, &l);
	cr_assert_str_eq(l.ev, "F");
	/* the same fault named as its device: the link alert stays, the
	 * device alerts on its own after two rounds */
	alert_book_round(b, 2000, 1000, &dev, 1, t_cb, &l);
	alert_book_round(b, 3000, 1000, &dev, 1, t_cb, &l);
	alert_book_round(b, 4000, 1000, &dev, 1, t_cb, &l);
	cr_expect_str_eq(l.ev, "FF");
	cr_expect_eq(alert_book_firing(b), 2);
	/* an unrelated suspect does not keep it: both resolve */
	alert_book_round(b, 5000, 1000, &other, 1, t_cb, &l);
	alert_book_round(b, 6000, 1000, &other, 1, t_cb, &l);
	cr_expect_str_eq(l.ev, "FFXXF");
	alert_book_free(b);
}

Test(alert, ambiguous_pair_in_either_order_is_one_alert)
{
	struct alert_book *b = t_book(0);
	struct t_log l = { 0 };
	struct alert_input p = t_link("fsw1-2", "ssw2-1", 0.02), q = t_link("ssw2-1", "fsw2-2", 0.02);

	snprintf(p.s.also_from, sizeof(p.s.also_from), "ssw2-1");
	snprintf(p.s.also_to, sizeof(p.s.also_to), "fsw2-2");
	snprintf(q.s.also_from, sizeof(q.s.also_from), "fsw1-2");
	snprintf(q.s.also_to, sizeof(q.s.also_to), "ssw2-1");
	alert_book_round(b, 0, 1000, &p, 1, t_cb, &l);
	alert_book_round(b, 1000, 1000, &q, 1, t_cb, &l);
	alert_book_round(b, 2000, 1000, &p, 1, t_cb, &l);
	cr_expect_str_eq(l.ev, "F");
	cr_expect_eq(alert_book_firing(b), 1);
	alert_book_free(b);
}
