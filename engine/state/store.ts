/**
 * The SQLite state store: dag runs, task instances, every try, log lines and
 * task outputs. One named method per database operation, SQL beside it.
 *
 * Every try is written before it starts and again when it ends, so a crash
 * loses at most the outcome of the tries in flight; `recoverOrphans` finds
 * those on the next start.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Rejection, RunState, RunType, TaskState } from '../interfaces.js';
import { StateDbError } from '../errors.js';
import { migrations as builtinMigrations, type Migration } from './migrations.js';
import { checkStateFile, createAtomically, openReadOnly, quickCheck, stateDbError } from './open.js';

export interface DagRunRow {
  run_id: string;
  dag_id: string;
  logical_date: string;
  data_interval_start: string;
  data_interval_end: string;
  run_type: RunType;
  state: RunState;
  conf: string;
  note: string | null;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
  host: string | null;
  pid: number | null;
}

export interface TaskInstanceRow {
  run_id: string;
  task_id: string;
  operator: string;
  state: TaskState | null;
  try_number: number;
  max_tries: number;
  next_try_at: string | null;
  started_at: string | null;
  ended_at: string | null;
}

export interface TryRow {
  try_id: number;
  run_id: string;
  task_id: string;
  try_number: number;
  state: TaskState;
  started_at: string;
  ended_at: string | null;
  duration_ms: number | null;
  error: string | null;
  stack: string | null;
  host: string;
  pid: number;
}

export interface LogLineRow {
  id: number;
  try_id: number;
  ts: string;
  level: string;
  msg: string;
  data: string | null;
}

export interface NewRun {
  dagId: string;
  logicalDate: Date;
  dataIntervalStart: Date;
  dataIntervalEnd: Date;
  runType: RunType;
  conf: Record<string, unknown>;
  tasks: { taskId: string; operator: string; maxTries: number }[];
  now: Date;
  /** Create it already claimed (running, owned by this process), so no scheduler picks it up. */
  claim?: boolean;
}

export interface SchedulerLock {
  host: string;
  pid: number;
  started_at: string;
  heartbeat_at: string;
}

export interface ConnectionRow {
  name: string;
  url: string;
  extra: Record<string, unknown>;
  updated_at: string;
  updated_by: string | null;
}

/** A try found `running` whose process is gone. */
export interface Orphan {
  run_id: string;
  task_id: string;
  try_number: number;
  pid: number;
  host: string;
  newState: TaskState;
}

export const HOST = os.hostname();

/**
 * Switches a new DB to WAL. The switch needs an exclusive lock and SQLite
 * answers SQLITE_BUSY at once, without the busy timeout, when another
 * process opens the same new file at that moment: retry for up to 5 s.
 */
function enableWal(db: Database.Database): void {
  const until = Date.now() + 5000;
  for (;;) {
    try {
      if (db.pragma('journal_mode', { simple: true }) === 'wal') return;
      db.pragma('journal_mode = WAL');
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() > until) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}

function newerMessage(file: string, current: number, known: number): string {
  return `${file} has schema version ${current}, newer than this Sluice knows (${known}); upgrade Sluice`;
}

/** `songplays__manual__2018-11-21T00:00:00Z`: globally unique, readable, sortable per dag. */
export function makeRunId(dagId: string, runType: RunType, logicalDate: Date): string {
  return `${dagId}__${runType}__${logicalDate.toISOString().replace('.000Z', 'Z')}`;
}

/** True when a process with this pid exists on this host. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface StateStoreOptions {
  migrations?: Migration[];
  /**
   * Open for reading only (`runs list`, `logs`, ...): no migrations, no
   * writes, works on a read-only home. A missing file reads as an empty
   * history (nothing is created); a DB that needs migrating is refused with
   * the command that migrates it.
   */
  readonly?: boolean;
}

export class StateStore {
  readonly db: Database.Database;
  readonly readonly: boolean;
  private cleanup: () => void = () => undefined;

