/* Tests of the prober's pcap dump: only flows with a lost probe are written,
 * with their replies and trace packets, in time order; rebuilt IPv4/IPv6 and
 * UDP headers carry valid checksums; libpcap reads the file back; the size
 * bound holds; probes still within the reply timeout are not called lost. */
#include "dump.h"
#include "probe.h"
#include "unit_util.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T0 1800000000000000000ull
#define MS 1000000ull

static char t_path[64];

static void t_setup(void)
{
	unit_tmp_path(t_path, sizeof(t_path), "dump", ".pcap");
}

static void t_teardown(void)
{
	unlink(t_path);
}

TestSuite(prober_dump, .init = t_setup, .fini = t_teardown);

/* A UDP probe or reply of flow sport towards target (family's addresses). */
static void t_add(struct dump_ring *r, int family, enum dump_kind kind, uint16_t sport,
		  uint32_t seq, uint64_t ts_ns)
{
	struct probe_msg m = { .type = kind == DUMP_PROBE ? PROBE_REQUEST : PROBE_REPLY,
			       .session = 7, .flow_id = sport - 40000u, .seq = seq,
			       .tx_ns = ts_ns };
	uint8_t buf[PROBE_HDR_LEN], me[16] = { 0 }, tgt[16] = { 0 };
	struct dump_pkt p = { 0 };

	if (family == AF_INET) {
		inet_pton(AF_INET, "198.18.0.1", me);
		inet_pton(AF_INET, "198.18.1.2", tgt);
	} else {
		inet_pton(AF_INET6, "2001:2::1", me);
		inet_pton(AF_INET6, "2001:2::1:2", tgt);
	}
	probe_msg_encode(&m, buf);
	p.kind = kind;
	p.layer = DUMP_L_PAYLOAD;
	p.family = family;
	p.proto = IPPROTO_UDP;
	p.ttl = 64;
	memcpy(p.src, kind == DUMP_PROBE ? me : tgt, 16);
	memcpy(p.dst, kind == DUMP_PROBE ? tgt : me, 16);
	p.sport = kind == DUMP_PROBE ? sport : PROBE_PORT_DEFAULT;
	p.dport = kind == DUMP_PROBE ? PROBE_PORT_DEFAULT : sport;
	memcpy(p.flow_target, tgt, 16);
	p.flow_sport = sport;
	p.flow_proto = IPPROTO_UDP;
	p.seq = seq;
	p.ts_ns = ts_ns;
	p.bytes = buf;
	p.len = sizeof(buf);
	dump_ring_add(r, &p);
}

/* Fold the checksum of len bytes at b (with sum already holding a pseudo
 * header): 0 when b carries a valid Internet checksum. */
static uint16_t t_csum(uint32_t sum, const uint8_t *b, size_t len)
{
	return probe_csum_fold(probe_csum_add(sum, b, len));
}

struct t_read {
	unsigned packets, probes, replies, trace;
	uint32_t unanswered[16];
	unsigned nunanswered;
	uint16_t sports[64];
};

static void t_read(const char *path, int family, struct t_read *out)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(path, err);
	struct pcap_pkthdr *h;
	const u_char *d;
	uint64_t last_us = 0;
	uint8_t seen[64] = { 0 };

	cr_assert_not_null(p, "%s", err);
	cr_assert_eq(pcap_datalink(p), DLT_RAW);
	memset(out, 0, sizeof(*out));
	while (pcap_next_ex(p, &h, &d) == 1) {
		size_t ip = family == AF_INET ? 20 : 40;
		uint64_t us = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
		const uint8_t *u = d + ip;
		uint32_t sum;
		struct probe_msg m;

		cr_assert_geq(us, last_us, "packets out of time order");
		last_us = us;
		out->packets++;
		if (family == AF_INET) {
			cr_assert_eq(d[0], 0x45);
			if (d[9] != IPPROTO_UDP) {
				out->trace++;
				continue;
			}
			cr_assert_eq(t_csum(0, d, 20), 0, "IPv4 header checksum");
			sum = probe_csum_add(0, d + 12, 8);
			sum = probe_csum_add(sum, (const uint8_t[]){ 0, IPPROTO_UDP, u[4], u[5] }, 4);
		} else {
			cr_assert_eq(d[0] >> 4, 6);
			cr_assert_eq(d[6], IPPROTO_UDP);
			sum = probe_csum_add(0, d + 8, 32);
			sum = probe_csum_add(sum, (const uint8_t[]){ 0, 0, u[4], u[5], 0, 0, 0, IPPROTO_UDP }, 8);
		}
		cr_assert_eq(h->caplen, ip + 8 + PROBE_HDR_LEN);
		cr_assert_eq(t_csum(sum, u, 8 + PROBE_HDR_LEN), 0, "UDP checksum");
		cr_assert_eq(probe_msg_decode(u + 8, PROBE_HDR_LEN, &m), 0);
		if (m.type == PROBE_REQUEST) {
			out->probes++;
			seen[m.seq] = 1;
			out->sports[m.seq] = (uint16_t)(u[0] << 8 | u[1]);
		} else {
			out->replies++;
			seen[m.seq] = 2;
		}
	}
	pcap_close(p);
	for (uint32_t s = 0; s < 64; s++)
		if (seen[s] == 1)
			out->unanswered[out->nunanswered++] = s;
}

