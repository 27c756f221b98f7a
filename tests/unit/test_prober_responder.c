/* Responder tables: the per-flow received counter (keyed by address, port,
 * protocol, flow id and session) and the per-source token bucket; and its
 * UDP and TCP answers on a private loopback (root only). */
#include "prober/responder.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const struct responder_cfg cfg = { .rate_pps = 100, .burst = 10 }; /* no sockets */

static void addr_make(uint8_t a[16], uint8_t last)
{
	memset(a, 0, 16);
	a[10] = a[11] = 0xff;
	a[12] = 198;
	a[13] = 18;
	a[15] = last;
}

Test(responder, counts_per_flow_key)
{
	struct responder *r = responder_new_detached(&cfg);
	uint8_t a[16], b[16];

	cr_assert_not_null(r);
	addr_make(a, 1);
	addr_make(b, 2);
	cr_assert_eq(responder_count_bump(r, a, 40000, 17, 5, 77, 0), 1);
	cr_assert_eq(responder_count_bump(r, a, 40000, 17, 5, 77, 1), 2);
	cr_assert_eq(responder_count_bump(r, a, 40000, 17, 5, 77, 2), 3);
	/* any field of the key differing is another flow */
	cr_assert_eq(responder_count_bump(r, b, 40000, 17, 5, 77, 3), 1, "address");
	cr_assert_eq(responder_count_bump(r, a, 40001, 17, 5, 77, 3), 1, "port");
	cr_assert_eq(responder_count_bump(r, a, 40000, 6, 5, 77, 3), 1, "protocol");
	cr_assert_eq(responder_count_bump(r, a, 40000, 17, 6, 77, 3), 1, "flow id");
	cr_assert_eq(responder_count_bump(r, a, 40000, 17, 5, 78, 3), 1, "session (restart)");
	cr_assert_eq(responder_count_bump(r, a, 40000, 17, 5, 77, 4), 4);
	responder_close(r);
}

Test(responder, many_flows_evict_without_growing)
{
	struct responder *r = responder_new_detached(&cfg);
	uint8_t a[16];
	unsigned ones = 0;

	addr_make(a, 1);
	/* 4x the table: every bump succeeds; early flows get evicted and restart */
	for (uint32_t f = 0; f < 65536; f++)
		responder_count_bump(r, a, 40000, 17, f, 1, f);
	for (uint32_t f = 0; f < 64; f++)
		ones += responder_count_bump(r, a, 40000, 17, f, 1, 70000) == 1;
	cr_assert_gt(ones, 32, "evicted flows restart at 1");
	responder_close(r);
}

Test(responder, token_bucket_per_source)
{
	struct responder *r = responder_new_detached(&cfg);
	uint8_t a[16], b[16];
	int allowed = 0;

	addr_make(a, 1);
	addr_make(b, 2);
	for (int i = 0; i < 50; i++)
		allowed += responder_rate_allow(r, a, 1000);
	cr_assert_eq(allowed, 10, "the burst, then nothing in the same ms");
	cr_assert_eq(responder_rate_allow(r, b, 1000), 1, "another source has its own bucket");
	/* 100 pps refills one token per 10 ms */
	cr_assert_eq(responder_rate_allow(r, a, 1005), 0);
	cr_assert_eq(responder_rate_allow(r, a, 1010), 1);
	cr_assert_eq(responder_rate_allow(r, a, 1010), 0);
	allowed = 0;
	for (int i = 0; i < 50; i++)
		allowed += responder_rate_allow(r, a, 60000);
	cr_assert_eq(allowed, 10, "refill is capped at the burst");
	responder_close(r);
}

/* FNV-1a of an address: the limiter's slot hash (the old table was direct
 * mapped on it, the new one is 4-way set associative on the same hash). */
static uint32_t t_fnv(const uint8_t a[16])
{
	uint32_t h = 2166136261u;

	for (int i = 0; i < 16; i++)
		h = (h ^ a[i]) * 16777619u;
	return h;
}

/* n source addresses (198.18.x.y) that all share one limiter slot. */
static void colliding_addrs(uint8_t out[][16], int n)
{
	int found = 0;

	for (uint32_t i = 1; i < (1u << 16) && found < n; i++) {
		uint8_t a[16];

		addr_make(a, 0);
		a[14] = (uint8_t)(i >> 8);
		a[15] = (uint8_t)i;
		if (found == 0 || t_fnv(a) % 4096 == t_fnv(out[0]) % 4096)
			memcpy(out[found++], a, 16);
	}
	cr_assert_eq(found, n, "found %d colliding addresses", found);
}

