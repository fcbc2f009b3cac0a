/**
 * The delay before a retry follows Airflow's TaskInstance.next_retry_datetime
 * (airflow/models/taskinstance.py):
 *
 *     delay = task.retry_delay
 *     if task.retry_exponential_backoff:
 *         min_backoff = max(1, ceil(delay.total_seconds() * 2 ** (try_number - 1)))
 *         ... + a hash-based jitter in [0, min_backoff)   (Sluice adds none: documented)
 *         delay = timedelta(seconds=min(min_backoff + jitter, MAX_RETRY_DELAY))   # [core] max_task_retry_delay, 86400
 *         if task.max_retry_delay:
 *             delay = min(task.max_retry_delay, delay)
 *     return end_date + delay
 *
 * try_number is the try that just failed (Airflow >= 2.10 counts it so).
 */
import { expect } from 'chai';
import { MAX_TASK_RETRY_DELAY_MS, retryDelayMs } from '../../../engine/run/runner.js';
import type { RetryPolicy } from '../../../engine/interfaces.js';

const policy = (p: Partial<RetryPolicy>): RetryPolicy => ({
  retries: 10,
  retryDelayMs: 300_000,
  retryExponentialBackoff: false,
  maxRetryDelayMs: null,
  ...p,
});

describe('retryDelayMs: Airflow TaskInstance.next_retry_datetime', () => {
  it('next_retry_datetime without backoff: retry_delay as it is, max_retry_delay not applied', () => {
    const p = policy({ retryDelayMs: 600_000, maxRetryDelayMs: 60_000 });
    expect([1, 2, 3].map((n) => retryDelayMs(p, n))).to.deep.equal([600_000, 600_000, 600_000]);
  });

  it('next_retry_datetime without backoff: sub-second delays are not rounded', () => {
    expect(retryDelayMs(policy({ retryDelayMs: 250 }), 1)).to.equal(250);
  });

  it('next_retry_datetime with backoff: retry_delay * 2^(try_number-1), capped by max_retry_delay', () => {
    // Airflow's test_next_retry_datetime: retry_delay 30 s, max_retry_delay 60 min
    const p = policy({ retryDelayMs: 30_000, retryExponentialBackoff: true, maxRetryDelayMs: 3_600_000 });
    expect(retryDelayMs(p, 1)).to.equal(30_000);
    expect(retryDelayMs(p, 3)).to.equal(120_000);
    expect(retryDelayMs(p, 5)).to.equal(480_000);
    expect(retryDelayMs(p, 9)).to.equal(3_600_000);
    expect(retryDelayMs(p, 50)).to.equal(3_600_000);
  });

  it('next_retry_datetime with backoff: rounded up to whole seconds (math.ceil), at least 1 s', () => {
    const p = (ms: number) => policy({ retryDelayMs: ms, retryExponentialBackoff: true });
    expect(retryDelayMs(p(1_500), 1)).to.equal(2_000); // ceil(1.5)
    expect(retryDelayMs(p(1_500), 2)).to.equal(3_000); // ceil(3.0)
    expect(retryDelayMs(p(300), 2)).to.equal(1_000); // ceil(0.6)
    expect(retryDelayMs(p(0), 1)).to.equal(1_000); // min_backoff < 1 -> 1
  });

  it('next_retry_datetime with backoff: never more than max_task_retry_delay (86400 s) without max_retry_delay', () => {
    const p = policy({ retryDelayMs: 300_000, retryExponentialBackoff: true });
    expect(MAX_TASK_RETRY_DELAY_MS).to.equal(86_400_000);
    expect(retryDelayMs(p, 9)).to.equal(76_800_000); // 300 s * 2^8
    expect(retryDelayMs(p, 10)).to.equal(86_400_000);
    expect(retryDelayMs(p, 2_000)).to.equal(86_400_000); // 2^1999 overflows to Infinity: still capped
  });

  it('next_retry_datetime with backoff: a max_retry_delay above 24 h does not lift the cap', () => {
    const p = policy({ retryDelayMs: 3_600_000, retryExponentialBackoff: true, maxRetryDelayMs: 7 * 86_400_000 });
    expect(retryDelayMs(p, 6)).to.equal(86_400_000);
  });
});
