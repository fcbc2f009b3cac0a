/**
 * The report model: everything `sluice report` shows about one run, read from
 * the state DB alone, in one plain JSON-ready object. Every format (text,
 * json, junit, html) renders this model and nothing else, so they never
 * disagree; `--format json` prints it as is (its shape is documented in
 * docs/quality.md, "Reports", and only grows: fields are added, never renamed
 * or removed, and `report_version` changes if that promise is ever broken).
 */
import { SluiceError, UsageError } from '../../errors.js';
import { redactValue } from '../../redact.js';
import { checkResultsOf, type CheckResult } from '../../quality.js';
import type { CheckStatus, DagRun, NewCheckResult, StateStore, TaskTry } from '../../state/index.js';
import { isoSeconds } from '../format.js';

/** Bumped only if a field is renamed or removed (never so far). */
export const REPORT_VERSION = 1;

/** The default of `--last`: how many runs the trends cover. */
export const DEFAULT_LAST = 30;

/** One check of the reported run. `passed`/`message` keep the shape reports had before statuses existed. */
export interface ReportCheck extends CheckResult {
  status: CheckStatus;
  table: string | null;
  /** A few offending rows, where the check has them. */
  sample: Record<string, unknown>[] | null;
  duration_ms: number | null;
}

export interface ReportTry {
  try_number: number;
  state: string;
  started_at: string | null;
  ended_at: string | null;
  duration_ms: number | null;
  host: string;
  error: string | null;
}

export interface ReportRejection {
  table: string;
  object: string;
  line: number;
  column: string | null;
  value: string | null;
  reason: string;
}

export interface TaskReport {
  task_id: string;
  operator: string;
  state: string | null;
  try_number: number | null;
  started_at: string | null;
  ended_at: string | null;
  duration_ms: number | null;
  /** Every try, in order (the task timeline). */
  tries: ReportTry[];
  outputs: Record<string, unknown>;
  rejections: ReportRejection[];
  checks: ReportCheck[];
}

/** One run in the trend window (oldest first). */
export interface HistoryRun {
  run_id: string;
  logical_date: string;
  state: string | null;
}

export interface TablePoint {
  run_id: string;
  logical_date: string;
  rows: number;
  task_id: string;
}

export interface CheckPoint {
  run_id: string;
  logical_date: string;
  status: CheckStatus;
  observed: unknown;
}

export interface ReportHistory {
  /** The --last asked for. */
  last: number;
  /** The runs the window holds, oldest first, the reported run last. */
  runs: HistoryRun[];
  /** Per table: its row count in each run that loaded it, oldest first. */
  tables: { table: string; points: TablePoint[] }[];
  /** Per check (task + name): its status and observed value in each run, oldest first. */
  checks: { task_id: string; check: string; type: string | null; table: string | null; points: CheckPoint[] }[];
}

export interface RunReport {
  report_version: number;
  run_id: string;
  dag_id: string;
  state: string;
  run_type: string;
  logical_date: string;
  data_interval: [string, string];
  started_at: string | null;
  ended_at: string | null;
  duration_ms: number | null;
  tasks: TaskReport[];
  checks_total: number;
  checks_passed: number;
  /** Error-severity checks that failed or could not run: any makes `sluice report` exit 1. */
  checks_failed: number;
  /** Warn-severity checks that failed or could not run. */
  checks_warned: number;
  /** Checks that could not run (status error), of either severity. */
  checks_errored: number;
  rejected_lines: number;
  history: ReportHistory;
}

const iso = (d: Date | null | undefined): string | null => isoSeconds(d ?? null);

