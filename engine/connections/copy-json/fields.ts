/**
 * One column's conversion: a JSON value in, the CSV field PostgreSQL reads
 * (or a Bad naming why the value is refused, as Redshift would), per column
 * kind, following the rules listed in convert.ts. Also how a refused value is
 * shown, and the nesting limit of JSON values.
 */
import {
  compileFormat,
  fieldsFromEpochMs,
  formatDate,
  formatTimestamp,
  parseAuto,
  type DateTimeFields,
  type FormatParser,
} from './datetime.js';
import { INVALID_BYTE, JsonNumber, stringifyJson } from './lossless.js';
import type { ColumnInfo, ConvertOptions } from './columns.js';

/** A value a column refused; becomes a Rejection. */
export class Bad {
  constructor(readonly reason: string) {}
}

export type FieldFn = (v: unknown) => string | Bad;

const MAX_SHOWN = 256;

/**
 * How deep a JSON value written to a column may nest; a deeper one rejects
 * its line ("JSON nested deeper than 1000 levels"), counted against MAXERROR.
 * Serialising a value (JSON.stringify, PostgreSQL's json parser) recurses
 * once per level: V8 overflows its stack near 4,500 levels and PGlite loses
 * its session near 10,000, which used to end the whole load with "Maximum
 * call stack size exceeded" and no object or line. 1000 levels is far beyond
 * real data (event logs and song metadata are flat; nested API payloads run
 * to tens of levels), leaves a wide margin under both limits whatever the
 * caller's stack, and is well within what a VARCHAR(65535) column can hold
 * anyway (a value 1000 levels deep is at least 2,000 bytes).
 */
export const MAX_JSON_DEPTH = 1000;

/** Whether a parsed JSON value nests deeper than `limit` levels. Iterative, so any depth is safe to ask about. */
export function nestedDeeperThan(v: unknown, limit: number = MAX_JSON_DEPTH): boolean {
  if (v === null || typeof v !== 'object') return false;
  const values: unknown[] = [v];
  const depths: number[] = [1];
  while (values.length > 0) {
    const x = values.pop() as object;
    const d = depths.pop()!;
    if (d > limit) return true;
    const children = Array.isArray(x) ? (x as unknown[]) : Object.values(x);
    for (const c of children) {
      if (c !== null && typeof c === 'object') {
        values.push(c);
        depths.push(d + 1);
      }
    }
  }
  return false;
}

/**
 * The first `max` characters (or a few more) of JSON.stringify(v), exactly
 * as it would write them, without recursion and without serialising the
 * rest: a rejected record may be huge or nested beyond what JSON.stringify
 * survives.
 */
function jsonPrefix(v: unknown, max: number): string {
  type Frame =
    | { arr: unknown[]; obj?: undefined; keys?: undefined; i: number }
    | { arr?: undefined; obj: Record<string, unknown>; keys: string[]; i: number };
  const stack: Frame[] = [];
  let s = '';
  const open = (x: unknown) => {
    if (Array.isArray(x)) {
      s += '[';
      stack.push({ arr: x as unknown[], i: 0 });
    } else if (x instanceof JsonNumber) {
      s += x.text;
    } else if (x !== null && typeof x === 'object') {
      s += '{';
      stack.push({ obj: x as Record<string, unknown>, keys: Object.keys(x), i: 0 });
    } else {
      s += JSON.stringify(x) ?? 'null';
    }
  };
  open(v);
  while (stack.length > 0 && s.length < max) {
    const f = stack[stack.length - 1]!;
    const n = f.keys !== undefined ? f.keys.length : f.arr.length;
    if (f.i >= n) {
      s += f.keys !== undefined ? '}' : ']';
      stack.pop();
      continue;
    }
    if (f.i > 0) s += ',';
    let x: unknown;
    if (f.keys !== undefined) {
      const k = f.keys[f.i]!;
      s += `${JSON.stringify(k)}:`;
      x = f.obj[k];
    } else x = f.arr[f.i];
    f.i++;
    open(x);
  }
  return s;
}

