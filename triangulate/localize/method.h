/* Localization methods behind one interface, so the benchmark compares
 * faultmesh with the 007-style and fbtracert-style baselines on equal input. */
#ifndef FM_TRIANGULATE_METHOD_H
#define FM_TRIANGULATE_METHOD_H

#include <stddef.h>

#include "infer.h"
#include "model.h"

struct method_ops {
	const char *name;
	const char *help;
	/* Append ranked suspects for the model to out; 0, or -1 with err. */
	int (*run)(const struct model *m, const struct infer_cfg *cfg,
		   struct suspect_list *out, char *err, size_t errlen);
};

extern const struct method_ops method_table[]; /* ends with a NULL name */

/* The method called name, or NULL. */
const struct method_ops *method_find(const char *name);

/* 007-style voting: each lossy flow gives 1/h to each of its h links; the
 * top-voted link is blamed and its flows removed, until the top falls into
 * the noise (median + 6 MADs of per-link votes). */
int baseline_vote_run(const struct model *m, const struct infer_cfg *cfg,
		      struct suspect_list *out, char *err, size_t errlen);
/* fbtracert-style: a link is blamed when most flows through it are lossy
 * (loss over 1%, fbtracert's per-hop loss rule applied to flows). */
/* Flock-style (CoNEXT 2023): good/failed links with a prior against
 * failure, flows weighted over their candidate paths, greedy search over
 * failure sets by posterior (baseline_flock.c). */
int baseline_flock_run(const struct model *m, const struct infer_cfg *cfg,
		       struct suspect_list *out, char *err, size_t errlen);
int baseline_hop_run(const struct model *m, const struct infer_cfg *cfg,
		     struct suspect_list *out, char *err, size_t errlen);

#endif
