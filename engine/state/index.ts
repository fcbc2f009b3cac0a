/**
 * The state of every run, behind small interfaces: one per aggregate (runs,
 * task instances and their tries, logs and rejected load lines, recorded
 * connections, schedulers and paused DAGs, crash recovery, leases, work
 * queues, pools, data quality history).
 *
 * Records are what callers use (records.ts, re-exported here): camelCase,
 * times as Dates, conf and outputs parsed. Every method is asynchronous and
 * takes the time it records from its caller (the injected clock), so the
 * implementation on a server (engine/state/postgres/) is a drop-in beside
 * the embedded SQLite one (engine/state/sqlite/), and one contract test
 * suite holds both to the same behaviour (test/integration/state/state-suite.ts).
 *
 * This module holds no driver: front doors and the run loop import it; only
 * the composition root (engine/cli/app.ts) and tests open an implementation.
 */
import os from 'node:os';
import { FINISHED_STATES, type Rejection, type RunState, type RunType, type TaskState } from '../interfaces.js';
import type {
  DagRun,
  TaskInstance,
  TaskTry,
  LogLine,
  StoredRejection,
  StoredConnection,
  SchedulerLockHolder,
  NewCheckResult,
  CheckResultRecord,
  TableCount,
  Orphan,
  TaskSeed,
  NewRun,
  ClearTasks,
  TriggerStep,
  TriggerOutcome,
  RunClaim,
  TryEnd,
  NewLogLine,
  AliveCheck,
  ImportReport,
  TableRows,
} from './records.js';

export type * from './records.js';

// ---------------------------------------------------------------------------
// The aggregates

/** DAG runs: one per (dag, logical date). */
export interface RunStore {
  /** Creates a run and its task instances; null when the DAG already has a run for that logical date. */
  create(r: NewRun): Promise<DagRun | null>;
  get(runId: string): Promise<DagRun | undefined>;
  forDate(dagId: string, logicalDate: Date): Promise<DagRun | undefined>;
  /** Newest logical date first (default limit 100). */
  list(filter?: { dagId?: string; state?: RunState; limit?: number }): Promise<DagRun[]>;
  /** The latest run of a DAG by logical date (of one run type, or any). */
  latest(dagId: string, runType?: RunType): Promise<DagRun | undefined>;
  /** Queued runs, oldest logical date first. */
  queued(): Promise<DagRun[]>;
  /**
   * Takes a queued run for this process, in one atomic step with the count
   * of the DAG's executing runs when `maxActiveRuns` is given (schedulers on
   * several hosts never both take the last slot). False when another process
   * took it first, or no slot is free. `leaseUntil` starts the run's lease
   * (see LeaseStore.renewRun).
   */
  claim(runId: string, now: Date, o?: RunClaim): Promise<boolean>;
  /**
   * A manual trigger in one atomic step: counts the executing runs
   * (max_active_runs), then creates the run or clears and claims the
   * existing one. Two processes never both take the last slot, nor both
   * create the same run.
   */
  trigger(step: TriggerStep): Promise<TriggerOutcome>;
  /** The run is now being executed by this process, holding a lease until `leaseUntil` when given. */
  start(runId: string, now: Date, leaseUntil?: Date): Promise<void>;
  finish(runId: string, state: RunState, now: Date, note?: string | null): Promise<void>;
  /** Puts a run back in the queue, for this or another process to resume. */
  requeue(runId: string, note: string | null): Promise<void>;
  setConf(runId: string, conf: Record<string, unknown>): Promise<void>;
  /**
   * Marks a run success or failed by hand: success marks every task not yet
   * successful or skipped success; failed marks every unfinished task failed.
   */
  mark(runId: string, state: 'success' | 'failed', now: Date): Promise<void>;
  /**
   * Marks task instances success or failed by hand (Airflow's "mark success"
   * on task instances), in one transaction, and sets the run's state from
   * its tasks: queued again while any task is unfinished, else finished
   * (failed when a task failed or is upstream_failed, else success).
   * Returns the tasks whose state changed, and the run's new state.
   */
  markTasks(
    runId: string,
    taskIds: string[],
    state: 'success' | 'failed',
    now: Date,
  ): Promise<{ marked: string[]; runState: RunState }>;
  /**
   * Clears task instances so they run again and queues the run; tries and
   * logs are kept, try numbers continue. Returns the ids of the tasks cleared.
   */
  clearTasks(runId: string, c: ClearTasks): Promise<string[]>;
  /** Adds task instances for tasks added to the DAG since the run was created; returns how many. */
  ensureTaskInstances(runId: string, tasks: TaskSeed[]): Promise<number>;
}

