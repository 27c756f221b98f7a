/* JSON writer of triangulate device/link/suspects answers: one object per
 * answer, times as Unix ms, ratios as fractions (not percent). */
#include "json_out.h"
#include "query.h"

#include <inttypes.h>
#include <string.h>
#include <math.h>

static void json_link_write(FILE *out, const struct query_link *l)
{
	fprintf(out, "{\"from\": ");
	json_string_write(out, l->from);
	json_field_string_write(out, "to", l->to);
	fprintf(out,
		", \"loss\": %.6g, \"observed_loss\": %.6g, \"flows\": %llu, "
		"\"lossy_flows\": %llu, \"suspect\": %s, \"confidence\": %.6g}",
		json_num(l->loss_ratio), json_num(l->observed_ratio),
		(unsigned long long)l->flows, (unsigned long long)l->lossy_flows,
		l->suspect ? "true" : "false", json_num(l->confidence));
}

void query_episode_json_write(FILE *out, const struct query_episode *e)
{
	fprintf(out, "{\"id\": %" PRId64 ", \"kind\": ", e->id);
	json_string_write(out, e->kind);
	json_field_string_write(out, "from", e->from);
	json_field_string_write(out, "to", e->to);
	fprintf(out,
		", \"opened_ms\": %" PRId64 ", \"last_seen_ms\": %" PRId64
		", \"closed_ms\": %" PRId64 ", \"open\": %s, \"rounds\": %llu, "
		"\"loss_max\": %.6g, \"loss_last\": %.6g, \"confidence_last\": %.6g}",
		e->opened_ms, e->last_seen_ms, e->closed_ms, e->closed_ms ? "false" : "true",
		(unsigned long long)e->rounds, json_num(e->loss_ratio_max),
		json_num(e->loss_ratio_last), json_num(e->confidence_last));
}

static int json_answer_write(FILE *out, const struct query_answer *a)
{
	fprintf(out, "{\"subject\": \"%s\", \"from\": ", a->subject);
	json_string_write(out, a->from);
	if (a->to[0]) {
		json_field_string_write(out, "to", a->to);
	}
	fprintf(out, ",\n \"now_ms\": %" PRId64 ", \"window_ms\": %" PRId64
		", \"since_ms\": %" PRId64 ",\n \"verdict\": ",
		a->now_ms, a->window_ms, a->since_ms);
	json_string_write(out, a->verdict);
	fprintf(out, ", \"dropping\": %s, \"detail\": ",
		a->confidence > 0 && strcmp(a->verdict, "healthy") ? "true" : "false");
	json_string_write(out, a->detail);
	fprintf(out,
		", \"confidence\": %.6g,\n \"loss\": %.6g, \"loss_lo\": %.6g, "
		"\"loss_hi\": %.6g, \"flows\": %llu, \"lossy_flows\": %llu,\n \"links\": [",
		json_num(a->confidence), json_num(a->loss_ratio), json_num(a->loss_lo),
		json_num(a->loss_hi), (unsigned long long)a->flows,
		(unsigned long long)a->lossy_flows);
	for (size_t i = 0; i < a->nlinks; i++) {
		fprintf(out, "%s\n  ", i ? "," : "");
		json_link_write(out, &a->links[i]);
	}
	fprintf(out, "],\n \"blackholes\": [");
	for (size_t i = 0; i < a->nblackholes; i++) {
		fprintf(out, "%s\n  ", i ? "," : "");
		json_link_write(out, &a->blackholes[i]);
	}
	fprintf(out, "],\n \"pairs\": [");
	for (size_t i = 0; i < a->npairs; i++) {
		const struct query_pair *p = &a->pairs[i];

		json_item_open(out, i, "prober", p->prober);
		json_field_string_write(out, "target", p->target);
		fprintf(out, ", \"flows\": %llu, \"lossy_flows\": %llu, \"sent\": %llu, "
			"\"lost\": %llu}",
			(unsigned long long)p->flows, (unsigned long long)p->lossy_flows,
			(unsigned long long)p->sent, (unsigned long long)p->lost);
	}
	fprintf(out, "],\n \"history\": [");
	for (size_t i = 0; i < a->nbuckets; i++) {
		const struct query_bucket *b = &a->buckets[i];

		fprintf(out, "%s\n  {\"start_ms\": %" PRId64 ", \"end_ms\": %" PRId64
			", \"loss\": %.6g, \"verdict\": \"%s\"}",
			i ? "," : "", b->start_ms, b->end_ms, json_num(b->loss_ratio), b->verdict);
	}
	fprintf(out, "],\n \"points\": [");
	for (size_t i = 0; i < a->npoints; i++) {
		const struct query_point *p = &a->points[i];

		fprintf(out, "%s\n  {\"at_ms\": %" PRId64 ", \"kind\": ", i ? "," : "", p->at_ms);
		json_string_write(out, p->kind);
		json_field_string_write(out, "from", p->from);
		json_field_string_write(out, "to", p->to);
		fprintf(out, ", \"loss\": %.6g, \"confidence\": %.6g}", json_num(p->loss_ratio),
			json_num(p->confidence));
	}
	fprintf(out, "],\n \"episodes\": [");
	for (size_t i = 0; i < a->nepisodes; i++) {
		fprintf(out, "%s\n  ", i ? "," : "");
		query_episode_json_write(out, &a->episodes[i]);
	}
	fprintf(out, "]}\n");
	return ferror(out) ? -1 : 0;
}

static int json_episodes_write(FILE *out, const struct query_episode *v, size_t n,
			       int64_t since_ms, int64_t until_ms)
{
	fprintf(out, "{\"since_ms\": %" PRId64 ", \"until_ms\": %" PRId64
		", \"episodes\": [", since_ms, until_ms);
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "%s\n  ", i ? "," : "");
		query_episode_json_write(out, &v[i]);
	}
	fprintf(out, "%s]}\n", n ? "\n" : "");
	return ferror(out) ? -1 : 0;
}

const struct query_ops query_json_ops = { "json", json_answer_write,
					  json_episodes_write };