  /**
   * Opens (creating when needed) the state DB, checks it (SQLite quick_check
   * when cheap) and applies pending migrations after a backup of it
   * (`state.db.bak-v<version>`). An empty or damaged file is refused with a
   * StateDbError naming it and the fix, never replaced.
   */
  constructor(
    readonly file: string,
    options: Migration[] | StateStoreOptions = builtinMigrations,
  ) {
    const opts = Array.isArray(options) ? { migrations: options } : options;
    const migrations = opts.migrations ?? builtinMigrations;
    this.readonly = Boolean(opts.readonly);
    try {
      this.db = this.readonly ? this.openForReading(migrations) : this.openForWriting(migrations);
    } catch (err) {
      throw stateDbError(file, err) ?? err;
    }
  }

  private openForWriting(migrations: Migration[]): Database.Database {
    const file = this.file;
    if (file !== ':memory:') {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      checkStateFile(file);
      if (!fs.existsSync(file)) {
        createAtomically(file, (db) => {
          this.setUp(db);
          this.migrateDb(db, migrations, false);
        });
      }
    }
    const db = new Database(file); // made above; in place where the file system has no hard links
    try {
      this.setUp(db);
      quickCheck(db, file);
      this.migrateDb(db, migrations, file !== ':memory:');
      return db;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  private openForReading(migrations: Migration[]): Database.Database {
    const file = this.file;
    if (file === ':memory:' || !fs.existsSync(file)) {
      // nothing recorded yet: an empty history, and nothing created
      const db = new Database(':memory:');
      this.migrateDb(db, migrations, false);
      return db;
    }
    checkStateFile(file);
    const { db, cleanup } = openReadOnly(file);
    this.cleanup = cleanup;
    try {
      db.pragma('busy_timeout = 5000');
      quickCheck(db, file);
      const known = Math.max(0, ...migrations.map((m) => m.version));
      const current = this.versionOf(db);
      if (current > known) throw new StateDbError(newerMessage(file, current, known), file);
      if (current < known) {
        throw new StateDbError(
          `the state DB ${file} has schema version ${current}; this Sluice uses ${known}. This command only reads, so it does not ` +
            'upgrade it: run any command that writes (e.g. sluice scheduler --once, or run-dag) to migrate it; ' +
            `a backup is kept as ${path.basename(file)}.bak-v${current}`,
          file,
        );
      }
      return db;
    } catch (err) {
      db.close();
      cleanup();
      throw err;
    }
  }

  /** Connection settings every state DB connection uses. */
  private setUp(db: Database.Database): void {
    // Wait for other processes' locks (first use, migrations) instead of failing.
    db.pragma('busy_timeout = 5000');
    enableWal(db);
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
  }

  close(): void {
    this.db.close();
    this.cleanup();
  }

  // -- migrations -----------------------------------------------------------

  /**
   * Applies every migration above the DB's version, all in one IMMEDIATE
   * transaction: two processes opening a new state DB at once apply them
   * once (the second waits, then finds them applied), and a failing
   * migration leaves the DB at the version it had.
   */
  migrate(list: Migration[]): number[] {
    return this.migrateDb(this.db, list, false);
  }

  /**
   * migrate() on a given connection. With `backup`, a DB that has history and
   * pending migrations is first copied whole (VACUUM INTO) to
   * `state.db.bak-v<its version>`, so an upgrade can be undone by hand.
   */
  private migrateDb(db: Database.Database, list: Migration[], backup: boolean): number[] {
    const known = Math.max(0, ...list.map((m) => m.version));
    const before = this.versionOf(db);
    let pending: string | null = null;
    if (backup && before > 0 && before < known) {
      pending = `${this.file}.bak-v${before}.tmp-${process.pid}`;
      fs.rmSync(pending, { force: true });
      db.prepare('VACUUM INTO ?').run(pending);
    }
    try {
      const apply = db.transaction((): number[] => {
        db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
          version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
        const current = this.versionOf(db);
        if (current > known) throw new StateDbError(newerMessage(this.file, current, known), this.file);
        if (pending && current === before && current < known) {
          const name = `${this.file}.bak-v${current}`;
          fs.renameSync(pending, fs.existsSync(name) ? `${name}-${new Date().toISOString().replace(/[-:.]/g, '')}` : name);
          pending = null;
        }
        const applied: number[] = [];
        for (const m of [...list].sort((a, b) => a.version - b.version)) {
          if (m.version <= current) continue;
          db.exec(m.sql);
          db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
            m.version,
            m.name,
            new Date().toISOString(),
          );
          applied.push(m.version);
        }
        return applied;
      });
      return apply.immediate();
    } finally {
      if (pending) fs.rmSync(pending, { force: true }); // another process upgraded it first (and kept the backup)
    }
  }

  /** The schema version of a connection's DB; 0 for a new one. */
  private versionOf(db: Database.Database): number {
    if (!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get()) return 0;
    const row = db.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: number | null };
    return row.v ?? 0;
  }

