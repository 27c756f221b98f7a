/* A synthetic 2-tier fabric's probe batches written into a collector
 * database through the store, for query/report tests and the query
 * benchmark: known devices, paths, one link fault, one prober outage. */
#ifndef FM_TRIANGULATE_SYNTH_DB_H
#define FM_TRIANGULATE_SYNTH_DB_H

#include <stddef.h>
#include <stdint.h>

struct synth_db_cfg {
	unsigned spines, leaves, hosts_per_leaf; /* names spineN, leafN, hN */
	unsigned sports;          /* flows (source ports) per prober/target pair */
	unsigned probes;          /* probes per flow per interval */
	int64_t start_ms;         /* first interval's start */
	int64_t interval_ms;      /* one batch per prober per interval */
	unsigned intervals;
	/* a faulty directed link, or (fault_to NULL) a device dropping all it
	 * receives, or (fault_to "*") a device dropping all it receives and
	 * sends (a sick host); fault_from NULL: no fault */
	const char *fault_from, *fault_to;
	double fault_loss_ratio;
	int64_t fault_start_ms, fault_end_ms; /* when it drops */
	const char *down_prober;  /* a prober that sends nothing ... */
	int64_t down_start_ms, down_end_ms; /* ... over this stretch */
	uint64_t seed;
	int no_rollup;            /* leave every batch un-rolled-up (a collector
				   * rolls up each minute, so by default all is) */
};

/* Default shape: 2 spines, 3 leaves, 2 hosts each, 4 flows per pair, 100
 * probes, 60 s intervals, no fault. */
void synth_db_cfg_default(struct synth_db_cfg *cfg);

/* Write the batches into the store at db_path (created as needed) and, if
 * inventory_path, an inventory v1 file naming every address (with link
 * lines). Returns the number of batches written, or -1 with err. */
long synth_db_write(const char *db_path, const char *inventory_path,
		    const struct synth_db_cfg *cfg, char *err, size_t errlen);

#endif
