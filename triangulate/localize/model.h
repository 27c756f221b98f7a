/* The probe model shared by the inference and the baselines: devices, directed
 * links, and each flow's path as one or more link-list alternatives (several
 * when "*" hops or a "-" path leave the route ambiguous). */
#ifndef FM_TRIANGULATE_MODEL_H
#define FM_TRIANGULATE_MODEL_H

#include <stddef.h>
#include <stdint.h>

struct obs_set;
struct obs_flow;
struct inventory;
struct strtab;

#define MODEL_ALTS_MAX 32 /* more candidate paths than this: flow is unplaced */
#define MODEL_SILENT_MIN_SENT 5 /* a flow this probed, 90% unanswered, is silent */
#define MODEL_DEV_NONE UINT32_MAX /* a "*" hop in a walk */
#define MODEL_WALK_MAX (64 + 2)   /* OBS_HOPS_MAX hops, prober and target */
#define MODEL_REPLY_EVEN 2        /* model_flow.reply of an even pair's flow */

/* One candidate path of a flow, with the probability that the flow took it. */
struct model_alt {
	uint32_t link_first; /* index into model.alt_links */
	uint32_t nlinks;
	uint32_t flow;       /* owning flow */
	double weight;       /* P(flow took this path); the alternatives sum to 1 */
};

struct model_flow {
	uint64_t sent, lost;
	uint64_t lost_dark; /* of lost, in intervals half or more unanswered */
	uint32_t prober_dev, target_dev;
	uint32_t alt_first, nalt; /* nalt 0: the path could not be placed */
	uint8_t reply; /* replies (see model.nreplies), not a probed flow: 1, or
			* MODEL_REPLY_EVEN when its pair lost replies evenly over its
			* flows (model.c, reply_pair_even) */
};

struct model {
	struct strtab *devs;       /* device names -> ids */
	uint8_t *dev_transit;      /* device seen as a router hop (not a host) */
	uint8_t *dev_endpoint;     /* device seen as prober or target */
	uint32_t ndevs;
	uint32_t nlinks;
	uint32_t *link_from, *link_to; /* device ids */
	struct model_flow *flows;
	size_t nflows; /* the observed flows, flows[0, nflows) */
	/* The replies of each flow whose reverse count is reliable as one more
	 * flow, in flows[nflows, nflows + nreplies): sent = replies the
	 * responder sent, lost = lost_rev, from target to prober. A reply takes
	 * the reverse 5-tuple's own route, which no trace shows: the
	 * alternatives are every reverse route, at an equal share each (the
	 * prior in alt.weight); the fit places them once the probes are fit
	 * (infer_fit.c, fit_replies_place). Their alternatives follow the
	 * observed flows' in alts, from nalts_flows on. Readers of flows see
	 * only [0, nflows). */
	size_t nreplies;
	struct model_alt *alts;
	size_t nalts;
	size_t nalts_flows; /* alts[0, nalts_flows) are the observed flows' */
	uint32_t *alt_links;
	size_t nalt_links;
	/* how partial paths were used */
	size_t flows_star, flows_star_resolved, flows_unknown;
	size_t flows_unplaced;
	size_t flows_cut; /* traces that stopped short of the target */
	/* silent flows (every probe unanswered), those given reverse routes,
	 * and those left out (no link explains them apart: not fit) */
	size_t flows_silent, flows_silent_reverse, flows_silent_left_out;
	/* pairs whose reverse counts were left out: reverse routes unknown or
	 * too many, or reply losses that differ between the pair's flows (they
	 * hang on the hidden route; model.c) */
	size_t pairs_reply_unplaced, pairs_reply_dispersed;
};

/* Build the model: hop addresses map to devices through inv (names it does not
 * know become devices of their own); consecutive devices give directed links;
 * inventory link lines add links in both directions. "*" runs are filled with
 * every loop-free route of that length through links seen on other flows (or
 * the inventory), weighted later by EM; a run no such route spans (its count
 * of silent hops is wrong) with the shortest routes between its ends. A trace that stopped short of its target
 * (its last answered hop is no inventory neighbour of the target) puts the
 * flow on the routes beyond that hop only: its probes crossed the links
 * before it. A silent flow (model_flow_silent) is put on what most likely
 * killed it: its forward routes, or the links its replies crossed for
 * certain given a blackhole that explains it, or left unplaced when no
 * link explains it apart from another (see silent_choose in model.c).
 * A "-" flow is counted but left unplaced: with the rest of its path free it
 * bounds no link (see model.c). Returns NULL with a reason in err. */
struct model *model_build(const struct obs_set *obs, const struct inventory *inv,
			  char *err, size_t errlen);
void model_free(struct model *m);

/* The one hop -> link walk, shared by the model, the watch and every reader
 * of paths. The walk of a flow is its prober, its hops and its target as
 * device ids (name_dev maps the set's name ids, see model_name_devs), a "*"
 * hop as MODEL_DEV_NONE, repeats of one device (two of its interfaces)
 * collapsed; seq has room for MODEL_WALK_MAX. Returns the walk's length. A
 * "-" path walks to prober and target only: check f->nhops. */
uint32_t model_flow_walk(const struct obs_set *obs, const struct obs_flow *f,
			 const uint32_t *name_dev, uint32_t *seq);

/* The links of a flow known for certain: two consecutive answered devices
 * of its walk. A "*" hides the links on both its sides (the model fills
 * such a gap with every route of its length over links seen elsewhere,
 * weighted by EM; counting readers leave them out), and a "-" path has none.
 * from/to have room for MODEL_WALK_MAX. Returns the number of links. */
uint32_t model_flow_links(const struct obs_set *obs, const struct obs_flow *f,
			  const uint32_t *name_dev, uint32_t *from, uint32_t *to);

/* Device ids of every name of obs, interned in devs: a name is the device
 * the inventory (may be NULL) maps it to, else a device of its own.
 * name_dev has obs_set_name_count(obs) entries. Returns 0 or -1 (ENOMEM). */
int model_name_devs(const struct obs_set *obs, const struct inventory *inv,
		    struct strtab *devs, uint32_t *name_dev);

/* A silent flow: probed at least MODEL_SILENT_MIN_SENT times and at least
 * 90% unanswered (none answered, or none after the first few: the prober
 * books a flow's probes after its last reply as forward loss, having no
 * count to split them); or one that went dark for part of the window (a
 * blackhole that began or ended inside it): at least MODEL_SILENT_MIN_SENT
 * of its lost probes, and half of them or more, fell in intervals half or
 * more unanswered (obs_flow.lost_dark). Its loss is forward or on its replies' reverse path;
 * model_build picks the one a blackhole explains (see model.c). */
int model_flow_silent(const struct model_flow *f);

/* The other end of link l from device d, or MODEL_DEV_NONE when d is
 * neither end (the one "neighbour over this link" rule for every reader). */
uint32_t model_link_peer(const struct model *m, uint32_t l, uint32_t d);

/* Device name of an id (valid while the model lives). */
const char *model_dev_name(const struct model *m, uint32_t dev);

#endif
