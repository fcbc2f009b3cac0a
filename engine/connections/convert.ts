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
import { LoadError } from '../errors.js';
import type { JsonMapping } from '../interfaces.js';
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

export type RowResult =
  | { ok: true; csv: string }
  | { ok: false; column: string | null; value: string | null; reason: string };

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
class Bad {
  constructor(readonly reason: string) {}
}

type FieldFn = (v: unknown) => string | Bad;

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

function isBlank(v: unknown): boolean {
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
  const limit =
    kind === 'numeric' && col.precision !== null ? Math.pow(10, col.precision - (col.scale ?? 0)) : undefined;
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
function fieldFor(col: ColumnInfo, timeformat: 'epochmillisecs' | 'auto'): { fn: FieldFn; blankIsNull: boolean } {
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

// ---------------------------------------------------------------------------
// Fast path: one JSON object line (bytes) -> one CSV row (bytes), no JSON.parse.
// ---------------------------------------------------------------------------

/**
 * A growable output buffer of CSV bytes. Rows are written straight into it;
 * `take()` hands the filled part to a sink and starts a fresh buffer (the
 * sink may keep the one it got, e.g. queued on a socket).
 */
export class CsvBuffer {
  buf: Buffer;
  pos = 0;

  constructor(private readonly size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  /** Makes room for n more bytes. */
  ensure(n: number): void {
    if (this.pos + n > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
      this.buf.copy(next, 0, 0, this.pos);
      this.buf = next;
    }
  }

  /** Appends a string as UTF-8. */
  writeString(s: string): void {
    this.ensure(s.length * 3);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** The bytes written so far; the buffer starts over empty. */
  take(): Buffer {
    const out = this.buf.subarray(0, this.pos);
    this.buf = Buffer.allocUnsafe(Math.max(this.size, this.buf.length));
    this.pos = 0;
    return out;
  }
}

/**
 * Writes the CSV row of the JSON object held in src[start, end) (one line)
 * into out and returns true; returns false, leaving out unchanged, when the
 * line is not handled here (nested values, duplicate keys, a value that must
 * be rejected, anything unusual) — the caller then takes the general path
 * (JSON.parse + RowConverter), which gives the exact result or rejection.
 * What it does write is byte for byte what the RowConverter would write.
 */
export type FastRowEncoder = (src: Buffer, start: number, end: number, out: CsvBuffer) => boolean;

/** What a key's value is (fast path). */
const enum T {
  Missing = 0,
  Null = 1,
  True = 2,
  False = 3,
  Num = 4,
  /** A string of printable ASCII without escapes: its bytes are its text. */
  Str = 5,
  /** A string with escapes or non-ASCII bytes. */
  XStr = 6,
}

/** How a column is written (fast path). */
const enum M {
  Generic = 0,
  Text = 1,
  Int = 2,
  Double = 3,
}

/** Bytes (const enums are inlined: module-level consts would cost a TDZ check per use in the hot loop). */
const enum B {
  Quote = 0x22,
  Backslash = 0x5c,
  Comma = 0x2c,
  Colon = 0x3a,
  LBrace = 0x7b,
  RBrace = 0x7d,
  Minus = 0x2d,
  Dot = 0x2e,
  D0 = 0x30,
  D9 = 0x39,
  NL = 0x0a,
}

function isWs(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0d || b === 0x0a;
}

function hexVal(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  const l = b | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

/**
 * Builds the byte-level encoder for a table, or null when the mapping needs
 * the general path (JSONPaths with nested members or array indexes).
 */
export function createFastRowEncoder(
  columns: readonly ColumnInfo[],
  mapping: JsonMapping,
  timeformat: 'epochmillisecs' | 'auto',
): FastRowEncoder | null {
  const n = columns.length;
  if (n === 0) return null;
  // Each column reads one top-level key ("slot"); keys map to slots.
  const slotOf = new Map<string, number>();
  const colSlot = new Int32Array(n).fill(-1);
  const lowerKeys = mapping.kind === 'auto ignorecase';
  if (mapping.kind === 'jsonpaths') {
    if (mapping.paths.length !== n) return null;
    for (let i = 0; i < n; i++) {
      const steps = compileJsonPath(mapping.paths[i]!, mapping.file, i);
      if (steps.length !== 1 || typeof steps[0] !== 'string') return null;
      const key = steps[0];
      let s = slotOf.get(key);
      if (s === undefined) slotOf.set(key, (s = slotOf.size));
      colSlot[i] = s;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const key = lowerKeys ? columns[i]!.name.toLowerCase() : columns[i]!.name;
      if (slotOf.has(key)) continue; // ignorecase: the first column with the name takes the key
      slotOf.set(key, slotOf.size);
      colSlot[i] = slotOf.get(key)!;
    }
  }
  const slots = slotOf.size;
  const vType = new Uint8Array(slots);
  const vStart = new Int32Array(slots);
  const vEnd = new Int32Array(slots);
  /** A number token that is a plain integer (no fraction, no exponent). */
  const vInt = new Uint8Array(slots);
  const seen = new Int32Array(slots);
  let gen = 0;

  const fields = columns.map((c) => fieldFor(c, timeformat));
  const nullable = columns.map((c) => c.nullable);
  const maxLen = columns.map((c) => c.maxLength ?? -1);
  const mode = columns.map((c) =>
    c.kind === 'text' ? M.Text : c.kind === 'integer' || c.kind === 'bigint' || c.kind === 'smallint' ? M.Int : c.kind === 'double' ? M.Double : M.Generic,
  );
  const intLo = columns.map((c) => (c.kind === 'smallint' ? -32768 : c.kind === 'integer' ? -2147483648 : -Number.MAX_SAFE_INTEGER));
  const intHi = columns.map((c) => (c.kind === 'smallint' ? 32767 : c.kind === 'integer' ? 2147483647 : Number.MAX_SAFE_INTEGER));

  // Key cache by position in the object: records of one file repeat their keys in order.
  const cacheKey: Buffer[] = [];
  const cacheSlot: number[] = [];

  const lookupKey = (src: Buffer, ks: number, ke: number, k: number): number => {
    const cached = cacheKey[k];
    if (cached !== undefined && cached.length === ke - ks) {
      let same = true;
      for (let j = 0; j < cached.length; j++) {
        if (cached[j] !== src[ks + j]) {
          same = false;
          break;
        }
      }
      if (same) return cacheSlot[k]!;
    }
    let key = src.toString('latin1', ks, ke);
    if (lowerKeys) key = key.toLowerCase();
    const slot = slotOf.get(key) ?? -1;
    cacheKey[k] = Buffer.from(src.subarray(ks, ke));
    cacheSlot[k] = slot;
    return slot;
  };

  /** The JSON value of a slot, as JSON.parse would give it. */
  const valueOf = (src: Buffer, s: number): unknown => {
    switch (vType[s]) {
      case T.Null:
        return null;
      case T.True:
        return true;
      case T.False:
        return false;
      case T.Num:
        return Number(src.toString('latin1', vStart[s]!, vEnd[s]!));
      case T.Str:
        return src.toString('latin1', vStart[s]!, vEnd[s]!);
      case T.XStr:
        return JSON.parse(src.toString('utf8', vStart[s]! - 1, vEnd[s]! + 1)) as unknown;
      default:
        return undefined;
    }
  };

  /** Writes an escaped ASCII string as a quoted CSV text field; false when it needs the general path. */
  const writeEscaped = (src: Buffer, s: number, e: number, max: number, out: CsvBuffer): boolean => {
    out.ensure((e - s) * 2 + 2);
    const buf = out.buf;
    let p = out.pos;
    buf[p++] = B.Quote;
    let bytes = 0;
    for (let k = s; k < e; k++) {
      let b = src[k]!;
      if (b >= 0x80) return false;
      if (b === B.Backslash) {
        const c = src[++k]!;
        switch (c) {
          case 0x62: b = 0x08; break; // \b
          case 0x66: b = 0x0c; break; // \f
          case 0x6e: b = 0x0a; break; // \n
          case 0x72: b = 0x0d; break; // \r
          case 0x74: b = 0x09; break; // \t
          case 0x75: { // \uXXXX
            const cp = (hexVal(src[k + 1]!) << 12) | (hexVal(src[k + 2]!) << 8) | (hexVal(src[k + 3]!) << 4) | hexVal(src[k + 4]!);
            if (cp <= 0 || cp >= 0x80) return false;
            b = cp;
            k += 4;
            break;
          }
          default: b = c; // \" \\ \/
        }
      }
      if (b === B.Quote) buf[p++] = B.Quote;
      buf[p++] = b;
      bytes++;
    }
    if (max >= 0 && bytes > max) return false;
    buf[p++] = B.Quote;
    out.pos = p;
    return true;
  };

  /** The general conversion of one column (same rules as createRowConverter); false = reject/decline. */
  const generic = (src: Buffer, col: number, slot: number, t: number, out: CsvBuffer): boolean => {
    let v: unknown;
    try {
      v = t === T.Missing ? undefined : valueOf(src, slot);
    } catch {
      return false;
    }
    const f = fields[col]!;
    if (v === undefined || v === null || (f.blankIsNull && isBlank(v))) return nullable[col]!;
    const r = f.fn(v);
    if (r instanceof Bad) return false;
    out.writeString(r);
    return true;
  };

  const copyBytes = (src: Buffer, s: number, e: number, out: CsvBuffer): void => {
    out.ensure(e - s);
    const buf = out.buf;
    let p = out.pos;
    for (let k = s; k < e; k++) buf[p++] = src[k]!;
    out.pos = p;
  };

  return (src, start, end, out) => {
    // Closure constants read once into locals (each closure read costs a check).
    const vType_ = vType;
    const vStart_ = vStart;
    const vEnd_ = vEnd;
    const vInt_ = vInt;
    const seen_ = seen;
    const colSlot_ = colSlot;
    const mode_ = mode;
    const nullable_ = nullable;
    const maxLen_ = maxLen;
    // ---- scan the object: record each key's value span ----
    if (src[start] !== B.LBrace) return false;
    const g = ++gen;
    let i = start + 1;
    while (i < end && isWs(src[i]!)) i++;
    if (src[i] === B.RBrace) i++;
    else {
      for (let k = 0; ; k++) {
        if (i >= end || src[i] !== B.Quote) return false;
        const ks = ++i;
        let b = 0;
        while (i < end && (b = src[i]!) !== B.Quote) {
          if (b === B.Backslash || b < 0x20 || b >= 0x80) return false;
          i++;
        }
        if (i >= end) return false;
        const slot = lookupKey(src, ks, i, k);
        i++;
        while (i < end && isWs(src[i]!)) i++;
        if (src[i] !== B.Colon) return false;
        i++;
        while (i < end && isWs(src[i]!)) i++;
        if (i >= end) return false;
        // value
        let t: number;
        let vs = i;
        let isInt = 1;
        b = src[i]!;
        if (b === B.Quote) {
          t = T.Str;
          vs = ++i;
          for (;;) {
            if (i >= end) return false;
            b = src[i]!;
            if (b === B.Quote) break;
            if (b === B.Backslash) {
              t = T.XStr;
              const c = src[i + 1];
              if (c === 0x75) {
                if (i + 5 >= end) return false;
                for (let h = 2; h <= 5; h++) if (hexVal(src[i + h]!) < 0) return false;
                i += 6;
                continue;
              }
              if (c !== B.Quote && c !== B.Backslash && c !== 0x2f && c !== 0x62 && c !== 0x66 && c !== 0x6e && c !== 0x72 && c !== 0x74) {
                return false;
              }
              i += 2;
              continue;
            }
            if (b < 0x20) return false;
            if (b >= 0x80) t = T.XStr;
            i++;
          }
          // i at the closing quote
        } else if (b === B.Minus || (b >= B.D0 && b <= B.D9)) {
          t = T.Num;
          if (b === B.Minus) i++;
          b = src[i]!;
          if (b === B.D0) i++;
          else if (b > B.D0 && b <= B.D9) {
            do i++;
            while (i < end && (b = src[i]!) >= B.D0 && b <= B.D9);
          } else return false;
          if (i < end && src[i] === B.Dot) {
            isInt = 0;
            i++;
            const d0 = i;
            while (i < end && (b = src[i]!) >= B.D0 && b <= B.D9) i++;
            if (i === d0) return false;
          }
          if (i < end && (src[i]! | 0x20) === 0x65) {
            isInt = 0;
            i++;
            if (src[i] === 0x2b || src[i] === B.Minus) i++;
            const d0 = i;
            while (i < end && (b = src[i]!) >= B.D0 && b <= B.D9) i++;
            if (i === d0) return false;
          }
        } else if (b === 0x6e && src[i + 1] === 0x75 && src[i + 2] === 0x6c && src[i + 3] === 0x6c) {
          t = T.Null;
          i += 4;
        } else if (b === 0x74 && src[i + 1] === 0x72 && src[i + 2] === 0x75 && src[i + 3] === 0x65) {
          t = T.True;
          i += 4;
        } else if (b === 0x66 && src[i + 1] === 0x61 && src[i + 2] === 0x6c && src[i + 3] === 0x73 && src[i + 4] === 0x65) {
          t = T.False;
          i += 5;
        } else {
          return false; // nested object/array, or not JSON
        }
        if (i > end) return false;
        if (slot >= 0) {
          if (seen_[slot] === g) return false; // duplicate key: JSON.parse keeps the last, leave it to it
          seen_[slot] = g;
          vType_[slot] = t;
          vStart_[slot] = vs;
          vEnd_[slot] = i;
          vInt_[slot] = isInt;
        }
        if (t === T.Str || t === T.XStr) i++; // past the closing quote
        while (i < end && isWs(src[i]!)) i++;
        b = src[i]!;
        if (b === B.Comma) {
          i++;
          while (i < end && isWs(src[i]!)) i++;
          continue;
        }
        if (b === B.RBrace) {
          i++;
          break;
        }
        return false;
      }
    }
    while (i < end && isWs(src[i]!)) i++;
    if (i !== end) return false;

    // ---- emit the row ----
    const rowStart = out.pos;
    for (let c = 0; c < n; c++) {
      if (c > 0) {
        out.ensure(1);
        out.buf[out.pos++] = B.Comma;
      }
      const slot = colSlot_[c]!;
      const t = slot < 0 || seen_[slot] !== g ? T.Missing : vType_[slot]!;
      if (t === T.Missing || t === T.Null) {
        if (!nullable_[c]) {
          out.pos = rowStart;
          return false;
        }
        continue;
      }
      const m = mode_[c]!;
      let ok = false;
      if (m === M.Text) {
        const s = vStart_[slot]!;
        const e = vEnd_[slot]!;
        if (t === T.Str) {
          const max = maxLen_[c]!;
          if (max >= 0 && e - s > max) {
            out.pos = rowStart;
            return false;
          }
          out.ensure(e - s + 2);
          out.buf[out.pos++] = B.Quote;
          copyBytes(src, s, e, out);
          out.buf[out.pos++] = B.Quote;
          ok = true;
        } else if (t === T.XStr) {
          const at = out.pos;
          ok = writeEscaped(src, s, e, maxLen_[c]!, out);
          if (!ok) {
            out.pos = at;
            ok = generic(src, c, slot, t, out);
          }
        } else ok = generic(src, c, slot, t, out);
      } else if (m === M.Int && t === T.Num && vInt_[slot] === 1) {
        const s = vStart_[slot]!;
        const e = vEnd_[slot]!;
        const neg = src[s] === B.Minus;
        const digits = e - s - (neg ? 1 : 0);
        if (digits <= 15 && !(neg && src[s + 1] === B.D0)) {
          let x = 0;
          for (let k = neg ? s + 1 : s; k < e; k++) x = x * 10 + (src[k]! - B.D0);
          if (neg) x = -x;
          ok = x >= intLo[c]! && x <= intHi[c]!;
          if (ok) copyBytes(src, s, e, out);
        } else ok = generic(src, c, slot, t, out);
      } else if (m === M.Double && t === T.Num && vEnd_[slot]! - vStart_[slot]! <= 24 && !(src[vStart_[slot]!] === B.Minus && src[vStart_[slot]! + 1] === B.D0)) {
        // No exponent can overflow here; the server reads the same double from this text as from String(Number(text)).
        const s = vStart_[slot]!;
        const e = vEnd_[slot]!;
        let exp = false;
        for (let k = s; k < e; k++) if ((src[k]! | 0x20) === 0x65) exp = true;
        if (exp) ok = generic(src, c, slot, t, out);
        else {
          copyBytes(src, s, e, out);
          ok = true;
        }
      } else ok = generic(src, c, slot, t, out);
      if (!ok) {
        out.pos = rowStart;
        return false;
      }
    }
    out.ensure(1);
    out.buf[out.pos++] = B.NL;
    return true;
  };
}
