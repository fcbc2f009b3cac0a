/**
 * One try of one task: the TaskContext an operator gets (rendered params,
 * the run's interval, connections, SQL file reads, a logger, an AbortSignal),
 * the execution timeout, and the record of how the try ended; with Airflow's
 * retry policy deciding whether, and when, another try comes.
 */
import fs from 'node:fs';
import type { Logger } from 'pino';
import type {
  ConnectionResolver,
  Dag,
  Dialect,
  OperatorDef,
  QualityHistory,
  RecordedConnections,
  RetryPolicy,
  TaskContext,
  TaskSpec,
  TaskState,
} from '../interfaces.js';
import { TaskSkipped, TemplateError, TryAbort, errorMessage, notRetryableReason } from '../errors.js';
import { redactText } from '../redact.js';
import type { OperatorRegistry } from '../registry.js';
import { checkResultsOf, rowCountsOf } from '../quality.js';
import type { ConnectionStore, StateStore, TaskInstance, TaskTry } from '../state/index.js';
import { buildContext, isSqlFileRef, render, renderDeep, type TemplateContext } from '../template/index.js';
import { type Clock, type LongTimer, setLongTimeout } from './clock.js';
import { formatDuration } from '../duration.js';

/** What a try needs from the process running it. */
export interface TryDeps {
  store: StateStore;
  registry: OperatorRegistry;
  connections: ConnectionResolver;
  /** The logger task loggers are children of (its destination stores lines per try). */
  logger: Logger;
  /** Resolves a relative path from a DAG file (SQL files). */
  resolvePath: (p: string) => string;
}

/** up_for_retry: when the next try starts, and how many tries the task has. */
export interface RetryInfo {
  nextTryAt: Date;
  maxTries: number;
}

/** Tells the run loop (and its listeners) of a task's new state. */
export type SetTaskState = (taskId: string, s: TaskState | null, tryNumber: number, error?: string, retry?: RetryInfo) => void;

