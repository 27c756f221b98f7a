/* The small pieces every JSON writer shares: string escaping and numbers
 * JSON can carry. Writers of whole documents stay with their commands. */
#ifndef FM_JSON_OUT_H
#define FM_JSON_OUT_H

#include <stddef.h>
#include <stdio.h>

/* Write s as a JSON string literal: quotes, backslashes and control bytes
 * escaped; other bytes (UTF-8 included) pass through. */
void json_string_write(FILE *out, const char *s);

/* Write , "key": "value" (value escaped as json_string_write does). */
void json_field_string_write(FILE *out, const char *key, const char *value);

/* Open item i of an array on a line of its own ("," before all but the
 * first) as an object whose first field is "key": "value"; the caller
 * writes the rest and the closing brace. */
void json_item_open(FILE *out, size_t i, const char *key, const char *value);

/* JSON has no NaN or infinity: those become 0. */
double json_num(double x);

#endif