/* Sources sharing a limiter slot used to reset it to a full burst on every
 * alternation (2 sources at 50k probes/s got 149,928 of 149,999 answered).
 * Now each gets at most its own budget: burst + rate x time. */
Test(responder, colliding_sources_get_no_more_than_per_source_budget)
{
	struct responder_cfg c = cfg; /* 100 pps, burst 10 per source */
	struct responder *r;
	uint8_t src[8][16];

	c.global_rate_pps = 1e9; /* the per-source limit alone */
	c.global_burst = 1e9;
	colliding_addrs(src, 8);
	for (int nsrc = 2; nsrc <= 8; nsrc *= 4) {
		long allowed = 0, sent = 150000;
		double budget = nsrc * (c.burst + c.rate_pps * 3.0);

		r = responder_new_detached(&c);
		/* 50k probes/s for 3 s, the sources taking turns */
		for (long i = 0; i < sent; i++)
			allowed += responder_rate_allow(r, src[i % nsrc], 1000 + i / 50);
		cr_expect_leq(allowed, (long)budget,
			      "%d colliding sources got %ld of %ld answered (budget %.0f)", nsrc,
			      allowed, sent, budget);
		cr_expect_geq(allowed, 2 * (long)(c.rate_pps * 3.0) * 9 / 10,
			      "the limiter starved its sources (%ld answered)", allowed);
		responder_close(r);
	}
}

/* 200 sources each within its own rate still get no more than the global
 * budget together (all 200 used to be answered in full); and the documented
 * default applies when none is set. */
Test(responder, many_source_flood_held_to_global_budget)
{
	struct responder_cfg c = cfg;
	struct responder *r;
	long allowed = 0;

	c.global_rate_pps = 1000;
	c.global_burst = 100;
	r = responder_new_detached(&c);
	/* 200 sources x 50 probes/s for 3 s: 30,000 probes, each source
	 * under its 100/s, together 10x the global rate */
	for (long i = 0; i < 30000; i++) {
		uint8_t a[16];

		addr_make(a, 0);
		a[14] = (uint8_t)(i % 200 / 100);
		a[15] = (uint8_t)(i % 200);
		allowed += responder_rate_allow(r, a, 1000 + i / 10);
	}
	cr_expect_leq(allowed, 100 + 1000 * 3, "200 sources got %ld answered", allowed);
	cr_expect_geq(allowed, 1000 * 3 * 9 / 10, "the global budget was not used (%ld)", allowed);
	responder_close(r);

	/* defaults: a burst of RESPONDER_GLOBAL_BURST_DEFAULT in one instant */
	r = responder_new_detached(&cfg);
	allowed = 0;
	for (long i = 0; i < 20000; i++) {
		uint8_t a[16];

		addr_make(a, 0);
		a[13] = (uint8_t)(i >> 8);
		a[14] = (uint8_t)i;
		allowed += responder_rate_allow(r, a, 5000);
	}
	cr_expect_eq(allowed, (long)RESPONDER_GLOBAL_BURST_DEFAULT, "default global burst: %ld",
		     allowed);
	responder_close(r);
}

/* ---- TCP replies on a private loopback ---- */

/* A responder answering udp on udp_port and tcp on tcp_port (0: off) in a
 * private network namespace of this test's process; skips without root. */
static struct responder *t_loopback_responder(uint16_t udp_port, uint16_t tcp_port)
{
	struct responder_cfg c = { .rate_pps = 1000, .burst = 100 };
	char err[256];
	struct responder *r;

	if (geteuid() != 0)
		cr_skip_test("needs root for a private network namespace and raw sockets");
	cr_assert_eq(unshare(CLONE_NEWNET), 0, "unshare: %s", strerror(errno));
	cr_assert_eq(system("ip link set lo up"), 0);
	c.port[probe_kind_index(&probe_udp_ops)] = udp_port;
	c.port[probe_kind_index(&probe_tcp_ops)] = tcp_port;
	r = responder_open(&c, err, sizeof(err));
	cr_assert_not_null(r, "%s", err);
	return r;
}

static uint16_t t_csum(const uint8_t *p, size_t n, uint32_t sum)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Send a SYN from 127.0.0.1:sport to 127.0.0.1:dport with optlen bytes of
 * options (0, or 12: NOP NOP timestamps) through a raw socket. */
