/* Unit tests for the inference on exact small fabrics: expected loss counts
 * (no randomness) so each case has one right answer. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "infer.h"
#include "observations.h"
#include "output.h"
#include "inventory.h"
#include "model.h"
#include "strtab.h"

#define SENT 20000

static void flow_add(struct obs_set *s, const char *src, const char *dst,
		     unsigned sport, double loss, int nhops, const char *const *hops)
{
	struct obs_row row = { src, dst, OBS_PROTO_UDP, sport, 31338, SENT, 0, nhops, hops, 0, 0 };
	char err[128];

	row.lost = (uint64_t)llround(SENT * loss);
	cr_assert_eq(obs_set_row_add(s, &row, err, sizeof(err)), 0, "%s", err);
}

static void localize(struct obs_set *s, struct suspect_list *out)
{
	struct infer_cfg cfg;
	char err[256];

	infer_cfg_default(&cfg);
	cr_assert_eq(infer_localize(s, NULL, &cfg, out, NULL, err, sizeof(err)), 0, "%s", err);
}

static void suspects_text(const struct suspect_list *out, char *buf, size_t len)
{
	buf[0] = 0;
	for (size_t i = 0; i < out->n; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), " %s %s->%s %.3f;",
			 suspect_kind_name(out->v[i].kind), out->v[i].from, out->v[i].to,
			 out->v[i].loss_ratio);
}

/* Localize s (freed here) and check that it names exactly one suspect, of
 * kind, at from (and to, unless NULL); returns it for the case's own checks. */
static struct suspect one_suspect_expect(struct obs_set *s, enum suspect_kind kind,
					 const char *from, const char *to)
{
	struct suspect_list out = { 0 };
	struct suspect first;
	char all[1024];

	localize(s, &out);
	suspects_text(&out, all, sizeof(all));
	cr_assert_eq(out.n, 1, "suspects:%s", all);
	cr_assert_eq(out.v[0].kind, kind, "suspects:%s", all);
	cr_assert_str_eq(out.v[0].from, from, "suspects:%s", all);
	if (to)
		cr_assert_str_eq(out.v[0].to, to, "suspects:%s", all);
	first = out.v[0];
	suspect_list_free(&out);
	obs_set_free(s);
	return first;
}

/* Three switches in a triangle, one host on each; every host probes the two
 * others through the direct switch link. Only s1 -> s2 drops (10%). */
Test(infer, single_lossy_link_on_a_triangle)
{
	static const char *const sw[] = { "s1", "s2", "s3" }, *const host[] = { "a", "b", "c" };
	struct obs_set *s = obs_set_new();
	struct suspect x;

	for (int i = 0; i < 3; i++) {
		for (int j = 0; j < 3; j++) {
			const char *hops[2] = { sw[i], sw[j] };

			if (i == j)
				continue;
			for (unsigned p = 0; p < 4; p++)
				flow_add(s, host[i], host[j], 1000 + p,
					 i == 0 && j == 1 ? 0.10 : 0, 2, hops);
		}
	}
	x = one_suspect_expect(s, SUSPECT_LINK, "s1", "s2");
	cr_assert_float_eq(x.loss_ratio, 0.10, 0.005);
	cr_assert(x.loss_lo < 0.10 && x.loss_hi > 0.10);
	cr_assert_eq(x.flows, 4);
	cr_assert_eq(x.lossy_flows, 4);
	cr_assert_eq(x.probers, 1);
	cr_assert(x.confidence > 0.99);
}

/* Leaf-spine: 4 leaves with 2 hosts each, 4 spines; every host probes every
 * host under another leaf once through each spine. */
struct fault {
	const char *device;              /* drops per traversal */
	const char *from, *to;           /* link that drops */
	double loss;
	int blackhole;                   /* link drops all of odd-port flows */
	int replies_too;                 /* ... and their replies, which come back
					  * over spine k+1 and, all lost, are
					  * booked as forward loss by the prober */
	const char *host;                /* sick host */
};

/* A flow of the leaf-spine test fabric (4 leaves of 2 hosts, 4 spines):
 * host a to host b under another leaf, through spine k, with its names. */
