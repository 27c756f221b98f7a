/* Probe kinds through their struct probe_ops, a test per callback: builders
 * against golden bytes (checksums included, computed by an independent
 * implementation), parsers, reply and trace-answer matching, filters, and
 * rejection of malformed payloads. */
#include "prober/probe.h"
#include "icmp_quote.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void hex_decode(const char *hex, uint8_t *out, size_t *len)
{
	size_t n = strlen(hex) / 2;

	for (size_t i = 0; i < n; i++) {
		unsigned v;

		sscanf(hex + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
	*len = n;
}

static void expect_bytes(const uint8_t *got, size_t got_len, const char *hex)
{
	uint8_t want[256];
	size_t want_len;

	hex_decode(hex, want, &want_len);
	cr_assert_eq(got_len, want_len, "length %zu, want %zu", got_len, want_len);
	for (size_t i = 0; i < want_len; i++)
		cr_assert_eq(got[i], want[i], "byte %zu: %02x, want %02x", i, got[i], want[i]);
}

static struct probe_flow_key key4(void)
{
	struct probe_flow_key k = { .family = AF_INET, .sport = 40000, .dport = 31339,
				    .session = 0xdeadbeef, .flow_id = 5 };

	inet_pton(AF_INET, "198.18.0.1", &k.src.v4);
	inet_pton(AF_INET, "198.18.0.2", &k.dst.v4);
	return k;
}

Test(probe, udp_build_matches_golden_bytes)
{
	struct probe_flow_key k = key4();
	struct probe_tmpl t;
	size_t len;

	probe_udp_ops.tmpl_init(&t, &k);
	len = probe_udp_ops.build(&t, 0x01020304, 0x1122334455667788ull);
	expect_bytes(t.buf, len,
		     "464d503101010000deadbeef000000050102030400000000"
		     "112233445566778800000000000000000000000000000000");
}

Test(probe, tcp4_build_matches_golden_bytes_with_checksum)
{
	struct probe_flow_key k = key4();
	struct probe_tmpl t;
	size_t len;

	probe_tcp_ops.tmpl_init(&t, &k);
	/* build twice: the second must not depend on the first's leftovers */
	probe_tcp_ops.build(&t, 3, 0x99999999);
	len = probe_tcp_ops.build(&t, 7, 0xaaaa55667788ull);
	expect_bytes(t.buf, len, "9c407a6b00050007000000008002ffff695f00000101080a55667788deadbeef");
}

Test(probe, tcp6_build_matches_golden_bytes_with_checksum)
{
	struct probe_flow_key k = { .family = AF_INET6, .sport = 40001, .dport = 31339,
				    .session = 0x01020304, .flow_id = 9 };
	struct probe_tmpl t;
	size_t len;

	inet_pton(AF_INET6, "2001:2::1", &k.src.v6);
	inet_pton(AF_INET6, "2001:2::2", &k.dst.v6);
	probe_tcp_ops.tmpl_init(&t, &k);
	len = probe_tcp_ops.build(&t, 0x1234fffe, 0xfedcba98);
	expect_bytes(t.buf, len, "9c417a6b0009fffe000000008002ffff629200000101080afedcba9801020304");
}

Test(probe, tcp_reply_golden_and_parsed_back_behind_ipv4_header)
{
	struct probe_flow_key back = key4();
	uint8_t pkt[20 + PROBE_TCP_LEN] = { 0x45, 0, 0, 52, 0, 0, 0x40, 0, 64, 6 };
	struct probe_reply r;

	back.src = key4().dst;
	back.dst = key4().src;
	back.sport = 31339;
	back.dport = 40000;
	probe_tcp_reply_build(&back, 42, ((5u << 16) | 7) + 1, 0x01020304, 0x55667788, pkt + 20);
	expect_bytes(pkt + 20, PROBE_TCP_LEN,
		     "7a6b9c400000002a000500088014464dbc6c00000101080a0102030455667788");
	cr_assert_eq(probe_tcp_ops.parse(AF_INET, pkt, sizeof(pkt), &r), 0);
	cr_assert_eq(r.flow_id, 5);
	cr_assert_eq(r.seq, 7);
	cr_assert_eq(r.seq_bits, 16);
	cr_assert_eq(r.count, 42);
	cr_assert_eq(r.session, 0x01020304);
	cr_assert_eq(r.tx_ns, 0x55667788);
	cr_assert_eq(r.local_port, 40000);
	cr_assert_eq(r.remote_port, 31339);
	/* the same segment with a plain kernel RST's window is not ours */
	pkt[20 + 14] = 0;
	pkt[20 + 15] = 0;
	cr_assert_eq(probe_tcp_ops.parse(AF_INET, pkt, sizeof(pkt), &r), -1);
}

Test(probe, tcp_syn_parse_reads_identity_and_rejects_non_syn)
{
	struct probe_flow_key k = key4();
	struct probe_tmpl t;
	uint16_t sp, dp;
	uint32_t seq, tsval, tsecr;

	probe_tcp_ops.tmpl_init(&t, &k);
	probe_tcp_ops.build(&t, 7, 0x55667788);
	cr_assert_eq(probe_tcp_syn_parse(AF_INET6, t.buf, t.len, &sp, &dp, &seq, &tsval, &tsecr), 0);
	cr_assert_eq(sp, 40000);
	cr_assert_eq(dp, 31339);
	cr_assert_eq(seq, (5u << 16) | 7);
	cr_assert_eq(tsval, 0x55667788);
	cr_assert_eq(tsecr, 0xdeadbeef, "the session rides in TSecr");
	t.buf[13] = 0x12; /* SYN|ACK */
	cr_assert_eq(probe_tcp_syn_parse(AF_INET6, t.buf, t.len, &sp, &dp, &seq, &tsval, &tsecr), -1);
	cr_assert_eq(probe_tcp_syn_parse(AF_INET6, t.buf, 19, &sp, &dp, &seq, &tsval, &tsecr), -1);
}

Test(probe, msg_roundtrip_keeps_every_field)
{
	struct probe_msg m = { .type = PROBE_REPLY, .session = 1, .flow_id = 65535, .seq = 3,
			       .count = 4, .tx_ns = 5, .rx_ns = 6, .rtx_ns = 7 };
	struct probe_msg d;
	uint8_t buf[PROBE_HDR_LEN];

	probe_msg_encode(&m, buf);
	cr_assert_eq(probe_msg_decode(buf, sizeof(buf), &d), 0);
	cr_assert(d.type == m.type && d.session == m.session && d.flow_id == m.flow_id &&
		  d.seq == m.seq && d.count == m.count && d.tx_ns == m.tx_ns &&
		  d.rx_ns == m.rx_ns && d.rtx_ns == m.rtx_ns);
}

/* Each case corrupts one byte of a valid request or cuts it short. */
static const struct {
	const char *what;
	size_t off;
	uint8_t val;
	size_t len;
} bad_msgs[] = {
	{ "short", 0, 0x46, PROBE_HDR_LEN - 1 },
	{ "magic", 0, 0x47, PROBE_HDR_LEN },
	{ "version", 4, 2, PROBE_HDR_LEN },
	{ "type 0", 5, 0, PROBE_HDR_LEN },
	{ "type 3", 5, 3, PROBE_HDR_LEN },
	{ "flags", 7, 1, PROBE_HDR_LEN },
	{ "flow id >= 65536", 13, 1, PROBE_HDR_LEN },
};

Test(probe, malformed_payloads_are_rejected)
{
	for (size_t i = 0; i < sizeof(bad_msgs) / sizeof(bad_msgs[0]); i++) {
		struct probe_msg m = { .type = PROBE_REQUEST, .flow_id = 1 }, d;
		uint8_t buf[PROBE_HDR_LEN];

		probe_msg_encode(&m, buf);
		cr_assert_eq(probe_msg_decode(buf, sizeof(buf), &d), 0);
		buf[bad_msgs[i].off] = bad_msgs[i].val;
		cr_assert_eq(probe_msg_decode(buf, bad_msgs[i].len, &d), -1, "%s accepted",
			     bad_msgs[i].what);
	}
}

Test(probe, kinds_table_finds_each_kind_by_name)
{
	cr_assert_eq(probe_kind_find("udp"), &probe_udp_ops);
	cr_assert_eq(probe_kind_find("tcp"), &probe_tcp_ops);
	cr_assert_null(probe_kind_find("icmp"));
}

/* Every kind fills every callback its socket model needs: a new kind that
 * forgets one fails here, not in a lab. */
Test(probe, every_kind_fills_its_contract)
{
	char names[128];

	for (size_t i = 0; probe_kinds[i]; i++) {
		const struct probe_ops *k = probe_kinds[i];

		cr_assert_lt(i, PROBE_KINDS_MAX);
		cr_assert(k->name && k->proto, "kind %zu", i);
		cr_assert(k->sock == PROBE_SOCK_PORT || k->sock == PROBE_SOCK_RAW, "%s", k->name);
		cr_assert(k->open && k->tmpl_init && k->build && k->parse && k->match, "%s", k->name);
		cr_assert(k->trace_build && k->trace_quote_match && k->trace_answer_match &&
			  k->trace_answers && k->trace_bpf_filter, "%s", k->name);
		cr_assert_eq(k->kernel_hdr_write != NULL, k->sock == PROBE_SOCK_PORT, "%s", k->name);
		/* a kind is answered by the responder wholly or not at all */
		cr_assert_eq(!k->answer_open, !k->answer_parse, "%s", k->name);
		cr_assert_eq(!k->answer_open, !k->answer_build, "%s", k->name);
		cr_assert_eq(probe_kind_find(k->name), k);
		cr_assert_eq(probe_kind_by_proto(k->proto), k);
		cr_assert_eq(probe_kind_index(k), i);
	}
	probe_kind_names(names, sizeof(names));
	cr_assert_str_eq(names, "udp, tcp");
	cr_assert_null(probe_kind_by_proto(IPPROTO_ICMP));
}

Test(probe, ip_headers_match_golden_bytes_with_checksum)
{
	uint8_t src4[4] = { 198, 18, 0, 1 }, dst4[4] = { 198, 18, 0, 2 }, out[40];
	struct probe_ip_hdr h = { .family = AF_INET, .tos = 0xb8, .ttl = 7, .proto = IPPROTO_UDP,
				  .df = 1, .id = 0x1234, .payload_len = 28, .src = src4,
				  .dst = dst4 };
	struct probe_flow_key k = { .family = AF_INET6 };

	cr_assert_eq(probe_ip_hdr_write(out, &h), 20);
	expect_bytes(out, 20, "45b80030123440000711d4a9c6120001c6120002");
	inet_pton(AF_INET6, "2001:2::1", &k.src.v6);
	inet_pton(AF_INET6, "2001:2::2", &k.dst.v6);
	h.family = AF_INET6;
	h.ttl = 9;
	h.src = &k.src;
	h.dst = &k.dst;
	cr_assert_eq(probe_ip_hdr_write(out, &h), 40);
	expect_bytes(out, 40, "6b800000001c11092001000200000000000000000000000120010002000000000000000000000002");
}

/* The UDP header the kernel writes before a port socket's payload, as the
 * dump rebuilds it: golden bytes from an independent checksum (odd payload). */
Test(probe, udp_kernel_header_matches_golden_bytes_with_checksum)
{
	struct probe_flow_key k = key4();
	uint8_t pkt[8 + 11];

	for (size_t i = 0; i < 11; i++)
		pkt[8 + i] = (uint8_t)(i + 1);
	k.dport = 31338;
	cr_assert_eq(probe_udp_ops.kernel_hdr_write(pkt, &k, pkt + 8, 11), 8);
	expect_bytes(pkt, 8, "9c407a6a001338d7");
	cr_assert_eq(probe_udp_ops.kernel_hdr_write(pkt, &k, NULL, 11), 8);
	expect_bytes(pkt, 8, "9c407a6a00130000"); /* payload cut: no checksum */
	k.family = AF_INET6;
	inet_pton(AF_INET6, "2001:2::1", &k.src.v6);
	inet_pton(AF_INET6, "2001:2::2", &k.dst.v6);
	probe_udp_ops.kernel_hdr_write(pkt, &k, pkt + 8, 11);
	expect_bytes(pkt, 8, "9c407a6a001384f6");
}

/* A reply answers a flow's probe only with this run's session and both of
 * the flow's ports. */
Test(probe, match_needs_session_and_both_ports)
{
	struct probe_flow_key k = { .sport = 40000, .dport = 31338, .session = 7 };
	struct probe_reply ok = { .session = 7, .local_port = 40000, .remote_port = 31338 };
	struct probe_reply r;

	for (size_t i = 0; probe_kinds[i]; i++) {
		const struct probe_ops *kind = probe_kinds[i];

		cr_assert_eq(kind->match(&ok, &k), 1, "%s", kind->name);
		r = ok;
		r.session = 8; /* a trace probe's, or an earlier run's */
		cr_assert_eq(kind->match(&r, &k), 0, "%s", kind->name);
		r = ok;
		r.local_port = 40001;
		cr_assert_eq(kind->match(&r, &k), 0, "%s", kind->name);
		r = ok;
		r.remote_port = 31339;
		cr_assert_eq(kind->match(&r, &k), 0, "%s", kind->name);
	}
}

static const uint8_t trace_payload[] = { 'F', 'M', 'T', 'R', 'A', 'C', 'E', 0 };
static const struct probe_trace_cfg trace_cfg = { .payload = trace_payload,
						  .payload_len = sizeof(trace_payload),
						  .echo_off = -1, .answers = 1 };

/* The kind's trace probe (L4 only): golden bytes, the identity where the
 * routers' hash does not look, and the tag its answers are matched by. */
Test(probe, trace_build_l4_matches_golden_bytes)
{
	struct probe_flow_key k = key4();
	struct probe_trace_tag tag;
	uint8_t l4[64];

	k.dport = 33434;
	cr_assert_eq(probe_udp_ops.trace_build(&k, &trace_cfg, 0x1234, 3, 0, l4, sizeof(l4), &tag),
		     18);
	cr_assert_eq(l4[6] << 8 | l4[7], 0x1234, "the UDP checksum is the id");
	cr_assert_eq(tag.quoted, 0x1234);
	cr_assert_eq(tag.echoed, (uint32_t)(l4[16] << 8 | l4[17]), "answers echo the last word");
	cr_assert_eq(probe_udp_ops.trace_build(&k, &trace_cfg, 0x1234, 3, 0, l4, 17, &tag), -1);
	k.dport = 80;
	cr_assert_eq(probe_tcp_ops.trace_build(&k, &trace_cfg, 0x1234, 5, 2, l4, sizeof(l4), &tag),
		     20);
	expect_bytes(l4, 20, "9c40005012340502000000005002ffff6ff40000");
	cr_assert_eq(tag.quoted, 0x12340502u, "seq: id, ttl, try");
	cr_assert_eq(tag.echoed, 0x12340502u);
}

static struct icmp_quote quote_udp(uint16_t udp_sum, uint16_t ip_id)
{
	struct icmp_quote q = { .proto = IPPROTO_UDP, .l4_len = 8, .udp_sum = udp_sum,
				.ip_id = ip_id };

	return q;
}

/* An ICMP error names a UDP probe by its checksum, or by the IPv4 ID when a
 * middlebox rewrote the checksum; a TCP probe by its seq. */
Test(probe, trace_quote_match_names_the_exact_probe)
{
	struct probe_trace_tag udp = { .id = 0x1234, .quoted = 0x1234, .echoed = 0xabcd };
	struct probe_trace_tag tcp = { .id = 0x1234, .quoted = 0x12340502, .echoed = 0x12340502 };
	struct icmp_quote q = quote_udp(0x1234, 0);

	cr_assert_eq(probe_udp_ops.trace_quote_match(&q, &udp), 1);
	q = quote_udp(0x1235, 0);
	cr_assert_eq(probe_udp_ops.trace_quote_match(&q, &udp), 0);
	q = quote_udp(0x9999, 0x1234);
	cr_assert_eq(probe_udp_ops.trace_quote_match(&q, &udp), 1, "IPv4 ID fallback");
	q = quote_udp(0, 0);
	cr_assert_eq(probe_udp_ops.trace_quote_match(&q, &udp), 1, "checksum cleared: any probe");
	q.proto = IPPROTO_TCP;
	q.tcp_seq = 0x12340502;
	cr_assert_eq(probe_tcp_ops.trace_quote_match(&q, &tcp), 1);
	q.tcp_seq = 0x12340501; /* the same hop's previous try */
	cr_assert_eq(probe_tcp_ops.trace_quote_match(&q, &tcp), 0);
}

/* The destination's own answer: UDP echoes the identity word at the offset
 * it was sent at; TCP acks the SYN's seq with SYN-ACK or RST-ACK. */
Test(probe, trace_answer_match_needs_the_echo)
{
	struct probe_trace_tag udp = { .id = 0x1234, .quoted = 0x1234, .echoed = 0xabcd };
	struct probe_trace_tag tcp = { .id = 0x1234, .quoted = 0x12340502, .echoed = 0x12340502 };
	uint8_t l4[32] = { 0 };

	l4[16] = 0xab; /* 8 header + 8 payload bytes, then the word */
	l4[17] = 0xcd;
	cr_assert_eq(probe_udp_ops.trace_answer_match(l4, 18, &trace_cfg, &udp), 1);
	cr_assert_eq(probe_udp_ops.trace_answer_match(l4, 17, &trace_cfg, &udp), 0, "short");
	l4[17] = 0xce;
	cr_assert_eq(probe_udp_ops.trace_answer_match(l4, 18, &trace_cfg, &udp), 0);
	memset(l4, 0, sizeof(l4));
	l4[8] = 0x12; /* ack = seq + 1 */
	l4[9] = 0x34;
	l4[10] = 0x05;
	l4[11] = 0x03;
	l4[13] = 0x12; /* SYN|ACK */
	cr_assert_eq(probe_tcp_ops.trace_answer_match(l4, 20, &trace_cfg, &tcp), 1);
	l4[13] = 0x14; /* RST|ACK */
	cr_assert_eq(probe_tcp_ops.trace_answer_match(l4, 20, &trace_cfg, &tcp), 1);
	l4[13] = 0x10; /* a bare ACK answers no SYN */
	cr_assert_eq(probe_tcp_ops.trace_answer_match(l4, 20, &trace_cfg, &tcp), 0);
	l4[13] = 0x12;
	l4[11] = 0x02; /* acks another probe */
	cr_assert_eq(probe_tcp_ops.trace_answer_match(l4, 20, &trace_cfg, &tcp), 0);
	cr_assert_eq(probe_tcp_ops.trace_answer_match(l4, 19, &trace_cfg, &tcp), 0);
}

/* Answers worth a raw socket: UDP's only when asked (a raw UDP socket
 * copies every UDP packet of the host), TCP's always. */
Test(probe, trace_answers_watched_per_kind)
{
	struct probe_trace_cfg c = trace_cfg;

	cr_assert_eq(probe_udp_ops.trace_answers(&c), 1);
	cr_assert_eq(probe_tcp_ops.trace_answers(&c), 1);
	c.answers = 0;
	cr_assert_eq(probe_udp_ops.trace_answers(&c), 0);
	cr_assert_eq(probe_tcp_ops.trace_answers(&c), 1);
}

/* Send len bytes from a fresh socket to port of ::1; 1 when fd receives
 * them within 200 ms. */
static int udp6_passes(int fd, uint16_t port, const uint8_t *buf, size_t len)
{
	struct sockaddr_in6 to = { .sin6_family = AF_INET6, .sin6_port = htons(port),
				   .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint8_t rx[512];
	int s = socket(AF_INET6, SOCK_DGRAM, 0);

	cr_assert_geq(s, 0);
	cr_assert_eq(sendto(s, buf, len, 0, (struct sockaddr *)&to, sizeof(to)), (ssize_t)len);
	close(s);
	if (poll(&pfd, 1, 200) != 1)
		return 0;
	return recv(fd, rx, sizeof(rx), 0) == (ssize_t)len;
}

/* The UDP trace filter, run by the kernel on a loopback IPv6 socket (its
 * filter sees the UDP header first, as a raw IPv6 socket's does): only
 * datagrams long enough to echo a probe and carrying the payload's word at
 * echo_off pass; the pinger's 48-byte replies do not. */
Test(probe, udp_trace_filter_passes_only_echoing_answers)
{
	uint8_t hdr[PROBE_HDR_LEN] = { 0 }, dgram[PROBE_HDR_LEN + 2] = { 0 };
	struct probe_trace_cfg c = { .payload = hdr, .payload_len = sizeof(hdr), .echo_off = 8,
				     .answers = 1 };
	struct sockaddr_in6 me = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	socklen_t sl = sizeof(me);
	int fd = socket(AF_INET6, SOCK_DGRAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0)
		cr_skip_test("no IPv6 loopback");
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&me, &sl), 0);
	hdr[8] = 0xde; /* the session word answers echo */
	hdr[11] = 0xef;
	cr_assert_eq(probe_udp_ops.trace_bpf_filter(fd, AF_INET6, &c), 0);
	memcpy(dgram, hdr, sizeof(hdr));
	cr_assert_eq(udp6_passes(fd, ntohs(me.sin6_port), dgram, sizeof(dgram)), 1);
	cr_assert_eq(udp6_passes(fd, ntohs(me.sin6_port), dgram, PROBE_HDR_LEN), 0,
		     "a loss-probe reply is too short to echo a trace probe");
	dgram[11] = 0xee;
	cr_assert_eq(udp6_passes(fd, ntohs(me.sin6_port), dgram, sizeof(dgram)), 0,
		     "another session's word");
	c.answers = 0; /* send-only: nothing passes */
	cr_assert_eq(probe_udp_ops.trace_bpf_filter(fd, AF_INET6, &c), 0);
	dgram[11] = 0xef;
	cr_assert_eq(udp6_passes(fd, ntohs(me.sin6_port), dgram, sizeof(dgram)), 0);
	close(fd);
}

/* A UDP reply gives the flow, seq, the responder's count and its dwell
 * time (both stamps from the responder's clock); a request is no reply. */
Test(probe, udp_parse_reads_reply_and_rejects_request)
{
	struct probe_msg m = { .type = PROBE_REPLY, .session = 9, .flow_id = 12, .seq = 77,
			       .count = 70, .tx_ns = 1000, .rx_ns = 5000, .rtx_ns = 5400 };
	uint8_t buf[PROBE_HDR_LEN];
	struct probe_reply r;

	probe_msg_encode(&m, buf);
	cr_assert_eq(probe_udp_ops.parse(AF_INET, buf, sizeof(buf), &r), 0);
	cr_assert(r.flow_id == 12 && r.seq == 77 && r.seq_bits == 32 && r.count == 70 &&
		  r.tx_ns == 1000 && r.tx_bits == 64 && r.session == 9);
	cr_assert_eq(r.dwell_ns, 400);
	cr_assert_eq(r.local_port, 0, "port sockets: the caller fills the ports");
	m.type = PROBE_REQUEST;
	probe_msg_encode(&m, buf);
	cr_assert_eq(probe_udp_ops.parse(AF_INET, buf, sizeof(buf), &r), -1);
}

/* Port sockets: one per flow port, bound to sport_base + i, nonblocking;
 * when a port is taken, nothing stays open. */
Test(probe, udp_open_binds_one_socket_per_flow_port)
{
	int fds[3], again[3];
	uint16_t base;

	for (base = 47300; base < 47400; base += 3)
		if (probe_udp_ops.open(AF_INET, base, 3, fds) == 3)
			break;
	cr_assert_lt(base, 47400, "no 3 free ports");
	for (int i = 0; i < 3; i++) {
		struct sockaddr_in sa;
		socklen_t sl = sizeof(sa);

		cr_assert_eq(getsockname(fds[i], (struct sockaddr *)&sa, &sl), 0);
		cr_assert_eq(ntohs(sa.sin_port), base + i);
		cr_assert(fcntl(fds[i], F_GETFL) & O_NONBLOCK);
	}
	errno = 0;
	cr_assert_eq(probe_udp_ops.open(AF_INET, (uint16_t)(base - 1), 3, again), -1);
	cr_assert_eq(errno, EADDRINUSE);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	/* the failed call closed base - 1 again: it binds now */
	cr_assert_eq(probe_udp_ops.open(AF_INET, (uint16_t)(base - 1), 1, again), 1);
	close(again[0]);
}

/* key4()'s probe of kind k, seq 7 sent at 0x55667788, built into t. */
static size_t probe_of_key4(const struct probe_ops *k, struct probe_tmpl *t)
{
	struct probe_flow_key key = key4();

	k->tmpl_init(t, &key);
	return k->build(t, 7, 0x55667788);
}

/* The flow an answer to key4()'s probe travels back on. */
static struct probe_flow_key key4_back(void)
{
	struct probe_flow_key b = key4();

	b.src = key4().dst;
	b.dst = key4().src;
	b.sport = 31339;
	b.dport = 40000;
	return b;
}

Test(probe, udp_answer_echoes_request_as_reply_golden)
{
	struct probe_flow_key k = key4(), back = key4_back();
	struct probe_tmpl t;
	struct probe_answer a;
	uint8_t pkt[PROBE_PAYLOAD_MAX];
	size_t len;

	/* the same request udp_build_matches_golden_bytes checks */
	probe_udp_ops.tmpl_init(&t, &k);
	memcpy(pkt, t.buf, probe_udp_ops.build(&t, 0x01020304, 0x1122334455667788ull));
	/* a padded request: its payload after the header rides back as is */
	memcpy(pkt + PROBE_HDR_LEN, "\xca\xfe\xf0\x0d\x01\x02\x03\x04", 8);
	cr_assert_eq(probe_udp_ops.answer_parse(AF_INET, pkt, PROBE_HDR_LEN + 8, &a), 0);
	cr_assert_eq(a.flow_id, 5);
	cr_assert_eq(a.session, 0xdeadbeef);
	cr_assert_eq(a.len, PROBE_HDR_LEN + 8);
	len = probe_udp_ops.answer_build(&a, &back, 42, 0x0a0b0c0d0e0f1011ull,
					 0x0a0b0c0d0e0f2021ull, pkt, sizeof(pkt));
	expect_bytes(pkt, len,
		     "464d503101020000deadbeef00000005010203040000002a"
		     "11223344556677880a0b0c0d0e0f10110a0b0c0d0e0f2021"
		     "cafef00d01020304");
}

Test(probe, udp_answer_parse_rejects_replies_and_short_payloads_as_malformed)
{
	struct probe_tmpl t;
	struct probe_answer a;

	probe_of_key4(&probe_udp_ops, &t);
	errno = 0;
	cr_assert_eq(probe_udp_ops.answer_parse(AF_INET, t.buf, PROBE_HDR_LEN - 1, &a), -1);
	cr_assert_eq(errno, EBADMSG, "short: counted as malformed");
	t.buf[5] = PROBE_REPLY;
	errno = 0;
	cr_assert_eq(probe_udp_ops.answer_parse(AF_INET, t.buf, PROBE_HDR_LEN, &a), -1);
	cr_assert_eq(errno, EBADMSG, "a reply is never answered (no reflection loop)");
}

Test(probe, tcp_answer_to_syn_behind_ipv4_header_golden_and_parsed_back)
{
	struct probe_flow_key back = key4_back();
	struct probe_tmpl t;
	struct probe_answer a;
	struct probe_reply r;
	uint8_t pkt[PROBE_PAYLOAD_MAX] = { 0x45, 0, 0, 52, 0, 0, 0x40, 0, 64, 6 };
	size_t len;

	memcpy(pkt + 20, t.buf, probe_of_key4(&probe_tcp_ops, &t));
	cr_assert_eq(probe_tcp_ops.answer_parse(AF_INET, pkt, 20 + PROBE_TCP_LEN, &a), 0);
	cr_assert_eq(a.sport, 40000);
	cr_assert_eq(a.dport, 31339);
	cr_assert_eq(a.flow_id, 5, "the flow id rides in seq's top half");
	cr_assert_eq(a.session, 0xdeadbeef, "the session rides in TSecr");
	cr_assert_eq(a.len, PROBE_TCP_LEN);
	len = probe_tcp_ops.answer_build(&a, &back, 42, 1, 2, pkt + 20, sizeof(pkt) - 20);
	/* checksum from an independent implementation (Python, RFC 1071) */
	expect_bytes(pkt + 20, len,
		     "7a6b9c400000002a000500088014464d22d500000101080adeadbeef55667788");
	/* the prober reads back what it sent and the responder's count */
	cr_assert_eq(probe_tcp_ops.parse(AF_INET, pkt, 20 + len, &r), 0);
	cr_assert(r.flow_id == 5 && r.seq == 7 && r.count == 42, "flow %u seq %u count %u",
		  r.flow_id, r.seq, r.count);
	cr_assert(r.session == 0xdeadbeef && r.tx_ns == 0x55667788, "session %x tx %llx",
		  r.session, (unsigned long long)r.tx_ns);
}

Test(probe, tcp_answer_is_never_larger_than_the_syn)
{
	struct probe_flow_key back = key4_back();
	struct probe_tmpl t;
	struct probe_answer a;
	uint8_t seg[PROBE_PAYLOAD_MAX];
	size_t len;

	probe_of_key4(&probe_tcp_ops, &t);
	memcpy(seg, t.buf, PROBE_TCP_BARE_LEN);
	seg[12] = (PROBE_TCP_BARE_LEN / 4) << 4; /* a SYN without options */
	cr_assert_eq(probe_tcp_ops.answer_parse(AF_INET6, seg, PROBE_TCP_BARE_LEN, &a), 0);
	cr_assert_eq(a.len, PROBE_TCP_BARE_LEN);
	len = probe_tcp_ops.answer_build(&a, &back, 42, 1, 2, seg, sizeof(seg));
	/* the bare RST|ACK: no timestamp option, checksum over 20 bytes */
	expect_bytes(seg, len, "7a6b9c400000002a000500085014464dc6780000");
	cr_assert_leq(len, a.len);
}

Test(probe, tcp_answer_parse_drops_non_syns_uncounted)
{
	struct probe_tmpl t;
	struct probe_answer a;

	probe_of_key4(&probe_tcp_ops, &t);
	t.buf[13] = 0x12; /* SYN|ACK: another host's traffic on the raw socket */
	errno = 0;
	cr_assert_eq(probe_tcp_ops.answer_parse(AF_INET6, t.buf, t.len, &a), -1);
	cr_assert_eq(errno, ENOMSG);
	errno = 0;
	t.buf[13] = 0x02;
	cr_assert_eq(probe_tcp_ops.answer_parse(AF_INET6, t.buf, 19, &a), -1);
	cr_assert_eq(errno, ENOMSG, "too short to be a segment");
}
