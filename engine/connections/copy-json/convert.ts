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
 *   in UTF-8 bytes, as Redshift does) rejects the line unless the excess is
 *   blanks (truncated) or TRUNCATECOLUMNS is set; CHAR takes single-byte
 *   characters only; invalid UTF-8 rejects the line (error 1220) unless
 *   ACCEPTINVCHARS gives a replacement; `""` stays `""`.
 * - smallint/integer/bigint: JSON integers or integer strings, in range, every
 *   digit kept (numbers are parsed losslessly); a fraction rejects the line.
 * - numeric(p,s): extra fractional digits are truncated (rounded with
 *   ROUNDEC); overflow rejects the line. real/double: JSON numbers or numeric strings.
 * - boolean: true/false, 1/0, and Redshift's literals t/true/y/yes/1, f/false/n/no/0.
 * - timestamp[tz]: TIMEFORMAT 'auto' (AWS's automatic-recognition table, no
 *   epoch numbers), 'epochsecs', 'epochmillisecs' or a format string. TIMESTAMP
 *   ignores a zone in the input; TIMESTAMPTZ is converted to UTC.
 * - date: DATEFORMAT (default 'YYYY-MM-DD', or 'auto', or a format string).
 * - `""` (or only spaces) is NULL for every non-text column.
 * - NULL into a NOT NULL column rejects the line; so does a NUL character.
 */
import { LoadError } from '../../errors.js';
import type { JsonMapping } from '../../interfaces.js';
import {
  compileFormat,
  fieldsFromEpochMs,
  formatDate,
  formatTimestamp,
  parseAuto,
  type DateTimeFields,
  type FormatParser,
} from './datetime.js';
import { BAD_INDEX, BAD_INDEX_MESSAGE, compileJsonPath, followPath, type PathStep } from './jsonpaths.js';
import { INVALID_BYTE, JsonNumber, stringifyJson } from './lossless.js';

/** The COPY data-conversion options the converter follows (Redshift's names). */
export interface ConvertOptions {
  /** 'auto', 'epochsecs', 'epochmillisecs' or a format string. */
  timeformat: string;
  /** 'auto' or a format string. */
  dateformat: string;
  roundec: boolean;
  truncatecolumns: boolean;
  /** Replacement for invalid UTF-8, or null to reject it. */
  acceptinvchars: string | null;
}

/** Options with Redshift's defaults filled in. */
export function convertOptions(timeformat: string, more: Partial<Omit<ConvertOptions, 'timeformat'>> = {}): ConvertOptions {
  return {
    timeformat,
    dateformat: more.dateformat ?? 'YYYY-MM-DD',
    roundec: more.roundec ?? false,
    truncatecolumns: more.truncatecolumns ?? false,
    acceptinvchars: more.acceptinvchars ?? null,
  };
}

/**
 * Why a TIMEFORMAT / DATEFORMAT / ACCEPTINVCHARS value cannot be used, or
 * null when it can: checked when a DAG is validated and again before a load.
 */
export function checkConvertOptions(o: Partial<ConvertOptions>): string | null {
  if (o.timeformat !== undefined && !/^(auto|epochsecs|epochmillisecs)$/i.test(o.timeformat)) {
    const f = compileFormat(o.timeformat);
    if (typeof f === 'string') return `timeformat: ${f}; or use 'auto', 'epochsecs' or 'epochmillisecs'`;
  }
  if (o.dateformat !== undefined && !/^auto$/i.test(o.dateformat)) {
    if (/^epoch/i.test(o.dateformat)) return `dateformat: ${o.dateformat} is a TIMEFORMAT only; use 'auto' or a format string`;
    const f = compileFormat(o.dateformat);
    if (typeof f === 'string') return `dateformat: ${f}; or use 'auto'`;
  }
  if (o.acceptinvchars !== undefined && o.acceptinvchars !== null) {
    if (Buffer.byteLength(o.acceptinvchars, 'utf8') !== 1 || o.acceptinvchars === '\u0000') {
      return `acceptinvchars: the replacement must be one ASCII character other than NUL, not ${JSON.stringify(o.acceptinvchars)}`;
    }
  }
  return null;
}

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

/**
 * A converted row, or a rejected one. `fatal` marks what fails the whole load
 * in Redshift rather than counting toward MAXERROR (a JSONPaths index error).
 */
export type RowResult =
  { ok: true; csv: string } | { ok: false; column: string | null; value: string | null; reason: string; fatal?: boolean };

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
  timeformat: string,
  options: Partial<Omit<ConvertOptions, 'timeformat'>> = {},
): RowConverter {
  const extract = makeExtractor(columns, mapping);
  const opts = convertOptions(timeformat, options);
  const problem = checkConvertOptions(opts);
  if (problem !== null) throw new LoadError(problem);
  const fields = columns.map((c) => fieldFor(c, opts));
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
      if (v === BAD_INDEX) {
        return { ok: false, column: columns[i]!.name, value: null, reason: BAD_INDEX_MESSAGE, fatal: true };
      }
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
