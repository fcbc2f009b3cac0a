/**
 * Time, injectable: the runner and the scheduler never read the wall clock
 * or sleep directly, so tests can drive retries and delays without waiting.
 */

/**
 * The longest delay one Node timer holds (2^31 - 1 ms, about 24.8 days). A
 * longer delay given to setTimeout fires after 1 ms with a
 * TimeoutOverflowWarning, so a `retry_delay: 30d` would busy-loop and an
 * `execution_timeout: 30d` would fail the try at once: long delays are
 * chained through timers of at most this length instead.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A pending setLongTimeout. */
export interface LongTimer {
  /** Cancels the timer; safe to call more than once or after it fired. */
  clear(): void;
  /** Lets the process exit while only this timer is pending. */
  unref(): LongTimer;
}

/**
 * setTimeout for any delay: a delay longer than a Node timer can hold is
 * waited in segments of at most `segmentMs`. An infinite delay never fires
 * (until cleared); negative and NaN delays fire at once, as with setTimeout.
 */
export function setLongTimeout(fn: () => void, ms: number, segmentMs = MAX_TIMER_MS): LongTimer {
  // A monotonic deadline: a wall-clock change (NTP, a manual fix) neither shortens nor stretches the wait.
  const until = performance.now() + (Number.isNaN(ms) ? 0 : Math.max(0, ms));
  let timer: NodeJS.Timeout | null = null;
  let unref = false;
  let cleared = false;
  const arm = () => {
    timer = setTimeout(tick, Math.max(0, Math.min(until - performance.now(), segmentMs)));
    if (unref) timer.unref();
  };
  const tick = () => {
    timer = null;
    if (cleared) return;
    if (until - performance.now() > 0) arm();
    else fn();
  };
  arm();
  const handle: LongTimer = {
    clear() {
      cleared = true;
      if (timer) clearTimeout(timer);
      timer = null;
    },
    unref() {
      unref = true;
      timer?.unref();
      return handle;
    },
  };
  return handle;
}

export interface Clock {
  now(): Date;
  /** Resolves after ms, or early (without throwing) when the signal aborts. Any ms, however long. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => new Date(),
  sleep(ms, signal) {
    if (signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        timer.clear();
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setLongTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
    });
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
