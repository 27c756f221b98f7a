/* faultmesh's localization: per-link loss fitted by penalized maximum
 * likelihood over binomial flow counts, links tested against background loss
 * with a family-wise correction, then grouped into device, host and partial-
 * blackhole suspects. Input is any observation set, whatever its source. */
#ifndef FM_TRIANGULATE_INFER_H
#define FM_TRIANGULATE_INFER_H

#include <stddef.h>

#include "suspect.h"

struct obs_set;
struct inventory;
struct model;

struct infer_cfg {
	double background_loss; /* > 0: every healthy link loses at most this (an
				 * override); 0: learn the background per window */
	double alpha;           /* family-wise false-alarm probability over all links */
	double prior_probes;    /* sparsity prior: pseudo-probes each link delivered */
	double device_share;    /* share of a device's flows that must cross its faulty links */
	double blackhole_share; /* share of a link's flows that must be all-or-nothing */
	int max_sweeps;         /* coordinate-ascent sweeps per EM round */
	int max_em_rounds;      /* rounds re-weighting ambiguous paths */
};

struct infer_stats {
	size_t flows, flows_lossy, flows_unplaced;
	size_t links, links_active; /* active: on some lossy flow */
	int sweeps, em_rounds;
	double fit_ms;  /* model fit and tests, not file parsing */
	double test_ms; /* of which the tests and grouping */
	double background_median; /* learned healthy loss: the highest class median */
	double background_top;    /* ... and the highest class null (top of healthy) */
};

/* The defaults, their one home (background learned, alpha 0.01, one prior
 * probe, device share 0.5, blackhole share 0.8). */
void infer_cfg_default(struct infer_cfg *cfg);

/* Fit and test on a built model, appending ranked suspects to out. Returns 0,
 * or -1 with a reason in err (out of memory). st may be NULL. */
int infer_run(const struct model *m, const struct infer_cfg *cfg,
	      struct suspect_list *out, struct infer_stats *st, char *err,
	      size_t errlen);

/* The whole pipeline for an in-memory observation set (from the file parser
 * or from the collector's store through obs_set_row_add): build the model with
 * inv (may be NULL: names are devices), fit, test, rank. Returns 0 or -1 with
 * a reason in err. */
int infer_localize(const struct obs_set *obs, const struct inventory *inv,
		   const struct infer_cfg *cfg, struct suspect_list *out,
		   struct infer_stats *st, char *err, size_t errlen);

#endif
