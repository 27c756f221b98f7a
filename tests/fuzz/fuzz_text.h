/* What the fuzz targets of text-file parsers share: the input as an
 * exact-size copy, named "fuzz", and the rule that every refusal names it. */
#ifndef FM_FUZZ_TEXT_H
#define FM_FUZZ_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Parse text (len bytes, not NUL-ended) named name; on success check what
 * was parsed (abort() on anything the format forbids) and return 0; on a
 * refusal return -1 with the reason in err. */
typedef int (*fuzz_text_parse_cb)(const char *text, size_t len, const char *name, char *err,
				  size_t errlen);

/* Run parse on data; abort() when it refuses without naming the input. */
static inline int fuzz_text_run(const uint8_t *data, size_t size, fuzz_text_parse_cb parse)
{
	char err[512] = "";
	char *copy = malloc(size ? size : 1);

	if (!copy)
		abort();
	/* an exact-size copy, not NUL-terminated, so over-reads trip ASan */
	memcpy(copy, data, size);
	if (parse(copy, size, "fuzz", err, sizeof(err)) < 0 && !strstr(err, "fuzz"))
		abort(); /* every error names the input */
	free(copy);
	return 0;
}

#endif
