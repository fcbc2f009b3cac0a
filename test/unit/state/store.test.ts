import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { StateStore, makeRunId } from '../../../engine/state/store.js';
import { migrations } from '../../../engine/state/migrations.js';
import { tmpDir } from '../../helpers/engine.js';

const day = new Date('2018-11-21T00:00:00Z');
const next = new Date('2018-11-22T00:00:00Z');

function newRun(store: StateStore, dagId = 'songplays') {
  return store.createRun({
    dagId,
    logicalDate: day,
    dataIntervalStart: day,
    dataIntervalEnd: next,
    runType: 'manual',
    conf: { a: 1 },
    tasks: [
      { taskId: 'a', operator: 'Empty', maxTries: 2 },
      { taskId: 'b', operator: 'Empty', maxTries: 1 },
    ],
    now: new Date(),
  });
}

describe('state store', () => {
  let dir: string;
  let store: StateStore;
  beforeEach(() => {
    dir = tmpDir();
    store = new StateStore(path.join(dir, 'state.db'));
  });
  afterEach(() => {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creates the schema with numbered migrations, in WAL mode', () => {
    expect(store.schemaVersion()).to.equal(migrations[migrations.length - 1]!.version);
    expect(store.db.pragma('journal_mode', { simple: true })).to.equal('wal');
    const tables = (store.db.prepare("SELECT name FROM sqlite_master WHERE type='table'").all() as { name: string }[]).map(
      (r) => r.name,
    );
    expect(tables).to.include.members([
      'dag_runs',
      'task_instances',
      'task_tries',
      'log_lines',
      'task_outputs',
      'schema_migrations',
    ]);
  });

  it('applies only new migrations when reopened, and refuses a newer database', () => {
    const file = path.join(dir, 'state.db');
    store.close();
    const extra = [...migrations, { version: 999, name: 'test column', sql: 'ALTER TABLE dag_runs ADD COLUMN extra TEXT' }];
    store = new StateStore(file, extra);
    expect(store.schemaVersion()).to.equal(999);
    const cols = (store.db.prepare('PRAGMA table_info(dag_runs)').all() as { name: string }[]).map((c) => c.name);
    expect(cols).to.include('extra');
    expect(store.migrate(extra)).to.deep.equal([]);
    store.close();
    expect(() => new StateStore(file)).to.throw(/schema version 999, newer than this Sluice knows/);
    store = new StateStore(file, extra);
  });

  it('a failing migration leaves the database at the previous version', () => {
    store.close();
    const file = path.join(dir, 'state.db');
    const bad = [...migrations, { version: 500, name: 'broken', sql: 'CREATE TABLE ok_table (x INT); SELEKT nonsense' }];
    expect(() => new StateStore(file, bad)).to.throw();
    const raw = new Database(file);
    expect((raw.prepare('SELECT max(version) v FROM schema_migrations').get() as { v: number }).v).to.equal(
      migrations[migrations.length - 1]!.version,
    );
    expect(raw.prepare("SELECT name FROM sqlite_master WHERE name = 'ok_table'").get()).to.equal(undefined);
    raw.close();
    store = new StateStore(file);
  });

  it('several processes opening a new state DB at once migrate it once, without errors', async () => {
    const file = path.join(dir, 'shared.db');
    // Every process waits for the same instant before opening the file, so the opens collide.
    const startAt = Date.now() + 1500;
    const script = `import { StateStore } from ${JSON.stringify(path.resolve('engine/state/store.ts'))};
      while (Date.now() < ${startAt});
      const s = new StateStore(${JSON.stringify(file)}); console.log(s.schemaVersion()); s.close();`;
    const results = await Promise.all(
      [1, 2, 3, 4, 5, 6].map(
        () =>
          new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
            // run from the project folder, where tsx resolves
            const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
              cwd: process.cwd(),
            });
            let out = '';
            let err = '';
            child.stdout.on('data', (d) => (out += d));
            child.stderr.on('data', (d) => (err += d));
            child.on('close', (code) => resolve({ code, out, err }));
          }),
      ),
    );
    const latest = migrations[migrations.length - 1]!.version;
    for (const r of results) {
      expect(r.code, r.err).to.equal(0);
      expect(r.out.trim()).to.equal(String(latest));
    }
    const raw = new Database(file);
    expect(raw.prepare('SELECT count(*) n FROM schema_migrations').get()).to.deep.equal({ n: migrations.length });
    raw.close();
  });

  it('creates one run per dag and logical date', () => {
    const run = newRun(store)!;
    expect(run.run_id).to.equal('songplays__manual__2018-11-21T00:00:00Z');
    expect(run.run_id).to.equal(makeRunId('songplays', 'manual', day));
    expect(JSON.parse(run.conf)).to.deep.equal({ a: 1 });
    expect(newRun(store)).to.equal(null);
    expect(newRun(store, 'other')).to.not.equal(null);
    expect(store.listTaskInstances(run.run_id).map((t) => [t.task_id, t.state, t.max_tries])).to.deep.equal([
      ['a', null, 2],
      ['b', null, 1],
    ]);
  });

  it('writes a try before it starts and after it ends, with outputs', () => {
    const run = newRun(store)!;
    const t = store.startTry(run.run_id, 'a', new Date('2024-01-01T00:00:00Z'));
    expect(t.state).to.equal('running');
    expect(t.try_number).to.equal(1);
    expect(store.getTaskInstance(run.run_id, 'a')!.state).to.equal('running');
    store.endTry(t, { state: 'success', taskState: 'success', now: new Date('2024-01-01T00:00:01.5Z'), outputs: { rows: 3 } });
    const done = store.getTry(run.run_id, 'a', 1)!;
    expect(done.duration_ms).to.equal(1500);
    expect(store.getOutputs(done.try_id)).to.deep.equal({ rows: 3 });
    expect(store.latestOutputs(run.run_id).get('a')).to.deep.equal({ tryNumber: 1, outputs: { rows: 3 } });
  });

  it('finds tries left running by a dead process and retries or fails them', () => {
    const run = newRun(store)!;
    store.startRun(run.run_id, new Date());
    store.startTry(run.run_id, 'a', new Date());
    store.startTry(run.run_id, 'b', new Date());
    const dead = () => false;
    const orphans = store.recoverOrphans(new Date(), dead);
    expect(orphans.map((o) => [o.task_id, o.newState])).to.deep.equal([
      ['a', 'up_for_retry'],
      ['b', 'failed'],
    ]);
    const tries = store.listTries(run.run_id);
    expect(tries.every((t) => t.state === 'failed' && /process died/.test(t.error!))).to.equal(true);
    // The run goes back to the queue, to be resumed.
    expect(store.getRun(run.run_id)!.state).to.equal('queued');
    expect(store.getRun(run.run_id)!.note).to.match(/process died: pid \d+ ended while the run was in progress/);
    expect(store.recoverOrphans(new Date(), dead)).to.deep.equal([]);
  });

  it('leaves tries of a live process alone', () => {
    const run = newRun(store)!;
    store.startTry(run.run_id, 'a', new Date());
    expect(store.recoverOrphans(new Date())).to.deep.equal([]);
    expect(store.getTaskInstance(run.run_id, 'a')!.state).to.equal('running');
  });

  it('clears tasks for a rerun, keeping tries and giving each its tries again', () => {
    const run = newRun(store)!;
    const t = store.startTry(run.run_id, 'a', new Date());
    store.endTry(t, { state: 'failed', taskState: 'failed', now: new Date(), error: 'x' });
    const t2 = store.startTry(run.run_id, 'b', new Date());
    store.endTry(t2, { state: 'success', taskState: 'success', now: new Date() });
    expect(store.clearTasks(run.run_id, () => 2, { failedOnly: true })).to.deep.equal(['a']);
    const a = store.getTaskInstance(run.run_id, 'a')!;
    expect([a.state, a.try_number, a.max_tries]).to.deep.equal([null, 1, 3]);
    expect(store.getTaskInstance(run.run_id, 'b')!.state).to.equal('success');
    expect(store.listTries(run.run_id)).to.have.length(2);
    expect(store.getRun(run.run_id)!.state).to.equal('queued');
  });
});
