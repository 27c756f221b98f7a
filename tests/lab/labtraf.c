/* labtraf: real-packet UDP traffic for lab tests. `send` puts K packets on each
 * of N flows (consecutive source ports), paced and interleaved; `sink` counts
 * the packets it receives per (source address, source port). */
#include "opts.h"
#include "clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LABTRAF_MAGIC 0x666d6c74u /* "fmlt" */
#define SINK_SLOTS (1u << 17)     /* power of two, > any flow count we use */

struct send_cfg {
	const char *dst;     /* destination address, IPv4 or IPv6 */
	const char *src;     /* optional source address to bind */
	long long dport;     /* destination UDP port */
	long long sport_lo;  /* source port of flow 0; flow i uses sport_lo + i */
	long long flows;     /* number of flows */
	long long count;     /* packets per flow */
	long long pps;       /* total send rate, packets per second */
	long long size;      /* UDP payload bytes */
};

static const struct opt_spec send_opts[] = {
	{ "dst", 'd', OPT_STR, offsetof(struct send_cfg, dst), 0, 0, NULL, "ADDR",
	  "destination address (required)" },
	{ "src", 's', OPT_STR, offsetof(struct send_cfg, src), 0, 0, NULL, "ADDR",
	  "source address to bind (default: chosen by routing)" },
	{ "dport", 'p', OPT_INT, offsetof(struct send_cfg, dport), 1, 65535, "9000",
	  "PORT", "destination UDP port" },
	{ "sport-from", 'S', OPT_INT, offsetof(struct send_cfg, sport_lo), 1, 65535,
	  "20000", "PORT", "source port of the first flow" },
	{ "flows", 'n', OPT_INT, offsetof(struct send_cfg, flows), 1, 4096, "1", "N",
	  "flows, one per consecutive source port" },
	{ "count", 'c', OPT_INT, offsetof(struct send_cfg, count), 1, 1000000, "1",
	  "K", "packets per flow" },
	{ "pps", 'r', OPT_INT, offsetof(struct send_cfg, pps), 1, 1000000, "20000",
	  "RATE", "total packets per second" },
	{ "size", 'z', OPT_INT, offsetof(struct send_cfg, size), 16, 1400, "64", "BYTES",
	  "UDP payload size" },
};

struct sink_cfg {
	long long port;        /* UDP port to listen on (IPv4 and IPv6) */
	long long idle_ms;     /* stop this long after the last packet */
	long long duration_ms; /* stop at the latest after this long */
	const char *ready;     /* file created once the socket is bound */
};

static const struct opt_spec sink_opts[] = {
	{ "port", 'p', OPT_INT, offsetof(struct sink_cfg, port), 1, 65535, "9000",
	  "PORT", "UDP port to count packets on" },
	{ "idle", 'i', OPT_MS, offsetof(struct sink_cfg, idle_ms), 10, 600000, "1s",
	  "DUR", "stop when no packet came for this long (after the first)" },
	{ "duration", 't', OPT_MS, offsetof(struct sink_cfg, duration_ms), 10,
	  3600000, "60s", "DUR", "stop after this long in any case" },
	{ "ready", 'R', OPT_STR, offsetof(struct sink_cfg, ready), 0, 0, NULL, "FILE",
	  "create FILE once listening" },
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* Parse a numeric address into a sockaddr of the right family. */
static int addr_parse(const char *s, unsigned port, struct sockaddr_storage *ss,
		      socklen_t *len)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*len = sizeof(*a4);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a6);
		return 0;
	}
	errno = EINVAL;
	return -1;
}

