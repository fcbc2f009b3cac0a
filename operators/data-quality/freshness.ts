/**
 * freshness: the newest value of a timestamp column is at most `max_age`
 * old, measured at the run's data interval end (the default: a rerun of an
 * old day judges that day's data, as it would have been judged then) or at
 * the current time (`relative_to: now`, like dbt's source freshness).
 */
import { z } from 'zod';
import { duration, identifier, quoteIdent } from '../../engine/operator.js';
import { formatDuration } from '../../engine/duration.js';
import { common, whereClause, where, type CheckEnv, type Outcome } from './common.js';

export const freshnessSchema = z
  .object({
    type: z.literal('freshness').describe('the newest value of column is at most max_age old at the data interval end (or now)'),
    table: identifier.describe('table to check, e.g. songplays'),
    column: identifier.describe('a timestamp or date column, e.g. start_time'),
    max_age: duration.describe('how old the newest value may be, e.g. 1d, 6h, 90m'),
    relative_to: z
      .enum(['interval_end', 'now'])
      .default('interval_end')
      .describe('measure the age at the data interval end (default) or at the current time'),
    where: where.optional(),
    ...common,
  })
  .strict();

export type FreshnessCheck = z.output<typeof freshnessSchema>;

export function describeFreshness(c: FreshnessCheck): string {
  return `newest ${c.column} at most ${formatDuration(c.max_age)} old at ${c.relative_to === 'now' ? 'now' : 'the data interval end'}`;
}

/** A column value as a time: a Date, or text a timestamp parses from (read as UTC when it has no zone). */
function asTime(v: unknown): Date | null {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v;
  if (typeof v === 'string' && v !== '') {
    const zoned = /(Z|[+-]\d\d(:?\d\d)?)$/.test(v) ? v : `${v.replace(' ', 'T')}Z`;
    const d = new Date(zoned);
    return Number.isNaN(d.getTime()) ? null : d;
  }
  return null;
}

export async function runFreshness(c: FreshnessCheck, env: CheckEnv): Promise<Outcome> {
  const expected = describeFreshness(c);
  const sql = `SELECT MAX(${quoteIdent(c.column)}) AS newest FROM ${quoteIdent(c.table)}${whereClause(c.where)}`;
  const res = await env.wh.query<{ newest: unknown }>(sql, [], { signal: env.signal });
  const raw = res.rows[0]?.newest ?? null;
  const reference = c.relative_to === 'now' ? env.now() : env.dataIntervalEnd;
  const details: Record<string, unknown> = { reference: reference.toISOString(), max_age_seconds: c.max_age / 1000 };
  if (raw === null) {
    return { observed: null, expected, passed: false, details, message: `no row has a value in ${c.column}` };
  }
  const newest = asTime(raw);
  if (!newest) {
    return {
      observed: String(raw),
      expected,
      passed: false,
      details,
      error: `${c.table}.${c.column} holds ${JSON.stringify(raw)}, not a timestamp: point freshness at a timestamp or date column`,
    };
  }
  const ageMs = reference.getTime() - newest.getTime();
  details.age_seconds = ageMs / 1000;
  return {
    observed: newest.toISOString(),
    expected,
    passed: ageMs <= c.max_age,
    details,
    message: `newest ${c.column} is ${formatDuration(Math.max(0, ageMs))} old${ageMs < 0 ? ' (after the reference time)' : ''}`,
  };
}
