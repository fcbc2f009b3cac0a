/**
 * State DB trouble is diagnosed. A damaged, foreign or 0-byte
 * state.db is refused with its path and the fix and left as it was; a new
 * home still gets a new DB; migrations keep a backup; read-only verbs work on
 * a read-only home (run as the unprivileged user `nobody`, since root writes
 * through any permission bits).
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Project, ROOT, type CliResult } from '../helpers/cli.js';
import { SqliteStateStore } from '../../engine/state/sqlite/index.js';
import { migrations } from '../../engine/state/sqlite/migrations.js';

const DAG = `
dag: tiny
schedule: "@daily"
start_date: 2024-01-01
tasks:
  a: { operator: Empty }
  b: { operator: Empty, upstream: [a] }
`;
const RUN = 'tiny__manual__2024-01-01T00:00:00Z';

function expectRefused(r: CliResult, db: string, what: RegExp): void {
  expect(r.code, r.stdout + r.stderr).to.equal(1);
  expect(r.stderr).to.include(db).and.match(what);
  expect(r.stderr).to.include(`mv ${db} ${db}.broken`);
  expect(r.stderr).not.to.match(/SqliteError|\n\s+at /);
}

describe('the state DB is checked, backed up, and read read-only', function () {
  this.timeout(180_000);
  let p: Project;
  let db: string;
  beforeEach(() => {
    p = new Project();
    p.write('dags/tiny.yaml', DAG);
    db = path.join(p.dir, '.sluice', 'state.db');
  });
  afterEach(() => p.remove());

  it('a new home: read verbs create nothing, run-dag creates the DB', () => {
    const list = p.run(['runs', 'list']);
    expect(list.code, list.stderr).to.equal(0);
    expect(fs.existsSync(db)).to.equal(false);
    expect(p.run(['run-dag', 'tiny', '--date', '2024-01-01']).code).to.equal(0);
    expect(p.run(['runs', 'list']).stdout).to.include(RUN);
  });

  it('a 0-byte state.db is refused by every verb and left as it is', () => {
    fs.mkdirSync(path.dirname(db), { recursive: true });
    fs.writeFileSync(db, '');
    expectRefused(p.run(['runs', 'list']), db, /is empty \(0 bytes\)/);
    expectRefused(p.run(['run-dag', 'tiny', '--date', '2024-01-01']), db, /is empty \(0 bytes\)/);
    expect(fs.statSync(db).size).to.equal(0);
  });

  it('a file that is not SQLite, or a damaged one, is refused before any try starts', () => {
    fs.mkdirSync(path.dirname(db), { recursive: true });
    fs.writeFileSync(db, Buffer.alloc(20_000, 'garbage '));
    expectRefused(p.run(['run-dag', 'tiny', '--date', '2024-01-01']), db, /not an SQLite database/);
    expectRefused(p.run(['runs', 'list']), db, /not an SQLite database/);
    fs.rmSync(db);

    expect(p.run(['run-dag', 'tiny', '--date', '2024-01-01']).code).to.equal(0);
    const pages = fs.statSync(db).size / 4096;
    expect(fs.existsSync(`${db}-wal`), 'closed cleanly: the log is merged').to.equal(false);
    // overwrite every page but the header page with garbage
    const fd = fs.openSync(db, 'r+');
    for (let i = 1; i < pages; i++) fs.writeSync(fd, Buffer.alloc(4096, 0xa5), 0, 4096, i * 4096);
    fs.closeSync(fd);
    const damaged = fs.readFileSync(db);
    expectRefused(p.run(['run-dag', 'tiny', '--date', '2024-01-02']), db, /is damaged/);
    expectRefused(p.run(['runs', 'list']), db, /is damaged/);
    expect(fs.readFileSync(db).equals(damaged), 'the damaged file is left untouched').to.equal(true);
  });

  it('an upgrade keeps a backup of the DB as it was; read verbs say it needs migrating', async () => {
    const old = new SqliteStateStore(db, { migrations: migrations.slice(0, 3) });
    await old.scheduler.setPaused('tiny', false, new Date());
    await old.close();
    const r = p.run(['runs', 'list']);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.include(`${db} has schema version 3; this Sluice uses ${migrations.length}`);
    expect(p.run(['run-dag', 'tiny', '--date', '2024-01-01']).code).to.equal(0);
    const bak = new Database(`${db}.bak-v3`, { readonly: true });
    expect(bak.prepare('SELECT max(version) v FROM schema_migrations').get()).to.deep.equal({ v: 3 });
    expect(bak.prepare('SELECT dag_id FROM dag_state').all()).to.deep.equal([{ dag_id: 'tiny' }]);
    bak.close();
  });

  it('read verbs work on a read-only home; writing verbs say why they cannot', function () {
    if (process.getuid?.() !== 0 || spawnSync('runuser', ['--help']).error) {
      this.skip(); // needs root to run the CLI as `nobody` (root ignores permission bits)
    }
    expect(p.run(['run-dag', 'tiny', '--date', '2024-01-01']).code).to.equal(0);
    for (const d of [p.dir, path.join(p.dir, '.sluice'), path.join(p.dir, 'dags')]) fs.chmodSync(d, 0o755);
    const tsx = import.meta.resolve('tsx');
    const asNobody = (args: string[]): CliResult => {
      const r = spawnSync(
        'runuser',
        ['-u', 'nobody', '--', process.execPath, '--import', tsx, path.join(ROOT, 'engine/cli/main.ts'), ...args],
        {
          cwd: p.dir,
          env: { PATH: process.env.PATH, NO_COLOR: '1', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
          encoding: 'utf8',
        },
      );
      return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    const before = fs.readdirSync(path.join(p.dir, '.sluice')).sort();
    for (const args of [
      ['runs', 'list'],
      ['tasks', 'list', RUN],
      ['logs', RUN, 'b'],
      ['report', 'tiny'],
      ['dags', 'list'],
      ['connections', 'list'],
    ]) {
      const r = asNobody(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).to.be.oneOf([0, 1]);
      expect(r.stderr, args.join(' ')).not.to.match(/unable to open|readonly database|SqliteError/);
    }
    expect(asNobody(['runs', 'list']).stdout).to.include(RUN);
    expect(asNobody(['logs', RUN, 'b']).stdout).to.include('try 1 of 1: success');
    const w = asNobody(['run-dag', 'tiny', '--date', '2024-01-02']);
    expect(w.code).to.equal(1);
    expect(w.stderr)
      .to.include(db)
      .and.include('SLUICE_HOME')
      .and.not.match(/SqliteError/);
    expect(fs.readdirSync(path.join(p.dir, '.sluice')).sort()).to.deep.equal(before);
  });
});
