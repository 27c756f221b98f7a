/* One JSON object {"version", "suspects": [...]} for programs and the
 * benchmark; each suspect in the one shape of schemas/suspect.md. */
#include "output.h"
#include "suspect_json.h"

static int output_json_write(FILE *out, const struct suspect_list *l)
{
	fprintf(out, "{\"version\": %d, \"suspects\": [", SUSPECT_JSON_VERSION);
	for (size_t i = 0; i < l->n; i++) {
		fprintf(out, "%s\n  ", i ? "," : "");
		if (suspect_json_write(out, &l->v[i]) < 0)
			return -1;
	}
	return fprintf(out, "%s]}\n", l->n ? "\n" : "") < 0 ? -1 : 0;
}

const struct output_ops output_json_ops = { "json", output_json_write };
