/* The alert JSON shared by the hook and Alertmanager sinks, and the time and
 * event names every sink prints. */
#include "alert_sink.h"
#include "json_out.h"

#include <string.h>
#include <time.h>

const char *alert_event_name(enum alert_event ev)
{
	return ev == ALERT_FIRE ? "fire" : ev == ALERT_REFRESH ? "refresh" : "resolve";
}

void alert_time_format(char *buf, size_t len, int64_t unix_ms)
{
	time_t t = (time_t)(unix_ms / 1000);
	struct tm tm;
	char s[32];

	gmtime_r(&t, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03dZ", s, (int)(unix_ms % 1000));
}

static int alert_is_link(const struct alert *a)
{
	return a->s.kind == SUSPECT_LINK || a->s.kind == SUSPECT_BLACKHOLE;
}

int alert_json_write(FILE *out, const struct alert_sink_env *env,
		     enum alert_event ev, const struct alert *a)
{
	char t[40], q[512];

	fprintf(out, "{\"event\": \"%s\", \"status\": \"%s\", \"kind\": \"%s\", ",
		alert_event_name(ev), ev == ALERT_RESOLVE ? "resolved" : "firing",
		suspect_kind_name(a->s.kind));
	if (alert_is_link(a)) {
		fprintf(out, "\"from\": ");
		json_string_write(out, a->s.from);
		fprintf(out, ", \"to\": ");
		json_string_write(out, a->s.to);
	} else {
		fprintf(out, "\"device\": ");
		json_string_write(out, a->s.from);
	}
	fprintf(out,
		", \"loss\": %.6g, \"loss_lo\": %.6g, \"loss_hi\": %.6g, "
		"\"loss_max\": %.6g, \"confidence\": %.6g, \"flows\": %llu, "
		"\"lossy_flows\": %llu, \"probers\": %u, \"window_s\": %.3g, ",
		json_num(a->s.loss_ratio), json_num(a->s.loss_lo),
		json_num(a->s.loss_hi), json_num(a->loss_ratio_max),
		json_num(a->s.confidence), (unsigned long long)a->s.flows,
		(unsigned long long)a->s.lossy_flows, a->s.probers,
		a->window_ms / 1e3);
	alert_time_format(t, sizeof(t), a->starts_ms);
	fprintf(out, "\"starts_at\": \"%s\", \"ends_at\": ", t);
	if (a->ends_ms) {
		alert_time_format(t, sizeof(t), a->ends_ms);
		fprintf(out, "\"%s\"", t);
	} else {
		fprintf(out, "null");
	}
	alert_time_format(t, sizeof(t), a->last_seen_ms);
	fprintf(out, ", \"last_seen_at\": \"%s\", \"pairs\": [", t);
	for (size_t i = 0; i < a->npairs; i++) {
		fprintf(out, "%s{\"prober\": ", i ? ", " : "");
		json_string_write(out, a->pairs[i].prober);
		fprintf(out, ", \"target\": ");
		json_string_write(out, a->pairs[i].target);
		fputc('}', out);
	}
	alert_query_format(q, sizeof(q), a, env->db_path);
	fprintf(out, "], \"query\": ");
	json_string_write(out, q);
	return fputc('}', out) == EOF ? -1 : 0;
}

/* One annotation "name": "value" pair with a formatted value. */
static void alert_am_annotation(FILE *out, const char *name, const char *value,
				int first)
{
	fprintf(out, "%s\"%s\": ", first ? "" : ", ", name);
	json_string_write(out, value);
}

int alert_am_body_write(FILE *out, const struct alert_sink_env *env,
			enum alert_event ev, const struct alert *a,
			int64_t now_ms)
{
	char t[40], v[512], where[2 * SUSPECT_NAME_MAX + 8];
	size_t off = 0;

	fprintf(out, "[{\"labels\": {\"alertname\": \"FaultmeshLoss\", \"kind\": \"%s\", ",
		suspect_kind_name(a->s.kind));
	if (alert_is_link(a)) {
		fprintf(out, "\"from\": ");
		json_string_write(out, a->s.from);
		fprintf(out, ", \"to\": ");
		json_string_write(out, a->s.to);
		snprintf(where, sizeof(where), "%s -> %s", a->s.from, a->s.to);
	} else {
		fprintf(out, "\"device\": ");
		json_string_write(out, a->s.from);
		snprintf(where, sizeof(where), "%s", a->s.from);
	}
	fprintf(out, ", \"severity\": \"warning\"}, \"annotations\": {");
	snprintf(v, sizeof(v), "%s %s drops %.3g%% of probes", suspect_kind_name(a->s.kind),
		 where, 100 * json_num(a->s.loss_ratio));
	alert_am_annotation(out, "summary", v, 1);
	snprintf(v, sizeof(v), "%.3g%% [%.3g%%, %.3g%%] over %.0fs (peak %.3g%%)",
		 100 * json_num(a->s.loss_ratio), 100 * json_num(a->s.loss_lo),
		 100 * json_num(a->s.loss_hi), a->window_ms / 1e3,
		 100 * json_num(a->loss_ratio_max));
	alert_am_annotation(out, "loss", v, 0);
	snprintf(v, sizeof(v), "%.6g", json_num(a->s.confidence));
	alert_am_annotation(out, "confidence", v, 0);
	snprintf(v, sizeof(v), "%llu of %llu flows lossy, %u probers",
		 (unsigned long long)a->s.lossy_flows,
		 (unsigned long long)a->s.flows, a->s.probers);
	alert_am_annotation(out, "evidence", v, 0);
	v[0] = 0;
	for (size_t i = 0; i < a->npairs && off < sizeof(v); i++)
		off += (size_t)snprintf(v + off, sizeof(v) - off, "%s%s->%s",
					i ? ", " : "", a->pairs[i].prober,
					a->pairs[i].target);
	alert_am_annotation(out, "pairs", v, 0);
	alert_query_format(v, sizeof(v), a, env->db_path);
	alert_am_annotation(out, "query", v, 0);
	alert_time_format(t, sizeof(t), a->starts_ms);
	fprintf(out, "}, \"startsAt\": \"%s\", ", t);
	alert_time_format(t, sizeof(t),
			  ev == ALERT_RESOLVE ? a->ends_ms : now_ms + 3 * env->resend_ms);
	return fprintf(out, "\"endsAt\": \"%s\"}]", t) < 0 ? -1 : 0;
}
