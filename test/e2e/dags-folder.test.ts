import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Project } from '../helpers/cli.js';

const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000).toISOString().slice(0, 10);

function daily(id: string): string {
  return `dag: ${id}
schedule: "@daily"
start_date: ${twoDaysAgo}
catchup: false
tasks:
  only: { operator: Succeed }
`;
}

/** A DAG folder that is missing, for good or for a moment. */
describe('missing DAG folder (spawned processes)', function () {
  this.timeout(120_000);
  let p: Project;
  beforeEach(() => {
    p = new Project();
  });
  afterEach(() => p.remove());

  for (const args of [
    ['dags', 'list'],
    ['run-dag', 'nightly'],
  ]) {
    it(`${args.join(' ')} on a missing DAG folder names the folder and the fix, exit 2`, () => {
      const r = p.run(['--dags-dir', 'nowhere', ...args]);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.not.match(/ENOENT|scandir/);
      expect(r.stderr).to.contain(`DAG folder ${path.join(p.dir, 'nowhere')} does not exist`);
      expect(r.stderr).to.contain('dags_dir');
      expect(r.stderr).to.contain('--dags-dir');
    });
  }

  it('the scheduler survives its DAG folder disappearing and picks up the folder swapped in', async () => {
    p.write('dags/first.yaml', daily('first'));
    const d = p.start(['scheduler']);
    const out = () => d.output().stdout + d.output().stderr;
    const waitFor = async (re: RegExp) => {
      while (!re.test(out())) {
        if (d.exitCode !== null) throw new Error(`scheduler exited ${d.exitCode}:\n${out()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await waitFor(/DAG loaded.*first|first.*DAG loaded/);
    // A deploy swaps the folder: the old one goes away, the new one arrives a moment later.
    fs.renameSync(path.join(p.dir, 'dags'), path.join(p.dir, 'dags.old'));
    await waitFor(/DAG folder .* does not exist/);
    p.write('dags.new/second.yaml', daily('second'));
    fs.renameSync(path.join(p.dir, 'dags.new'), path.join(p.dir, 'dags'));
    await waitFor(/DAG loaded.*second|second.*DAG loaded/);
    // The new folder's DAG is scheduled: its latest interval gets a run.
    const db = path.join(p.dir, '.sluice', 'state.db');
    for (;;) {
      const s = new Database(db, { readonly: true });
      const n = (
        s.prepare("SELECT count(*) n FROM dag_runs WHERE dag_id = 'second' AND state = 'success'").get() as { n: number }
      ).n;
      s.close();
      if (n === 1) break;
      if (d.exitCode !== null) throw new Error(`scheduler exited ${d.exitCode}:\n${out()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(d.exitCode, out()).to.equal(null);
    d.kill('SIGTERM');
    expect(await d.done).to.equal(0);
    expect(out()).to.contain('DAG removed');
  });
});
