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
  OtherRuns,
  QualityHistory,
  RecordedConnections,
  RetryPolicy,
  TaskContext,
  TaskSpec,
  TaskState,
} from '../interfaces.js';
import { TaskFailure, TaskSkipped, TemplateError, TryAbort, errorMessage, notRetryableReason } from '../errors.js';
import { redactText } from '../redact.js';
import type { OperatorRegistry } from '../registry.js';
import { checkResultsOf, rowCountsOf } from '../quality.js';
import { keepLease, type LeaseKeeper } from './lease.js';
import { takePoolSlots } from './pool-slots.js';
import { DEFAULT_LEASE_MS, type ConnectionStore, type StateStore, type TaskInstance, type TaskTry } from '../state/index.js';
import { buildContext, isSqlFileRef, render, renderDeep, type TemplateContext } from '../template/index.js';
import { type Clock, type LongTimer, setLongTimeout } from './clock.js';
import { formatDuration } from '../duration.js';
import { transitiveUpstream } from '../dag/templates.js';
import { recordWithLines } from '../log.js';
import type { DagRun, TryEnd } from '../state/index.js';

/** What a try needs from the process running it. */
export interface TryDeps {
  store: StateStore;
  registry: OperatorRegistry;
  connections: ConnectionResolver;
  /** The logger task loggers are children of (its destination stores lines per try). */
  logger: Logger;
  /** Resolves a relative path from a DAG file (SQL files). */
  resolvePath: (p: string) => string;
  /** How long a try's lease lasts without a renewal (scheduler.lease_timeout; default 60 s). */
  leaseMs?: number;
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
  /** The run, when the caller has it (a worker's claim returns it): not read again for the task's context. */
  run?: DagRun;
  setState: SetTaskState;
  /** Told which direct downstream tasks a successful Branch try follows (the run loop skips the others). */
  onBranch?: (taskIds: string[]) => void;
}

/**
 * The most a try may record as outputs (1 MiB of JSON). Outputs are small
 * values handed to downstream tasks (row counts, keys, ids), stored with
 * every try and read by every downstream try: data belongs in the warehouse
 * or the lake, with its key in the outputs.
 */
export const MAX_OUTPUTS_BYTES = 1024 * 1024;

/**
 * The output a try records to choose the direct downstream tasks that run
 * (Airflow's BaseBranchOperator); the run loop skips the others.
 */
export const BRANCH_OUTPUT = 'branch';

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
  return `try ${nextTry} of ${maxTries} ${describeWhen(at, now)}`;
}

/** "at 12:34:56Z (in 5m)": when something comes (UTC; the date too when it is not today's). */
export function describeWhen(at: Date, now: Date): string {
  const iso = at.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const sameDay = iso.slice(0, 10) === now.toISOString().slice(0, 10);
  const inMs = Math.max(0, at.getTime() - now.getTime());
  return `at ${sameDay ? iso.slice(11) : iso} (in ${formatDuration(Math.ceil(inMs / 1000) * 1000)})`;
}

