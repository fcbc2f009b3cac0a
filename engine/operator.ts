/**
 * What operator files build on: defineOperator and shared parameter schemas.
 */
import { z } from 'zod';
import { parseDuration } from './duration.js';
import type { OperatorDef } from './interfaces.js';

export function defineOperator<S extends z.ZodType>(def: {
  name: string;
  description: string;
  params: S;
  templated?: readonly string[];
  /** The parameter that names the task's warehouse connection (see OperatorDef.connectionParam). */
  connectionParam?: keyof z.output<S> & string;
  execute: OperatorDef<S>['execute'];
}): OperatorDef<S> {
  return Object.defineProperty({ templated: [], ...def }, OPERATOR_BRAND, { value: true });
}

/** Marks what defineOperator made (Symbol.for: a plugin built against another copy of Sluice is recognised too). */
const OPERATOR_BRAND = Symbol.for('sluice.operator');

/** True for an operator definition made with defineOperator. */
export function isOperatorDef(v: unknown): v is OperatorDef {
  return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[OPERATOR_BRAND] === true;
}

/** A SQL identifier, optionally schema-qualified (letters, digits, underscore). */
export const identifier = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/, {
  message: 'must be a SQL identifier (letters, digits and _; optionally schema.name)',
});

const DURATION_FORMS = 'a duration: a number of seconds (90) or 500ms, 90s, 5m, 1h30m, 2d';

/**
 * A duration (`30m`, `90s`, `1h30m`, or a number of seconds), parsed to
 * milliseconds. The one duration schema: DAG task keys (retry_delay,
 * execution_timeout, ...), operator parameters and the config file all use it,
 * so all accept the same forms and say the same thing about a bad one.
 */
export const duration = z
  .union([z.string(), z.number()], { error: `must be ${DURATION_FORMS}` })
  .transform((v, ctx) => {
    try {
      return parseDuration(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
      return z.NEVER;
    }
  })
  .describe(DURATION_FORMS);

/** A SQL file under the project (ending in .sql) or inline SQL; rendered as a template. */
export const sqlTemplate = z.string().min(1, { message: 'must not be empty' });

/** Quotes a validated identifier (schema.name keeps its dot). */
export function quoteIdent(name: string): string {
  return name
    .split('.')
    .map((part) => `"${part.replace(/"/g, '""')}"`)
    .join('.');
}