struct ls_flow {
	int a, b, k;
	unsigned sport;
	char hs[8], hd[8], ls[8], ld[8], sp[8];
};

/* Every host probes every host under another leaf once through each spine,
 * sent probes a flow; loss_cb says what share of them each flow loses. */
static struct obs_set *leaf_spine_build(uint64_t sent,
					double (*loss_cb)(const struct ls_flow *x, const void *arg),
					const void *arg)
{
	struct obs_set *s = obs_set_new();
	char err[128];

	for (int a = 0; a < 8; a++) {
		for (int b = 0; b < 8; b++) {
			for (int k = 0; k < 4 && a / 2 != b / 2; k++) {
				struct ls_flow x = { .a = a, .b = b, .k = k,
						     .sport = 2000u + (unsigned)(k * 16 + a) };
				const char *hops[3] = { x.ls, x.sp, x.ld };
				struct obs_row row = { x.hs, x.hd, OBS_PROTO_UDP, x.sport, 31338,
						       sent, 0, 3, hops, 0, 0 };

				snprintf(x.hs, sizeof(x.hs), "h%d", a);
				snprintf(x.hd, sizeof(x.hd), "h%d", b);
				snprintf(x.ls, sizeof(x.ls), "l%d", a / 2);
				snprintf(x.ld, sizeof(x.ld), "l%d", b / 2);
				snprintf(x.sp, sizeof(x.sp), "s%d", k);
				row.lost = (uint64_t)llround((double)sent * loss_cb(&x, arg));
				cr_assert_eq(obs_set_row_add(s, &row, err, sizeof(err)), 0, "%s", err);
			}
		}
	}
	return s;
}

struct fault_ctx {
	const struct fault *f; /* NULL: healthy */
	double background;     /* every link's own loss */
};

static double fault_loss(const struct ls_flow *x, const void *arg)
{
	const struct fault_ctx *c = arg;
	const struct fault *f = c->f;
	const char *devs[5] = { x->hs, x->ls, x->sp, x->ld, x->hd };
	double ok = 1;

	for (int i = 0; i < 4; i++) {
		ok *= 1 - c->background;
		if (f && f->from && !strcmp(devs[i], f->from) && !strcmp(devs[i + 1], f->to)) {
			if (!f->blackhole)
				ok *= 1 - f->loss;
			else if (x->sport % 2)
				ok = 0;
		}
	}
	if (f && f->replies_too && x->sport % 2) {
		char rs[8];
		const char *rev[5] = { x->hd, x->ld, rs, x->ls, x->hs };

		snprintf(rs, sizeof(rs), "s%d", (x->k + 1) % 4);
		for (int i = 0; i < 4; i++)
			if (!strcmp(rev[i], f->from) && !strcmp(rev[i + 1], f->to))
				ok = 0;
	}
	for (int i = 1; i < 4; i++)
		if (f && f->device && !strcmp(devs[i], f->device))
			ok *= 1 - f->loss;
	if (f && f->host && (!strcmp(x->hs, f->host) || !strcmp(x->hd, f->host)))
		ok *= 1 - f->loss;
	return 1 - ok;
}

static struct obs_set *leaf_spine(const struct fault *f, double background)
{
	struct fault_ctx c = { f, background };

	return leaf_spine_build(SENT, fault_loss, &c);
}

Test(infer, healthy_fabric_has_no_suspects)
{
	struct obs_set *s = leaf_spine(NULL, 2e-5);
	struct suspect_list out = { 0 };

	localize(s, &out);
	cr_assert_eq(out.n, 0, "got %zu suspects, first %s -> %s", out.n,
		     out.n ? out.v[0].from : "", out.n ? out.v[0].to : "");
	suspect_list_free(&out);
	obs_set_free(s);
}

Test(infer, device_fault_is_reported_once)
{
	struct fault f = { .device = "s2", .loss = 0.03 };
	struct suspect x = one_suspect_expect(leaf_spine(&f, 2e-5), SUSPECT_DEVICE, "s2", NULL);

	cr_assert_float_eq(x.loss_ratio, 0.03, 0.003);
	cr_assert_eq(x.probers, 8);
}

