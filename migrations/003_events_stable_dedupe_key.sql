-- Late duplicates fold: the dedupe key of `events` no longer moves with the corrected timestamp.
--
-- Why: `timestamp` is corrected for client clock skew with the time the API received the event
-- (receivedAt − (sentAt − timestamp)). The same body resent after the Redis dedupe window gets a
-- timestamp shifted by the resend delay; under ORDER BY (event, toDate(timestamp), message_id)
-- and PARTITION BY toYYYYMM(timestamp) a shift across midnight put the copy under another key,
-- where neither merges nor FINAL ever fold it (FINAL folds only equal keys within a partition).
--
-- Now the key and the partition use `message_date`: the day of the message's own time, taken
-- from the body only: the client's timestamp as sent (uncorrected), else its sentAt, else the
-- day it was first received. A resend of the same body has the same message_date, so it lands
-- under the same key and folds. That time is the device's clock, unchecked: partitions are by
-- year, and times outside 2000–2098 (a dead clock battery, a hostile client) go to 1970-01-01,
-- so one insert never spans more than 100 partitions (ClickHouse refuses an insert block over
-- max_partitions_per_insert_block = 100: random client clocks made monthly partitions fail whole
-- batches, valid events included).
-- Rows from before this migration get it from their stored columns, which hold exactly that:
-- with a sentAt, timestamp − received_at + sent_at is the client's timestamp (or sentAt).
--
-- The engine keeps the FIRST copy received (`keep_first` decreases with received_at), not the
-- last: a late copy's corrected timestamp is off by the resend delay, the first one is not.
-- `timestamp` stays the analysts' time; a minmax index on it keeps time-range queries pruned.
--
-- Safe on existing data: the new columns are added to `events` first (metadata only), a new
-- table is created with the same columns (whatever earlier migrations added), every row is
-- copied, then the two tables are exchanged atomically. The old table is kept as
-- `events_before_003` (drop it once satisfied); a run interrupted before it is recorded is
-- simply run again. Stop `balise worker` processes (split mode) while it runs: rows they insert
-- during the copy would stay in `events_before_003`.
-- The message's own time, in epoch ms, recovered from stored columns (see above).
ALTER TABLE events {on_cluster}
    ADD COLUMN IF NOT EXISTS message_date Date DEFAULT if(
        if(isNull(sent_at), toUnixTimestamp64Milli(timestamp), toUnixTimestamp64Milli(timestamp) - toUnixTimestamp64Milli(received_at) + toUnixTimestamp64Milli(assumeNotNull(sent_at))) BETWEEN 946684800000 AND 4070908799999,
        toDate(fromUnixTimestamp64Milli(if(isNull(sent_at), toUnixTimestamp64Milli(timestamp), toUnixTimestamp64Milli(timestamp) - toUnixTimestamp64Milli(received_at) + toUnixTimestamp64Milli(assumeNotNull(sent_at))), 'UTC')),
        toDate('1970-01-01')
    ) AFTER received_at;

ALTER TABLE events {on_cluster}
    ADD COLUMN IF NOT EXISTS keep_first UInt64 MATERIALIZED toUInt64(4102444800000 - toUnixTimestamp64Milli(received_at));

-- Left over by an interrupted run (its rows are all in `events`).
DROP TABLE IF EXISTS events_003 {on_cluster};

CREATE TABLE events_003 {on_cluster} AS events
ENGINE = ReplacingMergeTree(keep_first)
PARTITION BY toYear(message_date)
ORDER BY (event, message_date, message_id);

ALTER TABLE events_003 {on_cluster} ADD INDEX IF NOT EXISTS idx_timestamp timestamp TYPE minmax GRANULARITY 1;

INSERT INTO events_003 SELECT * FROM events;

EXCHANGE TABLES events AND events_003 {on_cluster};

-- The identity graph's materialized view is re-attached to the new `events`.
DROP VIEW IF EXISTS identity_links_from_events {on_cluster};

CREATE MATERIALIZED VIEW IF NOT EXISTS identity_links_from_events {on_cluster}
TO identity_links AS
SELECT
    if(type = 'alias', previous_id, anonymous_id) AS alias_id,
    user_id,
    timestamp AS first_seen
FROM events
WHERE user_id != '' AND if(type = 'alias', previous_id, anonymous_id) != '';

DROP TABLE IF EXISTS events_before_003 {on_cluster};

RENAME TABLE events_003 TO events_before_003 {on_cluster};
