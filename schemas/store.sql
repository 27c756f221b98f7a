-- faultmesh collector database (SQLite), applied by store/store_sqlite.c.
-- Migrations run in order, each in its own transaction; schema_version holds
-- the last one applied. A database newer than the code is refused, not touched.
-- Each migration starts with a line "-- migration N" and is never edited once
-- released: change the schema by appending a new migration.

-- migration 1
CREATE TABLE schema_version (
	version INTEGER NOT NULL
);
INSERT INTO schema_version (version) VALUES (0);

-- One row per prober name ever seen.
CREATE TABLE probers (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	first_seen_ms INTEGER NOT NULL,
	last_seen_ms INTEGER NOT NULL
);

-- Addresses probed (flow destinations).
CREATE TABLE targets (
	id INTEGER PRIMARY KEY,
	addr TEXT NOT NULL UNIQUE
);

-- A flow is one prober's 5-tuple; the source port picks its ECMP path.
CREATE TABLE flows (
	id INTEGER PRIMARY KEY,
	prober_id INTEGER NOT NULL REFERENCES probers (id),
	src TEXT NOT NULL,
	target_id INTEGER NOT NULL REFERENCES targets (id),
	proto INTEGER NOT NULL, -- 17 udp, 6 tcp
	sport INTEGER NOT NULL,
	dport INTEGER NOT NULL,
	UNIQUE (prober_id, src, target_id, proto, sport, dport)
);
CREATE INDEX flows_by_target ON flows (target_id);

-- Every batch stored, for idempotence (a resend has the same prober, seq and
-- start) and as the time axis of its results. Rows outlive their raw results
-- (raw_deleted = 1) until rollups expire, so old resends stay recognised.
CREATE TABLE batches (
	id INTEGER PRIMARY KEY,
	prober_id INTEGER NOT NULL REFERENCES probers (id),
	seq INTEGER NOT NULL,
	start_ms INTEGER NOT NULL,
	end_ms INTEGER NOT NULL,
	stored_ms INTEGER NOT NULL, -- collector clock at commit
	nflows INTEGER NOT NULL,
	npaths INTEGER NOT NULL,
	rolled_up INTEGER NOT NULL DEFAULT 0,  -- results merged into rollup_hourly
	raw_deleted INTEGER NOT NULL DEFAULT 0, -- results removed by retention
	UNIQUE (prober_id, seq, start_ms)
);
CREATE INDEX batches_by_end ON batches (end_ms);
-- Partial indexes stay small however many expired batch records pile up.
CREATE INDEX batches_raw_by_end ON batches (end_ms) WHERE raw_deleted = 0;
CREATE INDEX batches_unrolled ON batches (id) WHERE rolled_up = 0;

-- Per-interval flow figures; the interval is the batch's. Keyed by batch first
-- so a batch's rows are contiguous (cheap window scans, rollup and deletion).
CREATE TABLE results (
	batch_id INTEGER NOT NULL REFERENCES batches (id),
	flow_id INTEGER NOT NULL REFERENCES flows (id),
	dscp INTEGER NOT NULL,
	sent INTEGER NOT NULL,
	received INTEGER NOT NULL,
	lost_fwd INTEGER NOT NULL,
	lost_rev INTEGER NOT NULL,
	rtt_min_ns INTEGER NOT NULL, -- 0 = no sample
	rtt_p50_ns INTEGER NOT NULL,
	rtt_p99_ns INTEGER NOT NULL,
	rtt_max_ns INTEGER NOT NULL,
	target_down INTEGER NOT NULL,
	PRIMARY KEY (batch_id, flow_id, dscp)
) WITHOUT ROWID;
CREATE INDEX results_by_flow ON results (flow_id, batch_id);

-- The prober's own health per batch, so a sick host is not blamed on the fabric.
CREATE TABLE health (
	batch_id INTEGER PRIMARY KEY REFERENCES batches (id),
	if_rx_errors INTEGER NOT NULL,
	if_tx_errors INTEGER NOT NULL,
	if_rx_dropped INTEGER NOT NULL,
	if_tx_dropped INTEGER NOT NULL,
	links_down INTEGER NOT NULL,
	spool_dropped INTEGER NOT NULL
);

-- Distinct hop lists per flow, in the observations path syntax
-- ("a,*,b"); a flow returning to an earlier path updates that row.
CREATE TABLE paths (
	id INTEGER PRIMARY KEY,
	flow_id INTEGER NOT NULL REFERENCES flows (id),
	hops TEXT NOT NULL,
	hop_replies TEXT NOT NULL, -- comma list, latest trace
	hop_probes TEXT NOT NULL,
	first_seen_ms INTEGER NOT NULL,
	last_seen_ms INTEGER NOT NULL,
	times_seen INTEGER NOT NULL,
	UNIQUE (flow_id, hops)
);
CREATE INDEX paths_latest ON paths (flow_id, last_seen_ms);

