/**
 * The scheduler daemon: reads every DAG file, creates runs as their data
 * intervals close, runs queued runs (several at once, sharing one task
 * limit), survives broken DAG files, and stops gracefully.
 *
 * It sleeps until the next interval closes, a run ends, a DAG file changes,
 * or the poll interval passes (to notice runs queued by other commands).
 */
import fs from 'node:fs';
import type { Logger } from 'pino';
import type { Dag, RunState } from '../interfaces.js';
import { DagsFolderError, SchedulerLockError, errorMessage } from '../errors.js';
import type { OperatorRegistry } from '../registry.js';
import { DEFAULT_LEASE_MS, type DagRun, type StateStore } from '../state/index.js';
import { loadDagsDir } from '../dag/index.js';
import { checkDagsFolder, dagsFolderSignature } from '../dag/folder.js';
import { type Clock, setLongTimeout, systemClock } from '../run/clock.js';
import { executeRun, Slots, type RunnerDeps } from '../run/runner.js';
import { Runs } from '../run/runs.js';
import { intervalsBetween, lastCompleteInterval, nextIntervals, type DataInterval } from '../dag/interval.js';

export interface SchedulerOptions {
  store: StateStore;
  registry: OperatorRegistry;
  dagsDir: string;
  /** Tasks running at once across all runs. */
  parallelism: number;
  gracePeriodMs: number;
  runner: Omit<RunnerDeps, 'parallelism' | 'clock' | 'onEvent'>;
  /** The scheduler's own log (console). */
  log: Logger;
  clock?: Clock;
  /** Do what is due, then return (for cron-driven deployments and tests). */
  once?: boolean;
  /** How often to look for runs queued by other commands (tasks clear, crash recovery). */
  pollMs?: number;
  /** Real-time waits between ticks are capped by this (tests with a fake clock set it low). */
  maxSleepMs?: number;
}

interface Loaded {
  dag: Dag;
  file: string;
}

/** The intervals of `dag` that are due at `now` and have no scheduled run yet. */
export function dueIntervals(dag: Dag, latest: Pick<DagRun, 'logicalDate'> | undefined, now: Date): DataInterval[] {
  if (dag.schedule === null) return [];
  if (dag.schedule === '@once') {
    if (latest || !dag.startDate || dag.startDate > now) return [];
    return [{ start: dag.startDate, end: dag.startDate }];
  }
  const after = latest ? new Date(latest.logicalDate.getTime() + 1) : null;
  if (dag.catchup && dag.startDate) {
    const from = after ?? dag.startDate;
    if (from > now) return [];
    return intervalsBetween(dag, from, now).filter((i) => i.end <= now);
  }
  // Airflow (CronDataIntervalTimetable.next_dagrun_info, catchup=False): start from the latest
  // complete interval; when it starts after end_date there is no run at all, not the last one
  // before end_date.
  const last = lastCompleteInterval({ ...dag, endDate: null }, now);
  if (!last || (after && last.start < after) || (dag.endDate && last.start > dag.endDate)) return [];
  return [last];
}

export class Scheduler {
  private readonly o: SchedulerOptions;
  private readonly clock: Clock;
  /** Creating, counting and claiming runs: the run lifecycle API. */
  private readonly runs: Runs;
  private readonly slots: Slots;
  private readonly loaded = new Map<string, Loaded>();
  private readonly reported = new Map<string, string>();
  private readonly active = new Map<string, { dagId: string; done: Promise<RunState> }>();
  private readonly drain = new AbortController();
  private readonly hard = new AbortController();
  private signature = '';
  private wake: () => void = () => {};
  private stopping = false;
  private watcher: fs.FSWatcher | null = null;
  /** The folder the watcher is on (device:inode): a swapped-in folder needs a new watcher. */
  private watched = '';
  /** Why the DAG folder cannot be listed right now (logged once), or null. */
  private folderProblem: string | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  /** With --once: runs already executed in this pass. */
  private readonly executed = new Set<string>();
  runsCreated = 0;
  runsFinished = 0;

  private get leaseMs(): number {
    return this.o.runner.leaseMs ?? DEFAULT_LEASE_MS;
  }

  constructor(opts: SchedulerOptions) {
    this.o = opts;
    this.clock = opts.clock ?? systemClock;
    this.runs = new Runs(opts.store, { clock: this.clock });
    this.slots = new Slots(opts.parallelism);
  }

