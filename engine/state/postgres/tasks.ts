/** Task instances and their tries in PostgreSQL (tables task_instances, task_tries, task_outputs). */
import type { TaskState } from '../../interfaces.js';
import { HOST, type Orphan, type TaskInstance, type TaskStore, type TaskTry, type TryEnd } from '../index.js';
import type { Db } from './db.js';
import { TRY_CHANNEL_SQL } from './work.js';
import {
  json,
  TASK_INSTANCE_COLUMNS,
  toTaskInstance,
  toTry,
  TRY_COLUMNS,
  type Q,
  type TaskInstanceRow,
  type TryRow,
} from './rows.js';

export async function getTaskInstance(q: Q, runId: string, taskId: string): Promise<TaskInstance | undefined> {
  const [r] = await q<TaskInstanceRow>('SELECT * FROM task_instances WHERE run_id = $1 AND task_id = $2', [runId, taskId]);
  return r && toTaskInstance(r);
}

/**
 * Records the end of a try, its outputs, its last log lines and the task
 * instance's next state in one statement (inside the caller's transaction, or
 * on its own: a statement is atomic), and returns the task instance as it now
 * stands. A try no longer running (failed as lost by another process
 * meanwhile) is left as it is, and so is its task instance: that decision
 * stands, and the instance is read back as the other process left it. Its
 * lines are stored all the same.
 */
export async function endTry(q: Q, t: TaskTry, end: TryEnd): Promise<TaskInstance | undefined> {
  const outputs = end.outputs && Object.keys(end.outputs).length > 0 ? json(end.outputs) : null;
  const lines = end.logLines ?? [];
  // A reschedule gives the task one more try: waiting for a sensor's next poke never uses up a retry.
  // A try of a task queued for workers tells the run loop waiting for it (NOTIFY, sent at commit).
  const [row] = await q<TaskInstanceRow>(
    `WITH ended AS (
       UPDATE task_tries SET state = $1, ended_at = $2, duration_ms = $3, error = $4, stack = $5, lease_until = NULL
       WHERE try_id = $6 AND state = 'running' RETURNING try_id
     ), ti AS (
       UPDATE task_instances SET state = $7, next_try_at = $8,
         ended_at = CASE WHEN $7 IN ('up_for_retry', 'up_for_reschedule') THEN NULL ELSE $2::timestamptz END,
         max_tries = max_tries + CASE WHEN $7 = 'up_for_reschedule' THEN 1 ELSE 0 END
       WHERE run_id = $9 AND task_id = $10 AND EXISTS (SELECT 1 FROM ended) RETURNING ${TASK_INSTANCE_COLUMNS()}, queue
     ), stored AS (
       INSERT INTO task_outputs (try_id, outputs) SELECT try_id, $11::json FROM ended WHERE $11::json IS NOT NULL
       ON CONFLICT (try_id) DO UPDATE SET outputs = excluded.outputs
     ), logged AS (
       INSERT INTO log_lines (try_id, ts, level, msg, data)
       SELECT $6, l.ts, l.level, l.msg, l.data
       FROM unnest($12::timestamptz[], $13::text[], $14::text[], $15::json[]) WITH ORDINALITY AS l (ts, level, msg, data, n)
       ORDER BY l.n
     )
     SELECT ${TASK_INSTANCE_COLUMNS('ti')}, CASE WHEN ti.queue IS NOT NULL
       THEN pg_notify(${TRY_CHANNEL_SQL}, json_build_array($9::text, $10::text)::text) END AS told
     FROM ti`,
    [
      end.state,
      end.now,
      Math.max(0, end.now.getTime() - t.startedAt.getTime()),
      end.error ?? null,
      end.stack ?? null,
      t.tryId,
      end.taskState,
      end.nextTryAt ?? null,
      t.runId,
      t.taskId,
      outputs,
      lines.map((l) => l.ts),
      lines.map((l) => l.level),
      lines.map((l) => l.msg),
      lines.map((l) => (l.data === null ? null : json(l.data))),
    ],
    'sluice_end_try',
  );
  return row ? toTaskInstance(row) : getTaskInstance(q, t.runId, t.taskId);
}

export class PostgresTaskStore implements TaskStore {
  constructor(private readonly db: Db) {}

  async list(runId: string): Promise<TaskInstance[]> {
    const rows = await this.db.q<TaskInstanceRow>('SELECT * FROM task_instances WHERE run_id = $1 ORDER BY seq', [runId]);
    return rows.map(toTaskInstance);
  }

