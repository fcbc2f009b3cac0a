/**
 * The AWS hook of the cluster operators (as Airflow's RedshiftHook): SDK
 * clients that honour the standard endpoint overrides, AWS errors as errors
 * a user can act on, and waiting for a cluster. Only this folder imports the
 * AWS SDK, and operators load it lazily, when a task targets AWS.
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { IAMClient } from '@aws-sdk/client-iam';
import {
  RedshiftClient,
  waitUntilClusterAvailable,
  waitUntilClusterDeleted,
  type Cluster,
  type DescribeClustersCommand,
  type DescribeClustersCommandOutput,
} from '@aws-sdk/client-redshift';
import { S3Client } from '@aws-sdk/client-s3';
import { TaskFailure, TryAbort } from '../../engine/errors.js';
import type { TaskContext } from '../../engine/interfaces.js';
import { awsEndpoint, childAbort } from './params.js';

export interface AwsClients {
  iam: IAMClient;
  redshift: RedshiftClient;
  ec2: EC2Client;
  destroy(): void;
}

/** IAM, Redshift and EC2 clients for a region; credentials from the standard AWS chain. */
export function awsClients(region: string, env: NodeJS.ProcessEnv = process.env): AwsClients {
  const iam = new IAMClient({ region, endpoint: awsEndpoint('iam', env) });
  const redshift = new RedshiftClient({ region, endpoint: awsEndpoint('redshift', env) });
  const ec2 = new EC2Client({ region, endpoint: awsEndpoint('ec2', env) });
  return {
    iam,
    redshift,
    ec2,
    destroy() {
      iam.destroy();
      redshift.destroy();
      ec2.destroy();
    },
  };
}

/** An S3 client for a region, honouring AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL (path style for emulators). */
export function s3Client(region: string, env: NodeJS.ProcessEnv = process.env): S3Client {
  const endpoint = awsEndpoint('s3', env);
  return new S3Client({ region, endpoint, forcePathStyle: endpoint !== undefined });
}

interface AwsErrorLike {
  name?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

const DENIED =
  /^(AccessDenied|AccessDeniedException|UnauthorizedOperation|UnauthorizedAccess|AuthFailure|InvalidClientTokenId|SignatureDoesNotMatch|ExpiredToken|ExpiredTokenException|UnrecognizedClientException|InvalidAccessKeyId)$/;

/** The AWS error code of an SDK error ('' when it is not one). */
export function awsErrorName(err: unknown): string {
  const e = err as AwsErrorLike;
  return (e && (e.name || e.Code)) || '';
}

/**
 * An AWS SDK error as an error a user can act on. `action` names the API
 * call, e.g. `iam:CreateRole on role sluiceRedshiftRole`. Credentials never
 * appear (SDK errors do not carry them).
 */
export function describeAwsError(err: unknown, action: string): Error {
  const name = awsErrorName(err);
  const msg = ((err as AwsErrorLike)?.message ?? String(err)).split('\n')[0]!;
  // An SDK abort (matched by its name: the SDK's class is not ours) or the try's own abort reason passes through.
  if (err instanceof TryAbort || name === 'AbortError') return err as Error;
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(msg)) {
    return new TaskFailure(
      `${action}: no AWS credentials found. Set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, ` +
        `or run on a machine with an instance role (see docs/aws.md)`,
    );
  }
  if (DENIED.test(name)) {
    return new TaskFailure(
      `${action}: AWS refused (${name}): ${msg}. The credentials in use need this permission ` +
        `(and valid, unexpired keys); see docs/aws.md for the policy Sluice needs`,
    );
  }
  if (name) return new TaskFailure(`${action}: ${name}: ${msg}`);
  return err instanceof Error ? err : new Error(msg);
}

/** Runs an AWS call, turning its error into describeAwsError's. */
export async function aws<T>(action: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw describeAwsError(err, action);
  }
}

// ---------------------------------------------------------------------------
// Waiting for a cluster

/** Statuses a cluster does not leave on its own: waiting for `available` stops with an error. */
const STUCK = new Set([
  'failed',
  'hardware-failure',
  'incompatible-hsm',
  'incompatible-network',
  'incompatible-parameters',
  'incompatible-restore',
  'storage-full',
  'paused',
]);

export interface WaitOptions {
  /** The task's signal (execution_timeout, cancel). */
  signal: AbortSignal;
  log: TaskContext<unknown>['log'];
  /** Give up after this long (the waiter's maxWaitTime). */
  maxWaitMs: number;
  /** First delay between polls; later ones grow up to 4x, at most 2 minutes. */
  pollMs: number;
}