/** How a rejected value is shown (like stl_load_errors.raw_field_value): truncated. */
export function showValue(v: unknown): string | null {
  if (v === undefined) return null;
  const s = typeof v === 'string' ? v : jsonPrefix(v, MAX_SHOWN + 1);
  return s.length > MAX_SHOWN ? `${s.slice(0, MAX_SHOWN)}…` : s;
}

/** Quotes a CSV text field: always quoted, so "" is an empty string and an unquoted empty field is NULL. */
export function csvText(s: string): string {
  return s.includes('"') ? `"${s.replace(/"/g, '""')}"` : `"${s}"`;
}

const INT_RANGE: Record<'smallint' | 'integer' | 'bigint', [bigint, bigint]> = {
  smallint: [-32768n, 32767n],
  integer: [-2147483648n, 2147483647n],
  bigint: [-9223372036854775808n, 9223372036854775807n],
};
const NUMERIC_STRING = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const INTEGER_STRING = /^[+-]?\d+$/;
const REAL_MAX = 3.4028234663852886e38;

export function isBlank(v: unknown): boolean {
  return typeof v === 'string' && v.trim() === '';
}

/** Redshift's own words for a value longer than its column (error 1204). */
const TOO_LONG = 'String length exceeds DDL length';

/**
 * The longest prefix of s whose UTF-8 encoding fits in max bytes, never
 * splitting a character (TRUNCATECOLUMNS truncates whole characters).
 */
function truncateToBytes(s: string, max: number): string {
  let bytes = 0;
  let i = 0;
  while (i < s.length) {
    const cp = s.codePointAt(i)!;
    const n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (bytes + n > max) break;
    bytes += n;
    i += cp >= 0x10000 ? 2 : 1;
  }
  return s.slice(0, i);
}

function textField(col: ColumnInfo, opts: ConvertOptions): FieldFn {
  const max = col.maxLength;
  const isChar = /^(character|char|bpchar)$/i.test(col.dataType);
  const replacement = opts.acceptinvchars;
  return (v) => {
    let s = typeof v === 'string' ? v : v instanceof JsonNumber ? v.text : typeof v === 'object' ? stringifyJson(v) : String(v);
    if (s.includes('\u0000')) return new Bad('text contains a NUL (0x00) character');
    if (s.includes(INVALID_BYTE)) {
      if (replacement === null) {
        return new Bad(
          'String contains invalid or unsupported UTF8 codepoints (error 1220); ' +
            "fix the data, or set acceptinvchars to replace them (e.g. acceptinvchars: '?')",
        );
      }
      s = s.split(INVALID_BYTE).join(replacement);
    }
    if (isChar) {
      // eslint-disable-next-line no-control-regex
      const multi = /[^\u0000-\u007f]/.exec(s);
      if (multi) {
        const hex = Buffer.from(multi[0])
          .toString('hex')
          .replace(/(..)(?!$)/g, '$1 ');
        return new Bad(`Multibyte character not supported for CHAR (Hint: try using VARCHAR). Invalid char: ${hex}`);
      }
    }
    if (max !== null && s.length * 3 > max) {
      const bytes = s.length > max ? s.length : Buffer.byteLength(s, 'utf8');
      if (bytes > max) {
        const head = truncateToBytes(s, max);
        if (/^ *$/.test(s.slice(head.length)) || opts.truncatecolumns) s = head;
        else return new Bad(`value is ${bytes} bytes, longer than ${col.dataType}(${max}) (${TOO_LONG})`);
      }
    }
    return csvText(s);
  };
}

/** The text of a JSON number or numeric string, or undefined. */
function numberText(v: unknown): string | undefined {
  if (typeof v === 'number') return String(v);
  if (v instanceof JsonNumber) return v.text;
  return undefined;
}

