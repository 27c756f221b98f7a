/* Suspect history front (store/store_history.h): picks the backend the store
 * URL names (SQLite file or ClickHouse database), keeps the last error, and
 * holds the prober-health walk both backends feed their rows to. */
#include "store_history_impl.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct history {
	const struct history_ops *ops;
	void *h;
	char err[512];
};

struct history *history_open(const char *url, char *err, size_t errlen)
{
	struct history *h = calloc(1, sizeof(*h));
	const char *backend, *location;

	if (!h) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	store_url_split(url, &backend, &location);
	h->ops = strcmp(backend, "clickhouse") ? &history_sqlite_ops
					       : &history_clickhouse_ops;
	if (!(h->h = h->ops->open(location, err, errlen))) {
		free(h);
		return NULL;
	}
	return h;
}

void history_close(struct history *h)
{
	if (!h)
		return;
	h->ops->close(h->h);
	free(h);
}

const char *history_error(const struct history *h)
{
	return h ? h->err : "no history";
}

int history_round_record(struct history *h, int64_t at_ms,
			 const struct history_suspect *v, size_t n,
			 unsigned close_after_rounds)
{
	for (size_t i = 0; i < n; i++)
		if (!v[i].kind || !v[i].from || !v[i].from[0]) {
			snprintf(h->err, sizeof(h->err),
				 "suspect %zu of the round has no kind or name", i);
			return -1;
		}
	return h->ops->round_record(h->h, at_ms, v, n,
				    close_after_rounds ? close_after_rounds : 1,
				    h->err, sizeof(h->err));
}

int history_episodes_query(struct history *h, int64_t since_ms,
			   int64_t until_ms, history_episode_cb cb, void *arg)
{
	return h->ops->episodes_query(h->h, since_ms, until_ms, cb, arg, h->err,
				      sizeof(h->err));
}

int history_points_query(struct history *h, const char *device,
			 int64_t since_ms, int64_t until_ms,
			 history_point_cb cb, void *arg)
{
	return h->ops->points_query(h->h, device, since_ms, until_ms, cb, arg,
				    h->err, sizeof(h->err));
}

int history_prober_health_query(struct history *h, int64_t since_ms,
				int64_t until_ms, history_prober_cb cb,
				void *arg)
{
	return h->ops->prober_health_query(h->h, since_ms, until_ms, cb, arg,
					   h->err, sizeof(h->err));
}

int history_expire(struct history *h, int64_t before_ms, uint64_t *deleted)
{
	uint64_t n = 0;
	int rc = h->ops->expire(h->h, before_ms, &n, h->err, sizeof(h->err));

	if (deleted)
		*deleted = n;
	return rc;
}

int history_rounds_count(struct history *h, int64_t since_ms, int64_t until_ms,
			 uint64_t *n)
{
	*n = 0;
	return h->ops->rounds_count(h->h, since_ms, until_ms, n, h->err,
				    sizeof(h->err));
}

/* ---- the prober-health walk ---- */

void history_prober_walk_init(struct history_prober_walk *w, int64_t since_ms,
			      int64_t until_ms, history_prober_cb cb, void *arg)
{
	memset(w, 0, sizeof(*w));
	w->since_ms = since_ms;
	w->until_ms = until_ms;
	w->cb = cb;
	w->arg = arg;
	w->cover_ms = since_ms;
}

/* Emit the prober in hand (if any) after closing its last gap at until. */
static int history_prober_flush(struct history_prober_walk *w)
{
	struct history_prober_health *p = &w->cur;

	if (!p->name)
		return 0;
	if (w->until_ms - w->cover_ms > p->gap_max_ms)
		p->gap_max_ms = w->until_ms - w->cover_ms;
	return w->cb(p, w->arg);
}

int history_prober_walk_row(struct history_prober_walk *w, const char *name,
			    int64_t first_seen_ms, int has_batch,
			    int64_t start_ms, int64_t end_ms, uint64_t if_errors,
			    uint64_t if_dropped, uint64_t spool_dropped,
			    uint32_t links_down)
{
	struct history_prober_health *p = &w->cur;

	if (!p->name || strcmp(name, w->name)) {
		if ((w->rc = history_prober_flush(w)))
			return w->rc;
		memset(p, 0, sizeof(*p));
		snprintf(w->name, sizeof(w->name), "%s", name);
		p->name = w->name;
		w->cover_ms = w->since_ms;
	}
	if (!has_batch)
		return 0; /* no batch in the window */
	/* a prober that started inside the window was not silent before its
	 * first batch: it did not exist yet */
	if (!p->batches && first_seen_ms > w->since_ms)
		w->cover_ms = start_ms;
	if (!p->batches)
		p->first_ms = start_ms;
	p->batches++;
	if (end_ms > p->last_ms)
		p->last_ms = end_ms;
	if (start_ms - w->cover_ms > p->gap_max_ms)
		p->gap_max_ms = start_ms - w->cover_ms;
	if (end_ms > w->cover_ms)
		w->cover_ms = end_ms;
	p->if_errors += if_errors;
	p->if_dropped += if_dropped;
	p->spool_dropped += spool_dropped;
	if (links_down > p->links_down_max)
		p->links_down_max = links_down;
	return 0;
}

int history_prober_walk_end(struct history_prober_walk *w)
{
	return w->rc ? w->rc : history_prober_flush(w);
}
