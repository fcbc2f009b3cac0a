/**
 * `sluice backfill songplays --from 2018-11-01 --to 2018-11-30` on the REAL
 * Sparkify data (../shared/data/sparkify) through the CLI, on the embedded
 * warehouse: the same tables as the pipeline's integration test, whose
 * expected values are computed from the JSON files in plain JavaScript.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { Project, ROOT } from '../helpers/cli.js';
import { expectedFor, readDayEvents, SPARKIFY_DIR, sparkifyAvailable } from '../integration/operators/sparkify-expected.js';

function sqlJson(p: Project, query: string): Record<string, unknown>[] {
  const r = p.run(['sql', query, '--json']);
  expect(r.code, r.stderr).to.equal(0);
  return JSON.parse(r.stdout) as Record<string, unknown>[];
}

describe('backfill of November 2018 on the real Sparkify data (CLI, PGlite)', function () {
  this.timeout(300_000);
  let p: Project;

  before(function () {
    if (!sparkifyAvailable()) {
      console.warn(`    (backfill test skipped: no real data at ${SPARKIFY_DIR})`);
      this.skip();
    }
    p = new Project({ SLUICE_CONN_LAKE: SPARKIFY_DIR });
    p.write('dags/songplays.yaml', fs.readFileSync(path.join(ROOT, 'dags', 'songplays.yaml'), 'utf8'));
  });
  after(() => p?.remove());

  it('dry run lists the 30 intervals; the backfill runs them all and gives the expected tables', () => {
    const dry = p.run(['backfill', 'songplays', '--from', '2018-11-01', '--to', '2018-11-30', '--dry-run', '--json']);
    expect(dry.code, dry.stderr).to.equal(0);
    const plan = JSON.parse(dry.stdout) as { logical_date: string; action: string }[];
    expect(plan).to.have.length(30);
    expect(plan[0]).to.include({ logical_date: '2018-11-01T00:00:00Z', action: 'create' });
    expect(plan[29]!.logical_date).to.equal('2018-11-30T00:00:00Z');

    const r = p.run(['backfill', 'songplays', '--from', '2018-11-01', '--to', '2018-11-30']);
    expect(r.code, r.stdout + r.stderr).to.equal(0);
    expect(r.stdout).to.contain('backfill songplays: 30 succeeded, 0 failed, 0 skipped');

    const exp = expectedFor(readDayEvents());
    const counts = sqlJson(
      p,
      `SELECT (SELECT count(*) FROM songplays) AS songplays, (SELECT count(*) FROM users) AS users,
              (SELECT count(*) FROM songs) AS songs, (SELECT count(*) FROM artists) AS artists,
              (SELECT count(*) FROM time) AS time, (SELECT count(*) FROM songplays WHERE song_id IS NOT NULL) AS matched`,
    )[0];
    expect(counts).to.deep.equal({
      songplays: exp.songplays,
      users: exp.users,
      songs: exp.songs,
      artists: exp.artists,
      time: exp.times,
      matched: exp.matched.length,
    });
    expect(exp.songplays).to.equal(6820);
    const [m] = exp.matched;
    expect(sqlJson(p, 'SELECT user_id, song_id, artist_id FROM songplays WHERE song_id IS NOT NULL')).to.deep.equal([
      { user_id: m!.userId, song_id: m!.song_id, artist_id: m!.artist_id },
    ]);
    // Each user's level is the level of their latest event.
    const levels = sqlJson(p, 'SELECT user_id, level FROM users');
    for (const u of levels) expect(u.level, `user ${u.user_id}`).to.equal(exp.latestLevel.get(String(u.user_id)));

    // Backfilling again with the default (--reprocess failed) skips the 30 successful runs.
    const again = p.run(['backfill', 'songplays', '--from', '2018-11-01', '--to', '2018-11-30']);
    expect(again.code).to.equal(0);
    expect(again.stdout).to.contain('0 to run, 30 skipped');
    // The report of a day shows the rows loaded and the checks.
    const rep = p.run(['report', 'songplays', '--date', '2018-11-21', '--json']);
    expect(rep.code, rep.stderr).to.equal(0);
    const report = JSON.parse(rep.stdout);
    expect(report.checks_failed).to.equal(0);
    const stage = report.tasks.find((t: { task_id: string }) => t.task_id === 'stage_events');
    expect(stage.outputs.rows_loaded).to.equal(readDayEvents('2018-11-21').length);
  });
});
