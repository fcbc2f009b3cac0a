import { z } from 'zod';
import { defineOperator, duration, identifier } from '../engine/operator.js';
import { clusterIdentifier, DEFAULT_CLUSTER_ID, DEFAULT_ROLE_NAME, resolveTarget, roleName, targetParam } from './aws/params.js';

const params = z
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

export type DeleteClusterParams = z.output<typeof params>;

/** Deletes the Redshift cluster (final snapshot optional) and, when asked, its IAM role. Nothing to delete on a local warehouse. */
export const DeleteCluster = defineOperator({
  name: 'DeleteCluster',
  description:
    'Deletes the Redshift cluster (final snapshot optional) and optionally its IAM role; forgets the recorded connection',
  params,
  templated: ['target'],
  connectionParam: 'connection',
  async execute(ctx) {
    const p = ctx.params;
    if (resolveTarget(ctx, p.target, p.connection) === 'local') {
      ctx.log.info({ connection: p.connection }, 'local warehouse: no AWS cluster to delete; local data is kept');
      ctx.record({ target: 'local', deleted_cluster: false });
      return;
    }
    // The AWS SDK is loaded only now, when a task really talks to AWS.
    await (await import('./aws/cluster.js')).deleteOnAws(ctx);
  },
});
