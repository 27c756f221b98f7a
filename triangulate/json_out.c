/* JSON string escaping and finite numbers, shared by every JSON writer
 * (suspects, queries, reports, alerts). */
#include "json_out.h"

#include <math.h>

void json_string_write(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

double json_num(double x)
{
	return isfinite(x) ? x : 0;
}

void json_field_string_write(FILE *out, const char *key, const char *value)
{
	fprintf(out, ", \"%s\": ", key);
	json_string_write(out, value);
}

void json_item_open(FILE *out, size_t i, const char *key, const char *value)
{
	fprintf(out, "%s\n  {\"%s\": ", i ? "," : "", key);
	json_string_write(out, value);
}
