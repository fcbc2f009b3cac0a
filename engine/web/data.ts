/**
 * What each view shows, read through the state interfaces: the same
 * objects feed the HTML pages and the JSON API (/api/...), so the two never
 * disagree. Every value that may hold a secret (confs, outputs, errors, log
 * lines) goes through the redaction the CLI uses.
 */
import path from 'node:path';
import type { Dag, TaskState } from '../interfaces.js';
import { formatProblem } from '../errors.js';
import { redactText, redactValue } from '../redact.js';
import { lastCompleteInterval, nextIntervals } from '../dag/interval.js';
import type { CheckResultRecord, DagRun, LogLine, TaskInstance, TaskTry } from '../state/index.js';
import { taskSelection } from '../run/runs.js';
import { findDag, type WebContext } from './context.js';
import { WebError } from './http.js';

/** How many runs a DAG's grid shows per page. */
export const GRID_PAGE = 25;
/** Squares of recent runs in the DAG list. */
export const RECENT_RUNS = 10;

const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);

export function runJson(r: DagRun) {
  return {
    run_id: r.runId,
    dag_id: r.dagId,
    logical_date: r.logicalDate.toISOString(),
    data_interval: [r.dataIntervalStart.toISOString(), r.dataIntervalEnd.toISOString()],
    run_type: r.runType,
    state: r.state,
    conf: redactValue(r.conf),
    note: r.note === null ? null : redactText(r.note),
    started_at: iso(r.startedAt),
    ended_at: iso(r.endedAt),
    duration_ms: r.startedAt && r.endedAt ? r.endedAt.getTime() - r.startedAt.getTime() : null,
  };
}
export type RunJson = ReturnType<typeof runJson>;

/** Cron in words for the common shapes; anything else is shown as written. */
export function describeSchedule(s: string | null): string {
  if (s === null) return 'manual only (no schedule)';
  const presets: Record<string, string> = {
    '@once': 'once',
    '@hourly': 'every hour',
    '@daily': 'every day at 00:00',
    '@weekly': 'every Sunday at 00:00',
    '@monthly': 'on the 1st of every month at 00:00',
    '@yearly': 'every 1 January at 00:00',
    '@annually': 'every 1 January at 00:00',
  };
  if (presets[s]) return presets[s]!;
  const f = s.trim().split(/\s+/);
  if (f.length !== 5) return s;
  const [m, h, dom, mon, dow] = f as [string, string, string, string, string];
  const num = /^\d+$/;
  if (num.test(m) && num.test(h) && dom === '*' && mon === '*' && dow === '*') {
    return `every day at ${h.padStart(2, '0')}:${m.padStart(2, '0')}`;
  }
  if (num.test(m) && h === '*' && dom === '*' && mon === '*' && dow === '*') return `every hour at minute ${m}`;
  const every = /^\*\/(\d+)$/.exec(m);
  if (every && h === '*' && dom === '*' && mon === '*' && dow === '*') return `every ${every[1]} minutes`;
  return s;
}

/** The next data interval the scheduler will run, and when (null: manual DAG, or past its end_date). */
export function nextRun(dag: Dag, now: Date): { logical_date: string; runs_at: string } | null {
  if (dag.schedule === null || dag.schedule === '@once') return null;
  try {
    const last = lastCompleteInterval(dag, now);
    const next = nextIntervals(dag, last ? last.start : new Date(0), 1)[0];
    return next ? { logical_date: next.start.toISOString(), runs_at: next.end.toISOString() } : null;
  } catch {
    return null;
  }
}

export async function dagList(ctx: WebContext) {
  const { dags, errors } = ctx.loadDags();
  const paused = await ctx.store.scheduler.pausedDags();
  const now = new Date();
  const rows = [];
  for (const d of [...dags].sort((a, b) => a.id.localeCompare(b.id))) {
    const recent = await ctx.store.runs.list({ dagId: d.id, limit: RECENT_RUNS });
    rows.push({
      dag_id: d.id,
      description: d.description,
      file: path.basename(d.file),
      schedule: d.schedule,
      schedule_text: describeSchedule(d.schedule),
      timezone: d.timezone,
      tags: d.tags,
      tasks: d.tasks.size,
      paused: paused.has(d.id),
      next_run: nextRun(d, now),
      // oldest first, as the squares read left to right
      recent_runs: recent.reverse().map((r) => ({ run_id: r.runId, state: r.state, logical_date: r.logicalDate.toISOString() })),
    });
  }
  return {
    dags: rows,
    errors: errors.map((e) => ({
      file: path.basename(e.file),
      problems: e.problems.map((p) => redactText(formatProblem({ ...p, pos: { ...p.pos, file: path.basename(p.pos.file) } }))),
    })),
  };
}
export type DagListJson = Awaited<ReturnType<typeof dagList>>;

