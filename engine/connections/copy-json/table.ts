/**
 * Reading a target table's shape for the local JSON loaders.
 */
import { LoadError } from '../../errors.js';
import type { QueryResult } from '../../interfaces.js';
import { quoteIdent } from '../../operator.js';
import { columnKind, type ColumnInfo } from './convert.js';

/** Runs one parameterised statement (a session's query, bound to its connection). */
export type RunQuery = <T = Record<string, unknown>>(sql: string, params?: unknown[]) => Promise<QueryResult<T>>;

const DESCRIBE_TABLE_SQL = `
SELECT c.column_name, c.data_type, c.is_nullable, c.character_maximum_length,
       c.numeric_precision, c.numeric_scale
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
