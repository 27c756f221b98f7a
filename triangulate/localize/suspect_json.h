/* The one JSON shape of a suspect (schemas/suspect.md), written by one
 * function for every place that prints suspects: localize --json, the watch's
 * hook and Alertmanager bodies, the report's summary.json, serve's API. */
#ifndef FM_TRIANGULATE_SUSPECT_JSON_H
#define FM_TRIANGULATE_SUSPECT_JSON_H

#include <stdio.h>

#include "suspect.h"

#define SUSPECT_JSON_VERSION 1 /* schemas/suspect.md; containers carry it */

/* The suspect's members, without braces, so a container can add its own
 * after them: "kind", "from", "to" (null for a device or host), "name",
 * "ambiguous_with": {"from", "to"} (only when another element is crossed
 * by the same flows: a link, or a device or host with "to" null),
 * "loss", "loss_lo", "loss_hi", "confidence", "score", "flows",
 * "lossy_flows", "probers". Returns 0 or -1 (errno). */
int suspect_json_members_write(FILE *out, const struct suspect *s);

/* The whole object: {members}. Returns 0 or -1 (errno). */
int suspect_json_write(FILE *out, const struct suspect *s);

/* "spine1 -> leaf2" for a link or blackhole, "spine1" for a device or
 * host, then " | " and the other element when ambiguous ("A -> B | C -> D",
 * "A -> B | C", "C | A -> B", "host1 | tor1"):
 * the display name every writer (JSON "name", log lines, summaries) uses. */
const char *suspect_where_format(char *buf, size_t len, const struct suspect *s);
/* A buffer that holds any suspect_where_format text whole: four names of up
 * to SUSPECT_NAME_MAX - 1 bytes, " -> " twice, " | " and the NUL. */
#define SUSPECT_WHERE_MAX (4 * SUSPECT_NAME_MAX + 12)

#endif
