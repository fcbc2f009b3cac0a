/**
 * A PostgreSQL server as the warehouse, through a small `pg` pool.
 *
 * - A transaction holds one pooled client from BEGIN to COMMIT/ROLLBACK, so
 *   every query of `fn` runs on it.
 * - Signals: an already-aborted signal refuses to start; an abort during a
 *   query cancels it on the server (pg_cancel_backend from a side connection)
 *   and the transaction rolls back.
 * - The JSON load streams one `COPY ... FROM STDIN WITH (FORMAT csv)`.
 */
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { ConnectionError, notRetryableReason } from '../../errors.js';
import type { JsonLoadSpec, LoadResult, QueryOptions, QueryResult, Warehouse, WarehouseSession } from '../../interfaces.js';
import { loadJsonLocally, type CsvSink, type LocalLoadTarget } from '../copy-json/json-load.js';
import { pgTypeOverrides } from './pg-type-overrides.js';
import { connectionLost, isConnectionLoss, toSluiceError } from './sql-error.js';

/** How long connecting may take before the connection counts as unreachable. */
export const PG_CONNECT_TIMEOUT_MS = 5_000;
const PG_POOL_SIZE = 4;
/** The COPY stream is fed in pieces of about this many rows / characters. */
export const PG_CHUNK_ROWS = 5_000;
/**
 * The COPY stream accepts this much before write() waits for the socket: the
 * next chunks are parsed and converted while the server loads the previous ones.
 */
const PG_COPY_BUFFER_BYTES = 4 * 1024 * 1024;
export const PG_CHUNK_BYTES = 1024 * 1024;

export type Signals = readonly (AbortSignal | undefined)[];

/** The first aborted signal's reason, if any. */
export function abortedReason(signals: Signals): Error | undefined {
  for (const s of signals) {
    if (s?.aborted) return s.reason instanceof Error ? s.reason : new Error('aborted');
  }
  return undefined;
}

/** The message of a connect failure (AggregateError from dual-stack connects has an empty message). */
export function describeCause(err: unknown): string {
  const e = err as Error & { code?: string; errors?: Error[] };
  const msg = e.message || e.errors?.map((x) => x.message).join('; ') || String(err);
  return e.code && !msg.includes(e.code) ? `${e.code}: ${msg}` : msg;
}

/** How to reach a server: pg client settings, and the URL errors may show (secrets removed). */
export interface PgConn {
  config: pg.ClientConfig;
  url: string;
}

/** Asks the server to cancel whatever backend `pid` is running, from a separate connection. */
async function cancelBackend(conn: PgConn, pid: number): Promise<void> {
  const side = new pg.Client({ connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS, ...conn.config });
  side.on('error', () => {}); // the server went away: the cancel is moot, and must not crash the process
  try {
    await side.connect();
    await side.query('SELECT pg_cancel_backend($1)', [pid]);
  } finally {
    await side.end().catch(() => {});
  }
}

/**
 * Runs SQL on a client; without params the SQL may hold several statements
 * (the last one's result is returned). An abort cancels the statement on the
 * server. `shown` is what an error may quote; `scrub` cleans secrets out of
 * a server message (Redshift COPY credentials).
 */
export async function runPgQuery<T>(
  client: pg.PoolClient | pg.Client,
  conn: PgConn,
  sql: string,
  params: unknown[] | undefined,
  signals: Signals,
  shown: string = sql,
  scrub?: (message: string) => string,
): Promise<QueryResult<T>> {
  const before = abortedReason(signals);
  if (before) throw before;
  const pid = (client as unknown as { processID?: number }).processID;
  let cancelled = false;
  const onAbort = () => {
    if (cancelled || pid === undefined) return;
    cancelled = true;
    cancelBackend(conn, pid).catch(() => {});
  };
  for (const s of signals) s?.addEventListener('abort', onAbort, { once: true });
  try {
    const res = (await client.query(sql, params && params.length > 0 ? params : undefined)) as pg.QueryResult | pg.QueryResult[];
    const last = Array.isArray(res) ? res[res.length - 1]! : res;
    return {
      rows: (last?.rows ?? []) as T[],
      rowCount: last?.rowCount ?? last?.rows?.length ?? 0,
      fields: (last?.fields ?? []).map((f) => ({ name: f.name })),
    };
  } catch (caught) {
    const reason = abortedReason(signals);
    if (reason) throw reason;
    // A dropped connection: the query's own error says how (57P01 admin shutdown, "terminated"), else the client's.
    const lost = lostConnections.get(client);
    if (isConnectionLoss(caught)) throw connectionLost(conn.url, caught as Error);
    if (lost) throw connectionLost(conn.url, lost);
    const err = caught;
    if (scrub && err instanceof Error) {
      err.message = scrub(err.message);
      err.stack = undefined;
      for (const k of ['detail', 'hint', 'where', 'internalQuery'] as const) {
        const e = err as unknown as Record<string, unknown>;
        if (typeof e[k] === 'string') e[k] = scrub(e[k] as string);
      }
    }
    throw toSluiceError(err, shown, conn.url);
  } finally {
    for (const s of signals) s?.removeEventListener('abort', onAbort);
  }
}

