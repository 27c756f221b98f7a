/* Suspect history beside the store (its SQLite file or ClickHouse database):
 * what each localization round found, and each suspect's episode (opened,
 * last seen, closed). Part of the store module (the only SQL); schemas in
 * schemas/history.sql and schemas/clickhouse_history.sql. */
#ifndef FM_STORE_HISTORY_H
#define FM_STORE_HISTORY_H

#include <stddef.h>
#include <stdint.h>

struct history;

/* One suspect of one localization round. kind: "link", "device",
 * "blackhole" or "host"; to is "" for device and host. */
struct history_suspect {
	const char *kind, *from, *to;
	double loss_ratio, loss_lo, loss_hi, confidence;
	uint64_t flows, lossy_flows;
	uint32_t probers;
};

/* A suspect's episode: first and last round it was seen, and when it was
 * closed (0 while open). */
struct history_episode {
	int64_t id;
	const char *kind, *from, *to; /* valid during the callback only */
	int64_t opened_ms, last_seen_ms, closed_ms;
	double loss_ratio_max, loss_ratio_last, confidence_last;
	uint64_t rounds; /* rounds it was seen in */
};

/* Open the history tables of the store URL path (created and migrated as
 * needed, beside the store's tables). NULL with the reason in err. */
struct history *history_open(const char *path, char *err, size_t errlen);
void history_close(struct history *h);
const char *history_error(const struct history *h);

/* Record one round at at_ms with its suspects (n may be 0: a clean round).
 * Episodes of suspects absent for close_after_rounds rounds are closed.
 * Returns 0 or -1. (Implementation notes: closed_ms is the at_ms of the
 * round that closes it; close_after_rounds 0 counts as 1; a round older than
 * the last one recorded is refused, since episodes age in round order.) */
int history_round_record(struct history *h, int64_t at_ms,
			 const struct history_suspect *v, size_t n,
			 unsigned close_after_rounds);

typedef int (*history_episode_cb)(const struct history_episode *e, void *arg);
/* Episodes open at any time in [since_ms, until_ms), oldest first. */
int history_episodes_query(struct history *h, int64_t since_ms,
			   int64_t until_ms, history_episode_cb cb, void *arg);

typedef int (*history_point_cb)(int64_t at_ms, const struct history_suspect *s,
				void *arg);
/* Every recorded suspect row in [since_ms, until_ms) whose from or to equals
 * device (NULL: all), oldest first: the timeline of a device or link. */
int history_points_query(struct history *h, const char *device,
			 int64_t since_ms, int64_t until_ms,
			 history_point_cb cb, void *arg);

/* A prober's reporting over a window, from the store's batch and health
 * tables, so a report can name probers that were down or sick. */
struct history_prober_health {
	const char *name; /* valid during the callback only */
	uint64_t batches; /* batches whose interval overlaps the window */
	int64_t first_ms, last_ms; /* first batch start, last batch end (0: none) */
	int64_t gap_max_ms;  /* longest stretch of the window no batch covered */
	uint64_t if_errors;  /* interface rx+tx errors, summed */
	uint64_t if_dropped; /* interface rx+tx drops, summed */
	uint64_t spool_dropped;   /* batches it dropped from a full spool */
	uint32_t links_down_max;  /* most links down in any one interval */
};

typedef int (*history_prober_cb)(const struct history_prober_health *p,
				 void *arg);
/* Every prober seen in the week before since_ms or later, by name, with its
 * batches in [since_ms, until_ms). Returns 0, the callback's non-zero value,
 * or -1 (also when the file holds no store tables). */
int history_prober_health_query(struct history *h, int64_t since_ms,
				int64_t until_ms, history_prober_cb cb,
				void *arg);

/* Delete rounds and points before before_ms, and episodes closed before it
 * (open ones stay, however old). Sets *deleted (may be NULL) to the rows
 * removed. For the watch (or cron) to bound the history. 0 or -1. */
int history_expire(struct history *h, int64_t before_ms, uint64_t *deleted);

/* Number of rounds recorded in [since_ms, until_ms) into *n. 0 or -1. */
int history_rounds_count(struct history *h, int64_t since_ms, int64_t until_ms,
			 uint64_t *n);

#endif
