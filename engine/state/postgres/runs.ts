/** DAG runs in PostgreSQL (tables dag_runs, task_instances). */
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
import { json, toRun, type DagRunRow, type Q, type TaskInstanceRow } from './rows.js';
import type { Db } from './db.js';

export async function getRun(q: Q, runId: string): Promise<DagRun | undefined> {
  const [r] = await q<DagRunRow>('SELECT * FROM dag_runs WHERE run_id = $1', [runId]);
  return r && toRun(r);
}

async function forDate(q: Q, dagId: string, logicalDate: Date): Promise<DagRun | undefined> {
  const [r] = await q<DagRunRow>('SELECT * FROM dag_runs WHERE dag_id = $1 AND logical_date = $2', [dagId, logicalDate]);
  return r && toRun(r);
}

async function claim(q: Q, runId: string, now: Date, leaseUntil: Date | null = null): Promise<boolean> {
  const rows = await q(
    `UPDATE dag_runs SET state = 'running', started_at = coalesce(started_at, $1), ended_at = NULL, host = $2, pid = $3,
       lease_until = $5
     WHERE run_id = $4 AND state = 'queued' RETURNING run_id`,
    [now, HOST, process.pid, runId, leaseUntil],
  );
  return rows.length === 1;
}

/** The DAG's runs in state running that `executing` says are executed (what max_active_runs counts). */
async function executingRuns(q: Q, dagId: string, executing: (r: DagRun) => boolean): Promise<DagRun[]> {
  const running = await q<DagRunRow>(
    `SELECT * FROM dag_runs WHERE state = 'running' AND dag_id = $1 ORDER BY logical_date DESC`,
    [dagId],
  );
  return running.map(toRun).filter(executing);
}

/** Serializes the steps that count a DAG's executing runs and take one (trigger, claim), across hosts. */
const lockDag = (q: Q, dagId: string) => q(`SELECT pg_advisory_xact_lock(hashtextextended('sluice.trigger:' || $1, 0))`, [dagId]);

async function create(q: Q, r: NewRun): Promise<DagRun | null> {
  const runId = makeRunId(r.dagId, r.runType, r.logicalDate);
  const inserted = await q(
    `INSERT INTO dag_runs (run_id, dag_id, logical_date, data_interval_start, data_interval_end, run_type, state, conf, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $8)
     ON CONFLICT DO NOTHING RETURNING run_id`,
    [runId, r.dagId, r.logicalDate, r.dataIntervalStart, r.dataIntervalEnd, r.runType, json(r.conf), r.now],
  );
  if (inserted.length === 0) return null;
  if (r.tasks.length) {
    await q(
      `INSERT INTO task_instances (run_id, task_id, operator, max_tries)
       SELECT $1, t.task_id, t.operator, t.max_tries
       FROM unnest($2::text[], $3::text[], $4::int[]) WITH ORDINALITY AS t (task_id, operator, max_tries, n) ORDER BY t.n`,
      [runId, r.tasks.map((t) => t.taskId), r.tasks.map((t) => t.operator), r.tasks.map((t) => t.maxTries)],
    );
  }
  if (r.claim) await claim(q, runId, r.now);
  return (await getRun(q, runId))!;
}

async function clearTasks(q: Q, runId: string, c: ClearTasks): Promise<string[]> {
  const tis = (await q<TaskInstanceRow>('SELECT * FROM task_instances WHERE run_id = $1 ORDER BY seq', [runId])).filter((ti) => {
    if (c.taskIds && !c.taskIds.includes(ti.task_id)) return false;
    if (c.failedOnly) return ti.state !== 'success' && ti.state !== 'skipped';
    return true;
  });
  for (const ti of tis) {
    await q(
      `UPDATE task_instances SET state = NULL, next_try_at = NULL, started_at = NULL, ended_at = NULL, max_tries = try_number + $1
       WHERE run_id = $2 AND task_id = $3`,
      [c.triesFor(ti.task_id), runId, ti.task_id],
    );
  }
  await q(`UPDATE dag_runs SET state = 'queued', ended_at = NULL, note = NULL WHERE run_id = $1`, [runId]);
  if (c.claim) await claim(q, runId, c.now);
  return tis.map((ti) => ti.task_id);
}

