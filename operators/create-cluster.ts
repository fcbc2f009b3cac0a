import { z } from 'zod';
import { TaskFailure, errorMessage } from '../engine/errors.js';
import type { TaskContext } from '../engine/interfaces.js';
import { defineOperator, duration, identifier } from '../engine/operator.js';
import {
  clusterIdentifier,
  DEFAULT_CLUSTER_ID,
  DEFAULT_ROLE_NAME,
  resolveTarget,
  roleName,
  S3_READ_ONLY_POLICY,
  targetParam,
} from './aws/params.js';

const params = z
  .object({
    target: targetParam,
    connection: identifier
      .default('warehouse')
      .describe('the warehouse connection to point at the cluster (recorded in the state DB connection store)'),
    cluster_identifier: clusterIdentifier.default(DEFAULT_CLUSTER_ID).describe('Redshift cluster identifier'),
    cluster_type: z.enum(['single-node', 'multi-node']).default('single-node').describe('single-node or multi-node'),
    node_type: z.string().min(1).default('dc2.large').describe('node type, e.g. dc2.large or ra3.large'),
    number_of_nodes: z.number().int().min(1).max(128).default(1).describe('number of nodes (2 or more for multi-node)'),
    db_name: identifier.default('dwh').describe('database created in the cluster'),
    master_username: identifier.default('dwhuser').describe('master user name'),
    master_password_env: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'must be the NAME of an environment variable, never the password itself' })
      .default('REDSHIFT_PASSWORD')
      .describe('name of the environment variable holding the master password (never the password itself)'),
    port: z.number().int().min(1150).max(65535).default(5439).describe('port the cluster listens on'),
    iam_role_name: roleName.default(DEFAULT_ROLE_NAME).describe('IAM role Redshift assumes to read S3 (created when missing)'),
    iam_policy_arns: z
      .array(z.string().regex(/^arn:aws[a-z-]*:iam::(aws|\d{12}):policy\/.+$/, { message: 'an IAM policy ARN' }))
      .default([S3_READ_ONLY_POLICY])
      .describe('policies attached to the role (default: AmazonS3ReadOnlyAccess)'),
    region: z.string().optional().describe('AWS region (default: AWS_REGION / AWS_DEFAULT_REGION)'),
    publicly_accessible: z
      .boolean()
      .default(true)
      .describe('give the cluster a public address (to connect from outside its VPC)'),
    ingress_cidr: z
      .string()
      .optional()
      .describe(
        "open the port on the cluster's security group to this CIDR (e.g. 203.0.113.7/32), or my-ip for this machine's public address",
      ),
    wait_timeout: duration.default(1_800_000).describe('how long to wait for the cluster to become available (e.g. 30m)'),
    poll_interval: duration.default(30_000).describe('first delay between status polls (e.g. 30s); later ones grow'),
  })
  .strict()
  .refine((p) => (p.cluster_type === 'multi-node' ? p.number_of_nodes >= 2 : p.number_of_nodes === 1), {
    message: 'number_of_nodes must be 1 for single-node and 2 or more for multi-node',
    path: ['number_of_nodes'],
  });

export type CreateClusterParams = z.output<typeof params>;
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
  params,
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
