/* triangulate serve's state and routes: the refresh thread re-gathers the
 * live window with the report's logic and swaps in its summary.json and page;
 * the HTTP callback answers from that copy, or builds a device/link answer
 * with the query's logic. Writers are the report's and the query's own. */
#include "serve.h"

#include "fabric_report.h"
#include "httpd.h"
#include "json_out.h"
#include "inventory.h"
#include "inventory_source.h"
#include "query.h"
#include "suspect_json.h"
#include "clock.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SERVE_NAME_MAX QUERY_NAME_MAX

/* One gathered window, written by both report writers, and its suspects
 * in the one suspect shape. */
struct serve_snap {
	char *json, *html, *suspects;
	size_t json_len, html_len, suspects_len;
};

struct serve {
	struct serve_cfg cfg;
	struct inventory *inv;   /* swapped under inv_lock (write) by the refresh thread */
	pthread_rwlock_t inv_lock; /* answers read inv under it (read) */
	int64_t inv_loaded_ms;   /* the stored inventory's stamp inv was read at */
	struct httpd *http;
	pthread_t thread;
	int thread_up;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int stopping;            /* under lock */
	struct serve_snap snap;  /* under lock; the newest good one */
	char error[512];         /* under lock; the last refresh's failure, "" if none */
};

static int64_t serve_until_ms(const struct serve *s)
{
	return s->cfg.until_ms ? s->cfg.until_ms : clock_real_ms();
}

/* Run one writer into a malloc'd buffer. */
static int serve_render(const struct freport_ops *ops, const struct freport *r,
			char **buf, size_t *len)
{
	FILE *f = open_memstream(buf, len);
	int rc;

	if (!f)
		return -1;
	rc = ops->write(f, r);
	if (fclose(f) || rc < 0) {
		free(*buf);
		*buf = NULL;
		return -1;
	}
	return 0;
}

/* The window's suspects (its whole fit: what drops now) in the one shape
 * of schemas/suspect.md. */
static int serve_suspects_render(const struct freport *r, char **buf, size_t *len)
{
	FILE *f = open_memstream(buf, len);
	int rc = 0;

	if (!f)
		return -1;
	fprintf(f, "{\"version\": %d, \"since_ms\": %" PRId64 ", \"until_ms\": %" PRId64
		", \"suspects\": [", SUSPECT_JSON_VERSION, r->since_ms, r->until_ms);
	for (size_t i = 0; i < r->day.sus.n && rc == 0; i++) {
		fprintf(f, "%s\n  ", i ? "," : "");
		rc = suspect_json_write(f, &r->day.sus.v[i]);
	}
	fprintf(f, "]}\n");
	if (fclose(f) || rc < 0) {
		free(*buf);
		*buf = NULL;
		return -1;
	}
	return 0;
}

/* Without --inventory the names come from the store, where collector
 * --inventory or `triangulate inventory load` may put a newer inventory
 * while we run: when the store's stamp moved, read it again and swap it in
 * (on the refresh thread, the only writer of inv). A newer inventory that
 * does not parse leaves the old one in use; -1 with the reason in err. */
static int serve_inventory_check(struct serve *s, char *err, size_t errlen)
{
	struct inventory *inv, *old;
	int64_t stamp;
	int none;

	if (s->cfg.inventory || !s->cfg.db)
		return 0;
	if (inventory_source_stamp(s->cfg.db, &stamp, err, errlen) < 0)
		return -1;
	if (stamp == s->inv_loaded_ms)
		return 0;
	if (!(inv = inventory_source_open(NULL, s->cfg.db, &none, err, errlen)))
		return -1;
	pthread_rwlock_wrlock(&s->inv_lock);
	old = s->inv;
	s->inv = inv;
	s->inv_loaded_ms = stamp;
	pthread_rwlock_unlock(&s->inv_lock);
	inventory_free(old);
	return 0;
}

/* Gather the window ending now and swap it in; on failure the previous one
 * stays and the reason is kept for /api/status. */
static int serve_refresh(struct serve *s)
{
	struct freport r = { 0 };
	struct serve_snap n = { 0 }, old;
	char err[512];
	int rc = -1;

	if (serve_inventory_check(s, err, sizeof(err)) < 0)
		goto out;
	r.db = s->cfg.db;
	r.inventory = s->cfg.inventory;
	r.generated_ms = clock_real_ms();
	r.until_ms = serve_until_ms(s);
	r.since_ms = r.until_ms - s->cfg.window_ms;
	if (freport_gather(&r, s->inv, s->cfg.slice_ms ? s->cfg.slice_ms : s->cfg.window_ms / 12,
			   s->cfg.down_after_ms, err, sizeof(err)) < 0)
		goto out;
	if (serve_render(&freport_json_ops, &r, &n.json, &n.json_len) < 0 ||
	    serve_render(&freport_html_ops, &r, &n.html, &n.html_len) < 0 ||
	    serve_suspects_render(&r, &n.suspects, &n.suspects_len) < 0) {
		snprintf(err, sizeof(err), "writing the page: %s", strerror(errno));
		goto out;
	}
	rc = 0;
out:
	freport_free(&r);
	pthread_mutex_lock(&s->lock);
	if (rc == 0) {
		old = s->snap;
		s->snap = n;
		n = old;
		s->error[0] = '\0';
	} else {
		snprintf(s->error, sizeof(s->error), "%s", err);
	}
	pthread_mutex_unlock(&s->lock);
	free(n.json);
	free(n.html);
	free(n.suspects);
	return rc;
}

