/**
 * JSON record -> CSV row for `COPY ... WITH (FORMAT csv)`, with Redshift
 * `COPY ... FORMAT AS JSON` semantics. Shared by the PGlite and PostgreSQL
 * loaders; pure (no database), so it is unit-testable on its own.
 *
 * Rules (Redshift's, where it has one):
 * - mapping `auto`: a column takes the top-level key with exactly its name;
 *   `auto ignorecase`: keys match column names case-insensitively;
 *   `jsonpaths`: the i-th path gives the i-th column. A missing key is NULL.
 * - text/varchar/char: strings as is; numbers and booleans as their JSON text;
 *   objects and arrays as JSON text; a value longer than varchar(n) (counted
 *   in UTF-8 bytes, as Redshift does) rejects the line; `""` stays `""`.
 * - smallint/integer/bigint: JSON integers or integer strings, in range; a
 *   fraction (1.5 or "1.5") rejects the line.
 * - numeric/real/double: JSON numbers or numeric strings; numeric(p,s)
 *   overflow rejects the line.
 * - boolean: true/false, 1/0, and t/f/true/false/yes/no/y/n/on/off/1/0 strings.
 * - timestamp[tz]/date: with `epochmillisecs` a number or numeric string of
 *   epoch milliseconds (UTC); with `auto` ISO-8601 style strings
 *   (`2018-11-01 21:01:46.796`, `2018-11-01T21:01:46Z`, `+02:00` offsets are
 *   converted to UTC) or epoch numbers (>= 1e11 read as milliseconds, else
 *   seconds).
 * - `""` (or only spaces) is NULL for every non-text column.
 * - NULL into a NOT NULL column rejects the line; so does a NUL character.
 */
import { LoadError } from '../../errors.js';
import type { JsonMapping } from '../../interfaces.js';
import { compileJsonPath, followPath, type PathStep } from './jsonpaths.js';

export type ColumnKind =
  | 'text'
  | 'smallint'
  | 'integer'
  | 'bigint'
  | 'numeric'
  | 'real'
  | 'double'
  | 'boolean'
  | 'timestamp'
  | 'timestamptz'
  | 'date'
  | 'json'
  | 'other';

/** A target column, as read from information_schema.columns. */
export interface ColumnInfo {
  name: string;
  /** information_schema data_type, e.g. 'character varying'. */
  dataType: string;
  kind: ColumnKind;
  nullable: boolean;
  /** varchar(n)/char(n) length. */
  maxLength: number | null;
  /** numeric(p, s) */
  precision: number | null;
  scale: number | null;
}

export type RowResult = { ok: true; csv: string } | { ok: false; column: string | null; value: string | null; reason: string };

export type RowConverter = (record: unknown) => RowResult;

/** Maps an information_schema data_type to the conversion it needs. */
export function columnKind(dataType: string): ColumnKind {
  switch (dataType.toLowerCase()) {
    case 'text':
    case 'character varying':
    case 'character':
    case 'varchar':
    case 'char':
    case 'bpchar':
    case 'name':
    case 'citext':
      return 'text';
    case 'smallint':
      return 'smallint';
    case 'integer':
      return 'integer';
    case 'bigint':
      return 'bigint';
    case 'numeric':
    case 'decimal':
      return 'numeric';
    case 'real':
      return 'real';
    case 'double precision':
      return 'double';
    case 'boolean':
      return 'boolean';
    case 'timestamp without time zone':
      return 'timestamp';
    case 'timestamp with time zone':
      return 'timestamptz';
    case 'date':
      return 'date';
    case 'json':
    case 'jsonb':
      return 'json';
    default:
      return 'other';
  }
}

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

function textField(col: ColumnInfo): FieldFn {
  const max = col.maxLength;
  return (v) => {
    const s = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
    if (s.includes('\u0000')) return new Bad('text contains a NUL (0x00) character');
    if (max !== null && s.length * 3 > max) {
      const bytes = s.length > max ? s.length : Buffer.byteLength(s, 'utf8');
      if (bytes > max) return new Bad(`value is ${bytes} bytes, longer than ${col.dataType}(${max})`);
    }
    return csvText(s);
  };
}

