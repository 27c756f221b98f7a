/* Tests of the alert sinks: the JSON every sink shares (golden text), the
 * hook gets it on stdin, the Alertmanager sink POSTs the v2 body to
 * /api/v2/alerts and reports a refused post; URL parsing. */
#include "http_curl.h"
#include "alert_sink.h"
#include "suspect_json.h"
#include "unit_util.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <unistd.h>

static const struct alert_sink_env t_env = { .db_path = "/tmp/x.db",
					     .runbook_url = "https://wiki.example/faultmesh",
					     .resend_ms = 60000,
					     .timeout_ms = 3000 };

static struct alert t_alert(void)
{
	struct alert a;

	memset(&a, 0, sizeof(a));
	a.s.kind = SUSPECT_LINK;
	snprintf(a.s.from, sizeof(a.s.from), "spine1");
	snprintf(a.s.to, sizeof(a.s.to), "leaf2");
	a.s.loss_ratio = 0.0125;
	a.s.loss_lo = 0.01;
	a.s.loss_hi = 0.015;
	a.s.confidence = 0.9999;
	a.s.flows = 40;
	a.s.lossy_flows = 12;
	a.s.probers = 4;
	a.loss_ratio_max = 0.02;
	a.starts_ms = 1800000000000;
	a.last_seen_ms = 1800000010000;
	a.window_ms = 30000;
	a.npairs = 2;
	snprintf(a.pairs[0].prober, sizeof(a.pairs[0].prober), "h1");
	snprintf(a.pairs[0].target, sizeof(a.pairs[0].target), "h3");
	snprintf(a.pairs[1].prober, sizeof(a.pairs[1].prober), "h5");
	snprintf(a.pairs[1].target, sizeof(a.pairs[1].target), "h\"4");
	return a;
}

Test(alert_sink, json_is_golden_for_firing_and_resolved)
{
	struct alert a = t_alert();
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	cr_assert_eq(alert_json_write(out, &t_env, ALERT_FIRE, &a), 0);
	fclose(out);
	cr_expect_str_eq(buf,
		"{\"version\": 1, \"event\": \"fire\", \"status\": \"firing\", \"kind\": \"link\", "
		"\"from\": \"spine1\", \"to\": \"leaf2\", \"name\": \"spine1 -> leaf2\", "
		"\"loss\": 0.0125, \"loss_lo\": 0.01, \"loss_hi\": 0.015, "
		"\"confidence\": 0.9999, \"score\": 0, \"flows\": 40, \"lossy_flows\": 12, "
		"\"probers\": 4, \"loss_max\": 0.02, \"window_s\": 30, "
		"\"starts_at\": \"2027-01-15T08:00:00.000Z\", \"ends_at\": null, "
		"\"last_seen_at\": \"2027-01-15T08:00:10.000Z\", \"clean_since\": null, "
		"\"pairs\": [{\"prober\": \"h1\", \"target\": \"h3\"}, "
		"{\"prober\": \"h5\", \"target\": \"h\\\"4\"}], "
		"\"query\": \"triangulate link spine1 leaf2 --db /tmp/x.db --window 30s\", "
		"\"commands\": [\"triangulate link spine1 leaf2 --db /tmp/x.db --window 30s\", "
		"\"triangulate localize --db /tmp/x.db --window 30s\", "
		"\"triangulate suspects --db /tmp/x.db --since 6h\"], "
		"\"action\": \"drain the link spine1 -> leaf2 (shift traffic off it), then check "
		"its optics, cable and interface error counters at both ends\", "
		"\"runbook_url\": \"https://wiki.example/faultmesh\"}");
	free(buf);

	a.ends_ms = 1800000030000;
	out = open_memstream(&buf, &len);
	cr_assert_eq(alert_json_write(out, &t_env, ALERT_RESOLVE, &a), 0);
	fclose(out);
	cr_expect(strstr(buf, "\"status\": \"resolved\""));
	cr_expect(strstr(buf, "\"ends_at\": \"2027-01-15T08:00:30.000Z\""), "%s", buf);
	free(buf);
}

