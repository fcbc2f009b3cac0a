import { expect } from 'chai';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Project } from '../helpers/cli.js';

const yesterday = new Date(Date.now() - 2 * 86_400_000).toISOString().slice(0, 10);

function dagFile(sleep: string): string {
  return `
dag: nightly
schedule: "@daily"
start_date: ${yesterday}
catchup: false
tasks:
  first: { operator: Succeed }
  work: { operator: Sleep, upstream: [first], marker: started.txt, retries: 2, retry_delay: 0s, ${sleep} }
  after: { operator: Succeed, upstream: [work] }
`;
}

function config(grace: string): string {
  return `parallelism: 4\nscheduler:\n  grace_period: ${grace}\n`;
}

function db(p: Project): Database.Database {
  return new Database(path.join(p.dir, '.sluice', 'state.db'), { readonly: true });
}

describe('scheduler daemon (spawned processes)', function () {
  this.timeout(120_000);
  let p: Project;
  beforeEach(() => {
    p = new Project();
  });
  afterEach(() => p.remove());

  it('SIGTERM lets running tries finish within the grace period, releases the lock and exits 0', async () => {
    p.write('dags/nightly.yaml', dagFile('ms: 1500'));
    p.write('cfg.yaml', config('30s'));
    const d = p.start(['--config', 'cfg.yaml', 'scheduler']);
    await p.waitForFile('started.txt');
    d.kill('SIGTERM');
    expect(await d.done).to.equal(0);
    const out = d.output().stderr + d.output().stdout;
    expect(out).to.contain('stopping: running tries may finish within the grace period');
    const s = db(p);
    expect(s.prepare("SELECT state, try_number FROM task_instances WHERE task_id = 'work'").get()).to.deep.equal({
      state: 'success',
      try_number: 1,
    });
    // Drained: the run is queued, its last task not started; the lock is gone.
    expect(s.prepare('SELECT state FROM dag_runs').get()).to.deep.equal({ state: 'queued' });
    expect(s.prepare("SELECT state FROM task_instances WHERE task_id = 'after'").get()).to.deep.equal({ state: null });
    expect(s.prepare('SELECT count(*) n FROM scheduler_lock').get()).to.deep.equal({ n: 0 });
    s.close();
    // The next scheduler resumes the run where it stopped.
    const again = p.run(['--config', 'cfg.yaml', 'scheduler', '--once']);
    expect(again.code).to.equal(0);
    const s2 = db(p);
    expect(s2.prepare('SELECT state FROM dag_runs').get()).to.deep.equal({ state: 'success' });
    expect(s2.prepare("SELECT count(*) n FROM task_tries WHERE task_id = 'work'").get()).to.deep.equal({ n: 1 });
    s2.close();
  });

  it('after the grace period, running tries are aborted, recorded, and retried by the next scheduler', async () => {
    p.write('dags/nightly.yaml', dagFile('ms: 60000, ms_after_first: 10'));
    p.write('cfg.yaml', config('300ms'));
    const d = p.start(['--config', 'cfg.yaml', 'scheduler']);
    await p.waitForFile('started.txt');
    d.kill('SIGTERM');
    expect(await d.done).to.equal(0);
    const s = db(p);
    expect(s.prepare("SELECT state, error FROM task_tries WHERE task_id = 'work'").all()).to.deep.equal([
      { state: 'failed', error: 'interrupted: scheduler stopped (SIGTERM received)' },
    ]);
    expect(s.prepare("SELECT state FROM task_instances WHERE task_id = 'work'").get()).to.deep.equal({ state: 'up_for_retry' });
    expect(
      s.prepare("SELECT count(*) n FROM task_instances WHERE state IN ('running', 'queued', 'scheduled')").get(),
    ).to.deep.equal({ n: 0 });
    s.close();
    expect(p.run(['--config', 'cfg.yaml', 'scheduler', '--once']).code).to.equal(0);
    const s2 = db(p);
    expect(s2.prepare("SELECT try_number, state FROM task_tries WHERE task_id = 'work' ORDER BY try_number").all()).to.deep.equal(
      [
        { try_number: 1, state: 'failed' },
        { try_number: 2, state: 'success' },
      ],
    );
    expect(s2.prepare('SELECT state FROM dag_runs').get()).to.deep.equal({ state: 'success' });
    s2.close();
  });

  it('one scheduler per state DB; kill -9 mid-try: the lock dies with it and the next scheduler retries the try', async () => {
    p.write('dags/nightly.yaml', dagFile('ms: 60000, ms_after_first: 10'));
    const d = p.start(['scheduler']);
    await p.waitForFile('started.txt');
    const second = p.run(['scheduler', '--once']);
    expect(second.code).to.equal(2);
    expect(second.stderr).to.match(/another scheduler is running on this state DB: pid \d+/);
    d.kill('SIGKILL');
    await d.done;
    const r = p.run(['scheduler', '--once']);
    expect(r.code).to.equal(0);
    expect(r.stderr).to.match(
      /task work try 1 was left running by process \d+, which died; marked failed \(it will be retried\)/,
    );
    const s = db(p);
    expect(
      s
        .prepare("SELECT try_number, state, substr(error, 1, 12) e FROM task_tries WHERE task_id = 'work' ORDER BY try_number")
        .all(),
    ).to.deep.equal([
      { try_number: 1, state: 'failed', e: 'process died' },
      { try_number: 2, state: 'success', e: null },
    ]);
    expect(s.prepare('SELECT state FROM dag_runs').all()).to.deep.equal([{ state: 'success' }]);
    s.close();
  });

  it('two run-dag triggers for the same date at once create one run', async () => {
    p.write('dags/nightly.yaml', dagFile('ms: 300'));
    const a = p.start(['run-dag', 'nightly', '--date', '2024-02-01']);
    const b = p.start(['run-dag', 'nightly', '--date', '2024-02-01']);
    const codes = [await a.done, await b.done].sort();
    expect(codes).to.deep.equal([0, 2]);
    const refused = [a.output(), b.output()].find((o) =>
      /already has a run|another process created|being executed/.test(o.stderr),
    );
    expect(refused, 'one trigger is refused with a message').to.not.equal(undefined);
    const s = db(p);
    expect(s.prepare('SELECT count(*) n FROM dag_runs').get()).to.deep.equal({ n: 1 });
    expect(s.prepare("SELECT count(*) n FROM task_tries WHERE task_id = 'work'").get()).to.deep.equal({ n: 1 });
    s.close();
  });
});
