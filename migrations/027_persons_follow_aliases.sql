-- `persons` follows an alias chain, as the funnels and KPIs now do (src/analytics/sql-common.ts,
-- IDENTITY_LINKS_SUBQUERY) and as privacy export and erase always did: an anonymousId identified
-- as an old userId that was later aliased to a new one belongs to the new one, through up to
-- three links (anonymousId → old → new → newer). Before, it stopped at the first link and split
-- that person in two. The links past the first are aliases, read from the alias calls in `events`.
-- A path stops before a user already on it (a → b, then b → a). A link of an id to itself links
-- nothing, and ties between links of the same time go to the smaller user id.
CREATE OR REPLACE VIEW persons {on_cluster} AS
SELECT
    ids.id AS id,
    multiIf(
        l2.linked_user = '' OR l2.linked_user IN (ids.id, ids.first_user), ids.first_user,
        l3.linked_user = '' OR l3.linked_user IN (ids.id, ids.first_user, l2.linked_user), l2.linked_user,
        l3.linked_user
    ) AS person_id,
    ids.first_linked_at AS first_linked_at,
    ids.is_alias AS is_alias
FROM
(
    SELECT
        id,
        argMin(person_id, (linked_at, person_id)) AS first_user,
        minIfOrNull(linked_at, is_link = 1) AS first_linked_at,
        max(is_link) AS is_alias
    FROM
    (
        SELECT alias_id AS id, user_id AS person_id, first_seen AS linked_at, 1 AS is_link
        FROM identity_links
        WHERE alias_id != user_id
        UNION ALL
        SELECT user_id AS id, user_id AS person_id, toDateTime64('2099-12-31 00:00:00', 3, 'UTC') AS linked_at, 0 AS is_link
        FROM identity_links
    )
    GROUP BY id
) AS ids
LEFT JOIN
(
    SELECT previous_id AS alias_id, argMin(user_id, (timestamp, user_id)) AS linked_user
    FROM events
    WHERE event = '' AND type = 'alias' AND previous_id != '' AND user_id != '' AND previous_id != user_id
    GROUP BY previous_id
) AS l2 ON l2.alias_id = ids.first_user
LEFT JOIN
(
    SELECT previous_id AS alias_id, argMin(user_id, (timestamp, user_id)) AS linked_user
    FROM events
    WHERE event = '' AND type = 'alias' AND previous_id != '' AND user_id != '' AND previous_id != user_id
    GROUP BY previous_id
) AS l3 ON l3.alias_id = l2.linked_user
SETTINGS join_use_nulls = 0;
