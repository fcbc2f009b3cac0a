/**
 * PGlite and a real PostgreSQL server behind the same Warehouse contract.
 */
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { openWarehouse } from '../../../../engine/connections/index.js';
import { PostgresWarehouse } from '../../../../engine/connections/warehouse/postgres.js';
import { freshPgliteUrl } from '../../../helpers/pglite.js';
import { usePostgres } from '../../../helpers/postgres.js';
import { makeTempDir } from '../../../helpers/tmp.js';
import { describeWarehouse, expectReject } from './warehouse-suite.js';

describeWarehouse('pglite', async () => openWarehouse((await freshPgliteUrl()).url, { home: '/' }));

describe('postgres server', () => {
  const pg = usePostgres('warehouses');
  describeWarehouse('postgres', async () => openWarehouse(pg.url, { home: '/' }));

  it('cancels a running query on the server when the signal aborts', async () => {
    const wh = await openWarehouse(pg.url, { home: '/' });
    try {
      const ac = new AbortController();
      setTimeout(() => ac.abort(new Error('execution_timeout')), 200);
      const t0 = Date.now();
      const err = await expectReject(wh.query('SELECT pg_sleep(20)', [], { signal: ac.signal }));
      expect(err.message).to.equal('execution_timeout');
      expect(Date.now() - t0).to.be.lessThan(5000);
      expect((await wh.query('SELECT 1 AS one')).rows).to.deep.equal([{ one: 1 }]);
    } finally {
      await wh.close();
    }
  });
});

describe('pglite data dir', () => {
  it('is created on first use and reopened with its data', async function () {
    this.timeout(60_000);
    const home = makeTempDir('sluice-home');
    const wh = await openWarehouse('pglite:.sluice/warehouse', { home });
    expect(existsSync(path.join(home, '.sluice/warehouse/PG_VERSION'))).to.equal(true);
    await wh.query('CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)');
    await wh.close();
    const again = await openWarehouse(`pglite://${path.join(home, '.sluice/warehouse')}`, { home: '/' });
    expect((await again.query('SELECT x FROM kept')).rows).to.deep.equal([{ x: 7 }]);
    await again.close();
  });

  it('pglite://memory is in memory', async () => {
    const wh = await openWarehouse('pglite://memory', { home: '/' });
    expect(wh.kind).to.equal('pglite');
    expect((await wh.query('SELECT 1 AS one')).rows).to.deep.equal([{ one: 1 }]);
    await wh.close();
  });
});

describe('unreachable postgres', () => {
  it('is a ConnectionError naming the redacted URL and the cause, within seconds', async () => {
    const t0 = Date.now();
    // port 1 on loopback: nothing listens there
    const err = await expectReject(openWarehouse('postgres://sluice:hunter2@127.0.0.1:1/sparkify', { home: '/' }));
    expect(err.name).to.equal('ConnectionError');
    expect(err.message).to.contain('postgres://sluice:***@127.0.0.1:1/sparkify');
    expect(err.message).to.match(/ECONNREFUSED/);
    expect(err.message).not.to.contain('hunter2');
    expect(Date.now() - t0).to.be.lessThan(6000);
    expect(PostgresWarehouse).to.be.a('function');
  });
});
