-- Cluster layout (decision 0012): one replicated copy of `alert_events` on every node, not sharded
-- (a small table of its own; {shard}-{replica} names each node's replica, as for
-- schema_migrations). Otherwise the same as migrations/020_alert_events.sql.
-- Alert history: one row each time an alert of tracking-plan/alerts.yaml fires or resolves
-- (never while it keeps firing). Read by GET /api/alerts and the dashboard's Alerts section.
CREATE TABLE IF NOT EXISTS alert_events {on_cluster}
(
    at DateTime64(3, 'UTC'),
    alert String,
    status LowCardinality(String),
    value Nullable(Float64),
    message String
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{database}/alert_events', '{shard}-{replica}')
ORDER BY (at, alert);
