import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import {
  EVENT_KEYS,
  formatEvent,
  generateSampleLake,
  LOGGED_OUT_PAGES,
  PAGE_HTTP,
  SONG_KEYS,
  songPath,
  type Page,
  type SampleLakeOptions,
  type SampleLakeResult,
  type SparkifyEvent,
  type SongRecord,
} from '../../../sample/generate.js';
import { listFiles, readText, REAL_DATA } from './helpers.js';

const OPTS = { days: 3, eventsPerDay: 2500, songs: 300, seed: 42, startDate: '2018-11-29' } as const;

/** Key order of the first line of a real event file, or the documented order. */
function realEventKeys(): string[] {
  if (!REAL_DATA) return [...EVENT_KEYS];
  const first = listFiles(join(REAL_DATA, 'log_data'))[0]!;
  return Object.keys(JSON.parse(readText(join(REAL_DATA, 'log_data', first)).split('\n')[0]!));
}

function realSongKeys(): string[] {
  if (!REAL_DATA) return [...SONG_KEYS];
  const first = listFiles(join(REAL_DATA, 'song_data'))[0]!;
  return Object.keys(JSON.parse(readText(join(REAL_DATA, 'song_data', first))));
}

interface Lake {
  dir: string;
  result: SampleLakeResult;
  songs: { rel: string; text: string; song: SongRecord }[];
  days: { rel: string; text: string; lines: string[]; events: SparkifyEvent[] }[];
}

function readLake(dir: string, result: SampleLakeResult, gz = false): Lake {
  const read = (p: string): string => (gz ? gunzipSync(readFileSync(p)).toString('utf8') : readText(p));
  const songs = listFiles(join(dir, 'song_data')).map((f) => {
    const text = read(join(dir, 'song_data', f));
    return { rel: 'song_data/' + f, text, song: JSON.parse(text) as SongRecord };
  });
  const days = listFiles(join(dir, 'log_data')).map((f) => {
    const text = read(join(dir, 'log_data', f));
    const lines = text === '' ? [] : text.split('\n');
    return { rel: 'log_data/' + f, text, lines, events: lines.map((l) => JSON.parse(l) as SparkifyEvent) };
  });
  return { dir, result, songs, days };
}

