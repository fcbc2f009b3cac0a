/**
 * A worker (`sluice worker`): claims task instances the scheduler queued on
 * its queues, from the state every process shares (PostgreSQL for several
 * hosts), and runs each one's try with the same code as the scheduler's own
 * runner (runTry), so tries, logs and outputs land in the shared state and
 * the scheduler's run loop sees them end. Airflow's Celery worker, with the
 * state database as the broker.
 */
import type { Logger } from 'pino';
import type { Dag } from '../interfaces.js';
import { TryAbort, errorMessage } from '../errors.js';
import { HOST, type Claimed, type StateStore } from '../state/index.js';
import { loadDagsDir } from '../dag/index.js';
import { checkDagsFolder, dagsFolderSignature } from '../dag/folder.js';
import { type Clock, setLongTimeout, systemClock } from '../run/clock.js';
import { runTry, type TryDeps } from '../run/try.js';

export interface WorkerOptions {
  store: StateStore;
  dagsDir: string;
  /** The queues it takes tasks from. */
  queues: string[];
  /** Tries it runs at once. */
  concurrency: number;
  /** On stop, how long running tries may go on before they are aborted (retried elsewhere). */
  gracePeriodMs: number;
  runner: TryDeps;
  /** The worker's own log (console). */
  log: Logger;
  clock?: Clock;
  /**
   * How often it looks for queued tasks when it has free slots: default 1 s,
   * or 5 s (its heartbeat) where the state pushes wake-ups (PostgreSQL's
   * LISTEN/NOTIFY wakes it as soon as a task is queued; the poll covers a lost
   * connection and claims given back by releaseStale).
   */
  pollMs?: number;
}

/** How often a worker reports itself (`sluice workers list`). */
const HEARTBEAT_MS = 5_000;

export class Worker {
  private readonly o: WorkerOptions;
  private readonly clock: Clock;
  private readonly running = new Map<string, { done: Promise<void>; abort: AbortController }>();
  private dags = new Map<string, Dag>();
  private signature = '';
  private stopping = false;
  private wake: () => void = () => {};
  /** Set by a wake-up since the last claim: the next sleep returns at once (none is lost between the two). */
  private poked = false;
  /** Whether the state pushes wake-ups to this worker (PostgreSQL). */
  private pushed = false;
  private lastBeat = 0;
  triesRun = 0;

  constructor(opts: WorkerOptions) {
    this.o = opts;
    this.clock = opts.clock ?? systemClock;
  }

  /** No new claims; running tries get the grace period, then are aborted (and retried by another worker). */
  stop(reason: string): void {
    if (this.stopping) {
      this.abortAll(`worker stopped (${reason})`);
      return;
    }
    this.stopping = true;
    this.o.log.info({ reason, running: this.running.size, grace_period_ms: this.o.gracePeriodMs }, 'stopping');
    setLongTimeout(() => this.abortAll(`worker stopped (${reason})`), this.o.gracePeriodMs).unref();
    this.poke();
  }

  private poke(): void {
    this.poked = true;
    this.wake();
  }

  private abortAll(why: string): void {
    for (const r of this.running.values()) r.abort.abort(new TryAbort(why, true));
  }

  /** Claims and runs tries until stopped. */
  async run(): Promise<void> {
    const { store, log, queues, concurrency } = this.o;
    checkDagsFolder(this.o.dagsDir);
    log.info({ host: HOST, pid: process.pid, queues, concurrency, dags_dir: this.o.dagsDir }, 'worker started');
    // Woken when a task is queued on one of its queues (LISTEN/NOTIFY on PostgreSQL); polling stays the fallback.
    let unlisten: (() => void) | undefined;
    try {
      unlisten = await store.work.wakeups?.({ queues }, () => this.poke());
      this.pushed = unlisten !== undefined;
    } catch (err) {
      log.warn({ err: errorMessage(err) }, 'cannot listen for queued tasks; polling for them');
    }
    try {
      while (!this.stopping) {
        await this.beat();
        this.poked = false;
        const free = concurrency - this.running.size;
        let claimed: Claimed[] = [];
        if (free > 0) {
          try {
            claimed = await store.work.claim(queues, free, HOST, process.pid, this.clock.now());
          } catch (err) {
            log.warn({ err: errorMessage(err) }, 'could not claim queued tasks; trying again');
          }
        }
        for (const c of claimed) this.start(c);
        // A full batch may mean more are waiting: look again at once when a slot is free.
        if (claimed.length > 0 && claimed.length === free) continue;
        await this.sleep();
      }
      while (this.running.size > 0) await Promise.allSettled([...this.running.values()].map((r) => r.done));
    } finally {
      unlisten?.();
      await store.work.leave(HOST, process.pid).catch(() => undefined);
      await this.o.runner.connections.closeAll().catch(() => undefined);
      log.info({ tries_run: this.triesRun }, 'worker stopped');
    }
  }

