/**
 * Amazon Redshift as the warehouse: `pg` over SSL (port 5439), dialect
 * 'redshift', and bulk loads as a server-side COPY from S3 (redshift-load.ts).
 *
 * - The password is resolved at connect time (password_env) and kept only in
 *   the pool's configuration: `url` is the redacted form.
 * - A transaction holds one pooled client from BEGIN to COMMIT/ROLLBACK.
 *   Redshift's TRUNCATE commits implicitly: loads empty tables with DELETE.
 * - An abort during a statement cancels it (pg_cancel_backend from a side
 *   connection) and the transaction rolls back.
 */
import pg from 'pg';
import { ConnectionError } from '../errors.js';
import type { JsonLoadSpec, LoadResult, QueryOptions, QueryResult, Warehouse, WarehouseSession } from '../interfaces.js';
import { describeCause, PG_CONNECT_TIMEOUT_MS } from './postgres.js';
import { copyJsonFromS3, scrubSecrets, type RedshiftCopyTarget, type RedshiftJsonLoadSpec } from './redshift-load.js';
import { parseRedshiftUrl, pgSslOption, type RedshiftUrl } from './redshift-url.js';
import { pgTypeOverrides } from './result-types.js';
import { toSluiceError } from './sql-error.js';

export { buildCopySql, buildManifest, buildJsonPathsFile, toRejections, type CopySpec, type CopyAuth } from './redshift-copy.js';
export { parseRedshiftUrl, formatRedshiftUrl, type RedshiftUrl, type RedshiftUrlParts } from './redshift-url.js';
export { copyJsonFromS3, HELPER_PREFIX, type RedshiftCopyTarget, type RedshiftJsonLoadSpec } from './redshift-load.js';

const POOL_SIZE = 4;

type Signals = readonly (AbortSignal | undefined)[];

function abortedReason(signals: Signals): Error | undefined {
  for (const s of signals) {
    if (s?.aborted) return s.reason instanceof Error ? s.reason : new Error('aborted');
  }
  return undefined;
}

/** pg client settings for a parsed redshift URL. */
export function redshiftClientConfig(c: RedshiftUrl): pg.ClientConfig {
  return {
    host: c.host,
    port: c.port,
    user: c.user,
    password: c.password,
    database: c.database,
    ssl: pgSslOption(c.sslmode),
    connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS,
    application_name: 'sluice',
  };
}

interface Conn {
  config: pg.ClientConfig;
  url: string;
}

async function cancelBackend(conn: Conn, pid: number): Promise<void> {
  const side = new pg.Client(conn.config);
  try {
    await side.connect();
    await side.query('SELECT pg_cancel_backend($1)', [pid]);
  } finally {
    await side.end().catch(() => {});
  }
}

/**
 * Runs SQL on a client. `shown` is what errors may quote (the statement with
 * credentials masked); `secrets` are scrubbed from any message.
 */
async function runQuery<T>(
  client: pg.PoolClient | pg.Client,
  conn: Conn,
  sql: string,
  params: unknown[] | undefined,
  signals: Signals,
  shown: string = sql,
  secrets: readonly string[] = [],
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
  } catch (err) {
    const reason = abortedReason(signals);
    if (reason) throw reason;
    if (secrets.length > 0 && err instanceof Error) {
      err.message = scrubSecrets(err.message, secrets);
      err.stack = undefined;
      for (const k of ['detail', 'hint', 'where', 'internalQuery'] as const) {
        const e = err as unknown as Record<string, unknown>;
        if (typeof e[k] === 'string') e[k] = scrubSecrets(e[k] as string, secrets);
      }
    }
    throw toSluiceError(err, shown, conn.url);
  } finally {
    for (const s of signals) s?.removeEventListener('abort', onAbort);
  }
}

/** A session bound to one client (a transaction). */
class RedshiftSession implements WarehouseSession {
  readonly dialect = 'redshift' as const;
  finished = false;

  constructor(
    private readonly client: pg.PoolClient,
    private readonly wh: RedshiftWarehouse,
    private readonly conn: Conn,
    private readonly txSignal: AbortSignal | undefined,
  ) {}

