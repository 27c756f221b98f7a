-- faultmesh store in ClickHouse (18.16 or newer), applied by
-- store/store_clickhouse.c through the one migration runner
-- (store/store_migrate.c) into the database named by the store URL
-- clickhouse://HOST:PORT/DB. schema_version holds the migrations applied (the
-- largest counts). A database newer than the code is refused, not touched.
-- Each migration starts with a line "-- migration N" and is never edited once
-- released: change the schema by appending a new migration. ClickHouse has no
-- transactions: every statement is idempotent (IF NOT EXISTS; an ALTER TABLE
-- ADD COLUMN, which has no IF NOT EXISTS in 18.16, is taken as applied when
-- the column exists), so a migration cut short, or run by two collectors at
-- once, is simply run again.
-- Statements end with ';' at the end of a line.
--
-- Many collectors, one truth: a batch resent after a crash or a failover is
-- inserted again, as the same rows. Every table is a ReplacingMergeTree keyed
-- by the batch's identity (prober, seq, start_ms) and the row's place in it
-- (idx), and every query reads with FINAL, so each batch counts once whether
-- or not the background merge has folded the copies yet.
--
-- Retention: 18.16 has no TTL (19.6 added it). Tables are partitioned by day
-- (results, health) or month (batches, paths, rollups) and the collectors'
-- maintenance drops whole partitions past their keep time (cheap: files
-- removed). Hourly rollups are written by that job from deduplicated raw data
-- just before a day is dropped: a materialized view would see each insert
-- block, so it would count a resent batch twice.

-- migration 1
CREATE TABLE IF NOT EXISTS schema_version (
	version UInt32,
	applied_ms Int64
) ENGINE = MergeTree ORDER BY version;

-- One row per flow, interval and DSCP: the raw results. Ordered by the
-- window (end_ms) first, then prober, target and flow, as triangulate reads.
CREATE TABLE IF NOT EXISTS results (
	day Date DEFAULT toDate(toDateTime(intDiv(end_ms, 1000))), -- UTC day of end_ms
	end_ms Int64,
	start_ms Int64,
	prober String,     -- the reporting prober's name
	seq UInt64,        -- batch sequence number (prober's)
	idx UInt32,        -- the row's place in its batch
	src String,        -- flow source address
	target String,     -- flow destination address
	proto UInt8,       -- 17 udp, 6 tcp
	sport UInt16,
	dport UInt16,
	dscp UInt8,
	sent UInt64,
	received UInt64,
	lost_fwd UInt64,
	lost_rev UInt64,
	rtt_min_ns UInt64, -- 0 = no sample
	rtt_p50_ns UInt64,
	rtt_p99_ns UInt64,
	rtt_max_ns UInt64,
	target_down UInt8,
	stored_ms Int64    -- collector clock at insert
) ENGINE = ReplacingMergeTree
PARTITION BY day
ORDER BY (end_ms, prober, target, src, proto, sport, dport, dscp, start_ms, seq, idx);

-- The prober's own health per batch.
CREATE TABLE IF NOT EXISTS health (
	day Date DEFAULT toDate(toDateTime(intDiv(end_ms, 1000))),
	end_ms Int64,
	start_ms Int64,
	prober String,
	seq UInt64,
	if_rx_errors UInt64,
	if_tx_errors UInt64,
	if_rx_dropped UInt64,
	if_tx_dropped UInt64,
	links_down UInt32,
	spool_dropped UInt64
) ENGINE = ReplacingMergeTree
PARTITION BY day
ORDER BY (end_ms, prober, start_ms, seq);

-- Each trace result as reported (hops in the observations path syntax); a
-- flow's path for a window is the hop list last seen among those first seen
-- by the window's end.
CREATE TABLE IF NOT EXISTS paths (
	day Date DEFAULT toDate(toDateTime(intDiv(seen_ms, 1000))),
	seen_ms Int64,     -- end of the batch that carried it
	start_ms Int64,
	prober String,
	seq UInt64,
	idx UInt32,
	src String,
	target String,
	proto UInt8,
	sport UInt16,
	dport UInt16,
	hops String,
	hop_replies String,
	hop_probes String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (prober, src, target, proto, sport, dport, seen_ms, start_ms, seq, idx);

-- The batch ledger: one row per batch stored (the last insert of a resend
-- wins), written after its results so a ledger row means the batch is whole.
CREATE TABLE IF NOT EXISTS batches (
	day Date DEFAULT toDate(toDateTime(intDiv(end_ms, 1000))),
	end_ms Int64,
	start_ms Int64,
	prober String,
	seq UInt64,
	stored_ms Int64,
	nflows UInt32,
	npaths UInt32
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (prober, seq, start_ms);

-- Per flow and hour (hour_ms = start of the UTC hour of the batch's end),
-- kept longer than raw results; the same figures as SQLite's rollup_hourly.
CREATE TABLE IF NOT EXISTS rollup_hourly (
	day Date DEFAULT toDate(toDateTime(intDiv(hour_ms, 1000))),
	hour_ms Int64,
	prober String,
	src String,
	target String,
	proto UInt8,
	sport UInt16,
	dport UInt16,
	intervals UInt64,
	sent UInt64,
	received UInt64,
	lost_fwd UInt64,
	lost_rev UInt64,
	down_intervals UInt64,
	rtt_min_ns UInt64,          -- 0 = no sample
	rtt_p50_weighted_ns UInt64, -- sum of p50 * received
	rtt_p99_max_ns UInt64,
	rtt_max_ns UInt64,
	up_sent UInt64,             -- the sums over intervals the target was up
	up_received UInt64,
	up_lost_fwd UInt64,
	up_lost_rev UInt64
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (hour_ms, prober, target, src, proto, sport, dport);

-- Raw results before before_ms are gone (rolled up, partitions dropped):
-- the hourly query reads rollups below the largest before_ms, raw above.
CREATE TABLE IF NOT EXISTS raw_expired (
	before_ms Int64,
	at_ms Int64
) ENGINE = MergeTree ORDER BY before_ms;

-- migration 2
-- The fabric inventory (schemas/inventory.md) loaded by the collector's
-- --inventory or `triangulate inventory load`: the latest row is current.
CREATE TABLE IF NOT EXISTS inventory (
	loaded_ms Int64,
	source String,  -- the file it was loaded from
	text String     -- the whole inventory file, as loaded
) ENGINE = MergeTree ORDER BY loaded_ms;

-- migration 3
-- Per flow and hour, the forward loss of the intervals that went dark (half
-- or more of their probes unanswered, the target up): the raw observations
-- query counts it as a flow's lost_dark, and a look-back read from rollups
-- needs it too. Hours rolled up before keep 0 (their raw results are gone:
-- their flows are read by loss ratio alone, as before). A sharded store's
-- rollup_hourly_all gets the column when the store opens (store_ch.c).
ALTER TABLE rollup_hourly ADD COLUMN up_lost_dark UInt64 DEFAULT 0;
