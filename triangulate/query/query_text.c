/* Text writer of triangulate device/link/suspects answers: the verdict first,
 * then the evidence, for an engineer reading a terminal. */
#include "query.h"
#include "opts.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

const char *query_time_format(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%SZ", &tm))
		snprintf(buf, len, "%" PRId64 " ms", ms);
	return buf;
}

/* The time of day part of query_time_format ("13:05:00Z"), for a second
 * time on a line that already has the date. */
static const char *text_clock(int64_t ms, char *buf, size_t len)
{
	const char *t = query_time_format(ms, buf, len);

	return strlen(t) > 11 && t[10] == ' ' ? t + 11 : t;
}

/* "6h", "10m", "45s": as the options take them (opts_duration_format). */
static const char *text_duration(int64_t ms, char *buf, size_t len)
{
	return opts_duration_format(buf, len, (long long)ms);
}

static void text_link_write(FILE *out, const struct query_link *l)
{
	fprintf(out, "  %-16s -> %-16s %8.3f%% %8.3f%% %7llu %7llu  %s\n", l->from,
		l->to, 100 * l->loss_ratio, 100 * l->observed_ratio,
		(unsigned long long)l->flows, (unsigned long long)l->lossy_flows,
		l->suspect ? "SUSPECT" : "");
}

static int text_answer_write(FILE *out, const struct query_answer *a)
{
	char t0[32], t1[32];

	fprintf(out, "%s %s%s%s: %s", a->subject, a->from, a->to[0] ? " -> " : "",
		a->to, a->verdict);
	if (a->confidence > 0)
		fprintf(out, " (confidence %.4g)", a->confidence);
	fprintf(out, "\n  %s\n", a->detail);
	fprintf(out, "  last %s to %s: loss %.3g%% (95%% %.3g-%.3g%%), %llu flows, %llu lossy\n",
		text_duration(a->window_ms, t1, sizeof(t1)), query_time_format(a->now_ms, t0, sizeof(t0)),
		100 * a->loss_ratio, 100 * a->loss_lo, 100 * a->loss_hi,
		(unsigned long long)a->flows, (unsigned long long)a->lossy_flows);
	fprintf(out, "\nlinks (loss charged to the link; observed on flows crossing it):\n");
	fprintf(out, "  %-16s    %-16s %9s %9s %7s %7s\n", "from", "to", "loss", "observed",
		"flows", "lossy");
	for (size_t i = 0; i < a->nlinks; i++)
		text_link_write(out, &a->links[i]);
	if (!a->nlinks)
		fprintf(out, "  (none seen in this window)\n");
	fprintf(out, "\npartial blackholes through it: %s\n", a->nblackholes ? "" : "none");
	for (size_t i = 0; i < a->nblackholes; i++)
		text_link_write(out, &a->blackholes[i]);
	fprintf(out, "\nprober/target pairs that lost probes through it: %s\n",
		a->npairs ? "" : "none");
	for (size_t i = 0; i < a->npairs; i++) {
		const struct query_pair *p = &a->pairs[i];

		fprintf(out, "  %-20s -> %-20s %7.3f%% lost, %llu of %llu probes, %llu lossy flows\n",
			p->prober, p->target, p->sent ? 100.0 * (double)p->lost / (double)p->sent : 0,
			(unsigned long long)p->lost, (unsigned long long)p->sent,
			(unsigned long long)p->lossy_flows);
	}
	fprintf(out, "\nlast %s, slice by slice:\n",
		text_duration(a->now_ms - a->since_ms, t0, sizeof(t0)));
	for (size_t i = 0; i < a->nbuckets; i++) {
		const struct query_bucket *b = &a->buckets[i];

		fprintf(out, "  %s .. %s  %8.3f%%  %s\n",
			query_time_format(b->start_ms, t0, sizeof(t0)),
			text_clock(b->end_ms, t1, sizeof(t1)),
			100 * b->loss_ratio, b->verdict);
	}
	fprintf(out, "\nsuspect history (watch rounds): %s\n",
		a->nepisodes ? "" : "no episode in the look-back");
	for (size_t i = 0; i < a->nepisodes; i++) {
		const struct query_episode *e = &a->episodes[i];

		fprintf(out, "  %-9s %s%s%s opened %s, last seen %s, %s, max loss %.3g%%\n",
			e->kind, e->from, e->to[0] ? " -> " : "", e->to,
			query_time_format(e->opened_ms, t0, sizeof(t0)),
			text_clock(e->last_seen_ms, t1, sizeof(t1)),
			e->closed_ms ? "closed" : "OPEN", 100 * e->loss_ratio_max);
	}
	if (a->npoints)
		fprintf(out, "  %zu rounds named it, the last at %s\n", a->npoints,
			query_time_format(a->points[a->npoints - 1].at_ms, t0, sizeof(t0)));
	return ferror(out) ? -1 : 0;
}

static int text_episodes_write(FILE *out, const struct query_episode *v, size_t n,
			       int64_t since_ms, int64_t until_ms)
{
	char t0[32], t1[32], t2[32];

	fprintf(out, "suspects from %s to %s: %zu episode%s\n",
		query_time_format(since_ms, t0, sizeof(t0)),
		query_time_format(until_ms, t1, sizeof(t1)), n, n == 1 ? "" : "s");
	if (n)
		fprintf(out, "%-9s %-33s %-20s %-20s %-20s %7s %9s %6s\n", "kind", "suspect",
			"opened", "last seen", "closed", "rounds", "max loss", "conf");
	for (size_t i = 0; i < n; i++) {
		const struct query_episode *e = &v[i];
		char name[2 * QUERY_NAME_MAX + 8];

		snprintf(name, sizeof(name), "%s%s%s", e->from, e->to[0] ? " -> " : "", e->to);
		fprintf(out, "%-9s %-33s %-20s %-20s %-20s %7llu %8.3f%% %6.4f\n", e->kind,
			name, query_time_format(e->opened_ms, t0, sizeof(t0)),
			query_time_format(e->last_seen_ms, t1, sizeof(t1)),
			e->closed_ms ? query_time_format(e->closed_ms, t2, sizeof(t2)) : "open",
			(unsigned long long)e->rounds, 100 * e->loss_ratio_max,
			e->confidence_last);
	}
	return ferror(out) ? -1 : 0;
}

const struct query_ops query_text_ops = { "text", text_answer_write,
					  text_episodes_write };
