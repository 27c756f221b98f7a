/* Tests of the collector's metrics: figures from a real store and suspect
 * history rendered in the exposition format, accepted by `promtool check
 * metrics`, and served over HTTP at /metrics (404 elsewhere). */
#include "collector/metrics.h"
#include "collector/session.h"
#include "wire.h"
#include "store.h"
#include "store_history.h"
#include "store_metrics.h"
#include "clock.h"
#include "unit_util.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <math.h>
#include <sys/time.h>
#include <time.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char t_db[64];

static void t_setup(void)
{
	unit_tmp_path(t_db, sizeof(t_db), "metrics", ".db");
	unlink(t_db);
}

static void t_teardown(void)
{
	unit_db_remove(t_db);
}

/* One batch from prober h1 ending at end_ms: 100 probes, 3 lost forward,
 * 1 reply lost, and a spool that dropped 2 batches. */
static void t_batch_put(int64_t end_ms)
{
	char err[256];
	struct store *s = store_open(NULL, t_db, err, sizeof(err));
	struct wire_flow f;
	struct wire_batch b;
	int dup = 0, reused = 0;

	cr_assert_not_null(s, "%s", err);
	unit_udp_flow_fill(&f, "198.19.1.1", "198.19.2.1", 40000, 100, 3, 1);
	memset(&b, 0, sizeof(b));
	snprintf(b.prober, sizeof(b.prober), "h\"1");
	b.seq = 1;
	b.start_ms = end_ms - 10000;
	b.end_ms = end_ms;
	b.health.spool_dropped = 2;
	b.flows = &f;
	b.nflows = 1;
	cr_assert_eq(store_batch_put(s, &b, end_ms, &dup, &reused), 0, "%s",
		     store_error(s));
	store_close(s);
}

static void t_history_put(int64_t at_ms)
{
	char err[256];
	struct history *h = history_open(t_db, err, sizeof(err));
	struct history_suspect v = { .kind = "link", .from = "spine1", .to = "leaf2",
				     .loss_ratio = 0.02, .loss_lo = 0.01,
				     .loss_hi = 0.03, .confidence = 0.999,
				     .flows = 40, .lossy_flows = 9, .probers = 3 };

	cr_assert_not_null(h, "%s", err);
	cr_assert_eq(history_round_record(h, at_ms, &v, 1, 2), 0, "%s",
		     history_error(h));
	history_close(h);
}

static char *t_render(int64_t now_ms, uint64_t *errors)
{
	struct session_stats st = { .frames = 7, .batches_stored = 5,
				    .batches_duplicate = 1, .rows_stored = 50,
				    .frames_rejected = 2, .store_errors = 0 };
	char err[256], *buf = NULL;
	size_t len = 0;
	struct store_metrics *sm = store_metrics_open(t_db, err, sizeof(err));
	struct history *h = history_open(t_db, err, sizeof(err));
	FILE *out = open_memstream(&buf, &len);

	cr_assert_not_null(sm, "%s", err);
	cr_assert_not_null(h, "%s", err);
	cr_assert_eq(metrics_render(out, &st, sm, h, now_ms, 60000, errors), 0);
	fclose(out);
	store_metrics_close(sm);
	history_close(h);
	return buf;
}