  schemaVersion(): number {
    return this.versionOf(this.db);
  }

  // -- runs -----------------------------------------------------------------

  /**
   * Creates a run and its task instances, or returns null when the dag already
   * has a run for that logical date (unique per dag and logical date).
   */
  createRun(r: NewRun): DagRunRow | null {
    const runId = makeRunId(r.dagId, r.runType, r.logicalDate);
    const insertRun = this.db.prepare(
      `INSERT INTO dag_runs (run_id, dag_id, logical_date, data_interval_start, data_interval_end,
         run_type, state, conf, created_at)
       VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?)
       ON CONFLICT DO NOTHING`,
    );
    const insertTi = this.db.prepare(
      `INSERT INTO task_instances (run_id, task_id, operator, state, max_tries) VALUES (?, ?, ?, NULL, ?)`,
    );
    return this.db.transaction(() => {
      const res = insertRun.run(
        runId,
        r.dagId,
        r.logicalDate.toISOString(),
        r.dataIntervalStart.toISOString(),
        r.dataIntervalEnd.toISOString(),
        r.runType,
        JSON.stringify(r.conf),
        r.now.toISOString(),
      );
      if (res.changes === 0) return null;
      for (const t of r.tasks) insertTi.run(runId, t.taskId, t.operator, t.maxTries);
      if (r.claim) this.claimRun(runId, r.now);
      return this.getRun(runId)!;
    })();
  }

  getRun(runId: string): DagRunRow | undefined {
    return this.db.prepare('SELECT * FROM dag_runs WHERE run_id = ?').get(runId) as DagRunRow | undefined;
  }

  getRunByDate(dagId: string, logicalDate: Date): DagRunRow | undefined {
    return this.db
      .prepare('SELECT * FROM dag_runs WHERE dag_id = ? AND logical_date = ?')
      .get(dagId, logicalDate.toISOString()) as DagRunRow | undefined;
  }

  listRuns(filter: { dagId?: string; state?: string; limit?: number } = {}): DagRunRow[] {
    return this.db
      .prepare(
        `SELECT * FROM dag_runs
         WHERE (@dagId IS NULL OR dag_id = @dagId) AND (@state IS NULL OR state = @state)
         ORDER BY logical_date DESC, created_at DESC LIMIT @limit`,
      )
      .all({ dagId: filter.dagId ?? null, state: filter.state ?? null, limit: filter.limit ?? 100 }) as DagRunRow[];
  }

  /**
   * Takes a queued run for this process (state running, our pid). False when
   * another process took it first: two executors never run the same run.
   */
  claimRun(runId: string, now: Date): boolean {
    const res = this.db
      .prepare(
        `UPDATE dag_runs SET state = 'running', started_at = coalesce(started_at, ?), ended_at = NULL, host = ?, pid = ?
         WHERE run_id = ? AND state = 'queued'`,
      )
      .run(now.toISOString(), HOST, process.pid, runId);
    return res.changes === 1;
  }

  /** The latest run of a DAG by logical date (of one run type, or any). */
  latestRun(dagId: string, runType?: RunType): DagRunRow | undefined {
    return this.db
      .prepare(`SELECT * FROM dag_runs WHERE dag_id = ? AND (? IS NULL OR run_type = ?) ORDER BY logical_date DESC LIMIT 1`)
      .get(dagId, runType ?? null, runType ?? null) as DagRunRow | undefined;
  }

  /** Queued runs, oldest logical date first. */
  queuedRuns(): DagRunRow[] {
    return this.db
      .prepare(`SELECT * FROM dag_runs WHERE state = 'queued' ORDER BY logical_date, created_at`)
      .all() as DagRunRow[];
  }

