/* The small pieces every JSON writer shares: string escaping and numbers
 * JSON can carry. Writers of whole documents stay with their commands. */
#ifndef FM_JSON_OUT_H
#define FM_JSON_OUT_H

#include <stdio.h>

/* Write s as a JSON string literal: quotes, backslashes and control bytes
 * escaped; other bytes (UTF-8 included) pass through. */
void json_string_write(FILE *out, const char *s);

/* JSON has no NaN or infinity: those become 0. */
double json_num(double x);

#endif