function intField(col: ColumnInfo, kind: 'smallint' | 'integer' | 'bigint'): FieldFn {
  const [lo, hi] = INT_RANGE[kind];
  const outOfRange = (s: string) => new Bad(`value ${s} is out of range for ${kind}`);
  return (v) => {
    let s: string;
    if (v instanceof JsonNumber) {
      if (!INTEGER_STRING.test(v.text)) {
        return new Bad(`invalid ${kind} value ${v.text}: ${/[eE]/.test(v.text) ? 'has an exponent' : 'has a fraction'}`);
      }
      s = v.text;
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) return new Bad(`invalid ${kind} value`);
      if (!Number.isInteger(v)) return new Bad(`invalid ${kind} value ${v}: has a fraction`);
      s = Number.isSafeInteger(v) ? String(v) : BigInt(v).toString();
    } else if (typeof v === 'string') {
      s = v.trim();
      if (!INTEGER_STRING.test(s)) return new Bad(`invalid ${kind} value ${JSON.stringify(v)}`);
    } else {
      return new Bad(`invalid ${kind} value: JSON ${Array.isArray(v) ? 'array' : typeof v}`);
    }
    if (s.length > 4) {
      const b = BigInt(s);
      if (b < lo || b > hi) return outOfRange(s);
      return b.toString();
    }
    return s;
  };
}

const DECIMAL_PARTS = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/**
 * A decimal text cut to `scale` fractional digits: truncated, as Redshift
 * does by default, or rounded half away from zero with ROUNDEC. Null when
 * the exponent is absurd (the caller reports overflow).
 */
export function scaleDecimal(text: string, scale: number, round: boolean): { sign: string; int: string; frac: string } | null {
  const m = DECIMAL_PARTS.exec(text)!;
  const exp = Number(m[4] ?? 0);
  if (Math.abs(exp) > 4096) return null;
  const digits = (m[2] ?? '') + (m[3] ?? '');
  let point = (m[2] ?? '').length + exp;
  let all = digits;
  if (point < 0) {
    all = '0'.repeat(-point) + all;
    point = 0;
  }
  if (point > all.length) all = all.padEnd(point, '0');
  let int = all.slice(0, point);
  let frac = all.slice(point);
  const rest = frac.slice(scale);
  frac = frac.slice(0, scale).padEnd(scale, '0');
  if (round && rest.length > 0 && rest.charCodeAt(0) >= 53) {
    // add one unit in the last kept place
    const whole = (int + frac).split('');
    let k = whole.length - 1;
    while (k >= 0 && whole[k] === '9') whole[k--] = '0';
    if (k >= 0) whole[k] = String(Number(whole[k]) + 1);
    else whole.unshift('1');
    const joined = whole.join('');
    int = joined.slice(0, joined.length - scale);
    frac = joined.slice(joined.length - scale);
  }
  int = int.replace(/^0+/, '');
  return { sign: m[1] === '-' ? '-' : '', int, frac };
}

function decimalField(col: ColumnInfo, kind: 'numeric' | 'real' | 'double', opts: ConvertOptions): FieldFn {
  const scale = kind === 'numeric' && col.precision !== null ? (col.scale ?? 0) : null;
  const intDigits = scale !== null ? col.precision! - scale : 0;
  return (v) => {
    let s = numberText(v);
    if (s === undefined) {
      if (typeof v !== 'string') {
        return new Bad(`invalid ${col.dataType} value: JSON ${Array.isArray(v) ? 'array' : typeof v}`);
      }
      s = v.trim();
      if (!NUMERIC_STRING.test(s)) return new Bad(`invalid ${col.dataType} value ${JSON.stringify(v)}`);
    }
    const x = Number(s);
    if (!Number.isFinite(x)) return new Bad(`value ${s} is out of range for ${col.dataType}`);
    if (kind === 'real' && Math.abs(x) > REAL_MAX) return new Bad(`value ${s} is out of range for real`);
    if (scale !== null) {
      const d = scaleDecimal(s, scale, opts.roundec);
      if (d === null || d.int.length > intDigits) {
        return new Bad(`numeric field overflow: ${s} does not fit numeric(${col.precision},${scale})`);
      }
      return `${d.sign}${d.int || '0'}${scale > 0 ? `.${d.frac}` : ''}`;
    }
    return s;
  };
}

/** Redshift's boolean literals (r_Boolean_type), case-insensitive. */
const TRUE_WORDS = new Set(['t', 'true', 'y', 'yes', '1']);
const FALSE_WORDS = new Set(['f', 'false', 'n', 'no', '0']);

