/**
 * A try's pool slots (a task's `pool` and `pool_slots`; `sluice pools`):
 * taken before the try starts, waiting while the pool is full, and held
 * while it runs (the state store derives what is held from the task
 * instance, so there is nothing to give back).
 */
import { PoolError } from '../errors.js';
import type { StateStore } from '../state/index.js';
import { systemClock } from './clock.js';

/** How often a try waiting for slots of a full pool looks again. */
const POOL_POLL_MS = 500;

export type PoolWait = { outcome: 'taken'; waitedMs: number } | { outcome: 'refused'; error: PoolError } | { outcome: 'aborted' };

/**
 * Takes the task's pool slots before its try starts, waiting while the pool
 * is full (other tries hold its slots, in any process sharing the state).
 * Refused (the try is recorded failed with why, and retried under its
 * policy): the pool does not exist, or is smaller than the slots the task
 * needs. Aborted while waiting (the run interrupted, the worker stopping):
 * no try is started. Waits in wall-clock time: the slots are freed by other
 * processes, whatever the run's clock.
 */
export async function takePoolSlots(
  store: StateStore,
  t: { runId: string; taskId: string; pool: string; slots: number },
  signal: AbortSignal,
): Promise<PoolWait> {
  const { runId, taskId, pool, slots } = t;
  const started = Date.now();
  const where = `task ${taskId} (pool: ${pool}, pool_slots: ${slots})`;
  for (;;) {
    if (signal.aborted) return { outcome: 'aborted' };
    const took = await store.pools.take(runId, taskId, pool, slots);
    if (took.outcome === 'taken') return { outcome: 'taken', waitedMs: Date.now() - started };
    if (took.outcome === 'missing')
      return {
        outcome: 'refused',
        error: new PoolError(`${where}: there is no pool '${pool}' in the state; create it: sluice pools set ${pool} <slots>`),
      };
    if (slots > took.slots)
      return {
        outcome: 'refused',
        error: new PoolError(
          `${where}: pool '${pool}' has only ${took.slots} slot(s), so this task could never run; ` +
            `raise them (sluice pools set ${pool} ${slots}) or lower pool_slots`,
        ),
      };
    await systemClock.sleep(POOL_POLL_MS, signal);
  }
}
