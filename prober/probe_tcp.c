/* TCP SYN probe kind: the prober builds the TCP header (the kernel adds IP),
 * the identity rides in the seq number and the timestamp option, which ECMP
 * hashes ignore; replies are the responder's marked RST|ACK (schemas/probe.md).
 * Trace probes are bare SYNs named by their seq, which an answer acks. */
#include "probe.h"
#include "bytes.h"
#include "icmp_quote.h"

#include <errno.h>
#include <linux/filter.h>
#include <netinet/ip.h>
#include <string.h>
#include <unistd.h>

#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define TCP_FLAG_ACK 0x10

/* Pseudo-header sum of a len-byte segment of flow k. */
static uint32_t tcp_pseudo_sum(const struct probe_flow_key *k, uint32_t len)
{
	return probe_pseudo_sum(k->family, &k->src, &k->dst, IPPROTO_TCP, len);
}

/* Header with everything but seq, ack, tsval, tsecr, checksum. */
static void tcp_hdr_write(uint8_t *p, uint16_t sport, uint16_t dport,
			  uint8_t flags, uint16_t window)
{
	memset(p, 0, PROBE_TCP_LEN);
	bytes_be16_put(p, sport);
	bytes_be16_put(p + 2, dport);
	p[12] = (PROBE_TCP_LEN / 4) << 4;
	p[13] = flags;
	bytes_be16_put(p + 14, window);
	/* NOP NOP TS: the 4-byte-aligned layout every stack sends */
	p[20] = 1;
	p[21] = 1;
	p[22] = 8;
	p[23] = 10;
}

/* Classic BPF for the receive socket, so the raw socket does not copy every
 * TCP segment of the host to us: pass only RST|ACK segments whose window
 * carries the faultmesh mark. */
static int tcp_filter_attach(int fd, int family)
{
	struct sock_filter code[] = {
		probe_bpf_l4_x(family),
		BPF_STMT(BPF_LD | BPF_B | BPF_IND, 13),           /* TCP flags */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TCP_FLAG_RST | TCP_FLAG_ACK, 0, 3),
		BPF_STMT(BPF_LD | BPF_H | BPF_IND, 14),           /* window */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PROBE_TCP_WINDOW_MARK, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};

	return probe_bpf_attach(fd, code, sizeof(code) / sizeof(code[0]));
}

static int tcp_open(int family, uint16_t sport_base, unsigned nsocks, int *fds)
{
	int fd = socket(family, SOCK_RAW, IPPROTO_TCP);

	(void)sport_base;
	(void)nsocks;
	if (fd < 0)
		return -1;
	if (probe_sock_prepare(fd) < 0 || tcp_filter_attach(fd, family) < 0)
		return probe_sock_close_err(fd);
	fds[0] = fd;
	return 1;
}

static void tcp_tmpl_init(struct probe_tmpl *t, const struct probe_flow_key *key)
{
	tcp_hdr_write(t->buf, key->sport, key->dport, TCP_FLAG_SYN, 65535);
	t->len = PROBE_TCP_LEN;
	/* TSecr carries the session: a responder's reply echoes it, so replies
	 * to other SYNs on the same ports (a path trace's) are told apart */
	bytes_be32_put(t->buf + 28, key->session);
	t->sum = probe_csum_add(tcp_pseudo_sum(key, PROBE_TCP_LEN), t->buf, PROBE_TCP_LEN);
	/* the flow id is constant: the seq number's top half */
	bytes_be16_put(t->buf + 4, (uint16_t)key->flow_id);
	t->sum += (uint16_t)key->flow_id;
}

static size_t tcp_build(struct probe_tmpl *t, uint32_t seq, uint64_t tx_ns)
{
	uint32_t sum = t->sum;
	uint32_t tsval = (uint32_t)tx_ns;

	bytes_be16_put(t->buf + 6, (uint16_t)seq);
	bytes_be32_put(t->buf + 24, tsval);
	sum += (uint16_t)seq + (tsval >> 16) + (tsval & 0xffff);
	bytes_be16_put(t->buf + 16, probe_csum_fold(sum));
	return t->len;
}

