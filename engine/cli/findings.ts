/**
 * What a try found besides its state, read back from the state DB: its data
 * quality check results (recorded as outputs.checks) and its rejected load
 * lines. `sluice report` shows them in full; run-dag's summary counts them.
 */
import { asChecks, type CheckResult } from '../quality.js';
import type { StateStore, StoredRejection } from '../state/index.js';

export { asChecks, type CheckResult } from '../quality.js';

export type Rejection = StoredRejection;

/** A try's outputs (checks split off), its check results and its rejected lines. */
export async function tryFindings(
  store: StateStore,
  tryId: number | undefined,
): Promise<{ outputs: Record<string, unknown>; checks: CheckResult[]; rejections: Rejection[] }> {
  if (tryId === undefined) return { outputs: {}, checks: [], rejections: [] };
  const { checks, ...outputs } = (await store.tasks.outputs(tryId)) ?? {};
  return { outputs, checks: asChecks(checks), rejections: await store.logs.rejections(tryId) };
}

/** `observed 2, expected >= 100`, as summaries and errors say it. */
export function observedVsExpected(c: Pick<CheckResult, 'observed' | 'expected'>): string {
  const show = (v: unknown) => (typeof v === 'string' ? v : v === undefined ? '-' : JSON.stringify(v));
  return `observed ${show(c.observed)}, expected ${show(c.expected)}`;
}
