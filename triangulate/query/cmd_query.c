/* triangulate device | link | suspects: is this device or link dropping,
 * from the collector's database (the last window localized now, the hours
 * before in slices, and the suspect history the watch recorded). */
#include "query.h"
#include "cmd.h"

#include "fabric_view.h"
#include "inventory.h"
#include "inventory_source.h"
#include "model.h"
#include "opts.h"
#include "store.h"
#include "store_history.h"
#include "clock.h"
#include "vec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define QUERY_PAIRS_MAX 50   /* affected pairs listed, worst first */
#define QUERY_BUCKETS_MAX 400 /* slices of the look-back (a week of 30 min) */
#define QUERY_POINTS_MAX 2000 /* history points kept, newest win */
#define QUERY_HOUR_MS 3600000LL /* the store's rollup period */

struct query_cfg {
	const char *db;        /* the collector's SQLite file */
	const char *inventory; /* inventory v1 file: addresses to device names */
	long long window_ms;   /* "now": localize over this last stretch */
	long long since_ms;    /* look back this far for the history */
	long long bucket_ms;   /* slice of the look-back localized on its own */
	long long until_ms;    /* end of the window, Unix ms (0: now) */
	int json;              /* one JSON object instead of text */
};

#define QUERY_COMMON_OPTS                                                           \
	CMD_STORE_OPTS(struct query_cfg, db, CMD_STORE_HELP),                       \
	{ "inventory", 'i', OPT_STR, offsetof(struct query_cfg, inventory), 0, 0,   \
	  NULL, "FILE", "inventory file (default: the one loaded into the --db)" }, \
	{ "since", 's', OPT_MS, offsetof(struct query_cfg, since_ms), 1000,         \
	  366.0 * 86400e3, "6h", "DURATION", "look back this far" },                \
	{ "until", 0, OPT_INT, offsetof(struct query_cfg, until_ms), 0, 1e15, "0",  \
	  "UNIX_MS", "end of the look-back in Unix ms (0: now)" },                  \
	{ "json", 'j', OPT_FLAG, offsetof(struct query_cfg, json), 0, 0, NULL,      \
	  NULL, "print one JSON object instead of text" }

static const struct opt_spec query_opts[] = {
	QUERY_COMMON_OPTS,
	{ "window", 'w', OPT_MS, offsetof(struct query_cfg, window_ms), 1000,
	  86400e3, "30s", "DURATION", "localize over this last stretch for 'now' (the watch's window)" },
	{ "bucket", 'b', OPT_MS, offsetof(struct query_cfg, bucket_ms), 0,
	  86400e3, "0", "DURATION",
	  "slice of the look-back localized on its own (0: 1h, or since/24 in whole "
	  "hours if longer); whole hours are read from the hourly rollups" },
};

static const struct opt_spec suspects_opts[] = { QUERY_COMMON_OPTS };

static const struct opts_cmd device_cmd =
	OPTS_CMD("triangulate device",
		 "triangulate device NAME --db FILE [--window 30s] [--since 6h] "
		 "[--inventory FILE] [--json]",
		 "Is this device dropping? Loss now and over the last hours, "
		 "its links, affected pairs, blackholes, verdict.",
		 query_opts);

static const struct opts_cmd link_cmd =
	OPTS_CMD("triangulate link",
		 "triangulate link A B --db FILE [--window 30s] [--since 6h] "
		 "[--inventory FILE] [--json]",
		 "Is this link dropping? Loss now and over the last hours, "
		 "evidence, affected pairs, verdict.",
		 query_opts);

static const struct opts_cmd suspects_cmd =
	OPTS_CMD("triangulate suspects", "triangulate suspects --db FILE [--since 6h] [--json]",
		 "The history of suspects the watch recorded: opened, last seen, closed.",
		 suspects_opts);

/* What the subject is, in one view's device and link ids. */
struct query_subject {
	int is_link;
	const char *from, *to;
	int64_t dev;          /* the device (device subject), else -1 */
	int64_t ends[2];      /* link ends (link subject) */
	uint32_t *links;      /* link ids of the subject */
	size_t nlinks;
};

