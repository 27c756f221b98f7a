/* fmtrace: trace one ECMP flow, or many (source ports S..S+N-1), with the
 * prober's tracer and print each flow's hop list; --mda keeps adding flows
 * until the MDA stopping rule says every equal-cost path has been seen. */
#include "log.h"
#include "opts.h"
#include "prober/mda.h"
#include "prober/probe.h"
#include "prober/trace.h"
#include "wire.h"
#include "clock.h"

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FMTRACE_PATHS_MAX 1024 /* distinct hop lists remembered */
#define FMTRACE_PATH_TEXT 1024

struct fmtrace_cfg {
	char *src;             /* source address; empty: the kernel's choice */
	char *dst;             /* destination address */
	char *proto;           /* udp or tcp */
	long long sport;       /* first source port */
	long long dport;       /* destination port */
	long long flows;       /* flows to trace first (source ports sport..) */
	long long max_flows;   /* cap on flows with --mda */
	int mda;               /* add flows until the MDA rule is met */
	long long max_ttl;     /* last hop probed */
	long long retries;     /* extra probes per silent hop */
	long long gap;         /* silent hops in a row that end a trace */
	long long timeout_ms;  /* wait per probe */
	long long active;      /* flows probed at once */
	long long pace_ms;     /* router ICMP interval the pacing respects */
	long long burst;       /* router ICMP burst the pacing respects */
	long long infer;       /* 0 probe all, 1 MDA node control, 2 MDA-Lite */
	int first_hop_single;  /* our route has one next hop: probe hop 1 once */
	int probe_payload;     /* UDP probes start with a faultmesh request */
	long long deadline_ms; /* give up on the whole run after this */
	int quiet;             /* only the summary line */
	int verbose;           /* debug log */
};

static const struct opt_spec fmtrace_opts[] = {
	{ "src", 's', OPT_STR, offsetof(struct fmtrace_cfg, src), 0, 0, "", "ADDR", "source address (default: route's)" },
	{ "dst", 'd', OPT_STR, offsetof(struct fmtrace_cfg, dst), 0, 0, "", "ADDR", "destination address" },
	{ "proto", 'p', OPT_STR, offsetof(struct fmtrace_cfg, proto), 0, 0, "udp", "udp|tcp", "probe protocol" },
	{ "sport", 0, OPT_INT, offsetof(struct fmtrace_cfg, sport), 1, 65535, "40000", "PORT", "(first) source port" },
	{ "dport", 0, OPT_INT, offsetof(struct fmtrace_cfg, dport), 1, 65535, "33434", "PORT", "destination port" },
	{ "flows", 'n', OPT_INT, offsetof(struct fmtrace_cfg, flows), 1, 4096, "1", "N", "flows: source ports sport..sport+N-1" },
	{ "max-flows", 0, OPT_INT, offsetof(struct fmtrace_cfg, max_flows), 1, 4096, "512", "N", "cap on flows with --mda" },
	{ "mda", 'm', OPT_FLAG, offsetof(struct fmtrace_cfg, mda), 0, 0, NULL, NULL, "add flows until all paths seen at 95%" },
	{ "max-ttl", 0, OPT_INT, offsetof(struct fmtrace_cfg, max_ttl), 1, WIRE_HOPS_MAX, "30", "N", "last hop probed" },
	{ "retries", 'r', OPT_INT, offsetof(struct fmtrace_cfg, retries), 0, 10, "3", "N", "extra probes per silent hop" },
	{ "gap", 0, OPT_INT, offsetof(struct fmtrace_cfg, gap), 1, 10, "3", "N", "silent hops that end a trace" },
	{ "timeout-ms", 0, OPT_INT, offsetof(struct fmtrace_cfg, timeout_ms), 1, 60000, "1000", "MS", "wait per probe" },
	{ "active", 0, OPT_INT, offsetof(struct fmtrace_cfg, active), 1, 1024, "16", "N", "flows probed at once" },
	{ "pace-ms", 0, OPT_INT, offsetof(struct fmtrace_cfg, pace_ms), 0, 60000, "1000", "MS", "router ICMP interval to respect (0: no pacing)" },
	{ "burst", 0, OPT_INT, offsetof(struct fmtrace_cfg, burst), 1, 1000, "6", "N", "router ICMP burst to respect" },
	{ "infer", 'i', OPT_INT, offsetof(struct fmtrace_cfg, infer), 0, 2, "0", "N", "0 probe every hop, 1 infer after MDA node control, 2 MDA-Lite" },
	{ "first-hop-single", 0, OPT_FLAG, offsetof(struct fmtrace_cfg, first_hop_single), 0, 0, NULL, NULL, "route has one next hop: with --infer, probe hop 1 once" },
	{ "probe-payload", 0, OPT_FLAG, offsetof(struct fmtrace_cfg, probe_payload), 0, 0, NULL, NULL, "UDP probes carry a faultmesh request, so a responder answers" },
	{ "deadline-ms", 0, OPT_INT, offsetof(struct fmtrace_cfg, deadline_ms), 100, 3600000, "120000", "MS", "give up after this" },
	{ "quiet", 'q', OPT_FLAG, offsetof(struct fmtrace_cfg, quiet), 0, 0, NULL, NULL, "print only the summary" },
	{ "verbose", 'v', OPT_FLAG, offsetof(struct fmtrace_cfg, verbose), 0, 0, NULL, NULL, "debug log" },
};

