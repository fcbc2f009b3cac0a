/**
 * A broken warehouse session is discarded before a retry.
 * The PGlite worker is made to die as a WASM abort ends it (the worker's
 * test hook throws an uncaught error in the thread, as a crash would): the
 * warehouse reports itself broken, and the resolver closes it and opens a
 * fresh one for the next caller, instead of handing the retry the dead one.
 */
import { expect } from 'chai';
import { ConnectionError } from '../../../../engine/errors.js';
import { createConnectionResolver } from '../../../../engine/connections/index.js';
import { PgliteWarehouse } from '../../../../engine/connections/warehouse/pglite/pglite.js';
import { isFatalPgliteError } from '../../../../engine/connections/warehouse/pglite/pglite.js';

describe('connections: a broken PGlite session is discarded', function () {
  it('after the worker dies, the resolver opens a fresh warehouse and the next query works', async function () {
    const resolver = createConnectionResolver({ warehouse: 'pglite://memory' }, { home: '/nonexistent' });
    try {
      const first = await resolver.warehouse();
      expect(first).to.be.instanceOf(PgliteWarehouse);
      expect(first.broken ?? null).to.equal(null);
      await first.query('CREATE TABLE t (x int)');
      (first as PgliteWarehouse).simulateWorkerCrash();
      let failure: unknown;
      try {
        await first.query('SELECT 1');
      } catch (err) {
        failure = err;
      }
      expect(failure).to.be.instanceOf(ConnectionError);
      expect(first.broken).to.match(/PGlite worker/);

      const second = await resolver.warehouse();
      expect(second).to.not.equal(first);
      const r = await second.query<{ one: number }>('SELECT 1 AS one');
      expect(r.rows).to.deep.equal([{ one: 1 }]);
      expect(await resolver.warehouse()).to.equal(second); // a healthy one is kept
    } finally {
      await resolver.closeAll();
    }
  });

  it('classifies the errors after which a PGlite session is not reused', () => {
    expect(isFatalPgliteError(new Error('cannot drop active portal ""'))).to.equal(true);
    expect(
      isFatalPgliteError(
        Object.assign(new Error('could not extend file "base/5/16384": No space left on device'), { code: '53100' }),
      ),
    ).to.equal(true);
    const abort = new Error('Aborted(). Build with -sASSERTIONS for more info.');
    abort.name = 'RuntimeError';
    expect(isFatalPgliteError(new ConnectionError('x: load failed', { cause: abort }))).to.equal(true);
    expect(isFatalPgliteError(Object.assign(new Error('relation "nope" does not exist'), { code: '42P01' }))).to.equal(false);
  });
});