Test(alert_sink, hook_gets_the_json_on_stdin_and_failures_are_reported)
{
	struct alert a = t_alert();
	char path[64], cmd[256], line[2048], err[256];
	FILE *f;

	unit_tmp_path(path, sizeof(path), "hook", ".json");
	snprintf(cmd, sizeof(cmd), "cat > %s; echo \"$FM_ALERT_EVENT\" >> %s", path, path);
	cr_assert_eq(alert_sink_hook_ops.deliver(cmd, &t_env, ALERT_FIRE, &a, err,
						 sizeof(err)), 0, "%s", err);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(line, sizeof(line), f));
	cr_expect(!strncmp(line, "{\"version\": 1, \"event\": \"fire\"", 30), "%s", line);
	cr_expect(strstr(line, "\"query\": \"triangulate link spine1 leaf2"));
	cr_assert_not_null(fgets(line, sizeof(line), f));
	cr_expect_str_eq(line, "fire\n");
	fclose(f);
	unlink(path);

	cr_expect_eq(alert_sink_hook_ops.deliver("exit 7", &t_env, ALERT_FIRE, &a,
						 err, sizeof(err)), -1);
	cr_expect(strstr(err, "status 7"), "%s", err);
}

Test(alert_sink, hook_that_hangs_is_killed_at_the_timeout)
{
	struct alert a = t_alert();
	struct alert_sink_env env = t_env;
	char err[256];

	env.timeout_ms = 200;
	cr_expect_eq(alert_sink_hook_ops.deliver("sleep 5", &env, ALERT_FIRE, &a,
						 err, sizeof(err)), -1);
	cr_expect(strstr(err, "timeout"), "%s", err);
}

/* A one-shot HTTP server: accepts one connection, keeps the request, answers
 * with the given status line. */
struct t_srv {
	int lfd, port;
	const char *status;
	char req[8192];
	pthread_t th;
};

static void *t_srv_main(void *arg)
{
	struct t_srv *s = arg;
	size_t got = 0;
	int fd = accept(s->lfd, NULL, NULL);

	if (fd < 0)
		return NULL;
	/* headers, then Content-Length bytes of body */
	for (;;) {
		ssize_t r = read(fd, s->req + got, sizeof(s->req) - 1 - got);
		char *hend, *cl;

		if (r <= 0)
			break;
		got += (size_t)r;
		s->req[got] = 0;
		hend = strstr(s->req, "\r\n\r\n");
		cl = strstr(s->req, "Content-Length: ");
		if (hend && cl && got >= (size_t)(hend + 4 - s->req) + strtoul(cl + 16, NULL, 10))
			break;
	}
	dprintf(fd, "HTTP/1.1 %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
		s->status);
	close(fd);
	return NULL;
}

static void t_srv_start(struct t_srv *s, const char *status)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);

	memset(s, 0, sizeof(*s));
	s->status = status;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(s->lfd, 1), 0);
	getsockname(s->lfd, (struct sockaddr *)&sa, &sl);
	s->port = ntohs(sa.sin_port);
	pthread_create(&s->th, NULL, t_srv_main, s);
}

static void t_srv_join(struct t_srv *s)
{
	pthread_join(s->th, NULL);
	close(s->lfd);
}

Test(alert_sink, alertmanager_gets_a_v2_post_with_labels_and_times)
{
	struct alert a = t_alert();
	struct t_srv srv;
	char url[64], err[256];

	t_srv_start(&srv, "200 OK");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", srv.port);
	cr_assert_eq(alert_sink_am_ops.deliver(url, &t_env, ALERT_FIRE, &a, err,
					       sizeof(err)), 0, "%s", err);
	t_srv_join(&srv);
	cr_expect(!strncmp(srv.req, "POST /api/v2/alerts HTTP/1.1\r\n", 30), "%s", srv.req);
	cr_expect(strstr(srv.req, "Content-Type: application/json\r\n"));
	cr_expect(strstr(srv.req,
			 "[{\"labels\": {\"alertname\": \"FaultmeshLoss\", \"kind\": \"link\", "
			 "\"from\": \"spine1\", \"to\": \"leaf2\""), "%s", srv.req);
	cr_expect(strstr(srv.req, "\"startsAt\": \"2027-01-15T08:00:00.000Z\""));
	cr_expect(strstr(srv.req, "\"pairs\": \"h1->h3, h5->h\\\"4\""), "%s", srv.req);

	/* resolved: endsAt is the resolve time */
	a.ends_ms = 1800000030000;
	t_srv_start(&srv, "200 OK");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", srv.port);
	cr_assert_eq(alert_sink_am_ops.deliver(url, &t_env, ALERT_RESOLVE, &a, err,
					       sizeof(err)), 0, "%s", err);
	t_srv_join(&srv);
	cr_expect(strstr(srv.req, "\"endsAt\": \"2027-01-15T08:00:30.000Z\"}]"), "%s", srv.req);
}

