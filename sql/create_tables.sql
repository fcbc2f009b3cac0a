-- The Sparkify warehouse: two staging tables loaded from the lake, and the
-- star schema (fact songplays; dimensions users, songs, artists, time).
-- Rendered per dialect: Redshift gets distribution and sort keys (its
-- PRIMARY KEYs are informational), PostgreSQL gets enforced primary keys and
-- indexes. Text columns are generous: the logs hold long user agents and
-- double-encoded (mojibake) names, and Redshift counts varchar in bytes.

-- staging_events: one row per event line; columns in the order of
-- sql/log_json_path.json. userid stays text (it is a JSON string, "" for
-- logged-out users); ts is epoch milliseconds.
CREATE TABLE IF NOT EXISTS staging_events (
  artist        VARCHAR(1024),
  auth          VARCHAR(32),
  firstname     VARCHAR(256),
  gender        VARCHAR(16),
  iteminsession INTEGER,
  lastname      VARCHAR(256),
  length        DOUBLE PRECISION,
  level         VARCHAR(16),
  location      VARCHAR(1024),
  method        VARCHAR(16),
  page          VARCHAR(64),
  registration  DOUBLE PRECISION,
  sessionid     INTEGER,
  song          VARCHAR(1024),
  status        INTEGER,
  ts            BIGINT,
  useragent     VARCHAR(2048),
  userid        VARCHAR(64)
){% if dialect == 'redshift' %}
DISTSTYLE EVEN{% endif %};

-- staging_songs: one row per song file (Million Song Dataset subset).
CREATE TABLE IF NOT EXISTS staging_songs (
  num_songs        INTEGER,
  artist_id        VARCHAR(32),
  artist_latitude  DOUBLE PRECISION,
  artist_longitude DOUBLE PRECISION,
  artist_location  VARCHAR(1024),
  artist_name      VARCHAR(1024),
  song_id          VARCHAR(32),
  title            VARCHAR(1024),
  duration         DOUBLE PRECISION,
  year             INTEGER
){% if dialect == 'redshift' %}
DISTSTYLE EVEN{% endif %};

-- songplays: one row per NextSong event. songplay_id is md5 of
-- (ts, userid, sessionid, iteminsession), so reloading a day is stable.
CREATE TABLE IF NOT EXISTS songplays (
  songplay_id VARCHAR(32)   NOT NULL,
  start_time  TIMESTAMP     NOT NULL,
  user_id     VARCHAR(64)   NOT NULL,
  level       VARCHAR(16),
  song_id     VARCHAR(32),
  artist_id   VARCHAR(32),
  session_id  INTEGER,
  location    VARCHAR(1024),
  user_agent  VARCHAR(2048),
  PRIMARY KEY (songplay_id)
){% if dialect == 'redshift' %}
DISTSTYLE EVEN
SORTKEY (start_time){% endif %};

CREATE TABLE IF NOT EXISTS users (
  user_id    VARCHAR(64) NOT NULL,
  first_name VARCHAR(256),
  last_name  VARCHAR(256),
  gender     VARCHAR(16),
  level      VARCHAR(16),
  PRIMARY KEY (user_id)
){% if dialect == 'redshift' %}
DISTSTYLE ALL
SORTKEY (user_id){% endif %};

CREATE TABLE IF NOT EXISTS songs (
  song_id   VARCHAR(32) NOT NULL,
  title     VARCHAR(1024),
  artist_id VARCHAR(32),
  year      INTEGER,
  duration  DOUBLE PRECISION,
  PRIMARY KEY (song_id)
){% if dialect == 'redshift' %}
DISTSTYLE ALL
SORTKEY (song_id){% endif %};

CREATE TABLE IF NOT EXISTS artists (
  artist_id VARCHAR(32) NOT NULL,
  name      VARCHAR(1024),
  location  VARCHAR(1024),
  latitude  DOUBLE PRECISION,
  longitude DOUBLE PRECISION,
  PRIMARY KEY (artist_id)
){% if dialect == 'redshift' %}
DISTSTYLE ALL
SORTKEY (artist_id){% endif %};

CREATE TABLE IF NOT EXISTS time (
  start_time TIMESTAMP NOT NULL,
  hour       INTEGER,
  day        INTEGER,
  week       INTEGER,
  month      INTEGER,
  year       INTEGER,
  weekday    INTEGER,
  PRIMARY KEY (start_time)
){% if dialect == 'redshift' %}
DISTSTYLE ALL
SORTKEY (start_time){% endif %};
{% if dialect != 'redshift' %}
-- PostgreSQL only (Redshift has no indexes: its sort keys play that part).
CREATE INDEX IF NOT EXISTS songplays_start_time_idx ON songplays (start_time);
CREATE INDEX IF NOT EXISTS songplays_user_id_idx ON songplays (user_id);
CREATE INDEX IF NOT EXISTS songplays_song_id_idx ON songplays (song_id);
CREATE INDEX IF NOT EXISTS songplays_artist_id_idx ON songplays (artist_id);
{% endif %}
