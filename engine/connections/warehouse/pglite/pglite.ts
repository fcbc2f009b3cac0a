/**
 * The embedded warehouse: PGlite (PostgreSQL in WASM).
 *
 * By default PGlite runs in a worker thread (pglite-worker.ts), so a long
 * statement or COPY does not block this thread's event loop (timers,
 * signals, the scheduler daemon, an HTTP server), and a JSON load converts
 * the next chunk here while the worker COPYs the previous one (the chunks
 * cross as transferred ArrayBuffers, not copies).
 *
 * URL option `?thread=main` (e.g. `pglite:.sluice/warehouse?thread=main`,
 * `pglite://memory?thread=main`) runs PGlite on the calling thread instead,
 * as Sluice did before: no worker to start, but everything waits for it.
 * `?thread=worker` is the default.
 *
 * PGlite is a single session. Calls are serialised here, on the calling
 * thread: a transaction holds the session from BEGIN to COMMIT/ROLLBACK and
 * other callers queue behind it (two tasks' transactions never interleave).
 * Signals are honoured between statements and between COPY chunks, never in
 * the middle of one. If the worker dies (a WASM abort, a crash), every
 * pending and later call fails with a ConnectionError: reopen the warehouse.
 */
import { Worker } from 'node:worker_threads';
import { ConnectionError, causeChain } from '../../../errors.js';
import type { JsonLoadSpec, LoadResult, QueryOptions, QueryResult, Warehouse, WarehouseSession } from '../../../interfaces.js';
import { loadJsonLocally, type CsvSink, type LocalLoadTarget } from '../../copy-json/json-load.js';
import type { PgliteBackend, PgliteWorkerData, RawResult, WorkerReply, WorkerRequest } from './pglite-worker-core.js';
import { fromWireError } from './pglite-wire.js';
import { toSluiceError } from '../sql-error.js';
import { WarehouseLock } from './pglite-lock.js';
import type { PgliteThread } from '../../url.js';

/** Rows per `COPY ... FROM '/dev/blob'`: 2.5k-100k measured the same; with ?thread=main, smaller blocks the event loop for less. */
export const PGLITE_CHUNK_ROWS = 10_000;
export const PGLITE_CHUNK_BYTES = 8 * 1024 * 1024;
/** COPY chunks queued to the worker at once: one being copied, one waiting (while the next is converted here). */
export const PGLITE_COPY_WINDOW = 2;

export interface PgliteOpenOptions {
  /** Where PGlite runs: a worker thread (default) or the calling thread. */
  thread?: PgliteThread;
  /**
   * How long to wait while another process holds the data dir (see
   * pglite-lock.ts); 0 refuses at once. Default DEFAULT_LOCK_TIMEOUT_MS.
   */
  lockTimeoutMs?: number;
  /** Stops a wait for the data dir's lock. */
  signal?: AbortSignal;
  /** Told once when the wait for the lock begins (default: a line on stderr). */
  onLockWait?: (message: string) => void;
}

function checkSignal(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
}

/**
 * Errors after which a PGlite session is not to be reused: a WASM abort
 * (RuntimeError, "Aborted()"), the worker gone, a full disk hit mid-write
 * (ENOSPC / 53100 disk_full), and the `cannot drop active portal` that
 * PGlite answers with afterwards.
 */
export function isFatalPgliteError(err: unknown): boolean {
  for (const e of causeChain(err)) {
    const code = (e as { code?: unknown }).code;
    if (e.name === 'RuntimeError' || code === 'ENOSPC' || code === '53100') return true;
    if (
      /cannot drop active portal|No space left on device|\bENOSPC\b|Aborted\(\)|PGlite crashed|PGlite worker (crashed|exited)/.test(
        e.message,
      )
    ) {
      return true;
    }
  }
  return false;
}

/** A FIFO lock: one holder at a time, in call order. */
class SessionQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const out = this.tail.then(fn);
    this.tail = out.catch(() => {});
    return out;
  }
}

/**
 * How to start the worker: from dist/ its compiled .js next to this module;
 * under tsx the .ts through pglite-worker-tsx.mjs, which registers tsx in the
 * worker first.
 */
function workerEntry(): { entry: URL; execArgv?: string[] } {
  const ts = /\.[cm]?ts$/.test(new URL(import.meta.url).pathname);
  if (!ts) return { entry: new URL('./pglite-worker.js', import.meta.url) };
  return { entry: new URL('./pglite-worker-tsx.mjs', import.meta.url), execArgv: withoutTsxFlags(process.execArgv) };
}

