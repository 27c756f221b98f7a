/* The prober daemon: opens the responder, pinger, netlink, spool and uplink,
 * drops privileges, and runs the single-threaded event loop that ties them
 * together (flags are parsed in main.c). */
#include "daemon.h"

#include "caps.h"
#include "dump.h"
#include "log.h"
#include "netlink.h"
#include "pathwatch.h"
#include "pinger.h"
#include "probe.h"
#include "wire.h"
#include "responder.h"
#include "spool.h"
#include "targets_source.h"
#include "targets.h"
#include "uplink.h"
#include "clock.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

/* Tracer answers wait at most this long for the loop's next turn. */
#define TRACE_RX_LAG_NS 2000000u

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t reload_flag; /* SIGHUP: the targets again */
static volatile sig_atomic_t dump_flag;   /* SIGUSR1: a pcap of the lossy flows */

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_flag = 1;
	else if (sig == SIGUSR1)
		dump_flag = 1;
	else
		stop_flag = 1;
}

static int hex_key_parse(const char *hex, uint8_t *key, size_t max, size_t *len)
{
	size_t n = strlen(hex);

	if (n % 2 || n / 2 > max || n / 2 < 16)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		key[i] = (uint8_t)v;
	}
	*len = n / 2;
	return 0;
}

static uint64_t interval_jittered_ns(const struct prober_cfg *cfg)
{
	double f = 1.0 + cfg->jitter * (2.0 * rand() / RAND_MAX - 1.0);

	return (uint64_t)((double)cfg->interval_ms * 1e6 * f);
}

struct prober {
	struct prober_cfg cfg;
	struct responder *resp;
	struct pinger *ping;
	struct nl_handle *nl;
	struct spool *sp;
	struct uplink *up;
	struct pathwatch *pw;
	struct targets_source *ts;
	struct target_spec *targets; /* the list being probed */
	size_t ntargets;
	struct pinger_cfg ping_cfg;
	struct pinger_stats ping_base; /* of the pingers a new list replaced */
	uint8_t key[64]; /* --key, parsed */
	size_t keylen;
	struct nl_link_totals link_prev;
	int have_link_prev;
	int epfd;       /* what must wake us at once: responder, uplink */
	int trace_epfd; /* the tracers' sockets: read on the pinger's ticks */
	int any_epfd;   /* both sets, for sleeps longer than a tick */
	int up_fd_registered;
	uint32_t up_events;
	struct dump_ring *dump;      /* recent packets for --dump, or NULL */
	char name[WIRE_NAME_MAX];
};

