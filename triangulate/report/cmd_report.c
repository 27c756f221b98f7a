/* triangulate report: the day's fabric health from the collector's database
 * (whole-window fit, slices for timelines, watch history, prober health, the
 * previous report) written as summary.json and a self-contained index.html. */
#include "fabric_report.h"
#include "cmd.h"

#include "fabric_view.h"
#include "infer.h"
#include "inventory.h"
#include "inventory_source.h"
#include "model.h"
#include "opts.h"
#include "outfile.h"
#include "store.h"
#include "store_history.h"
#include "clock.h"
#include "vec.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct report_cfg {
	const char *db;          /* the collector's SQLite file */
	const char *out;         /* output directory (created) */
	const char *inventory;   /* inventory v1: addresses to device names */
	const char *previous;    /* previous summary.json (default: newest sibling) */
	long long since_ms;      /* the report covers this last stretch */
	long long until_ms;      /* its end, Unix ms (0: now) */
	long long slice_ms;      /* timeline slice, localized on its own */
	long long down_after_ms; /* a prober silent this long was down */
};

static const struct opt_spec report_opts[] = {
	CMD_STORE_OPTS(struct report_cfg, db, CMD_STORE_HELP),
	{ "out", 'o', OPT_STR, offsetof(struct report_cfg, out), 0, 0, NULL, "DIR",
	  "write index.html and summary.json here (required; created)" },
	{ "inventory", 'i', OPT_STR, offsetof(struct report_cfg, inventory), 0, 0,
	  NULL, "FILE", "inventory file (default: the one loaded into the --db)" },
	{ "previous", 0, OPT_STR, offsetof(struct report_cfg, previous), 0, 0,
	  NULL, "FILE", "previous summary.json to compare with (default: the newest "
	  "other DIR's sibling that has one)" },
	{ "since", 's', OPT_MS, offsetof(struct report_cfg, since_ms), 1e3,
	  31.0 * 86400e3, "24h", "DURATION", "the report covers this last stretch" },
	{ "until", 0, OPT_INT, offsetof(struct report_cfg, until_ms), 0, 1e15, "0",
	  "UNIX_MS", "end of the stretch in Unix ms (0: now)" },
	{ "slice", 0, OPT_MS, offsetof(struct report_cfg, slice_ms), 0, 86400e3, "0",
	  "DURATION", "timeline slice (0: since/24, an hour for a day, whole hours if "
	  "longer); whole hours are read from the hourly rollups" },
	{ "down-after", 0, OPT_MS, offsetof(struct report_cfg, down_after_ms), 1e3,
	  86400e3, "5m", "DURATION", "a prober that sent nothing this long was down" },
};

#define REPORT_HOUR_MS 3600000LL /* the store's rollup period */

void freport_slice_cfg_set(struct infer_cfg *cfg, size_t nslices)
{
	infer_cfg_default(cfg);
	if (nslices > 1)
		cfg->alpha /= (double)nslices;
}

/* The day's suspect matching s, added if new (NULL when the list is full). */
static struct freport_suspect *report_suspect_get(struct freport *r,
						  const struct suspect *s)
{
	struct freport_suspect *x;

	for (size_t i = 0; i < r->nsuspects; i++) {
		x = &r->suspects[i];
		if (x->kind == s->kind && !strcmp(x->from, s->from) && !strcmp(x->to, s->to))
			return x;
	}
	if (r->nsuspects == FREPORT_SUSPECTS_MAX)
		return NULL;
	x = &r->suspects[r->nsuspects++];
	memset(x, 0, sizeof(*x));
	x->kind = s->kind;
	x->fit.kind = s->kind;
	snprintf(x->fit.from, sizeof(x->fit.from), "%s", s->from);
	snprintf(x->fit.to, sizeof(x->fit.to), "%s", s->to);
	snprintf(x->from, sizeof(x->from), "%s", s->from);
	snprintf(x->to, sizeof(x->to), "%s", s->to);
	for (size_t i = 0; i < FREPORT_SLICES_MAX; i++)
		x->slice_loss[i] = -1;
	return x;
}

static void report_suspect_note(struct freport_suspect *x, const struct suspect *s)
{
	if (s->loss_ratio > x->loss_max)
		x->loss_max = s->loss_ratio;
	if (s->confidence > x->confidence)
		x->confidence = s->confidence;
}

