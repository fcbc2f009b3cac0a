/** Active/active schedulers and paused DAGs in PostgreSQL (tables schedulers, dag_state). */
import { HOST, type SchedulerLockHolder, type SchedulerStore } from '../index.js';
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

  /** Several schedulers share a PostgreSQL state: none waits for another (see SchedulerStore). */
  readonly activeActive = true;

  /** Registers this scheduler beside the others; rows silent for `staleMs` (their process died) are forgotten. */
  async acquireLock(now: Date, o: { staleMs?: number } = {}): Promise<SchedulerLockHolder | null> {
    const staleMs = o.staleMs ?? 60_000;
    await this.db.tx(async (q) => {
      await q('DELETE FROM schedulers WHERE heartbeat_at < $1', [new Date(now.getTime() - staleMs)]);
      await q(
        `INSERT INTO schedulers (host, pid, started_at, heartbeat_at) VALUES ($1, $2, $3, $3)
         ON CONFLICT (host, pid) DO UPDATE SET started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at`,
        [HOST, process.pid, now],
      );
    });
    return null;
  }

  /** Also registers again a scheduler whose row another one forgot (it was cut off longer than staleMs). */
  async heartbeat(now: Date): Promise<void> {
    await this.db.q(
      `INSERT INTO schedulers (host, pid, started_at, heartbeat_at) VALUES ($1, $2, $3, $3)
       ON CONFLICT (host, pid) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`,
      [HOST, process.pid, now],
    );
  }

  async releaseLock(): Promise<void> {
    await this.db.q('DELETE FROM schedulers WHERE host = $1 AND pid = $2', [HOST, process.pid]);
  }

  async schedulers(): Promise<SchedulerLockHolder[]> {
    const rows = await this.db.q<LockRow>('SELECT * FROM schedulers ORDER BY heartbeat_at DESC, host, pid');
    return rows.map(toLockHolder);
  }
}
