/**
 * What every sensor shares: Airflow's BaseSensorOperator parameters
 * (poke_interval, timeout, soft_fail, exponential_backoff, mode) and the poke
 * loop. A sensor is a `poke` function that answers "is it there yet?"; the
 * loop calls it until it says yes, the sensor's timeout passes, or the try is
 * aborted (execution_timeout, SIGTERM, a cleared task).
 */
import { z } from 'zod';
import { formatDuration } from '../../engine/duration.js';
import { TaskFailure, TaskSkipped } from '../../engine/errors.js';
import type { TaskContext } from '../../engine/interfaces.js';
import { duration } from '../../engine/operator.js';

/** Airflow's default sensor timeout: a week. */
const DEFAULT_TIMEOUT_MS = 7 * 86_400_000;

/** The parameters every sensor has (spread into each sensor's own `z.object({...}).strict()`). */
export const SENSOR_PARAMS = {
  poke_interval: duration
    .default(60_000)
    .describe('wait between two pokes (e.g. 30s, 5m); the first poke is at once. Default 60s'),
  timeout: duration
    .default(DEFAULT_TIMEOUT_MS)
    .describe(
      'how long the sensor waits, from its first poke (in reschedule mode too), before it gives up (e.g. 6h): the task fails (not retried), ' +
        'or is skipped with soft_fail. Default 7d, as in Airflow',
    ),
  soft_fail: z
    .boolean()
    .default(false)
    .describe('true: a timeout marks the task skipped instead of failed (downstream tasks follow their trigger rules)'),
  exponential_backoff: z
    .boolean()
    .default(false)
    .describe('true: the wait doubles after each poke (poke_interval x 2^(n-1)), capped by max_wait'),
  max_wait: duration
    .optional()
    .describe('with exponential_backoff: the longest wait between two pokes (e.g. 30m); default: no cap but the timeout'),
  mode: z
    .enum(['poke', 'reschedule'])
    .default('poke')
    .describe(
      'poke: the sensor holds its task slot and sleeps between pokes; reschedule: each poke is a short try, and between ' +
        'two the task is up_for_reschedule, holds no slot and survives a scheduler restart (Airflow mode). Default poke',
    ),
};

/** The parsed sensor parameters. */
export interface SensorParams {
  poke_interval: number;
  timeout: number;
  soft_fail: boolean;
  exponential_backoff: boolean;
  max_wait?: number | undefined;
  mode: 'poke' | 'reschedule';
}

/** A poke's answer: done, or not yet (with what was seen, for the log, and optionally when to look again). */
export type PokeResult = { done: true; outputs?: Record<string, unknown> } | { done: false; seen?: string; retryAt?: Date };

/**
 * The wait after the n-th poke (1-based): poke_interval, or with
 * exponential_backoff poke_interval x 2^(n-1) capped by max_wait. Unlike
 * Airflow, no jitter: a poke comes when the log line says it will (as the
 * task retry delay in engine/run/try.ts).
 */
export function nextPokeDelayMs(p: SensorParams, pokeNumber: number): number {
  if (!p.exponential_backoff) return p.poke_interval;
  const grown = p.poke_interval * 2 ** Math.min(Math.max(0, pokeNumber - 1), 40);
  return p.max_wait !== undefined ? Math.min(grown, p.max_wait) : grown;
}

/**
 * Pokes until `poke` says done. Records `poke_count` and `waited_ms` and the
 * outputs of the successful poke. At the timeout (measured from the first
 * poke) the task fails without retries (as Airflow's AirflowSensorTimeout),
 * or is skipped with soft_fail; a last poke is always made at the deadline.
 * An abort of the try (ctx.signal) ends the wait at once.
 */
