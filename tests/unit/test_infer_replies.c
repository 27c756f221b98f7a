/* Unit tests for the loss the probes' replies suffer: a 3-tier fabric shaped
 * like the lab's (3 pods, 2 ToRs each, 2 planes of 2 spines) with a
 * reply-eating blackhole on one spine -> fabric-switch link, flows routed
 * and killed by fixed hashes of their 5-tuples (forward and reply apart). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "infer.h"
#include "inventory.h"
#include "observations.h"
#include "suspect.h"

#define PODS 3 /* unless bh3.pods says otherwise */
#define TORS 2 /* per pod, one host each */
#define PLANES 2
#define SPINES 2 /* per plane */
#define PROBES 150
#define NAME_LEN 32 /* room for any int the names print */

struct bh3 {
	int pods;          /* 0: PODS; with 2 the blackholed link shares every
			    * flow with the one above it (an ambiguous pair) */
	unsigned flows;    /* per host pair */
	uint64_t salt;     /* changes every hash */
	int truncate;      /* a probe-killed flow's trace stops at the spine */
	int dead_share_x10; /* > 0: flows whose replies die lose this many tenths
			     * (the fault began inside the window) */
	int late_stars;    /* a flow whose replies die has a trace that ended
			    * in two silent hops before its target */
	int dark;          /* with dead_share_x10: the killed flows lose as many,
			    * and both lose them in intervals half or more
			    * unanswered (the store's dark probes) */
	int killed_unknown; /* the killed flows' paths are unknown (their
			     * traces changed inside the window: stale) */
};

static uint64_t mix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

static uint64_t tuple_hash(const struct bh3 *c, int src, int dst, unsigned sport,
			   unsigned dport, uint64_t what)
{
	return mix(c->salt ^ mix((uint64_t)src << 48 ^ (uint64_t)dst << 40 ^
				 (uint64_t)sport << 16 ^ dport ^ what << 56));
}

static void host_name(int h, char *buf, size_t len) { snprintf(buf, len, "h%d", h + 1); }
static void tor_name(int h, char *buf, size_t len)
{
	snprintf(buf, len, "tor%d-%d", h / TORS + 1, h % TORS + 1);
}

/* The devices from src to dst (hosts included) for one hash; returns n. */
static int route(int src, int dst, uint64_t h, char dev[7][NAME_LEN])
{
	int n = 0, plane = (int)(h % PLANES), spine = (int)(h / PLANES % SPINES);

	host_name(src, dev[n], sizeof(dev[n])), n++;
	tor_name(src, dev[n], sizeof(dev[n])), n++;
	snprintf(dev[n++], NAME_LEN, "fsw%d-%d", src / TORS + 1, plane + 1);
	if (src / TORS != dst / TORS) {
		snprintf(dev[n++], NAME_LEN, "ssw%d-%d", plane + 1, spine + 1);
		snprintf(dev[n++], NAME_LEN, "fsw%d-%d", dst / TORS + 1, plane + 1);
	}
	tor_name(dst, dev[n], sizeof(dev[n])), n++;
	host_name(dst, dev[n], sizeof(dev[n])), n++;
	return n;
}

/* The blackhole: ssw1-2 -> fsw2-1 drops a quarter of the 5-tuples. */
static int route_killed(char dev[7][NAME_LEN], int n, uint64_t kill)
{
	for (int i = 0; i + 1 < n; i++)
		if (!strcmp(dev[i], "ssw1-2") && !strcmp(dev[i + 1], "fsw2-1"))
			return kill % 4 == 0;
	return 0;
}

static int bh3_pods(const struct bh3 *c) { return c->pods ? c->pods : PODS; }

static struct inventory *bh3_inventory(const struct bh3 *c)
{
	struct inventory *inv = inventory_new();
	char err[128], a[NAME_LEN], b[NAME_LEN];

	cr_assert(inv);
	for (int h = 0; h < bh3_pods(c) * TORS; h++) {
		host_name(h, a, sizeof(a));
		tor_name(h, b, sizeof(b));
		cr_assert_eq(inventory_link_add(inv, a, b, err, sizeof(err)), 0, "%s", err);
		for (int p = 0; p < PLANES; p++) {
			snprintf(a, sizeof(a), "fsw%d-%d", h / TORS + 1, p + 1);
			cr_assert_eq(inventory_link_add(inv, b, a, err, sizeof(err)), 0, "%s", err);
		}
	}
	for (int pod = 0; pod < bh3_pods(c); pod++)
		for (int p = 0; p < PLANES; p++)
			for (int s = 0; s < SPINES; s++) {
				snprintf(a, sizeof(a), "fsw%d-%d", pod + 1, p + 1);
				snprintf(b, sizeof(b), "ssw%d-%d", p + 1, s + 1);
				cr_assert_eq(inventory_link_add(inv, a, b, err, sizeof(err)), 0,
					     "%s", err);
			}
	return inv;
}

