/* The alert state machine: a suspect goes pending when first seen, fires after
 * raise_rounds consecutive rounds, and resolves only after clear_rounds
 * consecutive rounds without it, so one noisy round changes nothing. */
#include "alert.h"
#include "vec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum alert_state { ALERT_PENDING, ALERT_FIRING };

struct alert_entry {
	struct alert a;
	enum alert_state state;
	unsigned seen_rounds;   /* consecutive rounds with the suspect */
	unsigned missed_rounds; /* consecutive rounds without it */
	int seen_now;           /* found in the round being applied */
	int fired_now;          /* fired in the round being applied */
	int64_t sent_ms;        /* last delivery (fire or refresh) */
};

struct alert_book {
	struct alert_cfg cfg;
	struct alert_entry *v;
	size_t n, cap;
};

void alert_cfg_default(struct alert_cfg *cfg)
{
	cfg->raise_rounds = 2;
	cfg->clear_rounds = 2;
	cfg->resend_ms = 60000;
}

struct alert_book *alert_book_new(const struct alert_cfg *cfg)
{
	struct alert_book *b = calloc(1, sizeof(*b));

	if (!b) {
		errno = ENOMEM;
		return NULL;
	}
	b->cfg = *cfg;
	/* zero rounds would fire on nothing or never resolve */
	if (!b->cfg.raise_rounds)
		b->cfg.raise_rounds = 1;
	if (!b->cfg.clear_rounds)
		b->cfg.clear_rounds = 1;
	return b;
}

void alert_book_free(struct alert_book *b)
{
	if (!b)
		return;
	free(b->v);
	free(b);
}

static int alert_suspect_is_link(const struct suspect *s)
{
	return s->kind == SUSPECT_LINK || s->kind == SUSPECT_BLACKHOLE;
}

int alert_suspect_same(const struct suspect *x, const struct suspect *y)
{
	if (x->kind != y->kind)
		return 0;
	if (!alert_suspect_is_link(x))
		return !strcmp(x->from, y->from);
	/* an ambiguous pair is the same whichever of its links comes first */
	if (!x->also_from[0] != !y->also_from[0])
		return 0;
	if (!x->also_from[0])
		return !strcmp(x->from, y->from) && !strcmp(x->to, y->to);
	return (!strcmp(x->from, y->from) && !strcmp(x->to, y->to) &&
		!strcmp(x->also_from, y->also_from) && !strcmp(x->also_to, y->also_to)) ||
	       (!strcmp(x->from, y->also_from) && !strcmp(x->to, y->also_to) &&
		!strcmp(x->also_from, y->from) && !strcmp(x->also_to, y->to));
}


static struct alert_entry *alert_entry_find(struct alert_book *b,
					    const struct suspect *s)
{
	for (size_t i = 0; i < b->n; i++)
		if (alert_suspect_same(&b->v[i].a.s, s))
			return &b->v[i];
	return NULL;
}

static struct alert_entry *alert_entry_add(struct alert_book *b,
					   const struct suspect *s,
					   int64_t at_ms)
{
	struct alert_entry *e;

	if (vec_room(&b->v, b->n, &b->cap, sizeof(*b->v), 8) < 0)
		return NULL;
	e = &b->v[b->n++];
	memset(e, 0, sizeof(*e));
	e->a.s = *s;
	e->a.starts_ms = at_ms;
	e->state = ALERT_PENDING;
	return e;
}

/* Is there a suspect in the round sharing a device with s? */
static int alert_related_find(const struct suspect *s, const struct alert_input *v,
			      size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct suspect *o = &v[i].s;

		if (!strcmp(o->from, s->from) || (s->to[0] && !strcmp(o->from, s->to)) ||
		    (o->to[0] && (!strcmp(o->to, s->from) ||
				  (s->to[0] && !strcmp(o->to, s->to)))))
			return 1;
	}
	return 0;
}

/* Remove entry i by moving the last one into its place. */
static void alert_entry_remove(struct alert_book *b, size_t i)
{
	b->v[i] = b->v[--b->n];
}

