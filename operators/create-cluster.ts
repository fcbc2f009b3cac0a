import { TaskFailure, errorMessage } from '../engine/errors.js';
import type { TaskContext } from '../engine/interfaces.js';
import { defineOperator } from '../engine/operator.js';
import { resolveTarget, createClusterParams, type CreateClusterParams } from './aws/params.js';

export type { CreateClusterParams };

type Params = CreateClusterParams;

/**
 * Creates (or finds) the IAM role and the Redshift cluster, waits until it
 * is available, optionally opens its port, and records its endpoint and role
 * ARN as the warehouse connection. On a pglite or postgres warehouse it
 * prepares the local database instead.
 */
export const CreateCluster = defineOperator({
  name: 'CreateCluster',
  description:
    'Creates or reuses an IAM role and a Redshift cluster and records it as the warehouse connection (local: creates the database)',
  params: createClusterParams,
  templated: ['target', 'ingress_cidr'],
  connectionParam: 'connection',
  async execute(ctx) {
    const p = ctx.params;
    if (resolveTarget(ctx, p.target, p.connection) === 'local') return createLocal(ctx);
    // The AWS SDK is loaded only now, when a task really talks to AWS.
    return (await import('./aws/cluster.js')).createOnAws(ctx);
  },
});

// ---------------------------------------------------------------------------
// Local (pglite, postgres)

async function createLocal(ctx: TaskContext<Params>): Promise<void> {
  const { params: p, log } = ctx;
  let wh;
  let created = false;
  try {
    wh = await ctx.warehouse(p.connection);
  } catch (err) {
    if (!/3D000|database .* does not exist/i.test(errorMessage(err))) throw err;
    await createPostgresDatabase(ctx);
    created = true;
    wh = await ctx.warehouse(p.connection);
  }
  if (wh.kind === 'redshift') {
    throw new TaskFailure(`target local, but connection '${p.connection}' is a Redshift warehouse; use target aws (or auto)`);
  }
  const what =
    wh.kind === 'pglite'
      ? `PGlite warehouse ${wh.url}: its data dir is created when first opened and is ready`
      : `PostgreSQL warehouse ${wh.url}: ${created ? 'database created' : 'database exists'}`;
  log.info({ connection: p.connection, kind: wh.kind, url: wh.url }, `local warehouse, no AWS cluster created: ${what}`);
  ctx.record({ target: 'local', kind: wh.kind, url: wh.url, created_database: created, connection: p.connection });
}

/**
 * CREATE DATABASE for a postgres warehouse whose database is missing, through
 * the server's `postgres` database. The URL is the public one (no password):
 * the password comes from PGPASSWORD or ~/.pgpass, as with psql.
 */
async function createPostgresDatabase(ctx: TaskContext<Params>): Promise<void> {
  const shown = await ctx.render(`{{ conn.${ctx.params.connection} }}`);
  const u = new URL(shown);
  const db = decodeURIComponent(u.pathname.replace(/^\/+/, ''));
  if (!db) throw new TaskFailure(`the PostgreSQL URL ${shown} names no database`);
  if (u.password === '***' || u.password === '%2A%2A%2A') u.password = '';
  u.pathname = '/postgres';
  const { default: pg } = await import('pg');
  const admin = new pg.Client({ connectionString: u.toString(), connectionTimeoutMillis: 5_000 });
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE "${db.replace(/"/g, '""')}"`);
    ctx.log.info({ database: db }, `database ${db} created`);
  } catch (err) {
    if ((err as { code?: string }).code === '42P04') return; // created meanwhile
    throw new TaskFailure(
      `database ${db} does not exist and could not be created (${errorMessage(err)}); create it with: createdb ${db}`,
    );
  } finally {
    await admin.end().catch(() => {});
  }
}
