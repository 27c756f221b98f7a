/* SQLite backend of the store: the only SQL in faultmesh. Schema and
 * migrations come from schemas/store.sql, built into the binary; WAL with
 * synchronous=FULL so a committed batch survives a crash or power loss. */
#include "store.h"
#include "store_migrate.h"
#include "clock.h"

#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* schemas/store.sql, embedded at build time so the file and the code cannot
 * disagree (test_store checks the embedded copy against the file). */
__asm__(".section .rodata\n"
	".global store_schema_sql\n"
	".type store_schema_sql, @object\n"
	"store_schema_sql:\n"
	".incbin \"schemas/store.sql\"\n"
	".byte 0\n"
	".previous\n");
extern const char store_schema_sql[];

#define STORE_BUSY_TIMEOUT_MS 10000
#define STORE_CHUNK_BATCHES 200 /* batches per rollup/retention transaction */
#define IDCACHE_KEY_MAX 48
#define IDCACHE_MAX_ENTRIES (256u << 10) /* bounds memory to ~32 MiB */

/* In-memory map from a binary key (flow 5-tuple, target address) to a row id,
 * so steady-state ingest does no lookups. Cleared when a transaction rolls
 * back, since ids handed out inside it no longer exist. */
struct idcache_slot {
	uint8_t key[IDCACHE_KEY_MAX];
	uint8_t keylen; /* 0 = empty */
	int64_t id;
};

struct idcache {
	struct idcache_slot *slots;
	size_t cap, used;
};

enum stmt_id {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_PROBER_UPSERT,
	ST_BATCH_INSERT,
	ST_SEQ_REUSED,
	ST_TARGET_UPSERT,
	ST_FLOW_UPSERT,
	ST_RESULT_INSERT,
	ST_HEALTH_INSERT,
	ST_PATH_LATEST,
	ST_PATH_UPSERT,
	ST_PATH_CHANGE_INSERT,
	ST_ROLLUP_MERGE,
	ST_ROLLUP_MARK,
	ST_EXPIRE_RESULTS,
	ST_EXPIRE_HEALTH,
	ST_EXPIRE_MARK,
	ST_EXPIRE_ROLLUPS,
	ST_EXPIRE_BATCHES,
	ST_EXPIRE_PATH_CHANGES,
	ST_OBS_QUERY,
	ST_OBS_HOURLY_QUERY,
	ST_INVENTORY_PUT,
	ST_INVENTORY_GET,
	ST_COUNT
};

/* Did the flow's route move inside the window [?1, ?2)? Two of its hop
 * lists there (either side of any of its path changes in it) that
 * store_path_hops_moved (fm_path_moved) says differ: a "*" fits any answer
 * and a trace cut short is the same route, but a router that went silent
 * between two different answers still moved. */
#define OBS_PATH_MOVED                                                             \
	"f.id IN (SELECT pc.flow_id FROM path_changes pc JOIN path_changes pd "    \
	"ON pd.flow_id = pc.flow_id AND pd.at_ms >= ?1 AND pd.at_ms < ?2 "         \
	"WHERE pc.at_ms >= ?1 AND pc.at_ms < ?2 "                                  \
	"AND (fm_path_moved(pc.old_hops, pd.new_hops) "                            \
	"OR fm_path_moved(pc.old_hops, pd.old_hops) "                              \
	"OR fm_path_moved(pc.new_hops, pd.new_hops))) "

/* A window's dark probes: forward loss in the intervals that went dark,
 * half or more of their probes unanswered (a flow a blackhole killed, or
 * whose replies it ate, from the moment it began or until it ended: the
 * interval it began or ended in is partly dark), apart from loss that
 * thinned the flow; the hourly rollups keep its sum (up_lost_dark). The
 * same rule in the migration 4 of schemas/store.sql. */
#define OBS_DARK_WHEN(r) r ".target_down = 0 AND " r ".received * 2 <= " r ".sent"
#define OBS_LOST_DARK(r) "sum(CASE WHEN " OBS_DARK_WHEN(r) " THEN " r ".lost_fwd ELSE 0 END) "

