/* triangulate watch: as probers' batches land (or every interval), localize
 * over the last window of the collector's database, record the round in the
 * suspect history, and raise or resolve alerts (log, command hook,
 * Alertmanager). Never exits on a bad round. */
#include "alert.h"
#include "cmd.h"
#include "cmd_localize.h"
#include "alert_select.h"
#include "alert_sink.h"
#include "infer.h"
#include "inventory.h"
#include "inventory_source.h"
#include "store.h"
#include "log.h"
#include "model.h"
#include "opts.h"
#include "store_history.h"
#include "window.h"
#include "clock.h"
#include "vec.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WATCH_SINKS_MAX 3
#define WATCH_POLL_MS 250 /* how often the store is asked for new batches */

struct watch_cfg {
	const char *db;           /* the collector's SQLite database */
	long long interval_ms;    /* most time between rounds (all of it with --timer) */
	long long settle_ms;      /* after a new batch, wait this long for its peers */
	long long window_ms;      /* each round looks this far back */
	long long persist;        /* rounds a suspect must persist to fire */
	long long clear;          /* clean rounds before an alert resolves; 0 = persist */
	long long resend_ms;      /* re-send firing alerts this often */
	long long timeout_ms;     /* bound on one delivery */
	const char *alertmanager; /* Alertmanager base URL; none: not used */
	const char *hook;         /* shell command fed each alert's JSON */
	const char *inventory;    /* inventory v1: addresses to device names */
	const char *runbook_url;  /* carried by every alert (NULL: none) */
	double background_loss;   /* 0: learned; else healthy links lose at most this */
	double alpha;             /* 0: the default; family-wise false-alarm probability */
	long long rounds;         /* stop after this many rounds; 0 = run on */
	int once;                 /* one round, then exit (status 3 if alerts fire) */
	int timer;                /* rounds on a fixed timer, blind to batch arrivals */
	int verbose;              /* log every round's figures */
};

#define O(f) offsetof(struct watch_cfg, f)
static const struct opt_spec watch_opts[] = {
	CMD_STORE_OPTS(struct watch_cfg, db, CMD_STORE_HELP),
	{ "interval", 0, OPT_MS, O(interval_ms), 200, 86400000, "10s", "DURATION",
	  "most time between localization rounds; a round with no new batch since "
	  "the last one is skipped (with --timer: the time between rounds)" },
	{ "settle", 0, OPT_MS, O(settle_ms), 0, 600000, "1s", "DURATION",
	  "a round runs this long after new batches land, so batches of one "
	  "reporting interval share it" },
	{ "timer", 0, OPT_FLAG, O(timer), 0, 0, NULL, NULL,
	  "rounds on a fixed timer, whether or not new batches have landed" },
	{ "window", 'w', OPT_MS, O(window_ms), 1000, 7 * 86400000.0, "30s", "DURATION",
	  "observations each round looks back over" },
	{ "persist", 0, OPT_INT, O(persist), 1, 1000, "2", "K",
	  "consecutive rounds a suspect must persist before it alerts" },
	{ "clear", 0, OPT_INT, O(clear), 0, 1000, "0", "N",
	  "consecutive clean rounds before an alert resolves (0: same as --persist)" },
	{ "resend", 0, OPT_MS, O(resend_ms), 1000, 86400000, "60s", "DURATION",
	  "re-send firing alerts this often (Alertmanager forgets silent ones)" },
	{ "timeout", 0, OPT_MS, O(timeout_ms), 100, 600000, "5s", "DURATION",
	  "bound on one delivery (hook run or HTTP post)" },
	{ "alertmanager", 'a', OPT_STR, O(alertmanager), 0, 0, NULL, "URL",
	  "Alertmanager base URL, e.g. http://127.0.0.1:9093 (v2 API)" },
	{ "hook", 0, OPT_STR, O(hook), 0, 0, NULL, "CMD",
	  "run 'sh -c CMD' per alert event with its JSON on stdin" },
	{ "inventory", 'i', OPT_STR, O(inventory), 0, 0, NULL, "FILE",
	  "inventory file, loaded into the --db so the commands alerts print find it "
	  "(default: the one loaded there)" },
	{ "runbook-url", 0, OPT_STR, O(runbook_url), 0, 0, NULL, "URL",
	  "the operator's runbook, carried by every alert" },
	{ "background-loss", 0, OPT_DOUBLE, O(background_loss), 1e-9, 0.5, NULL, "RATE",
	  "override: every healthy link loses at most this (default: learned per window)" },
	{ "alpha", 0, OPT_DOUBLE, O(alpha), 1e-12, 0.5, NULL, "P",
	  "family-wise false-alarm probability per round (default 0.01)" },
	{ "rounds", 0, OPT_INT, O(rounds), 0, 1e9, "0", "N", "stop after N rounds (0: until SIGTERM)" },
	{ "once", 0, OPT_FLAG, O(once), 0, 0, NULL, NULL,
	  "one round with --persist 1, then exit: 3 if something alerts, 0 if not" },
	{ "verbose", 'v', OPT_FLAG, O(verbose), 0, 0, NULL, NULL, "log every round's figures" },
};
#undef O

