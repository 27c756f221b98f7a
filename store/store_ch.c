/* The ClickHouse connection (store_ch.h): URL, statements over libcurl's
 * keep-alive connection, TSV rows, migrations and Distributed table names,
 * shared by the ClickHouse store, its history and its metrics. */
#include "store_ch.h"
#include "vec.h"
#include "http_curl.h"
#include "store_migrate.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__asm__(".section .rodata\n"
	".global store_clickhouse_schema_sql\n"
	".type store_clickhouse_schema_sql, @object\n"
	"store_clickhouse_schema_sql:\n"
	".incbin \"schemas/clickhouse.sql\"\n"
	".byte 0\n"
	".previous\n");
extern const char store_clickhouse_schema_sql[];

__asm__(".section .rodata\n"
	".global history_clickhouse_schema_sql\n"
	".type history_clickhouse_schema_sql, @object\n"
	"history_clickhouse_schema_sql:\n"
	".incbin \"schemas/clickhouse_history.sql\"\n"
	".byte 0\n"
	".previous\n");
extern const char history_clickhouse_schema_sql[];

/* The tables a sharded layout spreads by prober (a resend lands on the
 * shard of its first copy, so FINAL folds them), read and written through
 * their Distributed "name_all" tables. Maintenance (rollups, raw_expired,
 * partition drops) works on each server's own tables. */
static const char *const ch_sharded_tables[] = {
	"results cityHash64(prober)", "health cityHash64(prober)",
	"paths cityHash64(prober)",   "batches cityHash64(prober)",
	"rollup_hourly cityHash64(prober)", "inventory loaded_ms",
	NULL,
};

/* In a sharded layout: an episode's versions on one shard, so FINAL folds
 * them; points and rounds anywhere. */
static const char *const ch_history_sharded_tables[] = {
	"history_rounds at_ms", "history_episodes id",
	"history_points episode_id", NULL,
};

#define CH_PORT_DEFAULT "8123"
#define CH_INSERT_TIMEOUT_MS 15000
#define CH_QUERY_TIMEOUT_MS 600000
#define CH_SQL_MAX 8192

struct ch_conn {
	struct http_conn *http;
	struct ch_url u;
	char label[300]; /* host:port/db, for errors */
	char url[600];   /* http://host:port/?database=db */
};

static const char ch_ident_chars[] =
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";

/* ---- text ---- */

