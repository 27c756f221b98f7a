/* Responder: reads probes on each answering kind's sockets, rate-limits and
 * counts them per flow; the kind (probe_ops answer_*) parses and builds the
 * answer, this file only moves bytes (schemas/probe.md). */
#include "responder.h"
#include "probe.h"
#include "clock.h"
#include "addr.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RESP_BATCH 32
#define RESP_SETS 4096 /* counter table: RESP_SETS x RESP_WAYS flows */
#define RESP_WAYS 4
#define RESP_BUCKETS 4096 /* per-source buckets: RESP_BUCKETS / RESP_RATE_WAYS sets */
#define RESP_RATE_WAYS 4
#define RESP_FD_MAX (PROBE_KINDS_MAX * 2 * PROBE_ANSWER_FDS_MAX)

struct resp_count {
	uint8_t addr[16];
	uint16_t sport;
	uint8_t proto;
	uint8_t used;
	uint32_t flow_id, session;
	uint32_t count;
	int64_t seen_ms;
};

struct resp_bucket {
	uint8_t addr[16];
	uint8_t used;
	double tokens;
	int64_t refill_ms; /* tokens are as of this time */
	int64_t last_ms;   /* last probe from addr (for eviction) */
};

struct responder {
	struct responder_cfg cfg;
	struct {
		int fd;
		int family;
		uint16_t port;                /* the kind's port, host order */
		const struct probe_ops *kind; /* NULL: held open, never read */
	} fds[RESP_FD_MAX];
	size_t nfds;
	struct resp_count *counts;     /* RESP_SETS * RESP_WAYS */
	struct resp_bucket *buckets;   /* RESP_BUCKETS */
	struct resp_bucket global;     /* every source together */
	struct responder_stats stats;
};

