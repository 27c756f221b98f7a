/* Option-table parsing: builds getopt_long's tables from struct opt_spec,
 * applies defaults from the same table, and checks every value's range. */
#include "opts.h"
#include "version.h"

#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

int opts_duration_parse(const char *s, long long *ms)
{
	static const struct {
		const char *suffix;
		double ms;
	} units[] = { { "ms", 1 },	    { "s", 1000 },	{ "m", 60000 },
		      { "h", 3600000 }, { "d", 86400000 } };
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || v < 0) {
		errno = EINVAL;
		return -1;
	}
	/* a bare number could mean seconds or minutes: only zero needs no unit */
	if (!*end && v == 0) {
		*ms = 0;
		return 0;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suffix) == 0) {
			*ms = (long long)(v * units[i].ms + 0.5);
			return 0;
		}
	}
	errno = EINVAL;
	return -1;
}

char *opts_duration_format(char *buf, size_t len, long long ms)
{
	static const struct {
		const char *suffix;
		long long ms;
	} units[] = { { "d", 86400000 }, { "h", 3600000 }, { "m", 60000 },
		      { "s", 1000 } };

	if (ms == 0) {
		snprintf(buf, len, "0s");
		return buf;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (ms % units[i].ms == 0) {
			snprintf(buf, len, "%lld%s", ms / units[i].ms, units[i].suffix);
			return buf;
		}
	}
	if (ms >= 60000) /* not whole: one decimal of the largest unit that fits */
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (ms >= units[i].ms) {
				snprintf(buf, len, "%.1f%s", (double)ms / (double)units[i].ms,
					 units[i].suffix);
				return buf;
			}
	snprintf(buf, len, "%lldms", ms);
	return buf;
}

static int opt_value_set(const struct opt_spec *o, void *cfg, const char *val,
			 char *err, size_t errlen)
{
	char *field = (char *)cfg + o->offset;
	char *end;
	long long ll;
	double d;

	switch (o->type) {
	case OPT_FLAG:
		*(int *)field = val ? atoi(val) != 0 : 1;
		return 0;
	case OPT_STR:
		*(const char **)field = val;
		return 0;
	case OPT_INT:
		errno = 0;
		ll = strtoll(val, &end, 0);
		if (errno || end == val || *end) {
			snprintf(err, errlen, "--%s: '%s' is not an integer",
				 o->long_name, val);
			return -1;
		}
		d = (double)ll;
		*(long long *)field = ll;
		break;
	case OPT_DOUBLE:
		errno = 0;
		d = strtod(val, &end);
		if (errno || end == val || *end) {
			snprintf(err, errlen, "--%s: '%s' is not a number",
				 o->long_name, val);
			return -1;
		}
		*(double *)field = d;
		break;
	case OPT_MS:
		if (opts_duration_parse(val, &ll) < 0) {
			strtod(val, &end);
			if (end != val && !*end)
				snprintf(err, errlen,
					 "--%s: '%s' needs a unit (e.g. %ss, %sm, %sh)",
					 o->long_name, val, val, val, val);
			else
				snprintf(err, errlen,
					 "--%s: '%s' is not a duration (e.g. 500ms, 10s, 5m, 2h, 7d)",
					 o->long_name, val);
			return -1;
		}
		d = (double)ll;
		*(long long *)field = ll;
		break;
	default:
		snprintf(err, errlen, "--%s: bad option type", o->long_name);
		return -1;
	}
	if (o->min != o->max && (d < o->min || d > o->max)) {
		char lo[32], hi[32];

		if (o->type == OPT_MS)
			snprintf(err, errlen, "--%s: %s is outside [%s, %s]", o->long_name,
				 val, opts_duration_format(lo, sizeof(lo), (long long)o->min),
				 opts_duration_format(hi, sizeof(hi), (long long)o->max));
		else
			snprintf(err, errlen, "--%s: %s is outside [%g, %g]",
				 o->long_name, val, o->min, o->max);
		return -1;
	}
	return 0;
}