/** Runs one try of a task and records it; returns the task instance as it now stands. */
export async function runTry(a: TryArgs): Promise<TaskInstance> {
  const { dag, runId, spec, deps, clock, abort } = a;
  const store = deps.store;
  const op = deps.registry.get(spec.operator);
  const leaseMs = deps.leaseMs ?? DEFAULT_LEASE_MS;
  // A task in a pool takes its slots first, waiting while the pool is full (on any host); nothing is recorded meanwhile.
  const pool = spec.pool
    ? await takePoolSlots(store, { runId, taskId: spec.id, pool: spec.pool, slots: spec.poolSlots ?? 1 }, abort.signal)
    : null;
  if (pool?.outcome === 'aborted') return a.tryOf;
  // The lease's first end, also keepLease's first deadline: from before startTry's statement, however long it took.
  const leaseUntil = new Date(Date.now() + leaseMs);
  const tryRow = await store.tasks.startTry(runId, spec.id, clock.now(), leaseUntil);
  a.setState(spec.id, 'running', tryRow.tryNumber);
  const log = deps.logger.child({
    dag_id: dag.id,
    run_id: runId,
    task_id: spec.id,
    try: tryRow.tryNumber,
    try_id: tryRow.tryId,
  });
  const lease = keepTryLease(store, tryRow.tryId, leaseMs, leaseUntil.getTime(), abort, log);
  const outputs: Record<string, unknown> = {};
  const reschedule: Reschedule = { at: null };
  let timer: LongTimer | undefined;
  if (spec.executionTimeoutMs !== null) {
    const ms = spec.executionTimeoutMs;
    // Chained timers: a plain setTimeout beyond 2^31 - 1 ms (~24.8 days) would fire at once.
    timer = setLongTimeout(() => abort.abort(new TryAbort(`execution_timeout of ${formatDuration(ms)} exceeded`, true)), ms);
  }
  let error: unknown = null;
  try {
    if (!op) throw new Error(`operator ${spec.operator} is not registered`);
    if (pool?.outcome === 'refused') throw pool.error;
    const ctx = await taskContext(a, op, tryRow, log, outputs, reschedule);
    log.info({ operator: spec.operator }, 'try started');
    if (pool?.outcome === 'taken')
      log.info({ pool: spec.pool, slots: spec.poolSlots ?? 1, waited_ms: pool.waitedMs }, 'pool slots taken');
    if (abort.signal.aborted) throw abort.signal.reason;
    const work = op.execute(ctx as never);
    work.catch(() => undefined); // an operator that ignores its signal may reject after we moved on
    await Promise.race([work, rejectOnAbort(abort.signal)]);
    if (abort.signal.aborted) throw abort.signal.reason;
  } catch (err) {
    error = abort.signal.aborted ? abort.signal.reason : err;
  } finally {
    timer?.clear();
    lease.stop();
  }
  return recordEnd(a, tryRow, log, outputs, error, reschedule.at);
}

/**
 * The try's heartbeat (see lease.ts). When the lease cannot be renewed and
 * less than half of it is left, the try is aborted, so it stops before its
 * lease ends and another worker may take it over. When another process
 * already failed the try as lost, it is aborted at once (no retry from here:
 * the recovery decided).
 */
function keepTryLease(
  store: StateStore,
  tryId: number,
  leaseMs: number,
  firstEnd: number,
  abort: AbortController,
  log: Logger,
): LeaseKeeper {
  return keepLease(
    (until) => store.leases.renew(tryId, until),
    leaseMs,
    (loss) => {
      if (loss.why === 'taken') {
        abort.abort(
          new TryAbort('worker lost: another process failed this try after its lease ended; it is not run on here', false),
        );
        return;
      }
      const message = `could not renew this try's lease (${errorMessage(loss.err)}); stopped before the lease ends, for another worker to retry it`;
      // Said here: recording the try's end needs the state database, which may be out of reach for long.
      log.error(message);
      abort.abort(new TryAbort(message, true));
    },
    (err, left) => log.warn({ err, lease_left_ms: left }, "could not renew this try's lease"),
    firstEnd,
  );
}

/** Set by TaskContext.reschedule: when the task's next try (a sensor's next poke) is due. */
interface Reschedule {
  at: Date | null;
}

/**
 * The outputs of the task's upstream tasks (direct or transitive), each from
 * its latest successful try; an upstream task without one (skipped, failed,
 * or it recorded nothing) maps to {}, so `{{ outputs.x.key }}` says which key
 * is missing.
 */