static const char *const stmt_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SAVEPOINT] = "SAVEPOINT batch",
	[ST_RELEASE] = "RELEASE batch",
	[ST_ROLLBACK_TO] = "ROLLBACK TO batch",
	[ST_PROBER_UPSERT] =
		"INSERT INTO probers (name, first_seen_ms, last_seen_ms) VALUES (?1, ?2, ?2) "
		"ON CONFLICT (name) DO UPDATE SET last_seen_ms = max(last_seen_ms, excluded.last_seen_ms) "
		"RETURNING id",
	[ST_BATCH_INSERT] =
		"INSERT INTO batches (prober_id, seq, start_ms, end_ms, stored_ms, nflows, npaths) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
		"ON CONFLICT (prober_id, seq, start_ms) DO NOTHING RETURNING id",
	[ST_SEQ_REUSED] =
		"SELECT count(*) FROM batches WHERE prober_id = ?1 AND seq = ?2 AND start_ms <> ?3",
	[ST_TARGET_UPSERT] =
		"INSERT INTO targets (addr) VALUES (?1) "
		"ON CONFLICT (addr) DO UPDATE SET addr = excluded.addr RETURNING id",
	[ST_FLOW_UPSERT] =
		"INSERT INTO flows (prober_id, src, target_id, proto, sport, dport) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
		"ON CONFLICT (prober_id, src, target_id, proto, sport, dport) "
		"DO UPDATE SET proto = excluded.proto RETURNING id",
	/* a flow listed twice in one batch (same DSCP) is summed, not refused:
	 * refusing would make the prober resend the batch forever */
	[ST_RESULT_INSERT] =
		"INSERT INTO results (batch_id, flow_id, dscp, sent, received, lost_fwd, lost_rev, "
		"rtt_min_ns, rtt_p50_ns, rtt_p99_ns, rtt_max_ns, target_down) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) "
		"ON CONFLICT (batch_id, flow_id, dscp) DO UPDATE SET "
		"sent = sent + excluded.sent, received = received + excluded.received, "
		"lost_fwd = lost_fwd + excluded.lost_fwd, lost_rev = lost_rev + excluded.lost_rev, "
		"rtt_max_ns = max(rtt_max_ns, excluded.rtt_max_ns), "
		"target_down = max(target_down, excluded.target_down)",
	[ST_HEALTH_INSERT] =
		"INSERT OR REPLACE INTO health (batch_id, if_rx_errors, if_tx_errors, if_rx_dropped, "
		"if_tx_dropped, links_down, spool_dropped) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_PATH_LATEST] =
		"SELECT hops, last_seen_ms FROM paths WHERE flow_id = ?1 "
		"ORDER BY last_seen_ms DESC, id DESC LIMIT 1",
	[ST_PATH_UPSERT] =
		"INSERT INTO paths (flow_id, hops, hop_replies, hop_probes, first_seen_ms, last_seen_ms, "
		"times_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?5, 1) "
		"ON CONFLICT (flow_id, hops) DO UPDATE SET "
		"first_seen_ms = min(first_seen_ms, excluded.first_seen_ms), "
		"last_seen_ms = max(last_seen_ms, excluded.last_seen_ms), "
		"hop_replies = excluded.hop_replies, hop_probes = excluded.hop_probes, "
		"times_seen = times_seen + 1",
	[ST_PATH_CHANGE_INSERT] =
		"INSERT INTO path_changes (flow_id, at_ms, old_hops, new_hops) VALUES (?1, ?2, ?3, ?4)",
	/* additive per batch, so late batches merge into hours already rolled */
	[ST_ROLLUP_MERGE] =
		"INSERT INTO rollup_hourly (flow_id, hour_ms, intervals, sent, received, lost_fwd, "
		"lost_rev, down_intervals, rtt_min_ns, rtt_p50_weighted_ns, rtt_p99_max_ns, rtt_max_ns, "
		"up_sent, up_received, up_lost_fwd, up_lost_rev, up_lost_dark) "
		"SELECT r.flow_id, (b.end_ms / 3600000) * 3600000, count(*), sum(r.sent), "
		"sum(r.received), sum(r.lost_fwd), sum(r.lost_rev), sum(r.target_down), "
		"coalesce(min(nullif(r.rtt_min_ns, 0)), 0), sum(r.rtt_p50_ns * r.received), "
		"max(r.rtt_p99_ns), max(r.rtt_max_ns), "
		"sum(CASE WHEN r.target_down = 0 THEN r.sent ELSE 0 END), "
		"sum(CASE WHEN r.target_down = 0 THEN r.received ELSE 0 END), "
		"sum(CASE WHEN r.target_down = 0 THEN r.lost_fwd ELSE 0 END), "
		"sum(CASE WHEN r.target_down = 0 THEN r.lost_rev ELSE 0 END), "
		OBS_LOST_DARK("r")
		"FROM batches b JOIN results r ON r.batch_id = b.id "
		"WHERE b.id IN (SELECT id FROM batches WHERE rolled_up = 0 ORDER BY id LIMIT ?1) "
		"GROUP BY r.flow_id, (b.end_ms / 3600000) * 3600000 "
		"ON CONFLICT (flow_id, hour_ms) DO UPDATE SET "
		"intervals = intervals + excluded.intervals, sent = sent + excluded.sent, "
		"received = received + excluded.received, lost_fwd = lost_fwd + excluded.lost_fwd, "
		"lost_rev = lost_rev + excluded.lost_rev, "
		"down_intervals = down_intervals + excluded.down_intervals, "
		"rtt_min_ns = CASE WHEN rtt_min_ns = 0 THEN excluded.rtt_min_ns "
		"WHEN excluded.rtt_min_ns = 0 THEN rtt_min_ns "
		"ELSE min(rtt_min_ns, excluded.rtt_min_ns) END, "
		"rtt_p50_weighted_ns = rtt_p50_weighted_ns + excluded.rtt_p50_weighted_ns, "
		"rtt_p99_max_ns = max(rtt_p99_max_ns, excluded.rtt_p99_max_ns), "
		"rtt_max_ns = max(rtt_max_ns, excluded.rtt_max_ns), "
		"up_sent = up_sent + excluded.up_sent, "
		"up_received = up_received + excluded.up_received, "
		"up_lost_fwd = up_lost_fwd + excluded.up_lost_fwd, "
		"up_lost_rev = up_lost_rev + excluded.up_lost_rev, "
		"up_lost_dark = up_lost_dark + excluded.up_lost_dark",
	[ST_ROLLUP_MARK] =
		"UPDATE batches SET rolled_up = 1 WHERE id IN "
		"(SELECT id FROM batches WHERE rolled_up = 0 ORDER BY id LIMIT ?1)",
	[ST_EXPIRE_RESULTS] =
		"DELETE FROM results WHERE batch_id IN (SELECT id FROM batches "
		"WHERE raw_deleted = 0 AND end_ms < ?1 AND rolled_up = 1 ORDER BY end_ms LIMIT ?2)",
	[ST_EXPIRE_HEALTH] =
		"DELETE FROM health WHERE batch_id IN (SELECT id FROM batches "
		"WHERE raw_deleted = 0 AND end_ms < ?1 AND rolled_up = 1 ORDER BY end_ms LIMIT ?2)",
	[ST_EXPIRE_MARK] =
		"UPDATE batches SET raw_deleted = 1 WHERE id IN (SELECT id FROM batches "
		"WHERE raw_deleted = 0 AND end_ms < ?1 AND rolled_up = 1 ORDER BY end_ms LIMIT ?2)",
	[ST_EXPIRE_ROLLUPS] = "DELETE FROM rollup_hourly WHERE hour_ms < ?1",
	[ST_EXPIRE_BATCHES] = "DELETE FROM batches WHERE end_ms < ?1 AND raw_deleted = 1",
	[ST_EXPIRE_PATH_CHANGES] = "DELETE FROM path_changes WHERE at_ms < ?1",
	/* target-down intervals are not fabric loss: kept out of the sums */
	[ST_OBS_QUERY] =
		"SELECT p.name, f.src, t.addr, f.proto, f.sport, f.dport, "
		"sum(CASE WHEN r.target_down = 0 THEN r.sent ELSE 0 END), "
		"sum(CASE WHEN r.target_down = 0 THEN r.lost_fwd ELSE 0 END), "
		"sum(CASE WHEN r.target_down = 0 THEN r.received ELSE 0 END), "
		"sum(CASE WHEN r.target_down = 0 THEN r.lost_rev ELSE 0 END), "
		"sum(r.target_down), "
		"(SELECT pa.hops FROM paths pa WHERE pa.flow_id = f.id AND pa.first_seen_ms <= ?2 "
		" ORDER BY pa.last_seen_ms DESC, pa.id DESC LIMIT 1), "
		OBS_PATH_MOVED
		", " OBS_LOST_DARK("r")
		"FROM batches b JOIN results r ON r.batch_id = b.id "
		"JOIN flows f ON f.id = r.flow_id JOIN probers p ON p.id = f.prober_id "
		"JOIN targets t ON t.id = f.target_id "
		"WHERE b.raw_deleted = 0 AND b.end_ms > ?1 AND b.start_ms < ?2 "
		"GROUP BY f.id ORDER BY p.name, f.src, t.addr, f.proto, f.sport, f.dport",
	/* Batches that ended in [?1, ?2): the whole hours [?3, ?4) from the
	 * rollups, the rest (the partial hours at either end, batches not rolled
	 * up yet) from raw results while kept. Each batch is counted once: a
	 * rolled-up batch of a whole hour only through its rollup row. */
	[ST_OBS_HOURLY_QUERY] =
		"WITH w (flow_id, sent, lost, received, lost_rev, down, dark) AS ("
		"SELECT flow_id, up_sent, up_lost_fwd, up_received, up_lost_rev, down_intervals, "
		"up_lost_dark "
		"FROM rollup_hourly WHERE hour_ms >= ?3 AND hour_ms < ?4 "
		"UNION ALL "
		"SELECT r.flow_id, CASE WHEN r.target_down = 0 THEN r.sent ELSE 0 END, "
		"CASE WHEN r.target_down = 0 THEN r.lost_fwd ELSE 0 END, "
		"CASE WHEN r.target_down = 0 THEN r.received ELSE 0 END, "
		"CASE WHEN r.target_down = 0 THEN r.lost_rev ELSE 0 END, r.target_down, "
		"CASE WHEN " OBS_DARK_WHEN("r") " THEN r.lost_fwd ELSE 0 END "
		"FROM batches b JOIN results r ON r.batch_id = b.id "
		"WHERE b.raw_deleted = 0 AND b.end_ms >= ?1 AND b.end_ms < ?2 "
		"AND (b.rolled_up = 0 OR b.end_ms < ?3 OR b.end_ms >= ?4)) "
		"SELECT p.name, f.src, t.addr, f.proto, f.sport, f.dport, "
		"sum(w.sent), sum(w.lost), sum(w.received), sum(w.lost_rev), sum(w.down), "
		"(SELECT pa.hops FROM paths pa WHERE pa.flow_id = f.id AND pa.first_seen_ms <= ?2 "
		" ORDER BY pa.last_seen_ms DESC, pa.id DESC LIMIT 1), "
		OBS_PATH_MOVED
		", sum(w.dark) "
		"FROM w JOIN flows f ON f.id = w.flow_id JOIN probers p ON p.id = f.prober_id "
		"JOIN targets t ON t.id = f.target_id "
		"GROUP BY f.id ORDER BY p.name, f.src, t.addr, f.proto, f.sport, f.dport",
	/* an unchanged text is left alone, so changes() says whether it changed */
	[ST_INVENTORY_PUT] =
		"INSERT INTO inventory (id, text, source, loaded_ms) VALUES (1, ?1, ?2, ?3) "
		"ON CONFLICT (id) DO UPDATE SET text = excluded.text, source = excluded.source, "
		"loaded_ms = excluded.loaded_ms "
		"WHERE text <> excluded.text OR source <> excluded.source",
	[ST_INVENTORY_GET] = "SELECT text, source, loaded_ms FROM inventory WHERE id = 1",
};