function intField(col: ColumnInfo, kind: 'smallint' | 'integer' | 'bigint'): FieldFn {
  const [lo, hi] = INT_RANGE[kind];
  const outOfRange = (s: string) => new Bad(`value ${s} is out of range for ${kind}`);
  return (v) => {
    let s: string;
    if (typeof v === 'number') {
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

function decimalField(col: ColumnInfo, kind: 'numeric' | 'real' | 'double'): FieldFn {
  const limit = kind === 'numeric' && col.precision !== null ? Math.pow(10, col.precision - (col.scale ?? 0)) : undefined;
  const scaleFactor = Math.pow(10, col.scale ?? 0);
  return (v) => {
    let s: string;
    let x: number;
    if (typeof v === 'number') {
      x = v;
      s = String(v);
    } else if (typeof v === 'string') {
      s = v.trim();
      if (!NUMERIC_STRING.test(s)) return new Bad(`invalid ${col.dataType} value ${JSON.stringify(v)}`);
      x = Number(s);
    } else {
      return new Bad(`invalid ${col.dataType} value: JSON ${Array.isArray(v) ? 'array' : typeof v}`);
    }
    if (!Number.isFinite(x)) return new Bad(`value ${s} is out of range for ${col.dataType}`);
    if (kind === 'real' && Math.abs(x) > REAL_MAX) return new Bad(`value ${s} is out of range for real`);
    if (limit !== undefined && Math.abs(Math.round(x * scaleFactor) / scaleFactor) >= limit) {
      return new Bad(`numeric field overflow: ${s} does not fit numeric(${col.precision},${col.scale ?? 0})`);
    }
    return s;
  };
}

const TRUE_WORDS = new Set(['t', 'true', 'y', 'yes', 'on', '1']);
const FALSE_WORDS = new Set(['f', 'false', 'n', 'no', 'off', '0']);

function booleanField(): FieldFn {
  return (v) => {
    if (typeof v === 'boolean') return v ? 't' : 'f';
    if (v === 1 || v === 0) return v === 1 ? 't' : 'f';
    if (typeof v === 'string') {
      const w = v.trim().toLowerCase();
      if (TRUE_WORDS.has(w)) return 't';
      if (FALSE_WORDS.has(w)) return 'f';
    }
    if (v !== null && typeof v === 'object') {
      return new Bad(`invalid boolean value: JSON ${Array.isArray(v) ? 'array' : 'object'}`);
    }
    return new Bad(`invalid boolean value ${JSON.stringify(v)}`);
  };
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Formats epoch milliseconds (may have a fraction) as a UTC timestamp with microseconds. */
function formatEpochMs(ms: number, withDate: 'timestamp' | 'date'): string | Bad {
  const totalMicros = Math.round(ms * 1000);
  const whole = Math.floor(totalMicros / 1000);
  const d = new Date(whole);
  const year = d.getUTCFullYear();
  if (Number.isNaN(d.getTime()) || year < 1 || year > 9999) return new Bad(`epoch ${ms} is out of range`);
  const date = `${pad(year, 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  if (withDate === 'date') return date;
  const micros = d.getUTCMilliseconds() * 1000 + (totalMicros - whole * 1000);
  return `${date} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(micros, 6)}`;
}

const ISO_TS =
  /^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|UTC|[+-]\d{2}(?::?\d{2})?)?$/i;

/** Parses an ISO-style date/time string to a canonical UTC text, or Bad. */
function parseIsoString(s: string, target: 'timestamp' | 'date'): string | Bad {
  const m = ISO_TS.exec(s);
  if (!m) return new Bad(`invalid ${target} value ${JSON.stringify(s)}`);
  const [, y, mo, d, h = '0', mi = '0', sec = '0', frac = '', zone] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const t = Date.UTC(year, month - 1, day, Number(h), Number(mi), Number(sec));
  const check = new Date(Date.UTC(year, month - 1, day));
  if (
    check.getUTCMonth() !== month - 1 ||
    check.getUTCDate() !== day ||
    Number(h) > 23 ||
    Number(mi) > 59 ||
    Number(sec) > 59 ||
    year < 1
  ) {
    return new Bad(`invalid ${target} value ${JSON.stringify(s)}`);
  }
  if (target === 'date') return `${y}-${pad(month)}-${pad(day)}`;
  let offsetMin = 0;
  if (zone && !/^(Z|UTC)$/i.test(zone)) {
    const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone)!;
    offsetMin = (z[1] === '-' ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3] ?? 0));
  }
  const micros = frac ? frac.slice(0, 6).padEnd(6, '0') : '000000';
  const base = formatEpochMs(t - offsetMin * 60_000, 'timestamp');
  if (base instanceof Bad) return base;
  return `${base.slice(0, 20)}${micros}`;
}

function temporalField(kind: 'timestamp' | 'timestamptz' | 'date', timeformat: 'epochmillisecs' | 'auto'): FieldFn {
  const target = kind === 'date' ? 'date' : 'timestamp';
  const suffix = kind === 'timestamptz' ? '+00' : '';
  const done = (r: string | Bad) => (r instanceof Bad ? r : r + suffix);
  return (v) => {
    let num: number | undefined;
    if (typeof v === 'number') num = v;
    else if (typeof v === 'string' && NUMERIC_STRING.test(v.trim())) num = Number(v.trim());
    else if (typeof v !== 'string') return new Bad(`invalid ${kind} value: JSON ${Array.isArray(v) ? 'array' : typeof v}`);
    if (timeformat === 'epochmillisecs') {
      if (num === undefined) return new Bad(`invalid ${kind} value ${JSON.stringify(v)}: not epoch milliseconds`);
      return done(formatEpochMs(num, target));
    }
    if (num !== undefined) return done(formatEpochMs(Math.abs(num) >= 1e11 ? num : num * 1000, target));
    return done(parseIsoString((v as string).trim(), target));
  };
}

function jsonField(): FieldFn {
  return (v) => csvText(JSON.stringify(v));
}

/** The conversion for one column. Non-text columns read "" as NULL. */
export function fieldFor(col: ColumnInfo, timeformat: 'epochmillisecs' | 'auto'): { fn: FieldFn; blankIsNull: boolean } {
  switch (col.kind) {
    case 'text':
      return { fn: textField(col), blankIsNull: false };
    case 'other':
      return { fn: textField(col), blankIsNull: true };
    case 'smallint':
    case 'integer':
    case 'bigint':
      return { fn: intField(col, col.kind), blankIsNull: true };
    case 'numeric':
    case 'real':
    case 'double':
      return { fn: decimalField(col, col.kind), blankIsNull: true };
    case 'boolean':
      return { fn: booleanField(), blankIsNull: true };
    case 'timestamp':
    case 'timestamptz':
    case 'date':
      return { fn: temporalField(col.kind, timeformat), blankIsNull: true };
    case 'json':
      return { fn: jsonField(), blankIsNull: false };
  }
}

/** Picks each column's JSON value from a record, per the mapping. */
function makeExtractor(columns: readonly ColumnInfo[], mapping: JsonMapping): (rec: unknown) => unknown[] | Bad {
  const names = columns.map((c) => c.name);
  if (mapping.kind === 'jsonpaths') {
    if (mapping.paths.length !== columns.length) {
      throw new LoadError(
        `JSONPaths file ${mapping.file} has ${mapping.paths.length} paths but the table has ${columns.length} columns ` +
          `(${names.join(', ')}); they must match one to one, in column order`,
        mapping.file,
      );
    }
    const compiled: PathStep[][] = mapping.paths.map((p, i) => compileJsonPath(p, mapping.file, i));
    return (rec) => {
      if (rec === null || typeof rec !== 'object') return new Bad('record is not a JSON object or array');
      return compiled.map((steps) => followPath(rec, steps));
    };
  }
  if (mapping.kind === 'auto') {
    return (rec) => {
      if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) return new Bad('record is not a JSON object');
      const o = rec as Record<string, unknown>;
      return names.map((n) => (Object.prototype.hasOwnProperty.call(o, n) ? o[n] : undefined));
    };
  }
  const index = new Map<string, number>();
  names.forEach((n, i) => {
    if (!index.has(n.toLowerCase())) index.set(n.toLowerCase(), i);
  });
  return (rec) => {
    if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) return new Bad('record is not a JSON object');
    const values: unknown[] = new Array(names.length).fill(undefined);
    const seen: boolean[] = new Array(names.length).fill(false);
    for (const [k, v] of Object.entries(rec as Record<string, unknown>)) {
      const i = index.get(k.toLowerCase());
      if (i !== undefined && !seen[i]) {
        values[i] = v;
        seen[i] = true;
      }
    }
    return values;
  };
}

/**
 * Builds the converter for a table: record -> one CSV line (ending in \n) in
 * column order, or a rejection naming the column, the value and why.
 * Throws a LoadError up front when a JSONPaths mapping does not fit the table.
 */
export function createRowConverter(
  columns: readonly ColumnInfo[],
  mapping: JsonMapping,
  timeformat: 'epochmillisecs' | 'auto',
): RowConverter {
  const extract = makeExtractor(columns, mapping);
  const fields = columns.map((c) => fieldFor(c, timeformat));
  const n = columns.length;
  return (record) => {
    const values = extract(record);
    if (values instanceof Bad) return { ok: false, column: null, value: showValue(record), reason: values.reason };
    // Joined from an array so the row is one flat string (a chain of += makes
    // rope strings that cost much more to keep and collect in a 50k-row chunk).
    const parts = new Array<string>(n);
    for (let i = 0; i < n; i++) {
      const v = values[i];
      const f = fields[i]!;
      let out: string | Bad;
      if (v === undefined || v === null || (f.blankIsNull && isBlank(v))) {
        if (!columns[i]!.nullable) {
          return { ok: false, column: columns[i]!.name, value: showValue(v), reason: 'NULL value in a NOT NULL column' };
        }
        out = '';
      } else if (typeof v === 'object' && nestedDeeperThan(v)) {
        const reason = `JSON nested deeper than ${MAX_JSON_DEPTH} levels`;
        return { ok: false, column: columns[i]!.name, value: showValue(v), reason };
      } else {
        out = f.fn(v);
        if (out instanceof Bad) return { ok: false, column: columns[i]!.name, value: showValue(v), reason: out.reason };
      }
      parts[i] = out;
    }
    if (n === 0) return { ok: true, csv: '\n' };
    parts[n - 1] += '\n';
    return { ok: true, csv: parts.join(',') };
  };
}
