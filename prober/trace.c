/* Paris-traceroute-style tracer: each flow is probed hop by hop with its own
 * 5-tuple; the probe kind (probe_<kind>.c) builds the probes and matches
 * their answers, by an identity routers do not hash on. Event-driven: the
 * caller polls tracer_fd and calls tracer_readable / tracer_timer. */
#include "trace.h"
#include "clock.h"

#include "dump.h"
#include "icmp_quote.h"
#include "mda.h"
#include "probe.h"
#include "bytes.h"
#include "addr.h"
#include "vec.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/icmp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TRACE_PKT_MAX (20 + 20 + PROBE_TRACE_PAYLOAD_MAX + 4) /* IPv4 + the largest L4 */
#define TRACE_RX_BATCH 256       /* packets read per tracer_readable call */
#define TRACE_TTL_SLOTS (WIRE_HOPS_MAX + 2)
#define TRACE_RESPONDERS_MAX 64  /* distinct responders counted per TTL */
#define TRACE_MDA_ALPHA 0.05
#define NS_PER_MS 1000000ull
#ifndef IPV6_AUTOFLOWLABEL
#define IPV6_AUTOFLOWLABEL 70 /* linux/in6.h; older libc headers lack it */
#endif

static const uint8_t trace_udp_default[] = { 'F', 'M', 'T', 'R', 'A', 'C', 'E', 0 };

enum job_state { JOB_READY, JOB_WAIT };

struct trace_job {
	struct trace_flow flow;
	uint64_t user;
	enum job_state state;
	uint8_t ttl;        /* hop being probed */
	uint8_t tries;      /* probes sent at ttl */
	uint8_t gap;        /* silent hops in a row */
	uint64_t deadline_ns;
	const struct probe_ops *kind; /* the kind of flow.proto */
	/* the last probe per TTL, as its answers name it; id 0: none sent */
	struct probe_trace_tag tag_by_ttl[TRACE_TTL_SLOTS];
	struct trace_result res;
	struct trace_job *next; /* queue link */
};

/* What the tracer learned about one router interface on the way to one
 * destination: the successor flows through it showed (MDA node control). */
struct trace_node {
	struct wire_addr dst, addr, succ;
	uint8_t ttl;   /* hop of addr; 0 = the prober itself */
	uint8_t multi; /* more than one successor seen */
	uint32_t flows;
};

/* Where the destination answered, over the flows that reached it by probe. */
struct trace_dst {
	struct wire_addr dst;
	uint8_t ttl;   /* TTL of the first answer */
	uint8_t mixed; /* another flow reached it at another TTL */
	uint32_t flows;
};

/* Per-TTL token bucket, scaled by how many routers answer at that TTL. Two
 * addresses may be one router (the far leaf answers from each spine-facing
 * interface), so the scale is earned: it grows towards the number of
 * responders with answers and halves when a probe goes unanswered (AIMD). */
struct ttl_pace {
	double tokens;
	double routers; /* effective router count, 1..nresp */
	uint64_t last_ns;
	unsigned nresp;
	struct wire_addr resp[TRACE_RESPONDERS_MAX];
};

struct tracer {
	int family;
	struct tracer_cfg cfg;
	tracer_done_cb cb;
	void *cb_arg;
	int epfd, icmp_fd, send_fd;
	/* per probe kind (probe_kind_index): its raw socket, which sends IPv6
	 * probes and reads the destinations' own answers; -1 none */
	int kind_fd[PROBE_KINDS_MAX];
	uint8_t payload[PROBE_TRACE_PAYLOAD_MAX]; /* cfg.udp_payload, copied */
	struct probe_trace_cfg pcfg; /* what the kinds build and match with */
	uint16_t next_id;
	struct trace_job **active;
	unsigned nactive, rr;
	struct trace_job *queue_head, *queue_tail;
	unsigned nqueued;
	struct trace_node *nodes;
	size_t nnodes, cap_nodes;
	struct trace_dst *dsts;
	size_t ndsts, cap_dsts;
	int n1; /* flows that confirm a single successor */
	struct ttl_pace pace[TRACE_TTL_SLOTS];
	struct tracer_stats st;
	struct dump_ring *dump;       /* probes and answers kept for a pcap, or NULL */
	struct trace_flow answered;   /* the flow the last matched answer was for */
};