struct fmtrace_run {
	const struct fmtrace_cfg *cfg;
	unsigned started, done, reached;
	char *paths[FMTRACE_PATHS_MAX];
	unsigned npaths;
	int quiet;
};

static const char *const end_names[] = {
	[TRACE_END_REACHED] = "reached", [TRACE_END_GAP] = "gap",
	[TRACE_END_MAX_TTL] = "max-ttl", [TRACE_END_UNREACH] = "unreach",
	[TRACE_END_ERROR] = "error", [TRACE_END_CANCELLED] = "cancelled",
};

/* Hop list as text, "a,b,*,c"; "-" when empty. */
static void path_text(const struct wire_path *p, char *buf, size_t len)
{
	size_t off = 0;
	char a[64];

	buf[0] = 0;
	for (unsigned i = 0; i < p->nhops && off + 1 < len; i++) {
		int n = snprintf(buf + off, len - off, "%s%s", i ? "," : "",
				 wire_addr_str(&p->hops[i], a, sizeof(a)));
		if (n < 0)
			break;
		off += (size_t)n;
	}
	if (!p->nhops)
		snprintf(buf, len, "-");
}

static void fmtrace_done_cb(void *arg, const struct trace_result *res)
{
	struct fmtrace_run *run = arg;
	const struct wire_path *p = &res->path;
	char hops[FMTRACE_PATH_TEXT], counts[512], s[64], d[64];
	size_t off = 0;
	unsigned i;

	run->done++;
	path_text(p, hops, sizeof(hops));
	counts[0] = 0;
	for (i = 0; i < p->nhops && off + 16 < sizeof(counts); i++)
		off += (size_t)snprintf(counts + off, sizeof(counts) - off, "%s%u/%u%s", i ? "," : "",
					p->hop_replies[i], p->hop_probes[i],
					res->inferred_mask & (1u << i) ? "i" : "");
	if (!p->nhops)
		snprintf(counts, sizeof(counts), "-");
	if (res->end == TRACE_END_REACHED) {
		run->reached++;
		for (i = 0; i < run->npaths; i++)
			if (strcmp(run->paths[i], hops) == 0)
				break;
		if (i == run->npaths && run->npaths < FMTRACE_PATHS_MAX)
			run->paths[run->npaths++] = strdup(hops);
	}
	if (run->quiet)
		return;
	printf("flow\t%s\t%s\t%u\t%s\t%u\tend=%s\tdst_ttl=%u%s\tprobes=%u\thops=%s\treplies=%s\n",
	       p->proto == WIRE_PROTO_TCP ? "tcp" : "udp",
	       wire_addr_str(&p->src, s, sizeof(s)), p->sport,
	       wire_addr_str(&p->dst, d, sizeof(d)), p->dport,
	       res->end < sizeof(end_names) / sizeof(end_names[0]) && end_names[res->end]
		       ? end_names[res->end] : "?",
	       res->dst_ttl, res->dst_inferred ? "i" : "", res->probes_sent, hops, counts);
	fflush(stdout);
}