async function ensureTaskInstances(q: Q, runId: string, tasks: TaskSeed[]): Promise<number> {
  let added = 0;
  for (const t of tasks) {
    const rows = await q(
      `INSERT INTO task_instances (run_id, task_id, operator, max_tries) VALUES ($1, $2, $3, $4)
       ON CONFLICT DO NOTHING RETURNING task_id`,
      [runId, t.taskId, t.operator, t.maxTries],
    );
    added += rows.length;
  }
  return added;
}

async function finish(q: Q, runId: string, state: RunState, now: Date, note: string | null): Promise<void> {
  await q(`UPDATE dag_runs SET state = $1, ended_at = $2, note = $3, pid = NULL, lease_until = NULL WHERE run_id = $4`, [
    state,
    now,
    note,
    runId,
  ]);
}

export async function requeue(q: Q, runId: string, note: string | null): Promise<void> {
  await q(`UPDATE dag_runs SET state = 'queued', note = $1, pid = NULL, host = NULL, lease_until = NULL WHERE run_id = $2`, [
    note,
    runId,
  ]);
}

/** The runs store: multi-statement steps are transactions; trigger holds a per-DAG advisory lock. */
export class PostgresRunStore implements RunStore {
  constructor(private readonly db: Db) {}

  create(r: NewRun): Promise<DagRun | null> {
    return this.db.tx((q) => create(q, r));
  }

  get(runId: string): Promise<DagRun | undefined> {
    return getRun(this.db.q, runId);
  }

  forDate(dagId: string, logicalDate: Date): Promise<DagRun | undefined> {
    return forDate(this.db.q, dagId, logicalDate);
  }

  async list(f: { dagId?: string; state?: RunState; limit?: number } = {}): Promise<DagRun[]> {
    const rows = await this.db.q<DagRunRow>(
      `SELECT * FROM dag_runs WHERE ($1::text IS NULL OR dag_id = $1) AND ($2::text IS NULL OR state = $2)
       ORDER BY logical_date DESC, created_at DESC, run_id COLLATE "C" LIMIT $3`,
      [f.dagId ?? null, f.state ?? null, f.limit ?? 100],
    );
    return rows.map(toRun);
  }

  async latest(dagId: string, runType?: RunType): Promise<DagRun | undefined> {
    const [r] = await this.db.q<DagRunRow>(
      `SELECT * FROM dag_runs WHERE dag_id = $1 AND ($2::text IS NULL OR run_type = $2) ORDER BY logical_date DESC LIMIT 1`,
      [dagId, runType ?? null],
    );
    return r && toRun(r);
  }

  async queued(): Promise<DagRun[]> {
    const rows = await this.db.q<DagRunRow>(
      `SELECT * FROM dag_runs WHERE state = 'queued' ORDER BY logical_date, created_at, run_id COLLATE "C"`,
    );
    return rows.map(toRun);
  }

  /** With maxActiveRuns: one transaction under the DAG's advisory lock, as trigger. */
  claim(runId: string, now: Date, o: RunClaim = {}): Promise<boolean> {
    const { maxActiveRuns, leaseUntil = null } = o;
    if (maxActiveRuns === undefined) return claim(this.db.q, runId, now, leaseUntil);
    return this.db.tx(async (q) => {
      const [r] = await q<{ dag_id: string }>(`SELECT dag_id FROM dag_runs WHERE run_id = $1 AND state = 'queued'`, [runId]);
      if (!r) return false;
      await lockDag(q, r.dag_id);
      const active = await executingRuns(q, r.dag_id, o.executing ?? (() => true));
      if (active.length >= maxActiveRuns) return false;
      return claim(q, runId, now, leaseUntil);
    });
  }

