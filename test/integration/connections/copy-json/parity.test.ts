/**
 * The same load gives identical tables on PGlite and on PostgreSQL, from a
 * folder and from s3rver: the real Sparkify sample (when present beside the
 * project) and a generated lake.
 */
import { expect } from 'chai';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { openObjectStore, openWarehouse, parseJsonPaths } from '../../../../engine/connections/index.js';
import type { JsonLoadSpec, LoadResult, ObjectStore, Warehouse } from '../../../../engine/interfaces.js';
import { freshPgliteUrl } from '../../../helpers/pglite.js';
import { usePostgres } from '../../../helpers/postgres.js';
import { useS3rver } from '../../../helpers/s3.js';
import { makeTempDir } from '../../../helpers/tmp.js';
import { eventLine, songFile, STAGING_EVENTS_DDL, STAGING_SONGS_DDL } from './load-suite.js';
import { ROOT } from '../../../helpers/cli.js';

const SPARKIFY = process.env.SLUICE_SPARKIFY_DIR ?? path.resolve(ROOT, '../shared/data/sparkify');
const home = '/';

/** Every file under dir as [key, bytes]. */
function filesUnder(dir: string, prefix = ''): [string, Buffer][] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const full = path.join(dir, name);
      const key = prefix ? `${prefix}/${name}` : name;
      return statSync(full).isDirectory() ? filesUnder(full, key) : [[key, readFileSync(full)] as [string, Buffer]];
    });
}

interface Loaded {
  results: LoadResult[];
  events: unknown[];
  songs: unknown[];
}

async function loadBoth(wh: Warehouse, store: ObjectStore, paths: string[]): Promise<Loaded> {
  await wh.query(
    `DROP TABLE IF EXISTS staging_events; DROP TABLE IF EXISTS staging_songs; ${STAGING_EVENTS_DDL}; ${STAGING_SONGS_DDL}`,
  );
  const base = { store, maxerror: 0 } as const;
  const events: JsonLoadSpec = {
    ...base,
    table: 'staging_events',
    source: 'log_data/',
    mapping: { kind: 'jsonpaths', paths, file: 'log_json_path.json' },
    timeformat: 'epochmillisecs',
  };
  const songs: JsonLoadSpec = {
    ...base,
    table: 'staging_songs',
    source: 'song_data/',
    mapping: { kind: 'auto' },
    timeformat: 'auto',
  };
  const results = [await wh.loadJson(events), await wh.loadJson(songs)];
  const all = (t: string, n: number) =>
    wh.query(`SELECT * FROM ${t} ORDER BY ${Array.from({ length: n }, (_, i) => i + 1).join(', ')}`).then((r) => r.rows);
  return { results, events: await all('staging_events', 18), songs: await all('staging_songs', 10) };
}

function describeParity(
  label: string,
  files: () => [string, Buffer][],
  paths: () => string[],
  expected: { events: number; songs: number },
) {
  describe(`parity: ${label}`, () => {
    const pg = usePostgres('parity');
    const s3 = useS3rver(['lake']);
    const combos: [string, () => Promise<Warehouse>, () => Promise<ObjectStore>][] = [
      ['pglite <- folder', async () => openWarehouse((await freshPgliteUrl()).url, { home }), async () => folderStore],
      ['postgres <- folder', async () => openWarehouse(await pg.newDatabase('folder'), { home }), async () => folderStore],
      ['pglite <- s3', async () => openWarehouse((await freshPgliteUrl()).url, { home }), async () => s3Store],
      ['postgres <- s3', async () => openWarehouse(await pg.newDatabase('s3'), { home }), async () => s3Store],
    ];
    let folderStore: ObjectStore;
    let s3Store: ObjectStore;
    before(async function () {
      this.timeout(120_000);
      folderStore = await openObjectStore(makeTempDir('sluice-parity'), { home });
      s3Store = await openObjectStore(s3.storeUrl('lake', 'udacity/'), { home });
      for (const [key, body] of files()) {
        await Promise.all([folderStore.write(key, body), s3Store.write(key, body)]);
      }
    });
    after(async () => {
      await folderStore?.close();
      await s3Store?.close();
    });

    it('gives identical staging tables everywhere', async function () {
      this.timeout(300_000);
      const outcomes: [string, Loaded][] = [];
      for (const [name, openWh, openStore] of combos) {
        const wh = await openWh();
        try {
          const t0 = Date.now();
          outcomes.push([name, await loadBoth(wh, await openStore(), paths())]);
          if (process.env.SLUICE_TEST_VERBOSE) console.log(`      ${name}: ${Date.now() - t0} ms`);
        } finally {
          await wh.close();
        }
      }
      const [, first] = outcomes[0]!;
      expect(first.events).to.have.length(expected.events);
      expect(first.songs).to.have.length(expected.songs);
      expect(first.results.map((r) => r.rejected.length)).to.deep.equal([0, 0]);
      for (const [name, o] of outcomes.slice(1)) {
        expect(
          o.results.map((r) => [r.rows, r.objects, r.bytes]),
          name,
        ).to.deep.equal(first.results.map((r) => [r.rows, r.objects, r.bytes]));
        expect(o.events, `${name}: staging_events`).to.deep.equal(first.events);
        expect(o.songs, `${name}: staging_songs`).to.deep.equal(first.songs);
      }
    });
  });
}

describeParity(
  'generated lake',
  () => [
    ...Array.from(
      { length: 3 },
      (_, f) =>
        [
          `log_data/2018/11/2018-11-0${f + 1}-events.json`,
          Buffer.from(Array.from({ length: 40 }, (_, i) => eventLine(f * 100 + i)).join('\n')),
        ] as [string, Buffer],
    ),
    ...Array.from({ length: 20 }, (_, i) => [`song_data/A/B/TR${i}.json`, Buffer.from(songFile(i))] as [string, Buffer]),
  ],
  () =>
    [
      'artist',
      'auth',
      'firstName',
      'gender',
      'itemInSession',
      'lastName',
      'length',
      'level',
      'location',
      'method',
      'page',
      'registration',
      'sessionId',
      'song',
      'status',
      'ts',
      'userAgent',
      'userId',
    ].map((k) => `$.${k}`),
  { events: 120, songs: 20 },
);

if (existsSync(SPARKIFY)) {
  describeParity(
    'the Udacity Sparkify sample',
    () => [
      ...filesUnder(path.join(SPARKIFY, 'log_data'), 'log_data'),
      ...filesUnder(path.join(SPARKIFY, 'song_data'), 'song_data'),
    ],
    () => parseJsonPaths(readFileSync(path.join(SPARKIFY, 'log_json_path.json'), 'utf8'), 'log_json_path.json'),
    { events: 8056, songs: 71 },
  );
} else {
  describe('parity: the Udacity Sparkify sample', () => {
    it(`is skipped: ${SPARKIFY} is absent`, function () {
      this.skip();
    });
  });
}
