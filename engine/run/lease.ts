/**
 * Keeping a lease alive: a try's (TaskStore.startTry, LeaseStore.renew) or a
 * run's (RunStore.claim/start, LeaseStore.renewRun). The holder renews every
 * quarter of lease_timeout, in wall-clock time (a lease says whether this
 * process is alive, whatever the run's clock).
 *
 * - Renewal refused (another process recovered what the lease covered):
 *   `lost('taken')` at once; the holder must stop, recording nothing more.
 * - Not renewed (the state database out of reach: renewals fail, or hang
 *   on a connection whose packets vanish in a network partition, waiting
 *   on TCP retransmissions for many minutes) while half of the lease is
 *   left: `lost('unreachable')`, so the holder stops before its lease ends
 *   and another process may take over: two processes never hold one
 *   lease's work at once. That deadline is a timer of its own, re-armed by
 *   each renewal that succeeds, never the end of a pending renewal.
 */
import { errorMessage } from '../errors.js';
import { formatDuration } from '../duration.js';

export interface LeaseKeeper {
  stop(): void;
}

export type LeaseLoss = { why: 'taken' } | { why: 'unreachable'; err: unknown };

/** firstEnd: the end the holder recorded when it took the lease (default: leaseMs from now). */
export function keepLease(
  renew: (until: Date) => Promise<boolean>,
  leaseMs: number,
  lost: (loss: LeaseLoss) => void,
  warn: (err: string, leftMs: number) => void,
  firstEnd: number = Date.now() + leaseMs,
): LeaseKeeper {
  const every = Math.max(50, Math.floor(leaseMs / 4));
  let validUntil = firstEnd;
  let lastError: unknown = null;
  let timer: NodeJS.Timeout | undefined;
  let deadline: NodeJS.Timeout | undefined;
  let stopped = false;
  const stop = () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    if (deadline) clearTimeout(deadline);
  };
  const giveUp = () => {
    if (stopped) return;
    stop();
    const since = leaseMs - (validUntil - Date.now());
    lost({ why: 'unreachable', err: lastError ?? new Error(`no answer from the state database for ${formatDuration(since)}`) });
  };
  /** (Re)arms the deadline: half of the lease before the end of the last renewal that succeeded. */
  const arm = () => {
    if (deadline) clearTimeout(deadline);
    deadline = setTimeout(giveUp, Math.max(0, validUntil - 2 * every - Date.now()));
    deadline.unref();
  };
  const beat = async () => {
    const until = new Date(Date.now() + leaseMs);
    try {
      if (await renew(until)) {
        validUntil = until.getTime();
        lastError = null;
        if (!stopped) arm();
      } else if (!stopped) {
        stop();
        return lost({ why: 'taken' });
      }
    } catch (err) {
      lastError = err;
      if (!stopped) warn(errorMessage(err), validUntil - Date.now());
    }
    if (!stopped) schedule();
  };
  const schedule = () => {
    timer = setTimeout(() => void beat(), every);
    timer.unref();
  };
  arm();
  schedule();
  return { stop };
}
