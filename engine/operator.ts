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
  execute: OperatorDef<S>['execute'];
}): OperatorDef<S> {
  return { templated: [], ...def };
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
