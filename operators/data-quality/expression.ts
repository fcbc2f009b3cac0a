/**
 * expression: a SQL boolean expression holds for every row of a table (of
 * the rows matching `where`), like dbt's expression_is_true. A row where the
 * expression is NULL does not hold it (write `x IS NULL OR ...` to allow
 * NULLs). Observed: how many rows fail it; up to 5 of them are kept.
 */
import { z } from 'zod';
import { identifier, quoteIdent } from '../../engine/operator.js';
import { common, count, oneCondition, plainRows, where, type CheckEnv, type Outcome } from './common.js';
import { preview } from '../sql-support.js';

export const expressionSchema = z
  .object({
    type: z.literal('expression').describe('a SQL boolean expression must hold for every row (observed: failing rows)'),
    table: identifier.describe('table to check, e.g. songplays'),
    expression: z
      .string()
      .min(1)
      .describe("a SQL boolean expression over the table's columns (a Liquid template), e.g. level IN ('free', 'paid')"),
    where: where.optional(),
    ...common,
  })
  .strict();

export type ExpressionCheck = z.output<typeof expressionSchema>;

export function describeExpression(c: ExpressionCheck): string {
  return `0 rows where ${preview(c.expression, 120)} does not hold`;
}

export async function runExpression(c: ExpressionCheck, env: CheckEnv): Promise<Outcome> {
  const expected = describeExpression(c);
  const holds = oneCondition(c.expression, 'expression');
  const scope = c.where === undefined ? '' : `(\n${oneCondition(c.where)}\n) AND `;
  const failing = `FROM ${quoteIdent(c.table)} WHERE ${scope}NOT COALESCE((\n${holds}\n), FALSE)`;
  const n = count((await env.wh.query<{ n: unknown }>(`SELECT COUNT(*) AS n ${failing}`, [], { signal: env.signal })).rows[0]?.n);
  if (n === 0) return { observed: 0, expected, passed: true };
  const sample = await env.wh.query<Record<string, unknown>>(`SELECT * ${failing} LIMIT 5`, [], { signal: env.signal });
  return { observed: n, expected, passed: false, sample: plainRows(sample.rows) };
}
