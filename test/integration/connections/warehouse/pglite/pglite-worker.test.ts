/**
 * PGlite in a worker thread (the default) and on the calling thread
 * (`?thread=main`): the same contract, plus what the worker is for — the
 * event loop keeps running during a statement or a load — and what it must
 * not break: one session (transactions never interleave), a crash is a
 * ConnectionError for every pending and later call, not a hang.
 */
import { expect } from 'chai';
import { ConnectionError } from '../../../../../engine/errors.js';
import { openObjectStore, openWarehouse } from '../../../../../engine/connections/index.js';
import { PgliteWarehouse } from '../../../../../engine/connections/warehouse/pglite/pglite.js';
import type { ObjectStore } from '../../../../../engine/interfaces.js';
import { fromWireError, toWireError } from '../../../../../engine/connections/warehouse/pglite/pglite-worker-core.js';
import { toSluiceError } from '../../../../../engine/connections/warehouse/sql-error.js';
import { freshPgliteUrl } from '../../../../helpers/pglite.js';
import { makeTempDir } from '../../../../helpers/tmp.js';
import { describeJsonLoads, EVENT_PATHS, eventLine, STAGING_EVENTS_DDL } from '../../copy-json/load-suite.js';
import { describeWarehouse, expectReject } from '../warehouse-suite.js';

const home = '/';
const inProcess = async () => openWarehouse(`${(await freshPgliteUrl()).url}?thread=main`, { home });
const inWorker = async () => openWarehouse((await freshPgliteUrl()).url, { home });

describeWarehouse('pglite, in process (?thread=main)', inProcess);
describeJsonLoads('pglite in process (?thread=main) <- folder', inProcess, async () =>
  openObjectStore(makeTempDir('sluice-lake'), { home }),
);

/** Counts setInterval ticks while `work` runs. */
async function ticksDuring<T>(work: () => Promise<T>): Promise<{ ticks: number; value: T }> {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  try {
    const value = await work();
    return { ticks, value };
  } finally {
    clearInterval(timer);
  }
}

