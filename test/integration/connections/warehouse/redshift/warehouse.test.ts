/**
 * The redshift warehouse's SQL against a real PostgreSQL server standing in
 * for Redshift (no Redshift is reached here): the pg connection path, the
 * COPY plan (prefix, GZIP, manifests, JSONPaths written to an S3 lake served
 * by s3rver), and the stl_load_errors read-back, on a fake stl_load_errors
 * table. Also the redshift-rendered DDL (golden) and DML parity on PostgreSQL.
 */
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { LocalObjectStore, parseConnectionUrl, openWarehouse } from '../../../../../engine/connections/index.js';
import { S3ObjectStore } from '../../../../../engine/connections/store/s3-store.js';
import {
  RedshiftWarehouse,
  copyJsonFromS3,
  type RedshiftCopyTarget,
} from '../../../../../engine/connections/warehouse/redshift/redshift.js';
import type { S3Location } from '../../../../../engine/connections/url.js';
import { ConnectionError, JsonLoadError } from '../../../../../engine/errors.js';
import type { JsonLoadSpec } from '../../../../../engine/interfaces.js';
import { buildContext, render } from '../../../../../engine/template/index.js';
import { usePostgres } from '../../../../helpers/postgres.js';
import { startS3rver, type S3rver } from '../../../../helpers/s3.js';
import { makeTempDir } from '../../../../helpers/tmp.js';
import { ROOT } from '../../../../helpers/cli.js';

const ROLE = 'arn:aws:iam::123456789012:role/sluiceRedshiftS3Read';

function asRedshiftUrl(pgUrl: string, query = 'sslmode=disable'): string {
  const u = new URL(pgUrl);
  return `redshift://${u.username}@${u.host}${u.pathname}?${query}`;
}

