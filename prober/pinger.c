/* Pinger: a min-heap of targets by next send time spreads each target's
 * probes evenly over its flows; due probes are batched per socket into
 * sendmmsg, replies read with recvmmsg and kernel receive timestamps on the
 * send ticks (no wakeup per reply). */
#include "pinger.h"

#include "dump.h"
#include "flow.h"
#include "mda.h"
#include "netlink.h"
#include "probe.h"
#include "clock.h"
#include "addr.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define PINGER_BATCH 64
#define PINGER_TICK_MAX 4096 /* probes per tick at most, so replies get read */
#define PINGER_RTT_SAMPLES_MAX (1u << 20)
/* Probes due within this window are sent together: one wakeup and one
 * sendmmsg per socket instead of one each, at the cost of sending up to
 * 5 ms early (the spacing stays even at that resolution, and a probe's
 * times are stamped when it goes, so no figure changes). At 10k probes/s
 * that is ~200 wakeups a second instead of ~900 with 1 ms: 13% less CPU in
 * bench-prober. */
#define PINGER_COALESCE_NS 5000000u
/* Replies are read on the send ticks, not on arrival: the RTT comes from the
 * kernel's receive stamp, so reading later changes no figure and saves a
 * wakeup per reply. After a send, a tick comes at most this much later so
 * replies never pile up in the socket buffers when the next send is far. */
#define PINGER_RX_LAG_NS 5000000u
#define PINGER_PREFETCH 16       /* probes or replies whose memory is fetched together */

/* 16,000 flows and 1,000 targets outgrow the CPU caches, so each probe and
 * each reply costs a cache miss per line touched: what a send or a reply
 * needs is packed into one line of the flow (its accounting) and one of the
 * target; the packet template takes the flow's second line. */
struct pflow {
	_Alignas(64) uint32_t target;
	uint16_t sport;
	struct flow_acct acct;
	struct probe_tmpl tmpl;
};

_Static_assert(offsetof(struct pflow, tmpl) <= 64, "a reply touches one line of its flow");

/* A target's fields used per probe and per reply: one cache line. */
struct ptarget {
	const struct probe_ops *kind;
	uint32_t first_flow;
	uint32_t next_flow; /* round robin over its flows */
	uint32_t sent_now;  /* probes sent this interval */
	uint16_t flows;
	uint16_t port; /* responder port, host order */
	uint8_t fam;   /* fam_idx(family) */
	uint8_t tos;   /* DSCP << 2 */
	uint8_t answered; /* any answer this interval */
	uint8_t grown;    /* its flows are listed in tcold's fidx, not contiguous */
	uint8_t kidx;     /* probe_kind_index(kind): its sockets in p->socks */
	union {
		struct sockaddr sa;
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} dst; /* spec.addr: where port-socket probes go, where replies come from */
};

_Static_assert(sizeof(struct ptarget) <= 64, "a target's hot fields fit a cache line");

/* The rest of a target: used when opening, for raw-socket kinds and at interval close. */
struct ptarget_cold {
	struct target_spec spec;
	struct sockaddr_storage raw_dst; /* spec.addr with port 0, for raw sockets */
	struct probe_flow_key key;       /* addresses, ports of flow 0 */
	uint32_t silent;                 /* intervals in a row without any answer */
	uint32_t *fidx;                  /* once grown: index in flows of each of its flows */
};

struct pfd {
	const struct probe_ops *kind;
	int family;
	uint16_t port; /* local port (PROBE_SOCK_PORT sockets) */
};

/* One kind's sockets in one family: a socket per flow port
 * (PROBE_SOCK_PORT, fd[i] bound to sport_base + i) or one raw socket. */
struct psocks {
	int fd[TARGETS_FLOWS_MAX];
	unsigned n;
};

struct pending {
	int fd;
	uint32_t flow; /* index into flows */
	uint32_t seq;
	uint64_t tx_ns;
	void *dst;
	socklen_t dstlen;
	uint8_t pkt[PROBE_HDR_LEN];
	uint16_t len;
	_Alignas(struct cmsghdr) char cbuf[96];
	size_t clen;
};

