/* Unit tests for the comparison methods (007-style voting, fbtracert-style
 * majority) and the truth scoring the benchmark relies on. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "observations.h"
#include "method.h"
#include "score.h"

#define SENT 1000

/* Three switches in a triangle, a host on each, four flows per ordered
 * pair; only s1 -> s2 drops. */
static struct obs_set *triangle(double loss)
{
	static const char *const sw[] = { "s1", "s2", "s3" }, *const host[] = { "a", "b", "c" };
	struct obs_set *s = obs_set_new();
	char err[128];

	for (int i = 0; i < 3; i++) {
		for (int j = 0; j < 3; j++) {
			const char *hops[2] = { sw[i], sw[j] };

			if (i == j)
				continue;
			for (unsigned p = 0; p < 4; p++) {
				struct obs_row row = { host[i], host[j], OBS_PROTO_UDP, 1000 + p,
						       7, SENT, 0, 2, hops, 0, 0 };

				if (i == 0 && j == 1)
					row.lost = (uint64_t)llround(SENT * loss);
				cr_assert_eq(obs_set_row_add(s, &row, err, sizeof(err)), 0);
			}
		}
	}
	return s;
}

/* Run the method called name on the triangle with s1 -> s2 losing loss;
 * its suspects into out (the caller frees them). */
static void method_run(const char *name, double loss, struct suspect_list *out)
{
	struct obs_set *s = triangle(loss);
	struct infer_cfg cfg;
	struct model *m;
	char err[256];

	infer_cfg_default(&cfg);
	m = model_build(s, NULL, err, sizeof(err));
	cr_assert_not_null(m, "%s", err);
	cr_assert_eq(method_find(name)->run(m, &cfg, out, err, sizeof(err)), 0, "%s", err);
	model_free(m);
	obs_set_free(s);
}

/* want_exact: the suspect must be s1 -> s2; otherwise any link of the lossy
 * path a -> s1 -> s2 -> b (voting cannot split links every lossy flow shares) */
static void method_check(const char *name, double loss, size_t want_n, int want_exact)
{
	struct suspect_list out = { 0 };

	method_run(name, loss, &out);
	cr_assert_eq(out.n, want_n, "%s: %zu suspects", name, out.n);
	if (want_n && want_exact) {
		cr_assert_str_eq(out.v[0].from, "s1", "%s", name);
		cr_assert_str_eq(out.v[0].to, "s2", "%s", name);
		cr_assert_float_eq(out.v[0].loss_ratio, loss, 1e-9, "%s", name);
	} else if (want_n) {
		const char *f = out.v[0].from, *t = out.v[0].to;

		cr_assert((!strcmp(f, "a") && !strcmp(t, "s1")) ||
			  (!strcmp(f, "s1") && !strcmp(t, "s2")) ||
			  (!strcmp(f, "s2") && !strcmp(t, "b")), "%s: %s -> %s", name, f, t);
	}
	suspect_list_free(&out);
}

Test(baseline, voting_blames_one_link_of_the_lossy_path)
{
	method_check("007", 0.2, 1, 0);
	method_check("007", 0, 0, 0);
}

Test(baseline, majority_blames_links_whose_flows_mostly_lose)
{
	/* a -> s1 and s2 -> b carry clean flows too, so only s1 -> s2 has a
	 * lossy majority */
	method_check("fbtracert", 0.2, 1, 1);
	/* under the 1% lossy-flow rule nothing is blamed */
	method_check("fbtracert", 0.005, 0, 0);
}

Test(baseline, flock_fails_the_one_link_that_explains_the_loss)
{
	/* the posterior search adds s1 -> s2 (the only link all lossy flows
	 * share that clean flows avoid) and stops: nothing else pays the prior */
	struct suspect_list out = { 0 };

	method_run("flock", 0.2, &out);
	cr_assert_eq(out.n, 1, "%zu suspects", out.n);
	cr_assert_str_eq(out.v[0].from, "s1");
	cr_assert_str_eq(out.v[0].to, "s2");
	/* its p_bad grid brackets the true 20% */
	cr_assert(out.v[0].loss_ratio >= 0.1 && out.v[0].loss_ratio <= 0.3, "%g", out.v[0].loss_ratio);
	suspect_list_free(&out);
	method_check("flock", 0, 0, 0);
}

