/* Per-flow accounting: forward vs reverse loss from the responder's count,
 * silent intervals, duplicates, seq widening and RTT percentiles. */
#include "prober/flow.h"

#include <criterion/criterion.h>

static void send_n(struct flow_acct *f, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		flow_acct_send(f);
}

Test(flow, all_answered_means_no_loss)
{
	struct flow_acct f;
	struct flow_figures g;

	flow_acct_init(&f);
	for (uint32_t s = 0; s < 10; s++) {
		cr_assert_eq(flow_acct_send(&f), s);
		cr_assert_eq(flow_acct_reply(&f, s, s + 1), 1);
	}
	flow_acct_close(&f, &g);
	cr_assert_eq(g.sent, 10);
	cr_assert_eq(g.received, 10);
	cr_assert_eq(g.lost_fwd + g.lost_rev, 0);
}

Test(flow, gap_split_by_responder_count)
{
	struct flow_acct f;
	struct flow_figures g;

	flow_acct_init(&f);
	send_n(&f, 10);
	cr_assert_eq(flow_acct_reply(&f, 0, 1), 1);
	/* probes 1..8 unanswered; the responder got 0..9 except 2 of them:
	 * count at 9 is 8 -> 6 of the 8 reached it (reverse), 2 did not */
	cr_assert_eq(flow_acct_reply(&f, 9, 8), 1);
	flow_acct_close(&f, &g);
	cr_assert_eq(g.received, 2);
	cr_assert_eq(g.lost_rev, 6);
	cr_assert_eq(g.lost_fwd, 2);
	cr_assert_eq(g.sent, 10);
}

/* Before a flow's first answer, probes the responder never saw may have
 * gone to a target not yet listening (a fleet starting): not counted. What
 * it saw but did not answer is reverse loss, and later gaps count again. */
Test(flow, before_the_first_answer_unseen_probes_are_not_loss)
{
	struct flow_acct f;
	struct flow_figures g;

	flow_acct_init(&f);
	send_n(&f, 4);
	/* probes 0..2 unanswered, responder saw 2 of the 4 (incl. seq 3) */
	cr_assert_eq(flow_acct_reply(&f, 3, 2), 1);
	send_n(&f, 3);
	/* then 4 and 5 lost on the way out: the responder's count is 3 */
	cr_assert_eq(flow_acct_reply(&f, 6, 3), 1);
	flow_acct_close(&f, &g);
	cr_assert_eq(g.lost_rev, 1);
	cr_assert_eq(g.lost_fwd, 2);
	cr_assert_eq(g.received, 2);
	cr_assert_eq(g.sent, 5, "the 2 unseen before the first answer are left out");
}

Test(flow, duplicates_unsent_and_old_replies_ignored)
{
	struct flow_acct f;

	flow_acct_init(&f);
	send_n(&f, 3);
	cr_assert_eq(flow_acct_reply(&f, 3, 4), 0, "never sent");
	cr_assert_eq(flow_acct_reply(&f, 1, 2), 1);
	cr_assert_eq(flow_acct_reply(&f, 1, 2), 0, "duplicate");
	cr_assert_eq(flow_acct_reply(&f, 0, 1), 0, "already counted as lost");
	send_n(&f, FLOW_WINDOW + 2);
	cr_assert_eq(flow_acct_reply(&f, 2, 3), 0, "outside the window");
}

/* A probe unanswered at a close is held: in flight (its timeout not yet
 * passed), or its reply lost, which only a later count can tell from a
 * probe that never arrived. It is counted in the interval that settles it. */
Test(flow, unsettled_probes_held_and_counted_where_they_settle)
{
	struct flow_acct f;
	struct flow_figures g;

	flow_acct_init(&f);
	send_n(&f, 3);
	cr_assert_eq(flow_acct_reply(&f, 0, 1), 1);
	cr_assert_eq(flow_acct_reply(&f, 1, 2), 1);
	/* seq 2 is still in flight at the close */
	flow_acct_close(&f, &g);
	cr_assert_eq(g.sent, 2);
	cr_assert_eq(g.lost_fwd + g.lost_rev, 0, "an unsettled probe is not loss");
	/* its replies lost for a whole interval: seq 3..7 unanswered */
	send_n(&f, 5);
	flow_acct_close(&f, &g);
	cr_assert_eq(g.sent, 0);
	cr_assert_eq(g.lost_fwd, 0, "held, not written off forward");
	/* replies come back: seq 8 with count 9, the responder got all of 2..8 */
	send_n(&f, 1);
	cr_assert_eq(flow_acct_reply(&f, 8, 9), 1);
	flow_acct_close(&f, &g);
	cr_assert_eq(g.lost_rev, 6, "settled by the count: lost on the way back");
	cr_assert_eq(g.lost_fwd, 0);
	cr_assert_eq(g.received, 1);
	cr_assert_eq(g.sent, 7);
}

