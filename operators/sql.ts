import { z } from 'zod';
import { defineOperator, sqlTemplate } from '../engine/operator.js';
import type { WarehouseSession } from '../engine/interfaces.js';
import { preview, splitStatements } from './sql-support.js';

/**
 * Runs a SQL script (a file under sql/ or inline SQL, rendered as a Liquid
 * template with `dialect` and the run's dates) on a warehouse, statement by
 * statement, by default in one transaction. Like Airflow's SQLExecuteQueryOperator.
 */
export const Sql = defineOperator({
  name: 'Sql',
  description: 'Runs a SQL script (file under sql/ or inline) on a warehouse, in one transaction by default',
  params: z
    .object({
      sql: sqlTemplate.describe(
        'a .sql file (relative to the project root) or inline SQL; several statements allowed; a Liquid template',
      ),
      connection: z.string().min(1).default('warehouse').describe('name of the warehouse connection'),
      transaction: z
        .boolean()
        .default(true)
        .describe('run every statement in one transaction (false: each statement commits on its own, e.g. for VACUUM)'),
    })
    .strict(),
  templated: ['sql'],
  connectionParam: 'connection',
  async execute(ctx) {
    const { params, signal, log, record } = ctx;
    const script = await ctx.sql(params.sql, 'sql');
    const statements = splitStatements(script);
    const wh = await ctx.warehouse(params.connection);
    const rowCounts: number[] = [];
    const runAll = async (session: WarehouseSession) => {
      for (const [i, statement] of statements.entries()) {
        let res;
        try {
          res = await session.query(statement, [], { signal });
        } catch (err) {
          log.error({ statement: i + 1, of: statements.length, sql: preview(statement, 200) }, 'statement failed');
          throw err;
        }
        rowCounts.push(res.rowCount);
        log.debug({ statement: i + 1, rows: res.rowCount, sql: preview(statement) }, 'statement done');
      }
    };
    if (params.transaction) await wh.transaction(runAll, { signal });
    else await runAll(wh);
    log.info({ statements: statements.length, transaction: params.transaction }, 'script done');
    record({
      statements: statements.length,
      row_counts: rowCounts,
      executed: statements.map((s, i) => ({ sql: preview(s), rows: rowCounts[i] ?? null })),
    });
  },
});
