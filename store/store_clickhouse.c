/* ClickHouse backend of the store, over its HTTP interface (libcurl, see
 * http_curl.h). Schema and migrations from schemas/clickhouse.sql; a group of
 * batches is buffered as TSV and inserted at commit, which returns only once
 * the server confirmed every insert; resends are folded by FINAL reads. */
#include "http_curl.h"
#include "store.h"
#include "store_migrate.h"
#include "clock.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

__asm__(".section .rodata\n"
	".global store_clickhouse_schema_sql\n"
	".type store_clickhouse_schema_sql, @object\n"
	"store_clickhouse_schema_sql:\n"
	".incbin \"schemas/clickhouse.sql\"\n"
	".byte 0\n"
	".previous\n");
extern const char store_clickhouse_schema_sql[];

#define CH_PORT_DEFAULT "8123"
#define CH_INSERT_TIMEOUT_MS 15000
#define CH_QUERY_TIMEOUT_MS 600000
#define CH_DAY_MS 86400000LL

/* A growable text buffer: one table's rows of the open group. */
struct ch_buf {
	char *p;
	size_t len, cap;
	int oom;
};

enum ch_table { CH_RESULTS, CH_HEALTH, CH_PATHS, CH_BATCHES, CH_TABLES };

static const char *const ch_insert_sql[CH_TABLES] = {
	[CH_RESULTS] = "INSERT INTO results (end_ms, start_ms, prober, seq, idx, src, "
		       "target, proto, sport, dport, dscp, sent, received, lost_fwd, "
		       "lost_rev, rtt_min_ns, rtt_p50_ns, rtt_p99_ns, rtt_max_ns, "
		       "target_down, stored_ms) FORMAT TabSeparated",
	[CH_HEALTH] = "INSERT INTO health (end_ms, start_ms, prober, seq, if_rx_errors, "
		      "if_tx_errors, if_rx_dropped, if_tx_dropped, links_down, "
		      "spool_dropped) FORMAT TabSeparated",
	[CH_PATHS] = "INSERT INTO paths (seen_ms, start_ms, prober, seq, idx, src, target, "
		     "proto, sport, dport, hops, hop_replies, hop_probes) FORMAT TabSeparated",
	/* last: a ledger row means its batch's rows are all in */
	[CH_BATCHES] = "INSERT INTO batches (end_ms, start_ms, prober, seq, stored_ms, "
		       "nflows, npaths) FORMAT TabSeparated",
};

struct store_ch {
	struct http_conn *conn;
	char label[300];    /* host:port/db, for errors */
	char url[600];      /* http://host:port/?database=db */
	char *insert_url[CH_TABLES];
	struct ch_buf rows[CH_TABLES];
	size_t mark[CH_TABLES]; /* lengths when the open batch began */
	int in_group, in_batch;
	/* the open batch */
	char prober[2 * 64 + 1]; /* TSV-escaped name */
	uint64_t seq;
	int64_t start_ms, end_ms, now_ms;
	uint32_t idx_flow, idx_path, nflows, npaths;
};

/* ---- text helpers ---- */

