/* Sizing a target's flows from its coverage: the decision (mda_flows_next)
 * over the cases the prober meets, and which targets-file lines leave the
 * count to it. */
#include "prober/mda.h"
#include "prober/probe.h"
#include "prober/targets.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

struct flows_case {
	const char *what;
	int traced, paths, flows_explicit, now, max, want;
};

static const struct flows_case cases[] = {
	{ "nothing traced yet keeps the count", 0, 0, 0, 16, 256, 16 },
	{ "one path over 16 flows is complete", 16, 1, 0, 16, 256, 16 },
	{ "3 paths over 16 flows is complete (n_3 = 16)", 16, 3, 0, 16, 256, 16 },
	{ "4 paths over 16 flows needs 21", 16, 4, 0, 16, 256, 21 },
	{ "4 flows on 4 paths need 21", 4, 4, 0, 4, 256, 21 },
	{ "4 flows on 3 paths need 16", 4, 3, 0, 4, 256, 16 },
	{ "7 paths over 21 flows need 38", 21, 7, 0, 21, 256, 38 },
	{ "8 paths over 38 flows need 44", 38, 8, 0, 38, 256, 44 },
	{ "8 paths over 44 flows is complete", 44, 8, 0, 44, 256, 44 },
	{ "unreached flows do not count: 12 of 16 on 4 paths, 9 more", 12, 4, 0, 16, 256, 25 },
	{ "explicit flows=4 stays at 4 though 4 paths need 21", 4, 4, 1, 4, 256, 4 },
	{ "explicit flows=64 stays at 64", 64, 2, 1, 64, 256, 64 },
	{ "capped at max", 60, 20, 0, 60, 100, 100 },
	{ "at max already stays", 256, 80, 0, 256, 256, 256 },
	{ "more paths than traced flows is read as all distinct", 4, 9, 0, 4, 256, 21 },
};

Test(prober_coverage, flows_next_follows_the_95_percent_bound)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct flows_case *c = &cases[i];
		int got = mda_flows_next(c->traced, c->paths, c->flows_explicit, c->now, c->max, 0.05);

		cr_expect_eq(got, c->want, "%s: got %d want %d", c->what, got, c->want);
	}
}

Test(prober_coverage, flows_next_never_shrinks_and_is_complete_at_its_answer)
{
	/* whatever was seen, the answer is enough flows for the paths seen so
	 * far (if no new one turns up) or the limit */
	for (int now = 1; now <= 64; now++)
		for (int paths = 1; paths <= now; paths++) {
			int got = mda_flows_next(now, paths, 0, now, 256, 0.05);
			struct mda_coverage c;

			cr_assert_geq(got, now);
			cr_assert_eq(mda_coverage_assess(got, paths, 0.05, &c), 0);
			cr_expect(c.complete || got == 256, "now %d paths %d -> %d", now, paths, got);
		}
}

Test(prober_coverage, only_lines_without_flows_are_sized_by_coverage)
{
	static const char text[] = "# faultmesh targets v1\n"
				   "198.18.0.2\n"
				   "198.18.0.3 flows=4\n"
				   "198.18.0.4 flows=16\n";
	const struct targets_defaults def = { .flows = 4, .rate_pps = 10, .port = 31338,
					      .kind = &probe_udp_ops };
	struct target_spec *t = NULL;
	size_t n = 0;
	char err[256];

	cr_assert_eq(targets_parse(text, strlen(text), "t", &def, &t, &n, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(n, 3);
	cr_expect_eq(t[0].flows, 4);
	cr_expect(t[0].flows_auto);
	cr_expect_eq(t[1].flows, 4);
	cr_expect(!t[1].flows_auto);
	cr_expect_eq(t[2].flows, 16);
	cr_expect(!t[2].flows_auto, "flows= equal to the default is still the operator's choice");
	free(t);
}
