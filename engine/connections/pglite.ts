/**
 * The embedded warehouse: PGlite (PostgreSQL in WASM, in this process).
 *
 * PGlite runs queries on the main thread: a long statement or COPY blocks the
 * event loop for its duration. Signals are honoured between statements and
 * between COPY chunks, never in the middle of one.
 */
import { PGlite, type Transaction } from '@electric-sql/pglite';
import fs from 'node:fs/promises';
import { ConnectionError } from '../errors.js';
import type { JsonLoadSpec, LoadResult, QueryOptions, QueryResult, Warehouse, WarehouseSession } from '../interfaces.js';
import { loadJsonLocally, type CsvSink, type LocalLoadTarget } from './json-load.js';
import { pgliteParsers } from './result-types.js';
import { toSluiceError } from './sql-error.js';

/** Rows per `COPY ... FROM '/dev/blob'`: 10k-100k measured the same (about 55k rows/s for staging_events); smaller blocks the event loop for less. */
export const PGLITE_CHUNK_ROWS = 10_000;
export const PGLITE_CHUNK_BYTES = 8 * 1024 * 1024;

type PgliteRunner = Pick<PGlite | Transaction, 'query' | 'exec'>;

interface PgliteResults {
  rows: unknown[];
  fields: { name: string }[];
  rowCount?: number;
  affectedRows?: number;
}

function checkSignal(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
}

/** Runs SQL: with params one statement (extended protocol); without, any number of statements (the last one's result). */
async function runPgliteQuery<T>(db: PgliteRunner, url: string, sql: string, params?: unknown[]): Promise<QueryResult<T>> {
  try {
    let r: PgliteResults;
    if (params && params.length > 0) {
      r = await db.query(sql, params, { parsers: pgliteParsers });
    } else {
      const all = await db.exec(sql, { parsers: pgliteParsers });
      r = all[all.length - 1] ?? { rows: [], fields: [] };
    }
    return {
      rows: r.rows as T[],
      rowCount: r.rowCount ?? r.affectedRows ?? r.rows.length,
      fields: r.fields.map((f) => ({ name: f.name })),
    };
  } catch (err) {
    throw toSluiceError(err, sql, url);
  }
}

/** One CSV chunk into the table with PGlite's virtual /dev/blob file. */
async function copyCsvChunk(db: PgliteRunner, url: string, table: string, columns: string, csv: Buffer): Promise<void> {
  const sql = `COPY ${table} ${columns} FROM '/dev/blob' WITH (FORMAT csv)`;
  try {
    await db.query(sql, [], { blob: new Blob([csv]) });
  } catch (err) {
    throw toSluiceError(err, sql, url);
  }
}

/** A PGlite session: the database itself or an open transaction. */
class PgliteSession implements WarehouseSession {
  readonly dialect = 'postgres' as const;
  finished = false;

  constructor(
    private readonly db: PgliteRunner,
    private readonly url: string,
  ) {}

  async query<T = Record<string, unknown>>(sql: string, params?: unknown[], opts: QueryOptions = {}): Promise<QueryResult<T>> {
    this.checkOpen();
    checkSignal(opts.signal);
    return runPgliteQuery<T>(this.db, this.url, sql, params);
  }

  /** Loads inside this session; when it is a transaction, that transaction is the unit of work. */
  async loadJson(spec: JsonLoadSpec, opts: QueryOptions = {}): Promise<LoadResult> {
    this.checkOpen();
    return loadJsonLocally(this.loadTarget(), spec, opts);
  }

  private loadTarget(): LocalLoadTarget {
    const { db, url } = this;
    return {
      query: (sql, params) => runPgliteQuery(db, url, sql, params),
      chunkRows: PGLITE_CHUNK_ROWS,
      chunkBytes: PGLITE_CHUNK_BYTES,
      async openSink(table, columns): Promise<CsvSink> {
        return {
          write: (csv) => copyCsvChunk(db, url, table, columns, csv),
          finish: async () => {},
          abort: async () => {},
        };
      },
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

  private constructor(
    private readonly db: PGlite,
    readonly url: string,
    readonly dataDir: string | null,
  ) {
    this.session = new PgliteSession(db, url);
  }

  /** Opens (creating on first use) the data dir, or an in-memory database when dataDir is null. */
  static async open(url: string, dataDir: string | null): Promise<PgliteWarehouse> {
    try {
      if (dataDir) await fs.mkdir(dataDir, { recursive: true });
      const db = dataDir ? new PGlite(dataDir, { parsers: pgliteParsers }) : new PGlite({ parsers: pgliteParsers });
      await db.waitReady;
      return new PgliteWarehouse(db, url, dataDir);
    } catch (err) {
      throw new ConnectionError(`cannot open PGlite warehouse ${url}: ${(err as Error).message}`);
    }
  }

  query<T = Record<string, unknown>>(sql: string, params?: unknown[], opts?: QueryOptions): Promise<QueryResult<T>> {
    return this.session.query<T>(sql, params, opts);
  }

  /** BEGIN ... COMMIT around fn; ROLLBACK when fn throws (PGlite serialises other queries meanwhile). */
  async transaction<T>(fn: (tx: WarehouseSession) => Promise<T>, opts: QueryOptions = {}): Promise<T> {
    checkSignal(opts.signal);
    try {
      return await this.db.transaction(async (tx) => {
        const session = new PgliteSession(tx, this.url);
        try {
          const out = await fn(session);
          checkSignal(opts.signal);
          return out;
        } finally {
          session.finished = true;
        }
      });
    } catch (err) {
      throw toSluiceError(err, undefined, this.url);
    }
  }

  /** A load outside a transaction runs in its own, so a failed load leaves nothing behind. */
  loadJson(spec: JsonLoadSpec, opts: QueryOptions = {}): Promise<LoadResult> {
    return this.transaction((tx) => tx.loadJson(spec, opts), opts);
  }

  async close(): Promise<void> {
    if (!this.db.closed) await this.db.close();
  }
}