static uint32_t hash_mix(const uint8_t *p, size_t n, uint32_t h)
{
	/* FNV-1a: keys are attacker-chosen addresses, but a collision costs only
	 * a shared bucket or an evicted counter, never memory */
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

uint32_t responder_count_bump(struct responder *r, const uint8_t addr[16],
			      uint16_t sport, uint8_t proto, uint32_t flow_id,
			      uint32_t session, int64_t now_ms)
{
	uint32_t h = hash_mix(addr, 16, 2166136261u);
	struct resp_count *set, *victim;

	h = hash_mix((const uint8_t *)&sport, 2, h);
	h = hash_mix((const uint8_t *)&flow_id, 4, h);
	h = hash_mix((const uint8_t *)&session, 4, h);
	set = &r->counts[(h % RESP_SETS) * RESP_WAYS];
	victim = &set[0];
	for (int i = 0; i < RESP_WAYS; i++) {
		struct resp_count *c = &set[i];

		if (c->used && c->sport == sport && c->proto == proto &&
		    c->flow_id == flow_id && c->session == session &&
		    memcmp(c->addr, addr, 16) == 0) {
			c->seen_ms = now_ms;
			return ++c->count;
		}
		if (!c->used || (victim->used && c->seen_ms < victim->seen_ms))
			victim = c;
	}
	/* evict the least recently seen flow of the set: its prober sees a
	 * count restart, which it treats as "no reverse evidence" */
	memcpy(victim->addr, addr, 16);
	victim->sport = sport;
	victim->proto = proto;
	victim->flow_id = flow_id;
	victim->session = session;
	victim->used = 1;
	victim->seen_ms = now_ms;
	victim->count = 1;
	return 1;
}

/* Add the credit of the time since the bucket's last refill, capped at
 * burst; a clock that went back adds nothing. */
static void bucket_refill(struct resp_bucket *b, int64_t now_ms, double rate_pps, double burst)
{
	if (now_ms > b->refill_ms) {
		b->tokens += (double)(now_ms - b->refill_ms) * rate_pps / 1000.0;
		if (b->tokens > burst)
			b->tokens = burst;
		b->refill_ms = now_ms;
	}
}

/* The source's bucket: its own slot in its set, or the least recently used
 * slot taken over with the tokens it holds (an unused slot starts full). */
static struct resp_bucket *bucket_find(struct responder *r, const uint8_t addr[16], int64_t now_ms)
{
	struct resp_bucket *set, *victim;
	uint32_t h = hash_mix(addr, 16, 2166136261u);

	set = &r->buckets[(h % (RESP_BUCKETS / RESP_RATE_WAYS)) * RESP_RATE_WAYS];
	victim = &set[0];
	for (int i = 0; i < RESP_RATE_WAYS; i++) {
		if (set[i].used && memcmp(set[i].addr, addr, 16) == 0)
			return &set[i];
		if (!set[i].used || (victim->used && set[i].last_ms < victim->last_ms))
			victim = &set[i];
	}
	if (!victim->used) {
		victim->used = 1;
		victim->tokens = r->cfg.burst;
		victim->refill_ms = now_ms;
	}
	/* a taken-over slot keeps its tokens: a new address is no reason for
	 * a fresh burst (that was the bypass: two sources sharing a slot
	 * reset it to full on every alternation) */
	memcpy(victim->addr, addr, 16);
	return victim;
}

int responder_rate_allow(struct responder *r, const uint8_t addr[16], int64_t now_ms)
{
	struct resp_bucket *b = bucket_find(r, addr, now_ms);
	struct resp_bucket *g = &r->global;

	if (!g->used) { /* the first probe starts the clock, with a full burst */
		g->used = 1;
		g->tokens = r->cfg.global_burst;
		g->refill_ms = now_ms;
	}
	b->last_ms = now_ms;
	bucket_refill(b, now_ms, r->cfg.rate_pps, r->cfg.burst);
	bucket_refill(g, now_ms, r->cfg.global_rate_pps, r->cfg.global_burst);
	if (b->tokens < 1.0) {
		r->stats.rate_limited++;
		return 0;
	}
	if (g->tokens < 1.0) {
		r->stats.global_limited++;
		return 0;
	}
	b->tokens -= 1.0;
	g->tokens -= 1.0;
	return 1;
}

struct responder *responder_new_detached(const struct responder_cfg *cfg)
{
	struct responder *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->cfg = *cfg;
	if (r->cfg.global_rate_pps <= 0)
		r->cfg.global_rate_pps = RESPONDER_GLOBAL_RATE_PPS_DEFAULT;
	if (r->cfg.global_burst <= 0)
		r->cfg.global_burst = RESPONDER_GLOBAL_BURST_DEFAULT;
	r->counts = calloc(RESP_SETS * RESP_WAYS, sizeof(*r->counts));
	r->buckets = calloc(RESP_BUCKETS, sizeof(*r->buckets));
	if (!r->counts || !r->buckets) {
		responder_close(r);
		return NULL;
	}
	return r;
}

/* Open kind's answering sockets for family: the first is read, the rest
 * (kind NULL in the table) only held open. */
static int resp_kind_open(struct responder *r, const struct probe_ops *kind, int family,
			  uint16_t port)
{
	int fds[PROBE_ANSWER_FDS_MAX];
	int n = kind->answer_open(family, port, fds);

	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		int rcvbuf = PROBE_RCVBUF;

		/* every prober's probes to this host queue here: best effort, as
		 * the pinger's (probe.h) */
		(void)setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
		r->fds[r->nfds].fd = fds[i];
		r->fds[r->nfds].family = family;
		r->fds[r->nfds].port = port;
		r->fds[r->nfds].kind = i == 0 ? kind : NULL;
		r->nfds++;
	}
	return 0;
}

struct responder *responder_open(const struct responder_cfg *cfg, char *err, size_t errlen)
{
	struct responder *r = responder_new_detached(cfg);
	int fams[2] = { AF_INET, AF_INET6 };

