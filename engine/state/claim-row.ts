/**
 * A worker's claim as both state stores read it back (engine/state/sqlite/
 * work.ts, engine/state/postgres/work.ts): one row with the run's columns and
 * the task instance's, those whose names clash with the run's aliased
 * `ti_*`. `D` is how the store gives times (ISO text in SQLite, Dates in
 * PostgreSQL); each store passes its own run and task instance decoders.
 */
import type { TaskState } from '../interfaces.js';
import type { Claimed, DagRun, TaskInstance } from './index.js';

/** The task instance's columns of a task instance row, with times as the store gives them. */
export interface TaskInstanceColumns<D> {
  run_id: string;
  task_id: string;
  operator: string;
  state: TaskState | null;
  try_number: number;
  max_tries: number;
  next_try_at: D | null;
  started_at: D | null;
  ended_at: D | null;
}

/** The claim's own columns beside the run's: the task instance's, `ti_` where a run column has the name. */
export interface ClaimColumns<D> extends Omit<TaskInstanceColumns<D>, 'state' | 'started_at' | 'ended_at'> {
  dag_id: string;
  queue: string;
  queued_at: D;
  ti_state: TaskState | null;
  ti_started_at: D | null;
  ti_ended_at: D | null;
}

export function toClaimed<D, R extends ClaimColumns<D>>(
  r: R,
  decode: { run: (r: R) => DagRun; instance: (ti: TaskInstanceColumns<D>) => TaskInstance; time: (t: D) => Date },
): Claimed {
  return {
    runId: r.run_id,
    dagId: r.dag_id,
    taskId: r.task_id,
    queue: r.queue,
    tryNumber: r.try_number,
    queuedAt: decode.time(r.queued_at),
    run: decode.run(r),
    instance: decode.instance({
      run_id: r.run_id,
      task_id: r.task_id,
      operator: r.operator,
      state: r.ti_state,
      try_number: r.try_number,
      max_tries: r.max_tries,
      next_try_at: r.next_try_at,
      started_at: r.ti_started_at,
      ended_at: r.ti_ended_at,
    }),
  };
}
