/* The tracer's state machine: per-flow jobs (probe, wait, retry, advance,
 * finish), per-TTL pacing under routers' ICMP rate limits, the MDA-Lite
 * knowledge hops are inferred from, and matching answers to jobs. */
#include "trace_int.h"
#include "addr.h"
#include "bytes.h"
#include "vec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static struct trace_node *node_find(struct tracer *t, const struct wire_addr *dst,
				    uint8_t ttl, const struct wire_addr *addr)
{
	for (size_t i = 0; i < t->nnodes; i++) {
		struct trace_node *n = &t->nodes[i];

		if (n->ttl == ttl && addr_eq(&n->addr, addr) && addr_eq(&n->dst, dst))
			return n;
	}
	return NULL;
}

/* Record that a flow through addr (at hop ttl) went on to succ. Allocation
 * failure only loses knowledge, never a trace, so it is not reported. */
static void node_learn(struct tracer *t, const struct wire_addr *dst, uint8_t ttl,
		       const struct wire_addr *addr, const struct wire_addr *succ)
{
	struct trace_node *n = node_find(t, dst, ttl, addr);

	if (!n) {
		if (vec_room(&t->nodes, t->nnodes, &t->cap_nodes, sizeof(*t->nodes), 64) < 0)
			return;
		n = &t->nodes[t->nnodes++];
		memset(n, 0, sizeof(*n));
		n->dst = *dst;
		n->ttl = ttl;
		n->addr = *addr;
		n->succ = *succ;
	} else if (!addr_eq(&n->succ, succ)) {
		n->multi = 1;
	}
	n->flows++;
}

static struct trace_dst *dst_find(struct tracer *t, const struct wire_addr *dst)
{
	for (size_t i = 0; i < t->ndsts; i++)
		if (addr_eq(&t->dsts[i].dst, dst))
			return &t->dsts[i];
	return NULL;
}

/* A flow's probe reached dst at ttl. Knowledge only: allocation failure
 * is not reported. */
static void dst_learn(struct tracer *t, const struct wire_addr *dst, uint8_t ttl)
{
	struct trace_dst *d = dst_find(t, dst);

	if (!d) {
		if (vec_room(&t->dsts, t->ndsts, &t->cap_dsts, sizeof(*t->dsts), 16) < 0)
			return;
		d = &t->dsts[t->ndsts++];
		*d = (struct trace_dst){ .dst = *dst, .ttl = ttl };
	} else if (d->ttl != ttl) {
		d->mixed = 1;
	}
	d->flows++;
}

void tracer_knowledge_reset(struct tracer *t)
{
	t->nnodes = 0;
	t->ndsts = 0;
}

/* MDA-Lite's test: enough flows went from hop ttl to the next and every
 * node at ttl kept to one successor. */
static int hop_unmeshed(const struct tracer *t, const struct wire_addr *dst, uint8_t ttl)
{
	uint32_t flows = 0;

	for (size_t i = 0; i < t->nnodes; i++) {
		const struct trace_node *n = &t->nodes[i];

		if (n->ttl != ttl || !addr_eq(&n->dst, dst))
			continue;
		if (n->multi)
			return 0;
		flows += n->flows;
	}
	return flows >= (uint32_t)t->n1;
}

/* The hop before ttl on this flow's path (the prober itself for hop 1), or
 * NULL when it is unknown (silent, or before first_ttl). */
static const struct wire_addr *job_pred(const struct trace_job *j, uint8_t ttl)
{
	if (ttl == 1)
		return &j->flow.src;
	if (ttl < 2 || !j->res.path.hops[ttl - 2].family)
		return NULL;
	return &j->res.path.hops[ttl - 2];
}

static void pace_refill(struct tracer *t, struct ttl_pace *p, uint64_t now_ns)
{
	double routers = p->routers;
	double cap = (double)t->cfg.router_burst * routers;

	if (p->last_ns && now_ns > p->last_ns && t->cfg.router_interval_ms)
		p->tokens += (double)(now_ns - p->last_ns) * routers /
			     ((double)t->cfg.router_interval_ms * NS_PER_MS);
	else if (!t->cfg.router_interval_ms)
		p->tokens = cap;
	if (p->tokens > cap)
		p->tokens = cap;
	p->last_ns = now_ns;
}

/* When the bucket of ttl has a token again. */
static uint64_t pace_ready_ns(const struct tracer *t, const struct ttl_pace *p)
{
	double routers = p->routers;
	double need = 1 - p->tokens;

	if (need <= 0 || !t->cfg.router_interval_ms)
		return p->last_ns;
	return p->last_ns + (uint64_t)(need * (double)t->cfg.router_interval_ms * NS_PER_MS / routers) + 1;
}

