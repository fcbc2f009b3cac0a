/**
 * Numbered schema migrations of the PostgreSQL state store, in their own
 * schema (`sluice` by default) so the state can share a database. Append
 * only, as SQLite's: a shipped migration is never edited. Times are
 * timestamptz; JSON is `json` (kept as written: key order and every digit).
 */
import type { Migration } from '../sqlite/migrations.js';

export type { Migration };

export const migrations: Migration[] = [
  {
    version: 1,
    name: 'runs, task instances, tries, logs, outputs, rejected lines, scheduler, connections',
    sql: `
      CREATE TABLE dag_runs (
        run_id              text PRIMARY KEY,
        dag_id              text NOT NULL,
        logical_date        timestamptz NOT NULL,
        data_interval_start timestamptz NOT NULL,
        data_interval_end   timestamptz NOT NULL,
        run_type            text NOT NULL CHECK (run_type IN ('manual', 'scheduled', 'backfill')),
        state               text NOT NULL CHECK (state IN ('queued', 'running', 'success', 'failed')),
        conf                json NOT NULL DEFAULT '{}',
        note                text,
        created_at          timestamptz NOT NULL,
        started_at          timestamptz,
        ended_at            timestamptz,
        host                text,
        pid                 integer,
        UNIQUE (dag_id, logical_date)
      );
      CREATE INDEX dag_runs_dag_state ON dag_runs (dag_id, state);
      CREATE INDEX dag_runs_state ON dag_runs (state, logical_date);

      CREATE TABLE task_instances (
        seq          integer GENERATED ALWAYS AS IDENTITY,
        run_id       text NOT NULL REFERENCES dag_runs (run_id) ON DELETE CASCADE,
        task_id      text NOT NULL,
        operator     text NOT NULL,
        state        text,
        try_number   integer NOT NULL DEFAULT 0,
        max_tries    integer NOT NULL,
        next_try_at  timestamptz,
        started_at   timestamptz,
        ended_at     timestamptz,
        PRIMARY KEY (run_id, task_id)
      );

      CREATE TABLE task_tries (
        try_id       integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        run_id       text NOT NULL REFERENCES dag_runs (run_id) ON DELETE CASCADE,
        task_id      text NOT NULL,
        try_number   integer NOT NULL,
        state        text NOT NULL,
        started_at   timestamptz NOT NULL,
        ended_at     timestamptz,
        duration_ms  integer,
        error        text,
        stack        text,
        host         text NOT NULL,
        pid          integer NOT NULL,
        UNIQUE (run_id, task_id, try_number)
      );
      CREATE INDEX task_tries_running ON task_tries (host) WHERE state = 'running';

      CREATE TABLE log_lines (
        id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        try_id  integer NOT NULL REFERENCES task_tries (try_id) ON DELETE CASCADE,
        ts      timestamptz NOT NULL,
        level   text NOT NULL,
        msg     text NOT NULL,
        data    json
      );
      CREATE INDEX log_lines_try ON log_lines (try_id, id);

      CREATE TABLE task_outputs (
        try_id  integer PRIMARY KEY REFERENCES task_tries (try_id) ON DELETE CASCADE,
        outputs json NOT NULL
      );

      CREATE TABLE load_rejections (
        id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        try_id      integer NOT NULL REFERENCES task_tries (try_id) ON DELETE CASCADE,
        table_name  text NOT NULL,
        object      text NOT NULL,
        line        integer NOT NULL,
        column_name text,
        value       text,
        reason      text NOT NULL
      );
      CREATE INDEX load_rejections_try ON load_rejections (try_id, id);

      CREATE TABLE scheduler_lock (
        id           integer PRIMARY KEY CHECK (id = 1),
        host         text NOT NULL,
        pid          integer NOT NULL,
        started_at   timestamptz NOT NULL,
        heartbeat_at timestamptz NOT NULL
      );
      CREATE TABLE dag_state (
        dag_id     text PRIMARY KEY,
        paused     boolean NOT NULL DEFAULT false,
        updated_at timestamptz NOT NULL
      );

      CREATE TABLE connections (
        name       text PRIMARY KEY,
        url        text NOT NULL,
        extra      json NOT NULL DEFAULT '{}',
        updated_at timestamptz NOT NULL,
        updated_by text
      );
    `,
  },
  {
    version: 2,
    name: 'data quality history: check results and per-table row counts',
    sql: `
      CREATE TABLE check_results (
        id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        try_id       integer NOT NULL REFERENCES task_tries (try_id) ON DELETE CASCADE,
        run_id       text NOT NULL,
        dag_id       text NOT NULL,
        task_id      text NOT NULL,
        logical_date timestamptz NOT NULL,
        seq          integer NOT NULL,
        name         text NOT NULL,
        type         text NOT NULL,
        table_name   text,
        severity     text NOT NULL CHECK (severity IN ('error', 'warn')),
        status       text NOT NULL CHECK (status IN ('pass', 'warn', 'fail', 'error')),
        observed     json NOT NULL,
        expected     json NOT NULL,
        sample       json,
        message      text,
        duration_ms  double precision,
        recorded_at  timestamptz NOT NULL
      );
      CREATE INDEX check_results_try ON check_results (try_id, seq);
      CREATE INDEX check_results_run_task ON check_results (run_id, task_id, try_id);
      CREATE INDEX check_results_dag_date ON check_results (dag_id, logical_date);
      CREATE INDEX check_results_dag_check ON check_results (dag_id, name, logical_date);

      CREATE TABLE table_counts (
        id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        try_id       integer NOT NULL REFERENCES task_tries (try_id) ON DELETE CASCADE,
        run_id       text NOT NULL,
        dag_id       text NOT NULL,
        task_id      text NOT NULL,
        logical_date timestamptz NOT NULL,
        table_name   text NOT NULL,
        rows         bigint NOT NULL,
        recorded_at  timestamptz NOT NULL
      );
      CREATE INDEX table_counts_try ON table_counts (try_id);
      CREATE INDEX table_counts_run_task ON table_counts (run_id, task_id, try_id);
      CREATE INDEX table_counts_dag_table ON table_counts (dag_id, table_name, logical_date);
    `,
  },
  {
    version: 3,
    name: 'leases on running tries (worker-lost recovery on any host)',
    sql: `
      ALTER TABLE task_tries ADD COLUMN lease_until timestamptz;
      CREATE INDEX task_tries_lease ON task_tries (lease_until) WHERE state = 'running';
    `,
  },
  {
    version: 4,
    name: 'task queues and workers (sluice worker)',
    sql: `
      ALTER TABLE task_instances ADD COLUMN queue text;
      ALTER TABLE task_instances ADD COLUMN queued_at timestamptz;
      ALTER TABLE task_instances ADD COLUMN claimed_host text;
      ALTER TABLE task_instances ADD COLUMN claimed_pid integer;
      ALTER TABLE task_instances ADD COLUMN claimed_at timestamptz;
      CREATE INDEX task_instances_queued ON task_instances (queue, queued_at) WHERE state = 'queued';

      CREATE TABLE workers (
        host         text NOT NULL,
        pid          integer NOT NULL,
        queues       json NOT NULL,
        concurrency  integer NOT NULL,
        running      integer NOT NULL,
        started_at   timestamptz NOT NULL,
        heartbeat_at timestamptz NOT NULL,
        PRIMARY KEY (host, pid)
      );
    `,
  },
  {
    version: 5,
    name: 'active/active schedulers: a row per scheduler, leases on executing runs',
    sql: `
      CREATE TABLE schedulers (
        host         text NOT NULL,
        pid          integer NOT NULL,
        started_at   timestamptz NOT NULL,
        heartbeat_at timestamptz NOT NULL,
        PRIMARY KEY (host, pid)
      );
      DROP TABLE scheduler_lock;
      ALTER TABLE dag_runs ADD COLUMN lease_until timestamptz;
      CREATE INDEX dag_runs_lease ON dag_runs (lease_until) WHERE state = 'running';
    `,
  },
  {
    version: 6,
    name: 'pools: named slot limits, and the slots each task instance holds',
    sql: `
      CREATE TABLE pools (
        name        text PRIMARY KEY,
        slots       integer NOT NULL CHECK (slots >= 0),
        description text,
        updated_at  timestamptz NOT NULL
      );
      ALTER TABLE task_instances ADD COLUMN pool text;
      ALTER TABLE task_instances ADD COLUMN pool_slots integer;
      ALTER TABLE task_instances ADD COLUMN pool_try integer;
      CREATE INDEX task_instances_pool ON task_instances (pool) WHERE pool IS NOT NULL;
    `,
  },
];