static void t_syn_send(int fd, uint16_t sport, uint16_t dport, size_t optlen)
{
	uint8_t seg[32] = { 0 }, pseudo[12 + 32];
	struct sockaddr_in to = { .sin_family = AF_INET };
	size_t len = 20 + optlen;
	uint16_t sum;

	seg[0] = (uint8_t)(sport >> 8), seg[1] = (uint8_t)sport;
	seg[2] = (uint8_t)(dport >> 8), seg[3] = (uint8_t)dport;
	seg[4] = 0x00, seg[5] = 0x07, seg[6] = 0x12, seg[7] = 0x34; /* flow 7 */
	seg[12] = (uint8_t)((len / 4) << 4);
	seg[13] = 0x02; /* SYN */
	seg[14] = 0xff, seg[15] = 0xff;
	if (optlen) {
		seg[20] = 1, seg[21] = 1, seg[22] = 8, seg[23] = 10;
		seg[27] = 1; /* tsval 1 */
	}
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memcpy(pseudo, (uint8_t[]){ 127, 0, 0, 1, 127, 0, 0, 1, 0, 6, 0, (uint8_t)len }, 12);
	memcpy(pseudo + 12, seg, len);
	sum = t_csum(pseudo, 12 + len, 0);
	seg[16] = (uint8_t)(sum >> 8), seg[17] = (uint8_t)sum;
	cr_assert_eq(sendto(fd, seg, len, 0, (struct sockaddr *)&to, sizeof(to)), (ssize_t)len);
}

/* The largest reply (IPv4 total length) seen from dport to sport within
 * 300 ms, while letting the responder run; 0 if none. */
static size_t t_reply_len(struct responder *r, int cap, uint16_t sport, uint16_t dport)
{
	size_t biggest = 0;
	int fds[8];
	size_t nfds = responder_fds(r, fds, 8);

	for (int round = 0; round < 30; round++) {
		uint8_t pkt[256];
		ssize_t n;

		for (size_t i = 0; i < nfds; i++)
			responder_fd_ready(r, fds[i]);
		while ((n = recv(cap, pkt, sizeof(pkt), MSG_DONTWAIT)) >= 40) {
			size_t ihl = (size_t)(pkt[0] & 0xf) * 4;

			if ((size_t)n < ihl + 14 || (pkt[ihl] << 8 | pkt[ihl + 1]) != dport ||
			    (pkt[ihl + 2] << 8 | pkt[ihl + 3]) != sport)
				continue;
			{
				size_t tl = (size_t)(pkt[2] << 8 | pkt[3]), sl = tl - ihl;
				uint8_t ps[12 + 64];

				/* the reply's TCP checksum is right */
				memcpy(ps, pkt + 12, 8);
				ps[8] = 0, ps[9] = 6, ps[10] = (uint8_t)(sl >> 8), ps[11] = (uint8_t)sl;
				cr_assert_leq(sl, 64);
				memcpy(ps + 12, pkt + ihl, sl);
				cr_expect_eq(t_csum(ps, 12 + sl, 0), 0, "bad checksum on a %zu-byte reply", tl);
				if (tl > biggest)
					biggest = tl;
			}
		}
		usleep(10000);
	}
	return biggest;
}

/* A reply is never larger than what was received: a 40-byte SYN (no
 * options, as the tracer sends) used to get a 52-byte RST|ACK and now gets a
 * 40-byte one; a 52-byte faultmesh SYN (with the timestamp option) still
 * gets its 52-byte answer. */
Test(responder, tcp_reply_never_larger_than_its_probe)
{
	struct responder *r = t_loopback_responder(40000, 40001);
	int raw;
	size_t got;

	raw = socket(AF_INET, SOCK_RAW, IPPROTO_TCP);
	cr_assert_geq(raw, 0);

	t_syn_send(raw, 5555, 40001, 0);
	got = t_reply_len(r, raw, 5555, 40001);
	cr_expect(got <= 40, "a 40-byte SYN got a %zu-byte reply", got);
	cr_expect_eq(got, 40, "a 40-byte SYN (a tracer's) still gets its 40-byte answer");

	t_syn_send(raw, 5556, 40001, 12);
	got = t_reply_len(r, raw, 5556, 40001);
	cr_expect_eq(got, 52, "a 52-byte SYN with timestamps got a %zu-byte reply", got);
	close(raw);
	responder_close(r);
}

