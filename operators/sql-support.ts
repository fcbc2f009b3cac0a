/**
 * Small SQL helpers shared by the warehouse operators (no operator here):
 * splitting a script into statements, wrapping a
 * SELECT, and binding timestamps. Dialect-free: everything here is valid on
 * PostgreSQL and Redshift alike.
 */
import type { WarehouseSession } from '../engine/interfaces.js';
import { TaskFailure } from '../engine/errors.js';

/**
 * Splits a script into statements at top-level semicolons. Quotes ('...',
 * "..."), dollar quotes ($tag$...$tag$) and comments (--, nested /* *\/)
 * are respected; statements holding only comments and whitespace are dropped.
 */
export function splitStatements(script: string): string[] {
  const out: string[] = [];
  let start = 0;
  let i = 0;
  let meaningful = false;
  const n = script.length;
  const push = (end: number) => {
    const text = script.slice(start, end).trim();
    if (meaningful && text) out.push(text);
    meaningful = false;
  };
  while (i < n) {
    const c = script[i]!;
    const next = script[i + 1];
    if (c === '-' && next === '-') {
      const nl = script.indexOf('\n', i);
      i = nl < 0 ? n : nl + 1;
    } else if (c === '/' && next === '*') {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (script[i] === '/' && script[i + 1] === '*') {
          depth++;
          i += 2;
        } else if (script[i] === '*' && script[i + 1] === '/') {
          depth--;
          i += 2;
        } else i++;
      }
    } else if (c === "'" || c === '"') {
      meaningful = true;
      i++;
      while (i < n) {
        if (script[i] === c) {
          if (script[i + 1] === c)
            i += 2; // doubled quote
          else break;
        } else i++;
      }
      i++;
    } else if (c === '$' && /^\$[A-Za-z_]*\$/.test(script.slice(i, i + 64)) && !/[A-Za-z0-9_]/.test(script[i - 1] ?? '')) {
      meaningful = true;
      const tag = /^\$[A-Za-z_]*\$/.exec(script.slice(i, i + 64))![0];
      const end = script.indexOf(tag, i + tag.length);
      i = end < 0 ? n : end + tag.length;
    } else if (c === ';') {
      push(i);
      i++;
      start = i;
    } else {
      if (!/\s/.test(c)) meaningful = true;
      i++;
    }
  }
  push(n);
  return out;
}

/**
 * A SELECT made ready to be used as a subquery: a trailing semicolon is
 * removed. More than one statement is an error naming the task field.
 */
export function asSubquery(select: string, field: string): string {
  const statements = splitStatements(select);
  if (statements.length !== 1) {
    throw new TaskFailure(`${field} must hold exactly one SELECT statement, found ${statements.length}`);
  }
  return statements[0]!;
}

/** `(\n<select>\n) AS alias`: the newlines keep a trailing `-- comment` from swallowing the parenthesis. */
export function fromSubquery(select: string, alias = 'sluice_src'): string {
  return `(\n${select}\n) AS ${alias}`;
}

/** The column names a SELECT produces (runs it with a false predicate). */
export async function selectColumns(tx: WarehouseSession, select: string, signal: AbortSignal): Promise<string[]> {
  const res = await tx.query(`SELECT * FROM ${fromSubquery(select)} WHERE 1 = 0`, [], { signal });
  const names = res.fields.map((f) => f.name);
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) throw new TaskFailure(`the SELECT returns the column ${name} twice; give each column its own name`);
    seen.add(name);
  }
  if (names.length === 0) throw new TaskFailure('the SELECT returns no columns');
  return names;
}

/** A quoted column list: "a", "b". */
export function columnList(columns: readonly string[]): string {
  return columns.map(quoteColumn).join(', ');
}

/** Quotes one column name as the database returned it (a dot is part of the name, not a schema). */
export function quoteColumn(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * A Date as a `timestamp` parameter value in UTC (`2018-11-21 00:00:00.000`).
 * Binding a JS Date would let the driver convert it to the local time zone.
 */
export function timestampParam(d: Date): string {
  return d.toISOString().replace('T', ' ').replace('Z', '');
}

/** A short one-line form of a statement for outputs and logs. */
export function preview(statement: string, max = 80): string {
  const one = statement
    .replace(/^(\s*--[^\n]*\n)+/, '')
    .replace(/\s+/g, ' ')
    .trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}
