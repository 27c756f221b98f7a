/* Ranked suspect table for people: one row per suspect, strongest first. */
#include "output.h"
#include "suspect_json.h"

static int output_text_write(FILE *out, const struct suspect_list *l)
{
	if (!l->n)
		return fprintf(out, "no suspects: every link is consistent with background loss\n") < 0 ? -1 : 0;
	fprintf(out, "%-4s %-9s %-40s %9s %-21s %8s %8s %7s %7s\n", "rank",
		"kind", "where", "loss", "95% interval", "conf", "flows",
		"lossy", "probers");
	for (size_t i = 0; i < l->n; i++) {
		const struct suspect *s = &l->v[i];
		char where[SUSPECT_WHERE_MAX], iv[48];

		suspect_where_format(where, sizeof(where), s);
		snprintf(iv, sizeof(iv), "[%.3g%%, %.3g%%]", 100 * s->loss_lo,
			 100 * s->loss_hi);
		if (fprintf(out, "%-4zu %-9s %-40s %8.3g%% %-21s %8.4f %8llu %7llu %7u\n",
			    i + 1, suspect_kind_name(s->kind), where,
			    100 * s->loss_ratio, iv, s->confidence,
			    (unsigned long long)s->flows,
			    (unsigned long long)s->lossy_flows, s->probers) < 0)
			return -1;
	}
	return 0;
}

const struct output_ops output_text_ops = { "table", output_text_write };
