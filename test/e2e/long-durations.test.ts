import { expect } from 'chai';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Project } from '../helpers/cli.js';

/** Durations longer than a Node timer can hold (2^31 - 1 ms, about 24.8 days). */
describe('long durations (spawned processes)', function () {
  this.timeout(120_000);
  let p: Project;
  beforeEach(() => {
    p = new Project();
  });
  afterEach(() => p.remove());

  it('execution_timeout: 30d lets a 300 ms try succeed (it used to fail after a few ms)', () => {
    p.write(
      'dags/long.yaml',
      `dag: long
tasks:
  work: { operator: Sleep, ms: 300, execution_timeout: 30d }
`,
    );
    const r = p.run(['run-dag', 'long', '--date', '2024-01-01']);
    expect(r.stdout + r.stderr).to.not.contain('execution_timeout');
    expect(r.stderr).to.not.contain('TimeoutOverflowWarning');
    expect(r.code, r.stdout + r.stderr).to.equal(0);
  });

  it('retry_delay: 30d waits quietly for the retry (no busy loop, no TimeoutOverflowWarning)', async () => {
    p.write(
      'dags/wait.yaml',
      `dag: wait
tasks:
  flaky: { operator: Fail, times: 1, retries: 1, retry_delay: 30d }
`,
    );
    const d = p.start(['run-dag', 'wait', '--date', '2024-01-01']);
    // Wait until the first try failed and the retry is scheduled 30 days out.
    const db = path.join(p.dir, '.sluice', 'state.db');
    for (;;) {
      await new Promise((r) => setTimeout(r, 50));
      let state: unknown;
      try {
        const s = new Database(db, { readonly: true });
        state = (s.prepare("SELECT state FROM task_instances WHERE task_id = 'flaky'").get() as { state?: string } | undefined)
          ?.state;
        s.close();
      } catch {
        continue; // not created yet
      }
      if (state === 'up_for_retry') break;
    }
    // Give a busy loop the chance to show itself, then stop the process.
    await new Promise((r) => setTimeout(r, 1000));
    d.kill('SIGINT');
    await d.done;
    const out = d.output();
    expect(out.stderr).to.not.contain('TimeoutOverflowWarning');
    const s = new Database(db, { readonly: true });
    expect(s.prepare("SELECT count(*) n FROM task_tries WHERE task_id = 'flaky'").get()).to.deep.equal({ n: 1 });
    s.close();
  });

  it('dags validate rejects a duration no date can hold, naming file:line and the field', () => {
    p.write(
      'dags/absurd.yaml',
      `dag: absurd
default_args:
  retry_delay: 5m
tasks:
  work:
    operator: Succeed
    execution_timeout: 99999999999d
`,
    );
    const r = p.run(['dags', 'validate']);
    expect(r.code).to.equal(2);
    const out = r.stdout + r.stderr;
    expect(out).to.match(/absurd\.yaml:7:\d+: tasks\.work\.execution_timeout: .*99999999999d.*longer than/);
  });
});
