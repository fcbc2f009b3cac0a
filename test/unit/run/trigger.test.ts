import { expect } from 'chai';
import { evaluateTrigger } from '../../../engine/run/trigger.js';
import type { TaskState, TriggerRule } from '../../../engine/interfaces.js';

type Case = [TriggerRule, (TaskState | null)[], string];

const S = 'success',
  F = 'failed',
  UF = 'upstream_failed',
  K = 'skipped',
  R = 'running';

const cases: Case[] = [
  ['all_success', [], 'run'],
  ['all_success', [S, S], 'run'],
  ['all_success', [S, R], 'wait'],
  ['all_success', [S, F], 'upstream_failed'],
  ['all_success', [R, UF], 'upstream_failed'],
  ['all_success', [S, K], 'skipped'],
  ['all_failed', [F, UF], 'run'],
  ['all_failed', [F, R], 'wait'],
  ['all_failed', [F, S], 'skipped'],
  ['all_failed', [F, K], 'skipped'],
  ['all_done', [S, F, K, UF], 'run'],
  ['all_done', [S, 'up_for_retry'], 'wait'],
  ['one_success', [R, S], 'run'],
  ['one_success', [R, F], 'wait'],
  ['one_success', [F, UF], 'upstream_failed'],
  ['one_success', [F, K], 'upstream_failed'],
  ['one_success', [K, K], 'skipped'],
  ['one_failed', [R, F], 'run'],
  ['one_failed', [R, UF], 'run'],
  ['one_failed', [S, R], 'wait'],
  ['one_failed', [S, K], 'skipped'],
  ['none_failed', [S, K], 'run'],
  ['none_failed', [S, R], 'wait'],
  ['none_failed', [S, F], 'upstream_failed'],
  ['always', [R, null], 'run'],
  ['always', [F], 'run'],
];

describe('trigger rules', () => {
  for (const [rule, upstream, expected] of cases) {
    it(`${rule} with [${upstream.join(', ')}] -> ${expected}`, () => {
      expect(evaluateTrigger(rule, upstream)).to.equal(expected);
    });
  }
});
