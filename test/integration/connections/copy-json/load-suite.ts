/**
 * Redshift `COPY ... FORMAT AS JSON` semantics of Warehouse.loadJson, run
 * against every (warehouse, object store) pair by load-json.test.ts.
 */
import { expect } from 'chai';
import { gzipSync } from 'node:zlib';
import { JsonLoadError, LoadError } from '../../../../engine/errors.js';
import type { JsonLoadSpec, ObjectStore, Warehouse } from '../../../../engine/interfaces.js';
import { expectReject } from '../warehouse/warehouse-suite.js';
import { EVENT_KEYS } from '../../../../sample/events.js';

export const STAGING_EVENTS_DDL = `CREATE TABLE IF NOT EXISTS staging_events (
  artist varchar(512), auth varchar(32), firstname varchar(128), gender varchar(8), iteminsession int,
  lastname varchar(128), length float8, level varchar(16), location varchar(512), method varchar(8),
  page varchar(64), registration bigint, sessionid int, song varchar(512), status int,
  ts timestamp, useragent varchar(512), userid int)`;

export const STAGING_SONGS_DDL = `CREATE TABLE IF NOT EXISTS staging_songs (
  num_songs int, artist_id varchar(32), artist_latitude float8, artist_longitude float8,
  artist_location varchar(512), artist_name varchar(512), song_id varchar(32), title varchar(512),
  duration float8, year int)`;

/** A JSONPaths list for the event lines: one path per key, in the order the real files write them. */
export const EVENT_PATHS = EVENT_KEYS.map((k) => `$['${k}']`);

/** A Sparkify-like event line. */
export function eventLine(i: number, over: Record<string, unknown> = {}): string {
  return JSON.stringify({
    artist: i % 3 ? `Artist ${i}` : null,
    auth: 'Logged In',
    firstName: 'Jayden',
    gender: 'M',
    itemInSession: i,
    lastName: 'Bell',
    length: 182.85669 + i,
    level: 'free',
    location: 'Dallas-Fort Worth-Arlington, TX',
    method: 'PUT',
    page: 'NextSong',
    registration: 1540991795796.0,
    sessionId: 829,
    song: `Song "${i}", with, commas`,
    status: 200,
    ts: 1543537327796 + i,
    userAgent: 'Mozilla/5.0 (compatible; MSIE 10.0)',
    userId: i % 4 ? String(90 + i) : '',
    ...over,
  });
}

/** A Sparkify-like song file: one object, no trailing newline. */
export function songFile(i: number): string {
  return JSON.stringify({
    num_songs: 1,
    artist_id: `AR${i}`,
    artist_latitude: i % 2 ? null : 35.14968,
    artist_longitude: i % 2 ? null : -90.04892,
    artist_location: i % 2 ? '' : 'Memphis, TN',
    artist_name: `Montserrat Caballé;${i}`,
    song_id: `SO${i}`,
    title: `¿Dónde va ${i}?`,
    duration: 152.92036 + i,
    year: i % 2 ? 0 : 2005,
  });
}

