/* Tests of the one window-localize pipeline (window_localize_run), which
 * localize, watch, the query views and score all run: the same answer from a
 * file, a set in memory and the collector's store; the window bounds what the
 * store gives; the method is chosen by the caller; errors name the file. */
#include "inventory.h"
#include "method.h"
#include "model.h"
#include "observations.h"
#include "synth_db.h"
#include "window.h"
#include "unit_util.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


/* Three switches in a row, a and d on s1, c on s2, b on s3; s1 -> s2 drops
 * 5%: the only link every lossy flow crosses and no clean one does. */
static const char t_text[] =
	"# faultmesh observations v1\n"
	"a\tb\tudp\t1\t9\t4000\t200\ts1,s2,s3\n"
	"a\tc\tudp\t2\t9\t4000\t200\ts1,s2\n"
	"d\tb\tudp\t3\t9\t4000\t200\ts1,s2,s3\n"
	"d\tc\tudp\t4\t9\t4000\t200\ts1,s2\n"
	"a\td\tudp\t5\t9\t4000\t0\ts1\n"
	"d\ta\tudp\t6\t9\t4000\t0\ts1\n"
	"c\tb\tudp\t7\t9\t4000\t0\ts2,s3\n"
	"b\ta\tudp\t8\t9\t4000\t0\ts3,s2,s1\n"
	"c\ta\tudp\t9\t9\t4000\t0\ts2,s1\n"
	"c\td\tudp\t10\t9\t4000\t0\ts2,s1\n";

static int t_names(const struct suspect_list *l, enum suspect_kind k,
		   const char *from, const char *to)
{
	return l->n == 1 && l->v[0].kind == k && !strcmp(l->v[0].from, from) &&
	       !strcmp(l->v[0].to, to);
}