static int flows_start(struct tracer *t, struct fmtrace_run *run, const struct trace_flow *base,
		       unsigned n)
{
	for (unsigned k = 0; k < n; k++) {
		struct trace_flow f = *base;
		unsigned port = (unsigned)run->cfg->sport + run->started;

		if (port > 65535) {
			errno = ERANGE;
			return -1;
		}
		f.sport = (uint16_t)port;
		if (tracer_flow_start(t, &f, run->started, clock_mono_ns()) < 0)
			return -1;
		run->started++;
	}
	return 0;
}

/* Flows still to add under the MDA rule: having seen d paths on the flows
 * so far, n_d flows rule out a (d+1)th path. */
static unsigned mda_more(const struct fmtrace_run *run)
{
	int need;

	if (!run->npaths)
		return 0;
	need = mda_stop_flows((int)run->npaths, 0.05);
	if (need < 0 || run->reached >= (unsigned)need)
		return 0;
	return (unsigned)need - run->reached;
}

int main(int argc, char **argv)
{
	struct fmtrace_cfg cfg;
	struct tracer_cfg tc;
	struct trace_flow base = { 0 };
	struct fmtrace_run run = { 0 };
	struct tracer_stats st;
	struct tracer *t;
	char err[256];
	uint64_t t0, deadline;
	int rc = opts_parse(fmtrace_opts, OPTS_LEN(fmtrace_opts), &cfg, argc, argv, err, sizeof(err));
	int code = opts_main_result(rc, "fmtrace", "fmtrace --dst ADDR [options]",
				    "Trace ECMP flows hop by hop keeping each flow's 5-tuple.",
				    fmtrace_opts, OPTS_LEN(fmtrace_opts), err);
	int exit_code = 0;

	if (code >= 0)
		return code;
	log_init("fmtrace", cfg.verbose ? LOG_DEBUG : LOG_INFO);
	if (wire_addr_parse(cfg.dst, &base.dst) < 0) {
		log_msg(LOG_ERR, "--dst '%s' is not an address", cfg.dst);
		return 2;
	}
	if (cfg.src[0] && (wire_addr_parse(cfg.src, &base.src) < 0 ||
			   base.src.family != base.dst.family)) {
		log_msg(LOG_ERR, "--src '%s' is not an address of --dst's family", cfg.src);
		return 2;
	}
	if (strcmp(cfg.proto, "udp") == 0) {
		base.proto = WIRE_PROTO_UDP;
	} else if (strcmp(cfg.proto, "tcp") == 0) {
		base.proto = WIRE_PROTO_TCP;
	} else {
		log_msg(LOG_ERR, "--proto '%s': want udp or tcp", cfg.proto);
		return 2;
	}
	base.dport = (uint16_t)cfg.dport;
	tracer_cfg_default(&tc);
	tc.max_ttl = (uint8_t)cfg.max_ttl;
	tc.retries = (uint8_t)cfg.retries;
	tc.gap_limit = (uint8_t)cfg.gap;
	tc.timeout_ms = (uint32_t)cfg.timeout_ms;
	tc.max_active = (uint32_t)cfg.active;
	tc.router_interval_ms = (uint32_t)cfg.pace_ms;
	tc.router_burst = (uint32_t)cfg.burst;
	tc.infer = (int)cfg.infer;
	tc.first_hop_single = cfg.first_hop_single;
	if (cfg.probe_payload) {
		/* As the prober's path watch does: a request of a session of its
		 * own, which the responder echoes with our trailing bytes. */
		static uint8_t hdr[PROBE_HDR_LEN];
		struct probe_msg m = { .type = PROBE_REQUEST, .session = (uint32_t)getpid() };

		probe_msg_encode(&m, hdr);
		tc.udp_payload = hdr;
		tc.udp_payload_len = sizeof(hdr);
	}
	run.cfg = &cfg;
	run.quiet = cfg.quiet;
	t = tracer_open(base.dst.family, &tc, fmtrace_done_cb, &run);
	if (!t) {
		log_msg(LOG_ERR, "tracer_open: %s", strerror(errno));
		return 1;
	}
	t0 = clock_mono_ns();
	deadline = t0 + (uint64_t)cfg.deadline_ms * 1000000ull;
	if (flows_start(t, &run, &base, (unsigned)cfg.flows) < 0) {
		log_msg(LOG_ERR, "starting flow to %s port %u: %s", cfg.dst,
			(unsigned)cfg.sport + run.started, strerror(errno));
		tracer_close(t);
		return 1;
	}
	for (;;) {
		uint64_t now = clock_mono_ns(), next;
		struct pollfd pfd = { .fd = tracer_fd(t), .events = POLLIN };
		int wait_ms;

		tracer_timer(t, now);
		if (!tracer_busy(t) && cfg.mda) {
			unsigned more = mda_more(&run);

			if (more && run.started + more > (unsigned)cfg.max_flows)
				more = run.started < (unsigned)cfg.max_flows
					       ? (unsigned)cfg.max_flows - run.started : 0;
			if (more && flows_start(t, &run, &base, more) < 0) {
				log_msg(LOG_ERR, "starting more flows: %s", strerror(errno));
				exit_code = 1;
				break;
			}
			if (more)
				continue;
		}
		if (!tracer_busy(t))
			break;
		if (now >= deadline) {
			log_msg(LOG_WARN, "deadline of %lld ms passed, %u flows unfinished",
				cfg.deadline_ms, tracer_busy(t));
			exit_code = 1;
			break;
		}
		next = tracer_next_ns(t);
		now = clock_mono_ns();
		if (next <= now)
			wait_ms = 0;
		else if (next - now > 1000000000ull)
			wait_ms = 1000;
		else
			wait_ms = (int)((next - now + 999999) / 1000000);
		if (poll(&pfd, 1, wait_ms) > 0)
			tracer_readable(t, clock_mono_ns());
	}
	tracer_stats_get(t, &st);
	tracer_close(t);
	{
		struct mda_coverage cov = { 0 };
		int ok = run.npaths && run.reached >= run.npaths &&
			 mda_coverage_assess((int)run.reached, (int)run.npaths, 0.05, &cov) == 0;

		printf("summary\tflows=%u\treached=%u\tpaths=%u\tprobes=%llu\treplies=%llu\tinferred=%llu"
		       "\tcomplete=%d\tflows_needed=%d\tpaths_estimate=%d\telapsed_ms=%llu\n",
		       run.started, run.reached, run.npaths, (unsigned long long)st.probes_sent,
		       (unsigned long long)st.replies_matched, (unsigned long long)st.hops_inferred,
		       ok ? cov.complete : 0, ok ? cov.flows_needed : 0, ok ? cov.paths_estimate : 0,
		       (unsigned long long)((clock_mono_ns() - t0) / 1000000));
		for (unsigned i = 0; i < run.npaths; i++) {
			if (!cfg.quiet)
				printf("path\t%s\n", run.paths[i]);
			free(run.paths[i]);
		}
	}
	if (run.reached < run.started)
		exit_code = exit_code ? exit_code : 3;
	return exit_code;
}