struct store_sqlite {
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT];
	struct idcache flows, targets;
	int in_group, in_batch;
	int group_lost; /* SQLite rolled the group back after an error */
	int64_t prober_id, batch_id, batch_end_ms;
};

/* ---- id cache ---- */

static uint64_t idcache_hash(const uint8_t *k, size_t n)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ k[i]) * 1099511628211ull;
	return h;
}

static void idcache_clear(struct idcache *c)
{
	free(c->slots);
	c->slots = NULL;
	c->cap = c->used = 0;
}

static struct idcache_slot *idcache_find(struct idcache *c, const uint8_t *k,
					 size_t n)
{
	size_t i;

	if (!c->cap)
		return NULL;
	for (i = idcache_hash(k, n) & (c->cap - 1);; i = (i + 1) & (c->cap - 1)) {
		struct idcache_slot *s = &c->slots[i];

		if (!s->keylen || (s->keylen == n && memcmp(s->key, k, n) == 0))
			return s;
	}
}

static void idcache_put(struct idcache *c, const uint8_t *k, size_t n,
			int64_t id)
{
	struct idcache_slot *s;

	if (c->used >= IDCACHE_MAX_ENTRIES)
		idcache_clear(c); /* a cache, not a store: start over */
	if ((c->used + 1) * 2 > c->cap) {
		struct idcache old = *c;
		size_t i;

		c->cap = old.cap ? old.cap * 2 : 1024;
		c->slots = calloc(c->cap, sizeof(*c->slots));
		c->used = 0;
		if (!c->slots) {
			/* without memory the cache just stays empty */
			c->cap = 0;
			free(old.slots);
			return;
		}
		for (i = 0; i < old.cap; i++)
			if (old.slots[i].keylen)
				idcache_put(c, old.slots[i].key,
					    old.slots[i].keylen,
					    old.slots[i].id);
		free(old.slots);
	}
	s = idcache_find(c, k, n);
	if (!s->keylen) {
		memcpy(s->key, k, n);
		s->keylen = (uint8_t)n;
		c->used++;
	}
	s->id = id;
}

