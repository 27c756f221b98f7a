/* Targets source: where the prober's target list comes from (a targets file
 * or the collector's plan) and its refresh, without the prober waiting. */
#ifndef FM_TARGETS_SOURCE_H
#define FM_TARGETS_SOURCE_H

#include "targets.h"
#include "uplink.h"

#include <signal.h>
#include <stddef.h>

struct targets_source;

struct targets_source_cfg {
	const char *file;          /* --targets FILE; NULL: from the collector */
	struct uplink_cfg up;      /* the collector to ask (collector, name, key) */
	struct targets_defaults def; /* for keys a line leaves out */
};

/* NULL with errno ENOMEM. cfg is copied; its strings must outlive s. A list
 * from the collector may hold addresses only (no name lookups). */
struct targets_source *targets_source_open(const struct targets_source_cfg *cfg);
/* The list at start, blocking: the file, or the collector's answer with a
 * few retries (until *stop is set). 0 and a malloc'd list, or -1 with the
 * reason naming the file and line or the collector in err. */
int targets_source_first(struct targets_source *s, volatile sig_atomic_t *stop,
			 struct target_spec **out, size_t *n, char *err, size_t errlen);
/* Ask for the list again: read or fetched, and parsed (names looked up),
 * on a thread of its own, so probing never waits on a disk, the network or
 * DNS. A refresh already under way is left to finish. */
void targets_source_refresh(struct targets_source *s);
/* A finished refresh: 1 with a new malloc'd list when the text differs from
 * the last one taken; 0 when none finished or the list is the same; -1 with
 * the reason in err when it failed (the caller keeps its list). */
int targets_source_take(struct targets_source *s, struct target_spec **out, size_t *n,
			char *err, size_t errlen);
/* 1 while a refresh is still reading, fetching or parsing. */
int targets_source_running(const struct targets_source *s);
/* Where the list comes from, for logs: the file name or "collector ADDR". */
const char *targets_source_name(const struct targets_source *s);
/* Waits for a fetch under way (bounded by its timeout), then frees. */
void targets_source_close(struct targets_source *s);

#endif
