/**
 * Moving a history from the embedded SQLite state to a PostgreSQL state
 * (`sluice state migrate`): runs, task instances, tries, log lines, outputs,
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
import Database from 'better-sqlite3';
import { StateDbError } from '../errors.js';
import { HISTORY_TABLES, type ImportReport, type TableRows } from './postgres/import.js';
import type { PostgresStateStore } from './postgres/index.js';
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

/** Copies the SQLite history at `file` into `target` (which must have no runs yet). */
export async function migrateSqliteToPostgres(file: string, target: PostgresStateStore): Promise<ImportReport> {
  return target.importHistory(await readSqliteHistory(file));
}
