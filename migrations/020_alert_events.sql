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
ENGINE = MergeTree
ORDER BY (at, alert);
