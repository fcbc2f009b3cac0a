#!/usr/bin/env node
/**
 * The `sluice` command line. Every verb has --help with examples; tables for
 * people, --json for scripts. Exit codes: 0 ok, 1 failed run or check,
 * 2 usage or validation error.
 *
 * Each verb group lives in commands/ and declares itself with commander
 * alone; what a verb needs (the config parser, the state DB, the runner, the
 * warehouse drivers) is imported when it runs, so a command loads only its
 * own share (`sluice --version` loads none of it).
 */
import fs from 'node:fs';
import { Command, CommanderError } from 'commander';
import { SluiceError, errorMessage } from '../errors.js';
import { redactText } from '../redact.js';
import { packageVersion } from '../package-root.js';
import type { GlobalOptions } from './app.js';
import type { CliContext, Handler, VerbMode } from './commands/kit.js';
import * as runDag from './commands/run-dag.js';
import * as dags from './commands/dags.js';
import * as runs from './commands/runs.js';
import * as tasks from './commands/tasks.js';
import * as report from './commands/report.js';
import * as sql from './commands/sql.js';
import * as sampleData from './commands/sample-data.js';
import * as scheduler from './commands/scheduler.js';
import * as connections from './commands/connections.js';
import * as webserver from './commands/webserver.js';
import * as state from './commands/state.js';
import * as worker from './commands/worker.js';

/**
 * Wraps a verb: opens the app, runs, closes, maps errors to messages and exit
 * codes. A verb that only reads the state DB says `readonly`: the DB is then
 * opened read-only (it works on a read-only home) and never migrated.
 */
function withApp<A extends unknown[]>(cmd: Command, fn: Handler<A>, mode: VerbMode = {}): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const g = cmd.optsWithGlobals<GlobalOptions>();
    const [{ openApp, stateFailure }, { setLockHolder }] = await Promise.all([
      import('./app.js'),
      import('../connections/warehouse/pglite/pglite-lock.js'),
    ]);
    setLockHolder(`sluice ${cmd.name()}`); // who holds a PGlite warehouse, as another process waiting for it is told
    const app = await openApp(g, undefined, mode);
    try {
      // commander passes the verb's arguments, its options, then the command itself
      const code = await fn(app, ...(args.slice(0, -1) as A));
      process.exitCode = code ?? 0;
    } catch (err) {
      // the state DB failing under a verb (damaged pages, a full disk): say which file and what to do
      throw stateFailure(app, err) ?? err;
    } finally {
      await app.close();
    }
  };
}

export function buildProgram(): Command {
  const program = new Command('sluice')
    .description('Sluice: declarative, typed DAGs for Redshift-style warehouses, runnable on a laptop')
    .version(packageVersion())
    .option('-c, --config <file>', 'configuration file (default: config/default.yaml; env SLUICE_CONFIG)')
    .option('--dags-dir <dir>', 'folder of DAG files (default from config: dags)')
    .option('-v, --verbose', 'print task logs and stack traces')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();

  const ctx: CliContext = { withApp };
  // in the order --help lists them
  for (const verbs of [runDag, dags, runs, tasks, report, sql, sampleData, scheduler, worker, connections, webserver, state])
    verbs.register(program, ctx);
  return program;
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

/**
 * Exits with `code` once everything written to stdout and stderr has been
 * handed to the OS. Exiting explicitly keeps an open handle (a pool, a timer)
 * from holding a finished command alive; exiting at once would cut output
 * still queued for a pipe (a large `dags schema | jq`).
 */
export function exitWhenFlushed(code: number): void {
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}

if (isEntry()) main(process.argv.slice(2)).then(exitWhenFlushed);
