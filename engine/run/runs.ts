/**
 * The run lifecycle, in one place: create a run (manual, scheduled,
 * backfill), rerun it (all tasks or the failed ones), clear tasks (with
 * their downstream or upstream), mark it or some of its tasks, plan a backfill, count the runs being executed
 * (max_active_runs) and recover the runs and tries of processes that died.
 *
 * Every front door (the CLI verbs, the scheduler daemon, the tests' harness,
 * the benches; a web server and remote workers next) asks this module, so a
 * run means the same thing wherever the request comes from: one per
 * (dag_id, logical_date), its conf checked against the DAG's params, never
 * touched while another process executes it. Executing a run is the
 * runner's job (executeRun), once the run is claimed here.
 *
 * Errors a request can cause are RunRequestErrors (exit 2) whose messages
 * say what to do; they never write to the console (the caller decides).
 */
import type { Dag, RunType } from '../interfaces.js';
import { RunRequestError } from '../errors.js';
import { validateConf } from '../dag/params.js';
import { intervalsBetween, type DataInterval } from '../dag/interval.js';
import {
  HOST,
  isExecuting,
  processAlive,
  type AliveCheck,
  type DagRun,
  type Orphan,
  type NewRun,
  type StateStore,
  type TaskSeed,
  type TriggerOutcome,
} from '../state/index.js';
import { systemClock, type Clock } from './clock.js';

export type { AliveCheck, DataInterval };
export { isExecuting };

export interface RunsOptions {
  clock?: Clock;
  alive?: AliveCheck;
}

export interface CreateRunRequest {
  dag: Dag;
  interval: DataInterval;
  runType: RunType;
  /**
   * The run's conf, checked against the DAG's params (all required params
   * given, every value fitting). Absent: `{}`, unchecked (scheduled and
   * backfill runs render with the params' defaults).
   */
  conf?: Record<string, unknown>;
  /** Create it already claimed (running, owned by this process), so no scheduler picks it up. */
  claim?: boolean;
  /** Tries every task gets (default: its retries + 1); the benches use 1 to fail fast. */
  maxTries?: number;
}

export interface TriggerRequest {
  /** The conf of a new run; with rerun, replaces the run's conf (absent: the run keeps its own). */
  conf?: Record<string, unknown>;
  /** Run an existing run of that date again (its tasks are cleared). */
  rerun?: boolean;
  /** With rerun: only its failed and unfinished tasks. */
  failedOnly?: boolean;
}

export interface RerunRequest {
  /** Only the tasks not finished successfully (failed, upstream_failed, unfinished). */
  failedOnly?: boolean;
  /** Replaces the run's conf (checked against the params); absent: the run keeps its own. */
  conf?: Record<string, unknown>;
  /** Take the run for this process at once (it is executed here next). */
  claim?: boolean;
}

export interface ClearTasksRequest {
  /** The tasks to clear (default: all). */
  tasks?: string[];
  /** With tasks: also every task downstream of them. */
  downstream?: boolean;
  /** With tasks: also every task upstream of them. */
  upstream?: boolean;
  /** Only the tasks not finished successfully. */
  failedOnly?: boolean;
}

/** Which task instances besides the chosen ones a clear or a mark takes (Airflow's upstream/downstream scopes). */
export interface TaskScope {
  downstream?: boolean;
  upstream?: boolean;
}

export type Reprocess = 'failed' | 'completed' | 'none';

export interface PlannedInterval {
  interval: DataInterval;
  existing: DagRun | undefined;
  action: 'create' | 'rerun' | 'rerun failed' | 'skip';
}

export interface ActiveRunsFilter {
  dagId?: string;
  /** Leave out the runs this process executes (a caller that counts its own already). */
  excludeOwn?: boolean;
}

/** How often triggerWhenSlotFree looks again for a free max_active_runs slot. */
export const SLOT_POLL_MS = 500;

/** `2018-11-21T00:00:00Z`: as run ids and the CLI show dates. */
function iso(d: Date | string): string {
  return new Date(d).toISOString().replace('.000Z', 'Z');
}

/** Tries each task of `dag` gets when its run is created or cleared: retries + 1. */
function triesFor(dag: Dag): (taskId: string) => number {
  return (id) => (dag.tasks.get(id)?.retries ?? 0) + 1;
}