/**
 * Clients whose connection broke while checked out, with the error the
 * client emitted: their query rejects with a connection-lost error and they
 * are destroyed on release instead of going back to the pool.
 */
const lostConnections = new WeakMap<object, Error>();

/**
 * Makes a checked-out client safe to lose: pg emits 'error' on a client whose
 * connection drops (server stopped, network cut) and pg-pool listens only
 * while the client is idle, so without this an outage during a query is an
 * unhandled 'error' event that ends the process. The query in flight rejects
 * by itself; the listener records why. release() destroys a broken client.
 */
export function guardCheckout(client: pg.PoolClient): pg.PoolClient {
  const onError = (err: Error) => {
    if (!lostConnections.has(client)) lostConnections.set(client, err);
  };
  client.on('error', onError);
  const release = client.release.bind(client);
  client.release = (destroy?: boolean | Error) => {
    client.off('error', onError);
    const lost = lostConnections.get(client);
    release(lost ?? destroy);
  };
  return client;
}

/** Opens a streamed COPY FROM STDIN on the client and wraps it as a CSV sink. */
function openCopySink(client: pg.PoolClient, url: string, table: string, columns: string): CsvSink {
  const sql = `COPY ${table} ${columns} FROM STDIN WITH (FORMAT csv)`;
  const stream = client.query(copyStreams.from(sql, { highWaterMark: PG_COPY_BUFFER_BYTES }));
  let failure: Error | undefined;
  stream.on('error', (err: Error) => {
    failure ??= toSluiceError(err, sql, url);
  });
  const waitFor = (event: 'drain' | 'finish') =>
    new Promise<void>((resolve, reject) => {
      const onEvent = () => {
        stream.off('error', onError);
        resolve();
      };
      const onError = () => {
        stream.off(event, onEvent);
        reject(failure);
      };
      stream.once(event, onEvent);
      stream.once('error', onError);
    });
  return {
    async write(csv) {
      if (failure) throw failure;
      if (!stream.write(csv)) await waitFor('drain');
      if (failure) throw failure;
    },
    async finish() {
      if (failure) throw failure;
      const done = waitFor('finish');
      stream.end();
      await done;
    },
    async abort(err) {
      if (!stream.destroyed && !stream.writableFinished) {
        const closed = new Promise<void>((resolve) => stream.once('close', () => resolve()));
        stream.destroy(err);
        await closed;
      }
    },
  };
}

/**
 * A session bound to one pooled client (a transaction), as PostgreSQL and
 * Redshift share it: queries on that client, refused once the transaction
 * has ended. Each warehouse adds how it bulk-loads.
 */
export abstract class PgPoolSession implements PoolSession {
  abstract readonly dialect: WarehouseSession['dialect'];
  finished = false;

  constructor(
    protected readonly client: pg.PoolClient,
    protected readonly conn: PgConn,
    protected readonly txSignal: AbortSignal | undefined,
  ) {}

  query<T = Record<string, unknown>>(sql: string, params?: unknown[], opts: QueryOptions = {}): Promise<QueryResult<T>> {
    if (this.finished) return Promise.reject(new Error('this transaction has already finished'));
    return runPgQuery<T>(this.client, this.conn, sql, params, [opts.signal, this.txSignal]);
  }

  abstract loadJson(spec: JsonLoadSpec, opts?: QueryOptions): Promise<LoadResult>;
}

/** A PostgreSQL session: loads stream through COPY FROM STDIN on its client. */
class PgSession extends PgPoolSession {
  readonly dialect = 'postgres' as const;

