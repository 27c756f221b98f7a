/* Which suspects of a watch round may alert, and as what: the one-alert rule.
 * Every suspect localize names over the window is an alert candidate; one
 * that another explains never alerts on its own: structurally (a device's
 * links and hosts, a host's links, a second kind on the same link) or by
 * evidence (its flows that avoid the other lose no more than background, so
 * its loss is the other's seen through shared flows); a link or host next to
 * a router whose other flows lose too is held until the window's evidence
 * says whether the router is the culprit. No I/O here. */
#ifndef FM_TRIANGULATE_ALERT_SELECT_H
#define FM_TRIANGULATE_ALERT_SELECT_H

#include <stddef.h>

#include "alert.h"
#include "suspect.h"

struct model;

struct alert_select_cfg {
	/* hold a link or host suspect while an adjacent router's other flows
	 * lose more than the window's background would at this p-value */
	double hold_p;
	/* ... and by at least this factor over the background rate */
	double hold_ratio;
};

/* hold_p 1e-3, hold_ratio 3. */
void alert_select_cfg_default(struct alert_select_cfg *cfg);

/* Does wide explain narrow? A device explains the links with an end on it and
 * the hosts beside it (m says who is beside whom; NULL: no host is); a host
 * explains its own links; link-class suspects naming a link in common (a
 * link and a blackhole on it, an ambiguous pair and one of its links) explain
 * each other (ranked first wins, the caller decides). The same suspect is not
 * "explains". */
int alert_select_explains(const struct model *m, const struct suspect *wide,
			  const struct suspect *narrow);

/* Turn a round's ranked suspects (over model m, may be NULL for an empty
 * window) into alert inputs, one per suspect, in rank order: each marked
 * explained (by another suspect of the round or one of the nfiring firing
 * alerts, see above; of two with the same evidence the narrower, then the
 * better-ranked, stands), held (see above) or neither, with the
 * prober/target pairs of its lossy flows. *out is malloc'ed (free it).
 * Returns 0, or -1 with errno ENOMEM. */
int alert_select_round(const struct model *m, const struct suspect_list *sus,
		       const struct suspect *firing, size_t nfiring,
		       const struct alert_select_cfg *cfg,
		       struct alert_input **out);

#endif