/* An answer at this TTL: note the responder, grow the scale by 1/scale. */
static void pace_answered(struct ttl_pace *p, const struct wire_addr *a)
{
	unsigned i;

	for (i = 0; i < p->nresp; i++)
		if (addr_eq(&p->resp[i], a))
			break;
	if (i == p->nresp && p->nresp < TRACE_RESPONDERS_MAX)
		p->resp[p->nresp++] = *a;
	p->routers += 1 / p->routers;
	if (p->routers > (p->nresp ? p->nresp : 1))
		p->routers = p->nresp ? p->nresp : 1;
}

/* A probe at this TTL went unanswered: maybe a rate limit, so back off. */
static void pace_silent(struct ttl_pace *p)
{
	p->routers /= 2;
	if (p->routers < 1)
		p->routers = 1;
}

void trace_do_job_finish(struct tracer *t, unsigned idx, enum trace_end end, uint64_t now_ns)
{
	struct trace_job *j = t->active[idx];
	struct wire_path *p = &j->res.path;
	int last = j->ttl; /* hops beyond the one being probed are unknown */

	j->res.end = end;
	j->res.end_ns = now_ns;
	if (end == TRACE_END_REACHED)
		last = j->res.dst_ttl - 1;
	else if (last > WIRE_HOPS_MAX)
		last = WIRE_HOPS_MAX;
	/* Drop trailing silent hops of an unfinished path: they say nothing.
	 * Before a destination that answered, a silent hop is still a hop. */
	while (end != TRACE_END_REACHED && last > 0 && !p->hops[last - 1].family)
		last--;
	p->nhops = (uint8_t)last;
	for (int i = last; i < WIRE_HOPS_MAX; i++) {
		memset(&p->hops[i], 0, sizeof(p->hops[i]));
		p->hop_probes[i] = p->hop_replies[i] = 0;
	}
	j->res.inferred_mask &= last >= 32 ? 0xffffffffu : ((1u << last) - 1);
	t->active[idx] = t->active[--t->nactive];
	t->active[t->nactive] = NULL;
	t->cb(t->cb_arg, &j->res);
	free(j);
}

/* Move on after hop ttl is settled (answered, inferred or given up). Returns
 * 1 when the trace finished. */
static int job_advance(struct tracer *t, unsigned idx, uint64_t now_ns)
{
	struct trace_job *j = t->active[idx];

	if (j->gap >= t->cfg.gap_limit) {
		trace_do_job_finish(t, idx, TRACE_END_GAP, now_ns);
		return 1;
	}
	if (j->ttl >= t->cfg.max_ttl) {
		trace_do_job_finish(t, idx, TRACE_END_MAX_TTL, now_ns);
		return 1;
	}
	j->ttl++;
	j->tries = 0;
	j->state = JOB_READY;
	return 0;
}

/* Take hop ttl from a predecessor seen on n1 flows to have one successor.
 * Returns 1 when the hop (or the trace's end) was inferred. */
static int job_infer(struct tracer *t, unsigned idx, uint64_t now_ns)
{
	struct trace_job *j = t->active[idx];
	const struct wire_addr *pred = job_pred(j, j->ttl);
	struct trace_node *n;

	struct trace_dst *d;
	int ok;

	if (t->cfg.infer == TRACE_INFER_OFF || !pred || j->ttl > WIRE_HOPS_MAX)
		return 0;
	/* MDA-Lite's path length rule: equal-cost paths are equally long, so
	 * once n1 flows all met the destination at one TTL, a flow whose
	 * previous hop is known meets it there too. */
	d = t->cfg.infer == TRACE_INFER_LITE ? dst_find(t, &j->flow.dst) : NULL;
	if (d && !d->mixed && d->flows >= (uint32_t)t->n1 && d->ttl == j->ttl) {
		t->st.hops_inferred++;
		j->res.dst_ttl = j->ttl;
		j->res.dst_inferred = 1;
		trace_do_job_finish(t, idx, TRACE_END_REACHED, now_ns);
		return 1;
	}
	n = node_find(t, &j->flow.dst, (uint8_t)(j->ttl - 1), pred);
	if (!n || n->multi)
		return 0;
	if (j->ttl == 1 && t->cfg.first_hop_single)
		ok = 1; /* the caller vouches: one next hop, so one first router */
	else if (t->cfg.infer == TRACE_INFER_NODE)
		ok = n->flows >= (uint32_t)t->n1;
	else
		ok = hop_unmeshed(t, &j->flow.dst, (uint8_t)(j->ttl - 1));
	if (!ok)
		return 0;
	t->st.hops_inferred++;
	if (addr_eq(&n->succ, &j->flow.dst)) {
		j->res.dst_ttl = j->ttl;
		j->res.dst_inferred = 1;
		trace_do_job_finish(t, idx, TRACE_END_REACHED, now_ns);
		return 1;
	}
	j->res.path.hops[j->ttl - 1] = n->succ;
	j->res.inferred_mask |= 1u << (j->ttl - 1);
	j->gap = 0;
	job_advance(t, idx, now_ns);
	return 1;
}