/* Every host probes every other on c->flows UDP flows; counts how many
 * flows the blackhole killed forward and by their replies only. */
static struct obs_set *bh3_observe(const struct bh3 *c, int *nfwd, int *nrev)
{
	struct obs_set *s = obs_set_new();

	*nfwd = *nrev = 0;
	for (int a = 0; a < bh3_pods(c) * TORS; a++) {
		for (int b = 0; b < bh3_pods(c) * TORS; b++) {
			for (unsigned k = 0; a != b && k < c->flows; k++) {
				unsigned sport = 33000 + (unsigned)(a * 1000 + b * 50) + k;
				char fwd[7][NAME_LEN], rev[7][NAME_LEN], src[NAME_LEN], dst[NAME_LEN];
				const char *hops[7];
				int nf = route(a, b, tuple_hash(c, a, b, sport, 31338, 1), fwd);
				int nr = route(b, a, tuple_hash(c, b, a, 31338, sport, 1), rev);
				int kf = route_killed(fwd, nf, tuple_hash(c, a, b, sport, 31338, 2));
				int kr = route_killed(rev, nr, tuple_hash(c, b, a, 31338, sport, 2));
				struct obs_row row = { src, dst, OBS_PROTO_UDP, sport, 31338,
						       PROBES, 0, nf - 2, hops, 0, 0 };
				char err[128];

				host_name(a, src, sizeof(src));
				host_name(b, dst, sizeof(dst));
				for (int i = 1; i + 1 < nf; i++)
					hops[i - 1] = fwd[i];
				if (kf) {
					row.lost = c->dark ? PROBES * (unsigned)c->dead_share_x10 / 10
							   : PROBES;
					/* the trace's probes die where the flow's do */
					if (c->truncate)
						row.nhops = 3; /* tor, fsw, ssw1-2 */
					if (c->killed_unknown)
						row.nhops = -1;
					++*nfwd;
				} else if (kr) {
					row.lost = c->dead_share_x10 ? PROBES * (unsigned)c->dead_share_x10 / 10
								     : PROBES;
					if (c->late_stars) {
						hops[row.nhops++] = "*";
						hops[row.nhops++] = "*";
					}
					++*nrev;
				}
				if (c->dark)
					row.lost_dark = row.lost;
				cr_assert_eq(obs_set_row_add(s, &row, err, sizeof(err)), 0, "%s", err);
			}
		}
	}
	return s;
}

static void suspects_text(const struct suspect_list *out, char *buf, size_t len)
{
	buf[0] = '\0';
	for (size_t i = 0; i < out->n; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), " %s %s->%s|%s->%s %.3f;",
			 suspect_kind_name(out->v[i].kind), out->v[i].from, out->v[i].to,
			 out->v[i].also_from, out->v[i].also_to, out->v[i].loss_ratio);
}

/* Does s name the link a -> b, alone or in its ambiguous pair? */
static int names_link(const struct suspect *s, const char *a, const char *b)
{
	return (!strcmp(s->from, a) && !strcmp(s->to, b)) ||
	       (!strcmp(s->also_from, a) && !strcmp(s->also_to, b));
}

/* Localize c's observations: 1 when the blackhole is the one suspect (or
 * the ambiguous pair holding it), else 0 with the suspects in all. */
static int bh3_alone(const struct bh3 *c, char *all, size_t len)
{
	struct inventory *inv = bh3_inventory(c);
	struct suspect_list out = { 0 };
	struct infer_cfg cfg;
	char err[256];
	int nfwd, nrev, ok;
	struct obs_set *s = bh3_observe(c, &nfwd, &nrev);

	cr_assert(nfwd >= 2 && nrev >= 2, "the blackhole kills %d flows, eats %d flows' replies",
		  nfwd, nrev);
	infer_cfg_default(&cfg);
	cr_assert_eq(infer_localize(s, inv, &cfg, &out, NULL, err, sizeof(err)), 0, "%s", err);
	snprintf(all, len, "%d killed, %d replies eaten; suspects:", nfwd, nrev);
	suspects_text(&out, all + strlen(all), len - strlen(all));
	ok = out.n == 1 &&
	     (out.v[0].kind == SUSPECT_BLACKHOLE || out.v[0].kind == SUSPECT_LINK) &&
	     names_link(&out.v[0], "ssw1-2", "fsw2-1");
	suspect_list_free(&out);
	obs_set_free(s);
	inventory_free(inv);
	return ok;
}