static volatile sig_atomic_t watch_stop;

static void watch_signal_handle(int sig)
{
	(void)sig;
	watch_stop = 1;
}

/* Load the inventory file into the store, saying so when it changed. */
static int watch_inventory_store(const char *path, const char *db)
{
	char err[512];
	int changed;

	if (inventory_source_load(path, db, &changed, err, sizeof(err)) < 0) {
		log_msg(LOG_ERR, "%s", err);
		return -1;
	}
	if (changed)
		log_msg(LOG_INFO, "inventory %s loaded into %s", path, db);
	return 0;
}

struct watch {
	const struct watch_cfg *cfg;
	struct inventory *inv;
	const char *inv_to_load; /* --inventory not yet in the store (no db yet) */
	struct history *hist;
	struct alert_book *book;
	struct alert_sink sinks[WATCH_SINKS_MAX];
	size_t nsinks;
	struct alert_sink_env env;
	struct infer_cfg icfg;
	struct alert_select_cfg scfg;
	unsigned fired; /* fire events so far */
	struct watch_seen *seen; /* per prober, the end of its latest batch */
	size_t nseen, capseen;
	size_t fresh;   /* probers with a batch newer than at the last round */
	struct log_limit lim_round, lim_sink;
};

static void watch_event_deliver(enum alert_event ev, const struct alert *a,
				void *arg)
{
	struct watch *w = arg;
	char err[512];

	if (ev == ALERT_FIRE)
		w->fired++;
	for (size_t i = 0; i < w->nsinks; i++)
		if (w->sinks[i].ops->deliver(w->sinks[i].ctx, &w->env, ev, a, err,
					     sizeof(err)) < 0)
			log_limited(&w->lim_sink, 10, LOG_ERR, "alert sink %s: %s",
				    w->sinks[i].ops->name, err);
}

static void watch_history_record(struct watch *w, int64_t at_ms,
				 const struct suspect_list *sus)
{
	struct history_suspect *hv;
	char err[512];

	/* opened once the store has data, so a mistyped --db creates no file;
	 * alerts matter more than history: without it they still go out */
	if (!w->hist && !(w->hist = history_open(w->cfg->db, err, sizeof(err)))) {
		log_limited(&w->lim_round, 5, LOG_ERR,
			    "suspect history unavailable, alerting without it: %s", err);
		return;
	}
	hv = calloc(sus->n ? sus->n : 1, sizeof(*hv));
	if (!hv) {
		log_limited(&w->lim_round, 5, LOG_ERR, "history: out of memory");
		return;
	}
	for (size_t i = 0; i < sus->n; i++) {
		const struct suspect *s = &sus->v[i];

		hv[i] = (struct history_suspect){
			.kind = suspect_kind_name(s->kind), .from = s->from, .to = s->to,
			.loss_ratio = s->loss_ratio, .loss_lo = s->loss_lo,
			.loss_hi = s->loss_hi, .confidence = s->confidence,
			.flows = s->flows, .lossy_flows = s->lossy_flows,
			.probers = s->probers,
		};
	}
	if (history_round_record(w->hist, at_ms, hv, sus->n,
				 (unsigned)w->cfg->clear) < 0)
		log_limited(&w->lim_round, 5, LOG_ERR, "history %s: %s", w->cfg->db,
			    history_error(w->hist));
	free(hv);
}

