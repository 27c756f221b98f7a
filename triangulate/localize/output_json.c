/* One JSON object {"suspects": [...]} for programs and the benchmark. */
#include "json_out.h"
#include "output.h"

#include <math.h>

static int output_json_write(FILE *out, const struct suspect_list *l)
{
	fprintf(out, "{\"suspects\": [");
	for (size_t i = 0; i < l->n; i++) {
		const struct suspect *s = &l->v[i];

		fprintf(out, "%s\n  {\"kind\": \"%s\", ", i ? "," : "",
			suspect_kind_name(s->kind));
		if (s->kind == SUSPECT_LINK || s->kind == SUSPECT_BLACKHOLE) {
			fprintf(out, "\"from\": ");
			json_string_write(out, s->from);
			fprintf(out, ", \"to\": ");
			json_string_write(out, s->to);
			if (s->also_from[0]) { /* ambiguous: one of the two */
				fprintf(out, ", \"ambiguous_with\": {\"from\": ");
				json_string_write(out, s->also_from);
				fprintf(out, ", \"to\": ");
				json_string_write(out, s->also_to);
				fprintf(out, "}");
			}
		} else {
			fprintf(out, "\"%s\": ", s->kind == SUSPECT_HOST ? "host" : "device");
			json_string_write(out, s->from);
		}
		fprintf(out,
			", \"loss\": %.6g, \"loss_lo\": %.6g, \"loss_hi\": %.6g, "
			"\"confidence\": %.6g, \"score\": %.6g, \"flows\": %llu, "
			"\"lossy_flows\": %llu, \"probers\": %u}",
			json_num(s->loss_ratio), json_num(s->loss_lo),
			json_num(s->loss_hi), json_num(s->confidence),
			json_num(s->score), (unsigned long long)s->flows,
			(unsigned long long)s->lossy_flows, s->probers);
	}
	return fprintf(out, "%s]}\n", l->n ? "\n" : "") < 0 ? -1 : 0;
}

const struct output_ops output_json_ops = { "json", output_json_write };