describe('redshift warehouse on a PostgreSQL stand-in', function () {
  const pgh = usePostgres('redshift');
  let s3: S3rver;

  before(async function () {
    this.timeout(60_000);
    s3 = await startS3rver(['lake']);
  });
  after(async () => {
    await s3?.stop();
  });

  it('connects with pg (sslmode=disable), reports dialect redshift, runs queries and transactions', async () => {
    const url = asRedshiftUrl(pgh.url, `sslmode=disable&iam_role=${ROLE}&region=us-west-2`);
    expect(parseConnectionUrl(url, { home: '/' }).kind).to.equal('redshift');
    const wh = await openWarehouse(url, { home: '/' });
    try {
      expect(wh).to.be.instanceOf(RedshiftWarehouse);
      expect(wh.kind).to.equal('redshift');
      expect(wh.dialect).to.equal('redshift');
      expect((wh as RedshiftWarehouse).settings).to.include({ iamRole: ROLE, region: 'us-west-2', sslmode: 'disable' });
      await wh.query('CREATE TABLE t (a int)');
      await wh.transaction(async (tx) => {
        expect(tx.dialect).to.equal('redshift');
        await tx.query('INSERT INTO t VALUES ($1)', [1]);
      });
      await wh
        .transaction(async (tx) => {
          await tx.query('INSERT INTO t VALUES (2)');
          throw new Error('roll back');
        })
        .catch(() => {});
      expect((await wh.query<{ n: number }>('SELECT count(*)::int AS n FROM t')).rows[0]!.n).to.equal(1);
    } finally {
      await wh.close();
    }
  });

  it('an unreachable cluster and a missing password variable are ConnectionErrors without secrets', async () => {
    const err = await RedshiftWarehouse.open(
      'redshift://u:***@127.0.0.1:1/db',
      'redshift://u:hunter2@127.0.0.1:1/db?sslmode=disable',
    ).catch((e: Error) => e);
    expect(err).to.be.instanceOf(ConnectionError);
    expect((err as Error).message).to.include('cannot connect to Redshift at redshift://u:***@127.0.0.1:1/db');
    expect((err as Error).message).not.to.include('hunter2');
    const err2 = await RedshiftWarehouse.open('x', 'redshift://u@127.0.0.1:1/db?password_env=SLUICE_TEST_UNSET_PW', {}).catch(
      (e: Error) => e,
    );
    expect((err2 as Error).message).to.include('SLUICE_TEST_UNSET_PW');
  });

  it('a local lake with a redshift warehouse is a clear ConnectionError', async () => {
    const wh = await RedshiftWarehouse.open('redshift://stand-in', asRedshiftUrl(pgh.url));
    const store = new LocalObjectStore(makeTempDir('sluice-rs-lake'));
    try {
      const spec: JsonLoadSpec = {
        table: 't',
        store,
        source: 'log_data/',
        mapping: { kind: 'auto' },
        timeformat: 'auto',
        maxerror: 0,
      };
      const err = await wh.loadJson(spec).catch((e: Error) => e);
      expect(err).to.be.instanceOf(ConnectionError);
      expect((err as Error).message).to.match(/server-side COPY from S3, but the lake .* is a local store/);
    } finally {
      await wh.close();
      await store.close();
    }
  });

  describe('COPY plan and stl_load_errors read-back', () => {
    let client: pg.Client;
    let side: pg.Client;
    let store: S3ObjectStore;
    const copies: string[] = [];
    /** What the fake COPY does: rows to insert, rejections to log, and whether to fail. */
    let behaviour: {
      rows: number;
      errors: { file: string; line: number; col: string; value: string; reason: string }[];
      fail?: string;
    } = { rows: 0, errors: [] };
    let queryId = 100;

    before(async () => {
      client = new pg.Client({ connectionString: pgh.url });
      side = new pg.Client({ connectionString: pgh.url });
      await client.connect();
      await side.connect();
      await client.query(`
        CREATE TABLE staging_events (artist varchar(256), ts bigint);
        CREATE TABLE stl_load_errors (query int, session int, filename char(256), line_number bigint, colname char(127),
                                      raw_field_value char(1024), err_code int, err_reason char(100));
        CREATE TABLE fake_last_copy (query_id int, row_count bigint);
        CREATE FUNCTION pg_last_copy_id() RETURNS int AS 'SELECT coalesce(max(query_id), -1) FROM fake_last_copy' LANGUAGE sql;
        CREATE FUNCTION pg_last_copy_count() RETURNS bigint AS 'SELECT coalesce(max(row_count), 0) FROM fake_last_copy' LANGUAGE sql;`);
      const url = s3.storeUrl('lake', 'sparkify/');
      const c = parseConnectionUrl(url, { home: '/' }) as { kind: 's3' } & S3Location;
      store = new S3ObjectStore(url, c);
      await store.write('log_data/2018/11/a.json', '{"artist":"A","ts":1}\n');
      await store.write('log_data/2018/11/b.json', '{"artist":"B","ts":2}\n');
      await store.write('song_data/x.json.gz', Buffer.from([0x1f, 0x8b]));
      await store.write('song_data/y.json', '{}');
    });
    after(async () => {
      await client?.end();
      await side?.end();
      await store?.close();
    });
    beforeEach(() => {
      copies.length = 0;
    });

    function target(over: Partial<RedshiftCopyTarget> = {}): RedshiftCopyTarget {
      return {
        query: async (sql, params) => {
          const r = await client.query(sql, params as unknown[]);
          return { rows: r.rows, rowCount: r.rowCount ?? 0, fields: r.fields.map((f) => ({ name: f.name })) };
        },
        copy: async (sql, shown) => {
          copies.push(shown);
          const id = ++queryId;
          // Redshift logs load errors outside the COPY's transaction: write them from the side connection
          for (const e of behaviour.errors) {
            await side.query(
              `INSERT INTO stl_load_errors (query, session, filename, line_number, colname, raw_field_value, err_code, err_reason)
               VALUES ($1, $2, $3, $4, $5, $6, 1207, $7)`,
              [id, (client as unknown as { processID: number }).processID, e.file, e.line, e.col, e.value, e.reason],
            );
          }
          if (behaviour.fail) throw new Error(behaviour.fail);
          await client.query('DELETE FROM fake_last_copy');
          await client.query('INSERT INTO fake_last_copy VALUES ($1, $2)', [id, behaviour.rows]);
        },
        sideQuery: async (sql, params) => {
          const r = await side.query(sql, params as unknown[]);
          return { rows: r.rows, rowCount: r.rowCount ?? 0, fields: r.fields.map((f) => ({ name: f.name })) };
        },
        backendPid: (client as unknown as { processID: number }).processID,
        iamRole: ROLE,
        region: 'us-west-2',
        ...over,
      };
    }

    const spec = (over: Partial<JsonLoadSpec> = {}): JsonLoadSpec => ({
      table: 'staging_events',
      store,
      source: 'log_data/2018/11/',
      mapping: { kind: 'auto' },
      timeformat: 'epochmillisecs',
      maxerror: 2,
      ...over,
    });

    it('one COPY from the prefix; rows from pg_last_copy_count; rejections read back for that query', async () => {
      behaviour = {
        rows: 1,
        errors: [{ file: 's3://lake/sparkify/log_data/2018/11/b.json', line: 1, col: 'ts', value: 'x', reason: 'Invalid digit' }],
      };
      const res = await copyJsonFromS3(target(), spec());
      expect(copies).to.have.length(1);
      expect(copies[0]).to.equal(
        [
          'COPY "staging_events"',
          "FROM 's3://lake/sparkify/log_data/2018/11/'",
          `IAM_ROLE '${ROLE}'`,
          "FORMAT AS JSON 'auto'",
          "TIMEFORMAT 'epochmillisecs'",
          "REGION 'us-west-2'",
          'MAXERROR 2',
          'COMPUPDATE OFF',
          'STATUPDATE OFF',
        ].join('\n'),
      );
      expect(res).to.deep.include({ rows: 1, objects: 2 });
      expect(res.rejected).to.deep.equal([
        {
          object: 's3://lake/sparkify/log_data/2018/11/b.json',
          line: 1,
          column: 'ts',
          value: 'x',
          reason: 'Invalid digit (error 1207)',
        },
      ]);
    });

    it('mixed gzip and plain objects: one manifest COPY each (GZIP on one); JSONPaths written to the lake', async () => {
      behaviour = { rows: 1, errors: [] };
      const res = await copyJsonFromS3(
        target(),
        spec({ source: 'song_data/', mapping: { kind: 'jsonpaths', paths: ["$['artist']", "$['ts']"], file: 'sql/x.json' } }),
      );
      expect(res.rows).to.equal(2);
      expect(copies).to.have.length(2);
      expect(copies[0]).to.include('MANIFEST').and.not.include('GZIP');
      expect(copies[1]).to.include('MANIFEST').and.include('GZIP');
      const manifestUrl = /FROM 's3:\/\/lake\/(sparkify\/_sluice\/manifests\/[^']+)'/.exec(copies[1]!)![1]!;
      const manifest = await s3.client.send(new GetObjectCommand({ Bucket: 'lake', Key: manifestUrl }));
      expect(JSON.parse(await manifest.Body!.transformToString())).to.deep.equal({
        entries: [{ url: 's3://lake/sparkify/song_data/x.json.gz', mandatory: true }],
      });
      const jp = /FORMAT AS JSON 's3:\/\/lake\/(sparkify\/_sluice\/jsonpaths\/staging_events-[0-9a-f]{12}\.json)'/.exec(
        copies[0]!,
      )![1]!;
      const body = await s3.client.send(new GetObjectCommand({ Bucket: 'lake', Key: jp }));
      expect(JSON.parse(await body.Body!.transformToString())).to.deep.equal({ jsonpaths: ["$['artist']", "$['ts']"] });
    });

    it('explicit keys go through a manifest; our helper files are never loaded', async () => {
      behaviour = { rows: 1, errors: [] };
      await copyJsonFromS3(target(), { ...spec(), keys: ['log_data/2018/11/a.json'] } as JsonLoadSpec);
      expect(copies[0]).to.include('MANIFEST');
      copies.length = 0;
      await copyJsonFromS3(target(), spec({ source: '' }));
      expect(copies.every((c) => c.includes('MANIFEST'))).to.equal(true);
    });

    it('above MAXERROR: a JsonLoadError carrying every rejected line, read from another connection', async () => {
      behaviour = {
        rows: 0,
        fail: "Load into table 'staging_events' failed.  Check 'stl_load_errors' system table for details.",
        errors: [1, 2, 3].map((n) => ({
          file: 's3://lake/sparkify/log_data/2018/11/a.json',
          line: n,
          col: 'ts',
          value: `v${n}`,
          reason: 'Invalid digit',
        })),
      };
      await client.query('BEGIN');
      const err = await copyJsonFromS3(target(), spec()).catch((e: Error) => e);
      await client.query('ROLLBACK');
      expect(err).to.be.instanceOf(JsonLoadError);
      expect((err as JsonLoadError).rejected).to.have.length(3);
      expect((err as Error).message).to.equal(
        'load into staging_events failed: 3 line(s) rejected, more than MAXERROR 2; first at s3://lake/sparkify/log_data/2018/11/a.json line 1, column ts: Invalid digit (error 1207) (value: v1)',
      );
    });

    it('credentials from the chain are sent, but never shown in logs or errors', async () => {
      const keys = {
        accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
        secretAccessKey: 'wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY',
        sessionToken: 'FQoGZXIvYXdzTOKEN0123',
      };
      // the same store, as if its credentials had come from the AWS chain with these keys
      const keyed = Object.assign(Object.create(store) as S3ObjectStore, { location: { ...store.location, credentials: keys } });
      const shownStatements: string[] = [];
      let sent = '';
      behaviour = { rows: 0, errors: [], fail: `S3ServiceException: access denied for ${keys.secretAccessKey}` };
      const err = await copyJsonFromS3(
        target({
          iamRole: undefined,
          onStatement: (s) => shownStatements.push(s),
          copy: async (sql, shown) => {
            sent = sql;
            copies.push(shown);
            throw new Error(`S3ServiceException: access denied for ${keys.secretAccessKey} token ${keys.sessionToken}`);
          },
        }),
        spec({ store: keyed }),
      ).catch((e: Error) => e);
      if (!sent) throw err;
      expect(sent).to.include(`SECRET_ACCESS_KEY '${keys.secretAccessKey}'`);
      const visible = `${(err as Error).message} ${(err as Error).stack} ${shownStatements.join('\n')}`;
      for (const v of Object.values(keys)) expect(visible).not.to.include(v);
      expect(shownStatements[0]).to.include("SECRET_ACCESS_KEY '***'");
    });
  });
});