/* ---- helpers ---- */

static int sql_fail(struct store_sqlite *ss, char *err, size_t errlen,
		    const char *what)
{
	snprintf(err, errlen, "%s: %s", what, sqlite3_errmsg(ss->db));
	return -1;
}

static int exec_simple(struct store_sqlite *ss, enum stmt_id id, char *err,
		       size_t errlen, const char *what)
{
	sqlite3_stmt *st = ss->st[id];
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return sql_fail(ss, err, errlen, what);
	return 0;
}

static void caches_clear(struct store_sqlite *ss)
{
	idcache_clear(&ss->flows);
	idcache_clear(&ss->targets);
}

/* Roll back the whole open transaction; ids cached inside it are gone too. */
static void rollback_quiet(struct store_sqlite *ss)
{
	sqlite3_stmt *st = ss->st[ST_ROLLBACK];

	/* after some errors (I/O, full disk) SQLite has already rolled back */
	if (!sqlite3_get_autocommit(ss->db)) {
		sqlite3_step(st);
		sqlite3_reset(st);
	}
	caches_clear(ss);
}

/* Undo the open batch's savepoint; keep_cache only when it can have created
 * no flow or target rows (a duplicate stops before any). */
static void savepoint_undo(struct store_sqlite *ss, int keep_cache)
{
	if (sqlite3_get_autocommit(ss->db)) {
		ss->group_lost = 1;
	} else {
		sqlite3_step(ss->st[ST_ROLLBACK_TO]);
		sqlite3_reset(ss->st[ST_ROLLBACK_TO]);
		sqlite3_step(ss->st[ST_RELEASE]);
		sqlite3_reset(ss->st[ST_RELEASE]);
	}
	if (!keep_cache || ss->group_lost)
		caches_clear(ss);
	ss->in_batch = 0;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? (const char *)t : "";
}

static const char *addr_text(const struct wire_addr *a, char *buf,
			     size_t len)
{
	return wire_addr_str(a, buf, len);
}

/* ---- open/close ---- */

static void sqlite_close(void *h)
{
	struct store_sqlite *ss = h;
	int i;

	if (!ss)
		return;
	if (ss->in_group)
		rollback_quiet(ss);
	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(ss->st[i]);
	sqlite3_close(ss->db);
	idcache_clear(&ss->flows);
	idcache_clear(&ss->targets);
	free(ss);
}

static void *sqlite_open(const char *path, char *err, size_t errlen)
{
	struct store_sqlite *ss = calloc(1, sizeof(*ss));

	if (!ss) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* synchronous=FULL fsyncs the WAL at every commit, so an ACKed batch
	 * survives power loss, not only a process crash (NORMAL would risk
	 * the last commits). */
	if (store_sqlite_file_open(path, STORE_BUSY_TIMEOUT_MS, "FULL",
				   store_schema_sql, "schema_version", "store",
				   stmt_sql, ss->st, ST_COUNT, &ss->db, err,
				   errlen) < 0)
		goto err;
	sqlite3_extended_result_codes(ss->db, 1);
	return ss;
err:
	sqlite_close(ss);
	return NULL;
}

