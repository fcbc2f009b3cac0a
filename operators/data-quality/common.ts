/**
 * What every DataQuality check shares: the name and severity parameters,
 * the shape of an outcome, and small helpers (bounds, a single `where`
 * condition, values shown in messages).
 */
import { z } from 'zod';
import { TaskFailure } from '../../engine/errors.js';
import type { QualityHistory, Warehouse } from '../../engine/interfaces.js';
import { preview, splitStatements } from '../sql-support.js';

export const common = {
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

export const where = z
  .string()
  .min(1)
  .describe(
    'only the rows matching this SQL condition (a Liquid template), e.g. start_time >= {{ data_interval_start | sql_literal }} AND start_time < {{ data_interval_end | sql_literal }}',
  );

/** What a check found (its name, type, severity and table are added by the operator). */
export interface Outcome {
  observed: unknown;
  expected: string;
  passed: boolean;
  details?: Record<string, unknown>;
  /** Up to 5 offending rows. */
  sample?: Record<string, unknown>[];
  /** A note (e.g. too little history yet), or what drifted. */
  message?: string;
  error?: string;
}

/** What a check may use besides its parameters. */
export interface CheckEnv {
  wh: Warehouse;
  signal: AbortSignal;
  /** The check's name (history is kept per name). */
  name: string;
  dataIntervalEnd: Date;
  /** The run's clock (relative_to: now). */
  now: () => Date;
  history?: QualityHistory;
  /** Reads a `sql` field: a .sql file rendered, or inline SQL. */
  readSqlRef: (ref: string) => Promise<string>;
}

export function show(v: unknown): string {
  return typeof v === 'string' ? `'${v}'` : v instanceof Date ? v.toISOString() : JSON.stringify(v);
}

/** A count from the database (int8 may come back as a string) as a number. */
export function count(v: unknown): number {
  return v === null || v === undefined ? 0 : Number(v);
}

export function within(n: number, min: number | undefined, max: number | undefined): boolean {
  if (!Number.isFinite(n)) return false;
  return (min === undefined || n >= min) && (max === undefined || n <= max);
}

export function range(min: number | undefined, max: number | undefined): string {
  if (min !== undefined && max !== undefined) return `between ${min} and ${max}`;
  if (min !== undefined) return `>= ${min}`;
  return `<= ${max}`;
}

/**
 * A condition as written, refused when it holds more than one statement:
 * the condition is pasted into the check's SELECT, so a `;` outside quotes
 * would start a statement of its own.
 */
export function oneCondition(condition: string, field = 'where'): string {
  const parts = splitStatements(condition);
  if (parts.length !== 1) {
    throw new TaskFailure(
      `${field} must be one SQL condition, without ';' outside quotes; found ${parts.length} statements: ${preview(condition, 120)}`,
    );
  }
  return parts[0]!;
}

/** ` WHERE (<condition>)`, or nothing. */
export function whereClause(condition: string | undefined): string {
  return condition === undefined ? '' : ` WHERE (\n${oneCondition(condition)}\n)`;
}

/** Rows as JSON-safe values for outputs (Dates as ISO text, bigints as strings). */
export function plainRows(rows: Record<string, unknown>[]): Record<string, unknown>[] {
  return rows.map((r) =>
    Object.fromEntries(
      Object.entries(r).map(([k, v]) => [k, v instanceof Date ? v.toISOString() : typeof v === 'bigint' ? v.toString() : v]),
    ),
  );
}
