/**
 * One process at a time per embedded (PGlite) warehouse.
 *
 * PGlite is PostgreSQL compiled to WASM with no server: every process that
 * opens a data directory runs its own copy of the database on the same
 * files, and two of them at once overwrite each other's pages (lost facts,
 * broken catalogs, WASM aborts on open). So opening a data dir first takes
 * this lock, and a second process waits for it (saying who holds it) up to
 * a timeout, then fails with a WarehouseBusyError; it never opens the files.
 *
 * The lock is a kernel file lock, taken through SQLite (better-sqlite3, which
 * the state DB already uses): `BEGIN EXCLUSIVE` on `<dataDir>.lock`, held
 * until the warehouse is closed. The kernel drops it when the process ends,
 * however it ends (kill -9 included), so a dead holder never wedges the
 * warehouse and there is no stale lock to detect or take over (no pid
 * guessing, no pid reuse, no race between two processes taking over).
 * Within one process a second open of the same data dir waits too: SQLite
 * reports a lock held by another connection of the same process as busy.
 *
 * Who holds the lock is written beside it, in `<dataDir>.lock.json` (pid,
 * host, since, and what the process is doing: `setLockHolder`), only to
 * tell a waiting user whom they wait for. The lock file itself is never
 * deleted: a process waiting on it keeps it open, and a new file at the same
 * path would be a second, independent lock.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { ConnectionError, WarehouseBusyError, type LockHolderInfo } from '../../../errors.js';
import { formatDuration } from '../../../duration.js';
import { DEFAULT_LOCK_TIMEOUT_MS } from '../../url.js';

/** How often a waiting process tries the lock again. */
const POLL_MS = 200;

let holderText = defaultHolder();

function defaultHolder(): string {
  return `process ${path.basename(process.argv[1] ?? 'node')}`;
}

/** The locks this process holds, to refresh their holder description. */
const held = new Set<WarehouseLock>();

/**
 * Says what this process is doing, for the message another process prints
 * while it waits for a warehouse this one holds (e.g. `sluice sql`,
 * `run songplays__manual__2018-11-22T00:00:00Z (run-dag)`). Updates the locks
 * already held.
 */
export function setLockHolder(text: string): void {
  holderText = text;
  for (const lock of held) lock.describe();
}

/** `run X (run-dag), pid N on host since T`: the holder as a waiting user reads it. */
export function describeHolder(info: LockHolderInfo | null): string {
  if (!info) return 'another process';
  const self = info.pid === process.pid && info.host === os.hostname() ? ' (this process)' : '';
  return `${info.holder}, pid ${info.pid}${self} on ${info.host} since ${info.since}`;
}

function lockPaths(dataDir: string): { lock: string; info: string } {
  const base = path.resolve(dataDir).replace(/[\\/]+$/, '');
  return { lock: `${base}.lock`, info: `${base}.lock.json` };
}

function readInfo(file: string): LockHolderInfo | null {
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<LockHolderInfo>;
    if (typeof v.pid !== 'number' || typeof v.host !== 'string') return null;
    return { pid: v.pid, host: v.host, since: String(v.since ?? '?'), holder: String(v.holder ?? 'a process') };
  } catch {
    return null; // not written yet, or being replaced
  }
}

function isBusy(err: unknown): boolean {
  const code = (err as { code?: string }).code ?? '';
  return code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_') || code === 'SQLITE_LOCKED';
}

export interface AcquireOptions {
  /** How long to wait for another holder; 0 fails at once. */
  timeoutMs?: number;
  /** Stops the wait (Ctrl-C, a closing resolver): rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Told once when the lock is busy and the wait begins (default: a line on stderr). */
  onWait?: (message: string) => void;
}

/** A held warehouse lock; release() (idempotent) ends it. */
export class WarehouseLock {
  private released = false;
  private readonly since = new Date().toISOString();

  private constructor(
    private readonly db: Database.Database,
    readonly dataDir: string,
    private readonly infoFile: string,
  ) {}

  /**
   * Takes the lock of a PGlite data dir, waiting while another process (or
   * another open in this one) holds it.
   */
  static async acquire(dataDir: string, opts: AcquireOptions = {}): Promise<WarehouseLock> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
    const { lock, info } = lockPaths(dataDir);
    fs.mkdirSync(path.dirname(lock), { recursive: true });
    let db: Database.Database;
    try {
      db = new Database(lock, { timeout: 0 });
    } catch (err) {
      throw new ConnectionError(`cannot open the warehouse lock file ${lock}: ${(err as Error).message}`);
    }
    const started = Date.now();
    let told = false;
    try {
      for (;;) {
        if (opts.signal?.aborted) throw abortReason(opts.signal);
        try {
          db.exec('BEGIN EXCLUSIVE');
          const out = new WarehouseLock(db, dataDir, info);
          out.describe();
          held.add(out);
          return out;
        } catch (err) {
          if (!isBusy(err)) {
            throw new ConnectionError(`cannot take the warehouse lock ${lock}: ${(err as Error).message}`);
          }
        }
        const holder = readInfo(info);
        const waited = Date.now() - started;
        if (waited >= timeoutMs) throw busyError(dataDir, holder, timeoutMs);
        if (!told) {
          told = true;
          const msg =
            `warehouse ${dataDir} is in use by ${describeHolder(holder)}; ` + `waiting (up to ${formatDuration(timeoutMs)})...`;
          if (opts.onWait) opts.onWait(msg);
          else process.stderr.write(`sluice: ${msg}\n`);
        }
        // An abort ends the nap early; the check at the top of the loop then throws its reason.
        await delay(Math.min(POLL_MS, timeoutMs - waited), undefined, { signal: opts.signal }).catch(() => undefined);
      }
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** Writes who holds the lock (atomically: a reader never sees half a file). */
  describe(): void {
    if (this.released) return;
    const text: LockHolderInfo = { pid: process.pid, host: os.hostname(), since: this.since, holder: holderText };
    const tmp = `${this.infoFile}.${process.pid}.tmp`;
    try {
      fs.writeFileSync(tmp, JSON.stringify(text) + '\n');
      fs.renameSync(tmp, this.infoFile);
    } catch {
      // informational only: a waiter then says "another process"
    }
  }

  /** Ends the lock (the kernel also ends it when the process ends). */
  release(): void {
    if (this.released) return;
    this.released = true;
    held.delete(this);
    const mine = readInfo(this.infoFile);
    if (mine && mine.pid === process.pid && mine.since === this.since) fs.rmSync(this.infoFile, { force: true });
    try {
      this.db.exec('ROLLBACK');
    } finally {
      this.db.close();
    }
  }
}

function busyError(dataDir: string, holder: LockHolderInfo | null, timeoutMs: number): WarehouseBusyError {
  const waited = timeoutMs > 0 ? ` after waiting ${formatDuration(timeoutMs)}` : '';
  return new WarehouseBusyError(
    `warehouse ${dataDir} is in use by ${describeHolder(holder)}${waited}. ` +
      'The embedded PGlite warehouse serves one process at a time: wait for that process to finish (or stop it), ' +
      'raise the wait with the pglite URL option lock_timeout (e.g. pglite:warehouse?lock_timeout=30m), ' +
      'or use a PostgreSQL warehouse (SLUICE_CONN_WAREHOUSE=postgres://...) to run DAGs and queries concurrently',
    dataDir,
    holder,
  );
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('aborted');
}