Test(baseline, table_has_all_methods)
{
	cr_assert_not_null(method_find("flock"));
	cr_assert_not_null(method_find("faultmesh"));
	cr_assert_not_null(method_find("007"));
	cr_assert_not_null(method_find("fbtracert"));
	cr_assert_null(method_find("nope"));
}

Test(score, matching_rules_and_figures)
{
	static const char text[] = "# faultmesh truth v1\n"
				   "link\ta\tb\t0.1\n"
				   "device\tsw\t0.01\n"
				   "host\th1\t0.2\n";
	struct truth t;
	struct suspect_list l = { 0 };
	struct suspect s[] = {
		{ .kind = SUSPECT_BLACKHOLE, .from = "a", .to = "b" }, /* names the link */
		{ .kind = SUSPECT_LINK, .from = "sw", .to = "x" },    /* at the device */
		{ .kind = SUSPECT_LINK, .from = "b", .to = "a" },     /* wrong direction */
		{ .kind = SUSPECT_DEVICE, .from = "h1" },             /* wrong kind */
	};
	struct score sc;
	char err[128];

	cr_assert_eq(truth_parse(&t, text, strlen(text), "t", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(t.n, 3);
	cr_assert_eq(t.v[1].kind, SUSPECT_DEVICE);
	cr_assert_str_eq(t.v[0].b, "b");
	for (size_t i = 0; i < 4; i++)
		cr_assert_eq(suspect_list_add(&l, &s[i]), 0);
	score_compute(&t, &l, &sc);
	cr_assert_eq(sc.correct, 2);
	cr_assert_eq(sc.found, 2);
	cr_assert_float_eq(sc.precision, 0.5, 1e-12);
	cr_assert_float_eq(sc.recall, 2.0 / 3, 1e-12);
	cr_assert_eq(sc.top1, 1);
	suspect_list_free(&l);
	score_compute(&t, &l, &sc);
	cr_assert_float_eq(sc.precision, 1, 1e-12);
	cr_assert_float_eq(sc.recall, 0, 1e-12);
	cr_assert_eq(sc.top1, 0);
	truth_free(&t);
	cr_assert_eq(truth_parse(&t, "link\ta\n", 7, "t", err, sizeof(err)), -1);
	cr_assert(strstr(err, "t:1: missing header"), "%s", err);
	cr_assert_eq(truth_parse(&t, "# faultmesh truth v1\nlink\ta\t0.1\n", 31, "t", err,
				 sizeof(err)), -1);
	cr_assert(strstr(err, "t:2:"), "%s", err);
}

/* An ambiguous suspect names a fault on either of its two elements, a link
 * and a device in either order. */
Test(score, ambiguous_link_and_device_name_either)
{
	static const char text[] = "# faultmesh truth v1\n"
				   "link\ta\tb\t0.1\n"
				   "device\tsw\t0.01\n";
	struct truth t;
	struct suspect dev = { .kind = SUSPECT_DEVICE, .from = "q", .also_from = "a", .also_to = "b" };
	struct suspect link = { .kind = SUSPECT_LINK, .from = "x", .to = "y", .also_from = "sw" };
	struct suspect wrong = { .kind = SUSPECT_DEVICE, .from = "q", .also_from = "b", .also_to = "a" };
	char err[128];

	cr_assert_eq(truth_parse(&t, text, strlen(text), "t", err, sizeof(err)), 0, "%s", err);
	cr_assert(score_suspect_matches(&dev, &t.v[0]));
	cr_assert(score_suspect_matches(&link, &t.v[1]));
	cr_assert_not(score_suspect_matches(&link, &t.v[0]));
	cr_assert_not(score_suspect_matches(&wrong, &t.v[0]));
	truth_free(&t);
}