static void *serve_refresh_loop(void *arg)
{
	struct serve *s = arg;
	struct timespec at;

	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		clock_gettime(CLOCK_REALTIME, &at);
		at.tv_sec += s->cfg.refresh_ms / 1000;
		at.tv_nsec += (s->cfg.refresh_ms % 1000) * 1000000;
		if (at.tv_nsec >= 1000000000) {
			at.tv_sec++;
			at.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&s->wake, &s->lock, &at);
		if (s->stopping)
			break;
		pthread_mutex_unlock(&s->lock);
		if (serve_refresh(s) < 0) {
			pthread_mutex_lock(&s->lock);
			fprintf(stderr, "triangulate serve: refresh: %s\n", s->error);
			continue;
		}
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static char *serve_copy(const char *src, size_t n, size_t *len)
{
	char *b = malloc(n + 1);

	if (!b)
		return NULL;
	memcpy(b, src, n);
	b[n] = '\0';
	*len = n;
	return b;
}

/* A small JSON error body: {"error": "..."} */
static char *serve_json_error(const char *msg, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (!f)
		return NULL;
	fprintf(f, "{\"error\": ");
	json_string_write(f, msg);
	fprintf(f, "}\n");
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* Split "/a/b" after prefix into up to two names; the count, or -1 when a
 * name is empty, too long, or there are more. */
static int serve_path_names(const char *path, const char *prefix,
			    char names[2][SERVE_NAME_MAX])
{
	const char *p = path + strlen(prefix);
	int n = 0;

	while (*p) {
		const char *slash = strchr(p, '/');
		size_t l = slash ? (size_t)(slash - p) : strlen(p);

		if (n == 2 || l == 0 || l >= SERVE_NAME_MAX)
			return -1;
		memcpy(names[n], p, l);
		names[n++][l] = '\0';
		p += l + (slash != NULL);
		if (slash && !*p)
			return -1; /* a trailing slash */
	}
	return n;
}

/* /api/device/NAME and /api/link/A/B: the query's answer, written by its
 * JSON writer. */
static int serve_answer(struct serve *s, const char *from, const char *to,
			char **body, size_t *len)
{
	struct query_answer a = { 0 };
	char err[512];
	FILE *f;
	int rc;

	snprintf(a.from, sizeof(a.from), "%s", from);
	snprintf(a.to, sizeof(a.to), "%s", to ? to : "");
	a.now_ms = serve_until_ms(s);
	pthread_rwlock_rdlock(&s->inv_lock);
	rc = query_answer_build(&a, s->cfg.db, s->inv, s->cfg.window_ms, s->cfg.since_ms,
				s->cfg.since_ms / 12, err, sizeof(err));
	pthread_rwlock_unlock(&s->inv_lock);
	if (rc != 0) {
		query_answer_free(&a);
		*body = serve_json_error(err, len);
		return rc > 0 ? 404 : 503;
	}
	if (!(f = open_memstream(body, len))) {
		query_answer_free(&a);
		return -1;
	}
	rc = query_json_ops.answer_write(f, &a);
	query_answer_free(&a);
	if (fclose(f) || rc < 0) {
		free(*body);
		*body = NULL;
		return -1;
	}
	return 200;
}

static int serve_get(struct httpd_req *req, const char *path, char **body,
		     size_t *len, const char **type, void *arg)
{
	static const char json[] = "application/json";
	static const char html[] = "text/html; charset=utf-8";
	struct serve *s = arg;
	char names[2][SERVE_NAME_MAX];
	int n, status = 200;

	(void)req;
	if (!strcmp(path, "/")) {
		*type = html;
		*body = serve_copy(serve_page_fabric, strlen(serve_page_fabric), len);
		return 200;
	}
	if (!strncmp(path, "/device/", 8) || !strncmp(path, "/link/", 6)) {
		n = serve_path_names(path, path[1] == 'd' ? "/device/" : "/link/", names);
		if (n != (path[1] == 'd' ? 1 : 2))
			goto not_found;
		*type = html;
		*body = serve_copy(serve_page_subject, strlen(serve_page_subject), len);
		return 200;
	}
	if (!strcmp(path, "/api/summary") || !strcmp(path, "/api/report.html") ||
	    !strcmp(path, "/api/suspects")) {
		int want_json = strcmp(path, "/api/report.html") != 0;
		int want_suspects = !strcmp(path, "/api/suspects");

		pthread_mutex_lock(&s->lock);
		if (want_suspects && s->snap.suspects) {
			*body = serve_copy(s->snap.suspects, s->snap.suspects_len, len);
		} else if (want_suspects) {
			*body = serve_json_error(s->error[0] ? s->error : "no data gathered yet", len);
			status = 503;
		} else if (want_json && s->snap.json) {
			*body = serve_copy(s->snap.json, s->snap.json_len, len);
		} else if (!want_json && s->snap.html) {
			*body = serve_copy(s->snap.html, s->snap.html_len, len);
		} else {
			*body = serve_json_error(s->error[0] ? s->error : "no data gathered yet", len);
			status = 503;
			want_json = 1;
		}
		pthread_mutex_unlock(&s->lock);
		*type = want_json ? json : html;
		return status;
	}
	if (!strcmp(path, "/api/status")) {
		char *buf = NULL;
		FILE *f = open_memstream(&buf, len);

		if (!f)
			return -1;
		pthread_mutex_lock(&s->lock);
		fprintf(f, "{\"db\": ");
		json_string_write(f, s->cfg.db);
		fprintf(f, ", \"window_ms\": %lld, \"refresh_ms\": %lld, \"since_ms\": %lld, "
			"\"error\": ", s->cfg.window_ms, s->cfg.refresh_ms, s->cfg.since_ms);
		if (s->error[0])
			json_string_write(f, s->error);
		else
			fprintf(f, "null");
		fprintf(f, "}\n");
		pthread_mutex_unlock(&s->lock);
		if (fclose(f)) {
			free(buf);
			return -1;
		}
		*body = buf;
		*type = json;
		return 200;
	}
	if (!strncmp(path, "/api/device/", 12) || !strncmp(path, "/api/link/", 10)) {
		int is_link = path[5] == 'l';

		n = serve_path_names(path, is_link ? "/api/link/" : "/api/device/", names);
		*type = json;
		if (n != (is_link ? 2 : 1)) {
			*body = serve_json_error(is_link ? "want /api/link/FROM/TO"
						 : "want /api/device/NAME", len);
			return 404;
		}
		return serve_answer(s, names[0], is_link ? names[1] : NULL, body, len);
	}
not_found:
	*type = !strncmp(path, "/api/", 5) ? json : "text/plain; charset=utf-8";
	*body = *type == json ? serve_json_error("no such resource", len)
			      : serve_copy("not found\n", 10, len);
	return 404;
}

struct serve *serve_start(const struct serve_cfg *cfg, char *err, size_t errlen)
{
	struct httpd_limits lim = { 0 };
	struct serve *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->cfg = *cfg;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	pthread_rwlock_init(&s->inv_lock, NULL);
	{
		int none;

		/* names as every command gives them: the --inventory file, else
		 * the one loaded into the store (its stamp first: a newer one
		 * stored in between is read again at the next refresh) */
		if (!cfg->inventory && cfg->db &&
		    inventory_source_stamp(cfg->db, &s->inv_loaded_ms, err, errlen) < 0)
			goto err;
		if (!(s->inv = inventory_source_open(cfg->inventory, cfg->db, &none, err, errlen)))
			goto err;
	}
	/* the first page has data, or the reason it has none */
	if (serve_refresh(s) < 0) {
		snprintf(err, errlen, "%s", s->error);
		goto err;
	}
	if (pthread_create(&s->thread, NULL, serve_refresh_loop, s)) {
		snprintf(err, errlen, "cannot start the refresh thread");
		goto err;
	}
	s->thread_up = 1;
	lim.conn_max = (unsigned)cfg->conn_max;
	lim.threads = 2; /* a device or link answer takes a while: the page polls go on */
	lim.timeout_s = (unsigned)((cfg->timeout_ms + 999) / 1000);
	if (!(s->http = httpd_start(cfg->listen, &lim, serve_get, s, err, errlen)))
		goto err;
	return s;
err:
	serve_stop(s);
	return NULL;
}

int serve_port(const struct serve *s)
{
	return httpd_port(s->http);
}

void serve_stop(struct serve *s)
{
	if (!s)
		return;
	httpd_stop(s->http);
	if (s->thread_up) {
		pthread_mutex_lock(&s->lock);
		s->stopping = 1;
		pthread_cond_signal(&s->wake);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->thread, NULL);
	}
	inventory_free(s->inv);
	free(s->snap.json);
	free(s->snap.html);
	free(s->snap.suspects);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->wake);
	pthread_rwlock_destroy(&s->inv_lock);
	free(s);
}
