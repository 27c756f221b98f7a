/* The collector serving probe plans: plan file checks (file:line), and over
 * loopback TCP a wants-targets HELLO answered with that prober's list, an
 * unknown prober with an empty one, an old-style HELLO with nothing extra. */
#include "collector/plan_targets.h"
#include "collector/server.h"
#include "wire.h"
#include "store.h"
#include "unit_util.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static const char plan_text[] =
	"# faultmesh plan v1\n"
	"h1\th5\t10.0.2.1\t8\n"
	"h2\th1\t10.0.1.1\t4\n"
	"h1\th9\t2001:db8::9\t16\n";

static struct unit_collector col;
static struct plan_targets *plan;

static void collector_start(int with_plan)
{
	struct server_cfg cfg = { 0 };
	char err[512], path[128];

	unit_collector_store_open(&col, "plan");
	plan = NULL;
	if (with_plan) {
		snprintf(path, sizeof(path), "%s/plan", col.dir);
		unit_file_write(path, plan_text);
		plan = plan_targets_load(path, err, sizeof(err));
		cr_assert_not_null(plan, "%s", err);
	}
	cfg.plan = plan;
	unit_collector_serve(&col, &cfg);
}

static void collector_stop(void)
{
	unit_collector_stop(&col);
	plan_targets_free(plan);
}

static void setup_plan(void)
{
	collector_start(1);
}

static void setup_noplan(void)
{
	collector_start(0);
}

static int client_connect(void)
{
	return unit_collector_connect(&col);
}

/* HELLO with the flag as name, then the TARGETS text it is answered with. */
static char *targets_ask(const char *name)
{
	uint8_t *buf, f[4096];
	size_t len;
	char *text, err[128];
	int fd = client_connect();

	cr_assert_eq(wire_hello_encode_flags(name, WIRE_FLAG_WANT_TARGETS, &buf, &len), 0);
	unit_send_frame(fd, buf, len);
	cr_assert_eq(unit_recv_frame(fd, f, sizeof(f), &len), WIRE_TARGETS);
	cr_assert_eq(wire_targets_decode(f + 16, len - 16, &text, &len, err, sizeof(err)), 0,
		     "%s", err);
	close(fd);
	return text;
}

Test(collector_plan, wants_targets_hello_gets_its_list, .init = setup_plan, .fini = collector_stop)
{
	char *t = targets_ask("h1");

	cr_assert_str_eq(t, "# faultmesh targets v1\n10.0.2.1 flows=8\n2001:db8::9 flows=16\n");
	free(t);
	t = targets_ask("h2");
	cr_assert_str_eq(t, "# faultmesh targets v1\n10.0.1.1 flows=4\n");
	free(t);
}

Test(collector_plan, unknown_prober_gets_empty_list, .init = setup_plan, .fini = collector_stop)
{
	char *t = targets_ask("h7");

	cr_assert_str_eq(t, "# faultmesh targets v1\n");
	free(t);
}

