/**
 * The lock that keeps a PGlite data dir to one process at a time: a live
 * holder (another process, or another open in this one) makes a second
 * opener wait, say for whom, and time out with a WarehouseBusyError; a
 * holder killed with -9 frees it at once; close() releases it; an abort
 * stops the wait.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConnectionError, WarehouseBusyError } from '../../../../../engine/errors.js';
import { openWarehouse } from '../../../../../engine/connections/index.js';
import { pgliteUrlOptions } from '../../../../../engine/connections/url.js';
import { WarehouseLock, setLockHolder } from '../../../../../engine/connections/warehouse/pglite/pglite-lock.js';
import { freshPgliteUrl } from '../../../../helpers/pglite.js';
import { makeTempDir } from '../../../../helpers/tmp.js';

const LOCK_MODULE = pathToFileURL(path.resolve('engine/connections/warehouse/pglite/pglite-lock.ts')).href;
const TSX = import.meta.resolve('tsx');

/** Another process that takes the lock of `dataDir` and holds it until killed. */
async function holder(dataDir: string, what: string): Promise<ChildProcess> {
  const script = `
    import { WarehouseLock, setLockHolder } from ${JSON.stringify(LOCK_MODULE)};
    setLockHolder(${JSON.stringify(what)});
    await WarehouseLock.acquire(${JSON.stringify(dataDir)}, { timeoutMs: 0 });
    process.stdout.write('held\\n');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--import', TSX, '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('held')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`the holder exited (${code})`)));
  });
  return child;
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('PGlite warehouse lock', function () {
  this.timeout(60_000);
  let dir: string;
  let child: ChildProcess | undefined;

  beforeEach(() => {
    dir = path.join(makeTempDir('sluice-lock'), 'warehouse');
  });

  afterEach(() => {
    child?.kill('SIGKILL');
    child = undefined;
  });

  it('a live holder makes a second opener wait, say for whom, then time out with a retryable WarehouseBusyError', async () => {
    child = await holder(dir, 'run songplays__manual__2018-11-22T00:00:00Z (run-dag)');
    const told: string[] = [];
    const started = Date.now();
    const err = await rejection(WarehouseLock.acquire(dir, { timeoutMs: 600, onWait: (m) => told.push(m) }));
    expect(Date.now() - started).to.be.at.least(600);
    const who = `run songplays__manual__2018-11-22T00:00:00Z (run-dag), pid ${child.pid} on ${os.hostname()} since `;
    expect(told).to.have.length(1);
    expect(told[0]).to.contain(`warehouse ${dir} is in use by ${who}`);
    expect(told[0]).to.match(/; waiting \(up to 600ms\)\.\.\.$/);
    expect(err).to.be.instanceOf(WarehouseBusyError).and.instanceOf(ConnectionError);
    expect((err as WarehouseBusyError).retryable).to.equal(true);
    expect((err as WarehouseBusyError).holder?.pid).to.equal(child.pid);
    expect(err.message).to.contain(`warehouse ${dir} is in use by ${who}`);
    expect(err.message).to.contain('after waiting 600ms');
    expect(err.message).to.contain('lock_timeout');
    expect(err.message).to.contain('use a PostgreSQL warehouse');
  });

  it('timeout 0 refuses at once, without waiting', async () => {
    child = await holder(dir, 'sluice sql');
    const told: string[] = [];
    const err = await rejection(WarehouseLock.acquire(dir, { timeoutMs: 0, onWait: (m) => told.push(m) }));
    expect(err).to.be.instanceOf(WarehouseBusyError);
    expect(err.message).to.contain(`is in use by sluice sql, pid ${child.pid}`);
    expect(told).to.deep.equal([]);
  });

  it('a holder killed with -9 frees the warehouse at once (no stale lock)', async () => {
    child = await holder(dir, 'doomed');
    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
    const lock = await WarehouseLock.acquire(dir, { timeoutMs: 0 });
    lock.release();
  });

  it('the wait ends when the holder releases, and an abort stops a wait', async () => {
    setLockHolder('first');
    const first = await WarehouseLock.acquire(dir, { timeoutMs: 0 });
    const told: string[] = [];
    const second = WarehouseLock.acquire(dir, { timeoutMs: 30_000, onWait: (m) => told.push(m) });
    await new Promise((r) => setTimeout(r, 300));
    expect(told[0]).to.contain(`is in use by first, pid ${process.pid} (this process)`);
    first.release();
    const lock2 = await second;

    const ac = new AbortController();
    const third = WarehouseLock.acquire(dir, { timeoutMs: 30_000, signal: ac.signal, onWait: () => {} });
    setTimeout(() => ac.abort(new Error('SIGINT received')), 200);
    const err = await rejection(third);
    expect(err.message).to.equal('SIGINT received');
    lock2.release();
    (await WarehouseLock.acquire(dir, { timeoutMs: 0 })).release();
  });

  it('an open PGlite warehouse holds its data dir until closed; in memory needs no lock', async () => {
    const { url, dataDir } = await freshPgliteUrl();
    const wh = await openWarehouse(url, { home: '/' });
    expect(fs.existsSync(`${dataDir}.lock`)).to.equal(true);
    const err = await rejection(openWarehouse(`${url}?lock_timeout=0`, { home: '/' }));
    expect(err).to.be.instanceOf(WarehouseBusyError);
    expect(err.message).to.contain(`(this process)`);
    await wh.close();
    const again = await openWarehouse(`${url}?lock_timeout=0&thread=main`, { home: '/' });
    expect((await again.query('SELECT 1 AS one')).rows).to.deep.equal([{ one: 1 }]);
    await again.close();

    const m1 = await openWarehouse('pglite://memory', { home: '/' });
    const m2 = await openWarehouse('pglite://memory?lock_timeout=0', { home: '/' });
    await Promise.all([m1.close(), m2.close()]);
  });

  it('lock_timeout is read from the pglite URL (a duration), and a bad one is refused', () => {
    expect(pgliteUrlOptions('pglite:warehouse').lockTimeoutMs).to.equal(10 * 60_000);
    expect(pgliteUrlOptions('pglite:warehouse?lock_timeout=30s').lockTimeoutMs).to.equal(30_000);
    expect(pgliteUrlOptions('pglite:warehouse?thread=main&lock_timeout=0')).to.deep.equal({
      base: 'pglite:warehouse',
      thread: 'main',
      lockTimeoutMs: 0,
    });
    expect(() => pgliteUrlOptions('pglite:warehouse?lock_timeout=soon')).to.throw(
      ConnectionError,
      /lock_timeout=soon: invalid duration/,
    );
  });
});