Test(flow, silent_flow_written_off_forward_after_a_whole_interval)
{
	struct flow_acct f;
	struct flow_figures g;

	flow_acct_init(&f);
	send_n(&f, 5); /* seq 0..4, nothing answers */
	flow_acct_close(&f, &g);
	cr_assert_eq(g.sent, 0, "probes of this interval may still be answered");
	send_n(&f, 5); /* seq 5..9 */
	flow_acct_close(&f, &g);
	cr_assert_eq(g.sent, 0, "held one interval more: a count may still settle them");
	send_n(&f, 5); /* seq 10..14 */
	flow_acct_close(&f, &g);
	cr_assert_eq(g.lost_fwd, 5, "unanswered a whole interval after their own: written off");
	cr_assert_eq(g.sent, 5);
	/* now seq 14 answers with count 15: the responder got all of 0..14, so
	 * the 9 since the write-off were lost on the way back */
	cr_assert_eq(flow_acct_reply(&f, 14, 15), 1);
	flow_acct_close(&f, &g);
	cr_assert_eq(g.received, 1);
	cr_assert_eq(g.lost_rev, 9, "only this interval's counts move");
	cr_assert_eq(g.lost_fwd, 0);
}

Test(flow, probes_refused_locally_are_not_fabric_loss)
{
	struct flow_acct f;
	struct flow_figures g;

	flow_acct_init(&f);
	send_n(&f, 5);
	flow_acct_unsent(&f); /* seq 2 never left the host */
	/* the responder got 4 of 0..4: seq 2 missing, the rest's replies lost */
	cr_assert_eq(flow_acct_reply(&f, 4, 4), 1);
	flow_acct_close(&f, &g);
	cr_assert_eq(g.lost_fwd, 0);
	cr_assert_eq(g.lost_rev, 3);
	cr_assert_eq(g.sent, 4);
}

Test(flow, seq_widen_restores_16_bit_tcp_seq)
{
	struct flow_acct f;

	flow_acct_init(&f);
	f.next_seq = 0x30005;
	cr_assert_eq(flow_acct_seq_widen(&f, 0x0004, 16), 0x30004);
	cr_assert_eq(flow_acct_seq_widen(&f, 0xfff0, 16), 0x2fff0);
	cr_assert_eq(flow_acct_seq_widen(&f, 77, 32), 77);
	f.next_seq = 3;
	cr_assert_eq(flow_acct_seq_widen(&f, 2, 16), 2);
}

Test(flow, rtt_pool_percentiles_per_flow)
{
	struct rtt_pool p = { 0 };
	struct flow_figures figs[3] = { 0 };

	for (uint32_t v = 100; v >= 1; v--)
		cr_assert_eq(rtt_pool_add(&p, 2, v * 1000), 0);
	cr_assert_eq(rtt_pool_add(&p, 0, 5), 0);
	rtt_pool_close(&p, figs, 3);
	cr_assert_eq(figs[2].rtt_min_ns, 1000);
	cr_assert_eq(figs[2].rtt_p50_ns, 50000);
	cr_assert_eq(figs[2].rtt_p99_ns, 99000);
	cr_assert_eq(figs[2].rtt_max_ns, 100000);
	cr_assert_eq(figs[0].rtt_p50_ns, 5);
	cr_assert_eq(figs[1].rtt_max_ns, 0);
	cr_assert_eq(p.n, 0);
	rtt_pool_free(&p);
}

Test(flow, rtt_pool_bounded)
{
	struct rtt_pool p = { .max = 1500 };
	int fails = 0;

	for (int i = 0; i < 3000; i++)
		fails += rtt_pool_add(&p, 0, 1) < 0;
	cr_assert_eq(p.n, 1500);
	cr_assert_eq(fails, 1500);
	rtt_pool_free(&p);
}
