/* Internals of the inference, shared by its three parts: the fit
 * (infer_fit.c), the tests against the learned background (infer_test.c)
 * and the grouping into suspects (infer_group.c); infer.c runs them. */
#ifndef FM_TRIANGULATE_INFER_INT_H
#define FM_TRIANGULATE_INFER_INT_H

#include <stddef.h>
#include <stdint.h>

#include "infer.h"
#include "model.h"
#include "suspect.h"

/* A link update gaining less log-likelihood than this does not wake its
 * neighbours, and a sweep whose best update gains less ends the fit: the
 * decisions rest on likelihood-ratio statistics of order 10 and more. */
#define FIT_GAIN_MIN 0.1
#define FIT_WAKE_MIN 1.0
#define INFER_EFFECT_MIN 2.0 /* a suspect loses at least twice its null */
#define INFER_BG_CLASSES 64  /* link classes, by the tiers of their ends */
#define INFER_MIX_BINS 16    /* points of a class's healthy-rate distribution */

/* A class's healthy rates as a distribution, deconvolved from the
 * binomial noise (infer_test.c, bg_mix_deconvolve): n points u[] (as u),
 * each carrying the share mass[] of the class's healthy links, merged
 * shares moved up, never down. A link is tested against the whole
 * distribution. */
struct bg_mix {
	int n;
	double u[INFER_MIX_BINS], mass[INFER_MIX_BINS];
};

struct fit {
	const struct model *m;
	double *u;  /* per link: -log(success rate) */
	double *B;  /* per link: weighted delivered probes */
	double *w;  /* per alternative: P(flow took it), refit by EM */
	/* Lossy terms in a compact numbering, for cache-friendly sweeps: the
	 * lossy alternatives with the same links are one term, their losses
	 * summed (flows of one route under ECMP: most of them) */
	uint32_t nlossy;
	uint32_t *lossy_alt;  /* compact id -> its first alternative */
	int32_t *alt_lossy;   /* alternative -> compact id, or -1 */
	uint32_t *term_first, *term_alts; /* per compact id: its alternatives */
	double *term_lost;    /* beside term_alts: each alternative's flow's lost */
	double *lc;           /* per compact id: sum of weight * lost probes */
	double *lX;           /* per compact id: sum of u over its links */
	uint32_t *inc_first, *inc; /* per link: compact ids through it */
	uint32_t *inc_alts;        /* per link: lossy alternatives through it */
	uint32_t *lfirst, *llinks; /* per compact id: its links, contiguous */
	uint32_t *nbr_first, *nbr; /* per link: the links sharing a term, once */
	double *cbuf, *rbuf;       /* scratch for one variable's terms */
	size_t scratch;
	uint32_t *active;
	size_t nactive;
	uint8_t *dirty; /* per link: to be solved again */
	uint8_t *u_moved; /* per link: u changed since the last E-step */
	int reweighted;   /* an E-step ran: flows none of whose links moved skip it */
	uint32_t *link_stamp, *alt_stamp, stamp; /* set membership for profiles */
	uint32_t *lossy_moved; /* compact ids whose loss the E-step changed */
	uint8_t *cand; /* per link: passed the conditional test */
	double *u_bg;  /* per link: the top of healthy loss in its class */
	uint8_t *bg_cls;      /* per link: its class's index in bg_mix */
	struct bg_mix *bg_mix; /* per class: its healthy rates (the null) */
	int nbr_shrink;   /* profile test: healthy neighbours rise at most to
			   * their posterior mean under their class's rates */
	uint32_t *shared; /* per link: lossy paths shared with a profiled link */
	double *u_fwd;    /* per link: u from the probes alone, before the replies
			   * were placed (NULL without replies) */
	uint32_t *amb;    /* the observed flows with two paths or more (the E-step's) */
	size_t namb;
	double *ll_fit;   /* per compact id: its log-likelihood term at the fitted
			   * state, NaN until computed (the link tests only) */
};

/* One variable's terms: maximize h(u) = -B u + sum c_i log(1 - e^-(u + r_i))
 * over u >= 0 (r_i: the rest of the path's u). */
struct terms {
	double B;
	const double *c, *r;
	size_t n;
};

/* State shared by the steps that turn a fit into suspects. */
struct grouping {
	struct fit *f;
	const struct model *m;
	const struct infer_cfg *cfg;
	double u_null;              /* the background rate as u */
	double ntests;              /* links and devices: the correction's family */
	struct suspect_list links;  /* faulty links, by link_sus index */
	struct suspect_list groups; /* devices and hosts, by dev_sus index */
	int32_t *link_sus;          /* per link: index in links, or -1 */
	int32_t *dev_sus;           /* per device: index in groups, or -1 */
	uint32_t *used;             /* per link: flows that most likely crossed it */
	uint32_t *nin, *nout;       /* per device: links in use into / out of it */
	uint32_t *fin, *fout;       /* ... of which faulty */
	uint8_t *sw_flagged;        /* per device: a faulty switch-to-switch link */
	uint64_t *dev_flows;        /* per device: flows crossing it */
	uint64_t *dev_flagged;      /* ... through one of its faulty links */
	/* per element (links, then nlinks + device): its flow set as a sum
	 * of per-flow hashes and a size, for the identifiability rule */
	uint64_t *set_hash;
	uint32_t *set_count;
	/* per device: the least rate of the other switches of its tier (u),
	 * a floor under its null; filled a tier at a time, when a switch of
	 * it first passes against its links' tops (grouping_peer_floor) */
	double *peer_floor;
	uint8_t *tier;          /* per device, with peer_floor */
	uint8_t tier_done[8];   /* the tiers whose floors are filled */
};

/* infer_test.c: each device's tier, hops from the nearest host (0) */
int model_tiers(const struct model *m, uint8_t *tier);

/* infer_fit.c: the penalized fit by coordinate ascent, EM over paths */
double terms_loglik(const struct terms *t, double u);
double terms_solve(const struct terms *t, double prior, double u_start,
			  double *curv);
/* u where the log-likelihood has dropped by drop from u_hat, left (*lo,
 * floored at 0) and right (*hi) */
void terms_bounds(const struct terms *t, double u_hat, double drop, double *lo, double *hi);
double u_to_loss(double u);
void fit_free(struct fit *f);
int fit_init(struct fit *f, const struct model *m);
/* fit_init with merge 0: one term per lossy alternative (the tests compare
 * the two) */
int fit_init_terms(struct fit *f, const struct model *m, int merge);
void fit_successes_sum(struct fit *f);
void fit_link_terms(struct fit *f, uint32_t l, struct terms *t);
int fit_sweeps(struct fit *f, const struct infer_cfg *cfg);
double fit_paths_reweight(struct fit *f);
int fit_replies_place(struct fit *f, const struct infer_cfg *cfg);

/* infer_test.c: the learned background and the tests against it */
int fit_background_learn(struct fit *f, const struct infer_cfg *cfg,
				struct infer_stats *st);
int terms_test(const struct terms *t, double u_hat, double u_null,
		      double ntests, double alpha, struct suspect *s);
void terms_interval(const struct terms *t, double u_hat, struct suspect *s);
int grouping_links_test(struct grouping *g);

/* infer_group.c: evidence, blackholes, ambiguity, devices and hosts */
int infer_suspects(struct fit *f, const struct infer_cfg *cfg,
			  struct suspect_list *out);

#endif
