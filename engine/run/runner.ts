/**
 * Executes one DAG run: a ready set walked in topological order, tasks run
 * concurrently up to a limit, trigger rules, retries with Airflow's policy,
 * execution timeouts and cancellation through AbortSignal. Every state change
 * is written to the state store before the runner acts on it.
 *
 * This is the run loop; one try (its TaskContext, timeout and record) is in
 * try.ts, the task slots runs share in slots.ts.
 */
import type { Dag, RunState, TaskState } from '../interfaces.js';
import { FINISHED_STATES } from '../interfaces.js';
import { TryAbort, errorMessage } from '../errors.js';
import { RunAlerts } from '../alerts/index.js';
import { DEFAULT_LEASE_MS, DEFAULT_QUEUE, type TaskInstance } from '../state/index.js';
import { keepLease } from './lease.js';
import { type Clock, systemClock } from './clock.js';
import type { Slots } from './slots.js';
import { evaluateTrigger } from './trigger.js';
import { BRANCH_OUTPUT, runTry, type RetryInfo, type TryDeps } from './try.js';

// Re-exported for the modules that start runs: they import the run loop's API from here.
export { Slots } from './slots.js';
export { MAX_TASK_RETRY_DELAY_MS, describeNextTry, describeWhen, retryDelayMs } from './try.js';

export type RunEvent =
  | {
      type: 'task';
      runId: string;
      taskId: string;
      state: TaskState | null;
      tryNumber: number;
      error?: string;
      at: Date;
      /** up_for_retry: when the next try starts, and how many tries the task has. */
      nextTryAt?: Date;
      maxTries?: number;
    }
  | { type: 'run'; runId: string; state: RunState; at: Date; note?: string };

/** What a run needs from the process executing it (see TryDeps for what each try uses). */
export interface RunnerDeps extends TryDeps {
  parallelism: number;
  clock?: Clock;
  onEvent?: (e: RunEvent) => void;
  /**
   * Who runs the tries: `local`, this process (default); `workers`, `sluice
   * worker` processes on any host: a ready task instance is queued on its
   * task's queue and the run loop waits for its try to end (Airflow's
   * CeleryExecutor, with the state database as the broker).
   */
  executor?: 'local' | 'workers';
  /** Workers mode: how often the run loop looks whether a queued task's try ended (default 1 s). */
  workerPollMs?: number;
}

/** Task states that mean a try of it is handed to a worker and not over yet. */
const DISPATCHED: ReadonlySet<TaskState | null> = new Set<TaskState | null>(['queued', 'running']);

/** A run's final state follows from its leaves, as in Airflow. */
export function runStateFromTasks(dag: Dag, states: Map<string, TaskState | null>): RunState {
  for (const [id, kids] of dag.downstream) {
    if (kids.length > 0) continue;
    const s = states.get(id);
    if (s === 'failed' || s === 'upstream_failed') return 'failed';
  }
  for (const s of states.values()) if (s === null || !FINISHED_STATES.has(s)) return 'failed';
  return 'success';
}

/** How a run may be stopped from outside. */
export interface RunControl {
  /**
   * Hard stop: running tries are aborted now and recorded as failed with the
   * reason. With `requeue` the tries may be retried and the run is left
   * `queued` for a later process to resume; without it the run fails.
   */
  signal?: AbortSignal;
  /** Soft stop: start no new task; when the running tries end, leave the run `queued`. */
  drain?: AbortSignal;
  requeue?: boolean;
  /** Return (run left `queued`) instead of sleeping when only future retries remain. */
  untilIdle?: boolean;
  /** Task slots shared with other runs of this process (the scheduler's parallelism). */
  slots?: Slots;
}

/**
 * Runs (or resumes) the run `runId` of `dag`. Returns the run's state at the
 * end: success or failed, or queued when it was drained or requeued (see
 * RunControl). A bare AbortSignal is a hard stop that fails the run.
 */