	if (!r) {
		snprintf(err, errlen, "responder: out of memory");
		return NULL;
	}
	for (int i = 0; i < (cfg->ipv6 ? 2 : 1); i++) {
		size_t opened = r->nfds;

		for (unsigned k = 0; probe_kinds[k]; k++) {
			const struct probe_ops *kind = probe_kinds[k];
			uint16_t port = cfg->port[k];

			if (!kind->answer_open || !port)
				continue;
			if (resp_kind_open(r, kind, fams[i], port) == 0)
				continue;
			/* a kernel without IPv6: answer IPv4 only */
			if (fams[i] == AF_INET6 && errno == EAFNOSUPPORT && r->nfds == opened)
				break;
			snprintf(err, errlen, "responder: %s socket (%s, port %u): %s", kind->name,
				 fams[i] == AF_INET ? "IPv4" : "IPv6", port, strerror(errno));
			responder_close(r);
			return NULL;
		}
	}
	return r;
}

size_t responder_fds(const struct responder *r, int *fds, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < r->nfds && n < max; i++)
		if (r->fds[i].kind)
			fds[n++] = r->fds[i].fd;
	return n;
}

struct resp_rx {
	uint8_t buf[PROBE_PAYLOAD_MAX];
	struct sockaddr_storage from;
	_Alignas(struct cmsghdr) char cbuf[256];
	uint64_t rx_ns;
	int tos;
	int have_dst;
	union {
		struct in_pktinfo v4;
		struct in6_pktinfo v6;
	} dst;
};

static void resp_cmsg_read(struct msghdr *mh, struct resp_rx *rx)
{
	rx->rx_ns = 0;
	rx->tos = -1;
	rx->have_dst = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
			struct timespec ts;

			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			rx->rx_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
		} else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS) {
			rx->tos = *(uint8_t *)CMSG_DATA(c);
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS) {
			int tc;

			memcpy(&tc, CMSG_DATA(c), sizeof(tc));
			rx->tos = tc;
		} else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			memcpy(&rx->dst.v4, CMSG_DATA(c), sizeof(rx->dst.v4));
			rx->have_dst = 1;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			memcpy(&rx->dst.v6, CMSG_DATA(c), sizeof(rx->dst.v6));
			rx->have_dst = 1;
		}
	}
	if (!rx->rx_ns)
		rx->rx_ns = clock_real_ns();
}

/* Ancillary data for a reply: send from the address the probe came to, in
 * the class it came in. Returns the control length written. */
static size_t resp_cmsg_write(int family, const struct resp_rx *rx, char *cbuf, size_t cap)
{
	size_t len = 0;

	memset(cbuf, 0, cap);
	if (rx->have_dst) {
		if (family == AF_INET) {
			struct in_pktinfo pi = { .ipi_spec_dst = rx->dst.v4.ipi_addr };

			len = probe_cmsg_put(cbuf, len, IPPROTO_IP, IP_PKTINFO, &pi, sizeof(pi));
		} else {
			struct in6_pktinfo pi = { .ipi6_addr = rx->dst.v6.ipi6_addr };

			len = probe_cmsg_put(cbuf, len, IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof(pi));
		}
	}
	if (rx->tos >= 0) {
		int tc = rx->tos;
		uint8_t tos = (uint8_t)tc;

		if (family == AF_INET)
			len = probe_cmsg_put(cbuf, len, IPPROTO_IP, IP_TOS, &tos, 1);
		else
			len = probe_cmsg_put(cbuf, len, IPPROTO_IPV6, IPV6_TCLASS, &tc, sizeof(tc));
	}
	return len;
}

static int64_t ms_of_ns(uint64_t ns)
{
	return (int64_t)(ns / 1000000u);
}

/* The answer's flow back to the prober: from the address and port the probe
 * came to, to its sender. */
static void resp_back_key(struct probe_flow_key *back, int family, const struct resp_rx *rx,
			  uint16_t port, uint16_t sport)
{
	memset(back, 0, sizeof(*back));
	back->family = family;
	if (family == AF_INET) {
		back->dst.v4 = ((const struct sockaddr_in *)&rx->from)->sin_addr;
		if (rx->have_dst)
			back->src.v4 = rx->dst.v4.ipi_addr;
	} else {
		back->dst.v6 = ((const struct sockaddr_in6 *)&rx->from)->sin6_addr;
		if (rx->have_dst)
			back->src.v6 = rx->dst.v6.ipi6_addr;
	}
	back->sport = port;
	back->dport = sport;
}

