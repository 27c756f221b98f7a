/* Whole-file reading and line splitting for the line-oriented exchange
 * formats (observations, inventory), shared so each parser stays small. */
#ifndef FM_TEXTIO_H
#define FM_TEXTIO_H

#include <stddef.h>

/* Read a whole file into a malloc'd, NUL-terminated buffer. Returns 0 and
 * sets *buf and *len, or -1 with errno (the caller names the file). */
int textio_file_read(const char *path, char **buf, size_t *len);

/* Parses buf[0..len) into obj; name is the file name for errors. */
typedef int (*textio_parse_cb)(void *obj, const char *buf, size_t len,
			       const char *name, char *err, size_t errlen);

/* Read the file at path and hand it to parse (the one home of "read, parse,
 * free" for the line formats). Returns parse's result, or -1 with err naming
 * the path when the file cannot be read. */
int textio_file_parse(const char *path, textio_parse_cb parse, void *obj,
		      char *err, size_t errlen);

/* Iterates over lines of buf[0..len): returns 1 and sets *line and *line_len
 * (without the newline or a trailing CR), or 0 at the end. *pos starts at 0. */
int textio_line_next(const char *buf, size_t len, size_t *pos,
		     const char **line, size_t *line_len);

/* Split a line at tabs into at most max fields (pointers and lengths).
 * Returns the number of fields found; more than max returns max + 1. */
size_t textio_fields_split(const char *line, size_t len, const char **fields,
			   size_t *lens, size_t max);

#endif