/* The lab's failure (CI, sanitizer run): the flows whose replies the
 * blackhole ate crowd one forward link (here fsw2-2 -> ssw2-1 carries more
 * of them than the blackhole kills of its own flows), so comparing the two
 * links' shares of silent flows kept the eaten replies on the forward path. */
Test(infer_replies, eaten_replies_crowding_one_forward_link_stay_on_the_blackhole)
{
	struct bh3 c = { .flows = 12, .salt = 42 };
	char all[2048];

	cr_assert(bh3_alone(&c, all, sizeof(all)), "%s", all);
}

/* The fault began inside the window: the flows whose replies it eats got a
 * few answers first and lost the rest (booked as forward loss, as no count
 * came back to split it). They are silent flows all the same; before, each
 * was charged to its forward path and named several false blackholes. */
Test(infer_replies, flows_dead_after_a_few_answers_are_silent_flows)
{
	struct bh3 c = { .flows = 12, .salt = 1, .dead_share_x10 = 9 };
	char all[2048];

	cr_assert(bh3_alone(&c, all, sizeof(all)), "%s", all);
}

/* The killed flows' traces stop at ssw1-2 (their probes die beyond it):
 * the loss lies beyond the last hop that answered, on the routes from it to
 * the target, and the links before it are cleared for those flows. Before,
 * the walk joined ssw1-2 straight to the target: a link that does not exist
 * (ssw1-2 -> h3) was named. */
Test(infer_replies, trace_that_stops_puts_the_loss_beyond_its_last_answer)
{
	struct bh3 c = { .flows = 12, .salt = 1, .truncate = 1 };
	char all[2048];

	cr_assert(bh3_alone(&c, all, sizeof(all)), "%s", all);
}

/* Reverse counts (observations lost_rev). A 2-tier fabric, 4 leaves and 4
 * spines; h1..h6 under leaves 1-3 probe every other host, and svc under
 * leaf4 only answers (a service rack: no prober there). So leaf4 -> spineN
 * is crossed by svc's replies only, never by a traced probe, and each
 * reply takes the reverse 5-tuple's own spine. Counts are expectations,
 * rounded. */
#define RV_LEAVES 4
#define RV_SPINES 4
#define RV_PROBERS 6
#define RV_FLOWS 8
#define RV_SENT 2000

struct rv_case {
	const char *bad_from, *bad_to; /* the faulty link, or NULL */
	double bad_loss;
	double background; /* every link, both ways */
	int lost_rev;      /* report the reverse counts (0: the v1 view) */
};

static const char *rv_host(int h, char *buf, size_t len)
{
	if (h == RV_PROBERS)
		snprintf(buf, len, "svc");
	else
		snprintf(buf, len, "h%d", h + 1);
	return buf;
}

static int rv_leaf(int h) { return h == RV_PROBERS ? 4 : h / 2 + 1; }

/* Delivery over the devices of one route, given the case's faults. */
static double rv_ok(const struct rv_case *c, char dev[5][NAME_LEN], int n)
{
	double ok = 1;

	for (int i = 0; i + 1 < n; i++) {
		ok *= 1 - c->background;
		if (c->bad_from && !strcmp(dev[i], c->bad_from) && !strcmp(dev[i + 1], c->bad_to))
			ok *= 1 - c->bad_loss;
	}
	return ok;
}

static int rv_route(int src, int dst, int spine, char dev[5][NAME_LEN])
{
	int n = 0;

	rv_host(src, dev[n++], NAME_LEN);
	snprintf(dev[n++], NAME_LEN, "leaf%d", rv_leaf(src));
	if (rv_leaf(src) != rv_leaf(dst))
		snprintf(dev[n++], NAME_LEN, "spine%d", spine + 1);
	/* the same leaf: no spine */
	if (rv_leaf(src) == rv_leaf(dst))
		return n + (rv_host(dst, dev[n], NAME_LEN), 1);
	snprintf(dev[n++], NAME_LEN, "leaf%d", rv_leaf(dst));
	rv_host(dst, dev[n++], NAME_LEN);
	return n;
}

static struct obs_set *rv_observe(const struct rv_case *c)
{
	struct obs_set *s = obs_set_new();
	char err[128];

