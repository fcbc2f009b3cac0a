-- songs: one row per song_id of staging_songs (duplicates of a song_id, if
-- any, resolve to the first by title, artist_id, duration).
-- year 0 is the Million Song Dataset's "unknown year": it becomes NULL.
SELECT song_id, title, artist_id, year, duration
FROM (
  SELECT
    s.song_id,
    s.title,
    s.artist_id,
    NULLIF(s.year, 0) AS year,
    s.duration,
    ROW_NUMBER() OVER (PARTITION BY s.song_id ORDER BY s.title, s.artist_id, s.duration) AS pick
  FROM staging_songs AS s
  WHERE s.song_id IS NOT NULL
) AS ranked
WHERE pick = 1
ORDER BY song_id
