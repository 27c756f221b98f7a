/* Path watch: traces every loss-probe flow with the tracer (trace.h, same
 * 5-tuple, so the same ECMP path) at start, periodically, and soon after the
 * flow shows loss; finished traces ride in the next report batch. */
#ifndef FM_PATHWATCH_H
#define FM_PATHWATCH_H

#include "wire.h"

#include <stddef.h>
#include <stdint.h>

struct pathwatch;

struct pathwatch_cfg {
	uint64_t retrace_ns;   /* re-trace every flow this often (jittered +-25%) */
	uint64_t lossy_ns;     /* a lossy flow is re-traced if its trace is older */
	unsigned max_busy;     /* flows queued in the tracers at once */
	uint32_t router_interval_ms; /* tracer pacing per router (tracer_cfg) */
	uint32_t session;      /* the pinger's session: UDP traces use another */
	/* Called from pathwatch_interval once every flow of a target (flows
	 * sharing addresses, protocol, DSCP and port) has a finished trace,
	 * and again each time it has more flows and they are all traced:
	 * `traced` of them reached the target over `paths` distinct hop
	 * lists; `flow` is the batch index of one of them. May be NULL. */
	void (*coverage_cb)(void *arg, size_t flow, unsigned traced, unsigned paths);
	void *coverage_arg;
	struct dump_ring *dump; /* the tracers keep their packets here (NULL: no) */
};

/* Open tracers for IPv4 and (when it works) IPv6. NULL with a reason in err.
 * Needs CAP_NET_RAW. */
struct pathwatch *pathwatch_open(const struct pathwatch_cfg *cfg, char *err, size_t errlen);
size_t pathwatch_fds(const struct pathwatch *pw, int *fds, size_t max);
void pathwatch_fd_ready(struct pathwatch *pw, int fd, uint64_t mono_ns);
/* Start due traces and drive the tracers; returns when to call again
 * (CLOCK_MONOTONIC ns). */
uint64_t pathwatch_run(struct pathwatch *pw, uint64_t mono_ns);
/* At an interval's end, with its flows filled in: learn the flow list (it
 * may grow, new flows after the old ones; never shrinks), report coverage,
 * schedule lossy flows for a re-trace, and hand over the traces finished
 * since the last call as b->paths (malloc'd; b->npaths). 0, or -1 ENOMEM. */
int pathwatch_interval(struct pathwatch *pw, struct wire_batch *b, uint64_t mono_ns);
void pathwatch_close(struct pathwatch *pw);

#endif
