/**
 * The state records as the CLI prints them in --json (and as they always
 * were printed): snake_case keys, times as ISO-8601 UTC strings. One place,
 * so `runs list --json`, `tasks list --json` and `logs --json` stay a stable
 * interface for scripts whatever the state store behind them.
 */
import type { DagRun, LogLine, TaskInstance, TaskTry } from '../state/index.js';

const isoOrNull = (d: Date | null): string | null => (d === null ? null : d.toISOString());

export function runJson(r: DagRun) {
  return {
    run_id: r.runId,
    dag_id: r.dagId,
    logical_date: r.logicalDate.toISOString(),
    data_interval_start: r.dataIntervalStart.toISOString(),
    data_interval_end: r.dataIntervalEnd.toISOString(),
    run_type: r.runType,
    state: r.state,
    conf: r.conf,
    note: r.note,
    created_at: r.createdAt.toISOString(),
    started_at: isoOrNull(r.startedAt),
    ended_at: isoOrNull(r.endedAt),
    host: r.host,
    pid: r.pid,
  };
}

export function taskInstanceJson(t: TaskInstance) {
  return {
    run_id: t.runId,
    task_id: t.taskId,
    operator: t.operator,
    state: t.state,
    try_number: t.tryNumber,
    max_tries: t.maxTries,
    next_try_at: isoOrNull(t.nextTryAt),
    started_at: isoOrNull(t.startedAt),
    ended_at: isoOrNull(t.endedAt),
  };
}

export function tryJson(t: TaskTry) {
  return {
    try_id: t.tryId,
    run_id: t.runId,
    task_id: t.taskId,
    try_number: t.tryNumber,
    state: t.state,
    started_at: t.startedAt.toISOString(),
    ended_at: isoOrNull(t.endedAt),
    duration_ms: t.durationMs,
    error: t.error,
    stack: t.stack,
    host: t.host,
    pid: t.pid,
  };
}

export function logLineJson(l: LogLine) {
  return { id: l.id, try_id: l.tryId, ts: l.ts.toISOString(), level: l.level, msg: l.msg, data: l.data };
}
