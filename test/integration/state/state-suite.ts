/**
 * The contract every state store implementation keeps (engine/state/index.ts):
 * the same calls give the same records, whatever database is behind them.
 * state-stores.test.ts runs it against each implementation (SQLite today;
 * PostgreSQL joins it by adding one line there).
 *
 * Times are given explicitly everywhere (the store never reads a clock), so
 * each expectation on a time is exact.
 */
import { expect } from 'chai';
import {
  HOST,
  isExecuting,
  makeRunId,
  type CheckResultRecord,
  type DagRun,
  type NewCheckResult,
  type NewRun,
  type StateStore,
} from '../../../engine/state/index.js';

const DAY = new Date('2018-11-21T00:00:00Z');
const NEXT = new Date('2018-11-22T00:00:00Z');
const T0 = new Date('2024-01-01T00:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const dead = () => false;

function newRun(o: Partial<NewRun> = {}): NewRun {
  return {
    dagId: 'songplays',
    logicalDate: DAY,
    dataIntervalStart: DAY,
    dataIntervalEnd: NEXT,
    runType: 'manual',
    conf: { a: 1, nested: { b: [1, 2] } },
    tasks: [
      { taskId: 'a', operator: 'Empty', maxTries: 2 },
      { taskId: 'b', operator: 'Empty', maxTries: 1 },
    ],
    now: T0,
    ...o,
  };
}

const seeds = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ taskId: `t${String(i).padStart(2, '0')}`, operator: 'Empty', maxTries: 1 }));

export interface OpenedStore {
  store: StateStore;
  /** A second store on the same state, as another process would open it. */
  another(): Promise<StateStore>;
  cleanup(): Promise<void>;
}

