-- `persons`: one stitched person id per known id, for analysts' joins.
--
-- identity_links holds one row per (alias_id, user_id) pair seen, and until merges run, the
-- same pair several times: a naive `JOIN identity_links ON alias_id = …` multiplies event rows
-- (once per duplicate and once per user an id was ever linked to). This view has exactly one
-- row per id: every anonymous id or aliased previous id that was linked, and every user id.
-- person_id follows the same rule as funnels, retention and unique-person KPIs: the earliest
-- link of an id, else the id itself, so a join agrees with Balise's own numbers:
--   SELECT if(p.person_id != '', p.person_id, if(e.user_id != '', e.user_id, e.anonymous_id)) AS person
--   FROM events AS e LEFT JOIN persons AS p ON p.id = if(e.user_id != '', e.user_id, e.anonymous_id)
-- An id never linked (an anonymous visitor who never signed in) has no row: it is its own person.
-- A user id's own row carries a far-future time, so a real link of that id (an alias) wins.
CREATE OR REPLACE VIEW persons {on_cluster} AS
SELECT
    id,
    argMin(person_id, linked_at) AS person_id,
    minIf(linked_at, is_link) AS first_linked_at,
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
