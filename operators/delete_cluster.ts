import {
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  type IAMClient,
} from '@aws-sdk/client-iam';
import { DeleteClusterCommand } from '@aws-sdk/client-redshift';
import { z } from 'zod';
import { TaskFailure } from '../engine/errors.js';
import type { Logger, TaskContext } from '../engine/interfaces.js';
import { defineOperator, identifier } from '../engine/operator.js';
import {
  aws,
  awsClients,
  awsErrorName,
  awsRegion,
  clusterIdentifier,
  connectionStoreOf,
  DEFAULT_CLUSTER_ID,
  DEFAULT_ROLE_NAME,
  describeAwsError,
  durationParam,
  resolveTarget,
  roleName,
  targetParam,
  waitForCluster,
} from './aws.js';
import { describeCluster } from './create_cluster.js';

const params = z
  .object({
    target: targetParam,
    connection: identifier
      .default('warehouse')
      .describe('the warehouse connection CreateCluster recorded; forgotten once the cluster is gone'),
    cluster_identifier: clusterIdentifier.default(DEFAULT_CLUSTER_ID).describe('Redshift cluster identifier'),
    region: z.string().optional().describe('AWS region (default: AWS_REGION / AWS_DEFAULT_REGION)'),
    skip_final_snapshot: z.boolean().default(true).describe('delete without a final snapshot (false: keep one, at a storage cost)'),
    final_snapshot_identifier: clusterIdentifier
      .optional()
      .describe('name of the final snapshot when skip_final_snapshot is false (default: <cluster>-final-<ds_nodash>)'),
    delete_iam_role: z.boolean().default(false).describe('also delete the IAM role (its policies are detached first)'),
    iam_role_name: roleName.default(DEFAULT_ROLE_NAME).describe('the IAM role to delete with delete_iam_role'),
    wait: z.boolean().default(true).describe('wait until the cluster is gone'),
    wait_timeout: durationParam.default(1_800_000).describe('how long to wait for the deletion (e.g. 30m)'),
    poll_interval: durationParam.default(30_000).describe('first delay between status polls (e.g. 30s); later ones grow'),
    forget_connection: z
      .boolean()
      .default(true)
      .describe("remove the connection CreateCluster recorded for this cluster, so the warehouse falls back to the config file's"),
  })
  .strict();

type Params = z.output<typeof params>;

/** Deletes the Redshift cluster (final snapshot optional) and, when asked, its IAM role. Nothing to delete on a local warehouse. */
export const DeleteCluster = defineOperator({
  name: 'DeleteCluster',
  description: 'Deletes the Redshift cluster (final snapshot optional) and optionally its IAM role; forgets the recorded connection',
  params,
  templated: ['target'],
  async execute(ctx) {
    const p = ctx.params;
    if (resolveTarget(ctx, p.target, p.connection) === 'local') {
      ctx.log.info({ connection: p.connection }, 'local warehouse: no AWS cluster to delete; local data is kept');
      ctx.record({ target: 'local', deleted_cluster: false });
      return;
    }
    await deleteOnAws(ctx);
  },
});

