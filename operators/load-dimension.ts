import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { TaskFailure } from '../engine/errors.js';
import { defineOperator, identifier, quoteIdent, sqlTemplate } from '../engine/operator.js';
import { asSubquery, columnList, fromSubquery, quoteColumn, selectColumns } from './sql-support.js';

/**
 * Loads a dimension table from a SELECT over the staging tables, in one
 * transaction. `truncate-insert` empties the table with DELETE (Redshift's
 * TRUNCATE commits implicitly) and inserts; `append` inserts; `upsert`
 * stages the SELECT's rows in a temporary table, deletes the rows whose key
 * matches one of them, and inserts them (the Redshift merge pattern: no ON
 * CONFLICT, so it runs on PostgreSQL and Redshift alike). Columns are
 * matched by name.
 */
export const LoadDimension = defineOperator({
  name: 'LoadDimension',
  description: 'Loads a dimension table from a SELECT: truncate-insert, append or upsert on key columns',
  params: z
    .object({
      table: identifier.describe('target dimension table, e.g. users'),
      sql: sqlTemplate.describe(
        'a SELECT producing the rows (column names = table columns); a .sql file or inline; a Liquid template',
      ),
      mode: z
        .enum(['truncate-insert', 'append', 'upsert'])
        .default('truncate-insert')
        .describe(
          'truncate-insert: replace all rows; append: insert only; upsert: replace the rows with the same key, insert the rest',
        ),
      connection: z.string().min(1).default('warehouse').describe('name of the warehouse connection'),
      key: z.array(identifier).min(1).optional().describe('key columns identifying a row (required for upsert), e.g. [user_id]'),
    })
    .strict()
    .superRefine((p, ctx) => {
      if (p.mode === 'upsert' && !p.key) {
        ctx.addIssue({
          code: 'custom',
          path: ['key'],
          message: 'mode upsert needs key: the column(s) that identify a row, e.g. key: [user_id]',
        });
      }
    }),
  templated: ['sql'],
  connectionParam: 'connection',
  async execute(ctx) {
    const { params, signal, log, record } = ctx;
    const select = asSubquery(await ctx.sql(params.sql, 'sql'), 'sql');
    const wh = await ctx.warehouse(params.connection);
    const table = quoteIdent(params.table);
    const key = params.key ?? [];
    const orderBy = key.length ? ` ORDER BY ${columnList(key)}` : '';
    const { deleted, inserted } = await wh.transaction(
      async (tx) => {
        const columns = await selectColumns(tx, select, signal);
        const missing = key.filter((k) => !columns.includes(k));
        if (missing.length) {
          throw new TaskFailure(
            `key column(s) ${missing.join(', ')} not returned by the SELECT; it returns: ${columns.join(', ')}`,
          );
        }
        const cols = columnList(columns);
        if (params.mode !== 'upsert') {
          const del = params.mode === 'truncate-insert' ? (await tx.query(`DELETE FROM ${table}`, [], { signal })).rowCount : 0;
          const ins = await tx.query(`INSERT INTO ${table} (${cols}) SELECT ${cols} FROM ${fromSubquery(select)}${orderBy}`, [], {
            signal,
          });
          return { deleted: del, inserted: ins.rowCount };
        }
        const stage = quoteIdent(`sluice_upsert_${params.table.replace('.', '_')}_${randomBytes(4).toString('hex')}`);
        await tx.query(`CREATE TEMPORARY TABLE ${stage} AS SELECT ${cols} FROM ${fromSubquery(select)}`, [], { signal });
        const dup = await tx.query<{ n: number | string }>(
          `SELECT COUNT(*) AS n FROM (SELECT ${columnList(key)} FROM ${stage} GROUP BY ${columnList(key)} HAVING COUNT(*) > 1) AS d`,
          [],
          { signal },
        );
        const dupKeys = Number(dup.rows[0]?.n ?? 0);
        if (dupKeys > 0) {
          throw new TaskFailure(
            `the SELECT returned ${dupKeys} key value(s) of (${key.join(', ')}) more than once; an upsert needs one row per key`,
          );
        }
        const match = key.map((k) => `${table}.${quoteColumn(k)} = ${stage}.${quoteColumn(k)}`).join(' AND ');
        const del = await tx.query(`DELETE FROM ${table} USING ${stage} WHERE ${match}`, [], { signal });
        const ins = await tx.query(`INSERT INTO ${table} (${cols}) SELECT ${cols} FROM ${stage}${orderBy}`, [], { signal });
        await tx.query(`DROP TABLE ${stage}`, [], { signal });
        return { deleted: del.rowCount, inserted: ins.rowCount };
      },
      { signal },
    );
    log.info({ table: params.table, mode: params.mode, deleted, inserted }, 'dimension loaded');
    record({
      table: params.table,
      mode: params.mode,
      rows_deleted: deleted,
      rows_inserted: inserted,
      ...(params.mode === 'upsert' ? { rows_replaced: deleted, rows_new: inserted - deleted } : {}),
    });
  },
});
