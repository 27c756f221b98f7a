/* Tests of triangulate watch on a collector database (synthetic batches with
 * paths, written through the store): a faulty link fires one alert naming it
 * after --persist rounds, recorded in the suspect history, but not on rounds
 * that bring no new batches; a clean fabric and
 * a missing database fire nothing and do not stop the watch. */
#include "store_history.h"
#include "cmd.h"
#include "clock.h"
#include "synth_db.h"
#include "unit_util.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


/* Ten 10 s intervals ending now; the fault (if any) over the last five. */
static void t_db_write(const char *from, const char *to, double loss)
{
	struct synth_db_cfg cfg;
	char err[256];
	int64_t now_ms;

	now_ms = clock_real_ms();
	synth_db_cfg_default(&cfg);
	cfg.spines = 3;
	cfg.interval_ms = 10000;
	cfg.intervals = 10;
	cfg.start_ms = now_ms - 100000;
	cfg.fault_from = from;
	cfg.fault_to = to;
	cfg.fault_loss_ratio = loss;
	cfg.fault_start_ms = now_ms - 50000;
	cfg.fault_end_ms = now_ms + 1;
	cr_assert_gt(synth_db_write(unit_dir.db, unit_dir.inv, &cfg, err, sizeof(err)), 0, "%s", err);
}

static int t_watch(const char *extra1, const char *extra2, const char *extra3)
{
	char hook[128];
	char *argv[16] = { "watch", "--db", unit_dir.db, "--inventory", unit_dir.inv, "--hook", hook };
	int argc = 7;

	snprintf(hook, sizeof(hook), "cat >> %s", unit_dir.hook);
	if (extra1)
		argv[argc++] = (char *)extra1;
	if (extra2)
		argv[argc++] = (char *)extra2;
	if (extra3)
		argv[argc++] = (char *)extra3;
	return cmd_watch(argc, argv);
}

/* The hook file's lines (events). */
static int t_hook_lines(char *first, size_t len)
{
	FILE *f = fopen(unit_dir.hook, "r");
	char line[4096];
	int n = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (n++ == 0 && first)
			snprintf(first, len, "%s", line);
	fclose(f);
	return n;
}

static int t_episode_cb(const struct history_episode *e, void *arg)
{
	char *out = arg;

	snprintf(out, 128, "%s %s %s", e->kind, e->from, e->to);
	return 0;
}

Test(alert_watch, faulty_link_fires_once_after_persist_rounds, .init = unit_dir_setup,
     .fini = unit_dir_teardown)
{
	char first[4096] = "", ep[128] = "", err[256];
	struct history *h;

	t_db_write("spine2", "leaf3", 0.02);
	/* three timed rounds, persist 2: one fire in round 2, then it stays firing */
	cr_assert_eq(t_watch("--rounds=3", "--interval=200ms", "--timer"), 0);
	cr_assert_eq(t_hook_lines(first, sizeof(first)), 1, "events: %d", t_hook_lines(NULL, 0));
	cr_expect(strstr(first, "\"event\": \"fire\""), "%s", first);
	cr_expect(strstr(first, "\"kind\": \"link\", \"from\": \"spine2\", \"to\": \"leaf3\""),
		  "%s", first);
	cr_expect(strstr(first, "\"query\": \"triangulate link spine2 leaf3 --db "), "%s", first);
	h = history_open(unit_dir.db, err, sizeof(err));
	cr_assert_not_null(h, "%s", err);
	cr_assert_eq(history_episodes_query(h, 0, INT64_MAX, t_episode_cb, ep), 0);
	cr_expect_str_eq(ep, "link spine2 leaf3");
	history_close(h);
}

Test(alert_watch, round_without_new_batches_does_not_count_to_persist,
     .init = unit_dir_setup, .fini = unit_dir_teardown)
{
	t_db_write("spine2", "leaf3", 0.02);
	/* no batch lands after the first round: the later ticks bring no new
	 * evidence, so the suspect seen once does not fire on them */
	cr_assert_eq(t_watch("--rounds=3", "--interval=200ms", "--persist=2"), 0);
	cr_expect_eq(t_hook_lines(NULL, 0), 0);
}

Test(alert_watch, once_exits_3_on_a_fault_and_0_when_clean, .init = unit_dir_setup,
     .fini = unit_dir_teardown)
{
	t_db_write("leaf1", "spine3", 0.02);
	cr_expect_eq(t_watch("--once", NULL, NULL), 3);
	unit_dir_teardown();
	unit_dir_setup();
	t_db_write(NULL, NULL, 0);
	cr_expect_eq(t_watch("--once", NULL, NULL), 0);
	cr_expect_eq(t_hook_lines(NULL, 0), 0);
}

Test(alert_watch, missing_database_skips_rounds_without_exiting, .init = unit_dir_setup,
     .fini = unit_dir_teardown)
{
	/* no database at all: rounds are skipped, the watch runs on to the end */
	FILE *f = fopen(unit_dir.inv, "w");

	cr_assert_not_null(f);
	fputs("# faultmesh inventory v1\n", f);
	fclose(f);
	cr_expect_eq(t_watch("--rounds=2", "--interval=200ms", NULL), 0);
	cr_expect_eq(t_hook_lines(NULL, 0), 0);
	cr_expect_eq(access(unit_dir.db, F_OK), -1, "the watch must not create the database");
}