/** A DAG's grid: a page of its runs (newest first in the store, shown oldest left) and each task's state in each. */
export async function dagGrid(ctx: WebContext, dagId: string, page: number) {
  const dag = findDag(ctx, dagId);
  const upTo = await ctx.store.runs.list({ dagId, limit: (page + 1) * GRID_PAGE + 1 });
  const slice = upTo.slice(page * GRID_PAGE, (page + 1) * GRID_PAGE);
  const hasOlder = upTo.length > (page + 1) * GRID_PAGE;
  const runs = [];
  for (const r of slice.reverse()) {
    const states: Record<string, TaskState | null> = {};
    for (const ti of await ctx.store.tasks.list(r.runId)) states[ti.taskId] = ti.state;
    runs.push({ ...runJson(r), tasks: states });
  }
  const paused = (await ctx.store.scheduler.pausedDags()).has(dag.id);
  return {
    dag_id: dag.id,
    description: dag.description,
    file: path.basename(dag.file),
    schedule: dag.schedule,
    schedule_text: describeSchedule(dag.schedule),
    timezone: dag.timezone,
    paused,
    next_run: nextRun(dag, new Date()),
    params: redactValue(dag.params),
    param_specs: paramSpecs(dag),
    tasks: dag.order.map((id) => ({ task_id: id, operator: dag.tasks.get(id)!.operator, upstream: dag.tasks.get(id)!.upstream })),
    page,
    page_size: GRID_PAGE,
    has_older: hasOlder,
    runs,
  };
}
export type DagGridJson = Awaited<ReturnType<typeof dagGrid>>;

export async function getRun(ctx: WebContext, runId: string): Promise<DagRun> {
  const run = await ctx.store.runs.get(runId);
  if (!run) throw new WebError(404, `no run '${runId}' (see the DAG's grid for its runs)`);
  return run;
}

function tryJson(t: TaskTry) {
  return {
    try_number: t.tryNumber,
    state: t.state,
    started_at: t.startedAt.toISOString(),
    ended_at: iso(t.endedAt),
    duration_ms: t.durationMs,
    host: t.host,
    pid: t.pid,
    error: t.error === null ? null : redactText(t.error),
  };
}

function taskJson(ti: TaskInstance) {
  return {
    task_id: ti.taskId,
    operator: ti.operator,
    state: ti.state,
    try_number: ti.tryNumber,
    max_tries: ti.maxTries,
    next_try_at: iso(ti.nextTryAt),
    started_at: iso(ti.startedAt),
    ended_at: iso(ti.endedAt),
  };
}

function checkJson(c: CheckResultRecord) {
  return {
    task_id: c.taskId,
    try_number: c.tryNumber,
    name: c.name,
    type: c.type,
    table: c.table,
    severity: c.severity,
    status: c.status,
    observed: redactValue(c.observed),
    expected: redactValue(c.expected),
    message: c.message === null ? null : redactText(c.message),
    sample: redactValue(c.sample),
  };
}

/** The DAG's params as the trigger form shows them: type, default, required, what they are for. */
export function paramSpecs(dag: Dag) {
  const specs =
    dag.paramSpecs ??
    Object.fromEntries(Object.entries(dag.params).map(([k, v]) => [k, { schema: {}, hasDefault: true, default: v }]));
  return Object.entries(specs).map(([name, s]) => {
    const schema = s.schema;
    const declared = schema.type;
    const inferred = s.hasDefault ? jsonType(s.default) : 'string';
    return {
      name,
      type: (typeof declared === 'string' ? declared : Array.isArray(declared) ? null : inferred) as string | null,
      types: Array.isArray(declared) ? (declared as string[]) : null,
      required: !s.hasDefault,
      default: s.hasDefault ? redactValue(s.default) : null,
      description: typeof schema.description === 'string' ? schema.description : null,
      enum: Array.isArray(schema.enum) ? (schema.enum as unknown[]) : null,
      format: typeof schema.format === 'string' ? schema.format : null,
    };
  });
}
export type ParamSpecJson = ReturnType<typeof paramSpecs>[number];

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  if (typeof v === 'object') return 'object';
  return typeof v === 'boolean' ? 'boolean' : 'string';
}

