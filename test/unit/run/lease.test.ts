/**
 * A try that cannot renew its lease stops before the lease ends, whether the
 * renewal fails (the database refuses connections) or never answers (a
 * network partition: a statement on a connection whose packets vanish waits
 * on TCP retransmissions for many minutes). The state here is the harness's
 * SQLite store with its lease renewal replaced; the rest is real.
 */
import { expect } from 'chai';
import type { LeaseStore, StateStore, TaskStore, TaskTry } from '../../../engine/state/index.js';
import { FakeClock } from '../../../engine/run/clock.js';
import { runTry } from '../../../engine/run/try.js';
import { createSinkLogger } from '../../../engine/log.js';
import { harness, noConnections } from '../../helpers/engine.js';

/** The store with `renew` replaced, and startTry slowed down by delayMs; every other method is the real one. */
function withLeases(store: StateStore, renew: LeaseStore['renew'], delayMs: number, seen: { leaseUntil?: Date }): StateStore {
  const leases = new Proxy(store.leases, { get: (t, k, r) => (k === 'renew' ? renew : Reflect.get(t, k, r)) });
  const startTry: TaskStore['startTry'] = async (runId, taskId, now, leaseUntil) => {
    seen.leaseUntil = leaseUntil;
    await new Promise((r) => setTimeout(r, delayMs));
    return store.tasks.startTry(runId, taskId, now, leaseUntil);
  };
  const tasks = new Proxy(store.tasks, { get: (t, k, r) => (k === 'startTry' ? startTry : Reflect.get(t, k, r)) });
  return new Proxy(store, {
    get: (t, k, r) => (k === 'leases' ? leases : k === 'tasks' ? tasks : Reflect.get(t, k, r)),
  });
}

/**
 * Runs one try of a task that waits until aborted; what it recorded, the lease end its start recorded, and when
 * its operator saw the abort.
 */
async function tryWith(renew: LeaseStore['renew'], leaseMs: number, startDelayMs = 0) {
  const h = harness();
  try {
    const dag = h.dag(`
dag: leased
tasks:
  wait: { operator: Sleep, ms: 600000 }
`);
    const day = new Date('2024-01-01T00:00:00Z');
    const run = (await h.runs.createRun({
      dag,
      interval: { start: day, end: new Date(day.getTime() + 86_400_000) },
      runType: 'manual',
    }))!;
    const lines: { level: number; time: number; msg: string }[] = [];
    const logger = createSinkLogger({ write: (l: string) => void lines.push(JSON.parse(l)) }, 'info');
    const seen: { leaseUntil?: Date } = {};
    const abort = new AbortController();
    let abortedAt = 0;
    abort.signal.addEventListener('abort', () => (abortedAt = Date.now()));
    const ti = await runTry({
      dag,
      runId: run.runId,
      spec: dag.tasks.get('wait')!,
      conf: {},
      deps: {
        store: withLeases(h.store, renew, startDelayMs, seen),
        registry: h.registry,
        connections: noConnections(),
        logger,
        resolvePath: (p) => p,
        leaseMs,
      },
      clock: new FakeClock('2024-01-02T00:00:00Z'),
      abort,
      tryOf: (await h.store.tasks.get(run.runId, 'wait'))!,
      setState: () => undefined,
    });
    const [t] = (await h.store.tasks.tries(run.runId, 'wait')) as [TaskTry];
    return { ti, t, lines, leaseEnd: seen.leaseUntil!.getTime(), abortedAt };
  } finally {
    await h.close();
  }
}

describe('one try: its lease when it cannot be renewed', function () {
  this.timeout(30_000);

  it('a renewal that never answers: the try is aborted before its lease ends', async () => {
    const leaseMs = 2_000;
    const r = await tryWith(() => new Promise<boolean>(() => undefined), leaseMs);
    // The lease it holds is the one its start recorded, never extended.
    expect(r.abortedAt, 'aborted').to.be.above(0);
    expect(r.abortedAt).to.be.below(r.leaseEnd);
    expect(r.t.state).to.equal('failed');
    expect(r.t.error).to.match(
      /^could not renew this try's lease \(no answer from the state database for [\d.]+m?s\); stopped before the lease ends, for another worker to retry it$/,
    );
    expect(r.ti.state).to.equal('failed'); // retries: 0
    const said = r.lines.find((l) => l.msg.startsWith("could not renew this try's lease ("));
    expect(said?.level).to.equal(50);
  });

  it('a slow start: the deadline is the lease its start recorded, not one counted from when the start returned', async () => {
    const leaseMs = 2_000;
    // startTry's statement takes most of the lease: half of it is already gone when the try gets going.
    const r = await tryWith(() => new Promise<boolean>(() => undefined), leaseMs, 1_500);
    expect(r.abortedAt, 'aborted').to.be.above(0);
    expect(r.abortedAt).to.be.below(r.leaseEnd);
    expect(r.t.error).to.match(/^could not renew this try's lease/);
  });

  it('a renewal that fails: the try is aborted before its lease ends, saying why', async () => {
    const leaseMs = 2_000;
    let calls = 0;
    const r = await tryWith(async () => {
      calls++;
      throw new Error('connect ECONNREFUSED 10.0.0.5:5432');
    }, leaseMs);
    expect(calls).to.be.at.least(1);
    expect(r.abortedAt).to.be.above(0);
    expect(r.abortedAt).to.be.below(r.leaseEnd);
    expect(r.t.error).to.equal(
      "could not renew this try's lease (connect ECONNREFUSED 10.0.0.5:5432); stopped before the lease ends, " +
        'for another worker to retry it',
    );
    expect(r.lines.filter((l) => l.msg === "could not renew this try's lease").length).to.equal(calls);
  });

  it('another process failed the try as lost: it is aborted at once, not retried from here', async () => {
    const r = await tryWith(async () => false, 2_000);
    expect(r.abortedAt).to.be.above(0);
    expect(r.t.error).to.match(/^worker lost: another process failed this try after its lease ended/);
  });
});
