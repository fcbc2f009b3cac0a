/**
 * Conformance of the local COPY ... FORMAT AS JSON emulation to AWS's
 * documentation: every case of test/fixtures/copy-json/cases.ts (each citing
 * its documentation page) loads on PGlite and on PostgreSQL with the rows or
 * the error Redshift gives, and renders the server-side COPY text of
 * test/fixtures/copy-json/golden/<id>.sql. Set SLUICE_UPDATE_GOLDEN=1 to
 * rewrite the golden files after a deliberate change (then review the diff).
 */
import { expect } from 'chai';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openObjectStore, openWarehouse, readJsonPathsFile } from '../../../engine/connections/index.js';
import { isGzipKey } from '../../../engine/connections/store/gzip.js';
import { buildCopySql } from '../../../engine/connections/warehouse/redshift/redshift-copy.js';
import { JsonLoadError, LoadError } from '../../../engine/errors.js';
import type { JsonLoadSpec, ObjectStore, Warehouse } from '../../../engine/interfaces.js';
import { StageToRedshift } from '../../../operators/stage-to-redshift.js';
import { CASES, type ConformanceCase } from '../../fixtures/copy-json/cases.js';
import { freshPgliteUrl } from '../../helpers/pglite.js';
import { usePostgres } from '../../helpers/postgres.js';
import { makeTempDir } from '../../helpers/tmp.js';
import { expectReject } from './warehouse/warehouse-suite.js';

const home = '/';
const GOLDEN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/copy-json/golden');

function table(c: ConformanceCase): string {
  return `conf_${c.id.replace(/-/g, '_')}`;
}

function spec(c: ConformanceCase, store: ObjectStore): JsonLoadSpec {
  return {
    table: table(c),
    store,
    source: `${c.id}/`,
    mapping: Array.isArray(c.json) ? { kind: 'jsonpaths', paths: c.json, file: `${c.id}.jsonpaths` } : { kind: c.json ?? 'auto' },
    timeformat: c.timeformat ?? 'auto',
    dateformat: c.dateformat,
    roundec: c.roundec,
    truncatecolumns: c.truncatecolumns,
    acceptinvchars: c.acceptinvchars,
    maxerror: c.maxerror ?? 0,
  };
}

function describeConformance(label: string, openWh: () => Promise<Warehouse>): void {
  describe(`COPY JSON conformance: ${label}`, () => {
    let wh: Warehouse;
    let store: ObjectStore;
    before(async function () {
      this.timeout(120_000);
      wh = await openWh();
      store = await openObjectStore(makeTempDir('sluice-conformance-lake'), { home });
      await wh.query("SET TIME ZONE 'UTC'");
      for (const c of CASES) {
        for (const [name, body] of Object.entries(c.files)) await store.write(`${c.id}/${name}`, body);
        await wh.query(`CREATE TABLE ${table(c)} (${c.columns})`);
      }
    });
    after(async () => {
      await wh?.close();
      await store?.close();
    });

    for (const c of CASES) {
      it(`${c.id} [${c.doc}]: ${c.rule}`, async () => {
        if (c.error) {
          const err = await expectReject(wh.loadJson(spec(c, store)));
          expect(err).to.be.instanceOf(JsonLoadError);
          expect(err.message).to.match(c.error.message);
          expect((err as LoadError).line).to.equal(c.error.line);
          return;
        }
        const res = await wh.loadJson(spec(c, store));
        const cols = (
          await wh.query<{ n: string }>(
            `SELECT attname AS n FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 ORDER BY attnum`,
            [table(c)],
          )
        ).rows.map((r) => `${r.n}::text`);
        const got = await wh.query(`SELECT ${cols.join(', ')} FROM ${table(c)} ORDER BY 1::int`);
        expect(got.rows.map((r) => Object.values(r))).to.deep.equal(c.rows);
        expect(res.rows).to.equal(c.rows!.length);
        const rejected = res.rejected.map((r) => [r.line, r.column, r.reason]);
        expect(rejected.map(([l, col]) => [l, col])).to.deep.equal((c.rejected ?? []).map(([l, col]) => [l, col]));
        (c.rejected ?? []).forEach(([, , reason], i) => expect(rejected[i]![2]).to.match(reason));
      });
    }
  });
}

describeConformance('pglite', async () => openWarehouse((await freshPgliteUrl()).url, { home }));

describe('with a PostgreSQL server', () => {
  const pg = usePostgres('copy_json_conformance');
  describeConformance('postgres', async () => openWarehouse(await pg.newDatabase('conformance'), { home }));
});

