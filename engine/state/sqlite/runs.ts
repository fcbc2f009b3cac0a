/** DAG runs in SQLite (tables dag_runs, task_instances). */
import type { RunState, RunType, TaskState } from '../../interfaces.js';
import {
  HOST,
  finishedRunState,
  makeRunId,
  type ClearTasks,
  type DagRun,
  type NewRun,
  type RunClaim,
  type RunStore,
  type TaskSeed,
  type TriggerOutcome,
  type TriggerStep,
} from '../index.js';
import { iso, toRun, type DagRunRow, type Statements, type TaskInstanceRow } from './rows.js';

// Synchronous steps, for the store's methods and for transactions spanning several of them.

export function getRun(q: Statements, runId: string): DagRun | undefined {
  const r = q.get('SELECT * FROM dag_runs WHERE run_id = ?').get(runId) as DagRunRow | undefined;
  return r && toRun(r);
}

export function runsInState(q: Statements, state: RunState, dagId: string | null = null): DagRun[] {
  return (
    q
      .get(
        `SELECT * FROM dag_runs WHERE state = ? AND (? IS NULL OR dag_id = ?) ORDER BY logical_date DESC, created_at DESC, run_id`,
      )
      .all(state, dagId, dagId) as DagRunRow[]
  ).map(toRun);
}

function forDate(q: Statements, dagId: string, logicalDate: Date): DagRun | undefined {
  const r = q.get('SELECT * FROM dag_runs WHERE dag_id = ? AND logical_date = ?').get(dagId, iso(logicalDate)) as
    DagRunRow | undefined;
  return r && toRun(r);
}

function claim(q: Statements, runId: string, now: Date, leaseUntil: Date | null = null): boolean {
  const res = q
    .get(
      `UPDATE dag_runs SET state = 'running', started_at = coalesce(started_at, ?), ended_at = NULL, host = ?, pid = ?,
         lease_until = ?
       WHERE run_id = ? AND state = 'queued'`,
    )
    .run(iso(now), HOST, process.pid, leaseUntil && iso(leaseUntil), runId);
  return res.changes === 1;
}

function create(q: Statements, r: NewRun): DagRun | null {
  const runId = makeRunId(r.dagId, r.runType, r.logicalDate);
  return q.tx(() => {
    const res = q
      .get(
        `INSERT INTO dag_runs (run_id, dag_id, logical_date, data_interval_start, data_interval_end,
           run_type, state, conf, created_at)
         VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?)
         ON CONFLICT DO NOTHING`,
      )
      .run(
        runId,
        r.dagId,
        iso(r.logicalDate),
        iso(r.dataIntervalStart),
        iso(r.dataIntervalEnd),
        r.runType,
        JSON.stringify(r.conf),
        iso(r.now),
      );
    if (res.changes === 0) return null;
    const insertTi = q.get(`INSERT INTO task_instances (run_id, task_id, operator, state, max_tries) VALUES (?, ?, ?, NULL, ?)`);
    for (const t of r.tasks) insertTi.run(runId, t.taskId, t.operator, t.maxTries);
    if (r.claim) claim(q, runId, r.now);
    return getRun(q, runId)!;
  });
}

function clearTasks(q: Statements, runId: string, c: ClearTasks): string[] {
  return q.tx(() => {
    const tis = (q.get('SELECT * FROM task_instances WHERE run_id = ? ORDER BY rowid').all(runId) as TaskInstanceRow[]).filter(
      (ti) => {
        if (c.taskIds && !c.taskIds.includes(ti.task_id)) return false;
        if (c.failedOnly) return ti.state !== 'success' && ti.state !== 'skipped';
        return true;
      },
    );
    const clear = q.get(
      `UPDATE task_instances SET state = NULL, next_try_at = NULL, started_at = NULL, ended_at = NULL,
         max_tries = try_number + ?
       WHERE run_id = ? AND task_id = ?`,
    );
    for (const ti of tis) clear.run(c.triesFor(ti.task_id), runId, ti.task_id);
    q.get(`UPDATE dag_runs SET state = 'queued', ended_at = NULL, note = NULL WHERE run_id = ?`).run(runId);
    if (c.claim) claim(q, runId, c.now);
    return tis.map((ti) => ti.task_id);
  });
}

