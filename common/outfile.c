/* Output files written through a temporary and a rename (outfile.h), the one
 * home of the rule that a reader sees the old file or the whole new one. */
#include "outfile.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* path is not a regular file: open it and write straight into it. */
static int outfile_stream_write(const char *path, outfile_write_cb write, void *arg, char *err,
				size_t errlen)
{
	FILE *f = fopen(path, "w");
	int rc = 0;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (write(f, arg, err, errlen) < 0 || fflush(f))
		rc = -1;
	if (fclose(f))
		rc = -1;
	if (rc < 0 && !err[0])
		snprintf(err, errlen, "%s: write failed: %s", path, strerror(errno));
	return rc;
}

int outfile_write(const char *path, int sync, outfile_write_cb write, void *arg, char *err,
		  size_t errlen)
{
	int to_stdout = !strcmp(path, "-");
	char tmp[4096];
	FILE *f = stdout;
	struct stat st;

	err[0] = '\0';
	/* A device or FIFO (/dev/stdout, a named pipe) is written as it is:
	 * renaming a temporary over it would replace the device with a file. */
	if (!to_stdout && stat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return outfile_stream_write(path, write, arg, err, errlen);
	if (!to_stdout &&
	    (size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		snprintf(err, errlen, "%.64s...: path too long", path);
		return -1;
	}
	if (!to_stdout && !(f = fopen(tmp, "w"))) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	if (write(f, arg, err, errlen) < 0 || fflush(f) ||
	    (sync && !to_stdout && fsync(fileno(f)))) {
		if (!err[0])
			snprintf(err, errlen, "%s: write failed: %s", to_stdout ? "stdout" : tmp,
				 strerror(errno));
		goto fail;
	}
	if (to_stdout)
		return 0;
	if (fclose(f) || rename(tmp, path)) {
		f = NULL;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	if (!to_stdout) {
		if (f)
			fclose(f);
		unlink(tmp);
	}
	return -1;
}