describe('COPY JSON conformance: the server-side COPY text (golden files)', () => {
  for (const c of CASES) {
    it(`${c.id} renders golden/${c.id}.sql`, () => {
      const s = spec(c, undefined as unknown as ObjectStore);
      const sql = buildCopySql({
        table: s.table,
        from: `s3://sparkify-lake/${c.id}/`,
        manifest: false,
        auth: { kind: 'iam_role', arn: 'arn:aws:iam::123456789012:role/sluice-copy' },
        json: Array.isArray(c.json) ? `s3://sparkify-lake/_sluice/jsonpaths/${c.id}.json` : (c.json ?? 'auto'),
        timeformat: s.timeformat,
        dateformat: s.dateformat,
        roundec: s.roundec,
        truncatecolumns: s.truncatecolumns,
        acceptinvchars: s.acceptinvchars,
        region: 'us-west-2',
        maxerror: s.maxerror,
        gzip: Object.keys(c.files).some(isGzipKey),
      });
      const file = path.join(GOLDEN, `${c.id}.sql`);
      if (process.env.SLUICE_UPDATE_GOLDEN === '1') {
        mkdirSync(GOLDEN, { recursive: true });
        writeFileSync(file, `${sql}\n`);
      }
      expect(existsSync(file), `${file} is missing: run with SLUICE_UPDATE_GOLDEN=1 and review it`).to.equal(true);
      expect(`${sql}\n`).to.equal(readFileSync(file, 'utf8'));
    });
  }

  it('MAXERROR above 100000 is refused when the DAG is validated, and by the COPY builder', () => {
    const base = { table: 'staging_events', source: 'log_data/' };
    expect(StageToRedshift.params.safeParse({ ...base, maxerror: 100000 }).success).to.equal(true);
    const r = StageToRedshift.params.safeParse({ ...base, maxerror: 100001 });
    expect(r.success).to.equal(false);
    expect(JSON.stringify(r.error?.issues)).to.match(/maxerror/);
    expect(() =>
      buildCopySql({
        table: 't',
        from: 's3://b/p/',
        manifest: false,
        auth: { kind: 'iam_role', arn: 'arn:aws:iam::1:role/r' },
        json: 'auto',
        timeformat: 'auto',
        maxerror: 100001,
        gzip: false,
      }),
    ).to.throw(LoadError, /from 0 to 100000/);
  });

  it('a bad TIMEFORMAT, DATEFORMAT or ACCEPTINVCHARS is refused when the DAG is validated', () => {
    const base = { table: 'staging_events', source: 'log_data/' };
    const issues = (p: object) => {
      const r = StageToRedshift.params.safeParse({ ...base, ...p });
      return r.success ? 'ok' : JSON.stringify(r.error.issues);
    };
    expect(issues({ timeformat: 'YYYY-MM-DD HH:MI:SS', dateformat: 'auto', acceptinvchars: true })).to.equal('ok');
    expect(issues({ timeformat: 'nonsense' })).to.match(/timeformat/);
    expect(issues({ dateformat: 'epochsecs' })).to.match(/dateformat/);
    expect(issues({ acceptinvchars: 'ab' })).to.match(/acceptinvchars/);
  });
});

describe('COPY JSON conformance: JSONPaths files [copy-parameters-data-format]', () => {
  it('refuses a file that mixes bracket and dot notation, naming both paths', () => {
    expect(() => readJsonPathsFile('{"jsonpaths": ["$[\'a\']", "$.b"]}', 'sql/mixed.json')).to.throw(
      LoadError,
      /sql\/mixed\.json mixes bracket notation \(jsonpaths\[0\].*dot notation \(jsonpaths\[1\]/,
    );
    expect(readJsonPathsFile('{"jsonpaths": ["$[\'a.b\']", "$[\'c\'][0]"]}', 'f')).to.deep.equal({
      kind: 'jsonpaths',
      paths: ["$['a.b']", "$['c'][0]"],
    });
    expect(readJsonPathsFile('{"jsonpaths": ["$.a", "$.b[0]"]}', 'f').kind).to.equal('jsonpaths');
  });

  it("falls back to 'auto' with a warning when the file has no jsonpaths key", () => {
    const r = readJsonPathsFile('{"paths": ["$.a"]}', 'sql/odd.json');
    expect(r.kind).to.equal('auto');
    expect(r.kind === 'auto' && r.warning).to.match(/sql\/odd\.json has no "jsonpaths" key: COPY falls back to 'auto'/);
  });
});
