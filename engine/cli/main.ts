#!/usr/bin/env node
/**
 * The `sluice` command line. Every verb has --help with examples; tables for
 * people, --json for scripts. Exit codes: 0 ok, 1 failed run or check,
 * 2 usage or validation error.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { SluiceError, UsageError, errorMessage, formatProblem } from '../errors.js';
import { redactText } from '../redact.js';
import { PACKAGE_ROOT } from '../config.js';
import { loadDagFile, loadDagsDir, dagJsonSchema, renderDag } from '../dag/index.js';
import { type App, type GlobalOptions, findDag, openApp } from './app.js';
import { runDagCommand } from './run-command.js';
import { isSqliteError, stateDbError } from '../state/open.js';
import { setLockHolder } from '../connections/pglite-lock.js';
import { reportCommand } from './report.js';
import { registerConnectionsCommand } from './connections-command.js';
import { backfillCommand, nextCommand, pauseCommand, runsMarkCommand, schedulerCommand, tasksClearCommand } from './ops.js';
import { generateSampleLake } from '../../sample/generate.js';
import { colourState, humanMs, isoSeconds, printJson, table } from './format.js';

const version = (JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string })
  .version;

type Action = (app: App, ...args: never[]) => Promise<number | void> | number | void;

/**
 * Wraps a verb: opens the app, runs, closes, maps errors to messages and exit
 * codes. A verb that only reads the state DB says `readonly`: the DB is then
 * opened read-only (it works on a read-only home) and never migrated.
 */
function withApp(cmd: Command, fn: Action, mode: { readonly?: boolean } = {}): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const g = cmd.optsWithGlobals() as GlobalOptions;
    setLockHolder(`sluice ${cmd.name()}`); // who holds a PGlite warehouse, as another process waiting for it is told
    const app = await openApp(g, undefined, mode);
    try {
      const code = await (fn as (app: App, ...a: unknown[]) => Promise<number | void>)(app, ...args.slice(0, -1));
      process.exitCode = code ?? 0;
    } catch (err) {
      // the state DB failing under a verb (damaged pages, a full disk): say which file and what to do
      throw (isSqliteError(err) && stateDbError(app.store.file, err)) || err;
    } finally {
      await app.close();
    }
  };
}

/** withApp for a verb that only reads the state DB. */
function withAppReading(cmd: Command, fn: Action): (...args: unknown[]) => Promise<void> {
  return withApp(cmd, fn, { readonly: true });
}

function examples(lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}