/* One bound UDP socket per flow so the kernel keeps each flow's source port. */
static int flow_socket_open(const struct send_cfg *cfg, int family, unsigned sport)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, fd;

	if (cfg->src) {
		if (addr_parse(cfg->src, sport, &ss, &len) < 0 || ss.ss_family != family)
			return -1;
	} else {
		memset(&ss, 0, sizeof(ss));
		ss.ss_family = (sa_family_t)family;
		if (family == AF_INET) {
			((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)sport);
			len = sizeof(struct sockaddr_in);
		} else {
			((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)sport);
			len = sizeof(struct sockaddr_in6);
		}
	}
	fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int cmd_send(int argc, char **argv)
{
	static const char synopsis[] = "labtraf send --dst ADDR [options]";
	struct send_cfg cfg = { 0 };
	struct sockaddr_storage dst;
	socklen_t dst_len;
	char err[256];
	unsigned char payload[1400];
	long long *sent = NULL, t0, total, j;
	int *fds = NULL, rc = 1;
	int prc = opts_parse(send_opts, OPTS_LEN(send_opts), &cfg, argc, argv, err,
			     sizeof(err));
	int ex = opts_main_result(prc, "labtraf send", synopsis,
				  "Send COUNT packets on each of FLOWS UDP flows, round-robin.",
				  send_opts, OPTS_LEN(send_opts), err);

	if (ex >= 0)
		return ex;
	if (!cfg.dst || addr_parse(cfg.dst, (unsigned)cfg.dport, &dst, &dst_len) < 0) {
		fprintf(stderr, "labtraf send: --dst '%s' is not a numeric address\n",
			cfg.dst ? cfg.dst : "");
		return 2;
	}
	if (cfg.sport_lo + cfg.flows - 1 > 65535) {
		fprintf(stderr, "labtraf send: ports %lld..%lld exceed 65535\n",
			cfg.sport_lo, cfg.sport_lo + cfg.flows - 1);
		return 2;
	}
	fds = calloc((size_t)cfg.flows, sizeof(*fds));
	sent = calloc((size_t)cfg.flows, sizeof(*sent));
	if (!fds || !sent) {
		fprintf(stderr, "labtraf send: out of memory\n");
		goto out;
	}
	for (long long i = 0; i < cfg.flows; i++)
		fds[i] = -1;
	for (long long i = 0; i < cfg.flows; i++) {
		fds[i] = flow_socket_open(&cfg, dst.ss_family, (unsigned)(cfg.sport_lo + i));
		if (fds[i] < 0) {
			fprintf(stderr, "labtraf send: bind to source port %lld: %s\n",
				cfg.sport_lo + i, strerror(errno));
			goto out;
		}
	}
	memset(payload, 0, sizeof(payload));
	total = cfg.flows * cfg.count;
	t0 = (long long)clock_mono_ns();
	/* Round-robin over flows so a loss process sees every flow throughout
	 * the run; packet j is due at t0 + j/pps, sent in short bursts so no
	 * veth backlog (netdev_max_backlog) overflows. */
	for (j = 0; j < total && !stop_requested; j++) {
		long long f = j % cfg.flows, due = t0 + j * 1000000000LL / cfg.pps;
		uint32_t hdr[3] = { htonl(LABTRAF_MAGIC), htonl((uint32_t)f),
				    htonl((uint32_t)(j / cfg.flows)) };
		long long wait_ns = due - (long long)clock_mono_ns();

		/* Fell behind (a busy machine): shift the schedule rather than
		 * catch up in one burst that could overflow a backlog queue. */
		if (wait_ns < -2000000) {
			t0 -= wait_ns;
			wait_ns = 0;
		}
		if (wait_ns > 200000) {
			struct timespec ts = { wait_ns / 1000000000LL, wait_ns % 1000000000LL };
			nanosleep(&ts, NULL);
		}
		memcpy(payload, hdr, sizeof(hdr));
		if (sendto(fds[f], payload, (size_t)cfg.size, 0, (struct sockaddr *)&dst,
			   dst_len) == cfg.size)
			sent[f]++;
		else if (errno != ENOBUFS && errno != EAGAIN && errno != ECONNREFUSED &&
			 errno != EHOSTUNREACH && errno != ENETUNREACH)
			fprintf(stderr, "labtraf send: sport %lld: %s\n", cfg.sport_lo + f,
				strerror(errno));
	}
	for (long long i = 0; i < cfg.flows; i++)
		printf("%lld\t%lld\n", cfg.sport_lo + i, sent[i]);
	rc = 0;
out:
	for (long long i = 0; fds && i < cfg.flows; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
	free(sent);
	return rc;
}

struct sink_slot {
	struct in6_addr addr; /* IPv4 sources as v4-mapped */
	uint16_t sport;
	uint8_t used;
	long long packets;
};

static struct sink_slot *sink_slot_find(struct sink_slot *tab, const struct in6_addr *a,
					uint16_t sport)
{
	uint32_t h = sport * 2654435761u;

	for (size_t i = 0; i < sizeof(*a); i++)
		h = (h ^ a->s6_addr[i]) * 16777619u;
	for (uint32_t n = 0; n < SINK_SLOTS; n++) {
		struct sink_slot *s = &tab[(h + n) & (SINK_SLOTS - 1)];

		if (!s->used) {
			s->used = 1;
			s->addr = *a;
			s->sport = sport;
			return s;
		}
		if (s->sport == sport && memcmp(&s->addr, a, sizeof(*a)) == 0)
			return s;
	}
	return NULL;
}

static int sink_slot_cmp(const void *a, const void *b)
{
	const struct sink_slot *x = a, *y = b;
	int c = memcmp(&x->addr, &y->addr, sizeof(x->addr));

	return c ? c : (int)x->sport - (int)y->sport;
}

static int cmd_sink(int argc, char **argv)
{
	static const char synopsis[] = "labtraf sink [options]";
	struct sink_cfg cfg = { 0 };
	struct sockaddr_in6 me = { .sin6_family = AF_INET6 };
	struct sink_slot *tab = NULL;
	char err[256];
	int fd = -1, zero = 0, rc = 1, rcvbuf = 16 << 20;
	long long start, last = 0, dropped_table = 0;
	size_t used = 0;
	int prc = opts_parse(sink_opts, OPTS_LEN(sink_opts), &cfg, argc, argv, err,
			     sizeof(err));
	int ex = opts_main_result(prc, "labtraf sink", synopsis,
				  "Count received UDP packets per source address and port;\n"
				  "prints ADDR<TAB>SPORT<TAB>PACKETS when it stops.",
				  sink_opts, OPTS_LEN(sink_opts), err);

	if (ex >= 0)
		return ex;
	tab = calloc(SINK_SLOTS, sizeof(*tab));
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (!tab || fd < 0) {
		fprintf(stderr, "labtraf sink: setup: %s\n", strerror(errno));
		goto out;
	}
	/* One dual-stack socket hears IPv4 (as v4-mapped) and IPv6 senders. */
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	me.sin6_port = htons((uint16_t)cfg.port);
	if (bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0) {
		fprintf(stderr, "labtraf sink: bind port %lld: %s\n", cfg.port,
			strerror(errno));
		goto out;
	}
	if (cfg.ready) {
		FILE *f = fopen(cfg.ready, "w");

		if (!f) {
			fprintf(stderr, "labtraf sink: %s: %s\n", cfg.ready, strerror(errno));
			goto out;
		}
		fclose(f);
	}
	start = (long long)clock_mono_ns();
	while (!stop_requested) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		long long t = (long long)clock_mono_ns();
		unsigned char buf[2048];
		struct sockaddr_in6 from;
		socklen_t flen = sizeof(from);
		struct sink_slot *s;
		ssize_t n;

		if (t - start >= cfg.duration_ms * 1000000LL)
			break;
		if (last && t - last >= cfg.idle_ms * 1000000LL)
			break;
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from,
			     &flen);
		if (n < 0)
			continue;
		last = (long long)clock_mono_ns();
		s = sink_slot_find(tab, &from.sin6_addr, ntohs(from.sin6_port));
		if (!s) {
			dropped_table++;
			continue;
		}
		used += s->packets == 0;
		s->packets++;
	}
	qsort(tab, SINK_SLOTS, sizeof(*tab), sink_slot_cmp);
	for (size_t i = 0; i < SINK_SLOTS; i++) {
		char a[INET6_ADDRSTRLEN];

		if (!tab[i].used)
			continue;
		if (IN6_IS_ADDR_V4MAPPED(&tab[i].addr))
			inet_ntop(AF_INET, &tab[i].addr.s6_addr[12], a, sizeof(a));
		else
			inet_ntop(AF_INET6, &tab[i].addr, a, sizeof(a));
		printf("%s\t%u\t%lld\n", a, tab[i].sport, tab[i].packets);
	}
	if (dropped_table)
		fprintf(stderr, "labtraf sink: %lld packets from flows beyond %zu not counted\n",
			dropped_table, used);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(tab);
	return rc;
}

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} labtraf_cmds[] = {
	{ "send", cmd_send },
	{ "sink", cmd_sink },
};

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (argc >= 2) {
		for (size_t i = 0; i < sizeof(labtraf_cmds) / sizeof(labtraf_cmds[0]); i++)
			if (strcmp(argv[1], labtraf_cmds[i].name) == 0)
				return labtraf_cmds[i].run(argc - 1, argv + 1);
	}
	fprintf(stderr, "usage: labtraf send|sink [options]   (labtraf CMD --help)\n");
	return argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) ? 0 : 2;
}