describe('redshift dialect of sql/ (golden DDL; DML parity on PostgreSQL)', function () {
  const pgh = usePostgres('rsdialect');
  const file = path.join(ROOT, 'sql', 'create_tables.sql');
  const ctx = (dialect: string) =>
    buildContext({
      dagId: 'songplays',
      runId: 'r',
      logicalDate: new Date('2018-11-21T00:00:00Z'),
      dataIntervalStart: new Date('2018-11-21T00:00:00Z'),
      dataIntervalEnd: new Date('2018-11-22T00:00:00Z'),
      dagParams: {},
      conf: {},
      conn: { lake: 's3://b/p', warehouse: 'redshift://u@h:5439/db' },
      dialect,
    });

  it('redshift DDL has DISTSTYLE on every table and sort keys; postgres DDL has none and runs on PostgreSQL', async () => {
    const text = fs.readFileSync(file, 'utf8');
    const rs = await render(text, ctx('redshift'), 'create_tables.sql');
    const pgText = await render(text, ctx('postgres'), 'create_tables.sql');
    const creates = rs.split(/CREATE TABLE/i).slice(1);
    expect(creates.length).to.be.greaterThan(0);
    for (const c of creates) expect(c, c.slice(0, 60)).to.match(/\)\s*DISTSTYLE (EVEN|ALL|KEY|AUTO)\b/);
    expect(rs).to.match(/SORTKEY \(start_time\)/);
    expect(rs).not.to.match(/CREATE INDEX/i);
    expect(pgText).not.to.match(/DISTSTYLE|SORTKEY|DISTKEY/);
    const c = new pg.Client({ connectionString: pgh.url });
    await c.connect();
    try {
      await c.query(pgText);
    } finally {
      await c.end();
    }
  });

  it('the DML selects render the same for both dialects and give the same tables on PostgreSQL', async () => {
    const selects = fs.readdirSync(path.join(ROOT, 'sql')).filter((f) => f.endsWith('_select.sql'));
    if (selects.length === 0) return;
    const ddl = await render(fs.readFileSync(file, 'utf8'), ctx('postgres'), 'create_tables.sql');
    const results: Record<string, Record<string, unknown[]>> = {};
    for (const dialect of ['postgres', 'redshift']) {
      const url = await pgh.newDatabase(`dml_${dialect}`);
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await c.query(ddl);
        await c.query(`
          INSERT INTO staging_events (artist, auth, firstname, gender, iteminsession, lastname, length, level, location, method, page,
                                      registration, sessionid, song, status, ts, useragent, userid) VALUES
            ('Muse', 'Logged In', 'Ann', 'F', 0, 'Lee', 200.5, 'free', 'NYC', 'PUT', 'NextSong', 1.5e12, 7, 'Uprising', 200, 1542758400123, 'UA', '15'),
            ('Nobody', 'Logged In', 'Ann', 'F', 1, 'Lee', 100, 'paid', 'NYC', 'PUT', 'NextSong', 1.5e12, 7, 'Unknown', 200, 1542762000000, 'UA', '15'),
            (NULL, 'Logged Out', NULL, NULL, 0, NULL, NULL, 'free', NULL, 'GET', 'Home', NULL, 8, NULL, 200, 1542765600000, 'UA', '');
          INSERT INTO staging_songs (num_songs, artist_id, artist_latitude, artist_longitude, artist_location, artist_name, song_id, title, duration, year)
            VALUES (1, 'AR1', NULL, NULL, 'UK', 'Muse', 'SO1', 'Uprising', 200.5, 2009);`);
        results[dialect] = {};
        for (const f of selects) {
          const sql = await render(fs.readFileSync(path.join(ROOT, 'sql', f), 'utf8'), ctx(dialect), f);
          results[dialect]![f] = (await c.query(sql)).rows;
        }
      } finally {
        await c.end();
      }
    }
    expect(results.redshift).to.deep.equal(results.postgres);
    expect(results.postgres!['songplays_select.sql']).to.have.length(2);
  });
});
