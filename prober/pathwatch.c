/* Path watch: one tracer per address family; per flow the time of its next
 * trace. Traces start a few at a time (max_busy) so the tracers' own pacing
 * keeps routers under their ICMP rate limits. Flows are grouped by target to
 * count the distinct paths they cover (the caller sizes flows from that). */
#include "pathwatch.h"
#include "probe.h"
#include "trace.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct pw_flow {
	struct trace_flow tf;
	uint64_t next_ns;   /* when to trace next, monotonic; 0 = not yet known */
	uint64_t last_ns;   /* when its last trace started, 0 = never */
	uint8_t in_tracer;  /* queued or being traced */
	uint8_t reached;    /* some trace of it reached the destination */
	uint8_t finished;   /* some trace of it ended (reached or not) */
	uint32_t group;     /* its target, index in groups */
	uint64_t path_hash; /* hop list of its last trace that reached */
};

/* The flows of one target: same addresses, protocol, DSCP and port. */
struct pw_group {
	struct wire_addr src, dst;
	uint8_t proto, dscp;
	uint16_t dport;
	uint32_t nflows;
	uint32_t assessed_at; /* nflows when coverage was last reported */
	uint8_t dirty;        /* a trace finished since */
};

struct pathwatch {
	struct pathwatch_cfg cfg;
	struct tracer *tr[2]; /* AF_INET, AF_INET6 */
	struct pw_flow *flows;
	size_t nflows;
	struct wire_path *done; /* finished since the last interval */
	size_t ndone, capdone;
	size_t cursor; /* round robin start for due flows */
	uint64_t scan_after; /* no flow is due before this (monotonic ns) */
	struct pw_group *groups;
	size_t ngroups, capgroups;
};

static int fam_idx(int family)
{
	return family == AF_INET6;
}

static uint64_t jittered(uint64_t ns)
{
	return ns - ns / 4 + (uint64_t)((double)(ns / 2) * ((double)rand() / RAND_MAX));
}

/* FNV-1a over the hop list: equal paths, equal hashes */
static uint64_t path_hash(const struct wire_path *p)
{
	uint64_t h = 1469598103934665603ull;

	for (unsigned i = 0; i < p->nhops; i++) {
		h = (h ^ p->hops[i].family) * 1099511628211ull;
		for (size_t b = 0; b < sizeof(p->hops[i].bytes); b++)
			h = (h ^ p->hops[i].bytes[b]) * 1099511628211ull;
	}
	return (h ^ p->nhops) * 1099511628211ull;
}

static void pw_done_cb(void *arg, const struct trace_result *res)
{
	struct pathwatch *pw = arg;
	struct pw_flow *f = res->user < pw->nflows ? &pw->flows[res->user] : NULL;
	struct wire_path path = res->path;

	if (f)
		f->in_tracer = 0;
	pw->scan_after = 0; /* room for the next due flow */
	/* a trace that never got going tells nothing about the path */
	if (res->end == TRACE_END_ERROR || res->end == TRACE_END_CANCELLED)
		return;
	if (f) {
		f->finished = 1;
		pw->groups[f->group].dirty = 1;
		if (res->end == TRACE_END_REACHED)
			f->path_hash = path_hash(&res->path);
	}
	if (res->end != TRACE_END_REACHED) {
		/* A flow that stops answering mid-path (a blackhole, a dead
		 * link) keeps the whole path it was last seen on: the cut one
		 * would name links that do not exist. Without one, the partial
		 * path ends in a '*' so no one reads it as complete. */
		if (f && f->reached)
			return;
		if (path.nhops < WIRE_HOPS_MAX) {
			memset(&path.hops[path.nhops], 0, sizeof(path.hops[0]));
			path.hop_probes[path.nhops] = path.hop_replies[path.nhops] = 0;
			path.nhops++;
		}
	} else if (f) {
		f->reached = 1;
	}
	if (pw->ndone == pw->capdone) {
		size_t cap = pw->capdone ? pw->capdone * 2 : 64;
		struct wire_path *v = realloc(pw->done, cap * sizeof(*v));

		if (!v)
			return; /* dropped: the flow is traced again later */
		pw->done = v;
		pw->capdone = cap;
	}
	pw->done[pw->ndone++] = path;
}

struct pathwatch *pathwatch_open(const struct pathwatch_cfg *cfg, char *err, size_t errlen)
{
	struct pathwatch *pw = calloc(1, sizeof(*pw));
	/* UDP trace probes begin with a faultmesh request of another session:
	 * the responder answers them (so the last hop is confirmed by the
	 * destination itself) and counts them apart from the loss probes, and
	 * the pinger ignores the replies (wrong session). */
	uint8_t hdr[PROBE_HDR_LEN];
	struct probe_msg m = { .type = PROBE_REQUEST, .session = ~cfg->session };
	struct tracer_cfg tc;

