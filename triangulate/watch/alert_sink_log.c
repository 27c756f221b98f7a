/* The log sink: one line per alert event that an on-call engineer can act on
 * without another tool (where, how much, how sure, who sees it, what to run). */
#include "alert_sink.h"
#include "log.h"

static int alert_sink_log_deliver(void *ctx, const struct alert_sink_env *env,
				  enum alert_event ev, const struct alert *a,
				  char *err, size_t errlen)
{
	char where[2 * SUSPECT_NAME_MAX + 8], since[40], q[512], pairs[256];
	size_t off = 0;

	(void)ctx;
	(void)err;
	(void)errlen;
	if (a->s.to[0])
		snprintf(where, sizeof(where), "%s -> %s", a->s.from, a->s.to);
	else
		snprintf(where, sizeof(where), "%s", a->s.from);
	alert_time_format(since, sizeof(since), a->starts_ms);
	alert_query_format(q, sizeof(q), a, env->db_path);
	if (ev == ALERT_RESOLVE) {
		log_msg(LOG_INFO,
			"ALERT RESOLVED %s %s: clean since the round before %s, "
			"after %.0f s (peak loss %.3g%%)",
			suspect_kind_name(a->s.kind), where, since,
			(a->ends_ms - a->starts_ms) / 1e3,
			100 * a->loss_ratio_max);
		return 0;
	}
	pairs[0] = 0;
	for (size_t i = 0; i < a->npairs && off < sizeof(pairs); i++)
		off += (size_t)snprintf(pairs + off, sizeof(pairs) - off, "%s%s->%s",
					i ? " " : "", a->pairs[i].prober,
					a->pairs[i].target);
	log_msg(LOG_WARN,
		"ALERT %s %s %s: loss %.3g%% [%.3g%%, %.3g%%] over %.0f s, "
		"confidence %.4f, %llu/%llu flows lossy from %u probers (e.g. %s); "
		"since %s; dig in: %s",
		ev == ALERT_FIRE ? "FIRING" : "STILL FIRING",
		suspect_kind_name(a->s.kind), where, 100 * a->s.loss_ratio,
		100 * a->s.loss_lo, 100 * a->s.loss_hi, a->window_ms / 1e3,
		a->s.confidence, (unsigned long long)a->s.lossy_flows,
		(unsigned long long)a->s.flows, a->s.probers,
		pairs[0] ? pairs : "none", since, q);
	return 0;
}

const struct alert_sink_ops alert_sink_log_ops = {
	.name = "log",
	.deliver = alert_sink_log_deliver,
};