struct pinger {
	struct pinger_cfg cfg;
	struct ptarget *targets;
	struct ptarget_cold *tcold; /* same index as targets */
	size_t ntargets;
	struct pflow *flows;
	size_t nflows;
	/* targets by next send time, the earliest on top; the key sits in the
	 * entry so sifting touches no target (they are large, cold) */
	struct pheap {
		uint64_t next_ns;
		uint64_t period_ns; /* here too, so rescheduling waits on no miss */
		uint32_t target;
	} *heap;
	size_t nheap;
	struct psocks socks[PROBE_KINDS_MAX][2]; /* by kind index, then family */
	struct pfd *fdmap; /* indexed by fd */
	int fdmap_len;
	int rx_epfd;         /* our sockets, polled without waiting on ticks */
	struct pending pend[PINGER_BATCH];
	size_t npend;
	struct rtt_pool rtt;
	struct pinger_stats stats;
	struct dump_ring *dump; /* probes sent and replies taken, for a pcap; or NULL */
};

void pinger_dump_set(struct pinger *p, struct dump_ring *r)
{
	p->dump = r;
}

/* Keep a probe of flow fi (or, reply, its answer) for the pcap dump. The
 * packet's addresses and ports are the flow's; the IP header, which the
 * kernel writes, is rebuilt with its default TTL. */
static void pinger_dump_add(struct pinger *p, uint32_t fi, int reply, uint32_t seq,
			    uint64_t ts_ns, const uint8_t *buf, size_t len, int with_ip)
{
	const struct pflow *f = &p->flows[fi];
	const struct ptarget *t = &p->targets[f->target];
	const struct ptarget_cold *c = &p->tcold[f->target];
	struct dump_pkt d = { .kind = reply ? DUMP_REPLY : DUMP_PROBE,
			      .family = t->fam ? AF_INET6 : AF_INET, .proto = t->kind->proto,
			      .ttl = 64, .tos = t->tos, .flow_sport = f->sport,
			      .flow_proto = t->kind->proto, .seq = seq, .ts_ns = ts_ns,
			      .bytes = buf, .len = len };
	const void *me = t->fam ? (const void *)&c->key.src.v6 : (const void *)&c->key.src.v4;
	const void *them = t->fam ? (const void *)&t->dst.v6.sin6_addr
				  : (const void *)&t->dst.v4.sin_addr;
	size_t alen = t->fam ? 16 : 4;

	d.layer = with_ip ? DUMP_L_IP : t->kind->sock == PROBE_SOCK_PORT ? DUMP_L_PAYLOAD : DUMP_L_L4;
	memcpy(d.flow_target, them, alen);
	memcpy(reply ? d.dst : d.src, me, alen);
	memcpy(reply ? d.src : d.dst, them, alen);
	d.sport = reply ? t->port : f->sport;
	d.dport = reply ? f->sport : t->port;
	dump_ring_add(p->dump, &d);
}

static int fam_idx(int family)
{
	return family == AF_INET6;
}

/* Zeroed array of n (at least 1) elements starting on a cache line. */
static void *cache_calloc(size_t n, size_t size)
{
	size_t bytes = (n ? n : 1) * size;
	void *v;

	bytes = (bytes + 63) & ~(size_t)63;
	v = aligned_alloc(64, bytes);
	if (v)
		memset(v, 0, bytes);
	return v;
}

static void heap_swap(struct pinger *p, size_t a, size_t b)
{
	struct pheap t = p->heap[a];

	p->heap[a] = p->heap[b];
	p->heap[b] = t;
}

static uint64_t heap_key(const struct pinger *p, size_t i)
{
	return p->heap[i].next_ns;
}

static void heap_down(struct pinger *p, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;

		if (l < p->nheap && heap_key(p, l) < heap_key(p, m))
			m = l;
		if (l + 1 < p->nheap && heap_key(p, l + 1) < heap_key(p, m))
			m = l + 1;
		if (m == i)
			return;
		heap_swap(p, i, m);
		i = m;
	}
}

/* Index in p->flows of flow k of target ti. */
static uint32_t target_flow(const struct pinger *p, uint32_t ti, uint32_t k)
{
	const struct ptarget *t = &p->targets[ti];

	return t->grown ? p->tcold[ti].fidx[k] : t->first_flow + k;
}

/* Set up flow k of target ti in slot fi: its source port and packet. */
static void pflow_init(struct pinger *p, uint32_t ti, unsigned k, uint32_t fi)
{
	const struct ptarget_cold *t = &p->tcold[ti];
	struct pflow *f = &p->flows[fi];
	struct probe_flow_key key = t->key;

	f->target = ti;
	f->sport = (uint16_t)(p->cfg.sport_base + k);
	key.sport = f->sport;
	key.flow_id = fi;
	flow_acct_init(&f->acct);
	t->spec.kind->tmpl_init(&f->tmpl, &key);
}

