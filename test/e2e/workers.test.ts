/**
 * Workers on the PostgreSQL state: a scheduler in workers mode queues the
 * tasks of a 20-task run, and two `sluice worker` processes playing two hosts
 * (SLUICE_HOSTNAME) claim and run them. Every task runs exactly once (a side
 * file records each run), the tasks spread across both workers, a task on
 * its own queue runs on the worker that serves it, and the run succeeds.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import pg from 'pg';
import { Project } from '../helpers/cli.js';
import { untilRow, usePostgres } from '../helpers/postgres.js';

const MIDDLE = Array.from({ length: 18 }, (_, i) => `t${String(i + 1).padStart(2, '0')}`);

const DAG = `
dag: spread
schedule: "@daily"
start_date: 2024-01-01
end_date: 2024-01-01
catchup: true
default_args:
  retries: 0
tasks:
  t00:
    operator: Shell
    command: 'echo "$SLUICE_TASK_ID" >> ran.txt'
${MIDDLE.map(
  (id) => `  ${id}:
    operator: Shell
    upstream: t00
${id === 't18' ? '    queue: heavy\n' : ''}    command: 'sleep 0.3; echo "$SLUICE_TASK_ID" >> ran.txt'`,
).join('\n')}
  t19:
    operator: Shell
    upstream: [${MIDDLE.join(', ')}]
    command: 'echo "$SLUICE_TASK_ID" >> ran.txt'
`;

describe('e2e: sluice worker (a scheduler in workers mode and two workers on the PostgreSQL state)', function () {
  this.timeout(180_000);
  const server = usePostgres('workers');
  let p: Project;
  let db: pg.Client;
  before(async () => {
    const url = await server.newDatabase('workers');
    p = new Project({ SLUICE_STATE: url });
    p.write('dags/spread.yaml', DAG);
    db = new pg.Client({ connectionString: url, options: '-c search_path=sluice' });
    db.on('error', () => undefined); // the database is dropped (its sessions ended) by usePostgres's own after hook
    await db.connect();
  });
  after(async () => {
    await db.end().catch(() => undefined);
    p.remove();
  });

  it('runs each task of a run once, spread across both workers, on their queues; the run succeeds', async () => {
    // The state is created before the three processes start together.
    expect(p.run(['dags', 'list']).code).to.equal(0);
    const a = p.start(['worker', '--concurrency', '4'], { env: { SLUICE_HOSTNAME: 'host-a' } });
    const b = p.start(['worker', '--queue', 'default', 'heavy', '--concurrency', '4'], { env: { SLUICE_HOSTNAME: 'host-b' } });
    const s = p.start(['scheduler', '--workers'], { env: { SLUICE_HOSTNAME: 'host-s' } });
    const procs = [a, b, s];
    try {
      await untilRow(db, 'the run to end', `SELECT 1 FROM dag_runs WHERE state IN ('success', 'failed')`);
      const workers = p.run(['workers', 'list', '--json']);
      expect(workers.code, workers.stderr).to.equal(0);
      const listed = JSON.parse(workers.stdout) as { host: string; queues: string[]; concurrency: number }[];
      expect(listed.map((w) => [w.host, w.queues, w.concurrency]).sort()).to.deep.equal([
        ['host-a', ['default'], 4],
        ['host-b', ['default', 'heavy'], 4],
      ]);
    } finally {
      for (const c of procs) c.kill('SIGTERM');
      await Promise.all(procs.map((c) => c.done));
    }
    for (const c of procs) expect(c.exitCode, c.output().stderr).to.equal(0);
    expect(s.output().stderr).to.include('"executor":"workers"');

    const run = JSON.parse(p.run(['runs', 'list', '--json']).stdout) as { run_id: string; state: string }[];
    expect(run.map((r) => r.state)).to.deep.equal(['success']);
    const listed = p.run(['tasks', 'list', run[0]!.run_id, '--json']);
    expect(listed.code, listed.stderr).to.equal(0);
    const { task_instances: tis, tries } = JSON.parse(listed.stdout) as {
      task_instances: { task_id: string; state: string }[];
      tries: { task_id: string; try_number: number; state: string; host: string; pid: number }[];
    };
    const ids = ['t00', ...MIDDLE, 't19'];
    expect(tis.map((t) => [t.task_id, t.state])).to.deep.equal(ids.map((id) => [id, 'success']));
    // One try per task, each by a worker (never by the scheduler), both workers busy.
    expect(tries.map((t) => t.task_id).sort()).to.deep.equal(ids);
    expect(tries.every((t) => t.try_number === 1 && t.state === 'success')).to.equal(true);
    const hosts = new Set(tries.map((t) => t.host));
    expect([...hosts].sort()).to.deep.equal(['host-a', 'host-b']);
    expect(new Set(tries.map((t) => t.pid))).to.have.lengthOf(2);
    expect(tries.find((t) => t.task_id === 't18')!.host).to.equal('host-b'); // the only worker on queue heavy
    for (const h of hosts) expect(tries.filter((t) => t.host === h).length).to.be.at.least(3);
    // The table shows where each try ran.
    const table = p.run(['tasks', 'list', run[0]!.run_id]).stdout;
    expect(table).to.match(/^t18\s+Shell\s+success\s+1\/1\s.*\shost-b:\d+/m);
    // Each task ran exactly once.
    const ran = fs.readFileSync(path.join(p.dir, 'ran.txt'), 'utf8').trim().split('\n').sort();
    expect(ran).to.deep.equal(ids);
    // Logs written by the workers are in the shared state, readable from here.
    const logs = p.run(['logs', run[0]!.run_id, 't05']);
    expect(logs.code, logs.stderr).to.equal(0);
    expect(logs.stdout).to.include('try started');
  });
});
