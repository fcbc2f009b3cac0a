/**
 * Redshift JSONPaths files: `{"jsonpaths": ["$['artist']", "$.auth", "$.a[0]", ...]}`.
 *
 * Supported expressions (what Redshift supports): the root `$` followed by
 * bracket members `['name']` / `["name"]`, dot members `.name` and array
 * indexes `[0]`. No wildcards, filters or slices.
 */
import { LoadError } from '../../errors.js';

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

/** Follows compiled steps into a parsed JSON value; undefined when any step is missing. */
export function followPath(value: unknown, steps: readonly PathStep[]): unknown {
  let cur: unknown = value;
  for (const step of steps) {
    if (cur === null || typeof cur !== 'object') return undefined;
    if (typeof step === 'number') {
      if (!Array.isArray(cur)) return undefined;
      cur = cur[step];
    } else {
      if (Array.isArray(cur) || !Object.prototype.hasOwnProperty.call(cur, step)) return undefined;
      cur = (cur as Record<string, unknown>)[step];
    }
  }
  return cur;
}
