/* Scoring suspects against a simulator truth file (format in sim.h):
 * precision, recall and whether the top-ranked suspect is a real fault. */
#ifndef FM_TRIANGULATE_SCORE_H
#define FM_TRIANGULATE_SCORE_H

#include <stddef.h>

#include "suspect.h"

struct truth_item {
	enum suspect_kind kind;
	char a[SUSPECT_NAME_MAX], b[SUSPECT_NAME_MAX]; /* b only for links */
	double loss;
	int shown; /* the oracle says the data can show it (1 for v1 files) */
};

struct truth {
	struct truth_item *v;
	size_t n;
};

struct score {
	size_t suspects, correct; /* suspects, and those naming a real fault */
	size_t faults, found;     /* truth items, and those some suspect names */
	size_t oracle_faults, oracle_found; /* the same, over the faults shown */
	double precision, recall; /* 1 when there is nothing to get wrong */
	double oracle_recall;     /* found / faults the oracle can show */
	int top1;                 /* the first suspect names a real fault */
};

/* Parse a truth text; returns 0, or -1 with "NAME:LINE: reason" in err. */
int truth_parse(struct truth *t, const char *buf, size_t len, const char *name,
		char *err, size_t errlen);
int truth_file_read(struct truth *t, const char *path, char *err, size_t errlen);
void truth_free(struct truth *t);

/* A link or blackhole suspect names a fault on that link, or a faulty device
 * or host at either end; a device suspect names that device; a host suspect
 * names that host. An ambiguous suspect (also_from) names a fault on
 * either of its two elements, a link counting as above. */
int score_suspect_matches(const struct suspect *s, const struct truth_item *t);
void score_compute(const struct truth *t, const struct suspect_list *l,
		   struct score *out);

#endif
