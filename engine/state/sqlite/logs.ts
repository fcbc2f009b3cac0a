/** Log lines and rejected load lines of tries in SQLite (tables log_lines, load_rejections). */
import type { Rejection } from '../../interfaces.js';
import type { LogLine, LogRange, LogStore, NewLogLine, StoredRejection, TryLogLine } from '../index.js';
import { iso, toLogLine, type LogLineRow, type Statements } from './rows.js';

export class SqliteLogStore implements LogStore {
  constructor(private readonly q: Statements) {}

  async append(tryId: number, line: NewLogLine): Promise<void> {
    this.q
      .get('INSERT INTO log_lines (try_id, ts, level, msg, data) VALUES (?, ?, ?, ?, ?)')
      .run(tryId, iso(line.ts), line.level, line.msg, line.data === null ? null : JSON.stringify(line.data));
  }

  /** One transaction for the whole batch, rows inserted in the order given. */
  async appendMany(lines: TryLogLine[]): Promise<void> {
    const insert = this.q.get('INSERT INTO log_lines (try_id, ts, level, msg, data) VALUES (?, ?, ?, ?, ?)');
    this.q.tx(() => {
      for (const { tryId, line } of lines) {
        insert.run(tryId, iso(line.ts), line.level, line.msg, line.data === null ? null : JSON.stringify(line.data));
      }
    });
  }

  async list(tryId: number, range?: LogRange): Promise<LogLine[]> {
    const rows = range
      ? this.q.get('SELECT * FROM log_lines WHERE try_id = ? ORDER BY id LIMIT ? OFFSET ?').all(tryId, range.limit, range.offset)
      : this.q.get('SELECT * FROM log_lines WHERE try_id = ? ORDER BY id').all(tryId);
    return (rows as LogLineRow[]).map(toLogLine);
  }

  async count(tryId: number): Promise<number> {
    return (this.q.get('SELECT count(*) AS n FROM log_lines WHERE try_id = ?').get(tryId) as { n: number }).n;
  }

  async recordRejections(tryId: number, table: string, rejections: Rejection[]): Promise<void> {
    const insert = this.q.get(
      `INSERT INTO load_rejections (try_id, table_name, object, line, column_name, value, reason)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    this.q.tx(() => {
      for (const r of rejections) insert.run(tryId, table, r.object, r.line, r.column, r.value, r.reason);
    });
  }

  async rejections(tryId: number): Promise<StoredRejection[]> {
    return this.q
      .get(
        `SELECT table_name AS "table", object, line, column_name AS "column", value, reason
         FROM load_rejections WHERE try_id = ? ORDER BY id`,
      )
      .all(tryId) as StoredRejection[];
  }
}
