/* Pinger: probes every target on its flows at its rate under a global pps
 * cap, matches replies, and closes each interval into per-flow figures. */
#ifndef FM_PINGER_H
#define FM_PINGER_H

#include "mda.h"
#include "wire.h"
#include "targets.h"

#include <stddef.h>
#include <stdint.h>

struct pinger;
struct nl_handle;

struct pinger_cfg {
	uint16_t sport_base;     /* flow i of a target uses source port sport_base + i */
	double pps_max;          /* global cap; per-target rates scale down to fit */
	uint32_t timeout_ms;     /* a reply later than this is lost (< 4000: TCP echoes 32-bit ns) */
	uint32_t down_intervals; /* silent intervals on all flows before target_down */
	uint32_t session;        /* random per run, lets responders restart counts */
};

struct pinger_stats {
	uint64_t sent, send_errors, replies, late, unmatched;
};

/* Open sockets for the targets' kinds and families and prebuild every flow's
 * packet. nl (may be NULL) gives each target's source address. Returns NULL
 * with a reason in err. Targets are copied. */
struct pinger *pinger_open(const struct pinger_cfg *cfg, const struct target_spec *targets,
			   size_t ntargets, struct nl_handle *nl, char *err, size_t errlen);
struct dump_ring;
/* Keep every probe sent and every reply counted in r (NULL: stop), for the
 * prober's pcap dump. */
void pinger_dump_set(struct pinger *p, struct dump_ring *r);
/* Read the replies that have arrived (their RTT is from the kernel's receive
 * stamp, so when they are read does not matter; bad input is counted), then
 * send every probe due at now_ns. Returns when to call again: the next send,
 * or sooner to read the replies to what it just sent. The pinger's sockets
 * need no polling by the caller. */
uint64_t pinger_tick(struct pinger *p, uint64_t now_ns);
/* Close the interval: fill b->flows (malloc'd, b->nflows) with every flow's
 * figures. 0, or -1 with errno ENOMEM. */
int pinger_interval_close(struct pinger *p, struct wire_batch *b);
#define PINGER_MDA_ALPHA 0.05 /* coverage confidence: 95% */

/* A coverage decision for one target. */
struct pinger_coverage {
	const char *host;          /* as in the targets file; valid while p is */
	const char *kind;          /* its probe kind's name (a host may have several) */
	int flows_auto;            /* 0: flows= was set, the count is kept */
	unsigned flows_before, flows_after;
	int capped;                /* wanted more than the flow limits allow */
	struct mda_coverage mda;   /* zero when nothing reached the target */
};

/* Its traced flows (those of the target that flow index `flow` of the
 * batches belongs to) showed `paths` distinct hop lists over `traced` flows
 * that reached it: assess coverage at 95% and, for a target without an
 * explicit flows=, add flows (new source ports, ids after every existing
 * one) up to what the MDA bound needs, at most TARGETS_FLOWS_MAX. The
 * target's probe rate does not change: it is spread over more flows. Fills
 * out; 0, or -1 with errno (EINVAL bad flow, ENOSPC, ENOMEM, socket errors:
 * the target keeps its flows). */
int pinger_coverage_apply(struct pinger *p, size_t flow, unsigned traced, unsigned paths,
			  struct pinger_coverage *out);
void pinger_stats_get(const struct pinger *p, struct pinger_stats *s);
void pinger_close(struct pinger *p);

#endif
