/* Tests of the watch's one-alert rule (alert_select): a device's links and
 * hosts never alert beside it, a link named early in a device fault waits for
 * the device, a link fault beside clean routers alerts at once, a firing
 * alert speaks for the narrower suspects it explains, the same link named as
 * two kinds is one alert, and each alert lists who sees it. Rounds are built
 * from observations of a small 2-tier fabric through the real model. */
#include "alert_select.h"
#include "model.h"
#include "observations.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

/*   spine1   spine2
 *    |  \    /  |      (full mesh leaf <-> spine)
 *   leaf1  leaf2  leaf3
 *   h1 h2  h3 h4  h5 h6
 * Every host probes every host on other leaves over 4 flows, 2 per spine. */
struct t_fault {
	const char *from, *to; /* a lossy link, or from alone: a lossy device */
	double loss;
};

static const char *t_leaf(int h) { static const char *l[] = { "leaf1", "leaf2", "leaf3" }; return l[(h - 1) / 2]; }

static int t_hits(const struct t_fault *f, const char *const *dev, int n)
{
	for (int i = 0; i + 1 < n; i++)
		if (f->to && !strcmp(dev[i], f->from) && !strcmp(dev[i + 1], f->to))
			return 1;
	for (int i = 1; i + 1 < n; i++)
		if (!f->to && !strcmp(dev[i], f->from))
			return 1;
	return 0;
}

/* Observations of the fabric with the given faults (NULL-terminated by a
 * zero loss); every flow sends 2000 probes, about one flow in 7 loses one probe. */
static struct obs_set *t_obs(const struct t_fault *faults)
{
	struct obs_set *o = obs_set_new();
	unsigned k = 0;

	cr_assert_not_null(o);
	for (int p = 1; p <= 6; p++) {
		for (int t = 1; t <= 6; t++) {
			if (t_leaf(p) == t_leaf(t))
				continue;
			for (int f = 0; f < 4; f++) {
				char pn[8], tn[8];
				const char *spine = f % 2 ? "spine2" : "spine1";
				const char *hops[3] = { t_leaf(p), spine, t_leaf(t) };
				const char *dev[5] = { pn, hops[0], hops[1], hops[2], tn };
				double loss = 0;
				struct obs_row r = { .prober = pn, .target = tn, .proto = OBS_PROTO_UDP,
						     .sport = 40000 + f, .dport = 31338, .sent = 2000,
						     .nhops = 3, .hops = hops };
				char err[128];

				snprintf(pn, sizeof(pn), "h%d", p);
				snprintf(tn, sizeof(tn), "h%d", t);
				for (const struct t_fault *x = faults; x && x->loss > 0; x++)
					if (t_hits(x, dev, 5))
						loss += x->loss;
				r.lost = (uint64_t)(2000 * loss + 0.5) + (++k % 7 == 0);
				cr_assert_eq(obs_set_row_add(o, &r, err, sizeof(err)), 0, "%s", err);
			}
		}
	}
	return o;
}

static struct suspect t_sus(enum suspect_kind kind, const char *from, const char *to)
{
	struct suspect s;

	memset(&s, 0, sizeof(s));
	s.kind = kind;
	snprintf(s.from, sizeof(s.from), "%s", from);
	snprintf(s.to, sizeof(s.to), "%s", to ? to : "");
	s.loss_ratio = 0.02;
	s.confidence = 0.999;
	return s;
}

/* Run the rule on the fabric with faults, for the named suspects (ranked as
 * given) and the firing ones; returns the inputs (free them). */
static struct alert_input *t_select(const struct t_fault *faults,
				    const struct suspect *named, size_t n,
				    const struct suspect *firing, size_t nfiring)
{
	struct obs_set *o = t_obs(faults);
	struct suspect_list sus = { 0 };
	struct alert_select_cfg cfg;
	struct alert_input *in;
	struct model *m;
	char err[128];

	m = model_build(o, NULL, err, sizeof(err));
	cr_assert_not_null(m, "%s", err);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(suspect_list_add(&sus, &named[i]), 0);
	alert_select_cfg_default(&cfg);
	cr_assert_eq(alert_select_round(m, &sus, firing, nfiring, &cfg, &in), 0);
	suspect_list_free(&sus);
	model_free(m);
	obs_set_free(o);
	return in;
}

