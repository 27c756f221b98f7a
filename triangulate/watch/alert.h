/* The alert state machine of triangulate watch: suspects of successive
 * localization rounds in, fire / refresh / resolve events out, with hysteresis
 * so a suspect that comes and goes neither fires nor flaps. No I/O here. */
#ifndef FM_TRIANGULATE_ALERT_H
#define FM_TRIANGULATE_ALERT_H

#include <stddef.h>
#include <stdint.h>

#include "suspect.h"

#define ALERT_PAIRS_MAX 8 /* affected prober/target pairs kept per alert */

struct alert_cfg {
	unsigned raise_rounds; /* consecutive rounds a suspect must be seen to fire */
	unsigned clear_rounds; /* consecutive rounds it must be absent to resolve */
	int64_t resend_ms;     /* re-deliver a firing alert at least this often */
};

enum alert_event {
	ALERT_FIRE,    /* a suspect persisted raise_rounds rounds: new alert */
	ALERT_REFRESH, /* still firing: deliver again (e.g. so Alertmanager keeps it) */
	ALERT_RESOLVE, /* absent clear_rounds rounds: ends_ms is set */
};

struct alert_pair {
	char prober[SUSPECT_NAME_MAX], target[SUSPECT_NAME_MAX];
};

/* One alert as the sinks see it: the latest figures of its suspect. */
struct alert {
	struct suspect s;     /* kind, where, latest loss, interval, confidence */
	int64_t starts_ms;    /* first round of the streak that fired it */
	int64_t ends_ms;      /* round that resolved it; 0 while firing */
	int64_t last_seen_ms; /* latest round the suspect was found in */
	int64_t clean_since_ms; /* first round of the clean streak (0 while seen) */
	int64_t window_ms;    /* the observation window each round covers */
	double loss_ratio_max; /* highest loss estimate while pending or firing */
	size_t npairs;        /* affected prober/target pairs (up to ALERT_PAIRS_MAX) */
	struct alert_pair pairs[ALERT_PAIRS_MAX];
};

/* One suspect of a round, with the affected pairs found for it. */
struct alert_input {
	struct suspect s;
	int held;      /* a wider suspect may yet explain it: a pending suspect's
			* streak neither grows nor ends; a firing one stays firing */
	int explained; /* a wider suspect (of this round or firing) explains it:
			* it never alerts itself, but keeps a firing alert that
			* shares a device with it from resolving */
	size_t npairs;
	struct alert_pair pairs[ALERT_PAIRS_MAX];
};

/* Called per event; the alert is valid during the call only. */
typedef void (*alert_event_cb)(enum alert_event ev, const struct alert *a,
			       void *arg);

struct alert_book;

/* Are x and y the same suspect: kind and place, an ambiguous pair of links
 * in either order? Alerts are keyed by this. */
int alert_suspect_same(const struct suspect *x, const struct suspect *y);

/* Fill cfg with the defaults: raise after 2 rounds, clear after 2, resend
 * every 60 s. */
void alert_cfg_default(struct alert_cfg *cfg);

/* A book of pending and firing alerts. NULL with errno ENOMEM. */
struct alert_book *alert_book_new(const struct alert_cfg *cfg);
void alert_book_free(struct alert_book *b);

/* Feed one round taken at at_ms over window_ms (v may be empty: a clean
 * round). Suspects are keyed by kind and names; a pending suspect fires after
 * raise_rounds rounds in which it was found and not held, with no round in
 * between that lacked it; an explained one never becomes an alert. Events are reported through
 * cb in this order: resolves, fires, refreshes. Returns the number of events,
 * or -1 with errno ENOMEM (the book stays consistent: the round is partly
 * applied, never corrupt). */
int alert_book_round(struct alert_book *b, int64_t at_ms, int64_t window_ms,
		     const struct alert_input *v, size_t n, alert_event_cb cb,
		     void *arg);

/* Alerts currently firing. */
size_t alert_book_firing(const struct alert_book *b);

/* The suspects of the firing alerts, malloc'ed into *out (free it), their
 * count in *n. Returns 0, or -1 with errno ENOMEM. */
int alert_book_firing_list(const struct alert_book *b, struct suspect **out,
			   size_t *n);

/* The query command that digs into an alert's suspect, e.g.
 * "triangulate link spine1 leaf2 --db DB". Returns snprintf's result. */
int alert_query_format(char *buf, size_t len, const struct alert *a,
		       const char *db_path);

#endif