Test(metrics, store_and_history_figures_in_exposition_format, .init = t_setup,
     .fini = t_teardown)
{
	int64_t now_ms = 1800000000000;
	uint64_t errors = 0;
	char *text;

	t_batch_put(now_ms - 5000);
	t_history_put(now_ms - 2000);
	text = t_render(now_ms, &errors);
	cr_expect_eq(errors, 0);
	cr_expect(strstr(text, "faultmesh_collector_batches_duplicate_total 1\n"), "%s", text);
	cr_expect(strstr(text, "faultmesh_collector_frames_rejected_total 2\n"));
	cr_expect(strstr(text, "faultmesh_probers_reporting 1\n"));
	/* the quote in the prober name is escaped */
	cr_expect(strstr(text, "faultmesh_prober_spool_dropped_batches{prober=\"h\\\"1\"} 2\n"),
		  "%s", text);
	cr_expect(strstr(text, "faultmesh_prober_probes_sent{prober=\"h\\\"1\"} 100\n"));
	cr_expect(strstr(text, "faultmesh_prober_probes_lost_forward{prober=\"h\\\"1\"} 3\n"));
	cr_expect(strstr(text, "faultmesh_prober_last_report_age_seconds{prober=\"h\\\"1\"} 5\n"));
	cr_expect(strstr(text,
			 "faultmesh_suspect_loss_ratio{kind=\"link\",from=\"spine1\",to=\"leaf2\"} 0.02"),
		  "%s", text);
	cr_expect(strstr(text, "faultmesh_suspects_open 1\n"));
	free(text);

	/* outside the window, the prober is known but not reporting */
	text = t_render(now_ms + 120000, &errors);
	cr_expect(strstr(text, "faultmesh_probers_reporting 0\n"), "%s", text);
	cr_expect(strstr(text, "faultmesh_probers_known 1\n"));
	free(text);
}

Test(metrics, promtool_accepts_the_exposition, .init = t_setup, .fini = t_teardown)
{
	int64_t now_ms = 1800000000000;
	uint64_t errors = 0;
	char path[96], cmd[256];
	char *text;
	FILE *f;

	if (system("command -v promtool >/dev/null 2>&1") != 0)
		cr_skip_test("promtool not installed (scripts/install-deps)");
	t_batch_put(now_ms - 5000);
	t_history_put(now_ms - 2000);
	text = t_render(now_ms, &errors);
	snprintf(path, sizeof(path), "%s.prom", t_db);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
	cr_expect_eq(system(cmd), 0, "promtool rejected:\n%s", text);
	unlink(path);
	free(text);
}

/* GET path from 127.0.0.1:port; returns the whole response (malloc'd). */
static char *t_get(int port, const char *path)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	char req[256], *resp = calloc(1, 65536);
	size_t got = 0;
	ssize_t r;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert(fd >= 0 && resp);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
	cr_assert_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while (got < 65535 && (r = read(fd, resp + got, 65535 - got)) > 0)
		got += (size_t)r;
	close(fd);
	return resp;
}

Test(metrics, served_over_http_at_metrics_only, .init = t_setup, .fini = t_teardown)
{
	struct session_stats st = { .batches_stored = 42 };
	struct metrics_cfg cfg = { .listen = "127.0.0.1:0", .db_path = t_db,
				   .stats = &st, .window_ms = 60000 };
	char err[256], *resp;
	struct metrics *m;

	t_batch_put(1800000000000);
	m = metrics_start(&cfg, err, sizeof(err));
	cr_assert_not_null(m, "%s", err);
	resp = t_get(metrics_port(m), "/metrics");
	cr_expect(!strncmp(resp, "HTTP/1.1 200", 12), "%s", resp);
	cr_expect(strstr(resp, "text/plain; version=0.0.4"));
	cr_expect(strstr(resp, "faultmesh_collector_batches_stored_total 42\n"), "%s", resp);
	cr_expect(strstr(resp, "faultmesh_probers_known 1\n"), "%s", resp);
	free(resp);
	resp = t_get(metrics_port(m), "/other");
	cr_expect(!strncmp(resp, "HTTP/1.1 404", 12), "%s", resp);
	free(resp);
	metrics_stop(m);
}

/* Prometheus reads floats as Go does: the shortest text that round-trips,
 * not %.17g's 9.1029999999999998. */
