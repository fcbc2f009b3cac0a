/**
 * The database-free parts of the JSON loader: record splitting, JSONPaths,
 * JSON -> CSV conversion, and connection URLs.
 */
import { expect } from 'chai';
import { LoadError } from '../../../../engine/errors.js';
import { columnKind, createRowConverter, type ColumnInfo } from '../../../../engine/connections/copy-json/convert.js';
import { compileJsonPath, parseJsonPaths } from '../../../../engine/connections/copy-json/jsonpaths.js';
import { JsonRecordSplitter, readJsonRecords, type JsonRecord } from '../../../../engine/connections/copy-json/records.js';
import { parseConnectionUrl, redactUrl } from '../../../../engine/connections/url.js';
import { toStoreKey } from '../../../../engine/connections/store/keys.js';

function split(text: string, chunkSize = text.length || 1): JsonRecord[] {
  const s = new JsonRecordSplitter();
  const out: JsonRecord[] = [];
  for (let i = 0; i < text.length; i += chunkSize) s.push(text.slice(i, i + chunkSize), out);
  s.end(out);
  return out;
}

function col(name: string, dataType: string, extra: Partial<ColumnInfo> = {}): ColumnInfo {
  return { name, dataType, kind: columnKind(dataType), nullable: true, maxLength: null, precision: null, scale: null, ...extra };
}

describe('connections: JSON record splitting', () => {
  it('splits newline-delimited objects with their line numbers', () => {
    const recs = split('{"a":1}\n{"a":2}\r\n\n{"a":3}');
    expect(recs.map((r) => [r.line, r.value])).to.deep.equal([
      [1, { a: 1 }],
      [2, { a: 2 }],
      [4, { a: 3 }],
    ]);
  });

  it('reads concatenated and pretty-printed objects, whatever the chunking', () => {
    const text = '{"a":1}{"a":2} {"a":\n  {"b": "x}{"}\n}\n[1,2]';
    for (const size of [1, 2, 3, 7, 1000]) {
      const recs = split(text, size);
      expect(
        recs.map((r) => [r.line, r.value]),
        `chunk ${size}`,
      ).to.deep.equal([
        [1, { a: 1 }],
        [1, { a: 2 }],
        [1, { a: { b: 'x}{' } }],
        [4, [1, 2]],
      ]);
    }
  });

  it('reports a malformed line and goes on with the next one', () => {
    const recs = split('{"a":1}\n{"a": 2,,}\n{"a":"unterminated}\n{"a": {"b": 1}\n{"a":5}\nnot json\n{"a":6}');
    expect(recs.map((r) => [r.line, r.value ?? 'ERR'])).to.deep.equal([
      [1, { a: 1 }],
      [2, 'ERR'],
      [3, 'ERR'],
      [4, 'ERR'],
      [5, { a: 5 }],
      [6, 'ERR'],
      [7, { a: 6 }],
    ]);
    expect(recs[1]!.error).to.match(/^invalid JSON/);
  });

  it('ends a broken record where the next line starts a new one', () => {
    const recs = split('{"a": "x", \n{"a":2}\n[{"b":1},\n{"b":2}]\n{"a":3}');
    expect(recs.map((r) => [r.line, r.value ?? 'ERR'])).to.deep.equal([
      [1, 'ERR'],
      [2, { a: 2 }],
      [3, [{ b: 1 }, { b: 2 }]],
      [5, { a: 3 }],
    ]);
  });

  it('reports an object cut off at the end of the file', () => {
    const recs = split('{"a":1}\n{"a": [1, 2');
    expect(recs).to.have.length(2);
    expect(recs[1]!.line).to.equal(2);
    expect(recs[1]!.error).to.match(/invalid JSON/);
  });

  it('decodes UTF-8 split across byte chunks and skips a BOM', async () => {
    const bytes = Buffer.from('\uFEFF{"s":"Dónde ¿"}\n{"s":"é"}', 'utf8');
    const chunks = [...bytes].map((b) => Buffer.from([b]));
    const recs: JsonRecord[] = [];
    for await (const batch of readJsonRecords(chunks)) recs.push(...batch);
    expect(recs.map((r) => r.value)).to.deep.equal([{ s: 'Dónde ¿' }, { s: 'é' }]);
  });
});

