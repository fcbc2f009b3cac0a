/**
 * SqlSensor: runs a query until its first cell is truthy, as Airflow's
 * SqlSensor: a row count reaching a threshold, a flag another system sets, a
 * partition that exists.
 */
import { z } from 'zod';
import { defineOperator, sqlTemplate } from '../../engine/operator.js';
import { pokeUntil, SENSOR_PARAMS } from './poke.js';

/** First cells that mean "not yet" (Airflow's: 0, '0', '', None; and SQL false). */
export function isTruthyCell(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === '' || v === '0') return false;
  if (typeof v === 'number' || typeof v === 'bigint') return Number(v) !== 0;
  if (typeof v === 'string' && /^(f|false)$/i.test(v.trim())) return false;
  return true;
}

export const SqlSensor = defineOperator({
  name: 'SqlSensor',
  description: "Waits until a SQL query's first cell is truthy (Airflow SqlSensor)",
  params: z
    .object({
      sql: sqlTemplate.describe(
        'a query whose first cell says "ready" (not 0, false, empty or NULL), e.g. ' +
          'SELECT count(*) >= 1000 FROM staging_events; a .sql file or inline; a Liquid template',
      ),
      connection: z.string().min(1).default('warehouse').describe('name of the warehouse connection'),
      ...SENSOR_PARAMS,
    })
    .strict(),
  templated: ['sql'],
  connectionParam: 'connection',
  async execute(ctx) {
    const { params, signal } = ctx;
    const sql = await ctx.sql(params.sql, 'sql');
    const wh = await ctx.warehouse(params.connection);
    await pokeUntil(ctx, `query on ${params.connection}`, async () => {
      const res = await wh.query(sql, [], { signal });
      const first = res.rows[0];
      const column = res.fields[0]?.name;
      const value = first && column !== undefined ? first[column] : undefined;
      if (isTruthyCell(value)) return { done: true, outputs: { value: jsonable(value) } };
      return { done: false, seen: first ? `first cell ${JSON.stringify(jsonable(value))}` : 'no rows' };
    });
  },
});

/** A cell as JSON can hold it (bigint and Date become text). */
function jsonable(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Date) return v.toISOString();
  return v === undefined ? null : v;
}
