/* The collector's result store: one interface (struct store_ops) in front of
 * the database backends, so ingest and queries never see SQL. */
#ifndef FM_STORE_H
#define FM_STORE_H

#include "wire.h"

#include <stddef.h>
#include <stdint.h>

struct store;

/* One flow's figures over a query window, for triangulate. Strings point into
 * storage owned by the store, valid only during the callback. */
struct store_obs_row {
	const char *prober_name; /* the reporting prober's name */
	const char *prober;      /* flow source address (observations "prober") */
	const char *target;      /* flow destination address */
	const char *proto;       /* "udp" or "tcp" */
	unsigned sport, dport;
	uint64_t sent;     /* summed over intervals where the target was up */
	uint64_t lost;     /* forward loss, same intervals */
	uint64_t received; /* replies received, same intervals */
	uint64_t lost_rev; /* reverse loss, same intervals */
	uint64_t down_intervals; /* intervals reported target_down (not summed above) */
	uint64_t lost_dark; /* of lost, the probes of intervals half or more
			     * unanswered: the flow went dark (killed, or its
			     * replies eaten), not thinned; both backends, raw
			     * and rollups (0 for hours rolled up before the
			     * schema kept it whose raw results are gone) */
	const char *path; /* latest hop list "a,*,b"; "-" when unknown (no trace,
			   * or a trace that found no hops) */
	int path_moved;   /* the flow's route changed inside the window (SQLite's
			   * path_changes by store_path_hops_moved: a "*" or a cut
			   * trace is no change); 0 on ClickHouse, which keeps no
			   * path changes */
};

/* Called once per row; a non-zero return stops the query and is returned. */
typedef int (*store_obs_cb)(const struct store_obs_row *row, void *arg);

/* What a retention run did. */
struct store_retention_stats {
	uint64_t batches_rolled;  /* batches merged into hourly rollups */
	uint64_t batches_expired; /* batches whose raw results were deleted */
	uint64_t rollups_deleted; /* hourly rollup rows past their keep time */
	int more;                 /* stopped at its time budget, work left */
};

/* The fabric inventory kept in the store (schemas/inventory.md text). */
struct store_inventory {
	char *text;       /* malloc'd, NUL-terminated; the caller frees it */
	size_t len;
	char source[256]; /* the file it was loaded from */
	int64_t loaded_ms; /* when this text was stored */
};

/* A backend. Every callback gets the handle open returned; on failure it
 * returns -1 (or NULL) with a reason in err. Batches are written inside a
 * group (one transaction, one fsync) so that many probers' batches arriving
 * together share a commit; each batch is its own savepoint within it. */
struct store_ops {
	const char *name;
	void *(*open)(const char *path, char *err, size_t errlen);
	void (*close)(void *h);
	int (*group_begin)(void *h, char *err, size_t errlen);
	/* Returns 0 only once the group is durable on disk; on failure the
	 * whole group is rolled back. */
	int (*group_commit)(void *h, char *err, size_t errlen);
	void (*group_abort)(void *h);
	/* Starts a batch inside the group. Sets *duplicate = 1 (and leaves
	 * nothing open) when this (prober, seq, start_ms) is already stored;
	 * sets *seq_reused = 1 when the seq is known with another start. */
	int (*batch_begin)(void *h, const struct wire_batch *b, int64_t now_ms,
			   int *duplicate, int *seq_reused, char *err,
			   size_t errlen);
	int (*flow_insert)(void *h, const struct wire_flow *f, char *err,
			   size_t errlen);
	int (*path_insert)(void *h, const struct wire_path *p, char *err,
			   size_t errlen);
	int (*health_insert)(void *h, const struct wire_health *hl, char *err,
			     size_t errlen);
	int (*batch_end)(void *h, char *err, size_t errlen);
	/* Undo the open batch only; the group goes on (unless the backend lost
	 * the whole transaction, which group_commit then reports). */
	void (*batch_abort)(void *h);
	/* Maintenance works in small transactions and stops once the
	 * CLOCK_MONOTONIC deadline_ms (0 = none) has passed, setting *more. */
	int (*rollup_run)(void *h, int64_t deadline_ms, uint64_t *batches_rolled,
			  int *more, char *err, size_t errlen);
	int (*retention_run)(void *h, int64_t raw_before_ms,
			     int64_t rollup_before_ms, int64_t deadline_ms,
			     struct store_retention_stats *st, char *err,
			     size_t errlen);
	int (*observations_query)(void *h, int64_t since_ms, int64_t until_ms,
				  store_obs_cb cb, void *arg, char *err,
				  size_t errlen);
	int (*observations_hourly_query)(void *h, int64_t since_ms,
					 int64_t until_ms, store_obs_cb cb,
					 void *arg, char *err, size_t errlen);
	/* Replace the stored inventory durably (outside a group), unless the
	 * same text from the same source is there: *changed says which. */
	int (*inventory_put)(void *h, const char *text, size_t len,
			     const char *source, int64_t now_ms, int *changed,
			     char *err, size_t errlen);
	/* Fill out (text malloc'd) and return 1; 0 when none was loaded. */
	int (*inventory_get)(void *h, struct store_inventory *out, char *err,
			     size_t errlen);
};

extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_clickhouse_ops;

/* Open (creating and migrating as needed) the store at path with the named
 * backend ("sqlite" or "clickhouse"). backend NULL: path is a store URL, as
 * --store takes it: a file path or "sqlite:PATH" (SQLite), or
 * "clickhouse://HOST[:PORT]/DB" (ClickHouse's HTTP interface, port 8123 by
 * default). Returns NULL with the reason in err: an unknown backend, an
 * unreadable file or unreachable server, or a schema newer than this code. */
