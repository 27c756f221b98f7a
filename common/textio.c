/* Whole-file reads and allocation-free line/field splitting for the
 * observations and inventory parsers. */
#include "textio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int textio_file_read(const char *path, char **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 1 << 16, n = 0;
	char *b = NULL;
	int saved;

	if (!f)
		return -1;
	for (;;) {
		char *nb;
		size_t got;

		if (n + 1 >= cap || !b) {
			if (b)
				cap *= 2;
			nb = realloc(b, cap);
			if (!nb)
				goto err;
			b = nb;
		}
		got = fread(b + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0) {
			if (ferror(f)) {
				errno = EIO;
				goto err;
			}
			break;
		}
	}
	fclose(f);
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
err:
	saved = errno;
	free(b);
	fclose(f);
	errno = saved;
	return -1;
}

int textio_file_parse(const char *path, textio_parse_cb parse, void *obj,
		      char *err, size_t errlen)
{
	char *buf;
	size_t len;
	int rc;

	if (textio_file_read(path, &buf, &len) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = parse(obj, buf, len, path, err, errlen);
	free(buf);
	return rc;
}

int textio_line_next(const char *buf, size_t len, size_t *pos,
		     const char **line, size_t *line_len)
{
	const char *start, *nl;
	size_t l;

	if (*pos >= len)
		return 0;
	start = buf + *pos;
	nl = memchr(start, '\n', len - *pos);
	l = nl ? (size_t)(nl - start) : len - *pos;
	*pos += l + (nl ? 1 : 0);
	if (l && start[l - 1] == '\r')
		l--;
	*line = start;
	*line_len = l;
	return 1;
}

size_t textio_fields_split(const char *line, size_t len, const char **fields,
			   size_t *lens, size_t max)
{
	size_t n = 0, i = 0;

	for (;;) {
		const char *tab = memchr(line + i, '\t', len - i);
		size_t end = tab ? (size_t)(tab - line) : len;

		if (n == max)
			return max + 1;
		fields[n] = line + i;
		lens[n] = end - i;
		n++;
		if (!tab)
			return n;
		i = end + 1;
	}
}
