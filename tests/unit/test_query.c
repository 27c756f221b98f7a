/* Tests of triangulate device/link/suspects on a synthetic fabric database
 * with one faulty link: the verdicts, the evidence, bad names, history. */
#include "store.h"
#include "cmd.h"
#include "store_history.h"
#include "fabric_view.h"
#include "query.h"
#include "cmd_localize.h"
#include "synth_db.h"
#include "unit_util.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T_END_MS 1800000000000LL /* a fixed "now" so runs are repeatable */


static void t_setup(void)
{
	struct synth_db_cfg c;
	char err[256];

	unit_dir_setup();
	synth_db_cfg_default(&c);
	c.intervals = 60; /* an hour of minutes */
	c.start_ms = T_END_MS - 3600000;
	synth_db_cfg_link_fault(&c, T_END_MS - 1200000, T_END_MS); /* the last 20 minutes */
	cr_assert_eq(synth_db_write(unit_dir.db, unit_dir.inv, &c, err, sizeof(err)), 360, "%s", err);
}

/* Run a command with stdout into unit_dir.out; returns its exit code and the
 * output (malloc'd) in *text. */
static int t_run(int (*cmd)(int, char **), char **text, int argc, ...)
{
	char *argv[24];
	va_list ap;

	va_start(ap, argc);
	for (int i = 0; i < argc; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	argv[argc] = NULL;
	return unit_stdout_capture(unit_dir.out, cmd, argc, argv, text);
}

#define T_UNTIL "--until=1800000000000"

Test(query, device_at_one_end_of_the_faulty_link_is_healthy_and_names_the_link,
     .init = t_setup, .fini = unit_dir_teardown)
{
	char *out;
	int rc = t_run(cmd_device, &out, 8, "device", "leaf2", "--db", unit_dir.db,
		       "--inventory", unit_dir.inv, T_UNTIL, "--json");

	cr_assert_eq(rc, 0);
	cr_assert(strstr(out, "\"verdict\": \"healthy\", \"dropping\": false, "
			      "\"detail\": \"healthy; its link spine1 -> leaf2 is dropping: "),
		  "%s", out);
	cr_assert(strstr(out, "\"window_ms\": 30000"), "the watch's window: %s", out);
	UNIT_TEXT_HAS(out, "{\"from\": \"spine1\", \"to\": \"leaf2\", \"loss\": 0.0",
		      "\"suspect\": true", "\"pairs\": [\n  {\"prober\": \"h");
	free(out);
}

Test(query, healthy_device_is_not_dropping_with_a_bound, .init = t_setup,
     .fini = unit_dir_teardown)
{
	char *out;
	int rc = t_run(cmd_device, &out, 8, "device", "leaf3", "--db", unit_dir.db,
		       "--inventory", unit_dir.inv, T_UNTIL, "--json");

	cr_assert_eq(rc, 0);
	cr_assert(strstr(out, "\"verdict\": \"not dropping\""), "%s", out);
	cr_assert(strstr(out, "\"dropping\": false"), "%s", out);
	cr_assert(strstr(out, "\"suspect\": true") == NULL, "%s", out);
	free(out);
}

Test(query, link_text_names_the_verdict_and_the_hours_before, .init = t_setup,
     .fini = unit_dir_teardown)
{
	char *out;
	int rc = t_run(cmd_link, &out, 10, "link", "spine1", "leaf2", "--db", unit_dir.db,
		       "--inventory", unit_dir.inv, T_UNTIL, "--since=1h", "--bucket=20m");

	cr_assert_eq(rc, 0);
	cr_assert(strstr(out, "link spine1 -> leaf2: dropping"), "%s", out);
	/* the hour before the fault is clean, the last hour is not */
	cr_assert(strstr(out, "not dropping"), "%s", out);
	free(out);
}

Test(query, unknown_name_is_a_clear_error, .init = t_setup, .fini = unit_dir_teardown)
{
	char *out;

	cr_assert_eq(t_run(cmd_device, &out, 7, "device", "leaf9", "--db", unit_dir.db,
			   "--inventory", unit_dir.inv, T_UNTIL), 2);
	cr_assert_str_eq(out, "");
	free(out);
	cr_assert_eq(t_run(cmd_link, &out, 8, "link", "spine1", "leaf9", "--db", unit_dir.db,
			   "--inventory", unit_dir.inv, T_UNTIL), 2);
	free(out);
	/* two known devices with no link between them */
	cr_assert_eq(t_run(cmd_link, &out, 8, "link", "leaf1", "leaf2", "--db", unit_dir.db,
			   "--inventory", unit_dir.inv, T_UNTIL), 2);
	free(out);
	cr_assert_eq(t_run(cmd_device, &out, 4, "device", "leaf2", "--db",
			   "/nonexistent/fm.db"), 1);
	free(out);
}

Test(query, suspects_lists_recorded_episodes, .init = t_setup, .fini = unit_dir_teardown)
{
	const struct history_suspect s = { .kind = "link", .from = "spine1",
					   .to = "leaf2", .loss_ratio = 0.05,
					   .confidence = 1 };
	struct history *h;
	char err[256], *out;

	h = history_open(unit_dir.db, err, sizeof(err));
	cr_assert_not_null(h, "%s", err);
	cr_assert_eq(history_round_record(h, T_END_MS - 600000, &s, 1, 2), 0);
	cr_assert_eq(history_round_record(h, T_END_MS - 300000, &s, 1, 2), 0);
	history_close(h);
	cr_assert_eq(t_run(cmd_suspects, &out, 5, "suspects", "--db", unit_dir.db, T_UNTIL,
			   "--json"), 0);
	cr_assert(strstr(out, "\"kind\": \"link\", \"from\": \"spine1\", \"to\": \"leaf2\""),
		  "%s", out);
	cr_assert(strstr(out, "\"open\": true, \"rounds\": 2"), "%s", out);
	free(out);
	/* the device query shows the same episode */
	cr_assert_eq(t_run(cmd_device, &out, 8, "device", "leaf2", "--db", unit_dir.db,
			   "--inventory", unit_dir.inv, T_UNTIL, "--json"), 0);
	cr_assert(strstr(out, "\"episodes\": [\n  {\"id\": 1"), "%s", out);
	free(out);
}

Test(query, device_fault_is_named_for_the_device_and_its_links)
{
	struct synth_db_cfg c;
	char err[256], *out;

	unit_dir_setup();
	synth_db_cfg_default(&c);
	c.spines = 3;
	c.intervals = 20;
	c.start_ms = T_END_MS - 1200000;
	c.fault_from = "leaf2"; /* leaf2 drops 5% of what its spines send it */
	c.fault_loss_ratio = 0.05;
	c.fault_start_ms = c.start_ms;
	c.fault_end_ms = T_END_MS;
	cr_assert_gt(synth_db_write(unit_dir.db, unit_dir.inv, &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(t_run(cmd_device, &out, 8, "device", "leaf2", "--db", unit_dir.db,
			   "--inventory", unit_dir.inv, T_UNTIL, "--json"), 0);
	cr_assert(strstr(out, "\"verdict\": \"dropping\""), "%s", out);
	/* named as a device, or as all three links from the spines */
	cr_assert(strstr(out, "\"detail\": \"device leaf2:") ||
			  strstr(out, "\"detail\": \"3 of its links drop; worst link spine"),
		  "%s", out);
	free(out);
	/* a link into it is news too: its far end is a dropping device */
	cr_assert_eq(t_run(cmd_link, &out, 9, "link", "spine3", "leaf2", "--db", unit_dir.db,
			   "--inventory", unit_dir.inv, T_UNTIL, "--json"), 0);
	cr_assert(strstr(out, "\"verdict\": \"dropping\""), "%s", out);
	free(out);
	cr_assert_eq(t_run(cmd_device, &out, 8, "device", "leaf3", "--db", unit_dir.db,
			   "--inventory", unit_dir.inv, T_UNTIL, "--json"), 0);
	cr_assert(strstr(out, "\"verdict\": \"not dropping\""), "%s", out);
	free(out);
	unit_dir_teardown();
}

/* Look-back slices of whole hours end on the hour; the hour under way is
 * one more, partial slice up to --until. */
Test(query, look_back_slices_end_on_the_hour_then_a_partial_one, .init = t_setup,
     .fini = unit_dir_teardown)
{
	char *out, want[160];
	int rc = t_run(cmd_device, &out, 8, "device", "leaf2", "--db", unit_dir.db,
		       "--inventory", unit_dir.inv, "--until=1799999400000", "--json");

	cr_assert_eq(rc, 0);
	/* 6 hourly slices ending at T_END - 1h, then [T_END - 1h, T_END - 10m) */
	snprintf(want, sizeof(want), "{\"start_ms\": %lld, \"end_ms\": %lld, ",
		 T_END_MS - 7 * 3600000LL, T_END_MS - 6 * 3600000LL);
	cr_assert(strstr(out, want), "%s", out);
	snprintf(want, sizeof(want), "{\"start_ms\": %lld, \"end_ms\": %lld, \"loss\": 0, "
		 "\"verdict\": \"no data\"},\n  {\"start_ms\": %lld, \"end_ms\": %lld, ",
		 T_END_MS - 2 * 3600000LL, T_END_MS - 3600000LL, T_END_MS - 3600000LL,
		 T_END_MS - 600000LL);
	cr_assert(strstr(out, want), "%s", out);
	free(out);
}

/* Nine days back, two hours of a 5% spine1 -> leaf2 fault; retention then
 * deleted the raw results. The look-back still finds leaf2 dropping then,
 * from the hourly rollups, as it did before retention. */
Test(query, look_back_after_retention_shows_the_fault_from_rollups)
{
	const int64_t day_ms = 86400000LL, start_ms = T_END_MS - 9 * day_ms;
	struct synth_db_cfg c;
	struct store_retention_stats st;
	struct fabric_view v;
	struct store *s;
	char err[256], want[96], *out;
	const char *hit;

	unit_dir_setup();
	synth_db_cfg_default(&c);
	c.intervals = 120;
	c.start_ms = start_ms;
	synth_db_cfg_link_fault(&c, start_ms, T_END_MS);
	cr_assert_eq(synth_db_write(unit_dir.db, unit_dir.inv, &c, err, sizeof(err)), 720, "%s", err);
	/* --since 10d: slices of 10 h, one of them [T_END - 220h, T_END - 210h) */
	snprintf(want, sizeof(want), "{\"start_ms\": %lld, \"end_ms\": %lld, \"loss\": 0.0",
		 T_END_MS - 220 * 3600000LL, T_END_MS - 210 * 3600000LL);
	for (int pass = 0; pass < 2; pass++) {
		cr_assert_eq(t_run(cmd_device, &out, 9, "device", "leaf2", "--db", unit_dir.db,
				   "--inventory", unit_dir.inv, T_UNTIL, "--since=10d", "--json"), 0);
		hit = strstr(out, want);
		cr_assert(hit, "pass %d: %s", pass, out);
		cr_assert(strstr(hit, "\"verdict\": \"healthy\"}") ==
				  strchr(hit, '}') - strlen("\"verdict\": \"healthy\""),
			  "pass %d: %.120s", pass, hit);
		free(out);
		if (pass)
			break;
		s = store_open(NULL, unit_dir.db, err, sizeof(err));
		cr_assert_not_null(s, "%s", err);
		cr_assert_eq(store_retention_run(s, T_END_MS, 7 * day_ms, 90 * day_ms, &st), 0,
			     "%s", store_error(s));
		cr_assert_eq(st.batches_expired, 720);
		store_close(s);
		/* the raw results are gone indeed */
		cr_assert_eq(fabric_view_db_build(&v, unit_dir.db, FABRIC_VIEW_RAW, start_ms,
						  start_ms + 2 * 3600000, NULL, NULL, err,
						  sizeof(err)), 0, "%s", err);
		cr_assert_eq(v.flows, 0);
		fabric_view_free(&v);
	}
	unit_dir_teardown();
}

Test(query, device_without_any_inventory_refuses_instead_of_no_data, .init = t_setup,
     .fini = unit_dir_teardown)
{
	char *out;
	int rc = t_run(cmd_device, &out, 5, "device", "spine1", "--db", unit_dir.db, T_UNTIL);

	cr_assert_eq(rc, 2, "answered about addresses: %s", out);
	cr_assert(strstr(out, "no data") == NULL, "%s", out);
	free(out);
}

Test(query, commands_use_the_inventory_loaded_into_the_store, .init = t_setup,
     .fini = unit_dir_teardown)
{
	char *out;
	int rc = t_run(cmd_inventory, &out, 5, "inventory", "load", unit_dir.inv, "--db", unit_dir.db);

	cr_assert_eq(rc, 0, "%s", out);
	cr_assert(strstr(out, "loaded into"), "%s", out);
	free(out);
	rc = t_run(cmd_inventory, &out, 5, "inventory", "load", unit_dir.inv, "--db", unit_dir.db);
	cr_assert(strstr(out, "unchanged in"), "%s", out);
	free(out);
	/* the dig-in command exactly as the watch prints it: no --inventory */
	rc = t_run(cmd_link, &out, 7, "link", "spine1", "leaf2", "--db", unit_dir.db, T_UNTIL,
		   "--json");
	cr_assert_eq(rc, 0);
	cr_assert(strstr(out, "\"verdict\": \"dropping\""), "%s", out);
	free(out);
	rc = t_run(cmd_inventory, &out, 4, "inventory", "show", "--db", unit_dir.db);
	cr_assert_eq(rc, 0);
	cr_assert(strstr(out, "# loaded from "), "%s", out);
	free(out);
}

Test(query, inventory_load_refuses_a_bad_file_naming_its_line, .init = t_setup,
     .fini = unit_dir_teardown)
{
	char *out, bad[128];
	int rc;

	snprintf(bad, sizeof(bad), "%s.bad", unit_dir.inv);
	unit_file_write(bad, "# faultmesh inventory v1\nnot-an-address\th1\n");
	rc = t_run(cmd_inventory, &out, 5, "inventory", "load", bad, "--db", unit_dir.db);
	unlink(bad);
	cr_assert_eq(rc, 1);
	free(out);
}

Test(query, localize_from_a_store_without_an_inventory_refuses, .init = t_setup,
     .fini = unit_dir_teardown)
{
	char *out;
	int rc = t_run(cmd_localize, &out, 5, "localize", "--db", unit_dir.db, "--window", "10m");

	cr_assert_eq(rc, 2, "localized over addresses: %s", out);
	cr_assert_eq(out[0], 0, "%s", out);
	free(out);
	t_run(cmd_inventory, &out, 5, "inventory", "load", unit_dir.inv, "--db", unit_dir.db);
	free(out);
	rc = t_run(cmd_localize, &out, 6, "localize", "--db", unit_dir.db, "--window", "10m", "--json");
	cr_assert_eq(rc, 0, "with the stored inventory: %s", out);
	cr_assert(strstr(out, "\"suspects\": ["), "%s", out);
	free(out);
}

Test(query, suspects_without_a_watch_says_it_needs_one, .init = t_setup, .fini = unit_dir_teardown)
{
	char *out;
	int rc = t_run(cmd_suspects, &out, 4, "suspects", "--db", unit_dir.db, T_UNTIL);

	cr_assert_eq(rc, 0);
	cr_assert(strstr(out, "no triangulate watch recorded a round in "), "%s", out);
	cr_assert(strstr(out, "a running 'triangulate watch --db "), "%s", out);
	free(out);
}