int alert_book_round(struct alert_book *b, int64_t at_ms, int64_t window_ms,
		     const struct alert_input *v, size_t n, alert_event_cb cb,
		     void *arg)
{
	int events = 0;
	size_t i;

	for (i = 0; i < b->n; i++)
		b->v[i].seen_now = b->v[i].fired_now = 0;
	for (i = 0; i < n; i++) {
		struct alert_entry *e;

		if (v[i].explained)
			continue; /* a wider suspect speaks for it */
		e = alert_entry_find(b, &v[i].s);
		if (!e && !(e = alert_entry_add(b, &v[i].s, at_ms)))
			return -1;
		e->a.s = v[i].s;
		e->a.npairs = v[i].npairs < ALERT_PAIRS_MAX ? v[i].npairs
							     : ALERT_PAIRS_MAX;
		memcpy(e->a.pairs, v[i].pairs, e->a.npairs * sizeof(e->a.pairs[0]));
		e->a.last_seen_ms = at_ms;
		e->a.clean_since_ms = 0;
		e->a.window_ms = window_ms;
		if (v[i].s.loss_ratio > e->a.loss_ratio_max)
			e->a.loss_ratio_max = v[i].s.loss_ratio;
		/* a suspect listed twice in one round counts once; a held one
		 * is kept but does not count towards firing */
		if (!e->seen_now && !v[i].held)
			e->seen_rounds++;
		e->seen_now = 1;
		e->missed_rounds = 0;
	}
	for (i = 0; i < b->n;) {
		struct alert_entry *e = &b->v[i];

		if (e->seen_now) {
			i++;
			continue;
		}
		e->seen_rounds = 0;
		/* the inference may name the same fault as a link one round and
		 * as a device of it the next: a related suspect keeps a firing
		 * alert from resolving (the related one alerts on its own) */
		if (e->state == ALERT_FIRING && alert_related_find(&e->a.s, v, n)) {
			e->missed_rounds = 0;
			e->a.clean_since_ms = 0;
			i++;
			continue;
		}
		if (e->state == ALERT_PENDING) {
			/* persistence means consecutive rounds: start over */
			alert_entry_remove(b, i);
			continue;
		}
		if (!e->missed_rounds)
			e->a.clean_since_ms = at_ms;
		if (++e->missed_rounds >= b->cfg.clear_rounds) {
			e->a.ends_ms = at_ms;
			cb(ALERT_RESOLVE, &e->a, arg);
			events++;
			alert_entry_remove(b, i);
			continue;
		}
		i++;
	}
	for (i = 0; i < b->n; i++) {
		struct alert_entry *e = &b->v[i];

		if (e->state == ALERT_PENDING && e->seen_rounds >= b->cfg.raise_rounds) {
			e->state = ALERT_FIRING;
			e->fired_now = 1;
			e->sent_ms = at_ms;
			cb(ALERT_FIRE, &e->a, arg);
			events++;
		}
	}
	for (i = 0; i < b->n; i++) {
		struct alert_entry *e = &b->v[i];

		if (e->state == ALERT_FIRING && !e->fired_now &&
		    at_ms - e->sent_ms >= b->cfg.resend_ms) {
			e->sent_ms = at_ms;
			cb(ALERT_REFRESH, &e->a, arg);
			events++;
		}
	}
	return events;
}

size_t alert_book_firing(const struct alert_book *b)
{
	size_t k = 0;

	for (size_t i = 0; i < b->n; i++)
		k += b->v[i].state == ALERT_FIRING;
	return k;
}

int alert_book_firing_list(const struct alert_book *b, struct suspect **out,
			   size_t *n)
{
	*n = 0;
	if (!(*out = malloc((b->n ? b->n : 1) * sizeof(**out)))) {
		errno = ENOMEM;
		return -1;
	}
	for (size_t i = 0; i < b->n; i++)
		if (b->v[i].state == ALERT_FIRING)
			(*out)[(*n)++] = b->v[i].a.s;
	return 0;
}

int alert_query_format(char *buf, size_t len, const struct alert *a,
		       const char *db_path)
{
	const struct suspect *s = &a->s;

	/* a blackhole lives on a link; a host is queried like a device */
	if (s->kind == SUSPECT_LINK || s->kind == SUSPECT_BLACKHOLE)
		return snprintf(buf, len, "triangulate link %s %s --db %s",
				s->from, s->to, db_path);
	return snprintf(buf, len, "triangulate device %s --db %s", s->from,
			db_path);
}
