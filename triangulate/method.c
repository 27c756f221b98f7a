/* The table of localization methods. */
#include "method.h"

#include <string.h>

static int method_faultmesh_run(const struct model *m, const struct infer_cfg *cfg,
				struct suspect_list *out, char *err, size_t errlen)
{
	return infer_run(m, cfg, out, NULL, err, errlen);
}

const struct method_ops method_table[] = {
	{ "faultmesh", "penalized MLE, likelihood-ratio tests, device/host/blackhole grouping",
	  method_faultmesh_run },
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