/* ---- batch ---- */

static int sqlite_group_begin(void *h, char *err, size_t errlen)
{
	struct store_sqlite *ss = h;

	if (ss->in_group) {
		snprintf(err, errlen, "group already open");
		return -1;
	}
	if (exec_simple(ss, ST_BEGIN, err, errlen, "begin") < 0)
		return -1;
	ss->in_group = 1;
	ss->group_lost = 0;
	return 0;
}

static int sqlite_group_commit(void *h, char *err, size_t errlen)
{
	struct store_sqlite *ss = h;

	if (!ss->in_group) {
		snprintf(err, errlen, "no group open");
		return -1;
	}
	ss->in_group = 0;
	if (ss->in_batch)
		savepoint_undo(ss, 0);
	if (ss->group_lost || sqlite3_get_autocommit(ss->db)) {
		snprintf(err, errlen, "transaction rolled back by an earlier error");
		caches_clear(ss);
		return -1;
	}
	/* COMMIT returns only after the WAL is fsynced (synchronous=FULL) */
	if (exec_simple(ss, ST_COMMIT, err, errlen, "commit") < 0) {
		rollback_quiet(ss);
		return -1;
	}
	return 0;
}

static void sqlite_group_abort(void *h)
{
	struct store_sqlite *ss = h;

	if (!ss->in_group)
		return;
	rollback_quiet(ss);
	ss->in_group = ss->in_batch = 0;
}

static int sqlite_batch_begin(void *h, const struct wire_batch *b,
			      int64_t now_ms, int *duplicate, int *seq_reused,
			      char *err, size_t errlen)
{
	struct store_sqlite *ss = h;
	sqlite3_stmt *st;
	int rc;

	*duplicate = 0;
	*seq_reused = 0;
	if (!ss->in_group || ss->in_batch || ss->group_lost) {
		snprintf(err, errlen, "%s", !ss->in_group ? "no group open"
					    : ss->in_batch ? "batch already open"
							   : "group lost");
		return -1;
	}
	if (exec_simple(ss, ST_SAVEPOINT, err, errlen, "savepoint") < 0)
		return -1;
	ss->in_batch = 1;

	st = ss->st[ST_PROBER_UPSERT];
	sqlite3_bind_text(st, 1, b->prober, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now_ms);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		sql_fail(ss, err, errlen, "prober upsert");
		goto err;
	}
	ss->prober_id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);

	st = ss->st[ST_BATCH_INSERT];
	sqlite3_bind_int64(st, 1, ss->prober_id);
	/* seq is u64 on the wire; SQLite stores it as the same 64 bits */
	sqlite3_bind_int64(st, 2, (int64_t)b->seq);
	sqlite3_bind_int64(st, 3, b->start_ms);
	sqlite3_bind_int64(st, 4, b->end_ms);
	sqlite3_bind_int64(st, 5, now_ms);
	sqlite3_bind_int64(st, 6, b->nflows);
	sqlite3_bind_int64(st, 7, b->npaths);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		ss->batch_id = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
	} else {
		sqlite3_reset(st);
		if (rc != SQLITE_DONE) {
			sql_fail(ss, err, errlen, "batch insert");
			goto err;
		}
		/* already stored: nothing to write, the caller acks again */
		*duplicate = 1;
		savepoint_undo(ss, 1);
		return 0;
	}

	st = ss->st[ST_SEQ_REUSED];
	sqlite3_bind_int64(st, 1, ss->prober_id);
	sqlite3_bind_int64(st, 2, (int64_t)b->seq);
	sqlite3_bind_int64(st, 3, b->start_ms);
	if (sqlite3_step(st) == SQLITE_ROW)
		*seq_reused = sqlite3_column_int(st, 0) > 0;
	sqlite3_reset(st);
	ss->batch_end_ms = b->end_ms;
	return 0;
err:
	savepoint_undo(ss, 0);
	return -1;
}

static int target_id_get(struct store_sqlite *ss, const struct wire_addr *a,
			 int64_t *id, char *err, size_t errlen)
{
	uint8_t key[17];
	struct idcache_slot *slot;
	sqlite3_stmt *st = ss->st[ST_TARGET_UPSERT];
	char txt[64];

	key[0] = a->family;
	memcpy(key + 1, a->bytes, 16);
	slot = idcache_find(&ss->targets, key, sizeof(key));
	if (slot && slot->keylen) {
		*id = slot->id;
		return 0;
	}
	sqlite3_bind_text(st, 1, addr_text(a, txt, sizeof(txt)), -1,
			  SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return sql_fail(ss, err, errlen, "target upsert");
	}
	*id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	idcache_put(&ss->targets, key, sizeof(key), *id);
	return 0;
}

