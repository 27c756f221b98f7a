/* Unit tests for device faults and their neighbours: a lossy aggregation
 * switch must be named alone, not with the ToRs under it (simulated 3-tier
 * fabrics, fixed seeds, the simulator's files read back as localize reads). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "infer.h"
#include "inventory.h"
#include "observations.h"
#include "sim.h"
#include "suspect.h"

/* Simulate one device fault (1-3%) on a k=4 fat tree with seed; localize
 * it into sus; the truth's device name goes to dev. */
static void device_fault_localize(long long seed, struct suspect_list *sus, char *dev,
				  size_t len)
{
	struct sim_cfg cfg = {
		.tiers = 3, .k = 4, .hosts_per_tor = 2, .flows = 3000, .probes = 200,
		.faults = 1, .kinds = "device", .loss_min = 0.01, .loss_max = 0.03,
		.bg_min = 1e-5, .bg_max = 1e-4, .inventory_links = 1, .seed = seed,
	};
	char dir[] = "/tmp/fm-dev-XXXXXX", po[64], pi[64], pt[64], err[512], line[256];
	struct obs_set *obs = obs_set_new();
	struct inventory *inv = inventory_new();
	struct infer_cfg icfg;
	long long placed;
	FILE *fo, *fi, *ft;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(po, sizeof(po), "%s/o", dir);
	snprintf(pi, sizeof(pi), "%s/i", dir);
	snprintf(pt, sizeof(pt), "%s/t", dir);
	fo = fopen(po, "w");
	fi = fopen(pi, "w");
	ft = fopen(pt, "w");
	cr_assert(fo && fi && ft);
	cr_assert_eq(sim_run(&cfg, fo, fi, ft, &placed, err, sizeof(err)), 0, "%s", err);
	fclose(fo);
	fclose(fi);
	fclose(ft);
	cr_assert_eq(obs_set_file_read(obs, po, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(inventory_file_read(inv, pi, err, sizeof(err)), 0, "%s", err);
	ft = fopen(pt, "r");
	cr_assert(ft);
	dev[0] = '\0';
	while (fgets(line, sizeof(line), ft))
		if (sscanf(line, "device\t%63s", dev) == 1)
			break;
	fclose(ft);
	cr_assert(dev[0], "no device in the truth");
	infer_cfg_default(&icfg);
	cr_assert_eq(infer_localize(obs, inv, &icfg, sus, NULL, err, sizeof(err)), 0, "%s", err);
	unlink(po);
	unlink(pi);
	unlink(pt);
	rmdir(dir);
	obs_set_free(obs);
	inventory_free(inv);
	(void)len;
}

/* Seeds whose fault is an aggregation switch: before, each also named one
 * or two ToRs under it (0.3-0.6% fitted on flows they share with it) and
 * sometimes a core switch above it. */
Test(infer_devices, lossy_aggregation_switch_is_named_without_its_tors)
{
	static const long long seeds[] = { 3, 6, 7, 8, 9, 12 };

	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		struct suspect_list sus = { 0 };
		char dev[64], all[1024] = "";

		device_fault_localize(seeds[i], &sus, dev, sizeof(dev));
		for (size_t j = 0; j < sus.n; j++)
			snprintf(all + strlen(all), sizeof(all) - strlen(all), " %s %s %.4f;",
				 suspect_kind_name(sus.v[j].kind), sus.v[j].from, sus.v[j].loss_ratio);
		cr_assert(!strncmp(dev, "agg-", 4), "seed %lld: fault on %s", seeds[i], dev);
		cr_expect(sus.n == 1 && sus.v[0].kind == SUSPECT_DEVICE &&
				  !strcmp(sus.v[0].from, dev),
			  "seed %lld, fault %s: suspects%s", seeds[i], dev, all);
		suspect_list_free(&sus);
	}
}

/* Two faulty switches side by side each keep their name: the weaker one's
 * flows that avoid the stronger still lose. */
Test(infer_devices, two_lossy_neighbours_are_both_named)
{
	struct suspect_list sus = { 0 };
	struct sim_cfg cfg = {
		.tiers = 2, .k = 8, .hosts_per_tor = 2, .flows = 5000, .probes = 200,
		.faults = 2, .kinds = "device", .loss_min = 0.01, .loss_max = 0.03,
		.bg_min = 1e-5, .bg_max = 1e-4, .inventory_links = 1, .seed = 4,
	};
	char dir[] = "/tmp/fm-dev-XXXXXX", po[64], pi[64], pt[64], err[512];
	struct obs_set *obs = obs_set_new();
	struct inventory *inv = inventory_new();
	struct infer_cfg icfg;
	long long placed;
	FILE *fo, *fi, *ft;
	int named = 0;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(po, sizeof(po), "%s/o", dir);
	snprintf(pi, sizeof(pi), "%s/i", dir);
	snprintf(pt, sizeof(pt), "%s/t", dir);
	fo = fopen(po, "w");
	fi = fopen(pi, "w");
	ft = fopen(pt, "w");
	cr_assert(fo && fi && ft);
	cr_assert_eq(sim_run(&cfg, fo, fi, ft, &placed, err, sizeof(err)), 0, "%s", err);
	fclose(fo);
	fclose(fi);
	fclose(ft);
	cr_assert_eq(placed, 2);
	cr_assert_eq(obs_set_file_read(obs, po, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(inventory_file_read(inv, pi, err, sizeof(err)), 0, "%s", err);
	infer_cfg_default(&icfg);
	cr_assert_eq(infer_localize(obs, inv, &icfg, &sus, NULL, err, sizeof(err)), 0, "%s", err);
	for (size_t j = 0; j < sus.n; j++)
		named += sus.v[j].kind == SUSPECT_DEVICE;
	cr_assert_eq(named, 2, "%zu suspects, %d devices", sus.n, named);
	suspect_list_free(&sus);
	unlink(po);
	unlink(pi);
	unlink(pt);
	rmdir(dir);
	obs_set_free(obs);
	inventory_free(inv);
}