	for (int a = 0; a < RV_PROBERS; a++)
		for (int b = 0; b <= RV_PROBERS; b++) {
			if (a == b)
				continue;
			for (unsigned k = 0; k < RV_FLOWS; k++) {
				unsigned sport = 33000 + k;
				int fs = (int)(mix((uint64_t)a << 40 ^ (uint64_t)b << 32 ^ sport) % RV_SPINES);
				int rs = (int)(mix((uint64_t)b << 40 ^ (uint64_t)a << 32 ^ sport ^ 1ull << 60) %
					       RV_SPINES);
				char fwd[5][NAME_LEN], rev[5][NAME_LEN], src[NAME_LEN], dst[NAME_LEN];
				int nf = rv_route(a, b, fs, fwd), nr = rv_route(b, a, rs, rev);
				const char *hops[3] = { fwd[1], fwd[2], fwd[3] };
				struct obs_row row = { rv_host(a, src, sizeof(src)),
						       rv_host(b, dst, sizeof(dst)), OBS_PROTO_UDP,
						       sport, 31338, RV_SENT, 0, nf - 2, hops, 0, 0 };
				uint64_t back;

				row.lost = (uint64_t)llround(RV_SENT * (1 - rv_ok(c, fwd, nf)));
				back = RV_SENT - row.lost;
				if (c->lost_rev)
					row.lost_rev = (uint64_t)llround((double)back * (1 - rv_ok(c, rev, nr)));
				cr_assert_eq(obs_set_row_add(s, &row, err, sizeof(err)), 0, "%s", err);
			}
		}
	return s;
}

static struct inventory *rv_inventory(void)
{
	struct inventory *inv = inventory_new();
	char err[128], a[NAME_LEN], b[NAME_LEN];

	cr_assert(inv);
	for (int h = 0; h <= RV_PROBERS; h++) {
		snprintf(b, sizeof(b), "leaf%d", rv_leaf(h));
		cr_assert_eq(inventory_link_add(inv, rv_host(h, a, sizeof(a)), b, err, sizeof(err)),
			     0, "%s", err);
	}
	for (int l = 0; l < RV_LEAVES; l++)
		for (int p = 0; p < RV_SPINES; p++) {
			snprintf(a, sizeof(a), "leaf%d", l + 1);
			snprintf(b, sizeof(b), "spine%d", p + 1);
			cr_assert_eq(inventory_link_add(inv, a, b, err, sizeof(err)), 0, "%s", err);
		}
	return inv;
}

static void rv_localize(const struct rv_case *c, struct suspect_list *out, char *all, size_t len)
{
	struct inventory *inv = rv_inventory();
	struct obs_set *s = rv_observe(c);
	struct infer_cfg cfg;
	char err[256];

	infer_cfg_default(&cfg);
	cr_assert_eq(infer_localize(s, inv, &cfg, out, NULL, err, sizeof(err)), 0, "%s", err);
	suspects_text(out, all, len);
	obs_set_free(s);
	inventory_free(inv);
}

/* Localize c and expect no suspect at all. */
static void rv_expect_no_suspect(const struct rv_case *c)
{
	struct suspect_list out = { 0 };
	char all[2048];

	rv_localize(c, &out, all, sizeof(all));
	cr_assert_eq(out.n, 0, "suspects:%s", all);
	suspect_list_free(&out);
}

/* svc's uplink svc -> leaf4 drops 2% (its NIC's transmit side, say): only
 * svc's replies cross it, and every one of them does, whatever spine it
 * takes. Without the reverse counts (the v1 view, all main used) nothing
 * points there; with them, that link alone is named, not the links its
 * replies cross after it nor leaf4 -> svc, which the probes cross clean. */
Test(infer_replies, reply_only_link_is_named_from_the_reverse_counts)
{
	struct rv_case c = { .bad_from = "svc", .bad_to = "leaf4", .bad_loss = 0.02 };
	struct suspect_list out = { 0 };
	char all[2048];

	rv_localize(&c, &out, all, sizeof(all));
	cr_assert_eq(out.n, 0, "without reverse counts:%s", all);
	suspect_list_free(&out);
	c.lost_rev = 1;
	rv_localize(&c, &out, all, sizeof(all));
	cr_assert_eq(out.n, 1, "suspects:%s", all);
	cr_assert_eq(out.v[0].kind, SUSPECT_LINK, "suspects:%s", all);
	cr_assert_str_eq(out.v[0].from, "svc", "suspects:%s", all);
	cr_assert_str_eq(out.v[0].to, "leaf4", "suspects:%s", all);
	suspect_list_free(&out);
}

