/** Task queues and workers in PostgreSQL (task_instances.queue and claimed_*, table workers). */
import type { Claimed, WorkerRecord, WorkStore } from '../index.js';
import type { Db } from './db.js';
import { json } from './rows.js';

export class PostgresWorkStore implements WorkStore {
  constructor(private readonly db: Db) {}

  async enqueue(runId: string, taskId: string, queue: string, now: Date): Promise<void> {
    await this.db.q(
      `UPDATE task_instances SET state = 'queued', queue = $1, queued_at = $2, claimed_host = NULL, claimed_pid = NULL,
         claimed_at = NULL WHERE run_id = $3 AND task_id = $4 AND NOT (state IS NOT DISTINCT FROM 'queued' AND queue IS NOT NULL)`,
      [queue, now, runId, taskId],
    );
  }

  /**
   * One statement: the oldest queued rows are locked FOR UPDATE SKIP LOCKED,
   * so a claimer passes over the rows another claimer is taking right now
   * instead of waiting for them (Airflow's scheduler and Celery-less executors do the same).
   */
  async claim(queues: string[], n: number, host: string, pid: number, now: Date): Promise<Claimed[]> {
    if (queues.length === 0 || n < 1) return [];
    const rows = await this.db.q<{
      run_id: string;
      dag_id: string;
      task_id: string;
      queue: string;
      try_number: number;
      queued_at: Date;
    }>(
      `WITH picked AS (
         SELECT t.run_id, t.task_id FROM task_instances t JOIN dag_runs r ON r.run_id = t.run_id
         WHERE t.state = 'queued' AND t.claimed_at IS NULL AND r.state = 'running' AND t.queue = ANY($1::text[])
         ORDER BY t.queued_at, t.seq LIMIT $2
         FOR UPDATE OF t SKIP LOCKED
       )
       UPDATE task_instances t SET claimed_host = $3, claimed_pid = $4, claimed_at = $5
       FROM picked, dag_runs r
       WHERE t.run_id = picked.run_id AND t.task_id = picked.task_id AND r.run_id = t.run_id
       RETURNING t.run_id, r.dag_id, t.task_id, t.queue, t.try_number, t.queued_at`,
      [queues, n, host, pid, now],
    );
    return rows
      .map((r) => ({
        runId: r.run_id,
        dagId: r.dag_id,
        taskId: r.task_id,
        queue: r.queue,
        tryNumber: r.try_number,
        queuedAt: r.queued_at,
      }))
      .sort((a, b) => a.queuedAt.getTime() - b.queuedAt.getTime());
  }

  async releaseStale(before: Date): Promise<number> {
    const rows = await this.db.q(
      `UPDATE task_instances SET claimed_host = NULL, claimed_pid = NULL, claimed_at = NULL
       WHERE state = 'queued' AND claimed_at < $1 RETURNING task_id`,
      [before],
    );
    return rows.length;
  }

  async heartbeat(w: Omit<WorkerRecord, 'startedAt' | 'heartbeatAt'>, now: Date): Promise<void> {
    await this.db.q(
      `INSERT INTO workers (host, pid, queues, concurrency, running, started_at, heartbeat_at)
       VALUES ($1, $2, $3, $4, $5, $6, $6)
       ON CONFLICT (host, pid) DO UPDATE SET queues = excluded.queues, concurrency = excluded.concurrency,
         running = excluded.running, heartbeat_at = excluded.heartbeat_at`,
      [w.host, w.pid, json(w.queues), w.concurrency, w.running, now],
    );
  }

  async leave(host: string, pid: number): Promise<void> {
    await this.db.q('DELETE FROM workers WHERE host = $1 AND pid = $2', [host, pid]);
  }

  async workers(): Promise<WorkerRecord[]> {
    const rows = await this.db.q<{
      host: string;
      pid: number;
      queues: string[];
      concurrency: number;
      running: number;
      started_at: Date;
      heartbeat_at: Date;
    }>('SELECT * FROM workers ORDER BY heartbeat_at DESC, host, pid');
    return rows.map((r) => ({
      host: r.host,
      pid: r.pid,
      queues: r.queues,
      concurrency: r.concurrency,
      running: r.running,
      startedAt: r.started_at,
      heartbeatAt: r.heartbeat_at,
    }));
  }
}
