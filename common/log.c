/* Logging to stderr with a timestamp and the program name.
 * Rate limiting keeps a flood of bad packets from flooding the log. */
#include "log.h"
#include "clock.h"

#include <stdio.h>
#include <time.h>

static const char *log_prog = "faultmesh";
static enum log_level log_max = LOG_INFO;

void log_init(const char *prog, enum log_level max_level)
{
	log_prog = prog;
	log_max = max_level;
}

static void log_vmsg(enum log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	struct timespec ts;
	struct tm tm;
	char when[32];

	if (level > log_max)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ %s %s: ", when, ts.tv_nsec / 1000000,
		log_prog, names[level]);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void log_limited(struct log_limit *lim, unsigned burst, enum log_level level,
		 const char *fmt, ...)
{
	long long now_ms = clock_mono_ms();
	va_list ap;

	if (now_ms - lim->window_start_ms >= 10000) {
		if (lim->suppressed)
			log_msg(level, "(%u similar messages suppressed)",
				lim->suppressed);
		lim->window_start_ms = now_ms;
		lim->printed = 0;
		lim->suppressed = 0;
	}
	if (lim->printed >= burst) {
		lim->suppressed++;
		return;
	}
	lim->printed++;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}