Test(infer, partial_blackhole_is_its_own_kind)
{
	struct fault f = { .from = "l1", .to = "s3", .blackhole = 1 };
	struct suspect x = one_suspect_expect(leaf_spine(&f, 2e-5), SUSPECT_BLACKHOLE, "l1", "s3");

	cr_assert_float_eq(x.loss_ratio, 0.5, 0.05);
}

/* The blackhole on s3 -> l1 also eats the replies to l1's hosts, so their
 * flows over every spine fall silent and look lost forward. One blackhole
 * explains all of it; the uplinks of l1 are not suspects of their own. */
Test(infer, blackhole_eating_replies_is_named_once)
{
	struct fault f = { .from = "s3", .to = "l1", .blackhole = 1, .replies_too = 1 };
	struct obs_set *s = leaf_spine(&f, 2e-5);
	struct suspect_list out = { 0 };

	char all[1024];

	localize(s, &out);
	suspects_text(&out, all, sizeof(all));
	cr_assert_geq(out.n, 1);
	cr_assert_eq(out.v[0].kind, SUSPECT_BLACKHOLE, "%s", all);
	cr_assert_str_eq(out.v[0].from, "s3", "%s", all);
	cr_assert_str_eq(out.v[0].to, "l1");
	for (size_t i = 1; i < out.n; i++)
		cr_assert_fail("false suspect %s %s -> %s", suspect_kind_name(out.v[i].kind),
			       out.v[i].from, out.v[i].to);
	suspect_list_free(&out);
	obs_set_free(s);
}

Test(infer, uniform_link_loss_is_not_a_blackhole)
{
	struct fault f = { .from = "s0", .to = "l2", .loss = 0.02 };

	one_suspect_expect(leaf_spine(&f, 2e-5), SUSPECT_LINK, "s0", "l2");
}

Test(infer, sick_host_is_a_host_not_the_fabric)
{
	struct fault f = { .host = "h5", .loss = 0.2 };

	one_suspect_expect(leaf_spine(&f, 2e-5), SUSPECT_HOST, "h5", NULL);
}

/* A "*" hop between two known switches is filled from the links other flows
 * showed, and an unknown path takes the known paths of the same pair. */
Test(infer, unanswered_hops_and_unknown_paths_still_count)
{
	struct obs_set *s = obs_set_new();
	static const char *const sw[] = { "s1", "s2", "s3" }, *const host[] = { "a", "b", "c" };

	for (int i = 0; i < 3; i++) {
		for (int j = 0; j < 3; j++) {
			const char *hops[2] = { sw[i], sw[j] }, *star[2] = { sw[i], NULL };

			if (i == j)
				continue;
			flow_add(s, host[i], host[j], 1000, 0, 2, hops);
			for (unsigned p = 1; p < 4; p++)
				flow_add(s, host[i], host[j], 1000 + p,
					 i == 0 && j == 1 ? 0.10 : 0, p == 3 ? -1 : 2,
					 p == 2 ? star : hops);
		}
	}
	one_suspect_expect(s, SUSPECT_LINK, "s1", "s2");
}

/* Leaf-spine as above with `sent` probes per flow; flows through spine
 * `dev` lose down_loss[destination leaf], and links listed in `lossy`
 * (spine -> leaf pairs) lose their rate on their own. */
struct thin {
	unsigned sent;
	int dev;                 /* spine index, -1 none */
	double down_loss[4];     /* per destination leaf, for flows via dev */
	int link_spine[2], link_leaf[2];
	double link_loss;
};

static double thin_loss(const struct ls_flow *x, const void *arg)
{
	const struct thin *t = arg;
	double loss = x->k == t->dev ? t->down_loss[x->b / 2] : 0;

	for (int i = 0; i < 2; i++)
		if (t->link_loss > 0 && x->k == t->link_spine[i] && x->b / 2 == t->link_leaf[i])
			loss = t->link_loss;
	return loss;
}

static struct obs_set *leaf_spine_thin(const struct thin *t)
{
	return leaf_spine_build(t->sent, thin_loss, t);
}

/* A 5% device fault seen through few probes: chance made its flows to two
 * leaves lose 7% and to the other two 3%, so only the two heavier links
 * pass their own tests. The rest of the device's flows still lose far
 * beyond the background: one device, not two links. */
