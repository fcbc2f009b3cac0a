/**
 * The connection resolver: named connections, opened lazily and cached.
 */
import { expect } from 'chai';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createConnectionResolver, openWarehouse } from '../../../engine/connections/index.js';
import { ConnectionError } from '../../../engine/errors.js';
import { makeTempDir } from '../../helpers/tmp.js';
import { expectReject } from './warehouse/warehouse-suite.js';

describe('connection resolver', () => {
  const home = makeTempDir('sluice-resolver');
  const urls = {
    warehouse: 'pglite://memory',
    lake: 'lake',
    other_lake: 's3://bucket/prefix?region=us-west-2&access_key_id=AK&secret_access_key=topsecret',
    dw: 'postgres://sluice:pw@127.0.0.1:1/sparkify',
    cluster: 'redshift://admin:pw@127.0.0.1:1/dev?sslmode=disable',
  };
  const resolver = createConnectionResolver(urls, { home });
  after(async function () {
    this.timeout(30_000);
    await resolver.closeAll();
  });

  it('lists names and public URLs without secrets', () => {
    expect(resolver.names()).to.deep.equal(['cluster', 'dw', 'lake', 'other_lake', 'warehouse']);
    expect(resolver.publicUrl('other_lake')).to.equal(
      's3://bucket/prefix?region=us-west-2&access_key_id=AK&secret_access_key=***',
    );
    expect(resolver.publicUrl('dw')).to.equal('postgres://sluice:***@127.0.0.1:1/sparkify');
    expect(resolver.publicUrl('lake')).to.equal(pathToFileURL(path.join(home, 'lake')).href);
  });

  it('opens the default warehouse and lake once and shares them', async function () {
    this.timeout(60_000);
    const [a, b] = await Promise.all([resolver.warehouse(), resolver.warehouse('warehouse')]);
    expect(a).to.equal(b);
    expect(a.kind).to.equal('pglite');
    const lake = await resolver.objectStore();
    expect(lake.kind).to.equal('local');
    expect(lake.url).to.equal(resolver.publicUrl('lake'));
    expect(await resolver.objectStore('lake')).to.equal(lake);
  });

  it('an unknown name is a ConnectionError listing the known names', async () => {
    const err = await expectReject(resolver.warehouse('warehose'));
    expect(err).to.be.instanceOf(ConnectionError);
    expect(err.message).to.equal("unknown connection 'warehose' (known: cluster, dw, lake, other_lake, warehouse)");
    expect(() => resolver.publicUrl('nope')).to.throw(ConnectionError, /unknown connection 'nope'/);
  });

  it('a store is not a warehouse, and the other way round', async () => {
    expect((await expectReject(resolver.warehouse('lake'))).message).to.match(/is an object store, not a warehouse/);
    expect((await expectReject(resolver.objectStore('dw'))).message).to.match(/is a warehouse, not an object store/);
  });

  it('an unreachable Redshift is a ConnectionError with the password masked', async () => {
    const err = await expectReject(resolver.warehouse('cluster'));
    expect(err).to.be.instanceOf(ConnectionError);
    expect(err.message)
      .to.match(/cannot connect to Redshift at redshift:\/\/admin:\*\*\*@/)
      .and.not.match(/pw@/);
  });

  it('an unreachable PostgreSQL is a ConnectionError, and is retried on the next call', async () => {
    const e1 = await expectReject(resolver.warehouse('dw'));
    expect(e1).to.be.instanceOf(ConnectionError);
    expect(e1.message).to.match(
      /cannot connect to PostgreSQL at postgres:\/\/sluice:\*\*\*@127\.0\.0\.1:1\/sparkify: .*ECONNREFUSED/,
    );
    const e2 = await expectReject(resolver.warehouse('dw'));
    expect(e2).not.to.equal(e1);
  });

  it('rejects unsupported URLs clearly', async () => {
    const err = await expectReject(openWarehouse('mysql://x@y/z', { home }));
    expect(err.message).to.match(/unsupported connection URL scheme 'mysql:'/);
  });
});
