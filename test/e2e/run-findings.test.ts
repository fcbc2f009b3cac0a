/**
 * What a run found, said where people look, through the real CLI on PGlite:
 * songplays fails when the day's event file holds no play of the day (an
 * interval-scoped row count), run-dag's summary shows WARN checks and
 * rejected-line counts, and `sluice report` exits 1 for a failed run.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { Project, ROOT } from '../helpers/cli.js';

/** One Sparkify event line (the Udacity log format) at epoch milliseconds `ts`. */
function event(ts: number, i: number): string {
  return JSON.stringify({
    artist: 'Elena',
    auth: 'Logged In',
    firstName: 'Ann',
    gender: 'F',
    itemInSession: i,
    lastName: 'Lee',
    length: 269.58322,
    level: 'free',
    location: 'Town',
    method: 'PUT',
    page: 'NextSong',
    registration: 1540000000000,
    sessionId: 7,
    song: 'Setanta matins',
    status: 200,
    ts,
    userAgent: 'agent',
    userId: '15',
  });
}

const SONG = JSON.stringify({
  num_songs: 1,
  artist_id: 'ARAAA1',
  artist_latitude: null,
  artist_longitude: null,
  artist_location: '',
  artist_name: 'Elena',
  song_id: 'SOAAA1',
  title: 'Setanta matins',
  duration: 269.58322,
  year: 0,
});

const WARNED = `dag: warned
tasks:
  create:
    operator: Sql
    sql: CREATE TABLE IF NOT EXISTS t (a INTEGER)
  stage:
    operator: StageToRedshift
    upstream: [create]
    table: t
    source: data/
    json: auto
    maxerror: 5
  check:
    operator: DataQuality
    upstream: [stage]
    checks:
      - { name: few_rows, type: row_count, table: t, min: 100, severity: warn }
      - { type: row_count, table: t, where: "a > {{ params.floor | sql_literal }}", min: 1 }
params:
  floor: { type: integer, default: 0 }
`;

const FAILING = `dag: failing
tasks:
  ok: { operator: Succeed }
  broken: { operator: Fail, upstream: [ok], message: boom }
`;

describe('run findings through the CLI: interval row count, summary warnings, report exit status', function () {
  this.timeout(240_000);
  let p: Project;
  before(() => {
    p = new Project();
    // the shipped DAG, without its 5-minute retries
    const dag = fs.readFileSync(path.join(ROOT, 'dags', 'songplays.yaml'), 'utf8').replace(/retries: 3/, 'retries: 0');
    p.write('dags/songplays.yaml', dag);
    p.write('dags/warned.yaml', WARNED);
    p.write('dags/failing.yaml', FAILING);
    // 2018-11-20 is a good day; the 2018-11-21 file holds the events of 2018-11-20 again (a mis-filed export).
    const nov20 = [0, 1, 2].map((i) => event(Date.UTC(2018, 10, 20, 12) + i * 1000, i)).join('\n') + '\n';
    p.write('.sluice/lake/log_data/2018/11/2018-11-20-events.json', nov20);
    p.write('.sluice/lake/log_data/2018/11/2018-11-21-events.json', nov20);
    p.write('.sluice/lake/song_data/A/A/A/TRAAAAA.json', SONG);
    p.write('.sluice/lake/data/rows.json', '{"a": 1}\n{"a": 2}\nnot json\n{"a": "many"}\n');
  });
  after(() => p?.remove());

  it('songplays fails when the interval got no facts, naming the check (zero facts for the day is an error)', () => {
    const good = p.run(['run-dag', 'songplays', '--date', '2018-11-20']);
    expect(good.code, good.stdout + good.stderr).to.equal(0);
    // the warehouse now holds facts, users and time rows: only an interval-scoped count sees the empty day
    const r = p.run(['run-dag', 'songplays', '--date', '2018-11-21']);
    expect(r.code, r.stdout + r.stderr).to.equal(1);
    expect(r.stdout).to.match(/^stage_events\s+success/m);
    expect(r.stdout).to.match(/^quality\s+failed\s+1\s.*songplays_in_interval \(observed 0, expected >= 1\)/m);
    const report = p.run(['report', 'songplays']);
    expect(report.code).to.equal(1);
    expect(report.stdout).to.match(/songplays_in_interval\s+error\s+FAIL\s+0/);
  });

  it("run-dag's summary shows rejected-line counts and WARN checks", () => {
    const r = p.run(['run-dag', 'warned', '--date', '2024-01-01']);
    expect(r.code, r.stdout + r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^stage\s+success\s+1\s.*2 rejected lines/m);
    expect(r.stdout).to.match(/^check\s+success\s+1\s.*WARN few_rows \(observed 2, expected >= 100\)/m);
    expect(r.stdout).to.contain('sluice report warned');
    const json = p.run(['run-dag', 'warned', '--date', '2024-01-01', '--rerun', '--json']);
    expect(json.code, json.stderr).to.equal(0);
    const s = JSON.parse(json.stdout) as { tasks: { task_id: string; rejected_lines: number; warnings: { check: string }[] }[] };
    const by = Object.fromEntries(s.tasks.map((t) => [t.task_id, t]));
    expect(by.stage!.rejected_lines).to.equal(2);
    expect(by.check!.warnings.map((w) => w.check)).to.deep.equal(['few_rows']);
    expect(by.create!.rejected_lines).to.equal(0);
  });

  it('sluice report exits 1 for a failed run even when no check failed', () => {
    const r = p.run(['run-dag', 'failing', '--date', '2024-01-01']);
    expect(r.code).to.equal(1);
    const report = p.run(['report', 'failing']);
    expect(report.code, report.stdout + report.stderr).to.equal(1);
    const help = p.run(['report', '--help']);
    expect(help.stdout).to.contain('exit 1 if the run failed');
    const ok = p.run(['report', 'warned']);
    expect(ok.code, ok.stdout).to.equal(0);
  });
});
