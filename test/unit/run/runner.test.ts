import { expect } from 'chai';
import path from 'node:path';
import Database from 'better-sqlite3';
import { FakeClock } from '../../../engine/run/clock.js';
import { retryDelayMs } from '../../../engine/run/runner.js';
import { harness, type Harness } from '../../helpers/engine.js';
import { createConnectionResolver } from '../../../engine/connections/index.js';

async function states(h: Harness, runId: string): Promise<Record<string, string | null>> {
  return Object.fromEntries((await h.store.tasks.list(runId)).map((t) => [t.taskId, t.state]));
}

describe('runner', () => {
  let h: Harness;
  beforeEach(() => {
    h = harness();
  });
  afterEach(() => h.close());

  it('runs a chain in topological order and records every try', async () => {
    const dag = h.dag(`
dag: chain
tasks:
  c: { operator: Succeed, upstream: [b] }
  a: { operator: Succeed }
  b: { operator: Succeed, upstream: [a] }
`);
    const { runId, state } = await h.run(dag);
    expect(state).to.equal('success');
    expect(h.probe.started).to.deep.equal(['a', 'b', 'c']);
    expect(await states(h, runId)).to.deep.equal({ c: 'success', a: 'success', b: 'success' });
    const tries = await h.store.tasks.tries(runId);
    expect(tries.map((t) => [t.taskId, t.tryNumber, t.state])).to.deep.equal([
      ['a', 1, 'success'],
      ['b', 1, 'success'],
      ['c', 1, 'success'],
    ]);
    for (const t of tries) {
      expect(t.endedAt).to.be.a('date');
      expect(t.pid).to.equal(process.pid);
      expect(await h.store.tasks.outputs(t.tryId)).to.deep.equal({ ok: true });
    }
    expect((await h.store.runs.get(runId))!.state).to.equal('success');
  });

  it('runs independent tasks concurrently up to parallelism and max_active_tasks', async () => {
    const fan = (extra: string) => `
dag: fan
${extra}
tasks:
  start: { operator: Succeed }
${[1, 2, 3, 4, 5, 6].map((i) => `  t${i}: { operator: Succeed, ticks: 20, upstream: [start] }`).join('\n')}
`;
    await h.run(h.dag(fan('')), { parallelism: 2 });
    expect(h.probe.maxActive).to.equal(2);

    const h2 = harness();
    try {
      await h2.run(h2.dag(fan('max_active_tasks: 3')), { parallelism: 8 });
      expect(h2.probe.maxActive).to.equal(3);
    } finally {
      h2.close();
    }
    const h3 = harness();
    try {
      await h3.run(h3.dag(fan('')), { parallelism: 8 });
      expect(h3.probe.maxActive).to.equal(6);
    } finally {
      h3.close();
    }
  });

  describe('trigger rules', () => {
    it('all_success, all_done, one_failed and all_failed after a failure', async () => {
      const dag = h.dag(`
dag: rules
tasks:
  ok: { operator: Succeed }
  bad: { operator: Fail }
  after_both: { operator: Succeed, upstream: [ok, bad] }
  downstream_of_that: { operator: Succeed, upstream: [after_both] }
  cleanup: { operator: Succeed, upstream: [ok, bad], trigger_rule: all_done }
  alert: { operator: Succeed, upstream: [ok, bad], trigger_rule: one_failed }
  all_bad: { operator: Succeed, upstream: [bad], trigger_rule: all_failed }
  not_all_bad: { operator: Succeed, upstream: [ok, bad], trigger_rule: all_failed }
  one_ok: { operator: Succeed, upstream: [ok, bad], trigger_rule: one_success }
  none_failed: { operator: Succeed, upstream: [ok, bad], trigger_rule: none_failed }
  always: { operator: Succeed, upstream: [bad], trigger_rule: always }
`);
      const { runId, state } = await h.run(dag);
      expect(await states(h, runId)).to.deep.equal({
        ok: 'success',
        bad: 'failed',
        after_both: 'upstream_failed',
        downstream_of_that: 'upstream_failed',
        cleanup: 'success',
        alert: 'success',
        all_bad: 'success',
        not_all_bad: 'skipped',
        one_ok: 'success',
        none_failed: 'upstream_failed',
        always: 'success',
      });
      // Leaves downstream_of_that and none_failed are upstream_failed: the run failed.
      expect(state).to.equal('failed');
    });

    it('propagates skips: all_success after a skipped task is skipped; none_failed runs', async () => {
      const dag = h.dag(`
dag: skips
tasks:
  ok: { operator: Succeed }
  only_on_failure: { operator: Succeed, upstream: [ok], trigger_rule: all_failed }
  next: { operator: Succeed, upstream: [only_on_failure] }
  tolerant: { operator: Succeed, upstream: [only_on_failure, ok], trigger_rule: none_failed }
  alert: { operator: Succeed, upstream: [ok], trigger_rule: one_failed }
  first_win: { operator: Succeed, upstream: [only_on_failure], trigger_rule: one_success }
`);
      const { runId, state } = await h.run(dag);
      expect(await states(h, runId)).to.deep.equal({
        ok: 'success',
        only_on_failure: 'skipped',
        next: 'skipped',
        tolerant: 'success',
        alert: 'skipped',
        first_win: 'skipped',
      });
      expect(state).to.equal('success');
    });

    it('one_success runs as soon as one upstream succeeded, before the others finish', async () => {
      const dag = h.dag(`
dag: race
tasks:
  fast: { operator: Succeed }
  slow: { operator: Succeed, ticks: 200 }
  winner: { operator: Succeed, upstream: [fast, slow], trigger_rule: one_success }
`);
      await h.run(dag);
      expect(h.probe.started.indexOf('winner')).to.be.greaterThan(-1);
      expect(h.probe.ended.indexOf('winner')).to.be.lessThan(h.probe.ended.indexOf('slow'));
    });
  });

  describe('retries', () => {
    it('retries with retry_delay and succeeds on the third try', async () => {
      const dag = h.dag(`
dag: retry
default_args: { retries: 3, retry_delay: 5m }
tasks:
  flaky: { operator: Fail, times: 2 }
  after: { operator: Succeed, upstream: [flaky] }
`);
      const { runId, state } = await h.run(dag);
      expect(state).to.equal('success');
      const tries = await h.store.tasks.tries(runId, 'flaky');
      expect(tries.map((t) => t.state)).to.deep.equal(['failed', 'failed', 'success']);
      expect(tries[0]!.error).to.equal('boom (try 1)');
      expect(tries[0]!.stack).to.contain('boom (try 1)');
      expect((h.clock as FakeClock).sleeps).to.deep.equal([300_000, 300_000]);
      // The second try started five minutes of (fake) time after the first ended.
      expect(tries[1]!.startedAt.getTime() - tries[0]!.endedAt!.getTime()).to.equal(300_000);
      const states = h.events.filter((e) => e.type === 'task' && e.taskId === 'flaky').map((e) => (e as { state: string }).state);
      expect(states).to.include('up_for_retry');
    });

    it('gives up after retries + 1 tries and fails the downstream tasks', async () => {
      const dag = h.dag(`
dag: retry
default_args: { retries: 2, retry_delay: 10s }
tasks:
  broken: { operator: Fail }
  after: { operator: Succeed, upstream: [broken] }
`);
      const { runId, state } = await h.run(dag);
      expect(state).to.equal('failed');
      expect(await h.store.tasks.tries(runId, 'broken')).to.have.length(3);
      expect(await states(h, runId)).to.deep.equal({ broken: 'failed', after: 'upstream_failed' });
    });

    it('doubles the delay with retry_exponential_backoff, capped by max_retry_delay', async () => {
      const dag = h.dag(`
dag: backoff
tasks:
  broken:
    operator: Fail
    retries: 4
    retry_delay: 1m
    retry_exponential_backoff: true
    max_retry_delay: 5m
`);
      await h.run(dag);
      expect((h.clock as FakeClock).sleeps).to.deep.equal([60_000, 120_000, 240_000, 300_000]);
      const spec = dag.tasks.get('broken')!;
      expect([1, 2, 3, 4, 5].map((n) => retryDelayMs(spec, n))).to.deep.equal([60_000, 120_000, 240_000, 300_000, 300_000]);
    });

    it('runs other tasks while one waits for its retry', async () => {
      const dag = h.dag(`
dag: overlap
tasks:
  flaky: { operator: Fail, times: 1, retries: 1, retry_delay: 1h }
  other: { operator: Succeed }
`);
      const { state } = await h.run(dag);
      expect(state).to.equal('success');
      expect(h.probe.started).to.deep.equal(['flaky', 'other', 'flaky']);
    });
  });

  describe('timeouts and cancellation', () => {
    it('aborts a try through its AbortSignal when execution_timeout passes, and retries it', async () => {
      const dag = h.dag(`
dag: timeout
tasks:
  slow: { operator: Sleep, ms: 60000, execution_timeout: 50ms, retries: 1, retry_delay: 0s }
`);
      const { runId, state } = await h.run(dag);
      expect(state).to.equal('failed');
      const tries = await h.store.tasks.tries(runId, 'slow');
      expect(tries.map((t) => t.state)).to.deep.equal(['failed', 'failed']);
      expect(tries[0]!.error).to.equal('execution_timeout of 50ms exceeded');
    });

    it('fails a try on timeout even when the operator ignores its signal', async () => {
      const dag = h.dag(`
dag: stubborn
tasks:
  slow: { operator: Sleep, ms: 400, ignore_signal: true, execution_timeout: 20ms }
`);
      const { runId, state } = await h.run(dag);
      expect(state).to.equal('failed');
      expect((await h.store.tasks.tries(runId, 'slow'))[0]!.error).to.match(/execution_timeout of 20ms exceeded/);
    });

    it('an abort signal stops the run: running tries failed with the reason, nothing left running', async () => {
      const dag = h.dag(`
dag: stop
tasks:
  long: { operator: Sleep, retries: 3 }
  long2: { operator: Sleep }
  later: { operator: Succeed, upstream: [long] }
`);
      const ac = new AbortController();
      const p = h.run(dag, { signal: ac.signal });
      while (h.probe.active < 2) await new Promise((r) => setTimeout(r, 5));
      ac.abort(new Error('SIGINT received'));
      const { runId, state } = await p;
      expect(state).to.equal('failed');
      const run = (await h.store.runs.get(runId))!;
      expect(run.note).to.equal('interrupted: SIGINT received');
      const tries = await h.store.tasks.tries(runId);
      expect(tries).to.have.length(2);
      for (const t of tries) {
        expect(t.state).to.equal('failed');
        expect(t.error).to.equal('interrupted: SIGINT received');
      }
      // Not retried although retries remain; the unstarted task has no state.
      expect(await states(h, runId)).to.deep.equal({ long: 'failed', long2: 'failed', later: null });
    });
  });

  describe('templating', () => {
    it('renders templated fields with the run context and conf', async () => {
      const dag = h.dag(`
dag: tpl
params: { table: songs, limit: 5 }
tasks:
  echo:
    operator: Echo
    message: "{{ dag_id }} {{ ds }} {{ ds_nodash }} {{ ts }} {{ params.table }} {{ params.limit }} {{ data_interval_end | date: '%Y-%m-%d' }}"
`);
      const { runId } = await h.run(dag, { conf: { limit: 10 } });
      const t = (await h.store.tasks.tries(runId, 'echo'))[0]!;
      expect(await h.store.tasks.outputs(t.tryId)).to.deep.equal({
        message: 'tpl 2024-01-01 20240101 2024-01-01T00:00:00Z songs 10 2024-01-02',
      });
    });

    it("renders {{ dialect }} for the task's own connection, by default the warehouse", async () => {
      const hc = harness({
        connections: createConnectionResolver(
          { warehouse: 'pglite://memory', rs: 'redshift://etl@cluster.example:5439/dwh?password_env=X' },
          { home: h.dir },
        ),
      });
      try {
        const dag = hc.dag(`
dag: dialects
tasks:
  default: { operator: Echo, message: "{{ dialect }}" }
  on_redshift: { operator: Echo, message: "{{ dialect }}", connection: rs }
`);
        const { runId } = await hc.run(dag);
        const out = async (task: string) => hc.store.tasks.outputs((await hc.store.tasks.tries(runId, task))[0]!.tryId);
        expect(await out('default')).to.deep.equal({ message: 'postgres' });
        expect(await out('on_redshift')).to.deep.equal({ message: 'redshift' });
      } finally {
        hc.close();
      }
    });

    it('an unknown variable fails the try naming the task and field', async () => {
      // (unknown names are caught when the DAG loads; a required param left unset still reaches rendering)
      const dag = h.dag(`
dag: tpl
params: { nope: { type: string } }
tasks:
  echo: { operator: Echo, message: "{{ params.nope }}" }
`);
      const { runId, state } = await h.run(dag);
      expect(state).to.equal('failed');
      expect((await h.store.tasks.tries(runId, 'echo'))[0]!.error).to.match(
        /^task echo, field message: template error: undefined variable: params\.nope/,
      );
    });
  });

  it('stores log lines per try with their context, redacted', async () => {
    const dag = h.dag(`
dag: logs
tasks:
  echo: { operator: Echo, message: hi, secret_url: "postgres://me:s3cret@db:5432/x?password=s3cret" }
  bad: { operator: Fail, message: "cannot connect to postgres://me:s3cret@db/x" }
`);
    const { runId } = await h.run(dag);
    const echoTry = (await h.store.tasks.tries(runId, 'echo'))[0]!;
    const lines = await h.store.logs.list(echoTry.tryId);
    const echoLine = lines.find((l) => l.msg.startsWith('echo'))!;
    expect(echoLine.msg).to.equal('echo postgres://me:***@db:5432/x?password=***');
    expect(echoLine.data).to.deep.equal({ message: 'hi', password: '***' });
    const badTry = (await h.store.tasks.tries(runId, 'bad'))[0]!;
    expect(badTry.error).to.equal('cannot connect to postgres://me:***@db/x (try 1)');
    expect(badTry.stack).to.not.contain('s3cret');
    // What the state DB file holds, read as any SQLite client would.
    const raw = new Database(path.join(h.dir, 'state.db'), { readonly: true });
    const all = raw.prepare('SELECT msg, data FROM log_lines').all() as { msg: string; data: string | null }[];
    raw.close();
    expect(JSON.stringify(all)).to.not.contain('s3cret').and.not.contain('hunter2');
    expect(lines.map((l) => l.msg)).to.include('try started');
  });
});
