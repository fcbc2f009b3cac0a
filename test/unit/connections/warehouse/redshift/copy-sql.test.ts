import { expect } from 'chai';
import {
  buildCopySql,
  buildManifest,
  buildJsonPathsFile,
  toRejections,
  type CopySpec,
} from '../../../../../engine/connections/warehouse/redshift/redshift-copy.js';
import { formatRedshiftUrl, parseRedshiftUrl } from '../../../../../engine/connections/warehouse/redshift/redshift-url.js';
import { redactUrl } from '../../../../../engine/connections/url.js';
import { ConnectionError, LoadError } from '../../../../../engine/errors.js';

const ROLE = 'arn:aws:iam::123456789012:role/sluiceRedshiftS3Read';
const base: CopySpec = {
  table: 'staging_events',
  from: 's3://udacity-dend/log_data/2018/11/',
  manifest: false,
  auth: { kind: 'iam_role', arn: ROLE },
  json: 's3://udacity-dend/log_json_path.json',
  timeformat: 'epochmillisecs',
  region: 'us-west-2',
  maxerror: 0,
  gzip: false,
};

describe('Redshift COPY text (golden)', () => {
  it('IAM role, JSONPaths, epochmillisecs, region, MAXERROR 0', () => {
    expect(buildCopySql(base)).to.equal(
      [
        'COPY "staging_events"',
        "FROM 's3://udacity-dend/log_data/2018/11/'",
        `IAM_ROLE '${ROLE}'`,
        "FORMAT AS JSON 's3://udacity-dend/log_json_path.json'",
        "TIMEFORMAT 'epochmillisecs'",
        "REGION 'us-west-2'",
        'MAXERROR 0',
        'COMPUPDATE OFF',
        'STATUPDATE OFF',
      ].join('\n'),
    );
  });

  it("json 'auto', TIMEFORMAT 'auto', no region, MAXERROR 5, GZIP, schema-qualified table", () => {
    expect(
      buildCopySql({
        ...base,
        table: 'stage.staging_songs',
        json: 'auto',
        timeformat: 'auto',
        region: undefined,
        maxerror: 5,
        gzip: true,
      }),
    ).to.equal(
      [
        'COPY "stage"."staging_songs"',
        "FROM 's3://udacity-dend/log_data/2018/11/'",
        `IAM_ROLE '${ROLE}'`,
        "FORMAT AS JSON 'auto'",
        "TIMEFORMAT 'auto'",
        'MAXERROR 5',
        'GZIP',
        'COMPUPDATE OFF',
        'STATUPDATE OFF',
      ].join('\n'),
    );
  });

  it("json 'auto ignorecase' with a manifest", () => {
    const sql = buildCopySql({
      ...base,
      json: 'auto ignorecase',
      manifest: true,
      from: 's3://b/_sluice/manifests/staging_songs-0123456789ab.manifest',
    });
    expect(sql.split('\n').slice(1, 6)).to.deep.equal([
      "FROM 's3://b/_sluice/manifests/staging_songs-0123456789ab.manifest'",
      `IAM_ROLE '${ROLE}'`,
      'MANIFEST',
      "FORMAT AS JSON 'auto ignorecase'",
      "TIMEFORMAT 'epochmillisecs'",
    ]);
  });

  it('access keys from the credential chain, and a redacted form for logs', () => {
    const spec: CopySpec = {
      ...base,
      auth: {
        kind: 'keys',
        accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
        secretAccessKey: 'wJalr/XUtnFEMI+K7MDENG',
        sessionToken: 'FQoGZXIvYXdz',
      },
    };
    expect(buildCopySql(spec).split('\n').slice(2, 5)).to.deep.equal([
      "ACCESS_KEY_ID 'AKIAIOSFODNN7EXAMPLE'",
      "SECRET_ACCESS_KEY 'wJalr/XUtnFEMI+K7MDENG'",
      "SESSION_TOKEN 'FQoGZXIvYXdz'",
    ]);
    const shown = buildCopySql(spec, { redact: true });
    expect(shown.split('\n').slice(2, 5)).to.deep.equal([
      "ACCESS_KEY_ID '***'",
      "SECRET_ACCESS_KEY '***'",
      "SESSION_TOKEN '***'",
    ]);
    expect(shown).not.to.match(/AKIA|wJalr|FQoG/);
    const noToken = buildCopySql({ ...spec, auth: { kind: 'keys', accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'x' } });
    expect(noToken).not.to.include('SESSION_TOKEN');
  });

  it('quotes are doubled; backslashes, bad regions and non-S3 sources are refused', () => {
    expect(buildCopySql({ ...base, from: "s3://b/it's/" })).to.include("FROM 's3://b/it''s/'");
    expect(() => buildCopySql({ ...base, from: 's3://b/a\\b/' })).to.throw(LoadError, /backslashes/);
    expect(() => buildCopySql({ ...base, region: "us-west-2'; DROP TABLE x; --" })).to.throw(LoadError, /not an AWS region/);
    expect(() => buildCopySql({ ...base, from: '/tmp/lake/' })).to.throw(LoadError, /s3:\/\//);
    expect(() => buildCopySql({ ...base, json: 'sql/log_json_path.json' })).to.throw(LoadError, /JSONPaths/);
    expect(() => buildCopySql({ ...base, maxerror: -1 })).to.throw(LoadError, /MAXERROR/);
  });

  it('manifest and JSONPaths files', () => {
    expect(JSON.parse(buildManifest(['s3://b/a.json', 's3://b/b.json.gz']))).to.deep.equal({
      entries: [
        { url: 's3://b/a.json', mandatory: true },
        { url: 's3://b/b.json.gz', mandatory: true },
      ],
    });
    expect(JSON.parse(buildJsonPathsFile(["$['artist']", "$['auth']"]))).to.deep.equal({
      jsonpaths: ["$['artist']", "$['auth']"],
    });
  });

  it('stl_load_errors rows become rejections like the local loaders record', () => {
    const base = 's3://b/lake/';
    const rows = [
      {
        filename: 's3://b/lake/log_data/2018-11-01-events.json   ',
        line_number: '7',
        colname: 'ts          ',
        raw_field_value: 'abc   ',
        err_code: 1207,
        err_reason: "Invalid digit, Value 'a', Pos 0, Type: Long   ",
      },
      {
        filename: 's3://b/lake/log_data/x.json',
        line_number: 3,
        colname: '',
        raw_field_value: '',
        err_code: null,
        err_reason: 'Invalid JSONPath format',
      },
    ];
    expect(toRejections(rows, (u) => (u.startsWith(base) ? `s3://b/lake/${u.slice(base.length)}` : u))).to.deep.equal([
      {
        object: 's3://b/lake/log_data/2018-11-01-events.json',
        line: 7,
        column: 'ts',
        value: 'abc',
        reason: "Invalid digit, Value 'a', Pos 0, Type: Long (error 1207)",
      },
      { object: 's3://b/lake/log_data/x.json', line: 3, column: null, value: null, reason: 'Invalid JSONPath format' },
    ]);
  });
});

describe('redshift:// URLs', () => {
  it('parses host, port, database, user, password_env, iam_role, region, sslmode', () => {
    const u = parseRedshiftUrl(
      `redshift://dwhuser@c.abc.us-west-2.redshift.amazonaws.com:5439/dwh?password_env=RS_PW&iam_role=${ROLE}&region=us-west-2`,
      { RS_PW: 'Secret123' },
    );
    expect(u).to.deep.equal({
      host: 'c.abc.us-west-2.redshift.amazonaws.com',
      port: 5439,
      database: 'dwh',
      user: 'dwhuser',
      password: 'Secret123',
      passwordEnv: 'RS_PW',
      iamRole: ROLE,
      region: 'us-west-2',
      sslmode: 'verify-full',
    });
    expect(parseRedshiftUrl('redshift://u:p%40ss@h', {})).to.include({ port: 5439, database: 'dev', password: 'p@ss' });
    expect(parseRedshiftUrl('redshift://u@h/db?sslmode=disable', {}).sslmode).to.equal('disable');
  });

  it('errors name the problem and never the password', () => {
    expect(() => parseRedshiftUrl('redshift://u@h/db?password_env=NOPE', {})).to.throw(
      ConnectionError,
      /environment variable NOPE .* not set/,
    );
    expect(() => parseRedshiftUrl('redshift://u@h/db?foo=1', {})).to.throw(
      ConnectionError,
      /unknown redshift URL parameter 'foo'/,
    );
    expect(() => parseRedshiftUrl('redshift://u@h/db?iam_role=admin', {})).to.throw(ConnectionError, /IAM role ARN/);
    expect(() => parseRedshiftUrl('redshift://h/db', {})).to.throw(ConnectionError, /needs a user/);
    expect(() => parseRedshiftUrl('redshift://u:hunter2@h/db?password_env=X', { X: 'y' })).to.throw(ConnectionError, /both/);
    try {
      parseRedshiftUrl('redshift://u:hunter2@h/db?password_env=X', { X: 'y' });
    } catch (err) {
      expect((err as Error).message).not.to.include('hunter2');
    }
  });

  it('formats a URL without any secret; the round trip holds; redaction keeps *_env references', () => {
    const url = formatRedshiftUrl({
      host: 'h.example',
      port: 5439,
      database: 'dwh',
      user: 'dwhuser',
      passwordEnv: 'REDSHIFT_PASSWORD',
      iamRole: ROLE,
      region: 'us-west-2',
    });
    expect(url).to.equal(
      `redshift://dwhuser@h.example:5439/dwh?password_env=REDSHIFT_PASSWORD&iam_role=${ROLE}&region=us-west-2`,
    );
    expect(parseRedshiftUrl(url, { REDSHIFT_PASSWORD: 'x' })).to.include({
      host: 'h.example',
      iamRole: ROLE,
      passwordEnv: 'REDSHIFT_PASSWORD',
    });
    expect(redactUrl(url)).to.equal(url);
    expect(redactUrl('redshift://u:pw@h:5439/db?password=x')).to.equal('redshift://u:***@h:5439/db?password=***');
  });
});