/** Task instances of a run and every try of each. */
export interface TaskStore {
  list(runId: string): Promise<TaskInstance[]>;
  get(runId: string, taskId: string): Promise<TaskInstance | undefined>;
  /** Sets a task instance's state without a try (scheduled, queued, skipped, upstream_failed, cleared). */
  setState(runId: string, taskId: string, state: TaskState | null, now: Date): Promise<void>;
  /**
   * Records a try as running before its operator starts, holding a lease
   * until `leaseUntil` when given (see LeaseStore).
   */
  startTry(runId: string, taskId: string, now: Date, leaseUntil?: Date): Promise<TaskTry>;
  /**
   * Records a try's end, its outputs, and the task instance's next state.
   * A try no longer running (failed as lost by another process meanwhile) is
   * left as it is, and so is its task instance: a late end never overwrites.
   * Returns the task instance as it now stands (read in the same statement
   * where the store can: a try's end needs no second round trip to know it).
   */
  endTry(t: TaskTry, end: TryEnd): Promise<TaskInstance | undefined>;
  /** In the order they started. */
  tries(runId: string, taskId?: string): Promise<TaskTry[]>;
  getTry(runId: string, taskId: string, tryNumber: number): Promise<TaskTry | undefined>;
  outputs(tryId: number): Promise<Record<string, unknown> | null>;
  /** The outputs of each task's latest try that recorded any. */
  latestOutputs(runId: string): Promise<Map<string, { tryNumber: number; outputs: Record<string, unknown> }>>;
}

/** A log line and the try it belongs to (LogStore.appendMany). */
export interface TryLogLine {
  tryId: number;
  line: NewLogLine;
}

/** A slice of a try's log lines: `limit` lines after skipping `offset`. */
export interface LogRange {
  offset: number;
  limit: number;
}

/** A try's log lines and the lines its loads rejected. */
export interface LogStore {
  append(tryId: number, line: NewLogLine): Promise<void>;
  /**
   * Several lines, of one try or several, in one write, stored in the order
   * given (the task log sink batches a process's lines this way).
   */
  appendMany(lines: TryLogLine[]): Promise<void>;
  /** A try's lines in order; with a range, only `limit` lines from the `offset`-th (0-based): a page of a long log. */
  list(tryId: number, range?: LogRange): Promise<LogLine[]>;
  /** How many lines a try has logged. */
  count(tryId: number): Promise<number>;
  recordRejections(tryId: number, table: string, rejections: Rejection[]): Promise<void>;
  rejections(tryId: number): Promise<StoredRejection[]>;
}

/**
 * Connections recorded at run time (a cluster's endpoint by CreateCluster),
 * overriding the config file. URLs hold no literal secret.
 */
export interface ConnectionStore {
  set(name: string, url: string, o: { extra?: Record<string, unknown>; by?: string | null; now: Date }): Promise<void>;
  get(name: string): Promise<StoredConnection | undefined>;
  list(): Promise<StoredConnection[]>;
  delete(name: string): Promise<boolean>;
}

/**
 * What schedulers keep: paused DAGs, and who schedules. On a state that
 * several hosts share (PostgreSQL) schedulers are active/active, as
 * Airflow's HA scheduler: each registers and heartbeats, and they share the
 * work through row locks (runs are claimed, leases recovered). On an
 * embedded state (SQLite) one scheduler runs at a time: the first holds a lock.
 */