export async function executeRun(
  dag: Dag,
  runId: string,
  deps: RunnerDeps,
  control: AbortSignal | RunControl = {},
): Promise<RunState> {
  const ctl: RunControl = control instanceof AbortSignal ? { signal: control } : control;
  const { signal, drain, slots } = ctl;
  const { store } = deps;
  const clock = deps.clock ?? systemClock;
  const run = await store.runs.get(runId);
  if (!run) throw new Error(`no run ${runId}`);
  const conf = run.conf;
  const emit = (e: RunEvent) => deps.onEvent?.(e);
  // Alerts declared in the DAG file (engine/alerts): sent beside the run, never changing its outcome.
  const alerts = RunAlerts.wanted(dag)
    ? new RunAlerts(dag, run, {
        store,
        logger: deps.logger,
        sleep: (ms) => clock.sleep(ms),
        now: () => clock.now(),
        resolvePath: deps.resolvePath,
      })
    : null;

  const leaseMs = deps.leaseMs ?? DEFAULT_LEASE_MS;
  await store.runs.start(runId, clock.now(), new Date(Date.now() + leaseMs));
  emit({ type: 'run', runId, state: 'running', at: clock.now() });

  const state = new Map<string, TaskState | null>();
  const tis = new Map<string, TaskInstance>();
  const workers = deps.executor === 'workers';
  /** Workers mode: tasks queued or running on workers when this process took the run; their ends are awaited. */
  const dispatched: string[] = [];
  for (const ti of await store.tasks.list(runId)) {
    if (!dag.tasks.has(ti.taskId)) continue; // removed from the DAG since the run was made
    if (workers && DISPATCHED.has(ti.state)) {
      // A worker has (or will claim) its try: waiting for it never runs a task twice.
      dispatched.push(ti.taskId);
      state.set(ti.taskId, ti.state);
      tis.set(ti.taskId, ti);
      continue;
    }
    // A transient state left by an interrupted process means "not started".
    const s = ti.state === 'scheduled' || ti.state === 'queued' || ti.state === 'running' ? null : ti.state;
    if (s !== ti.state) await store.tasks.setState(runId, ti.taskId, s, clock.now());
    state.set(ti.taskId, s);
    tis.set(ti.taskId, { ...ti, state: s });
  }

  const limit = Math.max(1, Math.min(deps.parallelism, dag.maxActiveTasks));
  const ready: string[] = [];
  const readySet = new Set<string>();
  const running = new Map<string, Promise<void>>();
  const runningAborts = new Map<string, AbortController>();
  /** Tasks waiting for their next try (up_for_retry, or a sensor up_for_reschedule). */
  const retrying = new Set<string>();
  /**
   * Branch task id -> the direct downstream tasks it follows (Airflow's
   * BaseBranchOperator): the others are skipped as soon as it succeeds, and
   * their own downstream tasks follow their trigger rules.
   */
  const branches = new Map<string, Set<string>>();
  let wake: () => void = () => {};
  let interrupted: string | null = null;
  let drained = false;
  let idleRetryAt: number | null = null;

  const setState = (taskId: string, s: TaskState | null, tryNumber: number, error?: string, retry?: RetryInfo) => {
    state.set(taskId, s);
    emit({ type: 'task', runId, taskId, state: s, tryNumber, error, at: clock.now(), ...retry });
  };

  const enqueue = (taskId: string) => {
    if (readySet.has(taskId)) return;
    readySet.add(taskId);
    ready.push(taskId);
  };

  /**
   * Evaluates trigger rules of the given tasks, propagating skips and
   * upstream failures downstream. A task's new state is taken in memory
   * before it is written, so an evaluation running at the same time (two
   * tries ending together) never decides the same task twice.
   */
  const evaluate = async (taskIds: Iterable<string>) => {
    const work = [...taskIds];
    while (work.length) {
      const id = work.shift()!;
      if (state.get(id) !== null || readySet.has(id) || running.has(id)) continue;
      const spec = dag.tasks.get(id)!;
      const notFollowed = spec.upstream.some((u) => state.get(u) === 'success' && branches.get(u)?.has(id) === false);
      const decision = notFollowed
        ? 'skipped'
        : evaluateTrigger(
            spec.triggerRule,
            spec.upstream.map((u) => state.get(u) ?? null),
          );
      if (decision === 'wait') continue;
      const next = decision === 'run' ? 'scheduled' : decision;
      state.set(id, next);
      await store.tasks.setState(runId, id, next, clock.now());
      setState(id, next, tis.get(id)!.tryNumber);
      if (decision === 'run') enqueue(id);
      else work.push(...(dag.downstream.get(id) ?? []));
    }
  };

  const onSignal = () => {
    interrupted = signal?.reason instanceof Error ? signal.reason.message : String(signal?.reason ?? 'interrupted');
    for (const ac of runningAborts.values()) ac.abort(new TryAbort(`interrupted: ${interrupted}`, Boolean(ctl.requeue)));
    wake();
  };
  const onDrain = () => {
    drained = true;
    wake();
  };
  signal?.addEventListener('abort', onSignal, { once: true });
  drain?.addEventListener('abort', onDrain, { once: true });
  if (signal?.aborted) onSignal();
  if (drain?.aborted) onDrain();

  /**
   * The run's lease, renewed while this loop drives it (see lease.ts). Lost
   * (another scheduler recovered the run, or the state is out of reach until
   * the lease nearly ends): this loop stops at once and writes nothing more;
   * the run is whoever holds it now's, or will be resumed by a scheduler.
   */
  let lostLease: string | null = null;
  const runLease = keepLease(
    (until) => store.leases.renewRun(runId, until),
    leaseMs,
    (loss) => {
      lostLease =
        loss.why === 'taken'
          ? 'another process recovered this run after its lease ended'
          : `could not renew the run's lease (${errorMessage(loss.err)}); stopped before it ends, for a scheduler to resume the run`;
      interrupted = `run lease lost: ${lostLease}`;
      for (const ac of runningAborts.values()) ac.abort(new TryAbort(interrupted, true));
      wake();
    },
    // A failed renewal is retried at the next beat; only losing the lease is told (the run event's note).
    () => undefined,
  );

  /** Tasks handed to workers whose try has not ended: left as they are when this loop stops early. */
  const remote = new Set<string>();
  /** Resumed workers-mode tasks that got no task slot (they run already): no slot to release at their end. */
  const unslotted = new Set<string>();

  /** Workers mode: the waiters of handToWorker, by task id, poked when a worker's try of that task ends. */
  const tryEnded = new Map<string, () => void>();
  /**
   * Workers mode: told when a worker's try of this run ends, where the state
   * pushes it (LISTEN/NOTIFY on PostgreSQL), so the next task starts at once;
   * polling (workerPollMs) stays the fallback. Listening starts with the first
   * task handed out and stops with the run loop.
   */
  let listening: Promise<(() => void) | undefined> | null = null;
  const listenForTryEnds = () =>
    (listening ??= (
      store.work.wakeups?.({ tryEnds: true }, (e) => {
        if (e.kind === 'tryEnded' && e.runId === runId) tryEnded.get(e.taskId)?.();
      }) ?? Promise.resolve(undefined)
    ).catch(() => undefined));
  const stopListening = () => void listening?.then((stop) => stop?.());

  /**
   * Workers mode: queues the task (unless it already is, from an earlier
   * process) and waits until a worker's try of it ended (or the lease
   * recovery failed it). Returns the task instance then, or null when the
   * run loop was interrupted first (the try goes on, on its worker).
   */
  const handToWorker = async (taskId: string, ti: TaskInstance, ac: AbortController, queued: boolean) => {
    const spec = dag.tasks.get(taskId)!;
    remote.add(taskId);
    let poked = false;
    let poke = () => {};
    tryEnded.set(taskId, () => {
      poked = true;
      poke();
    });
    await listenForTryEnds();
    // Resumed: queued for workers already (kept as it is), or queued by a process that ran tries itself (queued now).
    if (!queued || ti.state === 'queued') await store.work.enqueue(runId, taskId, spec.queue ?? DEFAULT_QUEUE, clock.now());
    if (!queued) setState(taskId, 'queued', ti.tryNumber);
    const pollMs = deps.workerPollMs ?? 1000;
    let seenRunning = ti.state === 'running';
    for (;;) {
      const now = await store.tasks.get(runId, taskId);
      if (!now) throw new Error(`task instance ${taskId} of ${runId} is gone`);
      if (now.state === 'running' && !seenRunning) {
        seenRunning = true;
        setState(taskId, 'running', now.tryNumber);
      }
      if (!DISPATCHED.has(now.state)) {
        remote.delete(taskId);
        tryEnded.delete(taskId);
        return now;
      }
      if (ac.signal.aborted) {
        tryEnded.delete(taskId);
        return null;
      }
      if (poked) {
        poked = false; // told while reading: read again at once
        continue;
      }
      const stop = new AbortController();
      const aborted = new Promise<void>((resolve) => ac.signal.addEventListener('abort', () => resolve(), { once: true }));
      const told = new Promise<void>((resolve) => (poke = resolve));
      await Promise.race([clock.sleep(pollMs, stop.signal), aborted, told]);
      poke = () => {};
      poked = false;
      stop.abort();
    }
  };

  const startTask = (taskId: string, resumed = false) => {
    const spec = dag.tasks.get(taskId)!;
    const ti = tis.get(taskId)!;
    const ac = new AbortController();
    runningAborts.set(taskId, ac);
    const p = (async () => {
      let next: TaskInstance;
      if (workers) {
        if (!resumed) await store.tasks.setState(runId, taskId, 'queued', clock.now());
        const ended = await handToWorker(taskId, ti, ac, resumed);
        if (!ended) return; // interrupted: the worker's try goes on; a later process waits for it
        next = ended;
        setState(taskId, next.state, next.tryNumber);
        if (next.state === 'success') {
          const chosen = (await store.tasks.latestOutputs(runId)).get(taskId);
          const ids = chosen?.tryNumber === next.tryNumber ? chosen.outputs[BRANCH_OUTPUT] : undefined;
          if (Array.isArray(ids)) branches.set(taskId, new Set(ids.filter((c): c is string => typeof c === 'string')));
        }
      } else {
        await store.tasks.setState(runId, taskId, 'queued', clock.now());
        setState(taskId, 'queued', ti.tryNumber);
        const onBranch = (ids: string[]) => branches.set(taskId, new Set(ids));
        next = await runTry({ dag, runId, spec, conf, deps, clock, abort: ac, setState, tryOf: ti, onBranch });
      }
      tis.set(taskId, next);
      alerts?.afterTry(taskId, next);
      if (next.state === 'up_for_retry' || next.state === 'up_for_reschedule') {
        retrying.add(taskId);
        return;
      }
      if (interrupted) return; // tasks not started stay without a state, for a rerun
      await evaluate(dag.downstream.get(taskId) ?? []);
    })().finally(() => {
      running.delete(taskId);
      runningAborts.delete(taskId);
      if (!unslotted.delete(taskId)) slots?.release();
      wake();
    });
    running.set(taskId, p);
  };

  try {
    // Branches an earlier process saw succeed keep their choice (a resumed or partly cleared run).
    if ([...state.values()].includes('success')) {
      for (const [id, o] of await store.tasks.latestOutputs(runId)) {
        const chosen = o.outputs[BRANCH_OUTPUT];
        if (state.get(id) === 'success' && o.tryNumber === tis.get(id)?.tryNumber && Array.isArray(chosen)) {
          branches.set(id, new Set(chosen.filter((c): c is string => typeof c === 'string')));
        }
      }
    }
    await evaluate(dag.order);
    // Workers mode: tries handed to workers by an earlier process are awaited, not queued again.
    for (const id of dispatched) {
      if (slots && !slots.tryAcquire()) unslotted.add(id); // they already run: waited for even past the limit
      startTask(id, true);
    }
    // Tasks waiting for a retry (or a sensor's next poke) from an earlier process are picked up too.
    for (const [id, s] of state) if (s === 'up_for_retry' || s === 'up_for_reschedule') retrying.add(id);

    for (;;) {
      if (interrupted) break;
      const now = clock.now().getTime();
      // Retries whose delay has passed become ready.
      let nextRetryAt = Infinity;
      for (const id of retrying) {
        const due = tis.get(id)!.nextTryAt;
        const at = due ? due.getTime() : now;
        if (at <= now) {
          retrying.delete(id);
          enqueue(id);
        } else nextRetryAt = Math.min(nextRetryAt, at);
      }
      let starved = false;
      while (!drained && running.size < limit && ready.length > 0) {
        if (slots && !slots.tryAcquire()) {
          starved = true;
          break;
        }
        const id = ready.shift()!;
        readySet.delete(id);
        startTask(id);
      }
      if (running.size === 0 && (drained || (ready.length === 0 && nextRetryAt === Infinity))) break;
      if (ctl.untilIdle && running.size === 0 && ready.length === 0) {
        idleRetryAt = nextRetryAt;
        break;
      }

      // Wait for a try to end, a slot to free, the first retry to fall due, or a signal.
      const woken = new Promise<void>((resolve) => (wake = resolve));
      const cancelSlot = starved && slots ? slots.onRelease(() => wake()) : null;
      if (nextRetryAt === Infinity || drained) await woken;
      else {
        const stop = new AbortController();
        await Promise.race([woken, clock.sleep(nextRetryAt - now, stop.signal)]);
        stop.abort();
      }
      cancelSlot?.();
    }
    // Let aborted tries record their end.
    while (running.size > 0) await Promise.allSettled([...running.values()]);
  } finally {
    runLease.stop();
    signal?.removeEventListener('abort', onSignal);
    drain?.removeEventListener('abort', onDrain);
    stopListening();
  }
  if (lostLease !== null) {
    emit({ type: 'run', runId, state: 'queued', at: clock.now(), note: `run lease lost: ${lostLease}` });
    return 'queued';
  }

  // Nothing is left in a transient state.
  for (const [id, s] of state) {
    if (remote.has(id)) continue; // on a worker: its try ends there, and a later process reads how
    if (s === 'scheduled' || s === 'queued' || s === 'running') {
      await store.tasks.setState(runId, id, null, clock.now());
      state.set(id, null);
    }
  }
  const unfinished = [...state.values()].some((s) => s === null || !FINISHED_STATES.has(s));
  let final: RunState;
  let note: string | null = null;
  if (interrupted && !ctl.requeue) {
    final = 'failed';
    note = `interrupted: ${interrupted}`;
  } else if ((interrupted || drained || idleRetryAt !== null) && unfinished) {
    final = 'queued';
    note = interrupted
      ? `interrupted: ${interrupted}; to be resumed`
      : idleRetryAt !== null
        ? `waiting for a retry at ${new Date(idleRetryAt).toISOString()}`
        : 'stopped before it finished; to be resumed';
  } else {
    final = runStateFromTasks(dag, state);
  }
  if (final === 'queued') await store.runs.requeue(runId, note);
  else await store.runs.finish(runId, final, clock.now(), note);
  emit({ type: 'run', runId, state: final, at: clock.now(), note: note ?? undefined });
  if (alerts) {
    // The run's state is written first: an alert never holds it back. Waiting here (bounded by each
    // alert's timeout and retries) keeps a process from exiting with a message half sent.
    alerts.afterRun(final);
    await alerts.settle();
  }
  return final;
}
