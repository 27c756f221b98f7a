/* Prometheus metrics of the collector, rendered per scrape on the metrics
 * thread: ingest counters, per-prober window figures from the store, and the
 * watch's open suspects from the history (the current per-link loss). */
#include "metrics.h"
#include "httpd.h"
#include "session.h"
#include "store_history.h"
#include "store_metrics.h"
#include "clock.h"
#include "vec.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define METRICS_HISTORY_LOOKBACK_MS (7 * 86400000LL) /* open episodes start within */

struct metrics {
	struct metrics_cfg cfg;
	struct httpd *http;
	/* owned by the HTTP thread only (libmicrohttpd's one polling thread):
	 * each scrape runs there */
	struct store_metrics *sm;
	struct history *hist;
	uint64_t source_errors;
};

/* Label values escape backslash, quote and newline (exposition format). */
static void metrics_label_write(FILE *out, const char *name, const char *v,
				int first)
{
	fprintf(out, "%s%s=\"", first ? "" : ",", name);
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(out, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", out);
		else
			fputc(*v, out);
	}
	fputc('"', out);
}

void metrics_value_write(FILE *out, double v)
{
	char buf[40];
	int prec;

	if (isnan(v)) {
		fputs("NaN", out);
		return;
	}
	if (isinf(v)) {
		fputs(v > 0 ? "+Inf" : "-Inf", out);
		return;
	}
	/* whole numbers (counts) in plain digits: 100, not 1e+02 */
	if (v == floor(v) && fabs(v) < 1e15) {
		fprintf(out, "%.0f", v);
		return;
	}
	/* else the shortest text that reads back as the same double: 9.103,
	 * not %.17g's 9.1029999999999998 */
	for (prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	fputs(buf, out);
}

static void metrics_family_write(FILE *out, const char *name, const char *type,
				 const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The ingest counters are written by the server thread; a relaxed atomic load
 * reads a whole 64-bit value (a counter a moment old is fine for a scrape). */
static uint64_t metrics_load(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void metrics_counters_write(FILE *out, const struct session_stats *st)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} c[] = {
		{ "faultmesh_collector_frames_total", "Report frames received and checked.",
		  offsetof(struct session_stats, frames) },
		{ "faultmesh_collector_batches_stored_total",
		  "Batches committed durably (and acknowledged).",
		  offsetof(struct session_stats, batches_stored) },
		{ "faultmesh_collector_batches_duplicate_total",
		  "Batches received again after being stored (resends), not stored twice.",
		  offsetof(struct session_stats, batches_duplicate) },
		{ "faultmesh_collector_flow_results_stored_total",
		  "Per-flow interval results in stored batches.",
		  offsetof(struct session_stats, rows_stored) },
		{ "faultmesh_collector_frames_rejected_total",
		  "Connections closed for a malformed or unauthenticated frame.",
		  offsetof(struct session_stats, frames_rejected) },
		{ "faultmesh_collector_store_errors_total",
		  "Batches the store failed to write (left unacknowledged).",
		  offsetof(struct session_stats, store_errors) },
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		metrics_family_write(out, c[i].name, "counter", c[i].help);
		fprintf(out, "%s %llu\n", c[i].name,
			(unsigned long long)metrics_load(
				(const uint64_t *)((const char *)st + c[i].off)));
	}
}

/* Per-prober figures are collected first, then written family by family, as
 * the format wants each family's samples together. */
struct metrics_probers {
	struct store_prober_figures *v;
	char **names;
	size_t n, cap;
};

static int metrics_prober_collect(const struct store_prober_figures *f, void *arg)
{
	struct metrics_probers *p = arg;

	if (p->n == p->cap) {
		size_t cap = p->cap; /* both arrays grow to the same capacity */

		if (vec_room(&p->v, p->n, &cap, sizeof(*p->v), 16) < 0 ||
		    vec_room(&p->names, p->n, &p->cap, sizeof(*p->names), 16) < 0)
			return -1;
	}
	if (!(p->names[p->n] = strdup(f->prober)))
		return -1;
	p->v[p->n] = *f;
	p->v[p->n].prober = p->names[p->n];
	p->n++;
	return 0;
}

static void metrics_probers_free(struct metrics_probers *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->names[i]);
	free(p->names);
	free(p->v);
}

