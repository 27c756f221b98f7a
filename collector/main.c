/* collector: entry point; parses flags from the option table, opens the store
 * and keys, and runs the server until SIGTERM/SIGINT. */
#include "keys.h"
#include "inventory_source.h"
#include "log.h"
#include "metrics.h"
#include "opts.h"
#include "outfile.h"
#include "plan_targets.h"
#include "server.h"
#include "store.h"

#include <malloc.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

struct collector_cfg {
	const char *listen;      /* ADDR:PORT the probers connect to */
	const char *db;          /* store URL (--store, --db): SQLite file or ClickHouse */
	long long retention_ms;  /* raw per-interval results kept this long */
	long long rollup_keep_ms; /* hourly rollups kept this long */
	long long maintenance_ms; /* period of rollup + retention runs */
	long long idle_timeout_ms; /* close connections silent this long */
	long long max_conns;     /* simultaneous prober connections */
	long long max_conns_per_addr; /* of them from one source address */
	long long handshake_timeout_ms; /* HELLO accepted within this */
	long long frame_timeout_ms; /* a started frame complete within this */
	long long ingest_budget_mib; /* frame bytes held by all connections */
	const char *keys;        /* per-prober keys file; unset = no auth */
	const char *plan;        /* probe plan served to probers that ask; unset = none */
	const char *inventory;   /* inventory file loaded into the store; unset = none */
	const char *port_file;   /* write the bound port here (for --listen :0) */
	const char *metrics_listen; /* ADDR:PORT of the Prometheus metrics; unset = off */
	int verbose;             /* log debug messages */
};

static const struct opt_spec collector_opts[] = {
	{ "listen", 'l', OPT_STR, offsetof(struct collector_cfg, listen), 0, 0, "0.0.0.0:31337", "ADDR:PORT",
	  "address to accept probers on ([v6]:port for IPv6, port 0 = any)" },
	{ "store", 0, OPT_STR, offsetof(struct collector_cfg, db), 0, 0, "faultmesh.db", "URL",
	  "the store, created and migrated as needed: PATH or sqlite:PATH (SQLite), clickhouse://HOST:PORT/DB" },
	{ "db", 'd', OPT_STR, offsetof(struct collector_cfg, db), 0, 0, NULL, "URL", "the same as --store" },
	{ "retention", 0, OPT_MS, offsetof(struct collector_cfg, retention_ms), 60000, 3650.0 * 86400000, "7d",
	  "DURATION", "keep raw per-interval results this long" },
	{ "rollup-retention", 0, OPT_MS, offsetof(struct collector_cfg, rollup_keep_ms), 60000,
	  3650.0 * 86400000, "90d", "DURATION", "keep hourly rollups this long (>= --retention)" },
	{ "maintenance-interval", 0, OPT_MS, offsetof(struct collector_cfg, maintenance_ms), 1000,
	  86400000, "60s", "DURATION", "how often to roll up new results and expire old ones" },
	{ "idle-timeout", 0, OPT_MS, offsetof(struct collector_cfg, idle_timeout_ms), 1000, 86400000, "5m",
	  "DURATION", "close a prober connection that sends nothing this long" },
	{ "max-conns", 0, OPT_INT, offsetof(struct collector_cfg, max_conns), 1, 100000, "4096", "N",
	  "prober connections served at once" },
	{ "max-conns-per-addr", 0, OPT_INT, offsetof(struct collector_cfg, max_conns_per_addr), 1, 100000,
	  "16", "N", "connections from one source address" },
	{ "handshake-timeout", 0, OPT_MS, offsetof(struct collector_cfg, handshake_timeout_ms), 100,
	  600000, "5s", "DURATION", "close a connection whose HELLO is not accepted this long after connecting" },
	{ "frame-timeout", 0, OPT_MS, offsetof(struct collector_cfg, frame_timeout_ms), 100, 3600000,
	  "60s", "DURATION", "close a connection that takes longer than this to send one frame" },
	{ "ingest-budget", 0, OPT_INT, offsetof(struct collector_cfg, ingest_budget_mib), 17, 65536,
	  "256", "MIB", "frame memory of all connections together; past it the collector stops reading" },
	{ "keys", 'k', OPT_STR, offsetof(struct collector_cfg, keys), 0, 0, NULL, "FILE",
	  "require HMAC-signed frames; lines prober<TAB>hex-key (two per prober during a rotation); re-read on SIGHUP" },
	{ "plan", 0, OPT_STR, offsetof(struct collector_cfg, plan), 0, 0, NULL, "FILE",
	  "serve each prober its targets from this plan (triangulate plan) when it asks; re-read on SIGHUP" },
	{ "inventory", 'i', OPT_STR, offsetof(struct collector_cfg, inventory), 0, 0, NULL, "FILE",
	  "load this inventory into the store, where every triangulate command finds it; "
	  "re-read on SIGHUP" },
	{ "port-file", 0, OPT_STR, offsetof(struct collector_cfg, port_file), 0, 0, NULL, "FILE",
	  "write the bound TCP port to FILE once listening" },
	{ "metrics-listen", 0, OPT_STR, offsetof(struct collector_cfg, metrics_listen), 0, 0, NULL,
	  "ADDR:PORT", "serve Prometheus metrics at http://ADDR:PORT/metrics" },
	{ "verbose", 'v', OPT_FLAG, offsetof(struct collector_cfg, verbose), 0, 0, NULL, NULL, "log debug messages" },
};