-- Each time a flow's path differs from its previous one.
CREATE TABLE path_changes (
	flow_id INTEGER NOT NULL REFERENCES flows (id),
	at_ms INTEGER NOT NULL,
	old_hops TEXT NOT NULL,
	new_hops TEXT NOT NULL
);
CREATE INDEX path_changes_by_time ON path_changes (at_ms);

-- Per flow and hour (hour_ms = start of the UTC hour of the batch's end),
-- kept longer than raw results. Percentiles cannot be summed: the rollup keeps
-- the extremes and a received-weighted mean of the interval medians.
CREATE TABLE rollup_hourly (
	flow_id INTEGER NOT NULL REFERENCES flows (id),
	hour_ms INTEGER NOT NULL,
	intervals INTEGER NOT NULL,
	sent INTEGER NOT NULL,
	received INTEGER NOT NULL,
	lost_fwd INTEGER NOT NULL,
	lost_rev INTEGER NOT NULL,
	down_intervals INTEGER NOT NULL,
	rtt_min_ns INTEGER NOT NULL, -- 0 = no sample
	rtt_p50_weighted_ns INTEGER NOT NULL, -- sum of p50 * received
	rtt_p99_max_ns INTEGER NOT NULL,
	rtt_max_ns INTEGER NOT NULL,
	PRIMARY KEY (flow_id, hour_ms)
) WITHOUT ROWID;
CREATE INDEX rollup_by_hour ON rollup_hourly (hour_ms);

-- migration 2
-- Rollup sums over the intervals the target was up, counted as the raw
-- observations query counts them, so a look-back can be read from rollups
-- once raw results are gone (sent etc. above include target-down intervals).
ALTER TABLE rollup_hourly ADD COLUMN up_sent INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_hourly ADD COLUMN up_received INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_hourly ADD COLUMN up_lost_fwd INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_hourly ADD COLUMN up_lost_rev INTEGER NOT NULL DEFAULT 0;
-- Hours rolled up before: without a down interval the totals are the up sums;
-- with one they are recounted from the raw results still kept (an hour whose
-- raw results are gone keeps 0: no evidence rather than false loss).
UPDATE rollup_hourly SET up_sent = sent, up_received = received,
	up_lost_fwd = lost_fwd, up_lost_rev = lost_rev
	WHERE down_intervals = 0;
UPDATE rollup_hourly SET (up_sent, up_received, up_lost_fwd, up_lost_rev) = (
	SELECT coalesce(sum(r.sent), 0), coalesce(sum(r.received), 0),
		coalesce(sum(r.lost_fwd), 0), coalesce(sum(r.lost_rev), 0)
	FROM batches b JOIN results r ON r.batch_id = b.id
	WHERE r.flow_id = rollup_hourly.flow_id AND r.target_down = 0
		AND b.rolled_up = 1 AND b.raw_deleted = 0
		AND b.end_ms >= rollup_hourly.hour_ms
		AND b.end_ms < rollup_hourly.hour_ms + 3600000)
	WHERE down_intervals > 0;

-- migration 3
-- The fabric inventory (schemas/inventory.md) that the collector's
-- --inventory or `triangulate inventory load` put here: one current text,
-- which every triangulate command uses to name devices unless given a file.
CREATE TABLE inventory (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	text TEXT NOT NULL,      -- the whole inventory file, as loaded
	source TEXT NOT NULL,    -- the path it was loaded from
	loaded_ms INTEGER NOT NULL -- when this text was stored (Unix ms)
);

-- migration 4
-- Per flow and hour, the forward loss of the intervals that went dark (half
-- or more of their probes unanswered, the target up): the raw observations
-- query counts it as a flow's lost_dark (a blackhole began or ended inside
-- the window), and a look-back read from rollups needs it too.
ALTER TABLE rollup_hourly ADD COLUMN up_lost_dark INTEGER NOT NULL DEFAULT 0;
-- Hours rolled up before: recounted from the raw results still kept (an
-- hour whose raw results are gone keeps 0: its flows are read by loss ratio
-- alone, as before).
UPDATE rollup_hourly SET up_lost_dark = (
	SELECT coalesce(sum(r.lost_fwd), 0)
	FROM batches b JOIN results r ON r.batch_id = b.id
	WHERE r.flow_id = rollup_hourly.flow_id AND r.target_down = 0
		AND r.received * 2 <= r.sent
		AND b.rolled_up = 1 AND b.raw_deleted = 0
		AND b.end_ms >= rollup_hourly.hour_ms
		AND b.end_ms < rollup_hourly.hour_ms + 3600000)
	WHERE up_lost_fwd > 0;
