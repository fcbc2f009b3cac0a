/**
 * Warnings for DDL that Redshift changes as it creates the table: a `TEXT`
 * column becomes VARCHAR(256) and a `BPCHAR` column CHAR(256)
 * (r_Character_types), so a load that works locally (where TEXT has no
 * limit) rejects longer values on Redshift. `sluice dags validate` prints
 * them with the `file:line` of the SQL (the `.sql` file, or the DAG file for
 * inline SQL) and the task; they are warnings: the DAG stays valid.
 *
 * The scan is textual (no SQL parser): comments and string literals are
 * blanked, then each `CREATE TABLE ... (...)` column list is split at its
 * top-level commas and the type of each column read. Templates inside the
 * SQL are left as they are (a `{{ ... }}` never looks like a column type).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isScalar, Scalar } from 'yaml';
import { findProjectFile } from '../config.js';
import type { Dag } from '../interfaces.js';
import type { OperatorRegistry } from '../registry.js';
import { isSqlFileRef } from '../template/index.js';
import { DagSource, type PathKey } from './source.js';

/** One warning: where (file and line), the task, and what Redshift does. */
export interface DagWarning {
  file: string;
  line: number;
  task: string;
  message: string;
}

/** A TEXT/BPCHAR column found in SQL text: its table, column, type as written, and 1-based line in the text. */
export interface RenamedColumn {
  table: string;
  column: string;
  type: string;
  line: number;
}

/** What Redshift creates for each type it renames (r_Character_types). */
const REDSHIFT_MAKES: Record<string, string> = { text: 'VARCHAR(256)', bpchar: 'CHAR(256)' };

/** Table-level items of a column list, which are not columns. */
const NOT_A_COLUMN = /^(constraint|primary|unique|foreign|check|like|exclude|distkey|sortkey|interleaved|compound)\b/i;

/** The text with comments and string literals replaced by blanks (newlines kept, so offsets and lines hold). */
function blankCommentsAndStrings(sql: string): string {
  const blank = (s: string) => s.replace(/[^\n]/g, ' ');
  return sql.replace(/--[^\n]*|\/\*[\s\S]*?(?:\*\/|$)|'(?:[^']|'')*(?:'|$)/g, blank);
}

/** The offset of the parenthesis closing the one at `open`, or -1. */
function closingParen(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    if (s[i] === '(') depth++;
    else if (s[i] === ')' && --depth === 0) return i;
  }
  return -1;
}

/** An identifier as written (quoted or not) to its name: quoted names keep their case. */
function identName(id: string): string {
  return id.startsWith('"') ? id.slice(1, -1).replace(/""/g, '"') : id.toLowerCase();
}