export interface TryArgs {
  dag: Dag;
  runId: string;
  spec: TaskSpec;
  conf: Record<string, unknown>;
  deps: TryDeps;
  clock: Clock;
  /** Aborted by the execution timeout here, or by the run loop when the run is interrupted (reason: a TryAbort). */
  abort: AbortController;
  tryOf: TaskInstance;
  setState: SetTaskState;
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

/** Runs one try of a task and records it; returns the task instance as it now stands. */
export async function runTry(a: TryArgs): Promise<TaskInstance> {
  const { dag, runId, spec, deps, clock, abort } = a;
  const store = deps.store;
  const op = deps.registry.get(spec.operator);
  const tryRow = await store.tasks.startTry(runId, spec.id, clock.now());
  a.setState(spec.id, 'running', tryRow.tryNumber);
  const log = deps.logger.child({
    dag_id: dag.id,
    run_id: runId,
    task_id: spec.id,
    try: tryRow.tryNumber,
    try_id: tryRow.tryId,
  });
  const outputs: Record<string, unknown> = {};
  let timer: LongTimer | undefined;
  if (spec.executionTimeoutMs !== null) {
    const ms = spec.executionTimeoutMs;
    // Chained timers: a plain setTimeout beyond 2^31 - 1 ms (~24.8 days) would fire at once.
    timer = setLongTimeout(() => abort.abort(new TryAbort(`execution_timeout of ${formatDuration(ms)} exceeded`, true)), ms);
  }
  let error: unknown = null;
  try {
    if (!op) throw new Error(`operator ${spec.operator} is not registered`);
    const ctx = await taskContext(a, op, tryRow, log, outputs);
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
  return recordEnd(a, tryRow, log, outputs, error);
}

/**
 * The context an operator's execute gets: the run's template context, the
 * templated params rendered once, SQL file reads, connections, and recording.
 */
async function taskContext(
  a: TryArgs,
  op: OperatorDef,
  tryRow: TaskTry,
  log: Logger,
  outputs: Record<string, unknown>,
): Promise<TaskContext<Record<string, unknown>>> {
  const { dag, runId, spec, deps, abort } = a;
  const store = deps.store;
  const run = (await store.runs.get(runId))!;
  const tctx: TemplateContext = buildContext({
    dagId: dag.id,
    runId,
    taskId: spec.id,
    logicalDate: run.logicalDate,
    dataIntervalStart: run.dataIntervalStart,
    dataIntervalEnd: run.dataIntervalEnd,
    dagParams: dag.params,
    conf: a.conf,
    conn: publicUrls(deps.connections),
    dialect: dialectOf(deps.connections, taskConnection(op, spec)),
  });
  const params: Record<string, unknown> = { ...spec.params };
  for (const field of op.templated) {
    if (params[field] !== undefined) {
      params[field] = await renderDeep(params[field], tctx, `task ${spec.id}, field ${field}`);
    }
  }
  return {
    dagId: dag.id,
    runId,
    taskId: spec.id,
    tryNumber: tryRow.tryNumber,
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
    recordRejections: (table, list) => store.logs.recordRejections(tryRow.tryId, table, list),
    dialect: (name) => dialectOf(deps.connections, name),
    connectionStore: recordedConnections(store.connections, a.clock),
    history: qualityHistory(store, dag.id, spec.id, run.logicalDate),
  };
}

/**
 * What this task's checks observed in the DAG's successful runs before this
 * run's logical date (newest first); results of checks that could not run
 * (status error) observed nothing and are left out.
 */
export function qualityHistory(store: StateStore, dagId: string, taskId: string, before: Date): QualityHistory {
  return {
    async checkValues(check, n) {
      const rows = await store.quality.checkHistory(dagId, { last: n, check, taskId, before, successfulRunsOnly: true });
      return rows.filter((r) => r.status !== 'error').map((r) => ({ logicalDate: r.logicalDate, observed: r.observed }));
    },
  };
}

/**
 * Stores a try's check results and load row counts as data quality history.
 * History is a by-product of the try: failing to store it is logged as a
 * warning and never changes how the try ended.
 */
async function storeQuality(a: TryArgs, tryRow: TaskTry, log: Logger, outputs: Record<string, unknown>): Promise<void> {
  try {
    const checks = checkResultsOf(outputs);
    const rowCounts = rowCountsOf(outputs);
    if (checks.length === 0 && rowCounts.length === 0) return;
    const store = a.deps.store;
    const run = await store.runs.get(a.runId);
    if (!run) return;
    await store.quality.record(tryRow, { dagId: a.dag.id, logicalDate: run.logicalDate, checks, rowCounts, now: a.clock.now() });
  } catch (err) {
    log.warn(
      { err: redactText(errorMessage(err)) },
      'could not store the data quality history of this try (the try is unaffected)',
    );
  }
}

/** The state's connection store as operators see it (TaskContext.connectionStore), on the run's clock. */
export function recordedConnections(connections: ConnectionStore, clock: Clock): RecordedConnections {
  return {
    setConnection: (name, url, extra, by) => connections.set(name, url, { extra, by, now: clock.now() }),
    getConnection: (name) => connections.get(name),
    deleteConnection: (name) => connections.delete(name),
  };
}

/** Logs and records how a try ended (error null: success); decides up_for_retry or failed. */
async function recordEnd(
  a: TryArgs,
  tryRow: TaskTry,
  log: Logger,
  outputs: Record<string, unknown>,
  error: unknown,
): Promise<TaskInstance> {
  const { runId, spec, clock } = a;
  const store = a.deps.store;
  const now = clock.now();
  if (error === null) {
    log.info({ outputs: Object.keys(outputs).length ? outputs : undefined }, 'try succeeded');
    await store.tasks.endTry(tryRow, { state: 'success', taskState: 'success', now, outputs });
    await storeQuality(a, tryRow, log, outputs);
    a.setState(spec.id, 'success', tryRow.tryNumber);
    return (await store.tasks.get(runId, spec.id))!;
  }

  if (error instanceof TaskSkipped) {
    // Airflow's AirflowSkipException: the task ends skipped (exit_code_skip, a soft_fail sensor timeout);
    // downstream tasks follow their trigger rules (all_success ones are skipped too).
    const reason = redactText(error.message);
    log.info({ reason }, 'try skipped');
    await store.tasks.endTry(tryRow, { state: 'skipped', taskState: 'skipped', now, error: reason, outputs });
    a.setState(spec.id, 'skipped', tryRow.tryNumber, reason);
    return (await store.tasks.get(runId, spec.id))!;
  }

  let message = redactText(errorMessage(error));
  // A TryAbort says itself whether it may be retried (an interruption without requeue may not); other errors
  // through their `retryable` flag, OS error code or SQLSTATE (errors.ts).
  const notRetried = notRetryableReason(error);
  const ti = (await store.tasks.get(runId, spec.id))!;
  const triesLeft = ti.tryNumber < ti.maxTries;
  const retry = notRetried === null && triesLeft;
  const nextTryAt = retry ? new Date(now.getTime() + retryDelayMs(spec, tryRow.tryNumber)) : null;
  if (retry) {
    const next = describeNextTry(ti.tryNumber + 1, ti.maxTries, nextTryAt!, now);
    log.error({ err: message, next_try_at: nextTryAt!.toISOString() }, `try failed; up_for_retry: ${next}`);
  } else if (triesLeft && !(error instanceof TryAbort)) {
    // Tries were left, but this failure would come back on every one of them: say so where the user looks first.
    const why = redactText(notRetried!);
    log.error({ err: message }, `try failed; not retried: ${why} (${ti.maxTries - ti.tryNumber} retries left unused)`);
    message = `not retried (${why}): ${message}`;
  } else {
    log.error({ err: message }, 'try failed');
  }
  await store.tasks.endTry(tryRow, {
    state: 'failed',
    taskState: retry ? 'up_for_retry' : 'failed',
    now,
    error: message,
    stack: error instanceof Error && error.stack ? redactText(error.stack) : null,
    nextTryAt,
    outputs,
  });
  await storeQuality(a, tryRow, log, outputs);
  a.setState(
    spec.id,
    retry ? 'up_for_retry' : 'failed',
    tryRow.tryNumber,
    message,
    retry ? { nextTryAt: nextTryAt!, maxTries: ti.maxTries } : undefined,
  );
  return (await store.tasks.get(runId, spec.id))!;
}

function rejectOnAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/** The connection a task works on, when its operator declares the parameter naming it (else: the warehouse). */
function taskConnection(op: OperatorDef, spec: TaskSpec): string | undefined {
  const value = op.connectionParam === undefined ? undefined : spec.params[op.connectionParam];
  return typeof value === 'string' ? value : undefined;
}

/**
 * The dialect of a warehouse connection, as the resolver knows it from the
 * URL. An unknown or malformed connection renders as postgres: the task
 * fails with the connection's own error when it opens it.
 */
function dialectOf(c: ConnectionResolver, name?: string): Dialect {
  try {
    return c.dialect(name);
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
