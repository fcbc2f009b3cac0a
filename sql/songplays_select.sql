-- songplays: one row per NextSong event of the run's data interval.
--
-- * start_time from the epoch-millisecond ts, keeping the milliseconds:
--   TIMESTAMP 'epoch' + ts * INTERVAL '1 millisecond' (valid on PostgreSQL
--   and Redshift; the classic ts/1000 * INTERVAL '1 second' drops them).
-- * songplay_id is deterministic: md5 of (ts, userid, sessionid,
--   iteminsession), unique in the data, so a rerun produces the same ids.
-- * The song is looked up on title + artist name + duration. LEFT JOIN: a
--   play without a match is still a fact, with NULL song_id and artist_id.
--   Songs sharing title, artist and duration count once (the smallest
--   song_id), so a play never turns into two facts.
-- LoadFact also keeps only rows of the interval; filtering here as well
-- keeps the work small when staging_events holds more than one day.
SELECT
  md5(
    CAST(e.ts AS VARCHAR) || '|' || COALESCE(e.userid, '') || '|' ||
    COALESCE(CAST(e.sessionid AS VARCHAR), '') || '|' || COALESCE(CAST(e.iteminsession AS VARCHAR), '')
  )                                                AS songplay_id,
  TIMESTAMP 'epoch' + e.ts * INTERVAL '1 millisecond' AS start_time,
  e.userid                                         AS user_id,
  e.level                                          AS level,
  s.song_id                                        AS song_id,
  s.artist_id                                      AS artist_id,
  e.sessionid                                      AS session_id,
  e.location                                       AS location,
  e.useragent                                      AS user_agent
FROM staging_events AS e
LEFT JOIN (
  SELECT song_id, artist_id, title, artist_name, duration
  FROM (
    SELECT song_id, artist_id, title, artist_name, duration,
           ROW_NUMBER() OVER (PARTITION BY title, artist_name, duration ORDER BY song_id) AS pick
    FROM staging_songs
    WHERE song_id IS NOT NULL
  ) AS ranked
  WHERE pick = 1
) AS s
  ON s.title = e.song
 AND s.artist_name = e.artist
 AND s.duration = e.length
WHERE e.page = 'NextSong'
  AND e.ts IS NOT NULL
  AND TIMESTAMP 'epoch' + e.ts * INTERVAL '1 millisecond' >= {{ data_interval_start | sql_literal }}
  AND TIMESTAMP 'epoch' + e.ts * INTERVAL '1 millisecond' <  {{ data_interval_end | sql_literal }}
ORDER BY start_time, songplay_id
