/* Helpers the unit tests share: scratch paths under /tmp, removing a
 * store with its SQLite side files, and running a command with its stdout
 * captured. Linked into every unit test (Makefile: UNIT_UTIL). */
#ifndef FM_TESTS_UNIT_UTIL_H
#define FM_TESTS_UNIT_UTIL_H

#include <stddef.h>

/* "/tmp/fm-<tag>-<pid><suffix>" into buf. */
void unit_tmp_path(char *buf, size_t buflen, const char *tag, const char *suffix);

/* Unlink a store file and its -wal and -shm files. */
void unit_db_remove(const char *db_path);

/* Run cmd(argc, argv) (cmd NULL: nothing runs, the code is -1) with stdout
 * into out_path; returns its exit code and the output (malloc'd, NUL
 * ended) in *text. getopt's state is reset first. */
int unit_stdout_capture(const char *out_path, int (*cmd)(int, char **), int argc, char **argv,
			char **text);

/* Run cmd(argc, argv) with stdout to /dev/null; returns its exit code. */
int unit_stdout_quiet(int (*cmd)(int, char **), int argc, char **argv);

#endif
