-- /ready writes one row here (at most every few seconds): it proves the engine can write a part
-- to disk, not only answer a ping (a full or read-only disk fails every insert yet pings fine).
CREATE TABLE IF NOT EXISTS health_probe {on_cluster}
(
    probed_at DateTime64(3, 'UTC'),
    host String
)
ENGINE = MergeTree
ORDER BY probed_at
TTL toDateTime(probed_at) + INTERVAL 1 DAY;