  private async beat(): Promise<void> {
    if (Date.now() - this.lastBeat < HEARTBEAT_MS) return;
    this.lastBeat = Date.now();
    const { store, queues, concurrency } = this.o;
    await store.work
      .heartbeat({ host: HOST, pid: process.pid, queues, concurrency, running: this.running.size }, new Date())
      .catch((err: unknown) => this.o.log.warn({ err: errorMessage(err) }, 'worker heartbeat failed'));
  }

  private async sleep(): Promise<void> {
    if (this.poked || this.stopping) return;
    const woken = new Promise<void>((resolve) => (this.wake = resolve));
    const t = setTimeout(() => this.wake(), this.o.pollMs ?? (this.pushed ? HEARTBEAT_MS : 1000));
    await woken;
    clearTimeout(t);
  }

  /** The DAGs of the folder, read again when a file changed (the scheduler and every worker read the same files). */
  private dagsNow(): Map<string, Dag> {
    const sig = dagsFolderSignature(this.o.dagsDir);
    if (sig !== this.signature) {
      this.signature = sig;
      const { dags, errors } = loadDagsDir(this.o.dagsDir, this.o.runner.registry);
      for (const e of errors) this.o.log.error({ file: e.file }, `broken DAG file:\n${e.message}`);
      const next = new Map(dags.map((d) => [d.id, d]));
      // A broken file keeps its last good version, as in the scheduler.
      for (const [id, d] of this.dags) if (!next.has(id) && errors.some((e) => e.file === d.file)) next.set(id, d);
      this.dags = next;
    }
    return this.dags;
  }

  private start(c: Claimed): void {
    const key = `${c.runId}\u0000${c.taskId}`;
    const abort = new AbortController();
    const done = this.runOne(c, abort)
      .catch((err: unknown) => {
        // Mostly the state out of reach (its end could not be recorded): the try's lease then ends, and a
        // scheduler fails it as worker lost and retries it under its policy.
        this.o.log.error(
          { run_id: c.runId, task_id: c.taskId, err: errorMessage(err) },
          'could not run or record this try; once its lease ends a scheduler fails it as worker lost and retries it',
        );
      })
      .finally(() => {
        this.running.delete(key);
        this.poke();
      });
    this.running.set(key, { done, abort });
  }

  private async runOne(c: Claimed, abort: AbortController): Promise<void> {
    const { store, log } = this.o;
    // The claim returned the run and the task instance: nothing to read before the try starts.
    let dags: Map<string, Dag>;
    try {
      dags = this.dagsNow();
    } catch (err) {
      dags = this.dags; // the folder is away for a moment: the DAGs last read
      log.warn({ err: errorMessage(err) }, 'cannot read the DAG folder; using the DAGs last read');
    }
    const dag = dags.get(c.dagId);
    const spec = dag?.tasks.get(c.taskId);
    log.info({ run_id: c.runId, task_id: c.taskId, queue: c.queue, try: c.tryNumber + 1 }, 'try claimed');
    if (!dag || !spec) {
      // Recorded as a failed try, so the scheduler's run loop sees it end and the reason is in the task's log.
      const t = await store.tasks.startTry(c.runId, c.taskId, this.clock.now());
      const error =
        `task ${c.taskId} of DAG ${c.dagId} is not in the DAG files of worker pid ${process.pid} on ${HOST} ` +
        `(folder ${this.o.dagsDir}): deploy the same DAG files to the scheduler and every worker`;
      await store.tasks.endTry(t, { state: 'failed', taskState: 'failed', now: this.clock.now(), error });
      log.error({ run_id: c.runId, task_id: c.taskId }, error);
      return;
    }
    const next = await runTry({
      dag,
      runId: c.runId,
      spec,
      conf: c.run.conf,
      run: c.run,
      deps: this.o.runner,
      clock: this.clock,
      abort,
      tryOf: c.instance,
      setState: () => undefined,
    });
    this.triesRun++;
    log.info({ run_id: c.runId, task_id: c.taskId, try: next.tryNumber, state: next.state }, 'try ended');
  }
}