void tracer_dump_set(struct tracer *t, struct dump_ring *r)
{
	t->dump = r;
}

/* Keep a trace packet of flow f for the pcap dump. */
static void tracer_dump_add(struct tracer *t, const struct trace_flow *f, enum dump_kind kind,
			    const uint8_t *buf, size_t len, const struct sockaddr_storage *from,
			    uint8_t ttl, uint8_t answer_proto)
{
	struct dump_pkt d = { .kind = kind, .family = t->family, .ttl = ttl,
			      .flow_sport = f->sport, .flow_proto = f->proto,
			      .bytes = buf, .len = len };
	size_t off = t->family == AF_INET ? 12 : 0, alen = t->family == AF_INET ? 4 : 16;

	d.ts_ns = clock_real_ns();
	memcpy(d.flow_target, f->dst.bytes + off, alen);
	/* IPv4 raw sockets carry the IP header both ways; IPv6 ones do not, so
	 * the header is rebuilt from the flow (sent) or the sender (answers) */
	d.layer = t->family == AF_INET ? DUMP_L_IP : DUMP_L_L4;
	if (kind == DUMP_TRACE_PROBE) {
		d.proto = f->proto;
		d.tos = (uint8_t)(f->dscp << 2);
		memcpy(d.src, f->src.bytes + off, alen);
		memcpy(d.dst, f->dst.bytes + off, alen);
	} else {
		d.proto = answer_proto;
		memcpy(d.src, &((const struct sockaddr_in6 *)from)->sin6_addr, 16);
		memcpy(d.dst, f->src.bytes, 16);
		d.ttl = 64;
	}
	dump_ring_add(t->dump, &d);
}

void tracer_cfg_default(struct tracer_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->first_ttl = 1;
	cfg->max_ttl = 30;
	cfg->retries = 3;
	cfg->gap_limit = 3;
	cfg->timeout_ms = 1000;
	cfg->max_active = 16;
	cfg->router_interval_ms = 1000;
	cfg->router_burst = 6;
	cfg->infer = TRACE_INFER_OFF;
	cfg->udp_replies = 1;
	cfg->udp_echo_off = -1;
}

/* Paris traceroute: every probe of a flow keeps the 5-tuple the routers
 * hash on; the kind puts the identity where they do not look. The IPv4 ID
 * is the id too, for routers that quote only 8 bytes of a rewritten L4
 * header; IPv6 probes carry flow label 0 (see tracer_sockets_open). */
int trace_probe_build(const struct trace_flow *f, const struct probe_trace_cfg *c, uint8_t ttl,
		      uint16_t id, uint8_t try, uint8_t *buf, size_t cap,
		      struct probe_trace_tag *tag)
{
	const struct probe_ops *kind = probe_kind_by_proto(f->proto);
	int v4 = f->dst.family == AF_INET;
	size_t off = v4 ? 12 : 0, alen = v4 ? 4 : 16, ip_len = v4 ? 20 : 0;
	struct probe_flow_key k = { .family = f->dst.family, .sport = f->sport, .dport = f->dport };
	int l4_len;