export interface SchedulerStore {
  /** Whether several schedulers may run at once on this state (else acquireLock refuses a second one). */
  readonly activeActive: boolean;
  setPaused(dagId: string, paused: boolean, now: Date): Promise<void>;
  pausedDags(): Promise<Set<string>>;
  /**
   * Registers this scheduler. One at a time (not activeActive): takes the
   * lock, where a holder whose process is gone (same host) or whose
   * heartbeat is older than `staleMs` (another host) is taken over, and
   * returns the live holder when another process has it. Active/active:
   * registers beside the others (forgetting those silent for `staleMs`) and
   * returns null.
   */
  acquireLock(now: Date, o?: { staleMs?: number; alive?: AliveCheck }): Promise<SchedulerLockHolder | null>;
  heartbeat(now: Date): Promise<void>;
  releaseLock(): Promise<void>;
  /** The registered schedulers, latest heartbeat first. */
  schedulers(): Promise<SchedulerLockHolder[]>;
}

/** Tries and runs left behind by processes that died. */
export interface RecoveryStore {
  /** Whether recover() would find something (reads only). */
  hasOrphans(alive?: AliveCheck): Promise<boolean>;
  /**
   * Marks tries left running by a process of this host that is gone failed
   * ("process died"), their task instances up_for_retry or failed, and
   * queues again the runs such processes were executing. Returns the tries found.
   */
  recover(now: Date, alive?: AliveCheck): Promise<Orphan[]>;
}

/**
 * Leases on running tries, for processes on several hosts: a try's process
 * renews its lease while the try runs (a heartbeat); a try whose lease ended
 * belongs to a process that died or was cut off, on any host, and any
 * process recovers it ("worker lost"). Times are wall-clock times: a lease
 * measures whether a process is alive, not the schedule.
 */
export interface LeaseStore {
  /** Extends the lease of a running try to `until`; false when it is no longer running (recovered as lost). */
  renew(tryId: number, until: Date): Promise<boolean>;
  /** Running tries whose lease ended before `now`, on any host, oldest first. */
  expired(now: Date): Promise<TaskTry[]>;
  /**
   * Fails the tries whose lease ended before `now` ("worker lost"), their
   * task instances up_for_retry (tries left) or failed, and queues again the
   * runs their processes were executing, in one transaction; two processes
   * recovering at once never both recover the same try. Returns what was found.
   */
  recoverExpired(now: Date): Promise<Orphan[]>;
  /**
   * Extends the lease of a run this process executes to `until`; false when
   * the run is no longer this process's (recovered and taken by another
   * scheduler): the caller must stop driving it.
   */
  renewRun(runId: string, until: Date): Promise<boolean>;
  /**
   * Queues again the running runs whose lease ended before `now` (their
   * scheduler died or was cut off, on any host), unless a try of that same
   * process still holds a live lease; two processes never both recover one
   * run. Returns the runs found, with the process that had them.
   */
  recoverExpiredRuns(now: Date): Promise<{ runId: string; host: string | null; pid: number | null }[]>;
}

/** A task instance a worker took from the queue, to run one try of. */
export interface Claimed {
  runId: string;
  dagId: string;
  taskId: string;
  queue: string;
  /** The task instance's try number when claimed: the try the worker starts is the next one. */
  tryNumber: number;
  queuedAt: Date;
  /** The run and the task instance as they stood when claimed: the worker reads nothing more before the try. */
  run: DagRun;
  instance: TaskInstance;
}

/** A `sluice worker` process, as it reports itself (see WorkStore.heartbeat). */
export interface WorkerRecord {
  host: string;
  pid: number;
  queues: string[];
  concurrency: number;
  /** Tries it is running now. */
  running: number;
  startedAt: Date;
  heartbeatAt: Date;
}

/**
 * Task instances handed to workers (the scheduler in workers mode, `sluice
 * worker` processes on any host): the scheduler queues a ready task
 * instance on its task's queue, a worker claims it and runs its try. Two
 * claimers never get the same task instance (row locks skipped by the
 * others on PostgreSQL, the write lock taken first on SQLite).
 */
