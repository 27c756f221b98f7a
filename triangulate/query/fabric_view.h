/* One window of observations seen as a fabric, for queries and reports:
 * the model, its suspects, per-link and per-pair figures, tiers by distance
 * from the hosts. Built once, read by every writer. */
#ifndef FM_TRIANGULATE_FABRIC_VIEW_H
#define FM_TRIANGULATE_FABRIC_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "infer.h"
#include "suspect.h"

struct obs_set;
struct inventory;
struct model;

/* A directed link's evidence over the window. */
struct fabric_link {
	uint32_t from, to;      /* device ids */
	uint64_t flows;         /* flows that most likely crossed it */
	uint64_t lossy_flows;   /* of those, flows that lost probes */
	double sent, lost;      /* probes of those flows, path-weighted */
	/* Loss charged to this link: a suspect's fitted loss, otherwise the
	 * loss of the flows crossing it that the suspects do not explain. */
	double loss_ratio;
	/* 95% lower bound of loss_ratio: loss the evidence is sure of, which a
	 * picture may colour without crying wolf over a few probes */
	double loss_lo;
	int32_t suspect;        /* index into the view's suspects, or -1 */
};

struct fabric_dev {
	int tier;          /* hops from the nearest host (0: a host), -1: none */
	int32_t suspect;   /* device or host suspect index, or -1 */
	uint64_t flows, lossy_flows; /* flows that crossed or ended at it */
	double sent, lost;
};

/* A prober device and target device with every flow between them. */
struct fabric_pair {
	uint32_t prober, target; /* device ids */
	uint64_t flows, lossy_flows, sent, lost;
	uint32_t paths;          /* distinct link paths among the flows */
};

struct fabric_view {
	struct model *m;
	struct suspect_list sus;
	struct fabric_link *links; /* m->nlinks */
	struct fabric_dev *devs;   /* m->ndevs */
	struct fabric_pair *pairs; /* sorted by loss ratio, worst first */
	size_t npairs;
	int tiers;                 /* highest tier + 1 */
	uint64_t flows, lossy_flows, sent, lost; /* whole window */
	uint64_t flows_unplaced; /* flows with no known or inferable path */
};

/* Build the view of obs (names through inv, may be NULL) with the inference
 * settings cfg (NULL: defaults). Returns 0, or -1 with the reason in err. */
int fabric_view_build(struct fabric_view *v, const struct obs_set *obs,
		      const struct inventory *inv, const struct infer_cfg *cfg,
		      char *err, size_t errlen);
void fabric_view_free(struct fabric_view *v);

/* Where fabric_view_db_build reads a window from. */
enum fabric_view_source {
	/* raw results of every batch overlapping the window (db_source_load):
	 * the exact picture of recent minutes */
	FABRIC_VIEW_RAW,
	/* batches that ended in the window, whole hours from the hourly
	 * rollups (store_observations_hourly_query): cheap over long windows
	 * and still there once retention deleted the raw results */
	FABRIC_VIEW_HOURLY,
};

/* Build the view of [since_ms, until_ms) of the collector's database at db
 * read from src; inv and cfg as for fabric_view_build. Returns 0, or -1 with
 * "DB: reason" (or the build's reason) in err. */
int fabric_view_db_build(struct fabric_view *v, const char *db,
			 enum fabric_view_source src, int64_t since_ms,
			 int64_t until_ms, const struct inventory *inv,
			 const struct infer_cfg *cfg, char *err, size_t errlen);

/* Device id of name, or -1 when the window never saw it. */
int64_t fabric_view_dev_find(const struct fabric_view *v, const char *name);
const char *fabric_view_dev_name(const struct fabric_view *v, uint32_t dev);
/* The link from -> to, or -1. */
int64_t fabric_view_link_find(const struct fabric_view *v, uint32_t from,
			      uint32_t to);

/* A tier's label: the letters its device names share ("leaf", "spine"),
 * else "tier N". Written into buf. */
const char *fabric_view_tier_label(const struct fabric_view *v, int tier,
				   char *buf, size_t len);

/* 95% upper bound on a loss ratio from lost of sent probes (sent > 0). */
double fabric_loss_upper(double lost, double sent);

#endif
