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
 *
 * A wall time that a DST fall-back repeats is taken at its SECOND occurrence
 * for fixed-time crons (one hour and minute, e.g. `30 1 * * *`), as Airflow
 * does: its CronMixin (CronDataIntervalTimetable) computes such a cron with
 * croniter on naive wall time and localizes the result with
 * timezone.make_aware, which sets fold=1. So `30 1 * * *` in America/New_York
 * runs on 2024-11-03 at 06:30Z (01:30 EST), not 05:30Z (01:30 EDT), and the
 * interval before it lasts 25 h. Other crons (hourly, every 20 minutes of
 * one hour) fire at every real occurrence, as croner computes them.
 */
import { Cron } from 'croner';
import type { Dag } from '../interfaces.js';
import { normalizeSchedule, offsetMs, wallTime } from './time.js';

export { normalizeSchedule };

export interface DataInterval {
  start: Date;
  end: Date;
}

/** The parts of a DAG the interval math reads. */
export type Scheduled = Pick<Dag, 'schedule' | 'timezone' | 'startDate' | 'endDate'>;

/** Most intervals intervalsBetween returns before it refuses (a guard against `* * * * *` over years). */
export const MAX_INTERVALS = 100_000;

/** More than any DST shift in the tz database (2 h at most): how far a fold can move a fire time. */
const MAX_FOLD_MS = 3 * 3_600_000;

/** A cron in a timezone: its fire times strictly after or before an instant. */
class CronTimes {
  private readonly cron: Cron;
  /** Airflow's _is_schedule_fixed: two consecutive fire times share hour and minute. */
  private readonly fixed: boolean;

  constructor(
    expr: string,
    private readonly tz: string,
  ) {
    // UTC as a fixed offset of 0: the same fire times, without croner building an Intl.DateTimeFormat (the
    // runtime's first one costs about 10 ms of CPU, a noticeable share of a short command's start).
    const zone = (z: string) => (z === 'UTC' ? { utcOffset: 0 } : { timezone: z });
    this.cron = new Cron(expr, { ...zone(tz), paused: true, mode: '5-part' });
    const naive = new Cron(expr, { utcOffset: 0, paused: true, mode: '5-part' }).nextRuns(2, new Date(Date.UTC(2000, 0, 1)));
    this.fixed =
      tz !== 'UTC' &&
      naive.length === 2 &&
      naive[0]!.getUTCHours() === naive[1]!.getUTCHours() &&
      naive[0]!.getUTCMinutes() === naive[1]!.getUTCMinutes();
  }

  /** The earliest fire time > d. */
  next(d: Date): Date | null {
    if (!this.fixed) return this.cron.nextRun(d);
    // A fire time up to MAX_FOLD_MS before d may move past d.
    for (let c = this.cron.nextRun(new Date(d.getTime() - MAX_FOLD_MS)); c; c = this.cron.nextRun(c)) {
      const f = this.fold(c);
      if (f > d) return f;
    }
    return null;
  }

  /** The latest fire time < d. */
  prev(d: Date): Date | null {
    if (!this.fixed) return this.cron.previousRuns(1, d)[0] ?? null;
    for (let c = this.cron.previousRuns(1, new Date(d.getTime() + MAX_FOLD_MS))[0]; c; c = this.cron.previousRuns(1, c)[0]) {
      const f = this.fold(c);
      if (f < d) return f;
    }
    return null;
  }

  /**
   * fold=1: croner gives the first occurrence of a wall time a fall-back
   * repeats; the same wall time a fold later is the second.
   */
  private fold(c: Date): Date {
    const t = c.getTime();
    const shift = offsetMs(t, this.tz) - offsetMs(t + MAX_FOLD_MS, this.tz);
    if (shift <= 0) return c;
    const a = wallTime(c, this.tz);
    const b = wallTime(new Date(t + shift), this.tz);
    const same =
      a.year === b.year &&
      a.month === b.month &&
      a.day === b.day &&
      a.hour === b.hour &&
      a.minute === b.minute &&
      a.second === b.second;
    return same ? new Date(t + shift) : c;
  }
}

const crons = new Map<string, CronTimes>();

/** 'manual', 'once', or the fire times of the DAG's cron in its timezone. */
function scheduleOf(dag: Scheduled): 'manual' | 'once' | CronTimes {
  const expr = normalizeSchedule(dag.schedule);
  if (expr === null) return 'manual';
  if (expr === '@once') return 'once';
  const key = `${expr}|${dag.timezone}`;
  let cron = crons.get(key);
  if (!cron) {
    cron = new CronTimes(expr, dag.timezone);
    crons.set(key, cron);
  }
  return cron;
}

/** The latest fire time <= d. */
function fireAtOrBefore(cron: CronTimes, d: Date): Date | null {
  return cron.prev(new Date(d.getTime() + 1));
}

/** The earliest fire time >= d. */
function fireAtOrAfter(cron: CronTimes, d: Date): Date | null {
  return cron.next(new Date(d.getTime() - 1));
}

function interval(cron: CronTimes, start: Date): DataInterval {
  return { start, end: cron.next(start) ?? start };
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
  let start: Date | null = s.prev(end);
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
  for (let t = fireAtOrAfter(s, lo); t && t <= hi;) {
    if (out.length >= limit) {
      throw new Error(
        `more than ${limit} intervals between ${from.toISOString()} and ${to.toISOString()}; narrow the date range`,
      );
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
  let t = dag.startDate && dag.startDate > after ? fireAtOrAfter(s, dag.startDate) : s.next(after);
  while (t && out.length < n && inBounds(dag, t)) {
    const iv = interval(s, t);
    out.push(iv);
    t = iv.end > t ? iv.end : null;
  }
  return out;
}