/* Every prober's probes to a host queue on the responder's sockets: they
 * get the same large receive buffer as the pinger's (PROBE_RCVBUF, within
 * rmem_max), so a briefly stalled prober does not drop probes at its own
 * socket, which localize would see as loss on the host's downlink. */
Test(responder, sockets_get_the_large_receive_buffer)
{
	struct responder *r;
	int fds[8], rmem_max = 0;
	size_t nfds;
	FILE *f;

	f = fopen("/proc/sys/net/core/rmem_max", "r");
	cr_assert_not_null(f);
	cr_assert_eq(fscanf(f, "%d", &rmem_max), 1);
	fclose(f);
	if (rmem_max < PROBE_RCVBUF)
		cr_skip_test("net.core.rmem_max %d is below %d", rmem_max, PROBE_RCVBUF);
	r = t_loopback_responder(40000, 40001);
	nfds = responder_fds(r, fds, 8);
	cr_assert_gt(nfds, 0);
	for (size_t i = 0; i < nfds; i++) {
		int got = 0;
		socklen_t gl = sizeof(got);

		cr_assert_eq(getsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &got, &gl), 0);
		/* the kernel reports twice what was set (its bookkeeping) */
		cr_expect_geq(got, PROBE_RCVBUF, "socket %zu: receive buffer %d", i, got);
	}
	responder_close(r);
}

/* Answer of the responder to what fd sent, read into buf within 300 ms
 * while letting the responder run; its length, or -1 when none came. */
static ssize_t t_udp_answer(struct responder *r, int fd, uint8_t *buf, size_t cap)
{
	int fds[8];
	size_t nfds = responder_fds(r, fds, 8);

	for (int round = 0; round < 30; round++) {
		ssize_t n;

		for (size_t i = 0; i < nfds; i++)
			responder_fd_ready(r, fds[i]);
		n = recv(fd, buf, cap, MSG_DONTWAIT);
		if (n >= 0)
			return n;
		usleep(10000);
	}
	return -1;
}

/* A UDP request is answered with exactly its bytes (no more: the padding
 * rides back), the header rewritten as a reply counting the flow's probes;
 * a reply sent to the responder gets nothing and counts as malformed. */
Test(responder, udp_answer_echoes_request_length_and_counts_the_flow)
{
	struct responder *r = t_loopback_responder(40000, 0);
	struct probe_flow_key k = { .family = AF_INET, .session = 0x01020304, .flow_id = 3 };
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(40000) };
	struct responder_stats st;
	struct probe_tmpl t;
	struct probe_msg m;
	uint8_t req[PROBE_HDR_LEN + 16], ans[256];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	cr_assert_geq(fd, 0);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&to, sizeof(to)), 0);
	probe_udp_ops.tmpl_init(&t, &k);
	memset(req + PROBE_HDR_LEN, 0xa5, 16);
	for (uint32_t seq = 0; seq < 2; seq++) {
		memcpy(req, t.buf, probe_udp_ops.build(&t, seq, 1000 + seq));
		cr_assert_eq(send(fd, req, sizeof(req), 0), (ssize_t)sizeof(req));
		cr_assert_eq(t_udp_answer(r, fd, ans, sizeof(ans)), (ssize_t)sizeof(req));
		cr_assert_eq(probe_msg_decode(ans, sizeof(req), &m), 0);
		cr_assert(m.type == PROBE_REPLY && m.session == 0x01020304 && m.flow_id == 3 &&
			  m.seq == seq && m.tx_ns == 1000 + seq, "reply fields");
		cr_assert_eq(m.count, seq + 1, "the flow's probes counted: %u", m.count);
		cr_assert(m.rx_ns && m.rtx_ns >= m.rx_ns, "stamps");
		cr_assert_eq(memcmp(ans + PROBE_HDR_LEN, req + PROBE_HDR_LEN, 16), 0, "padding");
	}
	/* the answer sent back in: never answered (no reflection loop) */
	cr_assert_eq(send(fd, ans, sizeof(req), 0), (ssize_t)sizeof(req));
	cr_assert_eq(t_udp_answer(r, fd, ans, sizeof(ans)), -1);
	responder_stats_get(r, &st);
	cr_assert_eq(st.answered, 2);
	cr_assert_eq(st.malformed, 1);
	close(fd);
	responder_close(r);
}
