/* The tracer end to end over loopback, inside a private network namespace of
 * the test process: destination answers (ICMP port unreachable, TCP RST, an
 * echoing UDP responder) end traces at TTL 1, and a silent destination ends
 * one after retries and the gap limit. Skipped without CAP_NET_RAW/ADMIN. */
#include "prober/trace.h"
#include "clock.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct loop_out {
	int n;
	struct trace_result res[8];
};

static void loop_done_cb(void *arg, const struct trace_result *res)
{
	struct loop_out *o = arg;

	if (o->n < 8)
		o->res[o->n] = *res;
	o->n++;
}

/* A fresh namespace with lo up and a veth pair whose /24 swallows
 * everything sent to it, so nothing leaves the test. */
static void netns_private(void)
{
	if (unshare(CLONE_NEWNET) < 0)
		cr_skip_test("unshare(CLONE_NEWNET): %s (needs root)", strerror(errno));
	cr_assert_eq(system("ip link set lo up && ip link add trc0 type veth peer name trc1 && "
			    "ip link set trc0 up && ip link set trc1 up && ip addr add 198.18.50.1/24 dev trc0 && "
			    "ip neigh add 198.18.50.2 lladdr 02:00:00:00:00:02 dev trc0"), 0);
}

/* Run the tracer until idle (bounded at 5 s). echo_fd >= 0: also answer
 * UDP datagrams on it by echoing them back, as a responder would. */
static void loop_run(struct tracer *t, int echo_fd)
{
	uint64_t end = clock_mono_ns() + 5000000000ull;

	while (tracer_busy(t) && clock_mono_ns() < end) {
		struct pollfd pfd[2] = { { .fd = tracer_fd(t), .events = POLLIN },
					 { .fd = echo_fd, .events = POLLIN } };
		uint64_t next, now;
		int wait_ms = 100; /* bounded: idle (UINT64_MAX) or far deadlines */

		tracer_timer(t, clock_mono_ns());
		if (!tracer_busy(t))
			break;
		next = tracer_next_ns(t);
		now = clock_mono_ns();
		if (next <= now)
			wait_ms = 0;
		else if (next - now < 100000000ull)
			wait_ms = (int)((next - now) / 1000000 + 1);
		poll(pfd, echo_fd >= 0 ? 2 : 1, wait_ms);
		if (echo_fd >= 0 && (pfd[1].revents & POLLIN)) {
			uint8_t buf[512];
			struct sockaddr_storage ss;
			socklen_t sl = sizeof(ss);
			ssize_t n = recvfrom(echo_fd, buf, sizeof(buf), 0, (struct sockaddr *)&ss, &sl);

			if (n > 0)
				sendto(echo_fd, buf, (size_t)n, 0, (struct sockaddr *)&ss, sl);
		}
		if (pfd[0].revents & POLLIN)
			tracer_readable(t, clock_mono_ns());
	}
}

static struct trace_flow flow_of(const char *dst, uint8_t proto, uint16_t dport)
{
	struct trace_flow f = { .proto = proto, .sport = 41000, .dport = dport };

	cr_assert_eq(wire_addr_parse(dst, &f.dst), 0);
	return f;
}

static struct tracer *open_or_skip(int family, const struct tracer_cfg *cfg, struct loop_out *o)
{
	struct tracer *t = tracer_open(family, cfg, loop_done_cb, o);

	if (!t && errno == EPERM)
		cr_skip_test("raw sockets need CAP_NET_RAW");
	cr_assert_not_null(t, "tracer_open: %s", strerror(errno));
	return t;
}

Test(trace_loop, destination_answers_end_traces_at_ttl_1)
{
	static const struct { const char *dst; int family; uint8_t proto; } cases[] = {
		{ "127.0.0.1", AF_INET, 17 }, { "127.0.0.1", AF_INET, 6 },
		{ "::1", AF_INET6, 17 }, { "::1", AF_INET6, 6 },
	};

	netns_private();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct loop_out o = { 0 };
		struct tracer *t = open_or_skip(cases[i].family, NULL, &o);
		struct trace_flow f = flow_of(cases[i].dst, cases[i].proto, 33434);

		cr_assert_eq(tracer_flow_start(t, &f, 7, clock_mono_ns()), 0);
		loop_run(t, -1);
		cr_assert_eq(o.n, 1, "%s proto %u", cases[i].dst, cases[i].proto);
		cr_expect_eq(o.res[0].end, TRACE_END_REACHED, "%s proto %u end %d", cases[i].dst,
			     cases[i].proto, o.res[0].end);
		cr_expect_eq(o.res[0].dst_ttl, 1);
		cr_expect_eq(o.res[0].path.nhops, 0);
		cr_expect_eq(o.res[0].probes_sent, 1);
		cr_expect_eq(o.res[0].user, 7);
		cr_expect_eq(o.res[0].path.sport, 41000);
		cr_expect_eq(o.res[0].path.src.family, cases[i].family); /* route's source */
		tracer_close(t);
	}
}

