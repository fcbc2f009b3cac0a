/**
 * A parsed YAML DAG file that can say where things are: maps a field path
 * (as zod reports it) to `file:line:col`.
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import type { SourcePos } from '../interfaces.js';
import type { DagProblem } from '../errors.js';

export type PathKey = string | number;

export class DagSource {
  readonly doc: Document.Parsed;
  private readonly lines = new LineCounter();

  constructor(
    readonly file: string,
    readonly text: string,
  ) {
    this.doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: true, uniqueKeys: true });
  }

  /** Position of a character offset. */
  at(offset: number): SourcePos {
    const { line, col } = this.lines.linePos(offset);
    return { file: this.file, line, col };
  }

  /** The node at a path (map keys compared as strings), or undefined. */
  node(path: readonly PathKey[]): Node | undefined {
    let cur: unknown = this.doc.contents;
    for (const key of path) {
      if (isMap(cur)) {
        cur = cur.items.find((p) => isScalar(p.key) && String(p.key.value) === String(key))?.value;
      } else if (isSeq(cur) && typeof key === 'number') {
        cur = cur.items[key];
      } else {
        return undefined;
      }
    }
    return cur && typeof cur === 'object' && 'range' in cur ? (cur as Node) : undefined;
  }

  /**
   * Where the value at `path` starts; for a path that does not exist (a
   * missing key), where its nearest existing parent starts.
   */
  pos(path: readonly PathKey[]): SourcePos {
    for (let n = path.length; n >= 0; n--) {
      const node = this.node(path.slice(0, n));
      if (node?.range) return this.at(node.range[0]);
    }
    return { file: this.file, line: 1, col: 1 };
  }

  /** Where the key `key` of the mapping at `parent` is written (falls back to pos(parent)). */
  keyPos(parent: readonly PathKey[], key: PathKey): SourcePos {
    const map = this.node(parent);
    if (isMap(map)) {
      const pair = map.items.find((p) => isScalar(p.key) && String(p.key.value) === String(key));
      if (pair && isScalar(pair.key) && pair.key.range) return this.at(pair.key.range[0]);
    }
    return this.pos(parent);
  }

  /**
   * A problem when the text is not a text file (a NUL, a control character
   * YAML forbids, or bytes that were not UTF-8): parsing it would only echo
   * garbage back. Names the first offending place.
   */
  binaryProblem(): DagProblem | undefined {
    const at = this.text.search(NOT_TEXT);
    if (at < 0) return undefined;
    const ch = this.text.codePointAt(at)!;
    const what =
      ch === 0xfffd ? 'bytes that are not UTF-8' : `the control character U+${ch.toString(16).toUpperCase().padStart(4, '0')}`;
    return {
      pos: this.at(at),
      path: '',
      message: `this is not a text file (${what}); a DAG file must be UTF-8 YAML text: remove or rename the file`,
    };
  }

  /** The YAML parse errors as problems; duplicate keys say which key and where the first one is. */
  yamlProblems(): DagProblem[] {
    return this.doc.errors.map((err) => {
      const pos = this.at(err.pos[0]);
      const what = shortenQuoted(err.message.replace(/ at line \d+, column \d+:[\s\S]*$/, ''));
      if (err.code === 'DUPLICATE_KEY') {
        const dup = this.duplicateKeyAt(err.pos[0]);
        if (dup) {
          const firstAt = dup.first ? ` (first defined at line ${dup.first.line})` : '';
          const isTask = dup.path.length === 1 && dup.path[0] === 'tasks';
          return {
            pos,
            path: formatPath([...dup.path, dup.key]),
            message: isTask
              ? `duplicate task id '${dup.key}'${firstAt}; task ids must be unique within a DAG: rename or remove one`
              : `duplicate key '${dup.key}'${firstAt}; a key may appear once per mapping: remove or merge one`,
          };
        }
      }
      return { pos, path: '', message: `YAML syntax error: ${what}; fix the YAML (check indentation, colons and quotes)` };
    });
  }

  /** Finds the key written at `offset` in some mapping: its path, name and the first key of that name. */
  private duplicateKeyAt(offset: number): { path: PathKey[]; key: string; first?: SourcePos } | undefined {
    let found: { path: PathKey[]; key: string; first?: SourcePos } | undefined;
    visit(this.doc, {
      Map: (_k, map, ancestors) => {
        const pair = map.items.find((p) => isScalar(p.key) && p.key.range?.[0] === offset);
        if (!pair || !isScalar(pair.key)) return undefined;
        const key = String(pair.key.value);
        const firstPair = map.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
        const firstKey = firstPair && isScalar(firstPair.key) ? firstPair.key : undefined;
        found = { path: pathOf([...ancestors, map]), key, first: firstKey?.range ? this.at(firstKey.range[0]) : undefined };
        return visit.BREAK;
      },
    });
    return found;
  }
}

/** Characters no YAML text holds: C0 controls but tab, LF and CR; DEL; and U+FFFD, what undecodable bytes become. */
// eslint-disable-next-line no-control-regex
const NOT_TEXT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffd]/;

/** Long quoted tokens in parser messages are cut, so one bad line never prints kilobytes. */
function shortenQuoted(message: string, max = 60): string {
  return message.replace(/"((?:[^"\\]|\\.)*)"/g, (all, inner: string) =>
    inner.length > max ? `"${inner.slice(0, max)}…" (${inner.length} characters)` : all,
  );
}

/** The map-key / seq-index path of a node from the visitor's ancestors list. */
function pathOf(ancestors: readonly unknown[]): PathKey[] {
  const path: PathKey[] = [];
  for (let i = 0; i < ancestors.length; i++) {
    const a = ancestors[i];
    if (isPair(a) && isScalar(a.key)) path.push(String(a.key.value));
    else if (isSeq(a)) {
      const child = ancestors[i + 1];
      path.push(a.items.indexOf(child as never));
    }
  }
  return path;
}

/** A YAML mapping as JavaScript: an object that is not a list or a date. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** `tasks.stage_events.upstream[0]` */
export function formatPath(path: readonly PathKey[]): string {
  let out = '';
  for (const k of path) {
    if (typeof k === 'number') out += `[${k}]`;
    else out += out ? `.${k}` : k;
  }
  return out;
}
