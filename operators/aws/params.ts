/**
 * What the AWS operators share that needs no AWS SDK: endpoint and region
 * settings, CreateCluster's and DeleteCluster's parameters, and the
 * connection store they record into. Loading this costs nothing; the
 * SDK is loaded (hook.ts) only when a task really talks to AWS.
 */
import { z } from 'zod';
import { ConfigError, TaskFailure } from '../../engine/errors.js';
import type { RecordedConnections, TaskContext } from '../../engine/interfaces.js';
import { duration, identifier } from '../../engine/operator.js';

export type AwsService = 'iam' | 'redshift' | 'ec2' | 's3';

const ENDPOINT_ENV: Record<AwsService, string> = {
  iam: 'AWS_ENDPOINT_URL_IAM',
  redshift: 'AWS_ENDPOINT_URL_REDSHIFT',
  ec2: 'AWS_ENDPOINT_URL_EC2',
  s3: 'AWS_ENDPOINT_URL_S3',
};

/** The endpoint override for a service: AWS_ENDPOINT_URL_<SERVICE>, else AWS_ENDPOINT_URL, else none (AWS itself). */
export function awsEndpoint(service: AwsService, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (/^(1|true)$/i.test(env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS ?? '')) return undefined;
  return env[ENDPOINT_ENV[service]] || env.AWS_ENDPOINT_URL || undefined;
}

/** The region: the parameter, else AWS_REGION / AWS_DEFAULT_REGION, else a ConfigError saying how to set it. */
export function awsRegion(param: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const region = param || env.AWS_REGION || env.AWS_DEFAULT_REGION;
  if (!region) throw new ConfigError('no AWS region: set the region parameter in the DAG, or AWS_REGION');
  return region;
}

// ---------------------------------------------------------------------------
// The connection store

/**
 * The state DB's connection store, as the cluster operators use it. The
 * runner hands it to operators as `TaskContext.connectionStore`.
 */
export type ConnectionStoreAccess = RecordedConnections;

/** The connection store of a task context, when the engine provides one. */
export function connectionStoreOf(ctx: object): ConnectionStoreAccess | undefined {
  const s = (ctx as { connectionStore?: ConnectionStoreAccess }).connectionStore;
  return s && typeof s.setConnection === 'function' ? s : undefined;
}

// ---------------------------------------------------------------------------
// Shared parameters

export const DEFAULT_CLUSTER_ID = 'sluice-redshift';
export const DEFAULT_ROLE_NAME = 'sluiceRedshiftS3Read';
export const S3_READ_ONLY_POLICY = 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess';

export const clusterIdentifier = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,62}$/, { message: 'lowercase letters, digits and hyphens, starting with a letter (at most 63)' })
  .refine((s) => !s.endsWith('-') && !s.includes('--'), { message: 'must not end with a hyphen or hold two in a row' });

export const roleName = z.string().regex(/^[\w+=,.@-]{1,64}$/, { message: 'an IAM role name: letters, digits and +=,.@_-' });

/** Where the operator acts: on AWS, on the local warehouse, or decided by the warehouse connection's URL. */
export const targetParam = z
  .string()
  .default('auto')
  .describe(
    'aws, local, or auto (the default): aws when the warehouse connection is redshift://, else local (pglite/postgres); a template, e.g. {{ params.target }}',
  );

/** Resolves the target parameter (after templating) for a warehouse connection. */
export function resolveTarget(ctx: Pick<TaskContext<unknown>, 'dialect'>, target: string, connection: string): 'aws' | 'local' {
  const t = target.trim().toLowerCase();
  if (t === 'aws' || t === 'local') return t;
  if (t !== 'auto') throw new TaskFailure(`target must be aws, local or auto, not '${target}'`);
  return ctx.dialect(connection) === 'redshift' ? 'aws' : 'local';
}

/** An AbortSignal that aborts when the task's does, with a way to abort it for a reason of our own. */
export function childAbort(parent: AbortSignal): { signal: AbortSignal; abort(reason: Error): void; dispose(): void } {
  const ctl = new AbortController();
  const onAbort = () => ctl.abort(parent.reason);
  if (parent.aborted) ctl.abort(parent.reason);
  else parent.addEventListener('abort', onAbort, { once: true });
  return {
    signal: ctl.signal,
    abort: (reason) => ctl.abort(reason),
    dispose: () => parent.removeEventListener('abort', onAbort),
  };
}

// ---------------------------------------------------------------------------
// The cluster operators' parameters (here, SDK-free, so the AWS code and the
// operators both read them without importing each other)

/** CreateCluster's parameters. */
export const createClusterParams = z
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

export type CreateClusterParams = z.output<typeof createClusterParams>;

/** DeleteCluster's parameters. */
export const deleteClusterParams = z
  .object({
    target: targetParam,
    connection: identifier
      .default('warehouse')
      .describe('the warehouse connection CreateCluster recorded; forgotten once the cluster is gone'),
    cluster_identifier: clusterIdentifier.default(DEFAULT_CLUSTER_ID).describe('Redshift cluster identifier'),
    region: z.string().optional().describe('AWS region (default: AWS_REGION / AWS_DEFAULT_REGION)'),
    skip_final_snapshot: z
      .boolean()
      .default(true)
      .describe('delete without a final snapshot (false: keep one, at a storage cost)'),
    final_snapshot_identifier: clusterIdentifier
      .optional()
      .describe('name of the final snapshot when skip_final_snapshot is false (default: <cluster>-final-<ds_nodash>)'),
    delete_iam_role: z.boolean().default(false).describe('also delete the IAM role (its policies are detached first)'),
    iam_role_name: roleName.default(DEFAULT_ROLE_NAME).describe('the IAM role to delete with delete_iam_role'),
    wait: z.boolean().default(true).describe('wait until the cluster is gone'),
    wait_timeout: duration.default(1_800_000).describe('how long to wait for the deletion (e.g. 30m)'),
    poll_interval: duration.default(30_000).describe('first delay between status polls (e.g. 30s); later ones grow'),
    forget_connection: z
      .boolean()
      .default(true)
      .describe(
        "remove the connection CreateCluster recorded for this cluster, so the warehouse falls back to the config file's",
      ),
  })
  .strict();

export type DeleteClusterParams = z.output<typeof deleteClusterParams>;
