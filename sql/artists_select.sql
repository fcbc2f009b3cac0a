-- artists: one row per artist_id of staging_songs. An artist with several
-- songs (the sample has two: Casual and Clp) takes the most complete row:
-- one with coordinates first, then one with a location, then the smallest
-- song_id, so the choice is deterministic. An empty location becomes NULL.
SELECT artist_id, name, location, latitude, longitude
FROM (
  SELECT
    s.artist_id,
    s.artist_name                  AS name,
    NULLIF(s.artist_location, '')  AS location,
    s.artist_latitude              AS latitude,
    s.artist_longitude             AS longitude,
    ROW_NUMBER() OVER (
      PARTITION BY s.artist_id
      ORDER BY
        CASE WHEN s.artist_latitude IS NULL OR s.artist_longitude IS NULL THEN 1 ELSE 0 END,
        CASE WHEN s.artist_location IS NULL OR s.artist_location = '' THEN 1 ELSE 0 END,
        s.song_id
    ) AS pick
  FROM staging_songs AS s
  WHERE s.artist_id IS NOT NULL
) AS ranked
WHERE pick = 1
ORDER BY artist_id