	if (!pw) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pw->cfg = *cfg;
	probe_msg_encode(&m, hdr);
	tracer_cfg_default(&tc);
	tc.udp_payload = hdr;
	tc.udp_payload_len = sizeof(hdr);
	tc.udp_echo_off = 8; /* the session word: replies echo it */
	tc.router_interval_ms = cfg->router_interval_ms;
	pw->tr[0] = tracer_open(AF_INET, &tc, pw_done_cb, pw);
	if (!pw->tr[0]) {
		snprintf(err, errlen, "path tracer (IPv4): %s", strerror(errno));
		free(pw);
		return NULL;
	}
	pw->tr[1] = tracer_open(AF_INET6, &tc, pw_done_cb, pw); /* NULL: no IPv6 traces */
	for (int i = 0; i < 2 && cfg->dump; i++)
		if (pw->tr[i])
			tracer_dump_set(pw->tr[i], cfg->dump);
	return pw;
}

size_t pathwatch_fds(const struct pathwatch *pw, int *fds, size_t max)
{
	size_t n = 0;

	for (int f = 0; f < 2; f++)
		if (pw->tr[f] && n < max)
			fds[n++] = tracer_fd(pw->tr[f]);
	return n;
}

void pathwatch_fd_ready(struct pathwatch *pw, int fd, uint64_t mono_ns)
{
	for (int f = 0; f < 2; f++)
		if (pw->tr[f] && tracer_fd(pw->tr[f]) == fd)
			tracer_readable(pw->tr[f], mono_ns);
}

uint64_t pathwatch_run(struct pathwatch *pw, uint64_t mono_ns)
{
	uint64_t next;
	unsigned busy = 0;

	for (int f = 0; f < 2; f++)
		if (pw->tr[f])
			busy += tracer_busy(pw->tr[f]);
	/* scanning every flow is O(flows): only when one can be due */
	if (mono_ns >= pw->scan_after) {
		uint64_t due_min = UINT64_MAX;

		for (size_t k = 0; k < pw->nflows; k++) {
			size_t i = (pw->cursor + k) % pw->nflows;
			struct pw_flow *fl = &pw->flows[i];
			struct tracer *t = pw->tr[fam_idx(fl->tf.dst.family)];

			if (fl->in_tracer || !fl->next_ns || !t)
				continue;
			if (fl->next_ns > mono_ns) {
				if (fl->next_ns < due_min)
					due_min = fl->next_ns;
				continue;
			}
			if (busy >= pw->cfg.max_busy) {
				/* full: a finished trace resets scan_after */
				due_min = UINT64_MAX;
				pw->cursor = i;
				break;
			}
			fl->next_ns = mono_ns + jittered(pw->cfg.retrace_ns);
			fl->last_ns = mono_ns;
			if (tracer_flow_start(t, &fl->tf, i, mono_ns) == 0) {
				fl->in_tracer = 1;
				busy++;
			}
			if (fl->next_ns < due_min)
				due_min = fl->next_ns;
		}
		pw->scan_after = due_min;
	}
	next = pw->scan_after;
	for (int f = 0; f < 2; f++) {
		uint64_t n;

		if (!pw->tr[f])
			continue;
		tracer_timer(pw->tr[f], mono_ns);
		n = tracer_next_ns(pw->tr[f]);
		if (n < next)
			next = n;
	}
	return next;
}

static int pw_group_is(const struct pw_group *g, const struct wire_flow *r)
{
	return g->proto == r->proto && g->dscp == r->dscp && g->dport == r->dport &&
	       !memcmp(&g->dst, &r->dst, sizeof(g->dst)) && !memcmp(&g->src, &r->src, sizeof(g->src));
}

/* The group of flow r (hint: its predecessor's, usually the same target),
 * created if new; UINT32_MAX when out of memory. */
static uint32_t pw_group_find(struct pathwatch *pw, const struct wire_flow *r, uint32_t hint)
{
	struct pw_group *g;
	size_t i = 0;

	if (hint < pw->ngroups && pw_group_is(&pw->groups[hint], r))
		i = hint;
	else
		while (i < pw->ngroups && !pw_group_is(&pw->groups[i], r))
			i++;
	if (i == pw->ngroups) {
		if (pw->ngroups == pw->capgroups) {
			size_t cap = pw->capgroups ? pw->capgroups * 2 : 16;

			g = realloc(pw->groups, cap * sizeof(*g));
			if (!g)
				return UINT32_MAX;
			pw->groups = g;
			pw->capgroups = cap;
		}
		g = &pw->groups[pw->ngroups++];
		memset(g, 0, sizeof(*g));
		g->src = r->src;
		g->dst = r->dst;
		g->proto = r->proto;
		g->dscp = r->dscp;
		g->dport = r->dport;
	}
	pw->groups[i].nflows++;
	return (uint32_t)i;
}

