/** `sluice state migrate`: moves the history of the embedded SQLite state to the PostgreSQL state in force. */
import path from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { action, type CliContext, examples } from './kit.js';

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
    const [{ PostgresStateStore }, { migrateSqliteToPostgres }, { printJson, table }] = await Promise.all([
      import('../../state/postgres/index.js'),
      import('../../state/copy.js'),
      import('../format.js'),
    ]);
    if (!(app.store instanceof PostgresStateStore)) {
      throw new UsageError(
        'the state in force is the SQLite file itself: set state: postgres://… in the config file, or SLUICE_STATE, ' +
          'to the PostgreSQL state to copy it to',
      );
    }
    const file = path.resolve(o.fromSqlite ?? app.config.stateDbPath);
    const report = await migrateSqliteToPostgres(file, app.store);
    if (o.json) {
      printJson({ from: file, to: app.store.location, ...report });
      return 0;
    }
    const rows = Object.entries(report.copied).map(([t, n]) => [t, n, report.skipped[t] ?? 0]);
    process.stdout.write(`copied ${file} to ${app.store.location}\n`);
    process.stdout.write(`${table(['table', 'rows copied', 'kept in the target'], rows)}\n`);
    return 0;
  });
}
