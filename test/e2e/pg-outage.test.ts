/**
 * A PostgreSQL outage in the middle of a task: the server
 * is stopped while a try is running a query, through the real CLI. The lost
 * connection is a task failure like any other: the try is recorded failed
 * with "connection lost", retried under the task's retry policy, and the
 * process ends normally with its summary. When the server is back before the
 * retry, the retry gets a fresh connection and the run succeeds.
 */
import { expect } from 'chai';
import pg from 'pg';
import { Project } from '../helpers/cli.js';
import { createDatabase, startRestartablePostgres, type RestartablePgServer } from '../helpers/postgres.js';

interface TryJson {
  task_id: string;
  try_number: number;
  state: string;
  error: string | null;
}

/** Waits until the server shows a session running `pg_sleep` (the try is mid-query). */
async function waitForSleepingQuery(adminUrl: string, child: { exitCode: number | null }): Promise<void> {
  for (;;) {
    if (child.exitCode !== null) throw new Error('run-dag ended before its query started');
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    try {
      const r = await c.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'SELECT pg_sleep%'`,
      );
      if ((r.rows[0] as { n: number }).n > 0) return;
    } finally {
      await c.end();
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

const DAG = `dag: outage
start_date: 2024-01-01
schedule: "@daily"
tasks:
  slow:
    operator: Sql
    sql: SELECT pg_sleep(2)
    retries: 1
    retry_delay: 3s
  after:
    operator: Sql
    sql: SELECT 1
    upstream: [slow]
`;

describe('e2e: a PostgreSQL outage mid-task', function () {
  let server: RestartablePgServer | null = null;
  let url = '';

  before(async function () {
    this.timeout(120_000);
    server = await startRestartablePostgres();
    if (!server) {
      if (process.env.SLUICE_SKIP_PG === '1') this.skip();
      throw new Error('PostgreSQL server binaries not found: install postgresql or set SLUICE_SKIP_PG=1');
    }
    url = await createDatabase(server.adminUrl, 'outage');
  });
  after(() => server?.stop());

  for (const mode of ['immediate', 'fast'] as const) {
    it(`pg_ctl stop -m ${mode} during a query: the try fails "connection lost", is retried, and the run succeeds`, async function () {
      const p = new Project({ SLUICE_CONN_WAREHOUSE: url });
      try {
        p.write('dags/outage.yaml', DAG);
        const child = p.start(['run-dag', 'outage', '--date', '2024-01-01']);
        await waitForSleepingQuery(server!.adminUrl, child);
        server!.halt(mode);
        server!.resume();
        const code = await child.done;
        const out = child.output();
        expect(out.stderr).to.not.match(/Unhandled 'error' event|ECONNRESET\n\s+at /);
        expect(code, out.stdout + out.stderr).to.equal(0);
        // the summary is printed, and the run succeeded on its second try
        expect(out.stdout).to.match(/run outage__manual__2024-01-01T00:00:00Z success/);
        // the up_for_retry line says when the next try starts
        expect(out.stdout).to.match(
          /slow up_for_retry \(try 1\): .*connection to the server was lost.*; next: try 2 of 2 at \d\d:\d\d:\d\dZ \(in 3s\)/,
        );
        const log = p.run(['logs', 'outage__manual__2024-01-01T00:00:00Z', 'slow', '--try', '1']);
        expect(log.stdout).to.match(/try failed; up_for_retry: try 2 of 2 at \d\d:\d\d:\d\dZ \(in 3s\)/);

        const list = p.run(['tasks', 'list', 'outage__manual__2024-01-01T00:00:00Z', '--json']);
        const { tries } = JSON.parse(list.stdout) as { tries: TryJson[] };
        const slow = tries.filter((t) => t.task_id === 'slow');
        expect(slow.map((t) => t.state)).to.deep.equal(['failed', 'success']);
        expect(slow[0]!.error).to.match(/connection to the server was lost/);
        expect(tries.find((t) => t.task_id === 'after')?.state).to.equal('success');
      } finally {
        p.remove();
      }
    });
  }

  it('the scheduler daemon survives the outage: the try is retried, the run succeeds, and the daemon keeps running', async function () {
    this.timeout(120_000);
    const p = new Project({ SLUICE_CONN_WAREHOUSE: url });
    // Daily from yesterday without catchup: one run is due as soon as the daemon starts.
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    p.write('dags/outage.yaml', DAG.replace('start_date: 2024-01-01', `start_date: ${yesterday}\ncatchup: false`));
    const daemon = p.start(['scheduler']);
    try {
      await waitForSleepingQuery(server!.adminUrl, daemon);
      server!.halt('immediate');
      server!.resume();
      let runs: { run_id: string; state: string }[] = [];
      for (const until = Date.now() + 90_000; Date.now() < until; await new Promise((r) => setTimeout(r, 250))) {
        const r = p.run(['runs', 'list', '--dag', 'outage', '--json']);
        runs = r.code === 0 ? (JSON.parse(r.stdout) as { run_id: string; state: string }[]) : [];
        if (runs.some((x) => x.state === 'success' || x.state === 'failed') || daemon.exitCode !== null) break;
      }
      expect(
        runs.map((x) => x.state),
        JSON.stringify(daemon.output()),
      ).to.deep.equal(['success']);
      // The daemon is still up: the outage ended one try, not the process.
      expect(daemon.exitCode).to.equal(null);
      const list = p.run(['tasks', 'list', runs[0]!.run_id, '--json']);
      const { tries } = JSON.parse(list.stdout) as { tries: TryJson[] };
      const slow = tries.filter((t) => t.task_id === 'slow');
      expect(slow.map((t) => t.state)).to.deep.equal(['failed', 'success']);
      expect(slow[0]!.error).to.match(/connection to the server was lost/);
      daemon.kill('SIGTERM');
      const code = await daemon.done;
      const out = daemon.output();
      expect(out.stderr + out.stdout).to.not.match(/Unhandled 'error' event/);
      expect(code, out.stdout + out.stderr).to.equal(0);
    } finally {
      if (daemon.exitCode === null) daemon.kill('SIGKILL');
      p.remove();
    }
  });
});