/** Every column declared TEXT or BPCHAR (without a length) by a CREATE TABLE in `sql`. */
export function findRenamedColumns(sql: string): RenamedColumn[] {
  const text = blankCommentsAndStrings(sql);
  const lineAt = (offset: number) => text.slice(0, offset).split('\n').length;
  const out: RenamedColumn[] = [];
  const ident = String.raw`(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)`;
  const create = new RegExp(
    String.raw`\bcreate\s+(?:(?:local\s+|global\s+)?(?:temporary|temp)\s+|unlogged\s+)?table\s+(?:if\s+not\s+exists\s+)?` +
      String.raw`(${ident}(?:\s*\.\s*${ident})*)\s*\(`,
    'gi',
  );
  for (let m = create.exec(text); m; m = create.exec(text)) {
    const open = m.index + m[0].length - 1;
    const close = closingParen(text, open);
    if (close < 0) break;
    const table = m[1]!
      .split(/\s*\.\s*/)
      .map(identName)
      .join('.');
    // Top-level items of the column list, with their offsets.
    let depth = 0;
    let start = open + 1;
    const items: [number, string][] = [];
    for (let i = open + 1; i <= close; i++) {
      const c = text[i];
      if (c === '(') depth++;
      else if (c === ')' && depth > 0) depth--;
      else if ((c === ',' && depth === 0) || i === close) {
        items.push([start, text.slice(start, i)]);
        start = i + 1;
      }
    }
    for (const [at, item] of items) {
      const col = new RegExp(String.raw`^(\s*)(${ident})(\s+)([A-Za-z_]\w*)`).exec(item);
      if (!col || NOT_A_COLUMN.test(item.trim())) continue;
      const type = col[4]!;
      if (!(type.toLowerCase() in REDSHIFT_MAKES)) continue;
      // BPCHAR(n) is CHAR(n) with a length: only the bare name is renamed.
      if (/^\s*\(/.test(item.slice(col[0].length))) continue;
      const typeAt = at + col[1]!.length + col[2]!.length + col[3]!.length;
      out.push({ table, column: identName(col[2]!), type, line: lineAt(typeAt) });
    }
    create.lastIndex = close;
  }
  return out;
}

/** The warning text for one column (after its file:line and task). */
export function renamedColumnMessage(c: RenamedColumn): string {
  const makes = REDSHIFT_MAKES[c.type.toLowerCase()]!;
  return (
    `column '${c.column}' of table '${c.table}' is ${c.type.toUpperCase()}, which Redshift creates as ${makes}: ` +
    `loads of values longer than 256 bytes that work locally will be rejected there ("String length exceeds DDL length"); ` +
    `declare the length you need (e.g. VARCHAR(65535)) to load the same everywhere`
  );
}

/**
 * The warnings of one loaded DAG: its tasks' templated fields, inline SQL
 * and the `.sql` files they name (found as the runner finds them: the
 * project folder, the parent of the DAG folder, else the shipped files).
 * Files that cannot be read are skipped (the load reports them).
 */
export function redshiftTypeWarnings(dag: Dag, registry: OperatorRegistry): DagWarning[] {
  const out: DagWarning[] = [];
  let source: DagSource | undefined;
  const sourceOf = () => (source ??= new DagSource(dag.file, readFileSync(dag.file, 'utf8')));
  const projectRoot = path.resolve(path.dirname(dag.file), '..');
  for (const task of dag.tasks.values()) {
    const op = registry.get(task.operator);
    if (!op) continue;
    const walk = (value: unknown, at: PathKey[]) => {
      if (typeof value === 'string') {
        if (!/\bcreate\b/i.test(value) && !isSqlFileRef(value)) return;
        if (isSqlFileRef(value)) {
          const file = findProjectFile(projectRoot, value);
          let sql: string;
          try {
            if (!file) return;
            sql = readFileSync(file, 'utf8');
          } catch {
            return;
          }
          for (const c of findRenamedColumns(sql))
            out.push({ file, line: c.line, task: task.id, message: renamedColumnMessage(c) });
          return;
        }
        const found = findRenamedColumns(value);
        if (!found.length) return;
        let node;
        let pos = { line: task.pos.line };
        try {
          const fieldPath = ['tasks', task.id, ...at];
          node = sourceOf().node(fieldPath);
          pos = sourceOf().pos(fieldPath);
        } catch {
          // the DAG file changed or vanished since it was loaded: the task's line
        }
        // A block scalar (`sql: |`) starts on the line after its indicator; other scalars are read as one line.
        const block = isScalar(node) && (node.type === Scalar.BLOCK_LITERAL || node.type === Scalar.BLOCK_FOLDED);
        for (const c of found) {
          out.push({
            file: dag.file,
            line: block ? pos.line + c.line : pos.line,
            task: task.id,
            message: renamedColumnMessage(c),
          });
        }
      } else if (Array.isArray(value)) value.forEach((v, i) => walk(v, [...at, i]));
      else if (value && typeof value === 'object' && !(value instanceof Date)) {
        for (const [k, v] of Object.entries(value)) walk(v, [...at, k]);
      }
    };
    for (const field of op.templated) if (task.params[field] !== undefined) walk(task.params[field], [field]);
  }
  return out;
}
