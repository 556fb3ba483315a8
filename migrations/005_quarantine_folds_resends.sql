-- Resent quarantined events fold, as resent events do (decision 0011).
--
-- Why: exactly-once no longer rests on a Redis window claimed before insert (it cost ~150–200 B
-- of Redis memory per event and ran Redis out of memory at a sustained high rate). It rests on
-- the tables: every copy of one message lands under one sorting key, and every reader uses
-- FINAL. `events` has that key since 003. `quarantine` was a plain MergeTree ordered by
-- (event, received_at, message_id): each resend had its own received_at, so it stayed a row.
--
-- Now `quarantine` is a ReplacingMergeTree ordered by (event, dedupe_key):
-- - `dedupe_key` is the message_id, stable across resends. A row without one (the client sent
--   none, or the request was not JSON) gets a random key, so such rows never fold together.
-- - no partition on received_at, which differs between copies (FINAL folds only within a
--   partition); a minmax index on received_at keeps the data-health time ranges pruned.
-- - the first copy received is kept (`keep_first` decreases with received_at), as in `events`.
--
-- Safe on existing data, as 003: the columns are added first, a new table is filled with every
-- row, the two are exchanged, and the old one is kept as `quarantine_before_005` (drop it once
-- satisfied). Stop `balise worker` processes (split mode) while it runs.
ALTER TABLE quarantine {on_cluster}
    ADD COLUMN IF NOT EXISTS dedupe_key String MATERIALIZED if(message_id = '', toString(generateUUIDv4()), message_id);

ALTER TABLE quarantine {on_cluster}
    ADD COLUMN IF NOT EXISTS keep_first UInt64 MATERIALIZED toUInt64(4102444800000 - toUnixTimestamp64Milli(received_at));

-- Left over by an interrupted run (its rows are all in `quarantine`).
DROP TABLE IF EXISTS quarantine_005 {on_cluster};

-- PARTITION BY tuple(): without it, `AS quarantine` would keep the old monthly partitions.
CREATE TABLE quarantine_005 {on_cluster} AS quarantine
ENGINE = ReplacingMergeTree(keep_first)
PARTITION BY tuple()
ORDER BY (event, dedupe_key);

ALTER TABLE quarantine_005 {on_cluster} ADD INDEX IF NOT EXISTS idx_received_at received_at TYPE minmax GRANULARITY 1;

INSERT INTO quarantine_005 SELECT * FROM quarantine;

EXCHANGE TABLES quarantine AND quarantine_005 {on_cluster};

DROP TABLE IF EXISTS quarantine_before_005 {on_cluster};

RENAME TABLE quarantine_005 TO quarantine_before_005 {on_cluster};
