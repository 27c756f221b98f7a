/* Pinger: probes every target on its flows at its rate under a global pps
 * cap, matches replies, and closes each interval into per-flow figures. */
#ifndef FM_PINGER_H
#define FM_PINGER_H

#include "report.h"
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
size_t pinger_fds(const struct pinger *p, int *fds, size_t max);
/* Read replies queued on fd. Never fails; bad input is counted. */
void pinger_fd_ready(struct pinger *p, int fd);
/* Send every probe due at now_ns; returns when the next one is due. */
uint64_t pinger_tick(struct pinger *p, uint64_t now_ns);
/* Close the interval: fill b->flows (malloc'd, b->nflows) with every flow's
 * figures. 0, or -1 with errno ENOMEM. */
int pinger_interval_close(struct pinger *p, struct report_batch *b);
void pinger_stats_get(const struct pinger *p, struct pinger_stats *s);
void pinger_close(struct pinger *p);

#endif