  /** Asks the loop to stop: no new tasks; running tries get the grace period, then are aborted. */
  stop(reason: string): void {
    if (this.stopping) {
      this.o.log.warn({ reason }, 'second stop request: aborting running tries now');
      this.hard.abort(new Error(`scheduler stopped (${reason})`));
      return;
    }
    this.stopping = true;
    const running = this.active.size;
    this.o.log.info(
      { reason, running_runs: running, grace_period_ms: this.o.gracePeriodMs },
      running ? 'stopping: running tries may finish within the grace period' : 'stopping',
    );
    this.drain.abort(new Error(reason));
    setLongTimeout(() => this.hard.abort(new Error(`scheduler stopped (${reason})`)), this.o.gracePeriodMs).unref();
    this.wake();
  }

  /** Runs until stopped (or, with `once`, until what is due is done). */
  async run(): Promise<void> {
    const { store, log } = this.o;
    // A folder missing at start is a setup mistake (exit 2); one that goes away later is survived (see reload).
    checkDagsFolder(this.o.dagsDir);
    // SQLite: one scheduler at a time (another host's whose heartbeat is older than lease_timeout is taken over).
    // PostgreSQL: active/active, each registered; runs are claimed one by one and their leases recovered.
    const leaseMs = this.leaseMs;
    const holder = await store.scheduler.acquireLock(this.clock.now(), { staleMs: leaseMs });
    if (holder) {
      throw new SchedulerLockError(
        `another scheduler is running on this state DB: pid ${holder.pid} on ${holder.host}, since ${holder.startedAt.toISOString()}. ` +
          `Stop it first (its lock ends with its process), or share a PostgreSQL state to run several schedulers at once.`,
      );
    }
    this.heartbeat = setInterval(
      () => {
        store.scheduler
          .heartbeat(this.clock.now())
          .catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'scheduler heartbeat failed'));
      },
      Math.min(10_000, Math.max(50, Math.floor(leaseMs / 4))),
    );
    this.heartbeat.unref();
    this.watch();
    log.info(
      {
        dags_dir: this.o.dagsDir,
        once: Boolean(this.o.once),
        pid: process.pid,
        executor: this.o.runner.executor ?? 'local',
        active_active: store.scheduler.activeActive,
      },
      'scheduler started',
    );
    try {
      for (;;) {
        const nextDue = await this.tick();
        if (this.stopping) break;
        if (this.o.once && this.active.size === 0) break;
        await this.sleepUntil(nextDue);
        if (this.stopping) break;
      }
      // Drain: let running runs end (or be aborted after the grace period).
      await this.whenIdle();
    } finally {
      this.watcher?.close();
      if (this.heartbeat) clearInterval(this.heartbeat);
      await store.scheduler.releaseLock();
      log.info({ runs_created: this.runsCreated, runs_finished: this.runsFinished }, 'scheduler stopped');
    }
  }

  /** Resolves when no run is executing in this scheduler. */
  async whenIdle(): Promise<void> {
    while (this.active.size > 0) await Promise.allSettled([...this.active.values()].map((a) => a.done));
  }

  /** One pass: reload DAG files, create due runs, start queued runs. Returns when the next interval closes. */
  async tick(): Promise<number> {
    this.reloadIfChanged();
    const now = this.clock.now();
    const paused = await this.o.store.scheduler.pausedDags();
    let nextDue = Infinity;
    if (!this.stopping) {
      await this.recoverLostTries();
      for (const { dag } of this.loaded.values()) {
        if (paused.has(dag.id)) continue;
        await this.createDueRuns(dag, now);
        const next = nextIntervals(dag, now, 1)[0];
        if (next) nextDue = Math.min(nextDue, next.start.getTime());
      }
      await this.startQueuedRuns(paused);
    }
    return nextDue;
  }

  /** Tries whose lease ended (their process died or lost the state, on any host) are failed and retried. */
  private async recoverLostTries(): Promise<void> {
    try {
      for (const o of await this.runs.recoverLostTries()) {
        this.o.log.warn(
          { run_id: o.runId, task_id: o.taskId, try: o.tryNumber, host: o.host, pid: o.pid, state: o.newState },
          `worker lost: try ${o.tryNumber} of ${o.taskId} in ${o.runId} (pid ${o.pid} on ${o.host}) failed; ` +
            (o.newState === 'up_for_retry' ? 'it will be retried' : 'no tries left'),
        );
      }
    } catch (err) {
      this.o.log.warn({ err: errorMessage(err) }, 'could not look for tries whose lease ended');
    }
    // Runs whose scheduler (or run-dag) stopped renewing their lease, on any host, go back to the queue.
    try {
      for (const r of await this.runs.recoverLostRuns()) {
        this.o.log.warn(
          { run_id: r.runId, host: r.host, pid: r.pid },
          `scheduler lost: ${r.runId} (pid ${r.pid} on ${r.host}) stopped renewing its lease; the run is queued again`,
        );
      }
    } catch (err) {
      this.o.log.warn({ err: errorMessage(err) }, 'could not look for runs whose lease ended');
    }
    if (this.o.runner.executor !== 'workers') return;
    // A worker that died between claiming a task and starting its try holds no lease: its claim ends the same way.
    try {
      const released = await this.o.store.work.releaseStale(new Date(Date.now() - this.leaseMs));
      if (released) this.o.log.warn({ tasks: released }, 'claims of workers that never started their try went back to the queue');
    } catch (err) {
      this.o.log.warn({ err: errorMessage(err) }, 'could not look for stale worker claims');
    }
  }

  private async createDueRuns(dag: Dag, now: Date): Promise<void> {
    const { log } = this.o;
    let due: DataInterval[];
    try {
      due = dueIntervals(dag, await this.runs.latest(dag.id, 'scheduled'), now);
    } catch (err) {
      log.error({ dag_id: dag.id, err: errorMessage(err) }, 'cannot compute the due intervals');
      return;
    }
    for (const i of due) {
      const run = await this.runs.createRun({ dag, interval: i, runType: 'scheduled' });
      if (run) {
        this.runsCreated++;
        log.info({ dag_id: dag.id, run_id: run.runId }, 'run created');
      }
    }
  }

  private async startQueuedRuns(paused: Set<string>): Promise<void> {
    const perDag = new Map<string, number>();
    for (const a of this.active.values()) perDag.set(a.dagId, (perDag.get(a.dagId) ?? 0) + 1);
    // Runs other processes execute (run-dag, backfill) count against max_active_runs too.
    for (const r of await this.runs.activeRuns({ excludeOwn: true })) perDag.set(r.dagId, (perDag.get(r.dagId) ?? 0) + 1);
    for (const run of await this.runs.queued()) {
      if (this.active.has(run.runId) || paused.has(run.dagId)) continue;
      if (this.o.once && this.executed.has(run.runId)) continue;
      const loaded = this.loaded.get(run.dagId);
      if (!loaded) continue; // its DAG file is gone or never loaded: reported by reload
      const n = perDag.get(run.dagId) ?? 0;
      if (n >= loaded.dag.maxActiveRuns) continue;
      // The count and the claim are one atomic step: schedulers on other hosts never both take the last slot.
      const claimed = await this.runs.claim(run.runId, { maxActiveRuns: loaded.dag.maxActiveRuns, leaseMs: this.leaseMs });
      if (!claimed) continue; // another process took it, or a slot went meanwhile
      perDag.set(run.dagId, n + 1);
      this.start(loaded.dag, run);
    }
  }

  private start(dag: Dag, run: DagRun): void {
    const { log } = this.o;
    this.executed.add(run.runId);
    log.info({ dag_id: dag.id, run_id: run.runId }, 'run started');
    const done = executeRun(
      dag,
      run.runId,
      {
        ...this.o.runner,
        parallelism: this.o.parallelism,
        clock: this.clock,
        // A run taken over by another scheduler (its lease lapsed) is said as such, not as a pause.
        onEvent: (e) => {
          if (e.type === 'run' && e.note?.startsWith('run lease lost')) log.warn({ dag_id: dag.id, run_id: run.runId }, e.note);
        },
      },
      { drain: this.drain.signal, signal: this.hard.signal, requeue: true, slots: this.slots, untilIdle: this.o.once },
    )
      .then((state) => {
        if (state !== 'queued') this.runsFinished++;
        log.info(
          { dag_id: dag.id, run_id: run.runId, state },
          state === 'queued' ? 'run paused; it will be resumed' : 'run finished',
        );
        return state;
      })
      .catch((err: unknown) => {
        log.error({ dag_id: dag.id, run_id: run.runId, err: errorMessage(err) }, 'run crashed');
        return 'failed' as RunState;
      })
      .finally(() => {
        this.active.delete(run.runId);
        // Idle: close the connections, so an embedded warehouse is not held between runs
        // (another process's `sluice sql` or run-dag may open it meanwhile).
        if (this.active.size === 0) {
          this.o.runner.connections
            .closeAll()
            .catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'closing idle connections failed'));
        }
        this.wake();
      });
    this.active.set(run.runId, { dagId: dag.id, done });
  }

  // -- DAG files --------------------------------------------------------------

  /**
   * Reloads DAG files when any changed; a broken file keeps its last good
   * version running. A DAG folder that cannot be listed (a deploy swapping
   * it, a mount gone) keeps every DAG last loaded, is logged once, and is
   * picked up again when it is back (the poll interval notices).
   */
  private reloadIfChanged(): void {
    const sig = dagsFolderSignature(this.o.dagsDir);
    if (sig === this.signature) return;
    this.signature = sig;
    const { log } = this.o;
    let loaded: ReturnType<typeof loadDagsDir>;
    try {
      loaded = loadDagsDir(this.o.dagsDir, this.o.registry);
    } catch (err) {
      const why = errorMessage(err);
      if (why !== this.folderProblem) {
        this.folderProblem = why;
        log.error(
          { dags_dir: this.o.dagsDir, dags_kept: [...this.loaded.keys()], err: err instanceof DagsFolderError ? undefined : why },
          `${err instanceof DagsFolderError ? why : `cannot list the DAG folder ${this.o.dagsDir}: ${why}`}; ` +
            'the DAGs last loaded keep running, and the folder is read again when it is back',
        );
      }
      return;
    }
    if (this.folderProblem !== null) {
      this.folderProblem = null;
      log.info({ dags_dir: this.o.dagsDir }, 'DAG folder is back; reloading its DAG files');
    }
    this.watch();
    const { dags, errors } = loaded;
    const next = new Map<string, Loaded>();
    for (const dag of dags) next.set(dag.id, { dag, file: dag.file });
    const brokenFiles = new Set(errors.map((e) => e.file));
    for (const [id, prev] of this.loaded) {
      if (!next.has(id) && brokenFiles.has(prev.file)) {
        next.set(id, prev);
        log.warn({ dag_id: id, file: prev.file }, 'DAG file is broken; its last good version keeps running');
      }
    }
    for (const e of errors) {
      if (this.reported.get(e.file) === e.message) continue;
      this.reported.set(e.file, e.message);
      log.error({ file: e.file, problems: e.problems.length }, `broken DAG file:\n${e.message}`);
    }
    for (const f of [...this.reported.keys()]) if (!brokenFiles.has(f)) this.reported.delete(f);
    for (const id of next.keys()) if (!this.loaded.has(id)) log.info({ dag_id: id }, 'DAG loaded');
    for (const id of this.loaded.keys()) if (!next.has(id)) log.info({ dag_id: id }, 'DAG removed');
    this.loaded.clear();
    for (const [k, v] of next) this.loaded.set(k, v);
  }

  /** Watches the DAG folder for changes; re-watches when a different folder now sits at its path. */
  private watch(): void {
    let id: string;
    try {
      const st = fs.statSync(this.o.dagsDir);
      id = `${st.dev}:${st.ino}`;
    } catch {
      return;
    }
    if (id === this.watched && this.watcher) return;
    this.watcher?.close();
    this.watcher = null;
    this.watched = id;
    try {
      this.watcher = fs.watch(this.o.dagsDir, { recursive: true }, () => this.wake());
      this.watcher.on('error', () => undefined);
      this.watcher.unref();
    } catch {
      // no watcher: the poll interval still notices changes
    }
  }

  private async sleepUntil(nextDue: number): Promise<void> {
    const now = this.clock.now().getTime();
    const poll = this.o.pollMs ?? 5_000;
    let ms = Math.min(Math.max(0, nextDue - now), poll);
    if (this.o.maxSleepMs !== undefined) ms = Math.min(ms, this.o.maxSleepMs);
    const woken = new Promise<void>((resolve) => (this.wake = resolve));
    if (this.o.once) {
      // Only what is due now: wait for a run to end, never for time to pass.
      if (this.active.size > 0) await woken;
      return;
    }
    const stop = new AbortController();
    await Promise.race([woken, this.clock.sleep(ms, stop.signal)]);
    stop.abort();
  }
}
