/* Output files written through a temporary and a rename (outfile.h), the one
 * home of the rule that a reader sees the old file or the whole new one. */
#include "outfile.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int outfile_write(const char *path, int sync, outfile_write_cb write, void *arg, char *err,
		  size_t errlen)
{
	int to_stdout = !strcmp(path, "-");
	char tmp[4096];
	FILE *f = stdout;

	err[0] = '\0';
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
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