async function count(wh: Warehouse, table: string): Promise<number> {
  return (await wh.query<{ n: number }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n;
}

export function describeJsonLoads(label: string, openWarehouse: () => Promise<Warehouse>, openStore: () => Promise<ObjectStore>) {
  describe(`loadJson: ${label}`, () => {
    let wh: Warehouse;
    let store: ObjectStore;
    const events = (source: string, over: Partial<JsonLoadSpec> = {}): JsonLoadSpec => ({
      table: 'staging_events',
      store,
      source,
      mapping: { kind: 'jsonpaths', paths: EVENT_PATHS, file: 'log_json_path.json' },
      timeformat: 'epochmillisecs',
      maxerror: 0,
      ...over,
    });

    before(async function () {
      this.timeout(120_000);
      [wh, store] = await Promise.all([openWarehouse(), openStore()]);
      await wh.query(`${STAGING_EVENTS_DDL}; ${STAGING_SONGS_DDL}`);
      const lines = (from: number, n: number) => Array.from({ length: n }, (_, k) => eventLine(from + k)).join('\n');
      await store.write('log_data/2018/11/2018-11-01-events.json', lines(0, 10));
      await store.write('log_data/2018/11/2018-11-02-events.json', `${lines(10, 5)}\n`);
      await store.write('gz/2018-11-03-events.json.gz', gzipSync(lines(15, 7)));
      for (let i = 0; i < 12; i++) {
        await store.write(`song_data/A/${'ABC'[i % 3]}/TR${String(i).padStart(3, '0')}.json`, songFile(i));
      }
      await store.write(
        'pretty/songs.json',
        `${JSON.stringify(JSON.parse(songFile(50)), null, 2)}\n${songFile(51)}${songFile(52)}`,
      );
      const bad = [eventLine(100), '{"artist": "broken", ', eventLine(101), eventLine(102, { userId: 'abc' }), eventLine(103)];
      await store.write('bad/events.json', bad.join('\n'));
      await store.write('long/events.json', [eventLine(200), eventLine(201, { level: 'x'.repeat(17) })].join('\n'));
      await store.write('case/users.json', '{"userId": 5, "firstname": "Lily"}\n{"userid": 6, "FIRSTNAME": "Kate"}');
      await wh.query('CREATE TABLE users_case (userid int, firstname varchar(32))');
    });
    after(async () => {
      await wh?.close();
      await store?.close();
    });
    beforeEach(async () => {
      await wh.query('TRUNCATE staging_events; TRUNCATE staging_songs; TRUNCATE users_case');
    });

    it('jsonpaths + epochmillisecs: Sparkify events, "" -> NULL, float registration into bigint', async () => {
      const res = await wh.loadJson(events('log_data/2018/11/'));
      expect(res).to.deep.include({ rows: 15, objects: 2, rejected: [] });
      expect(res.bytes).to.be.greaterThan(15 * 300);
      const r = await wh.query(
        'SELECT userid, ts, registration, song, artist, length FROM staging_events ORDER BY iteminsession LIMIT 2',
      );
      expect(r.rows).to.deep.equal([
        {
          userid: null,
          ts: new Date(1543537327796),
          registration: 1540991795796,
          song: 'Song "0", with, commas',
          artist: null,
          length: 182.85669,
        },
        {
          userid: 91,
          ts: new Date(1543537327797),
          registration: 1540991795796,
          song: 'Song "1", with, commas',
          artist: 'Artist 1',
          length: 183.85669,
        },
      ]);
    });

    it("'auto': one song object per file, no trailing newline, nested prefixes", async () => {
      const res = await wh.loadJson({
        ...events('song_data/'),
        table: 'staging_songs',
        mapping: { kind: 'auto' },
        timeformat: 'auto',
      });
      expect(res).to.deep.include({ rows: 12, objects: 12 });
      const r = await wh.query("SELECT title, artist_location, artist_latitude, year FROM staging_songs WHERE song_id = 'SO1'");
      expect(r.rows).to.deep.equal([{ title: '¿Dónde va 1?', artist_location: '', artist_latitude: null, year: 0 }]);
    });

    it('reads pretty-printed and concatenated objects with their line numbers', async () => {
      const res = await wh.loadJson({ ...events('pretty/'), table: 'staging_songs', mapping: { kind: 'auto' } });
      expect(res.rows).to.equal(3);
      expect((await wh.query('SELECT song_id FROM staging_songs ORDER BY song_id')).rows.map((x) => x.song_id)).to.deep.equal([
        'SO50',
        'SO51',
        'SO52',
      ]);
    });

    it("'auto' matches lowercase keys only; 'auto ignorecase' matches any case", async () => {
      const spec = { ...events('case/'), table: 'users_case', mapping: { kind: 'auto' as const } };
      await wh.loadJson(spec);
      expect((await wh.query('SELECT userid, firstname FROM users_case ORDER BY userid')).rows).to.deep.equal([
        { userid: 6, firstname: null },
        { userid: null, firstname: 'Lily' },
      ]);
      await wh.query('TRUNCATE users_case');
      await wh.loadJson({ ...spec, mapping: { kind: 'auto ignorecase' } });
      expect((await wh.query('SELECT userid, firstname FROM users_case ORDER BY userid')).rows).to.deep.equal([
        { userid: 5, firstname: 'Lily' },
        { userid: 6, firstname: 'Kate' },
      ]);
    });

    it('loads gzip objects', async () => {
      const res = await wh.loadJson(events('gz/'));
      expect(res.rows).to.equal(7);
      expect(await count(wh, 'staging_events')).to.equal(7);
    });

    it('MAXERROR 0: a malformed line fails the load, names object and line, and leaves the table unchanged', async () => {
      await wh.loadJson(events('gz/'));
      const err = await expectReject(wh.loadJson(events('bad/')));
      expect(err).to.be.instanceOf(LoadError).and.instanceOf(JsonLoadError);
      expect(err.message).to.match(/bad\/events\.json line 2: invalid JSON/);
      expect((err as LoadError).object).to.match(/bad\/events\.json$/);
      expect((err as LoadError).line).to.equal(2);
      expect(await count(wh, 'staging_events')).to.equal(7);
    });

    it('MAXERROR 5: loads the rest and records each rejection (object, line, column, value, reason)', async () => {
      const res = await wh.loadJson(events('bad/', { maxerror: 5 }));
      expect(res.rows).to.equal(3);
      expect(res.rejected.map((r) => [r.line, r.column])).to.deep.equal([
        [2, null],
        [4, 'userid'],
      ]);
      expect(res.rejected[0]!.object).to.match(/bad\/events\.json$/);
      expect(res.rejected[0]!.value).to.equal('{"artist": "broken",');
      expect(res.rejected[1]).to.deep.include({ value: 'abc' });
      expect(res.rejected[1]!.reason).to.match(/invalid integer/);
      expect(await count(wh, 'staging_events')).to.equal(3);
    });

    it('rejects a value longer than varchar(n)', async () => {
      const err = await expectReject(wh.loadJson(events('long/')));
      expect(err.message).to.match(
        /long\/events\.json line 2, column level: value is 17 bytes, longer than character varying\(16\)/,
      );
      const res = await wh.loadJson(events('long/', { maxerror: 1 }));
      expect(res.rows).to.equal(1);
      expect(res.rejected[0]).to.deep.include({ line: 2, column: 'level' });
    });

    it('a JSONPaths list that does not fit the table is an error naming the file', async () => {
      const err = await expectReject(
        wh.loadJson(
          events('log_data/', { mapping: { kind: 'jsonpaths', paths: EVENT_PATHS.slice(1), file: 's3://b/log_json_path.json' } }),
        ),
      );
      expect(err).to.be.instanceOf(LoadError);
      expect(err.message).to.match(/JSONPaths file s3:\/\/b\/log_json_path\.json has 17 paths but the table has 18 columns/);
      expect(await count(wh, 'staging_events')).to.equal(0);
    });

    it('a source with no objects is a LoadError naming the URL', async () => {
      const err = await expectReject(wh.loadJson(events('log_data/2019/')));
      expect(err).to.be.instanceOf(LoadError);
      expect(err.message).to.match(/^no objects under .*log_data\/2019\//);
    });

    it('a missing table is a LoadError', async () => {
      const err = await expectReject(wh.loadJson(events('gz/', { table: 'no_such_table' })));
      expect(err.message).to.match(/table no_such_table does not exist/);
    });

    it("inside a transaction, the caller's transaction is the unit of work", async () => {
      const err = await expectReject(
        wh.transaction(async (tx) => {
          const r = await tx.loadJson(events('gz/'));
          expect(r.rows).to.equal(7);
          expect((await tx.query<{ n: number }>('SELECT count(*) AS n FROM staging_events')).rows[0]!.n).to.equal(7);
          throw new Error('later step failed');
        }),
      );
      expect(err.message).to.equal('later step failed');
      expect(await count(wh, 'staging_events')).to.equal(0);
      await wh.transaction(async (tx) => {
        await tx.query('DELETE FROM staging_events');
        await tx.loadJson(events('log_data/'));
      });
      expect(await count(wh, 'staging_events')).to.equal(15);
    });

    it('accepts the source as a full URL under the store', async () => {
      const res = await wh.loadJson(events(`${store.url.split('?')[0]}/gz/`));
      expect(res.rows).to.equal(7);
    });
  });
}
