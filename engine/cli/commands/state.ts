/**
 * `sluice state migrate|export|import`: moves the history of the embedded
 * SQLite state to the PostgreSQL state in force, directly or through a file
 * (for a host that cannot reach the server).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import type { App } from '../app.js';
import type { HistoryTarget, ImportReport } from '../../state/copy.js';
import { action, type CliContext, examples } from './kit.js';

/** The state in force, which must take a whole history (a PostgreSQL one) to copy one into. */
function historyTarget(app: App): HistoryTarget {
  if (!app.store.importHistory) {
    throw new UsageError(
      'the state in force is the SQLite file itself: set state: postgres://… in the config file, or SLUICE_STATE, ' +
        'to the PostgreSQL state to copy it to',
    );
  }
  return app.store as HistoryTarget;
}

/** What a copy did, as a table or JSON. */
async function printReport(from: string, to: string, report: ImportReport, json?: boolean): Promise<number> {
  const { printJson, table } = await import('../format.js');
  if (json) {
    printJson({ from, to, ...report });
    return 0;
  }
  const rows = Object.entries(report.copied).map(([t, n]) => [t, n, report.skipped[t] ?? 0]);
  process.stdout.write(`copied ${from} to ${to}\n`);
  process.stdout.write(`${table(['table', 'rows copied', 'kept in the target'], rows)}\n`);
  return 0;
}

export function register(program: Command, ctx: CliContext): void {
  const state = program.command('state').description('manage the state (the history of runs) itself');
  const migrate = state
    .command('migrate')
    .description('copy a SQLite state (runs, tries, logs, outputs, connections, paused DAGs, quality history) to PostgreSQL')
    .option('--from-sqlite <file>', 'the SQLite state file to copy (default: <home>/state.db)')
    .option('--json', 'JSON output')
    .addHelpText(
      'after',
      examples([
        'SLUICE_STATE=postgres://sluice@db/sluice sluice state migrate',
        'SLUICE_STATE=postgres://sluice@db/sluice sluice state migrate --from-sqlite /var/lib/sluice/state.db',
      ]) +
        '\nThe target is the state in force (state: in the config file, or SLUICE_STATE) and must have no runs yet.\n' +
        'Everything is copied in one transaction, ids kept: a failure leaves the target as it was.\n' +
        'Stop the scheduler writing to the SQLite file first; it is only read.\n',
    );
  action(ctx, migrate, async (app, o: { fromSqlite?: string; json?: boolean }) => {
    const target = historyTarget(app);
    const { migrateSqliteToPostgres } = await import('../../state/copy.js');
    const file = path.resolve(o.fromSqlite ?? app.config.stateDbPath);
    return printReport(file, target.location, await migrateSqliteToPostgres(file, target), o.json);
  });

  const exp = state
    .command('export')
    .description('write a SQLite state (the whole history) to a file, for `sluice state import` on another host')
    .argument('<file>', 'the file to write (JSON lines; refused if it exists)')
    .option('--from-sqlite <file>', 'the SQLite state file to export (default: <home>/state.db)')
    .addHelpText(
      'after',
      examples([
        'sluice state export history.jsonl',
        'scp history.jsonl db-host: && ssh db-host SLUICE_STATE=postgres://sluice@db/sluice sluice state import history.jsonl',
      ]),
    );
  action(ctx, exp, async (app, out: string, o: { fromSqlite?: string }) => {
    const { exportSqliteHistory } = await import('../../state/copy.js');
    const file = path.resolve(o.fromSqlite ?? app.config.stateDbPath);
    const target = path.resolve(out);
    if (fs.existsSync(target)) throw new UsageError(`${target} exists: give a new file name (nothing is overwritten)`);
    const counts = await exportSqliteHistory(file, target);
    const rows = Object.values(counts).reduce((a, b) => a + b, 0);
    process.stdout.write(`exported ${file} to ${target}: ${rows} row(s) in ${Object.keys(counts).length} tables\n`);
    return 0;
  });

  const imp = state
    .command('import')
    .description('copy a history written by `sluice state export` into the PostgreSQL state in force (an empty one)')
    .argument('<file>', 'the file `sluice state export` wrote')
    .option('--json', 'JSON output')
    .addHelpText(
      'after',
      examples(['SLUICE_STATE=postgres://sluice@db/sluice sluice state import history.jsonl']) +
        '\nEvery line is checked first, then everything is copied in one transaction, ids kept; the target must have no runs.\n',
    );
  action(ctx, imp, async (app, file: string, o: { json?: boolean }) => {
    const target = historyTarget(app);
    const { readExport } = await import('../../state/copy.js');
    const from = path.resolve(file);
    return printReport(from, target.location, await target.importHistory(readExport(from)), o.json);
  });
}
