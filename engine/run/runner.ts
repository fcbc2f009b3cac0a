/**
 * Executes one DAG run: a ready set walked in topological order, tasks run
 * concurrently up to a limit, trigger rules, retries with Airflow's policy,
 * execution timeouts and cancellation through AbortSignal. Every state change
 * is written to the state store before the runner acts on it.
 */
import fs from 'node:fs';
import type { Logger } from 'pino';
import type {
  ConnectionResolver,
  Dag,
  Dialect,
  RetryPolicy,
  RunState,
  TaskContext,
  TaskSpec,
  TaskState,
} from '../interfaces.js';
import { FINISHED_STATES } from '../interfaces.js';
import { TemplateError, errorMessage, notRetryableReason } from '../errors.js';
import { redactText } from '../redact.js';
import type { OperatorRegistry } from '../registry.js';
import type { StateStore, TaskInstanceRow, TryRow } from '../state/store.js';
import { buildContext, isSqlFileRef, render, renderDeep, type TemplateContext } from '../template/index.js';
import { type Clock, type LongTimer, setLongTimeout, systemClock } from './clock.js';
import { evaluateTrigger } from './trigger.js';
import { formatDuration } from '../duration.js';

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

export interface RunnerDeps {
  store: StateStore;
  registry: OperatorRegistry;
  connections: ConnectionResolver;
  /** The logger task loggers are children of (its destination stores lines per try). */
  logger: Logger;
  parallelism: number;
  /** Resolves a relative path from a DAG file (SQL files). */
  resolvePath: (p: string) => string;
  clock?: Clock;
  onEvent?: (e: RunEvent) => void;
}

/** Why a try's signal was aborted. */
export class TryAbort extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'TryAbort';
  }
}

/** Airflow's `[core] max_task_retry_delay` default: no exponential backoff waits longer than a day. */
export const MAX_TASK_RETRY_DELAY_MS = 86_400_000;

/**
 * How long to wait before the next try, after try `tryNumber` failed, as
 * Airflow's TaskInstance.next_retry_datetime computes it:
 * - without retry_exponential_backoff: retry_delay, as it is (max_retry_delay
 *   does not apply: Airflow reads it only with backoff);
 * - with it: retry_delay x 2^(tryNumber-1), rounded up to whole seconds and at
 *   least 1 s, capped at 24 h (max_task_retry_delay), then at max_retry_delay
 *   when one is set.
 * Unlike Airflow, no jitter is added (Airflow adds a hash-based 0-100 % on
 * top of the backoff to spread a cluster's workers): a retry comes exactly
 * when the log line says it will.
 */
export function retryDelayMs(policy: RetryPolicy, tryNumber: number): number {
  if (!policy.retryExponentialBackoff) return policy.retryDelayMs;
  const seconds = Math.max(1, Math.ceil((policy.retryDelayMs / 1000) * 2 ** Math.max(0, tryNumber - 1)));
  let delay = Math.min(seconds * 1000, MAX_TASK_RETRY_DELAY_MS);
  if (policy.maxRetryDelayMs) delay = Math.min(delay, policy.maxRetryDelayMs);
  return delay;
}

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

/** A counting semaphore shared by concurrent runs. */
export class Slots {
  private used = 0;
  private readonly waiters = new Set<() => void>();
  constructor(readonly size: number) {}

  tryAcquire(): boolean {
    if (this.used >= this.size) return false;
    this.used++;
    return true;
  }

  release(): void {
    this.used = Math.max(0, this.used - 1);
    for (const w of [...this.waiters]) w();
  }

  /** Calls fn at the next release; returns a function that cancels. */
  onRelease(fn: () => void): () => void {
    this.waiters.add(fn);
    return () => this.waiters.delete(fn);
  }

  get inUse(): number {
    return this.used;
  }
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
  const run = store.getRun(runId);
  if (!run) throw new Error(`no run ${runId}`);
  const conf = JSON.parse(run.conf) as Record<string, unknown>;
  const emit = (e: RunEvent) => deps.onEvent?.(e);

