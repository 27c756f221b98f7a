/* Backend-neutral store front: picks the backend by name, keeps the last
 * error text, and stores a whole batch as one transaction. */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct store {
	const struct store_ops *ops;
	void *h;
	char err[512];
};

static const struct store_ops *const store_backends[] = {
	&store_sqlite_ops,
};

struct store *store_open(const char *backend, const char *path, char *err,
			 size_t errlen)
{
	const struct store_ops *ops = NULL;
	struct store *s;
	size_t i;

	if (!backend)
		backend = "sqlite";
	for (i = 0; i < sizeof(store_backends) / sizeof(store_backends[0]); i++)
		if (strcmp(store_backends[i]->name, backend) == 0)
			ops = store_backends[i];
	if (!ops) {
		snprintf(err, errlen, "unknown store backend '%s'", backend);
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->ops = ops;
	s->h = ops->open(path, err, errlen);
	if (!s->h) {
		free(s);
		return NULL;
	}
	return s;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	s->ops->close(s->h);
	free(s);
}

const char *store_error(const struct store *s)
{
	return s->err;
}

int store_batch_begin(struct store *s, const struct report_batch *b,
		      int64_t now_ms, int *duplicate, int *seq_reused)
{
	return s->ops->batch_begin(s->h, b, now_ms, duplicate, seq_reused,
				   s->err, sizeof(s->err));
}

int store_flow_insert(struct store *s, const struct report_flow *f)
{
	return s->ops->flow_insert(s->h, f, s->err, sizeof(s->err));
}

int store_path_insert(struct store *s, const struct report_path *p)
{
	return s->ops->path_insert(s->h, p, s->err, sizeof(s->err));
}

int store_health_insert(struct store *s, const struct report_health *h)
{
	return s->ops->health_insert(s->h, h, s->err, sizeof(s->err));
}

int store_batch_commit(struct store *s)
{
	return s->ops->batch_commit(s->h, s->err, sizeof(s->err));
}

void store_batch_abort(struct store *s)
{
	s->ops->batch_abort(s->h);
}

int store_batch_put(struct store *s, const struct report_batch *b,
		    int64_t now_ms, int *duplicate, int *seq_reused)
{
	uint32_t i;

	*duplicate = 0;
	*seq_reused = 0;
	if (store_batch_begin(s, b, now_ms, duplicate, seq_reused) < 0)
		return -1;
	if (*duplicate)
		return 0;
	if (store_health_insert(s, &b->health) < 0)
		goto err;
	for (i = 0; i < b->nflows; i++)
		if (store_flow_insert(s, &b->flows[i]) < 0)
			goto err;
	for (i = 0; i < b->npaths; i++)
		if (store_path_insert(s, &b->paths[i]) < 0)
			goto err;
	if (store_batch_commit(s) < 0)
		return -1; /* commit rolls back itself on failure */
	return 0;
err:
	store_batch_abort(s);
	return -1;
}

int store_rollup_run(struct store *s, uint64_t *batches_rolled)
{
	uint64_t n = 0;
	int rc = s->ops->rollup_run(s->h, &n, s->err, sizeof(s->err));

	if (batches_rolled)
		*batches_rolled = n;
	return rc;
}

int store_retention_run(struct store *s, int64_t now_ms, int64_t raw_keep_ms,
			int64_t rollup_keep_ms,
			struct store_retention_stats *st)
{
	struct store_retention_stats local;

	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	if (s->ops->rollup_run(s->h, &st->batches_rolled, s->err,
			       sizeof(s->err)) < 0)
		return -1;
	return s->ops->retention_run(s->h, now_ms - raw_keep_ms,
				     now_ms - rollup_keep_ms, st, s->err,
				     sizeof(s->err));
}

int store_observations_query(struct store *s, int64_t since_ms,
			     int64_t until_ms, store_obs_cb cb, void *arg)
{
	return s->ops->observations_query(s->h, since_ms, until_ms, cb, arg,
					  s->err, sizeof(s->err));
}
