/**
 * The zod schemas of a DAG file. The DAG-level schema is fixed; each task is
 * validated in two parts: the engine-level task keys (operator, upstream,
 * retries, ...) here, and the rest by its operator's own `params` schema.
 * `dagJsonSchema` composes both into one JSON Schema for editors.
 */
import { z } from 'zod';
import { TRIGGER_RULES } from '../interfaces.js';
import { duration } from '../operator.js';
import type { OperatorRegistry } from '../registry.js';
import { alertKeysShape } from './alerts.js';
import { paramsSchema } from './params.js';
import { didYouMean } from './suggest.js';
import { canonicalTimeZone, DATE_FORMS, parseDagDate, scheduleProblem, SCHEDULE_PRESETS, timeZoneNames } from './time.js';

/** DAG ids and task ids. */
export const ID_PATTERN = /^[A-Za-z0-9_.-]+$/;
export const ID_HINT = 'use only letters, digits, _ . and -';

/** Settings a task inherits from `default_args` unless it sets them itself. */
export const defaultArgsShape = {
  retries: z.number().int().min(0).optional().describe('how many times a failed task is retried (default 0)'),
  retry_delay: duration.optional().describe('wait before a retry (default 5m)'),
  retry_exponential_backoff: z.boolean().optional().describe('double the delay on each retry (default false)'),
  max_retry_delay: duration.nullable().optional().describe('upper bound of the retry delay (default none)'),
  execution_timeout: duration.nullable().optional().describe('fail a try that runs longer (default none)'),
  trigger_rule: z.enum(TRIGGER_RULES).optional().describe('when the task runs, given its upstream states (default all_success)'),
  queue: z
    .string()
    .regex(ID_PATTERN, { message: `must be a queue name: ${ID_HINT}` })
    .optional()
    .describe('the queue of workers that runs it, with the scheduler in workers mode (default: default)'),
  pool: z
    .string()
    .regex(ID_PATTERN, { message: `must be a pool name: ${ID_HINT}` })
    .optional()
    .describe('the pool whose slots its tries hold while they run, on every host (see: sluice pools)'),
  pool_slots: z.number().int().min(1).optional().describe('slots of its pool a try holds (default 1)'),
  ...alertKeysShape('task'),
};

/** The engine-level keys of a task; every other key belongs to the operator. */
export const taskKeysShape = {
  operator: z.string().describe('the operator that runs this task'),
  upstream: z
    .union([z.string(), z.array(z.string())], { error: 'must be a task id or a list of task ids' })
    .optional()
    .describe('ids of the tasks that must finish first'),
  ...defaultArgsShape,
  doc: z.string().optional().describe('documentation of the task'),
};
export const TASK_KEYS = Object.keys(taskKeysShape);
export const taskKeysSchema = z.object(taskKeysShape);

const dateSchema = z.union([z.date(), z.string()], { error: `must be ${DATE_FORMS}` }).superRefine((v, ctx) => {
  try {
    parseDagDate(v, 'UTC');
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
  }
});

const scheduleSchema = z
  .string()
  .nullable()
  .superRefine((s, ctx) => {
    const problem = s === null ? null : scheduleProblem(s);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .describe(`cron (5 fields) or a preset (${Object.keys(SCHEDULE_PRESETS).join(', ')}); null or absent: manual runs only`);

const timezoneSchema = z
  .string()
  .superRefine((tz, ctx) => {
    if (canonicalTimeZone(tz)) return;
    ctx.addIssue({
      code: 'custom',
      message: `unknown timezone '${tz}'${didYouMean(tz, timeZoneNames(), 'use an IANA name such as UTC, Europe/Berlin, America/New_York')}`,
    });
  })
  .describe('IANA timezone of the schedule and of dates without an offset (default UTC)');

/** The DAG-level shape, with `tasks` and the date schema supplied by the caller. */
function dagShape(tasks: z.ZodType, date: z.ZodType) {
  return {
    dag: z
      .string()
      .regex(ID_PATTERN, { message: `must be a DAG id: ${ID_HINT}` })
      .describe('the DAG id'),
    description: z.string().optional(),
    schedule: scheduleSchema.optional(),
    timezone: timezoneSchema.optional(),
    start_date: date.nullable().optional().describe(`first logical date: ${DATE_FORMS}`),
    end_date: date.nullable().optional().describe(`last logical date: ${DATE_FORMS}`),
    catchup: z.boolean().optional().describe('run missed intervals since start_date (default false)'),
    max_active_runs: z.number().int().min(1).optional().describe('concurrent runs of this DAG (default 16)'),
    max_active_tasks: z.number().int().min(1).optional().describe('concurrent tasks in one run (default 16)'),
    params: paramsSchema.optional(),
    tags: z.array(z.string()).optional(),
    default_args: z.object(defaultArgsShape).strict().optional().describe('task settings every task inherits'),
    ...alertKeysShape('dag'),
    tasks: tasks.describe('task id -> task'),
  };
}

/** The DAG-level schema; task values are checked separately (see load.ts). */
export const dagFileSchema = z.object(dagShape(z.record(z.string(), z.unknown()), dateSchema)).strict();
export const DAG_KEYS = Object.keys(dagFileSchema.shape);
export const DEFAULT_ARGS_KEYS = Object.keys(defaultArgsShape);

/** The top-level parameter names of an operator schema (empty when it is not an object schema). */
export function paramKeys(schema: z.ZodType): string[] {
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}

/** One task as an editor sees it: the engine keys plus the operator's own parameters. */
function taskSchemaFor(name: string, description: string, params: z.ZodType): z.ZodType {
  const engine = { ...taskKeysShape, operator: z.literal(name).describe(description) };
  if (params instanceof z.ZodObject) return params.extend(engine).describe(description);
  return z.intersection(z.object(engine), params).describe(description);
}

/** A JSON Schema of the DAG file format (tasks: anyOf, one entry per operator, keyed by `operator`). */
export function dagJsonSchema(registry: OperatorRegistry): Record<string, unknown> {
  const ops = registry.all().map((op) => taskSchemaFor(op.name, op.description, op.params));
  const task = ops.length === 1 ? ops[0]! : z.union(ops as [z.ZodType, z.ZodType, ...z.ZodType[]]);
  const file = z.object(dagShape(z.record(z.string().regex(ID_PATTERN), task), z.string())).strict();
  return {
    ...z.toJSONSchema(file, { io: 'input', unrepresentable: 'any' }),
    title: 'Sluice DAG file',
  } as Record<string, unknown>;
}
