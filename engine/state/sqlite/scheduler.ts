/** The scheduler's lock and paused DAGs in SQLite (tables scheduler_lock, dag_state). */
import { HOST, processAlive, type AliveCheck, type SchedulerLockHolder, type SchedulerStore } from '../index.js';
import { iso, toLockHolder, type SchedulerLockRow, type Statements } from './rows.js';

export class SqliteSchedulerStore implements SchedulerStore {
  /** An embedded state is one host's: one scheduler at a time holds the lock (see SchedulerStore). */
  readonly activeActive = false;

  constructor(private readonly q: Statements) {}

  async setPaused(dagId: string, paused: boolean, now: Date): Promise<void> {
    this.q
      .get(
        `INSERT INTO dag_state (dag_id, paused, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (dag_id) DO UPDATE SET paused = excluded.paused, updated_at = excluded.updated_at`,
      )
      .run(dagId, paused ? 1 : 0, iso(now));
  }

  async pausedDags(): Promise<Set<string>> {
    const rows = this.q.get('SELECT dag_id FROM dag_state WHERE paused = 1').all() as { dag_id: string }[];
    return new Set(rows.map((r) => r.dag_id));
  }

  /** One IMMEDIATE transaction, so two schedulers starting at once never both take it. */
  async acquireLock(now: Date, o: { staleMs?: number; alive?: AliveCheck } = {}): Promise<SchedulerLockHolder | null> {
    const staleMs = o.staleMs ?? 60_000;
    const alive = o.alive ?? processAlive;
    const q = this.q;
    return q.tx(() => {
      const held = q.get('SELECT * FROM scheduler_lock WHERE id = 1').get() as SchedulerLockRow | undefined;
      if (held && !(held.host === HOST && held.pid === process.pid)) {
        const live = held.host === HOST ? alive(held.pid) : now.getTime() - Date.parse(held.heartbeat_at) < staleMs;
        if (live) return toLockHolder(held);
      }
      q.get(`INSERT OR REPLACE INTO scheduler_lock (id, host, pid, started_at, heartbeat_at) VALUES (1, ?, ?, ?, ?)`).run(
        HOST,
        process.pid,
        iso(now),
        iso(now),
      );
      return null;
    }, true);
  }

  async heartbeat(now: Date): Promise<void> {
    this.q
      .get('UPDATE scheduler_lock SET heartbeat_at = ? WHERE id = 1 AND host = ? AND pid = ?')
      .run(iso(now), HOST, process.pid);
  }

  async releaseLock(): Promise<void> {
    this.q.get('DELETE FROM scheduler_lock WHERE id = 1 AND host = ? AND pid = ?').run(HOST, process.pid);
  }

  async schedulers(): Promise<SchedulerLockHolder[]> {
    const r = this.q.get('SELECT * FROM scheduler_lock WHERE id = 1').get() as SchedulerLockRow | undefined;
    return r ? [toLockHolder(r)] : [];
  }
}
