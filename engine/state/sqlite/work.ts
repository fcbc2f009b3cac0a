/** Task queues and workers in SQLite (task_instances.queue and claimed_*, table workers). */
import type { Claimed, WorkerRecord, WorkStore } from '../index.js';
import { toClaimed, type ClaimColumns } from '../claim-row.js';
import { iso, toRun, toTaskInstance, type DagRunRow, type Statements } from './rows.js';

interface WorkerRow {
  host: string;
  pid: number;
  queues: string;
  concurrency: number;
  running: number;
  started_at: string;
  heartbeat_at: string;
}

export class SqliteWorkStore implements WorkStore {
  constructor(private readonly q: Statements) {}

  async enqueue(runId: string, taskId: string, queue: string, now: Date): Promise<void> {
    this.q
      .get(
        `UPDATE task_instances SET state = 'queued', queue = ?, queued_at = ?, claimed_host = NULL, claimed_pid = NULL,
           claimed_at = NULL WHERE run_id = ? AND task_id = ? AND NOT (state IS 'queued' AND queue IS NOT NULL)`,
      )
      .run(queue, iso(now), runId, taskId);
  }

  /** In one IMMEDIATE transaction: the write lock first, so two claimers never take the same task instance. */
  async claim(queues: string[], n: number, host: string, pid: number, now: Date): Promise<Claimed[]> {
    if (queues.length === 0 || n < 1) return [];
    const q = this.q;
    return q.tx(() => {
      const rows = q
        .get(
          `SELECT t.task_id, t.queue, t.queued_at, t.operator, t.state AS ti_state, t.try_number, t.max_tries, t.next_try_at,
             t.started_at AS ti_started_at, t.ended_at AS ti_ended_at, r.run_id, r.dag_id, r.logical_date, r.data_interval_start,
             r.data_interval_end, r.run_type, r.state, r.conf, r.note, r.created_at, r.started_at, r.ended_at, r.host, r.pid
           FROM task_instances t JOIN dag_runs r ON r.run_id = t.run_id
           WHERE t.state = 'queued' AND t.claimed_at IS NULL AND r.state = 'running'
             AND t.queue IN (SELECT value FROM json_each(?))
           ORDER BY t.queued_at, t.rowid LIMIT ?`,
        )
        .all(JSON.stringify(queues), n) as (DagRunRow & ClaimColumns<string>)[];
      const take = q.get(
        `UPDATE task_instances SET claimed_host = ?, claimed_pid = ?, claimed_at = ? WHERE run_id = ? AND task_id = ?`,
      );
      for (const r of rows) take.run(host, pid, iso(now), r.run_id, r.task_id);
      return rows.map((r) => toClaimed(r, { run: toRun, instance: toTaskInstance, time: (t) => new Date(t) }));
    }, true);
  }

  async releaseStale(before: Date): Promise<number> {
    return this.q
      .get(
        `UPDATE task_instances SET claimed_host = NULL, claimed_pid = NULL, claimed_at = NULL
         WHERE state = 'queued' AND claimed_at < ?
           AND NOT EXISTS (SELECT 1 FROM workers w WHERE w.host = claimed_host AND w.pid = claimed_pid AND w.heartbeat_at >= ?)`,
      )
      .run(iso(before), iso(before)).changes;
  }

  async heartbeat(w: Omit<WorkerRecord, 'startedAt' | 'heartbeatAt'>, now: Date): Promise<void> {
    this.q
      .get(
        `INSERT INTO workers (host, pid, queues, concurrency, running, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (host, pid) DO UPDATE SET queues = excluded.queues, concurrency = excluded.concurrency,
           running = excluded.running, heartbeat_at = excluded.heartbeat_at`,
      )
      .run(w.host, w.pid, JSON.stringify(w.queues), w.concurrency, w.running, iso(now), iso(now));
  }

  async leave(host: string, pid: number): Promise<void> {
    this.q.get('DELETE FROM workers WHERE host = ? AND pid = ?').run(host, pid);
  }

  async workers(): Promise<WorkerRecord[]> {
    const rows = this.q.get('SELECT * FROM workers ORDER BY heartbeat_at DESC, host, pid').all() as WorkerRow[];
    return rows.map((r) => ({
      host: r.host,
      pid: r.pid,
      queues: JSON.parse(r.queues) as string[],
      concurrency: r.concurrency,
      running: r.running,
      startedAt: new Date(r.started_at),
      heartbeatAt: new Date(r.heartbeat_at),
    }));
  }
}