  /**
   * Marks a run success or failed by hand (Airflow's "mark success/failed"):
   * success marks every task not yet successful or skipped as success; failed
   * marks every unfinished task failed.
   */
  markRun(runId: string, state: 'success' | 'failed', now: Date): void {
    this.db.transaction(() => {
      if (state === 'success') {
        this.db
          .prepare(
            `UPDATE task_instances SET state = 'success', next_try_at = NULL, ended_at = coalesce(ended_at, ?)
             WHERE run_id = ? AND (state IS NULL OR state NOT IN ('success', 'skipped'))`,
          )
          .run(now.toISOString(), runId);
      } else {
        this.db
          .prepare(
            `UPDATE task_instances SET state = 'failed', next_try_at = NULL, ended_at = coalesce(ended_at, ?)
             WHERE run_id = ? AND (state IS NULL OR state NOT IN ('success', 'skipped', 'failed', 'upstream_failed'))`,
          )
          .run(now.toISOString(), runId);
      }
      this.finishRun(runId, state, now, `marked ${state} by hand`);
    })();
  }

  // -- paused DAGs and the scheduler lock ------------------------------------

  setPaused(dagId: string, paused: boolean): void {
    this.db
      .prepare(
        `INSERT INTO dag_state (dag_id, paused, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (dag_id) DO UPDATE SET paused = excluded.paused, updated_at = excluded.updated_at`,
      )
      .run(dagId, paused ? 1 : 0, new Date().toISOString());
  }

  pausedDags(): Set<string> {
    const rows = this.db.prepare('SELECT dag_id FROM dag_state WHERE paused = 1').all() as { dag_id: string }[];
    return new Set(rows.map((r) => r.dag_id));
  }

  /**
   * Takes the one-scheduler-per-state-DB lock. A lock whose process is gone
   * (same host) or whose heartbeat is older than `staleMs` (another host) is
   * taken over. Returns the current holder when it is alive.
   */
  acquireSchedulerLock(now: Date, staleMs = 60_000, alive: (pid: number) => boolean = processAlive): SchedulerLock | null {
    return this.db
      .transaction(() => {
        const held = this.db.prepare('SELECT * FROM scheduler_lock WHERE id = 1').get() as SchedulerLock | undefined;
        if (held && !(held.host === HOST && held.pid === process.pid)) {
          const live = held.host === HOST ? alive(held.pid) : now.getTime() - Date.parse(held.heartbeat_at) < staleMs;
          if (live) return held;
        }
        this.db
          .prepare(`INSERT OR REPLACE INTO scheduler_lock (id, host, pid, started_at, heartbeat_at) VALUES (1, ?, ?, ?, ?)`)
          .run(HOST, process.pid, now.toISOString(), now.toISOString());
        return null;
      })
      .immediate();
  }

  heartbeatSchedulerLock(now: Date): void {
    this.db
      .prepare('UPDATE scheduler_lock SET heartbeat_at = ? WHERE id = 1 AND host = ? AND pid = ?')
      .run(now.toISOString(), HOST, process.pid);
  }

  releaseSchedulerLock(): void {
    this.db.prepare('DELETE FROM scheduler_lock WHERE id = 1 AND host = ? AND pid = ?').run(HOST, process.pid);
  }

  /** The run is now being executed by this process. */
  startRun(runId: string, now: Date): void {
    this.db
      .prepare(
        `UPDATE dag_runs SET state = 'running', started_at = coalesce(started_at, ?), ended_at = NULL, host = ?, pid = ?
         WHERE run_id = ?`,
      )
      .run(now.toISOString(), HOST, process.pid, runId);
  }

  finishRun(runId: string, state: RunState, now: Date, note: string | null = null): void {
    this.db
      .prepare(`UPDATE dag_runs SET state = ?, ended_at = ?, note = ?, pid = NULL WHERE run_id = ?`)
      .run(state, now.toISOString(), note, runId);
  }

  /** Puts a run back in the queue, for this or another process to resume. */
  requeueRun(runId: string, note: string | null): void {
    this.db.prepare(`UPDATE dag_runs SET state = 'queued', note = ?, pid = NULL, host = NULL WHERE run_id = ?`).run(note, runId);
  }

