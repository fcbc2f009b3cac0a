/** Leases on running tries in SQLite (task_tries.lease_until, ISO text: compared as text, it orders as time). */
import { HOST, workerLostMessage, type LeaseStore, type Orphan, type TaskTry } from '../index.js';
import { iso, toTry, type Statements, type TryRow } from './rows.js';
import { requeue } from './runs.js';
import { failLostTry } from './tasks.js';

export class SqliteLeaseStore implements LeaseStore {
  constructor(private readonly q: Statements) {}

  async renew(tryId: number, until: Date): Promise<boolean> {
    const res = this.q
      .get(
        `UPDATE task_tries SET lease_until = CASE WHEN lease_until IS NULL OR lease_until < ? THEN ? ELSE lease_until END
         WHERE try_id = ? AND state = 'running'`,
      )
      .run(iso(until), iso(until), tryId);
    return res.changes === 1;
  }

  async expired(now: Date): Promise<TaskTry[]> {
    const rows = this.q
      .get(`SELECT * FROM task_tries WHERE state = 'running' AND lease_until < ? ORDER BY try_id`)
      .all(iso(now)) as TryRow[];
    return rows.map(toTry);
  }

  /** In one IMMEDIATE transaction: the write lock first, so two processes never both recover the same try. */
  async recoverExpired(now: Date): Promise<Orphan[]> {
    const q = this.q;
    return q.tx(() => {
      const rows = q
        .get(`SELECT * FROM task_tries WHERE state = 'running' AND lease_until < ? ORDER BY try_id`)
        .all(iso(now)) as (TryRow & { lease_until: string })[];
      const lost: Orphan[] = [];
      for (const row of rows) {
        const t = toTry(row);
        const orphan = failLostTry(q, t, now, workerLostMessage(t, new Date(row.lease_until)));
        const owned = q
          .get(`SELECT 1 FROM dag_runs WHERE run_id = ? AND state = 'running' AND host = ? AND pid = ?`)
          .get(t.runId, t.host, t.pid);
        if (owned)
          requeue(q, t.runId, `worker lost: pid ${t.pid} on ${t.host} stopped while the run was in progress; to be resumed`);
        lost.push(orphan);
      }
      return lost;
    }, true);
  }

  async renewRun(runId: string, until: Date): Promise<boolean> {
    const res = this.q
      .get(
        `UPDATE dag_runs SET lease_until = CASE WHEN lease_until IS NULL OR lease_until < ? THEN ? ELSE lease_until END
         WHERE run_id = ? AND state = 'running' AND host = ? AND pid = ?`,
      )
      .run(iso(until), iso(until), runId, HOST, process.pid);
    return res.changes === 1;
  }

  /** In one IMMEDIATE transaction, as recoverExpired. */
  async recoverExpiredRuns(now: Date): Promise<{ runId: string; host: string | null; pid: number | null }[]> {
    const q = this.q;
    return q.tx(() => {
      const rows = q
        .get(
          `SELECT r.run_id, r.host, r.pid, r.lease_until FROM dag_runs r
           WHERE r.state = 'running' AND r.lease_until < ?
             AND NOT EXISTS (SELECT 1 FROM task_tries t WHERE t.run_id = r.run_id AND t.state = 'running'
                               AND t.host = r.host AND t.pid = r.pid AND t.lease_until >= ?)
           ORDER BY r.lease_until`,
        )
        .all(iso(now), iso(now)) as { run_id: string; host: string | null; pid: number | null; lease_until: string }[];
      for (const r of rows) {
        requeue(
          q,
          r.run_id,
          `scheduler lost: pid ${r.pid} on ${r.host} stopped renewing the run's lease (it ended at ${r.lease_until}); ` +
            'to be resumed',
        );
      }
      return rows.map((r) => ({ runId: r.run_id, host: r.host, pid: r.pid }));
    }, true);
  }
}
