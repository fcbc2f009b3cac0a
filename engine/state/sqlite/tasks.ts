/** Task instances and their tries in SQLite (tables task_instances, task_tries, task_outputs). */
import type { TaskState } from '../../interfaces.js';
import { HOST, type Orphan, type TaskInstance, type TaskStore, type TaskTry, type TryEnd } from '../index.js';
import { iso, toTaskInstance, toTry, type Statements, type TaskInstanceRow, type TryRow } from './rows.js';

export function getTaskInstance(q: Statements, runId: string, taskId: string): TaskInstance | undefined {
  const r = q.get('SELECT * FROM task_instances WHERE run_id = ? AND task_id = ?').get(runId, taskId) as
    TaskInstanceRow | undefined;
  return r && toTaskInstance(r);
}

/**
 * Records the end of a try, its last log lines and the task instance's next
 * state (also used by crash recovery); returns the task instance as it now stands.
 */
export function endTry(q: Statements, t: TaskTry, end: TryEnd): TaskInstance | undefined {
  return q.tx(() => {
    if (end.logLines?.length) {
      const log = q.get('INSERT INTO log_lines (try_id, ts, level, msg, data) VALUES (?, ?, ?, ?, ?)');
      for (const l of end.logLines) {
        log.run(t.tryId, iso(l.ts), l.level, l.msg, l.data === null ? null : JSON.stringify(l.data));
      }
    }
    const ended = q
      .get(
        `UPDATE task_tries SET state = ?, ended_at = ?, duration_ms = ?, error = ?, stack = ?, lease_until = NULL
         WHERE try_id = ? AND state = 'running'`,
      )
      .run(
        end.state,
        iso(end.now),
        Math.max(0, end.now.getTime() - t.startedAt.getTime()),
        end.error ?? null,
        end.stack ?? null,
        t.tryId,
      );
    // failed as lost by another process meanwhile: its decision stands
    if (ended.changes === 0) return getTaskInstance(q, t.runId, t.taskId);
    // A reschedule gives the task one more try: waiting for a sensor's next poke never uses up a retry.
    const waiting = end.taskState === 'up_for_retry' || end.taskState === 'up_for_reschedule';
    q.get(
      `UPDATE task_instances SET state = ?, next_try_at = ?, ended_at = CASE WHEN ? THEN NULL ELSE ? END,
         max_tries = max_tries + ?
       WHERE run_id = ? AND task_id = ?`,
    ).run(
      end.taskState,
      end.nextTryAt ? iso(end.nextTryAt) : null,
      waiting ? 1 : 0,
      iso(end.now),
      end.taskState === 'up_for_reschedule' ? 1 : 0,
      t.runId,
      t.taskId,
    );
    if (end.outputs && Object.keys(end.outputs).length > 0) {
      q.get('INSERT OR REPLACE INTO task_outputs (try_id, outputs) VALUES (?, ?)').run(t.tryId, JSON.stringify(end.outputs));
    }
    return getTaskInstance(q, t.runId, t.taskId);
  });
}

export class SqliteTaskStore implements TaskStore {
  constructor(private readonly q: Statements) {}

  async list(runId: string): Promise<TaskInstance[]> {
    const rows = this.q.get('SELECT * FROM task_instances WHERE run_id = ? ORDER BY rowid').all(runId) as TaskInstanceRow[];
    return rows.map(toTaskInstance);
  }

  async get(runId: string, taskId: string): Promise<TaskInstance | undefined> {
    return getTaskInstance(this.q, runId, taskId);
  }

  async setState(runId: string, taskId: string, state: TaskState | null, now: Date): Promise<void> {
    const finished = state === 'skipped' || state === 'upstream_failed';
    this.q
      .get(
        // queue = NULL: a state set here is not for workers (WorkStore.enqueue queues for them)
        `UPDATE task_instances SET state = ?, ended_at = CASE WHEN ? THEN ? ELSE ended_at END, queue = NULL
         WHERE run_id = ? AND task_id = ?`,
      )
      .run(state, finished ? 1 : 0, iso(now), runId, taskId);
  }