async function upstreamOutputs(a: TryArgs): Promise<Record<string, Record<string, unknown>>> {
  const { dag, runId, spec } = a;
  const ups = transitiveUpstream(spec.id, (id) => dag.tasks.get(id)?.upstream);
  if (ups.size === 0) return {};
  const store = a.deps.store;
  const [latest, tries] = await Promise.all([store.tasks.latestOutputs(runId), store.tasks.tries(runId)]);
  const succeeded = new Set(tries.filter((t) => t.state === 'success').map((t) => `${t.taskId}\u0000${t.tryNumber}`));
  const out: Record<string, Record<string, unknown>> = {};
  for (const id of dag.order) {
    if (!ups.has(id)) continue;
    const l = latest.get(id);
    out[id] = l && succeeded.has(`${id}\u0000${l.tryNumber}`) ? l.outputs : {};
  }
  return out;
}

/** What the previous try of this task recorded, when it ended up_for_reschedule (a sensor's earlier poke). */
async function rescheduledOutputs(a: TryArgs, tryRow: TaskTry): Promise<Record<string, unknown> | undefined> {
  if (tryRow.tryNumber < 2) return undefined;
  const store = a.deps.store;
  const prev = await store.tasks.getTry(a.runId, a.spec.id, tryRow.tryNumber - 1);
  if (!prev || prev.state !== 'up_for_reschedule') return undefined;
  return (await store.tasks.outputs(prev.tryId)) ?? {};
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
  reschedule: Reschedule,
): Promise<TaskContext<Record<string, unknown>>> {
  const { dag, runId, spec, deps, abort } = a;
  const store = deps.store;
  const run = a.run ?? (await store.runs.get(runId))!;
  const upstream = await upstreamOutputs(a);
  const rescheduled = await rescheduledOutputs(a, tryRow);
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
    outputs: upstream,
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
    outputs: upstream,
    now: () => a.clock.now(),
    reschedule: (at) => {
      reschedule.at = at;
    },
    ...(rescheduled ? { rescheduled } : {}),
    runsOf: otherRuns(store),
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

/**
 * Other DAGs' runs as operators see them (TaskContext.runsOf): a state read
 * through the state interfaces, nothing else (ExternalRunSensor).
 */
export function otherRuns(store: StateStore): OtherRuns {
  return {
    async stateOf(dagId, logicalDate, taskId) {
      const run = await store.runs.forDate(dagId, logicalDate);
      if (!run) return null;
      if (taskId === undefined) return run.state;
      return (await store.tasks.get(run.runId, taskId))?.state ?? null;
    },
  };
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
  caught: unknown,
  rescheduleAt: Date | null,
): Promise<TaskInstance> {
  const { runId, spec, clock } = a;
  const store = a.deps.store;
  const now = clock.now();
  /** Records the end with the try's last log lines (never before them); returns the task instance as it now stands. */
  const end = async (e: TryEnd): Promise<TaskInstance> =>
    (await recordWithLines(log, tryRow.tryId, (logLines) => store.tasks.endTry(tryRow, { ...e, logLines })))!;
  let error = caught;
  const tooBig = outputsProblem(spec.id, outputs);
  if (tooBig) {
    // Nothing half-stored: the outputs are dropped whole and the try fails (or keeps its own error).
    for (const k of Object.keys(outputs)) delete outputs[k];
    if (error === null) error = tooBig;
    else log.warn({ err: tooBig.message }, 'the outputs of this try were not stored');
  }
  const branch = error === null && rescheduleAt === null ? branchOf(a, outputs) : null;
  if (branch instanceof TaskFailure) error = branch;

  if (error === null && rescheduleAt !== null) {
    // Sensors' mode: reschedule: not found yet; the try ends, the slot is free, the next poke is a new try.
    log.info(
      { next_try_at: rescheduleAt.toISOString() },
      `up_for_reschedule: next poke at ${rescheduleAt.toISOString()} (the task holds no slot until then)`,
    );
    // The task instance as it now stands: a reschedule added one try to its max_tries.
    const ti = await end({ state: 'up_for_reschedule', taskState: 'up_for_reschedule', now, nextTryAt: rescheduleAt, outputs });
    a.setState(spec.id, 'up_for_reschedule', tryRow.tryNumber, undefined, { nextTryAt: rescheduleAt, maxTries: ti.maxTries });
    return ti;
  }

  if (error === null) {
    if (Array.isArray(branch)) {
      outputs[BRANCH_OUTPUT] = branch;
      log.info({ follow: branch }, `branch: following ${branch.join(', ') || 'no task'}; the other downstream tasks are skipped`);
      a.onBranch?.(branch);
    }
    log.info({ outputs: Object.keys(outputs).length ? outputs : undefined }, 'try succeeded');
    const ti = await end({ state: 'success', taskState: 'success', now, outputs });
    await storeQuality(a, tryRow, log, outputs);
    a.setState(spec.id, 'success', tryRow.tryNumber);
    return ti;
  }

  if (error instanceof TaskSkipped) {
    // Airflow's AirflowSkipException: the task ends skipped (exit_code_skip, a soft_fail sensor timeout);
    // downstream tasks follow their trigger rules (all_success ones are skipped too).
    const reason = redactText(error.message);
    log.info({ reason }, 'try skipped');
    const ti = await end({ state: 'skipped', taskState: 'skipped', now, error: reason, outputs });
    a.setState(spec.id, 'skipped', tryRow.tryNumber, reason);
    return ti;
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
  const after = await end({
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
  return after;
}

/** A TaskFailure when a try's outputs are not JSON or exceed MAX_OUTPUTS_BYTES; null when they may be stored. */
function outputsProblem(taskId: string, outputs: Record<string, unknown>): TaskFailure | null {
  if (Object.keys(outputs).length === 0) return null;
  let bytes: number;
  try {
    bytes = Buffer.byteLength(JSON.stringify(outputs) ?? '', 'utf8');
  } catch (err) {
    return new TaskFailure(`task ${taskId} recorded outputs that are not JSON (${errorMessage(err)}); record plain values`, {
      retryable: false,
      notRetriedBecause: 'the outputs are not JSON',
    });
  }
  if (bytes <= MAX_OUTPUTS_BYTES) return null;
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(n < 10 * 1024 * 1024 ? 2 : 0)} MiB`;
  return new TaskFailure(
    `task ${taskId} recorded ${mb(bytes)} of outputs (JSON), over the limit of ${mb(MAX_OUTPUTS_BYTES)}: outputs pass small ` +
      'values to downstream tasks (row counts, keys, ids); write the data itself to the warehouse or the lake and record ' +
      'its table or key instead',
    { retryable: false, notRetriedBecause: 'the same outputs would be recorded again' },
  );
}

/**
 * The direct downstream tasks a successful try follows (its `branch` output),
 * null when it recorded none, or a TaskFailure naming what is wrong with it.
 */
function branchOf(a: TryArgs, outputs: Record<string, unknown>): string[] | TaskFailure | null {
  const value = outputs[BRANCH_OUTPUT];
  if (value === undefined) return null;
  const downstream = a.dag.downstream.get(a.spec.id) ?? [];
  const listed = downstream.length ? downstream.join(', ') : 'none: this task has no downstream tasks';
  const fail = (why: string) =>
    new TaskFailure(`task ${a.spec.id}: ${why}; the branch must name direct downstream tasks of ${a.spec.id} (${listed})`, {
      retryable: false,
      notRetriedBecause: 'the branch would choose the same tasks again',
    });
  const ids = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(ids) || ids.some((v) => typeof v !== 'string')) {
    return fail(`the branch output must be a task id or a list of task ids, not ${JSON.stringify(value)}`);
  }
  const unknown = (ids as string[]).filter((id) => !downstream.includes(id));
  if (unknown.length) {
    return fail(`the branch chose ${unknown.map((id) => `'${id}'`).join(', ')}, not a direct downstream task`);
  }
  return [...new Set(ids as string[])];
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