  store.startRun(runId, clock.now());
  emit({ type: 'run', runId, state: 'running', at: clock.now() });

  const state = new Map<string, TaskState | null>();
  const tis = new Map<string, TaskInstanceRow>();
  for (const ti of store.listTaskInstances(runId)) {
    if (!dag.tasks.has(ti.task_id)) continue; // removed from the DAG since the run was made
    // A transient state left by an interrupted process means "not started".
    const s = ti.state === 'scheduled' || ti.state === 'queued' || ti.state === 'running' ? null : ti.state;
    if (s !== ti.state) store.setTaskState(runId, ti.task_id, s, clock.now());
    state.set(ti.task_id, s);
    tis.set(ti.task_id, { ...ti, state: s });
  }

  const limit = Math.max(1, Math.min(deps.parallelism, dag.maxActiveTasks));
  const ready: string[] = [];
  const readySet = new Set<string>();
  const running = new Map<string, Promise<void>>();
  const runningAborts = new Map<string, AbortController>();
  /** Tasks waiting for their next try. */
  const retrying = new Set<string>();
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

  /** Evaluates trigger rules of the given tasks, propagating skips and upstream failures downstream. */
  const evaluate = (taskIds: Iterable<string>) => {
    const work = [...taskIds];
    while (work.length) {
      const id = work.shift()!;
      if (state.get(id) !== null || readySet.has(id) || running.has(id)) continue;
      const spec = dag.tasks.get(id)!;
      const decision = evaluateTrigger(
        spec.triggerRule,
        spec.upstream.map((u) => state.get(u) ?? null),
      );
      if (decision === 'wait') continue;
      if (decision === 'run') {
        store.setTaskState(runId, id, 'scheduled', clock.now());
        setState(id, 'scheduled', tis.get(id)!.try_number);
        enqueue(id);
      } else {
        store.setTaskState(runId, id, decision, clock.now());
        setState(id, decision, tis.get(id)!.try_number);
        work.push(...(dag.downstream.get(id) ?? []));
      }
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

  const startTask = (taskId: string) => {
    const spec = dag.tasks.get(taskId)!;
    const ti = tis.get(taskId)!;
    const ac = new AbortController();
    runningAborts.set(taskId, ac);
    store.setTaskState(runId, taskId, 'queued', clock.now());
    setState(taskId, 'queued', ti.try_number);
    const p = runTry({ dag, runId, spec, conf, deps, clock, abort: ac, setState, tryOf: ti })
      .then((next) => {
        tis.set(taskId, next);
        if (next.state === 'up_for_retry') {
          retrying.add(taskId);
          return;
        }
        if (interrupted) return; // tasks not started stay without a state, for a rerun
        evaluate(dag.downstream.get(taskId) ?? []);
      })
      .finally(() => {
        running.delete(taskId);
        runningAborts.delete(taskId);
        slots?.release();
        wake();
      });
    running.set(taskId, p);
  };

  try {
    evaluate(dag.order);
    // Tasks waiting for a retry from an earlier process are picked up too.
    for (const [id, s] of state) if (s === 'up_for_retry') retrying.add(id);

    for (;;) {
      if (interrupted) break;
      const now = clock.now().getTime();
      // Retries whose delay has passed become ready.
      let nextRetryAt = Infinity;
      for (const id of retrying) {
        const due = tis.get(id)!.next_try_at;
        const at = due ? Date.parse(due) : now;
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
    signal?.removeEventListener('abort', onSignal);
    drain?.removeEventListener('abort', onDrain);
  }

  // Nothing is left in a transient state.
  for (const [id, s] of state) {
    if (s === 'scheduled' || s === 'queued' || s === 'running') {
      store.setTaskState(runId, id, null, clock.now());
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
  if (final === 'queued') store.requeueRun(runId, note);
  else store.finishRun(runId, final, clock.now(), note);
  emit({ type: 'run', runId, state: final, at: clock.now(), note: note ?? undefined });
  return final;
}

interface TryArgs {
  dag: Dag;
  runId: string;
  spec: TaskSpec;
  conf: Record<string, unknown>;
  deps: RunnerDeps;
  clock: Clock;
  abort: AbortController;
  tryOf: TaskInstanceRow;
  setState: (taskId: string, s: TaskState | null, tryNumber: number, error?: string, retry?: RetryInfo) => void;
}

interface RetryInfo {
  nextTryAt: Date;
  maxTries: number;
}

/**
 * "try 2 of 4 at 12:34:56Z (in 5m)": when an up_for_retry task runs again
 * (UTC, as every time Sluice prints; the date too when it is not today's).
 */
export function describeNextTry(nextTry: number, maxTries: number, at: Date, now: Date): string {
  const iso = at.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const sameDay = iso.slice(0, 10) === now.toISOString().slice(0, 10);
  const inMs = Math.max(0, at.getTime() - now.getTime());
  return `try ${nextTry} of ${maxTries} at ${sameDay ? iso.slice(11) : iso} (in ${formatDuration(Math.ceil(inMs / 1000) * 1000)})`;
}

/**
 * Why a failed try is not retried although tries are left, or null. A
 * TryAbort says so itself (an interruption without requeue); other errors
 * through their `retryable` flag, OS error code or SQLSTATE (errors.ts).
 */
function whyNotRetried(error: unknown): string | null {
  if (error instanceof TryAbort) return error.retryable ? null : error.message;
  return notRetryableReason(error);
}

/** Runs one try of a task and records it; returns the task instance as it now stands. */
async function runTry(a: TryArgs): Promise<TaskInstanceRow> {
  const { dag, runId, spec, deps, clock, abort } = a;
  const store = deps.store;
  const op = deps.registry.get(spec.operator);
  const tryRow: TryRow = store.startTry(runId, spec.id, clock.now());
  a.setState(spec.id, 'running', tryRow.try_number);
  const log = deps.logger.child({
    dag_id: dag.id,
    run_id: runId,
    task_id: spec.id,
    try: tryRow.try_number,
    try_id: tryRow.try_id,
  });
  const outputs: Record<string, unknown> = {};
  let timer: LongTimer | undefined;
  if (spec.executionTimeoutMs !== null) {
    const ms = spec.executionTimeoutMs;
    // Chained timers: a plain setTimeout beyond 2^31 - 1 ms (~24.8 days) would fire at once.
    timer = setLongTimeout(
      () => abort.abort(new TryAbort(`execution_timeout of ${formatDuration(ms)} exceeded`, true)),
      ms,
    );
  }
  let error: unknown = null;
  try {
    if (!op) throw new Error(`operator ${spec.operator} is not registered`);
    const run = store.getRun(runId)!;
    const tctx: TemplateContext = buildContext({
      dagId: dag.id,
      runId,
      taskId: spec.id,
      logicalDate: new Date(run.logical_date),
      dataIntervalStart: new Date(run.data_interval_start),
      dataIntervalEnd: new Date(run.data_interval_end),
      dagParams: dag.params,
      conf: a.conf,
      conn: publicUrls(deps.connections),
      // A task's own `connection` parameter, when it has one, decides its templates' dialect.
      dialect: dialectOf(deps.connections, typeof spec.params.connection === 'string' ? spec.params.connection : undefined),
    });
    const params: Record<string, unknown> = { ...spec.params };
    for (const field of op.templated) {
      if (params[field] !== undefined) {
        params[field] = await renderDeep(params[field], tctx, `task ${spec.id}, field ${field}`);
      }
    }
    const ctx: TaskContext<Record<string, unknown>> = {
      dagId: dag.id,
      runId,
      taskId: spec.id,
      tryNumber: tryRow.try_number,
      logicalDate: tctx.logical_date,
      dataIntervalStart: tctx.data_interval_start,
      dataIntervalEnd: tctx.data_interval_end,
      params,
      render: (t, field) => render(t, tctx, `task ${spec.id}${field ? `, field ${field}` : ''}`),
      sql: async (ref, field) => {
        const where = `task ${spec.id}${field ? `, field ${field}` : ''}`;
        if (isSqlFileRef(ref)) {
          const file = deps.resolvePath(ref);
          let text: string;
          try {
            text = fs.readFileSync(file, 'utf8');
          } catch {
            throw new TemplateError(`${where}: SQL file ${ref} not found (looked at ${file})`);
          }
          return render(text, tctx, `${where} (${ref})`);
        }
        return ref; // inline SQL: already rendered when its field is templated
      },
      resolvePath: deps.resolvePath,
      warehouse: (name) => deps.connections.warehouse(name),
      objectStore: (name) => deps.connections.objectStore(name),
      log,
      signal: abort.signal,
      record: (o) => Object.assign(outputs, o),
      recordRejections: (table, list) => store.recordRejections(tryRow.try_id, table, list),
      dialect: (name) => dialectOf(deps.connections, name),
      connectionStore: store,
    };
    log.info({ operator: spec.operator }, 'try started');
    if (abort.signal.aborted) throw abort.signal.reason;
    const work = op.execute(ctx as never);
    work.catch(() => undefined); // an operator that ignores its signal may reject after we moved on
    await Promise.race([work, rejectOnAbort(abort.signal)]);
    if (abort.signal.aborted) throw abort.signal.reason;
  } catch (err) {
    error = abort.signal.aborted ? abort.signal.reason : err;
  } finally {
    timer?.clear();
  }

  const now = clock.now();
  if (error === null) {
    log.info({ outputs: Object.keys(outputs).length ? outputs : undefined }, 'try succeeded');
    store.endTry(tryRow, { state: 'success', taskState: 'success', now, outputs });
    a.setState(spec.id, 'success', tryRow.try_number);
    return store.getTaskInstance(runId, spec.id)!;
  }

  let message = redactText(errorMessage(error));
  const notRetried = whyNotRetried(error);
  const ti = store.getTaskInstance(runId, spec.id)!;
  const triesLeft = ti.try_number < ti.max_tries;
  const retry = notRetried === null && triesLeft;
  const nextTryAt = retry ? new Date(now.getTime() + retryDelayMs(spec, tryRow.try_number)) : null;
  if (retry) {
    const next = describeNextTry(ti.try_number + 1, ti.max_tries, nextTryAt!, now);
    log.error({ err: message, next_try_at: nextTryAt!.toISOString() }, `try failed; up_for_retry: ${next}`);
  } else if (triesLeft && !(error instanceof TryAbort)) {
    // Tries were left, but this failure would come back on every one of them: say so where the user looks first.
    const why = redactText(notRetried!);
    log.error({ err: message }, `try failed; not retried: ${why} (${ti.max_tries - ti.try_number} retries left unused)`);
    message = `not retried (${why}): ${message}`;
  } else {
    log.error({ err: message }, 'try failed');
  }
  store.endTry(tryRow, {
    state: 'failed',
    taskState: retry ? 'up_for_retry' : 'failed',
    now,
    error: message,
    stack: error instanceof Error && error.stack ? redactText(error.stack) : null,
    nextTryAt,
    outputs,
  });
  a.setState(
    spec.id,
    retry ? 'up_for_retry' : 'failed',
    tryRow.try_number,
    message,
    retry ? { nextTryAt: nextTryAt!, maxTries: ti.max_tries } : undefined,
  );
  return store.getTaskInstance(runId, spec.id)!;
}

function rejectOnAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/** The dialect of a warehouse connection from its URL scheme (redshift:// or anything PostgreSQL-like). */
export function dialectOf(c: ConnectionResolver, name = 'warehouse'): Dialect {
  try {
    return c.publicUrl(name).startsWith('redshift:') ? 'redshift' : 'postgres';
  } catch {
    return 'postgres';
  }
}

function publicUrls(c: ConnectionResolver): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of c.names()) {
    try {
      out[n] = c.publicUrl(n);
    } catch {
      // a malformed URL is reported when the connection is used
    }
  }
  return out;
}
