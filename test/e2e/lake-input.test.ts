/**
 * Hostile lakes through the real CLI on the embedded warehouse: a symlink
 * loop and links that reach the same files twice, JSON nested thousands of
 * levels deep in a mapped column, and a truncated gzip object. Each song is
 * loaded once, a loop is named in the task log, deep nesting is a rejected
 * line under MAXERROR, and a corrupt gzip fails the task naming the object
 * and the line while the table keeps the rows it had.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { Project } from '../helpers/cli.js';
import { freshPgliteUrl } from '../helpers/pglite.js';

/** A DAG that creates `table` and stages `source` into it. */
function stageDag(dag: string, table: string, source: string, maxerror: number): string {
  return [
    `dag: ${dag}`,
    'schedule: "@daily"',
    'start_date: 2018-11-01',
    'tasks:',
    '  create:',
    '    operator: Sql',
    `    sql: "CREATE TABLE IF NOT EXISTS ${table} (song_id varchar(32) NOT NULL, title varchar(256), payload varchar(65535))"`,
    '  stage:',
    '    operator: StageToRedshift',
    '    upstream: [create]',
    `    table: ${table}`,
    `    source: ${source}`,
    '    json: auto',
    `    maxerror: ${maxerror}`,
    '',
  ].join('\n');
}

function song(id: string, extra = ''): string {
  return `{"song_id":"${id}","title":"title ${id}"${extra}}\n`;
}

