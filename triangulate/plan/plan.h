/* Probe planning: which targets each prober probes, and with how many flows,
 * so every directed link is crossed by flows of several probers, with far
 * fewer pairs than a full mesh. ECMP is modelled as an even split over the
 * next hops on shortest paths at every switch.
 *
 * Plan file (read by triangulate simulate --plan, served by the collector):
 *   # faultmesh plan v1
 *   PROBER<TAB>TARGET<TAB>TARGET_ADDRESS<TAB>FLOWS
 */
#ifndef FM_TRIANGULATE_PLAN_H
#define FM_TRIANGULATE_PLAN_H

#include <stddef.h>
#include <stdio.h>

#define PLAN_HEADER "# faultmesh plan v1"

struct inventory;

struct plan_cfg {
	long long probers_per_link; /* distinct probers wanted across each link */
	long long flows_per_pair;   /* flows (source ports) per prober-target pair */
	long long candidates;       /* targets sampled per greedy step */
	long long max_targets;      /* cap on targets per prober */
	long long seed;             /* candidate sampling */
};

struct plan_stats {
	size_t hosts, links, pairs, flows;
	size_t links_short; /* links left under probers_per_link */
};

/* Plan from an inventory with link lines (hosts: devices with one link).
 * Writes the plan to out. Returns 0, or -1 with a reason in err. */
int plan_write(const struct inventory *inv, const struct plan_cfg *cfg, FILE *out,
	       struct plan_stats *st, char *err, size_t errlen);

#endif
