/** `sluice sql <query>`: a query on a warehouse connection. */
import type { Command } from 'commander';
import { printJson, table } from '../format.js';
import { action, type CliContext, examples } from './kit.js';

export function register(program: Command, ctx: CliContext): void {
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
  action(ctx, sql, async (app, query: string, o: { connection: string; json?: boolean }) => {
    const wh = await app.connections.warehouse(o.connection);
    const res = await wh.query(query);
    if (o.json) return void printJson(res.rows);
    const cols = res.fields.map((f) => f.name);
    if (cols.length === 0) {
      process.stdout.write(`ok (${res.rowCount} rows affected)\n`);
      return;
    }
    process.stdout.write(
      table(
        cols,
        res.rows.map((r) => cols.map((c) => cell((r as Record<string, unknown>)[c]))),
      ),
    );
    process.stdout.write(`(${res.rows.length} row${res.rows.length === 1 ? '' : 's'})\n`);
  });
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (v instanceof Date) return v.toISOString();
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}