/** The run `--run` or `--date` names, else the DAG's latest. */
export async function pickRun(store: StateStore, dagId: string, o: { run?: string; date?: string }): Promise<DagRun> {
  if (o.run) {
    const r = await store.runs.get(o.run);
    if (!r || r.dagId !== dagId) throw new UsageError(`no run '${o.run}' of DAG ${dagId} (see: sluice runs list --dag ${dagId})`);
    return r;
  }
  if (o.date) {
    const d = new Date(o.date);
    if (Number.isNaN(d.getTime()))
      throw new UsageError(`--date '${o.date}' is not a date (use 2018-11-21 or 2018-11-21T00:00:00Z)`);
    const r = await store.runs.forDate(dagId, d);
    if (!r) throw new UsageError(`DAG ${dagId} has no run for ${isoSeconds(d)} (see: sluice runs list --dag ${dagId})`);
    return r;
  }
  const r = (await store.runs.list({ dagId, limit: 1 }))[0];
  if (!r) throw new SluiceError(`DAG ${dagId} has no runs yet (start one: run-dag ${dagId})`);
  return r;
}

/** Whether a check counts as failed (error severity) or warned, whatever its status word. */
export function isFailure(c: Pick<ReportCheck, 'status' | 'severity'>): boolean {
  return (c.status === 'fail' || c.status === 'error') && c.severity === 'error';
}
export function isWarning(c: Pick<ReportCheck, 'status' | 'severity'>): boolean {
  return c.status === 'warn' || (c.status === 'error' && c.severity === 'warn');
}

/** A stored check result (or one read from an older run's outputs.checks) as the report shows it. */
function toReportCheck(r: NewCheckResult): ReportCheck {
  return {
    name: r.name,
    type: r.type,
    severity: r.severity,
    passed: r.status === 'pass',
    observed: r.observed,
    expected: r.expected,
    message: r.message ?? undefined,
    status: r.status,
    table: r.table,
    sample: r.sample,
    duration_ms: r.durationMs,
  };
}

function tryOf(t: TaskTry): ReportTry {
  return {
    try_number: t.tryNumber,
    state: t.state,
    started_at: iso(t.startedAt),
    ended_at: iso(t.endedAt),
    duration_ms: t.durationMs,
    host: t.host,
    error: t.error,
  };
}

/** Builds the report of `run`, with trends over the DAG's last `last` runs up to it. Secrets are redacted. */
export async function buildReport(store: StateStore, run: DagRun, o: { last?: number } = {}): Promise<RunReport> {
  const last = o.last ?? DEFAULT_LAST;
  const [instances, tries, stored] = await Promise.all([
    store.tasks.list(run.runId),
    store.tasks.tries(run.runId),
    store.quality.forRun(run.runId),
  ]);
  const storedByTask = new Map<string, ReportCheck[]>();
  for (const r of stored) {
    const list = storedByTask.get(r.taskId) ?? [];
    list.push(toReportCheck(r));
    storedByTask.set(r.taskId, list);
  }
  const tasks: TaskReport[] = [];
  for (const ti of instances) {
    const mine = tries.filter((t) => t.taskId === ti.taskId);
    const latest = mine[mine.length - 1];
    const { checks: rawChecks, ...outputs } = (latest ? await store.tasks.outputs(latest.tryId) : null) ?? {};
    const rejections = latest ? await store.logs.rejections(latest.tryId) : [];
    // Runs stored before check results were have them in outputs.checks only.
    const checks = storedByTask.get(ti.taskId) ?? checkResultsOf({ checks: rawChecks }).map(toReportCheck);
    tasks.push({
      task_id: ti.taskId,
      operator: ti.operator,
      state: ti.state,
      try_number: latest?.tryNumber ?? null,
      started_at: iso(mine[0]?.startedAt ?? ti.startedAt),
      ended_at: iso(latest?.endedAt ?? ti.endedAt),
      duration_ms: latest?.durationMs ?? null,
      tries: mine.map(tryOf),
      outputs,
      rejections: rejections.map((x) => ({
        table: x.table,
        object: x.object,
        line: x.line,
        column: x.column ?? null,
        value: x.value ?? null,
        reason: x.reason,
      })),
      checks,
    });
  }
  const all = tasks.flatMap((t) => t.checks);
  const tables = new Set<string>();
  for (const t of tasks) if (typeof t.outputs.table === 'string') tables.add(t.outputs.table);
  const report: RunReport = {
    report_version: REPORT_VERSION,
    run_id: run.runId,
    dag_id: run.dagId,
    state: run.state,
    run_type: run.runType,
    logical_date: iso(run.logicalDate)!,
    data_interval: [iso(run.dataIntervalStart)!, iso(run.dataIntervalEnd)!],
    started_at: iso(run.startedAt),
    ended_at: iso(run.endedAt),
    duration_ms: run.startedAt && run.endedAt ? run.endedAt.getTime() - run.startedAt.getTime() : null,
    tasks,
    checks_total: all.length,
    checks_passed: all.filter((c) => c.status === 'pass').length,
    checks_failed: all.filter(isFailure).length,
    checks_warned: all.filter(isWarning).length,
    checks_errored: all.filter((c) => c.status === 'error').length,
    rejected_lines: tasks.reduce((n, t) => n + t.rejections.length, 0),
    history: await buildHistory(store, run, last, tables),
  };
  return redactValue(report);
}

