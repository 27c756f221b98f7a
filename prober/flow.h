/* Per-flow loss accounting: which probes were answered, which were lost on
 * the way out and which on the way back (from the responder's count), and
 * the interval's RTT percentiles. Pure logic, no sockets. */
#ifndef FM_FLOW_H
#define FM_FLOW_H

#include <stddef.h>
#include <stdint.h>

#define FLOW_WINDOW 64 /* replies older than this many probes are ignored */

/* 64-bit fields first: no padding, so with its flow's port and target it
 * fits one cache line (prober/pinger.c). */
struct flow_acct {
	int64_t anchor_seq;      /* last answered probe, -1 before any */
	int64_t classified_upto; /* highest seq whose fate has been counted */
	uint64_t replied;        /* bit i: probe next_seq-1-i was answered */
	uint32_t next_seq;       /* seq of the next probe to send */
	uint32_t anchor_count;   /* the responder's count carried by that answer */
	uint32_t close_mark;     /* next_seq at the previous interval close */
	uint32_t close_mark_old; /* next_seq at the close before that one */
	/* this interval */
	uint32_t received, lost_fwd, lost_rev;
	uint32_t unsent; /* probes our own kernel refused to send */
};

/* An interval's figures for one flow. */
struct flow_figures {
	uint32_t sent, received, lost_fwd, lost_rev;
	uint64_t rtt_min_ns, rtt_p50_ns, rtt_p99_ns, rtt_max_ns; /* 0 = none */
};

void flow_acct_init(struct flow_acct *f);
/* Take the seq for a probe about to be sent. */
uint32_t flow_acct_send(struct flow_acct *f);
/* Widen a reply's truncated seq (16 bits for TCP) to the full seq. */
uint32_t flow_acct_seq_widen(const struct flow_acct *f, uint32_t seq, unsigned bits);
/* A probe that took a seq was refused by the local kernel (no route, local
 * firewall): it must not count as fabric loss. */
void flow_acct_unsent(struct flow_acct *f);
/* Count a reply to probe seq carrying the responder's count. Returns 1 when
 * accepted, 0 when it is a duplicate, never sent, or already written off. */
int flow_acct_reply(struct flow_acct *f, uint32_t seq, uint32_t count);
/* Close an interval: probes still unanswered are held, counted in the
 * interval where a later reply's count settles them (forward or reverse).
 * Only probes sent before the close before the previous one (unanswered
 * through a whole interval after their own, no count either way) are
 * written off as forward loss. Then the counters are returned in out (rtt
 * left 0) and reset. */
void flow_acct_close(struct flow_acct *f, struct flow_figures *out);

/* RTT samples of one interval across all flows, so memory follows the probe
 * rate rather than flows x window. */
struct rtt_pool {
	struct rtt_sample {
		uint32_t flow;
		uint32_t rtt_ns;
	} *v;
	size_t n, cap, max; /* max: samples kept at most (later ones dropped) */
};

/* Add a sample; 0, or -1 with errno ENOMEM/ENOSPC (sample dropped). */
int rtt_pool_add(struct rtt_pool *p, uint32_t flow, uint64_t rtt_ns);
/* Sort the samples and write min/p50/p99/max into figs[flow] for every flow
 * that has samples (figs has nflows entries); then empty the pool. */
void rtt_pool_close(struct rtt_pool *p, struct flow_figures *figs, size_t nflows);
void rtt_pool_free(struct rtt_pool *p);

#endif