Test(window, file_and_set_give_one_answer, .init = unit_dir_setup, .fini = unit_dir_teardown)
{
	struct window_req req = { .src = WINDOW_SRC_FILE, .path = unit_dir.obs };
	struct window_result rf, rs;
	struct obs_set *o = obs_set_new();
	FILE *f = fopen(unit_dir.obs, "w");
	char err[256];

	cr_assert_not_null(f);
	fputs(t_text, f);
	fclose(f);
	cr_assert_eq(window_localize_run(&req, &rf, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(rf.nflows, 10);
	cr_assert_not_null(rf.m);
	cr_expect_eq(rf.m->nflows, 10);
	cr_expect(t_names(&rf.sus, SUSPECT_LINK, "s1", "s2"), "%zu suspects, first %s->%s",
		  rf.sus.n, rf.sus.n ? rf.sus.v[0].from : "", rf.sus.n ? rf.sus.v[0].to : "");
	cr_assert_eq(obs_set_parse(o, t_text, sizeof(t_text) - 1, "mem", err, sizeof(err)), 0);
	req = (struct window_req){ .src = WINDOW_SRC_SET, .obs = o };
	cr_assert_eq(window_localize_run(&req, &rs, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(rs.obs, o, "a given set is used, not copied");
	cr_expect_eq(rs.sus.n, rf.sus.n);
	cr_expect_float_eq(rs.sus.v[0].loss_ratio, rf.sus.v[0].loss_ratio, 1e-12);
	window_result_free(&rf);
	window_result_free(&rs);
	obs_set_free(o);
}

Test(window, method_is_the_callers, .init = unit_dir_setup, .fini = unit_dir_teardown)
{
	struct obs_set *o = obs_set_new();
	struct window_req req = { .src = WINDOW_SRC_SET, .obs = o,
				  .method = method_find("fbtracert") };
	struct suspect_list direct = { 0 };
	struct infer_cfg cfg;
	struct window_result r;
	struct model *m;
	char err[256];

	cr_assert_not_null(req.method);
	cr_assert_eq(obs_set_parse(o, t_text, sizeof(t_text) - 1, "mem", err, sizeof(err)), 0);
	cr_assert_eq(window_localize_run(&req, &r, err, sizeof(err)), 0, "%s", err);
	/* the same as running the baseline by hand on the same model */
	infer_cfg_default(&cfg);
	m = model_build(o, NULL, err, sizeof(err));
	cr_assert_not_null(m);
	cr_assert_eq(baseline_hop_run(m, &cfg, &direct, err, sizeof(err)), 0);
	cr_expect_geq(r.sus.n, 1);
	cr_expect_eq(r.sus.n, direct.n);
	for (size_t i = 0; i < r.sus.n && i < direct.n; i++)
		cr_expect(!strcmp(r.sus.v[i].from, direct.v[i].from) &&
			  !strcmp(r.sus.v[i].to, direct.v[i].to));
	suspect_list_free(&direct);
	model_free(m);
	window_result_free(&r);
	obs_set_free(o);
}

Test(window, errors_name_the_file_and_free_all, .init = unit_dir_setup, .fini = unit_dir_teardown)
{
	struct window_req req = { .src = WINDOW_SRC_FILE, .path = unit_dir.obs };
	struct window_result r;
	FILE *f = fopen(unit_dir.obs, "w");
	char err[256];

	cr_assert_not_null(f);
	fputs("# faultmesh observations v1\na\tb\tudp\t1\t9\t10\t20\ts1\n", f);
	fclose(f);
	cr_assert_eq(window_localize_run(&req, &r, err, sizeof(err)), -1);
	cr_expect_not_null(strstr(err, unit_dir.obs), "%s", err);
	cr_expect_not_null(strstr(err, ":2"), "line named: %s", err);
	cr_expect_null(r.m);
	cr_expect_null(r.obs_own);
	req.path = "/nonexistent/fm.obs";
	cr_assert_eq(window_localize_run(&req, &r, err, sizeof(err)), -1);
	cr_expect_not_null(strstr(err, "/nonexistent/fm.obs"), "%s", err);
}

Test(window, store_window_bounds_the_flows, .init = unit_dir_setup, .fini = unit_dir_teardown)
{
	struct synth_db_cfg cfg;
	struct inventory *inv;
	struct window_req req = { .src = WINDOW_SRC_DB, .path = unit_dir.db };
	struct window_result r;
	char err[256];
	int64_t base_ms = 1700000000000;

	synth_db_cfg_default(&cfg);
	cfg.spines = 3;
	cfg.interval_ms = 10000;
	cfg.intervals = 12;
	cfg.start_ms = base_ms;
	cfg.fault_from = "spine2";
	cfg.fault_to = "leaf3";
	cfg.fault_loss_ratio = 0.05;
	cfg.fault_start_ms = base_ms + 60000;
	cfg.fault_end_ms = base_ms + 120000;
	cr_assert_gt(synth_db_write(unit_dir.db, unit_dir.inv, &cfg, err, sizeof(err)), 0, "%s", err);
	inv = inventory_file_open(unit_dir.inv, err, sizeof(err));
	cr_assert_not_null(inv, "%s", err);
	req.inv = inv;
	/* the clean first minute: no suspect */
	req.since_ms = base_ms;
	req.until_ms = base_ms + 50000;
	cr_assert_eq(window_localize_run(&req, &r, err, sizeof(err)), 0, "%s", err);
	cr_expect_gt(r.nflows, 0);
	cr_expect_eq(r.sus.n, 0, "clean window named %zu", r.sus.n);
	window_result_free(&r);
	/* the faulty minute: the link, by device names from the inventory */
	req.since_ms = base_ms + 60000;
	req.until_ms = base_ms + 120000;
	cr_assert_eq(window_localize_run(&req, &r, err, sizeof(err)), 0, "%s", err);
	cr_expect(t_names(&r.sus, SUSPECT_LINK, "spine2", "leaf3"), "%zu suspects, first %s %s->%s",
		  r.sus.n, r.sus.n ? suspect_kind_name(r.sus.v[0].kind) : "",
		  r.sus.n ? r.sus.v[0].from : "", r.sus.n ? r.sus.v[0].to : "");
	window_result_free(&r);
	/* before any batch: an empty window, not an error */
	req.since_ms = base_ms - 600000;
	req.until_ms = base_ms - 300000;
	cr_assert_eq(window_localize_run(&req, &r, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(r.nflows, 0);
	cr_expect_eq(r.sus.n, 0);
	window_result_free(&r);
	/* a store that is not there names itself */
	req.path = "/nonexistent/fm.db";
	cr_expect_eq(window_localize_run(&req, &r, err, sizeof(err)), -1);
	cr_expect_not_null(strstr(err, "/nonexistent/fm.db"), "%s", err);
	inventory_free(inv);
}