static int pfd_register(struct pinger *p, int fd, const struct probe_ops *kind,
			int family, uint16_t port)
{
	if (fd >= p->fdmap_len) {
		int len = fd + 64;
		struct pfd *m = realloc(p->fdmap, (size_t)len * sizeof(*m));

		if (!m)
			return -1;
		memset(m + p->fdmap_len, 0, (size_t)(len - p->fdmap_len) * sizeof(*m));
		p->fdmap = m;
		p->fdmap_len = len;
	}
	p->fdmap[fd].kind = kind;
	p->fdmap[fd].family = family;
	p->fdmap[fd].port = port;
	{
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
		int rcvbuf = PROBE_RCVBUF;

		/* best effort: without it (rmem_max), replies are read sooner
		 * than they fill the default buffer at all but extreme rates */
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
		return epoll_ctl(p->rx_epfd, EPOLL_CTL_ADD, fd, &ev);
	}
}

/* The kernel's source address towards t, by netlink, else by asking a
 * connected UDP socket (no packet is sent). */
static int target_src_find(struct ptarget_cold *t, struct nl_handle *nl)
{
	const void *dst = t->spec.family == AF_INET
				  ? (const void *)&((struct sockaddr_in *)&t->spec.addr)->sin_addr
				  : (const void *)&((struct sockaddr_in6 *)&t->spec.addr)->sin6_addr;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd, rc;

	if (nl && nl_route_src(nl, t->spec.family, dst, &t->key.src) == 0)
		return 0;
	fd = socket(t->spec.family, SOCK_DGRAM, 0);
	if (fd < 0)
		return -1;
	rc = connect(fd, (struct sockaddr *)&t->spec.addr,
		     t->spec.family == AF_INET ? sizeof(struct sockaddr_in)
					       : sizeof(struct sockaddr_in6));
	if (rc == 0)
		rc = getsockname(fd, (struct sockaddr *)&ss, &sl);
	close(fd);
	if (rc < 0)
		return -1;
	if (t->spec.family == AF_INET)
		memcpy(&t->key.src.v4, &((struct sockaddr_in *)&ss)->sin_addr, 4);
	else
		memcpy(&t->key.src.v6, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
	return 0;
}

/* Sockets of kind ki in family f up to n (flow ports for PROBE_SOCK_PORT,
 * else the one raw socket), registered for reading. */
static int pinger_socks_more(struct pinger *p, unsigned ki, int f, unsigned n)
{
	const struct probe_ops *kind = probe_kinds[ki];
	struct psocks *ps = &p->socks[ki][f];
	int family = f ? AF_INET6 : AF_INET;
	unsigned have = ps->n;

	if (kind->sock != PROBE_SOCK_PORT)
		n = 1;
	if (n <= have)
		return 0;
	if (kind->open(family, (uint16_t)(p->cfg.sport_base + have), n - have,
		       &ps->fd[have]) < 0)
		return -1;
	ps->n = n;
	for (unsigned i = have; i < n; i++)
		if (pfd_register(p, ps->fd[i], kind, family,
				 kind->sock == PROBE_SOCK_PORT ? (uint16_t)(p->cfg.sport_base + i)
							       : 0) < 0)
			return -1;
	return 0;
}

static int pinger_sockets_open(struct pinger *p, char *err, size_t errlen)
{
	unsigned need[PROBE_KINDS_MAX][2] = { { 0 } };

	for (size_t i = 0; i < p->ntargets; i++) {
		const struct target_spec *s = &p->tcold[i].spec;
		unsigned *n = &need[probe_kind_index(s->kind)][fam_idx(s->family)];

		if (s->flows > *n)
			*n = s->flows;
	}
	for (unsigned k = 0; probe_kinds[k]; k++) {
		const struct probe_ops *kind = probe_kinds[k];

		for (int f = 0; f < 2; f++) {
			if (!need[k][f] || pinger_socks_more(p, k, f, need[k][f]) == 0)
				continue;
			if (kind->sock == PROBE_SOCK_PORT)
				snprintf(err, errlen, "%s sockets on ports %u-%u (%s): %s", kind->name,
					 p->cfg.sport_base, p->cfg.sport_base + need[k][f] - 1,
					 f ? "IPv6" : "IPv4", strerror(errno));
			else
				snprintf(err, errlen, "raw %s socket (%s): %s", kind->name,
					 f ? "IPv6" : "IPv4", strerror(errno));
			return -1;
		}
	}
	return 0;
}

struct pinger *pinger_open(const struct pinger_cfg *cfg, const struct target_spec *targets,
			   size_t ntargets, struct nl_handle *nl, char *err, size_t errlen)
{
	struct pinger *p = calloc(1, sizeof(*p));
	double rate_sum = 0, scale = 1;
	uint64_t now = clock_real_ns();
	size_t nflows = 0;

	if (!p)
		goto oom;
	p->cfg = *cfg;
	p->rx_epfd = epoll_create1(EPOLL_CLOEXEC);
	if (p->rx_epfd < 0) {
		snprintf(err, errlen, "epoll: %s", strerror(errno));
		goto err;
	}
	p->rtt.max = PINGER_RTT_SAMPLES_MAX;
	p->targets = cache_calloc(ntargets, sizeof(*p->targets));
	p->tcold = calloc(ntargets ? ntargets : 1, sizeof(*p->tcold));
	p->heap = calloc(ntargets ? ntargets : 1, sizeof(*p->heap));
	if (!p->targets || !p->tcold || !p->heap)
		goto oom;
	p->ntargets = ntargets;
	for (size_t i = 0; i < ntargets; i++) {
		p->tcold[i].spec = targets[i];
		nflows += targets[i].flows;
		rate_sum += targets[i].rate_pps;
	}
	if (nflows > PROBE_FLOWS_MAX) {
		snprintf(err, errlen, "%zu flows in all; at most %u", nflows, PROBE_FLOWS_MAX);
		goto err;
	}
	p->flows = cache_calloc(nflows, sizeof(*p->flows));
	if (!p->flows)
		goto oom;
	p->nflows = nflows;
	if (pinger_sockets_open(p, err, errlen) < 0)
		goto err;
	if (rate_sum > cfg->pps_max)
		scale = cfg->pps_max / rate_sum;
	nflows = 0;
	for (size_t i = 0; i < ntargets; i++) {
		struct ptarget *h = &p->targets[i];
		struct ptarget_cold *t = &p->tcold[i];
		char host[TARGETS_HOST_MAX + 8];
		uint64_t period_ns;

		t->key.family = t->spec.family;
		t->raw_dst = t->spec.addr;
		if (t->spec.family == AF_INET) {
			t->key.dst.v4 = ((struct sockaddr_in *)&t->spec.addr)->sin_addr;
			((struct sockaddr_in *)&t->raw_dst)->sin_port = 0;
		} else {
			t->key.dst.v6 = ((struct sockaddr_in6 *)&t->spec.addr)->sin6_addr;
			((struct sockaddr_in6 *)&t->raw_dst)->sin6_port = 0;
		}
		if (target_src_find(t, nl) < 0) {
			snprintf(host, sizeof(host), "%s", t->spec.host);
			snprintf(err, errlen, "target %s: no route source: %s", host, strerror(errno));
			goto err;
		}
		t->key.dport = t->spec.port;
		t->key.session = cfg->session;
		h->kind = t->spec.kind;
		h->kidx = (uint8_t)probe_kind_index(h->kind);
		h->flows = (uint16_t)t->spec.flows;
		h->port = t->spec.port;
		h->fam = (uint8_t)fam_idx(t->spec.family);
		h->tos = (uint8_t)(t->spec.dscp << 2);
		memcpy(&h->dst, &t->spec.addr, h->fam ? sizeof(h->dst.v6) : sizeof(h->dst.v4));
		h->first_flow = (uint32_t)nflows;
		for (unsigned k = 0; k < t->spec.flows; k++, nflows++)
			pflow_init(p, (uint32_t)i, k, (uint32_t)nflows);
		period_ns = (uint64_t)(1e9 / (t->spec.rate_pps * scale));
		if (!period_ns)
			period_ns = 1;
		/* a random phase, so targets (and a fleet) do not fire in lockstep */
		p->heap[p->nheap].next_ns =
			now + (uint64_t)((double)period_ns * ((double)rand() / RAND_MAX));
		p->heap[p->nheap].period_ns = period_ns;
		p->heap[p->nheap++].target = (uint32_t)i;
	}
	for (size_t i = p->nheap / 2 + 1; i-- > 0;)
		heap_down(p, i);
	return p;
oom:
	snprintf(err, errlen, "out of memory");
err:
	pinger_close(p);
	return NULL;
}

/* Send the queued probes, one sendmmsg per run of the same socket. */
static void pinger_flush(struct pinger *p)
{
	struct pending *order[PINGER_BATCH];
	struct mmsghdr mm[PINGER_BATCH];
	struct iovec iov[PINGER_BATCH];
	size_t i = 0;

	/* group by socket, keeping queue order within one: a stable insertion
	 * sort, as a batch is short and mostly spans few sockets */
	for (size_t k = 0; k < p->npend; k++) {
		struct pending *q = &p->pend[k];
		size_t j = k;

		for (; j > 0 && order[j - 1]->fd > q->fd; j--)
			order[j] = order[j - 1];
		order[j] = q;
	}
	for (size_t k = 0; k < p->npend; k++) {
		struct pending *q = order[k];

		iov[k].iov_base = q->pkt;
		iov[k].iov_len = q->len;
		memset(&mm[k], 0, sizeof(mm[k]));
		mm[k].msg_hdr.msg_name = q->dst;
		mm[k].msg_hdr.msg_namelen = q->dstlen;
		mm[k].msg_hdr.msg_iov = &iov[k];
		mm[k].msg_hdr.msg_iovlen = 1;
		mm[k].msg_hdr.msg_control = q->clen ? q->cbuf : NULL;
		mm[k].msg_hdr.msg_controllen = q->clen;
	}
	while (i < p->npend) {
		size_t j = i;
		int s;

		while (j < p->npend && order[j]->fd == order[i]->fd)
			j++;
		s = sendmmsg(order[i]->fd, mm + i, (unsigned)(j - i), MSG_DONTWAIT);
		if (s <= 0) {
			/* skip the refused one (e.g. no route), keep going */
			p->stats.send_errors++;
			flow_acct_unsent(&p->flows[order[i]->flow].acct);
			i++;
			continue;
		}
		p->stats.sent += (uint64_t)s;
		for (size_t k = i; p->dump && k < i + (size_t)s; k++)
			pinger_dump_add(p, order[k]->flow, 0, order[k]->seq, order[k]->tx_ns,
					order[k]->pkt, order[k]->len, 0);
		i += (size_t)s;
	}
	p->npend = 0;
}

static void pinger_probe_queue(struct pinger *p, uint32_t ti)
{
	struct ptarget *t = &p->targets[ti];
	uint32_t fi = target_flow(p, ti, t->next_flow);
	struct pflow *f = &p->flows[fi];
	struct pending *q = &p->pend[p->npend++];
	int fam = t->fam;
	int tos = t->tos;
	uint32_t seq;

	t->next_flow = t->next_flow + 1 == t->flows ? 0 : t->next_flow + 1;
	t->sent_now++;
	seq = flow_acct_send(&f->acct);
	q->flow = fi;
	q->seq = seq;
	q->tx_ns = clock_real_ns();
	q->len = (uint16_t)t->kind->build(&f->tmpl, seq, q->tx_ns);
	memcpy(q->pkt, f->tmpl.buf, q->len);
	q->dstlen = fam ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	q->clen = 0;
	if (t->kind->sock == PROBE_SOCK_RAW) {
		const struct ptarget_cold *c = &p->tcold[ti];

		memset(q->cbuf, 0, sizeof(q->cbuf));
		q->fd = p->socks[t->kidx][fam].fd[0];
		q->dst = (void *)&c->raw_dst;
		/* the checksum covers the source we chose: make the kernel use it */
		if (fam) {
			struct in6_pktinfo pi = { .ipi6_addr = c->key.src.v6 };

			q->clen = probe_cmsg_put(q->cbuf, q->clen, IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof(pi));
		} else {
			struct in_pktinfo pi = { .ipi_spec_dst = c->key.src.v4 };

			q->clen = probe_cmsg_put(q->cbuf, q->clen, IPPROTO_IP, IP_PKTINFO, &pi, sizeof(pi));
		}
	} else {
		q->fd = p->socks[t->kidx][fam].fd[f->sport - p->cfg.sport_base];
		q->dst = &t->dst;
	}
	if (tos) {
		if (!q->clen)
			memset(q->cbuf, 0, sizeof(q->cbuf));
		if (fam)
			q->clen = probe_cmsg_put(q->cbuf, q->clen, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof(tos));
		else
			q->clen = probe_cmsg_put(q->cbuf, q->clen, IPPROTO_IP, IP_TOS, &tos, sizeof(tos));
	}
	if (p->npend == PINGER_BATCH)
		pinger_flush(p);
}

static int addr_match(const struct ptarget *t, const struct sockaddr_storage *from)
{
	if (t->dst.sa.sa_family != from->ss_family)
		return 0;
	if (from->ss_family == AF_INET)
		return memcmp(&t->dst.v4.sin_addr, &((const struct sockaddr_in *)from)->sin_addr,
			      4) == 0;
	return memcmp(&t->dst.v6.sin6_addr, &((const struct sockaddr_in6 *)from)->sin6_addr,
		      16) == 0;
}

/* Match a parsed reply (flow_id < nflows, ports filled in) to its flow and
 * count it. */
static void pinger_reply_take(struct pinger *p, const struct pfd *pf,
			      const struct sockaddr_storage *from, struct probe_reply r,
			      uint64_t rx_ns, const uint8_t *pkt, size_t len)
{
	struct pflow *f;
	struct ptarget *t;
	struct probe_flow_key key;
	uint64_t rtt_ns;
	uint32_t seq;

	f = &p->flows[r.flow_id];
	t = &p->targets[f->target];
	key.sport = f->sport;
	key.dport = t->port;
	key.session = p->cfg.session;
	if (t->kind != pf->kind || !addr_match(t, from) || !pf->kind->match(&r, &key))
		goto unmatched;
	if (r.tx_bits == 64)
		rtt_ns = rx_ns >= r.tx_ns ? rx_ns - r.tx_ns : 0;
	else
		rtt_ns = (uint32_t)((uint32_t)rx_ns - (uint32_t)r.tx_ns);
	if (rtt_ns > (uint64_t)p->cfg.timeout_ms * 1000000u) {
		p->stats.late++;
		return;
	}
	/* the network's share: the responder's own turnaround taken out */
	if (r.dwell_ns < rtt_ns)
		rtt_ns -= r.dwell_ns;
	seq = flow_acct_seq_widen(&f->acct, r.seq, r.seq_bits);
	if (!flow_acct_reply(&f->acct, seq, r.count)) {
		p->stats.late++;
		return;
	}
	p->stats.replies++;
	t->answered = 1;
	if (p->dump) /* raw IPv4 sockets hand over the IP header too */
		pinger_dump_add(p, r.flow_id, 1, seq, rx_ns, pkt, len,
				pf->kind->sock == PROBE_SOCK_RAW && pf->family == AF_INET);
	rtt_pool_add(&p->rtt, r.flow_id, rtt_ns);
	return;
unmatched:
	p->stats.unmatched++;
}

static void pinger_fd_read(struct pinger *p, int fd)
{
	enum { RXB = 32 };
	static uint8_t bufs[RXB][PROBE_PAYLOAD_MAX];
	_Alignas(struct cmsghdr) static char cbufs[RXB][128];
	struct sockaddr_storage from[RXB];
	struct mmsghdr mm[RXB];
	struct iovec iov[RXB];
	struct probe_reply r[RXB];
	uint8_t ok[RXB];
	const struct pfd *pf;
	int n;

	if (fd < 0 || fd >= p->fdmap_len || !p->fdmap[fd].kind)
		return;
	pf = &p->fdmap[fd];
	for (int i = 0; i < RXB; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = sizeof(bufs[i]);
		memset(&mm[i], 0, sizeof(mm[i]));
		mm[i].msg_hdr.msg_name = &from[i];
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
		mm[i].msg_hdr.msg_control = cbufs[i];
	}
	for (int round = 0; round < 8; round++) {
		/* the kernel shrinks these to what it wrote: restore them */
		for (int i = 0; i < RXB; i++) {
			mm[i].msg_hdr.msg_namelen = sizeof(from[i]);
			mm[i].msg_hdr.msg_controllen = sizeof(cbufs[i]);
		}
		n = recvmmsg(fd, mm, RXB, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		/* parse them all first and fetch their flows' lines, then their
		 * targets', so the cache misses of a batch overlap */
		for (int i = 0; i < n; i++) {
			ok[i] = pf->kind->parse(pf->family, bufs[i], mm[i].msg_len, &r[i]) == 0;
			if (!ok[i] || r[i].flow_id >= p->nflows) {
				ok[i] = 0;
				p->stats.unmatched++;
				continue;
			}
			if (pf->kind->sock == PROBE_SOCK_PORT) {
				/* the kernel's headers are gone: our port is the
				 * socket's, theirs the sender's (sin_port and
				 * sin6_port share an offset) */
				r[i].local_port = pf->port;
				r[i].remote_port =
					ntohs(((const struct sockaddr_in *)&from[i])->sin_port);
			}
			__builtin_prefetch(&p->flows[r[i].flow_id], 1);
		}
		for (int i = 0; i < n; i++)
			if (ok[i])
				__builtin_prefetch(&p->targets[p->flows[r[i].flow_id].target], 1);
		for (int i = 0; i < n; i++) {
			struct msghdr *mh = &mm[i].msg_hdr;
			uint64_t rx_ns = 0;

			if (!ok[i])
				continue;

			for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
				if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
					struct timespec ts;

					memcpy(&ts, CMSG_DATA(c), sizeof(ts));
					rx_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
				}
			}
			if (!rx_ns)
				rx_ns = clock_real_ns();
			pinger_reply_take(p, pf, &from[i], r[i], rx_ns, bufs[i], mm[i].msg_len);
		}
		if (n < RXB)
			return;
	}
}

