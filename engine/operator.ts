/**
 * What operator files build on: defineOperator and shared parameter schemas.
 */
import { z } from 'zod';
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
export const identifier = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/, {
    message: 'must be a SQL identifier (letters, digits and _; optionally schema.name)',
  });

/** A SQL file under the project (ending in .sql) or inline SQL; rendered as a template. */
export const sqlTemplate = z.string().min(1, { message: 'must not be empty' });

/** Quotes a validated identifier (schema.name keeps its dot). */
export function quoteIdent(name: string): string {
  return name
    .split('.')
    .map((part) => `"${part.replace(/"/g, '""')}"`)
    .join('.');
}
