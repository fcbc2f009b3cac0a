/** Finding and recovering the tries and runs of processes of this host that died, in PostgreSQL. */
import type { TaskState } from '../../interfaces.js';
import { HOST, processAlive, type AliveCheck, type Orphan, type RecoveryStore } from '../index.js';
import type { Db } from './db.js';
import { toTry, type Q, type TryRow } from './rows.js';
import { requeue } from './runs.js';
import { endTry, getTaskInstance } from './tasks.js';

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
        const ti = await getTaskInstance(q, t.runId, t.taskId);
        const retry = ti !== undefined && ti.tryNumber < ti.maxTries;
        const newState: TaskState = retry ? 'up_for_retry' : 'failed';
        await endTry(q, t, {
          state: 'failed',
          taskState: newState,
          now,
          error: `process died: pid ${t.pid} on ${t.host} ended while this try was running`,
          nextTryAt: retry ? now : null,
        });
        orphans.push({ runId: t.runId, taskId: t.taskId, tryNumber: t.tryNumber, pid: t.pid, host: t.host, newState });
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