static void ch_buf_add(struct ch_buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void ch_buf_printf(struct ch_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void ch_buf_printf(struct ch_buf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		b->oom = 1; /* rows are short; a longer one is a bug */
		return;
	}
	ch_buf_add(b, tmp, (size_t)n);
}

/* A string as a TSV field: backslash, tab and line breaks escaped. */
static void ch_tsv_escape(const char *s, char *out, size_t outlen)
{
	size_t o = 0;

	for (; *s && o + 3 < outlen; s++) {
		char c = *s;

		if (c == '\\' || c == '\t' || c == '\n' || c == '\r') {
			out[o++] = '\\';
			c = c == '\t' ? 't' : c == '\n' ? 'n' : c == '\r' ? 'r' : '\\';
		}
		out[o++] = c;
	}
	out[o] = 0;
}

/* Split one TSV line in place into at most max fields, unescaping each.
 * Returns the number of fields. */
static int ch_tsv_split(char *line, char **f, int max)
{
	int n = 0;
	char *p = line;

	while (n < max) {
		char *w = p;

		f[n++] = p;
		for (; *p && *p != '\t'; p++) {
			if (*p == '\\' && p[1]) {
				p++;
				*w++ = *p == 't' ? '\t' : *p == 'n' ? '\n' :
				       *p == 'r' ? '\r' : *p == '0' ? '\0' : *p;
			} else {
				*w++ = *p;
			}
		}
		if (!*p) {
			*w = 0;
			break;
		}
		*w = 0;
		p++;
	}
	return n;
}

/* ---- requests ---- */

/* Run one statement (SELECTs add their FORMAT). On success *resp holds the
 * answer (owned by the connection, valid until the next request). */
static int ch_exec(struct store_ch *ch, const char *url, const char *body,
		   size_t len, int timeout_ms, const char **resp, char *err,
		   size_t errlen)
{
	const char *r;
	size_t rlen;
	char e[256];
	int status = http_conn_post(ch->conn, url, body, len, timeout_ms, &r,
				    &rlen, e, sizeof(e));

	if (status < 0) {
		snprintf(err, errlen, "clickhouse %s: %s", ch->label, e);
		return -1;
	}
	if (status != 200) {
		/* ClickHouse's first line names the error: "Code: 60, ..." */
		snprintf(err, errlen, "clickhouse %s: HTTP %d: %.*s", ch->label,
			 status, (int)strcspn(r, "\n"), r);
		return -1;
	}
	if (resp)
		*resp = r;
	return 0;
}

static int ch_query(struct store_ch *ch, const char *sql, const char **resp,
		    char *err, size_t errlen)
{
	return ch_exec(ch, ch->url, sql, strlen(sql), CH_QUERY_TIMEOUT_MS, resp,
		       err, errlen);
}

/* A one-number answer (count, max). */
static int ch_query_i64(struct store_ch *ch, const char *sql, int64_t *v,
			char *err, size_t errlen)
{
	const char *r;

	if (ch_query(ch, sql, &r, err, errlen) < 0)
		return -1;
	*v = strtoll(r, NULL, 10);
	return 0;
}

/* ---- schema ---- */

static int ch_version_read(void *h, int *version, char *err, size_t errlen)
{
	struct store_ch *ch = h;
	int64_t n, v;

	*version = 0;
	if (ch_query_i64(ch,
			 "SELECT count() FROM system.tables WHERE database = "
			 "currentDatabase() AND name = 'schema_version'",
			 &n, err, errlen) < 0)
		return -1;
	if (!n)
		return 0;
	if (ch_query_i64(ch, "SELECT max(version) FROM schema_version", &v, err,
			 errlen) < 0)
		return -1;
	*version = (int)v;
	return 0;
}

/* Statements end with ';' at a line's end; comment lines are skipped. */
static int ch_migration_apply(void *h, int num, const char *sql, char *err,
			      size_t errlen)
{
	struct store_ch *ch = h;
	struct ch_buf stmt = { 0 };
	const char *p = sql;
	char setv[128];
	int rc = 0;

	while (*p && rc == 0) {
		size_t n = strcspn(p, "\n");
		const char *l = p;

		p += n + (p[n] == '\n');
		while (n && (l[n - 1] == ' ' || l[n - 1] == '\t' || l[n - 1] == '\r'))
			n--;
		if (!strncmp(l + strspn(l, " \t"), "--", 2) || !n)
			continue;
		ch_buf_add(&stmt, l, n);
		ch_buf_add(&stmt, "\n", 1);
		if (l[n - 1] == ';') {
			if (stmt.oom) {
				snprintf(err, errlen, "out of memory");
				rc = -1;
				break;
			}
			stmt.p[stmt.len - 2] = 0; /* the ';' */
			rc = ch_query(ch, stmt.p, NULL, err, errlen);
			stmt.len = 0;
		}
	}
	free(stmt.p);
	if (rc < 0)
		return -1;
	snprintf(setv, sizeof(setv),
		 "INSERT INTO schema_version VALUES (%d, toInt64(now()) * 1000)", num);
	return ch_query(ch, setv, NULL, err, errlen);
}

/* ---- open/close ---- */

static void ch_close(void *h)
{
	struct store_ch *ch = h;

	if (!ch)
		return;
	http_conn_close(ch->conn);
	for (int i = 0; i < CH_TABLES; i++) {
		free(ch->insert_url[i]);
		free(ch->rows[i].p);
	}
	free(ch);
}

/* clickhouse://HOST[:PORT]/DB, HOST a name, an IPv4 or [IPv6] address. */
static int ch_url_parse(const char *url, char *host, size_t hostlen,
			char *port, size_t portlen, char *db, size_t dblen)
{
	const char *p = url + 13, *hend, *slash;
	size_t n;

	if (strncmp(url, "clickhouse://", 13))
		return -1;
	if (*p == '[') {
		hend = strchr(p, ']');
		if (!hend)
			return -1;
		hend++;
	} else {
		hend = p + strcspn(p, ":/");
	}
	n = (size_t)(hend - p);
	if (!n || n >= hostlen)
		return -1;
	memcpy(host, p, n);
	host[n] = 0;
	slash = strchr(hend, '/');
	if (!slash)
		return -1;
	if (*hend == ':') {
		n = (size_t)(slash - hend - 1);
		if (!n || n >= portlen || strspn(hend + 1, "0123456789") != n)
			return -1;
		memcpy(port, hend + 1, n);
		port[n] = 0;
	} else if (hend == slash) {
		snprintf(port, portlen, "%s", CH_PORT_DEFAULT);
	} else {
		return -1;
	}
	n = strlen(slash + 1);
	/* a database name goes into SQL and URLs: identifier characters only */
	if (!n || n >= dblen ||
	    strspn(slash + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			      "0123456789_") != n)
		return -1;
	memcpy(db, slash + 1, n + 1);
	return 0;
}

static void *ch_open(const char *url, char *err, size_t errlen)
{
	struct store_ch *ch = calloc(1, sizeof(*ch));
	char host[200], port[16], db[64], sql[160], e[384];
	static const struct store_migrate_ops mig = {
		.version_read = ch_version_read,
		.apply = ch_migration_apply,
	};

	if (!ch) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (ch_url_parse(url, host, sizeof(host), port, sizeof(port), db,
			 sizeof(db)) < 0) {
		snprintf(err, errlen,
			 "bad store URL '%s' (want clickhouse://HOST[:PORT]/DB, "
			 "DB of letters, digits and _)", url);
		goto err;
	}
	snprintf(ch->label, sizeof(ch->label), "%s:%s/%s", host, port, db);
	if (!(ch->conn = http_conn_open(err, errlen)))
		goto err;
	/* the database first, on the server's default one */
	snprintf(ch->url, sizeof(ch->url), "http://%s:%s/", host, port);
	snprintf(sql, sizeof(sql), "CREATE DATABASE IF NOT EXISTS %s", db);
	if (ch_query(ch, sql, NULL, err, errlen) < 0)
		goto err;
	snprintf(ch->url, sizeof(ch->url), "http://%s:%s/?database=%s", host,
		 port, db);
	for (int i = 0; i < CH_TABLES; i++) {
		char q[1024];

		if (http_query_escape(ch_insert_sql[i], q, sizeof(q)) < 0 ||
		    asprintf(&ch->insert_url[i], "%s&query=%s", ch->url, q) < 0) {
			ch->insert_url[i] = NULL;
			snprintf(err, errlen, "out of memory");
			goto err;
		}
	}
	if (store_migrate_run(store_clickhouse_schema_sql, url, "store", &mig, ch,
			      e, sizeof(e)) < 0) {
		snprintf(err, errlen, "%s", e);
		goto err;
	}
	return ch;
err:
	ch_close(ch);
	return NULL;
}

/* ---- batches ---- */

static void ch_rows_clear(struct store_ch *ch)
{
	for (int i = 0; i < CH_TABLES; i++) {
		ch->rows[i].len = 0;
		ch->rows[i].oom = 0;
	}
	ch->in_batch = 0;
}

static int ch_group_begin(void *h, char *err, size_t errlen)
{
	struct store_ch *ch = h;

	if (ch->in_group) {
		snprintf(err, errlen, "group already open");
		return -1;
	}
	ch_rows_clear(ch);
	ch->in_group = 1;
	return 0;
}

/* Insert the group's rows, table by table (the ledger last); returns only
 * once the server answered 200 to each: the batches are then stored. A
 * failure leaves some tables written: the prober resends, and the copies
 * are folded by the ReplacingMergeTree keys. */
static int ch_group_commit(void *h, char *err, size_t errlen)
{
	struct store_ch *ch = h;
	int rc = 0;

	if (!ch->in_group) {
		snprintf(err, errlen, "no group open");
		return -1;
	}
	ch->in_group = 0;
	if (ch->in_batch) {
		for (int i = 0; i < CH_TABLES; i++)
			ch->rows[i].len = ch->mark[i];
		ch->in_batch = 0;
	}
	for (int i = 0; i < CH_TABLES && rc == 0; i++) {
		if (ch->rows[i].oom) {
			snprintf(err, errlen, "out of memory buffering rows");
			rc = -1;
		} else if (ch->rows[i].len) {
			rc = ch_exec(ch, ch->insert_url[i], ch->rows[i].p,
				     ch->rows[i].len, CH_INSERT_TIMEOUT_MS, NULL,
				     err, errlen);
		}
	}
	ch_rows_clear(ch);
	return rc;
}

static void ch_group_abort(void *h)
{
	struct store_ch *ch = h;

	ch_rows_clear(ch);
	ch->in_group = 0;
}

static int ch_batch_begin(void *h, const struct wire_batch *b, int64_t now_ms,
			  int *duplicate, int *seq_reused, char *err,
			  size_t errlen)
{
	struct store_ch *ch = h;

	/* resends are stored again and folded at read time (FINAL): asking
	 * the server first would cost a round trip per batch */
	*duplicate = 0;
	*seq_reused = 0;
	if (!ch->in_group || ch->in_batch) {
		snprintf(err, errlen, "%s", !ch->in_group ? "no group open"
							   : "batch already open");
		return -1;
	}
	for (int i = 0; i < CH_TABLES; i++)
		ch->mark[i] = ch->rows[i].len;
	ch_tsv_escape(b->prober, ch->prober, sizeof(ch->prober));
	ch->seq = b->seq;
	ch->start_ms = b->start_ms;
	ch->end_ms = b->end_ms;
	ch->now_ms = now_ms;
	ch->idx_flow = ch->idx_path = 0;
	ch->nflows = b->nflows;
	ch->npaths = b->npaths;
	ch->in_batch = 1;
	return 0;
}

static int ch_batch_open_check(struct store_ch *ch, char *err, size_t errlen)
{
	if (!ch->in_batch) {
		snprintf(err, errlen, "no batch open");
		return -1;
	}
	return 0;
}

static int ch_flow_insert(void *h, const struct wire_flow *f, char *err,
			  size_t errlen)
{
	struct store_ch *ch = h;
	char src[64], dst[64];

	if (ch_batch_open_check(ch, err, errlen) < 0)
		return -1;
	if (!f->src.family || !f->dst.family) {
		snprintf(err, errlen, "flow %u->%u without an address", f->sport,
			 f->dport);
		return -1;
	}
	ch_buf_printf(&ch->rows[CH_RESULTS],
		      "%" PRId64 "\t%" PRId64 "\t%s\t%" PRIu64 "\t%u\t%s\t%s\t%u\t%u\t%u\t%u"
		      "\t%u\t%u\t%u\t%u\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
		      "\t%u\t%" PRId64 "\n",
		      ch->end_ms, ch->start_ms, ch->prober, ch->seq, ch->idx_flow++,
		      wire_addr_str(&f->src, src, sizeof(src)),
		      wire_addr_str(&f->dst, dst, sizeof(dst)), f->proto, f->sport,
		      f->dport, f->dscp, f->sent, f->received, f->lost_fwd,
		      f->lost_rev, f->rtt_min_ns, f->rtt_p50_ns, f->rtt_p99_ns,
		      f->rtt_max_ns, f->target_down ? 1u : 0u, ch->now_ms);
	return 0;
}

static int ch_path_insert(void *h, const struct wire_path *p, char *err,
			  size_t errlen)
{
	char hops[WIRE_HOPS_MAX * 41 + 2], replies[WIRE_HOPS_MAX * 7],
		probes[WIRE_HOPS_MAX * 7], src[64], dst[64];
	struct store_ch *ch = h;
	struct ch_buf *b = &ch->rows[CH_PATHS];

	if (ch_batch_open_check(ch, err, errlen) < 0)
		return -1;
	store_path_text_build(p, hops, sizeof(hops), replies, probes,
			      sizeof(replies));
	ch_buf_printf(b, "%" PRId64 "\t%" PRId64 "\t%s\t%" PRIu64 "\t%u\t%s\t%s\t%u\t%u\t%u\t",
		      ch->end_ms, ch->start_ms, ch->prober, ch->seq, ch->idx_path++,
		      wire_addr_str(&p->src, src, sizeof(src)),
		      wire_addr_str(&p->dst, dst, sizeof(dst)), p->proto, p->sport,
		      p->dport);
	ch_buf_add(b, hops, strlen(hops));
	ch_buf_add(b, "\t", 1);
	ch_buf_add(b, replies, strlen(replies));
	ch_buf_add(b, "\t", 1);
	ch_buf_add(b, probes, strlen(probes));
	ch_buf_add(b, "\n", 1);
	return 0;
}

static int ch_health_insert(void *h, const struct wire_health *hl, char *err,
			    size_t errlen)
{
	struct store_ch *ch = h;

	if (ch_batch_open_check(ch, err, errlen) < 0)
		return -1;
	ch_buf_printf(&ch->rows[CH_HEALTH],
		      "%" PRId64 "\t%" PRId64 "\t%s\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
		      "\t%" PRIu64 "\t%" PRIu64 "\t%u\t%u\n",
		      ch->end_ms, ch->start_ms, ch->prober, ch->seq,
		      hl->if_rx_errors, hl->if_tx_errors, hl->if_rx_dropped,
		      hl->if_tx_dropped, hl->links_down, hl->spool_dropped);
	return 0;
}

static int ch_batch_end(void *h, char *err, size_t errlen)
{
	struct store_ch *ch = h;

	if (ch_batch_open_check(ch, err, errlen) < 0)
		return -1;
	ch_buf_printf(&ch->rows[CH_BATCHES],
		      "%" PRId64 "\t%" PRId64 "\t%s\t%" PRIu64 "\t%" PRId64 "\t%u\t%u\n",
		      ch->end_ms, ch->start_ms, ch->prober, ch->seq, ch->now_ms,
		      ch->nflows, ch->npaths);
	ch->in_batch = 0;
	return 0;
}

static void ch_batch_abort(void *h)
{
	struct store_ch *ch = h;

	if (!ch->in_batch)
		return;
	for (int i = 0; i < CH_TABLES; i++)
		ch->rows[i].len = ch->mark[i];
	ch->in_batch = 0;
}

/* ---- rollup and retention ---- */

/* Rollups are written by retention, from deduplicated raw results, right
 * before a day's raw partition is dropped; nothing to do between. */
static int ch_rollup_run(void *h, int64_t deadline_ms, uint64_t *batches_rolled,
			 int *more, char *err, size_t errlen)
{
	(void)h;
	(void)deadline_ms;
	(void)more;
	(void)err;
	(void)errlen;
	*batches_rolled = 0;
	return 0;
}

/* "YYYY-MM-DD" or "YYYYMM" partition id to the UTC ms of its start and end. */
static int ch_partition_span(const char *id, int64_t *start_ms, int64_t *end_ms)
{
	struct tm tm = { 0 };
	int y, m, d = 1, n = (int)strlen(id);

	if (n == 10 && sscanf(id, "%4d-%2d-%2d", &y, &m, &d) == 3) {
		tm.tm_year = y - 1900;
		tm.tm_mon = m - 1;
		tm.tm_mday = d;
		*start_ms = (int64_t)timegm(&tm) * 1000;
		*end_ms = *start_ms + CH_DAY_MS;
		return 0;
	}
	if (n == 6 && sscanf(id, "%4d%2d", &y, &m) == 2) {
		tm.tm_year = y - 1900;
		tm.tm_mon = m - 1;
		tm.tm_mday = 1;
		*start_ms = (int64_t)timegm(&tm) * 1000;
		tm.tm_mon++;
		*end_ms = (int64_t)timegm(&tm) * 1000;
		return 0;
	}
	return -1;
}

/* The partitions of table holding data, oldest first, as a malloc'd
 * newline-separated list. */
static char *ch_partitions(struct store_ch *ch, const char *table, char *err,
			   size_t errlen)
{
	char sql[256];
	const char *r;
	char *out;

	snprintf(sql, sizeof(sql),
		 "SELECT DISTINCT partition FROM system.parts WHERE active AND "
		 "database = currentDatabase() AND table = '%s' ORDER BY partition",
		 table);
	if (ch_query(ch, sql, &r, err, errlen) < 0)
		return NULL;
	out = strdup(r);
	if (!out)
		snprintf(err, errlen, "out of memory");
	return out;
}

static int ch_day_expire(struct store_ch *ch, const char *day, int64_t end_ms,
			 int roll, struct store_retention_stats *st, char *err,
			 size_t errlen)
{
	char sql[2048];
	int64_t n = 0;

	if (roll) {
		snprintf(sql, sizeof(sql),
			 "INSERT INTO rollup_hourly (hour_ms, prober, src, target, proto, "
			 "sport, dport, intervals, sent, received, lost_fwd, lost_rev, "
			 "down_intervals, rtt_min_ns, rtt_p50_weighted_ns, rtt_p99_max_ns, "
			 "rtt_max_ns, up_sent, up_received, up_lost_fwd, up_lost_rev) "
			 "SELECT intDiv(end_ms, 3600000) * 3600000 AS h, prober, src, "
			 "target, proto, sport, dport, count(), sum(sent), sum(received), "
			 "sum(lost_fwd), sum(lost_rev), sum(target_down), "
			 "minIf(rtt_min_ns, rtt_min_ns > 0), sum(rtt_p50_ns * received), "
			 "max(rtt_p99_ns), max(rtt_max_ns), sumIf(sent, target_down = 0), "
			 "sumIf(received, target_down = 0), sumIf(lost_fwd, target_down = 0), "
			 "sumIf(lost_rev, target_down = 0) FROM results FINAL "
			 "WHERE day = '%s' GROUP BY h, prober, src, target, proto, sport, dport",
			 day);
		if (ch_query(ch, sql, NULL, err, errlen) < 0)
			return -1;
		snprintf(sql, sizeof(sql),
			 "SELECT count() FROM batches FINAL WHERE day = '%s'", day);
		if (ch_query_i64(ch, sql, &n, err, errlen) < 0)
			return -1;
		snprintf(sql, sizeof(sql),
			 "INSERT INTO raw_expired VALUES (%" PRId64 ", toInt64(now()) * 1000)",
			 end_ms);
		if (ch_query(ch, sql, NULL, err, errlen) < 0)
			return -1;
		st->batches_rolled += (uint64_t)n;
		st->batches_expired += (uint64_t)n;
	}
	snprintf(sql, sizeof(sql), "ALTER TABLE results DROP PARTITION '%s'", day);
	if (ch_query(ch, sql, NULL, err, errlen) < 0)
		return -1;
	snprintf(sql, sizeof(sql), "ALTER TABLE health DROP PARTITION '%s'", day);
	return ch_query(ch, sql, NULL, err, errlen);
}

static int ch_months_expire(struct store_ch *ch, const char *table,
			    int64_t before_ms, uint64_t *rows, char *err,
			    size_t errlen)
{
	char *parts = ch_partitions(ch, table, err, errlen), *save = NULL, *id;
	int rc = 0;

	if (!parts)
		return -1;
	for (id = strtok_r(parts, "\n", &save); id && rc == 0;
	     id = strtok_r(NULL, "\n", &save)) {
		int64_t s, e, n = 0;
		char sql[256];

		if (ch_partition_span(id, &s, &e) < 0 || e > before_ms)
			continue;
		if (rows) {
			snprintf(sql, sizeof(sql),
				 "SELECT sum(rows) FROM system.parts WHERE active AND "
				 "database = currentDatabase() AND table = '%s' AND "
				 "partition = '%s'", table, id);
			rc = ch_query_i64(ch, sql, &n, err, errlen);
			*rows += (uint64_t)n;
		}
		snprintf(sql, sizeof(sql), "ALTER TABLE %s DROP PARTITION %s", table,
			 id);
		if (rc == 0)
			rc = ch_query(ch, sql, NULL, err, errlen);
	}
	free(parts);
	return rc;
}

/* Whole days only: a day's raw results go once the whole day ended before
 * raw_before_ms (a day later than SQLite's per-batch rule at most). */
static int ch_retention_run(void *h, int64_t raw_before_ms,
			    int64_t rollup_before_ms, int64_t deadline_ms,
			    struct store_retention_stats *st, char *err,
			    size_t errlen)
{
	struct store_ch *ch = h;
	char *parts, *save = NULL, *id;
	int64_t boundary;
	int rc = 0;

	if (ch->in_group) {
		snprintf(err, errlen, "retention inside an open group");
		return -1;
	}
	if (ch_query_i64(ch, "SELECT max(before_ms) FROM raw_expired", &boundary,
			 err, errlen) < 0 ||
	    !(parts = ch_partitions(ch, "results", err, errlen)))
		return -1;
	for (id = strtok_r(parts, "\n", &save); id && rc == 0;
	     id = strtok_r(NULL, "\n", &save)) {
		int64_t s, e;

		if (ch_partition_span(id, &s, &e) < 0 || e > raw_before_ms)
			continue;
		if (deadline_ms && clock_mono_ms() >= deadline_ms) {
			st->more = 1;
			break;
		}
		/* a day below the boundary is a late resend into a day already
		 * rolled up: dropped without touching its rollup */
		rc = ch_day_expire(ch, id, e, s >= boundary, st, err, errlen);
	}
	free(parts);
	if (rc < 0)
		return -1;
	if (ch_months_expire(ch, "rollup_hourly", rollup_before_ms,
			     &st->rollups_deleted, err, errlen) < 0 ||
	    ch_months_expire(ch, "batches", rollup_before_ms, NULL, err, errlen) < 0 ||
	    ch_months_expire(ch, "paths", rollup_before_ms, NULL, err, errlen) < 0)
		return -1;
	return 0;
}

/* ---- queries ---- */

#define CH_FLOW_COLS "prober, src, target, proto, sport, dport"

/* The latest path of each flow among those first seen by until_ms, as
 * SQLite's paths table answers it (last seen, then first seen, latest). */
#define CH_PATHS_SQL                                                          \
	"SELECT " CH_FLOW_COLS ", argMax(hops, (ls, fs)) AS hops FROM ("      \
	"SELECT " CH_FLOW_COLS ", hops, min(seen_ms) AS fs, max(seen_ms) AS ls " \
	"FROM paths FINAL GROUP BY " CH_FLOW_COLS ", hops "                   \
	"HAVING fs <= %" PRId64 ") GROUP BY " CH_FLOW_COLS

static int ch_obs_rows_run(struct store_ch *ch, const char *sql,
			   store_obs_cb cb, void *arg, char *err, size_t errlen)
{
	const char *r;
	char *copy, *line, *save = NULL;
	int rc = 0;

	if (ch_query(ch, sql, &r, err, errlen) < 0)
		return -1;
	/* the connection's buffer is reused by any request the callback makes */
	if (!(copy = strdup(r))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (line = strtok_r(copy, "\n", &save); line && rc == 0;
	     line = strtok_r(NULL, "\n", &save)) {
		struct store_obs_row row = { 0 };
		char *f[12];

		if (ch_tsv_split(line, f, 12) != 12) {
			snprintf(err, errlen, "clickhouse %s: malformed row '%.80s'",
				 ch->label, line);
			rc = -1;
			break;
		}
		row.prober_name = f[0];
		row.prober = f[1];
		row.target = f[2];
		row.proto = atoi(f[3]) == WIRE_PROTO_TCP ? "tcp" : "udp";
		row.sport = (unsigned)strtoul(f[4], NULL, 10);
		row.dport = (unsigned)strtoul(f[5], NULL, 10);
		row.sent = strtoull(f[6], NULL, 10);
		row.lost = strtoull(f[7], NULL, 10);
		row.received = strtoull(f[8], NULL, 10);
		row.lost_rev = strtoull(f[9], NULL, 10);
		row.down_intervals = strtoull(f[10], NULL, 10);
		row.path = f[11][0] ? f[11] : "-";
		rc = cb(&row, arg);
	}
	free(copy);
	return rc;
}

static int ch_observations_query(void *h, int64_t since_ms, int64_t until_ms,
				 store_obs_cb cb, void *arg, char *err,
				 size_t errlen)
{
	struct store_ch *ch = h;
	char sql[2048];

	if (ch->in_group) {
		snprintf(err, errlen, "query inside an open group");
		return -1;
	}
	/* target-down intervals are not fabric loss: kept out of the sums */
	snprintf(sql, sizeof(sql),
		 "SELECT " CH_FLOW_COLS ", s, l, r, lr, d, hops FROM ("
		 "SELECT " CH_FLOW_COLS ", sumIf(sent, target_down = 0) AS s, "
		 "sumIf(lost_fwd, target_down = 0) AS l, "
		 "sumIf(received, target_down = 0) AS r, "
		 "sumIf(lost_rev, target_down = 0) AS lr, sum(target_down) AS d "
		 "FROM results FINAL WHERE end_ms > %" PRId64 " AND start_ms < %" PRId64
		 " GROUP BY " CH_FLOW_COLS ") ANY LEFT JOIN (" CH_PATHS_SQL ") "
		 "USING (" CH_FLOW_COLS ") ORDER BY " CH_FLOW_COLS
		 " FORMAT TabSeparated",
		 since_ms, until_ms, until_ms);
	return ch_obs_rows_run(ch, sql, cb, arg, err, errlen);
}

static int64_t ch_hour_floor_ms(int64_t t)
{
	int64_t hr = t / 3600000 * 3600000;

	return hr > t ? hr - 3600000 : hr;
}

/* Raw results where kept (at or after the raw_expired boundary), hourly
 * rollups for the whole hours below it: each batch once, in the window its
 * end falls in. */
static int ch_observations_hourly_query(void *h, int64_t since_ms,
					int64_t until_ms, store_obs_cb cb,
					void *arg, char *err, size_t errlen)
{
	struct store_ch *ch = h;
	int64_t first_hour = ch_hour_floor_ms(since_ms), end_hour, boundary;
	char sql[3072];

	if (ch->in_group) {
		snprintf(err, errlen, "query inside an open group");
		return -1;
	}
	if (ch_query_i64(ch, "SELECT max(before_ms) FROM raw_expired", &boundary,
			 err, errlen) < 0)
		return -1;
	if (first_hour < since_ms)
		first_hour += 3600000;
	end_hour = ch_hour_floor_ms(until_ms);
	if (end_hour > boundary)
		end_hour = boundary;
	snprintf(sql, sizeof(sql),
		 "SELECT " CH_FLOW_COLS ", s, l, r, lr, d, hops FROM ("
		 "SELECT " CH_FLOW_COLS ", sum(s1) AS s, sum(l1) AS l, sum(r1) AS r, "
		 "sum(lr1) AS lr, sum(d1) AS d FROM ("
		 "SELECT " CH_FLOW_COLS ", if(target_down = 0, sent, 0) AS s1, "
		 "if(target_down = 0, lost_fwd, 0) AS l1, "
		 "if(target_down = 0, received, 0) AS r1, "
		 "if(target_down = 0, lost_rev, 0) AS lr1, toUInt64(target_down) AS d1 "
		 "FROM results FINAL WHERE end_ms >= %" PRId64 " AND end_ms < %" PRId64
		 " UNION ALL "
		 "SELECT " CH_FLOW_COLS ", up_sent AS s1, up_lost_fwd AS l1, "
		 "up_received AS r1, up_lost_rev AS lr1, down_intervals AS d1 "
		 "FROM rollup_hourly FINAL WHERE hour_ms >= %" PRId64
		 " AND hour_ms < %" PRId64 ") GROUP BY " CH_FLOW_COLS ") "
		 "ANY LEFT JOIN (" CH_PATHS_SQL ") USING (" CH_FLOW_COLS ") "
		 "ORDER BY " CH_FLOW_COLS " FORMAT TabSeparated",
		 since_ms > boundary ? since_ms : boundary, until_ms, first_hour,
		 end_hour, until_ms);
	return ch_obs_rows_run(ch, sql, cb, arg, err, errlen);
}

/* ---- inventory ---- */

static int ch_inventory_get(void *h, struct store_inventory *out, char *err,
			    size_t errlen)
{
	struct store_ch *ch = h;
	const char *r;
	char *copy, *f[3];

	memset(out, 0, sizeof(*out));
	if (ch_query(ch, "SELECT loaded_ms, source, text FROM inventory "
			 "ORDER BY loaded_ms DESC LIMIT 1 FORMAT TabSeparated",
		     &r, err, errlen) < 0)
		return -1;
	if (!r[0])
		return 0;
	if (!(copy = strdup(r))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	copy[strcspn(copy, "\n")] = 0; /* one row; newlines inside are escaped */
	if (ch_tsv_split(copy, f, 3) != 3) {
		free(copy);
		snprintf(err, errlen, "clickhouse %s: malformed inventory row", ch->label);
		return -1;
	}
	out->loaded_ms = strtoll(f[0], NULL, 10);
	snprintf(out->source, sizeof(out->source), "%s", f[1]);
	out->len = strlen(f[2]);
	out->text = strdup(f[2]);
	free(copy);
	if (!out->text) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 1;
}

static int ch_inventory_put(void *h, const char *text, size_t len,
			    const char *source, int64_t now_ms, int *changed,
			    char *err, size_t errlen)
{
	static const char head[] =
		"INSERT INTO inventory (loaded_ms, source, text) FORMAT TabSeparated\n";
	struct store_ch *ch = h;
	struct store_inventory cur;
	struct ch_buf b = { 0 };
	char *t, *esc, src[2 * 256 + 1];
	int rc;

	*changed = 0;
	if (ch->in_group) {
		snprintf(err, errlen, "inventory load inside an open group");
		return -1;
	}
	rc = ch_inventory_get(ch, &cur, err, errlen);
	if (rc < 0)
		return -1;
	if (rc == 1) {
		int same = cur.len == len && !memcmp(cur.text, text, len) &&
			   !strcmp(cur.source, source);

		free(cur.text);
		if (same)
			return 0;
	}
	t = strndup(text, len);
	esc = malloc(2 * len + 4);
	if (!t || !esc) {
		free(t);
		free(esc);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ch_tsv_escape(t, esc, 2 * len + 4);
	ch_tsv_escape(source, src, sizeof(src));
	ch_buf_add(&b, head, sizeof(head) - 1);
	ch_buf_printf(&b, "%" PRId64 "\t%s\t", now_ms, src);
	ch_buf_add(&b, esc, strlen(esc));
	ch_buf_add(&b, "\n", 1);
	free(t);
	free(esc);
	if (b.oom) {
		free(b.p);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = ch_exec(ch, ch->url, b.p, b.len, CH_INSERT_TIMEOUT_MS, NULL, err, errlen);
	free(b.p);
	if (rc < 0)
		return -1;
	*changed = 1;
	return 0;
}

const struct store_ops store_clickhouse_ops = {
	.name = "clickhouse",
	.open = ch_open,
	.close = ch_close,
	.group_begin = ch_group_begin,
	.group_commit = ch_group_commit,
	.group_abort = ch_group_abort,
	.batch_begin = ch_batch_begin,
	.flow_insert = ch_flow_insert,
	.path_insert = ch_path_insert,
	.health_insert = ch_health_insert,
	.batch_end = ch_batch_end,
	.batch_abort = ch_batch_abort,
	.rollup_run = ch_rollup_run,
	.retention_run = ch_retention_run,
	.observations_query = ch_observations_query,
	.observations_hourly_query = ch_observations_hourly_query,
	.inventory_put = ch_inventory_put,
	.inventory_get = ch_inventory_get,
};
