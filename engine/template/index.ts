/**
 * Liquid templating of task fields and SQL files (liquidjs, strict: unknown
 * variables and filters are errors; no code execution).
 *
 * Liquid knows nothing of SQL: `{{ x }}` pastes text. Values that reach SQL
 * go through `| sql_literal` (a quoted literal, per dialect) or
 * `| sql_ident` (a validated, double-quoted identifier), so a `--conf` value
 * can never end a string and start a statement. See docs/templates.md.
 */
import { createRequire } from 'node:module';
import type { Liquid } from 'liquidjs';
import { TemplateError, errorMessage } from '../errors.js';
import { identifier, quoteIdent } from '../operator.js';

export interface TemplateContext {
  dag_id: string;
  run_id: string;
  task_id?: string;
  logical_date: Date;
  /** YYYY-MM-DD of the logical date */
  ds: string;
  /** YYYYMMDD */
  ds_nodash: string;
  /** ISO 8601 of the logical date */
  ts: string;
  data_interval_start: Date;
  data_interval_end: Date;
  /** DAG params merged with the run's conf */
  params: Record<string, unknown>;
  /** connection name -> URL with secrets removed */
  conn: Record<string, string>;
  /** SQL dialect of the warehouse connection: postgres or redshift */
  dialect: string;
  /** upstream task id -> the outputs of its latest successful try (Airflow's XCom): `{{ outputs.extract.rows }}` */
  outputs: Record<string, Record<string, unknown>>;
}

/** Whether a SQL field names a `.sql` file (rendered from that file) rather than holding inline SQL. */
export function isSqlFileRef(ref: string): boolean {
  return /\.sql$/i.test(ref) && !/\s/.test(ref.trim());
}

/** What every template knows of its run (task fields, SQL files and alerts alike). */
export const RUN_VARIABLES = [
  'dag_id',
  'run_id',
  'task_id',
  'logical_date',
  'ds',
  'ds_nodash',
  'ts',
  'data_interval_start',
  'data_interval_end',
  'params',
] as const;

/** The names a task's template may use, in the order the docs list them. */
export const TEMPLATE_VARIABLES = [...RUN_VARIABLES, 'conn', 'dialect', 'outputs'] as const;

const require = createRequire(import.meta.url);
let engine: Liquid | undefined;

/**
 * The Liquid engine, loaded and made on first use: most fields hold no
 * template, most commands render none (`sluice dags list` with its DAG files
 * unchanged, a run of tasks without templates), and loading liquidjs and
 * making the engine (it asks ICU for the default locale) costs them about
 * 15 ms.
 */
function liquid(): Liquid {
  if (engine) return engine;
  const { Liquid } = require('liquidjs') as typeof import('liquidjs');
  engine = new Liquid({
    strictVariables: true,
    strictFilters: true,
    ownPropertyOnly: true,
    // Dates render in UTC unless a template asks otherwise.
    timezoneOffset: 0,
    cache: 500,
  });
  engine.registerFilter('sql_literal', function (value: unknown) {
    return sqlLiteral(value, String(this.context.getSync(['dialect']) ?? 'postgres'));
  });
  engine.registerFilter('sql_ident', (value: unknown) => sqlIdent(value));
  return engine;
}

/**
 * `{{ v | sql_literal }}`: v as a SQL literal that PostgreSQL and Redshift
 * read back as exactly v. Strings are single-quoted with `'` doubled; a
 * backslash is doubled too, inside an E'' string on PostgreSQL (read the same
 * whatever standard_conforming_strings says) and in a plain '' string on
 * Redshift (which reads backslash escapes there, as its QUOTE_LITERAL shows).
 * NUL cannot be stored in either, so it is refused. Numbers render as numbers
 * (negative ones in parentheses, so `a -{{ x }}` never becomes a `--`
 * comment), booleans as TRUE/FALSE, null as NULL, dates as UTC TIMESTAMP
 * literals, lists as comma-separated literals for `IN (...)`.
 */
export function sqlLiteral(value: unknown, dialect: string): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (typeof value === 'bigint') return value < 0n ? `(${value})` : String(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`sql_literal: ${value} is not a finite number; SQL has no literal for it`);
    return value < 0 || Object.is(value, -0) ? `(${value})` : String(value);
  }
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new Error('sql_literal: an invalid date has no SQL literal');
    const iso = value.toISOString();
    const ms = iso.slice(19, 23) === '.000' ? '' : iso.slice(19, 23);
    return `TIMESTAMP '${iso.slice(0, 10)} ${iso.slice(11, 19)}${ms}'`;
  }
  if (Array.isArray(value)) {
    if (value.length === 0)
      throw new Error('sql_literal: an empty list has no SQL literal (IN () is invalid); guard it with {% if %}');
    return value.map((v) => sqlLiteral(v, dialect)).join(', ');
  }
  if (typeof value === 'string') {
    if (value.includes('\u0000'))
      throw new Error('sql_literal: the string holds a NUL byte (\\u0000), which PostgreSQL and Redshift cannot store');
    const quoted = value.replace(/'/g, "''");
    if (!value.includes('\\')) return `'${quoted}'`;
    const escaped = quoted.replace(/\\/g, '\\\\');
    return dialect === 'redshift' ? `'${escaped}'` : `E'${escaped}'`;
  }
  throw new Error(
    `sql_literal: a mapping has no SQL literal; pick a field ({{ params.x.field | sql_literal }}) or pass it as JSON text ({{ params.x | json | sql_literal }})`,
  );
}