static int subject_resolve(struct query_subject *s, const struct fabric_view *v)
{
	const struct model *m = v->m;

	s->nlinks = 0;
	s->links = malloc((m->nlinks + 1) * sizeof(*s->links));
	if (!s->links)
		return -1;
	if (!s->is_link) {
		s->dev = fabric_view_dev_find(v, s->from);
		for (uint32_t l = 0; s->dev >= 0 && l < m->nlinks; l++)
			if (m->link_from[l] == s->dev || m->link_to[l] == s->dev)
				s->links[s->nlinks++] = l;
		return s->dev >= 0;
	}
	s->dev = -1;
	s->ends[0] = fabric_view_dev_find(v, s->from);
	s->ends[1] = fabric_view_dev_find(v, s->to);
	if (s->ends[0] < 0 || s->ends[1] < 0)
		return 0;
	for (int dir = 0; dir < 2; dir++) {
		int64_t l = fabric_view_link_find(v, (uint32_t)s->ends[dir],
						  (uint32_t)s->ends[!dir]);

		if (l >= 0)
			s->links[s->nlinks++] = (uint32_t)l;
	}
	return s->nlinks > 0;
}

/* The verdict over one view: loss, interval, confidence and a sentence. */
struct query_verdict {
	const char *verdict;
	char detail[256];
	double loss_ratio, loss_lo, loss_hi, confidence, sent;
	uint64_t flows, lossy_flows;
};

static void verdict_from_suspect(struct query_verdict *q, const struct suspect *s,
				 const char *verdict, const char *what)
{
	q->verdict = verdict;
	q->loss_ratio = s->loss_ratio;
	q->loss_lo = s->loss_lo;
	q->loss_hi = s->loss_hi;
	q->confidence = s->confidence;
	snprintf(q->detail, sizeof(q->detail),
		 "%s %s%s%s: %.3g%% loss (95%% %.3g-%.3g%%), %llu of %llu flows lossy, %u probers",
		 what, s->from, s->to[0] ? " -> " : "", s->to, 100 * s->loss_ratio,
		 100 * s->loss_lo, 100 * s->loss_hi, (unsigned long long)s->lossy_flows,
		 (unsigned long long)s->flows, s->probers);
}

static void subject_judge(const struct fabric_view *v, const struct query_subject *s,
			  struct query_verdict *q)
{
	const struct suspect *link = NULL, *hole = NULL, *dev = NULL;
	double sent = 0, lost_left = 0;
	unsigned nlink = 0;

