/* Suspect writers behind one interface: a ranked table for people, one JSON
 * object for programs. Adding a format is one file and one table line. */
#ifndef FM_TRIANGULATE_OUTPUT_H
#define FM_TRIANGULATE_OUTPUT_H

#include <stdio.h>

#include "suspect.h"

struct output_ops {
	const char *name;
	/* Write the whole ranked list (possibly empty) to out; 0 or -1 (errno). */
	int (*write)(FILE *out, const struct suspect_list *l);
};

extern const struct output_ops output_text_ops;
extern const struct output_ops output_json_ops;

#endif