function taskInstances(dag: Dag, maxTries?: number): TaskSeed[] {
  const tries = triesFor(dag);
  return dag.order.map((id) => ({
    taskId: id,
    operator: dag.tasks.get(id)!.operator,
    maxTries: maxTries ?? tries(id),
  }));
}

/** All tasks downstream of the given ones (transitively), with them, in the DAG's order. */
export function downstreamClosure(dag: Dag, ids: string[]): string[] {
  const seen = new Set(ids);
  const work = [...ids];
  while (work.length) {
    for (const d of dag.downstream.get(work.pop()!) ?? []) {
      if (seen.has(d)) continue;
      seen.add(d);
      work.push(d);
    }
  }
  return dag.order.filter((id) => seen.has(id));
}

/** All tasks upstream of the given ones (transitively), with them, in the DAG's order. */
export function upstreamClosure(dag: Dag, ids: string[]): string[] {
  const seen = new Set(ids);
  const work = [...ids];
  while (work.length) {
    for (const u of dag.tasks.get(work.pop()!)?.upstream ?? []) {
      if (seen.has(u)) continue;
      seen.add(u);
      work.push(u);
    }
  }
  return dag.order.filter((id) => seen.has(id));
}

/**
 * The chosen tasks with those of the scope (upstream, downstream or both),
 * in the DAG's order. Throws, naming the DAG's tasks, when one is not a task of it.
 */
export function taskSelection(dag: Dag, ids: string[], scope: TaskScope = {}): string[] {
  for (const t of ids) {
    if (!dag.tasks.has(t)) {
      throw new RunRequestError(`DAG ${dag.id} has no task '${t}'. Its tasks: ${dag.order.join(', ')}`);
    }
  }
  const chosen = new Set(ids);
  if (scope.downstream) for (const t of downstreamClosure(dag, ids)) chosen.add(t);
  if (scope.upstream) for (const t of upstreamClosure(dag, ids)) chosen.add(t);
  return dag.order.filter((id) => chosen.has(id));
}

/** The run lifecycle API over one state store; time from the injected clock. */
export class Runs {
  readonly clock: Clock;
  private readonly alive: AliveCheck;

  constructor(
    readonly store: StateStore,
    opts: RunsOptions = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    this.alive = opts.alive ?? processAlive;
  }

  // -- reading ----------------------------------------------------------------

  get(runId: string): Promise<DagRun | undefined> {
    return this.store.runs.get(runId);
  }

  /** The DAG's run for the data interval starting at `logicalDate`, if any. */
  forDate(dagId: string, logicalDate: Date): Promise<DagRun | undefined> {
    return this.store.runs.forDate(dagId, logicalDate);
  }

  /** The latest run of a DAG by logical date (of one run type, or any). */
  latest(dagId: string, runType?: RunType): Promise<DagRun | undefined> {
    return this.store.runs.latest(dagId, runType);
  }

  /** Runs waiting for an executor, oldest logical date first. */
  queued(): Promise<DagRun[]> {
    return this.store.runs.queued();
  }

  isExecuting(run: DagRun): boolean {
    return isExecuting(run, this.alive);
  }

  /**
   * The runs being executed right now by any process sharing the state DB:
   * what `max_active_runs` counts, whichever front door (run-dag, the
   * scheduler, backfill) executes them.
   */
  async activeRuns(f: ActiveRunsFilter = {}): Promise<DagRun[]> {
    const running = await this.store.runs.list({ dagId: f.dagId, state: 'running', limit: 100_000 });
    return running.filter((r) => (isOwn(r) ? !f.excludeOwn : this.isExecuting(r)));
  }

  /**
   * The run, which no process is executing: what may be cleared, rerun or
   * marked. Throws when there is no such run or another process executes it.
   */
  async idleRun(runId: string): Promise<DagRun> {
    const run = await this.store.runs.get(runId);
    if (!run) throw new RunRequestError(`no run '${runId}' (see: sluice runs list)`);
    if (this.isExecuting(run)) {
      throw new RunRequestError(`run ${runId} is being executed by process ${run.pid}; wait for it or stop it first`);
    }
    return run;
  }

  // -- creating and claiming ----------------------------------------------------

