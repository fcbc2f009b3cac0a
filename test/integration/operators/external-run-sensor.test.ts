/**
 * ExternalRunSensor through the real runner and SQLite state store: another
 * DAG's task (or whole run) is absent, then running, then done while the
 * sensor pokes; failed_states fail it at once; execution_delta and
 * external_logical_date map the date; soft_fail on timeout, in poke and
 * reschedule mode (the harness's fake clock makes reschedule waits instant).
 */
import { expect } from 'chai';
import type { RunState } from '../../../engine/interfaces.js';
import { parseLogicalDate } from '../../../operators/sensors/external-run.js';
import { harness, type Harness } from '../../helpers/engine.js';

const DAY = new Date('2024-01-01T00:00:00Z');
const NEXT_DAY = new Date('2024-01-02T00:00:00Z');

const producer = (task: string) => `
dag: producer
tasks:
  load: ${task}
`;

/** A DAG `consumer` whose task `wait` is an ExternalRunSensor with these extra lines; `after` runs when it succeeds. */
const consumer = (lines: string[]) =>
  [
    'dag: consumer',
    'params: { day: "2024-01-01" }',
    'tasks:',
    '  wait:',
    '    operator: ExternalRunSensor',
    '    external_dag_id: producer',
    ...lines.map((l) => `    ${l}`),
    '  after: { operator: Empty, upstream: [wait] }',
  ].join('\n');

interface Outcome {
  state: RunState;
  taskState: (id: string) => string | null | undefined;
  tries: { state: string; error: string | null }[];
  outputs: Record<string, unknown>;
  pokeLines: string[];
}

/** The consumer's run for `date`: its state, the sensor's tries, outputs and poke log lines. */
async function outcome(h: Harness, state: RunState, date: Date): Promise<Outcome> {
  const run = (await h.store.runs.forDate('consumer', date))!;
  const tries = await h.store.tasks.tries(run.runId);
  const sensorTries = tries.filter((t) => t.taskId === 'wait');
  const lines: string[] = [];
  for (const t of sensorTries) for (const l of await h.store.logs.list(t.tryId)) lines.push(l.msg);
  const states = new Map<string, string | null>();
  for (const id of ['wait', 'after']) states.set(id, (await h.store.tasks.get(run.runId, id))?.state ?? null);
  return {
    state,
    taskState: (id) => states.get(id),
    tries: sensorTries.map((t) => ({ state: t.state, error: t.error })),
    outputs: (await h.store.tasks.latestOutputs(run.runId)).get('wait')?.outputs ?? {},
    pokeLines: lines.filter((m) => /not yet|found after|timed out/.test(m)),
  };
}

async function pokeLinesSoFar(h: Harness, date: Date): Promise<string[]> {
  const run = await h.store.runs.forDate('consumer', date);
  if (!run) return [];
  const lines: string[] = [];
  for (const t of await h.store.tasks.tries(run.runId)) {
    if (t.taskId === 'wait') for (const l of await h.store.logs.list(t.tryId)) lines.push(l.msg);
  }
  return lines.filter((m) => /: not yet/.test(m));
}