function booleanField(): FieldFn {
  return (v) => {
    if (typeof v === 'boolean') return v ? 't' : 'f';
    if (v === 1 || v === 0) return v === 1 ? 't' : 'f';
    if (typeof v === 'string') {
      const w = v.trim().toLowerCase();
      if (TRUE_WORDS.has(w)) return 't';
      if (FALSE_WORDS.has(w)) return 'f';
    }
    if (v instanceof JsonNumber) return new Bad(`invalid boolean value ${v.text}`);
    if (v !== null && typeof v === 'object') {
      return new Bad(`invalid boolean value: JSON ${Array.isArray(v) ? 'array' : 'object'}`);
    }
    return new Bad(`invalid boolean value ${JSON.stringify(v)}`);
  };
}

/** How one TIMEFORMAT / DATEFORMAT reads a value into calendar fields. */
function dateTimeReader(format: string, kind: string): (v: unknown) => DateTimeFields | Bad {
  const what = (v: unknown) =>
    typeof v === 'string'
      ? JSON.stringify(v)
      : typeof v === 'number'
        ? String(v)
        : v instanceof JsonNumber
          ? v.text
          : `JSON ${Array.isArray(v) ? 'array' : typeof v}`;
  const lower = format.toLowerCase();
  if (lower === 'epochmillisecs' || lower === 'epochsecs') {
    const scale = lower === 'epochsecs' ? 1000 : 1;
    return (v) => {
      let num: number | undefined;
      if (typeof v === 'number') num = v;
      else if (v instanceof JsonNumber) num = Number(v.text);
      else if (typeof v === 'string' && NUMERIC_STRING.test(v.trim())) num = Number(v.trim());
      if (num === undefined)
        return new Bad(`invalid ${kind} value ${what(v)}: not ${lower === 'epochsecs' ? 'epoch seconds' : 'epoch milliseconds'}`);
      return fieldsFromEpochMs(num * scale) ?? new Bad(`epoch ${num} is out of range for ${kind}`);
    };
  }
  const parse: FormatParser = lower === 'auto' ? parseAuto : (compileFormat(format) as FormatParser);
  const named = lower === 'auto' ? "'auto'" : `'${format}'`;
  return (v) => {
    if (typeof v !== 'string') {
      const hint =
        (typeof v === 'number' || v instanceof JsonNumber) && kind !== 'date'
          ? "; epoch numbers need timeformat 'epochsecs' or 'epochmillisecs'"
          : '';
      return new Bad(`invalid ${kind} value ${what(v)}${hint}`);
    }
    return (
      parse(v) ??
      new Bad(
        `invalid ${kind} value ${JSON.stringify(v)}: does not match ${kind === 'date' ? 'DATEFORMAT' : 'TIMEFORMAT'} ${named}`,
      )
    );
  };
}

function temporalField(kind: 'timestamp' | 'timestamptz' | 'date', opts: ConvertOptions): FieldFn {
  if (kind === 'date') {
    const read = dateTimeReader(opts.dateformat, 'date');
    return (v) => {
      const f = read(v);
      return f instanceof Bad ? f : formatDate(f);
    };
  }
  const read = dateTimeReader(opts.timeformat, kind);
  const utc = kind === 'timestamptz';
  return (v) => {
    const f = read(v);
    return f instanceof Bad ? f : formatTimestamp(f, utc);
  };
}

function jsonField(): FieldFn {
  return (v) => csvText(stringifyJson(v));
}

/** The conversion for one column. Non-text columns read "" as NULL. */
export function fieldFor(col: ColumnInfo, opts: ConvertOptions): { fn: FieldFn; blankIsNull: boolean } {
  switch (col.kind) {
    case 'text':
      return { fn: textField(col, opts), blankIsNull: false };
    case 'other':
      return { fn: textField(col, opts), blankIsNull: true };
    case 'smallint':
    case 'integer':
    case 'bigint':
      return { fn: intField(col, col.kind), blankIsNull: true };
    case 'numeric':
    case 'real':
    case 'double':
      return { fn: decimalField(col, col.kind, opts), blankIsNull: true };
    case 'boolean':
      return { fn: booleanField(), blankIsNull: true };
    case 'timestamp':
    case 'timestamptz':
    case 'date':
      return { fn: temporalField(col.kind, opts), blankIsNull: true };
    case 'json':
      return { fn: jsonField(), blankIsNull: false };
  }
}