static int flow_id_get(struct store_sqlite *ss, const struct wire_addr *src,
		       const struct wire_addr *dst, uint8_t proto,
		       uint16_t sport, uint16_t dport, int64_t *id, char *err,
		       size_t errlen)
{
	uint8_t key[8 + 17 + 17 + 5];
	struct idcache_slot *slot;
	sqlite3_stmt *st = ss->st[ST_FLOW_UPSERT];
	int64_t target_id = 0;
	char txt[64];

	memcpy(key, &ss->prober_id, 8);
	key[8] = src->family;
	memcpy(key + 9, src->bytes, 16);
	key[25] = dst->family;
	memcpy(key + 26, dst->bytes, 16);
	key[42] = proto;
	memcpy(key + 43, &sport, 2);
	memcpy(key + 45, &dport, 2);
	slot = idcache_find(&ss->flows, key, sizeof(key));
	if (slot && slot->keylen) {
		*id = slot->id;
		return 0;
	}
	if (target_id_get(ss, dst, &target_id, err, errlen) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, ss->prober_id);
	sqlite3_bind_text(st, 2, addr_text(src, txt, sizeof(txt)), -1,
			  SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, target_id);
	sqlite3_bind_int(st, 4, proto);
	sqlite3_bind_int(st, 5, sport);
	sqlite3_bind_int(st, 6, dport);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return sql_fail(ss, err, errlen, "flow upsert");
	}
	*id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	idcache_put(&ss->flows, key, sizeof(key), *id);
	return 0;
}

static int batch_open_check(struct store_sqlite *ss, char *err, size_t errlen)
{
	if (!ss->in_batch) {
		snprintf(err, errlen, "no batch open");
		return -1;
	}
	return 0;
}

/* SQLite integers are signed 64-bit; clamp the (absurd) upper half of u64
 * counters rather than store them negative. */
static int64_t u64_clamp(uint64_t v)
{
	return v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

static int sqlite_flow_insert(void *h, const struct wire_flow *f, char *err,
			      size_t errlen)
{
	struct store_sqlite *ss = h;
	sqlite3_stmt *st = ss->st[ST_RESULT_INSERT];
	int64_t flow_id;
	int rc;

	if (batch_open_check(ss, err, errlen) < 0)
		return -1;
	/* the codec refuses these; callers that skip it get the same rule */
	if (!f->src.family || !f->dst.family) {
		snprintf(err, errlen, "flow %u->%u without an address", f->sport,
			 f->dport);
		return -1;
	}
	if (flow_id_get(ss, &f->src, &f->dst, f->proto, f->sport, f->dport,
			&flow_id, err, errlen) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, ss->batch_id);
	sqlite3_bind_int64(st, 2, flow_id);
	sqlite3_bind_int(st, 3, f->dscp);
	sqlite3_bind_int64(st, 4, f->sent);
	sqlite3_bind_int64(st, 5, f->received);
	sqlite3_bind_int64(st, 6, f->lost_fwd);
	sqlite3_bind_int64(st, 7, f->lost_rev);
	sqlite3_bind_int64(st, 8, u64_clamp(f->rtt_min_ns));
	sqlite3_bind_int64(st, 9, u64_clamp(f->rtt_p50_ns));
	sqlite3_bind_int64(st, 10, u64_clamp(f->rtt_p99_ns));
	sqlite3_bind_int64(st, 11, u64_clamp(f->rtt_max_ns));
	sqlite3_bind_int(st, 12, f->target_down ? 1 : 0);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return sql_fail(ss, err, errlen, "result insert");
	return 0;
}

static int sqlite_health_insert(void *h, const struct wire_health *hl,
				char *err, size_t errlen)
{
	struct store_sqlite *ss = h;
	sqlite3_stmt *st = ss->st[ST_HEALTH_INSERT];
	int rc;

	if (batch_open_check(ss, err, errlen) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, ss->batch_id);
	sqlite3_bind_int64(st, 2, u64_clamp(hl->if_rx_errors));
	sqlite3_bind_int64(st, 3, u64_clamp(hl->if_tx_errors));
	sqlite3_bind_int64(st, 4, u64_clamp(hl->if_rx_dropped));
	sqlite3_bind_int64(st, 5, u64_clamp(hl->if_tx_dropped));
	sqlite3_bind_int64(st, 6, hl->links_down);
	sqlite3_bind_int64(st, 7, hl->spool_dropped);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return sql_fail(ss, err, errlen, "health insert");
	return 0;
}

static int sqlite_path_insert(void *h, const struct wire_path *p, char *err,
			      size_t errlen)
{
	/* 32 hops of at most 39 characters plus commas fit comfortably */
	char hops[WIRE_HOPS_MAX * 41 + 2], replies[WIRE_HOPS_MAX * 7],
		probes[WIRE_HOPS_MAX * 7];
	struct store_sqlite *ss = h;
	sqlite3_stmt *st;
	int64_t flow_id, seen_ms;
	int rc;

	if (batch_open_check(ss, err, errlen) < 0 ||
	    flow_id_get(ss, &p->src, &p->dst, p->proto, p->sport, p->dport,
			&flow_id, err, errlen) < 0)
		return -1;
	store_path_text_build(p, hops, sizeof(hops), replies, probes, sizeof(replies));
	seen_ms = ss->batch_end_ms;

	/* a change is only a change against an older observation: a late
	 * resend of an old batch must not record a flap */
	st = ss->st[ST_PATH_LATEST];
	sqlite3_bind_int64(st, 1, flow_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW &&
	    strcmp((const char *)sqlite3_column_text(st, 0), hops) != 0 &&
	    sqlite3_column_int64(st, 1) <= seen_ms) {
		sqlite3_stmt *ch = ss->st[ST_PATH_CHANGE_INSERT];

		sqlite3_bind_int64(ch, 1, flow_id);
		sqlite3_bind_int64(ch, 2, seen_ms);
		sqlite3_bind_text(ch, 3, (const char *)sqlite3_column_text(st, 0),
				  -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(ch, 4, hops, -1, SQLITE_STATIC);
		rc = sqlite3_step(ch);
		sqlite3_reset(ch);
		if (rc != SQLITE_DONE) {
			sqlite3_reset(st);
			return sql_fail(ss, err, errlen, "path change insert");
		}
	} else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sqlite3_reset(st);
		return sql_fail(ss, err, errlen, "path lookup");
	}
	sqlite3_reset(st);

	st = ss->st[ST_PATH_UPSERT];
	sqlite3_bind_int64(st, 1, flow_id);
	sqlite3_bind_text(st, 2, hops, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, replies, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, probes, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, seen_ms);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return sql_fail(ss, err, errlen, "path upsert");
	return 0;
}

static int sqlite_batch_end(void *h, char *err, size_t errlen)
{
	struct store_sqlite *ss = h;

	if (batch_open_check(ss, err, errlen) < 0)
		return -1;
	if (exec_simple(ss, ST_RELEASE, err, errlen, "release") < 0)
		return -1; /* the caller aborts the batch */
	ss->in_batch = 0;
	return 0;
}

static void sqlite_batch_abort(void *h)
{
	struct store_sqlite *ss = h;

	if (ss->in_batch)
		savepoint_undo(ss, 0);
}

/* ---- rollup and retention ---- */

/* Run one chunk statement set inside a transaction; *changed gets the row
 * count of the last statement (the marker update). */
static int chunk_run(struct store_sqlite *ss, const enum stmt_id *ids, int n,
		     int64_t before_ms, int use_before, int64_t *changed,
		     char *err, size_t errlen)
{
	int i;

	if (exec_simple(ss, ST_BEGIN, err, errlen, "begin") < 0)
		return -1;
	for (i = 0; i < n; i++) {
		sqlite3_stmt *st = ss->st[ids[i]];
		int rc;

		if (use_before) {
			sqlite3_bind_int64(st, 1, before_ms);
			sqlite3_bind_int(st, 2, STORE_CHUNK_BATCHES);
		} else {
			sqlite3_bind_int(st, 1, STORE_CHUNK_BATCHES);
		}
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE) {
			sql_fail(ss, err, errlen, sqlite3_sql(st));
			rollback_quiet(ss);
			return -1;
		}
	}
	*changed = sqlite3_changes64(ss->db);
	if (exec_simple(ss, ST_COMMIT, err, errlen, "commit") < 0) {
		rollback_quiet(ss);
		return -1;
	}
	return 0;
}