/* Read every reply waiting on our sockets; one epoll_wait that never sleeps
 * tells which sockets have any. */
static void pinger_rx_drain(struct pinger *p)
{
	struct epoll_event ev[64];
	int n;

	do {
		n = epoll_wait(p->rx_epfd, ev, 64, 0);
		for (int i = 0; i < n; i++)
			pinger_fd_read(p, ev[i].data.fd);
	} while (n == 64);
}

uint64_t pinger_tick(struct pinger *p, uint64_t now_ns)
{
	unsigned budget = PINGER_TICK_MAX;
	uint64_t sent = p->stats.sent, next;

	pinger_rx_drain(p);

	while (p->nheap && budget) {
		uint32_t due[PINGER_PREFETCH];
		unsigned ndue = 0;

		/* take a few due targets off the heap first and fetch their
		 * lines, then their flows' lines, so the cache misses overlap
		 * instead of stalling one probe after another; the send order
		 * is the heap's, as before */
		while (p->nheap && budget && ndue < PINGER_PREFETCH) {
			struct pheap *top = &p->heap[0];

			if (top->next_ns > now_ns + PINGER_COALESCE_NS)
				break;
			due[ndue++] = top->target;
			__builtin_prefetch(&p->targets[top->target], 1);
			budget--;
			top->next_ns += top->period_ns;
			/* after a stall, skip the missed probes rather than burst them */
			if (top->next_ns + top->period_ns < now_ns)
				top->next_ns = now_ns + top->period_ns;
			heap_down(p, 0);
		}
		if (!ndue)
			break;
		for (unsigned i = 0; i < ndue; i++) {
			const struct ptarget *t = &p->targets[due[i]];
			const struct pflow *f = &p->flows[target_flow(p, due[i], t->next_flow)];

			__builtin_prefetch(&f->acct, 1);
			__builtin_prefetch(&f->tmpl, 1);
		}
		for (unsigned i = 0; i < ndue; i++)
			pinger_probe_queue(p, due[i]);
	}
	if (p->npend)
		pinger_flush(p);
	next = p->nheap ? p->heap[0].next_ns : now_ns + 1000000000u;
	if (p->stats.sent != sent && next > now_ns + PINGER_RX_LAG_NS)
		next = now_ns + PINGER_RX_LAG_NS;
	return next;
}

