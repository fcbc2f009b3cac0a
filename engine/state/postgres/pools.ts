/** Pools in PostgreSQL (table pools; the slots held are task_instances.pool, pool_slots and pool_try). */
import type { PoolRecord, PoolStore, PoolTake, PoolUsage } from '../index.js';
import type { Db } from './db.js';
import type { Q } from './rows.js';
import { holdsSlots } from '../pool-sql.js';

interface PoolRow {
  name: string;
  slots: number;
  description: string | null;
  updated_at: Date;
}

const toPool = (r: PoolRow): PoolRecord => ({
  name: r.name,
  slots: r.slots,
  description: r.description,
  updatedAt: r.updated_at,
});

async function used(q: Q, pool: string, except: { runId: string; taskId: string }): Promise<number> {
  const [r] = await q<{ used: string }>(
    `SELECT coalesce(sum(pool_slots), 0) AS used FROM task_instances
     WHERE pool = $1 AND NOT (run_id = $2 AND task_id = $3) AND ${holdsSlots()}`,
    [pool, except.runId, except.taskId],
  );
  return Number(r!.used);
}

export class PostgresPoolStore implements PoolStore {
  constructor(private readonly db: Db) {}

  async set(name: string, slots: number, o: { description?: string | null; now: Date }): Promise<void> {
    await this.db.q(
      `INSERT INTO pools (name, slots, description, updated_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (name) DO UPDATE SET slots = excluded.slots,
         description = coalesce(excluded.description, pools.description), updated_at = excluded.updated_at`,
      [name, slots, o.description ?? null, o.now],
    );
  }

  async get(name: string): Promise<PoolRecord | undefined> {
    const [r] = await this.db.q<PoolRow>('SELECT * FROM pools WHERE name = $1', [name]);
    return r && toPool(r);
  }

  async list(): Promise<PoolUsage[]> {
    const rows = await this.db.q<PoolRow & { running: string; starting: string }>(
      `SELECT p.*,
         coalesce(sum(t.pool_slots) FILTER (WHERE t.state = 'running'), 0) AS running,
         coalesce(sum(t.pool_slots) FILTER (WHERE t.state = 'queued'), 0) AS starting
       FROM pools p LEFT JOIN task_instances t ON t.pool = p.name AND ${holdsSlots('t.')}
       GROUP BY p.name ORDER BY p.name`,
    );
    return rows.map((r) => ({ ...toPool(r), running: Number(r.running), starting: Number(r.starting) }));
  }

  async delete(name: string): Promise<boolean> {
    return (await this.db.q('DELETE FROM pools WHERE name = $1 RETURNING name', [name])).length > 0;
  }

  /** The pool's row is locked FOR UPDATE: takers of one pool go one at a time, on any host. */
  take(runId: string, taskId: string, pool: string, slots: number): Promise<PoolTake> {
    return this.db.tx(async (q): Promise<PoolTake> => {
      const [p] = await q<{ slots: number }>('SELECT slots FROM pools WHERE name = $1 FOR UPDATE', [pool]);
      if (!p) return { outcome: 'missing' };
      const inUse = await used(q, pool, { runId, taskId });
      if (inUse + slots > p.slots) return { outcome: 'full', used: inUse, slots: p.slots };
      await q(
        `UPDATE task_instances SET pool = $1, pool_slots = $2, pool_try = try_number + 1 WHERE run_id = $3 AND task_id = $4`,
        [pool, slots, runId, taskId],
      );
      return { outcome: 'taken' };
    });
  }
}
