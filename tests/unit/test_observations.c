/* Unit tests for the observations v2 (and v1) parser: columns, sums, partial paths,
 * version header, and errors that name the file and line. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "observations.h"
#include "unit_util.h"

static struct obs_set *parse_ok(const char *text)
{
	struct obs_set *s = obs_set_new();
	char err[256];

	cr_assert_not_null(s);
	cr_assert_eq(obs_set_parse(s, text, strlen(text), "t.obs", err, sizeof(err)), 0,
		     "unexpected error: %s", err);
	return s;
}

Test(observations, parses_columns_and_paths)
{
	struct obs_set *s = parse_ok("# faultmesh observations v1\n"
				     "# a comment\n\n"
				     "h1\th2\tudp\t40001\t31338\t100\t7\t10.0.0.1,*,10.0.0.3\n"
				     "h1\th3\ttcp\t40002\t80\t50\t0\t-\n");
	const struct obs_flow *f;
	const uint32_t *hops;

	cr_assert_eq(obs_set_flow_count(s), 2);
	f = obs_set_flow(s, 0);
	cr_assert_str_eq(obs_set_name(s, f->prober), "h1");
	cr_assert_str_eq(obs_set_name(s, f->target), "h2");
	cr_assert_eq(f->proto, OBS_PROTO_UDP);
	cr_assert_eq(f->sport, 40001);
	cr_assert_eq(f->dport, 31338);
	cr_assert_eq(f->sent, 100);
	cr_assert_eq(f->lost, 7);
	cr_assert_eq(f->nhops, 3);
	hops = obs_set_flow_hops(s, f);
	cr_assert_str_eq(obs_set_name(s, hops[0]), "10.0.0.1");
	cr_assert_eq(hops[1], OBS_HOP_STAR);
	cr_assert_str_eq(obs_set_name(s, hops[2]), "10.0.0.3");
	f = obs_set_flow(s, 1);
	cr_assert_eq(f->proto, OBS_PROTO_TCP);
	cr_assert_eq(f->nhops, OBS_PATH_UNKNOWN);
	cr_assert_null(obs_set_flow_hops(s, f));
	obs_set_free(s);
}

Test(observations, sums_duplicate_flows_and_keeps_known_path)
{
	struct obs_set *s = parse_ok("# faultmesh observations v1\n"
				     "h1\th2\tudp\t1\t2\t10\t1\t-\n"
				     "h1\th2\tudp\t1\t2\t30\t2\tr1,r2\n"
				     "h1\th2\tudp\t1\t3\t5\t0\tr1\n");
	const struct obs_flow *f = obs_set_flow(s, 0);

	cr_assert_eq(obs_set_flow_count(s), 2);
	cr_assert_eq(f->sent, 40);
	cr_assert_eq(f->lost, 3);
	cr_assert_eq(f->nhops, 2);
	obs_set_free(s);
}

static int t_parse(const char *text, size_t len, const char *name, char *err, size_t errlen)
{
	struct obs_set *s = obs_set_new();
	int rc = obs_set_parse(s, text, len, name, err, errlen);

	obs_set_free(s);
	return rc;
}

Test(observations, rejects_bad_input_naming_file_and_line)
{
	static const struct unit_bad_text cases[] = {
		{ "h1\th2\tudp\t1\t2\t3\t0\t-\n", "t.obs:1: missing header" },
		{ "# faultmesh observations v3\n", "t.obs:1: unsupported observations version" },
		{ "# faultmesh observations v2\nh1\th2\tudp\t1\t2\t3\t0\t-\n", "t.obs:2: expected 9" },
		{ "# faultmesh observations v2\nh1\th2\tudp\t1\t2\t3\t1\t3\t-\n", "t.obs:2: bad lost_rev" },
		{ "", "t.obs: empty file" },
		{ "# faultmesh observations v1\nh1\th2\tudp\t1\t2\t3\t0\n", "t.obs:2: expected 8" },
		{ "# faultmesh observations v1\n\nh1\th2\ticmp\t1\t2\t3\t0\t-\n", "t.obs:3: protocol" },
		{ "# faultmesh observations v1\nh1\th2\tudp\t70000\t2\t3\t0\t-\n", "t.obs:2: bad source port" },
		{ "# faultmesh observations v1\nh1\th2\tudp\t1\t2\t3\t4\t-\n", "t.obs:2: lost 4 exceeds sent 3" },
		{ "# faultmesh observations v1\nh1\th2\tudp\t1\t2\t-3\t0\t-\n", "t.obs:2: bad sent" },
		{ "# faultmesh observations v1\nh1\th2\tudp\t1\t2\t3\t0\ta,,b\n", "t.obs:2: bad hop 2" },
		{ "# faultmesh observations v1\n\th2\tudp\t1\t2\t3\t0\t-\n", "t.obs:2: bad prober" },
		{ "# faultmesh observations v1\nh1\th2\tudp\t1\t2\t3\t0\t-\textra\n", "t.obs:2: expected 8" },
	};

	unit_bad_texts_check(cases, sizeof(cases) / sizeof(cases[0]), "t.obs", t_parse);
}

/* v2 carries the reverse count; v1 files still read, with none */
Test(observations, v2_reads_lost_rev_and_sums_it)
{
	struct obs_set *s = parse_ok("# faultmesh observations v2\n"
				     "h1\th2\tudp\t1\t2\t10\t1\t2\tr1,r2\n"
				     "h1\th2\tudp\t1\t2\t30\t2\t5\tr1,r2\n");
	const struct obs_flow *f = obs_set_flow(s, 0);

	cr_assert_eq(obs_set_flow_count(s), 1);
	cr_assert_eq(f->sent, 40);
	cr_assert_eq(f->lost, 3);
	cr_assert_eq(f->lost_rev, 7);
	cr_assert_eq(f->nhops, 2);
	obs_set_free(s);
	s = parse_ok("# faultmesh observations v1\nh1\th2\tudp\t1\t2\t10\t1\tr1\n");
	cr_assert_eq(obs_set_flow(s, 0)->lost_rev, 0);
	obs_set_free(s);
}