int pinger_interval_close(struct pinger *p, struct wire_batch *b)
{
	struct flow_figures *figs = calloc(p->nflows ? p->nflows : 1, sizeof(*figs));
	struct wire_flow *rf = calloc(p->nflows ? p->nflows : 1, sizeof(*rf));

	pinger_rx_drain(p);
	if (!figs || !rf) {
		free(figs);
		free(rf);
		errno = ENOMEM;
		return -1;
	}
	for (size_t i = 0; i < p->nflows; i++)
		flow_acct_close(&p->flows[i].acct, &figs[i]);
	rtt_pool_close(&p->rtt, figs, p->nflows);
	for (size_t ti = 0; ti < p->ntargets; ti++) {
		struct ptarget *t = &p->targets[ti];
		struct ptarget_cold *c = &p->tcold[ti];

		/* silent: probed this interval and not one answer on any flow */
		if (t->answered)
			c->silent = 0;
		else if (t->sent_now)
			c->silent++;
		t->answered = 0;
		t->sent_now = 0;
		for (unsigned k = 0; k < t->flows; k++) {
			uint32_t fi = target_flow(p, (uint32_t)ti, k);
			struct wire_flow *r = &rf[fi];
			const struct flow_figures *g = &figs[fi];

			addr_set(&r->src, c->spec.family, &c->key.src);
			addr_set(&r->dst, c->spec.family, &c->key.dst);
			r->proto = t->kind->proto;
			r->dscp = c->spec.dscp;
			r->sport = p->flows[fi].sport;
			r->dport = t->port;
			r->sent = g->sent;
			r->received = g->received;
			r->lost_fwd = g->lost_fwd;
			r->lost_rev = g->lost_rev;
			r->rtt_min_ns = g->rtt_min_ns;
			r->rtt_p50_ns = g->rtt_p50_ns;
			r->rtt_p99_ns = g->rtt_p99_ns;
			r->rtt_max_ns = g->rtt_max_ns;
			r->target_down = c->silent >= p->cfg.down_intervals;
		}
	}
	free(figs);
	b->flows = rf;
	b->nflows = (uint32_t)p->nflows;
	return 0;
}