/* leaf4 -> spine2 drops 2%: only the replies of svc's flows that hash onto
 * spine2 cross it. Which spine a reply takes no count says, and the four
 * siblings are alike, so the link cannot be told from them; spread at
 * equal shares the loss would land on svc -> leaf4, which every reply
 * crosses (a false suspect). The pairs' flows lost replies unevenly (all
 * or none of the 2%), so their replies are left out: nothing is named. */
Test(infer_replies, reply_loss_on_a_hidden_route_names_no_shared_link)
{
	struct rv_case c = { .bad_from = "leaf4", .bad_to = "spine2", .bad_loss = 0.02,
			     .lost_rev = 1 };

	rv_expect_no_suspect(&c);
}

/* The same fabric with only background loss, both ways: the replies' loss,
 * spread over every reverse route, names nothing. */
Test(infer_replies, spread_reply_background_names_nothing)
{
	struct rv_case c = { .background = 0.0005, .lost_rev = 1 };

	rv_expect_no_suspect(&c);
}

/* The lab's traces of flows whose replies the blackhole ate (CI, SAN):
 * their replies never came back, and the tracer, its answers late, took
 * the target as met two hops too far, so the trace ends in two "*" before
 * it. Filled with routes of that length, the gap looped through the ToR
 * (tor1-1 -> fsw1-1 -> tor1-1 -> h1), the replies' routes were as long and
 * loops too, and the links the replies crossed for certain no longer held
 * the blackhole itself: the watch alerted on ssw1-2's upstream link alone.
 * Routes are loop-free, and a gap no such route spans takes the shortest. */
Test(infer_replies, traces_with_silent_hops_before_the_target_stay_on_the_blackhole)
{
	char all[2048];

	for (uint64_t salt = 1; salt <= 4; salt++) {
		struct bh3 c = { .pods = 2, .flows = 12, .salt = salt, .late_stars = 1 };

		cr_assert(bh3_alone(&c, all, sizeof(all)), "salt %llu: %s",
			  (unsigned long long)salt, all);
	}
}

/* The fault began (or ended) half a window ago: the flows it kills and
 * those whose replies it eats lost half their probes, all in intervals
 * that went dark, as the store counts them. By loss ratio alone
 * they are not silent, and the eaten replies were charged to their forward
 * paths: the watch fired a link on the opposite direction (ssw2-1 ->
 * fsw1-2, ssw2-2 -> fsw1-2) beside the blackhole in test_watch_faults. */
Test(infer_replies, flows_dark_for_half_the_window_stay_on_the_blackhole)
{
	char all[2048];

	for (uint64_t salt = 1; salt <= 4; salt++) {
		struct bh3 c = { .flows = 12, .salt = salt, .dead_share_x10 = 5, .dark = 1 };

		cr_assert(bh3_alone(&c, all, sizeof(all)), "salt %llu: %s",
			  (unsigned long long)salt, all);
	}
}

/* The lab's blackhole as it ended (test_watch_faults, SAN): the killed
 * flows' traces had changed inside the window, so their paths were stale
 * (unknown), and the silent flows left were a few whose replies the
 * blackhole ate. Those fit every reverse route alike; the flows that lived
 * on each spine decided, and a blackhole was named on another spine
 * (fsw1-2 -> ssw2-2 | ssw2-2 -> fsw2-2). Nothing but the blackhole may be
 * named; with so little evidence, nothing at all is right too. */
Test(infer_replies, a_few_eaten_replies_alone_name_no_other_spine)
{
	for (uint64_t salt = 1; salt <= 8; salt++) {
		struct bh3 c = { .flows = 12, .salt = salt, .dead_share_x10 = 5, .dark = 1,
				 .killed_unknown = 1 };
		struct inventory *inv = bh3_inventory(&c);
		struct suspect_list out = { 0 };
		struct infer_cfg cfg;
		char err[256], all[2048];
		int nfwd, nrev;
		struct obs_set *s = bh3_observe(&c, &nfwd, &nrev);

		infer_cfg_default(&cfg);
		cr_assert_eq(infer_localize(s, inv, &cfg, &out, NULL, err, sizeof(err)), 0, "%s",
			     err);
		suspects_text(&out, all, sizeof(all));
		cr_assert(nrev >= 2, "salt %llu: %d flows' replies eaten", (unsigned long long)salt,
			  nrev);
		for (size_t i = 0; i < out.n; i++)
			cr_assert(names_link(&out.v[i], "ssw1-2", "fsw2-1"),
				  "salt %llu, %d replies eaten: suspects:%s",
				  (unsigned long long)salt, nrev, all);
		suspect_list_free(&out);
		obs_set_free(s);
		inventory_free(inv);
	}
}