Test(trace_loop, echoing_udp_responder_counts_as_destination)
{
	struct loop_out o = { 0 };
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(31338) };
	struct trace_flow f;
	struct tracer *t;
	int fd;

	netns_private();
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	t = open_or_skip(AF_INET, NULL, &o);
	f = flow_of("127.0.0.1", 17, 31338);
	cr_assert_eq(tracer_flow_start(t, &f, 0, clock_mono_ns()), 0);
	loop_run(t, fd);
	cr_assert_eq(o.n, 1);
	cr_expect_eq(o.res[0].end, TRACE_END_REACHED);
	cr_expect_eq(o.res[0].dst_ttl, 1);
	tracer_close(t);
	close(fd);
}

Test(trace_loop, silent_destination_ends_on_gap_after_retries)
{
	struct loop_out o = { 0 };
	struct tracer_cfg cfg;
	struct trace_flow f;
	struct tracer *t;
	struct tracer_stats st;

	netns_private();
	tracer_cfg_default(&cfg);
	cfg.retries = 1;
	cfg.gap_limit = 2;
	cfg.timeout_ms = 50;
	cfg.max_ttl = 8;
	t = open_or_skip(AF_INET, &cfg, &o);
	/* Out a veth to a MAC nobody has (static neighbour, so no ARP queue
	 * holds the probes): nothing answers. */
	f = flow_of("198.18.50.2", 17, 33434);
	cr_assert_eq(tracer_flow_start(t, &f, 0, clock_mono_ns()), 0);
	loop_run(t, -1);
	cr_assert_eq(o.n, 1);
	cr_expect_eq(o.res[0].end, TRACE_END_GAP, "end %d err %d dst_ttl %u", o.res[0].end, o.res[0].err_no, o.res[0].dst_ttl);
	cr_expect_eq(o.res[0].path.nhops, 0);
	cr_expect_eq(o.res[0].probes_sent, 4); /* 2 hops x (1 + 1 retry) */
	tracer_stats_get(t, &st);
	cr_expect_eq(st.probes_sent, 4);
	tracer_close(t);
}

Test(trace_loop, close_cancels_unfinished_flows_and_rejects_bad_flows)
{
	struct loop_out o = { 0 };
	struct trace_flow f;
	struct tracer *t;

	netns_private();
	t = open_or_skip(AF_INET, NULL, &o);
	f = flow_of("::1", 17, 1);
	errno = 0;
	cr_expect_eq(tracer_flow_start(t, &f, 0, clock_mono_ns()), -1);
	cr_expect_eq(errno, EINVAL);
	f = flow_of("198.18.50.2", 17, 1);
	cr_assert_eq(tracer_flow_start(t, &f, 1, clock_mono_ns()), 0);
	cr_assert_eq(tracer_flow_start(t, &f, 2, clock_mono_ns()), 0);
	tracer_timer(t, clock_mono_ns());
	cr_expect_eq(tracer_busy(t), 2);
	tracer_close(t);
	cr_expect_eq(o.n, 2);
	cr_expect_eq(o.res[0].end, TRACE_END_CANCELLED);
	cr_expect_eq(o.res[1].end, TRACE_END_CANCELLED);
}

Test(trace_loop, udp_traces_end_on_port_unreachable_without_udp_socket)
{
	static const char *const dsts[] = { "127.0.0.1", "::1" };

	netns_private();
	for (size_t i = 0; i < 2; i++) {
		struct loop_out o = { 0 };
		struct tracer_cfg cfg;
		struct trace_flow f = flow_of(dsts[i], 17, 33434);
		struct tracer *t;

		tracer_cfg_default(&cfg);
		cfg.udp_replies = 0;
		t = open_or_skip(i ? AF_INET6 : AF_INET, &cfg, &o);
		cr_assert_eq(tracer_flow_start(t, &f, 0, clock_mono_ns()), 0);
		loop_run(t, -1);
		cr_assert_eq(o.n, 1);
		cr_expect_eq(o.res[0].end, TRACE_END_REACHED, "%s", dsts[i]);
		tracer_close(t);
	}
}