/* One prober's latest batch end, as of the last round. */
struct watch_seen {
	uint64_t name_hash;
	int64_t last_ms;
};

static uint64_t watch_name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static int watch_seen_cb(const struct history_prober_health *p, void *arg)
{
	struct watch *w = arg;
	uint64_t k = watch_name_hash(p->name);
	size_t i;

	if (!p->batches)
		return 0;
	for (i = 0; i < w->nseen && w->seen[i].name_hash != k; i++)
		;
	if (i == w->nseen) {
		if (vec_room(&w->seen, w->nseen, &w->capseen, sizeof(*w->seen), 64) < 0)
			return -1;
		w->seen[w->nseen++] = (struct watch_seen){ k, INT64_MIN };
	}
	if (p->last_ms > w->seen[i].last_ms) {
		w->fresh++;
		w->seen[i].last_ms = p->last_ms;
	}
	return 0;
}

/* Count in w->fresh the probers whose latest batch is newer than at the last
 * look, and remember the new ends. Returns 0, or -1 when the store cannot
 * tell (no history handle yet, or a failed query). */
static int watch_arrivals_take(struct watch *w)
{
	int64_t now_ms = clock_real_ms();

	if (!w->hist)
		return -1;
	/* ends up to a day ahead: a prober's clock may run ahead of ours */
	if (history_prober_health_query(w->hist, now_ms - w->cfg->window_ms,
					now_ms + 86400000, watch_seen_cb, w) != 0) {
		log_limited(&w->lim_round, 5, LOG_ERR, "new batches unknown: %s",
			    history_error(w->hist));
		return -1;
	}
	return 0;
}

/* One round: localize the window (the one pipeline, as `localize --db
 * --window` does), then the one-alert rule decides what may alert. A failure
 * is logged and the round skipped, never fatal. */
