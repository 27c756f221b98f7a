/* Wire stream codec: golden bytes, round trips, every malformed-frame class
 * rejected with a reason, and the HMAC against published test vectors. */
#include "wire.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static void addr_set(struct wire_addr *a, const char *s)
{
	cr_assert_eq(wire_addr_parse(s, a), 0, "parse %s", s);
}

/* A batch with two flows and one path, one IPv6 flow, one unanswered hop. */
static void batch_sample_fill(struct wire_batch *b)
{
	memset(b, 0, sizeof(*b));
	strcpy(b->prober, "host1");
	b->seq = 7;
	b->start_ms = 1700000000000;
	b->end_ms = 1700000010000;
	b->health.if_rx_errors = 1;
	b->health.if_tx_dropped = 0x100000000ull;
	b->health.links_down = 2;
	b->health.spool_dropped = 3;
	b->nflows = 2;
	b->flows = calloc(2, sizeof(*b->flows));
	addr_set(&b->flows[0].src, "198.18.1.2");
	addr_set(&b->flows[0].dst, "198.18.2.2");
	b->flows[0].proto = WIRE_PROTO_UDP;
	b->flows[0].dscp = 46;
	b->flows[0].sport = 40001;
	b->flows[0].dport = 31338;
	b->flows[0].sent = 100;
	b->flows[0].received = 90;
	b->flows[0].lost_fwd = 7;
	b->flows[0].lost_rev = 3;
	b->flows[0].rtt_min_ns = 10000;
	b->flows[0].rtt_p50_ns = 20000;
	b->flows[0].rtt_p99_ns = 90000;
	b->flows[0].rtt_max_ns = 123456789012ull;
	addr_set(&b->flows[1].src, "2001:db8::1");
	addr_set(&b->flows[1].dst, "2001:db8::2");
	b->flows[1].proto = WIRE_PROTO_TCP;
	b->flows[1].sport = 40002;
	b->flows[1].dport = 31338;
	b->flows[1].sent = 5;
	b->flows[1].lost_fwd = 5;
	b->flows[1].target_down = 1;
	b->npaths = 1;
	b->paths = calloc(1, sizeof(*b->paths));
	b->paths[0].src = b->flows[0].src;
	b->paths[0].dst = b->flows[0].dst;
	b->paths[0].proto = WIRE_PROTO_UDP;
	b->paths[0].sport = 40001;
	b->paths[0].dport = 31338;
	b->paths[0].nhops = 3;
	addr_set(&b->paths[0].hops[0], "198.18.1.1");
	addr_set(&b->paths[0].hops[2], "198.18.2.1");
	b->paths[0].hop_replies[0] = 3;
	b->paths[0].hop_probes[0] = 3;
	b->paths[0].hop_probes[1] = 3;
	b->paths[0].hop_replies[2] = 2;
	b->paths[0].hop_probes[2] = 3;
}

Test(report, ack_golden_bytes)
{
	static const uint8_t want[] = { 'F', 'M', 'R', '1', 0, 1, 0, 3, 0, 0,
					0, 8, 0, 0, 0, 0, 0, 0, 0, 0,
					0, 0, 0x12, 0x34 };
	uint8_t *buf;
	size_t len;

	cr_assert_eq(wire_ack_encode(0x1234, &buf, &len), 0);
	cr_assert_eq(len, sizeof(want));
	cr_assert_arr_eq(buf, want, sizeof(want));
	free(buf);
}

Test(report, hello_golden_bytes)
{
	static const uint8_t want[] = { 'F', 'M', 'R', '1', 0, 1, 0, 1, 0,
					0, 0, 6, 0, 0, 0, 0, 5, 'h',
					'o', 's', 't', '1' };
	char name[WIRE_NAME_MAX];
	uint8_t *buf;
	size_t len;

	cr_assert_eq(wire_hello_encode("host1", &buf, &len), 0);
	cr_assert_eq(len, sizeof(want));
	cr_assert_arr_eq(buf, want, sizeof(want));
	cr_assert_eq(wire_hello_decode(buf + 16, len - 16, name, NULL, 0), 0);
	cr_assert_str_eq(name, "host1");
	free(buf);
}