  setRunConf(runId: string, conf: Record<string, unknown>): void {
    this.db.prepare('UPDATE dag_runs SET conf = ? WHERE run_id = ?').run(JSON.stringify(conf), runId);
  }

  /**
   * Clears task instances so they run again: all of them, or only those not
   * finished successfully (`failedOnly`). Tries and logs are kept; try
   * numbers continue from the last one and each cleared task gets its full
   * tries again (`triesFor`: retries + 1), as in Airflow.
   */
  clearTasks(
    runId: string,
    triesFor: (taskId: string) => number,
    opts: { failedOnly?: boolean; taskIds?: string[]; claim?: boolean } = {},
  ): string[] {
    const tis = this.listTaskInstances(runId).filter((ti) => {
      if (opts.taskIds && !opts.taskIds.includes(ti.task_id)) return false;
      if (opts.failedOnly) return ti.state !== 'success' && ti.state !== 'skipped';
      return true;
    });
    const clear = this.db.prepare(
      `UPDATE task_instances SET state = NULL, next_try_at = NULL, started_at = NULL, ended_at = NULL,
         max_tries = try_number + ?
       WHERE run_id = ? AND task_id = ?`,
    );
    this.db.transaction(() => {
      for (const ti of tis) clear.run(triesFor(ti.task_id), runId, ti.task_id);
      this.db.prepare(`UPDATE dag_runs SET state = 'queued', ended_at = NULL, note = NULL WHERE run_id = ?`).run(runId);
      if (opts.claim) this.claimRun(runId, new Date());
    })();
    return tis.map((ti) => ti.task_id);
  }

  /** Adds task instances for tasks added to the DAG since the run was created. */
  ensureTaskInstances(runId: string, tasks: { taskId: string; operator: string; maxTries: number }[]): number {
    const insert = this.db.prepare(
      `INSERT INTO task_instances (run_id, task_id, operator, state, max_tries) VALUES (?, ?, ?, NULL, ?)
       ON CONFLICT DO NOTHING`,
    );
    let added = 0;
    this.db.transaction(() => {
      for (const t of tasks) added += insert.run(runId, t.taskId, t.operator, t.maxTries).changes;
    })();
    return added;
  }

  // -- task instances -------------------------------------------------------

  listTaskInstances(runId: string): TaskInstanceRow[] {
    return this.db.prepare('SELECT * FROM task_instances WHERE run_id = ? ORDER BY rowid').all(runId) as TaskInstanceRow[];
  }

  getTaskInstance(runId: string, taskId: string): TaskInstanceRow | undefined {
    return this.db.prepare('SELECT * FROM task_instances WHERE run_id = ? AND task_id = ?').get(runId, taskId) as
      TaskInstanceRow | undefined;
  }

  /** Sets a task instance's state (no try involved: scheduled, queued, skipped, upstream_failed). */
  setTaskState(runId: string, taskId: string, state: TaskState | null, now: Date): void {
    const finished = state === 'skipped' || state === 'upstream_failed';
    this.db
      .prepare(
        `UPDATE task_instances SET state = ?, ended_at = CASE WHEN ? THEN ? ELSE ended_at END WHERE run_id = ? AND task_id = ?`,
      )
      .run(state, finished ? 1 : 0, now.toISOString(), runId, taskId);
  }

  // -- tries ----------------------------------------------------------------

  /** Records a try as running before its operator starts; returns the try row. */
  startTry(runId: string, taskId: string, now: Date): TryRow {
    return this.db.transaction(() => {
      this.db
        .prepare(
          `UPDATE task_instances SET state = 'running', try_number = try_number + 1, next_try_at = NULL,
             started_at = coalesce(started_at, ?), ended_at = NULL
           WHERE run_id = ? AND task_id = ?`,
        )
        .run(now.toISOString(), runId, taskId);
      const ti = this.getTaskInstance(runId, taskId)!;
      const res = this.db
        .prepare(
          `INSERT INTO task_tries (run_id, task_id, try_number, state, started_at, host, pid)
           VALUES (?, ?, ?, 'running', ?, ?, ?)`,
        )
        .run(runId, taskId, ti.try_number, now.toISOString(), HOST, process.pid);
      return this.db.prepare('SELECT * FROM task_tries WHERE try_id = ?').get(res.lastInsertRowid) as TryRow;
    })();
  }