struct store *store_open(const char *backend, const char *path, char *err,
			 size_t errlen);

/* Split a store URL into its backend name and the location that backend
 * opens (a file path, or the clickhouse:// URL itself). */
void store_url_split(const char *url, const char **backend,
		     const char **location);

/* Is url a SQLite file (a path or sqlite:PATH)? Sets *path to the file. */
int store_url_is_file(const char *url, const char **path);
void store_close(struct store *s);

/* Reason for the last failure on s. */
const char *store_error(const struct store *s);

/* Group commit: begin, add batches, commit. ACK nothing before
 * store_group_commit returned 0: only then is every added batch durable. */
int store_group_begin(struct store *s);
int store_group_commit(struct store *s);
void store_group_abort(struct store *s);

/* Add a whole decoded batch to the open group: 0 with *duplicate = 1 if it
 * was already stored (nothing written) and *seq_reused = 1 if its seq was
 * known with another start (stored anew). -1 on failure, with nothing of this
 * batch in the group (the others stay). */
int store_batch_add(struct store *s, const struct wire_batch *b,
		    int64_t now_ms, int *duplicate, int *seq_reused);

/* A group of one batch: returns 0 once committed durably. */
int store_batch_put(struct store *s, const struct wire_batch *b,
		    int64_t now_ms, int *duplicate, int *seq_reused);

/* Merge every batch not yet rolled up into the hourly rollups. */
int store_rollup_run(struct store *s, uint64_t *batches_rolled);

/* Roll up, then delete raw results (and health) of batches that ended before
 * now_ms - raw_keep_ms, and rollups and batch records older than
 * now_ms - rollup_keep_ms. Works in small transactions so ingest is not
 * blocked for long. */
int store_retention_run(struct store *s, int64_t now_ms, int64_t raw_keep_ms,
			int64_t rollup_keep_ms,
			struct store_retention_stats *st);

/* The same within about budget_ms (0 = no limit), so a daemon's loop is not
 * blocked by a large backlog: st->more = 1 when work is left for next time.
 * Rollup always runs before deletion, and only rolled-up batches expire. */
int store_maintenance_run(struct store *s, int64_t now_ms, int64_t raw_keep_ms,
			  int64_t rollup_keep_ms, int64_t budget_ms,
			  struct store_retention_stats *st);

/* Per flow, sums over batches whose interval overlaps [since_ms, until_ms),
 * with the flow's latest path first seen at or before until_ms. Rows come sorted by
 * prober name, source, target, proto, sport, dport. Returns 0, the callback's
 * non-zero value, or -1 on a store error. */
int store_observations_query(struct store *s, int64_t since_ms,
			     int64_t until_ms, store_obs_cb cb, void *arg);

/* Per flow, the same sums over batches that ended in [since_ms, until_ms),
 * read from the hourly rollups for the whole UTC hours inside the window and
 * from raw results for the rest (partial hours at either end, batches not
 * rolled up yet), so a look-back still answers once retention deleted the
 * raw results (only the partial hours are then missing). Each batch counts
 * once, in the window its end falls in (store_observations_query counts a
 * batch in every window it overlaps). Same rows, order and returns as
 * store_observations_query. */
int store_observations_hourly_query(struct store *s, int64_t since_ms,
				    int64_t until_ms, store_obs_cb cb,
				    void *arg);

/* For backends: a path's hop list in the observations path syntax
 * ("a,*,b"; "-" when the trace found no hops) and its per-hop reply and
 * probe counts as comma lists. */
void store_path_text_build(const struct wire_path *p, char *hops,
			   size_t hops_len, char *replies, char *probes,
			   size_t counts_len);

/* Did a flow's route move between two of its traces (hop lists as
 * store_path_text_build writes them)? Only when both answered at one TTL with
 * different addresses. A "*" hop fits any answer at its TTL (the model's one
 * rule for "*": it hides its hop, see model_flow_walk), so a router that
 * rate-limits ICMP is no move; a trace cut short (or "-") is a prefix of the
 * same route. Returns 1 when moved, else 0. */
int store_path_hops_moved(const char *a, const char *b);

/* For backends: fill row from a query's columns in the order every
 * observations query selects them: prober name, source, target, then n[] =
 * proto, sport, dport, sent, lost, received, lost_rev, down_intervals, then
 * the path (NULL: none known). */
void store_obs_row_fill(struct store_obs_row *row, const char *prober_name,
			const char *src, const char *target, const uint64_t *n,
			const char *path);

/* For backends: the whole UTC hours [*first_hour_ms, *end_hour_ms) inside
 * [since_ms, until_ms) (empty, first = end, when there is none). */
void store_hour_span(int64_t since_ms, int64_t until_ms, int64_t *first_hour_ms,
		     int64_t *end_hour_ms);

/* Store the inventory text (already validated by the caller) loaded from
 * source, replacing the one before; *changed = 0 when it was the same.
 * Returns 0, or -1 (store_error says why). */
int store_inventory_put(struct store *s, const char *text, size_t len,
			const char *source, int64_t now_ms, int *changed);

/* The stored inventory: 1 with out filled (free out->text), 0 when none was
 * ever loaded, -1 on a store error. */
int store_inventory_get(struct store *s, struct store_inventory *out);

#endif