/* Give target ti n flows (n > its count): new source ports, new slots at the
 * end of flows so flows already in flight keep their ids. Its rate stays:
 * the heap's period is per target, spread over however many flows it has. */
static int pinger_target_grow(struct pinger *p, uint32_t ti, unsigned n)
{
	struct ptarget *t = &p->targets[ti];
	struct ptarget_cold *c = &p->tcold[ti];
	unsigned old = t->flows;
	struct pflow *v;

	if (n > TARGETS_FLOWS_MAX || p->nflows + (n - old) > PROBE_FLOWS_MAX) {
		errno = ENOSPC;
		return -1;
	}
	if (pinger_socks_more(p, t->kidx, t->fam, n) < 0)
		return -1;
	if (!c->fidx) {
		c->fidx = malloc(TARGETS_FLOWS_MAX * sizeof(*c->fidx));
		if (!c->fidx)
			return -1;
		for (unsigned k = 0; k < old; k++)
			c->fidx[k] = t->first_flow + k;
	}
	v = cache_calloc(p->nflows + (n - old), sizeof(*v));
	if (!v)
		return -1;
	memcpy(v, p->flows, p->nflows * sizeof(*v));
	free(p->flows);
	p->flows = v;
	for (unsigned k = old; k < n; k++) {
		c->fidx[k] = (uint32_t)p->nflows;
		pflow_init(p, ti, k, (uint32_t)p->nflows++);
	}
	t->grown = 1;
	t->flows = (uint16_t)n;
	c->spec.flows = n;
	return 0;
}