export function buildProgram(): Command {
  const program = new Command('sluice')
    .description('Sluice: declarative, typed DAGs for Redshift-style warehouses, runnable on a laptop')
    .version(version)
    .option('-c, --config <file>', 'configuration file (default: config/default.yaml; env SLUICE_CONFIG)')
    .option('--dags-dir <dir>', 'folder of DAG files (default from config: dags)')
    .option('-v, --verbose', 'print task logs and stack traces')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();

  // -- run-dag ---------------------------------------------------------------
  const runDag = program
    .command('run-dag')
    .description('create a manual run of a DAG and run it to completion in the foreground')
    .argument('<dag_id>', 'the DAG to run')
    .option('--date <date>', 'logical date: the run of the data interval that starts at this date or time')
    .option('--conf <json>', 'run configuration: values for the DAG params it declares, checked before the run starts (a JSON object)')
    .option('--dags-dir <dir>', 'folder of DAG files')
    .option('--rerun', 'run an existing run of that date again (clears its tasks)')
    .option('--failed-only', 'with --rerun: only its failed and unfinished tasks')
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      examples([
        'run-dag songplays                      # the last complete data interval',
        'run-dag songplays --date 2018-11-21    # covers [2018-11-21, 2018-11-22) for a daily DAG',
        'run-dag songplays --date 2018-11-21 --rerun --failed-only',
        `run-dag redshift_cluster --conf '{"target": "aws"}' --json`,
      ]) + '\nExit status: 0 success, 1 the run failed, 2 usage or validation error, 130 interrupted.\n',
    );
  runDag.action(withApp(runDag, (app: App, dagId: string, o: Record<string, unknown>) =>
    runDagCommand(app, dagId, { ...o, verbose: Boolean(runDag.optsWithGlobals().verbose) }),
  ) as never);

  // -- dags ------------------------------------------------------------------
  const dags = program.command('dags').description('list, show, validate DAG files; print their JSON Schema');

  const dagsList = dags
    .command('list')
    .description('list the DAGs in the DAG folder (broken files are reported on stderr)')
    .option('--json', 'JSON output')
    .addHelpText('after', examples(['sluice dags list', 'sluice dags list --json']));
  dagsList.action(withAppReading(dagsList, (app: App, o: { json?: boolean }) => {
    const { dags: list, errors } = loadDagsDir(app.config.dagsDir, app.registry);
    const rows = list.map((d) => {
      const last = app.store.listRuns({ dagId: d.id, limit: 1 })[0];
      return {
        dag_id: d.id,
        schedule: d.schedule,
        tasks: d.tasks.size,
        file: path.relative(process.cwd(), d.file),
        last_run: last ? last.run_id : null,
        last_state: last ? last.state : null,
      };
    });
    if (o.json) printJson({ dags: rows, errors: errors.map((e) => ({ file: e.file, problems: e.problems.map(formatProblem) })) });
    else {
      process.stdout.write(
        table(
          ['dag', 'schedule', 'tasks', 'file', 'last run'],
          rows.map((r) => [r.dag_id, r.schedule ?? 'manual', r.tasks, r.file, r.last_state ? `${r.last_state} (${r.last_run})` : '']),
        ),
      );
      for (const e of errors) process.stderr.write(`\nbroken DAG file:\n${e.message}\n`);
    }
    return 0;
  }) as never);

  const dagsShow = dags
    .command('show')
    .description('show a DAG: its tasks and dependencies')
    .argument('<dag_id>')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'mermaid', 'dot']).default('text'))
    .addHelpText('after', examples(['sluice dags show songplays', 'sluice dags show songplays --format mermaid', 'sluice dags show songplays --format dot | dot -Tpng > dag.png']));
  dagsShow.action(withAppReading(dagsShow, (app: App, dagId: string, o: { format: 'text' | 'mermaid' | 'dot' }) => {
    process.stdout.write(renderDag(findDag(app, dagId), o.format).replace(/\n?$/, '\n'));
  }) as never);

  const dagsValidate = dags
    .command('validate')
    .description('validate DAG files (default: every file in the DAG folder); exits 2 if any is bad')
    .argument('[paths...]', 'files or folders')
    .option('--json', 'JSON output')
    .addHelpText('after', examples(['sluice dags validate', 'sluice dags validate dags/songplays.yaml my-dags/']));
  dagsValidate.action(withAppReading(dagsValidate, (app: App, paths: string[], o: { json?: boolean }) =>
    validateCommand(app, paths, Boolean(o.json)),
  ) as never);

  const dagsSchema = dags
    .command('schema')
    .description('print the JSON Schema of DAG files (for editor completion)')
    .addHelpText(
      'after',
      examples(['sluice dags schema > dag.schema.json', '# then in a DAG file:  # yaml-language-server: $schema=./dag.schema.json']),
    );
  dagsSchema.action(withAppReading(dagsSchema, (app: App) => printJson(dagJsonSchema(app.registry))) as never);

  // -- runs, tasks, logs -----------------------------------------------------
  const runs = program.command('runs').description('inspect DAG runs');
  const runsList = runs
    .command('list')
    .description('list runs, newest logical date first')
    .option('--dag <dag_id>', 'only this DAG')
    .addOption(new Option('--state <state>', 'only runs in this state').choices(['queued', 'running', 'success', 'failed']))
    .option('--limit <n>', 'at most n runs', '50')
    .option('--json', 'JSON output')
    .addHelpText('after', examples(['sluice runs list', 'sluice runs list --dag songplays --state failed']));
  runsList.action(withAppReading(runsList, (app: App, o: { dag?: string; state?: string; limit: string; json?: boolean }) => {
    const list = app.store.listRuns({ dagId: o.dag, state: o.state, limit: Number(o.limit) || 50 });
    if (o.json) return void printJson(list.map((r) => ({ ...r, conf: JSON.parse(r.conf) })));
    const colour = Boolean(process.stdout.isTTY);
    process.stdout.write(
      table(
        ['run_id', 'dag', 'state', 'type', 'logical date', 'started', 'duration'],
        list.map((r) => [
          r.run_id,
          r.dag_id,
          colourState(r.state, colour),
          r.run_type,
          isoSeconds(r.logical_date),
          isoSeconds(r.started_at),
          r.started_at && r.ended_at ? humanMs(Date.parse(r.ended_at) - Date.parse(r.started_at)) : null,
        ]),
      ),
    );
  }) as never);

  const tasks = program.command('tasks').description('inspect task instances');
  const tasksList = tasks
    .command('list')
    .description("list a run's task instances")
    .argument('<run_id>')
    .option('--json', 'JSON output')
    .addHelpText('after', examples(['sluice tasks list songplays__manual__2018-11-21T00:00:00Z']));
  tasksList.action(withAppReading(tasksList, (app: App, runId: string, o: { json?: boolean }) => {
    requireRun(app, runId);
    const tis = app.store.listTaskInstances(runId);
    const tries = app.store.listTries(runId);
    if (o.json) return void printJson({ task_instances: tis, tries });
    const colour = Boolean(process.stdout.isTTY);
    process.stdout.write(
      table(
        ['task', 'operator', 'state', 'tries', 'started', 'duration', 'error'],
        tis.map((ti) => {
          const mine = tries.filter((t) => t.task_id === ti.task_id);
          const last = mine[mine.length - 1];
          return [
            ti.task_id,
            ti.operator,
            colourState(ti.state, colour),
            `${mine.length}/${ti.max_tries}`,
            isoSeconds(ti.started_at),
            last?.duration_ms !== undefined ? humanMs(last.duration_ms) : null,
            last?.state === 'failed' ? (last.error ?? '').split('\n')[0]!.slice(0, 100) : '',
          ];
        }),
      ),
    );
  }) as never);

  const logs = program
    .command('logs')
    .description("print a task try's log lines (default: its latest try)")
    .argument('<run_id>')
    .argument('<task_id>')
    .option('--try <n>', 'the try number')
    .option('--json', 'JSON output')
    .addHelpText('after', examples(['sluice logs songplays__manual__2018-11-21T00:00:00Z stage_events', 'sluice logs <run_id> quality --try 2']));
  logs.action(withAppReading(logs, (app: App, runId: string, taskId: string, o: { try?: string; json?: boolean }) => {
    requireRun(app, runId);
    const tries = app.store.listTries(runId, taskId);
    if (!app.store.getTaskInstance(runId, taskId)) {
      const names = app.store.listTaskInstances(runId).map((t) => t.task_id);
      throw new UsageError(`run ${runId} has no task '${taskId}'. Its tasks: ${names.join(', ')}`);
    }
    if (tries.length === 0) throw new SluiceError(`task ${taskId} of ${runId} has not run yet`);
    const t = o.try !== undefined ? tries.find((x) => x.try_number === Number(o.try)) : tries[tries.length - 1];
    if (!t) throw new UsageError(`task ${taskId} has no try ${o.try}; its tries: ${tries.map((x) => x.try_number).join(', ')}`);
    const lines = app.store.listLogs(t.try_id);
    if (o.json) return void printJson({ try: t, lines: lines.map((l) => ({ ...l, data: l.data ? JSON.parse(l.data) : null })) });
    process.stdout.write(
      `# ${runId} ${taskId} try ${t.try_number} of ${tries.length}: ${t.state}` +
        `${t.duration_ms !== null ? `, ${humanMs(t.duration_ms)}` : ''} (pid ${t.pid} on ${t.host})\n`,
    );
    for (const l of lines) {
      const data = l.data ? ' ' + Object.entries(JSON.parse(l.data) as Record<string, unknown>).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ') : '';
      process.stdout.write(`${l.ts} ${l.level.toUpperCase().padEnd(5)} ${l.msg}${data}\n`);
    }
    if (t.state === 'failed' && t.error) process.stdout.write(`# error: ${t.error}\n`);
  }) as never);

  // -- report, sql, sample-data ---------------------------------------------
  const report = program
    .command('report')
    .description("what a run did, from the state DB: rows loaded, rejected lines, data quality checks (exit 1 if the run failed or an error check failed)")
    .argument('<dag_id>')
    .option('--run <run_id>', 'this run (default: the latest)')
    .option('--date <date>', 'the run of this logical date')
    .option('--json', 'JSON output')
    .addHelpText('after', examples(['sluice report songplays', 'sluice report songplays --date 2018-11-21 --json']));
  report.action(withAppReading(report, (app: App, dagId: string, o: { run?: string; date?: string; json?: boolean }) =>
    reportCommand(app, dagId, o),
  ) as never);

  const sql = program
    .command('sql')
    .description('run a query on a warehouse connection and print the rows')
    .argument('<query>', 'SQL text')
    .option('--connection <name>', 'connection name', 'warehouse')
    .option('--json', 'JSON output')
    .addHelpText(
      'after',
      examples([
        'sluice sql "SELECT level, count(*) FROM users GROUP BY level"',
        'sluice sql "SELECT * FROM songplays LIMIT 5" --json',
      ]),
    );
  sql.action(withApp(sql, async (app: App, query: string, o: { connection: string; json?: boolean }) => {
    const wh = await app.connections.warehouse(o.connection);
    const res = await wh.query(query);
    if (o.json) return void printJson(res.rows);
    const cols = res.fields.map((f) => f.name);
    if (cols.length === 0) {
      process.stdout.write(`ok (${res.rowCount} rows affected)\n`);
      return;
    }
    process.stdout.write(table(cols, res.rows.map((r) => cols.map((c) => cell((r as Record<string, unknown>)[c])))));
    process.stdout.write(`(${res.rows.length} row${res.rows.length === 1 ? '' : 's'})\n`);
  }) as never);

  const sample = program
    .command('sample-data')
    .description('write a synthetic Sparkify lake (song files and daily event logs in the real formats)')
    .option('--out <dir>', 'folder to write (default: the lake folder under SLUICE_HOME)')
    .option('--days <n>', 'days of event logs', '30')
    .option('--events-per-day <n>', 'events in each day file', '300')
    .option('--songs <n>', 'song files', '200')
    .option('--seed <n>', 'random seed (same seed, same bytes)', '42')
    .option('--start-date <date>', 'first day of events', '2018-11-01')
    .option('--gzip', 'gzip every file (.json.gz)')
    .option('--clean', 'replace song_data/ and log_data/ if the folder has them')
    .addHelpText('after', examples(['sluice sample-data', 'sluice sample-data --out /tmp/lake --days 30 --events-per-day 100000 --songs 5000 --seed 7']));
  sample.action(withApp(sample, async (app: App, o: Record<string, string | boolean | undefined>) => {
    const num = (k: string) => {
      const n = Number(o[k]);
      if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} must be a whole number, not '${o[k]}'`);
      return n;
    };
    const out = path.resolve(typeof o.out === 'string' ? o.out : path.join(app.config.home, 'lake'));
    const started = Date.now();
    const res = await generateSampleLake({
      out,
      days: num('days'),
      eventsPerDay: num('eventsPerDay'),
      songs: num('songs'),
      seed: num('seed'),
      startDate: String(o.startDate),
      gzip: Boolean(o.gzip),
      clean: Boolean(o.clean),
    }).catch((err: Error) => {
      throw err instanceof RangeError || /exist/.test(err.message) ? new UsageError(err.message.replace('pass clean', 'pass --clean')) : err;
    });
    process.stdout.write(
      `wrote ${out}: ${res.songFiles} song files, ${res.eventFiles} event files, ${res.events} events ` +
        `(${res.nextSongEvents} NextSong, ${res.matchingPlays} matching a song) in ${humanMs(Date.now() - started)}\n`,
    );
  }) as never);

  // -- operations: scheduler, backfill, clear, mark, pause, next ----------------
  const scheduler = program
    .command('scheduler')
    .description('run the scheduler daemon: create runs as data intervals close and run them')
    .option('--once', 'do what is due now, then exit (for cron-driven deployments)')
    .addHelpText(
      'after',
      examples(['sluice scheduler', 'sluice scheduler --once', 'SLUICE_HOME=/var/lib/sluice sluice scheduler --dags-dir /etc/sluice/dags']) +
        '\nOne scheduler per state DB. SIGTERM/SIGINT stop it gracefully (scheduler.grace_period); a second signal aborts running tries.\n',
    );
  scheduler.action(withApp(scheduler, (app: App, o: { once?: boolean }) =>
    schedulerCommand(app, { ...o, verbose: Boolean(scheduler.optsWithGlobals().verbose) }),
  ) as never);

  const backfill = program
    .command('backfill')
    .description('create and run the runs of every data interval in a date range')
    .argument('<dag_id>')
    .requiredOption('--from <date>', 'first logical date (inclusive)')
    .requiredOption('--to <date>', 'last logical date (inclusive)')
    .addOption(
      new Option('--reprocess <which>', 'existing runs to run again: failed (and unfinished), completed (all), none')
        .choices(['failed', 'completed', 'none'])
        .default('failed'),
    )
    .option('--max-active-runs <n>', 'runs at once (default: the DAG\'s max_active_runs)')
    .option('--dry-run', 'list the intervals and what would happen, do nothing')
    .option('--json', 'JSON output')
    .addHelpText(
      'after',
      examples([
        'sluice backfill songplays --from 2018-11-01 --to 2018-11-30',
        'sluice backfill songplays --from 2018-11-01 --to 2018-11-30 --dry-run',
        'sluice backfill songplays --from 2018-11-01 --to 2018-11-07 --reprocess completed --max-active-runs 2',
      ]),
    );
  backfill.action(withApp(backfill, (app: App, dagId: string, o: Parameters<typeof backfillCommand>[2]) =>
    backfillCommand(app, dagId, { ...o, verbose: Boolean(backfill.optsWithGlobals().verbose) }),
  ) as never);

  const tasksClear = tasks
    .command('clear')
    .description("clear a run's tasks so they run again (the run goes back to the queue)")
    .argument('<run_id>')
    .option('--task <task_id...>', 'only these tasks')
    .option('--downstream', 'with --task: also every task downstream of them')
    .option('--failed-only', 'only failed and unfinished tasks')
    .option('--json', 'JSON output')
    .addHelpText(
      'after',
      examples([
        'sluice tasks clear songplays__scheduled__2018-11-21T00:00:00Z --failed-only',
        'sluice tasks clear songplays__scheduled__2018-11-21T00:00:00Z --task load_songplays --downstream',
      ]),
    );
  tasksClear.action(withApp(tasksClear, (app: App, runId: string, o: Parameters<typeof tasksClearCommand>[2]) =>
    tasksClearCommand(app, runId, o),
  ) as never);

  const runsMark = runs
    .command('mark')
    .description('mark a run success (its unfinished tasks too) or failed')
    .argument('<run_id>')
    .argument('<state>', 'success or failed')
    .addHelpText('after', examples(['sluice runs mark songplays__scheduled__2018-11-21T00:00:00Z success']));
  runsMark.action(withApp(runsMark, (app: App, runId: string, state: string) => runsMarkCommand(app, runId, state)) as never);

  for (const [verb, paused] of [['pause', true], ['unpause', false]] as const) {
    const c = dags
      .command(verb)
      .description(paused ? 'pause a DAG: the scheduler creates and starts no runs for it' : 'unpause a DAG')
      .argument('<dag_id>')
      .addHelpText('after', examples([`sluice dags ${verb} songplays`]));
    c.action(withApp(c, (app: App, dagId: string) => pauseCommand(app, dagId, paused)) as never);
  }

  const dagsNext = dags
    .command('next')
    .description('the next data intervals of a DAG and when their runs start')
    .argument('<dag_id>')
    .option('-n, --count <n>', 'how many', '5')
    .option('--json', 'JSON output')
    .addHelpText('after', examples(['sluice dags next songplays', 'sluice dags next songplays -n 10 --json']));
  dagsNext.action(withAppReading(dagsNext, (app: App, dagId: string, o: { count: string; json?: boolean }) => nextCommand(app, dagId, o)) as never);

  registerConnectionsCommand(program, withApp);

  return program;
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (v instanceof Date) return v.toISOString();
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function requireRun(app: App, runId: string): void {
  if (!app.store.getRun(runId)) {
    const recent = app.store.listRuns({ limit: 5 }).map((r) => r.run_id);
    throw new UsageError(`no run '${runId}'${recent.length ? `. Recent runs: ${recent.join(', ')}` : ''} (see: sluice runs list)`);
  }
}

function validateCommand(app: App, paths: string[], json: boolean): number {
  const targets = paths.length ? paths : [app.config.dagsDir];
  const results: { file: string; ok: boolean; dag?: string; tasks?: number; problems: string[] }[] = [];
  for (const p of targets) {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(p);
    } catch {
      results.push({ file: p, ok: false, problems: [`${p}: no such file or folder`] });
      continue;
    }
    if (stat.isDirectory()) {
      const { dags, errors } = loadDagsDir(p, app.registry);
      for (const d of dags) results.push({ file: d.file, ok: true, dag: d.id, tasks: d.tasks.size, problems: [] });
      for (const e of errors) results.push({ file: e.file, ok: false, problems: e.problems.map(formatProblem) });
    } else {
      try {
        const d = loadDagFile(p, app.registry);
        results.push({ file: d.file, ok: true, dag: d.id, tasks: d.tasks.size, problems: [] });
      } catch (err) {
        const problems = (err as { problems?: Parameters<typeof formatProblem>[0][] }).problems;
        results.push({ file: p, ok: false, problems: problems ? problems.map(formatProblem) : [errorMessage(err)] });
      }
    }
  }
  const bad = results.filter((r) => !r.ok);
  if (json) printJson({ ok: bad.length === 0, files: results });
  else {
    for (const r of results) {
      if (r.ok) process.stdout.write(`ok    ${path.relative(process.cwd(), r.file) || r.file}  (dag ${r.dag}, ${r.tasks} tasks)\n`);
      else {
        process.stdout.write(`FAIL  ${path.relative(process.cwd(), r.file) || r.file}\n`);
        for (const pr of r.problems) process.stdout.write(`      ${pr}\n`);
      }
    }
    process.stdout.write(`${results.length - bad.length} valid, ${bad.length} invalid\n`);
  }
  return bad.length ? 2 : 0;
}

/** Runs the CLI with argv (without node and script); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  const verbose = argv.includes('-v') || argv.includes('--verbose');
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return 2;
    }
    if (err instanceof SluiceError) {
      process.stderr.write(`error: ${redactText(err.message)}\n`);
      if (verbose && err.stack) process.stderr.write(redactText(err.stack) + '\n');
      return err.exitCode;
    }
    process.stderr.write(`error: ${redactText(errorMessage(err))}\n`);
    if (verbose && err instanceof Error && err.stack) process.stderr.write(redactText(err.stack) + '\n');
    else process.stderr.write('(run with --verbose for the stack trace)\n');
    return 1;
  }
}

/** True when this module is the process's entry point (not imported by tests). */
function isEntry(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return fs.realpathSync(entry) === fs.realpathSync(new URL(import.meta.url).pathname);
  } catch {
    return false;
  }
}

if (isEntry()) {
  // Exit explicitly: an open handle (a pool, a timer) must not keep a finished command alive.
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