  /**
   * Creates a queued run of `dag` for the interval, with a task instance per
   * task. Idempotent per (dag_id, logical_date): returns null, changing
   * nothing, when the DAG already has a run for that logical date.
   */
  createRun(r: CreateRunRequest): Promise<DagRun | null> {
    if (r.conf !== undefined) validateConf(r.dag, r.conf);
    return this.store.runs.create(this.newRun(r.dag, r.interval, r.runType, r.conf ?? {}, r.maxTries, r.claim));
  }

  /**
   * Takes a queued run for this process (running, our pid). False when
   * another process took it first: two executors never run the same run.
   * With `maxActiveRuns`, also false when the DAG has that many runs
   * executing in any process (counted and claimed in one atomic step).
   * With `leaseMs`, the run's lease starts (renewed by executeRun).
   */
  claim(runId: string, o: { maxActiveRuns?: number; leaseMs?: number } = {}): Promise<boolean> {
    return this.store.runs.claim(runId, this.clock.now(), {
      maxActiveRuns: o.maxActiveRuns,
      executing: (r) => this.isExecuting(r),
      leaseUntil: o.leaseMs === undefined ? undefined : new Date(Date.now() + o.leaseMs),
    });
  }

  /**
   * Queues an idle run again (Airflow's "clear"): adds task instances for
   * tasks added to the DAG since, clears all its tasks or the failed ones
   * (each gets its full tries again; tries and logs are kept), and replaces
   * its conf when one is given. Returns the run and the tasks cleared.
   */
  async rerun(dag: Dag, runId: string, o: RerunRequest = {}): Promise<{ run: DagRun; cleared: string[] }> {
    const run = await this.idleRun(runId);
    this.checkDagOf(dag, run);
    if (o.conf !== undefined) validateConf(dag, o.conf);
    const cleared = await this.reset(dag, runId, o);
    return { run: (await this.store.runs.get(runId))!, cleared };
  }

  /**
   * A manual run for the interval (run-dag): a new run, claimed by this
   * process; or, with `rerun`, the existing one cleared and claimed.
   * Returns null, having changed nothing, when the DAG already has
   * `maxActiveRuns` runs executing (absent: no limit); the count and the
   * write are one atomic step of the state store, so two processes never
   * both take the last slot.
   */
  async trigger(dag: Dag, interval: DataInterval, o: TriggerRequest = {}, maxActiveRuns?: number): Promise<DagRun | null> {
    const result = await this.tryTrigger(dag, interval, o, maxActiveRuns);
    return result.outcome === 'no-slot' ? null : result.run;
  }

  /**
   * trigger() once the DAG has fewer than `max_active_runs` runs executing
   * in any process sharing the state DB (run-dag, the scheduler, backfill).
   * Airflow queues a run past the limit; this waits likewise, calling
   * `onWaiting` once with the runs it waits for, until a slot frees or the
   * signal aborts (then null, nothing created).
   */
  async triggerWhenSlotFree(
    dag: Dag,
    interval: DataInterval,
    o: TriggerRequest,
    signal: AbortSignal,
    onWaiting: (active: DagRun[]) => void = () => undefined,
  ): Promise<DagRun | null> {
    let told = false;
    for (;;) {
      const result = await this.tryTrigger(dag, interval, o, dag.maxActiveRuns);
      if (result.outcome !== 'no-slot') return result.run;
      if (!told) {
        told = true;
        onWaiting(result.active);
      }
      await this.clock.sleep(SLOT_POLL_MS, signal);
      if (signal.aborted) return null;
    }
  }

  // -- clearing and marking -------------------------------------------------------

  /**
   * Clears tasks of an idle run so they run again (`sluice tasks clear`): the
   * named ones (with everything downstream of them when asked) or all, or
   * only those not finished successfully. The run goes back to the queue,
   * for a scheduler (or `run-dag --rerun`) to resume.
   */
  async clearTasks(dag: Dag, runId: string, o: ClearTasksRequest = {}): Promise<{ run: DagRun; cleared: string[] }> {
    const run = await this.idleRun(runId);
    this.checkDagOf(dag, run);
    let ids: string[] | undefined;
    if (o.tasks && o.tasks.length) {
      ids = taskSelection(dag, o.tasks, o);
    } else if (o.downstream) throw new RunRequestError('--downstream goes with --task');
    else if (o.upstream) throw new RunRequestError('--upstream goes with --task');
    const cleared = await this.store.runs.clearTasks(runId, {
      triesFor: triesFor(dag),
      now: this.clock.now(),
      taskIds: ids,
      failedOnly: o.failedOnly,
    });
    return { run, cleared };
  }

