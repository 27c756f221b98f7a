/* An output file written whole or not at all: PATH.tmp beside it, renamed
 * into place once complete ("-" is stdout), so a reader never sees half a file. */
#ifndef FM_OUTFILE_H
#define FM_OUTFILE_H

#include <stddef.h>
#include <stdio.h>

/* Write the whole output to f. Returns 0, or -1 with a reason in err (left
 * empty: the write failed, and errno says why). */
typedef int (*outfile_write_cb)(FILE *f, void *arg, char *err, size_t errlen);

/* Write path ("-": stdout) with write(f, arg): into PATH.tmp, flushed (and
 * with sync, fsynced), then renamed over path. Returns 0, or -1 with err
 * naming the file; on failure the temporary is removed and path untouched.
 * A path that exists and is not a regular file (a device, a FIFO) is written
 * directly, never replaced. */
int outfile_write(const char *path, int sync, outfile_write_cb write, void *arg, char *err,
		  size_t errlen);

#endif
