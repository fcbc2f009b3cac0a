/**
 * Wake-ups through LISTEN/NOTIFY on the PostgreSQL state (WorkStore.wakeups):
 * a process listening on a queue is told when a task instance is queued on
 * it by another process, only once the queueing committed; a run loop is told
 * when a worker's try of its run ends; tries not handed to workers and queues
 * nobody listens on tell nobody; a stopped listener hears nothing more.
 */
import { expect } from 'chai';
import type { NewRun, StateStore, WakeEvent } from '../../../engine/state/index.js';
import { PostgresStateStore } from '../../../engine/state/postgres/index.js';
import { usePostgres } from '../../helpers/postgres.js';

const DAY = new Date('2024-01-01T00:00:00Z');
const T0 = new Date('2024-01-02T00:00:00Z');

function newRun(day: Date): NewRun {
  return {
    dagId: 'wake',
    logicalDate: day,
    dataIntervalStart: day,
    dataIntervalEnd: day,
    runType: 'manual',
    conf: {},
    tasks: ['a', 'b', 'c'].map((taskId) => ({ taskId, operator: 'Empty', maxTries: 1 })),
    now: T0,
  };
}

/** Resolves with the events received once `n` arrived. */
function collector(n: number): { events: WakeEvent[]; on: (e: WakeEvent) => void; done: Promise<WakeEvent[]> } {
  const events: WakeEvent[] = [];
  let resolve!: (e: WakeEvent[]) => void;
  const done = new Promise<WakeEvent[]>((r) => (resolve = r));
  return {
    events,
    on: (e) => {
      events.push(e);
      if (events.length >= n) resolve(events);
    },
    done,
  };
}

describe('PostgreSQL state: wake-ups through LISTEN/NOTIFY', function () {
  this.timeout(60_000);
  const server = usePostgres('wakeups');
  let scheduler: PostgresStateStore;
  let worker: PostgresStateStore;
  let other: StateStore;
  before(async () => {
    scheduler = await PostgresStateStore.open(server.url);
    worker = await PostgresStateStore.open(server.url);
    // Another schema in the same database: its queues are other channels.
    const u = new URL(server.url);
    u.searchParams.set('schema', 'other_state');
    other = await PostgresStateStore.open(u.toString());
  });
  after(async () => {
    await Promise.all([scheduler?.close(), worker?.close(), other?.close()]);
  });

  it('tells a listener of a queue when a task instance is queued on it, and nobody else', async () => {
    const run = (await scheduler.runs.create(newRun(DAY)))!;
    await scheduler.runs.start(run.runId, T0);
    const heavy = collector(1);
    const nothing = collector(1);
    const stopHeavy = await worker.work.wakeups!({ queues: ['heavy'] }, heavy.on);
    const stopNone = await worker.work.wakeups!({ queues: ['light'], tryEnds: true }, nothing.on);
    const stopOther = await other.work.wakeups!({ queues: ['heavy'] }, nothing.on);
    try {
      await scheduler.work.enqueue(run.runId, 'a', 'heavy', T0);
      expect(await heavy.done).to.deep.equal([{ kind: 'queued', queue: 'heavy' }]);
      // Queued already: kept as it is, and nobody is told again.
      await scheduler.work.enqueue(run.runId, 'a', 'heavy', T0);
      await scheduler.work.enqueue(run.runId, 'b', 'default', T0);
      const later = collector(1);
      const stopLater = await worker.work.wakeups!({ queues: ['heavy', 'default'] }, later.on);
      await scheduler.work.enqueue(run.runId, 'c', 'heavy', T0);
      expect(await later.done).to.deep.equal([{ kind: 'queued', queue: 'heavy' }]);
      stopLater();
      expect(heavy.events).to.deep.equal([
        { kind: 'queued', queue: 'heavy' },
        { kind: 'queued', queue: 'heavy' },
      ]);
      expect(nothing.events).to.deep.equal([]);
      const claimed = await worker.work.claim(['heavy'], 5, 'host-w', 1, T0);
      expect(claimed.map((c) => c.taskId)).to.deep.equal(['a', 'c']);
    } finally {
      stopHeavy();
      stopNone();
      stopOther();
    }
  });

  it('tells nothing before the queueing commits', async () => {
    const run = (await scheduler.runs.create(newRun(new Date('2024-01-05T00:00:00Z'))))!;
    await scheduler.runs.start(run.runId, T0);
    const heard = collector(1);
    const stop = await worker.work.wakeups!({ queues: ['tx'] }, heard.on);
    try {
      // The same statement the store runs, in a transaction held open: NOTIFY is sent at commit.
      const pool = (scheduler as unknown as { db: { pool: import('pg').Pool } }).db.pool;
      const c = await pool.connect();
      try {
        await c.query('BEGIN');
        await c.query(`UPDATE task_instances SET state = 'scheduled' WHERE run_id = $1`, [run.runId]);
        await c.query(`SELECT pg_notify('sluice_' || md5(current_schema() || ':queue:' || 'tx'), 'tx')`);
        // A round trip on the listener's database after the NOTIFY: had it been sent, it would have arrived.
        await worker.work.claim(['tx'], 1, 'h', 1, T0);
        await new Promise((r) => setTimeout(r, 50));
        expect(heard.events).to.deep.equal([]);
        await c.query('COMMIT');
      } finally {
        c.release();
      }
      expect(await heard.done).to.deep.equal([{ kind: 'queued', queue: 'tx' }]);
    } finally {
      stop();
    }
  });

  it("tells a run loop when a worker's try of its run ends; a try run in-process tells nobody", async () => {
    const run = (await scheduler.runs.create(newRun(new Date('2024-01-03T00:00:00Z'))))!;
    await scheduler.runs.start(run.runId, T0);
    const ends = collector(1);
    const stop = await scheduler.work.wakeups!({ tryEnds: true }, ends.on);
    try {
      // In-process (local executor): the task instance has no queue.
      await worker.tasks.setState(run.runId, 'b', 'queued', T0);
      const local = await worker.tasks.startTry(run.runId, 'b', T0);
      await worker.tasks.endTry(local, { state: 'success', taskState: 'success', now: T0 });
      // Handed to a worker.
      await scheduler.work.enqueue(run.runId, 'a', 'ends', T0);
      const [c] = await worker.work.claim(['ends'], 1, 'host-w', 1, T0);
      expect(c!.taskId).to.equal('a');
      const t = await worker.tasks.startTry(run.runId, 'a', T0);
      expect(ends.events).to.deep.equal([]);
      await worker.tasks.endTry(t, { state: 'success', taskState: 'success', now: T0 });
      expect(await ends.done).to.deep.equal([{ kind: 'tryEnded', runId: run.runId, taskId: 'a' }]);
    } finally {
      stop();
    }
    // Stopped: nothing more arrives.
    await scheduler.work.enqueue(run.runId, 'c', 'ends', T0);
    const t = await worker.tasks.startTry(run.runId, 'c', T0);
    await worker.tasks.endTry(t, { state: 'success', taskState: 'success', now: T0 });
    await new Promise((r) => setTimeout(r, 100));
    expect(ends.events).to.have.lengthOf(1);
  });
});