/**
 * The trend window: the DAG's last `last` runs (by logical date) up to and
 * including the reported one, failed runs included (a trend that hid them
 * would hide the very drops a reader looks for).
 */
async function buildHistory(store: StateStore, run: DagRun, last: number, loaded: Set<string>): Promise<ReportHistory> {
  const before = new Date(run.logicalDate.getTime() + 1);
  const checks = await store.quality.checkHistory(run.dagId, { last, before });
  const tables = new Set(loaded);
  for (const c of checks) if (c.table) tables.add(c.table);
  const counts = await Promise.all(
    [...tables]
      .sort()
      .map(async (table) => ({ table, rows: await store.quality.tableCounts(run.dagId, table, { last, before }) })),
  );
  // The window's runs: those with checks or counts, their states read once.
  const runDates = new Map<string, Date>();
  for (const c of checks) runDates.set(c.runId, c.logicalDate);
  for (const t of counts) for (const r of t.rows) runDates.set(r.runId, r.logicalDate);
  runDates.set(run.runId, run.logicalDate);
  const ordered = [...runDates.entries()].sort((a, b) => a[1].getTime() - b[1].getTime()).slice(-last);
  const inWindow = new Set(ordered.map(([id]) => id));
  const states = new Map<string, string | null>(
    await Promise.all(ordered.map(async ([id]) => [id, (await store.runs.get(id))?.state ?? null] as const)),
  );

  const byCheck = new Map<string, ReportHistory['checks'][number]>();
  for (const c of [...checks].reverse()) {
    if (!inWindow.has(c.runId)) continue;
    const key = `${c.taskId}\u0000${c.name}`;
    let h = byCheck.get(key);
    if (!h) byCheck.set(key, (h = { task_id: c.taskId, check: c.name, type: c.type, table: c.table, points: [] }));
    h.points.push({ run_id: c.runId, logical_date: iso(c.logicalDate)!, status: c.status, observed: c.observed });
  }
  for (const h of byCheck.values()) h.points.sort((a, b) => a.logical_date.localeCompare(b.logical_date));
  // In the order the reported run ran its checks; checks it no longer has after them.
  const order = new Map(checks.filter((c) => c.runId === run.runId).map((c, i) => [`${c.taskId}\u0000${c.name}`, i]));
  const rank = (k: string) => order.get(k) ?? Number.MAX_SAFE_INTEGER;
  return {
    last,
    runs: ordered.map(([id, d]) => ({ run_id: id, logical_date: iso(d)!, state: states.get(id) ?? null })),
    tables: counts
      .map(({ table, rows }) => ({
        table,
        points: rows
          .filter((r) => inWindow.has(r.runId))
          .map((r) => ({ run_id: r.runId, logical_date: iso(r.logicalDate)!, rows: r.rows, task_id: r.taskId }))
          .sort((a, b) => a.logical_date.localeCompare(b.logical_date)),
      }))
      .filter((t) => t.points.length > 0),
    checks: [...byCheck.entries()].sort((a, b) => rank(a[0]) - rank(b[0])).map(([, v]) => v),
  };
}

/** `sluice report`'s exit status: 1 when the run failed or an error-severity check failed; 0 otherwise (running too). */
export function exitStatus(r: RunReport): number {
  return r.state === 'failed' || r.checks_failed > 0 ? 1 : 0;
}
