/* ICMP/ICMPv6 quote decoder: table of hand-built errors (time exceeded, port
 * unreachable, RFC 4884 extensions, IPv6 extension headers) and every
 * truncation of them, which must fail cleanly and never read past the end. */
#include "prober/icmp_quote.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_addr4(uint8_t *p, const char *s)
{
	struct wire_addr a;

	cr_assert_eq(wire_addr_parse(s, &a), 0);
	memcpy(p, a.bytes + 12, 4);
}

static void put_addr6(uint8_t *p, const char *s)
{
	struct wire_addr a;

	cr_assert_eq(wire_addr_parse(s, &a), 0);
	memcpy(p, a.bytes, 16);
}

static int addr_is(const struct wire_addr *a, const char *s)
{
	struct wire_addr b;

	return wire_addr_parse(s, &b) == 0 && a->family == b.family &&
	       memcmp(a->bytes, b.bytes, 16) == 0;
}

/* IPv4 probe header + 8 bytes of UDP or TCP at p; returns bytes written. */
static size_t quote4_write(uint8_t *p, uint8_t proto, uint8_t ttl, unsigned ip_id,
			   unsigned sport, unsigned dport, uint32_t word)
{
	memset(p, 0, 28);
	p[0] = 0x45;
	put16(p + 2, 40);
	put16(p + 4, ip_id);
	p[8] = ttl;
	p[9] = proto;
	put_addr4(p + 12, "198.18.1.2");
	put_addr4(p + 16, "198.18.2.2");
	put16(p + 20, sport);
	put16(p + 22, dport);
	p[24] = (uint8_t)(word >> 24);
	p[25] = (uint8_t)(word >> 16);
	p[26] = (uint8_t)(word >> 8);
	p[27] = (uint8_t)word;
	return 28;
}

/* Outer IPv4 + ICMP header of type/code from router, then the quote. */
static size_t icmp4_write(uint8_t *p, uint8_t type, uint8_t code, const char *router,
			  const uint8_t *quote, size_t qlen)
{
	memset(p, 0, 28);
	p[0] = 0x45;
	put16(p + 2, (unsigned)(28 + qlen));
	p[8] = 64;
	p[9] = 1;
	put_addr4(p + 12, router);
	put_addr4(p + 16, "198.18.1.2");
	p[20] = type;
	p[21] = code;
	memcpy(p + 28, quote, qlen);
	return 28 + qlen;
}

Test(icmp_quote, v4_time_exceeded_quoting_udp)
{
	uint8_t q[64], pkt[128];
	struct icmp_quote out;
	size_t n = icmp4_write(pkt, 11, 0, "198.18.0.5", q,
			       quote4_write(q, 17, 1, 0x4242, 40000, 33434, 0x0012beef));

	cr_assert_eq(icmp_quote_parse4(pkt, n, &out), 0);
	cr_expect_eq(out.kind, ICMP_QUOTE_TTL_EXCEEDED);
	cr_expect(addr_is(&out.from, "198.18.0.5"));
	cr_expect(addr_is(&out.src, "198.18.1.2"));
	cr_expect(addr_is(&out.dst, "198.18.2.2"));
	cr_expect_eq(out.proto, 17);
	cr_expect_eq(out.sport, 40000);
	cr_expect_eq(out.dport, 33434);
	cr_expect_eq(out.udp_len, 0x12);
	cr_expect_eq(out.udp_sum, 0xbeef);
	cr_expect_eq(out.ip_id, 0x4242);
	cr_expect_eq(out.quoted_ttl, 1);
	cr_expect_eq(out.l4_len, 8);
	cr_expect_eq(out.has_ext, 0);
}

Test(icmp_quote, v4_port_unreachable_quoting_tcp)
{
	uint8_t q[64], pkt[128];
	struct icmp_quote out;
	size_t n = icmp4_write(pkt, 3, 3, "198.18.2.2", q,
			       quote4_write(q, 6, 1, 7, 40001, 80, 0x12340500));

	cr_assert_eq(icmp_quote_parse4(pkt, n, &out), 0);
	cr_expect_eq(out.kind, ICMP_QUOTE_PORT_UNREACH);
	cr_expect_eq(out.tcp_seq, 0x12340500u);
	cr_expect_eq(out.dport, 80);
	/* Host unreachable is another kind. */
	pkt[21] = 1;
	cr_assert_eq(icmp_quote_parse4(pkt, n, &out), 0);
	cr_expect_eq(out.kind, ICMP_QUOTE_UNREACH);
}

Test(icmp_quote, v4_rfc4884_mpls_extension)
{
	uint8_t body[256] = { 0 }, pkt[320];
	struct icmp_quote out;
	size_t n;

	quote4_write(body, 17, 1, 1, 40000, 33434, 0x0012abcd);
	/* Original datagram padded to 128 bytes (32 words), then extension v2
	 * with one MPLS object (class 1 c-type 1) holding label 16000, S=1. */
	body[128] = 0x20;
	put16(body + 132, 8);
	body[134] = 1;
	body[135] = 1;
	body[136] = (uint8_t)(16000 >> 12);
	body[137] = (uint8_t)(16000 >> 4);
	body[138] = (uint8_t)((16000 & 0xf) << 4 | 1);
	body[139] = 1;
	n = icmp4_write(pkt, 11, 0, "198.18.0.5", body, 140);
	pkt[20 + 5] = 32;
	cr_assert_eq(icmp_quote_parse4(pkt, n, &out), 0);
	cr_expect_eq(out.has_ext, 1);
	cr_expect_eq(out.mpls_n, 1);
	cr_expect_eq(out.mpls[0] >> 12, 16000u);
	cr_expect_eq(out.udp_sum, 0xabcd);
	/* A length field pointing past the end is ignored, not trusted. */
	pkt[20 + 5] = 200;
	cr_assert_eq(icmp_quote_parse4(pkt, n, &out), 0);
	cr_expect_eq(out.has_ext, 0);
}