int pinger_coverage_apply(struct pinger *p, size_t flow, unsigned traced, unsigned paths,
			  struct pinger_coverage *out)
{
	uint32_t ti;
	struct ptarget *t;
	struct ptarget_cold *c;
	int max = TARGETS_FLOWS_MAX, want;

	if (flow >= p->nflows) {
		errno = EINVAL;
		return -1;
	}
	ti = p->flows[flow].target;
	t = &p->targets[ti];
	c = &p->tcold[ti];
	memset(out, 0, sizeof(*out));
	out->host = c->spec.host;
	out->kind = c->spec.kind->name;
	out->flows_auto = c->spec.flows_auto;
	out->flows_before = out->flows_after = t->flows;
	if (traced && paths && mda_coverage_assess((int)traced, (int)(paths < traced ? paths : traced),
						   PINGER_MDA_ALPHA, &out->mda) < 0)
		out->mda.paths_seen = (int)paths; /* beyond the rule's table */
	/* all the flows ids allow, less what the other targets use */
	if ((size_t)max > PROBE_FLOWS_MAX - p->nflows + t->flows)
		max = (int)(PROBE_FLOWS_MAX - p->nflows + t->flows);
	want = mda_flows_next((int)traced, (int)paths, !c->spec.flows_auto, t->flows, max,
			      PINGER_MDA_ALPHA);
	out->capped = !out->mda.complete && c->spec.flows_auto && want == max;
	if (want > t->flows) {
		if (pinger_target_grow(p, ti, (unsigned)want) < 0)
			return -1;
		out->flows_after = (unsigned)want;
	}
	return 0;
}

void pinger_stats_get(const struct pinger *p, struct pinger_stats *s)
{
	*s = p->stats;
}

void pinger_close(struct pinger *p)
{
	if (!p)
		return;
	for (unsigned k = 0; k < PROBE_KINDS_MAX; k++)
		for (int f = 0; f < 2; f++)
			for (unsigned i = 0; i < p->socks[k][f].n; i++)
				close(p->socks[k][f].fd[i]);
	if (p->rx_epfd >= 0)
		close(p->rx_epfd);
	rtt_pool_free(&p->rtt);
	free(p->fdmap);
	free(p->flows);
	free(p->heap);
	for (size_t i = 0; p->tcold && i < p->ntargets; i++)
		free(p->tcold[i].fidx);
	free(p->tcold);
	free(p->targets);
	free(p);
}