  /** Loads on this transaction's client; the caller's transaction is the unit of work. */
  async loadJson(spec: JsonLoadSpec, opts: QueryOptions = {}): Promise<LoadResult> {
    if (this.finished) throw new Error('this transaction has already finished');
    const target: LocalLoadTarget = {
      query: (sql, params) => this.query(sql, params, opts),
      chunkRows: PG_CHUNK_ROWS,
      chunkBytes: PG_CHUNK_BYTES,
      openSink: async (table, columns) => openCopySink(this.client, this.conn.url, table, columns),
    };
    return loadJsonLocally(target, spec, { signal: opts.signal ?? this.txSignal });
  }
}

/** A session of a pool warehouse: marked finished when its transaction ends. */
export interface PoolSession extends WarehouseSession {
  finished: boolean;
}

/**
 * What PostgreSQL and Redshift share: a small pg pool, queries on a pooled
 * client, and transactions holding one client from BEGIN to COMMIT/ROLLBACK
 * (rolled back when fn throws or the signal aborts).
 */
export abstract class PgPoolWarehouse {
  protected constructor(
    protected readonly pool: pg.Pool,
    protected readonly conn: PgConn,
  ) {
    pool.on('error', () => {
      // an idle client lost its connection; the next checkout reconnects
    });
  }

  get url(): string {
    return this.conn.url;
  }

  /** The ConnectionError for a failed checkout (says what to check). */
  protected abstract connectError(err: unknown): ConnectionError;

  /** A session on a client checked out for a transaction. */
  protected abstract session(client: pg.PoolClient, signal: AbortSignal | undefined): PoolSession;

  /** Checks a client out of the pool (a new connection when the old ones were lost: pg-pool drops those). */
  protected async connect(): Promise<pg.PoolClient> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      const e = this.connectError(err);
      // A refused password or login fails the same way on every try.
      const why = notRetryableReason(err);
      throw why && e.retryable ? e.markNotRetryable(why) : e;
    }
    return guardCheckout(client);
  }

  /** Connects once to check the server is there; closes the pool when it is not. */
  protected async check(): Promise<void> {
    const client = await this.connect().catch(async (err) => {
      await this.pool.end().catch(() => {});
      throw err;
    });
    client.release();
  }

  async query<T = Record<string, unknown>>(sql: string, params?: unknown[], opts: QueryOptions = {}): Promise<QueryResult<T>> {
    const before = abortedReason([opts.signal]);
    if (before) throw before;
    const client = await this.connect();
    try {
      return await runPgQuery<T>(client, this.conn, sql, params, [opts.signal]);
    } finally {
      client.release();
    }
  }

  async transaction<T>(fn: (tx: WarehouseSession) => Promise<T>, opts: QueryOptions = {}): Promise<T> {
    const before = abortedReason([opts.signal]);
    if (before) throw before;
    const client = await this.connect();
    const session = this.session(client, opts.signal);
    let broken = false;
    try {
      await runPgQuery(client, this.conn, 'BEGIN', undefined, []);
      const out = await fn(session);
      const after = abortedReason([opts.signal]);
      if (after) throw after;
      await runPgQuery(client, this.conn, 'COMMIT', undefined, []);
      return out;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      throw err;
    } finally {
      session.finished = true;
      client.release(broken ? true : undefined);
    }
  }

  /** A load outside a transaction runs in its own, so a failed load leaves nothing behind. */
  loadJson(spec: JsonLoadSpec, opts: QueryOptions = {}): Promise<LoadResult> {
    return this.transaction((tx) => tx.loadJson(spec, opts), opts);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

export class PostgresWarehouse extends PgPoolWarehouse implements Warehouse {
  readonly kind = 'postgres' as const;
  readonly dialect = 'postgres' as const;

  /** Connects once to check the server is there; an unreachable server is a ConnectionError within ~5 s. */
  static async open(url: string, connectionString: string): Promise<PostgresWarehouse> {
    const pool = new pg.Pool({
      connectionString,
      connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS,
      max: PG_POOL_SIZE,
      idleTimeoutMillis: 30_000,
      application_name: 'sluice',
      types: pgTypeOverrides,
    });
    const wh = new PostgresWarehouse(pool, { config: { connectionString }, url });
    await wh.check();
    return wh;
  }

  protected connectError(err: unknown): ConnectionError {
    return new ConnectionError(`cannot connect to PostgreSQL at ${this.url}: ${describeCause(err)}`);
  }

  protected session(client: pg.PoolClient, signal: AbortSignal | undefined): PoolSession {
    return new PgSession(client, this.conn, signal);
  }
}
