/**
 * What runs next to a PGlite instance, on whichever thread holds it: the
 * session engine (queries, COPY from bytes, one transaction at a time) and
 * the message protocol between the warehouse (pglite.ts, main thread) and
 * the worker thread (pglite-worker.ts).
 *
 * The engine holds at most one transaction open across calls: begin() starts
 * PGlite's own transaction() and parks inside it until commit() or
 * rollback(), so COMMIT and ROLLBACK behave exactly as PGlite's transaction
 * API does (e.g. a COMMIT of a failed transaction is an error, 25P02). The
 * caller serialises sessions: nothing else may use the engine while a
 * transaction is open except that transaction's own statements.
 */
import { PGlite, type Transaction } from '@electric-sql/pglite';
import fs from 'node:fs/promises';
import { pgliteParsers } from '../result-types.js';
import type { WireError } from './pglite-wire.js';

/**
 * The V8 setting the PGlite worker applies before PGlite compiles its
 * WebAssembly: how much code a function runs before V8 recompiles it with its
 * optimising compiler (the default budget is 1.8 MB "executed", roughly).
 * With the default, opening a data dir and the first statements make V8
 * recompile a large part of PostgreSQL in the background (about 1 s of CPU,
 * half of a `run-dag` of one Sparkify day), and the thread then waits for
 * those jobs (70-160 ms measured right after the open, before the first
 * statement is served); a DAG run does not live long enough to gain it back.
 * With this budget only the really hot code of a large COPY or query is
 * recompiled: the open measured 250 ms instead of 260-320 ms, the wait gone,
 * a 100k-row COPY the same. V8 flags are per process: this also applies to
 * PGlite instances the process compiles later (e.g. with ?thread=main).
 */
export const PGLITE_V8_FLAGS = '--wasm-tiering-budget=1000000000';

/** A result as the warehouse returns it (rows already parsed by pgliteParsers). */
export interface RawResult {
  rows: unknown[];
  rowCount: number;
  fields: { name: string }[];
}

interface PgliteResults {
  rows: unknown[];
  fields: { name: string }[];
  rowCount?: number;
  affectedRows?: number;
}

/** What the warehouse needs from a PGlite session, in process or in a worker. */
export interface PgliteBackend {
  /** With params one statement; without, any number (the last one's result). Throws the driver's error. */
  query(sql: string, params?: unknown[]): Promise<RawResult>;
  /** `COPY ... FROM '/dev/blob'` with these bytes as the blob. The bytes are handed over (not used by the caller afterwards). */
  copyFrom(sql: string, bytes: Uint8Array): Promise<void>;
  begin(): Promise<void>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
  close(): Promise<void>;
  /** How many COPY chunks may be in flight at once (1: each write waits for its COPY). */
  readonly copyWindow: number;
}

/** PGlite on the current thread. */
export class PgliteEngine implements PgliteBackend {
  readonly copyWindow = 1;
  private tx: Transaction | null = null;
  private settle: ((commit: boolean) => void) | null = null;
  private done: Promise<void> | null = null;

  private constructor(private readonly db: PGlite) {}

  /** Opens (creating on first use) the data dir, or an in-memory database when dataDir is null. */
  static async open(dataDir: string | null): Promise<PgliteEngine> {
    if (dataDir) await fs.mkdir(dataDir, { recursive: true });
    const db = dataDir ? new PGlite(dataDir, { parsers: pgliteParsers }) : new PGlite({ parsers: pgliteParsers });
    await db.waitReady;
    return new PgliteEngine(db);
  }

  private get runner(): Pick<PGlite | Transaction, 'query' | 'exec'> {
    return this.tx ?? this.db;
  }

  async query(sql: string, params?: unknown[]): Promise<RawResult> {
    let r: PgliteResults;
    if (params && params.length > 0) {
      r = await this.runner.query(sql, params, { parsers: pgliteParsers });
    } else {
      const all = await this.runner.exec(sql, { parsers: pgliteParsers });
      r = all[all.length - 1] ?? { rows: [], fields: [] };
    }
    return {
      rows: r.rows,
      rowCount: r.rowCount ?? r.affectedRows ?? r.rows.length,
      fields: r.fields.map((f) => ({ name: f.name })),
    };
  }

  async copyFrom(sql: string, bytes: Uint8Array): Promise<void> {
    await this.runner.query(sql, [], { blob: new Blob([bytes]) });
  }

  /** Starts PGlite's transaction() and resolves once inside it (rejects when BEGIN fails). */
  async begin(): Promise<void> {
    if (this.tx) throw new Error('a transaction is already open on this PGlite session');
    await new Promise<void>((started, failed) => {
      const done = this.db.transaction(async (tx) => {
        this.tx = tx;
        const commit = await new Promise<boolean>((resolve) => {
          this.settle = resolve;
          started();
        });
        if (!commit) await tx.rollback();
      });
      this.done = done.finally(() => {
        this.tx = null;
        this.settle = null;
        this.done = null;
      });
      this.done.catch(failed); // only matters before started(): afterwards the promise is settled
    });
  }

  /** COMMIT (PGlite's: an error when the transaction had failed and was rolled back instead). */
  async commit(): Promise<void> {
    await this.finish(true);
  }

  async rollback(): Promise<void> {
    await this.finish(false);
  }

  private async finish(commit: boolean): Promise<void> {
    const { settle, done } = this;
    if (!settle || !done) throw new Error('no transaction is open on this PGlite session');
    settle(commit);
    await done;
  }

  async close(): Promise<void> {
    if (this.settle) await this.rollback().catch(() => {});
    if (!this.db.closed) await this.db.close();
  }
}

// The error codec lives in its own module, free of PGlite, for the main thread (see pglite-wire.ts).
export { fromWireError, toWireError, type WireError } from './pglite-wire.js';

/** workerData of the PGlite worker. */
export interface PgliteWorkerData {
  dataDir: string | null;
}

/** Main thread -> worker. Requests are served one at a time, in order. */
export type WorkerRequest =
  | { id: number; op: 'query'; sql: string; params?: unknown[] }
  | { id: number; op: 'copy'; sql: string; data: ArrayBuffer; offset: number; length: number }
  | { id: number; op: 'begin' | 'commit' | 'rollback' | 'close' }
  /** Tests only: the worker throws an uncaught error at once (as a crash would). */
  | { id: number; op: 'crash' };

/** Worker -> main thread. */
export type WorkerReply =
  | { type: 'ready' }
  | { type: 'open-failed'; error: WireError }
  | { type: 'reply'; id: number; ok: true; result?: RawResult }
  | { type: 'reply'; id: number; ok: false; error: WireError };
