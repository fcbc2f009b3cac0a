/**
 * Sensors in poke mode through the real runner: LakeKeySensor on a local
 * folder and on s3rver where the object appears while the task runs,
 * SqlSensor on PGlite, TimeDeltaSensor and TimeSensor; timeouts with and
 * without soft_fail.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { expect } from 'chai';
import { createConnectionResolver } from '../../../engine/connections/index.js';
import type { RunState } from '../../../engine/interfaces.js';
import { globToRegExp } from '../../../operators/sensors/lake-key.js';
import { nextPokeDelayMs, type SensorParams } from '../../../operators/sensors/poke.js';
import { isTruthyCell } from '../../../operators/sensors/sql-sensor.js';
import { harness, type Harness } from '../../helpers/engine.js';
import { useS3rver } from '../../helpers/s3.js';
import { makeTempDir } from '../../helpers/tmp.js';
import { closeRuns, exec, makeEnv, oneTask, PROJECT_ROOT, runDag, writeLake, type Env } from './support.js';

const DAY = '2018-11-21T00:00:00Z';

interface During {
  state: RunState;
  outputs: Record<string, unknown>;
  error: string | null;
  pokeLines: string[];
}

/**
 * Runs a one-task DAG; once its first poke said "not yet" (in the try's log),
 * calls `meanwhile` (which makes the awaited thing appear).
 */
async function runWhile(env: Env, yaml: string, meanwhile: () => Promise<void>, date = DAY): Promise<During> {
  const h: Harness = harness({ connections: env.connections, projectRoot: PROJECT_ROOT });
  try {
    const done = h.run(h.dag(yaml), { logicalDate: new Date(date) });
    let poked = false;
    for (let i = 0; i < 1_500 && !poked; i++) {
      await new Promise((r) => setTimeout(r, 20));
      poked = (await h.store.logs.list(1)).some((l) => /: not yet/.test(l.msg));
    }
    expect(poked, 'the sensor poked once before the object appeared').to.equal(true);
    await meanwhile();
    const { runId, state } = await done;
    const tries = await h.store.tasks.tries(runId);
    const outputs = (await h.store.tasks.latestOutputs(runId)).get('task')?.outputs ?? {};
    const lines = await h.store.logs.list(tries[0]!.tryId);
    return {
      state,
      outputs,
      error: tries[0]!.error,
      pokeLines: lines.map((l) => l.msg).filter((m) => /not yet|found after/.test(m)),
    };
  } finally {
    await h.close();
  }
}