/* Find the TCP header (skipping IPv4's) and the TS option; -1 if malformed. */
static const uint8_t *tcp_seg_find(int family, const uint8_t *pkt, size_t len,
				   size_t *seglen)
{
	if (family == AF_INET) {
		size_t ihl;

		if (len < 20 || (pkt[0] >> 4) != 4 || pkt[9] != IPPROTO_TCP)
			return NULL;
		ihl = (size_t)(pkt[0] & 0xf) * 4;
		if (ihl < 20 || len < ihl)
			return NULL;
		pkt += ihl;
		len -= ihl;
	}
	if (len < 20 || (size_t)(pkt[12] >> 4) * 4 < 20 || (size_t)(pkt[12] >> 4) * 4 > len)
		return NULL;
	*seglen = (size_t)(pkt[12] >> 4) * 4;
	return pkt;
}

static int tcp_ts_find(const uint8_t *seg, size_t hlen, uint32_t *tsval, uint32_t *tsecr)
{
	size_t i = 20;

	while (i < hlen) {
		uint8_t kind = seg[i];

		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 1 >= hlen || seg[i + 1] < 2 || i + seg[i + 1] > hlen)
			break;
		if (kind == 8 && seg[i + 1] == 10) {
			*tsval = bytes_be32_get(seg + i + 2);
			*tsecr = bytes_be32_get(seg + i + 6);
			return 0;
		}
		i += seg[i + 1];
	}
	return -1;
}

static int tcp_parse(int family, const uint8_t *pkt, size_t len, struct probe_reply *r)
{
	size_t hlen;
	const uint8_t *seg = tcp_seg_find(family, pkt, len, &hlen);
	uint32_t tsval, tsecr, ack;

	if (!seg || seg[13] != (TCP_FLAG_RST | TCP_FLAG_ACK) ||
	    bytes_be16_get(seg + 14) != PROBE_TCP_WINDOW_MARK ||
	    tcp_ts_find(seg, hlen, &tsval, &tsecr) < 0)
		return -1;
	memset(r, 0, sizeof(*r));
	ack = bytes_be32_get(seg + 8) - 1; /* the probe's seq: flow id << 16 | seq */
	r->flow_id = ack >> 16;
	r->seq = ack & 0xffff;
	r->seq_bits = 16;
	r->count = bytes_be32_get(seg + 4);
	r->session = tsval; /* the probe's TSecr, echoed */
	r->tx_ns = tsecr;
	r->tx_bits = 32;
	r->remote_port = bytes_be16_get(seg);
	r->local_port = bytes_be16_get(seg + 2);
	return 0;
}

int probe_tcp_syn_parse(int family, const uint8_t *pkt, size_t len,
			uint16_t *sport, uint16_t *dport, uint32_t *seq,
			uint32_t *tsval, uint32_t *tsecr)
{
	size_t hlen;
	const uint8_t *seg = tcp_seg_find(family, pkt, len, &hlen);

	/* a plain SYN (ECN bits allowed); ACK, RST or FIN set is not a probe */
	if (!seg || (seg[13] & 0x3f) != TCP_FLAG_SYN)
		return -1;
	*sport = bytes_be16_get(seg);
	*dport = bytes_be16_get(seg + 2);
	*seq = bytes_be32_get(seg + 4);
	if (tcp_ts_find(seg, hlen, tsval, tsecr) < 0)
		*tsval = *tsecr = 0;
	return 0;
}

void probe_tcp_reply_build(const struct probe_flow_key *back, uint32_t count,
			   uint32_t ack, uint32_t tsval, uint32_t tsecr,
			   uint8_t *out)
{
	uint32_t sum;

	tcp_hdr_write(out, back->sport, back->dport, TCP_FLAG_RST | TCP_FLAG_ACK,
		      PROBE_TCP_WINDOW_MARK);
	bytes_be32_put(out + 4, count);
	bytes_be32_put(out + 8, ack);
	bytes_be32_put(out + 24, tsval);
	bytes_be32_put(out + 28, tsecr);
	sum = probe_csum_add(tcp_pseudo_sum(back, PROBE_TCP_LEN), out, PROBE_TCP_LEN);
	bytes_be16_put(out + 16, probe_csum_fold(sum));
}