  get(runId: string, taskId: string): Promise<TaskInstance | undefined> {
    return getTaskInstance(this.db.q, runId, taskId);
  }

  async setState(runId: string, taskId: string, state: TaskState | null, now: Date): Promise<void> {
    const finished = state === 'skipped' || state === 'upstream_failed';
    await this.db.q(
      // queue = NULL: a state set here is not for workers (WorkStore.enqueue queues for them)
      `UPDATE task_instances SET state = $1, ended_at = CASE WHEN $2 THEN $3::timestamptz ELSE ended_at END, queue = NULL
       WHERE run_id = $4 AND task_id = $5`,
      [state, finished, now, runId, taskId],
    );
  }

  /** One statement: the task instance's next try number and the try's row, written together. */
  async startTry(runId: string, taskId: string, now: Date, leaseUntil?: Date): Promise<TaskTry> {
    const [row] = await this.db.q<TryRow>(
      `WITH ti AS (
         UPDATE task_instances SET state = 'running', try_number = try_number + 1, next_try_at = NULL,
           started_at = coalesce(started_at, $1), ended_at = NULL
         WHERE run_id = $2 AND task_id = $3 RETURNING try_number
       )
       INSERT INTO task_tries (run_id, task_id, try_number, state, started_at, host, pid, lease_until)
       SELECT $2, $3, ti.try_number, 'running', $1, $4::text, $5::integer, $6::timestamptz FROM ti
       RETURNING ${TRY_COLUMNS()}`,
      [now, runId, taskId, HOST, process.pid, leaseUntil ?? null],
      'sluice_start_try',
    );
    if (!row) throw new Error(`cannot start a try of task ${taskId}: run ${runId} has no such task instance (deleted?)`);
    return toTry(row);
  }

  endTry(t: TaskTry, end: TryEnd): Promise<TaskInstance | undefined> {
    return endTry(this.db.q, t, end);
  }

  async tries(runId: string, taskId?: string): Promise<TaskTry[]> {
    const rows = await this.db.q<TryRow>(
      `SELECT * FROM task_tries WHERE run_id = $1 AND ($2::text IS NULL OR task_id = $2) ORDER BY try_id`,
      [runId, taskId ?? null],
    );
    return rows.map(toTry);
  }

  async getTry(runId: string, taskId: string, tryNumber: number): Promise<TaskTry | undefined> {
    const [r] = await this.db.q<TryRow>('SELECT * FROM task_tries WHERE run_id = $1 AND task_id = $2 AND try_number = $3', [
      runId,
      taskId,
      tryNumber,
    ]);
    return r && toTry(r);
  }

  async outputs(tryId: number): Promise<Record<string, unknown> | null> {
    const [r] = await this.db.q<{ outputs: Record<string, unknown> }>('SELECT outputs FROM task_outputs WHERE try_id = $1', [
      tryId,
    ]);
    return r ? r.outputs : null;
  }

  async latestOutputs(runId: string): Promise<Map<string, { tryNumber: number; outputs: Record<string, unknown> }>> {
    const rows = await this.db.q<{ task_id: string; try_number: number; outputs: Record<string, unknown> }>(
      `SELECT t.task_id, t.try_number, o.outputs FROM task_tries t JOIN task_outputs o ON o.try_id = t.try_id
       WHERE t.run_id = $1 ORDER BY t.try_id`,
      [runId],
    );
    const out = new Map<string, { tryNumber: number; outputs: Record<string, unknown> }>();
    for (const r of rows) out.set(r.task_id, { tryNumber: r.try_number, outputs: r.outputs });
    return out;
  }
}

/**
 * Fails a try whose process is gone (died on this host, or stopped renewing
 * its lease) with `error`: its task instance goes up_for_retry when tries are
 * left, else failed. Recovery and lease expiry both end lost tries this way.
 */
export async function failLostTry(q: Q, t: TaskTry, now: Date, error: string): Promise<Orphan> {
  const ti = await getTaskInstance(q, t.runId, t.taskId);
  const retry = ti !== undefined && ti.tryNumber < ti.maxTries;
  const newState: TaskState = retry ? 'up_for_retry' : 'failed';
  await endTry(q, t, { state: 'failed', taskState: newState, now, error, nextTryAt: retry ? now : null });
  return { runId: t.runId, taskId: t.taskId, tryNumber: t.tryNumber, pid: t.pid, host: t.host, newState };
}