static void watch_round_run(struct watch *w)
{
	int64_t at_ms = clock_real_ms();
	struct window_req req = {
		.src = WINDOW_SRC_DB, .path = w->cfg->db,
		.since_ms = at_ms - w->cfg->window_ms, .until_ms = at_ms,
		.inv = w->inv, .cfg = &w->icfg,
	};
	struct window_result res = { 0 };
	struct alert_input *in = NULL;
	struct suspect *firing = NULL;
	size_t nfiring = 0;
	char err[512];

	if (window_localize_run(&req, &res, err, sizeof(err)) < 0) {
		log_limited(&w->lim_round, 5, LOG_ERR, "round skipped: %s", err);
		return;
	}
	if (w->inv_to_load && watch_inventory_store(w->inv_to_load, w->cfg->db) == 0)
		w->inv_to_load = NULL;
	/* no data is not a clean bill of health: leave alerts as they are */
	if (res.nflows == 0) {
		log_limited(&w->lim_round, 5, LOG_WARN,
			    "round skipped: no observations in the last %s of %s",
			    opts_duration_format(err, sizeof(err), w->cfg->window_ms), w->cfg->db);
		goto out;
	}
	watch_history_record(w, at_ms, &res.sus);
	/* batches seen by this round are not new to the next; taken after the
	 * load, so a batch landing in between is counted in the next round
	 * without triggering it, never triggering a round that already saw it */
	if (!w->cfg->timer) {
		watch_arrivals_take(w);
		w->fresh = 0;
	}
	if (alert_book_firing_list(w->book, &firing, &nfiring) < 0 ||
	    alert_select_round(res.m, &res.sus, firing, nfiring, &w->scfg, &in) < 0) {
		log_limited(&w->lim_round, 5, LOG_ERR, "round: out of memory");
		goto out;
	}
	if (w->cfg->verbose) {
		char list[512] = "";
		size_t off = 0, lossy = 0;

		for (size_t i = 0; i < res.m->nflows; i++)
			lossy += res.m->flows[i].lost > 0;
		for (size_t i = 0; i < res.sus.n && i < 6 && off < sizeof(list); i++)
			off += (size_t)snprintf(list + off, sizeof(list) - off,
						" %s %s%s%s %.3g%%%s", suspect_kind_name(in[i].s.kind),
						in[i].s.from, in[i].s.to[0] ? "->" : "",
						in[i].s.to, 100 * in[i].s.loss_ratio,
						in[i].explained ? " (explained)"
						: in[i].held ? " (held)" : "");
		log_msg(LOG_DEBUG, "round: %zu flows (%zu lossy), %zu suspects%s%s, "
			"model %.0f ms, inference %.0f ms", res.nflows, lossy, res.sus.n,
			res.sus.n ? ":" : "", list, res.model_ms, res.infer_ms);
	}
	if (alert_book_round(w->book, at_ms, w->cfg->window_ms, in, res.sus.n,
			     watch_event_deliver, w) < 0)
		log_limited(&w->lim_round, 5, LOG_ERR, "alerts: out of memory");
out:
	free(firing);
	free(in);
	window_result_free(&res);
}

/* Sleep until deadline_ms (monotonic) in short steps so SIGTERM is prompt. */
static void watch_sleep_until(int64_t deadline_ms)
{
	while (!watch_stop) {
		int64_t left = deadline_ms - clock_mono_ms();
		struct timespec ts;

		if (left <= 0)
			return;
		if (left > 100)
			left = 100;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)left * 1000000;
		nanosleep(&ts, NULL);
	}
}

static const struct opts_cmd watch_cmd =
	OPTS_CMD("triangulate watch",
		 "triangulate watch --db FILE [--interval 10s] [--window 30s] [--persist 2] "
		 "[--alertmanager URL] [--hook CMD] [--inventory FILE] [--once]",
		 "Localize as new batches land and alert on suspects that persist.",
		 watch_opts);

