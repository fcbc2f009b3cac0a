/**
 * The records and requests of the state API (engine/state/index.ts): what
 * the stores hand back (camelCase, times as Dates, JSON parsed) and what
 * callers hand them. Re-exported by index.ts: import them from there.
 */
import type { Rejection, RunState, RunType, TaskState } from '../interfaces.js';

// ---------------------------------------------------------------------------
// Records

export interface DagRun {
  runId: string;
  dagId: string;
  logicalDate: Date;
  dataIntervalStart: Date;
  dataIntervalEnd: Date;
  runType: RunType;
  state: RunState;
  conf: Record<string, unknown>;
  note: string | null;
  createdAt: Date;
  startedAt: Date | null;
  endedAt: Date | null;
  /** The host and process executing it (running), or that last did. */
  host: string | null;
  pid: number | null;
}

export interface TaskInstance {
  runId: string;
  taskId: string;
  operator: string;
  state: TaskState | null;
  /** The number of the latest try (0: none yet). */
  tryNumber: number;
  maxTries: number;
  nextTryAt: Date | null;
  startedAt: Date | null;
  endedAt: Date | null;
}

export interface TaskTry {
  tryId: number;
  runId: string;
  taskId: string;
  tryNumber: number;
  state: TaskState;
  startedAt: Date;
  endedAt: Date | null;
  durationMs: number | null;
  error: string | null;
  stack: string | null;
  host: string;
  pid: number;
}

export interface LogLine {
  id: number;
  tryId: number;
  ts: Date;
  level: string;
  msg: string;
  /** The line's structured fields, if any. */
  data: Record<string, unknown> | null;
}

export interface StoredRejection extends Rejection {
  table: string;
}

export interface StoredConnection {
  name: string;
  url: string;
  extra: Record<string, unknown>;
  updatedAt: Date;
  /** Who recorded it (`dag.task`, or null by hand). */
  updatedBy: string | null;
}

export interface SchedulerLockHolder {
  host: string;
  pid: number;
  startedAt: Date;
  heartbeatAt: Date;
}

/** pass; warn (a warn-severity check failed); fail (an error-severity check failed); error (the check could not run). */
export type CheckStatus = 'pass' | 'warn' | 'fail' | 'error';

/** One data quality check's result, as a try reports it. */
export interface NewCheckResult {
  name: string;
  /** row_count, not_null, unique, accepted_values, relationship, sql, freshness, row_count_change, schema, expression, ... */
  type: string;
  table: string | null;
  severity: 'error' | 'warn';
  status: CheckStatus;
  observed: unknown;
  expected: unknown;
  /** A few offending rows, where the check has them. */
  sample: Record<string, unknown>[] | null;
  /** Why it could not run (status error), or a note (e.g. too little history yet). */
  message: string | null;
  durationMs: number | null;
}

/** A stored check result, with where and when it ran. */
export interface CheckResultRecord extends NewCheckResult {
  id: number;
  tryId: number;
  runId: string;
  dagId: string;
  taskId: string;
  tryNumber: number;
  logicalDate: Date;
  recordedAt: Date;
}

/** A table's row count as a try loaded it (a per-table series across runs). */
export interface TableCount {
  tryId: number;
  runId: string;
  dagId: string;
  taskId: string;
  table: string;
  rows: number;
  logicalDate: Date;
  recordedAt: Date;
}

/** A try found `running` whose process is gone, and the state its task instance moved to. */
export interface Orphan {
  runId: string;
  taskId: string;
  tryNumber: number;
  pid: number;
  host: string;
  newState: TaskState;
}

// ---------------------------------------------------------------------------
// Requests

export interface TaskSeed {
  taskId: string;
  operator: string;
  maxTries: number;
}

export interface NewRun {
  dagId: string;
  logicalDate: Date;
  dataIntervalStart: Date;
  dataIntervalEnd: Date;
  runType: RunType;
  conf: Record<string, unknown>;
  tasks: TaskSeed[];
  now: Date;
  /** Create it already claimed (running, owned by this process), so no scheduler picks it up. */
  claim?: boolean;
}

export interface ClearTasks {
  /** Tries each cleared task gets again (its retries + 1). */
  triesFor: (taskId: string) => number;
  now: Date;
  /** Only the tasks not finished successfully. */
  failedOnly?: boolean;
  /** Only these tasks (default: all). */
  taskIds?: string[];
  /** Take the run for this process at once. */
  claim?: boolean;
}

/** What a manual trigger asks for, decided and done in one atomic step (see RunStore.trigger). */
export interface TriggerStep {
  /** The run to create when the DAG has none for its logical date (created claimed). */
  create: NewRun;
  /** When a run exists: clear it and claim it (a rerun); absent: an existing run is not touched. */
  rerun?: { tasks: TaskSeed[]; clear: ClearTasks; conf?: Record<string, unknown> };
  /**
   * max_active_runs: nothing is created or claimed while this many runs of
   * the DAG are executing (absent: no limit).
   */
  maxActiveRuns?: number;
  /** Whether a `running` run's process is executing it (see isExecuting). */
  executing: (run: DagRun) => boolean;
}

export type TriggerOutcome =
  | { outcome: 'created' | 'rerun'; run: DagRun }
  /** The DAG has a run for that date, and no rerun was asked (or it is being executed). */
  | { outcome: 'exists' | 'executing'; run: DagRun }
  /** max_active_runs reached: nothing changed. */
  | { outcome: 'no-slot'; active: DagRun[] };

/** What RunStore.claim checks and sets with the claim. */
export interface RunClaim {
  /** Claim only while the DAG has fewer executing runs than this. */
  maxActiveRuns?: number;
  /** Whether a `running` run's process is executing it (see isExecuting); with maxActiveRuns. */
  executing?: (run: DagRun) => boolean;
  /** The run's lease, renewed while it is executed (LeaseStore.renewRun). */
  leaseUntil?: Date;
}

export interface TryEnd {
  /**
   * up_for_reschedule: a sensor in reschedule mode that did not find what it waits for yet; the task
   * instance waits until nextTryAt and gets one more try (a reschedule does not use up a retry).
   */
  state: 'success' | 'failed' | 'skipped' | 'up_for_reschedule';
  taskState: 'success' | 'failed' | 'up_for_retry' | 'skipped' | 'up_for_reschedule';
  now: Date;
  error?: string | null;
  stack?: string | null;
  nextTryAt?: Date | null;
  outputs?: Record<string, unknown> | null;
  /**
   * The try's log lines not stored yet (the task log sink hands them over):
   * stored in the same write as the end, after the try's earlier lines, so a
   * try's end is never recorded before its last lines. Stored even when the
   * end itself is not (the try was failed as lost meanwhile).
   */
  logLines?: NewLogLine[];
}

export interface NewLogLine {
  ts: Date;
  level: string;
  msg: string;
  data: Record<string, unknown> | null;
}

/** Whether a process with this pid is alive on this host. */
export type AliveCheck = (pid: number) => boolean;

/** One table's rows of a whole history, column name to value (times as ISO text, JSON as its text, booleans as 0/1). */
export interface TableRows {
  table: string;
  rows: Record<string, unknown>[];
}

/** What StateStore.importHistory copied: rows per table, and rows skipped because the target had them. */
export interface ImportReport {
  copied: Record<string, number>;
  skipped: Record<string, number>;
}