static int ep_add(int epfd, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* Keep the uplink's socket registered with the events it needs now. */
static void uplink_epoll_sync(struct prober *pr)
{
	int fd = pr->up ? uplink_fd(pr->up) : -1;
	uint32_t ev = EPOLLIN | (pr->up && uplink_wants_write(pr->up) ? EPOLLOUT : 0);

	if (pr->up_fd_registered >= 0 && pr->up_fd_registered != fd) {
		epoll_ctl(pr->epfd, EPOLL_CTL_DEL, pr->up_fd_registered, NULL);
		pr->up_fd_registered = -1;
	}
	if (fd < 0)
		return;
	if (pr->up_fd_registered != fd) {
		ep_add(pr->epfd, fd, ev);
		pr->up_fd_registered = fd;
		pr->up_events = ev;
	} else if (pr->up_events != ev) {
		struct epoll_event e = { .events = ev, .data.fd = fd };

		epoll_ctl(pr->epfd, EPOLL_CTL_MOD, fd, &e);
		pr->up_events = ev;
	}
}

static void health_fill(struct prober *pr, struct wire_health *h)
{
	struct nl_link_totals t;

	memset(h, 0, sizeof(*h));
	if (!pr->nl || nl_link_totals_read(pr->nl, &t) < 0)
		return;
	if (pr->have_link_prev) {
		/* counters may reset when a link is recreated: no negative deltas */
#define DELTA(f) (t.f >= pr->link_prev.f ? t.f - pr->link_prev.f : 0)
		h->if_rx_errors = DELTA(rx_errors);
		h->if_tx_errors = DELTA(tx_errors);
		h->if_rx_dropped = DELTA(rx_dropped);
		h->if_tx_dropped = DELTA(tx_dropped);
#undef DELTA
	}
	h->links_down = t.links_down;
	pr->link_prev = t;
	pr->have_link_prev = 1;
}

/* A target's flows are all traced: let the pinger size its flows from the
 * coverage, and say what was decided (once per decision). */
static void coverage_report_cb(void *arg, size_t flow, unsigned traced, unsigned paths)
{
	struct prober *pr = arg;
	struct pinger_coverage c;

	if (pinger_coverage_apply(pr->ping, flow, traced, paths, &c) < 0) {
		log_msg(LOG_ERR, "coverage: cannot add flows: %s", strerror(errno));
		return;
	}
	if (c.mda.complete)
		log_msg(LOG_INFO, "target %s %s: %u paths over %u flows, complete", c.host, c.kind,
			paths, traced);
	else if (c.flows_after > c.flows_before)
		log_msg(LOG_INFO,
			"target %s %s: %u paths over %u flows, not complete (%d needed for 95%%): grew to %u flows%s",
			c.host, c.kind, paths, traced, c.mda.flows_needed, c.flows_after,
			c.capped ? " (the most allowed)" : "");
	else
		log_msg(LOG_INFO,
			"target %s %s: %u paths over %u flows, not complete (%d needed for 95%%)%s",
			c.host, c.kind, paths, traced, c.mda.flows_needed,
			!c.flows_auto ? ": flows= set, kept" : c.capped ? ": at the most allowed" : "");
}

/* Close one interval into a batch and spool it. Errors are logged here. */
static void interval_report(struct prober *pr, uint64_t start_ns, uint64_t end_ns)
{
	struct wire_batch b = { 0 };
	uint8_t *buf = NULL;
	size_t len;
	uint32_t dropped;

	snprintf(b.prober, sizeof(b.prober), "%s", pr->name);
	b.start_ms = (int64_t)(start_ns / 1000000u);
	b.end_ms = (int64_t)(end_ns / 1000000u);
	health_fill(pr, &b.health);
	if (pinger_interval_close(pr->ping, &b) < 0) {
		log_msg(LOG_ERR, "interval close: %s", strerror(errno));
		return;
	}
	if (pr->pw && pathwatch_interval(pr->pw, &b, clock_mono_ns()) < 0)
		log_msg(LOG_ERR, "paths of this interval: %s", strerror(errno));
	/* spool drops are filled in when a batch is sent (spool_dropped_assign):
	 * a count carried by a batch that is itself dropped would be lost */
	b.health.spool_dropped = 0;
	b.seq = spool_seq_next(pr->sp);
	if (!b.seq) {
		log_msg(LOG_ERR, "spool: cannot advance batch seq: %s", strerror(errno));
		goto out;
	}
	if (wire_batch_encode(&b, &buf, &len) < 0) {
		log_msg(LOG_ERR, "batch %llu: encode: %s", (unsigned long long)b.seq, strerror(errno));
		goto out;
	}
	if (spool_batch_append(pr->sp, b.seq, buf, len) < 0) {
		log_msg(LOG_ERR, "batch %llu: spool: %s", (unsigned long long)b.seq, strerror(errno));
		goto out;
	}
	dropped = spool_dropped_take(pr->sp);
	if (dropped)
		log_msg(LOG_WARN, "spool full: dropped %u oldest batches (%llu in all)", dropped,
			(unsigned long long)spool_dropped_total(pr->sp));
	log_msg(LOG_DEBUG, "batch %llu: %u flows, %u paths, %zu spooled", (unsigned long long)b.seq,
		b.nflows, b.npaths, spool_count(pr->sp));
out:
	free(buf);
	free(b.flows);
	free(b.paths);
}

/* A random session: responders keep counts per session, so a new one
 * starts them over, as after a restart. Never 0, which is what a SYN
 * without our TS option carries. */
static uint32_t session_new(void)
{
	uint32_t v = 0;
	int ufd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (ufd < 0 || read(ufd, &v, sizeof(v)) != sizeof(v))
		v = (uint32_t)clock_real_ns() ^ (uint32_t)getpid();
	if (ufd >= 0)
		close(ufd);
	return v ? v : 1;
}

/* Path tracing for the pinger's flows, its sockets read on the loop's
 * turns (see prober_setup). */
static int prober_pathwatch_open(struct prober *pr, char *err, size_t errlen)
{
	struct pathwatch_cfg wc = {
		.retrace_ns = (uint64_t)pr->cfg.trace_ms * 1000000u,
		.lossy_ns = (uint64_t)pr->cfg.trace_lossy_ms * 1000000u,
		.max_busy = (unsigned)pr->cfg.trace_busy,
		.router_interval_ms = (uint32_t)pr->cfg.trace_router_ms,
		.session = pr->ping_cfg.session,
		.coverage_cb = coverage_report_cb,
		.coverage_arg = pr,
		.dump = pr->dump,
	};
	int fds[4];
	size_t n;

	pr->pw = pathwatch_open(&wc, err, errlen);
	if (!pr->pw)
		return -1;
	n = pathwatch_fds(pr->pw, fds, 4);
	for (size_t i = 0; i < n; i++)
		ep_add(pr->trace_epfd, fds[i], EPOLLIN);
	return 0;
}

/* A changed target list, at an interval's end: a new pinger and path watch
 * with a new session. Flows grown for coverage start over and are grown
 * again from their traces. If the new list cannot be probed, the old one
 * is probed again. */
static void prober_targets_apply(struct prober *pr, struct target_spec *targets,
				 size_t ntargets)
{
	struct pinger_stats st;
	char err[512];

	if (pr->ping) {
		pinger_stats_get(pr->ping, &st);
		pr->ping_base.sent += st.sent;
		pr->ping_base.send_errors += st.send_errors;
		pr->ping_base.replies += st.replies;
		pr->ping_base.late += st.late;
		pr->ping_base.unmatched += st.unmatched;
	}
	pathwatch_close(pr->pw);
	pr->pw = NULL;
	/* closed first: the new pinger binds the same source ports */
	pinger_close(pr->ping);
	pr->ping_cfg.session = session_new();
	pr->ping = pinger_open(&pr->ping_cfg, targets, ntargets, pr->nl, err, sizeof(err));
	if (pr->ping)
		pinger_dump_set(pr->ping, pr->dump);
	if (pr->ping) {
		free(pr->targets);
		pr->targets = targets;
		pr->ntargets = ntargets;
		log_msg(LOG_INFO, "%s: now probing %zu targets", targets_source_name(pr->ts), ntargets);
	} else {
		log_msg(LOG_ERR, "%s: cannot probe the new list (%s); the previous one goes on",
			targets_source_name(pr->ts), err);
		free(targets);
		pr->ping = pinger_open(&pr->ping_cfg, pr->targets, pr->ntargets, pr->nl, err,
				       sizeof(err));
		if (!pr->ping) {
			log_msg(LOG_ERR, "cannot probe the previous list either: %s", err);
			return;
		}
		pinger_dump_set(pr->ping, pr->dump);
	}
	if (pr->cfg.trace_ms && prober_pathwatch_open(pr, err, sizeof(err)) < 0)
		log_msg(LOG_ERR, "no path tracing: %s", err);
}

/* At an interval's end: a refreshed list that changed is applied, one
 * that is broken is reported and the probing goes on. */
static void prober_targets_update(struct prober *pr)
{
	struct target_spec *targets = NULL;
	size_t ntargets = 0;
	char err[512];
	int rc = targets_source_take(pr->ts, &targets, &ntargets, err, sizeof(err));

	if (rc < 0)
		log_msg(LOG_ERR, "targets not refreshed: %s; probing the %zu current ones", err,
			pr->ntargets);
	else if (rc > 0)
		prober_targets_apply(pr, targets, ntargets);
}

static int prober_setup(struct prober *pr, char *err, size_t errlen)
{
	int fds[1024];
	size_t n;

	if (pr->cfg.key && hex_key_parse(pr->cfg.key, pr->key, sizeof(pr->key), &pr->keylen) < 0) {
		snprintf(err, errlen, "--key: expected 32-128 hex digits");
		return -1;
	}
	pr->epfd = epoll_create1(EPOLL_CLOEXEC);
	pr->up_fd_registered = -1;
	if (pr->epfd < 0) {
		snprintf(err, errlen, "epoll: %s", strerror(errno));
		return -1;
	}
	pr->nl = nl_open();
	if (!pr->nl)
		log_msg(LOG_WARN, "netlink unavailable (%s): no route sources or link health",
			strerror(errno));
	if (!pr->cfg.no_responder) {
		struct responder_cfg rc = {
			.rate_pps = pr->cfg.resp_rate,
			.burst = pr->cfg.resp_burst,
			.global_rate_pps = pr->cfg.resp_global_rate,
			.global_burst = pr->cfg.resp_global_burst,
			.ipv6 = !pr->cfg.no_ipv6,
		};

		/* the flags name the kinds: --listen-port udp, --tcp-port tcp */
		rc.port[probe_kind_index(&probe_udp_ops)] = (uint16_t)pr->cfg.listen_port;
		rc.port[probe_kind_index(&probe_tcp_ops)] = (uint16_t)pr->cfg.tcp_port;
		pr->resp = responder_open(&rc, err, errlen);
		if (!pr->resp)
			return -1;
		n = responder_fds(pr->resp, fds, 1024);
		for (size_t i = 0; i < n; i++)
			ep_add(pr->epfd, fds[i], EPOLLIN);
	}
	/* a probe is written off as lost only after a whole interval: the
	 * shortest jittered interval must outlast the reply deadline */
	if ((double)pr->cfg.interval_ms * (1.0 - pr->cfg.jitter) <= (double)pr->cfg.timeout_ms) {
		snprintf(err, errlen, "--interval (less --jitter) must be longer than --timeout");
		return -1;
	}
	if (pr->cfg.targets_from_collector && (!pr->cfg.collector || pr->cfg.targets)) {
		snprintf(err, errlen, "--targets-from-collector needs --collector and no --targets");
		return -1;
	}
	if (pr->cfg.targets || pr->cfg.targets_from_collector) {
		struct targets_source_cfg tc = {
			.file = pr->cfg.targets,
			.up = { .collector = pr->cfg.collector, .name = pr->name },
			.def = {
				.flows = (unsigned)pr->cfg.flows,
				.rate_pps = pr->cfg.rate,
				.dscp = (uint8_t)pr->cfg.dscp,
				.port = (uint16_t)pr->cfg.port,
				.kind = probe_kind_find(pr->cfg.proto),
			},
		};

		if (!tc.def.kind) {
			char kinds[128];

			probe_kind_names(kinds, sizeof(kinds));
			snprintf(err, errlen, "--proto: unknown kind '%s' (%s)", pr->cfg.proto, kinds);
			return -1;
		}
		if (pr->keylen) {
			tc.up.key = pr->key;
			tc.up.keylen = pr->keylen;
		}
		pr->ping_cfg = (struct pinger_cfg){
			.sport_base = (uint16_t)pr->cfg.sport_base,
			.pps_max = pr->cfg.pps_max,
			.timeout_ms = (uint32_t)pr->cfg.timeout_ms,
			.down_intervals = (uint32_t)pr->cfg.down_intervals,
			.session = session_new(),
		};
		srand(pr->ping_cfg.session);
		pr->ts = targets_source_open(&tc);
		if (!pr->ts) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		if (targets_source_first(pr->ts, &stop_flag, &pr->targets, &pr->ntargets, err,
					 errlen) < 0)
			return -1;
		if (pr->cfg.targets_from_collector)
			log_msg(LOG_INFO, "%s: %zu targets for %s", targets_source_name(pr->ts),
				pr->ntargets, pr->name);
		if (pr->cfg.dump_ring > 0 && !(pr->dump = dump_ring_new((size_t)pr->cfg.dump_ring))) {
			snprintf(err, errlen, "dump ring of %lld packets: %s", pr->cfg.dump_ring,
				 strerror(errno));
			return -1;
		}
		pr->ping = pinger_open(&pr->ping_cfg, pr->targets, pr->ntargets, pr->nl, err, errlen);
		if (!pr->ping)
			return -1;
		pinger_dump_set(pr->ping, pr->dump);
		if (pr->cfg.trace_ms) {
			/* The tracers' raw sockets see a copy of every UDP packet
			 * of the host (each probe and each reply): waking for each
			 * would undo the pinger's batching. Their answers are read
			 * on every loop turn instead, which comes at least every
			 * TRACE_RX_LAG_NS while the pinger is busy; longer sleeps
			 * wait on both sets so an answer never waits long. */
			pr->trace_epfd = epoll_create1(EPOLL_CLOEXEC);
			pr->any_epfd = epoll_create1(EPOLL_CLOEXEC);
			if (pr->trace_epfd < 0 || pr->any_epfd < 0 ||
			    ep_add(pr->any_epfd, pr->epfd, EPOLLIN) < 0 ||
			    ep_add(pr->any_epfd, pr->trace_epfd, EPOLLIN) < 0) {
				snprintf(err, errlen, "epoll: %s", strerror(errno));
				return -1;
			}
			if (prober_pathwatch_open(pr, err, errlen) < 0)
				return -1;
		}
		pr->sp = spool_open(pr->cfg.spool, (uint64_t)pr->cfg.spool_max_bytes, err, errlen);
		if (!pr->sp)
			return -1;
		log_msg(LOG_INFO, "probing %zu targets; %zu batches waiting in %s", pr->ntargets,
			spool_count(pr->sp), pr->cfg.spool);
	}
	if (pr->cfg.collector) {
		struct uplink_cfg uc = {
			.collector = pr->cfg.collector,
			.name = pr->name,
			.key = pr->keylen ? pr->key : NULL,
			.keylen = pr->keylen,
			.window = 32,
			.backoff_min_ms = 250,
			.backoff_max_ms = 30000,
		};

		if (!pr->sp) {
			snprintf(err, errlen, "--collector needs --targets (nothing to report)");
			return -1;
		}
		pr->up = uplink_new(&uc, pr->sp, err, errlen);
		if (!pr->up)
			return -1;
	}
	return 0;
}

/* Write the lossy flows' recent packets as pcap (SIGUSR1, exit). A failure
 * is logged with the file's name; probing goes on. */
static void prober_dump_write(struct prober *pr)
{
	struct dump_limits lim = {
		.span_ns = (uint64_t)pr->cfg.dump_span_ms * 1000000u,
		.timeout_ns = (uint64_t)pr->cfg.timeout_ms * 1000000u,
		.max_bytes = (uint64_t)pr->cfg.dump_max_bytes,
	};
	struct dump_stats st;
	char path[4096], err[4300];

	if (!pr->dump) {
		log_msg(LOG_WARN, "dump: nothing kept (%s)",
			pr->ping ? "--dump-ring 0" : "no targets: nothing probed");
		return;
	}
	if (pr->cfg.dump)
		snprintf(path, sizeof(path), "%s", pr->cfg.dump);
	else
		snprintf(path, sizeof(path), "%s/dump.pcap", pr->cfg.spool);
	if (dump_write(pr->dump, path, &lim, &st, err, sizeof(err)) < 0) {
		log_msg(LOG_ERR, "dump: %s", err);
		return;
	}
	log_msg(LOG_INFO, "dump: %s: %u lossy flows, %llu packets, %llu lost probes, %llu bytes%s",
		path, st.flows_lossy, (unsigned long long)st.packets, (unsigned long long)st.lost,
		(unsigned long long)st.bytes, st.truncated ? " (cut at --dump-max-bytes)" : "");
}

static void prober_teardown(struct prober *pr)
{
	targets_source_close(pr->ts);
	free(pr->targets);
	uplink_free(pr->up);
	pathwatch_close(pr->pw);
	spool_close(pr->sp);
	pinger_close(pr->ping);
	dump_ring_free(pr->dump);
	responder_close(pr->resp);
	nl_close(pr->nl);
	if (pr->epfd >= 0)
		close(pr->epfd);
	if (pr->trace_epfd >= 0)
		close(pr->trace_epfd);
	if (pr->any_epfd >= 0)
		close(pr->any_epfd);
}

/* Read the answers waiting on the tracers' sockets. */
static void trace_rx_drain(struct prober *pr, uint64_t mono)
{
	struct epoll_event ev[4];
	int n = epoll_wait(pr->trace_epfd, ev, 4, 0);

	for (int i = 0; i < n; i++)
		pathwatch_fd_ready(pr->pw, ev[i].data.fd, mono);
}

static void prober_run(struct prober *pr)
{
	uint64_t start = clock_real_ns();
	uint64_t deadline = pr->cfg.duration_ms ? start + (uint64_t)pr->cfg.duration_ms * 1000000u : 0;
	uint64_t iv_start = start, iv_end = start + interval_jittered_ns(&pr->cfg);
	uint64_t next_ping = start;
	uint64_t next_refresh = pr->cfg.targets_refresh_ms
					? start + (uint64_t)pr->cfg.targets_refresh_ms * 1000000u
					: UINT64_MAX;

	while (!stop_flag) {
		struct epoll_event ev[64];
		uint64_t now = clock_real_ns(), next = iv_end;
		struct timespec to;
		int n, up_r = 0, up_w = 0;

		if (pr->ping && next_ping < next)
			next = next_ping;
		if (pr->up) {
			uint64_t u = (uint64_t)uplink_next_ms(pr->up, (int64_t)(now / 1000000u)) * 1000000u;

			if (u < next)
				next = u;
		}
		if (deadline && deadline < next)
			next = deadline;
		if (pr->pw) {
			/* the tracer keeps CLOCK_MONOTONIC time; its answers
			 * first, so none that came is taken for a timeout */
			uint64_t m = clock_mono_ns(), t;

			trace_rx_drain(pr, m);
			t = pathwatch_run(pr->pw, m);

			if (t != UINT64_MAX && now + (t > m ? t - m : 0) < next)
				next = now + (t > m ? t - m : 0);
		}
		uplink_epoll_sync(pr);
		to.tv_sec = next > now ? (time_t)((next - now) / 1000000000u) : 0;
		to.tv_nsec = next > now ? (long)((next - now) % 1000000000u) : 0;
		if (pr->pw && next > now + TRACE_RX_LAG_NS) {
			/* a long sleep: tracer answers wake us too */
			n = epoll_pwait2(pr->any_epfd, ev, 64, &to, NULL);
			if (n > 0)
				n = epoll_wait(pr->epfd, ev, 64, 0);
		} else {
			n = epoll_pwait2(pr->epfd, ev, 64, &to, NULL);
		}
		if (n < 0 && errno != EINTR) {
			log_msg(LOG_ERR, "epoll: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			if (pr->up && fd == uplink_fd(pr->up)) {
				up_r = !!(ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP));
				up_w = !!(ev[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP));
				continue;
			}
			if (pr->resp)
				responder_fd_ready(pr->resp, fd);
		}
		now = clock_real_ns();
		if (pr->ts && (reload_flag || now >= next_refresh)) {
			/* a fetch runs meanwhile; the list is taken at the
			 * interval's end, so no interval mixes two lists */
			reload_flag = 0;
			targets_source_refresh(pr->ts);
			if (pr->cfg.targets_refresh_ms)
				next_refresh = now + (uint64_t)pr->cfg.targets_refresh_ms * 1000000u;
		}
		if (pr->ping)
			next_ping = pinger_tick(pr->ping, now);
		if (dump_flag) {
			dump_flag = 0;
			prober_dump_write(pr);
		}
		if (now >= iv_end) {
			if (pr->ping) {
				interval_report(pr, iv_start, now);
				up_w = 1; /* a new batch to send */
			}
			if (pr->ts)
				prober_targets_update(pr);
			iv_start = now;
			iv_end = now + interval_jittered_ns(&pr->cfg);
		}
		if (pr->up)
			uplink_run(pr->up, up_r, up_w, (int64_t)(now / 1000000u));
		if (deadline && now >= deadline)
			break;
	}
}

