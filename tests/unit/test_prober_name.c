/* Tests of the prober's default name: host name plus an id kept in the
 * spool directory, stable across restarts, distinct across spools (hosts
 * sharing a host name), and a damaged name file refused with its path. */
#include "name.h"
#include "wire.h"
#include "unit_util.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char t_dir[64];

static void t_setup(void)
{
	unit_tmp_path(t_dir, sizeof(t_dir), "name", "");
	cr_assert_eq(mkdir(t_dir, 0755), 0);
}

static void t_teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t_dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(prober_name, .init = t_setup, .fini = t_teardown);

static void t_name(const char *spool, char *name)
{
	char path[160], err[512];

	snprintf(path, sizeof(path), "%s/%s", t_dir, spool);
	cr_assert_eq(prober_name_default(path, name, WIRE_NAME_MAX, err, sizeof(err)), 0,
		     "%s", err);
}

Test(prober_name, is_the_host_name_and_an_id_kept_across_restarts)
{
	char a[WIRE_NAME_MAX], again[WIRE_NAME_MAX], host[256] = "";

	t_name("spool", a);
	cr_assert(prober_name_valid(a), "%s", a);
	gethostname(host, sizeof(host) - 1);
	cr_assert_eq(strncmp(a, host, strlen(a) - 9 < strlen(host) ? strlen(a) - 9 : strlen(host)), 0,
		     "'%s' does not start with the host name '%s'", a, host);
	cr_assert_eq(a[strlen(a) - 9], '-', "%s", a);
	t_name("spool", again);
	cr_assert_str_eq(a, again, "a restart took a new name");
}

Test(prober_name, differs_between_spools_on_hosts_sharing_a_host_name)
{
	char a[WIRE_NAME_MAX], b[WIRE_NAME_MAX];

	t_name("host1-spool", a);
	t_name("host2-spool", b);
	cr_assert_str_neq(a, b, "two spools, one name: their batch numbers would collide");
}

Test(prober_name, damaged_file_refused_naming_it)
{
	static const char *const bad[] = { "", "\n", "has space\n", "bad/slash",
		"0123456789012345678901234567890123456789012345678901234567890123\n" };
	char path[160], name[WIRE_NAME_MAX], err[512];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/s%zu", t_dir, i);
		cr_assert_eq(mkdir(path, 0700), 0);
		snprintf(path, sizeof(path), "%s/s%zu/name", t_dir, i);
		cr_assert_not_null(f = fopen(path, "w"));
		fputs(bad[i], f);
		fclose(f);
		snprintf(path, sizeof(path), "%s/s%zu", t_dir, i);
		cr_expect_eq(prober_name_default(path, name, sizeof(name), err, sizeof(err)), -1,
			     "'%s' accepted as '%s'", bad[i], name);
		cr_expect(strstr(err, "/name:1:"), "%s", err);
	}
}

Test(prober_name, wire_characters_only)
{
	cr_assert(prober_name_valid("leaf1-h3.dc2:a_b"));
	cr_assert_not(prober_name_valid(""));
	cr_assert_not(prober_name_valid("a b"));
	cr_assert_not(prober_name_valid("h\xc3\xa9"));
}
