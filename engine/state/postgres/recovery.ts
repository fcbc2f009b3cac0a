/** Finding and recovering the tries and runs of processes of this host that died, in PostgreSQL. */
import { HOST, processAlive, type AliveCheck, type Orphan, type RecoveryStore } from '../index.js';
import type { Db } from './db.js';
import { toTry, type Q, type TryRow } from './rows.js';
import { requeue } from './runs.js';
import { failLostTry } from './tasks.js';

async function runningTriesHere(q: Q) {
  return (await q<TryRow>(`SELECT * FROM task_tries WHERE state = 'running' AND host = $1 ORDER BY try_id`, [HOST])).map(toTry);
}

export class PostgresRecoveryStore implements RecoveryStore {
  constructor(private readonly db: Db) {}

  async hasOrphans(alive: AliveCheck = processAlive): Promise<boolean> {
    return (await runningTriesHere(this.db.q)).some((t) => !alive(t.pid));
  }

  recover(now: Date, alive: AliveCheck = processAlive): Promise<Orphan[]> {
    return this.db.tx(async (q) => {
      const orphans: Orphan[] = [];
      for (const t of await runningTriesHere(q)) {
        if (alive(t.pid)) continue;
        orphans.push(await failLostTry(q, t, now, `process died: pid ${t.pid} on ${t.host} ended while this try was running`));
      }
      const runs = await q<{ run_id: string; pid: number }>(
        `SELECT run_id, pid FROM dag_runs WHERE state = 'running' AND host = $1 AND pid IS NOT NULL`,
        [HOST],
      );
      for (const r of runs) {
        if (!alive(r.pid))
          await requeue(q, r.run_id, `process died: pid ${r.pid} ended while the run was in progress; to be resumed`);
      }
      return orphans;
    });
  }
}
