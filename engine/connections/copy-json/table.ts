/**
 * Reading a target table's shape for the local JSON loaders.
 */
import { LoadError } from '../../errors.js';
import type { QueryResult } from '../../interfaces.js';
import { quoteIdent } from '../../operator.js';
import { columnKind, type ColumnInfo } from './convert.js';

/** Runs one parameterised statement (a session's query, bound to its connection). */
export type RunQuery = <T = Record<string, unknown>>(sql: string, params?: unknown[]) => Promise<QueryResult<T>>;

/**
 * The rows information_schema.columns gives for one table, read from
 * pg_catalog directly: information_schema.columns is a view over every
 * column of every relation, which PostgreSQL plans and filters as a whole
 * (26-160 ms per load on PGlite, the largest cost of loading a small day),
 * where this looks up the one relation by oid (a few ms). The expressions are
 * the view's own (PostgreSQL's information_schema.sql, 15 to 17: data_type, the
 * _pg_char_max_length / _pg_numeric_* helpers on the true type and typmod,
 * is_nullable, the privilege test, the relation kinds, generated and
 * identity-always columns left out), so the rows are the same.
 * ALL_INFORMATION_SCHEMA_SQL (tests) reads the view itself, to check that.
 */
export const DESCRIBE_TABLE_SQL = `
SELECT a.attname::text AS column_name,
       CASE WHEN t.typtype = 'd' THEN
              CASE WHEN bt.typelem <> 0 AND bt.typlen = -1 THEN 'ARRAY'
                   WHEN nbt.nspname = 'pg_catalog' THEN format_type(t.typbasetype, null)
                   ELSE 'USER-DEFINED' END
            ELSE
              CASE WHEN t.typelem <> 0 AND t.typlen = -1 THEN 'ARRAY'
                   WHEN nt.nspname = 'pg_catalog' THEN format_type(a.atttypid, null)
                   ELSE 'USER-DEFINED' END
       END AS data_type,
       CASE WHEN a.attnotnull OR (t.typtype = 'd' AND t.typnotnull) THEN 'NO' ELSE 'YES' END AS is_nullable,
       information_schema._pg_char_max_length(information_schema._pg_truetypid(a, t),
                                              information_schema._pg_truetypmod(a, t)) AS character_maximum_length,
       information_schema._pg_numeric_precision(information_schema._pg_truetypid(a, t),
                                                information_schema._pg_truetypmod(a, t)) AS numeric_precision,
       information_schema._pg_numeric_scale(information_schema._pg_truetypid(a, t),
                                            information_schema._pg_truetypmod(a, t)) AS numeric_scale
  FROM pg_catalog.pg_attribute a
  JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
  JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
  JOIN pg_catalog.pg_namespace nt ON nt.oid = t.typnamespace
  LEFT JOIN (pg_catalog.pg_type bt JOIN pg_catalog.pg_namespace nbt ON nbt.oid = bt.typnamespace)
         ON t.typtype = 'd' AND t.typbasetype = bt.oid
 WHERE a.attrelid = to_regclass($1)
   AND a.attnum > 0 AND NOT a.attisdropped
   AND c.relkind IN ('r', 'v', 'f', 'p')
   AND NOT pg_is_other_temp_schema(c.relnamespace)
   AND (pg_has_role(c.relowner, 'USAGE') OR has_column_privilege(c.oid, a.attnum, 'SELECT, INSERT, UPDATE, REFERENCES'))
   AND a.attgenerated = ''
   AND a.attidentity <> 'a'
 ORDER BY a.attnum`;

/** The same rows from information_schema.columns (the definition DESCRIBE_TABLE_SQL follows; tests compare the two). */
export const ALL_INFORMATION_SCHEMA_SQL = `
SELECT c.column_name::text AS column_name, c.data_type::text AS data_type, c.is_nullable::text AS is_nullable,
       c.character_maximum_length, c.numeric_precision, c.numeric_scale
  FROM pg_catalog.pg_class r
  JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace
  JOIN information_schema.columns c ON c.table_schema = n.nspname AND c.table_name = r.relname
 WHERE r.oid = to_regclass($1)
   AND c.is_generated <> 'ALWAYS'
   AND coalesce(c.identity_generation, '') <> 'ALWAYS'
 ORDER BY c.ordinal_position`;

interface DescribeRow {
  column_name: string;
  data_type: string;
  is_nullable: string;
  character_maximum_length: number | string | null;
  numeric_precision: number | string | null;
  numeric_scale: number | string | null;
}

const num = (v: number | string | null) => (v === null ? null : Number(v));

/**
 * The loadable columns of a table, in table order (generated and
 * identity-always columns are left out). A missing table is a LoadError.
 */
export async function describeTable(query: RunQuery, table: string): Promise<ColumnInfo[]> {
  const res = await query<DescribeRow>(DESCRIBE_TABLE_SQL, [quoteIdent(table)]);
  if (res.rows.length === 0) {
    throw new LoadError(`table ${table} does not exist (create it before loading)`);
  }
  return res.rows.map((r) => {
    const kind = columnKind(r.data_type);
    return {
      name: r.column_name,
      dataType: r.data_type,
      kind,
      nullable: r.is_nullable === 'YES',
      maxLength: num(r.character_maximum_length),
      precision: kind === 'numeric' ? num(r.numeric_precision) : null,
      scale: kind === 'numeric' ? num(r.numeric_scale) : null,
    };
  });
}

/** The COPY column list, quoted: ("a", "b", ...). */
export function columnList(columns: readonly ColumnInfo[]): string {
  return `(${columns.map((c) => `"${c.name.replace(/"/g, '""')}"`).join(', ')})`;
}