describe('sample: generateSampleLake', function () {
  this.timeout(120_000);
  const tmp = mkdtempSync(join(tmpdir(), 'sluice-sample-'));
  let lake: Lake;
  const make = async (name: string, extra: Partial<SampleLakeOptions> = {}): Promise<[string, SampleLakeResult]> => {
    const out = join(tmp, name);
    return [out, await generateSampleLake({ ...OPTS, out, ...extra })];
  };

  before(async () => {
    const [dir, result] = await make('a');
    lake = readLake(dir, result);
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  describe('determinism', () => {
    it('gives byte-identical lakes for the same options', async () => {
      const [dir, result] = await make('a-again');
      expect(result).to.deep.equal(lake.result);
      const files = listFiles(dir);
      expect(files).to.deep.equal(listFiles(lake.dir));
      for (const f of files) expect(readFileSync(join(dir, f)).equals(readFileSync(join(lake.dir, f))), f).to.equal(true);
    });

    it('gives different data for a different seed', async () => {
      const [dir] = await make('b', { seed: 43 });
      expect(listFiles(join(dir, 'song_data'))).to.not.deep.equal(listFiles(join(lake.dir, 'song_data')));
      const f = lake.days[0]!.rel;
      expect(readText(join(dir, f))).to.not.equal(lake.days[0]!.text);
    });

    it('keeps the songs when only the event volume changes', async () => {
      const [dir] = await make('c', { eventsPerDay: 10, days: 1 });
      expect(listFiles(join(dir, 'song_data'))).to.deep.equal(listFiles(join(lake.dir, 'song_data')));
    });
  });

  describe('counts', () => {
    it('returns what is on disk', () => {
      const { result } = lake;
      expect(result.songFiles).to.equal(OPTS.songs).and.to.equal(lake.songs.length);
      expect(result.eventFiles).to.equal(OPTS.days).and.to.equal(lake.days.length);
      const events = lake.days.flatMap((d) => d.events);
      expect(result.events)
        .to.equal(OPTS.days * OPTS.eventsPerDay)
        .and.to.equal(events.length);
      expect(result.nextSongEvents).to.equal(events.filter((e) => e.page === 'NextSong').length);
      const size = listFiles(lake.dir).reduce((n, f) => n + statSync(join(lake.dir, f)).size, 0);
      expect(result.bytes).to.equal(size);
      for (const d of lake.days) expect(d.lines.length).to.equal(OPTS.eventsPerDay);
    });

    it('writes a JSONPaths file with the 18 event keys in order', () => {
      const paths = JSON.parse(readText(join(lake.dir, 'log_json_path.json'))) as { jsonpaths: string[] };
      expect(paths.jsonpaths).to.deep.equal(EVENT_KEYS.map((k) => `$['${k}']`));
    });
  });

  describe('song files', () => {
    it('are one line, no trailing newline, with the real key order and types', () => {
      const keys = realSongKeys();
      for (const { text, song, rel } of lake.songs) {
        expect(text, rel).to.not.include('\n');
        expect(Object.keys(song)).to.deep.equal(keys);
        expect(song.num_songs).to.equal(1);
        expect(song.artist_id).to.match(/^AR[A-Z0-9]{5}[0-9A-F]{11}$/);
        expect(song.song_id).to.match(/^SO[A-Z]{5}[0-9A-F]{11}$/);
        for (const k of ['artist_latitude', 'artist_longitude'] as const) {
          expect(song[k] === null || typeof song[k] === 'number').to.equal(true);
        }
        expect(song.artist_latitude === null).to.equal(song.artist_longitude === null);
        expect(song.artist_location).to.be.a('string');
        expect(song.artist_name).to.be.a('string').and.not.equal('');
        expect(song.title).to.be.a('string').and.not.equal('');
        expect(song.duration).to.be.a('number').and.greaterThan(0);
        expect(Number.isInteger(song.year)).to.equal(true);
        expect(/^[\x20-\x7e]*$/.test(text), rel).to.equal(true); // ASCII only on disk: \u escapes
      }
    });

    it('live under song_data/A/B/C with the 3rd-5th characters of the track id', () => {
      for (const { rel } of lake.songs) {
        const track = rel
          .split('/')
          .pop()!
          .replace(/\.json$/, '');
        expect(track).to.match(/^TR[A-Z]{5}[0-9A-F]{11}$/);
        const [, a, b, c] = rel.split('/');
        expect([a, b, c]).to.deep.equal([track[2], track[3], track[4]]);
        expect(songPath(track)).to.equal(rel);
      }
    });

    it('vary like the real ones: nulls, empty locations, year 0, shared artists, non-ASCII', () => {
      const s = lake.songs.map((x) => x.song);
      const share = (f: (x: SongRecord) => boolean): number => s.filter(f).length / s.length;
      expect(share((x) => x.artist_latitude === null)).to.be.within(0.3, 0.8);
      expect(share((x) => x.artist_location === '')).to.be.within(0.2, 0.6);
      expect(share((x) => x.year === 0)).to.be.within(0.4, 0.8);
      expect(share((x) => x.year >= 1950 && x.year <= 2010)).to.be.within(0.2, 0.6);
      const perArtist = new Map<string, number>();
      for (const x of s) perArtist.set(x.artist_id, (perArtist.get(x.artist_id) ?? 0) + 1);
      expect([...perArtist.values()].some((n) => n > 1)).to.equal(true);
      expect(s.some((x) => /[^\x00-\x7f]/.test(x.title))).to.equal(true);
      expect(new Set(s.map((x) => x.song_id)).size).to.equal(s.length);
      const textsWithUnicode = lake.songs.filter((x) => /[^\x00-\x7f]/.test(x.song.title));
      expect(textsWithUnicode.every((x) => /\\u[0-9a-f]{4}/.test(x.text))).to.equal(true);
    });
  });

  describe('event files', () => {
    it('are named by day, newline-delimited, without a trailing newline', () => {
      expect(lake.days.map((d) => d.rel)).to.deep.equal([
        'log_data/2018/11/2018-11-29-events.json',
        'log_data/2018/11/2018-11-30-events.json',
        'log_data/2018/12/2018-12-01-events.json',
      ]);
      for (const d of lake.days) {
        expect(d.text.endsWith('\n')).to.equal(false);
        expect(d.text.endsWith('}')).to.equal(true);
      }
    });

    it('have the real key order and types on every line, and re-format byte for byte', () => {
      const keys = realEventKeys();
      const str = (v: unknown): boolean => typeof v === 'string';
      const strOrNull = (v: unknown): boolean => v === null || typeof v === 'string';
      const int = (v: unknown): boolean => Number.isInteger(v);
      for (const d of lake.days) {
        d.events.forEach((e, i) => {
          expect(Object.keys(e)).to.deep.equal(keys);
          expect(formatEvent(e)).to.equal(d.lines[i]);
          expect(strOrNull(e.artist) && strOrNull(e.song) && strOrNull(e.firstName) && strOrNull(e.lastName)).to.equal(true);
          expect(strOrNull(e.location) && strOrNull(e.userAgent) && strOrNull(e.gender)).to.equal(true);
          expect(str(e.userId) && str(e.auth) && str(e.level) && str(e.method) && str(e.page)).to.equal(true);
          expect(int(e.itemInSession) && int(e.sessionId) && int(e.status) && int(e.ts)).to.equal(true);
          expect(e.length === null || typeof e.length === 'number').to.equal(true);
          expect(e.registration === null || typeof e.registration === 'number').to.equal(true);
          expect(e.userId === '' || /^[1-9][0-9]*$/.test(e.userId)).to.equal(true);
        });
        // registration is written as a float, like 1540919166796.0
        const first = d.lines.find((l) => !l.includes('"registration":null'))!;
        expect(first).to.match(/"registration":\d{13}\.0,/);
      }
    });

    it('have the real pages, methods and statuses, with song fields only on NextSong', () => {
      const counts = new Map<Page, number>();
      const all = lake.days.flatMap((d) => d.events);
      for (const e of all) {
        expect(PAGE_HTTP).to.have.property(e.page);
        expect({ method: e.method, status: e.status }).to.deep.equal(PAGE_HTTP[e.page]);
        const song = e.page === 'NextSong';
        expect(e.artist !== null && e.song !== null && e.length !== null, e.page).to.equal(song);
        expect(e.artist === null && e.song === null && e.length === null).to.equal(!song);
        counts.set(e.page, (counts.get(e.page) ?? 0) + 1);
      }
      expect((counts.get('NextSong') ?? 0) / all.length).to.be.within(0.78, 0.9);
      expect((counts.get('Home') ?? 0) / all.length).to.be.within(0.05, 0.15);
      for (const p of ['Login', 'Logout', 'Settings', 'Help', 'About', 'Upgrade', 'Downgrade', 'Submit Upgrade'] as Page[]) {
        expect(counts.get(p) ?? 0, p).to.be.greaterThan(0);
      }
    });

    it('write logged-out events with userId "" and null user fields, on logged-out pages only', () => {
      const out = lake.days.flatMap((d) => d.events).filter((e) => e.auth === 'Logged Out');
      expect(out.length).to.be.greaterThan(0);
      for (const e of out) {
        expect(e.userId).to.equal('');
        expect([e.firstName, e.lastName, e.gender, e.location, e.userAgent, e.registration]).to.deep.equal([
          null,
          null,
          null,
          null,
          null,
          null,
        ]);
        expect(LOGGED_OUT_PAGES).to.include(e.page);
        expect(['free', 'paid']).to.include(e.level);
      }
      for (const e of lake.days.flatMap((d) => d.events).filter((x) => x.auth === 'Logged In')) {
        expect(e.userId).to.not.equal('');
        expect(e.firstName).to.be.a('string');
      }
    });

    it('keep every ts within the day of the file name, sorted, and sessions counting up', () => {
      for (const d of lake.days) {
        const day = d.rel.slice(-22, -12);
        const start = Date.parse(day + 'T00:00:00Z');
        let prev = start;
        const sessions = new Map<number, { item: number; ts: number }>();
        for (const e of d.events) {
          expect(e.ts)
            .to.be.at.least(start)
            .and.below(start + 86_400_000);
          expect(e.ts).to.be.at.least(prev);
          prev = e.ts;
          const s = sessions.get(e.sessionId);
          if (s) {
            expect(e.itemInSession).to.equal(s.item + 1);
            expect(e.ts).to.be.at.least(s.ts);
          } else {
            expect(e.itemInSession).to.equal(0);
          }
          sessions.set(e.sessionId, { item: e.itemInSession, ts: e.ts });
        }
        expect(sessions.size).to.be.greaterThan(10);
      }
    });

    it('changes levels through Submit Upgrade / Submit Downgrade only', () => {
      const level = new Map<string, string>();
      let upgrades = 0;
      for (const e of lake.days.flatMap((d) => d.events)) {
        if (e.userId === '') continue;
        const known = level.get(e.userId);
        if (known) expect(e.level, `user ${e.userId} at ${e.ts}`).to.equal(known);
        if (e.page === 'Submit Upgrade') {
          expect(e.level).to.equal('free');
          level.set(e.userId, 'paid');
          upgrades++;
        } else if (e.page === 'Submit Downgrade') {
          expect(e.level).to.equal('paid');
          level.set(e.userId, 'free');
        } else {
          level.set(e.userId, e.level);
        }
      }
      expect(upgrades).to.be.greaterThan(0);
    });

    it('has NextSong plays that match a song exactly on title + artist + duration, as counted', () => {
      const songs = new Set(lake.songs.map(({ song }) => `${song.title}\u0000${song.artist_name}\u0000${song.duration}`));
      const plays = lake.days.flatMap((d) => d.events).filter((e) => e.page === 'NextSong');
      const matching = plays.filter((e) => songs.has(`${e.song}\u0000${e.artist}\u0000${e.length}`)).length;
      expect(matching).to.equal(lake.result.matchingPlays);
      expect(matching / plays.length).to.be.within(0.015, 0.05);
      // and some near misses: a song's title and artist with another duration
      const titleArtist = new Set(lake.songs.map(({ song }) => `${song.title}\u0000${song.artist_name}`));
      const near = plays.filter(
        (e) => titleArtist.has(`${e.song}\u0000${e.artist}`) && !songs.has(`${e.song}\u0000${e.artist}\u0000${e.length}`),
      );
      expect(near.length).to.be.greaterThan(0);
    });

    it('honours matchRate', async () => {
      const [, none] = await make('no-match', { days: 1, matchRate: 0, nearMissRate: 0 });
      expect(none.matchingPlays).to.equal(0);
      const [, all] = await make('all-match', { days: 1, matchRate: 1, eventsPerDay: 500 });
      expect(all.matchingPlays).to.equal(all.nextSongEvents);
    });

    it('writes empty files for days without events', async () => {
      const [dir, result] = await make('empty', { eventsPerDay: 0, songs: 0, days: 2 });
      expect(result).to.include({ songFiles: 0, eventFiles: 2, events: 0, matchingPlays: 0 });
      const files = listFiles(join(dir, 'log_data'));
      expect(files).to.have.length(2);
      for (const f of files) expect(readText(join(dir, 'log_data', f))).to.equal('');
    });
  });

  describe('options', () => {
    it('gzips every data file, with the same content as without', async () => {
      const [dir, result] = await make('gz', { gzip: true });
      expect(result.events).to.equal(lake.result.events);
      expect(result.matchingPlays).to.equal(lake.result.matchingPlays);
      const files = listFiles(dir).filter((f) => f !== 'log_json_path.json');
      expect(files.length).to.equal(OPTS.songs + OPTS.days);
      for (const f of files) {
        expect(f).to.match(/\.json\.gz$/);
        const plain = readFileSync(join(lake.dir, f.replace(/\.gz$/, '')));
        expect(gunzipSync(readFileSync(join(dir, f))).equals(plain), f).to.equal(true);
      }
      const size = listFiles(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
      expect(result.bytes).to.equal(size);
    });

    it('refuses to write over an existing lake unless clean is set', async () => {
      const out = join(tmp, 'existing');
      mkdirSync(join(out, 'log_data'), { recursive: true });
      writeFileSync(join(out, 'log_data', 'stale.json'), '{}');
      let error: unknown;
      try {
        await generateSampleLake({ ...OPTS, out, days: 1 });
      } catch (err) {
        error = err;
      }
      expect(String(error)).to.match(/already exists/);
      const result = await generateSampleLake({ ...OPTS, out, days: 1, clean: true });
      expect(listFiles(join(out, 'log_data'))).to.deep.equal(['2018/11/2018-11-29-events.json']);
      expect(result.eventFiles).to.equal(1);
    });

    it('rejects bad options', async () => {
      for (const bad of [{ days: -1 }, { eventsPerDay: 1.5 }, { startDate: '2018-13-01' }, { matchRate: 2 }, { users: 0 }]) {
        let error: unknown;
        try {
          await generateSampleLake({ ...OPTS, out: join(tmp, 'bad'), ...bad });
        } catch (err) {
          error = err;
        }
        expect(error, JSON.stringify(bad)).to.be.instanceOf(RangeError);
      }
    });
  });
});