describe('connections: JSONPaths files', () => {
  it('parses the Sparkify shape (blank line and all)', () => {
    const text = '{\n  "jsonpaths": [\n "$[\'artist\']",\n "$.auth",\n "$[\'a\'][\'b\']", "$.a[0]"\n\n ]\n}';
    expect(parseJsonPaths(text, 'events.json')).to.deep.equal(["$['artist']", '$.auth', "$['a']['b']", '$.a[0]']);
    expect(compileJsonPath("$['a']['b']", 'f', 0)).to.deep.equal(['a', 'b']);
    expect(compileJsonPath('$.a[0]', 'f', 0)).to.deep.equal(['a', 0]);
    expect(compileJsonPath('$["we ird"]', 'f', 0)).to.deep.equal(['we ird']);
  });

  it('names the file when the document or a path is wrong', () => {
    expect(() => parseJsonPaths('{"paths": []}', 's3://b/jp.json')).to.throw(LoadError, /s3:\/\/b\/jp\.json.*"jsonpaths"/);
    expect(() => parseJsonPaths('{', 'jp.json')).to.throw(LoadError, /jp\.json is not valid JSON/);
    expect(() => parseJsonPaths('{"jsonpaths": ["$.a", "a.b"]}', 'jp.json')).to.throw(LoadError, /jp\.json: jsonpaths\[1\]/);
    expect(() => parseJsonPaths('{"jsonpaths": ["$.a[*]"]}', 'jp.json')).to.throw(LoadError, /invalid/);
  });
});

