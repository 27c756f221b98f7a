/* Fabric simulator: Clos fabrics of 2 tiers (leaf-spine) or 3 tiers (k-ary
 * fat tree), ECMP by per-switch 5-tuple hash, injected faults, and the
 * observations, inventory and truth files they produce.
 *
 * Truth file (read by triangulate score):
 *   # faultmesh truth v2
 *   link<TAB>FROM<TAB>TO<TAB>LOSS<TAB>SHOWN        a directed link drops LOSS of packets
 *   device<TAB>DEV<TAB>LOSS<TAB>SHOWN              a switch drops LOSS of what it forwards
 *   blackhole<TAB>FROM<TAB>TO<TAB>SHARE<TAB>SHOWN  a link drops every packet of SHARE of flows
 *   host<TAB>HOST<TAB>LOSS<TAB>SHOWN               a host drops LOSS of what it sends or receives
 * SHOWN is the oracle's verdict (1: the data can show this fault, 0: it can
 * not): it knows every link's true loss, and tests the probes lost on the
 * flows that crossed the fault against what every other element's true loss
 * predicts for them (one-sided Poisson tail, Bonferroni over all directed
 * links, at SIM_ORACLE_ALPHA). v1 files (no SHOWN) count every fault shown.
 */
#ifndef FM_TRIANGULATE_SIM_H
#define FM_TRIANGULATE_SIM_H

#include <stdio.h>

#define SIM_TRUTH_HEADER "# faultmesh truth v2"
#define SIM_TRUTH_HEADER_V1 "# faultmesh truth v1"
#define SIM_ORACLE_ALPHA 0.01 /* the oracle's family-wise level */

struct sim_cfg {
	long long tiers;         /* 2: leaf-spine, 3: fat tree */
	long long k;             /* switch radix, even */
	long long hosts_per_tor; /* probing hosts under each edge switch */
	long long flows;         /* flows probed in the window */
	long long probes;        /* probes per flow */
	long long faults;        /* concurrent injected faults */
	const char *kinds;       /* fault kinds, used in turn (repeats allowed):
				  * link,device,blackhole,host */
	double loss_min, loss_max; /* fault loss, log-uniform */
	double bg_min, bg_max;     /* healthy link loss, log-uniform (or uniform) */
	int bg_uniform;            /* healthy loss uniform in [bg_min, bg_max] */
	double blackhole_share;    /* share of a blackhole's flows it kills; 0: 10-70% */
	int reply_loss;            /* replies take the reverse 5-tuple's own path and
				    * can be lost there: booked as the prober books
				    * them, lost_rev between answers, else lost */
	double stale_ratio;        /* share of flows whose path changed mid-window:
				    * half the probes went another way than the one traced */
	double star_ratio;         /* share of router hops that do not answer */
	double unknown_ratio;      /* share of flows whose path is unknown */
	int inventory_links;       /* write link lines into the inventory */
	long long seed;            /* RNG seed: same seed, same files */
	const char *plan;          /* plan file (plan.h): its flows replace random pairs */
};

/* Write the three files. Returns 0, or -1 with a reason in err (bad radix or
 * kinds, I/O). Faults that cannot be placed without sharing a device with
 * another fault are dropped, and their count is returned in *placed. */
int sim_run(const struct sim_cfg *cfg, FILE *obs, FILE *inv, FILE *truth,
	    long long *placed, char *err, size_t errlen);

#endif