/* PROBE_SOCK_PORT kinds: batches in and out; the kernel writes the headers,
 * the answer goes back to the sender from the address the probe came to. */
static void resp_port_ready(struct responder *r, int fd, int family, uint16_t port,
			    const struct probe_ops *kind)
{
	static struct resp_rx rx[RESP_BATCH];
	struct mmsghdr in[RESP_BATCH], out[RESP_BATCH];
	struct iovec iv[RESP_BATCH], ov[RESP_BATCH];
	_Alignas(struct cmsghdr) char ocbuf[RESP_BATCH][128];
	int n, nout = 0;

	for (int i = 0; i < RESP_BATCH; i++) {
		iv[i].iov_base = rx[i].buf;
		iv[i].iov_len = sizeof(rx[i].buf);
		memset(&in[i], 0, sizeof(in[i]));
		in[i].msg_hdr.msg_iov = &iv[i];
		in[i].msg_hdr.msg_iovlen = 1;
		in[i].msg_hdr.msg_name = &rx[i].from;
		in[i].msg_hdr.msg_namelen = sizeof(rx[i].from);
		in[i].msg_hdr.msg_control = rx[i].cbuf;
		in[i].msg_hdr.msg_controllen = sizeof(rx[i].cbuf);
	}
	n = recvmmsg(fd, in, RESP_BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return;
	for (int i = 0; i < n; i++) {
		struct probe_answer a;
		struct probe_flow_key back;
		struct wire_addr from;
		uint32_t count;
		size_t len = in[i].msg_len;

		resp_cmsg_read(&in[i].msg_hdr, &rx[i]);
		/* a datagram longer than the buffer arrives truncated: echo only
		 * what we hold, never more than was received */
		if ((in[i].msg_hdr.msg_flags & MSG_TRUNC) && len > sizeof(rx[i].buf))
			len = sizeof(rx[i].buf);
		if (kind->answer_parse(family, rx[i].buf, len, &a) < 0) {
			if (errno == EBADMSG)
				r->stats.malformed++;
			continue;
		}
		addr_from_sockaddr(&from, &rx[i].from);
		if (!responder_rate_allow(r, from.bytes, ms_of_ns(rx[i].rx_ns)))
			continue; /* counted by the limiter */
		a.sport = family == AF_INET6 ?
			ntohs(((struct sockaddr_in6 *)&rx[i].from)->sin6_port) :
			ntohs(((struct sockaddr_in *)&rx[i].from)->sin_port);
		count = responder_count_bump(r, from.bytes, a.sport, kind->proto, a.flow_id,
					     a.session, ms_of_ns(rx[i].rx_ns));
		resp_back_key(&back, family, &rx[i], port, a.sport);
		ov[nout].iov_base = rx[i].buf;
		ov[nout].iov_len = kind->answer_build(&a, &back, count, rx[i].rx_ns, clock_real_ns(),
						      rx[i].buf, sizeof(rx[i].buf));
		memset(&out[nout], 0, sizeof(out[nout]));
		out[nout].msg_hdr.msg_iov = &ov[nout];
		out[nout].msg_hdr.msg_iovlen = 1;
		out[nout].msg_hdr.msg_name = &rx[i].from;
		out[nout].msg_hdr.msg_namelen = in[i].msg_hdr.msg_namelen;
		out[nout].msg_hdr.msg_control = ocbuf[nout];
		out[nout].msg_hdr.msg_controllen =
			resp_cmsg_write(family, &rx[i], ocbuf[nout], sizeof(ocbuf[nout]));
		if (!out[nout].msg_hdr.msg_controllen)
			out[nout].msg_hdr.msg_control = NULL;
		nout++;
	}
	for (int done = 0; done < nout;) {
		int s = sendmmsg(fd, out + done, (unsigned)(nout - done), MSG_DONTWAIT);

		if (s <= 0) {
			/* skip the message the kernel refused, keep the rest */
			r->stats.send_errors++;
			done++;
			continue;
		}
		r->stats.answered += (uint64_t)s;
		done += s;
	}
}

/* PROBE_SOCK_RAW kinds: the kind writes the L4 header, the kernel the IP
 * one; IPv4 input carries the IP header (addresses and TOS), IPv6 input
 * has them in ancillary data. */
static void resp_raw_ready(struct responder *r, int fd, int family, const struct probe_ops *kind)
{
	for (int k = 0; k < RESP_BATCH; k++) {
		struct resp_rx rx;
		struct iovec iv = { rx.buf, sizeof(rx.buf) };
		struct msghdr mh = { .msg_name = &rx.from, .msg_namelen = sizeof(rx.from),
				     .msg_iov = &iv, .msg_iovlen = 1,
				     .msg_control = rx.cbuf, .msg_controllen = sizeof(rx.cbuf) };
		struct probe_flow_key back = { .family = family };
		struct sockaddr_storage to;
		struct probe_answer a;
		struct wire_addr from;
		uint32_t count;
		_Alignas(struct cmsghdr) char cbuf[128];
		ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);

		if (n < 0)
			return;
		resp_cmsg_read(&mh, &rx);
		if (kind->answer_parse(family, rx.buf, (size_t)n, &a) < 0) {
			if (errno == EBADMSG)
				r->stats.malformed++;
			continue;
		}
		memset(&to, 0, sizeof(to));
		if (family == AF_INET) {
			struct sockaddr_in *t4 = (struct sockaddr_in *)&to;

			if (n < 20)
				continue;
			memcpy(&back.src.v4, rx.buf + 16, 4);
			memcpy(&back.dst.v4, rx.buf + 12, 4);
			t4->sin_family = AF_INET;
			t4->sin_addr = back.dst.v4;
			rx.tos = rx.buf[1];
			rx.have_dst = 1;
			memset(&rx.dst.v4, 0, sizeof(rx.dst.v4));
			rx.dst.v4.ipi_addr = back.src.v4;
		} else {
			struct sockaddr_in6 *t6 = (struct sockaddr_in6 *)&to;

			if (!rx.have_dst)
				continue;
			back.src.v6 = rx.dst.v6.ipi6_addr;
			back.dst.v6 = ((struct sockaddr_in6 *)&rx.from)->sin6_addr;
			t6->sin6_family = AF_INET6;
			t6->sin6_addr = back.dst.v6;
		}
		addr_from_sockaddr(&from, &rx.from);
		if (!responder_rate_allow(r, from.bytes, ms_of_ns(rx.rx_ns)))
			continue; /* counted by the limiter */
		back.sport = a.dport;
		back.dport = a.sport;
		count = responder_count_bump(r, from.bytes, a.sport, kind->proto, a.flow_id,
					     a.session, ms_of_ns(rx.rx_ns));
		iv.iov_len = kind->answer_build(&a, &back, count, rx.rx_ns, clock_real_ns(), rx.buf,
						sizeof(rx.buf));
		mh.msg_name = &to;
		mh.msg_namelen = family == AF_INET ? sizeof(struct sockaddr_in)
						   : sizeof(struct sockaddr_in6);
		mh.msg_control = cbuf;
		mh.msg_controllen = resp_cmsg_write(family, &rx, cbuf, sizeof(cbuf));
		if (!mh.msg_controllen)
			mh.msg_control = NULL;
		mh.msg_flags = 0;
		if (sendmsg(fd, &mh, MSG_DONTWAIT) < 0)
			r->stats.send_errors++;
		else
			r->stats.answered++;
	}
}

void responder_fd_ready(struct responder *r, int fd)
{
	for (size_t i = 0; i < r->nfds; i++) {
		const struct probe_ops *kind = r->fds[i].kind;

		if (r->fds[i].fd != fd)
			continue;
		if (kind && kind->sock == PROBE_SOCK_PORT)
			resp_port_ready(r, fd, r->fds[i].family, r->fds[i].port, kind);
		else if (kind)
			resp_raw_ready(r, fd, r->fds[i].family, kind);
		return;
	}
}

void responder_stats_get(const struct responder *r, struct responder_stats *s)
{
	*s = r->stats;
}

void responder_close(struct responder *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nfds; i++)
		close(r->fds[i].fd);
	free(r->counts);
	free(r->buckets);
	free(r);
}