function waiterTimes(o: WaitOptions): { minDelay: number; maxDelay: number; maxWaitTime: number } {
  const minDelay = Math.max(0.001, o.pollMs / 1000);
  const maxDelay = Math.max(minDelay, Math.min(120, minDelay * 4));
  const maxWaitTime = Math.max(o.maxWaitMs / 1000, minDelay * 2);
  return { minDelay, maxDelay, maxWaitTime };
}

/**
 * Waits with the SDK waiter (waitForClusterAvailable / waitForClusterDeleted)
 * for a cluster; logs its status at each poll; stops at once on a status it
 * will not leave, on AWS refusing the call, or when the task's signal aborts.
 * Resolves to the last description of the cluster (undefined once deleted).
 */
export async function waitForCluster(
  redshift: RedshiftClient,
  id: string,
  goal: 'available' | 'deleted',
  o: WaitOptions,
): Promise<Cluster | undefined> {
  const child = childAbort(o.signal);
  let failure: Error | undefined;
  let last: Cluster | undefined;
  let polls = 0;
  const stop = (err: Error) => {
    failure ??= err;
    child.abort(err);
  };
  // The waiter only calls client.send: watch each poll through a thin wrapper.
  const watcher = {
    config: redshift.config,
    send: async (cmd: DescribeClustersCommand, opts?: { abortSignal?: AbortSignal }) => {
      // The SDK's waiter sends one more poll after its sleep even when aborted meanwhile: do not call AWS then.
      if (child.signal.aborted) throw Object.assign(new Error('the wait was aborted'), { name: 'AbortError' });
      polls++;
      try {
        const out = await redshift.send(cmd, { ...opts, abortSignal: child.signal });
        last = out.Clusters?.[0];
        const status = last?.ClusterStatus ?? 'unknown';
        o.log.info({ cluster: id, status, poll: polls, waiting_for: goal }, `cluster ${id}: ${status}`);
        if (goal === 'available' && STUCK.has(status)) {
          stop(new TaskFailure(`cluster ${id} is ${status}, and will not become available by waiting; ${stuckAdvice(status)}`));
        }
        return out;
      } catch (err) {
        const name = awsErrorName(err);
        if (name === 'ClusterNotFoundFault') {
          last = undefined;
          o.log.info({ cluster: id, status: 'not found', poll: polls, waiting_for: goal }, `cluster ${id}: not found`);
        } else if (name && name !== 'AbortError') {
          stop(describeAwsError(err, `redshift:DescribeClusters on cluster ${id}`));
        }
        throw err;
      }
    },
  } as unknown as RedshiftClient;
  const waiter = goal === 'available' ? waitUntilClusterAvailable : waitUntilClusterDeleted;
  try {
    const result = await waiter({ client: watcher, abortSignal: child.signal, ...waiterTimes(o) }, { ClusterIdentifier: id });
    if (goal === 'deleted') return undefined;
    return (result.reason as DescribeClustersCommandOutput | undefined)?.Clusters?.[0] ?? last;
  } catch (err) {
    // waitUntil* throws AbortError (aborted), TimeoutError (maxWaitTime) or an Error for a failure state.
    if (failure) throw failure;
    if (o.signal.aborted) throw o.signal.reason instanceof Error ? o.signal.reason : new Error('aborted');
    const name = (err as Error).name;
    if (name === 'TimeoutError') {
      throw new TaskFailure(
        `cluster ${id} is not ${goal} after ${Math.round(o.maxWaitMs / 1000)} s (last status: ${last?.ClusterStatus ?? 'not found'}); ` +
          `raise wait_timeout, or run the DAG again later: an existing cluster is reused`,
      );
    }
    if (name === 'AbortError') throw new Error(`waiting for cluster ${id} was aborted`, { cause: err });
    throw new TaskFailure(
      goal === 'available'
        ? `cluster ${id} is being deleted (status ${last?.ClusterStatus ?? 'deleting'}); wait until it is gone, then run again to create it anew`
        : `cluster ${id} is ${last?.ClusterStatus ?? 'busy'} instead of deleting; run the teardown again once it is available`,
    );
  } finally {
    child.dispose();
  }
}

function stuckAdvice(status: string): string {
  if (status === 'paused') return 'resume it (aws redshift resume-cluster) and run again';
  if (status === 'storage-full') return 'free space or resize it, then run again';
  return 'delete it (run-dag redshift_teardown) and run again';
}
