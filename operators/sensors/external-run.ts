/**
 * ExternalRunSensor: waits until a task of another DAG (or that DAG's whole
 * run) for the same logical date, or a mapped one, reached a given state, as
 * Airflow's ExternalTaskSensor: cross-DAG dependencies without merging the
 * DAGs. It reads the state only (TaskContext.runsOf); it never triggers or
 * changes the other run.
 */
import { z } from 'zod';
import { parseDuration } from '../../engine/duration.js';
import { TaskFailure, TaskSkipped } from '../../engine/errors.js';
import { RUN_STATES, TASK_STATES, type TaskContext } from '../../engine/interfaces.js';
import { defineOperator } from '../../engine/operator.js';
import { pokeUntil, SENSOR_PARAMS, type SensorParams } from './poke.js';

const RUN_STATE_SET: ReadonlySet<string> = new Set(RUN_STATES);

/** A list of task (or run) states, in Airflow's words. */
const states = (what: string, fallback: (typeof TASK_STATES)[number][], min = 0) =>
  z.array(z.enum(TASK_STATES)).min(min, { message: 'must list at least one state' }).default(fallback).describe(what);

/**
 * A duration that may be negative: `1d` looks one day back (Airflow's
 * execution_delta), `-1h` one hour ahead.
 */
const signedDuration = z
  .union([z.string(), z.number()], { error: 'must be a duration such as 1d, 6h, 30m or -1h (ahead)' })
  .transform((v, ctx) => {
    const text = typeof v === 'string' ? v.trim() : v;
    const negative = typeof text === 'string' ? text.startsWith('-') : text < 0;
    try {
      const ms = parseDuration(typeof text === 'string' ? text.replace(/^-\s*/, '') : Math.abs(text));
      return negative ? -ms : ms;
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
      return z.NEVER;
    }
  });

export const ExternalRunSensor = defineOperator({
  name: 'ExternalRunSensor',
  description:
    "Waits until another DAG's task, or its whole run, for the same (or a mapped) logical date reached a state (Airflow ExternalTaskSensor)",
  params: z
    .object({
      external_dag_id: z.string().min(1).describe('the DAG to wait for, e.g. load_raw (a Liquid template)'),
      external_task_id: z
        .string()
        .min(1)
        .optional()
        .describe("the task of that DAG to wait for (a Liquid template); absent: the DAG's whole run"),
      allowed_states: states(
        'the states that end the wait with success (task states; run states without external_task_id). Default [success]',
        ['success'],
        1,
      ),
      skipped_states: states('states that end the wait by skipping this task (Airflow skipped_states). Default none', []),
      failed_states: states(
        'states that fail this task at once instead of waiting for the timeout, e.g. [failed, upstream_failed]. Default none, as in Airflow',
        [],
      ),
      execution_delta: signedDuration
        .optional()
        .describe(
          "how far before this run's logical date the other run's logical date is, e.g. 1h for an hourly DAG waiting for " +
            'the previous hour (-1h: one hour ahead). Default: the same logical date',
        ),
      external_logical_date: z
        .string()
        .min(1)
        .optional()
        .describe(
          "the other run's logical date, a Liquid template rendering an ISO 8601 date or timestamp (UTC unless it says " +
            'otherwise), e.g. "{{ ds }}T00:00:00Z" (Airflow\'s execution_date_fn)',
        ),
      ...SENSOR_PARAMS,
    })
    .strict()
    .superRefine((p, ctx) => {
      if (p.execution_delta !== undefined && p.external_logical_date !== undefined) {
        ctx.addIssue({ code: 'custom', message: 'give execution_delta or external_logical_date, not both' });
      }
      const lists = { allowed_states: p.allowed_states, skipped_states: p.skipped_states, failed_states: p.failed_states };
      if (p.external_task_id === undefined) {
        for (const [key, list] of Object.entries(lists)) {
          const bad = list.filter((s) => !RUN_STATE_SET.has(s));
          if (bad.length) {
            ctx.addIssue({
              code: 'custom',
              path: [key],
              message:
                `${bad.join(', ')}: not a run state; without external_task_id the sensor waits for the whole run, ` +
                `whose states are ${RUN_STATES.join(', ')} (or name the task in external_task_id)`,
            });
          }
        }
      }
      const seen = new Map<string, string>();
      for (const [key, list] of Object.entries(lists)) {
        for (const s of list) {
          const other = seen.get(s);
          if (other !== undefined && other !== key) {
            ctx.addIssue({ code: 'custom', path: [key], message: `${s} is listed in both ${other} and ${key}` });
          }
          seen.set(s, key);
        }
      }
    }),
  templated: ['external_dag_id', 'external_task_id', 'external_logical_date'],
  async execute(ctx) {
    const { params } = ctx;
    const runsOf = ctx.runsOf;
    if (!runsOf) {
      throw new TaskFailure(`task ${ctx.taskId}: this runner does not let operators read other runs' states`, {
        retryable: false,
        notRetriedBecause: 'the runner cannot read other runs',
      });
    }
    const date = externalDate(ctx);
    const dagId = params.external_dag_id;
    const taskId = params.external_task_id;
    const self = taskId === undefined || taskId === ctx.taskId;
    if (dagId === ctx.dagId && self && date.getTime() === ctx.logicalDate.getTime()) {
      const whose = taskId === undefined ? 'its own run' : 'itself';
      throw new TaskFailure(
        `task ${ctx.taskId}: waits for ${whose} (DAG ${dagId}, ${date.toISOString()}), which cannot end before it does; ` +
          'name a task in external_task_id, or map to another date with execution_delta',
        { retryable: false, notRetriedBecause: 'the sensor would wait for itself again' },
      );
    }
    const at = date.toISOString();
    const what = taskId === undefined ? `run of DAG ${dagId} for ${at}` : `task ${taskId} of DAG ${dagId} for ${at}`;
    const wanted = params.allowed_states.join(' or ');
    await pokeUntil(ctx, `${what} to be ${wanted}`, async () => {
      const state = await runsOf.stateOf(dagId, date, taskId);
      if (state !== null && params.allowed_states.includes(state)) {
        return {
          done: true,
          outputs: {
            external_dag_id: dagId,
            ...(taskId !== undefined ? { external_task_id: taskId } : {}),
            external_logical_date: at,
            state,
          },
        };
      }
      if (state !== null && params.failed_states.includes(state)) {
        ctx.record({ external_logical_date: at, state });
        const message = `${what} is ${state} (failed_states: ${params.failed_states.join(', ')})`;
        if (params.soft_fail) throw new TaskSkipped(`${message}; soft_fail: skipped`);
        throw new TaskFailure(`${message}. Rerun or clear it in DAG ${dagId}, then clear this task`);
      }
      if (state !== null && params.skipped_states.includes(state)) {
        ctx.record({ external_logical_date: at, state });
        throw new TaskSkipped(`${what} is ${state} (skipped_states: ${params.skipped_states.join(', ')})`);
      }
      return { done: false, seen: await describeSeen(runsOf, dagId, date, taskId, state, params) };
    });
  },
});