describe('connections: JSON -> CSV rows', () => {
  const events = [col('userid', 'integer'), col('name', 'character varying', { maxLength: 5 }), col('ts', 'bigint')];

  it("'auto' matches keys exactly; 'auto ignorecase' ignores case; missing keys are NULL", () => {
    const rec = { userId: '7', name: 'ab', extra: 1 };
    expect(createRowConverter(events, { kind: 'auto' }, 'auto')(rec)).to.deep.equal({ ok: true, csv: ',"ab",\n' });
    expect(createRowConverter(events, { kind: 'auto ignorecase' }, 'auto')(rec)).to.deep.equal({ ok: true, csv: '7,"ab",\n' });
  });

  it('jsonpaths pick the i-th column and must match the column count', () => {
    const conv = createRowConverter(
      events,
      { kind: 'jsonpaths', paths: ['$.u', "$['n']['x']", '$.t[1]'], file: 'jp.json' },
      'auto',
    );
    expect(conv({ u: 1, n: { x: 'q"q' }, t: [0, 42] })).to.deep.equal({ ok: true, csv: '1,"q""q",42\n' });
    expect(() => createRowConverter(events, { kind: 'jsonpaths', paths: ['$.u'], file: 'jp.json' }, 'auto')).to.throw(
      LoadError,
      /JSONPaths file jp\.json has 1 paths but the table has 3 columns/,
    );
  });

  it('converts by column type and rejects what Redshift rejects', () => {
    const cols = [
      col('i', 'integer'),
      col('s', 'smallint'),
      col('n', 'numeric', { precision: 5, scale: 2 }),
      col('d', 'double precision'),
      col('b', 'boolean'),
      col('t', 'text'),
    ];
    const conv = createRowConverter(cols, { kind: 'auto' }, 'auto');
    expect(conv({ i: '12', s: 3.0, n: '123.456', d: 1.5e-7, b: 'yes', t: { o: [1] } })).to.deep.equal({
      ok: true,
      // numeric(5,2) truncates extra fractional digits unless ROUNDEC (copy-parameters-data-conversion)
      csv: '12,3,123.45,1.5e-7,t,"{""o"":[1]}"\n',
    });
    expect(conv({ i: '', s: ' ', n: '', d: '', b: '', t: '' })).to.deep.equal({ ok: true, csv: ',,,,,""\n' });
    const bad = (rec: object) => {
      const r = conv(rec);
      return r.ok ? 'ok' : `${r.column}: ${r.reason}`;
    };
    expect(bad({ i: 1.5 })).to.match(/^i: .*fraction/);
    expect(bad({ i: '1.0' })).to.match(/^i: invalid integer/);
    expect(bad({ i: 'abc' })).to.match(/^i: invalid integer/);
    expect(bad({ i: 3000000000 })).to.match(/^i: .*out of range/);
    expect(bad({ s: 40000 })).to.match(/^s: .*out of range for smallint/);
    expect(bad({ n: 1000 })).to.match(/^n: numeric field overflow/);
    expect(bad({ b: 'maybe' })).to.match(/^b: invalid boolean/);
    expect(bad({ i: true })).to.match(/^i: invalid integer value: JSON boolean/);
    expect(bad({ t: 'a\u0000b' })).to.match(/^t: .*NUL/);
  });

  it('rejects text longer than varchar(n), counted in UTF-8 bytes like Redshift', () => {
    const conv = createRowConverter(events, { kind: 'auto' }, 'auto');
    expect(conv({ name: 'abcde' }).ok).to.equal(true);
    const r = conv({ name: 'abcdef' });
    expect(r).to.deep.include({ ok: false, column: 'name', value: 'abcdef' });
    expect(conv({ name: 'ééé' })).to.deep.include({ ok: false, column: 'name' });
  });

  it('reads epoch milliseconds and ISO timestamps', () => {
    const cols = [col('ts', 'timestamp without time zone'), col('tz', 'timestamp with time zone'), col('d', 'date')];
    const ms = createRowConverter(cols, { kind: 'auto' }, 'epochmillisecs');
    // DATE columns follow DATEFORMAT, not TIMEFORMAT: an epoch is not a date (copy-parameters-data-conversion)
    expect(ms({ ts: 1541105830796, tz: '1541105830796', d: '2018-11-01' })).to.deep.equal({
      ok: true,
      csv: '2018-11-01 20:57:10.796000,2018-11-01 20:57:10.796000+00,2018-11-01\n',
    });
    expect(ms({ d: 1541105830796 })).to.deep.include({ ok: false, column: 'd' });
    expect(ms({ ts: '2018-11-01' })).to.deep.include({ ok: false, column: 'ts' });
    const auto = createRowConverter(cols, { kind: 'auto' }, 'auto');
    expect(auto({ ts: '2018-11-01T21:01:46.123456Z', tz: '2018-11-01 23:01:46+02:00', d: '2018-11-30' })).to.deep.equal({
      ok: true,
      csv: '2018-11-01 21:01:46.123456,2018-11-01 21:01:46.000000+00,2018-11-30\n',
    });
    // TIMEFORMAT 'auto' does not read epoch numbers: they need 'epochsecs' / 'epochmillisecs' (automatic-recognition)
    expect(auto({ ts: 1541105830 })).to.deep.include({ ok: false, column: 'ts' });
    expect(auto({ ts: '2018-02-30 00:00:00' })).to.deep.include({ ok: false, column: 'ts' });
    expect(auto({ d: 'yesterday' })).to.deep.include({ ok: false, column: 'd' });
  });

  it('rejects NULL in a NOT NULL column and a record that is not an object', () => {
    const conv = createRowConverter([col('a', 'integer', { nullable: false })], { kind: 'auto' }, 'auto');
    expect(conv({})).to.deep.include({ ok: false, column: 'a', reason: 'NULL value in a NOT NULL column' });
    expect(conv([1])).to.deep.include({ ok: false, column: null });
  });
});

