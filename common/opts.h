/* One option table drives getopt_long, --help text, defaults and range checks.
 * Each program describes its config struct once as an array of struct opt_spec. */
#ifndef FM_OPTS_H
#define FM_OPTS_H

#include <stddef.h>
#include <stdio.h>

enum opt_type {
	OPT_FLAG,   /* int, set to 1 when present */
	OPT_INT,    /* long long field, range [min,max] */
	OPT_DOUBLE, /* double field, range [min,max] */
	OPT_STR,    /* char * field, points into argv or the default string */
	OPT_MS,     /* long long milliseconds; 500ms, 10s, 5m, 2h, 7d (a unit is required) */
};

struct opt_spec {
	const char *long_name;
	int short_name;      /* 0 for long-only */
	enum opt_type type;
	size_t offset;       /* offsetof(struct cfg, field) */
	double min, max;     /* inclusive range for OPT_INT, OPT_DOUBLE, OPT_MS */
	const char *def;     /* default as text, parsed like a command-line value; NULL = zero */
	const char *metavar; /* shown in --help, e.g. "FILE" */
	const char *help;
};

#define OPTS_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Result of opts_parse beyond a plain index. */
enum { OPTS_HELP = -2, OPTS_VERSION = -3, OPTS_ERROR = -1 };

/* Fill cfg with defaults, then parse argv. Returns the index of the first
 * non-option argument, OPTS_HELP / OPTS_VERSION when asked for, or OPTS_ERROR
 * with a message naming the option in err. */
int opts_parse(const struct opt_spec *specs, size_t n, void *cfg, int argc,
	       char **argv, char *err, size_t errlen);

/* Print usage and one line per option (with default and range) to out. */
void opts_usage(FILE *out, const char *synopsis, const char *about,
		const struct opt_spec *specs, size_t n);

/* Parse a duration like "500ms", "10s", "5m", "2h", "7d". A unit is
 * required (a bare "10" could mean seconds or minutes); only "0" may go
 * without. Returns 0 and sets *ms, or -1 with errno EINVAL. */
int opts_duration_parse(const char *s, long long *ms);

/* A duration in the largest unit that states it exactly, as people write it
 * and opts_duration_parse reads it: 21600000 -> "6h", 90000 -> "90s",
 * 1500 -> "1500ms". Returns buf. */
char *opts_duration_format(char *buf, size_t len, long long ms);

/* Handle the OPTS_* result in a program's main: prints help/version/error.
 * Returns the process exit code to use, or -1 if parsing succeeded. */
int opts_main_result(int rc, const char *prog, const char *synopsis,
		     const char *about, const struct opt_spec *specs, size_t n,
		     const char *err);

/* A command's whole command line, stated once: who it is, its usage line,
 * its --help paragraph and its option table. */
struct opts_cmd {
	const char *prog;             /* as messages name it: "triangulate plan" */
	const char *synopsis;         /* the usage line */
	const char *about;            /* the --help paragraph */
	const struct opt_spec *specs; /* the table: every flag and its default */
	size_t n;                     /* rows in specs */
};

#define OPTS_CMD(prog, synopsis, about, specs) \
	{ (prog), (synopsis), (about), (specs), OPTS_LEN(specs) }

/* The one entry of a command: defaults, then argv, by c's table, with
 * --help, --version and option errors answered as opts_main_result does.
 * Returns the index of the first non-option argument, or -1 when the
 * command is done, with its exit code (0 or 2) in *exit_code. */
int opts_cmd_parse(const struct opts_cmd *c, void *cfg, int argc, char **argv,
		   int *exit_code);

/* Print "usage: SYNOPSIS" to stderr, for a command line whose arguments
 * are wrong. Returns 2, the exit code for it. */
int opts_cmd_usage_fail(const struct opts_cmd *c);

/* Print "PROG: MESSAGE" to stderr, for options that parse but do not make
 * a valid command (one required is missing, two conflict). Returns 2. */
int opts_cmd_refuse(const struct opts_cmd *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Print "PROG: ERR" to stderr, for a command that could not do its job.
 * Returns 1, the exit code for it. */
int opts_cmd_fail(const struct opts_cmd *c, const char *err);

#endif