Test(alert_select, device_named_with_its_link_and_host_alerts_alone)
{
	static const struct t_fault f[] = { { "leaf2", NULL, 0.02 }, { 0 } };
	struct suspect named[] = {
		t_sus(SUSPECT_LINK, "h3", "leaf2"),
		t_sus(SUSPECT_DEVICE, "leaf2", NULL),
		t_sus(SUSPECT_HOST, "h4", NULL),
		t_sus(SUSPECT_LINK, "spine1", "leaf2"),
	};
	struct alert_input *in = t_select(f, named, 4, NULL, 0);

	cr_expect(in[0].explained, "link h3->leaf2 is the device's");
	cr_expect(!in[1].explained && !in[1].held, "the device alerts");
	cr_expect(in[2].explained, "host h4 sits on the device");
	cr_expect(in[3].explained, "link spine1->leaf2 is the device's");
	free(in);
}

Test(alert_select, link_named_early_in_a_device_fault_waits_for_the_device)
{
	static const struct t_fault f[] = { { "leaf2", NULL, 0.02 }, { 0 } };
	struct suspect named[] = { t_sus(SUSPECT_LINK, "h3", "leaf2"),
				   t_sus(SUSPECT_HOST, "h4", NULL) };
	struct alert_input *in = t_select(f, named, 2, NULL, 0);

	cr_expect(!in[0].explained && in[0].held,
		  "leaf2's other flows lose too: the link is held");
	cr_expect(!in[1].explained && in[1].held, "so is the host beside it");
	free(in);
}

Test(alert_select, link_fault_beside_clean_routers_alerts_at_once)
{
	static const struct t_fault f[] = { { "spine2", "leaf2", 0.03 }, { 0 } };
	struct suspect named[] = { t_sus(SUSPECT_LINK, "spine2", "leaf2") };
	struct alert_input *in = t_select(f, named, 1, NULL, 0);

	cr_expect(!in[0].explained && !in[0].held);
	free(in);
}

Test(alert_select, weak_link_fault_shared_with_a_router_alerts)
{
	/* a 0.3% link: spine2's and leaf2's other flows carry only background */
	static const struct t_fault f[] = { { "spine2", "leaf2", 0.003 }, { 0 } };
	struct suspect named[] = { t_sus(SUSPECT_LINK, "spine2", "leaf2") };
	struct alert_input *in = t_select(f, named, 1, NULL, 0);

	cr_expect(!in[0].held);
	free(in);
}

Test(alert_select, host_fault_is_not_held_by_its_clean_leaf)
{
	static const struct t_fault f[] = { { "h3", "leaf2", 0.02 }, { "leaf2", "h3", 0.02 }, { 0 } };
	struct suspect named[] = { t_sus(SUSPECT_HOST, "h3", NULL) };
	struct alert_input *in = t_select(f, named, 1, NULL, 0);

	cr_expect(!in[0].explained && !in[0].held);
	free(in);
}

Test(alert_select, firing_device_speaks_for_its_links)
{
	static const struct t_fault f[] = { { "leaf2", NULL, 0.02 }, { "spine1", "leaf3", 0.03 },
					    { 0 } };
	struct suspect firing[] = { t_sus(SUSPECT_DEVICE, "leaf2", NULL) };
	struct suspect named[] = { t_sus(SUSPECT_LINK, "leaf2", "spine1"),
				   t_sus(SUSPECT_LINK, "spine1", "leaf3") };
	struct alert_input *in = t_select(f, named, 2, firing, 1);

	cr_expect(in[0].explained);
	cr_expect(!in[1].explained, "a faulty link away from the device is its own");
	free(in);
}

