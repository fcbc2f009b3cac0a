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
import { BAD_INDEX, BAD_INDEX_MESSAGE, compileJsonPath, followPath, type PathStep } from './jsonpaths.js';
import { checkConvertOptions, convertOptions, type ColumnInfo, type ConvertOptions } from './columns.js';
import { Bad, fieldFor, isBlank, MAX_JSON_DEPTH, nestedDeeperThan, showValue } from './fields.js';

export * from './columns.js';
export {
  Bad,
  csvText,
  fieldFor,
  isBlank,
  MAX_JSON_DEPTH,
  nestedDeeperThan,
  scaleDecimal,
  showValue,
  type FieldFn,
} from './fields.js';

/**
 * A converted row, or a rejected one. `fatal` marks what fails the whole load
 * in Redshift rather than counting toward MAXERROR (a JSONPaths index error).
 */
export type RowResult =
  { ok: true; csv: string } | { ok: false; column: string | null; value: string | null; reason: string; fatal?: boolean };

export type RowConverter = (record: unknown) => RowResult;

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
