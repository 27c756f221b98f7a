/* Inside the store module: the suspect history's backends (SQLite beside the
 * store file, ClickHouse beside the store database) behind one ops table, and
 * the prober-health walk both feed their rows to. */
#ifndef FM_STORE_HISTORY_IMPL_H
#define FM_STORE_HISTORY_IMPL_H

#include "store_history.h"

/* A backend: each call gets the handle open returned and, on failure,
 * returns -1 with the reason in err; the contracts are store_history.h's. */
struct history_ops {
	void *(*open)(const char *location, char *err, size_t errlen);
	void (*close)(void *h);
	int (*round_record)(void *h, int64_t at_ms, const struct history_suspect *v,
			    size_t n, unsigned close_after_rounds, char *err,
			    size_t errlen);
	int (*episodes_query)(void *h, int64_t since_ms, int64_t until_ms,
			      history_episode_cb cb, void *arg, char *err,
			      size_t errlen);
	int (*points_query)(void *h, const char *device, int64_t since_ms,
			    int64_t until_ms, history_point_cb cb, void *arg,
			    char *err, size_t errlen);
	int (*prober_health_query)(void *h, int64_t since_ms, int64_t until_ms,
				   history_prober_cb cb, void *arg, char *err,
				   size_t errlen);
	int (*expire)(void *h, int64_t before_ms, uint64_t *deleted, char *err,
		      size_t errlen);
	int (*rounds_count)(void *h, int64_t since_ms, int64_t until_ms,
			    uint64_t *n, char *err, size_t errlen);
};

extern const struct history_ops history_sqlite_ops;
extern const struct history_ops history_clickhouse_ops;

/* A prober unseen for this long before the window is not listed as down. */
#define HISTORY_PROBER_RECENT_MS (7LL * 24 * 3600 * 1000)

/* The prober-health walk: rows sorted by prober name, then batch start; a
 * prober with no batch in the window comes as one row with has_batch 0. */
struct history_prober_walk {
	int64_t since_ms, until_ms;
	history_prober_cb cb;
	void *arg;
	struct history_prober_health cur;
	char name[256];
	int64_t cover_ms; /* the window is covered by batches up to here */
	int rc;           /* the callback's non-zero value: stop */
};

void history_prober_walk_init(struct history_prober_walk *w, int64_t since_ms,
			      int64_t until_ms, history_prober_cb cb, void *arg);
/* One row; returns the callback's non-zero value (then stop), else 0. */
int history_prober_walk_row(struct history_prober_walk *w, const char *name,
			    int64_t first_seen_ms, int has_batch,
			    int64_t start_ms, int64_t end_ms, uint64_t if_errors,
			    uint64_t if_dropped, uint64_t spool_dropped,
			    uint32_t links_down);
/* After the last row: the last prober out. Returns as the callback. */
int history_prober_walk_end(struct history_prober_walk *w);

#endif
