/* The collector's Prometheus metrics: ingest counters, per-prober figures
 * from the store over a recent window, and the watch's open suspects (per-link
 * loss estimates), served as text exposition format 0.0.4 on an HTTP port. */
#ifndef FM_COLLECTOR_METRICS_H
#define FM_COLLECTOR_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct session_stats;
struct store_metrics;
struct history;

#define METRICS_WINDOW_MS_DEFAULT 60000 /* per-prober figures: the last minute */
/* The HTTP server's limits (README "Security"): connections at once, from one
 * address, seconds a connection may sit idle, memory per connection. */
#define METRICS_CONN_MAX 128
#define METRICS_CONN_PER_IP_MAX 32
#define METRICS_CONN_TIMEOUT_S 10
#define METRICS_CONN_MEMORY (32u << 10)

struct metrics_cfg {
	const char *listen;   /* "ADDR:PORT" of the metrics HTTP server */
	const char *db_path;  /* the store file (read on a connection of its own) */
	const struct session_stats *stats; /* the server's live counters */
	int64_t window_ms;    /* per-prober figures cover this much recent time */
};

struct metrics;

/* Serve GET /metrics on cfg->listen (libmicrohttpd, one polling thread of
 * its own). NULL with the reason in err (bad address, port in use). */
struct metrics *metrics_start(const struct metrics_cfg *cfg, char *err,
			      size_t errlen);
int metrics_port(const struct metrics *m);
void metrics_stop(struct metrics *m);

/* The whole exposition at now_ms. sm and hist may be NULL (their metrics are
 * then left out). *source_errors counts failed store/history reads: it is
 * incremented for each failure of this render and exported last, as
 * faultmesh_metrics_source_errors_total. Returns 0, or -1 when writing to out
 * failed. */
int metrics_render(FILE *out, const struct session_stats *stats,
		   struct store_metrics *sm, struct history *hist,
		   int64_t now_ms, int64_t window_ms, uint64_t *source_errors);

/* A sample value in Prometheus text: the shortest decimal that reads back as
 * v (9.103, 0.1, 42), NaN, +Inf, -Inf. */
void metrics_value_write(FILE *out, double v);

#endif