export async function pokeUntil(ctx: TaskContext<SensorParams>, what: string, poke: () => Promise<PokeResult>): Promise<void> {
  const p = ctx.params;
  if (p.mode === 'reschedule' && ctx.reschedule) return pokeOnce(ctx, what, poke);
  const started = Date.now();
  const deadline = started + p.timeout;
  for (let n = 1; ; n++) {
    ctx.signal.throwIfAborted();
    const result = await poke();
    if (result.done) {
      const waited = Date.now() - started;
      ctx.log.info({ pokes: n, waited_ms: waited }, `${what}: found after ${n} poke${n === 1 ? '' : 's'}`);
      ctx.record({ ...result.outputs, poke_count: n, waited_ms: waited });
      return;
    }
    const now = Date.now();
    if (now >= deadline) timedOut(ctx, what, result, now - started, n);
    let wait = Math.min(nextPokeDelayMs(p, n), deadline - now);
    if (result.retryAt) wait = Math.min(wait, Math.max(0, result.retryAt.getTime() - now));
    ctx.log.info(
      { poke: n, next_poke_in_ms: wait },
      `${what}: not yet${result.seen ? ` (${result.seen})` : ''}; next poke in ${formatDuration(wait)}`,
    );
    await sleep(wait, ctx.signal);
  }
}

/**
 * One poke of a sensor in reschedule mode (a try per poke). Not done yet:
 * the try records when the first poke was made and how many were made, and
 * asks to be rescheduled; the task holds no slot until the next poke and the
 * wait survives a restart of the scheduler (the next try is a row in the
 * state, not a timer). The timeout is measured from the first poke, kept in
 * the outputs each rescheduled try hands to the next (ctx.rescheduled), on
 * the run loop's clock.
 */
async function pokeOnce(ctx: TaskContext<SensorParams>, what: string, poke: () => Promise<PokeResult>): Promise<void> {
  const p = ctx.params;
  const now = () => (ctx.now ? ctx.now() : new Date()).getTime();
  const earlier = ctx.rescheduled;
  const firstAt = typeof earlier?.first_poke_at === 'string' ? Date.parse(earlier.first_poke_at) : NaN;
  const started = Number.isFinite(firstAt) ? firstAt : now();
  const n = (typeof earlier?.poke_count === 'number' ? earlier.poke_count : 0) + 1;
  const deadline = started + p.timeout;
  ctx.signal.throwIfAborted();
  const result = await poke();
  const at = now();
  if (result.done) {
    const waited = Math.max(0, at - started);
    ctx.log.info({ pokes: n, waited_ms: waited }, `${what}: found after ${n} poke${n === 1 ? '' : 's'}`);
    ctx.record({ ...result.outputs, poke_count: n, waited_ms: waited });
    return;
  }
  if (at >= deadline) timedOut(ctx, what, result, at - started, n);
  let wait = Math.min(nextPokeDelayMs(p, n), deadline - at);
  if (result.retryAt) wait = Math.min(wait, Math.max(0, result.retryAt.getTime() - at));
  ctx.log.info(
    { poke: n, next_poke_in_ms: wait },
    `${what}: not yet${result.seen ? ` (${result.seen})` : ''}; next poke in ${formatDuration(wait)} (mode: reschedule)`,
  );
  ctx.record({ first_poke_at: new Date(started).toISOString(), poke_count: n });
  ctx.reschedule!(new Date(at + wait));
}

/** The sensor's timeout passed: fails the task without retries, or skips it with soft_fail. */
function timedOut(ctx: TaskContext<SensorParams>, what: string, result: PokeResult, waited: number, n: number): never {
  const p = ctx.params;
  const seen = !result.done && result.seen ? ` (last poke: ${result.seen})` : '';
  const message = `sensor timed out after ${formatDuration(waited)} (timeout ${formatDuration(p.timeout)}, ${n} pokes): ${what}${seen}`;
  ctx.record({ poke_count: n, waited_ms: waited });
  if (p.soft_fail) throw new TaskSkipped(`${message}; soft_fail: skipped`);
  throw new TaskFailure(`${message}. Raise the sensor's timeout, or set soft_fail: true to skip the task instead of failing it`, {
    retryable: false,
    notRetriedBecause: 'the sensor timed out (its timeout covers every poke)',
  });
}

/** Waits ms, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason as Error);
    };
    // A plain setTimeout beyond 2^31 - 1 ms fires at once: wake up early and let the loop wait again.
    const t = setTimeout(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.min(ms, 2 ** 31 - 1),
    );
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
