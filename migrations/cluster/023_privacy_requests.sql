-- Cluster layout (decision 0012): one replicated copy of `privacy_requests` on every node, not sharded
-- (a small table of its own; {shard}-{replica} names each node's replica, as for
-- schema_migrations). Otherwise the same as migrations/023_privacy_requests.sql.
-- The log of data-subject requests (erase, export), one row per request, its latest state
-- winning (ReplacingMergeTree on `version`, which every update increments).
--
-- Erasure is resumable: the ids resolved through identity stitching, the rows found per table
-- and the steps already done are saved here before anything is deleted, so a run that dies half
-- way is finished by running the same request again (every step is an idempotent delete). Once a
-- request is done its subject and ids are replaced by their SHA-256 hashes: the log proves what
-- was erased, and when, without keeping who (docs/decisions/0031-erasure-by-mutation.md).
CREATE TABLE IF NOT EXISTS privacy_requests {on_cluster}
(
    request_id     String,
    kind           LowCardinality(String),
    subject        String,
    state          LowCardinality(String),
    ids            Array(String),
    steps_done     Array(String),
    report         String,
    actor          String,
    requested_at   DateTime64(3, 'UTC'),
    updated_at     DateTime64(3, 'UTC'),
    version        UInt64
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{database}/privacy_requests', '{shard}-{replica}', version)
ORDER BY request_id;