  /**
   * Records the end of a try and the task instance's next state:
   * success, failed, or up_for_retry with the time of the next try.
   */
  endTry(
    tryRow: TryRow,
    end: {
      state: 'success' | 'failed';
      taskState: 'success' | 'failed' | 'up_for_retry';
      now: Date;
      error?: string | null;
      stack?: string | null;
      nextTryAt?: Date | null;
      outputs?: Record<string, unknown> | null;
    },
  ): void {
    const startedMs = Date.parse(tryRow.started_at);
    this.db.transaction(() => {
      this.db
        .prepare(`UPDATE task_tries SET state = ?, ended_at = ?, duration_ms = ?, error = ?, stack = ? WHERE try_id = ?`)
        .run(
          end.state,
          end.now.toISOString(),
          Math.max(0, end.now.getTime() - startedMs),
          end.error ?? null,
          end.stack ?? null,
          tryRow.try_id,
        );
      this.db
        .prepare(
          `UPDATE task_instances SET state = ?, next_try_at = ?, ended_at = CASE WHEN ? = 'up_for_retry' THEN NULL ELSE ? END
           WHERE run_id = ? AND task_id = ?`,
        )
        .run(
          end.taskState,
          end.nextTryAt ? end.nextTryAt.toISOString() : null,
          end.taskState,
          end.now.toISOString(),
          tryRow.run_id,
          tryRow.task_id,
        );
      if (end.outputs && Object.keys(end.outputs).length > 0) {
        this.db
          .prepare('INSERT OR REPLACE INTO task_outputs (try_id, outputs) VALUES (?, ?)')
          .run(tryRow.try_id, JSON.stringify(end.outputs));
      }
    })();
  }

  listTries(runId: string, taskId?: string): TryRow[] {
    return this.db
      .prepare(`SELECT * FROM task_tries WHERE run_id = ? AND (? IS NULL OR task_id = ?) ORDER BY try_id`)
      .all(runId, taskId ?? null, taskId ?? null) as TryRow[];
  }

  getTry(runId: string, taskId: string, tryNumber: number): TryRow | undefined {
    return this.db
      .prepare('SELECT * FROM task_tries WHERE run_id = ? AND task_id = ? AND try_number = ?')
      .get(runId, taskId, tryNumber) as TryRow | undefined;
  }

  getOutputs(tryId: number): Record<string, unknown> | null {
    const row = this.db.prepare('SELECT outputs FROM task_outputs WHERE try_id = ?').get(tryId) as
      { outputs: string } | undefined;
    return row ? (JSON.parse(row.outputs) as Record<string, unknown>) : null;
  }

  /** The outputs of each task's latest try that recorded any, for a run. */
  latestOutputs(runId: string): Map<string, { tryNumber: number; outputs: Record<string, unknown> }> {
    const rows = this.db
      .prepare(
        `SELECT t.task_id, t.try_number, o.outputs FROM task_tries t JOIN task_outputs o ON o.try_id = t.try_id
         WHERE t.run_id = ? ORDER BY t.try_id`,
      )
      .all(runId) as { task_id: string; try_number: number; outputs: string }[];
    const out = new Map<string, { tryNumber: number; outputs: Record<string, unknown> }>();
    for (const r of rows) out.set(r.task_id, { tryNumber: r.try_number, outputs: JSON.parse(r.outputs) });
    return out;
  }

  // -- logs -----------------------------------------------------------------

  appendLog(tryId: number, line: { ts: string; level: string; msg: string; data: string | null }): void {
    this.db
      .prepare('INSERT INTO log_lines (try_id, ts, level, msg, data) VALUES (?, ?, ?, ?, ?)')
      .run(tryId, line.ts, line.level, line.msg, line.data);
  }

  listLogs(tryId: number): LogLineRow[] {
    return this.db.prepare('SELECT * FROM log_lines WHERE try_id = ? ORDER BY id').all(tryId) as LogLineRow[];
  }

  // -- rejected load lines ---------------------------------------------------

