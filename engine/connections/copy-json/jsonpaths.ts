/**
 * Redshift JSONPaths files: `{"jsonpaths": ["$['artist']", "$.auth", "$.a[0]", ...]}`.
 *
 * Supported expressions (what Redshift supports): the root `$` followed by
 * bracket members `['name']` / `["name"]`, dot members `.name` and array
 * indexes `[0]`. No wildcards, filters or slices.
 */
import { LoadError } from '../../errors.js';
import { JsonNumber } from './lossless.js';

/** One step of a compiled path: an object member or an array index. */
export type PathStep = string | number;

/**
 * Parses the text of a JSONPaths file and checks every expression.
 * Errors are LoadErrors naming `file` (and the path's position in the list).
 */
export function parseJsonPaths(text: string, file: string): string[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    throw new LoadError(`JSONPaths file ${file} is not valid JSON: ${(err as Error).message}`, file);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc) || !('jsonpaths' in doc)) {
    throw new LoadError(`JSONPaths file ${file} must be an object with a "jsonpaths" array`, file);
  }
  const paths = (doc as { jsonpaths: unknown }).jsonpaths;
  if (!Array.isArray(paths) || paths.length === 0) {
    throw new LoadError(`JSONPaths file ${file}: "jsonpaths" must be a non-empty array of strings`, file);
  }
  paths.forEach((p, i) => {
    if (typeof p !== 'string') throw new LoadError(`JSONPaths file ${file}: jsonpaths[${i}] is not a string`, file);
    compileJsonPath(p, file, i);
  });
  return paths as string[];
}

/** What reading a JSONPaths file gives: its paths, or Redshift's fallback to 'auto' with a warning. */
export type JsonPathsFile = { kind: 'jsonpaths'; paths: string[] } | { kind: 'auto'; warning: string };

/**
 * Reads a JSONPaths file as COPY does: a document that is an object without
 * a `jsonpaths` key makes COPY fall back to 'auto' (the caller logs the
 * warning); paths that mix bracket members (`$['a']`) and dot members
 * (`$.a`) are refused up front, as Redshift refuses them (array indexes
 * `[0]` go with either notation).
 */
export function readJsonPathsFile(text: string, file: string): JsonPathsFile {
  let doc: unknown;
  try {
    doc = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch {
    doc = undefined; // parseJsonPaths reports it
  }
  if (doc !== null && typeof doc === 'object' && !Array.isArray(doc) && !('jsonpaths' in doc)) {
    return {
      kind: 'auto',
      warning:
        `JSONPaths file ${file} has no "jsonpaths" key: COPY falls back to 'auto' (keys match column names), ` +
        `as Redshift does; add {"jsonpaths": [...]} or set json: auto to silence this`,
    };
  }
  const paths = parseJsonPaths(text, file);
  checkNotation(paths, file);
  return { kind: 'jsonpaths', paths };
}

/** Throws a LoadError when the paths mix bracket and dot notation. */
export function checkNotation(paths: readonly string[], file: string): void {
  let dot: number | undefined;
  let bracket: number | undefined;
  paths.forEach((p, i) => {
    // Member steps only: strip quoted names first so a '.' inside ['a.b'] does not count.
    const bare = p.replace(/\[\s*(['"])(?:\\.|(?!\1).)*\1\s*\]/g, () => {
      bracket ??= i;
      return '';
    });
    if (/\.[^.[\]]/.test(bare)) dot ??= i;
  });
  if (dot !== undefined && bracket !== undefined) {
    throw new LoadError(
      `JSONPaths file ${file} mixes bracket notation (jsonpaths[${bracket}] ${JSON.stringify(paths[bracket])}) and dot ` +
        `notation (jsonpaths[${dot}] ${JSON.stringify(paths[dot])}); Redshift refuses a file that mixes them: ` +
        `write every path one way, e.g. $['name'] throughout`,
      file,
    );
  }
}

/** Compiles one expression into steps; throws a LoadError naming the file and index. */
export function compileJsonPath(expr: string, file: string, index: number): PathStep[] {
  const fail = (why: string): never => {
    throw new LoadError(`JSONPaths file ${file}: jsonpaths[${index}] ${JSON.stringify(expr)} is invalid: ${why}`, file);
  };
  const s = expr.trim();
  if (!s.startsWith('$')) fail("must start with '$'");
  const steps: PathStep[] = [];
  let i = 1;
  while (i < s.length) {
    const c = s[i];
    if (c === '.') {
      const m = /^[^.[\]'"\s]+/.exec(s.slice(i + 1));
      if (!m) fail(`expected a member name after '.' at offset ${i}`);
      steps.push(m![0]);
      i += 1 + m![0].length;
    } else if (c === '[') {
      const q = s[i + 1];
      if (q === "'" || q === '"') {
        let j = i + 2;
        let name = '';
        while (j < s.length && s[j] !== q) {
          if (s[j] === '\\' && j + 1 < s.length) j++;
          name += s[j];
          j++;
        }
        if (j >= s.length || s[j + 1] !== ']') fail(`unterminated [${q}...${q}] at offset ${i}`);
        steps.push(name);
        i = j + 2;
      } else {
        const m = /^\[\s*(\d+)\s*\]/.exec(s.slice(i));
        if (!m) fail(`expected ['name'] or [index] at offset ${i}`);
        steps.push(Number(m![1]));
        i += m![0].length;
      }
    } else {
      fail(`unexpected '${c}' at offset ${i}`);
    }
  }
  if (steps.length === 0) fail("the root '$' alone selects no field");
  return steps;
}

/** Redshift's message for an array index that does not fit the data; it fails the load. */
export const BAD_INDEX_MESSAGE = 'Invalid JSONPath format: Not an array or index out of range.';

/** What followPath gives for an index into a non-array or past the end of an array. */
export const BAD_INDEX: unique symbol = Symbol('bad JSONPath index');

/**
 * Follows compiled steps into a parsed JSON value; undefined when a member is
 * missing (NULL, as Redshift loads it); BAD_INDEX when an array index meets
 * a value that is not an array, or an array too short (Redshift fails the load).
 */
export function followPath(value: unknown, steps: readonly PathStep[]): unknown {
  let cur: unknown = value;
  for (const step of steps) {
    if (typeof step === 'number') {
      if (cur === undefined || cur === null) return undefined;
      if (!Array.isArray(cur) || step >= cur.length) return BAD_INDEX;
      cur = cur[step];
    } else {
      if (cur === null || typeof cur !== 'object' || cur instanceof JsonNumber) return undefined;
      if (Array.isArray(cur) || !Object.prototype.hasOwnProperty.call(cur, step)) return undefined;
      cur = (cur as Record<string, unknown>)[step];
    }
  }
  return cur;
}