static int pw_flows_learn(struct pathwatch *pw, const struct wire_batch *b, uint64_t mono_ns)
{
	uint64_t first_spread_ns = pw->cfg.retrace_ns / 4 < 5000000000ull ?
					   pw->cfg.retrace_ns / 4 : 5000000000ull;
	struct pw_flow *v;

	if (b->nflows <= pw->nflows)
		return 0;
	/* flows are only ever added, after the ones already known (the pinger
	 * grows a target's flows for coverage): keep what those have */
	v = realloc(pw->flows, b->nflows * sizeof(*v));
	if (!v)
		return -1;
	pw->flows = v;
	memset(v + pw->nflows, 0, (b->nflows - pw->nflows) * sizeof(*v));
	for (size_t i = pw->nflows; i < b->nflows; i++) {
		const struct wire_flow *r = &b->flows[i];

		v[i].tf.src = r->src;
		v[i].tf.dst = r->dst;
		v[i].tf.proto = r->proto;
		v[i].tf.dscp = r->dscp;
		v[i].tf.sport = r->sport;
		v[i].tf.dport = r->dport;
		/* first traces soon (localization needs paths), spread over a
		 * few seconds; the tracers' own pacing spares the routers */
		v[i].next_ns = mono_ns + 1 + (uint64_t)((double)first_spread_ns *
						       ((double)rand() / RAND_MAX));
	}
	for (size_t i = pw->nflows; i < b->nflows; i++) {
		v[i].group = pw_group_find(pw, &b->flows[i], i ? v[i - 1].group : UINT32_MAX);
		if (v[i].group == UINT32_MAX) {
			pw->nflows = i; /* learn the rest next time */
			return -1;
		}
	}
	pw->nflows = b->nflows;
	pw->scan_after = 0;
	return 0;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Report the coverage of every target whose flows are all traced and were
 * not reported at this many flows yet. */
static void pw_coverage(struct pathwatch *pw)
{
	uint64_t *h = NULL;
	size_t caph = 0;

	if (!pw->cfg.coverage_cb)
		return;
	for (size_t g = 0; g < pw->ngroups; g++) {
		struct pw_group *gr = &pw->groups[g];
		size_t nh = 0, first = SIZE_MAX, finished = 0;
		unsigned paths = 0;

		if (!gr->dirty || gr->assessed_at == gr->nflows)
			continue;
		gr->dirty = 0;
		if (caph < gr->nflows) {
			uint64_t *v = realloc(h, gr->nflows * sizeof(*v));

			if (!v)
				break;
			h = v;
			caph = gr->nflows;
		}
		for (size_t i = 0; i < pw->nflows; i++) {
			const struct pw_flow *f = &pw->flows[i];

			if (f->group != g)
				continue;
			if (first == SIZE_MAX)
				first = i;
			finished += f->finished;
			if (f->reached && nh < caph)
				h[nh++] = f->path_hash;
		}
		if (finished < gr->nflows || !nh)
			continue;
		qsort(h, nh, sizeof(*h), u64_cmp);
		for (size_t i = 0; i < nh; i++)
			paths += !i || h[i] != h[i - 1];
		gr->assessed_at = gr->nflows;
		pw->cfg.coverage_cb(pw->cfg.coverage_arg, first, (unsigned)nh, paths);
	}
	free(h);
}

int pathwatch_interval(struct pathwatch *pw, struct wire_batch *b, uint64_t mono_ns)
{
	if (pw_flows_learn(pw, b, mono_ns) < 0) {
		errno = ENOMEM;
		return -1;
	}
	pw_coverage(pw);
	for (size_t i = 0; i < b->nflows; i++) {
		const struct wire_flow *r = &b->flows[i];
		struct pw_flow *fl = &pw->flows[i];

		/* loss on a flow whose path was last seen long ago: look again,
		 * the path may have changed under it */
		if ((r->lost_fwd || r->lost_rev) && !r->target_down && !fl->in_tracer &&
		    fl->last_ns && mono_ns - fl->last_ns > pw->cfg.lossy_ns) {
			fl->next_ns = mono_ns;
			pw->scan_after = 0;
		}
	}
	b->paths = pw->done;
	b->npaths = (uint32_t)pw->ndone;
	pw->done = NULL;
	pw->ndone = pw->capdone = 0;
	return 0;
}

void pathwatch_close(struct pathwatch *pw)
{
	if (!pw)
		return;
	for (int f = 0; f < 2; f++)
		tracer_close(pw->tr[f]);
	free(pw->flows);
	free(pw->groups);
	free(pw->done);
	free(pw);
}