Test(infer, thinly_seen_device_fault_is_still_the_device)
{
	struct thin t = { .sent = 100, .dev = 2, .down_loss = { 0.03, 0.03, 0.07, 0.07 } };

	one_suspect_expect(leaf_spine_thin(&t), SUSPECT_DEVICE, "s2", NULL);
}

/* A 2.5% device fault seen through 60 probes a flow: chance made its flows
 * to one leaf lose 3 probes each (5%), so that link passes alone, and to
 * the three others 1 each (1.7%), too little for any of them. Before the
 * pooled device test it was named as that one link (as the lab's 5% spine3
 * came out as spine3 -> leaf1 at 3%); pooled, its flows name the device. */
Test(infer, device_fault_with_one_link_evidenced_is_the_device)
{
	struct thin t = { .sent = 60, .dev = 2, .down_loss = { 0.02, 0.02, 0.02, 0.05 } };

	one_suspect_expect(leaf_spine_thin(&t), SUSPECT_DEVICE, "s2", NULL);
}

/* The opposite error: one faulty link at the same rate and on the same
 * few probes, the rest of its spine clean, is the link, not the spine
 * (pooled, the spine's flows also lose beyond the background). */
Test(infer, single_faulty_link_on_a_spine_stays_a_link)
{
	struct thin t = { .sent = 60, .dev = -1, .link_spine = { 2, 2 }, .link_leaf = { 3, 3 },
			  .link_loss = 0.05 };

	one_suspect_expect(leaf_spine_thin(&t), SUSPECT_LINK, "s2", "l3");
}

/* Two faulty links on one spine and nothing else on it: its other flows
 * are clean, so the links are named, not the spine. */
Test(infer, two_faulty_links_on_one_spine_are_links)
{
	struct thin t = { .sent = 100, .dev = -1, .link_spine = { 2, 2 }, .link_leaf = { 2, 3 },
			  .link_loss = 0.07 };
	struct obs_set *s = leaf_spine_thin(&t);
	struct suspect_list out = { 0 };
	char all[1024];

	localize(s, &out);
	suspects_text(&out, all, sizeof(all));
	cr_assert_eq(out.n, 2, "suspects:%s", all);
	for (size_t i = 0; i < out.n; i++) {
		cr_expect_eq(out.v[i].kind, SUSPECT_LINK, "suspects:%s", all);
		cr_expect_str_eq(out.v[i].from, "s2", "suspects:%s", all);
	}
	suspect_list_free(&out);
	obs_set_free(s);
}

/* The one hop -> link walk: a "*" hides the links on both its sides, two
 * interfaces of one device are one hop, a "-" path has no links. */
