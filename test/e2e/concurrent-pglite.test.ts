/**
 * Several processes against one embedded (PGlite) warehouse, through the real
 * CLI: two `run-dag songplays` of different days and a writing `sluice sql`,
 * started at the same moment, must leave exactly what running them one after
 * the other leaves (PGlite serves one process at a time: the others wait for
 * its lock, and run-dag waits for a max_active_runs slot). Also: the waits
 * say whom they wait for, Ctrl-C ends them without leaving a lock behind,
 * the wait times out with a clear error, and the scheduler counts runs other
 * processes execute against max_active_runs.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Project, ROOT } from '../helpers/cli.js';
import { pgliteTemplate } from '../helpers/pglite.js';
import { tmpDir } from '../helpers/engine.js';
import { generateSampleLake } from '../../sample/generate.js';

const TABLES = ['staging_events', 'staging_songs', 'songplays', 'users', 'songs', 'artists', 'time', 'audit'];
const AUDIT_SQL = "CREATE TABLE IF NOT EXISTS audit (note text); INSERT INTO audit VALUES ('looked at by sluice sql')";
/** Row count and an order-independent digest of every table, in one query. */
const FINGERPRINT_SQL = `SELECT ${TABLES.map(
  (t) => `(SELECT count(*) || ':' || md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM "${t}" x) AS "${t}"`,
).join(', ')}`;

const DAY_A = '2018-11-22';
const DAY_B = '2018-11-23';

/** A project whose embedded warehouse (default pglite:warehouse) starts as a copy of the initdb'd template. */
async function songplaysProject(lake: string, dag?: string): Promise<Project> {
  const p = new Project({ SLUICE_CONN_LAKE: lake });
  p.write('dags/songplays.yaml', dag ?? fs.readFileSync(path.join(ROOT, 'dags', 'songplays.yaml'), 'utf8'));
  fs.cpSync(await pgliteTemplate(), path.join(p.dir, '.sluice', 'warehouse'), { recursive: true });
  return p;
}

function fingerprint(p: Project): Record<string, string> {
  const r = p.run(['sql', FINGERPRINT_SQL, '--json']);
  expect(r.code, r.stderr).to.equal(0);
  return (JSON.parse(r.stdout) as Record<string, string>[])[0]!;
}

function runDag(date: string): string[] {
  return ['run-dag', 'songplays', '--date', date];
}

function stateDb(p: Project): Database.Database {
  return new Database(path.join(p.dir, '.sluice', 'state.db'), { readonly: true });
}

function runsOf(
  p: Project,
  dagId: string,
): { run_id: string; state: string; started_at: string | null; ended_at: string | null }[] {
  const db = stateDb(p);
  try {
    return db
      .prepare('SELECT run_id, state, started_at, ended_at FROM dag_runs WHERE dag_id = ? ORDER BY logical_date')
      .all(dagId) as never;
  } finally {
    db.close();
  }
}

