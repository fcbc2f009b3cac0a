/**
 * Outputs between tasks (XCom), the Branch operator and sensors in
 * reschedule mode, through the real runner, state store and operators, on
 * a fake clock (reschedule waits take no time).
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { createConnectionResolver } from '../../../engine/connections/index.js';
import { DagFileError } from '../../../engine/errors.js';
import { FakeClock } from '../../../engine/run/clock.js';
import { harness, type Harness } from '../../helpers/engine.js';
import { makeTempDir } from '../../helpers/tmp.js';

/** A fake clock that calls `onSleep(n)` after its n-th sleep (an object arrives "later"). */
class HookClock extends FakeClock {
  onSleep: (n: number) => void = () => {};
  override async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    await super.sleep(ms, signal);
    this.onSleep(this.sleeps.length);
  }
}

function lines(...l: string[]): string {
  return l.join('\n');
}

describe('outputs between tasks, Branch, and sensors in reschedule mode', function () {
  this.timeout(60_000);
  let h: Harness;
  afterEach(async () => h?.close());

  describe('outputs (XCom)', () => {
    beforeEach(() => {
      h = harness();
    });

    it('a template reads the outputs of direct and transitive upstream tasks', async () => {
      const dag = h.dag(
        lines(
          'dag: xcom',
          'tasks:',
          '  a: { operator: Succeed }',
          '  b: { operator: Echo, upstream: [a], message: "from b" }',
          '  c:',
          '    operator: Echo',
          '    upstream: [b]',
          '    message: "{{ outputs.a.ok }} / {{ outputs.b.message | upcase }}"',
        ),
      );
      const { runId, state } = await h.run(dag);
      expect(state).to.equal('success');
      const out = await h.store.tasks.latestOutputs(runId);
      expect(out.get('c')!.outputs).to.deep.equal({ message: 'true / FROM B' });
    });

    it('a Function task sees them as ctx.outputs', async () => {
      fs.writeFileSync(
        path.join(h.dir, 'fn.mjs'),
        'export function sum(ctx) { return { total: ctx.outputs.a.ok ? 1 : 0, seen: Object.keys(ctx.outputs) }; }\n',
      );
      const dag = h.dag(
        lines(
          'dag: xcom_fn',
          'tasks:',
          '  a: { operator: Succeed }',
          '  other: { operator: Succeed }',
          '  f: { operator: Function, module: fn.mjs, export: sum, upstream: [a] }',
        ),
      );
      const { runId, state } = await h.run(dag);
      expect(state).to.equal('success');
      expect((await h.store.tasks.latestOutputs(runId)).get('f')!.outputs).to.deep.equal({ total: 1, seen: ['a'] });
    });

    it('an upstream task without a successful try gives {}: a missing key fails the render, naming it', async () => {
      const dag = h.dag(
        lines(
          'dag: xcom_missing',
          'tasks:',
          '  a: { operator: Fail }',
          '  b: { operator: Echo, upstream: [a], trigger_rule: all_done, message: "{{ outputs.a.ok }}" }',
        ),
      );
      const { runId } = await h.run(dag);
      const [tryB] = await h.store.tasks.tries(runId, 'b');
      expect(tryB!.state).to.equal('failed');
      expect(tryB!.error).to.match(/task b, field message: template error: undefined variable: outputs\.a\.ok/);
    });

    it('referencing a task that is not upstream is a validation error with file:line', () => {
      const yaml = lines(
        'dag: xcom_bad',
        'tasks:',
        '  a: { operator: Succeed }',
        '  b: { operator: Succeed }',
        '  c:',
        '    operator: Echo',
        '    upstream: [a]',
        '    message: "{{ outputs.b.ok }} {{ outputs.c.x }} {{ outputs.a.ok }}"',
      );
      let err: unknown;
      try {
        h.dag(yaml);
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(DagFileError);
      const msg = (err as Error).message;
      expect(msg).to.match(/dag\.yaml:8:\d+/);
      expect(msg).to.contain("outputs.b: task 'b' is not upstream of 'c' (directly or through other tasks)");
      expect(msg).to.contain("or add 'b' to its upstream");
      expect(msg).to.contain('outputs.c: a task cannot read its own outputs');
      expect(msg).to.not.contain('outputs.a');
    });

    it('outputs over 1 MiB fail the try at once with a clear error, and are not stored', async () => {
      fs.writeFileSync(path.join(h.dir, 'big.mjs'), "export default () => ({ blob: 'x'.repeat(1_200_000) });\n");
      const dag = h.dag(
        lines('dag: xcom_big', 'default_args: { retries: 2 }', 'tasks:', '  big: { operator: Function, module: big.mjs }'),
      );
      const { runId, state } = await h.run(dag);
      expect(state).to.equal('failed');
      const tries = await h.store.tasks.tries(runId, 'big');
      expect(tries).to.have.length(1);
      expect(tries[0]!.error).to.match(
        /not retried \(the same outputs would be recorded again\): task big recorded 1\.14 MiB of outputs \(JSON\), over the limit of 1\.00 MiB/,
      );
      expect(await h.store.tasks.outputs(tries[0]!.tryId)).to.equal(null);
    });
  });

  describe('Branch', () => {
    beforeEach(() => {
      h = harness();
    });

    const branchDag = (follow: string) =>
      lines(
        'dag: branchy',
        'params: { full: false }',
        'tasks:',
        '  choose:',
        '    operator: Branch',
        `    follow: ${follow}`,
        '  full_load: { operator: Succeed, upstream: [choose] }',
        '  after_full: { operator: Succeed, upstream: [full_load] }',
        '  day_load: { operator: Succeed, upstream: [choose] }',
        '  join: { operator: Succeed, upstream: [after_full, day_load], trigger_rule: none_failed }',
        '  strict_join: { operator: Succeed, upstream: [after_full, day_load] }',
      );

    it('a templated expression chooses; the others are skipped with skip propagation', async () => {
      const dag = h.dag(branchDag(`"{% if params.full %}full_load{% else %}day_load{% endif %}"`));
      const { runId, state } = await h.run(dag);
      expect(state).to.equal('success');
      const states = Object.fromEntries((await h.store.tasks.list(runId)).map((t) => [t.taskId, t.state]));
      expect(states).to.deep.equal({
        choose: 'success',
        full_load: 'skipped',
        after_full: 'skipped',
        day_load: 'success',
        join: 'success',
        strict_join: 'skipped',
      });
      expect(h.probe.started).to.not.include('full_load');
      expect((await h.store.tasks.latestOutputs(runId)).get('choose')!.outputs).to.deep.equal({ branch: ['day_load'] });
    });

    it('the run conf changes the choice', async () => {
      const dag = h.dag(branchDag(`"{% if params.full %}full_load{% else %}day_load{% endif %}"`));
      const { runId } = await h.run(dag, { conf: { full: true } });
      const states = Object.fromEntries((await h.store.tasks.list(runId)).map((t) => [t.taskId, t.state]));
      expect(states).to.include({ full_load: 'success', after_full: 'success', day_load: 'skipped', join: 'success' });
    });

    it('a Function module chooses (a list: both followed)', async () => {
      fs.writeFileSync(path.join(h.dir, 'choose.mjs'), "export const pick = (ctx) => ['full_load', 'day_load'];\n");
      const dag = h.dag(branchDag('null').replace('    follow: null', '    module: choose.mjs\n    export: pick'));
      const { runId, state } = await h.run(dag);
      expect(state).to.equal('success');
      const states = await h.store.tasks.list(runId);
      expect(states.every((t) => t.state === 'success')).to.equal(true);
    });

    it('choosing a task that is not a direct downstream task fails the branch, listing them', async () => {
      const dag = h.dag(branchDag('after_full'));
      const { runId, state } = await h.run(dag);
      expect(state).to.equal('failed');
      const [t] = await h.store.tasks.tries(runId, 'choose');
      expect(t!.error).to.contain(
        "task choose: the branch chose 'after_full', not a direct downstream task; the branch must name direct downstream tasks of choose (full_load, day_load)",
      );
      const states = Object.fromEntries((await h.store.tasks.list(runId)).map((x) => [x.taskId, x.state]));
      expect(states).to.include({ full_load: 'upstream_failed', day_load: 'upstream_failed' });
    });

    it('a resumed run keeps the choice of a branch that succeeded before', async () => {
      const dag = h.dag(branchDag('day_load'));
      const { runId } = await h.run(dag);
      // Clear every task after the branch, as `sluice tasks clear` would, and run again.
      await h.runs.clearTasks(dag, runId, { tasks: ['full_load', 'after_full', 'day_load', 'join', 'strict_join'] });
      const { executeRun } = await import('../../../engine/run/runner.js');
      const { noConnections } = await import('../../helpers/engine.js');
      const { createSinkLogger, TaskLogSink } = await import('../../../engine/log.js');
      const state = await executeRun(dag, runId, {
        store: h.store,
        registry: h.registry,
        connections: noConnections(),
        logger: createSinkLogger(new TaskLogSink(h.store.logs, null), 'debug'),
        parallelism: 4,
        resolvePath: (p) => path.resolve(h.dir, p),
        clock: h.clock,
      });
      expect(state).to.equal('success');
      const states = Object.fromEntries((await h.store.tasks.list(runId)).map((x) => [x.taskId, x.state]));
      expect(states).to.include({ choose: 'success', full_load: 'skipped', day_load: 'success', join: 'success' });
    });
  });

  describe('sensors in reschedule mode', () => {
    let lake: string;
    let clock: HookClock;
    beforeEach(() => {
      lake = makeTempDir('sluice-lake');
      clock = new HookClock('2024-01-02T00:00:00Z');
      const connections = createConnectionResolver({ lake }, { home: makeTempDir('sluice-home') });
      h = harness({ clock, connections });
    });

    const sensorDag = (extra: string[] = [], id = 'wait') =>
      lines(
        'dag: resched',
        'default_args: { retries: 2, retry_delay: 1m }',
        'tasks:',
        `  ${id}:`,
        '    operator: LakeKeySensor',
        '    key: "log_data/{{ ds }}-events.json"',
        '    mode: reschedule',
        '    poke_interval: 5m',
        '    timeout: 1h',
        ...extra.map((l) => `    ${l}`),
        `  load: { operator: Echo, upstream: [${id}], message: "{{ outputs.${id}.keys[0] }}" }`,
      );

    it('frees the task between pokes: each poke is a try, none uses up a retry, the wait is on the clock', async () => {
      clock.onSleep = (n) => {
        if (n === 2) fs.writeFileSync(path.join(lake, 'log_data', '2024-01-01-events.json'), '{"a":1}\n');
      };
      fs.mkdirSync(path.join(lake, 'log_data'));
      const { runId, state } = await h.run(h.dag(sensorDag()));
      expect(state).to.equal('success');
      expect(clock.sleeps).to.deep.equal([300_000, 300_000]);
      const tries = await h.store.tasks.tries(runId, 'wait');
      expect(tries.map((t) => t.state)).to.deep.equal(['up_for_reschedule', 'up_for_reschedule', 'success']);
      expect(tries.map((t) => t.error)).to.deep.equal([null, null, null]);
      const ti = (await h.store.tasks.get(runId, 'wait'))!;
      expect({ tryNumber: ti.tryNumber, maxTries: ti.maxTries }).to.deep.equal({ tryNumber: 3, maxTries: 5 });
      expect(await h.store.tasks.outputs(tries[0]!.tryId)).to.deep.equal({
        first_poke_at: '2024-01-02T00:00:00.000Z',
        poke_count: 1,
      });
      const out = await h.store.tasks.latestOutputs(runId);
      expect(out.get('wait')!.outputs).to.include({ poke_count: 3, waited_ms: 600_000 });
      expect(out.get('load')!.outputs).to.deep.equal({ message: 'log_data/2024-01-01-events.json' });
      const resched = h.events.filter((e) => e.type === 'task' && e.state === 'up_for_reschedule');
      expect(resched).to.have.length(2);
      const log = await h.store.logs.list(tries[0]!.tryId);
      expect(log.map((l) => l.msg)).to.include(
        'up_for_reschedule: next poke at 2024-01-02T00:05:00.000Z (the task holds no slot until then)',
      );
    });

    it('times out measured from the first poke, not retried; the last poke is at the deadline', async () => {
      const { runId, state } = await h.run(h.dag(sensorDag().replace('timeout: 1h', 'timeout: 12m')));
      expect(state).to.equal('failed');
      expect(clock.sleeps).to.deep.equal([300_000, 300_000, 120_000]);
      const tries = await h.store.tasks.tries(runId, 'wait');
      expect(tries.map((t) => t.state)).to.deep.equal(['up_for_reschedule', 'up_for_reschedule', 'up_for_reschedule', 'failed']);
      expect(tries[3]!.error).to.match(
        /^not retried \(the sensor timed out \(its timeout covers every poke\)\): sensor timed out after 12m \(timeout 12m, 4 pokes\): object file:\/\/.*log_data\/2024-01-01-events\.json \(last poke: nothing there\)/,
      );
      expect((await h.store.tasks.get(runId, 'load'))!.state).to.equal('upstream_failed');
    });

    it('with soft_fail, the timeout skips the task and its downstream', async () => {
      const { runId, state } = await h.run(h.dag(sensorDag(['soft_fail: true']).replace('timeout: 1h', 'timeout: 10m')));
      expect(state).to.equal('success');
      const states = Object.fromEntries((await h.store.tasks.list(runId)).map((x) => [x.taskId, x.state]));
      expect(states).to.deep.equal({ wait: 'skipped', load: 'skipped' });
    });

    it('with one task slot, two waiting sensors take turns (poke mode would hold the slot)', async () => {
      fs.mkdirSync(path.join(lake, 'log_data'));
      clock.onSleep = (n) => {
        if (n === 2) fs.writeFileSync(path.join(lake, 'log_data', '2024-01-01-events.json'), '{}');
      };
      const yaml = lines(
        'dag: two_sensors',
        'tasks:',
        ...['s1', 's2'].flatMap((id) => [
          `  ${id}:`,
          '    operator: LakeKeySensor',
          '    key: "log_data/{{ ds }}-events.json"',
          '    mode: reschedule',
          '    poke_interval: 5m',
        ]),
      );
      const { runId, state } = await h.run(h.dag(yaml), { parallelism: 1 });
      expect(state).to.equal('success');
      const order = (await h.store.tasks.tries(runId)).map((t) => `${t.taskId}:${t.state}`);
      // s2's first poke came while s1 was waiting for its second: in poke mode s1 would hold the only slot until found.
      expect(order.slice(0, 2)).to.deep.equal(['s1:up_for_reschedule', 's2:up_for_reschedule']);
      expect(order.slice(-2).sort()).to.deep.equal(['s1:success', 's2:success']);
    });
  });
});
