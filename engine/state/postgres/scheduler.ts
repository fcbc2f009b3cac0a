/** The scheduler's lock and paused DAGs in PostgreSQL (tables scheduler_lock, dag_state). */
import { HOST, processAlive, type AliveCheck, type SchedulerLockHolder, type SchedulerStore } from '../index.js';
import type { Db } from './db.js';
import { toLockHolder } from './rows.js';

type LockRow = Parameters<typeof toLockHolder>[0];

export class PostgresSchedulerStore implements SchedulerStore {
  constructor(private readonly db: Db) {}

  async setPaused(dagId: string, paused: boolean, now: Date): Promise<void> {
    await this.db.q(
      `INSERT INTO dag_state (dag_id, paused, updated_at) VALUES ($1, $2, $3)
       ON CONFLICT (dag_id) DO UPDATE SET paused = excluded.paused, updated_at = excluded.updated_at`,
      [dagId, paused, now],
    );
  }

  async pausedDags(): Promise<Set<string>> {
    const rows = await this.db.q<{ dag_id: string }>('SELECT dag_id FROM dag_state WHERE paused');
    return new Set(rows.map((r) => r.dag_id));
  }

  /** The lock row is read FOR UPDATE (created first when missing), so two schedulers never both take it. */
  acquireLock(now: Date, o: { staleMs?: number; alive?: AliveCheck } = {}): Promise<SchedulerLockHolder | null> {
    const staleMs = o.staleMs ?? 60_000;
    const alive = o.alive ?? processAlive;
    return this.db.tx(async (q) => {
      await q(`SELECT pg_advisory_xact_lock(hashtextextended('sluice.scheduler_lock', 0))`);
      const [held] = await q<LockRow>('SELECT * FROM scheduler_lock WHERE id = 1');
      if (held && !(held.host === HOST && held.pid === process.pid)) {
        const live = held.host === HOST ? alive(held.pid) : now.getTime() - held.heartbeat_at.getTime() < staleMs;
        if (live) return toLockHolder(held);
      }
      await q(
        `INSERT INTO scheduler_lock (id, host, pid, started_at, heartbeat_at) VALUES (1, $1, $2, $3, $3)
         ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, started_at = excluded.started_at,
           heartbeat_at = excluded.heartbeat_at`,
        [HOST, process.pid, now],
      );
      return null;
    });
  }

  async heartbeat(now: Date): Promise<void> {
    await this.db.q('UPDATE scheduler_lock SET heartbeat_at = $1 WHERE id = 1 AND host = $2 AND pid = $3', [
      now,
      HOST,
      process.pid,
    ]);
  }

  async releaseLock(): Promise<void> {
    await this.db.q('DELETE FROM scheduler_lock WHERE id = 1 AND host = $1 AND pid = $2', [HOST, process.pid]);
  }

  async holder(): Promise<SchedulerLockHolder | undefined> {
    const [r] = await this.db.q<LockRow>('SELECT * FROM scheduler_lock WHERE id = 1');
    return r && toLockHolder(r);
  }
}