Test(metrics, values_in_shortest_round_trip_form)
{
	static const struct {
		double v;
		const char *want;
	} cases[] = {
		{ 9.103, "9.103" }, { 0.1, "0.1" }, { 42, "42" }, { 0.0001, "0.0001" },
		{ 1.0 / 3, "0.3333333333333333" }, { 1e-9, "1e-09" }, { -2.5, "-2.5" },
		{ 0, "0" }, { 1.7976931348623157e308, "1.7976931348623157e+308" },
	};
	char buf[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		FILE *f = fmemopen(buf, sizeof(buf), "w");

		metrics_value_write(f, cases[i].v);
		fclose(f);
		cr_expect_str_eq(buf, cases[i].want, "case %zu", i);
		cr_expect_eq(strtod(buf, NULL), cases[i].v, "case %zu does not round-trip", i);
	}
	{
		FILE *f = fmemopen(buf, sizeof(buf), "w");

		metrics_value_write(f, NAN);
		fputc(' ', f);
		metrics_value_write(f, INFINITY);
		fputc(' ', f);
		metrics_value_write(f, -INFINITY);
		fclose(f);
		cr_expect_str_eq(buf, "NaN +Inf -Inf");
	}
}

static int t_connect(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* A scraper that connects and says nothing must not lock out the others:
 * with 20 such connections open, GET /metrics still answers at once (the
 * bound is generous: the old server took 35 s here). */
Test(metrics, scrape_answers_with_20_idle_connections_open, .init = t_setup, .fini = t_teardown)
{
	struct session_stats st = { .batches_stored = 7 };
	struct metrics_cfg cfg = { .listen = "127.0.0.1:0", .db_path = t_db,
				   .stats = &st, .window_ms = 60000 };
	int idle[20];
	char err[256], *resp;
	struct metrics *m;
	int64_t t0, took_ms;

	m = metrics_start(&cfg, err, sizeof(err));
	cr_assert_not_null(m, "%s", err);
	for (int i = 0; i < 20; i++)
		idle[i] = t_connect(metrics_port(m));
	t0 = clock_mono_ms();
	resp = t_get(metrics_port(m), "/metrics");
	took_ms = clock_mono_ms() - t0;
	cr_expect(!strncmp(resp, "HTTP/1.1 200", 12), "%s", resp);
	cr_expect(strstr(resp, "faultmesh_collector_batches_stored_total 7\n"), "%s", resp);
	cr_expect_lt(took_ms, 1000, "GET /metrics took %lld ms with 20 idle connections",
		     (long long)took_ms);
	free(resp);
	for (int i = 0; i < 20; i++)
		close(idle[i]);
	metrics_stop(m);
}

/* A request line holding a NUL byte is answered 400, not left hanging. */
Test(metrics, request_with_nul_byte_gets_400, .init = t_setup, .fini = t_teardown)
{
	static const char req[] = "GET /met\0rics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	struct metrics_cfg cfg = { .listen = "127.0.0.1:0", .db_path = t_db, .window_ms = 60000 };
	struct timeval tv = { .tv_sec = 3 };
	char err[256], resp[512] = "";
	struct metrics *m;
	ssize_t r;
	int fd;

	m = metrics_start(&cfg, err, sizeof(err));
	cr_assert_not_null(m, "%s", err);
	fd = t_connect(metrics_port(m));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	cr_assert_eq(write(fd, req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);
	r = read(fd, resp, sizeof(resp) - 1);
	cr_assert_gt(r, 0, "no reply to a request with a NUL byte");
	resp[r] = '\0';
	cr_expect(!strncmp(resp, "HTTP/1.1 400", 12), "%s", resp);
	close(fd);
	/* the NUL check does not misfire on escapes, a query or extra spaces */
	{
		char *ok = t_get(metrics_port(m), "/metrics?x=%20y%00z");

		cr_expect(!strncmp(ok, "HTTP/1.1 200", 12), "%s", ok);
		free(ok);
		/* the refusal is counted where the scraper sees it */
		ok = t_get(metrics_port(m), "/metrics");
		cr_expect(strstr(ok, "faultmesh_metrics_requests_nul_refused_total 1\n"), "%s", ok);
		free(ok);
	}
	metrics_stop(m);
}
