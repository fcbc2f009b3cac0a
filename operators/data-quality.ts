import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { TaskFailure, errorMessage } from '../engine/errors.js';
import { defineOperator, identifier, quoteIdent, sqlTemplate } from '../engine/operator.js';
import { common, count, range, show, where, whereClause, within, type CheckEnv, type Outcome } from './data-quality/common.js';
import { describeExpression, expressionSchema, runExpression } from './data-quality/expression.js';
import { describeFreshness, freshnessSchema, runFreshness } from './data-quality/freshness.js';
import { describeRowCountChange, rowCountChangeSchema, runRowCountChange } from './data-quality/row-count-change.js';
import { describeSchema, runSchema, schemaCheckSchema } from './data-quality/schema.js';
import { columnList, preview } from './sql-support.js';

/**
 * Runs data quality checks on warehouse tables (like Airflow's common.sql
 * check operators and dbt's generic tests). Every check's observed value,
 * expectation and result is recorded; when a check of severity `error`
 * fails the task fails (and is retried), a failing `warn` check only logs.
 * Identifiers are validated and quoted; values are bound parameters. Each
 * check's duration is recorded; the engine stores every result as history
 * (row_count_change reads it back through TaskContext.history).
 * The newer check types live in operators/data-quality/.
 */

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
      where: where.optional(),
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
      tolerance: z
        .number()
        .min(0)
        .optional()
        .describe(
          "a relative tolerance, as Airflow's SQLValueCheckOperator: 0.1 lets a numeric expect be 10% off, and widens min/max by 10%",
        ),
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
      if (c.tolerance !== undefined && c.expect !== undefined && typeof c.expect !== 'number') {
        ctx.addIssue({ code: 'custom', path: ['tolerance'], message: 'tolerance applies to a numeric expect or to min/max' });
      }
      minNotAboveMax(c, ctx);
    }),
  freshnessSchema,
  rowCountChangeSchema,
  schemaCheckSchema,
  expressionSchema,
]);

type Check = z.output<typeof checkSchema>;

/** What one check found (its Outcome) with what it was; recorded as outputs.checks[i]. */
export interface CheckResult extends Outcome {
  name: string;
  type: Check['type'];
  severity: 'error' | 'warn';
  table?: string;
  /** How long the check took. */
  duration_ms: number;
}

export const DataQuality = defineOperator({
  name: 'DataQuality',
  description:
    'Runs data quality checks (row counts, not null, unique, accepted values, relationships, SQL, freshness, row count change, schema, expressions); fails on error-severity failures',
  params: z
    .object({
      checks: z
        .array(checkSchema)
        .min(1)
        .describe(
          'the checks, each with a type: row_count, not_null, unique, accepted_values, relationship, sql, freshness, row_count_change, schema or expression',
        )
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
      const env: CheckEnv = {
        wh,
        signal,
        name: base.name,
        dataIntervalEnd: ctx.dataIntervalEnd,
        now: () => new Date(),
        history: ctx.history,
        readSqlRef: (ref) => ctx.sql(ref, `checks[${i}].sql`),
      };
      const started = performance.now();
      let outcome: Outcome;
      try {
        outcome = await runCheck(check, env);
      } catch (err) {
        if (signal.aborted) throw err;
        outcome = { observed: null, expected: describeExpectation(check), passed: false, error: errorMessage(err) };
      }
      const result: CheckResult = { ...base, ...outcome, duration_ms: Number((performance.now() - started).toFixed(1)) };
      results.push(result);
      const line = {
        check: result.name,
        observed: result.observed,
        expected: result.expected,
        severity: result.severity,
        ...(result.message ? { note: result.message } : {}),
      };
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
    case 'freshness':
      return `freshness_${c.table}_${c.column}`;
    case 'row_count_change':
    case 'schema':
      return `${c.type}_${c.table}`;
    case 'expression':
      return `expression_${c.table}_${index + 1}`;
  }
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
    case 'sql': {
      const tol = c.tolerance ? ` ± ${Number((c.tolerance * 100).toFixed(4))}%` : '';
      return c.expect !== undefined ? `= ${show(c.expect)}${tol}` : `${range(c.min, c.max)}${tol}`;
    }
    case 'freshness':
      return describeFreshness(c);
    case 'row_count_change':
      return describeRowCountChange(c);
    case 'schema':
      return describeSchema(c);
    case 'expression':
      return describeExpression(c);
  }
}

async function runCheck(c: Check, env: CheckEnv): Promise<Outcome> {
  const { wh, signal, readSqlRef } = env;
  const expected = describeExpectation(c);
  const one = async (sql: string, params: unknown[] = []) =>
    (await wh.query<Record<string, unknown>>(sql, params, { signal })).rows[0] ?? {};
  switch (c.type) {
    case 'row_count': {
      const n = count((await one(`SELECT COUNT(*) AS n FROM ${quoteIdent(c.table)}${whereClause(c.where)}`)).n);
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
      const tol = c.tolerance ?? 0;
      const num = observed === null ? NaN : Number(observed);
      const passed =
        c.expect !== undefined
          ? typeof c.expect === 'number' && tol > 0
            ? Number.isFinite(num) && Math.abs(num - c.expect) <= tol * Math.abs(c.expect)
            : equals(observed, c.expect)
          : within(num, widen(c.min, -tol), widen(c.max, tol));
      return {
        observed: observed instanceof Date ? observed.toISOString() : observed,
        expected,
        passed,
        details: { sql: preview(sql, 200) },
      };
    }
    case 'freshness':
      return runFreshness(c, env);
    case 'row_count_change':
      return runRowCountChange(c, env);
    case 'schema':
      return runSchema(c, env);
    case 'expression':
      return runExpression(c, env);
  }
}

/** A bound moved outwards by a relative tolerance (min down, max up). */
function widen(bound: number | undefined, tol: number): number | undefined {
  return bound === undefined ? undefined : bound + tol * Math.abs(bound);
}

function equals(observed: unknown, expect: string | number | boolean | null): boolean {
  if (expect === null) return observed === null;
  if (observed === null || observed === undefined) return false;
  if (typeof expect === 'number') return Number(observed) === expect;
  if (typeof expect === 'boolean')
    return observed === expect || String(observed) === String(expect) || String(observed) === (expect ? 't' : 'f');
  return String(observed) === expect;
}