/* Keep going after a chunk that changed rows? Not past the deadline. */
static int chunk_again(int64_t changed, int64_t deadline_ms, int *more)
{
	if (changed <= 0)
		return 0;
	if (deadline_ms && clock_mono_ms() >= deadline_ms) {
		*more = 1;
		return 0;
	}
	return 1;
}

static int sqlite_rollup_run(void *h, int64_t deadline_ms,
			     uint64_t *batches_rolled, int *more, char *err,
			     size_t errlen)
{
	static const enum stmt_id ids[] = { ST_ROLLUP_MERGE, ST_ROLLUP_MARK };
	struct store_sqlite *ss = h;
	int64_t changed;

	*batches_rolled = 0;
	if (ss->in_group) {
		snprintf(err, errlen, "rollup inside an open group");
		return -1;
	}
	do {
		if (chunk_run(ss, ids, 2, 0, 0, &changed, err, errlen) < 0)
			return -1;
		*batches_rolled += (uint64_t)changed;
	} while (chunk_again(changed, deadline_ms, more));
	return 0;
}

static int single_run(struct store_sqlite *ss, enum stmt_id id, int64_t arg,
		      uint64_t *changed, char *err, size_t errlen)
{
	sqlite3_stmt *st = ss->st[id];
	int rc;

	sqlite3_bind_int64(st, 1, arg);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return sql_fail(ss, err, errlen, sqlite3_sql(st));
	if (changed)
		*changed = (uint64_t)sqlite3_changes64(ss->db);
	return 0;
}

static int sqlite_retention_run(void *h, int64_t raw_before_ms,
				int64_t rollup_before_ms, int64_t deadline_ms,
				struct store_retention_stats *st, char *err,
				size_t errlen)
{
	static const enum stmt_id ids[] = { ST_EXPIRE_RESULTS, ST_EXPIRE_HEALTH,
					    ST_EXPIRE_MARK };
	struct store_sqlite *ss = h;
	int64_t changed;

	if (ss->in_group) {
		snprintf(err, errlen, "retention inside an open group");
		return -1;
	}
	do {
		if (chunk_run(ss, ids, 3, raw_before_ms, 1, &changed, err,
			      errlen) < 0)
			return -1;
		st->batches_expired += (uint64_t)changed;
	} while (chunk_again(changed, deadline_ms, &st->more));
	/* rollups and batch records expire by the hour: few rows per run, so
	 * one autocommit statement each */
	if (single_run(ss, ST_EXPIRE_ROLLUPS, rollup_before_ms,
		       &st->rollups_deleted, err, errlen) < 0 ||
	    single_run(ss, ST_EXPIRE_BATCHES, rollup_before_ms, NULL, err,
		       errlen) < 0 ||
	    single_run(ss, ST_EXPIRE_PATH_CHANGES, rollup_before_ms, NULL, err,
		       errlen) < 0)
		return -1;
	return 0;
}