/**
 * `{{ v | sql_ident }}`: v as a double-quoted identifier, after checking it
 * is one (letters, digits and _, optionally schema.name): a table name from
 * `--conf` cannot smuggle in anything else.
 */
export function sqlIdent(value: unknown): string {
  const parsed = identifier.safeParse(value);
  if (!parsed.success) {
    const shown = typeof value === 'string' ? JSON.stringify(value) : String(value);
    throw new Error(
      `sql_ident: ${shown} is not a SQL identifier (letters, digits and _, not starting with a digit; optionally schema.name)`,
    );
  }
  return quoteIdent(parsed.data);
}

/** The filters a template may use (Liquid's standard ones, sql_literal and sql_ident). */
export function templateFilters(): string[] {
  return Object.keys(liquid().filters);
}

/** One variable a template reads from its context: `params.limit` is name params, path [params, limit]. */
export interface TemplateVariable {
  name: string;
  path: (string | number)[];
  /** 1-based line inside the template */
  line: number;
}

/**
 * The context variables a template reads (Liquid's static analysis: names it
 * assigns itself are left out), so a DAG can be checked before it runs.
 * Throws TemplateError on a syntax error or an unknown filter.
 */
export function templateVariables(template: string): TemplateVariable[] {
  if (!template.includes('{{') && !template.includes('{%')) return [];
  let analysis;
  try {
    analysis = liquid().analyzeSync(liquid().parse(template), { partials: false });
  } catch (err) {
    throw new TemplateError(`template error: ${errorMessage(err).replace(/, line:\d+, col:\d+/, '')}`);
  }
  const out: TemplateVariable[] = [];
  for (const [name, uses] of Object.entries(analysis.globals)) {
    for (const v of uses) {
      const path = v.segments.map((s) => (typeof s === 'string' || typeof s === 'number' ? s : String(s)));
      out.push({ name, path, line: v.location.row });
    }
  }
  return out.sort((a, b) => a.line - b.line);
}

export function buildContext(a: {
  dagId: string;
  runId: string;
  taskId?: string;
  logicalDate: Date;
  dataIntervalStart: Date;
  dataIntervalEnd: Date;
  dagParams: Record<string, unknown>;
  conf: Record<string, unknown>;
  conn: Record<string, string>;
  dialect?: string;
  /** Outputs of the task's upstream tasks (none outside a task: alerts, tests). */
  outputs?: Record<string, Record<string, unknown>>;
}): TemplateContext {
  const iso = a.logicalDate.toISOString();
  const ds = iso.slice(0, 10);
  return {
    dag_id: a.dagId,
    run_id: a.runId,
    ...(a.taskId ? { task_id: a.taskId } : {}),
    logical_date: a.logicalDate,
    ds,
    ds_nodash: ds.replace(/-/g, ''),
    ts: iso.replace('.000Z', 'Z'),
    data_interval_start: a.dataIntervalStart,
    data_interval_end: a.dataIntervalEnd,
    params: { ...a.dagParams, ...a.conf },
    conn: a.conn,
    dialect: a.dialect ?? 'postgres',
    outputs: a.outputs ?? {},
  };
}

/**
 * Renders one template. `where` names the place for errors, e.g.
 * `task stage_events, field source`.
 */
export async function render(template: string, ctx: TemplateContext, where: string): Promise<string> {
  if (!template.includes('{{') && !template.includes('{%')) return template;
  try {
    return await liquid().parseAndRender(template, ctx);
  } catch (err) {
    const msg = errorMessage(err).replace(/, line:\d+, col:\d+/, '');
    const hint = /undefined variable/.test(msg) ? `. Known variables: ${Object.keys(ctx).join(', ')}` : '';
    throw new TemplateError(`${where}: template error: ${msg}${hint}`);
  }
}

/** Renders every string inside a value (arrays and objects walked). */
export async function renderDeep(value: unknown, ctx: TemplateContext, where: string): Promise<unknown> {
  if (typeof value === 'string') return render(value, ctx, where);
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (let i = 0; i < value.length; i++) out.push(await renderDeep(value[i], ctx, `${where}[${i}]`));
    return out;
  }
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = await renderDeep(v, ctx, `${where}.${k}`);
    return out;
  }
  return value;
}
