/**
 * What the pages and the API may change, each through the run lifecycle
 * API (engine/run/runs.ts) or the scheduler store's pause flag, never by
 * writing runs or task instances directly. A run this server triggers, reruns,
 * clears, marks back to queued or backfills is claimed here and executed in this process (as run-dag would);
 * a scheduler sharing the state DB may claim a cleared run first, and then
 * it runs there.
 */
import type { Dag } from '../interfaces.js';
import { SluiceError } from '../errors.js';
import { dataIntervalFor, lastCompleteInterval } from '../dag/interval.js';
import { parseDagDate, DATE_FORMS } from '../dag/time.js';
import type { DagRun } from '../state/index.js';
import { findDag, type WebContext } from './context.js';
import { clearPreview, getRun, markPreview, paramSpecs, type ParamSpecJson } from './data.js';
import type { PlannedInterval, Reprocess } from '../run/runs.js';
import { WebError, str, type Fields } from './http.js';
import { PARAM_FIELD } from './views/index.js';

/** A request the run lifecycle refused (a run being executed, a date taken, a bad conf): 409 or 400 with its message. */
function refused(err: unknown): never {
  if (err instanceof SluiceError) {
    const conflict = /being executed|already has a run|active run/.test(err.message);
    throw new WebError(conflict ? 409 : 400, err.message);
  }
  throw err;
}

export function parseConfText(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new WebError(400, `conf must be a JSON object, e.g. {"limit": 10}: ${(err as Error).message}`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new WebError(400, 'conf must be a JSON object, e.g. {"limit": 10}');
  return v as Record<string, unknown>;
}

/** The data interval starting at `date` (absent: the last complete one, as run-dag). */
function intervalFor(dag: Dag, date: string | undefined): { start: Date; end: Date } {
  if (date !== undefined) {
    let d: Date;
    try {
      d = parseDagDate(date, dag.timezone);
    } catch {
      throw new WebError(400, `date '${date}' is not a date: use ${DATE_FORMS}`);
    }
    return dataIntervalFor(dag, d);
  }
  const now = new Date();
  if (dag.schedule === null || dag.schedule === '@once') return dataIntervalFor(dag, now);
  const last = lastCompleteInterval(dag, now);
  if (!last) throw new WebError(400, `DAG ${dag.id} has no complete data interval yet: give a date`);
  return last;
}

/**
 * The trigger form's conf: its JSON text (when the DAG declares no params)
 * and one field per param (`param.<name>`), each read as its declared type.
 * An empty field is left out: the param's default applies (a required param
 * left empty is then refused by the run lifecycle's validateConf, as for
 * run-dag --conf). A value that is not of its type is passed as typed, so
 * validateConf names the param and what it expects.
 */
export function confFromForm(ctx: WebContext, dagId: string, fields: Fields): Record<string, unknown> | undefined {
  const base = parseConfText(str(fields, 'conf'));
  const names = Object.keys(fields).filter((k) => k.startsWith(PARAM_FIELD));
  if (!names.length) return base;
  const specs = new Map(paramSpecs(findDag(ctx, dagId)).map((p) => [p.name, p]));
  const conf: Record<string, unknown> = { ...base };
  for (const field of names) {
    const name = field.slice(PARAM_FIELD.length);
    const text = str(fields, field);
    if (text === undefined) continue;
    const spec = specs.get(name);
    conf[name] = spec ? typedValue(text, spec) : text; // an unknown name: validateConf says so, with the declared ones
  }
  return conf;
}

function typedValue(text: string, spec: ParamSpecJson): unknown {
  const asJson = () => {
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new WebError(400, `param '${spec.name}': ${text} is not JSON (${(err as Error).message})`);
    }
  };
  if (spec.enum) {
    const hit = spec.enum.find((o) => (typeof o === 'string' ? o : JSON.stringify(o)) === text);
    return hit === undefined ? text : hit;
  }
  switch (spec.type) {
    case 'string':
      return text;
    case 'integer':
    case 'number':
      return text.trim() !== '' && Number.isFinite(Number(text)) ? Number(text) : text;
    case 'boolean':
      return text === 'true' ? true : text === 'false' ? false : text;
    case 'array':
    case 'object':
      return asJson();
    default:
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return text;
      }
  }
}

/** Triggers a manual run of the DAG for the date, with the conf, and starts executing it here (or queues it for the scheduler). */
export async function trigger(
  ctx: WebContext,
  dagId: string,
  o: { date?: string; conf?: Record<string, unknown> },
): Promise<DagRun> {
  const dag = findDag(ctx, dagId);
  const interval = intervalFor(dag, o.date);
  // always checked against the params, as run-dag does: a required param must be given
  const conf = o.conf ?? {};
  let run: DagRun | null;
  if (!ctx.execute) {
    try {
      run = await ctx.runs.createRun({ dag, interval, runType: 'manual', conf });
    } catch (err) {
      refused(err);
    }
    if (!run) throw new WebError(409, `DAG ${dag.id} already has a run for ${interval.start.toISOString()}`);
    return run;
  }
  try {
    run = await ctx.runs.trigger(dag, interval, { conf }, dag.maxActiveRuns);
  } catch (err) {
    refused(err);
  }
  if (!run) {
    throw new WebError(
      409,
      `DAG ${dag.id} already has ${dag.maxActiveRuns} active run(s) (max_active_runs): try again when one ends`,
    );
  }
  void ctx.execute(dag, run.runId);
  return run;
}

