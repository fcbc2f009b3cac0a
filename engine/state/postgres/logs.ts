/** Log lines and rejected load lines of tries in PostgreSQL (tables log_lines, load_rejections). */
import type { Rejection } from '../../interfaces.js';
import type { LogLine, LogRange, LogStore, NewLogLine, StoredRejection } from '../index.js';
import type { Db } from './db.js';
import { json, toLogLine } from './rows.js';

export class PostgresLogStore implements LogStore {
  constructor(private readonly db: Db) {}

  async append(tryId: number, line: NewLogLine): Promise<void> {
    await this.db.q('INSERT INTO log_lines (try_id, ts, level, msg, data) VALUES ($1, $2, $3, $4, $5)', [
      tryId,
      line.ts,
      line.level,
      line.msg,
      line.data === null ? null : json(line.data),
    ]);
  }

  async list(tryId: number, range?: LogRange): Promise<LogLine[]> {
    const rows = range
      ? await this.db.q<Parameters<typeof toLogLine>[0]>(
          'SELECT * FROM log_lines WHERE try_id = $1 ORDER BY id LIMIT $2 OFFSET $3',
          [tryId, range.limit, range.offset],
        )
      : await this.db.q<Parameters<typeof toLogLine>[0]>('SELECT * FROM log_lines WHERE try_id = $1 ORDER BY id', [tryId]);
    return rows.map(toLogLine);
  }

  async count(tryId: number): Promise<number> {
    const rows = await this.db.q<{ n: string | number }>('SELECT count(*) AS n FROM log_lines WHERE try_id = $1', [tryId]);
    return Number(rows[0]!.n);
  }

  async recordRejections(tryId: number, table: string, rejections: Rejection[]): Promise<void> {
    if (rejections.length === 0) return;
    await this.db.q(
      `INSERT INTO load_rejections (try_id, table_name, object, line, column_name, value, reason)
       SELECT $1, $2, r.object, r.line, r.column_name, r.value, r.reason
       FROM unnest($3::text[], $4::int[], $5::text[], $6::text[], $7::text[]) WITH ORDINALITY
         AS r (object, line, column_name, value, reason, n)
       ORDER BY r.n`,
      [
        tryId,
        table,
        rejections.map((r) => r.object),
        rejections.map((r) => r.line),
        rejections.map((r) => r.column),
        rejections.map((r) => r.value),
        rejections.map((r) => r.reason),
      ],
    );
  }

  async rejections(tryId: number): Promise<StoredRejection[]> {
    return this.db.q<StoredRejection>(
      `SELECT table_name AS "table", object, line, column_name AS "column", value, reason
       FROM load_rejections WHERE try_id = $1 ORDER BY id`,
      [tryId],
    );
  }
}
