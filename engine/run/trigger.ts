/**
 * Trigger rules (Airflow's), as a pure function of the upstream tasks' states.
 */
import type { TaskState, TriggerRule } from '../interfaces.js';

/** What a task whose trigger rule was evaluated does next. */
export type TriggerDecision = 'run' | 'wait' | 'skipped' | 'upstream_failed';

export function evaluateTrigger(rule: TriggerRule, upstream: readonly (TaskState | null)[]): TriggerDecision {
  const total = upstream.length;
  if (total === 0 || rule === 'always') return 'run';
  let success = 0;
  let skipped = 0;
  let failed = 0;
  let upstreamFailed = 0;
  for (const s of upstream) {
    if (s === 'success') success++;
    else if (s === 'skipped') skipped++;
    else if (s === 'failed') failed++;
    else if (s === 'upstream_failed') upstreamFailed++;
  }
  const anyFailed = failed + upstreamFailed;
  const done = success + skipped + anyFailed;
  switch (rule) {
    case 'all_success':
      if (anyFailed > 0) return 'upstream_failed';
      if (skipped > 0) return 'skipped';
      return success === total ? 'run' : 'wait';
    case 'all_failed':
      if (success > 0 || skipped > 0) return 'skipped';
      return anyFailed === total ? 'run' : 'wait';
    case 'all_done':
      return done === total ? 'run' : 'wait';
    case 'one_success':
      if (success > 0) return 'run';
      if (done < total) return 'wait';
      return skipped === total ? 'skipped' : 'upstream_failed';
    case 'one_failed':
      if (anyFailed > 0) return 'run';
      return done === total ? 'skipped' : 'wait';
    case 'none_failed':
      if (anyFailed > 0) return 'upstream_failed';
      return done === total ? 'run' : 'wait';
  }
}
