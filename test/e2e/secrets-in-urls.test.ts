/**
 * Passwords holding URL-reserved characters (/ ? # @ : % space,
 * non-ASCII, several @) never appear in anything Sluice prints or stores:
 * run-dag's summary and --json, sluice logs, tasks list, connections
 * list|get|set, and the bytes of state.db and its -wal.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { Project, type CliResult } from '../helpers/cli.js';

/** Each password is made of distinctive fragments joined by reserved characters; no fragment may show. */
const PASSWORDS: Record<string, string[]> = {
  slash: ['Sl4shAa', '/', 'Sl4shBb'],
  query: ['Qu3ryAa', '?', 'Qu3ryBb'],
  hash: ['H4shhAa', '#', 'H4shhBb'],
  at: ['Att00Aa', '@', 'Att00Bb'],
  colon: ['C0lonAa', ':', 'C0lonBb'],
  percent: ['P3rctAa', '%', 'P3rctBb'],
  space: ['Sp4ceAa', ' ', 'Sp4ceBb'],
  unicode: ['Ünïc0dé', '€', 'Ωmega9z'],
  several_at: ['Mult1Aa', '@', 'Mult1Bb', '@', 'Mult1Cc'],
  mixed: ['M1xedAa', '/?#', 'M1xedBb', '@:', 'M1xedCc', '% ', 'M1xedDd'],
};
const NAMES = Object.keys(PASSWORDS);
const password = (name: string) => PASSWORDS[name]!.join('');
/** Every fragment of every password, as written and percent-encoded (how URL parsers re-encode them). */
const FORBIDDEN = Object.values(PASSWORDS).flatMap((parts) => {
  const frags = parts.filter((p) => p.length >= 5);
  return [...new Set([...frags, ...frags.map(encodeURIComponent), parts.join(''), encodeURIComponent(parts.join(''))])];
});

function expectNoSecret(where: string, text: string | Buffer): void {
  const s = Buffer.isBuffer(text) ? text.toString('latin1') : text;
  const u = Buffer.isBuffer(text) ? text.toString('utf8') : text;
  for (const f of FORBIDDEN) {
    expect(u.includes(f) || s.includes(f), `${where} shows '${f}'`).to.equal(false);
  }
}

function all(r: CliResult): string {
  return r.stdout + r.stderr;
}

const DAG = `
dag: probes
schedule: "@daily"
start_date: 2024-01-01
tasks:
${NAMES.map((n) => `  probe_${n}: { operator: Sql, sql: SELECT 1, connection: ${n}, retries: 0 }`).join('\n')}
`;

describe('passwords with URL-reserved characters never leak', function () {
  this.timeout(240_000);
  let p: Project;
  const env: NodeJS.ProcessEnv = {};
  for (const n of NAMES) env[`SLUICE_CONN_${n.toUpperCase()}`] = `postgres://etl:${password(n)}@127.0.0.1:1/sparkify`;
  const runId = 'probes__manual__2024-01-01T00:00:00Z';

  before(() => {
    p = new Project(env);
    p.write('dags/probes.yaml', DAG);
  });
  after(() => p.remove());

  it('run-dag (table and --json), tasks list and sluice logs show the URL with the password masked', () => {
    const run = p.run(['run-dag', 'probes', '--date', '2024-01-01', '--json']);
    expect(run.code, all(run)).to.equal(1);
    expectNoSecret('run-dag --json', all(run));
    const summary = JSON.parse(run.stdout) as { tasks: { task_id: string; state: string; error: string | null }[] };
    for (const t of summary.tasks) {
      expect(t.state, t.task_id).to.equal('failed');
      // the connection is named, its password masked
      expect(t.error, t.task_id).to.match(/postgres:\/\/etl:\*\*\*@127\.0\.0\.1:1\/sparkify/);
    }
    const slash = summary.tasks.find((t) => t.task_id === 'probe_slash')!;
    expect(slash.error).to.include('percent-encode');

    const again = p.run(['run-dag', 'probes', '--date', '2024-01-01', '--rerun', '-v']);
    expect(again.code).to.equal(1);
    expectNoSecret('run-dag -v', all(again));

    const tasks = p.run(['tasks', 'list', runId, '--json']);
    expect(tasks.code, all(tasks)).to.equal(0);
    expectNoSecret('tasks list --json', all(tasks));
    // every try's log lines and error are in the state DB, checked byte for byte below; read a few back
    for (const n of ['slash', 'at', 'space', 'mixed']) {
      for (const args of [['logs', runId, `probe_${n}`], ...(n === 'mixed' ? [['logs', runId, `probe_${n}`, '--json']] : [])]) {
        const r = p.run(args);
        expect(r.code, all(r)).to.equal(0);
        expect(r.stdout).to.include('postgres://etl:***@127.0.0.1:1/sparkify');
        expectNoSecret(args.join(' '), all(r));
      }
    }
  });

  it('the bytes of state.db and state.db-wal never hold a password', () => {
    const home = path.join(p.dir, '.sluice');
    const files = fs.readdirSync(home).filter((f) => f.startsWith('state.db'));
    expect(files).to.include('state.db');
    for (const f of files) expectNoSecret(f, fs.readFileSync(path.join(home, f)));
  });

  it('connections list and get (table and --json) mask the whole password', () => {
    for (const args of [
      ['connections', 'list'],
      ['connections', 'list', '--json'],
    ]) {
      const r = p.run(args);
      expect(r.code, all(r)).to.equal(0);
      expectNoSecret(args.join(' '), all(r));
    }
    for (const n of ['slash', 'hash', 'several_at', 'mixed', 'space']) {
      const r = p.run(['connections', 'get', n, '--json']);
      expect(r.code, all(r)).to.equal(0);
      expect((JSON.parse(r.stdout) as { url: string }).url).to.equal('postgres://etl:***@127.0.0.1:1/sparkify');
      expectNoSecret(`connections get ${n}`, all(r));
    }
  });

  it('connections set refuses each such URL without echoing it, and its hint reads as written', async () => {
    const children = NAMES.map((n) =>
      p.start(['connections', 'set', 'warehouse', `postgres://etl:${password(n)}@db.example:5432/sparkify`]),
    );
    for (const c of children) {
      const code = await c.done;
      const r = c.output();
      expect(code, all(r)).to.equal(2);
      expectNoSecret('connections set', all(r));
      expect(r.stderr).to.include('postgres://etl:***@db.example:5432/sparkify');
      // the advice is not itself mangled by redaction
      expect(r.stderr).to.include('the state DB stores no secrets: use a reference such as ?password_env=VAR');
    }
    const q = p.run(['connections', 'set', 'warehouse', 'redshift://u@h:5439/db?password=Qx7sEcr3t']);
    expect(q.stderr).to.include('(redshift://u@h:5439/db?password=***);');
    expect(q.stderr).not.to.include('Qx7sEcr3t');
  });
});
