/**
 * Hostile lakes at the store and loader level, on a real PGlite warehouse,
 * a real folder and s3rver: symlink loops and links reaching the same data
 * twice; JSON nested thousands of levels deep in every loader path (fast
 * line path, JSON.parse of a line, the record splitter, JSONPaths, json
 * columns, rejected-record display); corrupt and truncated gzip objects,
 * read ahead or streamed, named with object and line, the load rolled back.
 */
import { expect } from 'chai';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { openObjectStore, openWarehouse } from '../../../../engine/connections/index.js';
import { showValue } from '../../../../engine/connections/copy-json/convert.js';
import { JsonLoadError, LoadError } from '../../../../engine/errors.js';
import type { JsonLoadSpec, ObjectStore, Warehouse } from '../../../../engine/interfaces.js';
import { freshPgliteUrl } from '../../../helpers/pglite.js';
import { usePostgres } from '../../../helpers/postgres.js';
import { useS3rver } from '../../../helpers/s3.js';
import { makeTempDir } from '../../../helpers/tmp.js';

const home = '/';

async function listWithWarnings(store: ObjectStore, prefix: string) {
  const warnings: string[] = [];
  const keys = (await store.list(prefix, { onWarning: (m) => warnings.push(m) })).map((o) => o.key);
  return { keys, warnings };
}

async function rejectionOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

const deepArray = (d: number) => '['.repeat(d) + ']'.repeat(d);
const deepObject = (d: number) => '{"a":'.repeat(d - 1) + '{}' + '}'.repeat(d - 1);