/** Runs the run again, all its tasks or only the failed and unfinished ones. */
export async function rerun(ctx: WebContext, runId: string, failedOnly: boolean): Promise<{ run: DagRun; cleared: string[] }> {
  const run = await getRun(ctx, runId);
  const dag = findDag(ctx, run.dagId);
  try {
    const r = await ctx.runs.rerun(dag, runId, { failedOnly, claim: Boolean(ctx.execute) });
    void ctx.execute?.(dag, runId);
    return r;
  } catch (err) {
    refused(err);
  }
}

/** Clears tasks (with their downstream, or the failed ones only) and executes the run again if no scheduler took it first. */
export async function clear(
  ctx: WebContext,
  runId: string,
  o: { tasks: string[]; downstream: boolean; upstream?: boolean; failedOnly: boolean },
): Promise<{ run: DagRun; cleared: string[]; executing_here: boolean }> {
  const { dag } = await clearPreview(ctx, runId, o); // 404/400 with a clear message before the lifecycle is asked
  if ((o.downstream || o.upstream) && !o.tasks.length) {
    throw new WebError(400, `${o.downstream ? 'downstream' : 'upstream'} goes with chosen tasks: tick the tasks to clear`);
  }
  let r: { run: DagRun; cleared: string[] };
  try {
    r = await ctx.runs.clearTasks(dag, runId, {
      tasks: o.tasks.length ? o.tasks : undefined,
      downstream: o.downstream,
      upstream: o.upstream,
      failedOnly: o.failedOnly,
    });
  } catch (err) {
    refused(err);
  }
  const mine = r.cleared.length > 0 && ctx.execute !== undefined && (await ctx.runs.claim(runId));
  if (mine) void ctx.execute!(dag, runId);
  return { ...r, executing_here: mine };
}

export async function mark(ctx: WebContext, runId: string, state: string | undefined): Promise<DagRun> {
  await getRun(ctx, runId);
  if (state !== 'success' && state !== 'failed')
    throw new WebError(400, `a run can be marked success or failed, not '${state ?? ''}'`);
  try {
    return await ctx.runs.markRun(runId, state);
  } catch (err) {
    refused(err);
  }
}

/**
 * Marks the chosen task instances success or failed (with their downstream
 * or upstream when asked). A run left with unfinished tasks is queued
 * again: executed here next when this server executes runs (and no
 * scheduler took it first), else by the scheduler.
 */
export async function markTasks(
  ctx: WebContext,
  runId: string,
  o: { tasks: string[]; state: string | undefined; downstream: boolean; upstream: boolean },
): Promise<{ run: DagRun; marked: string[]; executing_here: boolean }> {
  const { dag } = await markPreview(ctx, runId, o); // 404/400 with a clear message before the lifecycle is asked
  let r: { run: DagRun; marked: string[] };
  try {
    r = await ctx.runs.markTasks(dag, runId, o.tasks, o.state!, o);
  } catch (err) {
    refused(err);
  }
  const mine = r.run.state === 'queued' && ctx.execute !== undefined && (await ctx.runs.claim(runId));
  if (mine) void ctx.execute!(dag, runId);
  return { run: mine ? (await ctx.runs.get(runId))! : r.run, marked: r.marked, executing_here: mine };
}

const REPROCESS: readonly Reprocess[] = ['none', 'failed', 'completed'];

function backfillDate(dag: Dag, field: string, v: string | undefined): Date {
  if (!v) throw new WebError(400, `give the backfill's ${field} date (${DATE_FORMS})`);
  try {
    return parseDagDate(v, dag.timezone);
  } catch {
    throw new WebError(400, `${field} '${v}' is not a date: use ${DATE_FORMS}`);
  }
}

/**
 * A backfill of [from, to] (`sluice backfill`): plans it through the run
 * lifecycle and, unless a dry run, queues its runs. A server that executes
 * runs executes them here, one at a time in logical date order (a run a
 * scheduler sharing the state DB takes first runs there); under
 * `sluice scheduler --web` the scheduler executes them.
 */
export async function backfill(
  ctx: WebContext,
  dagId: string,
  o: { from?: string; to?: string; reprocess?: string; dryRun?: boolean },
): Promise<{ plan: PlannedInterval[]; runIds: string[]; executing_here: boolean }> {
  const dag = findDag(ctx, dagId);
  const reprocess = (o.reprocess || 'none') as Reprocess;
  if (!REPROCESS.includes(reprocess)) {
    throw new WebError(400, `reprocess must be ${REPROCESS.join(', ')}, not '${o.reprocess ?? ''}'`);
  }
  const from = backfillDate(dag, 'from', o.from);
  const to = backfillDate(dag, 'to', o.to);
  let plan: PlannedInterval[];
  let runIds: string[] = [];
  try {
    plan = await ctx.runs.planBackfill(dag, from, to, reprocess);
    if (!o.dryRun) runIds = await ctx.runs.queueBackfill(dag, plan);
  } catch (err) {
    refused(err);
  }
  const execute = ctx.execute;
  if (!execute || !runIds.length) return { plan, runIds, executing_here: false };
  const queue = [...runIds];
  void (async () => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      if (!(await ctx.runs.claim(id))) continue; // a scheduler took it
      await execute(dag, id);
    }
  })().catch((err: unknown) => {
    process.stderr.write(`backfill ${dag.id}: ${err instanceof Error ? err.message : String(err)}\n`);
  });
  return { plan, runIds, executing_here: true };
}

export async function setPaused(ctx: WebContext, dagId: string, paused: boolean): Promise<void> {
  findDag(ctx, dagId);
  await ctx.store.scheduler.setPaused(dagId, paused, ctx.runs.clock.now());
}
