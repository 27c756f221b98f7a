/* Tests of triangulate report on a synthetic fabric database: summary.json
 * fields, the heatmap's faulty link in the fault colour (and only it), a
 * self-contained page, the comparison with the previous report. */
#include "infer.h"
#include "observations.h"
#include "cmd.h"
#include "store.h"
#include "fabric_report.h"
#include "query.h"
#include "synth_db.h"
#include "unit_util.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define T_END_MS 1800000000000LL


static void t_setup(void)
{
	struct synth_db_cfg c;
	char err[256];

	unit_dir_setup();
	synth_db_cfg_default(&c);
	c.intervals = 120; /* two hours of minutes */
	c.start_ms = T_END_MS - 7200000;
	synth_db_cfg_link_fault(&c, T_END_MS - 3600000, T_END_MS);
	c.down_prober = "h6"; /* silent for 20 minutes */
	c.down_start_ms = T_END_MS - 5400000;
	c.down_end_ms = T_END_MS - 4200000;
	cr_assert_gt(synth_db_write(unit_dir.db, unit_dir.inv, &c, err, sizeof(err)), 0, "%s", err);
}

/* Run triangulate report into DIR/name with stdout silenced. */
static int t_report(const char *name, const char *previous)
{
	char out[160], prev[200];
	char *argv[16] = { "report", "--db", unit_dir.db, "--inventory", unit_dir.inv,
			   "--since=2h", "--until=1800000000000", "--out", out };
	int argc = 9;

	snprintf(out, sizeof(out), "%s/%s", unit_dir.dir, name);
	if (previous) {
		snprintf(prev, sizeof(prev), "--previous=%s", previous);
		argv[argc++] = prev;
	}
	return unit_stdout_quiet(cmd_report, argc, argv);
}

static char *t_file(const char *name, const char *file)
{
	char p[200];

	snprintf(p, sizeof(p), "%s/%s/%s", unit_dir.dir, name, file);
	return unit_file_read(p);
}

Test(report_fabric, summary_names_the_fault_tiers_and_the_down_prober,
     .init = t_setup, .fini = unit_dir_teardown)
{
	char *js;

	cr_assert_eq(t_report("r1", NULL), 0);
	js = t_file("r1", "summary.json");
	UNIT_TEXT_HAS(js, "\"suspect_keys\": [\"link spine1 leaf2\"]", "\"name\": \"h-leaf\"",
		      "\"name\": \"leaf-spine\", \"lower_tier\": 1, \"links\": 12",
		      "{\"tier\": 2, \"label\": \"spine\", \"devices\": 2}",
		      "\"probers_down\": 1, \"probers_sick\": 0",
		      "{\"name\": \"h6\", \"status\": \"down\"", "\"previous\": null");
	/* 24 slices of 5 minutes; the fault was on in the second hour only */
	cr_assert(strstr(js, "\"timeline\": [null, null, null, null, null, null, null, "
			     "null, null, null, null, null, 0.0"), "%s", js);
	free(js);
}

Test(report_fabric, heatmap_draws_the_faulty_link_and_only_it_in_the_fault_colour,
     .init = t_setup, .fini = unit_dir_teardown)
{
	char *html, *p;
	int links = 0, faults = 0;

	cr_assert_eq(t_report("r1", NULL), 0);
	html = t_file("r1", "index.html");
	p = strstr(html, "<line class=\"link fault\" data-from=\"spine1\" data-to=\"leaf2\"");
	cr_assert_not_null(p, "no faulty link element");
	cr_assert(strstr(p, "stroke=\"" FREPORT_FAULT_COLOR "\"") <
			  strstr(p, "</line>"),
		  "faulty link not in the fault colour");
	cr_assert(strstr(p, "<title>spine1"), "faulty link has no title");
	/* the dig-in command runs as shown: with the inventory that names things */
	cr_assert(strstr(html, "<code>triangulate link spine1 leaf2 --db "), "no dig-in command");
	cr_assert(strstr(html, "/inv</code>"), "dig-in command lacks --inventory");
	for (p = html; (p = strstr(p, "<line class=\"link")); p++) {
		char *end = strstr(p, "</line>");
		char *col = strstr(p, "stroke=\"" FREPORT_FAULT_COLOR "\"");

		links++;
		if (col && col < end)
			faults++;
	}
	cr_assert_eq(links, 24, "every directed link drawn once");
	cr_assert_eq(faults, 1, "only the faulty link in the fault colour");
	free(html);
}