describe('connections: URLs', () => {
  const home = '/srv/sluice';
  it('parses every supported form', () => {
    expect(parseConnectionUrl('pglite:warehouse', { home })).to.deep.equal({ kind: 'pglite', dataDir: '/srv/sluice/warehouse' });
    expect(parseConnectionUrl('pglite:///var/db', { home })).to.deep.equal({ kind: 'pglite', dataDir: '/var/db' });
    expect(parseConnectionUrl('pglite://memory', { home })).to.deep.equal({ kind: 'pglite', dataDir: null });
    expect(parseConnectionUrl('postgresql://u:p@h:5432/db', { home }).kind).to.equal('postgres');
    expect(parseConnectionUrl('redshift://u:p@h:5439/db', { home }).kind).to.equal('redshift');
    expect(parseConnectionUrl('lake', { home })).to.deep.equal({ kind: 'local', root: '/srv/sluice/lake' });
    expect(parseConnectionUrl('file:///data/lake', { home })).to.deep.equal({ kind: 'local', root: '/data/lake' });
    const s3 = parseConnectionUrl('s3://bkt/some/prefix?region=us-west-2&endpoint=http://127.0.0.1:9000', { home });
    expect(s3).to.deep.include({ kind: 's3', bucket: 'bkt', prefix: 'some/prefix/', region: 'us-west-2', forcePathStyle: true });
    expect(() => parseConnectionUrl('mysql://x', { home })).to.throw(/unsupported connection URL scheme 'mysql:'/);
    expect(() => parseConnectionUrl('s3://b/?regoin=x', { home })).to.throw(/unknown S3 URL parameter 'regoin'/);
  });

  it('takes the S3 endpoint from AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL', () => {
    const saved = { ...process.env };
    try {
      delete process.env.AWS_ENDPOINT_URL_S3;
      process.env.AWS_ENDPOINT_URL = 'http://localhost:4566';
      expect(parseConnectionUrl('s3://b', { home })).to.deep.include({ endpoint: 'http://localhost:4566', prefix: '' });
      process.env.AWS_ENDPOINT_URL_S3 = 'http://localhost:9000';
      expect(parseConnectionUrl('s3://b', { home })).to.deep.include({ endpoint: 'http://localhost:9000' });
    } finally {
      process.env.AWS_ENDPOINT_URL = saved.AWS_ENDPOINT_URL;
      process.env.AWS_ENDPOINT_URL_S3 = saved.AWS_ENDPOINT_URL_S3;
      if (saved.AWS_ENDPOINT_URL === undefined) delete process.env.AWS_ENDPOINT_URL;
      if (saved.AWS_ENDPOINT_URL_S3 === undefined) delete process.env.AWS_ENDPOINT_URL_S3;
    }
  });

  it('redacts passwords and secret parameters', () => {
    expect(redactUrl('postgres://sluice:s3cr3t@db:5432/sparkify')).to.equal('postgres://sluice:***@db:5432/sparkify');
    expect(redactUrl('s3://b/p?region=x&access_key_id=AK&secret_access_key=SK&session_token=T')).to.equal(
      's3://b/p?region=x&access_key_id=AK&secret_access_key=***&session_token=***',
    );
    expect(redactUrl('postgres://h/db?password=x&sslmode=require')).to.equal('postgres://h/db?password=***&sslmode=require');
    expect(redactUrl('lake')).to.equal('lake');
  });

  it('makes full URLs under a store relative keys', () => {
    expect(toStoreKey('s3://b/p?region=x', 's3://b/p/log_data/')).to.equal('log_data/');
    expect(toStoreKey('file:///data/lake', '/data/lake/song_data')).to.equal('song_data');
    expect(toStoreKey('file:///data/lake', 'log_data/2018/')).to.equal('log_data/2018/');
    expect(() => toStoreKey('file:///data/lake', '../etc/passwd')).to.throw(/\.\./);
  });
});
