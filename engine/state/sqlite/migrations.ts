/**
 * Numbered schema migrations of the state DB. Append only: a migration that
 * has shipped is never edited; a change is a new entry with the next number.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const migrations: Migration[] = [
  {
    version: 1,
    name: 'runs, task instances, tries, logs, outputs',
    sql: `
      CREATE TABLE dag_runs (
        run_id              TEXT PRIMARY KEY,
        dag_id              TEXT NOT NULL,
        logical_date        TEXT NOT NULL,
        data_interval_start TEXT NOT NULL,
        data_interval_end   TEXT NOT NULL,
        run_type            TEXT NOT NULL CHECK (run_type IN ('manual', 'scheduled', 'backfill')),
        state               TEXT NOT NULL CHECK (state IN ('queued', 'running', 'success', 'failed')),
        conf                TEXT NOT NULL DEFAULT '{}',
        note                TEXT,
        created_at          TEXT NOT NULL,
        started_at          TEXT,
        ended_at            TEXT,
        host                TEXT,
        pid                 INTEGER,
        UNIQUE (dag_id, logical_date)
      );
      CREATE INDEX dag_runs_dag_state ON dag_runs (dag_id, state);

      CREATE TABLE task_instances (
        run_id       TEXT NOT NULL REFERENCES dag_runs (run_id) ON DELETE CASCADE,
        task_id      TEXT NOT NULL,
        operator     TEXT NOT NULL,
        state        TEXT,
        try_number   INTEGER NOT NULL DEFAULT 0,
        max_tries    INTEGER NOT NULL,
        next_try_at  TEXT,
        started_at   TEXT,
        ended_at     TEXT,
        PRIMARY KEY (run_id, task_id)
      );

      CREATE TABLE task_tries (
        try_id       INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id       TEXT NOT NULL REFERENCES dag_runs (run_id) ON DELETE CASCADE,
        task_id      TEXT NOT NULL,
        try_number   INTEGER NOT NULL,
        state        TEXT NOT NULL,
        started_at   TEXT NOT NULL,
        ended_at     TEXT,
        duration_ms  INTEGER,
        error        TEXT,
        stack        TEXT,
        host         TEXT NOT NULL,
        pid          INTEGER NOT NULL,
        UNIQUE (run_id, task_id, try_number)
      );
      CREATE INDEX task_tries_state ON task_tries (state);

      CREATE TABLE log_lines (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        try_id  INTEGER NOT NULL REFERENCES task_tries (try_id) ON DELETE CASCADE,
        ts      TEXT NOT NULL,
        level   TEXT NOT NULL,
        msg     TEXT NOT NULL,
        data    TEXT
      );
      CREATE INDEX log_lines_try ON log_lines (try_id, id);

      CREATE TABLE task_outputs (
        try_id  INTEGER PRIMARY KEY REFERENCES task_tries (try_id) ON DELETE CASCADE,
        outputs TEXT NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'rejected load lines (like stl_load_errors)',
    sql: `
      CREATE TABLE load_rejections (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        try_id     INTEGER NOT NULL REFERENCES task_tries (try_id) ON DELETE CASCADE,
        table_name TEXT NOT NULL,
        object     TEXT NOT NULL,
        line       INTEGER NOT NULL,
        column_name TEXT,
        value      TEXT,
        reason     TEXT NOT NULL
      );
      CREATE INDEX load_rejections_try ON load_rejections (try_id, id);
    `,
  },
  {
    version: 3,
    name: 'scheduler lock and paused DAGs',
    sql: `
      CREATE TABLE scheduler_lock (
        id           INTEGER PRIMARY KEY CHECK (id = 1),
        host         TEXT NOT NULL,
        pid          INTEGER NOT NULL,
        started_at   TEXT NOT NULL,
        heartbeat_at TEXT NOT NULL
      );
      CREATE TABLE dag_state (
        dag_id     TEXT PRIMARY KEY,
        paused     INTEGER NOT NULL DEFAULT 0,
        updated_at TEXT NOT NULL
      );
    `,
  },
  {
    version: 4,
    name: 'connection store',
    sql: `
      CREATE TABLE connections (
        name       TEXT PRIMARY KEY,
        url        TEXT NOT NULL,
        extra      TEXT NOT NULL DEFAULT '{}',
        updated_at TEXT NOT NULL,
        updated_by TEXT
      );
    `,
  },
  {
    version: 5,
    name: 'data quality history: check results and per-table row counts',
    // dag_id and logical_date are copied from the run so that "the last N runs
    // of a DAG" reads one index range (1,000 runs x 20 checks stay a few ms);
    // try_id cascades, so deleting a run deletes its history.
    sql: `
      CREATE TABLE check_results (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        try_id       INTEGER NOT NULL REFERENCES task_tries (try_id) ON DELETE CASCADE,
        run_id       TEXT NOT NULL,
        dag_id       TEXT NOT NULL,
        task_id      TEXT NOT NULL,
        logical_date TEXT NOT NULL,
        seq          INTEGER NOT NULL,
        name         TEXT NOT NULL,
        type         TEXT NOT NULL,
        table_name   TEXT,
        severity     TEXT NOT NULL CHECK (severity IN ('error', 'warn')),
        status       TEXT NOT NULL CHECK (status IN ('pass', 'warn', 'fail', 'error')),
        observed     TEXT NOT NULL,
        expected     TEXT NOT NULL,
        sample       TEXT,
        message      TEXT,
        duration_ms  REAL,
        recorded_at  TEXT NOT NULL
      );
      CREATE INDEX check_results_try ON check_results (try_id, seq);
      CREATE INDEX check_results_run_task ON check_results (run_id, task_id, try_id);
      CREATE INDEX check_results_dag_date ON check_results (dag_id, logical_date);
      CREATE INDEX check_results_dag_check ON check_results (dag_id, name, logical_date);

      CREATE TABLE table_counts (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        try_id       INTEGER NOT NULL REFERENCES task_tries (try_id) ON DELETE CASCADE,
        run_id       TEXT NOT NULL,
        dag_id       TEXT NOT NULL,
        task_id      TEXT NOT NULL,
        logical_date TEXT NOT NULL,
        table_name   TEXT NOT NULL,
        rows         INTEGER NOT NULL,
        recorded_at  TEXT NOT NULL
      );
      CREATE INDEX table_counts_try ON table_counts (try_id);
      CREATE INDEX table_counts_run_task ON table_counts (run_id, task_id, try_id);
      CREATE INDEX table_counts_dag_table ON table_counts (dag_id, table_name, logical_date);
    `,
  },
  {
    version: 6,
    name: 'leases on running tries (worker-lost recovery on any host)',
    sql: `
      ALTER TABLE task_tries ADD COLUMN lease_until TEXT;
      CREATE INDEX task_tries_lease ON task_tries (lease_until) WHERE state = 'running';
    `,
  },
  {
    version: 7,
    name: 'task queues and workers (sluice worker)',
    sql: `
      ALTER TABLE task_instances ADD COLUMN queue TEXT;
      ALTER TABLE task_instances ADD COLUMN queued_at TEXT;
      ALTER TABLE task_instances ADD COLUMN claimed_host TEXT;
      ALTER TABLE task_instances ADD COLUMN claimed_pid INTEGER;
      ALTER TABLE task_instances ADD COLUMN claimed_at TEXT;
      CREATE INDEX task_instances_queued ON task_instances (queue, queued_at) WHERE state = 'queued';

      CREATE TABLE workers (
        host         TEXT NOT NULL,
        pid          INTEGER NOT NULL,
        queues       TEXT NOT NULL,
        concurrency  INTEGER NOT NULL,
        running      INTEGER NOT NULL,
        started_at   TEXT NOT NULL,
        heartbeat_at TEXT NOT NULL,
        PRIMARY KEY (host, pid)
      );
    `,
  },
  {
    version: 8,
    name: 'leases on executing runs (a scheduler lost on another host)',
    sql: `
      ALTER TABLE dag_runs ADD COLUMN lease_until TEXT;
      CREATE INDEX dag_runs_lease ON dag_runs (lease_until) WHERE state = 'running';
    `,
  },
  {
    version: 9,
    name: 'pools: named slot limits, and the slots each task instance holds',
    sql: `
      CREATE TABLE pools (
        name        TEXT PRIMARY KEY,
        slots       INTEGER NOT NULL CHECK (slots >= 0),
        description TEXT,
        updated_at  TEXT NOT NULL
      );
      ALTER TABLE task_instances ADD COLUMN pool TEXT;
      ALTER TABLE task_instances ADD COLUMN pool_slots INTEGER;
      ALTER TABLE task_instances ADD COLUMN pool_try INTEGER;
      CREATE INDEX task_instances_pool ON task_instances (pool) WHERE pool IS NOT NULL;
    `,
  },
];
