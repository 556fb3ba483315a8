-- `persons.first_linked_at` is NULL for an id that was never linked as an alias (a user id's
-- own row), where migration 010's minIf gave 1970-01-01: an analyst filtering or sorting on it
-- met a date that never happened. Otherwise the view is 010's, unchanged.
CREATE OR REPLACE VIEW persons {on_cluster} AS
SELECT
    id,
    argMin(person_id, linked_at) AS person_id,
    minIfOrNull(linked_at, is_link = 1) AS first_linked_at,
    max(is_link) AS is_alias
FROM
(
    SELECT alias_id AS id, user_id AS person_id, first_seen AS linked_at, 1 AS is_link
    FROM identity_links
    UNION ALL
    SELECT user_id AS id, user_id AS person_id, toDateTime64('2099-12-31 00:00:00', 3, 'UTC') AS linked_at, 0 AS is_link
    FROM identity_links
)
GROUP BY id;
