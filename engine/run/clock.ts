/**
 * Time, injectable: the runner and the scheduler never read the wall clock
 * or sleep directly, so tests can drive retries and delays without waiting.
 */
import { setTimeout as sleepReal } from 'node:timers/promises';

export interface Clock {
  now(): Date;
  /** Resolves after ms, or early (without throwing) when the signal aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => new Date(),
  async sleep(ms, signal) {
    if (signal?.aborted) return;
    await sleepReal(Math.max(0, ms), undefined, { signal }).catch(() => undefined);
  },
};

/**
 * A clock for tests: sleeping moves time forward at once, and every sleep
 * is recorded (so retry delays can be asserted exactly).
 */
export class FakeClock implements Clock {
  readonly sleeps: number[] = [];
  private t: number;

  constructor(start: Date | string = '2024-01-01T00:00:00Z') {
    this.t = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.t);
  }

  advance(ms: number): void {
    this.t += ms;
  }

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return;
    this.sleeps.push(ms);
    this.t += Math.max(0, ms);
    await Promise.resolve();
  }
}
