-- faultmesh suspect history in ClickHouse (18.16 or newer), applied by
-- store/store_history_clickhouse.c through the one migration runner into the
-- store's database, beside its tables (schemas/clickhouse.sql) but versioned
-- on its own, as the SQLite history is (schemas/history.sql):
-- history_schema_version holds the migrations applied (the largest counts).
-- A database with a newer history schema is refused, not touched. Each
-- migration starts with a line "-- migration N" and is never edited once
-- released. Every statement is idempotent (IF NOT EXISTS): ClickHouse has no
-- transactions. Statements end with ';' at the end of a line.
--
-- The same rows as SQLite's history. ClickHouse does not update rows, so an
-- episode's every change is a new row with a higher rev, and readers take
-- the highest (ReplacingMergeTree(rev) read with FINAL). Episode ids are
-- numbered 1, 2, ... by the one writer (the watch), as SQLite numbers them.

-- migration 1
CREATE TABLE IF NOT EXISTS history_schema_version (
	version UInt32,
	applied_ms Int64
) ENGINE = MergeTree ORDER BY version;

-- One row per localization round.
CREATE TABLE IF NOT EXISTS history_rounds (
	day Date DEFAULT toDate(toDateTime(intDiv(at_ms, 1000))),
	at_ms Int64,
	nsuspects UInt32
) ENGINE = MergeTree
PARTITION BY toYYYYMM(day)
ORDER BY at_ms;

-- A suspect's episode, one row per change (rev), the highest is current.
CREATE TABLE IF NOT EXISTS history_episodes (
	id Int64,
	rev UInt64,
	kind String,            -- link, device, blackhole, host
	from_dev String,
	to_dev String,          -- '' for device and host
	opened_ms Int64,
	last_seen_ms Int64,
	closed_ms Int64,        -- 0 while open
	loss_ratio_max Float64,
	loss_ratio_last Float64,
	confidence_last Float64,
	rounds UInt64,          -- rounds it was seen in
	absent_rounds UInt64    -- consecutive rounds since
) ENGINE = ReplacingMergeTree(rev)
ORDER BY id;

-- Every suspect of every round (idx: its place in the round): the timeline
-- of a device or link.
CREATE TABLE IF NOT EXISTS history_points (
	day Date DEFAULT toDate(toDateTime(intDiv(at_ms, 1000))),
	at_ms Int64,
	idx UInt32,
	episode_id Int64,
	kind String,
	from_dev String,
	to_dev String,
	loss_ratio Float64,
	loss_lo Float64,
	loss_hi Float64,
	confidence Float64,
	flows UInt64,
	lossy_flows UInt64,
	probers UInt32
) ENGINE = MergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (at_ms, idx);