void ch_buf_add(struct ch_buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (vec_room_n(&b->p, b->len + n + 1, &b->cap, 1, 65536) < 0) {
		b->oom = 1;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

void ch_buf_printf(struct ch_buf *b, const char *fmt, ...)
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

void ch_buf_u64_add(struct ch_buf *b, uint64_t v, char sep)
{
	char tmp[24];
	size_t i = sizeof(tmp);

	tmp[--i] = sep;
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	ch_buf_add(b, tmp + i, sizeof(tmp) - i);
}

void ch_buf_i64_add(struct ch_buf *b, int64_t v, char sep)
{
	if (v < 0) {
		ch_buf_add(b, "-", 1);
		/* -(v + 1) + 1: INT64_MIN has no positive int64 */
		ch_buf_u64_add(b, (uint64_t)(-(v + 1)) + 1, sep);
		return;
	}
	ch_buf_u64_add(b, (uint64_t)v, sep);
}

static char ch_tsv_code(char c)
{
	return c == '\t' ? 't' : c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\\' ? '\\' : 0;
}

void ch_buf_tsv_add(struct ch_buf *b, const char *s)
{
	for (; *s; s++) {
		char e[2] = { '\\', ch_tsv_code(*s) };

		if (e[1])
			ch_buf_add(b, e, 2);
		else
			ch_buf_add(b, s, 1);
	}
}

void ch_buf_sql_quote(struct ch_buf *b, const char *s)
{
	ch_buf_add(b, "'", 1);
	for (; *s; s++) {
		if (*s == '\'' || *s == '\\')
			ch_buf_add(b, "\\", 1);
		ch_buf_add(b, s, 1);
	}
	ch_buf_add(b, "'", 1);
}

void ch_tsv_escape(const char *s, char *out, size_t outlen)
{
	size_t o = 0;

	if (!outlen)
		return;
	for (; *s && o + 3 < outlen; s++) {
		char c = ch_tsv_code(*s);

		if (c)
			out[o++] = '\\';
		out[o++] = c ? c : *s;
	}
	out[o] = 0;
}

int ch_tsv_split(char *line, char **f, int max)
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

/* ---- URL ---- */

/* Copy the identifier [s, s+n) into out: 0, or -1 when empty, too long or
 * of other characters (it goes into SQL and URLs unquoted). */
static int ch_ident_copy(const char *s, size_t n, char *out, size_t outlen)
{
	size_t i;

	if (!n || n >= outlen)
		return -1;
	for (i = 0; i < n; i++)
		if (!strchr(ch_ident_chars, s[i]) || !s[i])
			return -1;
	memcpy(out, s, n);
	out[n] = 0;
	return 0;
}

int ch_url_parse(const char *url, struct ch_url *u)
{
	const char *p = url + 13, *hend, *slash, *q;
	size_t n;

	memset(u, 0, sizeof(*u));
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
	if (!n || n >= sizeof(u->host))
		return -1;
	/* the host goes into the HTTP URL as it is: a name, an IPv4 address,
	 * or an IPv6 one in brackets, and nothing that would end or re-shape
	 * the URL's authority */
	if (*p == '[' ? n < 3 || strspn(p + 1, "0123456789abcdefABCDEF:.") != n - 2
		      : strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "0123456789.-") != n)
		return -1;
	memcpy(u->host, p, n);
	u->host[n] = 0;
	slash = strchr(hend, '/');
	if (!slash)
		return -1;
	if (*hend == ':') {
		n = (size_t)(slash - hend - 1);
		if (!n || n > 5 || strspn(hend + 1, "0123456789") != n ||
		    !(atoi(hend + 1) > 0 && atoi(hend + 1) <= 65535))
			return -1;
		memcpy(u->port, hend + 1, n);
		u->port[n] = 0;
	} else if (hend == slash) {
		snprintf(u->port, sizeof(u->port), "%s", CH_PORT_DEFAULT);
	} else {
		return -1;
	}
	q = strchr(slash + 1, '?');
	n = q ? (size_t)(q - slash - 1) : strlen(slash + 1);
	if (ch_ident_copy(slash + 1, n, u->db, sizeof(u->db)) < 0)
		return -1;
	if (!q)
		return 0;
	/* the one parameter: the cluster a sharded layout spreads over */
	if (strncmp(q + 1, "cluster=", 8))
		return -1;
	return ch_ident_copy(q + 9, strlen(q + 9), u->cluster, sizeof(u->cluster));
}

/* ---- requests ---- */

/* sql with each "{name}" outside string literals replaced by the table's
 * name (name_all when sharded) into out. -1 when it does not fit. */
static int ch_sql_expand(const struct ch_conn *c, const char *sql, char *out,
			 size_t outlen)
{
	const char *suffix = c->u.cluster[0] ? "_all" : "";
	size_t o = 0, n;
	int quoted = 0;

	for (; *sql; sql++) {
		if (!quoted && *sql == '{' &&
		    sql[1 + (n = strspn(sql + 1, ch_ident_chars))] == '}' && n) {
			int w = snprintf(out + o, outlen - o, "%.*s%s", (int)n,
					 sql + 1, suffix);

			if (w < 0 || (size_t)w >= outlen - o)
				return -1;
			o += (size_t)w;
			sql += n + 1;
			continue;
		}
		if (o + 2 >= outlen)
			return -1;
		if (quoted && *sql == '\\' && sql[1]) {
			out[o++] = *sql++;
		} else if (*sql == '\'') {
			quoted = !quoted;
		}
		out[o++] = *sql;
	}
	out[o] = 0;
	return 0;
}

static int ch_post(struct ch_conn *c, const char *url, const char *body,
		   size_t len, int timeout_ms, const char **resp, char *err,
		   size_t errlen)
{
	const char *r;
	size_t rlen;
	char e[256];
	int status = http_conn_post(c->http, url, body, len, timeout_ms, &r,
				    &rlen, e, sizeof(e));

	if (status < 0) {
		snprintf(err, errlen, "clickhouse %s: %s", c->label, e);
		return -1;
	}
	if (status != 200) {
		/* ClickHouse's first line names the error: "Code: 60, ..." */
		snprintf(err, errlen, "clickhouse %s: HTTP %d: %.*s", c->label,
			 status, (int)strcspn(r, "\n"), r);
		return -1;
	}
	if (resp)
		*resp = r;
	return 0;
}

int ch_query(struct ch_conn *c, const char *sql, const char **resp, char *err,
	     size_t errlen)
{
	char *x = malloc(CH_SQL_MAX);
	int rc;

	if (!x) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (ch_sql_expand(c, sql, x, CH_SQL_MAX) < 0) {
		free(x);
		snprintf(err, errlen, "clickhouse %s: statement too long: %.60s",
			 c->label, sql);
		return -1;
	}
	rc = ch_post(c, c->url, x, strlen(x), CH_QUERY_TIMEOUT_MS, resp, err,
		     errlen);
	free(x);
	return rc;
}

int ch_query_i64(struct ch_conn *c, const char *sql, int64_t *v, char *err,
		 size_t errlen)
{
	const char *r;

	if (ch_query(c, sql, &r, err, errlen) < 0)
		return -1;
	*v = strtoll(r, NULL, 10);
	return 0;
}

int ch_insert(struct ch_conn *c, const char *head, const char *rows,
	      size_t len, char *err, size_t errlen)
{
	char sql[1024], q[3072], url[4096];

	if (ch_sql_expand(c, head, sql, sizeof(sql)) < 0 ||
	    http_query_escape(sql, q, sizeof(q)) < 0) {
		snprintf(err, errlen, "clickhouse %s: insert statement too long",
			 c->label);
		return -1;
	}
	/* through a Distributed table the insert answers only once every
	 * shard has its rows, so an ACK still means stored */
	snprintf(url, sizeof(url), "%s%s&query=%s", c->url,
		 c->u.cluster[0] ? "&insert_distributed_sync=1" : "", q);
	return ch_post(c, url, rows, len, CH_INSERT_TIMEOUT_MS, NULL, err, errlen);
}

int ch_rows_parse(char *text, int ncols, ch_row_cb cb, void *arg,
		  const char *label, char *err, size_t errlen)
{
	char *line, *save = NULL, *f[CH_COLS_MAX + 1];
	int rc = 0;

	if (ncols < 1 || ncols > CH_COLS_MAX) {
		snprintf(err, errlen, "clickhouse %s: %d columns asked", label, ncols);
		return -1;
	}
	for (line = strtok_r(text, "\n", &save); line && rc == 0;
	     line = strtok_r(NULL, "\n", &save)) {
		if (ch_tsv_split(line, f, ncols + 1) != ncols) {
			snprintf(err, errlen, "clickhouse %s: malformed row '%.80s'",
				 label, line);
			return -1;
		}
		rc = cb(f, arg);
	}
	return rc;
}

int ch_rows_each(struct ch_conn *c, const char *sql, int ncols, ch_row_cb cb,
		 void *arg, char *err, size_t errlen)
{
	const char *r;
	char *copy;
	int rc;

	if (ch_query(c, sql, &r, err, errlen) < 0)
		return -1;
	/* the connection's buffer is reused by any request the callback makes */
	if (!(copy = strdup(r))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = ch_rows_parse(copy, ncols, cb, arg, c->label, err, errlen);
	free(copy);
	return rc;
}

/* ---- open/close ---- */

struct ch_conn *ch_conn_open(const char *url, char *err, size_t errlen)
{
	struct ch_conn *c = calloc(1, sizeof(*c));
	char sql[160];

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (ch_url_parse(url, &c->u) < 0) {
		snprintf(err, errlen,
			 "bad store URL '%s' (want clickhouse://HOST[:PORT]/DB"
			 "[?cluster=NAME], DB and NAME of letters, digits and _)",
			 url);
		goto err;
	}
	snprintf(c->label, sizeof(c->label), "%s:%s/%s", c->u.host, c->u.port,
		 c->u.db);
	if (!(c->http = http_conn_open(err, errlen)))
		goto err;
	/* the database first, on the server's default one */
	snprintf(c->url, sizeof(c->url), "http://%s:%s/", c->u.host, c->u.port);
	snprintf(sql, sizeof(sql), "CREATE DATABASE IF NOT EXISTS %s", c->u.db);
	if (ch_query(c, sql, NULL, err, errlen) < 0)
		goto err;
	snprintf(c->url, sizeof(c->url), "http://%s:%s/?database=%s", c->u.host,
		 c->u.port, c->u.db);
	return c;
err:
	ch_conn_close(c);
	return NULL;
}

void ch_conn_close(struct ch_conn *c)
{
	if (!c)
		return;
	http_conn_close(c->http);
	free(c);
}

const char *ch_conn_label(const struct ch_conn *c)
{
	return c->label;
}

int ch_conn_sharded(const struct ch_conn *c)
{
	return c->u.cluster[0] != 0;
}

/* ---- schema ---- */

struct ch_mig {
	struct ch_conn *c;
	const char *table;
};

static int ch_version_read(void *h, int *version, char *err, size_t errlen)
{
	struct ch_mig *m = h;
	char sql[256];
	int64_t n, v;

	*version = 0;
	snprintf(sql, sizeof(sql),
		 "SELECT count() FROM system.tables WHERE database = "
		 "currentDatabase() AND name = '%s'", m->table);
	if (ch_query_i64(m->c, sql, &n, err, errlen) < 0)
		return -1;
	if (!n)
		return 0;
	snprintf(sql, sizeof(sql), "SELECT max(version) FROM %s", m->table);
	if (ch_query_i64(m->c, sql, &v, err, errlen) < 0)
		return -1;
	*version = (int)v;
	return 0;
}

/* Statements end with ';' at a line's end; comment lines are skipped. */
static int ch_migration_apply(void *h, int num, const char *sql, char *err,
			      size_t errlen)
{
	struct ch_mig *m = h;
	struct ch_buf stmt = { 0 };
	const char *p = sql;
	char setv[160];
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
			rc = ch_post(m->c, m->c->url, stmt.p, strlen(stmt.p),
				     CH_QUERY_TIMEOUT_MS, NULL, err, errlen);
			/* 18.16 has no ADD COLUMN IF NOT EXISTS: a column there
			 * already was added by this migration cut short, or by
			 * another collector running it at once */
			if (rc < 0 && strstr(stmt.p, "ADD COLUMN") &&
			    strstr(err, "column with this name already exists"))
				rc = 0;
			stmt.len = 0;
		}
	}
	free(stmt.p);
	if (rc < 0)
		return -1;
	snprintf(setv, sizeof(setv),
		 "INSERT INTO %s VALUES (%d, toInt64(now()) * 1000)", m->table, num);
	return ch_post(m->c, m->c->url, setv, strlen(setv), CH_QUERY_TIMEOUT_MS,
		       NULL, err, errlen);
}

