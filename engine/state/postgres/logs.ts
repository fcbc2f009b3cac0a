/** Log lines and rejected load lines of tries in PostgreSQL (tables log_lines, load_rejections). */
import type { Rejection } from '../../interfaces.js';
import type { LogLine, LogRange, LogStore, NewLogLine, StoredRejection, TryLogLine } from '../index.js';
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

  /** One INSERT for the whole batch: rows are numbered (ids) in the order of the arrays. */
  async appendMany(lines: TryLogLine[]): Promise<void> {
    if (lines.length === 0) return;
    await this.db.q(
      `INSERT INTO log_lines (try_id, ts, level, msg, data)
       SELECT l.try_id, l.ts, l.level, l.msg, l.data
       FROM unnest($1::integer[], $2::timestamptz[], $3::text[], $4::text[], $5::json[]) WITH ORDINALITY
         AS l (try_id, ts, level, msg, data, n)
       ORDER BY l.n`,
      [
        lines.map((l) => l.tryId),
        lines.map((l) => l.line.ts),
        lines.map((l) => l.line.level),
        lines.map((l) => l.line.msg),
        lines.map((l) => (l.line.data === null ? null : json(l.line.data))),
      ],
      'sluice_append_logs',
    );
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