  query<T = Record<string, unknown>>(sql: string, params?: unknown[], opts: QueryOptions = {}): Promise<QueryResult<T>> {
    if (this.finished) return Promise.reject(new Error('this transaction has already finished'));
    return runQuery<T>(this.client, this.conn, sql, params, [opts.signal, this.txSignal]);
  }

  /** COPY on this transaction's client; the caller's transaction is the unit of work. */
  loadJson(spec: JsonLoadSpec, opts: QueryOptions = {}): Promise<LoadResult> {
    if (this.finished) return Promise.reject(new Error('this transaction has already finished'));
    const signals = [opts.signal, this.txSignal];
    const target: RedshiftCopyTarget = {
      query: (sql, params) => runQuery(this.client, this.conn, sql, params, signals),
      copy: async (sql, shown, secrets) => {
        await runQuery(this.client, this.conn, sql, undefined, signals, shown, secrets);
      },
      sideQuery: (sql, params) => this.wh.query(sql, params),
      backendPid: (this.client as unknown as { processID?: number }).processID,
      iamRole: this.wh.settings.iamRole,
      region: this.wh.settings.region,
    };
    return copyJsonFromS3(target, spec as RedshiftJsonLoadSpec, { signal: opts.signal ?? this.txSignal });
  }
}

export class RedshiftWarehouse implements Warehouse {
  readonly kind = 'redshift' as const;
  readonly dialect = 'redshift' as const;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly conn: Conn,
    /** The URL's non-secret settings (COPY defaults). */
    readonly settings: Pick<RedshiftUrl, 'host' | 'port' | 'database' | 'user' | 'iamRole' | 'region' | 'sslmode'>,
  ) {}

  get url(): string {
    return this.conn.url;
  }

  /**
   * Connects once to check the cluster is reachable; a ConnectionError within
   * about 5 s otherwise. `url` is the redacted URL to show; `rawUrl` the real one.
   */
  static async open(url: string, rawUrl: string, env: NodeJS.ProcessEnv = process.env): Promise<RedshiftWarehouse> {
    const parsed = parseRedshiftUrl(rawUrl, env);
    const config = redshiftClientConfig(parsed);
    const pool = new pg.Pool({ ...config, max: POOL_SIZE, idleTimeoutMillis: 30_000, types: pgTypeOverrides });
    pool.on('error', () => {
      // an idle client lost its connection; the next checkout reconnects
    });
    const { password: _password, passwordEnv: _env, ...settings } = parsed;
    const wh = new RedshiftWarehouse(pool, { config, url }, settings);
    const client = await wh.connect().catch(async (err) => {
      await pool.end().catch(() => {});
      throw err;
    });
    client.release();
    return wh;
  }

  private async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (err) {
      const hint = /self[- ]signed|certificate|SSL|does not support SSL/i.test(describeCause(err))
        ? ' (check sslmode: verify-full by default; sslmode=require skips certificate checks)'
        : /ETIMEDOUT|timeout/i.test(describeCause(err))
          ? ' (is the cluster publicly accessible and its security group open to your address? see ingress_cidr in dags/redshift_cluster.yaml)'
          : '';
      throw new ConnectionError(`cannot connect to Redshift at ${this.url}: ${describeCause(err)}${hint}`);
    }
  }

  async query<T = Record<string, unknown>>(sql: string, params?: unknown[], opts: QueryOptions = {}): Promise<QueryResult<T>> {
    const before = abortedReason([opts.signal]);
    if (before) throw before;
    const client = await this.connect();
    try {
      return await runQuery<T>(client, this.conn, sql, params, [opts.signal]);
    } finally {
      client.release();
    }
  }

  async transaction<T>(fn: (tx: WarehouseSession) => Promise<T>, opts: QueryOptions = {}): Promise<T> {
    const before = abortedReason([opts.signal]);
    if (before) throw before;
    const client = await this.connect();
    const session = new RedshiftSession(client, this, this.conn, opts.signal);
    let broken = false;
    try {
      await runQuery(client, this.conn, 'BEGIN', undefined, []);
      const out = await fn(session);
      const after = abortedReason([opts.signal]);
      if (after) throw after;
      await runQuery(client, this.conn, 'COMMIT', undefined, []);
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