async function deleteOnAws(ctx: TaskContext<Params>): Promise<void> {
  const { params: p, log, signal } = ctx;
  const id = p.cluster_identifier;
  const region = awsRegion(p.region);
  const clients = awsClients(region);
  let deleted = false;
  let snapshot: string | null = null;
  try {
    const cluster = await describeCluster(clients.redshift, id);
    if (!cluster) {
      log.info({ cluster: id, region }, 'cluster not found: already deleted');
    } else if (cluster.ClusterStatus === 'deleting' || cluster.ClusterStatus === 'final-snapshot') {
      log.info({ cluster: id, status: cluster.ClusterStatus }, 'cluster is already being deleted');
    } else {
      if (!p.skip_final_snapshot) {
        snapshot = p.final_snapshot_identifier ?? `${id}-final-${ctx.logicalDate.toISOString().slice(0, 10).replace(/-/g, '')}`;
      }
      try {
        await clients.redshift.send(
          new DeleteClusterCommand({
            ClusterIdentifier: id,
            SkipFinalClusterSnapshot: p.skip_final_snapshot,
            ...(snapshot ? { FinalClusterSnapshotIdentifier: snapshot } : {}),
          }),
          { abortSignal: signal },
        );
      } catch (err) {
        const name = awsErrorName(err);
        if (name === 'ClusterNotFoundFault') log.info({ cluster: id }, 'cluster not found: already deleted');
        else if (name === 'InvalidClusterStateFault') {
          throw new TaskFailure(
            `cluster ${id} cannot be deleted while it is ${cluster.ClusterStatus ?? 'busy'}; run the teardown again once it is available`,
          );
        } else throw describeAwsError(err, `redshift:DeleteCluster ${id}`);
      }
      deleted = true;
      log.info({ cluster: id, final_snapshot: snapshot }, snapshot ? `deleting the cluster (final snapshot ${snapshot})` : 'deleting the cluster (no final snapshot)');
    }
    if (cluster && p.wait) {
      await waitForCluster(clients.redshift, id, 'deleted', { signal, log, maxWaitMs: p.wait_timeout, pollMs: p.poll_interval });
      log.info({ cluster: id }, 'cluster deleted');
    }
    let deletedRole = false;
    if (p.delete_iam_role) deletedRole = await deleteRole(clients.iam, p.iam_role_name, log);
    const forgot = p.forget_connection ? forgetConnection(ctx) : false;
    ctx.record({
      target: 'aws',
      cluster_identifier: id,
      region,
      deleted_cluster: deleted,
      final_snapshot: snapshot,
      deleted_role: deletedRole,
      forgot_connection: forgot,
    });
  } finally {
    clients.destroy();
  }
}

/** Detaches the role's managed policies, deletes its inline ones, then the role; a missing role is fine. */
export async function deleteRole(iam: IAMClient, name: string, log: Logger): Promise<boolean> {
  const gone = (err: unknown) => /^NoSuchEntity(Exception)?$/.test(awsErrorName(err));
  try {
    const attached = await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: name }));
    for (const a of attached.AttachedPolicies ?? []) {
      await aws(`iam:DetachRolePolicy ${a.PolicyArn} from role ${name}`, () =>
        iam.send(new DetachRolePolicyCommand({ RoleName: name, PolicyArn: a.PolicyArn })),
      );
    }
    const inline = await iam.send(new ListRolePoliciesCommand({ RoleName: name }));
    for (const policy of inline.PolicyNames ?? []) {
      await aws(`iam:DeleteRolePolicy ${policy} on role ${name}`, () =>
        iam.send(new DeleteRolePolicyCommand({ RoleName: name, PolicyName: policy })),
      );
    }
    await iam.send(new DeleteRoleCommand({ RoleName: name }));
    log.info({ role: name }, 'IAM role deleted');
    return true;
  } catch (err) {
    if (gone(err)) {
      log.info({ role: name }, 'IAM role not found: already deleted');
      return false;
    }
    throw describeAwsError(err, `deleting IAM role ${name}`);
  }
}

/** Removes the stored connection when CreateCluster recorded it for this cluster. */
function forgetConnection(ctx: TaskContext<Params>): boolean {
  const store = connectionStoreOf(ctx);
  const name = ctx.params.connection;
  if (!store) {
    ctx.log.warn({ connection: name }, `no connection store in this context; remove it with: sluice connections delete ${name}`);
    return false;
  }
  const row = store.getConnection(name);
  if (!row) return false;
  if (row.extra.cluster_identifier !== ctx.params.cluster_identifier) {
    ctx.log.info({ connection: name }, `connection '${name}' was not recorded for this cluster; kept`);
    return false;
  }
  store.deleteConnection(name);
  ctx.log.info({ connection: name }, `connection '${name}' forgotten: it falls back to the config file`);
  return true;
}
