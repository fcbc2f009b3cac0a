/**
 * The connection resolver says a warehouse connection's SQL dialect from the
 * kind of its URL, without opening it (the runner renders templates with it).
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { createConnectionResolver } from '../../../engine/connections/index.js';
import { ConnectionError } from '../../../engine/errors.js';
import { makeTempDir } from '../../helpers/tmp.js';

describe('connection resolver: dialect', () => {
  const home = makeTempDir('sluice-dialect');
  const resolver = createConnectionResolver(
    {
      warehouse: 'pglite:./never-opened',
      dw: 'postgresql://sluice:hunter2@127.0.0.1:1/sparkify',
      cluster: 'redshift://admin:hunter2@cluster.example:5439/dev',
      upper: 'REDSHIFT://admin@cluster.example:5439/dev',
      lake: 'lake',
      bucket: 's3://bucket/prefix?region=us-west-2&access_key_id=AK&secret_access_key=hunter2',
      bad: 'mysql://db.example/x',
    },
    { home },
  );
  after(() => fs.rmSync(home, { recursive: true, force: true }));

  it('is redshift for redshift:// (any case) and postgres for pglite and postgres, by default the warehouse', () => {
    expect(resolver.dialect()).to.equal('postgres');
    expect(resolver.dialect('warehouse')).to.equal('postgres');
    expect(resolver.dialect('dw')).to.equal('postgres');
    expect(resolver.dialect('cluster')).to.equal('redshift');
    expect(resolver.dialect('upper')).to.equal('redshift');
    // known without opening: the PGlite data dir was not created
    expect(fs.existsSync(path.join(home, 'never-opened'))).to.equal(false);
  });

  it('refuses an unknown name, an object store and an unsupported URL with a ConnectionError, secrets masked', () => {
    const errorOf = (name: string): ConnectionError => {
      try {
        resolver.dialect(name);
      } catch (err) {
        expect(err).to.be.instanceOf(ConnectionError);
        return err as ConnectionError;
      }
      throw new Error(`dialect('${name}') did not throw`);
    };
    expect(errorOf('nope').message).to.match(
      /unknown connection 'nope' \(known: bad, bucket, cluster, dw, lake, upper, warehouse\)/,
    );
    expect(errorOf('lake').message).to.equal(`connection 'lake' (lake) is an object store, not a warehouse`);
    expect(errorOf('bucket').message).to.contain('is an object store, not a warehouse');
    expect(errorOf('bad').message).to.contain("unsupported connection URL scheme 'mysql:'");
    for (const name of ['nope', 'lake', 'bucket', 'bad']) expect(errorOf(name).message).not.to.contain('hunter2');
  });
});
