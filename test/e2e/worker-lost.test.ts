/**
 * Leases on PostgreSQL: a scheduler playing host A is killed (kill -9) while
 * a try runs; a scheduler playing host B (SLUICE_HOSTNAME) finds the try's
 * lease ended, fails it as "worker lost", takes over A's run, and
 * retries the task. Asserted by the recorded states only.
 */
import { expect } from 'chai';
import pg from 'pg';
import { Project } from '../helpers/cli.js';
import { untilRow, usePostgres } from '../helpers/postgres.js';

const DAG = `
dag: w
schedule: "@daily"
start_date: 2024-01-01
end_date: 2024-01-01
catchup: true
tasks:
  work:
    operator: Shell
    retries: 1
    retry_delay: 0s
    command: 'if [ "$SLUICE_TRY_NUMBER" = 1 ]; then sleep 20; fi; echo done'
`;

describe('e2e: worker lost (leases on the PostgreSQL state)', function () {
  this.timeout(180_000);
  const server = usePostgres('lease');
  let p: Project;
  let db: pg.Client;
  before(async () => {
    const url = await server.newDatabase('leases');
    p = new Project({ SLUICE_STATE: url });
    p.write('dags/w.yaml', DAG);
    p.write('lease.yaml', 'scheduler:\n  lease_timeout: 2s\n');
    db = new pg.Client({ connectionString: url, options: '-c search_path=sluice' });
    db.on('error', () => undefined); // the database is dropped (its sessions ended) by usePostgres's own after hook
    await db.connect();
  });
  after(async () => {
    await db.end().catch(() => undefined);
    p.remove();
  });

  it('kill -9 mid-try: the try is failed as worker lost once its lease ends, and retried by another host', async () => {
    const a = p.start(['-c', 'lease.yaml', 'scheduler'], { env: { SLUICE_HOSTNAME: 'host-a' } });
    await untilRow(db, 'try 1 running on host-a', `SELECT 1 FROM task_tries WHERE try_number = 1 AND state = 'running'`);
    a.kill('SIGKILL');
    await a.done;
    // Host B starts once the leases of A's try and run ended (nothing renews them any more).
    await untilRow(
      db,
      "host-a's leases ended",
      `SELECT 1 FROM task_tries t, dag_runs r WHERE t.lease_until < now() AND r.lease_until < now() AND r.host = 'host-a'`,
    );
    const b = p.run(['-c', 'lease.yaml', 'scheduler', '--once'], { env: { SLUICE_HOSTNAME: 'host-b' } });
    expect(b.code, b.stderr).to.equal(0);
    expect(b.stderr).to.match(/worker lost: try 1 of work/);

    const tries = (
      await db.query(
        `SELECT try_number, state, host, error, started_at, ended_at FROM task_tries WHERE task_id = 'work' ORDER BY try_id`,
      )
    ).rows as { try_number: number; state: string; host: string; error: string | null; started_at: Date; ended_at: Date }[];
    expect(tries.map((t) => [t.try_number, t.state, t.host])).to.deep.equal([
      [1, 'failed', 'host-a'],
      [2, 'success', 'host-b'],
    ]);
    const leaseEnd = new Date(/it ended at (\S+)\)/.exec(tries[0]!.error!)![1]!);
    expect(tries[0]!.error).to.match(/^worker lost: pid \d+ on host-a stopped renewing this try's lease/);
    expect(tries[0]!.ended_at.getTime()).to.be.at.least(leaseEnd.getTime()); // never failed while its lease held
    expect(tries[1]!.started_at.getTime()).to.be.at.least(tries[0]!.ended_at.getTime());
    const runs = (await db.query(`SELECT state, host FROM dag_runs`)).rows;
    expect(runs).to.deep.equal([{ state: 'success', host: 'host-b' }]);
  });
});