/* ---- queries ---- */

/* Step a bound observations statement, one callback per row. */
static int obs_rows_run(struct store_sqlite *ss, sqlite3_stmt *st,
			store_obs_cb cb, void *arg, char *err, size_t errlen)
{
	int rc, cbrc = 0;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_obs_row row;
		uint64_t n[8];

		for (int i = 0; i < 8; i++)
			n[i] = (uint64_t)sqlite3_column_int64(st, 3 + i);
		store_obs_row_fill(&row, col_text(st, 0), col_text(st, 1),
				   col_text(st, 2), n,
				   sqlite3_column_type(st, 11) == SQLITE_NULL
					   ? NULL : col_text(st, 11));
		row.path_moved = sqlite3_column_int(st, 12);
		row.lost_dark = (uint64_t)sqlite3_column_int64(st, 13);
		cbrc = cb(&row, arg);
		if (cbrc)
			break;
	}
	sqlite3_reset(st);
	if (cbrc)
		return cbrc;
	if (rc != SQLITE_DONE)
		return sql_fail(ss, err, errlen, "observations query");
	return 0;
}

static int sqlite_observations_query(void *h, int64_t since_ms,
				     int64_t until_ms, store_obs_cb cb,
				     void *arg, char *err, size_t errlen)
{
	struct store_sqlite *ss = h;
	sqlite3_stmt *st = ss->st[ST_OBS_QUERY];

	if (ss->in_group) {
		snprintf(err, errlen, "query inside an open group");
		return -1;
	}
	sqlite3_bind_int64(st, 1, since_ms);
	sqlite3_bind_int64(st, 2, until_ms);
	return obs_rows_run(ss, st, cb, arg, err, errlen);
}

static int sqlite_observations_hourly_query(void *h, int64_t since_ms,
					    int64_t until_ms, store_obs_cb cb,
					    void *arg, char *err, size_t errlen)
{
	struct store_sqlite *ss = h;
	sqlite3_stmt *st = ss->st[ST_OBS_HOURLY_QUERY];
	int64_t first_hour, end_hour;

	if (ss->in_group) {
		snprintf(err, errlen, "query inside an open group");
		return -1;
	}
	store_hour_span(since_ms, until_ms, &first_hour, &end_hour);
	sqlite3_bind_int64(st, 1, since_ms);
	sqlite3_bind_int64(st, 2, until_ms);
	sqlite3_bind_int64(st, 3, first_hour);
	sqlite3_bind_int64(st, 4, end_hour);
	return obs_rows_run(ss, st, cb, arg, err, errlen);
}

static int sqlite_inventory_put(void *h, const char *text, size_t len,
				const char *source, int64_t now_ms, int *changed,
				char *err, size_t errlen)
{
	struct store_sqlite *ss = h;
	sqlite3_stmt *st = ss->st[ST_INVENTORY_PUT];
	int rc;

	if (ss->in_group) {
		snprintf(err, errlen, "inventory load inside an open group");
		return -1;
	}
	sqlite3_bind_text(st, 1, text, (int)len, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, source, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, now_ms);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE)
		return sql_fail(ss, err, errlen, "storing the inventory");
	*changed = sqlite3_changes(ss->db) > 0;
	return 0;
}

static int sqlite_inventory_get(void *h, struct store_inventory *out, char *err,
				size_t errlen)
{
	struct store_sqlite *ss = h;
	sqlite3_stmt *st = ss->st[ST_INVENTORY_GET];
	int rc = sqlite3_step(st);

	memset(out, 0, sizeof(*out));
	if (rc == SQLITE_ROW) {
		int n = sqlite3_column_bytes(st, 0);

		out->text = malloc((size_t)n + 1);
		if (!out->text) {
			sqlite3_reset(st);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		memcpy(out->text, sqlite3_column_text(st, 0), (size_t)n);
		out->text[n] = 0;
		out->len = (size_t)n;
		snprintf(out->source, sizeof(out->source), "%s", col_text(st, 1));
		out->loaded_ms = sqlite3_column_int64(st, 2);
		sqlite3_reset(st);
		return 1;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return sql_fail(ss, err, errlen, "reading the inventory");
	return 0;
}

const struct store_ops store_sqlite_ops = {
	.name = "sqlite",
	.open = sqlite_open,
	.close = sqlite_close,
	.group_begin = sqlite_group_begin,
	.group_commit = sqlite_group_commit,
	.group_abort = sqlite_group_abort,
	.batch_begin = sqlite_batch_begin,
	.flow_insert = sqlite_flow_insert,
	.path_insert = sqlite_path_insert,
	.health_insert = sqlite_health_insert,
	.batch_end = sqlite_batch_end,
	.batch_abort = sqlite_batch_abort,
	.rollup_run = sqlite_rollup_run,
	.retention_run = sqlite_retention_run,
	.observations_query = sqlite_observations_query,
	.observations_hourly_query = sqlite_observations_hourly_query,
	.inventory_put = sqlite_inventory_put,
	.inventory_get = sqlite_inventory_get,
};
