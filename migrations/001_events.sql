-- One row per accepted event, the table analysts query.
--
-- Engine: ReplacingMergeTree keyed on message_id within (event, day). The worker already
-- drops duplicates before inserting (a Redis dedupe window checked per batch); the engine is
-- the second line of defence, folding any duplicate that still slips in (two workers racing on
-- the same resent messageId) at merge time, and `FINAL` / `LIMIT 1 BY message_id` give exact
-- answers before that.
--
-- ORDER BY (event, toDate(timestamp), message_id): nearly every product-analytics query filters
-- on event names and a time range first (funnels, trends, KPIs), so those come first in the
-- sparse index; message_id last makes the key unique for replacing.
-- PARTITION BY month keeps parts few while letting time-ranged queries and TTLs drop whole months.
-- Strings that repeat (type, event, source, library, plan version) are LowCardinality.
-- Times are DateTime64(3, 'UTC'): millisecond precision, always UTC.
CREATE TABLE IF NOT EXISTS events {on_cluster}
(
    message_id     String,
    type           LowCardinality(String),
    event          LowCardinality(String),
    user_id        String,
    anonymous_id   String,
    group_id       String,
    previous_id    String,
    timestamp      DateTime64(3, 'UTC'),
    sent_at        Nullable(DateTime64(3, 'UTC')),
    received_at    DateTime64(3, 'UTC'),
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
    INDEX idx_message_id message_id TYPE bloom_filter(0.001) GRANULARITY 4,
    INDEX idx_user_id user_id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = ReplacingMergeTree(inserted_at)
PARTITION BY toYYYYMM(timestamp)
ORDER BY (event, toDate(timestamp), message_id);

-- Events that failed the tracking plan (or could not be normalised). Never dropped: the raw
-- event is kept verbatim with the plan version tried and every violation, so that
-- `balise replay quarantine` can re-validate it once the plan is fixed.
CREATE TABLE IF NOT EXISTS quarantine {on_cluster}
(
    message_id     String,
    received_at    DateTime64(3, 'UTC'),
    source         LowCardinality(String),
    type           LowCardinality(String),
    event          String,
    plan_version   LowCardinality(String),
    reasons        Array(LowCardinality(String)),
    violations     String,
    raw            String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (event, received_at, message_id);

-- Quarantined events that replay moved into `events`, so a second replay moves nothing.
CREATE TABLE IF NOT EXISTS quarantine_replays {on_cluster}
(
    message_id     String,
    replayed_at    DateTime64(3, 'UTC'),
    plan_version   LowCardinality(String)
)
ENGINE = ReplacingMergeTree(replayed_at)
ORDER BY message_id;

-- Identity graph: every (anonymous_id → user_id) pair seen on an identified event, and every
-- alias (previous_id → user_id). argMin(first_seen) keeps the earliest link of each id so a
-- person is stable; analytics resolve person = coalesce(linked user_id, user_id, anonymous_id).
CREATE TABLE IF NOT EXISTS identity_links {on_cluster}
(
    alias_id       String,
    user_id        String,
    first_seen     DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (alias_id, user_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS identity_links_from_events {on_cluster}
TO identity_links AS
SELECT
    if(type = 'alias', previous_id, anonymous_id) AS alias_id,
    user_id,
    timestamp AS first_seen
FROM events
WHERE user_id != '' AND if(type = 'alias', previous_id, anonymous_id) != '';