describe('lake listing follows symlinks once (local folder)', () => {
  let root: string;
  let store: ObjectStore;
  before(async () => {
    root = makeTempDir('sluice-lake-links');
    const w = (rel: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      fs.writeFileSync(path.join(root, rel), text);
    };
    w('song_data/A/B/s1.json', '{}');
    w('song_data/A/s2.json', '{}');
    w('song_data/Z/s3.json', '{}');
    w('log_data/e.json', '{}');
    const outside = makeTempDir('sluice-linked-in');
    fs.writeFileSync(path.join(outside, 'o.json'), '{}');
    fs.symlinkSync('../..', path.join(root, 'song_data', 'A', 'B', 'up2')); // loop to song_data
    fs.symlinkSync('B', path.join(root, 'song_data', 'A', 'B2')); // a second way into A/B
    fs.symlinkSync('../A/s2.json', path.join(root, 'song_data', 'Z', 's2-again.json')); // a file twice
    fs.symlinkSync('self', path.join(root, 'song_data', 'Z', 'self')); // ELOOP
    fs.symlinkSync('missing.json', path.join(root, 'song_data', 'Z', 'gone.json'));
    fs.symlinkSync(outside, path.join(root, 'song_data', 'linked')); // data linked in from elsewhere
    fs.symlinkSync('../log_data', path.join(root, 'song_data', 'logs')); // a folder outside the prefix: listed under the link
    store = await openObjectStore(root, { home });
  });
  after(() => store.close());

  it('lists each real file once, under its own key, and names every skipped link', async () => {
    const { keys, warnings } = await listWithWarnings(store, 'song_data/');
    expect(keys).to.deep.equal([
      'song_data/A/B/s1.json',
      'song_data/A/s2.json',
      'song_data/Z/s3.json',
      'song_data/linked/o.json',
      'song_data/logs/e.json',
    ]);
    const text = warnings.join('\n');
    expect(warnings).to.have.length(5);
    expect(text).to.match(
      /symlink loop: file:\/\/\S+\/song_data\/A\/B\/up2 -> \.\.\/\.\. leads back to a folder that contains it/,
    );
    expect(text).to.match(/song_data\/A\/B2 -> B is a folder already listed as file:\/\/\S+\/song_data\/A\/B\//);
    expect(text).to.match(
      /song_data\/Z\/s2-again\.json -> \.\.\/A\/s2\.json is a file already listed as \S+\/song_data\/A\/s2\.json/,
    );
    expect(text).to.match(/symlink loop: \S+\/song_data\/Z\/self -> self never reaches a file or folder/);
    expect(text).to.match(/song_data\/Z\/gone\.json -> missing\.json: broken symlink/);
  });

  it('looks only at links that can match the prefix', async () => {
    const { keys, warnings } = await listWithWarnings(store, 'song_data/A/s');
    expect(keys).to.deep.equal(['song_data/A/s2.json']);
    expect(warnings).to.deep.equal([]);
    // Listing the folder a loop starts in: the loop is cut where it comes back.
    const inner = await listWithWarnings(store, 'song_data/A/B/');
    expect(inner.keys).to.deep.equal([
      'song_data/A/B/s1.json',
      'song_data/A/B/up2/A/s2.json',
      'song_data/A/B/up2/Z/s3.json',
      'song_data/A/B/up2/linked/o.json',
      'song_data/A/B/up2/logs/e.json',
    ]);
    expect(inner.warnings).to.have.length(5); // the two loops, and the three odd links of song_data/Z seen through up2
    expect(inner.warnings.join('\n')).to.match(/symlink loop: \S+\/song_data\/A\/B\/up2\/A\/B\/ is \S+\/song_data\/A\/B\/ again/);
    expect(inner.warnings.join('\n')).to.match(
      /symlink loop: \S+\/song_data\/A\/B\/up2\/A\/B2 -> B leads back to a folder that contains it/,
    );
  });
});

describe('hostile JSON and gzip into PGlite', function () {
  this.timeout(60_000);
  let wh: Warehouse;
  let root: string;
  let store: ObjectStore;
  const spec = (source: string, over: Partial<JsonLoadSpec> = {}): JsonLoadSpec => ({
    table: 'songs',
    store,
    source,
    mapping: { kind: 'auto' },
    timeformat: 'auto',
    maxerror: 10,
    ...over,
  });
  const write = (rel: string, body: string | Buffer) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), body);
  };
  const ids = async (table = 'songs') =>
    (await wh.query<{ id: string }>(`SELECT id FROM ${table} ORDER BY id`)).rows.map((r) => r.id);

  before(async () => {
    wh = await openWarehouse((await freshPgliteUrl()).url, { home });
    root = makeTempDir('sluice-lake-hostile');
    store = await openObjectStore(root, { home });
    await wh.query('CREATE TABLE songs (id varchar(16) NOT NULL, payload varchar(65535), doc jsonb, flag boolean)');
  });
  after(async () => {
    await store.close();
    await wh.close();
  });
  beforeEach(() => wh.query('DELETE FROM songs'));

  it('rejects values nested deeper than 1000 levels on every path, naming object, line and column', async () => {
    // Line path: newline-delimited objects (fast encoder declines, JSON.parse of the line).
    write(
      'deep/a-lines.json',
      [
        '{"id":"L1"}',
        `{"id":"L2","payload":${deepArray(5000)}}`,
        `{"id":"L3","doc":${deepObject(5000)}}`,
        `{"id":"L4","flag":${deepArray(5000)}}`,
        `{"id":"L5","payload":${deepArray(1000)},"doc":${deepObject(1000)}}`, // exactly at the limit: loaded
        deepArray(100_000), // a whole record that is only nesting
      ].join('\n') + '\n',
    );
    // Splitter path: a pretty-printed record, then a deep one spread over lines.
    write(
      'deep/b-pretty.json',
      `{\n  "id": "P1"\n}\n{\n  "id": "P2",\n  "payload": ${deepArray(3000).replace(/\]\]/g, ']\n]')}\n}\n`,
    );
    const res = await wh.loadJson(spec('deep/'));
    expect(await ids()).to.deep.equal(['L1', 'L5', 'P1']);
    const r = res.rejected.map((x) => [x.object.replace(/^.*\/deep\//, ''), x.line, x.column, x.reason]);
    expect(r).to.deep.equal([
      ['a-lines.json', 2, 'payload', 'JSON nested deeper than 1000 levels'],
      ['a-lines.json', 3, 'doc', 'JSON nested deeper than 1000 levels'],
      ['a-lines.json', 4, 'flag', 'JSON nested deeper than 1000 levels'],
      ['a-lines.json', 6, null, 'record is not a JSON object'],
      // A multi-line record is rejected at its last line, as Redshift's LINE_NUMBER names it (copy-usage_notes-copy-from-json).
      ['b-pretty.json', 1507, 'payload', 'JSON nested deeper than 1000 levels'],
    ]);
    // The rejected value is shown truncated, as JSON.stringify would begin it.
    expect(res.rejected[0]!.value).to.equal(`${'['.repeat(256)}…`);
    expect(res.rejected[1]!.value).to.equal(`${'{"a":'.repeat(51)}{…`);
    const l5 = await wh.query<{ n: number; d: boolean }>(
      "SELECT length(payload) AS n, doc IS NOT NULL AS d FROM songs WHERE id = 'L5'",
    );
    expect(l5.rows).to.deep.equal([{ n: 2000, d: true }]);
  });

  it('rejects deep values reached through JSONPaths (the general converter)', async () => {
    write('paths/x.json', `{"s":{"id":"J1","p":${deepArray(4000)}}}\n{"s":{"id":"J2","p":[1,[2]]}}\n`);
    const res = await wh.loadJson(
      spec('paths/', { mapping: { kind: 'jsonpaths', paths: ['$.s.id', '$.s.p', "$['none']", "$['none2']"], file: 'p.json' } }),
    );
    expect(await ids()).to.deep.equal(['J2']);
    expect(res.rejected.map((x) => [x.line, x.column, x.reason])).to.deep.equal([
      [1, 'payload', 'JSON nested deeper than 1000 levels'],
    ]);
    expect((await wh.query<{ payload: string }>('SELECT payload FROM songs')).rows[0]!.payload).to.equal('[1,[2]]');
  });

  it('over MAXERROR, a deep value fails the load with a LoadError naming object, line and column', async () => {
    write('deep1/x.json', `{"id":"A"}\n{"id":"B","payload":${deepArray(5000)}}\n`);
    const err = await rejectionOf(wh.loadJson(spec('deep1/', { maxerror: 0 })));
    expect(err).to.be.instanceOf(JsonLoadError);
    expect(err.message).to.match(/deep1\/x\.json line 2, column payload: JSON nested deeper than 1000 levels/);
    expect((err as JsonLoadError).line).to.equal(2);
  });

  it('showValue never overflows the stack', () => {
    const v = JSON.parse(deepArray(200_000)) as unknown;
    expect(showValue(v)).to.equal(`${'['.repeat(256)}…`);
    expect(showValue({ a: [1, 'x', null, true, { b: -0 }] })).to.equal(JSON.stringify({ a: [1, 'x', null, true, { b: -0 }] }));
  });

  /** n lines that gzip cannot shrink much (so a large object is large compressed too). */
  const body = (prefix: string, n: number) =>
    Array.from({ length: n }, (_, i) => `{"id":"${prefix}${i}","payload":"${crypto.randomBytes(100).toString('hex')}"}\n`).join(
      '',
    );

  it('a truncated gzip, read ahead (small) or streamed (large), names the object and line; the load rolls back', async () => {
    write('gz/a.json.gz', gzipSync(body('a', 50)));
    await wh.transaction((tx) => tx.loadJson(spec('gz/')));
    expect(await ids()).to.have.length(50);

    for (const [name, n] of [
      ['b-small.json.gz', 1000],
      ['b-large.json.gz', 20_000],
    ] as const) {
      const gz = gzipSync(body('b', n));
      const cut = gz.subarray(0, Math.floor(gz.length / 2));
      write(`gz/${name}`, cut);
      if (name === 'b-large.json.gz') expect(cut.length).to.be.above(1 << 20); // streamed, not read ahead
      // As StageToRedshift does it: DELETE and load in one transaction.
      const err = await rejectionOf(
        wh.transaction(async (tx) => {
          await tx.query('DELETE FROM songs');
          return tx.loadJson(spec('gz/'));
        }),
      );
      expect(err, name).to.be.instanceOf(LoadError);
      expect((err as LoadError).retryable).to.equal(false);
      expect(err.message).to.match(
        new RegExp(
          `^load into songs failed: file://\\S+/gz/${name.replace(/\./g, '\\.')} line (\\d+): corrupt or truncated gzip data \\(unexpected end of file\\)`,
        ),
      );
      const line = Number(/ line (\d+):/.exec(err.message)![1]);
      expect((err as LoadError).line).to.equal(line);
      // About half of the lines were readable before the break.
      expect(line).to.be.within(n * 0.3, n * 0.7);
      expect(await ids(), name).to.have.length(50); // the prior rows, untouched
      fs.rmSync(path.join(root, 'gz', name));
    }
  });

  it('garbage in a .gz object, or a gzip header on a .json object, is named too (the key decides, as on Redshift)', async () => {
    write('gz2/x.json.gz', 'this is not gzip at all\n');
    const err = await rejectionOf(wh.loadJson(spec('gz2/')));
    expect(err.message).to.match(/gz2\/x\.json\.gz line 1: the key ends in \.gz but the data is not gzip-compressed/);
    fs.rmSync(path.join(root, 'gz2'), { recursive: true });
    const gz = gzipSync(body('s', 100));
    write('gz3/sniffed.json', gz.subarray(0, gz.length - 12));
    const err2 = await rejectionOf(wh.loadJson(spec('gz3/')));
    expect(err2.message).to.match(/gz3\/sniffed\.json line 1: the data is gzip-compressed but the key does not end in \.gz/);
    fs.rmSync(path.join(root, 'gz3'), { recursive: true });
    // A gzip header with a bad compression method: gzip by its first bytes, corrupt past them.
    write('gz4/y.json.gz', Buffer.from([0x1f, 0x8b, 0x63, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03]));
    const err3 = await rejectionOf(wh.loadJson(spec('gz4/')));
    expect(err3.message).to.match(/gz4\/y\.json\.gz line 1: corrupt or truncated gzip data \(unknown compression method\)/);
  });

  describe('into a PostgreSQL server (rows already streamed to COPY when the gzip breaks)', () => {
    const pgh = usePostgres('lake_hostile');
    it('rolls the whole load back and names the object and line', async () => {
      const pgwh = await openWarehouse(pgh.url, { home });
      try {
        await pgwh.query('CREATE TABLE songs (id varchar(16) NOT NULL, payload varchar(65535), doc jsonb, flag boolean)');
        write('pg/a.json', body('a', 30));
        await pgwh.transaction((tx) => tx.loadJson(spec('pg/')));
        const gz = gzipSync(body('b', 20_000));
        write('pg/b.json.gz', gz.subarray(0, Math.floor(gz.length * 0.8)));
        const err = await rejectionOf(
          pgwh.transaction(async (tx) => {
            await tx.query('DELETE FROM songs');
            return tx.loadJson(spec('pg/'));
          }),
        );
        expect(err).to.be.instanceOf(JsonLoadError);
        expect(err.message).to.match(/pg\/b\.json\.gz line \d+: corrupt or truncated gzip data \(unexpected end of file\)/);
        expect((err as JsonLoadError).line).to.be.above(10_000);
        const n = await pgwh.query<{ n: string }>('SELECT count(*) AS n FROM songs');
        expect(Number(n.rows[0]!.n)).to.equal(30);
      } finally {
        await pgwh.close();
      }
    });
  });

  describe('from s3rver', () => {
    const s3 = useS3rver(['hostile']);
    it('a truncated gzip object in S3 is named by its s3:// URL and line', async () => {
      const s3store = await openObjectStore(s3.storeUrl('hostile', 'lake/'), { home });
      try {
        const gz = gzipSync(body('s', 500));
        await s3store.write('gz/a.json.gz', gz.subarray(0, Math.floor(gz.length / 2)));
        const readErr = await rejectionOf(
          (async () => {
            for await (const _ of await s3store.read('gz/a.json.gz')) void _;
          })(),
        );
        expect(readErr).to.be.instanceOf(LoadError);
        expect(readErr.message).to.match(
          /^s3:\/\/hostile\/lake\/gz\/a\.json\.gz: corrupt or truncated gzip data \(unexpected end of file\)/,
        );
        expect(readErr.message).to.not.contain('S3RVER'); // no credentials in the message
        const err = await rejectionOf(wh.loadJson(spec('gz/', { store: s3store })));
        expect(err.message).to.match(/s3:\/\/hostile\/lake\/gz\/a\.json\.gz line \d+: corrupt or truncated gzip data/);
      } finally {
        await s3store.close();
      }
    });
  });
});