static void t_lossy_flow_only(int family)
{
	struct dump_ring *r = dump_ring_new(1024);
	struct dump_limits lim = { 60000 * MS, 1000 * MS, 1 << 20 };
	struct dump_stats st;
	struct t_read rd;
	char err[256];

	cr_assert_not_null(r);
	for (uint32_t s = 0; s < 20; s++) {
		uint64_t t = T0 + s * 100 * MS;

		t_add(r, family, DUMP_PROBE, 40001, s, t);      /* lossy: 3 and 7 lost */
		if (s != 3 && s != 7)
			t_add(r, family, DUMP_REPLY, 40001, s, t + 2 * MS);
		t_add(r, family, DUMP_PROBE, 40002, s, t + 1 * MS); /* clean */
		t_add(r, family, DUMP_REPLY, 40002, s, t + 3 * MS);
	}
	cr_assert_eq(dump_write(r, t_path, &lim, &st, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(st.flows_lossy, 1);
	cr_assert_eq(st.lost, 2);
	t_read(t_path, family, &rd);
	cr_assert_eq(rd.probes, 20, "the lossy flow's probes, and only its");
	cr_assert_eq(rd.replies, 18);
	cr_assert_eq(rd.nunanswered, 2);
	cr_assert_eq(rd.unanswered[0], 3);
	cr_assert_eq(rd.unanswered[1], 7);
	for (unsigned i = 0; i < 20; i++)
		cr_assert_eq(rd.sports[i], 40001);
	dump_ring_free(r);
}

Test(prober_dump, writes_only_the_lossy_flow_ipv4)
{
	t_lossy_flow_only(AF_INET);
}

Test(prober_dump, writes_only_the_lossy_flow_ipv6)
{
	t_lossy_flow_only(AF_INET6);
}

Test(prober_dump, recent_unanswered_probe_is_not_lost_yet)
{
	struct dump_ring *r = dump_ring_new(64);
	struct dump_limits lim = { 60000 * MS, 1000 * MS, 1 << 20 };
	struct dump_stats st;
	char err[256];

	t_add(r, AF_INET, DUMP_PROBE, 40001, 0, T0);
	t_add(r, AF_INET, DUMP_REPLY, 40001, 0, T0 + MS);
	t_add(r, AF_INET, DUMP_PROBE, 40001, 1, T0 + 500 * MS); /* its reply may come */
	cr_assert_eq(dump_write(r, t_path, &lim, &st, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(st.flows_lossy, 0);
	cr_assert_eq(st.packets, 0);
	dump_ring_free(r);
}

Test(prober_dump, trace_packets_of_the_lossy_flow_come_along)
{
	struct dump_ring *r = dump_ring_new(64);
	struct dump_limits lim = { 60000 * MS, 1000 * MS, 1 << 20 };
	uint8_t icmp[28] = { 0x45, 0, 0, 28, 0, 0, 0, 0, 63, IPPROTO_ICMP };
	struct dump_pkt p = { 0 };
	struct dump_stats st;
	struct t_read rd;
	char err[256];

	t_add(r, AF_INET, DUMP_PROBE, 40001, 0, T0);
	p.kind = DUMP_TRACE_REPLY;
	p.layer = DUMP_L_IP;
	p.family = AF_INET;
	p.proto = IPPROTO_ICMP;
	inet_pton(AF_INET, "198.18.1.2", p.flow_target);
	p.flow_sport = 40001;
	p.flow_proto = IPPROTO_UDP;
	p.ts_ns = T0 + 10 * MS;
	p.bytes = icmp;
	p.len = sizeof(icmp);
	dump_ring_add(r, &p);
	p.flow_sport = 40009; /* another flow's: left out */
	dump_ring_add(r, &p);
	t_add(r, AF_INET, DUMP_PROBE, 40001, 1, T0 + 5000 * MS);
	t_add(r, AF_INET, DUMP_REPLY, 40001, 1, T0 + 5001 * MS);
	cr_assert_eq(dump_write(r, t_path, &lim, &st, err, sizeof(err)), 0, "%s", err);
	t_read(t_path, AF_INET, &rd);
	cr_assert_eq(rd.trace, 1);
	cr_assert_eq(rd.probes, 2);
	cr_assert_eq(rd.nunanswered, 1);
	dump_ring_free(r);
}

Test(prober_dump, size_bound_and_ring_bound_hold)
{
	struct dump_ring *r = dump_ring_new(100);
	struct dump_limits lim = { 60000 * MS, 1000 * MS, 24 + 10 * (16 + 76) };
	struct dump_stats st;
	struct t_read rd;
	char err[256];

	for (uint32_t s = 0; s < 60; s++) /* no replies at all: the ring keeps 100 */
		t_add(r, AF_INET, DUMP_PROBE, 40001 + s % 2, s, T0 + s * 100 * MS);
	cr_assert_eq(dump_write(r, t_path, &lim, &st, err, sizeof(err)), 0, "%s", err);
	cr_assert(st.truncated);
	cr_assert_eq(st.packets, 10);
	t_read(t_path, AF_INET, &rd);
	cr_assert_eq(rd.packets, 10);
	cr_assert_leq(st.bytes, lim.max_bytes);
	dump_ring_free(r);
}

Test(prober_dump, unwritable_path_named_in_the_error)
{
	struct dump_ring *r = dump_ring_new(8);
	struct dump_limits lim = { 60000 * MS, 1000 * MS, 1 << 20 };
	char err[256] = "";

	t_add(r, AF_INET, DUMP_PROBE, 40001, 0, T0);
	cr_assert_eq(dump_write(r, "/nonexistent-dir/x.pcap", &lim, NULL, err, sizeof(err)), -1);
	cr_assert(strstr(err, "/nonexistent-dir/x.pcap"), "%s", err);
	dump_ring_free(r);
}