/**
 * execArgv without the flags that load tsx (`--import tsx`, `--import=tsx`,
 * the tsx CLI's `--require .../preflight.cjs --import .../loader.mjs`): the
 * entry registers tsx itself, and a bare `tsx` would be resolved against
 * the current directory, which may have changed since start.
 */
function withoutTsxFlags(argv: string[]): string[] {
  const out: string[] = [];
  const loads = /^--(import|require|loader|experimental-loader)$/;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (loads.test(a) && i + 1 < argv.length && argv[i + 1]!.includes('tsx')) i++;
    else if (!(/^--(import|require|loader|experimental-loader)=/.test(a) && a.includes('tsx'))) out.push(a);
  }
  return out;
}

/** Buffers bigger than Node's pool own their memory, which can then be moved to the worker instead of copied. */
function transferable(bytes: Uint8Array): { data: ArrayBuffer; offset: number; length: number; transfer: ArrayBuffer[] } {
  const ab = bytes.buffer;
  if (ab instanceof ArrayBuffer && ab.byteLength > Buffer.poolSize && bytes.byteOffset === 0) {
    return { data: ab, offset: 0, length: bytes.byteLength, transfer: [ab] };
  }
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return { data: copy.buffer, offset: 0, length: copy.byteLength, transfer: [copy.buffer] };
}

/** A request before it is given its id. */
type NewRequest = WorkerRequest extends infer R ? (R extends WorkerRequest ? Omit<R, 'id'> : never) : never;

interface Pending {
  resolve(v: RawResult | undefined): void;
  reject(err: Error): void;
}

/** PGlite in a worker thread: the same backend calls as messages. */
class WorkerBackend implements PgliteBackend {
  readonly copyWindow = PGLITE_COPY_WINDOW;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Set once the worker is gone: every call fails with it. */
  private dead: ConnectionError | null = null;
  private closing = false;

  private constructor(
    private readonly worker: Worker,
    private readonly url: string,
  ) {
    worker.on('message', (msg: WorkerReply) => this.onMessage(msg));
    worker.on('error', (err) => this.fail(`the PGlite worker crashed: ${err.message}`));
    worker.on('messageerror', (err) => this.fail(`a message from the PGlite worker could not be read: ${err.message}`));
    worker.on('exit', (code) => {
      if (this.closing) this.fail('the warehouse is closed');
      else this.fail(`the PGlite worker exited unexpectedly (exit code ${code})`);
    });
    worker.unref(); // idle: does not keep the process alive (as in-process PGlite would not)
  }

  static async start(url: string, dataDir: string | null): Promise<WorkerBackend> {
    const { entry, execArgv } = workerEntry();
    const workerData: PgliteWorkerData = { dataDir };
    const worker = new Worker(entry, { workerData, ...(execArgv ? { execArgv } : {}) });
    try {
      await new Promise<void>((resolve, reject) => {
        const onMessage = (msg: WorkerReply) => {
          if (msg.type === 'ready') done();
          else if (msg.type === 'open-failed') done(fromWireError(msg.error));
        };
        const onError = (err: Error) => done(err);
        const onExit = (code: number) => done(new Error(`the PGlite worker exited during start (exit code ${code})`));
        const done = (err?: Error) => {
          worker.off('message', onMessage);
          worker.off('error', onError);
          worker.off('exit', onExit);
          if (err) reject(err);
          else resolve();
        };
        worker.on('message', onMessage);
        worker.on('error', onError);
        worker.on('exit', onExit);
      });
    } catch (err) {
      await worker.terminate();
      throw err;
    }
    return new WorkerBackend(worker, url);
  }

  private onMessage(msg: WorkerReply): void {
    if (msg.type !== 'reply') return;
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (this.pending.size === 0) this.worker.unref();
    if (msg.ok) p.resolve(msg.result);
    else if (msg.error.fatal) {
      const err = new ConnectionError(`${this.url}: PGlite crashed (${msg.error.message}); reopen the warehouse`);
      p.reject(err);
      this.fail(`PGlite crashed (${msg.error.message})`);
    } else p.reject(fromWireError(msg.error));
  }

  /** Rejects every pending call and every later one. */
  private fail(reason: string): void {
    if (!this.dead) this.dead = new ConnectionError(`${this.url}: ${reason}${this.closing ? '' : '; reopen the warehouse'}`);
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(this.dead);
  }