	memset(q, 0, sizeof(*q));
	if (s->dev >= 0)
		dev = v->devs[s->dev].suspect >= 0 ? &v->sus.v[v->devs[s->dev].suspect] : NULL;
	for (int e = 0; s->is_link && e < 2 && !dev; e++)
		if (s->ends[e] >= 0 && v->devs[s->ends[e]].suspect >= 0)
			dev = &v->sus.v[v->devs[s->ends[e]].suspect];
	for (size_t i = 0; i < s->nlinks; i++) {
		const struct fabric_link *fl = &v->links[s->links[i]];
		const struct suspect *x = fl->suspect >= 0 ? &v->sus.v[fl->suspect] : NULL;

		q->flows += fl->flows;
		q->lossy_flows += fl->lossy_flows;
		if (fl->loss_ratio * fl->sent > lost_left) {
			lost_left = fl->loss_ratio * fl->sent;
			sent = fl->sent;
		}
		if (!sent)
			sent = fl->sent;
		nlink += x && x->kind == SUSPECT_LINK;
		if (x && x->kind == SUSPECT_LINK && (!link || x->loss_ratio > link->loss_ratio))
			link = x;
		if (x && x->kind == SUSPECT_BLACKHOLE && (!hole || x->loss_ratio > hole->loss_ratio))
			hole = x;
	}
	if (s->dev >= 0) {
		/* a device's flows are counted once, not per link */
		q->flows = v->devs[s->dev].flows;
		q->lossy_flows = v->devs[s->dev].lossy_flows;
	}
	q->sent = sent;
	if (dev)
		verdict_from_suspect(q, dev, dev->kind == SUSPECT_HOST ? "sick host" : "dropping",
				     dev->kind == SUSPECT_HOST ? "host" : "device");
	else if ((link || hole) && !s->is_link) {
		const struct suspect *x = link ? link : hole;
		char more[32] = "";

		/* a device at one end of a faulty link is healthy: the link is
		 * what to drain, and localize names the link, not the device */
		verdict_from_suspect(q, x, "healthy", "link");
		if (nlink > 1)
			snprintf(more, sizeof(more), " (worst of %u)", nlink);
		snprintf(q->detail, sizeof(q->detail),
			 "healthy; its link %s -> %s is %s%s: %.3g%% loss (95%% %.3g-%.3g%%), "
			 "%llu of %llu flows lossy", x->from, x->to,
			 link ? "dropping" : "a partial blackhole", more, 100 * x->loss_ratio,
			 100 * x->loss_lo, 100 * x->loss_hi, (unsigned long long)x->lossy_flows,
			 (unsigned long long)x->flows);
	} else if (link && nlink > 1) {
		char one[sizeof(q->detail)];

		/* say how many, with the worst as the example */
		verdict_from_suspect(q, link, "dropping", "worst link");
		snprintf(one, sizeof(one), "%s", q->detail);
		snprintf(q->detail, sizeof(q->detail), "%u of its links drop; %.200s", nlink, one);
	} else if (link)
		verdict_from_suspect(q, link, "dropping", "link");
	else if (hole)
		verdict_from_suspect(q, hole, "partial blackhole", "partial blackhole on");
	else if (!s->nlinks || q->flows == 0) {
		q->verdict = "no data";
		snprintf(q->detail, sizeof(q->detail), "no probe crossed it in this window");
	} else {
		q->verdict = "not dropping";
		q->loss_ratio = sent > 0 ? lost_left / sent : 0;
		q->loss_lo = 0;
		q->loss_hi = fabric_loss_upper(lost_left, sent);
		snprintf(q->detail, sizeof(q->detail),
			 "%llu flows crossed it and no link of it tested faulty; "
			 "loss at most %.3g%% (95%%)",
			 (unsigned long long)q->flows, 100 * q->loss_hi);
	}
}

static int pair_cmp(const void *a, const void *b)
{
	const struct query_pair *x = a, *y = b;
	double lx = x->sent ? (double)x->lost / (double)x->sent : 0;
	double ly = y->sent ? (double)y->lost / (double)y->sent : 0;

	if (lx != ly)
		return lx > ly ? -1 : 1;
	int c = strcmp(x->prober, y->prober);

	return c ? c : strcmp(x->target, y->target);
}

/* Prober/target pairs whose flows most likely crossed the subject and lost. */
static int subject_pairs(const struct fabric_view *v, const struct query_subject *s,
			 struct query_answer *a)
{
	const struct model *m = v->m;
	uint8_t *mark = calloc(m->nlinks + 1, 1);
	size_t cap = 0;

	if (!mark)
		return -1;
	for (size_t i = 0; i < s->nlinks; i++)
		mark[s->links[i]] = 1;
	for (size_t i = 0; i < m->nflows; i++) {
		const struct model_flow *f = &m->flows[i];
		int through = 0;
		struct query_pair *p = NULL;

		if (!f->lost)
			continue;
		for (uint32_t k = 0; k < f->nalt && !through; k++) {
			const struct model_alt *al = &m->alts[f->alt_first + k];

			if (al->weight < 0.5)
				continue;
			for (uint32_t j = 0; j < al->nlinks && !through; j++)
				through = mark[m->alt_links[al->link_first + j]];
		}
		if (!through)
			continue;
		const char *pn = model_dev_name(m, f->prober_dev);
		const char *tn = model_dev_name(m, f->target_dev);

		for (size_t j = 0; j < a->npairs && !p; j++)
			if (!strcmp(a->pairs[j].prober, pn) && !strcmp(a->pairs[j].target, tn))
				p = &a->pairs[j];
		if (!p) {
			if (vec_room(&a->pairs, a->npairs, &cap, sizeof(*a->pairs), 16) < 0) {
				free(mark);
				return -1;
			}
			p = &a->pairs[a->npairs++];
			memset(p, 0, sizeof(*p));
			snprintf(p->prober, sizeof(p->prober), "%s", pn);
			snprintf(p->target, sizeof(p->target), "%s", tn);
		}
		p->flows++;
		p->lossy_flows++;
		p->sent += f->sent;
		p->lost += f->lost;
	}
	free(mark);
	if (a->npairs)
		qsort(a->pairs, a->npairs, sizeof(*a->pairs), pair_cmp);
	if (a->npairs > QUERY_PAIRS_MAX)
		a->npairs = QUERY_PAIRS_MAX;
	return 0;
}

