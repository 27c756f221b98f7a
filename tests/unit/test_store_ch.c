/* Tests of the ClickHouse connection's pure parts (store/store_ch.c), no
 * server needed: store URLs (the one the fuzzer found included), TSV fields
 * out and back, answer rows, SQL string literals. */
#include "store_ch.h"

#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *url;
	int ok;
	const char *host, *port, *db, *cluster;
} t_urls[] = {
	{ "clickhouse://127.0.0.1:8123/fm", 1, "127.0.0.1", "8123", "fm", "" },
	{ "clickhouse://ch1/fm", 1, "ch1", "8123", "fm", "" },
	{ "clickhouse://[::1]:9000/fm_2", 1, "[::1]", "9000", "fm_2", "" },
	{ "clickhouse://a.b-c:1/x?cluster=fm_shards", 1, "a.b-c", "1", "x", "fm_shards" },
	{ "clickhouse://[:house://[::1]:8123/ffm_shards", 0, NULL, NULL, NULL, NULL }, /* fuzz_store_url */
	{ "clickhouse://h@evil:80/fm", 0, NULL, NULL, NULL, NULL },
	{ "clickhouse://h:0/fm", 0, NULL, NULL, NULL, NULL },
	{ "clickhouse://h:65536/fm", 0, NULL, NULL, NULL, NULL },
	{ "clickhouse://h:80x/fm", 0, NULL, NULL, NULL, NULL },
	{ "clickhouse://h/", 0, NULL, NULL, NULL, NULL },
	{ "clickhouse://h/fm;drop", 0, NULL, NULL, NULL, NULL },
	{ "clickhouse://h/fm?cluster=", 0, NULL, NULL, NULL, NULL },
	{ "clickhouse://h/fm?user=x", 0, NULL, NULL, NULL, NULL },
	{ "clickhouse:///fm", 0, NULL, NULL, NULL, NULL },
	{ "clickhouse://[]/fm", 0, NULL, NULL, NULL, NULL },
	{ "sqlite:/tmp/x.db", 0, NULL, NULL, NULL, NULL },
};

Test(store_ch, url_parse_takes_only_hosts_ports_and_names_safe_in_sql_and_urls)
{
	for (size_t i = 0; i < sizeof(t_urls) / sizeof(t_urls[0]); i++) {
		struct ch_url u;
		int rc = ch_url_parse(t_urls[i].url, &u);

		cr_assert_eq(rc == 0, t_urls[i].ok, "%s: %d", t_urls[i].url, rc);
		if (!t_urls[i].ok)
			continue;
		cr_expect_str_eq(u.host, t_urls[i].host, "%s", t_urls[i].url);
		cr_expect_str_eq(u.port, t_urls[i].port, "%s", t_urls[i].url);
		cr_expect_str_eq(u.db, t_urls[i].db, "%s", t_urls[i].url);
		cr_expect_str_eq(u.cluster, t_urls[i].cluster, "%s", t_urls[i].url);
	}
}

Test(store_ch, tsv_field_escapes_and_splits_back_unchanged)
{
	static const char *const fields[] = { "plain", "tab\there", "line\nbreak\r",
					      "back\\slash\\", "", "\\t literal" };
	struct ch_buf b = { 0 };
	char *f[8];

	for (size_t i = 0; i < 6; i++) {
		if (i)
			ch_buf_add(&b, "\t", 1);
		ch_buf_tsv_add(&b, fields[i]);
	}
	cr_assert(!b.oom);
	cr_assert_eq(ch_tsv_split(b.p, f, 8), 6);
	for (size_t i = 0; i < 6; i++)
		cr_expect_str_eq(f[i], fields[i]);
	free(b.p);
}

struct t_rows {
	unsigned n;
	char last[64];
};

static int t_row_cb(char **f, void *arg)
{
	struct t_rows *r = arg;

	snprintf(r->last, sizeof(r->last), "%s|%s", f[0], f[1]);
	return ++r->n == 2 ? 7 : 0; /* stop at the second row */
}

Test(store_ch, rows_parse_splits_rows_stops_on_the_callback_and_names_the_server)
{
	char ok[] = "a\t1\nb\\tx\t2\nc\t3\n", bad[] = "a\t1\nb\t2\t3\n";
	struct t_rows r = { 0 };
	char err[256] = "";

	cr_assert_eq(ch_rows_parse(ok, 2, t_row_cb, &r, "srv:1/db", err, sizeof(err)), 7);
	cr_expect_eq(r.n, 2);
	cr_expect_str_eq(r.last, "b\tx|2");
	memset(&r, 0, sizeof(r));
	cr_assert_eq(ch_rows_parse(bad, 2, t_row_cb, &r, "srv:1/db", err, sizeof(err)), -1);
	cr_expect(strstr(err, "srv:1/db") && strstr(err, "malformed"), "%s", err);
	cr_assert_eq(ch_rows_parse(ok, 0, t_row_cb, &r, "srv:1/db", err, sizeof(err)), -1);
}

Test(store_ch, sql_quote_escapes_quotes_and_backslashes)
{
	struct ch_buf b = { 0 };

	ch_buf_sql_quote(&b, "sp'ine\\1{x}");
	cr_assert_str_eq(b.p, "'sp\\'ine\\\\1{x}'");
	free(b.p);
}

/* The flow rows' numbers are written without printf: the same text as
 * "%" PRIu64 / PRId64, at the edges too. */
Test(store_ch, numbers_written_as_printf_writes_them)
{
	const uint64_t us[] = { 0, 1, 9, 10, 99, 4294967295u, 18446744073709551615u };
	const int64_t is[] = { 0, -1, 7, -10, 1765000000000, INT64_MAX, INT64_MIN };
	struct ch_buf b = { 0 };
	char want[512] = "";
	size_t off = 0;

	for (size_t i = 0; i < sizeof(us) / sizeof(us[0]); i++) {
		ch_buf_u64_add(&b, us[i], '\t');
		off += (size_t)snprintf(want + off, sizeof(want) - off, "%" PRIu64 "\t", us[i]);
	}
	for (size_t i = 0; i < sizeof(is) / sizeof(is[0]); i++) {
		ch_buf_i64_add(&b, is[i], i + 1 < sizeof(is) / sizeof(is[0]) ? '\t' : '\n');
		off += (size_t)snprintf(want + off, sizeof(want) - off, "%" PRId64 "%c", is[i],
					i + 1 < sizeof(is) / sizeof(is[0]) ? '\t' : '\n');
	}
	cr_assert_not(b.oom);
	cr_assert_str_eq(b.p, want);
	free(b.p);
}
