/**
 * Operations verbs: the scheduler daemon, backfill, clearing tasks, marking
 * runs, pausing DAGs and showing their next intervals.
 */
import type { Dag, RunState } from '../interfaces.js';
import { UsageError } from '../errors.js';
import { createConsoleLogger } from '../log.js';
import { executeRun, Slots } from '../run/runner.js';
import type { Reprocess } from '../run/runs.js';
import { Scheduler } from '../schedule/scheduler.js';
import { lastCompleteInterval, nextIntervals } from '../dag/interval.js';
import { parseDagDate, DATE_FORMS } from '../dag/time.js';
import { type App, findDag, runnerDeps } from './app.js';
import { abortOnSignals, exitCodeFor } from './run-command.js';
import { colourState, humanMs, isoSeconds, printJson, table } from './format.js';

// -- scheduler ----------------------------------------------------------------

/**
 * `sluice scheduler`: the daemon; with `worker`, also a worker in this
 * process (its queues and concurrency), so a single host runs one process,
 * and tasks still go through the queues other workers share.
 */
export async function schedulerCommand(
  app: App,
  o: { once?: boolean; workers?: boolean; worker?: { queues: string[]; concurrency: number }; verbose?: boolean },
): Promise<number> {
  const log = createConsoleLogger(o.verbose ? 'debug' : app.config.logLevel === 'silent' ? 'silent' : 'info');
  const deps = runnerDeps(app, Boolean(o.verbose));
  const scheduler = new Scheduler({
    store: app.store,
    registry: app.registry,
    dagsDir: app.config.dagsDir,
    parallelism: app.config.parallelism,
    gracePeriodMs: app.config.scheduler.gracePeriodMs,
    runner: { ...deps, executor: o.workers || o.worker ? 'workers' : 'local' },
    log,
    once: o.once,
  });
  const worker = o.worker
    ? new (await import('../schedule/worker.js')).Worker({
        store: app.store,
        dagsDir: app.config.dagsDir,
        ...o.worker,
        gracePeriodMs: app.config.scheduler.gracePeriodMs,
        runner: deps,
        log: log.child({ part: 'worker' }),
      })
    : null;
  const onSignal = (sig: NodeJS.Signals) => {
    scheduler.stop(`${sig} received`);
    worker?.stop(`${sig} received`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let workerFailed: { err: unknown } | null = null;
  const working = worker?.run().catch((err: unknown) => {
    workerFailed = { err };
    scheduler.stop('its worker failed');
  });
  try {
    await scheduler.run();
  } finally {
    // The scheduler waited for its runs' tries: the worker has nothing of them left to do.
    worker?.stop('the scheduler stopped');
    await working;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (workerFailed) throw (workerFailed as { err: unknown }).err;
  return 0;
}

// -- backfill -------------------------------------------------------------------

export type { Reprocess };

function parseDate(dag: Dag, flag: string, v: string): Date {
  try {
    return parseDagDate(v, dag.timezone);
  } catch {
    throw new UsageError(`${flag} '${v}' is not a date: use ${DATE_FORMS}`);
  }
}

/** `sluice backfill` options, as commander parses them (plus --verbose). */
export interface BackfillOptions {
  from: string;
  to: string;
  reprocess: Reprocess;
  maxActiveRuns?: string;
  dryRun?: boolean;
  json?: boolean;
  verbose?: boolean;
}

export async function backfillCommand(app: App, dagId: string, o: BackfillOptions): Promise<number> {
  const dag = findDag(app, dagId);
  const plan = await app.runs.planBackfill(dag, parseDate(dag, '--from', o.from), parseDate(dag, '--to', o.to), o.reprocess);
  const maxActive = o.maxActiveRuns !== undefined ? Number(o.maxActiveRuns) : dag.maxActiveRuns;
  if (!Number.isInteger(maxActive) || maxActive < 1) throw new UsageError('--max-active-runs must be a whole number >= 1');
  if (o.dryRun) {
    const rows = plan.map((p) => ({
      logical_date: isoSeconds(p.interval.start),
      data_interval: [isoSeconds(p.interval.start), isoSeconds(p.interval.end)],
      existing_run: p.existing?.runId ?? null,
      existing_state: p.existing?.state ?? null,
      action: p.action,
    }));
    if (o.json) printJson(rows);
    else {
      process.stdout.write(
        table(
          ['logical date', 'data interval end', 'existing run', 'action'],
          rows.map((r) => [
            r.logical_date,
            r.data_interval[1],
            r.existing_state ? `${r.existing_state} (${r.existing_run})` : '',
            r.action,
          ]),
        ),
      );
      process.stdout.write(
        `${plan.length} intervals; ${plan.filter((p) => p.action !== 'skip').length} would run (dry run: nothing done)\n`,
      );
    }
    return 0;
  }

  const { runs } = app;
  const runIds = await runs.queueBackfill(dag, plan);
  const skipped = plan.length - runIds.length;
  if (!o.json) {
    process.stdout.write(
      `backfill ${dag.id}: ${plan.length} intervals, ${runIds.length} to run, ${skipped} skipped, ${maxActive} at a time\n`,
    );
  }

  const stop = abortOnSignals('aborting the backfill');
  const slots = new Slots(app.config.parallelism);
  const deps = { ...runnerDeps(app, Boolean(o.verbose)) };
  const results = new Map<string, RunState>();
  const queue = [...runIds];
  const worker = async () => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      if (stop.signal.aborted) break;
      if (!(await runs.claim(id))) {
        results.set(id, (await runs.get(id))!.state);
        if (!o.json) process.stdout.write(`${id}: taken by another process, not run here\n`);
        continue;
      }
      const started = Date.now();
      const state = await executeRun(dag, id, deps, { signal: stop.signal, slots });
      results.set(id, state);
      if (!o.json)
        process.stdout.write(`${id} ${colourState(state, Boolean(process.stdout.isTTY))} in ${humanMs(Date.now() - started)}\n`);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(maxActive, Math.max(1, runIds.length)) }, worker));
  } finally {
    stop.dispose();
  }
  const failed = [...results.values()].filter((s) => s !== 'success').length;
  if (o.json) printJson({ dag_id: dag.id, runs: [...results].map(([run_id, state]) => ({ run_id, state })), skipped });
  else process.stdout.write(`backfill ${dag.id}: ${results.size - failed} succeeded, ${failed} failed, ${skipped} skipped\n`);
  if (stop.received) return exitCodeFor(stop.received);
  return failed > 0 ? 1 : 0;
}

