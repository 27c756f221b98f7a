/* Per-flow loss accounting. A reply to seq s with responder count C, after
 * the previous answered probe a with count Ca, says the responder got
 * C - Ca - 1 of the s - a - 1 unanswered probes in between: those lost on the
 * way back; the rest never reached it: lost on the way out. */
#include "flow.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void flow_acct_init(struct flow_acct *f)
{
	memset(f, 0, sizeof(*f));
	f->anchor_seq = -1;
	f->classified_upto = -1;
}

uint32_t flow_acct_send(struct flow_acct *f)
{
	f->replied <<= 1;
	return f->next_seq++;
}

uint32_t flow_acct_seq_widen(const struct flow_acct *f, uint32_t seq, unsigned bits)
{
	uint64_t mod, full;

	if (bits >= 32)
		return seq;
	mod = 1ull << bits;
	full = (f->next_seq & ~(uint32_t)(mod - 1)) | (seq & (mod - 1));
	/* the newest probe with these low bits that was already sent */
	if (full >= f->next_seq && full >= mod)
		full -= mod;
	return (uint32_t)full;
}

void flow_acct_unsent(struct flow_acct *f)
{
	f->unsent++;
}

int flow_acct_reply(struct flow_acct *f, uint32_t seq, uint32_t count)
{
	uint32_t age, gap_new;
	int64_t gap_all, rev_true;
	uint32_t rev_new;

	if (seq >= f->next_seq || (int64_t)seq <= f->classified_upto)
		return 0;
	age = f->next_seq - 1 - seq;
	if (age >= FLOW_WINDOW || (f->replied >> age) & 1)
		return 0;
	f->replied |= 1ull << age;

	gap_all = (int64_t)seq - f->anchor_seq - 1;
	rev_true = (int64_t)count - (int64_t)f->anchor_count - 1;
	if (rev_true < 0) /* responder restarted or forgot the flow */
		rev_true = 0;
	if (rev_true > gap_all)
		rev_true = gap_all;
	gap_new = (uint32_t)((int64_t)seq - f->classified_upto - 1);
	rev_new = (uint32_t)rev_true < gap_new ? (uint32_t)rev_true : gap_new;
	f->lost_rev += rev_new;
	/* Before a flow's first answer, the probes its responder never saw are
	 * not counted: the target may not have been listening yet (its host or
	 * a whole fleet starting), which no probe can tell from fabric loss.
	 * A flow that never answers is still written off at interval close. */
	if (f->anchor_seq >= 0)
		f->lost_fwd += gap_new - rev_new;
	f->received++;
	f->anchor_seq = seq;
	f->anchor_count = count;
	f->classified_upto = seq;
	return 1;
}

void flow_acct_close(struct flow_acct *f, struct flow_figures *out)
{
	/* A probe unanswered at the close after its own may still be settled
	 * by a later reply's count (its replies were lost for a while, say): it
	 * is held one more interval, so the count can book it where it went.
	 * Only then, with no count either way, is it written off forward. */
	int64_t horizon = (int64_t)f->close_mark_old - 1;

	if (f->classified_upto < horizon) {
		f->lost_fwd += (uint32_t)(horizon - f->classified_upto);
		f->classified_upto = horizon;
	}
	/* the gap a refused probe left was counted as forward loss (the
	 * responder never saw it); take it back out, here or next interval */
	while (f->unsent && f->lost_fwd) {
		f->unsent--;
		f->lost_fwd--;
	}
	memset(out, 0, sizeof(*out));
	out->received = f->received;
	out->lost_fwd = f->lost_fwd;
	out->lost_rev = f->lost_rev;
	out->sent = f->received + f->lost_fwd + f->lost_rev;
	f->received = f->lost_fwd = f->lost_rev = 0;
	f->close_mark_old = f->close_mark;
	f->close_mark = f->next_seq;
}

int rtt_pool_add(struct rtt_pool *p, uint32_t flow, uint64_t rtt_ns)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 1024;
		struct rtt_sample *v;

		if (p->max && cap > p->max)
			cap = p->max;
		if (cap <= p->n) {
			errno = ENOSPC;
			return -1;
		}
		v = realloc(p->v, cap * sizeof(*v));
		if (!v)
			return -1;
		p->v = v;
		p->cap = cap;
	}
	if (rtt_ns == 0)
		rtt_ns = 1; /* 0 means "no sample" in reports */
	p->v[p->n].flow = flow;
	p->v[p->n].rtt_ns = rtt_ns > UINT32_MAX ? UINT32_MAX : (uint32_t)rtt_ns;
	p->n++;
	return 0;
}

static int rtt_sample_cmp(const void *a, const void *b)
{
	const struct rtt_sample *x = a, *y = b;

	if (x->flow != y->flow)
		return x->flow < y->flow ? -1 : 1;
	return (x->rtt_ns > y->rtt_ns) - (x->rtt_ns < y->rtt_ns);
}

/* Nearest-rank percentile of n sorted values. */
static uint32_t rtt_rank(const struct rtt_sample *v, size_t n, unsigned pct)
{
	size_t k = (n * pct + 99) / 100;

	return v[k ? k - 1 : 0].rtt_ns;
}

void rtt_pool_close(struct rtt_pool *p, struct flow_figures *figs, size_t nflows)
{
	size_t i = 0;

	if (p->n > 1)
		qsort(p->v, p->n, sizeof(*p->v), rtt_sample_cmp);
	while (i < p->n) {
		size_t j = i;

		while (j < p->n && p->v[j].flow == p->v[i].flow)
			j++;
		if (p->v[i].flow < nflows) {
			struct flow_figures *f = &figs[p->v[i].flow];

			f->rtt_min_ns = p->v[i].rtt_ns;
			f->rtt_p50_ns = rtt_rank(p->v + i, j - i, 50);
			f->rtt_p99_ns = rtt_rank(p->v + i, j - i, 99);
			f->rtt_max_ns = p->v[j - 1].rtt_ns;
		}
		i = j;
	}
	p->n = 0;
}

void rtt_pool_free(struct rtt_pool *p)
{
	free(p->v);
	memset(p, 0, sizeof(*p));
}
