/**
 * The SQLite tables' rows and their mapping to the state records: times are
 * ISO-8601 UTC text, conf/outputs/extra/log data JSON text. Nothing outside
 * engine/state/sqlite/ sees a row.
 */
import type Database from 'better-sqlite3';
import type { RunState, RunType, TaskState } from '../../interfaces.js';
import type { DagRun, LogLine, SchedulerLockHolder, StoredConnection, TaskInstance, TaskTry } from '../index.js';

export interface DagRunRow {
  run_id: string;
  dag_id: string;
  logical_date: string;
  data_interval_start: string;
  data_interval_end: string;
  run_type: RunType;
  state: RunState;
  conf: string;
  note: string | null;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
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
  next_try_at: string | null;
  started_at: string | null;
  ended_at: string | null;
}

export interface TryRow {
  try_id: number;
  run_id: string;
  task_id: string;
  try_number: number;
  state: TaskState;
  started_at: string;
  ended_at: string | null;
  duration_ms: number | null;
  error: string | null;
  stack: string | null;
  host: string;
  pid: number;
}

export interface LogLineRow {
  id: number;
  try_id: number;
  ts: string;
  level: string;
  msg: string;
  data: string | null;
}

export interface ConnectionRow {
  name: string;
  url: string;
  extra: string;
  updated_at: string;
  updated_by: string | null;
}

export interface SchedulerLockRow {
  host: string;
  pid: number;
  started_at: string;
  heartbeat_at: string;
}

const date = (s: string): Date => new Date(s);
const maybeDate = (s: string | null): Date | null => (s === null ? null : new Date(s));
export const iso = (d: Date): string => d.toISOString();

export function toRun(r: DagRunRow): DagRun {
  return {
    runId: r.run_id,
    dagId: r.dag_id,
    logicalDate: date(r.logical_date),
    dataIntervalStart: date(r.data_interval_start),
    dataIntervalEnd: date(r.data_interval_end),
    runType: r.run_type,
    state: r.state,
    conf: JSON.parse(r.conf) as Record<string, unknown>,
    note: r.note,
    createdAt: date(r.created_at),
    startedAt: maybeDate(r.started_at),
    endedAt: maybeDate(r.ended_at),
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
    nextTryAt: maybeDate(r.next_try_at),
    startedAt: maybeDate(r.started_at),
    endedAt: maybeDate(r.ended_at),
  };
}

export function toTry(r: TryRow): TaskTry {
  return {
    tryId: r.try_id,
    runId: r.run_id,
    taskId: r.task_id,
    tryNumber: r.try_number,
    state: r.state,
    startedAt: date(r.started_at),
    endedAt: maybeDate(r.ended_at),
    durationMs: r.duration_ms,
    error: r.error,
    stack: r.stack,
    host: r.host,
    pid: r.pid,
  };
}

export function toLogLine(r: LogLineRow): LogLine {
  return {
    id: r.id,
    tryId: r.try_id,
    ts: date(r.ts),
    level: r.level,
    msg: r.msg,
    data: r.data === null ? null : (JSON.parse(r.data) as Record<string, unknown>),
  };
}

export function toConnection(r: ConnectionRow): StoredConnection {
  return {
    name: r.name,
    url: r.url,
    extra: JSON.parse(r.extra) as Record<string, unknown>,
    updatedAt: date(r.updated_at),
    updatedBy: r.updated_by,
  };
}

export function toLockHolder(r: SchedulerLockRow): SchedulerLockHolder {
  return { host: r.host, pid: r.pid, startedAt: date(r.started_at), heartbeatAt: date(r.heartbeat_at) };
}

/**
 * Prepared statements of one connection, each prepared once: SQL text in,
 * statement out (better-sqlite3 does not cache them itself).
 */
export class Statements {
  private readonly cache = new Map<string, Database.Statement>();

  constructor(readonly db: Database.Database) {}

  get(sql: string): Database.Statement {
    let s = this.cache.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.cache.set(sql, s);
    }
    return s;
  }

  /** Runs fn in a transaction (nested calls join the outer one); `immediate` takes the write lock up front. */
  tx<T>(fn: () => T, immediate = false): T {
    const t = this.db.transaction(fn);
    return immediate ? t.immediate() : t();
  }
}
