-- time: one row per distinct start_time of the songplays of the run's data
-- interval, broken into parts. weekday: 0 = Sunday ... 6 = Saturday; week:
-- ISO week number. EXTRACT returns numeric on PostgreSQL: cast to INTEGER.
SELECT
  start_time,
  CAST(EXTRACT(HOUR  FROM start_time) AS INTEGER) AS hour,
  CAST(EXTRACT(DAY   FROM start_time) AS INTEGER) AS day,
  CAST(EXTRACT(WEEK  FROM start_time) AS INTEGER) AS week,
  CAST(EXTRACT(MONTH FROM start_time) AS INTEGER) AS month,
  CAST(EXTRACT(YEAR  FROM start_time) AS INTEGER) AS year,
  CAST(EXTRACT(DOW   FROM start_time) AS INTEGER) AS weekday
FROM (
  SELECT DISTINCT start_time
  FROM songplays
  WHERE start_time >= {{ data_interval_start | sql_literal }}
    AND start_time <  {{ data_interval_end | sql_literal }}
) AS plays
ORDER BY start_time
