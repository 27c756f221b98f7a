/* Before an alert names a link, check that the round's data tells it apart
 * from the links it shares lossy flows with: early in a fault, when only some
 * probers have lost probes, two links on the same paths explain the losses
 * equally well and naming either is a coin toss. */
#ifndef FM_TRIANGULATE_ALERT_MARGIN_H
#define FM_TRIANGULATE_ALERT_MARGIN_H

#include <stddef.h>

#include "suspect.h"

struct obs_set;
struct inventory;

/* Default margin: the named link must explain the losses e^(9.2/2) ~ 100
 * times more likely than any rival link. */
#define ALERT_MARGIN_LR_DEFAULT 9.2

struct alert_margin {
	double lr;            /* the suspect link's single-link likelihood-ratio statistic */
	double rival_lr;      /* the best rival's (0 when none) */
	char rival_from[SUSPECT_NAME_MAX], rival_to[SUSPECT_NAME_MAX];
};

struct alert_margin_index;

/* Index every directed link of the round's flows (hops mapped to devices by
 * inv, which may be NULL) with the probes sent and lost on flows crossing it.
 * NULL with errno ENOMEM. */
struct alert_margin_index *alert_margin_index_build(const struct obs_set *obs,
						    const struct inventory *inv);
void alert_margin_index_free(struct alert_margin_index *ix);

/* For a link suspect from -> to: its statistic, and the best statistic among
 * the other links crossed by the flows that lost probes on it. Each statistic
 * compares the link's own flows at their pooled loss rate with the background
 * rate: 2 (k ln(p/bg) + (n-k) ln((1-p)/(1-bg))), p = k/n. Returns 0, or -1
 * when the link is not in the index. */
int alert_margin_link(const struct alert_margin_index *ix, const char *from,
		      const char *to, double background_loss,
		      struct alert_margin *out);

#endif
