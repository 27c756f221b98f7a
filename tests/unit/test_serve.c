/* Tests of triangulate serve on a synthetic fabric database with a faulty
 * link: the JSON API names it as the report and the query would, unknown
 * names and other methods are refused, the connection bound holds. */
#include "serve.h"
#include "cmd.h"
#include "synth_db.h"
#include "inventory_source.h"
#include "unit_util.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define T_END_MS 1800000000000LL

static struct serve *t_srv;

/* The fabric with its fault, and serve on it: names from the inventory
 * file, or (stored = 1) from the inventory loaded into the store, with the
 * window gathered again every refresh_ms. */
static void t_serve_start(int stored, long long refresh_ms)
{
	struct synth_db_cfg c;
	struct serve_cfg cfg = { 0 };
	char err[512];
	int changed;

	unit_dir_setup();
	synth_db_cfg_default(&c);
	c.intervals = 30;
	c.interval_ms = 10000;
	c.start_ms = T_END_MS - 300000;
	synth_db_cfg_link_fault(&c, T_END_MS - 150000, T_END_MS);
	cr_assert_gt(synth_db_write(unit_dir.db, unit_dir.inv, &c, err, sizeof(err)), 0, "%s", err);
	if (stored)
		cr_assert_eq(inventory_source_load(unit_dir.inv, unit_dir.db, &changed, err,
						   sizeof(err)), 0, "%s", err);
	cfg.db = unit_dir.db;
	cfg.inventory = stored ? NULL : unit_dir.inv;
	cfg.listen = "127.0.0.1:0";
	cfg.window_ms = 120000;
	cfg.since_ms = 300000;
	cfg.refresh_ms = refresh_ms;
	cfg.down_after_ms = 60000;
	cfg.until_ms = T_END_MS;
	cfg.conn_max = 4;
	cfg.timeout_ms = 2000;
	t_srv = serve_start(&cfg, err, sizeof(err));
	cr_assert_not_null(t_srv, "%s", err);
}

static void t_setup(void)
{
	t_serve_start(0, 60000);
}

static void t_teardown(void)
{
	serve_stop(t_srv);
	unit_dir_teardown();
}

static int t_connect(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)serve_port(t_srv)) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_geq(fd, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* One request on a fresh connection; the whole response (head and body)
 * into a malloc'd string, read until the server closes (HTTP/1.0). */
static char *t_request(const char *method, const char *path)
{
	int fd = t_connect();
	size_t n = 0, cap = 1 << 16;
	char *buf = malloc(cap + 1), req[512];
	ssize_t r;

	snprintf(req, sizeof(req), "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", method, path);
	cr_assert_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };

		cr_assert_eq(poll(&p, 1, 30000), 1, "no answer to %s in 30 s", path);
		if (n == cap)
			cr_assert_not_null(buf = realloc(buf, (cap *= 2) + 1));
		r = read(fd, buf + n, cap - n);
		cr_assert_geq(r, 0);
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	return buf;
}

static int t_status(const char *resp)
{
	int code = 0;

	cr_assert_eq(sscanf(resp, "HTTP/1.%*d %d", &code), 1, "%.80s", resp);
	return code;
}

TestSuite(serve, .init = t_setup, .fini = t_teardown, .timeout = 120);

Test(serve, summary_names_the_faulty_link_as_the_report_does)
{
	char *r = t_request("GET", "/api/summary");

	cr_assert_eq(t_status(r), 200, "%.300s", r);
	cr_assert(strstr(r, "Content-Type: application/json"), "%.300s", r);
	cr_assert(strstr(r, "\"suspect_keys\": [\"link spine1 leaf2\"]"), "%s", r);
	free(r);
}

Test(serve, suspects_api_is_the_one_suspect_shape)
{
	char *r = t_request("GET", "/api/suspects");

	cr_assert_eq(t_status(r), 200, "%.300s", r);
	UNIT_TEXT_HAS(r, "{\"version\": 1, ", "\"kind\": \"link\"", "\"name\": \"spine1 -> leaf2\"",
		      "\"lossy_flows\": ");
	free(r);
}

Test(serve, link_api_is_the_query_answer)
{
	char *r = t_request("GET", "/api/link/spine1/leaf2");

	cr_assert_eq(t_status(r), 200, "%.300s", r);
	UNIT_TEXT_HAS(r, "\"subject\": \"link\"", "\"verdict\": \"dropping\"",
		      "\"history\": [\n  {");
	free(r);
	r = t_request("GET", "/api/device/leaf1");
	cr_assert_eq(t_status(r), 200, "%.300s", r);
	cr_assert(strstr(r, "\"subject\": \"device\""), "%s", r);
	free(r);
}

