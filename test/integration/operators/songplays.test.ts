/**
 * dags/songplays.yaml end to end on the REAL Udacity Sparkify data
 * (../shared/data/sparkify): one day on PGlite and on a PostgreSQL server,
 * and all 30 days of November 2018 on PGlite. Expected values come from
 * sparkify-expected.ts, which reads the JSON files with plain JavaScript.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import type { CheckResult } from '../../../operators/data-quality.js';
import { freshPgliteUrl } from '../../helpers/pglite.js';
import { usePostgres } from '../../helpers/postgres.js';
import { expectedFor, readDayEvents, SPARKIFY_DIR, sparkifyAvailable } from './sparkify-expected.js';
import { closeRuns, count, makeEnv, PROJECT_ROOT, rows, runDag, type Env } from './support.js';

const DAG = fs.readFileSync(path.join(PROJECT_ROOT, 'dags/songplays.yaml'), 'utf8');
const TABLES = ['songplays', 'users', 'songs', 'artists', 'time'] as const;

function skipWithoutData(this: Mocha.Context): void {
  if (!sparkifyAvailable()) {
    console.warn(`    (Sparkify tests skipped: no real data at ${SPARKIFY_DIR}; set SLUICE_SPARKIFY_DIR)`);
    this.skip();
  }
}

async function tableCounts(env: Env): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of TABLES) out[t] = await count(env, `"${t}"`);
  return out;
}

/** The one day (2018-11-21) on a warehouse: counts, the matched play, idempotency. */
function describeOneDay(label: string, warehouseUrl: () => Promise<string>) {
  describe(`one day (2018-11-21) on ${label}`, function () {
    this.timeout(120_000);
    let env: Env;

    before(async function () {
      skipWithoutData.call(this);
      env = makeEnv(await warehouseUrl(), SPARKIFY_DIR);
    });
    after(async () => {
      closeRuns();
      await env?.close();
    });

    it('builds the star schema with the counts read from the JSON files, and a rerun changes nothing', async () => {
      const exp = expectedFor(readDayEvents('2018-11-21'));
      expect(exp.events).to.equal(517); // SOURCE.md: events per file
      expect(exp.matched).to.have.length(1);

      const r = await runDag(env, DAG, '2018-11-21T00:00:00Z');
      expect(r.state, JSON.stringify(r.tries('quality').map((t) => t.error))).to.equal('success');
      expect(r.outputs('stage_events')).to.include({ rows_loaded: exp.events, objects: 1, rejected: 0 });
      expect(r.outputs('stage_songs')).to.include({ rows_loaded: 71, objects: 71, rejected: 0 });
      expect(r.outputs('load_songplays')).to.include({ rows_inserted: exp.nextSong, rows_deleted: 0 });

      const counts = await tableCounts(env);
      expect(counts).to.deep.equal({
        songplays: exp.songplays,
        users: exp.users,
        songs: 71,
        artists: 69,
        time: exp.times,
      });
      expect(exp.songs).to.equal(71);
      expect(exp.artists).to.equal(69);

      const matched = await rows(env, 'SELECT user_id, song_id, artist_id, start_time FROM songplays WHERE song_id IS NOT NULL');
      const m = exp.matched[0]!;
      expect(matched).to.deep.equal([{ user_id: '15', song_id: m.song_id, artist_id: m.artist_id, start_time: new Date(m.ts) }]);
      const [song] = await rows(env, 'SELECT title, duration FROM songs WHERE song_id = $1', [m.song_id]);
      expect(song).to.deep.equal({ title: 'Setanta matins', duration: 269.58322 });
      const [artist] = await rows(env, 'SELECT name FROM artists WHERE artist_id = $1', [m.artist_id]);
      expect(artist).to.deep.equal({ name: 'Elena' });

      for (const u of await rows<{ user_id: string; level: string }>(env, 'SELECT user_id, level FROM users')) {
        expect(u.level, `level of user ${u.user_id}`).to.equal(exp.latestLevel.get(u.user_id));
      }
      const checks = r.outputs('quality').checks as CheckResult[];
      expect(checks.filter((c) => !c.passed)).to.deep.equal([]);
      expect(checks.find((c) => c.name === 'plays_matched_to_a_song')).to.include({ observed: 1, severity: 'warn' });

      // rerunning the date (a new run in a new state store) replaces, never duplicates
      const again = await runDag(env, DAG, '2018-11-21T00:00:00Z');
      expect(again.state).to.equal('success');
      expect(again.outputs('load_songplays')).to.include({ rows_deleted: exp.songplays, rows_inserted: exp.songplays });
      expect(await tableCounts(env)).to.deep.equal(counts);
    });
  });
}

describe('songplays DAG on the real Sparkify data', () => {
  describeOneDay('PGlite', async () => (await freshPgliteUrl()).url);

  describe('PostgreSQL server', () => {
    const pg = usePostgres('songplays');
    describeOneDay('PostgreSQL', async () => pg.url);
  });

  describe('all 30 days of November 2018 on PGlite, one run per day', function () {
    this.timeout(180_000);
    let env: Env;

    before(async function () {
      skipWithoutData.call(this);
      env = makeEnv((await freshPgliteUrl()).url, SPARKIFY_DIR);
    });
    after(async () => {
      closeRuns();
      await env?.close();
    });

    it('ends with the counts read from the JSON files', async () => {
      const exp = expectedFor(readDayEvents());
      expect(exp.events).to.equal(8056);
      expect(exp.nextSong).to.equal(6820);
      const warned: string[] = [];
      for (let day = 1; day <= 30; day++) {
        const date = `2018-11-${String(day).padStart(2, '0')}`;
        const r = await runDag(env, DAG, `${date}T00:00:00Z`);
        expect(r.state, `run of ${date}`).to.equal('success');
        const events = readDayEvents(date);
        expect(r.outputs('stage_events'), date).to.include({ rows_loaded: events.length });
        expect(r.outputs('load_songplays'), date).to.include({
          rows_inserted: events.filter((e) => e.page === 'NextSong').length,
        });
        const checks = r.outputs('quality').checks as CheckResult[];
        for (const c of checks.filter((x) => !x.passed)) {
          expect(c.severity, `${date}: ${c.name}`).to.equal('warn');
          warned.push(`${date}:${c.name}`);
        }
        closeRuns();
      }
      expect(await tableCounts(env)).to.deep.equal({
        songplays: 6820,
        users: exp.users,
        songs: 71,
        artists: 69,
        time: exp.times,
      });
      expect(await count(env, 'songplays WHERE song_id IS NOT NULL')).to.equal(1);
      // the warn check fails on every day but the 21st, never failing a run
      expect(warned).to.have.length(29);
      expect(warned.some((w) => w.startsWith('2018-11-21'))).to.equal(false);
      for (const u of await rows<{ user_id: string; level: string }>(env, 'SELECT user_id, level FROM users')) {
        expect(u.level, `level of user ${u.user_id}`).to.equal(exp.latestLevel.get(u.user_id));
      }
      const perDay = await rows<{ d: Date; n: number }>(
        env,
        `SELECT CAST(start_time AS DATE) AS d, COUNT(*) AS n FROM songplays GROUP BY 1 ORDER BY 1`,
      );
      expect(perDay).to.have.length(30);
      expect(await count(env, 'time')).to.equal(exp.times);
    });
  });
});
