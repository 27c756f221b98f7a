/* The ClickHouse connection the ClickHouse store, its suspect history and its
 * metrics share: the store URL, statements over libcurl, TSV rows in and out,
 * migrations through the one runner, and the sharded layout's table names. */
#ifndef FM_STORE_CH_H
#define FM_STORE_CH_H

#include <stddef.h>
#include <stdint.h>

/* A store URL's parts: clickhouse://HOST[:PORT]/DB[?cluster=NAME]. */
struct ch_url {
	char host[200]; /* a name, an IPv4 or "[v6]" address */
	char port[16];  /* digits; 8123 when the URL has none */
	char db[64];    /* letters, digits and _ */
	char cluster[64]; /* "" unsharded; else the server's remote_servers name */
};

/* Parse url into u. Returns 0, or -1 when it is not a clickhouse:// URL of
 * that shape (empty host, non-digit port, a DB or cluster of other
 * characters, an unknown parameter). */
int ch_url_parse(const char *url, struct ch_url *u);

/* A growable text buffer (rows of an insert, one statement). */
struct ch_buf {
	char *p;
	size_t len, cap;
	int oom; /* an append failed: the contents are incomplete */
};

void ch_buf_add(struct ch_buf *b, const char *s, size_t n);
void ch_buf_printf(struct ch_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* v in decimal, then the one character sep: what "%" PRIu64 / PRId64 and
 * sep print, without printf's cost (it was most of the collector's CPU on a
 * ClickHouse ingest: a flow row is 20 numbers). */
void ch_buf_u64_add(struct ch_buf *b, uint64_t v, char sep);
void ch_buf_i64_add(struct ch_buf *b, int64_t v, char sep);
/* s as one TSV field (backslash, tab and line breaks escaped). */
void ch_buf_tsv_add(struct ch_buf *b, const char *s);

/* s as a single-quoted SQL string literal, quotes included, into b. */
void ch_buf_sql_quote(struct ch_buf *b, const char *s);

/* s as a TSV field into out (truncated to fit). */
void ch_tsv_escape(const char *s, char *out, size_t outlen);

/* Split one TSV line in place into at most max fields, unescaping each.
 * Returns the number of fields. */
int ch_tsv_split(char *line, char **f, int max);

struct ch_conn;

/* Connect to the server of url (creating its database if missing). NULL with
 * the reason in err: a bad URL or an unreachable server. */
struct ch_conn *ch_conn_open(const char *url, char *err, size_t errlen);
void ch_conn_close(struct ch_conn *c);

/* "host:port/db" for errors. */
const char *ch_conn_label(const struct ch_conn *c);

/* Is this a sharded layout (a cluster in the URL)? */
int ch_conn_sharded(const struct ch_conn *c);

/* Run one statement (a SELECT names its FORMAT). Table names written
 * "{name}" are read through the Distributed table "name_all" in a sharded
 * layout, else "name". On success *resp (may be NULL) holds the answer,
 * owned by c and valid until its next request. */
int ch_query(struct ch_conn *c, const char *sql, const char **resp, char *err,
	     size_t errlen);

/* The first number of the answer (count, max). */
int ch_query_i64(struct ch_conn *c, const char *sql, int64_t *v, char *err,
		 size_t errlen);

/* Insert TSV rows: head is "INSERT INTO {table} (cols) FORMAT TabSeparated",
 * rows the data. Returns 0 only once the server confirmed the insert (in a
 * sharded layout, once every shard holds its rows). */
int ch_insert(struct ch_conn *c, const char *head, const char *rows,
	      size_t len, char *err, size_t errlen);

/* Run sql (FORMAT TabSeparated) and call cb once per row with its ncols
 * fields (unescaped, valid during the call). A row of another width is an
 * error. Returns 0, the callback's non-zero value, or -1. */
typedef int (*ch_row_cb)(char **f, void *arg);
#define CH_COLS_MAX 32
int ch_rows_each(struct ch_conn *c, const char *sql, int ncols, ch_row_cb cb,
		 void *arg, char *err, size_t errlen);

/* The row walk of ch_rows_each over an answer already in text (modified in
 * place): each line split into ncols fields (1..CH_COLS_MAX). label names
 * the server in errors. Returns 0, the callback's value, or -1. */
int ch_rows_parse(char *text, int ncols, ch_row_cb cb, void *arg,
		  const char *label, char *err, size_t errlen);

/* Apply both ClickHouse schemas, the store's (schemas/clickhouse.sql) and
 * the suspect history's (schemas/clickhouse_history.sql), each through the
 * one migration runner (store_migrate.h) with its own version table: a
 * store opened for either use has both. In a sharded layout their large
 * tables then get their "name_all" Distributed tables over the cluster.
 * Returns 0, or -1 with the reason in err (a store newer than this code). */
int ch_schemas_apply(struct ch_conn *c, char *err, size_t errlen);

#endif
