/**
 * Importing a whole history into an empty PostgreSQL state (`sluice state
 * migrate`): every table's rows as another store wrote them, in one
 * transaction, with their ids kept (identity columns are written with
 * OVERRIDING SYSTEM VALUE, then their sequences moved past the highest id),
 * so tries, log lines, outputs, rejected lines and quality history keep
 * pointing at each other.
 */
import { UsageError } from '../../errors.js';
import type { Db } from './db.js';
import type { Q } from './rows.js';
import type { ImportReport, TableRows } from '../index.js';

export type { ImportReport, TableRows };

/** The tables a history is made of, parents first (the order rows are inserted in). */
export const HISTORY_TABLES = [
  'dag_runs',
  'task_instances',
  'task_tries',
  'task_outputs',
  'log_lines',
  'load_rejections',
  'check_results',
  'table_counts',
  'connections',
  'dag_state',
  'pools',
] as const;

/** Tables whose rows the target may already have (kept as they are there, the copied one skipped). */
const KEEP_TARGET = new Set(['connections', 'dag_state', 'pools']);

const BATCH = 500;

interface Column {
  name: string;
  type: string;
  identity: boolean;
}

async function columnsOf(q: Q, schema: string, table: string): Promise<Column[]> {
  const rows = await q<{ column_name: string; type: string; is_identity: string }>(
    `SELECT column_name, format_type(a.atttypid, a.atttypmod) AS type, c.is_identity
     FROM information_schema.columns c
     JOIN pg_attribute a ON a.attrelid = format('%I.%I', c.table_schema, c.table_name)::regclass AND a.attname = c.column_name
     WHERE c.table_schema = $1 AND c.table_name = $2 ORDER BY c.ordinal_position`,
    [schema, table],
  );
  return rows.map((r) => ({ name: r.column_name, type: r.type, identity: r.is_identity === 'YES' }));
}

/** A value as the text PostgreSQL's input function of the column's type reads. */
function asText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

/**
 * Inserts the tables' rows in one transaction. Refuses (changing nothing)
 * when the target already has runs: a history is moved once, into a new state.
 */
export async function importHistory(db: Db, schema: string, location: string, tables: TableRows[]): Promise<ImportReport> {
  return db.tx(async (q) => {
    // No scheduler may create a run between the check and the copy.
    await q('LOCK TABLE dag_runs IN EXCLUSIVE MODE');
    const [has] = await q<{ n: string }>('SELECT count(*) AS n FROM dag_runs');
    if (Number(has!.n) > 0) {
      throw new UsageError(
        `the state on ${location} already has ${has!.n} run(s); a history is migrated into a new, empty state only ` +
          '(point state: or SLUICE_STATE at a new database or ?schema=NAME, or drop the runs there first)',
      );
    }
    const report: ImportReport = { copied: {}, skipped: {} };
    const byName = new Map(tables.map((t) => [t.table, t.rows]));
    for (const table of HISTORY_TABLES) {
      const rows = byName.get(table) ?? [];
      report.copied[table] = 0;
      if (rows.length === 0) continue;
      const target = await columnsOf(q, schema, table);
      const present = new Set(Object.keys(rows[0]!));
      const cols = target.filter((c) => present.has(c.name));
      const overriding = cols.some((c) => c.identity) ? 'OVERRIDING SYSTEM VALUE' : '';
      const conflict = KEEP_TARGET.has(table) ? 'ON CONFLICT DO NOTHING' : '';
      const list = cols.map((c) => `"${c.name}"`).join(', ');
      const defs = cols.map((c) => `"${c.name}" text`).join(', ');
      const casts = cols.map((c) => `x."${c.name}"::${c.type}`).join(', ');
      for (let i = 0; i < rows.length; i += BATCH) {
        const batch = rows.slice(i, i + BATCH).map((r) => Object.fromEntries(cols.map((c) => [c.name, asText(r[c.name])])));
        const inserted = await q(
          `INSERT INTO ${table} (${list}) ${overriding}
           SELECT ${casts} FROM ROWS FROM (json_to_recordset($1::json) AS (${defs})) WITH ORDINALITY AS x (${list}, n)
           ORDER BY x.n
           ${conflict} RETURNING 1 AS one`,
          [JSON.stringify(batch)],
        );
        report.copied[table] += inserted.length;
        if (inserted.length < batch.length) report.skipped[table] = (report.skipped[table] ?? 0) + batch.length - inserted.length;
      }
      // The next id the target hands out comes after every copied one.
      for (const c of target.filter((t) => t.identity && present.has(t.name))) {
        await q(
          `SELECT setval(pg_get_serial_sequence($1, $2), coalesce((SELECT max("${c.name}") FROM ${table}), 0) + 1, false)`,
          [table, c.name],
        );
      }
    }
    return report;
  });
}