Test(report_fabric, page_is_self_contained, .init = t_setup, .fini = unit_dir_teardown)
{
	char *html, *p;

	cr_assert_eq(t_report("r1", NULL), 0);
	html = t_file("r1", "index.html");
	cr_assert_null(strstr(html, "<script"));
	cr_assert_null(strstr(html, "<link "));
	cr_assert_null(strstr(html, "src="));
	cr_assert_null(strstr(html, "url("));
	for (p = html; (p = strstr(p, "http")); p++)
		cr_assert(!strncmp(p, "http://www.w3.org/2000/svg\"", 27),
			  "a reference out of the page: %.60s", p);
	free(html);
}

Test(report_fabric, compares_with_the_previous_report, .init = t_setup,
     .fini = unit_dir_teardown)
{
	char prev[200], *js;
	FILE *f;

	/* a dated sibling with another suspect: found without --previous */
	snprintf(prev, sizeof(prev), "%s/2026-01-01", unit_dir.dir);
	mkdir(prev, 0755);
	snprintf(prev, sizeof(prev), "%s/2026-01-01/summary.json", unit_dir.dir);
	f = fopen(prev, "w");
	cr_assert_not_null(f);
	fprintf(f, "{\"version\": 1, \"until_ms\": 1799913600000,\n"
		   " \"fabric\": {\"loss\": 0.25, \"sent\": 4},\n"
		   " \"suspect_keys\": [\"link spine2 leaf1\", \"device leaf3\"]}\n");
	fclose(f);
	cr_assert_eq(t_report("2026-01-02", NULL), 0);
	js = t_file("2026-01-02", "summary.json");
	UNIT_TEXT_HAS(js, "\"previous\": {\"file\": ", "2026-01-01/summary.json",
		      "\"suspects_gone\": [\"link spine2 leaf1\", \"device leaf3\"]",
		      "\"new\": true", "\"loss\": 0.25, \"loss_change\": -0.2");
	free(js);

	/* the next night compares with this one: the suspect is no longer new */
	cr_assert_eq(t_report("2026-01-03", NULL), 0);
	js = t_file("2026-01-03", "summary.json");
	UNIT_TEXT_HAS(js, "2026-01-02/summary.json", "\"new\": false", "\"suspects_gone\": []");
	free(js);
}