static struct server *collector_server;
static volatile sig_atomic_t collector_reload; /* SIGHUP: re-read --plan, --keys, --inventory */
static volatile sig_atomic_t collector_stopping; /* SIGTERM, SIGINT */

static void collector_signal_handle(int sig)
{
	if (sig == SIGHUP)
		collector_reload = 1;
	else
		collector_stopping = 1;
	if (collector_server)
		server_stop(collector_server);
}

/* At start and on SIGHUP: the inventory file into the store, where every
 * triangulate command finds it. Returns 0, or -1 when it did not load (the
 * store keeps the one before). */
static int collector_inventory_load(const char *path, const char *db)
{
	char err[512];
	int changed;

	if (!path)
		return 0;
	if (inventory_source_load(path, db, &changed, err, sizeof(err)) < 0) {
		log_msg(LOG_ERR, "inventory: %s", err);
		return -1;
	}
	log_msg(LOG_INFO, "inventory %s %s the store", path,
		changed ? "loaded into" : "unchanged in");
	return 0;
}

/* SIGHUP: the plan file again. A plan that does not load leaves the one
 * being served in place, so a half-edited file costs nothing. */
static void collector_plan_reload(const char *path, struct plan_targets **plan)
{
	char err[512];
	struct plan_targets *p;

	if (!path) {
		log_msg(LOG_INFO, "SIGHUP: no --plan to reload");
		return;
	}
	p = plan_targets_load(path, err, sizeof(err));
	if (!p) {
		log_msg(LOG_ERR, "plan reload: %s; still serving the previous plan", err);
		return;
	}
	server_plan_set(collector_server, p);
	plan_targets_free(*plan);
	*plan = p;
	log_msg(LOG_INFO, "plan %s reloaded: %zu prober-target pairs", path, plan_targets_count(p));
}

/* SIGHUP: the keys file again (a rotation adds the new key beside the old,
 * later drops the old line). New HELLOs use the new file; open sessions keep
 * the key they verified with. A file that does not load changes nothing. */
static void collector_keys_reload(const char *path, struct keyring **keys)
{
	char err[512];

	if (server_keys_reload(collector_server, path, keys, err, sizeof(err)) < 0)
		log_msg(LOG_ERR, "keys reload: %s; still using the previous keys", err);
	else if (path)
		log_msg(LOG_INFO, "keys %s reloaded", path);
}

static int port_file_write_cb(FILE *f, void *arg, char *err, size_t errlen)
{
	(void)err, (void)errlen; /* a failed write: errno says why */
	return fprintf(f, "%d\n", *(const int *)arg) < 0 ? -1 : 0;
}

/* Written whole, so a reader never sees a partial port. */
static int port_file_write(const char *path, int port, char *err, size_t errlen)
{
	return outfile_write(path, 0, port_file_write_cb, &port, err, errlen);
}

