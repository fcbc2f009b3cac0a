/**
 * `run-dag <dag_id>`: creates (or reruns) one run and executes it in the
 * foreground, with live progress and a summary table.
 */
import type { Dag, RunState } from '../interfaces.js';
import { UsageError } from '../errors.js';
import { processAlive, type DagRunRow } from '../state/store.js';
import { executeRun } from '../run/runner.js';
import { dataIntervalFor, lastCompleteInterval } from '../schedule/interval.js';
import { parseDagDate, DATE_FORMS } from '../dag/time.js';
import { type App, findDag, runnerDeps } from './app.js';
import { Progress } from './progress.js';
import { colourState, humanMs, isoSeconds, printJson, table } from './format.js';

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

/** Creates the run, or clears an existing one for --rerun. Returns the run row. */
export function prepareRun(app: App, dag: Dag, interval: { start: Date; end: Date }, o: RunDagOptions): DagRunRow {
  const { store } = app;
  const conf = parseConf(o.conf);
  const tasks = dag.order.map((id) => ({
    taskId: id,
    operator: dag.tasks.get(id)!.operator,
    maxTries: dag.tasks.get(id)!.retries + 1,
  }));
  const existing = store.getRunByDate(dag.id, interval.start);
  if (existing) {
    if (existing.state === 'running' && existing.pid !== null && processAlive(existing.pid)) {
      throw new UsageError(
        `run ${existing.run_id} is being executed right now by process ${existing.pid}; wait for it or stop it first`,
      );
    }
    if (!o.rerun) {
      throw new UsageError(
        `DAG ${dag.id} already has a run for ${isoSeconds(interval.start)}: ${existing.run_id} (${existing.state}). ` +
          `Use --rerun to run it again, or --rerun --failed-only for its failed and unfinished tasks only.`,
      );
    }
    store.ensureTaskInstances(existing.run_id, tasks);
    store.clearTasks(existing.run_id, (id) => (dag.tasks.get(id)?.retries ?? 0) + 1, {
      failedOnly: o.failedOnly,
      claim: true,
    });
    if (o.conf !== undefined) store.setRunConf(existing.run_id, conf);
    return store.getRun(existing.run_id)!;
  }
  if (o.failedOnly) throw new UsageError('--failed-only goes with --rerun of an existing run');
  const created = store.createRun({
    dagId: dag.id,
    logicalDate: interval.start,
    dataIntervalStart: interval.start,
    dataIntervalEnd: interval.end,
    runType: 'manual',
    conf,
    tasks,
    now: new Date(),
    claim: true,
  });
  if (!created) throw new UsageError(`another process created the run of ${dag.id} for ${isoSeconds(interval.start)} first`);
  return created;
}

/** Runs the command; resolves to the process exit code. */
export async function runDagCommand(app: App, dagId: string, o: RunDagOptions): Promise<number> {
  const dag = findDag(app, dagId);
  const interval = intervalForRun(dag, o.date, new Date());
  const run = prepareRun(app, dag, interval, o);
  const out = process.stdout;
  const live = Boolean(out.isTTY) && !o.json && !o.verbose;
  if (!o.json) {
    out.write(
      `run ${run.run_id}: data interval [${isoSeconds(run.data_interval_start)}, ${isoSeconds(run.data_interval_end)})\n`,
    );
  }
  const progress = o.json ? null : new Progress(dag, out, live);

  const stop = abortOnSignals('aborting running tasks');
  let state: RunState;
  try {
    state = await executeRun(
      dag,
      run.run_id,
      { ...runnerDeps(app, Boolean(o.verbose)), onEvent: (e) => progress?.onEvent(e) },
      stop.signal,
    );
  } finally {
    stop.dispose();
    progress?.stop();
  }

  const summary = runSummary(app, run.run_id);
  if (o.json) printJson(summary);
  else {
    out.write('\n' + summaryTable(summary, Boolean(out.isTTY)));
    out.write(`\nrun ${run.run_id} ${colourState(state, Boolean(out.isTTY))}\n`);
    if (state === 'failed') {
      out.write(`see why: sluice logs ${run.run_id} <task>; run again: run-dag ${dag.id} --date ${isoSeconds(run.logical_date)} --rerun --failed-only\n`);
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
  tasks: { task_id: string; operator: string; state: string | null; tries: number; duration_ms: number | null; error: string | null }[];
}

/** The identity of a run as --json output shows it. */
export function runIdentity(run: DagRunRow): Pick<RunSummary, 'run_id' | 'dag_id' | 'state' | 'logical_date' | 'data_interval'> {
  return {
    run_id: run.run_id,
    dag_id: run.dag_id,
    state: run.state,
    logical_date: isoSeconds(run.logical_date)!,
    data_interval: [isoSeconds(run.data_interval_start)!, isoSeconds(run.data_interval_end)!],
  };
}

export function runSummary(app: App, runId: string): RunSummary {
  const run = app.store.getRun(runId)!;
  const tries = app.store.listTries(runId);
  return {
    ...runIdentity(run),
    note: run.note,
    tasks: app.store.listTaskInstances(runId).map((ti) => {
      const mine = tries.filter((t) => t.task_id === ti.task_id);
      const last = mine[mine.length - 1];
      return {
        task_id: ti.task_id,
        operator: ti.operator,
        state: ti.state,
        tries: mine.length,
        duration_ms: mine.length ? mine.reduce((s, t) => s + (t.duration_ms ?? 0), 0) : null,
        error: last && last.state === 'failed' ? last.error : null,
      };
    }),
  };
}

export function summaryTable(s: RunSummary, colour: boolean): string {
  return table(
    ['task', 'state', 'tries', 'duration', 'error'],
    s.tasks.map((t) => [
      t.task_id,
      colourState(t.state, colour),
      t.tries,
      humanMs(t.duration_ms),
      t.error ? (t.error.split('\n')[0] ?? '').slice(0, 120) : '',
    ]),
  );
}
