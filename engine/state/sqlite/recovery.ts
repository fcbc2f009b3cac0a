/** Finding and recovering the tries and runs of processes that died, in SQLite. */
import { HOST, processAlive, type AliveCheck, type Orphan } from '../index.js';
import { toRun, toTry, type DagRunRow, type Statements, type TryRow } from './rows.js';
import { requeue } from './runs.js';
import { failLostTry } from './tasks.js';

/** Tries recorded as running by processes of this host. */
function runningTriesHere(q: Statements) {
  return (q.get(`SELECT * FROM task_tries WHERE state = 'running' AND host = ?`).all(HOST) as TryRow[]).map(toTry);
}

export function hasOrphans(q: Statements, alive: AliveCheck = processAlive): boolean {
  return runningTriesHere(q).some((t) => !alive(t.pid));
}

/**
 * Fails each try left `running` by a gone process of this host ("process
 * died"), moving its task instance to up_for_retry (tries left) or failed,
 * and queues again the runs such processes were executing, in one transaction.
 */
export function recover(q: Statements, now: Date, alive: AliveCheck = processAlive): Orphan[] {
  return q.tx(() => {
    const orphans: Orphan[] = [];
    for (const t of runningTriesHere(q)) {
      if (alive(t.pid)) continue;
      orphans.push(failLostTry(q, t, now, `process died: pid ${t.pid} on ${t.host} ended while this try was running`));
    }
    const runs = (
      q.get(`SELECT * FROM dag_runs WHERE state = 'running' AND host = ? AND pid IS NOT NULL`).all(HOST) as DagRunRow[]
    ).map(toRun);
    for (const r of runs) {
      if (r.pid !== null && !alive(r.pid)) {
        requeue(q, r.runId, `process died: pid ${r.pid} ended while the run was in progress; to be resumed`);
      }
    }
    return orphans;
  });
}
