/**
 * Date and time input of Redshift `COPY`, emulated for the local loaders:
 * TIMEFORMAT / DATEFORMAT 'auto' (the formats of AWS's "automatic
 * recognition" table), 'epochsecs' / 'epochmillisecs' (TIMEFORMAT only) and
 * format strings such as 'YYYY-MM-DD HH:MI:SS' or 'MM/DD/YYYY'.
 *
 * A parsed value is a set of calendar fields (astronomical year, so 1 BC is
 * year 0) plus an optional UTC offset. TIMESTAMP columns keep the wall-clock
 * fields and ignore the offset, as Redshift does; TIMESTAMPTZ columns are
 * converted to UTC; DATE columns keep the date. Output is PostgreSQL input
 * text (`YYYY-MM-DD HH:MI:SS.ffffff[+00][ BC]`), unambiguous whatever the
 * session's DateStyle.
 */

/** Calendar fields of one parsed value. */
export interface DateTimeFields {
  /** Astronomical year: 1 BC is 0, 2 BC is -1. */
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  micros: number;
  /** Minutes east of UTC, when the input named a zone or an offset. */
  offset: number | null;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** Zone abbreviations Redshift (PostgreSQL) knows, in minutes east of UTC: the common ones. */
const ZONES: Record<string, number> = {
  z: 0,
  utc: 0,
  gmt: 0,
  ut: 0,
  pst: -480,
  pdt: -420,
  mst: -420,
  mdt: -360,
  cst: -360,
  cdt: -300,
  est: -300,
  edt: -240,
  akst: -540,
  akdt: -480,
  hst: -600,
  ast: -240,
  adt: -180,
  nst: -210,
  ndt: -150,
  wet: 0,
  west: 60,
  bst: 60,
  cet: 60,
  cest: 120,
  met: 60,
  mest: 120,
  eet: 120,
  eest: 180,
  msk: 180,
  jst: 540,
  kst: 540,
  hkt: 480,
  sgt: 480,
  awst: 480,
  acst: 570,
  acdt: 630,
  aest: 600,
  aedt: 660,
  nzst: 720,
  nzdt: 780,
};

/** Days from 1970-01-01 to a proleptic Gregorian date (astronomical year). */
export function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** The date of a day number (days from 1970-01-01). */
export function civilFromDays(z0: number): { year: number; month: number; day: number } {
  const z = z0 + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

function validDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1 || d > 31) return false;
  const back = civilFromDays(daysFromCivil(y, m, d));
  return back.month === m && back.day === d;
}

/** PostgreSQL's two-digit year rule (also Redshift's): 70-99 -> 19xx, 00-69 -> 20xx. */
function twoDigitYear(s: string): number {
  const n = Number(s);
  return n >= 70 ? 1900 + n : 2000 + n;
}

function monthOf(word: string): number {
  return MONTHS.indexOf(word.slice(0, 3).toLowerCase()) + 1;
}