export interface WorkStore {
  /**
   * Puts a task instance in its queue (state queued), for a worker to claim.
   * One already queued for workers keeps its place and its claim (a run loop
   * resuming it never hands it out twice).
   */
  enqueue(runId: string, taskId: string, queue: string, now: Date): Promise<void>;
  /**
   * Takes up to `n` queued task instances of running runs on these queues,
   * oldest first, for the process `pid` on `host`. A claimed task instance
   * stays `queued` until its try starts (TaskStore.startTry makes it running).
   */
  claim(queues: string[], n: number, host: string, pid: number, now: Date): Promise<Claimed[]>;
  /**
   * Claims taken before `before` whose try never started, by a worker whose
   * last heartbeat is older than `before` (it died between claiming and
   * starting), go back to the queue; returns how many. A live worker keeps
   * its claims (one waiting for pool slots, say).
   */
  releaseStale(before: Date): Promise<number>;
  /** Records a worker as alive (registering it the first time). */
  heartbeat(w: Omit<WorkerRecord, 'startedAt' | 'heartbeatAt'>, now: Date): Promise<void>;
  /** Removes a worker that stops. */
  leave(host: string, pid: number): Promise<void>;
  /** Every worker that reported, latest heartbeat first. */
  workers(): Promise<WorkerRecord[]>;
  /**
   * Push wake-ups, where the database has them (PostgreSQL LISTEN/NOTIFY):
   * `on` is called soon after a task instance is queued on one of `queues`
   * (with its queue), or after a worker's try ended (with its run and task,
   * when `tryEnds`). A hint only: one may be missed (a lost connection), so
   * callers still poll, less often. Resolves once listening; call the
   * function returned to stop. Absent (SQLite): callers poll.
   */
  wakeups?(topics: WakeTopics, on: (e: WakeEvent) => void): Promise<() => void>;
}

/** What a WorkStore.wakeups listener asks for. */
export interface WakeTopics {
  queues?: string[];
  tryEnds?: boolean;
}

/** One wake-up: a task instance queued on `queue`, or the try of `taskId` in `runId` ended. */
export type WakeEvent = { kind: 'queued'; queue: string } | { kind: 'tryEnded'; runId: string; taskId: string };

/** A named pool of slots (Airflow's pools): tries of tasks naming it hold slots while they run, on any host. */
export interface PoolRecord {
  name: string;
  slots: number;
  description: string | null;
  updatedAt: Date;
}

/** A pool and what holds its slots now. */
export interface PoolUsage extends PoolRecord {
  /** Slots held by running tries. */
  running: number;
  /** Slots taken by tries about to start (a worker or run loop took a slot, the try is not recorded yet). */
  starting: number;
}

/** What PoolStore.take found: a slot taken, the pool full (its size and the slots in use), or no such pool. */
export type PoolTake = { outcome: 'taken' } | { outcome: 'full'; used: number; slots: number } | { outcome: 'missing' };

/**
 * Pools: a cap on the tries running at once over every run, DAG, scheduler
 * and worker sharing the state (a warehouse's connection limit, an API's
 * rate). A task naming a pool takes `slots` of it before its try starts and
 * holds them while the try runs; the slots come back when the try ends (or
 * its process is lost and the try is failed).
 */
export interface PoolStore {
  set(name: string, slots: number, o: { description?: string | null; now: Date }): Promise<void>;
  get(name: string): Promise<PoolRecord | undefined>;
  /** Every pool by name, with its slots in use. */
  list(): Promise<PoolUsage[]>;
  delete(name: string): Promise<boolean>;
  /**
   * Takes `slots` of `pool` for the next try of a task instance, in one
   * atomic step with the count of the slots in use (two processes never both
   * take the last one). Taken: the slots stay held while the try runs.
   */
  take(runId: string, taskId: string, pool: string, slots: number): Promise<PoolTake>;
}