// -- tasks clear, runs mark, pause, next --------------------------------------------

export async function tasksClearCommand(
  app: App,
  runId: string,
  o: { task?: string[]; downstream?: boolean; failedOnly?: boolean; json?: boolean },
): Promise<number> {
  const dag = findDag(app, (await app.runs.idleRun(runId)).dagId);
  const { run, cleared } = await app.runs.clearTasks(dag, runId, {
    tasks: o.task,
    downstream: o.downstream,
    failedOnly: o.failedOnly,
  });
  if (o.json) printJson({ run_id: runId, cleared });
  else {
    process.stdout.write(`cleared ${cleared.length} task(s) of ${runId}: ${cleared.join(', ') || '(none)'}\n`);
    process.stdout.write(
      `the run is queued: a running scheduler resumes it, or: run-dag ${dag.id} --date ${isoSeconds(run.logicalDate)} --rerun --failed-only\n`,
    );
  }
  return 0;
}

export async function runsMarkCommand(app: App, runId: string, state: string): Promise<number> {
  await app.runs.markRun(runId, state);
  process.stdout.write(`marked ${runId} ${state}\n`);
  return 0;
}

export async function pauseCommand(app: App, dagId: string, paused: boolean): Promise<number> {
  findDag(app, dagId);
  await app.store.scheduler.setPaused(dagId, paused, app.runs.clock.now());
  process.stdout.write(`${dagId} ${paused ? 'paused: the scheduler creates and starts no runs for it' : 'unpaused'}\n`);
  return 0;
}

export async function nextCommand(app: App, dagId: string, o: { count: string; json?: boolean }): Promise<number> {
  const dag = findDag(app, dagId);
  const n = Number(o.count);
  if (!Number.isInteger(n) || n < 1) throw new UsageError('--count must be a whole number >= 1');
  // From the interval open now (the first row), then the ones after it.
  const last = lastCompleteInterval(dag, new Date());
  const rows = nextIntervals(dag, last ? last.start : new Date(0), n).map((i) => ({
    logical_date: isoSeconds(i.start)!,
    data_interval: [isoSeconds(i.start)!, isoSeconds(i.end)!],
    runs_at: isoSeconds(i.end)!,
  }));
  const paused = (await app.store.scheduler.pausedDags()).has(dag.id);
  if (o.json) {
    printJson({ dag_id: dag.id, schedule: dag.schedule, timezone: dag.timezone, paused, next: rows });
    return 0;
  }
  if (dag.schedule === null) {
    process.stdout.write(`${dag.id} has no schedule: it runs only when triggered (run-dag ${dag.id})\n`);
    return 0;
  }
  process.stdout.write(`${dag.id}: ${dag.schedule} (${dag.timezone})${paused ? ' — PAUSED' : ''}\n`);
  process.stdout.write(
    table(
      ['logical date', 'data interval', 'runs at'],
      rows.map((r) => [r.logical_date, `[${r.data_interval[0]}, ${r.data_interval[1]})`, r.runs_at]),
    ),
  );
  return 0;
}