static uint16_t tracer_id_next(struct tracer *t)
{
	uint16_t id = t->next_id++;

	if (t->next_id == 0xffff || t->next_id == 0)
		t->next_id = 1;
	return id;
}

/* Send the job's next probe if its TTL's bucket allows. Returns 1 when sent,
 * 0 when it must wait, -1 when the trace finished. */
static int job_probe(struct tracer *t, unsigned idx, uint64_t now_ns)
{
	struct trace_job *j = t->active[idx];
	struct ttl_pace *p = &t->pace[j->ttl];
	struct probe_trace_tag tag;

	pace_refill(t, p, now_ns);
	if (p->tokens < 1)
		return 0;
	if (trace_sock_probe_send(t, j, tracer_id_next(t), &tag) < 0) {
		t->st.send_errors++;
		/* A full socket buffer is transient: try again next tick. */
		if (errno == ENOBUFS || errno == EAGAIN)
			return 0;
		j->res.err_no = errno;
		trace_do_job_finish(t, idx, TRACE_END_ERROR, now_ns);
		return -1;
	}
	p->tokens -= 1;
	t->st.probes_sent++;
	j->res.probes_sent++;
	j->tag_by_ttl[j->ttl] = tag;
	j->tries++;
	j->res.path.hop_probes[j->ttl - 1]++;
	j->state = JOB_WAIT;
	j->deadline_ns = now_ns + (uint64_t)t->cfg.timeout_ms * NS_PER_MS;
	return 1;
}

int tracer_timer(struct tracer *t, uint64_t now_ns)
{
	int sent = 0;

	/* Expire silent probes: retry the hop, or give it up as "*". */
	for (unsigned i = 0; i < t->nactive;) {
		struct trace_job *j = t->active[i];

		if (j->state == JOB_WAIT && j->deadline_ns <= now_ns) {
			pace_silent(&t->pace[j->ttl]);
			if (j->tries <= t->cfg.retries) {
				j->state = JOB_READY;
			} else {
				j->gap++;
				if (job_advance(t, i, now_ns))
					continue;
			}
		}
		i++;
	}
	while (t->queue_head && t->nactive < t->cfg.max_active) {
		struct trace_job *j = t->queue_head;

		t->queue_head = j->next;
		if (!t->queue_head)
			t->queue_tail = NULL;
		t->nqueued--;
		j->next = NULL;
		t->active[t->nactive++] = j;
	}
	/* Round robin from a rotating start so no flow starves the others of a
	 * TTL's tokens. A finished job's slot is refilled by the last one, so
	 * the same position is looked at again; the guard bounds the loop. */
	unsigned start = t->rr++;
	unsigned guard = 4 * t->cfg.max_active + 4;

	for (unsigned n = 0; n < t->nactive && guard; guard--) {
		unsigned i = (start + n) % t->nactive;
		unsigned before = t->nactive;
		int rc = 0;

		for (int hops = 0; hops <= WIRE_HOPS_MAX; hops++) {
			if (t->nactive != before || t->active[i]->state != JOB_READY)
				break;
			if (job_infer(t, i, now_ns))
				continue;
			rc = job_probe(t, i, now_ns);
			break;
		}
		if (rc > 0)
			sent++;
		if (t->nactive == before)
			n++;
	}
	return sent;
}

uint64_t tracer_next_ns(const struct tracer *t)
{
	uint64_t next = UINT64_MAX;

	if (t->queue_head && t->nactive < t->cfg.max_active)
		return 0;
	for (unsigned i = 0; i < t->nactive; i++) {
		const struct trace_job *j = t->active[i];
		uint64_t when = j->state == JOB_WAIT ? j->deadline_ns
						      : pace_ready_ns(t, &t->pace[j->ttl]);

		if (when < next)
			next = when;
	}
	return next;
}

static int flow_is(const struct trace_flow *f, uint8_t proto, const struct wire_addr *src,
		   const struct wire_addr *dst, uint16_t sport, uint16_t dport)
{
	return f->proto == proto && f->sport == sport && f->dport == dport &&
	       addr_eq(&f->src, src) && addr_eq(&f->dst, dst);
}