Test(alert_select, router_seeing_a_tors_loss_is_explained_by_it)
{
	/* a lossy ToR: the spines above carry its flows, so the inference may
	 * name them too; their flows that avoid leaf2 are clean */
	static const struct t_fault f[] = { { "leaf2", NULL, 0.02 }, { 0 } };
	struct suspect named[] = { t_sus(SUSPECT_DEVICE, "spine1", NULL),
				   t_sus(SUSPECT_DEVICE, "leaf2", NULL),
				   t_sus(SUSPECT_DEVICE, "spine2", NULL) };
	struct alert_input *in = t_select(f, named, 3, NULL, 0);

	cr_expect(in[0].explained, "spine1 ranked first, still leaf2's loss");
	cr_expect(!in[1].explained && !in[1].held);
	cr_expect(in[2].explained);
	free(in);
}

Test(alert_select, two_real_device_faults_both_alert)
{
	static const struct t_fault f[] = { { "leaf2", NULL, 0.02 }, { "spine1", NULL, 0.02 },
					    { 0 } };
	struct suspect named[] = { t_sus(SUSPECT_DEVICE, "leaf2", NULL),
				   t_sus(SUSPECT_DEVICE, "spine1", NULL) };
	struct alert_input *in = t_select(f, named, 2, NULL, 0);

	cr_expect(!in[0].explained && !in[1].explained);
	free(in);
}

Test(alert_select, host_named_for_its_one_lossy_uplink_alerts_once)
{
	/* only h1 -> leaf1 drops: the host h1 and its uplink are named; the
	 * host's flows towards h1 are clean, so the uplink stands alone */
	static const struct t_fault f[] = { { "h1", "leaf1", 0.03 }, { 0 } };
	struct suspect named[] = { t_sus(SUSPECT_HOST, "h1", NULL),
				   t_sus(SUSPECT_LINK, "h1", "leaf1") };
	struct alert_input *in = t_select(f, named, 2, NULL, 0);

	cr_expect(in[0].explained, "the host's evidence is its uplink's");
	cr_expect(!in[1].explained, "the uplink alerts");
	free(in);
}
Test(alert_select, a_firing_suspect_is_not_explained_by_its_own_alert)
{
	static const struct t_fault f[] = { { "leaf2", NULL, 0.02 }, { 0 } };
	struct suspect named[] = { t_sus(SUSPECT_DEVICE, "leaf2", NULL) };
	struct alert_input *in = t_select(f, named, 1, named, 1);

	cr_expect(!in[0].explained && !in[0].held, "its figures must reach its alert");
	free(in);
}

Test(alert_select, same_link_as_two_kinds_is_one_alert)
{
	static const struct t_fault f[] = { { "spine2", "leaf2", 0.03 }, { 0 } };
	struct suspect named[] = { t_sus(SUSPECT_BLACKHOLE, "spine2", "leaf2"),
				   t_sus(SUSPECT_LINK, "spine2", "leaf2") };
	struct alert_input *in = t_select(f, named, 2, NULL, 0);

	cr_expect(!in[0].explained, "the better-ranked kind stands");
	cr_expect(in[1].explained);
	free(in);
}

Test(alert_select, alert_lists_the_pairs_that_see_it)
{
	static const struct t_fault f[] = { { "spine2", "leaf3", 0.03 }, { 0 } };
	struct suspect named[] = { t_sus(SUSPECT_LINK, "spine2", "leaf3") };
	struct alert_input *in = t_select(f, named, 1, NULL, 0);

	/* h1..h4 to h5, h6: 8 pairs, all on spine2's flows */
	cr_expect_eq(in[0].npairs, 8);
	for (size_t i = 0; i < in[0].npairs; i++)
		cr_expect(!strcmp(in[0].pairs[i].target, "h5") ||
			  !strcmp(in[0].pairs[i].target, "h6"), "%s", in[0].pairs[i].target);
	free(in);
}