  private call(req: NewRequest, transfer: ArrayBuffer[] = []): Promise<RawResult | undefined> {
    if (this.dead) return Promise.reject(this.dead);
    if (this.closing) return Promise.reject(new ConnectionError(`${this.url}: the warehouse is closed`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      try {
        this.worker.postMessage({ ...req, id } as WorkerRequest, transfer);
      } catch (err) {
        reject(err as Error); // e.g. a parameter that cannot be cloned
        return;
      }
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
    });
  }

  async query(sql: string, params?: unknown[]): Promise<RawResult> {
    return (await this.call({ op: 'query', sql, params }))!;
  }

  async copyFrom(sql: string, bytes: Uint8Array): Promise<void> {
    const { data, offset, length, transfer } = transferable(bytes);
    await this.call({ op: 'copy', sql, data, offset, length }, transfer);
  }

  async begin(): Promise<void> {
    await this.call({ op: 'begin' });
  }

  async commit(): Promise<void> {
    await this.call({ op: 'commit' });
  }

  async rollback(): Promise<void> {
    await this.call({ op: 'rollback' });
  }

  /** Why the worker is gone (a crash, a WASM abort), or null while it serves (or was closed on purpose). */
  get deadReason(): string | null {
    return this.dead && !this.closing ? this.dead.message : null;
  }

  /** Tests only: makes the worker die as a crash would. */
  crashForTests(): void {
    this.worker.postMessage({ id: 0, op: 'crash' } satisfies WorkerRequest);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    const bye = this.dead
      ? Promise.resolve()
      : this.call({ op: 'close' }).then(
          () => {},
          () => {},
        );
    this.closing = true;
    await bye;
    await this.worker.terminate();
  }
}

/**
 * Wraps a COPY chunk sink around the backend: up to copyWindow chunks in
 * flight; the first COPY error is reported by the next write() or finish().
 */
function copySink(backend: PgliteBackend, url: string, table: string, columns: string): CsvSink {
  const sql = `COPY ${table} ${columns} FROM '/dev/blob' WITH (FORMAT csv)`;
  const inFlight: Promise<void>[] = [];
  let failed: Error | null = null;
  const drainTo = async (n: number) => {
    while (inFlight.length > n) await inFlight.shift();
  };
  return {
    async write(csv) {
      if (failed) throw failed;
      inFlight.push(
        backend.copyFrom(sql, csv).catch((err: unknown) => {
          failed ??= toSluiceError(err, sql, url);
        }),
      );
      await drainTo(backend.copyWindow - 1);
      if (failed) throw failed;
    },
    async finish() {
      await drainTo(0);
      if (failed) throw failed;
    },
    abort: () => drainTo(0),
  };
}

/** A PGlite session: the warehouse's own (serialised by its queue) or an open transaction. */
class PgliteSession implements WarehouseSession {
  readonly dialect = 'postgres' as const;
  finished = false;

  constructor(
    private readonly backend: PgliteBackend,
    private readonly url: string,
  ) {}

  async query<T = Record<string, unknown>>(sql: string, params?: unknown[], opts: QueryOptions = {}): Promise<QueryResult<T>> {
    this.checkOpen();
    checkSignal(opts.signal);
    return this.run<T>(sql, params);
  }

  private async run<T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
    try {
      return (await this.backend.query(sql, params)) as QueryResult<T>;
    } catch (err) {
      throw toSluiceError(err, sql, this.url);
    }
  }

  /** Loads inside this session; when it is a transaction, that transaction is the unit of work. */
  async loadJson(spec: JsonLoadSpec, opts: QueryOptions = {}): Promise<LoadResult> {
    this.checkOpen();
    return loadJsonLocally(this.loadTarget(), spec, opts);
  }

  private loadTarget(): LocalLoadTarget {
    const { backend, url } = this;
    return {
      query: (sql, params) => this.run(sql, params),
      chunkRows: PGLITE_CHUNK_ROWS,
      chunkBytes: PGLITE_CHUNK_BYTES,
      openSink: async (table, columns) => copySink(backend, url, table, columns),
    };
  }

  private checkOpen(): void {
    if (this.finished) throw new Error('this transaction has already finished');
  }
}

export class PgliteWarehouse implements Warehouse {
  readonly kind = 'pglite' as const;
  readonly dialect = 'postgres' as const;
  private readonly session: PgliteSession;
  private readonly queue = new SessionQueue();
  private closed = false;

