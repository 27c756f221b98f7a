/* Logging to stderr with a timestamp and the program name, once at the edge.
 * Low-level modules never call this; they return errors with context. */
#ifndef FM_LOG_H
#define FM_LOG_H

#include <stdarg.h>

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_init(const char *prog, enum log_level max_level);
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Rate-limited variant for per-packet or per-frame events: at most `burst`
 * messages per 10 s for the given key slot; suppressed ones are counted and
 * reported with the next message that gets through. */
struct log_limit {
	long long window_start_ms;
	unsigned printed;
	unsigned suppressed;
};
void log_limited(struct log_limit *lim, unsigned burst, enum log_level level,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
