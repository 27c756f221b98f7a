/* Targets file: defaults, per-target keys, errors naming file and line;
 * and the targets source that re-reads it. */
#include "prober/probe.h"
#include "prober/targets.h"
#include "prober/targets_source.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct targets_defaults def = { .flows = 16, .rate_pps = 10, .dscp = 0,
					     .port = 31338, .kind = &probe_udp_ops };

Test(targets, keys_override_defaults)
{
	const char *text = "# faultmesh targets v1\n"
			   "\n# a comment\n"
			   "198.18.0.2\n"
			   "  2001:2::2 flows=64 rate=50.5 dscp=46 proto=tcp port=31339\n";
	struct target_spec *t;
	size_t n;
	char err[256];

	cr_assert_eq(targets_parse(text, strlen(text), "t", &def, &t, &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 2);
	cr_assert_eq(t[0].family, AF_INET);
	cr_assert_eq(t[0].flows, 16);
	cr_assert_eq(t[0].kind, &probe_udp_ops);
	cr_assert_eq(ntohs(((struct sockaddr_in *)&t[0].addr)->sin_port), 31338);
	cr_assert_eq(t[1].family, AF_INET6);
	cr_assert_eq(t[1].flows, 64);
	cr_assert_float_eq(t[1].rate_pps, 50.5, 1e-9);
	cr_assert_eq(t[1].dscp, 46);
	cr_assert_eq(t[1].kind, &probe_tcp_ops);
	cr_assert_eq(t[1].port, 31339);
	cr_assert_eq(ntohs(((struct sockaddr_in6 *)&t[1].addr)->sin6_port), 31339);
	free(t);
}

static const struct {
	const char *text;
	const char *err;
} bad[] = {
	{ "198.18.0.2\n", "t:1: first line must be" },
	{ "", "t: empty" },
	{ "# faultmesh targets v2\n", "t:1:" },
	{ "# faultmesh targets v1\n198.18.0.2 flows=0\n", "t:2: bad key" },
	{ "# faultmesh targets v1\n198.18.0.2 flows=257\n", "t:2: bad key" },
	{ "# faultmesh targets v1\n198.18.0.2 dscp=64\n", "t:2: bad key" },
	{ "# faultmesh targets v1\n198.18.0.2 proto=icmp\n", "t:2: unknown proto" },
	{ "# faultmesh targets v1\n198.18.0.2 flows\n", "t:2: expected key=value" },
	{ "# faultmesh targets v1\n198.18.0.2 rate=fast\n", "t:2: rate: 'fast' is not a number" },
	{ "# faultmesh targets v1\n\n198.18.0.2\n198.18.0.2 x=1\n", "t:4: bad key" },
};

Test(targets, errors_name_file_and_line)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct target_spec *t = NULL;
		size_t n;
		char err[256];

		cr_assert_eq(targets_parse(bad[i].text, strlen(bad[i].text), "t", &def, &t, &n, err,
					   sizeof(err)), -1, "case %zu accepted", i);
		cr_assert(strstr(err, bad[i].err), "case %zu: '%s' lacks '%s'", i, err, bad[i].err);
	}
}

/* The targets source over a file: a refresh hands out a list only when the
 * text changed, and a broken file is an error naming file and line while
 * the last good list stays the one compared against. */
static void file_put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

/* Ask for a refresh and wait (bounded) until it has run. */
static void refresh_wait(struct targets_source *s)
{
	targets_source_refresh(s);
	for (int i = 0; i < 500 && targets_source_running(s); i++)
		usleep(10000);
	cr_assert(!targets_source_running(s), "refresh still running after 5 s");
}

Test(targets_source, refresh_hands_out_only_a_changed_list)
{
	char path[] = "/tmp/fm-ts-XXXXXX";
	int fd = mkstemp(path);
	struct targets_source_cfg cfg = { .file = path, .def = def };
	struct targets_source *s;
	struct target_spec *t = NULL;
	size_t n = 0;
	char err[256];
	volatile sig_atomic_t stop = 0;

	cr_assert_geq(fd, 0);
	close(fd);
	file_put(path, "# faultmesh targets v1\n198.18.0.2\n");
	s = targets_source_open(&cfg);
	cr_assert_not_null(s);
	cr_assert_eq(targets_source_first(s, &stop, &t, &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 1);
	free(t);
	cr_expect_eq(targets_source_take(s, &t, &n, err, sizeof(err)), 0, "no refresh asked");

	refresh_wait(s);
	cr_expect_eq(targets_source_take(s, &t, &n, err, sizeof(err)), 0, "same text");

	file_put(path, "# faultmesh targets v1\n198.18.0.2\n198.18.0.3 flows=4\n");
	refresh_wait(s);
	cr_assert_eq(targets_source_take(s, &t, &n, err, sizeof(err)), 1, "%s", err);
	cr_expect_eq(n, 2);
	cr_expect_eq(t[1].flows, 4);
	free(t);

	file_put(path, "# faultmesh targets v1\n198.18.0.2\n198.18.0.3 flows=999\n");
	refresh_wait(s);
	cr_assert_eq(targets_source_take(s, &t, &n, err, sizeof(err)), -1);
	cr_expect(strstr(err, path) && strstr(err, ":3"), "error names file and line: %s", err);

	/* back to the list in use: nothing new to apply */
	file_put(path, "# faultmesh targets v1\n198.18.0.2\n198.18.0.3 flows=4\n");
	refresh_wait(s);
	cr_expect_eq(targets_source_take(s, &t, &n, err, sizeof(err)), 0);

	unlink(path);
	refresh_wait(s);
	cr_expect_eq(targets_source_take(s, &t, &n, err, sizeof(err)), -1);
	cr_expect(strstr(err, path) != NULL, "%s", err);
	targets_source_close(s);
}

/* A list served over the network names addresses only: a host name there
 * is an error naming the line, and no lookup is made for it. */
Test(targets, served_list_takes_addresses_not_names)
{
	struct targets_defaults d = def;
	const char *text = "# faultmesh targets v1\n198.18.0.2\nlocalhost flows=2\n";
	struct target_spec *t = NULL;
	size_t n = 0;
	char err[256];

	d.numeric_only = 1;
	cr_assert_eq(targets_parse(text, strlen(text), "collector x", &d, &t, &n, err, sizeof(err)), -1);
	cr_expect(strstr(err, "collector x:3") && strstr(err, "not an address"), "%s", err);
	d.numeric_only = 0;
	cr_assert_eq(targets_parse(text, strlen(text), "file", &d, &t, &n, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(n, 2);
	free(t);
}

/* A NUL or other control byte inside a line (a damaged or hostile list) is
 * an error naming the line, not a line cut short. */
Test(targets, control_bytes_in_a_line_are_refused)
{
	static const char text[] = "# faultmesh targets v1\n198.19.4\0.1 flows=2\n";
	struct target_spec *t = NULL;
	size_t n = 0;
	char err[256];

	cr_assert_eq(targets_parse(text, sizeof(text) - 1, "served", &def, &t, &n, err, sizeof(err)), -1);
	cr_expect(strstr(err, "served:2") && strstr(err, "control character"), "%s", err);
}