Test(alert_sink, alertmanager_refusal_and_absence_are_errors)
{
	struct alert a = t_alert();
	struct t_srv srv;
	char url[64], err[256];

	t_srv_start(&srv, "400 Bad Request");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", srv.port);
	cr_expect_eq(alert_sink_am_ops.deliver(url, &t_env, ALERT_FIRE, &a, err,
					       sizeof(err)), -1);
	t_srv_join(&srv);
	cr_expect(strstr(err, "HTTP 400"), "%s", err);
	/* the port is closed now */
	cr_expect_eq(alert_sink_am_ops.deliver(url, &t_env, ALERT_FIRE, &a, err,
					       sizeof(err)), -1);
	cr_expect(strstr(err, "connect"), "%s", err);
}

Test(alert_sink, url_parse_table)
{
	static const struct {
		const char *url, *host, *port, *path;
	} ok[] = {
		{ "http://127.0.0.1:9093", "127.0.0.1", "9093", "/" },
		{ "http://am/x/y", "am", "80", "/x/y" },
		{ "http://[::1]:9093/", "::1", "9093", "/" },
	};
	static const char *const bad[] = { "https://a", "http://", "http://a:x",
					   "http://a:", "ftp://a" };
	char host[64], port[16], path[64];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		cr_assert_eq(http_url_parse(ok[i].url, host, sizeof(host), port,
					    sizeof(port), path, sizeof(path)), 0, "%s", ok[i].url);
		cr_expect_str_eq(host, ok[i].host);
		cr_expect_str_eq(port, ok[i].port);
		cr_expect_str_eq(path, ok[i].path);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(http_url_parse(bad[i], host, sizeof(host), port,
					    sizeof(port), path, sizeof(path)), -1, "%s", bad[i]);
}

Test(alert_sink, resolved_alert_says_clean_since_the_first_clean_round)
{
	struct alert a = t_alert();
	char *buf = NULL;
	size_t len = 0;
	FILE *out;

	a.last_seen_ms = 1800000600000; /* fired at 08:00, seen until 08:10 */
	a.clean_since_ms = 1800000610000;
	a.ends_ms = 1800000620000;
	out = open_memstream(&buf, &len);
	cr_assert_eq(alert_json_write(out, &t_env, ALERT_RESOLVE, &a), 0);
	fclose(out);
	cr_expect(strstr(buf, "\"clean_since\": \"2027-01-15T08:10:10.000Z\""), "%s", buf);
	free(buf);
	out = open_memstream(&buf, &len);
	cr_assert_eq(alert_am_body_write(out, &t_env, ALERT_RESOLVE, &a, a.ends_ms), 0);
	fclose(out);
	cr_expect(strstr(buf, "\"clean_since\": \"2027-01-15T08:10:10.000Z\""), "%s", buf);
	free(buf);
}

Test(alert_sink, alertmanager_annotations_carry_the_playbook)
{
	struct alert a = t_alert();
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	cr_assert_eq(alert_am_body_write(out, &t_env, ALERT_FIRE, &a, a.last_seen_ms), 0);
	fclose(out);
	UNIT_TEXT_HAS(buf, "\"since\": \"2027-01-15T08:00:00.000Z\"",
		      "\"evidence\": \"12 of 40 flows lossy, 4 probers\"",
		      "\"commands\": \"triangulate link spine1 leaf2 --db /tmp/x.db "
		            "--window 30s\\u000atriangulate localize",
		      "\"action\": \"drain the link spine1 -> leaf2",
		      "\"runbook_url\": \"https://wiki.example/faultmesh\"",
		      "\"suspect\": \"{\\\"kind\\\": \\\"link\\\"");
	free(buf);
}

Test(alert_sink, a_sick_host_says_check_the_host_and_a_device_drain_it)
{
	struct alert a = t_alert();
	char buf[512];

	a.s.kind = SUSPECT_HOST;
	snprintf(a.s.from, sizeof(a.s.from), "h7");
	a.s.to[0] = 0;
	cr_expect(strstr(alert_action_format(buf, sizeof(buf), &a), "check the sick host h7"),
		  "%s", buf);
	a.s.kind = SUSPECT_DEVICE;
	cr_expect(strstr(alert_action_format(buf, sizeof(buf), &a), "drain the device h7"), "%s",
		  buf);
}

Test(alert_sink, commands_quote_a_database_path_with_spaces)
{
	struct alert_sink_env env = t_env;
	struct alert a = t_alert();
	char cmds[ALERT_COMMANDS_MAX][ALERT_COMMAND_MAX];

	env.db_path = "/tmp/my db's.db";
	cr_assert_eq(alert_commands_format(&env, &a, cmds, ALERT_COMMANDS_MAX), 3);
	cr_expect_str_eq(cmds[0], "triangulate link spine1 leaf2 --db '/tmp/my db'\\''s.db' "
				  "--window 30s");
}