static int metrics_probers_write(FILE *out, struct store_metrics *sm,
				 int64_t now_ms, int64_t window_ms)
{
	struct metrics_probers p = { 0 };
	size_t reporting = 0, i;
	char err[256];

	if (store_metrics_probers_query(sm, now_ms - window_ms, metrics_prober_collect,
					&p, err, sizeof(err)) != 0) {
		metrics_probers_free(&p);
		return -1;
	}
	for (i = 0; i < p.n; i++)
		reporting += p.v[i].batches > 0;
	metrics_family_write(out, "faultmesh_metrics_window_seconds", "gauge",
			     "Time the per-prober figures below cover.");
	fprintf(out, "faultmesh_metrics_window_seconds %.3f\n", window_ms / 1e3);
	metrics_family_write(out, "faultmesh_probers_known", "gauge",
			     "Probers that ever reported.");
	fprintf(out, "faultmesh_probers_known %zu\n", p.n);
	metrics_family_write(out, "faultmesh_probers_reporting", "gauge",
			     "Probers with a batch stored within the window.");
	fprintf(out, "faultmesh_probers_reporting %zu\n", reporting);

#define PROBER_FAMILY(name, type, help, expr)                                 \
	do {                                                                  \
		metrics_family_write(out, name, type, help);                  \
		for (i = 0; i < p.n; i++) {                                   \
			const struct store_prober_figures *f = &p.v[i];        \
			fputs(name "{", out);                                 \
			metrics_label_write(out, "prober", f->prober, 1);     \
			fputs("} ", out);                                     \
			metrics_value_write(out, (double)(expr));             \
			fputc('\n', out);                                     \
		}                                                             \
	} while (0)
	PROBER_FAMILY("faultmesh_prober_last_report_age_seconds", "gauge",
		      "Seconds since the prober's latest stored batch.",
		      (now_ms - f->last_seen_ms) / 1e3);
	PROBER_FAMILY("faultmesh_prober_batches", "gauge",
		      "Batches stored from the prober within the window.", f->batches);
	PROBER_FAMILY("faultmesh_prober_spool_dropped_batches", "gauge",
		      "Batches the prober reported dropping from its full spool within the window.",
		      f->spool_dropped);
	PROBER_FAMILY("faultmesh_prober_links_down", "gauge",
		      "Links-down counts the prober reported within the window (summed).",
		      f->links_down);
	PROBER_FAMILY("faultmesh_prober_probes_sent", "gauge",
		      "Probes the prober sent within the window (targets up).", f->probes_sent);
	PROBER_FAMILY("faultmesh_prober_probes_lost_forward", "gauge",
		      "Probes lost on the way to the target within the window.",
		      f->probes_lost_fwd);
	PROBER_FAMILY("faultmesh_prober_probes_lost_reverse", "gauge",
		      "Replies lost on the way back within the window.", f->probes_lost_rev);
#undef PROBER_FAMILY
	metrics_probers_free(&p);
	return 0;
}

/* Open episodes of the watch's suspect history: the current suspects. */
struct metrics_suspects {
	struct history_episode *v;
	char **names; /* kind, from, to per episode */
	size_t n, cap;
};

static int metrics_suspect_collect(const struct history_episode *e, void *arg)
{
	struct metrics_suspects *s = arg;

	if (e->closed_ms)
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap; /* both arrays grow to the same capacity */

		/* three names (kind, from, to) per episode */
		if (vec_room(&s->v, s->n, &cap, sizeof(*s->v), 16) < 0 ||
		    vec_room(&s->names, s->n, &s->cap, 3 * sizeof(*s->names), 16) < 0)
			return -1;
	}
	s->v[s->n] = *e;
	s->names[3 * s->n] = strdup(e->kind);
	s->names[3 * s->n + 1] = strdup(e->from);
	s->names[3 * s->n + 2] = strdup(e->to ? e->to : "");
	s->v[s->n].kind = s->names[3 * s->n];
	s->v[s->n].from = s->names[3 * s->n + 1];
	s->v[s->n].to = s->names[3 * s->n + 2];
	s->n++;
	if (!s->v[s->n - 1].kind || !s->v[s->n - 1].from || !s->v[s->n - 1].to)
		return -1;
	return 0;
}

static void metrics_suspects_free(struct metrics_suspects *s)
{
	for (size_t i = 0; i < 3 * s->n; i++)
		free(s->names[i]);
	free(s->names);
	free(s->v);
}