/* An answer to the probe that job idx sent at ttl: record it and decide
 * whether the trace goes on. from_dst: the destination itself answered. */
static void job_answer(struct tracer *t, unsigned idx, uint8_t ttl,
		       const struct wire_addr *from, int from_dst, int unreach,
		       uint64_t now_ns)
{
	struct trace_job *j = t->active[idx];
	const struct wire_addr *pred;

	t->st.replies_matched++;
	t->answered = j->flow;
	pace_answered(&t->pace[ttl], from);
	if (ttl != j->ttl) {
		/* A late answer for a hop given up as silent: fill it in. */
		if (ttl < j->ttl && !from_dst && !j->res.path.hops[ttl - 1].family) {
			j->res.path.hops[ttl - 1] = *from;
			j->res.path.hop_replies[ttl - 1]++;
		} else if (ttl < j->ttl && !from_dst) {
			j->res.path.hop_replies[ttl - 1]++;
		}
		return;
	}
	/* Knowledge for inference only: without it, keep no per-node state (a
	 * prober with thousands of targets would grow it for nothing). */
	pred = t->cfg.infer != TRACE_INFER_OFF ? job_pred(j, ttl) : NULL;
	if (pred)
		node_learn(t, &j->flow.dst, (uint8_t)(ttl - 1), pred, from_dst ? &j->flow.dst : from);
	j->gap = 0;
	if (from_dst) {
		if (t->cfg.infer != TRACE_INFER_OFF)
			dst_learn(t, &j->flow.dst, ttl);
		j->res.dst_ttl = ttl;
		trace_do_job_finish(t, idx, TRACE_END_REACHED, now_ns);
		return;
	}
	j->res.path.hops[ttl - 1] = *from;
	j->res.path.hop_replies[ttl - 1]++;
	if (unreach) {
		trace_do_job_finish(t, idx, TRACE_END_UNREACH, now_ns);
		return;
	}
	job_advance(t, idx, now_ns);
}

/* Find the active job of a flow (proto, addresses, ports as sent) and the
 * TTL of its probe that a quote q, or else the destination's own answer
 * (l4, n bytes), names. 0, or -1 when none does. */
static int job_lookup(struct tracer *t, uint8_t proto, const struct wire_addr *src,
		      const struct wire_addr *dst, uint16_t sport, uint16_t dport,
		      const struct icmp_quote *q, const uint8_t *l4, size_t n, unsigned *idx,
		      uint8_t *ttl)
{
	for (unsigned i = 0; i < t->nactive; i++) {
		struct trace_job *j = t->active[i];

		if (!flow_is(&j->flow, proto, src, dst, sport, dport))
			continue;
		for (unsigned h = 1; h < TRACE_TTL_SLOTS; h++) {
			const struct probe_trace_tag *tag = &j->tag_by_ttl[h];

			if (!tag->id)
				continue;
			if (q ? j->kind->trace_quote_match(q, tag)
			      : j->kind->trace_answer_match(l4, n, &t->pcfg, tag)) {
				*idx = i;
				*ttl = (uint8_t)h;
				return 0;
			}
		}
	}
	return -1;
}

void trace_do_icmp_handle(struct tracer *t, const struct icmp_quote *q, uint64_t now_ns)
{
	unsigned idx;
	uint8_t ttl;

	if (q->l4_len < 8 || !probe_kind_by_proto(q->proto) ||
	    job_lookup(t, q->proto, &q->src, &q->dst, q->sport, q->dport, q, NULL, 0, &idx,
		       &ttl) < 0) {
		t->st.packets_ignored++;
		return;
	}
	if (addr_eq(&q->from, &t->active[idx]->flow.dst))
		job_answer(t, idx, ttl, &q->from, 1, 0, now_ns);
	else
		job_answer(t, idx, ttl, &q->from, 0, q->kind == ICMP_QUOTE_UNREACH ||
					       q->kind == ICMP_QUOTE_PORT_UNREACH, now_ns);
}

/* The destination's own answer: addresses and ports reversed. l4 points at
 * the L4 header, n bytes of it. */
void trace_do_l4_handle(struct tracer *t, uint8_t proto, const struct wire_addr *from,
			const struct wire_addr *to, const uint8_t *l4, size_t n, uint64_t now_ns)
{
	unsigned idx;
	uint8_t ttl;

	if (n < 4 || job_lookup(t, proto, to, from, bytes_be16_get(l4 + 2), bytes_be16_get(l4),
				NULL, l4, n, &idx, &ttl) < 0) {
		t->st.packets_ignored++;
		return;
	}
	job_answer(t, idx, ttl, from, 1, 0, now_ns);
}
