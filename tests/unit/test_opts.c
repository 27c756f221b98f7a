/* Tests for the option table: defaults, ranges, durations, and the errors a
 * user sees for a bad flag, since every program's CLI is built on it. */
#include "opts.h"

#include <criterion/criterion.h>
#include <stddef.h>
#include <string.h>

struct t_cfg {
	int verbose;
	long long flows;
	double loss;
	const char *db;
	long long interval_ms;
};

static const struct opt_spec t_opts[] = {
	{ "verbose", 'v', OPT_FLAG, offsetof(struct t_cfg, verbose), 0, 0, NULL, NULL, "debug" },
	{ "flows", 'n', OPT_INT, offsetof(struct t_cfg, flows), 1, 256, "16", "N", "flows" },
	{ "loss", 0, OPT_DOUBLE, offsetof(struct t_cfg, loss), 0, 1, "0.5", "R", "loss" },
	{ "db", 0, OPT_STR, offsetof(struct t_cfg, db), 0, 0, "x.db", "FILE", "db" },
	{ "interval", 'i', OPT_MS, offsetof(struct t_cfg, interval_ms), 100, 3600000, "10s", "DUR", "interval" },
};

static int t_parse(struct t_cfg *cfg, char *err, int argc, char **argv)
{
	memset(cfg, 0, sizeof(*cfg));
	return opts_parse(t_opts, OPTS_LEN(t_opts), cfg, argc, argv, err, 256);
}

Test(opts, defaults_come_from_the_table)
{
	struct t_cfg c;
	char err[256];
	char *argv[] = { "p", NULL };

	cr_assert_eq(t_parse(&c, err, 1, argv), 1);
	cr_assert_eq(c.flows, 16);
	cr_assert_float_eq(c.loss, 0.5, 1e-12);
	cr_assert_str_eq(c.db, "x.db");
	cr_assert_eq(c.interval_ms, 10000);
	cr_assert_eq(c.verbose, 0);
}

Test(opts, values_and_positionals_are_parsed)
{
	struct t_cfg c;
	char err[256];
	char *argv[] = { "p", "-v", "--flows", "64", "-i", "500ms", "--db=y.db", "rest", NULL };

	cr_assert_eq(t_parse(&c, err, 8, argv), 7);
	cr_assert_eq(c.verbose, 1);
	cr_assert_eq(c.flows, 64);
	cr_assert_eq(c.interval_ms, 500);
	cr_assert_str_eq(c.db, "y.db");
}

Test(opts, out_of_range_value_names_the_option)
{
	struct t_cfg c;
	char err[256];
	char *argv[] = { "p", "--flows", "1000", NULL };

	cr_assert_eq(t_parse(&c, err, 3, argv), OPTS_ERROR);
	cr_assert(strstr(err, "--flows") != NULL, "err: %s", err);
	cr_assert(strstr(err, "256") != NULL, "err: %s", err);
}

Test(opts, garbage_number_and_unknown_option_are_errors)
{
	struct t_cfg c;
	char err[256];
	char *bad_num[] = { "p", "--loss", "0.5x", NULL };
	char *unknown[] = { "p", "--nope", NULL };
	char *missing[] = { "p", "--db", NULL };

	cr_assert_eq(t_parse(&c, err, 3, bad_num), OPTS_ERROR);
	cr_assert(strstr(err, "--loss") != NULL, "err: %s", err);
	cr_assert_eq(t_parse(&c, err, 2, unknown), OPTS_ERROR);
	cr_assert(strstr(err, "--nope") != NULL, "err: %s", err);
	cr_assert_eq(t_parse(&c, err, 2, missing), OPTS_ERROR);
	cr_assert(strstr(err, "missing") != NULL, "err: %s", err);
}

Test(opts, help_and_version_are_reported)
{
	struct t_cfg c;
	char err[256];
	char *help[] = { "p", "--help", NULL };
	char *version[] = { "p", "--version", NULL };

	cr_assert_eq(t_parse(&c, err, 2, help), OPTS_HELP);
	cr_assert_eq(t_parse(&c, err, 2, version), OPTS_VERSION);
}

Test(opts, durations_accept_units)
{
	static const struct {
		const char *text;
		long long ms;
	} cases[] = { { "250ms", 250 }, { "10s", 10000 }, { "5m", 300000 },
		      { "2h", 7200000 }, { "7d", 604800000 }, { "0", 0 },
		      { "1.5s", 1500 } };
	long long ms;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(opts_duration_parse(cases[i].text, &ms), 0, "%s", cases[i].text);
		cr_assert_eq(ms, cases[i].ms, "%s -> %lld", cases[i].text, ms);
	}
	cr_assert_eq(opts_duration_parse("5 parsecs", &ms), -1);
	cr_assert_eq(opts_duration_parse("-1s", &ms), -1);
	cr_assert_eq(opts_duration_parse("", &ms), -1);
}

Test(opts, duration_without_unit_is_refused_with_a_hint)
{
	struct t_cfg c;
	char err[256];
	long long ms;
	char *argv[] = { "p", "--interval", "10", NULL };

	cr_assert_eq(opts_duration_parse("10", &ms), -1);
	cr_assert_eq(t_parse(&c, err, 3, argv), OPTS_ERROR);
	cr_assert(strstr(err, "--interval: '10' needs a unit (e.g. 10s, 10m, 10h)"), "%s", err);
}

Test(opts, duration_out_of_range_speaks_in_human_units)
{
	struct t_cfg c;
	char err[256];
	char *argv[] = { "p", "--interval", "2h", NULL };

	cr_assert_eq(t_parse(&c, err, 3, argv), OPTS_ERROR);
	cr_assert(strstr(err, "--interval: 2h is outside [100ms, 1h]"), "%s", err);
}

Test(opts, durations_format_in_the_largest_exact_unit)
{
	static const struct {
		long long ms;
		const char *text;
	} cases[] = { { 21600000, "6h" }, { 90000, "90s" }, { 600000, "10m" },
		      { 604800000, "7d" }, { 1500, "1500ms" }, { 0, "0s" },
		      { 90500, "1.5m" } };
	char buf[32];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_assert_str_eq(opts_duration_format(buf, sizeof(buf), cases[i].ms),
				 cases[i].text, "%lld", cases[i].ms);
}