static void link_row_fill(const struct fabric_view *v, uint32_t l, struct query_link *r)
{
	const struct fabric_link *fl = &v->links[l];

	memset(r, 0, sizeof(*r));
	snprintf(r->from, sizeof(r->from), "%s", fabric_view_dev_name(v, fl->from));
	snprintf(r->to, sizeof(r->to), "%s", fabric_view_dev_name(v, fl->to));
	r->loss_ratio = fl->loss_ratio;
	r->observed_ratio = fl->sent > 0 ? fl->lost / fl->sent : 0;
	r->flows = fl->flows;
	r->lossy_flows = fl->lossy_flows;
	if (fl->suspect >= 0) {
		r->suspect = 1;
		r->confidence = v->sus.v[fl->suspect].confidence;
	}
}

static int link_row_cmp(const void *a, const void *b)
{
	const struct query_link *x = a, *y = b;

	if (x->suspect != y->suspect)
		return y->suspect - x->suspect;
	if (x->loss_ratio != y->loss_ratio)
		return x->loss_ratio > y->loss_ratio ? -1 : 1;
	int c = strcmp(x->from, y->from);

	return c ? c : strcmp(x->to, y->to);
}

/* Whether the inventory's link lines name the device (to NULL), or a link
 * between the two devices (either way round). */
static int inventory_knows(const struct inventory *inv, const char *name,
			   const char *to)
{
	for (size_t i = 0; inv && i < inventory_link_count(inv); i++) {
		const char *a, *b;

		inventory_link_get(inv, i, &a, &b);
		if (!to && (!strcmp(a, name) || !strcmp(b, name)))
			return 1;
		if (to && ((!strcmp(a, name) && !strcmp(b, to)) ||
			   (!strcmp(b, name) && !strcmp(a, to))))
			return 1;
	}
	return 0;
}

struct history_ctx {
	struct query_answer *a;
	size_t cap;
	int failed;
};

static int subject_point_matches(const struct query_answer *a, const char *kind,
				 const char *from, const char *to)
{
	if (!a->to[0])
		return !strcmp(from, a->from) || !strcmp(to, a->from);
	if ((!strcmp(from, a->from) && !strcmp(to, a->to)) ||
	    (!strcmp(from, a->to) && !strcmp(to, a->from)))
		return 1;
	/* a device suspect at either end is news about the link too */
	return (!strcmp(kind, "device") || !strcmp(kind, "host")) &&
	       (!strcmp(from, a->from) || !strcmp(from, a->to));
}

static int history_point_add(int64_t at_ms, const struct history_suspect *s, void *arg)
{
	struct history_ctx *c = arg;
	struct query_answer *a = c->a;
	struct query_point *p;

	if (!subject_point_matches(a, s->kind, s->from, s->to))
		return 0;
	if (a->npoints == QUERY_POINTS_MAX) {
		/* keep the newest: drop the oldest half */
		memmove(a->points, a->points + QUERY_POINTS_MAX / 2,
			(QUERY_POINTS_MAX / 2) * sizeof(*a->points));
		a->npoints = QUERY_POINTS_MAX / 2;
	}
	if (vec_room(&a->points, a->npoints, &c->cap, sizeof(*a->points), 64) < 0) {
		c->failed = 1;
		return -1;
	}
	p = &a->points[a->npoints++];
	p->at_ms = at_ms;
	snprintf(p->kind, sizeof(p->kind), "%s", s->kind);
	snprintf(p->from, sizeof(p->from), "%s", s->from);
	snprintf(p->to, sizeof(p->to), "%s", s->to);
	p->loss_ratio = s->loss_ratio;
	p->confidence = s->confidence;
	return 0;
}

struct episodes_ctx {
	struct query_episode *v;
	size_t n, cap;
	const struct query_answer *filter; /* NULL: all */
};

