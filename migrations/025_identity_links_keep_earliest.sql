-- The identity graph keeps each link's earliest time, as `events` and `quarantine` keep their
-- first copy (decision 0011).
--
-- Why: `identity_links` was a ReplacingMergeTree without a version, which keeps the last row
-- inserted. Once a merge ran, a link (alias_id, user_id) seen again later took its later time,
-- and the earliest link of an id no longer won: an anonymous id identified as u1, then u2, then u1
-- again (a shared device, a second login) was stitched to u1 until the merge and to u2 after it,
-- moving that device's past events to another person in every funnel, retention and
-- unique-person count.
--
-- Now `keep_first` decreases with first_seen and is the table's version: a merge keeps the
-- earliest row of each link. The new table is filled from `events` (not copied: a merge may
-- already have dropped a link's earliest time), and the old one is kept as
-- `identity_links_before_025` (drop it once satisfied). Stop `balise worker` processes (split
-- mode) while it runs.
ALTER TABLE identity_links {on_cluster}
    ADD COLUMN IF NOT EXISTS keep_first UInt64 MATERIALIZED toUInt64(4102444800000 - toUnixTimestamp64Milli(first_seen));

-- Left over by an interrupted run: everything in it comes back from `events` below.
DROP TABLE IF EXISTS identity_links_025 {on_cluster};

CREATE TABLE identity_links_025 {on_cluster} AS identity_links
ENGINE = ReplacingMergeTree(keep_first)
ORDER BY (alias_id, user_id);

EXCHANGE TABLES identity_links AND identity_links_025 {on_cluster};

-- The view writes to the new table from now on; the links of events inserted meanwhile come
-- back with the others, below.
DROP VIEW IF EXISTS identity_links_from_events {on_cluster};

CREATE MATERIALIZED VIEW IF NOT EXISTS identity_links_from_events {on_cluster}
TO identity_links AS
SELECT
    if(type = 'alias', previous_id, anonymous_id) AS alias_id,
    user_id,
    timestamp AS first_seen
FROM events
WHERE user_id != '' AND if(type = 'alias', previous_id, anonymous_id) != '';

INSERT INTO identity_links (alias_id, user_id, first_seen)
SELECT
    if(type = 'alias', previous_id, anonymous_id) AS alias_id,
    user_id,
    min(timestamp) AS first_seen
FROM events
WHERE user_id != '' AND if(type = 'alias', previous_id, anonymous_id) != ''
GROUP BY alias_id, user_id;

DROP TABLE IF EXISTS identity_links_before_025 {on_cluster};

RENAME TABLE identity_links_025 TO identity_links_before_025 {on_cluster};
