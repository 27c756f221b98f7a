/* probe_floor: the kernel's per-probe floor for bench-prober: the pinger's
 * syscalls and packets to one responder, without its per-probe work. */
#include "log.h"
#include "opts.h"
#include "prober/probe.h"
#include "clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FLOOR_BATCH 64
#define FLOOR_FLOWS_MAX 256

struct floor_cfg {
	const char *target; /* IPv4 address of the responder */
	long long port;
	long long count;
	double rate;
	long long flows;
	long long sport_base;
};

static const struct opt_spec floor_opts[] = {
	{ "target", 't', OPT_STR, offsetof(struct floor_cfg, target), 0, 0, "198.18.10.1", "ADDR",
	  "responder's IPv4 address" },
	{ "port", 'p', OPT_INT, offsetof(struct floor_cfg, port), 1, 65535, "31338", "PORT", "responder's UDP port" },
	{ "count", 'c', OPT_INT, offsetof(struct floor_cfg, count), 1, 1e9, "50000", "N", "probes to send" },
	{ "rate", 'r', OPT_DOUBLE, offsetof(struct floor_cfg, rate), 1, 1e7, "10000", "PPS", "probes per second" },
	{ "flows", 'f', OPT_INT, offsetof(struct floor_cfg, flows), 1, FLOOR_FLOWS_MAX, "16", "N",
	  "sockets (source ports)" },
	{ "sport-base", 0, OPT_INT, offsetof(struct floor_cfg, sport_base), 1024, 65535 - FLOOR_FLOWS_MAX, "45000",
	  "PORT", "source port of the first socket" },
};

/* Drain every socket's replies: the count of well-formed ones. */
static long long floor_read(const int *fds, int n)
{
	static uint8_t bufs[FLOOR_BATCH][PROBE_HDR_LEN + 16];
	static _Alignas(struct cmsghdr) char cbufs[FLOOR_BATCH][64];
	struct mmsghdr mm[FLOOR_BATCH];
	struct iovec iov[FLOOR_BATCH];
	long long got = 0;

	for (int s = 0; s < n; s++) {
		for (int round = 0; round < 64; round++) {
			int r;

			for (int i = 0; i < FLOOR_BATCH; i++) {
				iov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
				mm[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i], .msg_iovlen = 1,
								 .msg_control = cbufs[i],
								 .msg_controllen = sizeof(cbufs[i]) };
			}
			r = recvmmsg(fds[s], mm, FLOOR_BATCH, MSG_DONTWAIT, NULL);
			if (r <= 0)
				break;
			got += r;
		}
	}
	return got;
}

/* COUNT requests at RATE over FLOWS sockets, sendmmsg of 64 and recvmmsg of
 * 64 with a kernel receive stamp per reply, as the pinger does, but with no
 * schedule, accounting or RTT per probe: its CPU-s per probe is what the
 * kernel's send, delivery and receive cost, which no prober beats here. */
int main(int argc, char **argv)
{
	static struct floor_cfg cfg;
	static uint8_t pkts[FLOOR_BATCH][PROBE_HDR_LEN];
	struct sockaddr_in dst = { .sin_family = AF_INET };
	struct mmsghdr mm[FLOOR_BATCH];
	struct iovec iov[FLOOR_BATCH];
	int fds[FLOOR_FLOWS_MAX], one = 1, rc, code;
	long long sent = 0, replies = 0;
	uint64_t start, due_ns, period_ns;
	char err[256];

	log_init("probe_floor", LOG_INFO);
	rc = opts_parse(floor_opts, OPTS_LEN(floor_opts), &cfg, argc, argv, err, sizeof(err));
	code = opts_main_result(rc, "probe_floor", "probe_floor [options]",
				"The kernel's per-probe floor: the pinger's syscalls without its work.",
				floor_opts, OPTS_LEN(floor_opts), err);
	if (code >= 0)
		return code;
	dst.sin_port = htons((uint16_t)cfg.port);
	if (inet_pton(AF_INET, cfg.target, &dst.sin_addr) != 1) {
		fprintf(stderr, "probe_floor: --target: '%s' is not an IPv4 address\n", cfg.target);
		return 2;
	}
	for (int s = 0; s < cfg.flows; s++) {
		struct sockaddr_in src = { .sin_family = AF_INET,
					   .sin_port = htons((uint16_t)(cfg.sport_base + s)) };

		fds[s] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fds[s] < 0 || bind(fds[s], (struct sockaddr *)&src, sizeof(src)) < 0 ||
		    setsockopt(fds[s], SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0) {
			fprintf(stderr, "probe_floor: socket %d: %s\n", s, strerror(errno));
			return 1;
		}
	}
	for (int i = 0; i < FLOOR_BATCH; i++) {
		struct probe_msg m = { .type = PROBE_REQUEST, .session = 0x464c4f52, .flow_id = (uint32_t)i };

		probe_msg_encode(&m, pkts[i]);
		iov[i] = (struct iovec){ pkts[i], sizeof(pkts[i]) };
		mm[i].msg_hdr = (struct msghdr){ .msg_name = &dst, .msg_namelen = sizeof(dst),
						 .msg_iov = &iov[i], .msg_iovlen = 1 };
	}
	/* batches of 64 from one socket at a time, round robin over the
	 * sockets, paced to the rate; replies read once a round */
	period_ns = (uint64_t)(1e9 * FLOOR_BATCH / cfg.rate);
	start = clock_mono_ns();
	due_ns = start;
	for (int s = 0; sent < cfg.count; s = (s + 1) % (int)cfg.flows) {
		unsigned n = (unsigned)(cfg.count - sent < FLOOR_BATCH ? cfg.count - sent : FLOOR_BATCH);
		uint64_t now = clock_mono_ns();
		int r;

		if (now < due_ns) {
			struct timespec ts = { 0, (long)(due_ns - now) };

			nanosleep(&ts, NULL);
		}
		r = sendmmsg(fds[s], mm, n, 0);
		if (r > 0)
			sent += r;
		else if (r < 0 && errno != EAGAIN && errno != ENOBUFS) {
			fprintf(stderr, "probe_floor: sendmmsg: %s\n", strerror(errno));
			return 1;
		}
		due_ns += period_ns;
		if (s == cfg.flows - 1) /* once a round: a few syscalls per reply read */
			replies += floor_read(fds, (int)cfg.flows);
	}
	usleep(200000); /* the last replies */
	replies += floor_read(fds, (int)cfg.flows);
	fprintf(stderr, "probe_floor: sent %lld replies %lld in %.3f s\n", sent, replies,
		(double)(clock_mono_ns() - start) / 1e9);
	for (int s = 0; s < cfg.flows; s++)
		close(fds[s]);
	return 0;
}
