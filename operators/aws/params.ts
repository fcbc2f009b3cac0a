/**
 * What the AWS operators share that needs no AWS SDK: endpoint and region
 * settings, the parameters CreateCluster and DeleteCluster have in common,
 * and the connection store they record into. Loading this costs nothing; the
 * SDK is loaded (hook.ts) only when a task really talks to AWS.
 */
import { z } from 'zod';
import { ConfigError, TaskFailure } from '../../engine/errors.js';
import type { RecordedConnections, TaskContext } from '../../engine/interfaces.js';

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
