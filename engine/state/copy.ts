/**
 * Moving a history from the embedded SQLite state to a PostgreSQL state
 * (`sluice state migrate`, or `state export` then `state import` on another
 * host): runs, task instances, tries, log lines, outputs,
 * rejected load lines, recorded connections, paused DAGs and data quality
 * history, with their ids kept.
 *
 * The SQLite file is first opened as a state store (its schema checked and
 * brought to this Sluice's version, with the usual backup), then read table
 * by table: the state interfaces answer per run or per try, and a copy wants
 * every row as written (JSON text with every digit, ids, times to the
 * millisecond). The PostgreSQL side takes them in one transaction
 * (postgres/import.ts); reading both back through the interfaces gives equal
 * records (test/integration/state/state-migrate.test.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { StateDbError, UsageError } from '../errors.js';
import type { ImportReport, StateStore, TableRows } from './index.js';
import { HISTORY_TABLES } from './postgres/import.js';
import { SqliteStateStore } from './sqlite/index.js';

export type { ImportReport };

/** Every history table of a SQLite state file, rows in the order they were written. */
export async function readSqliteHistory(file: string): Promise<TableRows[]> {
  if (!fs.existsSync(file)) {
    throw new StateDbError(`no SQLite state at ${file}: give the file to copy with --from-sqlite FILE`, file);
  }
  // Opening it as a store checks it and applies pending migrations (after a backup), so its tables are this Sluice's.
  await new SqliteStateStore(file).close();
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    // One read transaction: a scheduler still writing to the file cannot make the copy half of two moments.
    return db.transaction(() =>
      HISTORY_TABLES.map((table) => {
        const order = table === 'task_instances' ? 'rowid' : '1';
        return { table, rows: db.prepare(`SELECT * FROM ${table} ORDER BY ${order}`).all() as Record<string, unknown>[] };
      }),
    )();
  } finally {
    db.close();
  }
}

/** A state that takes a whole history (PostgreSQL): where `state migrate` and `state import` copy to. */
export type HistoryTarget = StateStore & Required<Pick<StateStore, 'importHistory'>>;

/** Copies the SQLite history at `file` into `target` (which must have no runs yet). */
export async function migrateSqliteToPostgres(file: string, target: HistoryTarget): Promise<ImportReport> {
  return target.importHistory(await readSqliteHistory(file));
}

/**
 * The first line of an export file: what it is and which tables it holds.
 * Each next line is one row: `{"table": NAME, "row": {column: value}}`, in
 * the order they are inserted (parents first), values as SQLite holds them.
 */
interface ExportHeader {
  sluice_state_export: 1;
  tables: Record<string, number>;
}

/**
 * Writes the SQLite history at `file` to `out` as JSON lines (`sluice state
 * export`), for a host that cannot reach the PostgreSQL state: copy the file
 * there and `sluice state import` it. Written to a temporary file beside
 * `out` and renamed: never half a file. Returns the rows per table.
 */
export async function exportSqliteHistory(file: string, out: string): Promise<Record<string, number>> {
  const tables = await readSqliteHistory(file);
  const header: ExportHeader = {
    sluice_state_export: 1,
    tables: Object.fromEntries(tables.map((t) => [t.table, t.rows.length])),
  };
  const tmp = path.join(path.dirname(out), `.${path.basename(out)}.${process.pid}.tmp`);
  const fd = fs.openSync(tmp, 'wx');
  try {
    fs.writeSync(fd, JSON.stringify(header) + '\n');
    for (const t of tables) for (const row of t.rows) fs.writeSync(fd, JSON.stringify({ table: t.table, row }) + '\n');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, out);
  } catch (err) {
    try {
      fs.closeSync(fd);
    } catch {
      // closed already
    }
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  return header.tables;
}

/**
 * Reads an export file (`sluice state import`), checking every line before
 * anything is written: a bad line is reported with its number, and the
 * row counts must match the header (a truncated copy is refused).
 */
export function readExport(file: string): TableRows[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const bad = (n: number, why: string) =>
    new UsageError(`${file}:${n}: ${why} (a file written by sluice state export is expected)`);
  let header: ExportHeader;
  try {
    header = JSON.parse(lines[0] ?? '') as ExportHeader;
  } catch {
    throw bad(1, 'not a Sluice state export: its first line is not JSON');
  }
  if (header?.sluice_state_export !== 1 || typeof header.tables !== 'object' || header.tables === null)
    throw bad(1, 'not a Sluice state export (version 1): no sluice_state_export header');
  const known = new Set<string>(HISTORY_TABLES);
  const rows = new Map<string, Record<string, unknown>[]>(HISTORY_TABLES.map((t) => [t, []]));
  for (let i = 1; i < lines.length; i++) {
    let item: { table?: unknown; row?: unknown };
    try {
      item = JSON.parse(lines[i]!) as typeof item;
    } catch {
      throw bad(i + 1, 'not JSON');
    }
    if (typeof item?.table !== 'string' || !known.has(item.table))
      throw bad(i + 1, `unknown table ${JSON.stringify(item?.table)}`);
    if (typeof item.row !== 'object' || item.row === null || Array.isArray(item.row)) throw bad(i + 1, 'no row object');
    rows.get(item.table)!.push(item.row as Record<string, unknown>);
  }
  for (const [table, n] of Object.entries(header.tables)) {
    const got = rows.get(table)?.length ?? 0;
    if (got !== n)
      throw bad(lines.length, `the header says ${n} row(s) of ${table}, the file has ${got}: it is cut short or edited`);
  }
  return HISTORY_TABLES.map((table) => ({ table, rows: rows.get(table)! }));
}
