import { z } from 'zod';
import { TaskFailure, errorMessage } from '../engine/errors.js';
import type { Warehouse } from '../engine/interfaces.js';
import { defineOperator, identifier, quoteIdent, sqlTemplate } from '../engine/operator.js';
import { columnList, preview, splitStatements } from './sql-support.js';

/**
 * Runs data quality checks on warehouse tables (like Airflow's common.sql
 * check operators and dbt's generic tests). Every check's observed value,
 * expectation and result is recorded; when a check of severity `error`
 * fails the task fails (and is retried), a failing `warn` check only logs.
 * Identifiers are validated and quoted; values are bound parameters.
 */

const common = {
  name: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, { message: 'use only letters, digits, _ . and -' })
    .optional()
    .describe('name shown in reports (default: derived from type, table and columns)'),
  severity: z
    .enum(['error', 'warn'])
    .default('error')
    .describe('error: a failure fails the task; warn: a failure is only logged and recorded'),
};

const bounds = {
  min: z.number().optional().describe('smallest value that passes'),
  max: z.number().optional().describe('largest value that passes'),
};

const minNotAboveMax = (c: { min?: number; max?: number }, ctx: z.RefinementCtx) => {
  if (c.min !== undefined && c.max !== undefined && c.min > c.max) {
    ctx.addIssue({ code: 'custom', path: ['max'], message: `max (${c.max}) is smaller than min (${c.min})` });
  }
};

const columns = z.array(identifier).min(1);

const checkSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z
        .literal('row_count')
        .describe('the number of rows of a table (or of those matching where) lies within min..max (default: at least 1)'),
      table: identifier.describe('table to count'),
      where: z
        .string()
        .min(1)
        .optional()
        .describe(
          'count only the rows matching this SQL condition (a Liquid template), e.g. start_time >= {{ data_interval_start | sql_literal }} AND start_time < {{ data_interval_end | sql_literal }}',
        ),
      ...bounds,
      ...common,
    })
    .strict()
    .superRefine(minNotAboveMax),
  z
    .object({
      type: z.literal('not_null').describe('no row has a NULL in any of the columns'),
      table: identifier.describe('table to check'),
      columns: columns.describe('columns that must not be NULL'),
      ...common,
    })
    .strict(),
  z
    .object({
      type: z
        .literal('unique')
        .describe('no two rows share the same values of the columns (rows with a NULL among them are ignored)'),
      table: identifier.describe('table to check'),
      columns: columns.describe('the key columns'),
      ...common,
    })
    .strict(),
  z
    .object({
      type: z.literal('accepted_values').describe('every non-NULL value of the column is one of values'),
      table: identifier.describe('table to check'),
      column: identifier.describe('column to check'),
      values: z
        .array(z.union([z.string(), z.number(), z.boolean()]))
        .min(1)
        .describe('the allowed values'),
      ...common,
    })
    .strict(),
  z
    .object({
      type: z.literal('relationship').describe('every non-NULL column value exists in to_table.to_column (no orphan facts)'),
      table: identifier.describe('referencing table, e.g. songplays'),
      column: identifier.describe('referencing column, e.g. user_id'),
      to_table: identifier.describe('referenced table, e.g. users'),
      to_column: identifier.describe('referenced column, e.g. user_id'),
      ...common,
    })
    .strict(),
  z
    .object({
      type: z
        .literal('sql')
        .describe('a query whose first value (first column of the first row) must equal expect or lie within min..max'),
      sql: sqlTemplate.describe('a SELECT (a .sql file or inline; a Liquid template)'),
      expect: z.union([z.string(), z.number(), z.boolean(), z.null()]).optional().describe('the value the query must return'),
      ...bounds,
      ...common,
    })
    .strict()
    .superRefine((c, ctx) => {
      const hasBounds = c.min !== undefined || c.max !== undefined;
      if (c.expect === undefined && !hasBounds) {
        ctx.addIssue({ code: 'custom', path: ['expect'], message: 'a sql check needs expect (a value) or min/max' });
      }
      if (c.expect !== undefined && hasBounds) {
        ctx.addIssue({ code: 'custom', path: ['expect'], message: 'give either expect or min/max, not both' });
      }
      minNotAboveMax(c, ctx);
    }),
]);

type Check = z.output<typeof checkSchema>;

/** What one check found; recorded as outputs.checks[i]. */
export interface CheckResult {
  name: string;
  type: Check['type'];
  severity: 'error' | 'warn';
  table?: string;
  observed: unknown;
  expected: string;
  passed: boolean;
  details?: Record<string, unknown>;
  error?: string;
}

