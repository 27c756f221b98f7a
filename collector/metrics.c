/* Prometheus metrics of the collector, rendered per scrape on the metrics
 * thread: ingest counters, per-prober window figures from the store, and the
 * watch's open suspects from the history (the current per-link loss). */
#include "metrics.h"
#include "session.h"
#include "store_history.h"
#include "store_metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define METRICS_HISTORY_LOOKBACK_MS (7 * 86400000LL) /* open episodes start within */

struct metrics {
	struct metrics_cfg cfg;
	struct MHD_Daemon *http;
	int lfd, port;
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
		size_t cap = p->cap ? 2 * p->cap : 16;
		struct store_prober_figures *v = realloc(p->v, cap * sizeof(*v));
		char **names;

		if (!v)
			return -1;
		p->v = v;
		names = realloc(p->names, cap * sizeof(*names));
		if (!names)
			return -1;
		p->names = names;
		p->cap = cap;
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
		size_t cap = s->cap ? 2 * s->cap : 16;
		struct history_episode *v = realloc(s->v, cap * sizeof(*v));
		char **names;

		if (!v)
			return -1;
		s->v = v;
		names = realloc(s->names, 3 * cap * sizeof(*names));
		if (!names)
			return -1;
		s->names = names;
		s->cap = cap;
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

static int64_t metrics_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
	metrics_render(out, m->cfg.stats, m->sm, m->hist, metrics_wall_ms(),
		       m->cfg.window_ms, &m->source_errors);
	if (fclose(out) != 0) {
		free(*body);
		return -1;
	}
	return 200;
}

/* One request's state: where its raw URI starts and how long it reads as a
 * C string, taken before libmicrohttpd unescapes it (a NUL byte would cut
 * it short), and whether the headers were seen. */
struct metrics_req {
	const char *uri;
	size_t uri_clen;
	int started;
};

/* MHD_OPTION_URI_LOG_CALLBACK: called with the raw URI of each request. */
static void *metrics_uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct metrics_req *r = calloc(1, sizeof(*r));

	(void)cls;
	(void)conn;
	if (r) {
		r->uri = uri;
		r->uri_clen = strlen(uri);
	}
	return r;
}

static void metrics_req_done(void *cls, struct MHD_Connection *conn, void **req_cls,
			     enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	free(*req_cls);
	*req_cls = NULL;
}

static enum MHD_Result metrics_header_nul(void *cls, enum MHD_ValueKind kind, const char *key,
					  size_t key_size, const char *value, size_t value_size)
{
	int *nul = cls;

	(void)kind;
	if (memchr(key, '\0', key_size) || (value && memchr(value, '\0', value_size))) {
		*nul = 1;
		return MHD_NO;
	}
	return MHD_YES;
}

/* Whether the request holds a NUL byte, which libmicrohttpd would let cut
 * its method, URI or a header value short. The request line sits in one
 * buffer (method, URI, version in order, the separators made NULs), so a URI
 * whose C-string length stops before the version has a NUL of its own. */
static int metrics_request_has_nul(struct MHD_Connection *conn, const struct metrics_req *r,
				   const char *method, const char *version)
{
	int nul = 0;

	if (r->uri > method && r->uri - method < METRICS_CONN_MEMORY) {
		const char *p = method + strlen(method) + 1;

		for (; p < r->uri; p++)
			if (*p != ' ')
				return 1; /* the method went on after a NUL */
	}
	if (version > r->uri && version - r->uri < METRICS_CONN_MEMORY &&
	    r->uri + r->uri_clen + 1 != version)
		return 1;
	MHD_get_connection_values_n(conn, MHD_HEADER_KIND, metrics_header_nul, &nul);
	return nul;
}

