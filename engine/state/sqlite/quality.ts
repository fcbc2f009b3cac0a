/**
 * Data quality history in SQLite (tables check_results, table_counts): what
 * each try's checks found and the row counts its loads wrote, queryable as a
 * series over a DAG's runs.
 *
 * JSON values (observed, expected, sample) are stored as JSON text and read
 * back as they were given: strings (int8 and numeric from pg), numbers,
 * booleans, objects; a bigint is kept as its decimal string (JSON has no
 * bigint, and a number would lose digits); a Date as its ISO text.
 */
import type { CheckResultRecord, CheckStatus, NewCheckResult, QualityStore, TableCount, TaskTry } from '../index.js';
import { toJsonText } from '../json.js';
import { iso, type Statements } from './rows.js';

interface CheckRow {
  id: number;
  try_id: number;
  run_id: string;
  dag_id: string;
  task_id: string;
  logical_date: string;
  seq: number;
  name: string;
  type: string;
  table_name: string | null;
  severity: 'error' | 'warn';
  status: CheckStatus;
  observed: string;
  expected: string;
  sample: string | null;
  message: string | null;
  duration_ms: number | null;
  recorded_at: string;
  try_number: number;
}

interface CountRow {
  try_id: number;
  run_id: string;
  dag_id: string;
  task_id: string;
  logical_date: string;
  table_name: string;
  rows: number;
  recorded_at: string;
}

function toCheck(r: CheckRow): CheckResultRecord {
  return {
    id: r.id,
    tryId: r.try_id,
    runId: r.run_id,
    dagId: r.dag_id,
    taskId: r.task_id,
    tryNumber: r.try_number,
    logicalDate: new Date(r.logical_date),
    recordedAt: new Date(r.recorded_at),
    name: r.name,
    type: r.type,
    table: r.table_name,
    severity: r.severity,
    status: r.status,
    observed: JSON.parse(r.observed) as unknown,
    expected: JSON.parse(r.expected) as unknown,
    sample: r.sample === null ? null : (JSON.parse(r.sample) as Record<string, unknown>[]),
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
    rows: r.rows,
    logicalDate: new Date(r.logical_date),
    recordedAt: new Date(r.recorded_at),
  };
}

/** Only each (run, task)'s latest try that stored anything counts: a retry's results replace the failed try's. */
const LATEST_CHECK_TRY = `c.try_id = (SELECT MAX(l.try_id) FROM check_results l WHERE l.run_id = c.run_id AND l.task_id = c.task_id)`;
const LATEST_COUNT_TRY = `c.try_id = (SELECT MAX(l.try_id) FROM table_counts l WHERE l.run_id = c.run_id AND l.task_id = c.task_id)`;
const SUCCESSFUL = `EXISTS (SELECT 1 FROM dag_runs r WHERE r.run_id = c.run_id AND r.state = 'success')`;

export class SqliteQualityStore implements QualityStore {
  constructor(private readonly q: Statements) {}

  async record(
    t: TaskTry,
    r: { dagId: string; logicalDate: Date; checks: NewCheckResult[]; rowCounts: { table: string; rows: number }[]; now: Date },
  ): Promise<void> {
    const q = this.q;
    const when = iso(r.logicalDate);
    const now = iso(r.now);
    q.tx(() => {
      q.get('DELETE FROM check_results WHERE try_id = ?').run(t.tryId);
      q.get('DELETE FROM table_counts WHERE try_id = ?').run(t.tryId);
      const insertCheck = q.get(
        `INSERT INTO check_results (try_id, run_id, dag_id, task_id, logical_date, seq, name, type, table_name, severity,
           status, observed, expected, sample, message, duration_ms, recorded_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      r.checks.forEach((c, seq) =>
        insertCheck.run(
          t.tryId,
          t.runId,
          r.dagId,
          t.taskId,
          when,
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
          now,
        ),
      );
      const insertCount = q.get(
        `INSERT INTO table_counts (try_id, run_id, dag_id, task_id, logical_date, table_name, rows, recorded_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      for (const c of r.rowCounts) insertCount.run(t.tryId, t.runId, r.dagId, t.taskId, when, c.table, c.rows, now);
    });
  }

  async forRun(runId: string): Promise<CheckResultRecord[]> {
    const rows = this.q
      .get(
        `SELECT c.*, t.try_number FROM check_results c JOIN task_tries t ON t.try_id = c.try_id
         WHERE c.run_id = ? AND ${LATEST_CHECK_TRY}
         ORDER BY c.try_id, c.seq`,
      )
      .all(runId) as CheckRow[];
    return rows.map(toCheck);
  }

  async checkHistory(
    dagId: string,
    o: { last: number; check?: string; taskId?: string; before?: Date; successfulRunsOnly?: boolean },
  ): Promise<CheckResultRecord[]> {
    if (o.last <= 0) return [];
    // Only the filters given are in the SQL (one cached statement per shape), so SQLite can use the
    // (dag_id, name, logical_date) and (dag_id, logical_date) indexes rather than scan the DAG's history.
    const conds = ['c.dag_id = ?'];
    const args: unknown[] = [dagId];
    if (o.check !== undefined) {
      conds.push('c.name = ?');
      args.push(o.check);
    }
    if (o.taskId !== undefined) {
      conds.push('c.task_id = ?');
      args.push(o.taskId);
    }
    if (o.before) {
      conds.push('c.logical_date < ?');
      args.push(iso(o.before));
    }
    if (o.successfulRunsOnly) conds.push(SUCCESSFUL);
    const filter = conds.join(' AND ');
    const rows = this.q
      .get(
        `WITH chosen AS (
           SELECT c.run_id, MAX(c.logical_date) AS logical_date FROM check_results c WHERE ${filter}
           GROUP BY c.run_id ORDER BY logical_date DESC LIMIT ?
         )
         SELECT c.*, t.try_number FROM chosen s
         JOIN check_results c ON c.run_id = s.run_id
         JOIN task_tries t ON t.try_id = c.try_id
         WHERE ${filter} AND ${LATEST_CHECK_TRY}
         ORDER BY s.logical_date DESC, c.try_id, c.seq`,
      )
      .all(...args, o.last, ...args) as CheckRow[];
    return rows.map(toCheck);
  }

  async tableCounts(
    dagId: string,
    table: string,
    o: { last: number; before?: Date; successfulRunsOnly?: boolean },
  ): Promise<TableCount[]> {
    if (o.last <= 0) return [];
    const conds = ['c.dag_id = ?', 'c.table_name = ?'];
    const args: unknown[] = [dagId, table];
    if (o.before) {
      conds.push('c.logical_date < ?');
      args.push(iso(o.before));
    }
    if (o.successfulRunsOnly) conds.push(SUCCESSFUL);
    const filter = conds.join(' AND ');
    const rows = this.q
      .get(
        `WITH chosen AS (
           SELECT c.run_id, MAX(c.logical_date) AS logical_date FROM table_counts c WHERE ${filter}
           GROUP BY c.run_id ORDER BY logical_date DESC LIMIT ?
         )
         SELECT c.* FROM chosen s JOIN table_counts c ON c.run_id = s.run_id
         WHERE ${filter} AND ${LATEST_COUNT_TRY}
         ORDER BY s.logical_date DESC, c.try_id, c.id`,
      )
      .all(...args, o.last, ...args) as CountRow[];
    return rows.map(toCount);
  }
}
