-- users: one row per user of the staged events, with the name, gender and
-- level of their LATEST event (by ts; ties broken by session and item).
--
-- Decision: every event with a non-empty userid counts, not only NextSong
-- pages: a level changes on Submit Upgrade / Submit Downgrade pages, and a
-- user who only browsed is still a user. Logged-out events have userid ""
-- and are left out. With the DAG's upsert, a later day's row replaces an
-- earlier one, so after running the days in order each user carries the
-- level of their latest event.
SELECT user_id, first_name, last_name, gender, level
FROM (
  SELECT
    e.userid    AS user_id,
    e.firstname AS first_name,
    e.lastname  AS last_name,
    e.gender    AS gender,
    e.level     AS level,
    ROW_NUMBER() OVER (
      PARTITION BY e.userid
      ORDER BY e.ts DESC, e.sessionid DESC, e.iteminsession DESC
    ) AS latest
  FROM staging_events AS e
  WHERE e.userid IS NOT NULL
    AND e.userid <> ''
) AS ranked
WHERE latest = 1
ORDER BY user_id