async function until(what: string, test: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 1_500; i++) {
    if (await test()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('ExternalRunSensor', function () {
  this.timeout(60_000);
  let h: Harness;
  beforeEach(() => {
    h = harness();
  });
  afterEach(async () => {
    await h.close();
  });

  it("waits while the other DAG's task is absent, then running; succeeds when it reaches success", async () => {
    const sensing = h.run(h.dag(consumer(['external_task_id: load', 'poke_interval: 50ms', 'timeout: 1m'])), {
      logicalDate: DAY,
    });
    await until('a poke finding no run', async () =>
      (await pokeLinesSoFar(h, DAY)).some((l) => l.includes('no run of producer for this date yet')),
    );
    const producing = h.run(h.dag(producer('{ operator: Sleep, ms: 600 }')), { logicalDate: DAY });
    await until('a poke finding the task running', async () =>
      (await pokeLinesSoFar(h, DAY)).some((l) => /not yet \(running\)/.test(l)),
    );
    expect((await producing).state).to.equal('success');
    const r = await outcome(h, (await sensing).state, DAY);
    expect(r.state).to.equal('success');
    expect(r.taskState('after')).to.equal('success');
    expect(r.outputs).to.include({
      external_dag_id: 'producer',
      external_task_id: 'load',
      external_logical_date: '2024-01-01T00:00:00.000Z',
      state: 'success',
    });
    expect(r.outputs.poke_count).to.be.at.least(3);
    expect(r.pokeLines[0]).to.equal(
      'task load of DAG producer for 2024-01-01T00:00:00.000Z to be success: not yet (no run of producer for this date yet); next poke in 50ms',
    );
    expect(r.pokeLines.at(-1)).to.match(/: found after \d+ pokes$/);
  });

  it('fails at once when the task reaches one of failed_states', async () => {
    expect((await h.run(h.dag(producer('{ operator: Fail }')), { logicalDate: DAY })).state).to.equal('failed');
    const state = (
      await h.run(h.dag(consumer(['external_task_id: load', 'failed_states: [failed, upstream_failed]', 'poke_interval: 1h'])), {
        logicalDate: DAY,
      })
    ).state;
    const r = await outcome(h, state, DAY);
    expect(r.state).to.equal('failed');
    expect(r.taskState('wait')).to.equal('failed');
    expect(r.taskState('after')).to.equal('upstream_failed');
    expect(r.tries).to.have.length(1);
    expect(r.tries[0]!.error).to.equal(
      'task load of DAG producer for 2024-01-01T00:00:00.000Z is failed (failed_states: failed, upstream_failed). ' +
        'Rerun or clear it in DAG producer, then clear this task',
    );
    expect(r.outputs).to.include({ state: 'failed' });
  });

  it("maps the date with execution_delta: the day before's whole run", async () => {
    expect((await h.run(h.dag(producer('{ operator: Succeed }')), { logicalDate: DAY })).state).to.equal('success');
    const state = (await h.run(h.dag(consumer(['execution_delta: 1d', 'poke_interval: 1h'])), { logicalDate: NEXT_DAY })).state;
    const r = await outcome(h, state, NEXT_DAY);
    expect(r.state).to.equal('success');
    expect(r.outputs).to.include({ external_logical_date: '2024-01-01T00:00:00.000Z', state: 'success', poke_count: 1 });
    expect(r.outputs).to.not.have.property('external_task_id');
  });

  it('maps the date with a templated external_logical_date', async () => {
    expect((await h.run(h.dag(producer('{ operator: Succeed }')), { logicalDate: DAY })).state).to.equal('success');
    const day5 = new Date('2024-01-05T00:00:00Z');
    const yaml = consumer(['external_task_id: load', 'external_logical_date: "{{ params.day }}"', 'poke_interval: 1h']);
    const r = await outcome(h, (await h.run(h.dag(yaml), { logicalDate: day5 })).state, day5);
    expect(r.state).to.equal('success');
    expect(r.outputs).to.include({ external_logical_date: '2024-01-01T00:00:00.000Z', state: 'success' });
  });

  it('soft_fail: a timeout skips the sensor and its downstream task; the last poke says what it saw', async () => {
    // The producer's task failed: without failed_states that is only "not yet" (it may be cleared and rerun).
    expect((await h.run(h.dag(producer('{ operator: Fail }')), { logicalDate: DAY })).state).to.equal('failed');
    const yaml = consumer(['external_task_id: load', 'poke_interval: 50ms', 'timeout: 200ms', 'soft_fail: true']);
    const r = await outcome(h, (await h.run(h.dag(yaml), { logicalDate: DAY })).state, DAY);
    expect(r.state).to.equal('success');
    expect(r.taskState('wait')).to.equal('skipped');
    expect(r.taskState('after')).to.equal('skipped');
    expect(r.tries[0]!.error).to.match(
      /^sensor timed out after .* \(timeout 200ms, \d+ pokes\): task load of DAG producer for 2024-01-01T00:00:00\.000Z to be success \(last poke: failed, not in allowed_states; it may be cleared and rerun \(list failed in failed_states to fail at once\)\); soft_fail: skipped$/,
    );
  });

  it('in reschedule mode, pokes as rescheduled tries and is skipped at its timeout with soft_fail', async () => {
    const yaml = consumer(['mode: reschedule', 'poke_interval: 10m', 'timeout: 30m', 'soft_fail: true']);
    const r = await outcome(h, (await h.run(h.dag(yaml), { logicalDate: DAY })).state, DAY);
    expect(r.state).to.equal('success');
    expect(r.tries.map((t) => t.state)).to.deep.equal(['up_for_reschedule', 'up_for_reschedule', 'up_for_reschedule', 'skipped']);
    expect(r.pokeLines[0]).to.equal(
      'run of DAG producer for 2024-01-01T00:00:00.000Z to be success: not yet (no run of producer for this date yet); ' +
        'next poke in 10m (mode: reschedule)',
    );
  });

  it('in reschedule mode, finds the run once the producer ran', async () => {
    expect((await h.run(h.dag(producer('{ operator: Succeed }')), { logicalDate: DAY })).state).to.equal('success');
    const yaml = consumer(['mode: reschedule', 'poke_interval: 10m', 'allowed_states: [success, failed]']);
    const r = await outcome(h, (await h.run(h.dag(yaml), { logicalDate: DAY })).state, DAY);
    expect(r.state).to.equal('success');
    expect(r.tries.map((t) => t.state)).to.deep.equal(['success']);
  });

  it('refuses to wait for its own run', async () => {
    const yaml = consumer([]).replace('external_dag_id: producer', 'external_dag_id: consumer');
    const r = await outcome(h, (await h.run(h.dag(yaml), { logicalDate: DAY })).state, DAY);
    expect(r.tries[0]!.error).to.match(/task wait: waits for its own run \(DAG consumer, 2024-01-01T00:00:00\.000Z\)/);
  });

  it('fails without retrying when external_logical_date does not render a date', async () => {
    const yaml = consumer(['external_logical_date: "{{ ds_nodash }}"', 'retries: 2']);
    const r = await outcome(h, (await h.run(h.dag(yaml), { logicalDate: DAY })).state, DAY);
    expect(r.tries).to.have.length(1);
    expect(r.tries[0]!.error).to.match(
      /task wait, field external_logical_date: rendered to "20240101", which is not a date; it must render an ISO 8601 date/,
    );
  });

  it('rejects, with file:line when the DAG loads, run states it cannot reach and contradictory lists', () => {
    const load = (lines: string[]) => {
      try {
        h.dag(consumer(lines));
      } catch (err) {
        return String(err);
      }
      return 'loaded';
    };
    expect(load(['allowed_states: [skipped]'])).to.match(
      /dag\.yaml:\d+:\d+: .*skipped: not a run state; without external_task_id the sensor waits for the whole run, whose states are queued, running, success, failed/,
    );
    expect(load(['external_task_id: load', 'allowed_states: [skipped]'])).to.equal('loaded');
    expect(load(['execution_delta: 1d', 'external_logical_date: "{{ ds }}"'])).to.match(
      /dag\.yaml:\d+:\d+: .*give execution_delta or external_logical_date, not both/,
    );
    expect(load(['failed_states: [success]'])).to.match(/success is listed in both allowed_states and failed_states/);
    expect(load(['allowed_states: [done]'])).to.match(/dag\.yaml:\d+:\d+: .*allowed_states/);
    expect(load(['execution_delta: -1h'])).to.equal('loaded');
  });

  it('reads logical dates as ISO 8601, UTC unless they say otherwise', () => {
    expect(parseLogicalDate('2024-01-01')?.toISOString()).to.equal('2024-01-01T00:00:00.000Z');
    expect(parseLogicalDate(' 2024-01-01T06:30 ')?.toISOString()).to.equal('2024-01-01T06:30:00.000Z');
    expect(parseLogicalDate('2024-01-01 06:30:15')?.toISOString()).to.equal('2024-01-01T06:30:15.000Z');
    expect(parseLogicalDate('2024-01-01T06:30:00+02:00')?.toISOString()).to.equal('2024-01-01T04:30:00.000Z');
    for (const bad of ['', 'yesterday', '01/02/2024', '2024-13-01', '2024-01-01T25:00:00Z']) {
      expect(parseLogicalDate(bad), bad).to.equal(null);
    }
  });
});
