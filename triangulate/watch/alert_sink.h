/* Where alerts go: sinks behind one interface (log line, command hook with
 * JSON on stdin, Prometheus Alertmanager v2), plus the JSON every sink shares.
 * Adding a destination is one alert_sink_<name>.c file and one constructor. */
#ifndef FM_TRIANGULATE_ALERT_SINK_H
#define FM_TRIANGULATE_ALERT_SINK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "alert.h"

/* What every sink may need besides the alert. */
struct alert_sink_env {
	const char *db_path;  /* for the query command in each alert */
	int64_t resend_ms;    /* firing alerts are re-sent this often */
	int timeout_ms;       /* bound on one delivery (hook run, HTTP post) */
	const char *runbook_url; /* the operator's runbook, carried by every alert (or NULL) */
};

struct alert_sink_ops {
	const char *name;
	/* Deliver one event. Returns 0, or -1 with the reason in err; the
	 * caller logs it and goes on (a failed sink never stops the watch). */
	int (*deliver)(void *ctx, const struct alert_sink_env *env,
		       enum alert_event ev, const struct alert *a, char *err,
		       size_t errlen);
};

struct alert_sink {
	const struct alert_sink_ops *ops;
	void *ctx;
};

extern const struct alert_sink_ops alert_sink_log_ops;
extern const struct alert_sink_ops alert_sink_hook_ops;
extern const struct alert_sink_ops alert_sink_am_ops;

/* Sink contexts, not copied: the log sink needs none (NULL); the hook's is
 * the shell command; Alertmanager's is its base URL ("http://HOST:PORT"). */

/* The alert as one JSON object (no trailing newline) to out, carrying its
 * playbook: {"version", "event", "status", the suspect's members (suspect
 * JSON v1, schemas/suspect.md), "loss_max", "window_s", "starts_at" (since when), "ends_at", "last_seen_at",
 * "clean_since" (first clean round; null while firing), "pairs":
 * [{"prober","target"}], "query" (the first command), "commands" (each works
 * verbatim), "action" (what to do), "runbook_url" (or null)}. Times are RFC
 * 3339 UTC. Returns 0 or -1 (errno). */
int alert_json_write(FILE *out, const struct alert_sink_env *env,
		     enum alert_event ev, const struct alert *a);

/* Alertmanager v2 POST body: a one-element array with labels
 * alertname=FaultmeshLoss, kind, from (and to for a link); annotations
 * summary, loss, confidence, since, clean_since (resolved), evidence, pairs,
 * query, commands (one a line), action, runbook_url (when set), suspect
 * (suspect JSON v1 as text); startsAt; endsAt (the resolve time, or
 * now_ms + 3 resend periods while firing so a dead watch times out). */
int alert_am_body_write(FILE *out, const struct alert_sink_env *env,
			enum alert_event ev, const struct alert *a,
			int64_t now_ms);

#define ALERT_COMMANDS_MAX 3
#define ALERT_COMMAND_MAX 1024

/* The commands to dig into an alert, each runnable verbatim (the watch's db
 * and window, shell-quoted): the device or link query, localize, suspects.
 * Returns how many were written (up to max). */
size_t alert_commands_format(const struct alert_sink_env *env, const struct alert *a,
			     char cmds[][ALERT_COMMAND_MAX], size_t max);

/* What to do, in one sentence: drain the link or device, or check the sick
 * host. Returns buf. */
const char *alert_action_format(char *buf, size_t len, const struct alert *a);

/* "2026-11-28T13:05:01.250Z" */
void alert_time_format(char *buf, size_t len, int64_t unix_ms);

const char *alert_event_name(enum alert_event ev);

#endif