int opts_parse(const struct opt_spec *specs, size_t n, void *cfg, int argc,
	       char **argv, char *err, size_t errlen)
{
	struct option *longs;
	char shorts[256];
	size_t ns = 0;
	int rc = OPTS_ERROR;

	err[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (specs[i].def &&
		    opt_value_set(&specs[i], cfg, specs[i].def, err, errlen) < 0)
			return OPTS_ERROR;
	}
	longs = calloc(n + 3, sizeof(*longs));
	if (!longs) {
		snprintf(err, errlen, "out of memory");
		return OPTS_ERROR;
	}
	shorts[ns++] = ':';
	for (size_t i = 0; i < n; i++) {
		longs[i].name = specs[i].long_name;
		longs[i].has_arg = specs[i].type == OPT_FLAG ? no_argument
							     : required_argument;
		longs[i].val = 256 + (int)i;
		if (specs[i].short_name && ns + 3 < sizeof(shorts)) {
			shorts[ns++] = (char)specs[i].short_name;
			if (specs[i].type != OPT_FLAG)
				shorts[ns++] = ':';
		}
	}
	longs[n].name = "help";
	longs[n].val = 'h';
	longs[n + 1].name = "version";
	longs[n + 1].val = 'V';
	shorts[ns++] = 'h';
	shorts[ns] = '\0';

	optind = 1;
	opterr = 0;
	for (;;) {
		int longidx = -1;
		int c = getopt_long(argc, argv, shorts, longs, &longidx);
		const struct opt_spec *o = NULL;

		if (c == -1)
			break;
		if (c == 'h') {
			rc = OPTS_HELP;
			goto out;
		}
		if (c == 'V') {
			rc = OPTS_VERSION;
			goto out;
		}
		if (c == '?' || c == ':') {
			snprintf(err, errlen, "%s option '%s'",
				 c == ':' ? "missing value for" : "unknown",
				 argv[optind - 1]);
			goto out;
		}
		if (c >= 256)
			o = &specs[c - 256];
		for (size_t i = 0; !o && i < n; i++)
			if (specs[i].short_name == c)
				o = &specs[i];
		if (!o || opt_value_set(o, cfg, optarg, err, errlen) < 0) {
			if (!err[0])
				snprintf(err, errlen, "unknown option");
			goto out;
		}
	}
	rc = optind;
out:
	free(longs);
	return rc;
}

void opts_usage(FILE *out, const char *synopsis, const char *about,
		const struct opt_spec *specs, size_t n)
{
	fprintf(out, "usage: %s\n", synopsis);
	if (about)
		fprintf(out, "\n%s\n", about);
	fprintf(out, "\noptions:\n");
	for (size_t i = 0; i < n; i++) {
		const struct opt_spec *o = &specs[i];
		char left[64];

		if (o->short_name)
			snprintf(left, sizeof(left), "-%c, --%s%s%s",
				 o->short_name, o->long_name,
				 o->metavar ? " " : "", o->metavar ? o->metavar : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", o->long_name,
				 o->metavar ? " " : "", o->metavar ? o->metavar : "");
		fprintf(out, "  %-30s %s", left, o->help);
		if (o->def && o->type != OPT_FLAG)
			fprintf(out, " (default %s)", o->def);
		fputc('\n', out);
	}
	fprintf(out, "  %-30s %s\n", "-h, --help", "show this help");
	fprintf(out, "  %-30s %s\n", "    --version", "show the version");
}

int opts_main_result(int rc, const char *prog, const char *synopsis,
		     const char *about, const struct opt_spec *specs, size_t n,
		     const char *err)
{
	switch (rc) {
	case OPTS_HELP:
		opts_usage(stdout, synopsis, about, specs, n);
		return 0;
	case OPTS_VERSION:
		printf("%s (faultmesh) %s\n", prog, FM_VERSION);
		return 0;
	case OPTS_ERROR:
		fprintf(stderr, "%s: %s\n", prog, err);
		fprintf(stderr, "try '%s --help'\n", prog);
		return 2;
	default:
		return -1;
	}
}

int opts_cmd_parse(const struct opts_cmd *c, void *cfg, int argc, char **argv,
		   int *exit_code)
{
	char err[1024];
	int idx = opts_parse(c->specs, c->n, cfg, argc, argv, err, sizeof(err));

	*exit_code = opts_main_result(idx, c->prog, c->synopsis, c->about, c->specs,
				      c->n, err);
	return *exit_code >= 0 ? -1 : idx;
}

int opts_cmd_usage_fail(const struct opts_cmd *c)
{
	fprintf(stderr, "usage: %s\n", c->synopsis);
	return 2;
}

int opts_cmd_refuse(const struct opts_cmd *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", c->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 2;
}

int opts_cmd_fail(const struct opts_cmd *c, const char *err)
{
	fprintf(stderr, "%s: %s\n", c->prog, err);
	return 1;
}
