-- Cluster layout (decision 0012) of 025: each shard's replicated `identity_links_local` keeps
-- each link's earliest time (`keep_first` is its version), as on one node. A new replicated
-- table (its own Keeper path) is exchanged for the old one on every node; the old one is kept
-- as `identity_links_before_025_local` (a local table, as retention and erasure expect on a
-- cluster). Stop `balise worker` processes while it runs.
ALTER TABLE identity_links_local {on_cluster}
    ADD COLUMN IF NOT EXISTS keep_first UInt64 MATERIALIZED toUInt64(4102444800000 - toUnixTimestamp64Milli(first_seen));

-- Left over by an interrupted run: everything in it comes back from `events` below.
DROP TABLE IF EXISTS identity_links_local_025 {on_cluster} SYNC;

CREATE TABLE identity_links_local_025 {on_cluster} AS identity_links_local
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/identity_links_local_025', '{replica}', keep_first)
ORDER BY (alias_id, user_id);

EXCHANGE TABLES identity_links_local AND identity_links_local_025 {on_cluster};

DROP VIEW IF EXISTS identity_links_from_events {on_cluster};

CREATE MATERIALIZED VIEW IF NOT EXISTS identity_links_from_events {on_cluster}
TO identity_links_local AS
SELECT
    if(type = 'alias', previous_id, anonymous_id) AS alias_id,
    user_id,
    timestamp AS first_seen
FROM events_local
WHERE user_id != '' AND if(type = 'alias', previous_id, anonymous_id) != '';

-- Every shard's events, through the Distributed tables; a link may then also sit on another
-- shard than its events, which changes nothing: readers take the earliest row of every shard.
INSERT INTO identity_links (alias_id, user_id, first_seen)
SELECT
    if(type = 'alias', previous_id, anonymous_id) AS alias_id,
    user_id,
    min(timestamp) AS first_seen
FROM events
WHERE user_id != '' AND if(type = 'alias', previous_id, anonymous_id) != ''
GROUP BY alias_id, user_id;

DROP TABLE IF EXISTS identity_links_before_025_local {on_cluster} SYNC;

RENAME TABLE identity_links_local_025 TO identity_links_before_025_local {on_cluster};