function ensureTaskInstances(q: Statements, runId: string, tasks: TaskSeed[]): number {
  const insert = q.get(
    `INSERT INTO task_instances (run_id, task_id, operator, state, max_tries) VALUES (?, ?, ?, NULL, ?)
     ON CONFLICT DO NOTHING`,
  );
  return q.tx(() => tasks.reduce((added, t) => added + insert.run(runId, t.taskId, t.operator, t.maxTries).changes, 0));
}

function setConf(q: Statements, runId: string, conf: Record<string, unknown>): void {
  q.get('UPDATE dag_runs SET conf = ? WHERE run_id = ?').run(JSON.stringify(conf), runId);
}

function finish(q: Statements, runId: string, state: RunState, now: Date, note: string | null): void {
  q.get(`UPDATE dag_runs SET state = ?, ended_at = ?, note = ?, pid = NULL, lease_until = NULL WHERE run_id = ?`).run(
    state,
    iso(now),
    note,
    runId,
  );
}

export function requeue(q: Statements, runId: string, note: string | null): void {
  q.get(`UPDATE dag_runs SET state = 'queued', note = ?, pid = NULL, host = NULL, lease_until = NULL WHERE run_id = ?`).run(
    note,
    runId,
  );
}

/** The runs store: each method one statement or one transaction. */
export class SqliteRunStore implements RunStore {
  constructor(private readonly q: Statements) {}

  async create(r: NewRun): Promise<DagRun | null> {
    return create(this.q, r);
  }

  async get(runId: string): Promise<DagRun | undefined> {
    return getRun(this.q, runId);
  }

  async forDate(dagId: string, logicalDate: Date): Promise<DagRun | undefined> {
    return forDate(this.q, dagId, logicalDate);
  }

  async list(f: { dagId?: string; state?: RunState; limit?: number } = {}): Promise<DagRun[]> {
    const rows = this.q
      .get(
        `SELECT * FROM dag_runs
         WHERE (@dagId IS NULL OR dag_id = @dagId) AND (@state IS NULL OR state = @state)
         ORDER BY logical_date DESC, created_at DESC, run_id LIMIT @limit`,
      )
      .all({ dagId: f.dagId ?? null, state: f.state ?? null, limit: f.limit ?? 100 }) as DagRunRow[];
    return rows.map(toRun);
  }

  async latest(dagId: string, runType?: RunType): Promise<DagRun | undefined> {
    const r = this.q
      .get(`SELECT * FROM dag_runs WHERE dag_id = ? AND (? IS NULL OR run_type = ?) ORDER BY logical_date DESC LIMIT 1`)
      .get(dagId, runType ?? null, runType ?? null) as DagRunRow | undefined;
    return r && toRun(r);
  }

  async queued(): Promise<DagRun[]> {
    const rows = this.q
      .get(`SELECT * FROM dag_runs WHERE state = 'queued' ORDER BY logical_date, created_at, run_id`)
      .all() as DagRunRow[];
    return rows.map(toRun);
  }

  /** With maxActiveRuns: one IMMEDIATE transaction, as trigger. */
  async claim(runId: string, now: Date, o: RunClaim = {}): Promise<boolean> {
    const { maxActiveRuns, leaseUntil = null } = o;
    if (maxActiveRuns === undefined) return claim(this.q, runId, now, leaseUntil);
    const q = this.q;
    return q.tx(() => {
      const run = getRun(q, runId);
      if (run?.state !== 'queued') return false;
      const active = runsInState(q, 'running', run.dagId).filter(o.executing ?? (() => true));
      return active.length < maxActiveRuns && claim(q, runId, now, leaseUntil);
    }, true);
  }

