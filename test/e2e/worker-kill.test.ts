/**
 * A worker killed mid-try, on the songplays DAG: a scheduler in workers mode
 * and two `sluice worker` processes playing two hosts share one PostgreSQL
 * state; the warehouse is another database on the same server. The worker
 * running the chosen task is killed (kill -9) while its try is writing (its
 * transaction open in the warehouse). The scheduler fails that try as
 * "worker lost" once its lease has ended, the other worker runs the retry,
 * the run succeeds, and the warehouse holds exactly what an uninterrupted
 * run of the same day wrote (the operators are idempotent on retry: no
 * duplicated or missing rows). Asserted by the recorded tries and a
 * fingerprint of every table.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import pg from 'pg';
import { Project, ROOT } from '../helpers/cli.js';
import { untilRow, usePostgres } from '../helpers/postgres.js';
import { generateSampleLake } from '../../sample/generate.js';

const TABLES = ['staging_events', 'staging_songs', 'songplays', 'users', 'songs', 'artists', 'time'];

/** scheduler.lease_timeout in this test, kept short so recovery is quick. */
const LEASE_MS = 3_000;

type Proc = ReturnType<Project['start']>;

interface TryRow {
  task_id: string;
  try_number: number;
  state: string;
  host: string;
  error: string | null;
  started_at: Date;
  ended_at: Date | null;
}

/** The songplays DAG, scheduled for exactly one day (2018-11-01), retried at once. */
function oneDayDag(): string {
  const src = fs.readFileSync(path.join(ROOT, 'dags', 'songplays.yaml'), 'utf8');
  const dag = src
    .replace(/^catchup: false$/m, 'catchup: true\nend_date: 2018-11-01')
    .replace(/^ {2}retry_delay: 5m$/m, '  retry_delay: 0s');
  if (!dag.includes('end_date: 2018-11-01') || !dag.includes('retry_delay: 0s')) {
    throw new Error('dags/songplays.yaml changed: this test can no longer schedule it for one day');
  }
  return dag;
}

/** Every table of the warehouse: its row count and an md5 over its rows in a stable order. */
async function fingerprint(url: string): Promise<Record<string, string>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const out: Record<string, string> = {};
    for (const t of TABLES) {
      const r = await c.query<{ n: string; h: string }>(
        `SELECT count(*) AS n, md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS h FROM "${t}" x`,
      );
      out[t] = `${r.rows[0]!.n}:${r.rows[0]!.h}`;
    }
    return out;
  } finally {
    await c.end();
  }
}