static int report_layers_build(struct freport *r)
{
	const struct fabric_view *v = &r->day;
	int n = v->tiers > 1 ? v->tiers - 1 : 0;

	r->layers = calloc((size_t)n + 1, sizeof(*r->layers));
	if (!r->layers)
		return -1;
	r->nlayers = (size_t)n;
	for (int t = 0; t < n; t++) {
		char lo[32], hi[32];

		r->layers[t].lower = t;
		snprintf(r->layers[t].name, sizeof(r->layers[t].name), "%s-%s",
			 fabric_view_tier_label(v, t, lo, sizeof(lo)),
			 fabric_view_tier_label(v, t + 1, hi, sizeof(hi)));
	}
	for (uint32_t l = 0; l < v->m->nlinks; l++) {
		const struct fabric_link *fl = &v->links[l];
		int a = v->devs[fl->from].tier, b = v->devs[fl->to].tier;
		int lower = a < b ? a : b;
		struct freport_layer *y;

		if (lower < 0 || lower >= n || (a != b + 1 && b != a + 1))
			continue;
		y = &r->layers[lower];
		y->links++;
		y->sent += fl->sent;
		y->loss_ratio += fl->sent * fl->loss_ratio; /* divided below */
		y->suspects += fl->suspect >= 0;
	}
	for (int t = 0; t < n; t++)
		if (r->layers[t].sent > 0)
			r->layers[t].loss_ratio /= r->layers[t].sent;
	return 0;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int report_coverage_count(struct freport *r)
{
	const struct fabric_view *v = &r->day;
	uint32_t *p = malloc((v->npairs + 1) * sizeof(*p));

	if (!p)
		return -1;
	for (size_t i = 0; i < v->npairs; i++) {
		p[i] = v->pairs[i].paths;
		r->pairs_single_path += v->pairs[i].paths <= 1;
	}
	qsort(p, v->npairs, sizeof(*p), u32_cmp);
	if (v->npairs) {
		r->paths_min = p[0];
		r->paths_median = p[v->npairs / 2];
		r->paths_max = p[v->npairs - 1];
	}
	free(p);
	return 0;
}

struct report_prober_ctx {
	struct freport *r;
	size_t cap;
	int64_t down_after_ms;
};

static int report_prober_add(const struct history_prober_health *p, void *arg)
{
	struct report_prober_ctx *c = arg;
	struct freport *r = c->r;
	struct freport_prober *x;

	if (vec_room(&r->probers, r->nprobers, &c->cap, sizeof(*r->probers), 32) < 0)
		return -1;
	x = &r->probers[r->nprobers++];
	memset(x, 0, sizeof(*x));
	snprintf(x->name, sizeof(x->name), "%s", p->name);
	x->batches = p->batches;
	x->first_ms = p->first_ms;
	x->last_ms = p->last_ms;
	x->gap_max_ms = p->gap_max_ms;
	x->if_errors = p->if_errors;
	x->if_dropped = p->if_dropped;
	x->spool_dropped = p->spool_dropped;
	x->links_down_max = p->links_down_max;
	x->status = "ok";
	if (!p->batches) {
		x->status = "down";
		snprintf(x->reason, sizeof(x->reason), "sent no batch in the whole window");
	} else if (p->gap_max_ms >= c->down_after_ms) {
		x->status = "down";
		char gap[32];

		snprintf(x->reason, sizeof(x->reason), "silent for %s at most",
			 opts_duration_format(gap, sizeof(gap), p->gap_max_ms / 60000 * 60000));
	} else if (p->if_errors || p->if_dropped || p->spool_dropped || p->links_down_max) {
		x->status = "sick";
		snprintf(x->reason, sizeof(x->reason),
			 "%llu interface errors, %llu drops, %llu spooled batches lost, "
			 "%u links down",
			 (unsigned long long)p->if_errors, (unsigned long long)p->if_dropped,
			 (unsigned long long)p->spool_dropped, p->links_down_max);
	}
	return 0;
}

struct report_episode_ctx {
	struct freport *r;
	size_t cap;
};

static int report_episode_add(const struct history_episode *e, void *arg)
{
	struct report_episode_ctx *c = arg;

	return query_episode_append(&c->r->episodes, &c->r->nepisodes, &c->cap, e);
}

/* Watch history and prober health: both from the same file. */
static int report_history_load(struct freport *r, int64_t down_after_ms,
			       char *err, size_t errlen)
{
	struct report_prober_ctx pc = { r, 0, down_after_ms };
	struct report_episode_ctx ec = { r, 0 };
	struct history *h = history_open(r->db, err, errlen);
	int rc = -1;

	if (!h)
		return -1;
	if (history_episodes_query(h, r->since_ms, r->until_ms, report_episode_add, &ec) ||
	    history_rounds_count(h, r->since_ms, r->until_ms, &r->rounds) ||
	    history_prober_health_query(h, r->since_ms, r->until_ms, report_prober_add, &pc))
		snprintf(err, errlen, "%s: %s", r->db, history_error(h));
	else
		rc = 0;
	history_close(h);
	return rc;
}

/* A suspect was not seen before the first batch of any prober: an hourly
 * slice starts on the hour, maybe long before the data does. */
static void report_suspects_clamp(struct freport *r)
{
	int64_t first_ms = 0;

	for (size_t i = 0; i < r->nprobers; i++)
		if (r->probers[i].batches && (!first_ms || r->probers[i].first_ms < first_ms))
			first_ms = r->probers[i].first_ms;
	for (size_t i = 0; first_ms && i < r->nsuspects; i++)
		if (r->suspects[i].first_ms < first_ms)
			r->suspects[i].first_ms = first_ms;
}

static int report_suspect_cmp(const void *a, const void *b)
{
	const struct freport_suspect *x = a, *y = b;

	/* the whole day's suspects first, then the louder */
	if ((x->loss_ratio > 0) != (y->loss_ratio > 0))
		return x->loss_ratio > 0 ? -1 : 1;
	if (x->loss_max != y->loss_max)
		return x->loss_max > y->loss_max ? -1 : 1;
	int c = strcmp(x->from, y->from);

	return c ? c : strcmp(x->to, y->to);
}

/* A prober the inference names as a sick host (loss on every path it has)
 * is sick, whatever its own counters say. Host suspects carry device names,
 * which are prober names when the inventory names hosts as probers do. */
static void report_probers_blame(struct freport *r)
{
	for (size_t i = 0; i < r->nsuspects; i++) {
		const struct freport_suspect *s = &r->suspects[i];

		if (s->kind != SUSPECT_HOST)
			continue;
		for (size_t k = 0; k < r->nprobers; k++) {
			struct freport_prober *p = &r->probers[k];

			if (strcmp(p->name, s->from) || !strcmp(p->status, "down"))
				continue;
			p->status = "sick";
			snprintf(p->reason, sizeof(p->reason),
				 "localized as a sick host: %.3g%% loss on all its paths",
				 100 * s->loss_max);
		}
	}
}

int freport_gather(struct freport *r, const struct inventory *inv, int64_t slice_ms,
		   int64_t down_after_ms, char *err, size_t errlen)
{
	struct infer_cfg slice_cfg;
	int64_t last_end;
	int hourly;

	if (!slice_ms) {
		slice_ms = (r->until_ms - r->since_ms) / 24;
		if (slice_ms > REPORT_HOUR_MS) /* whole hours: rollups */
			slice_ms = (slice_ms + REPORT_HOUR_MS - 1) / REPORT_HOUR_MS *
				   REPORT_HOUR_MS;
	}
	if (slice_ms < 1000)
		slice_ms = 1000;
	if ((r->until_ms - r->since_ms) / slice_ms > FREPORT_SLICES_MAX)
		slice_ms = (r->until_ms - r->since_ms + FREPORT_SLICES_MAX - 1) / FREPORT_SLICES_MAX;
	r->nslices = (size_t)((r->until_ms - r->since_ms + slice_ms - 1) / slice_ms);
	if (r->nslices > FREPORT_SLICES_MAX)
		r->nslices = FREPORT_SLICES_MAX;
	/* each slice is a localization of its own and any one naming a link
	 * makes it a suspect of the day: at the full alpha each, 14 one-second
	 * slices of a lab night named a healthy link beside a 5% fault now and
	 * then (loss 0 in the day's fit; test_report) */
	freport_slice_cfg_set(&slice_cfg, r->nslices);
	/* Slices of whole hours end on the hour, so they are read from the
	 * hourly rollups (quick over days, and there after retention); the
	 * last one also carries the hour under way, read from raw results.
	 * The whole window then too: it differs from the raw read only by
	 * batches still in flight at until, none when until is now. */
	hourly = slice_ms % REPORT_HOUR_MS == 0;
	last_end = hourly ? r->until_ms - ((r->until_ms % REPORT_HOUR_MS) + REPORT_HOUR_MS) %
						  REPORT_HOUR_MS
			  : r->until_ms;
	if (fabric_view_db_build(&r->day, r->db,
				 hourly ? FABRIC_VIEW_HOURLY : FABRIC_VIEW_RAW,
				 r->since_ms, r->until_ms, inv, NULL, err, errlen) < 0)
		return -1;
	if (!(r->suspects = calloc(FREPORT_SUSPECTS_MAX, sizeof(*r->suspects)))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < r->day.sus.n; i++) {
		const struct suspect *s = &r->day.sus.v[i];
		struct freport_suspect *x = report_suspect_get(r, s);

		if (!x)
			break;
		x->fit = *s;
		x->loss_ratio = s->loss_ratio;
		x->flows = s->flows;
		x->lossy_flows = s->lossy_flows;
		report_suspect_note(x, s);
	}
	for (size_t i = 0; i < r->nslices; i++) {
		struct freport_slice *sl = &r->slices[i];
		struct fabric_view v;

		/* the last slice ends at until: the freshest full one, with the
		 * hour under way when the slices are hourly */
		sl->end_ms = last_end - (int64_t)(r->nslices - 1 - i) * slice_ms;
		sl->start_ms = sl->end_ms - slice_ms;
		if (i == r->nslices - 1)
			sl->end_ms = r->until_ms;
		if (sl->start_ms < r->since_ms)
			sl->start_ms = r->since_ms;
		if (fabric_view_db_build(&v, r->db,
					 hourly ? FABRIC_VIEW_HOURLY : FABRIC_VIEW_RAW,
					 sl->start_ms, sl->end_ms, inv, &slice_cfg, err,
					 errlen) < 0)
			return -1;
		sl->sent = v.sent;
		sl->lost = v.lost;
		sl->nsuspects = v.sus.n;
		for (size_t k = 0; k < v.sus.n; k++) {
			const struct suspect *s = &v.sus.v[k];
			struct freport_suspect *x = report_suspect_get(r, s);

			if (!x)
				break;
			if (!x->slices++)
				x->first_ms = sl->start_ms;
			x->last_ms = sl->end_ms;
			x->slice_loss[i] = s->loss_ratio;
			report_suspect_note(x, s);
		}
		fabric_view_free(&v);
	}
	qsort(r->suspects, r->nsuspects, sizeof(*r->suspects), report_suspect_cmp);
	if (report_layers_build(r) < 0 || report_coverage_count(r) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (report_history_load(r, down_after_ms, err, errlen) < 0)
		return -1;
	report_suspects_clamp(r);
	report_probers_blame(r);
	return 0;
}

/* The newest summary.json in a sibling of out whose name sorts before it
 * (nightly-report's dated directories), or "" when there is none. */
static void report_previous_find(const char *out, char *path, size_t len)
{
	char *o1 = strdup(out), *o2 = strdup(out);
	char best[256] = "";
	const char *parent, *self;
	struct dirent *de;
	DIR *d;

	path[0] = '\0';
	if (!o1 || !o2)
		goto out;
	parent = dirname(o1);
	self = basename(o2);
	if (!(d = opendir(parent)))
		goto out;
	while ((de = readdir(d))) {
		char cand[1024];
		struct stat st;

		if (de->d_name[0] == '.' || strcmp(de->d_name, self) >= 0 ||
		    strcmp(de->d_name, best) <= 0 || strlen(de->d_name) >= sizeof(best))
			continue;
		snprintf(cand, sizeof(cand), "%s/%s/summary.json", parent, de->d_name);
		if (stat(cand, &st) == 0 && S_ISREG(st.st_mode))
			snprintf(best, sizeof(best), "%s", de->d_name);
	}
	closedir(d);
	if (best[0])
		snprintf(path, len, "%s/%s/summary.json", parent, best);
out:
	free(o1);
	free(o2);
}

/* One writer's file and the report it writes, through outfile_write. */
struct report_file {
	const struct freport_ops *ops;
	const struct freport *r;
};

static int report_file_write_cb(FILE *f, void *arg, char *err, size_t errlen)
{
	const struct report_file *rf = arg;

	(void)err, (void)errlen; /* a failed write: errno says why */
	return rf->ops->write(f, rf->r);
}

/* Write one writer's file whole (a reader, or a browser, never sees half
 * a report), synced: the nightly run may be the last before a reboot. */
static int report_file_write(const char *dir, const struct freport_ops *ops,
			     const struct freport *r, char *err, size_t errlen)
{
	struct report_file rf = { ops, r };
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, ops->file);
	return outfile_write(path, 1, report_file_write_cb, &rf, err, errlen);
}

/* mkdir -p: nightly-report's parent directory may not exist yet. */
static int report_dir_make(const char *dir)
{
	char p[512];

	if (snprintf(p, sizeof(p), "%s", dir) >= (int)sizeof(p)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -1;
		*s = '/';
	}
	return mkdir(p, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

void freport_free(struct freport *r)
{
	fabric_view_free(&r->day);
	free(r->layers);
	free(r->suspects);
	free(r->probers);
	free(r->episodes);
	freport_previous_free(&r->prev);
}

static const struct opts_cmd report_cmd =
	OPTS_CMD("triangulate report",
		 "triangulate report --db FILE --out DIR [--since 24h] [--inventory FILE] "
		 "[--previous FILE]",
		 "Write the fabric health report (index.html, summary.json) for the "
		 "last day: loss per tier, suspects with timelines, worst pairs, "
		 "path coverage, probers down or sick, change since the last report.",
		 report_opts);

int cmd_report(int argc, char **argv)
{
	static const struct freport_ops *const writers[] = { &freport_json_ops,
							     &freport_html_ops };
	struct report_cfg cfg = { 0 };
	struct freport r = { 0 };
	struct inventory *inv = NULL;
	const char *file;
	char err[2048], prev[512];
	int rc, idx = opts_cmd_parse(&report_cmd, &cfg, argc, argv, &rc);

	if (idx < 0)
		return rc;
	if (!cfg.db || !cfg.out || idx != argc)
		return opts_cmd_usage_fail(&report_cmd);
	r.db = cfg.db;
	r.inventory = cfg.inventory;
	r.generated_ms = clock_real_ms();
	r.until_ms = cfg.until_ms ? cfg.until_ms : r.generated_ms;
	r.since_ms = r.until_ms - cfg.since_ms;
	if (store_url_is_file(cfg.db, &file) && access(file, R_OK) < 0) {
		snprintf(err, sizeof(err), "%s: %s", cfg.db, strerror(errno));
		goto fail;
	}
	{
		int none;

		/* the report names devices: the store's inventory by default */
		if (!(inv = inventory_source_open(cfg.inventory, cfg.db, &none, err,
						  sizeof(err)))) {
			if (!none)
				goto fail;
			fprintf(stderr, "triangulate report: %s\n", err);
			rc = 2;
			goto out;
		}
	}
	if (report_dir_make(cfg.out) < 0) {
		snprintf(err, sizeof(err), "%s: %s", cfg.out, strerror(errno));
		goto fail;
	}
	if (cfg.previous)
		snprintf(prev, sizeof(prev), "%s", cfg.previous);
	else
		report_previous_find(cfg.out, prev, sizeof(prev));
	if (prev[0] && freport_previous_read(&r.prev, prev, err, sizeof(err)) < 0) {
		/* an explicit file must be readable; a found one only helps */
		if (cfg.previous)
			goto fail;
		fprintf(stderr, "triangulate report: ignoring the previous report: %s\n", err);
	}
	if (freport_gather(&r, inv, cfg.slice_ms, cfg.down_after_ms, err, sizeof(err)) < 0)
		goto fail;
	for (size_t i = 0; i < sizeof(writers) / sizeof(writers[0]); i++)
		if (report_file_write(cfg.out, writers[i], &r, err, sizeof(err)) < 0)
			goto fail;
	printf("%s/index.html\n", cfg.out);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "triangulate report: %s\n", err);
	rc = 1;
out:
	freport_free(&r);
	inventory_free(inv);
	return rc;
}
