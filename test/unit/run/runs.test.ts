import { expect } from 'chai';
import path from 'node:path';
import { FakeClock } from '../../../engine/run/clock.js';
import { Runs, downstreamClosure, isExecuting } from '../../../engine/run/runs.js';
import { RunRequestError, SluiceError } from '../../../engine/errors.js';
import { HOST, StateStore, type DagRunRow } from '../../../engine/state/store.js';
import type { Dag } from '../../../engine/interfaces.js';
import { harness, type Harness } from '../../helpers/engine.js';

const DAY = new Date('2024-01-01T00:00:00Z');
const NEXT = new Date('2024-01-02T00:00:00Z');
const interval = (start: Date) => ({ start, end: new Date(start.getTime() + 86_400_000) });

/** Runs fn and returns the error it throws (fails when it does not). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}

/** The error is a RunRequestError (exit 2) with exactly this message. */
function expectRequestError(fn: () => unknown, message: string | RegExp): void {
  const err = thrown(fn);
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

  const states = (runId: string) => Object.fromEntries(h.store.listTaskInstances(runId).map((t) => [t.task_id, t.state]));

  describe('createRun', () => {
    it('creates a queued run with a task instance per task (retries + 1 tries), at the clock time; once per logical date', () => {
      const run = runs.createRun({ dag, interval: interval(DAY), runType: 'scheduled' })!;
      expect(run).to.include({
        run_id: 'd__scheduled__2024-01-01T00:00:00Z',
        state: 'queued',
        run_type: 'scheduled',
        conf: '{}',
      });
      expect(run.created_at).to.equal('2024-01-05T00:00:00.000Z');
      expect(run.data_interval_end).to.equal(NEXT.toISOString());
      expect(h.store.listTaskInstances(run.run_id).map((t) => [t.task_id, t.max_tries])).to.deep.equal([
        ['a', 3],
        ['b', 1],
        ['c', 1],
        ['other', 1],
      ]);
      // Idempotent per (dag_id, logical_date), whatever the run type.
      expect(runs.createRun({ dag, interval: interval(DAY), runType: 'backfill' })).to.equal(null);
      expect(h.store.listRuns({ dagId: 'd' })).to.have.length(1);
    });

    it('checks a given conf against the params; claim takes the run for this process; maxTries overrides', () => {
      expect(() => runs.createRun({ dag, interval: interval(DAY), runType: 'manual', conf: { limt: 3 } })).to.throw(
        /unknown param 'limt'/,
      );
      expect(h.store.listRuns({ dagId: 'd' })).to.have.length(0);
      const run = runs.createRun({
        dag,
        interval: interval(DAY),
        runType: 'manual',
        conf: { limit: 3 },
        claim: true,
        maxTries: 1,
      })!;
      expect(run).to.include({ state: 'running', conf: '{"limit":3}', host: HOST, pid: process.pid });
      expect(h.store.listTaskInstances(run.run_id).every((t) => t.max_tries === 1)).to.equal(true);
      expect(runs.isExecuting(run)).to.equal(true);
      expect(runs.claim(run.run_id)).to.equal(false);
    });
  });

  describe('trigger (run-dag)', () => {
    it('creates a claimed manual run; refuses a second one without rerun, and one being executed', () => {
      const run = runs.trigger(dag, interval(DAY), { conf: { limit: 7 } })!;
      expect(run).to.include({
        run_id: 'd__manual__2024-01-01T00:00:00Z',
        state: 'running',
        pid: process.pid,
        conf: '{"limit":7}',
      });
      expectRequestError(
        () => runs.trigger(dag, interval(DAY), { rerun: true }),
        `run ${run.run_id} is being executed right now by process ${process.pid}; wait for it or stop it first`,
      );
      h.store.finishRun(run.run_id, 'failed', clock.now());
      expectRequestError(
        () => runs.trigger(dag, interval(DAY)),
        `DAG d already has a run for 2024-01-01T00:00:00Z: ${run.run_id} (failed). ` +
          'Use --rerun to run it again, or --rerun --failed-only for its failed and unfinished tasks only.',
      );
      expectRequestError(
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
      const again = runs.trigger(failing, interval(DAY), { rerun: true, failedOnly: true })!;
      expect(again).to.include({ run_id: first.runId, state: 'running', pid: process.pid, conf: '{"limit":9}' });
      expect(states(first.runId)).to.deep.equal({ ok: 'success', bad: null, after: null });
      h.store.finishRun(first.runId, 'failed', clock.now());
      runs.trigger(failing, interval(DAY), { rerun: true, conf: { limit: 1 } });
      expect(states(first.runId)).to.deep.equal({ ok: null, bad: null, after: null });
      expect(runs.get(first.runId)!.conf).to.equal('{"limit":1}');
    });

    it('changes nothing when slotFree says no', () => {
      expect(runs.trigger(dag, interval(DAY), {}, () => false)).to.equal(null);
      expect(h.store.listRuns({ dagId: 'd' })).to.have.length(0);
    });

    it('triggerWhenSlotFree waits for max_active_runs (telling once), then creates; gives up when the signal aborts', async () => {
      const first = runs.trigger(dag, interval(DAY))!;
      const ac = new AbortController();
      const told: DagRunRow[][] = [];
      const none = await runs.triggerWhenSlotFree(dag, interval(NEXT), {}, ac.signal, (active) => {
        told.push(active);
        ac.abort();
      });
      expect(none).to.equal(null);
      expect(told.map((a) => a.map((r) => r.run_id))).to.deep.equal([[first.run_id]]);
      expect(runs.forDate('d', NEXT)).to.equal(undefined);

      // The other run ends while this one waits: the next look finds the slot free.
      let waits = 0;
      const second = await runs.triggerWhenSlotFree(dag, interval(NEXT), {}, new AbortController().signal, () => {
        waits++;
        h.store.finishRun(first.run_id, 'success', clock.now());
      });
      expect(waits).to.equal(1);
      expect(second).to.include({ run_id: 'd__manual__2024-01-02T00:00:00Z', state: 'running' });
      expect(clock.sleeps).to.include(500);
    });
  });

  describe('rerun, clearTasks and markRun', () => {
    let run: DagRunRow;
    beforeEach(() => {
      run = runs.createRun({ dag, interval: interval(DAY), runType: 'manual' })!;
      h.store.markRun(run.run_id, 'success', clock.now());
    });

    it('rerun queues an idle run again with every task cleared and its full tries', () => {
      const { run: again, cleared } = runs.rerun(dag, run.run_id);
      expect(cleared).to.deep.equal(['a', 'b', 'c', 'other']);
      expect(again.state).to.equal('queued');
      expect(states(run.run_id)).to.deep.equal({ a: null, b: null, c: null, other: null });
      expect(h.store.getTaskInstance(run.run_id, 'a')!.max_tries).to.equal(3);
      expectRequestError(() => runs.rerun(dag, 'nope'), "no run 'nope' (see: sluice runs list)");
    });

    it('clearTasks clears the named tasks and, with downstream, everything after them', () => {
      expect(downstreamClosure(dag, ['a'])).to.deep.equal(['a', 'b', 'c']);
      expect(runs.clearTasks(dag, run.run_id, { tasks: ['b'] }).cleared).to.deep.equal(['b']);
      expect(states(run.run_id)).to.deep.equal({ a: 'success', b: null, c: 'success', other: 'success' });
      expect(runs.get(run.run_id)!.state).to.equal('queued');
      expect(runs.clearTasks(dag, run.run_id, { tasks: ['a'], downstream: true }).cleared).to.deep.equal(['a', 'b', 'c']);
      expect(states(run.run_id)).to.deep.equal({ a: null, b: null, c: null, other: 'success' });
      expect(runs.clearTasks(dag, run.run_id, { failedOnly: true }).cleared).to.deep.equal(['a', 'b', 'c']);
    });

    it('clearTasks refuses unknown tasks, --downstream alone, a missing run, a run being executed and another DAG', () => {
      expectRequestError(
        () => runs.clearTasks(dag, run.run_id, { tasks: ['zz'] }),
        "DAG d has no task 'zz'. Its tasks: a, b, c, other",
      );
      expectRequestError(() => runs.clearTasks(dag, run.run_id, { downstream: true }), '--downstream goes with --task');
      expectRequestError(() => runs.clearTasks(dag, 'nope', {}), "no run 'nope' (see: sluice runs list)");
      const other = h.dag('dag: e\ntasks:\n  a: { operator: Empty }\n');
      expectRequestError(() => runs.clearTasks(other, run.run_id), `run ${run.run_id} is a run of DAG d, not of e`);
      const busy = runs.trigger(dag, interval(NEXT))!;
      expectRequestError(
        () => runs.clearTasks(dag, busy.run_id),
        `run ${busy.run_id} is being executed by process ${process.pid}; wait for it or stop it first`,
      );
      expect(states(run.run_id)).to.deep.equal({ a: 'success', b: 'success', c: 'success', other: 'success' });
    });

    it('markRun marks an idle run by hand and refuses other states and busy runs', () => {
      runs.clearTasks(dag, run.run_id);
      clock.advance(60_000);
      expect(runs.markRun(run.run_id, 'failed')).to.include({
        state: 'failed',
        note: 'marked failed by hand',
        ended_at: '2024-01-05T00:01:00.000Z',
      });
      expect(states(run.run_id)).to.deep.equal({ a: 'failed', b: 'failed', c: 'failed', other: 'failed' });
      expectRequestError(() => runs.markRun(run.run_id, 'running'), "a run can be marked success or failed, not 'running'");
      const busy = runs.trigger(dag, interval(NEXT))!;
      expectRequestError(() => runs.markRun(busy.run_id, 'success'), /is being executed by process/);
    });
  });

  describe('backfill', () => {
    it('plans create / rerun failed / skip per interval and queues what the plan says', () => {
      const done = runs.createRun({ dag, interval: interval(DAY), runType: 'scheduled' })!;
      h.store.markRun(done.run_id, 'success', clock.now());
      const failed = runs.createRun({ dag, interval: interval(NEXT), runType: 'scheduled' })!;
      h.store.markRun(failed.run_id, 'failed', clock.now());
      const from = DAY;
      const to = new Date('2024-01-03T00:00:00Z');

      const plan = runs.planBackfill(dag, from, to, 'failed');
      expect(plan.map((p) => [p.interval.start.toISOString().slice(0, 10), p.action, p.existing?.run_id ?? null])).to.deep.equal([
        ['2024-01-01', 'skip', done.run_id],
        ['2024-01-02', 'rerun failed', failed.run_id],
        ['2024-01-03', 'create', null],
      ]);
      expect(runs.planBackfill(dag, from, to, 'completed').map((p) => p.action)).to.deep.equal(['rerun', 'rerun', 'create']);
      expect(runs.planBackfill(dag, from, to, 'none').map((p) => p.action)).to.deep.equal(['skip', 'skip', 'create']);

      const ids = runs.queueBackfill(dag, plan);
      expect(ids).to.deep.equal([failed.run_id, 'd__backfill__2024-01-03T00:00:00Z']);
      expect(ids.map((id) => runs.get(id)!.state)).to.deep.equal(['queued', 'queued']);
      expect(states(done.run_id).a).to.equal('success');
      expect(runs.claim(ids[1]!)).to.equal(true);
      // A run being executed is skipped, whatever reprocess says.
      expect(runs.planBackfill(dag, from, to, 'completed').map((p) => p.action)).to.deep.equal(['rerun', 'rerun', 'skip']);
    });

    it('refuses a reversed range and a DAG without a schedule', () => {
      expectRequestError(
        () => runs.planBackfill(dag, NEXT, DAY, 'none'),
        '--to (2024-01-01T00:00:00Z) is before --from (2024-01-02T00:00:00Z)',
      );
      const manual = h.dag('dag: m\ntasks:\n  a: { operator: Empty }\n');
      expectRequestError(
        () => runs.planBackfill(manual, DAY, NEXT, 'none'),
        'DAG m has no schedule, so it has no intervals to backfill',
      );
    });
  });

  describe('active runs and crash recovery', () => {
    it('counts runs executing in live processes, on other hosts too; excludeOwn leaves this process out', () => {
      const mine = runs.trigger(dag, interval(DAY))!;
      const row = (over: Partial<DagRunRow>): DagRunRow => ({ ...mine, ...over });
      expect(isExecuting(row({ host: 'elsewhere', pid: 1 }), () => false)).to.equal(true);
      expect(isExecuting(row({ pid: 424242 }), () => false)).to.equal(false);
      expect(isExecuting(row({ state: 'queued' }))).to.equal(false);
      expect(runs.activeRuns({ dagId: 'd' }).map((r) => r.run_id)).to.deep.equal([mine.run_id]);
      expect(runs.activeRuns({ excludeOwn: true })).to.deep.equal([]);
      // Seen from a process that believes every pid of this host dead: not executing.
      expect(new Runs(h.store, { alive: () => false }).activeRuns({ dagId: 'd', excludeOwn: true })).to.deep.equal([]);
    });

    it('recoverOrphans fails the tries of dead processes and requeues their runs, from a read-only store too', () => {
      const recover = (store: StateStore) => new Runs(store, { clock, alive: () => false }).recoverOrphans();
      const run = runs.trigger(dag, interval(DAY))!;
      h.store.startTry(run.run_id, 'a', clock.now());
      expect(runs.recoverOrphans()).to.deep.equal([]); // this process is alive

      const reader = new StateStore(path.join(h.dir, 'state.db'), { readonly: true });
      try {
        const orphans = recover(reader);
        expect(orphans).to.deep.equal([
          { run_id: run.run_id, task_id: 'a', try_number: 1, pid: process.pid, host: HOST, newState: 'up_for_retry' },
        ]);
      } finally {
        reader.close();
      }
      expect(runs.get(run.run_id)!.state).to.equal('queued');
      expect(h.store.listTries(run.run_id, 'a')[0]!.error).to.match(
        /^process died: pid \d+ on .+ ended while this try was running$/,
      );
      expect(recover(h.store)).to.deep.equal([]);

      const next = runs.trigger(dag, interval(NEXT))!;
      h.store.startTry(next.run_id, 'other', clock.now());
      expect(recover(h.store).map((o) => [o.run_id, o.task_id, o.newState])).to.deep.equal([[next.run_id, 'other', 'failed']]);
      expect(runs.get(next.run_id)!.state).to.equal('queued');
    });
  });
});
