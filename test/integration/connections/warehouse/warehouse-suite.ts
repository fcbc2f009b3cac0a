/**
 * The behaviour every local warehouse shares (PGlite and PostgreSQL): result
 * types, SQL errors, transactions and signals. Used by warehouses.test.ts.
 */
import { expect } from 'chai';
import { QueryError } from '../../../../engine/errors.js';
import type { Warehouse } from '../../../../engine/interfaces.js';

export async function expectReject(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the promise to reject');
}

export function describeWarehouse(label: string, open: () => Promise<Warehouse>): void {
  describe(`warehouse: ${label}`, () => {
    let wh: Warehouse;
    before(async function () {
      this.timeout(120_000);
      wh = await open();
      await wh.query('CREATE TABLE items (id int PRIMARY KEY, name text)');
    });
    after(async () => wh?.close());

    it('returns the same JS types on every warehouse', async () => {
      const r = await wh.query(
        `SELECT 5::int8 AS small8, 9007199254740993::int8 AS big8, 1.50::numeric AS num, 2::int4 AS i4, 1.5::float8 AS f8,
                true AS b, '2018-11-30 00:22:07.796'::timestamp AS ts, '2018-11-30'::date AS d,
                '{"a":[1]}'::jsonb AS j, 'x'::text AS t, NULL::int AS n, count(*) AS c
           FROM (VALUES (1)) v(x) WHERE $1::int = 1`,
        [1],
      );
      const row = r.rows[0]!;
      expect(row).to.deep.equal({
        small8: 5,
        big8: '9007199254740993',
        num: '1.50',
        i4: 2,
        f8: 1.5,
        b: true,
        ts: new Date('2018-11-30T00:22:07.796Z'),
        d: new Date('2018-11-30T00:00:00Z'),
        j: { a: [1] },
        t: 'x',
        n: null,
        c: 1,
      });
      expect(r.rowCount).to.equal(1);
      expect(r.fields.map((f) => f.name)).to.include.members(['small8', 'ts']);
    });

    it('runs several statements when there are no parameters, returning the last result', async () => {
      const r = await wh.query(
        "INSERT INTO items VALUES (1, 'a'); INSERT INTO items VALUES (2, 'b'); SELECT count(*) AS n FROM items",
      );
      expect(r.rows).to.deep.equal([{ n: 2 }]);
      const del = await wh.query('DELETE FROM items WHERE id > $1', [0]);
      expect(del.rowCount).to.equal(2);
    });

    it('puts the SQL error and its position in the message', async () => {
      const err = await expectReject(wh.query('SELECT 1,\n  nosuchcol FROM items'));
      expect(err).to.be.instanceOf(QueryError);
      expect(err.message).to.match(/column "nosuchcol" does not exist \(at SQL line 2, column 3: nosuchcol FROM items\)/);
      expect((err as QueryError).code).to.equal('42703');
      const dup = await expectReject(wh.query("INSERT INTO items VALUES (9, 'a'), (9, 'b')"));
      expect(dup.message).to.match(/duplicate key value.*\nDETAIL: Key \(id\)=\(9\) already exists/);
    });

    it('commits a transaction, on one connection', async () => {
      const out = await wh.transaction(async (tx) => {
        await tx.query('CREATE TEMP TABLE scratch (x int) ON COMMIT DROP');
        await tx.query('INSERT INTO scratch VALUES (1), (2)');
        await tx.query("INSERT INTO items SELECT x + 10, 'tx' FROM scratch");
        return (await tx.query<{ n: number }>('SELECT count(*) AS n FROM scratch')).rows[0]!.n;
      });
      expect(out).to.equal(2);
      expect((await wh.query("SELECT count(*) AS n FROM items WHERE name = 'tx'")).rows[0]).to.deep.equal({ n: 2 });
    });

    it('rolls back when fn throws, and the session is closed after', async () => {
      let session: Parameters<Parameters<Warehouse['transaction']>[0]>[0] | undefined;
      const err = await expectReject(
        wh.transaction(async (tx) => {
          session = tx;
          await tx.query("INSERT INTO items VALUES (100, 'rolled back')");
          throw new Error('boom');
        }),
      );
      expect(err.message).to.equal('boom');
      expect((await wh.query('SELECT count(*) AS n FROM items WHERE id = 100')).rows[0]).to.deep.equal({ n: 0 });
      const late = await expectReject(session!.query('SELECT 1'));
      expect(late.message).to.match(/already finished/);
    });

    it('refuses to start with an aborted signal, and rolls back when aborted during a transaction', async () => {
      const ac = new AbortController();
      ac.abort(new Error('timed out'));
      expect((await expectReject(wh.query('SELECT 1', [], { signal: ac.signal }))).message).to.equal('timed out');
      expect((await expectReject(wh.transaction(async () => 1, { signal: ac.signal }))).message).to.equal('timed out');

      const ac2 = new AbortController();
      const err = await expectReject(
        wh.transaction(
          async (tx) => {
            await tx.query("INSERT INTO items VALUES (200, 'aborted')");
            ac2.abort(new Error('cancelled by user'));
            await tx.query('SELECT 1');
          },
          { signal: ac2.signal },
        ),
      );
      expect(err.message).to.equal('cancelled by user');
      expect((await wh.query('SELECT count(*) AS n FROM items WHERE id = 200')).rows[0]).to.deep.equal({ n: 0 });
    });
  });
}
