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
import { ConnectionError } from '../../../errors.js';
import type { JsonLoadSpec, LoadResult, QueryOptions, Warehouse } from '../../../interfaces.js';
import {
  describeCause,
  PG_CONNECT_TIMEOUT_MS,
  PgPoolSession,
  PgPoolWarehouse,
  runPgQuery,
  type PgConn,
  type PoolSession,
} from '../postgres.js';
import { copyJsonFromS3, scrubSecrets, type RedshiftCopyTarget, type RedshiftJsonLoadSpec } from './redshift-load.js';
import { parseRedshiftUrl, pgSslOption, type RedshiftUrl } from './redshift-url.js';
import { pgTypeOverrides } from '../pg-type-overrides.js';

export { buildCopySql, buildManifest, buildJsonPathsFile, toRejections, type CopySpec, type CopyAuth } from './redshift-copy.js';
export { parseRedshiftUrl, formatRedshiftUrl, type RedshiftUrl, type RedshiftUrlParts } from './redshift-url.js';
export { copyJsonFromS3, HELPER_PREFIX, type RedshiftCopyTarget, type RedshiftJsonLoadSpec } from './redshift-load.js';

const POOL_SIZE = 4;

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

/** A Redshift session: loads run as a server-side COPY from S3 on its client. */
class RedshiftSession extends PgPoolSession {
  readonly dialect = 'redshift' as const;

  constructor(
    client: pg.PoolClient,
    private readonly wh: RedshiftWarehouse,
    conn: PgConn,
    txSignal: AbortSignal | undefined,
  ) {
    super(client, conn, txSignal);
  }

  /** COPY on this transaction's client; the caller's transaction is the unit of work. */
  loadJson(spec: JsonLoadSpec, opts: QueryOptions = {}): Promise<LoadResult> {
    if (this.finished) return Promise.reject(new Error('this transaction has already finished'));
    const signals = [opts.signal, this.txSignal];
    const target: RedshiftCopyTarget = {
      query: (sql, params) => runPgQuery(this.client, this.conn, sql, params, signals),
      copy: async (sql, shown, secrets) => {
        const scrub = secrets.length > 0 ? (m: string) => scrubSecrets(m, secrets) : undefined;
        await runPgQuery(this.client, this.conn, sql, undefined, signals, shown, scrub);
      },
      sideQuery: (sql, params) => this.wh.query(sql, params),
      backendPid: (this.client as unknown as { processID?: number }).processID,
      iamRole: this.wh.settings.iamRole,
      region: this.wh.settings.region,
    };
    return copyJsonFromS3(target, spec as RedshiftJsonLoadSpec, { signal: opts.signal ?? this.txSignal });
  }
}

export class RedshiftWarehouse extends PgPoolWarehouse implements Warehouse {
  readonly kind = 'redshift' as const;
  readonly dialect = 'redshift' as const;

  private constructor(
    pool: pg.Pool,
    conn: PgConn,
    /** The URL's non-secret settings (COPY defaults). */
    readonly settings: Pick<RedshiftUrl, 'host' | 'port' | 'database' | 'user' | 'iamRole' | 'region' | 'sslmode'>,
  ) {
    super(pool, conn);
  }

  /**
   * Connects once to check the cluster is reachable; a ConnectionError within
   * about 5 s otherwise. `url` is the redacted URL to show; `rawUrl` the real one.
   */
  static async open(url: string, rawUrl: string, env: NodeJS.ProcessEnv = process.env): Promise<RedshiftWarehouse> {
    const parsed = parseRedshiftUrl(rawUrl, env);
    const config = redshiftClientConfig(parsed);
    const pool = new pg.Pool({ ...config, max: POOL_SIZE, idleTimeoutMillis: 30_000, types: pgTypeOverrides });
    const { password: _password, passwordEnv: _env, ...settings } = parsed;
    const wh = new RedshiftWarehouse(pool, { config, url }, settings);
    await wh.check();
    return wh;
  }

  protected connectError(err: unknown): ConnectionError {
    const cause = describeCause(err);
    const hint = /self[- ]signed|certificate|SSL|does not support SSL/i.test(cause)
      ? ' (check sslmode: verify-full by default; sslmode=require skips certificate checks)'
      : /ETIMEDOUT|timeout/i.test(cause)
        ? ' (is the cluster publicly accessible and its security group open to your address? see ingress_cidr in dags/redshift_cluster.yaml)'
        : '';
    return new ConnectionError(`cannot connect to Redshift at ${this.url}: ${cause}${hint}`);
  }

  protected session(client: pg.PoolClient, signal: AbortSignal | undefined): PoolSession {
    return new RedshiftSession(client, this, this.conn, signal);
  }
}
