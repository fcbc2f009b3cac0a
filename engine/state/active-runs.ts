/**
 * Runs being executed right now, by any process sharing the state DB: what
 * `max_active_runs` counts, whichever front door (run-dag, the scheduler,
 * backfill) executes them.
 */
import { HOST, processAlive, type DagRunRow, type StateStore } from './store.js';

export interface ActiveRunsFilter {
  dagId?: string;
  /** Leave out the runs this process executes (a caller that counts its own already). */
  excludeOwn?: boolean;
  alive?: (pid: number) => boolean;
}

/**
 * Whether a run is being executed right now: state `running` and its
 * process alive. A process on another host cannot be checked and counts as
 * alive; one of this host that died does not (its run is requeued by the
 * next `recoverOrphans`).
 */
export function isExecuting(r: DagRunRow, alive: (pid: number) => boolean = processAlive): boolean {
  return r.state === 'running' && r.pid !== null && (r.host !== HOST || alive(r.pid));
}

/** The runs being executed right now (isExecuting), by any process sharing the state DB. */
export function activeRuns(store: StateStore, f: ActiveRunsFilter = {}): DagRunRow[] {
  return store.listRuns({ dagId: f.dagId, state: 'running', limit: 100_000 }).filter((r) => {
    const own = r.host === HOST && r.pid === process.pid;
    if (own) return !f.excludeOwn;
    return isExecuting(r, f.alive);
  });
}
