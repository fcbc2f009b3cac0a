/** Leases on running tries in PostgreSQL (task_tries.lease_until), and recovery of the tries whose lease ended. */
import { HOST, workerLostMessage, type LeaseStore, type Orphan, type TaskTry } from '../index.js';
import type { Db } from './db.js';
import { toTry, type TryRow } from './rows.js';
import { requeue } from './runs.js';
import { failLostTry } from './tasks.js';

export class PostgresLeaseStore implements LeaseStore {
  constructor(private readonly db: Db) {}

  async renew(tryId: number, until: Date): Promise<boolean> {
    const rows = await this.db.q(
      `UPDATE task_tries SET lease_until = greatest(lease_until, $1) WHERE try_id = $2 AND state = 'running' RETURNING try_id`,
      [until, tryId],
    );
    return rows.length === 1;
  }

  async expired(now: Date): Promise<TaskTry[]> {
    const rows = await this.db.q<TryRow>(
      `SELECT * FROM task_tries WHERE state = 'running' AND lease_until < $1 ORDER BY try_id`,
      [now],
    );
    return rows.map(toTry);
  }

  /** Rows locked FOR UPDATE SKIP LOCKED: a try another process is recovering right now is its to recover. */
  recoverExpired(now: Date): Promise<Orphan[]> {
    return this.db.tx(async (q) => {
      const rows = await q<TryRow & { lease_until: Date }>(
        `SELECT * FROM task_tries WHERE state = 'running' AND lease_until < $1 ORDER BY try_id FOR UPDATE SKIP LOCKED`,
        [now],
      );
      const lost: Orphan[] = [];
      for (const row of rows) {
        const t = toTry(row);
        const orphan = await failLostTry(q, t, now, workerLostMessage(t, row.lease_until));
        // The process that ran the try was executing its run: the run goes back to the queue, for any scheduler.
        const owned = await q(
          `SELECT 1 FROM dag_runs WHERE run_id = $1 AND state = 'running' AND host = $2 AND pid = $3 FOR UPDATE`,
          [t.runId, t.host, t.pid],
        );
        if (owned.length)
          await requeue(
            q,
            t.runId,
            `worker lost: pid ${t.pid} on ${t.host} stopped while the run was in progress; to be resumed`,
          );
        lost.push(orphan);
      }
      return lost;
    });
  }

  async renewRun(runId: string, until: Date): Promise<boolean> {
    const rows = await this.db.q(
      `UPDATE dag_runs SET lease_until = greatest(lease_until, $1)
       WHERE run_id = $2 AND state = 'running' AND host = $3 AND pid = $4 RETURNING run_id`,
      [until, runId, HOST, process.pid],
    );
    return rows.length === 1;
  }

  /** Rows locked FOR UPDATE SKIP LOCKED, as recoverExpired: each run is recovered by one process. */
  recoverExpiredRuns(now: Date): Promise<{ runId: string; host: string | null; pid: number | null }[]> {
    return this.db.tx(async (q) => {
      const rows = await q<{ run_id: string; host: string | null; pid: number | null; lease_until: Date }>(
        `SELECT r.run_id, r.host, r.pid, r.lease_until FROM dag_runs r
         WHERE r.state = 'running' AND r.lease_until < $1
           AND NOT EXISTS (SELECT 1 FROM task_tries t WHERE t.run_id = r.run_id AND t.state = 'running'
                             AND t.host = r.host AND t.pid = r.pid AND t.lease_until >= $1)
         ORDER BY r.lease_until FOR UPDATE OF r SKIP LOCKED`,
        [now],
      );
      for (const r of rows) {
        await requeue(
          q,
          r.run_id,
          `scheduler lost: pid ${r.pid} on ${r.host} stopped renewing the run's lease (it ended at ` +
            `${r.lease_until.toISOString()}); to be resumed`,
        );
      }
      return rows.map((r) => ({ runId: r.run_id, host: r.host, pid: r.pid }));
    });
  }
}