/** Minutes east of UTC of a zone text (`Z`, `PST`, `+05`, `-08:00`, `+0530`), or undefined. */
function zoneOffset(z: string): number | undefined {
  const m = /^(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?$/i.exec(z);
  if (m) {
    const h = Number(m[2]);
    const mi = Number(m[3] ?? 0);
    if (h > 15 || mi > 59) return undefined;
    return (m[1] === '-' ? -1 : 1) * (h * 60 + mi);
  }
  return ZONES[z.toLowerCase()];
}

interface TimePart {
  hour: number;
  minute: number;
  second: number;
  micros: number;
}

const TIME = String.raw`(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(?:\s*([AaPp][Mm]))?`;

function timeOf(h?: string, mi?: string, s?: string, frac?: string, ampm?: string): TimePart | null {
  let hour = Number(h ?? 0);
  const minute = Number(mi ?? 0);
  const second = Number(s ?? 0);
  if (ampm) {
    if (hour < 1 || hour > 12) return null;
    hour = (hour % 12) + (ampm.toLowerCase() === 'pm' ? 12 : 0);
  }
  if (hour > 23 || minute > 59 || second > 59) return null;
  const micros = frac ? Number(frac.slice(0, 6).padEnd(6, '0')) : 0;
  return { hour, minute, second, micros };
}

/**
 * The automatic-recognition forms. Each gives the date fields and the rest of
 * the text (a time and/or a zone), read by the common tail below.
 */
type DateForm = (m: RegExpExecArray) => { year: number; month: number; day: number } | null;
const DATE_FORMS: [RegExp, DateForm][] = [
  // YYYY-MM-DD, YYYY/MM/DD (ISO 8601, with T or a space before the time)
  [/^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?=$|[T\s])/i, (m) => ({ year: +m[1]!, month: +m[2]!, day: +m[3]! })],
  // YYYYMMDD (optionally followed by HHMISS or HH:MI:SS)
  [/^(\d{4})(\d{2})(\d{2})(?=$|[T\s])/i, (m) => ({ year: +m[1]!, month: +m[2]!, day: +m[3]! })],
  // YYMMDD
  [/^(\d{2})(\d{2})(\d{2})(?=$|\s)/, (m) => ({ year: twoDigitYear(m[1]!), month: +m[2]!, day: +m[3]! })],
  // YYYY.DDD (day of the year)
  [
    /^(\d{4})\.(\d{3})(?=$|\s)/,
    (m) => {
      const doy = +m[2]!;
      const y = +m[1]!;
      const c = civilFromDays(daysFromCivil(y, 1, 1) + doy - 1);
      return doy >= 1 && c.year === y ? c : null;
    },
  ],
  // MM/DD/YYYY, MM.DD.YYYY, MM-DD-YYYY and the same with YY
  [
    /^(\d{1,2})([/.-])(\d{1,2})\2(\d{4}|\d{2})(?=$|\s)/,
    (m) => ({ year: m[4]!.length === 2 ? twoDigitYear(m[4]!) : +m[4]!, month: +m[1]!, day: +m[3]! }),
  ],
  // Mon-DD-YYYY, Mon DD YYYY, Mon DD, YYYY
  [/^([A-Za-z]{3,9})[-\s](\d{1,2}),?[-\s](\d{4})(?=$|\s)/, (m) => ({ year: +m[3]!, month: monthOf(m[1]!), day: +m[2]! })],
  // DD-Mon-YYYY, DD Mon YYYY
  [/^(\d{1,2})[-\s]([A-Za-z]{3,9})[-\s](\d{4})(?=$|\s)/, (m) => ({ year: +m[3]!, month: monthOf(m[2]!), day: +m[1]! })],
];

const TAIL = new RegExp(
  String.raw`^(?:[T\s]\s*(?:${TIME}|(\d{2})(\d{2})(\d{2})(?:\.(\d+))?))?\s*(Z|[+-]\d{1,2}(?::?\d{2})?|[A-Za-z]{1,5})?$`,
);

/** `DD Mon HH:MI:SS YYYY [TZ]` and `[Dow] Mon DD HH:MI:SS YYYY [TZ]` (PostgreSQL's own output style). */
const TIME_BEFORE_YEAR = new RegExp(
  String.raw`^(?:(\d{1,2})\s+([A-Za-z]{3,9})|([A-Za-z]{3,9})\s+(\d{1,2}))\s+${TIME}\s+(\d{4})(?:\s+(Z|[+-]\d{1,2}(?::?\d{2})?|[A-Za-z]{1,5}))?$`,
);

