/* Path watch: one tracer per address family; per flow the time of its next
 * trace. Traces start a few at a time (max_busy) so the tracers' own pacing
 * keeps routers under their ICMP rate limits. */
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
};

struct pathwatch {
	struct pathwatch_cfg cfg;
	struct tracer *tr[2]; /* AF_INET, AF_INET6 */
	struct pw_flow *flows;
	size_t nflows;
	struct report_path *done; /* finished since the last interval */
	size_t ndone, capdone;
	size_t cursor; /* round robin start for due flows */
	uint64_t scan_after; /* no flow is due before this (monotonic ns) */
};

static int fam_idx(int family)
{
	return family == AF_INET6;
}

static uint64_t jittered(uint64_t ns)
{
	return ns - ns / 4 + (uint64_t)((double)(ns / 2) * ((double)rand() / RAND_MAX));
}

static void pw_done_cb(void *arg, const struct trace_result *res)
{
	struct pathwatch *pw = arg;
	struct pw_flow *f = res->user < pw->nflows ? &pw->flows[res->user] : NULL;
	struct report_path path = res->path;

	if (f)
		f->in_tracer = 0;
	pw->scan_after = 0; /* room for the next due flow */
	/* a trace that never got going tells nothing about the path */
	if (res->end == TRACE_END_ERROR || res->end == TRACE_END_CANCELLED)
		return;
	if (res->end != TRACE_END_REACHED) {
		/* A flow that stops answering mid-path (a blackhole, a dead
		 * link) keeps the whole path it was last seen on: the cut one
		 * would name links that do not exist. Without one, the partial
		 * path ends in a '*' so no one reads it as complete. */
		if (f && f->reached)
			return;
		if (path.nhops < REPORT_HOPS_MAX) {
			memset(&path.hops[path.nhops], 0, sizeof(path.hops[0]));
			path.hop_probes[path.nhops] = path.hop_replies[path.nhops] = 0;
			path.nhops++;
		}
	} else if (f) {
		f->reached = 1;
	}
	if (pw->ndone == pw->capdone) {
		size_t cap = pw->capdone ? pw->capdone * 2 : 64;
		struct report_path *v = realloc(pw->done, cap * sizeof(*v));

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
	pw->tr[0] = tracer_open(AF_INET, &tc, pw_done_cb, pw);
	if (!pw->tr[0]) {
		snprintf(err, errlen, "path tracer (IPv4): %s", strerror(errno));
		free(pw);
		return NULL;
	}
	pw->tr[1] = tracer_open(AF_INET6, &tc, pw_done_cb, pw); /* NULL: no IPv6 traces */
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

static int pw_flows_learn(struct pathwatch *pw, const struct report_batch *b, uint64_t mono_ns)
{
	uint64_t first_spread_ns = pw->cfg.retrace_ns / 4 < 5000000000ull ?
					   pw->cfg.retrace_ns / 4 : 5000000000ull;
	struct pw_flow *v;

	if (pw->nflows == b->nflows)
		return 0;
	/* the flow list is fixed for a run: learn it once, from the first batch */
	v = calloc(b->nflows ? b->nflows : 1, sizeof(*v));
	if (!v)
		return -1;
	for (size_t i = 0; i < b->nflows; i++) {
		const struct report_flow *r = &b->flows[i];

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
	free(pw->flows);
	pw->flows = v;
	pw->nflows = b->nflows;
	pw->scan_after = 0;
	return 0;
}

int pathwatch_interval(struct pathwatch *pw, struct report_batch *b, uint64_t mono_ns)
{
	if (pw_flows_learn(pw, b, mono_ns) < 0) {
		errno = ENOMEM;
		return -1;
	}
	for (size_t i = 0; i < b->nflows; i++) {
		const struct report_flow *r = &b->flows[i];
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
	free(pw->done);
	free(pw);
}