describe('pglite threads', () => {
  it('opens in a worker by default and in process with ?thread=main, also for //memory', async function () {
    this.timeout(120_000);
    const a = await openWarehouse('pglite://memory', { home });
    const b = await openWarehouse('pglite://memory?thread=main', { home });
    try {
      expect((a as PgliteWarehouse).thread).to.equal('worker');
      expect((b as PgliteWarehouse).thread).to.equal('main');
      expect((a as PgliteWarehouse).dataDir).to.equal(null);
      expect((b as PgliteWarehouse).dataDir).to.equal(null);
      expect((await a.query('SELECT 1 AS one')).rows).to.deep.equal([{ one: 1 }]);
      expect((await b.query('SELECT 1 AS one')).rows).to.deep.equal([{ one: 1 }]);
    } finally {
      await a.close();
      await b.close();
    }
    const err = await expectReject(openWarehouse('pglite://memory?thread=both', { home }));
    expect(err).to.be.instanceOf(ConnectionError);
    expect(err.message).to.match(/thread=both/);
  });

  it('keeps the event loop running during a statement in the worker (and not in process)', async function () {
    this.timeout(120_000);
    const worker = await inWorker();
    const main = await inProcess();
    try {
      const w = await ticksDuring(() => worker.query('SELECT pg_sleep(0.5)'));
      const m = await ticksDuring(() => main.query('SELECT pg_sleep(0.5)'));
      expect(w.ticks, 'timer ticks while the worker slept').to.be.at.least(20);
      expect(m.ticks, 'timer ticks while PGlite slept on this thread').to.be.lessThan(w.ticks / 4);
    } finally {
      await worker.close();
      await main.close();
    }
  });

  describe('a big load', () => {
    const ROWS = 60_000;
    let store: ObjectStore;
    before(async () => {
      store = await openObjectStore(makeTempDir('sluice-lake'), { home });
      for (let f = 0; f < 3; f++) {
        const lines = Array.from({ length: ROWS / 3 }, (_, k) => eventLine(f * (ROWS / 3) + k)).join('\n');
        await store.write(`events/part-${f}.json`, lines);
      }
    });
    after(async () => store?.close());

    const spec = () => ({
      table: 'staging_events',
      store,
      source: 'events/',
      mapping: { kind: 'jsonpaths' as const, paths: EVENT_PATHS, file: 'log_json_path.json' },
      timeformat: 'epochmillisecs' as const,
      maxerror: 0,
    });

    it('keeps the event loop ticking while the worker COPYs, with the same rows as in process', async function () {
      this.timeout(300_000);
      const results: Record<string, { ticks: number; rows: unknown[] }> = {};
      for (const [label, open] of [
        ['worker', inWorker],
        ['main', inProcess],
      ] as const) {
        const wh = await open();
        try {
          await wh.query(STAGING_EVENTS_DDL);
          const { ticks, value } = await ticksDuring(() => wh.loadJson(spec()));
          expect(value.rows).to.equal(ROWS);
          expect(value.rejected).to.deep.equal([]);
          const rows = (
            await wh.query('SELECT count(*) AS n, sum(iteminsession) AS s, max(ts) AS ts, count(userid) AS u FROM staging_events')
          ).rows;
          results[label] = { ticks, rows };
        } finally {
          await wh.close();
        }
      }
      expect(results.worker!.rows).to.deep.equal(results.main!.rows);
      expect(results.worker!.ticks, `ticks: worker ${results.worker!.ticks}, main ${results.main!.ticks}`).to.be.greaterThan(
        results.main!.ticks,
      );
      expect(results.worker!.ticks).to.be.at.least(20);
    });

    it('a COPY error in a queued chunk fails the load and rolls it back', async function () {
      this.timeout(120_000);
      const wh = await inWorker();
      try {
        // the second chunk fails while the next ones are being converted and sent
        await wh.query(`${STAGING_EVENTS_DDL}; ALTER TABLE staging_events ADD CHECK (iteminsession <> 15000)`);
        const err = await expectReject(wh.loadJson(spec()));
        expect(err.name).to.equal('QueryError');
        expect(err.message).to.match(/violates check constraint/);
        expect((await wh.query('SELECT count(*) AS n FROM staging_events')).rows).to.deep.equal([{ n: 0 }]);
      } finally {
        await wh.close();
      }
    });
  });

  for (const [label, open] of [
    ['worker', inWorker],
    ['in process', inProcess],
  ] as const) {
    it(`serialises concurrent transactions and queries on the one session (${label})`, async function () {
      this.timeout(120_000);
      const wh = await open();
      try {
        await wh.query('CREATE TABLE log (who text, step int)');
        const events: string[] = [];
        const tx = (who: string) =>
          wh.transaction(async (s) => {
            events.push(`${who} begin`);
            for (let step = 0; step < 3; step++) {
              await s.query('INSERT INTO log VALUES ($1, $2)', [who, step]);
              await new Promise((r) => setTimeout(r, 5)); // let the others try to run
              events.push(`${who} ${step}`);
            }
            const mine = await s.query<{ n: number }>('SELECT count(*) AS n FROM log WHERE who = $1', [who]);
            events.push(`${who} end`);
            return mine.rows[0]!.n;
          });
        const failing = () =>
          wh.transaction(async (s) => {
            events.push('c begin');
            await s.query("INSERT INTO log VALUES ('c', 0)");
            await new Promise((r) => setTimeout(r, 5));
            events.push('c end');
            throw new Error('c fails');
          });
        const [a, b, q, c] = await Promise.allSettled([
          tx('a'),
          tx('b'),
          wh.query<{ n: number }>('SELECT count(*) AS n FROM log'),
          failing(),
        ]);
        expect(a).to.deep.equal({ status: 'fulfilled', value: 3 });
        expect(b).to.deep.equal({ status: 'fulfilled', value: 3 });
        // the plain query ran after a and b committed, before c began
        expect(q.status).to.equal('fulfilled');
        expect((q as PromiseFulfilledResult<{ rows: unknown[] }>).value.rows).to.deep.equal([{ n: 6 }]);
        expect(c.status).to.equal('rejected');
        expect(events).to.deep.equal([
          'a begin',
          'a 0',
          'a 1',
          'a 2',
          'a end',
          'b begin',
          'b 0',
          'b 1',
          'b 2',
          'b end',
          'c begin',
          'c end',
        ]);
        expect((await wh.query("SELECT count(*) AS n FROM log WHERE who = 'c'")).rows).to.deep.equal([{ n: 0 }]);
      } finally {
        await wh.close();
      }
    });
  }

  it('a worker crash rejects the pending and later calls with a ConnectionError, without hanging', async function () {
    this.timeout(120_000);
    const wh = (await inWorker()) as PgliteWarehouse;
    try {
      await wh.query('CREATE TABLE t (x int)');
      let queued: Promise<unknown> | undefined;
      const inTx = wh.transaction(async (tx) => {
        await tx.query('INSERT INTO t VALUES (1)');
        queued = wh.query('SELECT count(*) FROM t'); // waits for the transaction
        queued.catch(() => {});
        wh.simulateWorkerCrash();
        await tx.query('INSERT INTO t VALUES (2)');
      });
      const err = await expectReject(inTx);
      expect(err).to.be.instanceOf(ConnectionError);
      expect(err.message).to.match(/PGlite worker crashed: simulated PGlite worker crash/);
      expect(err.message).to.contain(wh.url);
      const q = await expectReject(queued!);
      expect(q).to.be.instanceOf(ConnectionError);
      const later = await expectReject(wh.query('SELECT 1'));
      expect(later).to.be.instanceOf(ConnectionError);
      expect(later.message).to.match(/reopen the warehouse/);
      const laterTx = await expectReject(wh.transaction(async () => 1));
      expect(laterTx).to.be.instanceOf(ConnectionError);
    } finally {
      await wh.close();
    }
  });

  it('close() ends the worker; calls after it fail with a ConnectionError', async function () {
    this.timeout(120_000);
    const wh = await inWorker();
    await wh.query('SELECT 1');
    await wh.close();
    await wh.close(); // idempotent
    const err = await expectReject(wh.query('SELECT 1'));
    expect(err).to.be.instanceOf(ConnectionError);
    expect(err.message).to.match(/closed/);
  });

  it('errors cross the thread with their PostgreSQL fields; a WASM RuntimeError is fatal', () => {
    const db = Object.assign(new Error('column "x" does not exist'), {
      code: '42703',
      severity: 'ERROR',
      position: '8',
      hint: 'h',
    });
    const back = toSluiceError(fromWireError(toWireError(db)), 'select x', 'pglite://memory');
    expect(back.name).to.equal('QueryError');
    expect(back.message).to.equal('column "x" does not exist (at SQL line 1, column 8: select x)\nHINT: h');
    const wasm = new Error('Aborted(OOM)');
    wasm.name = 'RuntimeError';
    expect(toWireError(wasm).fatal).to.equal(true);
    expect(toWireError(db).fatal).to.equal(undefined);
    expect(toWireError('text')).to.deep.equal({ name: 'Error', message: 'text' });
  });
});
