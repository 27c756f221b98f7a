/* UDP probe kind: one unconnected socket per flow port (the port is what
 * varies the ECMP hash), the faultmesh payload of schemas/probe.md inside;
 * trace probes carry their identity in the UDP checksum (Paris traceroute). */
#include "probe.h"
#include "bytes.h"
#include "icmp_quote.h"

#include <errno.h>
#include <linux/filter.h>
#include <string.h>
#include <unistd.h>

static int udp_open(int family, uint16_t sport_base, unsigned nsocks, int *fds)
{
	unsigned i;

	for (i = 0; i < nsocks; i++) {
		int fd = socket(family, SOCK_DGRAM, IPPROTO_UDP);

		if (fd < 0)
			goto err;
		if (probe_sock_prepare(fd) < 0 ||
		    probe_sock_bind_any(fd, family, (uint16_t)(sport_base + i)) < 0)
			goto err_close;
		/* DF set, PMTU ignored: probes never fragment, and the kernel
		 * skips hashing a fresh IP ID for every datagram */
		if (family == AF_INET) {
			int pmtu = IP_PMTUDISC_PROBE;

			if (setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof(pmtu)) < 0)
				goto err_close;
		}
		fds[i] = fd;
		continue;
err_close:
		probe_sock_close_err(fd);
		goto err;
	}
	return (int)nsocks;
err:
	{
		int e = errno;

		while (i-- > 0)
			close(fds[i]);
		errno = e;
	}
	return -1;
}

static void udp_tmpl_init(struct probe_tmpl *t, const struct probe_flow_key *key)
{
	struct probe_msg m = { .type = PROBE_REQUEST,
			       .session = key->session,
			       .flow_id = key->flow_id };

	probe_msg_encode(&m, t->buf);
	t->len = PROBE_HDR_LEN;
	t->sum = 0; /* the kernel checksums UDP */
}

static size_t udp_build(struct probe_tmpl *t, uint32_t seq, uint64_t tx_ns)
{
	uint8_t *p = t->buf;

	/* only seq (offset 16) and the send time (offset 24) change per probe */
	bytes_be32_put(p + 16, seq);
	bytes_be64_put(p + 24, tx_ns);
	return t->len;
}

static int udp_parse(int family, const uint8_t *pkt, size_t len, struct probe_reply *r)
{
	struct probe_msg m;

	(void)family;
	if (probe_msg_decode(pkt, len, &m) < 0 || m.type != PROBE_REPLY)
		return -1;
	memset(r, 0, sizeof(*r));
	r->flow_id = m.flow_id;
	r->seq = m.seq;
	r->seq_bits = 32;
	r->count = m.count;
	r->tx_ns = m.tx_ns;
	r->tx_bits = 64;
	r->session = m.session;
	/* both stamps come from the responder's clock: their difference is
	 * valid even when the two hosts' clocks disagree */
	if (m.rx_ns && m.rtx_ns >= m.rx_ns)
		r->dwell_ns = m.rtx_ns - m.rx_ns;
	return 0;
}

/* What routers hash: Linux's fib_multipath_hash_policy=1 takes addresses,
 * protocol and ports, as do fabric switches' 5-tuple hashes. So the probe's
 * identity goes in the UDP checksum, set by a 2-byte word after the payload
 * (after a pad byte when the payload's length is odd, so the word sits on a
 * 16-bit boundary), and the destination's answers echo that word. */
static int udp_trace_build(const struct probe_flow_key *k, const struct probe_trace_cfg *c,
			   uint16_t id, uint8_t ttl, uint8_t try, uint8_t *l4, size_t cap,
			   struct probe_trace_tag *tag)
{
	size_t len = 8 + c->payload_len + (c->payload_len & 1) + 2;
	uint32_t sum;
	uint16_t s, fudge;

	(void)ttl;
	(void)try;
	if (len > cap) {
		errno = ENOSPC;
		return -1;
	}
	memset(l4, 0, len);
	bytes_be16_put(l4, k->sport);
	bytes_be16_put(l4 + 2, k->dport);
	bytes_be16_put(l4 + 4, (uint16_t)len);
	memcpy(l4 + 8, c->payload, c->payload_len);
	sum = probe_csum_add(probe_pseudo_sum(k->family, &k->src, &k->dst, IPPROTO_UDP,
					      (uint32_t)len), l4, len);
	/* the word f with ~(s + f) == id, in ones'-complement arithmetic:
	 * f = ~id - s, where s is the sum without it (folded, not inverted) */
	s = (uint16_t)~probe_csum_fold(sum);
	fudge = (uint16_t)~probe_csum_fold((uint32_t)(uint16_t)~id + (uint16_t)~s);
	bytes_be16_put(l4 + len - 2, fudge);
	bytes_be16_put(l4 + 6, probe_csum_fold(probe_csum_add(sum, l4 + len - 2, 2)));
	tag->id = id;
	tag->quoted = id;
	tag->echoed = fudge;
	return (int)len;
}

static int udp_trace_quote_match(const struct icmp_quote *q, const struct probe_trace_tag *tag)
{
	/* the checksum is the id (0: the checksum was cleared on the way, any
	 * probe of the flow); a middlebox that rewrote it still leaves the
	 * IPv4 ID we set */
	return !q->udp_sum || q->udp_sum == tag->quoted || (q->ip_id && q->ip_id == tag->id);
}

static int udp_trace_answer_match(const uint8_t *l4, size_t len, const struct probe_trace_cfg *c,
				  const struct probe_trace_tag *tag)
{
	/* an answer counts only when it echoes our word at the offset we sent
	 * it: the prober's own loss probes share the 5-tuple */
	size_t off = 8 + c->payload_len + (c->payload_len & 1);

	return len >= off + 2 && bytes_be16_get(l4 + off) == tag->echoed;
}

