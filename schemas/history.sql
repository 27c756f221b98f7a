-- faultmesh suspect history (SQLite), applied by store/store_history.c into
-- the collector's database file, beside the store's tables (schemas/store.sql)
-- but versioned on its own: history_schema_version holds the last migration
-- applied. A database with a newer history schema is refused, not touched.
-- Each migration starts with a line "-- migration N" and is never edited once
-- released: change the schema by appending a new migration.

-- migration 1
CREATE TABLE history_schema_version (
	version INTEGER NOT NULL
);
INSERT INTO history_schema_version (version) VALUES (0);

-- One row per localization round (a watch interval, or a query's own run).
CREATE TABLE history_rounds (
	id INTEGER PRIMARY KEY,
	at_ms INTEGER NOT NULL,
	nsuspects INTEGER NOT NULL
);
CREATE INDEX history_rounds_by_time ON history_rounds (at_ms);

-- A suspect's episode: from the first round it was seen until it was absent
-- for the caller's number of rounds (closed_ms = 0 while open).
CREATE TABLE history_episodes (
	id INTEGER PRIMARY KEY,
	kind TEXT NOT NULL,     -- link, device, blackhole, host
	from_dev TEXT NOT NULL,
	to_dev TEXT NOT NULL,   -- '' for device and host
	opened_ms INTEGER NOT NULL,
	last_seen_ms INTEGER NOT NULL,
	closed_ms INTEGER NOT NULL DEFAULT 0,
	loss_ratio_max REAL NOT NULL,
	loss_ratio_last REAL NOT NULL,
	confidence_last REAL NOT NULL,
	rounds INTEGER NOT NULL,        -- rounds it was seen in
	absent_rounds INTEGER NOT NULL DEFAULT 0 -- consecutive rounds since
);
-- At most one open episode per suspect; the index finds it per round.
CREATE UNIQUE INDEX history_episodes_open
	ON history_episodes (kind, from_dev, to_dev) WHERE closed_ms = 0;
CREATE INDEX history_episodes_by_opened ON history_episodes (opened_ms);

-- Every suspect of every round: the timeline of a device or link.
CREATE TABLE history_points (
	round_id INTEGER NOT NULL REFERENCES history_rounds (id),
	episode_id INTEGER NOT NULL REFERENCES history_episodes (id),
	at_ms INTEGER NOT NULL,
	kind TEXT NOT NULL,
	from_dev TEXT NOT NULL,
	to_dev TEXT NOT NULL,
	loss_ratio REAL NOT NULL,
	loss_lo REAL NOT NULL,
	loss_hi REAL NOT NULL,
	confidence REAL NOT NULL,
	flows INTEGER NOT NULL,
	lossy_flows INTEGER NOT NULL,
	probers INTEGER NOT NULL
);
CREATE INDEX history_points_by_time ON history_points (at_ms);
CREATE INDEX history_points_by_from ON history_points (from_dev, at_ms);
CREATE INDEX history_points_by_to ON history_points (to_dev, at_ms);