int cmd_watch(int argc, char **argv)
{
	struct watch_cfg cfg = { 0 };
	struct watch w = { 0 };
	struct alert_cfg acfg;
	struct sigaction sa = { 0 };
	char err[512];
	int64_t next_ms, settle_ms = 0; /* settle_ms: a round is due then (0: none) */
	long long round = 0;
	int rc;

	if (opts_cmd_parse(&watch_cmd, &cfg, argc, argv, &rc) < 0)
		return rc;
	log_init("triangulate watch", cfg.verbose ? LOG_DEBUG : LOG_INFO);
	if (!cfg.db) {
		log_msg(LOG_ERR, "--db is required");
		return 2;
	}
	if (cfg.once) {
		cfg.persist = 1;
		cfg.rounds = 1;
	}
	if (!cfg.clear)
		cfg.clear = cfg.persist;
	w.cfg = &cfg;
	/* the commands each alert prints name devices: they find the
	 * inventory in the store, so the watch's own file goes there first */
	{
		int none;

		/* no database yet: the file now, the store once it exists */
		const char *file;

		if (cfg.inventory && store_url_is_file(cfg.db, &file) && access(file, F_OK) < 0)
			w.inv_to_load = cfg.inventory;
		else if (cfg.inventory && watch_inventory_store(cfg.inventory, cfg.db) < 0)
			return 1;
		if (!(w.inv = inventory_source_open(w.inv_to_load, cfg.db, &none, err,
						    sizeof(err)))) {
			log_msg(LOG_ERR, "%s", err);
			return none ? 2 : 1;
		}
	}
	alert_cfg_default(&acfg);
	acfg.raise_rounds = (unsigned)cfg.persist;
	acfg.clear_rounds = (unsigned)cfg.clear;
	acfg.resend_ms = cfg.resend_ms;
	w.book = alert_book_new(&acfg);
	if (!w.book) {
		log_msg(LOG_ERR, "out of memory");
		history_close(w.hist);
		inventory_free(w.inv);
		return 1;
	}
	w.sinks[w.nsinks++] = (struct alert_sink){ &alert_sink_log_ops, NULL };
	if (cfg.hook)
		w.sinks[w.nsinks++] = (struct alert_sink){ &alert_sink_hook_ops, (void *)cfg.hook };
	if (cfg.alertmanager)
		w.sinks[w.nsinks++] =
			(struct alert_sink){ &alert_sink_am_ops, (void *)cfg.alertmanager };
	w.env.db_path = cfg.db;
	w.env.resend_ms = cfg.resend_ms;
	w.env.timeout_ms = (int)cfg.timeout_ms;
	w.env.runbook_url = cfg.runbook_url;
	localize_infer_cfg_set(&w.icfg, cfg.background_loss, cfg.alpha);
	alert_select_cfg_default(&w.scfg);
	sa.sa_handler = watch_signal_handle;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	log_msg(LOG_INFO,
		"watching %s: round %s %lld ms over %lld ms, alert after %lld rounds, "
		"resolve after %lld; sinks: log%s%s",
		cfg.db, cfg.timer ? "every" : "as new batches land (else skipped) within",
		cfg.interval_ms, cfg.window_ms, cfg.persist, cfg.clear,
		cfg.hook ? ", hook" : "", cfg.alertmanager ? ", alertmanager" : "");
	next_ms = clock_mono_ms();
	watch_round_run(&w);
	round++;
	while (!watch_stop && (!cfg.rounds || round < cfg.rounds)) {
		int64_t now_ms = clock_mono_ms();

		if (cfg.timer || watch_arrivals_take(&w) < 0) {
			/* a fixed schedule: a slow round does not push later ones back */
			next_ms += cfg.interval_ms;
			if (next_ms < now_ms)
				next_ms = now_ms;
			watch_sleep_until(next_ms);
			if (watch_stop)
				break;
			watch_round_run(&w);
			round++;
			continue;
		}
		/* On batch arrivals: the round sees a reporting interval's
		 * batches as soon as they land, not up to an interval later,
		 * and every round carries new data, so the K rounds a suspect
		 * must persist are K looks at new evidence. */
		if (w.fresh && !settle_ms)
			settle_ms = now_ms + cfg.settle_ms;
		if (settle_ms && now_ms >= settle_ms) {
			watch_round_run(&w);
			round++;
			settle_ms = 0;
			next_ms = clock_mono_ms() + cfg.interval_ms;
		} else if (now_ms >= next_ms) {
			/* no new data is no new evidence: the round would only
			 * repeat the last one's verdict, so it counts for nothing */
			if (cfg.verbose)
				log_msg(LOG_DEBUG, "round skipped: no new batches in %lld ms",
					cfg.interval_ms);
			round++;
			next_ms = now_ms + cfg.interval_ms;
		} else {
			int64_t until_ms = settle_ms ? settle_ms : next_ms;

			watch_sleep_until(until_ms < now_ms + WATCH_POLL_MS
						  ? until_ms : now_ms + WATCH_POLL_MS);
		}
	}
	log_msg(LOG_INFO, "stopping after %lld rounds, %u alerts fired, %zu firing",
		round, w.fired, alert_book_firing(w.book));
	rc = cfg.once && w.fired ? 3 : 0;
	alert_book_free(w.book);
	history_close(w.hist);
	inventory_free(w.inv);
	free(w.seen);
	return rc;
}