async function until(what: string, test: () => boolean, ms = 120_000, detail = () => ''): Promise<void> {
  const end = Date.now() + ms;
  while (!test()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${detail()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('one embedded warehouse, several processes (CLI, PGlite)', function () {
  this.timeout(600_000);
  let lake: string;
  const projects: Project[] = [];
  /** The result of running A, B and the sql one after the other, in each order of the two days. */
  const references: Record<string, string>[] = [];

  before(async function () {
    lake = path.join(tmpDir('sluice-lake-'), 'lake');
    await generateSampleLake({ out: lake, days: 2, eventsPerDay: 300, songs: 50, seed: 13, startDate: DAY_A });
    for (const order of [
      [DAY_A, DAY_B],
      [DAY_B, DAY_A],
    ]) {
      const p = await songplaysProject(lake);
      projects.push(p);
      for (const day of order) {
        const r = p.run(runDag(day));
        expect(r.code, r.stdout + r.stderr).to.equal(0);
      }
      const s = p.run(['sql', AUDIT_SQL]);
      expect(s.code, s.stderr).to.equal(0);
      references.push(fingerprint(p));
    }
    expect(references[0]!.songplays).to.not.match(/^0:/);
    expect(references[0]!.audit).to.match(/^1:/);
  });

  after(() => {
    for (const p of projects) p.remove();
    fs.rmSync(path.dirname(lake), { recursive: true, force: true });
  });

  /** Starts both run-dags and the sql at once; all must succeed and the star schema must equal a sequential run. */
  async function concurrentTrial(dag?: string): Promise<{ stderr: string; runDagStderr: string }> {
    const p = await songplaysProject(lake, dag);
    projects.push(p);
    const procs = [p.start(runDag(DAY_A)), p.start(runDag(DAY_B)), p.start(['sql', AUDIT_SQL])];
    await Promise.all(procs.map((c) => c.done));
    const outs = procs.map((c) => c.output());
    for (const o of outs) expect(o.code, o.stdout + o.stderr).to.equal(0);
    expect(outs[0]!.stdout).to.contain('run songplays__manual__2018-11-22T00:00:00Z success');
    expect(outs[1]!.stdout).to.contain('run songplays__manual__2018-11-23T00:00:00Z success');
    const got = fingerprint(p);
    expect(references, `trial result ${JSON.stringify(got, null, 1)}`).to.deep.include(got);
    return { stderr: outs.map((o) => o.stderr).join('\n'), runDagStderr: outs[0]!.stderr + '\n' + outs[1]!.stderr };
  }

  it('two run-dag and a sluice sql at once, 5 times: always the star schema of a sequential run', async () => {
    let slotWaits = 0;
    let lockWaits = 0;
    for (let trial = 1; trial <= 5; trial++) {
      const { stderr } = await concurrentTrial();
      if (/DAG songplays has 1 active run \(max_active_runs 1\): songplays__manual__.*; waiting for a slot/.test(stderr))
        slotWaits++;
      if (/warehouse \S+ is in use by .*, pid \d+ on .* since .*; waiting \(up to 10m\)/.test(stderr)) lockWaits++;
    }
    // Which process waits for what depends on timing; over five trials both waits were seen.
    expect(slotWaits, 'run-dag waited for max_active_runs').to.be.greaterThan(0);
    expect(lockWaits, 'a process waited for the warehouse').to.be.greaterThan(0);
  });

  it('with max_active_runs 2 both runs start at once and the warehouse lock keeps them apart', async () => {
    const dag = fs
      .readFileSync(path.join(ROOT, 'dags', 'songplays.yaml'), 'utf8')
      .replace(/^max_active_runs: 1$/m, 'max_active_runs: 2');
    let runDagWaited = 0;
    for (let trial = 1; trial <= 2; trial++) {
      const { stderr, runDagStderr } = await concurrentTrial(dag);
      expect(stderr).to.not.contain('waiting for a slot');
      // told once, naming whoever held it then (the other run-dag or the sql)
      if (/warehouse \S+ is in use by .*; waiting/.test(runDagStderr)) runDagWaited++;
    }
    expect(runDagWaited, 'a run-dag waited for the warehouse').to.be.greaterThan(0);
  });
});

/** A DAG that touches the warehouse, then sleeps (writing its pid to a marker file). */
function napDag(id: string, maxActiveRuns: number): string {
  return `dag: ${id}
schedule: "@daily"
start_date: 2024-01-01
max_active_runs: ${maxActiveRuns}
tasks:
  touch: { operator: Sql, sql: "SELECT 1" }
  nap: { operator: Sleep, ms: 30000, marker: ${id}.pid, upstream: [touch] }
`;
}

describe('waiting for the warehouse or a max_active_runs slot (CLI)', function () {
  this.timeout(300_000);
  let p: Project;
  let whDir: string;

  beforeEach(async () => {
    p = new Project();
    whDir = path.join(p.dir, 'wh');
    fs.cpSync(await pgliteTemplate(), whDir, { recursive: true });
    p.env.SLUICE_CONN_WAREHOUSE = `pglite://${whDir}`;
  });

  afterEach(() => p.remove());

  const markerPid = (id: string) => {
    try {
      return Number(fs.readFileSync(path.join(p.dir, `${id}.pid`), 'utf8'));
    } catch {
      return 0;
    }
  };

  it('Ctrl-C ends a wait for the warehouse at once (exit 130); a timeout fails the task naming the holder; no lock is left', async () => {
    p.write('dags/nap.yaml', napDag('nap', 16));
    const a = p.start(['run-dag', 'nap', '--date', '2024-01-01']);
    await until('run A to hold the warehouse', () => markerPid('nap') === a.pid);

    // B waits for the warehouse inside its first task, saying for whom; Ctrl-C stops it.
    const b = p.start(['run-dag', 'nap', '--date', '2024-01-02']);
    await until('B to wait', () => b.output().stderr.includes('waiting (up to 10m)'));
    expect(b.output().stderr).to.contain(
      `sluice: warehouse ${whDir} is in use by run nap__manual__2024-01-01T00:00:00Z (run-dag), pid ${a.pid} on `,
    );
    b.kill('SIGINT');
    expect(await b.done).to.equal(130);

    // A short lock_timeout: the task fails with the holder and what to do (no retries in this DAG).
    const c = p.run(['run-dag', 'nap', '--date', '2024-01-03', '--json'], {
      env: { SLUICE_CONN_WAREHOUSE: `pglite://${whDir}?lock_timeout=1s` },
    });
    expect(c.code, c.stderr).to.equal(1);
    const touch = (JSON.parse(c.stdout) as { tasks: { task_id: string; state: string; error: string }[] }).tasks.find(
      (t) => t.task_id === 'touch',
    )!;
    expect(touch.state).to.equal('failed');
    expect(touch.error).to.contain(
      `warehouse ${whDir} is in use by run nap__manual__2024-01-01T00:00:00Z (run-dag), pid ${a.pid}`,
    );
    expect(touch.error).to.contain('after waiting 1s');
    expect(touch.error).to.contain('use a PostgreSQL warehouse');

    a.kill('SIGINT');
    expect(await a.done).to.equal(130);
    // Nothing holds the warehouse now: lock_timeout=0 would refuse at once otherwise.
    const q = p.run(['sql', 'SELECT 1 AS one', '--json'], { env: { SLUICE_CONN_WAREHOUSE: `pglite://${whDir}?lock_timeout=0` } });
    expect(q.code, q.stderr).to.equal(0);
    expect(JSON.parse(q.stdout)).to.deep.equal([{ one: 1 }]);
  });

  it('the scheduler daemon lets go of the warehouse between runs: sluice sql from another shell gets in at once', async () => {
    // Daily from yesterday, no catchup: one run is due at start-up; then the daemon idles until tomorrow.
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    p.write(
      'dags/once.yaml',
      `dag: once\nschedule: "@daily"\nstart_date: ${yesterday}\ncatchup: false\ntasks:\n  touch: { operator: Sql, sql: "CREATE TABLE IF NOT EXISTS seen (n int); INSERT INTO seen VALUES (1)" }\n`,
    );
    const daemon = p.start(['scheduler']);
    try {
      const finished = () => {
        try {
          return runsOf(p, 'once').some((r) => r.state === 'success');
        } catch {
          return false; // the state DB is not there yet
        }
      };
      await until('the scheduled run to finish', finished, 120_000, () => `: ${JSON.stringify(daemon.output())}`);
      // The daemon is still running, and idle: the warehouse is free (lock_timeout=0 refuses at once otherwise).
      let q = p.run(['sql', 'SELECT count(*)::int AS n FROM seen', '--json'], {
        env: { SLUICE_CONN_WAREHOUSE: `pglite://${whDir}?lock_timeout=0` },
      });
      for (let i = 0; q.code !== 0 && i < 40; i++) {
        // closing after the run ends is asynchronous: give it a moment
        await new Promise((r) => setTimeout(r, 250));
        q = p.run(['sql', 'SELECT count(*)::int AS n FROM seen', '--json'], {
          env: { SLUICE_CONN_WAREHOUSE: `pglite://${whDir}?lock_timeout=0` },
        });
      }
      expect(q.code, q.stderr).to.equal(0);
      expect(JSON.parse(q.stdout)).to.deep.equal([{ n: 1 }]);
      expect(daemon.exitCode).to.equal(null);
      daemon.kill('SIGTERM');
      expect(await daemon.done, JSON.stringify(daemon.output())).to.equal(0);
    } finally {
      if (daemon.exitCode === null) daemon.kill('SIGKILL');
    }
  });

  it('a kill -9 holder does not wedge the warehouse', async () => {
    p.write('dags/nap.yaml', napDag('nap', 16));
    const a = p.start(['run-dag', 'nap', '--date', '2024-01-01']);
    await until('run A to hold the warehouse', () => markerPid('nap') === a.pid);
    a.kill('SIGKILL');
    await a.done;
    const q = p.run(['sql', 'SELECT 2 AS two', '--json'], { env: { SLUICE_CONN_WAREHOUSE: `pglite://${whDir}?lock_timeout=0` } });
    expect(q.code, q.stderr).to.equal(0);
    expect(JSON.parse(q.stdout)).to.deep.equal([{ two: 2 }]);
  });

  it('max_active_runs holds across processes: run-dag waits for a slot (Ctrl-C gives up), the scheduler does not start another run', async () => {
    p.write('dags/slow.yaml', napDag('slow', 1));
    const a = p.start(['run-dag', 'slow', '--date', '2024-01-01']);
    await until(
      'run A to sleep',
      () => markerPid('slow') === a.pid,
      120_000,
      () => `: ${JSON.stringify(a.output())}`,
    );

    // A second run-dag waits for the slot, saying which run holds it, and creates nothing; Ctrl-C ends it.
    const b = p.start(['run-dag', 'slow', '--date', '2024-01-02']);
    await until('B to wait for a slot', () => b.output().stderr.includes('waiting for a slot'));
    expect(b.output().stderr).to.contain(
      `sluice: DAG slow has 1 active run (max_active_runs 1): slow__manual__2024-01-01T00:00:00Z (pid ${a.pid} on `,
    );
    expect(runsOf(p, 'slow').map((r) => r.run_id)).to.deep.equal(['slow__manual__2024-01-01T00:00:00Z']);
    b.kill('SIGINT');
    expect(await b.done).to.equal(130);
    expect(runsOf(p, 'slow')).to.have.length(1);

    // The scheduler creates the due run but does not start it: A's run fills the DAG's one slot.
    const s = p.run(['scheduler', '--once']);
    expect(s.code, s.stderr).to.equal(0);
    const scheduled = runsOf(p, 'slow').filter((r) => r.run_id.includes('__scheduled__'));
    expect(scheduled).to.have.length(1);
    expect(scheduled[0]!.state).to.equal('queued');
    expect(markerPid('slow')).to.equal(a.pid);

    // A third run-dag waits, then starts as soon as A ends.
    const c = p.start(['run-dag', 'slow', '--date', '2024-01-03']);
    await until('C to wait for a slot', () => c.output().stderr.includes('waiting for a slot'));
    a.kill('SIGINT');
    expect(await a.done).to.equal(130);
    await until('run C to sleep', () => markerPid('slow') === c.pid);
    c.kill('SIGINT');
    expect(await c.done).to.equal(130);
    const runs = runsOf(p, 'slow');
    const ra = runs.find((r) => r.run_id === 'slow__manual__2024-01-01T00:00:00Z')!;
    const rc = runs.find((r) => r.run_id === 'slow__manual__2024-01-03T00:00:00Z')!;
    expect(Date.parse(rc.started_at!)).to.be.at.least(Date.parse(ra.ended_at!));
  });
});