export const DataQuality = defineOperator({
  name: 'DataQuality',
  description:
    'Runs data quality checks (row counts, not null, unique, accepted values, relationships, SQL); fails on error-severity failures',
  params: z
    .object({
      checks: z
        .array(checkSchema)
        .min(1)
        .describe('the checks, each with a type: row_count, not_null, unique, accepted_values, relationship or sql')
        .superRefine((checks, ctx) => {
          const seen = new Map<string, number>();
          checks.forEach((c, i) => {
            if (!c.name) return;
            const first = seen.get(c.name);
            if (first !== undefined) {
              ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `name ${c.name} is already used by checks[${first}]` });
            } else seen.set(c.name, i);
          });
        }),
      connection: z.string().min(1).default('warehouse').describe('name of the warehouse connection'),
    })
    .strict(),
  templated: ['checks'],
  connectionParam: 'connection',
  async execute(ctx) {
    const { params, signal, log, record } = ctx;
    const wh = await ctx.warehouse(params.connection);
    const names = checkNames(params.checks);
    const results: CheckResult[] = [];
    for (const [i, check] of params.checks.entries()) {
      const base = {
        name: names[i]!,
        type: check.type,
        severity: check.severity,
        ...('table' in check ? { table: check.table } : {}),
      };
      let result: CheckResult;
      try {
        result = { ...base, ...(await runCheck(wh, check, signal, (ref) => ctx.sql(ref, `checks[${i}].sql`))) };
      } catch (err) {
        if (signal.aborted) throw err;
        result = { ...base, observed: null, expected: describeExpectation(check), passed: false, error: errorMessage(err) };
      }
      results.push(result);
      const line = { check: result.name, observed: result.observed, expected: result.expected, severity: result.severity };
      if (result.passed) log.info(line, 'check passed');
      else if (result.severity === 'warn') log.warn({ ...line, error: result.error }, 'check failed (warn only)');
      else log.error({ ...line, error: result.error }, 'check failed');
    }
    const failed = results.filter((r) => !r.passed);
    const failedErrors = failed.filter((r) => r.severity === 'error');
    record({
      checks: results,
      passed: results.length - failed.length,
      failed: failedErrors.length,
      warnings: failed.length - failedErrors.length,
    });
    if (failedErrors.length > 0) {
      const list = failedErrors
        .map((r) => `${r.name} (${r.error ? `error: ${r.error}` : `observed ${show(r.observed)}, expected ${r.expected}`})`)
        .join('; ');
      throw new TaskFailure(`${failedErrors.length} of ${results.length} data quality check(s) failed: ${list}`);
    }
  },
});

/** Names for the checks: given ones, else derived (made unique with a _2, _3 ... suffix). */
function checkNames(checks: readonly Check[]): string[] {
  const taken = new Set(checks.map((c) => c.name).filter((n): n is string => !!n));
  return checks.map((c, i) => {
    if (c.name) return c.name;
    const base = derivedName(c, i);
    let name = base;
    for (let k = 2; taken.has(name); k++) name = `${base}_${k}`;
    taken.add(name);
    return name;
  });
}

function derivedName(c: Check, index: number): string {
  switch (c.type) {
    case 'row_count':
      return `row_count_${c.table}`;
    case 'not_null':
    case 'unique':
      return `${c.type}_${c.table}_${c.columns.join('_')}`;
    case 'accepted_values':
      return `accepted_values_${c.table}_${c.column}`;
    case 'relationship':
      return `relationship_${c.table}_${c.column}_${c.to_table}_${c.to_column}`;
    case 'sql':
      return `sql_${index + 1}`;
  }
}

function range(min: number | undefined, max: number | undefined): string {
  if (min !== undefined && max !== undefined) return `between ${min} and ${max}`;
  if (min !== undefined) return `>= ${min}`;
  return `<= ${max}`;
}

function describeExpectation(c: Check): string {
  switch (c.type) {
    case 'row_count':
      return c.min === undefined && c.max === undefined ? '>= 1' : range(c.min, c.max);
    case 'not_null':
      return '0 rows with NULL';
    case 'unique':
      return '0 duplicated keys';
    case 'accepted_values':
      return `0 rows outside [${c.values.map(show).join(', ')}]`;
    case 'relationship':
      return `0 rows without a match in ${c.to_table}.${c.to_column}`;
    case 'sql':
      return c.expect !== undefined ? `= ${show(c.expect)}` : range(c.min, c.max);
  }
}

function show(v: unknown): string {
  return typeof v === 'string' ? `'${v}'` : v instanceof Date ? v.toISOString() : JSON.stringify(v);
}

/** A count from the database (int8 may come back as a string) as a number. */
function count(v: unknown): number {
  return v === null || v === undefined ? 0 : Number(v);
}

type Outcome = Omit<CheckResult, 'name' | 'type' | 'severity' | 'table'>;

