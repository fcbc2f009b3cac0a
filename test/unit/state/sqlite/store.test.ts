import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { SqliteStateStore } from '../../../../engine/state/sqlite/index.js';
import { migrations } from '../../../../engine/state/sqlite/migrations.js';
import { tmpDir } from '../../../helpers/engine.js';

/** What the state DB file holds, read through a connection of its own (as any SQLite client). */
function inspect<T>(file: string, fn: (db: Database.Database) => T): T {
  const db = new Database(file, { readonly: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

// The behaviour every state store shares is in test/integration/state/state-suite.ts; this is SQLite's own.
describe('SQLite state store: file, schema and migrations', () => {
  let dir: string;
  let store: SqliteStateStore;
  beforeEach(() => {
    dir = tmpDir();
    store = new SqliteStateStore(path.join(dir, 'state.db'));
  });
  afterEach(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creates the schema with numbered migrations, in WAL mode', async () => {
    expect(await store.schemaVersion()).to.equal(migrations[migrations.length - 1]!.version);
    const file = path.join(dir, 'state.db');
    expect(inspect(file, (db) => db.pragma('journal_mode', { simple: true }))).to.equal('wal');
    const tables = inspect(
      file,
      (db) => db.prepare("SELECT name FROM sqlite_master WHERE type='table'").all() as { name: string }[],
    ).map((r) => r.name);
    expect(tables).to.include.members([
      'dag_runs',
      'task_instances',
      'task_tries',
      'log_lines',
      'task_outputs',
      'schema_migrations',
    ]);
  });

  it('applies only new migrations when reopened, and refuses a newer database', async () => {
    const file = path.join(dir, 'state.db');
    await store.close();
    const extra = [...migrations, { version: 999, name: 'test column', sql: 'ALTER TABLE dag_runs ADD COLUMN extra TEXT' }];
    store = new SqliteStateStore(file, { migrations: extra });
    expect(await store.schemaVersion()).to.equal(999);
    const cols = inspect(file, (db) => db.prepare('PRAGMA table_info(dag_runs)').all() as { name: string }[]).map((c) => c.name);
    expect(cols).to.include('extra');
    expect(store.migrate(extra)).to.deep.equal([]);
    await store.close();
    expect(() => new SqliteStateStore(file)).to.throw(/schema version 999, newer than this Sluice knows/);
    store = new SqliteStateStore(file, { migrations: extra });
  });

  it('a failing migration leaves the database at the previous version', async () => {
    await store.close();
    const file = path.join(dir, 'state.db');
    const bad = [...migrations, { version: 500, name: 'broken', sql: 'CREATE TABLE ok_table (x INT); SELEKT nonsense' }];
    expect(() => new SqliteStateStore(file, { migrations: bad })).to.throw();
    const raw = new Database(file);
    expect((raw.prepare('SELECT max(version) v FROM schema_migrations').get() as { v: number }).v).to.equal(
      migrations[migrations.length - 1]!.version,
    );
    expect(raw.prepare("SELECT name FROM sqlite_master WHERE name = 'ok_table'").get()).to.equal(undefined);
    raw.close();
    store = new SqliteStateStore(file);
  });

  it('several processes opening a new state DB at once migrate it once, without errors', async () => {
    const file = path.join(dir, 'shared.db');
    // Every process waits for the same instant before opening the file, so the opens collide.
    const startAt = Date.now() + 1500;
    const script = `import { SqliteStateStore } from ${JSON.stringify(path.resolve('engine/state/sqlite/index.ts'))};
      while (Date.now() < ${startAt});
      const s = new SqliteStateStore(${JSON.stringify(file)}); console.log(await s.schemaVersion()); await s.close();`;
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
});
