/* Read-only figures per prober from the collector's store file over a recent
 * window, for the collector's Prometheus metrics: the store module's SQL for
 * metrics, on its own connection so a scrape never touches ingest's. */
#ifndef FM_STORE_METRICS_H
#define FM_STORE_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct store_metrics;

/* One prober's figures over batches that ended at or after since_ms. */
struct store_prober_figures {
	const char *prober;      /* valid during the callback only */
	int64_t last_seen_ms;    /* collector clock of its latest batch */
	uint64_t batches;        /* batches stored in the window */
	uint64_t spool_dropped;  /* batches it reported dropping from a full spool */
	uint64_t links_down;     /* sum of its reported links-down counts */
	uint64_t probes_sent, probes_lost_fwd, probes_lost_rev;
};

typedef int (*store_prober_figures_cb)(const struct store_prober_figures *f,
				       void *arg);

/* Open the store URL path: a SQLite file read-only (it must exist), or a
 * ClickHouse database on its own connection. NULL with the reason in err. */
struct store_metrics *store_metrics_open(const char *path, char *err,
					 size_t errlen);
void store_metrics_close(struct store_metrics *m);

/* Every prober ever seen, sorted by name, with its window figures (zero when
 * it sent nothing since since_ms). Returns 0, the callback's non-zero value,
 * or -1 with the reason in err. */
int store_metrics_probers_query(struct store_metrics *m, int64_t since_ms,
				store_prober_figures_cb cb, void *arg,
				char *err, size_t errlen);

#endif