describe('sensors', function () {
  this.timeout(60_000);
  let env: Env;

  before(() => {
    env = makeEnv('pglite://memory');
  });
  after(async () => {
    closeRuns();
    await env?.close();
  });

  describe('LakeKeySensor on a local folder', () => {
    it('waits for a templated key that appears while it runs', async () => {
      const r = await runWhile(
        env,
        oneTask('LakeKeySensor', `key: "log_data/{{ ds }}-events.json"\npoke_interval: 100ms`),
        async () => writeLake(env, 'log_data/2018-11-21-events.json', '{"a":1}\n'),
      );
      expect(r.state, r.error ?? '').to.equal('success');
      expect(r.outputs).to.include({ objects: 1, bytes: 8 });
      expect(r.outputs.keys).to.deep.equal(['log_data/2018-11-21-events.json']);
      expect(r.outputs.poke_count).to.be.at.least(2);
      expect(r.pokeLines[0]).to.match(
        /^object file:\/\/.*\/log_data\/2018-11-21-events\.json: not yet \(nothing there\); next poke in 100ms$/,
      );
    });

    it('with a prefix, waits for min_objects objects of at least min_size bytes', async () => {
      writeLake(env, 'hourly/2018-11-21/00.json', '');
      const r = await runWhile(
        env,
        oneTask('LakeKeySensor', `prefix: "hourly/{{ ds }}/"\nmin_objects: 2\nmin_size: 1\npoke_interval: 100ms`),
        async () => {
          writeLake(env, 'hourly/2018-11-21/01.json', '{}');
          writeLake(env, 'hourly/2018-11-21/02.json', '{}');
        },
      );
      expect(r.state, r.error ?? '').to.equal('success');
      expect(r.outputs).to.include({ objects: 2, bytes: 4 });
      expect(r.pokeLines[0]).to.match(/not yet \(1 object, 0 of at least 1 bytes\)/);
    });

    it('with a glob, matches keys across folders', async () => {
      writeLake(env, 'glob/A/B/x.txt', 'no');
      const r = await runWhile(
        env,
        oneTask('LakeKeySensor', `glob: "glob/**/{{ ds_nodash }}-*.json"\npoke_interval: 100ms`),
        async () => writeLake(env, 'glob/A/B/20181121-events.json', '{}'),
      );
      expect(r.state, r.error ?? '').to.equal('success');
      expect(r.outputs.keys).to.deep.equal(['glob/A/B/20181121-events.json']);
    });

    it('fails at its timeout without retrying, naming what it waited for', async () => {
      const r = await runDag(
        env,
        oneTask('LakeKeySensor', `key: missing/file.json\npoke_interval: 100ms\ntimeout: 300ms`, { retries: 2 }),
        DAY,
      );
      expect(r.taskState('task')).to.equal('failed');
      expect(r.tries('task')).to.have.length(1);
      expect(r.tries('task')[0]!.error).to.match(
        /not retried \(the sensor timed out.*\): sensor timed out after .* \(timeout 300ms, \d+ pokes\): object file:.*missing\/file\.json \(last poke: nothing there\)\. Raise the sensor's timeout, or set soft_fail: true/,
      );
    });

    it('soft_fail: a timeout skips the task, and its all_success downstream tasks', async () => {
      const yaml = [
        'dag: soft',
        'tasks:',
        '  task:',
        '    operator: LakeKeySensor',
        '    key: missing/file.json',
        '    poke_interval: 100ms',
        '    timeout: 300ms',
        '    soft_fail: true',
        '  load: { operator: Empty, upstream: [task] }',
      ].join('\n');
      const r = await runDag(env, yaml, DAY);
      expect(r.taskState('task')).to.equal('skipped');
      expect(r.taskState('load')).to.equal('skipped');
      expect(r.state).to.equal('success');
    });

    it('rejects a task giving both key and prefix when the DAG loads', async () => {
      let error: unknown;
      try {
        await runDag(env, oneTask('LakeKeySensor', `key: a.json\nprefix: a/`), DAY);
      } catch (err) {
        error = err;
      }
      expect(String(error)).to.match(/dag\.yaml:\d+:\d+: .*give exactly one of key, prefix and glob/);
    });
  });

  describe('LakeKeySensor on S3 (s3rver)', () => {
    const s3 = useS3rver(['lake']);

    it('waits for an object put while it runs', async () => {
      const s3env = {
        ...env,
        connections: createConnectionResolver(
          { warehouse: 'pglite://memory', lake: s3.storeUrl('lake', 'sparkify/') },
          { home: makeTempDir('sluice-home') },
        ),
      };
      try {
        const r = await runWhile(
          s3env,
          oneTask('LakeKeySensor', `key: "log_data/{{ ds }}-events.json"\npoke_interval: 100ms\nmin_size: 1`),
          async () => {
            await s3.client.send(
              new PutObjectCommand({ Bucket: 'lake', Key: 'sparkify/log_data/2018-11-21-events.json', Body: '{"a":1}\n' }),
            );
          },
        );
        expect(r.state, r.error ?? '').to.equal('success');
        expect(r.outputs).to.include({ objects: 1, bytes: 8 });
        expect(r.outputs.keys).to.deep.equal(['log_data/2018-11-21-events.json']);
      } finally {
        await s3env.connections.closeAll();
      }
    });
  });

  describe('SqlSensor on PGlite', () => {
    it("waits until the query's first cell is truthy, and records it", async () => {
      await exec(env, 'CREATE TABLE sensor_events (id int)');
      const r = await runWhile(
        env,
        oneTask('SqlSensor', `sql: "SELECT count(*) >= 2 AS ready FROM sensor_events"\npoke_interval: 100ms`),
        async () => exec(env, 'INSERT INTO sensor_events VALUES (1), (2)'),
      );
      expect(r.state, r.error ?? '').to.equal('success');
      expect(r.outputs.value).to.equal(true);
      expect(r.pokeLines[0]).to.match(/query on warehouse: not yet \(first cell false\)/);
    });

    it('treats 0, "0", "", false and NULL as not yet', () => {
      for (const v of [0, '0', '', false, null, undefined, 'f', 'false', 0n]) expect(isTruthyCell(v), String(v)).to.equal(false);
      for (const v of [1, 't', true, 'yes', -1, 2n, {}]) expect(isTruthyCell(v), String(v)).to.equal(true);
    });
  });

  describe('TimeDeltaSensor and TimeSensor', () => {
    it('TimeDeltaSensor waits until data_interval_end + delta', async () => {
      // a daily run whose interval ends 1.5 s from now, with a delta of 0.5 s
      const end = Date.now() + 1_500;
      const date = new Date(end - 86_400_000).toISOString();
      const r = await runDag(env, oneTask('TimeDeltaSensor', `delta: 500ms\npoke_interval: 10s`), date);
      expect(r.state, r.tries('task')[0]?.error ?? '').to.equal('success');
      expect(r.outputs('task').target).to.equal(new Date(end + 500).toISOString());
      // It woke at its target, not after its 10 s poke_interval, and not before the target.
      expect(r.outputs('task').poke_count).to.equal(2);
      expect(Date.now()).to.be.at.least(end + 500);
    });

    it('TimeSensor reads target_time on the date data_interval_end falls on, in its timezone', async () => {
      const r = await runDag(env, oneTask('TimeSensor', `target_time: "01:00"\ntimezone: Europe/Berlin`), '2024-01-01T00:00:00Z');
      expect(r.state, r.tries('task')[0]?.error ?? '').to.equal('success');
      expect(r.outputs('task')).to.include({ target: '2024-01-02T00:00:00.000Z', poke_count: 1 });
      const future = await runDag(
        env,
        oneTask('TimeSensor', `target_time: "06:30"\ntimeout: 200ms\npoke_interval: 50ms`),
        '2100-01-01',
      );
      expect(future.taskState('task')).to.equal('failed');
      expect(future.tries('task')[0]!.error).to.match(/06:30 UTC \(2100-01-02T06:30:00\.000Z\)/);
    });
  });

  it('exponential_backoff doubles the wait after each poke, capped by max_wait', () => {
    const p: SensorParams = {
      poke_interval: 1_000,
      timeout: 60_000,
      soft_fail: false,
      exponential_backoff: true,
      max_wait: 5_000,
      mode: 'poke',
    };
    expect([1, 2, 3, 4, 5].map((n) => nextPokeDelayMs(p, n))).to.deep.equal([1_000, 2_000, 4_000, 5_000, 5_000]);
    expect(nextPokeDelayMs({ ...p, exponential_backoff: false }, 4)).to.equal(1_000);
  });

  it('globs: * and ? stay in a folder, ** crosses folders, classes and alternatives', () => {
    const t = (glob: string, key: string) => globToRegExp(glob).test(key);
    expect(t('a/*.json', 'a/x.json')).to.equal(true);
    expect(t('a/*.json', 'a/b/x.json')).to.equal(false);
    expect(t('a/**/x.json', 'a/x.json')).to.equal(true);
    expect(t('a/**/x.json', 'a/b/c/x.json')).to.equal(true);
    expect(t('a/?.json', 'a/1.json')).to.equal(true);
    expect(t('a/[0-2].json', 'a/3.json')).to.equal(false);
    expect(t('a/[!0-2].json', 'a/3.json')).to.equal(true);
    expect(t('a/{x,y}.json', 'a/y.json')).to.equal(true);
    expect(t('a/x.json', 'a/xxjson')).to.equal(false);
  });
});