/* The wants-targets HELLO differs from the plain one only in the flags word. */
Test(report, hello_want_targets_golden_bytes)
{
	static const uint8_t want[] = { 'F', 'M', 'R', '1', 0, 1, 0, 1, 0,
					0, 0, 6, 0, 0, 0, 2, 5, 'h',
					'o', 's', 't', '1' };
	char name[WIRE_NAME_MAX], err[128];
	uint32_t plen;
	uint8_t *buf;
	size_t len;
	int type;

	cr_assert_eq(wire_hello_encode_flags("host1", WIRE_FLAG_WANT_TARGETS, &buf, &len), 0);
	cr_assert_eq(len, sizeof(want));
	cr_assert_arr_eq(buf, want, sizeof(want));
	cr_assert_eq(wire_header_decode(buf, len, &type, &plen, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(type, WIRE_HELLO);
	cr_assert_eq(wire_header_flags(buf), WIRE_FLAG_WANT_TARGETS);
	cr_assert_eq(wire_hello_decode(buf + 16, len - 16, name, NULL, 0), 0);
	cr_assert_str_eq(name, "host1");
	free(buf);
	/* a signed one keeps the flag next to AUTH */
	cr_assert_eq(wire_hello_encode_flags("host1", WIRE_FLAG_WANT_TARGETS, &buf, &len), 0);
	cr_assert_eq(wire_frame_sign(&buf, &len, (const uint8_t *)"0123456789abcdef", 16), 0);
	cr_assert_eq(wire_header_flags(buf), WIRE_FLAG_WANT_TARGETS | WIRE_FLAG_AUTH);
	cr_assert_eq(wire_header_decode(buf, len, &type, &plen, err, sizeof(err)), 0, "%s", err);
	free(buf);
	errno = 0;
	cr_assert_eq(wire_hello_encode_flags("host1", 0x4, &buf, &len), -1);
	cr_assert_eq(errno, EINVAL);
}

Test(report, targets_golden_bytes_and_round_trip)
{
	static const char text[] = "# faultmesh targets v1\n10.0.0.1 flows=4\n";
	static const uint8_t want_hdr[] = { 'F', 'M', 'R', '1', 0, 1, 0, 5,
					    0, 0, 0, 4 + 40, 0, 0, 0, 0,
					    0, 0, 0, 40 };
	char *out, err[128];
	size_t len, outlen;
	uint8_t *buf;
	uint32_t plen;
	int type;

	cr_assert_eq(sizeof(text) - 1, 40);
	cr_assert_eq(wire_targets_encode(text, sizeof(text) - 1, &buf, &len), 0);
	cr_assert_eq(len, sizeof(want_hdr) + 40);
	cr_assert_arr_eq(buf, want_hdr, sizeof(want_hdr));
	cr_assert_arr_eq(buf + sizeof(want_hdr), text, 40);
	cr_assert_eq(wire_header_decode(buf, len, &type, &plen, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(type, WIRE_TARGETS);
	cr_assert_eq(wire_targets_decode(buf + 16, plen, &out, &outlen, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(outlen, 40);
	cr_assert_str_eq(out, text);
	free(out);
	/* every proper prefix is truncated, a trailing byte is refused */
	for (size_t i = 0; i < plen; i++)
		cr_expect_eq(wire_targets_decode(buf + 16, i, &out, &outlen, err, sizeof(err)), -1,
			     "prefix %zu accepted", i);
	free(buf);
	/* an empty list (header only, or nothing) is a valid frame */
	cr_assert_eq(wire_targets_encode("", 0, &buf, &len), 0);
	cr_assert_eq(len, 20);
	cr_assert_eq(wire_targets_decode(buf + 16, 4, &out, &outlen, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(outlen, 0);
	cr_assert_str_eq(out, "");
	free(out);
	free(buf);
}

Test(report, targets_malformed_rejected)
{
	static const uint8_t nul[] = { 0, 0, 0, 3, 'a', 0, 'b' };
	static const uint8_t trailing[] = { 0, 0, 0, 1, 'a', 'b' };
	static const uint8_t huge[] = { 0x00, 0x10, 0x00, 0x01, 'a' };
	char *out = NULL, err[128];
	size_t outlen;
	uint8_t *buf;
	size_t len;

	cr_assert_eq(wire_targets_decode(nul, sizeof(nul), &out, &outlen, err, sizeof(err)), -1);
	cr_assert(strstr(err, "NUL"), "%s", err);
	cr_assert_eq(wire_targets_decode(trailing, sizeof(trailing), &out, &outlen, err, sizeof(err)), -1);
	cr_assert(strstr(err, "trailing"), "%s", err);
	cr_assert_eq(wire_targets_decode(huge, sizeof(huge), &out, &outlen, err, sizeof(err)), -1);
	cr_assert(strstr(err, "over"), "%s", err);
	cr_assert_null(out);
	errno = 0;
	cr_assert_eq(wire_targets_encode("a\0b", 3, &buf, &len), -1);
	cr_assert_eq(errno, EINVAL);
}

/* Golden bytes of a one-flow batch pin the layout schemas/wire.md states. */
Test(report, batch_one_flow_golden_bytes)
{
	static const uint8_t want[] = {
		'F', 'M', 'R', '1', 0, 1, 0, 2, 0, 0, 0, 163, 0, 0, 0, 0,
		1, 'h', /* name */
		0, 0, 0, 0, 0, 0, 0, 9, /* seq */
		0, 0, 0, 0, 0, 0, 0x03, 0xe8, /* start 1000 */
		0, 0, 0, 0, 0, 0, 0x07, 0xd0, /* end 2000 */
		0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2,
		0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 4,
		0, 0, 0, 5, 0, 0, 0, 6, /* links_down, spool_dropped */
		0, 0, 0, 1, 0, 0, 0, 0, /* nflows, npaths */
		4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 1, 2,
		4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 2, 2,
		17, 10, 0x9c, 0x41, 0x7a, 0x6a, /* udp, dscp 10, 40001, 31338 */
		0, 0, 0, 100, 0, 0, 0, 97, 0, 0, 0, 2, 0, 0, 0, 1,
		0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2,
		0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 4,
		0, /* target_down */
	};
	struct wire_flow f = { 0 };
	struct wire_batch b = { 0 };
	uint8_t *buf;
	size_t len;

	strcpy(b.prober, "h");
	b.seq = 9;
	b.start_ms = 1000;
	b.end_ms = 2000;
	b.health = (struct wire_health){ 1, 2, 3, 4, 5, 6 };
	addr_set(&f.src, "198.18.1.2");
	addr_set(&f.dst, "198.18.2.2");
	f.proto = WIRE_PROTO_UDP;
	f.dscp = 10;
	f.sport = 40001;
	f.dport = 31338;
	f.sent = 100;
	f.received = 97;
	f.lost_fwd = 2;
	f.lost_rev = 1;
	f.rtt_min_ns = 1, f.rtt_p50_ns = 2, f.rtt_p99_ns = 3, f.rtt_max_ns = 4;
	b.nflows = 1;
	b.flows = &f;
	cr_assert_eq(wire_batch_encode(&b, &buf, &len), 0);
	cr_assert_eq(len, sizeof(want), "len %zu", len);
	cr_assert_arr_eq(buf, want, sizeof(want));
	free(buf);
}

Test(report, batch_round_trip)
{
	struct wire_batch b, d;
	char err[128];
	uint8_t *buf;
	size_t len;
	uint32_t plen;
	int type;

	batch_sample_fill(&b);
	cr_assert_eq(wire_batch_encode(&b, &buf, &len), 0);
	cr_assert_eq(wire_header_decode(buf, len, &type, &plen, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(type, WIRE_BATCH);
	cr_assert_eq(plen, len - WIRE_HEADER_LEN);
	cr_assert_eq(wire_batch_decode(buf + 16, plen, &d, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(d.prober, b.prober);
	cr_assert_eq(d.seq, b.seq);
	cr_assert_eq(d.start_ms, b.start_ms);
	cr_assert_eq(d.end_ms, b.end_ms);
	cr_assert_eq(memcmp(&d.health, &b.health, sizeof(d.health)), 0);
	cr_assert_eq(d.nflows, 2);
	cr_assert_eq(d.npaths, 1);
	cr_assert_eq(memcmp(d.flows, b.flows, 2 * sizeof(*d.flows)), 0);
	cr_assert_eq(memcmp(d.paths, b.paths, sizeof(*d.paths)), 0);
	wire_batch_free(&d);
	wire_batch_free(&b);
	free(buf);
}

Test(report, error_round_trip_sanitizes_text)
{
	char reason[64], err[128];
	uint8_t *buf;
	size_t len;

	cr_assert_eq(wire_error_encode("bad\nframe", &buf, &len), 0);
	cr_assert_eq(wire_error_decode(buf + 16, len - 16, reason, sizeof(reason), err, sizeof(err)), 0);
	cr_assert_str_eq(reason, "bad?frame");
	free(buf);
}

Test(report, addr_text_both_families)
{
	struct wire_addr a = { 0 };
	char s[64];

	addr_set(&a, "198.18.0.1");
	cr_assert_eq(a.family, AF_INET);
	cr_assert_str_eq(wire_addr_str(&a, s, sizeof(s)), "198.18.0.1");
	addr_set(&a, "2001:db8::5");
	cr_assert_eq(a.family, AF_INET6);
	cr_assert_str_eq(wire_addr_str(&a, s, sizeof(s)), "2001:db8::5");
	a.family = 0;
	cr_assert_str_eq(wire_addr_str(&a, s, sizeof(s)), "*");
	cr_assert_eq(wire_addr_parse("spine1", &a), -1);
}

Test(report, encoder_refuses_bad_input)
{
	struct wire_batch b = { 0 };
	uint8_t *buf;
	size_t len;

	cr_assert_eq(wire_hello_encode("bad name", &buf, &len), -1);
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(wire_hello_encode("", &buf, &len), -1);
	strcpy(b.prober, "h");
	b.seq = 0;
	cr_assert_eq(wire_batch_encode(&b, &buf, &len), -1);
	cr_assert_eq(errno, EINVAL);
}

/* ---- malformed frames, one class per row ---- */

struct hdr_case {
	const char *name;
	uint8_t hdr[16];
	const char *reason; /* substring the error must contain */
};

static const struct hdr_case hdr_cases[] = {
	{ "magic", { 'X', 'M', 'R', '1', 0, 1, 0, 2, 0, 0, 0, 8, 0, 0, 0, 0 }, "magic" },
	{ "version", { 'F', 'M', 'R', '1', 0, 2, 0, 2, 0, 0, 0, 8, 0, 0, 0, 0 }, "version" },
	{ "version0", { 'F', 'M', 'R', '1', 0, 0, 0, 2, 0, 0, 0, 8, 0, 0, 0, 0 }, "version" },
	{ "type", { 'F', 'M', 'R', '1', 0, 1, 0, 9, 0, 0, 0, 8, 0, 0, 0, 0 }, "type" },
	{ "huge", { 'F', 'M', 'R', '1', 0, 1, 0, 2, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0 }, "over limit" },
	/* each type's own limit: a HELLO, an ACK, an ERROR past their largest
	 * honest size are refused on the header (a buffer before HELLO stays
	 * HELLO-sized) */
	{ "hello 97", { 'F', 'M', 'R', '1', 0, 1, 0, 1, 0, 0, 0, 97, 0, 0, 0, 0 }, "over limit" },
	{ "ack 41", { 'F', 'M', 'R', '1', 0, 1, 0, 3, 0, 0, 0, 41, 0, 0, 0, 0 }, "over limit" },
	{ "error 1059", { 'F', 'M', 'R', '1', 0, 1, 0, 4, 0, 0, 4, 35, 0, 0, 0, 0 }, "over limit" },
	{ "flags", { 'F', 'M', 'R', '1', 0, 1, 0, 2, 0, 0, 0, 8, 0, 0, 0, 2 }, "flags" },
	{ "short mac", { 'F', 'M', 'R', '1', 0, 1, 0, 2, 0, 0, 0, 8, 0, 0, 0, 1 }, "MAC" },
	{ "type6", { 'F', 'M', 'R', '1', 0, 1, 0, 6, 0, 0, 0, 8, 0, 0, 0, 0 }, "type" },
	{ "hello flag4", { 'F', 'M', 'R', '1', 0, 1, 0, 1, 0, 0, 0, 8, 0, 0, 0, 4 }, "flags" },
	{ "targets want", { 'F', 'M', 'R', '1', 0, 1, 0, 5, 0, 0, 0, 8, 0, 0, 0, 2 }, "flags" },
};

Test(report, malformed_headers_rejected)
{
	char err[128];
	uint32_t plen;
	size_t i;
	int type;

	for (i = 0; i < sizeof(hdr_cases) / sizeof(hdr_cases[0]); i++) {
		err[0] = '\0';
		cr_expect_eq(wire_header_decode(hdr_cases[i].hdr, 16, &type, &plen, err, sizeof(err)), -1,
			     "%s accepted", hdr_cases[i].name);
		cr_expect(strstr(err, hdr_cases[i].reason), "%s: reason '%s'", hdr_cases[i].name, err);
	}
	cr_assert_eq(wire_header_decode(hdr_cases[0].hdr, 15, &type, &plen, err, sizeof(err)), -1);
	cr_assert(strstr(err, "truncated"));
}

/* Every proper prefix of a valid batch payload is rejected as truncated. */
Test(report, truncated_batch_rejected_at_every_length)
{
	struct wire_batch b, d;
	char err[128];
	uint8_t *buf;
	size_t len, cut;

	batch_sample_fill(&b);
	cr_assert_eq(wire_batch_encode(&b, &buf, &len), 0);
	for (cut = 0; cut < len - 16; cut++) {
		cr_assert_eq(wire_batch_decode(buf + 16, cut, &d, err, sizeof(err)), -1, "cut %zu", cut);
		cr_assert_null(d.flows);
		cr_assert_null(d.paths);
	}
	wire_batch_free(&b);
	free(buf);
}

/* Offsets into the sample batch payload (name "host1" = 6 bytes). */
#define OFF_SEQ 6
#define OFF_NFLOWS (6 + 24 + 40)
#define OFF_NPATHS (OFF_NFLOWS + 4)
#define OFF_FLOW0 (OFF_NPATHS + 4)
#define OFF_PATH0 (OFF_FLOW0 + 2 * WIRE_FLOW_LEN)

struct mut_case {
	const char *name;
	size_t off;
	uint8_t val;
	const char *reason;
};

static const struct mut_case mut_cases[] = {
	{ "name length 0", 0, 0, "name" },
	{ "name char", 1, ' ', "name" },
	{ "seq 0", OFF_SEQ + 7, 0, "seq" },
	{ "huge nflows", OFF_NFLOWS, 0xff, "nflows" },
	{ "huge npaths", OFF_NPATHS, 0x7f, "npaths" },
	{ "npaths over cap", OFF_NPATHS + 1, 0x01, "over 65536" },
	{ "extra path", OFF_NPATHS + 3, 2, "truncated" },
	{ "family byte", OFF_FLOW0, 5, "address" },
	{ "v4 not mapped", OFF_FLOW0 + 11, 1, "address" },
	{ "src missing", OFF_FLOW0, 0, "address" },
	{ "proto", OFF_FLOW0 + 34, 1, "proto" },
	{ "dscp", OFF_FLOW0 + 35, 64, "dscp" },
	{ "received > sent", OFF_FLOW0 + 47, 200, "inconsistent" },
	{ "lost > sent", OFF_FLOW0 + 51, 200, "inconsistent" },
	{ "target_down", OFF_FLOW0 + 88, 2, "target_down" },
	{ "path proto", OFF_PATH0 + 34, 0, "proto" },
	{ "nhops", OFF_PATH0 + 39, 33, "hops" },
	{ "nhops past end", OFF_PATH0 + 39, 4, "truncated" },
	{ "star hop with bytes", OFF_PATH0 + 40 + 21 + 5, 1, "address" },
};

Test(report, mutated_batches_rejected)
{
	struct wire_batch b, d;
	char err[128];
	uint8_t *buf;
	size_t len, i;

	batch_sample_fill(&b);
	cr_assert_eq(wire_batch_encode(&b, &buf, &len), 0);
	for (i = 0; i < sizeof(mut_cases) / sizeof(mut_cases[0]); i++) {
		uint8_t *p = malloc(len - 16);

		memcpy(p, buf + 16, len - 16);
		p[mut_cases[i].off] = mut_cases[i].val;
		err[0] = '\0';
		cr_expect_eq(wire_batch_decode(p, len - 16, &d, err, sizeof(err)), -1, "%s accepted",
			     mut_cases[i].name);
		cr_expect(strstr(err, mut_cases[i].reason), "%s: reason '%s'", mut_cases[i].name, err);
		free(p);
	}
	/* a byte of trailing garbage */
	{
		uint8_t *p = malloc(len - 15);

		memcpy(p, buf + 16, len - 16);
		p[len - 16] = 0;
		cr_expect_eq(wire_batch_decode(p, len - 15, &d, err, sizeof(err)), -1);
		cr_expect(strstr(err, "trailing"), "%s", err);
		free(p);
	}
	wire_batch_free(&b);
	free(buf);
}

/* A 30-byte payload claiming 4 billion flows must fail before any allocation
 * (checked here by the reason: it is the count check, not out-of-memory). */
Test(report, hostile_count_rejected_before_allocation)
{
	uint8_t p[6 + 24 + 40 + 8] = { 1, 'h' };
	struct wire_batch d;
	char err[128];

	p[2 + 7] = 1; /* seq 1 */
	memset(p + 2 + 24 + 40, 0xff, 4);
	cr_assert_eq(wire_batch_decode(p, 2 + 24 + 40 + 8, &d, err, sizeof(err)), -1);
	cr_assert(strstr(err, "does not fit"), "%s", err);
}

/* ---- authentication ---- */

static void hex_to(const char *hex, uint8_t *out)
{
	size_t i;

	for (i = 0; hex[2 * i]; i++) {
		unsigned v;

		sscanf(hex + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

/* HMAC-SHA256 comes from libcrypto; the RFC 4231 vectors prove it is wired
 * right (key and data in the right order and lengths). */
Test(wire, mac_matches_rfc4231_vectors)
{
	static const struct {
		const char *key_hex; /* NULL: key_fill repeated key_len times */
		uint8_t key_fill;
		size_t key_len;
		const char *data;
		const char *mac_hex;
	} cases[] = {
		{ "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", 0, 20, "Hi There",
		  "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
		{ "4a656665", 0, 4, "what do ya want for nothing?",
		  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
		{ NULL, 0xaa, 131, "Test Using Larger Than Block-Size Key - Hash Key First",
		  "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
		{ NULL, 0xaa, 131,
		  "This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.",
		  "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t key[131], out[32], want[32];

		if (cases[i].key_hex)
			hex_to(cases[i].key_hex, key);
		else
			memset(key, cases[i].key_fill, cases[i].key_len);
		hex_to(cases[i].mac_hex, want);
		wire_mac(key, cases[i].key_len, (const uint8_t *)cases[i].data,
			 strlen(cases[i].data), out);
		cr_expect_arr_eq(out, want, 32, "RFC 4231 case %zu", i);
	}
}

/* The one frame-open path with a key: a signed frame of a type the reader
 * takes opens; any other key, an altered byte, a missing MAC, or a type the
 * reader does not take now is refused. */
static int frame_open_keyed(const uint8_t *f, size_t len, const uint8_t *key, size_t *body,
			    char *err, size_t errlen)
{
	struct wire_reader rd = { .types = 0x3e, .nkeys = 1 };
	struct wire_frame fr;

	rd.keys[0].bytes = key;
	rd.keys[0].len = 16;
	if (wire_frame_open(&rd, f, len, &fr, err, errlen) < 0)
		return -1;
	*body = fr.body_len;
	return fr.authenticated ? 0 : -1;
}

Test(report, signed_frame_verifies_and_tampering_fails)
{
	static const uint8_t key[16] = "0123456789abcdef";
	char err[128];
	uint8_t *buf;
	size_t len, body;
	uint32_t plen;
	uint64_t seq;
	int type;

	cr_assert_eq(wire_ack_encode(42, &buf, &len), 0);
	cr_assert_eq(wire_frame_sign(&buf, &len, key, sizeof(key)), 0);
	cr_assert_eq(len, 16 + 8 + 32);
	cr_assert_eq(wire_header_decode(buf, len, &type, &plen, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(plen, 40);
	cr_assert_eq(wire_header_flags(buf), WIRE_FLAG_AUTH);
	cr_assert_eq(frame_open_keyed(buf, len, key, &body, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(body, 8);
	cr_assert_eq(wire_ack_decode(buf + 16, body, &seq, err, sizeof(err)), 0);
	cr_assert_eq(seq, 42);
	cr_assert_eq(frame_open_keyed(buf, len, (const uint8_t *)"wrong key 123456", &body, err,
					 sizeof(err)),
		     -1);
	cr_assert(strstr(err, "MAC"));
	buf[23] ^= 1; /* alter the seq */
	cr_assert_eq(frame_open_keyed(buf, len, key, &body, err, sizeof(err)), -1);
	free(buf);

	cr_assert_eq(wire_ack_encode(42, &buf, &len), 0);
	cr_assert_eq(frame_open_keyed(buf, len, key, &body, err, sizeof(err)), -1);
	free(buf);
}
