/* Reads observation rows from the store (store/store.h, the only SQL) and
 * adds them to an obs_set, the one input the inference takes. */
#include "db_source.h"

#include "observations.h"
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int db_source_path_split(char *path, const char **hops, int max)
{
	int n = 0;
	char *save = NULL;

	if (!strcmp(path, "-") || !path[0])
		return -1;
	for (char *tok = strtok_r(path, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (n == max)
			return -2;
		hops[n++] = tok;
	}
	return n;
}

struct db_source_ctx {
	struct obs_set *out;
	long added;
	char *err;
	size_t errlen;
};

static int db_source_row_cb(const struct store_obs_row *r, void *arg)
{
	struct db_source_ctx *ctx = arg;
	const char *hops[OBS_HOPS_MAX];
	char path[4096];
	struct obs_row row = { 0 };

	if (r->sent == 0)
		return 0; /* only down intervals: nothing measured */
	snprintf(path, sizeof(path), "%s", r->path ? r->path : "-");
	row.prober = r->prober;
	row.target = r->target;
	row.proto = !strcmp(r->proto, "tcp") ? OBS_PROTO_TCP : OBS_PROTO_UDP;
	row.sport = r->sport;
	row.dport = r->dport;
	row.sent = r->sent;
	/* The store counts forward loss; clamp in case a buggy prober reported
	 * more lost than sent, rather than reject a whole window. */
	row.lost = r->lost > r->sent ? r->sent : r->lost;
	/* replies lost after the responder counted the probe: evidence on the
	 * reverse route (model.c), same clamp */
	row.lost_rev = r->lost_rev > row.sent - row.lost ? row.sent - row.lost : r->lost_rev;
	row.lost_dark = r->lost_dark > row.lost ? row.lost : r->lost_dark;
	row.nhops = db_source_path_split(path, hops, OBS_HOPS_MAX);
	if (row.nhops == -2)
		row.nhops = -1; /* a path longer than any fabric: treat as unknown */
	/* A stale path: the route moved inside the window, so the latest hops
	 * are wrong for the probes before the move. One rule: its hops are
	 * unknown (the flow is counted, not placed). */
	if (r->path_moved)
		row.nhops = -1;
	row.hops = row.nhops > 0 ? hops : NULL;
	if (obs_set_row_add(ctx->out, &row, ctx->err, ctx->errlen) < 0)
		return -1;
	ctx->added++;
	return 0;
}

/* The two window reads share everything but the store query they run. */
static long db_source_query(const char *db_path, int64_t since_ms,
			    int64_t until_ms, int hourly, struct obs_set *out,
			    char *err, size_t errlen)
{
	struct db_source_ctx ctx = { out, 0, err, errlen };
	char serr[256];
	struct store *s;
	const char *file;
	int rc;

	err[0] = '\0';
	/* Opening creates a database; a query of a missing one is a typo. */
	if (store_url_is_file(db_path, &file) && access(file, R_OK) < 0) {
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		return -1;
	}
	s = store_open(NULL, db_path, serr, sizeof(serr));
	if (!s) {
		snprintf(err, errlen, "%s: %s", db_path, serr);
		return -1;
	}
	rc = hourly ? store_observations_hourly_query(s, since_ms, until_ms,
						       db_source_row_cb, &ctx)
		    : store_observations_query(s, since_ms, until_ms,
					       db_source_row_cb, &ctx);
	if (rc != 0) {
		char inner[256];

		snprintf(inner, sizeof(inner), "%s", err[0] ? err : store_error(s));
		snprintf(err, errlen, "%s: %s", db_path, inner);
		store_close(s);
		return -1;
	}
	store_close(s);
	return ctx.added;
}

long db_source_load(const char *db_path, int64_t since_ms, int64_t until_ms,
		    struct obs_set *out, char *err, size_t errlen)
{
	return db_source_query(db_path, since_ms, until_ms, 0, out, err, errlen);
}

long db_source_hourly_load(const char *db_path, int64_t since_ms,
			   int64_t until_ms, struct obs_set *out, char *err,
			   size_t errlen)
{
	return db_source_query(db_path, since_ms, until_ms, 1, out, err, errlen);
}
