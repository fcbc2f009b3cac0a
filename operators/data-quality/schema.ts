/**
 * schema: the table has the expected columns with the expected types (and,
 * with `no_other_columns`, no others). It reads information_schema.columns,
 * which PostgreSQL, PGlite and Redshift all have, in the table's schema (the
 * one named in `schema.table`, else current_schema()). Type names are
 * compared by meaning: `int4`, `int` and `integer` are one type; a length or
 * precision is compared only when the expectation gives one (`varchar(256)`).
 */
import { z } from 'zod';
import { identifier } from '../../engine/operator.js';
import { common, type CheckEnv, type Outcome } from './common.js';

const column = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'must be a column name (letters, digits and _)' });

export const schemaCheckSchema = z
  .object({
    type: z.literal('schema').describe('the table has these columns with these types; reports drift'),
    table: identifier.describe('table to check, e.g. songplays (or schema.table)'),
    columns: z
      .record(
        column,
        z
          .string()
          .regex(/^[A-Za-z][A-Za-z0-9 _]*(\(\s*\d+\s*(,\s*\d+\s*)?\))?$/, {
            message: 'must be a type name, e.g. integer or varchar(256)',
          })
          .nullable(),
      )
      .refine((r) => Object.keys(r).length > 0, { message: 'give at least one column' })
      .describe('expected columns and their types, e.g. { user_id: integer, level: varchar(10) }; null: any type'),
    no_other_columns: z.boolean().default(false).describe('the table may have no column besides these'),
    ...common,
  })
  .strict();

export type SchemaCheck = z.output<typeof schemaCheckSchema>;

export function describeSchema(c: SchemaCheck): string {
  const cols = Object.entries(c.columns).map(([n, t]) => (t === null ? n : `${n} ${t}`));
  return `columns ${cols.join(', ')}${c.no_other_columns ? ' and no other' : ''}`;
}

const ALIASES: Record<string, string> = {
  int: 'integer',
  int4: 'integer',
  integer: 'integer',
  int8: 'bigint',
  bigint: 'bigint',
  int2: 'smallint',
  smallint: 'smallint',
  varchar: 'varchar',
  'character varying': 'varchar',
  char: 'char',
  character: 'char',
  bpchar: 'char',
  nchar: 'char',
  nvarchar: 'varchar',
  text: 'text',
  timestamp: 'timestamp',
  'timestamp without time zone': 'timestamp',
  timestamptz: 'timestamptz',
  'timestamp with time zone': 'timestamptz',
  float: 'double precision',
  float8: 'double precision',
  'double precision': 'double precision',
  float4: 'real',
  real: 'real',
  numeric: 'numeric',
  decimal: 'numeric',
  bool: 'boolean',
  boolean: 'boolean',
  date: 'date',
  time: 'time',
  'time without time zone': 'time',
};

interface TypeName {
  base: string;
  args: number[];
}

/** `VARCHAR ( 256 )` -> { base: 'varchar', args: [256] }. */
export function parseType(t: string): TypeName {
  const m = /^([^(]+?)\s*(?:\(([^)]*)\))?$/.exec(t.trim().toLowerCase().replace(/\s+/g, ' '))!;
  const name = m[1]!.trim();
  return { base: ALIASES[name] ?? name, args: m[2] ? m[2].split(',').map((x) => Number(x.trim())) : [] };
}

interface ColumnRow {
  column_name: string;
  data_type: string;
  character_maximum_length: unknown;
  numeric_precision: unknown;
  numeric_scale: unknown;
}

/** A column's type as information_schema describes it, with the length or precision it has. */
function foundType(r: ColumnRow): TypeName {
  const base = parseType(r.data_type).base;
  if ((base === 'varchar' || base === 'char') && r.character_maximum_length !== null) {
    return { base, args: [Number(r.character_maximum_length)] };
  }
  if (base === 'numeric' && r.numeric_precision !== null) {
    return { base, args: [Number(r.numeric_precision), Number(r.numeric_scale ?? 0)] };
  }
  return { base, args: [] };
}

const render = (t: TypeName) => (t.args.length ? `${t.base}(${t.args.join(',')})` : t.base);

function matches(expected: TypeName, found: TypeName): boolean {
  if (expected.base !== found.base) return false;
  // numeric(18) means numeric(18,0)
  const args = expected.base === 'numeric' && expected.args.length === 1 ? [expected.args[0]!, 0] : expected.args;
  return args.every((a, i) => found.args[i] === a);
}

export async function runSchema(c: SchemaCheck, env: CheckEnv): Promise<Outcome> {
  const expected = describeSchema(c);
  const [schema, table] = c.table.includes('.') ? (c.table.split('.') as [string, string]) : [null, c.table];
  const res = await env.wh.query<ColumnRow>(
    `SELECT column_name, data_type, character_maximum_length, numeric_precision, numeric_scale
     FROM information_schema.columns
     WHERE table_name = $1 AND table_schema = ${schema === null ? 'current_schema()' : '$2'}
     ORDER BY ordinal_position`,
    schema === null ? [table] : [table, schema],
    { signal: env.signal },
  );
  const found = new Map(res.rows.map((r) => [r.column_name, r]));
  const drift: { column: string; problem: 'missing' | 'type' | 'unexpected'; expected: string | null; found: string | null }[] =
    [];
  for (const [name, type] of Object.entries(c.columns)) {
    const row = found.get(name);
    if (!row) {
      drift.push({ column: name, problem: 'missing', expected: type, found: null });
      continue;
    }
    const actual = foundType(row);
    if (type !== null && !matches(parseType(type), actual)) {
      drift.push({ column: name, problem: 'type', expected: render(parseType(type)), found: render(actual) });
    }
  }
  if (c.no_other_columns) {
    for (const row of res.rows) {
      if (!(row.column_name in c.columns)) {
        drift.push({ column: row.column_name, problem: 'unexpected', expected: null, found: render(foundType(row)) });
      }
    }
  }
  const words = drift.map((d) =>
    d.problem === 'missing'
      ? `${d.column} is missing`
      : d.problem === 'type'
        ? `${d.column} is ${d.found}, expected ${d.expected}`
        : `${d.column} (${d.found}) is not expected`,
  );
  const where = schema === null ? 'the current schema' : `schema ${schema}`;
  return {
    observed: drift.length,
    expected,
    passed: drift.length === 0,
    ...(drift.length > 0 ? { sample: drift.slice(0, 20) } : {}),
    ...(res.rows.length === 0
      ? { message: `table ${c.table} not found in ${where}` }
      : drift.length > 0
        ? { message: `schema drift: ${words.join('; ')}` }
        : {}),
  };
}