	if ((f->dst.family != AF_INET && f->dst.family != AF_INET6) ||
	    f->src.family != f->dst.family || id == 0 || id == 0xffff || !kind ||
	    c->payload_len > PROBE_TRACE_PAYLOAD_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (cap < ip_len) {
		errno = ENOSPC;
		return -1;
	}
	memcpy(&k.src, f->src.bytes + off, alen);
	memcpy(&k.dst, f->dst.bytes + off, alen);
	l4_len = kind->trace_build(&k, c, id, ttl, try, buf + ip_len, cap - ip_len, tag);
	if (l4_len < 0)
		return -1;
	if (v4) {
		struct probe_ip_hdr ip = { .family = AF_INET, .tos = (uint8_t)(f->dscp << 2),
					   .ttl = ttl, .proto = f->proto, .id = id,
					   .payload_len = (size_t)l4_len, .src = &k.src,
					   .dst = &k.dst };

		probe_ip_hdr_write(buf, &ip);
	}
	return (int)ip_len + l4_len;
}

static int sock_raw(int family, int proto)
{
	int fd = socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
	int bufsz = 1 << 20;

	if (fd >= 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	return fd;
}

static int epoll_watch(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void tracer_fds_close(struct tracer *t)
{
	int *fds[3 + PROBE_KINDS_MAX] = { &t->epfd, &t->icmp_fd, &t->send_fd };

	for (unsigned k = 0; k < PROBE_KINDS_MAX; k++)
		fds[3 + k] = &t->kind_fd[k];
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

/* The raw socket of each probe kind: IPv6 sends on it (the kernel writes the
 * header from cmsg), so it is always there; IPv4 sends on the IPPROTO_RAW
 * socket, so there it exists only to read answers, and a raw socket that
 * would copy every packet of its protocol is not opened for nothing. */
static int tracer_kind_socks_open(struct tracer *t)
{
	int zero = 0;

	for (unsigned k = 0; probe_kinds[k]; k++) {
		const struct probe_ops *kind = probe_kinds[k];
		int watch = kind->trace_answers(&t->pcfg);

		if (t->family == AF_INET && !watch)
			continue;
		t->kind_fd[k] = sock_raw(t->family, kind->proto);
		if (t->kind_fd[k] < 0 || kind->trace_bpf_filter(t->kind_fd[k], t->family, &t->pcfg) < 0)
			return -1;
		/* Flow label 0, not the kernel's automatic one: its label hash
		 * would also ride along as the skb hash, which Linux's multipath
		 * hash prefers over the headers when packets cross veths. */
		if (t->family == AF_INET6)
			(void)setsockopt(t->kind_fd[k], IPPROTO_IPV6, IPV6_AUTOFLOWLABEL, &zero,
					 sizeof(zero));
		if (watch && epoll_watch(t->epfd, t->kind_fd[k]) < 0)
			return -1;
	}
	return 0;
}

static int tracer_sockets_open(struct tracer *t)
{
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (t->epfd < 0)
		return -1;
	if (t->family == AF_INET) {
		/* Of all ICMP, only errors that quote a probe wake us. */
		struct icmp_filter ifilt = { .data = ~(1u << ICMP_DEST_UNREACH | 1u << ICMP_TIME_EXCEEDED |
						       1u << ICMP_PARAMETERPROB) };

		t->icmp_fd = sock_raw(AF_INET, IPPROTO_ICMP);
		t->send_fd = sock_raw(AF_INET, IPPROTO_RAW); /* implies IP_HDRINCL */
		if (t->icmp_fd < 0 || t->send_fd < 0 ||
		    setsockopt(t->icmp_fd, SOL_RAW, ICMP_FILTER, &ifilt, sizeof(ifilt)) < 0)
			return -1;
	} else {
		struct icmp6_filter filt;

		t->icmp_fd = sock_raw(AF_INET6, IPPROTO_ICMPV6);
		if (t->icmp_fd < 0)
			return -1;
		ICMP6_FILTER_SETBLOCKALL(&filt);
		ICMP6_FILTER_SETPASS(ICMP6_DST_UNREACH, &filt);
		ICMP6_FILTER_SETPASS(ICMP6_TIME_EXCEEDED, &filt);
		ICMP6_FILTER_SETPASS(ICMP6_PARAM_PROB, &filt);
		if (setsockopt(t->icmp_fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filt, sizeof(filt)) < 0)
			return -1;
	}
	if (tracer_kind_socks_open(t) < 0 || epoll_watch(t->epfd, t->icmp_fd) < 0)
		return -1;
	return 0;
}

struct tracer *tracer_open(int family, const struct tracer_cfg *cfg,
			   tracer_done_cb cb, void *arg)
{
	struct tracer *t;
	int saved;

	if ((family != AF_INET && family != AF_INET6) || !cb) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	if (cfg)
		t->cfg = *cfg;
	else
		tracer_cfg_default(&t->cfg);
	if (t->cfg.first_ttl < 1 || t->cfg.max_ttl < t->cfg.first_ttl ||
	    t->cfg.infer < TRACE_INFER_OFF || t->cfg.infer > TRACE_INFER_LITE ||
	    t->cfg.max_ttl > WIRE_HOPS_MAX || t->cfg.gap_limit < 1 ||
	    t->cfg.max_active < 1 || t->cfg.timeout_ms < 1 || t->cfg.router_burst < 1 ||
	    t->cfg.udp_payload_len > PROBE_TRACE_PAYLOAD_MAX ||
	    (t->cfg.udp_payload_len && !t->cfg.udp_payload) ||
	    (t->cfg.udp_echo_off >= 0 &&
	     (!t->cfg.udp_payload || t->cfg.udp_echo_off + 4 > t->cfg.udp_payload_len))) {
		free(t);
		errno = EINVAL;
		return NULL;
	}
	t->family = family;
	t->cb = cb;
	t->cb_arg = arg;
	t->epfd = t->icmp_fd = t->send_fd = -1;
	for (unsigned k = 0; k < PROBE_KINDS_MAX; k++)
		t->kind_fd[k] = -1;
	if (t->cfg.udp_payload) {
		memcpy(t->payload, t->cfg.udp_payload, t->cfg.udp_payload_len);
		t->pcfg.payload_len = t->cfg.udp_payload_len;
	} else {
		memcpy(t->payload, trace_udp_default, sizeof(trace_udp_default));
		t->pcfg.payload_len = sizeof(trace_udp_default);
	}
	t->pcfg.payload = t->payload;
	t->pcfg.echo_off = t->cfg.udp_echo_off;
	t->pcfg.answers = t->cfg.udp_replies;
	t->cfg.udp_payload = NULL; /* the caller's buffer need not outlive open */
	t->n1 = mda_stop_flows(1, TRACE_MDA_ALPHA);
	t->next_id = (uint16_t)(1 + (unsigned)(time(NULL) ^ getpid()) % 0xfffe);
	t->active = calloc(t->cfg.max_active, sizeof(*t->active));
	if (!t->active || tracer_sockets_open(t) < 0)
		goto err;
	for (int i = 0; i < TRACE_TTL_SLOTS; i++) {
		t->pace[i].tokens = t->cfg.router_burst;
		t->pace[i].routers = 1;
	}
	return t;
err:
	saved = errno;
	tracer_fds_close(t);
	free(t->active);
	free(t);
	errno = saved;
	return NULL;
}

int tracer_fd(const struct tracer *t)
{
	return t->epfd;
}

/* The kernel's choice of source for dst, without sending anything. */
static int source_for(int family, const struct wire_addr *dst, struct wire_addr *src)
{
	struct sockaddr_storage ss;
	socklen_t sl = addr_to_sockaddr(dst, 9, &ss);
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc = -1;

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0)
		goto out;
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		goto out;
	addr_from_sockaddr(src, &ss);
	rc = 0;
out:
	close(fd);
	return rc;
}

int tracer_flow_start(struct tracer *t, const struct trace_flow *flow,
		      uint64_t user, uint64_t now_ns)
{
	struct trace_job *j;

	if (!flow || flow->dst.family != t->family ||
	    (flow->src.family && flow->src.family != t->family) ||
	    !probe_kind_by_proto(flow->proto)) {
		errno = EINVAL;
		return -1;
	}
	j = calloc(1, sizeof(*j));
	if (!j)
		return -1;
	j->flow = *flow;
	j->kind = probe_kind_by_proto(flow->proto);
	if (!j->flow.src.family && source_for(t->family, &flow->dst, &j->flow.src) < 0) {
		int saved = errno;

		free(j);
		errno = saved;
		return -1;
	}
	j->user = user;
	j->ttl = t->cfg.first_ttl;
	j->state = JOB_READY;
	j->res.user = user;
	j->res.start_ns = now_ns;
	j->res.path.src = j->flow.src;
	j->res.path.dst = j->flow.dst;
	j->res.path.proto = j->flow.proto;
	j->res.path.sport = j->flow.sport;
	j->res.path.dport = j->flow.dport;
	if (t->queue_tail)
		t->queue_tail->next = j;
	else
		t->queue_head = j;
	t->queue_tail = j;
	t->nqueued++;
	return 0;
}

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
		memset(d, 0, sizeof(*d));
		d->dst = *dst;
		d->ttl = ttl;
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

static void job_finish(struct tracer *t, unsigned idx, enum trace_end end, uint64_t now_ns)
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
		job_finish(t, idx, TRACE_END_GAP, now_ns);
		return 1;
	}
	if (j->ttl >= t->cfg.max_ttl) {
		job_finish(t, idx, TRACE_END_MAX_TTL, now_ns);
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
		job_finish(t, idx, TRACE_END_REACHED, now_ns);
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
		job_finish(t, idx, TRACE_END_REACHED, now_ns);
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

static int probe_send(struct tracer *t, struct trace_job *j, uint16_t id,
		      struct probe_trace_tag *tag)
{
	uint8_t pkt[TRACE_PKT_MAX];
	int len = trace_probe_build(&j->flow, &t->pcfg, j->ttl, id, j->tries, pkt, sizeof(pkt),
				    tag);
	ssize_t rc;

	if (len < 0)
		return -1;
	if (t->family == AF_INET) {
		struct sockaddr_in to = { .sin_family = AF_INET };

		memcpy(&to.sin_addr, j->flow.dst.bytes + 12, 4);
		rc = sendto(t->send_fd, pkt, (size_t)len, 0, (struct sockaddr *)&to, sizeof(to));
	} else {
		/* Hop limit, source and traffic class per packet, so one socket
		 * serves every flow and TTL. */
		struct sockaddr_in6 to = { .sin6_family = AF_INET6 };
		union {
			char buf[CMSG_SPACE(sizeof(int)) * 2 + CMSG_SPACE(sizeof(struct in6_pktinfo))];
			struct cmsghdr align;
		} u;
		struct iovec iov = { .iov_base = pkt, .iov_len = (size_t)len };
		struct msghdr msg = { .msg_name = &to, .msg_namelen = sizeof(to),
				      .msg_iov = &iov, .msg_iovlen = 1,
				      .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
		struct in6_pktinfo pi = { 0 };
		int hlim = j->ttl, tclass = j->flow.dscp << 2;
		size_t off;

		memset(&u, 0, sizeof(u));
		memcpy(&to.sin6_addr, j->flow.dst.bytes, 16);
		/* sin6_port stays 0: on a raw socket it would name the protocol. */
		memcpy(&pi.ipi6_addr, j->flow.src.bytes, 16);
		off = probe_cmsg_put(u.buf, 0, IPPROTO_IPV6, IPV6_HOPLIMIT, &hlim, sizeof(hlim));
		off = probe_cmsg_put(u.buf, off, IPPROTO_IPV6, IPV6_TCLASS, &tclass, sizeof(tclass));
		probe_cmsg_put(u.buf, off, IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof(pi));
		rc = sendmsg(t->kind_fd[probe_kind_index(j->kind)], &msg, 0);
	}
	if (rc == len && t->dump)
		tracer_dump_add(t, &j->flow, DUMP_TRACE_PROBE, pkt, (size_t)len, NULL, j->ttl, 0);
	return rc == len ? 0 : -1;
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
	if (probe_send(t, j, tracer_id_next(t), &tag) < 0) {
		t->st.send_errors++;
		/* A full socket buffer is transient: try again next tick. */
		if (errno == ENOBUFS || errno == EAGAIN)
			return 0;
		j->res.err_no = errno;
		job_finish(t, idx, TRACE_END_ERROR, now_ns);
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

unsigned tracer_busy(const struct tracer *t)
{
	return t->nactive + t->nqueued;
}

void tracer_stats_get(const struct tracer *t, struct tracer_stats *st)
{
	*st = t->st;
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
		job_finish(t, idx, TRACE_END_REACHED, now_ns);
		return;
	}
	j->res.path.hops[ttl - 1] = *from;
	j->res.path.hop_replies[ttl - 1]++;
	if (unreach) {
		job_finish(t, idx, TRACE_END_UNREACH, now_ns);
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

static void icmp_handle(struct tracer *t, const struct icmp_quote *q, uint64_t now_ns)
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
static void l4_handle(struct tracer *t, uint8_t proto, const struct wire_addr *from,
		      const struct wire_addr *to, const uint8_t *l4, size_t n,
		      uint64_t now_ns)
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

/* One packet off socket fd. */
static void packet_handle(struct tracer *t, int fd, const uint8_t *buf, size_t len,
			  const struct sockaddr_storage *from_sa, uint64_t now_ns)
{
	struct icmp_quote q;
	struct wire_addr from, to;
	uint8_t proto = 0;

	for (unsigned k = 0; probe_kinds[k]; k++)
		if (fd == t->kind_fd[k])
			proto = probe_kinds[k]->proto;

	if (fd == t->icmp_fd) {
		int rc;

		if (t->family == AF_INET) {
			rc = icmp_quote_parse4(buf, len, &q);
		} else {
			addr_from_sockaddr(&from, from_sa);
			rc = icmp_quote_parse6(buf, len, &from, &q);
		}
		if (rc < 0) {
			/* Echo replies and other ICMP are not ours: ignored,
			 * only broken errors count as malformed. */
			if (errno == EBADMSG)
				t->st.packets_malformed++;
			else
				t->st.packets_ignored++;
			return;
		}
		icmp_handle(t, &q, now_ns);
		return;
	}
	if (t->family == AF_INET) {
		size_t ihl;

		if (len < 20 || (buf[0] >> 4) != 4 || (ihl = (size_t)(buf[0] & 0xf) * 4) < 20 ||
		    ihl > len || buf[9] != proto) {
			t->st.packets_malformed++;
			return;
		}
		addr_set4(&from, buf + 12);
		addr_set4(&to, buf + 16);
		l4_handle(t, proto, &from, &to, buf + ihl, len - ihl, now_ns);
	} else {
		/* Raw IPv6 sockets give no IPv6 header; our own address is the
		 * flow's source, checked by job_lookup through the ports and
		 * the echoed identity. */
		addr_from_sockaddr(&from, from_sa);
		if (len < 8) {
			t->st.packets_malformed++;
			return;
		}
		for (unsigned i = 0; i < t->nactive; i++) {
			if (addr_eq(&t->active[i]->flow.dst, &from) &&
			    t->active[i]->flow.sport == bytes_be16_get(buf + 2)) {
				to = t->active[i]->flow.src;
				l4_handle(t, proto, &from, &to, buf, len, now_ns);
				return;
			}
		}
		t->st.packets_ignored++;
	}
}

int tracer_readable(struct tracer *t, uint64_t now_ns)
{
	int fds[1 + PROBE_KINDS_MAX] = { t->icmp_fd };
	uint8_t protos[1 + PROBE_KINDS_MAX] = { IPPROTO_ICMPV6 }; /* of the answers, for the dump */
	unsigned nfds = 1;
	uint64_t before = t->st.replies_matched;
	uint8_t buf[2048];

	for (unsigned k = 0; probe_kinds[k]; k++) {
		if (t->kind_fd[k] < 0 || !probe_kinds[k]->trace_answers(&t->pcfg))
			continue;
		protos[nfds] = probe_kinds[k]->proto;
		fds[nfds++] = t->kind_fd[k];
	}
	for (unsigned k = 0; k < nfds; k++) {
		for (int n = 0; n < TRACE_RX_BATCH; n++) {
			struct sockaddr_storage ss;
			socklen_t sl = sizeof(ss);
			ssize_t len = recvfrom(fds[k], buf, sizeof(buf), MSG_DONTWAIT,
					       (struct sockaddr *)&ss, &sl);

			uint64_t matched = t->st.replies_matched;

			if (len < 0)
				break;
			packet_handle(t, fds[k], buf, (size_t)len, &ss, now_ns);
			if (t->dump && t->st.replies_matched != matched)
				tracer_dump_add(t, &t->answered, DUMP_TRACE_REPLY, buf, (size_t)len,
						&ss, 0, protos[k]);
		}
	}
	return (int)(t->st.replies_matched - before);
}

void tracer_close(struct tracer *t)
{
	if (!t)
		return;
	while (t->queue_head && t->nactive < t->cfg.max_active) {
		struct trace_job *j = t->queue_head;

		t->queue_head = j->next;
		t->active[t->nactive++] = j;
	}
	while (t->nactive)
		job_finish(t, t->nactive - 1, TRACE_END_CANCELLED, 0);
	while (t->queue_head) {
		struct trace_job *j = t->queue_head;

		t->queue_head = j->next;
		j->res.end = TRACE_END_CANCELLED;
		t->cb(t->cb_arg, &j->res);
		free(j);
	}
	tracer_fds_close(t);
	free(t->active);
	free(t->nodes);
	free(t->dsts);
	free(t);
}