  recordRejections(tryId: number, table: string, rejections: Rejection[]): void {
    const insert = this.db.prepare(
      `INSERT INTO load_rejections (try_id, table_name, object, line, column_name, value, reason)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    this.db.transaction(() => {
      for (const r of rejections) insert.run(tryId, table, r.object, r.line, r.column, r.value, r.reason);
    })();
  }

  listRejections(tryId: number): (Rejection & { table: string })[] {
    return this.db
      .prepare(
        `SELECT table_name AS "table", object, line, column_name AS "column", value, reason
         FROM load_rejections WHERE try_id = ? ORDER BY id`,
      )
      .all(tryId) as (Rejection & { table: string })[];
  }

  // -- connection store ------------------------------------------------------

  /**
   * Connections recorded at run time (e.g. a cluster endpoint by
   * CreateCluster). They override the config file; SLUICE_CONN_* overrides
   * them. URLs must not hold literal secrets (use references like
   * `?password_env=VAR`); `extra` holds non-secret details (role ARN, region).
   */
  setConnection(name: string, url: string, extra: Record<string, unknown> = {}, by: string | null = null): void {
    this.db
      .prepare(
        `INSERT INTO connections (name, url, extra, updated_at, updated_by) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET url = excluded.url, extra = excluded.extra,
           updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
      )
      .run(name, url, JSON.stringify(extra), new Date().toISOString(), by);
  }

  getConnection(name: string): ConnectionRow | undefined {
    const r = this.db.prepare('SELECT * FROM connections WHERE name = ?').get(name) as
      (Omit<ConnectionRow, 'extra'> & { extra: string }) | undefined;
    return r ? { ...r, extra: JSON.parse(r.extra) as Record<string, unknown> } : undefined;
  }

  listConnections(): ConnectionRow[] {
    return (
      this.db.prepare('SELECT * FROM connections ORDER BY name').all() as (Omit<ConnectionRow, 'extra'> & { extra: string })[]
    ).map((r) => ({ ...r, extra: JSON.parse(r.extra) as Record<string, unknown> }));
  }

  deleteConnection(name: string): boolean {
    return this.db.prepare('DELETE FROM connections WHERE name = ?').run(name).changes > 0;
  }

  // -- crash recovery -------------------------------------------------------

  /** Tries recorded as running by processes of this host. */
  private runningTriesHere(): TryRow[] {
    return this.db.prepare(`SELECT * FROM task_tries WHERE state = 'running' AND host = ?`).all(HOST) as TryRow[];
  }

  /** Whether recoverOrphans would find something: a try left running by a process of this host that is gone (reads only). */
  hasOrphans(alive: (pid: number) => boolean = processAlive): boolean {
    return this.runningTriesHere().some((t) => !alive(t.pid));
  }

  /**
   * Finds tries left `running` by a process of this host that is gone, marks
   * each failed ("process died"), and moves its task instance to
   * up_for_retry (tries left) or failed. Runs whose executing process is
   * gone go back to `queued`, for the scheduler (or `run-dag --rerun`) to resume. Returns what was found, for the caller to report.
   */
  recoverOrphans(now: Date, alive: (pid: number) => boolean = processAlive): Orphan[] {
    const running = this.runningTriesHere();
    const orphans: Orphan[] = [];
    this.db.transaction(() => {
      for (const t of running) {
        if (alive(t.pid)) continue;
        const ti = this.getTaskInstance(t.run_id, t.task_id);
        const retry = ti !== undefined && ti.try_number < ti.max_tries;
        const newState: TaskState = retry ? 'up_for_retry' : 'failed';
        this.endTry(t, {
          state: 'failed',
          taskState: newState,
          now,
          error: `process died: pid ${t.pid} on ${t.host} ended while this try was running`,
          nextTryAt: retry ? now : null,
        });
        orphans.push({ run_id: t.run_id, task_id: t.task_id, try_number: t.try_number, pid: t.pid, host: t.host, newState });
      }
      const runs = this.db
        .prepare(`SELECT * FROM dag_runs WHERE state = 'running' AND host = ? AND pid IS NOT NULL`)
        .all(HOST) as DagRunRow[];
      for (const r of runs) {
        if (r.pid !== null && !alive(r.pid)) {
          this.requeueRun(r.run_id, `process died: pid ${r.pid} ended while the run was in progress; to be resumed`);
        }
      }
    })();
    return orphans;
  }
}
