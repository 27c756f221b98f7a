/* The table of localization methods. */
#include "method.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int method_faultmesh_run(const struct model *m, const struct infer_cfg *cfg,
				struct suspect_list *out, char *err, size_t errlen)
{
	struct infer_stats st;
	int rc = infer_run(m, cfg, out, &st, err, errlen);

	if (rc == 0 && getenv("FM_INFER_STATS"))
		fprintf(stderr,
			"infer: %zu flows (%zu lossy, %zu unplaced), %zu links (%zu active), "
			"%d sweeps, %d EM rounds, fit+tests %.0f ms (tests %.0f ms), "
			"background median %.3g top %.3g\n",
			st.flows, st.flows_lossy, st.flows_unplaced, st.links,
			st.links_active, st.sweeps, st.em_rounds, st.fit_ms, st.test_ms,
			st.background_median, st.background_top);
	return rc;
}

const struct method_ops method_table[] = {
	{ "faultmesh", "penalized MLE, likelihood-ratio tests, device/host/blackhole grouping",
	  method_faultmesh_run },
	{ "flock", "Flock-style Bayesian greedy search over failure sets (baseline)",
	  baseline_flock_run },
	{ "007", "007-style per-flow voting (baseline)", baseline_vote_run },
	{ "fbtracert", "fbtracert-style lossy-majority per link (baseline)", baseline_hop_run },
	{ NULL, NULL, NULL },
};

const struct method_ops *method_find(const char *name)
{
	for (const struct method_ops *o = method_table; o->name; o++)
		if (!strcmp(o->name, name))
			return o;
	return NULL;
}
