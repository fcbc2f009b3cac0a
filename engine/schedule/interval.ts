/**
 * Data intervals with Airflow's cron semantics.
 *
 * A run with logical date D covers [D, next fire time after D): the run for
 * 2018-11-21 of a @daily DAG processes that day and is started once the
 * interval has ended. Fire times are computed by croner in the DAG's timezone,
 * so a daily interval across a DST change lasts 23h or 25h.
 *
 * Logical dates of scheduled runs are fire times >= start_date (when set) and
 * <= end_date (when set). Manual-only DAGs (schedule null) and @once get the
 * empty interval [D, D]; @once fires once, at start_date.
 */
import { Cron } from 'croner';
import type { Dag } from '../interfaces.js';
import { normalizeSchedule } from '../dag/time.js';

export { normalizeSchedule };

export interface DataInterval {
  start: Date;
  end: Date;
}

/** The parts of a DAG the interval math reads. */
export type Scheduled = Pick<Dag, 'schedule' | 'timezone' | 'startDate' | 'endDate'>;

/** Most intervals intervalsBetween returns before it refuses (a guard against `* * * * *` over years). */
export const MAX_INTERVALS = 100_000;

const crons = new Map<string, Cron>();

/** 'manual', 'once', or the croner job for the DAG's cron in its timezone. */
function scheduleOf(dag: Scheduled): 'manual' | 'once' | Cron {
  const expr = normalizeSchedule(dag.schedule);
  if (expr === null) return 'manual';
  if (expr === '@once') return 'once';
  const key = `${expr}|${dag.timezone}`;
  let cron = crons.get(key);
  if (!cron) {
    cron = new Cron(expr, { timezone: dag.timezone, paused: true, mode: '5-part' });
    crons.set(key, cron);
  }
  return cron;
}

/** The latest fire time <= d. */
function fireAtOrBefore(cron: Cron, d: Date): Date | null {
  return cron.previousRuns(1, new Date(d.getTime() + 1))[0] ?? null;
}

/** The earliest fire time >= d. */
function fireAtOrAfter(cron: Cron, d: Date): Date | null {
  return cron.nextRun(new Date(d.getTime() - 1));
}

function interval(cron: Cron, start: Date): DataInterval {
  return { start, end: cron.nextRun(start) ?? start };
}

/** Is a logical date inside the DAG's start_date / end_date? */
function inBounds(dag: Scheduled, d: Date): boolean {
  return (!dag.startDate || d >= dag.startDate) && (!dag.endDate || d <= dag.endDate);
}

/**
 * The data interval of the run with logical date D: [D, next(D)). A D that is
 * not a fire time is aligned down to the latest fire time <= D. Manual-only
 * and @once DAGs get [D, D].
 */
export function dataIntervalFor(dag: Scheduled, logicalDate: Date): DataInterval {
  const s = scheduleOf(dag);
  if (s === 'manual' || s === 'once') return { start: logicalDate, end: logicalDate };
  return interval(s, fireAtOrBefore(s, logicalDate) ?? logicalDate);
}

/**
 * The latest interval that has ended by `now` (end <= now) and whose start is
 * within start_date/end_date; null when there is none yet. For @once: the
 * interval at start_date once it has passed; for manual-only DAGs: null.
 */
export function lastCompleteInterval(dag: Scheduled, now: Date): DataInterval | null {
  const s = scheduleOf(dag);
  if (s === 'manual') return null;
  if (s === 'once') return dag.startDate && dag.startDate <= now ? { start: dag.startDate, end: dag.startDate } : null;
  const end = fireAtOrBefore(s, now);
  if (!end) return null;
  let start: Date | null = s.previousRuns(1, end)[0] ?? null;
  if (start && dag.endDate && start > dag.endDate) start = fireAtOrBefore(s, dag.endDate);
  if (!start) return null;
  if (dag.startDate && start < dag.startDate) return null;
  return interval(s, start);
}

/**
 * Every interval whose start (logical date) is in [from, to], inclusive,
 * within start_date/end_date; for backfill and catchup. Manual-only DAGs have
 * none; @once has its one interval if start_date is in range. Throws when
 * there would be more than `limit` intervals.
 */
export function intervalsBetween(dag: Scheduled, from: Date, to: Date, limit = MAX_INTERVALS): DataInterval[] {
  const s = scheduleOf(dag);
  if (s === 'manual') return [];
  if (s === 'once') {
    const d = dag.startDate;
    return d && d >= from && d <= to ? [{ start: d, end: d }] : [];
  }
  const lo = dag.startDate && dag.startDate > from ? dag.startDate : from;
  const hi = dag.endDate && dag.endDate < to ? dag.endDate : to;
  const out: DataInterval[] = [];
  for (let t = fireAtOrAfter(s, lo); t && t <= hi; ) {
    if (out.length >= limit) {
      throw new Error(`more than ${limit} intervals between ${from.toISOString()} and ${to.toISOString()}; narrow the date range`);
    }
    const iv = interval(s, t);
    out.push(iv);
    t = iv.end > t ? iv.end : null;
  }
  return out;
}

/** The next `n` intervals whose start is strictly after `after` (and within start_date/end_date). */
export function nextIntervals(dag: Scheduled, after: Date, n: number): DataInterval[] {
  const s = scheduleOf(dag);
  if (s === 'manual' || n <= 0) return [];
  if (s === 'once') {
    const d = dag.startDate;
    return d && d > after && inBounds(dag, d) ? [{ start: d, end: d }] : [];
  }
  const out: DataInterval[] = [];
  let t = dag.startDate && dag.startDate > after ? fireAtOrAfter(s, dag.startDate) : s.nextRun(after);
  while (t && out.length < n && inBounds(dag, t)) {
    const iv = interval(s, t);
    out.push(iv);
    t = iv.end > t ? iv.end : null;
  }
  return out;
}