describe('CLI: hostile lake input (symlinks, deep JSON, corrupt gzip)', function () {
  this.timeout(180_000);
  let p: Project;
  let lake: string;

  before(async () => {
    const { url } = await freshPgliteUrl();
    p = new Project({ SLUICE_CONN_WAREHOUSE: url });
    lake = path.join(p.dir, '.sluice', 'lake');
  });
  after(() => p.remove());

  function runDag(dag: string, extra: string[] = []) {
    return p.run(['run-dag', dag, '--date', '2018-11-01', ...extra]);
  }

  function counts(table: string): Record<string, number> {
    const r = p.run(['sql', `SELECT song_id, count(*)::int AS n FROM ${table} GROUP BY song_id ORDER BY song_id`, '--json']);
    expect(r.code, r.stderr).to.equal(0);
    const rows = JSON.parse(r.stdout) as { song_id: string; n: number }[];
    return Object.fromEntries(rows.map((x) => [x.song_id, Number(x.n)]));
  }

  it('follows links into the lake once: a loop is skipped and named, each song loads exactly once', () => {
    const songs = path.join(lake, 'song_data');
    fs.mkdirSync(path.join(songs, 'A', 'B'), { recursive: true });
    fs.mkdirSync(path.join(songs, 'Z'), { recursive: true });
    fs.writeFileSync(path.join(songs, 'A', 'S1.json'), song('S1'));
    fs.writeFileSync(path.join(songs, 'A', 'B', 'S2.json'), song('S2'));
    fs.writeFileSync(path.join(songs, 'Z', 'S3.json'), song('S3'));
    // Data linked in from outside the lake is loaded (under the link's key).
    const outside = path.join(p.dir, 'more-songs');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'S4.json'), song('S4'));
    fs.symlinkSync(outside, path.join(songs, 'linked'));
    // The hostile part: a loop back to song_data, a second way into A, a file linked twice, a dangling link.
    fs.symlinkSync('..', path.join(songs, 'A', 'loop'));
    fs.symlinkSync('A', path.join(songs, 'again'));
    fs.symlinkSync('../A/S1.json', path.join(songs, 'Z', 'S1-copy.json'));
    fs.symlinkSync('nowhere', path.join(songs, 'Z', 'dangling.json'));
    p.write('dags/songs_links.yaml', stageDag('songs_links', 'staging_links', 'song_data/', 0));

    const r = runDag('songs_links');
    expect(r.code, r.stdout + r.stderr).to.equal(0);
    expect(counts('staging_links')).to.deep.equal({ S1: 1, S2: 1, S3: 1, S4: 1 });

    const logs = p.run(['logs', 'songs_links__manual__2018-11-01T00:00:00Z', 'stage']);
    expect(logs.code, logs.stderr).to.equal(0);
    expect(logs.stdout).to.match(/WARN .*symlink loop.*song_data\/A\/loop/);
    expect(logs.stdout).to.match(/WARN .*song_data\/again.*already listed as .*song_data\/A/);
    expect(logs.stdout).to.match(/WARN .*song_data\/Z\/S1-copy\.json.*already listed as .*song_data\/A\/S1\.json/);
    expect(logs.stdout).to.match(/WARN .*song_data\/Z\/dangling\.json.*broken symlink/);
  });

  it('rejects a line with JSON nested 5,000 deep in a mapped column, under MAXERROR, naming object, line and column', () => {
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    const dir = path.join(lake, 'deep_data');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'songs.json'), song('D1') + song('D2', `,"payload":${deep}`) + song('D3'));
    p.write('dags/songs_deep.yaml', stageDag('songs_deep', 'staging_deep', 'deep_data/', 1));
    p.write('dags/songs_deep_strict.yaml', stageDag('songs_deep_strict', 'staging_deep_strict', 'deep_data/', 0));

    const ok = runDag('songs_deep');
    expect(ok.code, ok.stdout + ok.stderr).to.equal(0);
    expect(counts('staging_deep')).to.deep.equal({ D1: 1, D3: 1 });
    const report = p.run(['report', 'songs_deep', '--date', '2018-11-01', '--json']);
    expect(report.stdout).to.contain('deep_data/songs.json');
    type Rej = { object: string; line: number; column: string; reason: string };
    const rej = (JSON.parse(report.stdout) as { tasks: { rejections: Rej[] }[] }).tasks.flatMap((t) => t.rejections);
    expect(rej).to.have.length(1);
    expect(rej[0]!.object).to.match(/deep_data\/songs\.json$/);
    expect(rej[0]!.line).to.equal(2);
    expect(rej[0]!.column).to.equal('payload');
    expect(rej[0]!.reason).to.match(/nested deeper than 1000 levels/);

    const strict = runDag('songs_deep_strict');
    expect(strict.code).to.equal(1);
    expect(strict.stdout + strict.stderr).to.not.contain('Maximum call stack');
    expect(strict.stdout + strict.stderr).to.match(
      /deep_data\/songs\.json line 2, column payload: JSON nested deeper than 1000 levels/,
    );
  });

  it('fails on a truncated gzip naming the object and line, and the table keeps its rows', () => {
    const dir = path.join(lake, 'gz_data');
    fs.mkdirSync(dir, { recursive: true });
    const body = Array.from({ length: 2000 }, (_, i) => song(`G${i}`)).join('');
    fs.writeFileSync(path.join(dir, 'a.json.gz'), gzipSync(body));
    p.write('dags/songs_gz.yaml', stageDag('songs_gz', 'staging_gz', 'gz_data/', 0));
    const first = runDag('songs_gz');
    expect(first.code, first.stdout + first.stderr).to.equal(0);
    expect(Object.keys(counts('staging_gz'))).to.have.length(2000);

    // A second object cut short, as an interrupted upload leaves it.
    const gz = gzipSync(body);
    fs.writeFileSync(path.join(dir, 'b.json.gz'), gz.subarray(0, Math.floor(gz.length * 0.6)));
    const r = runDag('songs_gz', ['--rerun']);
    expect(r.code).to.equal(1);
    const out = r.stdout + r.stderr;
    expect(out).to.not.match(/^.*failed.*: unexpected end of file\s*$/m);
    expect(out).to.match(/gz_data\/b\.json\.gz/);
    expect(out).to.match(/corrupt or truncated gzip/);
    // The replace-mode load was rolled back whole: the 2,000 rows of the first run are still there, once each.
    const after = counts('staging_gz');
    expect(Object.keys(after)).to.have.length(2000);
    expect(Object.values(after).every((n) => n === 1)).to.equal(true);
    const logs = p.run(['logs', 'songs_gz__manual__2018-11-01T00:00:00Z', 'stage']);
    expect(logs.stdout).to.match(/gz_data\/b\.json\.gz.* line \d+/);
  });
});
