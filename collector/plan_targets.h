/* The probe plan the collector serves (triangulate plan's file, v1): each
 * prober's targets, rendered as a targets file (schemas/targets.md v1). */
#ifndef FM_COLLECTOR_PLAN_TARGETS_H
#define FM_COLLECTOR_PLAN_TARGETS_H

#include <stddef.h>

#define PLAN_TARGETS_HEADER "# faultmesh plan v1"

struct plan_targets;

/* Load a plan file. Returns NULL with "FILE:LINE: reason" (or "FILE: reason")
 * in err for an unreadable file, an unknown version or a malformed line. */
struct plan_targets *plan_targets_load(const char *path, char *err,
				       size_t errlen);
/* Parse plan text; same contract, name stands for the file in reasons. */
struct plan_targets *plan_targets_parse(const char *text, size_t len,
					const char *name, char *err,
					size_t errlen);
void plan_targets_free(struct plan_targets *p);

/* The targets file text for prober (the header line, then one "ADDR flows=N"
 * line per planned target; the header alone for a prober the plan does not
 * name), malloc'd and NUL-terminated. Returns 0 and sets *text and *len, or
 * -1 with errno (ENOMEM). */
int plan_targets_text(const struct plan_targets *p, const char *prober,
		      char **text, size_t *len);
/* Entries (prober-target pairs) in the plan. */
size_t plan_targets_count(const struct plan_targets *p);

#endif