void probe_tcp_reply_bare_build(const struct probe_flow_key *back, uint32_t count,
				uint32_t ack, uint8_t *out)
{
	uint32_t sum;

	tcp_hdr_write(out, back->sport, back->dport, TCP_FLAG_RST | TCP_FLAG_ACK,
		      PROBE_TCP_WINDOW_MARK);
	out[12] = (PROBE_TCP_BARE_LEN / 4) << 4; /* no options */
	memset(out + 20, 0, PROBE_TCP_LEN - 20);
	bytes_be32_put(out + 4, count);
	bytes_be32_put(out + 8, ack);
	/* the pseudo header counts the shorter length */
	sum = probe_csum_add(tcp_pseudo_sum(back, PROBE_TCP_BARE_LEN), out, PROBE_TCP_BARE_LEN);
	bytes_be16_put(out + 16, probe_csum_fold(sum));
}

/* A bare SYN (no options: the answer, a SYN-ACK or RST, is no larger) whose
 * seq names the exact probe: id in the high 16 bits, then TTL and try. */
static int tcp_trace_build(const struct probe_flow_key *k, const struct probe_trace_cfg *c,
			   uint16_t id, uint8_t ttl, uint8_t try, uint8_t *l4, size_t cap,
			   struct probe_trace_tag *tag)
{
	uint32_t seq = (uint32_t)id << 16 | (uint32_t)ttl << 8 | try;

	(void)c;
	if (cap < PROBE_TCP_BARE_LEN) {
		errno = ENOSPC;
		return -1;
	}
	memset(l4, 0, PROBE_TCP_BARE_LEN);
	bytes_be16_put(l4, k->sport);
	bytes_be16_put(l4 + 2, k->dport);
	bytes_be32_put(l4 + 4, seq);
	l4[12] = (PROBE_TCP_BARE_LEN / 4) << 4;
	l4[13] = TCP_FLAG_SYN;
	bytes_be16_put(l4 + 14, 65535);
	bytes_be16_put(l4 + 16, probe_csum_fold(probe_csum_add(
					tcp_pseudo_sum(k, PROBE_TCP_BARE_LEN), l4, PROBE_TCP_BARE_LEN)));
	tag->id = id;
	tag->quoted = seq;
	tag->echoed = seq;
	return PROBE_TCP_BARE_LEN;
}

static int tcp_trace_quote_match(const struct icmp_quote *q, const struct probe_trace_tag *tag)
{
	return q->tcp_seq == tag->quoted;
}

static int tcp_trace_answer_match(const uint8_t *l4, size_t len, const struct probe_trace_cfg *c,
				  const struct probe_trace_tag *tag)
{
	(void)c;
	/* a SYN-ACK or RST-ACK to our SYN: ack = our seq + 1 */
	return len >= 20 && (l4[13] & TCP_FLAG_ACK) && (l4[13] & (TCP_FLAG_SYN | TCP_FLAG_RST)) &&
	       bytes_be32_get(l4 + 8) - 1 == tag->echoed;
}

static int tcp_trace_answers(const struct probe_trace_cfg *c)
{
	(void)c;
	return 1; /* the filter keeps a SYN's answers only: cheap to watch */
}

/* Only segments with ACK and SYN or RST (a SYN's answers). */
static int tcp_trace_bpf_filter(int fd, int family, const struct probe_trace_cfg *c)
{
	struct sock_filter code[] = {
		probe_bpf_l4_x(family),
		BPF_STMT(BPF_LD | BPF_B | BPF_IND, 13),   /* TCP flags */
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, TCP_FLAG_ACK, 0, 2),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, TCP_FLAG_SYN | TCP_FLAG_RST, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};

	(void)c;
	return probe_bpf_attach(fd, code, sizeof(code) / sizeof(code[0]));
}

/* A listener whose socket filter drops everything: SYNs to the port find a
 * listening socket (so the kernel sends no RST) but are discarded before
 * the kernel would answer SYN-ACK or keep a request socket. */
static int tcp_mute_open(int family, uint16_t port)
{
	static const struct sock_filter drop[] = { BPF_STMT(BPF_RET | BPF_K, 0) };
	int one = 1;
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    probe_bpf_attach(fd, drop, 1) < 0 || probe_sock_bind_any(fd, family, port) < 0 ||
	    listen(fd, 1) < 0)
		return probe_sock_close_err(fd);
	return fd;
}

