import { expect } from 'chai';
import path from 'node:path';
import { FakeClock } from '../../../engine/run/clock.js';
import { Runs, downstreamClosure, isExecuting, upstreamClosure } from '../../../engine/run/runs.js';
import { RunRequestError, SluiceError } from '../../../engine/errors.js';
import { HOST, type DagRun, type StateStore } from '../../../engine/state/index.js';
import { SqliteStateStore } from '../../../engine/state/sqlite/index.js';
import type { Dag } from '../../../engine/interfaces.js';
import { harness, type Harness } from '../../helpers/engine.js';

const DAY = new Date('2024-01-01T00:00:00Z');
const NEXT = new Date('2024-01-02T00:00:00Z');
const interval = (start: Date) => ({ start, end: new Date(start.getTime() + 86_400_000) });

/** Runs fn and returns the error it throws or rejects with (fails when there is none). */
async function thrown(fn: () => unknown): Promise<Error> {
  try {
    await fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}

/** The error is a RunRequestError (exit 2) with exactly this message. */
async function expectRequestError(fn: () => unknown, message: string | RegExp): Promise<void> {
  const err = await thrown(fn);
  expect(err).to.be.instanceOf(RunRequestError);
  expect((err as SluiceError).exitCode).to.equal(2);
  if (typeof message === 'string') expect(err.message).to.equal(message);
  else expect(err.message).to.match(message);
}

describe('run lifecycle API (engine/run/runs.ts)', () => {
  let h: Harness;
  let clock: FakeClock;
  let runs: Runs;
  let dag: Dag;
  beforeEach(() => {
    clock = new FakeClock('2024-01-05T00:00:00Z');
    h = harness({ clock });
    runs = h.runs;
    dag = h.dag(`
dag: d
schedule: "@daily"
start_date: 2024-01-01
max_active_runs: 1
params:
  limit: 5
tasks:
  a: { operator: Empty, retries: 2 }
  b: { operator: Empty, upstream: [a] }
  c: { operator: Empty, upstream: [b] }
  other: { operator: Empty }
`);
  });
  afterEach(() => h.close());

  const states = async (runId: string) => Object.fromEntries((await h.store.tasks.list(runId)).map((t) => [t.taskId, t.state]));
  const finish = (runId: string, state: 'success' | 'failed') => h.store.runs.finish(runId, state, clock.now());

  describe('createRun', () => {
    it('creates a queued run with a task instance per task (retries + 1 tries), at the clock time; once per logical date', async () => {
      const run = (await runs.createRun({ dag, interval: interval(DAY), runType: 'scheduled' }))!;
      expect(run).to.include({ runId: 'd__scheduled__2024-01-01T00:00:00Z', state: 'queued', runType: 'scheduled' });
      expect(run.conf).to.deep.equal({});
      expect(run.createdAt.toISOString()).to.equal('2024-01-05T00:00:00.000Z');
      expect(run.dataIntervalEnd.toISOString()).to.equal(NEXT.toISOString());
      expect((await h.store.tasks.list(run.runId)).map((t) => [t.taskId, t.maxTries])).to.deep.equal([
        ['a', 3],
        ['b', 1],
        ['c', 1],
        ['other', 1],
      ]);
      // Idempotent per (dag_id, logical_date), whatever the run type.
      expect(await runs.createRun({ dag, interval: interval(DAY), runType: 'backfill' })).to.equal(null);
      expect(await h.store.runs.list({ dagId: 'd' })).to.have.length(1);
    });

    it('checks a given conf against the params; claim takes the run for this process; maxTries overrides', async () => {
      expect(() => runs.createRun({ dag, interval: interval(DAY), runType: 'manual', conf: { limt: 3 } })).to.throw(
        /unknown param 'limt'/,
      );
      expect(await h.store.runs.list({ dagId: 'd' })).to.have.length(0);
      const run = (await runs.createRun({
        dag,
        interval: interval(DAY),
        runType: 'manual',
        conf: { limit: 3 },
        claim: true,
        maxTries: 1,
      }))!;
      expect(run).to.include({ state: 'running', host: HOST, pid: process.pid });
      expect(run.conf).to.deep.equal({ limit: 3 });
      expect((await h.store.tasks.list(run.runId)).every((t) => t.maxTries === 1)).to.equal(true);
      expect(runs.isExecuting(run)).to.equal(true);
      expect(await runs.claim(run.runId)).to.equal(false);
    });
  });

  describe('trigger (run-dag)', () => {
    it('creates a claimed manual run; refuses a second one without rerun, and one being executed', async () => {
      const run = (await runs.trigger(dag, interval(DAY), { conf: { limit: 7 } }))!;
      expect(run).to.include({ runId: 'd__manual__2024-01-01T00:00:00Z', state: 'running', pid: process.pid });
      expect(run.conf).to.deep.equal({ limit: 7 });
      await expectRequestError(
        () => runs.trigger(dag, interval(DAY), { rerun: true }),
        `run ${run.runId} is being executed right now by process ${process.pid}; wait for it or stop it first`,
      );
      await finish(run.runId, 'failed');
      await expectRequestError(
        () => runs.trigger(dag, interval(DAY)),
        `DAG d already has a run for 2024-01-01T00:00:00Z: ${run.runId} (failed). ` +
          'Use --rerun to run it again, or --rerun --failed-only for its failed and unfinished tasks only.',
      );
      await expectRequestError(
        () => runs.trigger(dag, interval(NEXT), { failedOnly: true }),
        '--failed-only goes with --rerun of an existing run',
      );
    });

    it('rerun --failed-only clears only the unfinished tasks, keeps the conf unless given, and claims the run', async () => {
      const failing = h.dag(`
dag: f
params: { limit: 5 }
tasks:
  ok: { operator: Empty }
  bad: { operator: Fail, upstream: [ok] }
  after: { operator: Empty, upstream: [bad] }
`);
      const first = await h.run(failing, { conf: { limit: 9 }, logicalDate: DAY });
      expect(first.state).to.equal('failed');
      const again = (await runs.trigger(failing, interval(DAY), { rerun: true, failedOnly: true }))!;
      expect(again).to.include({ runId: first.runId, state: 'running', pid: process.pid });
      expect(again.conf).to.deep.equal({ limit: 9 });
      expect(await states(first.runId)).to.deep.equal({ ok: 'success', bad: null, after: null });
      await finish(first.runId, 'failed');
      await runs.trigger(failing, interval(DAY), { rerun: true, conf: { limit: 1 } });
      expect(await states(first.runId)).to.deep.equal({ ok: null, bad: null, after: null });
      expect((await runs.get(first.runId))!.conf).to.deep.equal({ limit: 1 });
    });

    it('changes nothing when no max_active_runs slot is free', async () => {
      expect(await runs.trigger(dag, interval(DAY), {}, 0)).to.equal(null);
      expect(await h.store.runs.list({ dagId: 'd' })).to.have.length(0);
    });

    it('triggerWhenSlotFree waits for max_active_runs (telling once), then creates; gives up when the signal aborts', async () => {
      const first = (await runs.trigger(dag, interval(DAY)))!;
      const ac = new AbortController();
      const told: DagRun[][] = [];
      const none = await runs.triggerWhenSlotFree(dag, interval(NEXT), {}, ac.signal, (active) => {
        told.push(active);
        ac.abort();
      });
      expect(none).to.equal(null);
      expect(told.map((a) => a.map((r) => r.runId))).to.deep.equal([[first.runId]]);
      expect(await runs.forDate('d', NEXT)).to.equal(undefined);

      // The other run ends while this one waits: the next look finds the slot free.
      let waits = 0;
      const second = await runs.triggerWhenSlotFree(dag, interval(NEXT), {}, new AbortController().signal, () => {
        waits++;
        void finish(first.runId, 'success');
      });
      expect(waits).to.equal(1);
      expect(second).to.include({ runId: 'd__manual__2024-01-02T00:00:00Z', state: 'running' });
      expect(clock.sleeps).to.include(500);
    });
  });

  describe('rerun, clearTasks and markRun', () => {
    let run: DagRun;
    beforeEach(async () => {
      run = (await runs.createRun({ dag, interval: interval(DAY), runType: 'manual' }))!;
      await h.store.runs.mark(run.runId, 'success', clock.now());
    });

    it('rerun queues an idle run again with every task cleared and its full tries', async () => {
      const { run: again, cleared } = await runs.rerun(dag, run.runId);
      expect(cleared).to.deep.equal(['a', 'b', 'c', 'other']);
      expect(again.state).to.equal('queued');
      expect(await states(run.runId)).to.deep.equal({ a: null, b: null, c: null, other: null });
      expect((await h.store.tasks.get(run.runId, 'a'))!.maxTries).to.equal(3);
      await expectRequestError(() => runs.rerun(dag, 'nope'), "no run 'nope' (see: sluice runs list)");
    });

    it('clearTasks clears the named tasks and, with downstream, everything after them', async () => {
      expect(downstreamClosure(dag, ['a'])).to.deep.equal(['a', 'b', 'c']);
      expect((await runs.clearTasks(dag, run.runId, { tasks: ['b'] })).cleared).to.deep.equal(['b']);
      expect(await states(run.runId)).to.deep.equal({ a: 'success', b: null, c: 'success', other: 'success' });
      expect((await runs.get(run.runId))!.state).to.equal('queued');
      expect((await runs.clearTasks(dag, run.runId, { tasks: ['a'], downstream: true })).cleared).to.deep.equal(['a', 'b', 'c']);
      expect(await states(run.runId)).to.deep.equal({ a: null, b: null, c: null, other: 'success' });
      expect((await runs.clearTasks(dag, run.runId, { failedOnly: true })).cleared).to.deep.equal(['a', 'b', 'c']);
    });

    it('clearTasks refuses unknown tasks, --downstream alone, a missing run, a run being executed and another DAG', async () => {
      await expectRequestError(
        () => runs.clearTasks(dag, run.runId, { tasks: ['zz'] }),
        "DAG d has no task 'zz'. Its tasks: a, b, c, other",
      );
      await expectRequestError(() => runs.clearTasks(dag, run.runId, { downstream: true }), '--downstream goes with --task');
      await expectRequestError(() => runs.clearTasks(dag, 'nope', {}), "no run 'nope' (see: sluice runs list)");
      const other = h.dag('dag: e\ntasks:\n  a: { operator: Empty }\n');
      await expectRequestError(() => runs.clearTasks(other, run.runId), `run ${run.runId} is a run of DAG d, not of e`);
      const busy = (await runs.trigger(dag, interval(NEXT)))!;
      await expectRequestError(
        () => runs.clearTasks(dag, busy.runId),
        `run ${busy.runId} is being executed by process ${process.pid}; wait for it or stop it first`,
      );
      expect(await states(run.runId)).to.deep.equal({ a: 'success', b: 'success', c: 'success', other: 'success' });
    });

    it('clearTasks with upstream clears everything before the named tasks too', async () => {
      expect(upstreamClosure(dag, ['c'])).to.deep.equal(['a', 'b', 'c']);
      expect((await runs.clearTasks(dag, run.runId, { tasks: ['b'], upstream: true })).cleared).to.deep.equal(['a', 'b']);
      expect(await states(run.runId)).to.deep.equal({ a: null, b: null, c: 'success', other: 'success' });
      await runs.markRun(run.runId, 'success');
      const both = await runs.clearTasks(dag, run.runId, { tasks: ['b'], upstream: true, downstream: true });
      expect(both.cleared).to.deep.equal(['a', 'b', 'c']);
      await expectRequestError(() => runs.clearTasks(dag, run.runId, { upstream: true }), '--upstream goes with --task');
    });

    it('markTasks marks the chosen task instances (with downstream or upstream); the run follows its tasks', async () => {
      await runs.clearTasks(dag, run.runId);
      clock.advance(60_000);
      const first = await runs.markTasks(dag, run.runId, ['a', 'other'], 'success');
      expect(first.marked).to.deep.equal(['a', 'other']);
      expect(first.run).to.include({ state: 'queued' }); // b and c are still to run
      expect(await states(run.runId)).to.deep.equal({ a: 'success', b: null, c: null, other: 'success' });
      const down = await runs.markTasks(dag, run.runId, ['b'], 'failed', { downstream: true });
      expect([down.tasks, down.marked]).to.deep.equal([
        ['b', 'c'],
        ['b', 'c'],
      ]);
      expect(down.run).to.include({ state: 'failed', note: 'tasks marked failed by hand' });
      expect(down.run.endedAt!.toISOString()).to.equal('2024-01-05T00:01:00.000Z');
      const up = await runs.markTasks(dag, run.runId, ['c'], 'success', { upstream: true });
      expect([up.tasks, up.marked]).to.deep.equal([
        ['a', 'b', 'c'],
        ['b', 'c'],
      ]);
      expect(up.run.state).to.equal('success');
      await expectRequestError(
        () => runs.markTasks(dag, run.runId, ['a'], 'running'),
        "a task instance can be marked success or failed, not 'running'",
      );
      await expectRequestError(() => runs.markTasks(dag, run.runId, [], 'success'), 'name the tasks to mark (none given)');
      await expectRequestError(
        () => runs.markTasks(dag, run.runId, ['zz'], 'success'),
        "DAG d has no task 'zz'. Its tasks: a, b, c, other",
      );
      const busy = (await runs.trigger(dag, interval(NEXT)))!;
      await expectRequestError(() => runs.markTasks(dag, busy.runId, ['a'], 'success'), /is being executed by process/);
      expect(await states(busy.runId)).to.deep.equal({ a: null, b: null, c: null, other: null });
    });

    it('markRun marks an idle run by hand and refuses other states and busy runs', async () => {
      await runs.clearTasks(dag, run.runId);
      clock.advance(60_000);
      const marked = await runs.markRun(run.runId, 'failed');
      expect(marked).to.include({ state: 'failed', note: 'marked failed by hand' });
      expect(marked.endedAt!.toISOString()).to.equal('2024-01-05T00:01:00.000Z');
      expect(await states(run.runId)).to.deep.equal({ a: 'failed', b: 'failed', c: 'failed', other: 'failed' });
      await expectRequestError(() => runs.markRun(run.runId, 'running'), "a run can be marked success or failed, not 'running'");
      const busy = (await runs.trigger(dag, interval(NEXT)))!;
      await expectRequestError(() => runs.markRun(busy.runId, 'success'), /is being executed by process/);
    });
  });

  describe('backfill', () => {
    it('plans create / rerun failed / skip per interval and queues what the plan says', async () => {
      const done = (await runs.createRun({ dag, interval: interval(DAY), runType: 'scheduled' }))!;
      await h.store.runs.mark(done.runId, 'success', clock.now());
      const failed = (await runs.createRun({ dag, interval: interval(NEXT), runType: 'scheduled' }))!;
      await h.store.runs.mark(failed.runId, 'failed', clock.now());
      const from = DAY;
      const to = new Date('2024-01-03T00:00:00Z');
      const actions = async (reprocess: 'failed' | 'completed' | 'none') =>
        (await runs.planBackfill(dag, from, to, reprocess)).map((p) => p.action);

      const plan = await runs.planBackfill(dag, from, to, 'failed');
      expect(plan.map((p) => [p.interval.start.toISOString().slice(0, 10), p.action, p.existing?.runId ?? null])).to.deep.equal([
        ['2024-01-01', 'skip', done.runId],
        ['2024-01-02', 'rerun failed', failed.runId],
        ['2024-01-03', 'create', null],
      ]);
      expect(await actions('completed')).to.deep.equal(['rerun', 'rerun', 'create']);
      expect(await actions('none')).to.deep.equal(['skip', 'skip', 'create']);

      const ids = await runs.queueBackfill(dag, plan);
      expect(ids).to.deep.equal([failed.runId, 'd__backfill__2024-01-03T00:00:00Z']);
      expect(await Promise.all(ids.map(async (id) => (await runs.get(id))!.state))).to.deep.equal(['queued', 'queued']);
      expect((await states(done.runId)).a).to.equal('success');
      expect(await runs.claim(ids[1]!)).to.equal(true);
      // A run being executed is skipped, whatever reprocess says.
      expect(await actions('completed')).to.deep.equal(['rerun', 'rerun', 'skip']);
    });

    it('refuses a reversed range and a DAG without a schedule', async () => {
      await expectRequestError(
        () => runs.planBackfill(dag, NEXT, DAY, 'none'),
        '--to (2024-01-01T00:00:00Z) is before --from (2024-01-02T00:00:00Z)',
      );
      const manual = h.dag('dag: m\ntasks:\n  a: { operator: Empty }\n');
      await expectRequestError(
        () => runs.planBackfill(manual, DAY, NEXT, 'none'),
        'DAG m has no schedule, so it has no intervals to backfill',
      );
    });
  });

  describe('active runs and crash recovery', () => {
    it('counts runs executing in live processes, on other hosts too; excludeOwn leaves this process out', async () => {
      const mine = (await runs.trigger(dag, interval(DAY)))!;
      const row = (over: Partial<DagRun>): DagRun => ({ ...mine, ...over });
      expect(isExecuting(row({ host: 'elsewhere', pid: 1 }), () => false)).to.equal(true);
      expect(isExecuting(row({ pid: 424242 }), () => false)).to.equal(false);
      expect(isExecuting(row({ state: 'queued' }))).to.equal(false);
      expect((await runs.activeRuns({ dagId: 'd' })).map((r) => r.runId)).to.deep.equal([mine.runId]);
      expect(await runs.activeRuns({ excludeOwn: true })).to.deep.equal([]);
      // Seen from a process that believes every pid of this host dead: not executing.
      expect(await new Runs(h.store, { alive: () => false }).activeRuns({ dagId: 'd', excludeOwn: true })).to.deep.equal([]);
    });

    it('recoverOrphans fails the tries of dead processes and requeues their runs, from a read-only store too', async () => {
      const recover = (store: StateStore) => new Runs(store, { clock, alive: () => false }).recoverOrphans();
      const run = (await runs.trigger(dag, interval(DAY)))!;
      await h.store.tasks.startTry(run.runId, 'a', clock.now());
      expect(await runs.recoverOrphans()).to.deep.equal([]); // this process is alive

      const reader = new SqliteStateStore(path.join(h.dir, 'state.db'), { readonly: true });
      try {
        const orphans = await recover(reader);
        expect(orphans).to.deep.equal([
          { runId: run.runId, taskId: 'a', tryNumber: 1, pid: process.pid, host: HOST, newState: 'up_for_retry' },
        ]);
      } finally {
        await reader.close();
      }
      expect((await runs.get(run.runId))!.state).to.equal('queued');
      expect((await h.store.tasks.tries(run.runId, 'a'))[0]!.error).to.match(
        /^process died: pid \d+ on .+ ended while this try was running$/,
      );
      expect(await recover(h.store)).to.deep.equal([]);

      const next = (await runs.trigger(dag, interval(NEXT)))!;
      await h.store.tasks.startTry(next.runId, 'other', clock.now());
      expect((await recover(h.store)).map((o) => [o.runId, o.taskId, o.newState])).to.deep.equal([
        [next.runId, 'other', 'failed'],
      ]);
      expect((await runs.get(next.runId))!.state).to.equal('queued');
    });
  });
});
