/**
 * Data quality history in PostgreSQL (tables check_results, table_counts),
 * with the SQLite store's semantics: each (run, task)'s latest try that
 * stored anything counts; "the last N runs" by logical date. JSON values are
 * `json` text, read back as given.
 */
import type { CheckResultRecord, CheckStatus, NewCheckResult, QualityStore, TableCount, TaskTry } from '../index.js';
import { toJsonText } from '../json.js';
import type { Db } from './db.js';

interface CheckRow {
  id: string;
  try_id: number;
  run_id: string;
  dag_id: string;
  task_id: string;
  logical_date: Date;
  name: string;
  type: string;
  table_name: string | null;
  severity: 'error' | 'warn';
  status: CheckStatus;
  observed: unknown;
  expected: unknown;
  sample: Record<string, unknown>[] | null;
  message: string | null;
  duration_ms: number | null;
  recorded_at: Date;
  try_number: number;
}

interface CountRow {
  try_id: number;
  run_id: string;
  dag_id: string;
  task_id: string;
  logical_date: Date;
  table_name: string;
  rows: string;
  recorded_at: Date;
}

function toCheck(r: CheckRow): CheckResultRecord {
  return {
    id: Number(r.id),
    tryId: r.try_id,
    runId: r.run_id,
    dagId: r.dag_id,
    taskId: r.task_id,
    tryNumber: r.try_number,
    logicalDate: r.logical_date,
    recordedAt: r.recorded_at,
    name: r.name,
    type: r.type,
    table: r.table_name,
    severity: r.severity,
    status: r.status,
    observed: r.observed,
    expected: r.expected,
    sample: r.sample,
    message: r.message,
    durationMs: r.duration_ms,
  };
}

function toCount(r: CountRow): TableCount {
  return {
    tryId: r.try_id,
    runId: r.run_id,
    dagId: r.dag_id,
    taskId: r.task_id,
    table: r.table_name,
    rows: Number(r.rows),
    logicalDate: r.logical_date,
    recordedAt: r.recorded_at,
  };
}

const LATEST_CHECK_TRY = `c.try_id = (SELECT max(l.try_id) FROM check_results l WHERE l.run_id = c.run_id AND l.task_id = c.task_id)`;
const LATEST_COUNT_TRY = `c.try_id = (SELECT max(l.try_id) FROM table_counts l WHERE l.run_id = c.run_id AND l.task_id = c.task_id)`;
const SUCCESSFUL = `EXISTS (SELECT 1 FROM dag_runs r WHERE r.run_id = c.run_id AND r.state = 'success')`;

/** A WHERE clause from the filters given, with $n placeholders numbered from `first`. */
function where(conds: [string, unknown][], extra: string[], first = 1): { sql: string; args: unknown[] } {
  const parts = conds.map(([c], i) => c.replace('?', `$${first + i}`));
  return { sql: [...parts, ...extra].join(' AND '), args: conds.map(([, v]) => v) };
}

export class PostgresQualityStore implements QualityStore {
  constructor(private readonly db: Db) {}

  record(
    t: TaskTry,
    r: { dagId: string; logicalDate: Date; checks: NewCheckResult[]; rowCounts: { table: string; rows: number }[]; now: Date },
  ): Promise<void> {
    return this.db.tx(async (q) => {
      await q('DELETE FROM check_results WHERE try_id = $1', [t.tryId]);
      await q('DELETE FROM table_counts WHERE try_id = $1', [t.tryId]);
      for (const [seq, c] of r.checks.entries()) {
        await q(
          `INSERT INTO check_results (try_id, run_id, dag_id, task_id, logical_date, seq, name, type, table_name, severity,
             status, observed, expected, sample, message, duration_ms, recorded_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
          [
            t.tryId,
            t.runId,
            r.dagId,
            t.taskId,
            r.logicalDate,
            seq,
            c.name,
            c.type,
            c.table,
            c.severity,
            c.status,
            toJsonText(c.observed),
            toJsonText(c.expected),
            c.sample === null ? null : toJsonText(c.sample),
            c.message,
            c.durationMs,
            r.now,
          ],
        );
      }
      for (const c of r.rowCounts) {
        await q(
          `INSERT INTO table_counts (try_id, run_id, dag_id, task_id, logical_date, table_name, rows, recorded_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [t.tryId, t.runId, r.dagId, t.taskId, r.logicalDate, c.table, c.rows, r.now],
        );
      }
    });
  }

  async forRun(runId: string): Promise<CheckResultRecord[]> {
    const rows = await this.db.q<CheckRow>(
      `SELECT c.*, t.try_number FROM check_results c JOIN task_tries t ON t.try_id = c.try_id
       WHERE c.run_id = $1 AND ${LATEST_CHECK_TRY} ORDER BY c.try_id, c.seq`,
      [runId],
    );
    return rows.map(toCheck);
  }

  async checkHistory(
    dagId: string,
    o: { last: number; check?: string; taskId?: string; before?: Date; successfulRunsOnly?: boolean },
  ): Promise<CheckResultRecord[]> {
    if (o.last <= 0) return [];
    const conds: [string, unknown][] = [['c.dag_id = ?', dagId]];
    if (o.check !== undefined) conds.push(['c.name = ?', o.check]);
    if (o.taskId !== undefined) conds.push(['c.task_id = ?', o.taskId]);
    if (o.before) conds.push(['c.logical_date < ?', o.before]);
    const f = where(conds, o.successfulRunsOnly ? [SUCCESSFUL] : []);
    const rows = await this.db.q<CheckRow>(
      `WITH chosen AS (
         SELECT c.run_id, max(c.logical_date) AS logical_date FROM check_results c WHERE ${f.sql}
         GROUP BY c.run_id ORDER BY logical_date DESC LIMIT $${f.args.length + 1}
       )
       SELECT c.*, t.try_number FROM chosen s
       JOIN check_results c ON c.run_id = s.run_id
       JOIN task_tries t ON t.try_id = c.try_id
       WHERE ${f.sql} AND ${LATEST_CHECK_TRY}
       ORDER BY s.logical_date DESC, c.try_id, c.seq`,
      [...f.args, o.last],
    );
    return rows.map(toCheck);
  }

  async tableCounts(
    dagId: string,
    table: string,
    o: { last: number; before?: Date; successfulRunsOnly?: boolean },
  ): Promise<TableCount[]> {
    if (o.last <= 0) return [];
    const conds: [string, unknown][] = [
      ['c.dag_id = ?', dagId],
      ['c.table_name = ?', table],
    ];
    if (o.before) conds.push(['c.logical_date < ?', o.before]);
    const f = where(conds, o.successfulRunsOnly ? [SUCCESSFUL] : []);
    const rows = await this.db.q<CountRow>(
      `WITH chosen AS (
         SELECT c.run_id, max(c.logical_date) AS logical_date FROM table_counts c WHERE ${f.sql}
         GROUP BY c.run_id ORDER BY logical_date DESC LIMIT $${f.args.length + 1}
       )
       SELECT c.* FROM chosen s JOIN table_counts c ON c.run_id = s.run_id
       WHERE ${f.sql} AND ${LATEST_COUNT_TRY}
       ORDER BY s.logical_date DESC, c.try_id, c.id`,
      [...f.args, o.last],
    );
    return rows.map(toCount);
  }
}
