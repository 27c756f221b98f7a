/* Probe builders and parsers: golden bytes (checksums included, computed by
 * an independent implementation) and rejection of malformed payloads. */
#include "prober/probe.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

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
