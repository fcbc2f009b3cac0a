/**
 * row_count_change: this run's row count of a table (or of the rows matching
 * `where`, e.g. the run's interval) against the same check's counts in the
 * DAG's last `window` successful runs (TaskContext.history), like Airflow's
 * SQLIntervalCheckOperator: as ratios to their mean (`max_drop`,
 * `max_growth`) or as a z-score over the window (`z_score`). Until enough
 * history exists the check passes with a note saying so.
 */
import { z } from 'zod';
import { identifier, quoteIdent } from '../../engine/operator.js';
import { common, count, whereClause, where, type CheckEnv, type Outcome } from './common.js';

export const rowCountChangeSchema = z
  .object({
    type: z
      .literal('row_count_change')
      .describe("this run's row count compared with the last N successful runs (max_drop, max_growth or z_score)"),
    table: identifier.describe('table to count, e.g. songplays'),
    where: where.optional(),
    window: z.number().int().min(1).max(1000).default(7).describe('how many earlier successful runs to compare with'),
    min_history: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe('earlier runs needed before comparing (default 1; 3 with z_score); fewer: the check passes with a note'),
    max_drop: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .describe('largest drop below the window mean, as a ratio: 0.5 fails a day with less than half the usual rows'),
    max_growth: z
      .number()
      .min(0)
      .optional()
      .describe('largest growth above the window mean, as a ratio: 1 fails a day with more than twice the usual rows'),
    z_score: z.number().positive().optional().describe('largest distance from the window mean in standard deviations, e.g. 3'),
    ...common,
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.max_drop === undefined && c.max_growth === undefined && c.z_score === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['max_drop'],
        message: 'a row_count_change check needs max_drop, max_growth or z_score',
      });
    }
    if (c.min_history !== undefined && c.min_history > c.window) {
      ctx.addIssue({
        code: 'custom',
        path: ['min_history'],
        message: `min_history (${c.min_history}) is larger than window (${c.window})`,
      });
    }
  });

export type RowCountChangeCheck = z.output<typeof rowCountChangeSchema>;

const pct = (r: number) => `${Number((r * 100).toFixed(1))}%`;

export function describeRowCountChange(c: RowCountChangeCheck): string {
  const parts: string[] = [];
  if (c.max_drop !== undefined) parts.push(`at most ${pct(c.max_drop)} below`);
  if (c.max_growth !== undefined) parts.push(`at most ${pct(c.max_growth)} above`);
  if (c.z_score !== undefined) parts.push(`within ${c.z_score} standard deviations of`);
  return `${parts.join(', ')} the mean of the last ${c.window} successful run(s)`;
}

function minHistory(c: RowCountChangeCheck): number {
  return c.min_history ?? Math.min(c.window, c.z_score !== undefined ? 3 : 1);
}

export async function runRowCountChange(c: RowCountChangeCheck, env: CheckEnv): Promise<Outcome> {
  const expected = describeRowCountChange(c);
  const res = await env.wh.query<{ n: unknown }>(`SELECT COUNT(*) AS n FROM ${quoteIdent(c.table)}${whereClause(c.where)}`, [], {
    signal: env.signal,
  });
  const n = count(res.rows[0]?.n);
  const earlier = env.history ? await env.history.checkValues(env.name, c.window) : [];
  const values = earlier.map((h) => Number(h.observed)).filter((v) => Number.isFinite(v));
  const needed = minHistory(c);
  if (values.length < needed) {
    return {
      observed: n,
      expected,
      passed: true,
      details: { history: values },
      message: `not compared yet: ${values.length} earlier successful run(s) recorded this check, ${needed} needed`,
    };
  }
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
  const change = mean === 0 ? (n === 0 ? 0 : Infinity) : (n - mean) / mean;
  // A constant history has no spread: any other count is infinitely far from it.
  const zs = sd === 0 ? (n === mean ? 0 : Infinity) : (n - mean) / sd;
  const problems: string[] = [];
  if (c.max_drop !== undefined && change < -c.max_drop) problems.push(`dropped ${pct(-change)} (at most ${pct(c.max_drop)})`);
  if (c.max_growth !== undefined && change > c.max_growth) {
    problems.push(`grew ${Number.isFinite(change) ? pct(change) : 'from 0'} (at most ${pct(c.max_growth)})`);
  }
  if (c.z_score !== undefined && Math.abs(zs) > c.z_score) {
    problems.push(`z-score ${Number.isFinite(zs) ? zs.toFixed(2) : zs > 0 ? '+inf' : '-inf'} (at most ${c.z_score})`);
  }
  const round = (x: number) => (Number.isFinite(x) ? Number(x.toFixed(4)) : null);
  return {
    observed: n,
    expected,
    passed: problems.length === 0,
    details: { mean: round(mean), stddev: round(sd), change: round(change), z_score: round(zs), history: values },
    message:
      problems.length > 0
        ? `${n} rows vs a mean of ${round(mean)} over ${values.length} run(s): ${problems.join('; ')}`
        : `${n} rows vs a mean of ${round(mean)} over ${values.length} run(s)`,
  };
}
