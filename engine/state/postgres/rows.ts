/**
 * The PostgreSQL state tables' rows and their records. pg already returns
 * timestamptz as Dates and json parsed; bigint ids come back as text.
 */
import type { RunState, RunType, TaskState } from '../../interfaces.js';
import type { DagRun, LogLine, SchedulerLockHolder, StoredConnection, TaskInstance, TaskTry } from '../index.js';

/**
 * Runs SQL on the pool or inside a transaction; returns the rows. A `name`
 * makes it a prepared statement (parsed and planned once per connection): for
 * the statements each try runs, whose text never changes.
 */
export type Q = <R = Record<string, unknown>>(text: string, values?: unknown[], name?: string) => Promise<R[]>;

export interface DagRunRow {
  run_id: string;
  dag_id: string;
  logical_date: Date;
  data_interval_start: Date;
  data_interval_end: Date;
  run_type: RunType;
  state: RunState;
  conf: Record<string, unknown>;
  note: string | null;
  created_at: Date;
  started_at: Date | null;
  ended_at: Date | null;
  host: string | null;
  pid: number | null;
}

export interface TaskInstanceRow {
  run_id: string;
  task_id: string;
  operator: string;
  state: TaskState | null;
  try_number: number;
  max_tries: number;
  next_try_at: Date | null;
  started_at: Date | null;
  ended_at: Date | null;
}

export interface TryRow {
  try_id: number;
  run_id: string;
  task_id: string;
  try_number: number;
  state: TaskState;
  started_at: Date;
  ended_at: Date | null;
  duration_ms: number | null;
  error: string | null;
  stack: string | null;
  host: string;
  pid: number;
}

/**
 * The columns of each record's row, listed (not `*`) where a prepared
 * statement returns them: its result shape then stays the same when a later
 * migration adds a column while the process runs.
 */
const columns = (names: string, alias?: string) =>
  names
    .split(/\s+/)
    .map((c) => (alias ? `${alias}.${c}` : c))
    .join(', ');
export const RUN_COLUMNS = (alias?: string) =>
  columns(
    'run_id dag_id logical_date data_interval_start data_interval_end run_type state conf note created_at started_at ended_at host pid',
    alias,
  );
export const TASK_INSTANCE_COLUMNS = (alias?: string) =>
  columns('run_id task_id operator state try_number max_tries next_try_at started_at ended_at', alias);
export const TRY_COLUMNS = (alias?: string) =>
  columns('try_id run_id task_id try_number state started_at ended_at duration_ms error stack host pid', alias);

export function toRun(r: DagRunRow): DagRun {
  return {
    runId: r.run_id,
    dagId: r.dag_id,
    logicalDate: r.logical_date,
    dataIntervalStart: r.data_interval_start,
    dataIntervalEnd: r.data_interval_end,
    runType: r.run_type,
    state: r.state,
    conf: r.conf,
    note: r.note,
    createdAt: r.created_at,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    host: r.host,
    pid: r.pid,
  };
}

export function toTaskInstance(r: TaskInstanceRow): TaskInstance {
  return {
    runId: r.run_id,
    taskId: r.task_id,
    operator: r.operator,
    state: r.state,
    tryNumber: r.try_number,
    maxTries: r.max_tries,
    nextTryAt: r.next_try_at,
    startedAt: r.started_at,
    endedAt: r.ended_at,
  };
}

export function toTry(r: TryRow): TaskTry {
  return {
    tryId: r.try_id,
    runId: r.run_id,
    taskId: r.task_id,
    tryNumber: r.try_number,
    state: r.state,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    durationMs: r.duration_ms,
    error: r.error,
    stack: r.stack,
    host: r.host,
    pid: r.pid,
  };
}

export function toLogLine(r: { id: string; try_id: number; ts: Date; level: string; msg: string; data: unknown }): LogLine {
  return {
    id: Number(r.id),
    tryId: r.try_id,
    ts: r.ts,
    level: r.level,
    msg: r.msg,
    data: (r.data ?? null) as Record<string, unknown> | null,
  };
}

export function toConnection(r: {
  name: string;
  url: string;
  extra: Record<string, unknown>;
  updated_at: Date;
  updated_by: string | null;
}): StoredConnection {
  return { name: r.name, url: r.url, extra: r.extra, updatedAt: r.updated_at, updatedBy: r.updated_by };
}

export function toLockHolder(r: { host: string; pid: number; started_at: Date; heartbeat_at: Date }): SchedulerLockHolder {
  return { host: r.host, pid: r.pid, startedAt: r.started_at, heartbeatAt: r.heartbeat_at };
}

/** JSON as written (the `json` type keeps key order and every digit). */
export const json = (v: unknown): string => JSON.stringify(v);