int query_episode_append(struct query_episode **v, size_t *n, size_t *cap,
			 const struct history_episode *e)
{
	struct query_episode *q;

	if (vec_room(v, *n, cap, sizeof(**v), 32) < 0)
		return -1;
	q = &(*v)[(*n)++];
	memset(q, 0, sizeof(*q));
	q->id = e->id;
	snprintf(q->kind, sizeof(q->kind), "%s", e->kind);
	snprintf(q->from, sizeof(q->from), "%s", e->from);
	snprintf(q->to, sizeof(q->to), "%s", e->to);
	q->opened_ms = e->opened_ms;
	q->last_seen_ms = e->last_seen_ms;
	q->closed_ms = e->closed_ms;
	q->loss_ratio_max = e->loss_ratio_max;
	q->loss_ratio_last = e->loss_ratio_last;
	q->confidence_last = e->confidence_last;
	q->rounds = e->rounds;
	return 0;
}

static int history_episode_add(const struct history_episode *e, void *arg)
{
	struct episodes_ctx *c = arg;

	if (c->filter && !subject_point_matches(c->filter, e->kind, e->from, e->to))
		return 0;
	return query_episode_append(&c->v, &c->n, &c->cap, e);
}

/* Suspect history of the subject (nothing when no watch ever ran). */
static int query_history_load(const char *db, struct query_answer *a,
			      char *err, size_t errlen)
{
	struct history_ctx hc = { a, 0, 0 };
	struct episodes_ctx ec = { NULL, 0, 0, a };
	struct history *h = history_open(db, err, errlen);

	if (!h)
		return -1;
	if (history_points_query(h, a->from, a->since_ms, a->now_ms + 1,
				 history_point_add, &hc) != 0 ||
	    history_episodes_query(h, a->since_ms, a->now_ms + 1,
				   history_episode_add, &ec) != 0) {
		snprintf(err, errlen, "%s: %s", db,
			 hc.failed ? "out of memory" : history_error(h));
		history_close(h);
		free(ec.v);
		return -1;
	}
	history_close(h);
	a->episodes = ec.v;
	a->nepisodes = ec.n;
	return 0;
}

void query_answer_free(struct query_answer *a)
{
	free(a->links);
	free(a->pairs);
	free(a->blackholes);
	free(a->buckets);
	free(a->points);
	free(a->episodes);
}