static void stats_log(const struct prober *pr)
{
	if (pr->ping) {
		struct pinger_stats s;

		pinger_stats_get(pr->ping, &s);
		s.sent += pr->ping_base.sent;
		s.send_errors += pr->ping_base.send_errors;
		s.replies += pr->ping_base.replies;
		s.late += pr->ping_base.late;
		s.unmatched += pr->ping_base.unmatched;
		log_msg(LOG_INFO, "pinger: sent %llu, send errors %llu, replies %llu, late %llu, unmatched %llu",
			(unsigned long long)s.sent, (unsigned long long)s.send_errors,
			(unsigned long long)s.replies, (unsigned long long)s.late,
			(unsigned long long)s.unmatched);
	}
	if (pr->resp) {
		struct responder_stats s;

		responder_stats_get(pr->resp, &s);
		log_msg(LOG_INFO, "responder: answered %llu, rate-limited %llu (per source) %llu (global), malformed %llu, send errors %llu",
			(unsigned long long)s.answered, (unsigned long long)s.rate_limited,
			(unsigned long long)s.global_limited, (unsigned long long)s.malformed,
			(unsigned long long)s.send_errors);
	}
	if (pr->up)
		log_msg(LOG_INFO, "uplink: %llu batches acknowledged, %zu spooled",
			(unsigned long long)uplink_acked(pr->up), spool_count(pr->sp));
}

int prober_daemon_run(const struct prober_cfg *cfg)
{
	struct prober pr = { .cfg = *cfg, .epfd = -1, .trace_epfd = -1, .any_epfd = -1 };
	struct sigaction sa = { .sa_handler = on_signal };
	char err[512];

	snprintf(pr.name, sizeof(pr.name), "%s", cfg->name);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (prober_setup(&pr, err, sizeof(err)) < 0) {
		log_msg(LOG_ERR, "%s", err);
		prober_teardown(&pr);
		return 1;
	}
	if (!pr.cfg.keep_caps && caps_keep_net_raw() < 0) {
		log_msg(LOG_ERR, "cannot drop capabilities: %s", strerror(errno));
		prober_teardown(&pr);
		return 1;
	}
	prober_run(&pr);
	if (pr.cfg.dump)
		prober_dump_write(&pr);
	stats_log(&pr);
	prober_teardown(&pr);
	return 0;
}