Test(observations, too_long_path_is_an_error)
{
	char text[2048] = "# faultmesh observations v1\nh1\th2\tudp\t1\t2\t3\t0\t";
	struct obs_set *s = obs_set_new();
	char err[256];

	for (int i = 0; i <= OBS_HOPS_MAX; i++)
		strcat(text, i ? ",r" : "r");
	strcat(text, "\n");
	cr_assert_eq(obs_set_parse(s, text, strlen(text), "t.obs", err, sizeof(err)), -1);
	cr_assert(strstr(err, "t.obs:2: path longer"), "%s", err);
	obs_set_free(s);
}

Test(observations, writer_output_parses_back)
{
	const char *hops[] = { "10.0.0.1", NULL, "10.0.0.3" };
	struct obs_row row = { "h1", "h2", OBS_PROTO_TCP, 5, 6, 10, 2, 3, hops, 0, 0 };
	char path[] = "/tmp/fm-obs-XXXXXX", err[256];
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	struct obs_set *s = obs_set_new();

	cr_assert_not_null(f);
	row.lost_rev = 4;
	cr_assert_eq(obs_header_write(f), 0);
	cr_assert_eq(obs_row_write(f, &row), 0);
	row.nhops = -1;
	row.sport = 7;
	cr_assert_eq(obs_row_write(f, &row), 0);
	fclose(f);
	cr_assert_eq(obs_set_file_read(s, path, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(obs_set_flow_count(s), 2);
	cr_assert_eq(obs_set_flow(s, 0)->nhops, 3);
	cr_assert_eq(obs_set_flow_hops(s, obs_set_flow(s, 0))[1], OBS_HOP_STAR);
	cr_assert_eq(obs_set_flow(s, 1)->nhops, OBS_PATH_UNKNOWN);
	cr_assert_eq(obs_set_flow(s, 0)->lost_rev, 4);
	unlink(path);
	obs_set_free(s);
}

Test(observations, missing_file_names_the_path)
{
	struct obs_set *s = obs_set_new();
	char err[256];

	cr_assert_eq(obs_set_file_read(s, "/nonexistent/x.obs", err, sizeof(err)), -1);
	cr_assert(strstr(err, "/nonexistent/x.obs"), "%s", err);
	obs_set_free(s);
}

Test(observations, row_add_checks_counts)
{
	struct obs_set *s = obs_set_new();
	struct obs_row row = { "h1", "h2", OBS_PROTO_UDP, 1, 2, 5, 6, -1, NULL, 0, 0 };
	char err[128];

	cr_assert_eq(obs_set_row_add(s, &row, err, sizeof(err)), -1);
	row.lost = 5;
	cr_assert_eq(obs_set_row_add(s, &row, err, sizeof(err)), 0);
	cr_assert_eq(obs_set_row_add(s, &row, err, sizeof(err)), 0);
	cr_assert_eq(obs_set_flow_count(s), 1);
	cr_assert_eq(obs_set_flow(s, 0)->lost, 10);
	obs_set_free(s);
}
