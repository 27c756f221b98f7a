/* synthdb: write a synthetic 2-tier fabric's probe batches into a collector
 * database (and its inventory), for scripts/bench-query and by hand. */
#include "opts.h"
#include "synth_db.h"

#include <stddef.h>
#include <stdio.h>
#include <time.h>

struct synthdb_cfg {
	const char *db;         /* database to write */
	const char *inventory;  /* inventory file to write */
	long long span_ms;      /* how much history */
	long long interval_ms;  /* one batch per prober per interval */
	long long end_ms;       /* end of the data, Unix ms (0: now) */
	long long spines, leaves, hosts_per_leaf, sports, probes;
	const char *fault;      /* "A,B" faulty link over the last fault_ms */
	long long fault_ms;
	double fault_loss;
};

static const struct opt_spec synthdb_opts[] = {
	{ "store", 0, OPT_STR, offsetof(struct synthdb_cfg, db), 0, 0, NULL, "URL", "store to write: PATH, sqlite:PATH, clickhouse://HOST:PORT/DB (required)" },
	{ "db", 'd', OPT_STR, offsetof(struct synthdb_cfg, db), 0, 0, NULL, "URL", "the same as --store" },
	{ "inventory", 'i', OPT_STR, offsetof(struct synthdb_cfg, inventory), 0, 0, NULL, "FILE", "inventory file to write" },
	{ "span", 0, OPT_MS, offsetof(struct synthdb_cfg, span_ms), 60e3, 400 * 86400e3, "1h", "DURATION", "history to write" },
	{ "interval", 0, OPT_MS, offsetof(struct synthdb_cfg, interval_ms), 1e3, 86400e3, "1m", "DURATION", "batch interval" },
	{ "end", 0, OPT_INT, offsetof(struct synthdb_cfg, end_ms), 0, 1e15, "0", "UNIX_MS", "end of the data (0: now)" },
	{ "spines", 0, OPT_INT, offsetof(struct synthdb_cfg, spines), 1, 64, "2", "N", "spines" },
	{ "leaves", 0, OPT_INT, offsetof(struct synthdb_cfg, leaves), 1, 64, "3", "N", "leaves" },
	{ "hosts-per-leaf", 0, OPT_INT, offsetof(struct synthdb_cfg, hosts_per_leaf), 1, 16, "2", "N", "hosts per leaf" },
	{ "sports", 0, OPT_INT, offsetof(struct synthdb_cfg, sports), 1, 64, "4", "N", "flows per prober/target pair" },
	{ "probes", 0, OPT_INT, offsetof(struct synthdb_cfg, probes), 1, 100000, "100", "N", "probes per flow per interval" },
	{ "fault", 0, OPT_STR, offsetof(struct synthdb_cfg, fault), 0, 0, NULL, "A,B", "faulty directed link" },
	{ "fault-span", 0, OPT_MS, offsetof(struct synthdb_cfg, fault_ms), 0, 400 * 86400e3, "30m", "DURATION", "the fault drops over this last stretch" },
	{ "fault-loss", 0, OPT_DOUBLE, offsetof(struct synthdb_cfg, fault_loss), 0, 1, "0.05", "RATIO", "loss ratio of the faulty link" },
};

int main(int argc, char **argv)
{
	static const char synopsis[] = "synthdb --db FILE [--inventory FILE] [--span 7d] [--fault A,B]";
	struct synthdb_cfg cfg = { 0 };
	struct synth_db_cfg sc;
	char err[512], from[64] = "", to[64] = "";
	int64_t end_ms;
	long n;
	int rc = opts_parse(synthdb_opts, OPTS_LEN(synthdb_opts), &cfg, argc, argv, err, sizeof(err));

	rc = opts_main_result(rc, "synthdb", synopsis,
			      "Write a synthetic fabric's probe batches into a collector database.",
			      synthdb_opts, OPTS_LEN(synthdb_opts), err);
	if (rc >= 0)
		return rc;
	if (!cfg.db) {
		fprintf(stderr, "synthdb: --db is required\n");
		return 2;
	}
	end_ms = cfg.end_ms ? cfg.end_ms : (int64_t)time(NULL) * 1000;
	synth_db_cfg_default(&sc);
	sc.spines = (unsigned)cfg.spines;
	sc.leaves = (unsigned)cfg.leaves;
	sc.hosts_per_leaf = (unsigned)cfg.hosts_per_leaf;
	sc.sports = (unsigned)cfg.sports;
	sc.probes = (unsigned)cfg.probes;
	sc.interval_ms = cfg.interval_ms;
	sc.intervals = (unsigned)(cfg.span_ms / cfg.interval_ms);
	sc.start_ms = end_ms - (int64_t)sc.intervals * cfg.interval_ms;
	if (cfg.fault) {
		if (sscanf(cfg.fault, "%63[^,],%63s", from, to) != 2) {
			fprintf(stderr, "synthdb: --fault wants A,B, not '%s'\n", cfg.fault);
			return 2;
		}
		sc.fault_from = from;
		sc.fault_to = to;
		sc.fault_loss_ratio = cfg.fault_loss;
		sc.fault_start_ms = end_ms - cfg.fault_ms;
		sc.fault_end_ms = end_ms;
	}
	n = synth_db_write(cfg.db, cfg.inventory, &sc, err, sizeof(err));
	if (n < 0) {
		fprintf(stderr, "synthdb: %s\n", err);
		return 1;
	}
	printf("synthdb: %ld batches, %u intervals, ending %lld\n", n, sc.intervals, (long long)end_ms);
	return 0;
}