/* Raw TCP socket seeing only SYNs to port (ACK/RST/FIN clear). */
static int tcp_answer_raw_open(int family, uint16_t port)
{
	struct sock_filter code[] = {
		probe_bpf_l4_x(family),
		BPF_STMT(BPF_LD | BPF_H | BPF_IND, 2), /* destination port */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, port, 0, 4),
		BPF_STMT(BPF_LD | BPF_B | BPF_IND, 13), /* flags */
		BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0x17),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x02, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	int one = 1;
	int fd = socket(family, SOCK_RAW, IPPROTO_TCP);
	int rc;

	if (fd < 0)
		return -1;
	rc = probe_bpf_attach(fd, code, sizeof(code) / sizeof(code[0])) < 0;
	if (family == AF_INET6)
		rc = rc || setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) < 0 ||
		     setsockopt(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, &one, sizeof(one)) < 0;
	if (rc || probe_sock_prepare(fd) < 0)
		return probe_sock_close_err(fd);
	return fd;
}

/* The raw socket the SYNs are read from, then the muted listener that keeps
 * the kernel from answering them too (schemas/probe.md, "TCP without
 * half-open state"). */
static int tcp_answer_open(int family, uint16_t port, int *fds)
{
	fds[0] = tcp_answer_raw_open(family, port);
	if (fds[0] < 0)
		return -1;
	fds[1] = tcp_mute_open(family, port);
	if (fds[1] < 0)
		return probe_sock_close_err(fds[0]);
	return 2;
}

static int tcp_answer_parse(int family, const uint8_t *pkt, size_t len, struct probe_answer *a)
{
	uint32_t tsval, tsecr;
	size_t seg_len;

	memset(a, 0, sizeof(*a));
	if (probe_tcp_syn_parse(family, pkt, len, &a->sport, &a->dport, &a->seq, &tsval,
				&tsecr) < 0) {
		errno = ENOMSG; /* not a SYN: the raw socket's other traffic */
		return -1;
	}
	/* a reply is never larger than its probe (no amplification): a SYN
	 * too short for our RST|ACK with the timestamp option (a tracer's SYN
	 * has none) gets it without options, and one too short even for that
	 * gets nothing */
	seg_len = family == AF_INET ? len - (size_t)(pkt[0] & 0xf) * 4 : len;
	if ((family == AF_INET && (size_t)(pkt[0] & 0xf) * 4 < 20) ||
	    seg_len < PROBE_TCP_BARE_LEN) {
		errno = EBADMSG;
		return -1;
	}
	/* the flow id rides in the seq number's top 16 bits, the session in
	 * TSecr, the send time's low 32 bits in TSval */
	a->flow_id = a->seq >> 16;
	a->session = tsecr;
	a->tx_ns = tsval;
	a->len = seg_len;
	return 0;
}

/* RST|ACK acking the SYN, its seq the count; with the timestamp option
 * (TSval = the probe's TSecr, TSecr = its TSval) when the SYN had room. */
static size_t tcp_answer_build(const struct probe_answer *a, const struct probe_flow_key *back,
			       uint32_t count, uint64_t rx_ns, uint64_t rtx_ns, uint8_t *out,
			       size_t cap)
{
	(void)rx_ns; /* RST|ACK has no room for stamps */
	(void)rtx_ns;
	(void)cap;
	if (a->len >= PROBE_TCP_LEN) {
		probe_tcp_reply_build(back, count, a->seq + 1, a->session, (uint32_t)a->tx_ns,
				      out);
		return PROBE_TCP_LEN;
	}
	probe_tcp_reply_bare_build(back, count, a->seq + 1, out);
	return PROBE_TCP_BARE_LEN;
}

const struct probe_ops probe_tcp_ops = {
	.name = "tcp",
	.proto = IPPROTO_TCP,
	.sock = PROBE_SOCK_RAW,
	.open = tcp_open,
	.tmpl_init = tcp_tmpl_init,
	.build = tcp_build,
	.parse = tcp_parse,
	.match = probe_reply_match,
	.trace_build = tcp_trace_build,
	.trace_quote_match = tcp_trace_quote_match,
	.trace_answer_match = tcp_trace_answer_match,
	.trace_answers = tcp_trace_answers,
	.trace_bpf_filter = tcp_trace_bpf_filter,
	.kernel_hdr_write = NULL, /* raw: the bytes hold the TCP header */
	.answer_open = tcp_answer_open,
	.answer_parse = tcp_answer_parse,
	.answer_build = tcp_answer_build,
};