Test(serve, unknown_names_paths_and_methods_are_refused)
{
	static const struct {
		const char *method, *path;
		int status;
		const char *says;
	} cases[] = {
		{ "GET", "/api/device/nosuch", 404, "no device 'nosuch'" },
		{ "GET", "/api/link/spine1", 404, "want /api/link/FROM/TO" },
		{ "GET", "/link/a/b/c", 404, "not found" },
		{ "GET", "/device/", 404, "not found" },
		{ "GET", "/nothing", 404, "not found" },
		{ "POST", "/api/summary", 405, "GET only" },
		{ "DELETE", "/", 405, "GET only" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *r = t_request(cases[i].method, cases[i].path);

		cr_expect_eq(t_status(r), cases[i].status, "%s %s: %.200s", cases[i].method,
			     cases[i].path, r);
		cr_expect(strstr(r, cases[i].says), "%s %s: %s", cases[i].method,
			  cases[i].path, r);
		free(r);
	}
}

Test(serve, pages_are_self_updating_shells)
{
	char *r = t_request("GET", "/");

	cr_assert_eq(t_status(r), 200);
	cr_assert(strstr(r, "fetch('/api/report.html'"), "%s", r);
	cr_assert(strstr(r, "Cache-Control: no-store"), "%.300s", r);
	free(r);
	r = t_request("GET", "/link/spine1/leaf2");
	cr_assert_eq(t_status(r), 200);
	cr_assert(strstr(r, "id=\"chart\""));
	free(r);
}

Test(serve, connections_past_the_bound_are_not_served)
{
	int fds[4];
	char *r;

	/* four idle connections fill the bound of 4 ... */
	for (int i = 0; i < 4; i++)
		fds[i] = t_connect();
	usleep(200000);
	{
		int fd = t_connect();
		struct pollfd p = { fd, POLLIN, 0 };
		char c;

		/* ... so a fifth is closed unanswered */
		cr_assert_eq(poll(&p, 1, 5000), 1, "fifth connection neither served nor closed");
		cr_assert_leq(read(fd, &c, 1), 0, "a fifth connection was answered");
		close(fd);
	}
	for (int i = 0; i < 4; i++)
		close(fds[i]);
	usleep(200000);
	r = t_request("GET", "/api/status");
	cr_assert_eq(t_status(r), 200, "%.200s", r);
	free(r);
}

static void t_setup_stored(void)
{
	t_serve_start(1, 200);
}

/* The inventory text with device leaf1 renamed leafA (leaf10 and the like
 * kept), written to path. */
static void t_inventory_rename_write(const char *from_path, const char *path)
{
	char *text = unit_file_read(from_path), *out = malloc(2 * strlen(text) + 1), *o = out;

	cr_assert_not_null(out);
	for (const char *p = text; *p;) {
		if (!strncmp(p, "leaf1", 5) && !(p[5] >= '0' && p[5] <= '9')) {
			memcpy(o, "leafA", 5);
			o += 5;
			p += 5;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	unit_file_write(path, out);
	free(out);
	free(text);
}

/* serve without --inventory names devices from the store's inventory: when
 * a newer one is loaded while it runs (leaf1 renamed leafA), the answers
 * follow it within a few refreshes, with no restart. */
Test(serve_inventory, newer_stored_inventory_is_used_without_restart, .init = t_setup_stored,
     .fini = t_teardown, .timeout = 120)
{
	char newinv[160], err[512], *r;
	int changed, status = 0;

	r = t_request("GET", "/api/device/leaf1");
	cr_assert_eq(t_status(r), 200, "%.300s", r);
	free(r);
	r = t_request("GET", "/api/device/leafA");
	cr_assert_eq(t_status(r), 404, "leafA known before it is loaded: %.300s", r);
	free(r);
	snprintf(newinv, sizeof(newinv), "%s/inv2", unit_dir.dir);
	t_inventory_rename_write(unit_dir.inv, newinv);
	usleep(5 * 1000); /* the stamp is in ms: the new load is later */
	cr_assert_eq(inventory_source_load(newinv, unit_dir.db, &changed, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert(changed);
	for (int i = 0; i < 100 && status != 200; i++) { /* up to 10 s */
		r = t_request("GET", "/api/device/leafA");
		status = t_status(r);
		free(r);
		if (status != 200)
			usleep(100 * 1000);
	}
	cr_assert_eq(status, 200, "the newer stored inventory was not picked up");
	r = t_request("GET", "/api/device/leaf1");
	cr_expect_eq(t_status(r), 404, "the old name still answers: %.300s", r);
	free(r);
}
