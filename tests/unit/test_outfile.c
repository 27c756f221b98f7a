/* Tests of outfile_write, the one whole-file writer: a regular file is
 * replaced whole or left as it was; a FIFO or device is written, never replaced. */
#include "outfile.h"
#include "unit_util.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int text_write(FILE *f, void *arg, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	return fputs(arg, f) < 0 ? -1 : 0;
}

static int fail_write(FILE *f, void *arg, char *err, size_t errlen)
{
	(void)arg;
	fputs("half", f);
	snprintf(err, errlen, "the writer gave up");
	return -1;
}

TestSuite(outfile, .init = unit_dir_setup, .fini = unit_dir_teardown);

static void file_expect(const char *path, const char *want)
{
	char got[64] = "";
	FILE *f = fopen(path, "r");

	cr_assert_not_null(f, "%s missing", path);
	cr_assert(fread(got, 1, sizeof(got) - 1, f) < sizeof(got));
	fclose(f);
	cr_assert_str_eq(got, want);
}

Test(outfile, a_failed_write_leaves_the_old_file_and_no_temporary)
{
	char path[256], tmp[300], err[256];

	snprintf(path, sizeof(path), "%s/out.json", unit_dir.dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	cr_assert_eq(outfile_write(path, 1, text_write, "old\n", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(outfile_write(path, 0, fail_write, NULL, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "the writer gave up");
	file_expect(path, "old\n");
	cr_assert_neq(access(tmp, F_OK), 0, "the temporary stayed behind");
}

Test(outfile, a_fifo_is_written_into_and_stays_a_fifo)
{
	char path[256], err[256], got[64] = "";
	struct stat st;
	int rd;

	snprintf(path, sizeof(path), "%s/pipe", unit_dir.dir);
	cr_assert_eq(mkfifo(path, 0600), 0);
	/* a reader first, so the writer's open does not block */
	rd = open(path, O_RDONLY | O_NONBLOCK);
	cr_assert_geq(rd, 0);
	cr_assert_eq(outfile_write(path, 1, text_write, "through\n", err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert(S_ISFIFO(st.st_mode), "the FIFO was replaced by a file");
	cr_assert_eq(read(rd, got, sizeof(got) - 1), 8);
	cr_assert_str_eq(got, "through\n");
	close(rd);
}
