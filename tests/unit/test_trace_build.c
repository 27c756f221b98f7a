/* Tracer probe builder (the IPv4 header, then the probe kind's trace_build)
 * checked against golden bytes computed independently (Python, RFC
 * 768/793/8200 checksums): the 5-tuple stays put, the identity lands in the
 * UDP checksum / IPv4 ID / TCP sequence number. */
#include "prober/trace.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static const uint8_t tmpl[] = { 'F', 'M', 'T', 'R', 'A', 'C', 'E', 0 };
static const struct probe_trace_cfg tcfg = { .payload = tmpl, .payload_len = sizeof(tmpl),
					     .echo_off = -1, .answers = 1 };

static struct trace_flow flow_make(const char *src, const char *dst, uint8_t proto,
				   uint16_t sport, uint16_t dport)
{
	struct trace_flow f = { .proto = proto, .sport = sport, .dport = dport };

	cr_assert_eq(wire_addr_parse(src, &f.src), 0);
	cr_assert_eq(wire_addr_parse(dst, &f.dst), 0);
	return f;
}

static void hex_decode(const char *hex, uint8_t *out, size_t *len)
{
	size_t n = strlen(hex) / 2;

	for (size_t i = 0; i < n; i++) {
		unsigned v;

		cr_assert_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	*len = n;
}

struct golden {
	const char *name, *src, *dst;
	uint8_t proto, ttl;
	uint16_t sport, dport, id;
	uint32_t quoted, echoed; /* the tag answers name the probe by */
	const char *hex;
};

static const struct golden goldens[] = {
	{ "v4 udp", "198.18.1.2", "198.18.2.2", 17, 3, 40000, 33434, 0x1234, 0x1234, 0x1eaf,
	  "45000026123400000311166bc6120102c61202029c40829a00121234464d5452414345001eaf" },
	{ "v4 tcp", "198.18.1.2", "198.18.2.2", 6, 5, 40001, 80, 0x1234, 0x12340500, 0x12340500,
	  "450000281234000005061474c6120102c61202029c41005012340500000000005002ffff6cf40000" },
	{ "v6 udp", "2001:2::1:2", "2001:2::4:2", 17, 7, 40002, 33434, 0xbeef, 0xbeef, 0xc10b,
	  "9c42829a0012beef464d545241434500c10b" },
};

Test(trace_build, probes_match_golden_bytes)
{
	for (size_t i = 0; i < sizeof(goldens) / sizeof(goldens[0]); i++) {
		const struct golden *g = &goldens[i];
		struct trace_flow f = flow_make(g->src, g->dst, g->proto, g->sport, g->dport);
		uint8_t want[128], got[128];
		size_t wlen;
		struct probe_trace_tag tag;
		int len = trace_probe_build(&f, &tcfg, g->ttl, g->id, 0, got, sizeof(got), &tag);

		hex_decode(g->hex, want, &wlen);
		cr_assert_eq(len, (int)wlen, "%s: length %d, want %zu", g->name, len, wlen);
		cr_expect_arr_eq(got, want, wlen, "%s: bytes differ", g->name);
		cr_expect_eq(tag.id, g->id, "%s", g->name);
		cr_expect_eq(tag.quoted, g->quoted, "%s: quoted tag %x", g->name, tag.quoted);
		cr_expect_eq(tag.echoed, g->echoed, "%s: echoed tag %x", g->name, tag.echoed);
	}
}

Test(trace_build, udp_checksum_carries_id_for_every_id_and_odd_template)
{
	struct trace_flow f = flow_make("198.18.1.2", "198.18.2.2", 17, 40000, 33434);
	uint8_t odd[] = { 1, 2, 3 };
	struct probe_trace_cfg c = { .payload = odd, .payload_len = sizeof(odd), .echo_off = -1 };
	struct probe_trace_tag tag;
	uint8_t pkt[128];

	/* Every id yields exactly that checksum, with a 3-byte template (pad). */
	for (uint32_t id = 1; id < 0xffff; id += 97) {
		int len = trace_probe_build(&f, &c, 9, (uint16_t)id, 0, pkt, sizeof(pkt), &tag);

		cr_assert_eq(len, 20 + 8 + 3 + 1 + 2);
		cr_assert_eq(pkt[20 + 6] << 8 | pkt[20 + 7], (int)id, "id %u", id);
		cr_assert_eq(pkt[4] << 8 | pkt[5], (int)id);
		cr_assert_eq(pkt[8], 9); /* TTL */
		/* Ports, addresses, protocol: the hash inputs never change. */
		cr_assert_eq(pkt[20] << 8 | pkt[21], 40000);
		cr_assert_eq(pkt[22] << 8 | pkt[23], 33434);
	}
}

Test(trace_build, rejects_bad_input)
{
	struct trace_flow f = flow_make("198.18.1.2", "2001:2::1", 17, 1, 2);
	struct probe_trace_tag tag;
	uint8_t pkt[128];

	errno = 0;
	cr_expect_eq(trace_probe_build(&f, &tcfg, 1, 5, 0, pkt, sizeof(pkt), &tag), -1);
	cr_expect_eq(errno, EINVAL);
	f = flow_make("198.18.1.2", "198.18.2.2", 17, 1, 2);
	cr_expect_eq(trace_probe_build(&f, &tcfg, 1, 0, 0, pkt, sizeof(pkt), &tag), -1);
	cr_expect_eq(trace_probe_build(&f, &tcfg, 1, 0xffff, 0, pkt, sizeof(pkt), &tag), -1);
	cr_expect_eq(trace_probe_build(&f, &tcfg, 1, 5, 0, pkt, 20, &tag), -1);
	cr_expect_eq(errno, ENOSPC);
	f.proto = 1; /* no probe kind */
	cr_expect_eq(trace_probe_build(&f, &tcfg, 1, 5, 0, pkt, sizeof(pkt), &tag), -1);
}

Test(trace_build, tcp_seq_names_id_ttl_and_try)
{
	struct trace_flow f = flow_make("198.18.1.2", "198.18.2.2", 6, 40001, 80);
	struct probe_trace_tag tag;
	uint8_t pkt[128];

	cr_assert_eq(trace_probe_build(&f, &tcfg, 32, 0xfffe, 3, pkt, sizeof(pkt), &tag), 40);
	cr_expect_eq(tag.quoted, 0xfffe2003u);
	cr_expect_eq((uint32_t)pkt[24] << 24 | (uint32_t)pkt[25] << 16 | pkt[26] << 8 | pkt[27], 0xfffe2003);
	cr_expect_eq(pkt[4] << 8 | pkt[5], 0xfffe, "the IPv4 ID is the id too");
}
