/**
 * `run-dag <dag_id>`: creates (or reruns) one run and executes it in the
 * foreground, with live progress and a summary table.
 */
import type { Dag, RunState } from '../interfaces.js';
import { UsageError } from '../errors.js';
import type { DagRun } from '../state/index.js';
import { executeRun } from '../run/runner.js';
import { setLockHolder } from '../connections/warehouse/pglite/pglite-lock.js';
import { dataIntervalFor, lastCompleteInterval } from '../dag/interval.js';
import { parseDagDate, DATE_FORMS } from '../dag/time.js';
import { type App, findDag, runnerDeps } from './app.js';
import { Progress } from './progress.js';
import { colourState, humanMs, isoSeconds, printJson, table } from './format.js';
import { observedVsExpected, tryFindings } from './findings.js';

export interface RunDagOptions {
  date?: string;
  conf?: string;
  rerun?: boolean;
  failedOnly?: boolean;
  json?: boolean;
  verbose?: boolean;
}

export function parseConf(text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--conf must be a JSON object, e.g. --conf '{"limit": 10}': ${(err as Error).message}`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) {
    throw new UsageError(`--conf must be a JSON object, e.g. --conf '{"limit": 10}'`);
  }
  return v as Record<string, unknown>;
}

/**
 * SIGINT/SIGTERM abort the returned signal (once, saying so on stderr) until
 * dispose(); `received` names the signal that came.
 */
export function abortOnSignals(doing: string): { signal: AbortSignal; received: NodeJS.Signals | null; dispose(): void } {
  const ac = new AbortController();
  const handle = {
    signal: ac.signal,
    received: null as NodeJS.Signals | null,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
  const onSignal = (sig: NodeJS.Signals) => {
    if (handle.received) return;
    handle.received = sig;
    process.stderr.write(`\nsluice: ${sig} received: ${doing}...\n`);
    ac.abort(new Error(`${sig} received`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return handle;
}

/** The conventional exit status of a process stopped by a signal. */
export function exitCodeFor(sig: NodeJS.Signals): number {
  return sig === 'SIGINT' ? 130 : 143;
}

/** The data interval a run of `dag` covers: the one starting at --date, else the last complete one. */
export function intervalForRun(dag: Dag, date: string | undefined, now: Date): { start: Date; end: Date } {
  if (date !== undefined) {
    let d: Date;
    try {
      d = parseDagDate(date, dag.timezone);
    } catch {
      throw new UsageError(`--date '${date}' is not a date: use ${DATE_FORMS}`);
    }
    return dataIntervalFor(dag, d);
  }
  if (dag.schedule === null || dag.schedule === '@once') return dataIntervalFor(dag, now);
  const last = lastCompleteInterval(dag, now);
  if (!last) {
    throw new UsageError(
      `DAG ${dag.id} has no complete data interval yet (start_date ${isoSeconds(dag.startDate)}); pass --date`,
    );
  }
  return last;
}

/**
 * The run-dag request: a new manual run, or the existing one cleared for
 * --rerun, once the DAG has a free max_active_runs slot (saying once on
 * stderr which runs it waits for). Null when the signal ends the wait.
 */
export async function prepareRunWhenFree(
  app: App,
  dag: Dag,
  interval: { start: Date; end: Date },
  o: RunDagOptions,
  signal: AbortSignal,
): Promise<DagRun | null> {
  const conf = o.conf === undefined ? undefined : parseConf(o.conf);
  return app.runs.triggerWhenSlotFree(dag, interval, { conf, rerun: o.rerun, failedOnly: o.failedOnly }, signal, (active) => {
    const list = active.map((r) => `${r.runId} (pid ${r.pid} on ${r.host ?? '?'})`).join(', ');
    process.stderr.write(
      `sluice: DAG ${dag.id} has ${active.length} active run${active.length === 1 ? '' : 's'} ` +
        `(max_active_runs ${dag.maxActiveRuns}): ${list}; waiting for a slot (Ctrl-C to give up)...\n`,
    );
  });
}

/** Runs the command; resolves to the process exit code. */
export async function runDagCommand(app: App, dagId: string, o: RunDagOptions): Promise<number> {
  const dag = findDag(app, dagId);
  const interval = intervalForRun(dag, o.date, new Date());
  const waiting = abortOnSignals('giving up the wait; no run was created');
  let prepared: DagRun | null;
  try {
    prepared = await prepareRunWhenFree(app, dag, interval, o, waiting.signal);
  } finally {
    waiting.dispose();
  }
  if (!prepared) return exitCodeFor(waiting.received ?? 'SIGINT');
  const run = prepared;
  // What another process waiting for this one's PGlite warehouse is told.
  setLockHolder(`run ${run.runId} (run-dag)`);
  const out = process.stdout;
  const live = Boolean(out.isTTY) && !o.json && !o.verbose;
  if (!o.json) {
    out.write(`run ${run.runId}: data interval [${isoSeconds(run.dataIntervalStart)}, ${isoSeconds(run.dataIntervalEnd)})\n`);
  }
  const progress = o.json ? null : new Progress(dag, out, live);

  const stop = abortOnSignals('aborting running tasks');
  let state: RunState;
  try {
    state = await executeRun(
      dag,
      run.runId,
      { ...runnerDeps(app, Boolean(o.verbose)), onEvent: (e) => progress?.onEvent(e) },
      stop.signal,
    );
  } finally {
    stop.dispose();
    progress?.stop();
  }

  const summary = await runSummary(app, run.runId);
  if (o.json) printJson(summary);
  else {
    out.write('\n' + summaryTable(summary, Boolean(out.isTTY)));
    out.write(findingsLine(summary));
    out.write(`\nrun ${run.runId} ${colourState(state, Boolean(out.isTTY))}\n`);
    if (state === 'failed') {
      out.write(
        `see why: sluice logs ${run.runId} <task>; run again: run-dag ${dag.id} --date ${isoSeconds(run.logicalDate)} --rerun --failed-only\n`,
      );
    }
  }
  if (stop.received) return exitCodeFor(stop.received);
  return state === 'success' ? 0 : 1;
}

export interface RunSummary {
  run_id: string;
  dag_id: string;
  state: string;
  logical_date: string;
  data_interval: [string, string];
  note: string | null;
  tasks: {
    task_id: string;
    operator: string;
    state: string | null;
    tries: number;
    duration_ms: number | null;
    error: string | null;
    /** lines its last try rejected while loading (within maxerror, or the ones that failed it) */
    rejected_lines: number;
    /** warn-severity checks of its last try that failed */
    warnings: { check: string; observed: unknown; expected: unknown }[];
  }[];
}

/** The identity of a run as --json output shows it. */
export function runIdentity(run: DagRun): Pick<RunSummary, 'run_id' | 'dag_id' | 'state' | 'logical_date' | 'data_interval'> {
  return {
    run_id: run.runId,
    dag_id: run.dagId,
    state: run.state,
    logical_date: isoSeconds(run.logicalDate)!,
    data_interval: [isoSeconds(run.dataIntervalStart)!, isoSeconds(run.dataIntervalEnd)!],
  };
}

export async function runSummary(app: App, runId: string): Promise<RunSummary> {
  const run = (await app.store.runs.get(runId))!;
  const tries = await app.store.tasks.tries(runId);
  const tasks: RunSummary['tasks'] = [];
  for (const ti of await app.store.tasks.list(runId)) {
    const mine = tries.filter((t) => t.taskId === ti.taskId);
    const last = mine[mine.length - 1];
    const found = await tryFindings(app.store, last?.tryId);
    tasks.push({
      task_id: ti.taskId,
      operator: ti.operator,
      state: ti.state,
      tries: mine.length,
      duration_ms: mine.length ? mine.reduce((s, t) => s + (t.durationMs ?? 0), 0) : null,
      error: last && last.state === 'failed' ? last.error : null,
      rejected_lines: found.rejections.length,
      warnings: found.checks
        .filter((c) => !c.passed && c.severity === 'warn')
        .map((c) => ({ check: c.name, observed: c.observed, expected: c.expected })),
    });
  }
  return { ...runIdentity(run), note: run.note, tasks };
}

/**
 * One row per task; `notes` holds the error of a failed task, then what a
 * successful one still found: rejected lines and failed warn-severity checks,
 * so a green run that loaded less than it read says so.
 */
export function summaryTable(s: RunSummary, colour: boolean): string {
  return table(
    ['task', 'state', 'tries', 'duration', 'notes'],
    s.tasks.map((t) => {
      const notes = [
        ...(t.error ? [(t.error.split('\n')[0] ?? '').slice(0, 120)] : []),
        ...(t.rejected_lines ? [`${t.rejected_lines} rejected line${t.rejected_lines === 1 ? '' : 's'}`] : []),
        ...t.warnings.map((w) => `WARN ${w.check} (${observedVsExpected(w)})`),
      ];
      return [t.task_id, colourState(t.state, colour), t.tries, humanMs(t.duration_ms), notes.join('; ')];
    }),
  );
}

/** Under the table: how many warnings and rejected lines, and where to read them (empty when none). */
function findingsLine(s: RunSummary): string {
  const warnings = s.tasks.reduce((n, t) => n + t.warnings.length, 0);
  const rejected = s.tasks.reduce((n, t) => n + t.rejected_lines, 0);
  if (!warnings && !rejected) return '';
  const parts = [
    ...(warnings ? [`${warnings} warning${warnings === 1 ? '' : 's'}`] : []),
    ...(rejected ? [`${rejected} rejected line${rejected === 1 ? '' : 's'}`] : []),
  ];
  return `${parts.join(', ')}: see sluice report ${s.dag_id} --run ${s.run_id}\n`;
}