static int metrics_suspects_write(FILE *out, struct history *hist, int64_t now_ms)
{
	struct metrics_suspects s = { 0 };
	size_t i;

	if (history_episodes_query(hist, now_ms - METRICS_HISTORY_LOOKBACK_MS,
				   now_ms + 1, metrics_suspect_collect, &s) != 0) {
		metrics_suspects_free(&s);
		return -1;
	}
	metrics_family_write(out, "faultmesh_suspects_open", "gauge",
			     "Suspects the watch currently holds open (links, devices, hosts, blackholes).");
	fprintf(out, "faultmesh_suspects_open %zu\n", s.n);

#define SUSPECT_FAMILY(name, help, expr)                                      \
	do {                                                                  \
		metrics_family_write(out, name, "gauge", help);               \
		for (i = 0; i < s.n; i++) {                                   \
			const struct history_episode *e = &s.v[i];             \
			fputs(name "{", out);                                 \
			metrics_label_write(out, "kind", e->kind, 1);         \
			metrics_label_write(out, "from", e->from, 0);         \
			metrics_label_write(out, "to", e->to, 0);             \
			fputs("} ", out);                                     \
			metrics_value_write(out, (double)(expr));             \
			fputc('\n', out);                                     \
		}                                                             \
	} while (0)
	SUSPECT_FAMILY("faultmesh_suspect_loss_ratio",
		       "Latest estimated loss rate of an open suspect (a link: from -> to; to is empty for a device).",
		       e->loss_ratio_last);
	SUSPECT_FAMILY("faultmesh_suspect_loss_ratio_max",
		       "Highest estimated loss rate of the open suspect's episode.",
		       e->loss_ratio_max);
	SUSPECT_FAMILY("faultmesh_suspect_confidence",
		       "Latest confidence (1 - adjusted p-value) of an open suspect.",
		       e->confidence_last);
	SUSPECT_FAMILY("faultmesh_suspect_last_seen_age_seconds",
		       "Seconds since a localization round last found the open suspect.",
		       (now_ms - e->last_seen_ms) / 1e3);
#undef SUSPECT_FAMILY
	metrics_suspects_free(&s);
	return 0;
}

int metrics_render(FILE *out, const struct session_stats *stats,
		   struct store_metrics *sm, struct history *hist,
		   int64_t now_ms, int64_t window_ms, uint64_t *source_errors)
{
	if (stats)
		metrics_counters_write(out, stats);
	if (sm && metrics_probers_write(out, sm, now_ms, window_ms) < 0)
		(*source_errors)++;
	if (hist && metrics_suspects_write(out, hist, now_ms) < 0)
		(*source_errors)++;
	metrics_family_write(out, "faultmesh_metrics_source_errors_total", "counter",
			     "Scrapes that could not read the store or the suspect history.");
	fprintf(out, "faultmesh_metrics_source_errors_total %llu\n",
		(unsigned long long)*source_errors);
	return ferror(out) ? -1 : 0;
}

/* The body of GET path: 200 with the exposition, 404 elsewhere, -1 when it
 * cannot be rendered (500). */
static int metrics_body(struct metrics *m, const char *path, char **body, size_t *len)
{
	char err[256];
	FILE *out;

	if (strcmp(path, "/metrics")) {
		*body = strdup("faultmesh collector: metrics are at /metrics\n");
		*len = *body ? strlen(*body) : 0;
		return *body ? 404 : -1;
	}
	/* opened lazily and kept: the collector creates the file, the watch
	 * creates the history tables, either may come after us */
	if (!m->sm && !(m->sm = store_metrics_open(m->cfg.db_path, err, sizeof(err))))
		m->source_errors++;
	if (!m->hist && !(m->hist = history_open(m->cfg.db_path, err, sizeof(err))))
		m->source_errors++;
	out = open_memstream(body, len);
	if (!out)
		return -1;
	metrics_render(out, m->cfg.stats, m->sm, m->hist, clock_real_ms(),
		       m->cfg.window_ms, &m->source_errors);
	metrics_family_write(out, "faultmesh_metrics_requests_nul_refused_total", "counter",
			     "HTTP requests to this endpoint refused 400 for a NUL byte.");
	fprintf(out, "faultmesh_metrics_requests_nul_refused_total %llu\n",
		(unsigned long long)httpd_nul_refused_count(m->http));
	if (fclose(out) != 0) {
		free(*body);
		return -1;
	}
	return 200;
}

/* The HTTP callback (the server's thread): /metrics, else 404. */
static int metrics_get(struct httpd_req *req, const char *path, char **body, size_t *len,
		       const char **type, void *arg)
{
	int status = metrics_body(arg, path, body, len);

	(void)req;
	if (status == 200)
		*type = "text/plain; version=0.0.4; charset=utf-8";
	return status;
}

struct metrics *metrics_start(const struct metrics_cfg *cfg, char *err,
			      size_t errlen)
{
	/* one polling thread: an idle or slow scraper holds a connection slot,
	 * never the thread; limits and timeouts bound the rest */
	struct httpd_limits lim = {
		.conn_max = METRICS_CONN_MAX,
		.conn_per_ip_max = METRICS_CONN_PER_IP_MAX,
		.timeout_s = METRICS_CONN_TIMEOUT_S,
		.threads = 1,
		.conn_memory = METRICS_CONN_MEMORY,
	};
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	m->cfg = *cfg;
	if (!(m->http = httpd_start(cfg->listen, &lim, metrics_get, m, err, errlen))) {
		free(m);
		return NULL;
	}
	return m;
}

int metrics_port(const struct metrics *m)
{
	return httpd_port(m->http);
}

void metrics_stop(struct metrics *m)
{
	if (!m)
		return;
	httpd_stop(m->http);
	store_metrics_close(m->sm);
	history_close(m->hist);
	free(m);
}