/** The other run's logical date: rendered external_logical_date, or this run's minus execution_delta. */
function externalDate(
  ctx: TaskContext<{ external_logical_date?: string | undefined; execution_delta?: number | undefined }>,
): Date {
  const { external_logical_date: text, execution_delta: delta } = ctx.params;
  if (text === undefined) return new Date(ctx.logicalDate.getTime() - (delta ?? 0));
  const date = parseLogicalDate(text);
  if (!date) {
    throw new TaskFailure(
      `task ${ctx.taskId}, field external_logical_date: rendered to ${JSON.stringify(text)}, which is not a date; ` +
        'it must render an ISO 8601 date or timestamp, e.g. "{{ ds }}" or "2024-01-01T06:00:00Z"',
      { retryable: false, notRetriedBecause: 'the template renders the same text again' },
    );
  }
  return date;
}

/**
 * An ISO 8601 date or timestamp; one without an offset is UTC (as every time
 * Sluice prints), never the host's local time. Null when it is not a date.
 */
export function parseLogicalDate(text: string): Date | null {
  let t = text.trim();
  if (/^\d{4}-\d{2}-\d{2}$/.test(t)) t += 'T00:00:00Z';
  else if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(t)) t = `${t.replace(' ', 'T')}Z`;
  else if (!/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i.test(t)) return null;
  const ms = Date.parse(t.replace(' ', 'T'));
  return Number.isFinite(ms) ? new Date(ms) : null;
}

/** What a poke saw, for the log: no run yet, a task not started, or a state that is not (yet) one of the lists. */
async function describeSeen(
  runsOf: NonNullable<TaskContext<unknown>['runsOf']>,
  dagId: string,
  date: Date,
  taskId: string | undefined,
  state: string | null,
  p: SensorParams & { failed_states: string[]; allowed_states: string[] },
): Promise<string> {
  if (state === null) {
    if (taskId === undefined) return `no run of ${dagId} for this date yet`;
    const run = await runsOf.stateOf(dagId, date);
    return run === null ? `no run of ${dagId} for this date yet` : `the run is ${run}; task ${taskId} has no state yet`;
  }
  const finished = ['success', 'failed', 'upstream_failed', 'skipped'].includes(state);
  if (finished && p.failed_states.length === 0) {
    return `${state}, not in allowed_states; it may be cleared and rerun (list ${state} in failed_states to fail at once)`;
  }
  return finished ? `${state}, not in allowed_states` : state;
}