Test(trace_loop, pacing_spaces_probes_at_one_ttl)
{
	struct loop_out o = { 0 };
	struct tracer_cfg cfg;
	struct tracer_stats st;
	struct trace_flow f;
	struct tracer *t;
	uint64_t now, next;

	netns_private();
	tracer_cfg_default(&cfg);
	cfg.router_interval_ms = 1000;
	cfg.router_burst = 2;
	cfg.timeout_ms = 10000;
	t = open_or_skip(AF_INET, &cfg, &o);
	f = flow_of("198.18.50.2", 17, 33434);
	for (uint16_t i = 0; i < 4; i++) {
		f.sport = (uint16_t)(41000 + i);
		cr_assert_eq(tracer_flow_start(t, &f, i, clock_mono_ns()), 0);
	}
	now = clock_mono_ns();
	/* Four flows want TTL 1 at once: the burst of 2 goes, the rest waits
	 * for the router's interval to refill the bucket. */
	cr_expect_eq(tracer_timer(t, now), 2);
	cr_expect_eq(tracer_timer(t, now + 1000), 0);
	tracer_stats_get(t, &st);
	cr_expect_eq(st.probes_sent, 2);
	next = tracer_next_ns(t);
	cr_expect(next > now + 900000000ull && next < now + 1100000000ull,
		  "next token in %lld ms", (long long)(next - now) / 1000000);
	cr_expect_eq(tracer_timer(t, now + 1001000000ull), 1);
	tracer_close(t);
	cr_expect_eq(o.n, 4);
}

/* Send n UDP datagrams of len bytes (word at payload offset 8) to 127.0.0.1
 * or ::1 port 31399, where a socket takes them (so no ICMP port unreachable
 * comes back to the tracer). */
static void udp_noise(int family, size_t n, size_t len, uint32_t word)
{
	uint8_t buf[128] = { 0 };
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(31399),
				   .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons(31399),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(family, SOCK_DGRAM, 0), sink = socket(family, SOCK_DGRAM, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(sink, family == AF_INET ? (struct sockaddr *)&s4 : (struct sockaddr *)&s6,
			  family == AF_INET ? sizeof(s4) : sizeof(s6)), 0);
	buf[8] = (uint8_t)(word >> 24);
	buf[9] = (uint8_t)(word >> 16);
	buf[10] = (uint8_t)(word >> 8);
	buf[11] = (uint8_t)word;
	for (size_t i = 0; i < n; i++)
		sendto(fd, buf, len, 0,
		       family == AF_INET ? (struct sockaddr *)&s4 : (struct sockaddr *)&s6,
		       family == AF_INET ? sizeof(s4) : sizeof(s6));
	close(fd);
	close(sink);
}

Test(trace_loop, udp_answer_filter_keeps_the_hosts_other_udp_out)
{
	static const uint8_t payload[48] = { 'F', 'M', 'P', '1', 1, 1, 0, 0, 0xca, 0xfe, 0xf0, 0x0d };
	static const char *const dsts[] = { "127.0.0.1", "::1" };

	netns_private();
	for (int i = 0; i < 2; i++) {
		int family = i ? AF_INET6 : AF_INET;
		struct loop_out o = { 0 };
		struct tracer_cfg cfg;
		struct tracer_stats st;
		struct tracer *t;
		struct trace_flow f;
		int fd = socket(family, SOCK_DGRAM, 0);
		struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(31338),
					   .sin6_addr = IN6ADDR_LOOPBACK_INIT };
		struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons(31338),
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

		cr_assert_eq(bind(fd, i ? (struct sockaddr *)&s6 : (struct sockaddr *)&s4,
				  i ? sizeof(s6) : sizeof(s4)), 0);
		tracer_cfg_default(&cfg);
		cfg.udp_payload = payload;
		cfg.udp_payload_len = sizeof(payload);
		cfg.udp_echo_off = 8;
		t = open_or_skip(family, &cfg, &o);
		/* a busy pinger's replies (short) and long datagrams of another
		 * session: none may reach the tracer */
		udp_noise(family, 100, 48, 0xcafef00d);
		udp_noise(family, 100, 64, 0x12345678);
		tracer_readable(t, clock_mono_ns());
		tracer_stats_get(t, &st);
		cr_expect_eq(st.packets_ignored, 0, "%s: %llu of the host's datagrams reached the tracer",
			     dsts[i], (unsigned long long)st.packets_ignored);
		/* while an answer echoing the probe still ends the trace */
		f = flow_of(dsts[i], 17, 31338);
		cr_assert_eq(tracer_flow_start(t, &f, 0, clock_mono_ns()), 0);
		loop_run(t, fd);
		cr_assert_eq(o.n, 1);
		cr_expect_eq(o.res[0].end, TRACE_END_REACHED, "%s end %d", dsts[i], o.res[0].end);
		cr_expect_eq(o.res[0].dst_ttl, 1);
		tracer_close(t);
		close(fd);
	}
}

Test(trace_loop, echo_offset_past_the_payload_is_rejected)
{
	static const uint8_t payload[8] = "FMTRACE";
	struct loop_out o = { 0 };
	struct tracer_cfg cfg;

	tracer_cfg_default(&cfg);
	cfg.udp_payload = payload;
	cfg.udp_payload_len = sizeof(payload);
	cfg.udp_echo_off = 6;
	errno = 0;
	cr_expect_null(tracer_open(AF_INET, &cfg, loop_done_cb, &o));
	cr_expect_eq(errno, EINVAL);
}
