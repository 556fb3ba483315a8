-- Cluster layout (decision 0012): one replicated copy of `audit_log` on every node, not sharded
-- (a small table of its own; {shard}-{replica} names each node's replica, as for
-- schema_migrations). Otherwise the same as migrations/024_audit_log.sql.
-- Every admin action (replay, plan reload, erase, export, Metabase provisioning, …): who, in
-- which role, what, when, and how it ended. Append-only; request bodies are not kept (an erasure's
-- subject must not survive in its own audit trail). Ordered by time: it is read newest first.
CREATE TABLE IF NOT EXISTS audit_log {on_cluster}
(
    at             DateTime64(3, 'UTC'),
    actor          String,
    role           LowCardinality(String),
    action         LowCardinality(String),
    status         UInt16,
    request_id     String
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{database}/audit_log', '{shard}-{replica}')
PARTITION BY toYYYYMM(at)
ORDER BY at;