/** The tasks of the run's DAG as the graph draws them (null: the DAG file is gone or broken). */
function graphOf(ctx: WebContext, dagId: string) {
  try {
    const dag = findDag(ctx, dagId);
    return dag.order.map((id) => ({ task_id: id, operator: dag.tasks.get(id)!.operator, upstream: dag.tasks.get(id)!.upstream }));
  } catch {
    return null;
  }
}

/** How many runs the quality trends of a run page look back over (this run included). */
export const TREND_RUNS = 20;

/**
 * Each check's history over the DAG's last TREND_RUNS runs up to this one
 * (by logical date), oldest first: what the quality report's trends show,
 * one series per (task, check).
 */
async function qualityTrends(ctx: WebContext, run: DagRun) {
  const history = await ctx.store.quality.checkHistory(run.dagId, {
    last: TREND_RUNS,
    before: new Date(run.logicalDate.getTime() + 1),
  });
  const series = new Map<string, { task_id: string; name: string; table: string | null; points: TrendPoint[] }>();
  for (const c of [...history].reverse()) {
    const key = `${c.taskId}\u0000${c.name}`;
    let s = series.get(key);
    if (!s) series.set(key, (s = { task_id: c.taskId, name: c.name, table: c.table, points: [] }));
    s.points.push({
      run_id: c.runId,
      logical_date: c.logicalDate.toISOString(),
      status: c.status,
      observed: redactValue(c.observed),
    });
  }
  return [...series.values()];
}

export interface TrendPoint {
  run_id: string;
  logical_date: string;
  status: CheckResultRecord['status'];
  observed: unknown;
}

/** A run: its tasks with every try and their outputs, its data quality checks and their trends. */
export async function runDetail(ctx: WebContext, runId: string) {
  const run = await getRun(ctx, runId);
  const tries = await ctx.store.tasks.tries(runId);
  const outputs = await ctx.store.tasks.latestOutputs(runId);
  const checks = await ctx.store.quality.forRun(runId);
  const trends = checks.length ? await qualityTrends(ctx, run) : [];
  const tasks = (await ctx.store.tasks.list(runId)).map((ti) => ({
    ...taskJson(ti),
    tries: tries.filter((t) => t.taskId === ti.taskId).map(tryJson),
    outputs: redactValue(outputs.get(ti.taskId)?.outputs ?? null),
  }));
  return {
    ...runJson(run),
    executing: ctx.runs.isExecuting(run),
    graph: graphOf(ctx, run.dagId),
    tasks,
    checks: checks.map(checkJson),
    trends,
  };
}
export type RunDetailJson = Awaited<ReturnType<typeof runDetail>>;

export interface LogQuery {
  /** The try (default: the latest). */
  tryNumber?: number;
  /** First line shown, 1-based (with a search: the first match shown, 1-based); absent: 1, or the tail with `tail`. */
  from?: number;
  /** With no `from`: show the last page (a task still running: its newest lines). */
  tail?: boolean;
  count: number;
  /** Case-insensitive text to search for. */
  q?: string;
}

function lineJson(l: LogLine, n: number) {
  return {
    line: n,
    ts: l.ts.toISOString(),
    level: l.level,
    msg: redactText(l.msg),
    data: l.data === null ? null : redactValue(l.data),
  };
}