Test(report_fabric, previous_that_is_not_a_summary_is_refused, .init = t_setup,
     .fini = unit_dir_teardown)
{
	struct freport_previous p = { 0 };
	char path[200], err[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/bad.json", unit_dir.dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f, "{\"version\": 7, \"fabric\": {\"loss\": 1}}");
	fclose(f);
	cr_assert_eq(freport_previous_read(&p, path, err, sizeof(err)), -1);
	cr_assert(strstr(err, "not a faultmesh summary"), "%s", err);
	f = fopen(path, "w");
	fprintf(f, "{\"version\": 1, \"fabric\": {\"loss\": 0}, \"suspect_keys\": [\"unterminated]");
	fclose(f);
	cr_assert_eq(freport_previous_read(&p, path, err, sizeof(err)), -1);
	/* an explicit --previous that is bad fails the report */
	cr_assert_eq(t_report("r2", path), 1);
}

/* Tiers come from hops to the hosts, whatever the names: a 3-tier path
 * h - tor - fsw - ssw - fsw - tor - h gives 4 tiers labelled by name stems. */
Test(report_fabric, tiers_come_from_the_topology_not_the_names)
{
	static const char *const up[] = { "tor1-1", "fsw1-1", "ssw1-1", "fsw2-1", "tor2-1" };
	static const char *const up2[] = { "tor1-1", "fsw1-2", "ssw2-1", "fsw2-2", "tor2-1" };
	struct obs_row row = { .prober = "h1", .target = "h2", .proto = OBS_PROTO_UDP,
			       .sport = 40000, .dport = 31338, .sent = 100, .lost = 0,
			       .nhops = 5, .hops = up };
	struct obs_set *obs = obs_set_new();
	struct fabric_view v;
	char err[256], label[32];
	int64_t d;

	cr_assert_eq(obs_set_row_add(obs, &row, err, sizeof(err)), 0, "%s", err);
	row.sport = 40001;
	row.hops = up2;
	cr_assert_eq(obs_set_row_add(obs, &row, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(fabric_view_build(&v, obs, NULL, NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(v.tiers, 4);
	cr_assert_geq(d = fabric_view_dev_find(&v, "ssw2-1"), 0);
	cr_assert_eq(v.devs[d].tier, 3);
	cr_assert_geq(d = fabric_view_dev_find(&v, "fsw2-2"), 0);
	cr_assert_eq(v.devs[d].tier, 2);
	cr_assert_geq(d = fabric_view_dev_find(&v, "h2"), 0);
	cr_assert_eq(v.devs[d].tier, 0);
	cr_assert_str_eq(fabric_view_tier_label(&v, 1, label, sizeof(label)), "tor");
	cr_assert_str_eq(fabric_view_tier_label(&v, 3, label, sizeof(label)), "ssw");
	cr_assert_str_eq(fabric_view_tier_label(&v, 0, label, sizeof(label)), "h");
	cr_assert_eq(v.npairs, 1);
	cr_assert_eq(v.pairs[0].paths, 2, "two flows on two distinct paths");
	fabric_view_free(&v);
	obs_set_free(obs);
}

/* A prober whose every path loses is a sick host: the report says so in the
 * probers section even though its own counters are clean. */
Test(report_fabric, sick_host_is_listed_among_the_probers)
{
	struct synth_db_cfg c;
	char err[256], *js;

	unit_dir_setup();
	synth_db_cfg_default(&c);
	c.intervals = 120; /* the report's two hours, so no prober looks down */
	c.start_ms = T_END_MS - 7200000;
	c.fault_from = "h3";
	c.fault_to = "*";
	c.fault_loss_ratio = 0.05;
	c.fault_start_ms = T_END_MS - 1800000;
	c.fault_end_ms = T_END_MS;
	cr_assert_gt(synth_db_write(unit_dir.db, unit_dir.inv, &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(t_report("r1", NULL), 0);
	js = t_file("r1", "summary.json");
	UNIT_TEXT_HAS(js, "\"suspect_keys\": [\"host h3\"]",
		      "{\"name\": \"h3\", \"status\": \"sick\", \"reason\": "
		            "\"localized as a sick host",
		      "\"probers_down\": 0, \"probers_sick\": 1");
	free(js);
	unit_dir_teardown();
}

/* A ten-day report whose fault (two hours, nine days back) is past raw
 * retention: the whole window and its 10 h slices are read from the hourly
 * rollups, so the fault is still the day's suspect, in one slice. */
Test(report_fabric, long_report_finds_a_fault_past_raw_retention)
{
	const int64_t day_ms = 86400000LL, start_ms = T_END_MS - 9 * day_ms;
	char *argv[] = { "report", "--db", unit_dir.db, "--inventory", unit_dir.inv, "--since=10d",
			 "--until=1800000000000", "--out", NULL };
	struct store_retention_stats st;
	struct synth_db_cfg c;
	char err[256], out[160], *js;
	struct store *s;
	int rc;

	unit_dir_setup();
	snprintf(out, sizeof(out), "%s/r", unit_dir.dir);
	argv[8] = out;
	synth_db_cfg_default(&c);
	c.intervals = 120;
	c.start_ms = start_ms;
	synth_db_cfg_link_fault(&c, start_ms, T_END_MS);
	cr_assert_gt(synth_db_write(unit_dir.db, unit_dir.inv, &c, err, sizeof(err)), 0, "%s", err);
	s = store_open(NULL, unit_dir.db, err, sizeof(err));
	cr_assert_not_null(s, "%s", err);
	cr_assert_eq(store_retention_run(s, T_END_MS, 7 * day_ms, 90 * day_ms, &st), 0, "%s",
		     store_error(s));
	cr_assert_eq(st.batches_expired, 720);
	store_close(s);
	rc = unit_stdout_quiet(cmd_report, 9, argv);
	cr_assert_eq(rc, 0);
	js = t_file("r", "summary.json");
	cr_assert(strstr(js, "\"suspect_keys\": [\"link spine1 leaf2\"]"), "%s", js);
	/* slices end on the hour at until: [T_END - 220h, T_END - 210h) holds it */
	cr_assert(strstr(js, "\"timeline\": [null, null, 0.0"), "%s", js);
	free(js);
	unit_dir_teardown();
}

/* A lab started 20 minutes before the report, its probers listing their own
 * addresses too, looked at over the default day. */
Test(report_fabric, fresh_probers_are_not_down_no_self_pairs_no_sighting_before_the_data)
{
	struct synth_db_cfg c;
	char err[256], out[160], *js, *p;
	char *argv[] = { "report", "--db", unit_dir.db, "--until=1800000000000", "--out", out, NULL };
	int rc;
	const int64_t start_ms = T_END_MS - 1200000;

	unit_dir_setup();
	snprintf(out, sizeof(out), "%s/r", unit_dir.dir);
	synth_db_cfg_default(&c);
	c.intervals = 20;
	c.start_ms = start_ms;
	c.self_flows = 1;
	synth_db_cfg_link_fault(&c, start_ms, T_END_MS);
	cr_assert_gt(synth_db_write(unit_dir.db, unit_dir.inv, &c, err, sizeof(err)), 0, "%s", err);
	/* the stored inventory, as the collector's --inventory leaves it */
	{
		char *iargv[] = { "inventory", "load", unit_dir.inv, "--db", unit_dir.db, NULL };

		cr_assert_eq(unit_stdout_quiet(cmd_inventory, 5, iargv), 0);
		rc = unit_stdout_quiet(cmd_report, 6, argv);
	}
	cr_assert_eq(rc, 0);
	js = t_file("r", "summary.json");
	cr_assert(strstr(js, "\"probers_down\": 0,"), "%s", js);
	cr_assert(strstr(js, "silent for") == NULL, "%s", js);
	cr_assert(strstr(js, "{\"prober\": \"h1\", \"target\": \"h1\"") == NULL, "%s", js);
	cr_assert(strstr(js, "\"kind\": \"link\", \"from\": \"spine1\", \"to\": \"leaf2\""), "%s",
		  js);
	for (p = js; (p = strstr(p, "\"first_ms\": ")); p++) {
		long long first = atoll(p + 12);

		cr_assert_geq(first, start_ms, "seen %lld ms before the data: %s",
			      (long long)(start_ms - first), js);
	}
	free(js);
	unit_dir_teardown();
}

/* Every slice that names a link makes it a suspect of the day, so the slices
 * share the day's false-alarm budget: 14 slices at the full alpha each named
 * a healthy link beside a 5% fault now and then (test_report). */
Test(report_fabric, slices_split_the_days_false_alarm_probability)
{
	struct infer_cfg day, slice;

	infer_cfg_default(&day);
	freport_slice_cfg_set(&slice, 14);
	cr_assert_float_eq(slice.alpha * 14, day.alpha, 1e-12);
	cr_assert_float_eq(slice.prior_probes, day.prior_probes, 1e-12);
	cr_assert_float_eq(slice.background_loss, day.background_loss, 1e-12);
	cr_assert_eq(slice.max_em_rounds, day.max_em_rounds);
	freport_slice_cfg_set(&slice, 1);
	cr_assert_float_eq(slice.alpha, day.alpha, 1e-12, "one slice is the day: the full alpha");
}