  async startTry(runId: string, taskId: string, now: Date, leaseUntil?: Date): Promise<TaskTry> {
    const q = this.q;
    return q.tx(() => {
      q.get(
        `UPDATE task_instances SET state = 'running', try_number = try_number + 1, next_try_at = NULL,
           started_at = coalesce(started_at, ?), ended_at = NULL
         WHERE run_id = ? AND task_id = ?`,
      ).run(iso(now), runId, taskId);
      const ti = getTaskInstance(q, runId, taskId)!;
      const res = q
        .get(
          `INSERT INTO task_tries (run_id, task_id, try_number, state, started_at, host, pid, lease_until)
           VALUES (?, ?, ?, 'running', ?, ?, ?, ?)`,
        )
        .run(runId, taskId, ti.tryNumber, iso(now), HOST, process.pid, leaseUntil ? iso(leaseUntil) : null);
      return toTry(q.get('SELECT * FROM task_tries WHERE try_id = ?').get(res.lastInsertRowid) as TryRow);
    });
  }

  async endTry(t: TaskTry, end: TryEnd): Promise<TaskInstance | undefined> {
    return endTry(this.q, t, end);
  }

  async tries(runId: string, taskId?: string): Promise<TaskTry[]> {
    const rows = this.q
      .get(`SELECT * FROM task_tries WHERE run_id = ? AND (? IS NULL OR task_id = ?) ORDER BY try_id`)
      .all(runId, taskId ?? null, taskId ?? null) as TryRow[];
    return rows.map(toTry);
  }

  async getTry(runId: string, taskId: string, tryNumber: number): Promise<TaskTry | undefined> {
    const r = this.q
      .get('SELECT * FROM task_tries WHERE run_id = ? AND task_id = ? AND try_number = ?')
      .get(runId, taskId, tryNumber) as TryRow | undefined;
    return r && toTry(r);
  }

  async outputs(tryId: number): Promise<Record<string, unknown> | null> {
    const row = this.q.get('SELECT outputs FROM task_outputs WHERE try_id = ?').get(tryId) as { outputs: string } | undefined;
    return row ? (JSON.parse(row.outputs) as Record<string, unknown>) : null;
  }

  async latestOutputs(runId: string): Promise<Map<string, { tryNumber: number; outputs: Record<string, unknown> }>> {
    const rows = this.q
      .get(
        `SELECT t.task_id, t.try_number, o.outputs FROM task_tries t JOIN task_outputs o ON o.try_id = t.try_id
         WHERE t.run_id = ? ORDER BY t.try_id`,
      )
      .all(runId) as { task_id: string; try_number: number; outputs: string }[];
    const out = new Map<string, { tryNumber: number; outputs: Record<string, unknown> }>();
    for (const r of rows) out.set(r.task_id, { tryNumber: r.try_number, outputs: JSON.parse(r.outputs) });
    return out;
  }
}

/**
 * Fails a try whose process is gone (died on this host, or stopped renewing
 * its lease) with `error`: its task instance goes up_for_retry when tries are
 * left, else failed. Recovery and lease expiry both end lost tries this way.
 */
export function failLostTry(q: Statements, t: TaskTry, now: Date, error: string): Orphan {
  const ti = getTaskInstance(q, t.runId, t.taskId);
  const retry = ti !== undefined && ti.tryNumber < ti.maxTries;
  const newState: TaskState = retry ? 'up_for_retry' : 'failed';
  endTry(q, t, { state: 'failed', taskState: newState, now, error, nextTryAt: retry ? now : null });
  return { runId: t.runId, taskId: t.taskId, tryNumber: t.tryNumber, pid: t.pid, host: t.host, newState };
}