/** Parses a value with TIMEFORMAT / DATEFORMAT 'auto'; null when no recognised form fits. */
export function parseAuto(input: string): DateTimeFields | null {
  let s = input.trim();
  let bc = false;
  const era = /\s+(BC|AD)$/i.exec(s);
  if (era) {
    bc = era[1]!.toUpperCase() === 'BC';
    s = s.slice(0, era.index);
  }
  s = s.replace(/^(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*,?\s+/i, '');
  let out: DateTimeFields | null = null;
  const jul = /^J(\d{1,7})(?:\s+(.*))?$/i.exec(s);
  if (jul) {
    const c = civilFromDays(Number(jul[1]) - 2440588);
    out = withTail({ ...c }, jul[2] ? ` ${jul[2]}` : '');
  } else {
    const tb = TIME_BEFORE_YEAR.exec(s);
    if (tb) {
      const month = monthOf(tb[2] ?? tb[3]!);
      const day = Number(tb[1] ?? tb[4]);
      const t = timeOf(tb[5], tb[6], tb[7], tb[8], tb[9]);
      const zone = tb[11] === undefined ? null : zoneOffset(tb[11]);
      if (t && zone !== undefined) out = { year: Number(tb[10]), month, day, ...t, offset: zone };
    } else {
      for (const [re, form] of DATE_FORMS) {
        const m = re.exec(s);
        if (!m) continue;
        const d = form(m);
        if (d) out = withTail(d, s.slice(m[0].length));
        break;
      }
    }
  }
  if (!out || !validDate(out.year, out.month, out.day) || out.year < 1) return null;
  if (bc) out.year = 1 - out.year;
  return out;
}

function withTail(d: { year: number; month: number; day: number }, rest: string): DateTimeFields | null {
  const m = TAIL.exec(rest);
  if (!m) return null;
  const t = m[1] !== undefined ? timeOf(m[1], m[2], m[3], m[4], m[5]) : timeOf(m[6], m[7], m[8], m[9]);
  if (!t) return null;
  let offset: number | null = null;
  if (m[10] !== undefined) {
    const z = zoneOffset(m[10]);
    if (z === undefined) return null;
    offset = z;
  }
  return { ...d, ...t, offset };
}

/** A compiled DATEFORMAT / TIMEFORMAT string. */
export type FormatParser = (s: string) => DateTimeFields | null;

const FORMAT_TOKENS: [string, string, string][] = [
  // token, regex, field
  ['YYYY', String.raw`(\d{4})`, 'year'],
  ['MONTH', '([A-Za-z]{3,9})', 'monthname'],
  ['MON', '([A-Za-z]{3})', 'monthname'],
  ['HH24', String.raw`(\d{1,2})`, 'hour'],
  ['HH12', String.raw`(\d{1,2})`, 'hour12'],
  ['DDD', String.raw`(\d{3})`, 'doy'],
  ['YY', String.raw`(\d{2})`, 'yy'],
  ['MM', String.raw`(\d{1,2})`, 'month'],
  ['DD', String.raw`(\d{1,2})`, 'day'],
  ['HH', String.raw`(\d{1,2})`, 'hour'],
  ['MI', String.raw`(\d{2})`, 'minute'],
  ['SS', String.raw`(\d{2})(?:[.,](\d{1,6}))?`, 'second'],
  ['AM', '([AaPp][Mm])', 'ampm'],
  ['PM', '([AaPp][Mm])', 'ampm'],
  ['TZH:TZM', String.raw`([+-]\d{2}:?\d{2})`, 'zone'],
  ['TZ', String.raw`(Z|[+-]\d{1,2}(?::?\d{2})?|[A-Za-z]{1,5})`, 'zone'],
  ['OF', String.raw`([+-]\d{1,2}(?::?\d{2})?)`, 'zone'],
];

/**
 * Compiles a format string (Redshift's datetime format elements: YYYY, YY,
 * MM, MON, MONTH, DD, DDD, HH, HH24, HH12, MI, SS with an optional fraction,
 * AM/PM, TZ, OF). Other characters match themselves; a fraction written as
 * `SS.SSS` is read as SS plus fraction. Returns an error text for a format
 * with no date or time element at all.
 */
export function compileFormat(format: string): FormatParser | string {
  let re = '^';
  const fields: string[] = [];
  let i = 0;
  const f = format.trim();
  while (i < f.length) {
    const up = f.slice(i).toUpperCase();
    const tok = FORMAT_TOKENS.find(([t]) => up.startsWith(t));
    if (tok) {
      re += tok[1];
      fields.push(tok[2]);
      if (tok[2] === 'second') fields.push('fraction');
      i += tok[0].length;
      if (tok[2] === 'second') {
        const frac = /^[.,]S+/i.exec(f.slice(i));
        if (frac) i += frac[0].length;
      }
      continue;
    }
    const c = f[i]!;
    re += /\s/.test(c) ? String.raw`\s+` : c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    i++;
  }
  if (fields.length === 0) return `format ${JSON.stringify(format)} has no date or time element (YYYY, MM, DD, HH, MI, SS, ...)`;
  const rx = new RegExp(`${re}$`);
  return (input) => {
    const m = rx.exec(input.trim());
    if (!m) return null;
    const v: Record<string, string | undefined> = {};
    fields.forEach((name, k) => (v[name] = m[k + 1]));
    let year = v.year !== undefined ? Number(v.year) : v.yy !== undefined ? twoDigitYear(v.yy) : 1970;
    let month = v.month !== undefined ? Number(v.month) : v.monthname !== undefined ? monthOf(v.monthname) : 1;
    let day = v.day !== undefined ? Number(v.day) : 1;
    if (v.doy !== undefined) {
      const c = civilFromDays(daysFromCivil(year, 1, 1) + Number(v.doy) - 1);
      if (Number(v.doy) < 1 || c.year !== year) return null;
      ({ year, month, day } = c);
    }
    if (!validDate(year, month, day) || year < 1) return null;
    const t = timeOf(v.hour ?? v.hour12, v.minute, v.second, v.fraction, v.ampm);
    if (!t) return null;
    let offset: number | null = null;
    if (v.zone !== undefined) {
      const z = zoneOffset(v.zone);
      if (z === undefined) return null;
      offset = z;
    }
    return { year, month, day, ...t, offset };
  };
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** PostgreSQL text of a date: `YYYY-MM-DD[ BC]`. */
export function formatDate(f: { year: number; month: number; day: number }): string {
  const bc = f.year <= 0;
  return `${pad(bc ? 1 - f.year : f.year, 4)}-${pad(f.month)}-${pad(f.day)}${bc ? ' BC' : ''}`;
}

/**
 * PostgreSQL text of a timestamp. For TIMESTAMPTZ (`utc`), the offset is
 * applied and `+00` appended; for TIMESTAMP the offset is ignored.
 */
export function formatTimestamp(f: DateTimeFields, utc: boolean): string {
  let { year, month, day, hour, minute } = f;
  if (utc && f.offset) {
    const total = daysFromCivil(year, month, day) * 1440 + hour * 60 + minute - f.offset;
    const days = Math.floor(total / 1440);
    const mins = total - days * 1440;
    ({ year, month, day } = civilFromDays(days));
    hour = Math.floor(mins / 60);
    minute = mins % 60;
  }
  const bc = year <= 0;
  const date = `${pad(bc ? 1 - year : year, 4)}-${pad(month)}-${pad(day)}`;
  return `${date} ${pad(hour)}:${pad(minute)}:${pad(f.second)}.${pad(f.micros, 6)}${utc ? '+00' : ''}${bc ? ' BC' : ''}`;
}

/** Calendar fields (UTC) of epoch milliseconds, which may carry a fraction (microseconds). */
export function fieldsFromEpochMs(ms: number): DateTimeFields | null {
  const totalMicros = Math.round(ms * 1000);
  if (!Number.isFinite(totalMicros)) return null;
  const totalSec = Math.floor(totalMicros / 1e6);
  const micros = totalMicros - totalSec * 1e6;
  const days = Math.floor(totalSec / 86400);
  const secs = totalSec - days * 86400;
  const c = civilFromDays(days);
  if (c.year < 1 || c.year > 294276) return null;
  return {
    ...c,
    hour: Math.floor(secs / 3600),
    minute: Math.floor((secs % 3600) / 60),
    second: secs % 60,
    micros,
    offset: 0,
  };
}