  private constructor(
    private readonly backend: PgliteBackend,
    readonly url: string,
    readonly dataDir: string | null,
    readonly thread: PgliteThread,
    /** This process's hold on the data dir (null in memory), released by close(). */
    private readonly lock: WarehouseLock | null,
  ) {
    this.session = new PgliteSession(backend, url);
  }

  /**
   * Opens (creating on first use) the data dir, or an in-memory database when
   * dataDir is null. A data dir is first locked for this process: while
   * another process has it open, this waits (saying so on stderr) up to
   * opts.lockTimeoutMs, then fails with a WarehouseBusyError; it never opens
   * files another process is writing.
   */
  static async open(url: string, dataDir: string | null, opts: PgliteOpenOptions = {}): Promise<PgliteWarehouse> {
    const thread = opts.thread ?? 'worker';
    const lock = dataDir
      ? await WarehouseLock.acquire(dataDir, { timeoutMs: opts.lockTimeoutMs, signal: opts.signal, onWait: opts.onLockWait })
      : null;
    try {
      // PGlite itself loads only on the thread that runs it: the worker imports it; ?thread=main imports it here.
      const backend =
        thread === 'main'
          ? await (await import('./pglite-worker-core.js')).PgliteEngine.open(dataDir)
          : await WorkerBackend.start(url, dataDir);
      return new PgliteWarehouse(backend, url, dataDir, thread, lock);
    } catch (err) {
      lock?.release();
      throw new ConnectionError(`cannot open PGlite warehouse ${url}: ${(err as Error).message}`);
    }
  }

  query<T = Record<string, unknown>>(sql: string, params?: unknown[], opts: QueryOptions = {}): Promise<QueryResult<T>> {
    try {
      checkSignal(opts.signal);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return this.queue.run(() => this.session.query<T>(sql, params, opts)).catch((err: unknown) => this.noteFailure(err));
  }

  /** Why this warehouse's session can no longer be used (the resolver then opens a fresh one), or null. */
  private brokenBy: string | null = null;

  get broken(): string | null {
    if (this.brokenBy) return this.brokenBy;
    if (this.backend instanceof WorkerBackend && this.backend.deadReason) return this.backend.deadReason;
    return null;
  }

  /**
   * Remembers a failure after which PGlite's single session is not to be
   * trusted: a WASM abort or a dead worker, a full disk met in the middle of
   * a write (PGlite then fails later statements with `cannot drop active
   * portal ""`), or that error itself. Rethrows the error.
   */
  private noteFailure(err: unknown): never {
    if (!this.brokenBy && isFatalPgliteError(err)) {
      this.brokenBy = `the PGlite session is broken after: ${(err as Error).message.split('\n')[0]}`;
    }
    throw err;
  }

  /** BEGIN ... COMMIT around fn, holding the session; ROLLBACK when fn throws or the signal aborts. */
  async transaction<T>(fn: (tx: WarehouseSession) => Promise<T>, opts: QueryOptions = {}): Promise<T> {
    checkSignal(opts.signal);
    return this.inTransaction(fn, opts).catch((err: unknown) => this.noteFailure(err));
  }

  private inTransaction<T>(fn: (tx: WarehouseSession) => Promise<T>, opts: QueryOptions): Promise<T> {
    return this.queue.run(async () => {
      checkSignal(opts.signal);
      try {
        await this.backend.begin();
      } catch (err) {
        throw toSluiceError(err, undefined, this.url);
      }
      const session = new PgliteSession(this.backend, this.url);
      let out: T;
      try {
        out = await fn(session);
        checkSignal(opts.signal);
      } catch (err) {
        session.finished = true;
        await this.backend.rollback().catch(() => {});
        throw toSluiceError(err, undefined, this.url);
      }
      session.finished = true;
      try {
        await this.backend.commit();
      } catch (err) {
        throw toSluiceError(err, undefined, this.url);
      }
      return out;
    });
  }

  /** A load outside a transaction runs in its own, so a failed load leaves nothing behind. */
  loadJson(spec: JsonLoadSpec, opts: QueryOptions = {}): Promise<LoadResult> {
    return this.transaction((tx) => tx.loadJson(spec, opts), opts);
  }

  /** Tests only: kills the PGlite worker as a crash would (no-op in process). */
  simulateWorkerCrash(): void {
    if (this.backend instanceof WorkerBackend) this.backend.crashForTests();
  }

  /** Closes the database and ends its worker thread. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.backend.close();
    } finally {
      this.lock?.release(); // only once PGlite is done with the files
    }
  }
}