  /** One IMMEDIATE transaction: the count and the write happen under SQLite's write lock, across processes. */
  async trigger(s: TriggerStep): Promise<TriggerOutcome> {
    const q = this.q;
    return q.tx((): TriggerOutcome => {
      const existing = forDate(q, s.create.dagId, s.create.logicalDate);
      if (existing && s.executing(existing)) return { outcome: 'executing', run: existing };
      if (existing && !s.rerun) return { outcome: 'exists', run: existing };
      if (s.maxActiveRuns !== undefined) {
        const active = runsInState(q, 'running', s.create.dagId).filter(s.executing);
        if (active.length >= s.maxActiveRuns) return { outcome: 'no-slot', active };
      }
      if (existing) {
        ensureTaskInstances(q, existing.runId, s.rerun!.tasks);
        clearTasks(q, existing.runId, { ...s.rerun!.clear, claim: true });
        if (s.rerun!.conf !== undefined) setConf(q, existing.runId, s.rerun!.conf);
        return { outcome: 'rerun', run: getRun(q, existing.runId)! };
      }
      const run = create(q, { ...s.create, claim: true });
      // absent only if the run appeared between the read and the insert, which the write lock rules out
      return run ? { outcome: 'created', run } : { outcome: 'exists', run: forDate(q, s.create.dagId, s.create.logicalDate)! };
    }, true);
  }

  async start(runId: string, now: Date, leaseUntil?: Date): Promise<void> {
    this.q
      .get(
        `UPDATE dag_runs SET state = 'running', started_at = coalesce(started_at, ?), ended_at = NULL, host = ?, pid = ?,
           lease_until = ?
         WHERE run_id = ?`,
      )
      .run(iso(now), HOST, process.pid, leaseUntil ? iso(leaseUntil) : null, runId);
  }

  async finish(runId: string, state: RunState, now: Date, note: string | null = null): Promise<void> {
    finish(this.q, runId, state, now, note);
  }

  async requeue(runId: string, note: string | null): Promise<void> {
    requeue(this.q, runId, note);
  }

  async setConf(runId: string, conf: Record<string, unknown>): Promise<void> {
    setConf(this.q, runId, conf);
  }

  async mark(runId: string, state: 'success' | 'failed', now: Date): Promise<void> {
    const q = this.q;
    q.tx(() => {
      if (state === 'success') {
        q.get(
          `UPDATE task_instances SET state = 'success', next_try_at = NULL, ended_at = coalesce(ended_at, ?)
           WHERE run_id = ? AND (state IS NULL OR state NOT IN ('success', 'skipped'))`,
        ).run(iso(now), runId);
      } else {
        q.get(
          `UPDATE task_instances SET state = 'failed', next_try_at = NULL, ended_at = coalesce(ended_at, ?)
           WHERE run_id = ? AND (state IS NULL OR state NOT IN ('success', 'skipped', 'failed', 'upstream_failed'))`,
        ).run(iso(now), runId);
      }
      finish(q, runId, state, now, `marked ${state} by hand`);
    });
  }

  async markTasks(
    runId: string,
    taskIds: string[],
    state: 'success' | 'failed',
    now: Date,
  ): Promise<{ marked: string[]; runState: RunState }> {
    const q = this.q;
    return q.tx(() => {
      const set = q.get(
        `UPDATE task_instances SET state = ?, next_try_at = NULL, ended_at = coalesce(ended_at, ?)
         WHERE run_id = ? AND task_id = ? AND (state IS NULL OR state <> ?)`,
      );
      const marked = taskIds.filter((id) => set.run(state, iso(now), runId, id, state).changes === 1);
      const states = (q.get('SELECT state FROM task_instances WHERE run_id = ?').all(runId) as { state: string | null }[]).map(
        (r) => r.state as TaskState | null,
      );
      const done = finishedRunState(states);
      if (done) finish(q, runId, done, now, `tasks marked ${state} by hand`);
      else q.get(`UPDATE dag_runs SET state = 'queued', ended_at = NULL, note = NULL, pid = NULL WHERE run_id = ?`).run(runId);
      return { marked, runState: done ?? 'queued' };
    }, true);
  }

  async clearTasks(runId: string, c: ClearTasks): Promise<string[]> {
    return clearTasks(this.q, runId, c);
  }

  async ensureTaskInstances(runId: string, tasks: TaskSeed[]): Promise<number> {
    return ensureTaskInstances(this.q, runId, tasks);
  }
}