static int udp_trace_answers(const struct probe_trace_cfg *c)
{
	/* a raw UDP socket copies every UDP packet of the host */
	return c->answers;
}

/* Only datagrams long enough to echo a probe's identity word (so not the
 * pinger's 48-byte replies), and with echo_off >= 0 only those echoing the
 * payload's word there: without it each of a busy prober's replies would
 * wake the tracer and cost a copy and a parse. Not watching answers: none
 * (an IPv6 raw UDP socket the tracer only sends on). */
static int udp_trace_bpf_filter(int fd, int family, const struct probe_trace_cfg *c)
{
	static const struct sock_filter drop[] = { BPF_STMT(BPF_RET | BPF_K, 0) };
	uint16_t min_len = (uint16_t)(8 + c->payload_len + (c->payload_len & 1) + 2);
	uint32_t word = c->echo_off >= 0 ? bytes_be32_get(c->payload + c->echo_off) : 0;
	struct sock_filter code[] = {
		probe_bpf_l4_x(family),
		BPF_STMT(BPF_LD | BPF_H | BPF_IND, 4), /* UDP length */
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, min_len, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_IND, (uint32_t)(8 + (c->echo_off < 0 ? 0 : c->echo_off))),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, word, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	unsigned short n = sizeof(code) / sizeof(code[0]);

	if (!c->answers)
		return probe_bpf_attach(fd, drop, 1);
	if (c->echo_off < 0) { /* length alone: accept right after the test */
		code[2].jf = 1;
		code[3] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0xffff);
		code[4] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
		n = 5;
	}
	return probe_bpf_attach(fd, code, n);
}

static size_t udp_kernel_hdr_write(uint8_t *l4, const struct probe_flow_key *k,
				   const uint8_t *payload, size_t payload_len)
{
	size_t len = 8 + payload_len;

	bytes_be16_put(l4, k->sport);
	bytes_be16_put(l4 + 2, k->dport);
	bytes_be16_put(l4 + 4, (uint16_t)len);
	bytes_be16_put(l4 + 6, 0);
	if (payload) {
		uint32_t sum = probe_csum_add(probe_pseudo_sum(k->family, &k->src, &k->dst,
							       IPPROTO_UDP, (uint32_t)len),
					      l4, 8);
		uint16_t c = probe_csum_fold(probe_csum_add(sum, payload, payload_len));

		bytes_be16_put(l4 + 6, c ? c : 0xffff); /* RFC 768: 0 means no checksum */
	}
	return 8;
}

/* The responder's socket: one per family on the listen port, reporting the
 * address and class each probe came to, so the answer leaves from them. */
static int udp_answer_open(int family, uint16_t port, int *fds)
{
	int one = 1;
	int fd = socket(family, SOCK_DGRAM, IPPROTO_UDP);

	if (fd < 0)
		return -1;
	if (family == AF_INET6) {
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) < 0 ||
		    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, &one, sizeof(one)) < 0)
			return probe_sock_close_err(fd);
	} else {
		if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) < 0 ||
		    setsockopt(fd, IPPROTO_IP, IP_RECVTOS, &one, sizeof(one)) < 0)
			return probe_sock_close_err(fd);
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    probe_sock_prepare(fd) < 0 || probe_sock_bind_any(fd, family, port) < 0)
		return probe_sock_close_err(fd);
	fds[0] = fd;
	return 1;
}

static int udp_answer_parse(int family, const uint8_t *pkt, size_t len, struct probe_answer *a)
{
	struct probe_msg m;

	(void)family;
	/* a datagram socket sees only UDP to our port: anything that is not
	 * a request is a malformed probe */
	if (probe_msg_decode(pkt, len, &m) < 0 || m.type != PROBE_REQUEST) {
		errno = EBADMSG;
		return -1;
	}
	memset(a, 0, sizeof(*a));
	a->flow_id = m.flow_id;
	a->session = m.session;
	a->seq = m.seq;
	a->tx_ns = m.tx_ns;
	a->len = len;
	return 0;
}

/* The request echoed whole, its header rewritten as a reply: the answer is
 * exactly as long as the probe (the payload beyond the header rides back). */
static size_t udp_answer_build(const struct probe_answer *a, const struct probe_flow_key *back,
			       uint32_t count, uint64_t rx_ns, uint64_t rtx_ns, uint8_t *out,
			       size_t cap)
{
	struct probe_msg m = { .type = PROBE_REPLY, .session = a->session,
			       .flow_id = a->flow_id, .seq = a->seq, .count = count,
			       .tx_ns = a->tx_ns, .rx_ns = rx_ns, .rtx_ns = rtx_ns };

	(void)back; /* the kernel writes the headers */
	(void)cap;
	probe_msg_encode(&m, out);
	return a->len;
}

const struct probe_ops probe_udp_ops = {
	.name = "udp",
	.proto = IPPROTO_UDP,
	.sock = PROBE_SOCK_PORT,
	.open = udp_open,
	.tmpl_init = udp_tmpl_init,
	.build = udp_build,
	.parse = udp_parse,
	.match = probe_reply_match,
	.trace_build = udp_trace_build,
	.trace_quote_match = udp_trace_quote_match,
	.trace_answer_match = udp_trace_answer_match,
	.trace_answers = udp_trace_answers,
	.trace_bpf_filter = udp_trace_bpf_filter,
	.kernel_hdr_write = udp_kernel_hdr_write,
	.answer_open = udp_answer_open,
	.answer_parse = udp_answer_parse,
	.answer_build = udp_answer_build,
};