int query_answer_build(struct query_answer *a, const char *db,
		       const struct inventory *inv, int64_t window_ms,
		       int64_t since_ms, int64_t bucket_ms, char *err, size_t errlen)
{
	struct query_subject subj = { 0 };
	struct fabric_view v = { 0 };
	int known = 0, hourly, rc = -1;
	const char *file;
	int64_t last_end;
	size_t nb;

	subj.is_link = a->to[0] != '\0';
	subj.from = a->from;
	subj.to = a->to;
	a->subject = subj.is_link ? "link" : "device";
	a->window_ms = window_ms;
	a->since_ms = a->now_ms - since_ms;
	if (store_url_is_file(db, &file) && access(file, R_OK) < 0) {
		snprintf(err, errlen, "%s: %s", db, strerror(errno));
		return -1;
	}
	if (inv)
		known = inventory_knows(inv, subj.from, subj.is_link ? subj.to : NULL);
	/* the look-back in slices, oldest first; each localized on its own, so
	 * a long look-back gets longer slices and the answer stays quick */
	if (!bucket_ms) {
		bucket_ms = QUERY_HOUR_MS;
		if (since_ms > 24 * QUERY_HOUR_MS) /* whole hours: rollups */
			bucket_ms = (since_ms / 24 + QUERY_HOUR_MS - 1) /
				    QUERY_HOUR_MS * QUERY_HOUR_MS;
	}
	if (bucket_ms < 1000)
		bucket_ms = 1000;
	/* Slices of whole hours end on the hour, so each is read from the
	 * hourly rollups (quick, and there after retention deleted the raw
	 * results); the hour under way is one more, partial slice, read from
	 * raw results. Other slices end at now and are read raw. */
	hourly = bucket_ms % QUERY_HOUR_MS == 0;
	last_end = hourly ? a->now_ms - (a->now_ms % QUERY_HOUR_MS + QUERY_HOUR_MS) % QUERY_HOUR_MS
			  : a->now_ms;
	nb = (size_t)((since_ms + bucket_ms - 1) / bucket_ms);
	if (nb > QUERY_BUCKETS_MAX)
		nb = QUERY_BUCKETS_MAX;
	if (!(a->buckets = calloc(nb + 2, sizeof(*a->buckets)))) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < nb + (last_end < a->now_ms); i++) {
		struct query_bucket *b = &a->buckets[a->nbuckets++];
		struct query_verdict q;
		int seen;

		if (i < nb) {
			b->end_ms = last_end - (int64_t)(nb - 1 - i) * bucket_ms;
			b->start_ms = b->end_ms - bucket_ms;
		} else {
			b->start_ms = last_end;
			b->end_ms = a->now_ms;
		}
		if (fabric_view_db_build(&v, db,
					 hourly ? FABRIC_VIEW_HOURLY : FABRIC_VIEW_RAW,
					 b->start_ms, b->end_ms, inv, NULL, err,
					 errlen) < 0)
			goto out;
		seen = subject_resolve(&subj, &v);
		if (seen < 0) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		known |= seen;
		subject_judge(&v, &subj, &q);
		b->verdict = seen ? q.verdict : "no data";
		b->loss_ratio = q.loss_ratio;
		b->sent = q.sent;
		free(subj.links);
		subj.links = NULL;
		fabric_view_free(&v);
	}
	if (fabric_view_db_build(&v, db, FABRIC_VIEW_RAW, a->now_ms - window_ms,
				 a->now_ms, inv, NULL, err, errlen) < 0)
		goto out;
	rc = subject_resolve(&subj, &v);
	if (rc < 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	known |= rc;
	rc = -1;
	if (query_history_load(db, a, err, errlen) < 0)
		goto out;
	known |= a->npoints > 0;
	if (!known) {
		char since[32];

		opts_duration_format(since, sizeof(since), since_ms);
		if (subj.is_link)
			snprintf(err, errlen,
				 "no link %s -> %s (or back) in the database over the last %s%s",
				 subj.from, subj.to, since,
				 inv ? " nor in the inventory" :
				       "; names are addresses unless an inventory maps them");
		else
			snprintf(err, errlen,
				 "no device '%s' in the database over the last %s%s",
				 subj.from, since,
				 inv ? " nor in the inventory" :
				       "; names are addresses unless an inventory maps them");
		rc = 1;
		goto out;
	}
	{
		struct query_verdict q;

		subject_judge(&v, &subj, &q);
		a->verdict = q.verdict;
		snprintf(a->detail, sizeof(a->detail), "%s", q.detail);
		a->confidence = q.confidence;
		a->loss_ratio = q.loss_ratio;
		a->loss_lo = q.loss_lo;
		a->loss_hi = q.loss_hi;
		a->flows = q.flows;
		a->lossy_flows = q.lossy_flows;
	}
	a->links = calloc(subj.nlinks + 1, sizeof(*a->links));
	a->blackholes = calloc(subj.nlinks + 1, sizeof(*a->blackholes));
	if (!a->links || !a->blackholes || subject_pairs(&v, &subj, a) < 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < subj.nlinks; i++) {
		const struct fabric_link *fl = &v.links[subj.links[i]];

		link_row_fill(&v, subj.links[i], &a->links[a->nlinks++]);
		if (fl->suspect >= 0 && v.sus.v[fl->suspect].kind == SUSPECT_BLACKHOLE)
			a->blackholes[a->nblackholes++] = a->links[a->nlinks - 1];
	}
	/* suspects first, then the lossier: what to look at comes first */
	qsort(a->links, a->nlinks, sizeof(*a->links), link_row_cmp);
	rc = 0;
out:
	free(subj.links);
	fabric_view_free(&v);
	return rc;
}