/** Data quality history: every check result and every load's row count, per try. */
export interface QualityStore {
  /** Stores what one try found (replacing what that try stored before). */
  record(
    t: TaskTry,
    r: { dagId: string; logicalDate: Date; checks: NewCheckResult[]; rowCounts: { table: string; rows: number }[]; now: Date },
  ): Promise<void>;
  /** The check results of each task's latest try in a run that stored any, in the order they ran. */
  forRun(runId: string): Promise<CheckResultRecord[]>;
  /**
   * Check results over the DAG's runs, newest logical date first: the latest
   * try's results per run, of the `last` runs (by logical date) that have
   * any, before `before` when given, of runs that succeeded when asked.
   */
  checkHistory(
    dagId: string,
    o: { last: number; check?: string; taskId?: string; before?: Date; successfulRunsOnly?: boolean },
  ): Promise<CheckResultRecord[]>;
  /** A table's row counts as the DAG's runs loaded it, newest logical date first (same selection as checkHistory). */
  tableCounts(
    dagId: string,
    table: string,
    o: { last: number; before?: Date; successfulRunsOnly?: boolean },
  ): Promise<TableCount[]>;
}

/** One state backend: every aggregate over one database. */
export interface StateStore {
  /** Where the state lives, for messages (a file, or a server URL without secrets). */
  readonly location: string;
  /** Opened for reading only: writes are refused (recovery may still write, see RecoveryStore). */
  readonly readonly: boolean;
  readonly runs: RunStore;
  readonly tasks: TaskStore;
  readonly logs: LogStore;
  readonly connections: ConnectionStore;
  readonly scheduler: SchedulerStore;
  readonly recovery: RecoveryStore;
  readonly quality: QualityStore;
  readonly leases: LeaseStore;
  readonly work: WorkStore;
  readonly pools: PoolStore;
  schemaVersion(): Promise<number>;
  /**
   * Copies a whole history in (`sluice state migrate|import`), in one
   * transaction, ids kept; refused when this state already has runs. Only
   * stores that take a history from another have it (PostgreSQL).
   */
  importHistory?(tables: TableRows[]): Promise<ImportReport>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------
// Shared helpers

/** A run's state once every task instance is finished (see RunStore.markTasks); null while one is not. */
export function finishedRunState(states: (TaskState | null)[]): 'success' | 'failed' | null {
  if (states.some((s) => s === null || !FINISHED_STATES.has(s))) return null;
  return states.some((s) => s === 'failed' || s === 'upstream_failed') ? 'failed' : 'success';
}

/**
 * This host's name as tries and runs record it: SLUICE_HOSTNAME when set
 * (containers sharing a hostname, or several processes playing hosts), else
 * the OS's (Airflow's hostname_callable).
 */
export const HOST = process.env.SLUICE_HOSTNAME || os.hostname();

/** Airflow's scheduler_zombie_task_threshold, shorter: a try whose lease is not renewed for this long is lost. */
export const DEFAULT_LEASE_MS = 60_000;

/** The queue of a task that names none (Airflow's `[operators] default_queue`). */
export const DEFAULT_QUEUE = 'default';

/** The message of a try failed because its lease ended. */
export function workerLostMessage(t: TaskTry, leaseUntil: Date | null): string {
  return (
    `worker lost: pid ${t.pid} on ${t.host} stopped renewing this try's lease` +
    (leaseUntil ? ` (it ended at ${leaseUntil.toISOString()})` : '') +
    '; the process died, or lost the state database'
  );
}

/** `songplays__manual__2018-11-21T00:00:00Z`: globally unique, readable, sortable per dag. */
export function makeRunId(dagId: string, runType: RunType, logicalDate: Date): string {
  return `${dagId}__${runType}__${logicalDate.toISOString().replace('.000Z', 'Z')}`;
}

/** True when a process with this pid exists on this host. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether a run is being executed right now: state `running` and its
 * process alive. A process on another host cannot be checked and counts as
 * alive; one of this host that died does not (its run is requeued by the
 * next recovery).
 */
export function isExecuting(r: DagRun, alive: AliveCheck = processAlive): boolean {
  return r.state === 'running' && r.pid !== null && (r.host !== HOST || alive(r.pid));
}
