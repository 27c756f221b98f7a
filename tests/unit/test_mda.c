/* MDA arithmetic checked against the published 95% stopping table (scamper's
 * tracelb, Veitch et al.) and closed-form coupon-collector values. */
#include "prober/mda.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>

Test(mda, stop_flows_matches_published_95_table)
{
	/* n_k for k = 1..16 at 95% from scamper's tracelb confidence table. */
	static const int n95[] = { 6, 11, 16, 21, 27, 33, 38, 44, 51, 57, 63, 70, 76, 83, 90, 96 };

	for (int k = 1; k <= 16; k++)
		cr_expect_eq(mda_stop_flows(k, 0.05), n95[k - 1], "k=%d got %d want %d", k,
			     mda_stop_flows(k, 0.05), n95[k - 1]);
}

Test(mda, stop_flows_matches_published_99_table)
{
	static const int n99[] = { 8, 15, 21, 28, 36, 43, 51, 58 };

	for (int k = 1; k <= 8; k++)
		cr_expect_eq(mda_stop_flows(k, 0.01), n99[k - 1], "k=%d got %d", k,
			     mda_stop_flows(k, 0.01));
}

Test(mda, cover_prob_closed_form_two_paths)
{
	/* Two paths: all seen unless every flow picked the same one: 1 - 2^(1-m). */
	for (int m = 1; m <= 12; m++)
		cr_expect_float_eq(mda_cover_prob(2, m), 1 - pow(2, 1 - m), 1e-12, "m=%d", m);
	/* Three paths, m = 3: 3!/3^3. */
	cr_expect_float_eq(mda_cover_prob(3, 3), 6.0 / 27, 1e-12);
	cr_expect_float_eq(mda_cover_prob(4, 3), 0.0, 1e-12);
}

Test(mda, cover_flows_is_first_m_reaching_confidence)
{
	for (int n = 1; n <= 16; n++) {
		int m = mda_cover_flows(n, 0.05);

		cr_assert_geq(m, n);
		cr_expect_geq(mda_cover_prob(n, m), 0.95, "n=%d", n);
		if (m > 1)
			cr_expect_lt(mda_cover_prob(n, m - 1), 0.95, "n=%d", n);
	}
	cr_expect_eq(mda_cover_flows(1, 0.05), 1);
	cr_expect_eq(mda_cover_flows(2, 0.05), 6);
}

Test(mda, estimate_is_likelihood_maximum)
{
	/* 2 of 2 flows distinct: no finite maximum. */
	cr_expect_eq(mda_paths_estimate(2, 2), MDA_PATHS_MAX);
	/* All flows on one path: one path. */
	cr_expect_eq(mda_paths_estimate(10, 1), 1);
	/* 3 flows, 2 paths: L(n) = n(n-1)/n^3 peaks at n = 2 (1/4 vs 2/9 at 3). */
	cr_expect_eq(mda_paths_estimate(3, 2), 2);
	/* Many flows, 8 seen: estimate 8. */
	cr_expect_eq(mda_paths_estimate(60, 8), 8);
	/* 8 flows, 7 distinct: far more paths likely than seen. */
	cr_expect_gt(mda_paths_estimate(8, 7), 7);
}

Test(mda, coverage_assess_says_when_complete)
{
	struct mda_coverage c;

	cr_assert_eq(mda_coverage_assess(16, 2, 0.05, &c), 0);
	cr_expect(c.complete);
	cr_expect_eq(c.flows_needed, 16);
	cr_assert_eq(mda_coverage_assess(16, 4, 0.05, &c), 0);
	cr_expect_not(c.complete);
	cr_expect_eq(c.flows_needed, 21);
	cr_expect_eq(c.paths_estimate, 4);
}

Test(mda, rejects_bad_input)
{
	struct mda_coverage c;

	errno = 0;
	cr_expect_eq(mda_stop_flows(0, 0.05), -1);
	cr_expect_eq(errno, EINVAL);
	cr_expect_eq(mda_stop_flows(1, 0), -1);
	cr_expect_eq(mda_stop_flows(1, 1), -1);
	cr_expect_eq(mda_cover_flows(0, 0.05), -1);
	cr_expect_eq(mda_paths_estimate(1, 2), -1);
	cr_expect_eq(mda_coverage_assess(3, 4, 0.05, &c), -1);
	cr_expect_eq(mda_coverage_assess(3, 0, 0.05, &c), -1);
}