static int query_subject_run(int argc, char **argv, int is_link)
{
	const struct opts_cmd *cmd = is_link ? &link_cmd : &device_cmd;
	struct query_cfg cfg = { 0 };
	struct query_answer a = { 0 };
	struct inventory *inv = NULL;
	const struct query_ops *ops;
	char err[512];
	int rc, idx = opts_cmd_parse(cmd, &cfg, argc, argv, &rc);

	if (idx < 0)
		return rc;
	if (argc - idx != (is_link ? 2 : 1))
		return opts_cmd_usage_fail(cmd);
	if (!cfg.db)
		return opts_cmd_refuse(cmd, "--db is required");
	ops = cfg.json ? &query_json_ops : &query_text_ops;
	a.subject = is_link ? "link" : "device";
	snprintf(a.from, sizeof(a.from), "%s", argv[idx]);
	snprintf(a.to, sizeof(a.to), "%s", is_link ? argv[idx + 1] : "");
	a.now_ms = cfg.until_ms ? cfg.until_ms : clock_real_ms();
	/* names are devices: without an inventory they would be taken for
	 * addresses, and "no data" would be a wrong answer, not a fact */
	{
		const char *file;
		int none;

		if (store_url_is_file(cfg.db, &file) && access(file, R_OK) < 0) {
			snprintf(err, sizeof(err), "%s: %s", file, strerror(errno));
			goto fail;
		}

		if (!(inv = inventory_source_open(cfg.inventory, cfg.db, &none, err,
						  sizeof(err)))) {
			if (!none)
				goto fail;
			fprintf(stderr, "triangulate %s: %s\n", a.subject, err);
			rc = 2;
			goto out;
		}
	}
	rc = query_answer_build(&a, cfg.db, inv, cfg.window_ms, cfg.since_ms,
				cfg.bucket_ms, err, sizeof(err));
	if (rc < 0)
		goto fail;
	if (rc > 0) {
		fprintf(stderr, "triangulate %s: %s\n", a.subject, err);
		rc = 2;
		goto out;
	}
	if (ops->answer_write(stdout, &a) < 0 || fflush(stdout)) {
		snprintf(err, sizeof(err), "writing output: %s", strerror(errno));
		goto fail;
	}
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "triangulate %s: %s\n", a.subject, err);
	rc = 1;
out:
	inventory_free(inv);
	query_answer_free(&a);
	return rc;
}

int cmd_device(int argc, char **argv)
{
	return query_subject_run(argc, argv, 0);
}

int cmd_link(int argc, char **argv)
{
	return query_subject_run(argc, argv, 1);
}

int cmd_suspects(int argc, char **argv)
{
	struct query_cfg cfg = { 0 };
	struct episodes_ctx ec = { 0 };
	struct history *h = NULL;
	const char *file;
	uint64_t rounds = 0;
	int64_t now_ms;
	char err[512];
	int rc, idx = opts_cmd_parse(&suspects_cmd, &cfg, argc, argv, &rc);

	if (idx < 0)
		return rc;
	if (!cfg.db || idx != argc)
		return opts_cmd_usage_fail(&suspects_cmd);
	now_ms = cfg.until_ms ? cfg.until_ms : clock_real_ms();
	if (store_url_is_file(cfg.db, &file) && access(file, R_OK) < 0) {
		snprintf(err, sizeof(err), "%s: %s", cfg.db, strerror(errno));
		goto fail;
	}
	if (!(h = history_open(cfg.db, err, sizeof(err))))
		goto fail;
	if (history_episodes_query(h, now_ms - cfg.since_ms, now_ms + 1,
				   history_episode_add, &ec) != 0 ||
	    history_rounds_count(h, now_ms - cfg.since_ms, now_ms + 1, &rounds) != 0) {
		snprintf(err, sizeof(err), "%s: %s", cfg.db, history_error(h));
		goto fail;
	}
	if (!rounds) {
		char since[32];

		/* an empty history is not a clean fabric: nobody was looking */
		fprintf(cfg.json ? stderr : stdout,
			"no triangulate watch recorded a round in %s over the last %s: suspects "
			"are what a running 'triangulate watch --db %s' records\n",
			cfg.db, opts_duration_format(since, sizeof(since), cfg.since_ms), cfg.db);
	}
	if ((cfg.json ? &query_json_ops : &query_text_ops)
		    ->episodes_write(stdout, ec.v, ec.n, now_ms - cfg.since_ms, now_ms) < 0 ||
	    fflush(stdout)) {
		snprintf(err, sizeof(err), "writing output: %s", strerror(errno));
		goto fail;
	}
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "triangulate suspects: %s\n", err);
	rc = 1;
out:
	history_close(h);
	free(ec.v);
	return rc;
}
