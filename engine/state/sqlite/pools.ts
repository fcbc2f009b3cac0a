/** Pools in SQLite (table pools; the slots held are task_instances.pool, pool_slots and pool_try). */
import type { PoolRecord, PoolStore, PoolTake, PoolUsage } from '../index.js';
import { holdsSlots } from '../pool-sql.js';
import { iso, type Statements } from './rows.js';

interface PoolRow {
  name: string;
  slots: number;
  description: string | null;
  updated_at: string;
}

const toPool = (r: PoolRow): PoolRecord => ({
  name: r.name,
  slots: r.slots,
  description: r.description,
  updatedAt: new Date(r.updated_at),
});

export class SqlitePoolStore implements PoolStore {
  constructor(private readonly q: Statements) {}

  async set(name: string, slots: number, o: { description?: string | null; now: Date }): Promise<void> {
    this.q
      .get(
        `INSERT INTO pools (name, slots, description, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET slots = excluded.slots,
           description = coalesce(excluded.description, pools.description), updated_at = excluded.updated_at`,
      )
      .run(name, slots, o.description ?? null, iso(o.now));
  }

  async get(name: string): Promise<PoolRecord | undefined> {
    const r = this.q.get('SELECT * FROM pools WHERE name = ?').get(name) as PoolRow | undefined;
    return r && toPool(r);
  }

  async list(): Promise<PoolUsage[]> {
    const rows = this.q
      .get(
        `SELECT p.*,
           coalesce(sum(CASE WHEN t.state = 'running' THEN t.pool_slots END), 0) AS running,
           coalesce(sum(CASE WHEN t.state = 'queued' THEN t.pool_slots END), 0) AS starting
         FROM pools p LEFT JOIN task_instances t ON t.pool = p.name AND ${holdsSlots('t.')}
         GROUP BY p.name ORDER BY p.name`,
      )
      .all() as (PoolRow & { running: number; starting: number })[];
    return rows.map((r) => ({ ...toPool(r), running: r.running, starting: r.starting }));
  }

  async delete(name: string): Promise<boolean> {
    return this.q.get('DELETE FROM pools WHERE name = ?').run(name).changes > 0;
  }

  /** One IMMEDIATE transaction: the count and the take happen under SQLite's write lock, across processes. */
  async take(runId: string, taskId: string, pool: string, slots: number): Promise<PoolTake> {
    const q = this.q;
    return q.tx((): PoolTake => {
      const p = q.get('SELECT slots FROM pools WHERE name = ?').get(pool) as { slots: number } | undefined;
      if (!p) return { outcome: 'missing' };
      const { used } = q
        .get(
          `SELECT coalesce(sum(pool_slots), 0) AS used FROM task_instances
           WHERE pool = ? AND NOT (run_id = ? AND task_id = ?) AND ${holdsSlots()}`,
        )
        .get(pool, runId, taskId) as { used: number };
      if (used + slots > p.slots) return { outcome: 'full', used, slots: p.slots };
      q.get(`UPDATE task_instances SET pool = ?, pool_slots = ?, pool_try = try_number + 1 WHERE run_id = ? AND task_id = ?`).run(
        pool,
        slots,
        runId,
        taskId,
      );
      return { outcome: 'taken' };
    }, true);
  }
}
