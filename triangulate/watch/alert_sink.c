/* The alert JSON shared by the hook and Alertmanager sinks, and the time and
 * event names every sink prints. */
#include "alert_sink.h"
#include "json_out.h"
#include "opts.h"
#include "suspect_json.h"

#include <stdlib.h>

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

/* A shell word: as is when plain, else in single quotes. */
static const char *alert_shell_word(char *buf, size_t len, const char *s)
{
	size_t off = 0;

	if (s[strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:=+-")]
	    == 0 && s[0]) {
		snprintf(buf, len, "%s", s);
		return buf;
	}
	buf[off++] = '\'';
	for (; *s && off + 6 < len; s++) {
		if (*s == '\'') {
			memcpy(buf + off, "'\\''", 4);
			off += 4;
		} else {
			buf[off++] = *s;
		}
	}
	buf[off++] = '\'';
	buf[off] = 0;
	return buf;
}

size_t alert_commands_format(const struct alert_sink_env *env, const struct alert *a,
			     char cmds[][ALERT_COMMAND_MAX], size_t max)
{
	char db[300], win[32], from[2 * SUSPECT_NAME_MAX], to[2 * SUSPECT_NAME_MAX];
	size_t n = 0;

	alert_shell_word(db, sizeof(db), env->db_path);
	alert_shell_word(from, sizeof(from), a->s.from);
	alert_shell_word(to, sizeof(to), a->s.to);
	opts_duration_format(win, sizeof(win), a->window_ms);
	/* the watch's own window, so each command judges what the alert judged */
	if (n < max && alert_is_link(a))
		snprintf(cmds[n++], ALERT_COMMAND_MAX, "triangulate link %s %s --db %s --window %s",
			 from, to, db, win);
	else if (n < max)
		snprintf(cmds[n++], ALERT_COMMAND_MAX, "triangulate device %s --db %s --window %s",
			 from, db, win);
	if (n < max)
		snprintf(cmds[n++], ALERT_COMMAND_MAX, "triangulate localize --db %s --window %s",
			 db, win);
	if (n < max)
		snprintf(cmds[n++], ALERT_COMMAND_MAX, "triangulate suspects --db %s --since 6h",
			 db);
	return n;
}

const char *alert_action_format(char *buf, size_t len, const struct alert *a)
{
	switch (a->s.kind) {
	case SUSPECT_LINK:
		snprintf(buf, len,
			 "drain the link %s -> %s (shift traffic off it), then check its optics, "
			 "cable and interface error counters at both ends", a->s.from, a->s.to);
		break;
	case SUSPECT_BLACKHOLE:
		snprintf(buf, len,
			 "drain the link %s -> %s: it drops some flows entirely (a hash-dependent "
			 "gray failure); then check its forwarding tables and line cards",
			 a->s.from, a->s.to);
		break;
	case SUSPECT_DEVICE:
		snprintf(buf, len,
			 "drain the device %s (take it out of the ECMP groups), then check its "
			 "line cards, buffers and logs", a->s.from);
		break;
	default:
		snprintf(buf, len,
			 "check the sick host %s (NIC, cable, CPU, its prober's log); the fabric "
			 "is not at fault, do not drain links for it", a->s.from);
		break;
	}
	return buf;
}

/* "2026-11-28T13:05:01.250Z", or null when unset. */
static void alert_time_json_write(FILE *out, const char *name, int64_t ms)
{
	char t[40];

	fprintf(out, ", \"%s\": ", name);
	if (!ms) {
		fprintf(out, "null");
		return;
	}
	alert_time_format(t, sizeof(t), ms);
	fprintf(out, "\"%s\"", t);
}

int alert_json_write(FILE *out, const struct alert_sink_env *env,
		     enum alert_event ev, const struct alert *a)
{
	char cmds[ALERT_COMMANDS_MAX][ALERT_COMMAND_MAX], v[512];
	size_t ncmds = alert_commands_format(env, a, cmds, ALERT_COMMANDS_MAX);

	/* the suspect's members (schemas/suspect.md), then the alert's own */
	fprintf(out, "{\"version\": %d, \"event\": \"%s\", \"status\": \"%s\", ",
		SUSPECT_JSON_VERSION, alert_event_name(ev),
		ev == ALERT_RESOLVE ? "resolved" : "firing");
	suspect_json_members_write(out, &a->s);
	fprintf(out, ", \"loss_max\": %.6g, \"window_s\": %.3g", json_num(a->loss_ratio_max),
		a->window_ms / 1e3);
	alert_time_json_write(out, "starts_at", a->starts_ms);
	alert_time_json_write(out, "ends_at", a->ends_ms);
	alert_time_json_write(out, "last_seen_at", a->last_seen_ms);
	alert_time_json_write(out, "clean_since", ev == ALERT_RESOLVE ? a->clean_since_ms : 0);
	fprintf(out, ", \"pairs\": [");
	for (size_t i = 0; i < a->npairs; i++) {
		fprintf(out, "%s{\"prober\": ", i ? ", " : "");
		json_string_write(out, a->pairs[i].prober);
		json_field_string_write(out, "target", a->pairs[i].target);
		fputc('}', out);
	}
	fprintf(out, "], \"query\": ");
	json_string_write(out, cmds[0]);
	fprintf(out, ", \"commands\": [");
	for (size_t i = 0; i < ncmds; i++) {
		fprintf(out, "%s", i ? ", " : "");
		json_string_write(out, cmds[i]);
	}
	fprintf(out, "], \"action\": ");
	json_string_write(out, alert_action_format(v, sizeof(v), a));
	fprintf(out, ", \"runbook_url\": ");
	if (env->runbook_url && env->runbook_url[0])
		json_string_write(out, env->runbook_url);
	else
		fprintf(out, "null");
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
	char cmds[ALERT_COMMANDS_MAX][ALERT_COMMAND_MAX];
	char t[40], v[3 * ALERT_COMMAND_MAX], where[SUSPECT_WHERE_MAX];
	size_t off = 0, ncmds = alert_commands_format(env, a, cmds, ALERT_COMMANDS_MAX);
	char *sj = NULL;
	size_t sjlen = 0;
	FILE *mem;

	suspect_where_format(where, sizeof(where), &a->s);
	fprintf(out, "[{\"labels\": {\"alertname\": \"FaultmeshLoss\", \"kind\": \"%s\", \"from\": ",
		suspect_kind_name(a->s.kind));
	json_string_write(out, a->s.from);
	if (alert_is_link(a)) {
		json_field_string_write(out, "to", a->s.to);
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
	alert_time_format(t, sizeof(t), a->starts_ms);
	alert_am_annotation(out, "since", t, 0);
	if (ev == ALERT_RESOLVE && a->clean_since_ms) {
		alert_time_format(t, sizeof(t), a->clean_since_ms);
		alert_am_annotation(out, "clean_since", t, 0);
	}
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
	alert_am_annotation(out, "query", cmds[0], 0);
	v[0] = 0;
	off = 0;
	for (size_t i = 0; i < ncmds && off < sizeof(v); i++)
		off += (size_t)snprintf(v + off, sizeof(v) - off, "%s%s", i ? "\n" : "", cmds[i]);
	alert_am_annotation(out, "commands", v, 0);
	alert_am_annotation(out, "action", alert_action_format(v, sizeof(v), a), 0);
	if (env->runbook_url && env->runbook_url[0])
		alert_am_annotation(out, "runbook_url", env->runbook_url, 0);
	/* the suspect in the one JSON shape, for tools reading annotations */
	if ((mem = open_memstream(&sj, &sjlen))) {
		suspect_json_write(mem, &a->s);
		if (fclose(mem) == 0 && sj)
			alert_am_annotation(out, "suspect", sj, 0);
		free(sj);
	}
	alert_time_format(t, sizeof(t), a->starts_ms);
	fprintf(out, "}, \"startsAt\": \"%s\", ", t);
	alert_time_format(t, sizeof(t),
			  ev == ALERT_RESOLVE ? a->ends_ms : now_ms + 3 * env->resend_ms);
	return fprintf(out, "\"endsAt\": \"%s\"}]", t) < 0 ? -1 : 0;
}
