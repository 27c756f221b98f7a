/* The log sink: one line per alert event that an on-call engineer can act on
 * without another tool (where, how much, how sure, since when, who sees it,
 * what to run, what to do, the runbook). */
#include "alert_sink.h"
#include "log.h"
#include "opts.h"
#include "suspect_json.h"

static int alert_sink_log_deliver(void *ctx, const struct alert_sink_env *env,
				  enum alert_event ev, const struct alert *a,
				  char *err, size_t errlen)
{
	char cmds[ALERT_COMMANDS_MAX][ALERT_COMMAND_MAX];
	char where[SUSPECT_WHERE_MAX], since[40], clean[40], pairs[256], act[512];
	char lasted[32], win[32];
	size_t off = 0;

	(void)ctx;
	(void)err;
	(void)errlen;
	suspect_where_format(where, sizeof(where), &a->s);
	alert_time_format(since, sizeof(since), a->starts_ms);
	alert_commands_format(env, a, cmds, ALERT_COMMANDS_MAX);
	if (ev == ALERT_RESOLVE) {
		alert_time_format(clean, sizeof(clean),
				  a->clean_since_ms ? a->clean_since_ms : a->ends_ms);
		log_msg(LOG_INFO,
			"ALERT RESOLVED %s %s: clean since %s, after firing from %s for %s "
			"(peak loss %.3g%%)",
			suspect_kind_name(a->s.kind), where, clean, since,
			opts_duration_format(lasted, sizeof(lasted),
					     (a->clean_since_ms ? a->clean_since_ms : a->ends_ms) -
						     a->starts_ms),
			100 * a->loss_ratio_max);
		return 0;
	}
	pairs[0] = 0;
	for (size_t i = 0; i < a->npairs && off < sizeof(pairs); i++)
		off += (size_t)snprintf(pairs + off, sizeof(pairs) - off, "%s%s->%s",
					i ? " " : "", a->pairs[i].prober,
					a->pairs[i].target);
	log_msg(LOG_WARN,
		"ALERT %s %s %s: loss %.3g%% [%.3g%%, %.3g%%] over %s, "
		"confidence %.4f, %llu/%llu flows lossy from %u probers (e.g. %s); "
		"since %s; dig in: %s; what to do: %s%s%s",
		ev == ALERT_FIRE ? "FIRING" : "STILL FIRING",
		suspect_kind_name(a->s.kind), where, 100 * a->s.loss_ratio,
		100 * a->s.loss_lo, 100 * a->s.loss_hi,
		opts_duration_format(win, sizeof(win), a->window_ms),
		a->s.confidence, (unsigned long long)a->s.lossy_flows,
		(unsigned long long)a->s.flows, a->s.probers,
		pairs[0] ? pairs : "none", since, cmds[0],
		alert_action_format(act, sizeof(act), a),
		env->runbook_url && env->runbook_url[0] ? "; runbook: " : "",
		env->runbook_url && env->runbook_url[0] ? env->runbook_url : "");
	return 0;
}

const struct alert_sink_ops alert_sink_log_ops = {
	.name = "log",
	.deliver = alert_sink_log_deliver,
};
