/* Suspect JSON v1 (schemas/suspect.md): the one writer. A device or host is
 * "from" with "to" null, a link or blackhole is from -> to, always. */
#include "suspect_json.h"

#include "json_out.h"

const char *suspect_where_format(char *buf, size_t len, const struct suspect *s)
{
	if ((s->kind == SUSPECT_LINK || s->kind == SUSPECT_BLACKHOLE) && s->also_from[0])
		snprintf(buf, len, "%s -> %s | %s -> %s", s->from, s->to, s->also_from,
			 s->also_to);
	else if (s->kind == SUSPECT_LINK || s->kind == SUSPECT_BLACKHOLE)
		snprintf(buf, len, "%s -> %s", s->from, s->to);
	else if (s->also_from[0]) /* a host alone behind its switch, or that switch: either */
		snprintf(buf, len, "%s | %s", s->from, s->also_from);
	else
		snprintf(buf, len, "%s", s->from);
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
	if (s->also_from[0]) { /* ambiguous: this link or that one, this host or its switch */
		fprintf(out, ", \"ambiguous_with\": {\"from\": ");
		json_string_write(out, s->also_from);
		fprintf(out, ", \"to\": ");
		if (s->also_to[0])
			json_string_write(out, s->also_to);
		else /* a device: the switch a lone host sits behind */
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
