/**
 * Time facts a DAG file states: IANA timezones, start/end dates, schedules.
 * Pure helpers shared by the loader (validation) and engine/schedule (interval math).
 */
import { Cron } from 'croner';

// ---------------------------------------------------------------------------
// Timezones

/** The canonical name of an IANA timezone, or null when the runtime does not know it. */
export function canonicalTimeZone(tz: string): string | null {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone;
  } catch {
    return null;
  }
}

/** Every timezone name the runtime knows (for suggestions). */
export function timeZoneNames(): string[] {
  return ['UTC', ...Intl.supportedValuesOf('timeZone')];
}

const partsFormatters = new Map<string, Intl.DateTimeFormat>();

/** The wall-clock fields of an instant in a timezone. */
export function wallTime(
  date: Date,
  tz: string,
): { year: number; month: number; day: number; hour: number; minute: number; second: number } {
  // UTC (most DAGs) needs no ICU: the runtime's first Intl.DateTimeFormat costs about 10 ms of CPU, a
  // noticeable share of a short command's start (run-dag computes the data interval before the first task).
  // Years before 1 go to Intl, which counts them by era.
  if (tz === 'UTC' && date.getUTCFullYear() >= 1) {
    return {
      year: date.getUTCFullYear(),
      month: date.getUTCMonth() + 1,
      day: date.getUTCDate(),
      hour: date.getUTCHours(),
      minute: date.getUTCMinutes(),
      second: date.getUTCSeconds(),
    };
  }
  let f = partsFormatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    partsFormatters.set(tz, f);
  }
  const parts = f.formatToParts(date);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  return {
    year: get('year'),
    month: get('month'),
    day: get('day'),
    hour: get('hour'),
    minute: get('minute'),
    second: get('second'),
  };
}

/** Offset of the timezone from UTC at an instant, in ms (Berlin in winter: +3600000). */
export function offsetMs(instant: number, tz: string): number {
  const w = wallTime(new Date(instant), tz);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUtc - Math.floor(instant / 1000) * 1000;
}

/**
 * The instant a wall-clock time in a timezone names. A time skipped by a DST
 * jump lands the same distance after the jump (02:30 -> 03:30); a time that
 * occurs twice resolves to its first occurrence.
 */
export function zonedTimeToUtc(
  tz: string,
  year: number,
  month: number,
  day: number,
  hour = 0,
  minute = 0,
  second = 0,
  ms = 0,
): Date {
  const guess = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  // The offsets a day before and a day after cover any single DST change near the time.
  const before = guess - offsetMs(guess - 86_400_000, tz);
  const after = guess - offsetMs(guess + 86_400_000, tz);
  const exact = [before, after].filter((t) => t + offsetMs(t, tz) === guess);
  return new Date(exact.length ? Math.min(...exact) : before);
}

// ---------------------------------------------------------------------------
// Dates in DAG files

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

export const DATE_FORMS =
  'an ISO date (2018-11-01) or datetime (2018-11-01T00:00:00Z, 2018-11-01 06:00, 2018-11-01T06:00:00+01:00)';

/**
 * Reads a start/end date. A Date (YAML timestamp) is taken as is; a string
 * without an offset is wall-clock time in `tz` (date-only means midnight).
 * Throws an Error saying the accepted forms.
 */
export function parseDagDate(value: Date | string, tz: string): Date {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new Error(`invalid date: use ${DATE_FORMS}`);
    return value;
  }
  const m = ISO_DATE.exec(value.trim());
  if (!m) throw new Error(`invalid date '${value}': use ${DATE_FORMS}`);
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone] = m;
  const nums = [y, mo, d, h, mi, s].map(Number) as [number, number, number, number, number, number];
  const ms = Math.round(Number(`0.${frac || '0'}`) * 1000);
  const check = new Date(Date.UTC(nums[0], nums[1] - 1, nums[2], nums[3], nums[4], nums[5]));
  if (
    check.getUTCMonth() !== nums[1] - 1 ||
    check.getUTCDate() !== nums[2] ||
    check.getUTCHours() !== nums[3] ||
    check.getUTCMinutes() !== nums[4] ||
    check.getUTCSeconds() !== nums[5]
  ) {
    throw new Error(`invalid date '${value}': no such day or time; use ${DATE_FORMS}`);
  }
  if (zone) {
    let off = 0;
    if (zone.toUpperCase() !== 'Z') {
      const sign = zone.startsWith('-') ? -1 : 1;
      const digits = zone.slice(1).replace(':', '');
      off = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0')) * 60_000;
    }
    return new Date(Date.UTC(nums[0], nums[1] - 1, nums[2], nums[3], nums[4], nums[5], ms) - off);
  }
  return zonedTimeToUtc(tz, ...nums, ms);
}

// ---------------------------------------------------------------------------
// Schedules

/** Airflow's presets and the cron they stand for (@once is handled by hand). */
export const SCHEDULE_PRESETS: Readonly<Record<string, string>> = {
  '@once': '@once',
  '@hourly': '0 * * * *',
  '@daily': '0 0 * * *',
  '@weekly': '0 0 * * 0',
  '@monthly': '0 0 1 * *',
  '@quarterly': '0 0 1 */3 *',
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
};

/**
 * A schedule as a 5-field cron expression: presets become cron, `@once` stays
 * `@once`, null (manual only) stays null. Throws on an unknown preset.
 */
export function normalizeSchedule(s: string | null | undefined): string | null {
  if (s == null) return null;
  const t = s.trim();
  if (t.startsWith('@')) {
    const cron = SCHEDULE_PRESETS[t.toLowerCase()];
    if (!cron) throw new Error(`unknown schedule preset '${t}'`);
    return cron;
  }
  return t.split(/\s+/).join(' ');
}

/**
 * Why a schedule string is not valid, or null when it is. Only 5-field cron
 * (minute precision, as in Airflow) and the presets are accepted: 6-field
 * crons with seconds are rejected.
 */
export function scheduleProblem(s: string): string | null {
  const t = s.trim();
  const presets = Object.keys(SCHEDULE_PRESETS).join(', ');
  if (t.startsWith('@')) {
    return SCHEDULE_PRESETS[t.toLowerCase()]
      ? null
      : `unknown schedule preset '${t}'; use one of ${presets}, a 5-field cron, or null for manual runs only`;
  }
  const fields = t.split(/\s+/).filter(Boolean);
  if (fields.length !== 5) {
    const secs =
      fields.length === 6
        ? ' (6-field crons with seconds are not supported: schedules have minute precision; drop the seconds field)'
        : '';
    return `invalid cron '${s}': expected 5 fields (minute hour day-of-month month day-of-week), got ${fields.length}${secs}; or use a preset: ${presets}`;
  }
  try {
    const cron = new Cron(fields.join(' '), { paused: true, mode: '5-part' });
    if (!cron.nextRun(new Date(0))) return `cron '${s}' never fires; check its day and month fields`;
  } catch (err) {
    const why = err instanceof Error ? err.message.replace(/^CronPattern: /, '') : String(err);
    return `invalid cron '${s}': ${why}; write 5 fields (minute hour day-of-month month day-of-week), e.g. '*/15 * * * *', or a preset: ${presets}`;
  }
  return null;
}
