import { z } from 'zod';
import { TaskFailure } from '../engine/errors.js';
import { defineOperator, identifier, quoteIdent, sqlTemplate } from '../engine/operator.js';
import { asSubquery, columnList, fromSubquery, quoteColumn, selectColumns, timestampParam } from './sql-support.js';

/**
 * Loads a fact table from a SELECT over the staging tables. The default
 * `replace-interval` mode makes a run idempotent: in one transaction it
 * deletes the rows whose interval_column lies in the run's data interval
 * [data_interval_start, data_interval_end) and inserts the SELECT's rows of
 * that interval (rows outside it are not inserted), so rerunning a date
 * never duplicates facts. Columns are matched by name.
 */
export const LoadFact = defineOperator({
  name: 'LoadFact',
  description: "Loads a fact table from a SELECT; by default replaces the rows of the run's data interval",
  params: z
    .object({
      table: identifier.describe('target fact table, e.g. songplays'),
      sql: sqlTemplate.describe(
        'a SELECT producing the rows (column names = table columns); a .sql file or inline; a Liquid template',
      ),
      mode: z
        .enum(['append', 'replace-interval'])
        .default('replace-interval')
        .describe(
          "replace-interval: delete the data interval's rows and insert in one transaction (idempotent); append: insert only",
        ),
      connection: z.string().min(1).default('warehouse').describe('name of the warehouse connection'),
      interval_column: identifier
        .default('start_time')
        .describe('timestamp column that places a row in a data interval (replace-interval mode)'),
    })
    .strict(),
  templated: ['sql'],
  connectionParam: 'connection',
  async execute(ctx) {
    const { params, signal, log, record } = ctx;
    const select = asSubquery(await ctx.sql(params.sql, 'sql'), 'sql');
    const wh = await ctx.warehouse(params.connection);
    const table = quoteIdent(params.table);
    const interval = [timestampParam(ctx.dataIntervalStart), timestampParam(ctx.dataIntervalEnd)];
    const { deleted, inserted } = await wh.transaction(
      async (tx) => {
        const columns = await selectColumns(tx, select, signal);
        const cols = columnList(columns);
        if (params.mode === 'append') {
          const ins = await tx.query(`INSERT INTO ${table} (${cols}) SELECT ${cols} FROM ${fromSubquery(select)}`, [], {
            signal,
          });
          return { deleted: 0, inserted: ins.rowCount };
        }
        if (!columns.includes(params.interval_column)) {
          throw new TaskFailure(
            `the SELECT has no column ${params.interval_column} (interval_column); it returns: ${columns.join(', ')}`,
          );
        }
        const col = quoteColumn(params.interval_column);
        const inInterval = `${col} >= CAST($1 AS TIMESTAMP) AND ${col} < CAST($2 AS TIMESTAMP)`;
        const del = await tx.query(`DELETE FROM ${table} WHERE ${inInterval}`, interval, { signal });
        const ins = await tx.query(
          `INSERT INTO ${table} (${cols}) SELECT ${cols} FROM ${fromSubquery(select)} WHERE ${inInterval} ORDER BY ${col}`,
          interval,
          { signal },
        );
        return { deleted: del.rowCount, inserted: ins.rowCount };
      },
      { signal },
    );
    log.info({ table: params.table, mode: params.mode, deleted, inserted }, 'fact loaded');
    record({
      table: params.table,
      mode: params.mode,
      ...(params.mode === 'replace-interval'
        ? { interval: { start: ctx.dataIntervalStart.toISOString(), end: ctx.dataIntervalEnd.toISOString() } }
        : {}),
      rows_deleted: deleted,
      rows_inserted: inserted,
    });
  },
});