/** A task instance: its tries, and a page of one try's log (every line, or the lines matching a search). */
export async function taskLog(ctx: WebContext, runId: string, taskId: string, q: LogQuery) {
  const run = await getRun(ctx, runId);
  const ti = await ctx.store.tasks.get(runId, taskId);
  if (!ti) throw new WebError(404, `run ${runId} has no task '${taskId}'`);
  const tries = await ctx.store.tasks.tries(runId, taskId);
  const chosen = q.tryNumber === undefined ? tries[tries.length - 1] : tries.find((t) => t.tryNumber === q.tryNumber);
  if (q.tryNumber !== undefined && !chosen) {
    throw new WebError(404, `task ${taskId} of ${runId} has no try ${q.tryNumber} (it has ${tries.length})`);
  }
  let lines: ReturnType<typeof lineJson>[] = [];
  let total = 0;
  let matches: number | null = null;
  let rejections: { table: string; object: string; line: number; reason: string }[] = [];
  let from = q.from ?? 1;
  if (chosen) {
    if (q.q) {
      // a search reads the whole log: matches are counted over every line, as shown (redacted)
      const all = (await ctx.store.logs.list(chosen.tryId)).map((l, i) => lineJson(l, i + 1));
      total = all.length;
      const needle = q.q.toLowerCase();
      const pool = all.filter((l) => (l.msg + (l.data ? ' ' + JSON.stringify(l.data) : '')).toLowerCase().includes(needle));
      matches = pool.length;
      lines = pool.slice(from - 1, from - 1 + q.count);
    } else {
      // a page reads only its lines: a 100,000-line log costs what its 500 lines cost
      total = await ctx.store.logs.count(chosen.tryId);
      if (q.from === undefined && q.tail) from = Math.max(1, total - q.count + 1);
      const page = await ctx.store.logs.list(chosen.tryId, { offset: from - 1, limit: q.count });
      lines = page.map((l, i) => lineJson(l, from + i));
    }
    rejections = (await ctx.store.logs.rejections(chosen.tryId)).slice(0, 200).map((r) => ({
      table: r.table,
      object: r.object,
      line: r.line,
      reason: redactText(r.reason),
    }));
  }
  return {
    run: runJson(run),
    task: taskJson(ti),
    tries: tries.map(tryJson),
    try_number: chosen?.tryNumber ?? null,
    total_lines: total,
    q: q.q ?? null,
    matches,
    from,
    count: q.count,
    lines,
    rejections,
  };
}
export type TaskLogJson = Awaited<ReturnType<typeof taskLog>>;

/** What clearing would touch, before it is done (the confirmation page lists them). */
export async function clearPreview(
  ctx: WebContext,
  runId: string,
  o: { tasks: string[]; downstream: boolean; upstream?: boolean; failedOnly: boolean },
): Promise<{ dag: Dag; run: DagRun; affected: { task_id: string; state: TaskState | null }[] }> {
  const run = await getRun(ctx, runId);
  const dag = findDag(ctx, run.dagId);
  for (const t of o.tasks) {
    if (!dag.tasks.has(t)) throw new WebError(400, `DAG ${dag.id} has no task '${t}'. Its tasks: ${dag.order.join(', ')}`);
  }
  const ids = o.tasks.length ? taskSelection(dag, o.tasks, o) : dag.order;
  const states = new Map((await ctx.store.tasks.list(runId)).map((ti) => [ti.taskId, ti.state]));
  const affected = ids
    .filter((id) => !o.failedOnly || (states.get(id) !== 'success' && states.get(id) !== 'skipped'))
    .map((id) => ({ task_id: id, state: states.get(id) ?? null }));
  return { dag, run, affected };
}

/** What marking task instances would touch: the chosen ones with their scope, and their states now. */
export async function markPreview(
  ctx: WebContext,
  runId: string,
  o: { tasks: string[]; state: string | undefined; downstream: boolean; upstream: boolean },
): Promise<{ dag: Dag; run: DagRun; affected: { task_id: string; state: TaskState | null }[] }> {
  const run = await getRun(ctx, runId);
  const dag = findDag(ctx, run.dagId);
  if (o.state !== 'success' && o.state !== 'failed') {
    throw new WebError(400, `task instances can be marked success or failed, not '${o.state ?? ''}'`);
  }
  if (!o.tasks.length) throw new WebError(400, 'tick the tasks to mark first');
  for (const t of o.tasks) {
    if (!dag.tasks.has(t)) throw new WebError(400, `DAG ${dag.id} has no task '${t}'. Its tasks: ${dag.order.join(', ')}`);
  }
  const states = new Map((await ctx.store.tasks.list(runId)).map((ti) => [ti.taskId, ti.state]));
  const affected = taskSelection(dag, o.tasks, o).map((id) => ({ task_id: id, state: states.get(id) ?? null }));
  return { dag, run, affected };
}