struct ch_column_add {
	struct ch_conn *c;
	const char *table; /* "name_all" */
	char *err;
	size_t errlen;
};

/* One column the local table has and its Distributed one lacks. */
static int ch_column_add_cb(char **f, void *arg)
{
	struct ch_column_add *x = arg;
	char sql[512];

	snprintf(sql, sizeof(sql), "ALTER TABLE %s ADD COLUMN %s %s", x->table, f[0], f[1]);
	return ch_post(x->c, x->c->url, sql, strlen(sql), CH_QUERY_TIMEOUT_MS, NULL, x->err,
		       x->errlen) < 0 ? -1 : 0;
}

/* In a sharded layout, "name_all" over the cluster for each "name key".
 * One made by an older schema lacks the columns a migration added to the
 * local table since ("AS" copies them only when created): they are added
 * to it. */
static int ch_distributed_create(struct ch_conn *c, const char *const *sharded,
				 char *err, size_t errlen)
{
	for (; sharded && *sharded; sharded++) {
		char sql[768], all[128];
		int n = (int)strcspn(*sharded, " ");
		struct ch_column_add x = { c, all, err, errlen };

		snprintf(all, sizeof(all), "%.*s_all", n, *sharded);
		snprintf(sql, sizeof(sql),
			 "CREATE TABLE IF NOT EXISTS %s AS %.*s ENGINE = "
			 "Distributed(%s, %s, %.*s, %s)",
			 all, n, *sharded, c->u.cluster, c->u.db, n, *sharded,
			 *sharded + n + 1);
		if (ch_post(c, c->url, sql, strlen(sql), CH_QUERY_TIMEOUT_MS, NULL,
			    err, errlen) < 0)
			return -1;
		snprintf(sql, sizeof(sql),
			 "SELECT name, type FROM system.columns WHERE database = "
			 "currentDatabase() AND table = '%.*s' AND name NOT IN (SELECT name "
			 "FROM system.columns WHERE database = currentDatabase() AND "
			 "table = '%s') FORMAT TabSeparated",
			 n, *sharded, all);
		if (ch_rows_each(c, sql, 2, ch_column_add_cb, &x, err, errlen) != 0)
			return -1;
	}
	return 0;
}

static int ch_migrate(struct ch_conn *c, const char *schema_sql,
	       const char *version_table, const char *what,
	       const char *const *sharded, char *err, size_t errlen)
{
	static const struct store_migrate_ops ops = {
		.version_read = ch_version_read,
		.apply = ch_migration_apply,
	};
	struct ch_mig m = { .c = c, .table = version_table };
	char e[384];

	if (store_migrate_run(schema_sql, c->label, what, &ops, &m, e,
			      sizeof(e)) < 0) {
		snprintf(err, errlen, "%s", e);
		return -1;
	}
	if (c->u.cluster[0] && ch_distributed_create(c, sharded, e, sizeof(e)) < 0) {
		snprintf(err, errlen, "%s: %s tables over cluster %s: %s", c->label,
			 what, c->u.cluster, e);
		return -1;
	}
	return 0;
}

int ch_schemas_apply(struct ch_conn *c, char *err, size_t errlen)
{
	if (ch_migrate(c, store_clickhouse_schema_sql, "schema_version", "store",
		       ch_sharded_tables, err, errlen) < 0)
		return -1;
	return ch_migrate(c, history_clickhouse_schema_sql, "history_schema_version",
			  "history", ch_history_sharded_tables, err, errlen);
}
