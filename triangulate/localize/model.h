/* The probe model shared by the inference and the baselines: devices, directed
 * links, and each flow's path as one or more link-list alternatives (several
 * when "*" hops or a "-" path leave the route ambiguous). */
#ifndef FM_TRIANGULATE_MODEL_H
#define FM_TRIANGULATE_MODEL_H

#include <stddef.h>
#include <stdint.h>

struct obs_set;
struct inventory;
struct strtab;

#define MODEL_ALTS_MAX 16 /* more candidate paths than this: flow is unplaced */

/* One candidate path of a flow, with the probability that the flow took it. */
struct model_alt {
	uint32_t link_first; /* index into model.alt_links */
	uint32_t nlinks;
	uint32_t flow;       /* owning flow */
	double weight;       /* P(flow took this path); the alternatives sum to 1 */
};

struct model_flow {
	uint64_t sent, lost;
	uint32_t prober_dev, target_dev;
	uint32_t alt_first, nalt; /* nalt 0: the path could not be placed */
};

struct model {
	struct strtab *devs;       /* device names -> ids */
	uint8_t *dev_transit;      /* device seen as a router hop (not a host) */
	uint8_t *dev_endpoint;     /* device seen as prober or target */
	uint32_t ndevs;
	uint32_t nlinks;
	uint32_t *link_from, *link_to; /* device ids */
	struct model_flow *flows;
	size_t nflows;
	struct model_alt *alts;
	size_t nalts;
	uint32_t *alt_links;
	size_t nalt_links;
	/* how partial paths were used */
	size_t flows_star, flows_star_resolved, flows_unknown;
	size_t flows_unplaced;
};

/* Build the model: hop addresses map to devices through inv (names it does not
 * know become devices of their own); consecutive devices give directed links;
 * inventory link lines add links in both directions. "*" runs are filled with
 * every route of that length through links seen on other flows (or the
 * inventory), weighted later by EM. A "-" flow is counted but left unplaced:
 * with the rest of its path free it bounds no link (see model.c). Returns
 * NULL with a reason in err. */
struct model *model_build(const struct obs_set *obs, const struct inventory *inv,
			  char *err, size_t errlen);
void model_free(struct model *m);

/* Device name of an id (valid while the model lives). */
const char *model_dev_name(const struct model *m, uint32_t dev);

#endif