async function runCheck(
  wh: Warehouse,
  c: Check,
  signal: AbortSignal,
  readSqlRef: (ref: string) => Promise<string>,
): Promise<Outcome> {
  const expected = describeExpectation(c);
  const one = async (sql: string, params: unknown[] = []) =>
    (await wh.query<Record<string, unknown>>(sql, params, { signal })).rows[0] ?? {};
  switch (c.type) {
    case 'row_count': {
      const where = c.where === undefined ? '' : ` WHERE (\n${oneCondition(c.where)}\n)`;
      const n = count((await one(`SELECT COUNT(*) AS n FROM ${quoteIdent(c.table)}${where}`)).n);
      const min = c.min === undefined && c.max === undefined ? 1 : c.min;
      return {
        observed: n,
        expected,
        passed: within(n, min, c.max),
        ...(c.where ? { details: { where: preview(c.where, 200) } } : {}),
      };
    }
    case 'not_null': {
      const perColumn = c.columns.map((col, i) => `SUM(CASE WHEN ${quoteIdent(col)} IS NULL THEN 1 ELSE 0 END) AS c${i}`);
      const anyNull = c.columns.map((col) => `${quoteIdent(col)} IS NULL`).join(' OR ');
      const row = await one(
        `SELECT SUM(CASE WHEN ${anyNull} THEN 1 ELSE 0 END) AS n, ${perColumn.join(', ')} FROM ${quoteIdent(c.table)}`,
      );
      const n = count(row.n);
      const nulls = Object.fromEntries(c.columns.map((col, i) => [col, count(row[`c${i}`])]));
      return { observed: n, expected, passed: n === 0, details: { nulls_per_column: nulls } };
    }
    case 'unique': {
      const cols = columnList(c.columns);
      const notNull = c.columns.map((col) => `${quoteIdent(col)} IS NOT NULL`).join(' AND ');
      const dups = `SELECT ${cols}, COUNT(*) AS sluice_rows FROM ${quoteIdent(c.table)} WHERE ${notNull} GROUP BY ${cols} HAVING COUNT(*) > 1`;
      const n = count((await one(`SELECT COUNT(*) AS n FROM (${dups}) AS d`)).n);
      const details: Record<string, unknown> = {};
      if (n > 0) {
        const sample = await wh.query(`${dups} ORDER BY sluice_rows DESC LIMIT 5`, [], { signal });
        details.sample = sample.rows;
      }
      return { observed: n, expected, passed: n === 0, ...(n > 0 ? { details } : {}) };
    }
    case 'accepted_values': {
      const col = quoteIdent(c.column);
      const placeholders = c.values.map((_, i) => `$${i + 1}`).join(', ');
      const outside = `FROM ${quoteIdent(c.table)} WHERE ${col} IS NOT NULL AND ${col} NOT IN (${placeholders})`;
      const n = count((await one(`SELECT COUNT(*) AS n ${outside}`, c.values)).n);
      if (n === 0) return { observed: 0, expected, passed: true };
      const sample = await wh.query<{ value: unknown }>(
        `SELECT ${col} AS value, COUNT(*) AS n ${outside} GROUP BY ${col} ORDER BY COUNT(*) DESC LIMIT 5`,
        c.values,
        { signal },
      );
      return { observed: n, expected, passed: false, details: { unexpected_values: sample.rows } };
    }
    case 'relationship': {
      const fk = `f.${quoteIdent(c.column)}`;
      const n = count(
        (
          await one(
            `SELECT COUNT(*) AS n FROM ${quoteIdent(c.table)} AS f LEFT JOIN ${quoteIdent(c.to_table)} AS d ` +
              `ON d.${quoteIdent(c.to_column)} = ${fk} WHERE ${fk} IS NOT NULL AND d.${quoteIdent(c.to_column)} IS NULL`,
          )
        ).n,
      );
      return { observed: n, expected, passed: n === 0 };
    }
    case 'sql': {
      const sql = await readSqlRef(c.sql);
      const res = await wh.query(sql, [], { signal });
      const row = res.rows[0];
      const first = res.fields[0]?.name;
      const observed = row && first !== undefined ? (row[first] ?? null) : null;
      const passed =
        c.expect !== undefined ? equals(observed, c.expect) : within(observed === null ? NaN : Number(observed), c.min, c.max);
      return {
        observed: observed instanceof Date ? observed.toISOString() : observed,
        expected,
        passed,
        details: { sql: preview(sql, 200) },
      };
    }
  }
}

/**
 * A `where` condition as written, refused when it holds more than one
 * statement: the condition is pasted into the check's SELECT, so a `;`
 * outside quotes would start a statement of its own.
 */
function oneCondition(where: string): string {
  const parts = splitStatements(where);
  if (parts.length !== 1) {
    throw new TaskFailure(
      `where must be one SQL condition, without ';' outside quotes; found ${parts.length} statements: ${preview(where, 120)}`,
    );
  }
  return parts[0]!;
}

function within(n: number, min: number | undefined, max: number | undefined): boolean {
  if (!Number.isFinite(n)) return false;
  return (min === undefined || n >= min) && (max === undefined || n <= max);
}

function equals(observed: unknown, expect: string | number | boolean | null): boolean {
  if (expect === null) return observed === null;
  if (observed === null || observed === undefined) return false;
  if (typeof expect === 'number') return Number(observed) === expect;
  if (typeof expect === 'boolean')
    return observed === expect || String(observed) === String(expect) || String(observed) === (expect ? 't' : 'f');
  return String(observed) === expect;
}
