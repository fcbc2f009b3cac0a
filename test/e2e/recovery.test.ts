/**
 * Crash recovery of the real daemon on the songplays DAG: kill -9 the
 * scheduler while a load is running, restart it, and the warehouse ends with
 * exactly the contents of an uninterrupted run (loads are transactional and
 * idempotent). The warehouse is a real PostgreSQL server.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { Project, ROOT } from '../helpers/cli.js';
import { usePostgres } from '../helpers/postgres.js';
import { generateSampleLake } from '../../sample/generate.js';

const TABLES = ['staging_events', 'staging_songs', 'songplays', 'users', 'songs', 'artists', 'time'];

/** A fingerprint of every table: row count and an order-independent digest of the rows. */
async function fingerprint(url: string): Promise<Record<string, string>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const out: Record<string, string> = {};
    for (const t of TABLES) {
      const r = await c.query(
        `SELECT count(*) AS n, md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS h FROM "${t}" x`,
      );
      out[t] = `${r.rows[0].n}:${r.rows[0].h}`;
    }
    return out;
  } finally {
    await c.end();
  }
}

/** The songplays DAG, scheduled for exactly one day, with no retry delay. */
function oneDayDag(): string {
  const src = fs.readFileSync(path.join(ROOT, 'dags', 'songplays.yaml'), 'utf8');
  return src
    .replace(/^catchup: false$/m, 'catchup: true\nend_date: 2018-11-01')
    .replace(/^  retry_delay: 5m$/m, '  retry_delay: 0s');
}

function stateDb(p: Project): Database.Database {
  return new Database(path.join(p.dir, '.sluice', 'state.db'), { readonly: true });
}

/** Waits until the task has a running try; returns false if the run ended first. */
async function waitRunning(p: Project, taskId: string, ms = 60_000): Promise<boolean> {
  const file = path.join(p.dir, '.sluice', 'state.db');
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (fs.existsSync(file)) {
      const db = stateDb(p);
      try {
        const t = db.prepare("SELECT state FROM task_tries WHERE task_id = ? AND state = 'running'").get(taskId);
        if (t) return true;
        const done = db.prepare("SELECT state FROM dag_runs WHERE state IN ('success', 'failed')").get();
        if (done) return false;
      } catch {
        // the schema may not exist yet
      } finally {
        db.close();
      }
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`task ${taskId} never ran`);
}

describe('crash recovery of the scheduler on the songplays DAG (PostgreSQL)', function () {
  this.timeout(300_000);
  const pgh = usePostgres('recovery');
  let lake: string;
  let reference: Record<string, string>;
  let projects: Project[] = [];

  before(async function () {
    this.timeout(300_000);
    const p = new Project();
    projects.push(p);
    lake = path.join(p.dir, 'lake');
    // Big enough that each load takes a moment: 120k events in the day, 3,000 songs.
    await generateSampleLake({ out: lake, days: 1, eventsPerDay: 120_000, songs: 3000, seed: 11 });
    p.write('dags/songplays.yaml', oneDayDag());
    const url = await pgh.newDatabase('reference');
    const r = p.run(['scheduler', '--once'], { env: { SLUICE_CONN_WAREHOUSE: url, SLUICE_CONN_LAKE: lake } });
    expect(r.code, r.stderr).to.equal(0);
    const db = stateDb(p);
    expect(db.prepare('SELECT state FROM dag_runs').all()).to.deep.equal([{ state: 'success' }]);
    db.close();
    reference = await fingerprint(url);
    expect(reference.songplays).to.not.match(/^0:/);
  });

  after(() => {
    for (const p of projects) p.remove();
    projects = [];
  });

  for (const task of ['stage_events', 'load_songplays', 'load_users', 'quality']) {
    it(`kill -9 while ${task} runs, restart: the same warehouse as an uninterrupted run`, async () => {
      const p = new Project();
      projects.push(p);
      p.write('dags/songplays.yaml', oneDayDag());
      const url = await pgh.newDatabase(`kill_${task}`);
      const env = { SLUICE_CONN_WAREHOUSE: url, SLUICE_CONN_LAKE: lake };
      const daemon = p.start(['scheduler'], { env });
      const caught = await waitRunning(p, task);
      daemon.kill('SIGKILL');
      await daemon.done;
      expect(caught, `${task} was caught running`).to.equal(true);

      const r = p.run(['scheduler', '--once'], { env });
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stderr).to.match(/was left running by process \d+, which died; marked failed \(it will be retried\)/);
      const db = stateDb(p);
      const died = db.prepare("SELECT task_id FROM task_tries WHERE error LIKE 'process died%'").all() as { task_id: string }[];
      expect(died.length).to.be.greaterThan(0);
      expect(db.prepare('SELECT state FROM dag_runs').all()).to.deep.equal([{ state: 'success' }]);
      db.close();
      expect(await fingerprint(url)).to.deep.equal(reference);
    });
  }
});