int main(int argc, char **argv)
{
	struct collector_cfg cfg = { 0 };
	struct server_cfg scfg = { 0 };
	struct keyring *keys = NULL;
	struct plan_targets *plan = NULL;
	struct metrics *metrics = NULL;
	struct store *store = NULL;
	struct sigaction sa = { 0 };
	const struct session_stats *st;
	char err[512];
	int rc = opts_parse(collector_opts, OPTS_LEN(collector_opts), &cfg, argc, argv, err, sizeof(err));
	int code = opts_main_result(rc, "collector", "collector [options]",
				    "Stores prober batches in SQLite; acknowledges each only after it is committed.",
				    collector_opts, OPTS_LEN(collector_opts), err);

	if (code >= 0)
		return code;
	log_init("collector", cfg.verbose ? LOG_DEBUG : LOG_INFO);
	if (rc < argc) {
		log_msg(LOG_ERR, "unexpected argument '%s'", argv[rc]);
		return 2;
	}
	if (cfg.rollup_keep_ms < cfg.retention_ms) {
		log_msg(LOG_ERR, "--rollup-retention must be at least --retention");
		return 2;
	}
	if (cfg.plan) {
		plan = plan_targets_load(cfg.plan, err, sizeof(err));
		if (!plan) {
			log_msg(LOG_ERR, "plan: %s", err);
			return 1;
		}
		log_msg(LOG_INFO, "plan %s: %zu prober-target pairs", cfg.plan,
			plan_targets_count(plan));
	}
	if (cfg.keys) {
		keys = keyring_load(cfg.keys, err, sizeof(err));
		if (!keys) {
			log_msg(LOG_ERR, "keys: %s", err);
			plan_targets_free(plan);
			return 1;
		}
	}
	store = store_open(NULL, cfg.db, err, sizeof(err));
	if (!store || collector_inventory_load(cfg.inventory, cfg.db) < 0) {
		if (!store)
			log_msg(LOG_ERR, "store: %s", err);
		store_close(store);
		keyring_free(keys);
		plan_targets_free(plan);
		return 1;
	}
	scfg.listen = cfg.listen;
	scfg.store = store;
	scfg.keys = keys;
	scfg.plan = plan;
	scfg.raw_keep_ms = cfg.retention_ms;
	scfg.rollup_keep_ms = cfg.rollup_keep_ms;
	scfg.maintenance_ms = cfg.maintenance_ms;
	scfg.idle_timeout_ms = cfg.idle_timeout_ms;
	scfg.max_conns = (unsigned)cfg.max_conns;
	scfg.max_conns_per_addr = (unsigned)cfg.max_conns_per_addr;
	scfg.handshake_timeout_ms = cfg.handshake_timeout_ms;
	scfg.frame_timeout_ms = cfg.frame_timeout_ms;
	scfg.ingest_budget_bytes = (size_t)cfg.ingest_budget_mib << 20;
	/* big frame buffers from mmap, so a freed one goes back to the OS at
	 * once (glibc's dynamic threshold would keep them on the heap) */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	collector_server = server_create(&scfg, err, sizeof(err));
	if (!collector_server) {
		log_msg(LOG_ERR, "%s", err);
		store_close(store);
		keyring_free(keys);
		plan_targets_free(plan);
		return 1;
	}
	if (cfg.metrics_listen) {
		struct metrics_cfg mcfg = { .listen = cfg.metrics_listen, .db_path = cfg.db,
					    .stats = server_stats(collector_server),
					    .window_ms = METRICS_WINDOW_MS_DEFAULT };

		metrics = metrics_start(&mcfg, err, sizeof(err));
		if (!metrics) {
			log_msg(LOG_ERR, "--metrics-listen %s", err);
			server_destroy(collector_server);
			store_close(store);
			keyring_free(keys);
			plan_targets_free(plan);
			return 1;
		}
		log_msg(LOG_INFO, "metrics at http://%s/metrics (port %d)", cfg.metrics_listen,
			metrics_port(metrics));
	}
	sa.sa_handler = collector_signal_handle;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (cfg.port_file &&
	    port_file_write(cfg.port_file, server_port(collector_server), err, sizeof(err)) < 0)
		log_msg(LOG_WARN, "cannot write port file %s: %s", cfg.port_file, err);
	log_msg(LOG_INFO, "listening on %s (port %d), database %s, auth %s", cfg.listen,
		server_port(collector_server), cfg.db, keys ? "required" : "off");
	code = 0;
	for (;;) {
		if (server_run(collector_server, err, sizeof(err)) < 0) {
			log_msg(LOG_ERR, "%s", err);
			code = 1;
			break;
		}
		if (collector_stopping || !collector_reload)
			break;
		collector_reload = 0;
		collector_plan_reload(cfg.plan, &plan);
		collector_keys_reload(cfg.keys, &keys);
		collector_inventory_load(cfg.inventory, cfg.db);
	}
	st = server_stats(collector_server);
	log_msg(LOG_INFO,
		"shutting down: %llu batches stored (%llu rows), %llu duplicates, %llu frames rejected, "
		"%llu store errors",
		(unsigned long long)st->batches_stored, (unsigned long long)st->rows_stored,
		(unsigned long long)st->batches_duplicate, (unsigned long long)st->frames_rejected,
		(unsigned long long)st->store_errors);
	metrics_stop(metrics);
	server_destroy(collector_server);
	collector_server = NULL;
	store_close(store);
	keyring_free(keys);
	plan_targets_free(plan);
	return code;
}