Test(infer, walk_skips_links_beside_a_silent_hop)
{
	static const char *const hops[] = { "198.18.1.1", "198.18.1.2", NULL, "s3" };
	struct obs_set *s = obs_set_new();
	struct inventory *inv = inventory_new();
	struct strtab *devs = strtab_new();
	struct obs_row row = { "h1", "h2", OBS_PROTO_UDP, 1000, 31338, 10, 1, 4, hops, 0, 0 };
	struct obs_row unknown = { "h1", "h2", OBS_PROTO_UDP, 1001, 31338, 10, 1, -1, NULL, 0, 0 };
	uint32_t name_dev[16], from[MODEL_WALK_MAX], to[MODEL_WALK_MAX], seq[MODEL_WALK_MAX];
	char err[128];
	const char *inv_text = "# faultmesh inventory v1\n198.18.1.1\ts1\n198.18.1.2\ts1\n";

	cr_assert_eq(inventory_parse(inv, inv_text, strlen(inv_text), "inv", err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(obs_set_row_add(s, &row, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(obs_set_row_add(s, &unknown, err, sizeof(err)), 0, "%s", err);
	cr_assert_leq(obs_set_name_count(s), 16);
	cr_assert_eq(model_name_devs(s, inv, devs, name_dev), 0);
	/* h1 s1 * s3 h2 */
	cr_assert_eq(model_flow_walk(s, obs_set_flow(s, 0), name_dev, seq), 5);
	cr_assert_eq(seq[2], MODEL_DEV_NONE);
	cr_assert_eq(model_flow_links(s, obs_set_flow(s, 0), name_dev, from, to), 2);
	cr_assert_str_eq(strtab_str(devs, from[0]), "h1");
	cr_assert_str_eq(strtab_str(devs, to[0]), "s1");
	cr_assert_str_eq(strtab_str(devs, from[1]), "s3");
	cr_assert_str_eq(strtab_str(devs, to[1]), "h2");
	cr_assert_eq(model_flow_links(s, obs_set_flow(s, 1), name_dev, from, to), 0);
	strtab_free(devs);
	inventory_free(inv);
	obs_set_free(s);
}

/* Identifiability: s1 -> s2 and s2 -> s3 are crossed by exactly the same
 * flows (s2 has no other way in or out), so a fault on either is one
 * ambiguous suspect naming both, never one of them alone. The parallel
 * route over s4 is clean. */
Test(infer, links_sharing_every_flow_are_one_ambiguous_suspect)
{
	static const char *const src[] = { "h1", "h2" }, *const dst[] = { "h3", "h4" };
	struct obs_set *s = obs_set_new();
	struct suspect_list out = { 0 };

	for (int a = 0; a < 2; a++) {
		for (int b = 0; b < 2; b++) {
			for (unsigned p = 0; p < 4; p++) {
				const char *via2[3] = { "s1", "s2", "s3" }, *via4[3] = { "s1", "s4", "s3" };

				flow_add(s, src[a], dst[b], 1000 + p * 4 + (unsigned)(a * 2 + b), 0.05, 3, via2);
				flow_add(s, src[a], dst[b], 2000 + p * 4 + (unsigned)(a * 2 + b), 0, 3, via4);
			}
		}
	}
	localize(s, &out);
	cr_assert_eq(out.n, 1, "got %zu suspects", out.n);
	cr_assert_eq(out.v[0].kind, SUSPECT_LINK);
	cr_assert_str_eq(out.v[0].from, strcmp(out.v[0].from, "s1") ? "s2" : "s1");
	if (!strcmp(out.v[0].from, "s1")) {
		cr_assert_str_eq(out.v[0].to, "s2");
		cr_assert_str_eq(out.v[0].also_from, "s2");
		cr_assert_str_eq(out.v[0].also_to, "s3");
	} else {
		cr_assert_str_eq(out.v[0].to, "s3");
		cr_assert_str_eq(out.v[0].also_from, "s1");
		cr_assert_str_eq(out.v[0].also_to, "s2");
	}
	cr_assert_eq(out.v[0].flows, 16);
	suspect_list_free(&out);
	obs_set_free(s);
}

/* Identifiability across kinds: s2 has one way in (s1 -> s2) and two ways
 * out, so every flow through the switch s2 crosses s1 -> s2 and no other
 * flow does. A fault on the link or on the switch loses the same probes on
 * the same flows: one ambiguous suspect naming both (before, the link
 * alone with full confidence). The route over s4 is clean. */
Test(infer, link_and_device_on_the_same_flows_are_one_ambiguous_suspect)
{
	static const char *const src[] = { "h1", "h2" }, *const dst[] = { "h3", "h4", "h5", "h6" };
	struct obs_set *s = obs_set_new();
	struct suspect x;

	for (int a = 0; a < 2; a++) {
		for (int b = 0; b < 4; b++) {
			const char *exit_sw = b < 2 ? "s3" : "s5";

			for (unsigned p = 0; p < 4; p++) {
				const char *via2[3] = { "s1", "s2", exit_sw }, *via4[3] = { "s1", "s4", exit_sw };
				unsigned port = p * 8 + (unsigned)(a * 4 + b);

				flow_add(s, src[a], dst[b], 1000 + port, 0.05, 3, via2);
				flow_add(s, src[a], dst[b], 2000 + port, 0, 3, via4);
			}
		}
	}
	x = one_suspect_expect(s, SUSPECT_LINK, "s1", "s2");
	cr_assert_str_eq(x.also_from, "s2");
	cr_assert_str_eq(x.also_to, "");
	cr_assert_eq(x.flows, 32);
	cr_assert_float_eq(x.loss_ratio, 0.05, 0.005);
}