Test(icmp_quote, v4_rejects_non_errors_and_garbage)
{
	uint8_t q[64], pkt[128];
	struct icmp_quote out;
	size_t n = icmp4_write(pkt, 0, 0, "198.18.0.5", q,
			       quote4_write(q, 17, 1, 1, 1, 2, 3));

	errno = 0;
	cr_expect_eq(icmp_quote_parse4(pkt, n, &out), -1);
	cr_expect_eq(errno, EPROTO);
	pkt[20] = 11;
	pkt[28] = 0x65; /* quoted packet claims IPv6 */
	cr_expect_eq(icmp_quote_parse4(pkt, n, &out), -1);
	cr_expect_eq(errno, EPROTO);
	pkt[28] = 0x4f; /* IHL 60 bytes: more than the quote holds */
	cr_expect_eq(icmp_quote_parse4(pkt, n, &out), -1);
	cr_expect_eq(errno, EBADMSG);
	cr_expect_eq(icmp_quote_parse4(NULL, 0, &out), -1);
}

Test(icmp_quote, v4_every_truncation_fails_or_shortens_cleanly)
{
	uint8_t q[64], pkt[128];
	struct icmp_quote out;
	size_t n = icmp4_write(pkt, 11, 0, "198.18.0.5", q,
			       quote4_write(q, 17, 1, 1, 40000, 33434, 0x0012beef));

	for (size_t len = 0; len < n; len++) {
		/* A heap copy of exactly len bytes lets ASan catch overreads. */
		uint8_t *p = malloc(len ? len : 1);
		int rc;

		memcpy(p, pkt, len);
		if (len >= 4)
			put16(p + 2, (unsigned)len); /* the IP total length agrees */
		rc = icmp_quote_parse4(p, len, &out);
		if (len < 48)
			cr_expect_eq(rc, -1, "len %zu", len);
		else
			cr_expect(rc == 0 && out.l4_len == len - 48, "len %zu", len);
		free(p);
	}
}

/* ICMPv6 error: type/code, the quoted IPv6 header, ext headers, UDP 8 bytes. */
static size_t icmp6_write(uint8_t *p, uint8_t type, uint8_t code, int hop_by_hop)
{
	size_t off = 8;

	memset(p, 0, 120);
	p[0] = type;
	p[1] = code;
	p[off] = 0x60;
	p[off + 1] = 0x0a; /* flow label 0xabcde */
	p[off + 2] = 0xbc;
	p[off + 3] = 0xde;
	p[off + 6] = hop_by_hop ? 0 : 17;
	p[off + 7] = 1;
	put_addr6(p + off + 8, "2001:2::1:2");
	put_addr6(p + off + 24, "2001:2::4:2");
	off += 40;
	if (hop_by_hop) {
		p[off] = 17;
		p[off + 1] = 0;
		off += 8;
	}
	put16(p + off, 40002);
	put16(p + off + 2, 33434);
	put16(p + off + 4, 18);
	put16(p + off + 6, 0xbeef);
	return off + 8;
}

Test(icmp_quote, v6_time_exceeded_and_port_unreachable)
{
	uint8_t pkt[128];
	struct wire_addr from;
	struct icmp_quote out;
	size_t n = icmp6_write(pkt, 3, 0, 0);

	cr_assert_eq(wire_addr_parse("2001:2::1:1", &from), 0);
	cr_assert_eq(icmp_quote_parse6(pkt, n, &from, &out), 0);
	cr_expect_eq(out.kind, ICMP_QUOTE_TTL_EXCEEDED);
	cr_expect(addr_is(&out.from, "2001:2::1:1"));
	cr_expect(addr_is(&out.src, "2001:2::1:2"));
	cr_expect(addr_is(&out.dst, "2001:2::4:2"));
	cr_expect_eq(out.flow_label, 0xabcde);
	cr_expect_eq(out.sport, 40002);
	cr_expect_eq(out.udp_sum, 0xbeef);
	n = icmp6_write(pkt, 1, 4, 0);
	cr_assert_eq(icmp_quote_parse6(pkt, n, &from, &out), 0);
	cr_expect_eq(out.kind, ICMP_QUOTE_PORT_UNREACH);
	/* Echo reply (129) is informational: not ours. */
	pkt[0] = 129;
	cr_expect_eq(icmp_quote_parse6(pkt, n, &from, &out), -1);
}

Test(icmp_quote, v6_skips_extension_headers)
{
	uint8_t pkt[128];
	struct icmp_quote out;
	size_t n = icmp6_write(pkt, 3, 0, 1);

	cr_assert_eq(icmp_quote_parse6(pkt, n, NULL, &out), 0);
	cr_expect_eq(out.proto, 17);
	cr_expect_eq(out.dport, 33434);
	cr_expect_eq(out.udp_sum, 0xbeef);
}

Test(icmp_quote, v6_every_truncation_fails_or_shortens_cleanly)
{
	uint8_t pkt[128];
	struct icmp_quote out;
	size_t n = icmp6_write(pkt, 3, 0, 1);

	for (size_t len = 0; len < n; len++) {
		uint8_t *p = malloc(len ? len : 1);
		int rc;

		memcpy(p, pkt, len);
		rc = icmp_quote_parse6(p, len, NULL, &out);
		if (len < 48)
			cr_expect_eq(rc, -1, "len %zu", len);
		else
			cr_expect(rc == 0 && out.sport == (len >= 60 ? 40002 : 0), "len %zu", len);
		free(p);
	}
}