  /**
   * Marks an idle run success or failed by hand (Airflow's "mark
   * success/failed"): success marks every task not yet successful or skipped
   * success; failed marks every unfinished task failed.
   */
  async markRun(runId: string, state: string): Promise<DagRun> {
    if (state !== 'success' && state !== 'failed') {
      throw new RunRequestError(`a run can be marked success or failed, not '${state}'`);
    }
    await this.idleRun(runId);
    await this.store.runs.mark(runId, state, this.clock.now());
    return (await this.store.runs.get(runId))!;
  }

  /**
   * Marks task instances of an idle run success or failed by hand (Airflow's
   * "mark success/failed" on task instances), with everything downstream or
   * upstream of them when asked. The run follows: queued again (for a
   * scheduler or `run-dag --rerun` to resume) while tasks remain
   * unfinished, else finished as its tasks say. Returns the run, the tasks
   * chosen and those whose state changed.
   */
  async markTasks(
    dag: Dag,
    runId: string,
    taskIds: string[],
    state: string,
    scope: TaskScope = {},
  ): Promise<{ run: DagRun; tasks: string[]; marked: string[] }> {
    if (state !== 'success' && state !== 'failed') {
      throw new RunRequestError(`a task instance can be marked success or failed, not '${state}'`);
    }
    if (!taskIds.length) throw new RunRequestError('name the tasks to mark (none given)');
    const run = await this.idleRun(runId);
    this.checkDagOf(dag, run);
    const tasks = taskSelection(dag, taskIds, scope);
    const { marked } = await this.store.runs.markTasks(runId, tasks, state, this.clock.now());
    return { run: (await this.store.runs.get(runId))!, tasks, marked };
  }

  // -- backfill ---------------------------------------------------------------------

  /**
   * What a backfill of [from, to] would do for each data interval: create
   * its run, rerun it (`reprocess: completed`: all of them; `failed`: the
   * ones not successful, their failed tasks only) or skip it (a run exists
   * and is not to be reprocessed, or is being executed right now).
   */
  async planBackfill(dag: Dag, from: Date, to: Date, reprocess: Reprocess): Promise<PlannedInterval[]> {
    if (to < from) throw new RunRequestError(`--to (${iso(to)}) is before --from (${iso(from)})`);
    if (dag.schedule === null) {
      throw new RunRequestError(`DAG ${dag.id} has no schedule, so it has no intervals to backfill`);
    }
    const plan: PlannedInterval[] = [];
    for (const interval of intervalsBetween(dag, from, to)) {
      const existing = await this.store.runs.forDate(dag.id, interval.start);
      let action: PlannedInterval['action'] = 'create';
      if (existing) {
        if (this.isExecuting(existing)) action = 'skip';
        else if (reprocess === 'completed') action = 'rerun';
        else if (reprocess === 'failed' && existing.state !== 'success') action = 'rerun failed';
        else action = 'skip';
      }
      plan.push({ interval, existing, action });
    }
    return plan;
  }

  /**
   * Does what a backfill plan says: creates the missing runs (run type
   * backfill) and clears the ones to rerun, all queued. Returns the ids of
   * the runs to execute, in the plan's order; the caller claims each before
   * executing it (another process may take some first).
   */
  async queueBackfill(dag: Dag, plan: PlannedInterval[]): Promise<string[]> {
    const runIds: string[] = [];
    for (const p of plan) {
      if (p.action === 'skip') continue;
      if (p.existing) {
        await this.reset(dag, p.existing.runId, { failedOnly: p.action === 'rerun failed' });
        runIds.push(p.existing.runId);
      } else {
        const run = await this.createRun({ dag, interval: p.interval, runType: 'backfill' });
        if (run) runIds.push(run.runId);
      }
    }
    return runIds;
  }

  // -- crash recovery -----------------------------------------------------------------

  /**
   * Finds tries left running by a process of this host that died, marks
   * them failed (up_for_retry when tries are left) and puts the runs such
   * processes were executing back in the queue. Returns what was found, for
   * the caller to report.
   */
  recoverOrphans(): Promise<Orphan[]> {
    return this.store.recovery.recover(this.clock.now(), this.alive);
  }

