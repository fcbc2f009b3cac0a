/**
 * Liquid templating of task fields and SQL files (liquidjs, strict: unknown
 * variables and filters are errors; no code execution).
 */
import { Liquid } from 'liquidjs';
import { TemplateError, errorMessage } from '../errors.js';

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
}

const liquid = new Liquid({
  strictVariables: true,
  strictFilters: true,
  ownPropertyOnly: true,
  // Dates render in UTC unless a template asks otherwise.
  timezoneOffset: 0,
  cache: 500,
});

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
  };
}

/**
 * Renders one template. `where` names the place for errors, e.g.
 * `task stage_events, field source`.
 */
export async function render(template: string, ctx: TemplateContext, where: string): Promise<string> {
  if (!template.includes('{{') && !template.includes('{%')) return template;
  try {
    return await liquid.parseAndRender(template, ctx);
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