export function describeStateStore(label: string, open: () => Promise<OpenedStore>): void {
  describe(`state store contract: ${label}`, () => {
    let opened: OpenedStore;
    let store: StateStore;
    beforeEach(async () => {
      opened = await open();
      store = opened.store;
    });
    afterEach(async () => opened.cleanup());

    describe('runs', () => {
      it('creates one run per dag and logical date, as a record with Dates and parsed conf', async () => {
        const run = (await store.runs.create(newRun()))!;
        expect(run).to.deep.equal({
          runId: 'songplays__manual__2018-11-21T00:00:00Z',
          dagId: 'songplays',
          logicalDate: DAY,
          dataIntervalStart: DAY,
          dataIntervalEnd: NEXT,
          runType: 'manual',
          state: 'queued',
          conf: { a: 1, nested: { b: [1, 2] } },
          note: null,
          createdAt: T0,
          startedAt: null,
          endedAt: null,
          host: null,
          pid: null,
        });
        expect(run.runId).to.equal(makeRunId('songplays', 'manual', DAY));
        expect(await store.runs.create(newRun({ runType: 'scheduled' }))).to.equal(null);
        expect(await store.runs.create(newRun({ dagId: 'other' }))).to.not.equal(null);
        expect((await store.tasks.list(run.runId)).map((t) => [t.taskId, t.state, t.tryNumber, t.maxTries])).to.deep.equal([
          ['a', null, 0, 2],
          ['b', null, 0, 1],
        ]);
        expect(await store.runs.get(run.runId)).to.deep.equal(run);
        expect(await store.runs.forDate('songplays', DAY)).to.deep.equal(run);
        expect(await store.runs.forDate('songplays', NEXT)).to.equal(undefined);
        expect(await store.runs.get('nope')).to.equal(undefined);
      });

      it('lists newest logical date first, filtered by dag and state; latest and queued', async () => {
        await store.runs.create(newRun());
        await store.runs.create(newRun({ logicalDate: NEXT, runType: 'scheduled' }));
        await store.runs.create(newRun({ dagId: 'other' }));
        expect((await store.runs.list({ dagId: 'songplays' })).map((r) => r.runId)).to.deep.equal([
          'songplays__scheduled__2018-11-22T00:00:00Z',
          'songplays__manual__2018-11-21T00:00:00Z',
        ]);
        expect(await store.runs.list({ limit: 1 })).to.have.length(1);
        expect((await store.runs.latest('songplays'))!.logicalDate).to.deep.equal(NEXT);
        expect((await store.runs.latest('songplays', 'manual'))!.logicalDate).to.deep.equal(DAY);
        expect(await store.runs.latest('songplays', 'backfill')).to.equal(undefined);
        expect((await store.runs.queued()).map((r) => r.runId)).to.deep.equal([
          'other__manual__2018-11-21T00:00:00Z',
          'songplays__manual__2018-11-21T00:00:00Z',
          'songplays__scheduled__2018-11-22T00:00:00Z',
        ]);
        await store.runs.finish('other__manual__2018-11-21T00:00:00Z', 'success', at(1));
        expect((await store.runs.list({ state: 'success' })).map((r) => r.dagId)).to.deep.equal(['other']);
      });

      it('claims a queued run for one process only; start, finish, requeue and conf', async () => {
        const run = (await store.runs.create(newRun()))!;
        expect(await store.runs.claim(run.runId, at(1000))).to.equal(true);
        expect(await store.runs.claim(run.runId, at(2000))).to.equal(false);
        const other = await opened.another();
        try {
          expect(await other.runs.claim(run.runId, at(2000))).to.equal(false);
        } finally {
          await other.close();
        }
        const claimed = (await store.runs.get(run.runId))!;
        expect(claimed).to.include({ state: 'running', host: HOST, pid: process.pid });
        expect(claimed.startedAt).to.deep.equal(at(1000));
        expect(isExecuting(claimed)).to.equal(true);
        await store.runs.finish(run.runId, 'failed', at(3000), 'why');
        expect(await store.runs.get(run.runId)).to.deep.include({ state: 'failed', note: 'why', pid: null, endedAt: at(3000) });
        await store.runs.start(run.runId, at(4000));
        expect(await store.runs.get(run.runId)).to.deep.include({ state: 'running', endedAt: null, startedAt: at(1000) });
        await store.runs.requeue(run.runId, 'to be resumed');
        expect(await store.runs.get(run.runId)).to.deep.include({
          state: 'queued',
          note: 'to be resumed',
          pid: null,
          host: null,
        });
        await store.runs.setConf(run.runId, { limit: 3 });
        expect((await store.runs.get(run.runId))!.conf).to.deep.equal({ limit: 3 });
      });

      it('created claimed: running and owned by this process at once', async () => {
        const run = (await store.runs.create(newRun({ claim: true })))!;
        expect(run).to.deep.include({ state: 'running', host: HOST, pid: process.pid, startedAt: T0 });
      });

      it('marks a run by hand: success fills unfinished tasks, failed fails the unfinished ones', async () => {
        const run = (await store.runs.create(newRun()))!;
        await store.tasks.setState(run.runId, 'b', 'skipped', at(1));
        await store.runs.mark(run.runId, 'success', at(2));
        expect((await store.tasks.list(run.runId)).map((t) => [t.taskId, t.state])).to.deep.equal([
          ['a', 'success'],
          ['b', 'skipped'],
        ]);
        expect(await store.runs.get(run.runId)).to.deep.include({
          state: 'success',
          note: 'marked success by hand',
          endedAt: at(2),
        });
        await store.runs.clearTasks(run.runId, { triesFor: () => 1, now: at(3) });
        await store.tasks.setState(run.runId, 'a', 'success', at(4));
        await store.runs.mark(run.runId, 'failed', at(5));
        expect((await store.tasks.list(run.runId)).map((t) => [t.taskId, t.state])).to.deep.equal([
          ['a', 'success'],
          ['b', 'failed'],
        ]);
      });

      it('marks task instances by hand: the run is queued while tasks remain, else finished per its tasks', async () => {
        const run = (await store.runs.create(newRun()))!;
        await store.runs.finish(run.runId, 'failed', at(1));
        const m1 = await store.runs.markTasks(run.runId, ['a'], 'success', at(2));
        expect(m1).to.deep.equal({ marked: ['a'], runState: 'queued' });
        expect(await store.runs.get(run.runId)).to.deep.include({ state: 'queued', endedAt: null, note: null });
        expect(await store.tasks.get(run.runId, 'a')).to.deep.include({ state: 'success', endedAt: at(2) });
        // a task already in that state is not counted; the run ends success once every task is
        const m2 = await store.runs.markTasks(run.runId, ['a', 'b'], 'success', at(3));
        expect(m2).to.deep.equal({ marked: ['b'], runState: 'success' });
        expect(await store.runs.get(run.runId)).to.deep.include({
          state: 'success',
          endedAt: at(3),
          note: 'tasks marked success by hand',
        });
        expect(await store.runs.markTasks(run.runId, ['b'], 'failed', at(4))).to.deep.equal({
          marked: ['b'],
          runState: 'failed',
        });
        expect((await store.tasks.list(run.runId)).map((t) => [t.taskId, t.state])).to.deep.equal([
          ['a', 'success'],
          ['b', 'failed'],
        ]);
        expect((await store.runs.get(run.runId))!.state).to.equal('failed');
      });

      it('clears tasks for a rerun: tries kept, try numbers continue, each gets its tries again; the run is queued', async () => {
        const run = (await store.runs.create(newRun({ claim: true })))!;
        const a = await store.tasks.startTry(run.runId, 'a', at(0));
        await store.tasks.endTry(a, { state: 'failed', taskState: 'failed', now: at(1), error: 'x' });
        const b = await store.tasks.startTry(run.runId, 'b', at(2));
        await store.tasks.endTry(b, { state: 'success', taskState: 'success', now: at(3) });
        await store.runs.finish(run.runId, 'failed', at(4));
        expect(await store.runs.clearTasks(run.runId, { triesFor: () => 2, now: at(5), failedOnly: true })).to.deep.equal(['a']);
        const ti = (await store.tasks.get(run.runId, 'a'))!;
        expect([ti.state, ti.tryNumber, ti.maxTries, ti.endedAt]).to.deep.equal([null, 1, 3, null]);
        expect((await store.tasks.get(run.runId, 'b'))!.state).to.equal('success');
        expect(await store.tasks.tries(run.runId)).to.have.length(2);
        expect(await store.runs.get(run.runId)).to.deep.include({ state: 'queued', endedAt: null, note: null });
        expect(
          await store.runs.clearTasks(run.runId, { triesFor: () => 1, now: at(6), taskIds: ['b'], claim: true }),
        ).to.deep.equal(['b']);
        expect((await store.runs.get(run.runId))!.state).to.equal('running');
        expect(await store.runs.ensureTaskInstances(run.runId, [{ taskId: 'c', operator: 'Empty', maxTries: 1 }])).to.equal(1);
        expect(await store.runs.ensureTaskInstances(run.runId, [{ taskId: 'c', operator: 'Empty', maxTries: 1 }])).to.equal(0);
        expect((await store.tasks.list(run.runId)).map((t) => t.taskId)).to.deep.equal(['a', 'b', 'c']);
      });
    });

    describe('trigger: one atomic step', () => {
      const executing = (r: DagRun) => isExecuting(r) || (r.host === HOST && r.pid === process.pid);

      it('creates claimed, refuses an existing run without rerun or while executing, reruns one that is idle', async () => {
        const first = await store.runs.trigger({ create: newRun(), executing });
        expect(first.outcome).to.equal('created');
        const run = (first as { run: DagRun }).run;
        expect(run).to.deep.include({ state: 'running', pid: process.pid });
        expect((await store.runs.trigger({ create: newRun(), executing })).outcome).to.equal('executing');
        await store.runs.finish(run.runId, 'failed', at(1));
        expect((await store.runs.trigger({ create: newRun(), executing })).outcome).to.equal('exists');
        const again = await store.runs.trigger({
          create: newRun(),
          rerun: { tasks: [], clear: { triesFor: () => 1, now: at(2) }, conf: { x: 1 } },
          executing,
        });
        expect(again.outcome).to.equal('rerun');
        expect((again as { run: DagRun }).run).to.deep.include({ runId: run.runId, state: 'running', conf: { x: 1 } });
      });

      it('takes no slot past max_active_runs, counting executing runs only', async () => {
        const one = await store.runs.trigger({ create: newRun(), maxActiveRuns: 1, executing });
        expect(one.outcome).to.equal('created');
        const blocked = await store.runs.trigger({ create: newRun({ logicalDate: NEXT }), maxActiveRuns: 1, executing });
        expect(blocked.outcome).to.equal('no-slot');
        expect((blocked as { active: DagRun[] }).active.map((r) => r.logicalDate)).to.deep.equal([DAY]);
        expect(await store.runs.forDate('songplays', NEXT)).to.equal(undefined);
        // a running run whose process is gone does not hold a slot
        const none = await store.runs.trigger({ create: newRun({ logicalDate: NEXT }), maxActiveRuns: 1, executing: dead });
        expect(none.outcome).to.equal('created');
      });

      it('claims a queued run only while the DAG has a free slot; two stores racing for the last one: one wins', async () => {
        const [one, two, three] = await Promise.all(
          [T0, DAY, NEXT].map(async (d) => (await store.runs.create(newRun({ logicalDate: d })))!),
        );
        const other = await opened.another();
        try {
          const won = await Promise.all(
            [store, other].map((s, i) => s.runs.claim([one!, two!][i]!.runId, at(1), { maxActiveRuns: 1, executing })),
          );
          expect(won.filter(Boolean)).to.have.length(1);
          expect(await store.runs.list({ state: 'running' })).to.have.length(1);
          // a running run whose process is gone holds no slot; a claim past the limit changes nothing
          expect(await other.runs.claim(three!.runId, at(2), { maxActiveRuns: 1, executing })).to.equal(false);
          expect(await other.runs.claim(three!.runId, at(2), { maxActiveRuns: 1, executing: dead })).to.equal(true);
          expect(await store.runs.claim(three!.runId, at(3), { maxActiveRuns: 9 })).to.equal(false); // taken already
        } finally {
          await other.close();
        }
      });

      it('two stores racing for the last slot: exactly one wins', async () => {
        const other = await opened.another();
        try {
          const results = await Promise.all(
            [store, other].map((s, i) =>
              s.runs.trigger({ create: newRun({ logicalDate: i ? NEXT : DAY }), maxActiveRuns: 1, executing }),
            ),
          );
          expect(results.map((r) => r.outcome).sort()).to.deep.equal(['created', 'no-slot']);
          expect(await store.runs.list({ state: 'running' })).to.have.length(1);
        } finally {
          await other.close();
        }
      });
    });

    describe('task instances and tries', () => {
      it('writes a try before it starts and after it ends, with outputs', async () => {
        const run = (await store.runs.create(newRun()))!;
        const t = await store.tasks.startTry(run.runId, 'a', at(0));
        expect(t).to.deep.include({
          runId: run.runId,
          taskId: 'a',
          tryNumber: 1,
          state: 'running',
          startedAt: T0,
          endedAt: null,
        });
        expect(t).to.deep.include({ host: HOST, pid: process.pid, durationMs: null });
        expect(await store.tasks.get(run.runId, 'a')).to.deep.include({ state: 'running', tryNumber: 1, startedAt: T0 });
        const after = await store.tasks.endTry(t, {
          state: 'success',
          taskState: 'success',
          now: at(1500),
          outputs: { rows: 3 },
        });
        expect(after).to.deep.equal(await store.tasks.get(run.runId, 'a'));
        expect(after).to.deep.include({ state: 'success', tryNumber: 1, endedAt: at(1500) });
        const done = (await store.tasks.getTry(run.runId, 'a', 1))!;
        expect(done).to.deep.include({ state: 'success', durationMs: 1500, endedAt: at(1500), error: null });
        expect(await store.tasks.outputs(done.tryId)).to.deep.equal({ rows: 3 });
        expect((await store.tasks.latestOutputs(run.runId)).get('a')).to.deep.equal({ tryNumber: 1, outputs: { rows: 3 } });
        expect(await store.tasks.get(run.runId, 'a')).to.deep.include({ state: 'success', endedAt: at(1500) });
      });

      it('a failed try: error and stack kept; up_for_retry with its next try time, or failed', async () => {
        const run = (await store.runs.create(newRun()))!;
        const t1 = await store.tasks.startTry(run.runId, 'a', at(0));
        await store.tasks.endTry(t1, {
          state: 'failed',
          taskState: 'up_for_retry',
          now: at(10),
          error: 'boom',
          stack: 'Error: boom\n  at x',
          nextTryAt: at(300_010),
        });
        expect(await store.tasks.get(run.runId, 'a')).to.deep.include({
          state: 'up_for_retry',
          nextTryAt: at(300_010),
          endedAt: null,
        });
        const t2 = await store.tasks.startTry(run.runId, 'a', at(300_010));
        expect(t2.tryNumber).to.equal(2);
        await store.tasks.endTry(t2, { state: 'failed', taskState: 'failed', now: at(300_020), error: 'boom again' });
        expect((await store.tasks.tries(run.runId, 'a')).map((t) => [t.tryNumber, t.state, t.error, t.stack])).to.deep.equal([
          [1, 'failed', 'boom', 'Error: boom\n  at x'],
          [2, 'failed', 'boom again', null],
        ]);
        expect(await store.tasks.get(run.runId, 'a')).to.deep.include({ state: 'failed', nextTryAt: null, endedAt: at(300_020) });
        expect(await store.tasks.tries(run.runId, 'b')).to.deep.equal([]);
      });

      it('a try may end the task skipped (a skip asked by the operator): ended, with its reason', async () => {
        const run = (await store.runs.create(newRun()))!;
        const t = await store.tasks.startTry(run.runId, 'a', at(0));
        await store.tasks.endTry(t, { state: 'skipped', taskState: 'skipped', now: at(5), error: 'exit code 99' });
        expect(await store.tasks.getTry(run.runId, 'a', 1)).to.deep.include({
          state: 'skipped',
          error: 'exit code 99',
          durationMs: 5,
        });
        expect(await store.tasks.get(run.runId, 'a')).to.deep.include({ state: 'skipped', endedAt: at(5) });
      });

      it('a sensor try may end up_for_reschedule: waiting until its next poke, with one more try, its outputs kept', async () => {
        const run = (await store.runs.create(newRun()))!;
        const before = (await store.tasks.get(run.runId, 'a'))!.maxTries;
        const t1 = await store.tasks.startTry(run.runId, 'a', at(0));
        const after = await store.tasks.endTry(t1, {
          state: 'up_for_reschedule',
          taskState: 'up_for_reschedule',
          now: at(20),
          nextTryAt: at(60_000),
          outputs: { first_poke_at: at(0).toISOString(), poke_count: 1 },
        });
        expect(after).to.deep.equal(await store.tasks.get(run.runId, 'a'));
        expect(after).to.deep.include({
          state: 'up_for_reschedule',
          tryNumber: 1,
          maxTries: before + 1,
          nextTryAt: at(60_000),
          endedAt: null,
        });
        expect(await store.tasks.getTry(run.runId, 'a', 1)).to.deep.include({ state: 'up_for_reschedule', error: null });
        expect(await store.tasks.outputs(t1.tryId)).to.deep.equal({ first_poke_at: at(0).toISOString(), poke_count: 1 });
        const t2 = await store.tasks.startTry(run.runId, 'a', at(60_000));
        await store.tasks.endTry(t2, { state: 'success', taskState: 'success', now: at(60_010) });
        expect(await store.tasks.get(run.runId, 'a')).to.deep.include({
          state: 'success',
          tryNumber: 2,
          maxTries: before + 1,
          nextTryAt: null,
          endedAt: at(60_010),
        });
      });

      it('task states without a try: skipped and upstream_failed end the task; others do not', async () => {
        const run = (await store.runs.create(newRun()))!;
        await store.tasks.setState(run.runId, 'a', 'scheduled', at(1));
        expect(await store.tasks.get(run.runId, 'a')).to.deep.include({ state: 'scheduled', endedAt: null });
        await store.tasks.setState(run.runId, 'b', 'upstream_failed', at(2));
        expect(await store.tasks.get(run.runId, 'b')).to.deep.include({ state: 'upstream_failed', endedAt: at(2) });
        await store.tasks.setState(run.runId, 'a', null, at(3));
        expect((await store.tasks.get(run.runId, 'a'))!.state).to.equal(null);
      });
    });

    describe('logs and rejected lines', () => {
      it('appends log lines per try in order, with structured data', async () => {
        const run = (await store.runs.create(newRun()))!;
        const t = await store.tasks.startTry(run.runId, 'a', at(0));
        await store.logs.append(t.tryId, { ts: at(1), level: 'info', msg: 'try started', data: { operator: 'Empty' } });
        await store.logs.append(t.tryId, { ts: at(2), level: 'warn', msg: 'careful', data: null });
        const lines = await store.logs.list(t.tryId);
        expect(lines.map((l) => [l.tryId, l.ts, l.level, l.msg, l.data])).to.deep.equal([
          [t.tryId, at(1), 'info', 'try started', { operator: 'Empty' }],
          [t.tryId, at(2), 'warn', 'careful', null],
        ]);
        expect(lines[0]!.id).to.be.below(lines[1]!.id);
        expect(await store.logs.list(t.tryId + 1000)).to.deep.equal([]);
      });

      it("appends a batch of lines of several tries in one write, each try's lines in the order given", async () => {
        const run = (await store.runs.create(newRun()))!;
        const t = await store.tasks.startTry(run.runId, 'a', at(0));
        const other = await store.tasks.startTry(run.runId, 'b', at(0));
        await store.logs.append(t.tryId, { ts: at(1), level: 'info', msg: 'before', data: null });
        await store.logs.appendMany([
          { tryId: t.tryId, line: { ts: at(2), level: 'info', msg: 'try started', data: { operator: 'Empty' } } },
          { tryId: other.tryId, line: { ts: at(2), level: 'warn', msg: 'elsewhere', data: { n: 1, s: "it's" } } },
          { tryId: t.tryId, line: { ts: at(1), level: 'error', msg: 'late clock, same order', data: null } },
          { tryId: t.tryId, line: { ts: at(3), level: 'info', msg: 'try succeeded', data: null } },
        ]);
        await store.logs.appendMany([]);
        const lines = await store.logs.list(t.tryId);
        expect(lines.map((l) => [l.ts, l.level, l.msg, l.data])).to.deep.equal([
          [at(1), 'info', 'before', null],
          [at(2), 'info', 'try started', { operator: 'Empty' }],
          [at(1), 'error', 'late clock, same order', null],
          [at(3), 'info', 'try succeeded', null],
        ]);
        expect(lines.map((l) => l.id)).to.deep.equal([...lines.map((l) => l.id)].sort((x, y) => x - y));
        expect((await store.logs.list(other.tryId)).map((l) => [l.tryId, l.msg, l.data])).to.deep.equal([
          [other.tryId, 'elsewhere', { n: 1, s: "it's" }],
        ]);
        expect(await store.logs.count(t.tryId)).to.equal(4);
      });

      it("a try's end stores its last log lines with it, after its earlier ones, even when the end is refused", async () => {
        const run = (await store.runs.create(newRun()))!;
        const t = await store.tasks.startTry(run.runId, 'a', at(0), at(10_000));
        await store.logs.append(t.tryId, { ts: at(1), level: 'info', msg: 'try started', data: null });
        const line = (msg: string, ms: number) => ({ ts: at(ms), level: 'info', msg, data: { ms } });
        await store.tasks.endTry(t, {
          state: 'success',
          taskState: 'success',
          now: at(5),
          logLines: [line('done', 3), line('bye', 4)],
        });
        expect((await store.logs.list(t.tryId)).map((l) => [l.ts, l.msg, l.data])).to.deep.equal([
          [at(1), 'try started', null],
          [at(3), 'done', { ms: 3 }],
          [at(4), 'bye', { ms: 4 }],
        ]);
        expect((await store.tasks.getTry(run.runId, 'a', 1))!.state).to.equal('success');
        // A try failed as lost meanwhile: its late end changes nothing, but its last lines are kept.
        const lost = await store.tasks.startTry(run.runId, 'b', at(0), at(10_000));
        await store.leases.recoverExpired(at(20_000));
        await store.tasks.endTry(lost, {
          state: 'success',
          taskState: 'success',
          now: at(30_000),
          logLines: [line('late', 25_000)],
        });
        expect((await store.tasks.getTry(run.runId, 'b', 1))!.state).to.equal('failed');
        expect((await store.logs.list(lost.tryId)).map((l) => l.msg)).to.deep.equal(['late']);
      });

      it('pages a long log by line range and counts its lines', async () => {
        const run = (await store.runs.create(newRun()))!;
        const t = await store.tasks.startTry(run.runId, 'a', at(0));
        const other = await store.tasks.startTry(run.runId, 'b', at(0));
        for (let i = 0; i < 7; i++) await store.logs.append(t.tryId, { ts: at(i), level: 'info', msg: `line ${i}`, data: null });
        await store.logs.append(other.tryId, { ts: at(1), level: 'info', msg: 'elsewhere', data: null });
        expect(await store.logs.count(t.tryId)).to.equal(7);
        expect(await store.logs.count(t.tryId + 1000)).to.equal(0);
        const page = await store.logs.list(t.tryId, { offset: 2, limit: 3 });
        expect(page.map((l) => l.msg)).to.deep.equal(['line 2', 'line 3', 'line 4']);
        expect((await store.logs.list(t.tryId, { offset: 5, limit: 10 })).map((l) => l.msg)).to.deep.equal(['line 5', 'line 6']);
        expect(await store.logs.list(t.tryId, { offset: 7, limit: 10 })).to.deep.equal([]);
      });

      it('records rejected load lines with their table, object and line', async () => {
        const run = (await store.runs.create(newRun()))!;
        const t = await store.tasks.startTry(run.runId, 'a', at(0));
        await store.logs.recordRejections(t.tryId, 'staging_events', [
          { object: 'log_data/a.json', line: 2, column: null, value: null, reason: 'Invalid JSON' },
          { object: 'log_data/a.json', line: 4, column: 'iteminsession', value: 'many', reason: 'not an integer' },
        ]);
        expect(await store.logs.rejections(t.tryId)).to.deep.equal([
          { table: 'staging_events', object: 'log_data/a.json', line: 2, column: null, value: null, reason: 'Invalid JSON' },
          {
            table: 'staging_events',
            object: 'log_data/a.json',
            line: 4,
            column: 'iteminsession',
            value: 'many',
            reason: 'not an integer',
          },
        ]);
      });
    });

    describe('connections', () => {
      it('sets (replacing), gets, lists by name and deletes recorded connections', async () => {
        await store.connections.set('warehouse', 'redshift://u@h:5439/db?password_env=P', {
          extra: { cluster_identifier: 'c1' },
          by: 'dag.task',
          now: at(1),
        });
        await store.connections.set('lake', 's3://b/p', { now: at(2) });
        expect(await store.connections.get('warehouse')).to.deep.equal({
          name: 'warehouse',
          url: 'redshift://u@h:5439/db?password_env=P',
          extra: { cluster_identifier: 'c1' },
          updatedAt: at(1),
          updatedBy: 'dag.task',
        });
        await store.connections.set('warehouse', 'postgres://u@h/db', { now: at(3) });
        expect(await store.connections.get('warehouse')).to.deep.include({
          url: 'postgres://u@h/db',
          extra: {},
          updatedBy: null,
        });
        expect((await store.connections.list()).map((c) => c.name)).to.deep.equal(['lake', 'warehouse']);
        expect(await store.connections.delete('warehouse')).to.equal(true);
        expect(await store.connections.delete('warehouse')).to.equal(false);
        expect(await store.connections.get('warehouse')).to.equal(undefined);
      });
    });

    describe('scheduler', () => {
      it('pauses and unpauses DAGs', async () => {
        await store.scheduler.setPaused('a', true, at(1));
        await store.scheduler.setPaused('b', true, at(1));
        await store.scheduler.setPaused('a', false, at(2));
        expect([...(await store.scheduler.pausedDags())]).to.deep.equal(['b']);
      });

      it('registers a scheduler: taken, heartbeat, taken again by itself, listed, released', async () => {
        expect(await store.scheduler.acquireLock(at(0))).to.equal(null);
        expect(await store.scheduler.schedulers()).to.deep.equal([
          { host: HOST, pid: process.pid, startedAt: at(0), heartbeatAt: at(0) },
        ]);
        await store.scheduler.heartbeat(at(10_000));
        expect((await store.scheduler.schedulers()).map((h) => h.heartbeatAt)).to.deep.equal([at(10_000)]);
        // acquiring again from the holder itself is fine
        expect(await store.scheduler.acquireLock(at(20_000))).to.equal(null);
        await store.scheduler.releaseLock();
        expect(await store.scheduler.schedulers()).to.deep.equal([]);
      });
    });

    describe('quality', () => {
      const check = (o: Partial<NewCheckResult> = {}): NewCheckResult => ({
        name: 'rows',
        type: 'row_count',
        table: 'songplays',
        severity: 'error',
        status: 'pass',
        observed: 10,
        expected: '>= 1',
        sample: null,
        message: null,
        durationMs: 3.5,
        ...o,
      });
      const day = (d: number) => new Date(Date.UTC(2018, 10, d));

      /** A run of `songplays` for 2018-11-<d>, ended in `state`, whose task `q` stored `checks` and task `l` loaded `rows`. */
      async function runWith(d: number, state: 'success' | 'failed', checks: NewCheckResult[], rows?: number) {
        const run = (await store.runs.create(
          newRun({
            logicalDate: day(d),
            dataIntervalStart: day(d),
            dataIntervalEnd: day(d + 1),
            tasks: [
              { taskId: 'q', operator: 'DataQuality', maxTries: 2 },
              { taskId: 'l', operator: 'LoadFact', maxTries: 1 },
            ],
            claim: true,
          }),
        ))!;
        const t = await store.tasks.startTry(run.runId, 'q', at(d));
        await store.quality.record(t, { dagId: 'songplays', logicalDate: day(d), checks, rowCounts: [], now: at(d) });
        if (rows !== undefined) {
          const l = await store.tasks.startTry(run.runId, 'l', at(d));
          await store.quality.record(l, {
            dagId: 'songplays',
            logicalDate: day(d),
            checks: [],
            rowCounts: [{ table: 'songplays', rows }],
            now: at(d),
          });
        }
        await store.runs.finish(run.runId, state, at(d + 1));
        return { run, t };
      }

      it("stores a try's check results as records, JSON values and samples read back as given", async () => {
        const big = '92233720368547758070'; // beyond 2^63: pg returns such numerics as strings
        const checks = [
          check({ observed: big, expected: { min: 1, max: null }, durationMs: 12.25 }),
          check({
            name: 'keys',
            type: 'expression',
            status: 'warn',
            severity: 'warn',
            observed: 2,
            expected: 0,
            sample: [{ id: 1, level: 'gold', at: '2018-11-21T10:00:00.000Z', nested: { a: [1, null, 'x'] } }],
            message: 'level IN (...)',
          }),
          check({
            name: 'broken',
            status: 'error',
            observed: null,
            expected: null,
            table: null,
            message: 'no such table',
            durationMs: null,
          }),
        ];
        const { run, t } = await runWith(21, 'success', checks);
        const stored = await store.quality.forRun(run.runId);
        expect(stored.map(({ id: _id, ...r }) => r)).to.deep.equal(
          checks.map((c) => ({
            ...c,
            tryId: t.tryId,
            runId: run.runId,
            dagId: 'songplays',
            taskId: 'q',
            tryNumber: 1,
            logicalDate: day(21),
            recordedAt: at(21),
          })),
        );
        expect(await store.quality.forRun('nope')).to.deep.equal([]);
      });

      it("recording a try again replaces what it stored; a retry's results replace the failed try's", async () => {
        const { run, t } = await runWith(21, 'success', [check({ status: 'fail', observed: 0 })]);
        await store.quality.record(t, {
          dagId: 'songplays',
          logicalDate: day(21),
          checks: [check({ observed: 1 })],
          rowCounts: [],
          now: at(30),
        });
        expect((await store.quality.forRun(run.runId)).map((c) => c.observed)).to.deep.equal([1]);
        const t2 = await store.tasks.startTry(run.runId, 'q', at(40));
        await store.quality.record(t2, {
          dagId: 'songplays',
          logicalDate: day(21),
          checks: [check({ observed: 7 }), check({ name: 'other' })],
          rowCounts: [],
          now: at(41),
        });
        const after = await store.quality.forRun(run.runId);
        expect(after.map((c) => [c.name, c.tryNumber, c.observed])).to.deep.equal([
          ['rows', 2, 7],
          ['other', 2, 10],
        ]);
      });

      it('check history: the last N runs newest first, before a date, of successful runs when asked', async () => {
        await runWith(18, 'success', [check({ observed: 18 }), check({ name: 'other', observed: -18 })]);
        await runWith(19, 'failed', [check({ observed: 19, status: 'fail' })]);
        await runWith(20, 'success', [check({ observed: 20 })]);
        await runWith(21, 'success', [check({ observed: 21 })]);
        const values = (rs: CheckResultRecord[]) => rs.map((r) => [r.logicalDate.getUTCDate(), r.name, r.observed]);
        expect(values(await store.quality.checkHistory('songplays', { last: 10 }))).to.deep.equal([
          [21, 'rows', 21],
          [20, 'rows', 20],
          [19, 'rows', 19],
          [18, 'rows', 18],
          [18, 'other', -18],
        ]);
        expect(values(await store.quality.checkHistory('songplays', { last: 2, check: 'rows', before: day(21) }))).to.deep.equal([
          [20, 'rows', 20],
          [19, 'rows', 19],
        ]);
        expect(
          values(
            await store.quality.checkHistory('songplays', { last: 2, check: 'rows', before: day(21), successfulRunsOnly: true }),
          ),
        ).to.deep.equal([
          [20, 'rows', 20],
          [18, 'rows', 18],
        ]);
        expect(values(await store.quality.checkHistory('songplays', { last: 5, check: 'other' }))).to.deep.equal([
          [18, 'other', -18],
        ]);
        expect(await store.quality.checkHistory('songplays', { last: 5, taskId: 'l' })).to.deep.equal([]);
        expect(await store.quality.checkHistory('other_dag', { last: 5 })).to.deep.equal([]);
        expect(await store.quality.checkHistory('songplays', { last: 0 })).to.deep.equal([]);
      });

      it('row counts per table as a series over runs, newest first', async () => {
        await runWith(19, 'success', [], 100);
        await runWith(20, 'failed', [], 5);
        await runWith(21, 'success', [], 120);
        const counts = await store.quality.tableCounts('songplays', 'songplays', { last: 10 });
        expect(counts.map((c) => [c.logicalDate, c.rows, c.taskId, c.table])).to.deep.equal([
          [day(21), 120, 'l', 'songplays'],
          [day(20), 5, 'l', 'songplays'],
          [day(19), 100, 'l', 'songplays'],
        ]);
        expect(counts[0]).to.deep.include({
          dagId: 'songplays',
          recordedAt: at(21),
          runId: makeRunId('songplays', 'manual', day(21)),
        });
        const ok = await store.quality.tableCounts('songplays', 'songplays', {
          last: 1,
          before: day(21),
          successfulRunsOnly: true,
        });
        expect(ok.map((c) => c.rows)).to.deep.equal([100]);
        expect(await store.quality.tableCounts('songplays', 'users', { last: 10 })).to.deep.equal([]);
      });
    });

    describe('leases', () => {
      it("renews a running try's lease; fails the tries whose lease ended as worker lost, on any host, and requeues their runs", async () => {
        const run = (await store.runs.create(newRun({ claim: true })))!;
        const a = await store.tasks.startTry(run.runId, 'a', at(0), at(10_000));
        await store.tasks.startTry(run.runId, 'b', at(0), at(10_000));
        expect(await store.leases.renew(a.tryId, at(30_000))).to.equal(true);
        expect(await store.leases.renew(a.tryId, at(20_000))).to.equal(true); // never shortened
        expect(await store.leases.expired(at(10_000))).to.deep.equal([]);
        expect((await store.leases.expired(at(20_001))).map((t) => t.taskId)).to.deep.equal(['b']);
        // A second process recovering at the same moment finds nothing left to recover.
        const other = await opened.another();
        try {
          const [lost, again] = await Promise.all([
            store.leases.recoverExpired(at(25_000)),
            other.leases.recoverExpired(at(25_000)),
          ]);
          expect([...lost, ...again]).to.deep.equal([
            { runId: run.runId, taskId: 'b', tryNumber: 1, pid: process.pid, host: HOST, newState: 'failed' },
          ]);
        } finally {
          await other.close();
        }
        const bTry = (await store.tasks.getTry(run.runId, 'b', 1))!;
        expect(bTry.state).to.equal('failed');
        expect(bTry.error).to.match(
          /^worker lost: pid \d+ on .+ stopped renewing this try's lease \(it ended at 2024-01-01T00:00:10.000Z\)/,
        );
        expect((await store.runs.get(run.runId))!.state).to.equal('queued');
        // A's lease ends too: a retry is left (max_tries 2), its run already queued.
        const lostA = await store.leases.recoverExpired(at(40_000));
        expect(lostA.map((o) => [o.taskId, o.newState])).to.deep.equal([['a', 'up_for_retry']]);
        expect((await store.tasks.get(run.runId, 'a'))!).to.deep.include({ state: 'up_for_retry', nextTryAt: at(40_000) });
        // The lost try's late end (its process comes back) changes nothing; nor can it renew. It is told the task
        // instance as the recovery left it.
        expect(await store.tasks.endTry(a, { state: 'success', taskState: 'success', now: at(50_000) })).to.deep.include({
          state: 'up_for_retry',
          tryNumber: 1,
        });
        expect((await store.tasks.getTry(run.runId, 'a', 1))!.state).to.equal('failed');
        expect((await store.tasks.get(run.runId, 'a'))!.state).to.equal('up_for_retry');
        expect(await store.leases.renew(a.tryId, at(90_000))).to.equal(false);
        // A try started without a lease is never lost by lease (the same-host recovery covers it).
        await store.tasks.startTry(run.runId, 'a', at(60_000));
        expect(await store.leases.expired(at(1e9))).to.deep.equal([]);
      });
    });

    describe('run leases (a scheduler lost on another host)', () => {
      it('renews the lease of a run this process executes; a run whose lease ended is queued again, by one process', async () => {
        const run = (await store.runs.create(newRun()))!;
        expect(await store.runs.claim(run.runId, at(0), { leaseUntil: at(10_000) })).to.equal(true);
        expect(await store.leases.renewRun(run.runId, at(30_000))).to.equal(true);
        expect(await store.leases.renewRun(run.runId, at(20_000))).to.equal(true); // never shortened
        expect(await store.leases.recoverExpiredRuns(at(29_000))).to.deep.equal([]);
        // a try of the run's own process that still holds its lease keeps the run where it is
        const t = await store.tasks.startTry(run.runId, 'a', at(0), at(50_000));
        expect(await store.leases.recoverExpiredRuns(at(40_000))).to.deep.equal([]);
        await store.tasks.endTry(t, { state: 'success', taskState: 'success', now: at(41_000) });
        const other = await opened.another();
        try {
          const [mine, theirs] = await Promise.all([
            store.leases.recoverExpiredRuns(at(45_000)),
            other.leases.recoverExpiredRuns(at(45_000)),
          ]);
          expect([...mine, ...theirs]).to.deep.equal([{ runId: run.runId, host: HOST, pid: process.pid }]);
        } finally {
          await other.close();
        }
        const requeued = (await store.runs.get(run.runId))!;
        expect(requeued).to.deep.include({ state: 'queued', host: null, pid: null });
        expect(requeued.note).to.match(
          /^scheduler lost: pid \d+ on .+ stopped renewing the run's lease \(it ended at 2024-01-01T00:00:30.000Z\)/,
        );
        // the process that lost it can no longer renew it; a run started with no lease is never lost by lease
        expect(await store.leases.renewRun(run.runId, at(90_000))).to.equal(false);
        await store.runs.start(run.runId, at(50_000));
        expect(await store.leases.recoverExpiredRuns(at(1e9))).to.deep.equal([]);
        await store.runs.start(run.runId, at(60_000), at(70_000));
        await store.runs.finish(run.runId, 'success', at(65_000));
        expect(await store.leases.recoverExpiredRuns(at(1e9))).to.deep.equal([]);
      });
    });

    describe('pools', () => {
      it('sets, lists with usage and deletes pools; slots are taken atomically and held by running tries only', async () => {
        await store.pools.set('warehouse', 2, { description: 'two loads at once', now: at(0) });
        expect(await store.pools.get('warehouse')).to.deep.equal({
          name: 'warehouse',
          slots: 2,
          description: 'two loads at once',
          updatedAt: at(0),
        });
        const run = (await store.runs.create(newRun({ claim: true, tasks: seeds(4) })))!;
        const ids = seeds(4).map((t) => t.taskId);
        for (const id of ids) await store.tasks.setState(run.runId, id, 'queued', at(1));
        expect(await store.pools.take(run.runId, 't00', 'nope', 1)).to.deep.equal({ outcome: 'missing' });
        // Two stores racing for the pool's two slots with three tasks: exactly two win.
        const other = await opened.another();
        try {
          const took = await Promise.all(
            ['t00', 't01', 't02'].map((id, i) => (i % 2 ? other : store).pools.take(run.runId, id, 'warehouse', 1)),
          );
          expect(took.map((t) => t.outcome).sort()).to.deep.equal(['full', 'taken', 'taken']);
          expect(took.find((t) => t.outcome === 'full')).to.deep.equal({ outcome: 'full', used: 2, slots: 2 });
        } finally {
          await other.close();
        }
        const holders = [];
        for (const id of ['t00', 't01', 't02']) {
          const ti = (await store.tasks.get(run.runId, id))!;
          if (ti.state === 'queued' && (await store.pools.take(run.runId, id, 'warehouse', 1)).outcome === 'taken')
            holders.push(id);
        }
        expect(holders).to.have.length(2); // taking again for the same try is no second slot
        expect((await store.pools.list()).map((p) => [p.name, p.running, p.starting])).to.deep.equal([['warehouse', 0, 2]]);
        // A running try holds its slot; one that ended frees it, and so does a task instance reset.
        const t = await store.tasks.startTry(run.runId, holders[0]!, at(2));
        expect((await store.pools.list()).map((p) => [p.running, p.starting])).to.deep.equal([[1, 1]]);
        await store.tasks.setState(run.runId, holders[1]!, null, at(3));
        expect((await store.pools.list()).map((p) => [p.running, p.starting])).to.deep.equal([[1, 0]]);
        expect(await store.pools.take(run.runId, 't03', 'warehouse', 2)).to.deep.equal({ outcome: 'full', used: 1, slots: 2 });
        await store.tasks.endTry(t, { state: 'failed', taskState: 'up_for_retry', now: at(4) });
        // Its retry is queued again: no slot held until it takes one again.
        await store.tasks.setState(run.runId, holders[0]!, 'queued', at(5));
        expect((await store.pools.list()).map((p) => [p.running, p.starting])).to.deep.equal([[0, 0]]);
        expect(await store.pools.take(run.runId, 't03', 'warehouse', 2)).to.deep.equal({ outcome: 'taken' });
        // Resized: the description kept when none is given.
        await store.pools.set('warehouse', 5, { now: at(6) });
        expect(await store.pools.get('warehouse')).to.deep.include({
          slots: 5,
          description: 'two loads at once',
          updatedAt: at(6),
        });
        expect(await store.pools.delete('warehouse')).to.equal(true);
        expect(await store.pools.delete('warehouse')).to.equal(false);
        expect(await store.pools.list()).to.deep.equal([]);
      });
    });

    describe('work queues (sluice worker)', () => {
      it('claims queued task instances of running runs on the given queues, oldest first, each once', async () => {
        const run = (await store.runs.create(newRun({ claim: true, tasks: seeds(4) })))!;
        const waiting = (await store.runs.create(newRun({ logicalDate: NEXT, tasks: seeds(1) })))!; // queued run
        await store.work.enqueue(run.runId, 't02', 'default', at(1));
        await store.work.enqueue(run.runId, 't00', 'default', at(2));
        await store.work.enqueue(run.runId, 't01', 'heavy', at(3));
        await store.work.enqueue(waiting.runId, 't00', 'default', at(0));
        expect((await store.tasks.get(run.runId, 't02'))!.state).to.equal('queued');
        expect(await store.work.claim(['other'], 5, 'h1', 11, at(10))).to.deep.equal([]);
        const got = await store.work.claim(['default'], 1, 'h1', 11, at(10));
        // The run and the task instance come with the claim: the worker reads nothing more before the try.
        expect(got).to.deep.equal([
          {
            runId: run.runId,
            dagId: 'songplays',
            taskId: 't02',
            queue: 'default',
            tryNumber: 0,
            queuedAt: at(1),
            run: await store.runs.get(run.runId),
            instance: await store.tasks.get(run.runId, 't02'),
          },
        ]);
        expect(got[0]!.instance).to.deep.include({ operator: 'Empty', state: 'queued', tryNumber: 0, maxTries: 1 });
        expect(got[0]!.run).to.deep.include({ state: 'running', conf: { a: 1, nested: { b: [1, 2] } }, logicalDate: DAY });
        expect((await store.work.claim(['default', 'heavy'], 5, 'h2', 12, at(11))).map((c) => c.taskId)).to.deep.equal([
          't00',
          't01',
        ]);
        expect(await store.work.claim(['default', 'heavy'], 5, 'h2', 12, at(12))).to.deep.equal([]);
        // Queued again while queued (a run loop resuming it): its place and claim are kept.
        await store.work.enqueue(run.runId, 't00', 'default', at(12));
        expect(await store.work.claim(['default'], 5, 'h4', 14, at(12))).to.deep.equal([]);
        // One queued by a process that ran tries itself (no queue): queued for workers now.
        await store.tasks.setState(run.runId, 't03', 'queued', at(12));
        expect(await store.work.claim(['default'], 5, 'h4', 14, at(12))).to.deep.equal([]);
        await store.work.enqueue(run.runId, 't03', 'default', at(12));
        expect((await store.work.claim(['default'], 5, 'h4', 14, at(12))).map((c) => c.taskId)).to.deep.equal(['t03']);
        // A claim whose try never started goes back to the queue; a started one does not.
        await store.tasks.startTry(run.runId, 't00', at(13));
        expect(await store.work.releaseStale(at(11))).to.equal(1); // t02, claimed at 10
        expect((await store.work.claim(['default'], 5, 'h3', 13, at(20))).map((c) => c.taskId)).to.deep.equal(['t02']);
        // ... unless its worker is alive (a heartbeat since): one waiting for pool slots keeps its claim
        await store.work.heartbeat({ host: 'h3', pid: 13, queues: ['default'], concurrency: 1, running: 0 }, at(25));
        expect(await store.work.releaseStale(at(21))).to.equal(2); // t01 and t03, of workers not heard of
        expect((await store.work.claim(['default', 'heavy'], 5, 'h5', 15, at(22))).map((c) => c.taskId)).to.deep.equal([
          't01',
          't03',
        ]);
        await store.work.leave('h3', 13);
        // Queued again (a retry): claimable again, with the try number it has now.
        await store.work.enqueue(run.runId, 't00', 'default', at(30));
        expect(await store.work.claim(['default'], 5, 'h3', 13, at(31))).to.deep.equal([
          {
            runId: run.runId,
            dagId: 'songplays',
            taskId: 't00',
            queue: 'default',
            tryNumber: 1,
            queuedAt: at(30),
            run: await store.runs.get(run.runId),
            instance: await store.tasks.get(run.runId, 't00'),
          },
        ]);
      });

      it('two concurrent claimers never get the same task instance', async () => {
        const run = (await store.runs.create(newRun({ claim: true, tasks: seeds(40) })))!;
        for (let i = 0; i < 40; i++) await store.work.enqueue(run.runId, seeds(40)[i]!.taskId, 'default', at(i));
        const other = await opened.another();
        try {
          const take = async (s: StateStore, host: string) => {
            const mine: string[] = [];
            for (;;) {
              const got = await s.work.claim(['default'], 3, host, 1, at(100));
              if (got.length === 0) return mine;
              mine.push(...got.map((c) => c.taskId));
            }
          };
          const [a, b] = await Promise.all([take(store, 'h1'), take(other, 'h2')]);
          expect(a.filter((id) => b.includes(id))).to.deep.equal([]);
          expect([...a, ...b].sort()).to.deep.equal(seeds(40).map((t) => t.taskId));
        } finally {
          if (other !== store) await other.close();
        }
      });

      it('lists workers by their heartbeats; a worker that leaves is gone', async () => {
        await store.work.heartbeat({ host: 'h1', pid: 1, queues: ['default'], concurrency: 4, running: 0 }, at(0));
        await store.work.heartbeat({ host: 'h2', pid: 2, queues: ['default', 'heavy'], concurrency: 2, running: 1 }, at(5));
        await store.work.heartbeat({ host: 'h1', pid: 1, queues: ['default'], concurrency: 4, running: 3 }, at(10));
        expect(await store.work.workers()).to.deep.equal([
          { host: 'h1', pid: 1, queues: ['default'], concurrency: 4, running: 3, startedAt: at(0), heartbeatAt: at(10) },
          { host: 'h2', pid: 2, queues: ['default', 'heavy'], concurrency: 2, running: 1, startedAt: at(5), heartbeatAt: at(5) },
        ]);
        await store.work.leave('h1', 1);
        expect((await store.work.workers()).map((w) => w.host)).to.deep.equal(['h2']);
      });
    });

    describe('recovery', () => {
      it('fails the tries of dead processes (retry when tries are left) and requeues their runs', async () => {
        const run = (await store.runs.create(newRun({ claim: true })))!;
        await store.tasks.startTry(run.runId, 'a', at(0));
        await store.tasks.startTry(run.runId, 'b', at(0));
        expect(await store.recovery.hasOrphans()).to.equal(false); // this process is alive
        expect(await store.recovery.recover(at(5))).to.deep.equal([]);
        expect((await store.tasks.get(run.runId, 'a'))!.state).to.equal('running');
        expect(await store.recovery.hasOrphans(dead)).to.equal(true);
        const orphans = await store.recovery.recover(at(5), dead);
        expect(orphans).to.deep.equal([
          { runId: run.runId, taskId: 'a', tryNumber: 1, pid: process.pid, host: HOST, newState: 'up_for_retry' },
          { runId: run.runId, taskId: 'b', tryNumber: 1, pid: process.pid, host: HOST, newState: 'failed' },
        ]);
        const tries = await store.tasks.tries(run.runId);
        expect(tries.every((t) => t.state === 'failed' && /^process died: pid \d+ on .+ ended/.test(t.error!))).to.equal(true);
        expect((await store.tasks.get(run.runId, 'a'))!.nextTryAt).to.deep.equal(at(5));
        const after = (await store.runs.get(run.runId))!;
        expect(after.state).to.equal('queued');
        expect(after.note).to.match(/process died: pid \d+ ended while the run was in progress/);
        expect(await store.recovery.recover(at(6), dead)).to.deep.equal([]);
      });
    });
  });
}
