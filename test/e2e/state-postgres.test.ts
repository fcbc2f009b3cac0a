/**
 * The state on a PostgreSQL server (SLUICE_STATE) through the real CLI: runs,
 * tries and logs recorded there and read back by the reading verbs, the same
 * refusals as with the SQLite state, and no state.db written.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { Project } from '../helpers/cli.js';
import { usePostgres } from '../helpers/postgres.js';

describe('e2e: the state on PostgreSQL (SLUICE_STATE)', function () {
  this.timeout(180_000);
  const server = usePostgres('state');
  let p: Project;
  let state: string;
  before(async () => {
    state = await server.newDatabase('sluice_state');
    p = new Project({ SLUICE_STATE: state });
    p.write(
      'dags/d.yaml',
      'dag: d\nschedule: "@daily"\nstart_date: 2024-01-01\ntasks:\n  a: { operator: Empty }\n  b: { operator: Empty, upstream: [a] }\n',
    );
  });

  it('run-dag records the run there; runs list, tasks list and logs read it back; no state.db is written', () => {
    const run = p.run(['d', '--date', '2024-01-01'], { bin: 'run-dag' });
    expect(run.code, run.stderr).to.equal(0);
    const runs = JSON.parse(p.run(['runs', 'list', '--json']).stdout) as { run_id: string; state: string; conf: unknown }[];
    expect(runs.map((r) => [r.run_id, r.state, r.conf])).to.deep.equal([['d__manual__2024-01-01T00:00:00Z', 'success', {}]]);
    const tasks = JSON.parse(p.run(['tasks', 'list', 'd__manual__2024-01-01T00:00:00Z', '--json']).stdout) as {
      task_instances: { task_id: string; state: string; try_number: number }[];
    };
    expect(tasks.task_instances.map((t) => [t.task_id, t.state, t.try_number])).to.deep.equal([
      ['a', 'success', 1],
      ['b', 'success', 1],
    ]);
    const logs = p.run(['logs', 'd__manual__2024-01-01T00:00:00Z', 'b']);
    expect(logs.code, logs.stderr).to.equal(0);
    expect(logs.stdout).to.match(/try started/);
    expect(fs.existsSync(path.join(p.dir, '.sluice', 'state.db'))).to.equal(false);
  });

  it('refuses a second run of the same date as with SQLite, and reruns it with --rerun', () => {
    const again = p.run(['d', '--date', '2024-01-01'], { bin: 'run-dag' });
    expect(again.code).to.equal(2);
    expect(again.stderr).to.include(
      'DAG d already has a run for 2024-01-01T00:00:00Z: d__manual__2024-01-01T00:00:00Z (success)',
    );
    const rerun = p.run(['d', '--date', '2024-01-01', '--rerun'], { bin: 'run-dag' });
    expect(rerun.code, rerun.stderr).to.equal(0);
    const tasks = JSON.parse(p.run(['tasks', 'list', 'd__manual__2024-01-01T00:00:00Z', '--json']).stdout) as {
      tries: { task_id: string; try_number: number }[];
    };
    expect(tasks.tries.filter((t) => t.task_id === 'a').map((t) => t.try_number)).to.deep.equal([1, 2]);
  });

  it('the scheduler creates and runs the due runs there, holding its lock on the server', () => {
    p.write(
      'dags/c.yaml',
      'dag: c\nschedule: "@daily"\nstart_date: 2024-01-01\nend_date: 2024-01-03\ncatchup: true\ntasks:\n  a: { operator: Empty }\n',
    );
    const s = p.run(['scheduler', '--once']);
    expect(s.code, s.stderr).to.equal(0);
    const runs = JSON.parse(p.run(['runs', 'list', '--dag', 'c', '--json']).stdout) as { run_id: string; state: string }[];
    expect(runs.map((r) => [r.run_id, r.state])).to.deep.equal([
      ['c__scheduled__2024-01-03T00:00:00Z', 'success'],
      ['c__scheduled__2024-01-02T00:00:00Z', 'success'],
      ['c__scheduled__2024-01-01T00:00:00Z', 'success'],
    ]);
  });

  it('a SLUICE_STATE that is not a postgres:// URL is a configuration error naming it', () => {
    const r = p.run(['runs', 'list'], { env: { SLUICE_STATE: 'state.db' } });
    expect(r.code).to.equal(2);
    expect(r.stderr).to.include('SLUICE_STATE must be a postgres:// URL');
  });
});