Test(alert_select, explains_relation)
{
	struct suspect dev = t_sus(SUSPECT_DEVICE, "leaf2", NULL);
	struct suspect host = t_sus(SUSPECT_HOST, "h3", NULL);
	struct suspect link = t_sus(SUSPECT_LINK, "h3", "leaf2");
	struct suspect bh = t_sus(SUSPECT_BLACKHOLE, "h3", "leaf2");
	struct suspect other = t_sus(SUSPECT_LINK, "spine1", "leaf1");

	cr_expect(alert_select_explains(NULL, &dev, &link));
	cr_expect(alert_select_explains(NULL, &host, &link));
	cr_expect(alert_select_explains(NULL, &bh, &link));
	cr_expect(alert_select_explains(NULL, &link, &bh));
	cr_expect(!alert_select_explains(NULL, &link, &link), "same suspect");
	cr_expect(!alert_select_explains(NULL, &dev, &other));
	cr_expect(!alert_select_explains(NULL, &link, &dev), "narrow never explains wide");
	cr_expect(!alert_select_explains(NULL, &dev, &host), "without a model no host is beside it");
}

static struct suspect t_pair(const char *f1, const char *t1, const char *f2, const char *t2)
{
	struct suspect s = t_sus(SUSPECT_LINK, f1, t1);

	snprintf(s.also_from, sizeof(s.also_from), "%s", f2);
	snprintf(s.also_to, sizeof(s.also_to), "%s", t2);
	return s;
}

Test(alert_select, ambiguous_pair_is_one_alert_with_its_links)
{
	/* h1's uplink and leaf1 -> spine1 share no flows here; the pair is
	 * what localize names for links no evidence splits */
	static const struct t_fault f[] = { { "spine2", "leaf3", 0.03 }, { 0 } };
	struct suspect named[] = { t_pair("spine2", "leaf3", "leaf3", "h5"),
				   t_sus(SUSPECT_LINK, "leaf3", "h5"),
				   t_sus(SUSPECT_BLACKHOLE, "spine2", "leaf3") };
	struct suspect firing[] = { t_pair("leaf3", "h5", "spine2", "leaf3") };
	struct alert_input *in = t_select(f, named, 3, NULL, 0);

	cr_expect(!in[0].explained, "the pair alerts");
	cr_expect(in[1].explained, "one of its links named alone is the pair's");
	cr_expect(in[2].explained, "so is a blackhole on the other");
	free(in);
	/* once the pair fires, either link named alone later is the same fault */
	in = t_select(f, &named[1], 2, firing, 1);
	cr_expect(in[0].explained && in[1].explained);
	free(in);
}

Test(alert_select, pair_is_the_same_suspect_in_either_order)
{
	struct suspect p = t_pair("a", "b", "b", "c"), q = t_pair("b", "c", "a", "b");
	struct suspect l = t_sus(SUSPECT_LINK, "a", "b");

	cr_expect(alert_suspect_same(&p, &q));
	cr_expect(!alert_suspect_same(&p, &l));
	cr_expect(alert_select_explains(NULL, &p, &l));
	cr_expect(alert_select_explains(NULL, &l, &p), "a link firing speaks for its pair");
	cr_expect(!alert_select_explains(NULL, &p, &q), "the same suspect");
}

Test(alert_select, device_explains_a_pair_only_when_both_links_are_its)
{
	struct suspect dev = t_sus(SUSPECT_DEVICE, "ssw2-1", NULL);
	struct suspect in_dev = t_pair("fsw1-2", "ssw2-1", "ssw2-1", "fsw2-2");
	struct suspect half = t_pair("fsw1-2", "ssw2-1", "fsw2-2", "tor2-1");

	cr_expect(alert_select_explains(NULL, &dev, &in_dev));
	cr_expect(!alert_select_explains(NULL, &dev, &half));
}