/* libmicrohttpd request handler (its polling thread): GET only. */
static enum MHD_Result metrics_request(void *cls, struct MHD_Connection *conn, const char *url,
				       const char *method, const char *version,
				       const char *upload_data, size_t *upload_data_size,
				       void **req_cls)
{
	struct metrics *m = cls;
	struct metrics_req *r = *req_cls;
	struct MHD_Response *resp;
	enum MHD_Result rc;
	char *body = NULL;
	size_t len = 0;
	int status;

	(void)upload_data;
	if (!r)
		return MHD_NO; /* out of memory in metrics_uri_log: drop it */
	if (!r->started) {
		r->started = 1; /* headers are in; answer on the next call */
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0; /* a body is read and ignored */
		return MHD_YES;
	}
	if (metrics_request_has_nul(conn, r, method, version)) {
		status = MHD_HTTP_BAD_REQUEST;
		body = strdup("NUL byte in the request\n");
		len = body ? strlen(body) : 0;
	} else if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
		body = strdup("GET only\n");
		len = body ? strlen(body) : 0;
	} else {
		status = metrics_body(m, url, &body, &len);
		if (status < 0) {
			status = MHD_HTTP_INTERNAL_SERVER_ERROR;
			body = NULL;
			len = 0;
		}
	}
	resp = MHD_create_response_from_buffer(len, body ? body : (char *)"", body ? MHD_RESPMEM_MUST_FREE
										   : MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type",
				status == 200 ? "text/plain; version=0.0.4; charset=utf-8"
					      : "text/plain; charset=utf-8");
	rc = MHD_queue_response(conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return rc;
}

/* Bind ADDR:PORT ("[v6]:PORT", port 0 = any) ourselves, so the bound port is
 * known and errors say what failed. */
static int metrics_listen(const char *spec, int *port, char *err, size_t errlen)
{
	char host[256];
	const char *colon = strrchr(spec, ':'), *h = host;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV | AI_NUMERICHOST };
	struct addrinfo *res = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	size_t hl;
	int fd = -1, one = 1, rc;

	if (!colon || colon == spec || (hl = (size_t)(colon - spec)) >= sizeof(host)) {
		snprintf(err, errlen, "'%s': expected ADDR:PORT", spec);
		return -1;
	}
	memcpy(host, spec, hl);
	host[hl] = '\0';
	if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		h = host + 1;
	}
	rc = getaddrinfo(*h ? h : NULL, colon + 1, &hints, &res);
	if (rc) {
		snprintf(err, errlen, "'%s': %s", spec, gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		snprintf(err, errlen, "'%s': %s", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	*port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					       : ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

struct metrics *metrics_start(const struct metrics_cfg *cfg, char *err,
			      size_t errlen)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	m->cfg = *cfg;
	m->lfd = metrics_listen(cfg->listen, &m->port, err, errlen);
	if (m->lfd < 0) {
		free(m);
		return NULL;
	}
	/* one internal polling thread: an idle or slow scraper holds a
	 * connection slot, never the thread (the old server served one
	 * connection at a time); limits and timeouts bound the rest */
	m->http = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD, 0, NULL, NULL, metrics_request, m,
				   MHD_OPTION_LISTEN_SOCKET, m->lfd,
				   MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_CONN_MAX,
				   MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)METRICS_CONN_PER_IP_MAX,
				   MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_CONN_TIMEOUT_S,
				   MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)METRICS_CONN_MEMORY,
				   MHD_OPTION_URI_LOG_CALLBACK, metrics_uri_log, (void *)NULL,
				   MHD_OPTION_NOTIFY_COMPLETED, metrics_req_done, (void *)NULL,
				   MHD_OPTION_END);
	if (!m->http) {
		snprintf(err, errlen, "'%s': libmicrohttpd could not start", cfg->listen);
		close(m->lfd);
		free(m);
		return NULL;
	}
	return m;
}

int metrics_port(const struct metrics *m)
{
	return m->port;
}

void metrics_stop(struct metrics *m)
{
	if (!m)
		return;
	MHD_stop_daemon(m->http);
	close(m->lfd);
	store_metrics_close(m->sm);
	history_close(m->hist);
	free(m);
}