describe('e2e: a worker killed mid-try on the songplays DAG (PostgreSQL state and warehouse)', function () {
  this.timeout(240_000);
  const server = usePostgres('worker_kill');
  let p: Project;
  let lake: string;
  let reference: Record<string, string>;
  const clients: pg.Client[] = [];

  /** A client on the state's schema; dropped with its database by usePostgres's after hook. */
  async function stateClient(url: string): Promise<pg.Client> {
    const db = new pg.Client({ connectionString: url, options: '-c search_path=sluice' });
    db.on('error', () => undefined);
    await db.connect();
    clients.push(db);
    return db;
  }

  /** A client on a warehouse database. */
  async function warehouseClient(url: string): Promise<pg.Client> {
    const db = new pg.Client({ connectionString: url });
    db.on('error', () => undefined);
    await db.connect();
    clients.push(db);
    return db;
  }

  /** A fresh state and warehouse (new databases), the state created before the processes start together. */
  async function freshDatabases(label: string): Promise<{ env: NodeJS.ProcessEnv; state: pg.Client; warehouse: string }> {
    const stateUrl = await server.newDatabase(`${label}_state`);
    const warehouse = await server.newDatabase(`${label}_warehouse`);
    const env = { SLUICE_STATE: stateUrl, SLUICE_CONN_WAREHOUSE: warehouse, SLUICE_CONN_LAKE: lake };
    const init = p.run(['dags', 'list'], { env });
    expect(init.code, init.stderr).to.equal(0);
    return { env, state: await stateClient(stateUrl), warehouse };
  }

  function start(role: string[], host: string, env: NodeJS.ProcessEnv): Proc {
    return p.start(['-c', 'lease.yaml', ...role], { env: { ...env, SLUICE_HOSTNAME: host } });
  }

  /** SIGTERM to the processes still running; each must then end cleanly. */
  async function stop(procs: Proc[]): Promise<void> {
    for (const c of procs) if (c.exitCode === null) c.kill('SIGTERM');
    await Promise.all(procs.map((c) => c.done));
    for (const c of procs) expect(c.exitCode, c.output().stderr).to.equal(0);
  }

  before(async function () {
    this.timeout(240_000);
    p = new Project();
    lake = path.join(p.dir, 'lake');
    // Big enough that the staging and the loads take a moment each: 40k events in the day, 1,000 songs.
    await generateSampleLake({ out: lake, days: 1, eventsPerDay: 40_000, songs: 1000, seed: 23 });
    p.write('dags/songplays.yaml', oneDayDag());
    p.write('lease.yaml', `scheduler:\n  lease_timeout: ${LEASE_MS / 1000}s\n`);

    // The reference: the same day, uninterrupted, through a scheduler in workers mode and one worker.
    const { env, state, warehouse } = await freshDatabases('reference');
    const procs = [start(['worker'], 'host-a', env), start(['scheduler', '--workers'], 'host-s', env)];
    try {
      await untilRow(state, 'the reference run to end', `SELECT 1 FROM dag_runs WHERE state IN ('success', 'failed')`, { procs });
    } finally {
      await stop(procs);
    }
    const runs = (await state.query(`SELECT state FROM dag_runs`)).rows;
    expect(runs).to.deep.equal([{ state: 'success' }]);
    const tries = (await state.query(`SELECT DISTINCT try_number, host FROM task_tries`)).rows;
    expect(tries).to.deep.equal([{ try_number: 1, host: 'host-a' }]);
    reference = await fingerprint(warehouse);
    expect(reference.songplays).to.not.match(/^0:/);
    expect(reference.staging_events).to.match(/^40000:/);
  });

  after(async () => {
    for (const c of clients.splice(0)) await c.end().catch(() => undefined);
    p?.remove();
  });

  /**
   * Waits until `task`'s first try is running on a worker AND its write transaction is open in the warehouse (a
   * session holds ROW EXCLUSIVE on `table`: only that task writes it): the kill lands mid-write, not before it.
   */
  async function midWrite(state: pg.Client, warehouse: pg.Client, task: string, table: string, procs: Proc[]) {
    const end = Date.now() + 120_000;
    for (;;) {
      const tries = await state
        .query<{ host: string; state: string }>(`SELECT host, state FROM task_tries WHERE task_id = $1 AND try_number = 1`, [
          task,
        ])
        .catch(() => ({ rows: [] as { host: string; state: string }[] }));
      const t = tries.rows[0];
      if (t && t.state !== 'running') throw new Error(`${task} ended (${t.state}) before it was caught writing`);
      if (t) {
        const writing = await warehouse.query(
          `SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
            WHERE l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND c.relname = $1 AND l.mode = 'RowExclusiveLock' AND l.granted AND l.pid <> pg_backend_pid()`,
          [table],
        );
        if (writing.rows.length > 0) return t.host;
      }
      const gone = procs.find((c) => c.exitCode !== null);
      if (gone) throw new Error(`a process ended before ${task} was caught writing: ${gone.output().stderr}`);
      if (Date.now() > end) throw new Error(`timed out waiting for ${task} to write ${table}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  // The staging (StageToRedshift: DELETE and load in one transaction) and the fact load (LoadFact replace-interval).
  for (const [task, table] of [
    ['stage_events', 'staging_events'],
    ['load_songplays', 'songplays'],
  ] as const) {
    it(`kill -9 the worker writing ${table} (${task}): worker lost after its lease, retried on the other host, same warehouse`, async () => {
      const { env, state, warehouse } = await freshDatabases(`kill_${task}`);
      const wh = await warehouseClient(warehouse);
      const workers = new Map([
        ['host-a', start(['worker'], 'host-a', env)],
        ['host-b', start(['worker'], 'host-b', env)],
      ]);
      const scheduler = start(['scheduler', '--workers'], 'host-s', env);
      let killedAt: Date;
      let victim: string;
      try {
        victim = await midWrite(state, wh, task, table, [...workers.values(), scheduler]);
        const killed = workers.get(victim)!;
        killed.kill('SIGKILL');
        killedAt = new Date();
        await killed.done;
        workers.delete(victim);
        await untilRow(state, 'the run to end', `SELECT 1 FROM dag_runs WHERE state IN ('success', 'failed')`, {
          procs: [...workers.values(), scheduler],
        });
      } finally {
        await stop([...workers.values(), scheduler]);
      }
      const [survivor] = [...workers.keys()];
      expect(scheduler.output().stderr).to.match(new RegExp(`worker lost: try 1 of ${task} in \\S+ \\(pid \\d+ on ${victim}\\)`));

      const tries = (
        await state.query<TryRow>(
          `SELECT task_id, try_number, state, host, error, started_at, ended_at FROM task_tries ORDER BY try_id`,
        )
      ).rows;
      const ofTask = tries.filter((t) => t.task_id === task);
      expect(ofTask.map((t) => [t.try_number, t.state, t.host])).to.deep.equal([
        [1, 'failed', victim],
        [2, 'success', survivor],
      ]);
      const [lost, retry] = ofTask as [TryRow, TryRow];
      expect(lost.error).to.match(new RegExp(`^worker lost: pid \\d+ on ${victim} stopped renewing this try's lease`));
      const leaseEnd = new Date(/it ended at (\S+)\)/.exec(lost.error!)![1]!);
      // Never failed while its lease held, and retried only once failed.
      expect(lost.ended_at!.getTime()).to.be.at.least(leaseEnd.getTime());
      expect(retry.started_at.getTime()).to.be.at.least(lost.ended_at!.getTime());
      // "Within the lease timeout": the lease the dead worker left ends at most one lease_timeout after the kill (it
      // was last renewed before it), and the retry waited for nothing else than that end (asserted above). How long
      // the scheduler took to notice is a matter of load, not asserted (3 to 5 s after the kill, measured here).
      expect(leaseEnd.getTime()).to.be.at.most(killedAt.getTime() + LEASE_MS);

      // Any other try the killed worker was running went the same way; every task ended in success.
      for (const t of tries.filter((x) => x.host === victim && x.state !== 'success')) {
        expect(t.state, t.task_id).to.equal('failed');
        expect(t.error, t.task_id).to.match(/^worker lost: /);
        const retried = tries.some((x) => x.task_id === t.task_id && x.host === survivor && x.state === 'success');
        expect(retried, `${t.task_id} retried on ${survivor}`).to.equal(true);
      }
      const tis = (await state.query(`SELECT task_id, state FROM task_instances ORDER BY task_id`)).rows as {
        task_id: string;
        state: string;
      }[];
      expect(tis.filter((t) => t.state !== 'success')).to.deep.equal([]);
      expect((await state.query(`SELECT state FROM dag_runs`)).rows).to.deep.equal([{ state: 'success' }]);

      // The killed transaction was rolled back and the retry wrote the day again: the uninterrupted run's warehouse.
      expect(await fingerprint(warehouse)).to.deep.equal(reference);
    });
  }
});