/* Run the log sink with stderr into a string (malloc'd). */
static char *t_log_capture(enum alert_event ev, const struct alert *a)
{
	char path[64], err[128], *text;
	int fd, saved;

	unit_tmp_path(path, sizeof(path), "log", ".txt");
	fflush(stderr);
	saved = dup(2);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert(fd >= 0 && saved >= 0);
	dup2(fd, 2);
	close(fd);
	cr_assert_eq(alert_sink_log_ops.deliver(NULL, &t_env, ev, a, err, sizeof(err)), 0);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	text = unit_file_read(path);
	unlink(path);
	return text;
}

Test(alert_sink, log_resolve_says_the_first_clean_round_not_the_opening)
{
	struct alert a = t_alert();
	char *text;

	a.last_seen_ms = 1800000600000;
	a.clean_since_ms = 1800000610000;
	a.ends_ms = 1800000620000;
	text = t_log_capture(ALERT_RESOLVE, &a);
	cr_expect(strstr(text, "clean since 2027-01-15T08:10:10.000Z"), "%s", text);
	cr_expect(strstr(text, "for 610s") || strstr(text, "for 10m10s") ||
		  strstr(text, "after firing from 2027-01-15T08:00:00.000Z"), "%s", text);
	free(text);
}

Test(alert_sink, log_firing_line_carries_the_playbook)
{
	struct alert a = t_alert();
	char *text = t_log_capture(ALERT_FIRE, &a);

	UNIT_TEXT_HAS(text, "over 30s", "since 2027-01-15T08:00:00.000Z",
		      "dig in: triangulate link spine1 leaf2 --db /tmp/x.db --window 30s",
		      "what to do: drain the link spine1 -> leaf2",
		      "runbook: https://wiki.example/faultmesh");
	free(text);
}

static void t_resolve_keep(enum alert_event ev, const struct alert *a, void *arg)
{
	if (ev == ALERT_RESOLVE)
		*(struct alert *)arg = *a;
}

Test(alert_sink, book_marks_clean_since_at_the_first_round_without_the_suspect)
{
	struct alert_cfg cfg;
	struct alert_book *b;
	struct alert_input in = { 0 };
	struct alert got = { 0 };

	alert_cfg_default(&cfg);
	b = alert_book_new(&cfg);
	cr_assert_not_null(b);
	in.s = t_alert().s;
	for (int r = 0; r < 5; r++) /* seen at 0..40 s */
		alert_book_round(b, 1800000000000 + r * 10000, 30000, &in, 1, t_resolve_keep, &got);
	for (int r = 5; r < 8; r++) /* clean from 50 s */
		alert_book_round(b, 1800000000000 + r * 10000, 30000, NULL, 0, t_resolve_keep, &got);
	cr_assert_eq(got.ends_ms, 1800000060000, "resolved at the 2nd clean round");
	cr_assert_eq(got.clean_since_ms, 1800000050000);
	cr_assert_eq(got.starts_ms, 1800000000000);
	alert_book_free(b);
}

/* An ambiguous pair whose four names are each as long as a name can be is
 * named whole in the Alertmanager summary, the suspect's JSON name and the
 * log line (the old 136-byte buffer cut it after the second name). */
Test(alert_sink, long_ambiguous_pair_is_named_whole)
{
	struct alert a = t_alert();
	char want[SUSPECT_WHERE_MAX], *buf = NULL, *text;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	memset(a.s.from, 'a', SUSPECT_NAME_MAX - 1);
	memset(a.s.to, 'b', SUSPECT_NAME_MAX - 1);
	memset(a.s.also_from, 'c', SUSPECT_NAME_MAX - 1);
	memset(a.s.also_to, 'd', SUSPECT_NAME_MAX - 1);
	a.s.from[SUSPECT_NAME_MAX - 1] = a.s.to[SUSPECT_NAME_MAX - 1] = 0;
	a.s.also_from[SUSPECT_NAME_MAX - 1] = a.s.also_to[SUSPECT_NAME_MAX - 1] = 0;
	snprintf(want, sizeof(want), "%s -> %s | %s -> %s", a.s.from, a.s.to, a.s.also_from,
		 a.s.also_to);
	cr_assert_eq(strlen(want), 4 * (SUSPECT_NAME_MAX - 1) + 11);
	cr_assert_eq(alert_am_body_write(out, &t_env, ALERT_FIRE, &a, a.last_seen_ms), 0);
	fclose(out);
	cr_expect(strstr(buf, want), "summary or name cut: %s", buf);
	free(buf);
	text = t_log_capture(ALERT_FIRE, &a);
	cr_expect(strstr(text, want), "log line cut: %s", text);
	free(text);
}