  /** One transaction under an advisory lock per DAG: two processes never both take the last slot. */
  trigger(s: TriggerStep): Promise<TriggerOutcome> {
    return this.db.tx(async (q): Promise<TriggerOutcome> => {
      await lockDag(q, s.create.dagId);
      const existing = await forDate(q, s.create.dagId, s.create.logicalDate);
      if (existing && s.executing(existing)) return { outcome: 'executing', run: existing };
      if (existing && !s.rerun) return { outcome: 'exists', run: existing };
      if (s.maxActiveRuns !== undefined) {
        const active = await executingRuns(q, s.create.dagId, s.executing);
        if (active.length >= s.maxActiveRuns) return { outcome: 'no-slot', active };
      }
      if (existing) {
        await ensureTaskInstances(q, existing.runId, s.rerun!.tasks);
        await clearTasks(q, existing.runId, { ...s.rerun!.clear, claim: true });
        if (s.rerun!.conf !== undefined)
          await q('UPDATE dag_runs SET conf = $1 WHERE run_id = $2', [json(s.rerun!.conf), existing.runId]);
        return { outcome: 'rerun', run: (await getRun(q, existing.runId))! };
      }
      const run = await create(q, { ...s.create, claim: true });
      return run
        ? { outcome: 'created', run }
        : { outcome: 'exists', run: (await forDate(q, s.create.dagId, s.create.logicalDate))! };
    });
  }

  async start(runId: string, now: Date, leaseUntil?: Date): Promise<void> {
    await this.db.q(
      `UPDATE dag_runs SET state = 'running', started_at = coalesce(started_at, $1), ended_at = NULL, host = $2, pid = $3,
         lease_until = $5
       WHERE run_id = $4`,
      [now, HOST, process.pid, runId, leaseUntil ?? null],
    );
  }

  finish(runId: string, state: RunState, now: Date, note: string | null = null): Promise<void> {
    return finish(this.db.q, runId, state, now, note);
  }

  requeue(runId: string, note: string | null): Promise<void> {
    return requeue(this.db.q, runId, note);
  }

  async setConf(runId: string, conf: Record<string, unknown>): Promise<void> {
    await this.db.q('UPDATE dag_runs SET conf = $1 WHERE run_id = $2', [json(conf), runId]);
  }

  mark(runId: string, state: 'success' | 'failed', now: Date): Promise<void> {
    return this.db.tx(async (q) => {
      const keep = state === 'success' ? `('success', 'skipped')` : `('success', 'skipped', 'failed', 'upstream_failed')`;
      await q(
        `UPDATE task_instances SET state = $1, next_try_at = NULL, ended_at = coalesce(ended_at, $2)
         WHERE run_id = $3 AND (state IS NULL OR state NOT IN ${keep})`,
        [state, now, runId],
      );
      await finish(q, runId, state, now, `marked ${state} by hand`);
    });
  }

  markTasks(
    runId: string,
    taskIds: string[],
    state: 'success' | 'failed',
    now: Date,
  ): Promise<{ marked: string[]; runState: RunState }> {
    return this.db.tx(async (q) => {
      // the run's row first: two markings of one run take turns, so the run's state follows the last
      await q('SELECT run_id FROM dag_runs WHERE run_id = $1 FOR UPDATE', [runId]);
      const rows = await q<{ task_id: string }>(
        `UPDATE task_instances SET state = $1, next_try_at = NULL, ended_at = coalesce(ended_at, $2)
         WHERE run_id = $3 AND task_id = ANY($4::text[]) AND (state IS NULL OR state <> $1) RETURNING task_id`,
        [state, now, runId, taskIds],
      );
      const changed = new Set(rows.map((r) => r.task_id));
      const states = (await q<{ state: string | null }>('SELECT state FROM task_instances WHERE run_id = $1', [runId])).map(
        (r) => r.state as TaskState | null,
      );
      const done = finishedRunState(states);
      if (done) await finish(q, runId, done, now, `tasks marked ${state} by hand`);
      else await q(`UPDATE dag_runs SET state = 'queued', ended_at = NULL, note = NULL, pid = NULL WHERE run_id = $1`, [runId]);
      return { marked: taskIds.filter((id) => changed.has(id)), runState: done ?? 'queued' };
    });
  }

  clearTasks(runId: string, c: ClearTasks): Promise<string[]> {
    return this.db.tx((q) => clearTasks(q, runId, c));
  }

  ensureTaskInstances(runId: string, tasks: TaskSeed[]): Promise<number> {
    return this.db.tx((q) => ensureTaskInstances(q, runId, tasks));
  }
}
