/* Suspect JSON v1 (schemas/suspect.md): the one writer. A device or host is
 * "from" with "to" null, a link or blackhole is from -> to, always. */
#include "suspect_json.h"

#include "json_out.h"

const char *suspect_where_format(char *buf, size_t len, const struct suspect *s)
{
	int is_link = s->kind == SUSPECT_LINK || s->kind == SUSPECT_BLACKHOLE;
	int n = is_link ? snprintf(buf, len, "%s -> %s", s->from, s->to)
			: snprintf(buf, len, "%s", s->from);

	/* ambiguous: the other element on the same flows, a link (with a "to")
	 * or a device or host */
	if (s->also_from[0] && n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, s->also_to[0] ? " | %s -> %s" : " | %s",
			 s->also_from, s->also_to);
	return buf;
}

int suspect_json_members_write(FILE *out, const struct suspect *s)
{
	char where[SUSPECT_WHERE_MAX];

	fprintf(out, "\"kind\": \"%s\", \"from\": ", suspect_kind_name(s->kind));
	json_string_write(out, s->from);
	fprintf(out, ", \"to\": ");
	if (s->kind == SUSPECT_LINK || s->kind == SUSPECT_BLACKHOLE)
		json_string_write(out, s->to);
	else
		fprintf(out, "null");
	fprintf(out, ", \"name\": ");
	json_string_write(out, suspect_where_format(where, sizeof(where), s));
	if (s->also_from[0]) { /* ambiguous: this element or the other on the same flows */
		fprintf(out, ", \"ambiguous_with\": {\"from\": ");
		json_string_write(out, s->also_from);
		fprintf(out, ", \"to\": ");
		if (s->also_to[0])
			json_string_write(out, s->also_to);
		else /* a device or host */
			fprintf(out, "null");
		fputc('}', out);
	}
	return fprintf(out,
		       ", \"loss\": %.6g, \"loss_lo\": %.6g, \"loss_hi\": %.6g, "
		       "\"confidence\": %.6g, \"score\": %.6g, \"flows\": %llu, "
		       "\"lossy_flows\": %llu, \"probers\": %u",
		       json_num(s->loss_ratio), json_num(s->loss_lo), json_num(s->loss_hi),
		       json_num(s->confidence), json_num(s->score),
		       (unsigned long long)s->flows, (unsigned long long)s->lossy_flows,
		       s->probers) < 0 ? -1 : 0;
}

int suspect_json_write(FILE *out, const struct suspect *s)
{
	fputc('{', out);
	if (suspect_json_members_write(out, s) < 0)
		return -1;
	return fputc('}', out) == EOF ? -1 : 0;
}