/* An old prober: plain HELLO, then a batch; the first frame back is its ACK. */
Test(collector_plan, old_hello_gets_nothing_extra, .init = setup_plan, .fini = collector_stop)
{
	struct wire_batch b = { .seq = 1, .start_ms = 1700000000000, .end_ms = 1700000010000 };
	struct pollfd pfd;
	uint8_t *buf, f[256];
	size_t len;
	uint64_t seq;
	char err[128];
	int fd = client_connect();

	strcpy(b.prober, "h1");
	cr_assert_eq(wire_hello_encode("h1", &buf, &len), 0);
	unit_send_frame(fd, buf, len);
	pfd.fd = fd;
	pfd.events = POLLIN;
	cr_assert_eq(poll(&pfd, 1, 300), 0, "collector answered a plain HELLO");
	cr_assert_eq(wire_batch_encode(&b, &buf, &len), 0);
	unit_send_frame(fd, buf, len);
	cr_assert_eq(unit_recv_frame(fd, f, sizeof(f), &len), WIRE_ACK);
	cr_assert_eq(wire_ack_decode(f + 16, len - 16, &seq, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(seq, 1);
	close(fd);
}

Test(collector_plan, no_plan_answers_error, .init = setup_noplan, .fini = collector_stop)
{
	uint8_t *buf, f[2048];
	size_t len;
	char reason[1100], err[128];
	int fd = client_connect();

	cr_assert_eq(wire_hello_encode_flags("h1", WIRE_FLAG_WANT_TARGETS, &buf, &len), 0);
	unit_send_frame(fd, buf, len);
	cr_assert_eq(unit_recv_frame(fd, f, sizeof(f), &len), WIRE_ERROR);
	cr_assert_eq(wire_error_decode(f + 16, len - 16, reason, sizeof(reason), err, sizeof(err)), 0);
	cr_assert(strstr(reason, "no plan"), "%s", reason);
	close(fd);
}

static const struct unit_bad_text plan_bad_cases[] = {
	{ "# faultmesh plan v2\nh1\th5\t10.0.2.1\t8\n", "plan:1: unknown version" },
	{ "h1\th5\t10.0.2.1\t8\n", "plan:1: unknown version" },
	{ "# faultmesh plan v1\nh1\th5\t10.0.2.1\t8\nh1\th5\t10.0.2.1\n", "plan:3: expected" },
	{ "# faultmesh plan v1\nh1\th5\t10.0.2.1\t8\textra\n", "plan:2: expected" },
	{ "# faultmesh plan v1\n\nh1\th5\tnot-an-ip\t8\n", "plan:3: bad target address" },
	{ "# faultmesh plan v1\nh1\th5\t10.0.2.1\t0\n", "plan:2: flow count" },
	{ "# faultmesh plan v1\nh1\th5\t10.0.2.1\t257\n", "plan:2: flow count" },
	{ "# faultmesh plan v1\nh1\th5\t10.0.2.1\t8x\n", "plan:2: flow count" },
	{ "# faultmesh plan v1\nh 1\th5\t10.0.2.1\t8\n", "plan:2: bad character" },
	{ "# faultmesh plan v1\n\th5\t10.0.2.1\t8\n", "plan:2: prober name" },
	{ "", "plan: empty" },
};

static int t_plan_parse(const char *text, size_t len, const char *name, char *err,
			size_t errlen)
{
	struct plan_targets *p = plan_targets_parse(text, len, name, err, errlen);
	int rc = p ? 0 : -1;

	plan_targets_free(p);
	return rc;
}

Test(collector_plan, malformed_plan_rejected_with_file_line)
{
	unit_bad_texts_check(plan_bad_cases, sizeof(plan_bad_cases) / sizeof(plan_bad_cases[0]),
			     "plan", t_plan_parse);
}

Test(collector_plan, load_names_the_file)
{
	char d[] = "/tmp/fm-test-planf-XXXXXX", path[96], want[128], err[256];
	struct plan_targets *p;

	cr_assert_not_null(mkdtemp(d));
	snprintf(path, sizeof(path), "%s/plan.tsv", d);
	unit_file_write(path, "# faultmesh plan v1\n# comment\nh1\th5\t10.0.2.1\n");
	cr_assert_null(plan_targets_load(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s:3: expected", path);
	cr_assert(strstr(err, want), "%s", err);
	unit_file_write(path, plan_text);
	p = plan_targets_load(path, err, sizeof(err));
	cr_assert_not_null(p, "%s", err);
	cr_assert_eq(plan_targets_count(p), 3);
	plan_targets_free(p);
	unlink(path);
	rmdir(d);
	snprintf(path, sizeof(path), "%s/missing", d);
	cr_assert_null(plan_targets_load(path, err, sizeof(err)));
	cr_assert(strstr(err, path), "%s", err);
}