  /**
   * Fails the tries whose lease ended, on any host ("worker lost"), up_for_retry
   * when tries are left, and queues again the runs their processes were
   * executing. Leases are wall-clock times (they measure liveness, not the schedule).
   */
  recoverLostTries(): Promise<Orphan[]> {
    return this.store.leases.recoverExpired(new Date());
  }

  /**
   * Runs whose executing process (a scheduler, run-dag) stopped renewing
   * their lease, on any host, are queued again for a scheduler to resume
   * (wall-clock time, as leases). Returns them with the process that had them.
   */
  recoverLostRuns(): Promise<{ runId: string; host: string | null; pid: number | null }[]> {
    return this.store.leases.recoverExpiredRuns(new Date());
  }

  // -- internals ------------------------------------------------------------------------

  private checkDagOf(dag: Dag, run: DagRun): void {
    if (run.dagId !== dag.id) {
      throw new RunRequestError(`run ${run.runId} is a run of DAG ${run.dagId}, not of ${dag.id}`);
    }
  }

  private newRun(
    dag: Dag,
    interval: DataInterval,
    runType: RunType,
    conf: Record<string, unknown>,
    maxTries?: number,
    claim?: boolean,
  ): NewRun {
    return {
      dagId: dag.id,
      logicalDate: interval.start,
      dataIntervalStart: interval.start,
      dataIntervalEnd: interval.end,
      runType,
      conf,
      tasks: taskInstances(dag, maxTries),
      now: this.clock.now(),
      claim,
    };
  }

  /** One atomic trigger step of the store; its refusals as RunRequestErrors. */
  private async tryTrigger(
    dag: Dag,
    interval: DataInterval,
    o: TriggerRequest,
    maxActiveRuns: number | undefined,
  ): Promise<TriggerOutcome> {
    const conf = o.conf ?? {};
    // Checked against the DAG's params before anything renders (a rerun without conf keeps its run's conf).
    validateConf(dag, conf, { partial: Boolean(o.rerun) && o.conf === undefined });
    if (o.failedOnly && !o.rerun) {
      const existing = await this.store.runs.forDate(dag.id, interval.start);
      if (!existing) throw new RunRequestError('--failed-only goes with --rerun of an existing run');
      throw this.refusal(dag, existing);
    }
    const result = await this.store.runs.trigger({
      create: this.newRun(dag, interval, 'manual', conf, undefined, true),
      rerun: o.rerun
        ? {
            tasks: taskInstances(dag),
            clear: { triesFor: triesFor(dag), now: this.clock.now(), failedOnly: o.failedOnly },
            conf: o.conf,
          }
        : undefined,
      maxActiveRuns,
      executing: (r) => isOwn(r) || this.isExecuting(r),
    });
    if (result.outcome === 'exists' || result.outcome === 'executing') throw this.refusal(dag, result.run);
    return result;
  }

  /** Why a manual trigger cannot take the DAG's existing run of that date. */
  private refusal(dag: Dag, existing: DagRun): RunRequestError {
    if (this.isExecuting(existing)) {
      return new RunRequestError(
        `run ${existing.runId} is being executed right now by process ${existing.pid}; wait for it or stop it first`,
      );
    }
    return new RunRequestError(
      `DAG ${dag.id} already has a run for ${iso(existing.logicalDate)}: ${existing.runId} (${existing.state}). ` +
        `Use --rerun to run it again, or --rerun --failed-only for its failed and unfinished tasks only.`,
    );
  }

  /** Adds task instances for new tasks, clears the tasks asked for (the run is queued again), sets the conf. */
  private async reset(dag: Dag, runId: string, o: RerunRequest): Promise<string[]> {
    await this.store.runs.ensureTaskInstances(runId, taskInstances(dag));
    const cleared = await this.store.runs.clearTasks(runId, {
      triesFor: triesFor(dag),
      now: this.clock.now(),
      failedOnly: o.failedOnly,
      claim: o.claim,
    });
    if (o.conf !== undefined) await this.store.runs.setConf(runId, o.conf);
    return cleared;
  }
}

/** A run this process executes. */
function isOwn(r: DagRun): boolean {
  return r.host === HOST && r.pid === process.pid;
}
