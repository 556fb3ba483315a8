-- The cluster layout (CLICKHOUSE_CLUSTER set): decision 0012. In cluster mode this file replaces
-- migrations 001–005 (002–005 have empty cluster variants): it creates, at once, the layout the
-- single-node migrations reach one step at a time, as replicated local tables plus Distributed
-- tables over them. Analysts, the API and the worker use the same names as on one node
-- (`events`, `quarantine`, …): those are the Distributed tables; `*_local` hold the rows.
--
-- Replication: Replicated*MergeTree with the `{shard}` and `{replica}` macros of each server's
-- config (docker-compose.cluster.yml sets them per node); the Keeper path names the shard, the
-- database and the table, so the replicas of one shard share one path.
--
-- Sharding: `events` by cityHash64 of the device's anonymous_id, else the user_id. Every resend
-- of one event carries the same ids, so all its copies land on one shard, under one sorting key,
-- and FINAL (which runs on each shard) folds them: dedupe is per shard and therefore global. A
-- device's events, including the identify that links its anonymous_id to a user, stay together.
-- `quarantine` and `quarantine_replays` shard by message_id (resends together; replay looks ids
-- up through the Distributed tables).

CREATE TABLE IF NOT EXISTS events_local {on_cluster}
(
    message_id     String,
    type           LowCardinality(String),
    event          LowCardinality(String),
    user_id        String,
    anonymous_id   String,
    group_id       String,
    previous_id    String,
    timestamp      DateTime64(3, 'UTC'),
    original_timestamp Nullable(DateTime64(3, 'UTC')),
    sent_at        Nullable(DateTime64(3, 'UTC')),
    received_at    DateTime64(3, 'UTC'),
    message_date   Date DEFAULT if(
        if(isNull(sent_at), toUnixTimestamp64Milli(timestamp), toUnixTimestamp64Milli(timestamp) - toUnixTimestamp64Milli(received_at) + toUnixTimestamp64Milli(assumeNotNull(sent_at))) BETWEEN 946684800000 AND 4070908799999,
        toDate(fromUnixTimestamp64Milli(if(isNull(sent_at), toUnixTimestamp64Milli(timestamp), toUnixTimestamp64Milli(timestamp) - toUnixTimestamp64Milli(received_at) + toUnixTimestamp64Milli(assumeNotNull(sent_at))), 'UTC')),
        toDate('1970-01-01')
    ),
    properties     String CODEC(ZSTD(1)),
    traits         String CODEC(ZSTD(1)),
    context        String CODEC(ZSTD(1)),
    source         LowCardinality(String),
    library_name   LowCardinality(String),
    library_version LowCardinality(String),
    plan_version   LowCardinality(String),
    plan_status    LowCardinality(String),
    violations     String,
    inserted_at    DateTime64(3, 'UTC') DEFAULT now64(3),
    keep_first     UInt64 MATERIALIZED toUInt64(4102444800000 - toUnixTimestamp64Milli(received_at)),
    INDEX idx_message_id message_id TYPE bloom_filter(0.001) GRANULARITY 4,
    INDEX idx_user_id user_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_timestamp timestamp TYPE minmax GRANULARITY 1
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/events_local', '{replica}', keep_first)
PARTITION BY toYear(message_date)
ORDER BY (event, message_date, message_id);

CREATE TABLE IF NOT EXISTS events {on_cluster} AS events_local
ENGINE = Distributed({cluster}, currentDatabase(), events_local, cityHash64(if(anonymous_id != '', anonymous_id, user_id)));

CREATE TABLE IF NOT EXISTS quarantine_local {on_cluster}
(
    message_id     String,
    received_at    DateTime64(3, 'UTC'),
    source         LowCardinality(String),
    type           LowCardinality(String),
    event          String,
    plan_version   LowCardinality(String),
    reasons        Array(LowCardinality(String)),
    violations     String,
    raw            String CODEC(ZSTD(3)),
    dedupe_key     String MATERIALIZED if(message_id = '', toString(generateUUIDv4()), message_id),
    keep_first     UInt64 MATERIALIZED toUInt64(4102444800000 - toUnixTimestamp64Milli(received_at)),
    INDEX idx_received_at received_at TYPE minmax GRANULARITY 1
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/quarantine_local', '{replica}', keep_first)
PARTITION BY tuple()
ORDER BY (event, dedupe_key);

CREATE TABLE IF NOT EXISTS quarantine {on_cluster} AS quarantine_local
ENGINE = Distributed({cluster}, currentDatabase(), quarantine_local, cityHash64(message_id));

CREATE TABLE IF NOT EXISTS quarantine_replays_local {on_cluster}
(
    message_id     String,
    replayed_at    DateTime64(3, 'UTC'),
    plan_version   LowCardinality(String)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/quarantine_replays_local', '{replica}', replayed_at)
ORDER BY message_id;

CREATE TABLE IF NOT EXISTS quarantine_replays {on_cluster} AS quarantine_replays_local
ENGINE = Distributed({cluster}, currentDatabase(), quarantine_replays_local, cityHash64(message_id));

-- The identity graph is written on each shard from that shard's events (the view reads the
-- local table, where a Distributed insert lands) and read through `identity_links` from every
-- shard: the links of a person whose devices sit on different shards are all seen.
CREATE TABLE IF NOT EXISTS identity_links_local {on_cluster}
(
    alias_id       String,
    user_id        String,
    first_seen     DateTime64(3, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/identity_links_local', '{replica}')
ORDER BY (alias_id, user_id);

CREATE TABLE IF NOT EXISTS identity_links {on_cluster} AS identity_links_local
ENGINE = Distributed({cluster}, currentDatabase(), identity_links_local, cityHash64(alias_id));

CREATE MATERIALIZED VIEW IF NOT EXISTS identity_links_from_events {on_cluster}
TO identity_links_local AS
SELECT
    if(type = 'alias', previous_id, anonymous_id) AS alias_id,
    user_id,
    timestamp AS first_seen
FROM events_local
WHERE user_id != '' AND if(type = 'alias', previous_id, anonymous_id) != '';

-- Node-local on purpose: /ready proves that the node it talks to can write a part.
CREATE TABLE IF NOT EXISTS health_probe {on_cluster}
(
    probed_at DateTime64(3, 'UTC'),
    host String
)
ENGINE = MergeTree
ORDER BY probed_at
TTL toDateTime(probed_at) + INTERVAL 1 DAY;
